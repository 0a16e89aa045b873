// mqadmin, the admin CLI, run as a subprocess (MQ_BIN_DIR/mqadmin) against a
// real mqbroker: every command's normal path, the exit codes (1 usage, 2
// server error, 3 not found, 4 cannot connect), JSON output equal to the
// API's data, CSV with a header row, aligned tables, --help at every level,
// confirmation of topic delete (refused from a non-terminal, asked on a pty),
// the bash completion script, the group commands against a group with real
// members (joined over gRPC with the raw client), and the acl commands
// against a TLS broker with --ca/--cert/--key.
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "broker_fixture.h"
#include "mq/v1/broker.pb-c.h"
#include "rawclient_group.h"
#include "tls_test_util.h"

extern char **environ;

namespace
{

const char *kMqadmin = MQ_BIN_DIR "/mqadmin";

// admin-cli/CMakeLists.txt defines MQ_HAVE_MQADMIN when it builds mqadmin.
class NeedsMqadmin : public ::testing::Environment
{
  public:
    void SetUp() override
    {
#ifndef MQ_HAVE_MQADMIN
        GTEST_SKIP() << "mqadmin is not built (MQ_BUILD_ADMIN=OFF)";
#endif
    }
};
const auto *const kNeedsMqadmin = ::testing::AddGlobalTestEnvironment(new NeedsMqadmin);

struct Result {
    int code = -1; // exit code; 128+N for signal N; -1 timed out
    std::string out, err;
};

std::string Describe(const std::vector<std::string> &args, const Result &r)
{
    std::string s = "mqadmin";
    for (auto &a : args)
        s += " " + a;
    return s + "\n exit " + std::to_string(r.code) + "\n stdout: " + r.out + "\n stderr: " + r.err;
}

// The environment for mqadmin: ours without the variables it reads, plus
// `extra` ("K=V").
std::vector<std::string> ChildEnv(const std::vector<std::string> &extra)
{
    static const char *drop[] = {"MQ_ADMIN_URL=", "NO_COLOR=",    "http_proxy=", "https_proxy=",
                                 "HTTP_PROXY=",   "HTTPS_PROXY=", "ALL_PROXY=",  "all_proxy="};
    std::vector<std::string> env;
    for (char **e = environ; *e; e++) {
        bool keep = true;
        for (auto *d : drop)
            keep = keep && strncmp(*e, d, strlen(d)) != 0;
        if (keep)
            env.push_back(*e);
    }
    for (auto &x : extra)
        env.push_back(x);
    return env;
}

struct RunOpts {
    std::vector<std::string> env; // extra "K=V"
    bool tty_stdin = false;       // stdin is a pseudo-terminal
    std::string input;            // written to the terminal (tty_stdin)
    bool tty_stdout = false;      // stdout is a pseudo-terminal (its \r\n read as \n)
    std::string program;          // default: mqadmin
    int timeout_ms = 30000;
};

// Runs the program to completion, capturing stdout and stderr. stdin is
// /dev/null, or a pty (with `input` typed into it) when tty_stdin is set;
// stdout is a pty when tty_stdout is set.
Result RunProgram(const std::vector<std::string> &args, const RunOpts &o = RunOpts())
{
    Result r;
    std::string prog = o.program.empty() ? kMqadmin : o.program;
    std::vector<std::string> env = ChildEnv(o.env);
    std::vector<char *> argv, envp;
    argv.push_back((char *)prog.c_str());
    for (auto &a : args)
        argv.push_back((char *)a.c_str());
    argv.push_back(nullptr);
    for (auto &e : env)
        envp.push_back((char *)e.c_str());
    envp.push_back(nullptr);

    int out[2], err[2], master = -1, slave = -1;
    if (pipe(out) != 0 || pipe(err) != 0)
        return r;
    if ((o.tty_stdin || o.tty_stdout) && openpty(&master, &slave, nullptr, nullptr, nullptr) != 0)
        return r;
    fflush(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
        if (o.tty_stdin || o.tty_stdout)
            setsid();
        if (o.tty_stdin) {
            dup2(slave, 0);
        } else {
            int devnull = open("/dev/null", O_RDONLY);
            dup2(devnull, 0);
        }
        dup2(o.tty_stdout ? slave : out[1], 1);
        dup2(err[1], 2);
        for (int fd = 3; fd < 256; fd++)
            close(fd);
        execve(prog.c_str(), argv.data(), envp.data());
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    if (slave >= 0)
        close(slave);
    if (master >= 0 && !o.input.empty())
        (void)!write(master, o.input.data(), o.input.size());

    // with a pty on stdout, the terminal is stdout (and the pipe stays quiet)
    int out_fd = o.tty_stdout ? master : out[0];
    long long deadline = test_now_ms() + o.timeout_ms;
    bool open_out = true, open_err = true;
    std::string tty;
    while ((open_out || open_err) && test_now_ms() < deadline) {
        pollfd p[3] = {{out_fd, POLLIN, 0}, {err[0], POLLIN, 0}, {master, POLLIN, 0}};
        int np = master >= 0 && !o.tty_stdout ? 3 : 2;
        if (poll(p, np, 100) <= 0)
            continue;
        char buf[4096];
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(p[i].fd, buf, sizeof buf); // a pty says EIO at the end
            if (n > 0)
                (i ? r.err : r.out).append(buf, (size_t)n);
            else
                (i ? open_err : open_out) = false;
        }
        if (np == 3 && (p[2].revents & POLLIN))
            (void)!read(master, buf, sizeof buf); // the terminal's echo
    }
    if (o.tty_stdout) {
        std::string clean;
        for (char c : r.out)
            if (c != '\r')
                clean += c;
        r.out = clean;
    }
    int status = 0;
    if (open_out || open_err) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    } else {
        waitpid(pid, &status, 0);
        r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    close(out[0]);
    close(err[0]);
    if (master >= 0)
        close(master);
    return r;
}

// A loopback port with nothing listening on it.
int ClosedPort()
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa = {};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    bind(fd, (sockaddr *)&sa, sizeof sa);
    getsockname(fd, (sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

struct Json {
    cJSON *j = nullptr;
    explicit Json(const std::string &s) : j(cJSON_Parse(s.c_str())) {}
    ~Json()
    {
        cJSON_Delete(j);
    }
    Json(const Json &) = delete;
    Json &operator=(const Json &) = delete;
    cJSON *get(const char *k) const
    {
        return cJSON_GetObjectItemCaseSensitive(j, k);
    }
};

// One CSV record per line (our fields hold no line breaks); RFC 4180 quotes.
std::vector<std::vector<std::string>> ParseCsv(const std::string &text)
{
    std::vector<std::vector<std::string>> rows;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::vector<std::string> row;
        std::string f;
        bool q = false;
        for (size_t i = 0; i < line.size(); i++) {
            char c = line[i];
            if (q && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
                f += '"';
                i++;
            } else if (c == '"') {
                q = !q;
            } else if (c == ',' && !q) {
                row.push_back(f);
                f.clear();
            } else {
                f += c;
            }
        }
        row.push_back(f);
        rows.push_back(row);
    }
    return rows;
}

std::vector<std::string> Lines(const std::string &s)
{
    std::vector<std::string> v;
    std::istringstream in(s);
    std::string l;
    while (std::getline(in, l))
        v.push_back(l);
    return v;
}

// ---- without a broker --------------------------------------------------------

TEST(MqadminCli, HelpAtEveryLevel)
{
    const std::vector<std::vector<std::string>> cases = {
        {"--help"},
        {"-h"},
        {"topic", "--help"},
        {"topic", "create", "--help"},
        {"topic", "list", "-h"},
        {"topic", "describe", "--help"},
        {"topic", "alter", "--help"},
        {"topic", "delete", "--help"},
        {"group", "--help"},
        {"group", "list", "--help"},
        {"group", "describe", "-h"},
        {"group", "delete", "--help"},
        {"group", "reset-offsets", "--help"},
        {"cluster", "--help"},
        {"cluster", "health", "--help"},
        {"cluster", "info", "--help"},
        {"metrics", "--help"},
        {"--help", "topic", "create"},
        {"topic", "create", "--bogus", "--help"}, // help wins over a bad flag
    };
    for (auto &args : cases) {
        Result r = RunProgram(args);
        std::string path = "mqadmin";
        for (auto &a : args)
            if (a[0] != '-')
                path += " " + a;
        EXPECT_EQ(r.code, 0) << Describe(args, r);
        EXPECT_NE(r.out.find("Usage: " + path), std::string::npos) << Describe(args, r);
        EXPECT_NE(r.out.find("--url URL"), std::string::npos) << Describe(args, r);
    }
    Result r = RunProgram({"--help"});
    for (const char *s : {"topic", "cluster", "metrics", "Exit codes", "MQ_ADMIN_URL"})
        EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
    r = RunProgram({"topic", "create", "--help"});
    for (const char *s : {"--partitions N", "--config KEY=VALUE", "retention.ms", "Examples"})
        EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
    r = RunProgram({"topic", "delete", "--help"});
    EXPECT_NE(r.out.find("--yes"), std::string::npos) << r.out;
    r = RunProgram({"group", "reset-offsets", "--help"});
    for (const char *s : {"--topic T", "--to-earliest", "--to-latest", "--to-offset N",
                          "--to-datetime ISO8601", "--dry-run", "--yes", "Examples"})
        EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
    r = RunProgram({"group", "remove-member", "--help"});
    for (const char *s :
         {"--member MEMBER_ID", "--instance GROUP_INSTANCE_ID", "--yes", "Examples"})
        EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
    r = RunProgram({"group", "--help"});
    for (const char *s : {"list", "describe", "delete", "remove-member", "reset-offsets"})
        EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
}

TEST(MqadminCli, Version)
{
    Result r = RunProgram({"--version"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("mqadmin ", 0), 0u) << r.out;
}

TEST(MqadminCli, BadUsageExitsOneWithUsage)
{
    struct Case {
        std::vector<std::string> args;
        const char *says;
    };
    const std::vector<Case> cases = {
        {{}, "Usage: mqadmin COMMAND"},
        {{"frob"}, "unknown command 'frob'"},
        {{"topic"}, "'mqadmin topic' needs a command"},
        {{"topic", "frob"}, "unknown command 'frob' for 'mqadmin topic'"},
        {{"topic", "create"}, "missing argument"},
        {{"topic", "create", "x", "--bogus"},
         "unknown option '--bogus' for 'mqadmin topic create'"},
        {{"topic", "create", "x", "--partitions"}, "'--partitions' needs a value"},
        {{"topic", "create", "x", "--partitions", "abc"}, "invalid --partitions 'abc'"},
        {{"topic", "create", "x", "--config", "noequals"}, "invalid --config 'noequals'"},
        {{"topic", "describe", "a", "b"}, "unexpected argument 'b'"},
        {{"topic", "delete", "", "--yes"}, "empty argument"},
        {{"topic", "alter", "x"}, "nothing to change"},
        {{"topic", "delete", "x", "--yes=1"}, "'--yes' takes no value"},
        {{"--output", "xml", "topic", "list"}, "invalid --output 'xml'"},
        {{"--timeout", "0", "topic", "list"}, "invalid --timeout '0'"},
        {{"--timeout", "soon", "topic", "list"}, "invalid --timeout 'soon'"},
        {{"--url", "ftp://h:1", "topic", "list"}, "invalid URL 'ftp://h:1'"},
        {{"--ca", "/nonexistent/ca.pem", "topic", "list"}, "'/nonexistent/ca.pem'"},
        {{"--cert", "/nonexistent/c.pem", "topic", "list"}, "'/nonexistent/c.pem'"},
        {{"group"}, "'mqadmin group' needs a command"},
        {{"group", "describe"}, "missing argument"},
        {{"group", "delete", "g", "--bogus"},
         "unknown option '--bogus' for 'mqadmin group delete'"},
        {{"group", "list", "extra"}, "unexpected argument 'extra'"},
        {{"group", "reset-offsets", "g", "--to-earliest"}, "--topic T is required"},
        {{"group", "reset-offsets", "g", "--topic", "t"}, "give exactly one of --to-earliest"},
        {{"group", "reset-offsets", "g", "-t", "t", "--to-earliest", "--to-latest"},
         "give exactly one of"},
        {{"group", "reset-offsets", "g", "-t", "t", "--to-offset", "-1"},
         "invalid --to-offset '-1'"},
        {{"group", "reset-offsets", "g", "-t", "t", "--to-offset", "x"}, "invalid --to-offset 'x'"},
        {{"group", "reset-offsets", "g", "-t", "t", "--to-latest", "--partition", "one"},
         "invalid --partition 'one'"},
        {{"group", "reset-offsets", "g", "-t", "t", "--to-datetime", "yesterday", "--dry-run"},
         "invalid --to-datetime 'yesterday'"},
        {{"group", "reset-offsets", "g", "-t", "t", "--to-datetime", "2026-02-30T10:00:00Z"},
         "no such date or time"},
        {{"group", "reset-offsets", "g", "-t", "t", "--to-datetime", "2026-13-01"},
         "no such date or time"},
        {{"group", "reset-offsets", "g", "-t", "t", "--to-datetime", "2026-01-01T24:00:00Z"},
         "no such date or time"},
        {{"group", "reset-offsets", "g", "-t", "t", "--to-datetime", "2026-01-01T10:00:00+5"},
         "invalid --to-datetime"},
        {{"group", "reset-offsets", "g", "-t", "t", "--to-datetime", "2026-01-01T10:00Zjunk"},
         "invalid --to-datetime"},
        {{"group", "reset-offsets", "g", "-t", "t", "--to-datetime", "1969-12-31T23:59:59Z"},
         "before 1970"},
    };
    for (auto &c : cases) {
        Result r = RunProgram(c.args);
        EXPECT_EQ(r.code, 1) << Describe(c.args, r);
        EXPECT_NE(r.err.find(c.says), std::string::npos) << c.says << "\n" << Describe(c.args, r);
        EXPECT_NE(r.err.find("Usage: mqadmin"), std::string::npos) << Describe(c.args, r);
        EXPECT_EQ(r.out, "") << Describe(c.args, r);
    }
}

TEST(MqadminCli, BrokerDownExitsFourNamingTheUrl)
{
    std::string url = "http://127.0.0.1:" + std::to_string(ClosedPort());
    for (auto args : std::vector<std::vector<std::string>>{{"--url", url, "topic", "list"},
                                                           {"--url", url, "cluster", "health"},
                                                           {"--url", url, "metrics"}}) {
        Result r = RunProgram(args);
        EXPECT_EQ(r.code, 4) << Describe(args, r);
        EXPECT_NE(r.err.find(url), std::string::npos) << Describe(args, r);
        EXPECT_NE(r.err.find("cannot reach"), std::string::npos) << Describe(args, r);
    }
    // from the environment too
    RunOpts o;
    o.env = {"MQ_ADMIN_URL=" + url};
    Result r = RunProgram({"topic", "describe", "x"}, o);
    EXPECT_EQ(r.code, 4) << r.err;
    EXPECT_NE(r.err.find(url + "/api/v1/topics/x"), std::string::npos) << r.err;
}

TEST(MqadminCli, SilentServerTimesOutWithExitFour)
{
    // a listener that never accepts: the TCP handshake completes, no answer
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa = {};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    ASSERT_EQ(bind(fd, (sockaddr *)&sa, sizeof sa), 0);
    ASSERT_EQ(listen(fd, 8), 0);
    getsockname(fd, (sockaddr *)&sa, &len);
    std::string url = "http://127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
    long long t0 = test_now_ms();
    Result r = RunProgram({"--url", url, "--timeout", "0.5", "cluster", "health"});
    long long took = test_now_ms() - t0;
    close(fd);
    EXPECT_EQ(r.code, 4) << r.err;
    EXPECT_NE(r.err.find("no answer from " + url), std::string::npos) << r.err;
    EXPECT_LT(took, 5000);
}

// A one-connection HTTP/1.1 server on a thread answering every request with
// the given status, content type and body: what mqadmin meets when --url
// points at something other than the broker's admin API.
class CannedServer
{
  public:
    CannedServer(int status, const std::string &type, const std::string &body)
    {
        fd_ = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in sa = {};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof sa;
        bind(fd_, (sockaddr *)&sa, sizeof sa);
        listen(fd_, 8);
        getsockname(fd_, (sockaddr *)&sa, &len);
        port_ = ntohs(sa.sin_port);
        answer_ = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " + type +
                  "\r\nContent-Length: " + std::to_string(body.size()) +
                  "\r\nConnection: close\r\n\r\n" + body;
        thread_ = std::thread([this] { Serve(); });
    }
    ~CannedServer()
    {
        shutdown(fd_, SHUT_RDWR);
        close(fd_);
        thread_.join();
    }
    std::string url() const
    {
        return "http://127.0.0.1:" + std::to_string(port_);
    }

  private:
    void Serve()
    {
        for (;;) {
            int c = accept(fd_, nullptr, nullptr);
            if (c < 0)
                return;
            char buf[8192];
            std::string req;
            while (req.find("\r\n\r\n") == std::string::npos) {
                ssize_t n = recv(c, buf, sizeof buf, 0);
                if (n <= 0)
                    break;
                req.append(buf, (size_t)n);
            }
            (void)!send(c, answer_.data(), answer_.size(), MSG_NOSIGNAL);
            close(c);
        }
    }
    int fd_ = -1;
    int port_ = 0;
    std::string answer_;
    std::thread thread_;
};

TEST(MqadminCli, AnswersThatAreNotTheAdminApiExitTwo)
{
    {
        CannedServer s(200, "text/html", "<html>hello</html>");
        Result r = RunProgram({"--url", s.url(), "topic", "list"});
        EXPECT_EQ(r.code, 2) << r.err;
        EXPECT_NE(r.err.find("not the admin API's JSON envelope"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(s.url()), std::string::npos) << r.err;
        r = RunProgram({"--url", s.url(), "metrics"});
        EXPECT_EQ(r.code, 2) << r.err;
        EXPECT_NE(r.err.find("line 1 of the metrics"), std::string::npos) << r.err;
    }
    {
        CannedServer s(502, "text/plain", "bad gateway\nmore");
        Result r = RunProgram({"--url", s.url() + "/", "cluster", "info"});
        EXPECT_EQ(r.code, 2) << r.err;
        EXPECT_NE(r.err.find("HTTP 502 from GET " + s.url() + "/api/v1/cluster"), std::string::npos)
            << r.err;
        EXPECT_NE(r.err.find("bad gateway"), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find("more"), std::string::npos) << "first line only: " << r.err;
    }
}

TEST(MqadminCli, MetricsParserReadsTheExpositionFormat)
{
    // escaped label values, a timestamp, NaN and +Inf, comments, blank lines
    CannedServer s(200, "text/plain; version=0.0.4",
                   "# HELP mq_partition_size_bytes x\n"
                   "# TYPE mq_partition_size_bytes gauge\n"
                   "\n"
                   "mq_build_info{version=\"9.9\"} 1\n"
                   "mq_partition_size_bytes{topic=\"a\\\"b\\\\c\",partition=\"7\"} 4096 "
                   "1700000000000\n"
                   "mq_partition_log_end_offset{topic=\"a\\\"b\\\\c\",partition=\"7\"} 12\n"
                   "mq_rpc_duration_seconds_bucket{method=\"Fetch\",le=\"0.001\"} 0\n"
                   "mq_rpc_duration_seconds_bucket{method=\"Fetch\",le=\"+Inf\"} 3\n"
                   "mq_rpc_duration_seconds_sum{method=\"Fetch\"} 3.5\n"
                   "mq_rpc_duration_seconds_count{method=\"Fetch\"} 3\n"
                   "mq_rpc_requests_total{method=\"Fetch\",grpc_code=\"OK\"} 2\n"
                   "mq_rpc_requests_total{method=\"Fetch\",grpc_code=\"UNAVAILABLE\"} 1\n"
                   "mq_uptime_seconds NaN\n");
    Result r = RunProgram({"--url", s.url(), "-o", "json", "metrics"});
    ASSERT_EQ(r.code, 0) << r.err;
    Json j(r.out);
    ASSERT_NE(j.j, nullptr) << r.out;
    EXPECT_STREQ(cJSON_GetObjectItem(j.get("broker"), "version")->valuestring, "9.9");
    EXPECT_TRUE(cJSON_IsNull(cJSON_GetObjectItem(j.get("broker"), "uptime_seconds"))) << r.out;
    cJSON *p = cJSON_GetArrayItem(j.get("partitions"), 0);
    ASSERT_NE(p, nullptr) << r.out;
    EXPECT_STREQ(cJSON_GetObjectItem(p, "topic")->valuestring, "a\"b\\c");
    EXPECT_EQ(cJSON_GetObjectItem(p, "partition")->valuedouble, 7);
    EXPECT_EQ(cJSON_GetObjectItem(p, "size_bytes")->valuedouble, 4096);
    EXPECT_EQ(cJSON_GetObjectItem(p, "log_end_offset")->valuedouble, 12);
    cJSON *f = cJSON_GetArrayItem(j.get("rpc"), 0);
    ASSERT_NE(f, nullptr) << r.out;
    EXPECT_EQ(cJSON_GetObjectItem(f, "requests")->valuedouble, 3);
    EXPECT_EQ(cJSON_GetObjectItem(f, "errors")->valuedouble, 1);
    EXPECT_DOUBLE_EQ(cJSON_GetObjectItem(f, "latency_avg_seconds")->valuedouble, 3.5 / 3);
    // the 99th percentile is past the last finite bucket: unknown
    EXPECT_TRUE(cJSON_IsNull(cJSON_GetObjectItem(f, "latency_p99_le_seconds"))) << r.out;

    r = RunProgram({"--url", s.url(), "-o", "csv", "metrics"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("partition,\"a\"\"b\\c/7\",size_bytes,4096\n"), std::string::npos)
        << r.out;
}

TEST(MqadminCli, BrokenMetricsLineIsNamed)
{
    CannedServer s(200, "text/plain", "mq_topics 1\nmq_partitions{x=\"unterminated} 3\n");
    Result r = RunProgram({"--url", s.url(), "metrics"});
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("line 2 of the metrics"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("mq_partitions{x="), std::string::npos) << r.err;
}

// ---- against a broker --------------------------------------------------------

class Mqadmin : public BrokerTestBase
{
  protected:
    void SetUp() override
    {
        StartBroker();
        url_ = std::string("http://") + broker_.admin_addr();
    }
    // mqadmin with --url (and --output when given).
    Result Admin(std::vector<std::string> args, const char *output = nullptr, RunOpts o = RunOpts())
    {
        std::vector<std::string> a = {"--url", url_};
        if (output) {
            a.push_back("--output");
            a.push_back(output);
        }
        a.insert(a.end(), args.begin(), args.end());
        return RunProgram(a, o);
    }
    // The API's `data` for GET path, as JSON text.
    std::string ApiData(const std::string &path, long *status = nullptr)
    {
        char *body = nullptr;
        long st = rc_admin_request(broker_.admin_addr(), "GET", path.c_str(), nullptr, &body);
        if (status)
            *status = st;
        Json j(body ? body : "");
        free(body);
        char *s = cJSON_PrintUnformatted(j.get("data"));
        std::string out = s ? s : "";
        cJSON_free(s);
        return out;
    }
    bool TopicExists(const std::string &name)
    {
        long st = 0;
        ApiData("/api/v1/topics/" + name, &st);
        return st == 200;
    }
    // One batch of `records` records; timestamps from ts_ms (0: now).
    void Produce(const std::string &topic, int32_t partition, int records, int64_t ts_ms = 0)
    {
        rawclient_t *c = Connect();
        ASSERT_NE(c, nullptr);
        size_t len = 0;
        uint8_t *b = rc_make_batch(records, 100, ts_ms ? ts_ms : rc_now_ms(), 7, &len);
        ASSERT_NE(b, nullptr);
        rc_produce_result_t pr;
        int rc = rc_produce(c, topic.c_str(), partition, b, len, 1, &pr);
        free(b);
        ASSERT_EQ(rc, 0) << pr.grpc_message;
        ASSERT_EQ(pr.error_code, 0) << pr.error_message;
    }
    std::string url_;
};

// JSON text equal as JSON (order of members does not matter).
::testing::AssertionResult SameJson(const std::string &a, const std::string &b)
{
    Json ja(a), jb(b);
    if (!ja.j)
        return ::testing::AssertionFailure() << "not JSON: " << a;
    if (!jb.j)
        return ::testing::AssertionFailure() << "not JSON: " << b;
    if (!cJSON_Compare(ja.j, jb.j, 1))
        return ::testing::AssertionFailure() << a << "\n  differs from\n" << b;
    return ::testing::AssertionSuccess();
}

TEST_F(Mqadmin, TopicCreateListDescribeAlterDeleteAsJson)
{
    Result r = Admin({"topic", "create", "orders", "--partitions", "3", "--config",
                      "retention.ms=86400000", "-c", "segment.bytes=1048576"},
                     "json");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_TRUE(SameJson(r.out, ApiData("/api/v1/topics/orders")));
    Json created(r.out);
    EXPECT_EQ(cJSON_GetArraySize(created.get("partitions")), 3);
    cJSON *ov = created.get("config_overrides");
    EXPECT_STREQ(cJSON_GetObjectItem(ov, "retention.ms")->valuestring, "86400000");
    EXPECT_STREQ(cJSON_GetObjectItem(ov, "segment.bytes")->valuestring, "1048576");

    ASSERT_EQ(Admin({"topic", "create", "clicks"}, "json").code, 0); // broker's default count
    r = Admin({"topic", "list"}, "json");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(SameJson(r.out, ApiData("/api/v1/topics")));
    EXPECT_EQ(cJSON_GetArraySize(Json(r.out).j), 2);

    r = Admin({"topic", "describe", "orders"}, "json");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(SameJson(r.out, ApiData("/api/v1/topics/orders")));

    r = Admin({"topic", "alter", "orders", "--config", "retention.bytes=1073741824",
               "--reset-config", "retention.ms"},
              "json");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(SameJson(r.out, ApiData("/api/v1/topics/orders")));
    Json altered(ApiData("/api/v1/topics/orders"));
    ov = altered.get("config_overrides");
    EXPECT_STREQ(cJSON_GetObjectItem(ov, "retention.bytes")->valuestring, "1073741824");
    EXPECT_FALSE(cJSON_HasObjectItem(ov, "retention.ms")) << "reset to the default";
    EXPECT_STREQ(cJSON_GetObjectItem(ov, "segment.bytes")->valuestring, "1048576");

    r = Admin({"topic", "delete", "orders", "--yes"}, "json");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(SameJson(r.out, R"({"name":"orders","deleted":true})"));
    EXPECT_FALSE(TopicExists("orders"));
    EXPECT_TRUE(TopicExists("clicks"));
}

TEST_F(Mqadmin, JsonIsTheDefaultWhenPiped)
{
    CreateTopic("t", 2);
    Result r = Admin({"topic", "list"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(SameJson(r.out, ApiData("/api/v1/topics")));
    EXPECT_EQ(r.out.find('\033'), std::string::npos) << "no colors in a pipe";
}

TEST_F(Mqadmin, TableWithColorsIsTheDefaultOnATerminal)
{
    CreateTopic("t", 2);
    RunOpts o;
    o.tty_stdout = true;
    o.env = {"TERM=xterm"};
    Result r = Admin({"topic", "list"}, nullptr, o);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("\033[1mNAME", 0), 0u) << "a bold header: " << r.out;
    EXPECT_NE(r.out.find("\nt "), std::string::npos) << r.out;

    r = Admin({"topic", "list", "--no-color"}, nullptr, o);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("NAME", 0), 0u) << r.out;
    EXPECT_EQ(r.out.find('\033'), std::string::npos) << r.out;

    o.env.push_back("NO_COLOR=1");
    r = Admin({"topic", "list"}, nullptr, o);
    EXPECT_EQ(r.out.find('\033'), std::string::npos) << r.out;

    // JSON on a terminal is indented with two spaces and still parses
    r = Admin({"topic", "describe", "t"}, "json", o);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("{\n  \"name\": \"t\",\n", 0), 0u) << r.out;
    EXPECT_TRUE(SameJson(r.out, ApiData("/api/v1/topics/t")));
}

TEST_F(Mqadmin, TablesAreAligned)
{
    CreateTopic("a", 1);
    CreateTopic("a-much-longer-topic-name", 12);
    Result r = Admin({"topic", "list"}, "table");
    ASSERT_EQ(r.code, 0) << r.err;
    auto lines = Lines(r.out);
    ASSERT_EQ(lines.size(), 3u) << r.out;
    EXPECT_EQ(lines[0].rfind("NAME", 0), 0u) << r.out;
    // PARTITIONS is right-aligned: every row's count ends where the title ends
    size_t end = lines[0].find("PARTITIONS") + strlen("PARTITIONS");
    ASSERT_NE(end, std::string::npos);
    EXPECT_EQ(lines[1].substr(end - 1, 2), "1 ") << r.out;
    EXPECT_EQ(lines[2].substr(end - 2, 3), "12 ") << r.out;
    // CREATED starts at the same column in every line
    size_t created = lines[0].find("CREATED");
    for (size_t i = 1; i < lines.size(); i++) {
        EXPECT_EQ(lines[i][created - 1], ' ') << r.out;
        EXPECT_NE(lines[i][created], ' ') << r.out;
    }

    r = Admin({"topic", "describe", "a-much-longer-topic-name"}, "table");
    ASSERT_EQ(r.code, 0) << r.err;
    for (const char *s : {"Name:", "a-much-longer-topic-name", "Partitions", "EARLIEST", "LATEST",
                          "SIZE", "Config", "retention.ms", "default"})
        EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
    EXPECT_EQ(r.out.find('\033'), std::string::npos) << "no colors when stdout is a pipe";
}

TEST_F(Mqadmin, TopicListEmptyTable)
{
    Result r = Admin({"topic", "list"}, "table");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "No topics.\n");
    r = Admin({"topic", "list"}, "json");
    EXPECT_EQ(r.out, "[]\n");
}

TEST_F(Mqadmin, CsvHasAHeaderRowAndQuotes)
{
    CreateTopic("orders", 2, R"("config":{"retention.ms":"1000","segment.bytes":"1048576"})");
    CreateTopic("plain", 1);
    Result r = Admin({"topic", "list"}, "csv");
    ASSERT_EQ(r.code, 0) << r.err;
    auto rows = ParseCsv(r.out);
    ASSERT_EQ(rows.size(), 3u) << r.out;
    EXPECT_EQ(rows[0], (std::vector<std::string>{"name", "partition_count", "created_ms",
                                                 "config_overrides"}));
    EXPECT_EQ(rows[1][0], "orders");
    EXPECT_EQ(rows[1][1], "2");
    EXPECT_EQ(rows[1].size(), 4u) << "the comma inside the overrides is quoted: " << r.out;
    EXPECT_NE(rows[1][3].find("retention.ms=1000"), std::string::npos) << r.out;
    EXPECT_NE(rows[1][3].find("segment.bytes=1048576"), std::string::npos) << r.out;
    EXPECT_EQ(rows[2], (std::vector<std::string>{"plain", "1", rows[2][2], ""}));
    Json api(ApiData("/api/v1/topics"));
    EXPECT_EQ(rows[1][2], std::to_string((long long)cJSON_GetObjectItem(
                                             cJSON_GetArrayItem(api.j, 0), "created_ms")
                                             ->valuedouble));

    Produce("orders", 1, 10);
    r = Admin({"topic", "describe", "orders"}, "csv");
    ASSERT_EQ(r.code, 0) << r.err;
    rows = ParseCsv(r.out);
    ASSERT_EQ(rows.size(), 3u) << r.out;
    EXPECT_EQ(rows[0][0], "topic");
    EXPECT_EQ(rows[0][1], "partition");
    EXPECT_EQ(rows[2][0], "orders");
    EXPECT_EQ(rows[2][1], "1");
    EXPECT_EQ(rows[2][4], "10") << "latest offset after 10 records: " << r.out;

    r = Admin({"cluster", "info"}, "csv");
    ASSERT_EQ(r.code, 0) << r.err;
    rows = ParseCsv(r.out);
    ASSERT_EQ(rows.size(), 2u) << r.out;
    EXPECT_EQ(rows[0][0], "node_id");
    EXPECT_EQ(rows[1].size(), rows[0].size());

    r = Admin({"metrics"}, "csv");
    ASSERT_EQ(r.code, 0) << r.err;
    rows = ParseCsv(r.out);
    ASSERT_GT(rows.size(), 1u);
    EXPECT_EQ(rows[0], (std::vector<std::string>{"section", "name", "field", "value"}));
}

TEST_F(Mqadmin, UnknownTopicExitsThree)
{
    for (auto args : std::vector<std::vector<std::string>>{
             {"topic", "describe", "nope"},
             {"topic", "alter", "nope", "--config", "retention.ms=1"},
             {"topic", "delete", "nope", "--yes"}}) {
        Result r = Admin(args, "json");
        EXPECT_EQ(r.code, 3) << Describe(args, r);
        EXPECT_NE(r.err.find("topic 'nope' does not exist"), std::string::npos)
            << Describe(args, r);
        EXPECT_EQ(r.out, "") << Describe(args, r);
    }
}

TEST_F(Mqadmin, ServerErrorsExitTwoWithTheBrokersMessage)
{
    CreateTopic("orders", 1);
    Result r = Admin({"topic", "create", "orders"}, "json");
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("topic 'orders' already exists"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("409"), std::string::npos) << r.err;

    r = Admin({"topic", "create", "x", "--partitions", "0"}, "json");
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("partitions must be between"), std::string::npos) << r.err;
    EXPECT_FALSE(TopicExists("x"));

    r = Admin({"topic", "create", "bad/name"}, "json");
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("invalid"), std::string::npos) << r.err;

    r = Admin({"topic", "alter", "orders", "--config", "no.such.key=1"}, "json");
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("no.such.key"), std::string::npos) << r.err;

