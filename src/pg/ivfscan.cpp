/*
 * ivfscan.cpp — ORDER BY col <op> query LIMIT k through an ivf index.
 *
 * amrescan ranks the lists by their centroid's distance to the query (inner
 * product: by -<q, r>, r the list's ranking vector, or its centroid in an
 * index built before them; its lists are cells of the MIPS reduction, mips.h).  The
 * first amgettuple reads every entry of the `probes` nearest lists (the
 * session's ivf.probes, else the index's probes option, else ivf.probes, or
 * the probes a target recall asks for: IvfScanProbes) and
 * computes for each a guaranteed lower bound of the operator's value (see
 * src/core/bounds.h); rows then come out in increasing lower bound (ties by
 * heap TID; core/candidates.h) with xs_recheckorderby, so the executor
 * recomputes the exact distance from the heap row and reorders: exact
 * distances, in exact order, and only the rows
 * that can still enter the top k are ever fetched from the heap.  Under L2
 * (off and relaxed_order, no PQ batching) the candidates are ordered by a
 * cheaper key never above the bound, and a row's exact bound is computed only
 * when it reaches the top, going back into the heap if it is no longer the
 * least (bounds.h, QUICK BOUND): the same rows in the same order, with the
 * bound's double arithmetic done for the few rows handed over.  SQ8 goes one
 * step further: an integer kernel on the query's code grid gives every row a
 * key (INTEGER QUICK BOUND), and the float kernel runs only for rows whose key
 * is below the 64th nearest estimate seen so far; the others keep that key as
 * their bound, valid but looser, so a LIMIT within those 64 reads the same
 * heap rows and a larger one gets exact order from a few more.
 *
 * PQ bounds are loose (a PQ code says little about a row's exact distance),
 * so nearly every probed row has a lower bound below the k-th distance and
 * would be fetched.  The executor only releases a row once the index reports
 * a bound at or above its exact distance, so a scan cannot hand over some
 * rows, let the executor settle them, and then go on with nearer ones.  What
 * a scan can do is leave rows out: any subset of the probed rows handed over
 * in increasing bound comes out in exact order, and the first row of it whose
 * bound passes a row's exact distance releases that row.  So a PQ scan at
 * default settings (ivf.pq_rerank = 0, not strict_order) keeps, of its first
 * batch:
 *   - the rows likely among the nearest kRerankCover (50): each row's PQ
 *     estimate - a share z of its guaranteed error interval starts its likely
 *     range, the estimate + z^2 of it ends it (core/rerank.h,
 *     QueryScanner::likely_range); X, the 50th smallest end, is the likely
 *     reach of the nearest 50, and every row whose range starts at or below
 *     X is kept;
 *   - every row whose guaranteed bound is at or above X: provably no nearer
 *     than X, they cost nothing until a LIMIT reaches past the kept rows, and
 *     the first of them releases every kept row nearer than X;
 * and drops the rest (relaxed_order hands them over as its next batch).
 * LIMIT 10 then fetches the ~80 kept rows and one more; larger LIMITs get
 * their further rows from those beyond X, in exact order, though rows the
 * depth dropped are missing from them (and the count can fall short).  With ivf.pq_rerank = R > 0 a PQ scan keeps
 * only the R probed rows with the nearest PQ estimates and ends after them,
 * as FAISS's refinement does: at most R rows, in every mode.
 *
 * When the probed rows run out and ivf.iterative_scan is not off, the next
 * `probes` nearest lists are probed (up to ivf.max_probes).  A row of a
 * later batch may have a lower bound below the highest bound already
 * reported, and the executor may already have released rows up to that
 * bound, so the row could come out after a farther one.  relaxed_order
 * accepts that (order holds within each batch).  strict_order gives exact
 * answers in exact order among the lists up to ivf.max_probes, at a cost that
 * adapts to the query:
 *   - once the first batch is read, each unprobed list gets a lower bound of
 *     the distance of any row it holds (the Voronoi half-space between its
 *     centroid and the nearest one, bounds.h; inner product: the same in the
 *     MIPS reduction's augmented space); its rows' bounds are raised to it,
 *     the remaining lists are probed in order of it, and no row is handed
 *     over while an unprobed list's bound is below the row's.  Inner product
 *     without the reduction (indexes built before it) or after a row beyond
 *     the build's largest norm was inserted has no list bound: every list is
 *     read first.
 *   - a row whose bound is still below one already reported (only a cosine
 *     row outside the norm range the list bound covers) is dropped, as
 *     pgvector's HNSW strict_order drops rows, rather than handed over late.
 * In many dimensions the list bounds are weak, so strict_order then reads
 * most lists: it is an opt-in, not the default.  It keeps every PQ row (no
 * automatic depth): its answer is exact.
 */
