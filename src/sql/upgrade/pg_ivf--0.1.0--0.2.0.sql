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
-- list / average and the probes a scan uses (issue 11).  New OUT columns
-- change its result type, which CREATE OR REPLACE cannot; nothing depends on
-- the function inside the extension.
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
	OUT probes int4)
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION ivf_index_info(regclass) IS
	'shape of an ivf index: lists, rows, quantizer, entry size, training sample, list balance (imbalance 1.0 = even), size, trained or not, lists requested, largest list / average, probes a scan uses now';
