// mqbroker's command line, config file errors, readiness, signals and restart.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "broker_proc.h"
#include "mq/v1/broker.pb-c.h"
#include "rawclient.h"

namespace
{

// A temp dir with a config file; removed at destruction.
class TempConfig
{
  public:
    explicit TempConfig(const std::string &content)
    {
        ok_ = test_make_temp_dir(dir_, sizeof dir_, "mq-lifecycle") == 0;
        path_ = std::string(dir_) + "/broker.conf";
        std::ofstream(path_) << content;
    }
    ~TempConfig()
    {
        if (ok_)
            test_remove_tree(dir_);
    }
    const std::string &path() const
    {
        return path_;
    }
    std::string data() const
    {
        return std::string(dir_) + "/data";
    }
    bool ok() const
    {
        return ok_;
    }

  private:
    char dir_[512];
    std::string path_;
    bool ok_;
};

struct RunResult {
    int code;
    std::string out, err;
};

RunResult RunBroker(const std::vector<std::string> &args)
{
    std::vector<const char *> a;
    for (auto &s : args)
        a.push_back(s.c_str());
    a.push_back(nullptr);
    char *out = nullptr, *err = nullptr;
    RunResult r;
    r.code = broker_proc_run(a.data(), 15000, &out, &err);
    r.out = out ? out : "";
    r.err = err ? err : "";
    free(out);
    free(err);
    return r;
}

// Runs the broker with a config file on ephemeral ports.
RunResult RunWithConfig(const TempConfig &cfg)
{
    return RunBroker({"--config", cfg.path(), "--data-dir", cfg.data(), "--listen", "127.0.0.1:0",
                      "--admin-listen", "127.0.0.1:0"});
}

TEST(LifecycleCli, HelpExitsZeroAndListsTheFlags)
{
    RunResult r = RunBroker({"--help"});
    EXPECT_EQ(r.code, 0) << r.err;
    std::string all = r.out + r.err;
    for (const char *flag :
         {"--config", "--data-dir", "--listen", "--admin-listen", "--log-level", "--ready-file"})
        EXPECT_NE(all.find(flag), std::string::npos) << "--help does not mention " << flag;
}

TEST(LifecycleCli, UnknownFlagIsAnError)
{
    RunResult r = RunBroker({"--no-such-flag"});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("--no-such-flag"), std::string::npos) << r.err;
}

TEST(LifecycleCli, UnknownConfigKeyIsNamed)
{
    TempConfig cfg("# comment\nio.threads = 1\nbogus.key.xyz = 1\n");
    ASSERT_TRUE(cfg.ok());
    RunResult r = RunWithConfig(cfg);
    EXPECT_NE(r.code, 0);
    EXPECT_GT(r.code, -1) << "the broker did not exit";
    EXPECT_NE(r.err.find("bogus.key.xyz"), std::string::npos) << r.err;
}

TEST(LifecycleCli, BadValueIsNamed)
{
    TempConfig cfg("io.threads = banana\n");
    ASSERT_TRUE(cfg.ok());
    RunResult r = RunWithConfig(cfg);
    EXPECT_NE(r.code, 0);
    EXPECT_GT(r.code, -1) << "the broker did not exit";
    EXPECT_NE(r.err.find("io.threads"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("banana"), std::string::npos) << r.err;

    TempConfig range("max.connections = 0\n");
    r = RunWithConfig(range);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("max.connections"), std::string::npos) << r.err;

    TempConfig nofile("");
    r = RunBroker({"--config", nofile.path() + ".missing", "--data-dir", nofile.data()});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find(".missing"), std::string::npos) << r.err;
}

class LifecycleTest : public BrokerTestBase
{
};

TEST_F(LifecycleTest, FlagsOverrideTheConfigFile)
{
    // The file names a port nobody can bind; the harness's --listen wins.
    TempConfig cfg("listen = 127.0.0.1:1\nadmin.listen = 127.0.0.1:1\nlog.level = debug\n");
    ASSERT_TRUE(cfg.ok());
    ASSERT_NO_FATAL_FAILURE(StartBroker({"--config", cfg.path()}));
    EXPECT_NE(broker_.port(), 1);
    EXPECT_NE(broker_.proc()->admin_port, 1);
}

TEST_F(LifecycleTest, ListenOnPortZeroPicksPortsAndPrintsTheReadyLine)
{
    ASSERT_NO_FATAL_FAILURE(StartBroker());
    EXPECT_GT(broker_.port(), 0);
    EXPECT_GT(broker_.proc()->admin_port, 0);
    EXPECT_NE(broker_.port(), broker_.proc()->admin_port);
    EXPECT_STREQ(broker_.host(), "127.0.0.1");

    std::string line = std::string("mqbroker ready client=") + broker_.client_addr() +
                       " admin=" + broker_.admin_addr();
    EXPECT_NE(broker_.Stdout().find(line), std::string::npos) << "stdout lacks '" << line << "':\n"
                                                              << broker_.Stdout();
    char *ready = broker_proc_read_file(broker_.proc()->ready_file, nullptr);
    ASSERT_NE(ready, nullptr);
    EXPECT_EQ(std::string(ready).substr(0, line.size()), line);
    free(ready);

    rawclient_t *rc = Connect();
    ASSERT_NE(rc, nullptr);
    int st;
    void *md = rc_metadata(rc, nullptr, 0, &st);
    EXPECT_NE(md, nullptr) << "grpc-status " << st;
    if (md)
        mq__v1__metadata_response__free_unpacked((Mq__V1__MetadataResponse *)md, nullptr);
    char *body = nullptr;
    EXPECT_EQ(rc_admin_request(broker_.admin_addr(), "GET", "/health", nullptr, &body), 200);
    free(body);
}

