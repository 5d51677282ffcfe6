-- CREATE INDEX at the edges of a production table (issue 10): statistics left
-- intact, extreme finite rows, memory bounds of the model, options ALTER INDEX
-- accepted but a rebuild cannot use, domains over vector(n)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;
SET jit = off;

-- pg_class.reltuples keeps the heap's row count after a partial index (as btree does)
CREATE TABLE ivf_lim_stats (c int, v vector(2));
INSERT INTO ivf_lim_stats SELECT i % 50, ARRAY[i, i % 7] FROM generate_series(1, 10000) i;
ANALYZE ivf_lim_stats;
CREATE INDEX ivf_lim_stats_idx ON ivf_lim_stats USING ivf (v vector_l2_ops) WITH (lists = 2) WHERE c = 22;
SELECT reltuples FROM pg_class WHERE relname = 'ivf_lim_stats';
SELECT rows FROM ivf_index_info('ivf_lim_stats_idx');
-- and the row count, not the indexed (non-NULL) rows, on a full index
UPDATE ivf_lim_stats SET v = NULL WHERE c < 25;
VACUUM ivf_lim_stats;
CREATE INDEX ivf_lim_stats_full ON ivf_lim_stats USING ivf (v vector_l2_ops) WITH (lists = 2);
SELECT reltuples FROM pg_class WHERE relname = 'ivf_lim_stats';
DROP TABLE ivf_lim_stats;

-- extreme but finite rows: every build loads, every later INSERT works, and an
-- index scan over all lists returns what the sequential scan returns
CREATE TABLE ivf_lim_big (id serial, v vector(4));
INSERT INTO ivf_lim_big (v) SELECT '[-3e38,-3e38,1,1]' FROM generate_series(1, 99);
INSERT INTO ivf_lim_big (v) VALUES ('[3e38,3e38,1,1]');
CREATE FUNCTION ivf_lim_check(opclass text, options text, query text) RETURNS TABLE (same_top2 bool, same_rows bool)
LANGUAGE plpgsql AS $$
DECLARE
	op text := CASE opclass WHEN 'vector_l2_ops' THEN '<->' WHEN 'vector_ip_ops' THEN '<#>' ELSE '<=>' END;
	seq_top int[];
	seq_all int[];
	idx_top int[];
	idx_all int[];
BEGIN
	EXECUTE format('CREATE INDEX ivf_lim_big_idx ON ivf_lim_big USING ivf (v %s) WITH (%s)', opclass, options);
	-- rows inserted after the build, extreme ones too
	INSERT INTO ivf_lim_big (v) VALUES ('[1,2,3,4]'), ('[1,2,3,5]'), ('[3.4e38,-3.4e38,3.4e38,1]'),
		('[-3.4028234e38,3.4028234e38,-1e-38,0]');
	SET LOCAL ivf.probes = 100;
	SET LOCAL enable_seqscan = off;
	EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM ivf_lim_big ORDER BY v %s %L LIMIT 2) s', op, query)
		INTO idx_top;
	EXECUTE format('SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM ivf_lim_big ORDER BY v %s %L LIMIT 1000) s',
				   op, query) INTO idx_all;
	SET LOCAL enable_seqscan = on;
	SET LOCAL enable_indexscan = off;
	EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM ivf_lim_big ORDER BY v %s %L LIMIT 2) s', op, query)
		INTO seq_top;
	EXECUTE format('SELECT array_agg(id ORDER BY id) FROM ivf_lim_big WHERE v %s %L IS NOT NULL', op, query)
		INTO seq_all;
	DROP INDEX ivf_lim_big_idx;
	DELETE FROM ivf_lim_big WHERE id > 100;
	RETURN QUERY SELECT idx_top = seq_top, idx_all = seq_all;
