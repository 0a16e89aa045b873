// Malformed HTTP/2 and gRPC input, bad protobuf, oversized requests and
// deadlines: each gets an error, and afterwards a fresh connection still
// produces and fetches.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "broker_proc.h"
#include "mq/v1/broker.pb-c.h"
#include "rawclient.h"

extern "C" {
#include "mqclient.h"
}

namespace
{

const char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

int TcpConnect(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &sa.sin_addr);
    if (connect(fd, (sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

void SendAll(int fd, const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *)data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return; // the broker may close early; that is fine
        p += n;
        len -= (size_t)n;
    }
}

// Reads until the peer closes (true) or timeout_ms passes (false).
bool WaitClosed(int fd, int timeout_ms, std::vector<uint8_t> *got = nullptr)
{
    long long deadline = test_now_ms() + timeout_ms;
    uint8_t buf[65536];
    for (;;) {
        long long left = deadline - test_now_ms();
        if (left <= 0)
            return false;
        pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            return true;
        if (got)
            got->insert(got->end(), buf, buf + n);
    }
}

// Reads frames until the server's first SETTINGS arrives; returns its
// MAX_FRAME_SIZE (16384 if absent), or -1.
long ReadServerMaxFrame(int fd)
{
    std::vector<uint8_t> in;
    uint8_t buf[4096];
    long long deadline = test_now_ms() + 10000;
    while (test_now_ms() < deadline) {
        pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 200) <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            return -1;
        in.insert(in.end(), buf, buf + n);
        if (in.size() < 9)
            continue;
        uint32_t len = (uint32_t)in[0] << 16 | (uint32_t)in[1] << 8 | in[2];
        if (in[3] != NGHTTP2_SETTINGS)
            return -1;
        if (in.size() < 9 + len)
            continue;
        long max = 16384;
        for (uint32_t i = 0; i + 6 <= len; i += 6) {
            const uint8_t *e = &in[9 + i];
            if ((e[0] << 8 | e[1]) == NGHTTP2_SETTINGS_MAX_FRAME_SIZE)
                max = (long)((uint32_t)e[2] << 24 | (uint32_t)e[3] << 16 | (uint32_t)e[4] << 8 |
                             e[5]);
        }
        return max;
    }
    return -1;
}

std::vector<uint8_t> FrameHeader(uint32_t len, uint8_t type, uint8_t flags, uint32_t sid)
{
    return {(uint8_t)(len >> 16), (uint8_t)(len >> 8),  (uint8_t)len,        type,        flags,
            (uint8_t)(sid >> 24), (uint8_t)(sid >> 16), (uint8_t)(sid >> 8), (uint8_t)sid};
}

// A HEADERS frame (END_HEADERS) for a gRPC POST to path on stream sid.
std::vector<uint8_t> HeadersFrame(uint32_t sid, const char *path)
{
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}
    nghttp2_nv nva[] = {NV(":method", "POST"),
                        NV(":scheme", "http"),
                        NV(":authority", "127.0.0.1"),
                        NV(":path", path),
                        NV("content-type", "application/grpc"),
                        NV("te", "trailers")};
#undef NV
    size_t n = sizeof nva / sizeof nva[0];
    std::vector<uint8_t> block(nghttp2_hd_deflate_bound(d, nva, n));
    ssize_t len = nghttp2_hd_deflate_hd(d, block.data(), block.size(), nva, n);
    nghttp2_hd_deflate_del(d);
    block.resize(len > 0 ? (size_t)len : 0);
    auto f = FrameHeader((uint32_t)block.size(), NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, sid);
    f.insert(f.end(), block.begin(), block.end());
    return f;
}

class MalformedTest : public BrokerTestBase
{
  protected:
    void SetUp() override
    {
        ASSERT_NO_FATAL_FAILURE(StartBroker());
        ASSERT_NO_FATAL_FAILURE(CreateTopic("m", 1));
    }

