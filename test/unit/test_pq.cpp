// PQ codec: codebook training (n == 0, n < 256, the training subsample cap),
// nearest-codeword encoding, err against the exact reconstruction error,
// determinism, parameter round trips, shape validation and cancellation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "core/codec.h"
#include "core/pq.h"

namespace pg_ivf::core {
namespace {

// Gaussian clusters: `clusters` centers, spread 0.2 around each.
std::vector<float> clustered(size_t n, size_t d, size_t clusters, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g(0.0, 1.0);
    std::vector<double> center(clusters * d);
    for (double& c : center) c = g(rng);
    std::vector<float> x(n * d);
    for (size_t i = 0; i < n; ++i) {
        const size_t c = rng() % clusters;
        for (size_t j = 0; j < d; ++j) x[i * d + j] = static_cast<float>(center[c * d + j] + 0.2 * g(rng));
    }
    return x;
}

CodecOptions pq_options(size_t m, Metric metric = Metric::kL2, bool residual = false) {
    CodecOptions opt;
    opt.kind = QuantizerKind::kPq;
    opt.metric = metric;
    opt.m = m;
    opt.residual = residual;
    opt.pq_iterations = 8;
    opt.seed = 42;
    return opt;
}

std::vector<uint8_t> encode(const Codec& codec, const std::vector<float>& x, const float* cent = nullptr,
                            const int32_t* labels = nullptr) {
    const size_t n = x.size() / codec.d, stride = codec.entry_bytes();
    std::vector<uint8_t> out(n * stride, 0);
    encode_rows(codec, x.data(), n, cent, labels, out.data(), stride, 2);
    return out;
}

float entry_err(const std::vector<uint8_t>& e, size_t stride, size_t i) {
    float err;
    std::memcpy(&err, e.data() + i * stride + kEntryErrOffset, sizeof err);
    return err;
}

// ||x - (c +) codewords(code)|| in long double.
double exact_error(const Codec& codec, const float* x, const uint8_t* code, const float* c) {
    const size_t dsub = codec.d / codec.m;
    long double s = 0;
    for (size_t q = 0; q < codec.m; ++q)
        for (size_t i = 0; i < dsub; ++i) {
            const size_t j = q * dsub + i;
            long double rec = codec.pq_codebooks[(q * kPqCentroids + code[q]) * dsub + i];
            if (c != nullptr) rec += c[j];
            s += (x[j] - rec) * (x[j] - rec);
        }
    return static_cast<double>(std::sqrt(s));
}

TEST(PqTrain, EmptyGivesZeroCodebooks) {
    CpuAssigner assigner(1);
    const Codec codec = train_codec(pq_options(4), nullptr, 0, 16, nullptr, nullptr, assigner, Hooks{});
    ASSERT_EQ(codec.pq_codebooks.size(), kPqCentroids * 16);
    for (float v : codec.pq_codebooks) ASSERT_EQ(v, 0.0f);
    // Encoding still works; err is then just ||x||.
    const std::vector<float> x = clustered(5, 16, 2, 1);
    const std::vector<uint8_t> e = encode(codec, x);
    for (size_t i = 0; i < 5; ++i) {
        double norm = 0;
        for (size_t j = 0; j < 16; ++j) norm += static_cast<double>(x[i * 16 + j]) * x[i * 16 + j];
        EXPECT_GE(entry_err(e, codec.entry_bytes(), i), std::sqrt(norm));
    }
}

// With fewer rows than codewords every training row is reconstructed exactly.
TEST(PqTrain, FewRowsAreReproducedExactly) {
    const size_t d = 12, n = 50;
    const std::vector<float> x = clustered(n, d, 3, 2);
    CpuAssigner assigner(1);
    const Codec codec = train_codec(pq_options(3), x.data(), n, d, nullptr, nullptr, assigner, Hooks{});
    const std::vector<uint8_t> e = encode(codec, x);
    for (size_t i = 0; i < n; ++i) {
        EXPECT_EQ(exact_error(codec, x.data() + i * d, e.data() + i * codec.entry_bytes() + kEntryCodeOffset, nullptr),
                  0.0);
        EXPECT_LT(entry_err(e, codec.entry_bytes(), i), 1e-5);
    }
}

// Trained codebooks beat the trivial zero codebook by a wide margin, and every
// code is the nearest codeword of its sub-vector.
TEST(PqEncode, NearestCodewordAndUsefulCodebooks) {
    const size_t d = 32, m = 8, n = 3000, dsub = d / m;
    const std::vector<float> x = clustered(n, d, 20, 3);
    CpuAssigner assigner(1);
    const std::vector<float> cent = {x.begin(), x.begin() + d};
    const std::vector<int32_t> labels(n, 0);
    const Codec codec =
        train_codec(pq_options(m, Metric::kL2, true), x.data(), n, d, cent.data(), labels.data(), assigner, Hooks{});
    const std::vector<uint8_t> e = encode(codec, x, cent.data(), labels.data());
    const size_t stride = codec.entry_bytes();
    double pq_err = 0, zero_err = 0;
    for (size_t i = 0; i < n; ++i) {
        const float* row = x.data() + i * d;
        const uint8_t* code = e.data() + i * stride + kEntryCodeOffset;
        for (size_t q = 0; q < m; ++q) {
            double best = std::numeric_limits<double>::infinity(), chosen = 0, scale = 0;
            for (size_t c = 0; c < kPqCentroids; ++c) {
                double s = 0, norms = 0;
                for (size_t t = 0; t < dsub; ++t) {
                    const double v = static_cast<double>(row[q * dsub + t] - cent[q * dsub + t]);
                    const double w = codec.pq_codebooks[(q * kPqCentroids + c) * dsub + t];
                    s += (v - w) * (v - w);
                    norms += v * v + w * w;
                }
                best = std::min(best, s);
                if (c == code[q]) chosen = s;
                scale = std::max(scale, norms);
            }
            // the encoder ranks by the expanded form ||w||^2 - 2 <v, w>
            ASSERT_LE(chosen, best + 1e-5 * scale);
        }
        const double exact = exact_error(codec, row, code, cent.data());
        const double err = entry_err(e, stride, i);
        ASSERT_GE(err, exact);
        ASSERT_LE(err, exact * (1 + 1e-6) + 1e-5);
        pq_err += exact * exact;
        for (size_t j = 0; j < d; ++j) zero_err += std::pow(static_cast<double>(row[j]) - cent[j], 2);
    }
    EXPECT_LT(pq_err, 0.25 * zero_err);
}

// Same seed, same codebooks; round trip gives bit-identical entries.
TEST(PqCodec, DeterministicAndRoundTrips) {
    const size_t d = 16, n = 600;
    const std::vector<float> x = clustered(n, d, 5, 4);
    CpuAssigner assigner(1);
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
        const Codec a = train_codec(pq_options(4, metric), x.data(), n, d, nullptr, nullptr, assigner, Hooks{});
        const Codec b = train_codec(pq_options(4, metric), x.data(), n, d, nullptr, nullptr, assigner, Hooks{});
        ASSERT_EQ(a.pq_codebooks, b.pq_codebooks);
        const std::vector<float> p = a.parameters();
        ASSERT_EQ(p.size(), a.parameter_count());
        ASSERT_EQ(p.size(), kPqCentroids * d);
        const Codec back = Codec::from_parameters(QuantizerKind::kPq, metric, d, 4, false, p.data(), p.size());
        EXPECT_EQ(back.m, 4u);
        EXPECT_EQ(back.code_size(), 4u);
        EXPECT_EQ(encode(a, x), encode(back, x));
    }
}

TEST(PqCodec, RejectsBadShapes) {
    CpuAssigner assigner(1);
    const std::vector<float> x = clustered(10, 12, 2, 5);
    for (size_t m : {0, 5, 13}) {
        EXPECT_THROW(train_codec(pq_options(m), x.data(), 10, 12, nullptr, nullptr, assigner, Hooks{}),
                     std::invalid_argument);
        EXPECT_THROW(Codec::from_parameters(QuantizerKind::kPq, Metric::kL2, 12, m, false, x.data(), 0),
                     std::invalid_argument);
    }
    const std::vector<float> p(kPqCentroids * 12, 0.0f);
    EXPECT_THROW(Codec::from_parameters(QuantizerKind::kPq, Metric::kL2, 12, 3, false, p.data(), p.size() - 1),
                 std::invalid_argument);
    EXPECT_NO_THROW(Codec::from_parameters(QuantizerKind::kPq, Metric::kL2, 12, 3, false, p.data(), p.size()));
    // residual training without centroids
    EXPECT_THROW(train_codec(pq_options(3, Metric::kL2, true), x.data(), 10, 12, nullptr, nullptr, assigner, Hooks{}),
                 std::invalid_argument);
}

// Large inputs train on a capped subsample; cancellation stops training.
TEST(PqTrain, SubsampleCapAndCancellation) {
    EXPECT_EQ(pq_training_rows(100), 100u);
    EXPECT_EQ(pq_training_rows(1000000), kPqMaxTrainRows);
    EXPECT_GT(codec_training_memory_bytes(pq_options(2), 1000000, 8), kPqMaxTrainRows * 8 * sizeof(float));
    EXPECT_LT(codec_training_memory_bytes(pq_options(2), 1000000, 8), 64u << 20);
    const size_t d = 4, n = 20000;
    const std::vector<float> x = clustered(n, d, 50, 6);
    CpuAssigner assigner(1);
    CodecOptions opt = pq_options(2);
    opt.pq_iterations = 2;
    const Codec codec = train_codec(opt, x.data(), n, d, nullptr, nullptr, assigner, Hooks{});
    const std::vector<uint8_t> e = encode(codec, x);
    double mean = 0;
    for (size_t i = 0; i < n; ++i) mean += entry_err(e, codec.entry_bytes(), i);
    EXPECT_LT(mean / n, 0.2);  // spread 0.2 per dim, 256 codewords per 2-dim sub-space
    Hooks hooks;
    int polls = 0;
    hooks.should_cancel = [&] { return ++polls > 1; };
    EXPECT_THROW(train_codec(opt, x.data(), n, d, nullptr, nullptr, assigner, hooks), Cancelled);
}

// Records the job count of every assign_batch() call; solves on the CPU.
struct BatchRecorder final : Assigner {
    CpuAssigner cpu{2};
    int single_calls = 0;
    std::vector<size_t> calls;

