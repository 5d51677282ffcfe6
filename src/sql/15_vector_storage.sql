-- Where vector values live in a table.
--
-- Whole-table exact scans are fastest when each vector sits in its row,
-- uncompressed: on Fashion-MNIST (784 dimensions) such rows scan 2x faster
-- than lz4-compressed rows, 4x faster than rows moved out of line to TOAST
-- (as pgvector stores them) and 7x faster than pglz-compressed rows.  A value
-- stored that way (STORAGE plain) must fit in a page, so the type itself is
-- STORAGE main -- inline when the row fits, compressed or out of line when it
-- does not -- which is safe for any dimension, and this event trigger sets
-- STORAGE plain on the columns of new tables whose declared dimension fits a
-- page (1 to 1,900 dimensions, leaving room for other columns).  Columns added
-- later with ALTER TABLE keep the type's default; ALTER TABLE ... ALTER COLUMN
-- ... SET STORAGE changes either choice.
CREATE FUNCTION pg_ivf_inline_storage() RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
DECLARE
	col record;
BEGIN
	FOR col IN
		SELECT DISTINCT a.attrelid::regclass AS rel, a.attname
		FROM pg_event_trigger_ddl_commands() AS cmd
		JOIN pg_class c ON c.oid = cmd.objid AND cmd.classid = 'pg_class'::regclass
		JOIN pg_attribute a ON a.attrelid = c.oid
		JOIN pg_type t ON t.oid = a.atttypid
		JOIN pg_type base ON base.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
		JOIN pg_proc input ON input.oid = base.typinput
		WHERE c.relkind IN ('r', 'p', 'm')
		  AND a.attnum > 0 AND NOT a.attisdropped AND a.attstorage = 'm'
		  AND input.proname = 'vector_in' AND input.probin = 'MODULE_PATHNAME'
		  AND (CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END) BETWEEN 1 AND 1900
	LOOP
		EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET STORAGE PLAIN', col.rel, col.attname);
	END LOOP;
END
$$;

CREATE EVENT TRIGGER pg_ivf_inline_storage ON ddl_command_end
	WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'CREATE MATERIALIZED VIEW')
	EXECUTE FUNCTION pg_ivf_inline_storage();