    // A fresh connection produces and fetches back a batch.
    void ExpectServing()
    {
        rawclient_t *rc = Connect();
        ASSERT_NE(rc, nullptr) << "the broker no longer accepts connections";
        auto batch = MakeBatch(3, 20, rc_now_ms(), (uint32_t)next_seed_++);
        rc_produce_result_t pr;
        ASSERT_EQ(rc_produce(rc, "m", 0, batch.data(), batch.size(), 1, &pr), 0)
            << "broker stopped serving: " << pr.grpc_message;
        ASSERT_EQ(pr.error_code, 0) << pr.error_message;
        rc_fetch_result_t fr;
        ASSERT_EQ(rc_fetch(rc, "m", 0, pr.base_offset, 0, 0, 1 << 20, &fr), 0) << fr.grpc_message;
        auto got = SplitBatches(fr.records, fr.records_len);
        rc_fetch_result_free(&fr);
        ASSERT_GE(got.size(), 1u);
        EXPECT_TRUE(SameBatch(got[0].bytes, batch, pr.base_offset));
        Disconnect(rc);
    }

    // One call with the given body/options on a fresh connection.
    rc_result_t Call(const char *path, const std::vector<uint8_t> &body,
                     const rc_call_opts_t *opts = nullptr, int timeout_ms = 20000)
    {
        rawclient_t *rc = Connect();
        rc_result_t r;
        memset(&r, 0, sizeof r);
        r.grpc_status = -1;
        if (!rc)
            return r;
        int done = rc_unary(rc, path, body.data(), body.size(), opts, timeout_ms, &r);
        EXPECT_EQ(done, 1) << "no answer within " << timeout_ms << " ms (the broker hung)";
        Disconnect(rc);
        return r;
    }

    // The call failed in some visible way: a non-OK grpc-status, a reset
    // stream, or a non-200 HTTP status.
    static ::testing::AssertionResult Failed(const rc_result_t &r)
    {
        if (r.timed_out)
            return ::testing::AssertionFailure() << "no answer";
        if (r.grpc_status > 0 || r.close_error != 0 || (r.http_status && r.http_status != 200))
            return ::testing::AssertionSuccess();
        return ::testing::AssertionFailure()
               << "the call did not fail: grpc-status " << r.grpc_status << ", :status "
               << r.http_status << ", transport error " << r.transport_error;
    }

    int next_seed_ = 1;
};

TEST_F(MalformedTest, BadPrefaceClosesTheConnection)
{
    int fd = TcpConnect(broker_.host(), broker_.port());
    ASSERT_GE(fd, 0);
    const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    SendAll(fd, req, sizeof req - 1);
    EXPECT_TRUE(WaitClosed(fd, 10000)) << "a bad preface did not close the connection";
    close(fd);
    ExpectServing();
}

TEST_F(MalformedTest, GarbageBytesCloseTheConnection)
{
    int fd = TcpConnect(broker_.host(), broker_.port());
    ASSERT_GE(fd, 0);
    std::vector<uint8_t> junk(256 * 1024);
    uint32_t x = 12345;
    for (auto &b : junk) {
        x = x * 1103515245u + 12345u;
        b = (uint8_t)(x >> 16);
    }
    SendAll(fd, junk.data(), junk.size());
    EXPECT_TRUE(WaitClosed(fd, 10000));
    close(fd);

    // Garbage after a valid preface and SETTINGS.
    fd = TcpConnect(broker_.host(), broker_.port());
    ASSERT_GE(fd, 0);
    SendAll(fd, kPreface, sizeof kPreface - 1);
    auto settings = FrameHeader(0, NGHTTP2_SETTINGS, 0, 0);
    SendAll(fd, settings.data(), settings.size());
    SendAll(fd, junk.data(), 4096);
    EXPECT_TRUE(WaitClosed(fd, 10000));
    close(fd);
    ExpectServing();
}

