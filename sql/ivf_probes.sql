-- The probes index option: the lists a scan of that index probes unless the
-- session sets ivf.probes.  Most specific wins: the session's SET (or SET
-- LOCAL, a function's SET clause, set_config(), connection options), then the
-- index's probes, then ivf.probes from postgresql.conf / ALTER DATABASE /
-- ALTER ROLE, then the built-in 8.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;
-- plans disabled by enable_* cost enough to trigger JIT compilation, which is slow
SET jit = off;

-- Lists with known contents (as in ivf_admin): built from exactly 4 rows and 4
-- lists, each row is a centroid; rows inserted later join the nearest one.
-- Cluster c sits at 100 on coordinate c and holds 1 + 10 * c rows.
CREATE TABLE ivf_probes_t (id int, v vector(4));
INSERT INTO ivf_probes_t VALUES (1, '[100,0,0,0]'), (2, '[0,100,0,0]'), (3, '[0,0,100,0]'), (4, '[0,0,0,100]');
CREATE INDEX ivf_probes_idx ON ivf_probes_t USING ivf (v vector_l2_ops) WITH (lists = 4);
INSERT INTO ivf_probes_t
	SELECT 4 + i, ARRAY[100 * (c = 1)::int + (i % 3) * 0.1, 100 * (c = 2)::int + (i % 5) * 0.1,
				 100 * (c = 3)::int + (i % 7) * 0.1, 100 * (c = 4)::int]::vector
	FROM (SELECT i, CASE WHEN i <= 10 THEN 1 WHEN i <= 30 THEN 2 WHEN i <= 60 THEN 3 ELSE 4 END AS c
		  FROM generate_series(1, 100) i) s;

-- Rows an index scan returns with ivf.iterative_scan off: those of the probed
-- lists.  The query's nearest centroids are 1, 2, 3, 4 in that order, so
-- probes 1, 2, 3, 4 return 11, 32, 63, 104 rows.
SET enable_seqscan = off;
CREATE FUNCTION ivf_probes_rows() RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM (SELECT id FROM ivf_probes_t ORDER BY v <-> '[100,50,20,0]' LIMIT 1000) s $$;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_probes_t ORDER BY v <-> '[100,50,20,0]' LIMIT 1000;

-- no option, no SET: the default 8 (capped at the 4 lists)
SHOW ivf.probes;
SELECT ivf_probes_rows();

-- the index's option applies while the session has not set ivf.probes
SELECT pg_relation_filenode('ivf_probes_idx') AS filenode \gset
ALTER INDEX ivf_probes_idx SET (probes = 1);
SELECT reloptions FROM pg_class WHERE relname = 'ivf_probes_idx';
SHOW ivf.probes;
SELECT ivf_probes_rows();
SELECT probes FROM ivf_index_info('ivf_probes_idx');
-- no rebuild
SELECT pg_relation_filenode('ivf_probes_idx') = :filenode AS same_filenode;

-- a session SET wins, even one equal to the default
SET ivf.probes = 2;
SELECT ivf_probes_rows();
SET ivf.probes = 8;
SELECT ivf_probes_rows();
-- SET LOCAL wins inside its transaction only
SET ivf.probes = 2;
BEGIN;
SET LOCAL ivf.probes = 3;
SELECT ivf_probes_rows();
COMMIT;
SELECT ivf_probes_rows();
-- RESET and SET ... TO DEFAULT give the index's option back
RESET ivf.probes;
SELECT ivf_probes_rows();
SET ivf.probes = 3;
SET ivf.probes TO DEFAULT;
SELECT ivf_probes_rows();
SELECT source FROM pg_settings WHERE name = 'ivf.probes';
-- set_config() and a function's SET clause are session settings too
SELECT set_config('ivf.probes', '2', false);
SELECT ivf_probes_rows();
RESET ivf.probes;
CREATE FUNCTION ivf_probes_rows_3() RETURNS bigint LANGUAGE sql SET ivf.probes = 3 AS $$
	SELECT count(*) FROM (SELECT id FROM ivf_probes_t ORDER BY v <-> '[100,50,20,0]' LIMIT 1000) s $$;
