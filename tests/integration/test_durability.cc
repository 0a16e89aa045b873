// Durability of acks=all: kill -9 under load loses nothing acked, and an
// acks=all response never leaves before the fdatasync covering its batch
// (shown with the broker's fsync-delay test hook and, where strace runs,
// with the order of the broker's syscalls).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker_fixture.h"
#include "broker_proc.h"
#include "rawclient.h"

namespace
{

struct Acked {
    int32_t partition;
    int64_t offset;
    std::vector<uint8_t> bytes;
};

struct LoadState {
    std::atomic<bool> stop{false};
    std::atomic<int> acked{0};
    std::mutex mu;
    std::vector<Acked> acked_batches;
    std::vector<std::string> errors; // unexpected per-partition errors
};

// One producer connection with `depth` acks=all calls in flight, round robin
// over partitions, until the connection dies or stop is set.
void ProduceLoad(const char *host, int port, const char *topic, int partitions, int depth,
                 uint32_t seed, LoadState *st)
{
    char err[256];
    rawclient_t *rc = rc_connect(host, port, err, sizeof err);
    if (!rc) {
        std::lock_guard<std::mutex> g(st->mu);
        st->errors.push_back(std::string("connect: ") + err);
        return;
    }
    struct Pending {
        int32_t partition;
        std::vector<uint8_t> bytes;
    };
    std::map<int32_t, Pending> pending;
    uint32_t n = 0;
    for (;;) {
        while (!st->stop && !rc_broken(rc) && (int)pending.size() < depth) {
            uint32_t s = seed + n++;
            int32_t part = (int32_t)(s % (uint32_t)partitions);
            auto batch = MakeBatch(1 + (int)(s * 2654435761u % 60), 40, rc_now_ms(), s);
            rc_batch_ref_t ref = {topic, part, batch.data(), batch.size()};
            size_t len;
            uint8_t *req = rc_encode_produce(-1, 10000, &ref, 1, &len);
            int32_t id = rc_submit(rc, RC_PATH_PRODUCE, req, len, nullptr);
            free(req);
            if (id < 0)
                break;
            pending[id] = {part, std::move(batch)};
        }
        if (pending.empty())
            break;
        rc_result_t r;
        int got = rc_poll(rc, 1000, &r);
        if (got != 1) {
            if (rc_broken(rc) || got < 0)
                break;
            continue;
        }
        auto it = pending.find(r.stream_id);
        rc_produce_result_t pr;
        rc_produce_result_from(&r, &pr);
        rc_result_free(&r);
        if (it == pending.end())
            continue;
        if (pr.grpc_status == 0 && pr.error_code == 0) {
            std::lock_guard<std::mutex> g(st->mu);
            st->acked_batches.push_back({it->second.partition, pr.base_offset, it->second.bytes});
            st->acked++;
        } else if (pr.grpc_status == 0) {
            std::lock_guard<std::mutex> g(st->mu);
            st->errors.push_back("produce error " + std::to_string(pr.error_code) + ": " +
                                 pr.error_message);
        }
        pending.erase(it);
    }
    rc_close(rc);
}

class DurabilityTest : public BrokerTestBase
{
};

TEST_F(DurabilityTest, KillNineUnderAcksAllLoadLosesNothingAcked)
{
    ASSERT_NO_FATAL_FAILURE(StartBroker());
    ASSERT_NO_FATAL_FAILURE(CreateTopic("dur", 4));
    const int threads = 2, depth = 4;
    const int target = test_scaled(400);
    LoadState st;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; t++)
        workers.emplace_back(ProduceLoad, broker_.host(), broker_.port(), "dur", 4, depth,
                             (uint32_t)(t + 1) * 1000000u, &st);
    // At least `target` acks and half a second of load, then kill -9.
    long long start = test_now_ms(), deadline = start + 20000;
    while ((st.acked < target || test_now_ms() - start < 500) && test_now_ms() < deadline)
        usleep(2000);
    int acked_before_kill = st.acked;
    // Killed while the producers are still sending: calls are in flight.
    ASSERT_EQ(broker_.Kill(), 0);
    st.stop = true;
    for (auto &w : workers)
        w.join();
    ASSERT_TRUE(st.errors.empty()) << st.errors.front();
    ASSERT_GE(acked_before_kill, target / 4) << "the load made too little progress";

