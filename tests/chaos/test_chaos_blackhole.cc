// ctest-label: chaos
// A blackholed broker (the proxy holds every byte): requests time out at
// request.timeout.ms and are retried, the HTTP/2 PING finds the connection
// dead and it is dropped; once the path clears every message is delivered
// exactly once. mq_producer_close and mq_consumer_close return within
// their timeouts while the broker cannot be reached.
#include "chaos.h"

namespace
{

struct Seen {
    int delivered = 0, failed = 0, closed = 0;
    int ping_drops = 0, disconnects = 0, reconnecting = 0, connected = 0;
    std::vector<int64_t> offsets;
    std::string stats;
};

// Polls p until pred says stop or timeout_ms passes.
template <class Pred> bool PollUntil(mq_producer_t *p, Seen &s, int64_t timeout_ms, Pred pred)
{
    int64_t end = NowMs() + timeout_ms;
    while (!pred()) {
        if (NowMs() >= end)
            return false;
        mq_event_t *ev = nullptr;
        if (mq_producer_poll(p, 50, &ev) != MQ_OK)
            continue;
        if (mq_event_type(ev) == MQ_EVENT_DELIVERY) {
            if (mq_event_error(ev) == MQ_OK) {
                s.delivered++;
                s.offsets.push_back(mq_event_offset(ev));
            } else if (mq_event_error(ev) == MQ_ERR_CLOSED) {
                s.closed++;
            } else {
                s.failed++;
            }
        } else if (mq_event_type(ev) == MQ_EVENT_STATS) {
            s.stats = mq_event_stats(ev);
        } else if (mq_event_type(ev) == MQ_EVENT_CONNECTION) {
            mq_conn_state_t st = mq_event_conn_state(ev);
            s.connected += st == MQ_CONN_CONNECTED;
            s.reconnecting += st == MQ_CONN_RECONNECTING;
            if (st == MQ_CONN_DISCONNECTED) {
                s.disconnects++;
                if (strstr(mq_event_error_string(ev), "PING"))
                    s.ping_drops++;
            }
        }
        mq_event_destroy(ev);
    }
    return true;
}

} // namespace

class ChaosBlackhole : public ChaosTest
{
  protected:
    mq_producer_t *NewProducer(int64_t request_timeout, int64_t ping_interval)
    {
        mq_conf_t *conf = MakeConf({{"bootstrap.servers", fp_addr(proxy_)},
                                    {"linger.ms", "1"},
                                    {"request.timeout.ms", std::to_string(request_timeout)},
                                    {"connection.ping.interval.ms", std::to_string(ping_interval)},
                                    {"connection.ping.timeout.ms", "500"},
                                    {"reconnect.backoff.ms", "50"},
                                    {"reconnect.backoff.max.ms", "400"},
                                    {"retry.backoff.ms", "50"},
                                    {"retry.backoff.max.ms", "200"},
                                    {"statistics.interval.ms", "200"}});
        mq_producer_t *p = nullptr;
        char err[256] = "";
        EXPECT_EQ(mq_producer_new(conf, &p, err, sizeof err), MQ_OK) << err;
        mq_conf_destroy(conf);
        return p;
    }
    void Produce(mq_producer_t *p, int from, int count)
    {
        for (int i = from; i < from + count; i++) {
            std::string v = "m" + std::to_string(i);
            ASSERT_EQ(mq_produce(p, "bh", 0, nullptr, 0, v.data(), v.size(), nullptr, 0, 0,
                                 (void *)(uintptr_t)(i + 1), 0),
                      MQ_OK);
        }
    }
};

// PINGs off: only the request timeout can notice; the call is retried (on
// the same connection, which stays silent) until the path clears.
TEST_F(ChaosBlackhole, RequestTimesOutAndIsRetried)
{
    StartBroker();
    CreateTopic("bh", 1);
    mq_producer_t *p = NewProducer(800, 0);
    Seen s;
    Produce(p, 0, 10);
    ASSERT_TRUE(PollUntil(p, s, 10000, [&] { return s.delivered == 10; }));

    fp_set_blackhole(proxy_, 1);
    int64_t t0 = NowMs();
    Produce(p, 10, 1); // one batch: its tries can be counted
    // Nothing can arrive; after a few request timeouts lift it.
    PollUntil(p, s, 2500, [] { return false; });
    EXPECT_EQ(s.delivered, 10) << "nothing can be delivered through a blackhole";
    // 2.5 s at request.timeout.ms 800 (+ retry backoff): two or three tries
    // timed out and were retried; not more, or the timeout was not honoured.
    int64_t retries = StatField(s.stats, "retries");
    EXPECT_GE(retries, 2) << s.stats;
    EXPECT_LE(retries, 3) << s.stats;
    EXPECT_EQ(s.disconnects, 0) << "without PINGs a timeout alone keeps the connection";
    fp_set_blackhole(proxy_, 0);
    ASSERT_TRUE(PollUntil(p, s, 15000, [&] { return s.delivered == 11; }))
        << "delivered " << s.delivered << " failed " << s.failed;
    EXPECT_GE(NowMs() - t0, 2500);
    EXPECT_EQ(s.failed, 0);

    auto recs = ReadTopic("bh", 1);
    ASSERT_EQ(recs[0].size(), 11u) << "each message exactly once";
    for (int i = 0; i < 11; i++)
        EXPECT_EQ(recs[0][i].value, "m" + std::to_string(i));
    EXPECT_EQ(mq_producer_close(p, 2000), MQ_OK);
    mq_producer_destroy(p);
}

