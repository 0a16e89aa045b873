// libmqclient's consumer against a real mqbroker, without group membership:
// manual assignment reads back what the producer wrote (poll and
// poll_batch), seek, offsets_for_times, pause/resume, partition EOF,
// auto.offset.reset in its three modes, commit/committed round trips, close
// with the broker gone, and mq-perf consume.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "broker_fixture.h"

extern "C" {
#include "mqclient.h"
}

namespace
{

std::string value_of(int p, int64_t i)
{
    return "v-" + std::to_string(p) + "-" + std::to_string(i);
}

struct Got {
    std::string topic, key, value;
    int32_t partition;
    int64_t offset, timestamp;
    std::map<std::string, std::string> headers;
};

class ConsumerTest : public BrokerTestBase
{
  protected:
    void TearDown() override
    {
        for (auto *c : consumers_)
            mq_consumer_destroy(c);
        consumers_.clear();
        BrokerTestBase::TearDown();
    }

    mq_consumer_t *NewConsumer(std::vector<std::pair<const char *, const char *>> kv = {})
    {
        mq_conf_t *conf = mq_conf_new();
        char err[512];
        EXPECT_EQ(mq_conf_set(conf, "bootstrap.servers", broker_.client_addr(), err, sizeof err),
                  MQ_OK);
        for (auto &p : kv)
            EXPECT_EQ(mq_conf_set(conf, p.first, p.second, err, sizeof err), MQ_OK) << err;
        mq_consumer_t *c = nullptr;
        EXPECT_EQ(mq_consumer_new(conf, &c, err, sizeof err), MQ_OK) << err;
        mq_conf_destroy(conf);
        if (c)
            consumers_.push_back(c);
        return c;
    }

    void Destroy(mq_consumer_t *c)
    {
        for (auto it = consumers_.begin(); it != consumers_.end(); ++it) {
            if (*it == c) {
                consumers_.erase(it);
                break;
            }
        }
        mq_consumer_destroy(c);
    }

    // Produces n messages to each of the partitions (key k-<i>, value
    // value_of(p, i), header "h" = "<i>"), with timestamps ts0 + i when ts0 > 0.
    void Produce(const std::string &topic, int partitions, int n, int64_t ts0 = 0,
                 const char *compression = "none", bool flush_each = false)
    {
        mq_conf_t *conf = mq_conf_new();
        char err[512];
        mq_conf_set(conf, "bootstrap.servers", broker_.client_addr(), err, sizeof err);
        mq_conf_set(conf, "enable.idempotence", "false", err, sizeof err);
        mq_conf_set(conf, "compression.type", compression, err, sizeof err);
        mq_producer_t *p = nullptr;
        ASSERT_EQ(mq_producer_new(conf, &p, err, sizeof err), MQ_OK) << err;
        mq_conf_destroy(conf);
        for (int part = 0; part < partitions; part++) {
            for (int i = 0; i < n; i++) {
                std::string k = "k-" + std::to_string(i), v = value_of(part, i),
                            h = std::to_string(i);
                mq_msg_header_t hdr = {"h", h.data(), h.size()};
                ASSERT_EQ(mq_produce(p, topic.c_str(), part, k.data(), k.size(), v.data(), v.size(),
                                     &hdr, 1, ts0 > 0 ? ts0 + i : 0, nullptr, MQ_PRODUCE_BLOCK),
                          MQ_OK);
                if (flush_each) {
                    ASSERT_EQ(mq_producer_flush(p, 30000), MQ_OK);
                }
            }
        }
        ASSERT_EQ(mq_producer_flush(p, 30000), MQ_OK);
        int failed = 0;
        mq_event_t *ev;
        while (mq_producer_poll(p, 0, &ev) == MQ_OK) {
            if (mq_event_type(ev) == MQ_EVENT_DELIVERY && mq_event_error(ev) != MQ_OK)
                failed++;
            mq_event_destroy(ev);
        }
        mq_producer_destroy(p);
        ASSERT_EQ(failed, 0);
    }

