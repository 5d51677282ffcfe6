/*
 * ivfinsert.cpp — aminsert: a new row goes to its nearest list, encoded with
 * the trained codec, appended to the list's insert page under GenericXLog.
 *
 * Locking: the data page is locked alone while an entry is appended.  Only
 * when it is full does the inserter lock the list's directory page, re-check
 * the slot (another backend may have added a page meanwhile) and link a new
 * head page; the new page is unknown to others until the directory points to
 * it, so the two buffer locks cannot deadlock with scans or vacuum, which
 * never hold a directory lock and a data page lock at once.
 */
#include "pg.h"
#include "ivf.h"
#include "guard.h"
#include "ivfmodel.h"
#include "vector.h"


namespace core = pg_ivf::core;

/* Appends one entry on the page if it has room; WAL-logged. */
static bool
TryAppend(Relation index, Buffer buf, const char *entry, int entry_size)
{
	Page		page = BufferGetPage(buf);
	int			count = IvfPageEntryCount(page, entry_size);
	GenericXLogState *state;

	if (count >= IvfPageCapacity(entry_size))
		return false;
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	memcpy(IvfPageEntry(page, entry_size, count), entry, entry_size);
	((PageHeader) page)->pd_lower = IVF_PAGE_DATA_START + (count + 1) * entry_size;
	GenericXLogFinish(state);
	return true;
}

/* Appends an entry to a list, linking a new head page when the insert page is full. */
static void
AppendEntry(Relation index, const IvfMetaPageData *meta, int list, const char *entry)
{
	int			entry_size = meta->entry_size;

	for (;;)
	{
		IvfListData slot = IvfGetList(index, meta, list);
		Buffer		dirbuf;
		Buffer		newbuf;
		IvfListData *dirslot;
		GenericXLogState *state;
		Page		newpage;

		if (slot.insert != InvalidBlockNumber)
		{
			Buffer		buf = ReadBuffer(index, slot.insert);
			bool		done;

			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			done = TryAppend(index, buf, entry, entry_size);
			UnlockReleaseBuffer(buf);
			if (done)
				return;
		}

		dirbuf = ReadBuffer(index, IvfListDirBlock(meta, list));
		LockBuffer(dirbuf, BUFFER_LOCK_EXCLUSIVE);
		dirslot = &((IvfListData *) PageGetContents(BufferGetPage(dirbuf)))[list % IVF_LISTS_PER_DIR_PAGE];
		if (dirslot->insert != slot.insert)
		{
			/* another backend moved the insert page: try that one */
			UnlockReleaseBuffer(dirbuf);
			continue;
		}

		newbuf = IvfNewBuffer(index, MAIN_FORKNUM);
		state = GenericXLogStart(index);
		newpage = GenericXLogRegisterBuffer(state, newbuf, GENERIC_XLOG_FULL_IMAGE);
		IvfInitPage(newpage, IVF_PAGE_DATA);
		IvfPageGetOpaque(newpage)->next = dirslot->head;
		memcpy(IvfPageEntry(newpage, entry_size, 0), entry, entry_size);
		((PageHeader) newpage)->pd_lower = IVF_PAGE_DATA_START + entry_size;
		dirslot = &((IvfListData *) PageGetContents(GenericXLogRegisterBuffer(state, dirbuf, 0)))
			[list % IVF_LISTS_PER_DIR_PAGE];
		dirslot->head = dirslot->insert = BufferGetBlockNumber(newbuf);
		GenericXLogFinish(state);
		UnlockReleaseBuffer(newbuf);
		UnlockReleaseBuffer(dirbuf);
		return;
	}
}

/* Inserts one row: the nearest list by L2 to the stored form of the row, as at build. */
bool
ivfinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
		  Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
		  IndexInfo *indexInfo)
{
	IvfMetaPageData meta;
	MemoryContext cxt;
	MemoryContext old;
	float	   *x;
	char	   *entry;
	int32		list = 0;
	bool		bounded;
	IvfModelRef *ref;

	if (isnull[0])
		return false;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "ivf insert", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);

	IvfGetMetaPage(index, &meta);
	x = (float *) palloc(sizeof(float) * meta.dims);
	if (!IvfPrepareRow(values[0], meta.dims, meta.metric, x, &bounded))
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		return false;
	}

	entry = (char *) palloc0(meta.entry_size);
	ref = IvfModelAcquire(index, &meta);
	IvfGuard("ivf insert", [&]() {
		std::unique_ptr<IvfModelRef> hold(ref);
		const IvfModel &model = *hold->model;
		core::CpuAssigner assigner(1);
		core::Hooks hooks;
		float		dist2;

		assigner.assign(x, 1, model.centroids.data(), model.lists, model.dims, &list, &dist2, hooks);
		core::encode_rows(model.codec, x, 1, model.centroids.data(), &list, (uint8_t *) entry,
						  meta.entry_size, 1);
		if (!bounded)
			core::mark_entry_unbounded((uint8_t *) entry);
	});
	memcpy(entry, heap_tid, sizeof(ItemPointerData));
	AppendEntry(index, &meta, list, entry);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return false;
}
