// CpuAssigner against the double-precision ReferenceAssigner, hook behaviour
// of the assignment step, and the OpenMP exception-capturing helper.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/hooks.h"
#include "core/kmeans.h"
#include "core/kmeans_math.h"
#include "core/parallel.h"

namespace pg_ivf::core {
namespace {

std::vector<float> random_matrix(size_t rows, size_t d, uint64_t seed, float scale = 1.0f) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, scale);
    std::vector<float> m(rows * d);
    for (float& v : m) v = normal(rng);
    return m;
}

double exact_distance(const float* a, const float* b, size_t d) {
    double s = 0.0;
    for (size_t j = 0; j < d; ++j) {
        const double diff = static_cast<double>(a[j]) - b[j];
        s += diff * diff;
    }
    return s;
}

double squared_norm(const float* a, size_t d) {
    double s = 0.0;
    for (size_t j = 0; j < d; ++j) s += static_cast<double>(a[j]) * a[j];
    return s;
}

struct Case {
    size_t n, k, d;
};

// Runs both assigners; a differing label is accepted only as a near tie (the
// CPU's pick is within 1e-4 relative of the exact best), and every CPU
// distance must match the exact distance of its own label.
void expect_matches_reference(const Case& c, int threads, uint64_t seed) {
    SCOPED_TRACE("n=" + std::to_string(c.n) + " k=" + std::to_string(c.k) + " d=" + std::to_string(c.d) +
                 " threads=" + std::to_string(threads));
    const std::vector<float> x = random_matrix(c.n, c.d, seed);
    const std::vector<float> centroids = random_matrix(c.k, c.d, seed + 1);
    std::vector<int32_t> ref_labels(c.n), cpu_labels(c.n);
    std::vector<float> ref_dist(c.n), cpu_dist(c.n);
    ReferenceAssigner ref;
    CpuAssigner cpu(threads);
    const Hooks hooks;
    ref.assign(x.data(), c.n, centroids.data(), c.k, c.d, ref_labels.data(), ref_dist.data(), hooks);
    cpu.assign(x.data(), c.n, centroids.data(), c.k, c.d, cpu_labels.data(), cpu_dist.data(), hooks);
    size_t mismatches = 0;
    for (size_t i = 0; i < c.n; ++i) {
        ASSERT_GE(cpu_labels[i], 0);
        ASSERT_LT(static_cast<size_t>(cpu_labels[i]), c.k);
        const float* xi = x.data() + i * c.d;
        const float* chosen = centroids.data() + static_cast<size_t>(cpu_labels[i]) * c.d;
        const double chosen_exact = exact_distance(xi, chosen, c.d);
        if (cpu_labels[i] != ref_labels[i]) {
            ++mismatches;
            EXPECT_LE(chosen_exact - ref_dist[i], 1e-4 * ref_dist[i] + 1e-9) << "row " << i;
        }
        // The expanded form loses precision relative to the norms, not the distance.
        const double tol = 1e-5 * (squared_norm(xi, c.d) + squared_norm(chosen, c.d)) + 1e-6;
        EXPECT_NEAR(cpu_dist[i], chosen_exact, tol) << "row " << i;
        EXPECT_GE(cpu_dist[i], 0.0f);
    }
    EXPECT_LE(mismatches, c.n / 100 + 1);
}

class AssignKernels : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override { cpu_assign_force_portable(GetParam()); }
    void TearDown() override { cpu_assign_force_portable(false); }
};

TEST_P(AssignKernels, MatchesReferenceOnOddShapes) {
    const Case cases[] = {
        {1000, 37, 13},   // nothing a multiple of a block
        {241, 17, 784},   // one row past a row block
        {480, 16, 16},    // exact multiples
        {1, 5, 3},        // n = 1
        {500, 1, 7},      // k = 1
        {300, 40, 1},     // d = 1
        {700, 300, 33},   // several centroid panels
    };
    uint64_t seed = 100;
    for (const Case& c : cases)
        for (int threads : {1, 2}) expect_matches_reference(c, threads, seed++);
}

