// GpuAssigner (src/gpu/gpu_backend.cpp) against the CPU stand-in of the module:
// batching, pinned rows, cancellation between batches, progress, errors,
// train_kmeans through it, batches of small problems (PQ training), and the
// factory that picks CPU or GPU (src/gpu/assigner.cpp).
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/pq.h"
#include "gpu/assigner.h"
#include "gpu/gpu_backend.h"
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

// The build's seam: the CPU's assigner unless a GPU is asked for, and then an
// error, never a silent CPU, when the backend has no usable GPU (any more).
TEST(AssignerFactory, CpuOrAnErrorWithoutAUsableGpu) {
    const std::unique_ptr<core::Assigner> cpu = make_assigner(false, 2);
    EXPECT_NE(dynamic_cast<core::CpuAssigner*>(cpu.get()), nullptr);
    mark_backend_unusable("a test fault");
    ASSERT_EQ(backend_api(), nullptr);
    EXPECT_THROW(make_assigner(true, 2), std::runtime_error);
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
    // 1,300 KiB: the sample (396 kB, its grouping 24 kB) and the partial-result slots fit, with
    // room for batches of about 1,500 rows: pinned and several batches.
    GpuAssigner g(fake.api(), 0, x.data(), n, 1300u << 10);
    const core::KMeansResult got = core::train_kmeans(x.data(), n, d, params, g, core::Hooks{});
    EXPECT_GT(fake.pinned_assign_calls, 0);
    EXPECT_EQ(fake.pinned_assign_calls, fake.assign_calls);
    EXPECT_LT(fake.last_batch_rows, n);
    // Every update but a converged last iteration's ran on the "device".
    EXPECT_GE(g.device_updates(), got.iterations - 1);
    EXPECT_EQ(fake.updates, g.device_updates());
    ASSERT_EQ(got.objective.size(), want.objective.size());
    for (size_t i = 0; i < want.objective.size(); ++i)
        EXPECT_NEAR(got.objective[i], want.objective[i], 1e-6 * want.objective[i]) << "iteration " << i;
    if (bit_exact_expected(d)) {
        EXPECT_EQ(got.centroids, want.centroids);
    }
}

// The update runs in the module only right after an assignment of the
// pinned rows; its centroids are the host's (empty clusters keep theirs).
TEST(GpuAdapter, UpdateRunsOnTheDeviceOnlyForPinnedRows) {
    FakeModule fake;
    const size_t n = 600, k = 7, d = 5;
    const std::vector<float> x = random_matrix(n, d, 161);
    const std::vector<float> other = random_matrix(n, d, 162);
    const std::vector<float> c = random_matrix(k, d, 163);
    std::vector<int32_t> labels(n);
    std::vector<float> dist2(n);
    // Cluster 3 empty: rows go to clusters by i % 6, skipping 3.
    std::vector<int64_t> offsets(k + 1, 0);
    std::vector<uint64_t> order;
    for (size_t cl = 0; cl < k; ++cl) {
        if (cl != 3)
            for (size_t i = 0; i < n; ++i)
                if ((i % 6 < 3 ? i % 6 : i % 6 + 1) == cl) order.push_back(i);
        offsets[cl + 1] = static_cast<int64_t>(order.size());
    }
    ASSERT_EQ(order.size(), n);
    std::vector<float> want(c);
    for (size_t cl = 0; cl < k; ++cl)
        if (offsets[cl + 1] > offsets[cl])
            for (size_t j = 0; j < d; ++j)
                want[cl * d + j] = core::cluster_mean(x.data(), d, order.data(), offsets[cl], offsets[cl + 1], j);

    // As in train_kmeans: one centroid array, assigned with, then updated in place.
    GpuAssigner g(fake.api(), 0, x.data(), n);
    std::vector<float> out(c);
    EXPECT_FALSE(g.update_centroids(x.data(), n, k, d, offsets.data(), order.data(), out.data(), core::Hooks{}))
        << "no assignment yet";
    g.assign(x.data(), n, out.data(), k, d, labels.data(), dist2.data(), core::Hooks{});
    ASSERT_TRUE(g.last_call_pinned());
    EXPECT_FALSE(g.update_centroids(other.data(), n, k, d, offsets.data(), order.data(), out.data(), core::Hooks{}));
    std::vector<float> elsewhere(k * d, -7.0f);
    EXPECT_FALSE(g.update_centroids(x.data(), n, k, d, offsets.data(), order.data(), elsewhere.data(), core::Hooks{}))
        << "not the centroids of the assignment";
    EXPECT_EQ(out, c);
    ASSERT_TRUE(g.update_centroids(x.data(), n, k, d, offsets.data(), order.data(), out.data(), core::Hooks{}));
    EXPECT_EQ(out, want);
    EXPECT_EQ(g.device_updates(), 1);
    EXPECT_FALSE(g.update_centroids(x.data(), n, k, d, offsets.data(), order.data(), out.data(), core::Hooks{}))
        << "a second update without an assignment in between";

    // A grouping that names a row outside the pinned ones is refused, not read.
    g.assign(x.data(), n, out.data(), k, d, labels.data(), dist2.data(), core::Hooks{});
    std::vector<uint64_t> bad(order);
    bad[5] = n;
    EXPECT_THROW(g.update_centroids(x.data(), n, k, d, offsets.data(), bad.data(), out.data(), core::Hooks{}),
                 std::runtime_error);
    // After streaming other rows the device no longer holds the sample's plan.
    g.assign(other.data(), n, c.data(), k, d, labels.data(), dist2.data(), core::Hooks{});
    EXPECT_FALSE(g.update_centroids(x.data(), n, k, d, offsets.data(), order.data(), out.data(), core::Hooks{}));
}

