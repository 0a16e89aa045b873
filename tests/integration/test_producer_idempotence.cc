// libmqclient's idempotent producer (the default) against a real mqbroker:
// batches carry the broker's producer id and per-partition sequences, and a
// batch that fails for good (refused, or timed out while in flight) makes
// the producer bump its epoch, so later batches restart at sequence 0
// instead of being refused as out of order until they time out too.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "broker_fixture.h"
#include "fault_proxy.h"

extern "C" {
#include "mqclient.h"
#include "wire/batch.h"
}

namespace
{

class ProducerIdempotenceTest : public BrokerTestBase
{
  protected:
    void TearDown() override
    {
        if (p_)
            mq_producer_destroy(p_);
        fp_stop(fp_);
        BrokerTestBase::TearDown();
    }

    void NewProducer(const std::string &brokers,
                     std::vector<std::pair<const char *, const char *>> kv = {})
    {
        mq_conf_t *c = mq_conf_new();
        char err[512];
        ASSERT_EQ(mq_conf_set(c, "bootstrap.servers", brokers.c_str(), err, sizeof err), MQ_OK);
        for (auto &p : kv)
            ASSERT_EQ(mq_conf_set(c, p.first, p.second, err, sizeof err), MQ_OK) << err;
        ASSERT_EQ(mq_producer_new(c, &p_, err, sizeof err), MQ_OK) << err;
        mq_conf_destroy(c);
    }

    void Produce(int id, size_t size)
    {
        std::string v = "m" + std::to_string(id) + ":" + std::string(size, 'x');
        ASSERT_EQ(mq_produce(p_, "idem", 0, NULL, 0, v.data(), v.size(), NULL, 0, 0,
                             (void *)(uintptr_t)id, 0),
                  MQ_OK);
    }

    // Waits for n delivery reports; returns their errors by opaque id.
    std::vector<mq_err_t> Reports(size_t n, int timeout_ms = 20000)
    {
        std::vector<mq_err_t> out(n, MQ_ERR_UNKNOWN);
        size_t got = 0;
        int64_t until = rc_now_ms() + timeout_ms;
        while (got < n && rc_now_ms() < until) {
            mq_event_t *ev;
            if (mq_producer_poll(p_, 50, &ev) != MQ_OK)
                continue;
            if (mq_event_type(ev) == MQ_EVENT_DELIVERY) {
                size_t i = (size_t)(uintptr_t)mq_event_opaque(ev) % n;
                out[i] = mq_event_error(ev);
                got++;
            }
            mq_event_destroy(ev);
        }
        EXPECT_EQ(got, n) << "every message must be reported";
        return out;
    }

    // Header fields of every batch stored in partition 0 of "idem".
    std::vector<mq_batch_header_t> StoredHeaders()
    {
        rawclient_t *rc = Connect();
        std::vector<mq_batch_header_t> out;
        if (!rc)
            return out;
        for (auto &b : FetchAll(rc, "idem", 0)) {
            mq_batch_header_t h;
            EXPECT_EQ(mq__batch_parse_header(b.bytes.data(), b.bytes.size(), &h), MQ_OK);
            out.push_back(h);
        }
        Disconnect(rc);
        return out;
    }