    void assign(const float* x, size_t n, const float* c, size_t k, size_t d, int32_t* l, float* e,
                const Hooks& h) override {
        ++single_calls;
        cpu.assign(x, n, c, k, d, l, e, h);
    }
    void assign_batch(const AssignJob* jobs, size_t count, size_t n, size_t k, size_t d, const Hooks& h) override {
        calls.push_back(count);
        cpu.assign_batch(jobs, count, n, k, d, h);
    }
    bool batches() const override { return true; }
};

// The sub-quantizers train side by side, and each codebook is exactly what
// train_kmeans gives that sub-space's residuals alone (the seeds pq_train
// documents), so batching changes nothing in an index.
TEST(PqTrain, SubQuantizersTrainTogetherAsIfAlone) {
    const size_t d = 12, m = 4, dsub = d / m, n = 3000, k = 20;
    const std::vector<float> x = clustered(n, d, 30, 8);
    const std::vector<float> cent = clustered(k, d, 5, 9);
    std::vector<int32_t> labels(n);
    for (size_t i = 0; i < n; ++i) labels[i] = static_cast<int32_t>((i * 7) % k);
    BatchRecorder rec;
    std::vector<float> books(m * kPqCentroids * dsub);
    std::vector<std::pair<size_t, size_t>> progress;
    Hooks hooks;
    hooks.progress = [&](size_t done, size_t total) { progress.emplace_back(done, total); };
    pq_train(x.data(), n, d, m, cent.data(), labels.data(), 6, 77, rec, hooks, books.data());
    EXPECT_EQ(rec.single_calls, 0);
    ASSERT_FALSE(rec.calls.empty());
    EXPECT_EQ(rec.calls.front(), m);
    EXPECT_LE(rec.calls.size(), 6u);
    ASSERT_FALSE(progress.empty());
    EXPECT_EQ(progress.back(), std::make_pair(m, m));
    for (size_t i = 1; i < progress.size(); ++i) EXPECT_LE(progress[i - 1].first, progress[i].first);

    // The CPU assigner does not batch: one sub-quantizer after another, same codebooks.
    CpuAssigner cpu(1);
    std::vector<float> one_by_one(books.size());
    pq_train(x.data(), n, d, m, cent.data(), labels.data(), 6, 77, cpu, Hooks{}, one_by_one.data());
    EXPECT_EQ(one_by_one, books);
    for (size_t q = 0; q < m; ++q) {
        std::vector<float> slice(n * dsub);
        for (size_t r = 0; r < n; ++r)
            for (size_t i = 0; i < dsub; ++i)
                slice[r * dsub + i] = x[r * d + q * dsub + i] - cent[labels[r] * d + q * dsub + i];
        KMeansParams p;
        p.k = kPqCentroids;
        p.iterations = 6;
        p.seed = 77 + 0x9E3779B97F4A7C15ull * (q + 1);
        const KMeansResult alone = train_kmeans(slice.data(), n, dsub, p, cpu, Hooks{});
        EXPECT_TRUE(std::equal(alone.centroids.begin(), alone.centroids.end(),
                               books.begin() + q * kPqCentroids * dsub))
            << "sub-quantizer " << q;
    }
}

// Many sub-quantizers go in equal groups that fit kPqBatchBytes.
TEST(PqTrain, GroupsAreEqualAndBounded) {
    const size_t n = 1000000;
    EXPECT_EQ(pq_batch_size(n, 8, 4), 4u);
    for (const size_t d : {768u, 1536u, 16000u}) {
        const size_t m = d / 8;
        const size_t g = pq_batch_size(n, d, m);
        ASSERT_GE(g, 1u);
        ASSERT_LE(g, m);
        const size_t groups = (m + g - 1) / g;
        EXPECT_LE(groups * g - m, groups - 1) << "d=" << d;  // the last group is at most one short
        const size_t ns = pq_training_rows(n);
        const size_t per = kmeans_batch_memory_bytes(2, ns, kPqCentroids, 8) - kmeans_batch_memory_bytes(1, ns, kPqCentroids, 8);
        EXPECT_LE(g * per, kPqBatchBytes + per) << "d=" << d;
    }
    EXPECT_GT(pq_batch_size(n, 16000, 2000), 1u);
    EXPECT_LT(pq_batch_size(n, 16000, 2000), 2000u);
    EXPECT_EQ(pq_batch_size(n, 4, 0), 0u);

    // A group per call: 2000 sub-quantizers of 1 dim on a few rows.
    const size_t d = 2000, rows = 300;
    const std::vector<float> x = clustered(rows, d, 4, 10);
    BatchRecorder rec;
    std::vector<float> books(kPqCentroids * d);
    pq_train(x.data(), rows, d, d, nullptr, nullptr, 1, 5, rec, Hooks{}, books.data());
    const size_t g = pq_batch_size(rows, d, d);
    ASSERT_EQ(rec.calls.size(), (d + g - 1) / g);
    for (size_t b : rec.calls) EXPECT_LE(b, g);
}

}  // namespace
}  // namespace pg_ivf::core
