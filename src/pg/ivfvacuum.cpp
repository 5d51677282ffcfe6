/*
 * ivfvacuum.cpp — VACUUM for ivf: ambulkdelete removes the entries whose
 * heap rows are dead, compacting each data page in place, unlinks the pages
 * it empties and gives them to the free space map, and points each list's
 * insert slot at the list's first page with room; amvacuumcleanup reports
 * the index's size and entry count, trains or re-balances the index when
 * due (ivfmaint.cpp), and recalibrates it for ivf.target_recall when its
 * calibration is missing or stale (ivfcalib.cpp).
 *
 * Freed room is reused: inserts walk a list from its insert slot to the
 * first page with room before they link a page, and a new page comes from
 * the free space map before the index is extended, so a table under churn
 * keeps an index of about its built size.
 *
 * Locking (see ivflist.cpp): one data page is locked at a time, except while
 * a page is unlinked (its predecessor, then the page), and the directory
 * only with no data page locked, or with the head after the directory.  The
 * page a list's insert slot points to is never unlinked (see ivflist.cpp).
 */
#include "pg.h"
#include "ivf.h"


/*
 * Removes the dead entries of one page, keeping the survivors packed from
 * the start; WAL-logged only when something was removed.  Returns the
 * entries left.  dead is scratch of one flag per entry a page holds.
 */
static int
VacuumPage(IndexVacuumInfo *info, IndexBulkDeleteResult *stats, Buffer buf, int entry_size,
		   IndexBulkDeleteCallback callback, void *callback_state, bool *dead)
{
	Page		page = BufferGetPage(buf);
	int			n = IvfPageEntryCount(page, entry_size);
	int			ndead = 0;
	GenericXLogState *state;

	for (int i = 0; i < n; i++)
	{
		ItemPointerData tid;

		memcpy(&tid, IvfPageEntry(page, entry_size, i), sizeof(ItemPointerData));
		dead[i] = callback(&tid, callback_state);
		ndead += dead[i];
	}
	if (ndead == 0)
		return n;
	stats->tuples_removed += ndead;
	state = GenericXLogStart(info->index);
	n = IvfPageCompact(GenericXLogRegisterBuffer(state, buf, 0), entry_size, dead);
	GenericXLogFinish(state);
	return n;
}

/*
 * Walks one list: compacts every page, unlinks and frees the emptied ones,
 * then points the insert slot at the first page left with room, and frees
 * the old insert page and the head too if they were left empty.
 */
static void
VacuumList(IndexVacuumInfo *info, IndexBulkDeleteResult *stats, const IvfMetaPageData *meta, int list,
		   IndexBulkDeleteCallback callback, void *callback_state, bool *dead)
{
	Relation	index = info->index;
	IvfListData slot = IvfGetList(index, meta, list);
	int			capacity = IvfPageCapacity(meta->entry_size);
	BlockNumber prev = InvalidBlockNumber;
	BlockNumber blkno = slot.head;
	BlockNumber room = InvalidBlockNumber;
	BlockNumber insert_prev = InvalidBlockNumber;	/* the page before slot.insert */
	bool		insert_empty = false;
	bool		head_empty = false;

	while (BlockNumberIsValid(blkno))
	{
		BlockNumber next;
		Buffer		buf;
		int			kept;

		vacuum_delay_point();
		buf = IvfReadDataPage(index, blkno, BUFFER_LOCK_EXCLUSIVE, info->strategy);
		kept = VacuumPage(info, stats, buf, meta->entry_size, callback, callback_state, dead);
		next = IvfPageNext(BufferGetPage(buf));
		UnlockReleaseBuffer(buf);

		if (kept == 0 && BlockNumberIsValid(prev) && blkno != slot.insert &&
			IvfListFreePage(index, prev, blkno, info->strategy, &next))
		{
			stats->pages_deleted++;
			stats->pages_newly_deleted++;
			stats->pages_free++;
			blkno = next;
			continue;
		}
		/* a page that an insert refilled while it was being freed counts below */
		stats->num_index_tuples += kept;
		if (!BlockNumberIsValid(room) && kept < capacity)
			room = blkno;
		if (blkno == slot.head)
			head_empty = kept == 0;
		if (blkno == slot.insert)
		{
			insert_prev = prev;
			insert_empty = kept == 0;
		}
		prev = blkno;
		blkno = next;
	}
	if (BlockNumberIsValid(room) && room != slot.insert &&
		IvfMoveInsertSlot(index, meta, list, slot.insert, room) &&
		insert_empty && BlockNumberIsValid(insert_prev) &&
		IvfListFreePage(index, insert_prev, slot.insert, info->strategy, &blkno))
	{
		stats->pages_deleted++;
		stats->pages_newly_deleted++;
		stats->pages_free++;
	}
	if (head_empty && IvfListFreeHead(index, meta, list, info->strategy))
	{
		stats->pages_deleted++;
		stats->pages_newly_deleted++;
		stats->pages_free++;
	}
}