    static Got Copy(const mq_message_t *m)
    {
        Got g;
        size_t kl, vl;
        const char *k = (const char *)mq_message_key(m, &kl);
        const char *v = (const char *)mq_message_value(m, &vl);
        g.topic = mq_message_topic(m);
        g.key = k ? std::string(k, kl) : "";
        g.value = v ? std::string(v, vl) : "";
        g.partition = mq_message_partition(m);
        g.offset = mq_message_offset(m);
        g.timestamp = mq_message_timestamp(m, nullptr);
        for (size_t i = 0; i < mq_message_header_count(m); i++) {
            const char *name;
            size_t nl, hl;
            const void *hv;
            if (mq_message_header_at(m, i, &name, &nl, &hv, &hl) == MQ_OK)
                g.headers[std::string(name, nl)] = std::string((const char *)hv, hl);
        }
        return g;
    }

    // Polls until n messages came (events go to events_), or timeout.
    std::vector<Got> PollN(mq_consumer_t *c, size_t n, int timeout_ms = 20000)
    {
        std::vector<Got> out;
        int64_t until = rc_now_ms() + timeout_ms;
        while (out.size() < n && rc_now_ms() < until) {
            mq_message_t *m;
            mq_event_t *ev;
            if (mq_consumer_poll(c, 100, &m, &ev) != MQ_OK)
                continue;
            if (m) {
                out.push_back(Copy(m));
                mq_message_destroy(m);
            } else {
                Note(ev);
            }
        }
        return out;
    }

    void Note(mq_event_t *ev)
    {
        events_.push_back({mq_event_type(ev), mq_event_error(ev), mq_event_partition(ev),
                           mq_event_offset(ev), mq_event_error_string(ev)});
        mq_event_destroy(ev);
    }

    // Polls for up to ms, keeping messages and events.
    std::vector<Got> Drain(mq_consumer_t *c, int ms)
    {
        std::vector<Got> out;
        int64_t until = rc_now_ms() + ms;
        while (rc_now_ms() < until) {
            mq_message_t *m;
            mq_event_t *ev;
            if (mq_consumer_poll(c, 50, &m, &ev) != MQ_OK)
                continue;
            if (m) {
                out.push_back(Copy(m));
                mq_message_destroy(m);
            } else {
                Note(ev);
            }
        }
        return out;
    }

    struct Ev {
        mq_event_type_t type;
        mq_err_t err;
        int32_t partition;
        int64_t offset;
        std::string text;
    };
    int Count(mq_event_type_t t, mq_err_t err = MQ_OK) const
    {
        int n = 0;
        for (auto &e : events_)
            n += e.type == t && (err == MQ_OK || e.err == err);
        return n;
    }

    std::vector<mq_consumer_t *> consumers_;
    std::vector<Ev> events_;
};

std::vector<mq_topic_partition_t> Parts(const char *topic, int n, int64_t offset)
{
    std::vector<mq_topic_partition_t> v;
    for (int i = 0; i < n; i++)
        v.push_back({topic, i, 0, offset});
    return v;
}

} // namespace

TEST_F(ConsumerTest, AssignAndPollReadsBackWhatWasProduced)
{
    StartBroker();
    CreateTopic("t", 3);
    const int n = test_scale(2000, 500);
    Produce("t", 3, n, 0, "lz4");
    mq_consumer_t *c = NewConsumer();
    auto parts = Parts("t", 3, MQ_OFFSET_BEGINNING);
    ASSERT_EQ(mq_consumer_assign(c, parts.data(), parts.size()), MQ_OK);
    auto got = PollN(c, 3 * n);
    ASSERT_EQ(got.size(), (size_t)(3 * n));
    std::map<int, int64_t> next;
    for (auto &g : got) {
        ASSERT_EQ(g.topic, "t");
        ASSERT_EQ(g.offset, next[g.partition]) << "partition " << g.partition << " in order";
        next[g.partition]++;
        EXPECT_EQ(g.key, "k-" + std::to_string(g.offset));
        EXPECT_EQ(g.value, value_of(g.partition, g.offset));
        EXPECT_EQ(g.headers["h"], std::to_string(g.offset));
        EXPECT_GT(g.timestamp, 0);
    }
    EXPECT_EQ(Drain(c, 300).size(), 0u) << "nothing more than was produced";
    mq_topic_partition_t pos[3] = {{"t", 0, 0, 0}, {"t", 1, 0, 0}, {"t", 2, 0, 0}};
    ASSERT_EQ(mq_consumer_position(c, pos, 3), MQ_OK);
    for (auto &p : pos)
        EXPECT_EQ(p.offset, n);
    mq_topic_partition_t *as;
    size_t nas;
    ASSERT_EQ(mq_consumer_assignment(c, &as, &nas), MQ_OK);
    EXPECT_EQ(nas, 3u);
    mq_topic_partitions_destroy(as, nas);
}

