// The MIPS-to-L2 reduction (src/core/mips.h): augmented rows lie on the
// sphere of radius M, and assignment in the augmented space matches the
// double-precision oracle.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

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

}  // namespace
}  // namespace pg_ivf::core
