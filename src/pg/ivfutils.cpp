/*
 * ivfutils.cpp — small shared helpers of the ivf access method: reloptions,
 * metric lookup, the row preparation build and insert share, build threads,
 * progress phase names, amvalidate.  Pages are ivfpage.cpp's.
 */
#include "pg.h"
#include "ivf.h"
#include "vector.h"


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
	/* scans read it at rescan: like fillfactor for reads, no rebuild, readers keep going */
	add_int_reloption(ivf_relopt_kind, "probes",
					  "Lists a scan of this index probes unless the session sets ivf.probes (0: ivf.probes)",
					  0, 0, IVF_MAX_LISTS, ShareUpdateExclusiveLock);
	add_real_reloption(ivf_relopt_kind, "target_recall",
					   "Recall@10 scans of this index aim for, choosing probes from its calibration (0: none)",
					   0, 0, 1, ShareUpdateExclusiveLock);
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
		{"probes", RELOPT_TYPE_INT, offsetof(IvfOptions, probes)},
		{"target_recall", RELOPT_TYPE_REAL, offsetof(IvfOptions, target_recall)},
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

/*
 * The element format of the index's column, from its operator class's input
 * type (a domain's opclass input is its base type): "vector" or pgvector's
 * "halfvec".  Any other type would be read past its end, so it is refused.
 */
int
IvfGetElement(Relation index)
{
	Oid			type = index->rd_opcintype[0];
	HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
	Form_pg_type form;
	int			element = 0;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for type %u", type);
	form = (Form_pg_type) GETSTRUCT(tup);
	if (form->typlen == -1 && strcmp(NameStr(form->typname), "vector") == 0)
		element = IVF_ELEMENT_FLOAT4;
	else if (form->typlen == -1 && strcmp(NameStr(form->typname), "halfvec") == 0)
		element = IVF_ELEMENT_HALF;
	ReleaseSysCache(tup);
	if (element == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ivf indexes support only the types vector and halfvec, not %s", format_type_be(type))));
	return element;
}

/*
 * Copies the elements of a non-NULL vector or halfvec value into out (size
 * dims) as floats and returns the value's dimension count; copies nothing
 * when that is not dims (the caller raises its own error).  Conversion from
 * half is exact, so the index sees the values the operators compute with.
 */
int
IvfCopyElements(Datum value, int element, int dims, float *out)
{
	/* vector and halfvec share the header: varlena, int16 dim, int16 unused */
	Vector	   *v = DatumGetVector(value);
	int			dim = v->dim;
	Size		elsize = element == IVF_ELEMENT_HALF ? sizeof(uint16) : sizeof(float);

	if (VARSIZE(v) != offsetof(Vector, x) + elsize * (Size) dim)
		elog(ERROR, "ivf: malformed %s value of %d dimensions. Please report a bug.",
			 element == IVF_ELEMENT_HALF ? "halfvec" : "vector", dim);
	if (dim == dims)
	{
		if (element == IVF_ELEMENT_HALF)
			pg_ivf::core::half_to_float(v->x, out, (size_t) dims);
		else
			memcpy(out, v->x, sizeof(float) * dims);
	}
	if ((Pointer) v != DatumGetPointer(value))
		pfree(v);
	return dim;
}

/*
 * Where the current value of the custom setting `name` comes from.  Custom
 * GUCs are allocated once and never moved (only the array of pointers
 * grows), so the lookup is cached in *cache.
 */
static GucSource
IvfGucSource(const char *name, struct config_generic **cache)
{
	if (*cache == NULL)
	{
		struct config_generic **gucs = get_guc_variables();
		int			n = GetNumConfigOptions();

		for (int i = 0; i < n && *cache == NULL; i++)
			if (strcmp(gucs[i]->name, name) == 0 && gucs[i]->vartype != PGC_STRING)
				*cache = gucs[i];
		if (*cache == NULL)
			elog(ERROR, "setting %s is not defined. Please report a bug.", name);
	}
	return (*cache)->source;
}

/*
 * A setting is the session's when SET (also SET LOCAL, a function's SET
 * clause, set_config()) or the client's connection options gave it.  Values
 * from postgresql.conf, ALTER SYSTEM, ALTER DATABASE or ALTER ROLE are
 * defaults, less specific than an index's own options.
 */
static bool
SetInSession(GucSource source)
{
	return source >= PGC_S_CLIENT;
}

/* The probes of IvfScanProbes's order with every target left out: its fallback. */
static int
ProbesWithoutTarget(Relation index, GucSource probes_source)
{
	IvfOptions *opts = (IvfOptions *) index->rd_options;

	if (opts != NULL && opts->probes > 0 && !SetInSession(probes_source))
		return opts->probes;
	return ivf_probes;
}

/*
 * ivf.target_recall asked for an index without a calibration: a 0.1.0 index,
 * an untrained one, or one built before its calibration could run.  The scan
 * probes as without the target; the first scan of the index in a session
 * says so, and how to calibrate it.
 */
static void
WarnUncalibrated(Relation index, const IvfMetaPageData *meta, int probes)
{
	static List *warned = NIL;
	MemoryContext old;
	char	   *name;

	if (list_member_oid(warned, RelationGetRelid(index)))
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	warned = lappend_oid(warned, RelationGetRelid(index));
	MemoryContextSwitchTo(old);
	name = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(index)),
									  RelationGetRelationName(index));
	if (meta->untrained)
		ereport(WARNING,
				(errmsg("ivf index \"%s\" is untrained, so target_recall cannot choose its probes",
						RelationGetRelationName(index)),
				 errdetail_plural("Scans probe %d list, as set without a target.",
								  "Scans probe %d lists, as set without a target.", probes, probes),
				 errhint("REINDEX INDEX %s after loading the table trains and calibrates it.", name)));
	else
		ereport(WARNING,
				(errmsg("ivf index \"%s\" has no recall calibration, so target_recall cannot choose its probes",
						RelationGetRelationName(index)),
				 errdetail_plural("Scans probe %d list, as set without a target.",
								  "Scans probe %d lists, as set without a target.", probes, probes),
				 errhint("SELECT ivf_calibrate('%s') calibrates it; so does VACUUM of its table.", name)));
}

