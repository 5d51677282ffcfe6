// Recall calibration: the streamed exact neighbours equal a brute-force
// top-k (self excluded, any batching and thread count), the tiled filter keeps
// exactly the per-pair scalar result (both kernels), list ranks equal the
// count of nearer centroids, and the probes chosen for a target follow the
// sorted ranks with the documented margin.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/calibrate.h"
#include "core/distance.h"
#include "core/kmeans_math.h"
#include "test_rows.h"

namespace pg_ivf::core {
namespace {

using test_rows::gaussian_rows;
using test_rows::unit_rows;

double distance(Metric metric, const float* a, const float* b, size_t d) {
    double l2 = 0, ip = 0;
    for (size_t j = 0; j < d; ++j) {
        l2 += (static_cast<double>(a[j]) - b[j]) * (static_cast<double>(a[j]) - b[j]);
        ip += static_cast<double>(a[j]) * b[j];
    }
    return metric == Metric::kL2 ? l2 : -ip;
}

TEST(Calibrate, NeighboursMatchBruteForce) {
    const size_t d = 24, n = 700, q = 9, k = 10;
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine})
        for (int threads : {1, 3}) {
            std::vector<float> rows = gaussian_rows(n, d, 5);
            if (metric == Metric::kCosine) rows = unit_rows(rows, d);
            std::vector<uint64_t> ids(n);
            std::vector<int32_t> lists(n);
            for (size_t i = 0; i < n; ++i) {
                ids[i] = 1000 + 3 * i;
                lists[i] = static_cast<int32_t>(i % 7);
            }
            // queries are rows of the data: each must skip itself
            std::vector<float> queries;
            std::vector<uint64_t> qids;
            for (size_t i = 0; i < q; ++i) {
                const size_t r = i * 71 + 3;
                queries.insert(queries.end(), rows.begin() + r * d, rows.begin() + (r + 1) * d);
                qids.push_back(ids[r]);
            }
            NeighbourTracker tracker(metric, d, k, queries.data(), qids.data(), q);
            // uneven batches
            for (size_t from = 0, step = 1; from < n; from += step, step = step * 2 + 1) {
                const size_t m = std::min(step, n - from);
                tracker.add(rows.data() + from * d, ids.data() + from, lists.data() + from, m, threads, Hooks{});
            }
            for (size_t i = 0; i < q; ++i) {
                std::vector<std::pair<double, uint64_t>> all;
                for (size_t r = 0; r < n; ++r)
                    if (ids[r] != qids[i]) all.push_back({distance(metric, tracker.query(i), rows.data() + r * d, d), ids[r]});
                std::sort(all.begin(), all.end());
                const auto got = tracker.neighbours(i);
                ASSERT_EQ(got.size(), k);
                for (size_t j = 0; j < k; ++j) {
                    EXPECT_EQ(got[j].id, all[j].second) << "metric " << static_cast<int>(metric) << " query " << i;
                    EXPECT_EQ(got[j].list, lists[(got[j].id - 1000) / 3]);
                    EXPECT_NE(got[j].id, qids[i]);
                }
            }
        }
}

// The per-pair scalar top-k the tracker must reproduce: l2_squared / -dot on
// every pair, NaN skipped, self skipped, (dist, id) order.
std::vector<NeighbourTracker::Neighbour> scalar_top_k(Metric metric, const float* qv, uint64_t qid,
                                                      const std::vector<float>& rows,
                                                      const std::vector<uint64_t>& ids,
                                                      const std::vector<int32_t>& lists, size_t d, size_t k) {
    std::vector<NeighbourTracker::Neighbour> all;
    for (size_t r = 0; r < ids.size(); ++r) {
        if (ids[r] == qid) continue;
        const float* x = rows.data() + r * d;
        const float dist = metric == Metric::kL2 ? l2_squared(qv, x, d) : -dot(qv, x, d);
        if (!std::isnan(dist)) all.push_back({dist, ids[r], lists[r]});
    }
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
        return a.dist < b.dist || (a.dist == b.dist && a.id < b.id);
    });
    all.resize(std::min(all.size(), k));
    return all;
}

