/*
 * ivfsplit.cpp — re-balancing by splitting only the lists that grew (issue
 * 11): a maintenance whose lists fill unevenly splits each list above twice
 * the average into parts of about the average, without re-training the rest
 * of the model.  See docs/ARCHITECTURE.md "Maintenance".
 *
 * Plan.  A list of n rows, n above twice the average a, splits into
 * p = ceil(n / a) parts, largest lists first, while the model fits
 * maintenance_work_mem and IVF_MAX_LISTS.  When the split lists hold more
 * than half the rows, the caller re-trains the whole model instead.  Each
 * split list's IVF_SPLIT_NEIGHBOURS nearest lists (by centroid) are
 * re-trained with them, max(1, round(n / a)) parts each, while all these
 * "changed" lists hold at most half the rows: data that drifted past a
 * grown list usually also filled its neighbours, whose centroids lie in the
 * old data (measured on bench/drift.py at 1M rows: recall 0.902x of a
 * REINDEX splitting the grown lists alone; see README "Drift").  A sample of
 * the changed lists' rows (the heap rows, prepared as an insert prepares
 * them; augmented under the MIPS reduction) trains all their centroids with
 * core's one k-means; each changed list's slot takes one, the others are
 * appended as new lists.  The codec parameters, M and every other centroid
 * stay as they are.
 *
 * Re-assignment.  Every row must sit in the list whose centroid wins the
 * assigner's arg-min over all centroids of the live model (strict_order's
 * LIST BOUND and MIPS LIST BOUND rely on it).  Rows of a changed list are
 * fetched from the heap and assigned over all new centroids, so some land in
 * other lists.  A row of an unchanged list k can only move to a new
 * centroid (c_k and all other centroids are unchanged): core's STAY PROOF
 * (src/core/split.h) proves from its code that it stays, and such an entry
 * is copied byte for byte (its residual is to c_k, which is unchanged); a row
 * not proven is fetched and assigned exactly.
 *
 * Structure.  This is the full retrain's online copy and swap (ivfmaint.cpp)
 * with another placement of the entries: the parameter stream, the directory
 * and the lists not shared (below) are written beside the live ones,
 * catch-up passes place what inserts add meanwhile (they go to the old
 * model), the last pass runs under the exclusive meta lock, and one meta
 * record swaps it in, keeping the old one as "retired".  So a crash leaves
 * the old or the new model whole, and old scans read the retired structure.
 *
 * Shared lists.  An unchanged list whose entries all stay is not copied: the
 * new directory takes its live chain at the swap, and both models read it,
 * which chain stamps (src/core/stamp.h, ivfpage.cpp) and VACUUM's keeping of
 * shared heads (IvfListFreeHead, IvfListFreePage) make safe.  Rows of changed
 * lists that now go to a shared list are written to new pages linked before
 * its chain, which only the new directory reaches (IvfSplitShare).  A list
 * stops being shared, and is rewritten whole, when one of its entries
 * (inserted meanwhile ones included) would move.  Indexes built by 0.1.0,
 * whose pages carry no stamps, share nothing in their first maintenance.
 */
#include "pg.h"
#include "ivf.h"
#include "guard.h"
#include "ivfbuild.h"
#include "ivfmaint.h"
#include "ivfmodel.h"

#include <algorithm>
#include <cmath>


/* Lists above this many times the average are split. */
#define IVF_SPLIT_RATIO		2
/* Nearest lists of each split list re-trained with it. */
#define IVF_SPLIT_NEIGHBOURS	8