    mq_producer_t *p_ = nullptr;
    fault_proxy_t *fp_ = nullptr;
};

TEST_F(ProducerIdempotenceTest, DefaultConfigStampsIdEpochAndContiguousSequences)
{
    StartBroker();
    CreateTopic("idem", 1);
    NewProducer(broker_.client_addr(), {{"linger.ms", "1"}, {"batch.num.messages", "7"}});
    const int n = 50;
    for (int i = 0; i < n; i++)
        ASSERT_NO_FATAL_FAILURE(Produce(i, 10));
    ASSERT_EQ(mq_producer_flush(p_, 20000), MQ_OK);
    for (mq_err_t e : Reports(n))
        ASSERT_EQ(e, MQ_OK) << mq_err_str(e);
    auto hs = StoredHeaders();
    ASSERT_GE(hs.size(), 2u);
    int32_t seq = 0;
    int64_t records = 0;
    for (auto &h : hs) {
        EXPECT_GE(h.producer_id, 0);
        EXPECT_EQ(h.producer_id, hs[0].producer_id);
        EXPECT_EQ(h.producer_epoch, 0);
        EXPECT_EQ(h.base_sequence, seq);
        seq += h.record_count;
        records += h.record_count;
    }
    EXPECT_EQ(records, n);
}

// A batch the broker refuses for good (too large for the topic) used up
// sequence numbers: the next batches go out under epoch 1 from sequence 0.
TEST_F(ProducerIdempotenceTest, RefusedBatchBumpsTheEpoch)
{
    StartBroker();
    CreateTopic("idem", 1, "\"config\":{\"max.message.bytes\":\"2000\"}");
    // A short message timeout: without the bump the later messages would
    // be refused as out of order until it passes, and the test fails.
    NewProducer(broker_.client_addr(), {{"linger.ms", "1"}, {"message.timeout.ms", "5000"}});
    ASSERT_NO_FATAL_FAILURE(Produce(0, 10));
    ASSERT_EQ(Reports(1)[0], MQ_OK);
    ASSERT_NO_FATAL_FAILURE(Produce(0, 5000));
    ASSERT_EQ(Reports(1)[0], MQ_ERR_MESSAGE_TOO_LARGE);
    for (int i = 0; i < 10; i++)
        ASSERT_NO_FATAL_FAILURE(Produce(i, 10));
    ASSERT_EQ(mq_producer_flush(p_, 20000), MQ_OK);
    for (mq_err_t e : Reports(10))
        ASSERT_EQ(e, MQ_OK) << mq_err_str(e);
    auto hs = StoredHeaders();
    ASSERT_GE(hs.size(), 2u);
    EXPECT_EQ(hs[0].producer_epoch, 0);
    EXPECT_EQ(hs[0].base_sequence, 0);
    EXPECT_EQ(hs[1].producer_id, hs[0].producer_id);
    EXPECT_EQ(hs[1].producer_epoch, 1);
    EXPECT_EQ(hs[1].base_sequence, 0);
}

// Messages time out while their batches are in flight (the network eats
// them): the producer bumps its epoch, and what it sends once the network
// is back is delivered, not refused for the gap the lost batches left.
TEST_F(ProducerIdempotenceTest, MessageTimeoutInFlightBumpsTheEpoch)
{
    StartBroker();
    CreateTopic("idem", 1);
    char err[256];
    fp_ = fp_start(broker_.host(), broker_.port(), err, sizeof err);
    ASSERT_NE(fp_, nullptr) << err;
    NewProducer(fp_addr(fp_), {{"linger.ms", "1"},
                               {"message.timeout.ms", "1500"},
                               {"request.timeout.ms", "600"},
                               {"retry.backoff.ms", "50"},
                               {"reconnect.backoff.ms", "50"},
                               {"reconnect.backoff.max.ms", "200"}});
    ASSERT_NO_FATAL_FAILURE(Produce(0, 10));
    ASSERT_EQ(Reports(1)[0], MQ_OK);

    fp_set_blackhole(fp_, 1);
    for (int i = 0; i < 5; i++)
        ASSERT_NO_FATAL_FAILURE(Produce(i, 10));
    for (mq_err_t e : Reports(5))
        ASSERT_EQ(e, MQ_ERR_MSG_TIMED_OUT) << mq_err_str(e);
    // What the broker never got stays lost: reset, then let traffic through.
    fp_drop_all(fp_);
    fp_set_blackhole(fp_, 0);

    for (int i = 0; i < 5; i++)
        ASSERT_NO_FATAL_FAILURE(Produce(i, 10));
    ASSERT_EQ(mq_producer_flush(p_, 20000), MQ_OK);
    for (mq_err_t e : Reports(5))
        ASSERT_EQ(e, MQ_OK) << mq_err_str(e);
    auto hs = StoredHeaders();
    ASSERT_GE(hs.size(), 2u);
    int64_t records = 0;
    for (auto &h : hs)
        records += h.record_count;
    EXPECT_EQ(records, 6) << "the timed-out messages must not be stored";
    EXPECT_EQ(hs.back().producer_id, hs[0].producer_id);
    EXPECT_GE(hs.back().producer_epoch, 1);
    EXPECT_EQ(hs[1].base_sequence, 0);
}

// A batch whose answer was lost (it may be stored) is still waiting for
// its retry when another batch fails for good and the epoch is bumped: it
// must not simply be resent under the new epoch (the broker would store it
// again). It goes once more under its old epoch, the broker recognises the
// retry and answers its original offset.
TEST_F(ProducerIdempotenceTest, MaybeStoredBatchIsNotDuplicatedByABump)
{
    StartBroker();
    CreateTopic("idem", 2, "\"config\":{\"max.message.bytes\":\"2000\"}");
    char err[256];
    fp_ = fp_start(broker_.host(), broker_.port(), err, sizeof err);
    ASSERT_NE(fp_, nullptr) << err;
    NewProducer(fp_addr(fp_), {{"linger.ms", "1"},
                               {"retry.backoff.ms", "1500"},
                               {"retry.backoff.max.ms", "1500"},
                               {"reconnect.backoff.ms", "20"},
                               {"reconnect.backoff.max.ms", "100"}});
    std::string v0 = "first";
    ASSERT_EQ(mq_produce(p_, "idem", 0, NULL, 0, v0.data(), v0.size(), NULL, 0, 0, (void *)0, 0),
              MQ_OK);
    ASSERT_EQ(Reports(1)[0], MQ_OK);

    // B: stored by the broker, its answer dropped; it waits 1.5 s to retry.
    fp_drop_response(fp_, "Produce", 0);
    std::string vb = "maybe stored";
    ASSERT_EQ(mq_produce(p_, "idem", 0, NULL, 0, vb.data(), vb.size(), NULL, 0, 0, (void *)0, 0),
              MQ_OK);
    fp_counters_t c = {};
    for (int i = 0; i < 500 && c.responses_dropped == 0; i++) {
        usleep(10000);
        fp_get_counters(fp_, &c);
    }
    ASSERT_EQ(c.responses_dropped, 1u);
    // A: refused for good (too large) on the other partition: a bump.
    std::string va(5000, 'a');
    ASSERT_EQ(mq_produce(p_, "idem", 1, NULL, 0, va.data(), va.size(), NULL, 0, 0, (void *)1, 0),
              MQ_OK);
    auto r = Reports(2);
    EXPECT_EQ(r[0], MQ_OK) << "B: " << mq_err_str(r[0]);
    EXPECT_EQ(r[1], MQ_ERR_MESSAGE_TOO_LARGE) << "A: " << mq_err_str(r[1]);

    // After the bump the producer goes on under the new epoch.
    std::string vc = "after";
    ASSERT_EQ(mq_produce(p_, "idem", 0, NULL, 0, vc.data(), vc.size(), NULL, 0, 0, (void *)0, 0),
              MQ_OK);
    ASSERT_EQ(mq_producer_flush(p_, 20000), MQ_OK);
    ASSERT_EQ(Reports(1)[0], MQ_OK);
    auto hs = StoredHeaders();
    int64_t records = 0;
    for (auto &h : hs)
        records += h.record_count;
    EXPECT_EQ(records, 3) << "B must be stored once";
    ASSERT_EQ(hs.size(), 3u);
    EXPECT_EQ(hs[1].producer_epoch, 0);
    EXPECT_EQ(hs[2].producer_epoch, 1);
    EXPECT_EQ(hs[2].base_sequence, 0);
}

} // namespace
