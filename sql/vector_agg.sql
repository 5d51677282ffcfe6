-- avg(vector) and sum(vector), serial and parallel, and their state functions
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;

SELECT avg(v) FROM (VALUES ('[1,2,3]'::vector), ('[3,5,7]')) t(v);
SELECT avg(v) FROM (VALUES ('[1,2,3]'::vector), ('[3,5,7]'), (NULL)) t(v);
SELECT avg(v) FROM (VALUES ('[1]'::vector), ('[2]'), ('[2]')) t(v);
SELECT avg(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v);
SELECT avg(v) FROM (VALUES (NULL::vector)) t(v);
SELECT avg(v) FROM (SELECT '[1]'::vector WHERE false) t(v);
SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) t(v);

SELECT sum(v) FROM (VALUES ('[1,2,3]'::vector), ('[3,5,7]')) t(v);
SELECT sum(v) FROM (VALUES ('[1,2,3]'::vector), ('[3,5,7]'), (NULL)) t(v);
SELECT sum(v) FROM (VALUES (NULL::vector)) t(v);
SELECT sum(v) FROM (SELECT '[1]'::vector WHERE false) t(v);
SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v);
SELECT sum(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) t(v);

-- grouped
SELECT g, avg(v), sum(v), count(*)
FROM (VALUES (1, '[1,1]'::vector), (1, '[3,5]'), (2, '[10,20]'), (2, NULL)) t(g, v)
GROUP BY g ORDER BY g;

-- the state functions, called directly: {count, sums...}
SELECT vector_accum('{0}', '[1,2]');
SELECT vector_accum('{2,4,6}', '[1,2]');
SELECT vector_accum('{2,4,6}', '[1,2,3]');
SELECT vector_combine('{0}', '{2,4,6}');
SELECT vector_combine('{2,4,6}', '{0}');
SELECT vector_combine('{0}', '{0}');
SELECT vector_combine('{2,4,6}', '{1,1,1}');
SELECT vector_combine('{2,4,6}', '{1,1,1,1}');
SELECT vector_avg('{4,2,6}');
SELECT vector_avg('{0}');
SELECT vector_avg('{}');
SELECT vector_avg('{{1,2}}');
SELECT vector_avg('{1,NULL}');

-- parallel aggregation goes through vector_combine; results equal the serial ones
CREATE TABLE vagg_t (id int, v vector(3));
INSERT INTO vagg_t SELECT i, ARRAY[i % 7, i % 11, -(i % 13)] FROM generate_series(1, 20000) i;
ANALYZE vagg_t;
SELECT avg(v) AS serial_avg, sum(v) AS serial_sum FROM vagg_t;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v), sum(v) FROM vagg_t;
SELECT avg(v) AS parallel_avg, sum(v) AS parallel_sum FROM vagg_t;
-- parallel avg over no rows combines two empty states: NULL, not an error
-- (pgvector 0.8.6 raised "vector must have at least 1 dimension" here; fixed upstream)
EXPLAIN (COSTS OFF) SELECT avg(v) FROM vagg_t WHERE id + 0 < 0;
SELECT avg(v) IS NULL AS avg_of_nothing, sum(v) IS NULL AS sum_of_nothing FROM vagg_t WHERE id + 0 < 0;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE vagg_t;

-- no aggregate result is NaN or infinite (pgvector's errors): states from direct calls
SELECT vector_avg('{1,NaN,NaN}');
SELECT vector_avg('{1,1e300,1}');
SELECT vector_avg('{1,-Infinity}');
SELECT vector_avg('{2,6e38}');
SELECT vector_accum('{1,Infinity}', '[1]');
SELECT vector_accum('{1,1.7976931348623157e308}', '[3e38]') IS NOT NULL AS finite_sum_kept;
SELECT vector_combine('{1,1e308}', '{1,1e308}');
SELECT vector_combine('{1,-Infinity}', '{1,1}');
-- dimension mismatch and empty states, with pgvector's texts
SELECT vector_accum('{1,1}', '[1,2]');
SELECT vector_combine('{1,1}', '{1,1,1}');
SELECT vector_combine('{1}', '{0}');
SELECT vector_avg('{1}');
