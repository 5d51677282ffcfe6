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

/*
 * A backend-local map from the index's blocks to the shared buffers that held
 * them when this backend last read them, kept in rd_amcache (one chunk in the
 * index's relcache memory, freed by any relcache invalidation of the index).
 * ReadRecentBuffer pins a remembered buffer after checking its tag under the
 * buffer header's spinlock, skipping what ReadBuffer does for every page: the
 * buffer mapping table's hash lookup and its partition lock (shared by every
 * backend reading the same pages).  A stale entry just fails the check.
 * Local buffers (temporary indexes) and reads with a strategy (VACUUM) use
 * ReadBuffer as before.
 */
typedef struct IvfRecentBuffers
{
	BlockNumber nblocks;		/* entries in buffer[] */
	Buffer		buffer[FLEXIBLE_ARRAY_MEMBER];	/* InvalidBuffer: not seen yet */
} IvfRecentBuffers;

/* Blocks the map covers at most (4 MiB of it, a 32 GiB index); blocks beyond go through ReadBuffer. */
#define IVF_RECENT_MAX_BLOCKS	(1 << 20)

/* rd_amcache's map, grown to cover blkno. */
static IvfRecentBuffers *
GrowRecentBuffers(Relation index, BlockNumber blkno)
{
	IvfRecentBuffers *old = (IvfRecentBuffers *) index->rd_amcache;
	BlockNumber nblocks = Max(Max(blkno + 1, 1024), old != NULL ? Min(2 * old->nblocks, IVF_RECENT_MAX_BLOCKS) : 0);
	IvfRecentBuffers *recent = (IvfRecentBuffers *)
		MemoryContextAllocZero(index->rd_indexcxt, offsetof(IvfRecentBuffers, buffer) + sizeof(Buffer) * nblocks);

	StaticAssertStmt(InvalidBuffer == 0, "a zeroed map must mean no buffer seen");
	recent->nblocks = nblocks;
	if (old != NULL)
	{
		memcpy(recent->buffer, old->buffer, sizeof(Buffer) * old->nblocks);
		pfree(old);
	}
	index->rd_amcache = recent;
	return recent;
}

/*
 * Reads block blkno of the index's main fork (pinned, not locked): the
 * ordinary ReadBufferExtended, through the recent-buffer map when it can be.
 */
Buffer
IvfReadBuffer(Relation index, BlockNumber blkno, BufferAccessStrategy strategy)
{
	IvfRecentBuffers *recent;
	Buffer		buf;

	if (strategy != NULL || RelationUsesLocalBuffers(index) || blkno >= IVF_RECENT_MAX_BLOCKS)
		return ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
	recent = (IvfRecentBuffers *) index->rd_amcache;
	if (recent != NULL && blkno < recent->nblocks && BufferIsValid(recent->buffer[blkno]) &&
		ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, blkno, recent->buffer[blkno]))
	{
		/* what ReadBuffer counts for pg_statio_*_indexes */
		pgstat_count_buffer_read(index);
		pgstat_count_buffer_hit(index);
		return recent->buffer[blkno];
	}
	buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, NULL);
	recent = (IvfRecentBuffers *) index->rd_amcache;
	if (recent == NULL || blkno >= recent->nblocks)
		recent = GrowRecentBuffers(index, blkno);
	recent->buffer[blkno] = buf;
	return buf;
}

/*
 * For a prefetch hint only: the page of block blkno in the shared buffer this
 * backend last found it in, and a request for that buffer's descriptor, which
 * the pin will touch.  No pin is taken, so by the time anything reads the
 * block the buffer may hold another page; readers pin through IvfReadBuffer,
 * which checks.  NULL when the map knows no buffer for the block.
 */
const void *
IvfPageHint(Relation index, BlockNumber blkno)
{
	IvfRecentBuffers *recent = (IvfRecentBuffers *) index->rd_amcache;
	Buffer		buf;

	if (recent == NULL || blkno >= recent->nblocks || RelationUsesLocalBuffers(index))
		return NULL;
	buf = recent->buffer[blkno];
	if (!BufferIsValid(buf))
		return NULL;
	/* the pin's compare-and-swap writes the descriptor's state */
	__builtin_prefetch(GetBufferDescriptor(buf - 1), 1);
	return BufferGetBlock(buf);
}

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
	Buffer		buf = src->index != NULL ? IvfReadBuffer(src->index, blkno, NULL)
		: ReadBufferWithoutRelcache(src->node, MAIN_FORKNUM, blkno, RBM_NORMAL, NULL, src->permanent);

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	return buf;
}

/* True when meta is an ivf meta page of a format this library reads. */
static bool
MetaReadable(const IvfMetaPageData *meta)
{
	return meta->magic == IVF_MAGIC && meta->version >= IVF_OLDEST_VERSION && meta->version <= IVF_VERSION;
}

