/*
 * ivfbuild.cpp — CREATE INDEX for ivf: a chain of named steps, each setting
 * its progress phase:
 *   1. sample rows (one heap scan, reservoir sampling)
 *   2. k-means on the sample (src/core)
 *   3. train the quantizer on the sample's residuals
 *   4. assign and encode every row (second heap scan, in batches) and append
 *      it at its list's tail (IvfBuildAppend) through the buffer manager
 *   5. write the directory and meta page, then WAL-log every page at once
 * A rebuild over no rows (TRUNCATE) skips steps 2-4 when it can keep the
 * trained model of the file it replaces (ivfcarry.cpp).
 *
 * C++ objects that must live across PostgreSQL calls (the trained codec) are
 * heap-allocated and deleted by a reset callback on the build's memory
 * context, so an error or a cancel frees them too.
 */
#include "pg.h"
#include "ivf.h"
#include "guard.h"
#include "ivfgpu.h"
#include "ivfbuild.h"
#include "ivfcitus.h"
#include "ivfmodel.h"
#include "vector.h"


namespace gpu = pg_ivf::gpu;


/* Step 1's callback: reservoir sampling (Algorithm R) over indexable rows. */
static void
SampleCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			   bool tupleIsAlive, void *state)
{
	IvfBuildState *bs = (IvfBuildState *) state;
	bool		bounded;
	int64		slot;

	if (isnull[0] || !IvfPrepareRow(values[0], bs->element, bs->dims, bs->metric, bs->row, &bounded))
		return;
	if (bs->metric == IVF_METRIC_IP)
		bs->mips_max_norm2 = Max(bs->mips_max_norm2, core::mips_squared_norm(bs->row, bs->dims));
	slot = bs->nsample < bs->capacity ? bs->nsample
		: (int64) pg_prng_uint64_range(&bs->prng, 0, (uint64) bs->rows_seen);
	if (slot < bs->capacity)
	{
		memcpy(bs->sample + slot * bs->sample_dims, bs->row, sizeof(float) * bs->dims);
		if (slot == bs->nsample)
			bs->nsample++;
	}
	/* the calibration's query rows: their own reservoir, with their TIDs */
	slot = bs->calib_n < IVF_CALIB_QUERIES ? bs->calib_n
		: (int64) pg_prng_uint64_range(&bs->calib_prng, 0, (uint64) bs->rows_seen);
	if (slot < IVF_CALIB_QUERIES)
	{
		memcpy(bs->calib_queries + slot * bs->dims, bs->row, sizeof(float) * bs->dims);
		bs->calib_ids[slot] = IvfTidKey(tid);
		if (slot == bs->calib_n)
			bs->calib_n++;
	}
	bs->rows_seen++;
	if ((bs->rows_seen & 1023) == 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, bs->rows_seen);
}

