/*
 * ivfmodel.h — the trained part of an index (centroids and codec), loaded
 * once per backend and shared by scans and inserts until a rebuild changes
 * the meta page's nonce.
 */
#ifndef PG_IVF_IVFMODEL_H
#define PG_IVF_IVFMODEL_H

#include "ivf.h"

#include <memory>
#include <vector>

#include "core/codec.h"

struct IvfModel
{
	Oid			relid;
	uint64		nonce;
	int			dims;
	int			lists;
	std::vector<float> centroids;	/* size lists * dims */
	pg_ivf::core::Codec codec;
	/* the MIPS reduction (meta mips_max_norm2 > 0), else all empty and 0 */
	double		mips_max_norm2;
	std::vector<float> mips_extras;	/* size lists: each centroid's extra coordinate */
	std::vector<float> mips_centroids;	/* size lists * (dims + 1): what rows are assigned to */
	std::vector<float> mips_rank;	/* size lists * dims when meta mips_rank, else empty */

	/* The vectors scans rank lists by (core::nearest_lists): see core/mips.h. */
	const float *ranking_centroids() const
	{
		return mips_rank.empty() ? centroids.data() : mips_rank.data();
	}

	/* The centroids rows are assigned to (core::assign_to_lists). */
	const float *list_centroids() const
	{
		return mips_centroids.empty() ? centroids.data() : mips_centroids.data();
	}
};

/* A reference that keeps a model alive; allocated with new, owned by its caller's C++ state. */
struct IvfModelRef
{
	std::shared_ptr<const IvfModel> model;
};

/* The model of an index whose meta page is *meta; loads and caches it when needed. */
extern IvfModelRef *IvfModelAcquire(Relation index, const IvfMetaPageData *meta);

/*
 * Registers delete of a C++ object when memory context cxt is reset or
 * deleted; returns the slot holding the object.  Register first (object
 * NULL), then store the new'd object in the slot where it is created, so no
 * error can come between the new and the registration.
 */
extern void **IvfDeleteOnReset(MemoryContext cxt, void (*deleter) (void *), void *object);

#endif
