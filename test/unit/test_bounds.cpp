// The lower-bound guarantee: for every quantizer x metric x residual, over
// clustered, mixed-magnitude, offset and out-of-range data, n == 0 codecs and
// adversarial queries (a stored row, a row nudged by one ulp), the scanner's
// bound never exceeds the SQL operator's value computed with every kernel
// table, two more summation orders and pgvector 0.8.6's own orders (the
// operators of pg_ivf_pgvector are pgvector's), also on half-precision data
// (pgvector's halfvec).  A deliberately slack-free bound is
// shown to violate, so the checks can fail.  Also measures bound tightness.
#include <gtest/gtest.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/bounds.h"
#include "core/codec.h"
#include "core/half.h"
#include "core/mips.h"
#include "core/pq.h"
#include "core/sq8.h"
#include "test_rows.h"

namespace pg_ivf::core {
namespace {

using test_rows::unit_rows;

// How the "SQL operator" sums: through a kernel table, two orders of our own,
// or pgvector 0.8.6's (src/vector.c, src/halfutils.c), whose operators
// pg_ivf_pgvector's executor re-check calls:
//  - kPgvectorLoop: the plain loops (`distance += diff * diff`, no FMA), as
//    written and as built without auto-vectorization;
//  - kPgvectorVectorized: the same loops as GCC vectorizes them under
//    pgvector's -march=native -ftree-vectorize -fassociative-math: 8 float
//    lanes accumulated with FMA, reduced by halving (4+4, 2+2, 1+1), then the
//    tail;
//  - kPgvectorF16c: halfvec's F16C functions: 8 lanes of FMA on the
//    converted halves, reduced s[0] + s[1] + ... + s[7] left to right, then
//    the tail accumulated one product at a time.
// The conversion from half is exact, so a halfvec operator is these float
// sums over the rows' float values; every order finishes in double as the
// glue does (sql_operator).
enum class SumOrder { kKernel, kReverse, kFmaPairwise, kPgvectorLoop, kPgvectorVectorized, kPgvectorF16c };

struct Evaluator {
    SumOrder order;
    const Kernels* kernels;  // only for kKernel
    std::string name;
};

std::vector<Evaluator> evaluators() {
    std::vector<Evaluator> out;
    for (SimdLevel level : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512})
        if (const Kernels* k = kernels_for(level)) out.push_back({SumOrder::kKernel, k, simd_level_name(level)});
    out.push_back({SumOrder::kReverse, nullptr, "reverse"});
    out.push_back({SumOrder::kFmaPairwise, nullptr, "fma-pairwise"});
    out.push_back({SumOrder::kPgvectorLoop, nullptr, "pgvector-loop"});
    out.push_back({SumOrder::kPgvectorVectorized, nullptr, "pgvector-vectorized"});
    out.push_back({SumOrder::kPgvectorF16c, nullptr, "pgvector-f16c"});
    return out;
}

// pgvector's sums: see SumOrder.
float pgvector_sum(SumOrder order, const float* a, const float* b, size_t d, bool diff) {
    auto term = [&](size_t i, float acc) {
        const float t = diff ? a[i] - b[i] : a[i];
        return order == SumOrder::kPgvectorLoop ? acc + t * (diff ? t : b[i]) : std::fma(t, diff ? t : b[i], acc);
    };
    float s = 0.0f;
    size_t i = 0;
    if (order != SumOrder::kPgvectorLoop) {
        float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (; i + 8 <= d; i += 8)
            for (size_t l = 0; l < 8; ++l) lane[l] = term(i + l, lane[l]);
        if (order == SumOrder::kPgvectorF16c) {
            s = lane[0] + lane[1] + lane[2] + lane[3] + lane[4] + lane[5] + lane[6] + lane[7];
        } else {
            for (size_t l = 0; l < 4; ++l) lane[l] += lane[l + 4];
            lane[0] += lane[2];
            lane[1] += lane[3];
            s = lane[0] + lane[1];
        }
    }
    for (; i < d; ++i) s = term(i, s);
    return s;
}

// Pairwise float sum of fma-accumulated blocks of 3: a tree unlike any kernel's.
float pairwise(const float* a, const float* b, size_t lo, size_t hi, bool diff) {
    if (hi - lo <= 3) {
        float s = 0.0f;
        for (size_t i = lo; i < hi; ++i) {
            const float t = diff ? a[i] - b[i] : a[i];
            s = std::fma(t, diff ? t : b[i], s);
        }
        return s;
    }
    const size_t mid = lo + (hi - lo) / 2;
    return pairwise(a, b, lo, mid, diff) + pairwise(a, b, mid, hi, diff);
}

float reverse_sum(const float* a, const float* b, size_t d, bool diff) {
    float s = 0.0f;
    for (size_t i = d; i-- > 0;) {
        const float t = diff ? a[i] - b[i] : a[i];
        s += t * (diff ? t : b[i]);
    }
    return s;
}

// float sum of (a-b)^2 (diff) or a*b in the evaluator's order.
float fsum(const Evaluator& ev, const float* a, const float* b, size_t d, bool diff) {
    switch (ev.order) {
        case SumOrder::kKernel:
            return diff ? ev.kernels->l2_squared(a, b, d) : ev.kernels->dot(a, b, d);
        case SumOrder::kReverse:
            return reverse_sum(a, b, d, diff);
        case SumOrder::kFmaPairwise:
            return pairwise(a, b, 0, d, diff);
        case SumOrder::kPgvectorLoop:
        case SumOrder::kPgvectorVectorized:
        case SumOrder::kPgvectorF16c:
            return pgvector_sum(ev.order, a, b, d, diff);
    }
    return 0.0f;
}

// The SQL operator on raw vectors, float sums widened to double as in the glue.
double sql_operator(Metric metric, const Evaluator& ev, const float* q, const float* x, size_t d) {
    if (metric == Metric::kL2) return std::sqrt(static_cast<double>(fsum(ev, q, x, d, true)));
    if (metric == Metric::kInnerProduct) return -static_cast<double>(fsum(ev, q, x, d, false));
    float ab, aa, bb;
    if (ev.order == SumOrder::kKernel) {
        ev.kernels->dot_and_norms(q, x, d, &ab, &aa, &bb);
    } else {
        ab = fsum(ev, q, x, d, false);
        aa = fsum(ev, q, q, d, false);
        bb = fsum(ev, x, x, d, false);
    }
    if (aa == 0.0f || bb == 0.0f) return std::numeric_limits<double>::quiet_NaN();
    double sim = static_cast<double>(ab) / std::sqrt(static_cast<double>(aa) * static_cast<double>(bb));
    sim = std::min(1.0, std::max(-1.0, sim));
    return 1.0 - sim;
}

// The nearest half-precision value (ties to even), as pgvector's halfvec
// input stores a float; |x| is clamped to the largest half, 65504.
float round_to_half(float x) {
    if (x == 0.0f || !std::isfinite(x)) return x;
    int e;
    std::frexp(x, &e);                              // |x| in [2^(e-1), 2^e)
    const int spacing = std::max(e - 11, -24);      // 11 significant bits; subnormals 2^-24 apart
    const double q = std::nearbyint(std::ldexp(static_cast<double>(x), -spacing));  // ties to even
    const double r = std::ldexp(q, spacing);
    return static_cast<float>(std::max(-65504.0, std::min(65504.0, r)));
}

std::vector<float> round_to_half(std::vector<float> v) {
    for (float& x : v) x = round_to_half(x);
    return v;
}

// Nearest of k centroids in double L2 (ties: lowest index).
std::vector<int32_t> assign_rows(const std::vector<float>& rows, size_t d, const std::vector<float>& cent) {
    const size_t n = rows.size() / d, k = cent.size() / d;
    std::vector<int32_t> labels(n, 0);
    for (size_t i = 0; i < n; ++i) {
        double best = std::numeric_limits<double>::infinity();
        for (size_t c = 0; c < k; ++c) {
            double s = 0;
            for (size_t j = 0; j < d; ++j) {
                const double t = static_cast<double>(rows[i * d + j]) - cent[c * d + j];
                s += t * t;
            }
            if (s < best) {
                best = s;
                labels[i] = static_cast<int32_t>(c);
            }
        }
    }
    return labels;
}

enum class Scenario { kClusters, kMagnitudes, kOffset, kOutsideRange, kEmptyTraining };

const char* scenario_name(Scenario s) {
    switch (s) {
        case Scenario::kClusters:
            return "clusters";
        case Scenario::kMagnitudes:
            return "magnitudes";
        case Scenario::kOffset:
            return "offset";
        case Scenario::kOutsideRange:
            return "outside";
        case Scenario::kEmptyTraining:
            return "empty";
    }
    return "?";
}

// Generates raw rows of one scenario; `wide` scales the spread (rows outside the trained range).
struct Generator {
    Generator(Scenario s, size_t d, uint64_t seed) : scenario(s), dim(d), rng(seed) {
        std::normal_distribution<double> g(0.0, 1.0);
        std::uniform_real_distribution<double> u(-3.0, 4.0);
        for (size_t c = 0; c < 5; ++c)
            for (size_t j = 0; j < d; ++j) centers.push_back(3.0 * g(rng));
        for (size_t j = 0; j < d; ++j) scales.push_back(std::pow(10.0, u(rng)));
    }
    std::vector<float> rows(size_t n, double wide) {
        std::normal_distribution<double> g(0.0, 1.0);
        std::vector<float> out(n * dim);
        for (size_t i = 0; i < n; ++i) {
            const size_t c = rng() % 5;
            for (size_t j = 0; j < dim; ++j) {
                double v;
                switch (scenario) {
                    case Scenario::kMagnitudes:
                        v = scales[j] * g(rng) * wide;
                        break;
                    case Scenario::kOffset:
                        v = 1.0e4 + 1.0e-2 * centers[c * dim + j] + 1.0e-3 * g(rng) * wide;
                        break;
                    default:
                        v = centers[c * dim + j] + 0.3 * g(rng) * wide;
                        break;
                }
                out[i * dim + j] = static_cast<float>(v);
            }
        }
        return out;
    }
    Scenario scenario;
    size_t dim;
    std::mt19937_64 rng;
    std::vector<double> centers, scales;
};

// Queries: fresh rows, exact copies of stored rows, and copies nudged by one ulp.
std::vector<float> make_queries(Generator& gen, const std::vector<float>& data, size_t d, size_t fresh, size_t copies,
                                std::mt19937_64& rng) {
    std::vector<float> q = gen.rows(fresh, 1.0);
    const size_t n = data.size() / d;
    for (size_t i = 0; i < 2 * copies; ++i) {
        const size_t r = rng() % n;
        std::vector<float> row(data.begin() + r * d, data.begin() + (r + 1) * d);
        if (i >= copies) {
            for (size_t j = 0; j < d; ++j)
                if (rng() % 2) row[j] = std::nextafter(row[j], (rng() % 2) ? 1e30f : -1e30f);
        }
        q.insert(q.end(), row.begin(), row.end());
    }
    return q;
}

struct CaseSpec {
    QuantizerKind kind;
    Metric metric;
    bool residual;
};

std::vector<CaseSpec> all_specs() {
    std::vector<CaseSpec> out;
    for (Metric m : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
        for (bool r : {false, true}) {
            out.push_back({QuantizerKind::kSq8, m, r});
            out.push_back({QuantizerKind::kPq, m, r});
        }
        out.push_back({QuantizerKind::kFlat, m, false});
    }
    return out;
}

size_t pq_m_for(size_t d) { return d % 8 == 0 ? d / 8 : (d % 4 == 0 ? d / 4 : 1); }

// One trained-and-encoded index over raw rows, with its lists.
struct Built {
    Codec codec;
    size_t d = 0;
    std::vector<float> centroids;  // k * d
    std::vector<float> raw;        // n * d, what the operator sees
    std::vector<int32_t> labels;   // n
    std::vector<uint8_t> entries;  // n * stride
    size_t stride = 0;
};

Built build(const CaseSpec& spec, size_t d, const std::vector<float>& train_raw, const std::vector<float>& data_raw,
            uint64_t seed) {
    Built b;
    b.d = d;
    const bool cos = spec.metric == Metric::kCosine;
    const std::vector<float> train = cos ? unit_rows(train_raw, d) : train_raw;
    const std::vector<float> data = cos ? unit_rows(data_raw, d) : data_raw;
    const size_t k = 3;
    b.centroids.assign(data.begin(), data.begin() + k * d);  // stored rows double as centroids
    for (float& v : b.centroids) v *= 0.999f;
    const std::vector<int32_t> train_labels = assign_rows(train, d, b.centroids);
    CodecOptions opt;
    opt.kind = spec.kind;
    opt.metric = spec.metric;
    opt.residual = spec.residual;
    opt.m = spec.kind == QuantizerKind::kPq ? pq_m_for(d) : 0;
    opt.pq_iterations = 3;
    opt.seed = seed;
    CpuAssigner assigner(1);
    b.codec =
        train_codec(opt, train.data(), train.size() / d, d, b.centroids.data(), train_labels.data(), assigner, Hooks{});
    b.raw = data_raw;
    b.labels = assign_rows(data, d, b.centroids);
    b.stride = b.codec.entry_bytes();
    const size_t n = data.size() / d;
    b.entries.assign(n * b.stride, 0);
    encode_rows(b.codec, data.data(), n, b.centroids.data(), b.labels.data(), b.entries.data(), b.stride, 1);
    return b;
}

// Bounds for every (query, row) pair through the scanner, list by list: out size nq * n.
std::vector<float> scan_all(const Built& b, const std::vector<float>& queries) {
    const size_t d = b.d, n = b.raw.size() / d, nq = queries.size() / d;
    std::vector<float> out(nq * n);
    for (size_t qi = 0; qi < nq; ++qi) {
        QueryScanner scanner(b.codec, queries.data() + qi * d);
        for (size_t list = 0; list < b.centroids.size() / d; ++list) {
            scanner.set_list(b.centroids.data() + list * d);
            for (size_t i = 0; i < n; ++i)
                if (b.labels[i] == static_cast<int32_t>(list))
                    scanner.lower_bounds(b.entries.data() + i * b.stride, 1, b.stride, &out[qi * n + i]);
        }
    }
    return out;
}

// Counts pairs where the bound is above the operator value (or NaN against a number).
size_t count_violations(const Built& b, const std::vector<float>& queries, const std::vector<float>& lbs,
                        const std::vector<Evaluator>& evs, std::string* first) {
    const size_t d = b.d, n = b.raw.size() / d, nq = queries.size() / d;
    size_t bad = 0;
    for (size_t qi = 0; qi < nq; ++qi)
        for (size_t i = 0; i < n; ++i)
            for (const Evaluator& ev : evs) {
                const double op = sql_operator(b.codec.metric, ev, queries.data() + qi * d, b.raw.data() + i * d, d);
                const double lb = lbs[qi * n + i];
                const bool violated = (std::isnan(lb) && !std::isnan(op)) || lb > op;
                if (violated && bad++ == 0 && first != nullptr) {
                    char buf[200];
                    std::snprintf(buf, sizeof buf, "query %zu row %zu (%s): bound %.17g > operator %.17g", qi, i,
                                  ev.name.c_str(), lb, op);
                    *first = buf;
                }
            }
    return bad;
}

// Every quantizer x metric x residual over every scenario; `half` rounds
// training rows, rows and queries to half precision (a halfvec column: the
// index and the operator both see the halves' exact float values).
size_t check_all_bounds(const std::vector<size_t>& dims, bool half) {
    const std::vector<Evaluator> evs = evaluators();
    size_t pairs = 0;
    for (size_t d : dims) {
        const bool big = d >= 784;
        for (Scenario sc : {Scenario::kClusters, Scenario::kMagnitudes, Scenario::kOffset, Scenario::kOutsideRange,
                            Scenario::kEmptyTraining}) {
            Generator gen(sc, d, 1000 + d * 7 + static_cast<size_t>(sc) + (half ? 5 : 0));
            std::vector<float> train = sc == Scenario::kEmptyTraining ? std::vector<float>() : gen.rows(300, 1.0);
            std::vector<float> data = gen.rows(big ? 40 : 100, sc == Scenario::kOutsideRange ? 4.0 : 1.0);
            std::mt19937_64 rng(d + 17);
            std::vector<float> queries = make_queries(gen, data, d, big ? 6 : 12, big ? 4 : 6, rng);
            if (half) {
                train = round_to_half(train);
                data = round_to_half(data);
                queries = round_to_half(queries);
            }
            for (const CaseSpec& spec : all_specs()) {
                if (sc == Scenario::kEmptyTraining && spec.kind == QuantizerKind::kFlat) continue;
                const Built b = build(spec, d, train, data, 77 + d);
                const std::vector<float> lbs = scan_all(b, queries);
                std::string first;
                const size_t bad = count_violations(b, queries, lbs, evs, &first);
                pairs += lbs.size();
                EXPECT_EQ(bad, 0u) << (half ? "half " : "") << "d=" << d << " scenario=" << scenario_name(sc)
                                   << " kind=" << static_cast<int>(spec.kind)
                                   << " metric=" << static_cast<int>(spec.metric) << " residual=" << spec.residual
                                   << ": " << first;
            }
        }
    }
    return pairs;
}

TEST(LowerBound, NeverAboveOperatorValue) { EXPECT_GT(check_all_bounds({1, 3, 128, 784, 2000}, false), 100000u); }

// pgvector's halfvec (pg_ivf_pgvector's halfvec_*_ops): rows and queries are
// halves, which pgvector's distance functions convert exactly and sum in
// float (kPgvectorF16c among the orders), as the index does after its own
// exact conversion.  4000: pgvector's own index limit for halfvec.
TEST(LowerBound, HalfPrecisionRows) { EXPECT_GT(check_all_bounds({1, 3, 128, 4000}, true), 100000u); }

// The conversion the glue applies to halfvec values is exact for every half
// (compared with the definition of binary16, and with F16C's instruction,
// which pgvector uses, where the CPU has it) and inverts round_to_half.
__attribute__((target("f16c"))) float f16c_half_to_float(uint16_t h) { return _cvtsh_ss(h); }

TEST(HalfToFloat, ExactForEveryHalf) {
    const bool f16c = __builtin_cpu_supports("f16c");
    for (uint32_t h = 0; h <= 0xffff; ++h) {
        const float got = half_to_float(static_cast<uint16_t>(h));
        const uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
        const double sign = (h & 0x8000) ? -1.0 : 1.0;
        if (exponent == 0x1f) {
            EXPECT_TRUE(mantissa ? std::isnan(got) : got == static_cast<float>(sign * HUGE_VAL)) << h;
            continue;
        }
        const double want = exponent == 0 ? sign * std::ldexp(static_cast<double>(mantissa), -24)
                                          : sign * std::ldexp(static_cast<double>(1024 + mantissa), static_cast<int>(exponent) - 25);
        ASSERT_EQ(static_cast<double>(got), want) << h;
        ASSERT_EQ(std::signbit(got), (h & 0x8000) != 0) << h;
        if (f16c) ASSERT_EQ(got, f16c_half_to_float(static_cast<uint16_t>(h))) << h;
        ASSERT_EQ(round_to_half(got), got) << h;
    }
    const uint16_t two[2] = {0x3c00, 0xc000};  // 1, -2 through the array form
    float out[2];
    half_to_float(two, out, 2);
    EXPECT_EQ(out[0], 1.0f);
    EXPECT_EQ(out[1], -2.0f);
    EXPECT_EQ(round_to_half(1.0f + 0x1p-11f), 1.0f);            // tie: to even
    EXPECT_EQ(round_to_half(1.0f + 3 * 0x1p-11f), 1.0f + 0x1p-9f);
}

// Zero query under cosine: NaN for every entry, like the operator; a tiny
// nonzero query gets trivial but numeric bounds.
TEST(LowerBound, DegenerateCosineQuery) {
    const size_t d = 16;
    Generator gen(Scenario::kClusters, d, 5);
    const std::vector<float> train = gen.rows(200, 1.0), data = gen.rows(30, 1.0);
    const Built b = build({QuantizerKind::kSq8, Metric::kCosine, true}, d, train, data, 5);
    std::vector<float> zero(d, 0.0f);
    const std::vector<float> lbs = scan_all(b, zero);
    for (float v : lbs) EXPECT_TRUE(std::isnan(v));
    QueryScanner scanner(b.codec, zero.data());
    EXPECT_TRUE(scanner.query_is_degenerate());
    std::vector<float> tiny(d, 1e-30f);
    const std::vector<float> tiny_lbs = scan_all(b, tiny);
    for (float v : tiny_lbs) EXPECT_EQ(v, 0.0f);
    QueryScanner ok(b.codec, data.data());
    EXPECT_FALSE(ok.query_is_degenerate());
}

// Entries marked unbounded (or rows too large for IP) give the trivial bound.
TEST(LowerBound, UnboundedEntriesAreTrivial) {
    const size_t d = 8;
    Generator gen(Scenario::kClusters, d, 9);
    const std::vector<float> train = gen.rows(100, 1.0), data = gen.rows(10, 1.0);
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
        Built b = build({QuantizerKind::kSq8, metric, true}, d, train, data, 3);
        for (size_t i = 0; i < 10; ++i) mark_entry_unbounded(b.entries.data() + i * b.stride);
        for (float v : scan_all(b, gen.rows(3, 1.0))) EXPECT_EQ(v, bounds::trivial_bound(metric));
    }
    std::vector<float> huge = gen.rows(4, 1.0);
    for (float& v : huge) v *= 1e19f;  // ||x|| >= 2^63: the operator's float dot may overflow
    Built b = build({QuantizerKind::kFlat, Metric::kInnerProduct, false}, d, train, huge, 3);
    for (float v : scan_all(b, gen.rows(2, 1.0))) EXPECT_EQ(v, -std::numeric_limits<float>::infinity());
    // A query with ||q|| >= 2^63 under IP: every bound is -inf.
    Built ip = build({QuantizerKind::kSq8, Metric::kInnerProduct, true}, d, train, data, 3);
    for (float v : scan_all(ip, huge)) EXPECT_EQ(v, -std::numeric_limits<float>::infinity());
    for (float v : scan_all(ip, gen.rows(2, 1.0))) EXPECT_TRUE(std::isfinite(v));
}