struct IvfSplitState
{
	bool	   *changed;		/* per new list: its centroid is new (rows never proven to stay) */
	bool	   *shared;			/* per old list: its chain becomes the new model's (see IvfSplitPlace) */
	int64	   *shared_rows;	/* per old list: entries of a shared chain counted into bs->indtuples */
	int			lists;			/* of the old model */
	core::StayProof *proof;		/* new'd; deleted with the maintenance's context */
	char	   *keep;			/* scratch: entries proven to stay, of one list */
	bool	   *stays;			/* scratch: per collected entry */
	int64		capkeep;
	float	   *rows;			/* scratch: IVF_SPLIT_CHECK_ROWS prepared rows (dims each) of a shared list */
	int32	   *labels;			/* scratch: their lists */
	int64		fetched;		/* rows re-assigned from the heap */
	int64		kept;			/* rows copied byte for byte */
	int64		checked;		/* rows of shared lists fetched to check that they stay */
	/* the proof of the entries of the list last unshared, which are collected again */
	char	   *saved;			/* saved_n entries */
	bool	   *saved_stays;
	int64		saved_n;
	int64		capsaved;
	int			saved_list;		/* -1: none */
	int			nshared;		/* lists shared at the swap */
	int			joined_lists;	/* of them, lists that rows of other lists joined */
};

/*
 * Rows of a shared list assigned at once to check that they stay: few, since
 * a list with a row that moves is rewritten and its rows fetched again
 */
#define IVF_SPLIT_CHECK_ROWS	64

static void
DeleteProof(void *p)
{
	delete static_cast<core::StayProof *>(p);
}

static void
DeleteCodec(void *p)
{
	delete static_cast<core::Codec *>(p);
}

/*
 * Assigns the m rows gathered in ss->rows over all new centroids, as the
 * copy's batches assign (core::assign_to_lists); true when all of them go to
 * `list`.
 */
static bool
CheckedRowsStay(IvfSplitState *ss, IvfBuildState *bs, int list, int m)
{
	bool		stay = true;

	if (m == 0)
		return true;
	IvfGuard("ivf split re-assignment", [&]() {
		core::Hooks hooks = IvfCancelHooks();
		std::vector<float> dist2((size_t) m);

		core::assign_to_lists(*bs->assigner, ss->rows, (size_t) m, bs->dims, bs->list_centroids, bs->lists,
							  bs->mips_max_norm2, ss->labels, dist2.data(), hooks);
	});
	for (int i = 0; i < m; i++)
		stay = stay && ss->labels[i] == list;
	return stay;
}

/*
 * A shared list's collected entries: true when each stays in the list,
 * proven from its code or assigned exactly from its heap row.  An entry
 * whose row is gone stays too (a dead entry, which VACUUM removes later, as
 * in any list).
 */