SELECT ivf_probes_rows_3(), ivf_probes_rows();

-- a value above the lists probes every list
ALTER INDEX ivf_probes_idx SET (probes = 100);
SELECT ivf_probes_rows();
ALTER INDEX ivf_probes_idx SET (probes = 1);

-- the option survives REINDEX and is part of the index's definition (pg_dump)
REINDEX INDEX ivf_probes_idx;
SELECT ivf_probes_rows();
SELECT pg_get_indexdef('ivf_probes_idx'::regclass);

-- ALTER INDEX ... SET (probes) takes the lock of other read-side options:
-- scans and writes go on
BEGIN;
ALTER INDEX ivf_probes_idx SET (probes = 2);
SELECT mode FROM pg_locks WHERE locktype = 'relation' AND relation = 'ivf_probes_idx'::regclass
	AND pid = pg_backend_pid();
ROLLBACK;
-- the same session sees its own change at once
BEGIN;
ALTER INDEX ivf_probes_idx SET (probes = 3);
SELECT ivf_probes_rows();
ROLLBACK;
SELECT ivf_probes_rows();

-- values: 0 is "unset" like the other options' 0; negative or above the
-- largest lists is refused
ALTER INDEX ivf_probes_idx SET (probes = 0);
SELECT ivf_probes_rows();
ALTER INDEX ivf_probes_idx SET (probes = -1);
ALTER INDEX ivf_probes_idx SET (probes = 100001);
ALTER INDEX ivf_probes_idx SET (probes = 'many');
ALTER INDEX ivf_probes_idx RESET (probes);
SELECT reloptions FROM pg_class WHERE relname = 'ivf_probes_idx';
SELECT ivf_probes_rows();

-- given at CREATE INDEX
DROP INDEX ivf_probes_idx;
CREATE TABLE ivf_probes_seed AS SELECT * FROM ivf_probes_t WHERE id <= 4;
DELETE FROM ivf_probes_t WHERE id <= 4;
-- rebuild the same four lists: the centroid rows first, then the rest
CREATE TABLE ivf_probes_rest AS SELECT * FROM ivf_probes_t;
TRUNCATE ivf_probes_t;
INSERT INTO ivf_probes_t SELECT * FROM ivf_probes_seed;
CREATE INDEX ivf_probes_idx ON ivf_probes_t USING ivf (v vector_l2_ops) WITH (lists = 4, probes = 2);
INSERT INTO ivf_probes_t SELECT * FROM ivf_probes_rest;
SELECT ivf_probes_rows();

-- server-side defaults (here ALTER DATABASE) are less specific than the index
SELECT current_database() AS dbname \gset
ALTER DATABASE :"dbname" SET ivf.probes = 3;
\c
SET enable_seqscan = off;
SET jit = off;
SHOW ivf.probes;
SELECT ivf_probes_rows();
-- (pg_settings lists the setting once the library is loaded)
SELECT source FROM pg_settings WHERE name = 'ivf.probes';
ALTER INDEX ivf_probes_idx RESET (probes);
SELECT ivf_probes_rows();
ALTER INDEX ivf_probes_idx SET (probes = 2);
ALTER DATABASE :"dbname" RESET ivf.probes;
-- ... while the client's connection options are the session's own
\c -reuse-previous=on "options=-civf.probes=1"
SET enable_seqscan = off;
SET jit = off;
SELECT ivf_probes_rows();
SELECT source FROM pg_settings WHERE name = 'ivf.probes';
\c -reuse-previous=on "options=''"
SET enable_seqscan = off;
SET jit = off;
SELECT ivf_probes_rows();

DROP TABLE ivf_probes_t, ivf_probes_seed, ivf_probes_rest;
DROP FUNCTION ivf_probes_rows();
DROP FUNCTION ivf_probes_rows_3();
