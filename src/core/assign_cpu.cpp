// Nearest-centroid assignment on the CPU: the blocked production path
// (CpuAssigner) and the double-precision brute-force oracle (ReferenceAssigner).
//
// CpuAssigner computes ||c||^2 - 2 x.c with a register-blocked micro-kernel
// (12 rows x 32 centroids with AVX-512, 6 x 16 with AVX2/FMA, portable C++
// otherwise) that folds the arg-min into the tile epilogue, then adds ||x||^2.
// The AVX-512 tile gives the same labels and distances as the AVX2 one, bit
// for bit: every (row, centroid) sum is the same chain of FMAs in the same
// order, and either arg-min ends at the smallest value with the lowest index
// among its ties (NaN never wins).
// The same tile, stored instead of reduced, is tile_dot() (tile.h): the
// recall calibration filters its (query, row) pairs with it.
// It deliberately does not call cblas_sgemm: Debian's serial OpenBLAS 0.3.21
// is not safe for concurrent callers (upstream needs USE_LOCKING=1 for that);
// two threads entering sgemm together can share a packing buffer and get
// wrong products (reproduced: 8 of 1,280 concurrent calls corrupted).  The
// kernel below runs at about the same speed on AVX2 and needs no BLAS at all.
#include <algorithm>
#include <atomic>
#include <limits>
#include <stdexcept>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PG_IVF_HAVE_X86 1
#endif

#include "kmeans.h"
#include "kmeans_math.h"
#include "parallel.h"
#include "tile.h"

