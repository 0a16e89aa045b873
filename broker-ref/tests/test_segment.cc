// Partition storage: append and read across segments, rolls by size and by
// time, limits, flush, write failures and concurrent use.
#include "log_test_util.h"

#include <errno.h>

#include <atomic>
#include <random>
#include <thread>

using namespace logtest;

namespace
{

struct PartTest : ::testing::Test {
    TempDir tmp;
    log_config_t cfg = default_config();
    part_t *p = nullptr;

    void open()
    {
        ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    }
    void reopen()
    {
        part_close(p);
        p = nullptr;
        open();
    }
    void TearDown() override
    {
        if (p)
            part_close(p);
    }
};

TEST_F(PartTest, EmptyPartition)
{
    open();
    part_stats_t st = stats(p);
    EXPECT_EQ(st.log_start_offset, 0);
    EXPECT_EQ(st.log_end_offset, 0);
    EXPECT_EQ(st.segment_count, 1);
    EXPECT_EQ(st.size_bytes, 0);
    bytebuf_t buf = {nullptr, 0, 0};
    EXPECT_EQ(part_read(p, 0, 1024, &buf), MQ_OK);
    EXPECT_EQ(buf.len, 0u);
    EXPECT_EQ(part_read(p, 1, 1024, &buf), MQ_ERR_OFFSET_OUT_OF_RANGE);
    EXPECT_EQ(part_offset_for_time(p, 0), -1);
    EXPECT_EQ(file_size(tmp.part_dir() + "/00000000000000000000.log"), 0);
    bytebuf_free(&buf);
}

TEST_F(PartTest, RoundTripAcrossManySegments)
{
    cfg.segment_bytes = 16 * 1024;
    open();
    std::mt19937 rng(42);
    std::vector<Stored> all;
    int n = small_scale() ? 120 : 400;
    for (int i = 0; i < n; i++) {
        int count = 1 + (int)(rng() % 20);
        all.push_back(append(p, make_batch(count, 50, 1000 + i, (uint32_t)i)));
    }
    part_stats_t st = stats(p);
    int64_t expect_end = all.back().base + all.back().count;
    EXPECT_EQ(st.log_end_offset, expect_end);
    EXPECT_GT(st.segment_count, small_scale() ? 4 : 10);
    // Offsets are contiguous and no segment file is over segment.bytes.
    for (size_t i = 1; i < all.size(); i++)
        EXPECT_EQ(all[i].base, all[i - 1].base + all[i - 1].count);
    auto logs = files_with(tmp.part_dir(), ".log");
    EXPECT_EQ((int)logs.size(), st.segment_count);
    int64_t total = 0;
    for (auto &f : logs) {
        EXPECT_LE(file_size(f), cfg.segment_bytes) << f;
        total += file_size(f);
    }
    EXPECT_EQ(total, st.size_bytes);
    EXPECT_EQ(files_with(tmp.part_dir(), ".index").size(), logs.size());
    EXPECT_EQ(files_with(tmp.part_dir(), ".timeindex").size(), logs.size());

    for (size_t max : {(size_t)1, (size_t)3000, (size_t)1 << 20}) {
        auto got = read_all(p, 0, max);
        ASSERT_EQ(got.size(), all.size()) << "max_bytes " << max;
        for (size_t i = 0; i < all.size(); i++)
            EXPECT_EQ(got[i], all[i].bytes) << "batch " << i;
    }
    // The same after a clean reopen.
    reopen();
    EXPECT_EQ(stats(p).log_end_offset, expect_end);
    auto got = read_all(p, 0);
    ASSERT_EQ(got.size(), all.size());
    for (size_t i = 0; i < all.size(); i++)
        EXPECT_EQ(got[i], all[i].bytes);
    // Appends continue where the log ended.
    EXPECT_EQ(append(p, make_batch(2, 10, 5000)).base, expect_end);
}

TEST_F(PartTest, ReadAtEveryOffsetReturnsItsBatch)
{
    cfg.segment_bytes = 8 * 1024;
    cfg.index_interval_bytes = 2048;
    open();
    std::vector<Stored> all;
    for (int i = 0; i < 60; i++)
        all.push_back(append(p, make_batch(1 + i % 9, 100, 1000 + i, (uint32_t)i)));
    ASSERT_GT(stats(p).segment_count, 3);
    for (const Stored &s : all) {
        for (int64_t off = s.base; off < s.base + s.count; off++) {
            bytebuf_t buf = {nullptr, 0, 0};
            ASSERT_EQ(part_read(p, off, 1, &buf), MQ_OK);
            auto got = split(buf.data, buf.len);
            ASSERT_EQ(got.size(), 1u) << "offset " << off;
            EXPECT_EQ(got[0], s.bytes) << "offset " << off;
            bytebuf_free(&buf);
        }
    }
    // Random order too, so the read cache cannot carry the lookups.
    std::mt19937 rng(7);
    int64_t end = stats(p).log_end_offset;
    for (int i = 0; i < 300; i++) {
        int64_t off = (int64_t)(rng() % (uint64_t)end);
        bytebuf_t buf = {nullptr, 0, 0};
        ASSERT_EQ(part_read(p, off, 10000, &buf), MQ_OK);
        auto got = split(buf.data, buf.len);
        ASSERT_FALSE(got.empty());
        EXPECT_LE(batch_base(got[0]), off);
        EXPECT_GE(batch_last(got[0]), off);
        bytebuf_free(&buf);
    }
}

TEST_F(PartTest, ReadAppendsToExistingBufferAndHonoursMaxBytes)
{
    open();
    std::vector<Stored> all;
    for (int i = 0; i < 10; i++)
        all.push_back(append(p, make_batch(5, 100, 1000, (uint32_t)i)));
    size_t one = all[0].bytes.size();
    bytebuf_t buf = {nullptr, 0, 0};
    ASSERT_EQ(bytebuf_reserve(&buf, 3), MQ_OK);
    memcpy(buf.data, "abc", 3);
    buf.len = 3;
    // Room for 2.5 batches gives 2.
    ASSERT_EQ(part_read(p, 0, one * 2 + one / 2, &buf), MQ_OK);
    EXPECT_EQ(memcmp(buf.data, "abc", 3), 0);
    auto got = split(buf.data + 3, buf.len - 3);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[1], all[1].bytes);
    bytebuf_free(&buf);
}

