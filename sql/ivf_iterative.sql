-- ivf.iterative_scan: off | relaxed_order | strict_order (pgvector's names),
-- the boolean spellings of 0.1.0 as hidden synonyms, the setting made before
-- the library is loaded, and ORDER BY across probe batches: filtered queries
-- at probes 1 for every metric and quantizer, checked with lag() over the
-- exact distance in the order rows come out
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;
SET jit = off;
-- CREATE EXTENSION loads the library only when it creates the extension
LOAD 'pg_ivf';

-- the setting
SHOW ivf.iterative_scan;
SET ivf.iterative_scan = relaxed_order;
SHOW ivf.iterative_scan;
SET ivf.iterative_scan = off;
SHOW ivf.iterative_scan;
SET ivf.iterative_scan = strict_order;
SHOW ivf.iterative_scan;
SET ivf.iterative_scan = on;
SHOW ivf.iterative_scan;
SET ivf.iterative_scan = false;
SHOW ivf.iterative_scan;
SET ivf.iterative_scan = sorted;
RESET ivf.iterative_scan;

-- set in a session before the library is loaded: a placeholder, then
-- validated without a WARNING when the library loads
\c
SET ivf.iterative_scan = relaxed_order;
LOAD 'pg_ivf';
SHOW ivf.iterative_scan;
\c
SET ivf.iterative_scan = on;
LOAD 'pg_ivf';
SHOW ivf.iterative_scan;
\c
SET jit = off;

SELECT setseed(0.5);
CREATE TABLE ivf_iter_t (id int, v vector(8));
INSERT INTO ivf_iter_t
	SELECT i, array_agg(random() * 10 - 5 ORDER BY j)::vector
	FROM generate_series(1, 3000) i, generate_series(1, 8) j GROUP BY i ORDER BY i;
CREATE TABLE ivf_iter_q (qid int, v vector(8));
INSERT INTO ivf_iter_q
	SELECT i, array_agg(random() * 10 - 5 ORDER BY j)::vector
	FROM generate_series(1, 40) i, generate_series(1, 8) j GROUP BY i ORDER BY i;

-- Every query's rows in the order the scan returns them (30 rows match the
-- filter): rows returned, queries with a row nearer than the one before it,
-- and whether every query got every row that matches (lim 50)
CREATE FUNCTION ivf_iter_check(op text, lim int,
	OUT queries bigint, OUT queries_total bigint, OUT rows bigint, OUT out_of_order bigint, OUT all_rows boolean)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format($q$
		SELECT count(DISTINCT qid), (SELECT count(*) FROM ivf_iter_q), count(*),
			count(DISTINCT qid) FILTER (WHERE d < prev),
			count(*) = 30 * count(DISTINCT qid)
		FROM (SELECT q.qid, r.d, lag(r.d) OVER (PARTITION BY q.qid ORDER BY r.n) AS prev
			FROM ivf_iter_q q,
				unnest(ARRAY(SELECT t.v %1$s q.v FROM ivf_iter_t t WHERE t.id %% 100 = 7
							 ORDER BY t.v %1$s q.v LIMIT %2$s)) WITH ORDINALITY AS r(d, n)) s
	$q$, op, lim) INTO queries, queries_total, rows, out_of_order, all_rows;
END $$;

