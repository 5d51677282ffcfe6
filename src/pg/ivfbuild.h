/*
 * ivfbuild.h — the state of one CREATE INDEX, shared by the build's steps
 * (ivfbuild.cpp) and the choice of what to build (ivfshape.cpp).
 */
#ifndef PG_IVF_IVFBUILD_H
#define PG_IVF_IVFBUILD_H

#include "pg.h"
#include "ivf.h"

namespace core = pg_ivf::core;

#define IVF_MAX_DEFAULT_SAMPLE	1000000
#define IVF_SAMPLE_PER_LIST		128
#define IVF_MIN_SAMPLE_PER_LIST	4
#define IVF_BATCH_BYTES			(16 * 1024 * 1024)
#define IVF_SEED				1234

/* Everything one CREATE INDEX knows, step by step; lives in cxt. */
typedef struct IvfBuildState
{
	Relation	heap;
	Relation	index;
	ForkNumber	fork;			/* MAIN_FORKNUM, or INIT_FORKNUM for an unlogged index */
	MemoryContext cxt;			/* everything below lives here */

	/* shape */
	int			dims;
	int			metric;
	int			element;		/* IVF_ELEMENT_*: how heap values are read */
	int			quantizer;
	int			lists;			/* centroids stored: at most the rows seen, at least 1 */
	int			requested_lists;	/* the lists option or its default */
	int			pq_m;
	bool		residual;
	int			entry_size;
	int			threads;
	int			device;			/* IVF_DEVICE_CPU or _GPU: where k-means and assignment run */
	int			sample_dims;	/* floats per sample row: dims, + 1 under inner product (the
								 * MIPS reduction's extra coordinate, filled after step 1) */
	bool		live;			/* a maintenance of a live index (ivfmaint.cpp): WAL-logged, no build progress */
	uint64		generation;		/* of the structure built: 0, or the maintenance's new one */

	/* step 1: reservoir */
	float	   *sample;			/* size capacity * sample_dims; * dims after step 2 */
	int64		capacity;
	int64		nsample;
	int64		rows_seen;		/* rows that are indexable (IvfPrepareRow) */
	double		heap_tuples;	/* live heap rows the scan saw, predicate or not (pg_class.reltuples) */
	float	   *row;			/* size dims: one prepared row */
	pg_prng_state prng;
	double		mips_max_norm2;	/* inner product: the largest squared norm of the rows seen */

	/* recall calibration: a reservoir of query rows (own generator, so training is unchanged) */
	pg_prng_state calib_prng;
	float	   *calib_queries;	/* size IVF_CALIB_QUERIES * dims */
	uint64	   *calib_ids;		/* IvfTidKey of each query row */
	int			calib_n;
	core::NeighbourTracker *tracker;	/* step 4's; new'd, deleted like codec; NULL: no calibration */
	uint16	   *calib_ranks;	/* size IVF_CALIB_MAX_RANKS, after step 4 */
	int			calib_count;

	/* steps 2-3 */
	float	   *centroids;		/* size lists * dims */
	float	   *mips_extras;	/* size lists, when mips_max_norm2 > 0: centroids' extra coordinates */
	float	   *list_centroids;	/* what rows are assigned to: centroids, or lists * (dims + 1) augmented */
	float	   *mips_rank;		/* size lists * dims, when mips_max_norm2 > 0: the lists' ranking vectors
								 * (core::mips_rank_vectors); NULL: ranked by centroids */
	core::Codec *codec;			/* new'd; deleted by the context's reset callback */
	core::Assigner *assigner;	/* step 4's; new'd, deleted like codec */

	/* step 4 */
	float	   *batch;			/* size batch_cap * dims */
	ItemPointerData *batch_tids;
	uint64	   *batch_ids;		/* IvfTidKey of batch_tids, for the calibration */
	bool	   *batch_bounded;	/* false: the entry gets an unbounded error */
	int32	   *batch_labels;
	char	   *batch_entries;	/* size batch_cap * entry_size */
	int			batch_cap;
	int			nbatch;
	IvfListData *dir;			/* size lists */
	int64		indtuples;
	bool		mips_overflow;	/* a row of step 4 (CREATE INDEX CONCURRENTLY) is beyond M */

	/* a rebuild over no rows that keeps the replaced file's model (ivfcarry.cpp) */
	IvfMetaPageData *carried;	/* that file's meta page; NULL when the build trains */
	float	   *carried_params;	/* its codec parameters (after the centroids) */

	BlockNumber blob_start;
	uint32		blob_pages;
	BlockNumber dir_start;
	uint32		dir_pages;
	uint64		param_floats;
} IvfBuildState;

/* ivfshape.cpp: what to build, and what it costs */
extern int	IvfDefaultLists(int64 n);
extern void IvfInitBuildShape(IvfBuildState *bs, Relation heap, Relation index);
extern core::CodecOptions IvfIndexCodecOptions(const IvfBuildState *bs);
extern Size IvfTrainingBytes(IvfBuildState *bs, int64 s, int lists);
extern int64 IvfTrainingSample(IvfBuildState *bs, int64 target, int64 available);
extern Size IvfModelBytes(IvfBuildState *bs, int lists);

/* ivfbuild.cpp: the steps a maintenance shares with the build */
extern void IvfTrainModel(IvfBuildState *bs);
extern void IvfWriteModel(IvfBuildState *bs, const float *params);
extern void IvfSetModelMeta(const IvfBuildState *bs, IvfMetaPageData *meta);
extern void IvfStartBatches(IvfBuildState *bs);
extern void IvfBatchRow(IvfBuildState *bs, ItemPointer tid, Datum value);
extern void IvfFlushBatch(IvfBuildState *bs);

/* ivfcarry.cpp: the trained model of the index file a rebuild over an empty heap replaces */
extern bool IvfCarryModel(IvfBuildState *bs);

#endif
