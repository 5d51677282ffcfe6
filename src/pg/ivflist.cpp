/*
 * ivflist.cpp — list chains under concurrency: walking a list, appending an
 * entry (reusing free pages), and VACUUM's unlinking of emptied pages.  Page
 * contents are read and written only through ivfpage.cpp.
 *
 * A list is a chain of data pages from its head to its tail; new pages are
 * linked after the tail, and only VACUUM changes the head (of a list that
 * has one), when the head is empty and its chain was born in the live model
 * (see IvfListFreeHead).
 *
 * Locking, for every process: the directory page before data pages, data
 * pages in chain order, and never the directory while holding a data page.
 * Readers couple their locks (the next page is locked before the current one
 * is released, and the head before the directory page), so no process ever
 * holds the number of a list page without a lock on the page or on the page
 * (or directory slot) that points to it.  VACUUM unlinks an empty page only
 * while holding it and its predecessor exclusively, re-checking that it is
 * empty, and never the page the directory's insert slot points to (it reads
 * the slot before its pass, and frees the page the slot pointed to only after
 * moving the slot away under the directory's exclusive lock, which waits for
 * every inserter that read the old slot to lock that page first); an empty
 * head is unlinked the same way, holding the directory page and the head.
 * Inserts move the slot only to a page they have just appended to.
 * Hence once a page is unlinked nobody can reach it again, and it goes to the
 * free space map at once, to be reused by any list.
 */
#include "pg.h"
#include "ivf.h"

/* A page for a list: a free page from the free space map, else a new block; exclusively locked. */
static Buffer
AllocListPage(Relation index)
{
	for (;;)
	{
		BlockNumber blkno = GetFreeIndexPage(index);
		Buffer		buf;
		Page		page;

		if (!BlockNumberIsValid(blkno))
			return IvfNewBuffer(index, MAIN_FORKNUM);
		buf = ReadBuffer(index, blkno);
		/* the map may be stale, or hand the page to two backends: only a free page that nobody holds */
		if (ConditionalLockBuffer(buf))
		{
			page = BufferGetPage(buf);
			if (IvfPageIsFree(page))
				return buf;
			LockBuffer(buf, BUFFER_LOCK_UNLOCK);
		}
		ReleaseBuffer(buf);
	}
}

/*
 * Points a list's insert slot at `to`, unless someone changed it from `from`
 * meanwhile (then false); no data page may be locked.
 */
bool
IvfMoveInsertSlot(Relation index, const IvfMetaPageData *meta, int list, BlockNumber from, BlockNumber to)
{
	Buffer		buf = ReadBuffer(index, IvfListDirBlock(meta, list));
	bool		moved = false;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	if (IvfDirSlot(BufferGetPage(buf), list)->insert == from)
	{
		GenericXLogState *state = GenericXLogStart(index);
		Page		page = GenericXLogRegisterBuffer(state, buf, 0);

		IvfDirSlot(page, list)->insert = to;
		GenericXLogFinish(state);
		moved = true;
	}
	UnlockReleaseBuffer(buf);
	return moved;
}

/* A list's head page locked in `mode` (coupled with the directory lock), or InvalidBuffer for an empty list. */
Buffer
IvfListFirstPage(Relation index, const IvfMetaPageData *meta, int list, int mode, BufferAccessStrategy strategy)
{
	Buffer		dirbuf = IvfReadBuffer(index, IvfListDirBlock(meta, list), NULL);
	BlockNumber head;
	Buffer		buf = InvalidBuffer;

	LockBuffer(dirbuf, BUFFER_LOCK_SHARE);
	if (PageIsNew(BufferGetPage(dirbuf)) ||
		IvfPageGetOpaque(BufferGetPage(dirbuf))->page_type != IVF_PAGE_DIRECTORY)
		IvfChangedUnderQuery(index, BufferGetBlockNumber(dirbuf));
	head = IvfDirSlot(BufferGetPage(dirbuf), list)->head;
	if (BlockNumberIsValid(head))
		buf = IvfReadDataPage(index, head, mode, strategy);
	UnlockReleaseBuffer(dirbuf);
	return buf;
}

/*
 * For prefetch hints only: the head blocks of lists[0..n) as their directory
 * slots say now (InvalidBlockNumber for an empty list or a page that is not a
 * directory).  A head may change once the lock is gone; walks read it again
 * through IvfListFirstPage.
 */
