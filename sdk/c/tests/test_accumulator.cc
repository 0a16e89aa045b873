// Accumulator: batches per partition sealed by count, size and linger;
// the buffer bound; unassigned messages; retries keep order. No network.
#include <gtest/gtest.h>

#include <string>
#include <vector>

extern "C" {
#include "conf.h"
#include "event.h"
#include "producer/accumulator.h"
#include "wire/batch.h"
}

namespace
{

struct Acc : ::testing::Test {
    mq_conf_t *conf = nullptr;
    mq_acc_t acc;
    int wakes = 0;
    static void wake(void *arg)
    {
        ++*(int *)arg;
    }

    void start(std::vector<std::pair<const char *, const char *>> kv = {})
    {
        conf = mq_conf_new();
        for (auto &p : kv)
            ASSERT_EQ(mq_conf_set(conf, p.first, p.second, NULL, 0), MQ_OK) << p.first;
        ASSERT_EQ(mq__acc_init(&acc, conf, 1, wake, &wakes), MQ_OK);
    }
    void TearDown() override
    {
        if (conf) {
            mq__acc_destroy(&acc);
            mq_conf_destroy(conf);
        }
    }
    mq_err_t add(const char *topic, int32_t part, const std::string &key, const std::string &value,
                 int block = 0)
    {
        mq_acc_msg_t m = {};
        m.key = key.empty() ? NULL : key.data();
        m.key_len = key.size();
        m.value = value.data();
        m.value_len = value.size();
        m.timestamp = 1000;
        m.opaque = (void *)(uintptr_t)7;
        m.bytes = mq__batch_record_size(0, 0, key.size(), key.empty(), value.size(), 0, NULL, 0);
        return mq__acc_append(&acc, topic, part, &m, block);
    }
    mq_topic_t *topic(const char *name)
    {
        for (mq_topic_t *t = acc.topics; t; t = t->next)
            if (std::string(t->name) == name)
                return t;
        return nullptr;
    }
    std::vector<mq_pbatch_t *> collect(int64_t now, int flush = 0, size_t max = 64, int hold = 1)
    {
        std::vector<mq_pbatch_t *> out(max);
        mq_pbatch_t *expired = nullptr;
        int64_t next;
        size_t n =
            mq__acc_collect(&acc, now, flush, hold, out.data(), max, SIZE_MAX, &expired, &next);
        EXPECT_EQ(expired, nullptr);
        out.resize(n);
        return out;
    }
    void finish(std::vector<mq_pbatch_t *> &v)
    {
        for (auto *b : v) {
            mq__acc_batch_done(&acc, b);
            mq__acc_release(&acc, b->count, (int64_t)b->bytes);
            mq__pbatch_free(b);
        }
        v.clear();
    }
};

} // namespace

TEST_F(Acc, UnknownTopicWaitsThenAssignsByKey)
{
    start();
    ASSERT_EQ(add("t", MQ_PARTITION_ANY, "k1", "v1"), MQ_OK);
    ASSERT_EQ(add("t", 2, "", "explicit"), MQ_OK);
    ASSERT_EQ(add("t", 9, "", "bad partition"), MQ_OK);
    EXPECT_GE(wakes, 1) << "a new topic wakes the I/O thread for metadata";
    mq_topic_t *t = topic("t");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->partitions, -1);
    EXPECT_TRUE(collect(mq__mono_ms() + 1000, 1).empty()) << "nothing is sendable before metadata";
    ASSERT_EQ(mq__acc_set_partitions(&acc, t, 4), MQ_OK);
    auto got = collect(mq__mono_ms(), 1);
    ASSERT_EQ(got.size(), 2u);
    int32_t kp = mq__partition_for_key("k1", 2, 4);
    bool saw_key = false, saw_explicit = false;
    for (auto *b : got) {
        if (b->partition == kp)
            saw_key = true;
        if (b->partition == 2)
            saw_explicit = true;
    }
    EXPECT_TRUE(saw_key);
    EXPECT_TRUE(saw_explicit);
    mq_ua_msg_t *bad = mq__acc_take_ua(&acc, t, 1);
    ASSERT_NE(bad, nullptr);
    EXPECT_EQ(bad->partition, 9);
    EXPECT_EQ(bad->next, nullptr);
    mq__acc_release(&acc, 1, (int64_t)bad->bytes);
    free(bad);
    finish(got);
    EXPECT_EQ(acc.msgs, 0);
    EXPECT_EQ(add("t", 4, "", "x"), MQ_ERR_UNKNOWN_PARTITION) << "known count: fails at once";
}

