// encode_rows() against the per-row encoding it replaced: the same entry
// bytes (code and err) for every quantizer, metric and residual setting, so
// the build's faster encode changes no index.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/bounds.h"
#include "core/codec.h"
#include "core/kmeans.h"
#include "core/kmeans_math.h"
#include "core/pq.h"
#include "core/sq8.h"

namespace pg_ivf::core {
namespace {

double serial_norm(const float* v, size_t d) {
    double s = 0;
    for (size_t j = 0; j < d; ++j) s += static_cast<double>(v[j]) * v[j];
    return std::sqrt(s);
}

double serial_norm(const double* v, size_t d) {
    double s = 0;
    for (size_t j = 0; j < d; ++j) s += v[j] * v[j];
    return std::sqrt(s);
}

// The entry as encode_rows() wrote it before its sums were fused: one serial
// double sum per norm, the centroid's norm per row.
void reference_entry(const Codec& codec, const float* row, const float* c, uint8_t* entry) {
    const size_t d = codec.d;
    std::vector<float> v(row, row + d);
    if (c != nullptr)
        for (size_t j = 0; j < d; ++j) v[j] = saturate(row[j] - c[j]);
    std::vector<double> part(d);
    uint8_t* code = entry + kEntryCodeOffset;
    const float* bias = nullptr;
    double bias_norm = 0;
    switch (codec.kind) {
        case QuantizerKind::kSq8:
            sq8_encode(codec.sq_bias.data(), codec.sq_step.data(), v.data(), d, code);
            sq8_code_part(codec.sq_step.data(), code, d, part.data());
            bias = codec.sq_bias.data();
            bias_norm = serial_norm(bias, d);
            break;
        case QuantizerKind::kPq:
            PqEncoder(codec.pq_codebooks.data(), d, codec.m).encode(v.data(), code);
            pq_code_part(codec.pq_codebooks.data(), d, codec.m, code, part.data());
            break;
        case QuantizerKind::kFlat:
            std::memcpy(code, row, d * sizeof(float));
            for (size_t j = 0; j < d; ++j) part[j] = row[j];
            break;
    }
    const double x_norm = serial_norm(row, d);
    const bool cosine = codec.metric == Metric::kCosine;
    const double scale = cosine ? 1.0 / x_norm : 1.0;
    double e2 = 0;
    for (size_t j = 0; j < d; ++j) {
        double rec = part[j];
        if (bias != nullptr) rec += bias[j];
        if (c != nullptr) rec += c[j];
        const double diff = static_cast<double>(row[j]) * scale - rec;
        e2 += diff * diff;
    }
    bounds::RowTerms t;
    t.x_norm = x_norm;
    t.c_norm = c != nullptr ? serial_norm(c, d) : 0.0;
    t.bias_norm = bias_norm;
    t.code_norm = serial_norm(part.data(), d);
    t.e_up = bounds::e_upper(std::sqrt(e2), (cosine ? 1.0 : x_norm) + t.c_norm + t.bias_norm + t.code_norm, d);
    float err = bounds::row_err(codec.kind, codec.metric, codec.residual, d, t);
    if (cosine && !(x_norm > 0.0)) err = std::numeric_limits<float>::infinity();
    std::memcpy(entry + kEntryErrOffset, &err, sizeof(float));
}

TEST(EncodeRows, SameBytesAsPerRowReference) {
    const size_t d = 48, n = 300, k = 7;
    std::mt19937_64 rng(77);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    for (QuantizerKind kind : {QuantizerKind::kSq8, QuantizerKind::kPq, QuantizerKind::kFlat})
        for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine})
            for (bool residual : {false, true}) {
                if (kind == QuantizerKind::kFlat && residual) continue;
                SCOPED_TRACE("kind " + std::to_string(static_cast<int>(kind)) + " metric " +
                             std::to_string(static_cast<int>(metric)) + " residual " + std::to_string(residual));
                std::vector<float> x(n * d), cent(k * d);
                for (float& v : x) v = normal(rng);
                for (float& v : cent) v = normal(rng);
                if (metric == Metric::kCosine)
                    for (size_t i = 0; i < n; ++i) {
                        const double nr = serial_norm(x.data() + i * d, d);
                        for (size_t j = 0; j < d; ++j) x[i * d + j] = static_cast<float>(x[i * d + j] / nr);
                    }
                std::vector<int32_t> labels(n);
                std::vector<float> dist2(n);
                CpuAssigner assigner(1);
                assigner.assign(x.data(), n, cent.data(), k, d, labels.data(), dist2.data(), Hooks{});
                CodecOptions opt;
                opt.kind = kind;
                opt.metric = metric;
                opt.residual = residual;
                opt.m = kind == QuantizerKind::kPq ? 12 : 0;
                opt.pq_iterations = 4;
                const Codec codec = train_codec(opt, x.data(), n, d, cent.data(), labels.data(), assigner, Hooks{});
                const size_t stride = codec.entry_bytes();
                std::vector<uint8_t> got(n * stride, 0), want(n * stride, 0);
                for (int threads : {1, 2}) {
                    encode_rows(codec, x.data(), n, residual ? cent.data() : nullptr, residual ? labels.data() : nullptr,
                                got.data(), stride, threads);
                    for (size_t i = 0; i < n; ++i)
                        reference_entry(codec, x.data() + i * d,
                                        residual ? cent.data() + static_cast<size_t>(labels[i]) * d : nullptr,
                                        want.data() + i * stride);
                    for (size_t i = 0; i < n; ++i)
                        ASSERT_EQ(std::memcmp(got.data() + i * stride + kEntryTidBytes,
                                              want.data() + i * stride + kEntryTidBytes, stride - kEntryTidBytes),
                                  0)
                            << "row " << i << " threads " << threads;
                }
            }
}

}  // namespace
}  // namespace pg_ivf::core
