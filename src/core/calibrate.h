// Recall calibration: for a few query rows of an index, the exact k nearest
// other rows and the rank of each neighbour's list in the order a scan probes
// lists, so that recall at `probes` p is the share of neighbours whose list
// ranks below p (the scan is exact among the lists it probes; ties aside).
#pragma once
#ifdef POSTGRES_H
#error "src/core headers must not be included after postgres.h"
#endif

#include <cstddef>
#include <cstdint>
#include <vector>

#include "codec.h"
#include "hooks.h"
#include "tile.h"

namespace pg_ivf::core {

// The rank stored for a neighbour whose list ranks at or beyond it (an index
// of more lists than a uint16 counts): read as "only every list finds it".
constexpr uint16_t kCalibRankBeyond = 0xFFFF;

// Exact k nearest neighbours of q query rows among rows streamed in batches,
// by the index's metric on prepared rows (unit length under cosine).  Each
// query skips the row whose id equals its own; a NaN distance is skipped.
// The neighbours, their order and their distances are those of l2_squared()
// / -dot() on every (query, row) pair, ties broken by the lower id, whatever
// the batching and thread count: a tile of all pairs only filters, with a
// rounding slack (see add()), and the pairs it keeps are measured that way.
class NeighbourTracker {
public:
    struct Neighbour {
        float dist;            // L2 squared, or -dot (IP, cosine): smaller is nearer
        uint64_t id;
        int32_t list;
    };
    // queries: q * d, copied; ids: q.
    NeighbourTracker(Metric metric, size_t d, size_t k, const float* queries, const uint64_t* ids, size_t q);
    // Offers n rows (n * d) with their ids and lists to every query; threads
    // through parallel_for over groups of queries; polls hooks once per call.
    void add(const float* rows, const uint64_t* ids, const int32_t* lists, size_t n, int threads,
             const Hooks& hooks);
    size_t queries() const { return q_; }
    size_t k() const { return k_; }
    const float* query(size_t i) const { return queries_.data() + i * d_; }
    // Query i's neighbours found so far, nearest first (at most k).
    std::vector<Neighbour> neighbours(size_t i) const;
    // Sets the list of every neighbour whose id is in ids (sorted ascending)
    // to the matching lists[j]; neighbours not found get list -1.
    void relist(const uint64_t* ids, const int32_t* lists, size_t n);
    // Every neighbour id, sorted and unique (to look their lists up).
    std::vector<uint64_t> neighbour_ids() const;
private:
    Metric metric_;
    size_t d_, k_, q_;
    std::vector<float> queries_;
    std::vector<uint64_t> ids_;
    std::vector<std::vector<Neighbour>> heaps_;   // per query: max-heap on dist, size <= k
    // the tiled filter: queries packed once, their norms (not squared), and
    // the slack's relative factor and absolute term (add())
    PackedPanels panels_;
    std::vector<float> query_norms_;
    float slack_rel_, slack_abs_;

    struct Scratch;
    void scan_block(const float* rows, const uint64_t* ids, const int32_t* lists, size_t n,
                    Scratch& s) const;
};

// The rank (0 = probed first) of each neighbour's list in the order
// nearest_lists() gives the query, for every query of the tracker; neighbours
// with list < 0 are left out.  Sorted ascending; ranks >= kCalibRankBeyond
// are stored as kCalibRankBeyond.  The scanner is built from `codec`, as a
// scan builds it, so the order is the scan's.
std::vector<uint16_t> calibration_ranks(const NeighbourTracker& tracker, const Codec& codec,
                                        const float* centroids, size_t lists, const Hooks& hooks);

// Recall at `probes` from sorted ranks (n of them): the share below probes.
// This and probes_for_recall() never throw: scans call them outside IvfGuard.
double calibrated_recall(const uint16_t* ranks, size_t n, size_t probes, size_t lists) noexcept;

// The smallest probes (1..lists) whose calibrated recall reaches target plus
// one binomial standard error of the estimate, sqrt(t (1 - t) / n): the
// calibration sees n neighbours of a few queries, and the margin makes it
// likely that other queries meet the target too.  0 when n == 0.
size_t probes_for_recall(const uint16_t* ranks, size_t n, double target, size_t lists) noexcept;

}  // namespace pg_ivf::core
