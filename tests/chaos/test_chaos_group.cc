// ctest-label: chaos
// A consumer group (two members, auto-commit) through broker kill -9 /
// restart loops and proxy connection drops: every message is processed at
// least once; duplicates can only come from offsets not yet committed when
// a fault hit, and they are counted and reported. Outages are shorter than
// the session timeout, so membership survives them.
#include <algorithm>
#include <mutex>

#include "chaos.h"

namespace
{

struct Member {
    mq_consumer_t *c = nullptr;
    std::thread th;
    int64_t msgs = 0, reconnecting = 0, rebalances = 0, lost = 0, commit_errors = 0;
    std::string stats;
};

} // namespace

class ChaosGroup : public ChaosTest
{
  protected:
    // kills: broker kill -9 / restarts at random moments; blackhole_ms > 0:
    // one proxy blackhole that long (longer than session.timeout.ms: the
    // members lose their membership and must rejoin).
    void Run(const char *name, int kills, int64_t blackhole_ms, int64_t session_ms);
};

TEST_F(ChaosGroup, MembersThroughKillsAndDropsAtLeastOnce)
{
    Run("group", 4, 0, 6000);
}

TEST_F(ChaosGroup, LongOutageMembersRejoin)
{
    Run("group-rejoin", 1, 2500, 1000);
}

