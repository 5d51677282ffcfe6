/*
 * ivfinsert.cpp — aminsert: a new row is prepared as at build (IvfPrepareRow),
 * goes to its nearest list, encoded with the trained codec, and is appended
 * to the list by the page layer (IvfListAppend in ivflist.cpp, which also
 * describes the locking): on the insert page, else on the first later page
 * with room, else on a new tail page taken from the free space map or by
 * extending the index.
 */
#include "pg.h"
#include "ivf.h"
#include "guard.h"
#include "ivfmodel.h"
#include "vector.h"


namespace core = pg_ivf::core;

/*
 * Inserts one row: the nearest list by L2 to the stored form of the row (under
 * inner product, its augmented form), as at build.
 */
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
	if (!IvfPrepareRow(values[0], IvfGetElement(index), meta.dims, meta.metric, x, &bounded))
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		return false;
	}

	/* recorded before the entry exists, so no scan that can see the row still trusts the IP list bound */
	if (meta.mips_max_norm2 > 0 && !meta.mips_overflow &&
		core::mips_squared_norm(x, meta.dims) > meta.mips_max_norm2)
		IvfSetMipsOverflow(index);

	entry = (char *) palloc0(meta.entry_size);
	ref = IvfModelAcquire(index, &meta);
	IvfGuard("ivf insert", [&]() {
		std::unique_ptr<IvfModelRef> hold(ref);
		const IvfModel &model = *hold->model;
		core::CpuAssigner assigner(1);
		core::Hooks hooks;
		float		dist2;

		core::assign_to_lists(assigner, x, 1, model.dims, model.list_centroids(), model.lists, model.mips_max_norm2,
							  &list, &dist2, hooks);
		core::encode_rows(model.codec, x, 1, model.centroids.data(), &list, (uint8_t *) entry,
						  meta.entry_size, 1);
		if (!bounded)
			core::mark_entry_unbounded((uint8_t *) entry);
	});
	memcpy(entry, heap_tid, sizeof(ItemPointerData));
	IvfListAppend(index, &meta, list, entry);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return false;
}