TEST_F(ConsumerTest, BadArgumentsAreRejected)
{
    StartBroker();
    mq_consumer_t *c = NewConsumer();
    mq_topic_partition_t bad[2] = {{"t", 0, 0, 0}, {"t", 0, 0, 5}};
    EXPECT_EQ(mq_consumer_assign(c, bad, 2), MQ_ERR_INVALID_ARG) << "duplicate";
    mq_topic_partition_t neg = {"t", -1, 0, 0};
    EXPECT_EQ(mq_consumer_assign(c, &neg, 1), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(mq_consumer_seek(c, "t", 0, 5), MQ_ERR_UNKNOWN_PARTITION);
    const char *topic = "t";
    EXPECT_EQ(mq_consumer_subscribe(c, &topic, 1), MQ_ERR_INVALID_CONFIG) << "no group.id";
    EXPECT_EQ(mq_consumer_commit(c, nullptr, 0, 0), MQ_ERR_INVALID_CONFIG);
    mq_message_t *m;
    mq_event_t *ev;
    EXPECT_EQ(mq_consumer_poll(c, -2, &m, &ev), MQ_ERR_INVALID_ARG);
    // Nothing to read: times out (a connection-state event may come first).
    mq_err_t rc;
    while ((rc = mq_consumer_poll(c, 0, &m, &ev)) == MQ_OK && ev &&
           mq_event_type(ev) == MQ_EVENT_CONNECTION)
        mq_event_destroy(ev);
    EXPECT_EQ(rc, MQ_ERR_TIMED_OUT);
    mq_conf_t *conf = mq_conf_new();
    mq_conf_set(conf, "bootstrap.servers", "nohostport", nullptr, 0);
    mq_consumer_t *c2 = nullptr;
    char err[256];
    EXPECT_EQ(mq_consumer_new(conf, &c2, err, sizeof err), MQ_ERR_INVALID_CONFIG);
    EXPECT_NE(std::string(err).find("bootstrap.servers"), std::string::npos) << err;
    mq_conf_destroy(conf);
}

TEST_F(ConsumerTest, PollBatchReturnsZeroCopyViewsInOrder)
{
    StartBroker();
    CreateTopic("b", 4);
    const int n = test_scale(20000, 4000);
    Produce("b", 4, n / 4);
    mq_consumer_t *c = NewConsumer();
    auto parts = Parts("b", 4, MQ_OFFSET_BEGINNING);
    ASSERT_EQ(mq_consumer_assign(c, parts.data(), parts.size()), MQ_OK);
    std::map<int, int64_t> next;
    int total = 0, batches = 0;
    size_t largest = 0;
    std::vector<mq_message_batch_t *> held;
    int64_t until = rc_now_ms() + 20000;
    while (total < n && rc_now_ms() < until) {
        mq_message_batch_t *b;
        mq_event_t *ev;
        if (mq_consumer_poll_batch(c, 100, 1000, &b, &ev) != MQ_OK)
            continue;
        if (ev) {
            Note(ev);
            continue;
        }
        size_t cnt = mq_message_batch_count(b);
        ASSERT_GE(cnt, 1u);
        ASSERT_LE(cnt, 1000u);
        ASSERT_EQ(mq_message_batch_get(b, cnt), nullptr);
        largest = std::max(largest, cnt);
        for (size_t i = 0; i < cnt; i++) {
            const mq_message_t *m = mq_message_batch_get(b, i);
            int p = mq_message_partition(m);
            ASSERT_EQ(mq_message_offset(m), next[p]);
            next[p]++;
        }
        total += (int)cnt;
        batches++;
        held.push_back(b); // released later: views must stay valid meanwhile
    }
    EXPECT_EQ(total, n);
    EXPECT_GT(largest, 100u) << "poll_batch should return many messages at once";
    // Every view is still readable after more polls.
    for (auto *b : held) {
        const mq_message_t *m = mq_message_batch_get(b, 0);
        size_t vl;
        const char *v = (const char *)mq_message_value(m, &vl);
        EXPECT_EQ(std::string(v, vl), value_of(mq_message_partition(m), mq_message_offset(m)));
        mq_message_batch_destroy(b);
    }
}

TEST_F(ConsumerTest, SeekMovesThePosition)
{
    StartBroker();
    CreateTopic("s", 1);
    Produce("s", 1, 100);
    mq_consumer_t *c = NewConsumer();
    mq_topic_partition_t tp = {"s", 0, 0, 40};
    ASSERT_EQ(mq_consumer_assign(c, &tp, 1), MQ_OK);
    auto got = PollN(c, 10);
    ASSERT_EQ(got.size(), 10u);
    EXPECT_EQ(got[0].offset, 40) << "assign at an explicit offset";
    ASSERT_EQ(mq_consumer_seek(c, "s", 0, 5), MQ_OK);
    got = PollN(c, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].offset, 5);
    ASSERT_EQ(mq_consumer_seek(c, "s", 0, MQ_OFFSET_BEGINNING), MQ_OK);
    got = PollN(c, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].offset, 0);
    ASSERT_EQ(mq_consumer_seek(c, "s", 0, MQ_OFFSET_END), MQ_OK);
    EXPECT_EQ(Drain(c, 300).size(), 0u);
    Produce("s", 1, 1);
    got = PollN(c, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].offset, 100) << "after seek to the end only new messages come";
}

