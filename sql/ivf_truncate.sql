-- TRUNCATE (and REINDEX or VACUUM FULL of an empty table) keeps an ivf
-- index's trained model: the rows that come back find their lists again,
-- instead of all landing in the one list of a build over no rows.  The model
-- is marked model_carried; no "untrained" NOTICE.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;
SET jit = off;

-- 20 well separated clusters in 8 dimensions: cluster c is centred at
-- 100 * (c + 1) on coordinate c % 8 + 1, shifted by 50 * (c / 8) on all.
-- The index is built from the 20 centres alone, so each centre is a list's
-- centroid; 100 rows per cluster follow, with ids 1..2000.
CREATE FUNCTION ivf_trunc_centre(c int, j int) RETURNS float8 LANGUAGE sql IMMUTABLE
	AS $$ SELECT 100.0 * (c + 1) * (j = c % 8 + 1)::int + 50 * (c / 8) + 0.5 $$;
CREATE FUNCTION ivf_trunc_load(tbl regclass, centres bool, rows bool) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF centres THEN
		EXECUTE format('INSERT INTO %s SELECT 10000 + c, array_agg(ivf_trunc_centre(c, j) ORDER BY j)::vector
			FROM generate_series(0, 19) c, generate_series(1, 8) j GROUP BY c ORDER BY c', tbl);
	END IF;
	IF rows THEN
		PERFORM setseed(0.25);
		EXECUTE format('INSERT INTO %s SELECT i, array_agg(ivf_trunc_centre(i %% 20, j) + random() - 0.5 ORDER BY j)::vector
			FROM generate_series(1, 2000) i, generate_series(1, 8) j GROUP BY i ORDER BY i', tbl);
	END IF;
END $$;
-- is every query's answer through the index (every list probed, then at
-- probes 1 under strict_order, filtered) the exact one, and every row found?
CREATE FUNCTION ivf_trunc_exact(tbl regclass, lists int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	q vector;
	got int[];
	want int[];
	bad int := 0;
	found int8;
	total int8;
BEGIN
	EXECUTE format('SELECT count(*) FROM %s', tbl) INTO total;
	FOR c IN 0..19 BY 3 LOOP
		SELECT array_agg(ivf_trunc_centre(c, j) + 0.3 * j ORDER BY j)::vector INTO q FROM generate_series(1, 8) j;
		PERFORM set_config('enable_seqscan', 'on', true);
		PERFORM set_config('enable_indexscan', 'off', true);
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %s ORDER BY v <-> $1 LIMIT 10) s', tbl) INTO want USING q;
		PERFORM set_config('enable_seqscan', 'off', true);
		PERFORM set_config('enable_indexscan', 'on', true);
		PERFORM set_config('ivf.probes', lists::text, true);
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %s ORDER BY v <-> $1 LIMIT 10) s', tbl) INTO got USING q;
		bad := bad + (got IS DISTINCT FROM want)::int;
		EXECUTE format('SELECT count(*) FROM (SELECT id FROM %s ORDER BY v <-> $1 LIMIT 100000) s', tbl) INTO found USING q;
		IF found <> total THEN
			RETURN format('found %s of %s rows', found, total);
		END IF;
		PERFORM set_config('enable_seqscan', 'on', true);
		PERFORM set_config('enable_indexscan', 'off', true);
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %s WHERE id %% 7 = 3 ORDER BY v <-> $1 LIMIT 10) s', tbl)
			INTO want USING q;
		PERFORM set_config('enable_seqscan', 'off', true);
		PERFORM set_config('enable_indexscan', 'on', true);
		PERFORM set_config('ivf.probes', '1', true);
		PERFORM set_config('ivf.iterative_scan', 'strict_order', true);
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %s WHERE id %% 7 = 3 ORDER BY v <-> $1 LIMIT 10) s', tbl)
			INTO got USING q;
		PERFORM set_config('ivf.iterative_scan', 'off', true);
		bad := bad + (got IS DISTINCT FROM want)::int;
	END LOOP;
	RETURN CASE WHEN bad = 0 THEN 'exact' ELSE bad || ' answers differ' END;
