/*
 * ivfcarry.cpp — a rebuild over an empty heap keeps the trained model.
 *
 * TRUNCATE, and REINDEX or VACUUM FULL of an empty table, give the index a
 * new relfilenode and build it over no rows; trained on nothing, it would
 * have one list and keep every later row there.  The rows usually come back
 * alike, so such a build copies the trained model (centroids and codec
 * parameters) of the index file it replaces into the new file, with empty
 * lists, and marks it `model_carried` for maintenance to re-check.
 *
 * The replaced file: RelationSetNewRelfilenode updated the index's pg_class
 * row in this transaction and only schedules the old file's deletion for
 * commit, so the row versions this transaction outdated (xmax ours) name it.
 * Of those with another relfilenode, the newest (largest cmax) is the file
 * just replaced; older ones are tried after it (a TRUNCATE that truncates
 * in place, below, left the newest one empty).  Its pages are read through
 * shared buffers (ReadBufferWithoutRelcache), where they may still be dirty;
 * nothing is written to them, so a ROLLBACK finds the old index as it was.
 *
 * Not carried (the build trains on no rows, as before, with its NOTICE):
 *  - temporary indexes: their pages live in this backend's local buffers,
 *    which ReadBufferWithoutRelcache does not read;
 *  - a TRUNCATE in the transaction that created the table (or gave it a new
 *    relfilenode) truncates the file in place, so no older file exists unless
 *    an earlier command of the transaction replaced one;
 *  - a model of another shape than the options now ask for: dims, metric,
 *    quantizer, pq_m, residual, or a `lists` option that differs from the
 *    lists the model was asked for (ALTER INDEX ... SET (lists = 7) asks for
 *    a new model; a split grows the lists beyond those asked for);
 *  - an untrained model (built from fewer rows than lists);
 *  - the init fork of an unlogged index (ambuildempty): crash recovery resets
 *    the index to it, untrained as before.
 * REINDEX CONCURRENTLY builds a new index (another OID) and trains as before.
 */
#include "pg.h"
#include "ivf.h"
#include "ivfbuild.h"


/* One index file this transaction replaced. */
typedef struct IvfReplacedFile
{
	RelFileNode node;
	CommandId	cmax;
} IvfReplacedFile;

static int
CompareNewestFirst(const void *a, const void *b)
{
	CommandId	x = ((const IvfReplacedFile *) a)->cmax;
	CommandId	y = ((const IvfReplacedFile *) b)->cmax;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Files of the index that this transaction replaced, newest first; *n of them. */
static IvfReplacedFile *
FindReplacedFiles(Relation index, int *n)
{
	Relation	pg_class = table_open(RelationRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	int			cap = 4;
	IvfReplacedFile *files = (IvfReplacedFile *) palloc(sizeof(IvfReplacedFile) * cap);

	*n = 0;
	ScanKeyInit(&key, Anum_pg_class_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(RelationGetRelid(index)));
	scan = systable_beginscan(pg_class, ClassOidIndexId, true, SnapshotAny, 1, &key);
	while ((tuple = systable_getnext(scan)) != NULL)
	{
		HeapTupleHeader header = tuple->t_data;
		Form_pg_class form = (Form_pg_class) GETSTRUCT(tuple);
		RelFileNode node;

		/* only versions this transaction (or a live subtransaction of it) updated */
		if ((header->t_infomask & (HEAP_XMAX_INVALID | HEAP_XMAX_IS_MULTI)) ||
			HEAP_XMAX_IS_LOCKED_ONLY(header->t_infomask) ||
			!TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetRawXmax(header)))
			continue;
		node.spcNode = OidIsValid(form->reltablespace) ? form->reltablespace : MyDatabaseTableSpace;
		node.dbNode = MyDatabaseId;
		node.relNode = form->relfilenode;
		if (!OidIsValid(node.relNode) || RelFileNodeEquals(node, index->rd_node))
			continue;
		if (*n == cap)
		{
			cap *= 2;
			files = (IvfReplacedFile *) repalloc(files, sizeof(IvfReplacedFile) * cap);
		}
		files[*n].node = node;
		files[*n].cmax = HeapTupleHeaderGetCmax(header);
		(*n)++;
	}
	systable_endscan(scan);
	table_close(pg_class, AccessShareLock);
	qsort(files, *n, sizeof(IvfReplacedFile), CompareNewestFirst);
	return files;
}

/* True when the model in meta is trained and has the shape this build would give it. */
static bool
ModelFits(const IvfBuildState *bs, const IvfMetaPageData *meta)
{
	IvfOptions *opts = (IvfOptions *) bs->index->rd_options;

	return !meta->untrained &&
		meta->dims == bs->dims &&
		meta->metric == bs->metric &&
		meta->quantizer == bs->quantizer &&
		meta->entry_size == bs->entry_size &&
		(bs->quantizer != IVF_QUANTIZER_PQ || meta->pq_m == bs->pq_m) &&
		(meta->residual != 0) == bs->residual &&
		meta->param_floats == core::parameter_count(static_cast<core::QuantizerKind>(bs->quantizer), bs->dims) &&
		(opts == NULL || opts->lists == 0 ||
		 opts->lists == (meta->requested_lists > 0 ? meta->requested_lists : meta->lists));
}

/*
 * For a build over no rows (into the main fork): takes the trained model of
 * the index file this rebuild replaced when it fits the index's options, and
 * sets bs's lists, centroids and carried/carried_params; false when there is
 * none, and the build trains on no rows.
 */
bool
IvfCarryModel(IvfBuildState *bs)
{
	Relation	index = bs->index;
	bool		permanent = index->rd_rel->relpersistence == RELPERSISTENCE_PERMANENT;
	IvfReplacedFile *files;
	int			nfiles;

	if (index->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		return false;
	files = FindReplacedFiles(index, &nfiles);
	for (int i = 0; i < nfiles; i++)
	{
		IvfMetaPageData *meta = (IvfMetaPageData *) palloc(sizeof(IvfMetaPageData));
		float	   *blob = IvfReadReplacedModel(files[i].node, permanent, meta);

		if (blob != NULL && ModelFits(bs, meta) &&
			IvfModelBytes(bs, meta->lists) <= (Size) maintenance_work_mem * 1024 &&
			core::all_finite(blob, meta->centroid_floats + meta->param_floats + IvfMipsExtraFloats(meta)))
		{
			bs->carried = meta;
			bs->lists = meta->lists;
			bs->requested_lists = meta->requested_lists > 0 ? meta->requested_lists : meta->lists;
			bs->centroids = blob;
			bs->carried_params = blob + meta->centroid_floats;
			bs->param_floats = meta->param_floats;
			/* an inner-product model keeps its MIPS reduction; no row is beyond M yet */
			bs->mips_max_norm2 = meta->mips_max_norm2;
			if (meta->mips_max_norm2 > 0)
				bs->mips_extras = blob + meta->centroid_floats + meta->param_floats;
			/* and its ranking vectors; a model from before them stays ranked by its centroids */
			if (meta->mips_max_norm2 > 0 && meta->mips_rank)
				bs->mips_rank = bs->mips_extras + meta->lists;
			ereport(DEBUG1,
					(errmsg_internal("ivf index \"%s\" keeps the trained model of %d lists of the file it replaces",
									 RelationGetRelationName(index), meta->lists)));
			pfree(files);
			return true;
		}
		if (blob != NULL)
			pfree(blob);
		pfree(meta);
	}
	pfree(files);
	return false;
}