TEST_F(ConsumerTest, OffsetsForTimesFindsTheFirstMessageAtOrAfter)
{
    StartBroker();
    CreateTopic("ts", 2);
    int64_t t0 = rc_now_ms() - 100000;
    // One batch per message.
    Produce("ts", 2, 100, t0, "none", true);
    mq_consumer_t *c = NewConsumer();
    mq_topic_partition_t q[4] = {
        {"ts", 0, 0, t0 + 50}, {"ts", 1, 0, t0}, {"ts", 0, 0, t0 + 1000}, {"ts", 7, 0, t0}};
    ASSERT_EQ(mq_consumer_offsets_for_times(c, q, 4, 10000), MQ_OK);
    EXPECT_EQ(q[0].err, MQ_OK);
    EXPECT_EQ(q[0].offset, 50);
    EXPECT_EQ(q[1].offset, 0);
    EXPECT_EQ(q[2].err, MQ_OK);
    EXPECT_EQ(q[2].offset, -1) << "no message that late";
    EXPECT_EQ(q[3].err, MQ_ERR_UNKNOWN_PARTITION);
    // All in one batch: the exact record is still found (the broker only
    // knows batches; the client looks inside the one it names).
    CreateTopic("ts1", 1);
    Produce("ts1", 1, 100, t0);
    mq_topic_partition_t one[2] = {{"ts1", 0, 0, t0 + 50}, {"ts1", 0, 0, t0 + 99}};
    ASSERT_EQ(mq_consumer_offsets_for_times(c, one, 2, 10000), MQ_OK);
    EXPECT_EQ(one[0].offset, 50);
    EXPECT_EQ(one[1].offset, 99);
    // Start reading there.
    mq_topic_partition_t tp = {"ts", 0, 0, q[0].offset};
    ASSERT_EQ(mq_consumer_assign(c, &tp, 1), MQ_OK);
    auto got = PollN(c, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].timestamp, t0 + 50);
}

