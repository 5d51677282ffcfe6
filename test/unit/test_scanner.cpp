// QueryScanner: the ADC estimate equals the distance to the decoded row
// (computed in double) for every quantizer x metric x residual; list ranking
// matches brute force; batch, alignment and set_list contracts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "core/codec.h"
#include "core/pq.h"
#include "core/rerank.h"
#include "test_rows.h"

namespace pg_ivf::core {
namespace {

using test_rows::gaussian_rows;
using test_rows::unit_rows;

// The row the entry represents, in double: (c +) decode(code).
std::vector<double> decoded(const Codec& codec, const uint8_t* entry, const float* c) {
    const size_t d = codec.d;
    const uint8_t* code = entry + kEntryCodeOffset;
    std::vector<double> out(d, 0.0);
    if (codec.kind == QuantizerKind::kSq8) {
        for (size_t j = 0; j < d; ++j)
            out[j] = static_cast<double>(codec.sq_bias[j]) + static_cast<double>(codec.sq_step[j]) * code[j];
    } else if (codec.kind == QuantizerKind::kPq) {
        const size_t dsub = d / codec.m;
        for (size_t q = 0; q < codec.m; ++q)
            for (size_t i = 0; i < dsub; ++i)
                out[q * dsub + i] = codec.pq_codebooks[(q * kPqCentroids + code[q]) * dsub + i];
    } else {
        std::vector<float> y(d);
        std::memcpy(y.data(), code, 4 * d);
        for (size_t j = 0; j < d; ++j) out[j] = y[j];
    }
    if (codec.residual)
        for (size_t j = 0; j < d; ++j) out[j] += c[j];
    return out;
}

struct ScanFixture {
    Codec codec;
    std::vector<float> rows, cent;
    std::vector<int32_t> labels;
    std::vector<uint8_t> entries;
};

ScanFixture make_setup(QuantizerKind kind, Metric metric, bool residual, size_t d, size_t n, uint64_t seed) {
    ScanFixture s;
    s.rows = gaussian_rows(n, d, seed, 0.5, 1.0);
    if (metric == Metric::kCosine) s.rows = unit_rows(s.rows, d);
    s.cent.assign(s.rows.begin(), s.rows.begin() + 4 * d);
    s.labels.resize(n);
    for (size_t i = 0; i < n; ++i) s.labels[i] = static_cast<int32_t>(i % 4);
    CodecOptions opt;
    opt.kind = kind;
    opt.metric = metric;
    opt.residual = residual;
    opt.m = kind == QuantizerKind::kPq ? d / 4 : 0;
    opt.pq_iterations = 4;
    CpuAssigner assigner(1);
    s.codec = train_codec(opt, s.rows.data(), n, d, s.cent.data(), s.labels.data(), assigner, Hooks{});
    s.entries.resize(n * s.codec.entry_bytes());
    encode_rows(s.codec, s.rows.data(), n, s.cent.data(), s.labels.data(), s.entries.data(), s.codec.entry_bytes(), 1);
    return s;
}

TEST(Adc, MatchesDecodedDistance) {
    const size_t d = 64, n = 120;
    for (QuantizerKind kind : {QuantizerKind::kSq8, QuantizerKind::kPq, QuantizerKind::kFlat})
        for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine})
            for (bool residual : {false, true}) {
                if (kind == QuantizerKind::kFlat && residual) continue;
                const ScanFixture s = make_setup(kind, metric, residual, d, n, 7);
                const size_t stride = s.codec.entry_bytes();
                const std::vector<float> queries = gaussian_rows(5, d, 8, 0.5, 1.0);
                for (size_t qi = 0; qi < 5; ++qi) {
                    const float* q = queries.data() + qi * d;
                    std::vector<double> qn(q, q + d);
                    double qq = 0;
                    for (double v : qn) qq += v * v;
                    if (metric == Metric::kCosine)
                        for (double& v : qn) v /= std::sqrt(qq);
                    QueryScanner scanner(s.codec, q);
                    for (size_t i = 0; i < n; ++i) {
                        const float* c = s.cent.data() + s.labels[i] * d;
                        scanner.set_list(c);
                        double approx;
                        scanner.approximate(s.entries.data() + i * stride, 1, stride, &approx);
                        const std::vector<double> x = decoded(s.codec, s.entries.data() + i * stride, c);
                        double l2 = 0, ip = 0, scale = 0;
                        for (size_t j = 0; j < d; ++j) {
                            l2 += (qn[j] - x[j]) * (qn[j] - x[j]);
                            ip += qn[j] * x[j];
                            scale +=
                                std::fabs(qn[j]) * (std::fabs(x[j]) + std::fabs(c[j])) + qn[j] * qn[j] + x[j] * x[j];
                        }
                        double expect = metric == Metric::kL2             ? std::sqrt(l2)
                                        : metric == Metric::kInnerProduct ? -ip
                                                                          : l2 / 2;
                        const double tol = metric == Metric::kL2 ? 1e-5 * std::sqrt(scale) : 1e-5 * scale;
                        ASSERT_NEAR(approx, expect, tol) << "kind " << static_cast<int>(kind) << " metric "
                                                         << static_cast<int>(metric) << " residual " << residual;
                    }
                }
            }
}