TEST_F(Acc, SealByCountAndLinger)
{
    start({{"batch.num.messages", "10"}, {"linger.ms", "50"}});
    ASSERT_EQ(add("t", MQ_PARTITION_ANY, "", "v"), MQ_OK);
    ASSERT_EQ(mq__acc_set_partitions(&acc, topic("t"), 1), MQ_OK);
    int64_t now = mq__mono_ms();
    for (int i = 0; i < 24; i++)
        ASSERT_EQ(add("t", 0, "", "v" + std::to_string(i)), MQ_OK);
    auto got = collect(now, 0, 64);
    // Partition in-flight limit is 1: one sealed batch at a time.
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0]->count, 10);
    finish(got);
    got = collect(now);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0]->count, 10);
    finish(got);
    EXPECT_TRUE(collect(now).empty()) << "5 messages wait for linger.ms";
    got = collect(mq__mono_ms() + 60); // their batch opened after `now`
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0]->count, 5);
    // The batch decodes as the records we put in.
    const uint8_t *wire;
    size_t len;
    ASSERT_EQ(mq__batch_builder_finish(&got[0]->builder, -1, -1, -1, 0, &wire, &len), MQ_OK);
    mq_record_iter_t it;
    ASSERT_EQ(mq__record_iter_init(&it, wire, len), MQ_OK);
    mq_record_t rec;
    int i = 0;
    while (mq__record_iter_next(&it, &rec) == 1) {
        std::string want = "v" + std::to_string(19 + i);
        EXPECT_EQ(std::string((const char *)rec.value, rec.value_len), want);
        EXPECT_EQ(rec.key, nullptr);
        i++;
    }
    mq__record_iter_free(&it);
    EXPECT_EQ(i, 5);
    EXPECT_EQ(got[0]->meta[0].opaque, (void *)(uintptr_t)7);
    finish(got);
}

TEST_F(Acc, SealBySize)
{
    start({{"batch.size", "1000"}, {"linger.ms", "1000"}});
    ASSERT_EQ(add("t", 0, "", "x"), MQ_OK);
    ASSERT_EQ(mq__acc_set_partitions(&acc, topic("t"), 1), MQ_OK);
    collect(0); // moves the parked message into a batch
    std::string v(100, 'a');
    for (int i = 0; i < 30; i++)
        ASSERT_EQ(add("t", 0, "", v), MQ_OK);
    mq_tpart_t *tp = &topic("t")->parts[0];
    int sealed = 0;
    for (mq_pbatch_t *b = tp->ready_head; b; b = b->next) {
        EXPECT_LE(b->builder.len, 1000u);
        EXPECT_GT(b->builder.len, 800u);
        sealed++;
    }
    EXPECT_EQ(sealed, 3);
    // A record larger than batch.size still goes out, alone.
    std::string big(5000, 'b');
    ASSERT_EQ(add("t", 0, "", big), MQ_OK);
    EXPECT_EQ(tp->ready_tail->count, 1);
}

TEST_F(Acc, QueueFullAndBlock)
{
    start({{"queue.buffering.max.messages", "5"}, {"max.block.ms", "100"}});
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(add("t", 0, "", "v"), MQ_OK);
    EXPECT_EQ(add("t", 0, "", "v"), MQ_ERR_QUEUE_FULL);
    int64_t t0 = mq__mono_ms();
    EXPECT_EQ(add("t", 0, "", "v", 1), MQ_ERR_QUEUE_FULL);
    int64_t waited = mq__mono_ms() - t0;
    EXPECT_GE(waited, 90);
    EXPECT_LT(waited, 2000);
    mq__acc_release(&acc, 1, 0);
    EXPECT_EQ(add("t", 0, "", "v"), MQ_OK);
    mq__acc_close(&acc);
    EXPECT_EQ(add("t", 0, "", "v"), MQ_ERR_CLOSED);
}