/* Step 1: one heap scan filling the reservoir; settles lists and the sample size. */
static void
SampleRows(IvfBuildState *bs, IndexInfo *indexInfo)
{
	IvfOptions *opts = (IvfOptions *) bs->index->rd_options;
	int			sample_opt = opts ? opts->sample : 0;
	Size		budget = (Size) maintenance_work_mem * 1024;
	int64		row_bytes = (int64) bs->sample_dims * sizeof(float);
	int64		target;
	int64		wanted;

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_IVF_PHASE_SAMPLE);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) Max(bs->heap->rd_rel->reltuples, 0));

	/* the reservoir may use half the budget; training needs the rest */
	bs->capacity = sample_opt > 0 ? sample_opt : IVF_MAX_DEFAULT_SAMPLE;
	bs->capacity = Min(bs->capacity, (int64) (budget / 2 / row_bytes));
	if (bs->capacity < 1)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("maintenance_work_mem is too small to sample one %d-dimensional row", bs->dims)));
	bs->sample = (float *) palloc_extended((Size) bs->capacity * row_bytes, MCXT_ALLOC_HUGE);
	pg_prng_seed(&bs->prng, IVF_SEED);
	bs->calib_queries = (float *) palloc((Size) IVF_CALIB_QUERIES * row_bytes);
	bs->calib_ids = (uint64 *) palloc(sizeof(uint64) * IVF_CALIB_QUERIES);
	pg_prng_seed(&bs->calib_prng, IVF_SEED + 1);

	bs->heap_tuples = table_index_build_scan(bs->heap, bs->index, indexInfo, true, true, SampleCallback, bs, NULL);

	/*
	 * Lists beyond the rows seen could only be copies of them, so an index
	 * built from fewer rows stores one centroid per row (at least one); the
	 * lists option keeps the number asked for, for a later build.
	 */
	bs->requested_lists = bs->lists > 0 ? bs->lists : IvfDefaultLists(bs->rows_seen);
	bs->lists = (int) Max(Min((int64) bs->requested_lists, bs->rows_seen), 1);
	if (IvfModelBytes(bs, bs->lists) > budget)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("memory required for the model of %d lists is %zu MB, maintenance_work_mem is %d MB",
						bs->lists, IvfModelBytes(bs, bs->lists) / (1024 * 1024) + 1, maintenance_work_mem / 1024),
				 errdetail("Every backend that uses the index loads its model."),
				 errhint("Raise maintenance_work_mem or lower lists.")));

	/* keep a uniform subset of the reservoir when it holds more than needed */
	wanted = sample_opt > 0 ? sample_opt
		: Min((int64) bs->lists * IVF_SAMPLE_PER_LIST, (int64) IVF_MAX_DEFAULT_SAMPLE);
	target = wanted;
	wanted = Min(wanted, bs->rows_seen);
	target = IvfTrainingSample(bs, target, bs->nsample);
	if (target < Min((int64) bs->lists * IVF_MIN_SAMPLE_PER_LIST, bs->nsample))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("memory required to train %d lists is %zu MB, maintenance_work_mem is %d MB",
						bs->lists,
						IvfTrainingBytes(bs, Min((int64) bs->lists * IVF_MIN_SAMPLE_PER_LIST, bs->nsample),
									  bs->lists) / (1024 * 1024) + 1,
						maintenance_work_mem / 1024),
				 errhint("Raise maintenance_work_mem or lower lists.")));
	if (bs->nsample > target)
	{
		/* partial Fisher-Yates: the first target rows become a uniform subset */
		float	   *tmp = (float *) palloc(row_bytes);

		for (int64 i = 0; i < target; i++)
		{
			int64		j = (int64) pg_prng_uint64_range(&bs->prng, i, bs->nsample - 1);

			if (j != i)
			{
				memcpy(tmp, bs->sample + i * bs->sample_dims, row_bytes);
				memcpy(bs->sample + i * bs->sample_dims, bs->sample + j * bs->sample_dims, row_bytes);
				memcpy(bs->sample + j * bs->sample_dims, tmp, row_bytes);
			}
		}
		pfree(tmp);
		bs->nsample = target;
	}
	/* the sample asked for (explicitly or by default) was cut to fit the budget */
	if (bs->nsample < wanted)
		ereport(NOTICE,
				(errmsg("ivf index trained on %lld rows, fewer than %lld, to stay within maintenance_work_mem",
						(long long) bs->nsample, (long long) wanted),
				 errhint("Raise maintenance_work_mem to about %zu MB for the full sample.",
						 IvfTrainingBytes(bs, wanted, bs->lists) / (1024 * 1024) + 1)));
}

/* The NOTICE of a build from fewer rows than lists (unless its model was carried over). */
static void
NoticeUntrained(IvfBuildState *bs)
{
	IvfOptions *opts = (IvfOptions *) bs->index->rd_options;

	/* a Citus shell is always empty: its shards, built by the same command, hold the rows */
	if (bs->rows_seen < bs->requested_lists && !IvfIsCitusShell(RelationGetRelid(bs->heap)))
		ereport(NOTICE,
				(errmsg("ivf index \"%s\" is untrained: built from %lld rows, too few to train lists = %d",
						RelationGetRelationName(bs->index), (long long) bs->rows_seen, bs->requested_lists),
				 errdetail_plural("It has %d list until it trains itself. Results are correct, but queries read more "
								  "of the index and the table than with trained lists and codes.",
								  "It has %d lists until it trains itself. Results are correct, but queries read more "
								  "of the index and the table than with trained lists and codes.",
								  bs->lists, bs->lists),
				 errhint("VACUUM (autovacuum too) trains it once the table holds %d rows or more; "
						 "SELECT ivf_maintain('%s') then trains it without waiting.",
						 (opts != NULL && opts->lists > 0 ? opts->lists : 1) * IVF_MAINT_ROWS_PER_LIST,
						 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(bs->index)),
													RelationGetRelationName(bs->index)))));
}

