// Recovery on part_open: torn tails, corrupt batches, garbage, lost or
// damaged index files, the clean-shutdown marker, and a real crash (a child
// process that dies without closing).
#include "log_test_util.h"

#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <random>

using namespace logtest;
namespace fs = std::filesystem;

namespace
{

const char *kMarker = ".clean_shutdown";

struct Recovery : ::testing::Test {
    TempDir tmp;
    log_config_t cfg = default_config();
    std::string ref; // a cleanly closed reference log
    std::vector<Stored> all;

    void SetUp() override
    {
        cfg.segment_bytes = 12 * 1024;
        cfg.index_interval_bytes = 1024;
        ref = tmp.path() + "/ref";
        part_t *p;
        ASSERT_EQ(part_open(ref.c_str(), &cfg, &p), MQ_OK);
        std::mt19937 rng(11);
        int n = small_scale() ? 60 : 120;
        for (int i = 0; i < n; i++)
            all.push_back(append(
                p, make_batch(1 + (int)(rng() % 6), 60 + rng() % 200, 1000 + i * 10, (uint32_t)i)));
        part_close(p);
        ASSERT_GE(files_with(ref, ".log").size(), 3u);
    }

    // A copy of the reference log to damage.
    std::string copy(const std::string &name)
    {
        std::string d = tmp.path() + "/" + name;
        fs::copy(ref, d, fs::copy_options::recursive);
        return d;
    }
    std::string last_log(const std::string &dir)
    {
        return files_with(dir, ".log").back();
    }
    // Batches of `all` that lie wholly in the first `keep` bytes of the
    // last segment (all earlier segments kept).
    size_t batches_kept(const std::string &dir, off_t keep)
    {
        std::string log = last_log(dir);
        int64_t seg_base = std::stoll(log.substr(log.size() - 24, 20));
        size_t n = 0;
        off_t pos = 0;
        for (const Stored &s : all) {
            if (s.base < seg_base) {
                n++;
                continue;
            }
            pos += (off_t)s.bytes.size();
            if (pos > keep)
                break;
            n++;
        }
        return n;
    }
    // Opens dir and checks it holds exactly the first `n` batches, that every
    // offset reads, and that appends continue after them.
    void expect_log(const std::string &dir, size_t n)
    {
        part_t *p;
        ASSERT_EQ(part_open(dir.c_str(), &cfg, &p), MQ_OK);
        int64_t end = n ? all[n - 1].base + all[n - 1].count : 0;
        EXPECT_EQ(stats(p).log_end_offset, end);
        auto got = read_all(p, 0, 5000);
        EXPECT_EQ(got.size(), n);
        for (size_t i = 0; i < got.size() && i < n; i++)
            EXPECT_EQ(got[i], all[i].bytes) << "batch " << i;
        for (size_t i = 0; i < n; i += 7) {
            bytebuf_t buf = {nullptr, 0, 0};
            int64_t off = all[i].base + all[i].count - 1;
            ASSERT_EQ(part_read(p, off, 1, &buf), MQ_OK);
            auto one = split(buf.data, buf.len);
            ASSERT_EQ(one.size(), 1u);
            EXPECT_EQ(one[0], all[i].bytes);
            bytebuf_free(&buf);
        }
        bytebuf_t buf = {nullptr, 0, 0};
        EXPECT_EQ(part_read(p, end + 1, 100, &buf), MQ_ERR_OFFSET_OUT_OF_RANGE);
        EXPECT_EQ(append(p, make_batch(2, 10, 99999)).base, end);
        part_close(p);
        // And again, cleanly.
        ASSERT_EQ(part_open(dir.c_str(), &cfg, &p), MQ_OK);
        EXPECT_EQ(stats(p).log_end_offset, end + 2);
        EXPECT_EQ(read_all(p, 0).size(), n + 1);
        part_close(p);
    }
};

TEST_F(Recovery, CleanCloseWritesMarkerAndOpenRemovesIt)
{
    EXPECT_GE(file_size(ref + "/" + kMarker), 1);
    part_t *p;
    ASSERT_EQ(part_open(ref.c_str(), &cfg, &p), MQ_OK);
    EXPECT_EQ(file_size(ref + "/" + kMarker), -1);
    part_close(p);
    expect_log(copy("again"), all.size());
}

TEST_F(Recovery, TornTailAtRandomPositions)
{
    std::mt19937 rng(5);
    int trials = small_scale() ? 8 : 30;
    for (int t = 0; t < trials; t++) {
        std::string d = copy("torn" + std::to_string(t));
        unlink((d + "/" + kMarker).c_str());
        std::string log = last_log(d);
        off_t size = file_size(log);
        off_t cut = t == 0 ? 0 : t == 1 ? size - 1 : (off_t)(rng() % (uint64_t)size);
        ASSERT_EQ(truncate(log.c_str(), cut), 0);
        SCOPED_TRACE("cut at " + std::to_string(cut) + " of " + std::to_string(size));
        expect_log(d, batches_kept(d, cut));
    }
}

TEST_F(Recovery, TornTailWithCleanMarkerStillCaught)
{
    // The marker records the size: a log changed after the close is checked.
    std::string d = copy("marker");
    std::string log = last_log(d);
    off_t cut = file_size(log) - 10;
    ASSERT_EQ(truncate(log.c_str(), cut), 0);
    expect_log(d, batches_kept(d, cut));
}

TEST_F(Recovery, CorruptCrcInLastBatch)
{
    std::string d = copy("crc");
    unlink((d + "/" + kMarker).c_str());
    std::string log = last_log(d);
    Bytes data = read_file(log);
    data[data.size() - 5] ^= 0x40; // inside the last record
    write_file(log, data);
    expect_log(d, all.size() - 1);
}

TEST_F(Recovery, CorruptBatchBeforeLastIndexEntryCutsFromThere)
{
    // With a sparse index holding only the first entry, recovery checks the
    // whole active segment and cuts at the first bad batch.
    cfg.index_interval_bytes = 1 << 24;
    std::string d = copy("mid");
    unlink((d + "/" + kMarker).c_str());
    for (auto &f : files_with(d, ".index"))
        unlink(f.c_str()); // rebuilt with the new interval
    std::string log = last_log(d);
    Bytes data = read_file(log);
    size_t n = split(data.data(), data.size()).size();
    ASSERT_GE(n, 4u);
    size_t pos = 0;
    for (size_t i = 0; i < 2; i++) {
        mq_batch_header_t h;
        ASSERT_EQ(mq__batch_parse_header(data.data() + pos, data.size() - pos, &h), MQ_OK);
        pos += mq__batch_size(&h);
    }
    data[pos + 70] ^= 1; // third batch of the segment
    write_file(log, data);
    expect_log(d, all.size() - n + 2);
}

TEST_F(Recovery, GarbageAfterLastBatchIsCut)
{
    struct Case {
        const char *name;
        Bytes tail;
    };
    std::mt19937 rng(9);
    Bytes random(3000);
    for (auto &b : random)
        b = (uint8_t)rng();
    // A whole valid batch again: right CRC, wrong (repeated) offset.
    Bytes dup = all.back().bytes;
    std::vector<Case> cases = {{"zeros", Bytes(8192, 0)}, {"random", random}, {"dup", dup}};
    for (auto &c : cases) {
        SCOPED_TRACE(c.name);
        std::string d = copy(std::string("garbage-") + c.name);
        unlink((d + "/" + kMarker).c_str());
        std::string log = last_log(d);
        off_t before = file_size(log);
        Bytes data = read_file(log);
        data.insert(data.end(), c.tail.begin(), c.tail.end());
        write_file(log, data);
        expect_log(d, all.size());
        EXPECT_EQ(file_size(log), before + 2 * 0 + (off_t)make_batch(2, 10, 99999).size());
    }
}

TEST_F(Recovery, DeletedIndexFilesAreRebuiltIdentically)
{
    for (int clean = 0; clean < 2; clean++) {
        SCOPED_TRACE(clean ? "with marker" : "without marker");
        std::string d = copy(clean ? "noidx-clean" : "noidx");
        if (!clean)
            unlink((d + "/" + kMarker).c_str());
        std::vector<std::pair<std::string, Bytes>> before;
        for (const char *ext : {".index", ".timeindex"}) {
            for (auto &f : files_with(d, ext)) {
                before.push_back({f, read_file(f)});
                unlink(f.c_str());
            }
        }
        part_t *p;
        ASSERT_EQ(part_open(d.c_str(), &cfg, &p), MQ_OK);
        auto got = read_all(p, 0, 1);
        ASSERT_EQ(got.size(), all.size());
        for (size_t i = 0; i < all.size(); i++)
            EXPECT_EQ(got[i], all[i].bytes);
        EXPECT_EQ(part_offset_for_time(p, 1000 + 555), all[56].base);
        part_close(p);
        for (auto &[f, bytes] : before)
            EXPECT_EQ(read_file(f), bytes) << f;
    }
}

TEST_F(Recovery, DamagedIndexOfOlderSegmentIsRebuilt)
{
    std::string d = copy("older");
    auto idx = files_with(d, ".index");
    Bytes good = read_file(idx[1]);
    ASSERT_GE(good.size(), 16u);
    Bytes bad = good;
    bad[bad.size() - 1] ^= 0x10; // last entry points at the wrong place
    write_file(idx[1], bad);
    unlink(files_with(d, ".timeindex")[0].c_str());
    part_t *p;
    ASSERT_EQ(part_open(d.c_str(), &cfg, &p), MQ_OK);
    EXPECT_EQ(read_file(idx[1]), good);
    EXPECT_GT(file_size(files_with(d, ".timeindex")[0]), 0);
    EXPECT_EQ(read_all(p, 0, 1).size(), all.size());
    part_close(p);
}

TEST_F(Recovery, GarbageIndexOfActiveSegment)
{
    std::mt19937 rng(13);
    for (int t = 0; t < 5; t++) {
        std::string d = copy("garbidx" + std::to_string(t));
        unlink((d + "/" + kMarker).c_str());
        std::string idx = files_with(d, ".index").back();
        Bytes b = read_file(idx);
        for (size_t i = 8; i < b.size(); i++)
            if (rng() % 3 == 0)
                b[i] = (uint8_t)rng();
        b.resize(b.size() + rng() % 8, 0xff);
        write_file(idx, b);
        expect_log(d, all.size());
    }
}

TEST_F(Recovery, StrayIndexFilesAreRemoved)
{
    std::string d = copy("stray");
    std::string stray = d + "/00000000000000999999.index";
    write_file(stray, Bytes(16, 0));
    write_file(d + "/00000000000000999999.timeindex", Bytes(12, 0));
    write_file(d + "/notes.txt", Bytes(3, 'x')); // not ours: left alone
    expect_log(d, all.size());
    EXPECT_EQ(file_size(stray), -1);
    EXPECT_EQ(file_size(d + "/00000000000000999999.timeindex"), -1);
    EXPECT_EQ(file_size(d + "/notes.txt"), 3);
}

// A real crash: a child process appends and dies by SIGKILL without
// closing, leaving part of the index unwritten (it goes out in chunks).
TEST_F(Recovery, KilledProcessLosesNothingWritten)
{
    std::string d = tmp.path() + "/killed";
    std::vector<Stored> written;
    for (int i = 0; i < 700; i++)
        written.push_back({0, 0, make_batch(1 + i % 3, 40, 5000 + i, (uint32_t)i)});
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        log_config_t c = default_config();
        c.index_interval_bytes = 0;
        part_t *p;
        if (part_open(d.c_str(), &c, &p) != MQ_OK)
            _exit(2);
        for (auto &s : written) {
            int64_t base, lat;
            if (part_append(p, s.bytes.data(), s.bytes.size(), 1, &base, &lat) != MQ_OK)
                _exit(3);
        }
        raise(SIGKILL);
        _exit(4);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
    EXPECT_EQ(file_size(d + "/" + kMarker), -1);
    // Some index entries made it to the file, not all.
    off_t idx = file_size(d + "/00000000000000000000.index");
    EXPECT_GT(idx, 0);
    EXPECT_LT(idx, 700 * 8);

    log_config_t c = default_config();
    c.index_interval_bytes = 0;
    part_t *p;
    ASSERT_EQ(part_open(d.c_str(), &c, &p), MQ_OK);
    auto got = read_all(p, 0);
    ASSERT_EQ(got.size(), written.size());
    int64_t off = 0;
    for (size_t i = 0; i < got.size(); i++) {
        mq__batch_set_base_offset(written[i].bytes.data(), off);
        EXPECT_EQ(got[i], written[i].bytes) << i;
        off = batch_last(got[i]) + 1;
    }
    EXPECT_TRUE(part_needs_flush(p)); // the crashed tail is not known to be on disk
    EXPECT_EQ(part_flush(p), MQ_OK);
    EXPECT_FALSE(part_needs_flush(p));
    part_close(p);
    EXPECT_EQ(file_size(d + "/00000000000000000000.index"), 700 * 8);
}

TEST_F(Recovery, EmptyDirectoryAndEmptyActiveSegment)
{
    std::string d = copy("empty-active");
    unlink((d + "/" + kMarker).c_str());
    ASSERT_EQ(truncate(last_log(d).c_str(), 0), 0);
    expect_log(d, batches_kept(d, 0));
    // A directory with nothing in it starts at offset 0.
    std::string e = tmp.path() + "/fresh";
    expect_log(e, 0);
}

TEST_F(Recovery, UnreadableDirectoryIsAStorageError)
{
    part_t *p = nullptr;
    write_file(tmp.path() + "/file", Bytes(1, 0));
    EXPECT_EQ(part_open((tmp.path() + "/file").c_str(), &cfg, &p), MQ_ERR_STORAGE);
    EXPECT_EQ(part_open((tmp.path() + "/no/such/dir").c_str(), &cfg, &p), MQ_ERR_STORAGE);
    EXPECT_EQ(part_open(nullptr, &cfg, &p), MQ_ERR_INVALID_ARG);
}

} // namespace