namespace pg_ivf::core {
namespace {

constexpr size_t kMicroRows = kTileRows;
constexpr size_t kPanel = kTileCols;  // centroids per packed panel
constexpr size_t kLanes = 8;        // running minima an AVX2 or portable tile keeps per row
constexpr size_t kWideLanes = 16;   // and the AVX-512 tile
static_assert(kAssignRowBlock % kMicroRows == 0, "row blocks hold whole micro-tiles");

// Packed centroids swept per pass over a row block: small enough to stay in
// L2 while every 6-row micro-tile of the block streams over them.
constexpr size_t kGroupBytes = 384 * 1024;

// Work (multiply-adds) one thread gets between two hook polls, ~40 ms at full
// speed: prompt enough to cancel, and few enough regions that when the cores
// are oversubscribed (other backends, other builds) threads do not keep
// waiting at region barriers for a descheduled partner, which with ~3 ms
// regions made 2 threads 3x slower than 1.
constexpr double kMacsPerPoll = 4.0e9;
constexpr double kMaxBlocksPerPoll = 64.0;

// Rows the oracle handles between two hook polls.
constexpr size_t kReferenceRowsPerPoll = 256;

// Running arg-min of one row: lane l holds the best of the columns j with
// j % 8 == l seen so far (j % 16 with the AVX-512 tile; lanes 8 to 15 stay
// empty otherwise).  Columns reach a lane in increasing order, so a strict
// '<' keeps the lowest index on ties, and the final reduction over lanes
// applies better() to finish the tie rule: the result is the smallest value
// with the lowest index among its ties, however the columns were split
// among lanes.
struct LaneBest {
    float value[kWideLanes];
    int32_t index[kWideLanes];
};

// rows: 6 row pointers (size d each); panel: 16 centroids packed d-major
// (panel[t * 16 + j]); norms: ||c||^2 of the 16 (+inf for padding); col0:
// index of the panel's first centroid; best: the 6 rows' running minima.
using MicroKernel = void (*)(const float* const* rows, const float* panel, size_t d,
                             const float* norms, int32_t col0, LaneBest* const* best);
using NormKernel = float (*)(const float* v, size_t d);
// out: the 6 x 16 tile of dot products, row-major (tile.h).
using DotTileKernel = void (*)(const float* const* rows, const float* panel, size_t d, float* out);
// The wide tile (AVX-512): kWideRows rows against `panels` (1 or 2)
// consecutive packed panels, otherwise as MicroKernel.
constexpr size_t kWideRows = 2 * kMicroRows;
static_assert(kAssignRowBlock % kWideRows == 0, "row blocks hold whole wide tiles");
using WideKernel = void (*)(const float* const* rows, const float* panel, size_t d, const float* norms,
                            int32_t col0, size_t panels, LaneBest* const* best);

// The portable tile; the compiler vectorizes the 16-wide inner loops.
inline void accumulate_generic(const float* const* rows, const float* panel, size_t d,
                               float (&acc)[kMicroRows][kPanel]) {
    for (size_t t = 0; t < d; ++t) {
        const float* b = panel + t * kPanel;
        for (size_t r = 0; r < kMicroRows; ++r) {
            const float a = rows[r][t];
            for (size_t j = 0; j < kPanel; ++j) acc[r][j] += a * b[j];
        }
    }
}

void dot_tile_generic(const float* const* rows, const float* panel, size_t d, float* out) {
    float acc[kMicroRows][kPanel] = {};
    accumulate_generic(rows, panel, d, acc);
    std::copy(&acc[0][0], &acc[0][0] + kMicroRows * kPanel, out);
}

// Portable micro-kernel.
void micro_kernel_generic(const float* const* rows, const float* panel, size_t d,
                          const float* norms, int32_t col0, LaneBest* const* best) {
    float acc[kMicroRows][kPanel] = {};
    accumulate_generic(rows, panel, d, acc);
    for (size_t r = 0; r < kMicroRows; ++r) {
        LaneBest* lb = best[r];
        for (size_t j = 0; j < kPanel; ++j) {
            const float v = norms[j] - 2.0f * acc[r][j];
            const size_t lane = j % kLanes;
            if (v < lb->value[lane]) {
                lb->value[lane] = v;
                lb->index[lane] = col0 + static_cast<int32_t>(j);
            }
        }
    }
}

// Squared norm with eight independent partial sums (vectorizable, and far
// shorter dependency chains than a single accumulator).
float squared_norm_generic(const float* v, size_t d) {
    float part[8] = {};
    size_t t = 0;
    for (; t + 8 <= d; t += 8)
        for (size_t l = 0; l < 8; ++l) part[l] += v[t + l] * v[t + l];
    float s = 0.0f;
    for (; t < d; ++t) s += v[t] * v[t];
    for (size_t l = 0; l < 8; ++l) s += part[l];
    return s;
}

#ifdef PG_IVF_HAVE_X86
// Merges 8 candidate distances (columns idx) into a row's lane minima.
__attribute__((target("avx2,fma"))) inline void merge_lanes_avx2(LaneBest* lb, __m256 v, __m256i idx) {
    __m256 bv = _mm256_loadu_ps(lb->value);
    __m256 bi = _mm256_castsi256_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(lb->index)));
    const __m256 win = _mm256_cmp_ps(v, bv, _CMP_LT_OQ);
    bv = _mm256_blendv_ps(bv, v, win);
    bi = _mm256_blendv_ps(bi, _mm256_castsi256_ps(idx), win);
    _mm256_storeu_ps(lb->value, bv);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(lb->index), _mm256_castps_si256(bi));
}

