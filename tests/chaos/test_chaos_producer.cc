// ctest-label: chaos
// An idempotent acks=all producer through broker kill -9 / restart loops
// and proxy faults: every message gets exactly one delivery report, and
// reading the topic back finds each delivered message exactly once, in
// per-key order, at the offset its report gave, none missing. Faults are
// drawn from MQ_CHAOS_SEED.
#include "chaos.h"

namespace
{

// Collects delivery reports and the last stats on its own thread.
class Reports
{
  public:
    explicit Reports(mq_producer_t *p, size_t n) : count_(n, 0), offset_(n, -1), part_(n, -1), p_(p)
    {
        th_ = std::thread([this] { Run(); });
    }
    ~Reports()
    {
        Stop();
    }
    void Stop()
    {
        stop_ = true;
        if (th_.joinable())
            th_.join();
    }
    size_t Done() const
    {
        return done_.load();
    }
    std::vector<int> count_;
    std::vector<int64_t> offset_;
    std::vector<int32_t> part_;
    std::map<std::string, int64_t> errors_; // error text -> count
    std::string stats_;
    int64_t conn_events_ = 0, reconnecting_ = 0, possibly_ = 0;

  private:
    void Run()
    {
        while (!stop_) {
            mq_event_t *ev = nullptr;
            if (mq_producer_poll(p_, 100, &ev) != MQ_OK)
                continue;
            switch (mq_event_type(ev)) {
            case MQ_EVENT_DELIVERY: {
                size_t i = (size_t)(uintptr_t)mq_event_opaque(ev) - 1;
                if (i < count_.size()) {
                    count_[i]++;
                    offset_[i] = mq_event_offset(ev);
                    part_[i] = mq_event_partition(ev);
                }
                if (mq_event_error(ev) != MQ_OK) {
                    errors_[std::string(mq_err_name(mq_event_error(ev))) + ": " +
                            mq_event_error_string(ev)]++;
                    if (mq_event_persisted(ev) == MQ_POSSIBLY_PERSISTED)
                        possibly_++;
                }
                done_++;
                break;
            }
            case MQ_EVENT_STATS:
                stats_ = mq_event_stats(ev);
                break;
            case MQ_EVENT_CONNECTION:
                conn_events_++;
                reconnecting_ += mq_event_conn_state(ev) == MQ_CONN_RECONNECTING;
                break;
            default:
                break;
            }
            mq_event_destroy(ev);
        }
    }
    mq_producer_t *p_;
    std::thread th_;
    std::atomic<bool> stop_{false};
    std::atomic<size_t> done_{0};
};

} // namespace

class ChaosProducer : public ChaosTest
{
};

