// Recall calibration (see calibrate.h).
#include "calibrate.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "distance.h"
#include "parallel.h"

namespace pg_ivf::core {

namespace {

bool nearer(const NeighbourTracker::Neighbour& a, const NeighbourTracker::Neighbour& b) {
    return a.dist < b.dist || (a.dist == b.dist && a.id < b.id);
}

}  // namespace

NeighbourTracker::NeighbourTracker(Metric metric, size_t d, size_t k, const float* queries, const uint64_t* ids,
                                   size_t q)
    : metric_(metric), d_(d), k_(k), q_(q), queries_(queries, queries + q * d), ids_(ids, ids + q), heaps_(q) {
    if (k == 0 || d == 0) throw std::invalid_argument("calibration needs k > 0 and d > 0");
    for (auto& h : heaps_) h.reserve(k);
}

void NeighbourTracker::add(const float* rows, const uint64_t* ids, const int32_t* lists, size_t n, int threads,
                           const Hooks& hooks) {
    if (hooks.cancelled()) throw Cancelled();
    if (n == 0 || q_ == 0) return;
    // Threads take groups of queries, so each owns its queries' heaps and
    // nothing is shared; each group reads the rows in blocks that stay in
    // cache while every query of the group visits them (a batch of rows is
    // megabytes: read once per query it would be memory-bound).
    constexpr size_t kQueriesPerGroup = 16;
    constexpr size_t kRowsPerBlock = 32;
    const size_t groups = (q_ + kQueriesPerGroup - 1) / kQueriesPerGroup;
    parallel_for(groups, threads, [&](size_t g, int) {
        const size_t q_end = std::min(q_, (g + 1) * kQueriesPerGroup);
        for (size_t r0 = 0; r0 < n; r0 += kRowsPerBlock) {
            const size_t r_end = std::min(n, r0 + kRowsPerBlock);
            for (size_t i = g * kQueriesPerGroup; i < q_end; ++i) {
                const float* qv = query(i);
                std::vector<Neighbour>& heap = heaps_[i];
                for (size_t j = r0; j < r_end; ++j) {
                    if (ids[j] == ids_[i]) continue;
                    const float* x = rows + j * d_;
                    const float dist = metric_ == Metric::kL2 ? l2_squared(qv, x, d_) : -dot(qv, x, d_);
                    if (std::isnan(dist)) continue;
                    const Neighbour cand{dist, ids[j], lists[j]};
                    if (heap.size() < k_) {
                        heap.push_back(cand);
                        std::push_heap(heap.begin(), heap.end(), nearer);
                    } else if (nearer(cand, heap.front())) {
                        std::pop_heap(heap.begin(), heap.end(), nearer);
                        heap.back() = cand;
                        std::push_heap(heap.begin(), heap.end(), nearer);
                    }
                }
            }
        }
    });
}

std::vector<NeighbourTracker::Neighbour> NeighbourTracker::neighbours(size_t i) const {
    std::vector<Neighbour> out = heaps_[i];
    std::sort(out.begin(), out.end(), nearer);
    return out;
}

std::vector<uint64_t> NeighbourTracker::neighbour_ids() const {
    std::vector<uint64_t> out;
    for (const auto& h : heaps_)
        for (const Neighbour& nb : h) out.push_back(nb.id);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

void NeighbourTracker::relist(const uint64_t* ids, const int32_t* lists, size_t n) {
    for (auto& h : heaps_)
        for (Neighbour& nb : h) {
            const uint64_t* it = std::lower_bound(ids, ids + n, nb.id);
            nb.list = (it != ids + n && *it == nb.id) ? lists[it - ids] : -1;
        }
}

std::vector<uint16_t> calibration_ranks(const NeighbourTracker& tracker, const Codec& codec,
                                        const float* centroids, size_t lists, const Hooks& hooks) {
    std::vector<uint16_t> ranks;
    std::vector<uint32_t> rank_of(lists);
    ranks.reserve(tracker.queries() * tracker.k());
    for (size_t i = 0; i < tracker.queries(); ++i) {
        if (hooks.cancelled()) throw Cancelled();
        QueryScanner scanner(codec, tracker.query(i));
        const std::vector<int32_t> order = nearest_lists(scanner, centroids, lists, codec.d, lists);
        for (size_t r = 0; r < order.size(); ++r) rank_of[static_cast<size_t>(order[r])] = static_cast<uint32_t>(r);
        for (const auto& nb : tracker.neighbours(i)) {
            if (nb.list < 0 || static_cast<size_t>(nb.list) >= lists) continue;
            const uint32_t r = rank_of[static_cast<size_t>(nb.list)];
            ranks.push_back(static_cast<uint16_t>(std::min<uint32_t>(r, kCalibRankBeyond)));
        }
    }
    std::sort(ranks.begin(), ranks.end());
    return ranks;
}

double calibrated_recall(const uint16_t* ranks, size_t n, size_t probes, size_t lists) noexcept {
    if (n == 0) return 0.0;
    if (probes >= lists) return 1.0;
    // a rank stored as kCalibRankBeyond may be any rank up to lists - 1
    const size_t below = probes >= kCalibRankBeyond ? kCalibRankBeyond : probes;
    const size_t found = static_cast<size_t>(std::lower_bound(ranks, ranks + n, below) - ranks);
    return static_cast<double>(found) / static_cast<double>(n);
}

size_t probes_for_recall(const uint16_t* ranks, size_t n, double target, size_t lists) noexcept {
    if (n == 0 || lists == 0) return 0;
    const double t = std::clamp(target, 0.0, 1.0);
    const double wanted = std::min(1.0, t + std::sqrt(t * (1.0 - t) / static_cast<double>(n)));
    // neighbours that must be found; the epsilon keeps 0.9 * 1000 from rounding up to 901
    size_t m = static_cast<size_t>(std::ceil(wanted * static_cast<double>(n) - 1e-9));
    m = std::clamp<size_t>(m, 1, n);
    const uint16_t r = ranks[m - 1];
    if (r == kCalibRankBeyond) return lists;
    return std::min<size_t>(static_cast<size_t>(r) + 1, lists);
}

}  // namespace pg_ivf::core
