// The metadata thread against a real temp data dir (no network): create,
// alter, list, delete, errors with their messages, reload after a restart,
// crash debris cleanup, grouped jobs, deletes waiting for references, and
// the schema version.
#include <gtest/gtest.h>

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "config.h"
#include "log.h"
#include "meta.h"
#include "producers.h"
#include "topics.h"
}

namespace
{

// Collects completions (they run on the metadata thread: reply_loop NULL).
struct Waiter {
    std::mutex mu;
    std::condition_variable cv;
    int done = 0;
    std::vector<meta_result_t> results;

    static void cb(loop_t *, void *arg, const meta_result_t *res)
    {
        Waiter *w = (Waiter *)arg;
        std::lock_guard<std::mutex> g(w->mu);
        w->results.push_back(*res);
        w->done++;
        w->cv.notify_all();
    }
    static void simple_cb(loop_t *, void *arg, mq_err_t err)
    {
        meta_result_t r = {};
        r.err = err;
        cb(nullptr, arg, &r);
    }
    bool wait(int n, int ms = 10000)
    {
        std::unique_lock<std::mutex> g(mu);
        return cv.wait_for(g, std::chrono::milliseconds(ms), [&] { return done >= n; });
    }
};

bool exists(const std::string &p)
{
    struct stat st;
    return stat(p.c_str(), &st) == 0;
}

struct Meta : ::testing::Test {
    broker_config_t cfg;
    std::string dir;
    bool started = false;

    void SetUp() override
    {
        g_log_level = LOG_WARN;
        char tmpl[] = "/tmp/mq-test-meta-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir = tmpl;
        config_defaults(&cfg);
        snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s/data", dir.c_str());
        cfg.max_partitions = 64;
    }
    void TearDown() override
    {
        stop();
        std::string cmd = "rm -rf '" + dir + "'";
        ASSERT_EQ(system(cmd.c_str()), 0);
    }
    void start()
    {
        ASSERT_EQ(meta_start(&cfg), MQ_OK);
        started = true;
    }
    void stop()
    {
        if (started)
            meta_stop();
        started = false;
    }
    meta_result_t create(const char *name, int32_t parts, const char *config = nullptr)
    {
        Waiter w;
        meta_create_topic_ex(name, parts, config, nullptr, Waiter::cb, &w);
        EXPECT_TRUE(w.wait(1));
        return w.results.at(0);
    }
    meta_result_t alter(const char *name, const char *config)
    {
        Waiter w;
        meta_alter_topic(name, config, nullptr, Waiter::cb, &w);
        EXPECT_TRUE(w.wait(1));
        return w.results.at(0);
    }
    meta_result_t remove(const char *name)
    {
        Waiter w;
        meta_delete_topic(name, nullptr, Waiter::cb, &w);
        EXPECT_TRUE(w.wait(1));
        return w.results.at(0);
    }
    std::string data(const std::string &rel = "")
    {
        return std::string(cfg.data_dir) + (rel.empty() ? "" : "/" + rel);
    }
};

TEST_F(Meta, CreateOpensPartitionsAndPublishes)
{
    start();
    EXPECT_TRUE(exists(data("meta.db")));
    meta_result_t r = create("orders", 3);
    ASSERT_EQ(r.err, MQ_OK) << r.message;
    topic_t *t = topics_get("orders");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->partition_count, 3);
    for (int i = 0; i < 3; i++) {
        ASSERT_NE(t->parts[i], nullptr);
        part_stats_t st;
        part_get_stats(t->parts[i], &st);
        EXPECT_EQ(st.log_start_offset, 0);
        EXPECT_EQ(st.log_end_offset, 0);
        EXPECT_TRUE(exists(data("orders/" + std::to_string(i))));
    }
    EXPECT_EQ(t->cfg.retention_ms, cfg.log.retention_ms);
    EXPECT_GT(t->created_ms, 0);
    topic_release(t);
    EXPECT_EQ(topics_count(), 1);
}

