// k-means, written once.  Seeding, centroid update, empty-cluster split and
// convergence live here; only the assignment step varies (the CPU kernel here,
// the GPU backend in src/gpu/ and cuda/), so every caller trains through
// train_kmeans() or its batched form, which share one Lloyd iteration.
#pragma once
#ifdef POSTGRES_H
#error "src/core headers must not be included after postgres.h"
#endif

#include <cstddef>
#include <cstdint>
#include <vector>

#include "hooks.h"

namespace pg_ivf::core {

// One of several nearest-centroid problems of one shape solved in one call.
struct AssignJob {
    const float* x;           // n * d
    const float* centroids;   // k * d
    int32_t* labels;          // n
    float* dist2;             // n
};

// Finds, for each of n rows, the nearest of k centroids by L2.
class Assigner {
public:
    virtual ~Assigner() = default;
    // x: n * d row-major; centroids: k * d.  Writes labels[n] (ties: lowest
    // index) and dist2[n] (squared L2, clamped at 0).  Polls hooks between blocks.
    virtual void assign(const float* x, size_t n, const float* centroids, size_t k, size_t d,
                        int32_t* labels, float* dist2, const Hooks& hooks) = 0;
    // assign() of each of `count` jobs of one shape (n rows, k centroids, d
    // dims), with the same results.  This default runs them one after another;
    // a GPU runs many small ones (PQ's sub-quantizers) in one launch.  Until
    // end_batch(), a job's x names the same rows whenever it recurs, so a
    // backend may keep them between calls.  Hooks are polled between jobs
    // (or launches) and by assign(); progress is not reported.
    virtual void assign_batch(const AssignJob* jobs, size_t count, size_t n, size_t k, size_t d,
                              const Hooks& hooks);
    // Whether assign_batch() gains from many jobs per call (a GPU: one
    // launch).  If not, train_kmeans_batch() gives it one job at a time and
    // runs each problem to its end while its rows are in cache.
    virtual bool batches() const { return false; }
    // The rows of earlier assign_batch() calls may change or be freed from
    // now on.  train_kmeans_batch() calls it when it returns or throws.
    virtual void end_batch() noexcept {}
    // The update step of the Lloyd iteration whose assignment was the last
    // assign() call, on rows x (n * d) the backend holds: each cluster c with
    // rows order[offsets[c] .. offsets[c + 1]) gets cluster_mean() in every
    // dimension (the same bits as the host's update); clusters without rows
    // keep their centroid.  Writes all k centroids.  Returns false, writing
    // nothing, when the backend does not hold these rows; train_kmeans then
    // updates on the host.  This default always returns false.
    virtual bool update_centroids(const float* x, size_t n, size_t k, size_t d, const int64_t* offsets,
                                  const uint64_t* order, float* centroids, const Hooks& hooks);
};

// ||x||^2 + ||c||^2 - 2 x.c by fixed row blocks through a register-blocked
// kernel with the arg-min fused in (not cblas_sgemm: the serial OpenBLAS is not
// safe to call from several threads, see assign_cpu.cpp), OpenMP across blocks
// with `threads` threads (clamped to 1..64; 1 = no parallel region).  Results
// do not depend on the thread count.
class CpuAssigner final : public Assigner {
public:
    explicit CpuAssigner(int threads);
    void assign(const float* x, size_t n, const float* centroids, size_t k, size_t d,
                int32_t* labels, float* dist2, const Hooks& hooks) override;
private:
    int threads_;
};

// Double-precision brute force: the oracle the tests compare assigners against.
class ReferenceAssigner final : public Assigner {
public:
    void assign(const float* x, size_t n, const float* centroids, size_t k, size_t d,
                int32_t* labels, float* dist2, const Hooks& hooks) override;
};

struct KMeansParams {
    size_t k = 1;
    int iterations = 10;
    uint64_t seed = 1234;
    // Normalize centroids to unit length after each update (cosine indexes).
    bool spherical = false;
};

struct KMeansResult {
    std::vector<float> centroids;     // size k * d
    std::vector<double> objective;    // sum of squared distances, one per iteration
    int iterations = 0;
    size_t empty_splits = 0;          // clusters re-seeded by splitting a large one
};

// Trains k centroids on x (n * d).  Deterministic for a given seed and thread
// count (with CpuAssigner, for any thread count).  Seeds are distinct random
// rows; Lloyd iterations stop early when no label changes; empty clusters are
// re-seeded by splitting a large one.  n < k is allowed: the first n centroids
// are the n rows (distinct row indices, shuffled), the rest copies of them
// (never an error).  n == 0 or d == 0 gives k zero centroids and no iterations.
// Throws std::invalid_argument for k == 0, Cancelled when hooks ask,
// std::bad_alloc when memory runs out.  Hooks are polled once per iteration and
// by the assigner.
KMeansResult train_kmeans(const float* x, size_t n, size_t d, const KMeansParams& params,
                          Assigner& assigner, const Hooks& hooks);

// `count` k-means of one shape trained side by side (PQ's m sub-quantizers):
// problem i runs on x[i] (n * d) with params, its seed replaced by seeds[i].
// Each result equals train_kmeans() of that problem alone (for an assigner
// whose assign_batch() equals its assign(), as every one here does).  With
// an assigner that batches(), each Lloyd iteration makes one assign_batch()
// call for all problems still changing (a GPU solves them in one launch);
// otherwise the problems run one after another.  Hooks: polled once per
// iteration and by the assigner; progress reports problem-iterations run of
// count * iterations (a problem that stopped early counts as done).  Throws
// as train_kmeans().
std::vector<KMeansResult> train_kmeans_batch(const float* const* x, size_t count, size_t n, size_t d,
                                             const KMeansParams& params, const uint64_t* seeds,
                                             Assigner& assigner, const Hooks& hooks);

// Bytes train_kmeans allocates beyond x itself (result included, CpuAssigner
// scratch counted for up to 64 threads), so the glue can check them against
// maintenance_work_mem before calling.
size_t kmeans_memory_bytes(size_t n, size_t k, size_t d);

// The same for train_kmeans_batch() of `count` problems.
size_t kmeans_batch_memory_bytes(size_t count, size_t n, size_t k, size_t d);

}  // namespace pg_ivf::core
