-- Inspecting and measuring ivf indexes.
--
-- ivf_index_info and ivf_list_sizes read the index's pages as they are at the
-- call, so they are VOLATILE; PARALLEL RESTRICTED because a parallel worker
-- cannot read the leader's temporary indexes (they live in its local buffers).
-- ivf_recall runs queries (below).

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
	OUT probes int4,
	OUT model_carried bool,
	-- recall calibration (ivf.target_recall): the target in effect, the
	-- calibrated recall@10 at probes, the rows the index held when calibrated
	OUT target_recall float8,
	OUT calibrated_recall float8,
	OUT calibrated_rows int8,
	OUT maintenance text,
	OUT maintenances int8,
	OUT last_maintenance timestamptz)
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION ivf_index_info(regclass) IS
	'shape of an ivf index: lists, rows, quantizer, entry size, training sample, list balance (imbalance 1.0 = even), size, trained or not, lists requested, largest list / average, probes a scan uses now, model carried over an empty rebuild (TRUNCATE) and not yet re-checked, target recall in effect, calibrated recall at those probes, rows when calibrated, what the next VACUUM does (none, train, retrain, split, recheck, reclaim), models swapped in by maintenance, time of the last swap';

CREATE FUNCTION ivf_list_sizes(index regclass,
	OUT list int4,
	OUT rows int8,
	OUT pages int4)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED ROWS 100;
COMMENT ON FUNCTION ivf_list_sizes(regclass) IS
	'rows and pages of each list of an ivf index (lists numbered from 0)';

-- Self-training and re-balancing on demand: what VACUUM does when due
-- (docs/ARCHITECTURE.md "Maintenance").  Takes the table's
-- ShareUpdateExclusiveLock as VACUUM does; inserts and scans go on.
CREATE FUNCTION ivf_maintain(index regclass) RETURNS text
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION ivf_maintain(regclass) IS
	'trains an ivf index built with too few rows, or re-trains one whose lists fill unevenly, online, as VACUUM does when due; returns what it did';

-- Recall@k of an ivf index at the session's settings, against the exact scan.
-- The queries are `queries` rows of the index's table (those the index holds:
-- the partial index's predicate applies), sampled by a hash of their ctid, so
-- the same table gives the same sample.  Each query asks for the k rows
-- nearest to that row, other than itself, once through the index (the plan
-- is checked to scan it) and once by a sequential scan.  An index row counts
-- as found when its distance is at most the exact k-th distance (ties do not
-- count as misses).  The result is found / exact over all queries; NULL when
-- the table has no row to ask about.  It costs `queries` sequential scans.
-- The enable_* settings it changes are scoped to the call by its SET clauses.
CREATE FUNCTION ivf_recall(index regclass, queries int4 DEFAULT 100, k int4 DEFAULT 10)
	RETURNS float8
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	SET enable_seqscan = on
	SET enable_indexscan = on
	SET enable_bitmapscan = on
AS $$
DECLARE
	info record;
	dist text;			-- the indexed column's distance to the query row ($1: its ctid)
	wanted text;		-- the rows the index holds, other than the query row
	tids tid[];
	qtid tid;
	exact_sql text;
	index_sql text;
	plan json;
	truth float8[];
	got float8[];		-- what the index found
	hits int8 := 0;
	total int8 := 0;
