-- ivf.target_recall and the index option target_recall: the recall a user
-- needs instead of probes.  CREATE INDEX calibrates (exact neighbours of 100
-- indexed rows, the rank of each neighbour's list in scan order); a scan then
-- probes the fewest lists whose calibrated recall@10 meets the target plus a
-- margin of one standard error.  Precedence as for probes: the session's
-- settings, then the index's options, then the server's; within a level
-- probes beats target_recall.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;
-- plans disabled by enable_* cost enough to trigger JIT compilation, which is slow
SET jit = off;

-- 4000 rows around a few cluster centres in 8 dimensions (a fixed hash), 100
-- lists: one list finds most neighbours, a handful find all.  The exact
-- curve depends on k-means, so it is checked for its shape.
CREATE TABLE ivf_target_t (id int, v vector(8));
INSERT INTO ivf_target_t
	SELECT i, array_agg(c + 1.5 * (x - floor(x)) ORDER BY j)::vector
	FROM generate_series(1, 4000) i, generate_series(1, 8) j,
		 LATERAL (SELECT sin(i * 12.9898 + j * 78.233) * 43758.5453 AS x,
						 (sin((i % 25) * 7.13 + j * 3.71) * 1000)::int % 3 AS c) h
	GROUP BY i;
CREATE INDEX ivf_target_idx ON ivf_target_t USING ivf (v vector_l2_ops) WITH (lists = 100);

-- the calibration: rising to 1 within a few probes, taken over 4000 rows
SELECT count(*) BETWEEN 3 AND 30 AS few_probes, min(recall) < 0.9 AS one_probe_misses, max(recall) AS all_found,
	bool_and(recall >= prev) AS rising
FROM (SELECT recall, lag(recall, 1, 0.0) OVER (ORDER BY probes) AS prev FROM ivf_recall_curve('ivf_target_idx')) s;
SELECT probes, target_recall, calibrated_recall >= 0.99 AS high, calibrated_rows FROM ivf_index_info('ivf_target_idx');

-- The probes a target chooses: the first on the curve at or above the target
-- plus sqrt(t (1 - t) / 1000).
CREATE FUNCTION ivf_target_expected(target float8) RETURNS int LANGUAGE sql AS $$
	SELECT min(probes) FROM ivf_recall_curve('ivf_target_idx')
	WHERE recall >= least(1.0, target + sqrt(target * (1 - target) / 1000)) - 1e-12 $$;
CREATE FUNCTION ivf_target_probes() RETURNS int LANGUAGE sql AS $$
	SELECT probes FROM ivf_index_info('ivf_target_idx') $$;
-- the planner's cost follows the probes in effect
CREATE FUNCTION ivf_target_cost() RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	plan json;
BEGIN
	EXECUTE 'EXPLAIN (FORMAT JSON) SELECT id FROM ivf_target_t ORDER BY v <-> ''[1,1,1,1,1,1,1,1]'' LIMIT 10' INTO plan;
	RETURN (plan -> 0 -> 'Plan' ->> 'Total Cost')::float8;
END $$;

SET ivf.target_recall = 0.9;
SELECT ivf_target_probes() = ivf_target_expected(0.9) AS chosen, ivf_target_probes() < 8 AS fewer_than_default,
	target_recall, calibrated_recall >= 0.9 AS calibrated_meets
FROM ivf_index_info('ivf_target_idx');
-- measured recall at that setting meets the target (fixed data, fixed sample)
SELECT ivf_recall('ivf_target_idx') >= 0.89 AS measured_meets;
-- the scan and the planner use those probes
SELECT ivf_recall('ivf_target_idx') AS at_target, ivf_target_cost() AS cost_at_target \gset
SELECT ivf_target_probes() AS p90 \gset
SET ivf.probes = :p90;
SELECT ivf_recall('ivf_target_idx') = :at_target AS same_recall, ivf_target_cost() = :cost_at_target AS same_cost;
RESET ivf.probes;
SET ivf.target_recall = 0.99;
SELECT ivf_target_probes() = ivf_target_expected(0.99) AS chosen, ivf_target_probes() > :p90 AS more_probes;
SELECT ivf_recall('ivf_target_idx') >= 0.98 AS measured_meets;
SET ivf.target_recall = 1;
SELECT ivf_target_probes() = (SELECT max(probes) FROM ivf_recall_curve('ivf_target_idx')) AS every_neighbour;
SET ivf.target_recall = 0;
SELECT probes, target_recall FROM ivf_index_info('ivf_target_idx');
-- values
SET ivf.target_recall = 1.5;
SET ivf.target_recall = -0.1;
RESET ivf.target_recall;

-- Precedence.  Session: probes beats target_recall.
SET ivf.probes = 1;
SET ivf.target_recall = 0.99;
SELECT ivf_target_probes() AS probes, target_recall FROM ivf_index_info('ivf_target_idx');
-- the session's target beats the index's probes option
RESET ivf.probes;
ALTER INDEX ivf_target_idx SET (probes = 1);
SELECT ivf_target_probes() = ivf_target_expected(0.99) AS session_target_wins;
-- index: probes beats target_recall; its target_recall beats the server's settings
RESET ivf.target_recall;
ALTER INDEX ivf_target_idx SET (probes = 1, target_recall = 0.99);
SELECT ivf_target_probes() AS probes;
ALTER INDEX ivf_target_idx RESET (probes);
SELECT ivf_target_probes() = ivf_target_expected(0.99) AS index_target;
SELECT reloptions FROM pg_class WHERE relname = 'ivf_target_idx';
ALTER INDEX ivf_target_idx SET (target_recall = 1.5);
ALTER INDEX ivf_target_idx SET (target_recall = -1);
SELECT current_database() AS dbname \gset
ALTER DATABASE :"dbname" SET ivf.probes = 2;
ALTER DATABASE :"dbname" SET ivf.target_recall = 0.9;
\c
SET jit = off;
SELECT ivf_target_probes() = ivf_target_expected(0.99) AS index_beats_server;
-- server: probes set there beats target_recall set there
ALTER INDEX ivf_target_idx RESET (target_recall);
SELECT ivf_target_probes() AS probes;
ALTER DATABASE :"dbname" RESET ivf.probes;
\c
SET jit = off;
SELECT ivf_target_probes() = ivf_target_expected(0.9) AS server_target;
ALTER DATABASE :"dbname" RESET ivf.target_recall;
\c
SET jit = off;
SELECT ivf_target_probes() AS probes;

-- Recalibration.  VACUUM recalibrates once the index has doubled ...
INSERT INTO ivf_target_t SELECT id + 4000, v FROM ivf_target_t;
VACUUM ivf_target_t;
SELECT calibrated_rows FROM ivf_index_info('ivf_target_idx');
-- ... or halved, not for less
DELETE FROM ivf_target_t WHERE id % 3 = 0;
VACUUM ivf_target_t;
SELECT calibrated_rows, rows FROM ivf_index_info('ivf_target_idx');
DELETE FROM ivf_target_t WHERE id % 3 = 1;
VACUUM ivf_target_t;
SELECT calibrated_rows, rows FROM ivf_index_info('ivf_target_idx');
-- ivf_calibrate does it now
DELETE FROM ivf_target_t WHERE id % 5 = 0;
VACUUM ivf_target_t;
SELECT calibrated_rows, rows FROM ivf_index_info('ivf_target_idx');
SELECT ivf_calibrate('ivf_target_idx');
SELECT calibrated_rows, rows FROM ivf_index_info('ivf_target_idx');
SET ivf.target_recall = 0.9;
SELECT ivf_recall('ivf_target_idx') >= 0.89 AS measured_meets;
RESET ivf.target_recall;
-- only the table's owner may
CREATE ROLE ivf_target_reader;
GRANT SELECT ON ivf_target_t TO ivf_target_reader;
SET ROLE ivf_target_reader;
SELECT ivf_calibrate('ivf_target_idx');
SELECT calibrated_rows > 0 AS readable FROM ivf_index_info('ivf_target_idx');
RESET ROLE;
DROP OWNED BY ivf_target_reader;
DROP ROLE ivf_target_reader;
SELECT ivf_calibrate('ivf_target_t');

-- Without a calibration the target falls back to probes, with one WARNING
-- per index and session.  An untrained index has none ...
CREATE TABLE ivf_target_empty (id int, v vector(8));
SET client_min_messages = warning;
CREATE INDEX ivf_target_empty_idx ON ivf_target_empty USING ivf (v vector_l2_ops) WITH (lists = 10);
RESET client_min_messages;
INSERT INTO ivf_target_empty SELECT id, v FROM ivf_target_t WHERE id <= 500;
VACUUM ivf_target_empty;
SELECT trained, calibrated_rows FROM ivf_index_info('ivf_target_empty_idx');
SELECT * FROM ivf_recall_curve('ivf_target_empty_idx');
SET ivf.target_recall = 0.9;
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM ivf_target_empty ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM ivf_target_empty ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 5) s;
SELECT probes, target_recall, calibrated_recall FROM ivf_index_info('ivf_target_empty_idx');
-- ... nor has a trained index built from one row (it has no neighbour to
-- ask about); VACUUM calibrates it once it has rows
CREATE TABLE ivf_target_one (id int, v vector(8));
INSERT INTO ivf_target_one SELECT id, v FROM ivf_target_t WHERE id = 2;
CREATE INDEX ivf_target_one_idx ON ivf_target_one USING ivf (v vector_l2_ops) WITH (lists = 1, probes = 1);
SELECT count(*) FROM (SELECT id FROM ivf_target_one ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 5) s;
SELECT trained, probes, calibrated_rows FROM ivf_index_info('ivf_target_one_idx');
INSERT INTO ivf_target_one SELECT id, v FROM ivf_target_t WHERE id BETWEEN 3 AND 300;
VACUUM ivf_target_one;
SELECT trained, probes, calibrated_recall, calibrated_rows FROM ivf_index_info('ivf_target_one_idx');
SELECT * FROM ivf_recall_curve('ivf_target_one_idx');
RESET enable_seqscan;
RESET ivf.target_recall;

-- Every metric: the target is met on the metric's own neighbours
CREATE INDEX ivf_target_cos ON ivf_target_t USING ivf (v vector_cosine_ops) WITH (lists = 50);
CREATE INDEX ivf_target_ip ON ivf_target_t USING ivf (v vector_ip_ops) WITH (lists = 50);
SET ivf.target_recall = 0.9;
DROP INDEX ivf_target_idx;
BEGIN;
DROP INDEX ivf_target_ip;
SELECT calibrated_recall >= 0.9 AS calibrated_meets FROM ivf_index_info('ivf_target_cos');
SELECT ivf_recall('ivf_target_cos') >= 0.89 AS measured_meets;
ROLLBACK;
BEGIN;
DROP INDEX ivf_target_cos;
SELECT calibrated_recall >= 0.9 AS calibrated_meets FROM ivf_index_info('ivf_target_ip');
SELECT ivf_recall('ivf_target_ip') >= 0.89 AS measured_meets;
ROLLBACK;
RESET ivf.target_recall;

DROP TABLE ivf_target_t, ivf_target_empty, ivf_target_one;
DROP FUNCTION ivf_target_expected(float8), ivf_target_probes(), ivf_target_cost();
