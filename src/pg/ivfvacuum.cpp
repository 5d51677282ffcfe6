/*
 * ivfvacuum.cpp — VACUUM for ivf: ambulkdelete removes the entries whose
 * heap rows are dead, compacting each data page in place, and
 * amvacuumcleanup reports the index's size and entry count.
 *
 * Locking follows ivfinsert.cpp: one data page is locked at a time, and the
 * directory page is locked only after every data page lock is released.
 * Pages are never unlinked from a list, so scans walking a chain with no
 * lock between pages always find a valid next pointer.  Instead, when a
 * list's insert page is full and vacuum freed room on an older page of the
 * chain, the directory's insert slot is pointed at the roomiest page so that
 * inserts fill the holes before a new page is added.
 */
#include "pg.h"
#include "ivf.h"


/* What a walk of one list learned about where inserts could go. */
typedef struct IvfListRoom
{
	BlockNumber roomiest;		/* page with the most free entries, or invalid */
	int			roomiest_free;	/* free entries on it */
	bool		insert_full;	/* the slot's insert page was found full */
} IvfListRoom;

/*
 * Removes the dead entries of one page, keeping the survivors packed from
 * the start; WAL-logged only when something was removed.  Returns the
 * entries left and the page's next pointer in *next.
 */
static int
VacuumPage(IndexVacuumInfo *info, IndexBulkDeleteResult *stats, Buffer buf, int entry_size,
		   IndexBulkDeleteCallback callback, void *callback_state, BlockNumber *next)
{
	Page		page = BufferGetPage(buf);
	int			n = IvfPageEntryCount(page, entry_size);
	int			kept = 0;
	GenericXLogState *state = NULL;

	for (int i = 0; i < n; i++)
	{
		ItemPointerData tid;

		memcpy(&tid, IvfPageEntry(page, entry_size, i), sizeof(ItemPointerData));
		if (callback(&tid, callback_state))
		{
			/* the first removal: from here on, edit GenericXLog's copy, identical so far */
			if (state == NULL)
			{
				state = GenericXLogStart(info->index);
				page = GenericXLogRegisterBuffer(state, buf, 0);
			}
			stats->tuples_removed += 1;
			continue;
		}
		if (kept != i)
			memmove(IvfPageEntry(page, entry_size, kept), IvfPageEntry(page, entry_size, i), entry_size);
		kept++;
	}
	*next = IvfPageGetOpaque(page)->next;
	if (state != NULL)
	{
		((PageHeader) page)->pd_lower = IVF_PAGE_DATA_START + kept * entry_size;
		GenericXLogFinish(state);
	}
	return kept;
}

/* Walks one list's chain, removing dead entries page by page. */
static void
VacuumList(IndexVacuumInfo *info, IndexBulkDeleteResult *stats, const IvfMetaPageData *meta,
		   const IvfListData *slot, IndexBulkDeleteCallback callback, void *callback_state,
		   IvfListRoom *room)
{
	int			capacity = IvfPageCapacity(meta->entry_size);
	BlockNumber blkno = slot->head;

	room->roomiest = InvalidBlockNumber;
	room->roomiest_free = 0;
	room->insert_full = false;
	while (BlockNumberIsValid(blkno))
	{
		BlockNumber next;
		Buffer		buf;
		int			kept;

		vacuum_delay_point();
		buf = IvfReadDataPage(info->index, blkno, BUFFER_LOCK_EXCLUSIVE, info->strategy);
		kept = VacuumPage(info, stats, buf, meta->entry_size, callback, callback_state, &next);
		UnlockReleaseBuffer(buf);

		stats->num_index_tuples += kept;
		if (capacity - kept > room->roomiest_free)
		{
			room->roomiest = blkno;
			room->roomiest_free = capacity - kept;
		}
		if (blkno == slot->insert)
			room->insert_full = kept >= capacity;
		blkno = next;
	}
}

/*
 * Points a list's insert slot at the roomiest page of its chain, unless an
 * inserter changed the slot since it was read (then the inserter's choice
 * stands).  Called with no data page locked.
 */
static void
RedirectInserts(Relation index, const IvfMetaPageData *meta, int list, const IvfListData *slot,
				BlockNumber target)
{
	Buffer		buf = ReadBuffer(index, IvfListDirBlock(meta, list));
	IvfListData *dirslot;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	dirslot = &((IvfListData *) PageGetContents(BufferGetPage(buf)))[list % IVF_LISTS_PER_DIR_PAGE];
	if (dirslot->insert == slot->insert)
	{
		GenericXLogState *state = GenericXLogStart(index);
		Page		page = GenericXLogRegisterBuffer(state, buf, 0);

		((IvfListData *) PageGetContents(page))[list % IVF_LISTS_PER_DIR_PAGE].insert = target;
		GenericXLogFinish(state);
	}
	UnlockReleaseBuffer(buf);
}

/* ambulkdelete: removes the entries of dead heap rows from every list. */
IndexBulkDeleteResult *
ivfbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			  IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	IvfMetaPageData meta;

	if (stats == NULL)
		stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));
	/* a bulkdelete pass counts the entries it leaves; earlier passes' counts are stale */
	stats->num_index_tuples = 0;
	if (RelationGetNumberOfBlocks(index) == 0)
		return stats;

	IvfGetMetaPage(index, &meta);
	for (int list = 0; list < meta.lists; list++)
	{
		IvfListData slot = IvfGetList(index, &meta, list);
		IvfListRoom room;

		VacuumList(info, stats, &meta, &slot, callback, callback_state, &room);
		if (room.insert_full && BlockNumberIsValid(room.roomiest) && room.roomiest != slot.insert)
			RedirectInserts(index, &meta, list, &slot, room.roomiest);
	}
	return stats;
}

/* Counts the entries of every list, for a VACUUM that removed nothing. */
static double
CountEntries(IndexVacuumInfo *info)
{
	IvfMetaPageData meta;
	double		total = 0;

	IvfGetMetaPage(info->index, &meta);
	for (int list = 0; list < meta.lists; list++)
	{
		BlockNumber blkno = IvfGetList(info->index, &meta, list).head;

		while (BlockNumberIsValid(blkno))
		{
			Buffer		buf;
			Page		page;

			vacuum_delay_point();
			buf = IvfReadDataPage(info->index, blkno, BUFFER_LOCK_SHARE, info->strategy);
			page = BufferGetPage(buf);
			total += IvfPageEntryCount(page, meta.entry_size);
			blkno = IvfPageGetOpaque(page)->next;
			UnlockReleaseBuffer(buf);
		}
	}
	return total;
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
			stats->num_index_tuples = CountEntries(info);
	}
	stats->num_pages = RelationGetNumberOfBlocks(index);
	stats->estimated_count = false;
	return stats;
}
