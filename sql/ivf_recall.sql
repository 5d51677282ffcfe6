-- recall@10 of ivf indexes on clustered data: 3000 rows x 16 dimensions
-- around 30 centres, 30 lists.  Measured with this data: recall 1.0 at the
-- default 8 probes for sq8, pq and flat (0.998 at 4, 0.934 at 2, 0.78-0.81 at 1);
-- the floors below leave a margin for changes in k-means or the codecs
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;
-- plans disabled by enable_* cost enough to trigger JIT compilation, which is slow
SET jit = off;

-- centre c, coordinate j: a fixed pseudo-random pattern in [-8, 8]
CREATE FUNCTION ivf_recall_centre(c int, j int) RETURNS float8
	LANGUAGE sql IMMUTABLE AS $$ SELECT 8 * sin(c * 12.9898 + j * 78.233) $$;

-- each row: its centre plus noise of about 1.5 per coordinate (a sum of three uniforms)
SELECT setseed(0.33);
CREATE TABLE ivf_recall_t (id int, v vector(16));
INSERT INTO ivf_recall_t
	SELECT i, array_agg(ivf_recall_centre(i % 30, j) + 3 * (random() + random() + random() - 1.5) ORDER BY j)::vector
	FROM generate_series(1, 3000) i, generate_series(1, 16) j GROUP BY i ORDER BY i;
CREATE TABLE ivf_recall_q (qid int, v vector(16));
INSERT INTO ivf_recall_q
	SELECT i, array_agg(ivf_recall_centre(i % 30, j) + 3 * (random() + random() + random() - 1.5) ORDER BY j)::vector
	FROM generate_series(1, 50) i, generate_series(1, 16) j GROUP BY i ORDER BY i;

CREATE VIEW ivf_recall_found AS
	SELECT q.qid, ARRAY(SELECT t.id FROM ivf_recall_t t ORDER BY t.v <-> q.v LIMIT 10) AS ids
	FROM ivf_recall_q q;
CREATE TABLE ivf_recall_exact AS SELECT * FROM ivf_recall_found;
-- recall@10 averaged over the queries
CREATE VIEW ivf_recall AS
	SELECT avg((SELECT count(*) FROM unnest(f.ids) AS x WHERE x = ANY (e.ids)) / 10.0) AS recall,
		count(*) AS queries
	FROM ivf_recall_found f JOIN ivf_recall_exact e USING (qid);

SET enable_seqscan = off;

CREATE INDEX ivf_recall_idx ON ivf_recall_t USING ivf (v vector_l2_ops) WITH (lists = 30, quantizer = 'sq8');
SHOW ivf.probes;
SELECT recall >= 0.95 AS recall_ok, queries FROM ivf_recall;
SET ivf.probes = 30;
SELECT recall = 1 AS all_lists_exact FROM ivf_recall;
-- one list is not enough on this data: probes matter
SET ivf.probes = 1;
SELECT recall < 0.9 AS one_list_misses FROM ivf_recall;
RESET ivf.probes;
DROP INDEX ivf_recall_idx;

CREATE INDEX ivf_recall_idx ON ivf_recall_t USING ivf (v vector_l2_ops) WITH (lists = 30, quantizer = 'pq');
SELECT recall >= 0.95 AS recall_ok, queries FROM ivf_recall;
SET ivf.probes = 30;
SELECT recall = 1 AS all_lists_exact FROM ivf_recall;
RESET ivf.probes;
DROP INDEX ivf_recall_idx;

CREATE INDEX ivf_recall_idx ON ivf_recall_t USING ivf (v vector_l2_ops) WITH (lists = 30, quantizer = 'flat');
SELECT recall >= 0.95 AS recall_ok, queries FROM ivf_recall;
SET ivf.probes = 30;
SELECT recall = 1 AS all_lists_exact FROM ivf_recall;
RESET ivf.probes;
DROP INDEX ivf_recall_idx;

RESET enable_seqscan;
DROP VIEW ivf_recall, ivf_recall_found;
DROP TABLE ivf_recall_t, ivf_recall_q, ivf_recall_exact;
DROP FUNCTION ivf_recall_centre(int, int);
