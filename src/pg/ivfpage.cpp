/*
 * ivfpage.cpp — the one page layer of the ivf access method: the only code
 * that knows how the meta page, the parameter stream, the directory and the
 * data pages are laid out (see ivf.h).  It reads and writes the meta page,
 * the parameter stream and directory slots, counts, appends and removes a
 * data page's entries, and writes a new index's pages during CREATE INDEX.
 * How lists are walked, grown and shrunk under concurrency is ivflist.cpp's.
 *
 * Data pages hold fixed-size entries packed from the page header up to
 * pd_lower, with no line pointers; `next` in the special space chains a
 * list's pages from its head to its tail.
 */
#include "pg.h"
#include "ivf.h"

/* The directory block that holds a list's slot. */
BlockNumber
IvfListDirBlock(const IvfMetaPageData *meta, int list)
{
	return meta->dir_start + list / IVF_LISTS_PER_DIR_PAGE;
}

/* A list's slot on its directory page. */
IvfListData *
IvfDirSlot(Page page, int list)
{
	return &((IvfListData *) PageGetContents(page))[list % IVF_LISTS_PER_DIR_PAGE];
}

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

/*
 * Where the readers below take pages from: an open index, or the file of an
 * index that a rebuild in this transaction replaced (TRUNCATE, REINDEX),
 * read through shared buffers because its pages may be dirty there.
 */
typedef struct IvfPageSource
{
	Relation	index;			/* NULL: read the file below */
	RelFileNode node;
	bool		permanent;
} IvfPageSource;

/* Block blkno of the source's main fork, pinned and share-locked. */
static Buffer
ReadSourcePage(const IvfPageSource *src, BlockNumber blkno)
{
	Buffer		buf = src->index != NULL ? ReadBuffer(src->index, blkno)
		: ReadBufferWithoutRelcache(src->node, MAIN_FORKNUM, blkno, RBM_NORMAL, NULL, src->permanent);

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	return buf;
}

/* Copies the meta page; true when it is an ivf meta page of a format this library reads. */
static bool
ReadMeta(const IvfPageSource *src, IvfMetaPageData *meta)
{
	Buffer		buf = ReadSourcePage(src, IVF_METAPAGE_BLKNO);

	memcpy(meta, IvfPageGetMeta(BufferGetPage(buf)), sizeof(IvfMetaPageData));
	UnlockReleaseBuffer(buf);
	return meta->magic == IVF_MAGIC && meta->version >= IVF_OLDEST_VERSION && meta->version <= IVF_VERSION;
}

/*
 * Reads the parameter stream into out (size total bytes); false, with *bad
 * the offending block (InvalidBlockNumber: the pages end early), when a page
 * is not a parameter page.
 */
static bool
ReadBlob(const IvfPageSource *src, const IvfMetaPageData *meta, char *out, Size total, BlockNumber *bad)
{
	Size		done = 0;
	BlockNumber blkno = meta->blob_start;

	*bad = InvalidBlockNumber;
	for (uint32 i = 0; i < meta->blob_pages && done < total; i++, blkno++)
	{
		Buffer		buf = ReadSourcePage(src, blkno);
		Page		page = BufferGetPage(buf);
		Size		n;

		if (PageIsNew(page) || IvfPageGetOpaque(page)->page_type != IVF_PAGE_BLOB)
		{
			UnlockReleaseBuffer(buf);
			*bad = blkno;
			return false;
		}
		n = Min((Size) IVF_PAGE_CAPACITY, total - done);
		memcpy(out + done, (char *) page + IVF_PAGE_DATA_START, n);
		done += n;
		UnlockReleaseBuffer(buf);
	}
	return done == total;
}
StaticAssertDecl(sizeof(IvfMetaPageData) <= IVF_PAGE_CAPACITY, "the ivf meta data must fit its page");

/* Copies the meta page, checking that this is an ivf index of a format this library reads. */
void
IvfGetMetaPage(Relation index, IvfMetaPageData *meta)
{
	IvfPageSource src = {index};

	if (ReadMeta(&src, meta))
		return;
	if (meta->magic != IVF_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not a valid ivf index", RelationGetRelationName(index))));
	/* Older formats stay readable (converted lazily); anything else needs a rebuild. */
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("ivf index \"%s\" has on-disk format version %u, which this pg_ivf cannot read",
					RelationGetRelationName(index), meta->version),
			 errdetail("This pg_ivf reads format versions %d to %d.", IVF_OLDEST_VERSION, IVF_VERSION),
			 errhint("Rebuild the index with REINDEX INDEX %s.",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(index)),
												RelationGetRelationName(index)))));
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

/* Floats of the MIPS reduction's centroid extras at the end of the parameter stream (0 without it). */
uint64
IvfMipsExtraFloats(const IvfMetaPageData *meta)
{
	return meta->mips_max_norm2 > 0 ? (uint64) meta->lists : 0;
}

/*
 * Records that a row beyond the build's largest norm M is being indexed, so
 * the augmented geometry no longer holds for every row (scans stop using the
 * inner-product list bound).  Called before the row's entry is written, with
 * no other page locked; WAL-logged once per index.
 */