    ASSERT_TRUE(broker_.Restart()) << broker_.error();
    rawclient_t *rc = Connect();
    ASSERT_NE(rc, nullptr);
    std::map<int64_t, StoredBatch> stored[4];
    for (int p = 0; p < 4; p++) {
        int64_t expect = 0;
        for (auto &b : FetchAll(rc, "dur", p)) {
            EXPECT_EQ(b.base_offset, expect) << "gap or overlap in partition " << p;
            expect = b.base_offset + b.record_count;
            stored[p][b.base_offset] = std::move(b);
        }
        rc_offset_result_t o;
        ASSERT_EQ(rc_list_offsets(rc, "dur", p, -1, &o), 0) << o.grpc_message;
        EXPECT_EQ(o.offset, expect) << "latest offset vs fetched data, partition " << p;
    }
    int missing = 0;
    for (auto &a : st.acked_batches) {
        auto it = stored[a.partition].find(a.offset);
        if (it == stored[a.partition].end()) {
            if (missing++ < 5)
                ADD_FAILURE() << "acked batch lost: partition " << a.partition << " offset "
                              << a.offset;
            continue;
        }
        EXPECT_TRUE(SameBatch(it->second.bytes, a.bytes, a.offset)) << "partition " << a.partition;
    }
    EXPECT_EQ(missing, 0) << "of " << st.acked_batches.size() << " acked batches";
    printf("acked %zu batches before kill -9; all present after restart\n",
           st.acked_batches.size());
}

TEST_F(DurabilityTest, AcksAllWaitsForTheDelayedFsyncAcksLeaderDoesNot)
{
    const int delay = 300;
    ASSERT_NO_FATAL_FAILURE(StartBroker({}, {"MQ_TEST_FSYNC_DELAY_MS=" + std::to_string(delay)}));
    ASSERT_NO_FATAL_FAILURE(CreateTopic("fs", 2));
    rawclient_t *rc = Connect();
    ASSERT_NE(rc, nullptr);

    for (int i = 0; i < 2; i++) {
        auto batch = MakeBatch(5, 50, rc_now_ms(), 10 + i);
        long long t0 = test_now_ms();
        rc_produce_result_t pr;
        ASSERT_EQ(rc_produce(rc, "fs", 0, batch.data(), batch.size(), -1, &pr), 0)
            << pr.grpc_message;
        long long took = test_now_ms() - t0;
        EXPECT_EQ(pr.error_code, 0);
        EXPECT_GE(took, delay) << "acks=all answered before the (delayed) fsync";
    }
    long long fastest = 1 << 30;
    for (int i = 0; i < 5; i++) {
        auto batch = MakeBatch(5, 50, rc_now_ms(), 20 + i);
        long long t0 = test_now_ms();
        rc_produce_result_t pr;
        ASSERT_EQ(rc_produce(rc, "fs", 1, batch.data(), batch.size(), 1, &pr), 0)
            << pr.grpc_message;
        EXPECT_EQ(pr.error_code, 0);
        fastest = std::min(fastest, test_now_ms() - t0);
    }
    EXPECT_LT(fastest, delay / 2) << "acks=1 waited for the fsync";

    // Many acks=all batches in flight on one partition share fsyncs: far
    // less than one delayed fsync each.
    const int n = 8;
    std::vector<std::vector<uint8_t>> batches;
    long long t0 = test_now_ms();
    for (int i = 0; i < n; i++) {
        batches.push_back(MakeBatch(3, 30, rc_now_ms(), 40 + i));
        rc_batch_ref_t ref = {"fs", 0, batches.back().data(), batches.back().size()};
        size_t len;
        uint8_t *req = rc_encode_produce(-1, 10000, &ref, 1, &len);
        ASSERT_GT(rc_submit(rc, RC_PATH_PRODUCE, req, len, nullptr), 0);
        free(req);
    }
    for (int i = 0; i < n; i++) {
        rc_result_t r;
        ASSERT_EQ(rc_poll(rc, 30000, &r), 1);
        rc_produce_result_t pr;
        rc_produce_result_from(&r, &pr);
        rc_result_free(&r);
        EXPECT_EQ(pr.grpc_status, 0) << pr.grpc_message;
        EXPECT_EQ(pr.error_code, 0);
    }
    long long took = test_now_ms() - t0;
    EXPECT_GE(took, delay);
    EXPECT_LT(took, n * delay * 6 / 10) << "acks=all batches did not share fsyncs";
}

// ---- strace: the fdatasync precedes the response's socket write ----------------

struct Syscall {
    int pid;
    std::string name;
    double start;
    double end; // start + duration; < 0 while unfinished
    std::string text;
};

