// Idempotent-producer state in the log: part_append_idem's check under the
// partition's lock (duplicates answer their original offsets and write
// nothing, gaps and old epochs are refused), and recovery_load_producers
// rebuilding that state from the batch headers of the log's tail, across
// several segments and with a window that starts inside a segment.
#include "log_test_util.h"

#include <fcntl.h>

extern "C" {
#include "producers.h"

// From log/recovery.h and log/segment.h, which C++ cannot include (C11
// atomics): the segments stay opaque here.
typedef struct segment segment_t;
mq_err_t recovery_load(const char *dir, int dirfd, const log_config_t *cfg, int64_t now_ms,
                       segment_t ***segs, size_t *n);
mq_err_t recovery_load_producers(segment_t *const *segs, size_t n, uint64_t max_bytes,
                                 partition_producers_t *pp);
void seg_unref(segment_t *s);
}

using namespace logtest;

namespace
{

Bytes idem_batch(int count, int64_t pid, int16_t epoch, int32_t seq, uint32_t tag)
{
    mq_batch_builder_t b;
    EXPECT_EQ(mq__batch_builder_init(&b, 256), MQ_OK);
    std::vector<uint8_t> value(100);
    for (int i = 0; i < count; i++) {
        for (size_t j = 0; j < value.size(); j++)
            value[j] = (uint8_t)(tag * 31 + i * 7 + j);
        EXPECT_EQ(
            mq__batch_builder_add(&b, 1000 + i, "k", 1, value.data(), value.size(), nullptr, 0),
            MQ_OK);
    }
    const uint8_t *out;
    size_t len;
    EXPECT_EQ(mq__batch_builder_finish(&b, pid, epoch, seq, MQ_BATCH_COMPRESSION_NONE, &out, &len),
              MQ_OK);
    Bytes v(out, out + len);
    mq__batch_builder_free(&b);
    return v;
}

struct Sent {
    int64_t pid;
    int32_t seq;
    int32_t count;
    int64_t base;
};

struct ProducerRecovery : ::testing::Test {
    TempDir tmp;
    log_config_t cfg = default_config();
    std::vector<Sent> sent;
    int32_t next_seq[3] = {0, 0, 0};

    void SetUp() override
    {
        cfg.segment_bytes = 4096;
        cfg.index_interval_bytes = 512;
    }

    void produce(part_t *p, int64_t pid, int count)
    {
        Bytes b = idem_batch(count, pid, 0, next_seq[pid], (uint32_t)sent.size());
        int64_t base = -1;
        int dup = -1;
        ASSERT_EQ(part_append_idem(p, b.data(), b.size(), 5000, &base, nullptr, &dup), MQ_OK);
        EXPECT_EQ(dup, 0);
        sent.push_back({pid, next_seq[pid], count, base});
        next_seq[pid] += count;
    }

    // Producer 0 writes early only; 1 throughout; 2 only at the end.
    void fill(part_t *p)
    {
        for (int i = 0; i < 40; i++)
            ASSERT_NO_FATAL_FAILURE(produce(p, i < 20 ? 0 : 1, 1 + i % 3));
        for (int i = 0; i < 6; i++)
            ASSERT_NO_FATAL_FAILURE(produce(p, 2, 2));
        ASSERT_NO_FATAL_FAILURE(produce(p, 1, 1));
    }

    // State rebuilt from the last max_bytes of the log in dir.
    partition_producers_t *rebuild(const std::string &dir, uint64_t max_bytes)
    {
        int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
        EXPECT_GE(dfd, 0);
        segment_t **segs = nullptr;
        size_t n = 0;
        EXPECT_EQ(recovery_load(dir.c_str(), dfd, &cfg, 1000, &segs, &n), MQ_OK);
        EXPECT_GE(n, 3u) << "the log should span several segments";
        partition_producers_t *pp = partition_producers_new();
        EXPECT_EQ(recovery_load_producers(segs, n, max_bytes, pp), MQ_OK);
        for (size_t i = 0; i < n; i++)
            seg_unref(segs[i]);
        free(segs);
        close(dfd);
        return pp;
    }