    // "." must reach the broker as a name, not be folded into another route
    r = Admin({"topic", "describe", ".."}, "json");
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("invalid"), std::string::npos) << r.err;
}

TEST_F(Mqadmin, DeleteFromANonTerminalWithoutYesChangesNothing)
{
    CreateTopic("keep", 2);
    Result r = Admin({"topic", "delete", "keep"}, "table");
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("not deleting topic 'keep'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--yes"), std::string::npos) << r.err;
    EXPECT_TRUE(TopicExists("keep"));

    r = Admin({"topic", "delete", "keep", "-y"}, "table");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "Deleted topic 'keep'.\n");
    EXPECT_FALSE(TopicExists("keep"));
}

TEST_F(Mqadmin, DeleteAsksOnATerminal)
{
    CreateTopic("asked", 2);
    Produce("asked", 0, 5);
    RunOpts o;
    o.tty_stdin = true;
    o.input = "n\n";
    Result r = Admin({"topic", "delete", "asked"}, "table", o);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("Delete topic 'asked' with 2 partitions, 5 records"), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("[y/N]"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("not confirmed"), std::string::npos) << r.err;
    EXPECT_TRUE(TopicExists("asked"));

    o.input = "\n"; // the default is no
    r = Admin({"topic", "delete", "asked"}, "table", o);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_TRUE(TopicExists("asked"));

    o.input = "yes\n";
    r = Admin({"topic", "delete", "asked"}, "table", o);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "Deleted topic 'asked'.\n");
    EXPECT_FALSE(TopicExists("asked"));

    // an unknown topic is reported before anything is asked
    r = Admin({"topic", "delete", "asked"}, "table", o);
    EXPECT_EQ(r.code, 3) << r.err;
    EXPECT_EQ(r.err.find("[y/N]"), std::string::npos) << r.err;
}

