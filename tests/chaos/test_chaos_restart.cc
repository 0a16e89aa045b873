// ctest-label: chaos
// What earlier issues built, checked under faults: idempotence across a
// broker restart (a batch the broker stored but whose answer was lost is
// retried against the restarted broker and deduplicated), and graceful
// shutdown (SIGTERM while a producer is busy: in-flight requests finish,
// GOAWAY, the client reconnects to the restarted broker and nothing is lost
// or duplicated).
#include "chaos.h"

namespace
{

struct Tally {
    std::map<uintptr_t, int> count;
    std::map<uintptr_t, int64_t> offset;
    int failed = 0;
    std::string disconnect_why, stats;
};

void Drain(mq_producer_t *p, Tally &t, int64_t ms)
{
    int64_t end = NowMs() + ms;
    while (NowMs() < end) {
        mq_event_t *ev = nullptr;
        if (mq_producer_poll(p, 20, &ev) != MQ_OK)
            continue;
        if (mq_event_type(ev) == MQ_EVENT_DELIVERY) {
            uintptr_t id = (uintptr_t)mq_event_opaque(ev);
            t.count[id]++;
            t.offset[id] = mq_event_offset(ev);
            t.failed += mq_event_error(ev) != MQ_OK;
        } else if (mq_event_type(ev) == MQ_EVENT_CONNECTION &&
                   mq_event_conn_state(ev) == MQ_CONN_DISCONNECTED && t.disconnect_why.empty()) {
            t.disconnect_why = mq_event_error_string(ev);
        } else if (mq_event_type(ev) == MQ_EVENT_STATS) {
            t.stats = mq_event_stats(ev);
        }
        mq_event_destroy(ev);
    }
}

} // namespace

class ChaosRestart : public ChaosTest
{
  protected:
    mq_producer_t *NewProducer(const std::string &linger)
    {
        mq_conf_t *conf = MakeConf({{"bootstrap.servers", fp_addr(proxy_)},
                                    {"acks", "all"},
                                    {"linger.ms", linger},
                                    {"request.timeout.ms", "5000"},
                                    {"reconnect.backoff.ms", "50"},
                                    {"reconnect.backoff.max.ms", "500"},
                                    {"retry.backoff.ms", "50"},
                                    {"retry.backoff.max.ms", "300"},
                                    {"statistics.interval.ms", "200"}});
        mq_producer_t *p = nullptr;
        char err[256] = "";
        EXPECT_EQ(mq_producer_new(conf, &p, err, sizeof err), MQ_OK) << err;
        mq_conf_destroy(conf);
        return p;
    }
};