TEST_P(AssignKernels, ExactTiesGoToLowestIndex) {
    // Centroid j equals centroid j % period and rows sit exactly on centroids,
    // so every row has exact ties (identical centroids give bit-identical
    // sums).  Period 8 puts the duplicates in the same vector lane, 10 and 3
    // in different lanes and panels.
    const size_t d = 21, k = 40, n = 200;
    for (size_t period : {8, 10, 3}) {
        const std::vector<float> base = random_matrix(period, d, 7);
        std::vector<float> centroids(k * d);
        for (size_t j = 0; j < k; ++j)
            for (size_t t = 0; t < d; ++t) centroids[j * d + t] = base[(j % period) * d + t];
        std::vector<float> x(n * d);
        for (size_t i = 0; i < n; ++i)
            for (size_t t = 0; t < d; ++t) x[i * d + t] = centroids[((i * 7) % k) * d + t];
        for (int threads : {1, 2}) {
            std::vector<int32_t> labels(n);
            std::vector<float> dist(n);
            CpuAssigner(threads).assign(x.data(), n, centroids.data(), k, d, labels.data(), dist.data(),
                                        Hooks{});
            for (size_t i = 0; i < n; ++i)
                EXPECT_EQ(labels[i], static_cast<int32_t>(((i * 7) % k) % period)) << "period " << period;
        }
    }
}

TEST_P(AssignKernels, SameLabelsForAnyThreadCount) {
    const size_t n = 2000, k = 70, d = 24;
    const std::vector<float> x = random_matrix(n, d, 11);
    const std::vector<float> centroids = random_matrix(k, d, 12);
    std::vector<int32_t> l1(n), l2(n);
    std::vector<float> d1(n), d2(n);
    CpuAssigner(1).assign(x.data(), n, centroids.data(), k, d, l1.data(), d1.data(), Hooks{});
    CpuAssigner(2).assign(x.data(), n, centroids.data(), k, d, l2.data(), d2.data(), Hooks{});
    EXPECT_EQ(l1, l2);
    EXPECT_EQ(d1, d2);
}

INSTANTIATE_TEST_SUITE_P(BestAndPortable, AssignKernels, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                             return info.param ? std::string("Portable") : std::string("Best");
                         });

// The AVX-512 tile (12 rows x 2 panels) against the AVX2 one: the same
// labels and the same distance bits, for shapes with odd panel counts, short
// row tiles, exact ties across both halves of a wide tile, and PQ's d.
TEST(CpuAssigner, WideTileEqualsAvx2Bits) {
#if defined(__x86_64__) || defined(__i386__)
    if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "no AVX-512 on this CPU";
#else
    GTEST_SKIP() << "x86 only";
#endif
    const Case cases[] = {{1000, 37, 13}, {241, 17, 784}, {480, 16, 16}, {1, 5, 3}, {500, 1, 7},
                          {300, 40, 1},   {700, 300, 33}, {523, 256, 14}, {250, 245, 128}, {97, 48, 9}};
    uint64_t seed = 900;
    for (const Case& c : cases) {
        SCOPED_TRACE("n=" + std::to_string(c.n) + " k=" + std::to_string(c.k) + " d=" + std::to_string(c.d));
        std::vector<float> x = random_matrix(c.n, c.d, seed++);
        std::vector<float> centroids = random_matrix(c.k, c.d, seed++);
        // rows on centroids, and duplicated centroids 16 and 32 columns apart: exact ties
        for (size_t j = 16; j < c.k; j += 16)
            if (j % 48 != 0) std::copy(centroids.begin() + (j - 16) * c.d, centroids.begin() + (j - 15) * c.d,
                                       centroids.begin() + j * c.d);
        for (size_t i = 0; i < c.n; i += 3)
            std::copy(centroids.begin() + ((i * 5) % c.k) * c.d, centroids.begin() + ((i * 5) % c.k + 1) * c.d,
                      x.begin() + i * c.d);
        // a NaN centroid beside the one 16 columns on (the wide tile merges those two first), a NaN row
        if (c.k > 20) centroids[3 * c.d] = std::nanf("");
        if (c.n > 10) x[7 * c.d] = std::nanf("");
        for (int threads : {1, 2}) {
            std::vector<int32_t> wide(c.n), narrow(c.n);
            std::vector<float> dw(c.n), dn(c.n);
            CpuAssigner(threads).assign(x.data(), c.n, centroids.data(), c.k, c.d, wide.data(), dw.data(), Hooks{});
            cpu_assign_cap_avx2(true);
            CpuAssigner(threads).assign(x.data(), c.n, centroids.data(), c.k, c.d, narrow.data(), dn.data(),
                                        Hooks{});
            cpu_assign_cap_avx2(false);
            EXPECT_EQ(wide, narrow);
            for (size_t i = 0; i < c.n; ++i)
                EXPECT_EQ(std::memcmp(&dw[i], &dn[i], sizeof(float)), 0) << "row " << i;
        }
    }
}

