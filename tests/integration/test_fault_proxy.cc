// The fault proxy (tests/lib/fault_proxy.h) in front of a real mqbroker,
// driven with the raw test client: it passes calls through and counts them,
// and each fault does what it says — drop every connection, drop one
// response after the server acted on its request, delay, blackhole, refuse,
// follow a moved upstream, and seeded random faults that replay the same
// way for the same seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "fault_proxy.h"
#include "rawclient.h"

namespace
{

class FaultProxyTest : public BrokerTestBase
{
  protected:
    void SetUp() override
    {
        ASSERT_NO_FATAL_FAILURE(StartBroker());
        ASSERT_NO_FATAL_FAILURE(CreateTopic("fp", 2));
        proxy_ = StartProxy(broker_.port());
        ASSERT_NE(proxy_, nullptr);
    }
    void TearDown() override
    {
        for (auto *c : via_)
            rc_close(c);
        via_.clear();
        fp_stop(proxy_);
        proxy_ = nullptr;
        BrokerTestBase::TearDown();
    }

    fault_proxy_t *StartProxy(int port)
    {
        char err[256] = "";
        fault_proxy_t *fp = fp_start("127.0.0.1", port, err, sizeof err);
        EXPECT_NE(fp, nullptr) << err;
        return fp;
    }

    // A raw client connected through the proxy (closed in TearDown).
    rawclient_t *Via(fault_proxy_t *fp = nullptr)
    {
        char err[256] = "";
        rawclient_t *c = rc_connect("127.0.0.1", fp_port(fp ? fp : proxy_), err, sizeof err);
        EXPECT_NE(c, nullptr) << err;
        if (c)
            via_.push_back(c);
        return c;
    }

    // Same, for a connection that may be reset before rc_connect returns.
    rawclient_t *MaybeVia()
    {
        rawclient_t *c = rc_connect("127.0.0.1", fp_port(proxy_), nullptr, 0);
        if (c)
            via_.push_back(c);
        return c;
    }

    // One Produce call with its own wait; returns the finished result.
    rc_result_t ProduceCall(rawclient_t *c, const std::vector<uint8_t> &batch, int timeout_ms,
                            int32_t part = 0)
    {
        rc_batch_ref_t ref = {"fp", part, batch.data(), batch.size()};
        size_t len = 0;
        uint8_t *body = rc_encode_produce(1, 5000, &ref, 1, &len);
        rc_result_t r;
        memset(&r, 0, sizeof r);
        r.grpc_status = -1;
        int rc = rc_unary(c, RC_PATH_PRODUCE, body, len, nullptr, timeout_ms, &r);
        free(body);
        if (rc < 0)
            r.transport_error = 1;
        return r;
    }

    int64_t StoredRecords(int32_t part)
    {
        rawclient_t *d = Connect();
        int64_t n = 0;
        for (auto &b : FetchAll(d, "fp", part))
            n += b.record_count;
        Disconnect(d);
        return n;
    }

    fp_counters_t Counters(fault_proxy_t *fp = nullptr)
    {
        fp_counters_t n;
        fp_get_counters(fp ? fp : proxy_, &n);
        return n;
    }

    fault_proxy_t *proxy_ = nullptr;
    std::vector<rawclient_t *> via_;
};

} // namespace