// Double-precision ranking of centroids by the documented list distance.
std::vector<double> brute_list_distances(Metric metric, const float* q, const std::vector<float>& cent, size_t d) {
    const size_t k = cent.size() / d;
    double qq = 0;
    for (size_t j = 0; j < d; ++j) qq += static_cast<double>(q[j]) * q[j];
    std::vector<double> out(k);
    for (size_t c = 0; c < k; ++c) {
        double l2 = 0, ip = 0;
        for (size_t j = 0; j < d; ++j) {
            l2 += std::pow(static_cast<double>(q[j]) - cent[c * d + j], 2);
            ip += static_cast<double>(q[j]) * cent[c * d + j];
        }
        out[c] = metric == Metric::kL2 ? l2 : metric == Metric::kInnerProduct ? -ip : -ip / std::sqrt(qq);
    }
    return out;
}

TEST(NearestLists, MatchesBruteForce) {
    const size_t d = 48, k = 300;
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
        Codec codec = Codec::from_parameters(QuantizerKind::kFlat, metric, d, 0, false, nullptr, 0);
        std::vector<float> cent = gaussian_rows(k, d, 11, 0.0, 1.0);
        if (metric == Metric::kCosine) cent = unit_rows(cent, d);
        const std::vector<float> queries = gaussian_rows(20, d, 12, 0.0, 3.0);
        for (size_t qi = 0; qi < 20; ++qi) {
            const float* q = queries.data() + qi * d;
            QueryScanner scanner(codec, q);
            const std::vector<double> dist = brute_list_distances(metric, q, cent, d);
            std::vector<int32_t> order(k);
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return dist[a] < dist[b]; });
            const std::vector<int32_t> got = nearest_lists(scanner, cent.data(), k, d, 25);
            ASSERT_EQ(got.size(), 25u);
            for (size_t r = 0; r < got.size(); ++r) {
                const double tol = 1e-5 * (std::fabs(dist[order[r]]) + 1.0);
                ASSERT_NEAR(dist[got[r]], dist[order[r]], tol) << "rank " << r;
                if (r > 0) {
                    ASSERT_LE(scanner.list_distance(cent.data() + got[r - 1] * d),
                              scanner.list_distance(cent.data() + got[r] * d));
                }
            }
            // exact agreement wherever the brute-force gaps are not float-close
            for (size_t r = 0; r + 1 < 25; ++r) {
                const double gap = 1e-4 * (std::fabs(dist[order[r]]) + 1.0);
                const bool isolated =
                    dist[order[r + 1]] - dist[order[r]] > gap && (r == 0 || dist[order[r]] - dist[order[r - 1]] > gap);
                if (isolated) {
                    ASSERT_EQ(got[r], order[r]) << "rank " << r;
                }
            }
        }
        EXPECT_EQ(nearest_lists(QueryScanner(codec, queries.data()), cent.data(), k, d, 1000).size(), k);
    }
}

