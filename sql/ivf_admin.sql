-- ivf_index_info() and ivf_list_sizes()
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;
-- plans disabled by enable_* cost enough to trigger JIT compilation, which is slow
SET jit = off;

-- Lists with known contents, whatever k-means' seeding: built from exactly
-- 4 rows and 4 lists, each row is a centroid; rows inserted afterwards go to
-- the nearest one.  Cluster c (1..4) sits at 100 on coordinate c.
CREATE TABLE ivf_admin_t (id int, v vector(4));
INSERT INTO ivf_admin_t VALUES (1, '[100,0,0,0]'), (2, '[0,100,0,0]'), (3, '[0,0,100,0]'), (4, '[0,0,0,100]');
CREATE INDEX ivf_admin_idx ON ivf_admin_t USING ivf (v vector_l2_ops) WITH (lists = 4);
-- then 10, 20, 30 and 40 more rows around the four centroids, and a NULL
INSERT INTO ivf_admin_t
	SELECT 4 + i, ARRAY[100 * (c = 1)::int + (i % 3) * 0.1, 100 * (c = 2)::int + (i % 5) * 0.1,
				 100 * (c = 3)::int + (i % 7) * 0.1, 100 * (c = 4)::int]::vector
	FROM (SELECT i, CASE WHEN i <= 10 THEN 1 WHEN i <= 30 THEN 2 WHEN i <= 60 THEN 3 ELSE 4 END AS c
		  FROM generate_series(1, 100) i) s;
INSERT INTO ivf_admin_t VALUES (105, NULL);

\x on
SELECT * FROM ivf_index_info('ivf_admin_idx');
\x off
-- each list: its seed row and its cluster
SELECT rows, pages FROM ivf_list_sizes('ivf_admin_idx') ORDER BY rows;
SELECT array_agg(list ORDER BY list) AS lists FROM ivf_list_sizes('ivf_admin_idx');
SELECT sum(rows) = (SELECT count(v) FROM ivf_admin_t) AS sum_is_row_count FROM ivf_list_sizes('ivf_admin_idx');
-- imbalance = lists * sum(rows_i^2) / rows^2 = 4 * (11^2 + 21^2 + 31^2 + 41^2) / 104^2
SELECT round(imbalance::numeric, 6) AS imbalance,
	round(4 * (121 + 441 + 961 + 1681) / (104 * 104.0), 6) AS expected
	FROM ivf_index_info('ivf_admin_idx');
SELECT index_bytes = pg_relation_size('ivf_admin_idx') AS size_ok FROM ivf_index_info('ivf_admin_idx');
-- a query probing the largest list reads 41 / 26 times an average list
SELECT round(list_max_ratio::numeric, 6) AS list_max_ratio, round(41 / 26.0, 6) AS expected
	FROM ivf_index_info('ivf_admin_idx');
-- probes: what a scan of the index probes now (ivf.probes, or the index's
-- option when the session has not set it), at most lists
SELECT probes FROM ivf_index_info('ivf_admin_idx');
ALTER INDEX ivf_admin_idx SET (probes = 2);
SELECT probes FROM ivf_index_info('ivf_admin_idx');
SET ivf.probes = 3;
SELECT probes FROM ivf_index_info('ivf_admin_idx');
RESET ivf.probes;
ALTER INDEX ivf_admin_idx RESET (probes);

-- five more rows join the fourth list
INSERT INTO ivf_admin_t SELECT 200 + i, '[0,0,0,100]' FROM generate_series(1, 5) i;
SELECT rows, list_min, list_max FROM ivf_index_info('ivf_admin_idx');
SELECT rows FROM ivf_list_sizes('ivf_admin_idx') ORDER BY rows;

-- other quantizers and metrics
CREATE INDEX ivf_admin_pq ON ivf_admin_t USING ivf (v vector_ip_ops) WITH (lists = 2, quantizer = 'pq', pq_m = 2);
SELECT lists, rows, quantizer, bytes_per_row, dims, metric FROM ivf_index_info('ivf_admin_pq');
DROP INDEX ivf_admin_pq;
CREATE INDEX ivf_admin_flat ON ivf_admin_t USING ivf (v vector_cosine_ops) WITH (lists = 1, quantizer = 'flat');
SELECT lists, rows, quantizer, bytes_per_row, dims, metric, list_min, list_avg, list_max, imbalance
	FROM ivf_index_info('ivf_admin_flat');
SELECT * FROM ivf_list_sizes('ivf_admin_flat');
DROP INDEX ivf_admin_flat;

