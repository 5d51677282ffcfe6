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