/* ambulkdelete: removes the entries of dead heap rows from every list. */
IndexBulkDeleteResult *
ivfbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			  IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	IvfMetaPageData meta;
	bool	   *dead;

	if (stats == NULL)
		stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));
	/* a bulkdelete pass counts the entries it leaves; earlier passes' counts are stale */
	stats->num_index_tuples = 0;
	if (RelationGetNumberOfBlocks(index) == 0)
		return stats;

	IvfGetMetaPage(index, &meta);
	dead = (bool *) palloc(sizeof(bool) * IvfPageCapacity(meta.entry_size));
	for (int list = 0; list < meta.lists; list++)
		VacuumList(info, stats, &meta, list, callback, callback_state, dead);
	pfree(dead);
	return stats;
}

/*
 * One pass over every block after the directory, for a VACUUM that removed
 * nothing: counts the entries of the data pages (every data page is in a
 * list: VACUUM marks a page free as it unlinks it) and gives the free and
 * never-initialized pages to the free space map again, which is not
 * crash-safe, so pages freed just before a crash are found here.
 */
static double
CountAndRecordFree(IndexVacuumInfo *info)
{
	Relation	index = info->index;
	IvfMetaPageData meta;
	BlockNumber nblocks;
	double		entries = 0;

	IvfGetMetaPage(index, &meta);
	/* an extension in progress holds its new page locked before it lets the lock go */
	LockRelationForExtension(index, ExclusiveLock);
	nblocks = RelationGetNumberOfBlocks(index);
	UnlockRelationForExtension(index, ExclusiveLock);
	for (BlockNumber blkno = meta.dir_start + meta.dir_pages; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		bool		free_page;

		vacuum_delay_point();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		free_page = IvfPageIsFree(page);
		if (IvfPageIsData(page))
			entries += IvfPageEntryCount(page, meta.entry_size);
		UnlockReleaseBuffer(buf);
		if (free_page)
			RecordFreeIndexPage(index, blkno);
	}
	return entries;
}

/*
 * What VACUUM does for the index beyond PostgreSQL's own work: a maintenance
 * when due (ivfmaint.cpp), then a recalibration when the calibration is
 * missing or stale (ivfcalib.cpp; a swap clears it, so the new lists are
 * calibrated in the same VACUUM).
 */
static void
Maintain(Relation index, int elevel, double entries)
{
	IvfMetaPageData meta;

	IvfMaintain(index, elevel);
	if (RelationGetNumberOfBlocks(index) == 0)
		return;
	IvfGetMetaPage(index, &meta);
	/* VACUUM holds a stronger lock on the table than this (PostgreSQL 15 passes no heap) */
	if (IvfCalibrationStale(&meta, entries))
	{
		Relation	heap = table_open(IndexGetRelation(RelationGetRelid(index), false), AccessShareLock);

		IvfCalibrate(heap, index);
		table_close(heap, AccessShareLock);
	}
}

/*
 * Runs Maintain in a subtransaction, so that a failure (a sample that trains
 * a non-finite model, ...) is a WARNING and the VACUUM of the table goes on:
 * an index that fails the same way every time must not keep its table from
 * being vacuumed.  A cancel still ends the VACUUM.  A parallel VACUUM cannot
 * start subtransactions: there an error ends it, as an error of any index's
 * cleanup does.
 */
static void
MaintainInVacuum(Relation index, int elevel, double entries)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	if (IsInParallelMode())
	{
		Maintain(index, elevel, entries);
		return;
	}
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		Maintain(index, elevel, entries);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED || edata->elevel > ERROR)
			PG_RE_THROW();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("ivf index \"%s\" was not maintained: %s", RelationGetRelationName(index), edata->message),
				 errhint("ivf_maintain('%s') runs it alone; REINDEX rebuilds the index.",
						 RelationGetRelationName(index))));
	}
	PG_END_TRY();
}

/* amvacuumcleanup: the index's page count, and its entry count when no bulkdelete ran. */
IndexBulkDeleteResult *
ivfvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	Relation	index = info->index;

	if (info->analyze_only)
		return stats;
	if (stats == NULL)
	{
		stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));
		if (RelationGetNumberOfBlocks(index) > 0)
			stats->num_index_tuples = CountAndRecordFree(info);
	}
	/*
	 * Train, re-balance, recalibrate when due; the table is held as VACUUM
	 * holds it.  PostgreSQL 15 gives index VACUUM messages DEBUG2, VERBOSE or
	 * not; a maintenance autovacuum ran is worth a line in the server log.
	 */
	MaintainInVacuum(index, IsAutoVacuumWorkerProcess() ? LOG : info->message_level, stats->num_index_tuples);
	/* make the pages bulkdelete freed findable by inserts */
	IndexFreeSpaceMapVacuum(index);
	stats->num_pages = RelationGetNumberOfBlocks(index);
	stats->estimated_count = false;
	return stats;
}
