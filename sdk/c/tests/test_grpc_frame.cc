// gRPC message framing, grpc-timeout and grpc-message encoding.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "wire/grpc.h"
}

namespace
{

using Bytes = std::vector<uint8_t>;

struct Sink {
    std::vector<Bytes> msgs;
    int fail_after = -1; // return an error on this message index
};

mq_err_t collect(void *ud, const uint8_t *msg, size_t len)
{
    Sink *s = static_cast<Sink *>(ud);
    if ((int)s->msgs.size() == s->fail_after)
        return MQ_ERR_INVALID_ARG;
    s->msgs.emplace_back(msg, msg + len);
    return MQ_OK;
}

Bytes frame(const Bytes &msg)
{
    Bytes out(MQ_GRPC_PREFIX_SIZE);
    mq__grpc_put_prefix(out.data(), (uint32_t)msg.size());
    out.insert(out.end(), msg.begin(), msg.end());
    return out;
}

Bytes pattern(size_t n, uint8_t seed)
{
    Bytes b(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(seed + i * 7);
    return b;
}

} // namespace

TEST(GrpcFrame, Prefix)
{
    uint8_t p[MQ_GRPC_PREFIX_SIZE];
    mq__grpc_put_prefix(p, 0x01020304);
    EXPECT_EQ(Bytes(p, p + 5), (Bytes{0, 1, 2, 3, 4}));
}

TEST(GrpcFrame, WholeMessagesInOneChunk)
{
    Bytes stream;
    std::vector<Bytes> want = {pattern(10, 1), Bytes{}, pattern(300, 2)};
    for (auto &m : want) {
        Bytes f = frame(m);
        stream.insert(stream.end(), f.begin(), f.end());
    }
    mq_grpc_decoder_t d;
    mq__grpc_decoder_init(&d, 1024);
    Sink s;
    ASSERT_EQ(mq__grpc_decoder_feed(&d, stream.data(), stream.size(), collect, &s), MQ_OK);
    EXPECT_EQ(s.msgs, want);
    EXPECT_EQ(mq__grpc_decoder_finish(&d), MQ_OK);
    mq__grpc_decoder_free(&d);
}

TEST(GrpcFrame, SplitAtEveryPosition)
{
    std::vector<Bytes> want = {pattern(40, 3), Bytes{}, pattern(1, 4), pattern(17, 5)};
    Bytes stream;
    for (auto &m : want) {
        Bytes f = frame(m);
        stream.insert(stream.end(), f.begin(), f.end());
    }
    for (size_t a = 0; a <= stream.size(); a++) {
        for (size_t b = a; b <= stream.size(); b += 3) {
            mq_grpc_decoder_t d;
            mq__grpc_decoder_init(&d, 64);
            Sink s;
            ASSERT_EQ(mq__grpc_decoder_feed(&d, stream.data(), a, collect, &s), MQ_OK);
            ASSERT_EQ(mq__grpc_decoder_feed(&d, stream.data() + a, b - a, collect, &s), MQ_OK);
            ASSERT_EQ(mq__grpc_decoder_feed(&d, stream.data() + b, stream.size() - b, collect, &s),
                      MQ_OK);
            ASSERT_EQ(s.msgs, want) << a << " " << b;
            ASSERT_EQ(mq__grpc_decoder_finish(&d), MQ_OK);
            mq__grpc_decoder_free(&d);
        }
    }
}

TEST(GrpcFrame, ByteAtATimeAndRandomChunks)
{
    std::mt19937 rng(3);
    std::vector<Bytes> want;
    Bytes stream;
    for (int i = 0; i < 50; i++) {
        want.push_back(pattern(rng() % 5000, (uint8_t)i));
        Bytes f = frame(want.back());
        stream.insert(stream.end(), f.begin(), f.end());
    }
    for (int mode = 0; mode < 2; mode++) {
        mq_grpc_decoder_t d;
        mq__grpc_decoder_init(&d, 8192);
        Sink s;
        size_t pos = 0;
        while (pos < stream.size()) {
            size_t n = mode == 0 ? 1 : 1 + rng() % 3000;
            n = std::min(n, stream.size() - pos);
            ASSERT_EQ(mq__grpc_decoder_feed(&d, stream.data() + pos, n, collect, &s), MQ_OK);
            pos += n;
        }
        EXPECT_EQ(s.msgs, want);
        mq__grpc_decoder_free(&d);
    }
}

TEST(GrpcFrame, PartialMessageAtEndOfStream)
{
    Bytes f = frame(pattern(10, 0));
    for (size_t n = 1; n < f.size(); n++) {
        mq_grpc_decoder_t d;
        mq__grpc_decoder_init(&d, 100);
        Sink s;
        ASSERT_EQ(mq__grpc_decoder_feed(&d, f.data(), n, collect, &s), MQ_OK);
        EXPECT_TRUE(s.msgs.empty());
        EXPECT_EQ(mq__grpc_decoder_finish(&d), MQ_ERR_PROTOCOL) << n;
        mq__grpc_decoder_free(&d);
    }
}

TEST(GrpcFrame, TooLargeIsRejectedFromThePrefix)
{
    mq_grpc_decoder_t d;
    mq__grpc_decoder_init(&d, 100);
    Sink s;
    Bytes ok = frame(pattern(100, 0));
    ASSERT_EQ(mq__grpc_decoder_feed(&d, ok.data(), ok.size(), collect, &s), MQ_OK);
    // 101 bytes declared: rejected before any body byte arrives.
    uint8_t p[MQ_GRPC_PREFIX_SIZE];
    mq__grpc_put_prefix(p, 101);
    EXPECT_EQ(mq__grpc_decoder_feed(&d, p, sizeof(p), collect, &s), MQ_ERR_REQUEST_TOO_LARGE);
    // Sticky: later input gets the same error, no callback.
    EXPECT_EQ(mq__grpc_decoder_feed(&d, ok.data(), ok.size(), collect, &s),
              MQ_ERR_REQUEST_TOO_LARGE);
    EXPECT_EQ(mq__grpc_decoder_finish(&d), MQ_ERR_REQUEST_TOO_LARGE);
    EXPECT_EQ(s.msgs.size(), 1u);
    mq__grpc_decoder_free(&d);

    // A 4 GiB declaration does not allocate anything.
    mq__grpc_decoder_init(&d, 16 << 20);
    const uint8_t huge[] = {0, 0xff, 0xff, 0xff, 0xff};
    EXPECT_EQ(mq__grpc_decoder_feed(&d, huge, sizeof(huge), collect, &s), MQ_ERR_REQUEST_TOO_LARGE);
    EXPECT_EQ(d.buf, nullptr);
    mq__grpc_decoder_free(&d);
}

TEST(GrpcFrame, BufferGrowsWithDataNotDeclaration)
{
    mq_grpc_decoder_t d;
    mq__grpc_decoder_init(&d, 16 << 20);
    Sink s;
    uint8_t p[MQ_GRPC_PREFIX_SIZE];
    mq__grpc_put_prefix(p, 16 << 20);
    ASSERT_EQ(mq__grpc_decoder_feed(&d, p, sizeof(p), collect, &s), MQ_OK);
    Bytes some = pattern(1000, 1);
    ASSERT_EQ(mq__grpc_decoder_feed(&d, some.data(), some.size(), collect, &s), MQ_OK);
    EXPECT_LE(d.buf_cap, 4096u);
    mq__grpc_decoder_free(&d);
}

TEST(GrpcFrame, CompressedAndBadFlags)
{
    mq_grpc_decoder_t d;
    Sink s;
    const uint8_t compressed[] = {1, 0, 0, 0, 1, 'x'};
    mq__grpc_decoder_init(&d, 100);
    EXPECT_EQ(mq__grpc_decoder_feed(&d, compressed, sizeof(compressed), collect, &s),
              MQ_ERR_UNSUPPORTED);
    mq__grpc_decoder_free(&d);
    const uint8_t bad[] = {2, 0, 0, 0, 1, 'x'};
    mq__grpc_decoder_init(&d, 100);
    EXPECT_EQ(mq__grpc_decoder_feed(&d, bad, sizeof(bad), collect, &s), MQ_ERR_PROTOCOL);
    mq__grpc_decoder_free(&d);
    EXPECT_TRUE(s.msgs.empty());
}

TEST(GrpcFrame, CallbackErrorStopsFeeding)
{
    Bytes stream;
    for (int i = 0; i < 3; i++) {
        Bytes f = frame(pattern(5, (uint8_t)i));
        stream.insert(stream.end(), f.begin(), f.end());
    }
    mq_grpc_decoder_t d;
    mq__grpc_decoder_init(&d, 100);
    Sink s;
    s.fail_after = 1;
    EXPECT_EQ(mq__grpc_decoder_feed(&d, stream.data(), stream.size(), collect, &s),
              MQ_ERR_INVALID_ARG);
    EXPECT_EQ(s.msgs.size(), 1u);
    mq__grpc_decoder_free(&d);
}

TEST(GrpcTimeout, Parse)
{
    struct {
        const char *in;
        int64_t ms;
    } ok[] = {
        {"100m", 100},       {"5S", 5000}, {"1H", 3600000}, {"2M", 120000},
        {"10u", 1},          {"1000u", 1}, {"1001u", 2},    {"3n", 1},
        {"0m", 0},           {"0n", 0},    {"2000000n", 2}, {"99999999H", 99999999LL * 3600000},
        {"00000001S", 1000},
    };
    for (auto &c : ok) {
        int64_t ms = -1;
        EXPECT_EQ(mq__grpc_timeout_parse(c.in, strlen(c.in), &ms), MQ_OK) << c.in;
        EXPECT_EQ(ms, c.ms) << c.in;
    }
    const char *bad[] = {"",     "m",   "100", "100x", "123456789m", "-1m",
                         "1.5S", " 1S", "1S ", "1s",   "1h",         "S1"};
    for (const char *c : bad) {
        int64_t ms;
        EXPECT_EQ(mq__grpc_timeout_parse(c, strlen(c), &ms), MQ_ERR_PROTOCOL) << '"' << c << '"';
    }
    // Length-delimited: bytes past len are not read.
    int64_t ms;
    EXPECT_EQ(mq__grpc_timeout_parse("7mXYZ", 2, &ms), MQ_OK);
    EXPECT_EQ(ms, 7);
}

TEST(GrpcTimeout, FormatRoundTrips)
{
    char buf[16];
    EXPECT_EQ(mq__grpc_timeout_format(250, buf, sizeof(buf)), 4u);
    EXPECT_STREQ(buf, "250m");
    EXPECT_EQ(mq__grpc_timeout_format(0, buf, sizeof(buf)), 2u);
    EXPECT_STREQ(buf, "0m");
    mq__grpc_timeout_format(100000000, buf, sizeof(buf)); // 9 digits of ms
    EXPECT_STREQ(buf, "100000S");
    mq__grpc_timeout_format(100000001, buf, sizeof(buf)); // rounds up
    EXPECT_STREQ(buf, "100001S");
    mq__grpc_timeout_format(INT64_MAX, buf, sizeof(buf));
    EXPECT_STREQ(buf, "99999999H");
    EXPECT_EQ(mq__grpc_timeout_format(-1, buf, sizeof(buf)), 0u);
    EXPECT_EQ(mq__grpc_timeout_format(5, buf, 5), 0u);
    for (int64_t v : {1LL, 999LL, 99999999LL, 123456789LL, 86400000LL * 365}) {
        size_t n = mq__grpc_timeout_format(v, buf, sizeof(buf));
        int64_t back;
        ASSERT_EQ(mq__grpc_timeout_parse(buf, n, &back), MQ_OK) << buf;
        EXPECT_GE(back, v);
        EXPECT_LT(back - v, back / 1000 + 1000) << buf;
    }
}

TEST(GrpcMessage, PercentEncoding)
{
    char out[64];
    std::string in = "topic \"a\" 100% bad\n\xc3\xa9";
    size_t n = mq__grpc_message_encode(in.data(), in.size(), out, sizeof(out));
    EXPECT_STREQ(out, "topic \"a\" 100%25 bad%0A%C3%A9");
    EXPECT_EQ(n, strlen(out));
    char back[64];
    size_t m = mq__grpc_message_decode(out, n, back, sizeof(back));
    EXPECT_EQ(std::string(back, m), in);
    // Truncation: returns the full length, writes a NUL within cap.
    n = mq__grpc_message_encode("\x01\x02\x03", 3, out, 5);
    EXPECT_EQ(n, 9u);
    EXPECT_STREQ(out, "%01%");
    // Lenient decode keeps malformed escapes as they are.
    m = mq__grpc_message_decode("50%", 3, back, sizeof(back));
    EXPECT_EQ(std::string(back, m), "50%");
    m = mq__grpc_message_decode("%zz%4", 5, back, sizeof(back));
    EXPECT_EQ(std::string(back, m), "%zz%4");
    m = mq__grpc_message_decode("%4a%4A", 6, back, sizeof(back));
    EXPECT_EQ(std::string(back, m), "JJ");
}

TEST(GrpcStatus, Parse)
{
    EXPECT_EQ(mq__grpc_status_parse("0", 1), 0);
    EXPECT_EQ(mq__grpc_status_parse("14", 2), 14);
    EXPECT_EQ(mq__grpc_status_parse("", 0), -1);
    EXPECT_EQ(mq__grpc_status_parse("1x", 2), -1);
    EXPECT_EQ(mq__grpc_status_parse("-1", 2), -1);
    EXPECT_EQ(mq__grpc_status_parse("123", 3), -1);
}
