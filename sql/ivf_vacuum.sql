-- VACUUM's freed space is reused: delete-all / VACUUM / re-insert cycles
-- keep the index within 10 % of its built size (emptied pages go to the free
-- space map, inserts fill pages with room before linking a page), and every
-- row stays reachable through the index.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;
SET jit = off;

SELECT setseed(0.25);
CREATE TABLE ivf_vacuum_src AS
	SELECT i AS id, array_agg(random()::real ORDER BY j)::vector(16) AS v
	FROM generate_series(1, 20000) i, generate_series(1, 16) j GROUP BY i;
CREATE TABLE ivf_vacuum_t (id int, v vector(16));
ALTER TABLE ivf_vacuum_t SET (autovacuum_enabled = off);
INSERT INTO ivf_vacuum_t SELECT * FROM ivf_vacuum_src;
CREATE INDEX ivf_vacuum_idx ON ivf_vacuum_t USING ivf (v vector_l2_ops) WITH (lists = 20);
CREATE TABLE ivf_vacuum_sizes (step text, bytes bigint);
INSERT INTO ivf_vacuum_sizes VALUES ('built', pg_relation_size('ivf_vacuum_idx'));

-- three cycles re-inserting the same rows
DELETE FROM ivf_vacuum_t;
VACUUM ivf_vacuum_t;
INSERT INTO ivf_vacuum_t SELECT * FROM ivf_vacuum_src;
INSERT INTO ivf_vacuum_sizes VALUES ('cycle 1', pg_relation_size('ivf_vacuum_idx'));
DELETE FROM ivf_vacuum_t;
VACUUM ivf_vacuum_t;
INSERT INTO ivf_vacuum_t SELECT * FROM ivf_vacuum_src;
INSERT INTO ivf_vacuum_sizes VALUES ('cycle 2', pg_relation_size('ivf_vacuum_idx'));
DELETE FROM ivf_vacuum_t;
VACUUM ivf_vacuum_t;
INSERT INTO ivf_vacuum_t SELECT * FROM ivf_vacuum_src;
INSERT INTO ivf_vacuum_sizes VALUES ('cycle 3', pg_relation_size('ivf_vacuum_idx'));
-- a cycle of new rows, so the lists' sizes change
DELETE FROM ivf_vacuum_t;
VACUUM ivf_vacuum_t;
INSERT INTO ivf_vacuum_t
	SELECT i, array_agg(random()::real ORDER BY j)::vector(16)
	FROM generate_series(1, 20000) i, generate_series(1, 16) j GROUP BY i;
INSERT INTO ivf_vacuum_sizes VALUES ('cycle 4, new rows', pg_relation_size('ivf_vacuum_idx'));
-- half the rows deleted: their pages' room is reused by the next inserts
DELETE FROM ivf_vacuum_t WHERE id % 2 = 0;
VACUUM ivf_vacuum_t;
INSERT INTO ivf_vacuum_t
	SELECT i, array_agg(random()::real ORDER BY j)::vector(16)
	FROM generate_series(1, 20000, 2) i, generate_series(1, 16) j GROUP BY i;
INSERT INTO ivf_vacuum_sizes VALUES ('cycle 5, half', pg_relation_size('ivf_vacuum_idx'));

SELECT step, bytes <= 1.1 * (SELECT bytes FROM ivf_vacuum_sizes WHERE step = 'built') AS within_10_percent
FROM ivf_vacuum_sizes ORDER BY step;
SELECT rows FROM ivf_index_info('ivf_vacuum_idx');
SET enable_seqscan = off;
SET ivf.probes = 20;
SELECT count(*) AS via_index FROM (
	SELECT id FROM ivf_vacuum_t ORDER BY v <-> array_fill(0.5::real, ARRAY[16])::vector LIMIT 100000) s;
RESET enable_seqscan;

DROP TABLE ivf_vacuum_t, ivf_vacuum_src, ivf_vacuum_sizes;
