/*
 * ivfcalib.cpp — the recall calibration ivf.target_recall chooses probes
 * from.  For IVF_CALIB_QUERIES rows of the index, each with its
 * IVF_CALIB_K exact nearest other rows (by the index's metric, the row
 * itself excluded by heap TID, as ivf_recall() asks), the meta page keeps
 * the rank of each neighbour's list in the order a scan probes lists for
 * that row (core::nearest_lists, the scan's own ranking), sorted.  The scan
 * is exact among the lists it probes, so the share of ranks below p is the
 * recall@10 at probes p, ties aside.
 *
 * CREATE INDEX calibrates during its assign pass, which sees every row
 * (ivfbuild.cpp).  IvfCalibrate does the same for a built index from its
 * entries and its table; VACUUM calls it when the calibration is missing or
 * the index has doubled or halved since, and so does ivf_calibrate().
 */
#include "pg.h"
#include "ivf.h"
#include "guard.h"
#include "ivfmodel.h"

namespace core = pg_ivf::core;

#define IVF_CALIB_SEED	1235	/* the build's IVF_SEED + 1: its query reservoir */
#define IVF_CALIB_BATCH	1024

/* Stores a calibration of count sorted ranks, taken when the index held rows entries. */
void
IvfSetCalibration(IvfMetaPageData *meta, uint64 rows, const uint16 *ranks, int count)
{
	count = Min(Max(count, 0), IVF_CALIB_MAX_RANKS);
	meta->calib_rows = rows;
	meta->calib_count = count;
	memset(meta->calib_ranks, 0, sizeof(meta->calib_ranks));
	if (count > 0)
		memcpy(meta->calib_ranks, ranks, sizeof(uint16) * count);
}

/*
 * True when VACUUM should calibrate an index now holding `entries` rows: a
 * trained index with rows to ask about and no calibration, or one taken when
 * it held half or twice as many rows, or fewer or more.
 */
bool
IvfCalibrationStale(const IvfMetaPageData *meta, double entries)
{
	if (meta->untrained || meta->lists < 1 || entries < 2)
		return false;
	if (meta->calib_count <= 0)
		return true;
	return entries >= 2.0 * (double) meta->calib_rows || 2.0 * entries <= (double) meta->calib_rows;
}

/* Everything one IvfCalibrate keeps; lives in its memory context. */
typedef struct IvfCalibState
{
	Relation	index;
	IvfMetaPageData meta;
	int			element;
	int			threads;
	core::NeighbourTracker *tracker;	/* new'd; deleted by the context's reset callback */
	/* rows of the heap scan waiting to be offered to the tracker */
	float	   *batch;			/* size IVF_CALIB_BATCH * dims */
	uint64	   *batch_ids;
	int32	   *batch_lists;	/* unknown during the scan: -1, set by relist */
	int			nbatch;
} IvfCalibState;

static void
DeleteTracker(void *p)
{
	delete static_cast<core::NeighbourTracker *>(p);
}

/*
 * TIDs of up to IVF_CALIB_QUERIES entries of the index, a uniform sample by a
 * fixed seed; *entries receives the number of entries walked.
 */
static int
SampleEntries(Relation index, const IvfMetaPageData *meta, ItemPointerData *tids, int64 *entries)
{
	pg_prng_state prng;
	int64		seen = 0;
	int			n = 0;

	pg_prng_seed(&prng, IVF_CALIB_SEED);
	for (int list = 0; list < meta->lists; list++)
	{
		Buffer		buf = IvfListFirstPage(index, meta, list, BUFFER_LOCK_SHARE, NULL);

		for (; BufferIsValid(buf); buf = IvfListNextPage(index, buf, BUFFER_LOCK_SHARE, NULL))
		{
			Page		page = BufferGetPage(buf);
			int			count = IvfPageEntryCount(page, meta->entry_size);

			for (int i = 0; i < count; i++, seen++)
			{
				int64		slot = n < IVF_CALIB_QUERIES ? n : (int64) pg_prng_uint64_range(&prng, 0, (uint64) seen);

				if (slot < IVF_CALIB_QUERIES)
				{
					memcpy(&tids[slot], IvfPageEntry(page, meta->entry_size, i), sizeof(ItemPointerData));
					if (slot == n)
						n++;
				}
			}
		}
	}
	*entries = seen;
	return n;
}

/*
 * The prepared rows (size n * dims) of the sampled TIDs that are visible to
 * snapshot, following HOT chains as an index scan does; returns how many,
 * with their TIDs' keys in ids.
 */