TEST_F(MalformedTest, OversizedFrameIsAConnectionError)
{
    int fd = TcpConnect(broker_.host(), broker_.port());
    ASSERT_GE(fd, 0);
    SendAll(fd, kPreface, sizeof kPreface - 1);
    auto settings = FrameHeader(0, NGHTTP2_SETTINGS, 0, 0);
    SendAll(fd, settings.data(), settings.size());
    long max = ReadServerMaxFrame(fd);
    ASSERT_GT(max, 0) << "no SETTINGS from the broker";
    if (max >= 0xffffff) {
        close(fd);
        GTEST_SKIP() << "the broker allows the largest frame HTTP/2 has";
    }
    auto headers = HeadersFrame(1, "/mq.v1.Broker/Produce");
    SendAll(fd, headers.data(), headers.size());
    auto data = FrameHeader((uint32_t)max + 1, NGHTTP2_DATA, 0, 1);
    SendAll(fd, data.data(), data.size());
    std::vector<uint8_t> filler(4096, 0);
    SendAll(fd, filler.data(), filler.size());
    std::vector<uint8_t> got;
    EXPECT_TRUE(WaitClosed(fd, 10000, &got)) << "a frame over MAX_FRAME_SIZE was tolerated";
    close(fd);
    ExpectServing();
}

TEST_F(MalformedTest, BadHpackIsAConnectionError)
{
    int fd = TcpConnect(broker_.host(), broker_.port());
    ASSERT_GE(fd, 0);
    SendAll(fd, kPreface, sizeof kPreface - 1);
    auto settings = FrameHeader(0, NGHTTP2_SETTINGS, 0, 0);
    SendAll(fd, settings.data(), settings.size());
    std::vector<uint8_t> block = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    auto f = FrameHeader((uint32_t)block.size(), NGHTTP2_HEADERS,
                         NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1);
    f.insert(f.end(), block.begin(), block.end());
    SendAll(fd, f.data(), f.size());
    EXPECT_TRUE(WaitClosed(fd, 10000));
    close(fd);
    ExpectServing();
}

TEST_F(MalformedTest, MessageDeclaringTwoGiBIsRefused)
{
    std::vector<uint8_t> body = {0x00, 0x80, 0x00, 0x00, 0x00};
    body.resize(5 + 64, 0x42);
    rc_call_opts_t o = {};
    o.raw_body = 1;
    rc_result_t r = Call(RC_PATH_PRODUCE, body, &o);
    EXPECT_TRUE(Failed(r));
    EXPECT_NE(r.grpc_status, 0);
    printf("2 GiB declared: grpc-status %d (%s), h2 error %u\n", r.grpc_status, r.grpc_message,
           r.close_error);
    rc_result_free(&r);
    ExpectServing();
}

TEST_F(MalformedTest, TruncatedGrpcFramingIsRefused)
{
    rc_call_opts_t o = {};
    o.raw_body = 1;
    // Three bytes of a five-byte prefix.
    rc_result_t r = Call(RC_PATH_METADATA, {0x00, 0x00, 0x00}, &o);
    EXPECT_TRUE(Failed(r));
    EXPECT_NE(r.grpc_status, 0);
    rc_result_free(&r);
    // A prefix promising 100 bytes, then 10 and END_STREAM.
    std::vector<uint8_t> body = {0x00, 0x00, 0x00, 0x00, 100};
    body.resize(15, 0x08);
    r = Call(RC_PATH_METADATA, body, &o);
    EXPECT_TRUE(Failed(r));
    EXPECT_NE(r.grpc_status, 0);
    rc_result_free(&r);
    // No message at all.
    r = Call(RC_PATH_METADATA, {}, &o);
    EXPECT_TRUE(Failed(r));
    rc_result_free(&r);
    // Two messages in a unary call.
    body = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    r = Call(RC_PATH_METADATA, body, &o);
    EXPECT_TRUE(Failed(r));
    rc_result_free(&r);
    ExpectServing();
}

TEST_F(MalformedTest, CompressedFlagWithoutEncodingIsRefused)
{
    rc_call_opts_t o = {};
    o.raw_body = 1;
    rc_result_t r = Call(RC_PATH_METADATA, {0x01, 0, 0, 0, 0}, &o);
    EXPECT_TRUE(Failed(r));
    EXPECT_NE(r.grpc_status, 0);
    rc_result_free(&r);
    ExpectServing();
}

TEST_F(MalformedTest, BadProtobufIsInvalidArgument)
{
    const char *paths[] = {RC_PATH_METADATA, RC_PATH_PRODUCE, RC_PATH_FETCH, RC_PATH_LIST_OFFSETS};
    for (const char *path : paths) {
        // Field 3 of type bytes claiming 2^63 bytes; then an invalid wire type.
        rc_result_t r = Call(path, {0x1a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f});
        EXPECT_TRUE(Failed(r)) << path;
        EXPECT_EQ(r.grpc_status, 3) << path << ": " << r.grpc_message;
        rc_result_free(&r);
        r = Call(path, {0x0f, 0x01});
        EXPECT_TRUE(Failed(r)) << path;
        rc_result_free(&r);
    }
    ExpectServing();
}

