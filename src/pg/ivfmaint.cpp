/*
 * ivfmaint.cpp — an index that trains and re-balances itself: VACUUM's
 * amvacuumcleanup (autovacuum's insert-triggered runs included) and
 * ivf_maintain(index) train an index built with too few rows once it holds
 * enough, re-train one whose lists the rows outgrew, and split the lists
 * that grew (ivfsplit.cpp, through the copy and swap below).  The caller
 * holds ShareUpdateExclusiveLock on the table, so at most
 * one maintenance runs per index.  See docs/ARCHITECTURE.md "Maintenance".
 *
 * A maintenance builds a whole new structure (parameter stream, directory,
 * lists) beside the live one, online, and swaps it in with one WAL record of
 * the meta page:
 *   1. the meta page says RUNNING (pages written from now on may be orphans);
 *   2. a sample of the rows the index holds (entries' heap TIDs, the heap row
 *      fetched with SnapshotAny, the index value computed as an insert
 *      computes it) trains a model with the build's k-means and codec;
 *   3. every entry of every live list is fetched, assigned and encoded with
 *      the new model and appended to the new lists (WAL-logged pages from
 *      the free space map or the end of the index), remembering per page
 *      how many entries were copied (entries are only ever appended to a
 *      page while no VACUUM but this one runs);
 *   4. catch-up passes copy what inserts appended meanwhile; then, holding
 *      the meta page exclusively (inserts hold it shared from reading the
 *      meta page until their entry is appended, so none is half done), a
 *      last pass, the directory, and the meta record that makes the new
 *      structure live and keeps the old one as "retired".
 * Scans that read the meta page before the swap go on reading the retired
 * structure, which stays whole until no snapshot older than the swap can
 * exist (GlobalVisCheckRemovableFullXid on the next xid at the swap, nbtree's
 * rule for deleted pages); a later maintenance then forgets it and reclaims
 * its pages.  A crash or cancel before the swap leaves the old structure
 * live and whole (every insert went to it) and orphan pages, which the next
 * maintenance reclaims by mark and sweep: pages in use are collected first,
 * the structures the meta page reaches are then marked, and the rest is
 * freed (a page an insert takes meanwhile was free when collected).
 */
#include "pg.h"
#include "ivf.h"
#include "guard.h"
#include "ivfbuild.h"
#include "ivfmaint.h"
#include "ivfcitus.h"
#include "ivfgpu.h"

extern "C" {
PG_FUNCTION_INFO_V1(ivf_maintain);
}

/* A list this many times the average size calls for re-balancing. */
#define IVF_MAINT_MAX_RATIO			4
/* Catch-up passes before the swap; stop early when a pass copies fewer entries than this. */
#define IVF_MAINT_CATCHUP_PASSES	3
#define IVF_MAINT_CATCHUP_ROWS		1000

int			ivf_maintain_pause_ms = 0;

/* Developer option ivf.maintain_pause_ms: a pause at a named point, for tests that crash or cancel there. */
void
IvfMaintPause(Relation index, const char *point)
{
	if (ivf_maintain_pause_ms <= 0)
		return;
	/* a crash during the pause finds everything written so far */
	if (!XLogRecPtrIsInvalid(XactLastRecEnd))
		XLogFlush(XactLastRecEnd);
	elog(LOG, "ivf maintenance of index \"%s\" pauses %s", RelationGetRelationName(index), point);
	for (int waited = 0; waited < ivf_maintain_pause_ms; waited += 10)
	{
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10000L);
	}
}

/* Rows of every list and the largest list. */
static void
CountRows(Relation index, const IvfMetaPageData *meta, int64 *rows, int64 *max_list)
{
	*rows = 0;
	*max_list = 0;
	for (int list = 0; list < meta->lists; list++)
	{
		int64		n;
		int32		pages;

		IvfCountList(index, meta, list, NULL, &n, &pages);
		*rows += n;
		*max_list = Max(*max_list, n);
		CHECK_FOR_INTERRUPTS();
	}
}

