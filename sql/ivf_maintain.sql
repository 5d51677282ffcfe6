-- An index that maintains itself (issue 11 parts 1 and 2): an index built on
-- an empty table trains itself at VACUUM once the table holds enough rows; an
-- index whose rows drifted into a new region re-balances at ivf_maintain; in
-- both, every row stays in its nearest list (all lists probed = the table,
-- strict_order = the exact scan), and scans that started before the swap go
-- on reading the model they started with.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;
SET jit = off;

-- row i of cluster c in 16 dimensions, deterministic: clusters 0..19 and
-- 20..39 lie in two regions far apart along the first axis
CREATE FUNCTION ivf_maint_row(i int, c int) RETURNS vector LANGUAGE sql IMMUTABLE AS $$
	SELECT array_agg((CASE WHEN j = c % 16 + 1 THEN 4 * (c % 20 / 16 + 1) ELSE 0 END
					  + CASE WHEN c >= 20 AND j = 1 THEN 100 ELSE 0 END
					  + sin(i * 7.13 + j * 3.71))::real ORDER BY j)::vector(16)
	FROM generate_series(1, 16) j
$$;
CREATE FUNCTION ivf_maint_drain(c refcursor) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	n int := 0;
	r record;
BEGIN
	LOOP
		FETCH c INTO r;
		EXIT WHEN NOT FOUND;
		n := n + 1;
	END LOOP;
	RETURN n;
END
$$;

-- 1. self-training: built empty, loaded, VACUUM
CREATE TABLE ivf_maint_t (id int PRIMARY KEY, v vector(16));
ALTER TABLE ivf_maint_t SET (autovacuum_enabled = off);
CREATE INDEX ivf_maint_idx ON ivf_maint_t USING ivf (v);
INSERT INTO ivf_maint_t SELECT i, ivf_maint_row(i, i % 40) FROM generate_series(1, 20000) i;
SELECT lists, rows, trained, list_max, maintenance, maintenances FROM ivf_index_info('ivf_maint_idx');
VACUUM ivf_maint_t;
SELECT lists, rows, trained, lists_requested, trained_rows, maintenance, maintenances,
	   last_maintenance IS NOT NULL AS stamped
FROM ivf_index_info('ivf_maint_idx');
-- as balanced as a fresh build of the same rows
CREATE INDEX ivf_maint_fresh1 ON ivf_maint_t USING ivf (v);
SELECT m.list_max_ratio <= 1.5 * f.list_max_ratio AS as_balanced_as_fresh
FROM ivf_index_info('ivf_maint_idx') m, ivf_index_info('ivf_maint_fresh1') f;
DROP INDEX ivf_maint_fresh1;

-- every row is found with every list probed
SET enable_seqscan = off;
SET ivf.probes = 100;
SELECT count(*), count(DISTINCT id) FROM
	(SELECT id FROM ivf_maint_t ORDER BY v <-> ivf_maint_row(0, 3) LIMIT 100000) s;
-- strict_order at probes 1 equals the exact scan
SET ivf.probes = 1;
SET ivf.iterative_scan = strict_order;
CREATE TABLE ivf_maint_q AS SELECT q, ivf_maint_row(100000 + q, q * 7 % 40) AS v FROM generate_series(1, 10) q;
SELECT count(*) AS strict_equals_exact FROM ivf_maint_q q
WHERE ARRAY(SELECT id FROM ivf_maint_t t ORDER BY t.v <-> q.v LIMIT 10) =
	  ARRAY(SELECT id FROM (SELECT id, t.v <-> q.v AS d FROM ivf_maint_t t OFFSET 0) s ORDER BY d LIMIT 10);
RESET ivf.iterative_scan;
RESET enable_seqscan;

-- the replaced model is freed once no older snapshot can read it; then nothing is left to do
SELECT txid_current() > 0 AS advanced;
SELECT ivf_maintain('ivf_maint_idx');
SELECT ivf_maintain('ivf_maint_idx');
SELECT maintenance FROM ivf_index_info('ivf_maint_idx');

-- 2. drift: trained on 20 clusters, then 20 more arrive elsewhere
CREATE TABLE ivf_maint_drift (id int, v vector(16));
ALTER TABLE ivf_maint_drift SET (autovacuum_enabled = off);
INSERT INTO ivf_maint_drift SELECT i, ivf_maint_row(i, i % 20) FROM generate_series(1, 10000) i;
CREATE INDEX ivf_maint_drift_idx ON ivf_maint_drift USING ivf (v) WITH (lists = 20);
INSERT INTO ivf_maint_drift SELECT i, ivf_maint_row(i, 20 + i % 20) FROM generate_series(10001, 20000) i;
SELECT lists, rows, list_max_ratio > 4 AS unbalanced, maintenance FROM ivf_index_info('ivf_maint_drift_idx');
SELECT list_max_ratio AS ratio_before FROM ivf_index_info('ivf_maint_drift_idx') \gset
SET ivf.probes = 2;
SELECT ivf_recall('ivf_maint_drift_idx', 50) AS recall_before \gset
SELECT ivf_maintain('ivf_maint_drift_idx');
SELECT lists, rows, maintenance, maintenances FROM ivf_index_info('ivf_maint_drift_idx');
SELECT ivf_recall('ivf_maint_drift_idx', 50) AS recall_after \gset
-- a fresh REINDEX of the same rows, as the reference
CREATE TABLE ivf_maint_fresh AS SELECT * FROM ivf_maint_drift;
CREATE INDEX ivf_maint_fresh_idx ON ivf_maint_fresh USING ivf (v) WITH (lists = 20);
SELECT ivf_recall('ivf_maint_fresh_idx', 50) AS recall_fresh \gset
SELECT m.list_max_ratio < :ratio_before / 2 AS ratio_halved,
	   m.list_max_ratio <= 1.5 * f.list_max_ratio AS ratio_near_fresh,
	   :recall_after >= :recall_before - 0.02 AS recall_kept,
	   :recall_after >= :recall_fresh - 0.05 AS recall_near_fresh
