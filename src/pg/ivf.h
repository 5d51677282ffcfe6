/*
 * ivf.h — every constant and on-disk struct of the ivf access method.
 *
 * Layout of an ivf index (see docs/ARCHITECTURE.md for the picture):
 *   block 0                 meta page (IvfMetaPageData)
 *   blob_start..+blob_pages trained parameters as one float stream:
 *                           centroids (lists * dims) then codec parameters
 *   dir_start..+dir_pages   list directory: IvfListData per list
 *   everything else         data pages: fixed-size entries packed from the
 *                           page header up to pd_lower, chained per list
 *                           from head to tail; and free pages (unlinked by
 *                           VACUUM, listed in the free space map)
 * Only ivfpage.cpp reads or writes this layout; ivflist.cpp walks, grows and
 * shrinks the chains through it.
 */
#ifndef PG_IVF_IVF_H
#define PG_IVF_IVF_H

#include "pg.h"


#define IVF_MAGIC			0x31465649	/* "IVF1" */
#define IVF_VERSION			1
#define IVF_PAGE_ID			0xFFA7
#define IVF_METAPAGE_BLKNO	0
/* Meta page format written by 0.1.0; IvfGetMetaPage reads this one up to IVF_VERSION */
#define IVF_OLDEST_VERSION	1

/* Support function: returns the metric code of the operator class. */
#define IVF_METRIC_PROC		1

/*
 * Element formats of the indexed type, from the operator class's input type:
 * "vector" (pg_ivf's or pgvector's, one layout: int16 dim, int16 unused,
 * float4[dim]) or pgvector's "halfvec" (the same with binary16 elements,
 * converted to float once per row and query).  Nothing on disk depends on it.
 */
#define IVF_ELEMENT_FLOAT4	1
#define IVF_ELEMENT_HALF	2

/* Page types, in IvfPageOpaqueData.page_type */
#define IVF_PAGE_META		1
#define IVF_PAGE_BLOB		2
#define IVF_PAGE_DIRECTORY	3
#define IVF_PAGE_DATA		4
#define IVF_PAGE_FREE		5	/* unlinked by VACUUM; reused through the FSM */

/*
 * Quantizers and metrics, as the meta page, the reloption and the operator
 * classes' support function store them: names for core's enums, which are
 * the one definition of their numbers.
 */
#define IVF_QUANTIZER_SQ8	((int) pg_ivf::core::QuantizerKind::kSq8)
#define IVF_QUANTIZER_PQ	((int) pg_ivf::core::QuantizerKind::kPq)
#define IVF_QUANTIZER_FLAT	((int) pg_ivf::core::QuantizerKind::kFlat)
#define IVF_METRIC_L2		((int) pg_ivf::core::Metric::kL2)
#define IVF_METRIC_IP		((int) pg_ivf::core::Metric::kInnerProduct)
#define IVF_METRIC_COSINE	((int) pg_ivf::core::Metric::kCosine)

/* Build phases reported in pg_stat_progress_create_index */
#define PROGRESS_IVF_PHASE_SAMPLE	2
#define PROGRESS_IVF_PHASE_KMEANS	3
#define PROGRESS_IVF_PHASE_TRAIN	4
#define PROGRESS_IVF_PHASE_ASSIGN	5
#define PROGRESS_IVF_PHASE_WRITE	6

#define IVF_MAX_LISTS		100000

/* Recall calibration: query rows, neighbours per query, ranks the meta page keeps */
#define IVF_CALIB_QUERIES	100
#define IVF_CALIB_K			10
#define IVF_CALIB_MAX_RANKS	(IVF_CALIB_QUERIES * IVF_CALIB_K)
#define IVF_DEFAULT_PROBES	8

typedef struct IvfPageOpaqueData
{
	BlockNumber next;			/* next page of this list / blob / directory */
	uint16		page_type;
	uint16		page_id;		/* IVF_PAGE_ID, for tools that identify AMs */
} IvfPageOpaqueData;

typedef IvfPageOpaqueData *IvfPageOpaque;

#define IvfPageGetOpaque(page) ((IvfPageOpaque) PageGetSpecialPointer(page))

/* Where entries start on a data page, and how many bytes a page can hold */
#define IVF_PAGE_DATA_START	MAXALIGN(SizeOfPageHeaderData)
#define IVF_PAGE_CAPACITY	(BLCKSZ - IVF_PAGE_DATA_START - MAXALIGN(sizeof(IvfPageOpaqueData)))

