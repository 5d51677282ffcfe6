// train_kmeans and train_kmeans_batch (convergence, determinism, degenerate inputs, hooks, memory
// bound) and the shared per-element rules in kmeans_math.h.
#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "core/hooks.h"
#include "core/kmeans.h"
#include "core/kmeans_math.h"

namespace pg_ivf::core {
namespace {

std::vector<float> random_matrix(size_t rows, size_t d, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<float> m(rows * d);
    for (float& v : m) v = normal(rng);
    return m;
}

bool all_finite(const std::vector<float>& v) {
    return std::all_of(v.begin(), v.end(), [](float f) { return std::isfinite(f); });
}

KMeansParams params(size_t k, int iterations, uint64_t seed = 1234, bool spherical = false) {
    KMeansParams p;
    p.k = k;
    p.iterations = iterations;
    p.seed = seed;
    p.spherical = spherical;
    return p;
}

// Random seeding may put two seeds in one blob, a local minimum Lloyd cannot
// leave; this finds a seed whose initial centroids (iterations = 0) land one
// per blob, so a test can demand that Lloyd then converges onto the centers.
// centers: blobs * d.
uint64_t seed_hitting_every_blob(const std::vector<float>& x, size_t n, size_t d,
                                 const std::vector<float>& centers, size_t blobs) {
    CpuAssigner cpu(1);
    ReferenceAssigner ref;
    for (uint64_t seed = 1; seed < 500; ++seed) {
        const KMeansResult init = train_kmeans(x.data(), n, d, params(blobs, 0, seed), cpu, Hooks{});
        std::vector<int32_t> label(blobs);
        std::vector<float> dist(blobs);
        ref.assign(init.centroids.data(), blobs, centers.data(), blobs, d, label.data(), dist.data(), Hooks{});
        if (std::set<int32_t>(label.begin(), label.end()).size() == blobs) return seed;
    }
    return 0;
}

// Every centroid within `tol` (L2) of a distinct true center.
void expect_recovered(const KMeansResult& r, const std::vector<float>& centers, size_t blobs, size_t d,
                      double tol) {
    ReferenceAssigner ref;
    std::vector<int32_t> label(blobs);
    std::vector<float> dist(blobs);
    ref.assign(r.centroids.data(), blobs, centers.data(), blobs, d, label.data(), dist.data(), Hooks{});
    EXPECT_EQ(std::set<int32_t>(label.begin(), label.end()).size(), blobs);
    for (size_t c = 0; c < blobs; ++c) EXPECT_LT(std::sqrt(dist[c]), tol) << "centroid " << c;
}

// ---- kmeans_math.h -------------------------------------------------------

TEST(KMeansMath, BetterPrefersSmallerThenLowerIndex) {
    EXPECT_TRUE(better(1.0f, 5, 2.0f, 0));
    EXPECT_FALSE(better(2.0f, 0, 1.0f, 5));
    EXPECT_TRUE(better(1.0f, 2, 1.0f, 3));
    EXPECT_FALSE(better(1.0f, 3, 1.0f, 2));
    EXPECT_FALSE(better(1.0f, 3, 1.0f, 3));
    EXPECT_TRUE(better(0.5, 9, 0.75, 1));  // the double oracle uses the same rule
    EXPECT_EQ(clamp_distance(-1e-6f), 0.0f);
    EXPECT_EQ(clamp_distance(2.5f), 2.5f);
}

TEST(KMeansMath, FinalizeAndNormalize) {
    const double sum[3] = {3.0, -6.0, 1.5};
    float c[3];
    finalize_centroid(sum, 3, 3, c);
    EXPECT_FLOAT_EQ(c[0], 1.0f);
    EXPECT_FLOAT_EQ(c[1], -2.0f);
    EXPECT_FLOAT_EQ(c[2], 0.5f);
    float v[2] = {3.0f, 4.0f};
    EXPECT_DOUBLE_EQ(normalize_centroid(v, 2), 5.0);
    EXPECT_FLOAT_EQ(v[0], 0.6f);
    EXPECT_FLOAT_EQ(v[1], 0.8f);
    float z[3] = {0.0f, 0.0f, 0.0f};
    EXPECT_EQ(normalize_centroid(z, 3), 0.0);
    for (float f : z) EXPECT_EQ(f, 0.0f);  // no NaN from 0 / 0
}

TEST(KMeansMath, SplitChoiceIsProportionalToSpareMembers) {
    // Spare members (size - 1): {0, 0, 4, 0, 2}, total 6.
    const int64_t sizes[5] = {1, 0, 5, 1, 3};
    EXPECT_EQ(choose_split_cluster(sizes, 5, 0.0), 2);
    EXPECT_EQ(choose_split_cluster(sizes, 5, 0.5), 2);   // target 3 < 4
    EXPECT_EQ(choose_split_cluster(sizes, 5, 0.7), 4);   // target 4
    EXPECT_EQ(choose_split_cluster(sizes, 5, 0.9999), 4);
    const int64_t singletons[4] = {1, 1, 0, 1};
    EXPECT_EQ(choose_split_cluster(singletons, 4, 0.3), -1);
    // Over many draws the frequencies follow the weights.
    std::mt19937_64 rng(9);
    int hits[5] = {};
    for (int i = 0; i < 6000; ++i) ++hits[choose_split_cluster(sizes, 5, unit_interval(rng()))];
    EXPECT_EQ(hits[0] + hits[1] + hits[3], 0);
    EXPECT_NEAR(hits[2], 4000, 200);
    EXPECT_NEAR(hits[4], 2000, 200);
}

TEST(KMeansMath, UnitIntervalStaysInRange) {
    EXPECT_EQ(unit_interval(0), 0.0);
    EXPECT_LT(unit_interval(~uint64_t{0}), 1.0);
    EXPECT_GT(unit_interval(~uint64_t{0}), 0.999999);
}

TEST(KMeansMath, SplitPerturbsBothCopiesSymmetrically) {
    float big[4] = {1.0f, -2.0f, 0.0f, 4.0f};
    const float orig[4] = {1.0f, -2.0f, 0.0f, 4.0f};
    float copy[4];
    split_centroid(big, copy, 4, kSplitEpsilon);
    bool differ = false;
    for (int j = 0; j < 4; ++j) {
        EXPECT_NEAR((big[j] + copy[j]) / 2, orig[j], 1e-6);
        EXPECT_LE(std::fabs(copy[j] - orig[j]), 0.01f * (std::fabs(orig[j]) + 3.0f));
        differ |= big[j] != copy[j];
    }
    EXPECT_TRUE(differ);
    EXPECT_NE(big[2], copy[2]);  // the rms term moves zero coordinates too
    float zero[3] = {0, 0, 0}, zcopy[3];
    split_centroid(zero, zcopy, 3, kSplitEpsilon);
    for (int j = 0; j < 3; ++j) {
        EXPECT_EQ(zero[j], 0.0f);
        EXPECT_EQ(zcopy[j], 0.0f);
    }
}

// ---- train_kmeans ---------------------------------------------------------

TEST(TrainKMeans, ObjectiveNeverRises) {
    const size_t n = 4000, d = 16, k = 40;
    const std::vector<float> x = random_matrix(n, d, 21);
    CpuAssigner cpu(2);
    const KMeansResult r = train_kmeans(x.data(), n, d, params(k, 25), cpu, Hooks{});
    ASSERT_GE(r.objective.size(), 3u);
    EXPECT_EQ(r.objective.size(), static_cast<size_t>(r.iterations));
    for (size_t i = 1; i < r.objective.size(); ++i)
        EXPECT_LE(r.objective[i], r.objective[i - 1] * (1 + 1e-5)) << "iteration " << i;
    EXPECT_LT(r.objective.back(), r.objective.front());
    EXPECT_TRUE(all_finite(r.centroids));
}

TEST(TrainKMeans, RecoversSeparatedBlobs) {
    const size_t blobs = 6, per_blob = 400, d = 8, n = blobs * per_blob;
    std::vector<float> centers = random_matrix(blobs, d, 31);
    for (float& v : centers) v *= 30.0f;
    std::mt19937_64 rng(32);
    std::normal_distribution<float> noise(0.0f, 0.5f);
    std::vector<float> x(n * d);
    for (size_t i = 0; i < n; ++i)
        for (size_t t = 0; t < d; ++t) x[i * d + t] = centers[(i % blobs) * d + t] + noise(rng);

    const uint64_t seed = seed_hitting_every_blob(x, n, d, centers, blobs);
    ASSERT_NE(seed, 0u);
    CpuAssigner cpu(2);
    const KMeansResult r = train_kmeans(x.data(), n, d, params(blobs, 20, seed), cpu, Hooks{});
    expect_recovered(r, centers, blobs, d, 0.2);  // noise of a mean of 400 rows: ~0.07
    EXPECT_LT(r.iterations, 20);                   // stopped early once labels were stable
}

TEST(TrainKMeans, DeterministicForSeedAndThreads) {
    const size_t n = 3000, d = 12, k = 50;
    const std::vector<float> x = random_matrix(n, d, 41);
    CpuAssigner one(1), two(2);
    const KMeansResult a = train_kmeans(x.data(), n, d, params(k, 8, 7), two, Hooks{});
    const KMeansResult b = train_kmeans(x.data(), n, d, params(k, 8, 7), two, Hooks{});
    EXPECT_EQ(a.centroids, b.centroids);
    EXPECT_EQ(a.objective, b.objective);
    // Blocks do not depend on the thread count, so neither do the results.
    const KMeansResult c = train_kmeans(x.data(), n, d, params(k, 8, 7), one, Hooks{});
    EXPECT_EQ(a.centroids, c.centroids);
    const KMeansResult other = train_kmeans(x.data(), n, d, params(k, 8, 8), two, Hooks{});
    EXPECT_NE(a.centroids, other.centroids);
}

TEST(TrainKMeans, MatchesReferenceAssignerQuality) {
    const size_t n = 1500, d = 10, k = 12;
    const std::vector<float> x = random_matrix(n, d, 43);
    CpuAssigner cpu(2);
    ReferenceAssigner ref;
    const KMeansResult a = train_kmeans(x.data(), n, d, params(k, 10), cpu, Hooks{});
    const KMeansResult b = train_kmeans(x.data(), n, d, params(k, 10), ref, Hooks{});
    EXPECT_NEAR(a.objective.front(), b.objective.front(), 1e-4 * b.objective.front());
    EXPECT_NEAR(a.objective.back(), b.objective.back(), 0.02 * b.objective.back());
}

TEST(TrainKMeans, FewerRowsThanCentroids) {
    const size_t n = 5, d = 3, k = 12;
    const std::vector<float> x = random_matrix(n, d, 51);
    CpuAssigner cpu(2);
    const KMeansResult r = train_kmeans(x.data(), n, d, params(k, 10), cpu, Hooks{});
    ASSERT_EQ(r.centroids.size(), k * d);
    ASSERT_TRUE(all_finite(r.centroids));
    std::set<std::vector<float>> rows, first;
    for (size_t i = 0; i < n; ++i) rows.insert(std::vector<float>(x.begin() + i * d, x.begin() + (i + 1) * d));
    for (size_t c = 0; c < k; ++c) {
        std::vector<float> cc(r.centroids.begin() + c * d, r.centroids.begin() + (c + 1) * d);
        EXPECT_TRUE(rows.count(cc)) << "centroid " << c << " is not a data row";
        if (c < n) first.insert(cc);
    }
    EXPECT_EQ(first, rows);  // the first n centroids are the n distinct rows
    EXPECT_EQ(r.objective.back(), 0.0);
    EXPECT_EQ(r.empty_splits, 0u);  // singletons cannot be split
}

TEST(TrainKMeans, NoRowsGivesZeroCentroids) {
    CpuAssigner cpu(1);
    const KMeansResult r = train_kmeans(nullptr, 0, 4, params(3, 10), cpu, Hooks{});
    EXPECT_EQ(r.centroids, std::vector<float>(12, 0.0f));
    EXPECT_EQ(r.iterations, 0);
    EXPECT_TRUE(r.objective.empty());
    EXPECT_THROW(train_kmeans(nullptr, 0, 4, params(0, 10), cpu, Hooks{}), std::invalid_argument);
}

TEST(TrainKMeans, AllDuplicateRows) {
    const size_t n = 300, d = 5, k = 6;
    const float row[d] = {1.0f, -2.0f, 3.0f, 0.0f, 0.5f};
    std::vector<float> x(n * d);
    for (size_t i = 0; i < n; ++i) std::copy(row, row + d, x.begin() + i * d);
    CpuAssigner cpu(2);
    const KMeansResult r = train_kmeans(x.data(), n, d, params(k, 10), cpu, Hooks{});
    ASSERT_TRUE(all_finite(r.centroids));
    for (size_t c = 0; c < k; ++c)
        for (size_t t = 0; t < d; ++t) EXPECT_NEAR(r.centroids[c * d + t], row[t], 0.02) << c;
    EXPECT_GT(r.empty_splits, 0u);
    EXPECT_LT(r.objective.back(), 1e-3);
}

TEST(TrainKMeans, ZeroVectorsStayFinite) {
    const size_t n = 200, d = 6, k = 4;
    std::vector<float> zeros(n * d, 0.0f);
    CpuAssigner cpu(2);
    for (bool spherical : {false, true}) {
        const KMeansResult r = train_kmeans(zeros.data(), n, d, params(k, 5, 1, spherical), cpu, Hooks{});
        EXPECT_EQ(r.centroids, std::vector<float>(k * d, 0.0f));
        EXPECT_EQ(r.objective.back(), 0.0);
    }
    // Half zero rows, half random: still no NaN, spherical or not.
    std::vector<float> mixed = random_matrix(n, d, 61);
    std::fill(mixed.begin(), mixed.begin() + n / 2 * d, 0.0f);
    for (bool spherical : {false, true}) {
        const KMeansResult r = train_kmeans(mixed.data(), n, d, params(k, 10, 2, spherical), cpu, Hooks{});
        EXPECT_TRUE(all_finite(r.centroids));
    }
}

TEST(TrainKMeans, SphericalGivesUnitCentroids) {
    const size_t n = 2000, d = 20, k = 30;
    const std::vector<float> x = random_matrix(n, d, 71);
    CpuAssigner cpu(2);
    const KMeansResult r = train_kmeans(x.data(), n, d, params(k, 10, 3, true), cpu, Hooks{});
    for (size_t c = 0; c < k; ++c) {
        double norm2 = 0;
        for (size_t t = 0; t < d; ++t) norm2 += std::pow(r.centroids[c * d + t], 2);
        EXPECT_NEAR(std::sqrt(norm2), 1.0, 1e-5) << c;
    }
}

TEST(TrainKMeans, OneDimension) {
    const size_t n = 900, k = 3;
    std::mt19937_64 rng(81);
    std::normal_distribution<float> noise(0.0f, 0.1f);
    const std::vector<float> centers = {-10.0f, 0.0f, 10.0f};
    std::vector<float> x(n);
    for (size_t i = 0; i < n; ++i) x[i] = centers[i % 3] + noise(rng);
    const uint64_t seed = seed_hitting_every_blob(x, n, 1, centers, k);
    ASSERT_NE(seed, 0u);
    CpuAssigner cpu(2);
    const KMeansResult r = train_kmeans(x.data(), n, 1, params(k, 20, seed), cpu, Hooks{});
    expect_recovered(r, centers, k, 1, 0.05);
}

TEST(TrainKMeans, CancelledAfterSomePolls) {
    const size_t n = 3000, d = 8, k = 10;
    const std::vector<float> x = random_matrix(n, d, 91);
    CpuAssigner cpu(2);
    for (int allowed : {0, 1, 4}) {
        int polls = 0;
        Hooks hooks;
        hooks.should_cancel = [&] { return ++polls > allowed; };
        EXPECT_THROW(train_kmeans(x.data(), n, d, params(k, 50), cpu, hooks), Cancelled) << allowed;
        EXPECT_EQ(polls, allowed + 1);
    }
    int polls = 0;
    Hooks never;
    never.should_cancel = [&] { return ++polls < 0; };
    const KMeansResult r = train_kmeans(x.data(), n, d, params(k, 5), cpu, never);
    EXPECT_GE(polls, r.iterations);
}

TEST(TrainKMeans, HooksCalledFromCallingThreadOnly) {
    const size_t n = 20000, d = 8, k = 16;
    const std::vector<float> x = random_matrix(n, d, 101);
    const std::thread::id me = std::this_thread::get_id();
    std::vector<std::thread::id> seen;
    Hooks hooks;
    hooks.should_cancel = [&] {
        seen.push_back(std::this_thread::get_id());
        return false;
    };
    hooks.progress = [&](size_t, size_t) { seen.push_back(std::this_thread::get_id()); };
    CpuAssigner cpu(2);
    train_kmeans(x.data(), n, d, params(k, 4), cpu, hooks);
    ASSERT_FALSE(seen.empty());
    for (const auto& id : seen) EXPECT_EQ(id, me);
}

TEST(TrainKMeans, LabelsOutOfRangeAreRejected) {
    struct BrokenAssigner final : Assigner {
        void assign(const float*, size_t n, const float*, size_t k, size_t, int32_t* labels, float* dist2,
                    const Hooks&) override {
            for (size_t i = 0; i < n; ++i) {
                labels[i] = static_cast<int32_t>(k);
                dist2[i] = 0.0f;
            }
        }
    } broken;
    const std::vector<float> x = random_matrix(10, 2, 111);
    EXPECT_THROW(train_kmeans(x.data(), 10, 2, params(3, 3), broken, Hooks{}), std::logic_error);
}

// Heap bytes in use (main arena plus mmapped blocks): train_kmeans allocates
// in the calling thread, so sampling this from the hooks sees its peak.
size_t heap_in_use() {
    const struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

// False where mallinfo2() does not see the allocator (sanitizer builds).
bool heap_is_visible() {
    const size_t before = heap_in_use();
    std::vector<char> probe(1 << 20, 1);
    return heap_in_use() >= before + probe.size();
}

// The most heap in use above what was in use at construction, sampled by
// the hooks' cancel poll and by sample().
struct HeapPeak {
    size_t base = heap_in_use();
    size_t peak = 0;

    void sample() { peak = std::max(peak, heap_in_use() - std::min(base, heap_in_use())); }
    Hooks hooks() {
        Hooks h;
        h.should_cancel = [this] {
            sample();
            return false;
        };
        return h;
    }
};

TEST(TrainKMeans, MemoryBoundCoversAllocations) {
    if (!heap_is_visible()) GTEST_SKIP() << "mallinfo2() does not see this allocator (sanitizer build?)";
    struct Shape {
        size_t n, d, k;
    };
    for (const Shape s : {Shape{5000, 64, 100}, Shape{20000, 16, 400}, Shape{50, 8, 80}}) {
        const std::vector<float> x = random_matrix(s.n, s.d, 121);
        HeapPeak heap;
        CpuAssigner cpu(2);
        {
            const KMeansResult r = train_kmeans(x.data(), s.n, s.d, params(s.k, 4), cpu, heap.hooks());
            ASSERT_EQ(r.centroids.size(), s.k * s.d);
            heap.sample();
        }
        const size_t bound = kmeans_memory_bytes(s.n, s.k, s.d);
        EXPECT_GT(heap.peak, s.n * 3 * sizeof(int32_t)) << "sampling saw the iteration arrays";
        EXPECT_LE(heap.peak, bound) << "n=" << s.n << " d=" << s.d << " k=" << s.k;
    }
    EXPECT_LT(kmeans_memory_bytes(1000, 10, 8), kmeans_memory_bytes(100000, 10, 8));
    EXPECT_LT(kmeans_memory_bytes(1000, 10, 8), kmeans_memory_bytes(1000, 1000, 8));
}

// An assigner that also updates, one (cluster, dimension) at a time with
// cluster_mean() as the GPU kernel does: the same centroids as the host's
// row-major update, bit for bit.
TEST(TrainKMeans, BackendUpdateEqualsHostUpdate) {
    struct Updating final : Assigner {
        CpuAssigner cpu{2};
        int updates = 0;
        void assign(const float* x, size_t n, const float* c, size_t k, size_t d, int32_t* l, float* e,
                    const Hooks& h) override {
            cpu.assign(x, n, c, k, d, l, e, h);
        }
        bool update_centroids(const float* x, size_t n, size_t k, size_t d, const int64_t* offsets,
                              const uint64_t* order, float* centroids, const Hooks&) override {
            EXPECT_EQ(offsets[k], static_cast<int64_t>(n));
            ++updates;
            for (size_t c = 0; c < k; ++c)
                if (offsets[c + 1] > offsets[c])
                    for (size_t j = 0; j < d; ++j)
                        centroids[c * d + j] = cluster_mean(x, d, order, offsets[c], offsets[c + 1], j);
            return true;
        }
    } updating;
    for (const bool spherical : {false, true}) {
        const size_t n = 2500, d = 13, k = 60;  // k large enough for empty clusters and splits
        const std::vector<float> x = random_matrix(n, d, 77);
        CpuAssigner cpu(2);
        const KMeansResult want = train_kmeans(x.data(), n, d, params(k, 9, 3, spherical), cpu, Hooks{});
        updating.updates = 0;
        const KMeansResult got = train_kmeans(x.data(), n, d, params(k, 9, 3, spherical), updating, Hooks{});
        EXPECT_EQ(got.centroids, want.centroids);
        EXPECT_EQ(got.objective, want.objective);
        EXPECT_EQ(got.empty_splits, want.empty_splits);
        // Every iteration but a converged last one updates.
        EXPECT_GE(updating.updates, got.iterations - 1);
        EXPECT_LE(updating.updates, got.iterations);
    }
}

// ---- train_kmeans_batch ---------------------------------------------------

// Counts assign() and assign_batch() calls and the jobs each batch had,
// solving them with the CPU assigner.
struct CountingAssigner final : Assigner {
    CpuAssigner cpu{2};
    int single_calls = 0;
    int ends = 0;
    std::vector<size_t> batch_sizes;

    bool together = true;
    bool batches() const override { return together; }
    void end_batch() noexcept override { ++ends; }
    void assign(const float* x, size_t n, const float* c, size_t k, size_t d, int32_t* labels, float* dist2,
                const Hooks& hooks) override {
        ++single_calls;
        cpu.assign(x, n, c, k, d, labels, dist2, hooks);
    }
    void assign_batch(const AssignJob* jobs, size_t count, size_t n, size_t k, size_t d,
                      const Hooks& hooks) override {
        batch_sizes.push_back(count);
        for (size_t i = 0; i < count; ++i)
            cpu.assign(jobs[i].x, n, jobs[i].centroids, k, d, jobs[i].labels, jobs[i].dist2, hooks);
    }
};

TEST(TrainKMeansBatch, EqualsOneByOneAndCallsOncePerIteration) {
    const size_t count = 5, n = 1200, d = 6, k = 24;
    std::vector<std::vector<float>> data;
    std::vector<const float*> xs;
    std::vector<uint64_t> seeds;
    for (size_t i = 0; i < count; ++i) {
        data.push_back(random_matrix(n, d, 200 + i));
        seeds.push_back(900 + 7 * i);
    }
    // Problem 3 is k tight, far-apart blobs: its labels settle within a few
    // iterations while the others go on.
    for (size_t r = 0; r < n; ++r)
        for (size_t t = 0; t < d; ++t)
            data[3][r * d + t] = (t == 0 ? 3.0f * static_cast<float>(r % k) : 0.0f) + 0.1f * data[3][r * d + t];
    for (const auto& v : data) xs.push_back(v.data());
    CountingAssigner counting;
    const std::vector<KMeansResult> batch =
        train_kmeans_batch(xs.data(), count, n, d, params(k, 12), seeds.data(), counting, Hooks{});
    ASSERT_EQ(batch.size(), count);
    EXPECT_EQ(counting.single_calls, 0);
    EXPECT_EQ(counting.ends, 1);
    int most = 0;
    for (size_t i = 0; i < count; ++i) {
        CpuAssigner cpu(2);
        const KMeansResult alone = train_kmeans(xs[i], n, d, params(k, 12, seeds[i]), cpu, Hooks{});
        EXPECT_EQ(batch[i].centroids, alone.centroids) << "problem " << i;
        EXPECT_EQ(batch[i].objective, alone.objective) << "problem " << i;
        EXPECT_EQ(batch[i].iterations, alone.iterations) << "problem " << i;
        EXPECT_EQ(batch[i].empty_splits, alone.empty_splits) << "problem " << i;
        most = std::max(most, alone.iterations);
    }
    EXPECT_LT(batch[3].iterations, 12);
    // One batch call per iteration, shrinking as problems converge.
    ASSERT_EQ(counting.batch_sizes.size(), static_cast<size_t>(most));
    EXPECT_EQ(counting.batch_sizes.front(), count);
    EXPECT_LT(counting.batch_sizes.back(), count);
    EXPECT_TRUE(std::is_sorted(counting.batch_sizes.rbegin(), counting.batch_sizes.rend()));
    size_t jobs = 0, iterations = 0;
    for (size_t b : counting.batch_sizes) jobs += b;
    for (const KMeansResult& r : batch) iterations += static_cast<size_t>(r.iterations);
    EXPECT_EQ(jobs, iterations);
}

TEST(TrainKMeansBatch, DefaultBatchEqualsAssign) {
    const size_t n = 700, d = 9, k = 30;
    const std::vector<float> x1 = random_matrix(n, d, 301), x2 = random_matrix(n, d, 302);
    const std::vector<float> c1 = random_matrix(k, d, 303), c2 = random_matrix(k, d, 304);
    CpuAssigner cpu(2);
    std::vector<int32_t> l1(n), l2(n), r1(n), r2(n);
    std::vector<float> d1(n), d2(n), e1(n), e2(n);
    const AssignJob jobs[2] = {{x1.data(), c1.data(), l1.data(), d1.data()},
                               {x2.data(), c2.data(), l2.data(), d2.data()}};
    cpu.assign_batch(jobs, 2, n, k, d, Hooks{});
    cpu.assign(x1.data(), n, c1.data(), k, d, r1.data(), e1.data(), Hooks{});
    cpu.assign(x2.data(), n, c2.data(), k, d, r2.data(), e2.data(), Hooks{});
    EXPECT_EQ(l1, r1);
    EXPECT_EQ(l2, r2);
    EXPECT_EQ(d1, e1);
    EXPECT_EQ(d2, e2);
    cpu.assign_batch(jobs, 0, n, k, d, Hooks{});  // nothing to do, no crash
}

TEST(TrainKMeansBatch, DegenerateShapesAndCancel) {
    const size_t n = 500, d = 4;
    const std::vector<float> x = random_matrix(n, d, 311);
    const float* xs[3] = {x.data(), x.data(), x.data()};
    const uint64_t seeds[3] = {1, 2, 3};
    CountingAssigner counting;
    // No problems, no rows, no iterations: no assignment at all.
    EXPECT_TRUE(train_kmeans_batch(xs, 0, n, d, params(8, 5), seeds, counting, Hooks{}).empty());
    const auto empty = train_kmeans_batch(xs, 3, 0, d, params(8, 5), seeds, counting, Hooks{});
    ASSERT_EQ(empty.size(), 3u);
    EXPECT_EQ(empty[1].centroids, std::vector<float>(8 * d, 0.0f));
    const auto seeded = train_kmeans_batch(xs, 3, n, d, params(8, 0), seeds, counting, Hooks{});
    EXPECT_EQ(seeded[2].iterations, 0);
    EXPECT_TRUE(counting.batch_sizes.empty());
    EXPECT_THROW(train_kmeans_batch(xs, 3, n, d, params(0, 5), seeds, counting, Hooks{}), std::invalid_argument);

    for (int allowed : {0, 2}) {
        int polls = 0;
        Hooks hooks;
        hooks.should_cancel = [&] { return ++polls > allowed; };
        const int ends = counting.ends;
        EXPECT_THROW(train_kmeans_batch(xs, 3, n, d, params(8, 50), seeds, counting, hooks), Cancelled);
        EXPECT_EQ(polls, allowed + 1);
        EXPECT_EQ(counting.ends, ends + 1) << "end_batch() also when cancelled";
    }
    // Progress: problem-iterations of 3 * 4, rising to all of them, batched or not.
    for (const bool together : {true, false}) {
        counting.together = together;
        std::vector<size_t> done_seen;
        Hooks progress;
        progress.progress = [&](size_t done, size_t total) {
            EXPECT_EQ(total, 12u);
            done_seen.push_back(done);
        };
        train_kmeans_batch(xs, 3, n, d, params(8, 4), seeds, counting, progress);
        ASSERT_FALSE(done_seen.empty());
        EXPECT_TRUE(std::is_sorted(done_seen.begin(), done_seen.end()));
        EXPECT_EQ(done_seen.back(), 12u);
        EXPECT_EQ(done_seen.front(), together ? 3u : 1u);
    }
}

TEST(TrainKMeansBatch, MemoryBoundCoversAllocations) {
    if (!heap_is_visible()) GTEST_SKIP() << "mallinfo2() does not see this allocator (sanitizer build?)";
    const size_t count = 12, n = 8000, d = 8, k = 256;
    std::vector<float> x = random_matrix(n * count, d, 321);
    std::vector<const float*> xs;
    std::vector<uint64_t> seeds;
    for (size_t i = 0; i < count; ++i) {
        xs.push_back(x.data() + i * n * d);
        seeds.push_back(i + 1);
    }
    HeapPeak heap;
    CpuAssigner cpu(2);
    {
        const auto r = train_kmeans_batch(xs.data(), count, n, d, params(k, 3), seeds.data(), cpu, heap.hooks());
        heap.sample();
    }
    EXPECT_GT(heap.peak, count * n * 3 * sizeof(int32_t)) << "every problem's arrays were live";
    EXPECT_LE(heap.peak, kmeans_batch_memory_bytes(count, n, k, d));
    EXPECT_EQ(kmeans_batch_memory_bytes(1, n, k, d), kmeans_memory_bytes(n, k, d));
    EXPECT_LT(kmeans_batch_memory_bytes(2, n, k, d), 2 * kmeans_batch_memory_bytes(1, n, k, d));
}

}  // namespace
}  // namespace pg_ivf::core
