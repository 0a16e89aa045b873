// libmqclient's consumer in groups against a real mqbroker (its group
// coordinator), with short session timeouts: partitions owned once, a
// killed member's partitions move and every message is consumed at least
// once, a joining member moves exactly its share while the others keep
// consuming, groups and offsets survive a broker restart, a fenced commit
// is rejected, max.poll.interval.ms, commits and the example program.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "broker_fixture.h"
#include "fault_proxy.h"

extern "C" {
#include "mqclient.h"
}

namespace
{

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

// Broker keys that let a test use short sessions.
const std::vector<std::string> kGroupArgs = {"--group.min.session.timeout.ms=200",
                                             "--group.heartbeat.interval.ms=200"};

// One group member polled by the test's thread.
struct Member {
    mq_consumer_t *c = nullptr;
    std::string name;
    std::set<int> owned;
    std::set<int> ever_revoked;
    std::map<int, std::vector<int64_t>> got; // partition -> offsets in order
    std::map<int, int64_t> last_ms;          // partition -> last message time
    std::map<int, int64_t> max_gap_ms;       // since gap tracking started
    bool track_gaps = false;
    std::vector<mq_err_t> errors;
    std::vector<mq_err_t> commit_results;
    int rebalances = 0;
};

class GroupTest : public BrokerTestBase
{
  protected:
    void TearDown() override
    {
        for (auto *m : members_) {
            mq_consumer_destroy(m->c);
            delete m;
        }
        members_.clear();
        for (pid_t pid : children_) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
        if (proxy_)
            fp_stop(proxy_);
        BrokerTestBase::TearDown();
    }

    Member *Join(const std::string &group, const std::string &topic,
                 std::vector<std::pair<const char *, const char *>> kv = {},
                 const char *brokers = nullptr)
    {
        mq_conf_t *conf = mq_conf_new();
        char err[512];
        EXPECT_EQ(mq_conf_set(conf, "bootstrap.servers", brokers ? brokers : broker_.client_addr(),
                              err, sizeof err),
                  MQ_OK);
        mq_conf_set(conf, "group.id", group.c_str(), err, sizeof err);
        mq_conf_set(conf, "session.timeout.ms", "1000", err, sizeof err);
        mq_conf_set(conf, "heartbeat.interval.ms", "200", err, sizeof err);
        mq_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof err);
        mq_conf_set(conf, "auto.commit.interval.ms", "200", err, sizeof err);
        for (auto &p : kv)
            EXPECT_EQ(mq_conf_set(conf, p.first, p.second, err, sizeof err), MQ_OK) << err;
        Member *m = new Member;
        m->name = "m" + std::to_string(members_.size());
        EXPECT_EQ(mq_consumer_new(conf, &m->c, err, sizeof err), MQ_OK) << err;
        mq_conf_destroy(conf);
        const char *t = topic.c_str();
        EXPECT_EQ(mq_consumer_subscribe(m->c, &t, 1), MQ_OK);
        members_.push_back(m);
        return m;
    }

    void Leave(Member *m)
    {
        for (auto it = members_.begin(); it != members_.end(); ++it)
            if (*it == m) {
                members_.erase(it);
                break;
            }
        mq_consumer_destroy(m->c);
        delete m;
    }

    static void Handle(Member *m, mq_message_t *msg, mq_event_t *ev)
    {
        if (msg) {
            int p = mq_message_partition(msg);
            int64_t now = rc_now_ms();
            if (m->track_gaps && m->last_ms.count(p))
                m->max_gap_ms[p] = std::max(m->max_gap_ms[p], now - m->last_ms[p]);
            m->last_ms[p] = now;
            m->got[p].push_back(mq_message_offset(msg));
            mq_message_destroy(msg);
            return;
        }
        switch (mq_event_type(ev)) {
        case MQ_EVENT_REBALANCE: {
            size_t n;
            const mq_topic_partition_t *l = mq_event_partitions(ev, &n);
            m->rebalances++;
            for (size_t i = 0; i < n; i++) {
                if (mq_event_rebalance_type(ev) == MQ_REBALANCE_ASSIGN) {
                    EXPECT_EQ(m->owned.count(l[i].partition), 0u)
                        << m->name << " assigned " << l[i].partition << " twice";
                    m->owned.insert(l[i].partition);
                } else {
                    m->owned.erase(l[i].partition);
                    m->ever_revoked.insert(l[i].partition);
                    m->last_ms.erase(l[i].partition);
                }
            }
            break;
        }
        case MQ_EVENT_ERROR:
            m->errors.push_back(mq_event_error(ev));
            break;
        case MQ_EVENT_COMMIT:
            m->commit_results.push_back(mq_event_error(ev));
            break;
        default:
            break;
        }
        mq_event_destroy(ev);
    }

