// Idempotent-producer state in the log: part_append_idem's check under the
// partition's lock (duplicates answer their original offsets and write
// nothing, gaps and old epochs are refused), and recovery_load_producers
// rebuilding that state from the batch headers of the log's tail, across
// several segments and with a window that starts inside a segment, and from
// the snapshots written at each roll and at close (log/producer_snapshot.c).
#include "log_test_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

extern "C" {
#include "producers.h"

// From log/recovery.h and log/segment.h, which C++ cannot include (C11
// atomics): the segments stay opaque here.
typedef struct segment segment_t;
mq_err_t recovery_load(const char *dir, int dirfd, const log_config_t *cfg, int64_t now_ms,
                       segment_t ***segs, size_t *n);
mq_err_t recovery_load_producers(segment_t *const *segs, size_t n, int64_t from_offset,
                                 uint64_t max_bytes, partition_producers_t *pp);
mq_err_t psnap_load(const char *dir, int dirfd, int64_t max_offset, partition_producers_t **out,
                    int64_t *offset);
mq_err_t psnap_write(const char *dir, int dirfd, int64_t offset, const uint8_t *body, size_t len);
void seg_unref(segment_t *s);
}

using namespace logtest;

namespace
{

Bytes idem_batch(int count, int64_t pid, int16_t epoch, int32_t seq, uint32_t tag)
{
    mq_batch_builder_t b;
    EXPECT_EQ(mq__batch_builder_init(&b, 256), MQ_OK);
    std::vector<uint8_t> value(100);
    for (int i = 0; i < count; i++) {
        for (size_t j = 0; j < value.size(); j++)
            value[j] = (uint8_t)(tag * 31 + i * 7 + j);
        EXPECT_EQ(
            mq__batch_builder_add(&b, 1000 + i, "k", 1, value.data(), value.size(), nullptr, 0),
            MQ_OK);
    }
    const uint8_t *out;
    size_t len;
    EXPECT_EQ(mq__batch_builder_finish(&b, pid, epoch, seq, MQ_BATCH_COMPRESSION_NONE, &out, &len),
              MQ_OK);
    Bytes v(out, out + len);
    mq__batch_builder_free(&b);
    return v;
}

struct Sent {
    int64_t pid;
    int32_t seq;
    int32_t count;
    int64_t base;
};

struct ProducerRecovery : ::testing::Test {
    TempDir tmp;
    log_config_t cfg = default_config();
    std::vector<Sent> sent;
    int32_t next_seq[3] = {0, 0, 0};

    void SetUp() override
    {
        cfg.segment_bytes = 4096;
        cfg.index_interval_bytes = 512;
    }

    void produce(part_t *p, int64_t pid, int count)
    {
        Bytes b = idem_batch(count, pid, 0, next_seq[pid], (uint32_t)sent.size());
        int64_t base = -1;
        int dup = -1;
        ASSERT_EQ(part_append_idem(p, b.data(), b.size(), 5000, &base, nullptr, &dup), MQ_OK);
        EXPECT_EQ(dup, 0);
        sent.push_back({pid, next_seq[pid], count, base});
        next_seq[pid] += count;
    }

    // Producer 0 writes early only; 1 throughout; 2 only at the end.
    void fill(part_t *p)
    {
        for (int i = 0; i < 40; i++)
            ASSERT_NO_FATAL_FAILURE(produce(p, i < 20 ? 0 : 1, 1 + i % 3));
        for (int i = 0; i < 6; i++)
            ASSERT_NO_FATAL_FAILURE(produce(p, 2, 2));
        ASSERT_NO_FATAL_FAILURE(produce(p, 1, 1));
    }

    // Fills the partition (several rolls) and closes it; returns the log end.
    int64_t fill_closed()
    {
        part_t *p;
        if (part_open(tmp.part_dir().c_str(), &cfg, &p) != MQ_OK) {
            ADD_FAILURE() << "part_open failed";
            return -1;
        }
        fill(p);
        int64_t end = stats(p).log_end_offset;
        part_close(p);
        return end;
    }