TEST_F(ConsumerTest, PauseStopsAPartitionAndResumeContinuesIt)
{
    StartBroker();
    CreateTopic("pr", 2);
    Produce("pr", 2, 10);
    mq_consumer_t *c = NewConsumer();
    auto parts = Parts("pr", 2, MQ_OFFSET_BEGINNING);
    ASSERT_EQ(mq_consumer_assign(c, parts.data(), 2), MQ_OK);
    ASSERT_EQ(PollN(c, 20).size(), 20u);
    mq_topic_partition_t p0 = {"pr", 0, 0, 0};
    ASSERT_EQ(mq_consumer_pause(c, &p0, 1), MQ_OK);
    Produce("pr", 2, 10);
    auto got = PollN(c, 10);
    for (auto &g : Drain(c, 300))
        got.push_back(g);
    ASSERT_EQ(got.size(), 10u);
    for (auto &g : got)
        EXPECT_EQ(g.partition, 1) << "a paused partition returns nothing";
    ASSERT_EQ(mq_consumer_resume(c, &p0, 1), MQ_OK);
    got = PollN(c, 10);
    ASSERT_EQ(got.size(), 10u);
    for (size_t i = 0; i < got.size(); i++) {
        EXPECT_EQ(got[i].partition, 0);
        EXPECT_EQ(got[i].offset, 10 + (int64_t)i) << "resumed at its position";
    }
    mq_topic_partition_t unknown = {"pr", 9, 0, 0};
    EXPECT_EQ(mq_consumer_pause(c, &unknown, 1), MQ_ERR_UNKNOWN_PARTITION);
    EXPECT_EQ(unknown.err, MQ_ERR_UNKNOWN_PARTITION);
}

TEST_F(ConsumerTest, PartitionEofComesAfterTheLastMessage)
{
    StartBroker();
    CreateTopic("eof", 2);
    Produce("eof", 1, 5); // partition 0 only
    mq_consumer_t *c = NewConsumer({{"enable.partition.eof", "true"}});
    auto parts = Parts("eof", 2, MQ_OFFSET_BEGINNING);
    ASSERT_EQ(mq_consumer_assign(c, parts.data(), 2), MQ_OK);
    std::vector<std::string> seq;
    int64_t until = rc_now_ms() + 10000;
    int eofs = 0;
    while (eofs < 2 && rc_now_ms() < until) {
        mq_message_t *m;
        mq_event_t *ev;
        if (mq_consumer_poll(c, 100, &m, &ev) != MQ_OK)
            continue;
        if (m) {
            seq.push_back("m" + std::to_string(mq_message_partition(m)));
            mq_message_destroy(m);
            continue;
        }
        if (mq_event_type(ev) == MQ_EVENT_PARTITION_EOF) {
            eofs++;
            seq.push_back("eof" + std::to_string(mq_event_partition(ev)));
            EXPECT_STREQ(mq_event_topic(ev), "eof");
            EXPECT_EQ(mq_event_offset(ev), mq_event_partition(ev) == 0 ? 5 : 0);
        }
        mq_event_destroy(ev);
    }
    ASSERT_EQ(eofs, 2);
    size_t last_m0 = 0, eof0 = 0;
    for (size_t i = 0; i < seq.size(); i++) {
        if (seq[i] == "m0")
            last_m0 = i;
        if (seq[i] == "eof0")
            eof0 = i;
    }
    EXPECT_GT(eof0, last_m0) << "EOF after the partition's last message";
    // New data and the end again: one more EOF.
    Produce("eof", 1, 1);
    for (int i = 0; i < 100 && Count(MQ_EVENT_PARTITION_EOF) < 1; i++)
        Drain(c, 50);
    Drain(c, 200);
    EXPECT_EQ(Count(MQ_EVENT_PARTITION_EOF), 1);
}