    // Polls every member (except `skip`) for ms.
    void Pump(int ms, const std::set<Member *> &skip = {})
    {
        int64_t until = rc_now_ms() + ms;
        do {
            for (auto *m : members_) {
                if (skip.count(m))
                    continue;
                for (int i = 0; i < 200; i++) {
                    mq_message_t *msg;
                    mq_event_t *ev;
                    if (mq_consumer_poll(m->c, 0, &msg, &ev) != MQ_OK)
                        break;
                    Handle(m, msg, ev);
                }
            }
            usleep(2000);
        } while (rc_now_ms() < until);
    }

    // Pumps until pred() holds or timeout; returns whether it held.
    template <class F> bool PumpUntil(F pred, int timeout_ms, const std::set<Member *> &skip = {})
    {
        int64_t until = rc_now_ms() + timeout_ms;
        while (rc_now_ms() < until) {
            Pump(10, skip);
            if (pred())
                return true;
        }
        return pred();
    }

    // The members' assignments cover 0..n-1 exactly once.
    static bool Covers(const std::vector<Member *> &ms, int n)
    {
        std::map<int, int> owners;
        for (auto *m : ms)
            for (int p : m->owned)
                owners[p]++;
        if ((int)owners.size() != n)
            return false;
        for (auto &o : owners)
            if (o.second != 1 || o.first < 0 || o.first >= n)
                return false;
        return true;
    }

    void Produce(const std::string &topic, int partitions, int per_partition)
    {
        mq_conf_t *conf = mq_conf_new();
        char err[512];
        mq_conf_set(conf, "bootstrap.servers", broker_.client_addr(), err, sizeof err);
        mq_conf_set(conf, "enable.idempotence", "false", err, sizeof err);
        mq_producer_t *p = nullptr;
        ASSERT_EQ(mq_producer_new(conf, &p, err, sizeof err), MQ_OK) << err;
        mq_conf_destroy(conf);
        for (int i = 0; i < per_partition; i++)
            for (int part = 0; part < partitions; part++) {
                std::string v = std::to_string(part) + ":" + std::to_string(i);
                ASSERT_EQ(mq_produce(p, topic.c_str(), part, nullptr, 0, v.data(), v.size(),
                                     nullptr, 0, 0, nullptr, MQ_PRODUCE_BLOCK),
                          MQ_OK);
            }
        ASSERT_EQ(mq_producer_flush(p, 30000), MQ_OK);
        mq_producer_destroy(p);
    }

    std::vector<Member *> members_;
    std::vector<pid_t> children_;
    fault_proxy_t *proxy_ = nullptr;
};

// A producer thread writing to every partition at a steady pace.
class Pacer
{
  public:
    Pacer(const char *brokers, const std::string &topic, int partitions, int per_sec)
    {
        mq_conf_t *conf = mq_conf_new();
        mq_conf_set(conf, "bootstrap.servers", brokers, nullptr, 0);
        mq_conf_set(conf, "enable.idempotence", "false", nullptr, 0);
        mq_conf_set(conf, "acks", "leader", nullptr, 0);
        mq_conf_set(conf, "linger.ms", "1", nullptr, 0);
        char err[256];
        mq_producer_new(conf, &p_, err, sizeof err);
        mq_conf_destroy(conf);
        th_ = std::thread([=] {
            int64_t i = 0;
            while (!stop_) {
                for (int part = 0; part < partitions; part++)
                    mq_produce(p_, topic.c_str(), part, nullptr, 0, "x", 1, nullptr, 0, 0, nullptr,
                               0);
                i++;
                mq_event_t *ev;
                while (mq_producer_poll(p_, 0, &ev) == MQ_OK)
                    mq_event_destroy(ev);
                usleep(1000000 / per_sec);
            }
        });
    }
    ~Pacer()
    {
        stop_ = true;
        th_.join();
        mq_producer_destroy(p_);
    }

