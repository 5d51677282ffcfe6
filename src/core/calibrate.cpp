// Recall calibration (see calibrate.h).
#include "calibrate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "distance.h"
#include "parallel.h"

namespace pg_ivf::core {

namespace {

// Rows a thread takes at a time: its 6-row tiles stay in L1 while they meet
// every packed query, and the packed queries (100 x 784 floats: 350 KB) in L2.
constexpr size_t kRowsPerBlock = 240;
static_assert(kRowsPerBlock % kTileRows == 0, "blocks hold whole tiles");

bool nearer(const NeighbourTracker::Neighbour& a, const NeighbourTracker::Neighbour& b) {
    return a.dist < b.dist || (a.dist == b.dist && a.id < b.id);
}

// Offers cand to a max-heap (on nearer) of at most k.
void offer(std::vector<NeighbourTracker::Neighbour>& heap, const NeighbourTracker::Neighbour& cand, size_t k) {
    if (heap.size() < k) {
        heap.push_back(cand);
        std::push_heap(heap.begin(), heap.end(), nearer);
    } else if (nearer(cand, heap.front())) {
        std::pop_heap(heap.begin(), heap.end(), nearer);
        heap.back() = cand;
        std::push_heap(heap.begin(), heap.end(), nearer);
    }
}

}  // namespace

// One thread's share of a batch: per query, the nearest of its rows that
// could still enter the query's heap, and the distance a row must not exceed
// to be one of them (the k-th of the heap or of these, when full).
struct NeighbourTracker::Scratch {
    std::vector<std::vector<Neighbour>> heaps;
    std::vector<float> bound;
};

NeighbourTracker::NeighbourTracker(Metric metric, size_t d, size_t k, const float* queries, const uint64_t* ids,
                                   size_t q)
    : metric_(metric), d_(d), k_(k), q_(q), queries_(queries, queries + q * d), ids_(ids, ids + q), heaps_(q) {
    if (k == 0 || d == 0) throw std::invalid_argument("calibration needs k > 0 and d > 0");
    for (auto& h : heaps_) h.reserve(k);
    panels_ = pack_panels(queries_.data(), q, d);
    query_norms_.assign(panels_.panels * kTileCols, 0.0f);  // padded as the panels
    for (size_t i = 0; i < q; ++i) query_norms_[i] = std::sqrt(panels_.norms[i]);
    // The tile's value a (L2: fl(||q||^2) + fl(||x||^2) - 2 fl(<q, x>); IP and
    // cosine: -fl(<q, x>)) and the exact s (l2_squared, -dot) are each within
    // gamma_{d+2} (||q|| + ||x||)^2 plus d 2^-147 of the true value (bounds.h
    // (F1): float sums in any order), so |a - s| is below half this slack;
    // the other half absorbs the rounding of the norms, of the slack and of
    // the comparison itself.  A pair with a > bound + slack has s > bound and
    // cannot enter a full heap: skipping it changes nothing.
    slack_rel_ = static_cast<float>(4.0 * (static_cast<double>(d) + 4.0) * 0x1p-24);
    slack_abs_ = static_cast<float>(static_cast<double>(d) * 0x1p-140);
}

// Tiles of 6 rows against every packed query; the pairs that pass the filter
// get their exact distance and go through the heaps' own rule.
void NeighbourTracker::scan_block(const float* rows, const uint64_t* ids, const int32_t* lists, size_t n,
                                  Scratch& s) const {
    float tile[kTileRows * kTileCols];
    for (size_t m0 = 0; m0 < n; m0 += kTileRows) {
        const size_t m = std::min(kTileRows, n - m0);
        const float* rp[kTileRows];
        float norm2[kTileRows], norm[kTileRows];
        for (size_t r = 0; r < kTileRows; ++r) rp[r] = rows + (m0 + std::min(r, m - 1)) * d_;  // short tile: repeats
        for (size_t r = 0; r < m; ++r) {
            norm2[r] = tile_squared_norm(rp[r], d_);
            norm[r] = std::sqrt(norm2[r]);
        }
        for (size_t p = 0; p < panels_.panels; ++p) {
            tile_dot(rp, panels_.data.data() + p * d_ * kTileCols, d_, tile);
            const size_t i0 = p * kTileCols, i1 = std::min(q_, i0 + kTileCols);
            // The filter over a whole row of the tile at once, branch-free so
            // that it vectorizes; the padding columns (past q_) are computed
            // and never read.
            const float* qn2 = panels_.norms.data() + i0;
            const float* qn = query_norms_.data() + i0;
            const float* bound = s.bound.data() + i0;
            for (size_t r = 0; r < m; ++r) {
                const float* t = tile + r * kTileCols;
                float approx[kTileCols];
                uint8_t pass[kTileCols];
                if (metric_ == Metric::kL2)
                    for (size_t c = 0; c < kTileCols; ++c) approx[c] = qn2[c] + norm2[r] - 2.0f * t[c];
                else
                    for (size_t c = 0; c < kTileCols; ++c) approx[c] = -t[c];
                for (size_t c = 0; c < kTileCols; ++c) {
                    const float reach = qn[c] + norm[r];
                    // NaN or infinite terms fail this test and are measured exactly
                    pass[c] = !(approx[c] > bound[c] + (slack_rel_ * reach * reach + slack_abs_));
                }
                for (size_t i = i0; i < i1; ++i) {
                    if (!pass[i - i0]) continue;
                    const size_t j = m0 + r;
                    if (ids[j] == ids_[i]) continue;
                    const float* qv = query(i);
                    const float dist = metric_ == Metric::kL2 ? l2_squared(qv, rp[r], d_) : -dot(qv, rp[r], d_);
                    if (std::isnan(dist)) continue;
                    const Neighbour cand{dist, ids[j], lists[j]};
                    if (heaps_[i].size() == k_ && !nearer(cand, heaps_[i].front())) continue;
                    std::vector<Neighbour>& local = s.heaps[i];
                    offer(local, cand, k_);
                    if (local.size() == k_) s.bound[i] = std::min(s.bound[i], local.front().dist);
                }
            }
        }
    }
}

void NeighbourTracker::add(const float* rows, const uint64_t* ids, const int32_t* lists, size_t n, int threads,
                           const Hooks& hooks) {
    if (hooks.cancelled()) throw Cancelled();
    if (n == 0 || q_ == 0) return;
    // Threads take blocks of rows and keep their own candidates, read-only
    // against the shared heaps; the merge after the region makes the top k
    // the same for any split, as the order (dist, id) is total.
    const size_t blocks = (n + kRowsPerBlock - 1) / kRowsPerBlock;
    const size_t team = std::min(blocks, static_cast<size_t>(std::max(threads, 1)));
    std::vector<Scratch> scratch(team);
    for (Scratch& s : scratch) {
        s.heaps.resize(q_);
        s.bound.assign(panels_.panels * kTileCols, std::numeric_limits<float>::infinity());  // padded as the panels
        for (size_t i = 0; i < q_; ++i)
            s.bound[i] = heaps_[i].size() < k_ ? std::numeric_limits<float>::infinity() : heaps_[i].front().dist;
    }
    parallel_for(blocks, threads, [&](size_t b, int thread) {
        const size_t r0 = b * kRowsPerBlock;
        scan_block(rows + r0 * d_, ids + r0, lists + r0, std::min(kRowsPerBlock, n - r0),
                   scratch[static_cast<size_t>(thread)]);
    });
    for (const Scratch& s : scratch)
        for (size_t i = 0; i < q_; ++i)
            for (const Neighbour& nb : s.heaps[i]) offer(heaps_[i], nb, k_);
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