typedef struct IvfMetaPageData
{
	uint32		magic;
	uint32		version;
	uint64		nonce;			/* random per build: validates backend caches */
	int32		dims;
	int32		metric;
	int32		quantizer;
	int32		lists;
	int32		pq_m;
	int32		residual;
	int32		entry_size;		/* bytes per entry on data pages */
	int32		untrained;		/* built from fewer rows than lists: NOTICE given */
	BlockNumber blob_start;
	uint32		blob_pages;
	uint64		centroid_floats;
	uint64		param_floats;
	BlockNumber dir_start;
	uint32		dir_pages;
	uint64		build_rows;		/* heap rows indexed by CREATE INDEX */
	uint64		trained_rows;	/* rows in the training sample */
	char		build_device[16];
	/*
	 * Lists the build was asked for (the lists option or its default for the
	 * rows seen); more than lists when untrained.  0 in indexes built before
	 * 0.2.0: the page beyond their meta data is zero, so the field needs no
	 * new format version.
	 */
	int32		requested_lists;

	/*
	 * Model carried over (issue 11): 1 when a rebuild over an empty heap
	 * (TRUNCATE, REINDEX or VACUUM FULL of an empty table) kept the trained
	 * model of the index file it replaced instead of training on no rows;
	 * maintenance re-checks such a model once rows come back and clears it.
	 * 0 in older indexes, like requested_lists.
	 */
	int32		model_carried;

	/*
	 * Recall calibration (ivf.target_recall; ivfcalib.cpp): for
	 * IVF_CALIB_QUERIES indexed rows, the rank in scan order of the list of
	 * each of their IVF_CALIB_K exact nearest other rows, sorted.  All 0 in
	 * indexes built before 0.2.0 and in untrained ones: no calibration.
	 */
	uint64		calib_rows;		/* entries in the index when calibrated */
	int32		calib_count;	/* ranks stored; 0: not calibrated */
	uint16		calib_ranks[IVF_CALIB_MAX_RANKS];
	/*
	 * Inner product: the MIPS-to-L2 reduction (src/core/mips.h).  0 in
	 * indexes built before it, for other metrics and when every row was zero:
	 * lists are then L2 cells of the rows themselves.
	 */
	double		mips_max_norm2;	/* M^2: the largest squared row norm at build; when > 0
								 * the lists' extra coordinates (lists floats) follow
								 * the codec's parameters in the stream */
	int32		mips_overflow;	/* a row with norm above M was indexed since: no IP
								 * list bound (set once, WAL-logged) */

	/*
	 * Maintenance (ivfmaint.cpp: self-training, re-balancing, the model swap);
	 * all 0 in indexes built before it, which reads as "never maintained".
	 */
	int32		maint_state;	/* IVF_MAINT_*: RUNNING = orphan pages may exist */
	uint64		generation;		/* models swapped in since the build */
	int64		last_maintenance;	/* TimestampTz of the last swap, 0: none */
	/* the model the last swap replaced, kept while older snapshots may scan it */
	int32		retired_lists;	/* 0: none */
	BlockNumber retired_blob_start;
	uint32		retired_blob_pages;
	BlockNumber retired_dir_start;
	uint32		retired_dir_pages;
	uint64		retired_fxid;	/* FullTransactionId: next xid at the swap */
	uint64		maintained_rows;	/* rows the index held when its model was last trained by maintenance */

	/*
	 * Inner-product list ranking (issue 13 goal 2): 1 when the parameter
	 * stream carries, after the MIPS extras, lists * dims ranking vectors
	 * (core::mips_rank_vectors) that scans rank lists by.  0 in indexes built
	 * before them, which rank by the centroids.
	 */
	int32		mips_rank;

	/*
	 * Shared chains (issue 11: a split shares unchanged lists' chains): 1 when
	 * every data page of the live structure carries its chain's stamp (birth,
	 * list; src/core/stamp.h), as builds and maintenances write them since
	 * shared chains exist; a split may then share chains.  0 in indexes built
	 * by 0.1.0 (stamp 0 on every page) until a maintenance rewrites every list.
	 */
	int32		chain_stamps;
} IvfMetaPageData;

/* Rows per list an index needs before it trains itself (k-means needs data for every centroid) */
#define IVF_MAINT_ROWS_PER_LIST	32
#define IVF_MAINT_NONE		0
#define IVF_MAINT_RUNNING	1	/* set before a maintenance writes pages; cleared by the swap or reclaim */

typedef IvfMetaPageData *IvfMetaPage;

#define IvfPageGetMeta(page) ((IvfMetaPage) PageGetContents(page))

/* One directory slot per list */
typedef struct IvfListData
{
	BlockNumber head;			/* first page (invalid: no page); chain follows opaque->next */
	BlockNumber insert;			/* page inserts try first; they walk on from it */
} IvfListData;

#define IVF_LISTS_PER_DIR_PAGE ((int) (IVF_PAGE_CAPACITY / sizeof(IvfListData)))