TEST(CpuAssigner, EdgeShapes) {
    CpuAssigner cpu(2);
    std::vector<int32_t> labels(4, -1);
    std::vector<float> dist(4, -1.0f);
    const float x[4] = {1, 2, 3, 4};
    cpu.assign(x, 0, x, 1, 1, labels.data(), dist.data(), Hooks{});  // n = 0: nothing written
    EXPECT_EQ(labels[0], -1);
    EXPECT_THROW(cpu.assign(x, 4, x, 0, 1, labels.data(), dist.data(), Hooks{}), std::invalid_argument);
    cpu.assign(x, 4, x, 2, 0, labels.data(), dist.data(), Hooks{});  // d = 0: all at distance 0
    for (size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(labels[i], 0);
        EXPECT_EQ(dist[i], 0.0f);
    }
}

TEST(CpuAssigner, CancelsBetweenBlocks) {
    // Cheap rows (k * d small) make regions as large as allowed (64 blocks
    // per thread), so this needs many rows for several polls.
    const size_t n = 100000, k = 8, d = 4;
    const std::vector<float> x = random_matrix(n, d, 3);
    std::vector<int32_t> labels(n);
    std::vector<float> dist(n);
    int polls = 0;
    Hooks hooks;
    hooks.should_cancel = [&] { return ++polls > 2; };
    EXPECT_THROW(CpuAssigner(2).assign(x.data(), n, x.data(), k, d, labels.data(), dist.data(), hooks),
                 Cancelled);
    EXPECT_EQ(polls, 3);
    EXPECT_THROW(ReferenceAssigner().assign(x.data(), n, x.data(), k, d, labels.data(), dist.data(), hooks),
                 Cancelled);
}

TEST(CpuAssigner, HooksRunOnCallingThreadOnly) {
    const size_t n = 100000, k = 20, d = 8;
    const std::vector<float> x = random_matrix(n, d, 5);
    std::vector<int32_t> labels(n);
    std::vector<float> dist(n);
    const std::thread::id me = std::this_thread::get_id();
    std::atomic<int> foreign{0};
    size_t last_done = 0, calls = 0;
    Hooks hooks;
    hooks.should_cancel = [&] {
        if (std::this_thread::get_id() != me) ++foreign;
        return false;
    };
    hooks.progress = [&](size_t done, size_t total) {
        if (std::this_thread::get_id() != me) ++foreign;
        EXPECT_EQ(total, n);
        EXPECT_GE(done, last_done);
        last_done = done;
        ++calls;
    };
    CpuAssigner(2).assign(x.data(), n, x.data(), k, d, labels.data(), dist.data(), hooks);
    EXPECT_EQ(foreign.load(), 0);
    EXPECT_GT(calls, 1u);
    EXPECT_EQ(last_done, n);
}

struct WorkerError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

TEST(ParallelFor, ExceptionInWorkerReachesCaller) {
    const std::thread::id caller = std::this_thread::get_id();
    std::atomic<bool> thrown_by_worker{false};
    std::atomic<int> team_seen{0};
    try {
        parallel_for(64, 2, [&](size_t, int thread) {
            team_seen.fetch_or(1 << thread);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));  // let both threads take work
            if (thread == 1) {
                thrown_by_worker = std::this_thread::get_id() != caller;
                throw WorkerError("boom from worker");
            }
        });
        ADD_FAILURE() << "no exception reached the caller";
    } catch (const WorkerError& e) {
        EXPECT_STREQ(e.what(), "boom from worker");
    }
    if (team_seen.load() != 3) GTEST_SKIP() << "OpenMP ran fewer than 2 threads here";
    EXPECT_TRUE(thrown_by_worker.load());
}

TEST(ParallelFor, FirstExceptionWinsAndCancelledKeepsItsType) {
    std::atomic<int> done{0};
    EXPECT_THROW(parallel_for(100, 2,
                              [&](size_t i, int) {
                                  ++done;
                                  if (i % 10 == 3) throw Cancelled();
                              }),
                 Cancelled);
    EXPECT_LT(done.load(), 100);  // later iterations were skipped
    EXPECT_THROW(parallel_for(5, 1, [](size_t i, int) { if (i == 2) throw WorkerError("serial"); }),
                 WorkerError);
}

TEST(ParallelFor, RunsEveryIterationOnce) {
    std::vector<std::atomic<int>> hits(1000);
    parallel_for(hits.size(), 2, [&](size_t i, int thread) {
        EXPECT_GE(thread, 0);
        EXPECT_LT(thread, 2);
        ++hits[i];
    });
    for (const auto& h : hits) EXPECT_EQ(h.load(), 1);
}

}  // namespace
}  // namespace pg_ivf::core
