// The CUDA module's sizing arithmetic (cuda/plan.h): launch grids and
// batches that fit the device's free memory.
#include <gtest/gtest.h>

#include <algorithm>

#include "cuda/plan.h"

namespace pg_ivf::gpu {
namespace {

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kGiB = size_t{1} << 30;

TEST(GpuPlan, GridSplitsColumnsOnlyForSmallBatches) {
    const size_t slots = 1000000;
    Grid big = plan_grid(1000000, 4096, 108, slots + 1000000);
    EXPECT_EQ(big.row_tiles, 7813u);
    EXPECT_EQ(big.splits, 1u);
    EXPECT_EQ(big.col_tiles_per_split, 32u);

    Grid small = plan_grid(100, 4096, 108, slots);
    EXPECT_EQ(small.row_tiles, 1u);
    EXPECT_EQ(small.splits, 32u);  // all 32 column tiles, one each
    EXPECT_EQ(small.col_tiles_per_split, 1u);

    Grid one = plan_grid(5, 3, 108, slots);
    EXPECT_EQ(one.splits, 1u);
    EXPECT_EQ(one.col_tiles_per_split, 1u);
}

// Over many shapes: every column tile in exactly one non-empty split, and the
// partial results fit their allocation.
TEST(GpuPlan, GridCoversEveryColumnTileOnce) {
    for (size_t rows : {1, 127, 128, 129, 1000, 4096, 100000})
        for (size_t k : {1, 128, 129, 1000, 4096, 65536})
            for (int sms : {1, 2, 80, 108, 132})
                for (size_t slots : {rows, rows * 3, rows + extra_part_slots(sms)}) {
                    const Grid g = plan_grid(rows, k, sms, slots);
                    const size_t col_tiles = (k + kTileCols - 1) / kTileCols;
                    ASSERT_GE(g.splits, 1u);
                    ASSERT_GE(g.splits * g.col_tiles_per_split, col_tiles);
                    ASSERT_LT((g.splits - 1) * g.col_tiles_per_split, col_tiles);  // last split not empty
                    ASSERT_LE(g.splits * rows, std::max(slots, rows));
                    ASSERT_EQ(g.row_tiles, (rows + kTileRows - 1) / kTileRows);
                }
}

TEST(GpuPlan, UsableBytesKeepsAReserveAndHonoursTheLimit) {
    EXPECT_EQ(usable_bytes(10 * kMiB, 0), 0u);  // less than the reserve
    EXPECT_EQ(usable_bytes(10 * kGiB, 0), static_cast<size_t>(10.0 * kGiB * kFreeFraction) - kReserveBytes);
    EXPECT_EQ(usable_bytes(10 * kGiB, 5 * kMiB), 5 * kMiB);
}

// The paper case of the README: 1M x 768 sample, 4,096 lists, on a card with
// 70 GiB free (an 80 GB A100): the sample stays resident and batches are
// capped by work, not memory.
TEST(GpuPlan, MillionRowSampleStaysResidentOnA100) {
    MemoryPlan p;
    ASSERT_TRUE(plan_memory(usable_bytes(70 * kGiB, 0), 4096, 768, 1000000, 1000000, 108, &p));
    EXPECT_TRUE(p.pinned);
    EXPECT_LE(2.0 * p.batch_rows * 4096 * 768, kFlopPerBatch);
    EXPECT_EQ(p.batch_rows % kTileRows, 0u);
    EXPECT_GT(p.batch_rows, 100000u);
    EXPECT_LE(p.bytes, usable_bytes(70 * kGiB, 0));
}

// Too little memory for the resident sample: streaming in whole row tiles.
TEST(GpuPlan, FallsBackToStreamingWhenRowsDoNotFit) {
    MemoryPlan p;
    const size_t budget = 512 * kMiB;
    ASSERT_TRUE(plan_memory(budget, 4096, 768, 1000000, 1000000, 108, &p));
    EXPECT_FALSE(p.pinned);
    EXPECT_EQ(p.batch_rows % kTileRows, 0u);
    EXPECT_GT(p.batch_rows, 0u);
    EXPECT_LE(p.bytes, budget);
}

TEST(GpuPlan, SmallCallsAreSizedToTheirRows) {
    MemoryPlan p;
    ASSERT_TRUE(plan_memory(8 * kGiB, 4096, 768, 4096, 0, 108, &p));
    EXPECT_FALSE(p.pinned);
    EXPECT_TRUE(p.hint_limited);
    EXPECT_EQ(p.batch_rows, 4096u);
    EXPECT_EQ(p.part_slots, 4096u + extra_part_slots(108));
}

TEST(GpuPlan, RefusesWhenTheCentroidsDoNotFit) {
    MemoryPlan p;
    EXPECT_FALSE(plan_memory(4 * kMiB, 4096, 768, 100, 0, 108, &p));  // 12.6 MB of centroids
    EXPECT_FALSE(plan_memory(0, 1, 1, 1, 0, 1, &p));
}

// Whatever the inputs, a plan never exceeds its budget.
TEST(GpuPlan, NeverExceedsTheBudget) {
    for (size_t budget : {1 * kMiB, 3 * kMiB, 64 * kMiB, 1 * kGiB, 40 * kGiB})
        for (size_t k : {1, 256, 4096, 65536})
            for (size_t d : {1, 8, 96, 768, 4096})
                for (size_t pin : {0, 1000, 1000000}) {
                    MemoryPlan p;
                    if (!plan_memory(budget, k, d, 50000, pin, 108, &p)) continue;
                    ASSERT_LE(p.bytes, budget) << "k=" << k << " d=" << d << " pin=" << pin;
                    ASSERT_GT(p.batch_rows, 0u);
                    ASSERT_GE(p.part_slots, p.batch_rows);
                }
}

// ---- batches of small problems (PQ sub-quantizers) ----------------------

// 96 sub-quantizers of a 768-dim PQ index: all rows resident, all in one launch.
TEST(GpuPlan, PqSubQuantizersFitOneLaunch) {
    BatchPlan p;
    ASSERT_TRUE(plan_batch_memory(usable_bytes(40 * kGiB, 0), 96, 16384, 256, 8, 108, &p));
    EXPECT_TRUE(p.resident);
    EXPECT_EQ(p.group, 96u);
    EXPECT_GE(p.part_stride, 16384u);
    EXPECT_EQ(p.part_stride % 16384, 0u);
    EXPECT_LE(p.bytes, usable_bytes(40 * kGiB, 0));
}

// One layer per problem: the split budget is shared, so big batches do not split.
TEST(GpuPlan, BatchGridSharesTheSplitTarget) {
    const Grid alone = plan_grid(16384, 256, 108, 16384 * 8, 1);
    const Grid many = plan_grid(16384, 256, 108, 16384 * 8, 96);
    EXPECT_GT(alone.splits, 1u);
    EXPECT_EQ(many.splits, 1u);
    EXPECT_EQ(many.row_tiles, alone.row_tiles);
    // Never more splits than a problem's partial slots allow.
    EXPECT_EQ(plan_grid(100, 1000, 108, 100, 1).splits, 1u);
}

TEST(GpuPlan, BatchCallsAreCappedByWork) {
    BatchPlan p;
    // 2 * 16384 * 256 * 2000 = 16.8 GFLOP per problem: at most 59 per call.
    ASSERT_TRUE(plan_batch_memory(usable_bytes(80 * kGiB, 0), 200, 16384, 256, 2000, 108, &p));
    EXPECT_EQ(p.group, static_cast<size_t>(kFlopPerBatch / (2.0 * 16384 * 256 * 2000)));
    // A problem bigger than the cap still goes, alone.
    ASSERT_TRUE(plan_batch_memory(usable_bytes(80 * kGiB, 0), 4, 1000000, 4096, 768, 108, &p));
    EXPECT_EQ(p.group, 1u);
}

// Residency is dropped when it would cost more than half the group.
TEST(GpuPlan, BatchStagesRowsWhenKeepingThemCrowdsTheLaunch) {
    const size_t n = 16384, k = 256, d = 8, count = 100;
    const double rows = n * (d + 1) * 4.0;
    BatchPlan plan;
    ASSERT_TRUE(plan_batch_memory(size_t{1} << 40, 1, n, k, d, 108, &plan));
    const double call = batch_call_bytes(n, k, d, plan.part_stride);
    // Room for all rows plus 10 problems' buffers: staging would allow ~45.
    BatchPlan p;
    ASSERT_TRUE(plan_batch_memory(static_cast<size_t>(count * rows + 10.5 * call), count, n, k, d, 108, &p));
    EXPECT_FALSE(p.resident);
    EXPECT_GT(p.group, 20u);
    // Room for all rows plus 60 problems' buffers: keep them.
    ASSERT_TRUE(plan_batch_memory(static_cast<size_t>(count * rows + 60.5 * call), count, n, k, d, 108, &p));
    EXPECT_TRUE(p.resident);
    EXPECT_EQ(p.group, 60u);
}

TEST(GpuPlan, BatchRefusesWhenNotOneProblemFits) {
    BatchPlan p;
    EXPECT_FALSE(plan_batch_memory(1 * kMiB, 10, 100000, 256, 8, 108, &p));  // 3.6 MB of rows each
    EXPECT_FALSE(plan_batch_memory(1 * kGiB, 0, 100, 256, 8, 108, &p));
    EXPECT_FALSE(plan_batch_memory(1 * kGiB, 10, 0, 256, 8, 108, &p));
}

TEST(GpuPlan, BatchNeverExceedsTheBudget) {
    for (size_t budget : {1 * kMiB, 3 * kMiB, 64 * kMiB, 1 * kGiB, 40 * kGiB})
        for (size_t count : {1, 7, 96, 2000, 100000})
            for (size_t n : {1, 300, 16384})
                for (size_t d : {1, 8, 96}) {
                    BatchPlan p;
                    if (!plan_batch_memory(budget, count, n, 256, d, 108, &p)) continue;
                    ASSERT_LE(p.bytes, budget) << "count=" << count << " n=" << n << " d=" << d;
                    ASSERT_GE(p.group, 1u);
                    ASSERT_LE(p.group, std::min(count, kMaxBatchLayers));
                    ASSERT_GE(p.part_stride, n);
                }
}

}  // namespace
}  // namespace pg_ivf::gpu