void
IvfListHeads(Relation index, const IvfMetaPageData *meta, const int32 *lists, int n, BlockNumber *heads)
{
	Buffer		dirbuf = InvalidBuffer;
	BlockNumber dirblk = InvalidBlockNumber;
	bool		isdir = false;

	for (int i = 0; i < n; i++)
	{
		if (IvfListDirBlock(meta, lists[i]) != dirblk)
		{
			if (BufferIsValid(dirbuf))
				UnlockReleaseBuffer(dirbuf);
			dirblk = IvfListDirBlock(meta, lists[i]);
			dirbuf = IvfReadBuffer(index, dirblk, NULL);
			LockBuffer(dirbuf, BUFFER_LOCK_SHARE);
			isdir = !PageIsNew(BufferGetPage(dirbuf)) &&
				IvfPageGetOpaque(BufferGetPage(dirbuf))->page_type == IVF_PAGE_DIRECTORY;
		}
		heads[i] = isdir ? IvfDirSlot(BufferGetPage(dirbuf), lists[i])->head : InvalidBlockNumber;
	}
	if (BufferIsValid(dirbuf))
		UnlockReleaseBuffer(dirbuf);
}

/*
 * A page of the structure a query reads is no longer what it was: only a
 * query older than the freeing of a retired structure (ivfmaint.cpp) meets
 * this, which the primary prevents and a hot standby without feedback does
 * not.
 */
void
IvfChangedUnderQuery(Relation index, BlockNumber blkno)
{
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("ivf index \"%s\" was re-trained and its old block %u reused while this query ran",
					RelationGetRelationName(index), blkno),
			 errhint("On a hot standby, set hot_standby_feedback = on; elsewhere, REINDEX the index.")));
}

/* Locks the page after buf (coupled), then releases buf; InvalidBuffer after the tail. */
Buffer
IvfListNextPage(Relation index, Buffer buf, int mode, BufferAccessStrategy strategy)
{
	BlockNumber next = IvfPageNext(BufferGetPage(buf));
	Buffer		nbuf = InvalidBuffer;

	/*
	 * A walk always holds a page lock, which holds interrupts off, so a cancel
	 * or terminate would wait for the end of a long list (an untrained index
	 * keeps every row in one).  Give up the walk instead: the lock coupling
	 * cannot be resumed, so the statement ends even where ProcessInterrupts
	 * would not end it.
	 */
	if (QueryCancelPending || ProcDiePending)
	{
		UnlockReleaseBuffer(buf);
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("canceling ivf list walk of index \"%s\" due to an interrupt",
						RelationGetRelationName(index))));
	}
	if (BlockNumberIsValid(next))
		nbuf = IvfReadDataPage(index, next, mode, strategy);
	UnlockReleaseBuffer(buf);
	return nbuf;
}

/* Entries and pages of one list. */
void
IvfCountList(Relation index, const IvfMetaPageData *meta, int list, BufferAccessStrategy strategy,
			 int64 *rows, int32 *pages)
{
	Buffer		buf = IvfListFirstPage(index, meta, list, BUFFER_LOCK_SHARE, strategy);

	*rows = 0;
	*pages = 0;
	for (; BufferIsValid(buf); buf = IvfListNextPage(index, buf, BUFFER_LOCK_SHARE, strategy))
	{
		*rows += IvfPageEntryCount(BufferGetPage(buf), meta->entry_size);
		(*pages)++;
	}
}

/* Links a list's first page holding `entry`; false when another backend gave the list a page first. */
static bool
StartList(Relation index, const IvfMetaPageData *meta, int list, const char *entry)
{
	Buffer		dirbuf = ReadBuffer(index, IvfListDirBlock(meta, list));
	Buffer		newbuf;
	GenericXLogState *state;
	Page		newpage;
	IvfListData *slot;

	LockBuffer(dirbuf, BUFFER_LOCK_EXCLUSIVE);
	if (BlockNumberIsValid(IvfDirSlot(BufferGetPage(dirbuf), list)->head))
	{
		UnlockReleaseBuffer(dirbuf);
		return false;
	}
	newbuf = AllocListPage(index);
	state = GenericXLogStart(index);
	newpage = GenericXLogRegisterBuffer(state, newbuf, GENERIC_XLOG_FULL_IMAGE);
	IvfInitPage(newpage, IVF_PAGE_DATA);
	IvfPageSetStamp(newpage, IvfChainStamp(meta, list));
	IvfPageAppend(newpage, meta->entry_size, entry, 1);
	slot = IvfDirSlot(GenericXLogRegisterBuffer(state, dirbuf, 0), list);
	slot->head = slot->insert = BufferGetBlockNumber(newbuf);
	GenericXLogFinish(state);
	UnlockReleaseBuffer(newbuf);
	UnlockReleaseBuffer(dirbuf);
	return true;
}