// 6 x 16 tile in twelve ymm accumulators (c[2 r] and c[2 r + 1] hold row
// r): per step two panel loads, six broadcasts, twelve FMAs.  Inlined into
// each epilogue, so the accumulators stay in registers.
__attribute__((target("avx2,fma"), always_inline)) inline void accumulate_avx2(const float* const* rows,
                                                                              const float* panel, size_t d,
                                                                              __m256 (&c)[2 * kMicroRows]) {
    const float* x0 = rows[0];
    const float* x1 = rows[1];
    const float* x2 = rows[2];
    const float* x3 = rows[3];
    const float* x4 = rows[4];
    const float* x5 = rows[5];
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (size_t t = 0; t < d; ++t) {
        const __m256 b0 = _mm256_loadu_ps(panel + t * kPanel);
        const __m256 b1 = _mm256_loadu_ps(panel + t * kPanel + 8);
        __m256 a = _mm256_broadcast_ss(x0 + t);
        c00 = _mm256_fmadd_ps(a, b0, c00);
        c01 = _mm256_fmadd_ps(a, b1, c01);
        a = _mm256_broadcast_ss(x1 + t);
        c10 = _mm256_fmadd_ps(a, b0, c10);
        c11 = _mm256_fmadd_ps(a, b1, c11);
        a = _mm256_broadcast_ss(x2 + t);
        c20 = _mm256_fmadd_ps(a, b0, c20);
        c21 = _mm256_fmadd_ps(a, b1, c21);
        a = _mm256_broadcast_ss(x3 + t);
        c30 = _mm256_fmadd_ps(a, b0, c30);
        c31 = _mm256_fmadd_ps(a, b1, c31);
        a = _mm256_broadcast_ss(x4 + t);
        c40 = _mm256_fmadd_ps(a, b0, c40);
        c41 = _mm256_fmadd_ps(a, b1, c41);
        a = _mm256_broadcast_ss(x5 + t);
        c50 = _mm256_fmadd_ps(a, b0, c50);
        c51 = _mm256_fmadd_ps(a, b1, c51);
    }
    c[0] = c00, c[1] = c01, c[2] = c10, c[3] = c11, c[4] = c20, c[5] = c21;
    c[6] = c30, c[7] = c31, c[8] = c40, c[9] = c41, c[10] = c50, c[11] = c51;
}

