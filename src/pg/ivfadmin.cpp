/*
 * ivfadmin.cpp — SQL functions that describe an ivf index: ivf_index_info()
 * (shape, training state, list balance and the probes a scan uses, in one
 * row) and ivf_list_sizes() (one row per list).  Both read the meta page, the
 * directory and every data page header under share locks, never the codes
 * themselves.  ivf_recall() measures answers and is SQL (30_ivf_admin.sql).
 * ivf_calibrate() recalibrates an index for ivf.target_recall (ivfcalib.cpp)
 * and ivf_recall_curve() shows its calibration.
 */
#include "pg.h"
#include "ivf.h"
#include "ivfbuild.h"
#include "ivfcitus.h"

extern "C" {
PG_FUNCTION_INFO_V1(ivf_index_info);
PG_FUNCTION_INFO_V1(ivf_list_sizes);
PG_FUNCTION_INFO_V1(ivf_calibrate);
PG_FUNCTION_INFO_V1(ivf_recall_curve);
}

/* Per-list counts of an index. */
typedef struct IvfListCounts
{
	int64		rows;
	int32		pages;
} IvfListCounts;

/* Opens an ivf index for reading, rejecting other relations and callers who may not read its table. */
static Relation
OpenIvfIndex(Oid relid)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	Oid			heapid;

	if (rel->rd_rel->relkind != RELKIND_INDEX || rel->rd_indam == NULL ||
		rel->rd_indam->ambuild != ivfbuild)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an ivf index", RelationGetRelationName(rel))));

	heapid = rel->rd_index->indrelid;
	if (pg_class_aclcheck(heapid, GetUserId(), ACL_SELECT) != ACLCHECK_OK &&
		!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, get_rel_name(heapid));

	/* another session's temporary index lives in its local buffers */
	if (RELATION_IS_OTHER_TEMP(rel))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot access temporary indexes of other sessions")));

	/* a failed CREATE INDEX CONCURRENTLY leaves an index without pages */
	if (RelationGetNumberOfBlocks(rel) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ivf index \"%s\" has not been built", RelationGetRelationName(rel)),
				 errhint("REINDEX the index.")));
	return rel;
}

/* Entries and pages of every list; result has meta->lists elements. */
static IvfListCounts *
CountLists(Relation index, const IvfMetaPageData *meta)
{
	IvfListCounts *counts = (IvfListCounts *) palloc0(sizeof(IvfListCounts) * Max(meta->lists, 1));

	for (int list = 0; list < meta->lists; list++)
	{
		IvfCountList(index, meta, list, NULL, &counts[list].rows, &counts[list].pages);
		CHECK_FOR_INTERRUPTS();
	}
	return counts;
}

/*
 * Lists the build was asked for.  Indexes built before 0.2.0 did not record
 * it: a trained one got what it asked for; an untrained one asked for its
 * lists option, or (no option) the default for the rows it saw.
 */
static int
RequestedLists(Relation index, const IvfMetaPageData *meta)
{
	IvfOptions *opts = (IvfOptions *) index->rd_options;

	if (meta->requested_lists > 0)
		return meta->requested_lists;
	if (!meta->untrained)
		return meta->lists;
	if (opts != NULL && opts->lists > 0)
		return opts->lists;
	return IvfDefaultLists((int64) meta->build_rows);
}

/* The operator-class spelling of a metric code. */
static const char *
MetricName(int metric)
{
	switch (metric)
	{
		case IVF_METRIC_L2:
			return "l2";
		case IVF_METRIC_IP:
			return "ip";
		case IVF_METRIC_COSINE:
			return "cosine";
	}
	return "unknown";
}

