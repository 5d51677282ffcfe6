// The seam between CPU and GPU: every step of a build gets its nearest-centroid
// assigner here, so a new Assigner method is written by the CPU and the GPU
// assigner and nowhere else.  Pure C++ like src/core (may throw, never calls
// PostgreSQL); the glue calls it inside IvfGuard.
#pragma once
#ifdef POSTGRES_H
#error "src/gpu headers must not be included after postgres.h"
#endif

#include <cstddef>
#include <memory>

#include "core/kmeans.h"

namespace pg_ivf::gpu {

// A CpuAssigner with `threads` threads, or, when gpu, a GpuAssigner on the
// module probe_backend() loaded (device 0, most of its free memory).
// resident: rows (resident_rows x d) that stay unchanged while the assigner
// lives and may therefore stay on the GPU between calls (the k-means sample);
// fixed_centroids likewise for centroids (the second pass uploads them once).
// The CPU ignores both.  Throws std::runtime_error when gpu is asked for but
// the backend has no usable GPU (any more: a CUDA fault since the device
// choice marks it unusable).
std::unique_ptr<core::Assigner> make_assigner(bool gpu, int threads, const float* resident = nullptr,
                                              size_t resident_rows = 0, const float* fixed_centroids = nullptr);

}  // namespace pg_ivf::gpu
