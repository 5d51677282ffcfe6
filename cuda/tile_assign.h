// The nearest-centroid kernel of the CUDA module, written once for two
// executors: nvcc runs it as a thread block on the GPU (cuda/assign.cu), and
// the tests run the very same code on the CPU with a simulated block
// (test/unit/gpu/), so its indexing, bounds, barriers and tie rule are
// tested on machines without a GPU.
//
// One block covers kTileRows rows of x against a contiguous range of
// centroid tiles of kTileCols centroids (its "split"); it accumulates x.c in
// a register tile per thread, folds ||c||^2 - 2 x.c into a running arg-min in
// the epilogue (the distance matrix is never stored) and finally reduces the
// 16 threads that share a row.  A second, per-row pass (finish_row) merges the
// splits and adds ||x||^2.
//
// Numerics mirror CpuAssigner's AVX2 path exactly: x.c accumulates with one
// fused multiply-add per dimension in dimension order, the epilogue is one
// fused -2 * acc + ||c||^2, and squared norms follow squared_norm_avx2's
// 16-lane order, so on an AVX2 machine GPU and CPU labels and distances agree
// bit for bit; the tests check it.  Only plain C++ here: no std containers.
#pragma once
#ifdef POSTGRES_H
#error "cuda/ headers must not be included after postgres.h"
#endif

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/kmeans_math.h"

#ifdef __CUDACC__
#define PG_IVF_TILE __host__ __device__ __forceinline__
#else
#define PG_IVF_TILE inline
#endif
#ifdef __CUDA_ARCH__
#define PG_IVF_UNROLL _Pragma("unroll")
#else
#define PG_IVF_UNROLL
#endif