TEST_F(Mqadmin, TableOutputForChanges)
{
    Result r = Admin({"topic", "create", "t", "-p", "2", "-c", "retention.ms=5000"}, "table");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("Created topic 't' with 2 partitions.\n", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("retention.ms            5000        topic"), std::string::npos) << r.out;
    r = Admin({"topic", "alter", "t", "--reset-config", "retention.ms"}, "table");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("Altered topic 't'", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("retention.ms            604800000   default"), std::string::npos)
        << r.out;
}

TEST_F(Mqadmin, ClusterHealthAndInfo)
{
    Result r = Admin({"cluster", "health"}, "json");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(SameJson(r.out, R"({"status":"ok"})"));
    r = Admin({"cluster", "health"}, "table");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("Status:"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("ok"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(url_), std::string::npos) << r.out;

    CreateTopic("a", 3);
    r = Admin({"cluster", "info"}, "json");
    ASSERT_EQ(r.code, 0) << r.err;
    Json got(r.out), api(ApiData("/api/v1/cluster"));
    ASSERT_NE(got.j, nullptr) << r.out;
    // uptime moves between the two requests; everything else must match
    cJSON_DeleteItemFromObject(got.j, "uptime_seconds");
    cJSON_DeleteItemFromObject(api.j, "uptime_seconds");
    EXPECT_TRUE(cJSON_Compare(got.j, api.j, 1)) << r.out;
    EXPECT_EQ(cJSON_GetObjectItem(got.j, "partition_count")->valuedouble, 3);
    EXPECT_STREQ(
        cJSON_GetObjectItem(cJSON_GetObjectItem(got.j, "listeners"), "client")->valuestring,
        broker_.client_addr());

    r = Admin({"cluster", "info"}, "table");
    ASSERT_EQ(r.code, 0) << r.err;
    for (const char *s : {"Node ID:", "Version:", "Uptime:", "Topics:", "Partitions:"})
        EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
    EXPECT_NE(r.out.find(broker_.client_addr()), std::string::npos) << r.out;
}

TEST_F(Mqadmin, MetricsSummary)
{
    CreateTopic("m", 2);
    Produce("m", 1, 25);
    Produce("m", 1, 5);

    Result r = Admin({"metrics"}, "json");
    ASSERT_EQ(r.code, 0) << r.err;
    Json j(r.out);
    ASSERT_NE(j.j, nullptr) << r.out;
    cJSON *broker = j.get("broker");
    EXPECT_EQ(cJSON_GetObjectItem(broker, "topics")->valuedouble, 1);
    EXPECT_EQ(cJSON_GetObjectItem(broker, "partitions")->valuedouble, 2);
    EXPECT_EQ(cJSON_GetObjectItem(broker, "produced_records")->valuedouble, 30);
    EXPECT_GE(cJSON_GetObjectItem(broker, "connections_opened")->valuedouble, 1);
    bool produce = false;
    cJSON *x;
    cJSON_ArrayForEach(x, j.get("rpc"))
    {
        if (strcmp(cJSON_GetObjectItem(x, "method")->valuestring, "Produce"))
            continue;
        produce = true;
        EXPECT_EQ(cJSON_GetObjectItem(x, "requests")->valuedouble, 2) << r.out;
        EXPECT_EQ(cJSON_GetObjectItem(x, "errors")->valuedouble, 0) << r.out;
        EXPECT_GT(cJSON_GetObjectItem(x, "received_bytes")->valuedouble, 0) << r.out;
        EXPECT_TRUE(cJSON_IsNumber(cJSON_GetObjectItem(x, "latency_p99_le_seconds"))) << r.out;
    }
    EXPECT_TRUE(produce) << r.out;
    int seen = 0;
    cJSON_ArrayForEach(x, j.get("partitions"))
    {
        if (strcmp(cJSON_GetObjectItem(x, "topic")->valuestring, "m") ||
            cJSON_GetObjectItem(x, "partition")->valuedouble != 1)
            continue;
        seen++;
        EXPECT_EQ(cJSON_GetObjectItem(x, "log_end_offset")->valuedouble, 30) << r.out;
        EXPECT_EQ(cJSON_GetObjectItem(x, "records")->valuedouble, 30) << r.out;
        EXPECT_GT(cJSON_GetObjectItem(x, "size_bytes")->valuedouble, 0) << r.out;
    }
    EXPECT_EQ(seen, 1) << r.out;

    r = Admin({"metrics"}, "table");
    ASSERT_EQ(r.code, 0) << r.err;
    for (const char *s : {"Connections open:", "gRPC requests", "Produce", "Admin requests",
                          "Partitions", "PRODUCED"})
        EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;

    r = Admin({"metrics"}, "csv");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("\npartition,m/1,log_end_offset,30\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\nrpc,Produce,requests,2\n"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("rpc,Produce,method,"), std::string::npos) << r.out;

    r = Admin({"metrics", "--raw"}, "table");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("# HELP", 0), 0u) << r.out.substr(0, 200);
    EXPECT_NE(r.out.find("mq_partition_log_end_offset{topic=\"m\",partition=\"1\"} 30"),
              std::string::npos);
}

