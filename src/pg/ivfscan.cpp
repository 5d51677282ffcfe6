/*
 * ivfscan.cpp — ORDER BY col <op> query LIMIT k through an ivf index.
 *
 * amrescan ranks the lists by their centroid's distance to the query.  The
 * first amgettuple reads every entry of the `ivf.probes` nearest lists and
 * computes for each a guaranteed lower bound of the operator's value (see
 * src/core/bounds.h); rows then come out in increasing lower bound with
 * xs_recheckorderby, so the executor recomputes the exact distance from the
 * heap row and reorders: exact distances, in exact order, and only the rows
 * that can still enter the top k are ever fetched from the heap.
 *
 * PQ bounds are loose (a PQ code says little about a row's exact distance),
 * so nearly every probed row has a lower bound below the k-th distance and
 * gets fetched.  With ivf.pq_rerank = R > 0 a PQ scan instead keeps only the R
 * probed rows with the nearest PQ estimates and ends after them, as FAISS's
 * refinement does: exact distances in exact order among those R rows, at most
 * R heap fetches, and at most R rows returned (no iterative scan).  The
 * executor only releases a row once the index reports a bound at or above
 * its exact distance, so a scan cannot hand over R rows, let the executor
 * settle them, and then continue: ending the scan is the only flush.
 *
 * When the probed rows run out and ivf.iterative_scan is on, the next
 * nearest lists are probed (up to ivf.max_probes).  Rows of a later batch
 * may have lower bounds below what was already returned, so the order
 * guarantee holds within each batch, not across batches.
 */
#include "pg.h"
#include "ivf.h"
#include "guard.h"
#include "ivfmodel.h"
#include "vector.h"


namespace core = pg_ivf::core;

struct IvfCandidate
{
	float		bound;			/* guaranteed lower bound of the operator value */
	float		approx;			/* the code's estimate of it (PQ batching only) */
	ItemPointerData tid;
};

/*
 * Candidate arrays go back to a small per-backend pool when a scan ends, so
 * the next query reuses memory that is already mapped instead of faulting in
 * fresh pages for every probe.
 */
static constexpr size_t kPooledArrays = 4;
static constexpr size_t kPooledBytesMax = 64 * 1024 * 1024;
static std::vector<std::vector<IvfCandidate>> candidate_pool;

static std::vector<IvfCandidate>
TakeCandidateArray(void)
{
	std::vector<IvfCandidate> v;

	if (!candidate_pool.empty())
	{
		v.swap(candidate_pool.back());
		candidate_pool.pop_back();
	}
	return v;
}

static void
ReturnCandidateArray(std::vector<IvfCandidate> &v) noexcept
{
	try
	{
		if (candidate_pool.size() < kPooledArrays &&
			v.capacity() * sizeof(IvfCandidate) <= kPooledBytesMax)
		{
			v.clear();
			candidate_pool.push_back(std::move(v));
		}
	}
	catch (...)
	{
		/* the pool is an optimisation: on failure the array is just freed */
	}
}

/* The C++ half of a scan: new'd at rescan, deleted by the scan context's reset callback or the next rescan. */
struct IvfScanState
{
	IvfScanState() : heap(TakeCandidateArray()), pending(TakeCandidateArray()) {}
	~IvfScanState()
	{
		ReturnCandidateArray(heap);
		ReturnCandidateArray(pending);
	}

	std::unique_ptr<IvfModelRef> ref;
	std::unique_ptr<core::QueryScanner> scanner;
	std::vector<int32_t> list_order;	/* lists nearest first */
	size_t		next_list = 0;
	std::vector<IvfCandidate> heap;	/* min-heap on bound */
	std::vector<IvfCandidate> pending;	/* probed rows not yet in the heap */
	size_t		batch_rows = 0;	/* PQ refinement: rows kept; 0 = every probed row */
	bool		refined = false;	/* the kept rows were handed over: end after them */
	std::vector<float> bounds;	/* per-page scratch */
	std::vector<float> approx;	/* per-page scratch */
};

typedef struct IvfScanOpaqueData
{
	IvfScanState *st;
	IvfMetaPageData meta;
	MemoryContext cxt;
	bool		started;
	bool		null_query;
	int			probes;			/* lists per probe batch: ivf.probes read once, at rescan */
	float	   *query;			/* size meta.dims */
} IvfScanOpaqueData;