/*
 * Lists a scan of the index probes per batch.  The most specific setting
 * wins: the session's (SET ivf.probes, else SET ivf.target_recall), else the
 * index's options (probes, else target_recall), else the server's settings
 * (ivf.probes set there, else ivf.target_recall), else ivf.probes's default.
 * A target recall (0 = none) gives the smallest probes whose calibrated
 * recall meets it (core::probes_for_recall, with its margin); without a
 * calibration it falls back to the probes the order gives without targets,
 * with a WARNING once per index and session when warn.  *target (may be
 * NULL) receives the target that was asked for, or 0.
 */
int
IvfScanProbes(Relation index, const IvfMetaPageData *meta, bool warn, double *target)
{
	static struct config_generic *probes_guc = NULL;
	static struct config_generic *target_guc = NULL;
	IvfOptions *opts = (IvfOptions *) index->rd_options;
	GucSource	probes_source = IvfGucSource("ivf.probes", &probes_guc);
	GucSource	target_source = IvfGucSource("ivf.target_recall", &target_guc);
	double		wanted = 0;
	int			probes = 0;

	if (target != NULL)
		*target = 0;
	if (SetInSession(probes_source))
		return ivf_probes;
	if (SetInSession(target_source) && ivf_target_recall > 0)
		wanted = ivf_target_recall;
	else if (opts != NULL && opts->probes > 0)
		return opts->probes;
	else if (opts != NULL && opts->target_recall > 0)
		wanted = opts->target_recall;
	else if (probes_source > PGC_S_DEFAULT || ivf_target_recall <= 0)
		return ivf_probes;
	else
		wanted = ivf_target_recall;

	if (target != NULL)
		*target = wanted;
	if (meta->calib_count > 0 && meta->calib_count <= IVF_CALIB_MAX_RANKS)
		probes = (int) pg_ivf::core::probes_for_recall(meta->calib_ranks, (size_t) meta->calib_count, wanted,
													   (size_t) Max(meta->lists, 1));
	if (probes > 0)
		return probes;
	probes = ProbesWithoutTarget(index, probes_source);
	if (warn)
		WarnUncalibrated(index, meta, Min(probes, meta->lists));
	return probes;
}

/*
 * Prepares a non-NULL heap value as the index stores it, for CREATE INDEX and
 * INSERT alike: checks the dimension and copies the row into out (size dims),
 * under cosine divided by its norm.  False when the row is not indexed: under
 * cosine a zero vector, whose <=> is NaN for every query (no cosine
 * distance).  Any other row is indexed, however small: its <=> is a number
 * for most queries, so a sequential scan returns it and so must the index.
 * The norm is summed in double, where no float square underflows to zero.
 * *bounded is false when the norm lies outside the range where the cosine
 * lower bound holds; the entry must then be marked unbounded.
 */
bool
IvfPrepareRow(Datum value, int element, int dims, int metric, float *out, bool *bounded)
{
	int			dim = IvfCopyElements(value, element, dims, out);
	double		norm2 = 0;

	if (dim != dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", dims, dim)));
	*bounded = true;
	if (metric != IVF_METRIC_COSINE)
		return true;
	for (int i = 0; i < dims; i++)
		norm2 += (double) out[i] * out[i];
	if (norm2 == 0)
		return false;
	*bounded = norm2 >= pg_ivf::core::kCosineMinSquaredNorm && norm2 < pg_ivf::core::kCosineMaxSquaredNorm;
	{
		double		norm = sqrt(norm2);

		for (int i = 0; i < dims; i++)
			out[i] = (float) (out[i] / norm);
	}
	return true;
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