TEST_F(Mqadmin, ClientPortInsteadOfAdminPortExitsFour)
{
    // a common slip: the gRPC (HTTP/2-only) port instead of the admin port
    std::string url = std::string("http://") + broker_.client_addr();
    Result r = RunProgram({"--url", url, "topic", "list"});
    EXPECT_EQ(r.code, 4) << r.err;
    EXPECT_NE(r.err.find(url), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("admin port"), std::string::npos) << r.err;
}

TEST_F(Mqadmin, TlsOptionsReachLibcurl)
{
    std::string https = std::string("https://") + broker_.admin_addr();
    // a CA file that is not PEM: libcurl rejects it, a local mistake (1)
    std::string not_pem = std::string(MQ_SOURCE_DIR) + "/admin-cli/completion/mqadmin.bash";
    Result r = RunProgram({"--url", https, "--ca", not_pem, "cluster", "health"});
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find(not_pem), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--ca"), std::string::npos) << r.err;

    // a real CA bundle against the plaintext admin port: the TLS handshake
    // fails, which is a connection failure naming the URL (4)
    const char *bundle = "/etc/ssl/certs/ca-certificates.crt";
    if (access(bundle, R_OK) == 0) {
        r = RunProgram({"--url", https, "--ca", bundle, "--timeout", "5", "cluster", "health"});
        EXPECT_EQ(r.code, 4) << r.err;
        EXPECT_NE(r.err.find(https), std::string::npos) << r.err;
    }

    // TLS files with an http:// URL: said, and the request still works
    r = Admin({"--ca", not_pem, "cluster", "health"}, "json");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("only apply to https://"), std::string::npos) << r.err;
}