// Decodes strace's string escapes (-x): \xHH, \n, \t, \", \\, octal.
std::vector<uint8_t> DecodeStraceString(const std::string &s, size_t *pos)
{
    std::vector<uint8_t> out;
    size_t i = *pos + 1; // after the opening quote
    while (i < s.size() && s[i] != '"') {
        if (s[i] != '\\') {
            out.push_back((uint8_t)s[i++]);
            continue;
        }
        char c = i + 1 < s.size() ? s[i + 1] : 0;
        i += 2;
        switch (c) {
        case 'x':
            out.push_back((uint8_t)strtol(s.substr(i, 2).c_str(), nullptr, 16));
            i += 2;
            break;
        case 'n':
            out.push_back('\n');
            break;
        case 't':
            out.push_back('\t');
            break;
        case 'r':
            out.push_back('\r');
            break;
        case 'v':
            out.push_back('\v');
            break;
        case 'f':
            out.push_back('\f');
            break;
        default:
            if (c >= '0' && c <= '7') {
                int v = c - '0';
                for (int k = 0; k < 2 && i < s.size() && s[i] >= '0' && s[i] <= '7'; k++)
                    v = v * 8 + (s[i++] - '0');
                out.push_back((uint8_t)v);
            } else {
                out.push_back((uint8_t)c);
            }
        }
    }
    *pos = i + 1;
    return out;
}

// Every quoted string's bytes after the first argument, concatenated.
std::vector<uint8_t> SyscallData(const std::string &text)
{
    std::vector<uint8_t> all;
    size_t i = text.find('>'); // end of the fd annotation
    while (i != std::string::npos && (i = text.find('"', i)) != std::string::npos) {
        auto part = DecodeStraceString(text, &i);
        all.insert(all.end(), part.begin(), part.end());
    }
    return all;
}

// True if the bytes carry an HTTP/2 HEADERS or DATA frame for stream_id.
bool HasResponseFrame(const std::vector<uint8_t> &d, uint32_t stream_id)
{
    size_t off = 0;
    while (off + 9 <= d.size()) {
        uint32_t len = (uint32_t)d[off] << 16 | (uint32_t)d[off + 1] << 8 | d[off + 2];
        uint8_t type = d[off + 3];
        uint32_t sid = ((uint32_t)d[off + 5] << 24 | (uint32_t)d[off + 6] << 16 |
                        (uint32_t)d[off + 7] << 8 | d[off + 8]) &
                       0x7fffffffu;
        if ((type == 0 || type == 1) && sid == stream_id)
            return true;
        off += 9 + len;
    }
    return false;
}

std::vector<Syscall> ParseStrace(const std::string &path)
{
    std::vector<Syscall> calls;
    std::map<int, size_t> unfinished;
    char *text = broker_proc_read_file(path.c_str(), nullptr);
    if (!text)
        return calls;
    std::string all(text);
    free(text);
    size_t pos = 0;
    while (pos < all.size()) {
        size_t nl = all.find('\n', pos);
        std::string line = all.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? all.size() : nl + 1;
        int pid;
        double ts;
        int consumed = 0;
        if (sscanf(line.c_str(), "%d %lf %n", &pid, &ts, &consumed) != 2)
            continue;
        std::string rest = line.substr((size_t)consumed);
        double dur = -1;
        size_t lt = rest.rfind('<');
        if (lt != std::string::npos && rest.back() == '>')
            dur = atof(rest.c_str() + lt + 1);
        if (rest.compare(0, 5, "<... ") == 0) {
            auto it = unfinished.find(pid);
            if (it != unfinished.end()) {
                Syscall &c = calls[it->second];
                c.end = dur >= 0 ? c.start + dur : ts;
                c.text += rest;
                unfinished.erase(it);
            }
            continue;
        }
        size_t paren = rest.find('(');
        if (paren == std::string::npos || rest[0] == '-' || rest[0] == '+')
            continue;
        Syscall c{pid, rest.substr(0, paren), ts, -1, rest};
        if (rest.find("<unfinished ...>") != std::string::npos) {
            unfinished[pid] = calls.size();
        } else {
            c.end = dur >= 0 ? ts + dur : ts;
        }
        calls.push_back(c);
    }
    return calls;
}

