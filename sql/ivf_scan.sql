-- ivf index scans: with every list probed, each operator class and quantizer
-- returns exactly the sequential-scan answer (same rows, same order, same
-- distances); plan shapes; prepared statements; degenerate and NULL queries
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;
-- plans disabled by enable_* cost enough to trigger JIT compilation, which is slow
SET jit = off;

SELECT setseed(0.22);
CREATE TABLE ivf_scan_t (id int, v vector(8));
INSERT INTO ivf_scan_t
	SELECT i, array_agg(random() * 10 - 5 ORDER BY j)::vector
	FROM generate_series(1, 500) i, generate_series(1, 8) j GROUP BY i ORDER BY i;
INSERT INTO ivf_scan_t VALUES (501, '[0,0,0,0,0,0,0,0]'), (502, NULL);
CREATE TABLE ivf_scan_q (qid int, v vector(8));
INSERT INTO ivf_scan_q
	SELECT i, array_agg(random() * 10 - 5 ORDER BY j)::vector
	FROM generate_series(1, 6) i, generate_series(1, 8) j GROUP BY i ORDER BY i;

-- the 10 nearest rows of each query, in order, with their distances
CREATE VIEW ivf_scan_l2 AS
	SELECT q.qid,
		ARRAY(SELECT t.id FROM ivf_scan_t t ORDER BY t.v <-> q.v LIMIT 10) AS ids,
		ARRAY(SELECT t.v <-> q.v FROM ivf_scan_t t ORDER BY t.v <-> q.v LIMIT 10) AS dists
	FROM ivf_scan_q q;
