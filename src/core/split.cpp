// STAY PROOF (split.h): the arithmetic of a local split's re-assignment.
#include "split.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "bounds.h"
#include "pq.h"
#include "sq8.h"

namespace pg_ivf::core {

void entry_reconstruction(const Codec& codec, const uint8_t* entry, const float* centroid, double* out) {
    const size_t d = codec.d;
    const uint8_t* code = entry + kEntryCodeOffset;
    switch (codec.kind) {
        case QuantizerKind::kSq8:
            sq8_code_part(codec.sq_step.data(), code, d, out);
            for (size_t j = 0; j < d; ++j) out[j] += codec.sq_bias[j];
            break;
        case QuantizerKind::kPq:
            pq_code_part(codec.pq_codebooks.data(), d, codec.m, code, out);
            break;
        case QuantizerKind::kFlat:
            for (size_t j = 0; j < d; ++j) {
                float v;
                std::memcpy(&v, code + j * sizeof(float), sizeof v);
                out[j] = v;
            }
            break;
    }
    if (codec.residual && codec.kind != QuantizerKind::kFlat)
        for (size_t j = 0; j < d; ++j) out[j] += centroid[j];
}

namespace {

// ||a - b|| in double, four partial sums (vectorizable); within a relative
// gammad_{d + 4} of its value (any summation order), which up_ covers.
double distance(const double* a, const float* b, size_t d) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t j = 0;
    for (; j + 4 <= d; j += 4) {
        const double t0 = a[j] - b[j], t1 = a[j + 1] - b[j + 1], t2 = a[j + 2] - b[j + 2], t3 = a[j + 3] - b[j + 3];
        s0 += t0 * t0;
        s1 += t1 * t1;
        s2 += t2 * t2;
        s3 += t3 * t3;
    }
    for (; j < d; ++j) {
        const double t = a[j] - b[j];
        s0 += t * t;
    }
    return std::sqrt((s0 + s1) + (s2 + s3));
}

// Squared distance of v to the interval [lo, hi] (0 inside it).
double gap2(double v, double lo, double hi) {
    const double g = v < lo ? lo - v : v > hi ? v - hi : 0.0;
    return g * g;
}

}  // namespace

StayProof::StayProof(const Codec& codec, const float* centroids, const float* extras, size_t k, double max_norm2,
                     const std::vector<int32_t>& changed)
    : codec_(codec), centroids_(centroids), extras_(max_norm2 > 0.0 ? extras : nullptr), k_(k), d_(codec.d),
      max_norm2_(max_norm2 > 0.0 ? max_norm2 : 0.0), changed_(changed), norms_(k), rec_(codec.d),
      // a double sum of d + 1 squares (any order) and its sqrt, x~'s 3-term sums: rounded up generously
      up_(1.0 + bounds::gamma_d(static_cast<double>(codec.d) + 8.0) + 0x1p-40) {
    if (max_norm2_ > 0.0 && extras == nullptr) throw std::invalid_argument("StayProof: MIPS without extras");
    for (int32_t c : changed_)
        if (c < 0 || static_cast<size_t>(c) >= k_) throw std::invalid_argument("StayProof: changed list out of range");
    for (size_t c = 0; c < k_; ++c) {
        double s = 0;
        for (size_t j = 0; j < d_; ++j) s += static_cast<double>(centroids_[c * d_ + j]) * centroids_[c * d_ + j];
        if (extras_ != nullptr) s += static_cast<double>(extras_[c]) * extras_[c];
        norms_[c] = std::sqrt(s) * up_;
    }
    to_list_.resize(changed_.size());
    nearest_.resize(changed_.size());
}

double StayProof::centroid_distance(size_t a, size_t b) const {
    double s = 0;
    for (size_t j = 0; j < d_; ++j) {
        const double t = static_cast<double>(centroids_[a * d_ + j]) - centroids_[b * d_ + j];
        s += t * t;
    }
    if (extras_ != nullptr) {
        const double t = static_cast<double>(extras_[a]) - extras_[b];
        s += t * t;
    }
    return std::sqrt(s);
}

