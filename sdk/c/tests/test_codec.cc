// The record-batch codec: shared test vectors (written by an independent
// Python implementation), round trips, and hostile input.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
#include "error.h"
#include "wire/batch.h"
#include "wire/compress.h"
#include "wire/crc32c.h"
#include "wire/varint.h"
}

namespace
{

using Bytes = std::vector<uint8_t>;

// ---- A small JSON reader for vectors.json (objects, arrays, strings,
// integers, true/false/null) -------------------------------------------------

struct Json {
    enum Kind { Null, Bool, Int, Str, Arr, Obj } kind = Null;
    bool b = false;
    int64_t i = 0;
    std::string s;
    std::vector<Json> arr;
    std::map<std::string, Json> obj;

    const Json &operator[](const std::string &k) const
    {
        static const Json null;
        auto it = obj.find(k);
        return it == obj.end() ? null : it->second;
    }
    bool is_null() const
    {
        return kind == Null;
    }
};

class JsonParser
{
  public:
    explicit JsonParser(const std::string &text) : t_(text) {}
    Json parse()
    {
        Json v = value();
        ws();
        if (p_ != t_.size())
            throw std::runtime_error("trailing JSON");
        return v;
    }

  private:
    const std::string &t_;
    size_t p_ = 0;

    void ws()
    {
        while (p_ < t_.size() && strchr(" \t\r\n", t_[p_]))
            p_++;
    }
    bool lit(const char *w)
    {
        size_t n = strlen(w);
        if (t_.compare(p_, n, w) != 0)
            return false;
        p_ += n;
        return true;
    }
    std::string str()
    {
        std::string out;
        p_++; // opening quote
        while (p_ < t_.size() && t_[p_] != '"') {
            if (t_[p_] == '\\')
                p_++;
            out += t_[p_++];
        }
        p_++;
        return out;
    }
    Json value()
    {
        ws();
        Json v;
        if (p_ >= t_.size())
            throw std::runtime_error("short JSON");
        char c = t_[p_];
        if (c == '{') {
            v.kind = Json::Obj;
            p_++;
            ws();
            if (t_[p_] == '}') {
                p_++;
                return v;
            }
            for (;;) {
                ws();
                std::string k = str();
                ws();
                p_++; // ':'
                v.obj[k] = value();
                ws();
                if (t_[p_++] == '}')
                    return v;
            }
        }
        if (c == '[') {
            v.kind = Json::Arr;
            p_++;
            ws();
            if (t_[p_] == ']') {
                p_++;
                return v;
            }
            for (;;) {
                v.arr.push_back(value());
                ws();
                if (t_[p_++] == ']')
                    return v;
            }
        }
        if (c == '"') {
            v.kind = Json::Str;
            v.s = str();
            return v;
        }
        if (lit("null"))
            return v;
        if (lit("true") || lit("false")) {
            v.kind = Json::Bool;
            v.b = t_[p_ - 1] == 'e' && t_[p_ - 2] == 'u';
            return v;
        }
        v.kind = Json::Int;
        char *end;
        v.i = strtoll(t_.c_str() + p_, &end, 10);
        p_ = (size_t)(end - t_.c_str());
        return v;
    }
};

std::string vectors_dir()
{
    return std::string(MQ_SOURCE_DIR) + "/sdk/c/tests/vectors/";
}

std::string read_text(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

Bytes read_file(const std::string &name)
{
    std::string s = read_text(vectors_dir() + name);
    return Bytes(s.begin(), s.end());
}

const Json &vectors()
{
    static Json v = [] {
        std::string text = read_text(vectors_dir() + "vectors.json");
        if (text.empty())
            throw std::runtime_error("vectors.json missing");
        return JsonParser(text).parse();
    }();
    return v;
}

Bytes unhex(const std::string &h)
{
    Bytes out;
    for (size_t i = 0; i + 1 < h.size(); i += 2)
        out.push_back((uint8_t)strtoul(h.substr(i, 2).c_str(), nullptr, 16));
    return out;
}

// A record as the tests see it: optional key/value, headers.
struct Rec {
    int64_t timestamp = 0;
    bool key_null = false, value_null = false;
    Bytes key, value;
    struct Hdr {
        Bytes key;
        bool value_null = false;
        Bytes value;
    };
    std::vector<Hdr> headers;
    int64_t offset = 0;
    bool operator==(const Rec &o) const
    {
        if (timestamp != o.timestamp || offset != o.offset || key_null != o.key_null ||
            value_null != o.value_null || key != o.key || value != o.value ||
            headers.size() != o.headers.size())
            return false;
        for (size_t i = 0; i < headers.size(); i++) {
            if (headers[i].key != o.headers[i].key ||
                headers[i].value_null != o.headers[i].value_null ||
                headers[i].value != o.headers[i].value)
                return false;
        }
        return true;
    }
};

std::ostream &operator<<(std::ostream &os, const Rec &r)
{
    return os << "{offset " << r.offset << " ts " << r.timestamp << " key "
              << (r.key_null ? "null" : std::to_string(r.key.size()) + "B") << " value "
              << (r.value_null ? "null" : std::to_string(r.value.size()) + "B") << " headers "
              << r.headers.size() << "}";
}

Rec rec_from_json(const Json &j)
{
    Rec r;
    r.offset = j["offset"].i;
    r.timestamp = j["timestamp"].i;
    r.key_null = j["key_hex"].is_null();
    r.value_null = j["value_hex"].is_null();
    r.key = unhex(j["key_hex"].s);
    r.value = unhex(j["value_hex"].s);
    for (const Json &h : j["headers"].arr) {
        Rec::Hdr hd;
        hd.key = unhex(h["key_hex"].s);
        hd.value_null = h["value_hex"].is_null();
        hd.value = unhex(h["value_hex"].s);
        r.headers.push_back(hd);
    }
    return r;
}

// Iterates a whole batch; returns the iterator's first error or MQ_OK.
int decode(const uint8_t *buf, size_t len, std::vector<Rec> *out, size_t cap = 0)
{
    mq_record_iter_t it;
    mq_err_t err =
        cap ? mq__record_iter_init_cap(&it, buf, len, cap) : mq__record_iter_init(&it, buf, len);
    if (err != MQ_OK) {
        mq__record_iter_free(&it);
        return err;
    }
    mq_record_t r;
    int rc;
    while ((rc = mq__record_iter_next(&it, &r)) == 1) {
        Rec x;
        x.offset = r.offset;
        x.timestamp = r.timestamp;
        x.key_null = r.key == nullptr;
        x.value_null = r.value == nullptr;
        if (r.key)
            x.key.assign(r.key, r.key + r.key_len);
        if (r.value)
            x.value.assign(r.value, r.value + r.value_len);
        const uint8_t *p = r.headers;
        const uint8_t *end = r.headers + r.headers_len;
        mq_header_t h;
        int hr;
        while ((hr = mq__header_next(&p, end, &h)) == 1) {
            Rec::Hdr hd;
            hd.key.assign((const uint8_t *)h.key, (const uint8_t *)h.key + h.key_len);
            hd.value_null = h.value == nullptr;
            if (h.value)
                hd.value.assign((const uint8_t *)h.value, (const uint8_t *)h.value + h.value_len);
            x.headers.push_back(hd);
        }
        if (hr < 0 || (int32_t)x.headers.size() != r.header_count) {
            mq__record_iter_free(&it);
            return hr < 0 ? hr : MQ_ERR_INVALID_BATCH;
        }
        if (out)
            out->push_back(x);
    }
    mq__record_iter_free(&it);
    return rc;
}

// Builds a batch from records with the C builder.
Bytes build(const std::vector<Rec> &recs, int64_t pid, int16_t epoch, int32_t seq,
            int compression = MQ_BATCH_COMPRESSION_NONE)
{
    mq_batch_builder_t b;
    EXPECT_EQ(mq__batch_builder_init(&b, 0), MQ_OK);
    for (const Rec &r : recs) {
        // data() of an empty vector may be NULL: an empty value needs a pointer.
        static const uint8_t empty = 0;
        std::vector<mq_header_t> hs;
        for (const Rec::Hdr &h : r.headers)
            hs.push_back({(const char *)h.key.data(), h.key.size(),
                          h.value_null      ? nullptr
                          : h.value.empty() ? (const void *)&empty
                                            : (const void *)h.value.data(),
                          h.value.size()});
        const void *k = r.key_null ? nullptr : r.key.empty() ? &empty : r.key.data();
        const void *v = r.value_null ? nullptr : r.value.empty() ? &empty : r.value.data();
        size_t before = b.len;
        size_t predicted = mq__batch_record_size(b.count ? r.timestamp - b.base_timestamp : 0,
                                                 b.count, r.key.size(), r.key_null, r.value.size(),
                                                 r.value_null, hs.data(), hs.size());
        EXPECT_EQ(mq__batch_builder_add(&b, r.timestamp, k, r.key.size(), v, r.value.size(),
                                        hs.data(), hs.size()),
                  MQ_OK);
        EXPECT_EQ(b.len - before, predicted);
    }
    const uint8_t *out;
    size_t out_len;
    EXPECT_EQ(mq__batch_builder_finish(&b, pid, epoch, seq, compression, &out, &out_len), MQ_OK);
    Bytes res(out, out + out_len);
    mq__batch_builder_free(&b);
    return res;
}

void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

// After editing a batch: batch_length from the buffer size, CRC recomputed.
void fix_batch(Bytes &b)
{
    put_be32(&b[8], (uint32_t)(b.size() - MQ_BATCH_LOG_OVERHEAD));
    put_be32(&b[MQ_BATCH_CRC_OFFSET],
             mq__crc32c(0, b.data() + MQ_BATCH_ATTR_OFFSET, b.size() - MQ_BATCH_ATTR_OFFSET));
}

// Exact-size heap copy so ASan sees any read past the end.
std::unique_ptr<uint8_t[]> exact_copy(const uint8_t *p, size_t n)
{
    std::unique_ptr<uint8_t[]> c(new uint8_t[n ? n : 1]);
    if (n)
        memcpy(c.get(), p, n);
    return c;
}

bool small_scale()
{
    const char *s = getenv("MQ_TEST_SCALE");
    return s && strcmp(s, "small") == 0;
}

} // namespace

// ---- CRC32C ------------------------------------------------------------------

TEST(Crc32c, KnownVector)
{
    EXPECT_EQ(mq__crc32c(0, "123456789", 9), 0xE3069283u);
    EXPECT_EQ(mq__crc32c_sw(0, "123456789", 9), 0xE3069283u);
    EXPECT_EQ(mq__crc32c(0, "", 0), 0u);
}

TEST(Crc32c, SharedVectors)
{
    const Json &v = vectors()["crc32c"];
    ASSERT_GE(v.arr.size(), 4u);
    for (const Json &c : v.arr) {
        Bytes in = unhex(c["input_hex"].s);
        uint32_t want = (uint32_t)strtoul(c["crc"].s.c_str(), nullptr, 16);
        EXPECT_EQ(mq__crc32c(0, in.data(), in.size()), want) << c["input_hex"].s;
        EXPECT_EQ(mq__crc32c_sw(0, in.data(), in.size()), want) << c["input_hex"].s;
    }
}

TEST(Crc32c, HardwareMatchesTablesAtEveryAlignmentAndChains)
{
    std::mt19937 rng(42);
    Bytes buf(100000 + 16);
    for (auto &x : buf)
        x = (uint8_t)rng();
    for (size_t off = 0; off < 9; off++) {
        for (size_t len : {0,   1,   7,   8,    9,    15,    16,    17,    63,    64,    65,
                           767, 768, 769, 1000, 4096, 24575, 24576, 24577, 25343, 50000, 100000}) {
            uint32_t hw = mq__crc32c(0, buf.data() + off, len);
            ASSERT_EQ(hw, mq__crc32c_sw(0, buf.data() + off, len)) << off << " " << len;
            size_t cut = len / 3;
            uint32_t chained =
                mq__crc32c(mq__crc32c(0, buf.data() + off, cut), buf.data() + off + cut, len - cut);
            ASSERT_EQ(chained, hw);
        }
    }
}

// ---- Varints -------------------------------------------------------------------

TEST(Varint, SharedVectors32)
{
    for (const Json &c : vectors()["varint"].arr) {
        int32_t v = (int32_t)c["value"].i;
        Bytes want = unhex(c["hex"].s);
        uint8_t buf[MQ_VARINT32_MAX];
        size_t n = mq__varint_put32(buf, v);
        EXPECT_EQ(Bytes(buf, buf + n), want) << v;
        EXPECT_EQ(mq__varint_size32(v), want.size());
        int32_t got;
        EXPECT_EQ(mq__varint_get32(want.data(), want.data() + want.size(), &got), want.size());
        EXPECT_EQ(got, v);
    }
}

TEST(Varint, SharedVectors64)
{
    for (const Json &c : vectors()["varlong"].arr) {
        int64_t v = c["value"].i;
        Bytes want = unhex(c["hex"].s);
        uint8_t buf[MQ_VARINT64_MAX];
        size_t n = mq__varint_put64(buf, v);
        EXPECT_EQ(Bytes(buf, buf + n), want) << v;
        EXPECT_EQ(mq__varint_size64(v), want.size());
        int64_t got;
        EXPECT_EQ(mq__varint_get64(want.data(), want.data() + want.size(), &got), want.size());
        EXPECT_EQ(got, v);
    }
}

TEST(Varint, SharedInvalidVectorsAreRejected)
{
    for (const Json &c : vectors()["varint_invalid"].arr) {
        Bytes in = unhex(c["hex"].s);
        auto buf = exact_copy(in.data(), in.size());
        int32_t v;
        EXPECT_EQ(mq__varint_get32(buf.get(), buf.get() + in.size(), &v), 0u) << c["why"].s;
    }
    for (const Json &c : vectors()["varlong_invalid"].arr) {
        Bytes in = unhex(c["hex"].s);
        auto buf = exact_copy(in.data(), in.size());
        int64_t v;
        EXPECT_EQ(mq__varint_get64(buf.get(), buf.get() + in.size(), &v), 0u) << c["why"].s;
    }
}

TEST(Varint, EdgeValuesRoundTripAndEveryTruncationFails)
{
    const int64_t vals[] = {0,         1,         -1,        INT32_MAX,    INT32_MIN,
                            INT64_MAX, INT64_MIN, 1LL << 35, -(1LL << 35), 127,
                            128,       -128,      16383,     16384,        -8193};
    for (int64_t v : vals) {
        uint8_t buf[MQ_VARINT64_MAX];
        size_t n = mq__varint_put64(buf, v);
        ASSERT_LE(n, (size_t)MQ_VARINT64_MAX);
        int64_t got;
        ASSERT_EQ(mq__varint_get64(buf, buf + n, &got), n);
        ASSERT_EQ(got, v);
        for (size_t cut = 0; cut < n; cut++) {
            auto c = exact_copy(buf, cut);
            ASSERT_EQ(mq__varint_get64(c.get(), c.get() + cut, &got), 0u) << v << " " << cut;
        }
        if (v >= INT32_MIN && v <= INT32_MAX) {
            int32_t g32;
            n = mq__varint_put32(buf, (int32_t)v);
            ASSERT_LE(n, (size_t)MQ_VARINT32_MAX);
            ASSERT_EQ(mq__varint_get32(buf, buf + n, &g32), n);
            ASSERT_EQ(g32, v);
        }
    }
}

TEST(Varint, Overlong)
{
    // Ten continuation bytes: no terminator within the 10-byte limit.
    uint8_t many[16];
    memset(many, 0x80, sizeof(many));
    many[15] = 0;
    int64_t v64;
    int32_t v32;
    EXPECT_EQ(mq__varint_get64(many, many + 16, &v64), 0u);
    EXPECT_EQ(mq__varint_get32(many, many + 16, &v32), 0u);
    // A 64-bit value does not fit a 32-bit varint.
    uint8_t buf[MQ_VARINT64_MAX];
    size_t n = mq__varint_put64(buf, 1LL << 40);
    EXPECT_EQ(mq__varint_get32(buf, buf + n, &v32), 0u);
    // Non-minimal but in-bounds encodings decode (as Kafka's reader does).
    const uint8_t padded[] = {0x82, 0x80, 0x00};
    EXPECT_EQ(mq__varint_get32(padded, padded + 3, &v32), 3u);
    EXPECT_EQ(v32, 1);
    uint64_t u;
    const uint8_t big[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    EXPECT_EQ(mq__uvarint_get(big, big + 10, &u), 10u);
    EXPECT_EQ(u, UINT64_MAX);
}

// ---- Batches: the shared vectors ----------------------------------------------------

TEST(BatchVectors, HeadersMatchDescription)
{
    const Json &bs = vectors()["batches"];
    ASSERT_GE(bs.arr.size(), 6u);
    for (const Json &v : bs.arr) {
        SCOPED_TRACE(v["file"].s);
        Bytes data = read_file(v["file"].s);
        ASSERT_EQ(data.size(), (size_t)v["size"].i);
        mq_batch_header_t h;
        mq_err_t err = mq__batch_parse_header(data.data(), data.size(), &h);
        if (v["expect_error"].s == "MQ_ERR_INVALID_BATCH" && err != MQ_OK) {
            EXPECT_EQ(err, MQ_ERR_INVALID_BATCH);
            continue;
        }
        ASSERT_EQ(err, MQ_OK);
        EXPECT_EQ(h.base_offset, v["base_offset"].i);
        EXPECT_EQ(mq__batch_size(&h), data.size());
        EXPECT_EQ(h.partition_leader_epoch, v["partition_leader_epoch"].i);
        EXPECT_EQ(h.magic, 2);
        EXPECT_EQ(h.crc, (uint32_t)strtoul(v["crc"].s.c_str(), nullptr, 16));
        EXPECT_EQ(h.attributes, v["attributes"].i);
        EXPECT_EQ(h.last_offset_delta, v["last_offset_delta"].i);
        EXPECT_EQ(h.base_timestamp, v["base_timestamp"].i);
        EXPECT_EQ(h.max_timestamp, v["max_timestamp"].i);
        EXPECT_EQ(h.producer_id, v["producer_id"].i);
        EXPECT_EQ(h.producer_epoch, v["producer_epoch"].i);
        EXPECT_EQ(h.base_sequence, v["base_sequence"].i);
        EXPECT_EQ(h.record_count, v["record_count"].i);
    }
}

TEST(BatchVectors, ValidateAndDecodeToDescribedRecords)
{
    for (const Json &v : vectors()["batches"].arr) {
        SCOPED_TRACE(v["file"].s);
        Bytes data = read_file(v["file"].s);
        auto buf = exact_copy(data.data(), data.size());
        if (!v["expect_error"].is_null()) {
            EXPECT_STREQ(mq_err_name(mq__batch_validate(buf.get(), data.size())),
                         v["expect_error"].s.c_str());
            EXPECT_LT(decode(buf.get(), data.size(), nullptr), 0);
            continue;
        }
        EXPECT_EQ(mq__batch_validate(buf.get(), data.size()), MQ_OK);
        std::vector<Rec> got;
        ASSERT_EQ(decode(buf.get(), data.size(), &got), 0);
        const Json &want = v["records"];
        ASSERT_EQ(got.size(), want.arr.size());
        for (size_t i = 0; i < got.size(); i++)
            EXPECT_EQ(got[i], rec_from_json(want.arr[i])) << "record " << i;
    }
}

TEST(BatchVectors, BuilderProducesExactlyTheVectorBytes)
{
    int checked = 0;
    for (const Json &v : vectors()["batches"].arr) {
        if (!v["byte_exact"].b || !v["expect_error"].is_null())
            continue;
        SCOPED_TRACE(v["file"].s);
        std::vector<Rec> recs;
        for (const Json &r : v["records"].arr) {
            Rec x = rec_from_json(r);
            x.timestamp = v["base_timestamp"].i + r["timestamp_delta"].i;
            recs.push_back(x);
        }
        Bytes built = build(recs, v["producer_id"].i, (int16_t)v["producer_epoch"].i,
                            (int32_t)v["base_sequence"].i);
        // The broker's part: offsets, and log-append time when the topic asks.
        if (v["base_offset"].i)
            mq__batch_set_base_offset(built.data(), v["base_offset"].i);
        if (v["attributes"].i & MQ_BATCH_TIMESTAMP_LOG_APPEND)
            mq__batch_set_log_append_time(built.data(), built.size(), v["max_timestamp"].i);
        EXPECT_EQ(built, read_file(v["file"].s));
        checked++;
    }
    EXPECT_GE(checked, 4);
}

TEST(BatchVectors, GeneratorAgreesWithCommittedFiles)
{
    std::string cmd = "python3 " + vectors_dir() + "gen_vectors.py --check >/dev/null 2>&1";
    if (system("python3 --version >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "python3 not installed";
    EXPECT_EQ(system(cmd.c_str()), 0) << cmd;
}

// ---- Round trips -----------------------------------------------------------------

std::vector<Rec> random_records(std::mt19937 &rng, int n, size_t max_value)
{
    std::vector<Rec> recs;
    int64_t ts = 1700000000000;
    for (int i = 0; i < n; i++) {
        Rec r;
        r.offset = i;
        r.timestamp = ts + (int64_t)(rng() % 2000) - 1000;
        r.key_null = rng() % 5 == 0;
        if (!r.key_null)
            r.key.resize(rng() % 40);
        r.value_null = rng() % 11 == 0;
        if (!r.value_null)
            r.value.resize(rng() % (max_value + 1));
        for (auto &c : r.key)
            c = (uint8_t)rng();
        for (size_t j = 0; j < r.value.size(); j++)
            r.value[j] = (uint8_t)(j % 7 == 0 ? rng() : 'a' + j % 13); // compressible-ish
        int nh = (int)(rng() % 4);
        for (int j = 0; j < nh; j++) {
            Rec::Hdr h;
            h.key.resize(rng() % 10);
            for (auto &c : h.key)
                c = (uint8_t)('a' + rng() % 26);
            h.value_null = rng() % 3 == 0;
            if (!h.value_null)
                h.value.resize(rng() % 20, (uint8_t)rng());
            r.headers.push_back(h);
        }
        recs.push_back(r);
    }
    return recs;
}

TEST(BatchRoundTrip, AllCodecs)
{
    std::mt19937 rng(7);
    int rounds = small_scale() ? 5 : 30;
    for (int codec :
         {MQ_BATCH_COMPRESSION_NONE, MQ_BATCH_COMPRESSION_LZ4, MQ_BATCH_COMPRESSION_ZSTD}) {
        for (int round = 0; round < rounds; round++) {
            auto recs = random_records(rng, 1 + (int)(rng() % 200), 300);
            Bytes b = build(recs, 77, 3, 1000, codec);
            mq_batch_header_t h;
            ASSERT_EQ(mq__batch_validate_header(b.data(), b.size(), &h), MQ_OK);
            EXPECT_EQ(h.attributes & MQ_BATCH_COMPRESSION_MASK, codec);
            EXPECT_EQ(h.record_count, (int32_t)recs.size());
            EXPECT_EQ(h.producer_id, 77);
            EXPECT_EQ(h.producer_epoch, 3);
            EXPECT_EQ(h.base_sequence, 1000);
            EXPECT_EQ(h.base_timestamp, recs[0].timestamp);
            int64_t maxts = recs[0].timestamp;
            for (auto &r : recs)
                maxts = std::max(maxts, r.timestamp);
            EXPECT_EQ(h.max_timestamp, maxts);
            std::vector<Rec> got;
            ASSERT_EQ(decode(b.data(), b.size(), &got), 0);
            ASSERT_EQ(got, recs);
        }
    }
}

TEST(BatchRoundTrip, LargeCompressedRecords)
{
    std::vector<Rec> recs(3);
    for (size_t i = 0; i < recs.size(); i++) {
        recs[i].offset = (int64_t)i;
        recs[i].timestamp = 5;
        recs[i].key_null = true;
        recs[i].value.assign(small_scale() ? 200000 : 1500000, (uint8_t)('x' + i));
    }
    for (int codec : {MQ_BATCH_COMPRESSION_LZ4, MQ_BATCH_COMPRESSION_ZSTD}) {
        Bytes b = build(recs, -1, -1, -1, codec);
        EXPECT_LT(b.size(), 100000u);
        std::vector<Rec> got;
        ASSERT_EQ(decode(b.data(), b.size(), &got), 0);
        EXPECT_EQ(got, recs);
    }
}

TEST(BatchRoundTrip, OffsetRewriteKeepsCrc)
{
    Bytes b = read_file("batch_simple.bin");
    mq__batch_set_base_offset(b.data(), 1000000);
    EXPECT_EQ(mq__batch_validate(b.data(), b.size()), MQ_OK);
    std::vector<Rec> got;
    ASSERT_EQ(decode(b.data(), b.size(), &got), 0);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].offset, 1000000);
    EXPECT_EQ(got[2].offset, 1000002);
}

TEST(BatchRoundTrip, LogAppendTimeOverridesRecordTimestamps)
{
    Bytes b = read_file("batch_simple.bin");
    mq__batch_set_log_append_time(b.data(), b.size(), 42);
    EXPECT_EQ(mq__batch_validate(b.data(), b.size()), MQ_OK);
    std::vector<Rec> got;
    ASSERT_EQ(decode(b.data(), b.size(), &got), 0);
    for (auto &r : got)
        EXPECT_EQ(r.timestamp, 42);
}

TEST(BatchRoundTrip, SetProducerRewritesFieldsAndCrc)
{
    for (int codec : {MQ_BATCH_COMPRESSION_NONE, MQ_BATCH_COMPRESSION_ZSTD}) {
        std::mt19937 rng(11);
        auto recs = random_records(rng, 20, 100);
        Bytes b = build(recs, 77, 3, 1000, codec);
        Bytes before = b;
        mq__batch_set_producer(b.data(), b.size(), 123456789012LL, 32767, 2147483000);
        mq_batch_header_t h;
        ASSERT_EQ(mq__batch_validate_header(b.data(), b.size(), &h), MQ_OK);
        EXPECT_EQ(h.producer_id, 123456789012LL);
        EXPECT_EQ(h.producer_epoch, 32767);
        EXPECT_EQ(h.base_sequence, 2147483000);
        EXPECT_EQ(h.record_count, 20);
        // Only the three fields and the CRC changed; the records did not.
        for (size_t i = 0; i < b.size(); i++) {
            bool field = (i >= 17 && i < 21) || (i >= 43 && i < 57);
            if (!field) {
                ASSERT_EQ(b[i], before[i]) << "byte " << i;
            }
        }
        std::vector<Rec> got;
        ASSERT_EQ(decode(b.data(), b.size(), &got), 0);
        EXPECT_EQ(got, recs);
        // Back to "not idempotent", and a too-short buffer is left alone.
        mq__batch_set_producer(b.data(), b.size(), -1, -1, -1);
        ASSERT_EQ(mq__batch_validate_header(b.data(), b.size(), &h), MQ_OK);
        EXPECT_EQ(h.producer_id, -1);
        EXPECT_EQ(h.producer_epoch, -1);
        EXPECT_EQ(h.base_sequence, -1);
        Bytes shortb(b.begin(), b.begin() + 60);
        Bytes copy = shortb;
        mq__batch_set_producer(shortb.data(), shortb.size(), 1, 1, 1);
        EXPECT_EQ(shortb, copy);
    }
}

// ---- Builder ----------------------------------------------------------------------

TEST(BatchBuilder, Lifecycle)
{
    mq_batch_builder_t b;
    ASSERT_EQ(mq__batch_builder_init(&b, 10), MQ_OK);
    const uint8_t *out;
    size_t len;
    EXPECT_EQ(mq__batch_builder_finish(&b, -1, -1, -1, 0, &out, &len), MQ_ERR_INVALID_ARG);
    ASSERT_EQ(mq__batch_builder_add(&b, 10, "k", 1, "v", 1, nullptr, 0), MQ_OK);
    EXPECT_EQ(mq__batch_builder_finish(&b, -1, -1, -1, 1 /* gzip */, &out, &len),
              MQ_ERR_UNSUPPORTED);
    ASSERT_EQ(mq__batch_builder_finish(&b, -1, -1, -1, 0, &out, &len), MQ_OK);
    EXPECT_EQ(mq__batch_validate(out, len), MQ_OK);
    // A finished batch takes no more records and no second finish.
    EXPECT_EQ(mq__batch_builder_add(&b, 10, "k", 1, "v", 1, nullptr, 0), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(mq__batch_builder_finish(&b, -1, -1, -1, 0, &out, &len), MQ_ERR_INVALID_ARG);

    // Detach hands the buffer over; the builder starts afresh after reset.
    uint8_t *owned = mq__batch_builder_detach(&b);
    ASSERT_NE(owned, nullptr);
    EXPECT_EQ(mq__batch_validate(owned, len), MQ_OK);
    free(owned);
    mq__batch_builder_reset(&b);
    ASSERT_EQ(mq__batch_builder_add(&b, 20, nullptr, 0, "w", 1, nullptr, 0), MQ_OK);
    ASSERT_EQ(mq__batch_builder_add(&b, 21, nullptr, 0, "x", 1, nullptr, 0), MQ_OK);
    ASSERT_EQ(mq__batch_builder_finish(&b, 1, 0, 5, 0, &out, &len), MQ_OK);
    std::vector<Rec> got;
    ASSERT_EQ(decode(out, len, &got), 0);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[1].timestamp, 21);
    EXPECT_EQ(got[1].value, Bytes{'x'});

    // Reset on a finished batch reuses its buffer.
    mq__batch_builder_reset(&b);
    ASSERT_EQ(mq__batch_builder_add(&b, 30, nullptr, 0, nullptr, 0, nullptr, 0), MQ_OK);
    ASSERT_EQ(mq__batch_builder_finish(&b, 1, 0, 7, 0, &out, &len), MQ_OK);
    EXPECT_EQ(mq__batch_validate(out, len), MQ_OK);
    mq__batch_builder_free(&b);
}

TEST(BatchBuilder, RejectsBadArguments)
{
    mq_batch_builder_t b;
    ASSERT_EQ(mq__batch_builder_init(&b, 0), MQ_OK);
    EXPECT_EQ(mq__batch_builder_add(&b, 0, "k", 1, "v", 1, nullptr, 2), MQ_ERR_INVALID_ARG);
    mq_header_t bad = {nullptr, 3, "v", 1};
    EXPECT_EQ(mq__batch_builder_add(&b, 0, "k", 1, "v", 1, &bad, 1), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(mq__batch_builder_add(&b, 0, "k", (size_t)INT32_MAX + 1, "v", 1, nullptr, 0),
              MQ_ERR_MESSAGE_TOO_LARGE);
    ASSERT_EQ(mq__batch_builder_add(&b, INT64_MIN, "k", 1, "v", 1, nullptr, 0), MQ_OK);
    // The timestamp delta would overflow 64 bits.
    EXPECT_EQ(mq__batch_builder_add(&b, INT64_MAX, "k", 1, "v", 1, nullptr, 0), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(b.count, 1);
    EXPECT_EQ(mq__batch_record_size(0, 0, (size_t)INT32_MAX + 1, 0, 0, 0, nullptr, 0), SIZE_MAX);
    mq__batch_builder_free(&b);
}

TEST(BatchBuilder, LengthVarintBoundaries)
{
    // The builder writes header-less records of 58..8170 key+value bytes in
    // one pass (two-byte length varint) and everything else by computing the
    // size first: records on both sides of each bound, with one- to
    // many-byte timestamp deltas, null and empty fields, and offset deltas
    // past 8191 (three-byte varints) must decode as built, and the builder
    // must grow by exactly mq__batch_record_size.
    std::vector<Rec> recs;
    const size_t kvs[] = {0,    1,    50,   55,   56,   57,   58,   59,   64,   100, 4095,
                          4096, 4097, 8150, 8169, 8170, 8171, 8172, 8191, 8192, 9000};
    const int64_t deltas[] = {0,    1,    -1,        63,           64,          -65,
                              8191, 8192, 1LL << 40, -(1LL << 50), -(1LL << 62)};
    int64_t base = 1700000000000;
    int64_t offset = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t kv : kvs) {
            for (int64_t d : deltas) {
                for (int shape = 0; shape < 3; shape++) {
                    Rec r;
                    r.offset = offset++;
                    r.timestamp = base + d;
                    if (shape == 0) { // null key, all bytes in the value
                        r.key_null = true;
                        r.value.assign(kv, 'v');
                    } else if (shape == 1) { // key and value share them
                        r.key.assign(kv / 3, 'k');
                        r.value.assign(kv - kv / 3, 'v');
                    } else { // all in the key, null value
                        r.key.assign(kv, 'k');
                        r.value_null = true;
                    }
                    recs.push_back(r);
                }
            }
        }
        // Second pass: offset deltas over 8191 (small records fill the gap).
        while (pass == 0 && offset < 8300) {
            Rec r;
            r.offset = offset++;
            r.timestamp = base;
            r.value.assign(3, 'x');
            recs.push_back(r);
        }
    }
    Bytes b = build(recs, -1, -1, -1);
    ASSERT_EQ(mq__batch_validate(b.data(), b.size()), MQ_OK);
    std::vector<Rec> got;
    ASSERT_EQ(decode(b.data(), b.size(), &got), 0);
    ASSERT_EQ(got.size(), recs.size());
    for (size_t i = 0; i < recs.size(); i++)
        ASSERT_EQ(got[i], recs[i]) << "record " << i;
}

// ---- Hostile input -------------------------------------------------------------

TEST(BatchHostile, BadCrcAnywhereInCoveredBytes)
{
    Bytes b = read_file("batch_simple.bin");
    for (size_t i = 0; i < b.size(); i++) {
        Bytes c = b;
        c[i] ^= 0x01;
        mq_err_t err = mq__batch_validate(c.data(), c.size());
        if (i < 8 || (i >= 12 && i < 16)) {
            // Base offset and partition leader epoch sit outside the CRC.
            EXPECT_EQ(err, MQ_OK) << "byte " << i;
        } else if (i >= MQ_BATCH_CRC_OFFSET) {
            EXPECT_EQ(err, MQ_ERR_CORRUPT_MESSAGE) << "byte " << i;
            EXPECT_EQ(decode(c.data(), c.size(), nullptr), MQ_ERR_CORRUPT_MESSAGE);
        } else {
            EXPECT_EQ(err, MQ_ERR_INVALID_BATCH) << "byte " << i; // length, magic
        }
    }
}

TEST(BatchHostile, TruncatedAtEveryLength)
{
    for (const char *name : {"batch_simple.bin", "batch_headers.bin", "batch_zstd.bin",
                             "batch_lz4.bin", "batch_single.bin"}) {
        Bytes b = read_file(name);
        for (size_t n = 0; n < b.size(); n++) {
            auto c = exact_copy(b.data(), n);
            mq_batch_header_t h;
            mq_err_t err = mq__batch_parse_header(c.get(), n, &h);
            ASSERT_TRUE(err == MQ_ERR_PROTOCOL || err == MQ_ERR_INVALID_BATCH) << name << n;
            ASSERT_EQ(mq__batch_validate(c.get(), n), MQ_ERR_INVALID_BATCH) << name << n;
            ASSERT_LT(decode(c.get(), n, nullptr), 0) << name << n;
        }
    }
}

TEST(BatchHostile, ShortenedWithConsistentLengthAndCrc)
{
    // The header agrees with the cut and the CRC is right: only the record
    // walk can notice.
    for (const char *name :
         {"batch_simple.bin", "batch_headers.bin", "batch_zstd.bin", "batch_lz4.bin"}) {
        Bytes b = read_file(name);
        for (size_t n = MQ_BATCH_HEADER_SIZE; n < b.size(); n++) {
            Bytes c(b.begin(), b.begin() + (long)n);
            fix_batch(c);
            auto e = exact_copy(c.data(), n);
            mq_err_t err = mq__batch_validate(e.get(), n);
            bool compressed = strstr(name, "lz4") || strstr(name, "zstd");
            if (!compressed || n == MQ_BATCH_HEADER_SIZE) {
                ASSERT_EQ(err, MQ_ERR_INVALID_BATCH) << name << " " << n;
            }
            ASSERT_LT(decode(e.get(), n, nullptr), 0) << name << " " << n;
        }
    }
}

TEST(BatchHostile, BadHeaderFields)
{
    Bytes good = read_file("batch_simple.bin");
    mq_batch_header_t h;
    auto with = [&](size_t off, std::initializer_list<uint8_t> bytes) {
        Bytes c = good;
        std::copy(bytes.begin(), bytes.end(), c.begin() + (long)off);
        return c;
    };
    // Negative and tiny batch lengths, a length past the buffer, bad magic.
    Bytes c = with(8, {0xff, 0xff, 0xff, 0xff});
    EXPECT_EQ(mq__batch_parse_header(c.data(), c.size(), &h), MQ_ERR_INVALID_BATCH);
    c = with(8, {0x80, 0, 0, 0});
    EXPECT_EQ(mq__batch_parse_header(c.data(), c.size(), &h), MQ_ERR_INVALID_BATCH);
    c = with(8, {0, 0, 0, 48});
    EXPECT_EQ(mq__batch_parse_header(c.data(), c.size(), &h), MQ_ERR_INVALID_BATCH);
    c = with(8, {0x7f, 0xff, 0xff, 0xff});
    EXPECT_EQ(mq__batch_parse_header(c.data(), c.size(), &h), MQ_ERR_PROTOCOL);
    EXPECT_EQ(mq__batch_validate(c.data(), c.size()), MQ_ERR_INVALID_BATCH);
    c = with(16, {1});
    EXPECT_EQ(mq__batch_parse_header(c.data(), c.size(), &h), MQ_ERR_INVALID_BATCH);
    // Counts (CRC fixed so only the layout is wrong).
    c = with(57, {0, 0, 0, 0}); // record_count 0
    fix_batch(c);
    EXPECT_EQ(mq__batch_validate(c.data(), c.size()), MQ_ERR_INVALID_BATCH);
    c = with(57, {0x80, 0, 0, 0}); // negative record_count
    fix_batch(c);
    EXPECT_EQ(mq__batch_validate(c.data(), c.size()), MQ_ERR_INVALID_BATCH);
    c = with(23, {0, 0, 0, 5}); // lastOffsetDelta != count - 1
    fix_batch(c);
    EXPECT_EQ(mq__batch_validate(c.data(), c.size()), MQ_ERR_INVALID_BATCH);
    c = with(57, {0, 0, 0, 2}); // count 2 but three records present
    c[26] = 1;
    fix_batch(c);
    EXPECT_EQ(mq__batch_validate(c.data(), c.size()), MQ_ERR_INVALID_BATCH);
    EXPECT_EQ(decode(c.data(), c.size(), nullptr), MQ_ERR_INVALID_BATCH);
    // Trailing bytes after the batch: validate wants exactly one batch.
    c = good;
    c.push_back(0);
    EXPECT_EQ(mq__batch_validate(c.data(), c.size()), MQ_ERR_INVALID_BATCH);
    EXPECT_EQ(decode(c.data(), c.size(), nullptr), 0); // the iterator reads just the batch
    // Unsupported codecs and transactional/control batches.
    for (uint8_t attr : {1, 2}) {
        c = with(22, {attr});
        fix_batch(c);
        EXPECT_EQ(mq__batch_validate(c.data(), c.size()), MQ_ERR_UNSUPPORTED);
        EXPECT_EQ(decode(c.data(), c.size(), nullptr), MQ_ERR_UNSUPPORTED);
    }
    for (uint8_t attr : {5, 6, 7}) {
        c = with(22, {attr});
        fix_batch(c);
        EXPECT_EQ(mq__batch_validate(c.data(), c.size()), MQ_ERR_INVALID_BATCH);
    }
    for (uint8_t attr : {0x10, 0x20}) {
        c = with(22, {attr});
        fix_batch(c);
        EXPECT_EQ(mq__batch_validate(c.data(), c.size()), MQ_ERR_UNSUPPORTED);
    }
}

// Rewrites the first record of batch_single.bin (layout known from the vector:
// length, attributes, ts delta, offset delta, key len 0, value len 5 "hello",
// header count) and returns the validate result.
static mq_err_t single_with_record(const Bytes &rec)
{
    Bytes b = read_file("batch_single.bin");
    b.resize(MQ_BATCH_HEADER_SIZE);
    b.insert(b.end(), rec.begin(), rec.end());
    fix_batch(b);
    mq_err_t err = mq__batch_validate(b.data(), b.size());
    // What validate accepts the iterator reads (it alone tolerates offset gaps).
    if (err == MQ_OK) {
        EXPECT_EQ(decode(b.data(), b.size(), nullptr), 0);
    }
    return err;
}

TEST(BatchHostile, BadRecordFields)
{
    // The valid record: len 11 = 0x16 zig-zag.
    EXPECT_EQ(single_with_record({0x16, 0, 0, 0, 0, 0x0a, 'h', 'e', 'l', 'l', 'o', 0}), MQ_OK);
    // Record length negative, too long, too short.
    EXPECT_EQ(single_with_record({0x15, 0, 0, 0, 0, 0x0a, 'h', 'e', 'l', 'l', 'o', 0}),
              MQ_ERR_INVALID_BATCH);
    EXPECT_EQ(single_with_record({0x18, 0, 0, 0, 0, 0x0a, 'h', 'e', 'l', 'l', 'o', 0}),
              MQ_ERR_INVALID_BATCH);
    EXPECT_EQ(single_with_record({0x14, 0, 0, 0, 0, 0x0a, 'h', 'e', 'l', 'l', 'o', 0}),
              MQ_ERR_INVALID_BATCH);
    // Key length -2, key length past the record, value length huge.
    EXPECT_EQ(single_with_record({0x16, 0, 0, 0, 0x03, 0x0a, 'h', 'e', 'l', 'l', 'o', 0}),
              MQ_ERR_INVALID_BATCH);
    EXPECT_EQ(single_with_record({0x16, 0, 0, 0, 0x20, 0x0a, 'h', 'e', 'l', 'l', 'o', 0}),
              MQ_ERR_INVALID_BATCH);
    EXPECT_EQ(single_with_record(
                  {0x1e, 0, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0x0f, 'h', 'e', 'l', 'l', 'o', 0}),
              MQ_ERR_INVALID_BATCH);
    // Offset delta 1 for the first record; negative offset delta.
    EXPECT_EQ(single_with_record({0x16, 0, 0, 0x02, 0, 0x0a, 'h', 'e', 'l', 'l', 'o', 0}),
              MQ_ERR_INVALID_BATCH);
    EXPECT_EQ(single_with_record({0x16, 0, 0, 0x01, 0, 0x0a, 'h', 'e', 'l', 'l', 'o', 0}),
              MQ_ERR_INVALID_BATCH);
    // Header count negative, huge, more than present; header key null.
    EXPECT_EQ(single_with_record({0x16, 0, 0, 0, 0, 0x0a, 'h', 'e', 'l', 'l', 'o', 0x01}),
              MQ_ERR_INVALID_BATCH);
    EXPECT_EQ(single_with_record(
                  {0x1e, 0, 0, 0, 0, 0x0a, 'h', 'e', 'l', 'l', 'o', 0xfe, 0xff, 0xff, 0xff, 0x07}),
              MQ_ERR_INVALID_BATCH);
    EXPECT_EQ(single_with_record({0x1a, 0, 0, 0, 0, 0x0a, 'h', 'e', 'l', 'l', 'o', 0x04, 0, 0}),
              MQ_ERR_INVALID_BATCH);
    EXPECT_EQ(single_with_record({0x1a, 0, 0, 0, 0, 0x0a, 'h', 'e', 'l', 'l', 'o', 0x02, 0x01, 0}),
              MQ_ERR_INVALID_BATCH);
    // A valid header with a null value, then a truncated varint at the end.
    EXPECT_EQ(single_with_record({0x1a, 0, 0, 0, 0, 0x0a, 'h', 'e', 'l', 'l', 'o', 0x02, 0, 0x01}),
              MQ_OK);
    EXPECT_EQ(single_with_record({0x1a, 0, 0, 0, 0, 0x0a, 'h', 'e', 'l', 'l', 'o', 0x02, 0, 0x81}),
              MQ_ERR_INVALID_BATCH);
    // Timestamp delta that overflows base timestamp + delta.
    EXPECT_EQ(single_with_record({0x28, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0x01, 0, 0,    0x0a, 'h',  'e',  'l',  'l',  'o',  0}),
              MQ_ERR_INVALID_BATCH);
}

TEST(BatchHostile, CompressedGarbageAndBombs)
{
    // Records of 4 MiB of zeros compress to almost nothing.
    std::vector<Rec> recs(1);
    recs[0].key_null = true;
    recs[0].value.assign(4 << 20, 0);
    for (int codec : {MQ_BATCH_COMPRESSION_LZ4, MQ_BATCH_COMPRESSION_ZSTD}) {
        SCOPED_TRACE(codec);
        Bytes b = build(recs, -1, -1, -1, codec);
        EXPECT_LT(b.size(), 40000u);
        EXPECT_EQ(decode(b.data(), b.size(), nullptr, 1 << 20), MQ_ERR_MESSAGE_TOO_LARGE);
        EXPECT_EQ(decode(b.data(), b.size(), nullptr, 8 << 20), 0);
        // Frames cut short or damaged, CRC fixed so only the codec can tell.
        for (size_t cut : {(size_t)1, (size_t)4, (size_t)9, b.size() / 2}) {
            Bytes c(b.begin(), b.end() - (long)cut);
            fix_batch(c);
            EXPECT_LT(decode(c.data(), c.size(), nullptr), 0) << cut;
        }
        Bytes c = b;
        for (size_t i = MQ_BATCH_HEADER_SIZE; i < c.size(); i += 7)
            c[i] ^= 0x5a;
        fix_batch(c);
        EXPECT_LT(decode(c.data(), c.size(), nullptr), 0);
        // Not a frame at all.
        c.assign(b.begin(), b.begin() + MQ_BATCH_HEADER_SIZE);
        for (int i = 0; i < 100; i++)
            c.push_back((uint8_t)i);
        fix_batch(c);
        EXPECT_EQ(decode(c.data(), c.size(), nullptr), MQ_ERR_INVALID_BATCH);
        // Trailing garbage after a good frame.
        c = b;
        c.push_back(0x42);
        fix_batch(c);
        EXPECT_EQ(decode(c.data(), c.size(), nullptr), MQ_ERR_INVALID_BATCH);
    }
}

TEST(BatchHostile, DecompressHelpers)
{
    const char text[] = "hello hello hello hello hello";
    for (int codec : {MQ_BATCH_COMPRESSION_LZ4, MQ_BATCH_COMPRESSION_ZSTD}) {
        uint8_t *z, *d;
        size_t zl, dl;
        ASSERT_EQ(mq__compress(codec, (const uint8_t *)text, sizeof(text), &z, &zl), MQ_OK);
        ASSERT_EQ(mq__decompress(codec, z, zl, 1024, &d, &dl), MQ_OK);
        EXPECT_EQ(dl, sizeof(text));
        EXPECT_EQ(memcmp(d, text, dl), 0);
        free(d);
        // Output exactly at the cap is fine, one byte less is not.
        ASSERT_EQ(mq__decompress(codec, z, zl, sizeof(text), &d, &dl), MQ_OK);
        free(d);
        EXPECT_EQ(mq__decompress(codec, z, zl, sizeof(text) - 1, &d, &dl),
                  MQ_ERR_MESSAGE_TOO_LARGE);
        EXPECT_EQ(mq__decompress(codec, z, 0, 1024, &d, &dl), MQ_ERR_INVALID_BATCH);
        free(z);
    }
    uint8_t *d;
    size_t dl;
    EXPECT_EQ(mq__decompress(1, (const uint8_t *)"x", 1, 10, &d, &dl), MQ_ERR_UNSUPPORTED);
}

TEST(BatchHostile, RandomMutationsNeverCrash)
{
    // The fuzzer explores far more; this keeps a cheap version in every run.
    std::mt19937 rng(1);
    int rounds = small_scale() ? 2000 : 20000;
    std::vector<Bytes> seeds = {read_file("batch_simple.bin"), read_file("batch_headers.bin"),
                                read_file("batch_zstd.bin"), read_file("batch_lz4.bin")};
    for (int i = 0; i < rounds; i++) {
        Bytes c = seeds[rng() % seeds.size()];
        int flips = 1 + (int)(rng() % 4);
        for (int f = 0; f < flips; f++)
            c[MQ_BATCH_HEADER_SIZE + rng() % (c.size() - MQ_BATCH_HEADER_SIZE)] = (uint8_t)rng();
        if (rng() % 2)
            c.resize(MQ_BATCH_HEADER_SIZE + rng() % (c.size() - MQ_BATCH_HEADER_SIZE + 1));
        fix_batch(c);
        auto e = exact_copy(c.data(), c.size());
        mq_err_t v = mq__batch_validate(e.get(), c.size());
        int d = decode(e.get(), c.size(), nullptr);
        bool compressed = (c[22] & 7) != 0;
        if (v == MQ_OK && !compressed) {
            ASSERT_EQ(d, 0) << "round " << i;
        }
        if (d == 0 && compressed) {
            ASSERT_EQ(v, MQ_OK) << "round " << i;
        }
    }
}
