// libmqclient's producer against a real mqbroker: every message gets one
// delivery report, offsets are contiguous per partition, keys land where
// Kafka's partitioner puts them, and what the broker stores reads back byte
// for byte. Also: unknown topics, a broker that starts late, close without
// flush, compression, stats events and the C example program.
//
// The producer runs with its defaults (acks=all, enable.idempotence on)
// unless a test says otherwise.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "producer_test_util.h"

extern "C" {
#include "mqclient.h"
#include "producer/partitioner.h"
#include "wire/batch.h"
}

namespace
{

class ProducerTest : public BrokerTestBase
{
  protected:
    mq_producer_t *NewProducer(const std::string &brokers,
                               std::vector<std::pair<const char *, const char *>> kv = {})
    {
        return NewTestProducer(brokers, kv);
    }

    // Polls until n delivery reports came (or timeout); reports[i] by opaque.
    void Collect(mq_producer_t *p, std::vector<Report> &reports, size_t n, int timeout_ms = 60000,
                 std::string *stats = nullptr)
    {
        size_t got = 0;
        int64_t until = rc_now_ms() + timeout_ms;
        while (got < n && rc_now_ms() < until) {
            mq_event_t *ev;
            mq_err_t rc = mq_producer_poll(p, 100, &ev);
            if (rc == MQ_ERR_CLOSED)
                break;
            if (rc != MQ_OK)
                continue;
            if (mq_event_type(ev) == MQ_EVENT_DELIVERY) {
                got += RecordDelivery(ev, reports) ? 1 : 0;
            } else if (mq_event_type(ev) == MQ_EVENT_ERROR) {
                error_events_++;
            } else if (mq_event_type(ev) == MQ_EVENT_STATS && stats) {
                *stats = mq_event_stats(ev);
            }
            mq_event_destroy(ev);
        }
        EXPECT_EQ(got, n) << "every message must get exactly one delivery report";
    }

