// The CUDA module's sizing arithmetic (cuda/plan.h): launch grids and
// batches that fit the device's free memory.
#include <gtest/gtest.h>

#include "../../../cuda/plan.h"

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

}  // namespace
}  // namespace pg_ivf::gpu
