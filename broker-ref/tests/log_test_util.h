// Helpers shared by the storage tests (test_segment, test_index,
// test_recovery, test_retention): temp dirs, batch building, reading a
// partition back batch by batch.
#ifndef BROKER_TESTS_LOG_TEST_UTIL_H
#define BROKER_TESTS_LOG_TEST_UTIL_H

#include <gtest/gtest.h>

#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

extern "C" {
#include "log/partition.h"
#include "wire/batch.h"
}

namespace logtest
{

using Bytes = std::vector<uint8_t>;

inline bool small_scale()
{
    const char *s = getenv("MQ_TEST_SCALE");
    return s && strcmp(s, "small") == 0;
}

// A directory under /tmp removed with everything in it at scope exit.
class TempDir
{
  public:
    TempDir()
    {
        char tmpl[] = "/tmp/mqlog-XXXXXX";
        const char *d = mkdtemp(tmpl);
        EXPECT_NE(d, nullptr);
        path_ = d ? d : "/tmp";
    }
    ~TempDir()
    {
        nftw(path_.c_str(), rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
    const std::string &path() const
    {
        return path_;
    }
    // The partition directory part_open gets: <tmp>/topic/0 style.
    std::string part_dir() const
    {
        return path_ + "/p0";
    }

  private:
    static int rm_one(const char *p, const struct stat *, int, struct FTW *)
    {
        remove(p);
        return 0;
    }
    std::string path_;
};

inline log_config_t default_config()
{
    log_config_t c;
    c.segment_bytes = 1LL << 30;
    c.segment_ms = 7LL * 24 * 3600 * 1000;
    c.retention_ms = -1;
    c.retention_bytes = -1;
    c.index_interval_bytes = 4096;
    c.max_message_bytes = 1 << 20;
    c.message_timestamp_log_append = 0;
    return c;
}

// A batch of `count` records with `value_size`-byte values; record i has
// timestamp ts + i. Values carry `tag` so batches differ.
inline Bytes make_batch(int count, size_t value_size, int64_t ts, uint32_t tag = 0)
{
    mq_batch_builder_t b;
    EXPECT_EQ(mq__batch_builder_init(&b, 256), MQ_OK);
    std::vector<uint8_t> value(value_size);
    for (int i = 0; i < count; i++) {
        for (size_t j = 0; j < value_size; j++)
            value[j] = (uint8_t)(tag * 31 + i * 7 + j);
        EXPECT_EQ(mq__batch_builder_add(&b, ts + i, "k", 1, value.data(), value.size(), nullptr, 0),
                  MQ_OK);
    }
    const uint8_t *out;
    size_t len;
    EXPECT_EQ(mq__batch_builder_finish(&b, -1, -1, -1, MQ_BATCH_COMPRESSION_NONE, &out, &len),
              MQ_OK);
    Bytes v(out, out + len);
    mq__batch_builder_free(&b);
    return v;
}

struct Stored {
    int64_t base;
    int32_t count;
    Bytes bytes; // as written (base offset rewritten)
};

// Appends a batch and returns what the log now holds for it.
inline Stored append(part_t *p, Bytes batch, int64_t now_ms = 1000)
{
    int64_t base = -1, lat = -2;
    EXPECT_EQ(part_append(p, batch.data(), batch.size(), now_ms, &base, &lat), MQ_OK);
    mq_batch_header_t h;
    EXPECT_EQ(mq__batch_parse_header(batch.data(), batch.size(), &h), MQ_OK);
    EXPECT_EQ(h.base_offset, base);
    return Stored{base, h.record_count, std::move(batch)};
}

// Splits a read buffer into batches, checking each one's CRC.
inline std::vector<Bytes> split(const uint8_t *data, size_t len)
{
    std::vector<Bytes> out;
    size_t pos = 0;
    while (pos < len) {
        mq_batch_header_t h;
        EXPECT_EQ(mq__batch_parse_header(data + pos, len - pos, &h), MQ_OK) << "at " << pos;
        if (mq__batch_parse_header(data + pos, len - pos, &h) != MQ_OK)
            break;
        size_t sz = mq__batch_size(&h);
        EXPECT_EQ(mq__batch_verify_crc(data + pos, sz), MQ_OK);
        out.emplace_back(data + pos, data + pos + sz);
        pos += sz;
    }
    return out;
}

inline int64_t batch_base(const Bytes &b)
{
    mq_batch_header_t h;
    EXPECT_EQ(mq__batch_parse_header(b.data(), b.size(), &h), MQ_OK);
    return h.base_offset;
}

inline int64_t batch_last(const Bytes &b)
{
    mq_batch_header_t h;
    EXPECT_EQ(mq__batch_parse_header(b.data(), b.size(), &h), MQ_OK);
    return h.base_offset + h.last_offset_delta;
}

// Reads the whole partition from `from` with reads of max_bytes.
inline std::vector<Bytes> read_all(part_t *p, int64_t from, size_t max_bytes = 64 * 1024)
{
    std::vector<Bytes> out;
    part_stats_t st;
    part_get_stats(p, &st);
    int64_t off = from;
    while (off < st.log_end_offset) {
        bytebuf_t buf = {nullptr, 0, 0};
        mq_err_t err = part_read(p, off, max_bytes, &buf);
        EXPECT_EQ(err, MQ_OK) << "offset " << off;
        if (err != MQ_OK || buf.len == 0) {
            ADD_FAILURE() << "no data at offset " << off;
            bytebuf_free(&buf);
            break;
        }
        for (auto &b : split(buf.data, buf.len)) {
            off = batch_last(b) + 1;
            out.push_back(std::move(b));
        }
        bytebuf_free(&buf);
    }
    return out;
}

inline part_stats_t stats(part_t *p)
{
    part_stats_t st;
    part_get_stats(p, &st);
    return st;
}

// Files of dir ending with ext, sorted.
inline std::vector<std::string> files_with(const std::string &dir, const std::string &ext)
{
    std::vector<std::string> out;
    DIR *d = opendir(dir.c_str());
    if (!d)
        return out;
    while (struct dirent *de = readdir(d)) {
        std::string n = de->d_name;
        if (n.size() > ext.size() && n.compare(n.size() - ext.size(), ext.size(), ext) == 0)
            out.push_back(dir + "/" + n);
    }
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

inline off_t file_size(const std::string &path)
{
    struct stat st;
    return stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

inline Bytes read_file(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

inline void write_file(const std::string &path, const Bytes &b)
{
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write((const char *)b.data(), (std::streamsize)b.size());
}

} // namespace logtest

#endif
