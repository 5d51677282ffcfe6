// SQ8 range training and per-row encoding.
#include "sq8.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

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

}  // namespace pg_ivf::core
