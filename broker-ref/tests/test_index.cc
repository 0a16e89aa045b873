// Sparse offset and time indexes: lookups, the files' format and damage,
// and offset_for_time through a partition.
#include "log_test_util.h"

#include <fcntl.h>

#include <random>

extern "C" {
#include "log/index.h"
}

using namespace logtest;

namespace
{

struct IndexFiles : ::testing::Test {
    TempDir tmp;
    std::string base = tmp.path() + "/00000000000000000000";
    seg_index_t x;

    void SetUp() override
    {
        index_init(&x);
        int existed = -1;
        ASSERT_EQ(index_open(&x, base.c_str(), &existed), MQ_OK);
        EXPECT_EQ(existed, 0);
    }
    void TearDown() override
    {
        index_close(&x);
    }
    void reload(uint64_t log_size, int *intact)
    {
        index_close(&x);
        index_init(&x);
        int existed = -1;
        ASSERT_EQ(index_open(&x, base.c_str(), &existed), MQ_OK);
        EXPECT_EQ(existed, 1);
        ASSERT_EQ(index_load(&x, log_size, intact), MQ_OK);
    }
};

TEST_F(IndexFiles, LookupFindsLastEntryAtOrBefore)
{
    EXPECT_EQ(index_lookup(&x, 5), 0u); // empty: scan from the start
    for (uint32_t i = 0; i < 100; i++)
        index_add(&x, i * 10, i * 1000);
    EXPECT_EQ(index_lookup(&x, 0), 0u);
    EXPECT_EQ(index_lookup(&x, 9), 0u);
    EXPECT_EQ(index_lookup(&x, 10), 1000u);
    EXPECT_EQ(index_lookup(&x, 555), 55000u);
    EXPECT_EQ(index_lookup(&x, 990), 99000u);
    EXPECT_EQ(index_lookup(&x, UINT32_MAX), 99000u);
}

TEST_F(IndexFiles, TimeLookupFindsLastEntryBelow)
{
    EXPECT_EQ(tindex_lookup(&x, 100), -1);
    EXPECT_EQ(tindex_last_ts(&x), -1);
    tindex_add(&x, 100, 0);
    tindex_add(&x, 200, 10);
    tindex_add(&x, 200, 20); // equal timestamps are allowed
    tindex_add(&x, 350, 30);
    EXPECT_EQ(tindex_lookup(&x, 100), -1);
    EXPECT_EQ(tindex_lookup(&x, 101), 0);
    EXPECT_EQ(tindex_lookup(&x, 200), 0);
    EXPECT_EQ(tindex_lookup(&x, 201), 20);
    EXPECT_EQ(tindex_lookup(&x, 10000), 30);
    EXPECT_EQ(tindex_last_ts(&x), 350);
}

TEST_F(IndexFiles, WrittenInChunksAndReloaded)
{
    for (uint32_t i = 0; i < 100; i++) {
        index_add(&x, i * 3, i * 100);
        tindex_add(&x, 1000 + i, i * 3);
    }
    // Under a chunk: nothing written until forced.
    ASSERT_EQ(index_write(&x, 0), MQ_OK);
    EXPECT_EQ(file_size(base + ".index"), 0);
    ASSERT_EQ(index_write(&x, 1), MQ_OK);
    EXPECT_EQ(file_size(base + ".index"), 100 * INDEX_ENTRY_SIZE);
    EXPECT_EQ(file_size(base + ".timeindex"), 100 * TIMEINDEX_ENTRY_SIZE);
    // A full chunk is written without forcing.
    for (uint32_t i = 100; i < 700; i++)
        index_add(&x, i * 3, i * 100);
    ASSERT_EQ(index_write(&x, 0), MQ_OK);
    EXPECT_EQ(file_size(base + ".index"), 700 * INDEX_ENTRY_SIZE);
    // Big-endian on disk: entry 1 is rel 3, pos 100.
    Bytes raw = read_file(base + ".index");
    EXPECT_EQ(Bytes(raw.begin() + 8, raw.begin() + 16), (Bytes{0, 0, 0, 3, 0, 0, 0, 100}));

    int intact = 0;
    reload(700 * 100, &intact);
    EXPECT_EQ(intact, 1);
    EXPECT_EQ(x.n, 700u);
    EXPECT_EQ(x.tn, 100u);
    EXPECT_EQ(index_lookup(&x, 301), 10000u);
    EXPECT_EQ(tindex_last_ts(&x), 1099);
}

TEST_F(IndexFiles, DamagedFilesKeepTheGoodPrefix)
{
    for (uint32_t i = 0; i < 10; i++) {
        index_add(&x, i * 3, i * 100);
        tindex_add(&x, 1000 + i, i * 3);
    }
    ASSERT_EQ(index_write(&x, 1), MQ_OK);
    int intact = 0;
    // Entries pointing past a shorter log are dropped.
    reload(450, &intact);
    EXPECT_EQ(intact, 0);
    EXPECT_EQ(x.n, 5u);
    // A torn entry at the end.
    ASSERT_EQ(index_truncate(&x, 10, UINT32_MAX), MQ_OK); // cuts the file to 5
    EXPECT_EQ(file_size(base + ".index"), 5 * INDEX_ENTRY_SIZE);
    Bytes raw = read_file(base + ".index");
    raw.insert(raw.end(), {0, 0, 0});
    write_file(base + ".index", raw);
    reload(10000, &intact);
    EXPECT_EQ(intact, 0);
    EXPECT_EQ(x.n, 5u);
    // An entry going backwards.
    raw.resize(5 * INDEX_ENTRY_SIZE);
    raw.insert(raw.end(), {0, 0, 0, 1, 0, 0, 0x10, 0});
    write_file(base + ".index", raw);
    reload(100000, &intact);
    EXPECT_EQ(intact, 0);
    EXPECT_EQ(x.n, 5u);
    // A first entry that is not 0/0.
    write_file(base + ".index", Bytes{0, 0, 0, 1, 0, 0, 0, 0});
    reload(100000, &intact);
    EXPECT_EQ(intact, 0);
    EXPECT_EQ(x.n, 0u);
    // Timestamps going backwards end the time index.
    write_file(base + ".index", Bytes{});
    Bytes t = read_file(base + ".timeindex");
    t[3 * 12 + 7] = 0; // entry 3's timestamp drops below entry 2's
    write_file(base + ".timeindex", t);
    reload(0, &intact);
    EXPECT_EQ(intact, 0);
    EXPECT_EQ(x.tn, 3u);
    // Empty files for an empty log are intact; for a non-empty log they are not.
    write_file(base + ".timeindex", Bytes{});
    reload(0, &intact);
    EXPECT_EQ(intact, 1);
    reload(100, &intact);
    EXPECT_EQ(intact, 0);
}

TEST_F(IndexFiles, ResetAndTruncate)
{
    for (uint32_t i = 0; i < 10; i++) {
        index_add(&x, i * 3, i * 100);
        tindex_add(&x, 1000 + i, i * 3);
    }
    ASSERT_EQ(index_write(&x, 1), MQ_OK);
    ASSERT_EQ(index_truncate(&x, 4, 6), MQ_OK);
    EXPECT_EQ(x.n, 4u);
    EXPECT_EQ(x.tn, 3u); // rel 0, 3, 6
    EXPECT_EQ(file_size(base + ".index"), 4 * INDEX_ENTRY_SIZE);
    EXPECT_EQ(file_size(base + ".timeindex"), 3 * TIMEINDEX_ENTRY_SIZE);
    ASSERT_EQ(index_reset(&x), MQ_OK);
    EXPECT_EQ(x.n, 0u);
    EXPECT_EQ(x.tn, 0u);
    EXPECT_EQ(file_size(base + ".index"), 0);
    EXPECT_EQ(file_size(base + ".timeindex"), 0);
}

// ---- Through a partition ------------------------------------------------------

struct PartIndex : ::testing::Test {
    TempDir tmp;
    log_config_t cfg = default_config();
    part_t *p = nullptr;
    void TearDown() override
    {
        if (p)
            part_close(p);
    }
};

// Reads give the same answer whatever the index density.
TEST_F(PartIndex, LookupsAgreeForEveryInterval)
{
    std::vector<std::vector<Bytes>> results;
    for (int32_t interval : {0, 1000, 4096, 1 << 24}) {
        TempDir d;
        cfg.index_interval_bytes = interval;
        cfg.segment_bytes = 40 * 1024;
        ASSERT_EQ(part_open(d.part_dir().c_str(), &cfg, &p), MQ_OK);
        for (int i = 0; i < 80; i++)
            append(p, make_batch(1 + i % 5, 150, 1000 + i, (uint32_t)i));
        std::vector<Bytes> got;
        int64_t end = stats(p).log_end_offset;
        for (int64_t off = 0; off < end; off++) {
            bytebuf_t buf = {nullptr, 0, 0};
            ASSERT_EQ(part_read(p, off, 1, &buf), MQ_OK);
            got.emplace_back(buf.data, buf.data + buf.len);
            bytebuf_free(&buf);
        }
        results.push_back(got);
        // The index file holds one entry per interval (every batch at 0).
        part_close(p);
        p = nullptr;
        off_t idx = file_size(d.part_dir() + "/00000000000000000000.index");
        off_t log = file_size(d.part_dir() + "/00000000000000000000.log");
        size_t batches =
            split(read_file(d.part_dir() + "/00000000000000000000.log").data(), (size_t)log).size();
        if (interval == 0) {
            EXPECT_EQ((size_t)idx / INDEX_ENTRY_SIZE, batches);
        } else if (interval == 1 << 24) {
            EXPECT_EQ(idx, INDEX_ENTRY_SIZE);
        } else {
            EXPECT_LE(idx / INDEX_ENTRY_SIZE, log / interval + 1);
            EXPECT_GE(idx / INDEX_ENTRY_SIZE, log / (interval + 1000) - 1);
        }
    }
    for (size_t i = 1; i < results.size(); i++)
        EXPECT_EQ(results[i], results[0]);
}

// Every entry of the index files names the batch at its position.
TEST_F(PartIndex, EntriesPointAtTheirBatches)
{
    cfg.index_interval_bytes = 1500;
    cfg.segment_bytes = 10 * 1024;
    ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    for (int i = 0; i < 100; i++)
        append(p, make_batch(1 + i % 4, 120, 1000 + i, (uint32_t)i));
    part_close(p);
    p = nullptr;
    auto logs = files_with(tmp.part_dir(), ".log");
    ASSERT_GT(logs.size(), 2u);
    for (auto &log : logs) {
        std::string stem = log.substr(0, log.size() - 4);
        int64_t seg_base = std::stoll(stem.substr(stem.size() - 20));
        Bytes data = read_file(log), idx = read_file(stem + ".index");
        ASSERT_EQ(idx.size() % 8, 0u);
        ASSERT_GE(idx.size(), 8u);
        for (size_t i = 0; i < idx.size(); i += 8) {
            uint32_t rel = (uint32_t)idx[i] << 24 | idx[i + 1] << 16 | idx[i + 2] << 8 | idx[i + 3];
            uint32_t pos =
                (uint32_t)idx[i + 4] << 24 | idx[i + 5] << 16 | idx[i + 6] << 8 | idx[i + 7];
            ASSERT_LT(pos, data.size());
            mq_batch_header_t h;
            ASSERT_EQ(mq__batch_parse_header(data.data() + pos, data.size() - pos, &h), MQ_OK);
            EXPECT_EQ(h.base_offset, seg_base + rel);
        }
    }
}

// offset_for_time against a brute-force answer, with timestamps that go
// up and down, across segments.
TEST_F(PartIndex, OffsetForTime)
{
    cfg.index_interval_bytes = 600;
    cfg.segment_bytes = 6 * 1024;
    ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    std::mt19937 rng(3);
    std::vector<std::pair<int64_t, int64_t>> batches; // base, max ts
    int64_t ts = 100000;
    for (int i = 0; i < 150; i++) {
        ts += (int64_t)(rng() % 100) - 30; // mostly rising
        int count = 1 + (int)(rng() % 4);
        Stored s = append(p, make_batch(count, 100, ts, (uint32_t)i));
        batches.push_back({s.base, ts + count - 1});
    }
    ASSERT_GT(stats(p).segment_count, 4);
    auto expect = [&](int64_t t) -> int64_t {
        for (auto &b : batches)
            if (b.second >= t)
                return b.first;
        return -1;
    };
    auto check_all = [&]() {
        for (int64_t t = 99000; t < ts + 200; t += 7)
            ASSERT_EQ(part_offset_for_time(p, t), expect(t)) << "ts " << t;
    };
    check_all();
    EXPECT_EQ(part_offset_for_time(p, INT64_MIN), 0);
    EXPECT_EQ(part_offset_for_time(p, INT64_MAX), -1);
    // The same from the files after a clean close, and after an index loss.
    part_close(p);
    ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    check_all();
    part_close(p);
    for (auto &f : files_with(tmp.part_dir(), ".timeindex"))
        unlink(f.c_str());
    ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    check_all();
}

} // namespace