#include "pg.h"
#include "ivf.h"
#include "guard.h"
#include "ivfmodel.h"
#include "vector.h"


namespace core = pg_ivf::core;

struct IvfCandidate
{
	float		bound;			/* guaranteed lower bound of the operator value (quick: of it) */
	float		lo;				/* PQ depth: likely range of the value (core::rerank.h); */
	float		hi;				/* with ivf.pq_rerank set, both are the code's estimate */
	float		approx;			/* quick: the kernel value, for exact_bound() */
	float		err;			/* quick: the entry's err, for exact_bound() */
	bool		exact;			/* bound is the entry's lower bound, not a quick key below it */
	ItemPointerData tid;

	/* left uninitialized: ProbeList grows the pending rows and then writes every field */
	IvfCandidate() {}
};

/* The queue's key: the bound (quick: the key below it). */
struct CandidateKey
{
	float		operator() (const IvfCandidate &c) const
	{
		return c.bound;
	}
};

/*
 * The order rows are handed over in: increasing bound, ties by heap TID, so
 * that it is total and the queue's shape cannot change which of two rows
 * with equal bounds comes first.
 */
struct CandidateBefore
{
	bool		operator() (const IvfCandidate &a, const IvfCandidate &b) const
	{
		if (a.bound != b.bound)
			return a.bound < b.bound;
		if (a.tid.ip_blkid.bi_hi != b.tid.ip_blkid.bi_hi)
			return a.tid.ip_blkid.bi_hi < b.tid.ip_blkid.bi_hi;
		if (a.tid.ip_blkid.bi_lo != b.tid.ip_blkid.bi_lo)
			return a.tid.ip_blkid.bi_lo < b.tid.ip_blkid.bi_lo;
		return a.tid.ip_posid < b.tid.ip_posid;
	}
};

typedef core::CandidateQueue<IvfCandidate, CandidateKey, CandidateBefore> IvfCandidateQueue;

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
	IvfScanState() : queue(TakeCandidateArray()), pending(TakeCandidateArray()), deferred(TakeCandidateArray()) {}
	~IvfScanState()
	{
		ReturnCandidateArray(queue.storage());
		ReturnCandidateArray(pending);
		ReturnCandidateArray(deferred);
	}

	std::unique_ptr<IvfModelRef> ref;
	std::unique_ptr<core::QueryScanner> scanner;
	std::vector<int32_t> list_order;	/* lists nearest first */
	size_t		next_list = 0;
	IvfCandidateQueue queue;	/* rows to hand over, least bound first */
	std::vector<IvfCandidate> pending;	/* probed rows not yet in the queue */
	size_t		batch_rows = 0;	/* PQ refinement: rows kept; 0 = every probed row */
	bool		auto_depth = false; /* PQ, no ivf.pq_rerank: the first batch is cut by likely range */
	double		share = 0;		/* z of QueryScanner::likely_range: 0 with batch_rows */
	double		reach_share = 0;	/* its z_hi (rerank_reach_share): 0 with batch_rows */
	std::vector<IvfCandidate> deferred;	/* relaxed_order: rows the automatic depth set aside */
	bool		relaxed = false;	/* ivf.iterative_scan = relaxed_order */
	bool		quick = false;	/* order by quick keys, exact bounds only at the top (L2) */
	bool		strict = false;	/* ivf.iterative_scan = strict_order */
	float		reported = -INFINITY;	/* highest bound handed over so far */
	bool		lists_bounded = false;	/* strict: list_floor is set and orders list_order */
	std::vector<float> list_floor;	/* strict: lower bound of any row of list_order[i] */
	bool		refined = false;	/* the kept rows were handed over: end after them */
	std::vector<float> bounds;	/* per-page scratch */
	std::vector<float> approx;	/* per-page scratch */
	std::vector<float> lo;		/* per-page scratch */
	std::vector<float> hi;		/* per-page scratch */
	std::vector<float> errs;	/* per-page scratch */
	std::vector<uint8_t> settled;	/* per-page scratch: quick, the key is the row's final bound */
	std::vector<BlockNumber> heads;	/* prefetch hints: head blocks of the batch's lists */
};