TEST_F(MalformedTest, WrongContentTypeIsRefused)
{
    rc_call_opts_t o = {};
    o.content_type = "application/json";
    rc_result_t r = Call(RC_PATH_METADATA, {}, &o);
    EXPECT_TRUE(Failed(r));
    EXPECT_TRUE(r.http_status == 415 || (r.grpc_status > 0))
        << ":status " << r.http_status << " grpc-status " << r.grpc_status;
    rc_result_free(&r);
    ExpectServing();
}

TEST_F(MalformedTest, UnknownMethodIsUnimplemented)
{
    rc_result_t r = Call("/mq.v1.Broker/Nope", {});
    EXPECT_EQ(r.grpc_status, 12) << r.grpc_message;
    rc_result_free(&r);
    r = Call("/other.Service/Metadata", {});
    EXPECT_EQ(r.grpc_status, 12) << r.grpc_message;
    rc_result_free(&r);
    ExpectServing();
}

TEST_F(MalformedTest, RequestOverSixteenMiBIsResourceExhausted)
{
    std::vector<uint8_t> big(17u << 20, 0x61);
    rc_batch_ref_t ref = {"m", 0, big.data(), big.size()};
    size_t len;
    uint8_t *req = rc_encode_produce(1, 0, &ref, 1, &len);
    std::vector<uint8_t> body(req, req + len);
    free(req);
    rc_result_t r = Call(RC_PATH_PRODUCE, body, nullptr, 60000);
    EXPECT_EQ(r.grpc_status, 8) << r.grpc_message << " (h2 error " << r.close_error << ")";
    rc_result_free(&r);
    ExpectServing();
}

TEST_F(MalformedTest, GrpcTimeoutEndsALongPollByItsDeadline)
{
    ExpectServing(); // one batch of 3 records at offset 0
    size_t len;
    uint8_t *req = rc_encode_fetch("m", 0, 3, 10000, 1, 1 << 20, 1 << 20, &len);
    std::vector<uint8_t> body(req, req + len);
    free(req);
    rc_call_opts_t o = {};
    o.grpc_timeout_ms = 300;
    long long t0 = test_now_ms();
    rc_result_t r = Call(RC_PATH_FETCH, body, &o);
    long long took = test_now_ms() - t0;
    // docs/protocol.md 1.4: a long poll never waits past the deadline. The
    // broker answers just before it (OK, no records) or DEADLINE_EXCEEDED.
    EXPECT_TRUE(r.grpc_status == 0 || r.grpc_status == 4) << r.grpc_status << " " << r.grpc_message;
    if (r.grpc_status == 0) {
        rc_fetch_result_t fr;
        rc_fetch_result_from(&r, &fr);
        EXPECT_EQ(fr.records_len, 0u);
        rc_fetch_result_free(&fr);
    }
    EXPECT_LT(took, 3000) << "grpc-timeout was not honoured (max_wait was 10 s)";
    rc_result_free(&r);

    // A malformed grpc-timeout is INVALID_ARGUMENT.
    rc_header_t h = {"grpc-timeout", "12 seconds"};
    rc_call_opts_t bad = {};
    bad.headers = &h;
    bad.header_count = 1;
    r = Call(RC_PATH_FETCH, body, &bad);
    EXPECT_EQ(r.grpc_status, 3) << r.grpc_message;
    rc_result_free(&r);
    ExpectServing();
}

class DeadlineTest : public BrokerTestBase
{
};