void StayProof::set_list(int32_t list) {
    if (list < 0 || static_cast<size_t>(list) >= k_) throw std::invalid_argument("StayProof: list out of range");
    list_ = list;
    for (size_t i = 0; i < changed_.size(); ++i)
        to_list_[i] = changed_[i] == list ? 0.0 : centroid_distance(static_cast<size_t>(changed_[i]), list) / up_;
    // nearest first: a row that does not stay fails early
    for (size_t i = 0; i < nearest_.size(); ++i) nearest_[i] = i;
    std::sort(nearest_.begin(), nearest_.end(),
              [this](size_t a, size_t b) { return to_list_[a] < to_list_[b] || (to_list_[a] == to_list_[b] && a < b); });
}

bool StayProof::stays(const uint8_t* entry) {
    using namespace bounds;
    if (list_ < 0) throw std::logic_error("StayProof: stays() before set_list()");
    float err;
    std::memcpy(&err, entry + kEntryErrOffset, sizeof err);
    if (!std::isfinite(err) || err < 0.0f) return false;
    for (int32_t c : changed_)
        if (c == list_) return false;  // a changed list's rows are re-assigned, never proven

    const double dd = static_cast<double>(d_);
    const float* ck = centroids_ + static_cast<size_t>(list_) * d_;
    entry_reconstruction(codec_, entry, ck, rec_.data());
    double r = static_cast<double>(err);
    if (codec_.metric == Metric::kCosine) r += 2.0 * (kU + (dd + 4.0) * 0x1p-52);
    double rec_norm2 = 0;
    for (size_t j = 0; j < d_; ++j) rec_norm2 += rec_[j] * rec_[j];
    const double rec_norm = std::sqrt(rec_norm2);
    const double nh = (rec_norm * up_ + r) * up_;
    const double nl = std::max(0.0, (rec_norm / up_ - r) / up_);
    const double dk = distance(rec_.data(), ck, d_) * up_;

    double hi_k2 = (dk + r) * (dk + r) * up_;
    double x_norm2 = nh * nh;
    double e_lo = 0, e_hi = 0;
    const double big_d = dd + (extras_ != nullptr ? 1.0 : 0.0);
    if (extras_ != nullptr) {
        const double m2 = max_norm2_;
        e_lo = std::sqrt(std::max(0.0, m2 - nh * nh - 4.0 * kUd * m2)) * (1.0 - 2.0 * kU);
        e_hi = std::sqrt(std::max(0.0, m2 - nl * nl) + 4.0 * kUd * m2) * (1.0 + 2.0 * kU);
        const double eck = extras_[list_];
        hi_k2 += std::max((e_lo - eck) * (e_lo - eck), (e_hi - eck) * (e_hi - eck)) * up_;
        x_norm2 += e_hi * e_hi;
    }
    hi_k2 *= up_;
    const double x_norm = std::sqrt(x_norm2) * up_;
    const double hi_k = std::sqrt(hi_k2) * up_;
    if (!std::isfinite(hi_k2) || !std::isfinite(x_norm) || x_norm2 >= 0x1p124) return false;

    const double g = 2.0 * gamma_f(big_d + 2.0);
    const double nk = norms_[list_];
    for (size_t i : nearest_) {
        const size_t c = static_cast<size_t>(changed_[i]);
        const double nc = norms_[c];
        if (nc * nc >= 0x1p124) return false;
        const double margin = g * (nc * nc + nk * nk + 2.0 * x_norm * (nc + nk)) + big_d * 0x1p-145;
        const double need = (hi_k2 + margin) * (1.0 + kGuard) + kGuard * (nc * nc + nk * nk + x_norm2);
        // from the centroids alone first
        const double geom = to_list_[i] - hi_k;
        if (geom > 0.0 && geom * geom / up_ > need) continue;
        ++measured_;
        const double dc = distance(rec_.data(), centroids_ + c * d_, d_) / up_;
        const double lo_x = std::max(0.0, dc - r);
        double lo2 = lo_x * lo_x;
        if (extras_ != nullptr) lo2 += gap2(extras_[c], e_lo, e_hi);
        lo2 /= up_;
        if (geom > 0.0) lo2 = std::max(lo2, geom * geom / up_);
        if (!(lo2 > need)) return false;
    }
    return true;
}

}  // namespace pg_ivf::core