void
IvfSetMipsOverflow(Relation index)
{
	Buffer		buf = ReadBuffer(index, IVF_METAPAGE_BLKNO);
	GenericXLogState *state;
	Page		page;
	IvfMetaPage meta;
	uint16		end = (uint16) ((PageGetContents(BufferGetPage(buf)) - (char *) BufferGetPage(buf)) +
								sizeof(IvfMetaPageData));

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	if (IvfPageGetMeta(BufferGetPage(buf))->mips_overflow)
	{
		UnlockReleaseBuffer(buf);
		return;
	}
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	meta = IvfPageGetMeta(page);
	meta->mips_overflow = 1;
	/* an index whose meta data predates the field keeps it inside pd_lower, where WAL covers it */
	if (((PageHeader) page)->pd_lower < end)
		((PageHeader) page)->pd_lower = end;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/*
 * Changes the meta page of a built index in place, WAL-logged: update(meta,
 * arg) edits a copy, which is written back unless the index was rebuilt
 * meanwhile (its nonce changed).  False then.  The page's pd_lower moves to
 * the end of today's meta data, so fields an older format lacks are logged.
 */
bool
IvfUpdateMetaPage(Relation index, uint64 nonce, void (*update) (IvfMetaPageData *meta, void *arg), void *arg)
{
	Buffer		buf = ReadBuffer(index, IVF_METAPAGE_BLKNO);
	GenericXLogState *state;
	Page		page;
	IvfMetaPageData meta;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	memcpy(&meta, IvfPageGetMeta(BufferGetPage(buf)), sizeof(IvfMetaPageData));
	if (meta.magic != IVF_MAGIC || meta.nonce != nonce)
	{
		UnlockReleaseBuffer(buf);
		return false;
	}
	update(&meta, arg);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	memcpy(IvfPageGetMeta(page), &meta, sizeof(IvfMetaPageData));
	((PageHeader) page)->pd_lower = (PageGetContents(page) - (char *) page) + sizeof(IvfMetaPageData);
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	return true;
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
	IvfPageSource src = {index};
	Size		total = (meta->centroid_floats + meta->param_floats + IvfMipsExtraFloats(meta)) * sizeof(float);
	char	   *out = (char *) palloc_extended(Max(total, 1), MCXT_ALLOC_HUGE);
	BlockNumber bad;

	if (ReadBlob(&src, meta, out, total, &bad))
		return (float *) out;
	if (BlockNumberIsValid(bad))
		elog(ERROR, "ivf index \"%s\" block %u is not a parameter page. Please report a bug.",
			 RelationGetRelationName(index), bad);
	elog(ERROR, "ivf index \"%s\" parameter pages hold less than %zu bytes. Please report a bug.",
		 RelationGetRelationName(index), total);
	return NULL;				/* keep the compiler quiet */
}

/*
 * The meta page and parameter stream of the ivf index in file `node` (main
 * fork), which a rebuild in this transaction replaced and which is deleted
 * at commit: the model a rebuild over an empty heap carries over
 * (ivfcarry.cpp).  NULL, without an error, when the file is missing or empty,
 * is no ivf index of a format this library reads, or its meta page points
 * outside the file; otherwise the stream, palloc'd, and *meta filled.
 */
float *
IvfReadReplacedModel(RelFileNode node, bool permanent, IvfMetaPageData *meta)
{
	IvfPageSource src = {NULL, node, permanent};
	SMgrRelation smgr = smgropen(node, InvalidBackendId);
	BlockNumber nblocks;
	Size		total;
	char	   *out;
	BlockNumber bad;

	if (!smgrexists(smgr, MAIN_FORKNUM))
		return NULL;
	nblocks = smgrnblocks(smgr, MAIN_FORKNUM);
	if (nblocks == 0 || !ReadMeta(&src, meta))
		return NULL;
	/* every page the stream needs lies inside the file, and holds the floats the meta page counts */
	if (meta->lists < 1 || meta->lists > IVF_MAX_LISTS || meta->dims < 1 ||
		meta->blob_start == IVF_METAPAGE_BLKNO || meta->blob_start >= nblocks ||
		meta->blob_pages > nblocks - meta->blob_start ||
		meta->centroid_floats != (uint64) meta->lists * meta->dims ||
		meta->param_floats > (uint64) meta->blob_pages * IVF_PAGE_CAPACITY / sizeof(float) ||
		meta->centroid_floats + meta->param_floats + IvfMipsExtraFloats(meta) >
		(uint64) meta->blob_pages * IVF_PAGE_CAPACITY / sizeof(float))
		return NULL;
	total = (meta->centroid_floats + meta->param_floats + IvfMipsExtraFloats(meta)) * sizeof(float);
	out = (char *) palloc_extended(Max(total, 1), MCXT_ALLOC_HUGE);
	if (!ReadBlob(&src, meta, out, total, &bad))
	{
		pfree(out);
		return NULL;
	}
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
int
IvfPageAppend(Page page, int entry_size, const char *entries, int n)
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

/* Points a data page's chain at the page after it (InvalidBlockNumber: the tail). */
void
IvfPageSetNext(Page page, BlockNumber next)
{
	IvfPageGetOpaque(page)->next = next;
}

/* True for a data page with no entries. */
bool
IvfPageIsEmpty(Page page)
{
	return ((PageHeader) page)->pd_lower == IVF_PAGE_DATA_START;
}

/* True for a data page (a page of some list). */
bool
IvfPageIsData(Page page)
{
	return !PageIsNew(page) && IvfPageGetOpaque(page)->page_type == IVF_PAGE_DATA;
}

/* True for a page a list may take: marked free by VACUUM, or never initialized. */
bool
IvfPageIsFree(Page page)
{
	return PageIsNew(page) || IvfPageGetOpaque(page)->page_type == IVF_PAGE_FREE;
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
			take = IvfPageAppend(BufferGetPage(buf), entry_size, entries, n);
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
			take = IvfPageAppend(BufferGetPage(buf), entry_size, entries, n);
		}
		ReleaseBuildPage(buf);
		entries += (Size) take * entry_size;
		n -= take;
	}
}