TEST_F(PartTest, OutOfRange)
{
    open();
    append(p, make_batch(10, 10, 1000));
    bytebuf_t buf = {nullptr, 0, 0};
    EXPECT_EQ(part_read(p, -1, 100, &buf), MQ_ERR_OFFSET_OUT_OF_RANGE);
    EXPECT_EQ(part_read(p, 11, 100, &buf), MQ_ERR_OFFSET_OUT_OF_RANGE);
    EXPECT_EQ(part_read(p, INT64_MAX, 100, &buf), MQ_ERR_OFFSET_OUT_OF_RANGE);
    EXPECT_EQ(part_read(p, 10, 100, &buf), MQ_OK);
    EXPECT_EQ(buf.len, 0u);
    EXPECT_EQ(part_read(p, 9, 100, &buf), MQ_OK);
    EXPECT_GT(buf.len, 0u);
    bytebuf_free(&buf);
    EXPECT_EQ(part_read(nullptr, 0, 1, &buf), MQ_ERR_INVALID_ARG);
}

TEST_F(PartTest, RollBySize)
{
    Bytes sample = make_batch(10, 100, 1000);
    cfg.segment_bytes = (int64_t)sample.size() * 3;
    open();
    for (int i = 0; i < 10; i++)
        append(p, make_batch(10, 100, 1000, (uint32_t)i));
    // 3 batches fit per segment: 10 batches -> 4 segments, named by base.
    auto logs = files_with(tmp.part_dir(), ".log");
    ASSERT_EQ(logs.size(), 4u);
    EXPECT_EQ(logs[1], tmp.part_dir() + "/00000000000000000030.log");
    EXPECT_EQ(logs[3], tmp.part_dir() + "/00000000000000000090.log");
    EXPECT_EQ(file_size(logs[0]), (off_t)sample.size() * 3);
    // A batch larger than segment.bytes still goes in, alone in a segment.
    cfg.segment_bytes = 1024;
    part_set_config(p, &cfg);
    Stored big = append(p, make_batch(30, 100, 2000));
    append(p, make_batch(1, 10, 2000));
    EXPECT_EQ(file_size(tmp.part_dir() + "/00000000000000000100.log"), (off_t)big.bytes.size());
    EXPECT_EQ(stats(p).segment_count, 6);
    // One flush covers the rolled segments as well as the active one.
    EXPECT_TRUE(part_needs_flush(p));
    EXPECT_EQ(part_flush(p), MQ_OK);
    EXPECT_FALSE(part_needs_flush(p));
    EXPECT_EQ(stats(p).flushed_offset, stats(p).log_end_offset);
}

