-- Rows as build and insert prepare them (one path, IvfPrepareRow): under
-- cosine a row of tiny elements (1e-25: its float square underflows to zero)
-- still has a <=> distance for most queries, so a sequential scan returns
-- it, and so must the index, whether the row was there at CREATE INDEX or
-- came by INSERT.  Only a zero vector (<=> NaN for every query) is left out,
-- as pgvector leaves it out.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;
SET jit = off;

CREATE TABLE ivf_rows_t (id int, v vector(3));
INSERT INTO ivf_rows_t VALUES
	(1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0,0,1]'), (4, '[1,1,0]'),
	(5, '[1e-25,1e-25,1e-25]'), (6, '[-1e-25,2e-25,1e-25]');
SELECT v <=> '[1,1,1]' AS tiny_distance, v <=> '[1,-1,0]' AS tiny_nan FROM ivf_rows_t WHERE id = 5;
CREATE INDEX ivf_rows_idx ON ivf_rows_t USING ivf (v vector_cosine_ops) WITH (lists = 2);
SELECT rows FROM ivf_index_info('ivf_rows_idx');

CREATE TABLE ivf_rows_q (n int, q vector(3));
INSERT INTO ivf_rows_q VALUES (1, '[1,1,1]'), (2, '[1,-1,-1]'), (3, '[0.5,0.25,1]'), (4, '[1,-1,0]');

-- every row of the top 10 by a sort, and through the index with every list probed
CREATE FUNCTION ivf_rows_seq(q vector) RETURNS int[] LANGUAGE sql
	SET enable_seqscan = on SET enable_indexscan = off
	AS $$ SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM ivf_rows_t ORDER BY v <=> q LIMIT 10) s $$;
CREATE FUNCTION ivf_rows_index(q vector) RETURNS int[] LANGUAGE sql
	SET enable_seqscan = off SET enable_indexscan = on SET ivf.probes = 2
	AS $$ SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM ivf_rows_t ORDER BY v <=> q LIMIT 10) s $$;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_rows_t ORDER BY v <=> '[1,1,1]' LIMIT 10;
RESET enable_seqscan;

-- after CREATE INDEX
SELECT n, ivf_rows_seq(q) AS seq_scan, ivf_rows_index(q) AS index_scan FROM ivf_rows_q ORDER BY n;

-- after INSERT: more tiny rows
INSERT INTO ivf_rows_t VALUES (7, '[2e-25,1e-25,0]'), (8, '[0,0,-3e-25]');
SELECT rows FROM ivf_index_info('ivf_rows_idx');
SELECT n, ivf_rows_seq(q) AS seq_scan, ivf_rows_index(q) AS index_scan FROM ivf_rows_q ORDER BY n;

DROP TABLE ivf_rows_t, ivf_rows_q;
DROP FUNCTION ivf_rows_seq(vector), ivf_rows_index(vector);