TEST_F(DurabilityTest, StraceShowsFdatasyncBeforeTheAcksAllResponse)
{
    if (access("/usr/bin/strace", X_OK) != 0)
        GTEST_SKIP() << "strace is not installed";
    char probe[] = "/usr/bin/strace -f -o /dev/null /bin/true >/dev/null 2>&1";
    if (system(probe) != 0)
        GTEST_SKIP() << "strace cannot trace here (ptrace not permitted?)";

    char dir[512];
    ASSERT_EQ(test_make_temp_dir(dir, sizeof dir, "mq-strace"), 0);
    std::string out = std::string(dir) + "/strace.txt";
    // Removed on every exit path unless MQ_TEST_KEEP is set.
    struct DirGuard {
        const char *dir;
        ~DirGuard()
        {
            if (getenv("MQ_TEST_KEEP"))
                fprintf(stderr, "strace output kept in %s\n", dir);
            else
                test_remove_tree(dir);
        }
    } guard{dir};
    std::vector<std::string> wrapper = {
        "/usr/bin/strace",
        "-f",
        "-ttt",
        "-T",
        "-yy",
        "-x",
        "-s",
        "4096",
        "-o",
        out,
        "-e",
        "trace=fdatasync,fsync,write,writev,pwrite64,pwritev,pwritev2,sendmsg,sendto,sendmmsg"};
    // LeakSanitizer cannot run under ptrace: off for a sanitizer build.
    ASSERT_NO_FATAL_FAILURE(
        StartBroker({}, {"ASAN_OPTIONS=detect_leaks=0:abort_on_error=1"}, wrapper));
    ASSERT_NO_FATAL_FAILURE(CreateTopic("trace", 1));
    rawclient_t *rc = Connect();
    ASSERT_NE(rc, nullptr);
    int client_port = rc_local_port(rc);
    auto batch = MakeBatch(4, 32, rc_now_ms(), 4242);
    rc_batch_ref_t ref = {"trace", 0, batch.data(), batch.size()};
    size_t len;
    uint8_t *req = rc_encode_produce(-1, 10000, &ref, 1, &len);
    rc_result_t r;
    ASSERT_EQ(rc_unary(rc, RC_PATH_PRODUCE, req, len, nullptr, 30000, &r), 1);
    free(req);
    uint32_t stream_id = (uint32_t)r.stream_id;
    rc_produce_result_t pr;
    rc_produce_result_from(&r, &pr);
    rc_result_free(&r);
    ASSERT_EQ(pr.grpc_status, 0) << pr.grpc_message;
    ASSERT_EQ(pr.error_code, 0) << pr.error_message;
    Disconnect(rc);
    // strace blocks fatal signals while it writes to -o FILE: Stop signals
    // the broker itself (strace's child) and strace exits after it.
    ASSERT_GT(broker_.proc()->inner_pid, 0) << "broker pid under strace unknown";
    EXPECT_EQ(broker_.Stop(30000), 0) << "broker under strace did not exit 0";

    auto calls = ParseStrace(out);
    ASSERT_FALSE(calls.empty()) << "no strace output in " << out;
    char sock_tag[64];
    snprintf(sock_tag, sizeof sock_tag, "->127.0.0.1:%d]", client_port);
    const Syscall *log_write = nullptr, *response = nullptr;
    for (auto &c : calls) {
        bool is_write = c.name == "write" || c.name == "writev" || c.name == "pwrite64" ||
                        c.name == "pwritev" || c.name == "pwritev2";
        bool is_send =
            is_write || c.name == "sendmsg" || c.name == "sendto" || c.name == "sendmmsg";
        if (!log_write && is_write && c.text.find("/trace/0/") != std::string::npos &&
            c.text.find(".log>") != std::string::npos)
            log_write = &c;
        if (!response && is_send && c.text.find(sock_tag) != std::string::npos &&
            HasResponseFrame(SyscallData(c.text), stream_id))
            response = &c;
    }
    ASSERT_NE(log_write, nullptr) << "no write to trace/0/*.log seen in " << out;
    ASSERT_NE(response, nullptr) << "no response frames to the client socket " << sock_tag;
    const Syscall *sync = nullptr;
    for (auto &c : calls) {
        if ((c.name == "fdatasync" || c.name == "fsync") &&
            c.text.find("/trace/0/") != std::string::npos && c.start >= log_write->start &&
            c.end >= 0 && c.end <= response->start) {
            sync = &c;
            break;
        }
    }
    EXPECT_NE(sync, nullptr) << "no fdatasync of the partition's log completed between the "
                                "batch write and the acks=all response.\nwrite: "
                             << log_write->text << "\nresponse: " << response->text;
    EXPECT_GT(response->start, log_write->start);
    if (sync)
        printf("write %.6f -> fdatasync done %.6f -> response %.6f\n", log_write->start, sync->end,
               response->start);
}

} // namespace
