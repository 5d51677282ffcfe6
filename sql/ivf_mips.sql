-- Inner product through the MIPS-to-L2 reduction (src/core/mips.h): rows of
-- very different norms, lists trained and rows assigned in the augmented
-- space.  Checked: few probes find the inner-product top
-- 10; with every list probed, and under strict_order (whose inner-product
-- list bound comes from the reduction) at probes 1, the index returns the
-- sequential scan's distances; a row inserted beyond the build's largest norm
-- (outside the augmented geometry) leaves answers exact.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;
SET jit = off;

SELECT setseed(0.25);
CREATE TABLE ivf_mips_c (c int, x float8[]);
INSERT INTO ivf_mips_c
	SELECT c, array_agg(random() * 2 - 1 ORDER BY j) FROM generate_series(0, 9) c, generate_series(1, 16) j GROUP BY c;
-- ten directions, each row scaled by 0.5 .. 5.25
CREATE TABLE ivf_mips_t (id int, v vector(16));
INSERT INTO ivf_mips_t
	SELECT i, (SELECT array_agg((0.5 + (i * 7 % 20) / 4.0) * (x[j] + 0.4 * (random() - 0.5)) ORDER BY j)
			   FROM ivf_mips_c, generate_series(1, 16) j WHERE c = i % 10)::vector
	FROM generate_series(1, 4000) i;
CREATE TABLE ivf_mips_q (qid int, v vector(16));
INSERT INTO ivf_mips_q
	SELECT i, array_agg((random() * 2 - 1) * (1 + i % 3) ORDER BY j)::vector
	FROM generate_series(1, 30) i, generate_series(1, 16) j GROUP BY i ORDER BY i;

-- whether every query's top 10 distances through the index equal the sequential scan's
CREATE FUNCTION ivf_mips_exact() RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	q record;
	sql text := 'SELECT ARRAY(SELECT t.v <#> $1 FROM ivf_mips_t t ORDER BY t.v <#> $1 LIMIT 10)';
	via_index float8[];
	exact float8[];
BEGIN
	FOR q IN SELECT * FROM ivf_mips_q ORDER BY qid LOOP
		PERFORM set_config('enable_indexscan', 'on', true), set_config('enable_seqscan', 'off', true);
		EXECUTE sql INTO via_index USING q.v;
		PERFORM set_config('enable_indexscan', 'off', true), set_config('enable_seqscan', 'on', true);
		EXECUTE sql INTO exact USING q.v;
		IF via_index IS DISTINCT FROM exact THEN
			RAISE NOTICE 'query %: index % exact %', q.qid, via_index, exact;
			RETURN false;
		END IF;
	END LOOP;
	RESET enable_indexscan;
	RESET enable_seqscan;
	RETURN true;
END $$;

CREATE INDEX ivf_mips_sq8 ON ivf_mips_t USING ivf (v vector_ip_ops) WITH (lists = 40);
-- the index is used
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_mips_t ORDER BY v <#> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 10;
RESET enable_seqscan;

-- lists that hold the large inner products: 1 or 2 of 40 lists find most of
-- the top 10 (0.895 and 0.978 here; L2 cells of the raw rows: 0.747, 0.919)
SET ivf.probes = 1;
SELECT ivf_recall('ivf_mips_sq8', 100, 10) >= 0.85 AS recall_at_1_probe;
SET ivf.probes = 2;
SELECT ivf_recall('ivf_mips_sq8', 100, 10) >= 0.95 AS recall_at_2_probes;

-- every list probed: the exact answer
SET ivf.probes = 40;
SELECT ivf_mips_exact() AS all_lists_exact;
-- strict_order from one probed list on: the exact answer
SET ivf.probes = 1;
SET ivf.iterative_scan = strict_order;
SELECT ivf_mips_exact() AS strict_exact;

-- a row far beyond the largest norm of the build, along query 1: no longer
-- on the augmented sphere, so the list bound no longer covers every row;
-- answers stay exact and it comes first for query 1
INSERT INTO ivf_mips_t SELECT 0, (SELECT array_agg(x * 100) FROM unnest(v::real[]) x)::vector
	FROM ivf_mips_q WHERE qid = 1;
SELECT ivf_mips_exact() AS strict_exact_after_insert;
SELECT id FROM ivf_mips_t ORDER BY v <#> (SELECT v FROM ivf_mips_q WHERE qid = 1) LIMIT 1;
RESET ivf.iterative_scan;
SET ivf.probes = 40;
SELECT ivf_mips_exact() AS all_lists_exact_after_insert;