TEST_F(PartTest, RollByTime)
{
    cfg.segment_ms = 1000;
    open();
    append(p, make_batch(1, 10, 0), 10000);
    append(p, make_batch(1, 10, 0), 10500);
    EXPECT_EQ(stats(p).segment_count, 1);
    append(p, make_batch(1, 10, 0), 11000); // 1000 ms after the first batch
    EXPECT_EQ(stats(p).segment_count, 2);
    // Housekeeping rolls an old active segment without an append.
    EXPECT_EQ(part_housekeep(p, 11500), 0);
    EXPECT_EQ(stats(p).segment_count, 2);
    EXPECT_EQ(part_housekeep(p, 12000), 0);
    EXPECT_EQ(stats(p).segment_count, 3);
    // ... but never rolls an empty one.
    EXPECT_EQ(part_housekeep(p, 99000), 0);
    EXPECT_EQ(stats(p).segment_count, 3);
    EXPECT_EQ(read_all(p, 0).size(), 3u);
}

TEST_F(PartTest, LogAppendTimeRewritesTimestamp)
{
    cfg.message_timestamp_log_append = 1;
    open();
    Bytes b = make_batch(3, 10, 5);
    int64_t base, lat;
    ASSERT_EQ(part_append(p, b.data(), b.size(), 777777, &base, &lat), MQ_OK);
    EXPECT_EQ(lat, 777777);
    auto got = read_all(p, 0);
    ASSERT_EQ(got.size(), 1u);
    mq_batch_header_t h;
    ASSERT_EQ(mq__batch_parse_header(got[0].data(), got[0].size(), &h), MQ_OK);
    EXPECT_EQ(h.max_timestamp, 777777);
    EXPECT_TRUE(h.attributes & MQ_BATCH_TIMESTAMP_LOG_APPEND);
    EXPECT_EQ(mq__batch_verify_crc(got[0].data(), got[0].size()), MQ_OK);
    EXPECT_EQ(part_offset_for_time(p, 777777), 0);
    EXPECT_EQ(part_offset_for_time(p, 777778), -1);

    cfg.message_timestamp_log_append = 0;
    part_set_config(p, &cfg);
    Bytes c = make_batch(1, 10, 5);
    ASSERT_EQ(part_append(p, c.data(), c.size(), 888888, &base, &lat), MQ_OK);
    EXPECT_EQ(lat, -1);
    EXPECT_EQ(base, 3);
}

TEST_F(PartTest, RejectsBadInput)
{
    cfg.max_message_bytes = 500;
    open();
    Bytes big = make_batch(10, 100, 0);
    int64_t base, lat;
    EXPECT_EQ(part_append(p, big.data(), big.size(), 0, &base, &lat), MQ_ERR_MESSAGE_TOO_LARGE);
    Bytes b = make_batch(1, 10, 0);
    EXPECT_EQ(part_append(p, b.data(), b.size() - 1, 0, &base, &lat), MQ_ERR_INVALID_BATCH);
    Bytes longer = b;
    longer.push_back(0);
    EXPECT_EQ(part_append(p, longer.data(), longer.size(), 0, &base, &lat), MQ_ERR_INVALID_BATCH);
    Bytes garbage(100, 0xee);
    EXPECT_EQ(part_append(p, garbage.data(), garbage.size(), 0, &base, &lat), MQ_ERR_INVALID_BATCH);
    EXPECT_EQ(part_append(p, nullptr, 10, 0, &base, &lat), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(stats(p).log_end_offset, 0);
    EXPECT_EQ(stats(p).size_bytes, 0);
}

TEST_F(PartTest, FlushCoversEverythingAppended)
{
    open();
    EXPECT_FALSE(part_needs_flush(p));
    append(p, make_batch(4, 10, 0));
    append(p, make_batch(4, 10, 0));
    EXPECT_TRUE(part_needs_flush(p));
    EXPECT_EQ(stats(p).flushed_offset, 0);
    EXPECT_EQ(part_flush(p), MQ_OK);
    EXPECT_FALSE(part_needs_flush(p));
    EXPECT_EQ(stats(p).flushed_offset, 8);
}

// ---- Fault injection --------------------------------------------------------

std::atomic<int> g_fail_writes{0};
std::atomic<int> g_partial{0};

ssize_t failing_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (g_fail_writes.load() > 0) {
        g_fail_writes--;
        // Half of the batch reaches the file first, as with a full disk.
        if (g_partial.exchange(0) && n > 1) {
            ssize_t w = pwrite(fd, buf, n / 2, off);
            if (w > 0)
                return w;
        }
        errno = ENOSPC;
        return -1;
    }
    return pwrite(fd, buf, n, off);
}