typedef IvfScanOpaqueData *IvfScanOpaque;

/* Heap order for std::*_heap: the smallest bound on top (a functor, so it inlines). */
struct CandidateAfter
{
	bool		operator() (const IvfCandidate &a, const IvfCandidate &b) const
	{
		return a.bound > b.bound;
	}
};

static void
DeleteScanState(void *p)
{
	delete static_cast<IvfScanState *>(p);
}

IndexScanDesc
ivfbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	IvfScanOpaque so = (IvfScanOpaque) palloc0(sizeof(IvfScanOpaqueData));

	so->cxt = AllocSetContextCreate(CurrentMemoryContext, "ivf scan", ALLOCSET_DEFAULT_SIZES);
	scan->opaque = so;
	/* RelationGetIndexScan leaves the ORDER BY value arrays to the access method */
	if (norderbys > 0)
	{
		scan->xs_orderbyvals = (Datum *) palloc0(sizeof(Datum) * norderbys);
		scan->xs_orderbynulls = (bool *) palloc(sizeof(bool) * norderbys);
		memset(scan->xs_orderbynulls, true, sizeof(bool) * norderbys);
	}
	return scan;
}

/* Frees the C++ state of the previous query, if any. */
static void
ResetScanState(IvfScanOpaque so)
{
	/* deleting the context runs DeleteScanState through its reset callback */
	MemoryContextReset(so->cxt);
	so->st = NULL;
	so->query = NULL;
}

void
ivfrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	IvfScanOpaque so = (IvfScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	MemoryContext old;
	IvfModelRef *ref;
	IvfScanState *st = NULL;
	void	  **st_slot;
	int			probes;
	int			max_probes;

	ResetScanState(so);
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
	so->started = false;

	old = MemoryContextSwitchTo(so->cxt);
	IvfGetMetaPage(index, &so->meta);
	so->null_query = scan->numberOfOrderBys == 0 || (scan->orderByData[0].sk_flags & SK_ISNULL);
	so->query = (float *) palloc0(sizeof(float) * so->meta.dims);
	if (!so->null_query)
	{
		Vector	   *q = DatumGetVector(scan->orderByData[0].sk_argument);

		if (q->dim != so->meta.dims)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different vector dimensions %d and %d", so->meta.dims, q->dim)));
		memcpy(so->query, q->x, sizeof(float) * so->meta.dims);
	}

	so->probes = probes = Min(ivf_probes, so->meta.lists);
	max_probes = so->null_query ? so->meta.lists
		: !ivf_iterative_scan ? probes
		: ivf_max_probes < 0 ? so->meta.lists
		: Max(probes, Min(ivf_max_probes, so->meta.lists));

	st_slot = IvfDeleteOnReset(so->cxt, DeleteScanState, NULL);
	ref = IvfModelAcquire(index, &so->meta);
	IvfGuard("ivf scan setup", [&]() {
		std::unique_ptr<IvfModelRef> hold(ref);
		std::unique_ptr<IvfScanState> s(new IvfScanState());

		s->ref = std::move(hold);
		const IvfModel &model = *s->ref->model;

		s->scanner.reset(new core::QueryScanner(model.codec, so->query));
		if (model.codec.kind == core::QuantizerKind::kPq && !so->null_query)
			s->batch_rows = (size_t) ivf_pq_rerank;
		if (so->null_query)
		{
			s->list_order.resize(model.lists);
			for (int i = 0; i < model.lists; i++)
				s->list_order[i] = i;
		}
		else
			s->list_order = core::nearest_lists(*s->scanner, model.centroids.data(), model.lists,
												model.dims, max_probes);
		*st_slot = st = s.release();
	});
	so->st = st;
	MemoryContextSwitchTo(old);
}

