// Backoff curve: each delay within [0.75, 1.5] x the current step, capped;
// steps double up to the cap; reset returns to the start.
#include <gtest/gtest.h>

extern "C" {
#include "net/backoff.h"
}

TEST(Backoff, BoundsAndDoubling)
{
    for (uint64_t seed = 1; seed <= 50; seed++) {
        mq_backoff_t b;
        mq__backoff_init(&b, 100, 10000, seed);
        int64_t cur = 100;
        for (int i = 0; i < 20; i++) {
            int64_t d = mq__backoff_next(&b);
            int64_t lo = cur * 3 / 4;
            int64_t hi = cur * 3 / 2;
            if (hi > 10000)
                hi = 10000;
            if (lo > 10000)
                lo = 10000;
            ASSERT_GE(d, lo) << "seed " << seed << " step " << i;
            ASSERT_LE(d, hi) << "seed " << seed << " step " << i;
            cur = cur * 2 > 10000 ? 10000 : cur * 2;
        }
        // Long since capped: every delay is in [7500, 10000].
        EXPECT_EQ(b.cur_ms, 10000);
    }
}

TEST(Backoff, JitterSpreadsDelays)
{
    int64_t min = INT64_MAX, max = 0;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        mq_backoff_t b;
        mq__backoff_init(&b, 1000, 100000, seed * 7919);
        int64_t d = mq__backoff_next(&b);
        min = d < min ? d : min;
        max = d > max ? d : max;
    }
    EXPECT_LT(min, 850);  // near 750
    EXPECT_GT(max, 1400); // near 1500
}

TEST(Backoff, ResetStartsOver)
{
    mq_backoff_t b;
    mq__backoff_init(&b, 100, 10000, 3);
    for (int i = 0; i < 10; i++)
        mq__backoff_next(&b);
    mq__backoff_reset(&b);
    int64_t d = mq__backoff_next(&b);
    EXPECT_GE(d, 75);
    EXPECT_LE(d, 150);
}

TEST(Backoff, ZeroInitialStaysZeroAndMaxBelowInitialIsRaised)
{
    mq_backoff_t b;
    mq__backoff_init(&b, 0, 0, 1);
    EXPECT_EQ(mq__backoff_next(&b), 0);
    EXPECT_EQ(mq__backoff_next(&b), 0);
    mq__backoff_init(&b, 500, 100, 1);
    int64_t d = mq__backoff_next(&b);
    EXPECT_LE(d, 500);
    EXPECT_GE(d, 375);
}