// The same checks with the float slack removed must fail: this is what gives
// the test above its teeth.  (a) SQ8 L2 with the query equal to a stored row:
// the operator returns exactly 0 while sqrt(A) - e is positive about half the
// time.  (b) Flat IP without slack against other summation orders.
TEST(LowerBound, SlackFreeBoundViolates) {
    const std::vector<Evaluator> evs = evaluators();
    const size_t d = 128;
    Generator gen(Scenario::kClusters, d, 11);
    const std::vector<float> train = gen.rows(300, 1.0), data = gen.rows(100, 1.0);
    const Built b = build({QuantizerKind::kSq8, Metric::kL2, true}, d, train, data, 11);
    const size_t n = data.size() / d;
    size_t naive_bad = 0, real_bad = 0;
    for (size_t r = 0; r < n; ++r) {
        const float* q = data.data() + r * d;
        QueryScanner scanner(b.codec, q);
        scanner.set_list(b.centroids.data() + static_cast<size_t>(b.labels[r]) * d);
        const uint8_t* entry = b.entries.data() + r * b.stride;
        double approx;
        float lb;
        scanner.approximate(entry, 1, b.stride, &approx);
        scanner.lower_bounds(entry, 1, b.stride, &lb);
        // exact e = ||x - x~|| in long double
        std::vector<double> part(d);
        sq8_code_part(b.codec.sq_step.data(), entry + kEntryCodeOffset, d, part.data());
        long double e2 = 0;
        for (size_t j = 0; j < d; ++j) {
            const long double rec =
                static_cast<long double>(b.centroids[b.labels[r] * d + j]) + b.codec.sq_bias[j] + part[j];
            e2 += (q[j] - rec) * (q[j] - rec);
        }
        const double naive = approx - static_cast<double>(std::sqrt(e2));
        for (const Evaluator& ev : evs) {
            const double op = sql_operator(Metric::kL2, ev, q, data.data() + r * d, d);
            ASSERT_EQ(op, 0.0);
            naive_bad += naive > op;
            real_bad += lb > op;
        }
    }
    EXPECT_GT(naive_bad, 0u) << "the slack-free L2 bound should have failed somewhere";
    EXPECT_EQ(real_bad, 0u);

    const Built f = build({QuantizerKind::kFlat, Metric::kInnerProduct, false}, d, train, data, 11);
    std::mt19937_64 rng(3);
    const std::vector<float> queries = make_queries(gen, data, d, 20, 10, rng);
    const std::vector<float> lbs = scan_all(f, queries);
    std::vector<float> naive_lbs(lbs.size());
    for (size_t qi = 0; qi < queries.size() / d; ++qi) {
        QueryScanner scanner(f.codec, queries.data() + qi * d);
        std::vector<double> approx(n);
        scanner.approximate(f.entries.data(), n, f.stride, approx.data());
        for (size_t i = 0; i < n; ++i) naive_lbs[qi * n + i] = static_cast<float>(approx[i]);
    }
    EXPECT_GT(count_violations(f, queries, naive_lbs, evs, nullptr), 0u)
        << "the slack-free IP bound should have failed somewhere";
    EXPECT_EQ(count_violations(f, queries, lbs, evs, nullptr), 0u);

    // (c) Flat cosine with the query equal to a stored row, no slack: the
    // operator often clamps to exactly 0 while 1 - <qf, y> is a few ulps above.
    const Built c = build({QuantizerKind::kFlat, Metric::kCosine, false}, d, train, data, 11);
    const std::vector<float> copies = data;  // every stored row as a query
    const std::vector<float> cos_lbs = scan_all(c, copies);
    std::vector<float> cos_naive(cos_lbs.size());
    for (size_t qi = 0; qi < n; ++qi) {
        QueryScanner scanner(c.codec, copies.data() + qi * d);
        std::vector<double> approx(n);
        scanner.approximate(c.entries.data(), n, c.stride, approx.data());
        for (size_t i = 0; i < n; ++i) cos_naive[qi * n + i] = static_cast<float>(approx[i]);
    }
    EXPECT_GT(count_violations(c, copies, cos_naive, evs, nullptr), 0u)
        << "the slack-free cosine bound should have failed somewhere";
    EXPECT_EQ(count_violations(c, copies, cos_lbs, evs, nullptr), 0u);
}