BEGIN
	IF queries < 1 THEN
		RAISE EXCEPTION 'queries must be at least 1' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF k < 1 THEN
		RAISE EXCEPTION 'k must be at least 1' USING ERRCODE = 'invalid_parameter_value';
	END IF;

	SELECT c.relname, c.relkind, i.indisvalid, i.indexprs IS NOT NULL OR i.indkey[0] = 0 AS on_expression,
		   i.indrelid::regclass::text AS tbl, quote_ident(a.attname) AS col,
		   pg_get_expr(i.indpred, i.indrelid) AS pred, am.amname,
		   (SELECT format('OPERATOR(%I.%s)', n.nspname, o.oprname)
			FROM pg_opclass oc
			JOIN pg_amop ao ON ao.amopfamily = oc.opcfamily AND ao.amoplefttype = oc.opcintype
			JOIN pg_operator o ON o.oid = ao.amopopr
			JOIN pg_namespace n ON n.oid = o.oprnamespace
			WHERE oc.oid = i.indclass[0] AND ao.amoppurpose = 'o' AND ao.amopstrategy = 1) AS op
	INTO info
	FROM pg_class c
	LEFT JOIN pg_am am ON am.oid = c.relam
	LEFT JOIN pg_index i ON i.indexrelid = c.oid
	LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
	WHERE c.oid = index;

	IF NOT FOUND OR info.amname IS DISTINCT FROM 'ivf' OR info.relkind NOT IN ('i', 'I') THEN
		RAISE EXCEPTION '"%" is not an ivf index', coalesce(info.relname, index::text)
			USING ERRCODE = 'wrong_object_type';
	END IF;
	IF info.relkind = 'I' THEN
		RAISE EXCEPTION 'ivf_recall cannot measure partitioned index "%"', info.relname
			USING ERRCODE = 'feature_not_supported', HINT = 'Measure the index of each partition.';
	END IF;
	IF info.on_expression THEN
		RAISE EXCEPTION 'ivf_recall cannot measure ivf index "%" on an expression', info.relname
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'It takes its queries from the indexed column of sampled rows.';
	END IF;
	IF NOT info.indisvalid THEN
		RAISE EXCEPTION 'ivf index "%" is not valid', info.relname
			USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'REINDEX the index.';
	END IF;

	dist := format('%1$s %2$s (SELECT %1$s FROM %3$s WHERE ctid = $1)', info.col, info.op, info.tbl);
	wanted := format('%s ctid <> $1', CASE WHEN info.pred IS NOT NULL THEN '(' || info.pred || ') AND' END);
	-- OFFSET 0 computes each distance once; NaN (cosine of a zero vector) is no neighbour
	exact_sql := format('SELECT array_agg(d ORDER BY d) FROM (SELECT d FROM (SELECT %s AS d FROM %s WHERE %s '
						'OFFSET 0) s WHERE d <> ''NaN'' ORDER BY d LIMIT %s) s', dist, info.tbl, wanted, k);
	index_sql := format('SELECT array_agg(d ORDER BY d) FROM (SELECT %s AS d FROM %s WHERE %s ORDER BY d LIMIT %s) s',
						dist, info.tbl, wanted, k);

	-- rows the index holds and that have neighbours by its operator (not a
	-- zero vector under cosine, whose distance to anything is NaN)
	EXECUTE format('SELECT array_agg(ctid) FROM (SELECT ctid FROM %1$s WHERE %2$s %3$s IS NOT NULL '
				   'AND (%3$s %4$s %3$s) <> ''NaN'' ORDER BY hashtext(ctid::text), ctid LIMIT %5$s) s',
				   info.tbl, CASE WHEN info.pred IS NOT NULL THEN '(' || info.pred || ') AND' END,
				   info.col, info.op, queries)
		INTO tids;
	IF tids IS NULL THEN
		RETURN NULL;
	END IF;

	-- the index phase must scan this index, not another on the same column
	PERFORM set_config('enable_seqscan', 'off', true);
	PERFORM set_config('enable_bitmapscan', 'off', true);
	EXECUTE 'EXPLAIN (FORMAT JSON, COSTS OFF) ' || index_sql INTO plan USING tids[1];
	IF NOT jsonb_path_exists(plan::jsonb, '$.** ? (@."Node Type" == "Index Scan" && @."Index Name" == $name)',
							 jsonb_build_object('name', info.relname)) THEN
		RAISE EXCEPTION 'ivf_recall could not plan a scan of ivf index "%"', info.relname
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = format('The planner prefers %s for its queries.',
								  coalesce('index ' || (jsonb_path_query_first(plan::jsonb, '$.**."Index Name"') #>> '{}'),
										   'no index')),
				  HINT = 'Measure it in a transaction that drops the other index and rolls back.';
	END IF;

	FOREACH qtid IN ARRAY tids LOOP
		PERFORM set_config('enable_seqscan', 'on', true);
		PERFORM set_config('enable_indexscan', 'off', true);
		EXECUTE exact_sql INTO truth USING qtid;
		PERFORM set_config('enable_seqscan', 'off', true);
		PERFORM set_config('enable_indexscan', 'on', true);
		EXECUTE index_sql INTO got USING qtid;
		IF truth IS NOT NULL THEN
			total := total + cardinality(truth);
			hits := hits + least(cardinality(truth),
								 (SELECT count(*) FROM unnest(got) AS g WHERE g <= truth[cardinality(truth)]));
		END IF;
	END LOOP;
	RETURN CASE WHEN total > 0 THEN hits::float8 / total END;
END
$$;
COMMENT ON FUNCTION ivf_recall(regclass, int4, int4) IS
	'recall@k of an ivf index at the session''s settings against the exact scan, over rows of its table as queries';

-- Recall calibration for ivf.target_recall (ivfcalib.cpp): CREATE INDEX
-- calibrates, VACUUM recalibrates when the index has doubled or halved since;
-- ivf_calibrate does it now (the table's owner only: it changes the index).
CREATE FUNCTION ivf_calibrate(index regclass)
	RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION ivf_calibrate(regclass) IS
	'recalibrates the recall estimate ivf.target_recall chooses probes from, from the index''s rows and its table';

CREATE FUNCTION ivf_recall_curve(index regclass,
	OUT probes int4,
	OUT recall float8)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED ROWS 100;
COMMENT ON FUNCTION ivf_recall_curve(regclass) IS
	'calibrated recall@10 of an ivf index at each probes, up to where it reaches 1; no rows without a calibration';