TEST(QueryScannerContract, ListDistanceDefinitions) {
    const size_t d = 7;
    const std::vector<float> q = {1, -2, 3, 0.5f, 0, 1, 2}, c = {0.5f, 1, -1, 2, 0, 0, 1};
    double l2 = 0, ip = 0, qq = 0;
    for (size_t j = 0; j < d; ++j) {
        l2 += (q[j] - c[j]) * (q[j] - c[j]);
        ip += q[j] * c[j];
        qq += q[j] * q[j];
    }
    const Codec cl2 = Codec::from_parameters(QuantizerKind::kFlat, Metric::kL2, d, 0, false, nullptr, 0);
    const Codec cip = Codec::from_parameters(QuantizerKind::kFlat, Metric::kInnerProduct, d, 0, false, nullptr, 0);
    const Codec ccos = Codec::from_parameters(QuantizerKind::kFlat, Metric::kCosine, d, 0, false, nullptr, 0);
    EXPECT_NEAR(QueryScanner(cl2, q.data()).list_distance(c.data()), l2, 1e-5);
    EXPECT_NEAR(QueryScanner(cip, q.data()).list_distance(c.data()), -ip, 1e-5);
    EXPECT_NEAR(QueryScanner(ccos, q.data()).list_distance(c.data()), -ip / std::sqrt(qq), 1e-6);
}

// Residual codecs need set_list(); batches equal single calls; flat entries
// at a misaligned address give the same bounds.
TEST(QueryScannerContract, SetListBatchAndAlignment) {
    const size_t d = 16, n = 40;
    const ScanFixture res = make_setup(QuantizerKind::kSq8, Metric::kL2, true, d, n, 21);
    const std::vector<float> q = gaussian_rows(1, d, 22, 0.5, 1.0);
    float out[n];
    {
        QueryScanner scanner(res.codec, q.data());
        EXPECT_THROW(scanner.lower_bounds(res.entries.data(), n, res.codec.entry_bytes(), out), std::logic_error);
        scanner.set_list(res.cent.data());
        std::vector<float> batch(n), single(n);
        scanner.lower_bounds(res.entries.data(), n, res.codec.entry_bytes(), batch.data());
        for (size_t i = 0; i < n; ++i)
            scanner.lower_bounds(res.entries.data() + i * res.codec.entry_bytes(), 1, res.codec.entry_bytes(),
                                 &single[i]);
        EXPECT_EQ(batch, single);
    }
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
        const ScanFixture flat = make_setup(QuantizerKind::kFlat, metric, false, d, n, 23);
        const size_t stride = flat.codec.entry_bytes();
        QueryScanner scanner(flat.codec, q.data());  // no set_list needed without residual
        std::vector<float> aligned(n), shifted(n);
        scanner.lower_bounds(flat.entries.data(), n, stride, aligned.data());
        std::vector<uint8_t> buf(flat.entries.size() + 1);
        std::memcpy(buf.data() + 1, flat.entries.data(), flat.entries.size());
        scanner.lower_bounds(buf.data() + 1, n, stride, shifted.data());
        EXPECT_EQ(aligned, shifted);
        for (float v : aligned) EXPECT_TRUE(std::isfinite(v));
    }
}


// The operator value of row x for query q, in double (what the SQL operator returns).
double operator_value(Metric metric, const float* q, const float* x, size_t d) {
    double l2 = 0, ip = 0, qq = 0, xx = 0;
    for (size_t j = 0; j < d; ++j) {
        l2 += (static_cast<double>(q[j]) - x[j]) * (static_cast<double>(q[j]) - x[j]);
        ip += static_cast<double>(q[j]) * x[j];
        qq += static_cast<double>(q[j]) * q[j];
        xx += static_cast<double>(x[j]) * x[j];
    }
    if (metric == Metric::kL2) return std::sqrt(l2);
    if (metric == Metric::kInnerProduct) return -ip;
    return 1.0 - ip / std::sqrt(qq * xx);
}

