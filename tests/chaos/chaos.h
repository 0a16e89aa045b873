// Helpers for the chaos suite: a seed per run (MQ_CHAOS_SEED, printed on
// failure so the run can be replayed), a broker that is killed and
// restarted on the same port and data dir, a fault proxy in front of it,
// and read-back of a topic with the wire codec. C++ only.
#ifndef MQ_TESTS_CHAOS_H
#define MQ_TESTS_CHAOS_H

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "broker_fixture.h"
#include "fault_proxy.h"
#include "mqclient.h"
#include "rawclient.h"

extern "C" {
#include "wire/batch.h"
}

// The run's seed: MQ_CHAOS_SEED if set, else random. Printed on failure.
inline uint64_t ChaosSeed()
{
    const char *s = getenv("MQ_CHAOS_SEED");
    if (s && *s)
        return strtoull(s, nullptr, 0);
    std::random_device rd;
    return ((uint64_t)rd() << 32) ^ rd();
}

// A port nothing listens on now (bound, then closed).
inline int FreePort()
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, (sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

inline void SleepMs(int64_t ms)
{
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

inline int64_t NowMs()
{
    return test_now_ms();
}

// Reads "name":N out of a stats JSON line (-1 if absent).
inline int64_t StatField(const std::string &json, const char *name)
{
    std::string key = std::string("\"") + name + "\":";
    size_t at = json.find(key);
    return at == std::string::npos ? -1 : strtoll(json.c_str() + at + key.size(), nullptr, 10);
}

// Base fixture: a seed, a broker on a fixed port (restarts keep it) and a
// proxy in front. The broker's logs and the seed are printed on failure.
// mq_conf_t from key/value pairs; fails the test on a bad key.
inline mq_conf_t *MakeConf(const std::vector<std::pair<std::string, std::string>> &kv)
{
    mq_conf_t *c = mq_conf_new();
    char err[256];
    for (auto &p : kv) {
        err[0] = 0;
        EXPECT_EQ(mq_conf_set(c, p.first.c_str(), p.second.c_str(), err, sizeof err), MQ_OK)
            << p.first << ": " << err;
    }
    return c;
}

class ChaosTest : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        seed_ = ChaosSeed();
        rng_.seed(seed_);
        fprintf(stderr, "chaos: MQ_CHAOS_SEED=%" PRIu64 "\n", seed_);
    }
    void TearDown() override
    {
        if (HasFailure()) {
            fprintf(stderr, "chaos: FAILED with MQ_CHAOS_SEED=%" PRIu64 " (replay with it)\n",
                    seed_);
            broker_.DumpLogs();
        }
        fp_stop(proxy_);
        proxy_ = nullptr;
        broker_.Destroy();
    }

    // Starts the broker on a port of its own that restarts reuse, and a
    // proxy to it. extra: more broker flags.
    void StartBroker(const std::vector<std::string> &extra = {})
    {
        port_ = FreePort();
        ASSERT_GT(port_, 0);
        std::vector<std::string> args = {"--listen", "127.0.0.1:" + std::to_string(port_)};
        args.insert(args.end(), extra.begin(), extra.end());
        ASSERT_TRUE(broker_.Start(args)) << broker_.error();
        char err[256] = "";
        proxy_ = fp_start("127.0.0.1", port_, err, sizeof err);
        ASSERT_NE(proxy_, nullptr) << err;
    }
    void CreateTopic(const std::string &name, int partitions)
    {
        char err[1024] = "";
        long st = rc_admin_create_topic_ex(broker_.admin_addr(), name.c_str(), partitions, nullptr,
                                           err, sizeof err);
        ASSERT_TRUE(st == 200 || st == 201) << err;
    }
    // kill -9, wait down_ms, start again on the same port and data dir.
    bool KillAndRestart(int64_t down_ms)
    {
        broker_.Kill();
        SleepMs(down_ms);
        for (int i = 0; i < 3; i++) {
            if (broker_.Restart())
                return true;
            SleepMs(100); // the port may still be held for a moment
        }
        return false;
    }
    int64_t Uniform(int64_t lo, int64_t hi)
    {
        return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
    }

    // Every record of a topic, read straight from the broker: per partition,
    // (offset, key, value) in offset order.
    struct Rec {
        int64_t offset;
        std::string key, value;
    };
    std::vector<std::vector<Rec>> ReadTopic(const std::string &topic, int partitions)
    {
        std::vector<std::vector<Rec>> out(partitions);
        char err[256] = "";
        rawclient_t *rc = rc_connect("127.0.0.1", port_, err, sizeof err);
        EXPECT_NE(rc, nullptr) << err;
        if (!rc)
            return out;
        for (int p = 0; p < partitions; p++) {
            int64_t pos = 0;
            for (int guard = 0; guard < 1000000; guard++) {
                rc_fetch_result_t fr;
                rc_fetch(rc, topic.c_str(), p, pos, 0, 0, 4 << 20, &fr);
                EXPECT_EQ(fr.grpc_status, 0) << fr.grpc_message;
                EXPECT_EQ(fr.error_code, 0) << fr.error_message;
                bool any = false;
                size_t off = 0;
                while (fr.grpc_status == 0 && off < fr.records_len) {
                    int64_t base;
                    int32_t count;
                    size_t n = rc_batch_at(fr.records + off, fr.records_len - off, &base, &count);
                    if (n == 0)
                        break;
                    mq_record_iter_t it;
                    EXPECT_EQ(mq__record_iter_init(&it, fr.records + off, n), MQ_OK);
                    mq_record_t r;
                    while (mq__record_iter_next(&it, &r) == 1) {
                        if (r.offset < pos)
                            continue;
                        out[p].push_back({r.offset, std::string((const char *)r.key, r.key_len),
                                          std::string((const char *)r.value, r.value_len)});
                        pos = r.offset + 1;
                        any = true;
                    }
                    mq__record_iter_free(&it);
                    off += n;
                }
                int64_t hw = fr.high_watermark;
                rc_fetch_result_free(&fr);
                if (!any || pos >= hw)
                    break;
            }
        }
        rc_close(rc);
        return out;
    }

    // n messages (values "0".."n-1", message i to partition i % parts),
    // produced straight to the broker with acks=all before any fault.
    void FillTopic(const char *topic, int n, int parts)
    {
        mq_conf_t *conf = MakeConf(
            {{"bootstrap.servers", broker_.client_addr()}, {"acks", "all"}, {"linger.ms", "5"}});
        mq_producer_t *p = nullptr;
        char err[256] = "";
        ASSERT_EQ(mq_producer_new(conf, &p, err, sizeof err), MQ_OK) << err;
        mq_conf_destroy(conf);
        for (int i = 0; i < n; i++) {
            std::string v = std::to_string(i);
            ASSERT_EQ(mq_produce(p, topic, i % parts, nullptr, 0, v.data(), v.size(), nullptr, 0, 0,
                                 nullptr, 0),
                      MQ_OK);
        }
        ASSERT_EQ(mq_producer_flush(p, 30000), MQ_OK);
        mq_producer_close(p, 1000);
        mq_producer_destroy(p);
    }

    uint64_t seed_ = 0;
    std::mt19937_64 rng_;
    BrokerProcess broker_;
    fault_proxy_t *proxy_ = nullptr;
    int port_ = 0;
};

// Prints one summary line the repeat script adds up.
inline void ChaosSummary(const char *test, uint64_t seed, const std::map<std::string, int64_t> &kv)
{
    std::string line = std::string("CHAOS-SUMMARY test=") + test + " seed=" + std::to_string(seed);
    for (auto &p : kv)
        line += " " + p.first + "=" + std::to_string(p.second);
    fprintf(stderr, "%s\n", line.c_str());
    printf("%s\n", line.c_str());
    fflush(stdout);
}

#endif