typedef struct IvfScanOpaqueData
{
	IvfScanState *st;
	IvfMetaPageData meta;
	MemoryContext cxt;
	bool		started;
	bool		null_query;
	int			probes;			/* lists per probe batch: IvfScanProbes() read once, at rescan */
	float	   *query;			/* size meta.dims */
	IvfScanCounters counters;	/* kept across rescans (nested loops): EXPLAIN ANALYZE prints the totals */
} IvfScanOpaqueData;

typedef IvfScanOpaqueData *IvfScanOpaque;


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
		int			element = IvfGetElement(index);
		int			dim = IvfCopyElements(scan->orderByData[0].sk_argument, element, so->meta.dims, so->query);

		if (dim != so->meta.dims)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different %s dimensions %d and %d",
							element == IVF_ELEMENT_HALF ? "halfvec" : "vector", so->meta.dims, dim)));
	}

	so->probes = probes = Min(IvfScanProbes(index, &so->meta, true, NULL), so->meta.lists);
	max_probes = so->null_query ? so->meta.lists
		: ivf_iterative_scan == IVF_ITERATIVE_OFF ? probes
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
		s->strict = ivf_iterative_scan == IVF_ITERATIVE_STRICT;
		s->relaxed = ivf_iterative_scan == IVF_ITERATIVE_RELAXED;
		if (model.codec.kind == core::QuantizerKind::kPq && !so->null_query && !s->scanner->query_is_degenerate())
		{
			s->batch_rows = (size_t) ivf_pq_rerank;
			/* strict_order promises the exact answer: it keeps every row */
			s->auto_depth = s->batch_rows == 0 && !s->strict;
			s->share = s->auto_depth ? core::rerank_share(model.dims) : 0.0;
			s->reach_share = core::rerank_reach_share(s->share);
		}
		/* strict_order and PQ's re-rank depths read and change every bound as it is probed */
		s->quick = !so->null_query && !s->strict && s->batch_rows == 0 && !s->auto_depth &&
			s->scanner->has_quick_bounds();
		if (so->null_query)
		{
			s->list_order.resize(model.lists);
			for (int i = 0; i < model.lists; i++)
				s->list_order[i] = i;
		}
		else
			s->list_order = core::nearest_lists(*s->scanner, model.ranking_centroids(), model.lists,
												model.dims, max_probes);
		*st_slot = st = s.release();
	});
	so->st = st;
	if (st->batch_rows > 0)
		so->counters.rerank_depth = (int64) st->batch_rows;
	MemoryContextSwitchTo(old);
}

/*
 * Reads every entry of list `list` into the pending rows.  While a page is computed the scanner prefetches the page read
 * next (the chain's next block, or `after`, the next probed list's head),
 * found without a pin through the recent-buffer map: a hint only.
 */
