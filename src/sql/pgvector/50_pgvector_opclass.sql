-- Operator classes of the ivf access method for pgvector's types (extension
-- pg_ivf_pgvector, which requires pgvector's extension `vector`).
--
-- The operators are pgvector's own, so the executor's re-check of every row
-- the index returns computes exactly what the query's ORDER BY computes.  The
-- index reads `vector` values directly (pgvector's layout is pg_ivf's) and
-- converts `halfvec` values to float once per row and per query; which one a
-- column holds it learns from the operator class's input type.  Names and
-- defaults follow pgvector's ivfflat: vector_l2_ops is the default for
-- vector, halfvec has no default.

CREATE OPERATOR CLASS vector_l2_ops
	DEFAULT FOR TYPE vector USING ivf AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 ivf_metric_l2(internal);

CREATE OPERATOR CLASS vector_ip_ops
	FOR TYPE vector USING ivf AS
	OPERATOR 1 <#> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 ivf_metric_ip(internal);

CREATE OPERATOR CLASS vector_cosine_ops
	FOR TYPE vector USING ivf AS
	OPERATOR 1 <=> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 ivf_metric_cosine(internal);

CREATE OPERATOR CLASS halfvec_l2_ops
	FOR TYPE halfvec USING ivf AS
	OPERATOR 1 <-> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 ivf_metric_l2(internal);

CREATE OPERATOR CLASS halfvec_ip_ops
	FOR TYPE halfvec USING ivf AS
	OPERATOR 1 <#> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 ivf_metric_ip(internal);

CREATE OPERATOR CLASS halfvec_cosine_ops
	FOR TYPE halfvec USING ivf AS
	OPERATOR 1 <=> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 ivf_metric_cosine(internal);
