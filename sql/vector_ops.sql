-- vector distances, norms, arithmetic, concatenation, subvector
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;

-- L2 distance
SELECT l2_distance('[0,0]', '[3,4]');
SELECT l2_distance('[0,0]', '[0,1]');
SELECT l2_distance('[1,2,3]', '[1,2,3]');
SELECT round(l2_distance('[0.1,0.2]', '[0.3,0.5]')::numeric, 6);
SELECT l2_distance('[3e38]', '[-3e38]');
SELECT '[0,0]'::vector <-> '[3,4]';
SELECT vector_l2_squared_distance('[0,0]', '[3,4]');
SELECT l2_distance('[1,2]', '[3]');
SELECT '[1,2,3]'::vector <-> '[1,2,3,4]';

-- inner product and <#>, its negation
SELECT inner_product('[1,2]', '[3,4]');
SELECT inner_product('[1,2]', '[-3,4]');
SELECT inner_product('[3e38]', '[3e38]');
SELECT '[1,2]'::vector <#> '[3,4]';
SELECT vector_negative_inner_product('[1,2]', '[3,4]');
SELECT inner_product('[1,2]', '[3]');
SELECT '[1,2]'::vector <#> '[3]';

-- cosine distance: 1 - similarity, similarity clamped to [-1, 1]
SELECT cosine_distance('[1,2]', '[2,4]');
SELECT cosine_distance('[1,2]', '[0,0]');
SELECT cosine_distance('[0,0]', '[0,0]');
SELECT cosine_distance('[1,1]', '[1,1]');
SELECT cosine_distance('[1,0]', '[0,2]');
SELECT cosine_distance('[1,1]', '[-1,-1]');
SELECT cosine_distance('[1,2,3]', '[4,5,6]');
SELECT cosine_distance('[3e38]', '[3e38]');
-- float sums can put |similarity| a hair above 1 for parallel vectors: the clamp keeps
-- the distance within [0, 2] (the SIMD kernel decides which of these hit exactly 0 or 2)
WITH t AS (
  SELECT (SELECT array_agg((((t * 31 + i * 17) % 1000) / 1000.0 * 0.3 + 0.01 * i + 0.001)::real)
          FROM generate_series(0, t % 20) i)::vector AS a
  FROM generate_series(0, 999) t
), s AS (
  SELECT cosine_distance(a, a * array_fill(3, ARRAY[vector_dims(a)])::vector) AS same,
         cosine_distance(a, a * array_fill(-3, ARRAY[vector_dims(a)])::vector) AS opposite
  FROM t
)
SELECT min(same) AS min_same, max(same) < 1e-6 AS same_near_0,
       max(opposite) AS max_opposite, min(opposite) > 2 - 1e-6 AS opposite_near_2
FROM s;
SELECT '[1,2]'::vector <=> '[2,4]';
SELECT cosine_distance('[1,2]', '[3]');
SELECT '[1,2]'::vector <=> '[3]';

-- L1 (taxicab) distance
SELECT l1_distance('[0,0]', '[3,4]');
SELECT l1_distance('[0,0]', '[0,1]');
SELECT l1_distance('[1,-2,3]', '[-1,2,-3]');
SELECT l1_distance('[3e38]', '[-3e38]');
SELECT '[0,0]'::vector <+> '[3,4]';
SELECT l1_distance('[1,2]', '[3]');
SELECT '[1,2]'::vector <+> '[3]';

-- the operators are commutative and return double precision
SELECT o.oprname, o.oprresult::regtype, c.oprname AS commutator
FROM pg_operator o LEFT JOIN pg_operator c ON c.oid = o.oprcom
WHERE o.oprleft = 'vector'::regtype AND o.oprname IN ('<->', '<#>', '<=>', '<+>')
ORDER BY o.oprname;