TEST_F(FaultProxyTest, PassesCallsThroughAndCountsThem)
{
    rawclient_t *c = Via();
    ASSERT_NE(c, nullptr);
    auto batch = MakeBatch(10, 50, rc_now_ms(), 1);
    rc_produce_result_t pr;
    ASSERT_EQ(rc_produce(c, "fp", 0, batch.data(), batch.size(), 1, &pr), 0) << pr.grpc_message;
    EXPECT_EQ(pr.error_code, 0);
    EXPECT_EQ(pr.base_offset, 0);
    rc_fetch_result_t fr;
    ASSERT_EQ(rc_fetch(c, "fp", 0, 0, 0, 0, 1 << 20, &fr), 0);
    auto got = SplitBatches(fr.records, fr.records_len);
    rc_fetch_result_free(&fr);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(SameBatch(got[0].bytes, batch, 0));

    fp_counters_t n = Counters();
    EXPECT_EQ(n.accepted, 1u);
    EXPECT_EQ(n.open, 1u);
    EXPECT_EQ(n.requests, 2u);
    EXPECT_EQ(fp_requests(proxy_, "/Produce"), 1u);
    EXPECT_EQ(fp_requests(proxy_, "/Fetch"), 1u);
    EXPECT_EQ(fp_requests(proxy_, nullptr), 2u);
    EXPECT_GT(n.bytes_c2s, batch.size());
    EXPECT_GT(n.bytes_s2c, batch.size());
    EXPECT_EQ(n.dropped_c2s + n.dropped_s2c + n.faults, 0u);
}

TEST_F(FaultProxyTest, DropAllResetsEveryConnection)
{
    rawclient_t *a = Via(), *b = Via();
    ASSERT_TRUE(a && b);
    auto batch = MakeBatch(1, 10, rc_now_ms(), 2);
    rc_result_t r = ProduceCall(a, batch, 5000);
    EXPECT_EQ(r.grpc_status, 0);
    rc_result_free(&r);
    rc_pump(b, 50);
    ASSERT_EQ(Counters().open, 2u);

    fp_drop_all(proxy_);
    fp_counters_t n = Counters();
    EXPECT_EQ(n.open, 0u);
    EXPECT_EQ(n.faults, 2u);
    EXPECT_EQ(rc_pump(a, 2000), -1) << "the client must see the connection go";
    EXPECT_EQ(rc_pump(b, 2000), -1);

    // New connections are served as before.
    rawclient_t *c = Via();
    r = ProduceCall(c, batch, 5000);
    EXPECT_EQ(r.grpc_status, 0);
    rc_result_free(&r);
    EXPECT_EQ(Counters().accepted, 3u);
}

// The request reaches the broker (the batch is stored) but its answer never
// reaches the client, and the connection is reset.
TEST_F(FaultProxyTest, DropResponseLosesOnlyTheAnswer)
{
    rawclient_t *c = Via();
    ASSERT_NE(c, nullptr);
    fp_drop_response(proxy_, "/Produce", 0);
    // A call on another path does not fire the trigger.
    rc_fetch_result_t fr;
    ASSERT_EQ(rc_fetch(c, "fp", 1, 0, 0, 0, 1 << 20, &fr), 0);
    rc_fetch_result_free(&fr);
    EXPECT_EQ(Counters().responses_dropped, 0u);

    auto batch = MakeBatch(5, 20, rc_now_ms(), 3);
    long long t0 = test_now_ms();
    rc_result_t r = ProduceCall(c, batch, 10000);
    EXPECT_LT(test_now_ms() - t0, 5000) << "the reset must end the call, not a timeout";
    EXPECT_TRUE(r.transport_error);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.http_status, 0) << "not even the response headers may arrive";
    EXPECT_EQ(r.grpc_status, -1);
    rc_result_free(&r);
    EXPECT_TRUE(rc_broken(c));
    fp_counters_t n = Counters();
    EXPECT_EQ(n.responses_dropped, 1u);
    EXPECT_EQ(n.faults, 1u);
    EXPECT_GT(n.dropped_s2c, 0u);
    EXPECT_EQ(StoredRecords(0), 5) << "the broker acted on the request";

    // One-shot: the next Produce goes through.
    rawclient_t *c2 = Via();
    r = ProduceCall(c2, batch, 5000);
    EXPECT_EQ(r.grpc_status, 0);
    rc_result_free(&r);
    EXPECT_EQ(StoredRecords(0), 10);
    EXPECT_EQ(Counters().responses_dropped, 1u);
}