    // The last batch `pid` sent, checked against pp.
    producer_check_t check_last(partition_producers_t *pp, int64_t pid, producer_batch_ref_t *ref)
    {
        for (auto it = sent.rbegin(); it != sent.rend(); ++it)
            if (it->pid == pid)
                return producers_check(pp, pid, 0, it->seq, it->count, ref);
        return PRODUCER_CHECK_UNKNOWN;
    }
    const Sent &last_of(int64_t pid)
    {
        for (auto it = sent.rbegin(); it != sent.rend(); ++it)
            if (it->pid == pid)
                return *it;
        return sent.front();
    }
};

TEST_F(ProducerRecovery, AppendChecksSequencesUnderTheLock)
{
    part_t *p;
    ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    Bytes a = idem_batch(3, 7, 0, 0, 1), b = idem_batch(2, 7, 0, 3, 2);
    int64_t base = -1, lat = -1;
    int dup = -1;
    ASSERT_EQ(part_append_idem(p, a.data(), a.size(), 5000, &base, &lat, &dup), MQ_OK);
    EXPECT_EQ(base, 0);
    EXPECT_EQ(dup, 0);
    ASSERT_EQ(part_append_idem(p, b.data(), b.size(), 5000, &base, &lat, &dup), MQ_OK);
    EXPECT_EQ(base, 3);
    // The retry of a: its original offset, nothing written.
    Bytes again = idem_batch(3, 7, 0, 0, 1);
    ASSERT_EQ(part_append_idem(p, again.data(), again.size(), 6000, &base, &lat, &dup), MQ_OK);
    EXPECT_EQ(dup, 1);
    EXPECT_EQ(base, 0);
    EXPECT_EQ(lat, -1); // the topic keeps create time
    EXPECT_EQ(stats(p).log_end_offset, 5);
    // part_append does the same check.
    EXPECT_EQ(part_append(p, again.data(), again.size(), 6000, &base, nullptr), MQ_OK);
    EXPECT_EQ(base, 0);
    EXPECT_EQ(stats(p).log_end_offset, 5);
    // A gap, an unknown producer, an old epoch: refused, nothing written.
    Bytes gap = idem_batch(1, 7, 0, 9, 3);
    EXPECT_EQ(part_append_idem(p, gap.data(), gap.size(), 6000, &base, &lat, &dup),
              MQ_ERR_OUT_OF_ORDER_SEQUENCE);
    Bytes unknown = idem_batch(1, 8, 0, 4, 4);
    EXPECT_EQ(part_append_idem(p, unknown.data(), unknown.size(), 6000, &base, &lat, &dup),
              MQ_ERR_UNKNOWN_PRODUCER);
    Bytes e1 = idem_batch(1, 7, 1, 0, 5);
    ASSERT_EQ(part_append_idem(p, e1.data(), e1.size(), 6000, &base, &lat, &dup), MQ_OK);
    EXPECT_EQ(base, 5);
    Bytes old = idem_batch(1, 7, 0, 5, 6);
    EXPECT_EQ(part_append_idem(p, old.data(), old.size(), 6000, &base, &lat, &dup),
              MQ_ERR_PRODUCER_FENCED);
    EXPECT_EQ(stats(p).log_end_offset, 6);
    // Not idempotent: never checked, always appended.
    Bytes plain = make_batch(2, 10, 1000);
    ASSERT_EQ(part_append_idem(p, plain.data(), plain.size(), 6000, &base, &lat, &dup), MQ_OK);
    ASSERT_EQ(part_append_idem(p, plain.data(), plain.size(), 6000, &base, &lat, &dup), MQ_OK);
    EXPECT_EQ(dup, 0);
    EXPECT_EQ(stats(p).log_end_offset, 10);
    part_close(p);
}

TEST_F(ProducerRecovery, LogAppendTimeDuplicateAnswersTheOriginalTime)
{
    cfg.message_timestamp_log_append = 1;
    part_t *p;
    ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    Bytes a = idem_batch(2, 3, 0, 0, 1);
    Bytes copy = a;
    int64_t base = -1, lat = -1;
    int dup = 0;
    ASSERT_EQ(part_append_idem(p, a.data(), a.size(), 4242, &base, &lat, &dup), MQ_OK);
    EXPECT_EQ(lat, 4242);
    ASSERT_EQ(part_append_idem(p, copy.data(), copy.size(), 9999, &base, &lat, &dup), MQ_OK);
    EXPECT_EQ(dup, 1);
    EXPECT_EQ(lat, 4242);
    part_close(p);
    // Rebuilt from the log: the stored max timestamp is the append time.
    ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    Bytes again = idem_batch(2, 3, 0, 0, 1);
    ASSERT_EQ(part_append_idem(p, again.data(), again.size(), 7777, &base, &lat, &dup), MQ_OK);
    EXPECT_EQ(dup, 1);
    EXPECT_EQ(base, 0);
    EXPECT_EQ(lat, 4242);
    part_close(p);
}

TEST_F(ProducerRecovery, ReopenRebuildsEveryProducer)
{
    part_t *p;
    ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    ASSERT_NO_FATAL_FAILURE(fill(p));
    part_close(p);
    ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    int64_t end = stats(p).log_end_offset;
    for (int64_t pid = 0; pid < 3; pid++) {
        const Sent &s = last_of(pid);
        Bytes b = idem_batch(s.count, pid, 0, s.seq, 0);
        int64_t base = -1;
        int dup = 0;
        ASSERT_EQ(part_append_idem(p, b.data(), b.size(), 6000, &base, nullptr, &dup), MQ_OK)
            << "producer " << pid;
        EXPECT_EQ(dup, 1) << "producer " << pid;
        EXPECT_EQ(base, s.base) << "producer " << pid;
    }
    EXPECT_EQ(stats(p).log_end_offset, end);
    // And each goes on in sequence.
    Bytes next = idem_batch(1, 0, 0, next_seq[0], 99);
    int64_t base = -1;
    ASSERT_EQ(part_append_idem(p, next.data(), next.size(), 6000, &base, nullptr, nullptr), MQ_OK);
    EXPECT_EQ(base, end);
    part_close(p);
}

TEST_F(ProducerRecovery, OnlyTheTailWindowIsScanned)
{
    part_t *p;
    ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    ASSERT_NO_FATAL_FAILURE(fill(p));
    part_close(p);

    // Everything: all three producers are known.
    partition_producers_t *pp = rebuild(tmp.part_dir(), UINT64_MAX);
    producer_batch_ref_t ref;
    for (int64_t pid = 0; pid < 3; pid++) {
        ASSERT_EQ(check_last(pp, pid, &ref), PRODUCER_CHECK_DUPLICATE) << pid;
        EXPECT_EQ(ref.base_offset, last_of(pid).base);
    }
    EXPECT_EQ(producers_count(pp), 3u);
    partition_producers_free(pp);

    // A small window (inside the active segment): only the producers that
    // wrote at the end are known; producer 0 wrote long before.
    pp = rebuild(tmp.part_dir(), 2048);
    EXPECT_EQ(check_last(pp, 0, &ref), PRODUCER_CHECK_UNKNOWN);
    EXPECT_EQ(check_last(pp, 1, &ref), PRODUCER_CHECK_DUPLICATE);
    EXPECT_EQ(ref.base_offset, last_of(1).base);
    EXPECT_EQ(check_last(pp, 2, &ref), PRODUCER_CHECK_DUPLICATE);
    EXPECT_EQ(producers_count(pp), 2u);
    partition_producers_free(pp);

    // Nothing scanned: no state at all.
    pp = rebuild(tmp.part_dir(), 0);
    EXPECT_EQ(producers_count(pp), 0u);
    partition_producers_free(pp);
}

} // namespace