END $$;
CREATE FUNCTION ivf_trunc_state(idx regclass, OUT lists int, OUT rows int8, OUT trained bool,
								OUT model_carried bool, OUT list_min int8, OUT list_max int8)
	LANGUAGE sql AS $$ SELECT lists, rows, trained, model_carried, list_min, list_max FROM ivf_index_info(idx) $$;

-- sq8, L2
CREATE TABLE ivf_trunc_t (id int, v vector(8));
SELECT ivf_trunc_load('ivf_trunc_t', true, false);
CREATE INDEX ivf_trunc_idx ON ivf_trunc_t USING ivf (v vector_l2_ops) WITH (lists = 20);
SELECT ivf_trunc_load('ivf_trunc_t', false, true);
SELECT * FROM ivf_trunc_state('ivf_trunc_idx');
CREATE TABLE ivf_trunc_sizes AS SELECT * FROM ivf_list_sizes('ivf_trunc_idx');
SELECT ivf_trunc_exact('ivf_trunc_t', 20);

-- TRUNCATE keeps the 20 lists, trained, with no NOTICE; the same rows come
-- back into the same lists as before
TRUNCATE ivf_trunc_t;
SELECT * FROM ivf_trunc_state('ivf_trunc_idx');
SELECT lists_requested, trained_rows, build_device FROM ivf_index_info('ivf_trunc_idx');
SELECT ivf_trunc_load('ivf_trunc_t', true, true);
SELECT * FROM ivf_trunc_state('ivf_trunc_idx');
SELECT count(*) AS lists_unchanged FROM ivf_list_sizes('ivf_trunc_idx') s JOIN ivf_trunc_sizes o USING (list)
	WHERE s.rows = o.rows;
SELECT ivf_trunc_exact('ivf_trunc_t', 20);

-- ROLLBACK of a TRUNCATE leaves the old index as it was
BEGIN;
TRUNCATE ivf_trunc_t;
INSERT INTO ivf_trunc_t VALUES (-1, '[0,0,0,0,0,0,0,0]');
SELECT * FROM ivf_trunc_state('ivf_trunc_idx');
ROLLBACK;
SELECT * FROM ivf_trunc_state('ivf_trunc_idx');
SELECT ivf_trunc_exact('ivf_trunc_t', 20);
-- a TRUNCATE rolled back to a savepoint, then another; and a second TRUNCATE
-- in one transaction, which truncates the new file in place: still carried
BEGIN;
SAVEPOINT s;
TRUNCATE ivf_trunc_t;
ROLLBACK TO SAVEPOINT s;
TRUNCATE ivf_trunc_t;
SELECT * FROM ivf_trunc_state('ivf_trunc_idx');
SELECT ivf_trunc_load('ivf_trunc_t', false, true);
TRUNCATE ivf_trunc_t;
SELECT * FROM ivf_trunc_state('ivf_trunc_idx');
SELECT ivf_trunc_load('ivf_trunc_t', true, true);
COMMIT;
SELECT * FROM ivf_trunc_state('ivf_trunc_idx');
SELECT ivf_trunc_exact('ivf_trunc_t', 20);

-- REINDEX and VACUUM FULL of an empty table keep it too; REINDEX over rows trains anew
TRUNCATE ivf_trunc_t;
REINDEX INDEX ivf_trunc_idx;
SELECT * FROM ivf_trunc_state('ivf_trunc_idx');
VACUUM FULL ivf_trunc_t;
SELECT * FROM ivf_trunc_state('ivf_trunc_idx');
SELECT ivf_trunc_load('ivf_trunc_t', true, true);
REINDEX INDEX ivf_trunc_idx;
SELECT lists, rows, trained, model_carried, trained_rows FROM ivf_index_info('ivf_trunc_idx');

