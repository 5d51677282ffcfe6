// Host-side launchers of the CUDA module's kernels (cuda/kernels.cu).  Each
// queues its kernel on the default stream and returns the launch status;
// execution errors surface at the next synchronizing call.  All pointers are
// device memory.
#pragma once

#include <cuda_runtime.h>

#include <stddef.h>
#include <stdint.h>

#include "plan.h"
#include "tile_assign.h"

namespace pg_ivf::gpu {

// norms[i] = squared_norm(x + i * d, d) for i < n.
cudaError_t launch_norms(const float* x, size_t n, size_t d, float* norms);

// assign_block over grid.row_tiles x grid.splits blocks: per-split minima into args.part_*.
cudaError_t launch_assign(const TileArgs& args, const Grid& grid);

// finish_row for every row: labels[n] and dist2[n] from the splits' minima and x_norms[n].
cudaError_t launch_finish(const float* part_value, const int32_t* part_index, size_t n, size_t splits,
                          const float* x_norms, int32_t* labels, float* dist2);

// assign_block for every problem of a batch: grid.row_tiles x grid.splits x problems blocks.
cudaError_t launch_assign_batch(const BatchArgs& args, const Grid& grid, size_t problems);

// finish_batch_row for the `entries` = problems * n rows of a batch.
cudaError_t launch_finish_batch(const BatchArgs& args, size_t splits, size_t entries);

// centroids[c * d + j] = cluster_mean(x, d, order, offsets[c], offsets[c + 1], j)
// for every non-empty cluster c < k and j < d; empty clusters are left alone.
// Whether launch_update() can cover k clusters of d dimensions in one grid.
bool update_launchable(size_t k, size_t d);

cudaError_t launch_update(const float* x, size_t d, const uint64_t* order, const int64_t* offsets, size_t k,
                          float* centroids);

}  // namespace pg_ivf::gpu
