// GoogleTest glue for broker_proc: a fixture that starts one broker per test
// and prints its logs when the test fails. C++ only.
#ifndef MQ_TESTS_BROKER_FIXTURE_H
#define MQ_TESTS_BROKER_FIXTURE_H

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "broker_proc.h"
#include "rawclient.h"
#include "rawclient.h"

// Owns one broker process; Start() may be called again after Stop().
class BrokerProcess
{
  public:
    BrokerProcess()
    {
        memset(&bp_, 0, sizeof bp_);
    }
    ~BrokerProcess()
    {
        Destroy();
    }
    BrokerProcess(const BrokerProcess &) = delete;
    BrokerProcess &operator=(const BrokerProcess &) = delete;

    // Extra args/env ("K=V") and an optional wrapper command (e.g. strace).
    bool Start(const std::vector<std::string> &args = {}, const std::vector<std::string> &env = {},
               const std::vector<std::string> &wrapper = {}, const char *data_dir = nullptr)
    {
        auto to_c = [](const std::vector<std::string> &v, std::vector<const char *> &out) {
            for (auto &s : v)
                out.push_back(s.c_str());
            out.push_back(nullptr);
        };
        std::vector<const char *> a, e, w;
        to_c(args, a);
        to_c(env, e);
        to_c(wrapper, w);
        broker_opts_t o = {};
        o.data_dir = data_dir;
        o.args = a.data();
        o.env = e.data();
        o.wrapper = wrapper.empty() ? nullptr : w.data();
        started_ = true;
        return broker_proc_start(&bp_, &o) == 0;
    }
    bool Restart()
    {
        return broker_proc_restart(&bp_) == 0;
    }
    int Stop(int timeout_ms = 0)
    {
        return broker_proc_stop(&bp_, timeout_ms);
    }
    int Kill()
    {
        return broker_proc_kill(&bp_);
    }
    void Destroy()
    {
        if (started_)
            broker_proc_destroy(&bp_);
        started_ = false;
    }
    void DumpLogs() const
    {
        broker_proc_dump_logs(&bp_, stderr);
    }
    std::string Stderr() const
    {
        return ReadAll(bp_.stderr_path);
    }
    std::string Stdout() const
    {
        return ReadAll(bp_.stdout_path);
    }

    broker_proc_t *proc()
    {
        return &bp_;
    }
    const char *host() const
    {
        return bp_.client_host;
    }
    int port() const
    {
        return bp_.client_port;
    }
    const char *admin_addr() const
    {
        return bp_.admin_addr;
    }
    const char *client_addr() const
    {
        return bp_.client_addr;
    }
    const char *error() const
    {
        return bp_.error;
    }
    const char *data_dir() const
    {
        return bp_.data_dir;
    }
    pid_t pid() const
    {
        return bp_.pid;
    }

  private:
    static std::string ReadAll(const char *path)
    {
        size_t len = 0;
        char *t = broker_proc_read_file(path, &len);
        std::string s = t ? std::string(t, len) : std::string();
        free(t);
        return s;
    }
    broker_proc_t bp_;
    bool started_ = false;
};

// One record batch as stored by the broker.
struct StoredBatch {
    int64_t base_offset;
    int32_t record_count;
    std::vector<uint8_t> bytes;
};

// Splits concatenated batches; stops at the first partial or bad header.
inline std::vector<StoredBatch> SplitBatches(const uint8_t *buf, size_t len)
{
    std::vector<StoredBatch> out;
    size_t off = 0;
    while (off < len) {
        StoredBatch b;
        size_t n = rc_batch_at(buf + off, len - off, &b.base_offset, &b.record_count);
        if (n == 0)
            break;
        b.bytes.assign(buf + off, buf + off + n);
        out.push_back(std::move(b));
        off += n;
    }
    return out;
}

inline std::vector<uint8_t> MakeBatch(int records, size_t value_size, int64_t ts_ms, uint32_t seed)
{
    size_t len = 0;
    uint8_t *b = rc_make_batch(records, value_size, ts_ms, seed, &len);
    std::vector<uint8_t> v;
    if (b)
        v.assign(b, b + len);
    free(b);
    return v;
}

