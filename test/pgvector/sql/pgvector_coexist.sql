-- pg_ivf_pgvector beside pgvector: ivf, hnsw and ivfflat indexes on the same
-- columns, every ivf feature through pgvector's types, the conflicts with
-- the standalone pg_ivf, and DROP EXTENSION leaving pgvector intact.
SELECT extname, extversion FROM pg_extension WHERE extname IN ('vector', 'pg_ivf_pgvector') ORDER BY 1;
SELECT e.extname, a.amname FROM pg_am a
JOIN pg_depend d ON d.classid = 'pg_am'::regclass AND d.objid = a.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid
WHERE e.extname IN ('vector', 'pg_ivf_pgvector') ORDER BY 1, 2;
SELECT opcname, opcintype::regtype, opcdefault FROM pg_opclass
WHERE opcmethod = (SELECT oid FROM pg_am WHERE amname = 'ivf') ORDER BY 1;
SELECT amvalidate(oid) FROM pg_opclass WHERE opcmethod = (SELECT oid FROM pg_am WHERE amname = 'ivf');
-- the GUCs and admin functions are there
SHOW ivf.probes;
SELECT count(*) FROM ivf_gpu_info();

CREATE TABLE docs (id int PRIMARY KEY, v vector(8), h halfvec(8));
INSERT INTO docs
SELECT i, x::vector(8), x::vector(8)::halfvec(8)
FROM (SELECT i, array_agg(sin(i * 3 + j * 5) * (1 + i % 4) ORDER BY j)::real[] AS x
      FROM generate_series(1, 300) i, generate_series(1, 8) j GROUP BY i) s;

-- ivf (default opclass: vector_l2_ops), hnsw and ivfflat on the same columns
CREATE INDEX docs_v_ivf ON docs USING ivf (v) WITH (lists = 4);
CREATE INDEX docs_v_hnsw ON docs USING hnsw (v vector_l2_ops);
CREATE INDEX docs_v_ivfflat ON docs USING ivfflat (v vector_l2_ops) WITH (lists = 4);
CREATE INDEX docs_h_ivf ON docs USING ivf (h halfvec_cosine_ops) WITH (lists = 4, quantizer = pq);
CREATE INDEX docs_h_hnsw ON docs USING hnsw (h halfvec_cosine_ops);
-- halfvec has no default ivf operator class, as for pgvector's ivfflat
CREATE INDEX ON docs USING ivf (h);
-- inserts go into every index
INSERT INTO docs
SELECT i, x::vector(8), x::vector(8)::halfvec(8)
FROM (SELECT i, array_agg(cos(i * 7 + j) * 3 ORDER BY j)::real[] AS x
      FROM generate_series(1001, 1020) i, generate_series(1, 8) j GROUP BY i) s;
SELECT rows FROM ivf_index_info('docs_v_ivf');
SELECT rows, quantizer, dims, metric FROM ivf_index_info('docs_h_ivf');
SELECT sum(rows) FROM ivf_list_sizes('docs_h_ivf');
-- ivf_recall and the probes option work on pgvector's types (every list
-- probed is exact); pgvector's indexes on the same columns are dropped in a
-- transaction, as ivf_recall's hint says, so that the planner takes ivf
ALTER INDEX docs_h_ivf SET (probes = 4);
BEGIN;
DROP INDEX docs_v_hnsw, docs_v_ivfflat, docs_h_hnsw;
SELECT ivf_recall('docs_h_ivf', 20, 5);
SELECT ivf_recall('docs_v_ivf', 20, 5) > 0.5 AS recall_measured;
ROLLBACK;

SET enable_seqscan = off;
SET ivf.probes = 4;
SET ivfflat.probes = 4;
SET hnsw.ef_search = 100;
-- Answers through one index at a time (the others dropped inside a
-- transaction that rolls back); all equal the sequential scan's.
BEGIN;
DROP INDEX docs_v_hnsw, docs_v_ivfflat;
EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY v <-> '[1,0,1,0,1,0,1,0]' LIMIT 5;
SELECT array_agg(id) AS ivf_ids FROM (SELECT id FROM docs ORDER BY v <-> '[1,0,1,0,1,0,1,0]' LIMIT 5) s \gset
ROLLBACK;
BEGIN;
DROP INDEX docs_v_ivf, docs_v_ivfflat;
EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY v <-> '[1,0,1,0,1,0,1,0]' LIMIT 5;
SELECT array_agg(id) AS hnsw_ids FROM (SELECT id FROM docs ORDER BY v <-> '[1,0,1,0,1,0,1,0]' LIMIT 5) s \gset
ROLLBACK;
BEGIN;
DROP INDEX docs_v_ivf, docs_v_hnsw;
EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY v <-> '[1,0,1,0,1,0,1,0]' LIMIT 5;
SELECT array_agg(id) AS ivfflat_ids FROM (SELECT id FROM docs ORDER BY v <-> '[1,0,1,0,1,0,1,0]' LIMIT 5) s \gset
ROLLBACK;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT array_agg(id) AS seq_ids FROM (SELECT id FROM docs ORDER BY v <-> '[1,0,1,0,1,0,1,0]', id LIMIT 5) s \gset
RESET enable_indexscan;
-- ivf and ivfflat (every list probed) are exact; hnsw is approximate
SELECT :'ivf_ids' = :'seq_ids' AS ivf_exact, :'ivfflat_ids' = :'seq_ids' AS ivfflat_exact,
	   cardinality(ARRAY(SELECT unnest(:'hnsw_ids'::int[]) INTERSECT SELECT unnest(:'seq_ids'::int[]))) >= 4 AS hnsw_works;

