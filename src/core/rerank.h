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

// The rows the automatic depth is sized for: twice LIMIT 10 (ivf_recall's and
// ann-benchmarks' k), half pgvector's hnsw.ef_search.  Covering 20 rather
// than 10 costs few rows (the likely ranges of the nearest rows overlap) and
// keeps LIMIT 50 good: Fashion-MNIST PQ56, probes 8, recall among the probed
// rows at z = 0.12: cover 10 re-ranks 57 rows a query (recall@10 0.9975,
// @50 0.74), cover 20 93 rows (1.0, 0.93), cover 40 153 rows (1.0, 0.995).
// Larger LIMITs still get rows, see ivfscan.cpp.
constexpr size_t kRerankCover = 20;

// The share z of a row's guaranteed error interval its distance is taken to
// use (QueryScanner::likely_range).  The interval est +- err holds when the
// row's quantization error e points straight along q - x~; in d dimensions
// the cosine between them concentrates around 0 with a spread of about
// 1 / sqrt(d_eff) (Fashion-MNIST PQ56: sd 0.10, 99.9th percentile 0.39).
// 2 / sqrt(d), at least 0.12 (1.2 sd of that measurement), at most 1, where
// the likely range is the guaranteed one (few dimensions: the depth then
// keeps every row that can enter the nearest kRerankCover).
inline double rerank_share(size_t d) {
    const double z = 2.0 / std::sqrt(static_cast<double>(d == 0 ? 1 : d));
    return std::min(1.0, std::max(0.12, z));
}

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
