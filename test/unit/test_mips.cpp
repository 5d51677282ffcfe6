// The MIPS-to-L2 reduction (src/core/mips.h): augmented rows lie on the
// sphere of radius M, and assignment in the augmented space matches the
// double-precision oracle; the lists' ranking vectors are the means of their
// largest-norm rows and rank a list of large inner products first.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/codec.h"
#include "core/kmeans.h"
#include "core/mips.h"

namespace pg_ivf::core {
namespace {

// Rows with norms spread over two orders of magnitude, as raw embeddings have.
std::vector<float> spread_rows(size_t n, size_t d, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g(0.0, 1.0);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::vector<float> x(n * d);
    for (size_t i = 0; i < n; ++i) {
        const double scale = std::pow(10.0, u(rng));
        for (size_t j = 0; j < d; ++j) x[i * d + j] = static_cast<float>(scale * (g(rng) + (j % 3 == 0 ? 2.0 : 0.0)));
    }
    return x;
}

double max_squared_norm(const std::vector<float>& x, size_t d) {
    double m = 0;
    for (size_t i = 0; i < x.size() / d; ++i) m = std::max(m, mips_squared_norm(&x[i * d], d));
    return m;
}

TEST(Mips, AugmentedRowsHaveNormM) {
    for (size_t d : {1, 7, 128, 784}) {
        const size_t n = 300;
        const std::vector<float> x = spread_rows(n, d, 10 + d);
        const double m2 = max_squared_norm(x, d);
        std::vector<float> aug(n * (d + 1));
        mips_augment_rows(x.data(), d, n, d, m2, aug.data());
        for (size_t i = 0; i < n; ++i) {
            const double norm2 = mips_squared_norm(&aug[i * (d + 1)], d + 1);
            // the bound's assumption (MIPS LIST BOUND): ||x'||^2 <= M^2 (1 + 3u)
            EXPECT_LE(norm2, m2 * (1.0 + 3.0 * 0x1p-24)) << "d=" << d << " row " << i;
            EXPECT_NEAR(norm2 / m2, 1.0, 1e-6);
            EXPECT_TRUE(std::equal(x.begin() + i * d, x.begin() + (i + 1) * d, aug.begin() + i * (d + 1)));
        }
        // in place over a sample kept with a spare column, then the column dropped
        std::vector<float> strided(n * (d + 1), -1.0f);
        for (size_t i = 0; i < n; ++i) std::copy(x.begin() + i * d, x.begin() + (i + 1) * d, strided.begin() + i * (d + 1));
        mips_augment_rows(strided.data(), d + 1, n, d, m2, strided.data());
        EXPECT_EQ(strided, aug);
        mips_drop_extra(strided.data(), n, d);
        EXPECT_TRUE(std::equal(x.begin(), x.end(), strided.begin()));
    }
}

TEST(Mips, RowsBeyondMGetZero) {
    const float x[3] = {3.0f, 4.0f, 0.0f};
    EXPECT_EQ(mips_extra(x, 3, 25.0), 0.0f);
    EXPECT_EQ(mips_extra(x, 3, 16.0), 0.0f);
    EXPECT_FLOAT_EQ(mips_extra(x, 3, 169.0), 12.0f);
    EXPECT_EQ(mips_squared_norm(x, 3), 25.0);
}

TEST(Mips, CentroidsSplitAndJoin) {
    const size_t k = 5, d = 3;
    std::vector<float> joined(k * (d + 1));
    for (size_t i = 0; i < joined.size(); ++i) joined[i] = static_cast<float>(i) * 0.5f;
    std::vector<float> c(k * d), e(k);
    mips_split_centroids(joined.data(), k, d, c.data(), e.data());
    EXPECT_EQ(e[2], joined[2 * (d + 1) + d]);
    EXPECT_EQ(mips_join_centroids(c.data(), e.data(), k, d), joined);
}

// assign_to_lists is the CPU assigner on the augmented rows (checked against
// the double-precision oracle, near ties aside), and the plain assigner
// without the reduction.
TEST(Mips, AssignmentIsL2OfAugmentedRows) {
    const size_t n = 500, k = 17, d = 64;
    const std::vector<float> x = spread_rows(n, d, 3);
    const double m2 = max_squared_norm(x, d);
    std::vector<float> aug(n * (d + 1));
    mips_augment_rows(x.data(), d, n, d, m2, aug.data());
    const std::vector<float> cent(aug.begin() + 100 * (d + 1), aug.begin() + (100 + k) * (d + 1));
    CpuAssigner cpu(2);
    ReferenceAssigner ref;
    std::vector<int32_t> got(n), want(n);
    std::vector<float> got_d(n), want_d(n);
    assign_to_lists(cpu, x.data(), n, d, cent.data(), k, m2, got.data(), got_d.data(), Hooks{});
    ref.assign(aug.data(), n, cent.data(), k, d + 1, want.data(), want_d.data(), Hooks{});
    size_t same = 0;
    for (size_t i = 0; i < n; ++i) {
        same += got[i] == want[i];
        EXPECT_NEAR(got_d[i], want_d[i], 1e-3 * (want_d[i] + m2 * 1e-3));
    }
    EXPECT_GE(same, n - 2);
    // without the reduction: the plain assigner on the d-dimensional rows and centroids
    std::vector<float> cent_d(k * d), extras(k);
    mips_split_centroids(cent.data(), k, d, cent_d.data(), extras.data());
    assign_to_lists(cpu, x.data(), n, d, cent_d.data(), k, 0.0, got.data(), got_d.data(), Hooks{});
    cpu.assign(x.data(), n, cent_d.data(), k, d, want.data(), want_d.data(), Hooks{});
    EXPECT_EQ(got, want);
}

// The oracle: each list's rows sorted by norm (largest first, then by row),
// the first kMipsRankRows of them averaged in double in that order, blended
// with the centroid.
std::vector<float> rank_oracle(const std::vector<float>& x, size_t d, const std::vector<int32_t>& labels,
                               const std::vector<float>& cent, size_t k) {
    std::vector<float> out(cent);
    for (size_t j = 0; j < k; ++j) {
        std::vector<size_t> rows;
        for (size_t i = 0; i < labels.size(); ++i)
            if (labels[i] == static_cast<int32_t>(j)) rows.push_back(i);
        std::stable_sort(rows.begin(), rows.end(), [&](size_t a, size_t b) {
            return mips_squared_norm(&x[a * d], d) > mips_squared_norm(&x[b * d], d);
        });
        rows.resize(std::min(rows.size(), kMipsRankRows));
        if (rows.empty()) continue;
        for (size_t e = 0; e < d; ++e) {
            double sum = 0;
            for (size_t r : rows) sum += x[r * d + e];
            out[j * d + e] = static_cast<float>(kMipsRankCentroidShare * cent[j * d + e] +
                                                (1.0 - kMipsRankCentroidShare) * sum / static_cast<double>(rows.size()));
        }
    }
    return out;
}

TEST(Mips, RankVectorsAreMeansOfLargestNormRows) {
    const size_t n = 400, k = 9, d = 16;
    const std::vector<float> x = spread_rows(n, d, 21);
    std::vector<int32_t> labels(n);
    // lists 0-5 share most rows, 6 gets two, 7 none; -1 and k are not lists
    for (size_t i = 0; i < n; ++i) labels[i] = static_cast<int32_t>(i % 6);
    labels[10] = labels[20] = 6;
    labels[30] = -1;
    labels[40] = static_cast<int32_t>(k);
    std::vector<float> cent(k * d);
    for (size_t i = 0; i < cent.size(); ++i) cent[i] = static_cast<float>(i) * 0.25f;
    std::vector<float> got(k * d, -1.0f);
    mips_rank_vectors(x.data(), n, d, labels.data(), cent.data(), k, got.data());
    EXPECT_EQ(got, rank_oracle(x, d, labels, cent, k));
    // list 7 (no rows) keeps its centroid, list 6 leans to the mean of its two rows
    EXPECT_EQ(std::vector<float>(got.begin() + 7 * d, got.begin() + 8 * d),
              std::vector<float>(cent.begin() + 7 * d, cent.begin() + 8 * d));
    EXPECT_FLOAT_EQ(got[6 * d], 0.25f * cent[6 * d] + 0.75f * (x[10 * d] + x[20 * d]) / 2.0f);
}

// Equal norms: the lower rows win, whatever order the rows come in.
TEST(Mips, RankVectorTiesGoToLowerRows) {
    const size_t d = 2;
    const std::vector<float> x = {1, 0, 3, 4, 4, 3, 0, 5, 5, 0, 0, -5};
    const std::vector<int32_t> labels(6, 0);
    const std::vector<float> cent = {0, 0};
    std::vector<float> got(2);
    mips_rank_vectors(x.data(), 6, d, labels.data(), cent.data(), 1, got.data());
    // the rows of norm 5 are 1..5; the first four of them: (3,4), (4,3), (0,5), (5,0), mean (3,3)
    EXPECT_FLOAT_EQ(got[0], 0.75f * 3.0f);
    EXPECT_FLOAT_EQ(got[1], 0.75f * 3.0f);
    EXPECT_EQ(got, rank_oracle(x, d, labels, cent, 1));
}

// The case ranking by ranking vectors is for: list A holds 40 rows of inner
// product 3 with q; list B's centroid is far from q, but 4 of its rows (the
// largest norms) give 4.5.  The centroids rank A first, so one probed list
// misses the top row; the ranking vectors rank B first.
TEST(Mips, RankVectorsRankTheListOfTheTopRowFirst) {
    const size_t d = 2, k = 2;
    std::vector<float> x;
    std::vector<int32_t> labels;
    for (int i = 0; i < 40; ++i) {
        x.insert(x.end(), {3.0f, 0.01f * static_cast<float>(i)});
        labels.push_back(0);
        x.insert(x.end(), {-1.0f, 3.0f + 0.01f * static_cast<float>(i)});
        labels.push_back(1);
    }
    for (int i = 0; i < 4; ++i) {
        x.insert(x.end(), {4.5f, 6.0f});
        labels.push_back(1);
    }
    const size_t n = labels.size();
    // the centroids as k-means would leave them: the lists' means
    std::vector<float> cent(k * d, 0.0f);
    for (size_t i = 0; i < n; ++i)
        for (size_t e = 0; e < d; ++e) cent[labels[i] * d + e] += x[i * d + e] / (labels[i] == 0 ? 40.0f : 44.0f);
    std::vector<float> rank(k * d);
    mips_rank_vectors(x.data(), n, d, labels.data(), cent.data(), k, rank.data());
    const Codec codec = Codec::from_parameters(QuantizerKind::kFlat, Metric::kInnerProduct, d, 0, false, nullptr, 0);
    const float q[2] = {1.0f, 0.0f};
    const QueryScanner scanner(codec, q);
    EXPECT_EQ(nearest_lists(scanner, cent.data(), k, d, 1), std::vector<int32_t>{0});
    EXPECT_EQ(nearest_lists(scanner, rank.data(), k, d, 1), std::vector<int32_t>{1});
}

}  // namespace
}  // namespace pg_ivf::core
