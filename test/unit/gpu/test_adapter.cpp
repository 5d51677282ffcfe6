// GpuAssigner (cuda/gpu_backend.cpp) against the CPU stand-in of the module:
// batching, pinned rows, cancellation between batches, progress, errors, and
// train_kmeans through it.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "../../../cuda/gpu_backend.h"
#include "helpers.h"
#include "simulator.h"

namespace pg_ivf::gpu::test {
namespace {

// Device memory for a few hundred rows of 32 dimensions per batch.
constexpr uint64_t kSmallLimit = 1u << 20;

TEST(GpuAdapter, StreamsBatchesAndMatchesCpu) {
    FakeModule fake;
    const size_t n = 3000, k = 300, d = 32;
    const std::vector<float> x = random_matrix(n, d, 21);
    const std::vector<float> c = random_matrix(k, d, 22);
    std::vector<int32_t> gl(n), cl(n);
    std::vector<float> gd(n), cd(n);
    {
        GpuAssigner g(fake.api(), 0, nullptr, 0, kSmallLimit);
        g.assign(x.data(), n, c.data(), k, d, gl.data(), gd.data(), core::Hooks{});
        EXPECT_FALSE(g.last_call_pinned());
    }
    EXPECT_EQ(fake.creates, 1);
    EXPECT_EQ(fake.destroys, 1);
    ASSERT_GT(fake.last_batch_rows, 0u);
    EXPECT_LT(fake.last_batch_rows, n);
    EXPECT_EQ(static_cast<size_t>(fake.assign_calls), (n + fake.last_batch_rows - 1) / fake.last_batch_rows);
    core::CpuAssigner cpu(2);
    cpu.assign(x.data(), n, c.data(), k, d, cl.data(), cd.data(), core::Hooks{});
    const size_t identical = expect_same_up_to_ties(x.data(), n, c.data(), d, gl, gd, cl, cd);
    if (bit_exact_expected(d)) {
        EXPECT_EQ(identical, n);
    }
}

TEST(GpuAdapter, ResidentRowsArePinnedOthersStreamed) {
    FakeModule fake;
    const size_t n = 1000, k = 50, d = 16;
    const std::vector<float> x = random_matrix(n, d, 31);
    const std::vector<float> other = random_matrix(n, d, 32);
    const std::vector<float> c = random_matrix(k, d, 33);
    std::vector<int32_t> labels(n), expect(n);
    std::vector<float> dist2(n), expect_d(n);
    GpuAssigner g(fake.api(), 0, x.data(), n);
    g.assign(x.data(), n, c.data(), k, d, labels.data(), dist2.data(), core::Hooks{});
    EXPECT_TRUE(g.last_call_pinned());
    EXPECT_EQ(fake.pinned_assign_calls, fake.assign_calls);
    // Same rows, new centroids: no new plan, still pinned.
    const std::vector<float> c2 = random_matrix(k, d, 34);
    g.assign(x.data(), n, c2.data(), k, d, labels.data(), dist2.data(), core::Hooks{});
    EXPECT_EQ(fake.replans, 1);
    simulate_assign(x.data(), n, c2.data(), k, d, fake.multiprocessors, expect.data(), expect_d.data());
    EXPECT_EQ(labels, expect);
    EXPECT_EQ(dist2, expect_d);
    // Other rows (or a prefix of the resident ones) are streamed.
    const int pinned_before = fake.pinned_assign_calls;
    g.assign(other.data(), n, c2.data(), k, d, labels.data(), dist2.data(), core::Hooks{});
    EXPECT_FALSE(g.last_call_pinned());
    g.assign(x.data(), n / 2, c2.data(), k, d, labels.data(), dist2.data(), core::Hooks{});
    EXPECT_FALSE(g.last_call_pinned());
    EXPECT_EQ(fake.pinned_assign_calls, pinned_before);
}

TEST(GpuAdapter, CancelStopsBetweenBatches) {
    FakeModule fake;
    const size_t n = 4000, k = 64, d = 32;
    const std::vector<float> x = random_matrix(n, d, 41);
    const std::vector<float> c = random_matrix(k, d, 42);
    std::vector<int32_t> labels(n);
    std::vector<float> dist2(n);
    int polls = 0;
    std::vector<size_t> reported;
    core::Hooks hooks;
    hooks.should_cancel = [&] { return ++polls >= 2; };
    hooks.progress = [&](size_t done, size_t total) {
        EXPECT_EQ(total, n);
        reported.push_back(done);
    };
    GpuAssigner g(fake.api(), 0, nullptr, 0, kSmallLimit);
    EXPECT_THROW(g.assign(x.data(), n, c.data(), k, d, labels.data(), dist2.data(), hooks), core::Cancelled);
    EXPECT_EQ(fake.assign_calls, 2);  // stopped after the second batch
    ASSERT_EQ(reported.size(), 1u);
    EXPECT_EQ(reported[0], fake.last_batch_rows);
}

TEST(GpuAdapter, ReportsProgressUpToAllRows) {
    FakeModule fake;
    const size_t n = 2500, k = 40, d = 32;
    const std::vector<float> x = random_matrix(n, d, 51);
    const std::vector<float> c = random_matrix(k, d, 52);
    std::vector<int32_t> labels(n);
    std::vector<float> dist2(n);
    std::vector<size_t> reported;
    core::Hooks hooks;
    hooks.progress = [&](size_t done, size_t) { reported.push_back(done); };
    GpuAssigner g(fake.api(), 0, nullptr, 0, kSmallLimit);
    g.assign(x.data(), n, c.data(), k, d, labels.data(), dist2.data(), hooks);
    ASSERT_GT(reported.size(), 1u);
    for (size_t i = 1; i < reported.size(); ++i) EXPECT_GT(reported[i], reported[i - 1]);
    EXPECT_EQ(reported.back(), n);
}

TEST(GpuAdapter, ModuleErrorsBecomeExceptionsWithTheirCategory) {
    const size_t n = 300, k = 10, d = 8;
    const std::vector<float> x = random_matrix(n, d, 61);
    const std::vector<float> c = random_matrix(k, d, 62);
    std::vector<int32_t> labels(n);
    std::vector<float> dist2(n);
    {
        FakeModule fake;
        fake.fail_assign_call = 0;
        fake.fail_status = PG_IVF_CUDA_OUT_OF_MEMORY;
        GpuAssigner g(fake.api(), 0);
        try {
            g.assign(x.data(), n, c.data(), k, d, labels.data(), dist2.data(), core::Hooks{});
            ADD_FAILURE() << "no exception";
        } catch (const std::runtime_error& e) {
            EXPECT_EQ(std::string(e.what()), "GPU assignment: out of GPU memory: injected failure");
        }
    }
    {
        FakeModule fake;
        fake.free_bytes = 1u << 10;  // not even the centroids fit
        GpuAssigner g(fake.api(), 0);
        EXPECT_THROW(g.assign(x.data(), n, c.data(), k, d, labels.data(), dist2.data(), core::Hooks{}),
                     std::runtime_error);
        EXPECT_EQ(fake.assign_calls, 0);
    }
}

// A CUDA fault poisons the process's backend: later 'auto' builds use the CPU.
TEST(GpuAdapter, CudaErrorMarksTheBackendUnusable) {
    FakeModule fake;
    fake.fail_assign_call = 0;
    fake.fail_status = PG_IVF_CUDA_ERROR;
    const size_t n = 10, k = 3, d = 4;
    const std::vector<float> x = random_matrix(n, d, 71);
    const std::vector<float> c = random_matrix(k, d, 72);
    std::vector<int32_t> labels(n);
    std::vector<float> dist2(n);
    GpuAssigner g(fake.api(), 0);
    EXPECT_THROW(g.assign(x.data(), n, c.data(), k, d, labels.data(), dist2.data(), core::Hooks{}),
                 std::runtime_error);
    EXPECT_EQ(backend_api(), nullptr);
    const BackendState& state = probe_backend("/nonexistent/ignored/after/the/first/probe.so");
    EXPECT_FALSE(state.usable);
    EXPECT_NE(std::string(state.reason).find("CUDA error: an earlier GPU call of this process failed"),
              std::string::npos)
        << state.reason;
}

TEST(GpuAdapter, DegenerateShapesLikeTheCpu) {
    FakeModule fake;
    GpuAssigner g(fake.api(), 0);
    std::vector<int32_t> labels(4, 7);
    std::vector<float> dist2(4, 7.0f);
    const std::vector<float> x(4 * 3, 1.0f);
    EXPECT_THROW(g.assign(x.data(), 4, nullptr, 0, 3, labels.data(), dist2.data(), core::Hooks{}),
                 std::invalid_argument);
    g.assign(x.data(), 0, x.data(), 1, 3, labels.data(), dist2.data(), core::Hooks{});  // nothing to do
    const std::vector<float> one(2, 0.0f);
    g.assign(x.data(), 4, one.data(), 2, 0, labels.data(), dist2.data(), core::Hooks{});  // d == 0
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(labels[i], 0);
        EXPECT_EQ(dist2[i], 0.0f);
    }
    EXPECT_EQ(fake.creates, 0);  // no device work for empty problems
}

// train_kmeans through the GPU assigner follows the CPU's trajectory (the
// sample pinned, many batches, column splits).
TEST(GpuAdapter, TrainKMeansMatchesCpu) {
    FakeModule fake;
    const size_t n = 3000, d = 32, k = 40;
    const std::vector<float> x = blob_matrix(n, d, 40, 81);
    core::KMeansParams params;
    params.k = k;
    params.iterations = 8;
    params.seed = 5;
    core::CpuAssigner cpu(2);
    const core::KMeansResult want = core::train_kmeans(x.data(), n, d, params, cpu, core::Hooks{});
    // 1.25 MiB: the sample (396 kB) and the partial-result slots fit, with
    // room for batches of about 1,500 rows: pinned and several batches.
    GpuAssigner g(fake.api(), 0, x.data(), n, 1280u << 10);
    const core::KMeansResult got = core::train_kmeans(x.data(), n, d, params, g, core::Hooks{});
    EXPECT_GT(fake.pinned_assign_calls, 0);
    EXPECT_EQ(fake.pinned_assign_calls, fake.assign_calls);
    EXPECT_LT(fake.last_batch_rows, n);
    ASSERT_EQ(got.objective.size(), want.objective.size());
    for (size_t i = 0; i < want.objective.size(); ++i)
        EXPECT_NEAR(got.objective[i], want.objective[i], 1e-6 * want.objective[i]) << "iteration " << i;
    if (bit_exact_expected(d)) {
        EXPECT_EQ(got.centroids, want.centroids);
    }
}

}  // namespace
}  // namespace pg_ivf::gpu::test