// likely_range: z = 0 is the estimate itself; z = 1 is the guaranteed
// interval, so it holds every row's operator value (up to float slack); a
// larger z never narrows it; the share below the estimate (z) and above it
// (z_hi) act each on their own end; unbounded entries get (-inf, inf).
TEST(RerankDepth, LikelyRangeSpansTheGuaranteedInterval) {
    const size_t d = 64, n = 200;
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
        ScanFixture s = make_setup(QuantizerKind::kPq, metric, true, d, n, 21);
        const size_t stride = s.codec.entry_bytes();
        mark_entry_unbounded(s.entries.data() + 5 * stride);
        const std::vector<float> queries = gaussian_rows(3, d, 22, 0.5, 1.0);
        for (size_t qi = 0; qi < 3; ++qi) {
            const float* q = queries.data() + qi * d;
            QueryScanner scanner(s.codec, q);
            for (size_t i = 0; i < n; ++i) {
                const uint8_t* e = s.entries.data() + i * stride;
                scanner.set_list(s.cent.data() + s.labels[i] * d);
                float bound, approx, lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3, lo4, hi4;
                scanner.lower_bounds(e, 1, stride, &bound, &approx);
                scanner.likely_range(e, 1, stride, &approx, 0.0, 0.0, &lo0, &hi0);
                scanner.likely_range(e, 1, stride, &approx, 1.0, 1.0, &lo1, &hi1);
                scanner.likely_range(e, 1, stride, &approx, 0.5, 0.5, &lo2, &hi2);
                scanner.likely_range(e, 1, stride, &approx, 0.5, 0.0, &lo3, &hi3);
                scanner.likely_range(e, 1, stride, &approx, 0.0, 0.5, &lo4, &hi4);
                if (i == 5) {
                    EXPECT_FLOAT_EQ(lo0, approx);
                    EXPECT_EQ(lo1, -std::numeric_limits<float>::infinity());
                    EXPECT_EQ(hi1, std::numeric_limits<float>::infinity());
                    continue;
                }
                EXPECT_FLOAT_EQ(lo0, approx);
                EXPECT_FLOAT_EQ(hi0, approx);
                EXPECT_LE(lo1, lo2);
                EXPECT_LE(lo2, lo0);
                EXPECT_LE(hi0, hi2);
                EXPECT_LE(hi2, hi1);
                EXPECT_FLOAT_EQ(lo3, lo2);
                EXPECT_FLOAT_EQ(hi3, approx);
                EXPECT_FLOAT_EQ(lo4, approx);
                EXPECT_FLOAT_EQ(hi4, hi2);
                EXPECT_LE(bound, lo1 + 1e-4 * (1 + std::fabs(lo1)));
                const double v = operator_value(metric, q, s.rows.data() + i * d, d);
                const double tol = 1e-4 * (1 + std::fabs(v));
                EXPECT_LE(lo1, v + tol) << "metric " << static_cast<int>(metric) << " row " << i;
                EXPECT_GE(hi1, v - tol) << "metric " << static_cast<int>(metric) << " row " << i;
            }
        }
    }
}

// The depth's reach is the cover-th smallest hi, NaN last, +inf when fewer rows.
TEST(RerankDepth, ThresholdAndShare) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> hi = {5, nan, 1, 4, 2, 3};
    EXPECT_EQ(rerank_threshold(hi.data(), hi.size(), 1), 1.0f);
    EXPECT_EQ(rerank_threshold(hi.data(), hi.size(), 3), 3.0f);
    EXPECT_EQ(rerank_threshold(hi.data(), hi.size(), 5), 5.0f);
    EXPECT_EQ(rerank_threshold(hi.data(), hi.size(), 6), inf);
    EXPECT_EQ(rerank_threshold(hi.data(), hi.size(), 7), inf);
    EXPECT_EQ(rerank_threshold(hi.data(), 0, kRerankCover), inf);
    EXPECT_DOUBLE_EQ(rerank_share(784), 2.0 / 28.0);
    EXPECT_DOUBLE_EQ(rerank_share(16), 0.5);
    EXPECT_DOUBLE_EQ(rerank_share(4), 1.0);
    EXPECT_DOUBLE_EQ(rerank_share(1), 1.0);
    // the reach's share is 0 with the share and reaches the guaranteed 1 with it
    EXPECT_DOUBLE_EQ(rerank_reach_share(0.0), 0.0);
    EXPECT_DOUBLE_EQ(rerank_reach_share(0.5), 0.25);
    EXPECT_DOUBLE_EQ(rerank_reach_share(1.0), 1.0);
}

