-- EXPLAIN (ANALYZE) shows what each ivf index scan did: lists probed, codes
-- scanned, rows handed over for re-ranking, probe batches, PQ re-rank depth;
-- in text, JSON, YAML and XML, summed over rescans, for EXPLAIN EXECUTE, in
-- nested EXPLAINs, and nothing left over after an error.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;
SET jit = off;
SET max_parallel_workers_per_gather = 0;

-- Four tight clusters far apart, at x = 0, 100, 200, 300, of 20, 25, 30 and
-- 35 rows; lists = 4 gives one list per cluster (checked below), so the codes
-- a scan reads are the rows of the clusters nearest the query.
CREATE TABLE ivf_ex (id int, c int, v vector(2));
INSERT INTO ivf_ex
	SELECT c * 100 + i, c, ('[' || (c * 100 + (i % 5) * 0.1) || ',' || ((i % 7) * 0.1) || ']')::vector
	FROM generate_series(0, 3) c, generate_series(1, 20 + 5 * c) i;
CREATE INDEX ivf_ex_v ON ivf_ex USING ivf (v) WITH (lists = 4);
SELECT array_agg(rows ORDER BY rows) AS list_sizes FROM ivf_list_sizes('ivf_ex_v');
SELECT c, count(*) FROM ivf_ex GROUP BY c ORDER BY c;
SET enable_seqscan = off;

-- The plan with the lines after it; no timings, so the output is stable.
CREATE FUNCTION ivf_explain(q text, fmt text DEFAULT 'text') RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
	line text;
BEGIN
	FOR line IN EXECUTE format('EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT %s) %s', fmt, q) LOOP
		RETURN NEXT line;
	END LOOP;
END $$;

-- The JSON document, which must stay valid JSON (the cast checks it).
CREATE FUNCTION ivf_explain_json(q text) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
	doc text;
BEGIN
	EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON) ' || q INTO doc;
	RETURN doc::json;
END $$;

-- The counters of each ivf scan, from the JSON document.
CREATE FUNCTION ivf_explain_counts(q text)
	RETURNS TABLE (index_name text, lists int8, codes int8, rows int8, batches int8, depth int8)
LANGUAGE sql AS $$
	SELECT s->>'Index Name', (s->>'Lists Probed')::int8, (s->>'Codes Scanned')::int8,
		(s->>'Rows Re-ranked')::int8, (s->>'Batches')::int8, (s->>'Re-rank Depth')::int8
	FROM json_array_elements(ivf_explain_json(q) -> 0 -> 'Ivf Scans') s
$$;

-- probes 1 at x = 200: one list, its 30 codes, all 30 rows handed over
SET ivf.probes = 1;
SELECT * FROM ivf_explain($$SELECT id FROM ivf_ex ORDER BY v <-> '[200,0]'$$);
SELECT lists = 1 AS lists_ok, codes = (SELECT count(*) FROM ivf_ex WHERE c = 2) AS codes_ok, rows = codes AS rows_ok
FROM ivf_explain_counts($$SELECT id FROM ivf_ex ORDER BY v <-> '[200,0]'$$);

-- probes 2 at x = 140: the lists of x = 100 and x = 200
SET ivf.probes = 2;
SELECT * FROM ivf_explain_counts($$SELECT id FROM ivf_ex ORDER BY v <-> '[140,0]'$$);
SELECT codes = (SELECT count(*) FROM ivf_ex WHERE c IN (1, 2)) AS codes_ok
FROM ivf_explain_counts($$SELECT id FROM ivf_ex ORDER BY v <-> '[140,0]'$$);

-- every list: every code of the index
SET ivf.probes = 4;
SELECT lists, codes = (SELECT sum(rows) FROM ivf_list_sizes('ivf_ex_v')) AS codes_ok, batches
FROM ivf_explain_counts($$SELECT id FROM ivf_ex ORDER BY v <-> '[0,0]'$$);

-- LIMIT: the whole list is read, but only the rows the executor asked for
-- (and those its reorder queue holds) are handed over
SET ivf.probes = 1;
SELECT lists, codes, rows BETWEEN 3 AND 30 AS rows_ok
FROM ivf_explain_counts($$SELECT id FROM ivf_ex ORDER BY v <-> '[200,0]' LIMIT 3$$);

-- not under ANALYZE: no counters
EXPLAIN (COSTS OFF) SELECT id FROM ivf_ex ORDER BY v <-> '[200,0]' LIMIT 3;
-- a plan without an ivf scan is unchanged
SELECT * FROM ivf_explain('SELECT 1');

-- two scans of one index in one plan: one entry each, in plan order, with aliases
SELECT * FROM ivf_explain($$
	(SELECT a.id FROM ivf_ex a ORDER BY a.v <-> '[0,0]' LIMIT 100)
	UNION ALL
	(SELECT b.id FROM ivf_ex b ORDER BY b.v <-> '[300,0]' LIMIT 100)$$);

-- a nested loop rescans the inner index scan once per outer row: totals
CREATE TABLE ivf_ex_q (qid int, q vector(2));
INSERT INTO ivf_ex_q VALUES (1, '[0,0]'), (2, '[200,0]'), (3, '[300,0]');
SELECT * FROM ivf_explain($$
	SELECT qid, s.id FROM ivf_ex_q CROSS JOIN LATERAL
		(SELECT id FROM ivf_ex ORDER BY v <-> ivf_ex_q.q LIMIT 100) s$$);
SELECT lists, batches, codes = (SELECT count(*) FROM ivf_ex WHERE c IN (0, 2, 3)) AS codes_ok, rows = codes AS rows_ok
FROM ivf_explain_counts($$
	SELECT qid, s.id FROM ivf_ex_q CROSS JOIN LATERAL
		(SELECT id FROM ivf_ex ORDER BY v <-> ivf_ex_q.q LIMIT 100) s$$);

