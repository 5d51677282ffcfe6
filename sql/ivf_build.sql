-- CREATE INDEX ... USING ivf: every reloption, its error paths, and edge-case tables
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;
-- plans disabled by enable_* cost enough to trigger JIT compilation, which is slow
SET jit = off;

SELECT setseed(0.11);
CREATE TABLE ivf_build_t (id int, v vector(8));
INSERT INTO ivf_build_t
	SELECT i, array_agg(random() * 10 - 5 ORDER BY j)::vector
	FROM generate_series(1, 600) i, generate_series(1, 8) j GROUP BY i ORDER BY i;

-- defaults: sq8 with residuals, lists derived from the row count (600 / 1000, at least 1)
CREATE INDEX ivf_build_idx ON ivf_build_t USING ivf (v vector_l2_ops);
SELECT lists, rows, quantizer, bytes_per_row, dims, metric, trained_rows, build_device
	FROM ivf_index_info('ivf_build_idx');
DROP INDEX ivf_build_idx;

-- each quantizer, with explicit lists
CREATE INDEX ivf_build_idx ON ivf_build_t USING ivf (v vector_l2_ops) WITH (lists = 6, quantizer = 'sq8');
SELECT lists, rows, quantizer, bytes_per_row, metric FROM ivf_index_info('ivf_build_idx');
DROP INDEX ivf_build_idx;
CREATE INDEX ivf_build_idx ON ivf_build_t USING ivf (v vector_ip_ops) WITH (lists = 6, quantizer = 'pq');
SELECT lists, rows, quantizer, bytes_per_row, metric FROM ivf_index_info('ivf_build_idx');
DROP INDEX ivf_build_idx;
CREATE INDEX ivf_build_idx ON ivf_build_t USING ivf (v vector_cosine_ops) WITH (lists = 6, quantizer = 'flat');
SELECT lists, rows, quantizer, bytes_per_row, metric FROM ivf_index_info('ivf_build_idx');
DROP INDEX ivf_build_idx;

-- pq_m: 8 dimensions in 4 sub-vectors; residual off; an explicit training sample
CREATE INDEX ivf_build_idx ON ivf_build_t USING ivf (v vector_l2_ops)
	WITH (lists = 4, quantizer = 'pq', pq_m = 4, residual = false, sample = 300);
SELECT lists, rows, quantizer, bytes_per_row, trained_rows FROM ivf_index_info('ivf_build_idx');
SELECT reloptions FROM pg_class WHERE relname = 'ivf_build_idx';
DROP INDEX ivf_build_idx;
CREATE INDEX ivf_build_idx ON ivf_build_t USING ivf (v vector_l2_ops) WITH (lists = 4, pq_m = 8, quantizer = 'pq');
SELECT quantizer, bytes_per_row FROM ivf_index_info('ivf_build_idx');
DROP INDEX ivf_build_idx;

-- reloption errors
CREATE INDEX ivf_build_bad ON ivf_build_t USING ivf (v vector_l2_ops) WITH (quantizer = 'sq4');
CREATE INDEX ivf_build_bad ON ivf_build_t USING ivf (v vector_l2_ops) WITH (quantizer = 'pq', pq_m = 3);
CREATE INDEX ivf_build_bad ON ivf_build_t USING ivf (v vector_l2_ops) WITH (quantizer = 'pq', pq_m = 16);
CREATE INDEX ivf_build_bad ON ivf_build_t USING ivf (v vector_l2_ops) WITH (quantizer = 'sq8', pq_m = 4);
CREATE INDEX ivf_build_bad ON ivf_build_t USING ivf (v vector_l2_ops) WITH (quantizer = 'flat', pq_m = 4);
CREATE INDEX ivf_build_bad ON ivf_build_t USING ivf (v vector_l2_ops) WITH (lists = -1);
CREATE INDEX ivf_build_bad ON ivf_build_t USING ivf (v vector_l2_ops) WITH (lists = 100001);
CREATE INDEX ivf_build_bad ON ivf_build_t USING ivf (v vector_l2_ops) WITH (sample = -5);
CREATE INDEX ivf_build_bad ON ivf_build_t USING ivf (v vector_l2_ops) WITH (residual = 'maybe');
CREATE INDEX ivf_build_bad ON ivf_build_t USING ivf (v vector_l2_ops) WITH (nprobe = 3);
SELECT count(*) AS leftover_indexes FROM pg_class WHERE relname = 'ivf_build_bad';

-- an ivf index covers one vector column of known dimension
CREATE TABLE ivf_build_untyped (v vector);
CREATE INDEX ON ivf_build_untyped USING ivf (v vector_l2_ops);
CREATE INDEX ON ivf_build_t USING ivf (id);
CREATE INDEX ON ivf_build_t USING ivf (v vector_l2_ops, v vector_ip_ops);
DROP TABLE ivf_build_untyped;

-- rows too wide for one page: flat stores 4 bytes per dimension, sq8 one, pq one per sub-vector
CREATE TABLE ivf_build_wide (v vector(2100), w vector(9000));
CREATE INDEX ON ivf_build_wide USING ivf (v vector_l2_ops) WITH (quantizer = 'flat');
CREATE INDEX ON ivf_build_wide USING ivf (w vector_l2_ops) WITH (quantizer = 'sq8');
CREATE INDEX ON ivf_build_wide USING ivf (w vector_l2_ops) WITH (quantizer = 'pq', pq_m = 9000);
CREATE INDEX ON ivf_build_wide USING ivf (v vector_l2_ops) WITH (quantizer = 'sq8');
SELECT dims, quantizer, bytes_per_row FROM ivf_index_info('ivf_build_wide_v_idx');
DROP TABLE ivf_build_wide;