// The assigner's tile: the epilogue turns x.c into ||c||^2 - 2 x.c and
// merges it into the lane minima without storing the tile.
__attribute__((target("avx2,fma"))) void micro_kernel_avx2(const float* const* rows, const float* panel,
                                                           size_t d, const float* norms, int32_t col0,
                                                           LaneBest* const* best) {
    __m256 c[2 * kMicroRows];
    accumulate_avx2(rows, panel, d, c);
    const __m256 two = _mm256_set1_ps(2.0f);
    const __m256 n0 = _mm256_loadu_ps(norms);
    const __m256 n1 = _mm256_loadu_ps(norms + 8);
    const __m256i i0 = _mm256_add_epi32(_mm256_set1_epi32(col0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256i i1 = _mm256_add_epi32(i0, _mm256_set1_epi32(8));
    // Lane l sees column col0 + l before col0 + 8 + l: increasing, as the tie rule needs.
    for (size_t r = 0; r < kMicroRows; ++r) {
        merge_lanes_avx2(best[r], _mm256_fnmadd_ps(two, c[2 * r], n0), i0);
        merge_lanes_avx2(best[r], _mm256_fnmadd_ps(two, c[2 * r + 1], n1), i1);
    }
}

// The wide tile: kWideRows rows against `panels` (1 or 2) consecutive packed
// panels, 24 zmm accumulators at most.  Lane j of panel q's accumulator is
// the same FMA chain over t as the AVX2 tile's for that (row, centroid).
template <size_t kPanels>
__attribute__((target("avx512f,avx2,fma"), always_inline)) inline void wide_kernel(
    const float* const* rows, const float* panel, size_t d, const float* norms, int32_t col0,
    LaneBest* const* best) {
    __m512 c[kWideRows][kPanels];
    const float* x[kWideRows];
#pragma GCC unroll 12
    for (size_t r = 0; r < kWideRows; ++r) {
        x[r] = rows[r];
#pragma GCC unroll 2
        for (size_t q = 0; q < kPanels; ++q) c[r][q] = _mm512_setzero_ps();
    }
    const size_t stride = d * kPanel;  // panel q + 1 follows panel q
    for (size_t t = 0; t < d; ++t) {
        __m512 b[kPanels];
#pragma GCC unroll 2
        for (size_t q = 0; q < kPanels; ++q) b[q] = _mm512_loadu_ps(panel + q * stride + t * kPanel);
#pragma GCC unroll 12
        for (size_t r = 0; r < kWideRows; ++r) {
            const __m512 a = _mm512_set1_ps(x[r][t]);
#pragma GCC unroll 2
            for (size_t q = 0; q < kPanels; ++q) c[r][q] = _mm512_fmadd_ps(a, b[q], c[r][q]);
        }
    }
    // Lane l (of 16) meets column col0 + l, then col0 + 16 + l: the two
    // panels are merged in registers first (the second wins only if smaller,
    // or if the first is NaN, as it would in order), then into the minima.
    const __m512 two = _mm512_set1_ps(2.0f);
    const __m512 n0 = _mm512_loadu_ps(norms);
    const __m512 n1 = kPanels == 2 ? _mm512_loadu_ps(norms + kPanel) : n0;
    const __m512i i0 = _mm512_add_epi32(_mm512_set1_epi32(col0),
                                        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    const __m512i i1 = _mm512_add_epi32(i0, _mm512_set1_epi32(static_cast<int32_t>(kPanel)));
    for (size_t r = 0; r < kWideRows; ++r) {
        __m512 v = _mm512_fnmadd_ps(two, c[r][0], n0);
        __m512i idx = i0;
        if (kPanels == 2) {
            const __m512 v1 = _mm512_fnmadd_ps(two, c[r][kPanels - 1], n1);
            const __mmask16 take = _mm512_cmp_ps_mask(v1, v, _CMP_LT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
            v = _mm512_mask_mov_ps(v, take, v1);
            idx = _mm512_mask_mov_epi32(idx, take, i1);
        }
        LaneBest* lb = best[r];
        const __m512 bv = _mm512_loadu_ps(lb->value);
        const __mmask16 win = _mm512_cmp_ps_mask(v, bv, _CMP_LT_OQ);
        _mm512_storeu_ps(lb->value, _mm512_mask_mov_ps(bv, win, v));
        const __m512i bi = _mm512_loadu_si512(lb->index);
        _mm512_storeu_si512(lb->index, _mm512_mask_mov_epi32(bi, win, idx));
    }
}

__attribute__((target("avx512f,avx2,fma"))) void wide_kernel_avx512(const float* const* rows, const float* panel,
                                                                    size_t d, const float* norms, int32_t col0,
                                                                    size_t panels, LaneBest* const* best) {
    if (panels == 2)
        wide_kernel<2>(rows, panel, d, norms, col0, best);
    else
        wide_kernel<1>(rows, panel, d, norms, col0, best);
}

// The stored tile (tile_dot).
__attribute__((target("avx2,fma"))) void dot_tile_avx2(const float* const* rows, const float* panel, size_t d,
                                                       float* out) {
    __m256 c[2 * kMicroRows];
    accumulate_avx2(rows, panel, d, c);
    for (size_t i = 0; i < 2 * kMicroRows; ++i) _mm256_storeu_ps(out + 8 * i, c[i]);
}

// Squared norm in one ymm accumulator pair plus a scalar tail.
__attribute__((target("avx2,fma"))) float squared_norm_avx2(const float* v, size_t d) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t t = 0;
    for (; t + 16 <= d; t += 16) {
        const __m256 a = _mm256_loadu_ps(v + t);
        const __m256 b = _mm256_loadu_ps(v + t + 8);
        s0 = _mm256_fmadd_ps(a, a, s0);
        s1 = _mm256_fmadd_ps(b, b, s1);
    }
    alignas(32) float part[8];
    _mm256_store_ps(part, _mm256_add_ps(s0, s1));
    float s = 0.0f;
    for (; t < d; ++t) s += v[t] * v[t];
    for (float p : part) s += p;
    return s;
}
#endif

struct AssignKernels {
    MicroKernel micro;
    NormKernel norm;
    DotTileKernel dot_tile;
    WideKernel wide;  // null: the assigner uses micro
};

const AssignKernels kPortableAssignKernels{micro_kernel_generic, squared_norm_generic, dot_tile_generic, nullptr};
std::atomic<bool> force_portable{false};
std::atomic<bool> cap_avx2{false};

// The fastest kernels this CPU runs, detected once; the test hooks can force
// the portable set or keep the assigner off AVX-512.
const AssignKernels& cpu_kernels() {
#ifdef PG_IVF_HAVE_X86
    static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    static const bool avx512 = avx2 && __builtin_cpu_supports("avx512f");
    static const AssignKernels k_avx2{micro_kernel_avx2, squared_norm_avx2, dot_tile_avx2, nullptr};
    static const AssignKernels k_avx512{micro_kernel_avx2, squared_norm_avx2, dot_tile_avx2, wide_kernel_avx512};
    if (force_portable.load(std::memory_order_relaxed) || !avx2) return kPortableAssignKernels;
    return avx512 && !cap_avx2.load(std::memory_order_relaxed) ? k_avx512 : k_avx2;
#else
    return kPortableAssignKernels;
#endif
}

// Rejects shapes the assigners cannot produce labels for.
void check_shape(size_t n, size_t k) {
    if (n > 0 && k == 0) throw std::invalid_argument("k-means assignment needs at least one centroid");
    if (k > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
        throw std::invalid_argument("k-means assignment supports at most 2^31 - 1 centroids");
}

// Labels and distances of rows [row0, row0 + rows): panels are swept in
// L2-sized groups; within a group every 6-row micro-tile meets every panel.
// lanes: per-thread scratch of kAssignRowBlock entries.
void assign_row_block(const float* x, size_t row0, size_t rows, size_t d, const PackedPanels& pc,
                      const AssignKernels& kern, LaneBest* lanes, int32_t* labels, float* dist2) {
    auto reset = [](LaneBest& lb) {
        std::fill(lb.value, lb.value + kWideLanes, std::numeric_limits<float>::infinity());
        std::fill(lb.index, lb.index + kWideLanes, 0);
    };
    for (size_t r = 0; r < rows; ++r) reset(lanes[r]);
    LaneBest spare;  // absorbs the results of padding rows in a short last micro-tile
    reset(spare);
    const size_t group = std::max<size_t>(1, kGroupBytes / (d * kPanel * sizeof(float)));
    for (size_t g0 = 0; g0 < pc.panels; g0 += group) {
        const size_t g1 = std::min(pc.panels, g0 + group);
        if (kern.wide != nullptr) {
            for (size_t m0 = 0; m0 < rows; m0 += kWideRows) {
                const float* rp[kWideRows];
                LaneBest* bp[kWideRows];
                for (size_t r = 0; r < kWideRows; ++r) {
                    const bool real = m0 + r < rows;
                    rp[r] = x + (row0 + (real ? m0 + r : m0)) * d;
                    bp[r] = real ? &lanes[m0 + r] : &spare;
                }
                for (size_t p = g0; p < g1; p += 2)
                    kern.wide(rp, pc.data.data() + p * d * kPanel, d, pc.norms.data() + p * kPanel,
                              static_cast<int32_t>(p * kPanel), std::min<size_t>(2, g1 - p), bp);
            }
            continue;
        }
        for (size_t m0 = 0; m0 < rows; m0 += kMicroRows) {
            const float* rp[kMicroRows];
            LaneBest* bp[kMicroRows];
            for (size_t r = 0; r < kMicroRows; ++r) {
                const bool real = m0 + r < rows;
                rp[r] = x + (row0 + (real ? m0 + r : m0)) * d;
                bp[r] = real ? &lanes[m0 + r] : &spare;
            }
            for (size_t p = g0; p < g1; ++p)
                kern.micro(rp, pc.data.data() + p * d * kPanel, d, pc.norms.data() + p * kPanel,
                           static_cast<int32_t>(p * kPanel), bp);
        }
    }
    for (size_t r = 0; r < rows; ++r) {
        float b = lanes[r].value[0];
        int32_t bi = lanes[r].index[0];
        for (size_t l = 1; l < kWideLanes; ++l)
            if (better(lanes[r].value[l], lanes[r].index[l], b, bi)) {
                b = lanes[r].value[l];
                bi = lanes[r].index[l];
            }
        labels[row0 + r] = bi;
        dist2[row0 + r] = clamp_distance(kern.norm(x + (row0 + r) * d, d) + b);
    }
}

}  // namespace

PackedPanels pack_panels(const float* v, size_t count, size_t d) {
    const NormKernel norm = cpu_kernels().norm;
    PackedPanels p;
    p.panels = (count + kPanel - 1) / kPanel;
    p.data.assign(p.panels * d * kPanel, 0.0f);
    p.norms.assign(p.panels * kPanel, std::numeric_limits<float>::infinity());
    for (size_t c = 0; c < count; ++c) {
        const float* src = v + c * d;
        float* dst = p.data.data() + (c / kPanel) * d * kPanel + c % kPanel;
        for (size_t t = 0; t < d; ++t) dst[t * kPanel] = src[t];
        p.norms[c] = norm(src, d);
    }
    return p;
}

void tile_dot(const float* const* rows, const float* panel, size_t d, float* out) {
    cpu_kernels().dot_tile(rows, panel, d, out);
}

float tile_squared_norm(const float* v, size_t d) { return cpu_kernels().norm(v, d); }

// Kept beside assign() so the bound cannot drift from what it allocates.
size_t cpu_assign_scratch_bytes(size_t n, size_t k, size_t d, int threads) {
    const size_t panels = (k + kPanel - 1) / kPanel;
    const size_t blocks = (n + kAssignRowBlock - 1) / kAssignRowBlock;
    const size_t team = std::min(blocks, static_cast<size_t>(std::max(threads, 1)));
    return panels * kPanel * (d + 1) * sizeof(float) +
           team * std::min(n, kAssignRowBlock) * sizeof(LaneBest);
}

void cpu_assign_force_portable(bool portable) { force_portable.store(portable, std::memory_order_relaxed); }

void cpu_assign_cap_avx2(bool cap) { cap_avx2.store(cap, std::memory_order_relaxed); }

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
    const AssignKernels& kern = cpu_kernels();
    const PackedPanels pc = pack_panels(centroids, k, d);

    const size_t blocks = (n + kAssignRowBlock - 1) / kAssignRowBlock;
    const double block_macs = static_cast<double>(kAssignRowBlock) * static_cast<double>(k) *
                              static_cast<double>(d);
    const size_t blocks_per_thread =
        static_cast<size_t>(std::clamp(kMacsPerPoll / block_macs, 1.0, kMaxBlocksPerPoll));
    const size_t blocks_per_region = blocks_per_thread * static_cast<size_t>(threads);
    // parallel_for never runs more threads than blocks; cpu_assign_scratch_bytes() mirrors this.
    const size_t lanes_per_thread = std::min(n, kAssignRowBlock);
    std::vector<LaneBest> lanes(std::min(static_cast<size_t>(threads), blocks) * lanes_per_thread);

    for (size_t b0 = 0; b0 < blocks; b0 += blocks_per_region) {
        const size_t b1 = std::min(blocks, b0 + blocks_per_region);
        parallel_for(b1 - b0, threads, [&](size_t i, int thread) {
            const size_t row0 = (b0 + i) * kAssignRowBlock;
            const size_t rows = std::min(kAssignRowBlock, n - row0);
            assign_row_block(x, row0, rows, d, pc, kern,
                             lanes.data() + static_cast<size_t>(thread) * lanes_per_thread, labels, dist2);
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