std::atomic<int> g_fail_syncs{0};

int failing_fdatasync(int fd)
{
    if (g_fail_syncs.load() == 0)
        return fdatasync(fd);
    errno = EIO;
    return -1;
}

// The hooks are installed for the whole test (background roll syncs read
// them) and switched on and off through the counters.
struct FaultTest : PartTest {
    void SetUp() override
    {
        g_fail_writes = 0;
        g_fail_syncs = 0;
        part_io_pwrite = failing_pwrite;
        part_io_fdatasync = failing_fdatasync;
    }
    void TearDown() override
    {
        PartTest::TearDown(); // closes: no sync thread runs after this
        p = nullptr;
        part_io_pwrite = pwrite;
        part_io_fdatasync = fdatasync;
    }
};

TEST_F(FaultTest, FailedWriteLeavesLogAsBefore)
{
    open();
    std::vector<Stored> all;
    for (int i = 0; i < 5; i++)
        all.push_back(append(p, make_batch(3, 200, 1000, (uint32_t)i)));
    std::string log = tmp.part_dir() + "/00000000000000000000.log";
    off_t before = file_size(log);
    part_stats_t st0 = stats(p);

    g_partial = 1;
    g_fail_writes = 2; // the partial write, then the retry of the rest
    Bytes b = make_batch(3, 200, 1000, 99);
    int64_t base, lat;
    EXPECT_EQ(part_append(p, b.data(), b.size(), 1000, &base, &lat), MQ_ERR_STORAGE);

    EXPECT_EQ(file_size(log), before);
    part_stats_t st1 = stats(p);
    EXPECT_EQ(st1.log_end_offset, st0.log_end_offset);
    EXPECT_EQ(st1.size_bytes, st0.size_bytes);
    auto got = read_all(p, 0);
    ASSERT_EQ(got.size(), all.size());
    // The next append takes the offsets the failed one would have had.
    all.push_back(append(p, make_batch(3, 200, 1000, 7)));
    EXPECT_EQ(all.back().base, st0.log_end_offset);
    got = read_all(p, 0);
    ASSERT_EQ(got.size(), all.size());
    for (size_t i = 0; i < all.size(); i++)
        EXPECT_EQ(got[i], all[i].bytes);
    // And the log recovers to the same content.
    reopen();
    got = read_all(p, 0);
    ASSERT_EQ(got.size(), all.size());
    EXPECT_EQ(got.back(), all.back().bytes);
}

TEST_F(FaultTest, FailedWriteAfterRollLeavesLogIntact)
{
    Bytes sample = make_batch(2, 100, 0);
    cfg.segment_bytes = (int64_t)sample.size() * 2;
    open();
    append(p, make_batch(2, 100, 0));
    append(p, make_batch(2, 100, 0));
    // A full disk during the append after a roll.
    g_fail_writes = 1000;
    Bytes b = make_batch(2, 100, 0);
    int64_t base, lat;
    EXPECT_EQ(part_append(p, b.data(), b.size(), 0, &base, &lat), MQ_ERR_STORAGE);
    g_fail_writes = 0;
    EXPECT_EQ(stats(p).log_end_offset, 4);
    EXPECT_EQ(read_all(p, 0).size(), 2u);
    EXPECT_EQ(append(p, make_batch(2, 100, 0)).base, 4);
    EXPECT_EQ(read_all(p, 0).size(), 3u);
}

TEST_F(FaultTest, FailedFlushReportsStorageError)
{
    open();
    append(p, make_batch(2, 10, 0));
    g_fail_syncs = 1;
    EXPECT_EQ(part_flush(p), MQ_ERR_STORAGE);
    EXPECT_EQ(stats(p).flushed_offset, 0);
    EXPECT_TRUE(part_needs_flush(p));
    g_fail_syncs = 0;
    EXPECT_EQ(part_flush(p), MQ_OK);
    EXPECT_EQ(stats(p).flushed_offset, 2);
}