// The second build pass: fixed centroids go up once for all its batches;
// other centroids (or the fixed ones after a different upload) go up again.
TEST(GpuAdapter, FixedCentroidsAreUploadedOnce) {
    FakeModule fake;
    const size_t n = 4096, k = 100, d = 32;
    const std::vector<float> c = random_matrix(k, d, 171);
    const std::vector<float> other = random_matrix(k, d, 172);
    std::vector<int32_t> labels(n), expect(n);
    std::vector<float> dist2(n), expect_d(n);
    GpuAssigner g(fake.api(), 0, nullptr, 0, 0, c.data());
    for (int batch = 0; batch < 5; ++batch) {
        const std::vector<float> x = random_matrix(batch == 4 ? 1000 : n, d, 180 + batch);
        const size_t rows = x.size() / d;
        g.assign(x.data(), rows, c.data(), k, d, labels.data(), dist2.data(), core::Hooks{});
        simulate_assign(x.data(), rows, c.data(), k, d, fake.multiprocessors, expect.data(), expect_d.data());
        EXPECT_TRUE(std::equal(expect.begin(), expect.begin() + rows, labels.begin())) << "batch " << batch;
    }
    EXPECT_EQ(fake.centroid_uploads, 1);
    const std::vector<float> x = random_matrix(n, d, 190);
    g.assign(x.data(), n, other.data(), k, d, labels.data(), dist2.data(), core::Hooks{});
    EXPECT_EQ(fake.centroid_uploads, 2);
    g.assign(x.data(), n, c.data(), k, d, labels.data(), dist2.data(), core::Hooks{});
    EXPECT_EQ(fake.centroid_uploads, 3);
    simulate_assign(x.data(), n, c.data(), k, d, fake.multiprocessors, expect.data(), expect_d.data());
    EXPECT_EQ(labels, expect);
    // Without the promise every call uploads.
    GpuAssigner plain(fake.api(), 0);
    plain.assign(x.data(), n, c.data(), k, d, labels.data(), dist2.data(), core::Hooks{});
    plain.assign(x.data(), n, c.data(), k, d, labels.data(), dist2.data(), core::Hooks{});
    EXPECT_EQ(fake.centroid_uploads, 5);
}

// ---- batches ---------------------------------------------------------------

// count problems of one shape, each with its own rows and centroids.
struct Batch {
    size_t count, n, k, d;
    std::vector<std::vector<float>> x, c;
    std::vector<std::vector<int32_t>> labels;
    std::vector<std::vector<float>> dist2;
    std::vector<core::AssignJob> jobs;