/* Reads every entry of list `list` into the candidate heap (not yet heapified). */
static void
ProbeList(IndexScanDesc scan, IvfScanOpaque so, int list)
{
	Relation	index = scan->indexRelation;
	IvfScanState *st = so->st;
	int			entry_size = so->meta.entry_size;
	bool		null_query = so->null_query;
	Buffer		buf;

	IvfGuard("ivf list setup", [&]() {
		st->scanner->set_list(st->ref->model->centroids.data() + (size_t) list * so->meta.dims);
		st->bounds.resize(IvfPageCapacity(entry_size));
		st->approx.resize(IvfPageCapacity(entry_size));
	});
	for (buf = IvfListFirstPage(index, &so->meta, list, BUFFER_LOCK_SHARE, NULL); BufferIsValid(buf);
		 buf = IvfListNextPage(index, buf, BUFFER_LOCK_SHARE, NULL))
	{
		Page		page = BufferGetPage(buf);
		int			n = IvfPageEntryCount(page, entry_size);

		IvfGuard("ivf list scan", [&]() {
			const char *entries = IvfPageEntry(page, entry_size, 0);

			if (null_query)
			{
				std::fill(st->bounds.begin(), st->bounds.begin() + n, 0.0f);
				std::fill(st->approx.begin(), st->approx.begin() + n, 0.0f);
			}
			else
				st->scanner->lower_bounds((const uint8_t *) entries, n, entry_size, st->bounds.data(),
										  st->batch_rows > 0 ? st->approx.data() : nullptr);
			for (int i = 0; i < n; i++)
			{
				IvfCandidate c;

				c.bound = st->bounds[i];
				c.approx = st->batch_rows > 0 ? st->approx[i] : 0.0f;
				memcpy(&c.tid, entries + (size_t) i * entry_size, sizeof(ItemPointerData));
				st->pending.push_back(c);
			}
		});
	}
	/* not per page: the walk always holds a page lock, which holds interrupts off */
	CHECK_FOR_INTERRUPTS();
}

/* Moves pending rows into the heap: all of them, or only the batch_rows nearest by estimate. */
static void
FillHeap(IvfScanState *st)
{
	IvfGuard("ivf candidate ordering", [&]() {
		std::vector<IvfCandidate> &p = st->pending;

		if (st->batch_rows > 0 && p.size() > st->batch_rows)
		{
			auto cut = p.end() - st->batch_rows;

			/* the nearest estimates go to the tail, which is cheap to cut off */
			std::nth_element(p.begin(), cut, p.end(),
							 [](const IvfCandidate &a, const IvfCandidate &b) { return a.approx > b.approx; });
			st->heap.assign(cut, p.end());
		}
		else
			st->heap.swap(p);
		p.clear();
		std::make_heap(st->heap.begin(), st->heap.end(), CandidateAfter());
	});
}

/* Probes the next batch of `ivf.probes` lists; false when none are left. */
static bool
ProbeNextLists(IndexScanDesc scan, IvfScanOpaque so)
{
	IvfScanState *st = so->st;
	size_t		batch = so->null_query ? st->list_order.size() : (size_t) so->probes;
	size_t		end = Min(st->list_order.size(), st->next_list + batch);

	if (st->next_list >= end)
		return false;
	for (; st->next_list < end; st->next_list++)
		ProbeList(scan, so, st->list_order[st->next_list]);
	return true;
}

bool
ivfgettuple(IndexScanDesc scan, ScanDirection dir)
{
	IvfScanOpaque so = (IvfScanOpaque) scan->opaque;
	IvfScanState *st = so->st;
	IvfCandidate next;

	if (st == NULL)
		elog(ERROR, "ivf scan used before amrescan. Please report a bug.");
	if (!so->started)
	{
		so->started = true;
		pgstat_count_index_scan(scan->indexRelation);
		ProbeNextLists(scan, so);
	}
	while (st->heap.empty())
	{
		if (st->pending.empty() && (st->refined || !ProbeNextLists(scan, so)))
			return false;
		FillHeap(st);
		st->refined = st->batch_rows > 0;
	}
	IvfGuard("ivf candidate ordering", [&]() {
		std::pop_heap(st->heap.begin(), st->heap.end(), CandidateAfter());
		next = st->heap.back();
		st->heap.pop_back();
	});

	scan->xs_heaptid = next.tid;
	scan->xs_recheck = false;
	scan->xs_recheckorderby = true;
	if (scan->numberOfOrderBys > 0)
	{
		scan->xs_orderbyvals[0] = Float8GetDatum((double) next.bound);
		scan->xs_orderbynulls[0] = so->null_query;
	}
	return true;
}

void
ivfendscan(IndexScanDesc scan)
{
	IvfScanOpaque so = (IvfScanOpaque) scan->opaque;

	MemoryContextDelete(so->cxt);
	pfree(so);
	scan->opaque = NULL;
}
