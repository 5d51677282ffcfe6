-- comparison operators, vector_cmp and the default btree operator class
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;

-- elements decide first, then the number of dimensions
SELECT a, b, a < b AS lt, a <= b AS le, a = b AS eq, a <> b AS ne, a >= b AS ge, a > b AS gt,
       vector_cmp(a, b) AS cmp
FROM (VALUES ('[1,2,3]'::vector, '[1,2,3]'::vector),
             ('[1,2,3]', '[1,2,4]'),
             ('[1,2,4]', '[1,2,3]'),
             ('[1,2]', '[1,2,3]'),
             ('[1,2,3]', '[1,2]'),
             ('[1,3]', '[1,2,3]'),
             ('[-1]', '[1]'),
             ('[-0]', '[0]'),
             ('[0.1]', '[0.10000001]')) t(a, b);

-- sort order, DISTINCT and GROUP BY use the btree class
CREATE TABLE vbt_t (id serial, v vector);
INSERT INTO vbt_t (v) VALUES ('[1,2,3]'), ('[1,2]'), ('[0,5]'), ('[1,2,3]'), (NULL), ('[-1,9,9,9]'),
                             ('[1,2,3,0]'), ('[1,2]');
SELECT v FROM vbt_t ORDER BY v, id;
SELECT v FROM vbt_t ORDER BY v DESC NULLS LAST, id;
SELECT DISTINCT v FROM vbt_t ORDER BY v;
SELECT v, count(*) FROM vbt_t GROUP BY v ORDER BY v;
SELECT count(DISTINCT v) FROM vbt_t;
SELECT min(id), max(id) FROM vbt_t WHERE v = '[1,2]';

-- a btree index answers equality and range queries in the same order
CREATE INDEX vbt_t_v_idx ON vbt_t (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM vbt_t WHERE v = '[1,2,3]';
SELECT id FROM vbt_t WHERE v = '[1,2,3]' ORDER BY id;
SELECT v FROM vbt_t WHERE v > '[1,2]' ORDER BY v;
SELECT v FROM vbt_t WHERE v >= '[0,5]' AND v < '[1,2,3]' ORDER BY v;
EXPLAIN (COSTS OFF) SELECT v FROM vbt_t ORDER BY v;
SELECT v FROM vbt_t ORDER BY v;
RESET enable_seqscan;
DROP TABLE vbt_t;

-- UNIQUE constraints
CREATE TABLE vbt_u (v vector(2) UNIQUE);
INSERT INTO vbt_u VALUES ('[1,2]'), ('[2,1]'), (NULL), (NULL);
INSERT INTO vbt_u VALUES ('[1,2]');
INSERT INTO vbt_u VALUES ('[1.0,2.0]');
INSERT INTO vbt_u VALUES ('[1,2.0000002]');
SELECT v FROM vbt_u ORDER BY v;
DROP TABLE vbt_u;

-- btree order (index build and index scan) equals PostgreSQL's real[] order
CREATE TABLE vbt_big AS
  SELECT i, (CASE WHEN i % 3 = 0 THEN ARRAY[(i * 7919) % 11, (i * 104729) % 5]
                  ELSE ARRAY[(i * 7919) % 11, (i * 104729) % 5, i % 7 - 3] END)::vector AS v
  FROM generate_series(1, 5000) i;
CREATE INDEX vbt_big_v_idx ON vbt_big (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT v FROM vbt_big ORDER BY v;
SELECT (SELECT string_agg(v::text, ' ') FROM (SELECT v FROM vbt_big ORDER BY v) s)
     = (SELECT string_agg(v::text, ' ' ORDER BY v::real[]) FROM vbt_big) AS same_order;
RESET enable_seqscan;
DROP TABLE vbt_big;

-- the operator class is the default for btree
SELECT opcname, opcdefault FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
WHERE a.amname = 'btree' AND c.opcintype = 'vector'::regtype;