// Mean of lb / true distance over the 10 true nearest neighbours of each query
// (L2, cosine), and mean (true - lb) / |true| for IP, on Gaussian clusters.
// Prints the numbers and asserts floors well below what is measured, so a
// bound that silently degenerates to 0 fails.
TEST(LowerBound, Tightness) {
    for (size_t d : {128, 784}) {
        const size_t n = d == 128 ? 3000 : 1500, nq = 15, k = 16, top = 10;
        std::mt19937_64 rng(99 + d);
        std::normal_distribution<double> g(0.0, 1.0);
        std::vector<double> centers(32 * d);
        for (double& v : centers) v = g(rng);
        auto draw = [&](size_t count) {
            std::vector<float> out(count * d);
            for (size_t i = 0; i < count; ++i) {
                const size_t c = rng() % 32;
                for (size_t j = 0; j < d; ++j) out[i * d + j] = static_cast<float>(centers[c * d + j] + 0.25 * g(rng));
            }
            return out;
        };
        const std::vector<float> raw = draw(n), queries = draw(nq);
        for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
            const std::vector<float> rows = metric == Metric::kCosine ? unit_rows(raw, d) : raw;
            CpuAssigner assigner(1);
            KMeansParams kp;
            kp.k = k;
            kp.iterations = 5;
            const std::vector<float> cent = train_kmeans(rows.data(), n, d, kp, assigner, Hooks{}).centroids;
            const std::vector<int32_t> labels = assign_rows(rows, d, cent);
            struct Variant {
                QuantizerKind kind;
                size_t m;
                const char* name;
            };
            for (const Variant& v :
                 {Variant{QuantizerKind::kSq8, 0, "sq8"}, Variant{QuantizerKind::kPq, d / 4, "pq d/4"},
                  Variant{QuantizerKind::kPq, d / 8, "pq d/8"}, Variant{QuantizerKind::kFlat, 0, "flat"}}) {
                CodecOptions opt;
                opt.kind = v.kind;
                opt.metric = metric;
                opt.m = v.m;
                opt.pq_iterations = 6;
                const Codec codec = train_codec(opt, rows.data(), n, d, cent.data(), labels.data(), assigner, Hooks{});
                const size_t stride = codec.entry_bytes();
                std::vector<uint8_t> entries(n * stride);
                encode_rows(codec, rows.data(), n, cent.data(), labels.data(), entries.data(), stride, 2);
                const Evaluator exact{SumOrder::kKernel, &scalar_kernels(), "scalar"};
                double sum = 0;
                size_t count = 0;
                for (size_t qi = 0; qi < nq; ++qi) {
                    const float* q = queries.data() + qi * d;
                    std::vector<std::pair<double, size_t>> truth(n);
                    for (size_t i = 0; i < n; ++i)
                        truth[i] = {sql_operator(metric, exact, q, raw.data() + i * d, d), i};
                    std::partial_sort(truth.begin(), truth.begin() + top, truth.end());
                    QueryScanner scanner(codec, q);
                    for (size_t t = 0; t < top; ++t) {
                        const size_t i = truth[t].second;
                        scanner.set_list(cent.data() + static_cast<size_t>(labels[i]) * d);
                        float lb;
                        scanner.lower_bounds(entries.data() + i * stride, 1, stride, &lb);
                        ASSERT_LE(lb, truth[t].first);
                        sum += metric == Metric::kInnerProduct ? (truth[t].first - lb) / std::fabs(truth[t].first)
                                                               : lb / truth[t].first;
                        ++count;
                    }
                }
                const double mean = sum / static_cast<double>(count);
                std::printf("[ tightness ] d=%4zu %-7s %-6s %s = %.5f\n", d,
                            metric == Metric::kL2       ? "l2"
                            : metric == Metric::kCosine ? "cosine"
                                                        : "ip",
                            v.name, metric == Metric::kInnerProduct ? "mean gap/|true|" : "mean lb/true", mean);
                const bool flat = v.kind == QuantizerKind::kFlat;
                const bool sq8 = v.kind == QuantizerKind::kSq8;
                if (metric == Metric::kInnerProduct)
                    EXPECT_LT(mean, flat ? 1e-3 : (sq8 ? 0.02 : 0.4));
                else if (metric == Metric::kL2)
                    EXPECT_GT(mean, flat ? 0.999 : (sq8 ? 0.95 : 0.2));
                else
                    EXPECT_GT(mean, flat ? 0.99 : (sq8 ? 0.93 : 0.05));
            }
        }
    }
}