TEST_F(ChaosProducer, KillsAndProxyDropsExactlyOnceInKeyOrder)
{
    const int n = 200000, keys = 1000, parts = 4, kills = 10;
    const int64_t produce_ms = 20000; // the messages are spread over this time
    StartBroker();
    CreateTopic("chaos", parts);

    // Proxy faults from the seed: connections reset every 0.7-2.5 s, and
    // now and then a Produce response dropped after the broker stored it.
    fp_chaos_t ch = {};
    ch.seed = seed_ ^ 0x5bd1e995;
    ch.drop_min_ms = 700;
    ch.drop_max_ms = 2500;
    ch.response_drop_permille = 3;
    ch.response_path = "Produce";
    fp_set_chaos(proxy_, &ch);

    mq_conf_t *conf = MakeConf({{"bootstrap.servers", fp_addr(proxy_)},
                                {"acks", "all"},
                                {"enable.idempotence", "true"},
                                {"linger.ms", "5"},
                                {"max.in.flight", "5"},
                                {"request.timeout.ms", "5000"},
                                {"message.timeout.ms", "110000"},
                                {"reconnect.backoff.ms", "50"},
                                {"reconnect.backoff.max.ms", "1000"},
                                {"retry.backoff.ms", "50"},
                                {"retry.backoff.max.ms", "500"},
                                {"connection.ping.interval.ms", "1000"},
                                {"connection.ping.timeout.ms", "1000"},
                                {"statistics.interval.ms", "500"}});
    mq_producer_t *p = nullptr;
    char err[256] = "";
    ASSERT_EQ(mq_producer_new(conf, &p, err, sizeof err), MQ_OK) << err;
    mq_conf_destroy(conf);
    Reports rep(p, n);

    // Producer thread: keyed messages, value "key:seq", paced over produce_ms.
    std::atomic<int> produced{0};
    std::thread prod([&] {
        std::vector<int> seq(keys, 0);
        int64_t start = NowMs();
        for (int i = 0; i < n; i++) {
            int k = i % keys;
            char key[16], val[32];
            int kl = snprintf(key, sizeof key, "k%d", k);
            int vl = snprintf(val, sizeof val, "%d:%d", k, seq[k]++);
            mq_err_t rc;
            while ((rc = mq_produce(p, "chaos", MQ_PARTITION_ANY, key, (size_t)kl, val, (size_t)vl,
                                    nullptr, 0, 0, (void *)(uintptr_t)(i + 1), 0)) ==
                   MQ_ERR_QUEUE_FULL)
                SleepMs(5);
            if (rc != MQ_OK) {
                ADD_FAILURE() << "mq_produce: " << mq_err_name(rc);
                return;
            }
            produced++;
            if (i % 1000 == 999) {
                int64_t due = start + produce_ms * (i + 1) / n;
                if (due > NowMs())
                    SleepMs(due - NowMs());
            }
        }
    });

    // Kill -9 and restart at random moments while messages flow.
    int done_kills = 0;
    int64_t kill_window = produce_ms + 2000;
    int64_t t0 = NowMs();
    for (int k = 0; k < kills; k++) {
        int64_t at = t0 + kill_window * k / kills + Uniform(0, kill_window / kills - 600);
        if (at > NowMs())
            SleepMs(at - NowMs());
        if (!KillAndRestart(Uniform(0, 400))) {
            ADD_FAILURE() << "restart failed: " << broker_.error();
            break;
        }
        done_kills++;
    }
    prod.join();
    ASSERT_EQ(produced.load(), n);
    fp_set_chaos(proxy_, nullptr);

    EXPECT_EQ(mq_producer_flush(p, 90000), MQ_OK) << "not every message was reported";
    int64_t end = NowMs() + 10000;
    while (rep.Done() < (size_t)n && NowMs() < end)
        SleepMs(20);
    SleepMs(700); // one more stats event, and any stray duplicate report
    rep.Stop();
    fp_counters_t fc;
    fp_get_counters(proxy_, &fc);

    // Exactly one report per message, all delivered.
    int missing = 0, dup_reports = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        missing += rep.count_[i] == 0;
        dup_reports += rep.count_[i] > 1;
        failed += rep.count_[i] > 0 && rep.offset_[i] < 0;
    }
    EXPECT_EQ(missing, 0) << "messages without a delivery report";
    EXPECT_EQ(dup_reports, 0) << "messages reported more than once";
    EXPECT_EQ(failed, 0) << "messages not delivered";
    for (auto &e : rep.errors_)
        ADD_FAILURE() << e.second << " x " << e.first;

    // Read back: each message exactly once, per-key order, at its offset.
    auto topic = ReadTopic("chaos", parts);
    std::map<std::string, int> next_seq; // per key
    std::vector<int> seen(n, 0);
    int64_t stored = 0, dups = 0, out_of_order = 0, wrong_offset = 0;
    for (int part = 0; part < parts; part++) {
        for (auto &r : topic[part]) {
            stored++;
            int k = -1, s = -1;
            if (sscanf(r.value.c_str(), "%d:%d", &k, &s) != 2 || k < 0 || k >= keys) {
                ADD_FAILURE() << "unexpected record " << r.value;
                continue;
            }
            int i = s * keys + k; // the producer's message index
            if (i >= n)
                continue;
            if (seen[i]++)
                dups++;
            int &want = next_seq[r.key];
            if (s != want)
                out_of_order++;
            want = s + 1;
            if (rep.part_[i] != part || rep.offset_[i] != r.offset)
                wrong_offset++;
        }
    }
    int64_t absent = 0;
    for (int i = 0; i < n; i++)
        absent += seen[i] == 0;
    EXPECT_EQ(stored, n);
    EXPECT_EQ(dups, 0) << "duplicates in the log";
    EXPECT_EQ(absent, 0) << "delivered messages missing from the log";
    EXPECT_EQ(out_of_order, 0) << "per-key order broken";
    EXPECT_EQ(wrong_offset, 0) << "stored offset differs from the delivery report";
    EXPECT_EQ(done_kills, kills);

    int64_t reconnects = StatField(rep.stats_, "reconnects");
    int64_t retries = StatField(rep.stats_, "retries");
    EXPECT_GE(reconnects, kills) << "every kill costs a reconnect";
    ChaosSummary("producer", seed_,
                 {{"messages", n},
                  {"kills", done_kills},
                  {"proxy_drops", (int64_t)fc.chaos_drops},
                  {"responses_dropped", (int64_t)fc.responses_dropped},
                  {"produce_requests", (int64_t)fp_requests(proxy_, "Produce")},
                  {"reconnects", reconnects},
                  {"retries", retries},
                  {"reconnect_events", rep.reconnecting_},
                  {"duplicates", dups},
                  {"missing", absent}});
    EXPECT_EQ(mq_producer_close(p, 5000), MQ_OK);
    mq_producer_destroy(p);
}