// The tile's ||q||^2 + ||x||^2 - 2 q.x form cancels badly far from the origin
// and cannot tell near-ties apart; as it only filters (with a rounding slack)
// the result must still be the scalar one, bit for bit, on data built to trip
// it: rows on a tiny sphere around a point far from the origin, exact
// duplicates (ties broken by id), a NaN row, raw inner product with spread norms.
TEST(Calibrate, TiledFilterEqualsScalarPairs) {
    const size_t d = 37, n = 1000, q = 21, k = 10;   // d, q: partial vectors and panels
    for (bool portable : {false, true})
        for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine})
            for (int threads : {1, 2}) {
                cpu_assign_force_portable(portable);
                std::vector<float> rows = gaussian_rows(n, d, 21);
                for (size_t i = 0; i < n; ++i)
                    for (size_t j = 0; j < d; ++j) {
                        float& v = rows[i * d + j];
                        if (metric == Metric::kL2) v = 1000.0f + 0.01f * v;      // cancellation
                        if (metric == Metric::kInnerProduct) v *= 1.0f + static_cast<float>(i % 13);
                    }
                if (metric == Metric::kCosine) rows = unit_rows(rows, d);
                for (size_t i = 500; i < 560; ++i)   // duplicates of earlier rows: exact ties
                    std::copy(rows.begin() + (i - 500) * d, rows.begin() + (i - 499) * d, rows.begin() + i * d);
                rows[777 * d + 5] = std::nanf("");
                std::vector<uint64_t> ids(n);
                std::vector<int32_t> lists(n);
                for (size_t i = 0; i < n; ++i) {
                    ids[i] = (i * 7919) % 100003;   // ids not in row order
                    lists[i] = static_cast<int32_t>(i % 5);
                }
                std::vector<float> queries;
                std::vector<uint64_t> qids;
                for (size_t i = 0; i < q; ++i) {
                    const size_t r = i * 47 + 2;   // includes rows with duplicates
                    queries.insert(queries.end(), rows.begin() + r * d, rows.begin() + (r + 1) * d);
                    qids.push_back(ids[r]);
                }
                NeighbourTracker tracker(metric, d, k, queries.data(), qids.data(), q);
                for (size_t from = 0; from < n; from += 333) {
                    const size_t m = std::min<size_t>(333, n - from);
                    tracker.add(rows.data() + from * d, ids.data() + from, lists.data() + from, m, threads,
                                Hooks{});
                }
                for (size_t i = 0; i < q; ++i) {
                    const auto want = scalar_top_k(metric, tracker.query(i), qids[i], rows, ids, lists, d, k);
                    const auto got = tracker.neighbours(i);
                    ASSERT_EQ(got.size(), want.size());
                    for (size_t j = 0; j < want.size(); ++j) {
                        SCOPED_TRACE(testing::Message() << "portable " << portable << " metric "
                                                        << static_cast<int>(metric) << " threads " << threads
                                                        << " query " << i << " rank " << j);
                        EXPECT_EQ(got[j].id, want[j].id);
                        EXPECT_EQ(got[j].dist, want[j].dist);
                        EXPECT_EQ(got[j].list, want[j].list);
                    }
                }
            }
    cpu_assign_force_portable(false);
}

TEST(Calibrate, FewerRowsThanK) {
    const size_t d = 4;
    std::vector<float> rows = gaussian_rows(3, d, 1);
    const uint64_t ids[3] = {1, 2, 3};
    const int32_t lists[3] = {0, 0, 0};
    NeighbourTracker tracker(Metric::kL2, d, 10, rows.data(), ids, 1);
    tracker.add(rows.data(), ids, lists, 3, 1, Hooks{});
    EXPECT_EQ(tracker.neighbours(0).size(), 2u);
}

TEST(Calibrate, RelistFindsMovedAndMissingRows) {
    const size_t d = 2;
    const float rows[8] = {0, 0, 1, 0, 2, 0, 3, 0};
    const uint64_t ids[4] = {10, 20, 30, 40};
    const int32_t lists[4] = {0, 0, 0, 0};
    NeighbourTracker tracker(Metric::kL2, d, 2, rows, ids, 1);
    tracker.add(rows, ids, lists, 4, 1, Hooks{});
    EXPECT_EQ(tracker.neighbour_ids(), (std::vector<uint64_t>{20, 30}));
    const uint64_t found[1] = {30};
    const int32_t found_lists[1] = {5};
    tracker.relist(found, found_lists, 1);
    const auto nb = tracker.neighbours(0);
    EXPECT_EQ(nb[0].list, -1);   // 20: gone from the index
    EXPECT_EQ(nb[1].list, 5);
}