// forward_frames = 1: the response's HEADERS arrive, the rest does not.
TEST_F(FaultProxyTest, DropResponseAfterItsFirstFrame)
{
    rawclient_t *c = Via();
    ASSERT_NE(c, nullptr);
    fp_drop_response(proxy_, nullptr, 1);
    auto batch = MakeBatch(1, 20, rc_now_ms(), 4);
    rc_result_t r = ProduceCall(c, batch, 10000);
    EXPECT_TRUE(r.transport_error);
    EXPECT_EQ(r.http_status, 200) << "the first frame (response headers) went through";
    EXPECT_EQ(r.grpc_status, -1) << "the trailers did not";
    EXPECT_EQ(r.body_len, 0u);
    rc_result_free(&r);
    EXPECT_EQ(Counters().responses_dropped, 1u);
}

TEST_F(FaultProxyTest, DelayAppliesPerDirection)
{
    rawclient_t *c = Via();
    ASSERT_NE(c, nullptr);
    auto batch = MakeBatch(1, 20, rc_now_ms(), 5);
    rc_result_t r = ProduceCall(c, batch, 5000);
    ASSERT_EQ(r.grpc_status, 0);
    rc_result_free(&r);

    fp_set_delay(proxy_, 150, 0);
    long long t0 = test_now_ms();
    r = ProduceCall(c, batch, 5000);
    long long c2s = test_now_ms() - t0;
    EXPECT_EQ(r.grpc_status, 0);
    rc_result_free(&r);
    EXPECT_GE(c2s, 150);

    fp_set_delay(proxy_, 150, 250);
    t0 = test_now_ms();
    r = ProduceCall(c, batch, 5000);
    long long both = test_now_ms() - t0;
    EXPECT_EQ(r.grpc_status, 0);
    rc_result_free(&r);
    EXPECT_GE(both, 400);

    fp_set_delay(proxy_, 0, 0);
    t0 = test_now_ms();
    r = ProduceCall(c, batch, 5000);
    EXPECT_EQ(r.grpc_status, 0);
    rc_result_free(&r);
    EXPECT_LT(test_now_ms() - t0, 400) << "delay 0 is no delay";
    EXPECT_EQ(StoredRecords(0), 4);
}

// Blackholed: the connection stays open and silent; lifted: it goes on.
TEST_F(FaultProxyTest, BlackholeKeepsConnectionsOpenAndSilent)
{
    rawclient_t *c = Via();
    ASSERT_NE(c, nullptr);
    auto batch = MakeBatch(1, 20, rc_now_ms(), 6);
    rc_result_t r = ProduceCall(c, batch, 5000);
    ASSERT_EQ(r.grpc_status, 0);
    rc_result_free(&r);

    fp_set_blackhole(proxy_, 1);
    r = ProduceCall(c, batch, 300);
    EXPECT_TRUE(r.timed_out) << "no answer while blackholed";
    rc_result_free(&r);
    EXPECT_FALSE(rc_broken(c)) << "the connection stays open";
    EXPECT_EQ(StoredRecords(0), 1) << "nothing reached the broker";
    // A new connection is accepted but not served either.
    rawclient_t *late = Via();
    ASSERT_NE(late, nullptr);
    r = ProduceCall(late, batch, 300);
    EXPECT_TRUE(r.timed_out);
    rc_result_free(&r);
    EXPECT_EQ(Counters().open, 2u);

    fp_set_blackhole(proxy_, 0);
    r = ProduceCall(c, batch, 5000);
    EXPECT_EQ(r.grpc_status, 0) << r.grpc_message;
    rc_result_free(&r);
    r = ProduceCall(late, batch, 5000);
    EXPECT_EQ(r.grpc_status, 0) << r.grpc_message;
    rc_result_free(&r);
    EXPECT_EQ(Counters().faults, 0u);
}

