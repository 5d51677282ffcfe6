-- Inspecting ivf indexes.
--
-- Both functions read the index's pages as they are at the call, so they are
-- VOLATILE; PARALLEL RESTRICTED because a parallel worker cannot read the
-- leader's temporary indexes (they live in its local buffers).

CREATE FUNCTION ivf_index_info(index regclass,
	OUT lists int4,
	OUT rows int8,
	OUT quantizer text,
	OUT bytes_per_row int4,
	OUT dims int4,
	OUT metric text,
	OUT trained_rows int8,
	OUT build_device text,
	OUT list_min int8,
	OUT list_avg float8,
	OUT list_max int8,
	OUT imbalance float8,
	OUT index_bytes int8,
	OUT trained bool,
	OUT lists_requested int4,
	OUT list_max_ratio float8,
	OUT probes int4)
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION ivf_index_info(regclass) IS
	'shape of an ivf index: lists, rows, quantizer, entry size, training sample, list balance (imbalance 1.0 = even), size, trained or not, lists requested, largest list / average, probes a scan uses now';

CREATE FUNCTION ivf_list_sizes(index regclass,
	OUT list int4,
	OUT rows int8,
	OUT pages int4)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED ROWS 100;
COMMENT ON FUNCTION ivf_list_sizes(regclass) IS
	'rows and pages of each list of an ivf index (lists numbered from 0)';
