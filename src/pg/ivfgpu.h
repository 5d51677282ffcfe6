/*
 * ivfgpu.h — where CREATE INDEX runs k-means and assignment: the choice
 * ivf.build_device makes.  Each build step then gets its assigner (the
 * CPU's, or the CUDA module's) from pg_ivf::gpu::make_assigner()
 * (src/gpu/assigner.h).
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

#endif							/* PG_IVF_IVFGPU_H */