/* The lists option, else its default for `rows`. */
static int
WantedLists(Relation index, int64 rows)
{
	IvfOptions *opts = (IvfOptions *) index->rd_options;

	return opts != NULL && opts->lists > 0 ? opts->lists : IvfDefaultLists(rows);
}

/*
 * What the next maintenance does, or NULL: "reclaim" (orphans of an
 * interrupted maintenance, or a retired model), "train" (untrained, with
 * enough rows), "split" (a list over IVF_MAINT_MAX_RATIO times the
 * average, the rows grown by a quarter since the last maintenance: the lists
 * that grew are split, ivfsplit.cpp), "retrain" (the default lists rule now
 * asks for twice the lists the model was asked for, or the lists option
 * differs from them) or "recheck" (a model carried over a TRUNCATE).
 */
const char *
IvfMaintenanceNeed(Relation index, const IvfMetaPageData *meta, int64 rows, int64 max_list)
{
	IvfOptions *opts = (IvfOptions *) index->rd_options;
	int			option = opts != NULL ? opts->lists : 0;
	int			wanted = WantedLists(index, rows);
	bool		enough = rows >= (int64) Max(wanted, 1) * IVF_MAINT_ROWS_PER_LIST;
	uint64		base = meta->maintained_rows > 0 ? meta->maintained_rows : meta->build_rows;
	int			asked = meta->requested_lists > 0 ? meta->requested_lists : meta->lists;

	if (meta->maint_state != IVF_MAINT_NONE || meta->retired_lists > 0)
		return "reclaim";
	if (!enough)
		return NULL;
	if (meta->untrained)
		return "train";
	/* the lists the model was asked for: a split grows meta->lists past them, and must not undo itself */
	if ((option > 0 && option != asked) || (option == 0 && wanted >= 2 * asked))
		return "retrain";
	if (meta->lists > 1 && max_list * meta->lists > IVF_MAINT_MAX_RATIO * rows &&
		(uint64) rows >= base + base / 4)
		return "split";
	if (meta->model_carried)
		return "recheck";
	return NULL;
}

/* Collects the entries of one live list not copied yet, and counts them as copied. */
static void
CollectNew(IvfCopyState *cs, int list)
{
	int			entry_size = cs->meta.entry_size;
	Buffer		buf;

	cs->nentries = 0;
	for (buf = IvfListFirstPage(cs->index, &cs->meta, list, BUFFER_LOCK_SHARE, NULL); BufferIsValid(buf);
		 buf = IvfListNextPage(cs->index, buf, BUFFER_LOCK_SHARE, NULL))
	{
		Page		page = BufferGetPage(buf);
		BlockNumber blkno = BufferGetBlockNumber(buf);
		int			n = IvfPageEntryCount(page, entry_size);

		if (blkno >= cs->ncopied)
		{
			BlockNumber grown = Max(blkno + 1, cs->ncopied * 2);

			cs->copied = (int32 *) repalloc_huge(cs->copied, sizeof(int32) * grown);
			memset(cs->copied + cs->ncopied, 0, sizeof(int32) * (grown - cs->ncopied));
			cs->ncopied = grown;
		}
		if (cs->nentries + n > cs->capentries)
		{
			cs->capentries = Max(cs->capentries * 2, cs->nentries + n);
			cs->entries = (char *) repalloc_huge(cs->entries, (Size) entry_size * cs->capentries);
		}
		if (n > cs->copied[blkno])
		{
			memcpy(cs->entries + (Size) cs->nentries * entry_size, IvfPageEntry(page, entry_size, cs->copied[blkno]),
				   (Size) (n - cs->copied[blkno]) * entry_size);
			cs->nentries += n - cs->copied[blkno];
		}
		cs->copied[blkno] = Max(cs->copied[blkno], n);
	}
}