FROM ivf_index_info('ivf_maint_drift_idx') m, ivf_index_info('ivf_maint_fresh_idx') f;
SET enable_seqscan = off;
SET ivf.probes = 20;
SELECT count(*), count(DISTINCT id) FROM
	(SELECT id FROM ivf_maint_drift ORDER BY v <-> ivf_maint_row(0, 30) LIMIT 100000) s;
RESET enable_seqscan;

-- 3. a scan that started before the swap reads the model it started with
-- (relaxed_order probes its later lists after the swap); the expression
-- index computes its values from the heap rows
CREATE TABLE ivf_maint_expr (id int, v vector(16));
ALTER TABLE ivf_maint_expr SET (autovacuum_enabled = off);
CREATE INDEX ivf_maint_expr_idx ON ivf_maint_expr USING ivf ((l2_normalize(v)::vector(16)) vector_l2_ops)
	WHERE id % 10 <> 0;
INSERT INTO ivf_maint_expr SELECT i, ivf_maint_row(i, i % 40) FROM generate_series(1, 3000) i;
SET enable_seqscan = off;
SET ivf.probes = 1;
SET ivf.iterative_scan = relaxed_order;
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM ivf_maint_expr WHERE id % 10 <> 0
	ORDER BY l2_normalize(v)::vector(16) <-> l2_normalize(ivf_maint_row(0, 5));
FETCH 5 FROM c;
SELECT ivf_maintain('ivf_maint_expr_idx');
SELECT ivf_maint_drain('c') AS rest;
COMMIT;
RESET ivf.iterative_scan;
SELECT lists, rows, trained FROM ivf_index_info('ivf_maint_expr_idx');
SET ivf.probes = 100;
SELECT count(*), count(DISTINCT id) FROM
	(SELECT id FROM ivf_maint_expr WHERE id % 10 <> 0
	 ORDER BY l2_normalize(v)::vector(16) <-> l2_normalize(ivf_maint_row(0, 5)) LIMIT 100000) s;
RESET enable_seqscan;
RESET ivf.probes;

-- 4. a maintenance that fails in VACUUM is a WARNING: the VACUUM goes on
-- (here the indexed expression raises while the heap rows are read again)
CREATE FUNCTION ivf_maint_fragile(v vector) RETURNS vector LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF current_setting('ivf_maint.fail', true) = 'on' THEN
		RAISE EXCEPTION 'ivf_maint_fragile fails';
	END IF;
	RETURN v;
END
$$;
CREATE TABLE ivf_maint_fragile_t (id int, v vector(16));
ALTER TABLE ivf_maint_fragile_t SET (autovacuum_enabled = off);
SET client_min_messages = warning;
CREATE INDEX ivf_maint_fragile_idx ON ivf_maint_fragile_t USING ivf ((ivf_maint_fragile(v)::vector(16)));
RESET client_min_messages;
INSERT INTO ivf_maint_fragile_t SELECT i, ivf_maint_row(i, i % 40) FROM generate_series(1, 1000) i;
DELETE FROM ivf_maint_fragile_t WHERE id <= 10;
SET ivf_maint.fail = on;
VACUUM ivf_maint_fragile_t;
SELECT lists, rows, trained, maintenance FROM ivf_index_info('ivf_maint_fragile_idx');
RESET ivf_maint.fail;
VACUUM ivf_maint_fragile_t;
SELECT lists, rows, trained FROM ivf_index_info('ivf_maint_fragile_idx');

-- 5. errors
SELECT ivf_maintain('ivf_maint_t');
SELECT ivf_maintain('ivf_maint_t_pkey');
CREATE TABLE ivf_maint_parted (id int, v vector(4)) PARTITION BY RANGE (id);
CREATE TABLE ivf_maint_parted_1 PARTITION OF ivf_maint_parted FOR VALUES FROM (0) TO (1000);
SET client_min_messages = warning;
CREATE INDEX ivf_maint_parted_idx ON ivf_maint_parted USING ivf (v);
RESET client_min_messages;
INSERT INTO ivf_maint_parted SELECT i, ARRAY[i, 1, 2, 3] FROM generate_series(1, 500) i;
SELECT ivf_maintain('ivf_maint_parted_idx');
SELECT ivf_maintain('ivf_maint_parted_1_v_idx');
DROP TABLE ivf_maint_parted;
CREATE ROLE ivf_maint_other;
SET ROLE ivf_maint_other;
SELECT ivf_maintain('ivf_maint_idx');
RESET ROLE;
DROP ROLE ivf_maint_other;

DROP TABLE ivf_maint_t, ivf_maint_q, ivf_maint_drift, ivf_maint_fresh, ivf_maint_expr, ivf_maint_fragile_t;
DROP FUNCTION ivf_maint_row(int, int), ivf_maint_drain(refcursor), ivf_maint_fragile(vector);