END $$;
SELECT * FROM ivf_lim_check('vector_l2_ops', 'lists = 1, quantizer = ''pq'', pq_m = 2', '[0,0,1,2]');
SELECT * FROM ivf_lim_check('vector_l2_ops', 'lists = 1, quantizer = ''pq'', pq_m = 2, residual = off', '[0,0,1,2]');
SELECT * FROM ivf_lim_check('vector_l2_ops', 'lists = 2, quantizer = ''pq'', pq_m = 4', '[0,0,1,2]');
SELECT * FROM ivf_lim_check('vector_ip_ops', 'lists = 1, quantizer = ''pq'', pq_m = 2', '[0,0,1,2]');
SELECT * FROM ivf_lim_check('vector_cosine_ops', 'lists = 2, quantizer = ''pq'', pq_m = 2', '[0,0,1,2]');
SELECT * FROM ivf_lim_check('vector_l2_ops', 'lists = 2', '[0,0,1,2]');
SELECT * FROM ivf_lim_check('vector_l2_ops', 'lists = 3, residual = off', '[0,0,1,2]');
SELECT * FROM ivf_lim_check('vector_ip_ops', 'lists = 2', '[0,0,1,2]');
SELECT * FROM ivf_lim_check('vector_cosine_ops', 'lists = 2', '[0,0,1,2]');
SELECT * FROM ivf_lim_check('vector_l2_ops', 'lists = 2, quantizer = ''flat''', '[0,0,1,2]');
SELECT * FROM ivf_lim_check('vector_ip_ops', 'lists = 2, quantizer = ''flat''', '[0,0,1,2]');
DROP FUNCTION ivf_lim_check;
DROP TABLE ivf_lim_big;

-- more lists than rows: the index keeps one centroid per row (at least one),
-- however many lists were asked for, so it stays small within maintenance_work_mem
SET maintenance_work_mem = '1MB';
CREATE TABLE ivf_lim_empty (v vector(2000));
CREATE INDEX ivf_lim_empty_idx ON ivf_lim_empty USING ivf (v vector_l2_ops) WITH (lists = 100000);
SELECT lists, rows FROM ivf_index_info('ivf_lim_empty_idx');
SELECT pg_relation_size('ivf_lim_empty_idx') < 100000 AS small;
SELECT reloptions FROM pg_class WHERE relname = 'ivf_lim_empty_idx';
INSERT INTO ivf_lim_empty SELECT array_fill(i, ARRAY[2000])::vector FROM generate_series(1, 3) i;
REINDEX INDEX ivf_lim_empty_idx;
SELECT lists, rows FROM ivf_index_info('ivf_lim_empty_idx');
SELECT pg_relation_size('ivf_lim_empty_idx') < 100000 AS small;
SET enable_seqscan = off;
SELECT subvector(v, 1, 2) FROM ivf_lim_empty ORDER BY v <-> array_fill(2.2, ARRAY[2000])::vector LIMIT 2;
RESET enable_seqscan;
DROP TABLE ivf_lim_empty;
-- an unlogged table's init fork has one list too
CREATE UNLOGGED TABLE ivf_lim_unlogged (v vector(2000));
CREATE INDEX ivf_lim_unlogged_idx ON ivf_lim_unlogged USING ivf (v vector_l2_ops) WITH (lists = 100000);
SELECT pg_relation_size('ivf_lim_unlogged_idx', 'init') < 100000 AS small_init_fork;
DROP TABLE ivf_lim_unlogged;
-- a model (centroids + codec) larger than maintenance_work_mem is refused before it is allocated
CREATE TABLE ivf_lim_wide (v vector(8000));
INSERT INTO ivf_lim_wide SELECT array_fill(i, ARRAY[8000])::vector FROM generate_series(1, 40) i;
CREATE INDEX ivf_lim_wide_idx ON ivf_lim_wide USING ivf (v vector_l2_ops) WITH (lists = 40);
DROP TABLE ivf_lim_wide;

-- an explicit sample cut to fit maintenance_work_mem says so, as the derived one does
CREATE TABLE ivf_lim_sample (v vector(1000));
INSERT INTO ivf_lim_sample SELECT array_fill(i % 10, ARRAY[1000])::vector FROM generate_series(1, 400) i;
CREATE INDEX ivf_lim_sample_idx ON ivf_lim_sample USING ivf (v vector_l2_ops) WITH (lists = 2, sample = 400);
SELECT trained_rows FROM ivf_index_info('ivf_lim_sample_idx');
DROP TABLE ivf_lim_sample;
RESET maintenance_work_mem;