/*
 * The index value of the heap row an entry points to, computed in the
 * per-tuple context; false when the row is gone (dead to every snapshot and
 * pruned: VACUUM would remove the entry).
 */
bool
IvfMaintFetchValue(IvfCopyState *cs, ItemPointer tid, Datum *value)
{
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];
	bool		call_again = false;
	bool		all_dead = false;
	ItemPointerData t = *tid;

	if (!table_index_fetch_tuple(cs->fetch, &t, SnapshotAny, cs->slot, &call_again, &all_dead))
		return false;
	FormIndexDatum(cs->indexInfo, cs->slot, cs->estate, values, isnull);
	*value = values[0];
	return !isnull[0];
}

/* Re-assigns the row of a live entry from its heap row: into the batch, unless the row is gone. */
void
IvfMaintCopyRow(IvfCopyState *cs, IvfBuildState *bs, const char *entry)
{
	ExprContext *econtext = GetPerTupleExprContext(cs->estate);
	MemoryContext old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	ItemPointerData tid;
	Datum		value;

	memcpy(&tid, entry, sizeof(ItemPointerData));
	if (IvfMaintFetchValue(cs, &tid, &value))
		IvfBatchRow(bs, &tid, value);
	MemoryContextSwitchTo(old);
	ResetExprContext(econtext);
}

/*
 * Forgets what was copied of one live list, so that CollectNew collects all
 * of its entries (a split's shared list that is rewritten after all).
 */
static void
ForgetCopied(IvfCopyState *cs, int list)
{
	Buffer		buf;

	for (buf = IvfListFirstPage(cs->index, &cs->meta, list, BUFFER_LOCK_SHARE, NULL); BufferIsValid(buf);
		 buf = IvfListNextPage(cs->index, buf, BUFFER_LOCK_SHARE, NULL))
		if (BufferGetBlockNumber(buf) < cs->ncopied)
			cs->copied[BufferGetBlockNumber(buf)] = 0;
}

/* Copies the collected entries of a live list into the new lists (through the build's batches). */
static void
CopyCollected(IvfCopyState *cs, IvfBuildState *bs, int list)
{
	if (cs->split != NULL)
	{
		if (!IvfSplitPlace(cs, bs, list))
		{
			ForgetCopied(cs, list);
			CollectNew(cs, list);
			IvfSplitPlace(cs, bs, list);
		}
	}
	else
		for (int64 i = 0; i < cs->nentries; i++)
		{
			IvfMaintCopyRow(cs, bs, cs->entries + (Size) i * cs->meta.entry_size);
			if ((i & 255) == 0)
				CHECK_FOR_INTERRUPTS();
		}
	cs->rows_copied += cs->nentries;
}

/* One pass over every live list copying what the previous passes did not; returns the entries it found. */
static int64
CopyPass(IvfCopyState *cs, IvfBuildState *bs, bool pause)
{
	int64		found = 0;

	for (int list = 0; list < cs->meta.lists; list++)
	{
		CollectNew(cs, list);
		found += cs->nentries;
		CopyCollected(cs, bs, list);
		if (pause && list == 0 && ivf_maintain_pause_ms > 0)
		{
			/* with new lists on disk, for tests that crash here */
			IvfFlushBatch(bs);
			IvfMaintPause(cs->index, "during its copy");
		}
	}
	IvfFlushBatch(bs);
	return found;
}

/*
 * Samples up to `target` of the entries of live list `list` (-1: of every
 * list; reservoir over TIDs) and fetches their rows into bs->sample.  A
 * sample of every list also raises the MIPS reduction's M to its rows'
 * norms (a retrain); a split keeps M.
 */