static int
FetchQueries(Relation heap, Relation index, IndexInfo *indexInfo, Snapshot snapshot, const IvfCalibState *cs,
			 const ItemPointerData *tids, int n, float *rows, uint64 *ids)
{
	EState	   *estate = CreateExecutorState();
	ExprContext *econtext = GetPerTupleExprContext(estate);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	IndexFetchTableData *fetch = table_index_fetch_begin(heap);
	int			got = 0;

	econtext->ecxt_scantuple = slot;
	for (int i = 0; i < n; i++)
	{
		ItemPointerData tid = tids[i];
		bool		call_again = false;
		bool		all_dead = false;
		Datum		values[INDEX_MAX_KEYS];
		bool		isnull[INDEX_MAX_KEYS];
		bool		bounded;

		if (!table_index_fetch_tuple(fetch, &tid, snapshot, slot, &call_again, &all_dead))
			continue;
		ResetExprContext(econtext);
		FormIndexDatum(indexInfo, slot, estate, values, isnull);
		if (isnull[0] || !IvfPrepareRow(values[0], cs->element, cs->meta.dims, cs->meta.metric,
										rows + (Size) got * cs->meta.dims, &bounded))
			continue;
		ids[got++] = IvfTidKey(const_cast<ItemPointer>(&tids[i]));
	}
	table_index_fetch_end(fetch);
	ExecDropSingleTupleTableSlot(slot);
	FreeExecutorState(estate);
	return got;
}

/* Offers the gathered rows to the tracker. */
static void
FlushRows(IvfCalibState *cs)
{
	if (cs->nbatch == 0)
		return;
	IvfGuard("ivf recall calibration", [&]() {
		cs->tracker->add(cs->batch, cs->batch_ids, cs->batch_lists, (size_t) cs->nbatch, cs->threads,
						 IvfCancelHooks());
	});
	cs->nbatch = 0;
	CHECK_FOR_INTERRUPTS();
}

/* The heap scan's callback: every row the index would hold, visible to the scan's snapshot. */
static void
ScanCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool tupleIsAlive, void *state)
{
	IvfCalibState *cs = (IvfCalibState *) state;
	bool		bounded;

	if (isnull[0] || !IvfPrepareRow(values[0], cs->element, cs->meta.dims, cs->meta.metric,
									cs->batch + (Size) cs->nbatch * cs->meta.dims, &bounded))
		return;
	cs->batch_ids[cs->nbatch] = IvfTidKey(tid);
	cs->batch_lists[cs->nbatch] = -1;
	if (++cs->nbatch == IVF_CALIB_BATCH)
		FlushRows(cs);
}

/* The list of every neighbour, from a walk of the index's entries; a neighbour not found is left out. */
static void
FindNeighbourLists(IvfCalibState *cs)
{
	/* at most k neighbours per query */
	uint64	   *ids = (uint64 *) palloc(sizeof(uint64) * IVF_CALIB_MAX_RANKS);
	int32	   *lists = (int32 *) palloc(sizeof(int32) * IVF_CALIB_MAX_RANKS);
	int			n = 0;

	IvfGuard("ivf recall calibration", [&]() {
		std::vector<uint64_t> v = cs->tracker->neighbour_ids();

		if (v.size() > IVF_CALIB_MAX_RANKS)
			throw std::logic_error("more calibration neighbours than queries times k");
		n = (int) v.size();
		std::copy(v.begin(), v.end(), ids);
	});
	for (int i = 0; i < n; i++)
		lists[i] = -1;
	for (int list = 0; list < cs->meta.lists; list++)
	{
		Buffer		buf = IvfListFirstPage(cs->index, &cs->meta, list, BUFFER_LOCK_SHARE, NULL);

		for (; BufferIsValid(buf); buf = IvfListNextPage(cs->index, buf, BUFFER_LOCK_SHARE, NULL))
		{
			Page		page = BufferGetPage(buf);
			int			count = IvfPageEntryCount(page, cs->meta.entry_size);

			for (int i = 0; i < count; i++)
			{
				ItemPointerData tid;
				uint64		key;
				uint64	   *hit;

				memcpy(&tid, IvfPageEntry(page, cs->meta.entry_size, i), sizeof(ItemPointerData));
				key = IvfTidKey(&tid);
				hit = std::lower_bound(ids, ids + n, key);
				if (hit != ids + n && *hit == key)
					lists[hit - ids] = list;
			}
		}
	}
	IvfGuard("ivf recall calibration", [&]() { cs->tracker->relist(ids, lists, (size_t) n); });
}

