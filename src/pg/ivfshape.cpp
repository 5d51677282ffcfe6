/*
 * ivfshape.cpp — what a CREATE INDEX builds: the index's options checked
 * against its column (dimension, quantizer, pq_m; lenient on an empty
 * rebuild), the codec options, and the memory the build and the model need,
 * which the build checks against maintenance_work_mem before allocating.
 */
#include "pg.h"
#include "ivf.h"
#include "ivfbuild.h"
#include "ivfgpu.h"
#include "vector.h"


/* The default number of lists for n rows: n/1000 up to 1M rows, sqrt(n) above. */
int
IvfDefaultLists(int64 n)
{
	int64		lists = n <= 1000000 ? n / 1000 : (int64) sqrt((double) n);

	return (int) Min(Max(lists, 1), IVF_MAX_LISTS);
}

/* The default number of PQ sub-vectors: sub-vectors of 8 dimensions, or the nearest larger divisor. */
static int
DefaultPqM(int dims)
{
	for (int dsub = 8; dsub <= dims; dsub++)
		if (dims % dsub == 0)
			return dims / dsub;
	return 1;
}

/*
 * True when the build re-creates an existing index over an empty heap (TRUNCATE,
 * or REINDEX / VACUUM FULL of an empty table; heap is NULL for an unlogged
 * index's init fork).  Such a build must not fail because of an option
 * combination ALTER INDEX ... SET accepted (amoptions cannot see the
 * dimension), so it replaces the option with a WARNING; CREATE INDEX, or a
 * build over rows, keeps the error.
 */
static bool
IsEmptyRebuild(Relation heap, Relation index)
{
	return index->rd_createSubid == InvalidSubTransactionId &&
		(heap == NULL || RelationGetNumberOfBlocks(heap) == 0);
}

/* The WARNING of an empty rebuild that ignores an option; detail says what it uses instead. */
static void
WarnIgnoredOption(Relation index, const char *option, const char *detail)
{
	ereport(WARNING,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("ivf index \"%s\" ignores its option %s", RelationGetRelationName(index), option),
			 errdetail_internal("%s", detail),
			 errhint("Change the option with ALTER INDEX ... SET or RESET: a build over rows refuses it.")));
}

