// ctest-label: slow
// The example programs (producer, consumer) under valgrind (memcheck, --leak-check=full) against
// a real mqbroker: no invalid access, no uninitialised read, no leak — on
// the plain path and, through the fault proxy, on the reconnect and retry
// paths. Labelled slow so the sanitizer pass (ctest -LE 'slow|chaos') does
// not run it; skipped when valgrind is not installed or the build is
// instrumented (valgrind cannot run ASan binaries).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "broker_fixture.h"
#include "fault_proxy.h"

namespace
{

#if defined(__SANITIZE_ADDRESS__)
const bool kInstrumented = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
const bool kInstrumented = true;
#else
const bool kInstrumented = false;
#endif
#else
const bool kInstrumented = false;
#endif

std::string FindValgrind()
{
    const char *path = getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    size_t start = 0;
    while (start <= dirs.size()) {
        size_t end = dirs.find(':', start);
        if (end == std::string::npos)
            end = dirs.size();
        std::string cand = dirs.substr(start, end - start) + "/valgrind";
        if (access(cand.c_str(), X_OK) == 0)
            return cand;
        start = end + 1;
    }
    return "";
}

class ValgrindTest : public BrokerTestBase
{
  protected:
    void SetUp() override
    {
        if (kInstrumented)
            GTEST_SKIP() << "sanitizer build: valgrind cannot run instrumented binaries";
        valgrind_ = FindValgrind();
        if (valgrind_.empty())
            GTEST_SKIP() << "valgrind is not installed";
        ASSERT_EQ(test_make_temp_dir(tmp_, sizeof tmp_, "mq-valgrind"), 0);
    }
    void TearDown() override
    {
        fp_stop(proxy_);
        proxy_ = nullptr;
        if (tmp_[0] && !HasFailure())
            test_remove_tree(tmp_);
        BrokerTestBase::TearDown();
    }

    // Runs args under memcheck; returns the exit code, the log in *log.
    int RunUnderValgrind(const std::string &args, std::string *log)
    {
        std::string vlog = std::string(tmp_) + "/valgrind.log";
        std::string out = std::string(tmp_) + "/stdout.log";
        std::string cmd = "timeout 180 " + valgrind_ +
                          " --quiet --leak-check=full --error-exitcode=1 --track-origins=yes"
                          " --log-file=" +
                          vlog + " " + args + " > " + out + " 2>&1";
        int st = system(cmd.c_str());
        size_t len = 0;
        char *t = broker_proc_read_file(vlog.c_str(), &len);
        char *o = broker_proc_read_file(out.c_str(), &len);
        *log = std::string("---- valgrind ----\n") + (t ? t : "") + "---- output ----\n" +
               (o ? o : "");
        free(t);
        free(o);
        if (!WIFEXITED(st))
            return -1;
        return WEXITSTATUS(st);
    }

    std::string Example(const char *name)
    {
        return std::string(MQ_BIN_DIR) + "/../examples/c/" + name;
    }

    std::string valgrind_;
    char tmp_[512] = "";
    fault_proxy_t *proxy_ = nullptr;
};

} // namespace

TEST_F(ValgrindTest, ProducerExampleIsClean)
{
    StartBroker();
    CreateTopic("demo", 2);
    std::string log;
    int rc =
        RunUnderValgrind(Example("producer") + " " + broker_.client_addr() + " demo 500", &log);
    EXPECT_EQ(rc, 0) << log;
    EXPECT_NE(log.find("500 delivered, 0 failed"), std::string::npos) << log;
}

// Through the proxy, which drops the answers to the first Produce calls
// (each time the connection goes down with it): the reconnect, retry and
// requeue paths run under memcheck too. Few faults on purpose: the
// example's message.timeout.ms is 10 s and reconnect backoff doubles.
TEST_F(ValgrindTest, ProducerExampleIsCleanAcrossDroppedConnections)
{
    StartBroker();
    CreateTopic("demo", 2);
    char err[256] = "";
    proxy_ = fp_start("127.0.0.1", broker_.port(), err, sizeof err);
    ASSERT_NE(proxy_, nullptr) << err;
    fp_drop_response(proxy_, "/Produce", 0);
    std::string log;
    int rc = -1;
    std::thread run([&] {
        rc = RunUnderValgrind(Example("producer") + " " + fp_addr(proxy_) + " demo 3000", &log);
    });
    // Once the first drop fired, arm a second one (it fires if another
    // Produce call comes).
    fp_counters_t n = {};
    for (int i = 0; i < 3000 && n.responses_dropped < 1; i++) {
        usleep(10 * 1000);
        fp_get_counters(proxy_, &n);
    }
    fp_drop_response(proxy_, "/Produce", 0);
    run.join();
    EXPECT_EQ(rc, 0) << log;
    EXPECT_NE(log.find("3000 delivered, 0 failed"), std::string::npos) << log;
    fp_get_counters(proxy_, &n);
    EXPECT_GE(n.responses_dropped, 1u);
    EXPECT_GE(n.accepted, 2u) << "the producer had to reconnect";
}

// The consumer joins a group, reads what the producer wrote, commits and
// leaves, all under memcheck.
TEST_F(ValgrindTest, ConsumerExampleIsClean)
{
    StartBroker();
    CreateTopic("demo", 2);
    std::string cmd = Example("producer") + " " + broker_.client_addr() + " demo 50 > /dev/null";
    ASSERT_EQ(system(cmd.c_str()), 0) << cmd;
    std::string log;
    int rc =
        RunUnderValgrind(Example("consumer") + " " + broker_.client_addr() + " demo vg 50", &log);
    EXPECT_EQ(rc, 0) << log;
    EXPECT_NE(log.find("50 messages"), std::string::npos) << log;
    EXPECT_NE(log.find("assigned"), std::string::npos) << log;
}
