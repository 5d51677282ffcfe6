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
                    int64_t* offsets, uint64_t* order) {
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

// New centroid of every non-empty cluster: cluster_mean() of its rows in
// every dimension, computed row-major here (the same additions in the same
// order per dimension, but each row read once).  Empty clusters keep their
// old centroid until split.  sum: scratch of size d.
void update_centroids(const float* x, size_t n, size_t d, size_t k, const int64_t* counts,
                      const int64_t* offsets, const uint64_t* order, double* sum, float* centroids) {
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

// Scratch of the update step, shared by the problems of a batch because
// their updates run one after another.
struct UpdateScratch {
    std::vector<uint64_t> order;    // n
    std::vector<int64_t> counts;    // k
    std::vector<int64_t> offsets;   // k + 1
    std::vector<double> sum;        // d

    UpdateScratch(size_t n, size_t k, size_t d) : order(n), counts(k), offsets(k + 1), sum(d) {}
};

// One k-means problem between assignments: seeded on construction; after
// the caller wrote labels() and dist2() for centroids(), update() records
// the objective and either stops (budget spent, no label changed) or moves
// the centroids.  train_kmeans and train_kmeans_batch drive the same steps.
class Lloyd {
public:
    Lloyd(const float* x, size_t n, size_t d, const KMeansParams& params, uint64_t seed)
        : x_(x), n_(n), d_(d), k_(params.k), spherical_(params.spherical),
          budget_(std::max(params.iterations, 0)), rng_(seed) {
        result_.centroids.assign(k_ * d_, 0.0f);
        if (n_ == 0 || d_ == 0) {
            budget_ = 0;
            return;
        }
        seed_centroids(x_, n_, d_, k_, rng_, result_.centroids.data());
        if (spherical_) normalize_all(k_, d_, result_.centroids.data());
        if (budget_ == 0) return;
        labels_.resize(n_);
        previous_.resize(n_);
        dist2_.resize(n_);
    }

    bool running() const { return !done_ && result_.iterations < budget_; }
    // Iterations run, counting a stopped problem's whole budget as run.
    size_t progress() const { return static_cast<size_t>(running() ? result_.iterations : budget_); }
    const float* x() const { return x_; }
    const float* centroids() const { return result_.centroids.data(); }
    int32_t* labels() { return labels_.data(); }
    float* dist2() { return dist2_.data(); }

    void update(UpdateScratch& s, Assigner& assigner, const Hooks& hooks) {
        double objective = 0.0;
        for (size_t i = 0; i < n_; ++i) objective += dist2_[i];
        result_.objective.push_back(objective);
        const int it = result_.iterations++;
        // Same labels as last time: the update would reproduce the same centroids.
        if (it > 0 && labels_ == previous_) {
            done_ = true;
            return;
        }
        labels_.swap(previous_);
        float* centroids = result_.centroids.data();
        group_by_label(previous_.data(), n_, k_, s.counts.data(), s.offsets.data(), s.order.data());
        if (!assigner.update_centroids(x_, n_, k_, d_, s.offsets.data(), s.order.data(), centroids, hooks))
            update_centroids(x_, n_, d_, k_, s.counts.data(), s.offsets.data(), s.order.data(), s.sum.data(),
                             centroids);
        result_.empty_splits += split_empty_clusters(k_, d_, rng_, s.counts.data(), centroids);
        if (spherical_) normalize_all(k_, d_, centroids);
    }

    // The result; the iteration arrays are freed.
    KMeansResult take() {
        std::vector<int32_t>().swap(labels_);
        std::vector<int32_t>().swap(previous_);
        std::vector<float>().swap(dist2_);
        return std::move(result_);
    }

private:
    const float* x_;
    size_t n_, d_, k_;
    bool spherical_;
    int budget_;
    bool done_ = false;
    std::mt19937_64 rng_;
    KMeansResult result_;
    std::vector<int32_t> labels_;
    std::vector<int32_t> previous_;
    std::vector<float> dist2_;
};

void check_k(size_t k) {
    if (k == 0) throw std::invalid_argument("k-means needs k >= 1");
    if (k > static_cast<size_t>(INT32_MAX)) throw std::invalid_argument("k-means supports k < 2^31");
}

// Progress counts iterations; the assigner's row counts would interleave with them.
Hooks assign_hooks_of(const Hooks& hooks) {
    Hooks inner;
    inner.should_cancel = hooks.should_cancel;
    return inner;
}

}  // namespace

void Assigner::assign_batch(const AssignJob* jobs, size_t count, size_t n, size_t k, size_t d,
                            const Hooks& hooks) {
    for (size_t i = 0; i < count; ++i) {
        if (hooks.cancelled()) throw Cancelled();
        assign(jobs[i].x, n, jobs[i].centroids, k, d, jobs[i].labels, jobs[i].dist2, hooks);
    }
}

bool Assigner::update_centroids(const float*, size_t, size_t, size_t, const int64_t*, const uint64_t*, float*,
                                const Hooks&) {
    return false;
}

// Seed, then alternate assignment and update until the iteration budget is
// spent or no row changes cluster.
KMeansResult train_kmeans(const float* x, size_t n, size_t d, const KMeansParams& params,
                          Assigner& assigner, const Hooks& hooks) {
    check_k(params.k);
    Lloyd lloyd(x, n, d, params, params.seed);
    if (!lloyd.running()) return lloyd.take();
    UpdateScratch scratch(n, params.k, d);
    const Hooks inner = assign_hooks_of(hooks);
    for (int it = 0; lloyd.running(); ++it) {
        if (hooks.cancelled()) throw Cancelled();
        assigner.assign(x, n, lloyd.centroids(), params.k, d, lloyd.labels(), lloyd.dist2(), inner);
        hooks.report(static_cast<size_t>(it + 1), static_cast<size_t>(params.iterations));
        lloyd.update(scratch, assigner, inner);
    }
    return lloyd.take();
}

// The same iteration for every problem, one assign_batch() per round over
// the problems still running, in problem order; or, for an assigner that
// does not batch, over the first problem still running, so each problem
// runs to its end while its rows are in cache (the results are the same:
// the problems are independent).
std::vector<KMeansResult> train_kmeans_batch(const float* const* x, size_t count, size_t n, size_t d,
                                             const KMeansParams& params, const uint64_t* seeds,
                                             Assigner& assigner, const Hooks& hooks) {
    check_k(params.k);
    std::vector<Lloyd> problems;
    problems.reserve(count);
    for (size_t i = 0; i < count; ++i) problems.emplace_back(x[i], n, d, params, seeds[i]);
    const auto running = [&problems] {
        return std::any_of(problems.begin(), problems.end(), [](const Lloyd& l) { return l.running(); });
    };
    if (running()) {
        // The rows stop being the assigner's to keep however this block ends.
        struct EndBatch {
            Assigner& a;
            ~EndBatch() { a.end_batch(); }
        } end{assigner};
        UpdateScratch scratch(n, params.k, d);
        const Hooks inner = assign_hooks_of(hooks);
        std::vector<AssignJob> jobs;
        std::vector<Lloyd*> active;
        jobs.reserve(count);
        active.reserve(count);
        const bool together = assigner.batches();
        const size_t total = count * static_cast<size_t>(std::max(params.iterations, 0));
        while (running()) {
            if (hooks.cancelled()) throw Cancelled();
            jobs.clear();
            active.clear();
            for (Lloyd& l : problems)
                if (l.running()) {
                    jobs.push_back(AssignJob{l.x(), l.centroids(), l.labels(), l.dist2()});
                    active.push_back(&l);
                    if (!together) break;
                }
            assigner.assign_batch(jobs.data(), jobs.size(), n, params.k, d, inner);
            for (Lloyd* l : active) l->update(scratch, assigner, inner);
            size_t done = 0;
            for (const Lloyd& l : problems) done += l.progress();
            hooks.report(done, total);
        }
    }
    std::vector<KMeansResult> results;
    results.reserve(count);
    for (Lloyd& l : problems) results.push_back(l.take());
    return results;
}

// Mirrors train_kmeans() and CpuAssigner::assign(): the seeding permutation is
// freed before the iteration arrays exist, so the peak is the larger of the two
// phases.  The CPU assigner's scratch is counted for its maximum thread count
// (kMaxAssignThreads) because the thread count is not known here; other
// assigners account for their own (e.g. device) memory.
size_t kmeans_memory_bytes(size_t n, size_t k, size_t d) { return kmeans_batch_memory_bytes(1, n, k, d); }

// A batch keeps every problem's centroids and its labels, previous labels and
// distances; the update scratch and the CPU assigner's scratch exist once.
// Problem i seeds while problems before it already hold their arrays, so the
// seeding permutation adds to all but the last problem's arrays.
size_t kmeans_batch_memory_bytes(size_t count, size_t n, size_t k, size_t d) {
    if (count == 0) return 0;
    const size_t centroids = k * d * sizeof(float);
    const size_t seeding = n * sizeof(size_t);
    const size_t per_problem = centroids + n * (sizeof(int32_t) * 2 + sizeof(float));
    const size_t scratch = n * sizeof(uint64_t) + (2 * k + 1) * sizeof(int64_t) + d * sizeof(double) +
                           cpu_assign_scratch_bytes(n, k, d, kMaxAssignThreads);
    // Objective histories (up to 4096 iterations) and allocator/vector overheads.
    const size_t fixed = 64 * 1024 + count * 1024;
    return count * per_problem + std::max(seeding, scratch) + fixed + count * sizeof(AssignJob) * 2;
}

}  // namespace pg_ivf::core