static void
StoreCalibration(IvfMetaPageData *meta, void *arg)
{
	const IvfMetaPageData *from = (const IvfMetaPageData *) arg;

	IvfSetCalibration(meta, from->calib_rows, from->calib_ranks, from->calib_count);
}

/*
 * Calibrates a built index for ivf.target_recall from its entries and its
 * table, and stores the result on its meta page (WAL-logged).  Costs two
 * walks of the index's entries and one scan of the table, plus
 * IVF_CALIB_QUERIES distance computations per row (threads as
 * ivf.build_threads).  The caller holds at least AccessShareLock on heap
 * and index; inserts, deletes and scans may run meanwhile (the scan sees the
 * rows of a fresh snapshot).  Does nothing to an untrained or empty index,
 * and stores nothing when the index is rebuilt meanwhile.  May ereport
 * (cancel included); call it outside a critical section.
 */
void
IvfCalibrate(Relation heap, Relation index)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "ivf calibration", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	IvfCalibState *cs = (IvfCalibState *) palloc0(sizeof(IvfCalibState));
	IvfMetaPageData *result = (IvfMetaPageData *) palloc0(sizeof(IvfMetaPageData));
	ItemPointerData *tids = (ItemPointerData *) palloc(sizeof(ItemPointerData) * IVF_CALIB_QUERIES);
	IndexInfo  *indexInfo;
	Snapshot	snapshot;
	float	   *queries;
	uint64	   *query_ids;
	int			nsampled;
	int			nqueries;
	int64		entries;
	void	  **tracker_slot;
	IvfModelRef *ref;

	cs->index = index;
	IvfGetMetaPage(index, &cs->meta);
	if (cs->meta.untrained || (nsampled = SampleEntries(index, &cs->meta, tids, &entries)) < 2)
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		return;
	}
	cs->element = IvfGetElement(index);
	cs->threads = IvfBuildThreads();
	indexInfo = BuildIndexInfo(index);
	/* an MVCC scan: rows of transactions in progress neither block nor warn, as in CREATE INDEX CONCURRENTLY */
	indexInfo->ii_Concurrent = true;

	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	queries = (float *) palloc(sizeof(float) * (Size) nsampled * cs->meta.dims);
	query_ids = (uint64 *) palloc(sizeof(uint64) * nsampled);
	nqueries = FetchQueries(heap, index, indexInfo, snapshot, cs, tids, nsampled, queries, query_ids);
	UnregisterSnapshot(snapshot);
	if (nqueries == 0)
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		return;
	}

	tracker_slot = IvfDeleteOnReset(cxt, DeleteTracker, NULL);
	IvfGuard("ivf recall calibration", [&]() {
		*tracker_slot = cs->tracker = new core::NeighbourTracker((core::Metric) cs->meta.metric,
																 (size_t) cs->meta.dims, IVF_CALIB_K, queries,
																 query_ids, (size_t) nqueries);
	});
	cs->batch = (float *) palloc(sizeof(float) * IVF_CALIB_BATCH * (Size) cs->meta.dims);
	cs->batch_ids = (uint64 *) palloc(sizeof(uint64) * IVF_CALIB_BATCH);
	cs->batch_lists = (int32 *) palloc(sizeof(int32) * IVF_CALIB_BATCH);
	table_index_build_scan(heap, index, indexInfo, true, false, ScanCallback, cs, NULL);
	FlushRows(cs);

	/* the lists of the neighbours as the index holds them, then their ranks in scan order */
	FindNeighbourLists(cs);
	ref = IvfModelAcquire(index, &cs->meta);
	IvfGuard("ivf recall calibration", [&]() {
		std::unique_ptr<IvfModelRef> hold(ref);
		const IvfModel &model = *hold->model;
		std::vector<uint16_t> ranks = core::calibration_ranks(*cs->tracker, model.codec, model.ranking_centroids(),
															  (size_t) model.lists, IvfCancelHooks());

		result->calib_count = (int32) std::min<size_t>(ranks.size(), IVF_CALIB_MAX_RANKS);
		std::copy(ranks.begin(), ranks.begin() + result->calib_count, result->calib_ranks);
	});
	result->calib_rows = (uint64) entries;
	if (result->calib_count > 0)
		IvfUpdateMetaPage(index, cs->meta.nonce, StoreCalibration, result);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}
