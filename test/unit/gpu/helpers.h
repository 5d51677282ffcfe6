// Data and comparisons shared by the GPU tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/kmeans.h"
#include "core/kmeans_math.h"

namespace pg_ivf::gpu::test {

// n * d normal values, seeded.
inline std::vector<float> random_matrix(size_t n, size_t d, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<float> m(n * d);
    for (float& v : m) v = normal(rng);
    return m;
}

// Rows around `blobs` well separated centers (spread 20 vs noise 1), so
// k-means has no near ties.  Returns n * d.
inline std::vector<float> blob_matrix(size_t n, size_t d, size_t blobs, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<float> centers(blobs * d);
    for (float& v : centers) v = 20.0f * normal(rng);
    std::vector<float> m(n * d);
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < d; ++j) m[i * d + j] = centers[(i % blobs) * d + j] + normal(rng);
    return m;
}

// True when CpuAssigner runs its AVX2/FMA kernel, whose arithmetic the GPU
// code reproduces; the portable kernel rounds differently.
inline bool cpu_uses_fma_kernel() {
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

// When GPU and CPU results must agree bit for bit: the CPU runs its FMA
// kernel and d is a multiple of 16.  Otherwise the CPU norm's scalar tail
// (d % 16 elements) is plain C++ that GCC contracts into FMAs in some
// vectorized paths and not in others, so its rounding is the compiler's choice.
inline bool bit_exact_expected(size_t d) { return cpu_uses_fma_kernel() && d % 16 == 0; }

inline double exact_distance(const float* x, const float* c, size_t d) {
    double s = 0.0;
    for (size_t t = 0; t < d; ++t) {
        const double diff = static_cast<double>(x[t]) - c[t];
        s += diff * diff;
    }
    return s;
}

inline double norm2(const float* v, size_t d) {
    double s = 0.0;
    for (size_t t = 0; t < d; ++t) s += static_cast<double>(v[t]) * v[t];
    return s;
}

// Results of two assigners agree "up to ties": where labels differ, the two
// centroids are equally near in exact arithmetic within float rounding of the
// expanded form (1e-5 of ||x||^2 + ||c||^2), and distances agree within that
// bound too.  Returns the number of rows with identical label and distance bits.
inline size_t expect_same_up_to_ties(const float* x, size_t n, const float* centroids, size_t d,
                                     const std::vector<int32_t>& la, const std::vector<float>& da,
                                     const std::vector<int32_t>& lb, const std::vector<float>& db) {
    size_t identical = 0;
    for (size_t i = 0; i < n; ++i) {
        const float* xi = x + i * d;
        const float* ca = centroids + static_cast<size_t>(la[i]) * d;
        const float* cb = centroids + static_cast<size_t>(lb[i]) * d;
        const double scale = norm2(xi, d) + std::max(norm2(ca, d), norm2(cb, d)) + 1e-30;
        const double tol = 1e-5 * scale;
        if (la[i] != lb[i]) {
            EXPECT_LE(std::fabs(exact_distance(xi, ca, d) - exact_distance(xi, cb, d)), tol)
                << "row " << i << ": labels " << la[i] << " and " << lb[i] << " are not a tie";
        }
        EXPECT_LE(std::fabs(static_cast<double>(da[i]) - db[i]), tol) << "row " << i;
        if (la[i] == lb[i] && std::memcmp(&da[i], &db[i], sizeof(float)) == 0) ++identical;
    }
    return identical;
}

}  // namespace pg_ivf::gpu::test