-- no usable GPU here (make check hides GPUs from its server)
SET ivf.build_device = 'gpu';
-- the reason (DETAIL) depends on the machine; ivf_gpu tests it
\set VERBOSITY terse
CREATE INDEX ivf_build_bad ON ivf_build_t USING ivf (v vector_l2_ops);
\set VERBOSITY default
SET ivf.build_device = 'cpu';
CREATE INDEX ivf_build_idx ON ivf_build_t USING ivf (v vector_l2_ops) WITH (lists = 2);
SELECT build_device FROM ivf_index_info('ivf_build_idx');
DROP INDEX ivf_build_idx;
RESET ivf.build_device;
SET ivf.build_device = 'tpu';

-- an empty table: the index is built untrained and says so
CREATE TABLE ivf_build_empty (id int, v vector(3));
CREATE INDEX ivf_build_empty_idx ON ivf_build_empty USING ivf (v vector_l2_ops) WITH (lists = 4);
SELECT lists, rows, trained_rows, list_min, list_max, imbalance FROM ivf_index_info('ivf_build_empty_idx');
SET enable_seqscan = off;
SELECT id FROM ivf_build_empty ORDER BY v <-> '[1,2,3]' LIMIT 3;
-- rows inserted later are found, exactly ranked
INSERT INTO ivf_build_empty VALUES (1, '[1,2,3]'), (2, '[4,5,6]'), (3, '[0,0,0]'), (4, '[1,2,4]');
SET ivf.probes = 4;
SELECT id, v <-> '[1,2,3]' AS d FROM ivf_build_empty ORDER BY v <-> '[1,2,3]' LIMIT 3;
RESET ivf.probes;
RESET enable_seqscan;
DROP TABLE ivf_build_empty;

-- a table with fewer rows than lists: NOTICE, then exact answers anyway
CREATE TABLE ivf_build_tiny (id int, v vector(2));
INSERT INTO ivf_build_tiny VALUES (1, '[0,0]'), (2, '[1,0]'), (3, '[0,1]'), (4, '[5,5]'), (5, '[-3,2]');
CREATE INDEX ivf_build_tiny_idx ON ivf_build_tiny USING ivf (v vector_l2_ops) WITH (lists = 10);
SELECT lists, rows, trained_rows FROM ivf_index_info('ivf_build_tiny_idx');
SET enable_seqscan = off;
SET ivf.probes = 10;
SELECT id, v <-> '[0.9,0.2]' AS d FROM ivf_build_tiny ORDER BY v <-> '[0.9,0.2]' LIMIT 5;
RESET ivf.probes;
RESET enable_seqscan;
DROP TABLE ivf_build_tiny;

-- NULL rows are not indexed; zero rows are not indexed under cosine only
CREATE TABLE ivf_build_nulls (id int, v vector(3));
INSERT INTO ivf_build_nulls
	SELECT i, CASE WHEN i % 4 = 0 THEN NULL WHEN i % 4 = 1 THEN '[0,0,0]' ELSE ARRAY[i, i % 7, 1]::vector END
	FROM generate_series(1, 40) i;
CREATE INDEX ivf_build_nulls_l2 ON ivf_build_nulls USING ivf (v vector_l2_ops) WITH (lists = 2);
CREATE INDEX ivf_build_nulls_cos ON ivf_build_nulls USING ivf (v vector_cosine_ops) WITH (lists = 2);
SELECT rows FROM ivf_index_info('ivf_build_nulls_l2');
SELECT rows FROM ivf_index_info('ivf_build_nulls_cos');
SET enable_seqscan = off;
SET ivf.probes = 2;
-- so an index scan returns the 30 indexed rows and none of the 10 NULLs
SELECT count(*) AS returned, count(*) FILTER (WHERE v IS NULL) AS nulls
	FROM (SELECT v FROM ivf_build_nulls ORDER BY v <-> '[1,1,1]' LIMIT 100) s;
RESET ivf.probes;
RESET enable_seqscan;
DROP TABLE ivf_build_nulls;

-- an unlogged table: the index has an init fork and works like any other
CREATE UNLOGGED TABLE ivf_build_unlogged (id int, v vector(2));
INSERT INTO ivf_build_unlogged SELECT i, ARRAY[i % 17, i % 13]::vector FROM generate_series(1, 200) i;
CREATE INDEX ivf_build_unlogged_idx ON ivf_build_unlogged USING ivf (v vector_l2_ops) WITH (lists = 3);
SELECT relpersistence FROM pg_class WHERE relname = 'ivf_build_unlogged_idx';
SELECT pg_relation_size('ivf_build_unlogged_idx', 'init') > 0 AS has_init_fork;
SELECT rows FROM ivf_index_info('ivf_build_unlogged_idx');
SET enable_seqscan = off;
SET ivf.probes = 3;
SELECT id, v <-> '[16,12]' AS d FROM ivf_build_unlogged ORDER BY v <-> '[16,12]', id LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_build_unlogged ORDER BY v <-> '[16,12]' LIMIT 3;
RESET ivf.probes;
RESET enable_seqscan;
DROP TABLE ivf_build_unlogged;

DROP TABLE ivf_build_t;