TEST_F(DeadlineTest, GrpcTimeoutCutsAnAcksAllWaitWithDeadlineExceeded)
{
    // Each fsync takes 2 s: an acks=all produce with a 300 ms deadline
    // cannot be acknowledged in time.
    ASSERT_NO_FATAL_FAILURE(StartBroker({}, {"MQ_TEST_FSYNC_DELAY_MS=2000"}));
    ASSERT_NO_FATAL_FAILURE(CreateTopic("d", 1));
    rawclient_t *rc = Connect();
    ASSERT_NE(rc, nullptr);
    auto batch = MakeBatch(2, 10, rc_now_ms(), 1);
    rc_batch_ref_t ref = {"d", 0, batch.data(), batch.size()};
    size_t len;
    uint8_t *req = rc_encode_produce(-1, 0, &ref, 1, &len);
    rc_call_opts_t o = {};
    o.grpc_timeout_ms = 300;
    long long t0 = test_now_ms();
    rc_result_t r;
    ASSERT_EQ(rc_unary(rc, RC_PATH_PRODUCE, req, len, &o, 20000, &r), 1);
    free(req);
    long long took = test_now_ms() - t0;
    EXPECT_EQ(r.grpc_status, 4) << r.grpc_message;
    EXPECT_LT(took, 1900) << "the acks=all wait ran past the deadline";
    rc_result_free(&r);
}

TEST_F(MalformedTest, ClientResetMidRequestIsHarmless)
{
    rawclient_t *rc = Connect();
    ASSERT_NE(rc, nullptr);
    size_t len;
    uint8_t *req = rc_encode_fetch("m", 0, 0, 10000, 1 << 20, 1 << 20, 1 << 20, &len);
    int32_t ids[4];
    for (auto &id : ids)
        id = rc_submit(rc, RC_PATH_FETCH, req, len, nullptr);
    free(req);
    rc_pump(rc, 200);
    for (auto id : ids) {
        rc_result_t r;
        rc_wait(rc, id, 1, &r); // times out: sends RST_STREAM(CANCEL)
        rc_result_free(&r);
    }
    rc_pump(rc, 200);
    Disconnect(rc); // and drop the connection with nothing in flight
    ExpectServing();
}

class MaxConnectionsTest : public BrokerTestBase
{
};

TEST_F(MaxConnectionsTest, ConnectionsOverTheLimitAreRefused)
{
    char dir[512];
    ASSERT_EQ(test_make_temp_dir(dir, sizeof dir, "mq-maxconn"), 0);
    std::string conf = std::string(dir) + "/broker.conf";
    std::ofstream(conf) << "# test\nmax.connections = 3\n";
    ASSERT_NO_FATAL_FAILURE(StartBroker({"--config", conf}));
    ASSERT_NO_FATAL_FAILURE(CreateTopic("m", 1));

    std::vector<rawclient_t *> held;
    for (int i = 0; i < 3; i++) {
        rawclient_t *rc = Connect();
        ASSERT_NE(rc, nullptr);
        int st;
        void *md = rc_metadata(rc, nullptr, 0, &st);
        EXPECT_NE(md, nullptr) << "connection " << i << " within the limit failed";
        if (md)
            mq__v1__metadata_response__free_unpacked((Mq__V1__MetadataResponse *)md, nullptr);
        held.push_back(rc);
    }
    // The fourth is refused: closed, or every call on it fails.
    rawclient_t *extra = Connect();
    if (extra) {
        int st = 0;
        void *md = rc_metadata(extra, nullptr, 0, &st);
        EXPECT_EQ(md, nullptr) << "a connection over max.connections was served";
        if (md)
            mq__v1__metadata_response__free_unpacked((Mq__V1__MetadataResponse *)md, nullptr);
        Disconnect(extra);
    }
    // Freeing a slot lets a new connection in (the broker notices the close
    // asynchronously: poll for it).
    Disconnect(held.back());
    held.pop_back();
    bool served = false;
    long long deadline = test_now_ms() + 10000;
    while (!served && test_now_ms() < deadline) {
        rawclient_t *rc = Connect();
        if (!rc)
            break;
        int st;
        void *md = rc_metadata(rc, nullptr, 0, &st);
        served = md != nullptr;
        if (md)
            mq__v1__metadata_response__free_unpacked((Mq__V1__MetadataResponse *)md, nullptr);
        Disconnect(rc);
        if (!served)
            usleep(50 * 1000);
    }
    EXPECT_TRUE(served) << "no connection served after one was closed";
    test_remove_tree(dir);
}

} // namespace
