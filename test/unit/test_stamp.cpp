// CHAIN STAMPS (src/core/stamp.h): a scan of list j of the model of
// generation g reads the pages of chains of list j born at or before g, and
// no page of another list or of a chain of list j born after g, across the
// birth field's wrap-around.
#include <gtest/gtest.h>

#include <vector>

#include "core/stamp.h"

namespace pg_ivf::core {
namespace {

TEST(Stamp, NeverZeroAndKeepsTheList) {
    for (uint64_t birth : std::vector<uint64_t>{0, 1, 2, kStampBirths - 1u, kStampBirths, kStampBirths + 1u,
                                                uint64_t(1) << 40})
        for (int list : {0, 1, 99999, (1 << kStampListBits) - 1}) {
            uint32_t s = chain_stamp(birth, list);
            EXPECT_NE(s, 0u);
            EXPECT_EQ((int) (s & ((1u << kStampListBits) - 1)), list);
        }
}

TEST(Stamp, ReadableByItsModelAndLaterOnes) {
    for (uint64_t birth : std::vector<uint64_t>{0, 5, kStampBirths - 3u, uint64_t(3) * kStampBirths + 7}) {
        uint32_t s = chain_stamp(birth, 42);
        EXPECT_TRUE(stamp_readable(s, birth, 42));
        EXPECT_TRUE(stamp_readable(s, birth + 1, 42));
        EXPECT_TRUE(stamp_readable(s, birth + 10, 42));
        EXPECT_TRUE(stamp_readable(s, birth + kStampBirths / 2, 42));
        // an older model (a retired structure's scan) never reads a chain born after it
        if (birth > 0) EXPECT_FALSE(stamp_readable(s, birth - 1, 42));
        if (birth >= 10) EXPECT_FALSE(stamp_readable(s, birth - 10, 42));
        // nor another list's page, whatever its birth
        EXPECT_FALSE(stamp_readable(s, birth, 41));
        EXPECT_FALSE(stamp_readable(s, birth + 1, 43));
    }
}

TEST(Stamp, ZeroIsNoChain) {
    for (uint64_t g : std::vector<uint64_t>{0, 1, 1000})
        for (int list : {0, 1, 7}) EXPECT_FALSE(stamp_readable(0, g, list));
}

// A page freed from a retired chain of list j and taken by a chain of list j
// started in a later model is refused by a scan of the retired model.
TEST(Stamp, SameListNewerBirthRefused) {
    for (uint64_t g : std::vector<uint64_t>{0, 1, kStampBirths - 1u, kStampBirths, uint64_t(10) * kStampBirths + 3})
        for (uint64_t later = 1; later <= 100; later++)
            EXPECT_FALSE(stamp_readable(chain_stamp(g + later, 9), g, 9)) << g << " " << later;
}

}  // namespace
}  // namespace pg_ivf::core