-- whether every query's distances through the index equal the exact scan's
CREATE FUNCTION ivf_iter_exact(op text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	q record;
	sql text := format('SELECT ARRAY(SELECT t.v %s $1 FROM ivf_iter_t t WHERE t.id %% 100 = 7 ORDER BY 1 LIMIT 10)', op);
	via_index float8[];
	exact float8[];
BEGIN
	FOR q IN SELECT * FROM ivf_iter_q LOOP
		EXECUTE sql INTO via_index USING q.v;
		PERFORM set_config('enable_indexscan', 'off', true), set_config('enable_seqscan', 'on', true);
		EXECUTE sql INTO exact USING q.v;
		PERFORM set_config('enable_indexscan', 'on', true), set_config('enable_seqscan', 'off', true);
		IF via_index IS DISTINCT FROM exact THEN
			RETURN false;
		END IF;
	END LOOP;
	RETURN true;
END $$;

-- one index at a time; every mode on it.  share: rows returned over the 400
-- that LIMIT 10 asks for (every query has 30 matching rows), to one decimal
CREATE FUNCTION ivf_iter_modes(op text, opclass text, quantizer text)
RETURNS TABLE (index text, mode text, share numeric, ordered boolean, all_rows boolean, exact boolean)
LANGUAGE plpgsql AS $$
DECLARE
	m text;
	r record;
BEGIN
	EXECUTE format('CREATE INDEX ivf_iter_idx ON ivf_iter_t USING ivf (v %s) WITH (lists = 30, quantizer = %L)',
				   opclass, quantizer);
	FOREACH m IN ARRAY ARRAY['default', 'strict_order', 'off', 'relaxed_order'] LOOP
		IF m = 'default' THEN
			RESET ivf.iterative_scan;
		ELSE
			PERFORM set_config('ivf.iterative_scan', m, true);
		END IF;
		r := ivf_iter_check(op, 10);
		index := opclass || ' ' || quantizer;
		mode := m;
		share := round(r.rows / (10.0 * r.queries_total), 1);
		ordered := r.out_of_order = 0;
		all_rows := NULL;
		exact := NULL;
		IF m = 'relaxed_order' THEN
			all_rows := (ivf_iter_check(op, 50)).all_rows;
		ELSIF m = 'strict_order' THEN
			exact := ivf_iter_exact(op);
		END IF;
		RETURN NEXT;
	END LOOP;
	RESET ivf.iterative_scan;
	DROP INDEX ivf_iter_idx;
END $$;

SET enable_seqscan = off;
SET ivf.probes = 1;
-- the index is used for the filtered query
CREATE INDEX ivf_iter_idx ON ivf_iter_t USING ivf (v vector_l2_ops) WITH (lists = 30);
EXPLAIN (COSTS OFF) SELECT id FROM ivf_iter_t WHERE id % 100 = 7 ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 10;
DROP INDEX ivf_iter_idx;

-- off (the default) and strict_order keep ORDER BY; off gets only the rows of
-- the probed list; relaxed_order gets every matching row but not in order;
-- strict_order gets the exact answer (the sequential scan's distances)
SELECT * FROM ivf_iter_modes('<->', 'vector_l2_ops', 'sq8');
SELECT * FROM ivf_iter_modes('<->', 'vector_l2_ops', 'pq');
SELECT * FROM ivf_iter_modes('<->', 'vector_l2_ops', 'flat');
SELECT * FROM ivf_iter_modes('<#>', 'vector_ip_ops', 'sq8');
SELECT * FROM ivf_iter_modes('<#>', 'vector_ip_ops', 'pq');
SELECT * FROM ivf_iter_modes('<#>', 'vector_ip_ops', 'flat');
SELECT * FROM ivf_iter_modes('<=>', 'vector_cosine_ops', 'sq8');
SELECT * FROM ivf_iter_modes('<=>', 'vector_cosine_ops', 'pq');
SELECT * FROM ivf_iter_modes('<=>', 'vector_cosine_ops', 'flat');

-- ivf.pq_rerank ends a PQ scan after one batch of R rows, in every mode:
-- ordered, and the same rows whatever the mode
SET ivf.probes = 5;
SET ivf.pq_rerank = 100;
SELECT index, mode, share, ordered FROM ivf_iter_modes('<->', 'vector_l2_ops', 'pq');
RESET ivf.pq_rerank;
SET ivf.probes = 1;

-- ivf.max_probes = 1 makes strict_order probe what off probes
CREATE INDEX ivf_iter_idx ON ivf_iter_t USING ivf (v vector_l2_ops) WITH (lists = 30);
SET ivf.iterative_scan = strict_order;
SET ivf.max_probes = 1;
CREATE TEMP TABLE ivf_iter_one AS SELECT rows FROM ivf_iter_check('<->', 10);
RESET ivf.max_probes;
SET ivf.iterative_scan = off;
SELECT (SELECT rows FROM ivf_iter_one) = rows AS same_as_off FROM ivf_iter_check('<->', 10);
RESET ivf.iterative_scan;

DROP TABLE ivf_iter_t, ivf_iter_q;
DROP FUNCTION ivf_iter_modes, ivf_iter_check, ivf_iter_exact;
