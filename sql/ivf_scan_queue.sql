-- The candidate queue (src/core/candidates.h) heapifies only the rows that can
-- come out first once a probe holds more than 512: scans that read thousands
-- of rows and hand over a thousand return the sequential scan's distances in
-- its order, for quick keys (sq8 and flat L2), integer keys set aside, plain
-- bounds (inner product) and strict_order, with duplicate rows (equal bounds)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;
SET jit = off;

SELECT setseed(0.31);
CREATE TABLE ivf_queue_t (id int, v vector(8));
INSERT INTO ivf_queue_t
	SELECT i, array_agg(random() * 10 - 5 ORDER BY j)::vector
	FROM generate_series(1, 3000) i, generate_series(1, 8) j GROUP BY i ORDER BY i;
-- 200 duplicates: rows with equal bounds and equal distances
INSERT INTO ivf_queue_t SELECT id + 3000, v FROM ivf_queue_t WHERE id <= 200;
CREATE TABLE ivf_queue_q (qid int, v vector(8));
INSERT INTO ivf_queue_q
	SELECT i, array_agg(random() * 10 - 5 ORDER BY j)::vector
	FROM generate_series(1, 4) i, generate_series(1, 8) j GROUP BY i ORDER BY i;

-- the 1000 nearest rows of each query: distances in order, and the ids of the
-- rows nearer than the 1000th as a set (rows at that distance may swap places)
CREATE VIEW ivf_queue_l2 AS
	SELECT q.qid, s.dists,
		ARRAY(SELECT u.id FROM unnest(s.ids, s.dists) u(id, d) WHERE u.d < s.dists[1000] ORDER BY u.id) AS ids
	FROM ivf_queue_q q, LATERAL (
		SELECT array_agg(x.id) AS ids, array_agg(x.d) AS dists
		FROM (SELECT t.id, t.v <-> q.v AS d FROM ivf_queue_t t ORDER BY t.v <-> q.v LIMIT 1000) x) s;
CREATE VIEW ivf_queue_ip AS
	SELECT q.qid, s.dists,
		ARRAY(SELECT u.id FROM unnest(s.ids, s.dists) u(id, d) WHERE u.d < s.dists[1000] ORDER BY u.id) AS ids
	FROM ivf_queue_q q, LATERAL (
		SELECT array_agg(x.id) AS ids, array_agg(x.d) AS dists
		FROM (SELECT t.id, t.v <#> q.v AS d FROM ivf_queue_t t ORDER BY t.v <#> q.v LIMIT 1000) x) s;

SET enable_indexscan = off;
CREATE TABLE ivf_queue_exact AS
	SELECT 'l2' AS metric, * FROM ivf_queue_l2 UNION ALL SELECT 'ip', * FROM ivf_queue_ip;
RESET enable_indexscan;
SELECT metric, count(*) AS queries, min(cardinality(dists)) AS rows, min(cardinality(ids)) > 900 AS most_ids
	FROM ivf_queue_exact GROUP BY metric ORDER BY metric;

SET enable_seqscan = off;
SET ivf.probes = 4;

CREATE INDEX ivf_queue_idx ON ivf_queue_t USING ivf (v vector_l2_ops) WITH (lists = 4, quantizer = 'sq8');
SELECT 'l2 sq8' AS index, count(*) FILTER (WHERE e.dists = i.dists AND e.ids = i.ids) AS exact, count(*) AS queries
	FROM ivf_queue_exact e JOIN ivf_queue_l2 i USING (qid) WHERE e.metric = 'l2';
SET ivf.iterative_scan = strict_order;
SET ivf.probes = 1;
SELECT 'l2 sq8 strict_order' AS index, count(*) FILTER (WHERE e.dists = i.dists AND e.ids = i.ids) AS exact,
	count(*) AS queries
	FROM ivf_queue_exact e JOIN ivf_queue_l2 i USING (qid) WHERE e.metric = 'l2';
RESET ivf.iterative_scan;
SET ivf.probes = 4;
DROP INDEX ivf_queue_idx;
CREATE INDEX ivf_queue_idx ON ivf_queue_t USING ivf (v vector_l2_ops) WITH (lists = 4, quantizer = 'flat');
SELECT 'l2 flat' AS index, count(*) FILTER (WHERE e.dists = i.dists AND e.ids = i.ids) AS exact, count(*) AS queries
	FROM ivf_queue_exact e JOIN ivf_queue_l2 i USING (qid) WHERE e.metric = 'l2';
DROP INDEX ivf_queue_idx;
CREATE INDEX ivf_queue_idx ON ivf_queue_t USING ivf (v vector_ip_ops) WITH (lists = 4, quantizer = 'sq8');
SELECT 'ip sq8' AS index, count(*) FILTER (WHERE e.dists = i.dists AND e.ids = i.ids) AS exact, count(*) AS queries
	FROM ivf_queue_exact e JOIN ivf_queue_ip i USING (qid) WHERE e.metric = 'ip';
-- the index was used
EXPLAIN (COSTS OFF) SELECT id FROM ivf_queue_t ORDER BY v <#> '[1,2,3,4,5,6,7,8]' LIMIT 1000;

DROP TABLE ivf_queue_exact;
DROP VIEW ivf_queue_l2, ivf_queue_ip;
DROP TABLE ivf_queue_t, ivf_queue_q;
