-- vector text I/O, type modifiers and the binary send format
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;

-- accepted forms; output is the shortest decimal that reads back exactly
SELECT '[1,2,3]'::vector;
SELECT '[-1,-2,-3]'::vector;
SELECT '[1.,2.,3.]'::vector;
SELECT ' [ 1,  2 ,    3  ] '::vector;
SELECT E'\t[\n1 ,\r2\f,\x0b3]\n'::vector;
-- a vertical tab is whitespace in every position, as in pgvector
SELECT s, replace(s, 'V', chr(11))::vector
FROM (VALUES ('V[1]'), ('[V1]'), ('[1V]'), ('[1V,2]'), ('[1,V2]'), ('[1]V'), ('V[V1V,V2V]V')) t(s);
SELECT '[1.23456]'::vector;
SELECT '[0.1,0.2,0.3]'::vector;
SELECT '[1e-3,1e3,1.5e+10,-2.5E-7]'::vector;
SELECT '[3.4028235e38,-3.4028235e38]'::vector;
SELECT '[1.17549435e-38,1e-45]'::vector;
SELECT '[1e-46]'::vector;
SELECT '[-0,0]'::vector;
SELECT '[16777217]'::vector;
SELECT '[0.1]'::vector::text = '[0.1]';
SELECT '[1,2,3]'::vector = '[1.0,2.0,3.0]'::vector;

-- non-finite and out-of-range elements
SELECT '[NaN,1]'::vector;
SELECT '[1,nan]'::vector;
SELECT '[Infinity]'::vector;
SELECT '[-inf,1]'::vector;
SELECT '[1e39]'::vector;
SELECT '[1,-4e38]'::vector;

-- malformed literals
SELECT '[]'::vector;
SELECT '[ ]'::vector;
SELECT '[1,]'::vector;
SELECT '[1,,3]'::vector;
SELECT '[,1]'::vector;
SELECT '1,2,3'::vector;
SELECT '(1,2,3)'::vector;
SELECT '{1,2,3}'::vector;
SELECT ''::vector;
SELECT '['::vector;
SELECT '[1,2'::vector;
SELECT '[1,2,'::vector;
SELECT '[1 2]'::vector;
SELECT '[1;2]'::vector;
SELECT '[a]'::vector;
SELECT '[1,2]x'::vector;
SELECT '[1,2] [3]'::vector;
SELECT '[1,2]]'::vector;
SELECT '[[1,2]]'::vector;

-- dimension limit: 16000 is the most
SELECT vector_dims(('[' || array_to_string(array_fill(1, ARRAY[16000]), ',') || ']')::vector);
SELECT ('[' || array_to_string(array_fill(1, ARRAY[16001]), ',') || ']')::vector;
SELECT ('[' || repeat('1,', 20000) || '1]')::vector;

-- type modifiers
SELECT '[1,2,3]'::vector(3);
SELECT '[1,2]'::vector(3);
SELECT '[1,2,3,4]'::vector(3);
SELECT '[1]'::vector(16000);
SELECT '[1]'::vector(0);
SELECT '[1]'::vector(-1);
SELECT '[1]'::vector(16001);
SELECT '[1]'::vector(2,3);
SELECT '[1]'::vector('a');
SELECT '[1,2]'::vector::vector(2);
SELECT '[1,2]'::vector::vector(3);
SELECT format_type('vector'::regtype, 5), format_type('vector'::regtype, -1);

-- typmod is checked on input and on assignment
CREATE TABLE vio_t (id int, v vector(3));
\d vio_t
INSERT INTO vio_t VALUES (1, '[1,2,3]');
INSERT INTO vio_t VALUES (2, '[1,2]');
INSERT INTO vio_t VALUES (3, '[1,2,3,4]'::vector);
INSERT INTO vio_t VALUES (4, NULL);
UPDATE vio_t SET v = '[1,2]'::vector WHERE id = 1;
UPDATE vio_t SET v = v || '[4]'::vector WHERE id = 1;
SELECT * FROM vio_t ORDER BY id;
ALTER TABLE vio_t ALTER COLUMN v TYPE vector(2);
ALTER TABLE vio_t ALTER COLUMN v TYPE vector;
INSERT INTO vio_t VALUES (5, '[1,2]');
SELECT id, v, vector_dims(v) FROM vio_t ORDER BY id;
DROP TABLE vio_t;

-- binary send format: int16 dim, int16 unused, float4 big-endian values
SELECT vector_send('[1,2]'::vector);
SELECT vector_send('[-0,0.5,-2.5]'::vector);
SELECT vector_send('[3.4028235e38,1e-45]'::vector);
SELECT length(vector_send(array_fill(1, ARRAY[16000])::vector));

-- I/O functions are declared the way pgvector declares them
SELECT proname, provolatile, proisstrict, proparallel
FROM pg_proc WHERE proname IN ('vector_in', 'vector_out', 'vector_recv', 'vector_send',
                               'vector_typmod_in', 'vector_typmod_out', 'vector')
ORDER BY proname;
SELECT typname, typlen, typstorage, typalign FROM pg_type WHERE typname = 'vector';

-- the SQLSTATE of every error class the type raises
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ' ' || SQLERRM;
END $$;
SELECT q, pg_temp.sqlstate_of(q) FROM (VALUES
  ($$SELECT '[1,x]'::vector$$),
  ($$SELECT '[1,2]x'::vector$$),
  ($$SELECT '[]'::vector$$),
  ($$SELECT '[NaN]'::vector$$),
  ($$SELECT '[Infinity]'::vector$$),
  ($$SELECT '[1e39]'::vector$$),
  ($$SELECT ('[' || repeat('1,', 16000) || '1]')::vector$$),
  ($$SELECT '[1]'::vector(16001)$$),
  ($$SELECT '[1]'::vector(1,2)$$),
  ($$SELECT '[1,2]'::vector(3)$$),
  ($$SELECT '[1,2]'::vector <-> '[1,2,3]'$$),
  ($$SELECT '[3e38]'::vector + '[3e38]'$$),
  ($$SELECT '[1e-37]'::vector * '[1e-37]'$$),
  ($$SELECT subvector('[1,2]', 3, 1)$$),
  ($$SELECT '{1,NULL}'::real[]::vector$$),
  ($$SELECT '{{1}}'::real[]::vector$$),
  ($$SELECT '{4e38}'::float8[]::vector$$),
  ($$SELECT avg(v) FROM (VALUES ('[1]'::vector), ('[1,2]')) t(v)$$)
) t(q);
