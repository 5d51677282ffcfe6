// How the CUDA module cuts work to fit the device: the launch grid of one
// batch and the batch size that fits the free device memory.  Host-only
// arithmetic in a header so the tests check it without a GPU.
#pragma once
#ifdef POSTGRES_H
#error "cuda/ headers must not be included after postgres.h"
#endif

#include <stddef.h>
#include <stdint.h>

#include "tile_assign.h"

namespace pg_ivf::gpu {

// Blocks per multiprocessor a launch aims for (two resident blocks of 256
// threads per SM, two waves), so a small batch still fills the device.
constexpr size_t kBlocksPerSm = 4;
// Floating-point work of one batch (2 * rows * k * d): about 0.1 s on an A100
// at FP32, the longest a cancel request waits, and far below display watchdogs.
constexpr double kFlopPerBatch = 1.0e12;
// Share of the free device memory a context plans with, and a fixed reserve.
constexpr double kFreeFraction = 0.9;
constexpr size_t kReserveBytes = size_t{64} << 20;
// blockIdx.y limit.
constexpr size_t kMaxSplits = 65535;

// One launch of assign_block over `rows` rows: row tiles times column splits.
struct Grid {
    size_t row_tiles = 0;
    size_t splits = 1;
    size_t col_tiles_per_split = 0;
};

// Splits the column tiles among blockIdx.y until about kBlocksPerSm blocks
// per SM exist, never more splits than column tiles or than `part_slots`
// (the partial-result entries allocated) allow; no split is left empty.
// With problems > 1 (a batch launch, one grid layer per problem) the layers
// share the target and `part_slots` is per problem.
inline Grid plan_grid(size_t rows, size_t k, int multiprocessors, size_t part_slots, size_t problems = 1) {
    Grid g;
    g.row_tiles = (rows + kTileRows - 1) / kTileRows;
    const size_t col_tiles = (k + kTileCols - 1) / kTileCols;
    const size_t sms = multiprocessors > 0 ? static_cast<size_t>(multiprocessors) : 1;
    const size_t target = kBlocksPerSm * sms;
    const size_t layer_tiles = g.row_tiles * (problems > 0 ? problems : 1);
    size_t splits = layer_tiles >= target || layer_tiles == 0 ? 1 : (target + layer_tiles - 1) / layer_tiles;
    if (splits > col_tiles) splits = col_tiles;
    if (rows > 0 && splits > part_slots / rows) splits = part_slots / rows;
    if (splits > kMaxSplits) splits = kMaxSplits;
    if (splits < 1) splits = 1;
    g.col_tiles_per_split = col_tiles == 0 ? 0 : (col_tiles + splits - 1) / splits;
    g.splits = g.col_tiles_per_split == 0 ? 1 : (col_tiles + g.col_tiles_per_split - 1) / g.col_tiles_per_split;
    return g;
}

// Device buffers of an assignment context.
struct MemoryPlan {
    bool pinned = false;        // the pinned rows live on the device
    bool hint_limited = false;  // batch_rows was cut to the caller's row count
    size_t batch_rows = 0;      // most rows per assign call
    size_t part_slots = 0;      // partial-result entries (value + index)
    size_t bytes = 0;           // device bytes the plan allocates
};

// Partial-result entries beyond one per batch row: enough for plan_grid to
// split a small batch across kBlocksPerSm blocks per SM.
inline size_t extra_part_slots(int multiprocessors) {
    const size_t sms = multiprocessors > 0 ? static_cast<size_t>(multiprocessors) : 1;
    return 2 * kBlocksPerSm * sms * kTileRows;
}

// Device bytes a context may plan with: most of what the device reports free
// (the rest is left for the allocator, kernels and other users of the card),
// and no more than `limit` when it is nonzero.
inline size_t usable_bytes(size_t free_bytes, size_t limit) {
    const double usable = static_cast<double>(free_bytes) * kFreeFraction - static_cast<double>(kReserveBytes);
    size_t bytes = usable > 0 ? static_cast<size_t>(usable) : 0;
    if (limit > 0 && bytes > limit) bytes = limit;
    return bytes;
}

// Sizes the buffers for k centroids of dimension d within budget bytes, for
// calls of up to rows_hint rows; with pin_rows > 0, keeps those rows (their
// norms, and room for the update's grouping) resident when they fit beside
// the centroids and one batch,
// else falls back to streaming.  Batches are capped at kFlopPerBatch of work
// and rounded down to whole row tiles.  Returns false when not even the
// centroids and one row fit.
inline bool plan_memory(size_t budget, size_t k, size_t d, size_t rows_hint, size_t pin_rows,
                        int multiprocessors, MemoryPlan* out) {
    MemoryPlan p;
    const double usable = static_cast<double>(budget);
    const double fixed = static_cast<double>(k) * static_cast<double>(d + 1) * sizeof(float) +
                         static_cast<double>(extra_part_slots(multiprocessors)) * 8.0;
    const double row_bytes = static_cast<double>(d + 1) * sizeof(float);      // x row and its norm
    const double out_bytes = 2.0 * sizeof(float) + 8.0;                        // label, dist2, one partial
    double avail = usable - fixed;
    if (avail < row_bytes + out_bytes) return false;

    // Pinned rows also bring the k-means update's row grouping (a row id
    // each, and k + 1 cluster offsets).
    const double pin_bytes = static_cast<double>(pin_rows) * (row_bytes + sizeof(uint64_t)) +
                             static_cast<double>(k + 1) * sizeof(int64_t);
    double rows_mem;
    if (pin_rows > 0 &&
        pin_bytes + out_bytes * static_cast<double>(pin_rows < kTileRows ? pin_rows : kTileRows) <= avail) {
        p.pinned = true;
        avail -= pin_bytes;
        rows_mem = avail / out_bytes;
    } else {
        rows_mem = avail / (row_bytes + out_bytes);
    }
    const double work = 2.0 * static_cast<double>(k) * static_cast<double>(d);
    double rows = rows_mem;
    const double rows_work = kFlopPerBatch / work > kTileRows ? kFlopPerBatch / work : kTileRows;
    if (rows > rows_work) rows = rows_work;
    const size_t wanted = p.pinned ? pin_rows : (rows_hint > 0 ? rows_hint : 1);
    if (rows >= static_cast<double>(wanted)) {
        p.batch_rows = wanted;
        p.hint_limited = !p.pinned;
    } else {
        p.batch_rows = static_cast<size_t>(rows);
        if (p.batch_rows > kTileRows) p.batch_rows -= p.batch_rows % kTileRows;
    }
    if (p.batch_rows == 0) return false;
    p.part_slots = p.batch_rows + extra_part_slots(multiprocessors);
    p.bytes = static_cast<size_t>(static_cast<double>(k) * static_cast<double>(d + 1) * sizeof(float)) +
              (p.pinned ? pin_rows : p.batch_rows) * (d + 1) * sizeof(float) +
              p.batch_rows * 2 * sizeof(float) + p.part_slots * 8 +
              (p.pinned ? pin_rows * sizeof(uint64_t) + (k + 1) * sizeof(int64_t) : 0);
    *out = p;
    return true;
}

// Device buffers for batches of problems of one shape (n rows, k centroids,
// d dims): per problem in a call, its centroids and their norms, labels,
// distances and partial results, plus its rows and their norms either kept
// for every problem of the batch (resident) or staged per call.
struct BatchPlan {
    bool resident = false;      // all problems' rows stay on the device
    size_t group = 0;           // most problems one call may take
    size_t part_stride = 0;     // partial entries per problem
    size_t bytes = 0;           // device bytes the plan allocates
};

// blockIdx.z limit, i.e. problems per launch.
constexpr size_t kMaxBatchLayers = 65535;

// Device bytes of one problem's per-call buffers (rows excluded).
inline double batch_call_bytes(size_t n, size_t k, size_t d, size_t part_stride) {
    return static_cast<double>(k) * static_cast<double>(d + 1) * sizeof(float) +     // centroids, norms
           static_cast<double>(n) * 2.0 * sizeof(float) +                             // labels, dist2
           static_cast<double>(part_stride) * 8.0 +                                   // partials
           2.0 * sizeof(void*);                                                       // row and norm pointers
}

// Plans `count` problems within budget bytes: the rows of all of them stay
// resident when that leaves room for at least half the problems per call
// that staging them would, else they are staged per call.  Calls are capped at kFlopPerBatch of work (at
// least one problem) and kMaxBatchLayers problems.  A problem's partials
// allow the splits plan_grid() would give it alone.  Returns false when not
// one problem fits (the caller then streams each problem by itself).
inline bool plan_batch_memory(size_t budget, size_t count, size_t n, size_t k, size_t d, int multiprocessors,
                              BatchPlan* out) {
    if (count == 0 || n == 0 || k == 0 || d == 0) return false;
    BatchPlan p;
    const Grid alone = plan_grid(n, k, multiprocessors, static_cast<size_t>(-1) / 2);
    p.part_stride = alone.splits * n;
    const double rows_bytes = static_cast<double>(n) * static_cast<double>(d + 1) * sizeof(float);
    const double call_bytes = batch_call_bytes(n, k, d, p.part_stride);
    const double usable = static_cast<double>(budget);
    const double work = 2.0 * static_cast<double>(n) * static_cast<double>(k) * static_cast<double>(d);
    double cap = kFlopPerBatch / work;
    if (cap < 1.0) cap = 1.0;
    if (cap > static_cast<double>(kMaxBatchLayers)) cap = static_cast<double>(kMaxBatchLayers);
    if (cap > static_cast<double>(count)) cap = static_cast<double>(count);

    // Residency saves re-sending every problem's rows each iteration; it is
    // taken unless it would cost more than half of the problems per call.
    const double resident_bytes = rows_bytes * static_cast<double>(count);
    const double fit_streamed = usable / (rows_bytes + call_bytes);
    const double fit_resident = usable > resident_bytes ? (usable - resident_bytes) / call_bytes : 0.0;
    const double group_streamed = fit_streamed < cap ? fit_streamed : cap;
    const double group_resident = fit_resident < cap ? fit_resident : cap;
    p.resident = group_resident >= 1.0 && group_resident >= group_streamed / 2.0;
    const double fit = p.resident ? fit_resident : fit_streamed;
    if (fit < 1.0) return false;
    p.group = static_cast<size_t>(fit < cap ? fit : cap);
    const size_t row_slots = p.resident ? count : p.group;
    p.bytes = static_cast<size_t>(static_cast<double>(row_slots) * rows_bytes +
                                  static_cast<double>(p.group) * call_bytes);
    *out = p;
    return true;
}

}  // namespace pg_ivf::gpu