    // State rebuilt from the last max_bytes of the log in dir or, with
    // snapshot set, from the newest snapshot (its offset in *snap_offset)
    // and the batches after it.
    partition_producers_t *rebuild(const std::string &dir, uint64_t max_bytes,
                                   bool snapshot = false, int64_t *snap_offset = nullptr,
                                   size_t min_segments = 3)
    {
        int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
        EXPECT_GE(dfd, 0);
        segment_t **segs = nullptr;
        size_t n = 0;
        EXPECT_EQ(recovery_load(dir.c_str(), dfd, &cfg, 1000, &segs, &n), MQ_OK);
        EXPECT_GE(n, min_segments) << "the log should span several segments";
        partition_producers_t *pp = nullptr;
        int64_t from = -1;
        if (snapshot) {
            int64_t end = sent.back().base + sent.back().count;
            EXPECT_EQ(psnap_load(dir.c_str(), dfd, end, &pp, &from), MQ_OK);
        }
        if (snap_offset)
            *snap_offset = from;
        if (!pp)
            pp = partition_producers_new();
        EXPECT_EQ(recovery_load_producers(segs, n, from, max_bytes, pp), MQ_OK);
        for (size_t i = 0; i < n; i++)
            seg_unref(segs[i]);
        free(segs);
        close(dfd);
        return pp;
    }

