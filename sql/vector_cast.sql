-- casts between vector and integer[], real[], double precision[], numeric[]
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;

-- arrays to vector
SELECT ARRAY[1,2,3]::vector;
SELECT ARRAY[1.5,2.25,-3]::vector;
SELECT ARRAY[1,2,3]::real[]::vector;
SELECT ARRAY[1,2,3]::double precision[]::vector;
SELECT ARRAY[1,2,3]::numeric[]::vector;
SELECT '{0.1,0.2}'::real[]::vector;
SELECT '{0.1,0.2}'::double precision[]::vector;
SELECT '{0.1,0.2}'::numeric[]::vector;
SELECT '{16777217}'::integer[]::vector;
SELECT '{2147483647,-2147483648}'::integer[]::vector;
SELECT '{1e-46,-1e-46}'::double precision[]::vector;
SELECT '[2:4]={7,8,9}'::integer[]::vector;

-- with a type modifier
SELECT '{1,2,3}'::integer[]::vector(3);
SELECT '{1,2,3}'::real[]::vector(3);
SELECT '{1,2,3}'::double precision[]::vector(3);
SELECT '{1,2,3}'::numeric[]::vector(3);
SELECT '{1,2,3}'::integer[]::vector(2);
SELECT '{1,2,3}'::real[]::vector(2);
SELECT '{1,2,3}'::double precision[]::vector(4);
SELECT '{1,2,3}'::numeric[]::vector(4);

-- arrays that are not vectors
SELECT '{}'::real[]::vector;
SELECT '{}'::integer[]::vector(3);
SELECT '{NULL}'::real[]::vector;
SELECT '{1,NULL,3}'::integer[]::vector;
SELECT '{1,2,NULL}'::numeric[]::vector;
SELECT '{{1,2},{3,4}}'::real[]::vector;
SELECT '{{{1}}}'::integer[]::vector;
SELECT '{NaN}'::real[]::vector;
SELECT '{1,Infinity}'::real[]::vector;
SELECT '{-Infinity}'::double precision[]::vector;
SELECT '{NaN}'::numeric[]::vector;
SELECT '{Infinity}'::numeric[]::vector;
SELECT '{4e38}'::double precision[]::vector;
SELECT '{1,-4e38}'::double precision[]::vector;
SELECT '{4e38}'::numeric[]::vector;
SELECT array_agg(n)::vector FROM generate_series(1, 16001) n;
SELECT vector_dims(array_agg(n)::vector) FROM generate_series(1, 16000) n;

-- assignment casts: arrays convert when stored into a vector column
CREATE TABLE vcast_t (v vector(3));
INSERT INTO vcast_t VALUES (ARRAY[1,2,3]), (ARRAY[1.5,2.5,3.5]), ('{4,5,6}'::real[]);
INSERT INTO vcast_t VALUES (ARRAY[1,2]);
SELECT * FROM vcast_t ORDER BY v;
DROP TABLE vcast_t;

-- vector to real[] (implicit), and round trips
SELECT '[1,2,3]'::vector::real[];
SELECT '[0.1,-2.5,3e38]'::vector::real[];
SELECT array_length('[1,2,3,4]'::vector::real[], 1);
SELECT ('[1,2,3]'::vector::real[])[2];
SELECT unnest('[1,2,3]'::vector::real[]);
SELECT '[0.1,0.2,0.3]'::vector::real[]::vector = '[0.1,0.2,0.3]'::vector;
SELECT array_to_vector('{1,2,3}'::real[], 3, true);
SELECT array_to_vector('{1,2,3}'::real[], -1, false);
SELECT vector_to_float4('[1,2]', -1, false);

-- cast contexts match pgvector
SELECT c.castsource::regtype, c.casttarget::regtype, c.castcontext
FROM pg_cast c
WHERE c.castsource = 'vector'::regtype OR c.casttarget = 'vector'::regtype
ORDER BY c.castsource::regtype::text, c.casttarget::regtype::text;

-- non-finite elements and malformed arrays: pgvector's errors
SELECT ARRAY[1e300]::float8[]::vector;
SELECT ARRAY[-1e300]::float8[]::vector;
SELECT ARRAY['NaN']::float8[]::vector;
SELECT ARRAY['Infinity']::real[]::vector;
SELECT ARRAY['-Infinity']::float8[]::vector;
SELECT ARRAY['NaN']::numeric[]::vector;
SELECT ARRAY[1e39]::numeric[]::vector;
SELECT ARRAY[[1,2],[3,4]]::int[]::vector;
SELECT '{}'::int[]::vector;
SELECT ARRAY[1,NULL]::int[]::vector;