// The list-level bound: rows placed by the real assigner, plus rows planted
// one ulp around the bisector of two centroids (near-ties the assigner may
// resolve either way by rounding), never have an operator value below the
// bound of their list against any other list, for fresh queries, stored rows
// and rows nudged by one ulp.  The bound must also be positive for most pairs
// of lists, or the check would be empty.
TEST(ListBound, NeverAboveOperatorValue) {
    const std::vector<Evaluator> evs = evaluators();
    const size_t k = 12;
    size_t pairs = 0, positive = 0;
    for (size_t d : {2, 8, 37, 128, 784}) {
        for (Scenario sc : {Scenario::kClusters, Scenario::kMagnitudes, Scenario::kOffset}) {
            Generator gen(sc, d, 4000 + d * 3 + static_cast<size_t>(sc));
            std::vector<float> raw = gen.rows(d >= 784 ? 150 : 500, 1.0);
            std::mt19937_64 rng(d + 5);
            const std::vector<float> queries = make_queries(gen, raw, d, 8, 4, rng);
            for (Metric metric : {Metric::kL2, Metric::kCosine}) {
                const bool cos = metric == Metric::kCosine;
                std::vector<float> rows = raw;
                const std::vector<float> stored0 = cos ? unit_rows(raw, d) : raw;
                std::vector<float> cent(stored0.begin(), stored0.begin() + k * d);
                if (!cos)
                    for (float& v : cent) v *= 0.999f;
                // midpoints of centroid pairs (raw rows; under cosine their
                // normalized form lies on the bisector too), nudged by an ulp
                for (size_t a = 0; a + 1 < k; ++a)
                    for (int copy = 0; copy < 4; ++copy)
                        for (size_t t = 0; t < d; ++t) {
                            float m = 0.5f * (cent[a * d + t] + cent[(a + 1) * d + t]);
                            if (copy > 0 && rng() % 2) m = std::nextafter(m, (rng() % 2) ? 1e30f : -1e30f);
                            rows.push_back(m);
                        }
                const std::vector<float> stored = cos ? unit_rows(rows, d) : rows;
                const size_t n = rows.size() / d;
                std::vector<int32_t> labels(n);
                std::vector<float> dist2(n);
                CpuAssigner assigner(1);
                assigner.assign(stored.data(), n, cent.data(), k, d, labels.data(), dist2.data(), Hooks{});
                Codec codec;
                codec.kind = QuantizerKind::kFlat;
                codec.metric = metric;
                codec.d = d;
                codec.residual = false;
                for (size_t qi = 0; qi < queries.size() / d; ++qi) {
                    const float* q = queries.data() + qi * d;
                    QueryScanner scanner(codec, q);
                    std::vector<float> lb(k * k, 0.0f);  // lb[i * k + j]: list j against list i
                    for (size_t i = 0; i < k; ++i)
                        for (size_t j = 0; j < k; ++j) {
                            if (i == j) continue;
                            lb[i * k + j] = scanner.list_lower_bound(cent.data() + i * d, cent.data() + j * d);
                            ++pairs;
                            positive += lb[i * k + j] > 0.0f;
                        }
                    for (size_t r = 0; r < n; ++r) {
                        const size_t j = static_cast<size_t>(labels[r]);
                        float worst = 0.0f;
                        for (size_t i = 0; i < k; ++i) worst = std::max(worst, lb[i * k + j]);
                        for (const Evaluator& ev : evs) {
                            const double op = sql_operator(metric, ev, q, rows.data() + r * d, d);
                            ASSERT_FALSE(worst > op) << "d=" << d << " scenario=" << scenario_name(sc) << " metric="
                                                     << static_cast<int>(metric) << " query " << qi << " row " << r
                                                     << " (" << ev.name << "): list bound " << worst
                                                     << " > operator " << op;
                        }
                    }
                }
            }
        }
    }
    EXPECT_GT(positive, pairs / 5);
}