TEST_F(ChaosRestart, RetryAfterRestartIsDeduplicated)
{
    StartBroker();
    CreateTopic("idem", 1);
    mq_producer_t *p = NewProducer("50");
    Tally t;
    auto produce = [&](int from, int n) {
        for (int i = from; i < from + n; i++) {
            std::string v = "v" + std::to_string(i);
            ASSERT_EQ(mq_produce(p, "idem", 0, nullptr, 0, v.data(), v.size(), nullptr, 0, 0,
                                 (void *)(uintptr_t)(i + 1), 0),
                      MQ_OK);
        }
    };
    produce(0, 10);
    int64_t first_end = NowMs() + 10000;
    while (t.count.size() < 10 && NowMs() < first_end)
        Drain(p, t, 100);
    ASSERT_EQ(t.count.size(), 10u);

    // The broker stores the next batch, its answer is lost, and every new
    // connection is refused until the broker has been killed and restarted.
    fp_drop_response(proxy_, "Produce", 0);
    fp_set_refuse(proxy_, 1);
    produce(10, 10);
    int64_t end = NowMs() + 10000;
    fp_counters_t fc = {};
    while (NowMs() < end) {
        fp_get_counters(proxy_, &fc);
        if (fc.responses_dropped > 0)
            break;
        Drain(p, t, 20);
    }
    ASSERT_EQ(fc.responses_dropped, 1u) << "the Produce answer was not dropped";
    ASSERT_TRUE(KillAndRestart(Uniform(0, 200))) << broker_.error();
    fp_set_refuse(proxy_, 0);
    end = NowMs() + 15000;
    while (t.count.size() < 20 && NowMs() < end)
        Drain(p, t, 100);
    ASSERT_EQ(t.count.size(), 20u) << "the retried batch was not reported";
    EXPECT_EQ(t.failed, 0);

    auto recs = ReadTopic("idem", 1);
    ASSERT_EQ(recs[0].size(), 20u) << "the retried batch must be stored once";
    for (int i = 0; i < 20; i++) {
        EXPECT_EQ(recs[0][i].value, "v" + std::to_string(i));
        EXPECT_EQ(t.offset[(uintptr_t)i + 1], recs[0][i].offset)
            << "the retry reports the original offset";
        EXPECT_EQ(t.count[(uintptr_t)i + 1], 1);
    }
    ChaosSummary("restart-idempotence", seed_,
                 {{"duplicates", (int64_t)recs[0].size() - 20},
                  {"retries", StatField(t.stats, "retries")},
                  {"reconnects", StatField(t.stats, "reconnects")}});
    EXPECT_EQ(mq_producer_close(p, 2000), MQ_OK);
    mq_producer_destroy(p);
}

TEST_F(ChaosRestart, GracefulShutdownWhileProducing)
{
    const int n = 20000;
    StartBroker();
    CreateTopic("gs", 2);
    mq_producer_t *p = NewProducer("2");
    Tally t;
    std::atomic<bool> stop{false};
    std::thread poller([&] {
        while (!stop)
            Drain(p, t, 50);
    });
    int64_t stop_at = Uniform(500, 1500);
    int64_t t0 = NowMs();
    int exit_code = -100;
    for (int i = 0; i < n; i++) {
        std::string k = "k" + std::to_string(i % 50), v = std::to_string(i);
        ASSERT_EQ(mq_produce(p, "gs", MQ_PARTITION_ANY, k.data(), k.size(), v.data(), v.size(),
                             nullptr, 0, 0, (void *)(uintptr_t)(i + 1), 0),
                  MQ_OK);
        if (i % 500 == 499)
            SleepMs(50); // ~2 s of traffic
        if (exit_code == -100 && NowMs() - t0 >= stop_at) {
            exit_code = broker_.Stop(10000); // SIGTERM: drain, GOAWAY, exit
            ASSERT_TRUE(broker_.Restart()) << broker_.error();
        }
    }
    EXPECT_EQ(exit_code, 0) << "the broker must shut down cleanly under load";
    EXPECT_EQ(mq_producer_flush(p, 30000), MQ_OK);
    SleepMs(300);
    stop = true;
    poller.join();
    EXPECT_EQ(t.count.size(), (size_t)n);
    EXPECT_EQ(t.failed, 0);
    EXPECT_NE(t.disconnect_why, "") << "the client saw the broker go";

    auto recs = ReadTopic("gs", 2);
    std::vector<int> seen(n, 0);
    int64_t dups = 0;
    for (auto &part : recs)
        for (auto &r : part) {
            int i = atoi(r.value.c_str());
            if (i >= 0 && i < n && seen[i]++)
                dups++;
        }
    int64_t missing = 0;
    for (int i = 0; i < n; i++)
        missing += !seen[i];
    EXPECT_EQ(dups, 0);
    EXPECT_EQ(missing, 0);
    ChaosSummary("graceful-shutdown", seed_,
                 {{"duplicates", dups},
                  {"missing", missing},
                  {"retries", StatField(t.stats, "retries")},
                  {"reconnects", StatField(t.stats, "reconnects")}});
    EXPECT_EQ(mq_producer_close(p, 2000), MQ_OK);
    mq_producer_destroy(p);
}