TEST(Calibrate, RanksCountNearerCentroids) {
    const size_t d = 8, lists = 13, n = 400, q = 6, k = 5;
    const std::vector<float> cent = gaussian_rows(lists, d, 11);
    const std::vector<float> rows = gaussian_rows(n, d, 12);
    std::vector<uint64_t> ids(n);
    std::vector<int32_t> labels(n);
    for (size_t i = 0; i < n; ++i) {
        ids[i] = i;
        labels[i] = static_cast<int32_t>((i * 5) % lists);
    }
    NeighbourTracker tracker(Metric::kL2, d, k, rows.data(), ids.data(), q);
    tracker.add(rows.data(), ids.data(), labels.data(), n, 2, Hooks{});
    Codec codec;
    codec.kind = QuantizerKind::kFlat;
    codec.metric = Metric::kL2;
    codec.d = d;
    codec.residual = false;
    const std::vector<uint16_t> ranks = calibration_ranks(tracker, codec, cent.data(), lists, Hooks{});
    std::vector<uint16_t> expect;
    for (size_t i = 0; i < q; ++i)
        for (const auto& nb : tracker.neighbours(i)) {
            const double own = distance(Metric::kL2, rows.data() + i * d, cent.data() + nb.list * d, d);
            uint16_t nearer = 0;
            for (size_t c = 0; c < lists; ++c)
                nearer += distance(Metric::kL2, rows.data() + i * d, cent.data() + c * d, d) < own;
            expect.push_back(nearer);
        }
    std::sort(expect.begin(), expect.end());
    EXPECT_EQ(ranks, expect);
    EXPECT_TRUE(std::is_sorted(ranks.begin(), ranks.end()));
}

TEST(Calibrate, ProbesForTarget) {
    // 50 neighbours in the first list probed, 30 in the second, 20 in the sixth
    std::vector<uint16_t> ranks(50, 0);
    ranks.insert(ranks.end(), 30, 1);
    ranks.insert(ranks.end(), 20, 5);
    const size_t n = ranks.size();
    EXPECT_DOUBLE_EQ(calibrated_recall(ranks.data(), n, 1, 100), 0.5);
    EXPECT_DOUBLE_EQ(calibrated_recall(ranks.data(), n, 2, 100), 0.8);
    EXPECT_DOUBLE_EQ(calibrated_recall(ranks.data(), n, 5, 100), 0.8);
    EXPECT_DOUBLE_EQ(calibrated_recall(ranks.data(), n, 6, 100), 1.0);
    // margin sqrt(t (1 - t) / n): 0.3 -> 0.346 (35 found), 0.5 -> 0.55, 0.8 -> 0.84
    EXPECT_EQ(probes_for_recall(ranks.data(), n, 0.3, 100), 1u);
    EXPECT_EQ(probes_for_recall(ranks.data(), n, 0.5, 100), 2u);
    EXPECT_EQ(probes_for_recall(ranks.data(), n, 0.78, 100), 6u);   // 0.78 + 0.041 > 0.8
    EXPECT_EQ(probes_for_recall(ranks.data(), n, 0.8, 100), 6u);
    EXPECT_EQ(probes_for_recall(ranks.data(), n, 1.0, 100), 6u);
    EXPECT_EQ(probes_for_recall(ranks.data(), n, 0.9, 4), 4u);      // capped by lists
    EXPECT_EQ(probes_for_recall(ranks.data(), 0, 0.9, 100), 0u);   // no calibration
    EXPECT_EQ(probes_for_recall(ranks.data(), n, 0.0, 100), 1u);    // at least one list
}

TEST(Calibrate, RankBeyondCountsOnlyWithEveryList) {
    const uint16_t ranks[4] = {0, 1, kCalibRankBeyond, kCalibRankBeyond};
    EXPECT_DOUBLE_EQ(calibrated_recall(ranks, 4, 70000, 80000), 0.5);
    EXPECT_DOUBLE_EQ(calibrated_recall(ranks, 4, 80000, 80000), 1.0);
    EXPECT_EQ(probes_for_recall(ranks, 4, 0.9, 80000), 80000u);
}

TEST(Calibrate, Cancels) {
    const float row[2] = {0, 0};
    const uint64_t id = 1;
    const int32_t list = 0;
    NeighbourTracker tracker(Metric::kL2, 2, 1, row, &id, 1);
    Hooks hooks;
    hooks.should_cancel = [] { return true; };
    EXPECT_THROW(tracker.add(row, &id, &list, 1, 1, hooks), Cancelled);
}

}  // namespace
}  // namespace pg_ivf::core