-- options altered since the build: the rebuild obeys them.  The same lists,
-- or no lists option: carried.  Other lists, or another quantizer: the model
-- does not fit, so the empty index is untrained (NOTICE), as before.
ALTER INDEX ivf_trunc_idx SET (lists = 20, probes = 4);
TRUNCATE ivf_trunc_t;
SELECT * FROM ivf_trunc_state('ivf_trunc_idx');
ALTER INDEX ivf_trunc_idx RESET (lists);
TRUNCATE ivf_trunc_t;
SELECT * FROM ivf_trunc_state('ivf_trunc_idx');
ALTER INDEX ivf_trunc_idx SET (quantizer = 'flat');
TRUNCATE ivf_trunc_t;
SELECT quantizer, lists, trained, model_carried FROM ivf_index_info('ivf_trunc_idx');
ALTER INDEX ivf_trunc_idx RESET (quantizer);
SELECT ivf_trunc_load('ivf_trunc_t', true, true);
REINDEX INDEX ivf_trunc_idx;
ALTER INDEX ivf_trunc_idx SET (lists = 7);
TRUNCATE ivf_trunc_t;
SELECT lists, lists_requested, trained, model_carried FROM ivf_index_info('ivf_trunc_idx');
DROP TABLE ivf_trunc_t, ivf_trunc_sizes;

