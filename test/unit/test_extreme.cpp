// Extreme but finite rows (values up to +-FLT_MAX, residuals that overflow a
// float): the whole build path of the glue (k-means, assignment, codec
// training, parameter round trip, encoding) must give a finite model that
// loads, and every entry a bound that never exceeds the SQL operator, for
// every quantizer, metric and residual setting.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/codec.h"
#include "core/kmeans.h"
#include "core/kmeans_math.h"
#include "test_rows.h"

namespace pg_ivf::core {
namespace {

using test_rows::unit_rows;

constexpr size_t kD = 4;

// Issue 10's reproducer: 99 rows [-3e38,-3e38,1,1] and one [3e38,3e38,1,1],
// plus rows at the very ends of the float range and ordinary rows.
std::vector<float> extreme_rows() {
    std::vector<float> x;
    for (int i = 0; i < 99; ++i) x.insert(x.end(), {-3e38f, -3e38f, 1.0f, 1.0f});
    x.insert(x.end(), {3e38f, 3e38f, 1.0f, 1.0f});
    for (int i = 0; i < 3; ++i) x.insert(x.end(), {FLT_MAX, FLT_MAX, -FLT_MAX, 1.0f});
    for (int i = 0; i < 3; ++i) x.insert(x.end(), {-FLT_MAX, FLT_MAX, FLT_MAX, -FLT_MAX});
    for (int i = 0; i < 8; ++i) x.insert(x.end(), {0.5f * i, 1.0f, -2.0f, 1e-3f * i});
    return x;
}

// The SQL operator on raw vectors with float sums, as the glue computes it.
double sql_operator(Metric metric, const float* q, const float* x) {
    float ab = 0, aa = 0, bb = 0, l2 = 0;
    for (size_t j = 0; j < kD; ++j) {
        const float t = q[j] - x[j];
        l2 += t * t;
        ab += q[j] * x[j];
        aa += q[j] * q[j];
        bb += x[j] * x[j];
    }
    if (metric == Metric::kL2) return std::sqrt(static_cast<double>(l2));
    if (metric == Metric::kInnerProduct) return -static_cast<double>(ab);
    if (aa == 0.0f || bb == 0.0f) return std::numeric_limits<double>::quiet_NaN();
    const double sim = static_cast<double>(ab) / std::sqrt(static_cast<double>(aa) * bb);
    return 1.0 - std::min(1.0, std::max(-1.0, sim));
}

struct Case {
    QuantizerKind kind;
    Metric metric;
    bool residual;
    size_t lists;
};

std::string name(const Case& c) {
    const char* kinds[] = {"sq8", "pq", "flat"};
    const char* metrics[] = {"l2", "ip", "cosine"};
    return std::string(kinds[static_cast<int>(c.kind)]) + "/" + metrics[static_cast<int>(c.metric)] +
           (c.residual ? "/residual" : "/raw") + "/lists=" + std::to_string(c.lists);
}

TEST(ExtremeRows, BuildGivesLoadableModelAndValidBounds) {
    const std::vector<float> raw = extreme_rows();
    const size_t n = raw.size() / kD;
    std::vector<Case> cases;
    for (QuantizerKind kind : {QuantizerKind::kSq8, QuantizerKind::kPq, QuantizerKind::kFlat})
        for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine})
            for (bool residual : {true, false})
                for (size_t lists : {1, 2, 5}) cases.push_back({kind, metric, residual, lists});
    for (const Case& c : cases) {
        SCOPED_TRACE(name(c));
        const bool cosine = c.metric == Metric::kCosine;
        const std::vector<float> rows = cosine ? unit_rows(raw, kD) : raw;
        CpuAssigner assigner(2);
        KMeansParams params;
        params.k = c.lists;
        params.iterations = 10;
        params.spherical = cosine;
        const KMeansResult km = train_kmeans(rows.data(), n, kD, params, assigner, Hooks{});
        ASSERT_TRUE(all_finite(km.centroids.data(), km.centroids.size()));
        std::vector<int32_t> labels(n);
        std::vector<float> dist2(n);
        assigner.assign(rows.data(), n, km.centroids.data(), c.lists, kD, labels.data(), dist2.data(), Hooks{});

        CodecOptions opt;
        opt.kind = c.kind;
        opt.metric = c.metric;
        opt.m = c.kind == QuantizerKind::kPq ? 2 : 0;
        opt.residual = c.residual;
        const Codec trained =
            train_codec(opt, rows.data(), n, kD, km.centroids.data(), labels.data(), assigner, Hooks{});
        const std::vector<float> p = trained.parameters();
        ASSERT_TRUE(all_finite(p.data(), p.size()));
        ASSERT_TRUE(trained.parameters_finite());
        // What every later INSERT and scan loads from the pages.
        const Codec codec = Codec::from_parameters(c.kind, c.metric, kD, opt.m, c.residual, p.data(), p.size());

        const size_t stride = codec.entry_bytes();
        std::vector<uint8_t> entries(n * stride, 0);
        encode_rows(codec, rows.data(), n, km.centroids.data(), labels.data(), entries.data(), stride, 2);
        for (size_t i = 0; i < n; ++i) {
            float err;
            std::memcpy(&err, entries.data() + i * stride + kEntryErrOffset, sizeof err);
            ASSERT_FALSE(std::isnan(err)) << "row " << i;
            if (cosine) {
                // the glue marks rows outside the norm range where the cosine bound holds
                double s = 0;
                for (size_t j = 0; j < kD; ++j) s += static_cast<double>(raw[i * kD + j]) * raw[i * kD + j];
                if (!(s >= kCosineMinSquaredNorm && s < kCosineMaxSquaredNorm))
                    mark_entry_unbounded(entries.data() + i * stride);
            }
        }
        // Queries: every stored row, the origin and an ordinary point.
        std::vector<float> queries(raw);
        queries.insert(queries.end(), {0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 2.0f, 3.0f, 4.0f});
        for (size_t qi = 0; qi < queries.size() / kD; ++qi) {
            const float* q = queries.data() + qi * kD;
            QueryScanner scanner(codec, q);
            for (size_t list = 0; list < c.lists; ++list) {
                scanner.set_list(km.centroids.data() + list * kD);
                for (size_t i = 0; i < n; ++i) {
                    if (labels[i] != static_cast<int32_t>(list)) continue;
                    float lb;
                    scanner.lower_bounds(entries.data() + i * stride, 1, stride, &lb);
                    const double op = sql_operator(c.metric, q, raw.data() + i * kD);
                    ASSERT_FALSE(lb > op || (std::isnan(lb) && !std::isnan(op)))
                        << "query " << qi << " row " << i << ": bound " << lb << " > operator " << op;
                }
            }
        }
    }
}