static void
DeleteCodec(void *p)
{
	delete static_cast<core::Codec *>(p);
}

static void
DeleteAssigner(void *p)
{
	delete static_cast<core::Assigner *>(p);
}

static void
DeleteTracker(void *p)
{
	delete static_cast<core::NeighbourTracker *>(p);
}

/*
 * Steps 2 and 3: k-means on the sample, then the quantizer on its residuals.
 * Under inner product k-means runs on the augmented rows of the MIPS
 * reduction (src/core/mips.h): their extra coordinates are written into the
 * sample's spare column first, and the column is dropped before step 3, whose
 * codes stay d-dimensional.  Also a maintenance's training (ivfmaint.cpp),
 * which reports no build progress.
 */
void
IvfTrainModel(IvfBuildState *bs)
{
	int32	   *labels = (int32 *) palloc_extended(sizeof(int32) * Max(bs->nsample, 1), MCXT_ALLOC_HUGE);
	float	   *dist2 = (float *) palloc_extended(sizeof(float) * Max(bs->nsample, 1), MCXT_ALLOC_HUGE);
	float	   *trained = (float *) palloc_extended(sizeof(float) * bs->lists * (Size) bs->sample_dims,
													MCXT_ALLOC_HUGE);
	bool		augmented = bs->sample_dims > bs->dims;
	core::Codec *codec = NULL;
	void	  **codec_slot;

	bs->centroids = (float *) palloc_extended(sizeof(float) * bs->lists * (Size) bs->dims, MCXT_ALLOC_HUGE);
	if (augmented)
		bs->mips_extras = (float *) palloc(sizeof(float) * bs->lists);
	/* no reduction without a nonzero row, nor for norms where the operator itself may overflow */
	if (!(bs->mips_max_norm2 < core::kMipsMaxSquaredNorm))
		bs->mips_max_norm2 = 0;
	/* the ranking vectors come from the sample's own rows and labels, so build and maintenance agree */
	bs->mips_rank = augmented && bs->mips_max_norm2 > 0
		? (float *) palloc_extended(sizeof(float) * bs->lists * (Size) bs->dims, MCXT_ALLOC_HUGE) : NULL;

	if (!bs->live)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_IVF_PHASE_KMEANS);
	IvfGuard("ivf k-means", [&]() {
		core::Hooks hooks = IvfCancelHooks();

		/* before a GPU assigner may take the rows: extras of 0 (no reduction) are plain L2 */
		if (augmented)
			core::mips_augment_rows(bs->sample, bs->sample_dims, bs->nsample, bs->dims, bs->mips_max_norm2,
									bs->sample);
		std::unique_ptr<core::Assigner> assigner =
			gpu::make_assigner(bs->device == IVF_DEVICE_GPU, bs->threads, bs->sample, bs->nsample);
		core::KMeansParams params;

		params.k = bs->lists;
		params.iterations = ivf_kmeans_iterations;
		params.seed = IVF_SEED;
		params.spherical = bs->metric == IVF_METRIC_COSINE;
		/*
		 * A PostgreSQL call inside the guard, allowed because it cannot fail:
		 * it only stores into this backend's progress slot in shared memory
		 * (inside a critical section, no allocation, no ereport).
		 */
		if (!bs->live)
			hooks.progress = [](size_t done, size_t total) {
				const int	index[] = {PROGRESS_CREATEIDX_TUPLES_DONE, PROGRESS_CREATEIDX_TUPLES_TOTAL};
				const int64 val[] = {(int64) done, (int64) total};

				pgstat_progress_update_multi_param(2, index, val);
			};
		core::KMeansResult result = core::train_kmeans(bs->sample, bs->nsample, bs->sample_dims, params,
													   *assigner, hooks);
		std::copy(result.centroids.begin(), result.centroids.end(), trained);
		if (bs->nsample > 0)
			assigner->assign(bs->sample, bs->nsample, trained, bs->lists, bs->sample_dims, labels, dist2, hooks);
		if (augmented)
		{
			core::mips_split_centroids(trained, bs->lists, bs->dims, bs->centroids, bs->mips_extras);
			core::mips_drop_extra(bs->sample, bs->nsample, bs->dims);
			if (bs->mips_max_norm2 > 0)
				core::mips_rank_vectors(bs->sample, (size_t) bs->nsample, bs->dims, labels, bs->centroids,
										bs->lists, bs->mips_rank);
		}
		else
			std::copy(trained, trained + (size_t) bs->lists * bs->dims, bs->centroids);
	});
	bs->list_centroids = bs->mips_max_norm2 > 0 ? trained : bs->centroids;

	if (!bs->live)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_IVF_PHASE_TRAIN);
	codec_slot = IvfDeleteOnReset(bs->cxt, DeleteCodec, NULL);
	IvfGuard("ivf quantizer training", [&]() {
		core::Hooks hooks = IvfCancelHooks();
		std::unique_ptr<core::Assigner> assigner = gpu::make_assigner(bs->device == IVF_DEVICE_GPU, bs->threads);

		codec = new core::Codec(core::train_codec(IvfIndexCodecOptions(bs), bs->sample, bs->nsample, bs->dims,
												  bs->centroids, labels, *assigner, hooks));
		*codec_slot = codec;
	});
	bs->codec = codec;
	if ((int) codec->entry_bytes() != bs->entry_size)
		elog(ERROR, "ivf entry size %zu differs from the expected %d. Please report a bug.",
			 codec->entry_bytes(), bs->entry_size);
	/* a model with an infinite parameter would refuse to load and block every INSERT */
	if (!core::all_finite(bs->centroids, (size_t) bs->lists * bs->dims) || !codec->parameters_finite() ||
		(bs->mips_max_norm2 > 0 && !core::all_finite(bs->mips_extras, bs->lists)) ||
		(bs->mips_rank != NULL && !core::all_finite(bs->mips_rank, (size_t) bs->lists * bs->dims)))
		elog(ERROR, "ivf index \"%s\" training gave a non-finite model. Please report a bug.",
			 RelationGetRelationName(bs->index));

	/* the sample is no longer needed */
	pfree(bs->sample);
	bs->sample = NULL;
	pfree(labels);
	pfree(dist2);
}

