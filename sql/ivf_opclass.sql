-- amvalidate checks the shape of ivf operator classes.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;

SELECT opcname, amvalidate(oid)
FROM pg_opclass
WHERE opcmethod = (SELECT oid FROM pg_am WHERE amname = 'ivf')
ORDER BY opcname;

-- an operator class without the metric support function is reported
CREATE OPERATOR CLASS ivf_bad_ops FOR TYPE vector USING ivf AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops;
SELECT amvalidate(oid) FROM pg_opclass WHERE opcname = 'ivf_bad_ops';
DROP OPERATOR FAMILY ivf_bad_ops USING ivf;

-- vector_l2_ops is the default operator class, as for pgvector's ivfflat
SELECT opcname FROM pg_opclass
WHERE opcdefault AND opcmethod = (SELECT oid FROM pg_am WHERE amname = 'ivf');
CREATE TABLE opc_t (v vector(2));
INSERT INTO opc_t SELECT ARRAY[i, i % 7] FROM generate_series(1, 50) i;
CREATE INDEX opc_t_idx ON opc_t USING ivf (v) WITH (lists = 2);
SELECT opcname FROM pg_index i JOIN pg_opclass o ON o.oid = i.indclass[0]
WHERE i.indexrelid = 'opc_t_idx'::regclass;
DROP TABLE opc_t;

-- an operator class for a type the index cannot read is refused at build
-- (an index must never read a value of another layout as a vector)
CREATE OPERATOR CLASS ivf_point_ops FOR TYPE point USING ivf AS
	OPERATOR 1 <-> (point, point) FOR ORDER BY float_ops,
	FUNCTION 1 ivf_metric_l2(internal);
CREATE TABLE opc_p (p point);
INSERT INTO opc_p SELECT point(i, i) FROM generate_series(1, 10) i;
CREATE INDEX ON opc_p USING ivf (p ivf_point_ops);
DROP TABLE opc_p;
DROP OPERATOR FAMILY ivf_point_ops USING ivf;
