-- Re-balancing by splitting only the lists that grew (issue 11 part 2): rows
-- drift into a new region and pile up in a few lists; ivf_maintain splits
-- those lists (parts of about the average size, appended as new lists),
-- re-assigns their rows over all centroids and proves from their codes that
-- the other lists' rows stay.  Every row must still sit in its nearest
-- list: all lists probed find the table, strict_order equals the exact scan.
-- L2, inner product (MIPS reduction) and cosine.  Unchanged lists whose
-- rows all stay keep their chains: the new model's directory points at the
-- same pages ("N lists rewritten, M shared").
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;
SET jit = off;

-- row i of cluster c in 16 dimensions, deterministic: clusters 0..31 in one
-- region, 32..35 in another along the first axis
CREATE FUNCTION ivf_split_row(i int, c int) RETURNS vector LANGUAGE sql IMMUTABLE AS $$
	SELECT array_agg((CASE WHEN j = c % 16 + 1 THEN 4 * (c % 32 / 16 + 1) ELSE 0 END
					  + CASE WHEN c >= 32 AND j = 1 THEN 30 ELSE 0 END
					  + sin(i * 7.13 + j * 3.71))::real ORDER BY j)::vector(16)
	FROM generate_series(1, 16) j
$$;
CREATE TABLE ivf_split_t (id int, v vector(16));
ALTER TABLE ivf_split_t SET (autovacuum_enabled = off);
INSERT INTO ivf_split_t SELECT i, ivf_split_row(i, i % 32) FROM generate_series(1, 16000) i;
CREATE TABLE ivf_split_q AS
	SELECT q, ivf_split_row(100000 + q, (q * 7) % 36) AS v FROM generate_series(1, 12) q;

-- the checks after a split, for the index on the given operator
CREATE FUNCTION ivf_split_check(idx regclass, op text) RETURNS TABLE (rows_found bigint, distinct_rows bigint,
																	  strict_equals_exact bigint)
LANGUAGE plpgsql AS $$
DECLARE
	lists int;
