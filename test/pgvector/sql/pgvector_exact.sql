-- pg_ivf_pgvector: with every list probed, an ivf index on a pgvector
-- vector or halfvec column returns exactly the sequential scan's rows and
-- distances (pgvector's operators compute both), for every metric and
-- quantizer.  Each case checks that the plan really uses the ivf index.
SET client_min_messages = warning;

CREATE TABLE items (id int PRIMARY KEY, v vector(16), h halfvec(16));
-- mixed magnitudes and signs, no two rows equal, no zero row
INSERT INTO items
SELECT i, x::vector(16), x::vector(16)::halfvec(16)
FROM (SELECT i, array_agg(sin(i * 7 + j * 3) * (1 + (i % 5) * (j % 3)) + (i % 7) * 0.1 ORDER BY j)::real[] AS x
      FROM generate_series(1, 400) i, generate_series(1, 16) j GROUP BY i) s;

CREATE TABLE queries (qid int, x vector(16));
INSERT INTO queries
SELECT q, array_agg(cos(q * 11 + j) * 2 ORDER BY j)::real[]::vector FROM generate_series(1, 3) q, generate_series(1, 16) j GROUP BY q;
-- a stored row (distance 0) and the same row nudged in one element
INSERT INTO queries SELECT 4, v FROM items WHERE id = 17;
INSERT INTO queries SELECT 5, ((v::real[])[1:15] || ((v::real[])[16] + 1e-6::real))::vector FROM items WHERE id = 17;

-- EXPLAIN output as rows, for exact_check.
CREATE FUNCTION query_plan(sql text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) ' || sql;
END
$$;

-- Compares the top 25 of the index scan with the sequential scan's for each
-- query: same (distance, id) pairs, and the index's distances in order.
CREATE FUNCTION exact_check(col text, typ text, op text, opclass text, opts text)
RETURNS TABLE (cases int, mismatches int, index_used bool)
LANGUAGE plpgsql AS $$
DECLARE
	q record;
	sql text;
	ids_i int[]; d_i float8[];
	ids_s int[]; d_s float8[];
BEGIN
	cases := 0; mismatches := 0; index_used := true;
	EXECUTE format('CREATE INDEX ivf_idx ON items USING ivf (%I %s) WITH (lists = 8, %s)', col, opclass, opts);
	PERFORM set_config('ivf.probes', '8', true);
	-- PQ's automatic depth re-ranks the rows likely among the nearest 20: the
	-- exact 25 need every probed row kept
	PERFORM set_config('ivf.iterative_scan', CASE WHEN opts LIKE '%pq%' THEN 'strict_order' ELSE 'off' END, true);
	FOR q IN SELECT * FROM queries ORDER BY qid LOOP
		sql := format('SELECT array_agg(id), array_agg(d) FROM (SELECT id, %1$I %2$s %3$L::%4$s AS d FROM items '
					  'ORDER BY %1$I %2$s %3$L::%4$s LIMIT 25) s', col, op, q.x::text, typ);
		PERFORM set_config('enable_seqscan', 'off', true);
		PERFORM set_config('enable_indexscan', 'on', true);
		index_used := index_used AND EXISTS (SELECT FROM query_plan(sql) AS l WHERE l LIKE '%Index Scan using ivf_idx%');
		EXECUTE sql INTO ids_i, d_i;
		PERFORM set_config('enable_seqscan', 'on', true);
		PERFORM set_config('enable_indexscan', 'off', true);
		EXECUTE sql INTO ids_s, d_s;
		cases := cases + 1;
		IF cardinality(ids_i) IS DISTINCT FROM 25
		   OR (SELECT array_agg(d ORDER BY n) FROM unnest(d_i) WITH ORDINALITY AS u(d, n))
			  IS DISTINCT FROM (SELECT array_agg(d ORDER BY d) FROM unnest(d_i) AS u(d))
		   OR (SELECT array_agg(ROW(d, i) ORDER BY d, i) FROM unnest(d_i, ids_i) AS u(d, i))::text
			  IS DISTINCT FROM (SELECT array_agg(ROW(d, i) ORDER BY d, i) FROM unnest(d_s, ids_s) AS u(d, i))::text THEN
			mismatches := mismatches + 1;
			RAISE WARNING '% % % query %: index % % / seq % %', col, opclass, opts, q.qid, ids_i, d_i, ids_s, d_s;
		END IF;
	END LOOP;
	DROP INDEX ivf_idx;
	RETURN NEXT;
END
$$;

SELECT c.col, c.opclass, o.opts, r.*
FROM (VALUES ('v', 'vector', '<->', 'vector_l2_ops'), ('v', 'vector', '<#>', 'vector_ip_ops'),
			 ('v', 'vector', '<=>', 'vector_cosine_ops'), ('h', 'halfvec', '<->', 'halfvec_l2_ops'),
			 ('h', 'halfvec', '<#>', 'halfvec_ip_ops'), ('h', 'halfvec', '<=>', 'halfvec_cosine_ops'))
	 AS c(col, typ, op, opclass)
CROSS JOIN (VALUES (1, 'quantizer = sq8'), (2, 'quantizer = sq8, residual = off'), (3, 'quantizer = pq'),
				   (4, 'quantizer = flat')) AS o(n, opts)
CROSS JOIN LATERAL exact_check(c.col, c.typ, c.op, c.opclass, o.opts) AS r
ORDER BY c.col DESC, c.opclass, o.n;

-- The same after inserts into a built index and a VACUUM, with iterative
-- strict_order scans over probes 1: still the sequential scan's answer.
CREATE INDEX hv_idx ON items USING ivf (h halfvec_l2_ops) WITH (lists = 8);
INSERT INTO items
SELECT 1000 + i, x::vector(16), x::vector(16)::halfvec(16)
FROM (SELECT i, array_agg(cos(i * 5 + j * 2) * (1 + (i % 3)) ORDER BY j)::real[] AS x
      FROM generate_series(1, 100) i, generate_series(1, 16) j GROUP BY i) s;
DELETE FROM items WHERE id % 10 = 3;
VACUUM items;
SELECT rows FROM ivf_index_info('hv_idx');
SET ivf.probes = 1;
SET ivf.iterative_scan = strict_order;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY h <-> (SELECT h FROM items WHERE id = 1005) LIMIT 10;
CREATE TEMP TABLE via_index AS
SELECT q.id AS qid, array_agg(n.id) AS ids, array_agg(n.d) AS ds
FROM (SELECT id, h FROM items WHERE id % 50 = 5) q
CROSS JOIN LATERAL (SELECT id, h <-> q.h AS d FROM items ORDER BY h <-> q.h LIMIT 10) n GROUP BY q.id;
RESET enable_seqscan;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SELECT count(*) AS queries,
	   count(*) FILTER (WHERE s.ds IS DISTINCT FROM v.ds) AS distance_mismatches,
	   count(*) FILTER (WHERE s.ids IS DISTINCT FROM v.ids) AS id_mismatches
FROM via_index v
JOIN (SELECT q.id AS qid, array_agg(n.id) AS ids, array_agg(n.d) AS ds
	  FROM (SELECT id, h FROM items WHERE id % 50 = 5) q
	  CROSS JOIN LATERAL (SELECT id, h <-> q.h AS d FROM items ORDER BY h <-> q.h, id LIMIT 10) n GROUP BY q.id) s
  USING (qid);
