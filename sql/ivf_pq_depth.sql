-- PQ at default settings (ivf.pq_rerank = 0): the automatic re-rank depth.
-- Every metric returns rows in exact order with the exact distances, full
-- LIMIT 10 / 50 / 200 counts, the nearest rows, and fetches far fewer heap
-- rows than a scan that keeps every probed row (strict_order): LIMIT 10 and
-- 50 under 2/7 of them (a depth sized for the nearest 50 from their
-- estimates, rerank.h; the depth's first tuning fetched over 1/3 of them for
-- L2 and cosine); relaxed_order hands the rows the depth set aside over as
-- its next batch.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;
SET jit = off;

-- 3,000 rows x 64 dims in 30 clusters (deterministic: setseed + random())
SELECT setseed(0.42);
CREATE TABLE pqd_c AS
  SELECT c, array_agg(random() * 2 - 1 ORDER BY j)::float8[] AS m
  FROM generate_series(1, 30) c, generate_series(1, 64) j GROUP BY c;
CREATE TABLE pqd (id int PRIMARY KEY, v vector(64));
INSERT INTO pqd
  SELECT i, (SELECT array_agg(pqd_c.m[j] + 3 * (random() - 0.5) ORDER BY j) FROM generate_series(1, 64) j)::vector
  FROM generate_series(1, 3000) i JOIN pqd_c ON pqd_c.c = 1 + i % 30;
CREATE TABLE pqd_q AS
  SELECT id AS qid, v + array_fill(0.3::float8, ARRAY[64])::vector AS q FROM pqd WHERE id % 150 = 7;
ANALYZE pqd;

-- For each query: the index scan's rows (with the distance the query shows),
-- the exact seq scan's, and the heap rows the index scan fetched.
CREATE FUNCTION pqd_check(op text, k int, OUT queries int, OUT full_count bool, OUT ordered bool,
                          OUT exact_distances bool, OUT recall numeric, OUT fetched bigint)
LANGUAGE plpgsql AS $$
DECLARE
  r record;
  got int[];
  dist float8[];
  truth int[];
  before bigint;
  hits int := 0;
  total int := 0;
BEGIN
  queries := 0; full_count := true; ordered := true; exact_distances := true; fetched := 0;
  FOR r IN SELECT qid, q FROM pqd_q ORDER BY qid LOOP
    PERFORM set_config('enable_seqscan', 'off', true);
    before := pg_stat_get_xact_tuples_fetched('pqd_idx'::regclass);
    EXECUTE format('SELECT array_agg(id ORDER BY n), array_agg(d ORDER BY n) FROM (
                      SELECT id, v %s $1 AS d, row_number() OVER () AS n FROM (
                        SELECT id, v FROM pqd ORDER BY v %s $1 LIMIT %s) s) t', op, op, k)
      INTO got, dist USING r.q;
    fetched := fetched + pg_stat_get_xact_tuples_fetched('pqd_idx'::regclass) - before;
    PERFORM set_config('enable_seqscan', 'on', true);
    PERFORM set_config('enable_indexscan', 'off', true);
    EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM pqd ORDER BY v %s $1, id LIMIT %s) s', op, k)
      INTO truth USING r.q;
    -- the distances the index scan showed are the exact ones, row by row
    EXECUTE format('SELECT bool_and(abs((v %s $1) - $2[i]) <= 1e-12 * (1 + abs($2[i])))
                    FROM unnest($3) WITH ORDINALITY u(id, i) JOIN pqd USING (id)', op)
      INTO STRICT r USING r.q, dist, got;
    PERFORM set_config('enable_indexscan', 'on', true);
    queries := queries + 1;
    full_count := full_count AND coalesce(cardinality(got), 0) = k;
    exact_distances := exact_distances AND coalesce(r.bool_and, false);
    ordered := ordered AND NOT EXISTS (SELECT 1 FROM generate_series(1, cardinality(dist) - 1) i
                                       WHERE dist[i] > dist[i + 1]);
    hits := hits + (SELECT count(*) FROM unnest(got) g WHERE g = ANY (truth));
    total := total + k;
  END LOOP;
  recall := round(hits::numeric / total, 2);
END $$;

-- every metric, probing every list: default vs strict_order (every row kept)
CREATE FUNCTION pqd_metric(op text, opclass text, OUT k int, OUT full_count bool, OUT ordered bool,
                           OUT exact_distances bool, OUT recall_ok bool, OUT fetches_fewer bool,
                           OUT lean_to_50 bool)
RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
  d record;
  s record;
BEGIN
  EXECUTE 'DROP INDEX IF EXISTS pqd_idx';
  EXECUTE format('CREATE INDEX pqd_idx ON pqd USING ivf (v %s) WITH (lists = 10, quantizer = ''pq'', pq_m = 8)',
                 opclass);
  PERFORM set_config('ivf.probes', '10', true);
  FOREACH k IN ARRAY ARRAY[10, 50, 200] LOOP
    PERFORM set_config('ivf.iterative_scan', 'off', true);
    SELECT * INTO d FROM pqd_check(op, k);
    PERFORM set_config('ivf.iterative_scan', 'strict_order', true);
    SELECT * INTO s FROM pqd_check(op, k);
    PERFORM set_config('ivf.iterative_scan', 'off', true);
    full_count := d.full_count;
    ordered := d.ordered;
    exact_distances := d.exact_distances;
    -- strict_order returns the exact answer; the default its nearest rows
    recall_ok := s.recall = 1 AND d.recall >= CASE WHEN k = 10 THEN 0.95 ELSE 0.5 END;
    fetches_fewer := d.fetched * 2 < s.fetched;
    lean_to_50 := k > 50 OR d.fetched * 7 < s.fetched * 2;
    RAISE DEBUG 'k % default recall % fetched %, strict recall % fetched %', k, d.recall, d.fetched, s.recall, s.fetched;
    RETURN NEXT;
  END LOOP;
END $$;

SELECT * FROM pqd_metric('<->', 'vector_l2_ops');
SELECT * FROM pqd_metric('<#>', 'vector_ip_ops');
SELECT * FROM pqd_metric('<=>', 'vector_cosine_ops');

-- without a LIMIT: off hands over only the rows the depth keeps (the likely
-- nearest and those provably farther than them); relaxed_order then hands
-- the rest over as a next batch, so it returns every probed row
SET enable_seqscan = off;
SET ivf.probes = 10;
CREATE TEMP TABLE pqd_all AS
  SELECT (SELECT count(*) FROM (SELECT id FROM pqd ORDER BY v <=> q) s) AS n FROM pqd_q;
SET ivf.iterative_scan = relaxed_order;
CREATE TEMP TABLE pqd_relaxed AS
  SELECT (SELECT count(*) FROM (SELECT id FROM pqd ORDER BY v <=> q) s) AS n FROM pqd_q;
SELECT (SELECT max(n) < 3000 FROM pqd_all) AS off_keeps_fewer,
       (SELECT bool_and(n = 3000) FROM pqd_relaxed) AS relaxed_returns_all;
-- ivf.pq_rerank overrides the depth: at most R rows
SET ivf.iterative_scan = off;
SET ivf.pq_rerank = 30;
SELECT max((SELECT count(*) FROM (SELECT id FROM pqd ORDER BY v <=> q) s)) AS at_most_30 FROM pqd_q;
RESET ivf.pq_rerank;
RESET ivf.probes;
RESET enable_seqscan;
DROP TABLE pqd, pqd_c, pqd_q;
DROP FUNCTION pqd_metric, pqd_check;