TEST_F(Meta, CreateErrorsNameTheProblem)
{
    start();
    ASSERT_EQ(create("dup", 1).err, MQ_OK);
    meta_result_t r = create("dup", 2);
    EXPECT_EQ(r.err, MQ_ERR_TOPIC_EXISTS);
    EXPECT_STREQ(r.message, "topic 'dup' already exists");

    r = create("bad/name", 1);
    EXPECT_EQ(r.err, MQ_ERR_INVALID_TOPIC);
    EXPECT_NE(strstr(r.message, "'bad/name'"), nullptr) << r.message;
    EXPECT_EQ(create("..", 1).err, MQ_ERR_INVALID_TOPIC);
    EXPECT_EQ(create(std::string(250, 'a').c_str(), 1).err, MQ_ERR_INVALID_TOPIC);

    r = create("p0", 0);
    EXPECT_EQ(r.err, MQ_ERR_INVALID_PARTITIONS);
    EXPECT_STREQ(r.message, "partitions must be between 1 and 64");
    EXPECT_EQ(create("p65", 65).err, MQ_ERR_INVALID_PARTITIONS);
    EXPECT_EQ(create("pneg", -3).err, MQ_ERR_INVALID_PARTITIONS);

    r = create("c1", 1, "{\"no.such.key\":\"1\"}");
    EXPECT_EQ(r.err, MQ_ERR_INVALID_CONFIG);
    EXPECT_NE(strstr(r.message, "no.such.key"), nullptr) << r.message;
    r = create("c2", 1, "{\"retention.ms\":\"soon\"}");
    EXPECT_EQ(r.err, MQ_ERR_INVALID_CONFIG);
    EXPECT_NE(strstr(r.message, "retention.ms"), nullptr) << r.message;
    r = create("c3", 1, "{\"retention.ms\":[1]}");
    EXPECT_EQ(r.err, MQ_ERR_INVALID_CONFIG);
    r = create("c4", 1, "{\"retention.ms\":1.5}");
    EXPECT_EQ(r.err, MQ_ERR_INVALID_CONFIG);
    r = create("c5", 1, "[1,2]");
    EXPECT_EQ(r.err, MQ_ERR_INVALID_CONFIG);

    // Nothing of the failed creates is left behind.
    EXPECT_EQ(topics_count(), 1);
    for (const char *n : {"p0", "p65", "c1", "c2", "c3", "c4", "c5"})
        EXPECT_FALSE(exists(data(n))) << n;
}

TEST_F(Meta, ConfigsApplyAndAlterMerges)
{
    start();
    meta_result_t r = create("cfg", 2,
                             "{\"retention.ms\":60000,\"segment.bytes\":\"1048576\",\"message."
                             "timestamp.type\":\"LogAppendTime\"}");
    ASSERT_EQ(r.err, MQ_OK) << r.message;
    topic_t *t = topics_get("cfg");
    ASSERT_NE(t, nullptr);
    log_config_t lc;
    char *json = nullptr;
    topic_get_config(t, &lc, &json);
    EXPECT_EQ(lc.retention_ms, 60000);
    EXPECT_EQ(lc.segment_bytes, 1048576);
    EXPECT_EQ(lc.message_timestamp_log_append, 1);
    EXPECT_EQ(lc.retention_bytes, cfg.log.retention_bytes);
    free(json);

    // Alter: set one key, drop another (null), keep the third.
    r = alter("cfg", "{\"retention.bytes\":1000000,\"retention.ms\":null}");
    ASSERT_EQ(r.err, MQ_OK) << r.message;
    topic_get_config(t, &lc, &json);
    EXPECT_EQ(lc.retention_bytes, 1000000);
    EXPECT_EQ(lc.retention_ms, cfg.log.retention_ms);
    EXPECT_EQ(lc.segment_bytes, 1048576);
    EXPECT_EQ(strstr(json, "retention.ms\""), nullptr) << json;
    EXPECT_NE(strstr(json, "segment.bytes"), nullptr) << json;
    free(json);

    r = alter("cfg", "{\"segment.bytes\":\"-5\"}");
    EXPECT_EQ(r.err, MQ_ERR_INVALID_CONFIG);
    topic_get_config(t, &lc, nullptr);
    EXPECT_EQ(lc.segment_bytes, 1048576); // unchanged
    topic_release(t);

    r = alter("nope", "{}");
    EXPECT_EQ(r.err, MQ_ERR_UNKNOWN_TOPIC);
    EXPECT_STREQ(r.message, "topic 'nope' does not exist");
}

TEST_F(Meta, DeleteRemovesRowAndFiles)
{
    start();
    ASSERT_EQ(create("gone", 2).err, MQ_OK);
    ASSERT_EQ(create("kept", 1).err, MQ_OK);
    ASSERT_TRUE(exists(data("gone/1")));
    meta_result_t r = remove("gone");
    ASSERT_EQ(r.err, MQ_OK) << r.message;
    EXPECT_EQ(topics_get("gone"), nullptr);
    EXPECT_FALSE(exists(data("gone")));
    r = remove("gone");
    EXPECT_EQ(r.err, MQ_ERR_UNKNOWN_TOPIC);
    EXPECT_STREQ(r.message, "topic 'gone' does not exist");
    // Re-creating the name starts empty.
    ASSERT_EQ(create("gone", 1).err, MQ_OK);
    stop();
    start();
    topic_t *t = topics_get("gone");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->partition_count, 1);
    topic_release(t);
}