static void
ProbeList(IndexScanDesc scan, IvfScanOpaque so, int list, BlockNumber after)
{
	Relation	index = scan->indexRelation;
	IvfScanState *st = so->st;
	int			entry_size = so->meta.entry_size;
	bool		null_query = so->null_query;
	bool		ranged = st->batch_rows > 0 || st->auto_depth;
	Buffer		buf;

	IvfGuard("ivf list setup", [&]() {
		st->scanner->set_list(st->ref->model->centroids.data() + (size_t) list * so->meta.dims);
		st->bounds.resize(IvfPageCapacity(entry_size));
		st->approx.resize(IvfPageCapacity(entry_size));
		st->lo.resize(IvfPageCapacity(entry_size));
		st->hi.resize(IvfPageCapacity(entry_size));
		st->errs.resize(IvfPageCapacity(entry_size));
		st->settled.resize(IvfPageCapacity(entry_size));
	});
	for (buf = IvfListFirstPage(index, &so->meta, list, BUFFER_LOCK_SHARE, NULL); BufferIsValid(buf);
		 buf = IvfListNextPage(index, buf, BUFFER_LOCK_SHARE, NULL))
	{
		Page		page = BufferGetPage(buf);
		int			n = IvfPageEntryCount(page, entry_size);
		BlockNumber next = IvfPageNext(page);
		const void *ahead = IvfPageHint(index, BlockNumberIsValid(next) ? next : after);

		/* a retired structure's page reused by another chain: see IvfPageSetStamp */
		if (!IvfPageInList(page, &so->meta, list))
			IvfChangedUnderQuery(index, BufferGetBlockNumber(buf));
		IvfGuard("ivf list scan", [&]() {
			const char *entries = IvfPageEntry(page, entry_size, 0);

			if (ahead != NULL && !null_query)
				st->scanner->prefetch_next(ahead, BLCKSZ);
			if (null_query)
			{
				std::fill(st->bounds.begin(), st->bounds.begin() + n, 0.0f);
				std::fill(st->approx.begin(), st->approx.begin() + n, 0.0f);
			}
			else if (st->quick)
				st->scanner->quick_bounds((const uint8_t *) entries, n, entry_size, st->bounds.data(),
										  st->approx.data(), st->errs.data(), st->settled.data());
			else
				st->scanner->lower_bounds((const uint8_t *) entries, n, entry_size, st->bounds.data(),
										  ranged ? st->approx.data() : nullptr);
			if (ranged)
				st->scanner->likely_range((const uint8_t *) entries, n, entry_size, st->approx.data(), st->share,
										  st->reach_share, st->lo.data(), st->hi.data());
			size_t		from = st->pending.size();
			IvfCandidate *out;
			bool		quick = st->quick;

			/*
			 * Filled in place: a candidate built on the stack and copied in
			 * stalled on store forwarding (16 % of a synth-1m-128 query).
			 */
			st->pending.resize(from + n);
			out = st->pending.data() + from;
			for (int i = 0; i < n; i++)
			{
				IvfCandidate &c = out[i];

				c.bound = st->bounds[i];
				c.lo = ranged ? st->lo[i] : 0.0f;
				c.hi = ranged ? st->hi[i] : 0.0f;
				c.approx = quick ? st->approx[i] : 0.0f;
				c.err = quick ? st->errs[i] : 0.0f;
				c.exact = !quick || st->settled[i];
				memcpy(&c.tid, entries + (size_t) i * entry_size, sizeof(ItemPointerData));
			}
		});
	}
	/* between pages IvfListNextPage acts on a cancel; here no page lock holds interrupts off */
	CHECK_FOR_INTERRUPTS();
}

/*
 * Moves pending rows into the queue: all of them, only the batch_rows nearest
 * by estimate, or (automatic depth, first batch) the rows likely among the
 * nearest kRerankCover plus every row whose bound is at or above their
 * likely reach X (the kRerankCover-th smallest hi): see the header comment.
 * The rest is dropped, or under relaxed_order deferred to the next batch.
 * Under strict_order, rows bounded below what was already reported are
 * dropped (nothing is reported before the first batch, so it keeps every row).
 */
static void
FillHeap(IvfScanState *st)
{
	IvfGuard("ivf candidate ordering", [&]() {
		std::vector<IvfCandidate> &p = st->pending;

		if (st->strict && st->reported > -INFINITY)
		{
			float		floor = st->reported;

			p.erase(std::remove_if(p.begin(), p.end(),
								   [floor](const IvfCandidate &c) { return c.bound < floor; }),
					p.end());
		}
		if (st->batch_rows > 0 && p.size() > st->batch_rows)
		{
			auto cut = p.end() - st->batch_rows;

			/* the nearest estimates go to the tail, which is cheap to cut off */
			std::nth_element(p.begin(), cut, p.end(),
							 [](const IvfCandidate &a, const IvfCandidate &b) { return a.lo > b.lo; });
			st->queue.add(cut, p.end());
		}
		else if (st->auto_depth)
		{
			std::vector<float> hi(p.size());
			float		reach;

			for (size_t i = 0; i < p.size(); i++)
				hi[i] = p[i].hi;
			reach = core::rerank_threshold(hi.data(), hi.size(), core::kRerankCover);
			/* NaN ranges (never expected) keep their row */
			auto cut = std::partition(p.begin(), p.end(), [reach](const IvfCandidate &c) {
				return !(c.lo > reach) || c.bound >= reach;
			});

			if (st->relaxed)
				st->deferred.assign(cut, p.end());
			st->queue.add(p.begin(), cut);
			st->auto_depth = false;
		}
		else
			st->queue.add(p);
		p.clear();
	});
}