TEST_F(Acc, BytesBound)
{
    start({{"queue.buffering.max.kbytes", "1"}});
    std::string v(600, 'x');
    ASSERT_EQ(add("t", 0, "", v), MQ_OK);
    EXPECT_EQ(add("t", 0, "", v), MQ_ERR_QUEUE_FULL);
    EXPECT_EQ(add("t", 0, "", "small"), MQ_OK);
}

TEST_F(Acc, RetryGoesFirstAndKeepsOrder)
{
    start({{"batch.num.messages", "1"}});
    ASSERT_EQ(add("t", 0, "", "a"), MQ_OK);
    ASSERT_EQ(mq__acc_set_partitions(&acc, topic("t"), 1), MQ_OK);
    ASSERT_EQ(add("t", 0, "", "b"), MQ_OK);
    int64_t now = mq__mono_ms();
    auto got = collect(now);
    ASSERT_EQ(got.size(), 1u);
    mq_pbatch_t *first = got[0];
    EXPECT_TRUE(collect(now).empty()) << "one in flight per partition";
    mq__acc_requeue(&acc, first, now + 100);
    EXPECT_TRUE(collect(now + 50).empty()) << "retry waits its backoff; b must not overtake";
    got = collect(now + 100);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], first);
    finish(got);
    got = collect(now + 100);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_NE(got[0], first);
    finish(got);
    EXPECT_EQ(mq__acc_wait_empty(&acc, 0), MQ_OK);
}

TEST_F(Acc, IdempotentRetriesGoBackInSequenceOrder)
{
    conf = mq_conf_new();
    ASSERT_EQ(mq_conf_set(conf, "batch.num.messages", "1", NULL, 0), MQ_OK);
    ASSERT_EQ(mq__acc_init(&acc, conf, 5, wake, &wakes), MQ_OK);
    ASSERT_EQ(add("t", 0, "", "a"), MQ_OK);
    ASSERT_EQ(mq__acc_set_partitions(&acc, topic("t"), 1), MQ_OK);
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(add("t", 0, "", "b"), MQ_OK);
    int64_t now = mq__mono_ms();
    auto got = collect(now);
    ASSERT_EQ(got.size(), 5u) << "five in flight on one partition";
    for (int i = 0; i < 5; i++)
        got[i]->base_sequence = i; // as the sender numbers them
    // Failures come back out of order: 3, 1, 4, 2 (0 succeeded).
    for (int i : {3, 1, 4, 2})
        mq__acc_requeue(&acc, got[i], now);
    std::vector<mq_pbatch_t *> first = {got[0]};
    finish(first);
    auto again = collect(now);
    ASSERT_EQ(again.size(), 4u);
    for (int i = 0; i < 4; i++)
        EXPECT_EQ(again[i]->base_sequence, i + 1);
    finish(again);
}

TEST_F(Acc, ExpiredBatchesAreReturned)
{
    start({{"message.timeout.ms", "100"}, {"batch.num.messages", "1"}});
    ASSERT_EQ(add("t", 0, "", "a"), MQ_OK);
    ASSERT_EQ(mq__acc_set_partitions(&acc, topic("t"), 1), MQ_OK);
    std::vector<mq_pbatch_t *> out(4);
    mq_pbatch_t *expired = nullptr;
    int64_t next;
    size_t n =
        mq__acc_collect(&acc, mq__mono_ms() + 1000, 0, 1, out.data(), 4, SIZE_MAX, &expired, &next);
    EXPECT_EQ(n, 0u);
    ASSERT_NE(expired, nullptr);
    EXPECT_EQ(expired->count, 1);
    mq__acc_release(&acc, 1, (int64_t)expired->bytes);
    mq__pbatch_free(expired);
    EXPECT_EQ(mq__acc_wait_empty(&acc, 10), MQ_OK);
}

