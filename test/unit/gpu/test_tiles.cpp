// The CUDA kernel code of cuda/tile_assign.h run through the simulated
// thread block, against CpuAssigner: bit-identical where the CPU uses its FMA
// kernel and d % 16 == 0 (the GPU code reproduces its arithmetic), equal up
// to ties otherwise.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "helpers.h"
#include "simulator.h"

namespace pg_ivf::gpu::test {
namespace {

struct Shape {
    size_t n;
    size_t k;
    size_t d;
    int multiprocessors;
};

// Shapes around every edge of the tiling: partial row, column and depth
// tiles, one split and many, tiny and odd dimensions.
const Shape kShapes[] = {
    {1, 1, 1, 1},        {5, 3, 2, 108},      {128, 128, 16, 1},    {129, 129, 16, 108}, {129, 129, 17, 108},
    {300, 200, 19, 108}, {300, 200, 32, 108}, {257, 700, 33, 2},    {257, 700, 48, 2},   {64, 1000, 96, 108},
    {64, 1000, 100, 108}, {1000, 16, 7, 108}, {200, 300, 64, 1},    {37, 513, 5, 80},    {37, 513, 160, 80},
};

// One shape through the simulator and through CpuAssigner.
void compare_with_cpu(const Shape& s, uint64_t seed, bool exact) {
    const std::vector<float> x = random_matrix(s.n, s.d, seed);
    const std::vector<float> c = random_matrix(s.k, s.d, seed + 100);
    std::vector<int32_t> gl(s.n, -1), cl(s.n, -1);
    std::vector<float> gd(s.n, -1.0f), cd(s.n, -1.0f);
    simulate_assign(x.data(), s.n, c.data(), s.k, s.d, s.multiprocessors, gl.data(), gd.data(), seed);
    core::CpuAssigner cpu(1);
    cpu.assign(x.data(), s.n, c.data(), s.k, s.d, cl.data(), cd.data(), core::Hooks{});
    const size_t identical = expect_same_up_to_ties(x.data(), s.n, c.data(), s.d, gl, gd, cl, cd);
    if (exact) {
        EXPECT_EQ(identical, s.n);
        EXPECT_EQ(gl, cl);
    }
}

TEST(GpuTiles, MatchesCpuAssignerOnEveryTileEdge) {
    uint64_t seed = 1;
    for (const Shape& s : kShapes) {
        SCOPED_TRACE(testing::Message() << "n=" << s.n << " k=" << s.k << " d=" << s.d << " sms=" << s.multiprocessors);
        compare_with_cpu(s, seed++, bit_exact_expected(s.d));
    }
}

TEST(GpuTiles, PortableCpuKernelAgreesUpToTies) {
    core::cpu_assign_force_portable(true);
    compare_with_cpu({300, 200, 19, 108}, 7, false);
    compare_with_cpu({129, 700, 96, 2}, 8, false);
    core::cpu_assign_force_portable(false);
}

// Duplicate centroids in different column tiles and different splits: the
// lowest index must win, as on the CPU.
TEST(GpuTiles, TiesGoToTheLowestIndexAcrossTilesAndSplits) {
    const size_t k = 640;
    const size_t d = 24;
    std::vector<float> c = random_matrix(k, d, 11);
    const size_t copies[] = {17, 140, 300, 639};
    for (size_t j : copies) std::memcpy(&c[j * d], &c[5 * d], d * sizeof(float));
    const size_t n = 200;
    std::vector<float> x(n * d);
    for (size_t i = 0; i < n; ++i)
        for (size_t t = 0; t < d; ++t) x[i * d + t] = c[5 * d + t] + (i % 2 == 0 ? 0.0f : 1e-3f * static_cast<float>(t % 3));
    for (int sms : {1, 108}) {
        std::vector<int32_t> labels(n, -1);
        std::vector<float> dist2(n);
        simulate_assign(x.data(), n, c.data(), k, d, sms, labels.data(), dist2.data());
        for (size_t i = 0; i < n; ++i) EXPECT_EQ(labels[i], 5) << "row " << i << " sms " << sms;
    }
}

// squared_norm follows CpuAssigner's summation order: against a zero
// centroid the CPU's distance is its norm of the row, bit for bit when
// bit_exact_expected(d), within a few ulps otherwise.
TEST(GpuTiles, SquaredNormIsTheCpuNorm) {
    for (size_t d = 1; d <= 200; ++d) {
        const std::vector<float> x = random_matrix(3, d, d);
        const std::vector<float> zero(d, 0.0f);
        std::vector<int32_t> labels(3);
        std::vector<float> dist2(3);
        core::CpuAssigner cpu(1);
        cpu.assign(x.data(), 3, zero.data(), 1, d, labels.data(), dist2.data(), core::Hooks{});
        for (size_t i = 0; i < 3; ++i) {
            if (bit_exact_expected(d))
                EXPECT_EQ(squared_norm(&x[i * d], d), dist2[i]) << "d=" << d;
            else
                EXPECT_NEAR(squared_norm(&x[i * d], d), dist2[i], 1e-6 * dist2[i]) << "d=" << d;
        }
    }
}

// A row whose every candidate value is NaN gets label 0 and +inf, as on the CPU.
TEST(GpuTiles, FinishRowWithoutCandidates) {
    const float part_value[2] = {INFINITY, NAN};
    const int32_t part_index[2] = {kNoIndex, kNoIndex};
    int32_t label = -1;
    float dist2 = 0.0f;
    finish_row(part_value, part_index, 1, 2, 0, 4.0f, &label, &dist2);
    EXPECT_EQ(label, 0);
    EXPECT_TRUE(std::isinf(dist2));
}

// The simulator itself: the same schedule with the barrier between staging a
// tile and multiplying it removed must give wrong results, or the simulator
// could not catch a missing __syncthreads() in assign_block.
template <class Block>
void assign_block_without_first_barrier(const TileArgs& a, TileShared& s, Block& block, size_t row0, size_t split) {
    const size_t col_tiles = (a.k + kTileCols - 1) / kTileCols;
    const size_t ct0 = split * a.col_tiles_per_split;
    const size_t ct1 = std::min(col_tiles, ct0 + a.col_tiles_per_split);
    block.each([](int, TileThread& t) { tile_reset(t); });
    for (size_t ct = ct0; ct < ct1; ++ct) {
        const size_t col0 = ct * kTileCols;
        block.each([](int, TileThread& t) { tile_clear(t); });
        for (size_t k0 = 0; k0 < a.d; k0 += kTileDepth) {
            block.each([&a, &s, row0, col0, k0](int tid, TileThread&) { tile_load(a, s, tid, row0, col0, k0); });
            block.each([&s](int tid, TileThread& t) { tile_multiply(s, tid, t); });
            block.sync();
        }
        block.each([&a, col0](int tid, TileThread& t) { tile_epilogue(a, tid, col0, t); });
    }
    block.each([&s](int tid, TileThread& t) { tile_stash(s, tid, t); });
    block.sync();
    block.each([&a, &s, row0, split](int tid, TileThread&) { tile_reduce(a, s, tid, row0, split); });
}

TEST(GpuTiles, SimulatorCatchesAMissingBarrier) {
    const size_t n = 128, k = 128, d = 48;
    const std::vector<float> x = random_matrix(n, d, 3);
    const std::vector<float> c = random_matrix(k, d, 4);
    std::vector<float> c_norms(k);
    for (size_t j = 0; j < k; ++j) c_norms[j] = squared_norm(&c[j * d], d);
    std::vector<float> good_v(n), bad_v(n);
    std::vector<int32_t> good_i(n), bad_i(n);
    TileArgs a{x.data(), c.data(), c_norms.data(), n, k, d, 1, good_v.data(), good_i.data()};
    auto shared = std::make_unique<TileShared>();
    HostBlock good(5);
    assign_block(a, *shared, good, 0, 0);
    good.flush();
    a.part_value = bad_v.data();
    a.part_index = bad_i.data();
    HostBlock bad(5);
    assign_block_without_first_barrier(a, *shared, bad, 0, 0);
    bad.flush();
    size_t differ = 0;
    for (size_t i = 0; i < n; ++i) differ += good_i[i] != bad_i[i] || good_v[i] != bad_v[i];
    EXPECT_GT(differ, n / 2);
}

// A batch launch (one grid layer per problem, shared split budget) gives
// every problem what its own launch gives, and what the CPU gives.
TEST(GpuTiles, BatchLaunchEqualsOneLaunchPerProblem) {
    struct BatchShape {
        size_t count, n, k, d;
        int multiprocessors;
    };
    const BatchShape shapes[] = {{1, 300, 256, 8, 108}, {3, 129, 129, 17, 108}, {7, 200, 256, 16, 108},
                                 {5, 64, 300, 33, 2},   {2, 1, 5, 3, 1},         {9, 257, 256, 7, 80}};
    uint64_t seed = 500;
    for (const BatchShape& b : shapes) {
        SCOPED_TRACE(testing::Message() << "count=" << b.count << " n=" << b.n << " k=" << b.k << " d=" << b.d);
        std::vector<std::vector<float>> xs, cs;
        std::vector<std::vector<int32_t>> labels(b.count, std::vector<int32_t>(b.n, -1));
        std::vector<std::vector<float>> dist2(b.count, std::vector<float>(b.n, -1.0f));
        std::vector<const float*> xp, cp;
        std::vector<int32_t*> lp;
        std::vector<float*> dp;
        for (size_t p = 0; p < b.count; ++p) {
            xs.push_back(random_matrix(b.n, b.d, seed++));
            cs.push_back(random_matrix(b.k, b.d, seed++));
        }
        for (size_t p = 0; p < b.count; ++p) {
            xp.push_back(xs[p].data());
            cp.push_back(cs[p].data());
            lp.push_back(labels[p].data());
            dp.push_back(dist2[p].data());
        }
        simulate_assign_batch(b.count, xp.data(), b.n, cp.data(), b.k, b.d, b.multiprocessors, lp.data(), dp.data(),
                              seed);
        for (size_t p = 0; p < b.count; ++p) {
            std::vector<int32_t> one_l(b.n), cpu_l(b.n);
            std::vector<float> one_d(b.n), cpu_d(b.n);
            simulate_assign(xp[p], b.n, cp[p], b.k, b.d, b.multiprocessors, one_l.data(), one_d.data(), seed + p);
            EXPECT_EQ(labels[p], one_l) << "problem " << p;
            EXPECT_EQ(0, std::memcmp(dist2[p].data(), one_d.data(), b.n * sizeof(float))) << "problem " << p;
            core::CpuAssigner cpu(1);
            cpu.assign(xp[p], b.n, cp[p], b.k, b.d, cpu_l.data(), cpu_d.data(), core::Hooks{});
            const size_t identical =
                expect_same_up_to_ties(xp[p], b.n, cp[p], b.d, labels[p], dist2[p], cpu_l, cpu_d);
            if (bit_exact_expected(b.d)) {
                EXPECT_EQ(identical, b.n) << "problem " << p;
            }
        }
    }
}

}  // namespace
}  // namespace pg_ivf::gpu::test