-- pq under inner product, flat under cosine
CREATE TABLE ivf_trunc_pq (id int, v vector(8));
SELECT ivf_trunc_load('ivf_trunc_pq', true, false);
CREATE INDEX ivf_trunc_pq_idx ON ivf_trunc_pq USING ivf (v vector_ip_ops) WITH (lists = 20, quantizer = 'pq', pq_m = 4);
TRUNCATE ivf_trunc_pq;
SELECT * FROM ivf_trunc_state('ivf_trunc_pq_idx');
SELECT quantizer FROM ivf_index_info('ivf_trunc_pq_idx');
SELECT ivf_trunc_load('ivf_trunc_pq', true, true);
SELECT lists, rows, trained, list_max < 2020 AS spread FROM ivf_index_info('ivf_trunc_pq_idx');
SET enable_seqscan = off;
SET ivf.probes = 20;
SELECT count(*) FROM (SELECT id FROM ivf_trunc_pq ORDER BY v <#> '[1,2,3,4,5,6,7,8]' LIMIT 100000) s;
SELECT ARRAY(SELECT id FROM ivf_trunc_pq ORDER BY v <#> '[1,2,3,4,5,6,7,8]' LIMIT 10)
	= ARRAY(SELECT id FROM ivf_trunc_pq ORDER BY (v <#> '[1,2,3,4,5,6,7,8]') + 0 LIMIT 10) AS exact;
RESET enable_seqscan;
RESET ivf.probes;
DROP TABLE ivf_trunc_pq;

CREATE TABLE ivf_trunc_flat (id int, v vector(8));
SELECT ivf_trunc_load('ivf_trunc_flat', true, true);
CREATE INDEX ivf_trunc_flat_idx ON ivf_trunc_flat USING ivf (v vector_cosine_ops) WITH (lists = 20, quantizer = 'flat');
SELECT lists, trained FROM ivf_index_info('ivf_trunc_flat_idx');
CREATE TABLE ivf_trunc_sizes AS SELECT * FROM ivf_list_sizes('ivf_trunc_flat_idx');
TRUNCATE ivf_trunc_flat;
SELECT * FROM ivf_trunc_state('ivf_trunc_flat_idx');
SELECT ivf_trunc_load('ivf_trunc_flat', true, true);
SELECT count(*) AS lists_unchanged FROM ivf_list_sizes('ivf_trunc_flat_idx') s JOIN ivf_trunc_sizes o USING (list)
	WHERE s.rows = o.rows;
SET enable_seqscan = off;
SET ivf.probes = 20;
SELECT count(*) FROM (SELECT id FROM ivf_trunc_flat ORDER BY v <=> '[1,2,3,4,5,6,7,8]' LIMIT 100000) s;
SELECT ARRAY(SELECT id FROM ivf_trunc_flat ORDER BY v <=> '[1,2,3,4,5,6,7,8]' LIMIT 10)
	= ARRAY(SELECT id FROM ivf_trunc_flat ORDER BY (v <=> '[1,2,3,4,5,6,7,8]') + 0 LIMIT 10) AS exact;
RESET enable_seqscan;
RESET ivf.probes;
DROP TABLE ivf_trunc_flat, ivf_trunc_sizes;

-- partitions, CASCADE and RESTART IDENTITY: every partition's index and the
-- referencing table's index keep their models
CREATE TABLE ivf_trunc_parent (id int PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, v vector(8)) PARTITION BY RANGE (id);
CREATE TABLE ivf_trunc_p1 PARTITION OF ivf_trunc_parent FOR VALUES FROM (MINVALUE) TO (1001);
CREATE TABLE ivf_trunc_p2 PARTITION OF ivf_trunc_parent FOR VALUES FROM (1001) TO (MAXVALUE);
CREATE TABLE ivf_trunc_child (id int REFERENCES ivf_trunc_parent, v vector(8));
SELECT ivf_trunc_load('ivf_trunc_parent', false, true);
INSERT INTO ivf_trunc_child SELECT id, v FROM ivf_trunc_parent;
CREATE INDEX ivf_trunc_parent_idx ON ivf_trunc_parent USING ivf (v vector_l2_ops) WITH (lists = 10);
CREATE INDEX ivf_trunc_child_idx ON ivf_trunc_child USING ivf (v vector_l2_ops) WITH (lists = 10);
TRUNCATE ivf_trunc_parent RESTART IDENTITY CASCADE;
SELECT c.relname, s.* FROM pg_class c, ivf_trunc_state(c.oid) s
	WHERE c.relname IN ('ivf_trunc_p1_v_idx', 'ivf_trunc_p2_v_idx', 'ivf_trunc_child_idx') ORDER BY 1;
SELECT ivf_trunc_load('ivf_trunc_parent', false, true);
SELECT c.relname, s.lists, s.rows, s.list_max < s.rows AS spread FROM pg_class c, ivf_trunc_state(c.oid) s
	WHERE c.relname IN ('ivf_trunc_p1_v_idx', 'ivf_trunc_p2_v_idx') ORDER BY 1;
DROP TABLE ivf_trunc_child, ivf_trunc_parent;

-- an unlogged table: the main fork keeps the model (its init fork, which a
-- crash resets the index to, stays an untrained empty index)
CREATE UNLOGGED TABLE ivf_trunc_unlogged (id int, v vector(8));
SELECT ivf_trunc_load('ivf_trunc_unlogged', true, true);
CREATE INDEX ivf_trunc_unlogged_idx ON ivf_trunc_unlogged USING ivf (v vector_l2_ops) WITH (lists = 20);
TRUNCATE ivf_trunc_unlogged;
SELECT * FROM ivf_trunc_state('ivf_trunc_unlogged_idx');
SELECT ivf_trunc_load('ivf_trunc_unlogged', true, true);
SELECT ivf_trunc_exact('ivf_trunc_unlogged', 20);
DROP TABLE ivf_trunc_unlogged;

-- not carried: a temporary table (its pages are in local buffers), and a
-- TRUNCATE in the transaction that created the table (it truncates the
-- index's file in place, so no older file holds a model)
CREATE TEMP TABLE ivf_trunc_temp (id int, v vector(8));
SELECT ivf_trunc_load('ivf_trunc_temp', true, true);
CREATE INDEX ivf_trunc_temp_idx ON ivf_trunc_temp USING ivf (v vector_l2_ops) WITH (lists = 20);
-- (its NOTICE names the session's temporary schema)
SET client_min_messages = warning;
TRUNCATE ivf_trunc_temp;
RESET client_min_messages;
SELECT * FROM ivf_trunc_state('ivf_trunc_temp_idx');
DROP TABLE ivf_trunc_temp;
BEGIN;
CREATE TABLE ivf_trunc_new (id int, v vector(8));
SELECT ivf_trunc_load('ivf_trunc_new', true, true);
CREATE INDEX ivf_trunc_new_idx ON ivf_trunc_new USING ivf (v vector_l2_ops) WITH (lists = 20);
TRUNCATE ivf_trunc_new;
SELECT * FROM ivf_trunc_state('ivf_trunc_new_idx');
COMMIT;
DROP TABLE ivf_trunc_new;

DROP FUNCTION ivf_trunc_state(regclass), ivf_trunc_exact(regclass, int), ivf_trunc_load(regclass, bool, bool),
	ivf_trunc_centre(int, int);