// The inner-product list bound of the MIPS reduction (MIPS LIST BOUND in
// bounds.h): rows placed by the real assigner in the augmented space, plus
// rows planted on both sides of the point where the assigner's choice flips
// between two lists (found by bisection along the segment between two rows,
// so ties are resolved by the assigner's own rounding), never have an
// operator value below their list's bound against any other list, under every
// summation order.  M^2 is above every row's squared norm (segments and
// one-ulp nudges stay inside), as the index guarantees while no row beyond it
// was inserted.  The bound must also beat Cauchy-Schwarz (-||q|| M) for some
// pairs (about 8 % here), or it would be the trivial half of its own formula.
TEST(ListBound, InnerProductUnderMipsReduction) {
    const std::vector<Evaluator> evs = evaluators();
    const size_t k = 10;
    size_t pairs = 0, beyond_cs = 0, checked = 0;
    for (size_t d : {2, 8, 37, 128, 784}) {
        for (Scenario sc : {Scenario::kClusters, Scenario::kMagnitudes, Scenario::kOffset}) {
            Generator gen(sc, d, 7000 + d * 3 + static_cast<size_t>(sc));
            std::vector<float> rows = gen.rows(d >= 784 ? 150 : 400, 1.0);
            std::mt19937_64 rng(d + 11);
            double max2 = 0;
            for (size_t r = 0; r < rows.size() / d; ++r) max2 = std::max(max2, mips_squared_norm(&rows[r * d], d));
            const double m2 = max2 * 1.5;
            CpuAssigner assigner(1);
            // centroids: k augmented rows, shrunk a little so no row sits on one
            std::vector<float> aug(rows.size() / d * (d + 1));
            mips_augment_rows(rows.data(), d, rows.size() / d, d, m2, aug.data());
            std::vector<float> cent(aug.begin(), aug.begin() + k * (d + 1));
            for (float& v : cent) v *= 0.999f;
            auto label_of = [&](const std::vector<float>& x) {
                std::vector<float> a(d + 1);
                int32_t label;
                float dist2;
                mips_augment_rows(x.data(), d, 1, d, m2, a.data());
                assigner.assign(a.data(), 1, cent.data(), k, d + 1, &label, &dist2, Hooks{});
                return label;
            };
            // near-ties: bisect the segment between rows of two different lists
            const size_t base_n = rows.size() / d;
            for (int t = 0; t < 24; ++t) {
                const size_t ra = rng() % base_n, rb = rng() % base_n;
                std::vector<float> xa(rows.begin() + ra * d, rows.begin() + (ra + 1) * d);
                std::vector<float> xb(rows.begin() + rb * d, rows.begin() + (rb + 1) * d);
                const int32_t la = label_of(xa), lb = label_of(xb);
                if (la == lb) continue;
                double lo = 0, hi = 1;
                std::vector<float> x(d);
                auto at = [&](double w) {
                    for (size_t j = 0; j < d; ++j)
                        x[j] = static_cast<float>((1.0 - w) * xa[j] + w * xb[j]);
                    return x;
                };
                for (int it = 0; it < 60; ++it) {
                    const double mid = 0.5 * (lo + hi);
                    if (label_of(at(mid)) == la)
                        lo = mid;
                    else
                        hi = mid;
                }
                for (double w : {lo, hi}) {
                    at(w);
                    rows.insert(rows.end(), x.begin(), x.end());
                    for (size_t j = 0; j < d; ++j)
                        if (rng() % 2) x[j] = std::nextafter(x[j], (rng() % 2) ? 1e30f : -1e30f);
                    rows.insert(rows.end(), x.begin(), x.end());
                }
            }
            const size_t n = rows.size() / d;
            for (size_t r = 0; r < n; ++r) ASSERT_LE(mips_squared_norm(&rows[r * d], d), m2);
            std::vector<int32_t> labels(n);
            std::vector<float> dist2(n);
            std::vector<float> cent_d(k * d), extras(k);
            mips_split_centroids(cent.data(), k, d, cent_d.data(), extras.data());
            assign_to_lists(assigner, rows.data(), n, d, cent.data(), k, m2, labels.data(), dist2.data(), Hooks{});
            Codec codec;
            codec.kind = QuantizerKind::kFlat;
            codec.metric = Metric::kInnerProduct;
            codec.d = d;
            codec.residual = false;
            const std::vector<float> queries = make_queries(gen, rows, d, 6, 4, rng);
            for (size_t qi = 0; qi < queries.size() / d; ++qi) {
                const float* q = queries.data() + qi * d;
                QueryScanner scanner(codec, q);
                const double cs = -std::sqrt(mips_squared_norm(q, d) * m2);
                std::vector<float> lb(k * k, 0.0f);
                for (size_t i = 0; i < k; ++i)
                    for (size_t j = 0; j < k; ++j) {
                        if (i == j) continue;
                        lb[i * k + j] = scanner.mips_list_lower_bound(cent_d.data() + i * d, extras[i],
                                                                      cent_d.data() + j * d, extras[j], m2);
                        ASSERT_TRUE(std::isfinite(lb[i * k + j]));
                        ++pairs;
                        beyond_cs += lb[i * k + j] > cs * (1.0 - 1e-6);
                    }
                for (size_t r = 0; r < n; ++r) {
                    const size_t j = static_cast<size_t>(labels[r]);
                    float worst = -std::numeric_limits<float>::infinity();
                    for (size_t i = 0; i < k; ++i)
                        if (i != j) worst = std::max(worst, lb[i * k + j]);
                    for (const Evaluator& ev : evs) {
                        const double op = sql_operator(Metric::kInnerProduct, ev, q, rows.data() + r * d, d);
                        ++checked;
                        ASSERT_FALSE(worst > op) << "d=" << d << " scenario=" << scenario_name(sc) << " query " << qi
                                                 << " row " << r << " (" << ev.name << "): list bound " << worst
                                                 << " > operator " << op;
                    }
                }
            }
        }
    }
    EXPECT_GT(checked, 100000u);
    EXPECT_GT(beyond_cs, pairs / 20);
}