TEST_F(Acc, FreedBatchIsReusedEmpty)
{
    // A sent and freed batch goes to the pool; the next batch writes into
    // its buffer and holds only its own records and state.
    start({{"linger.ms", "1000"}});
    ASSERT_EQ(add("t", 0, "", "x"), MQ_OK);
    ASSERT_EQ(mq__acc_set_partitions(&acc, topic("t"), 1), MQ_OK);
    for (int i = 0; i < 50; i++)
        ASSERT_EQ(add("t", 0, "k", "first" + std::to_string(i)), MQ_OK);
    auto got = collect(mq__mono_ms(), 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0]->count, 51);
    const uint8_t *wire;
    size_t len;
    ASSERT_EQ(
        mq__batch_builder_finish(&got[0]->builder, 9, 1, 0, MQ_BATCH_COMPRESSION_LZ4, &wire, &len),
        MQ_OK);
    got[0]->wire = wire;
    got[0]->base_sequence = 0;
    got[0]->attempts = 2;
    got[0]->sent = 1;
    const uint8_t *buf = got[0]->builder.buf;
    finish(got);
    EXPECT_EQ(acc.pool_n, 1);

    for (int i = 0; i < 3; i++)
        ASSERT_EQ(add("t", 0, "", "second" + std::to_string(i)), MQ_OK);
    got = collect(mq__mono_ms(), 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(acc.pool_n, 0);
    mq_pbatch_t *b = got[0];
    EXPECT_EQ(b->builder.buf, buf) << "the pooled buffer is reused";
    EXPECT_EQ(b->count, 3);
    EXPECT_EQ(b->builder.count, 3);
    EXPECT_EQ(b->wire, nullptr);
    EXPECT_EQ(b->base_sequence, -1);
    EXPECT_EQ(b->attempts, 0);
    EXPECT_EQ(b->sent, 0);
    EXPECT_EQ(b->partition, 0);
    ASSERT_EQ(mq__batch_builder_finish(&b->builder, -1, -1, -1, 0, &wire, &len), MQ_OK);
    mq_record_iter_t it;
    ASSERT_EQ(mq__record_iter_init(&it, wire, len), MQ_OK);
    EXPECT_EQ(it.hdr.attributes & MQ_BATCH_COMPRESSION_MASK, MQ_BATCH_COMPRESSION_NONE);
    EXPECT_EQ(it.hdr.producer_id, -1);
    mq_record_t rec;
    int n = 0;
    while (mq__record_iter_next(&it, &rec) == 1) {
        EXPECT_EQ(rec.offset, n);
        EXPECT_EQ(rec.key, nullptr);
        EXPECT_EQ(std::string((const char *)rec.value, rec.value_len),
                  "second" + std::to_string(n));
        n++;
    }
    mq__record_iter_free(&it);
    EXPECT_EQ(n, 3);
    finish(got);
}

TEST_F(Acc, PoolKeepsAFewBatches)
{
    start({{"batch.num.messages", "1"}});
    ASSERT_EQ(add("t", 0, "", "x"), MQ_OK);
    ASSERT_EQ(mq__acc_set_partitions(&acc, topic("t"), 8), MQ_OK);
    for (int p = 1; p < 8; p++)
        ASSERT_EQ(add("t", p, "", "v"), MQ_OK);
    auto got = collect(mq__mono_ms());
    ASSERT_EQ(got.size(), 8u) << "one sealed batch per partition";
    finish(got);
    EXPECT_EQ(acc.pool_n, 4) << "the rest are freed";
    EXPECT_EQ(acc.msgs, 0);
}