namespace pg_ivf::gpu {

constexpr int kTileRows = 128;      // rows of x per block
constexpr int kTileCols = 128;      // centroids per column tile
constexpr int kTileDepth = 16;      // dimensions staged in shared memory per step
constexpr int kTileSide = 16;       // threads per side of the 16 x 16 block
constexpr int kTileThreads = kTileSide * kTileSide;
constexpr int kThreadRows = kTileRows / kTileSide;   // 8 rows per thread
constexpr int kThreadCols = kTileCols / kTileSide;   // 8 columns per thread
constexpr int kTilePad = 4;         // shared-row padding against bank conflicts
// Label of "no candidate yet": loses every comparison with a real column.
constexpr int32_t kNoIndex = INT32_MAX;

static_assert(kTileRows == kTileCols, "tile_load stages x and centroid rows in one loop");
static_assert((kTileRows * kTileDepth) % kTileThreads == 0, "every thread loads whole elements");

// The block's shared memory: the staged tiles (dimension-major, so a thread
// reads its 8 rows / 8 columns of one dimension from one padded row) and the
// per-thread minima for the final reduction.
struct TileShared {
    float a[kTileDepth][kTileRows + kTilePad];   // x rows
    float b[kTileDepth][kTileCols + kTilePad];   // centroids
    float best_value[kTileRows][kTileSide];
    int32_t best_index[kTileRows][kTileSide];
};

// One thread's registers: its 8 x 8 dot products for the current column tile
// and the running minimum of each of its 8 rows.  Thread (ty, tx) owns rows
// ty + 16 i and columns tx + 16 j: strided, so the 16 threads of a half-warp
// read 16 consecutive shared words.
struct TileThread {
    float acc[kThreadRows][kThreadCols];
    float best_value[kThreadRows];
    int32_t best_index[kThreadRows];
};

// What one launch works on; all pointers are device memory (or host memory
// in the simulator).  Partial results are [split * n + row].
struct TileArgs {
    const float* x;                 // n * d rows of this batch
    const float* centroids;         // k * d
    const float* centroid_norms;    // k, from squared_norm()
    size_t n;
    size_t k;
    size_t d;
    size_t col_tiles_per_split;     // column tiles each blockIdx.y covers
    float* part_value;              // splits * n
    int32_t* part_index;            // splits * n
};

// a * b and a + b rounded separately: nvcc would otherwise fuse them, and the
// CPU kernel they mirror (compiled with -std=c++17, i.e. -ffp-contract=off) does not.
PG_IVF_TILE float mul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

PG_IVF_TILE float add_rn(float a, float b) {
#ifdef __CUDA_ARCH__
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}

// ||v||^2 (v: size d) summed in the order of CpuAssigner's AVX2 norm: two
// 8-lane FMA accumulators over blocks of 16, a scalar tail, then the lanes.
PG_IVF_TILE float squared_norm(const float* v, size_t d) {
    float s0[8];
    float s1[8];
    PG_IVF_UNROLL
    for (int l = 0; l < 8; ++l) s0[l] = s1[l] = 0.0f;
    const size_t blocked = d - d % 16;
    for (size_t t = 0; t < blocked; t += 16) {
        PG_IVF_UNROLL
        for (int l = 0; l < 8; ++l) {
            s0[l] = fmaf(v[t + l], v[t + l], s0[l]);
            s1[l] = fmaf(v[t + 8 + l], v[t + 8 + l], s1[l]);
        }
    }
    float s = 0.0f;
    for (size_t t = blocked; t < d; ++t) s = add_rn(s, mul_rn(v[t], v[t]));
    PG_IVF_UNROLL
    for (int l = 0; l < 8; ++l) s = add_rn(s, add_rn(s0[l], s1[l]));
    return s;
}

// Before the first column tile: no candidate for any row.
PG_IVF_TILE void tile_reset(TileThread& t) {
    PG_IVF_UNROLL
    for (int i = 0; i < kThreadRows; ++i) {
        t.best_value[i] = INFINITY;
        t.best_index[i] = kNoIndex;
    }
}

// Before each column tile: zero dot products.
PG_IVF_TILE void tile_clear(TileThread& t) {
    PG_IVF_UNROLL
    for (int i = 0; i < kThreadRows; ++i) {
        PG_IVF_UNROLL
        for (int j = 0; j < kThreadCols; ++j) t.acc[i][j] = 0.0f;
    }
}

// Stages dimensions [k0, k0 + 16) of the block's rows and of the column
// tile's centroids; out-of-range rows, centroids and dimensions read as 0,
// which leaves every dot product unchanged.  Sixteen consecutive threads read
// 16 consecutive floats of one row (coalesced).
PG_IVF_TILE void tile_load(const TileArgs& a, TileShared& s, int tid, size_t row0, size_t col0, size_t k0) {
    PG_IVF_UNROLL
    for (int q = 0; q < kTileRows * kTileDepth / kTileThreads; ++q) {
        const int e = tid + q * kTileThreads;
        const int r = e / kTileDepth;
        const int kk = e % kTileDepth;
        const size_t dim = k0 + static_cast<size_t>(kk);
        const size_t row = row0 + static_cast<size_t>(r);
        const size_t col = col0 + static_cast<size_t>(r);
        s.a[kk][r] = (row < a.n && dim < a.d) ? a.x[row * a.d + dim] : 0.0f;
        s.b[kk][r] = (col < a.k && dim < a.d) ? a.centroids[col * a.d + dim] : 0.0f;
    }
}

// acc[i][j] += x[row i][dim] * c[col j][dim] for the 16 staged dimensions in order.
PG_IVF_TILE void tile_multiply(const TileShared& s, int tid, TileThread& t) {
    const int ty = tid / kTileSide;
    const int tx = tid % kTileSide;
    PG_IVF_UNROLL
    for (int kk = 0; kk < kTileDepth; ++kk) {
        float av[kThreadRows];
        float bv[kThreadCols];
        PG_IVF_UNROLL
        for (int i = 0; i < kThreadRows; ++i) av[i] = s.a[kk][ty + kTileSide * i];
        PG_IVF_UNROLL
        for (int j = 0; j < kThreadCols; ++j) bv[j] = s.b[kk][tx + kTileSide * j];
        PG_IVF_UNROLL
        for (int i = 0; i < kThreadRows; ++i) {
            PG_IVF_UNROLL
            for (int j = 0; j < kThreadCols; ++j) t.acc[i][j] = fmaf(av[i], bv[j], t.acc[i][j]);
        }
    }
}

// After a column tile: ||c||^2 - 2 x.c of each of the thread's columns, in
// increasing column order, into its rows' running minima (core::better: the
// smaller value, then the lower index).
PG_IVF_TILE void tile_epilogue(const TileArgs& a, int tid, size_t col0, TileThread& t) {
    const int tx = tid % kTileSide;
    PG_IVF_UNROLL
    for (int j = 0; j < kThreadCols; ++j) {
        const size_t col = col0 + static_cast<size_t>(tx + kTileSide * j);
        if (col >= a.k) continue;
        const float norm = a.centroid_norms[col];
        PG_IVF_UNROLL
        for (int i = 0; i < kThreadRows; ++i) {
            const float v = fmaf(-2.0f, t.acc[i][j], norm);
            if (core::better(v, static_cast<int64_t>(col), t.best_value[i],
                             static_cast<int64_t>(t.best_index[i]))) {
                t.best_value[i] = v;
                t.best_index[i] = static_cast<int32_t>(col);
            }
        }
    }
}

// After the last column tile: each thread publishes its rows' minima.
PG_IVF_TILE void tile_stash(TileShared& s, int tid, const TileThread& t) {
    const int ty = tid / kTileSide;
    const int tx = tid % kTileSide;
    PG_IVF_UNROLL
    for (int i = 0; i < kThreadRows; ++i) {
        s.best_value[ty + kTileSide * i][tx] = t.best_value[i];
        s.best_index[ty + kTileSide * i][tx] = t.best_index[i];
    }
}

// Threads 0..127 each merge one row's 16 published minima and write the
// block's result for that row and split.
PG_IVF_TILE void tile_reduce(const TileArgs& a, const TileShared& s, int tid, size_t row0, size_t split) {
    if (tid >= kTileRows) return;
    const size_t row = row0 + static_cast<size_t>(tid);
    if (row >= a.n) return;
    float value = s.best_value[tid][0];
    int32_t index = s.best_index[tid][0];
    for (int tx = 1; tx < kTileSide; ++tx) {
        if (core::better(s.best_value[tid][tx], static_cast<int64_t>(s.best_index[tid][tx]), value,
                         static_cast<int64_t>(index))) {
            value = s.best_value[tid][tx];
            index = s.best_index[tid][tx];
        }
    }
    a.part_value[split * a.n + row] = value;
    a.part_index[split * a.n + row] = index;
}

// The whole life of one block (rows from row0, column tiles of `split`),
// phase by phase.  Block supplies each(fn) — run fn(tid, thread registers)
// for its threads — and sync() — a barrier.  On the GPU each() runs the
// calling thread only; the CPU simulator queues phases until sync() and then
// runs every thread through them in a scrambled order, so a missing barrier
// shows up as a wrong result.  Lambdas capture by value what changes between
// phases, since the simulator may run a phase after the loop moved on.
template <class Block>
PG_IVF_TILE void assign_block(const TileArgs& a, TileShared& s, Block& block, size_t row0, size_t split) {
    const size_t col_tiles = (a.k + kTileCols - 1) / kTileCols;
    const size_t ct0 = split * a.col_tiles_per_split;
    const size_t ct1 = ct0 + a.col_tiles_per_split < col_tiles ? ct0 + a.col_tiles_per_split : col_tiles;
    block.each([](int, TileThread& t) { tile_reset(t); });
    for (size_t ct = ct0; ct < ct1; ++ct) {
        const size_t col0 = ct * kTileCols;
        block.each([](int, TileThread& t) { tile_clear(t); });
        for (size_t k0 = 0; k0 < a.d; k0 += kTileDepth) {
            block.each([&a, &s, row0, col0, k0](int tid, TileThread&) { tile_load(a, s, tid, row0, col0, k0); });
            block.sync();
            block.each([&s](int tid, TileThread& t) { tile_multiply(s, tid, t); });
            block.sync();
        }
        block.each([&a, col0](int tid, TileThread& t) { tile_epilogue(a, tid, col0, t); });
    }
    block.each([&s](int tid, TileThread& t) { tile_stash(s, tid, t); });
    block.sync();
    block.each([&a, &s, row0, split](int tid, TileThread&) { tile_reduce(a, s, tid, row0, split); });
}

// Per row after all blocks: the best of its splits (in split order, with the
// same tie rule), then the label and ||x||^2 + best clamped at 0.  A row whose
// every candidate was NaN gets label 0 and +inf, as CpuAssigner gives.
PG_IVF_TILE void finish_row(const float* part_value, const int32_t* part_index, size_t n, size_t splits,
                            size_t row, float x_norm, int32_t* labels, float* dist2) {
    float value = part_value[row];
    int32_t index = part_index[row];
    for (size_t sp = 1; sp < splits; ++sp) {
        const float v = part_value[sp * n + row];
        const int32_t i = part_index[sp * n + row];
        if (core::better(v, static_cast<int64_t>(i), value, static_cast<int64_t>(index))) {
            value = v;
            index = i;
        }
    }
    labels[row] = index == kNoIndex ? 0 : index;
    dist2[row] = core::clamp_distance(add_rn(x_norm, value));
}

// A launch over several problems of one shape (PQ's sub-quantizers), one
// per blockIdx.z.  Problem p's centroids, centroid norms and partial results
// sit at p times their size after the bases in `shape`; its rows and their
// norms anywhere (kept on the device or staged for this call), so they are
// reached through per-problem pointers.
struct BatchArgs {
    TileArgs shape;                 // n, k, d, col_tiles_per_split; problem 0's centroids and partials
    const float* const* x;          // per problem: n * d rows
    const float* const* x_norms;    // per problem: n norms
    size_t part_stride;             // partial entries per problem (>= splits * n)
    int32_t* labels;                // problems * n, problem-major
    float* dist2;                   // problems * n
};

// The single-problem arguments of problem p.
PG_IVF_TILE TileArgs batch_problem(const BatchArgs& b, size_t p) {
    TileArgs a = b.shape;
    a.x = b.x[p];
    a.centroids = b.shape.centroids + p * a.k * a.d;
    a.centroid_norms = b.shape.centroid_norms + p * a.k;
    a.part_value = b.shape.part_value + p * b.part_stride;
    a.part_index = b.shape.part_index + p * b.part_stride;
    return a;
}

// finish_row() for entry `flat` = p * n + row of the batch.
PG_IVF_TILE void finish_batch_row(const BatchArgs& b, size_t splits, size_t flat) {
    const size_t n = b.shape.n;
    const size_t p = flat / n;
    const size_t row = flat - p * n;
    finish_row(b.shape.part_value + p * b.part_stride, b.shape.part_index + p * b.part_stride, n, splits, row,
               b.x_norms[p][row], b.labels + p * n, b.dist2 + p * n);
}

}  // namespace pg_ivf::gpu