// On clustered data with a coarse code (loose bounds), the rows the automatic
// depth keeps hold the exact nearest kRerankCover / 2.
TEST(RerankDepth, KeepsTheNearest) {
    const size_t d = 128, n = 4000;
    std::mt19937_64 rng(31);
    std::normal_distribution<double> g(0, 1);
    std::vector<float> centres = gaussian_rows(40, d, 32, 0.0, 1.0);
    std::vector<float> rows(n * d);
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < d; ++j) rows[i * d + j] = static_cast<float>(centres[(i % 40) * d + j] + 0.6 * g(rng));
    Codec codec;
    {
        CodecOptions opt;
        opt.kind = QuantizerKind::kPq;
        opt.metric = Metric::kL2;
        opt.residual = false;
        opt.m = 16;
        opt.pq_iterations = 6;
        CpuAssigner assigner(1);
        codec = train_codec(opt, rows.data(), n, d, nullptr, nullptr, assigner, Hooks{});
    }
    const size_t stride = codec.entry_bytes();
    std::vector<uint8_t> entries(n * stride);
    encode_rows(codec, rows.data(), n, nullptr, nullptr, entries.data(), stride, 1);
    const std::vector<float> queries = gaussian_rows(10, d, 33, 0.0, 1.0);
    for (size_t qi = 0; qi < 10; ++qi) {
        std::vector<float> q(d);
        for (size_t j = 0; j < d; ++j) q[j] = centres[(qi * 7 % 40) * d + j] + 0.6f * queries[qi * d + j];
        QueryScanner scanner(codec, q.data());
        std::vector<float> bound(n), approx(n), lo(n), hi(n);
        scanner.lower_bounds(entries.data(), n, stride, bound.data(), approx.data());
        const double z = rerank_share(d);
        scanner.likely_range(entries.data(), n, stride, approx.data(), z, rerank_reach_share(z), lo.data(), hi.data());
        const float reach = rerank_threshold(hi.data(), n, kRerankCover);
        std::vector<std::pair<double, size_t>> exact(n);
        for (size_t i = 0; i < n; ++i) exact[i] = {operator_value(Metric::kL2, q.data(), rows.data() + i * d, d), i};
        std::sort(exact.begin(), exact.end());
        for (size_t r = 0; r < kRerankCover / 2; ++r)
            EXPECT_LE(lo[exact[r].second], reach) << "query " << qi << " rank " << r;
    }
}

