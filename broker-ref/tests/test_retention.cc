// Retention by time and by bytes: whole old segments go, the active one
// never does, and the log start moves up.
#include "log_test_util.h"

#include <thread>

using namespace logtest;

namespace
{

struct Retention : ::testing::Test {
    TempDir tmp;
    log_config_t cfg = default_config();
    part_t *p = nullptr;
    Bytes sample = make_batch(5, 100, 0);

    // Segments of exactly 4 batches of 5 records each.
    void open()
    {
        cfg.segment_bytes = (int64_t)sample.size() * 4;
        ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    }
    // Batch i has timestamps 1000*i .. 1000*i+4.
    void fill(int batches)
    {
        for (int i = 0; i < batches; i++)
            append(p, make_batch(5, 100, 1000LL * i, (uint32_t)i));
    }
    void TearDown() override
    {
        if (p)
            part_close(p);
    }
};

TEST_F(Retention, NothingDeletedWhenDisabled)
{
    open();
    fill(20);
    EXPECT_EQ(part_housekeep(p, 100000000), 0);
    EXPECT_EQ(stats(p).segment_count, 5);
    EXPECT_EQ(stats(p).log_start_offset, 0);
}

TEST_F(Retention, ByTimeDeletesOnlyExpiredWholeSegments)
{
    cfg.retention_ms = 5000;
    open();
    fill(18); // segments: batches 0-3, 4-7, 8-11, 12-15, 16-17 (active)
    ASSERT_EQ(stats(p).segment_count, 5);
    // Segment 0's newest record is at 3004: expired once now - 3004 > 5000.
    EXPECT_EQ(part_housekeep(p, 8004), 0);
    EXPECT_EQ(part_housekeep(p, 8005), 1);
    part_stats_t st = stats(p);
    EXPECT_EQ(st.segment_count, 4);
    EXPECT_EQ(st.log_start_offset, 20);
    EXPECT_EQ(st.size_bytes, (int64_t)sample.size() * 14);
    EXPECT_EQ(file_size(tmp.part_dir() + "/00000000000000000000.log"), -1);
    EXPECT_EQ(file_size(tmp.part_dir() + "/00000000000000000000.index"), -1);
    EXPECT_EQ(file_size(tmp.part_dir() + "/00000000000000000000.timeindex"), -1);
    EXPECT_EQ(files_with(tmp.part_dir(), ".log").size(), 4u);
    bytebuf_t buf = {nullptr, 0, 0};
    EXPECT_EQ(part_read(p, 19, 100, &buf), MQ_ERR_OFFSET_OUT_OF_RANGE);
    EXPECT_EQ(part_read(p, 20, 100, &buf), MQ_OK);
    EXPECT_EQ(batch_base(split(buf.data, buf.len)[0]), 20);
    bytebuf_free(&buf);
    EXPECT_EQ(part_offset_for_time(p, 0), 20);
    // Far in the future everything but the active segment goes.
    EXPECT_EQ(part_housekeep(p, 1000000), 3);
    st = stats(p);
    EXPECT_EQ(st.segment_count, 1);
    EXPECT_EQ(st.log_start_offset, 80);
    EXPECT_EQ(st.log_end_offset, 90);
    EXPECT_EQ(read_all(p, 80).size(), 2u);
    // The start survives a restart (it is the first segment's name).
    part_close(p);
    ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    EXPECT_EQ(stats(p).log_start_offset, 80);
    EXPECT_EQ(stats(p).log_end_offset, 90);
}

TEST_F(Retention, ByTimeStopsAtFirstSegmentToKeep)
{
    cfg.retention_ms = 5000;
    open();
    // Segment 0 holds new timestamps, segment 1 old ones: nothing goes,
    // because deletion only ever removes the oldest segments.
    for (int i = 0; i < 4; i++)
        append(p, make_batch(5, 100, 100000, (uint32_t)i));
    for (int i = 0; i < 4; i++)
        append(p, make_batch(5, 100, 10, (uint32_t)i));
    append(p, make_batch(5, 100, 10));
    EXPECT_EQ(part_housekeep(p, 50000), 0);
    EXPECT_EQ(part_housekeep(p, 200000), 2);
}

TEST_F(Retention, ByBytesDeletesOldestWhileOverTheLimit)
{
    int64_t seg = (int64_t)sample.size() * 4;
    cfg.retention_bytes = seg * 2 + 10;
    open();
    fill(18); // 4 full segments + 2 batches
    ASSERT_EQ(stats(p).size_bytes, (int64_t)sample.size() * 18);
    // 4.5 segments > 2 segments + 10 bytes: delete the oldest until not over.
    EXPECT_EQ(part_housekeep(p, 0), 3);
    part_stats_t st = stats(p);
    EXPECT_EQ(st.segment_count, 2);
    EXPECT_LE(st.size_bytes, cfg.retention_bytes);
    EXPECT_EQ(st.log_start_offset, 60);
    EXPECT_EQ(read_all(p, 60).size(), 6u);
    EXPECT_EQ(part_housekeep(p, 0), 0);
}

TEST_F(Retention, NeverDeletesTheActiveSegment)
{
    cfg.retention_bytes = 0;
    cfg.retention_ms = 0;
    open();
    fill(3); // one segment, active
    EXPECT_EQ(part_housekeep(p, 1000000), 0);
    EXPECT_EQ(stats(p).segment_count, 1);
    EXPECT_EQ(stats(p).log_end_offset, 15);
    fill(6); // now 2 full segments + 1 batch in the active one
    EXPECT_EQ(part_housekeep(p, 1000000), 2);
    part_stats_t st = stats(p);
    EXPECT_EQ(st.segment_count, 1);
    EXPECT_EQ(st.log_start_offset, 40);
    EXPECT_EQ(st.log_end_offset, 45);
    EXPECT_EQ(read_all(p, 40).size(), 1u);
}

TEST_F(Retention, TimeRollThenRetention)
{
    cfg.retention_ms = 1000;
    cfg.segment_ms = 500;
    open();
    append(p, make_batch(5, 100, 10000), 10000);
    // Housekeeping rolls the old active segment, and a later pass deletes
    // it once its records are past retention.
    EXPECT_EQ(part_housekeep(p, 10600), 0);
    EXPECT_EQ(stats(p).segment_count, 2);
    EXPECT_EQ(part_housekeep(p, 11005), 1);
    part_stats_t st = stats(p);
    EXPECT_EQ(st.segment_count, 1);
    EXPECT_EQ(st.log_start_offset, 5);
    EXPECT_EQ(st.log_end_offset, 5);
    EXPECT_EQ(st.size_bytes, 0);
}

TEST_F(Retention, ReaderKeepsDeletedSegmentReadable)
{
    cfg.retention_bytes = 0;
    open();
    fill(12);
    // Readers racing with deletion either get data or OFFSET_OUT_OF_RANGE.
    std::atomic<int> bad{0};
    std::thread r([&] {
        for (int i = 0; i < 200; i++) {
            bytebuf_t buf = {nullptr, 0, 0};
            mq_err_t err = part_read(p, i % 40, 1 << 20, &buf);
            if (err == MQ_OK) {
                auto got = split(buf.data, buf.len);
                if (got.empty() || batch_last(got[0]) < i % 40)
                    bad++;
            } else if (err != MQ_ERR_OFFSET_OUT_OF_RANGE) {
                bad++;
            }
            bytebuf_free(&buf);
        }
    });
    EXPECT_EQ(part_housekeep(p, 0), 2);
    r.join();
    EXPECT_EQ(bad.load(), 0);
}

} // namespace
