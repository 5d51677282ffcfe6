-- Vector columns of new tables are stored inline and uncompressed when their
-- declared dimension fits a page; others keep the type's STORAGE main.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;

SELECT typstorage FROM pg_type WHERE typname = 'vector';

CREATE DOMAIN vec30 AS vector(30);
CREATE TABLE st (a vector(3), b vector(1900), c vector(1901), d vector, e vec30, f int);
ALTER TABLE st ADD COLUMN g vector(10);
CREATE TABLE st2 AS SELECT '[1,2]'::vector AS v, '[1,2]'::vector(2) AS w;
CREATE MATERIALIZED VIEW st_mv AS SELECT * FROM st2;
CREATE TABLE st_part (v vector(5)) PARTITION BY RANGE (v);
CREATE TABLE st_part1 PARTITION OF st_part FOR VALUES FROM (MINVALUE) TO (MAXVALUE);
SELECT attrelid::regclass, attname, attstorage
FROM pg_attribute
WHERE attrelid IN ('st'::regclass, 'st2'::regclass, 'st_mv'::regclass, 'st_part'::regclass, 'st_part1'::regclass)
  AND attnum > 0
ORDER BY attrelid::regclass::text, attnum;

-- plain columns hold compressible data uncompressed; main columns take any size
INSERT INTO st (b) SELECT array_fill(0, ARRAY[1900])::vector;
INSERT INTO st (c) SELECT array_fill(0, ARRAY[1901])::vector;
INSERT INTO st (d) SELECT array_fill(1.5, ARRAY[16000])::vector;
SELECT pg_column_size(b) AS b, pg_column_size(c) < 1000 AS c_compressed, vector_dims(d) AS d FROM st ORDER BY 1, 2, 3;

-- an explicit choice is kept
ALTER TABLE st ALTER COLUMN a SET STORAGE main;
SELECT attstorage FROM pg_attribute WHERE attrelid = 'st'::regclass AND attname = 'a';

DROP TABLE st, st2, st_part CASCADE;
DROP DOMAIN vec30;
