/*
 * ivfpage.cpp — the one page layer of the ivf access method: the only code
 * that knows how the meta page, the parameter stream, the directory and the
 * data pages are laid out (see ivf.h), and how list chains are walked,
 * extended and shortened.
 *
 * A list is a chain of data pages from its head to its tail; new pages are
 * linked after the tail, and only VACUUM changes the head (of a list that
 * has one), when the head is empty.  Data pages hold
 * fixed-size entries packed from the page header up to pd_lower.
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


/* Directory page of a list's slot, and the slot inside that page. */
#define IvfListDirBlock(meta, list)	((meta)->dir_start + (list) / IVF_LISTS_PER_DIR_PAGE)
#define IvfDirSlot(page, list)	(&((IvfListData *) PageGetContents(page))[(list) % IVF_LISTS_PER_DIR_PAGE])

/* Initializes a page of the given type with the ivf special space. */
void
IvfInitPage(Page page, uint16 page_type)
{
	IvfPageOpaque opaque;

	PageInit(page, BLCKSZ, sizeof(IvfPageOpaqueData));
	opaque = IvfPageGetOpaque(page);
	opaque->next = InvalidBlockNumber;
	opaque->page_type = page_type;
	opaque->page_id = IVF_PAGE_ID;
}

/* Extends the relation by one block and returns it pinned and exclusively locked. */
Buffer
IvfNewBuffer(Relation index, ForkNumber fork)
{
	Buffer		buf;

	LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	UnlockRelationForExtension(index, ExclusiveLock);
	return buf;
}

/* Build only: a new block initialized as a page of the given type, exclusively locked, not WAL-logged. */
static Buffer
NewBuildPage(Relation index, ForkNumber fork, uint16 page_type)
{
	Buffer		buf = IvfNewBuffer(index, fork);

	IvfInitPage(BufferGetPage(buf), page_type);
	return buf;
}

/* Build only: marks a page written and releases it (the build WAL-logs every page at the end). */
static void
ReleaseBuildPage(Buffer buf)
{
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

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
			if (PageIsNew(page) || IvfPageGetOpaque(page)->page_type == IVF_PAGE_FREE)
				return buf;
			LockBuffer(buf, BUFFER_LOCK_UNLOCK);
		}
		ReleaseBuffer(buf);
	}
}

/* Copies the meta page, checking that this is an ivf index of a format this library reads. */
void
IvfGetMetaPage(Relation index, IvfMetaPageData *meta)
{
	Buffer		buf = ReadBuffer(index, IVF_METAPAGE_BLKNO);
	Page		page;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	memcpy(meta, IvfPageGetMeta(page), sizeof(IvfMetaPageData));
	UnlockReleaseBuffer(buf);

	if (meta->magic != IVF_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not a valid ivf index", RelationGetRelationName(index))));
	if (meta->version != IVF_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ivf index \"%s\" has on-disk format version %u, this library reads %d",
						RelationGetRelationName(index), meta->version, IVF_VERSION),
				 errhint("REINDEX the index.")));
}

/* Build only: block 0, to be filled by IvfWriteMetaPage once the build knows everything. */
void
IvfReserveMetaPage(Relation index, ForkNumber fork)
{
	Buffer		buf = NewBuildPage(index, fork, IVF_PAGE_META);

	if (BufferGetBlockNumber(buf) != IVF_METAPAGE_BLKNO)
		elog(ERROR, "ivf meta page is block %u. Please report a bug.", BufferGetBlockNumber(buf));
	ReleaseBuildPage(buf);
}

/* Build only: writes the meta page's contents (magic and version included by the caller). */
void
IvfWriteMetaPage(Relation index, ForkNumber fork, const IvfMetaPageData *meta)
{
	Buffer		buf = ReadBufferExtended(index, fork, IVF_METAPAGE_BLKNO, RBM_NORMAL, NULL);
	Page		page;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);
	memcpy(IvfPageGetMeta(page), meta, sizeof(IvfMetaPageData));
	((PageHeader) page)->pd_lower = (PageGetContents(page) - (char *) page) + sizeof(IvfMetaPageData);
	ReleaseBuildPage(buf);
}

/*
 * Build only: writes the parameter stream (the parts one after another, a
 * part may span pages) on new pages; returns its first block and page count.
 */
void
IvfWriteBlob(Relation index, ForkNumber fork, const char *const *parts, const Size *sizes, int nparts,
			 BlockNumber *start, uint32 *npages)
{
	Buffer		buf = InvalidBuffer;
	Page		page = NULL;
	Size		used = IVF_PAGE_CAPACITY;

	*start = RelationGetNumberOfBlocksInFork(index, fork);
	*npages = 0;
	for (int p = 0; p < nparts; p++)
	{
		for (Size done = 0; done < sizes[p];)
		{
			Size		n;

			if (used == IVF_PAGE_CAPACITY)
			{
				if (BufferIsValid(buf))
					ReleaseBuildPage(buf);
				buf = NewBuildPage(index, fork, IVF_PAGE_BLOB);
				page = BufferGetPage(buf);
				used = 0;
				(*npages)++;
			}
			n = Min((Size) IVF_PAGE_CAPACITY - used, sizes[p] - done);
			memcpy((char *) page + IVF_PAGE_DATA_START + used, parts[p] + done, n);
			used += n;
			done += n;
			((PageHeader) page)->pd_lower = IVF_PAGE_DATA_START + used;
		}
	}
	if (BufferIsValid(buf))
		ReleaseBuildPage(buf);
}