TEST_F(ConsumerTest, AutoOffsetResetEarliestLatestAndError)
{
    StartBroker();
    CreateTopic("r", 1);
    Produce("r", 1, 10);
    // An offset past the end is out of range: auto.offset.reset decides.
    mq_topic_partition_t far = {"r", 0, 0, 1000};

    mq_consumer_t *e = NewConsumer({{"auto.offset.reset", "earliest"}});
    ASSERT_EQ(mq_consumer_assign(e, &far, 1), MQ_OK);
    auto got = PollN(e, 10);
    ASSERT_EQ(got.size(), 10u);
    EXPECT_EQ(got[0].offset, 0);

    mq_consumer_t *l = NewConsumer({{"auto.offset.reset", "latest"}});
    ASSERT_EQ(mq_consumer_assign(l, &far, 1), MQ_OK);
    mq_topic_partition_t pos = {"r", 0, 0, 0};
    for (int i = 0; i < 100 && pos.offset != 10; i++) {
        Drain(l, 50);
        mq_consumer_position(l, &pos, 1);
    }
    ASSERT_EQ(pos.offset, 10) << "latest starts at the end";
    Produce("r", 1, 1);
    got = PollN(l, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].offset, 10);

    mq_consumer_t *x = NewConsumer({{"auto.offset.reset", "error"}});
    ASSERT_EQ(mq_consumer_assign(x, &far, 1), MQ_OK);
    size_t seen = 0;
    for (int i = 0; i < 100 && Count(MQ_EVENT_ERROR, MQ_ERR_OFFSET_OUT_OF_RANGE) < 1; i++)
        seen += Drain(x, 50).size();
    seen += Drain(x, 300).size();
    EXPECT_EQ(seen, 0u);
    EXPECT_EQ(Count(MQ_EVENT_ERROR, MQ_ERR_OFFSET_OUT_OF_RANGE), 1);
    ASSERT_EQ(mq_consumer_seek(x, "r", 0, 3), MQ_OK);
    got = PollN(x, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].offset, 3) << "a seek restarts a stopped partition";

    // Without group.id there is no committed offset: STORED means reset.
    mq_topic_partition_t stored = {"r", 0, 0, MQ_OFFSET_STORED};
    mq_consumer_t *s = NewConsumer({{"auto.offset.reset", "earliest"}});
    ASSERT_EQ(mq_consumer_assign(s, &stored, 1), MQ_OK);
    got = PollN(s, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].offset, 0);
}

TEST_F(ConsumerTest, CloseIsBoundedWhenTheBrokerIsGone)
{
    StartBroker();
    CreateTopic("cl", 1);
    Produce("cl", 1, 10);
    mq_consumer_t *c = NewConsumer({{"group.id", "gcl"}});
    mq_topic_partition_t tp = {"cl", 0, 0, MQ_OFFSET_BEGINNING};
    ASSERT_EQ(mq_consumer_assign(c, &tp, 1), MQ_OK);
    ASSERT_EQ(PollN(c, 10).size(), 10u);
    ASSERT_EQ(broker_.Kill(), 0);
    int64_t t0 = rc_now_ms();
    mq_err_t rc = mq_consumer_close(c, 500);
    int64_t took = rc_now_ms() - t0;
    EXPECT_TRUE(rc == MQ_OK || rc == MQ_ERR_TIMED_OUT) << mq_err_name(rc);
    EXPECT_LT(took, 1500) << "close returns within its timeout";
    // The CLOSED event is the last one; then poll says MQ_ERR_CLOSED.
    bool closed = false;
    for (int i = 0; i < 1000 && !closed; i++) {
        mq_message_t *m;
        mq_event_t *ev;
        mq_err_t r = mq_consumer_poll(c, 10, &m, &ev);
        if (r == MQ_OK && ev)
            closed = mq_event_type(ev) == MQ_EVENT_CLOSED;
        mq_message_destroy(m);
        mq_event_destroy(ev);
    }
    EXPECT_TRUE(closed);
    mq_message_t *m;
    mq_event_t *ev;
    EXPECT_EQ(mq_consumer_poll(c, 100, &m, &ev), MQ_ERR_CLOSED);
    EXPECT_EQ(mq_consumer_seek(c, "cl", 0, 0), MQ_OK);
}

