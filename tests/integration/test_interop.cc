// An independent client generated with a stock toolchain (Debian's grpcio and
// grpc_tools for /usr/bin/python3) calls every RPC: tests/interop/client.py
// (Metadata, Produce, Fetch, ListOffsets, InitProducerId with idempotent
// Produce, JoinGroup, Heartbeat, CommitOffsets, FetchOffsets, LeaveGroup).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "broker_fixture.h"
#include "broker_proc.h"

namespace
{

const char kPython[] = "/usr/bin/python3";

// Runs a shell command, returning its exit code and combined output.
int Shell(const std::string &cmd, std::string *output)
{
    FILE *p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p)
        return -1;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        output->append(buf, n);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

class InteropTest : public BrokerTestBase
{
};

TEST_F(InteropTest, StockGrpcPythonClientCallsEveryRpc)
{
    if (access(kPython, X_OK) != 0)
        GTEST_SKIP() << kPython << " is not installed";
    std::string probe;
    if (Shell(std::string(kPython) + " -c 'import grpc, grpc_tools.protoc'", &probe) != 0)
        GTEST_SKIP() << kPython << " lacks grpcio/grpc_tools (python3-grpcio, "
                     << "python3-grpc-tools; scripts/setup installs them): " << probe;

    // A short heartbeat interval keeps the held Heartbeat checks quick.
    ASSERT_NO_FATAL_FAILURE(StartBroker(
        {"--group.min.session.timeout.ms", "100", "--group.heartbeat.interval.ms", "500"}));
    ASSERT_NO_FATAL_FAILURE(CreateTopic("interop", 3));
    std::string cmd = std::string(kPython) + " " + MQ_SOURCE_DIR + "/tests/interop/client.py" +
                      " --addr " + broker_.client_addr() + " --topic interop --partitions 3" +
                      " --proto-dir " + MQ_SOURCE_DIR + "/sdk/c/proto" +
                      " --heartbeat-interval-ms 500";
    std::string output;
    int code = Shell(cmd, &output);
    EXPECT_EQ(code, 0) << cmd << "\n" << output;
    printf("%s", output.c_str());
}

} // namespace