// Long polls in flight at SIGTERM/SIGINT are answered, a GOAWAY is sent and
// the broker exits 0.
void ShutdownWithLongPolls(BrokerTestBase *t, BrokerProcess &broker, rawclient_t *rc, int sig)
{
    (void)t;
    size_t len;
    uint8_t *req = rc_encode_fetch("life", 0, 0, 20000, 1, 1 << 20, 1 << 20, &len);
    std::vector<int32_t> ids;
    for (int i = 0; i < 3; i++)
        ids.push_back(rc_submit(rc, RC_PATH_FETCH, req, len, nullptr));
    free(req);
    rc_pump(rc, 300);
    rc_result_t early;
    int finished_early = rc_poll(rc, 0, &early);
    if (finished_early == 1)
        rc_result_free(&early);
    ASSERT_EQ(finished_early, 0) << "a long poll returned before the signal (grpc-status "
                                 << early.grpc_status << ")";
    long long t0 = test_now_ms();
    ASSERT_EQ(broker_proc_signal(broker.proc(), sig), 0);
    for (int32_t id : ids) {
        rc_result_t r;
        ASSERT_EQ(rc_wait(rc, id, 15000, &r), 1) << "a long poll was not finished at shutdown";
        EXPECT_GE(r.grpc_status, 0)
            << "stream " << id << " ended without a grpc-status"
            << " (h2 error " << r.close_error << ", transport " << r.transport_error << ")";
        rc_result_free(&r);
    }
    EXPECT_LT(test_now_ms() - t0, 15000);
    rc_pump(rc, 200);
    EXPECT_GE(rc_goaway_error(rc), 0) << "no GOAWAY before the connection closed";
    int code = broker_proc_wait(broker.proc(), 15000);
    EXPECT_EQ(code, 0) << "exit code after signal " << sig;
    if (code == -2)
        broker.Kill();
}

TEST_F(LifecycleTest, SigtermFinishesLongPollsAndExitsZero)
{
    ASSERT_NO_FATAL_FAILURE(StartBroker());
    ASSERT_NO_FATAL_FAILURE(CreateTopic("life", 1));
    rawclient_t *rc = Connect();
    ASSERT_NE(rc, nullptr);
    ShutdownWithLongPolls(this, broker_, rc, SIGTERM);
}

TEST_F(LifecycleTest, SigintExitsZeroToo)
{
    ASSERT_NO_FATAL_FAILURE(StartBroker());
    ASSERT_NO_FATAL_FAILURE(CreateTopic("life", 1));
    rawclient_t *rc = Connect();
    ASSERT_NE(rc, nullptr);
    ShutdownWithLongPolls(this, broker_, rc, SIGINT);
}

TEST_F(LifecycleTest, RestartKeepsTopics)
{
    ASSERT_NO_FATAL_FAILURE(StartBroker());
    ASSERT_NO_FATAL_FAILURE(CreateTopic("keep-a", 1));
    ASSERT_NO_FATAL_FAILURE(CreateTopic("keep.b", 3));
    ASSERT_NO_FATAL_FAILURE(CreateTopic("keep_c", 8));
    ASSERT_EQ(broker_.Stop(), 0);
    ASSERT_TRUE(broker_.Restart()) << broker_.error();
    rawclient_t *rc = Connect();
    ASSERT_NE(rc, nullptr);
    int st;
    auto *md = (Mq__V1__MetadataResponse *)rc_metadata(rc, nullptr, 0, &st);
    ASSERT_NE(md, nullptr) << "grpc-status " << st;
    int found = 0;
    for (size_t i = 0; i < md->n_topics; i++) {
        std::string n = md->topics[i]->name;
        int want = n == "keep-a" ? 1 : n == "keep.b" ? 3 : n == "keep_c" ? 8 : 0;
        if (!want)
            continue;
        found++;
        EXPECT_EQ((int)md->topics[i]->n_partitions, want) << n;
    }
    EXPECT_EQ(found, 3);
    mq__v1__metadata_response__free_unpacked(md, nullptr);
    // A second restart after kill -9 keeps them too.
    ASSERT_EQ(broker_.Kill(), 0);
    ASSERT_TRUE(broker_.Restart()) << broker_.error();
    char *body = nullptr;
    EXPECT_EQ(
        rc_admin_request(broker_.admin_addr(), "GET", "/api/v1/topics/keep_c", nullptr, &body), 200)
        << (body ? body : "");
    free(body);
}

} // namespace
