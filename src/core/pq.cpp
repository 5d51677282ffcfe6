// PQ codebook training and per-row encoding.
#include "pq.h"

#include <algorithm>
#include <cstring>
#include <random>

#include "kmeans_math.h"

namespace pg_ivf::core {

namespace {

// Maps 64 random bits to [0, 1) the same way with every standard library.
double unit_draw(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1p-53; }

// Knuth's selection sampling: `count` of n row ids, ascending, in one pass and O(1) memory.
std::vector<size_t> sample_rows(size_t n, size_t count, uint64_t seed) {
    std::vector<size_t> rows;
    rows.reserve(count);
    if (count >= n) {
        for (size_t i = 0; i < n; ++i) rows.push_back(i);
        return rows;
    }
    std::mt19937_64 rng(seed);
    for (size_t i = 0; i < n && rows.size() < count; ++i) {
        const double left = static_cast<double>(n - i);
        if (left * unit_draw(rng) < static_cast<double>(count - rows.size())) rows.push_back(i);
    }
    return rows;
}

// Multiversioned for x86 so the 256-wide loops get AVX2 / AVX-512 registers on
// CPUs that have them while the build keeps baseline flags.
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define PG_IVF_PQ_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define PG_IVF_PQ_CLONES
#endif

// dist[c] = ||cb_c||^2 - 2 <v, cb_c> for the 256 codewords of one sub-space
// (||v - cb_c||^2 minus the constant ||v||^2); cbt is (dsub, 256), norms 256.
PG_IVF_PQ_CLONES
void codeword_scores(const float* v, const float* cbt, const float* norms, size_t dsub, float* dist) {
    for (size_t c = 0; c < kPqCentroids; ++c) dist[c] = norms[c];
    for (size_t i = 0; i < dsub; ++i) {
        const float w = -2.0f * v[i];
        const float* col = cbt + i * kPqCentroids;
        for (size_t c = 0; c < kPqCentroids; ++c) dist[c] += w * col[c];
    }
}

// Index of the smallest of the 256 scores (ties: lowest index).  Sixteen
// lanes in GCC vector types, so each clone compiles to compares and blends
// instead of one long compare chain.
typedef float V16f __attribute__((vector_size(64)));
typedef int32_t V16i __attribute__((vector_size(64)));

PG_IVF_PQ_CLONES
size_t argmin_256(const float* dist) {
    V16f best;
    std::memcpy(&best, dist, sizeof best);
    V16i idx = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    V16i cur = idx;
    for (size_t c = 16; c < kPqCentroids; c += 16) {
        V16f v;
        std::memcpy(&v, dist + c, sizeof v);
        cur += 16;
        const V16i lt = v < best;
        best = lt ? v : best;
        idx = lt ? cur : idx;
    }
    size_t out = 0;
    for (size_t l = 1; l < 16; ++l)
        if (best[l] < best[out] || (best[l] == best[out] && idx[l] < idx[out])) out = l;
    return static_cast<size_t>(idx[out]);
}

}  // namespace

size_t pq_training_rows(size_t n) { return std::min(n, kPqMaxTrainRows); }

size_t pq_batch_size(size_t n, size_t d, size_t m) {
    if (m == 0) return 0;
    const size_t ns = pq_training_rows(n);
    const size_t dsub = d / m;
    // What one more problem adds to a batch (the shared scratch is paid once).
    const size_t per_problem = std::max<size_t>(
        kmeans_batch_memory_bytes(2, ns, kPqCentroids, dsub) - kmeans_batch_memory_bytes(1, ns, kPqCentroids, dsub),
        1);
    const size_t fit = std::max<size_t>(kPqBatchBytes / per_problem, 1);
    // Equal groups: 96 sub-quantizers at 80 a group train as 48 + 48, not 80 + 16.
    const size_t groups = (m + fit - 1) / fit;
    return (m + groups - 1) / groups;
}

size_t pq_training_memory_bytes(size_t n, size_t d, size_t m) {
    const size_t ns = pq_training_rows(n);
    const size_t dsub = m == 0 ? d : d / m;
    const size_t group = std::max<size_t>(pq_batch_size(n, d, m), 1);
    return ns * sizeof(size_t) + ns * d * sizeof(float) + group * (sizeof(float*) + sizeof(uint64_t)) +
           kmeans_batch_memory_bytes(group, ns, kPqCentroids, dsub);
}

// Subsample first (residuals of the chosen rows only), laid out sub-space by
// sub-space so each sub-quantizer's rows are contiguous; then the m k-means
// in groups of pq_batch_size(), each group trained side by side.
void pq_train(const float* x, size_t n, size_t d, size_t m, const float* centroids, const int32_t* labels,
              int iterations, uint64_t seed, Assigner& assigner, const Hooks& hooks, float* codebooks) {
    const size_t dsub = d / m;
    std::fill(codebooks, codebooks + m * kPqCentroids * dsub, 0.0f);
    if (n == 0) return;
    const std::vector<size_t> rows = sample_rows(n, pq_training_rows(n), seed);
    const size_t ns = rows.size();
    const bool residual = centroids != nullptr && labels != nullptr;
    // slices[(q * ns + r) * dsub + i] = dimension q * dsub + i of sample row r.
    std::vector<float> slices(ns * d);
    for (size_t r = 0; r < ns; ++r) {
        const float* row = x + rows[r] * d;
        const float* c = residual ? centroids + static_cast<size_t>(labels[rows[r]]) * d : nullptr;
        for (size_t q = 0; q < m; ++q) {
            float* out = slices.data() + (q * ns + r) * dsub;
            for (size_t i = 0; i < dsub; ++i) {
                const size_t j = q * dsub + i;
                out[i] = residual ? saturate(row[j] - c[j]) : row[j];
            }
        }
    }
    KMeansParams params;
    params.k = kPqCentroids;
    params.iterations = iterations;
    params.spherical = false;
    const size_t group = pq_batch_size(n, d, m);
    std::vector<const float*> xs(group);
    std::vector<uint64_t> seeds(group);
    // The unit reported is sub-quantizers trained, advanced as a group's
    // iterations run.
    for (size_t q0 = 0; q0 < m; q0 += group) {
        if (hooks.cancelled()) throw Cancelled();
        const size_t count = std::min(group, m - q0);
        for (size_t i = 0; i < count; ++i) {
            xs[i] = slices.data() + (q0 + i) * ns * dsub;
            seeds[i] = seed + 0x9E3779B97F4A7C15ull * (q0 + i + 1);
        }
        Hooks inner;
        inner.should_cancel = hooks.should_cancel;
        inner.progress = [&hooks, q0, m, iterations](size_t done, size_t) {
            const size_t budget = iterations > 0 ? static_cast<size_t>(iterations) : 1;
            hooks.report(q0 + done / budget, m);
        };
        hooks.report(q0, m);
        const std::vector<KMeansResult> results =
            train_kmeans_batch(xs.data(), count, ns, dsub, params, seeds.data(), assigner, inner);
        for (size_t i = 0; i < count; ++i)
            std::memcpy(codebooks + (q0 + i) * kPqCentroids * dsub, results[i].centroids.data(),
                        kPqCentroids * dsub * sizeof(float));
    }
    hooks.report(m, m);
}

PqEncoder::PqEncoder(const float* codebooks, size_t d, size_t m)
    : m_(m), dsub_(d / m), transposed_(m * dsub_ * kPqCentroids), norms_(m * kPqCentroids, 0.0f) {
    for (size_t q = 0; q < m_; ++q)
        for (size_t c = 0; c < kPqCentroids; ++c)
            for (size_t i = 0; i < dsub_; ++i) {
                const float v = codebooks[(q * kPqCentroids + c) * dsub_ + i];
                transposed_[(q * dsub_ + i) * kPqCentroids + c] = v;
                norms_[q * kPqCentroids + c] += v * v;
            }
}

// Any codeword choice is correct (err is measured exactly afterwards); this
// one is the nearest up to float rounding of the expanded distance.
void PqEncoder::encode(const float* v, uint8_t* code) const {
    alignas(64) float dist[kPqCentroids];
    for (size_t q = 0; q < m_; ++q) {
        codeword_scores(v + q * dsub_, transposed_.data() + q * dsub_ * kPqCentroids, norms_.data() + q * kPqCentroids,
                        dsub_, dist);
        code[q] = static_cast<uint8_t>(argmin_256(dist));
    }
}

void pq_code_part(const float* codebooks, size_t d, size_t m, const uint8_t* code, double* out) {
    const size_t dsub = d / m;
    for (size_t q = 0; q < m; ++q) {
        const float* cw = codebooks + (q * kPqCentroids + code[q]) * dsub;
        for (size_t i = 0; i < dsub; ++i) out[q * dsub + i] = cw[i];
    }
}

}  // namespace pg_ivf::core
