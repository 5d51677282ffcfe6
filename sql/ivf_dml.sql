-- ivf indexes under INSERT, DELETE + VACUUM, UPDATE, TRUNCATE, REINDEX, and
-- filtered searches with and without iterative scans
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;
-- plans disabled by enable_* cost enough to trigger JIT compilation, which is slow
SET jit = off;

-- 10 well separated clusters; a row's category is its cluster c, centred at
-- 100 * c on coordinate c % 4 + 1, shifted by 50 * (c / 4) on all.  The index
-- is built from the 10 centres alone, so each centre is a list's centroid
-- whatever k-means' seeding; the 1000 rows inserted next join their cluster's list.
CREATE FUNCTION ivf_dml_centre(c int, j int) RETURNS float8 LANGUAGE sql IMMUTABLE
	AS $$ SELECT 100.0 * c * (j = c % 4 + 1)::int + 50 * (c / 4) + 0.5 $$;
CREATE TABLE ivf_dml_t (id int, category int, v vector(4));
INSERT INTO ivf_dml_t
	SELECT 2000 + c, c, array_agg(ivf_dml_centre(c, j) ORDER BY j)::vector
	FROM generate_series(0, 9) c, generate_series(1, 4) j GROUP BY c ORDER BY c;
CREATE INDEX ivf_dml_idx ON ivf_dml_t USING ivf (v vector_l2_ops) WITH (lists = 10);
SELECT setseed(0.44);
INSERT INTO ivf_dml_t
	SELECT i, i % 10, array_agg(ivf_dml_centre(i % 10, j) + random() - 0.5 ORDER BY j)::vector
	FROM generate_series(1, 1000) i, generate_series(1, 4) j GROUP BY i ORDER BY i;
SELECT rows, list_min, list_max FROM ivf_index_info('ivf_dml_idx');
SET enable_seqscan = off;
SET ivf.probes = 10;

-- the exact answer through a plain sort, for comparison
CREATE FUNCTION ivf_dml_exact(q vector, k int) RETURNS int[] LANGUAGE sql
	SET enable_seqscan = on SET enable_indexscan = off
	AS $$ SELECT ARRAY(SELECT id FROM ivf_dml_t ORDER BY v <-> q, id LIMIT k) $$;

-- inserts after the build are found
INSERT INTO ivf_dml_t VALUES (1001, 42, '[1000,1000,1000,1000]'), (1002, 42, '[1001,1000,1000,1000]');
SELECT id FROM ivf_dml_t ORDER BY v <-> '[1000,1000,1000,1002]' LIMIT 2;
SELECT rows FROM ivf_index_info('ivf_dml_idx');
SELECT ARRAY(SELECT id FROM ivf_dml_t ORDER BY v <-> '[300,50,0,0]' LIMIT 10)
	= ivf_dml_exact('[300,50,0,0]', 10) AS exact;

-- deleted rows vanish at once from results, and from the index at VACUUM
DELETE FROM ivf_dml_t WHERE id IN (1001, 1002) OR id % 10 = 3 AND id <= 500;
SELECT id FROM ivf_dml_t ORDER BY v <-> '[1000,1000,1000,1002]' LIMIT 1;
SELECT rows FROM ivf_index_info('ivf_dml_idx');
VACUUM (INDEX_CLEANUP ON) ivf_dml_t;
SELECT rows, (SELECT count(*) FROM ivf_dml_t) AS table_rows FROM ivf_index_info('ivf_dml_idx');
SELECT reltuples FROM pg_class WHERE relname = 'ivf_dml_idx';
SELECT ARRAY(SELECT id FROM ivf_dml_t ORDER BY v <-> '[300,50,0,0]' LIMIT 10)
	= ivf_dml_exact('[300,50,0,0]', 10) AS exact;
-- a VACUUM with nothing to remove still counts the entries
INSERT INTO ivf_dml_t VALUES (2001, 5, '[1,2,3,4]'), (2002, 5, '[4,3,2,1]');
VACUUM ivf_dml_t;
SELECT reltuples FROM pg_class WHERE relname = 'ivf_dml_idx';

-- updates: the new vector is found, the old one no longer is
UPDATE ivf_dml_t SET v = '[-500,-500,-500,-500]' WHERE id = 7;
SELECT id FROM ivf_dml_t ORDER BY v <-> '[-500,-500,-500,-499]' LIMIT 1;
SELECT count(*) FROM (SELECT id FROM ivf_dml_t ORDER BY v <-> '[0,0,0,700]' LIMIT 100) s WHERE id = 7;
UPDATE ivf_dml_t SET category = 99 WHERE id = 8;
SELECT id, category FROM ivf_dml_t WHERE category = 99 ORDER BY v <-> '[0,0,0,0]' LIMIT 5;
SELECT ARRAY(SELECT id FROM ivf_dml_t ORDER BY v <-> '[700,0,0,0]' LIMIT 10)
	= ivf_dml_exact('[700,0,0,0]', 10) AS exact;

