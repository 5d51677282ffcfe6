-- Where vector values live: the type is external (as pgvector's); new tables with
-- vector columns get a toast_tuple_target that keeps a row that fits a page inline
-- and uncompressed; columns' storage is never changed.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;

SELECT typstorage FROM pg_type WHERE typname = 'vector';

CREATE DOMAIN vec30 AS vector(30);
CREATE TABLE st (a vector(3), b vector(1900), f int);
CREATE TABLE st_dom (e vec30);
CREATE TABLE st_any (d vector);
CREATE TABLE st_novec (f int, t text);
CREATE TABLE st2 AS SELECT '[1,2]'::vector AS v, '[1,2]'::vector(2) AS w;
CREATE MATERIALIZED VIEW st_mv AS SELECT w FROM st2;
CREATE TABLE st_part (v vector(5)) PARTITION BY RANGE (v);
CREATE TABLE st_part1 PARTITION OF st_part FOR VALUES FROM (MINVALUE) TO (MAXVALUE);
SELECT relname, reloptions FROM pg_class
WHERE relname IN ('st', 'st_dom', 'st_any', 'st_novec', 'st2', 'st_mv', 'st_part', 'st_part1')
ORDER BY relname;
-- no column storage is changed
SELECT attrelid::regclass, attname, attstorage
FROM pg_attribute
WHERE attrelid IN ('st'::regclass, 'st_dom'::regclass, 'st_any'::regclass, 'st_part1'::regclass)
  AND attnum > 0
ORDER BY attrelid::regclass::text, attnum;

-- a row that fits a page stays inline and uncompressed; a bigger one is toasted
INSERT INTO st (b) SELECT array_fill(0, ARRAY[1900])::vector;
INSERT INTO st_any (d) SELECT array_fill(1.5, ARRAY[16000])::vector;
SELECT pg_column_size(b) AS b FROM st;
SELECT vector_dims(d), pg_column_size(d) FROM st_any;
SELECT pg_relation_size(reltoastrelid) AS st_toast_bytes FROM pg_class WHERE relname = 'st';

-- two embeddings in one row: accepted and read back (0.1.0: "row is too big")
CREATE TABLE st_two (id int, a vector(1536), b vector(1536));
INSERT INTO st_two SELECT 1, array_fill(0.5, ARRAY[1536]), array_fill(0.25, ARRAY[1536]);
INSERT INTO st_two SELECT 2, array_fill(1, ARRAY[1536]), array_fill(2, ARRAY[1536]);
SELECT id, vector_dims(a), vector_dims(b), a = array_fill(id * 0.5, ARRAY[1536])::vector AS a_ok,
	   b = array_fill(CASE id WHEN 1 THEN 0.25 ELSE 2 END, ARRAY[1536])::vector AS b_ok
FROM st_two ORDER BY id;
CREATE TABLE st_two1024 (a vector(1024), b vector(1024));
INSERT INTO st_two1024 SELECT array_fill(0.5, ARRAY[1024]), array_fill(0.25, ARRAY[1024]);
SELECT vector_dims(a) + vector_dims(b) AS dims FROM st_two1024;

-- an explicit choice is kept: column storage, and a table's own toast_tuple_target
ALTER TABLE st ALTER COLUMN a SET STORAGE main;
CREATE TABLE st_plain (v vector(3));
ALTER TABLE st_plain ALTER COLUMN v SET STORAGE plain;
CREATE TABLE st_target (v vector(784)) WITH (toast_tuple_target = 300);
SELECT attrelid::regclass, attstorage FROM pg_attribute
WHERE (attrelid, attname) IN (('st'::regclass, 'a'), ('st_plain'::regclass, 'v'))
ORDER BY 1;
SELECT reloptions FROM pg_class WHERE relname = 'st_target';
-- the trigger runs again for a later CREATE TABLE, and leaves st_target alone
CREATE TABLE st_later (v vector(784));
SELECT relname, reloptions FROM pg_class WHERE relname IN ('st_target', 'st_later') ORDER BY 1;

-- ivf.inline_storage = off leaves new tables untouched
SET ivf.inline_storage = off;
CREATE TABLE st_off (v vector(784));
SELECT reloptions FROM pg_class WHERE relname = 'st_off';
RESET ivf.inline_storage;

DROP TABLE st, st_dom, st_any, st_novec, st2, st_part, st_two, st_two1024, st_plain, st_target, st_later, st_off CASCADE;
DROP DOMAIN vec30;