-- an index with no rows has no imbalance, and is untrained
CREATE TABLE ivf_admin_empty (v vector(2));
CREATE INDEX ivf_admin_empty_idx ON ivf_admin_empty USING ivf (v vector_l2_ops) WITH (lists = 3);
SELECT lists, rows, list_min, list_avg, list_max, imbalance, list_max_ratio FROM ivf_index_info('ivf_admin_empty_idx');
SELECT * FROM ivf_list_sizes('ivf_admin_empty_idx');
SELECT trained, lists_requested, lists, trained_rows FROM ivf_index_info('ivf_admin_empty_idx');
-- rows inserted later leave it untrained; a rebuild from too few rows too
INSERT INTO ivf_admin_empty VALUES ('[1,0]'), ('[0,1]');
SELECT trained, lists_requested, lists, rows FROM ivf_index_info('ivf_admin_empty_idx');
REINDEX INDEX ivf_admin_empty_idx;
SELECT trained, lists_requested, lists, trained_rows FROM ivf_index_info('ivf_admin_empty_idx');
-- a REINDEX after loading trains it
INSERT INTO ivf_admin_empty VALUES ('[1,1]'), ('[5,5]');
REINDEX INDEX ivf_admin_empty_idx;
SELECT trained, lists_requested, lists, trained_rows FROM ivf_index_info('ivf_admin_empty_idx');
-- the default lists of an empty table: one, asked for and not trained
DROP INDEX ivf_admin_empty_idx;
TRUNCATE ivf_admin_empty;
CREATE INDEX ivf_admin_empty_idx ON ivf_admin_empty USING ivf (v vector_l2_ops);
SELECT trained, lists_requested, lists FROM ivf_index_info('ivf_admin_empty_idx');
-- trained with rows and lists = 2; TRUNCATE keeps the trained model (see ivf_truncate)
INSERT INTO ivf_admin_empty SELECT ARRAY[i, i]::vector FROM generate_series(1, 10) i;
ALTER INDEX ivf_admin_empty_idx SET (lists = 2);
REINDEX INDEX ivf_admin_empty_idx;
SELECT trained, lists_requested, lists FROM ivf_index_info('ivf_admin_empty_idx');
TRUNCATE ivf_admin_empty;
SELECT trained, lists_requested, lists FROM ivf_index_info('ivf_admin_empty_idx');
DROP TABLE ivf_admin_empty;

-- only ivf indexes
CREATE INDEX ivf_admin_btree ON ivf_admin_t (id);
SELECT * FROM ivf_index_info('ivf_admin_btree');
SELECT * FROM ivf_list_sizes('ivf_admin_btree');
SELECT * FROM ivf_index_info('ivf_admin_t');
SELECT * FROM ivf_list_sizes('ivf_admin_t');
SELECT * FROM ivf_index_info(NULL);
SELECT * FROM ivf_index_info('ivf_admin_missing');

-- a failed CREATE INDEX CONCURRENTLY leaves an invalid index with no pages
SET ivf.build_device = 'gpu';
-- the reason (DETAIL) depends on the machine; ivf_gpu tests it
\set VERBOSITY terse
CREATE INDEX CONCURRENTLY ivf_admin_invalid ON ivf_admin_t USING ivf (v vector_l2_ops);
\set VERBOSITY default
RESET ivf.build_device;
SELECT indisvalid FROM pg_index WHERE indexrelid = 'ivf_admin_invalid'::regclass;
SELECT * FROM ivf_index_info('ivf_admin_invalid');
SELECT * FROM ivf_list_sizes('ivf_admin_invalid');
VACUUM ivf_admin_t;
REINDEX INDEX ivf_admin_invalid;
SELECT rows FROM ivf_index_info('ivf_admin_invalid');
DROP INDEX ivf_admin_invalid;

-- callers need SELECT on the table
CREATE ROLE regress_ivf_admin_reader;
SET ROLE regress_ivf_admin_reader;
SELECT rows FROM ivf_index_info('ivf_admin_idx');
SELECT count(*) FROM ivf_list_sizes('ivf_admin_idx');
RESET ROLE;
GRANT SELECT ON ivf_admin_t TO regress_ivf_admin_reader;
SET ROLE regress_ivf_admin_reader;
SELECT rows FROM ivf_index_info('ivf_admin_idx');
SELECT count(*) FROM ivf_list_sizes('ivf_admin_idx');
RESET ROLE;

DROP TABLE ivf_admin_t;
DROP ROLE regress_ivf_admin_reader;