/* The trained codec's parameters, palloc'd (so an error anywhere frees them with the context). */
static float *
ExportParameters(IvfBuildState *bs)
{
	Size		nparams = bs->codec->parameter_count();
	float	   *params = (float *) palloc_extended(sizeof(float) * Max(nparams, 1), MCXT_ALLOC_HUGE);

	IvfGuard("ivf parameter export", [&]() {
		std::vector<float> p = bs->codec->parameters();

		if (p.size() != nparams)
			throw std::logic_error("codec parameter count changed");
		std::copy(p.begin(), p.end(), params);
	});
	bs->param_floats = nparams;
	return params;
}

/*
 * Writes the parameter stream (centroids, then bs->param_floats params; NULL:
 * the trained codec's) and an empty directory, WAL-logged when live (a
 * maintenance, ivfmaint.cpp); the lists start empty.
 */
void
IvfWriteModel(IvfBuildState *bs, const float *params)
{
	if (params == NULL)
		params = ExportParameters(bs);

	/*
	 * The stream: centroids, then codec parameters, then the MIPS reduction's
	 * extras and the lists' ranking vectors (if any; IvfMipsExtraFloats).
	 */
	{
		const char *parts[4] = {(const char *) bs->centroids, (const char *) params, (const char *) bs->mips_extras,
		(const char *) bs->mips_rank};
		Size		sizes[4] = {(Size) bs->lists * bs->dims * sizeof(float), bs->param_floats * sizeof(float),
			(Size) bs->lists * sizeof(float), (Size) bs->lists * bs->dims * sizeof(float)};
		int			nparts = bs->mips_max_norm2 > 0 ? (bs->mips_rank != NULL ? 4 : 3) : 2;

		IvfWriteBlob(bs->index, bs->fork, bs->live, parts, sizes, nparts, &bs->blob_start, &bs->blob_pages);
	}

	IvfReserveDirectory(bs->index, bs->fork, bs->live, bs->lists, &bs->dir_start, &bs->dir_pages);
	bs->dir = (IvfListData *) palloc(sizeof(IvfListData) * bs->lists);
	for (int i = 0; i < bs->lists; i++)
		bs->dir[i].head = bs->dir[i].insert = InvalidBlockNumber;
}

