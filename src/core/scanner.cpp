// Per-query scanning: list ranking, per-list ADC tables, and per-entry lower
// bounds through bounds.h.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <utility>

#include "bounds.h"
#include "codec.h"
#include "pq.h"
#include "sq8.h"

namespace pg_ivf::core {

namespace {

// prefetch_next(): the memory of the page after the one a scan call reads is
// requested a share per row of that call, so the next page's ~128 requests
// overlap this page's kernels instead of stalling together on full line-fill
// buffers (the page's own up-front requests then find its lines arriving).
// Prefetches are hints: any address is safe, none is ever read.
struct Ahead {
    const uint8_t* next = nullptr;  // requested by the current call, `done` of `lines` so far
    size_t next_bytes = 0, lines = 0, done = 0;
    const uint8_t* requested = nullptr;  // the range the previous call requested
    size_t requested_bytes = 0;

    void set(const void* p, size_t bytes) {
        finish();
        const auto a = reinterpret_cast<uintptr_t>(p);
        next = reinterpret_cast<const uint8_t*>(a & ~uintptr_t(63));
        next_bytes = bytes + (a & 63);
        lines = (next_bytes + 63) / 64;
        done = 0;
    }
    // A call's start: its entries' lines up front (pages come from shared
    // buffers, rarely in cache: many misses in flight rather than the kernels
    // waiting for each), unless the previous call asked for them already.
    void begin(const uint8_t* p, size_t bytes) {
        if (requested != nullptr && p >= requested && p + bytes <= requested + requested_bytes) return;
        for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(p + o);
    }
    // Once `row` of the call's `n` rows is done, the share of the next range due.
    void pump(size_t row, size_t n) {
        if (next == nullptr) return;
        const size_t due = row >= n ? lines : lines * row / n;
        for (; done < due; ++done) __builtin_prefetch(next + done * 64);
    }
    // A call's end (or a new range set before any call used this one).
    void finish() {
        if (next == nullptr) return;
        pump(1, 1);
        requested = next;
        requested_bytes = next_bytes;
        next = nullptr;
    }
};

}  // namespace

struct QueryScanner::State {
    const Kernels* k = nullptr;
    bounds::QueryBound bound;
    bool degenerate = false;
    bool list_ready = false;
    // Cosine runs the L2 kernels on the normalized query (see bounds.h).
    bool l2_kernels = true;
    // SQ8 L2: a = fl(fl(q - c) - bias); SQ8 IP: w = fl(q * step); PQ L2 with
    // residual: a = fl(q - c), the input of the per-list table.  Size d.
    std::vector<float> a;
    // PQ ADC table, size m * 256: L2 ||v_j - cb_jc||^2 with v = fl(q - c) or q;
    // IP <q_j, cb_jc>.
    std::vector<float> table;
    // IP: <q, c + bias> (SQ8) or <q, c> (PQ), summed in double.
    double list_const = 0;
    bounds::QuickBound quick;
    // SQ8 L2 integer keys (bounds.h, INTEGER QUICK BOUND): per query the
    // weights and the grid's sigma, per list the query on the code grid.
    bool int_query = false;
    bool int_list = false;      // this list's preconditions hold
    double sigma = 0;
    double step_sq = 0;         // sum of step_i^2 in double
    std::vector<int16_t> grid_w, grid_t;
    std::vector<float> grid_inv;  // 1 / step_i
    bounds::IntQuickBound int_quick;
    // max-heap of the refine_rows smallest sqrt(A) + err refined so far
    std::vector<float> nearest;
    size_t refine_rows = kQuickRefineRows;
    Ahead ahead;
};

namespace {

// The sums in double a list bound needs (bounds.h, LIST BOUND): query p,
// the nearest centroid c_i ("other") and the bounded list's c_j.
struct ListSums {
    double fa = 0, fb = 0, w2 = 0, ci2 = 0, cj2 = 0, p2 = 0;
    void add(const float* q, const float* other, const float* centroid, size_t d) {
        for (size_t i = 0; i < d; ++i) {
            const double p = q[i], ci = other[i], cj = centroid[i];
            fa += (p - cj) * (p - cj);
            fb += (p - ci) * (p - ci);
            w2 += (ci - cj) * (ci - cj);
            ci2 += ci * ci;
            cj2 += cj * cj;
            p2 += p * p;
        }
    }
};

// Each table entry is a float sum of d / m terms in order, as bounds.h
// assumes; the 256 centroids of a sub-quantizer are computed side by side
// from the (m, d / m, 256) layout, which the compiler vectorizes.  The sums
// of a block of kPqTableBlock centroids stay in registers over the
// sub-quantizer's dims rather than going through the table once per dim:
// the same sums in the same order (same bits), a fifth less time on the
// table, which a residual L2 scan builds once per list (at 784 dims, probes
// 8, it was a sixth of a PQ query's backend time).
__attribute__((target_clones("avx512f", "avx2", "default")))
void fill_pq_table_by_dim(const float* by_dim, size_t m, size_t dsub, const float* v, bool l2, float* table) {
    constexpr size_t kPqTableBlock = 128;
    static_assert(kPqCentroids % kPqTableBlock == 0, "blocks tile the centroids");
    for (size_t j = 0; j < m; ++j) {
        for (size_t c0 = 0; c0 < kPqCentroids; c0 += kPqTableBlock) {
            float acc[kPqTableBlock] = {};
            for (size_t i = 0; i < dsub; ++i) {
                const float x = v[j * dsub + i];
                const float* w = by_dim + (j * dsub + i) * kPqCentroids + c0;
                if (l2) {
                    for (size_t c = 0; c < kPqTableBlock; ++c) {
                        const float diff = x - w[c];
                        acc[c] += diff * diff;
                    }
                } else {
                    for (size_t c = 0; c < kPqTableBlock; ++c) acc[c] += x * w[c];
                }
            }
            std::memcpy(table + j * kPqCentroids + c0, acc, sizeof(acc));
        }
    }
}

void fill_pq_table(const Codec& codec, const float* v, bool l2, float* table) {
    const size_t dsub = codec.d / codec.m;
    if (codec.pq_codebooks_by_dim.size() == codec.pq_codebooks.size()) {
        fill_pq_table_by_dim(codec.pq_codebooks_by_dim.data(), codec.m, dsub, v, l2, table);
        return;
    }
    // a codec assembled by hand (tests) without index_codebooks()
    Codec indexed;
    indexed.kind = codec.kind;
    indexed.d = codec.d;
    indexed.m = codec.m;
    indexed.pq_codebooks = codec.pq_codebooks;
    indexed.index_codebooks();
    fill_pq_table_by_dim(indexed.pq_codebooks_by_dim.data(), codec.m, dsub, v, l2, table);
}

// <q, a (+ b)> from exact float products summed in double (b may be null).
double dot_double(const float* q, const float* a, const float* b, size_t d) {
    double s = 0;
    for (size_t i = 0; i < d; ++i) {
        s += static_cast<double>(q[i]) * a[i];
        if (b != nullptr) s += static_cast<double>(q[i]) * b[i];
    }
    return s;
}

}  // namespace

QueryScanner::QueryScanner(const Codec& codec, const float* q)
    : codec_(codec), q_(q, q + codec.d), state_(std::make_unique<State>()) {
    State& s = *state_;
    const size_t d = codec.d;
    s.k = &kernels();
    double raw_sq = 0;
    for (size_t i = 0; i < d; ++i) raw_sq += static_cast<double>(q[i]) * q[i];
    if (codec.metric == Metric::kCosine) {
        // Exact zero only: a tiny nonzero query still gets numbers (trivial bounds).
        s.degenerate = raw_sq == 0.0;
        if (!s.degenerate) {
            const double n = std::sqrt(raw_sq);
            for (size_t i = 0; i < d; ++i) q_[i] = static_cast<float>(q[i] / n);
        }
    }
    double kernel_sq = 0;
    for (size_t i = 0; i < d; ++i) kernel_sq += static_cast<double>(q_[i]) * q_[i];
    s.bound = bounds::make_query_bound(codec.kind, codec.metric, codec.residual, d, std::sqrt(kernel_sq), raw_sq);
    s.quick = bounds::make_quick_bound(s.bound);
    s.l2_kernels = codec.metric != Metric::kInnerProduct;
    const bool l2 = s.l2_kernels;
    if (codec.kind == QuantizerKind::kSq8) {
        s.a.resize(d);
        if (!l2) {
            for (size_t i = 0; i < d; ++i) s.a[i] = q_[i] * codec.sq_step[i];
            if (!codec.residual) s.list_const = dot_double(q_.data(), codec.sq_bias.data(), nullptr, d);
        } else if (!codec.residual) {
            for (size_t i = 0; i < d; ++i) s.a[i] = q_[i] - codec.sq_bias[i];
        }
    } else if (codec.kind == QuantizerKind::kPq) {
        s.a.resize(d);
        s.table.resize(codec.m * kPqCentroids);
        if (!l2 || !codec.residual) fill_pq_table(codec, q_.data(), l2, s.table.data());
    }
    if (codec.kind == QuantizerKind::kSq8 && s.quick.usable && !s.degenerate) {
        s.grid_w.resize(d);
        s.grid_inv.resize(d);
        s.int_query =
            sq8_int_weights(codec.sq_step.data(), d, s.grid_w.data(), s.grid_inv.data(), &s.sigma, &s.step_sq);
    }
    if (!codec.residual) prepare_int_list();
    s.list_ready = !codec.residual;
}

// The query on the code grid for the current list; int_list stays false
// when a precondition of the bound fails (every row is then refined).
void QueryScanner::prepare_int_list() {
    State& s = *state_;
    s.int_list = false;
    if (!s.int_query) return;
    s.grid_t.resize(codec_.d);
    double delta_sq = 0;
    if (!sq8_query_grid(s.a.data(), codec_.sq_step.data(), s.grid_inv.data(), codec_.d, s.grid_t.data(), &delta_sq))
        return;
    s.int_quick = bounds::make_int_quick_bound(s.bound, codec_.d, s.sigma, s.step_sq, delta_sq);
    s.int_list = s.int_quick.usable;
}

QueryScanner::~QueryScanner() = default;

float QueryScanner::list_distance(const float* centroid) const {
    if (codec_.metric == Metric::kL2) return state_->k->l2_squared(q_.data(), centroid, codec_.d);
    return -state_->k->dot(q_.data(), centroid, codec_.d);
}

// Only residual codecs have per-list state; for the others this is a no-op.
void QueryScanner::set_list(const float* centroid) {
    State& s = *state_;
    if (!codec_.residual) return;
    const size_t d = codec_.d;
    const bool l2 = s.l2_kernels;
    if (codec_.kind == QuantizerKind::kSq8) {
        if (l2) {
            for (size_t i = 0; i < d; ++i) {
                const float shifted = q_[i] - centroid[i];
                s.a[i] = shifted - codec_.sq_bias[i];
            }
            prepare_int_list();
        } else {
            s.list_const = dot_double(q_.data(), centroid, codec_.sq_bias.data(), d);
        }
    } else if (codec_.kind == QuantizerKind::kPq) {
        if (l2) {
            for (size_t i = 0; i < d; ++i) s.a[i] = q_[i] - centroid[i];
            fill_pq_table(codec_, s.a.data(), true, s.table.data());
        } else {
            s.list_const = dot_double(q_.data(), centroid, nullptr, d);
        }
    }
    s.list_ready = true;
}

float QueryScanner::list_lower_bound(const float* other, const float* centroid) const {
    const State& s = *state_;
    if (s.bound.trivial || s.degenerate || codec_.metric == Metric::kInnerProduct)
        return bounds::trivial_bound(codec_.metric);
    ListSums t;
    t.add(q_.data(), other, centroid, codec_.d);
    return bounds::list_lower_bound(s.bound, codec_.d, t.fa, t.fb, t.w2, t.ci2, t.cj2, t.p2);
}

float QueryScanner::mips_list_lower_bound(const float* other, float other_extra, const float* centroid,
                                          float centroid_extra, double max_norm2) const {
    const State& s = *state_;
    if (s.bound.trivial || codec_.metric != Metric::kInnerProduct || !(max_norm2 > 0.0))
        return bounds::trivial_bound(codec_.metric);
    // the query's extra coordinate is 0
    const double ei = other_extra, ej = centroid_extra;
    ListSums t;
    t.fa = ej * ej;
    t.fb = ei * ei;
    t.w2 = (ei - ej) * (ei - ej);
    t.ci2 = ei * ei;
    t.cj2 = ej * ej;
    t.add(q_.data(), other, centroid, codec_.d);
    return bounds::mips_list_lower_bound(s.bound, codec_.d, t.fa, t.fb, t.w2, t.ci2, t.cj2, t.p2, max_norm2);
}

bool QueryScanner::query_is_degenerate() const { return state_->degenerate; }

double QueryScanner::kernel_value(const uint8_t* entry, float* unaligned_scratch) const {
    const State& s = *state_;
    const uint8_t* code = entry + kEntryCodeOffset;
    const size_t d = codec_.d;
    const bool l2 = s.l2_kernels;
    switch (codec_.kind) {
        case QuantizerKind::kSq8:
            if (l2) return s.k->sq8_l2_squared(s.a.data(), codec_.sq_step.data(), code, d);
            return s.list_const + static_cast<double>(s.k->sq8_dot(s.a.data(), code, d));
        case QuantizerKind::kPq:
            if (l2) return s.k->pq_adc(s.table.data(), code, codec_.m);
            return s.list_const + static_cast<double>(s.k->pq_adc(s.table.data(), code, codec_.m));
        case QuantizerKind::kFlat: {
            const float* y = reinterpret_cast<const float*>(code);
            if (unaligned_scratch != nullptr) {
                std::memcpy(unaligned_scratch, code, d * sizeof(float));
                y = unaligned_scratch;
            }
            return l2 ? s.k->l2_squared(q_.data(), y, d) : s.k->dot(q_.data(), y, d);
        }
    }
    return 0.0;
}

void QueryScanner::lower_bounds(const uint8_t* entries, size_t n, size_t stride, float* out,
                                float* approx) const {
    State& s = *state_;
    if (s.degenerate) {
        std::fill(out, out + n, std::numeric_limits<float>::quiet_NaN());
        if (approx != nullptr) std::fill(approx, approx + n, std::numeric_limits<float>::quiet_NaN());
        return;
    }
    if (!s.list_ready) throw std::logic_error("QueryScanner: set_list() must precede lower_bounds()");
    // Flat codes are read as floats in place unless the page layout misaligns them.
    std::vector<float> scratch;
    if (codec_.kind == QuantizerKind::kFlat &&
        (reinterpret_cast<uintptr_t>(entries + kEntryCodeOffset) % alignof(float) != 0 || stride % alignof(float) != 0))
        scratch.resize(codec_.d);
    float* tmp = scratch.empty() ? nullptr : scratch.data();
    // All kernel values of a block first, then their bounds: each bound is a
    // chain of dependent double operations (sqrt, division, narrowing) that,
    // between two kernel calls, would stall the scan; side by side the chains
    // of a block overlap (a third of an SQ8 scan's time, measured at d = 784).
    constexpr size_t kBlock = 32;
    double v[kBlock];
    s.ahead.begin(entries, n * stride);
    for (size_t first = 0; first < n; first += kBlock) {
        const size_t m = std::min(kBlock, n - first);
        const uint8_t* block = entries + first * stride;
        for (size_t i = 0; i < m; ++i) {
            v[i] = kernel_value(block + i * stride, tmp);
            s.ahead.pump(first + i + 1, n);
        }
        for (size_t i = 0; i < m; ++i) {
            float err;
            std::memcpy(&err, block + i * stride + kEntryErrOffset, sizeof(float));
            out[first + i] = bounds::lower_bound(s.bound, v[i], err);
            if (approx != nullptr) approx[first + i] = static_cast<float>(estimate(v[i]));
        }
    }
    s.ahead.finish();
}

// L2: ||q - x|| lies in ||q - x~|| +- err; IP: -<q, x> in -<q, x~> +- ||q|| err;
// cosine: ||qh - xh|| in ||qf - x~|| +- err, then squared and halved.  The
// likely range takes the share z of the interval below, z_hi above.
void QueryScanner::likely_range(const uint8_t* entries, size_t n, size_t stride, const float* approx, double z,
                                double z_hi, float* lo, float* hi) const {
    const State& s = *state_;
    constexpr float kInf = std::numeric_limits<float>::infinity();
    for (size_t i = 0; i < n; ++i) {
        float err;
        std::memcpy(&err, entries + i * stride + kEntryErrOffset, sizeof(float));
        const double a = approx[i];
        if (std::isnan(a) || (z == 0.0 && z_hi == 0.0)) {
            lo[i] = hi[i] = a;
            continue;
        }
        if (!std::isfinite(err) || s.bound.trivial) {
            lo[i] = -kInf;
            hi[i] = kInf;
            continue;
        }
        double l, h;
        switch (codec_.metric) {
            case Metric::kL2:
                l = a - z * err;
                h = a + z_hi * err;
                break;
            case Metric::kInnerProduct:
                l = a - z * s.bound.q_norm * err;
                h = a + z_hi * s.bound.q_norm * err;
                break;
            case Metric::kCosine:
            default: {
                const double dist = std::sqrt(std::max(0.0, 2.0 * a));
                const double dl = std::max(0.0, dist - z * err), dh = dist + z_hi * err;
                l = 0.5 * dl * dl;
                h = 0.5 * dh * dh;
                break;
            }
        }
        lo[i] = static_cast<float>(l);
        hi[i] = static_cast<float>(h);
    }
}

bool QueryScanner::has_quick_bounds() const { return state_->quick.usable; }

void QueryScanner::prefetch_next(const void* p, size_t bytes) { state_->ahead.set(p, bytes); }

void QueryScanner::set_refine_rows(size_t rows) { state_->refine_rows = rows; }

// As lower_bounds(), with the narrowing of each bound left to exact_bound().
void QueryScanner::quick_bounds(const uint8_t* entries, size_t n, size_t stride, float* key, float* kernel,
                                float* err, uint8_t* settled) {
    State& s = *state_;
    if (!s.quick.usable) throw std::logic_error("QueryScanner: quick_bounds() needs an L2 query");
    if (!s.list_ready) throw std::logic_error("QueryScanner: set_list() must precede quick_bounds()");
    std::vector<float> scratch;
    if (codec_.kind == QuantizerKind::kFlat &&
        (reinterpret_cast<uintptr_t>(entries + kEntryCodeOffset) % alignof(float) != 0 || stride % alignof(float) != 0))
        scratch.resize(codec_.d);
    float* tmp = scratch.empty() ? nullptr : scratch.data();
    if (settled != nullptr) {
        std::fill(settled, settled + n, uint8_t(0));
        if (s.int_list) {
            integer_bounds(entries, n, stride, key, kernel, err, settled);
            return;
        }
    }
    // L2 kernels return a float, so the narrowing is exact
    s.ahead.begin(entries, n * stride);
    for (size_t i = 0; i < n; ++i) {
        kernel[i] = static_cast<float>(kernel_value(entries + i * stride, tmp));
        s.ahead.pump(i + 1, n);
    }
    s.ahead.finish();
    for (size_t i = 0; i < n; ++i) {
        std::memcpy(&err[i], entries + i * stride + kEntryErrOffset, sizeof(float));
        key[i] = bounds::quick_lower_bound(s.quick, kernel[i], err[i]);
    }
}

// quick_bounds() on integer keys: one integer kernel per row, the float
// kernel only for rows the nearest estimates so far cannot rule out.
void QueryScanner::integer_bounds(const uint8_t* entries, size_t n, size_t stride, float* key, float* kernel,
                                  float* err, uint8_t* settled) {
    State& s = *state_;
    const size_t d = codec_.d;
    constexpr float kInf = std::numeric_limits<float>::infinity();
    constexpr size_t kBlock = 32;
    uint64_t sums[kBlock];
    s.ahead.begin(entries, n * stride);
    for (size_t first = 0; first < n; first += kBlock) {
        const size_t m = std::min(kBlock, n - first);
        const uint8_t* block = entries + first * stride;
        for (size_t i = 0; i < m; ++i) {
            sums[i] = s.k->sq8_l2_int(s.grid_t.data(), s.grid_w.data(), block + i * stride + kEntryCodeOffset, d);
            s.ahead.pump(first + i + 1, n);
        }
        for (size_t i = 0; i < m; ++i) {
            const uint8_t* entry = block + i * stride;
            const size_t r = first + i;
            std::memcpy(&err[r], entry + kEntryErrOffset, sizeof(float));
            const float coarse = bounds::int_quick_lower_bound(s.int_quick, sums[i], err[r]);
            const float reach = s.nearest.size() < s.refine_rows ? kInf
                                : s.refine_rows == 0                ? -kInf
                                                                    : s.nearest.front();
            if (!(coarse < reach)) {
                key[r] = coarse;
                kernel[r] = 0.0f;
                settled[r] = 1;
                continue;
            }
            kernel[r] = s.k->sq8_l2_squared(s.a.data(), codec_.sq_step.data(), entry + kEntryCodeOffset, d);
            key[r] = bounds::quick_lower_bound(s.quick, kernel[r], err[r]);
            const float estimate = std::sqrt(kernel[r]) + err[r];
            if (std::isnan(estimate)) continue;  // a damaged err: keep the heap ordered
            if (s.nearest.size() < s.refine_rows) {
                s.nearest.push_back(estimate);
                std::push_heap(s.nearest.begin(), s.nearest.end());
            } else if (estimate < s.nearest.front()) {
                std::pop_heap(s.nearest.begin(), s.nearest.end());
                s.nearest.back() = estimate;
                std::push_heap(s.nearest.begin(), s.nearest.end());
            }
        }
    }
    s.ahead.finish();
}

float QueryScanner::exact_bound(float kernel, float err) const {
    return bounds::lower_bound(state_->bound, static_cast<double>(kernel), err);
}

// The operator-scale estimate from a kernel value (see approximate()).
double QueryScanner::estimate(double v) const {
    switch (codec_.metric) {
        case Metric::kL2:
            return std::sqrt(v);
        case Metric::kInnerProduct:
            return -v;
        case Metric::kCosine:
            return 0.5 * v;  // ||qf - x~||^2 / 2
    }
    return v;
}

void QueryScanner::approximate(const uint8_t* entries, size_t n, size_t stride, double* out) const {
    const State& s = *state_;
    if (s.degenerate) {
        std::fill(out, out + n, std::numeric_limits<double>::quiet_NaN());
        return;
    }
    if (!s.list_ready) throw std::logic_error("QueryScanner: set_list() must precede approximate()");
    std::vector<float> scratch(codec_.kind == QuantizerKind::kFlat ? codec_.d : 0);
    float* tmp = scratch.empty() ? nullptr : scratch.data();
    for (size_t i = 0; i < n; ++i) out[i] = estimate(kernel_value(entries + i * stride, tmp));
}

// Ties go to the lower index and NaN ranks last, so the order is total and deterministic.
std::vector<int32_t> nearest_lists(const QueryScanner& scanner, const float* centroids, size_t k, size_t d,
                                   size_t count) {
    // (distance, list) pairs order by distance, then by the lower list number
    std::vector<std::pair<float, int32_t>> ranked(k);
    for (size_t i = 0; i < k; ++i) {
        const float v = scanner.list_distance(centroids + i * d);
        ranked[i] = {std::isnan(v) ? std::numeric_limits<float>::infinity() : v, static_cast<int32_t>(i)};
    }
    count = std::min(count, k);
    const auto mid = ranked.begin() + static_cast<std::ptrdiff_t>(count);
    // an iterative scan asks for every list: a full sort beats a heap-based partial sort then
    if (count * 4 > k)
        std::sort(ranked.begin(), ranked.end());
    else
        std::partial_sort(ranked.begin(), mid, ranked.end());
    std::vector<int32_t> order(count);
    for (size_t i = 0; i < count; ++i) order[i] = ranked[i].second;
    return order;
}

}  // namespace pg_ivf::core
