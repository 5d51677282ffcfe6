/*
 * ivfmodel.cpp — backend-local cache of trained index models.
 */
#include "pg.h"
#include "ivfmodel.h"
#include "guard.h"


#include <list>

namespace core = pg_ivf::core;

/*
 * A few recently used models.  Inserts and scans of a large table would
 * otherwise re-read megabytes of centroids and codebooks per statement.
 * Besides the newest, the cache keeps models only while they total at most
 * maintenance_work_mem, the budget each of them was built within.
 */
static constexpr size_t kCachedModels = 8;
static std::list<std::shared_ptr<const IvfModel>> *model_cache;

/* Bytes a loaded model holds. */
static size_t
ModelBytes(const IvfModel &m)
{
	return (m.centroids.size() + m.mips_extras.size() + m.mips_centroids.size() + m.mips_rank.size() +
			m.codec.sq_bias.size() + m.codec.sq_step.size() +
			m.codec.pq_codebooks.size() + m.codec.pq_codebooks_by_dim.size()) * sizeof(float);
}

/* Finds a cached model; never throws. */
static IvfModelRef *
LookupModel(Oid relid, uint64 nonce)
{
	IvfModelRef *ref = NULL;

	IvfGuard("ivf model lookup", [&]() {
		if (model_cache == nullptr)
			model_cache = new std::list<std::shared_ptr<const IvfModel>>();
		for (auto it = model_cache->begin(); it != model_cache->end(); ++it)
		{
			if ((*it)->relid == relid && (*it)->nonce == nonce)
			{
				model_cache->splice(model_cache->begin(), *model_cache, it);
				ref = new IvfModelRef{model_cache->front()};
				return;
			}
		}
	});
	return ref;
}

IvfModelRef *
IvfModelAcquire(Relation index, const IvfMetaPageData *meta)
{
	IvfModelRef *ref = LookupModel(RelationGetRelid(index), meta->nonce);
	float	   *blob;
	Oid			relid = RelationGetRelid(index);

	if (ref != NULL)
		return ref;

	blob = IvfReadBlob(index, meta);
	IvfGuard("loading the ivf index model", [&, budget = (size_t) maintenance_work_mem * 1024]() {
		auto model = std::make_shared<IvfModel>();

		model->relid = relid;
		model->nonce = meta->nonce;
		model->dims = meta->dims;
		model->lists = meta->lists;
		model->centroids.assign(blob, blob + meta->centroid_floats);
		model->codec = core::Codec::from_parameters(static_cast<core::QuantizerKind>(meta->quantizer),
													static_cast<core::Metric>(meta->metric),
													meta->dims, meta->pq_m, meta->residual != 0,
													blob + meta->centroid_floats, meta->param_floats);
		model->mips_max_norm2 = meta->mips_max_norm2 > 0 ? meta->mips_max_norm2 : 0.0;
		if (model->mips_max_norm2 > 0)
		{
			const float *extras = blob + meta->centroid_floats + meta->param_floats;

			model->mips_extras.assign(extras, extras + meta->lists);
			model->mips_centroids = core::mips_join_centroids(model->centroids.data(), extras, meta->lists,
															  meta->dims);
			if (meta->mips_rank)
				model->mips_rank.assign(extras + meta->lists, extras + meta->lists + meta->centroid_floats);
		}
		/* drop stale versions of this index, then bound the cache */
		model_cache->remove_if([relid](const std::shared_ptr<const IvfModel> &m) { return m->relid == relid; });
		model_cache->push_front(model);
		size_t		total = 0;
		size_t		keep = 0;

		for (const auto &m : *model_cache)
		{
			total += ModelBytes(*m);
			if (keep > 0 && (keep == kCachedModels || total > budget))
				break;
			keep++;
		}
		model_cache->resize(keep);
		ref = new IvfModelRef{model};
	});
	pfree(blob);
	return ref;
}

struct IvfResetDeleter
{
	MemoryContextCallback cb;
	void		(*deleter) (void *);
	void	   *object;
};

static void
RunDeleter(void *arg)
{
	IvfResetDeleter *d = (IvfResetDeleter *) arg;

	if (d->object != NULL)
		d->deleter(d->object);
	d->object = NULL;
}

void **
IvfDeleteOnReset(MemoryContext cxt, void (*deleter) (void *), void *object)
{
	IvfResetDeleter *d = (IvfResetDeleter *) MemoryContextAlloc(cxt, sizeof(IvfResetDeleter));

	d->deleter = deleter;
	d->object = object;
	d->cb.func = RunDeleter;
	d->cb.arg = d;
	MemoryContextRegisterResetCallback(cxt, &d->cb);
	return &d->object;
}
