// The MIPS-to-L2 reduction of inner-product indexes (see mips.h).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "mips.h"

namespace pg_ivf::core {

double mips_squared_norm(const float* x, size_t d) noexcept {
    double s = 0;
    for (size_t i = 0; i < d; ++i) s += static_cast<double>(x[i]) * x[i];
    return s;
}

float mips_extra(const float* x, size_t d, double max_norm2) noexcept {
    const double rest = max_norm2 - mips_squared_norm(x, d);
    return rest > 0.0 ? static_cast<float>(std::sqrt(rest)) : 0.0f;
}

void mips_augment_rows(const float* x, size_t x_stride, size_t n, size_t d, double max_norm2, float* out) {
    const size_t s = d + 1;
    for (size_t i = 0; i < n; ++i) {
        const float* row = x + i * x_stride;
        float* o = out + i * s;
        const float extra = mips_extra(row, d, max_norm2);
        if (o != row) std::memmove(o, row, d * sizeof(float));
        o[d] = extra;
    }
}

void mips_drop_extra(float* x, size_t n, size_t d) {
    // each row moves toward the start, so ascending order never overwrites unread data
    for (size_t i = 1; i < n; ++i) std::memmove(x + i * d, x + i * (d + 1), d * sizeof(float));
}

std::vector<float> mips_join_centroids(const float* centroids, const float* extras, size_t k, size_t d) {
    std::vector<float> joined(k * (d + 1));
    for (size_t c = 0; c < k; ++c) {
        std::memcpy(joined.data() + c * (d + 1), centroids + c * d, d * sizeof(float));
        joined[c * (d + 1) + d] = extras[c];
    }
    return joined;
}

void mips_split_centroids(const float* joined, size_t k, size_t d, float* centroids, float* extras) {
    for (size_t c = 0; c < k; ++c) {
        std::memcpy(centroids + c * d, joined + c * (d + 1), d * sizeof(float));
        extras[c] = joined[c * (d + 1) + d];
    }
}

void mips_rank_vectors(const float* x, size_t n, size_t d, const int32_t* labels, const float* centroids, size_t k,
                       float* out) {
    // per list, its kMipsRankRows best (norm, row) so far, best first
    using Top = std::pair<double, size_t>;
    std::vector<Top> top(k * kMipsRankRows);
    std::vector<size_t> count(k, 0);
    const auto better = [](const Top& a, const Top& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    for (size_t i = 0; i < n; ++i) {
        if (labels[i] < 0 || static_cast<size_t>(labels[i]) >= k) continue;
        const size_t j = static_cast<size_t>(labels[i]);
        Top* t = top.data() + j * kMipsRankRows;
        const Top row{mips_squared_norm(x + i * d, d), i};
        size_t& c = count[j];
        if (c == kMipsRankRows && !better(row, t[c - 1])) continue;
        size_t at = c < kMipsRankRows ? c++ : c - 1;  // insertion sort of one row into a short list
        for (; at > 0 && better(row, t[at - 1]); --at) t[at] = t[at - 1];
        t[at] = row;
    }
    std::vector<double> sum(d);
    for (size_t j = 0; j < k; ++j) {
        float* o = out + j * d;
        if (count[j] == 0) {
            std::memcpy(o, centroids + j * d, d * sizeof(float));
            continue;
        }
        std::fill(sum.begin(), sum.end(), 0.0);
        for (size_t r = 0; r < count[j]; ++r) {
            const float* row = x + top[j * kMipsRankRows + r].second * d;
            for (size_t e = 0; e < d; ++e) sum[e] += row[e];
        }
        const float* c = centroids + j * d;
        for (size_t e = 0; e < d; ++e)
            o[e] = static_cast<float>(kMipsRankCentroidShare * c[e] +
                                      (1.0 - kMipsRankCentroidShare) * (sum[e] / static_cast<double>(count[j])));
    }
}

void assign_to_lists(Assigner& assigner, const float* x, size_t n, size_t d, const float* list_centroids, size_t k,
                     double max_norm2, int32_t* labels, float* dist2, const Hooks& hooks) {
    if (!(max_norm2 > 0.0)) {
        assigner.assign(x, n, list_centroids, k, d, labels, dist2, hooks);
        return;
    }
    std::vector<float> augmented(n * (d + 1));
    mips_augment_rows(x, d, n, d, max_norm2, augmented.data());
    assigner.assign(augmented.data(), n, list_centroids, k, d + 1, labels, dist2, hooks);
}

}  // namespace pg_ivf::core
