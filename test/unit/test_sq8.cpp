// SQ8 and flat codecs: range training, encode/decode accuracy, clamping,
// the stored err against the exact reconstruction error, parameter round
// trips, entry layout, threading and cancellation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "core/codec.h"
#include "core/sq8.h"

namespace pg_ivf::core {
namespace {

constexpr double kU = 0x1p-24;

// Rows with per-dimension magnitudes from 1e-3 to 1e4 around a few centers.
std::vector<float> sample_rows(size_t n, size_t d, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g(0.0, 1.0);
    std::uniform_real_distribution<double> e(-3.0, 4.0);
    std::vector<double> scale(d), center(3 * d);
    for (double& s : scale) s = std::pow(10.0, e(rng));
    for (size_t i = 0; i < 3 * d; ++i) center[i] = g(rng) * scale[i % d];
    std::vector<float> x(n * d);
    for (size_t i = 0; i < n; ++i) {
        const size_t c = rng() % 3;
        for (size_t j = 0; j < d; ++j) x[i * d + j] = static_cast<float>(center[c * d + j] + 0.3 * scale[j] * g(rng));
    }
    return x;
}

Codec train(QuantizerKind kind, Metric metric, bool residual, const std::vector<float>& x, size_t d,
            const std::vector<float>& centroids, const std::vector<int32_t>& labels) {
    CodecOptions opt;
    opt.kind = kind;
    opt.metric = metric;
    opt.residual = residual;
    ReferenceAssigner assigner;
    return train_codec(opt, x.data(), x.size() / d, d, centroids.data(), labels.data(), assigner, Hooks{});
}

std::vector<uint8_t> encode(const Codec& codec, const std::vector<float>& x, const std::vector<float>& centroids,
                            const std::vector<int32_t>& labels, int threads = 1) {
    const size_t n = x.size() / codec.d, stride = codec.entry_bytes();
    std::vector<uint8_t> out(n * stride, 0xAB);
    encode_rows(codec, x.data(), n, centroids.data(), labels.data(), out.data(), stride, threads);
    return out;
}

float entry_err(const std::vector<uint8_t>& entries, size_t stride, size_t i) {
    float err;
    std::memcpy(&err, entries.data() + i * stride + kEntryErrOffset, sizeof err);
    return err;
}

// Exact SQ8 reconstruction c + bias + step * code in long double.
std::vector<long double> decode(const Codec& codec, const uint8_t* code, const float* centroid) {
    std::vector<long double> out(codec.d);
    for (size_t j = 0; j < codec.d; ++j) {
        out[j] = static_cast<long double>(codec.sq_bias[j]) + static_cast<long double>(codec.sq_step[j]) * code[j];
        if (centroid != nullptr) out[j] += centroid[j];
    }
    return out;
}

TEST(Sq8Train, RangeFromResiduals) {
    const size_t d = 2;
    const std::vector<float> x = {1, 10, 3, 30, 2, 20};
    const std::vector<float> cent = {0, 0, 1, 10};
    const std::vector<int32_t> labels = {0, 1, 1};
    const Codec plain = train(QuantizerKind::kSq8, Metric::kL2, false, x, d, cent, labels);
    EXPECT_FLOAT_EQ(plain.sq_step[0], 2.0f / 256);
    EXPECT_FLOAT_EQ(plain.sq_bias[0], 1.0f + 1.0f / 256);
    EXPECT_FLOAT_EQ(plain.sq_step[1], 20.0f / 256);
    // residuals: (1, 10), (2, 20), (1, 10)
    const Codec res = train(QuantizerKind::kSq8, Metric::kL2, true, x, d, cent, labels);
    EXPECT_FLOAT_EQ(res.sq_step[0], 1.0f / 256);
    EXPECT_FLOAT_EQ(res.sq_bias[1], 10.0f + 5.0f / 256);
    EXPECT_EQ(res.code_size(), d);
    EXPECT_EQ(res.entry_bytes(), entry_size(d));
    EXPECT_EQ(res.entry_bytes() % 4, 0u);
}

TEST(Sq8Train, EmptyTrainingUsesUnitRange) {
    ReferenceAssigner assigner;
    CodecOptions opt;
    const Codec codec = train_codec(opt, nullptr, 0, 5, nullptr, nullptr, assigner, Hooks{});
    for (size_t j = 0; j < 5; ++j) {
        EXPECT_FLOAT_EQ(codec.sq_step[j], 2.0f / 256);
        EXPECT_FLOAT_EQ(codec.sq_bias[j], -1.0f + 1.0f / 256);
    }
    // Still encodes, with an err that covers the clamped rows.
    const std::vector<float> x = {100, -100, 0.5f, 3, 0};
    const std::vector<float> cent(5, 0.0f);
    const std::vector<int32_t> labels = {0};
    const std::vector<uint8_t> e = encode(codec, x, cent, labels);
    EXPECT_GE(entry_err(e, codec.entry_bytes(), 0), std::sqrt(99.0 * 99 * 2 + 4.0));
}

TEST(Sq8Train, ConstantDimensionDecodesExactly) {
    const size_t d = 3;
    std::vector<float> x;
    for (int i = 0; i < 20; ++i) x.insert(x.end(), {5.5f, static_cast<float>(i), -2.0f});
    const Codec codec = train(QuantizerKind::kSq8, Metric::kL2, false, x, d, {}, {});
    EXPECT_EQ(codec.sq_step[0], 0.0f);
    EXPECT_EQ(codec.sq_bias[0], 5.5f);
    const std::vector<uint8_t> e = encode(codec, x, {}, {});
    for (size_t i = 0; i < 20; ++i) {
        const auto rec = decode(codec, e.data() + i * codec.entry_bytes() + kEntryCodeOffset, nullptr);
        EXPECT_EQ(rec[0], 5.5L);
        EXPECT_EQ(rec[2], -2.0L);
    }
}

// Inside the trained range every coordinate is within half a step; err bounds
// the exact error from above without being loose.
TEST(Sq8Encode, HalfStepInsideRangeAndErrCoversError) {
    const size_t d = 37, n = 400;
    const std::vector<float> x = sample_rows(n, d, 1);
    const std::vector<float> cent = {x.begin(), x.begin() + 2 * d};
    std::vector<int32_t> labels(n);
    for (size_t i = 0; i < n; ++i) labels[i] = static_cast<int32_t>(i % 2);
    for (bool residual : {false, true}) {
        const Codec codec = train(QuantizerKind::kSq8, Metric::kL2, residual, x, d, cent, labels);
        const std::vector<uint8_t> e = encode(codec, x, cent, labels);
        const size_t stride = codec.entry_bytes();
        for (size_t i = 0; i < n; ++i) {
            const float* c = residual ? cent.data() + labels[i] * d : nullptr;
            const auto rec = decode(codec, e.data() + i * stride + kEntryCodeOffset, c);
            long double e2 = 0;
            for (size_t j = 0; j < d; ++j) {
                const long double v = static_cast<long double>(x[i * d + j]) - (c ? c[j] : 0.0f);
                const long double dec = rec[j] - (c ? c[j] : 0.0f);
                const long double tol =
                    0.5L * codec.sq_step[j] * (1 + 1e-6L) + 4 * kU * (std::fabs(v) + std::fabs(codec.sq_bias[j]));
                ASSERT_LE(std::fabs(v - dec), tol) << "row " << i << " dim " << j;
                e2 += (x[i * d + j] - rec[j]) * (x[i * d + j] - rec[j]);
            }
            const double err = entry_err(e, stride, i), exact = std::sqrt(static_cast<double>(e2));
            ASSERT_GE(err, exact);
            double scale = 0;
            for (size_t j = 0; j < d; ++j) scale += std::fabs(x[i * d + j]) + std::fabs(codec.sq_bias[j]);
            ASSERT_LE(err, exact * (1 + 1e-6) + 1e-5 * scale);
        }
    }
}

TEST(Sq8Encode, ClampsOutsideRange) {
    const float bias[2] = {0.5f, 0.5f}, step[2] = {1.0f, 1.0f};
    const float v[2] = {-100.0f, 1e6f};
    uint8_t code[2];
    sq8_encode(bias, step, v, 2, code);
    EXPECT_EQ(code[0], 0);
    EXPECT_EQ(code[1], 255);
    const float w[2] = {0.4f, 254.6f};  // nearest grid points 0.5 and 254.5
    sq8_encode(bias, step, w, 2, code);
    EXPECT_EQ(code[0], 0);
    EXPECT_EQ(code[1], 254);
}

// Round trip through the flat parameter array gives bit-identical entries.
TEST(Sq8Codec, ParametersRoundTrip) {
    const size_t d = 24, n = 200;
    const std::vector<float> x = sample_rows(n, d, 2);
    const std::vector<float> cent = {x.begin(), x.begin() + 3 * d};
    std::vector<int32_t> labels(n);
    for (size_t i = 0; i < n; ++i) labels[i] = static_cast<int32_t>(i % 3);
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
        const Codec codec = train(QuantizerKind::kSq8, metric, true, x, d, cent, labels);
        const std::vector<float> p = codec.parameters();
        ASSERT_EQ(p.size(), codec.parameter_count());
        ASSERT_EQ(p.size(), 2 * d);
        const Codec back = Codec::from_parameters(QuantizerKind::kSq8, metric, d, 0, true, p.data(), p.size());
        EXPECT_EQ(back.parameters(), p);
        EXPECT_EQ(encode(codec, x, cent, labels), encode(back, x, cent, labels));
    }
    const std::vector<float> p(2 * d, 1.0f);
    EXPECT_THROW(Codec::from_parameters(QuantizerKind::kSq8, Metric::kL2, d, 0, true, p.data(), p.size() - 1),
                 std::invalid_argument);
    EXPECT_THROW(Codec::from_parameters(QuantizerKind::kSq8, Metric::kL2, 0, 0, true, p.data(), 0),
                 std::invalid_argument);
    std::vector<float> bad = p;
    bad[3] = std::numeric_limits<float>::quiet_NaN();
    EXPECT_THROW(Codec::from_parameters(QuantizerKind::kSq8, Metric::kL2, d, 0, true, bad.data(), bad.size()),
                 std::invalid_argument);
}

// The TID bytes stay untouched, and thread count does not change any byte.
TEST(Sq8Codec, EncodeRowsLayoutAndThreads) {
    const size_t d = 10, n = 1000;
    const std::vector<float> x = sample_rows(n, d, 3);
    const Codec codec = train(QuantizerKind::kSq8, Metric::kInnerProduct, false, x, d, {}, {});
    const size_t stride = codec.entry_bytes() + 4;  // room between entries too
    std::vector<uint8_t> a(n * stride, 0x5A), b(n * stride, 0x5A);
    encode_rows(codec, x.data(), n, nullptr, nullptr, a.data(), stride, 1);
    encode_rows(codec, x.data(), n, nullptr, nullptr, b.data(), stride, 2);
    EXPECT_EQ(a, b);
    for (size_t i = 0; i < n; ++i) {
        for (size_t t = 0; t < kEntryTidBytes; ++t) ASSERT_EQ(a[i * stride + t], 0x5A);
        for (size_t t = codec.entry_bytes(); t < stride; ++t) ASSERT_EQ(a[i * stride + t], 0x5A);
    }
    EXPECT_THROW(encode_rows(codec, x.data(), n, nullptr, nullptr, a.data(), codec.entry_bytes() - 1, 1),
                 std::invalid_argument);
}

TEST(Sq8Codec, TrainingHonoursCancellation) {
    const size_t d = 4;
    const std::vector<float> x = sample_rows(100, d, 4);
    Hooks hooks;
    hooks.should_cancel = [] { return true; };
    CodecOptions opt;
    opt.residual = false;
    ReferenceAssigner assigner;
    EXPECT_THROW(train_codec(opt, x.data(), 100, d, nullptr, nullptr, assigner, hooks), Cancelled);
    EXPECT_GT(codec_training_memory_bytes(opt, 100, d), 0u);
}

// Flat stores the row itself; err is only float slack.
TEST(FlatCodec, StoresRowsAndRoundTrips) {
    const size_t d = 9, n = 50;
    const std::vector<float> x = sample_rows(n, d, 5);
    CodecOptions opt;
    opt.kind = QuantizerKind::kFlat;
    opt.residual = true;  // forced off for flat
    ReferenceAssigner assigner;
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
        opt.metric = metric;
        const Codec codec = train_codec(opt, x.data(), n, d, nullptr, nullptr, assigner, Hooks{});
        EXPECT_FALSE(codec.residual);
        EXPECT_EQ(codec.code_size(), 4 * d);
        EXPECT_EQ(codec.parameter_count(), 0u);
        const std::vector<uint8_t> e = encode(codec, x, {}, {});
        const size_t stride = codec.entry_bytes();
        for (size_t i = 0; i < n; ++i) {
            ASSERT_EQ(std::memcmp(e.data() + i * stride + kEntryCodeOffset, x.data() + i * d, 4 * d), 0);
            double norm = 0;
            for (size_t j = 0; j < d; ++j) norm += static_cast<double>(x[i * d + j]) * x[i * d + j];
            const double err = entry_err(e, stride, i);
            EXPECT_GT(err, 0.0);
            // IP: 2 gamma_d ||x||; L2: only the double evaluation slack
            EXPECT_LE(err, (metric == Metric::kL2 ? 1e-13 : 4 * d * kU) * std::sqrt(norm));
        }
        const Codec back = Codec::from_parameters(QuantizerKind::kFlat, metric, d, 0, true, nullptr, 0);
        EXPECT_FALSE(back.residual);
        EXPECT_EQ(encode(codec, x, {}, {}), encode(back, x, {}, {}));
    }
}

}  // namespace
}  // namespace pg_ivf::core