/* Reloptions */
typedef struct IvfOptions
{
	int32		vl_len_;
	int			lists;			/* 0: derived from the row count */
	int			quantizer;		/* IVF_QUANTIZER_*: sq8 (default), pq, flat */
	int			pq_m;			/* 0: derived from dims */
	bool		residual;
	int			sample;			/* 0: derived from lists */
	int			probes;			/* 0: unset; read by scans, so changeable without a rebuild */
	double		target_recall;	/* 0: unset; probes from the calibration, read like probes */
} IvfOptions;

/* GUCs */
extern int	ivf_probes;
extern double ivf_target_recall;
extern int	ivf_max_probes;
extern int	ivf_iterative_scan;	/* IVF_ITERATIVE_* */
extern int	ivf_kmeans_iterations;
extern int	ivf_build_device;
extern int	ivf_build_threads;
extern int	ivf_pq_rerank;

/* ivf.iterative_scan: what a scan does when its probed lists run out of rows */
#define IVF_ITERATIVE_OFF		0	/* end the scan */
#define IVF_ITERATIVE_RELAXED	1	/* probe further lists; order holds within each batch */
#define IVF_ITERATIVE_STRICT	2	/* probe further lists until the answer is exact */

#define IVF_DEVICE_AUTO	0
#define IVF_DEVICE_CPU	1
#define IVF_DEVICE_GPU	2

/* ivfutils.cpp: reloptions and small shared helpers */
extern void IvfInitRelOptions(void);
extern bytea *ivfoptions(Datum reloptions, bool validate);
extern const char *IvfQuantizerName(int quantizer);
extern int	IvfGetMetric(Relation index);
extern int	IvfGetElement(Relation index);
extern int	IvfCopyElements(Datum value, int element, int dims, float *out);
extern bool IvfPrepareRow(Datum value, int element, int dims, int metric, float *out, bool *bounded);
extern int	IvfScanProbes(Relation index, const IvfMetaPageData *meta, bool warn, double *target);
extern int	IvfBuildThreads(void);
extern char *IvfBuildPhaseName(int64 phasenum);
extern bool IvfValidate(Oid opclassoid);

/* ivfpage.cpp: the one page layer (the only code that knows the layout) */
extern Buffer IvfReadBuffer(Relation index, BlockNumber blkno, BufferAccessStrategy strategy);
extern const void *IvfPageHint(Relation index, BlockNumber blkno);
extern void IvfInitPage(Page page, uint16 page_type);
extern Buffer IvfNewBuffer(Relation index, ForkNumber fork);
extern void IvfGetMetaPage(Relation index, IvfMetaPageData *meta);
extern Buffer IvfLockMetaPage(Relation index, IvfMetaPageData *meta, int mode);
extern void IvfReserveMetaPage(Relation index, ForkNumber fork);
extern void IvfWriteMetaPage(Relation index, ForkNumber fork, const IvfMetaPageData *meta);
extern bool IvfUpdateMetaPage(Relation index, uint64 nonce, void (*update) (IvfMetaPageData *meta, void *arg),
							  void *arg);
extern void IvfSetMipsOverflow(Relation index);
extern uint64 IvfMipsExtraFloats(const IvfMetaPageData *meta);
extern void IvfWriteLockedMetaPage(Relation index, Buffer buf, const IvfMetaPageData *meta);
extern BlockNumber IvfExtendRun(Relation index, ForkNumber fork, uint32 npages);
extern void IvfWriteBlob(Relation index, ForkNumber fork, bool wal, const char *const *parts, const Size *sizes,
						 int nparts, BlockNumber *start, uint32 *npages);
extern float *IvfReadBlob(Relation index, const IvfMetaPageData *meta);
extern float *IvfReadReplacedModel(RelFileNode node, bool permanent, IvfMetaPageData *meta);
extern void IvfReserveDirectory(Relation index, ForkNumber fork, bool wal, int lists, BlockNumber *start,
								uint32 *npages);
extern void IvfWriteDirectory(Relation index, ForkNumber fork, bool wal, BlockNumber start,
							  const IvfListData *dir, int lists);
extern IvfListData IvfGetList(Relation index, const IvfMetaPageData *meta, int list);
extern BlockNumber IvfListDirBlock(const IvfMetaPageData *meta, int list);
extern IvfListData *IvfDirSlot(Page page, int list);
extern int	IvfPageCapacity(int entry_size);
extern int	IvfPageEntryCount(Page page, int entry_size);
extern char *IvfPageEntry(Page page, int entry_size, int i);
extern int	IvfPageAppend(Page page, int entry_size, const char *entries, int n);
extern int	IvfPageCompact(Page page, int entry_size, const bool *dead);
extern void IvfPageSetNext(Page page, BlockNumber next);
extern void IvfPageSetStamp(Page page, uint32 stamp);
extern uint32 IvfPageStamp(Page page);
extern uint32 IvfChainStamp(const IvfMetaPageData *meta, int list);
extern bool IvfPageInList(Page page, const IvfMetaPageData *meta, int list);
extern bool IvfPageIsEmpty(Page page);
extern bool IvfPageIsData(Page page);
extern bool IvfPageIsFree(Page page);
extern Buffer IvfReadDataPage(Relation index, BlockNumber blkno, int mode, BufferAccessStrategy strategy);
extern BlockNumber IvfPageNext(Page page);
extern void IvfBuildAppend(Relation index, ForkNumber fork, IvfListData *slot, uint32 stamp, int entry_size,
						   const char *entries, int n);