    // The last batch `pid` sent, checked against pp.
    producer_check_t check_last(partition_producers_t *pp, int64_t pid, producer_batch_ref_t *ref)
    {
        for (auto it = sent.rbegin(); it != sent.rend(); ++it)
            if (it->pid == pid)
                return producers_check(pp, pid, 0, it->seq, it->count, ref);
        return PRODUCER_CHECK_UNKNOWN;
    }
    const Sent &last_of(int64_t pid)
    {
        for (auto it = sent.rbegin(); it != sent.rend(); ++it)
            if (it->pid == pid)
                return *it;
        return sent.front();
    }
};

TEST_F(ProducerRecovery, AppendChecksSequencesUnderTheLock)
{
    part_t *p;
    ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    Bytes a = idem_batch(3, 7, 0, 0, 1), b = idem_batch(2, 7, 0, 3, 2);
    int64_t base = -1, lat = -1;
    int dup = -1;
    ASSERT_EQ(part_append_idem(p, a.data(), a.size(), 5000, &base, &lat, &dup), MQ_OK);
    EXPECT_EQ(base, 0);
    EXPECT_EQ(dup, 0);
    ASSERT_EQ(part_append_idem(p, b.data(), b.size(), 5000, &base, &lat, &dup), MQ_OK);
    EXPECT_EQ(base, 3);
    // The retry of a: its original offset, nothing written.
    Bytes again = idem_batch(3, 7, 0, 0, 1);
    ASSERT_EQ(part_append_idem(p, again.data(), again.size(), 6000, &base, &lat, &dup), MQ_OK);
    EXPECT_EQ(dup, 1);
    EXPECT_EQ(base, 0);
    EXPECT_EQ(lat, -1); // the topic keeps create time
    EXPECT_EQ(stats(p).log_end_offset, 5);
    // part_append does the same check.
    EXPECT_EQ(part_append(p, again.data(), again.size(), 6000, &base, nullptr), MQ_OK);
    EXPECT_EQ(base, 0);
    EXPECT_EQ(stats(p).log_end_offset, 5);
    // A gap, an unknown producer, an old epoch: refused, nothing written.
    Bytes gap = idem_batch(1, 7, 0, 9, 3);
    EXPECT_EQ(part_append_idem(p, gap.data(), gap.size(), 6000, &base, &lat, &dup),
              MQ_ERR_OUT_OF_ORDER_SEQUENCE);
    Bytes unknown = idem_batch(1, 8, 0, 4, 4);
    EXPECT_EQ(part_append_idem(p, unknown.data(), unknown.size(), 6000, &base, &lat, &dup),
              MQ_ERR_UNKNOWN_PRODUCER);
    Bytes e1 = idem_batch(1, 7, 1, 0, 5);
    ASSERT_EQ(part_append_idem(p, e1.data(), e1.size(), 6000, &base, &lat, &dup), MQ_OK);
    EXPECT_EQ(base, 5);
    Bytes old = idem_batch(1, 7, 0, 5, 6);
    EXPECT_EQ(part_append_idem(p, old.data(), old.size(), 6000, &base, &lat, &dup),
              MQ_ERR_PRODUCER_FENCED);
    EXPECT_EQ(stats(p).log_end_offset, 6);
    // Not idempotent: never checked, always appended.
    Bytes plain = make_batch(2, 10, 1000);
    ASSERT_EQ(part_append_idem(p, plain.data(), plain.size(), 6000, &base, &lat, &dup), MQ_OK);
    ASSERT_EQ(part_append_idem(p, plain.data(), plain.size(), 6000, &base, &lat, &dup), MQ_OK);
    EXPECT_EQ(dup, 0);
    EXPECT_EQ(stats(p).log_end_offset, 10);
    part_close(p);
}

TEST_F(ProducerRecovery, LogAppendTimeDuplicateAnswersTheOriginalTime)
{
    cfg.message_timestamp_log_append = 1;
    part_t *p;
    ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    Bytes a = idem_batch(2, 3, 0, 0, 1);
    Bytes copy = a;
    int64_t base = -1, lat = -1;
    int dup = 0;
    ASSERT_EQ(part_append_idem(p, a.data(), a.size(), 4242, &base, &lat, &dup), MQ_OK);
    EXPECT_EQ(lat, 4242);
    ASSERT_EQ(part_append_idem(p, copy.data(), copy.size(), 9999, &base, &lat, &dup), MQ_OK);
    EXPECT_EQ(dup, 1);
    EXPECT_EQ(lat, 4242);
    part_close(p);
    // Rebuilt from the log: the stored max timestamp is the append time.
    ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    Bytes again = idem_batch(2, 3, 0, 0, 1);
    ASSERT_EQ(part_append_idem(p, again.data(), again.size(), 7777, &base, &lat, &dup), MQ_OK);
    EXPECT_EQ(dup, 1);
    EXPECT_EQ(base, 0);
    EXPECT_EQ(lat, 4242);
    part_close(p);
}

TEST_F(ProducerRecovery, ReopenRebuildsEveryProducer)
{
    part_t *p;
    ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    ASSERT_NO_FATAL_FAILURE(fill(p));
    part_close(p);
    ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    int64_t end = stats(p).log_end_offset;
    for (int64_t pid = 0; pid < 3; pid++) {
        const Sent &s = last_of(pid);
        Bytes b = idem_batch(s.count, pid, 0, s.seq, 0);
        int64_t base = -1;
        int dup = 0;
        ASSERT_EQ(part_append_idem(p, b.data(), b.size(), 6000, &base, nullptr, &dup), MQ_OK)
            << "producer " << pid;
        EXPECT_EQ(dup, 1) << "producer " << pid;
        EXPECT_EQ(base, s.base) << "producer " << pid;
    }
    EXPECT_EQ(stats(p).log_end_offset, end);
    // And each goes on in sequence.
    Bytes next = idem_batch(1, 0, 0, next_seq[0], 99);
    int64_t base = -1;
    ASSERT_EQ(part_append_idem(p, next.data(), next.size(), 6000, &base, nullptr, nullptr), MQ_OK);
    EXPECT_EQ(base, end);
    part_close(p);
}

TEST_F(ProducerRecovery, OnlyTheTailWindowIsScanned)
{
    part_t *p;
    ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    ASSERT_NO_FATAL_FAILURE(fill(p));
    part_close(p);

    // Everything: all three producers are known.
    partition_producers_t *pp = rebuild(tmp.part_dir(), UINT64_MAX);
    producer_batch_ref_t ref;
    for (int64_t pid = 0; pid < 3; pid++) {
        ASSERT_EQ(check_last(pp, pid, &ref), PRODUCER_CHECK_DUPLICATE) << pid;
        EXPECT_EQ(ref.base_offset, last_of(pid).base);
    }
    EXPECT_EQ(producers_count(pp), 3u);
    partition_producers_free(pp);

    // A small window (inside the active segment): only the producers that
    // wrote at the end are known; producer 0 wrote long before.
    pp = rebuild(tmp.part_dir(), 2048);
    EXPECT_EQ(check_last(pp, 0, &ref), PRODUCER_CHECK_UNKNOWN);
    EXPECT_EQ(check_last(pp, 1, &ref), PRODUCER_CHECK_DUPLICATE);
    EXPECT_EQ(ref.base_offset, last_of(1).base);
    EXPECT_EQ(check_last(pp, 2, &ref), PRODUCER_CHECK_DUPLICATE);
    EXPECT_EQ(producers_count(pp), 2u);
    partition_producers_free(pp);

    // No window: still the whole active segment (a log that never rolled
    // has no snapshot), where only producers 1 and 2 wrote.
    pp = rebuild(tmp.part_dir(), 0);
    EXPECT_EQ(check_last(pp, 0, &ref), PRODUCER_CHECK_UNKNOWN);
    EXPECT_EQ(producers_count(pp), 2u);
    partition_producers_free(pp);
}

// Snapshot files in a partition directory, by offset.
std::vector<int64_t> snapshots(const std::string &dir)
{
    std::vector<int64_t> v;
    for (auto &e : std::filesystem::directory_iterator(dir)) {
        std::string name = e.path().filename().string();
        if (name.size() == 30 && name.substr(20) == ".producers")
            v.push_back(std::stoll(name.substr(0, 20)));
    }
    std::sort(v.begin(), v.end());
    return v;
}

std::string snapshot_path(const std::string &dir, int64_t offset)
{
    char name[48];
    snprintf(name, sizeof(name), "/%020lld.producers", (long long)offset);
    return dir + name;
}

TEST_F(ProducerRecovery, SnapshotsAtRollAndCloseKeepEveryProducer)
{
    int64_t end = fill_closed();
    ASSERT_FALSE(HasFailure());
    // One at close (the log end) and, of the rolls', the newest before it.
    std::vector<int64_t> snaps = snapshots(tmp.part_dir());
    ASSERT_EQ(snaps.size(), 2u);
    EXPECT_EQ(snaps[1], end);
    EXPECT_GT(snaps[0], 0);

    // As after a crash: no snapshot at the end. The roll's snapshot plus
    // the active segment know all three producers, with no window at all
    // (producer 0 wrote only long before the active segment).
    std::filesystem::remove(snapshot_path(tmp.part_dir(), end));
    int64_t from = -1;
    partition_producers_t *pp = rebuild(tmp.part_dir(), 0, true, &from);
    EXPECT_EQ(from, snaps[0]);
    producer_batch_ref_t ref;
    for (int64_t pid = 0; pid < 3; pid++) {
        ASSERT_EQ(check_last(pp, pid, &ref), PRODUCER_CHECK_DUPLICATE) << pid;
        EXPECT_EQ(ref.base_offset, last_of(pid).base);
    }
    // Its older batches too, up to five per producer: producer 1's fifth
    // newest came before the roll the snapshot is for.
    std::vector<Sent> of1;
    for (const Sent &s : sent)
        if (s.pid == 1)
            of1.push_back(s);
    const Sent &fifth = of1[of1.size() - 5];
    ASSERT_LT(fifth.base, from);
    EXPECT_EQ(producers_check(pp, 1, 0, fifth.seq, fifth.count, &ref), PRODUCER_CHECK_DUPLICATE);
    EXPECT_EQ(ref.base_offset, fifth.base);
    partition_producers_free(pp);

    // And part_open does the same.
    part_t *p;
    ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    const Sent &s0 = last_of(0);
    Bytes retry = idem_batch(s0.count, 0, 0, s0.seq, 0);
    int64_t base = -1;
    int dup = 0;
    ASSERT_EQ(part_append_idem(p, retry.data(), retry.size(), 6000, &base, nullptr, &dup), MQ_OK);
    EXPECT_EQ(dup, 1);
    EXPECT_EQ(base, s0.base);
    part_close(p);
}

TEST_F(ProducerRecovery, DamagedOrStaleSnapshotsAreSkipped)
{
    int64_t end = fill_closed();
    ASSERT_FALSE(HasFailure());
    std::vector<int64_t> snaps = snapshots(tmp.part_dir());
    ASSERT_EQ(snaps.size(), 2u);

    // The newest one damaged (a byte of its body flipped), one past the log
    // end (a log cut back after it was written) and a temporary file a
    // crash left: the older snapshot is used, the others are removed.
    std::string newest = snapshot_path(tmp.part_dir(), end);
    {
        std::fstream f(newest, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(-3, std::ios::end);
        f.put('\x5a');
    }
    std::filesystem::copy_file(newest, snapshot_path(tmp.part_dir(), end + 100));
    std::ofstream(snapshot_path(tmp.part_dir(), end + 5) + ".tmp") << "partial";
    int64_t from = -1;
    partition_producers_t *pp = rebuild(tmp.part_dir(), 0, true, &from);
    EXPECT_EQ(from, snaps[0]);
    producer_batch_ref_t ref;
    for (int64_t pid = 0; pid < 3; pid++)
        EXPECT_EQ(check_last(pp, pid, &ref), PRODUCER_CHECK_DUPLICATE) << pid;
    partition_producers_free(pp);
    EXPECT_FALSE(std::filesystem::exists(snapshot_path(tmp.part_dir(), end + 100)));
    EXPECT_FALSE(std::filesystem::exists(snapshot_path(tmp.part_dir(), end + 5) + ".tmp"));

    // Garbage of every length where a snapshot should be: skipped, never a
    // crash; with nothing usable the log's tail is replayed.
    std::string good;
    {
        std::ifstream f(snapshot_path(tmp.part_dir(), snaps[0]), std::ios::binary);
        good.assign(std::istreambuf_iterator<char>(f), {});
    }
    for (size_t cut = 0; cut < good.size(); cut += 7) {
        std::ofstream(snapshot_path(tmp.part_dir(), snaps[0]), std::ios::binary | std::ios::trunc)
            << good.substr(0, cut);
        pp = rebuild(tmp.part_dir(), UINT64_MAX, true, &from);
        EXPECT_EQ(from, -1) << "cut at " << cut;
        EXPECT_EQ(producers_count(pp), 3u);
        partition_producers_free(pp);
    }
}

ssize_t disk_full(int, const void *, size_t, off_t)
{
    errno = ENOSPC;
    return -1;
}

TEST_F(ProducerRecovery, FullDiskKeepsTheSnapshotsThereWere)
{
    int64_t end = fill_closed();
    ASSERT_FALSE(HasFailure());
    std::vector<int64_t> before = snapshots(tmp.part_dir());

    partition_producers_t *pp = rebuild(tmp.part_dir(), 0, true);
    uint8_t *body;
    size_t len;
    ASSERT_EQ(producers_encode(pp, &body, &len), MQ_OK);
    int dfd = open(tmp.part_dir().c_str(), O_RDONLY | O_DIRECTORY);
    part_io_pwrite = disk_full;
    EXPECT_EQ(psnap_write(tmp.part_dir().c_str(), dfd, end + 10, body, len), MQ_ERR_STORAGE);
    part_io_pwrite = pwrite;
    close(dfd);
    free(body);
    partition_producers_free(pp);
    EXPECT_EQ(snapshots(tmp.part_dir()), before) << "older snapshots kept, none half-written";
    for (auto &e : std::filesystem::directory_iterator(tmp.part_dir()))
        EXPECT_NE(e.path().extension(), ".tmp") << "temporary file left: " << e.path();
}

// Without rolls a snapshot still follows every PSNAP_INTERVAL_BYTES (64
// MiB) appended, so a crash replays no more than that.
TEST_F(ProducerRecovery, SnapshotEveryIntervalBoundsTheReplay)
{
    cfg.segment_bytes = 1LL << 30;
    part_t *p;
    ASSERT_EQ(part_open(tmp.part_dir().c_str(), &cfg, &p), MQ_OK);
    ASSERT_NO_FATAL_FAILURE(produce(p, 0, 2));
    Bytes big = make_batch(32, 16384, 1000); // 512 KiB, no producer id
    int64_t base, lat;
    for (int i = 0; i < 132; i++)
        ASSERT_EQ(part_append(p, big.data(), big.size(), 5000, &base, &lat), MQ_OK);
    ASSERT_NO_FATAL_FAILURE(produce(p, 1, 1));
    int64_t end = stats(p).log_end_offset;
    // Written by a thread of its own: wait for it.
    std::vector<int64_t> snaps;
    for (int i = 0; i < 500 && (snaps = snapshots(tmp.part_dir())).empty(); i++)
        usleep(10000);
    ASSERT_EQ(snaps.size(), 1u);
    EXPECT_GT(snaps[0], 0);
    EXPECT_LT(snaps[0], end);
    part_close(p);

    // As after a crash: the periodic snapshot plus the batches after it.
    std::filesystem::remove(snapshot_path(tmp.part_dir(), end));
    int64_t from = -1;
    partition_producers_t *pp = rebuild(tmp.part_dir(), 0, true, &from, 1);
    EXPECT_EQ(from, snaps[0]);
    producer_batch_ref_t ref;
    EXPECT_EQ(check_last(pp, 0, &ref), PRODUCER_CHECK_DUPLICATE);
    EXPECT_EQ(check_last(pp, 1, &ref), PRODUCER_CHECK_DUPLICATE);
    partition_producers_free(pp);
}

} // namespace