    Batch(size_t count_, size_t n_, size_t k_, size_t d_, uint64_t seed)
        : count(count_), n(n_), k(k_), d(d_), labels(count_, std::vector<int32_t>(n_, -1)),
          dist2(count_, std::vector<float>(n_, -1.0f)) {
        for (size_t i = 0; i < count; ++i) {
            x.push_back(random_matrix(n, d, seed + 2 * i));
            c.push_back(random_matrix(k, d, seed + 2 * i + 1));
        }
        for (size_t i = 0; i < count; ++i)
            jobs.push_back(core::AssignJob{x[i].data(), c[i].data(), labels[i].data(), dist2[i].data()});
    }

    // Every problem as CpuAssigner::assign gives it.
    void expect_cpu_answers() const {
        core::CpuAssigner cpu(2);
        for (size_t i = 0; i < count; ++i) {
            std::vector<int32_t> cl(n);
            std::vector<float> cd(n);
            cpu.assign(x[i].data(), n, c[i].data(), k, d, cl.data(), cd.data(), core::Hooks{});
            const size_t identical = expect_same_up_to_ties(x[i].data(), n, c[i].data(), d, labels[i], dist2[i], cl, cd);
            if (bit_exact_expected(d)) {
                EXPECT_EQ(identical, n) << "problem " << i;
            }
        }
    }
};

TEST(GpuAdapter, BatchRunsInOneLaunchAndMatchesCpu) {
    FakeModule fake;
    Batch b(10, 500, 300, 32, 101);
    GpuAssigner g(fake.api(), 0);
    g.assign_batch(b.jobs.data(), b.count, b.n, b.k, b.d, core::Hooks{});
    EXPECT_EQ(fake.batch_calls, 1);
    EXPECT_EQ(fake.assign_calls, 0);
    EXPECT_EQ(fake.largest_batch_call, b.count);
    EXPECT_TRUE(g.last_batch_resident());
    EXPECT_EQ(g.last_batch_group(), b.count);
    b.expect_cpu_answers();
}

// Rows stay on the device across calls (new centroids, fewer problems) until
// end_batch(); after it they are sent again, so changed rows are seen.
TEST(GpuAdapter, BatchRowsStayUntilEndBatch) {
    FakeModule fake;
    Batch b(6, 400, 64, 16, 111);
    GpuAssigner g(fake.api(), 0);
    g.assign_batch(b.jobs.data(), b.count, b.n, b.k, b.d, core::Hooks{});
    EXPECT_EQ(fake.batch_plans, 1);
    EXPECT_EQ(fake.uploaded_problems, b.count);
    b.c[2] = random_matrix(b.k, b.d, 999);
    b.jobs[2].centroids = b.c[2].data();
    g.assign_batch(b.jobs.data() + 1, b.count - 1, b.n, b.k, b.d, core::Hooks{});
    EXPECT_EQ(fake.batch_plans, 1);
    EXPECT_EQ(fake.uploaded_problems, b.count);
    b.expect_cpu_answers();

    g.end_batch();
    b.x[0] = random_matrix(b.n, b.d, 998);  // may reuse the freed rows' address
    b.jobs[0].x = b.x[0].data();
    std::fill(b.labels[0].begin(), b.labels[0].end(), -1);
    g.assign_batch(b.jobs.data(), b.count, b.n, b.k, b.d, core::Hooks{});
    EXPECT_EQ(fake.batch_plans, 2);
    EXPECT_EQ(fake.uploaded_problems, 2 * b.count);
    b.expect_cpu_answers();
}

// A small device: rows staged per call, problems in several launches, the
// hooks polled between them.
TEST(GpuAdapter, BatchSplitsIntoGroupsAndCancelsBetweenThem) {
    Batch b(24, 1000, 256, 16, 121);  // 1.6 MB of rows, 1 MiB of device
    {
        FakeModule fake;
        GpuAssigner g(fake.api(), 0, nullptr, 0, kSmallLimit);
        g.assign_batch(b.jobs.data(), b.count, b.n, b.k, b.d, core::Hooks{});
        EXPECT_FALSE(g.last_batch_resident());
        const size_t group = g.last_batch_group();
        ASSERT_GT(group, 0u);
        ASSERT_LT(group, b.count);
        EXPECT_EQ(static_cast<size_t>(fake.batch_calls), (b.count + group - 1) / group);
        EXPECT_EQ(fake.uploaded_problems, b.count);
        b.expect_cpu_answers();
    }
    {
        FakeModule fake;
        GpuAssigner g(fake.api(), 0, nullptr, 0, kSmallLimit);
        int polls = 0;
        core::Hooks hooks;
        hooks.should_cancel = [&] { return ++polls >= 1; };
        EXPECT_THROW(g.assign_batch(b.jobs.data(), b.count, b.n, b.k, b.d, hooks), core::Cancelled);
        EXPECT_EQ(fake.batch_calls, 1);
    }
}