  private:
    mq_producer_t *p_ = nullptr;
    std::atomic<bool> stop_{false};
    std::thread th_;
};

} // namespace

TEST_F(GroupTest, ThreeMembersOwnEachOfTwelvePartitionsOnce)
{
    StartBroker(kGroupArgs);
    CreateTopic("g12", 12);
    Member *a = Join("g", "g12"), *b = Join("g", "g12"), *c = Join("g", "g12");
    ASSERT_TRUE(PumpUntil(
        [&] {
            return Covers({a, b, c}, 12);
        },
        15000))
        << a->owned.size() << "+" << b->owned.size() << "+" << c->owned.size();
    Pump(500);
    ASSERT_TRUE(Covers({a, b, c}, 12)) << "stable";
    for (auto *m : {a, b, c})
        EXPECT_EQ(m->owned.size(), 4u) << m->name;
    // Each message goes to the partition's owner only.
    Produce("g12", 12, 5);
    ASSERT_TRUE(PumpUntil(
        [&] {
            size_t n = 0;
            for (auto *m : {a, b, c})
                for (auto &g : m->got)
                    n += g.second.size();
            return n == 60;
        },
        15000));
    for (auto *m : {a, b, c})
        for (auto &g : m->got) {
            EXPECT_EQ(m->owned.count(g.first), 1u) << m->name << " got partition " << g.first;
            EXPECT_EQ(g.second.size(), 5u);
        }
}

TEST_F(GroupTest, KilledMemberPartitionsMoveAndEveryMessageIsConsumed)
{
    StartBroker(kGroupArgs);
    CreateTopic("gk", 12);
    const int per = test_scale(200, 50); // per partition: half before the kill, half after
    Produce("gk", 12, per / 2);
    // The victim: the example program as a child process.
    char tmpl[] = "/tmp/mq-consumer-child-XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    std::string exe = std::string(MQ_BIN_DIR) + "/../examples/c/consumer";
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        dup2(fd, 1);
        execl(exe.c_str(), exe.c_str(), "-X", "session.timeout.ms=1000", "-X",
              "heartbeat.interval.ms=200", "-X", "auto.commit.interval.ms=200", "-X",
              "queued.max.messages.kbytes=1", broker_.client_addr(), "gk", "gkg", (char *)nullptr);
        _exit(127);
    }
    children_.push_back(pid);
    close(fd);
    // Let it take all partitions and consume some, then the others join.
    usleep(1500 * 1000);
    Member *a = Join("gkg", "gk"), *b = Join("gkg", "gk");
    std::string out;
    auto child_owned = [&] {
        std::ifstream in(tmpl);
        std::stringstream ss;
        ss << in.rdbuf();
        out = ss.str();
        return out;
    };
    ASSERT_TRUE(PumpUntil([&] { return a->owned.size() + b->owned.size() == 8; }, 15000))
        << child_owned();
    // More while the child works on it: what it has not committed yet is
    // read again by the new owners.
    Produce("gk", 12, per / 4);
    Pump(30);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    children_.clear();
    int64_t t0 = rc_now_ms();
    ASSERT_TRUE(PumpUntil([&] { return Covers({a, b}, 12); }, 10000));
    int64_t moved_ms = rc_now_ms() - t0;
    RecordProperty("partitions_moved_ms", (int)moved_ms);
    EXPECT_LT(moved_ms, 1000 + 1500) << "within the session timeout (1000 ms) plus slack";
    Produce("gk", 12, per - per / 2 - per / 4);
    // Everything is consumed at least once.
    auto report = [&] {
        std::string r;
        for (int p = 0; p < 12; p++) {
            int64_t top = -1;
            size_t n = 0;
            for (auto *m : {a, b}) {
                for (int64_t o : m->got[p])
                    top = std::max(top, o);
                n += m->got[p].size();
            }
            r += " p" + std::to_string(p) + ":" + std::to_string(top) + "/" + std::to_string(n) +
                 (a->owned.count(p)   ? "a"
                  : b->owned.count(p) ? "b"
                                      : "-");
        }
        return r;
    };
    ASSERT_TRUE(PumpUntil(
        [&] {
            for (int p = 0; p < 12; p++) {
                int64_t top = -1;
                for (auto *m : {a, b})
                    for (int64_t o : m->got[p])
                        top = std::max(top, o);
                if (top < per - 1)
                    return false;
            }
            return true;
        },
        20000))
        << report();
    std::map<int, std::map<int64_t, int>> seen;
    std::istringstream lines(child_owned());
    std::string line;
    std::set<int> child_parts;
    while (std::getline(lines, line)) {
        int p;
        long long o;
        if (sscanf(line.c_str(), "msg %d %lld", &p, &o) == 2) {
            seen[p][o]++;
            child_parts.insert(p);
        }
    }
    for (auto *m : {a, b})
        for (auto &g : m->got)
            for (int64_t o : g.second)
                seen[g.first][o]++;
    int dups = 0;
    for (int p = 0; p < 12; p++) {
        for (int64_t o = 0; o < per; o++) {
            ASSERT_GE(seen[p][o], 1) << "partition " << p << " offset " << o << " never consumed";
            if (seen[p][o] > 1) {
                dups += seen[p][o] - 1;
                EXPECT_EQ(child_parts.count(p), 1u)
                    << "duplicates only where the killed member left uncommitted offsets";
            }
        }
    }
    RecordProperty("duplicates", dups);
    printf("kill -9: partitions moved in %lld ms, %d duplicates of %d messages\n",
           (long long)moved_ms, dups, 12 * per);
}

