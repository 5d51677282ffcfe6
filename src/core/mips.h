// The reduction of maximum-inner-product search to L2 (Bachrach et al. 2014),
// the list geometry of inner-product indexes: with M the largest row norm of
// the data at build, each row x is placed by L2 as x' = [x, sqrt(M^2 - ||x||^2)]
// (every x' has norm M) and a query as q' = [q, 0], so
//     ||q' - x'||^2 = ||q||^2 + M^2 - 2 <q, x>
// and the nearest list in augmented space is the one that holds large inner
// products.  Centroids are trained, and rows assigned, in d + 1 dimensions;
// codes and residuals stay d-dimensional.  max_norm2 = 0 means no reduction
// (other metrics, indexes built before it): lists are L2 cells of x.
// Queries rank lists by <q, r_j>, r_j the list's ranking vector (below): a
// list's large inner products come from its few largest-norm rows, which a
// centroid averages away.  (Before, lists were ranked by <q, c_j>: since the
// top rows of q are those of s q for any s > 0, ||s q' - c'||^2 ranks lists as
// well for every s, and s -> infinity, the plain inner product, found the top
// 10 in the fewest lists, recall 0.921 at 8 of 245 Fashion-MNIST lists.)
#pragma once
#ifdef POSTGRES_H
#error "src/core headers must not be included after postgres.h"
#endif

#include <cstddef>
#include <cstdint>
#include <vector>

#include "hooks.h"
#include "kmeans.h"

namespace pg_ivf::core {

// An index whose largest squared row norm is not below this gets no
// reduction (max_norm2 = 0): its extra coordinates could overflow a float,
// and its inner products the operator's float sums (bounds.h).
constexpr double kMipsMaxSquaredNorm = 0x1p126;

// ||x||^2 summed in double from the float elements: the norm every place of
// the reduction compares with max_norm2 (the build's maximum, an insert's test
// for a row beyond it), so they agree bit for bit.
double mips_squared_norm(const float* x, size_t d) noexcept;

// The extra coordinate of a row: sqrt(max_norm2 - ||x||^2), 0 for a row at or
// beyond the largest norm (only rows inserted after the build).
float mips_extra(const float* x, size_t d, double max_norm2) noexcept;

// Writes x'_i = [x_i, mips_extra(x_i)] for n rows read at x + i * x_stride to
// out + i * (d + 1).  In place when out == x and x_stride == d + 1 (the
// extra slot is overwritten).
void mips_augment_rows(const float* x, size_t x_stride, size_t n, size_t d, double max_norm2, float* out);

// Rows of d + 1 floats packed into rows of d, in place (drops each row's last value).
void mips_drop_extra(float* x, size_t n, size_t d);

// Centroids of the augmented space (k * (d + 1)) from the d-dimensional
// centroids (k * d) and their extra coordinates (k).
std::vector<float> mips_join_centroids(const float* centroids, const float* extras, size_t k, size_t d);

// Splits augmented centroids (k * (d + 1)) into centroids (k * d) and extras (k).
void mips_split_centroids(const float* joined, size_t k, size_t d, float* centroids, float* extras);

// The ranking vector of a list leans from its centroid c to its longest
// rows: r = kMipsRankCentroidShare c + (1 - kMipsRankCentroidShare) h, h the
// mean of its kMipsRankRows largest-norm rows.  On raw Fashion-MNIST (245
// lists) the true inner-product top 10 are among the largest 1-15 % of norms
// (436 distinct rows for 1,000 queries), which a centroid averages away.
// Offline (bench/mips_rank.py: FAISS k-means on the augmented rows, 1,000
// queries, several draws), the lists needed for recall@10 0.99: 26-31 by c,
// 18-26 by h alone, 16-24 by r; a ball bound <q, c> + ||q|| max ||x - c||
// needs 39-43, a 0.5-0.95 quantile radius 31-40, the list's largest norm
// 81-91.  On pg_ivf's own lists (README, goal 2): 32 by c, 20 by r.  A
// ranking heuristic only: no bound or stopping rule reads it, so rows
// inserted after the training (which it does not follow) never make an
// answer inexact.
constexpr size_t kMipsRankRows = 4;
constexpr double kMipsRankCentroidShare = 0.25;

// Writes the k ranking vectors (k * d) from n rows x (n * d), their lists
// labels (n) and the centroids (k * d): h of list j is the mean, in double,
// of its kMipsRankRows rows of largest mips_squared_norm (ties: the lower
// row), of all its rows when fewer; a list without rows gets its centroid.
// Labels outside [0, k) are skipped.
void mips_rank_vectors(const float* x, size_t n, size_t d, const int32_t* labels, const float* centroids, size_t k,
                       float* out);

// The one assignment of rows to lists (build, insert, any later maintenance):
// labels[i] = the nearest of k list centroids to row i (x: n * d) by L2.
// With max_norm2 > 0 the rows are augmented and list_centroids is the
// augmented k * (d + 1) array (mips_join_centroids), otherwise the plain k * d.
// dist2 (n) is the assigner's squared distance in that space.
void assign_to_lists(Assigner& assigner, const float* x, size_t n, size_t d, const float* list_centroids, size_t k,
                     double max_norm2, int32_t* labels, float* dist2, const Hooks& hooks);

}  // namespace pg_ivf::core
