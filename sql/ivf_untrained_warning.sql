-- An index built before its table was loaded stays untrained; the first scan
-- in a session that reads enough of its rows to train it gives one WARNING
-- (on Citus the build's NOTICE on a shard never reaches the client, a query's
-- WARNING does).
SET client_min_messages = warning;
CREATE TABLE untrained_t (id int, v vector(4));
CREATE INDEX untrained_idx ON untrained_t USING ivf (v) WITH (lists = 20);
SELECT setseed(0.3);
INSERT INTO untrained_t SELECT i, ARRAY[random(), random(), random(), random()] FROM generate_series(1, 1500) i;
SET enable_seqscan = off;
-- one WARNING, then none in this session
SELECT count(*) FROM (SELECT id FROM untrained_t ORDER BY v <-> '[0.5,0.5,0.5,0.5]' LIMIT 5) s;
SELECT count(*) FROM (SELECT id FROM untrained_t ORDER BY v <-> '[0.1,0.5,0.5,0.5]' LIMIT 5) s;
-- fewer rows than the threshold: no WARNING
CREATE TABLE untrained_small (id int, v vector(4));
CREATE INDEX untrained_small_idx ON untrained_small USING ivf (v) WITH (lists = 20);
INSERT INTO untrained_small SELECT i, ARRAY[i, 0, 0, 0] FROM generate_series(1, 100) i;
SELECT count(*) FROM (SELECT id FROM untrained_small ORDER BY v <-> '[0.5,0.5,0.5,0.5]' LIMIT 5) s;
-- trained by REINDEX: no WARNING
REINDEX INDEX untrained_idx;
\c
SET client_min_messages = warning;
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM untrained_t ORDER BY v <-> '[0.5,0.5,0.5,0.5]' LIMIT 5) s;
DROP TABLE untrained_t, untrained_small;