TEST_F(FaultProxyTest, RefuseResetsNewConnectionsOnly)
{
    rawclient_t *old = Via();
    ASSERT_NE(old, nullptr);
    auto batch = MakeBatch(1, 20, rc_now_ms(), 7);
    rc_result_t r = ProduceCall(old, batch, 5000);
    ASSERT_EQ(r.grpc_status, 0);
    rc_result_free(&r);

    fp_set_refuse(proxy_, 1);
    rawclient_t *c = MaybeVia();
    if (c) {
        r = ProduceCall(c, batch, 5000);
        EXPECT_TRUE(r.transport_error);
        EXPECT_NE(r.grpc_status, 0);
        rc_result_free(&r);
    }
    fp_counters_t n = Counters();
    EXPECT_EQ(n.refused, 1u);
    r = ProduceCall(old, batch, 5000);
    EXPECT_EQ(r.grpc_status, 0) << "open connections are left alone";
    rc_result_free(&r);

    fp_set_refuse(proxy_, 0);
    c = Via();
    r = ProduceCall(c, batch, 5000);
    EXPECT_EQ(r.grpc_status, 0);
    rc_result_free(&r);
}

// With the upstream gone, a client connection is reset; pointed at a new
// broker, new connections go there.
TEST_F(FaultProxyTest, UpstreamDownThenMoved)
{
    BrokerProcess other;
    ASSERT_TRUE(other.Start()) << other.error();
    char err[256];
    long st = rc_admin_create_topic(other.admin_addr(), "fp", 1, err, sizeof err);
    ASSERT_TRUE(st == 200 || st == 201) << err;
    ASSERT_EQ(broker_.Stop(), 0);

    rawclient_t *c = MaybeVia();
    auto batch = MakeBatch(3, 20, rc_now_ms(), 8);
    if (c) {
        rc_result_t r = ProduceCall(c, batch, 5000);
        EXPECT_TRUE(r.transport_error);
        rc_result_free(&r);
    }
    EXPECT_EQ(Counters().upstream_failed, 1u);

    ASSERT_EQ(fp_set_upstream(proxy_, "127.0.0.1", other.port()), 0);
    EXPECT_EQ(fp_set_upstream(proxy_, "not-an-address", 1), -1);
    c = Via();
    rc_result_t r = ProduceCall(c, batch, 5000);
    EXPECT_EQ(r.grpc_status, 0);
    rc_result_free(&r);
    rawclient_t *d = rc_connect(other.host(), other.port(), err, sizeof err);
    ASSERT_NE(d, nullptr) << err;
    rc_offset_result_t off;
    ASSERT_EQ(rc_list_offsets(d, "fp", 0, -1, &off), 0);
    EXPECT_EQ(off.offset, 3);
    rc_close(d);
}

TEST(FaultProxyStart, BadUpstreamIsAnError)
{
    char err[256] = "";
    EXPECT_EQ(fp_start("no such host", 1, err, sizeof err), nullptr);
    EXPECT_NE(std::string(err).find("no such host"), std::string::npos) << err;
    EXPECT_EQ(fp_start(nullptr, 1, err, sizeof err), nullptr);
    fp_stop(nullptr);
}

// Chaos: drops at random intervals; random response drops replay exactly
// for the same seed.
TEST_F(FaultProxyTest, ChaosDropsAtRandomIntervals)
{
    fp_chaos_t ch = {};
    ch.seed = 42;
    ch.drop_min_ms = 30;
    ch.drop_max_ms = 60;
    long long t0 = test_now_ms();
    fp_set_chaos(proxy_, &ch);
    int lost = 0;
    for (int i = 0; i < 5; i++) {
        rawclient_t *c = Via();
        ASSERT_NE(c, nullptr);
        if (rc_pump(c, 1000) == -1 || rc_broken(c))
            lost++;
    }
    fp_set_chaos(proxy_, nullptr);
    long long elapsed = test_now_ms() - t0;
    EXPECT_EQ(lost, 5) << "every connection is dropped within a round";
    fp_counters_t n = Counters();
    // Rounds 30..60 ms apart: at most elapsed/30 of them; at least half of
    // elapsed/60 (slack for a loaded machine).
    EXPECT_LE(n.chaos_drops, (uint64_t)(elapsed / 30 + 1));
    EXPECT_GE(n.chaos_drops, (uint64_t)(elapsed / 120));
    EXPECT_GE(n.faults, 5u);
    rawclient_t *c = Via();
    EXPECT_EQ(rc_pump(c, 200), 0) << "chaos off: connections stay";
}