-- a rebuild takes the new largest norm; flat and pq codes likewise
REINDEX INDEX ivf_mips_sq8;
SET ivf.iterative_scan = strict_order;
SET ivf.probes = 1;
SELECT ivf_mips_exact() AS strict_exact_after_reindex;
DROP INDEX ivf_mips_sq8;
CREATE INDEX ivf_mips_flat ON ivf_mips_t USING ivf (v vector_ip_ops) WITH (lists = 40, quantizer = 'flat');
SELECT ivf_mips_exact() AS strict_exact_flat;
DROP INDEX ivf_mips_flat;
CREATE INDEX ivf_mips_pq ON ivf_mips_t USING ivf (v vector_ip_ops) WITH (lists = 40, quantizer = 'pq', pq_m = 4);
SELECT ivf_mips_exact() AS strict_exact_pq;
RESET ivf.iterative_scan;
RESET ivf.probes;

-- TRUNCATE keeps the trained model with its MIPS reduction; every list probed finds every row
TRUNCATE ivf_mips_t;
SELECT model_carried, lists FROM ivf_index_info('ivf_mips_pq');
INSERT INTO ivf_mips_t VALUES (1, '[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]'), (2, '[0,3,0,0,0,0,0,0,0,0,0,0,0,0,0,0]');
SET enable_seqscan = off;
SET ivf.probes = 40;
SELECT id FROM ivf_mips_t ORDER BY v <#> '[1,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 2;
RESET ivf.probes;
RESET enable_seqscan;

-- an index built over no rows (no largest norm: plain lists) takes rows later
TRUNCATE ivf_mips_t;
DROP INDEX ivf_mips_pq;
CREATE INDEX ivf_mips_pq ON ivf_mips_t USING ivf (v vector_ip_ops) WITH (lists = 40, quantizer = 'pq', pq_m = 4);
INSERT INTO ivf_mips_t VALUES (1, '[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]'), (2, '[0,3,0,0,0,0,0,0,0,0,0,0,0,0,0,0]');
SET enable_seqscan = off;
SELECT id FROM ivf_mips_t ORDER BY v <#> '[1,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 2;
RESET enable_seqscan;

-- VACUUM trains it once rows arrive, in the augmented space (src/pg/ivfmaint.cpp):
-- strict_order from one probed list is exact, so every row sits in its
-- nearest augmented list; also after a row beyond the new M
INSERT INTO ivf_mips_t
	SELECT i, (SELECT array_agg((0.5 + (i * 7 % 20) / 4.0) * (x[j] + 0.4 * (random() - 0.5)) ORDER BY j)
			   FROM ivf_mips_c, generate_series(1, 16) j WHERE c = i % 10)::vector
	FROM generate_series(3, 4000) i;
VACUUM ivf_mips_t;
SELECT trained, lists, maintenances FROM ivf_index_info('ivf_mips_pq');
SET ivf.probes = 1;
SET ivf.iterative_scan = strict_order;
SELECT ivf_mips_exact() AS strict_exact_after_maintenance;
INSERT INTO ivf_mips_t SELECT 0, (SELECT array_agg(x * 100) FROM unnest(v::real[]) x)::vector
	FROM ivf_mips_q WHERE qid = 2;
SELECT ivf_mips_exact() AS strict_exact_after_maintenance_and_insert;
RESET ivf.iterative_scan;
RESET ivf.probes;

-- lists are ranked by their ranking vectors, which lean from the centroid to
-- the mean of the list's 4 largest rows (src/core/mips.h): list A holds 40
-- rows of inner product 3 with [1,0]; the other list's centroid points away
-- from it, but its 4 largest rows give 4.5.  One probed list finds them
-- (ranked by centroids, A came first and gave 3); every list probed equals
-- the exact scan.
CREATE TABLE ivf_mips_r (id int, v vector(2));
INSERT INTO ivf_mips_r SELECT i, ARRAY[3, i * 0.01]::vector FROM generate_series(1, 40) i;
INSERT INTO ivf_mips_r SELECT 100 + i, ARRAY[-1, 3 + i * 0.01]::vector FROM generate_series(1, 40) i;
INSERT INTO ivf_mips_r SELECT 200 + i, '[4.5,6]' FROM generate_series(1, 4) i;
CREATE INDEX ivf_mips_r_idx ON ivf_mips_r USING ivf (v vector_ip_ops) WITH (lists = 2);
SELECT rows FROM ivf_list_sizes('ivf_mips_r_idx') ORDER BY rows;
SET enable_seqscan = off;
SET ivf.probes = 1;
SELECT v <#> '[1,0]' AS top FROM ivf_mips_r ORDER BY v <#> '[1,0]' LIMIT 1;
SET ivf.probes = 2;
SELECT array_agg(id ORDER BY d, id) AS via_index FROM
	(SELECT id, v <#> '[1,0.5]' AS d FROM ivf_mips_r ORDER BY v <#> '[1,0.5]' LIMIT 10) s;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT array_agg(id ORDER BY d, id) AS exact FROM
	(SELECT id, v <#> '[1,0.5]' AS d FROM ivf_mips_r ORDER BY v <#> '[1,0.5]' LIMIT 10) s;
RESET enable_indexscan;
RESET ivf.probes;
DROP TABLE ivf_mips_r;

DROP TABLE ivf_mips_t, ivf_mips_q, ivf_mips_c;
DROP FUNCTION ivf_mips_exact();
