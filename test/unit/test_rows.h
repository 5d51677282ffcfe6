// Rows the unit tests share: seeded Gaussian rows, and the glue's cosine
// normalization (each row divided by its norm computed in double, one
// rounding per element), so every test feeds the core what the glue would.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace pg_ivf::core::test_rows {

inline std::vector<float> gaussian_rows(size_t n, size_t d, uint64_t seed, double mean = 0.0, double sd = 1.0) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g(mean, sd);
    std::vector<float> x(n * d);
    for (float& v : x) v = static_cast<float>(g(rng));
    return x;
}

inline std::vector<float> unit_rows(const std::vector<float>& raw, size_t d) {
    std::vector<float> out(raw.size());
    for (size_t i = 0; i < raw.size() / d; ++i) {
        double s = 0;
        for (size_t j = 0; j < d; ++j) s += static_cast<double>(raw[i * d + j]) * raw[i * d + j];
        const double norm = std::sqrt(s);
        for (size_t j = 0; j < d; ++j) out[i * d + j] = static_cast<float>(raw[i * d + j] / norm);
    }
    return out;
}

}  // namespace pg_ivf::core::test_rows
