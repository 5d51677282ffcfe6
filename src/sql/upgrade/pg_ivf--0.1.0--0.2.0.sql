-- pg_ivf 0.1.0 -> 0.2.0, run by ALTER EXTENSION pg_ivf UPDATE.
--
-- Every change of an SQL object in src/sql/*.sql since 0.1.0 (commit 7a9e69b)
-- is repeated here, so that 0.1.0 + this script gives the same objects as a
-- fresh CREATE EXTENSION of 0.2.0; `make upgradecheck` compares the two
-- catalogs.  Indexes need nothing here: the library reads 0.1.0's on-disk
-- format (meta page version 1).

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_ivf UPDATE TO '0.2.0'" to load this file. \quit

-- The vector type (issue 10).
-- pgvector's storage for the type: new columns are external (never
-- compressed); existing columns keep theirs (see README, "Storage").
ALTER TYPE vector SET (STORAGE = external);

CREATE FUNCTION vector_spherical_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 10;
COMMENT ON FUNCTION vector_spherical_distance(vector, vector) IS 'angle between unit vectors / pi (norms not computed)';

-- vector_l2_ops becomes the default ivf operator class.  No DDL makes an
-- existing operator class the default, and dropping it would drop every index
-- that uses it, so the catalog row is updated (the script runs as superuser).
-- Skipped if the user already made another operator class the default.
UPDATE pg_catalog.pg_opclass SET opcdefault = true
WHERE opcname = 'vector_l2_ops'
  AND opcmethod = (SELECT oid FROM pg_catalog.pg_am WHERE amname = 'ivf')
  AND opcintype = 'vector'::regtype
  AND NOT EXISTS (SELECT FROM pg_catalog.pg_opclass o
				  WHERE o.opcdefault AND o.opcintype = 'vector'::regtype
					AND o.opcmethod = (SELECT oid FROM pg_catalog.pg_am WHERE amname = 'ivf'));

-- The storage trigger no longer sets STORAGE plain on columns: it raises the
-- new table's toast_tuple_target instead (src/sql/15_vector_storage.sql).
CREATE OR REPLACE FUNCTION pg_ivf_inline_storage() RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
DECLARE
	rel record;
BEGIN
	-- NULL while no session has loaded the library nor set the parameter
	IF NOT coalesce(current_setting('ivf.inline_storage', true), 'on')::boolean THEN
		RETURN;
	END IF;
	FOR rel IN
		SELECT c.oid::regclass AS name,
			   -- 2032: PostgreSQL's default target; 8 + 4 * dim: one vector; 8160: a page's most
			   least(8160, 2032 + sum(CASE WHEN d.dim > 0 THEN 8 + 4 * d.dim ELSE 8160 END)) AS target
		FROM (SELECT DISTINCT objid FROM pg_event_trigger_ddl_commands()
			  WHERE classid = 'pg_class'::regclass) AS cmd
		JOIN pg_class c ON c.oid = cmd.objid
		JOIN pg_attribute a ON a.attrelid = c.oid
		JOIN pg_type t ON t.oid = a.atttypid
		JOIN pg_type base ON base.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
		JOIN pg_proc input ON input.oid = base.typinput
		CROSS JOIN LATERAL (SELECT CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END AS dim) AS d
		WHERE c.relkind IN ('r', 'm')
		  AND a.attnum > 0 AND NOT a.attisdropped
		  AND input.proname = 'vector_in' AND input.probin = 'MODULE_PATHNAME'
		  AND NOT EXISTS (SELECT FROM unnest(c.reloptions) AS o WHERE o LIKE 'toast_tuple_target=%')
		GROUP BY c.oid
	LOOP
		EXECUTE format('ALTER TABLE %s SET (toast_tuple_target = %s)', rel.name, rel.target);
	END LOOP;
END
$$;

-- ivf_index_info gains the training state, the lists requested, the largest
-- list / average, the probes a scan uses, the carried model, the recall
-- calibration and the maintenance state (issue 11).  New OUT columns change
-- its result type, which CREATE OR REPLACE cannot; nothing depends on the
-- function inside the extension.
DROP FUNCTION ivf_index_info(regclass);
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

-- Self-training and re-balancing on demand (issue 11 parts 1 and 2).
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
