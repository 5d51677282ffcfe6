// The per-element rules of k-means, as inline functions that compile for both
// the host and (under nvcc) the device, so the CPU path and a future CUDA
// backend pick nearest centroids, finish centroids and split empty clusters
// identically.  Only plain C math here: no std containers, no exceptions.
// The few host-only declarations (CPU assigner sizing, a test hook) sit here
// because kmeans.cpp and the tests need them and the assigner has no header.
#pragma once
#ifdef POSTGRES_H
#error "src/core headers must not be included after postgres.h"
#endif

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#define PG_IVF_HD __host__ __device__
#else
#define PG_IVF_HD
#endif

namespace pg_ivf::core {

// Relative size of the nudge that separates the two halves of a split cluster.
constexpr float kSplitEpsilon = 1.0f / 1024.0f;

// Rows per task of the CPU assignment step (a multiple of its 6-row
// micro-tile), and the most threads it will run; kmeans_memory_bytes() bounds
// the assigner's scratch with these.
constexpr size_t kAssignRowBlock = 240;
constexpr int kMaxAssignThreads = 64;

// Bytes CpuAssigner::assign() allocates for n rows, k centroids of dimension
// d on `threads` threads (packed centroids plus per-thread running minima).
// Host only; defined in assign_cpu.cpp.
size_t cpu_assign_scratch_bytes(size_t n, size_t k, size_t d, int threads);

// Test hook: true makes CpuAssigner (and tile_dot) use the portable kernel even
// where AVX2 exists, so both kernels are tested on one machine; false restores the
// automatic choice.  Host only; do not flip it while an assignment runs.
void cpu_assign_force_portable(bool portable);

// Test hook: true keeps CpuAssigner on the AVX2 tile where AVX-512 exists,
// so the two are compared on one machine; false restores the automatic choice.
void cpu_assign_cap_avx2(bool cap);

// True when candidate a beats b as the nearest centroid: smaller distance,
// and on an exact tie the lower index, so results never depend on visit order.
// Templated so the double-precision oracle applies the same rule.
template <class Dist>
PG_IVF_HD inline bool better(Dist dist_a, int64_t idx_a, Dist dist_b, int64_t idx_b) {
    return dist_a < dist_b || (dist_a == dist_b && idx_a < idx_b);
}

// A float result that overflowed (e.g. the difference of two finite rows far
// apart) clamped to the largest finite float of its sign, so training and
// encoding of finite rows never produce an infinite parameter.  Exact otherwise.
PG_IVF_HD inline float saturate(float v) { return v > FLT_MAX ? FLT_MAX : (v < -FLT_MAX ? -FLT_MAX : v); }

// Squared L2 from the expanded form can come out slightly negative by rounding.
PG_IVF_HD inline float clamp_distance(float dist2) { return dist2 > 0.0f ? dist2 : 0.0f; }

// Turns a cluster's accumulated row sum (size d, in double to keep large
// clusters exact enough) into its mean.  count must be > 0; empty clusters are
// re-seeded by splitting instead.
PG_IVF_HD inline float mean_of(double sum, int64_t count) {
    return static_cast<float>(sum * (1.0 / static_cast<double>(count)));
}

PG_IVF_HD inline void finalize_centroid(const double* sum, int64_t count, size_t d, float* centroid) {
    for (size_t j = 0; j < d; ++j) centroid[j] = mean_of(sum[j], count);
}

// Dimension j of the mean of rows order[begin..end) of x (rows of d floats),
// summed in double in that order: what the update gives a non-empty cluster,
// row-major on the CPU, one thread per (cluster, dimension) on the GPU.
PG_IVF_HD inline float cluster_mean(const float* x, size_t d, const uint64_t* order, int64_t begin, int64_t end,
                                    size_t j) {
    double sum = 0.0;
    for (int64_t p = begin; p < end; ++p) sum += static_cast<double>(x[order[p] * d + j]);
    return mean_of(sum, end - begin);
}

// Scales a centroid (size d) to unit length for spherical k-means; a zero
// vector has no direction and is left as is (never NaN).  Returns the old norm.
PG_IVF_HD inline double normalize_centroid(float* centroid, size_t d) {
    double norm2 = 0.0;
    for (size_t j = 0; j < d; ++j) norm2 += static_cast<double>(centroid[j]) * centroid[j];
    const double norm = sqrt(norm2);
    if (norm > 0.0) {
        const double inv = 1.0 / norm;
        for (size_t j = 0; j < d; ++j) centroid[j] = static_cast<float>(centroid[j] * inv);
    }
    return norm;
}

// Maps 64 random bits to a double uniform in [0, 1), identically everywhere
// (std:: distributions differ between standard libraries).
PG_IVF_HD inline double unit_interval(uint64_t bits) {
    return static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0);  // 2^-53
}

// Picks the cluster to split for one empty cluster: cluster c is chosen with
// probability proportional to sizes[c] - 1 (a singleton cannot be split), so
// big clusters give up centroids first.  u in [0, 1) is the seeded random draw;
// the scan is in index order, hence deterministic.  sizes has k entries.
// Returns -1 when no cluster has two or more members.
PG_IVF_HD inline int64_t choose_split_cluster(const int64_t* sizes, size_t k, double u) {
    int64_t total = 0;
    for (size_t c = 0; c < k; ++c) total += sizes[c] > 1 ? sizes[c] - 1 : 0;
    if (total == 0) return -1;
    int64_t target = static_cast<int64_t>(u * static_cast<double>(total));
    if (target >= total) target = total - 1;
    if (target < 0) target = 0;
    int64_t acc = 0;
    for (size_t c = 0; c < k; ++c) {
        acc += sizes[c] > 1 ? sizes[c] - 1 : 0;
        if (target < acc) return static_cast<int64_t>(c);
    }
    return -1;  // unreachable: acc reaches total
}

// Splits centroid `big` (size d) into itself and `copy` (size d): both start
// as big and move apart by eps * (|c_j| + rms(c)) per coordinate, with signs
// alternating over coordinates, so the two halves of the old cluster fall to
// different sides of their bisecting plane.  The rms term also moves zero
// coordinates.  A zero centroid stays zero (there is nothing to scale by).
// Near +-FLT_MAX a half saturates instead of overflowing.
PG_IVF_HD inline void split_centroid(float* big, float* copy, size_t d, float eps) {
    double norm2 = 0.0;
    for (size_t j = 0; j < d; ++j) norm2 += static_cast<double>(big[j]) * big[j];
    const float rms = d > 0 ? static_cast<float>(sqrt(norm2 / static_cast<double>(d))) : 0.0f;
    for (size_t j = 0; j < d; ++j) {
        const float c = big[j];
        const float step = eps * (fabsf(c) + rms);
        const float signed_step = (j % 2 == 0) ? step : -step;
        copy[j] = saturate(c + signed_step);
        big[j] = saturate(c - signed_step);
    }
}

}  // namespace pg_ivf::core