/* Assigns, encodes and appends the rows gathered in the batch. */
void
IvfFlushBatch(IvfBuildState *bs)
{
	int			n = bs->nbatch;
	int		   *order;
	int		   *start;
	char	   *sorted;

	if (n == 0)
		return;
	for (int i = 0; i < n; i++)
		bs->batch_ids[i] = IvfTidKey(&bs->batch_tids[i]);
	IvfGuard("ivf row assignment", [&]() {
		core::Hooks hooks = IvfCancelHooks();
		std::vector<float> dist2(n);

		core::assign_to_lists(*bs->assigner, bs->batch, n, bs->dims, bs->list_centroids, bs->lists,
							  bs->mips_max_norm2, bs->batch_labels, dist2.data(), hooks);
		core::encode_rows(*bs->codec, bs->batch, n, bs->centroids, bs->batch_labels,
						  (uint8_t *) bs->batch_entries, bs->entry_size, bs->threads);
		for (int i = 0; i < n; i++)
			if (!bs->batch_bounded[i])
				core::mark_entry_unbounded((uint8_t *) bs->batch_entries + (size_t) i * bs->entry_size);
		/* every row passes here once: the calibration's exact neighbours cost no extra heap scan */
		if (bs->tracker != NULL)
			bs->tracker->add(bs->batch, bs->batch_ids, bs->batch_labels, n, bs->threads, hooks);
	});

	/* counting sort by list, so each list's page is locked once per batch */
	start = (int *) palloc0(sizeof(int) * (bs->lists + 1));
	order = (int *) palloc(sizeof(int) * n);
	sorted = (char *) palloc((Size) n * bs->entry_size);
	for (int i = 0; i < n; i++)
		start[bs->batch_labels[i] + 1]++;
	for (int l = 0; l < bs->lists; l++)
		start[l + 1] += start[l];
	for (int i = 0; i < n; i++)
		order[start[bs->batch_labels[i]]++] = i;
	for (int i = 0; i < n; i++)
	{
		char	   *e = sorted + (Size) i * bs->entry_size;

		memcpy(e, bs->batch_entries + (Size) order[i] * bs->entry_size, bs->entry_size);
		memset(e, 0, core::kEntryTidBytes);
		memcpy(e, &bs->batch_tids[order[i]], sizeof(ItemPointerData));
	}
	for (int i = 0; i < n;)
	{
		int			list = bs->batch_labels[order[i]];
		int			j = i;

		while (j < n && bs->batch_labels[order[j]] == list)
			j++;
		if (bs->live)
			IvfPrivateAppend(bs->index, &bs->dir[list], core::chain_stamp(bs->generation, list), bs->entry_size,
							 sorted + (Size) i * bs->entry_size, j - i);
		else
			IvfBuildAppend(bs->index, bs->fork, &bs->dir[list], core::chain_stamp(bs->generation, list),
						   bs->entry_size, sorted + (Size) i * bs->entry_size, j - i);
		i = j;
	}
	pfree(start);
	pfree(order);
	pfree(sorted);
	bs->indtuples += n;
	bs->nbatch = 0;
	if (!bs->live)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, bs->indtuples);
	CHECK_FOR_INTERRUPTS();
}

/* Adds one row of the index to the batch (an indexable one: see IvfPrepareRow). */
void
IvfBatchRow(IvfBuildState *bs, ItemPointer tid, Datum value)
{
	if (!IvfPrepareRow(value, bs->element, bs->dims, bs->metric, bs->batch + (Size) bs->nbatch * bs->dims,
					   &bs->batch_bounded[bs->nbatch]))
		return;
	/*
	 * The model's M bounds every row of its training, not rows added since
	 * (CREATE INDEX CONCURRENTLY's second pass, a maintenance's copy).
	 */
	if (bs->mips_max_norm2 > 0 &&
		core::mips_squared_norm(bs->batch + (Size) bs->nbatch * bs->dims, bs->dims) > bs->mips_max_norm2)
		bs->mips_overflow = true;
	bs->batch_tids[bs->nbatch] = *tid;
	if (++bs->nbatch == bs->batch_cap)
		IvfFlushBatch(bs);
}

/* Step 4's callback: gather rows into the batch. */
static void
AssignCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			   bool tupleIsAlive, void *state)
{
	if (!isnull[0])
		IvfBatchRow((IvfBuildState *) state, tid, values[0]);
}