BEGIN
	SELECT i.lists INTO lists FROM ivf_index_info(idx) i;
	SET LOCAL enable_seqscan = off;
	PERFORM set_config('ivf.probes', lists::text, true);
	EXECUTE format('SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM ivf_split_t
				   ORDER BY v %s ivf_split_row(0, 3) LIMIT 100000) s', op) INTO rows_found, distinct_rows;
	SET LOCAL ivf.probes = 1;
	SET LOCAL ivf.iterative_scan = strict_order;
	EXECUTE format('SELECT count(*) FROM ivf_split_q q
		WHERE ARRAY(SELECT id FROM ivf_split_t t ORDER BY t.v %1$s q.v LIMIT 10) =
			  ARRAY(SELECT id FROM (SELECT id, t.v %1$s q.v AS d FROM ivf_split_t t OFFSET 0) s
					ORDER BY d LIMIT 10)', op) INTO strict_equals_exact;
	RETURN NEXT;
END
$$;

-- 1. L2: trained on 32 clusters, then 5,000 rows arrive in a new region
CREATE INDEX ivf_split_l2 ON ivf_split_t USING ivf (v) WITH (lists = 32);
CREATE INDEX ivf_split_ip ON ivf_split_t USING ivf (v vector_ip_ops) WITH (lists = 32);
CREATE INDEX ivf_split_cos ON ivf_split_t USING ivf (v vector_cosine_ops) WITH (lists = 32);
INSERT INTO ivf_split_t SELECT i, ivf_split_row(i, 32 + i % 4) FROM generate_series(16001, 21000) i;
SELECT lists, rows, list_max_ratio > 4 AS unbalanced, maintenance FROM ivf_index_info('ivf_split_l2');
SELECT trained_rows AS trained_before FROM ivf_index_info('ivf_split_l2') \gset
SELECT ivf_maintain('ivf_split_l2');
-- the split keeps the model's training record
SELECT trained_rows = :trained_before AS training_record_kept FROM ivf_index_info('ivf_split_l2');
-- more lists, none above the threshold, still asked for 32 lists; the retired model is then freed
-- and nothing is left to do (the lists option is compared with the lists asked for, not grown ones)
SELECT lists > 32 AS grown, list_max_ratio < 4 AS balanced, lists_requested, maintenance, maintenances
FROM ivf_index_info('ivf_split_l2');
SELECT txid_current() > 0 AS advanced;
SELECT ivf_maintain('ivf_split_l2');
SELECT ivf_maintain('ivf_split_l2');
SELECT * FROM ivf_split_check('ivf_split_l2', '<->');

-- 2. inner product (the MIPS reduction keeps its M) and cosine
SELECT maintenance FROM ivf_index_info('ivf_split_ip');
SELECT ivf_maintain('ivf_split_ip') AS split_ip \gset
SELECT :'split_ip' LIKE 'split: %' AS split, substring(:'split_ip' from ', (\d+) shared')::int > 0 AS shares;
SELECT lists > 32 AS grown, list_max_ratio < 4 AS balanced, lists_requested FROM ivf_index_info('ivf_split_ip');
SELECT * FROM ivf_split_check('ivf_split_ip', '<#>');
SELECT maintenance FROM ivf_index_info('ivf_split_cos');
SELECT ivf_maintain('ivf_split_cos') AS split_cos \gset
SELECT :'split_cos' LIKE 'split: %' AS split, substring(:'split_cos' from ', (\d+) shared')::int > 0 AS shares;
SELECT lists > 32 AS grown, list_max_ratio < 4 AS balanced, lists_requested FROM ivf_index_info('ivf_split_cos');
SELECT * FROM ivf_split_check('ivf_split_cos', '<=>');

-- 3. inserts after a split go to the new lists; a VACUUM after deletes keeps every row findable
INSERT INTO ivf_split_t SELECT i, ivf_split_row(i, 32 + i % 4) FROM generate_series(21001, 21500) i;
DELETE FROM ivf_split_t WHERE id % 97 = 0;
VACUUM ivf_split_t;
SELECT * FROM ivf_split_check('ivf_split_l2', '<->');
SELECT * FROM ivf_split_check('ivf_split_ip', '<#>');
SELECT * FROM ivf_split_check('ivf_split_cos', '<=>');
SELECT count(*) FROM ivf_split_t;

-- 4. a changed lists option still re-trains, to the lists asked for
ALTER INDEX ivf_split_l2 SET (lists = 40);
SELECT maintenance FROM ivf_index_info('ivf_split_l2');
SELECT ivf_maintain('ivf_split_l2') LIKE 'retrain: 40 lists %' AS retrained;
SELECT lists, lists_requested FROM ivf_index_info('ivf_split_l2');

-- 5. TRUNCATE keeps a split model (its lists option asks for the lists the model was asked for)
ALTER INDEX ivf_split_ip SET (lists = 32);
TRUNCATE ivf_split_t;
SELECT lists > 32 AS split_lists, lists_requested, model_carried FROM ivf_index_info('ivf_split_ip');

-- 6. a shared chain's head page is never freed (a retired directory, read by
-- older scans, may point at it): after every row is deleted and vacuumed,
-- the shared lists keep one empty page each, the rewritten ones none; the
-- empty heads take rows again
INSERT INTO ivf_split_t SELECT i, ivf_split_row(i, i % 32) FROM generate_series(1, 16000) i;
CREATE INDEX ivf_split_heads ON ivf_split_t USING ivf (v) WITH (lists = 32);
INSERT INTO ivf_split_t SELECT i, ivf_split_row(i, 32 + i % 4) FROM generate_series(16001, 21000) i;
SELECT ivf_maintain('ivf_split_heads') AS split_heads \gset
SELECT substring(:'split_heads' from ', (\d+) shared')::int AS shared \gset
SELECT :shared > 0 AS shares;
DELETE FROM ivf_split_t;
VACUUM ivf_split_t;
SELECT count(*) FILTER (WHERE pages > 0) = :shared AS shared_heads_kept, max(pages) AS max_pages, sum(rows) AS rows
FROM ivf_list_sizes('ivf_split_heads');
INSERT INTO ivf_split_t SELECT i, ivf_split_row(i, i % 36) FROM generate_series(1, 3000) i;
SELECT * FROM ivf_split_check('ivf_split_heads', '<->');
SELECT sum(rows) AS rows, sum(pages) <= (SELECT lists FROM ivf_index_info('ivf_split_heads')) + 40 AS few_pages
FROM ivf_list_sizes('ivf_split_heads');

DROP TABLE ivf_split_t, ivf_split_q;
DROP FUNCTION ivf_split_row(int, int), ivf_split_check(regclass, text);
