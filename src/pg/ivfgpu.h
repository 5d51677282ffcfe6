/*
 * ivfgpu.h — where CREATE INDEX runs k-means and assignment: the choice
 * ivf.build_device makes, and the assigner each build step uses (the CPU's,
 * or the CUDA module's through cuda/gpu_backend.h).
 */
#ifndef PG_IVF_IVFGPU_H
#define PG_IVF_IVFGPU_H

#include "pg.h"

/*
 * IVF_DEVICE_CPU or IVF_DEVICE_GPU for a build of `index`, from
 * ivf.build_device: 'cpu' never touches CUDA; 'auto' takes the GPU when one
 * is usable; 'gpu' raises an ERROR (with the reason in its DETAIL) when none
 * is.  The first 'auto' or 'gpu' call of a backend loads the CUDA module and
 * probes the device; the result is cached for the backend's life.  Logs the
 * choice at DEBUG1.
 */
extern int	IvfChooseBuildDevice(Relation index, int threads);

/* "cpu" or "gpu", as the meta page records it. */
extern const char *IvfDeviceName(int device);

/*
 * The assigner of one build step on a device chosen by IvfChooseBuildDevice.
 * Construct it only inside an IvfGuard callable: it has a destructor (which
 * frees the step's GPU memory) and its constructor and assign() may throw.
 * resident: rows (resident_rows x d) that stay unchanged while the assigner
 * lives and may therefore stay on the GPU between calls (the k-means sample);
 * fixed_centroids likewise for centroids (the second pass uploads them once).
 */
class IvfBuildAssigner final : public pg_ivf::core::Assigner
{
public:
	IvfBuildAssigner(int device, int threads, const float *resident = NULL, size_t resident_rows = 0,
					 const float *fixed_centroids = NULL);
	void		assign(const float *x, size_t n, const float *centroids, size_t k, size_t d,
					   int32_t *labels, float *dist2, const pg_ivf::core::Hooks &hooks) override;
	void		assign_batch(const pg_ivf::core::AssignJob *jobs, size_t count, size_t n, size_t k,
							 size_t d, const pg_ivf::core::Hooks &hooks) override;
	bool		batches() const override;
	void		end_batch() noexcept override;
	bool		update_centroids(const float *x, size_t n, size_t k, size_t d, const int64_t *offsets,
								 const uint64_t *order, float *centroids,
								 const pg_ivf::core::Hooks &hooks) override;
	const char *name() const override;

private:
	std::unique_ptr<pg_ivf::core::Assigner> impl_;
};

#endif							/* PG_IVF_IVFGPU_H */