// Not one problem fits a batch: each is streamed through assign().
TEST(GpuAdapter, BatchFallsBackToStreamingEachProblem) {
    FakeModule fake;
    Batch b(3, 20000, 300, 32, 131);  // 2.6 MB of rows per problem, 1.5 MB of device
    GpuAssigner g(fake.api(), 0, nullptr, 0, 1536u << 10);
    g.assign_batch(b.jobs.data(), b.count, b.n, b.k, b.d, core::Hooks{});
    EXPECT_EQ(fake.batch_calls, 0);
    EXPECT_EQ(g.last_batch_group(), 0u);
    EXPECT_GE(fake.assign_calls, 6);  // several streamed batches per problem
    b.expect_cpu_answers();
}

TEST(GpuAdapter, BatchErrorsAndDegenerateShapes) {
    Batch b(4, 100, 20, 8, 141);
    {
        FakeModule fake;
        fake.fail_batch_call = 0;
        fake.fail_status = PG_IVF_CUDA_OUT_OF_MEMORY;
        GpuAssigner g(fake.api(), 0);
        try {
            g.assign_batch(b.jobs.data(), b.count, b.n, b.k, b.d, core::Hooks{});
            ADD_FAILURE() << "no exception";
        } catch (const std::runtime_error& e) {
            EXPECT_EQ(std::string(e.what()), "GPU batched assignment: out of GPU memory: injected batch failure");
        }
    }
    FakeModule fake;
    GpuAssigner g(fake.api(), 0);
    EXPECT_THROW(g.assign_batch(b.jobs.data(), b.count, b.n, 0, b.d, core::Hooks{}), std::invalid_argument);
    g.assign_batch(b.jobs.data(), 0, b.n, b.k, b.d, core::Hooks{});
    g.assign_batch(b.jobs.data(), b.count, 0, b.k, b.d, core::Hooks{});
    g.assign_batch(b.jobs.data(), b.count, b.n, b.k, 0, core::Hooks{});
    for (size_t i = 0; i < b.count; ++i)
        for (size_t r = 0; r < b.n; ++r) {
            EXPECT_EQ(b.labels[i][r], 0);
            EXPECT_EQ(b.dist2[i][r], 0.0f);
        }
    EXPECT_EQ(fake.creates, 0);
}

// PQ codebook training through the GPU assigner: one batched launch per
// Lloyd iteration for all sub-quantizers, the CPU's codebooks.
TEST(GpuAdapter, PqTrainingIsBatchedAndMatchesCpu) {
    FakeModule fake;
    const size_t n = 3000, d = 64, m = 4;
    const std::vector<float> x = blob_matrix(n, d, 30, 151);
    std::vector<float> want(core::kPqCentroids * d), got(core::kPqCentroids * d);
    core::CpuAssigner cpu(2);
    core::pq_train(x.data(), n, d, m, nullptr, nullptr, 5, 9, cpu, core::Hooks{}, want.data());
    GpuAssigner g(fake.api(), 0);
    core::pq_train(x.data(), n, d, m, nullptr, nullptr, 5, 9, g, core::Hooks{}, got.data());
    EXPECT_EQ(fake.assign_calls, 0);
    EXPECT_GE(fake.batch_calls, 1);
    EXPECT_LE(fake.batch_calls, 5);
    EXPECT_EQ(fake.largest_batch_call, m);
    EXPECT_EQ(fake.uploaded_problems, m);  // rows sent once, kept for every iteration
    if (bit_exact_expected(d / m)) {
        EXPECT_EQ(got, want);
    } else {
        double worst = 0.0;
        for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(double(got[i]) - want[i]));
        EXPECT_LT(worst, 1e-3);
    }
}

}  // namespace
}  // namespace pg_ivf::gpu::test