/* Reads options and the column's shape, and rejects what cannot be built. */
void
IvfInitBuildShape(IvfBuildState *bs, Relation heap, Relation index)
{
	IvfOptions *opts = (IvfOptions *) index->rd_options;
	Form_pg_attribute att = TupleDescAttr(RelationGetDescr(index), 0);
	int32		typmod = att->atttypmod;
	bool		lenient = IsEmptyRebuild(heap, index);

	bs->heap = heap;
	bs->index = index;
	bs->metric = IvfGetMetric(index);
	bs->element = IvfGetElement(index);
	bs->quantizer = opts ? opts->quantizer : IVF_QUANTIZER_SQ8;
	bs->residual = opts ? opts->residual : true;
	bs->lists = opts ? opts->lists : 0;
	bs->pq_m = opts ? opts->pq_m : 0;
	bs->threads = IvfBuildThreads();

	/* a domain over vector(n) carries the dimension; the column's typmod is -1 */
	if (typmod < 0)
		getBaseTypeAndTypmod(att->atttypid, &typmod);
	if (typmod < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column does not have dimensions"),
				 errhint("Declare the column as vector(n), e.g. ALTER TABLE ... ALTER COLUMN ... TYPE vector(768).")));
	bs->dims = typmod;

	if (bs->quantizer == IVF_QUANTIZER_FLAT)
		bs->residual = false;
	if (bs->quantizer == IVF_QUANTIZER_PQ)
	{
		if (bs->pq_m == 0)
			bs->pq_m = DefaultPqM(bs->dims);
		if (lenient && (bs->pq_m > bs->dims || bs->dims % bs->pq_m != 0))
		{
			WarnIgnoredOption(index, "pq_m",
							  psprintf("pq_m = %d does not divide the index's %d dimensions; the empty index uses pq_m = %d.",
									   bs->pq_m, bs->dims, DefaultPqM(bs->dims)));
			bs->pq_m = DefaultPqM(bs->dims);
		}
		if (bs->pq_m > bs->dims || bs->dims % bs->pq_m != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pq_m = %d does not divide the index's %d dimensions", bs->pq_m, bs->dims),
					 errhint("Choose a divisor of %d, such as %d.", bs->dims, DefaultPqM(bs->dims))));
	}
	else if (opts && opts->pq_m != 0 && lenient)
	{
		WarnIgnoredOption(index, "pq_m", "pq_m applies only to quantizer = 'pq'.");
		bs->pq_m = 0;
	}
	else if (opts && opts->pq_m != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pq_m applies only to quantizer = 'pq'")));

	if (lenient &&
		core::entry_size(core::code_size(static_cast<core::QuantizerKind>(bs->quantizer), bs->dims, bs->pq_m)) >
		IVF_PAGE_CAPACITY)
	{
		WarnIgnoredOption(index, bs->quantizer == IVF_QUANTIZER_PQ ? "pq_m" : "quantizer",
						  psprintf("An entry of the %d-dimensional index would not fit an ivf page; the empty index uses quantizer = 'pq' with pq_m = %d.",
								   bs->dims, DefaultPqM(bs->dims)));
		bs->quantizer = IVF_QUANTIZER_PQ;
		bs->pq_m = DefaultPqM(bs->dims);
		bs->residual = opts ? opts->residual : true;
	}
	bs->entry_size = (int) core::entry_size(core::code_size(static_cast<core::QuantizerKind>(bs->quantizer),
															bs->dims, bs->pq_m));
	if (bs->entry_size > (int) IVF_PAGE_CAPACITY)
	{
		if (bs->quantizer == IVF_QUANTIZER_PQ)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("a %d-dimensional row does not fit an ivf page with quantizer = 'pq' and pq_m = %d",
							bs->dims, bs->pq_m),
					 errhint("Choose a pq_m of at most %d, such as %d.",
							 (int) (IVF_PAGE_CAPACITY - core::kEntryCodeOffset), DefaultPqM(bs->dims))));
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a %d-dimensional row does not fit an ivf page with quantizer = '%s'",
						bs->dims, IvfQuantizerName(bs->quantizer)),
				 errhint("Use quantizer = 'pq' (any dimension up to %d), or 'sq8' (up to %d dimensions).",
						 VECTOR_MAX_DIM, (int) (IVF_PAGE_CAPACITY - core::kEntryCodeOffset))));
	}

	bs->device = IvfChooseBuildDevice(index, bs->threads);
	/* inner product trains its lists on rows with the MIPS reduction's extra coordinate */
	bs->sample_dims = bs->dims + (bs->metric == IVF_METRIC_IP ? 1 : 0);
}

/* The quantizer the index's settings ask for, as core trains it and sizes its training. */
core::CodecOptions
IvfIndexCodecOptions(const IvfBuildState *bs)
{
	core::CodecOptions o;

	o.kind = static_cast<core::QuantizerKind>(bs->quantizer);
	o.metric = static_cast<core::Metric>(bs->metric);
	o.m = bs->pq_m;
	o.residual = bs->residual;
	o.seed = IVF_SEED;
	o.threads = bs->threads;
	return o;
}

/* Bytes the build needs for a sample of s rows (reservoir, k-means, codec training). */
Size
IvfTrainingBytes(IvfBuildState *bs, int64 s, int lists)
{
	Size		bytes = (Size) s * bs->sample_dims * sizeof(float);

	bytes += core::kmeans_memory_bytes(s, lists, bs->sample_dims);
	bytes += core::codec_training_memory_bytes(IvfIndexCodecOptions(bs), s, bs->dims);
	bytes += (Size) lists * bs->sample_dims * sizeof(float) * 3 + (Size) s * sizeof(int32) * 2;
	return bytes;
}

/* A training sample of at most `target` of `available` rows, cut by quarters to what maintenance_work_mem trains. */
int64
IvfTrainingSample(IvfBuildState *bs, int64 target, int64 available)
{
	Size		budget = (Size) maintenance_work_mem * 1024;

	while (target > 0 && IvfTrainingBytes(bs, Min(target, available), bs->lists) > budget)
		target = target * 3 / 4;
	return target;
}

/* Bytes of the model every backend loads: centroids and codec parameters. */
Size
IvfModelBytes(IvfBuildState *bs, int lists)
{
	/* with the MIPS reduction: the augmented centroids, their extras and the ranking vectors too */
	return ((Size) lists * bs->dims + (bs->sample_dims > bs->dims ? (Size) lists * (2 * bs->dims + 2) : 0) +
			core::parameter_count(static_cast<core::QuantizerKind>(bs->quantizer), bs->dims)) * sizeof(float);
}