TEST_F(GroupTest, FourthMemberMovesExactlyThreePartitionsOthersKeepConsuming)
{
    StartBroker(kGroupArgs);
    CreateTopic("g4", 12);
    Member *a = Join("g4g", "g4"), *b = Join("g4g", "g4"), *c = Join("g4g", "g4");
    ASSERT_TRUE(PumpUntil([&] { return Covers({a, b, c}, 12); }, 15000));
    Pacer pacer(broker_.client_addr(), "g4", 12, 100);
    Pump(800);
    std::map<int, Member *> before;
    for (auto *m : {a, b, c}) {
        for (int p : m->owned)
            before[p] = m;
        m->ever_revoked.clear();
        m->track_gaps = true;
        m->max_gap_ms.clear();
    }
    int64_t t0 = rc_now_ms();
    Member *d = Join("g4g", "g4");
    ASSERT_TRUE(PumpUntil([&] { return Covers({a, b, c, d}, 12) && d->owned.size() == 3; }, 10000));
    int64_t rebalance_ms = rc_now_ms() - t0;
    Pump(800);
    ASSERT_TRUE(Covers({a, b, c, d}, 12));
    int moved = 0;
    for (auto &bp : before) {
        bool revoked = bp.second->ever_revoked.count(bp.first) > 0;
        moved += revoked;
        if (!revoked) {
            EXPECT_EQ(bp.second->owned.count(bp.first), 1u);
            EXPECT_LT(bp.second->max_gap_ms[bp.first], 1000)
                << "partition " << bp.first << " kept being consumed";
        } else {
            EXPECT_EQ(d->owned.count(bp.first), 1u) << "a moved partition goes to the new member";
        }
    }
    EXPECT_EQ(moved, 3) << "sticky: exactly the new member's share moves";
    RecordProperty("rebalance_ms", (int)rebalance_ms);
    printf("4th member: %d partitions moved, rebalance done in %lld ms\n", moved,
           (long long)rebalance_ms);
}