-- halfvec: ivf and hnsw on one column; the ivf answer is the exact one
SET enable_seqscan = off;
BEGIN;
DROP INDEX docs_h_hnsw;
EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY h <=> '[1,2,3,4,5,6,7,8]' LIMIT 5;
SELECT array_agg(id) AS h_ivf_ids FROM (SELECT id FROM docs ORDER BY h <=> '[1,2,3,4,5,6,7,8]' LIMIT 5) s \gset
ROLLBACK;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT array_agg(id) AS h_seq_ids FROM (SELECT id FROM docs ORDER BY h <=> '[1,2,3,4,5,6,7,8]', id LIMIT 5) s \gset
SELECT :'h_ivf_ids' = :'h_seq_ids' AS halfvec_ivf_exact;
RESET enable_indexscan;

-- errors: pgvector's texts for a wrong dimension
INSERT INTO docs VALUES (9999, '[1,2,3]', NULL);
INSERT INTO docs VALUES (9999, NULL, '[1,2,3]');
SET enable_seqscan = off;
SELECT id FROM docs ORDER BY h <=> '[1,2,3]' LIMIT 1;
RESET enable_seqscan;
-- a domain over halfvec(n) carries the dimension
CREATE DOMAIN emb AS halfvec(8);
CREATE TABLE dom (e emb);
INSERT INTO dom SELECT h FROM docs WHERE id <= 50;
CREATE INDEX ON dom USING ivf (e halfvec_l2_ops) WITH (lists = 2);
-- a type ivf cannot read is refused even with a user-made operator class
CREATE OPERATOR CLASS sparsevec_l2_ops FOR TYPE sparsevec USING ivf AS
	OPERATOR 1 <-> (sparsevec, sparsevec) FOR ORDER BY float_ops,
	FUNCTION 1 ivf_metric_l2(internal);
CREATE TABLE sp (s sparsevec(8));
INSERT INTO sp VALUES ('{1:1,3:2}/8');
CREATE INDEX ON sp USING ivf (s sparsevec_l2_ops);
DROP TABLE sp;
DROP OPERATOR CLASS sparsevec_l2_ops USING ivf;
DROP OPERATOR FAMILY sparsevec_l2_ops USING ivf;

-- Dimensions beyond pgvector's own index limits (halfvec 4,000): rows are
-- stored as float, so the limits are the vector's (sq8 8,148, flat 2,037).
CREATE TABLE wide (h halfvec(6000));
INSERT INTO wide SELECT array_fill(i::real / 7, ARRAY[6000])::halfvec FROM generate_series(1, 3) i;
CREATE INDEX wide_sq8 ON wide USING ivf (h halfvec_l2_ops) WITH (lists = 1);
SELECT dims, bytes_per_row FROM ivf_index_info('wide_sq8');
CREATE INDEX ON wide USING ivf (h halfvec_l2_ops) WITH (lists = 1, quantizer = flat);
CREATE INDEX ON wide USING hnsw (h halfvec_l2_ops);  -- pgvector's own limit, for contrast
DROP TABLE wide;

-- The standalone pg_ivf cannot join: its type is named vector, and even in
-- another schema its access method ivf exists already.  Nothing is left behind.
CREATE EXTENSION pg_ivf;
CREATE SCHEMA other;
CREATE EXTENSION pg_ivf SCHEMA other;
SELECT count(*) FROM pg_type WHERE typnamespace = 'other'::regnamespace;
DROP SCHEMA other;
CREATE EXTENSION pg_ivf_pgvector;

-- DROP EXTENSION: refused while ivf indexes exist; CASCADE drops them only.
\set VERBOSITY terse
DROP EXTENSION pg_ivf_pgvector;
SET client_min_messages = warning;
DROP EXTENSION pg_ivf_pgvector CASCADE;
RESET client_min_messages;
\set VERBOSITY default
SELECT indexrelid::regclass, am.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am am ON am.oid = c.relam WHERE indrelid = 'docs'::regclass ORDER BY 1::text;
SELECT count(*), count(v), count(h) FROM docs;
SET enable_seqscan = off;
SET hnsw.ef_search = 100;
EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY h <=> '[1,2,3,4,5,6,7,8]' LIMIT 5;
SELECT cardinality(ARRAY(SELECT unnest(array_agg(id)) INTERSECT SELECT unnest(:'h_seq_ids'::int[]))) >= 4 AS hnsw_works_after_drop
FROM (SELECT id FROM docs ORDER BY h <=> '[1,2,3,4,5,6,7,8]' LIMIT 5) s;
SELECT extname FROM pg_extension WHERE extname IN ('vector', 'pg_ivf_pgvector');
-- and it installs again over the same data
CREATE EXTENSION pg_ivf_pgvector;
CREATE INDEX ON docs USING ivf (v vector_cosine_ops) WITH (lists = 4);
EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY v <=> '[1,2,3,4,5,6,7,8]' LIMIT 3;
RESET enable_seqscan;
DROP TABLE docs, dom;
DROP DOMAIN emb;
