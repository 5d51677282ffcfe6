-- Where vector values live in a table.
--
-- The type's storage is pgvector's, external: a vector is never compressed,
-- and moved out of line to TOAST only when its row exceeds the table's
-- toast_tuple_target.  That target is 2032 bytes by default, so a vector of
-- more than ~500 dimensions would always go out of line, and a whole-table
-- exact scan would read every vector through TOAST (2.7x slower than inline,
-- docs/ARCHITECTURE.md "Storage choice").
-- So this event trigger raises toast_tuple_target on each new table with a
-- vector column by the room its declared vectors need (unconstrained vectors:
-- the most, 8160): a row that fits a page stays in it, uncompressed, while a
-- row too big for a page (two vector(1536), say) is toasted, never refused.
-- It never changes a column's storage and never a table that already has a
-- toast_tuple_target (set by the user, CREATE TABLE ... WITH, pg_dump or a
-- tool such as Citus); SET ivf.inline_storage = off turns it off.
-- Partitioned tables take no storage parameters: their partitions get them.
CREATE FUNCTION pg_ivf_inline_storage() RETURNS event_trigger
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

CREATE EVENT TRIGGER pg_ivf_inline_storage ON ddl_command_end
	WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'CREATE MATERIALIZED VIEW')
	EXECUTE FUNCTION pg_ivf_inline_storage();