/* ivflist.cpp: list chains under concurrency (walk, append, VACUUM's unlinking) */
extern bool IvfMoveInsertSlot(Relation index, const IvfMetaPageData *meta, int list, BlockNumber from,
							  BlockNumber to);
extern void IvfChangedUnderQuery(Relation index, BlockNumber blkno) pg_attribute_noreturn();
extern Buffer IvfListFirstPage(Relation index, const IvfMetaPageData *meta, int list, int mode,
							   BufferAccessStrategy strategy);
extern Buffer IvfListNextPage(Relation index, Buffer buf, int mode, BufferAccessStrategy strategy);
extern void IvfListHeads(Relation index, const IvfMetaPageData *meta, const int32 *lists, int n, BlockNumber *heads);
extern void IvfCountList(Relation index, const IvfMetaPageData *meta, int list, BufferAccessStrategy strategy,
						 int64 *rows, int32 *pages);
extern void IvfListAppend(Relation index, const IvfMetaPageData *meta, int list, const char *entry);
extern bool IvfListFreePage(Relation index, BlockNumber prev, BlockNumber blkno, BufferAccessStrategy strategy,
							BlockNumber *next);
extern bool IvfListFreeHead(Relation index, const IvfMetaPageData *meta, int list, BufferAccessStrategy strategy);
extern void IvfPrivateAppend(Relation index, IvfListData *slot, uint32 stamp, int entry_size,
							 const char *entries, int n);

/* ivfmaint.cpp: self-training and re-balancing (VACUUM, ivf_maintain) */
extern int	ivf_maintain_pause_ms;
extern const char *IvfMaintenanceNeed(Relation index, const IvfMetaPageData *meta, int64 rows, int64 max_list);
extern const char *IvfMaintain(Relation index, int elevel);

/* ivfcalib.cpp: recall calibration for ivf.target_recall */
extern void IvfCalibrate(Relation heap, Relation index);
extern bool IvfCalibrationStale(const IvfMetaPageData *meta, double entries);
extern void IvfSetCalibration(IvfMetaPageData *meta, uint64 rows, const uint16 *ranks, int count);

/* A heap TID as one number, for core's calibration (which never sees TIDs) */
static inline uint64
IvfTidKey(ItemPointer tid)
{
	return ((uint64) ItemPointerGetBlockNumberNoCheck(tid) << 16) | ItemPointerGetOffsetNumberNoCheck(tid);
}

/*
 * What one ivf index scan did, summed over its rescans (the inner side of a
 * nested loop rescans once per outer row).  Counted always: a few additions
 * per probed list and per returned row.  ivfexplain.cpp prints them under
 * EXPLAIN ANALYZE.
 */
typedef struct IvfScanCounters
{
	int64		lists;			/* lists probed */
	int64		codes;			/* index entries (codes) read from them */
	int64		rows;			/* rows handed to the executor: each is fetched from the heap and re-ranked */
	int64		batches;		/* probe batches: one per rescan, more under ivf.iterative_scan */
	int64		rerank_depth;	/* PQ with ivf.pq_rerank: rows a scan keeps; 0 otherwise */
} IvfScanCounters;

/* ivfscan.cpp / ivfexplain.cpp */
extern const IvfScanCounters *IvfScanGetCounters(IndexScanDesc scan);
extern void IvfExplainInit(void);

/* AM callbacks */
extern IndexBuildResult *ivfbuild(Relation heap, Relation index, struct IndexInfo *indexInfo);
extern void ivfbuildempty(Relation index);
extern bool ivfinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
					  Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
					  struct IndexInfo *indexInfo);
extern IndexBulkDeleteResult *ivfbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
											IndexBulkDeleteCallback callback, void *callback_state);
extern IndexBulkDeleteResult *ivfvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);
extern IndexScanDesc ivfbeginscan(Relation index, int nkeys, int norderbys);
extern void ivfrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
extern bool ivfgettuple(IndexScanDesc scan, ScanDirection dir);
extern void ivfendscan(IndexScanDesc scan);
extern void ivfcostestimate(struct PlannerInfo *root, struct IndexPath *path, double loop_count,
							Cost *indexStartupCost, Cost *indexTotalCost,
							Selectivity *indexSelectivity, double *indexCorrelation,
							double *indexPages);

#endif
