// Nearest-centroid assignment on the CPU: the BLAS-blocked production path
// (CpuAssigner) and the double-precision brute-force oracle (ReferenceAssigner).
#include <cblas.h>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <vector>

#include "kmeans.h"
#include "kmeans_math.h"
#include "parallel.h"

namespace pg_ivf::core {
namespace {

// Work (multiply-adds) one thread should get between two hook polls: large
// enough to amortize a parallel region, small enough (~10 ms) to cancel promptly.
constexpr double kMacsPerPoll = 3.0e8;

// Rows the oracle handles between two hook polls.
constexpr size_t kReferenceRowsPerPoll = 256;

// Rejects shapes the assigners cannot produce labels for.
void check_shape(size_t n, size_t k) {
    if (n > 0 && k == 0) throw std::invalid_argument("k-means assignment needs at least one centroid");
    if (k > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
        throw std::invalid_argument("k-means assignment supports at most 2^31 - 1 centroids");
}

// Labels and distances of rows [row0, row0 + rows): for each centroid column
// block one sgemm writes -2 x.c into `tile`, then a fused pass adds ||c||^2
// and keeps the running minimum per row in labels/dist2; ||x||^2 is added last
// because it does not change the arg-min.
void assign_row_block(const float* x, size_t row0, size_t rows, const float* centroids,
                      const float* centroid_norms, size_t k, size_t d, float* tile,
                      int32_t* labels, float* dist2) {
    int32_t* best_idx = labels + row0;
    float* best = dist2 + row0;
    std::fill(best, best + rows, std::numeric_limits<float>::infinity());
    std::fill(best_idx, best_idx + rows, 0);
    const float* xb = x + row0 * d;
    for (size_t col0 = 0; col0 < k; col0 += kAssignColBlock) {
        const size_t cols = std::min(kAssignColBlock, k - col0);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(rows),
                    static_cast<blasint>(cols), static_cast<blasint>(d), -2.0f, xb,
                    static_cast<blasint>(d), centroids + col0 * d, static_cast<blasint>(d), 0.0f,
                    tile, static_cast<blasint>(cols));
        const float* cn = centroid_norms + col0;
        for (size_t r = 0; r < rows; ++r) {
            const float* row = tile + r * cols;
            float b = best[r];
            int32_t bi = best_idx[r];
            // Columns are visited in increasing index, so a strict '<' is
            // exactly better(): on equal distance the earlier (lower) index stays.
            for (size_t j = 0; j < cols; ++j) {
                const float v = cn[j] + row[j];
                if (v < b) {
                    b = v;
                    bi = static_cast<int32_t>(col0 + j);
                }
            }
            best[r] = b;
            best_idx[r] = bi;
        }
    }
    for (size_t r = 0; r < rows; ++r) {
        const float* xr = xb + r * d;
        const float xn = cblas_sdot(static_cast<blasint>(d), xr, 1, xr, 1);
        best[r] = clamp_distance(xn + best[r]);
    }
}

}  // namespace

CpuAssigner::CpuAssigner(int threads) : threads_(std::clamp(threads, 1, kMaxAssignThreads)) {}

// Splits rows into fixed blocks (independent of the thread count, so labels
// are too), runs a parallel region per group of blocks and polls the hooks
// between regions in the calling thread only.
void CpuAssigner::assign(const float* x, size_t n, const float* centroids, size_t k, size_t d,
                         int32_t* labels, float* dist2, const Hooks& hooks) {
    check_shape(n, k);
    if (n == 0) return;
    if (d == 0) {
        std::fill(labels, labels + n, 0);
        std::fill(dist2, dist2 + n, 0.0f);
        return;
    }
    const int threads = threads_;
    std::vector<float> centroid_norms(k);
    for (size_t c = 0; c < k; ++c) {
        const float* cr = centroids + c * d;
        centroid_norms[c] = cblas_sdot(static_cast<blasint>(d), cr, 1, cr, 1);
    }
    const size_t blocks = (n + kAssignRowBlock - 1) / kAssignRowBlock;
    const double block_macs = static_cast<double>(kAssignRowBlock) * static_cast<double>(k) *
                              static_cast<double>(d);
    const size_t blocks_per_thread =
        static_cast<size_t>(std::clamp(kMacsPerPoll / block_macs, 1.0, 4.0));
    const size_t blocks_per_region = blocks_per_thread * static_cast<size_t>(threads);
    // parallel_for never runs more threads than blocks, and small inputs need
    // small tiles: kmeans_memory_bytes() mirrors this sizing.
    const size_t tile_floats = std::min(n, kAssignRowBlock) * std::min(k, kAssignColBlock);
    const size_t tile_count = std::min(static_cast<size_t>(threads), blocks);
    std::vector<float> tiles(tile_count * tile_floats);

    for (size_t b0 = 0; b0 < blocks; b0 += blocks_per_region) {
        const size_t b1 = std::min(blocks, b0 + blocks_per_region);
        parallel_for(b1 - b0, threads, [&](size_t i, int thread) {
            const size_t row0 = (b0 + i) * kAssignRowBlock;
            const size_t rows = std::min(kAssignRowBlock, n - row0);
            float* tile = tiles.data() + static_cast<size_t>(thread) * tile_floats;
            assign_row_block(x, row0, rows, centroids, centroid_norms.data(), k, d, tile, labels,
                             dist2);
        });
        if (hooks.cancelled()) throw Cancelled();
        hooks.report(std::min(n, b1 * kAssignRowBlock), n);
    }
}

// Exact per-pair distances in double: slow, simple, and the standard the
// blocked float path is tested against.
void ReferenceAssigner::assign(const float* x, size_t n, const float* centroids, size_t k, size_t d,
                               int32_t* labels, float* dist2, const Hooks& hooks) {
    check_shape(n, k);
    for (size_t i = 0; i < n; ++i) {
        const float* xr = x + i * d;
        double best = std::numeric_limits<double>::infinity();
        int64_t best_idx = 0;
        for (size_t c = 0; c < k; ++c) {
            const float* cr = centroids + c * d;
            double s = 0.0;
            for (size_t j = 0; j < d; ++j) {
                const double diff = static_cast<double>(xr[j]) - static_cast<double>(cr[j]);
                s += diff * diff;
            }
            if (better(s, static_cast<int64_t>(c), best, best_idx)) {
                best = s;
                best_idx = static_cast<int64_t>(c);
            }
        }
        labels[i] = static_cast<int32_t>(best_idx);
        dist2[i] = static_cast<float>(best);
        if ((i + 1) % kReferenceRowsPerPoll == 0 || i + 1 == n) {
            if (hooks.cancelled()) throw Cancelled();
            hooks.report(i + 1, n);
        }
    }
}

}  // namespace pg_ivf::core
