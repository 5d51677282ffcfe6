// Lloyd's k-means around a pluggable assignment step: seeding, centroid
// update, empty-cluster splitting, spherical normalization and convergence.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "kmeans.h"
#include "kmeans_math.h"

namespace pg_ivf::core {
namespace {

// Uniform integer in [0, bound) from the generator's raw output.  The modulo
// bias is below 2^-40 for any realistic n, and unlike std::uniform_int_distribution
// the sequence is the same with every standard library.
uint64_t draw_below(std::mt19937_64& rng, uint64_t bound) { return rng() % bound; }

// Seeding: FAISS-style distinct random rows (a seeded partial Fisher-Yates
// shuffle), not k-means++.  k-means++ needs k sequential passes over all n
// rows (O(n * k * d) of bandwidth-bound, hard-to-parallelize work, i.e. more
// than a whole BLAS Lloyd iteration), while with IVF's typical 40-256 rows per
// centroid random seeds plus empty-cluster splitting converge to equally good
// lists.  With n < k every row is used once and the remaining centroids cycle
// through the same shuffled rows again.  centroids: size k * d.
void seed_centroids(const float* x, size_t n, size_t d, size_t k, std::mt19937_64& rng,
                    float* centroids) {
    std::vector<size_t> perm(n);
    std::iota(perm.begin(), perm.end(), size_t{0});
    const size_t picks = std::min(n, k);
    for (size_t i = 0; i < picks; ++i) {
        const size_t j = i + static_cast<size_t>(draw_below(rng, n - i));
        std::swap(perm[i], perm[j]);
    }
    for (size_t c = 0; c < k; ++c)
        std::memcpy(centroids + c * d, x + perm[c % picks] * d, d * sizeof(float));
}

// Counting sort of row ids by label, so each cluster's rows can be summed in
// row order: counts size k, offsets size k + 1, order size n.  Rejects labels
// out of range so a faulty assigner cannot corrupt memory here.
void group_by_label(const int32_t* labels, size_t n, size_t k, int64_t* counts,
                    int64_t* offsets, size_t* order) {
    std::fill(counts, counts + k, int64_t{0});
    for (size_t i = 0; i < n; ++i) {
        const int32_t l = labels[i];
        if (l < 0 || static_cast<size_t>(l) >= k)
            throw std::logic_error("k-means assigner returned a label outside [0, k)");
        ++counts[l];
    }
    offsets[0] = 0;
    for (size_t c = 0; c < k; ++c) offsets[c + 1] = offsets[c] + counts[c];
    for (size_t i = 0; i < n; ++i) order[offsets[labels[i]]++] = i;
    // The fill pass advanced every offset to the start of the next cluster; shift back.
    for (size_t c = k; c > 0; --c) offsets[c] = offsets[c - 1];
    offsets[0] = 0;
}

// New centroid of every non-empty cluster: its rows summed in double in row
// order, then finalize_centroid().  Empty clusters keep their old centroid
// until split.  sum: scratch of size d.
void update_centroids(const float* x, size_t n, size_t d, size_t k, const int64_t* counts,
                      const int64_t* offsets, const size_t* order, double* sum, float* centroids) {
    // Rows are visited out of memory order, which defeats the hardware
    // prefetcher; ask for the row kAhead positions later while summing this one.
    constexpr size_t kAhead = 4;
    constexpr size_t kLine = 64 / sizeof(float);
    for (size_t c = 0; c < k; ++c) {
        if (counts[c] == 0) continue;
        std::fill(sum, sum + d, 0.0);
        for (int64_t p = offsets[c]; p < offsets[c + 1]; ++p) {
            if (static_cast<size_t>(p) + kAhead < n) {
                const float* next = x + order[p + kAhead] * d;
                for (size_t j = 0; j < d; j += kLine) __builtin_prefetch(next + j);
            }
            const float* xr = x + order[p] * d;
            for (size_t j = 0; j < d; ++j) sum[j] += static_cast<double>(xr[j]);
        }
        finalize_centroid(sum, counts[c], d, centroids + c * d);
    }
}

// Re-seeds each empty cluster by splitting a populated one (chosen by
// choose_split_cluster() from a seeded draw) and halving its recorded size so
// later picks see the split.  Stops when no cluster has two members left.
// Returns the number of splits.
size_t split_empty_clusters(size_t k, size_t d, std::mt19937_64& rng, int64_t* counts,
                            float* centroids) {
    size_t splits = 0;
    for (size_t c = 0; c < k; ++c) {
        if (counts[c] != 0) continue;
        const int64_t big = choose_split_cluster(counts, k, unit_interval(rng()));
        if (big < 0) break;
        split_centroid(centroids + static_cast<size_t>(big) * d, centroids + c * d, d, kSplitEpsilon);
        counts[c] = counts[big] / 2;
        counts[big] -= counts[c];
        ++splits;
    }
    return splits;
}

// Unit length for every centroid (zero ones stay zero), for cosine indexes.
void normalize_all(size_t k, size_t d, float* centroids) {
    for (size_t c = 0; c < k; ++c) normalize_centroid(centroids + c * d, d);
}

}  // namespace

// Seed, then alternate assignment and update until the iteration budget is
// spent or no row changes cluster.
KMeansResult train_kmeans(const float* x, size_t n, size_t d, const KMeansParams& params,
                          Assigner& assigner, const Hooks& hooks) {
    const size_t k = params.k;
    if (k == 0) throw std::invalid_argument("k-means needs k >= 1");
    if (k > static_cast<size_t>(INT32_MAX)) throw std::invalid_argument("k-means supports k < 2^31");

    KMeansResult result;
    result.centroids.assign(k * d, 0.0f);
    if (n == 0 || d == 0) return result;

    std::mt19937_64 rng(params.seed);
    seed_centroids(x, n, d, k, rng, result.centroids.data());
    if (params.spherical) normalize_all(k, d, result.centroids.data());

    const int iterations = std::max(params.iterations, 0);
    if (iterations == 0) return result;

    std::vector<int32_t> labels(n);
    std::vector<int32_t> previous(n);
    std::vector<float> dist2(n);
    std::vector<size_t> order(n);
    std::vector<int64_t> counts(k);
    std::vector<int64_t> offsets(k + 1);
    std::vector<double> sum(d);
    float* centroids = result.centroids.data();
    // Progress counts iterations; the assigner's row counts would interleave with them.
    Hooks assign_hooks;
    assign_hooks.should_cancel = hooks.should_cancel;

    for (int it = 0; it < iterations; ++it) {
        if (hooks.cancelled()) throw Cancelled();
        assigner.assign(x, n, centroids, k, d, labels.data(), dist2.data(), assign_hooks);

        double objective = 0.0;
        for (size_t i = 0; i < n; ++i) objective += dist2[i];
        result.objective.push_back(objective);
        result.iterations = it + 1;
        hooks.report(static_cast<size_t>(it + 1), static_cast<size_t>(iterations));

        // Same labels as last time: the update would reproduce the same centroids.
        if (it > 0 && labels == previous) break;
        labels.swap(previous);

        group_by_label(previous.data(), n, k, counts.data(), offsets.data(), order.data());
        update_centroids(x, n, d, k, counts.data(), offsets.data(), order.data(), sum.data(), centroids);
        result.empty_splits += split_empty_clusters(k, d, rng, counts.data(), centroids);
        if (params.spherical) normalize_all(k, d, centroids);
    }
    return result;
}

// Mirrors train_kmeans() and CpuAssigner::assign(): the seeding permutation is
// freed before the iteration arrays exist, so the peak is the larger of the two
// phases.  The CPU assigner's scratch is counted for its maximum thread count
// (kMaxAssignThreads) because the thread count is not known here; other
// assigners account for their own (e.g. device) memory.
size_t kmeans_memory_bytes(size_t n, size_t k, size_t d) {
    const size_t centroids = k * d * sizeof(float);
    const size_t seeding = n * sizeof(size_t);
    const size_t per_row = sizeof(int32_t) * 2 + sizeof(float) + sizeof(size_t);
    const size_t assigner = cpu_assign_scratch_bytes(n, k, d, kMaxAssignThreads);
    const size_t iterating = n * per_row + (2 * k + 1) * sizeof(int64_t) + d * sizeof(double) + assigner;
    // Objective history (up to 4096 iterations) and allocator/vector overheads.
    const size_t fixed = 64 * 1024;
    return centroids + std::max(seeding, iterating) + fixed;
}

}  // namespace pg_ivf::core
