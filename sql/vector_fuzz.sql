-- Bounded fuzz of the text and binary input (vector_in, vector_recv): a few thousand
-- deterministic mutated inputs from a fixed seed.  Every input is either accepted
-- or refused with a data-exception SQLSTATE (class 22), and every accepted value is
-- finite and reads back to the same bits; anything else stops the test.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;

-- An accepted value must survive text output and input, and binary output, bit for bit.
CREATE FUNCTION pg_temp.check_accepted(v vector, input text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF NOT vector_norm(v) < 'Infinity'::float8 THEN
    RAISE EXCEPTION 'accepted a non-finite vector from %', quote_literal(input);
  END IF;
  IF vector_send(v::text::vector) <> vector_send(v) THEN
    RAISE EXCEPTION 'text round trip of % changed its bits', quote_literal(input);
  END IF;
END $$;

-- A random literal: 1..6 elements of random sign, digits and exponent (some out of float4's range).
CREATE FUNCTION pg_temp.random_literal() RETURNS text LANGUAGE sql AS $$
  SELECT '[' || string_agg(round((random() * 2 - 1)::numeric, (random() * 8)::int)::text
                           || CASE WHEN random() < 0.5 THEN 'e' || (floor(random() * 90) - 45)::int ELSE '' END, ',')
         || ']'
  FROM generate_series(1, 1 + floor(random() * 6)::int)
$$;

-- Up to four edits: insert, replace or delete, with tokens the parser treats specially.
CREATE FUNCTION pg_temp.mutate(s text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  tokens text[] := ARRAY['[', ']', ',', ' ', chr(9), chr(10), chr(11), chr(12), chr(13), '-', '+', '.',
                         'e', 'E', '0', '1', '9', 'nan', 'inf', 'Infinity', '3e38', '4e38', '1e-46',
                         '0x1p3', 'x', '#', '{', '''', '"', '\', chr(1), '[1]', ',,', '1e99999'];
  p int;
  tok text;
BEGIN
  FOR k IN 1..floor(random() * 5)::int LOOP
    p := floor(random() * (length(s) + 1))::int;
    tok := tokens[1 + floor(random() * array_length(tokens, 1))::int];
    s := CASE floor(random() * 3)::int
           WHEN 0 THEN left(s, p) || tok || substr(s, p + 1)
           WHEN 1 THEN left(s, p) || tok || substr(s, p + 2)
           ELSE left(s, p) || substr(s, p + 2)
         END;
  END LOOP;
  RETURN s;
END $$;

SELECT setseed(0.3);
DO $$
DECLARE
  s text;
  v vector;
  accepted int := 0;
  refused int := 0;
BEGIN
  FOR i IN 1..4000 LOOP
    s := pg_temp.mutate(pg_temp.random_literal());
    BEGIN
      v := s::vector;
      PERFORM pg_temp.check_accepted(v, s);
      accepted := accepted + 1;
    EXCEPTION WHEN data_exception OR program_limit_exceeded THEN
      refused := refused + 1;
    END;
  END LOOP;
  -- both outcomes must be well represented, or the generator tests nothing
  IF accepted < 400 OR refused < 400 THEN
    RAISE EXCEPTION 'text fuzz: % accepted, % refused', accepted, refused;
  END IF;
  RAISE NOTICE 'text fuzz: % inputs, none crashed or misread', accepted + refused;
END $$;

-- Binary input: a bytea column's binary COPY field is exactly its bytes, so copying
-- it into a vector column feeds them to vector_recv.
CREATE TABLE vfuzz_wire (b bytea);
CREATE TABLE vfuzz_vec (v vector);
SELECT setseed(0.7);
DO $$
DECLARE
  f text := '/tmp/pg_ivf_vector_fuzz_' || pg_backend_pid() || '.bin';
  bytes bytea;
  dim int;
  n int;
  v vector;
  accepted int := 0;
  refused int := 0;
BEGIN
  FOR i IN 1..1500 LOOP
    dim := CASE floor(random() * 8)::int
             WHEN 0 THEN (floor(random() * 65536) - 32768)::int
             WHEN 1 THEN 16001
             WHEN 2 THEN 0
             ELSE 1 + floor(random() * 5)::int
           END;
    -- mostly exactly dim elements, sometimes one too few or too many
    n := greatest(0, least(dim, 8) + CASE WHEN random() < 0.15 THEN floor(random() * 3)::int - 1 ELSE 0 END);
    bytes := int2send(dim::int2)
             || int2send(CASE WHEN random() < 0.9 THEN 0 ELSE floor(random() * 100)::int - 50 END::int2);
    FOR k IN 1..n LOOP
      -- random bits give NaN, infinities, subnormals and -0; the rest are ordinary values
      bytes := bytes || CASE WHEN random() < 0.3
                          THEN int4send((floor(random() * 4294967296) - 2147483648)::bigint::int4)
                          ELSE float4send(((random() * 2 - 1) * 1000)::real)
                        END;
    END LOOP;
    IF random() < 0.05 THEN
      bytes := substr(bytes, 1, floor(random() * length(bytes))::int);
    END IF;
    DELETE FROM vfuzz_wire;
    DELETE FROM vfuzz_vec;
    INSERT INTO vfuzz_wire VALUES (bytes);
    EXECUTE format('COPY vfuzz_wire TO %L (FORMAT binary)', f);
    BEGIN
      EXECUTE format('COPY vfuzz_vec FROM %L (FORMAT binary)', f);
      SELECT vfuzz_vec.v INTO v FROM vfuzz_vec;
      PERFORM pg_temp.check_accepted(v, bytes::text);
      IF vector_send(v) <> bytes THEN
        RAISE EXCEPTION 'binary input % read back as %', bytes, vector_send(v);
      END IF;
      accepted := accepted + 1;
    EXCEPTION WHEN data_exception OR program_limit_exceeded OR protocol_violation THEN
      refused := refused + 1;
    END;
  END LOOP;
  EXECUTE format('COPY vfuzz_wire FROM PROGRAM %L', 'rm -f ' || f);
  IF accepted < 200 OR refused < 200 THEN
    RAISE EXCEPTION 'binary fuzz: % accepted, % refused', accepted, refused;
  END IF;
  RAISE NOTICE 'binary fuzz: % inputs, none crashed or misread', accepted + refused;
END $$;
DROP TABLE vfuzz_wire, vfuzz_vec;