// Without the reduction (max_norm2 = 0), and for other metrics, no MIPS list bound.
TEST(ListBound, MipsTrivialWithoutReduction) {
    Codec codec;
    codec.kind = QuantizerKind::kFlat;
    codec.metric = Metric::kInnerProduct;
    codec.d = 2;
    codec.residual = false;
    const float q[2] = {1.0f, 0.0f}, a[2] = {1.0f, 0.0f}, b[2] = {-1.0f, 0.0f};
    QueryScanner scanner(codec, q);
    EXPECT_EQ(scanner.mips_list_lower_bound(a, 0.5f, b, 0.5f, 0.0), -std::numeric_limits<float>::infinity());
    EXPECT_GT(scanner.mips_list_lower_bound(a, 0.5f, b, 0.5f, 2.0), -std::numeric_limits<float>::infinity());
    codec.metric = Metric::kL2;
    QueryScanner l2(codec, q);
    EXPECT_EQ(l2.mips_list_lower_bound(a, 0.5f, b, 0.5f, 2.0), 0.0f);
}

// Inner product has no list-level bound from the plain L2 geometry.
TEST(ListBound, TrivialForInnerProduct) {
    Codec codec;
    codec.kind = QuantizerKind::kFlat;
    codec.metric = Metric::kInnerProduct;
    codec.d = 2;
    codec.residual = false;
    const float q[2] = {0.0f, 0.0f}, a[2] = {0.0f, 0.0f}, b[2] = {100.0f, 0.0f};
    QueryScanner scanner(codec, q);
    EXPECT_EQ(scanner.list_lower_bound(a, b), -std::numeric_limits<float>::infinity());
}