/*
 * strict_order, once the first batch is read: the lower bound of every
 * unprobed list against the nearest list, and the unprobed lists reordered by
 * it (ties keep the centroid order).  Inner product has such a bound only
 * under the MIPS reduction, and only while no row beyond the build's largest
 * norm was indexed (mips_overflow).
 */
static void
BoundUnprobedLists(IvfScanState *st, const IvfMetaPageData *meta)
{
	IvfGuard("ivf list bounds", [&]() {
		const IvfModel &model = *st->ref->model;
		int			dims = model.dims;
		int32_t		first = st->list_order[0];
		const float *nearest = model.centroids.data() + (size_t) first * dims;
		size_t		n = st->list_order.size();
		bool		mips = model.codec.metric == core::Metric::kInnerProduct;
		std::vector<std::pair<float, int32_t>> ranked;

		if ((mips && (model.mips_max_norm2 <= 0 || meta->mips_overflow)) || st->scanner->query_is_degenerate())
			return;
		ranked.reserve(n - st->next_list);
		for (size_t i = st->next_list; i < n; i++)
		{
			int32_t		list = st->list_order[i];
			const float *centroid = model.centroids.data() + (size_t) list * dims;

			ranked.emplace_back(mips ? st->scanner->mips_list_lower_bound(nearest, model.mips_extras[first], centroid,
																		  model.mips_extras[list], model.mips_max_norm2)
								: st->scanner->list_lower_bound(nearest, centroid),
								list);
		}
		std::stable_sort(ranked.begin(), ranked.end(),
						 [](const std::pair<float, int32_t> &a, const std::pair<float, int32_t> &b) {
							 return a.first < b.first;
						 });
		st->list_floor.assign(n, -INFINITY);
		for (size_t i = st->next_list; i < n; i++)
		{
			st->list_floor[i] = ranked[i - st->next_list].first;
			st->list_order[i] = ranked[i - st->next_list].second;
		}
		st->lists_bounded = true;
	});
}

/*
 * Raises the bounds of the rows just read from a list to the list's bound.
 * Under cosine a bound of 0 may be an entry outside the norm range the list
 * bound covers (bounds.h), so those rows keep theirs.
 */
static void
LiftBounds(IvfScanState *st, size_t from, float floor)
{
	bool		cosine = st->ref->model->codec.metric == core::Metric::kCosine;

	for (size_t i = from; i < st->pending.size(); i++)
	{
		IvfCandidate &c = st->pending[i];

		if (c.bound < floor && !(cosine && c.bound <= 0.0f))
			c.bound = floor;
	}
}

/*
 * An untrained index that has since grown (built before its table was loaded,
 * as every shard index is when Citus distributes a table whose index was built
 * empty) reads all its rows for every query until it is rebuilt.  Its build's
 * NOTICE may never have reached anyone (Citus demotes the messages of DDL on
 * shards to DEBUG1, but relays a query's WARNINGs), so the first scan of each
 * such index in a session that probes enough rows to train it says so.
 */