// PINGs on: a silent connection is found dead within the PING interval +
// timeout (well before request.timeout.ms), dropped and re-established.
TEST_F(ChaosBlackhole, PingDetectsDeadConnection)
{
    StartBroker();
    CreateTopic("bh", 1);
    mq_producer_t *p = NewProducer(30000, 300);
    Seen s;
    Produce(p, 0, 5);
    ASSERT_TRUE(PollUntil(p, s, 10000, [&] { return s.delivered == 5; }));

    fp_set_blackhole(proxy_, 1);
    int64_t t0 = NowMs();
    Produce(p, 5, 5);
    ASSERT_TRUE(PollUntil(p, s, 5000, [&] { return s.ping_drops > 0; }))
        << "the dead connection was not detected";
    int64_t detected = NowMs() - t0;
    EXPECT_GE(detected, 500) << "dropped before the PING could time out";
    EXPECT_LT(detected, 300 + 500 + 1000) << "PING interval + timeout, with slack";
    fp_set_blackhole(proxy_, 0);
    ASSERT_TRUE(PollUntil(p, s, 15000, [&] { return s.delivered == 10; }));
    EXPECT_EQ(s.failed, 0);
    auto recs = ReadTopic("bh", 1);
    EXPECT_EQ(recs[0].size(), 10u) << "each message exactly once";
    EXPECT_EQ(mq_producer_close(p, 2000), MQ_OK);
    mq_producer_destroy(p);
}

// close() and destroy() while the broker is unreachable: they return
// within the timeout and every message is reported.
TEST_F(ChaosBlackhole, ProducerCloseReturnsInTime)
{
    StartBroker();
    CreateTopic("bh", 1);
    mq_producer_t *p = NewProducer(30000, 0);
    Seen s;
    Produce(p, 0, 3);
    ASSERT_TRUE(PollUntil(p, s, 10000, [&] { return s.delivered == 3; }));
    fp_set_blackhole(proxy_, 1);
    Produce(p, 3, 50);
    SleepMs(200); // in flight now
    int64_t t0 = NowMs();
    EXPECT_EQ(mq_producer_close(p, 1000), MQ_ERR_TIMED_OUT);
    int64_t took = NowMs() - t0;
    EXPECT_GE(took, 900);
    EXPECT_LE(took, 1500) << "close must return within its timeout";
    PollUntil(p, s, 3000, [&] { return s.delivered + s.closed + s.failed == 53; });
    EXPECT_EQ(s.delivered + s.closed + s.failed, 53) << "every message is reported";
    t0 = NowMs();
    mq_producer_destroy(p);
    EXPECT_LE(NowMs() - t0, 500) << "destroy after close is quick";
    fp_set_blackhole(proxy_, 0);
}

TEST_F(ChaosBlackhole, ConsumerCloseReturnsInTime)
{
    StartBroker();
    CreateTopic("bh", 1);
    mq_conf_t *conf = MakeConf({{"bootstrap.servers", fp_addr(proxy_)},
                                {"request.timeout.ms", "30000"},
                                {"fetch.wait.max.ms", "100"},
                                {"auto.offset.reset", "earliest"}});
    mq_consumer_t *c = nullptr;
    char err[256] = "";
    ASSERT_EQ(mq_consumer_new(conf, &c, err, sizeof err), MQ_OK) << err;
    mq_conf_destroy(conf);
    mq_topic_partition_t tp = {};
    tp.topic = "bh";
    tp.partition = 0;
    tp.offset = 0;
    ASSERT_EQ(mq_consumer_assign(c, &tp, 1), MQ_OK);
    // Connected and fetching (a connection event says so), then blackholed.
    bool connected = false;
    int64_t end = NowMs() + 5000;
    while (!connected && NowMs() < end) {
        mq_message_t *m = nullptr;
        mq_event_t *ev = nullptr;
        if (mq_consumer_poll(c, 100, &m, &ev) != MQ_OK)
            continue;
        if (ev && mq_event_type(ev) == MQ_EVENT_CONNECTION &&
            mq_event_conn_state(ev) == MQ_CONN_CONNECTED)
            connected = true;
        mq_event_destroy(ev);
        mq_message_destroy(m);
    }
    ASSERT_TRUE(connected) << "the consumer emits connection events";
    fp_set_blackhole(proxy_, 1);
    SleepMs(300);
    int64_t t0 = NowMs();
    mq_err_t rc = mq_consumer_close(c, 1000);
    int64_t took = NowMs() - t0;
    EXPECT_TRUE(rc == MQ_OK || rc == MQ_ERR_TIMED_OUT) << mq_err_name(rc);
    EXPECT_LE(took, 1500) << "close must return within its timeout";
    t0 = NowMs();
    mq_consumer_destroy(c);
    EXPECT_LE(NowMs() - t0, 1000);
    fp_set_blackhole(proxy_, 0);
}