// QUICK BOUND: the key never exceeds lower_bound() for any L2 query bound
// (every quantizer, d up to 16,000, query norms over the float range) and any
// kernel value and err, including 0, subnormals, FLT_MAX, inf and NaN, and
// values where the bound is near 0 (A = err^2); a key without the margins
// exceeds it, so the check can fail.
TEST(QuickBound, NeverAboveTheBound) {
    std::mt19937_64 rng(77);
    std::uniform_real_distribution<double> ex(-40.0, 38.0);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const float specials[] = {0.0f, std::numeric_limits<float>::denorm_min(), 1e-30f, 1.0f,
                              std::numeric_limits<float>::max(), std::numeric_limits<float>::infinity(),
                              std::numeric_limits<float>::quiet_NaN()};
    size_t checked = 0, unmargined_violations = 0;
    for (QuantizerKind kind : {QuantizerKind::kSq8, QuantizerKind::kPq, QuantizerKind::kFlat})
        for (bool residual : {false, true})
            for (size_t d : {size_t(1), size_t(8), size_t(784), size_t(2000), size_t(16000)})
                for (double qn : {0.0, 1e-20, 1.0, 255.0 * 28.0, 1e15, 1e30}) {
                    const bounds::QueryBound b =
                        bounds::make_query_bound(kind, Metric::kL2, residual, d, qn, qn * qn);
                    const bounds::QuickBound k = bounds::make_quick_bound(b);
                    ASSERT_TRUE(k.usable);
                    bounds::QuickBound loose;  // the same key without margins
                    const double p = (1.0 - b.g_op) * bounds::kShrink;
                    loose.cx = static_cast<float>((1.0 - b.g_kernel) * p * (1.0 / (1.0 + bounds::kU) - bounds::kGuard));
                    loose.ce = static_cast<float>(p * (1.0 / (1.0 + bounds::kU) + bounds::kGuard));
                    loose.c0 = static_cast<float>(b.q_term * (1.0 / (1.0 + bounds::kU) + bounds::kGuard) * p + b.slack);
                    for (int t = 0; t < 4000; ++t) {
                        float a, e;
                        const int mode = t % 4;
                        if (mode == 0) {
                            a = specials[rng() % 7];
                            e = specials[rng() % 7];
                        } else {
                            a = static_cast<float>(std::pow(10.0, ex(rng)));
                            e = mode == 1 ? static_cast<float>(std::pow(10.0, ex(rng)))
                                          // near the bound's zero: sqrt(A) ~ err + q_term
                                          : static_cast<float>(std::sqrt(static_cast<double>(a)) *
                                                               (1.0 - 1e-4 * unit(rng)) - b.q_term);
                            if (!(e >= 0.0f)) e = 0.0f;
                        }
                        const float lb = bounds::lower_bound(b, a, e);
                        const float key = bounds::quick_lower_bound(k, a, e);
                        ASSERT_FALSE(std::isnan(key)) << a << " " << e;
                        ASSERT_LE(key, lb) << "kind " << int(kind) << " d " << d << " |q| " << qn << " A " << a
                                           << " err " << e;
                        if (bounds::quick_lower_bound(loose, a, e) > lb) ++unmargined_violations;
                        ++checked;
                    }
                }
    EXPECT_GT(checked, 100000u);
    EXPECT_GT(unmargined_violations, 0u);
    EXPECT_FALSE(bounds::make_quick_bound(
                     bounds::make_query_bound(QuantizerKind::kSq8, Metric::kCosine, true, 8, 1.0, 1.0))
                     .usable);
    EXPECT_FALSE(bounds::make_quick_bound(
                     bounds::make_query_bound(QuantizerKind::kSq8, Metric::kInnerProduct, true, 8, 1.0, 1.0))
                     .usable);
}