TEST_F(ConsumerTest, CloseByPollingUntilTheClosedEvent)
{
    StartBroker();
    CreateTopic("cp", 1);
    mq_consumer_t *c = NewConsumer();
    mq_topic_partition_t tp = {"cp", 0, 0, MQ_OFFSET_BEGINNING};
    ASSERT_EQ(mq_consumer_assign(c, &tp, 1), MQ_OK);
    ASSERT_EQ(mq_consumer_close(c, 0), MQ_OK);
    bool closed = false;
    int64_t until = rc_now_ms() + 5000;
    while (!closed && rc_now_ms() < until) {
        mq_message_t *m;
        mq_event_t *ev;
        if (mq_consumer_poll(c, 100, &m, &ev) == MQ_OK && ev)
            closed = mq_event_type(ev) == MQ_EVENT_CLOSED;
        mq_message_destroy(m);
        mq_event_destroy(ev);
    }
    EXPECT_TRUE(closed);
    EXPECT_EQ(mq_consumer_assign(c, &tp, 1), MQ_ERR_CLOSED);
}

TEST_F(ConsumerTest, FdIsReadableWhileMessagesWait)
{
    StartBroker();
    CreateTopic("fd", 1);
    Produce("fd", 1, 3);
    mq_consumer_t *c = NewConsumer();
    mq_topic_partition_t tp = {"fd", 0, 0, MQ_OFFSET_BEGINNING};
    ASSERT_EQ(mq_consumer_assign(c, &tp, 1), MQ_OK);
    int fd = mq_consumer_fd(c);
    ASSERT_GE(fd, 0);
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(fd, &rs);
    timeval tv = {10, 0};
    ASSERT_EQ(select(fd + 1, &rs, nullptr, nullptr, &tv), 1);
    EXPECT_EQ(PollN(c, 3, 2000).size(), 3u);
}

TEST_F(ConsumerTest, MqPerfConsumeReadsEverything)
{
    StartBroker();
    CreateTopic("perf", 2);
    const int n = test_scale(20000, 5000);
    Produce("perf", 2, n / 2);
    for (const char *batch : {"1000", "0"}) {
        std::string cmd = std::string(MQ_BIN_DIR) + "/mq-perf consume --brokers " +
                          broker_.client_addr() + " --topic perf --partitions 2 --count " +
                          std::to_string(n) + " --batch " + batch + " --idle-ms 10000";
        FILE *f = popen(cmd.c_str(), "r");
        ASSERT_NE(f, nullptr);
        char line[1024] = "";
        std::string out;
        while (fgets(line, sizeof line, f))
            out += line;
        int st = pclose(f);
        ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << cmd << "\n" << out;
        EXPECT_NE(out.find("\"messages\":" + std::to_string(n) + ","), std::string::npos) << out;
        EXPECT_NE(out.find("\"p999_ms\":"), std::string::npos) << out;
    }
}

TEST_F(ConsumerTest, StatsEventsComeFromPoll)
{
    StartBroker();
    CreateTopic("st", 1);
    Produce("st", 1, 10);
    mq_consumer_t *c = NewConsumer({{"statistics.interval.ms", "100"}});
    mq_topic_partition_t tp = {"st", 0, 0, MQ_OFFSET_BEGINNING};
    ASSERT_EQ(mq_consumer_assign(c, &tp, 1), MQ_OK);
    std::string stats;
    int msgs = 0;
    int64_t until = rc_now_ms() + 10000;
    while (rc_now_ms() < until &&
           (msgs < 10 || stats.find("\"msgs_consumed\":10") == std::string::npos)) {
        mq_message_t *m;
        mq_event_t *ev;
        if (mq_consumer_poll(c, 100, &m, &ev) != MQ_OK)
            continue;
        msgs += m != nullptr;
        if (ev && mq_event_type(ev) == MQ_EVENT_STATS)
            stats = mq_event_stats(ev);
        mq_message_destroy(m);
        mq_event_destroy(ev);
    }
    EXPECT_NE(stats.find("\"type\":\"consumer\""), std::string::npos) << stats;
    EXPECT_NE(stats.find("\"msgs_consumed\":10"), std::string::npos) << stats;
    EXPECT_NE(stats.find("\"assigned_partitions\":1"), std::string::npos) << stats;
}