-- filtered search: category 3 lives in one list, far from the query
SET ivf.probes = 1;
SET ivf.iterative_scan = off;
SELECT count(*) FROM (SELECT id FROM ivf_dml_t WHERE category = 3 ORDER BY v <-> '[0,0,0,0]' LIMIT 10) s;
SET ivf.iterative_scan = on;
SELECT count(*), min(category), max(category)
	FROM (SELECT id, category FROM ivf_dml_t WHERE category = 3 ORDER BY v <-> '[0,0,0,0]' LIMIT 10) s;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_dml_t WHERE category = 3 ORDER BY v <-> '[0,0,0,0]' LIMIT 10;
-- max_probes bounds the iterative scan: 1 list holds no category 3, all 10 do
SET ivf.max_probes = 1;
SELECT count(*) FROM (SELECT id FROM ivf_dml_t WHERE category = 3 ORDER BY v <-> '[0,0,0,0]' LIMIT 10) s;
SET ivf.max_probes = 10;
SELECT count(*) FROM (SELECT id FROM ivf_dml_t WHERE category = 3 ORDER BY v <-> '[0,0,0,0]' LIMIT 10) s;
-- a filter no row passes: the scan ends after every list
SELECT count(*) FROM (SELECT id FROM ivf_dml_t WHERE category = 12345 ORDER BY v <-> '[0,0,0,0]' LIMIT 10) s;
RESET ivf.max_probes;
RESET ivf.iterative_scan;
SET ivf.probes = 10;

-- REINDEX rebuilds from the live rows
REINDEX INDEX ivf_dml_idx;
SELECT rows, (SELECT count(*) FROM ivf_dml_t) AS table_rows FROM ivf_index_info('ivf_dml_idx');
SELECT ARRAY(SELECT id FROM ivf_dml_t ORDER BY v <-> '[0,0,0,100]' LIMIT 10)
	= ivf_dml_exact('[0,0,0,100]', 10) AS exact;

-- TRUNCATE leaves an empty index that keeps its trained lists and keeps working
TRUNCATE ivf_dml_t;
SELECT lists, rows, trained_rows FROM ivf_index_info('ivf_dml_idx');
INSERT INTO ivf_dml_t
	SELECT i, 0, array_agg(random() * 10 ORDER BY j)::vector
	FROM generate_series(1, 50) i, generate_series(1, 4) j GROUP BY i ORDER BY i;
SELECT rows FROM ivf_index_info('ivf_dml_idx');
SELECT ARRAY(SELECT id FROM ivf_dml_t ORDER BY v <-> '[5,5,5,5]' LIMIT 10)
	= ivf_dml_exact('[5,5,5,5]', 10) AS exact;
DROP TABLE ivf_dml_t;
DROP FUNCTION ivf_dml_exact(vector, int), ivf_dml_centre(int, int);

-- VACUUM hands the room it frees back to inserts: one list, every page full
CREATE TABLE ivf_dml_room (id int, v vector(8));
CREATE INDEX ivf_dml_room_idx ON ivf_dml_room USING ivf (v vector_l2_ops) WITH (lists = 1);
SELECT 8160 / bytes_per_row AS per_page FROM ivf_index_info('ivf_dml_room_idx') \gset
INSERT INTO ivf_dml_room SELECT i, ARRAY[i, 0, 0, 0, 0, 0, 0, 1]::vector FROM generate_series(1, 5 * :per_page) i;
SELECT rows, pages FROM ivf_list_sizes('ivf_dml_room_idx');
-- empty the oldest page (rows are appended in id order) and part of the next:
-- VACUUM unlinks the empty page and hands it to the free space map
DELETE FROM ivf_dml_room WHERE id <= :per_page + 10;
VACUUM (INDEX_CLEANUP ON) ivf_dml_room;
SELECT rows, pages FROM ivf_list_sizes('ivf_dml_room_idx');
SELECT pg_relation_size('ivf_dml_room_idx') AS room_bytes \gset
-- refilling those slots takes the free page back and adds none to the index
INSERT INTO ivf_dml_room SELECT i, ARRAY[i, 0, 0, 0, 0, 0, 0, 1]::vector FROM generate_series(1, :per_page) i;
SELECT rows, pages FROM ivf_list_sizes('ivf_dml_room_idx');
SELECT pg_relation_size('ivf_dml_room_idx') = :room_bytes AS same_size;
SELECT ARRAY(SELECT id FROM ivf_dml_room ORDER BY v <-> '[3.2,0,0,0,0,0,0,1]' LIMIT 3) AS nearest;
DROP TABLE ivf_dml_room;

RESET ivf.probes;
RESET enable_seqscan;