TEST_F(Meta, TopicsSurviveRestart)
{
    start();
    ASSERT_EQ(create("a", 1).err, MQ_OK);
    ASSERT_EQ(create("b", 4, "{\"retention.ms\":\"12345\"}").err, MQ_OK);
    ASSERT_EQ(create("c", 2).err, MQ_OK);
    ASSERT_EQ(remove("c").err, MQ_OK);
    int64_t created_b;
    {
        topic_t *t = topics_get("b");
        created_b = t->created_ms;
        topic_release(t);
    }
    stop();
    EXPECT_EQ(topics_count(), 0);

    start();
    EXPECT_EQ(topics_count(), 2);
    topic_t *b = topics_get("b");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->partition_count, 4);
    EXPECT_EQ(b->created_ms, created_b);
    log_config_t lc;
    topic_get_config(b, &lc, nullptr);
    EXPECT_EQ(lc.retention_ms, 12345);
    for (int i = 0; i < 4; i++)
        EXPECT_NE(b->parts[i], nullptr);
    topic_release(b);
    EXPECT_EQ(topics_get("c"), nullptr);
    EXPECT_FALSE(exists(data("c")));
}

TEST_F(Meta, CrashDebrisIsRemovedOnStart)
{
    start();
    ASSERT_EQ(create("real", 1).err, MQ_OK);
    stop();
    // A topic dir without a row (crash mid-create) and a directory that is
    // not ours (it holds a non-partition file).
    ASSERT_EQ(mkdir(data("ghost").c_str(), 0755), 0);
    ASSERT_EQ(mkdir(data("ghost/0").c_str(), 0755), 0);
    FILE *f = fopen(data("ghost/0/00000000000000000000.log").c_str(), "w");
    ASSERT_NE(f, nullptr);
    fclose(f);
    ASSERT_EQ(mkdir(data("notes").c_str(), 0755), 0);
    f = fopen(data("notes/readme.txt").c_str(), "w");
    ASSERT_NE(f, nullptr);
    fclose(f);

    start();
    EXPECT_FALSE(exists(data("ghost")));
    EXPECT_TRUE(exists(data("notes/readme.txt")));
    EXPECT_EQ(topics_get("ghost"), nullptr);
    topic_t *t = topics_get("real");
    EXPECT_NE(t, nullptr);
    topic_release(t);
}

TEST_F(Meta, MissingPartitionDirIsRecreated)
{
    start();
    ASSERT_EQ(create("t", 2).err, MQ_OK);
    stop();
    std::string cmd = "rm -rf '" + data("t/1") + "'";
    ASSERT_EQ(system(cmd.c_str()), 0);
    start();
    topic_t *t = topics_get("t");
    ASSERT_NE(t, nullptr);
    EXPECT_NE(t->parts[1], nullptr);
    EXPECT_TRUE(exists(data("t/1")));
    topic_release(t);
}

TEST_F(Meta, ManyJobsQueuedAtOnce)
{
    start();
    Waiter w;
    const int n = 40;
    std::vector<std::string> names;
    for (int i = 0; i < n; i++)
        names.push_back("bulk-" + std::to_string(i));
    for (auto &name : names)
        meta_create_topic(name.c_str(), 1, nullptr, Waiter::simple_cb, &w);
    // The same name twice in one burst: exactly one wins.
    meta_create_topic("twice", 1, nullptr, Waiter::simple_cb, &w);
    meta_create_topic("twice", 1, nullptr, Waiter::simple_cb, &w);
    ASSERT_TRUE(w.wait(n + 2));
    int ok = 0, exists_err = 0;
    for (auto &r : w.results) {
        ok += r.err == MQ_OK;
        exists_err += r.err == MQ_ERR_TOPIC_EXISTS;
    }
    EXPECT_EQ(ok, n + 1);
    EXPECT_EQ(exists_err, 1);
    EXPECT_EQ(topics_count(), n + 1);
}