-- distances over 1536 dimensions agree with double-precision reference sums
WITH v AS (
  SELECT array_agg(sin(i)::real ORDER BY i) AS a, array_agg(cos(i)::real ORDER BY i) AS b
  FROM generate_series(1, 1536) i
), ref AS (
  SELECT sqrt(sum((x - y) ^ 2)) AS l2, sum(x * y) AS ip, sum(abs(x - y)) AS l1,
         1 - sum(x * y) / sqrt(sum(x * x) * sum(y * y)) AS cos
  FROM v, unnest(a::float8[], b::float8[]) AS u(x, y)
)
SELECT abs(l2_distance(a::vector, b::vector) - l2) < 1e-4 AS l2_ok,
       abs(inner_product(a::vector, b::vector) - ip) < 1e-3 AS ip_ok,
       abs((a::vector <#> b::vector) + ip) < 1e-3 AS nip_ok,
       abs(cosine_distance(a::vector, b::vector) - cos) < 1e-5 AS cos_ok,
       abs(l1_distance(a::vector, b::vector) - l1) < 1e-2 AS l1_ok
FROM v, ref;

-- dims and norms
SELECT vector_dims('[1,2,3]');
SELECT vector_dims('[1]'::vector);
SELECT vector_norm('[3,4]');
SELECT vector_norm('[0,1]');
SELECT vector_norm('[0,0,0]');
SELECT vector_norm('[3e37,4e37]')::real;
SELECT vector_norm('[3e38,3e38]') > 3e38;
SELECT l2_normalize('[3,4]');
SELECT l2_normalize('[3,0]');
SELECT l2_normalize('[0.1,0]');
SELECT l2_normalize('[0,0]');
SELECT l2_normalize('[3e37,4e37]');
SELECT l2_normalize('[1e-45,0]');
SELECT vector_norm(l2_normalize('[1,2,3,4,5]')) BETWEEN 0.9999999 AND 1.0000001;

-- element-wise arithmetic
SELECT '[1,2,3]'::vector + '[4,5,6]';
SELECT '[3e38]'::vector + '[3e38]';
SELECT '[1,2]'::vector + '[3]';
SELECT '[1,2,3]'::vector - '[4,5,6]';
SELECT '[-3e38]'::vector - '[3e38]';
SELECT '[1,2]'::vector - '[3]';
SELECT '[1,2,3]'::vector * '[4,5,6]';
SELECT '[1,0,-2]'::vector * '[0,5,3]';
SELECT '[1e37]'::vector * '[1e37]';
SELECT '[1e-37]'::vector * '[1e-37]';
SELECT '[1,2]'::vector * '[3]';

-- concatenation
SELECT '[1,2]'::vector || '[3]';
SELECT '[1]'::vector || '[2]' || '[3,4]';
SELECT vector_dims(array_fill(1, ARRAY[15999])::vector || '[2]');
SELECT array_fill(1, ARRAY[16000])::vector || '[2]';

-- subvector(v, start, count): 1-based, clipped like substring()
SELECT subvector('[1,2,3,4,5]', 1, 3);
SELECT subvector('[1,2,3,4,5]', 3, 2);
SELECT subvector('[1,2,3,4,5]', 5, 1);
SELECT subvector('[1,2,3,4,5]', 3, 9);
SELECT subvector('[1,2,3,4,5]', 0, 3);
SELECT subvector('[1,2,3,4,5]', -1, 3);
SELECT subvector('[1,2,3,4,5]', 3, 2147483647);
SELECT subvector('[1,2,3,4,5]', -2147483644, 2147483647);
SELECT subvector('[1,2,3,4,5]', 1, 0);
SELECT subvector('[1,2,3,4,5]', 3, -1);
SELECT subvector('[1,2,3,4,5]', -1, 2);
SELECT subvector('[1,2,3,4,5]', 6, 1);
SELECT subvector('[1,2,3,4,5]', 2147483647, 10);
SELECT subvector('[1,2,3,4,5]', -2147483648, -2147483648);

-- every function is immutable, strict and parallel safe
SELECT p.proname, p.provolatile, p.proisstrict, p.proparallel
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
JOIN pg_extension e ON e.oid = d.refobjid
WHERE e.extname LIKE 'pg_ivf%' AND p.prokind = 'f'
  AND (p.proname LIKE '%vector%' OR p.proname IN ('l2_distance', 'inner_product', 'cosine_distance',
       'l1_distance', 'l2_normalize'))
  AND (p.provolatile <> 'i' OR NOT p.proisstrict OR p.proparallel <> 's');

-- vector_spherical_distance: angle / pi between unit vectors (pgvector's ivfflat support function)
SELECT vector_spherical_distance('[1,0]', '[0,1]');
SELECT vector_spherical_distance('[1,0]', '[1,0]');
SELECT vector_spherical_distance('[1,0]', '[-1,0]');
SELECT vector_spherical_distance('[2,0]', '[3,0]');
SELECT vector_spherical_distance('[0.6,0.8]', '[0.8,0.6]');
SELECT vector_spherical_distance('[1,0]', '[1]');

-- every vector result is finite: overflow is refused, with pgvector's errors
SELECT '[3e38]'::vector + '[3e38]';
SELECT '[-3e38]'::vector - '[3e38]';
SELECT '[3e38]'::vector * '[3e38]';
SELECT '[1e-30]'::vector * '[1e-30]';
SELECT sum(v) FROM (VALUES ('[3e38,1]'::vector), ('[3e38,1]')) t(v);
SELECT l2_normalize('[1e-45]');
SELECT l2_normalize('[3e38,3e38]');
SELECT l2_normalize('[-3e38,1e-45,0]');
SELECT subvector('[3e38,-3e38,1]', 1, 2);
-- subvector's edges, as pgvector
SELECT subvector('[1,2,3]', 0, 0);
SELECT subvector('[1,2,3]', 4, 1);
SELECT subvector('[1,2,3]', -2147483648, 2147483647);
SELECT subvector('[1,2,3]', 2147483647, 2147483647);
SELECT subvector('[1,2,3]', -5, 7);
SELECT subvector('[1,2,3]', 3, 2147483647);
