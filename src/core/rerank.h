// How deep a PQ scan re-ranks when the user set no depth (ivf.pq_rerank = 0):
// which probed rows can plausibly enter the nearest kRerankCover, judged from
// each row's PQ estimate and its stored error bound.  A selection, not a
// bound: the scan's order guarantee never depends on it (see ivfscan.cpp).
#pragma once
#ifdef POSTGRES_H
#error "src/core headers must not be included after postgres.h"
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace pg_ivf::core {

// The rows the automatic depth is sized for: LIMIT 50, five times ivf_recall's
// and ann-benchmarks' k.  X, the likely reach of the nearest 50, is then an
// order statistic of many estimates, and LIMIT 10 pays little for it: the
// rows likely within X are mostly those likely within the 10th nearest's
// reach.  Fashion-MNIST PQ56, probes 8, 1,000 queries (bench/pq_depth.py: a
// FAISS-trained twin of the index; recall among the probed rows 0.9911),
// rows re-ranked and recall at LIMIT 10 / LIMIT 50:
//   reach over est + z err, cover 20, z 0.12 (before): 101 rows 0.9911 / 347 rows 0.915
//   reach over est + z^2 err, cover 40, z 0.071:       67 rows 0.9904 / 310 rows 0.866
//   reach over est + z^2 err, cover 50, z 0.071:       81 rows 0.9909 / 183 rows 0.922
//   reach over est + z^2 err, cover 60, z 0.071:       95 rows 0.9911 / 145 rows 0.951
// On a pg_ivf index (heap rows fetched a query) cover 20 gave 99.5
// rows at 0.9909 / 364 rows at 0.913, cover 50 80.4 rows at 0.9907 / 190 at
// 0.920.  Larger LIMITs still get rows, see ivfscan.cpp.
constexpr size_t kRerankCover = 50;

// The share z of a row's guaranteed error interval its distance is taken to
// use below the estimate (QueryScanner::likely_range).  The interval est +-
// err holds when the row's quantization error e points straight along
// q - x~; in d dimensions the cosine between them concentrates around 0 with
// a spread of about 1 / sqrt(d_eff) (Fashion-MNIST PQ56: (d - est) / err has
// sd 0.10 over all rows, mean -0.02 for the nearest 10, +0.13 for the rest).
// 2 / sqrt(d), at most 1, where the likely range is the guaranteed one (few
// dimensions: the depth then keeps every row that can enter the nearest
// kRerankCover).  (It was at least 0.12 with a reach over est + z err: see
// kRerankCover's first line of numbers.)
inline double rerank_share(size_t d) {
    return std::min(1.0, 2.0 / std::sqrt(static_cast<double>(d == 0 ? 1 : d)));
}

// The share above the estimate that sets the reach X (rerank_threshold over
// est + z^2 err).  The nearest rows' estimates are nearly unbiased (mean
// -0.02 err on Fashion-MNIST), so in many dimensions the cover-th smallest
// estimate itself is the reach (z^2 = 0.005 at 784 dims); z^2 reaches z = 1
// with the share, so in few dimensions the reach stays the guaranteed one.
inline double rerank_reach_share(double z) { return z * z; }

// The cover-th smallest of hi[0..n) (NaN ranks last): no row whose likely
// range starts above it is likely among the nearest `cover`.  +inf when
// there are fewer than `cover` values.
inline float rerank_threshold(const float* hi, size_t n, size_t cover) {
    if (cover == 0 || n < cover) return std::numeric_limits<float>::infinity();
    std::vector<float> v(hi, hi + n);
    for (float& x : v)
        if (std::isnan(x)) x = std::numeric_limits<float>::infinity();
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(cover - 1), v.end());
    return v[cover - 1];
}

}  // namespace pg_ivf::core