// INTEGER QUICK BOUND: the key from the integer kernel on the query's code
// grid is never above lower_bound() of the A that any level's float kernel
// gives, on adversarial SQ8 rows: steps from subnormal to 1e30 and zero,
// rows on the query's grid point (distance near 0) and next to it, queries
// far outside the code range (clamped grid), d = 1..2000, and err 0, tiny,
// +inf and NaN.  The same key without the query's grid error (delta) is
// above the bound somewhere, so the check can fail; on plain rows the key
// stays close to the bound (it must order the scan, not just be valid).
TEST(IntQuickBound, NeverAboveTheBoundAtAnyLevel) {
    std::mt19937_64 rng(91);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const Kernels& ref = scalar_kernels();
    size_t checked = 0, undelta_violations = 0, plain = 0, overflowing = 0;
    double plain_ratio = 0;
    for (size_t d : {size_t(1), size_t(2), size_t(3), size_t(31), size_t(33), size_t(100), size_t(784), size_t(2000)})
        for (int steps = 0; steps < 5; ++steps)
            for (int rows = 0; rows < 4; ++rows) {
                // one buffer per array at an odd offset: the kernels get unaligned inputs
                std::vector<float> step(d + 1), a(d + 1);
                std::vector<uint8_t> code(d + 1);
                std::vector<int16_t> w(d + 1), g(d + 1);
                std::vector<float> inv(d + 1);
                for (size_t i = 1; i <= d; ++i) {
                    switch (steps) {
                        case 0: step[i] = 0.01f; break;  // uniform (plain)
                        case 1: step[i] = static_cast<float>(std::pow(10.0, -30.0 + 42.0 * unit(rng))); break;
                        case 2: step[i] = i % 3 == 0 ? 0.0f : static_cast<float>(unit(rng)); break;
                        case 3: step[i] = i == 1 ? 1e6f : 1e-3f * static_cast<float>(unit(rng)); break;
                        default: step[i] = std::numeric_limits<float>::denorm_min() * float(1 + rng() % 1000); break;
                    }
                    const int grid = static_cast<int>(rng() % 256);
                    switch (rows) {
                        case 0:  // on the grid point: distance 0 up to a fraction of a step
                            code[i] = uint8_t(grid);
                            a[i] = static_cast<float>(step[i] * (grid + 0.49 * (2.0 * unit(rng) - 1.0)));
                            break;
                        case 1:  // the next code, the query leaning towards it
                            code[i] = uint8_t(std::min(255, grid + 1));
                            a[i] = static_cast<float>(step[i] * (grid + 0.45 * unit(rng)));
                            break;
                        case 2:  // random row and query (plain)
                            code[i] = uint8_t(rng());
                            a[i] = static_cast<float>(step[i] * 255.0 * unit(rng));
                            break;
                        default:  // query far outside the codes' range
                            code[i] = uint8_t(rng());
                            a[i] = static_cast<float>(step[i] * (i % 2 ? -1e4 : 1e4) * unit(rng));
                            break;
                    }
                }
                double sigma = 0, step_sq = 0, delta_sq = 0;
                if (!sq8_int_weights(step.data() + 1, d, w.data() + 1, inv.data() + 1, &sigma, &step_sq)) continue;
                if (!sq8_query_grid(a.data() + 1, step.data() + 1, inv.data() + 1, d, g.data() + 1, &delta_sq)) {
                    ++overflowing;  // a float kernel that may overflow: the scan refines such lists
                    continue;
                }
                for (size_t i = 1; i <= d; ++i) ASSERT_LE(w[i], kSq8IntMaxWeight);
                const uint64_t sum = ref.sq8_l2_int(g.data() + 1, w.data() + 1, code.data() + 1, d);
                double a_norm = 0;
                for (size_t i = 1; i <= d; ++i) a_norm += double(a[i]) * a[i];
                for (bool residual : {false, true}) {
                    const bounds::QueryBound b =
                        bounds::make_query_bound(QuantizerKind::kSq8, Metric::kL2, residual, d, std::sqrt(a_norm), a_norm);
                    const bounds::IntQuickBound k = bounds::make_int_quick_bound(b, d, sigma, step_sq, delta_sq);
                    const bounds::IntQuickBound no_delta = bounds::make_int_quick_bound(b, d, sigma, step_sq, 0.0);
                    ASSERT_TRUE(k.usable);
                    for (const Evaluator& kc : evaluators()) {
                        if (kc.order != SumOrder::kKernel) continue;
                        const float A = kc.kernels->sq8_l2_squared(a.data() + 1, step.data() + 1, code.data() + 1, d);
                        const float errs[] = {0.0f, 1e-30f, static_cast<float>(std::sqrt(double(A)) * unit(rng)),
                                              std::numeric_limits<float>::infinity(),
                                              std::numeric_limits<float>::quiet_NaN()};
                        for (float err : errs) {
                            const float lb = bounds::lower_bound(b, A, err);
                            const float key = bounds::int_quick_lower_bound(k, sum, err);
                            ASSERT_FALSE(std::isnan(key));
                            ASSERT_LE(key, lb) << kc.name << " d " << d << " steps " << steps << " rows " << rows
                                               << " A " << A << " err " << err;
                            if (bounds::int_quick_lower_bound(no_delta, sum, err) > lb) ++undelta_violations;
                            if (steps == 0 && rows == 2 && err == 0.0f && lb > 0.0f) {
                                plain_ratio += key / lb;
                                ++plain;
                            }
                            ++checked;
                        }
                    }
                }
            }
    EXPECT_GT(checked, 1000u);
    EXPECT_LT(overflowing, 8u);  // only the queries far outside huge steps
    EXPECT_GT(undelta_violations, 0u);
    ASSERT_GT(plain, 0u);
    EXPECT_GT(plain_ratio / plain, 0.95);
    // a float kernel that could overflow (lower_bound() would be the trivial 0) gives no grid
    std::vector<float> huge(4, 1e30f), far(4, -1e34f), one(4, 1.0f), inv(4);
    std::vector<int16_t> g(4), w(4);
    double sigma = 0, step_sq = 0, delta_sq = 0;
    ASSERT_TRUE(sq8_int_weights(huge.data(), 4, w.data(), inv.data(), &sigma, &step_sq));
    EXPECT_FALSE(sq8_query_grid(far.data(), huge.data(), inv.data(), 4, g.data(), &delta_sq));
    ASSERT_TRUE(sq8_int_weights(one.data(), 4, w.data(), inv.data(), &sigma, &step_sq));
    EXPECT_TRUE(sq8_query_grid(one.data(), one.data(), inv.data(), 4, g.data(), &delta_sq));
    far[0] = std::numeric_limits<float>::quiet_NaN();
    EXPECT_FALSE(sq8_query_grid(far.data(), one.data(), inv.data(), 4, g.data(), &delta_sq));
    far[0] = std::numeric_limits<float>::infinity();
    EXPECT_FALSE(sq8_query_grid(far.data(), one.data(), inv.data(), 4, g.data(), &delta_sq));
}

}  // namespace
}  // namespace pg_ivf::core