// The quick path gives exactly lower_bounds()'s bounds through exact_bound(),
// and keys never above them (bounds.h, QUICK BOUND); it exists for L2 only.
TEST(QueryScannerContract, QuickBoundsBelowExactBounds) {
    const size_t n = 300;
    for (size_t d : {size_t(8), size_t(96)})
        for (QuantizerKind kind : {QuantizerKind::kSq8, QuantizerKind::kPq, QuantizerKind::kFlat})
            for (bool residual : {false, true}) {
                if (kind == QuantizerKind::kFlat && residual) continue;
                const ScanFixture s = make_setup(kind, Metric::kL2, residual, d, n, 31);
                const size_t stride = s.codec.entry_bytes();
                // queries near rows (bounds at 0) and far away (large bounds)
                std::vector<float> queries = gaussian_rows(4, d, 32, 0.5, 1.0);
                queries.insert(queries.end(), s.rows.begin(), s.rows.begin() + d);
                for (size_t j = 0; j < d; ++j) queries.push_back(s.rows[5 * d + j] * 1000.0f);
                for (size_t qi = 0; qi < queries.size() / d; ++qi) {
                    QueryScanner scanner(s.codec, queries.data() + qi * d);
                    ASSERT_TRUE(scanner.has_quick_bounds());
                    scanner.set_list(s.cent.data());
                    std::vector<float> exact(n), key(n), kernel(n), err(n);
                    scanner.lower_bounds(s.entries.data(), n, stride, exact.data());
                    scanner.quick_bounds(s.entries.data(), n, stride, key.data(), kernel.data(), err.data());
                    for (size_t i = 0; i < n; ++i) {
                        EXPECT_EQ(scanner.exact_bound(kernel[i], err[i]), exact[i]) << i;
                        EXPECT_LE(key[i], exact[i]) << i;
                        // close enough to order by: within 1e-5 of the bound's scale
                        EXPECT_GE(key[i], exact[i] - 1e-5f * (std::sqrt(kernel[i]) + err[i] + 1.0f)) << i;
                    }
                }
            }
    for (Metric metric : {Metric::kInnerProduct, Metric::kCosine}) {
        const ScanFixture s = make_setup(QuantizerKind::kSq8, metric, true, 8, 20, 33);
        QueryScanner scanner(s.codec, s.rows.data());
        EXPECT_FALSE(scanner.has_quick_bounds());
        float a[20], b[20], c[20];
        scanner.set_list(s.cent.data());
        EXPECT_THROW(scanner.quick_bounds(s.entries.data(), 20, s.codec.entry_bytes(), a, b, c), std::logic_error);
    }
}

// With `settled`, SQ8 rows far from the query keep the integer key as their
// final bound: never above lower_bounds(), while the refined rows get exactly
// lower_bounds() through exact_bound(), and no settled row's key is below the
// R-th smallest estimate of the refined rows (a LIMIT <= R never reads one).
// Other quantizers settle nothing.
TEST(QueryScannerContract, IntegerKeysSettleOnlyFarRows) {
    const size_t n = 300;
    for (size_t d : {size_t(8), size_t(96), size_t(784)})
        for (QuantizerKind kind : {QuantizerKind::kSq8, QuantizerKind::kPq, QuantizerKind::kFlat})
            for (bool residual : {false, true}) {
                if (kind == QuantizerKind::kFlat && residual) continue;
                if (kind != QuantizerKind::kSq8 && d == 784) continue;
                const ScanFixture s = make_setup(kind, Metric::kL2, residual, d, n, 41);
                const size_t stride = s.codec.entry_bytes();
                std::vector<float> queries = gaussian_rows(3, d, 42, 0.5, 1.0);
                queries.insert(queries.end(), s.rows.begin() + 7 * d, s.rows.begin() + 8 * d);
                for (size_t qi = 0; qi < queries.size() / d; ++qi)
                    for (size_t refine : {size_t(0), size_t(5), kQuickRefineRows}) {
                        SCOPED_TRACE(testing::Message() << "kind " << int(kind) << " residual " << residual << " d "
                                                        << d << " query " << qi << " refine " << refine);
                        QueryScanner scanner(s.codec, queries.data() + qi * d);
                        scanner.set_refine_rows(refine);
                        scanner.set_list(s.cent.data());
                        std::vector<float> exact(n), key(n), kernel(n), err(n), estimates;
                        std::vector<uint8_t> settled(n, 7);
                        scanner.lower_bounds(s.entries.data(), n, stride, exact.data());
                        // two calls, as a scan reads two pages of one list
                        scanner.quick_bounds(s.entries.data(), n / 2, stride, key.data(), kernel.data(), err.data(),
                                             settled.data());
                        scanner.quick_bounds(s.entries.data() + (n / 2) * stride, n - n / 2, stride,
                                             key.data() + n / 2, kernel.data() + n / 2, err.data() + n / 2,
                                             settled.data() + n / 2);
                        size_t settled_rows = 0;
                        for (size_t i = 0; i < n; ++i) {
                            ASSERT_LE(settled[i], 1) << i;
                            EXPECT_LE(key[i], exact[i]) << i;
                            if (settled[i]) {
                                EXPECT_GE(key[i], 0.0f) << i;  // the final bound of a distance
                                ++settled_rows;
                            } else {
                                EXPECT_EQ(scanner.exact_bound(kernel[i], err[i]), exact[i]) << i;
                                estimates.push_back(std::sqrt(kernel[i]) + err[i]);
                            }
                        }
                        if (kind != QuantizerKind::kSq8) {
                            EXPECT_EQ(settled_rows, 0u);
                            continue;
                        }
                        if (refine == 0) {
                            EXPECT_EQ(settled_rows, n);
                            continue;
                        }
                        ASSERT_GE(estimates.size(), refine);
                        std::nth_element(estimates.begin(), estimates.begin() + (refine - 1), estimates.end());
                        const float reach = estimates[refine - 1];
                        for (size_t i = 0; i < n; ++i)
                            if (settled[i]) EXPECT_GE(key[i], reach) << i;
                    }
            }
}