/*
 * Links a new tail page holding `entry` after the locked tail `buf`; returns
 * the new page's block.  The page carries the chain's stamp, not the live
 * model's: a chain shared with a retired model (ivfsplit.cpp) stays readable
 * by that model's scans.
 */
static BlockNumber
LinkTail(Relation index, Buffer buf, const char *entry, int entry_size)
{
	Buffer		newbuf = AllocListPage(index);
	BlockNumber blkno = BufferGetBlockNumber(newbuf);
	GenericXLogState *state = GenericXLogStart(index);
	Page		newpage = GenericXLogRegisterBuffer(state, newbuf, GENERIC_XLOG_FULL_IMAGE);

	IvfInitPage(newpage, IVF_PAGE_DATA);
	IvfPageSetStamp(newpage, IvfPageStamp(BufferGetPage(buf)));
	IvfPageAppend(newpage, entry_size, entry, 1);
	IvfPageSetNext(GenericXLogRegisterBuffer(state, buf, 0), blkno);
	GenericXLogFinish(state);
	UnlockReleaseBuffer(newbuf);
	return blkno;
}

/*
 * Appends one entry to a list: on the insert page, else on the first page
 * after it with room (room VACUUM freed), else on a new tail page; then
 * points the insert slot at the page used.  WAL-logged.
 */
void
IvfListAppend(Relation index, const IvfMetaPageData *meta, int list, const char *entry)
{
	int			entry_size = meta->entry_size;
	Buffer		dirbuf;
	Buffer		buf;
	BlockNumber start;
	BlockNumber used;

	for (;;)
	{
		dirbuf = ReadBuffer(index, IvfListDirBlock(meta, list));
		LockBuffer(dirbuf, BUFFER_LOCK_SHARE);
		start = IvfDirSlot(BufferGetPage(dirbuf), list)->insert;
		if (BlockNumberIsValid(start))
			break;
		UnlockReleaseBuffer(dirbuf);
		if (StartList(index, meta, list, entry))
			return;
	}
	buf = IvfReadDataPage(index, start, BUFFER_LOCK_EXCLUSIVE, NULL);
	UnlockReleaseBuffer(dirbuf);

	for (;;)
	{
		Page		page = BufferGetPage(buf);

		if (IvfPageEntryCount(page, entry_size) < IvfPageCapacity(entry_size))
		{
			GenericXLogState *state = GenericXLogStart(index);

			IvfPageAppend(GenericXLogRegisterBuffer(state, buf, 0), entry_size, entry, 1);
			GenericXLogFinish(state);
			used = BufferGetBlockNumber(buf);
			break;
		}
		if (!BlockNumberIsValid(IvfPageNext(page)))
		{
			used = LinkTail(index, buf, entry, entry_size);
			break;
		}
		buf = IvfListNextPage(index, buf, BUFFER_LOCK_EXCLUSIVE, NULL);
	}
	UnlockReleaseBuffer(buf);
	if (used != start)
		IvfMoveInsertSlot(index, meta, list, start, used);
}

/*
 * VACUUM: unlinks data page blkno, found empty after its predecessor prev,
 * and hands it to the free space map.  No page may be locked by the caller.
 * False (nothing changed) when the page gained entries meanwhile, or when it
 * is the head of a chain that a split shared and linked after rows that
 * joined the list (ivfsplit.cpp): its stamp differs from its predecessor's
 * (the pages of one chain carry one stamp), and a retired directory may
 * point at it, as at a shared head (IvfListFreeHead).  *next is the page
 * that followed blkno.
 */
bool
IvfListFreePage(Relation index, BlockNumber prev, BlockNumber blkno, BufferAccessStrategy strategy,
				BlockNumber *next)
{
	Buffer		pbuf = IvfReadDataPage(index, prev, BUFFER_LOCK_EXCLUSIVE, strategy);
	Buffer		buf;
	Page		page;
	bool		freed = false;

	if (IvfPageNext(BufferGetPage(pbuf)) != blkno)
		elog(ERROR, "ivf index \"%s\" block %u no longer precedes block %u. Please report a bug.",
			 RelationGetRelationName(index), prev, blkno);
	buf = IvfReadDataPage(index, blkno, BUFFER_LOCK_EXCLUSIVE, strategy);
	page = BufferGetPage(buf);
	*next = IvfPageNext(page);
	/* a page whose stamp differs from its predecessor's heads a shared chain: see IvfListFreeHead */
	if (IvfPageIsEmpty(page) && IvfPageStamp(page) == IvfPageStamp(BufferGetPage(pbuf)))
	{
		GenericXLogState *state = GenericXLogStart(index);

		IvfPageSetNext(GenericXLogRegisterBuffer(state, pbuf, 0), *next);
		IvfInitPage(GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE), IVF_PAGE_FREE);
		GenericXLogFinish(state);
		freed = true;
	}
	UnlockReleaseBuffer(buf);
	UnlockReleaseBuffer(pbuf);
	if (freed)
		RecordFreeIndexPage(index, blkno);
	return freed;
}

