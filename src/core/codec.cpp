// Codec parameters, training dispatch, and row encoding with the per-row err.
#include "codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>

#include "bounds.h"
#include "kmeans_math.h"
#include "parallel.h"
#include "pq.h"
#include "sq8.h"

namespace pg_ivf::core {

namespace {

constexpr size_t kEncodeBlockRows = 64;  // rows per parallel task

// Rejects shapes no codec can have, so every later size computation is safe.
void check_shape(QuantizerKind kind, Metric metric, size_t d, size_t m) {
    if (d == 0) throw std::invalid_argument("codec: dimension must be positive");
    if (kind != QuantizerKind::kSq8 && kind != QuantizerKind::kPq && kind != QuantizerKind::kFlat)
        throw std::invalid_argument("codec: unknown quantizer kind");
    if (metric != Metric::kL2 && metric != Metric::kInnerProduct && metric != Metric::kCosine)
        throw std::invalid_argument("codec: unknown metric");
    if (kind == QuantizerKind::kPq && (m == 0 || m > d || d % m != 0))
        throw std::invalid_argument("codec: PQ needs m >= 1 dividing d (d = " + std::to_string(d) +
                                    ", m = " + std::to_string(m) + ")");
}

size_t expected_parameters(QuantizerKind kind, size_t d) {
    switch (kind) {
        case QuantizerKind::kSq8:
            return 2 * d;
        case QuantizerKind::kPq:
            return kPqCentroids * d;
        case QuantizerKind::kFlat:
            return 0;
    }
    return 0;
}

double norm(const float* v, size_t d) {
    double s = 0;
    for (size_t j = 0; j < d; ++j) s += static_cast<double>(v[j]) * v[j];
    return std::sqrt(s);
}

// Scratch of one encoding thread.
struct EncodeScratch {
    std::vector<float> v;      // the vector that is quantized (residual or row), size d
    std::vector<double> part;  // the code part of the reconstruction, size d
};

// Encodes row i: code from the (residual) vector, err from the exact
// reconstruction.  c_norms: norm() of each list's centroid (residual codecs).
void encode_one(const Codec& codec, const PqEncoder* pq, double bias_norm, const double* c_norms, const float* x,
                size_t i, const float* centroids, const int32_t* labels, uint8_t* entry, EncodeScratch& s) {
    const size_t d = codec.d;
    const float* row = x + i * d;
    const float* c = nullptr;
    if (codec.residual) c = centroids + static_cast<size_t>(labels[i]) * d;
    const float* v = row;
    if (c != nullptr) {
        for (size_t j = 0; j < d; ++j) s.v[j] = saturate(row[j] - c[j]);
        v = s.v.data();
    }
    uint8_t* code = entry + kEntryCodeOffset;
    const float* bias = nullptr;
    switch (codec.kind) {
        case QuantizerKind::kSq8:
            sq8_encode(codec.sq_bias.data(), codec.sq_step.data(), v, d, code);
            sq8_code_part(codec.sq_step.data(), code, d, s.part.data());
            bias = codec.sq_bias.data();
            break;
        case QuantizerKind::kPq:
            pq->encode(v, code);
            pq_code_part(codec.pq_codebooks.data(), d, codec.m, code, s.part.data());
            break;
        case QuantizerKind::kFlat:
            std::memcpy(code, row, d * sizeof(float));
            for (size_t j = 0; j < d; ++j) s.part[j] = row[j];
            break;
    }
    // The sums of norm() (||x||, ||code part||) and of the error, each a
    // serial double sum in j order as before, run side by side in one loop:
    // the same bits in about a third of the latency.  Under cosine the
    // represented vector is the row renormalized in double, so the error
    // needs ||x|| first and takes a second loop.
    const bool cosine = codec.metric == Metric::kCosine;
    const double* part = s.part.data();
    double x2 = 0, p2 = 0, e2 = 0;
    auto rec = [&](size_t j) {
        double r = part[j];
        if (bias != nullptr) r += bias[j];
        if (c != nullptr) r += c[j];
        return r;
    };
    if (cosine) {
        for (size_t j = 0; j < d; ++j) {
            x2 += static_cast<double>(row[j]) * row[j];
            p2 += part[j] * part[j];
        }
    } else {
        for (size_t j = 0; j < d; ++j) {
            const double xj = row[j];
            x2 += xj * xj;
            p2 += part[j] * part[j];
            const double diff = xj - rec(j);
            e2 += diff * diff;
        }
    }
    const double x_norm = std::sqrt(x2);
    if (cosine) {
        const double scale = 1.0 / x_norm;
        for (size_t j = 0; j < d; ++j) {
            const double diff = static_cast<double>(row[j]) * scale - rec(j);
            e2 += diff * diff;
        }
    }
    bounds::RowTerms t;
    t.x_norm = x_norm;
    t.c_norm = c != nullptr ? c_norms[labels[i]] : 0.0;
    t.bias_norm = bias_norm;
    t.code_norm = std::sqrt(p2);
    t.e_up = bounds::e_upper(std::sqrt(e2), (cosine ? 1.0 : x_norm) + t.c_norm + t.bias_norm + t.code_norm, d);
    float err = bounds::row_err(codec.kind, codec.metric, codec.residual, d, t);
    if (cosine && !(x_norm > 0.0)) err = std::numeric_limits<float>::infinity();  // glue skips zero rows
    std::memcpy(entry + kEntryErrOffset, &err, sizeof(float));
}

}  // namespace

void mark_entry_unbounded(uint8_t* entry) {
    const float inf = std::numeric_limits<float>::infinity();
    std::memcpy(entry + kEntryErrOffset, &inf, sizeof(float));
}

size_t code_size(QuantizerKind kind, size_t d, size_t m) {
    switch (kind) {
        case QuantizerKind::kSq8:
            return d;
        case QuantizerKind::kPq:
            return m;
        case QuantizerKind::kFlat:
            return 4 * d;
    }
    return 0;
}

size_t Codec::code_size() const { return pg_ivf::core::code_size(kind, d, m); }

size_t parameter_count(QuantizerKind kind, size_t d) { return expected_parameters(kind, d); }

size_t Codec::parameter_count() const { return expected_parameters(kind, d); }

bool all_finite(const float* v, size_t n) {
    return std::all_of(v, v + n, [](float f) { return std::isfinite(f); });
}

bool Codec::parameters_finite() const {
    return all_finite(sq_bias.data(), sq_bias.size()) && all_finite(sq_step.data(), sq_step.size()) &&
           all_finite(pq_codebooks.data(), pq_codebooks.size());
}

std::vector<float> Codec::parameters() const {
    std::vector<float> out;
    out.reserve(sq_bias.size() + sq_step.size() + pq_codebooks.size());
    out.insert(out.end(), sq_bias.begin(), sq_bias.end());
    out.insert(out.end(), sq_step.begin(), sq_step.end());
    out.insert(out.end(), pq_codebooks.begin(), pq_codebooks.end());
    return out;
}

// m is ignored (set to 0) unless PQ, and flat always gets residual = false.
Codec Codec::from_parameters(QuantizerKind kind, Metric metric, size_t d, size_t m, bool residual, const float* params,
                             size_t n_params) {
    check_shape(kind, metric, d, m);
    if (n_params != expected_parameters(kind, d))
        throw std::invalid_argument("codec: expected " + std::to_string(expected_parameters(kind, d)) +
                                    " parameters, got " + std::to_string(n_params));
    if (n_params > 0 && params == nullptr) throw std::invalid_argument("codec: null parameters");
    if (!all_finite(params, n_params)) throw std::invalid_argument("codec: non-finite parameter");
    Codec codec;
    codec.kind = kind;
    codec.metric = metric;
    codec.d = d;
    codec.m = kind == QuantizerKind::kPq ? m : 0;
    codec.residual = kind == QuantizerKind::kFlat ? false : residual;
    if (kind == QuantizerKind::kSq8) {
        codec.sq_bias.assign(params, params + d);
        codec.sq_step.assign(params + d, params + 2 * d);
        for (float s : codec.sq_step)
            if (s < 0.0f) throw std::invalid_argument("codec: negative SQ8 step");
    } else if (kind == QuantizerKind::kPq) {
        codec.pq_codebooks.assign(params, params + n_params);
        codec.index_codebooks();
    }
    return codec;
}

void Codec::index_codebooks() {
    if (kind != QuantizerKind::kPq || m == 0) return;
    const size_t dsub = d / m;
    pq_codebooks_by_dim.resize(pq_codebooks.size());
    for (size_t j = 0; j < m; ++j)
        for (size_t c = 0; c < kPqCentroids; ++c)
            for (size_t i = 0; i < dsub; ++i)
                pq_codebooks_by_dim[(j * dsub + i) * kPqCentroids + c] = pq_codebooks[(j * kPqCentroids + c) * dsub + i];
}

Codec train_codec(const CodecOptions& options, const float* x, size_t n, size_t d, const float* centroids,
                  const int32_t* labels, Assigner& assigner, const Hooks& hooks) {
    check_shape(options.kind, options.metric, d, options.m);
    Codec codec;
    codec.kind = options.kind;
    codec.metric = options.metric;
    codec.d = d;
    codec.m = options.kind == QuantizerKind::kPq ? options.m : 0;
    codec.residual = options.kind == QuantizerKind::kFlat ? false : options.residual;
    if (n > 0 && x == nullptr) throw std::invalid_argument("train_codec: null rows");
    if (codec.residual && n > 0 && (centroids == nullptr || labels == nullptr))
        throw std::invalid_argument("train_codec: residual training needs centroids and labels");
    const float* c = codec.residual ? centroids : nullptr;
    const int32_t* l = codec.residual ? labels : nullptr;
    if (l != nullptr)
        for (size_t i = 0; i < n; ++i)
            if (l[i] < 0) throw std::invalid_argument("train_codec: negative list label");
    if (codec.kind == QuantizerKind::kSq8) {
        codec.sq_bias.resize(d);
        codec.sq_step.resize(d);
        sq8_train(x, n, d, c, l, hooks, codec.sq_bias.data(), codec.sq_step.data());
    } else if (codec.kind == QuantizerKind::kPq) {
        codec.pq_codebooks.resize(kPqCentroids * d);
        pq_train(x, n, d, codec.m, c, l, options.pq_iterations, options.seed, assigner, hooks,
                 codec.pq_codebooks.data());
        codec.index_codebooks();
    }
    return codec;
}

size_t codec_training_memory_bytes(const CodecOptions& options, size_t n, size_t d) {
    switch (options.kind) {
        case QuantizerKind::kSq8:
            return 2 * d * sizeof(double) + 2 * d * sizeof(float);
        case QuantizerKind::kPq:
            return pq_training_memory_bytes(n, d, options.m) + kPqCentroids * d * sizeof(float);
        case QuantizerKind::kFlat:
            return 0;
    }
    return 0;
}

void encode_rows(const Codec& codec, const float* x, size_t n, const float* centroids, const int32_t* labels,
                 uint8_t* out, size_t stride, int threads) {
    check_shape(codec.kind, codec.metric, codec.d, codec.m);
    const bool sq8_ok =
        codec.kind != QuantizerKind::kSq8 || (codec.sq_bias.size() == codec.d && codec.sq_step.size() == codec.d);
    const bool pq_ok = codec.kind != QuantizerKind::kPq || codec.pq_codebooks.size() == kPqCentroids * codec.d;
    if (!sq8_ok || !pq_ok) throw std::invalid_argument("encode_rows: codec parameters do not match its shape");
    if (stride < codec.entry_bytes()) throw std::invalid_argument("encode_rows: stride below entry size");
    if (n == 0) return;
    if (codec.residual && (centroids == nullptr || labels == nullptr))
        throw std::invalid_argument("encode_rows: residual codec needs centroids and labels");
    const size_t d = codec.d;
    const double bias_norm = codec.kind == QuantizerKind::kSq8 ? norm(codec.sq_bias.data(), d) : 0.0;
    // each list's centroid norm once per call, not once per row
    std::vector<double> c_norms;
    if (codec.residual) {
        int32_t k = 0;
        for (size_t i = 0; i < n; ++i) {
            if (labels[i] < 0) throw std::invalid_argument("encode_rows: negative list label");
            k = std::max(k, labels[i] + 1);
        }
        c_norms.assign(static_cast<size_t>(k), -1.0);
        for (size_t i = 0; i < n; ++i) {
            double& cn = c_norms[static_cast<size_t>(labels[i])];
            if (cn < 0) cn = norm(centroids + static_cast<size_t>(labels[i]) * d, d);
        }
    }
    std::unique_ptr<PqEncoder> pq;
    if (codec.kind == QuantizerKind::kPq) pq = std::make_unique<PqEncoder>(codec.pq_codebooks.data(), d, codec.m);
    const size_t blocks = (n + kEncodeBlockRows - 1) / kEncodeBlockRows;
    const int team = threads < 1 ? 1 : threads;
    std::vector<EncodeScratch> scratch(static_cast<size_t>(team));
    for (EncodeScratch& s : scratch) {
        s.v.resize(d);
        s.part.resize(d);
    }
    parallel_for(blocks, team, [&](size_t b, int t) {
        const size_t end = std::min(n, (b + 1) * kEncodeBlockRows);
        for (size_t i = b * kEncodeBlockRows; i < end; ++i)
            encode_one(codec, pq.get(), bias_norm, c_norms.data(), x, i, centroids, labels, out + i * stride,
                       scratch[t]);
    });
}

}  // namespace pg_ivf::core
