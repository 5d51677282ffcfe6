// CandidateQueue hands rows over in the order of one binary heap over all of
// them (a reference: std::set under the same total order), through adds in
// batches, pops, and pops whose key rose being pushed back, as ivfgettuple
// does with quick keys.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "core/candidates.h"

namespace pg_ivf::core {
namespace {

struct Row {
    float key;
    uint32_t id;
    bool raised;  // quick keys: the key was raised once (it then stays)
};
struct RowKey {
    float operator()(const Row& r) const { return r.key; }
};
struct RowBefore {
    bool operator()(const Row& a, const Row& b) const { return a.key != b.key ? a.key < b.key : a.id < b.id; }
};
using Queue = CandidateQueue<Row, RowKey, RowBefore>;
using Reference = std::set<Row, RowBefore>;

std::vector<Row> batch(std::mt19937_64& rng, size_t n, uint32_t* next_id, int distinct_keys) {
    std::uniform_int_distribution<int> k(0, distinct_keys - 1);
    std::vector<Row> rows(n);
    for (Row& r : rows) r = {static_cast<float>(k(rng)) * 0.25f, (*next_id)++, false};
    return rows;
}

TEST(CandidateQueue, SameOrderAsOneHeap) {
    std::mt19937_64 rng(61);
    for (size_t rows : {size_t(0), size_t(1), size_t(100), Queue::kHotRows * 4, Queue::kHotRows * 4 + 1, size_t(2300),
                        size_t(16000)})
        for (int distinct : {1, 7, 1000, 1 << 20})
            for (int batches : {1, 3}) {
                SCOPED_TRACE(testing::Message() << rows << " rows, " << distinct << " keys, " << batches << " batches");
                Queue q;
                Reference ref;
                uint32_t id = 0;
                size_t popped = 0;
                for (int b = 0; b < batches; ++b) {
                    std::vector<Row> add = batch(rng, rows, &id, distinct);
                    ref.insert(add.begin(), add.end());
                    if (b % 2 == 0)
                        q.add(add);
                    else
                        q.add(add.begin(), add.end());
                    // take a LIMIT's worth, or everything in the last batch
                    const size_t take = b + 1 == batches ? ref.size() : std::min<size_t>(ref.size(), 40);
                    for (size_t i = 0; i < take; ++i) {
                        ASSERT_FALSE(q.empty());
                        ASSERT_EQ(q.size(), ref.size());
                        ASSERT_EQ(q.top().id, ref.begin()->id) << "pop " << popped;
                        Row r = q.pop();
                        Row expect = *ref.begin();
                        ref.erase(ref.begin());
                        ASSERT_EQ(r.id, expect.id) << "pop " << popped;
                        ASSERT_EQ(r.key, expect.key);
                        ++popped;
                        // a quick key turned into its bound: up by up to 2 steps, then pushed back
                        if (!r.raised) {
                            r.key += static_cast<float>(r.id % 3) * 0.25f;
                            r.raised = true;
                            q.push(r);
                            ref.insert(r);
                            --i;
                        }
                    }
                }
                EXPECT_TRUE(q.empty());
                EXPECT_TRUE(ref.empty());
            }
}

// A row pushed back below the least cold row comes out first, and one pushed
// above it waits for the cold rows before it.
TEST(CandidateQueue, PushedRowsMeetColdRows) {
    const uint32_t n = 16 * Queue::kHotRows, m = 12 * Queue::kHotRows;
    std::vector<Row> rows;
    for (uint32_t i = 0; i < n; ++i) rows.push_back({static_cast<float>((i * 7919u) % n), (i * 7919u) % n, false});
    Queue q;
    q.add(rows);
    Row first = q.pop();
    EXPECT_EQ(first.id, 0u);
    first.key = static_cast<float>(m) + 0.5f;  // beyond every hot row and most cold ones
    q.push(first);
    for (uint32_t i = 1; i < n; ++i) {
        Row r = q.pop();
        if (i == m + 1) {
            EXPECT_EQ(r.id, 0u);
            r = q.pop();
        }
        EXPECT_EQ(r.id, i);
    }
    EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace pg_ivf::core