CREATE VIEW ivf_scan_ip AS
	SELECT q.qid,
		ARRAY(SELECT t.id FROM ivf_scan_t t ORDER BY t.v <#> q.v LIMIT 10) AS ids,
		ARRAY(SELECT t.v <#> q.v FROM ivf_scan_t t ORDER BY t.v <#> q.v LIMIT 10) AS dists
	FROM ivf_scan_q q;
CREATE VIEW ivf_scan_cosine AS
	SELECT q.qid,
		ARRAY(SELECT t.id FROM ivf_scan_t t ORDER BY t.v <=> q.v LIMIT 10) AS ids,
		ARRAY(SELECT t.v <=> q.v FROM ivf_scan_t t ORDER BY t.v <=> q.v LIMIT 10) AS dists
	FROM ivf_scan_q q;

-- the exact answers, without any index
SET enable_indexscan = off;
CREATE TABLE ivf_scan_exact AS
	SELECT 'l2' AS metric, * FROM ivf_scan_l2
	UNION ALL SELECT 'ip', * FROM ivf_scan_ip
	UNION ALL SELECT 'cosine', * FROM ivf_scan_cosine;
RESET enable_indexscan;
SELECT metric, count(*) AS queries, min(cardinality(ids)) AS min_rows FROM ivf_scan_exact GROUP BY metric ORDER BY metric;

SET enable_seqscan = off;
SET ivf.probes = 5;

-- l2
CREATE INDEX ivf_scan_idx ON ivf_scan_t USING ivf (v vector_l2_ops) WITH (lists = 5, quantizer = 'sq8');
EXPLAIN (COSTS OFF) SELECT * FROM ivf_scan_l2;
SELECT 'l2 sq8' AS index, count(*) FILTER (WHERE e.ids = i.ids AND e.dists = i.dists) AS exact, count(*) AS queries
	FROM ivf_scan_exact e JOIN ivf_scan_l2 i USING (qid) WHERE e.metric = 'l2';
DROP INDEX ivf_scan_idx;
CREATE INDEX ivf_scan_idx ON ivf_scan_t USING ivf (v vector_l2_ops) WITH (lists = 5, quantizer = 'pq');
SELECT 'l2 pq' AS index, count(*) FILTER (WHERE e.ids = i.ids AND e.dists = i.dists) AS exact, count(*) AS queries
	FROM ivf_scan_exact e JOIN ivf_scan_l2 i USING (qid) WHERE e.metric = 'l2';
DROP INDEX ivf_scan_idx;
CREATE INDEX ivf_scan_idx ON ivf_scan_t USING ivf (v vector_l2_ops) WITH (lists = 5, quantizer = 'flat');
SELECT 'l2 flat' AS index, count(*) FILTER (WHERE e.ids = i.ids AND e.dists = i.dists) AS exact, count(*) AS queries
	FROM ivf_scan_exact e JOIN ivf_scan_l2 i USING (qid) WHERE e.metric = 'l2';
DROP INDEX ivf_scan_idx;

-- inner product
CREATE INDEX ivf_scan_idx ON ivf_scan_t USING ivf (v vector_ip_ops) WITH (lists = 5, quantizer = 'sq8');
EXPLAIN (COSTS OFF) SELECT * FROM ivf_scan_ip;
SELECT 'ip sq8' AS index, count(*) FILTER (WHERE e.ids = i.ids AND e.dists = i.dists) AS exact, count(*) AS queries
	FROM ivf_scan_exact e JOIN ivf_scan_ip i USING (qid) WHERE e.metric = 'ip';
DROP INDEX ivf_scan_idx;
CREATE INDEX ivf_scan_idx ON ivf_scan_t USING ivf (v vector_ip_ops) WITH (lists = 5, quantizer = 'pq', pq_m = 4);
SELECT 'ip pq' AS index, count(*) FILTER (WHERE e.ids = i.ids AND e.dists = i.dists) AS exact, count(*) AS queries
	FROM ivf_scan_exact e JOIN ivf_scan_ip i USING (qid) WHERE e.metric = 'ip';
DROP INDEX ivf_scan_idx;
CREATE INDEX ivf_scan_idx ON ivf_scan_t USING ivf (v vector_ip_ops) WITH (lists = 5, quantizer = 'flat');
SELECT 'ip flat' AS index, count(*) FILTER (WHERE e.ids = i.ids AND e.dists = i.dists) AS exact, count(*) AS queries
	FROM ivf_scan_exact e JOIN ivf_scan_ip i USING (qid) WHERE e.metric = 'ip';
DROP INDEX ivf_scan_idx;

-- cosine
CREATE INDEX ivf_scan_idx ON ivf_scan_t USING ivf (v vector_cosine_ops) WITH (lists = 5, quantizer = 'sq8');
EXPLAIN (COSTS OFF) SELECT * FROM ivf_scan_cosine;
SELECT 'cosine sq8' AS index, count(*) FILTER (WHERE e.ids = i.ids AND e.dists = i.dists) AS exact, count(*) AS queries
	FROM ivf_scan_exact e JOIN ivf_scan_cosine i USING (qid) WHERE e.metric = 'cosine';
DROP INDEX ivf_scan_idx;
CREATE INDEX ivf_scan_idx ON ivf_scan_t USING ivf (v vector_cosine_ops) WITH (lists = 5, quantizer = 'pq', residual = false);
SELECT 'cosine pq' AS index, count(*) FILTER (WHERE e.ids = i.ids AND e.dists = i.dists) AS exact, count(*) AS queries
	FROM ivf_scan_exact e JOIN ivf_scan_cosine i USING (qid) WHERE e.metric = 'cosine';
DROP INDEX ivf_scan_idx;
CREATE INDEX ivf_scan_idx ON ivf_scan_t USING ivf (v vector_cosine_ops) WITH (lists = 5, quantizer = 'flat');
SELECT 'cosine flat' AS index, count(*) FILTER (WHERE e.ids = i.ids AND e.dists = i.dists) AS exact, count(*) AS queries
	FROM ivf_scan_exact e JOIN ivf_scan_cosine i USING (qid) WHERE e.metric = 'cosine';

-- a zero query has no cosine distance to anything: rows come back, all NaN
EXPLAIN (COSTS OFF) SELECT id FROM ivf_scan_t ORDER BY v <=> '[0,0,0,0,0,0,0,0]' LIMIT 5;
SELECT count(*) AS returned, count(*) FILTER (WHERE d = 'NaN') AS nan
	FROM (SELECT v <=> '[0,0,0,0,0,0,0,0]' AS d FROM ivf_scan_t ORDER BY v <=> '[0,0,0,0,0,0,0,0]' LIMIT 5) s;
DROP INDEX ivf_scan_idx;

-- plan shapes: the index serves ORDER BY <its operator> ASC ... LIMIT, nothing else
CREATE INDEX ivf_scan_idx ON ivf_scan_t USING ivf (v vector_l2_ops) WITH (lists = 5);
EXPLAIN (COSTS OFF) SELECT id FROM ivf_scan_t ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_scan_t WHERE id < 10;
EXPLAIN (COSTS OFF) SELECT count(*) FROM ivf_scan_t;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_scan_t ORDER BY v <#> '[1,2,3,4,5,6,7,8]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_scan_t ORDER BY v <-> '[1,2,3,4,5,6,7,8]' DESC LIMIT 10;
-- the answer through the index equals the exact one for a literal query too
SELECT ARRAY(SELECT id FROM ivf_scan_t ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 10) AS ids \gset
SET enable_seqscan = on;
SET enable_indexscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_scan_t ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 10;
SELECT ARRAY(SELECT id FROM ivf_scan_t ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 10) = :'ids' AS same_as_seqscan;
SET enable_seqscan = off;
RESET enable_indexscan;
-- a query of the wrong dimension
SELECT id FROM ivf_scan_t ORDER BY v <-> '[1,2,3]' LIMIT 1;

-- prepared statements, planned once and executed with different queries
SET plan_cache_mode = force_generic_plan;
PREPARE ivf_scan_p(int) AS
	SELECT ARRAY(SELECT t.id FROM ivf_scan_t t ORDER BY t.v <-> (SELECT q.v FROM ivf_scan_q q WHERE q.qid = $1) LIMIT 10)
		= (SELECT ids FROM ivf_scan_exact WHERE metric = 'l2' AND qid = $1) AS same;
EXPLAIN (COSTS OFF) EXECUTE ivf_scan_p(1);
EXECUTE ivf_scan_p(1);
EXECUTE ivf_scan_p(2);
EXECUTE ivf_scan_p(6);
PREPARE ivf_scan_v(vector) AS SELECT id FROM ivf_scan_t ORDER BY v <-> $1 LIMIT 3;
EXPLAIN (COSTS OFF) EXECUTE ivf_scan_v('[0,0,0,0,0,0,0,0]');
EXECUTE ivf_scan_v('[0,0,0,0,0,0,0,0]');
EXECUTE ivf_scan_v('[5,5,5,5,5,5,5,5]');
SET enable_seqscan = on;
SET enable_indexscan = off;
SELECT ARRAY(SELECT id FROM ivf_scan_t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 3) AS exact_origin,
	ARRAY(SELECT id FROM ivf_scan_t ORDER BY v <-> '[5,5,5,5,5,5,5,5]' LIMIT 3) AS exact_fives;
SET enable_seqscan = off;
RESET enable_indexscan;

-- a NULL query: every row is at a NULL distance; the index still returns rows
PREPARE ivf_scan_null(vector) AS
	SELECT count(*) AS returned, count(d) AS non_null
	FROM (SELECT v <-> $1 AS d FROM ivf_scan_t ORDER BY v <-> $1 LIMIT 5) s;
EXPLAIN (COSTS OFF) EXECUTE ivf_scan_null(NULL);
EXECUTE ivf_scan_null(NULL);
-- a literal NULL needs no index: ORDER BY a constant is dropped
EXPLAIN (COSTS OFF) SELECT id FROM ivf_scan_t ORDER BY v <-> NULL LIMIT 5;
DEALLOCATE ALL;
RESET plan_cache_mode;

RESET ivf.probes;
RESET enable_seqscan;
DROP VIEW ivf_scan_l2, ivf_scan_ip, ivf_scan_cosine;
DROP TABLE ivf_scan_t, ivf_scan_q, ivf_scan_exact;