TEST_F(Mqadmin, BashCompletion)
{
    CreateTopic("orders", 1);
    CreateTopic("other", 1);
    std::string script = std::string(MQ_SOURCE_DIR) + "/admin-cli/completion/mqadmin.bash";
    auto complete = [&](const std::string &line) {
        std::string cmd = "source '" + script + "' && COMP_LINE='" + line +
                          "' && COMP_POINT=${#COMP_LINE} && _mqadmin && "
                          "printf '%s\\n' \"${COMPREPLY[@]}\"";
        RunOpts o;
        o.program = "/bin/bash";
        o.env = {std::string("PATH=") + MQ_BIN_DIR + ":/usr/bin:/bin", "MQ_ADMIN_URL=" + url_};
        Result r = RunProgram({"-c", cmd}, o);
        EXPECT_EQ(r.code, 0) << line << ": " << r.err;
        return r.out;
    };
    EXPECT_EQ(complete("mqadmin "), "topic\ngroup\ncluster\nmetrics\nacl\n");
    EXPECT_EQ(complete("mqadmin to"), "topic\n");
    EXPECT_EQ(complete("mqadmin topic "), "create\nlist\ndescribe\nalter\ndelete\n");
    EXPECT_EQ(complete("mqadmin topic describe "), "orders\nother\n");
    EXPECT_EQ(complete("mqadmin topic delete ord"), "orders\n");
    EXPECT_EQ(complete("mqadmin topic describe orders "), "\n");
    std::string opts = complete("mqadmin topic create x --");
    EXPECT_NE(opts.find("--partitions\n"), std::string::npos) << opts;
    EXPECT_NE(opts.find("--url\n"), std::string::npos) << opts;
    EXPECT_EQ(complete("mqadmin --output "), "table\njson\ncsv\n");
    EXPECT_EQ(complete("mqadmin --output=c"), "csv\n");
    EXPECT_EQ(complete("mqadmin topic alter x --config retention.b"), "retention.bytes=\n");

    EXPECT_EQ(complete("mqadmin group "), "list\ndescribe\ndelete\nremove-member\nreset-offsets\n");
    EXPECT_EQ(complete("mqadmin group describe "), "\n") << "no groups yet";
    long st = rc_admin_request(broker_.admin_addr(), "POST", "/api/v1/groups/billing/offsets",
                               R"({"topic":"orders","to":"earliest"})", nullptr);
    ASSERT_EQ(st, 200);
    EXPECT_EQ(complete("mqadmin group describe "), "billing\n");
    EXPECT_EQ(complete("mqadmin group reset-offsets bi"), "billing\n");
    EXPECT_EQ(complete("mqadmin group reset-offsets billing --topic o"), "orders\nother\n");
    EXPECT_EQ(complete("mqadmin group reset-offsets billing --to-"),
              "--to-earliest\n--to-latest\n--to-offset\n--to-datetime\n");
    EXPECT_EQ(complete("mqadmin acl add --group "), "billing\n");
}