TEST_F(GroupTest, BrokerRestartKeepsGroupAndOffsets)
{
    int port = free_port();
    std::string listen = "127.0.0.1:" + std::to_string(port);
    auto args = kGroupArgs;
    args.push_back("--listen");
    args.push_back(listen);
    StartBroker(args);
    CreateTopic("gr", 2);
    Produce("gr", 2, 10);
    Member *a = Join("grg", "gr",
                     {{"session.timeout.ms", "10000"},
                      {"client.id", "billing-7"},
                      {"enable.auto.commit", "false"},
                      {"reconnect.backoff.ms", "50"},
                      {"reconnect.backoff.max.ms", "200"}},
                     listen.c_str());
    ASSERT_TRUE(PumpUntil([&] { return a->got[0].size() + a->got[1].size() == 20; }, 15000));
    ASSERT_EQ(mq_consumer_commit(a->c, nullptr, 0, 0), MQ_OK);
    ASSERT_EQ(broker_.Stop(10000), 0);
    ASSERT_TRUE(broker_.Restart()) << broker_.error();
    ASSERT_EQ(broker_.port(), port);
    mq_topic_partition_t q[2] = {{"gr", 0, 0, 0}, {"gr", 1, 0, 0}};
    ASSERT_EQ(mq_consumer_committed(a->c, q, 2, 10000), MQ_OK);
    EXPECT_EQ(q[0].offset, 10);
    EXPECT_EQ(q[1].offset, 10);
    // The member is still in its group: no partition is lost or revoked,
    // and new messages keep coming to it.
    int before = a->rebalances;
    Produce("gr", 2, 5);
    ASSERT_TRUE(PumpUntil([&] { return a->got[0].size() + a->got[1].size() == 30; }, 15000));
    Pump(1500);
    EXPECT_EQ(a->rebalances, before) << "the group survived the restart";
    EXPECT_EQ(a->owned.size(), 2u);
    // Describe names the member's client.id and address (as Kafka's
    // CLIENT-ID and HOST), kept across the restart.
    char *body = nullptr;
    ASSERT_EQ(rc_admin_request(broker_.admin_addr(), "GET", "/api/v1/groups/grg", nullptr, &body),
              200);
    std::string d = body ? body : "";
    free(body);
    EXPECT_NE(d.find(R"("client_id":"billing-7")"), std::string::npos) << d;
    EXPECT_NE(d.find(R"("client_address":"127.0.0.1:)"), std::string::npos) << d;
}

TEST_F(GroupTest, FencedCommitIsRejected)
{
    StartBroker(kGroupArgs);
    CreateTopic("gf", 2);
    Produce("gf", 2, 10);
    char err[256];
    proxy_ = fp_start(broker_.host(), broker_.port(), err, sizeof err);
    ASSERT_NE(proxy_, nullptr) << err;
    Member *a = Join("gfg", "gf", {{"enable.auto.commit", "false"}}, fp_addr(proxy_));
    ASSERT_TRUE(PumpUntil([&] { return a->got[0].size() + a->got[1].size() == 20; }, 15000));
    // a goes silent past its session: the broker removes it and b takes over.
    fp_set_blackhole(proxy_, 1);
    usleep(1500 * 1000);
    Member *b = Join("gfg", "gf", {{"enable.auto.commit", "false"}});
    ASSERT_TRUE(PumpUntil([&] { return b->owned.size() == 2; }, 10000, {a}));
    // The zombie commits what it consumed: sent with its old member epoch.
    ASSERT_EQ(mq_consumer_commit(a->c, nullptr, 0, MQ_COMMIT_ASYNC), MQ_OK);
    usleep(200 * 1000);
    fp_set_blackhole(proxy_, 0);
    ASSERT_TRUE(PumpUntil([&] { return !a->commit_results.empty(); }, 10000));
    mq_err_t rc = a->commit_results[0];
    EXPECT_TRUE(rc == MQ_ERR_UNKNOWN_MEMBER || rc == MQ_ERR_FENCED_MEMBER_EPOCH) << mq_err_name(rc);
    mq_topic_partition_t q[2] = {{"gf", 0, 0, 0}, {"gf", 1, 0, 0}};
    ASSERT_EQ(mq_consumer_committed(b->c, q, 2, 10000), MQ_OK);
    EXPECT_EQ(q[0].offset, -1) << "the fenced commit stored nothing";
    EXPECT_EQ(q[1].offset, -1);
}

TEST_F(GroupTest, StaticMemberRestartTakesBackItsPartitionsWithoutARebalance)
{
    StartBroker(kGroupArgs);
    CreateTopic("gs", 4);
    Member *a = Join("gsg", "gs", {{"group.instance.id", "a"}, {"session.timeout.ms", "5000"}});
    Member *b = Join("gsg", "gs", {{"group.instance.id", "b"}, {"session.timeout.ms", "5000"}});
    ASSERT_TRUE(PumpUntil([&] { return Covers({a, b}, 4) && a->owned.size() == 2; }, 15000));
    Pump(300);
    std::set<int> a_parts = a->owned;
    int b_rebalances = b->rebalances;
    // a restarts: closes (a static member's partitions stay reserved for it
    // until its session times out) and comes back under the same id.
    Leave(a);
    Member *a2 = Join("gsg", "gs", {{"group.instance.id", "a"}, {"session.timeout.ms", "5000"}});
    ASSERT_TRUE(PumpUntil([&] { return a2->owned == a_parts; }, 10000))
        << "the restarted member gets its partitions back";
    Pump(500);
    EXPECT_EQ(b->rebalances, b_rebalances) << "the other member saw no rebalance";
    EXPECT_EQ(b->owned.size(), 2u);
}

TEST_F(GroupTest, CloseAndUnsubscribeLeaveAtOnce)
{
    StartBroker(kGroupArgs);
    CreateTopic("gl", 4);
    Member *a = Join("glg", "gl", {{"session.timeout.ms", "30000"}});
    Member *b = Join("glg", "gl", {{"session.timeout.ms", "30000"}});
    ASSERT_TRUE(PumpUntil([&] { return Covers({a, b}, 4) && a->owned.size() == 2; }, 15000));
    // Unsubscribe: a revokes and leaves; b takes everything long before
    // a's 30 s session would have run out.
    int64_t t0 = rc_now_ms();
    ASSERT_EQ(mq_consumer_unsubscribe(a->c), MQ_OK);
    ASSERT_TRUE(PumpUntil([&] { return b->owned.size() == 4 && a->owned.empty(); }, 5000));
    EXPECT_LT(rc_now_ms() - t0, 3000);
    // Subscribing again rejoins; then close leaves at once too.
    const char *t = "gl";
    ASSERT_EQ(mq_consumer_subscribe(a->c, &t, 1), MQ_OK);
    ASSERT_TRUE(PumpUntil([&] { return Covers({a, b}, 4) && a->owned.size() == 2; }, 15000));
    t0 = rc_now_ms();
    ASSERT_EQ(mq_consumer_close(b->c, 5000), MQ_OK);
    ASSERT_TRUE(PumpUntil([&] { return a->owned.size() == 4; }, 5000, {b}));
    EXPECT_LT(rc_now_ms() - t0, 3000);
    Pump(100);
    EXPECT_TRUE(b->owned.empty()) << "close revoked its partitions";
}

TEST_F(GroupTest, RegexSubscriptionMatchesWholeTopicNames)
{
    StartBroker(kGroupArgs);
    CreateTopic("rx-a", 1);
    CreateTopic("rx-b", 2);
    CreateTopic("other-rx-c", 1);
    mq_conf_t *conf = mq_conf_new();
    mq_conf_set(conf, "bootstrap.servers", broker_.client_addr(), nullptr, 0);
    mq_conf_set(conf, "group.id", "rxg", nullptr, 0);
    mq_conf_set(conf, "session.timeout.ms", "1000", nullptr, 0);
    Member *m = new Member;
    char err[256];
    ASSERT_EQ(mq_consumer_new(conf, &m->c, err, sizeof err), MQ_OK);
    mq_conf_destroy(conf);
    members_.push_back(m);
    const char *re = "^rx-.*";
    ASSERT_EQ(mq_consumer_subscribe(m->c, &re, 1), MQ_OK);
    std::set<std::string> topics;
    int64_t until = rc_now_ms() + 10000;
    while (topics.size() < 2 && rc_now_ms() < until) {
        mq_message_t *msg;
        mq_event_t *ev;
        if (mq_consumer_poll(m->c, 100, &msg, &ev) != MQ_OK)
            continue;
        if (ev && mq_event_type(ev) == MQ_EVENT_REBALANCE) {
            size_t n;
            const mq_topic_partition_t *l = mq_event_partitions(ev, &n);
            for (size_t i = 0; i < n; i++)
                topics.insert(l[i].topic);
        }
        mq_message_destroy(msg);
        mq_event_destroy(ev);
    }
    EXPECT_EQ(topics, (std::set<std::string>{"rx-a", "rx-b"}));
    const char *two[2] = {"^rx-.*", "rx-a"};
    EXPECT_EQ(mq_consumer_subscribe(m->c, two, 2), MQ_ERR_INVALID_ARG)
        << "a regular expression must be alone";
}

TEST_F(GroupTest, ASessionTimeoutTheBrokerRefusesIsReportedOnce)
{
    StartBroker(kGroupArgs);
    CreateTopic("gt", 1);
    Member *m = Join("gtg", "gt", {{"session.timeout.ms", "10"}}); // broker minimum: 200
    ASSERT_TRUE(PumpUntil([&] { return !m->errors.empty(); }, 10000));
    EXPECT_EQ(m->errors[0], MQ_ERR_INVALID_SESSION_TIMEOUT);
    Pump(2500);
    EXPECT_EQ(m->errors.size(), 1u) << "not retried";
    EXPECT_TRUE(m->owned.empty());
}

TEST_F(GroupTest, MaxPollIntervalLeavesAndTheNextPollRejoins)
{
    StartBroker(kGroupArgs);
    CreateTopic("gm", 4);
    Member *a = Join("gmg", "gm", {{"max.poll.interval.ms", "1000"}});
    Member *b = Join("gmg", "gm");
    ASSERT_TRUE(PumpUntil([&] { return Covers({a, b}, 4) && a->owned.size() == 2; }, 15000));
    a->ever_revoked.clear();
    // a stops polling: it leaves, b gets everything.
    ASSERT_TRUE(PumpUntil([&] { return b->owned.size() == 4; }, 8000, {a}));
    Pump(100);
    EXPECT_NE(std::find(a->errors.begin(), a->errors.end(), MQ_ERR_MAX_POLL_EXCEEDED),
              a->errors.end())
        << "the app is told";
    EXPECT_EQ(a->ever_revoked.size(), 2u) << "its partitions were revoked";
    ASSERT_TRUE(PumpUntil(
        [&] {
            return Covers({a, b}, 4) && a->owned.size() == 2;
        },
        10000))
        << "polling again rejoins";
}

TEST_F(GroupTest, CommitCommittedAndAutoOffsetResetWithAGroup)
{
    StartBroker(kGroupArgs);
    CreateTopic("gc", 2);
    Produce("gc", 2, 50);
    Member *a = Join("gcg", "gc", {{"enable.auto.commit", "false"}});
    ASSERT_TRUE(PumpUntil([&] { return a->got[0].size() + a->got[1].size() == 100; }, 15000));
    ASSERT_EQ(mq_consumer_commit(a->c, nullptr, 0, 0), MQ_OK);
    mq_topic_partition_t q[2] = {{"gc", 0, 0, 0}, {"gc", 1, 0, 0}};
    ASSERT_EQ(mq_consumer_committed(a->c, q, 2, 10000), MQ_OK);
    EXPECT_EQ(q[0].offset, 50);
    EXPECT_EQ(q[1].offset, 50);
    mq_topic_partition_t ex = {"gc", 1, 0, 20};
    ASSERT_EQ(mq_consumer_commit(a->c, &ex, 1, MQ_COMMIT_ASYNC), MQ_OK);
    ASSERT_TRUE(PumpUntil([&] { return !a->commit_results.empty(); }, 10000));
    EXPECT_EQ(a->commit_results[0], MQ_OK);
    Leave(a);
    // The next member starts at the committed offsets.
    Member *b = Join("gcg", "gc");
    ASSERT_TRUE(PumpUntil([&] { return b->got[1].size() == 30; }, 15000));
    EXPECT_EQ(b->got[1].front(), 20);
    EXPECT_TRUE(b->got[0].empty());
    // A group without commits: earliest, latest, error.
    Member *l = Join("gcl", "gc", {{"auto.offset.reset", "latest"}});
    Member *x = Join("gcx", "gc", {{"auto.offset.reset", "error"}});
    ASSERT_TRUE(PumpUntil([&] { return l->owned.size() == 2 && x->owned.size() == 2; }, 15000));
    auto range_errors = [&] {
        return std::count(x->errors.begin(), x->errors.end(), MQ_ERR_OFFSET_OUT_OF_RANGE);
    };
    PumpUntil([&] { return range_errors() >= 2; }, 5000);
    Pump(300);
    EXPECT_TRUE(l->got.empty() || (l->got[0].empty() && l->got[1].empty()));
    EXPECT_EQ(range_errors(), 2);
    mq_topic_partition_t pos[2] = {{"gc", 0, 0, 0}, {"gc", 1, 0, 0}};
    ASSERT_TRUE(PumpUntil(
        [&] {
            mq_consumer_position(l->c, pos, 2);
            return pos[0].offset == 50 && pos[1].offset == 50;
        },
        5000))
        << "latest starts at the end";
    Produce("gc", 2, 1);
    ASSERT_TRUE(PumpUntil([&] { return l->got[0].size() == 1 && l->got[1].size() == 1; }, 10000));
    EXPECT_EQ(l->got[0][0], 50) << "latest: only what came after";
    EXPECT_TRUE(x->got[0].empty() && x->got[1].empty()) << "error: nothing until a seek";
}

TEST_F(GroupTest, AutoCommitCommitsOnlyWhatPollReturned)
{
    StartBroker(kGroupArgs);
    CreateTopic("ga", 1);
    Produce("ga", 1, 100);
    mq_conf_t *conf = mq_conf_new();
    mq_conf_set(conf, "bootstrap.servers", broker_.client_addr(), nullptr, 0);
    mq_conf_set(conf, "group.id", "gag", nullptr, 0);
    mq_conf_set(conf, "session.timeout.ms", "1000", nullptr, 0);
    mq_conf_set(conf, "auto.offset.reset", "earliest", nullptr, 0);
    mq_conf_set(conf, "queued.max.messages.kbytes", "1", nullptr, 0);
    mq_consumer_t *c = nullptr;
    char err[256];
    ASSERT_EQ(mq_consumer_new(conf, &c, err, sizeof err), MQ_OK) << err;
    mq_conf_destroy(conf);
    const char *t = "ga";
    ASSERT_EQ(mq_consumer_subscribe(c, &t, 1), MQ_OK);
    int got = 0;
    int64_t until = rc_now_ms() + 15000;
    while (got < 7 && rc_now_ms() < until) {
        mq_message_t *m;
        mq_event_t *ev;
        if (mq_consumer_poll(c, 100, &m, &ev) != MQ_OK)
            continue;
        got += m != nullptr;
        mq_message_destroy(m);
        mq_event_destroy(ev);
    }
    ASSERT_EQ(got, 7);
    ASSERT_EQ(mq_consumer_close(c, 10000), MQ_OK);
    mq_topic_partition_t q = {"ga", 0, 0, 0};
    ASSERT_EQ(mq_consumer_committed(c, &q, 1, 10000), MQ_ERR_CLOSED);
    mq_consumer_destroy(c);
    Member *r = Join("gag", "ga");
    ASSERT_EQ(mq_consumer_committed(r->c, &q, 1, 10000), MQ_OK);
    EXPECT_EQ(q.offset, 7) << "fetched but not returned messages are not committed";
}

TEST_F(GroupTest, ExampleConsumerProgramRuns)
{
    StartBroker(kGroupArgs);
    CreateTopic("demo", 2);
    Produce("demo", 2, 10);
    std::string exe = std::string(MQ_BIN_DIR) + "/../examples/c/consumer";
    std::string cmd =
        exe + " -X session.timeout.ms=1000 " + broker_.client_addr() + " demo demo-group 20";
    FILE *f = popen(cmd.c_str(), "r");
    ASSERT_NE(f, nullptr);
    char line[512];
    int msgs = 0, assigned = 0;
    while (fgets(line, sizeof line, f)) {
        msgs += !strncmp(line, "msg ", 4);
        assigned += !strncmp(line, "assigned", 8);
    }
    int st = pclose(f);
    ASSERT_TRUE(WIFEXITED(st)) << cmd;
    EXPECT_EQ(WEXITSTATUS(st), 0) << cmd;
    EXPECT_EQ(msgs, 20);
    EXPECT_GE(assigned, 1);
}