/* Reads the trained-parameter stream (centroids, then codec parameters) into palloc'd memory. */
float *
IvfReadBlob(Relation index, const IvfMetaPageData *meta)
{
	Size		total = (meta->centroid_floats + meta->param_floats) * sizeof(float);
	char	   *out = (char *) palloc_extended(Max(total, 1), MCXT_ALLOC_HUGE);
	Size		done = 0;
	BlockNumber blkno = meta->blob_start;

	for (uint32 i = 0; i < meta->blob_pages && done < total; i++, blkno++)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		Size		n;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (IvfPageGetOpaque(page)->page_type != IVF_PAGE_BLOB)
			elog(ERROR, "ivf index \"%s\" block %u is not a parameter page. Please report a bug.",
				 RelationGetRelationName(index), blkno);
		n = Min((Size) IVF_PAGE_CAPACITY, total - done);
		memcpy(out + done, (char *) page + IVF_PAGE_DATA_START, n);
		done += n;
		UnlockReleaseBuffer(buf);
	}
	if (done != total)
		elog(ERROR, "ivf index \"%s\" parameter pages hold %zu of %zu bytes. Please report a bug.",
			 RelationGetRelationName(index), done, total);
	return (float *) out;
}

/* Build only: empty directory pages for `lists` lists; returns their first block and count. */
void
IvfReserveDirectory(Relation index, ForkNumber fork, int lists, BlockNumber *start, uint32 *npages)
{
	*start = RelationGetNumberOfBlocksInFork(index, fork);
	*npages = (lists + IVF_LISTS_PER_DIR_PAGE - 1) / IVF_LISTS_PER_DIR_PAGE;
	for (uint32 i = 0; i < *npages; i++)
		ReleaseBuildPage(NewBuildPage(index, fork, IVF_PAGE_DIRECTORY));
}

/* Build only: writes every list's slot into the pages IvfReserveDirectory made. */
void
IvfWriteDirectory(Relation index, ForkNumber fork, BlockNumber start, const IvfListData *dir, int lists)
{
	for (int first = 0; first < lists; first += IVF_LISTS_PER_DIR_PAGE)
	{
		int			n = Min(IVF_LISTS_PER_DIR_PAGE, lists - first);
		Buffer		buf = ReadBufferExtended(index, fork, start + first / IVF_LISTS_PER_DIR_PAGE,
											 RBM_NORMAL, NULL);
		Page		page;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		memcpy(PageGetContents(page), dir + first, sizeof(IvfListData) * n);
		((PageHeader) page)->pd_lower = (PageGetContents(page) - (char *) page) + sizeof(IvfListData) * n;
		ReleaseBuildPage(buf);
	}
}

/* A copy of a list's directory slot. */
IvfListData
IvfGetList(Relation index, const IvfMetaPageData *meta, int list)
{
	Buffer		buf = ReadBuffer(index, IvfListDirBlock(meta, list));
	IvfListData result;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	result = *IvfDirSlot(BufferGetPage(buf), list);
	UnlockReleaseBuffer(buf);
	return result;
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

/* Entries one data page holds. */
int
IvfPageCapacity(int entry_size)
{
	return (int) (IVF_PAGE_CAPACITY / entry_size);
}

/* Entries on a data page. */
int
IvfPageEntryCount(Page page, int entry_size)
{
	return (int) ((((PageHeader) page)->pd_lower - IVF_PAGE_DATA_START) / entry_size);
}

/* The i-th entry of a data page. */
char *
IvfPageEntry(Page page, int entry_size, int i)
{
	return (char *) page + IVF_PAGE_DATA_START + (Size) i * entry_size;
}

/* Appends up to n entries to a data page; returns how many fitted. */
static int
PageAppend(Page page, int entry_size, const char *entries, int n)
{
	int			count = IvfPageEntryCount(page, entry_size);
	int			take = Min(n, IvfPageCapacity(entry_size) - count);

	if (take <= 0)
		return 0;
	memcpy(IvfPageEntry(page, entry_size, count), entries, (Size) take * entry_size);
	((PageHeader) page)->pd_lower = IVF_PAGE_DATA_START + (count + take) * entry_size;
	return take;
}

/* Removes the entries flagged in dead[] (one per entry), keeping the rest packed in order; returns the count left. */
int
IvfPageCompact(Page page, int entry_size, const bool *dead)
{
	int			n = IvfPageEntryCount(page, entry_size);
	int			kept = 0;

	for (int i = 0; i < n; i++)
	{
		if (dead[i])
			continue;
		if (kept != i)
			memmove(IvfPageEntry(page, entry_size, kept), IvfPageEntry(page, entry_size, i), entry_size);
		kept++;
	}
	((PageHeader) page)->pd_lower = IVF_PAGE_DATA_START + kept * entry_size;
	return kept;
}

/* Reads and locks block blkno, which must be a data page of a list chain. */
Buffer
IvfReadDataPage(Relation index, BlockNumber blkno, int mode, BufferAccessStrategy strategy)
{
	Buffer		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
	Page		page;

	LockBuffer(buf, mode);
	page = BufferGetPage(buf);
	if (PageIsNew(page) || IvfPageGetOpaque(page)->page_type != IVF_PAGE_DATA)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("ivf index \"%s\" block %u in a list chain is not a data page",
						RelationGetRelationName(index), blkno),
				 errhint("REINDEX the index.")));
	return buf;
}