void
IvfMaintSample(IvfCopyState *cs, IvfBuildState *bs, int64 target, int only)
{
	ItemPointerData *reservoir = (ItemPointerData *) palloc_extended(sizeof(ItemPointerData) * Max(target, 1),
																	  MCXT_ALLOC_HUGE);
	int64		seen = 0;
	int64		kept = 0;
	ExprContext *econtext = GetPerTupleExprContext(cs->estate);

	pg_prng_seed(&bs->prng, IVF_SEED);
	for (int list = Max(only, 0); list < (only < 0 ? cs->meta.lists : only + 1); list++)
	{
		Buffer		buf;

		for (buf = IvfListFirstPage(cs->index, &cs->meta, list, BUFFER_LOCK_SHARE, NULL); BufferIsValid(buf);
			 buf = IvfListNextPage(cs->index, buf, BUFFER_LOCK_SHARE, NULL))
		{
			Page		page = BufferGetPage(buf);
			int			n = IvfPageEntryCount(page, cs->meta.entry_size);

			for (int i = 0; i < n; i++, seen++)
			{
				int64		slot = kept < target ? kept
					: (int64) pg_prng_uint64_range(&bs->prng, 0, (uint64) seen);

				if (slot < target)
				{
					memcpy(&reservoir[slot], IvfPageEntry(page, cs->meta.entry_size, i), sizeof(ItemPointerData));
					if (slot == kept)
						kept++;
				}
			}
		}
	}

	/* inner product: a spare column per row for the MIPS reduction's coordinate (IvfTrainModel) */
	bs->sample = (float *) palloc_extended(sizeof(float) * bs->sample_dims * Max(kept, 1), MCXT_ALLOC_HUGE);
	bs->nsample = 0;
	for (int64 i = 0; i < kept; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
		Datum		value;
		bool		bounded;

		if (IvfMaintFetchValue(cs, &reservoir[i], &value) &&
			IvfPrepareRow(value, bs->element, bs->dims, bs->metric, bs->sample + bs->nsample * bs->sample_dims,
						  &bounded))
		{
			if (bs->sample_dims > bs->dims && only < 0)
				bs->mips_max_norm2 = Max(bs->mips_max_norm2,
										 core::mips_squared_norm(bs->sample + bs->nsample * bs->sample_dims, bs->dims));
			bs->nsample++;
		}
		MemoryContextSwitchTo(old);
		ResetExprContext(econtext);
		if ((i & 255) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	pfree(reservoir);
}

/*
 * Mark and sweep: frees every page that neither the live nor the retired
 * structure reaches (orphans of an interrupted maintenance, or a retired
 * structure the caller just forgot), then clears maint_state.  Returns the
 * pages freed.
 */
static int64
Reclaim(Relation index)
{
	IvfMetaPageData meta;
	IvfMetaPageData reach[2];
	int			nreach = 0;
	BlockNumber nblocks;
	bool	   *candidate;
	bool	   *marked;
	int64		freed = 0;
	Buffer		metabuf;

	LockRelationForExtension(index, ExclusiveLock);
	nblocks = RelationGetNumberOfBlocks(index);
	UnlockRelationForExtension(index, ExclusiveLock);
	candidate = (bool *) MemoryContextAllocHuge(CurrentMemoryContext, nblocks);
	marked = (bool *) MemoryContextAllocHuge(CurrentMemoryContext, nblocks);
	memset(marked, 0, nblocks);

	/* first what is in use now: a page linked later was free here */
	for (BlockNumber blkno = 0; blkno < nblocks; blkno++)
	{
		Buffer		buf = ReadBuffer(index, blkno);

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		candidate[blkno] = blkno != IVF_METAPAGE_BLKNO && !IvfPageIsFree(BufferGetPage(buf));
		UnlockReleaseBuffer(buf);
		CHECK_FOR_INTERRUPTS();
	}

	/* then what the meta page reaches: the live structure and the retired one */
	IvfGetMetaPage(index, &meta);
	reach[nreach++] = meta;
	if (meta.retired_lists > 0)
	{
		IvfMetaPageData r = meta;

		r.lists = meta.retired_lists;
		r.blob_start = meta.retired_blob_start;
		r.blob_pages = meta.retired_blob_pages;
		r.dir_start = meta.retired_dir_start;
		r.dir_pages = meta.retired_dir_pages;
		reach[nreach++] = r;
	}
	for (int s = 0; s < nreach; s++)
	{
		const IvfMetaPageData *m = &reach[s];

		for (uint32 i = 0; i < m->blob_pages; i++)
			if (m->blob_start + i < nblocks)
				marked[m->blob_start + i] = true;
		for (uint32 i = 0; i < m->dir_pages; i++)
			if (m->dir_start + i < nblocks)
				marked[m->dir_start + i] = true;
		for (int list = 0; list < m->lists; list++)
		{
			Buffer		buf;

			for (buf = IvfListFirstPage(index, m, list, BUFFER_LOCK_SHARE, NULL); BufferIsValid(buf);
				 buf = IvfListNextPage(index, buf, BUFFER_LOCK_SHARE, NULL))
				if (BufferGetBlockNumber(buf) < nblocks)
					marked[BufferGetBlockNumber(buf)] = true;
		}
	}

	for (BlockNumber blkno = 0; blkno < nblocks; blkno++)
	{
		Buffer		buf;

		if (!candidate[blkno] || marked[blkno])
			continue;
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		if (!IvfPageIsFree(BufferGetPage(buf)))
		{
			GenericXLogState *state = GenericXLogStart(index);

			IvfInitPage(GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE), IVF_PAGE_FREE);
			GenericXLogFinish(state);
			freed++;
		}
		UnlockReleaseBuffer(buf);
		RecordFreeIndexPage(index, blkno);
		CHECK_FOR_INTERRUPTS();
	}
	IndexFreeSpaceMapVacuum(index);

	metabuf = IvfLockMetaPage(index, &meta, BUFFER_LOCK_EXCLUSIVE);
	meta.maint_state = IVF_MAINT_NONE;
	IvfWriteLockedMetaPage(index, metabuf, &meta);
	UnlockReleaseBuffer(metabuf);
	pfree(candidate);
	pfree(marked);
	return freed;
}

/* Sets the meta page's maint_state, WAL-logged. */
void
IvfMaintSetState(Relation index, int32 state)
{
	IvfMetaPageData meta;
	Buffer		buf = IvfLockMetaPage(index, &meta, BUFFER_LOCK_EXCLUSIVE);

	meta.maint_state = state;
	IvfWriteLockedMetaPage(index, buf, &meta);
	/*
	 * WAL order alone makes it precede every page the maintenance writes; the
	 * flush makes ivf_index_info tell of an interrupted one after any crash.
	 */
	if (RelationNeedsWAL(index))
		XLogFlush(BufferGetLSNAtomic(buf));
	UnlockReleaseBuffer(buf);
}

/*
 * The build state of a maintenance's new structure: the live index's shape,
 * WAL-logged pages of the next generation, CPU training (a VACUUM must not
 * fail where ivf.build_device = 'gpu' finds no GPU).  The caller sets the
 * model's fields (lists, MIPS reduction, requested lists).
 */
void
IvfMaintInitBuild(IvfBuildState *bs, MemoryContext cxt, Relation heap, Relation index, const IvfMetaPageData *live)
{
	bs->cxt = cxt;
	bs->heap = heap;
	bs->index = index;
	bs->fork = MAIN_FORKNUM;
	bs->live = true;
	bs->generation = live->generation + 1;
	bs->dims = live->dims;
	bs->metric = live->metric;
	bs->element = IvfGetElement(index);
	bs->quantizer = live->quantizer;
	bs->pq_m = live->pq_m;
	bs->residual = live->residual != 0;
	bs->entry_size = live->entry_size;
	bs->sample_dims = bs->dims + (bs->metric == IVF_METRIC_IP ? 1 : 0);
	bs->threads = IvfBuildThreads();
	bs->device = IVF_DEVICE_CPU;
}

/* The copy's state over the live structure *live; memory in cxt. */
void
IvfMaintBeginCopy(IvfCopyState *cs, MemoryContext cxt, Relation heap, Relation index, const IvfMetaPageData *live)
{
	cs->heap = heap;
	cs->index = index;
	cs->meta = *live;
	cs->indexInfo = BuildIndexInfo(index);
	cs->estate = CreateExecutorState();
	cs->slot = table_slot_create(heap, NULL);
	GetPerTupleExprContext(cs->estate)->ecxt_scantuple = cs->slot;
	cs->fetch = table_index_fetch_begin(heap);
	cs->ncopied = Max(RelationGetNumberOfBlocks(index), 1);
	cs->copied = (int32 *) MemoryContextAllocHuge(cxt, sizeof(int32) * cs->ncopied);
	memset(cs->copied, 0, sizeof(int32) * cs->ncopied);
	cs->capentries = 1024;
	cs->entries = (char *) MemoryContextAllocHuge(cxt, (Size) live->entry_size * cs->capentries);
}

void
IvfMaintEndCopy(IvfCopyState *cs)
{
	table_index_fetch_end(cs->fetch);
	ExecDropSingleTupleTableSlot(cs->slot);
	FreeExecutorState(cs->estate);
}

/*
 * Steps 3 and 4 (see the top of the file): the copy passes into the new
 * lists of bs, whose model and empty directory are written, then the swap.
 */
void
IvfMaintSwap(IvfCopyState *cs, IvfBuildState *bs)
{
	Relation	index = cs->index;
	IvfMetaPageData meta;
	Buffer		metabuf;

	for (int pass = 0; pass <= IVF_MAINT_CATCHUP_PASSES; pass++)
		if (CopyPass(cs, bs, pass == 0) < IVF_MAINT_CATCHUP_ROWS && pass > 0)
			break;
	IvfMaintPause(index, "before its swap");

	/* no insert is half done while the meta page is held: they hold it shared */
	metabuf = IvfLockMetaPage(index, &meta, BUFFER_LOCK_EXCLUSIVE);
	CopyPass(cs, bs, false);
	if (cs->split != NULL)
		IvfSplitShare(cs, bs);
	IvfWriteDirectory(index, MAIN_FORKNUM, true, bs->dir_start, bs->dir, bs->lists);

	/* a split keeps M: a row beyond it that an insert recorded meanwhile stays recorded */
	if (cs->split != NULL && meta.mips_overflow)
		bs->mips_overflow = true;
	meta.retired_lists = meta.lists;
	meta.retired_blob_start = meta.blob_start;
	meta.retired_blob_pages = meta.blob_pages;
	meta.retired_dir_start = meta.dir_start;
	meta.retired_dir_pages = meta.dir_pages;
	meta.retired_fxid = U64FromFullTransactionId(ReadNextFullTransactionId());
	meta.nonce = pg_prng_uint64(&pg_global_prng_state) ^ (uint64) GetCurrentTimestamp();
	IvfSetModelMeta(bs, &meta);
	meta.untrained = 0;
	meta.model_carried = 0;
	/* the calibration measured the old lists: VACUUM recalibrates (ivfcalib.cpp) */
	meta.calib_count = 0;
	meta.calib_rows = 0;
	meta.maintained_rows = bs->indtuples;
	meta.generation = bs->generation;
	meta.last_maintenance = GetCurrentTimestamp();
	meta.maint_state = IVF_MAINT_NONE;
	IvfWriteLockedMetaPage(index, metabuf, &meta);
	/*
	 * Durable now rather than at the next commit's flush: correct either way
	 * (an insert into the new lists commits after the swap's record), but a
	 * maintenance that said it was done should stay done.
	 */
	if (RelationNeedsWAL(index))
		XLogFlush(BufferGetLSNAtomic(metabuf));
	UnlockReleaseBuffer(metabuf);

	IvfMaintPause(index, "after its swap");
}

/* Trains a new model on the index's rows and swaps it in (see the top of the file); returns what it did. */
static const char *
Retrain(Relation heap, Relation index, const IvfMetaPageData *live, int64 rows, int wanted, const char *why)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "ivf maintenance", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	IvfBuildState *bs = (IvfBuildState *) palloc0(sizeof(IvfBuildState));
	IvfCopyState *cs = (IvfCopyState *) palloc0(sizeof(IvfCopyState));
	Size		budget = (Size) maintenance_work_mem * 1024;
	int64		target;
	const char *result;

	IvfMaintInitBuild(bs, cxt, heap, index, live);
	/*
	 * Inner product keeps the MIPS reduction (src/core/mips.h), with M the
	 * largest of the old M and the sample's norms; copied rows beyond it set
	 * mips_overflow (IvfBatchRow), as at build.  An index built before the
	 * reduction (M = 0) gets it now.
	 */
	bs->mips_max_norm2 = bs->metric == IVF_METRIC_IP ? live->mips_max_norm2 : 0;
	bs->mips_overflow = false;
	bs->requested_lists = wanted;
	bs->lists = (int) Max(Min((int64) wanted, rows), 1);

	target = IvfTrainingSample(bs, Min((int64) bs->lists * IVF_SAMPLE_PER_LIST, (int64) IVF_MAX_DEFAULT_SAMPLE),
							   rows);
	if (IvfModelBytes(bs, bs->lists) > budget || target < Min((int64) bs->lists * IVF_MIN_SAMPLE_PER_LIST, rows))
	{
		int			lists = bs->lists;

		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		return psprintf("skipped (%s): training %d lists needs more than maintenance_work_mem", why, lists);
	}

	IvfMaintBeginCopy(cs, cxt, heap, index, live);

	/* from here on a crash or an error leaves orphan pages for the next maintenance */
	IvfMaintSetState(index, IVF_MAINT_RUNNING);

	IvfMaintSample(cs, bs, target, -1);
	/* rows deleted since they were counted: no more lists than sampled rows, as at build */
	bs->lists = (int) Max(Min((int64) bs->lists, bs->nsample), 1);
	IvfTrainModel(bs);
	IvfWriteModel(bs, NULL);
	IvfStartBatches(bs);
	IvfMaintSwap(cs, bs);
	IvfMaintEndCopy(cs);

	MemoryContextSwitchTo(old);
	result = psprintf("%s: %d list%s trained on %lld rows, %lld rows re-assigned", why, bs->lists,
					  bs->lists == 1 ? "" : "s", (long long) bs->nsample, (long long) bs->indtuples);
	MemoryContextDelete(cxt);
	return result;
}

