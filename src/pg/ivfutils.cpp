/*
 * ivfutils.cpp — the page-access layer and small shared helpers of the ivf
 * access method: reloptions, metric lookup, meta/directory/blob pages.
 */
#include "pg.h"
#include "ivf.h"


#include <unistd.h>

static relopt_kind ivf_relopt_kind;

static relopt_enum_elt_def ivf_quantizer_values[] = {
	{"sq8", IVF_QUANTIZER_SQ8},
	{"pq", IVF_QUANTIZER_PQ},
	{"flat", IVF_QUANTIZER_FLAT},
	{(const char *) NULL}
};

/* Registers the index's reloptions; called once from _PG_init. */
void
IvfInitRelOptions(void)
{
	ivf_relopt_kind = add_reloption_kind();
	add_int_reloption(ivf_relopt_kind, "lists",
					  "Number of inverted lists (0: rows/1000 up to 1M rows, sqrt(rows) above)",
					  0, 0, IVF_MAX_LISTS, AccessExclusiveLock);
	add_enum_reloption(ivf_relopt_kind, "quantizer", "How rows are encoded in the lists",
					   ivf_quantizer_values, IVF_QUANTIZER_SQ8,
					   "Valid values are \"sq8\", \"pq\" and \"flat\".", AccessExclusiveLock);
	add_int_reloption(ivf_relopt_kind, "pq_m",
					  "Product quantizer sub-vectors; must divide the dimension (0: dimension/8 or nearest divisor)",
					  0, 0, 16000, AccessExclusiveLock);
	add_bool_reloption(ivf_relopt_kind, "residual",
					   "Encode each row relative to its list's centroid", true, AccessExclusiveLock);
	add_int_reloption(ivf_relopt_kind, "sample",
					  "Training rows for k-means (0: 128 per list, at most 1,000,000)",
					  0, 0, 100000000, AccessExclusiveLock);
}

/* The reloption spelling of a quantizer code. */
const char *
IvfQuantizerName(int quantizer)
{
	for (relopt_enum_elt_def *v = ivf_quantizer_values; v->string_val != NULL; v++)
		if (v->symbol_val == quantizer)
			return v->string_val;
	return "unknown";
}

/* Parses and validates the reloptions of an ivf index. */
bytea *
ivfoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"lists", RELOPT_TYPE_INT, offsetof(IvfOptions, lists)},
		{"quantizer", RELOPT_TYPE_ENUM, offsetof(IvfOptions, quantizer)},
		{"pq_m", RELOPT_TYPE_INT, offsetof(IvfOptions, pq_m)},
		{"residual", RELOPT_TYPE_BOOL, offsetof(IvfOptions, residual)},
		{"sample", RELOPT_TYPE_INT, offsetof(IvfOptions, sample)},
	};

	return (bytea *) build_reloptions(reloptions, validate, ivf_relopt_kind,
									  sizeof(IvfOptions), tab, lengthof(tab));
}

/* The metric of the index's operator class, from its support function 1. */
int
IvfGetMetric(Relation index)
{
	FmgrInfo   *proc = index_getprocinfo(index, 1, IVF_METRIC_PROC);
	int			metric = DatumGetInt32(FunctionCall1(proc, (Datum) 0));

	if (metric < IVF_METRIC_L2 || metric > IVF_METRIC_COSINE)
		elog(ERROR, "ivf operator class returned unknown metric %d. Please report a bug.", metric);
	return metric;
}

/* Threads for build work: the GUC, or max_parallel_maintenance_workers + 1, capped at the CPUs. */
int
IvfBuildThreads(void)
{
	long		cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int			threads = ivf_build_threads > 0 ? ivf_build_threads : max_parallel_maintenance_workers + 1;

	if (cpus < 1)
		cpus = 1;
	if (ivf_build_threads <= 0 && threads > cpus)
		threads = (int) cpus;
	return Max(threads, 1);
}

/* Names of the build phases for pg_stat_progress_create_index. */
char *
IvfBuildPhaseName(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return (char *) "initializing";
		case PROGRESS_IVF_PHASE_SAMPLE:
			return (char *) "sampling rows";
		case PROGRESS_IVF_PHASE_KMEANS:
			return (char *) "performing k-means";
		case PROGRESS_IVF_PHASE_TRAIN:
			return (char *) "training quantizer";
		case PROGRESS_IVF_PHASE_ASSIGN:
			return (char *) "assigning rows";
		case PROGRESS_IVF_PHASE_WRITE:
			return (char *) "writing lists";
		default:
			return NULL;
	}
}

/*
 * amvalidate: the operator class must have support function 1 (returning
 * the metric as int4) and ordering operator 1 returning double precision.
 */
bool
IvfValidate(Oid opclassoid)
{
	HeapTuple	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	Form_pg_opclass classform;
	CatCList   *procs;
	CatCList   *ops;
	bool		has_proc = false;
	bool		has_op = false;
	bool		result = true;

	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);

	procs = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(classform->opcfamily));
	for (int i = 0; i < procs->n_members; i++)
	{
		Form_pg_amproc proc = (Form_pg_amproc) GETSTRUCT(&procs->members[i]->tuple);

		if (proc->amprocnum == IVF_METRIC_PROC && proc->amproclefttype == classform->opcintype)
			has_proc = get_func_rettype(proc->amproc) == INT4OID;
		else
		{
			ereport(INFO,
					(errmsg("ivf operator class \"%s\" has unexpected support function %d",
							NameStr(classform->opcname), proc->amprocnum)));
			result = false;
		}
	}
	ops = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(classform->opcfamily));
	for (int i = 0; i < ops->n_members; i++)
	{
		Form_pg_amop op = (Form_pg_amop) GETSTRUCT(&ops->members[i]->tuple);

		if (op->amopstrategy == 1 && op->amoppurpose == AMOP_ORDER &&
			op->amoplefttype == classform->opcintype)
			has_op = get_op_rettype(op->amopopr) == FLOAT8OID;
		else
		{
			ereport(INFO,
					(errmsg("ivf operator class \"%s\" has unexpected operator %d",
							NameStr(classform->opcname), op->amopstrategy)));
			result = false;
		}
	}
	if (!has_proc || !has_op)
	{
		ereport(INFO,
				(errmsg("ivf operator class \"%s\" needs support function 1 returning integer and "
						"ordering operator 1 returning double precision",
						NameStr(classform->opcname))));
		result = false;
	}
	ReleaseCatCacheList(ops);
	ReleaseCatCacheList(procs);
	ReleaseSysCache(classtup);
	return result;
}

