/*
 * ivfmaint.h — what a maintenance's two ways of building a new structure
 * share: the full retrain (ivfmaint.cpp) and the local split (ivfsplit.cpp).
 * Both copy the live lists into new ones beside them and swap the new
 * structure in with one meta-page record (see the top of ivfmaint.cpp).
 */
#ifndef PG_IVF_IVFMAINT_H
#define PG_IVF_IVFMAINT_H

#include "pg.h"
#include "ivf.h"
#include "ivfbuild.h"

/* ivfsplit.cpp's state of a split's copy; NULL for a full retrain */
typedef struct IvfSplitState IvfSplitState;

/* The copy's view of the live structure and the heap rows behind its entries. */
typedef struct IvfCopyState
{
	Relation	heap;
	Relation	index;
	IvfMetaPageData meta;		/* the live structure being copied */
	IndexInfo  *indexInfo;
	EState	   *estate;
	TupleTableSlot *slot;
	IndexFetchTableData *fetch;
	int32	   *copied;			/* per block: entries already copied */
	BlockNumber ncopied;
	char	   *entries;		/* scratch: entries collected from one list (meta.entry_size each) */
	int64		nentries;
	int64		capentries;
	int64		rows_copied;
	IvfSplitState *split;		/* a split places entries itself (IvfSplitPlace) */
} IvfCopyState;

/* ivfmaint.cpp */
extern void IvfMaintPause(Relation index, const char *point);
extern void IvfMaintSetState(Relation index, int32 state);
extern void IvfMaintInitBuild(IvfBuildState *bs, MemoryContext cxt, Relation heap, Relation index,
							  const IvfMetaPageData *live);
extern void IvfMaintBeginCopy(IvfCopyState *cs, MemoryContext cxt, Relation heap, Relation index,
							  const IvfMetaPageData *live);
extern void IvfMaintEndCopy(IvfCopyState *cs);
extern bool IvfMaintFetchValue(IvfCopyState *cs, ItemPointer tid, Datum *value);
extern void IvfMaintSample(IvfCopyState *cs, IvfBuildState *bs, int64 target, int only);
extern void IvfMaintCopyRow(IvfCopyState *cs, IvfBuildState *bs, const char *entry);
extern void IvfMaintSwap(IvfCopyState *cs, IvfBuildState *bs);

/* ivfsplit.cpp */
extern const char *IvfSplit(Relation heap, Relation index, const IvfMetaPageData *live, int64 rows);
extern bool IvfSplitPlace(IvfCopyState *cs, IvfBuildState *bs, int list);
extern void IvfSplitShare(IvfCopyState *cs, IvfBuildState *bs);

#endif