// Chaos rounds that blackhole instead of dropping: connections survive,
// calls are held up while a round lasts and then complete.
TEST_F(FaultProxyTest, ChaosBlackholesForAWhile)
{
    rawclient_t *c = Via();
    ASSERT_NE(c, nullptr);
    auto batch = MakeBatch(1, 20, rc_now_ms(), 10);
    rc_result_t r = ProduceCall(c, batch, 5000);
    ASSERT_EQ(r.grpc_status, 0);
    rc_result_free(&r);

    fp_chaos_t ch = {};
    ch.seed = 3;
    ch.drop_min_ms = 20;
    ch.drop_max_ms = 20;
    ch.blackhole_permille = 1000;
    ch.blackhole_min_ms = 300;
    ch.blackhole_max_ms = 300;
    fp_set_chaos(proxy_, &ch);
    for (int i = 0; i < 100 && Counters().chaos_blackholes == 0; i++)
        usleep(5 * 1000);
    ASSERT_GE(Counters().chaos_blackholes, 1u);
    long long t0 = test_now_ms();
    r = ProduceCall(c, batch, 10000);
    long long took = test_now_ms() - t0;
    EXPECT_EQ(r.grpc_status, 0) << r.grpc_message;
    rc_result_free(&r);
    fp_set_chaos(proxy_, nullptr);
    EXPECT_GE(took, 100) << "the call waited for the blackhole to lift";
    fp_counters_t n = Counters();
    EXPECT_EQ(n.faults, 0u);
    EXPECT_EQ(n.chaos_drops, 0u);
    EXPECT_FALSE(rc_broken(c));
    r = ProduceCall(c, batch, 1000);
    EXPECT_EQ(r.grpc_status, 0) << "chaos off: served at once";
    rc_result_free(&r);
}

namespace
{

// Which of `calls` sequential Produce calls (a new connection after each
// loss) lost their response under chaos with this seed.
std::string DropPattern(FaultProxyTest *t, fault_proxy_t *fp, uint64_t seed, int calls,
                        int *stored_calls)
{
    fp_chaos_t ch = {};
    ch.seed = seed;
    ch.response_drop_permille = 500;
    ch.response_path = "/Produce";
    fp_set_chaos(fp, &ch);
    std::string pattern;
    char err[256];
    rawclient_t *c = nullptr;
    auto batch = MakeBatch(1, 10, rc_now_ms(), 9);
    for (int i = 0; i < calls; i++) {
        if (!c)
            c = rc_connect("127.0.0.1", fp_port(fp), err, sizeof err);
        if (!c)
            return "connect failed";
        rc_produce_result_t pr;
        int rc = rc_produce(c, "fp", 1, batch.data(), batch.size(), 1, &pr);
        pattern += rc == 0 ? '.' : 'x';
        if (rc != 0) {
            rc_close(c);
            c = nullptr;
        }
        (*stored_calls)++;
    }
    rc_close(c);
    fp_set_chaos(fp, nullptr);
    (void)t;
    return pattern;
}

} // namespace

TEST_F(FaultProxyTest, ChaosResponseDropsReplayForTheSameSeed)
{
    fault_proxy_t *second = StartProxy(broker_.port());
    ASSERT_NE(second, nullptr);
    int stored = 0;
    std::string a = DropPattern(this, proxy_, 7, 24, &stored);
    std::string b = DropPattern(this, second, 7, 24, &stored);
    std::string c = DropPattern(this, second, 8, 24, &stored);
    fp_stop(second);
    EXPECT_EQ(a, b) << "same seed, same faults";
    EXPECT_NE(a, c) << "another seed, other faults";
    EXPECT_NE(a.find('x'), std::string::npos) << a;
    EXPECT_NE(a.find('.'), std::string::npos) << a;
    EXPECT_EQ(Counters().responses_dropped, (uint64_t)std::count(a.begin(), a.end(), 'x'));
    // Every call reached the broker, answered or not.
    EXPECT_EQ(StoredRecords(1), stored);
}