static void
WarnUntrained(Relation index, const IvfMetaPageData *meta, int64 probed)
{
	/* 1000 rows make one list by the default rule (IvfDefaultLists) */
	static List *warned = NIL;
	MemoryContext old;

	if (!meta->untrained || meta->requested_lists <= 0 ||
		probed < Max((int64) meta->requested_lists, 1000) ||
		list_member_oid(warned, RelationGetRelid(index)))
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	warned = lappend_oid(warned, RelationGetRelid(index));
	MemoryContextSwitchTo(old);
	ereport(WARNING,
			(errmsg("ivf index \"%s\" is untrained but holds at least %lld rows",
					RelationGetRelationName(index), (long long) probed),
			 errdetail("It was built from %llu rows, too few to train lists = %d; each query reads all its rows.",
					   (unsigned long long) meta->build_rows, meta->requested_lists),
			 errhint("REINDEX INDEX %s trains its lists (on a Citus shard: REINDEX the distributed table's index "
					 "on the coordinator).",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(index)),
												RelationGetRelationName(index)))));
}

/* Probes the next batch of `probes` lists; false when none are left. */
static bool
ProbeNextLists(IndexScanDesc scan, IvfScanOpaque so)
{
	IvfScanState *st = so->st;
	size_t		batch = so->null_query ? st->list_order.size() : (size_t) so->probes;
	size_t		end = Min(st->list_order.size(), st->next_list + batch);
	int64		probed = 0;

	if (st->next_list >= end)
		return false;
	so->counters.batches++;
	IvfGuard("ivf list heads", [&]() { st->heads.resize(end - st->next_list); });
	IvfListHeads(scan->indexRelation, &so->meta, st->list_order.data() + st->next_list, (int) (end - st->next_list),
				 st->heads.data());
	for (size_t first = st->next_list; st->next_list < end; st->next_list++)
	{
		size_t		from = st->pending.size();
		size_t		i = st->next_list - first;

		ProbeList(scan, so, st->list_order[st->next_list],
				  i + 1 < st->heads.size() ? st->heads[i + 1] : InvalidBlockNumber);
		probed += (int64) (st->pending.size() - from);
		so->counters.lists++;
		if (st->lists_bounded)
			LiftBounds(st, from, st->list_floor[st->next_list]);
	}
	so->counters.codes += probed;
	WarnUntrained(scan->indexRelation, &so->meta, probed);
	return true;
}

/*
 * strict_order: true when an unprobed list may hold a row nearer than the
 * next row to hand over, so that list must be probed first.  Without list
 * bounds (inner product) any unprobed list may.
 */
static bool
MustProbeFirst(IvfScanState *st)
{
	if (!st->strict || st->next_list >= st->list_order.size())
		return false;
	return !st->lists_bounded || st->queue.top().bound > st->list_floor[st->next_list];
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
		if (st->strict && !so->null_query)
			BoundUnprobedLists(st, &so->meta);
		FillHeap(st);
		st->refined = st->batch_rows > 0;
	}
	while (st->queue.empty() || MustProbeFirst(st))
	{
		if (!st->deferred.empty())
		{
			/* relaxed_order: the rows set aside are the next batch */
			st->pending.swap(st->deferred);
			FillHeap(st);
			continue;
		}
		if (st->refined || !ProbeNextLists(scan, so))
		{
			if (st->queue.empty())
				return false;
			break;
		}
		FillHeap(st);
	}
	IvfGuard("ivf candidate ordering", [&]() {
		for (;;)
		{
			next = st->queue.pop();
			if (next.exact)
				break;
			/* every other key is at or above next's, and bounds are at or above their keys */
			next.bound = st->scanner->exact_bound(next.approx, next.err);
			next.exact = true;
			if (st->queue.empty() || next.bound <= st->queue.top().bound)
				break;
			st->queue.push(next);
		}
	});
	if (next.bound > st->reported)
		st->reported = next.bound;
	so->counters.rows++;

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

/* The counters of an ivf index scan; NULL when `scan` belongs to another access method. */
const IvfScanCounters *
IvfScanGetCounters(IndexScanDesc scan)
{
	if (scan == NULL || scan->opaque == NULL || scan->indexRelation->rd_indam->amgettuple != ivfgettuple)
		return NULL;
	return &((IvfScanOpaque) scan->opaque)->counters;
}

void
ivfendscan(IndexScanDesc scan)
{
	IvfScanOpaque so = (IvfScanOpaque) scan->opaque;

	MemoryContextDelete(so->cxt);
	pfree(so);
	scan->opaque = NULL;
}