/* ivf_index_info(regclass): one row describing the index; see 30_ivf_admin.sql for the columns. */
extern "C" Datum
ivf_index_info(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	index;
	IvfMetaPageData meta;
	IvfListCounts *counts;
	TupleDesc	tupdesc;
	Datum		values[21];
	bool		nulls[21];
	int			probes;
	double		target;
	int			requested;
	int64		total = 0;
	int64		min_rows = 0;
	int64		max_rows = 0;
	double		sum_sq = 0;
	BlockNumber nblocks;
	char		device[sizeof(meta.build_device) + 1];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	index = OpenIvfIndex(relid);
	IvfRejectCitusShell(index, "ivf_index_info");
	IvfGetMetaPage(index, &meta);
	counts = CountLists(index, &meta);
	nblocks = RelationGetNumberOfBlocks(index);
	probes = Min(IvfScanProbes(index, &meta, false, &target), meta.lists);
	requested = RequestedLists(index, &meta);
	relation_close(index, AccessShareLock);

	for (int i = 0; i < meta.lists; i++)
	{
		int64		n = counts[i].rows;

		total += n;
		sum_sq += (double) n * n;
		min_rows = i == 0 ? n : Min(min_rows, n);
		max_rows = i == 0 ? n : Max(max_rows, n);
	}
	memcpy(device, meta.build_device, sizeof(meta.build_device));
	device[sizeof(meta.build_device)] = '\0';

	memset(nulls, 0, sizeof(nulls));
	values[0] = Int32GetDatum(meta.lists);
	values[1] = Int64GetDatum(total);
	values[2] = CStringGetTextDatum(IvfQuantizerName(meta.quantizer));
	values[3] = Int32GetDatum(meta.entry_size);
	values[4] = Int32GetDatum(meta.dims);
	values[5] = CStringGetTextDatum(MetricName(meta.metric));
	values[6] = Int64GetDatum((int64) meta.trained_rows);
	values[7] = CStringGetTextDatum(device);
	values[8] = Int64GetDatum(min_rows);
	values[9] = Float8GetDatum(meta.lists > 0 ? (double) total / meta.lists : 0.0);
	values[10] = Int64GetDatum(max_rows);
	/* FAISS's imbalance factor: 1.0 when every list holds the same number of rows */
	if (total > 0)
		values[11] = Float8GetDatum(meta.lists * sum_sq / ((double) total * total));
	else
		nulls[11] = true;
	values[12] = Int64GetDatum((int64) nblocks * BLCKSZ);
	values[13] = BoolGetDatum(!meta.untrained);
	values[14] = Int32GetDatum(requested);
	/* a query probing the largest list reads this many times an average list */
	if (total > 0)
		values[15] = Float8GetDatum((double) max_rows * meta.lists / total);
	else
		nulls[15] = true;
	values[16] = Int32GetDatum(probes);
	values[17] = BoolGetDatum(meta.model_carried != 0);

	/* recall calibration (ivf.target_recall): NULL where there is none */
	if (target > 0)
		values[18] = Float8GetDatum(target);
	else
		nulls[18] = true;
	if (meta.calib_count > 0)
	{
		values[19] = Float8GetDatum(pg_ivf::core::calibrated_recall(meta.calib_ranks, (size_t) meta.calib_count,
																	 (size_t) probes, (size_t) meta.lists));
		values[20] = Int64GetDatum((int64) meta.calib_rows);
	}
	else
		nulls[19] = nulls[20] = true;

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* ivf_list_sizes(regclass): one row per list (numbered from 0 as on disk) with its rows and pages. */
extern "C" Datum
ivf_list_sizes(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Relation	index;
	IvfMetaPageData meta;
	IvfListCounts *counts;

	InitMaterializedSRF(fcinfo, 0);

	index = OpenIvfIndex(relid);
	IvfRejectCitusShell(index, "ivf_list_sizes");
	IvfGetMetaPage(index, &meta);
	counts = CountLists(index, &meta);
	relation_close(index, AccessShareLock);

	for (int i = 0; i < meta.lists; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = Int32GetDatum(i);
		values[1] = Int64GetDatum(counts[i].rows);
		values[2] = Int32GetDatum(counts[i].pages);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * ivf_calibrate(regclass): calibrates the index for ivf.target_recall now,
 * as VACUUM does when the calibration is missing or stale.  Changes the
 * index, so only the table's owner may, as for ANALYZE.
 */
extern "C" Datum
ivf_calibrate(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Oid			heapid = IndexGetRelation(relid, true);
	Relation	heap = NULL;
	Relation	index;

	/* the table first, as every other path locks them */
	if (OidIsValid(heapid))
		heap = table_open(heapid, AccessShareLock);
	index = OpenIvfIndex(relid);
	IvfRejectCitusShell(index, "ivf_calibrate");
	if (!pg_class_ownercheck(heapid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(heapid));
	/* one calibration of an index at a time, and none during VACUUM's */
	LockRelationOid(relid, ShareUpdateExclusiveLock);
	IvfCalibrate(heap, index);
	relation_close(index, NoLock);
	table_close(heap, NoLock);
	PG_RETURN_VOID();
}

/*
 * ivf_recall_curve(regclass): the calibrated recall@10 at each probes from 1
 * up to where it reaches 1 (or the index's lists); no rows without a
 * calibration.
 */
extern "C" Datum
ivf_recall_curve(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Relation	index;
	IvfMetaPageData meta;
	size_t		n;

	InitMaterializedSRF(fcinfo, 0);

	index = OpenIvfIndex(relid);
	IvfRejectCitusShell(index, "ivf_recall_curve");
	IvfGetMetaPage(index, &meta);
	relation_close(index, AccessShareLock);

	n = (size_t) Min(Max(meta.calib_count, 0), IVF_CALIB_MAX_RANKS);
	for (int p = 1; n > 0 && p <= meta.lists; p++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};
		double		recall = pg_ivf::core::calibrated_recall(meta.calib_ranks, n, (size_t) p, (size_t) meta.lists);

		values[0] = Int32GetDatum(p);
		values[1] = Float8GetDatum(recall);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		if (recall >= 1.0)
			break;
	}
	return (Datum) 0;
}