TEST_F(Acc, FullWindowKeepsLingerZeroBatchOpen)
{
    // linger.ms=0 with the partition's one in-flight slot taken: each wake
    // of the I/O thread must not seal a one-message batch; the messages
    // coalesce into one batch that goes when the slot frees.
    start({{"linger.ms", "0"}});
    ASSERT_EQ(add("t", 0, "", "first"), MQ_OK);
    ASSERT_EQ(mq__acc_set_partitions(&acc, topic("t"), 1), MQ_OK);
    int64_t now = mq__mono_ms();
    auto inflight = collect(now);
    ASSERT_EQ(inflight.size(), 1u);
    mq_tpart_t *tp = &topic("t")->parts[0];
    for (int i = 0; i < 100; i++) {
        ASSERT_EQ(add("t", 0, "", "v" + std::to_string(i)), MQ_OK);
        EXPECT_TRUE(collect(now + i).empty()) << "the window is full";
    }
    EXPECT_EQ(tp->ready_head, nullptr) << "nothing sealed while the window is full";
    ASSERT_NE(tp->open, nullptr);
    EXPECT_EQ(tp->open->count, 100);
    finish(inflight);
    auto got = collect(now + 100);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0]->count, 100) << "one batch for the whole backlog";
    EXPECT_EQ(tp->open, nullptr);
    finish(got);

    // Not connected (hold=0): linger seals as before, so the batches can
    // time out at their own deadline.
    ASSERT_EQ(add("t", 0, "", "a"), MQ_OK);
    got = collect(now + 200, 0, 0, 0);
    EXPECT_TRUE(got.empty());
    EXPECT_NE(tp->ready_head, nullptr);
    EXPECT_EQ(tp->open, nullptr);
}

TEST_F(Acc, HeldBatchStillExpires)
{
    start({{"linger.ms", "0"}, {"message.timeout.ms", "100"}});
    ASSERT_EQ(add("t", 0, "", "first"), MQ_OK);
    ASSERT_EQ(mq__acc_set_partitions(&acc, topic("t"), 1), MQ_OK);
    int64_t now = mq__mono_ms();
    auto inflight = collect(now);
    ASSERT_EQ(inflight.size(), 1u);
    ASSERT_EQ(add("t", 0, "", "held"), MQ_OK);
    std::vector<mq_pbatch_t *> out(4);
    mq_pbatch_t *expired = nullptr;
    int64_t next = 0;
    EXPECT_EQ(mq__acc_collect(&acc, now, 0, 1, out.data(), 4, SIZE_MAX, &expired, &next), 0u);
    EXPECT_EQ(expired, nullptr);
    EXPECT_GT(next, now) << "wakes for the held batch's deadline";
    EXPECT_LE(next, now + 1100);
    EXPECT_EQ(mq__acc_collect(&acc, now + 1000, 0, 1, out.data(), 4, SIZE_MAX, &expired, &next),
              0u);
    ASSERT_NE(expired, nullptr) << "a held batch past its deadline times out";
    EXPECT_EQ(expired->count, 1);
    mq__acc_release(&acc, 1, (int64_t)expired->bytes);
    mq__pbatch_free(expired);
    finish(inflight);
}

TEST_F(Acc, ConnectionWindowFullThenOneCallTakesEveryPartition)
{
    // Idempotent: 5 per partition; the connection's window is full (max 0).
    conf = mq_conf_new();
    ASSERT_EQ(mq_conf_set(conf, "linger.ms", "0", NULL, 0), MQ_OK);
    ASSERT_EQ(mq__acc_init(&acc, conf, 5, wake, &wakes), MQ_OK);
    ASSERT_EQ(add("t", 0, "", "x"), MQ_OK);
    ASSERT_EQ(mq__acc_set_partitions(&acc, topic("t"), 4), MQ_OK);
    int64_t now = mq__mono_ms();
    EXPECT_TRUE(collect(now, 0, 0).empty());
    for (int i = 0; i < 40; i++) {
        ASSERT_EQ(add("t", i % 4, "", "v"), MQ_OK);
        EXPECT_TRUE(collect(now, 0, 0).empty());
    }
    // Now, not `now`: a batch opened after a millisecond tick is not due at
    // `now` with linger.ms=0.
    auto got = collect(mq__mono_ms());
    ASSERT_EQ(got.size(), 4u) << "one batch per partition, all in one call";
    int total = 0;
    for (auto *b : got)
        total += b->count;
    EXPECT_EQ(total, 41);
    finish(got);
}