/*
 * Step 4's end: the rank of each query's neighbours' lists in scan order,
 * from the exact neighbours the pass tracked.
 */
static void
CalibrateBuild(IvfBuildState *bs)
{
	bs->calib_ranks = (uint16 *) palloc(sizeof(uint16) * IVF_CALIB_MAX_RANKS);
	IvfGuard("ivf recall calibration", [&]() {
		std::vector<uint16_t> ranks = core::calibration_ranks(*bs->tracker, *bs->codec,
															  bs->mips_rank ? bs->mips_rank : bs->centroids,
															  (size_t) bs->lists, IvfCancelHooks());

		bs->calib_count = (int) std::min<size_t>(ranks.size(), IVF_CALIB_MAX_RANKS);
		std::copy(ranks.begin(), ranks.begin() + bs->calib_count, bs->calib_ranks);
	});
}

/* The batch arrays and the assigner of step 4 (or of a maintenance's copy). */
void
IvfStartBatches(IvfBuildState *bs)
{
	void	  **assigner_slot;

	bs->batch_cap = (int) Max(1, Min(4096, IVF_BATCH_BYTES / ((Size) bs->dims * sizeof(float))));
	bs->batch = (float *) palloc((Size) bs->batch_cap * bs->dims * sizeof(float));
	bs->batch_tids = (ItemPointerData *) palloc(sizeof(ItemPointerData) * bs->batch_cap);
	bs->batch_ids = (uint64 *) palloc(sizeof(uint64) * bs->batch_cap);
	bs->batch_bounded = (bool *) palloc(sizeof(bool) * bs->batch_cap);
	bs->batch_labels = (int32 *) palloc(sizeof(int32) * bs->batch_cap);
	bs->batch_entries = (char *) palloc((Size) bs->batch_cap * bs->entry_size);
	bs->nbatch = 0;

	/* one assigner for every batch: a GPU one keeps its context and centroids */
	assigner_slot = IvfDeleteOnReset(bs->cxt, DeleteAssigner, NULL);
	IvfGuard("ivf row assignment", [&]() {
		*assigner_slot = bs->assigner = gpu::make_assigner(bs->device == IVF_DEVICE_GPU, bs->threads, NULL, 0,
															  bs->list_centroids).release();
	});

}

/* Step 4: the second heap scan. */
static void
AssignRows(IvfBuildState *bs, IndexInfo *indexInfo)
{
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_IVF_PHASE_ASSIGN);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, bs->rows_seen);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, 0);
	IvfStartBatches(bs);

	/* an untrained index has nothing to calibrate: its one list per row is read whole */
	if (bs->rows_seen >= bs->requested_lists && bs->calib_n > 0)
	{
		void	  **tracker_slot = IvfDeleteOnReset(bs->cxt, DeleteTracker, NULL);

		IvfGuard("ivf recall calibration", [&]() {
			*tracker_slot = bs->tracker = new core::NeighbourTracker(
				(core::Metric) bs->metric, (size_t) bs->dims, IVF_CALIB_K, bs->calib_queries, bs->calib_ids,
				(size_t) bs->calib_n);
		});
	}

	table_index_build_scan(bs->heap, bs->index, indexInfo, true, true, AssignCallback, bs, NULL);
	IvfFlushBatch(bs);
	if (bs->tracker != NULL)
		CalibrateBuild(bs);
}

/*
 * The meta fields that say what model was built and where it lies: set by a
 * build's step 5 and by a maintenance's swap (ivfmaint.cpp), which then add
 * their own.
 */
void
IvfSetModelMeta(const IvfBuildState *bs, IvfMetaPageData *meta)
{
	meta->lists = bs->lists;
	meta->requested_lists = bs->requested_lists;
	meta->mips_max_norm2 = bs->mips_max_norm2;
	meta->mips_overflow = bs->mips_overflow;
	meta->mips_rank = bs->mips_max_norm2 > 0 && bs->mips_rank != NULL;
	meta->blob_start = bs->blob_start;
	meta->blob_pages = bs->blob_pages;
	meta->centroid_floats = (uint64) bs->lists * bs->dims;
	meta->param_floats = bs->param_floats;
	meta->dir_start = bs->dir_start;
	meta->dir_pages = bs->dir_pages;
	meta->trained_rows = bs->nsample;
	/* every chain written here carries core::chain_stamp(bs->generation, list) */
	meta->chain_stamps = 1;
	strlcpy(meta->build_device, IvfDeviceName(bs->device), sizeof(meta->build_device));
}

