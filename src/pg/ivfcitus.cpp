/*
 * ivfcitus.cpp — Citus shell tables.
 *
 * On a Citus coordinator (and on workers with synced metadata) a distributed
 * or reference table is an empty placeholder, its "shell"; the rows live in
 * shard tables (name_<shardid>) with their own indexes, built by the same
 * CREATE INDEX that Citus relays to them.  An ivf index on the shell is
 * therefore always built from 0 rows and always untrained, and describing it
 * describes nothing.  A shell is a relation listed in Citus's catalog
 * pg_dist_partition; the catalog is found by name so that pg_ivf neither links
 * to Citus nor fails where it is absent.
 */
#include "pg.h"
#include "ivfcitus.h"

/* True if relid is the shell of a Citus distributed, reference or Citus-local table. */
bool
IvfIsCitusShell(Oid relid)
{
	Oid			catalog;
	AttrNumber	attnum;
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	bool		found;

	if (!OidIsValid(get_extension_oid("citus", true)))
		return false;
	catalog = get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE);
	if (!OidIsValid(catalog))
		return false;
	attnum = get_attnum(catalog, "logicalrelid");
	if (attnum == InvalidAttrNumber)
		return false;

	/* a few rows per distributed table: a heap scan needs no knowledge of Citus's indexes */
	rel = table_open(catalog, AccessShareLock);
	ScanKeyInit(&key, attnum, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Refuses to describe the index of a shell, pointing at its shards: Citus
 * names a shard's index <index>_<shardid> beside its shard <table>_<shardid>,
 * the name run_command_on_shards substitutes for %s.
 */
void
IvfRejectCitusShell(Relation index, const char *function)
{
	Oid			heapid = index->rd_index->indrelid;
	const char *nsp;
	const char *table;

	if (!IvfIsCitusShell(heapid))
		return;
	nsp = get_namespace_name(RelationGetNamespace(index));
	table = quote_qualified_identifier(nsp, get_rel_name(heapid));
	/* run_command_on_shards passes the command through format(): %% is a literal % */
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("ivf index \"%s\" is on the Citus distributed table %s, whose rows are in its shards",
					RelationGetRelationName(index), table),
			 errdetail("The index on this node's table is empty; each shard has its own ivf index."),
			 errhint("Describe the shard indexes with SELECT shardid, result FROM run_command_on_shards(%s, "
					 "$$SELECT json_agg(i) FROM %s((quote_ident(%s) || '.' || quote_ident(%s || "
					 "substring('%%s' from '_(\\d+)\"?$')))::regclass) i$$);",
					 quote_literal_cstr(table), function, quote_literal_cstr(nsp),
					 quote_literal_cstr(psprintf("%s_", RelationGetRelationName(index))))));
}