/*
 * One maintenance of an index whose table the caller holds with
 * ShareUpdateExclusiveLock: reclaims what an earlier one left, then trains
 * or re-balances when IvfMaintenanceNeed says so.  Returns what it did;
 * messages at elevel.
 */
const char *
IvfMaintain(Relation index, int elevel)
{
	IvfMetaPageData meta;
	Relation	heap;
	int64		rows;
	int64		max_list;
	const char *need;
	const char *done = NULL;

	if (RelationGetNumberOfBlocks(index) == 0 || RecoveryInProgress())
		return "nothing to do";
	heap = table_open(index->rd_index->indrelid, NoLock);
	IvfGetMetaPage(index, &meta);

	if (meta.maint_state != IVF_MAINT_NONE)
		done = psprintf("reclaimed %lld pages of an interrupted maintenance", (long long) Reclaim(index));
	else if (meta.retired_lists > 0)
	{
		if (!GlobalVisCheckRemovableFullXid(heap, FullTransactionIdFromU64(meta.retired_fxid)))
		{
			table_close(heap, NoLock);
			return "waiting: the model replaced last may still be read by older snapshots";
		}
		/* forget the retired structure, then sweep its pages; a crash in between leaves RUNNING */
		{
			Buffer		buf = IvfLockMetaPage(index, &meta, BUFFER_LOCK_EXCLUSIVE);

			meta.retired_lists = 0;
			meta.retired_blob_pages = meta.retired_dir_pages = 0;
			meta.maint_state = IVF_MAINT_RUNNING;
			IvfWriteLockedMetaPage(index, buf, &meta);
			UnlockReleaseBuffer(buf);
		}
		done = psprintf("freed %lld pages of the model replaced last", (long long) Reclaim(index));
	}
	if (done != NULL)
		ereport(elevel, (errmsg("ivf index \"%s\": %s", RelationGetRelationName(index), done)));

	IvfGetMetaPage(index, &meta);
	CountRows(index, &meta, &rows, &max_list);
	need = IvfMaintenanceNeed(index, &meta, rows, max_list);
	if (need != NULL && strcmp(need, "recheck") == 0 &&
		!(meta.lists > 1 && max_list * meta.lists > IVF_MAINT_MAX_RATIO * rows))
	{
		/* the carried model fits the rows that came back */
		Buffer		buf = IvfLockMetaPage(index, &meta, BUFFER_LOCK_EXCLUSIVE);

		meta.model_carried = 0;
		IvfWriteLockedMetaPage(index, buf, &meta);
		UnlockReleaseBuffer(buf);
		need = NULL;
		done = done ? psprintf("%s; the model carried over TRUNCATE fits", done) : "the model carried over TRUNCATE fits";
	}
	if (need != NULL && strcmp(need, "reclaim") != 0)
	{
		const char *r = strcmp(need, "split") == 0 ? IvfSplit(heap, index, &meta, rows) : NULL;

		/* a split that would rewrite most rows costs more than a retrain */
		if (r == NULL)
			r = Retrain(heap, index, &meta, rows, WantedLists(index, rows),
						strcmp(need, "split") == 0 ? "rebalance" : need);

		ereport(elevel, (errmsg("ivf index \"%s\": %s", RelationGetRelationName(index), r)));
		done = done ? psprintf("%s; %s", done, r) : r;
	}
	table_close(heap, NoLock);
	return done != NULL ? done : "nothing to do";
}

