-- ivf_recall(index, queries, k): recall@k of an index at the session's
-- settings against the exact scan, with rows of the table as queries.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;
-- plans disabled by enable_* cost enough to trigger JIT compilation, which is slow
SET jit = off;

-- 2000 rows spread uniformly over [0,1)^8 (a fixed hash), one zero vector and
-- one NULL: with 20 lists, one probe misses many neighbours, every probe none.
-- The values at one probe depend on k-means, so they are checked for a range.
CREATE TABLE ivf_rf_t (id int, cat int, v vector(8));
INSERT INTO ivf_rf_t
	SELECT i, i % 3, array_agg(x - floor(x) ORDER BY j)::vector
	FROM generate_series(1, 2000) i, generate_series(1, 8) j,
		 LATERAL (SELECT sin(i * 12.9898 + j * 78.233) * 43758.5453 AS x) h
	GROUP BY i;
INSERT INTO ivf_rf_t VALUES (0, 0, '[0,0,0,0,0,0,0,0]'), (-1, 0, NULL);
CREATE INDEX ivf_rf_l2 ON ivf_rf_t USING ivf (v vector_l2_ops) WITH (lists = 20);

-- every list probed: the index finds what the exact scan finds
SET ivf.probes = 20;
SELECT ivf_recall('ivf_rf_l2');
-- one list: fewer, the same on every call (the sample is fixed); more with two
SET ivf.probes = 1;
SELECT ivf_recall('ivf_rf_l2') BETWEEN 0.2 AND 0.8 AS one_probe_misses,
	ivf_recall('ivf_rf_l2') = ivf_recall('ivf_rf_l2') AS stable;
SELECT ivf_recall('ivf_rf_l2') AS one_probe \gset
SET ivf.probes = 2;
SELECT ivf_recall('ivf_rf_l2') > :one_probe AS more_probes_more_recall;
-- the index's probes option is a current setting too
RESET ivf.probes;
ALTER INDEX ivf_rf_l2 SET (probes = 1);
SELECT ivf_recall('ivf_rf_l2') < 0.8 AS option_used;
SET ivf.probes = 20;
SELECT ivf_recall('ivf_rf_l2') AS session_wins;
ALTER INDEX ivf_rf_l2 RESET (probes);
-- queries and k
SELECT ivf_recall('ivf_rf_l2', 1, 1), ivf_recall('ivf_rf_l2', 5000, 3), ivf_recall('ivf_rf_l2', 3, 3000);
-- the settings it changes to run both scans do not leak into the session
SET enable_seqscan = off;
SET enable_indexscan = off;
BEGIN;
SELECT ivf_recall('ivf_rf_l2', 5);
SHOW enable_seqscan;
SHOW enable_indexscan;
COMMIT;
SHOW enable_seqscan;
SHOW enable_indexscan;
RESET enable_seqscan;
RESET enable_indexscan;
DROP INDEX ivf_rf_l2;

-- the other metrics (under cosine the zero vector is neither query nor neighbour)
CREATE INDEX ivf_rf_ip ON ivf_rf_t USING ivf (v vector_ip_ops) WITH (lists = 20, quantizer = 'pq', pq_m = 4);
CREATE INDEX ivf_rf_cos ON ivf_rf_t USING ivf (v vector_cosine_ops) WITH (lists = 20, quantizer = 'flat');
SET ivf.probes = 20;
SELECT ivf_recall('ivf_rf_ip') AS ip, ivf_recall('ivf_rf_cos') AS cosine;
SET ivf.probes = 1;
SELECT ivf_recall('ivf_rf_ip') < 0.8 AS ip_misses, ivf_recall('ivf_rf_cos') < 0.8 AS cosine_misses;
DROP INDEX ivf_rf_ip, ivf_rf_cos;

-- a partial index: queries and the exact answer come from the rows it holds
-- (otherwise rows of other categories would be missed at every probe)
CREATE INDEX ivf_rf_part ON ivf_rf_t USING ivf (v vector_l2_ops) WITH (lists = 10) WHERE cat = 1;
SET ivf.probes = 10;
SELECT ivf_recall('ivf_rf_part');
SET ivf.probes = 1;
SELECT ivf_recall('ivf_rf_part') < 0.8 AS one_probe_misses;
RESET ivf.probes;

-- errors
\set VERBOSITY terse
SELECT ivf_recall('ivf_rf_part', 0);
SELECT ivf_recall('ivf_rf_part', -5);
SELECT ivf_recall('ivf_rf_part', 10, 0);
SELECT ivf_recall('ivf_rf_t');
CREATE INDEX ivf_rf_btree ON ivf_rf_t (id);
SELECT ivf_recall('ivf_rf_btree');
CREATE INDEX ivf_rf_expr ON ivf_rf_t USING ivf (((v + v)::vector(8))) WITH (lists = 2);
SELECT ivf_recall('ivf_rf_expr');
DROP INDEX ivf_rf_expr;
-- an index the planner does not choose (another one costs less): measured
-- in a transaction that drops the other one
CREATE INDEX ivf_rf_a ON ivf_rf_t USING ivf (v vector_l2_ops) WITH (lists = 20);
CREATE INDEX ivf_rf_b ON ivf_rf_t USING ivf (v vector_l2_ops) WITH (lists = 2);
SELECT ivf_recall('ivf_rf_a', 3) > 0 AS measured;
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT ivf_recall('ivf_rf_b', 3);
\set SHOW_CONTEXT errors
\set VERBOSITY terse
BEGIN;
DROP INDEX ivf_rf_a;
SELECT ivf_recall('ivf_rf_b', 3) > 0 AS measured;
ROLLBACK;
DROP INDEX ivf_rf_a, ivf_rf_b;
CREATE TABLE ivf_rf_parted (id int, v vector(2)) PARTITION BY RANGE (id);
CREATE TABLE ivf_rf_parted_1 PARTITION OF ivf_rf_parted FOR VALUES FROM (0) TO (100);
CREATE INDEX ivf_rf_parted_idx ON ivf_rf_parted USING ivf (v vector_l2_ops) WITH (lists = 1);
SELECT ivf_recall('ivf_rf_parted_idx');
SELECT ivf_recall('ivf_rf_parted_1_v_idx');
\set VERBOSITY default
SELECT ivf_recall(NULL), ivf_recall('ivf_rf_part', NULL);
-- callers need SELECT on the table
CREATE ROLE regress_ivf_rf_reader;
SET ROLE regress_ivf_rf_reader;
\set VERBOSITY terse
SELECT ivf_recall('ivf_rf_part', 3);
\set VERBOSITY default
RESET ROLE;
DROP ROLE regress_ivf_rf_reader;

-- nothing to measure: an empty table, a single row (no neighbour but itself)
CREATE TABLE ivf_rf_small (v vector(2));
CREATE INDEX ivf_rf_small_idx ON ivf_rf_small USING ivf (v vector_l2_ops) WITH (lists = 1);
SELECT ivf_recall('ivf_rf_small_idx') IS NULL AS empty_is_null;
INSERT INTO ivf_rf_small VALUES ('[1,1]');
SELECT ivf_recall('ivf_rf_small_idx') IS NULL AS one_row_is_null;
INSERT INTO ivf_rf_small VALUES ('[2,2]');
SELECT ivf_recall('ivf_rf_small_idx');

DROP TABLE ivf_rf_t, ivf_rf_parted, ivf_rf_small;
