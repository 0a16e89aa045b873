// Idempotent-producer state: id allocation and epochs; per-partition
// sequence checks (append, duplicate with original offsets, gap, fenced).
#include <gtest/gtest.h>

extern "C" {
#include "producers.h"
}

TEST(ProducerIds, NewIdsAndEpochBumps)
{
    producer_ids_t *ids = producer_ids_new(1000);
    int64_t pid;
    int16_t epoch;
    ASSERT_EQ(producer_ids_init(ids, -1, -1, &pid, &epoch), MQ_OK);
    EXPECT_EQ(pid, 1000);
    EXPECT_EQ(epoch, 0);
    int64_t pid2;
    ASSERT_EQ(producer_ids_init(ids, -1, -1, &pid2, &epoch), MQ_OK);
    EXPECT_EQ(pid2, 1001);
    EXPECT_EQ(producer_ids_next(ids), 1002);

    ASSERT_EQ(producer_ids_init(ids, pid, 0, &pid, &epoch), MQ_OK);
    EXPECT_EQ(pid, 1000);
    EXPECT_EQ(epoch, 1);
    // The old epoch is fenced now.
    EXPECT_EQ(producer_ids_init(ids, pid, 0, &pid, &epoch), MQ_ERR_PRODUCER_FENCED);
    EXPECT_EQ(producer_ids_init(ids, 5000, 0, &pid, &epoch), MQ_ERR_UNKNOWN_PRODUCER);
    EXPECT_EQ(producer_ids_init(ids, -1, 3, &pid, &epoch), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(producer_ids_init(ids, 1000, -1, &pid, &epoch), MQ_ERR_INVALID_ARG);
    // An id from before a restart continues from the epoch it brings.
    ASSERT_EQ(producer_ids_init(ids, 7, 3, &pid, &epoch), MQ_OK);
    EXPECT_EQ(pid, 7);
    EXPECT_EQ(epoch, 4);
    EXPECT_EQ(producer_ids_init(ids, 7, 3, &pid, &epoch), MQ_ERR_PRODUCER_FENCED);
    // Epoch exhausted: a fresh id.
    ASSERT_EQ(producer_ids_init(ids, 8, PRODUCERS_EPOCH_MAX, &pid, &epoch), MQ_OK);
    EXPECT_EQ(pid, 1002);
    EXPECT_EQ(epoch, 0);
    producer_ids_free(ids);
}

TEST(PartitionProducers, NotIdempotentAlwaysAppends)
{
    partition_producers_t *pp = partition_producers_new();
    EXPECT_EQ(producers_check(pp, -1, -1, -1, 10, NULL), PRODUCER_CHECK_APPEND);
    EXPECT_EQ(producers_record(pp, -1, -1, -1, 10, 0, -1), MQ_OK);
    EXPECT_EQ(producers_count(pp), 0u);
    partition_producers_free(pp);
}

TEST(PartitionProducers, SequenceDuplicateGapFence)
{
    partition_producers_t *pp = partition_producers_new();
    const int64_t pid = 42;
    EXPECT_EQ(producers_check(pp, pid, 0, 5, 1, NULL), PRODUCER_CHECK_UNKNOWN);
    ASSERT_EQ(producers_check(pp, pid, 0, 0, 10, NULL), PRODUCER_CHECK_APPEND);
    ASSERT_EQ(producers_record(pp, pid, 0, 0, 10, 100, 1), MQ_OK);
    // Next in sequence appends; the same batch again is a duplicate with its offsets.
    ASSERT_EQ(producers_check(pp, pid, 0, 10, 5, NULL), PRODUCER_CHECK_APPEND);
    ASSERT_EQ(producers_record(pp, pid, 0, 10, 5, 110, 2), MQ_OK);
    producer_batch_ref_t dup = {};
    ASSERT_EQ(producers_check(pp, pid, 0, 0, 10, &dup), PRODUCER_CHECK_DUPLICATE);
    EXPECT_EQ(dup.base_offset, 100);
    EXPECT_EQ(dup.append_time_ms, 1);
    ASSERT_EQ(producers_check(pp, pid, 0, 10, 5, &dup), PRODUCER_CHECK_DUPLICATE);
    EXPECT_EQ(dup.base_offset, 110);
    // A gap, and an overlapping batch that is not one we stored.
    EXPECT_EQ(producers_check(pp, pid, 0, 16, 1, NULL), PRODUCER_CHECK_OUT_OF_ORDER);
    EXPECT_EQ(producers_check(pp, pid, 0, 12, 3, NULL), PRODUCER_CHECK_OUT_OF_ORDER);
    EXPECT_EQ(producer_check_error(PRODUCER_CHECK_OUT_OF_ORDER), MQ_ERR_OUT_OF_ORDER_SEQUENCE);
    // A newer epoch starts over at 0 and fences the old one.
    EXPECT_EQ(producers_check(pp, pid, 1, 15, 1, NULL), PRODUCER_CHECK_OUT_OF_ORDER);
    ASSERT_EQ(producers_check(pp, pid, 1, 0, 1, NULL), PRODUCER_CHECK_APPEND);
    ASSERT_EQ(producers_record(pp, pid, 1, 0, 1, 200, -1), MQ_OK);
    EXPECT_EQ(producers_check(pp, pid, 0, 15, 1, NULL), PRODUCER_CHECK_FENCED);
    EXPECT_EQ(producer_check_error(PRODUCER_CHECK_FENCED), MQ_ERR_PRODUCER_FENCED);
    EXPECT_EQ(producers_check(pp, pid, 1, 0, 1, &dup), PRODUCER_CHECK_DUPLICATE);
    EXPECT_EQ(dup.base_offset, 200);
    partition_producers_free(pp);
}

TEST(PartitionProducers, KeepsLastFiveBatches)
{
    partition_producers_t *pp = partition_producers_new();
    for (int i = 0; i < 8; i++)
        ASSERT_EQ(producers_record(pp, 1, 0, i * 2, 2, 1000 + i * 2, -1), MQ_OK);
    // Batches 3..7 are remembered; 0..2 are not (a retry that old is a gap).
    for (int i = 3; i < 8; i++) {
        producer_batch_ref_t dup;
        ASSERT_EQ(producers_check(pp, 1, 0, i * 2, 2, &dup), PRODUCER_CHECK_DUPLICATE) << i;
        EXPECT_EQ(dup.base_offset, 1000 + i * 2);
    }
    EXPECT_EQ(producers_check(pp, 1, 0, 4, 2, NULL), PRODUCER_CHECK_OUT_OF_ORDER);
    EXPECT_EQ(producers_check(pp, 1, 0, 16, 2, NULL), PRODUCER_CHECK_APPEND);
    partition_producers_free(pp);
}

TEST(PartitionProducers, SequenceWrapsAndManyProducers)
{
    partition_producers_t *pp = partition_producers_new();
    ASSERT_EQ(producers_record(pp, 9, 0, 0, 1, 0, -1), MQ_OK);
    ASSERT_EQ(producers_record(pp, 9, 0, INT32_MAX - 1, 2, 5, -1), MQ_OK);
    EXPECT_EQ(producers_check(pp, 9, 0, 0, 3, NULL), PRODUCER_CHECK_APPEND);
    // Many producers on one partition, each with its own sequence.
    for (int64_t pid = 100; pid < 1100; pid++)
        ASSERT_EQ(producers_record(pp, pid, 0, 0, 1, pid, -1), MQ_OK);
    EXPECT_EQ(producers_count(pp), 1001u);
    for (int64_t pid = 100; pid < 1100; pid++) {
        producer_batch_ref_t dup;
        ASSERT_EQ(producers_check(pp, pid, 0, 0, 1, &dup), PRODUCER_CHECK_DUPLICATE);
        ASSERT_EQ(dup.base_offset, pid);
        ASSERT_EQ(producers_check(pp, pid, 0, 1, 1, NULL), PRODUCER_CHECK_APPEND);
    }
    partition_producers_free(pp);
}

TEST(ProducerIds, StopAtTheReservedLimit)
{
    producer_ids_t *ids = producer_ids_new(10);
    ASSERT_NE(ids, nullptr);
    producer_ids_set_limit(ids, 12);
    EXPECT_EQ(producer_ids_remaining(ids), 2);
    int64_t pid;
    int16_t epoch;
    ASSERT_EQ(producer_ids_init(ids, -1, -1, &pid, &epoch), MQ_OK);
    EXPECT_EQ(pid, 10);
    ASSERT_EQ(producer_ids_init(ids, -1, -1, &pid, &epoch), MQ_OK);
    EXPECT_EQ(pid, 11);
    EXPECT_EQ(producer_ids_remaining(ids), 0);
    // Out of reserved ids: a new id must wait; bumping a known one need not.
    EXPECT_EQ(producer_ids_init(ids, -1, -1, &pid, &epoch), PRODUCER_IDS_EXHAUSTED);
    ASSERT_EQ(producer_ids_init(ids, 11, 0, &pid, &epoch), MQ_OK);
    EXPECT_EQ(epoch, 1);
    producer_ids_set_limit(ids, 11); // lower: ignored
    EXPECT_EQ(producer_ids_init(ids, -1, -1, &pid, &epoch), PRODUCER_IDS_EXHAUSTED);
    producer_ids_set_limit(ids, 20);
    ASSERT_EQ(producer_ids_init(ids, -1, -1, &pid, &epoch), MQ_OK);
    EXPECT_EQ(pid, 12);
    EXPECT_EQ(producer_ids_remaining(ids), 7);
    producer_ids_free(ids);
}

TEST(PartitionProducers, IdleProducersExpire)
{
    partition_producers_t *pp = partition_producers_new();
    ASSERT_NE(pp, nullptr);
    // 100 producers, one batch each at time 1000 + pid.
    for (int64_t pid = 0; pid < 100; pid++)
        ASSERT_EQ(producers_record(pp, pid, 0, 0, 1, pid, 1000 + pid), MQ_OK);
    EXPECT_EQ(producers_expire(pp, 1000), 0u);
    // Producer 7 writes again later: it stays.
    ASSERT_EQ(producers_record(pp, 7, 0, 1, 1, 500, 5000), MQ_OK);
    EXPECT_EQ(producers_expire(pp, 1050), 49u); // pids 0..49 but 7
    EXPECT_EQ(producers_count(pp), 51u);
    producer_batch_ref_t dup;
    EXPECT_EQ(producers_check(pp, 3, 0, 1, 1, nullptr), PRODUCER_CHECK_UNKNOWN);
    ASSERT_EQ(producers_check(pp, 7, 0, 1, 1, &dup), PRODUCER_CHECK_DUPLICATE);
    EXPECT_EQ(dup.base_offset, 500);
    // Every survivor is still found after the table was rebuilt.
    for (int64_t pid = 50; pid < 100; pid++)
        ASSERT_EQ(producers_check(pp, pid, 0, 0, 1, nullptr), PRODUCER_CHECK_DUPLICATE) << pid;
    // Touching keeps everyone past a later expiry.
    producers_touch_all(pp, 9000);
    EXPECT_EQ(producers_expire(pp, 8000), 0u);
    EXPECT_EQ(producers_expire(pp, 9001), 51u);
    EXPECT_EQ(producers_count(pp), 0u);
    ASSERT_EQ(producers_record(pp, 3, 0, 0, 1, 9, 9500), MQ_OK);
    EXPECT_EQ(producers_count(pp), 1u);
    partition_producers_free(pp);
}