// prefetch_next() is only a hint: a scan that names the next page (or any
// address: null, unmapped, the page itself) before each call gets the same
// keys, kernels, errs, settled flags and bounds, bit for bit, as one that
// names none, page by page as ProbeList reads a list.
TEST(QueryScannerContract, PrefetchHintsChangeNothing) {
    const size_t n = 300, page = 10, d = 96;
    for (QuantizerKind kind : {QuantizerKind::kSq8, QuantizerKind::kPq, QuantizerKind::kFlat})
        for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
            const ScanFixture s = make_setup(kind, metric, false, d, n, 51);
            const size_t stride = s.codec.entry_bytes();
            const std::vector<float> q = gaussian_rows(1, d, 52, 0.5, 1.0);
            for (int hint = 0; hint < 4; ++hint) {
                SCOPED_TRACE(testing::Message() << "kind " << int(kind) << " metric " << int(metric) << " hint " << hint);
                QueryScanner plain(s.codec, q.data()), hinted(s.codec, q.data());
                plain.set_list(s.cent.data());
                hinted.set_list(s.cent.data());
                const bool quick = plain.has_quick_bounds();
                std::vector<float> k1(n), k2(n), v1(n), v2(n), e1(n), e2(n);
                std::vector<uint8_t> s1(n), s2(n);
                for (size_t first = 0; first < n; first += page) {
                    const uint8_t* entries = s.entries.data() + first * stride;
                    const uint8_t* next = first + page < n ? entries + page * stride : nullptr;
                    const void* addr = hint == 0   ? static_cast<const void*>(next)
                                       : hint == 1 ? nullptr
                                       : hint == 2 ? reinterpret_cast<const void*>(uintptr_t(0x40))
                                                   : static_cast<const void*>(entries);
                    hinted.prefetch_next(addr, page * stride);
                    if (quick) {
                        plain.quick_bounds(entries, page, stride, &k1[first], &v1[first], &e1[first], &s1[first]);
                        hinted.quick_bounds(entries, page, stride, &k2[first], &v2[first], &e2[first], &s2[first]);
                    } else {
                        plain.lower_bounds(entries, page, stride, &k1[first], &v1[first]);
                        hinted.lower_bounds(entries, page, stride, &k2[first], &v2[first]);
                    }
                }
                EXPECT_EQ(0, std::memcmp(k1.data(), k2.data(), n * sizeof(float)));
                EXPECT_EQ(0, std::memcmp(v1.data(), v2.data(), n * sizeof(float)));
                EXPECT_EQ(0, std::memcmp(e1.data(), e2.data(), n * sizeof(float)));
                EXPECT_EQ(s1, s2);
            }
        }
}

}  // namespace
}  // namespace pg_ivf::core