// ---- consumer groups ---------------------------------------------------------

// A broker whose groups accept short sessions, and members joined over gRPC
// with the raw client (as a consumer would: JoinGroup, CommitOffsets,
// LeaveGroup).
class MqadminGroup : public Mqadmin
{
  protected:
    void SetUp() override
    {
        StartBroker(
            {"--group.min.session.timeout.ms", "100", "--group.heartbeat.interval.ms", "500"});
        url_ = std::string("http://") + broker_.admin_addr();
    }
    struct MemberId {
        std::string id;
        int32_t epoch = -1;
    };
    // Joins `group` subscribed to `topic` (static with an instance id); the
    // session outlives the test.
    MemberId Join(const std::string &group, const std::string &topic,
                  const std::string &instance = "")
    {
        MemberId m;
        rawclient_t *c = Connect();
        if (!c)
            return m;
        Mq__V1__JoinGroupRequest req = MQ__V1__JOIN_GROUP_REQUEST__INIT;
        char *topics[1] = {(char *)topic.c_str()};
        req.group_id = (char *)group.c_str();
        req.member_id = (char *)"";
        req.group_instance_id = (char *)instance.c_str();
        req.topics = topics;
        req.n_topics = 1;
        req.topic_regex = (char *)"";
        req.session_timeout_ms = 60000;
        req.rebalance_timeout_ms = 60000;
        req.assignor = (char *)"";
        int st = 0;
        char err[512] = "";
        auto *r = (Mq__V1__JoinGroupResponse *)rc_call_pb(c, RC_PATH_JOIN_GROUP, &req.base,
                                                          &mq__v1__join_group_response__descriptor,
                                                          10000, &st, err, sizeof err);
        EXPECT_NE(r, nullptr) << "JoinGroup: grpc-status " << st << " " << err;
        if (!r)
            return m;
        EXPECT_EQ(r->error_code, 0) << r->error_message;
        m.id = r->member_id;
        m.epoch = r->member_epoch;
        protobuf_c_message_free_unpacked(&r->base, nullptr);
        return m;
    }
    // Commits one offset as member m (or from outside the group: m.id "").
    void Commit(const std::string &group, const MemberId &m, const std::string &topic,
                int32_t partition, int64_t offset)
    {
        rawclient_t *c = Connect();
        ASSERT_NE(c, nullptr);
        Mq__V1__CommitOffsetPartition p = MQ__V1__COMMIT_OFFSET_PARTITION__INIT;
        p.topic = (char *)topic.c_str();
        p.partition = partition;
        p.offset = offset;
        p.metadata = (char *)"";
        Mq__V1__CommitOffsetPartition *parts[1] = {&p};
        Mq__V1__CommitOffsetsRequest req = MQ__V1__COMMIT_OFFSETS_REQUEST__INIT;
        req.group_id = (char *)group.c_str();
        req.member_id = (char *)m.id.c_str();
        req.member_epoch = m.epoch;
        req.partitions = parts;
        req.n_partitions = 1;
        int st = 0;
        char err[512] = "";
        auto *r = (Mq__V1__CommitOffsetsResponse *)rc_call_pb(
            c, RC_PATH_COMMIT_OFFSETS, &req.base, &mq__v1__commit_offsets_response__descriptor,
            10000, &st, err, sizeof err);
        ASSERT_NE(r, nullptr) << "CommitOffsets: grpc-status " << st << " " << err;
        EXPECT_EQ(r->error_code, 0) << r->error_message;
        ASSERT_EQ(r->n_results, 1u);
        EXPECT_EQ(r->results[0]->error_code, 0) << r->results[0]->error_message;
        protobuf_c_message_free_unpacked(&r->base, nullptr);
    }
    void Leave(const std::string &group, const MemberId &m)
    {
        rawclient_t *c = Connect();
        ASSERT_NE(c, nullptr);
        Mq__V1__LeaveGroupRequest req = MQ__V1__LEAVE_GROUP_REQUEST__INIT;
        req.group_id = (char *)group.c_str();
        req.member_id = (char *)m.id.c_str();
        req.member_epoch = m.epoch;
        int st = 0;
        char err[512] = "";
        auto *r = (Mq__V1__LeaveGroupResponse *)rc_call_pb(
            c, RC_PATH_LEAVE_GROUP, &req.base, &mq__v1__leave_group_response__descriptor, 10000,
            &st, err, sizeof err);
        ASSERT_NE(r, nullptr) << "LeaveGroup: grpc-status " << st << " " << err;
        EXPECT_EQ(r->error_code, 0) << r->error_message;
        protobuf_c_message_free_unpacked(&r->base, nullptr);
    }
    // The committed offset of one partition per the API (-1: none; -2: the
    // group or partition is not there).
    int64_t Committed(const std::string &group, const std::string &topic, int partition)
    {
        long st = 0;
        Json g(ApiData("/api/v1/groups/" + group, &st));
        if (st != 200)
            return -2;
        cJSON *o;
        cJSON_ArrayForEach(o, g.get("offsets"))
        {
            if (!strcmp(cJSON_GetObjectItem(o, "topic")->valuestring, topic.c_str()) &&
                cJSON_GetObjectItem(o, "partition")->valueint == partition)
                return (int64_t)cJSON_GetObjectItem(o, "committed_offset")->valuedouble;
        }
        return -2;
    }
};

// Drops the members' ms_since_heartbeat, which moves between two requests.
std::string WithoutHeartbeatAge(const std::string &text)
{
    Json j(text);
    cJSON *m;
    cJSON *members = cJSON_GetObjectItem(j.j, "members");
    if (cJSON_IsArray(members)) {
        cJSON_ArrayForEach(m, members) cJSON_DeleteItemFromObject(m, "ms_since_heartbeat");
    }
    char *s = cJSON_PrintUnformatted(j.j);
    std::string out = s ? s : text;
    cJSON_free(s);
    return out;
}