// A cluster at the top of the float range split in two stays finite.
TEST(ExtremeRows, SplitSaturates) {
    float big[kD] = {FLT_MAX, -FLT_MAX, 0.0f, 1.0f};
    float copy[kD];
    split_centroid(big, copy, kD, kSplitEpsilon);
    EXPECT_TRUE(all_finite(big, kD));
    EXPECT_TRUE(all_finite(copy, kD));
    EXPECT_NE(big[2], copy[2]);
}

// A residual that overflows a float saturates instead of becoming infinite.
TEST(ExtremeRows, ResidualSaturates) {
    EXPECT_EQ(saturate(3e38f - -3e38f), FLT_MAX);
    EXPECT_EQ(saturate(-3e38f - 3e38f), -FLT_MAX);
    EXPECT_EQ(saturate(1.5f - 0.25f), 1.25f);
}

// A model with a non-finite parameter is refused on load (and is what the glue checks before writing).
TEST(ExtremeRows, NonFiniteParametersAreRefused) {
    std::vector<float> p(2 * kD, 1.0f);
    p[1] = std::numeric_limits<float>::infinity();
    EXPECT_THROW(Codec::from_parameters(QuantizerKind::kSq8, Metric::kL2, kD, 0, true, p.data(), p.size()),
                 std::invalid_argument);
    EXPECT_FALSE(all_finite(p.data(), p.size()));
    p[1] = 1.0f;
    EXPECT_TRUE(all_finite(p.data(), p.size()));
}

}  // namespace
}  // namespace pg_ivf::core