    int error_events_ = 0;
};

std::string key_of(size_t i)
{
    return "key-" + std::to_string(i % 997);
}

std::string value_of(size_t i, size_t size)
{
    std::string v = std::to_string(i) + ":";
    while (v.size() < size)
        v.push_back((char)('a' + (i + v.size()) % 26));
    v.resize(size);
    return v;
}

// Reads every record of a partition: offset -> (key, value).
std::map<int64_t, std::pair<std::string, std::string>>
ReadBack(const std::vector<StoredBatch> &batches)
{
    std::map<int64_t, std::pair<std::string, std::string>> out;
    for (auto &b : batches) {
        mq_record_iter_t it;
        EXPECT_EQ(mq__record_iter_init(&it, b.bytes.data(), b.bytes.size()), MQ_OK);
        mq_record_t rec;
        int rc;
        while ((rc = mq__record_iter_next(&it, &rec)) == 1)
            out[rec.offset] = {std::string((const char *)rec.key, rec.key ? rec.key_len : 0),
                               std::string((const char *)rec.value, rec.value_len)};
        EXPECT_EQ(rc, 0);
        mq__record_iter_free(&it);
    }
    return out;
}

int free_port()
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(fd, (sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

} // namespace

class ProducerKeyed : public ProducerTest, public ::testing::WithParamInterface<const char *>
{
};

TEST_P(ProducerKeyed, EveryMessageDeliveredAndReadsBackByteForByte)
{
    const char *compression = GetParam();
    const int n =
        std::string(compression) == "none" ? test_scale(1000000, 50000) : test_scale(200000, 20000);
    const size_t size = 100;
    const int parts = 4;
    StartBroker();
    CreateTopic("keyed", parts);
    mq_producer_t *p =
        NewProducer(broker_.client_addr(), {{"acks", "all"}, {"compression.type", compression}});
    ASSERT_NE(p, nullptr);
    std::vector<Report> reports(n);
    for (int i = 0; i < n; i++) {
        std::string k = key_of(i), v = value_of(i, size);
        mq_err_t rc;
        while ((rc = mq_produce(p, "keyed", MQ_PARTITION_ANY, k.data(), k.size(), v.data(),
                                v.size(), NULL, 0, 0, (void *)(uintptr_t)i, 0)) ==
               MQ_ERR_QUEUE_FULL) {
            mq_producer_flush(p, 10);
        }
        ASSERT_EQ(rc, MQ_OK);
    }
    ASSERT_EQ(mq_producer_flush(p, 60000), MQ_OK);
    Collect(p, reports, n);
    mq_producer_destroy(p);

    std::vector<std::vector<int64_t>> offsets(parts);
    for (int i = 0; i < n; i++) {
        const Report &r = reports[i];
        ASSERT_EQ(r.count, 1) << "message " << i;
        ASSERT_EQ(r.err, MQ_OK) << "message " << i << ": " << mq_err_str(r.err);
        ASSERT_EQ(r.persisted, MQ_PERSISTED);
        std::string k = key_of(i);
        ASSERT_EQ(r.partition, mq__partition_for_key(k.data(), k.size(), parts));
        offsets[r.partition].push_back(r.offset);
    }
    rawclient_t *c = Connect();
    ASSERT_NE(c, nullptr);
    std::map<std::pair<int32_t, int64_t>, int> where;
    for (int i = 0; i < n; i++)
        where[{reports[i].partition, reports[i].offset}] = i;
    for (int part = 0; part < parts; part++) {
        auto &o = offsets[part];
        std::sort(o.begin(), o.end());
        for (size_t j = 0; j < o.size(); j++)
            ASSERT_EQ(o[j], (int64_t)j) << "offsets of partition " << part << " not contiguous";
        auto stored = ReadBack(FetchAll(c, "keyed", part));
        ASSERT_EQ(stored.size(), o.size()) << "partition " << part;
        for (auto &kv : stored) {
            int i = where.at({part, kv.first});
            ASSERT_EQ(kv.second.first, key_of(i)) << "offset " << kv.first;
            ASSERT_EQ(kv.second.second, value_of(i, size)) << "offset " << kv.first;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Compression, ProducerKeyed, ::testing::Values("none", "lz4", "zstd"));

// Order within a partition is the produce order (sticky keyless and explicit).
TEST_F(ProducerTest, ExplicitPartitionKeepsOrderAndHeaders)
{
    StartBroker();
    CreateTopic("ordered", 3);
    mq_producer_t *p =
        NewProducer(broker_.client_addr(), {{"linger.ms", "1"}, {"batch.num.messages", "7"}});
    ASSERT_NE(p, nullptr);
    const int n = test_scale(20000, 2000);
    std::vector<Report> reports(n);
    mq_msg_header_t h[2] = {{"trace", "abc", 3}, {"null", NULL, 0}};
    for (int i = 0; i < n; i++) {
        std::string v = value_of(i, 20);
        ASSERT_EQ(mq_produce(p, "ordered", 2, NULL, 0, v.data(), v.size(), h, 2, 1700000000000 + i,
                             (void *)(uintptr_t)i, MQ_PRODUCE_BLOCK),
                  MQ_OK);
    }
    ASSERT_EQ(mq_producer_flush(p, 30000), MQ_OK);
    Collect(p, reports, n);
    for (int i = 0; i < n; i++) {
        ASSERT_EQ(reports[i].err, MQ_OK);
        ASSERT_EQ(reports[i].partition, 2);
        ASSERT_EQ(reports[i].offset, i) << "produce order must be offset order";
    }
    mq_producer_destroy(p);
    rawclient_t *c = Connect();
    auto batches = FetchAll(c, "ordered", 2);
    ASSERT_FALSE(batches.empty());
    EXPECT_LE(batches[0].record_count, 7);
    mq_record_iter_t it;
    ASSERT_EQ(mq__record_iter_init(&it, batches[0].bytes.data(), batches[0].bytes.size()), MQ_OK);
    mq_record_t rec;
    ASSERT_EQ(mq__record_iter_next(&it, &rec), 1);
    EXPECT_EQ(rec.timestamp, 1700000000000);
    EXPECT_EQ(rec.key, nullptr);
    EXPECT_EQ(rec.header_count, 2);
    const uint8_t *hp = rec.headers;
    mq_header_t hh;
    ASSERT_EQ(mq__header_next(&hp, rec.headers + rec.headers_len, &hh), 1);
    EXPECT_EQ(std::string(hh.key, hh.key_len), "trace");
    EXPECT_EQ(std::string((const char *)hh.value, hh.value_len), "abc");
    ASSERT_EQ(mq__header_next(&hp, rec.headers + rec.headers_len, &hh), 1);
    EXPECT_EQ(hh.value, nullptr);
    mq__record_iter_free(&it);
}

// acks=none: the broker reports no outcome, so the report says "possibly
// persisted" with no offset; acks=leader: persisted with offsets.
TEST_F(ProducerTest, AcksNoneAndLeader)
{
    StartBroker();
    CreateTopic("acks", 1);
    for (const char *acks : {"none", "leader"}) {
        // Idempotence needs acks=all.
        mq_producer_t *p =
            NewProducer(broker_.client_addr(), {{"acks", acks}, {"enable.idempotence", "false"}});
        ASSERT_NE(p, nullptr);
        std::vector<Report> reports(100);
        for (int i = 0; i < 100; i++)
            ASSERT_EQ(
                mq_produce(p, "acks", 0, NULL, 0, "v", 1, NULL, 0, 0, (void *)(uintptr_t)i, 0),
                MQ_OK);
        Collect(p, reports, 100, 10000);
        bool none = !strcmp(acks, "none");
        for (auto &r : reports) {
            ASSERT_EQ(r.err, MQ_OK) << acks;
            ASSERT_EQ(r.persisted, none ? MQ_POSSIBLY_PERSISTED : MQ_PERSISTED) << acks;
            if (none)
                ASSERT_EQ(r.offset, -1);
            else
                ASSERT_GE(r.offset, 100); // after the acks=none messages
        }
        mq_producer_destroy(p);
    }
}

TEST_F(ProducerTest, UnknownTopicAndPartitionAreReported)
{
    StartBroker();
    CreateTopic("two", 2);
    mq_producer_t *p = NewProducer(broker_.client_addr());
    ASSERT_NE(p, nullptr);
    std::vector<Report> reports(3);
    ASSERT_EQ(mq_produce(p, "no-such-topic", -1, NULL, 0, "v", 1, NULL, 0, 0, (void *)0, 0), MQ_OK);
    ASSERT_EQ(mq_produce(p, "two", 5, NULL, 0, "v", 1, NULL, 0, 0, (void *)1, 0), MQ_OK);
    ASSERT_EQ(mq_produce(p, "two", 1, NULL, 0, "v", 1, NULL, 0, 0, (void *)2, 0), MQ_OK);
    Collect(p, reports, 3, 10000);
    EXPECT_EQ(reports[0].err, MQ_ERR_UNKNOWN_TOPIC);
    EXPECT_EQ(reports[0].persisted, MQ_NOT_PERSISTED);
    EXPECT_EQ(reports[1].err, MQ_ERR_UNKNOWN_PARTITION);
    EXPECT_EQ(reports[2].err, MQ_OK);
    // Now the partition count is known: an out-of-range partition fails at once.
    EXPECT_EQ(mq_produce(p, "two", 2, NULL, 0, "v", 1, NULL, 0, 0, NULL, 0),
              MQ_ERR_UNKNOWN_PARTITION);
    mq_producer_destroy(p);
}

// Produce before the broker is up; it starts later and everything arrives.
TEST_F(ProducerTest, BrokerStartedLaterGetsTheMessages)
{
    int port = free_port();
    std::string listen = "127.0.0.1:" + std::to_string(port);
    StartBroker({"--listen", listen});
    CreateTopic("late", 2);
    ASSERT_EQ(broker_.Stop(), 0);

    mq_producer_t *p =
        NewProducer(listen, {{"reconnect.backoff.ms", "20"}, {"reconnect.backoff.max.ms", "200"}});
    ASSERT_NE(p, nullptr);
    const int n = 1000;
    std::vector<Report> reports(n);
    for (int i = 0; i < n; i++)
        ASSERT_EQ(mq_produce(p, "late", -1, "k", 1, "v", 1, NULL, 0, 0, (void *)(uintptr_t)i, 0),
                  MQ_OK);
    usleep(500 * 1000);
    ASSERT_TRUE(broker_.Restart()) << broker_.error();
    ASSERT_EQ(broker_.port(), port);
    ASSERT_EQ(mq_producer_flush(p, 20000), MQ_OK);
    Collect(p, reports, n);
    for (int i = 0; i < n; i++)
        ASSERT_EQ(reports[i].err, MQ_OK) << i;
    mq_producer_destroy(p);
}

// The broker dies mid-stream (kill -9) and comes back on the same port:
// in-flight batches are retried after reconnecting and every message is
// delivered, and stored exactly once: the restarted broker rebuilt the
// producer's sequences from its log, so a retry of a batch it already had
// gets the original offsets.
TEST_F(ProducerTest, BrokerKilledAndRestartedMessagesRetried)
{
    int port = free_port();
    std::string listen = "127.0.0.1:" + std::to_string(port);
    StartBroker({"--listen", listen});
    CreateTopic("retry", 2);
    mq_producer_t *p = NewProducer(listen, {{"reconnect.backoff.ms", "20"},
                                            {"reconnect.backoff.max.ms", "200"},
                                            {"retry.backoff.ms", "20"},
                                            {"linger.ms", "2"}});
    ASSERT_NE(p, nullptr);
    const int n = test_scale(100000, 10000);
    std::vector<Report> reports(n);
    for (int i = 0; i < n; i++) {
        if (i == n / 2) {
            ASSERT_EQ(broker_.Kill(), 0);
            usleep(100 * 1000);
            ASSERT_TRUE(broker_.Restart()) << broker_.error();
            ASSERT_EQ(broker_.port(), port);
        }
        std::string v = value_of(i, 50);
        ASSERT_EQ(mq_produce(p, "retry", -1, NULL, 0, v.data(), v.size(), NULL, 0, 0,
                             (void *)(uintptr_t)i, MQ_PRODUCE_BLOCK),
                  MQ_OK);
    }
    ASSERT_EQ(mq_producer_flush(p, 30000), MQ_OK);
    Collect(p, reports, n);
    for (int i = 0; i < n; i++) {
        ASSERT_EQ(reports[i].count, 1);
        ASSERT_EQ(reports[i].err, MQ_OK) << i << ": " << mq_err_str(reports[i].err);
    }
    EXPECT_GE(error_events_, 1) << "the lost connection is reported as an error event";
    mq_producer_destroy(p);
    rawclient_t *rc = Connect();
    ASSERT_NE(rc, nullptr);
    std::map<std::string, int> seen;
    for (int part = 0; part < 2; part++) {
        auto stored = ReadBack(FetchAll(rc, "retry", part));
        int64_t expect = 0;
        for (auto &kv : stored) {
            ASSERT_EQ(kv.first, expect) << "gap in partition " << part;
            expect++;
            seen[kv.second.second]++;
        }
    }
    ASSERT_EQ(seen.size(), (size_t)n) << "a message is missing from the log";
    for (auto &kv : seen)
        ASSERT_EQ(kv.second, 1) << "stored twice: " << kv.first;
}

// close without flush: every message is reported, delivered or failed.
TEST_F(ProducerTest, CloseWithoutFlushReportsEveryMessage)
{
    StartBroker();
    CreateTopic("closing", 4);
    mq_producer_t *p = NewProducer(broker_.client_addr(), {{"linger.ms", "50"}});
    ASSERT_NE(p, nullptr);
    const int n = test_scale(200000, 20000);
    std::vector<Report> reports(n);
    for (int i = 0; i < n; i++)
        ASSERT_EQ(mq_produce(p, "closing", -1, NULL, 0, "value", 5, NULL, 0, 0,
                             (void *)(uintptr_t)i, MQ_PRODUCE_BLOCK),
                  MQ_OK);
    mq_producer_close(p, 0);
    Collect(p, reports, n, 10000);
    int ok = 0, closed = 0;
    for (auto &r : reports) {
        ASSERT_EQ(r.count, 1);
        ASSERT_TRUE(r.err == MQ_OK || r.err == MQ_ERR_CLOSED) << mq_err_str(r.err);
        if (r.err == MQ_OK)
            ok++;
        else
            closed++;
    }
    EXPECT_EQ(ok + closed, n);
    mq_event_t *ev;
    EXPECT_EQ(mq_producer_poll(p, 0, &ev), MQ_ERR_CLOSED);
    mq_producer_destroy(p);
}

TEST_F(ProducerTest, StatsEventsComeFromPoll)
{
    StartBroker();
    CreateTopic("stats", 1);
    mq_producer_t *p = NewProducer(broker_.client_addr(), {{"statistics.interval.ms", "100"}});
    ASSERT_NE(p, nullptr);
    std::vector<Report> reports(10);
    for (int i = 0; i < 10; i++)
        ASSERT_EQ(mq_produce(p, "stats", 0, NULL, 0, "v", 1, NULL, 0, 0, (void *)(uintptr_t)i, 0),
                  MQ_OK);
    std::string stats;
    Collect(p, reports, 10, 10000, &stats);
    for (int i = 0; i < 30 && stats.find("\"delivered\":10") == std::string::npos; i++) {
        mq_event_t *ev;
        if (mq_producer_poll(p, 100, &ev) == MQ_OK) {
            if (mq_event_type(ev) == MQ_EVENT_STATS)
                stats = mq_event_stats(ev);
            mq_event_destroy(ev);
        }
    }
    EXPECT_NE(stats.find("\"msgs_sent\":10"), std::string::npos) << stats;
    EXPECT_NE(stats.find("\"delivered\":10"), std::string::npos) << stats;
    mq_producer_destroy(p);
}

TEST_F(ProducerTest, ExampleProgramRuns)
{
    StartBroker();
    CreateTopic("demo", 2);
    std::string exe = std::string(MQ_BIN_DIR) + "/../examples/c/producer";
    std::string cmd = exe + " " + broker_.client_addr() + " demo 20 > /dev/null";
    int st = system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(st)) << cmd;
    EXPECT_EQ(WEXITSTATUS(st), 0) << cmd;
}
