// PQ codebook training and per-row encoding.
#include "pq.h"

#include <algorithm>
#include <cstring>
#include <random>

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

size_t pq_training_memory_bytes(size_t n, size_t d, size_t m) {
    const size_t ns = pq_training_rows(n);
    const size_t dsub = m == 0 ? d : d / m;
    return ns * sizeof(size_t) + ns * d * sizeof(float) + ns * dsub * sizeof(float) +
           kmeans_memory_bytes(ns, kPqCentroids, dsub);
}

// Subsample first (residuals of the chosen rows only), then one k-means per sub-space.
void pq_train(const float* x, size_t n, size_t d, size_t m, const float* centroids, const int32_t* labels,
              int iterations, uint64_t seed, Assigner& assigner, const Hooks& hooks, float* codebooks) {
    const size_t dsub = d / m;
    std::fill(codebooks, codebooks + m * kPqCentroids * dsub, 0.0f);
    if (n == 0) return;
    const std::vector<size_t> rows = sample_rows(n, pq_training_rows(n), seed);
    const size_t ns = rows.size();
    const bool residual = centroids != nullptr && labels != nullptr;
    std::vector<float> sample(ns * d);
    for (size_t r = 0; r < ns; ++r) {
        const float* row = x + rows[r] * d;
        float* out = sample.data() + r * d;
        if (residual) {
            const float* c = centroids + static_cast<size_t>(labels[rows[r]]) * d;
            for (size_t j = 0; j < d; ++j) out[j] = row[j] - c[j];
        } else {
            std::memcpy(out, row, d * sizeof(float));
        }
    }
    std::vector<float> slice(ns * dsub);
    // k-means polls cancellation but reports no progress of its own: the unit
    // reported here is sub-quantizers trained.
    Hooks inner;
    inner.should_cancel = hooks.should_cancel;
    for (size_t q = 0; q < m; ++q) {
        if (hooks.cancelled()) throw Cancelled();
        hooks.report(q, m);
        for (size_t r = 0; r < ns; ++r)
            std::memcpy(slice.data() + r * dsub, sample.data() + r * d + q * dsub, dsub * sizeof(float));
        KMeansParams params;
        params.k = kPqCentroids;
        params.iterations = iterations;
        params.seed = seed + 0x9E3779B97F4A7C15ull * (q + 1);
        params.spherical = false;
        const KMeansResult result = train_kmeans(slice.data(), ns, dsub, params, assigner, inner);
        std::memcpy(codebooks + q * kPqCentroids * dsub, result.centroids.data(), kPqCentroids * dsub * sizeof(float));
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