static bool
SharedEntriesStay(IvfCopyState *cs, IvfBuildState *bs, int list)
{
	IvfSplitState *ss = cs->split;
	ExprContext *econtext = GetPerTupleExprContext(cs->estate);
	int			m = 0;

	for (int64 i = 0; i < cs->nentries; i++)
	{
		const char *entry = cs->entries + (Size) i * cs->meta.entry_size;
		MemoryContext old;
		ItemPointerData tid;
		Datum		value;
		bool		bounded;

		if (ss->stays[i])
			continue;
		old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
		memcpy(&tid, entry, sizeof(ItemPointerData));
		if (IvfMaintFetchValue(cs, &tid, &value) &&
			IvfPrepareRow(value, bs->element, bs->dims, bs->metric, ss->rows + (Size) m * bs->dims, &bounded))
			m++;
		MemoryContextSwitchTo(old);
		ResetExprContext(econtext);
		ss->checked++;
		if (m == IVF_SPLIT_CHECK_ROWS)
		{
			if (!CheckedRowsStay(ss, bs, list, m))
				return false;
			m = 0;
		}
		if ((i & 255) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return CheckedRowsStay(ss, bs, list, m);
}

/* Marks a shared list as rewritten after all: its entries counted so far are the new chain's to count. */
static void
Unshare(IvfSplitState *ss, IvfBuildState *bs, int list)
{
	ss->shared[list] = false;
	bs->indtuples -= ss->shared_rows[list];
	ss->shared_rows[list] = 0;
}

/*
 * Places the entries CollectNew gathered from live list `list`.  A shared
 * list (unchanged, and every entry so far stays) keeps them where they are,
 * in its chain, which the new directory takes over at the swap
 * (IvfSplitShare); when one of them would move, the list stops being shared
 * and false asks the caller to collect all of its entries again.  Otherwise
 * proven entries are copied into the same list of the new structure and the
 * others re-assigned from their heap rows.
 */
bool
IvfSplitPlace(IvfCopyState *cs, IvfBuildState *bs, int list)
{
	IvfSplitState *ss = cs->split;
	int			es = cs->meta.entry_size;
	int64		n = cs->nentries;
	int64		nkeep = 0;

	if (n == 0)
		return true;
	if (n > ss->capkeep)
	{
		ss->capkeep = Max(n, ss->capkeep * 2);
		ss->keep = (char *) repalloc_huge(ss->keep, (Size) es * ss->capkeep);
		ss->stays = (bool *) repalloc_huge(ss->stays, sizeof(bool) * ss->capkeep);
	}
	if (ss->changed[list])
		memset(ss->stays, 0, sizeof(bool) * n);
	else
	{
		int64		from = 0;

		/* a list just unshared comes back with the same entries first: their proof holds */
		if (ss->saved_list == list && n >= ss->saved_n &&
			memcmp(cs->entries, ss->saved, (Size) es * ss->saved_n) == 0)
		{
			memcpy(ss->stays, ss->saved_stays, sizeof(bool) * ss->saved_n);
			from = ss->saved_n;
		}
		ss->saved_list = -1;
		IvfGuard("ivf split re-assignment", [&]() {
			ss->proof->set_list(list);
			for (int64 i = from; i < n; i++)
				ss->stays[i] = ss->proof->stays((const uint8_t *) cs->entries + (size_t) i * es);
		});
	}
	if (ss->shared[list])
	{
		if (SharedEntriesStay(cs, bs, list))
		{
			ss->shared_rows[list] += n;
			bs->indtuples += n;
			return true;
		}
		Unshare(ss, bs, list);
		if (n > ss->capsaved)
		{
			ss->capsaved = Max(n, ss->capsaved * 2);
			ss->saved = (char *) repalloc_huge(ss->saved, (Size) es * ss->capsaved);
			ss->saved_stays = (bool *) repalloc_huge(ss->saved_stays, sizeof(bool) * ss->capsaved);
		}
		memcpy(ss->saved, cs->entries, (Size) es * n);
		memcpy(ss->saved_stays, ss->stays, sizeof(bool) * n);
		ss->saved_n = n;
		ss->saved_list = list;
		return false;
	}
	for (int64 i = 0; i < n; i++)
	{
		const char *entry = cs->entries + (Size) i * es;

		if (ss->stays[i])
			memcpy(ss->keep + (Size) nkeep++ * es, entry, es);
		else
		{
			IvfMaintCopyRow(cs, bs, entry);
			ss->fetched++;
		}
		if ((i & 255) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	if (nkeep > 0)
	{
		IvfPrivateAppend(bs->index, &bs->dir[list], core::chain_stamp(bs->generation, list), es, ss->keep,
						 (int) nkeep);
		bs->indtuples += nkeep;
		ss->kept += nkeep;
	}
	return true;
}

/*
 * Under the exclusive meta lock, after the last pass: each shared list's
 * chain becomes the new model's.  The rows that joined the list (rows of
 * changed lists whose nearest centroid is now this one), which the copy
 * appended to the list's new pages like any list's, go before it: those
 * pages are linked to the chain's head, and the new directory points at the
 * first of them.  So the new model reads them and then the shared chain,
 * while the retired model, whose directory points at the shared head, never
 * reaches them (it holds those rows in their old lists).  Linking a page
 * nobody reaches yet is harmless if the swap does not follow (a crash: the
 * page is an orphan that the next maintenance frees).
 */
void
IvfSplitShare(IvfCopyState *cs, IvfBuildState *bs)
{
	IvfSplitState *ss = cs->split;

	for (int list = 0; list < ss->lists; list++)
	{
		IvfListData live;

		if (!ss->shared[list])
			continue;
		live = IvfGetList(cs->index, &cs->meta, list);
		if (!BlockNumberIsValid(bs->dir[list].head))
			bs->dir[list] = live;
		else if (BlockNumberIsValid(live.head))
		{
			Buffer		buf = IvfReadDataPage(cs->index, bs->dir[list].insert, BUFFER_LOCK_EXCLUSIVE, NULL);
			GenericXLogState *state;

			if (BlockNumberIsValid(IvfPageNext(BufferGetPage(buf))))
				elog(ERROR, "ivf index \"%s\" new list %d has no tail at block %u. Please report a bug.",
					 RelationGetRelationName(cs->index), list, bs->dir[list].insert);
			state = GenericXLogStart(cs->index);
			IvfPageSetNext(GenericXLogRegisterBuffer(state, buf, 0), live.head);
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
			ss->joined_lists++;
		}
		ss->nshared++;
	}
}

/*
 * Trains the `total` centroids of the changed lists (parts[l] > 0) with one
 * k-means on a sample of their rows, parts[l] * IVF_SAMPLE_PER_LIST rows of
 * list l; into out (total * sample_dims).  With rank_out (total * dims),
 * also their inner-product ranking vectors from the same sample, as a build
 * computes them (core::mips_rank_vectors).  False when that does not fit
 * maintenance_work_mem.
 */
static bool
TrainChanged(IvfCopyState *cs, IvfBuildState *bs, const int *parts, int lists, int total, float *out,
			 float *rank_out)
{
	Size		budget = (Size) maintenance_work_mem * 1024;
	int64		target = (int64) total * IVF_SAMPLE_PER_LIST;
	float	   *sample;
	int64		n = 0;

	if ((Size) target * bs->sample_dims * sizeof(float) * 2 +
		core::kmeans_memory_bytes(target, total, bs->sample_dims) > budget)
		return false;
	sample = (float *) palloc_extended(sizeof(float) * bs->sample_dims * Max(target, 1), MCXT_ALLOC_HUGE);
	for (int l = 0; l < lists; l++)
	{
		if (parts[l] == 0)
			continue;
		IvfMaintSample(cs, bs, (int64) parts[l] * IVF_SAMPLE_PER_LIST, l);
		memcpy(sample + n * bs->sample_dims, bs->sample, sizeof(float) * bs->sample_dims * bs->nsample);
		n += bs->nsample;
		pfree(bs->sample);
		bs->sample = NULL;
	}
	IvfGuard("ivf split k-means", [&]() {
		core::Hooks hooks = IvfCancelHooks();
		core::CpuAssigner assigner(bs->threads);
		core::KMeansParams params;

		if (bs->sample_dims > bs->dims)
			core::mips_augment_rows(sample, bs->sample_dims, n, bs->dims, bs->mips_max_norm2, sample);
		params.k = total;
		params.iterations = ivf_kmeans_iterations;
		params.seed = IVF_SEED;
		params.spherical = bs->metric == IVF_METRIC_COSINE;
		core::KMeansResult result = core::train_kmeans(sample, n, bs->sample_dims, params, assigner, hooks);
		std::copy(result.centroids.begin(), result.centroids.end(), out);
		if (rank_out != NULL)
		{
			std::vector<int32_t> labels((size_t) Max(n, 1));
			std::vector<float> dist2((size_t) Max(n, 1));
			std::vector<float> centroids((size_t) total * bs->dims);
			std::vector<float> extras((size_t) total);

			if (n > 0)
				assigner.assign(sample, n, out, total, bs->sample_dims, labels.data(), dist2.data(), hooks);
			core::mips_split_centroids(out, total, bs->dims, centroids.data(), extras.data());
			core::mips_drop_extra(sample, n, bs->dims);
			core::mips_rank_vectors(sample, (size_t) n, bs->dims, labels.data(), centroids.data(), total, rank_out);
		}
	});
	pfree(sample);
	if (!core::all_finite(out, (size_t) total * bs->sample_dims))
		elog(ERROR, "ivf index \"%s\" split gave a non-finite centroid. Please report a bug.",
			 RelationGetRelationName(bs->index));
	return true;
}

/* Squared distance between the centroids of lists a and b (extras included under the MIPS reduction). */
static double
CentroidDistance2(const IvfBuildState *bs, int a, int b)
{
	double		s = 0;

	for (int j = 0; j < bs->dims; j++)
	{
		double		t = (double) bs->centroids[(Size) a * bs->dims + j] - bs->centroids[(Size) b * bs->dims + j];

		s += t * t;
	}
	if (bs->mips_extras != NULL)
		s += ((double) bs->mips_extras[a] - bs->mips_extras[b]) * ((double) bs->mips_extras[a] - bs->mips_extras[b]);
	return s;
}

/*
 * Splits the lists of the live model *live that grew (see the top of the
 * file) and swaps the result in; returns what it did, or NULL when a full
 * retrain is the better choice (nothing to split within the limits, or the
 * split lists hold more than half the rows).
 */
const char *
IvfSplit(Relation heap, Relation index, const IvfMetaPageData *live, int64 rows)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "ivf split", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	IvfBuildState *bs = (IvfBuildState *) palloc0(sizeof(IvfBuildState));
	IvfCopyState *cs = (IvfCopyState *) palloc0(sizeof(IvfCopyState));
	IvfSplitState *ss = (IvfSplitState *) palloc0(sizeof(IvfSplitState));
	Size		budget = (Size) maintenance_work_mem * 1024;
	int			lists = live->lists;
	int64	   *count = (int64 *) palloc(sizeof(int64) * lists);
	int		   *order = (int *) palloc(sizeof(int) * lists);
	int		   *parts = (int *) palloc0(sizeof(int) * lists);
	double		average;
	int			newlists = lists;
	int			nsplit = 0;
	int			nneighbours = 0;
	int64		split_rows = 0;
	float	   *blob;
	float	   *trained;
	const char *result;

	IvfMaintInitBuild(bs, cxt, heap, index, live);
	bs->mips_max_norm2 = live->mips_max_norm2 > 0 ? live->mips_max_norm2 : 0;
	bs->mips_overflow = live->mips_overflow != 0;
	bs->requested_lists = live->requested_lists > 0 ? live->requested_lists : live->lists;
	bs->param_floats = live->param_floats;
	bs->nsample = (int64) live->trained_rows;

	/* the live model's centroids; the changed ones are overwritten below */
	blob = IvfReadBlob(index, live);
	bs->centroids = (float *) palloc_extended(sizeof(float) * (Size) lists * bs->dims, MCXT_ALLOC_HUGE);
	memcpy(bs->centroids, blob, sizeof(float) * (Size) lists * bs->dims);
	if (bs->mips_max_norm2 > 0)
	{
		bs->mips_extras = (float *) palloc(sizeof(float) * lists);
		memcpy(bs->mips_extras, blob + live->centroid_floats + live->param_floats, sizeof(float) * lists);
		/* the ranking vectors of inner-product lists (mips.h): unchanged lists keep theirs */
		if (live->mips_rank)
		{
			bs->mips_rank = (float *) palloc_extended(sizeof(float) * (Size) lists * bs->dims, MCXT_ALLOC_HUGE);
			memcpy(bs->mips_rank, blob + live->centroid_floats + live->param_floats + lists,
				   sizeof(float) * (Size) lists * bs->dims);
		}
	}

	/* the plan: largest lists first, while the model fits */
	for (int l = 0; l < lists; l++)
	{
		int32		pages;

		IvfCountList(index, live, l, NULL, &count[l], &pages);
		order[l] = l;
		CHECK_FOR_INTERRUPTS();
	}
	average = (double) rows / Max(lists, 1);
	std::sort(order, order + lists, [count](int a, int b) { return count[a] > count[b] || (count[a] == count[b] && a < b); });
	for (int i = 0; i < lists && average > 0; i++)
	{
		int			l = order[i];
		int			p;

		if (count[l] <= IVF_SPLIT_RATIO * average)
			break;
		p = (int) Min(ceil(count[l] / average), (double) (IVF_MAX_LISTS - newlists + 1));
		while (p >= 2 && IvfModelBytes(bs, newlists + p - 1) > budget)
			p--;
		if (p < 2)
			break;
		parts[l] = p;
		newlists += p - 1;
		nsplit++;
		split_rows += count[l];
	}
	if (nsplit == 0 || split_rows * 2 > rows)
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		return NULL;
	}
	/*
	 * The split lists' nearest neighbours are re-trained with them (one part
	 * per average of rows, at least one), while the re-trained lists hold at
	 * most half the rows: rows that drifted past a grown list's edge into
	 * its neighbours are re-clustered with it, instead of staying in lists
	 * whose centroids lie in the old data.
	 */
	{
		int		   *split = (int *) palloc(sizeof(int) * nsplit);
		int		   *near = (int *) palloc(sizeof(int) * lists);
		double	   *dist = (double *) palloc(sizeof(double) * lists);
		int			nearest = Min(IVF_SPLIT_NEIGHBOURS, lists - 1);

		for (int i = 0; i < nsplit; i++)
			split[i] = order[i];
		for (int i = 0; i < nsplit; i++)
		{
			int			l = split[i];

			for (int m = 0; m < lists; m++)
			{
				near[m] = m;
				dist[m] = m == l ? -1 : CentroidDistance2(bs, l, m);
			}
			std::partial_sort(near, near + nearest + 1, near + lists,
							  [dist](int a, int b) { return dist[a] < dist[b] || (dist[a] == dist[b] && a < b); });
			for (int k = 1; k <= nearest; k++)
			{
				int			m = near[k];
				int			p = (int) Max(1, lround(count[m] / average));

				if (parts[m] > 0 || (split_rows + count[m]) * 2 > rows || newlists + p - 1 > IVF_MAX_LISTS ||
					IvfModelBytes(bs, newlists + p - 1) > budget)
					continue;
				parts[m] = p;
				newlists += p - 1;
				nneighbours++;
				split_rows += count[m];
			}
			CHECK_FOR_INTERRUPTS();
		}
		pfree(split);
		pfree(near);
		pfree(dist);
	}

	IvfMaintBeginCopy(cs, cxt, heap, index, live);

	/* the new model: the changed lists' centroids in their slots, then appended */
	bs->lists = newlists;
	bs->centroids = (float *) repalloc_huge(bs->centroids, sizeof(float) * (Size) newlists * bs->dims);
	if (bs->mips_max_norm2 > 0)
		bs->mips_extras = (float *) repalloc(bs->mips_extras, sizeof(float) * newlists);
	if (bs->mips_rank != NULL)
		bs->mips_rank = (float *) repalloc_huge(bs->mips_rank, sizeof(float) * (Size) newlists * bs->dims);
	ss->changed = (bool *) palloc0(sizeof(bool) * newlists);
	{
		int			total = 0;
		int			next = 0;
		int			appended = lists;
		float	   *rank = NULL;

		for (int l = 0; l < lists; l++)
			total += parts[l];
		trained = (float *) palloc_extended(sizeof(float) * bs->sample_dims * (Size) total, MCXT_ALLOC_HUGE);
		if (bs->mips_rank != NULL)
			rank = (float *) palloc_extended(sizeof(float) * bs->dims * (Size) total, MCXT_ALLOC_HUGE);
		if (!TrainChanged(cs, bs, parts, lists, total, trained, rank))
		{
			IvfMaintEndCopy(cs);
			MemoryContextSwitchTo(old);
			MemoryContextDelete(cxt);
			return psprintf("skipped (split): training %d lists needs more than maintenance_work_mem", total);
		}
		for (int l = 0; l < lists; l++)
			for (int j = 0; j < parts[l]; j++)
			{
				int			slot = j == 0 ? l : appended++;
				const float *part = trained + (Size) next++ * bs->sample_dims;

				memcpy(bs->centroids + (Size) slot * bs->dims, part, sizeof(float) * bs->dims);
				if (bs->mips_max_norm2 > 0)
					bs->mips_extras[slot] = part[bs->dims];
				if (rank != NULL)
					memcpy(bs->mips_rank + (Size) slot * bs->dims, rank + (Size) (next - 1) * bs->dims,
						   sizeof(float) * bs->dims);
				ss->changed[slot] = true;
			}
		pfree(trained);
		if (rank != NULL)
			pfree(rank);
	}
	/* from here on a crash or an error leaves orphan pages for the next maintenance */
	IvfMaintSetState(index, IVF_MAINT_RUNNING);
	/* the model's training record stays the retrain's or the build's */
	bs->nsample = (int64) live->trained_rows;
	if (bs->mips_max_norm2 > 0)
	{
		bs->list_centroids = (float *) palloc_extended(sizeof(float) * (Size) newlists * (bs->dims + 1),
													   MCXT_ALLOC_HUGE);
		IvfGuard("ivf split model", [&]() {
			std::vector<float> joined = core::mips_join_centroids(bs->centroids, bs->mips_extras, newlists, bs->dims);

			std::copy(joined.begin(), joined.end(), bs->list_centroids);
		});
	}
	else
		bs->list_centroids = bs->centroids;

	/* the live codec, unchanged: codes of rows that stay remain valid */
	{
		void	  **codec_slot = IvfDeleteOnReset(cxt, DeleteCodec, NULL);
		void	  **proof_slot = IvfDeleteOnReset(cxt, DeleteProof, NULL);
		const float *params = blob + live->centroid_floats;

		IvfGuard("ivf split model", [&]() {
			std::vector<int32_t> changed;

			bs->codec = new core::Codec(core::Codec::from_parameters(
				static_cast<core::QuantizerKind>(live->quantizer), static_cast<core::Metric>(live->metric),
				live->dims, live->pq_m, live->residual != 0, params, live->param_floats));
			*codec_slot = bs->codec;
			for (int l = 0; l < newlists; l++)
				if (ss->changed[l])
					changed.push_back(l);
			ss->proof = new core::StayProof(*bs->codec, bs->centroids, bs->mips_extras, (size_t) newlists,
											bs->mips_max_norm2, changed);
			*proof_slot = ss->proof;
		});
		IvfWriteModel(bs, params);
	}
	IvfStartBatches(bs);

	ss->capkeep = 1024;
	ss->keep = (char *) MemoryContextAllocHuge(cxt, (Size) live->entry_size * ss->capkeep);
	ss->stays = (bool *) MemoryContextAllocHuge(cxt, sizeof(bool) * ss->capkeep);
	ss->capsaved = 1024;
	ss->saved = (char *) MemoryContextAllocHuge(cxt, (Size) live->entry_size * ss->capsaved);
	ss->saved_stays = (bool *) MemoryContextAllocHuge(cxt, sizeof(bool) * ss->capsaved);
	ss->saved_list = -1;
	ss->rows = (float *) MemoryContextAllocHuge(cxt, sizeof(float) * bs->dims * IVF_SPLIT_CHECK_ROWS);
	ss->labels = (int32 *) palloc(sizeof(int32) * IVF_SPLIT_CHECK_ROWS);
	/*
	 * Unchanged lists start shared when their pages carry chain stamps: the
	 * new model reads their chains as they are.  An index built by 0.1.0
	 * (stamp 0) has every list rewritten once, with stamps.
	 */
	ss->lists = lists;
	ss->shared = (bool *) palloc0(sizeof(bool) * lists);
	ss->shared_rows = (int64 *) palloc0(sizeof(int64) * lists);
	for (int l = 0; l < lists; l++)
		ss->shared[l] = live->chain_stamps && !ss->changed[l];
	cs->split = ss;
	IvfMaintSwap(cs, bs);
	IvfMaintEndCopy(cs);

	MemoryContextSwitchTo(old);
	result = psprintf("split: %d list%s split and %d neighbour%s re-trained with %s, %d new lists (%d in all), "
					  "%lld rows re-assigned from the heap, %lld rows kept in their lists, %d lists rewritten, "
					  "%d shared (%d of them joined by rows of other lists; %lld rows checked from the heap)",
					  nsplit, nsplit == 1 ? "" : "s", nneighbours, nneighbours == 1 ? "" : "s",
					  nsplit == 1 ? "it" : "them", newlists - lists, newlists, (long long) ss->fetched,
					  (long long) ss->kept, newlists - ss->nshared, ss->nshared, ss->joined_lists,
					  (long long) ss->checked);
	MemoryContextDelete(cxt);
	return result;
}