TEST_F(MqadminGroup, ListAndDescribeAMemberWithLag)
{
    CreateTopic("orders", 2);
    Produce("orders", 0, 10);
    Produce("orders", 1, 4);
    Result r = Admin({"group", "list"}, "table");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "No groups.\n");

    MemberId m = Join("billing", "orders");
    ASSERT_FALSE(m.id.empty());
    Commit("billing", m, "orders", 0, 4);

    // JSON is the API's data
    r = Admin({"group", "list"}, "json");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(SameJson(r.out, ApiData("/api/v1/groups")));
    Json list(r.out);
    ASSERT_EQ(cJSON_GetArraySize(list.j), 1) << r.out;
    cJSON *g0 = cJSON_GetArrayItem(list.j, 0);
    EXPECT_STREQ(cJSON_GetObjectItem(g0, "group_id")->valuestring, "billing");
    EXPECT_EQ(cJSON_GetObjectItem(g0, "members")->valueint, 1);

    r = Admin({"group", "describe", "billing"}); // piped: JSON by default
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(SameJson(WithoutHeartbeatAge(r.out),
                         WithoutHeartbeatAge(ApiData("/api/v1/groups/billing"))));
    Json d(r.out);
    EXPECT_EQ(d.get("total_lag")->valueint, 6) << r.out;
    cJSON *member = cJSON_GetArrayItem(d.get("members"), 0);
    ASSERT_NE(member, nullptr) << r.out;
    EXPECT_EQ(cJSON_GetObjectItem(member, "member_id")->valuestring, m.id);

    // CSV: a header row, then one row per partition (lag empty: no commit)
    r = Admin({"group", "describe", "billing"}, "csv");
    ASSERT_EQ(r.code, 0) << r.err;
    auto rows = ParseCsv(r.out);
    ASSERT_EQ(rows.size(), 3u) << r.out;
    EXPECT_EQ(rows[0], (std::vector<std::string>{"group_id", "topic", "partition", "member_id",
                                                 "committed_offset", "log_end_offset", "lag",
                                                 "commit_time_ms"}));
    EXPECT_EQ(std::vector<std::string>(rows[1].begin(), rows[1].begin() + 7),
              (std::vector<std::string>{"billing", "orders", "0", m.id, "4", "10", "6"}))
        << r.out;
    long long commit_ms = atoll(rows[1][7].c_str());
    EXPECT_LE(std::llabs(commit_ms - (long long)rc_now_ms()), 60000) << r.out;
    EXPECT_EQ(rows[2],
              (std::vector<std::string>{"billing", "orders", "1", m.id, "-1", "4", "", "-1"}))
        << r.out;
    r = Admin({"group", "list"}, "csv");
    ASSERT_EQ(r.code, 0) << r.err;
    rows = ParseCsv(r.out);
    ASSERT_EQ(rows.size(), 2u) << r.out;
    EXPECT_EQ(rows[0], (std::vector<std::string>{"group_id", "state", "members", "assignor",
                                                 "group_epoch"}));
    EXPECT_EQ(rows[1][0], "billing");
    EXPECT_EQ(rows[1][2], "1");

    // the table: header, members with their assignment, lag per partition
    r = Admin({"group", "describe", "billing"}, "table");
    ASSERT_EQ(r.code, 0) << r.err;
    std::vector<std::string> want = {"Group:      billing",
                                     "Members:    1",
                                     "Total lag:  6",
                                     "ASSIGNMENT",
                                     "orders 0,1",
                                     m.id,
                                     "LAG"};
    for (auto &s : want)
        EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
    auto lines = Lines(r.out);
    bool p0 = false, p1 = false;
    for (auto &l : lines) {
        std::istringstream in(l);
        std::vector<std::string> w;
        std::string x;
        while (in >> x)
            w.push_back(x);
        if (w.size() >= 6 && w[0] == "orders" && w[1] == "0")
            p0 = w[2] == m.id && w[3] == "4" && w[4] == "10" && w[5] == "6";
        if (w.size() >= 6 && w[0] == "orders" && w[1] == "1")
            p1 = w[2] == m.id && w[3] == "-" && w[4] == "4" && w[5] == "-";
    }
    EXPECT_TRUE(p0 && p1) << r.out;
}

// A static member gone for good holds its partitions until its session
// times out; remove-member frees them now.
TEST_F(MqadminGroup, RemoveMemberFreesAStaticMembersPartitions)
{
    CreateTopic("orders", 2);
    MemberId a = Join("billing", "orders", "host-a");
    MemberId b = Join("billing", "orders");
    ASSERT_FALSE(a.id.empty());
    ASSERT_FALSE(b.id.empty());
    Leave("billing", a); // static: its partitions stay reserved for it
    auto members = [&] {
        long st = 0;
        Json g(ApiData("/api/v1/groups/billing", &st));
        std::vector<std::string> ids;
        cJSON *m;
        cJSON_ArrayForEach(m, g.get("members"))
            ids.push_back(cJSON_GetObjectItem(m, "member_id")->valuestring);
        return ids;
    };
    ASSERT_EQ(members().size(), 2u);

    Result r = Admin({"group", "remove-member", "billing", "--instance", "host-a"}, "json");
    EXPECT_EQ(r.code, 1) << "no --yes and no terminal: " << r.err;
    EXPECT_NE(r.err.find("pass --yes"), std::string::npos) << r.err;
    EXPECT_EQ(members().size(), 2u) << "nothing changed";
    r = Admin({"group", "remove-member", "billing", "--yes"}, "json");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("exactly one of --member"), std::string::npos) << r.err;
    r = Admin({"group", "remove-member", "billing", "--instance", "nope", "--yes"}, "json");
    EXPECT_EQ(r.code, 3) << r.err;
    EXPECT_NE(r.err.find("group 'billing' has no member with group.instance.id 'nope'"),
              std::string::npos)
        << r.err;

    r = Admin({"group", "remove-member", "billing", "--instance", "host-a", "--yes"}, "json");
    ASSERT_EQ(r.code, 0) << r.err;
    Json out(r.out);
    ASSERT_TRUE(cJSON_IsString(out.get("member_id"))) << r.out;
    EXPECT_STREQ(out.get("member_id")->valuestring, a.id.c_str()) << r.out;
    EXPECT_TRUE(cJSON_IsTrue(out.get("removed")));
    EXPECT_EQ(members(), std::vector<std::string>{b.id});

    r = Admin({"group", "remove-member", "billing", "--member", b.id, "--yes"}, "csv");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "group_id,member_id,removed\nbilling," + b.id + ",true\n");
    EXPECT_TRUE(members().empty());
}

TEST_F(MqadminGroup, UnknownGroupOrTopicExitsThree)
{
    CreateTopic("orders", 1);
    Result r = Admin({"group", "describe", "nope"}, "json");
    EXPECT_EQ(r.code, 3) << r.err;
    EXPECT_NE(r.err.find("group 'nope' does not exist"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
    r = Admin({"group", "delete", "nope", "--yes"}, "json");
    EXPECT_EQ(r.code, 3) << r.err;
    EXPECT_NE(r.err.find("group 'nope' does not exist"), std::string::npos) << r.err;
    r = Admin({"group", "reset-offsets", "nope", "--topic", "nosuch", "--to-earliest", "--yes"},
              "json");
    EXPECT_EQ(r.code, 3) << r.err;
    EXPECT_NE(r.err.find("topic 'nosuch' does not exist"), std::string::npos) << r.err;

    // on a terminal an unknown group is reported before anything is asked
    RunOpts o;
    o.tty_stdin = true;
    o.input = "y\n";
    r = Admin({"group", "delete", "nope"}, "table", o);
    EXPECT_EQ(r.code, 3) << r.err;
    EXPECT_EQ(r.err.find("[y/N]"), std::string::npos) << r.err;

    // broker down: exit 4 naming the URL
    std::string down = "http://127.0.0.1:" + std::to_string(ClosedPort());
    r = RunProgram({"--url", down, "group", "list"});
    EXPECT_EQ(r.code, 4) << r.err;
    EXPECT_NE(r.err.find(down + "/api/v1/groups"), std::string::npos) << r.err;
}

TEST_F(MqadminGroup, AGroupWithMembersIsNotDeletedOrResetExitTwo)
{
    CreateTopic("orders", 1);
    Produce("orders", 0, 5);
    MemberId m = Join("busy", "orders");
    ASSERT_FALSE(m.id.empty());
    Commit("busy", m, "orders", 0, 2);

    Result r = Admin({"group", "delete", "busy", "--yes"}, "json");
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("group 'busy' has 1 members: only a group without members can be "
                         "deleted (HTTP 409"),
              std::string::npos)
        << r.err;
    r = Admin({"group", "reset-offsets", "busy", "--topic", "orders", "--to-earliest", "--yes"},
              "json");
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("offsets can only be reset while it has none"), std::string::npos)
        << r.err;
    r = Admin({"group", "reset-offsets", "busy", "-t", "orders", "--to-latest", "--dry-run"});
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(Committed("busy", "orders", 0), 2);

    // once the member has left, both work
    Leave("busy", m);
    r = Admin({"group", "reset-offsets", "busy", "-t", "orders", "--to-latest", "--yes"}, "json");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(Committed("busy", "orders", 0), 5);
    r = Admin({"group", "delete", "busy", "--yes"}, "json");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(SameJson(r.out, R"({"group_id":"busy","deleted":true})"));
    EXPECT_EQ(Committed("busy", "orders", 0), -2);
}