TEST_F(Meta, DeleteWaitsForReferences)
{
    start();
    ASSERT_EQ(create("held", 1).err, MQ_OK);
    topic_t *ref = topics_get("held");
    ASSERT_NE(ref, nullptr);
    Waiter w;
    meta_delete_topic("held", nullptr, Waiter::cb, &w);
    // Unpublished at once, but not destroyed while the reference is held.
    EXPECT_FALSE(w.wait(1, 300));
    EXPECT_EQ(topics_get("held"), nullptr);
    EXPECT_TRUE(exists(data("held/0")));
    part_stats_t st;
    part_get_stats(ref->parts[0], &st); // still usable
    topic_release(ref);
    ASSERT_TRUE(w.wait(1));
    EXPECT_EQ(w.results[0].err, MQ_OK);
    EXPECT_FALSE(exists(data("held")));
}

TEST_F(Meta, JobsAfterStopAreRefused)
{
    start();
    stop();
    Waiter w;
    meta_create_topic("late", 1, nullptr, Waiter::simple_cb, &w);
    ASSERT_TRUE(w.wait(1));
    EXPECT_EQ(w.results[0].err, MQ_ERR_SHUTTING_DOWN);
}

TEST_F(Meta, SchemaVersionIsRecordedAndChecked)
{
    start();
    stop();
    sqlite3 *db = nullptr;
    ASSERT_EQ(sqlite3_open(data("meta.db").c_str(), &db), SQLITE_OK);
    sqlite3_stmt *st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version", -1, &st, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(st, 0), 2); // topics, producer ids
    sqlite3_finalize(st);
    sqlite3_stmt *jm = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &jm, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(jm), SQLITE_ROW);
    EXPECT_STREQ((const char *)sqlite3_column_text(jm, 0), "wal");
    sqlite3_finalize(jm);
    // A db from a newer broker is refused rather than misread.
    ASSERT_EQ(
        sqlite3_exec(db, "INSERT INTO schema_version VALUES(99, 0)", nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(db);
    EXPECT_EQ(meta_start(&cfg), MQ_ERR_STORAGE);
    // And a second meta_start while running is refused.
    ASSERT_EQ(system(("rm -f '" + data("meta.db") + "'*").c_str()), 0);
    start();
    EXPECT_EQ(meta_start(&cfg), MQ_ERR_INVALID_ARG);
}

TEST_F(Meta, ProducerIdsAreReservedInBlocksAndNeverReused)
{
    start();
    int64_t first = -1, pid = -1;
    int16_t epoch = -1;
    ASSERT_EQ(meta_init_producer_id(-1, -1, &first, &epoch), MQ_OK);
    EXPECT_EQ(epoch, 0);
    // Many ids, more than one block: the allocator never waits long and
    // never repeats an id.
    int exhausted = 0;
    int64_t last = first;
    for (int i = 0; i < 2500; i++) {
        mq_err_t err = meta_init_producer_id(-1, -1, &pid, &epoch);
        if (err == PRODUCER_IDS_EXHAUSTED) {
            exhausted++;
            Waiter w;
            meta_reserve_producer_ids(nullptr, Waiter::simple_cb, &w);
            ASSERT_TRUE(w.wait(1));
            ASSERT_EQ(w.results[0].err, MQ_OK);
            i--;
            continue;
        }
        ASSERT_EQ(err, MQ_OK);
        ASSERT_EQ(pid, last + 1);
        last = pid;
    }
    EXPECT_LT(exhausted, 5) << "background reservations should keep ahead";
    // Bumping an epoch writes nothing and needs no reservation.
    ASSERT_EQ(meta_init_producer_id(first, 0, &pid, &epoch), MQ_OK);
    EXPECT_EQ(pid, first);
    EXPECT_EQ(epoch, 1);
    stop();

    // meta.db holds a reservation past every id handed out, in a few
    // writes (one row), and a restart goes on after it.
    sqlite3 *db = nullptr;
    ASSERT_EQ(sqlite3_open(data("meta.db").c_str(), &db), SQLITE_OK);
    sqlite3_stmt *st = nullptr;
    ASSERT_EQ(
        sqlite3_prepare_v2(db, "SELECT count(*), max(next_id) FROM producer_ids", -1, &st, nullptr),
        SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(st, 0), 1);
    int64_t reserved = sqlite3_column_int64(st, 1);
    EXPECT_GT(reserved, last);
    sqlite3_finalize(st);
    sqlite3_close(db);
    start();
    ASSERT_EQ(meta_init_producer_id(-1, -1, &pid, &epoch), MQ_OK);
    EXPECT_GE(pid, reserved);
    // An id from before the restart: its epoch is trusted and bumped.
    ASSERT_EQ(meta_init_producer_id(first, 1, &pid, &epoch), MQ_OK);
    EXPECT_EQ(pid, first);
    EXPECT_EQ(epoch, 2);
}

} // namespace
