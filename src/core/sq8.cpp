// SQ8 range training and per-row encoding.
#include "sq8.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "distance.h"
#include "kmeans_math.h"

namespace pg_ivf::core {

namespace {
constexpr size_t kPollRows = 4096;  // rows between cancellation polls
}  // namespace

// One pass over the rows; the residual is formed in float (saturated) exactly as encode_rows() forms it.
void sq8_train(const float* x, size_t n, size_t d, const float* centroids, const int32_t* labels, const Hooks& hooks,
               float* bias, float* step) {
    std::vector<double> lo(d, std::numeric_limits<double>::infinity());
    std::vector<double> hi(d, -std::numeric_limits<double>::infinity());
    const bool residual = centroids != nullptr && labels != nullptr;
    for (size_t i = 0; i < n; ++i) {
        if (i % kPollRows == 0) {
            if (hooks.cancelled()) throw Cancelled();
            hooks.report(i, n);
        }
        const float* row = x + i * d;
        const float* c = residual ? centroids + static_cast<size_t>(labels[i]) * d : nullptr;
        for (size_t j = 0; j < d; ++j) {
            const double v = residual ? static_cast<double>(saturate(row[j] - c[j])) : static_cast<double>(row[j]);
            lo[j] = std::min(lo[j], v);
            hi[j] = std::max(hi[j], v);
        }
    }
    hooks.report(n, n);
    for (size_t j = 0; j < d; ++j) {
        double vmin = n == 0 ? -1.0 : lo[j];
        double vmax = n == 0 ? 1.0 : hi[j];
        const double s = (vmax - vmin) / 256.0;
        step[j] = static_cast<float>(s);
        bias[j] = static_cast<float>(vmin + 0.5 * static_cast<double>(step[j]));
        if (!(step[j] > 0.0f) || !std::isfinite(step[j])) {
            step[j] = 0.0f;
            bias[j] = static_cast<float>(vmin);
        }
    }
}

// Nearest grid point in double; the exact err stored beside the code makes any choice safe.
void sq8_encode(const float* bias, const float* step, const float* v, size_t d, uint8_t* code) {
    for (size_t j = 0; j < d; ++j) {
        if (step[j] == 0.0f) {
            code[j] = 0;
            continue;
        }
        const double t = std::floor((static_cast<double>(v[j]) - bias[j]) / step[j] + 0.5);
        code[j] = static_cast<uint8_t>(!(t > 0.0) ? 0.0 : (t >= 255.0 ? 255.0 : t));  // NaN -> 0
    }
}

void sq8_code_part(const float* step, const uint8_t* code, size_t d, double* out) {
    for (size_t j = 0; j < d; ++j) out[j] = static_cast<double>(step[j]) * code[j];
}

bool sq8_int_weights(const float* step, size_t d, int16_t* w, float* inv, double* sigma, double* step_sq) {
    double top = 0, sum = 0;
    for (size_t i = 0; i < d; ++i) {
        const double s2 = static_cast<double>(step[i]) * step[i];
        top = std::max(top, s2);
        sum += s2;
    }
    if (!(top > 0.0) || !std::isfinite(sum)) return false;
    double sg = std::ldexp(1.0, std::ilogb(top / kSq8IntMaxWeight));
    while (top / sg > kSq8IntMaxWeight) sg *= 2.0;
    // s2 is exact in double and sg a power of two, so the quotient is exact
    for (size_t i = 0; i < d; ++i) {
        w[i] = static_cast<int16_t>(std::floor(static_cast<double>(step[i]) * step[i] / sg));
        inv[i] = step[i] > 0.0f ? 1.0f / step[i] : 0.0f;
    }
    *sigma = sg;
    *step_sq = sum;
    return true;
}

bool sq8_query_grid(const float* a, const float* step, const float* inv, size_t d, int16_t* g, double* delta_sq) {
    // Any value of v (NaN from 0 * inf, or from a non-finite a_i) only picks
    // g_i; a non-finite a_i fails the reach test below.  Branch-free so the
    // compiler vectorizes it: the scan calls this once per probed list.
    for (size_t i = 0; i < d; ++i) {
        const float v = a[i] * inv[i];
        const float r = v > 0.0f ? (v < 255.0f ? v + 0.5f : 255.0f) : 0.0f;
        g[i] = static_cast<int16_t>(r);  // truncation of v + 0.5: rounding
    }
    double sum = 0, reach = 0;
    for (size_t i = 0; i < d; ++i) {
        const double delta = static_cast<double>(a[i]) - static_cast<double>(step[i]) * g[i];
        sum += delta * delta;
        const double far = std::fabs(static_cast<double>(a[i])) + 255.0 * step[i];
        reach += far * far;
    }
    *delta_sq = sum;
    return reach < 0x1p120;
}

}  // namespace pg_ivf::core