/* ivf_maintain(index): one maintenance now, as VACUUM would run it; says what it did. */
extern "C" Datum
ivf_maintain(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	Oid			heapoid = IndexGetRelation(indexoid, true);
	Relation	heap;
	Relation	index;
	const char *result;

	if (!OidIsValid(heapoid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an ivf index", get_rel_name(indexoid) ? get_rel_name(indexoid) : "?")));
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot maintain an ivf index during recovery")));
	/* as VACUUM: one maintenance per table at a time, inserts and scans go on */
	heap = table_open(heapoid, ShareUpdateExclusiveLock);
	if (!pg_class_ownercheck(heapoid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(heap->rd_rel->relkind),
					   RelationGetRelationName(heap));
	index = index_open(indexoid, RowExclusiveLock);
	if (index->rd_rel->relkind == RELKIND_PARTITIONED_INDEX)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot maintain partitioned index \"%s\"", RelationGetRelationName(index)),
				 errhint("Maintain the index of each partition; VACUUM of the partitioned table does.")));
	if (index->rd_indam == NULL || index->rd_indam->ambuild != ivfbuild)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an ivf index", RelationGetRelationName(index))));
	if (RELATION_IS_OTHER_TEMP(index))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot access temporary indexes of other sessions")));
	result = IvfMaintain(index, DEBUG1);
	index_close(index, RowExclusiveLock);
	table_close(heap, NoLock);
	PG_RETURN_TEXT_P(cstring_to_text(result));
}