/*
 * VACUUM: unlinks a list's head page if it is empty (the next page becomes
 * the head; a list with no page left is empty again) and hands it to the
 * free space map.  No page may be locked by the caller.  False when the
 * head has entries, or when its chain was started by an older model: such a
 * chain is shared with a model a split retired (ivfsplit.cpp), whose
 * directory points at this head without a lock coupled to ours; a query on
 * a standby may read that directory even after the retired model is
 * reclaimed, and a freed head reused by the same chain would pass its stamp
 * check while hiding the pages before it.  That head stays, empty, and
 * inserts refill it (the insert slot moves to the first page with room).
 */
bool
IvfListFreeHead(Relation index, const IvfMetaPageData *meta, int list, BufferAccessStrategy strategy)
{
	Buffer		dirbuf = ReadBuffer(index, IvfListDirBlock(meta, list));
	BlockNumber head;
	BlockNumber next;
	Buffer		buf;
	bool		freed = false;

	LockBuffer(dirbuf, BUFFER_LOCK_EXCLUSIVE);
	head = IvfDirSlot(BufferGetPage(dirbuf), list)->head;
	if (!BlockNumberIsValid(head))
	{
		UnlockReleaseBuffer(dirbuf);
		return false;
	}
	buf = IvfReadDataPage(index, head, BUFFER_LOCK_EXCLUSIVE, strategy);
	next = IvfPageNext(BufferGetPage(buf));
	if (IvfPageIsEmpty(BufferGetPage(buf)) && IvfPageStamp(BufferGetPage(buf)) == IvfChainStamp(meta, list))
	{
		GenericXLogState *state = GenericXLogStart(index);
		IvfListData *slot = IvfDirSlot(GenericXLogRegisterBuffer(state, dirbuf, 0), list);

		slot->head = next;
		if (slot->insert == head || !BlockNumberIsValid(next))
			slot->insert = next;
		IvfInitPage(GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE), IVF_PAGE_FREE);
		GenericXLogFinish(state);
		freed = true;
	}
	UnlockReleaseBuffer(buf);
	UnlockReleaseBuffer(dirbuf);
	if (freed)
		RecordFreeIndexPage(index, head);
	return freed;
}

/*
 * A maintenance's new lists, which no other process reaches until the swap
 * (ivfmaint.cpp): appends n entries at the tail (slot->insert; the slot
 * lives in the maintenance's memory), linking pages from the free space map
 * or the end of the index as they fill.  WAL-logged, so the lists are whole
 * on a standby and after a crash once the swap makes them reachable; before
 * it they are orphans that a VACUUM reclaims.
 */
void
IvfPrivateAppend(Relation index, IvfListData *slot, uint32 stamp, int entry_size, const char *entries, int n)
{
	while (n > 0)
	{
		Buffer		buf = InvalidBuffer;
		GenericXLogState *state;
		int			take = 0;

		if (BlockNumberIsValid(slot->insert))
		{
			buf = IvfReadDataPage(index, slot->insert, BUFFER_LOCK_EXCLUSIVE, NULL);
			if (IvfPageEntryCount(BufferGetPage(buf), entry_size) < IvfPageCapacity(entry_size))
			{
				state = GenericXLogStart(index);
				take = IvfPageAppend(GenericXLogRegisterBuffer(state, buf, 0), entry_size, entries, n);
				GenericXLogFinish(state);
			}
		}
		if (take == 0)
		{
			Buffer		newbuf = AllocListPage(index);
			BlockNumber blkno = BufferGetBlockNumber(newbuf);
			Page		newpage;

			state = GenericXLogStart(index);
			newpage = GenericXLogRegisterBuffer(state, newbuf, GENERIC_XLOG_FULL_IMAGE);
			IvfInitPage(newpage, IVF_PAGE_DATA);
			IvfPageSetStamp(newpage, stamp);
			take = IvfPageAppend(newpage, entry_size, entries, n);
			if (BufferIsValid(buf))
				IvfPageSetNext(GenericXLogRegisterBuffer(state, buf, 0), blkno);
			else
				slot->head = blkno;
			GenericXLogFinish(state);
			UnlockReleaseBuffer(newbuf);
			slot->insert = blkno;
		}
		if (BufferIsValid(buf))
			UnlockReleaseBuffer(buf);
		entries += (Size) take * entry_size;
		n -= take;
	}
}
