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

// Base fixture: TearDown dumps the broker's logs if the test failed.
class BrokerTestBase : public ::testing::Test
{
  protected:
    void TearDown() override
    {
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
    BrokerProcess broker_;
};

#endif