/* Step 5: directory slots and the meta page, then WAL for every page. */
static void
FinishIndex(IvfBuildState *bs)
{
	IvfMetaPageData meta;

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_IVF_PHASE_WRITE);
	IvfWriteDirectory(bs->index, bs->fork, false, bs->dir_start, bs->dir, bs->lists);

	memset(&meta, 0, sizeof(meta));
	meta.magic = IVF_MAGIC;
	meta.version = IVF_VERSION;
	meta.nonce = pg_prng_uint64(&pg_global_prng_state) ^ (uint64) GetCurrentTimestamp();
	meta.dims = bs->dims;
	meta.metric = bs->metric;
	meta.quantizer = bs->quantizer;
	meta.pq_m = bs->pq_m;
	meta.residual = bs->residual;
	meta.entry_size = bs->entry_size;
	meta.untrained = bs->carried == NULL && bs->rows_seen < bs->requested_lists;
	IvfSetModelMeta(bs, &meta);
	meta.build_rows = bs->indtuples;
	if (bs->calib_count > 0)
		IvfSetCalibration(&meta, (uint64) bs->indtuples, bs->calib_ranks, bs->calib_count);
	if (bs->carried != NULL)
	{
		/* the model's own training record travels with it */
		meta.trained_rows = bs->carried->trained_rows;
		memcpy(meta.build_device, bs->carried->build_device, sizeof(meta.build_device));
		meta.model_carried = 1;
	}
	IvfWriteMetaPage(bs->index, bs->fork, &meta);

	if (RelationNeedsWAL(bs->index) || bs->fork == INIT_FORKNUM)
		log_newpage_range(bs->index, bs->fork, 0, RelationGetNumberOfBlocksInFork(bs->index, bs->fork), true);
}

/* Builds the whole index into the given fork. */
static void
BuildIndex(Relation heap, Relation index, IndexInfo *indexInfo, IvfBuildState *bs, ForkNumber fork)
{
	if (RelationGetNumberOfBlocksInFork(index, fork) != 0)
		elog(ERROR, "index \"%s\" already contains data. Please report a bug.", RelationGetRelationName(index));
	IvfInitBuildShape(bs, heap, index);
	bs->row = (float *) palloc(sizeof(float) * bs->dims);
	if (heap != NULL)
		SampleRows(bs, indexInfo);
	else
	{
		/* an empty init fork: one list, as a build over no rows, and as untrained */
		bs->requested_lists = Max(bs->lists, 1);
		bs->lists = 1;
		bs->sample = (float *) palloc(sizeof(float));
	}
	bs->fork = fork;
	/* nothing to train on: keep the model of the file this rebuild replaces, if it fits */
	if (heap != NULL && bs->rows_seen == 0 && IvfCarryModel(bs))
	{
		IvfReserveMetaPage(bs->index, bs->fork);
		IvfWriteModel(bs, bs->carried_params);
	}
	else
	{
		if (heap != NULL)
			NoticeUntrained(bs);
		IvfTrainModel(bs);
		IvfReserveMetaPage(bs->index, bs->fork);
		IvfWriteModel(bs, NULL);
		if (heap != NULL)
			AssignRows(bs, indexInfo);
	}
	FinishIndex(bs);
}

IndexBuildResult *
ivfbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IvfBuildState *bs;
	IndexBuildResult *result;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "ivf build",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);

	bs = (IvfBuildState *) palloc0(sizeof(IvfBuildState));
	bs->cxt = cxt;
	BuildIndex(heap, index, indexInfo, bs, MAIN_FORKNUM);

	MemoryContextSwitchTo(old);
	result = (IndexBuildResult *) palloc(sizeof(IndexBuildResult));
	result->heap_tuples = bs->heap_tuples;
	result->index_tuples = (double) bs->indtuples;
	MemoryContextDelete(cxt);
	return result;
}

/* The init fork of an unlogged index: an untrained model with one empty list. */
void
ivfbuildempty(Relation index)
{
	IvfBuildState *bs;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "ivf build empty",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);

	bs = (IvfBuildState *) palloc0(sizeof(IvfBuildState));
	bs->cxt = cxt;
	BuildIndex(NULL, index, NULL, bs, INIT_FORKNUM);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}
