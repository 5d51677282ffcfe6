// STAY PROOF (src/core/split.h): every row a local split proves to stay in
// its list is one the assigner's arg-min over the new model puts there (CPU
// kernel and the double oracle), for every quantizer x metric, the MIPS
// reduction included; near-ties and unbounded entries are never proven; and
// the proof keeps most rows (it is useful, not only safe).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/codec.h"
#include "core/kmeans.h"
#include "core/mips.h"
#include "core/split.h"

namespace pg_ivf::core {
namespace {

struct Model {
    size_t d = 0, k = 0;
    double m2 = 0;                 // MIPS reduction (IP), else 0
    std::vector<float> cent;       // k * d
    std::vector<float> extras;     // k (m2 > 0)
    std::vector<float> list_cent;  // what rows are assigned to
    void join() {
        list_cent = m2 > 0 ? mips_join_centroids(cent.data(), extras.data(), k, d) : cent;
    }
};

std::vector<int32_t> assign(const Model& m, const std::vector<float>& x, Assigner& a) {
    const size_t n = x.size() / m.d;
    std::vector<int32_t> labels(n);
    std::vector<float> dist2(n);
    assign_to_lists(a, x.data(), n, m.d, m.list_cent.data(), m.k, m.m2, labels.data(), dist2.data(), Hooks{});
    return labels;
}

// Clustered rows; unit length under cosine (the glue's y), norms spread under IP.
std::vector<float> rows(size_t n, size_t d, Metric metric, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g(0.0, 1.0);
    std::vector<float> centers(16 * d);
    for (auto& v : centers) v = static_cast<float>(4.0 * g(rng));
    std::vector<float> x(n * d);
    for (size_t i = 0; i < n; ++i) {
        const size_t c = i % 16;
        const double scale = metric == Metric::kInnerProduct ? 0.5 + (i % 7) * 0.25 : 1.0;
        double norm2 = 0;
        for (size_t j = 0; j < d; ++j) {
            x[i * d + j] = static_cast<float>(scale * (centers[c * d + j] + g(rng)));
            norm2 += static_cast<double>(x[i * d + j]) * x[i * d + j];
        }
        if (metric == Metric::kCosine) {
            const double nn = std::sqrt(norm2);
            for (size_t j = 0; j < d; ++j) x[i * d + j] = static_cast<float>(x[i * d + j] / nn);
        }
    }
    return x;
}

struct Case {
    QuantizerKind kind;
    Metric metric;
    bool residual;
};

// Trains k0 lists, splits the largest into three (its slot plus two appended), checks every proof.
void check_split(const Case& cs, size_t d, uint64_t seed, double min_proven) {
    const size_t n = 3000, k0 = 12;
    const std::vector<float> x = rows(n, d, cs.metric, seed);
    CpuAssigner cpu(1);
    ReferenceAssigner ref;

    Model old;
    old.d = d;
    old.k = k0;
    std::vector<float> train = x;
    size_t td = d;
    if (cs.metric == Metric::kInnerProduct) {
        for (size_t i = 0; i < n; ++i) old.m2 = std::max(old.m2, mips_squared_norm(&x[i * d], d));
        td = d + 1;
        train.assign(n * td, 0.0f);
        mips_augment_rows(x.data(), d, n, d, old.m2, train.data());
    }
    KMeansParams params;
    params.k = k0;
    params.spherical = cs.metric == Metric::kCosine;
    KMeansResult km = train_kmeans(train.data(), n, td, params, cpu, Hooks{});
    old.cent.resize(k0 * d);
    if (old.m2 > 0) {
        old.extras.resize(k0);
        mips_split_centroids(km.centroids.data(), k0, d, old.cent.data(), old.extras.data());
    } else {
        old.cent = km.centroids;
    }
    old.join();
    const std::vector<int32_t> labels = assign(old, x, cpu);

    CodecOptions opt;
    opt.kind = cs.kind;
    opt.metric = cs.metric;
    opt.m = cs.kind == QuantizerKind::kPq ? d / 4 : 0;
    opt.residual = cs.residual;
    const Codec codec = train_codec(opt, x.data(), n, d, old.cent.data(), labels.data(), cpu, Hooks{});
    const size_t es = codec.entry_bytes();
    std::vector<uint8_t> entries(n * es);
    encode_rows(codec, x.data(), n, old.cent.data(), labels.data(), entries.data(), es, 1);

    // split the largest list
    std::vector<size_t> count(k0);
    for (int32_t l : labels) count[l]++;
    const int32_t big = static_cast<int32_t>(std::max_element(count.begin(), count.end()) - count.begin());
    std::vector<float> mine;
    for (size_t i = 0; i < n; ++i)
        if (labels[i] == big) mine.insert(mine.end(), train.begin() + i * td, train.begin() + (i + 1) * td);
    params.k = 3;
    KMeansResult parts = train_kmeans(mine.data(), mine.size() / td, td, params, cpu, Hooks{});
    Model nw = old;
    nw.k = k0 + 2;
    nw.cent.resize(nw.k * d);
    nw.extras.resize(old.m2 > 0 ? nw.k : 0);
    const int32_t slots[3] = {big, static_cast<int32_t>(k0), static_cast<int32_t>(k0 + 1)};
    for (int p = 0; p < 3; ++p) {
        std::copy(parts.centroids.begin() + p * td, parts.centroids.begin() + p * td + d,
                  nw.cent.begin() + slots[p] * d);
        if (old.m2 > 0) nw.extras[slots[p]] = parts.centroids[p * td + d];
    }
    nw.join();
    const std::vector<int32_t> exact_cpu = assign(nw, x, cpu);
    const std::vector<int32_t> exact_ref = assign(nw, x, ref);

    StayProof proof(codec, nw.cent.data(), old.m2 > 0 ? nw.extras.data() : nullptr, nw.k, nw.m2,
                    std::vector<int32_t>(slots, slots + 3));
    size_t eligible = 0, proven = 0, moved = 0;
    for (size_t i = 0; i < n; ++i) {
        if (labels[i] == big) continue;
        eligible++;
        if (exact_cpu[i] != labels[i]) moved++;
        proof.set_list(labels[i]);
        if (proof.stays(&entries[i * es])) {
            proven++;
            ASSERT_EQ(exact_cpu[i], labels[i]) << "row " << i << " proven to stay but moves";
            ASSERT_EQ(exact_ref[i], labels[i]) << "row " << i << " proven to stay but the oracle moves it";
        }
    }
    // a row proven must be one that stays; rows not proven are fetched: few, for a useful proof
    EXPECT_GE(static_cast<double>(proven), min_proven * (eligible - moved))
        << "proven " << proven << " of " << eligible << " (" << moved << " move)";
    // the changed list's own rows are never proven
    proof.set_list(big);
    for (size_t i = 0; i < n; ++i) {
        if (labels[i] == big) {
            EXPECT_FALSE(proof.stays(&entries[i * es]));
        }
    }
}

TEST(StayProof, ProvenRowsStay) {
    const Case cases[] = {
        {QuantizerKind::kSq8, Metric::kL2, true},           {QuantizerKind::kSq8, Metric::kL2, false},
        {QuantizerKind::kPq, Metric::kL2, true},            {QuantizerKind::kFlat, Metric::kL2, false},
        {QuantizerKind::kSq8, Metric::kCosine, true},       {QuantizerKind::kPq, Metric::kCosine, true},
        {QuantizerKind::kSq8, Metric::kInnerProduct, true}, {QuantizerKind::kPq, Metric::kInnerProduct, true},
        {QuantizerKind::kFlat, Metric::kInnerProduct, false},
    };
    for (const Case& c : cases)
        for (size_t d : {8, 32}) {
            SCOPED_TRACE(testing::Message() << "kind " << static_cast<int>(c.kind) << " metric "
                                            << static_cast<int>(c.metric) << " residual " << c.residual << " d " << d);
            // PQ's codes are coarse: fewer rows provable, still most of those that stay
            check_split(c, d, 7 + d, c.kind == QuantizerKind::kPq ? 0.3 : 0.6);
        }
}

// Near-ties: a changed centroid placed so that a row is equidistant, or
// nearer to c_k by far less than the code's error, is never proven; one far
// away is; an unbounded entry never is.
TEST(StayProof, NearTiesAreNotProven) {
    const size_t d = 16;
    Codec codec;
    codec.kind = QuantizerKind::kFlat;
    codec.metric = Metric::kL2;
    codec.d = d;
    codec.residual = false;
    std::vector<float> x(d, 0.0f);
    x[0] = 1.0f;
    std::vector<float> ck(d, 0.0f);
    const size_t es = codec.entry_bytes();
    std::vector<uint8_t> entry(es);
    std::vector<float> cent(2 * d);
    std::copy(ck.begin(), ck.end(), cent.begin());
    int32_t label = 0;
    encode_rows(codec, x.data(), 1, ck.data(), &label, entry.data(), es, 1);
    auto proven_with = [&](float c0) {
        std::fill(cent.begin() + d, cent.end(), 0.0f);
        cent[d] = c0;  // c = (c0, 0, ...): ||x - c|| = |c0 - 1| against ||x - c_k|| = 1
        StayProof p(codec, cent.data(), nullptr, 2, 0.0, {1});
        p.set_list(0);
        return p.stays(entry.data());
    };
    EXPECT_FALSE(proven_with(2.0f));                         // exact tie
    EXPECT_FALSE(proven_with(std::nextafter(2.0f, 3.0f)));  // one ulp farther: below the assigner's rounding
    EXPECT_FALSE(proven_with(1.5f));                         // nearer: the row moves
    EXPECT_TRUE(proven_with(2.01f));
    EXPECT_TRUE(proven_with(40.0f));
    mark_entry_unbounded(entry.data());
    EXPECT_FALSE(proven_with(40.0f));

    // the same tie through SQ8's coarse code: a row whose code error is larger than the gap
    std::mt19937_64 rng(3);
    std::normal_distribution<double> g(0.0, 1.0);
    std::vector<float> many(200 * d);
    for (auto& v : many) v = static_cast<float>(g(rng));
    CodecOptions opt;
    CpuAssigner cpu(1);
    std::vector<int32_t> zeros(200, 0);
    Codec sq = train_codec(opt, many.data(), 200, d, ck.data(), zeros.data(), cpu, Hooks{});
    std::vector<uint8_t> e(200 * sq.entry_bytes());
    encode_rows(sq, many.data(), 200, ck.data(), zeros.data(), e.data(), sq.entry_bytes(), 1);
    for (size_t i = 0; i < 200; ++i) {
        // c = 2 x: ||x - c|| = ||x - c_k||, an exact tie for every row
        for (size_t j = 0; j < d; ++j) cent[d + j] = 2.0f * many[i * d + j];
        StayProof p(sq, cent.data(), nullptr, 2, 0.0, {1});
        p.set_list(0);
        EXPECT_FALSE(p.stays(&e[i * sq.entry_bytes()])) << "row " << i;
    }
}

// Under the MIPS reduction the extra coordinate counts: a changed centroid
// equal to c_k in the row's dimensions but with another extra is a tie only
// when the extras are equal.
TEST(StayProof, MipsExtraCoordinate) {
    const size_t d = 8;
    Codec codec;
    codec.kind = QuantizerKind::kFlat;
    codec.metric = Metric::kInnerProduct;
    codec.d = d;
    codec.residual = false;
    std::vector<float> x(d, 0.5f);
    const double m2 = 4.0;  // ||x||^2 = 2: e_x = sqrt(2)
    std::vector<float> cent(2 * d, 0.5f);
    std::vector<float> extras = {static_cast<float>(std::sqrt(2.0)), 0.0f};
    std::vector<uint8_t> entry(codec.entry_bytes());
    int32_t label = 0;
    encode_rows(codec, x.data(), 1, cent.data(), &label, entry.data(), codec.entry_bytes(), 1);
    auto proven_with = [&](float extra) {
        extras[1] = extra;
        StayProof p(codec, cent.data(), extras.data(), 2, m2, {1});
        p.set_list(0);
        return p.stays(entry.data());
    };
    EXPECT_FALSE(proven_with(extras[0]));
    EXPECT_FALSE(proven_with(std::nextafter(extras[0], 2.0f)));
    EXPECT_TRUE(proven_with(0.0f));
    EXPECT_TRUE(proven_with(3.0f));
}

}  // namespace
}  // namespace pg_ivf::core
