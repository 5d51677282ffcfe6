// The CUDA module's kernels: thin __global__ shells around the shared code
// of tile_assign.h, which the CPU tests run through a simulated block.
#include "kernels.h"

namespace pg_ivf::gpu {
namespace {

constexpr int kFlatThreads = 256;        // threads per block of the per-row kernels
constexpr size_t kMaxFlatBlocks = 65535; // grid-stride loops cover the rest

// One real thread block: each() runs the calling thread's part of a phase on
// its own registers, sync() is the block barrier.
struct DeviceBlock {
    TileThread t;

    template <class Fn>
    __device__ __forceinline__ void each(Fn&& fn) {
        fn(static_cast<int>(threadIdx.x), t);
    }
    __device__ __forceinline__ void sync() { __syncthreads(); }
};

// Two resident blocks per SM: caps registers at 128 a thread (the 8 x 8
// tile needs about 100; uncapped, ptxas takes 138 and only one block fits).
constexpr int kAssignBlocksPerSm = 2;

// Block (x, y): rows from x * kTileRows against the column tiles of split y.
__global__ void __launch_bounds__(kTileThreads, kAssignBlocksPerSm) assign_kernel(TileArgs args) {
    __shared__ TileShared shared;
    DeviceBlock block;
    const TileArgs a = args;  // a local copy, so phases capture registers, not the parameter space
    assign_block(a, shared, block, static_cast<size_t>(blockIdx.x) * kTileRows, static_cast<size_t>(blockIdx.y));
}

// Block (x, y, z): the block (x, y) of assign_kernel for problem z of the batch.
__global__ void __launch_bounds__(kTileThreads, kAssignBlocksPerSm) assign_batch_kernel(BatchArgs args) {
    __shared__ TileShared shared;
    DeviceBlock block;
    const TileArgs a = batch_problem(args, static_cast<size_t>(blockIdx.z));
    assign_block(a, shared, block, static_cast<size_t>(blockIdx.x) * kTileRows, static_cast<size_t>(blockIdx.y));
}

// One thread per row (grid-stride), in the CPU's summation order.
__global__ void norms_kernel(const float* x, size_t n, size_t d, float* norms) {
    const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
    for (size_t row = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; row < n; row += stride)
        norms[row] = squared_norm(x + row * d, d);
}

// One thread per row (grid-stride): merge splits, add ||x||^2.
__global__ void finish_kernel(const float* part_value, const int32_t* part_index, size_t n, size_t splits,
                              const float* x_norms, int32_t* labels, float* dist2) {
    const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
    for (size_t row = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; row < n; row += stride)
        finish_row(part_value, part_index, n, splits, row, x_norms[row], labels, dist2);
}

// One thread per batch entry (grid-stride): finish_batch_row.
__global__ void finish_batch_kernel(BatchArgs args, size_t splits, size_t entries) {
    const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
    for (size_t e = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < entries; e += stride)
        finish_batch_row(args, splits, e);
}

// Threads per block of the update kernel, over dimensions.
constexpr int kUpdateThreads = 128;

// Block b: cluster b / tiles, dimensions (b % tiles) * 128 + threadIdx.x; a
// warp reads 32 consecutive floats of each of the cluster's rows in turn.
__global__ void update_kernel(const float* x, size_t d, const uint64_t* order, const int64_t* offsets,
                              size_t tiles, float* centroids) {
    const size_t c = blockIdx.x / tiles;
    const size_t j = (blockIdx.x % tiles) * kUpdateThreads + threadIdx.x;
    const int64_t begin = offsets[c];
    const int64_t end = offsets[c + 1];
    if (j >= d || end <= begin) return;
    centroids[c * d + j] = core::cluster_mean(x, d, order, begin, end, j);
}

// Blocks for a per-row kernel over n rows.
unsigned flat_blocks(size_t n) {
    const size_t blocks = (n + kFlatThreads - 1) / kFlatThreads;
    return static_cast<unsigned>(blocks < kMaxFlatBlocks ? blocks : kMaxFlatBlocks);
}

}  // namespace

cudaError_t launch_norms(const float* x, size_t n, size_t d, float* norms) {
    if (n == 0) return cudaSuccess;
    norms_kernel<<<flat_blocks(n), kFlatThreads>>>(x, n, d, norms);
    return cudaGetLastError();
}

cudaError_t launch_assign(const TileArgs& args, const Grid& grid) {
    if (grid.row_tiles == 0) return cudaSuccess;
    const dim3 blocks(static_cast<unsigned>(grid.row_tiles), static_cast<unsigned>(grid.splits));
    assign_kernel<<<blocks, kTileThreads>>>(args);
    return cudaGetLastError();
}

cudaError_t launch_finish(const float* part_value, const int32_t* part_index, size_t n, size_t splits,
                          const float* x_norms, int32_t* labels, float* dist2) {
    if (n == 0) return cudaSuccess;
    finish_kernel<<<flat_blocks(n), kFlatThreads>>>(part_value, part_index, n, splits, x_norms, labels, dist2);
    return cudaGetLastError();
}

cudaError_t launch_assign_batch(const BatchArgs& args, const Grid& grid, size_t problems) {
    if (grid.row_tiles == 0 || problems == 0) return cudaSuccess;
    const dim3 blocks(static_cast<unsigned>(grid.row_tiles), static_cast<unsigned>(grid.splits),
                      static_cast<unsigned>(problems));
    assign_batch_kernel<<<blocks, kTileThreads>>>(args);
    return cudaGetLastError();
}

cudaError_t launch_finish_batch(const BatchArgs& args, size_t splits, size_t entries) {
    if (entries == 0) return cudaSuccess;
    finish_batch_kernel<<<flat_blocks(entries), kFlatThreads>>>(args, splits, entries);
    return cudaGetLastError();
}

bool update_launchable(size_t k, size_t d) {
    const size_t tiles = (d + kUpdateThreads - 1) / kUpdateThreads;
    return tiles == 0 || k <= 0x7fffffffu / tiles;
}

cudaError_t launch_update(const float* x, size_t d, const uint64_t* order, const int64_t* offsets, size_t k,
                          float* centroids) {
    if (k == 0 || d == 0) return cudaSuccess;
    const size_t tiles = (d + kUpdateThreads - 1) / kUpdateThreads;
    if (!update_launchable(k, d)) return cudaErrorInvalidConfiguration;
    update_kernel<<<static_cast<unsigned>(k * tiles), kUpdateThreads>>>(x, d, order, offsets, tiles, centroids);
    return cudaGetLastError();
}

}  // namespace pg_ivf::gpu
