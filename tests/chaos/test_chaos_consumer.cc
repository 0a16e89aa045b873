// ctest-label: chaos
// A consumer (manual assignment) reading through broker kill -9 / restart
// loops and proxy connection drops: after every reconnect fetching resumes
// at its position, so every message is read, in offset order per
// partition, with duplicates counted (there should be none: the position
// only moves past what poll returned). The consumer-group variant waits for
// the broker's group RPCs.
#include "chaos.h"

class ChaosConsumer : public ChaosTest
{
};

TEST_F(ChaosConsumer, ManualAssignmentResumesAtPosition)
{
    const int n = 40000, parts = 2, kills = 4;
    StartBroker();
    CreateTopic("cc", parts);

    // Fill the topic directly (no faults) so the consumer has work.
    ASSERT_NO_FATAL_FAILURE(FillTopic("cc", n, parts));

    fp_chaos_t ch = {};
    ch.seed = seed_ ^ 0x9e3779b9;
    ch.drop_min_ms = 300;
    ch.drop_max_ms = 1200;
    fp_set_chaos(proxy_, &ch);

    mq_conf_t *conf = MakeConf({{"bootstrap.servers", fp_addr(proxy_)},
                                {"fetch.wait.max.ms", "100"},
                                {"max.partition.fetch.bytes", "16384"},
                                {"fetch.max.bytes", "16384"},
                                // little prefetch: the faults land while fetching
                                {"queued.max.messages.kbytes", "32"},
                                {"request.timeout.ms", "3000"},
                                {"reconnect.backoff.ms", "50"},
                                {"reconnect.backoff.max.ms", "500"},
                                {"connection.ping.interval.ms", "500"},
                                {"connection.ping.timeout.ms", "1000"},
                                {"statistics.interval.ms", "300"}});
    mq_consumer_t *c = nullptr;
    char err[256] = "";
    ASSERT_EQ(mq_consumer_new(conf, &c, err, sizeof err), MQ_OK) << err;
    mq_conf_destroy(conf);
    std::vector<mq_topic_partition_t> tps(parts);
    for (int i = 0; i < parts; i++) {
        tps[i] = {};
        tps[i].topic = "cc";
        tps[i].partition = i;
        tps[i].offset = 0;
    }
    ASSERT_EQ(mq_consumer_assign(c, tps.data(), tps.size()), MQ_OK);

    std::vector<int> seen(n, 0);
    std::vector<int64_t> last(parts, -1);
    int64_t got = 0, dups = 0, disorder = 0, reconnecting = 0, events = 0;
    std::string stats;
    int kills_done = 0;
    int64_t next_kill = NowMs() + Uniform(300, 900);
    int64_t end = NowMs() + 90000;
    // Slow the reader down so the faults land mid-stream (~4-6 s of reading).
    while (got - dups < n && NowMs() < end) {
        if (kills_done < kills && NowMs() >= next_kill) {
            ASSERT_TRUE(KillAndRestart(Uniform(0, 300))) << broker_.error();
            kills_done++;
            next_kill = NowMs() + Uniform(600, 1400);
        }
        mq_message_t *m = nullptr;
        mq_event_t *ev = nullptr;
        if (mq_consumer_poll(c, 50, &m, &ev) != MQ_OK)
            continue;
        if (ev) {
            events++;
            if (mq_event_type(ev) == MQ_EVENT_CONNECTION &&
                mq_event_conn_state(ev) == MQ_CONN_RECONNECTING)
                reconnecting++;
            if (mq_event_type(ev) == MQ_EVENT_STATS)
                stats = mq_event_stats(ev);
            mq_event_destroy(ev);
            continue;
        }
        size_t vl = 0;
        const char *v = (const char *)mq_message_value(m, &vl);
        int i = atoi(std::string(v, vl).c_str());
        int part = mq_message_partition(m);
        int64_t off = mq_message_offset(m);
        got++;
        if (i >= 0 && i < n && seen[i]++)
            dups++;
        if (part >= 0 && part < parts) {
            // A re-read (off <= last) is counted as a duplicate above; a gap
            // means something was skipped.
            if (off > last[part] + 1)
                disorder++;
            if (off > last[part])
                last[part] = off;
        }
        mq_message_destroy(m);
        if (got % 400 == 0)
            SleepMs(50);
    }
    fp_set_chaos(proxy_, nullptr);
    // The events queued behind the last messages (stats, reconnects).
    int64_t drain_end = NowMs() + 700;
    while (NowMs() < drain_end) {
        mq_message_t *m = nullptr;
        mq_event_t *ev = nullptr;
        if (mq_consumer_poll(c, 50, &m, &ev) != MQ_OK)
            continue;
        if (m) {
            got++;
            dups++; // everything was read already
        }
        if (ev && mq_event_type(ev) == MQ_EVENT_CONNECTION &&
            mq_event_conn_state(ev) == MQ_CONN_RECONNECTING)
            reconnecting++;
        if (ev && mq_event_type(ev) == MQ_EVENT_STATS)
            stats = mq_event_stats(ev);
        mq_event_destroy(ev);
        mq_message_destroy(m);
    }
    int64_t missing = 0;
    for (int i = 0; i < n; i++)
        missing += !seen[i];
    EXPECT_EQ(missing, 0) << "messages never consumed";
    EXPECT_EQ(disorder, 0) << "a partition's offsets skipped ahead";
    EXPECT_EQ(kills_done, kills);
    EXPECT_GE(reconnecting, kills) << "every kill is seen as a reconnect";
    fp_counters_t fc;
    fp_get_counters(proxy_, &fc);
    ChaosSummary("consumer", seed_,
                 {{"messages", n},
                  {"kills", kills_done},
                  {"proxy_drops", (int64_t)fc.chaos_drops},
                  {"reconnects", StatField(stats, "reconnects")},
                  {"reconnect_events", reconnecting},
                  {"events", events},
                  {"duplicates", dups},
                  {"missing", missing}});
    mq_consumer_close(c, 2000);
    mq_consumer_destroy(c);
}