-- options ALTER INDEX accepts but the dimension rules out: TRUNCATE and a
-- rebuild of an empty table warn and build a valid index; a build over rows refuses
CREATE TABLE ivf_lim_opts (id int, v vector(8));
CREATE INDEX ivf_lim_opts_idx ON ivf_lim_opts USING ivf (v vector_l2_ops) WITH (lists = 1);
ALTER INDEX ivf_lim_opts_idx SET (quantizer = 'pq', pq_m = 3);
TRUNCATE ivf_lim_opts;
SELECT quantizer, lists FROM ivf_index_info('ivf_lim_opts_idx');
VACUUM FULL ivf_lim_opts;
REINDEX TABLE ivf_lim_opts;
INSERT INTO ivf_lim_opts VALUES (1, '[1,2,3,4,5,6,7,8]'), (2, '[8,7,6,5,4,3,2,1]');
SET enable_seqscan = off;
SELECT id FROM ivf_lim_opts ORDER BY v <-> '[1,2,3,4,5,6,7,7]' LIMIT 1;
RESET enable_seqscan;
REINDEX INDEX ivf_lim_opts_idx;
TRUNCATE ivf_lim_opts;
-- pq_m without quantizer = 'pq'
ALTER INDEX ivf_lim_opts_idx SET (quantizer = 'sq8', pq_m = 4);
TRUNCATE ivf_lim_opts;
SELECT quantizer FROM ivf_index_info('ivf_lim_opts_idx');
-- the same options on CREATE INDEX are still an error, empty table or not
CREATE INDEX ivf_lim_opts_bad ON ivf_lim_opts USING ivf (v vector_l2_ops) WITH (quantizer = 'pq', pq_m = 3);
DROP TABLE ivf_lim_opts;
-- a quantizer whose entries cannot fit a page at this dimension
CREATE TABLE ivf_lim_flat (v vector(3000));
CREATE INDEX ivf_lim_flat_idx ON ivf_lim_flat USING ivf (v vector_l2_ops) WITH (lists = 1);
ALTER INDEX ivf_lim_flat_idx SET (quantizer = 'flat');
TRUNCATE ivf_lim_flat;
SELECT quantizer FROM ivf_index_info('ivf_lim_flat_idx');
INSERT INTO ivf_lim_flat SELECT array_fill(1, ARRAY[3000])::vector;
DROP TABLE ivf_lim_flat;

-- a column whose type is a domain over vector(n): the dimension comes from the domain
CREATE DOMAIN ivf_lim_embedding AS vector(3);
CREATE TABLE ivf_lim_domain (id int, v ivf_lim_embedding);
INSERT INTO ivf_lim_domain SELECT i, ARRAY[i, i % 5, 1] FROM generate_series(1, 50) i;
CREATE INDEX ivf_lim_domain_idx ON ivf_lim_domain USING ivf (v vector_l2_ops) WITH (lists = 2);
SELECT dims, rows FROM ivf_index_info('ivf_lim_domain_idx');
INSERT INTO ivf_lim_domain VALUES (51, '[7,2,1.5]');
SET enable_seqscan = off;
SET ivf.probes = 2;
SELECT id FROM ivf_lim_domain ORDER BY v <-> '[7,2,1]' LIMIT 2;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_lim_domain ORDER BY v <-> '[7,2,1]' LIMIT 2;
RESET ivf.probes;
RESET enable_seqscan;
-- a domain without a dimension is still refused
CREATE DOMAIN ivf_lim_anydim AS vector;
CREATE TABLE ivf_lim_anydim_t (v ivf_lim_anydim);
CREATE INDEX ON ivf_lim_anydim_t USING ivf (v vector_l2_ops);
DROP TABLE ivf_lim_domain, ivf_lim_anydim_t;
DROP DOMAIN ivf_lim_embedding, ivf_lim_anydim;