/* Copies the meta page; true when it is an ivf meta page of a format this library reads. */
static bool
ReadMeta(const IvfPageSource *src, IvfMetaPageData *meta)
{
	Buffer		buf = ReadSourcePage(src, IVF_METAPAGE_BLKNO);

	memcpy(meta, IvfPageGetMeta(BufferGetPage(buf)), sizeof(IvfMetaPageData));
	UnlockReleaseBuffer(buf);
	return MetaReadable(meta);
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

/* The ERROR for a meta page MetaReadable rejects. */
static void
RejectMeta(Relation index, const IvfMetaPageData *meta)
{
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

/* Copies the meta page, checking that this is an ivf index of a format this library reads. */
void
IvfGetMetaPage(Relation index, IvfMetaPageData *meta)
{
	IvfPageSource src = {index};

	if (!ReadMeta(&src, meta))
		RejectMeta(index, meta);
}

/* As IvfGetMetaPage, but returns the meta page pinned and locked in `mode`. */
Buffer
IvfLockMetaPage(Relation index, IvfMetaPageData *meta, int mode)
{
	Buffer		buf = ReadBuffer(index, IVF_METAPAGE_BLKNO);

	LockBuffer(buf, mode);
	memcpy(meta, IvfPageGetMeta(BufferGetPage(buf)), sizeof(IvfMetaPageData));
	if (!MetaReadable(meta))
		RejectMeta(index, meta);
	return buf;
}

/*
 * Rewrites the meta page held exclusively in buf, WAL-logged.  pd_lower is
 * set to cover the whole struct: GenericXLog zeroes the page beyond it, and
 * an index built by 0.1.0 has a shorter meta data.
 */
void
IvfWriteLockedMetaPage(Relation index, Buffer buf, const IvfMetaPageData *meta)
{
	GenericXLogState *state = GenericXLogStart(index);
	Page		page = GenericXLogRegisterBuffer(state, buf, 0);

	memcpy(IvfPageGetMeta(page), meta, sizeof(IvfMetaPageData));
	((PageHeader) page)->pd_lower = (PageGetContents(page) - (char *) page) + sizeof(IvfMetaPageData);
	GenericXLogFinish(state);
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
 * Floats of the MIPS reduction at the end of the parameter stream (0 without
 * it): the centroids' extras, then the lists' ranking vectors when mips_rank.
 */
uint64
IvfMipsExtraFloats(const IvfMetaPageData *meta)
{
	if (!(meta->mips_max_norm2 > 0))
		return 0;
	return (uint64) meta->lists * (meta->mips_rank ? (uint64) meta->dims + 1 : 1);
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
	IvfMetaPageData meta;
	Buffer		buf = IvfLockMetaPage(index, &meta, BUFFER_LOCK_EXCLUSIVE);

	if (!meta.mips_overflow)
	{
		meta.mips_overflow = 1;
		IvfWriteLockedMetaPage(index, buf, &meta);
	}
	UnlockReleaseBuffer(buf);
}

/*
 * Changes the meta page of a built index in place, WAL-logged: update(meta,
 * arg) edits a copy, which is written back unless the index was rebuilt
 * meanwhile (its nonce changed).  False then.
 */
bool
IvfUpdateMetaPage(Relation index, uint64 nonce, void (*update) (IvfMetaPageData *meta, void *arg), void *arg)
{
	Buffer		buf = ReadBuffer(index, IVF_METAPAGE_BLKNO);
	IvfMetaPageData meta;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	memcpy(&meta, IvfPageGetMeta(BufferGetPage(buf)), sizeof(IvfMetaPageData));
	if (meta.magic != IVF_MAGIC || meta.nonce != nonce)
	{
		UnlockReleaseBuffer(buf);
		return false;
	}
	update(&meta, arg);
	IvfWriteLockedMetaPage(index, buf, &meta);
	UnlockReleaseBuffer(buf);
	return true;
}

/*
 * Extends the index by npages zero pages in one run (contiguous although
 * inserts extend it too); returns the first.  Nobody reaches them: the free
 * space map does not list them until a VACUUM finds them unused.
 */
BlockNumber
IvfExtendRun(Relation index, ForkNumber fork, uint32 npages)
{
	BlockNumber start = InvalidBlockNumber;

	LockRelationForExtension(index, ExclusiveLock);
	for (uint32 i = 0; i < npages; i++)
	{
		Buffer		buf = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, NULL);

		if (i == 0)
			start = BufferGetBlockNumber(buf);
		ReleaseBuffer(buf);
	}
	UnlockRelationForExtension(index, ExclusiveLock);
	return start;
}

/*
 * Rewrites a whole page of a run: with wal, as a full-page GenericXLog
 * record (a maintenance of a live index); without, only marked dirty (the
 * build WAL-logs every page at its end).
 */
static Page
BeginPageWrite(Relation index, ForkNumber fork, BlockNumber blkno, bool wal, Buffer *buf,
			   GenericXLogState **state)
{
	*buf = ReadBufferExtended(index, fork, blkno, RBM_NORMAL, NULL);
	LockBuffer(*buf, BUFFER_LOCK_EXCLUSIVE);
	*state = wal ? GenericXLogStart(index) : NULL;
	return wal ? GenericXLogRegisterBuffer(*state, *buf, GENERIC_XLOG_FULL_IMAGE) : BufferGetPage(*buf);
}

static void
EndPageWrite(Buffer buf, GenericXLogState *state)
{
	if (state != NULL)
		GenericXLogFinish(state);
	else
		MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

/*
 * Writes the parameter stream (the parts one after another, a part may span
 * pages) on new contiguous pages; returns its first block and page count.
 */
void
IvfWriteBlob(Relation index, ForkNumber fork, bool wal, const char *const *parts, const Size *sizes, int nparts,
			 BlockNumber *start, uint32 *npages)
{
	Size		total = 0;
	int			p = 0;
	Size		done = 0;		/* bytes of part p written */

	for (int i = 0; i < nparts; i++)
		total += sizes[i];
	*npages = (uint32) ((total + IVF_PAGE_CAPACITY - 1) / IVF_PAGE_CAPACITY);
	*start = *npages > 0 ? IvfExtendRun(index, fork, *npages) : RelationGetNumberOfBlocksInFork(index, fork);
	for (uint32 i = 0; i < *npages; i++)
	{
		Buffer		buf;
		GenericXLogState *state;
		Page		page = BeginPageWrite(index, fork, *start + i, wal, &buf, &state);
		Size		used = 0;

		IvfInitPage(page, IVF_PAGE_BLOB);
		while (used < IVF_PAGE_CAPACITY && p < nparts)
		{
			Size		n = Min((Size) IVF_PAGE_CAPACITY - used, sizes[p] - done);

			memcpy((char *) page + IVF_PAGE_DATA_START + used, parts[p] + done, n);
			used += n;
			done += n;
			if (done == sizes[p])
			{
				p++;
				done = 0;
			}
		}
		((PageHeader) page)->pd_lower = IVF_PAGE_DATA_START + used;
		EndPageWrite(buf, state);
	}
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

/* Empty directory pages for `lists` lists on new contiguous pages; returns their first block and count. */
void
IvfReserveDirectory(Relation index, ForkNumber fork, bool wal, int lists, BlockNumber *start, uint32 *npages)
{
	*npages = (lists + IVF_LISTS_PER_DIR_PAGE - 1) / IVF_LISTS_PER_DIR_PAGE;
	*start = IvfExtendRun(index, fork, *npages);
	for (uint32 i = 0; i < *npages; i++)
	{
		Buffer		buf;
		GenericXLogState *state;

		IvfInitPage(BeginPageWrite(index, fork, *start + i, wal, &buf, &state), IVF_PAGE_DIRECTORY);
		EndPageWrite(buf, state);
	}
}

/* Writes every list's slot into the pages IvfReserveDirectory made. */
void
IvfWriteDirectory(Relation index, ForkNumber fork, bool wal, BlockNumber start, const IvfListData *dir, int lists)
{
	for (int first = 0; first < lists; first += IVF_LISTS_PER_DIR_PAGE)
	{
		int			n = Min(IVF_LISTS_PER_DIR_PAGE, lists - first);
		Buffer		buf;
		GenericXLogState *state;
		Page		page = BeginPageWrite(index, fork, start + first / IVF_LISTS_PER_DIR_PAGE, wal, &buf, &state);

		memcpy(PageGetContents(page), dir + first, sizeof(IvfListData) * n);
		((PageHeader) page)->pd_lower = (PageGetContents(page) - (char *) page) + sizeof(IvfListData) * n;
		EndPageWrite(buf, state);
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

/*
 * The stamp of the list chain a data page belongs to (src/core/stamp.h), in
 * the page header's pd_prune_xid, which index pages do not use otherwise
 * (heap pruning's hint); 0 on 0.1.0's pages.  A scan that reads a retired
 * structure after its pages were freed and taken by another chain (only a
 * hot standby without feedback lets it) notices the stamp instead of
 * reading that chain's rows; a chain shared by the retired and the live
 * model (ivfsplit.cpp) is read by both.
 */
void
IvfPageSetStamp(Page page, uint32 stamp)
{
	((PageHeader) page)->pd_prune_xid = (TransactionId) stamp;
}

uint32
IvfPageStamp(Page page)
{
	return (uint32) ((PageHeader) page)->pd_prune_xid;
}

/* The stamp of a chain of `list` started now in the model *meta describes. */
uint32
IvfChainStamp(const IvfMetaPageData *meta, int list)
{
	return meta->chain_stamps ? pg_ivf::core::chain_stamp(meta->generation, list) : 0;
}

/* Whether a scan of list `list` of the model *meta describes may read this page. */
bool
IvfPageInList(Page page, const IvfMetaPageData *meta, int list)
{
	uint32		stamp = IvfPageStamp(page);

	return meta->chain_stamps ? pg_ivf::core::stamp_readable(stamp, meta->generation, list) : stamp == 0;
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
	Buffer		buf = IvfReadBuffer(index, blkno, strategy);
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
IvfBuildAppend(Relation index, ForkNumber fork, IvfListData *slot, uint32 stamp, int entry_size, const char *entries,
			   int n)
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
			IvfPageSetStamp(BufferGetPage(buf), stamp);
			take = IvfPageAppend(BufferGetPage(buf), entry_size, entries, n);
		}
		ReleaseBuildPage(buf);
		entries += (Size) take * entry_size;
		n -= take;
	}
}