TEST_F(MqadminGroup, ResetOffsetsDryRunConfirmationAndTargets)
{
    const int64_t jan1 = 1767225600000; // 2026-01-01T00:00:00Z
    const int64_t jan2 = 1767312000000; // 2026-01-02T00:00:00Z
    CreateTopic("orders", 2);
    Produce("orders", 0, 5, jan1); // offsets 0..4
    Produce("orders", 0, 5, jan2); // offsets 5..9
    Commit("g", MemberId(), "orders", 0, 3);

    // --dry-run: the plan, nothing changed, no confirmation needed
    Result r = Admin(
        {"group", "reset-offsets", "g", "--topic", "orders", "--to-earliest", "--dry-run"}, "json");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(SameJson(r.out, R"({"group_id":"g","dry_run":true,"partitions":[
        {"topic":"orders","partition":0,"current_offset":3,"new_offset":0},
        {"topic":"orders","partition":1,"current_offset":-1,"new_offset":0}]})"));
    EXPECT_EQ(Committed("g", "orders", 0), 3);
    r = Admin({"group", "reset-offsets", "g", "-t", "orders", "--to-earliest", "--dry-run"},
              "table");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("Dry run, nothing changed"), std::string::npos) << r.out;
    r = Admin({"group", "reset-offsets", "g", "-t", "orders", "--to-earliest", "--dry-run"}, "csv");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "group_id,topic,partition,current_offset,new_offset\n"
                     "g,orders,0,3,0\n"
                     "g,orders,1,-1,0\n");
    EXPECT_EQ(Committed("g", "orders", 0), 3);

    // from a non-terminal without --yes: exit 1, nothing changed
    r = Admin({"group", "reset-offsets", "g", "-t", "orders", "--to-earliest"}, "json");
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("not resetting the offsets of group 'g'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--yes"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(Committed("g", "orders", 0), 3);
    EXPECT_EQ(Committed("g", "orders", 1), -2) << "partition 1 still has no commit";

    // the targets
    r = Admin({"group", "reset-offsets", "g", "-t", "orders", "--to-latest", "--yes"}, "json");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(SameJson(r.out, R"({"group_id":"g","dry_run":false,"partitions":[
        {"topic":"orders","partition":0,"current_offset":3,"new_offset":10},
        {"topic":"orders","partition":1,"current_offset":-1,"new_offset":0}]})"));
    EXPECT_EQ(Committed("g", "orders", 0), 10);
    EXPECT_EQ(Committed("g", "orders", 1), 0);
    r = Admin({"group", "reset-offsets", "g", "-t", "orders", "--partition", "0", "--to-offset",
               "7", "-y"},
              "table");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("Reset 1 offsets of group 'g'."), std::string::npos) << r.out;
    EXPECT_EQ(Committed("g", "orders", 0), 7);
    struct {
        const char *when;
        int64_t offset;
    } times[] = {
        {"2026-01-01T12:00:00Z", 5},      // after the first batch: the second
        {"2026-01-02T01:00:00+01:00", 5}, // = 2026-01-02T00:00Z, the second batch's first
        {"2026-01-01", 0},                // midnight UTC: the first batch
        {"2025-12-31T23:59:59.999", 0},   // no zone = UTC
        {"2026-01-02T00:00:01Z", 10},     // after every record: the log end
    };
    for (auto &t : times) {
        r = Admin({"group", "reset-offsets", "g", "-t", "orders", "--partition", "0",
                   "--to-datetime", t.when, "--yes"},
                  "json");
        ASSERT_EQ(r.code, 0) << t.when << ": " << r.err;
        EXPECT_EQ(Committed("g", "orders", 0), t.offset) << t.when << ": " << r.out;
    }

    // on a terminal: the plan in the question; "n" changes nothing
    Commit("g", MemberId(), "orders", 0, 7);
    RunOpts o;
    o.tty_stdin = true;
    o.input = "n\n";
    r = Admin({"group", "reset-offsets", "g", "-t", "orders", "--to-earliest"}, "table", o);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("Reset the committed offsets of group 'g' on topic 'orders': "
                         "partition 0: 7 -> 0, partition 1: 0 -> 0? [y/N]"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("not confirmed"), std::string::npos) << r.err;
    EXPECT_EQ(Committed("g", "orders", 0), 7);
    o.input = "y\n";
    r = Admin({"group", "reset-offsets", "g", "-t", "orders", "--to-earliest"}, "table", o);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(Committed("g", "orders", 0), 0);
}

TEST_F(MqadminGroup, DeleteAsksOnATerminalAndRefusesFromANonTerminal)
{
    CreateTopic("orders", 1);
    Commit("old", MemberId(), "orders", 0, 0);
    Result r = Admin({"group", "delete", "old"}, "table");
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("not deleting group 'old'"), std::string::npos) << r.err;
    EXPECT_EQ(Committed("old", "orders", 0), 0);

    RunOpts o;
    o.tty_stdin = true;
    o.input = "n\n";
    r = Admin({"group", "delete", "old"}, "table", o);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("Delete group 'old' and its committed offsets of 1 partitions?"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(Committed("old", "orders", 0), 0);
    o.input = "yes\n";
    r = Admin({"group", "delete", "old"}, "table", o);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "Deleted group 'old'.\n");
    EXPECT_EQ(Committed("old", "orders", 0), -2);

    Commit("old2", MemberId(), "orders", 0, 0);
    r = Admin({"group", "delete", "old2", "--yes"}, "csv");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "group_id,deleted\nold2,true\n");
}

// The acl family against a broker with mTLS and the authorizer on; the
// principal is the certificate given with --cert.
class MqadminAcl : public BrokerTestBase
{
  protected:
    void SetUp() override
    {
        ASSERT_FALSE(TestCerts().empty());
        std::vector<std::string> args = TlsBrokerArgs();
        args.insert(args.end(), {"--authorizer.enabled", "true", "--super.users", "admin"});
        StartBroker(args);
        url_ = std::string("https://") + broker_.admin_addr();
    }
    Result As(const std::string &principal, std::vector<std::string> args,
              const char *output = "json")
    {
        std::vector<std::string> a = {"--url", url_, "--ca", Cert("ca.pem"), "--output", output};
        if (!principal.empty())
            a.insert(a.end(),
                     {"--cert", Cert(principal + ".pem"), "--key", Cert(principal + ".key")});
        a.insert(a.end(), args.begin(), args.end());
        return RunProgram(a);
    }
    std::string url_;
};

TEST_F(MqadminAcl, AddListTestRemove)
{
    Result r = As("admin", {"acl", "add", "--principal", "alice", "--topic", "orders",
                            "--operation", "write"});
    ASSERT_EQ(r.code, 0) << r.err;
    Json added(r.out);
    EXPECT_EQ(cJSON_GetObjectItem(added.j, "id")->valueint, 1) << r.out;
    EXPECT_STREQ(cJSON_GetObjectItem(added.j, "permission")->valuestring, "allow");
    r = As("admin", {"acl", "add", "--principal", "alice", "--topic", "ord", "--prefix",
                     "--operation", "read", "--deny"});
    ASSERT_EQ(r.code, 0) << r.err;

    r = As("admin", {"acl", "list"}, "csv");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "id,principal,permission,operation,resource_type,pattern_type,resource_name\n"
                     "1,alice,allow,write,topic,literal,orders\n"
                     "2,alice,deny,read,topic,prefix,ord\n");

    r = As("admin",
           {"acl", "test", "--principal", "alice", "--topic", "orders", "--operation", "read"});
    EXPECT_EQ(r.code, 0) << r.err;
    Json t(r.out);
    EXPECT_STREQ(cJSON_GetObjectItem(t.j, "decision")->valuestring, "deny") << r.out;
    EXPECT_EQ(cJSON_GetObjectItem(t.j, "rule_id")->valueint, 2) << r.out;

    // Removing is destructive: refused without --yes from a non-terminal.
    r = As("admin", {"acl", "remove", "2"});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("--yes"), std::string::npos) << r.err;
    r = As("admin", {"acl", "list"});
    EXPECT_NE(r.out.find("\"id\":2"), std::string::npos) << r.out;
    r = As("admin", {"acl", "remove", "2", "--yes"});
    EXPECT_EQ(r.code, 0) << r.err;
    r = As("admin", {"acl", "remove", "2", "--yes"});
    EXPECT_EQ(r.code, 3) << r.err;
    EXPECT_NE(r.err.find("no acl with id 2"), std::string::npos) << r.err;

    // Usage errors, server refusals, no certificate.
    r = As("admin", {"acl", "add", "--principal", "alice", "--operation", "read"});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("--topic NAME, --group NAME or --cluster"), std::string::npos) << r.err;
    r = As("admin", {"acl", "add", "--principal", "alice", "--cluster", "--operation", "fly"});
    EXPECT_EQ(r.code, 1);
    r = As("alice", {"acl", "list"});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("principal 'alice' is not allowed to describe the cluster"),
              std::string::npos)
        << r.err;
    r = As("", {"--timeout", "5", "acl", "list"});
    EXPECT_EQ(r.code, 4) << r.err;
    EXPECT_NE(r.err.find(url_), std::string::npos) << r.err;
}

} // namespace
