-- COPY round trips (text and binary) and vector_recv's checks on binary input.
-- Binary files are written by the server under /tmp with the backend's pid in
-- the name, and read back through "cat; rm" so no file is left behind.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;

CREATE TABLE vcopy_src (id int, v vector(3));
INSERT INTO vcopy_src VALUES
  (1, '[0,0,0]'), (2, '[1,2,3]'), (3, '[-0,0.1,-2.5e-7]'),
  (4, '[3.4028235e38,-3.4028235e38,1e-45]'), (5, NULL), (6, '[0.33333334,1e10,-7]');
CREATE TABLE vcopy_dst (LIKE vcopy_src);

-- server-side binary COPY out, then in again
CREATE FUNCTION pg_temp.copy_binary_round_trip(src regclass, dst regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  f text := '/tmp/pg_ivf_vector_copy_' || pg_backend_pid() || '.bin';
BEGIN
  EXECUTE format('COPY %s TO %L (FORMAT binary)', src, f);
  EXECUTE format('COPY %s FROM PROGRAM %L (FORMAT binary)', dst, 'cat ' || f || '; rm -f ' || f);
END $$;

SELECT pg_temp.copy_binary_round_trip('vcopy_src', 'vcopy_dst');
SELECT d.id, d.v, vector_send(s.v) IS NOT DISTINCT FROM vector_send(d.v) AS same_bits
FROM vcopy_src s JOIN vcopy_dst d USING (id) ORDER BY id;
SELECT count(*) FROM vcopy_dst;

-- text COPY goes through vector_out / vector_in and is exact as well
TRUNCATE vcopy_dst;
CREATE FUNCTION pg_temp.copy_text_round_trip(src regclass, dst regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  f text := '/tmp/pg_ivf_vector_copy_' || pg_backend_pid() || '.txt';
BEGIN
  EXECUTE format('COPY %s TO %L', src, f);
  EXECUTE format('COPY %s FROM PROGRAM %L', dst, 'cat ' || f || '; rm -f ' || f);
END $$;
SELECT pg_temp.copy_text_round_trip('vcopy_src', 'vcopy_dst');
SELECT d.id, d.v, vector_send(s.v) IS NOT DISTINCT FROM vector_send(d.v) AS same_bits
FROM vcopy_src s JOIN vcopy_dst d USING (id) ORDER BY id;
COPY vcopy_src TO STDOUT;

-- the typmod of the target column is enforced on binary input
-- (terse errors from here on: their context would show the file name)
\set VERBOSITY terse
CREATE TABLE vcopy_two (id int, v vector(2));
SELECT pg_temp.copy_binary_round_trip('vcopy_src', 'vcopy_two');
SELECT count(*) FROM vcopy_two;

-- vector_recv on hand-made wire bytes: a bytea column's binary COPY field is
-- exactly its bytes, so copying it into a vector column feeds them to vector_recv
CREATE TABLE vcopy_wire (id int, b bytea);
CREATE TABLE vcopy_any (id int, v vector);
CREATE FUNCTION pg_temp.recv(bytes bytea, target regclass DEFAULT 'vcopy_any') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  result text;
BEGIN
  TRUNCATE vcopy_wire;
  INSERT INTO vcopy_wire VALUES (1, bytes);
  EXECUTE format('TRUNCATE %s', target);
  PERFORM pg_temp.copy_binary_round_trip('vcopy_wire', target);
  EXECUTE format('SELECT v::text FROM %s', target) INTO result;
  RETURN result;
END $$;

SELECT pg_temp.recv('\x000200003f80000040000000');
SELECT pg_temp.recv(vector_send('[0.1,-0,1e-45,3.4028235e38]'));
SELECT pg_temp.recv('\x000300003f8000004000000040400000', 'vcopy_src');
SELECT pg_temp.recv('\x000200003f80000040000000', 'vcopy_src');
SELECT pg_temp.recv('\x00000000');
SELECT pg_temp.recv('\xffff0000');
SELECT pg_temp.recv('\x3e810000');
SELECT pg_temp.recv('\x000100013f800000');
SELECT pg_temp.recv('\x000100007fc00000');
SELECT pg_temp.recv('\x00010000ff800000');
SELECT pg_temp.recv('\x000200003f800000');
SELECT pg_temp.recv('\x000100003f80000000');
SELECT pg_temp.recv('\x0001');
\set VERBOSITY default

-- SQLSTATEs of the binary-format errors
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ' ' || SQLERRM;
END $$;
SELECT pg_temp.sqlstate_of(format('SELECT pg_temp.recv(%L)', b))
FROM unnest(ARRAY['\x000100013f800000', '\x00000000', '\x000100007fc00000']) b;

DROP FUNCTION pg_temp.recv(bytea, regclass);
DROP TABLE vcopy_src, vcopy_dst, vcopy_two, vcopy_wire, vcopy_any;
