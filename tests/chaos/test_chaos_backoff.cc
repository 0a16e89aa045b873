// ctest-label: chaos
// Reconnect backoff measured against real sockets: every delay between
// attempts against a closed port lies within min(cur * U(0.75, 1.5), max)
// (the lower bound strict, +50 ms allowed on the upper), stops growing at
// the maximum, and starts over once a connection stayed up
// reconnect.backoff.max.ms; a shorter one does not reset it.
#include "chaos.h"

namespace
{

struct ConnEv {
    mq_conn_state_t state;
    int32_t attempt;
    int64_t delay_ms;
    int64_t ts_ms;
    std::string broker, why;
};

// Polls until a connection event matching want arrives (others are kept in
// seen). Returns false after timeout_ms.
bool WaitConn(mq_producer_t *p, mq_conn_state_t want, int64_t timeout_ms, std::vector<ConnEv> &seen)
{
    int64_t end = NowMs() + timeout_ms;
    while (NowMs() < end) {
        mq_event_t *ev = nullptr;
        if (mq_producer_poll(p, 100, &ev) != MQ_OK)
            continue;
        bool hit = false;
        if (mq_event_type(ev) == MQ_EVENT_CONNECTION) {
            ConnEv c = {mq_event_conn_state(ev),    mq_event_conn_attempt(ev),
                        mq_event_conn_delay_ms(ev), mq_event_timestamp(ev),
                        mq_event_broker(ev),        mq_event_error_string(ev)};
            seen.push_back(c);
            hit = c.state == want;
        }
        mq_event_destroy(ev);
        if (hit)
            return true;
    }
    return false;
}

} // namespace

class ChaosBackoff : public ChaosTest
{
};

TEST_F(ChaosBackoff, ClosedPortBoundsCapAndReset)
{
    const int64_t initial = 50, max = 800;
    int port = FreePort();
    ASSERT_GT(port, 0);
    std::string addr = "127.0.0.1:" + std::to_string(port);
    mq_conf_t *conf = MakeConf({{"bootstrap.servers", addr},
                                {"reconnect.backoff.ms", std::to_string(initial)},
                                {"reconnect.backoff.max.ms", std::to_string(max)}});
    mq_producer_t *p = nullptr;
    char err[256] = "";
    ASSERT_EQ(mq_producer_new(conf, &p, err, sizeof err), MQ_OK) << err;
    mq_conf_destroy(conf);

    // 1. Closed port: attempts 1..12 (the cap is reached at the 5th).
    std::vector<ConnEv> ev;
    while (ev.size() < 13)
        ASSERT_TRUE(WaitConn(p, MQ_CONN_RECONNECTING, 15000, ev)) << "no reconnect event";
    int64_t cur = initial;
    for (size_t i = 0; i < ev.size(); i++) {
        SCOPED_TRACE("attempt " + std::to_string(i + 1));
        const ConnEv &e = ev[i];
        EXPECT_EQ(e.state, MQ_CONN_RECONNECTING);
        EXPECT_EQ(e.attempt, (int32_t)i + 1);
        EXPECT_EQ(e.broker, addr);
        EXPECT_NE(e.why, "") << "a reconnect event says why";
        int64_t lo = std::min(cur * 3 / 4, max), hi = std::min(cur * 3 / 2, max);
        EXPECT_GE(e.delay_ms, lo);
        EXPECT_LE(e.delay_ms, hi);
        if (i + 1 < ev.size()) {
            // From this failure to the next one (a refused connect fails at
            // once): at least the delay, at most the bound + 50 ms.
            int64_t gap = ev[i + 1].ts_ms - e.ts_ms;
            EXPECT_GE(gap, lo) << "attempt came before the backoff allowed";
            // The client schedules on a millisecond clock: its own failure
            // time is truncated, so the drawn delay shows to within 1 ms.
            EXPECT_GE(gap, e.delay_ms - 1);
            EXPECT_LE(gap, hi + 50) << "attempt came late";
        }
        cur = std::min(cur * 2, max);
    }
    // Capped: the last delays are all within [0.75 max, max].
    for (size_t i = 5; i < ev.size(); i++)
        EXPECT_GE(ev[i].delay_ms, max * 3 / 4);

    // 2. A broker appears on that port: connected.
    ASSERT_TRUE(broker_.Start({"--listen", addr})) << broker_.error();
    ev.clear();
    ASSERT_TRUE(WaitConn(p, MQ_CONN_CONNECTED, 5000, ev)) << "never connected";
    EXPECT_EQ(ev.back().broker, addr);

    // 3. Up for less than reconnect.backoff.max.ms: no reset, the backoff
    // goes on at the cap.
    SleepMs(max / 4);
    broker_.Kill();
    ev.clear();
    ASSERT_TRUE(WaitConn(p, MQ_CONN_RECONNECTING, 5000, ev));
    ASSERT_GE(ev.size(), 2u);
    EXPECT_EQ(ev[ev.size() - 2].state, MQ_CONN_DISCONNECTED) << "a lost connection says so";
    EXPECT_NE(ev[ev.size() - 2].why, "");
    EXPECT_GT(ev.back().attempt, 12);
    EXPECT_GE(ev.back().delay_ms, max * 3 / 4) << "a short-lived connection must not reset";

    // 4. Up for longer than reconnect.backoff.max.ms: the backoff starts over.
    ASSERT_TRUE(broker_.Restart()) << broker_.error();
    ev.clear();
    ASSERT_TRUE(WaitConn(p, MQ_CONN_CONNECTED, 5000, ev)) << "never reconnected";
    SleepMs(max + 300);
    broker_.Kill();
    ev.clear();
    ASSERT_TRUE(WaitConn(p, MQ_CONN_RECONNECTING, 5000, ev));
    EXPECT_EQ(ev.back().attempt, 1) << "a stable connection resets the backoff";
    EXPECT_GE(ev.back().delay_ms, initial * 3 / 4);
    EXPECT_LE(ev.back().delay_ms, initial * 3 / 2);

    EXPECT_EQ(mq_producer_close(p, 1000), MQ_OK);
    mq_producer_destroy(p);
}