/* The next page of a data page's chain, or InvalidBlockNumber at the tail. */
BlockNumber
IvfPageNext(Page page)
{
	return IvfPageGetOpaque(page)->next;
}

/* A list's head page locked in `mode` (coupled with the directory lock), or InvalidBuffer for an empty list. */
Buffer
IvfListFirstPage(Relation index, const IvfMetaPageData *meta, int list, int mode, BufferAccessStrategy strategy)
{
	Buffer		dirbuf = ReadBuffer(index, IvfListDirBlock(meta, list));
	BlockNumber head;
	Buffer		buf = InvalidBuffer;

	LockBuffer(dirbuf, BUFFER_LOCK_SHARE);
	head = IvfDirSlot(BufferGetPage(dirbuf), list)->head;
	if (BlockNumberIsValid(head))
		buf = IvfReadDataPage(index, head, mode, strategy);
	UnlockReleaseBuffer(dirbuf);
	return buf;
}

/* Locks the page after buf (coupled), then releases buf; InvalidBuffer after the tail. */
Buffer
IvfListNextPage(Relation index, Buffer buf, int mode, BufferAccessStrategy strategy)
{
	BlockNumber next = IvfPageNext(BufferGetPage(buf));
	Buffer		nbuf = InvalidBuffer;

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

/* Build only: appends n entries of a list at its tail (slot->insert), linking new pages as they fill. */
void
IvfBuildAppend(Relation index, ForkNumber fork, IvfListData *slot, int entry_size, const char *entries, int n)
{
	while (n > 0)
	{
		Buffer		buf = InvalidBuffer;
		int			take = 0;

		if (BlockNumberIsValid(slot->insert))
		{
			buf = ReadBufferExtended(index, fork, slot->insert, RBM_NORMAL, NULL);
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			take = PageAppend(BufferGetPage(buf), entry_size, entries, n);
		}
		if (take == 0)
		{
			Buffer		newbuf = NewBuildPage(index, fork, IVF_PAGE_DATA);
			BlockNumber blkno = BufferGetBlockNumber(newbuf);

			if (BufferIsValid(buf))
			{
				IvfPageGetOpaque(BufferGetPage(buf))->next = blkno;
				ReleaseBuildPage(buf);
			}
			else
				slot->head = blkno;
			slot->insert = blkno;
			buf = newbuf;
			take = PageAppend(BufferGetPage(buf), entry_size, entries, n);
		}
		ReleaseBuildPage(buf);
		entries += (Size) take * entry_size;
		n -= take;
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
	PageAppend(newpage, meta->entry_size, entry, 1);
	slot = IvfDirSlot(GenericXLogRegisterBuffer(state, dirbuf, 0), list);
	slot->head = slot->insert = BufferGetBlockNumber(newbuf);
	GenericXLogFinish(state);
	UnlockReleaseBuffer(newbuf);
	UnlockReleaseBuffer(dirbuf);
	return true;
}

/* Links a new tail page holding `entry` after the locked tail `buf`; returns the new page's block. */
static BlockNumber
LinkTail(Relation index, Buffer buf, const char *entry, int entry_size)
{
	Buffer		newbuf = AllocListPage(index);
	BlockNumber blkno = BufferGetBlockNumber(newbuf);
	GenericXLogState *state = GenericXLogStart(index);
	Page		newpage = GenericXLogRegisterBuffer(state, newbuf, GENERIC_XLOG_FULL_IMAGE);

	IvfInitPage(newpage, IVF_PAGE_DATA);
	PageAppend(newpage, entry_size, entry, 1);
	IvfPageGetOpaque(GenericXLogRegisterBuffer(state, buf, 0))->next = blkno;
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

			PageAppend(GenericXLogRegisterBuffer(state, buf, 0), entry_size, entry, 1);
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
 * False (nothing changed) when the page gained entries meanwhile.  *next is
 * the page that followed blkno.
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
	if (((PageHeader) page)->pd_lower == IVF_PAGE_DATA_START)	/* no entries */
	{
		GenericXLogState *state = GenericXLogStart(index);

		IvfPageGetOpaque(GenericXLogRegisterBuffer(state, pbuf, 0))->next = *next;
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
 * head has entries.
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
	if (((PageHeader) BufferGetPage(buf))->pd_lower == IVF_PAGE_DATA_START)	/* no entries */
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