/* Initializes a page of the given type with the ivf special space. */
void
IvfInitPage(Page page, uint16 page_type)
{
	IvfPageOpaque opaque;

	PageInit(page, BLCKSZ, sizeof(IvfPageOpaqueData));
	opaque = IvfPageGetOpaque(page);
	opaque->next = InvalidBlockNumber;
	opaque->page_type = page_type;
	opaque->page_id = IVF_PAGE_ID;
}

/* Extends the relation by one block and returns it pinned and exclusively locked. */
Buffer
IvfNewBuffer(Relation index, ForkNumber fork)
{
	Buffer		buf;

	LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	UnlockRelationForExtension(index, ExclusiveLock);
	return buf;
}

/* Copies the meta page, checking that this is an ivf index of our format. */
void
IvfGetMetaPage(Relation index, IvfMetaPageData *meta)
{
	Buffer		buf = ReadBuffer(index, IVF_METAPAGE_BLKNO);
	Page		page;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	memcpy(meta, IvfPageGetMeta(page), sizeof(IvfMetaPageData));
	UnlockReleaseBuffer(buf);

	if (meta->magic != IVF_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not a valid ivf index", RelationGetRelationName(index))));
	/* Older formats stay readable (converted lazily); anything else needs a rebuild. */
	if (meta->version < IVF_OLDEST_VERSION || meta->version > IVF_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ivf index \"%s\" has on-disk format version %u, which this pg_ivf cannot read",
						RelationGetRelationName(index), meta->version),
				 errdetail("This pg_ivf reads format versions %d to %d.", IVF_OLDEST_VERSION, IVF_VERSION),
				 errhint("Rebuild the index with REINDEX INDEX %s.",
						 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(index)),
													RelationGetRelationName(index)))));
}

/* The directory block that holds a list's slot. */
BlockNumber
IvfListDirBlock(const IvfMetaPageData *meta, int list)
{
	return meta->dir_start + list / IVF_LISTS_PER_DIR_PAGE;
}

/* A copy of a list's directory slot. */
IvfListData
IvfGetList(Relation index, const IvfMetaPageData *meta, int list)
{
	Buffer		buf = ReadBuffer(index, IvfListDirBlock(meta, list));
	IvfListData result;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	result = ((IvfListData *) PageGetContents(BufferGetPage(buf)))[list % IVF_LISTS_PER_DIR_PAGE];
	UnlockReleaseBuffer(buf);
	return result;
}

/*
 * Reads and locks a data page of a list chain (through `strategy`, which may
 * be NULL), rejecting anything else as index corruption.
 */
Buffer
IvfReadDataPage(Relation index, BlockNumber blkno, int mode, BufferAccessStrategy strategy)
{
	Buffer		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
	Page		page;

	LockBuffer(buf, mode);
	page = BufferGetPage(buf);
	if (PageIsNew(page) || IvfPageGetOpaque(page)->page_type != IVF_PAGE_DATA)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("ivf index \"%s\" block %u in a list chain is not a data page",
						RelationGetRelationName(index), blkno),
				 errhint("REINDEX the index.")));
	return buf;
}

/* Entries on a data page, derived from pd_lower. */
int
IvfPageEntryCount(Page page, int entry_size)
{
	return (int) ((((PageHeader) page)->pd_lower - IVF_PAGE_DATA_START) / entry_size);
}

/* The i-th entry of a data page. */
char *
IvfPageEntry(Page page, int entry_size, int i)
{
	return (char *) page + IVF_PAGE_DATA_START + (Size) i * entry_size;
}

/* Entries one data page holds. */
int
IvfPageCapacity(int entry_size)
{
	return (int) (IVF_PAGE_CAPACITY / entry_size);
}

/* Reads the trained-parameter stream (centroids, then codec parameters) into palloc'd memory. */
float *
IvfReadBlob(Relation index, const IvfMetaPageData *meta)
{
	Size		total = (meta->centroid_floats + meta->param_floats) * sizeof(float);
	char	   *out = (char *) palloc_extended(Max(total, 1), MCXT_ALLOC_HUGE);
	Size		done = 0;
	BlockNumber blkno = meta->blob_start;

	for (uint32 i = 0; i < meta->blob_pages && done < total; i++, blkno++)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		Size		n;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (IvfPageGetOpaque(page)->page_type != IVF_PAGE_BLOB)
			elog(ERROR, "ivf index \"%s\" block %u is not a parameter page. Please report a bug.",
				 RelationGetRelationName(index), blkno);
		n = Min((Size) IVF_PAGE_CAPACITY, total - done);
		memcpy(out + done, (char *) page + IVF_PAGE_DATA_START, n);
		done += n;
		UnlockReleaseBuffer(buf);
	}
	if (done != total)
		elog(ERROR, "ivf index \"%s\" parameter pages hold %zu of %zu bytes. Please report a bug.",
			 RelationGetRelationName(index), done, total);
	return (float *) out;
}