void ChaosGroup::Run(const char *name, int kills, int64_t blackhole_ms, int64_t session_ms)
{
    const int n = 20000, parts = 4;
    StartBroker({"--group.min.session.timeout.ms=200", "--group.heartbeat.interval.ms=200"});
    CreateTopic("cg", parts);
    ASSERT_NO_FATAL_FAILURE(FillTopic("cg", n, parts));

    fp_chaos_t ch = {};
    ch.seed = seed_ ^ 0x85ebca6b;
    ch.drop_min_ms = 500;
    ch.drop_max_ms = 1500;
    fp_set_chaos(proxy_, &ch);

    std::mutex mu;
    std::vector<int> seen(n, 0);
    std::vector<int64_t> committed(parts, -1), next_off(parts, 0);
    int64_t below_committed = 0;
    std::atomic<int64_t> distinct{0};
    std::atomic<bool> stop{false};
    Member members[2];
    for (auto &m : members) {
        mq_conf_t *conf = MakeConf({{"bootstrap.servers", fp_addr(proxy_)},
                                    {"group.id", "chaos-group"},
                                    {"session.timeout.ms", std::to_string(session_ms)},
                                    {"heartbeat.interval.ms", "200"},
                                    {"auto.offset.reset", "earliest"},
                                    {"auto.commit.interval.ms", "200"},
                                    {"fetch.wait.max.ms", "100"},
                                    {"max.partition.fetch.bytes", "8192"},
                                    {"fetch.max.bytes", "16384"},
                                    {"queued.max.messages.kbytes", "32"},
                                    {"request.timeout.ms", "3000"},
                                    {"reconnect.backoff.ms", "50"},
                                    {"reconnect.backoff.max.ms", "500"},
                                    {"connection.ping.interval.ms", "500"},
                                    {"connection.ping.timeout.ms", "1000"},
                                    {"statistics.interval.ms", "300"}});
        char err[256] = "";
        ASSERT_EQ(mq_consumer_new(conf, &m.c, err, sizeof err), MQ_OK) << err;
        mq_conf_destroy(conf);
        const char *t = "cg";
        ASSERT_EQ(mq_consumer_subscribe(m.c, &t, 1), MQ_OK);
    }
    for (auto &m : members) {
        Member *mp = &m;
        m.th = std::thread([&, mp] {
            while (!stop) {
                mq_message_t *msg = nullptr;
                mq_event_t *ev = nullptr;
                if (mq_consumer_poll(mp->c, 50, &msg, &ev) != MQ_OK)
                    continue;
                if (ev) {
                    switch (mq_event_type(ev)) {
                    case MQ_EVENT_CONNECTION:
                        mp->reconnecting += mq_event_conn_state(ev) == MQ_CONN_RECONNECTING;
                        break;
                    case MQ_EVENT_REBALANCE:
                        mp->rebalances++;
                        mp->lost += mq_event_rebalance_type(ev) == MQ_REBALANCE_LOST;
                        break;
                    case MQ_EVENT_COMMIT: {
                        mp->commit_errors += mq_event_error(ev) != MQ_OK;
                        size_t np = 0;
                        const mq_topic_partition_t *l = mq_event_partitions(ev, &np);
                        std::lock_guard<std::mutex> g(mu);
                        for (size_t k = 0; k < np; k++)
                            if (mq_event_error(ev) == MQ_OK && l[k].err == MQ_OK &&
                                l[k].partition >= 0 && l[k].partition < parts)
                                committed[l[k].partition] =
                                    std::max(committed[l[k].partition], l[k].offset);
                        break;
                    }
                    case MQ_EVENT_STATS:
                        mp->stats = mq_event_stats(ev);
                        break;
                    default:
                        break;
                    }
                    mq_event_destroy(ev);
                    continue;
                }
                size_t vl = 0;
                const char *v = (const char *)mq_message_value(msg, &vl);
                int i = atoi(std::string(v, vl).c_str());
                int32_t part = mq_message_partition(msg);
                int64_t off = mq_message_offset(msg);
                mq_message_destroy(msg);
                mp->msgs++;
                std::lock_guard<std::mutex> g(mu);
                if (i >= 0 && i < n && seen[i]++ == 0)
                    distinct++;
                if (part >= 0 && part < parts) {
                    // A re-read below an offset the group had committed is
                    // a duplicate that did not come from uncommitted work.
                    if (off < next_off[part] && off < committed[part])
                        below_committed++;
                    next_off[part] = std::max(next_off[part], off + 1);
                }
                if (mp->msgs % 100 == 0)
                    SleepMs(50); // ~5 s of reading: the faults land mid-stream
            }
        });
    }

    int kills_done = 0;
    int64_t end = NowMs() + 90000;
    int64_t next_kill = NowMs() + Uniform(600, 1100);
    int64_t blackhole_at = blackhole_ms > 0 ? NowMs() + Uniform(1000, 1500) : INT64_MAX;
    while (distinct < n && NowMs() < end) {
        if (NowMs() >= blackhole_at) {
            fp_set_blackhole(proxy_, 1);
            SleepMs(blackhole_ms);
            fp_set_blackhole(proxy_, 0);
            blackhole_at = INT64_MAX;
        }
        if (kills_done < kills && NowMs() >= next_kill) {
            ASSERT_TRUE(KillAndRestart(Uniform(0, 400))) << broker_.error();
            kills_done++;
            next_kill = NowMs() + Uniform(600, 1100);
        }
        SleepMs(20);
    }
    fp_set_chaos(proxy_, nullptr);
    SleepMs(600); // the events behind the last messages
    stop = true;
    for (auto &m : members)
        m.th.join();

    int64_t total = members[0].msgs + members[1].msgs;
    int64_t missing = n - distinct.load();
    int64_t dups = total - distinct.load();
    EXPECT_EQ(missing, 0) << "at-least-once: messages never processed";
    EXPECT_EQ(kills_done, kills);
    EXPECT_GT(members[0].msgs, 0) << "both members take part";
    EXPECT_GT(members[1].msgs, 0) << "both members take part";
    // Duplicates come only from offsets processed but not committed when a
    // fault hit: no message is read again below a committed offset.
    EXPECT_EQ(below_committed, 0) << "re-read messages whose offsets were committed";
    if (blackhole_ms > session_ms) {
        EXPECT_GT(members[0].lost + members[1].lost, 0)
            << "an outage past session.timeout.ms loses the partitions (then rejoins)";
    }
    fp_counters_t fc;
    fp_get_counters(proxy_, &fc);
    ChaosSummary(name, seed_,
                 {{"messages", n},
                  {"kills", kills_done},
                  {"proxy_drops", (int64_t)fc.chaos_drops},
                  {"reconnect_events", members[0].reconnecting + members[1].reconnecting},
                  {"rebalances", members[0].rebalances + members[1].rebalances},
                  {"lost", members[0].lost + members[1].lost},
                  {"commit_errors", members[0].commit_errors + members[1].commit_errors},
                  {"duplicates", dups},
                  {"dups_below_committed", below_committed},
                  {"missing", missing}});
    for (auto &m : members) {
        int64_t t0 = NowMs();
        mq_consumer_close(m.c, 3000);
        EXPECT_LE(NowMs() - t0, 4000) << "close within its timeout";
        mq_consumer_destroy(m.c);
    }
}