inline int64_t BaseOffsetOf(const std::vector<uint8_t> &b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8 && i < (int)b.size(); i++)
        v = (v << 8) | b[i];
    return (int64_t)v;
}

// The stored batch equals the sent one except the base offset, which is
// `offset`.
inline ::testing::AssertionResult SameBatch(const std::vector<uint8_t> &stored,
                                            const std::vector<uint8_t> &sent, int64_t offset)
{
    if (stored.size() != sent.size())
        return ::testing::AssertionFailure()
               << "stored batch is " << stored.size() << " bytes, sent " << sent.size();
    if (BaseOffsetOf(stored) != offset)
        return ::testing::AssertionFailure()
               << "stored base offset " << BaseOffsetOf(stored) << ", want " << offset;
    for (size_t i = 8; i < sent.size(); i++)
        if (stored[i] != sent[i])
            return ::testing::AssertionFailure() << "stored batch at offset " << offset
                                                 << " differs from the sent one at byte " << i;
    return ::testing::AssertionSuccess();
}

// Base fixture: TearDown closes every client opened with Connect(), dumps
// the broker's logs if the test failed and removes its temp dir.
class BrokerTestBase : public ::testing::Test
{
  protected:
    void TearDown() override
    {
        for (auto *c : clients_)
            rc_close(c);
        clients_.clear();
        if (HasFailure())
            broker_.DumpLogs();
        broker_.Destroy();
    }

    // Starts the broker or fails the test with the reason.
    void StartBroker(const std::vector<std::string> &args = {},
                     const std::vector<std::string> &env = {},
                     const std::vector<std::string> &wrapper = {})
    {
        ASSERT_TRUE(broker_.Start(args, env, wrapper)) << broker_.error();
    }

    // A new connection to the broker's client port (closed in TearDown).
    rawclient_t *Connect()
    {
        char err[256] = "";
        rawclient_t *c = rc_connect(broker_.host(), broker_.port(), err, sizeof err);
        EXPECT_NE(c, nullptr) << "connect " << broker_.client_addr() << ": " << err;
        if (c)
            clients_.push_back(c);
        return c;
    }
    void Disconnect(rawclient_t *c)
    {
        for (auto it = clients_.begin(); it != clients_.end(); ++it) {
            if (*it == c) {
                clients_.erase(it);
                break;
            }
        }
        rc_close(c);
    }

    // Creates a topic over the admin API or fails the test.
    void CreateTopic(const std::string &name, int partitions, const char *extra_json = nullptr)
    {
        char err[1024] = "";
        long st = rc_admin_create_topic_ex(broker_.admin_addr(), name.c_str(), partitions,
                                           extra_json, err, sizeof err);
        ASSERT_TRUE(st == 200 || st == 201) << err;
    }

    // Fetches [from, end of log) of one partition.
    std::vector<StoredBatch> FetchAll(rawclient_t *c, const std::string &topic, int32_t part,
                                      int64_t from = 0)
    {
        std::vector<StoredBatch> all;
        int64_t pos = from;
        for (int guard = 0; guard < 100000; guard++) {
            rc_fetch_result_t fr;
            rc_fetch(c, topic.c_str(), part, pos, 0, 0, 4 << 20, &fr);
            EXPECT_EQ(fr.grpc_status, 0) << fr.grpc_message;
            EXPECT_EQ(fr.error_code, 0) << fr.error_message;
            auto got = SplitBatches(fr.records, fr.records_len);
            int64_t hw = fr.high_watermark;
            int ok = fr.grpc_status == 0 && fr.error_code == 0;
            rc_fetch_result_free(&fr);
            if (got.empty() || !ok)
                break;
            for (auto &b : got) {
                if (b.base_offset + b.record_count <= pos)
                    continue;
                pos = b.base_offset + b.record_count;
                all.push_back(std::move(b));
            }
            if (pos >= hw)
                break;
        }
        return all;
    }

    BrokerProcess broker_;
    std::vector<rawclient_t *> clients_;
};

#endif