// ---- Concurrency ------------------------------------------------------------

TEST_F(PartTest, ConcurrentAppendReadFlushAndRetention)
{
    cfg.segment_bytes = 16 * 1024;
    cfg.retention_bytes = 64 * 1024;
    open();
    const int per_writer = small_scale() ? 300 : 1500;
    std::atomic<bool> done{false};
    std::atomic<int> errors{0};
    std::atomic<int64_t> batches_read{0};

    auto writer = [&](uint32_t id) {
        for (int i = 0; i < per_writer; i++) {
            Bytes b = make_batch(1 + i % 7, 80, 1000 + i, id * 100000 + (uint32_t)i);
            int64_t base, lat;
            if (part_append(p, b.data(), b.size(), 1000 + i, &base, &lat) != MQ_OK)
                errors++;
        }
    };
    auto reader = [&]() {
        int64_t off = 0;
        while (!done.load() || off < stats(p).log_end_offset) {
            bytebuf_t buf = {nullptr, 0, 0};
            mq_err_t err = part_read(p, off, 16 * 1024, &buf);
            if (err == MQ_ERR_OFFSET_OUT_OF_RANGE) {
                // Retention moved the start past us: carry on from there.
                part_stats_t st = stats(p);
                if (off >= st.log_start_offset && off <= st.log_end_offset)
                    errors++;
                off = st.log_start_offset;
                continue;
            }
            if (err != MQ_OK) {
                errors++;
                break;
            }
            size_t pos = 0;
            while (pos < buf.len) {
                mq_batch_header_t h;
                if (mq__batch_parse_header(buf.data + pos, buf.len - pos, &h) != MQ_OK ||
                    mq__batch_verify_crc(buf.data + pos, mq__batch_size(&h)) != MQ_OK ||
                    h.base_offset > off || h.base_offset + h.last_offset_delta < off) {
                    errors++;
                    break;
                }
                off = h.base_offset + h.last_offset_delta + 1;
                pos += mq__batch_size(&h);
                batches_read++;
            }
            bytebuf_free(&buf);
            if (pos != buf.len)
                break;
        }
    };
    std::thread w1(writer, 1), w2(writer, 2), r1(reader), r2(reader);
    std::thread flusher([&] {
        while (!done.load()) {
            if (part_flush(p) != MQ_OK)
                errors++;
            part_housekeep(p, 2000);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    });
    w1.join();
    w2.join();
    done = true;
    r1.join();
    r2.join();
    flusher.join();
    EXPECT_EQ(errors.load(), 0);
    EXPECT_GT(batches_read.load(), 0);
    part_housekeep(p, 2000);
    part_stats_t st = stats(p);
    EXPECT_GT(st.log_start_offset, 0);
    EXPECT_LE(st.size_bytes, cfg.retention_bytes + cfg.segment_bytes);
    EXPECT_EQ(part_flush(p), MQ_OK);
    EXPECT_EQ(stats(p).flushed_offset, st.log_end_offset);
    // Everything still on disk reads back in order.
    auto got = read_all(p, st.log_start_offset);
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(batch_last(got.back()) + 1, st.log_end_offset);
}

TEST_F(PartTest, DestroyRemovesDirectory)
{
    open();
    append(p, make_batch(2, 10, 0));
    EXPECT_EQ(part_destroy(p), MQ_OK);
    p = nullptr;
    struct stat st;
    EXPECT_NE(stat(tmp.part_dir().c_str(), &st), 0);
}

TEST_F(PartTest, BytebufGrows)
{
    bytebuf_t b = {nullptr, 0, 0};
    ASSERT_EQ(bytebuf_reserve(&b, 10), MQ_OK);
    EXPECT_GE(b.cap, 10u);
    b.len = 10;
    ASSERT_EQ(bytebuf_reserve(&b, 100000), MQ_OK);
    EXPECT_GE(b.cap, 100010u);
    EXPECT_EQ(bytebuf_reserve(&b, SIZE_MAX), MQ_ERR_NO_MEMORY);
    bytebuf_free(&b);
    EXPECT_EQ(b.data, nullptr);
    EXPECT_EQ(b.cap, 0u);
}

} // namespace