-- iterative scans: at x = 0, only the rows at x = 300 pass the filter
SELECT * FROM ivf_explain($$SELECT id FROM ivf_ex WHERE c = 3 ORDER BY v <-> '[0,0]' LIMIT 5$$);
-- relaxed_order probes on, a batch at a time, until the filter lets 5 rows
-- through: every row of the three nearer lists is handed over and removed
SET ivf.iterative_scan = relaxed_order;
SELECT lists, batches, codes, rows BETWEEN 75 + 5 AND 110 AS rows_ok
FROM ivf_explain_counts($$SELECT id FROM ivf_ex WHERE c = 3 ORDER BY v <-> '[0,0]' LIMIT 5$$);
SET ivf.max_probes = 2;
SELECT lists, batches, codes, rows
FROM ivf_explain_counts($$SELECT id FROM ivf_ex WHERE c = 3 ORDER BY v <-> '[0,0]' LIMIT 5$$);
RESET ivf.max_probes;
SET ivf.iterative_scan = strict_order;
SELECT lists, batches, codes, rows BETWEEN 75 + 5 AND 110 AS rows_ok
FROM ivf_explain_counts($$SELECT id FROM ivf_ex WHERE c = 3 ORDER BY v <-> '[0,0]' LIMIT 5$$);
RESET ivf.iterative_scan;

-- PQ with ivf.pq_rerank: the re-rank depth, and no more rows than it
CREATE TABLE ivf_ex_pq AS SELECT * FROM ivf_ex;
CREATE INDEX ivf_ex_pq_v ON ivf_ex_pq USING ivf (v) WITH (lists = 4, quantizer = pq, pq_m = 2);
SET ivf.pq_rerank = 5;
SELECT * FROM ivf_explain($$SELECT id FROM ivf_ex_pq ORDER BY v <-> '[300,0]'$$);
RESET ivf.pq_rerank;
SELECT * FROM ivf_explain_counts($$SELECT id FROM ivf_ex_pq ORDER BY v <-> '[300,0]'$$);

-- YAML and XML (LIMIT 100 keeps the rows handed over independent of the bounds)
SELECT * FROM ivf_explain($$SELECT id FROM ivf_ex ORDER BY v <-> '[100,0]' LIMIT 100$$, 'yaml');
SELECT * FROM ivf_explain($$SELECT id FROM ivf_ex ORDER BY v <-> '[100,0]' LIMIT 100$$, 'xml');
-- JSON keeps its shape: the plan, then the scans inside the same query object
SELECT json_array_length(j) AS queries, j -> 0 -> 'Plan' ->> 'Node Type' AS top_node,
	json_array_length(j -> 0 -> 'Ivf Scans') AS ivf_scans
FROM ivf_explain_json($$SELECT id FROM ivf_ex ORDER BY v <-> '[100,0]' LIMIT 1$$) j;

-- EXPLAIN EXECUTE of a prepared statement
PREPARE ivf_ex_p(vector) AS SELECT id FROM ivf_ex ORDER BY v <-> $1 LIMIT 100;
SELECT * FROM ivf_explain($$EXECUTE ivf_ex_p('[300,0]')$$);
DEALLOCATE ivf_ex_p;

-- EXPLAIN ANALYZE CREATE TABLE AS
SELECT * FROM ivf_explain($$CREATE TABLE ivf_ex_ctas AS SELECT id FROM ivf_ex ORDER BY v <-> '[100,0]' LIMIT 100$$);

-- nested EXPLAIN: the explained query calls a function that runs its own
-- EXPLAIN ANALYZE; each shows only its own plan's scans
CREATE FUNCTION ivf_ex_inner() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	line text;
	n int := 0;
BEGIN
	FOR line IN EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
		SELECT id FROM ivf_ex ORDER BY v <-> '[0,0]' LIMIT 100 LOOP
		IF line LIKE 'ivf scan%' THEN
			RAISE NOTICE 'inner: %', line;
			n := n + 1;
		END IF;
	END LOOP;
	RETURN n;
END $$;
SELECT * FROM ivf_explain($$SELECT id, (SELECT ivf_ex_inner()) FROM ivf_ex ORDER BY v <-> '[300,0]' LIMIT 100$$);

-- an error mid-EXPLAIN leaves nothing behind for the next one
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
	SELECT id, 1 / (id - id) FROM ivf_ex ORDER BY v <-> '[0,0]' LIMIT 1;
SELECT * FROM ivf_explain('SELECT 1');
SELECT * FROM ivf_explain_counts($$SELECT id FROM ivf_ex ORDER BY v <-> '[0,0]' LIMIT 100$$);
-- an inner EXPLAIN that fails, caught inside the outer one's query: the
-- outer EXPLAIN still gets its own scan's counters
CREATE FUNCTION ivf_ex_inner_fails() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	line text;
BEGIN
	FOR line IN EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
		SELECT id, 1 / (id - id) FROM ivf_ex ORDER BY v <-> '[0,0]' LIMIT 1 LOOP
	END LOOP;
	RETURN 'no error';
EXCEPTION WHEN division_by_zero THEN
	RETURN 'caught';
END $$;
SELECT * FROM ivf_explain($$SELECT id, (SELECT ivf_ex_inner_fails()) FROM ivf_ex ORDER BY v <-> '[100,0]' LIMIT 100$$);

RESET ivf.probes;
RESET enable_seqscan;
DROP TABLE ivf_ex, ivf_ex_q, ivf_ex_pq, ivf_ex_ctas;
DROP FUNCTION ivf_explain(text, text), ivf_explain_json(text), ivf_explain_counts(text), ivf_ex_inner(), ivf_ex_inner_fails();
