/* The metadata thread: owns the sqlite3 connection to <data>/meta.db.
 *
 * Callers queue jobs; the thread takes every job queued so far, runs them in
 * one transaction (a savepoint each, so one bad job does not undo the
 * others), commits, and only then applies them to the registry and the
 * partitions and posts each completion to the caller's loop. The row in
 * meta.db is the source of truth for a topic: a topic directory without a row
 * (a crash during a create, or during a delete after the row went) is removed
 * on start.
 *
 * Durability: synchronous=FULL. Topic changes are rare and a client told
 * "created" must still find the topic after a power loss; since jobs are
 * grouped per tick, later high-rate tables (committed offsets) also pay one
 * fsync per tick, not per row. */
#include "meta.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "producers.h"
#include "topics.h"

enum { JOB_CREATE, JOB_ALTER, JOB_DELETE, JOB_PRODUCER_IDS };

typedef struct job {
    struct job *next;
    int kind;
    char *name;
    int32_t partitions;
    char *config_json; /* request (create/alter), then the normalized overrides */
    loop_t *reply_loop;
    void (*done_simple)(loop_t *loop, void *arg, mq_err_t err);
    meta_done_cb done;
    meta_sql_fn sql_fn; /* JOB_SQL: another subsystem's statements */
    void *arg;
    meta_result_t res;
    topic_t *topic;   /* create: the new topic; alter/delete: the target */
    log_config_t cfg; /* alter: the new effective config */
    /* producer ids: the reservation written, 0 if none */
    int64_t pid_limit;
} job_t;

/* Jobs of other subsystems (meta_run_sql), apart from the topic jobs. */
#define JOB_SQL 100

/* How long a delete waits for in-flight requests to drop their reference. */
#define DELETE_WAIT_MS 30000

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    job_t *head, *tail;
    int running; /* thread started and accepting jobs */
    int stopping;
    pthread_t thread;
    sqlite3 *db;
    broker_config_t cfg;
    /* Producer ids: handed out in memory, reserved in meta.db in blocks. */
    producer_ids_t *pids;
    int64_t pid_reserved; /* metadata thread: the reservation last written */
    int pid_reserving;    /* atomic: a background reservation is queued */
    /* Startup handshake. */
    int loaded;
    mq_err_t load_err;
} M = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

/* Schema migrations: entry i brings the schema from version i to i+1. Later
 * issues append (offsets, groups, producer ids, ACLs); never edit one that
 * shipped. */
static const char *const MIGRATIONS[] = {
    "CREATE TABLE topics ("
    "  name TEXT PRIMARY KEY,"
    "  partitions INTEGER NOT NULL CHECK (partitions > 0),"
    "  config TEXT NOT NULL DEFAULT '{}',"
    "  created_ms INTEGER NOT NULL"
    ") WITHOUT ROWID;",
    /* One row: ids below next_id may have been handed out (reserved in
     * blocks of PRODUCER_ID_BLOCK, so not written per InitProducerId). */
    "CREATE TABLE producer_ids ("
    "  id INTEGER PRIMARY KEY CHECK (id = 0),"
    "  next_id INTEGER NOT NULL"
    ");",
};
#define SCHEMA_VERSION ((int)(sizeof(MIGRATIONS) / sizeof(MIGRATIONS[0])))

static void set_result(job_t *j, mq_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_result(job_t *j, mq_err_t err, const char *fmt, ...)
{
    j->res.err = err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->res.message, sizeof(j->res.message), fmt, ap);
    va_end(ap);
}

/* ---- small helpers ---- */

static int64_t now_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = (flag == FTW_DP) ? rmdir(path) : unlink(path);
    if (rc != 0 && errno != ENOENT)
        log_warn("\"cannot remove\" path=%s errno=%d", path, errno);
    return 0;
}

static void remove_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void topic_dir(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", M.cfg.data_dir, name);
}

static int exec_sql(const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(M.db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_error("\"meta.db statement failed\" sql=\"%.60s\" error=\"%s\"", sql,
                  msg ? msg : sqlite3_errmsg(M.db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Applies a JSON object of topic keys over base. Values may be strings,
 * numbers or (when allow_null) null = drop the override. On success *out is
 * the effective config and, if norm is not NULL, *norm the overrides as a
 * JSON object of strings (merged over `existing` when given). */
static mq_err_t apply_configs(const char *json, const char *existing, log_config_t *out,
                              char **norm, char *err, size_t errlen, int allow_null)
{
    cJSON *req = json ? cJSON_Parse(json) : cJSON_CreateObject();
    cJSON *merged = existing ? cJSON_Parse(existing) : cJSON_CreateObject();
    mq_err_t rc = MQ_OK;
    if (!merged || !cJSON_IsObject(merged)) {
        cJSON_Delete(merged);
        merged = cJSON_CreateObject();
    }
    if (!req || !cJSON_IsObject(req)) {
        snprintf(err, errlen, "config must be a JSON object");
        rc = MQ_ERR_INVALID_CONFIG;
        goto out;
    }
    cJSON *it;
    cJSON_ArrayForEach(it, req)
    {
        char num[64];
        const char *val = NULL;
        if (cJSON_IsString(it)) {
            val = it->valuestring;
        } else if (cJSON_IsNumber(it)) {
            double d = it->valuedouble;
            if (d != (double)(int64_t)d) {
                snprintf(err, errlen, "config '%s' must be an integer", it->string);
                rc = MQ_ERR_INVALID_CONFIG;
                goto out;
            }
            snprintf(num, sizeof(num), "%" PRId64, (int64_t)d);
            val = num;
        } else if (cJSON_IsNull(it) && allow_null) {
            cJSON_DeleteItemFromObjectCaseSensitive(merged, it->string);
            continue;
        } else {
            snprintf(err, errlen, "config '%s' must be a string or a number", it->string);
            rc = MQ_ERR_INVALID_CONFIG;
            goto out;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(merged, it->string);
        cJSON_AddItemToObject(merged, it->string, cJSON_CreateString(val));
    }
    /* Rebuild from the broker defaults so the effective config is exactly
     * defaults + overrides, whatever was set before. */
    log_config_t cfg = M.cfg.log;
    cJSON_ArrayForEach(it, merged)
    {
        if (!cJSON_IsString(it)) {
            snprintf(err, errlen, "config '%s' must be a string", it->string);
            rc = MQ_ERR_INVALID_CONFIG;
            goto out;
        }
        char msg[256] = "";
        if (config_set_topic_key(&cfg, it->string, it->valuestring, msg, sizeof(msg)) != 0) {
            snprintf(err, errlen, "%s", msg[0] ? msg : "invalid topic config");
            rc = MQ_ERR_INVALID_CONFIG;
            goto out;
        }
    }
    *out = cfg;
    if (norm) {
        *norm = cJSON_PrintUnformatted(merged);
        if (!*norm)
            rc = MQ_ERR_NO_MEMORY;
    }
out:
    cJSON_Delete(req);
    cJSON_Delete(merged);
    return rc;
}

/* Opens every partition of t under <data>/<name>/<i>. */
static mq_err_t open_partitions(topic_t *t)
{
    char dir[4400];
    topic_dir(dir, sizeof(dir), t->name);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        log_error("\"cannot create topic dir\" path=%s errno=%d", dir, errno);
        return MQ_ERR_STORAGE;
    }
    for (int32_t i = 0; i < t->partition_count; i++) {
        char pdir[4500];
        snprintf(pdir, sizeof(pdir), "%s/%d", dir, i);
        mq_err_t err = part_open(pdir, &t->cfg, &t->parts[i]);
        if (err != MQ_OK) {
            log_error("\"cannot open partition\" topic=%s partition=%d err=%s", t->name, i,
                      mq_err_name(err));
            return err;
        }
    }
    return MQ_OK;
}

static void close_partitions(topic_t *t)
{
    for (int32_t i = 0; i < t->partition_count; i++) {
        if (t->parts[i])
            part_close(t->parts[i]);
        t->parts[i] = NULL;
    }
}

/* Closes and deletes everything on disk for t (not its row). */
static void destroy_partitions(topic_t *t)
{
    for (int32_t i = 0; i < t->partition_count; i++) {
        if (t->parts[i] && part_destroy(t->parts[i]) != MQ_OK)
            log_warn("\"cannot remove partition\" topic=%s partition=%d", t->name, i);
        t->parts[i] = NULL;
    }
    char dir[4400];
    topic_dir(dir, sizeof(dir), t->name);
    remove_tree(dir);
}

/* ---- jobs: prepare (inside the transaction), then finish or undo ---- */

static void prepare_create(job_t *j)
{
    if (topics_validate_name(j->name) != MQ_OK) {
        set_result(j, MQ_ERR_INVALID_TOPIC,
                   "topic name '%.260s' is invalid: use 1 to %d characters from [a-zA-Z0-9._-], "
                   "not '.' or '..'",
                   j->name, TOPIC_NAME_MAX);
        return;
    }
    if (j->partitions < 1 || j->partitions > M.cfg.max_partitions) {
        set_result(j, MQ_ERR_INVALID_PARTITIONS, "partitions must be between 1 and %d",
                   M.cfg.max_partitions);
        return;
    }
    log_config_t cfg;
    char *norm = NULL;
    char msg[400];
    mq_err_t err = apply_configs(j->config_json, NULL, &cfg, &norm, msg, sizeof(msg), 0);
    if (err != MQ_OK) {
        set_result(j, err, "%s", err == MQ_ERR_NO_MEMORY ? "out of memory" : msg);
        return;
    }
    free(j->config_json);
    j->config_json = norm;
    topic_t *existing = topics_get(j->name);
    if (existing) {
        topic_release(existing);
        set_result(j, MQ_ERR_TOPIC_EXISTS, "topic '%s' already exists", j->name);
        return;
    }
    int64_t created = now_wall_ms();
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(M.db,
                       "INSERT INTO topics(name, partitions, config, created_ms) VALUES(?,?,?,?)",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, j->partitions);
    sqlite3_bind_text(st, 3, j->config_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, created);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_CONSTRAINT) {
        set_result(j, MQ_ERR_TOPIC_EXISTS, "topic '%s' already exists", j->name);
        return;
    }
    if (rc != SQLITE_DONE) {
        set_result(j, MQ_ERR_STORAGE, "meta.db insert failed: %s", sqlite3_errmsg(M.db));
        return;
    }
    topic_t *t = topic_new(j->name, j->partitions, &cfg, j->config_json, created);
    if (!t) {
        set_result(j, MQ_ERR_NO_MEMORY, "out of memory");
        return;
    }
    /* A leftover directory has no row (we just inserted it): it is debris of
     * an earlier crash, never data to adopt. */
    char dir[4400];
    struct stat sb;
    topic_dir(dir, sizeof(dir), j->name);
    if (stat(dir, &sb) == 0) {
        log_warn("\"removing stale topic directory before create\" topic=%s", j->name);
        remove_tree(dir);
    }
    err = open_partitions(t);
    if (err != MQ_OK) {
        destroy_partitions(t);
        topic_release(t);
        set_result(j, err, "cannot create the partitions of topic '%s' on disk", j->name);
        return;
    }
    j->topic = t;
}

static void prepare_alter(job_t *j)
{
    topic_t *t = topics_get(j->name);
    if (!t) {
        set_result(j, MQ_ERR_UNKNOWN_TOPIC, "topic '%.260s' does not exist", j->name);
        return;
    }
    char *cur = NULL;
    topic_get_config(t, NULL, &cur);
    char *norm = NULL;
    char msg[400];
    mq_err_t err = apply_configs(j->config_json, cur, &j->cfg, &norm, msg, sizeof(msg), 1);
    free(cur);
    if (err != MQ_OK) {
        topic_release(t);
        set_result(j, err, "%s", err == MQ_ERR_NO_MEMORY ? "out of memory" : msg);
        return;
    }
    free(j->config_json);
    j->config_json = norm;
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(M.db, "UPDATE topics SET config = ? WHERE name = ?", -1, &st, NULL);
    sqlite3_bind_text(st, 1, j->config_json, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, j->name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE || sqlite3_changes(M.db) != 1) {
        topic_release(t);
        set_result(j, MQ_ERR_STORAGE, "meta.db update failed: %s", sqlite3_errmsg(M.db));
        return;
    }
    j->topic = t;
}

static void prepare_delete(job_t *j)
{
    topic_t *t = topics_unpublish(j->name);
    if (!t) {
        set_result(j, MQ_ERR_UNKNOWN_TOPIC, "topic '%.260s' does not exist", j->name);
        return;
    }
    /* New lookups fail from here on; wait for requests in flight. */
    if (topic_wait_sole_ref(t, DELETE_WAIT_MS) != 0) {
        __atomic_store_n(&t->deleting, 0, __ATOMIC_RELEASE);
        topics_publish(t);
        set_result(j, MQ_ERR_TIMED_OUT, "topic '%s' is still in use; try again", j->name);
        return;
    }
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(M.db, "DELETE FROM topics WHERE name = ?", -1, &st, NULL);
    sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        __atomic_store_n(&t->deleting, 0, __ATOMIC_RELEASE);
        topics_publish(t);
        set_result(j, MQ_ERR_STORAGE, "meta.db delete failed: %s", sqlite3_errmsg(M.db));
        return;
    }
    j->topic = t;
}

/* ---- producer ids ---- */

/* Ids reserved per meta.db write; a new block is queued when fewer than
 * half of one are left, so InitProducerId rarely waits for the disk. */
#define PRODUCER_ID_BLOCK 1000

static mq_err_t write_pid_reservation(int64_t next_id)
{
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(M.db,
                       "INSERT INTO producer_ids(id, next_id) VALUES(0, ?) "
                       "ON CONFLICT(id) DO UPDATE SET next_id = max(next_id, excluded.next_id)",
                       -1, &st, NULL);
    sqlite3_bind_int64(st, 1, next_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? MQ_OK : MQ_ERR_STORAGE;
}

static void prepare_producer_ids(job_t *j)
{
    int64_t next = producer_ids_next(M.pids);
    /* Another job of this tick (or an earlier one) already reserved enough. */
    if (M.pid_reserved - next >= PRODUCER_ID_BLOCK / 2)
        return;
    int64_t limit = (M.pid_reserved > next ? M.pid_reserved : next) + PRODUCER_ID_BLOCK;
    if (write_pid_reservation(limit) != MQ_OK) {
        set_result(j, MQ_ERR_STORAGE, "meta.db producer id update failed: %s",
                   sqlite3_errmsg(M.db));
        return;
    }
    M.pid_reserved = j->pid_limit = limit;
}

static void undo_producer_ids(job_t *j, const char *why)
{
    if (j->res.err != MQ_OK)
        return;
    M.pid_reserved = 0; /* unknown: the next job writes from next + a block */
    j->pid_limit = 0;
    set_result(j, MQ_ERR_STORAGE, "meta.db commit failed: %s", why);
}

/* At start (metadata thread, before serving): ids go on from the stored
 * reservation, and the first block is reserved at once. */
static mq_err_t load_producer_ids(void)
{
    sqlite3_stmt *st = NULL;
    int64_t next = 0;
    if (sqlite3_prepare_v2(M.db, "SELECT next_id FROM producer_ids WHERE id = 0", -1, &st, NULL) !=
        SQLITE_OK) {
        log_error("\"cannot read producer ids\" error=\"%s\"", sqlite3_errmsg(M.db));
        return MQ_ERR_STORAGE;
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        next = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    M.pids = producer_ids_new(next);
    if (!M.pids)
        return MQ_ERR_NO_MEMORY;
    if (write_pid_reservation(next + PRODUCER_ID_BLOCK) != MQ_OK) {
        log_error("\"cannot reserve producer ids\" error=\"%s\"", sqlite3_errmsg(M.db));
        return MQ_ERR_STORAGE;
    }
    M.pid_reserved = next + PRODUCER_ID_BLOCK;
    producer_ids_set_limit(M.pids, M.pid_reserved);
    log_info("\"producer ids loaded\" next=%" PRId64 " reserved_to=%" PRId64, next, M.pid_reserved);
    return MQ_OK;
}

static void prepare(job_t *j)
{
    if (j->kind == JOB_SQL) {
        j->sql_fn(M.db, j->arg, &j->res);
        return;
    }
    if (j->kind == JOB_CREATE)
        prepare_create(j);
    else if (j->kind == JOB_PRODUCER_IDS)
        prepare_producer_ids(j);
    else if (j->kind == JOB_ALTER)
        prepare_alter(j);
    else
        prepare_delete(j);
}

/* The transaction committed: make the change visible. */
static void finish(job_t *j)
{
    topic_t *t = j->topic;
    j->topic = NULL;
    if (j->kind == JOB_CREATE) {
        mq_err_t err = topics_publish(t);
        if (err != MQ_OK) { /* cannot happen: only this thread publishes */
            destroy_partitions(t);
            topic_release(t);
            set_result(j, err, "cannot publish topic '%s'", j->name);
            return;
        }
        log_info("\"topic created\" topic=%s partitions=%d config=%s", j->name, j->partitions,
                 j->config_json);
    } else if (j->kind == JOB_ALTER) {
        for (int32_t i = 0; i < t->partition_count; i++)
            part_set_config(t->parts[i], &j->cfg);
        topic_set_config(t, &j->cfg, j->config_json);
        j->config_json = NULL;
        log_info("\"topic altered\" topic=%s config=%s", j->name, t->config_json);
        topic_release(t);
    } else {
        destroy_partitions(t);
        metrics_forget_topic(j->name);
        log_info("\"topic deleted\" topic=%s", j->name);
        topic_release(t);
    }
}

/* The transaction failed: put things back as they were. */
static void undo(job_t *j, const char *why)
{
    topic_t *t = j->topic;
    j->topic = NULL;
    if (j->kind == JOB_CREATE) {
        destroy_partitions(t);
        topic_release(t);
    } else if (j->kind == JOB_ALTER) {
        topic_release(t);
    } else {
        __atomic_store_n(&t->deleting, 0, __ATOMIC_RELEASE);
        topics_publish(t);
    }
    set_result(j, MQ_ERR_STORAGE, "meta.db commit failed: %s", why);
}

/* ---- completion ---- */

static void job_free(job_t *j)
{
    free(j->name);
    free(j->config_json);
    free(j);
}

static void deliver(loop_t *loop, void *arg)
{
    job_t *j = arg;
    if (j->done)
        j->done(loop, j->arg, &j->res);
    else if (j->done_simple)
        j->done_simple(loop, j->arg, j->res.err);
    job_free(j);
}

static void complete(job_t *j)
{
    if (!j->reply_loop) {
        deliver(NULL, j);
        return;
    }
    if (loop_post(j->reply_loop, deliver, j) != 0) {
        log_error("\"cannot post metadata completion\" topic=%s", j->name);
        job_free(j);
    }
}

/* ---- the thread ---- */

static void run_batch(job_t *batch)
{
    int in_txn = exec_sql("BEGIN IMMEDIATE") == 0;
    for (job_t *j = batch; j; j = j->next) {
        if (!in_txn) {
            set_result(j, MQ_ERR_STORAGE, "meta.db is not writable: %s", sqlite3_errmsg(M.db));
            continue;
        }
        exec_sql("SAVEPOINT job");
        prepare(j);
        if (j->res.err != MQ_OK)
            exec_sql("ROLLBACK TO job");
        exec_sql("RELEASE job");
    }
    if (in_txn && exec_sql("COMMIT") != 0) {
        char why[256];
        snprintf(why, sizeof(why), "%s", sqlite3_errmsg(M.db));
        exec_sql("ROLLBACK");
        for (job_t *j = batch; j; j = j->next)
            if (j->kind == JOB_SQL && j->res.err == MQ_OK)
                set_result(j, MQ_ERR_STORAGE, "meta.db commit failed: %s", why);
        for (job_t *j = batch; j; j = j->next)
            if (j->topic)
                undo(j, why);
            else if (j->kind == JOB_PRODUCER_IDS)
                undo_producer_ids(j, why);
    }
    for (job_t *j = batch; j; j = j->next)
        if (j->topic)
            finish(j);
        else if (j->kind == JOB_PRODUCER_IDS && j->res.err == MQ_OK && j->pid_limit)
            producer_ids_set_limit(M.pids, j->pid_limit);
    while (batch) {
        job_t *next = batch->next;
        complete(batch);
        batch = next;
    }
}

static mq_err_t load(void);

static void *meta_thread(void *arg)
{
    (void)arg;
    mq_err_t err = load();
    pthread_mutex_lock(&M.mu);
    M.loaded = 1;
    M.load_err = err;
    pthread_cond_broadcast(&M.cond);
    pthread_mutex_unlock(&M.mu);
    if (err != MQ_OK)
        return NULL;
    for (;;) {
        pthread_mutex_lock(&M.mu);
        while (!M.head && !M.stopping)
            pthread_cond_wait(&M.cond, &M.mu);
        job_t *batch = M.head;
        M.head = M.tail = NULL;
        int stop = M.stopping;
        pthread_mutex_unlock(&M.mu);
        if (batch)
            run_batch(batch);
        else if (stop)
            break;
    }
    return NULL;
}

static void submit(job_t *j)
{
    pthread_mutex_lock(&M.mu);
    if (!M.running || M.stopping) {
        pthread_mutex_unlock(&M.mu);
        set_result(j, MQ_ERR_SHUTTING_DOWN, "the broker is shutting down");
        complete(j);
        return;
    }
    if (M.tail)
        M.tail->next = j;
    else
        M.head = j;
    M.tail = j;
    pthread_cond_signal(&M.cond);
    pthread_mutex_unlock(&M.mu);
}

static job_t *job_new(int kind, const char *name, const char *config_json, loop_t *loop, void *arg)
{
    job_t *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->kind = kind;
    j->name = strdup(name ? name : "");
    j->config_json = config_json ? strdup(config_json) : NULL;
    j->reply_loop = loop;
    j->arg = arg;
    if (!j->name || (config_json && !j->config_json)) {
        job_free(j);
        return NULL;
    }
    return j;
}

/* Out of memory before a job exists: answer at once (on the caller's thread,
 * which is the reply loop's own for every caller today). */
static void report_oom(loop_t *loop, void (*done_simple)(loop_t *, void *, mq_err_t),
                       meta_done_cb done, void *arg)
{
    /* A static result: nothing left to allocate with. */
    static const meta_result_t oom = {.err = MQ_ERR_NO_MEMORY, .message = "out of memory"};
    log_error("\"out of memory queuing a metadata job\"");
    (void)loop;
    if (done)
        done(loop, arg, &oom);
    else if (done_simple)
        done_simple(loop, arg, MQ_ERR_NO_MEMORY);
}

void meta_create_topic(const char *name, int32_t partitions, loop_t *reply_loop,
                       void (*done)(loop_t *loop, void *arg, mq_err_t err), void *arg)
{
    job_t *j = job_new(JOB_CREATE, name, NULL, reply_loop, arg);
    if (!j) {
        report_oom(reply_loop, done, NULL, arg);
        return;
    }
    j->partitions = partitions;
    j->done_simple = done;
    submit(j);
}

void meta_create_topic_ex(const char *name, int32_t partitions, const char *config_json,
                          loop_t *reply_loop, meta_done_cb done, void *arg)
{
    job_t *j = job_new(JOB_CREATE, name, config_json, reply_loop, arg);
    if (!j) {
        report_oom(reply_loop, NULL, done, arg);
        return;
    }
    j->partitions = partitions;
    j->done = done;
    submit(j);
}

void meta_alter_topic(const char *name, const char *config_json, loop_t *reply_loop,
                      meta_done_cb done, void *arg)
{
    job_t *j = job_new(JOB_ALTER, name, config_json ? config_json : "{}", reply_loop, arg);
    if (!j) {
        report_oom(reply_loop, NULL, done, arg);
        return;
    }
    j->done = done;
    submit(j);
}

void meta_delete_topic(const char *name, loop_t *reply_loop, meta_done_cb done, void *arg)
{
    job_t *j = job_new(JOB_DELETE, name, NULL, reply_loop, arg);
    if (!j) {
        report_oom(reply_loop, NULL, done, arg);
        return;
    }
    j->done = done;
    submit(j);
}

void meta_run_sql(meta_sql_fn fn, loop_t *reply_loop, meta_done_cb done, void *arg)
{
    job_t *j = job_new(JOB_SQL, "sql", NULL, reply_loop, arg);
    if (!j) {
        report_oom(reply_loop, NULL, done, arg);
        return;
    }
    j->sql_fn = fn;
    j->done = done;
    submit(j);
}

typedef struct sql_waiter {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int done;
    meta_result_t res;
} sql_waiter_t;

static void sql_wait_done(loop_t *loop, void *arg, const meta_result_t *res)
{
    (void)loop;
    sql_waiter_t *w = arg;
    pthread_mutex_lock(&w->mu);
    w->res = *res;
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

mq_err_t meta_run_sql_wait(meta_sql_fn fn, meta_result_t *res)
{
    sql_waiter_t w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    meta_run_sql(fn, NULL, sql_wait_done, &w);
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cond, &w.mu);
    pthread_mutex_unlock(&w.mu);
    *res = w.res;
    return w.res.err;
}

/* ---- start: open, migrate, load ---- */

static int schema_version(void)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(M.db, "SELECT max(version) FROM schema_version", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0); /* NULL (no row) reads as 0 */
    sqlite3_finalize(st);
    return v;
}

static mq_err_t migrate(void)
{
    if (exec_sql("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, "
                 "applied_ms INTEGER NOT NULL)") != 0)
        return MQ_ERR_STORAGE;
    int v = schema_version();
    if (v < 0)
        return MQ_ERR_STORAGE;
    if (v > SCHEMA_VERSION) {
        log_error("\"meta.db was written by a newer broker\" schema_version=%d supported=%d", v,
                  SCHEMA_VERSION);
        return MQ_ERR_STORAGE;
    }
    for (; v < SCHEMA_VERSION; v++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES(%d, %" PRId64 ")", v + 1,
                 now_wall_ms());
        if (exec_sql("BEGIN IMMEDIATE") != 0)
            return MQ_ERR_STORAGE;
        if (exec_sql(MIGRATIONS[v]) != 0 || exec_sql(sql) != 0) {
            exec_sql("ROLLBACK");
            return MQ_ERR_STORAGE;
        }
        if (exec_sql("COMMIT") != 0)
            return MQ_ERR_STORAGE;
        log_info("\"meta.db schema migrated\" version=%d", v + 1);
    }
    return MQ_OK;
}

static mq_err_t load_topic(const char *name, int32_t partitions, const char *config,
                           int64_t created)
{
    if (topics_validate_name(name) != MQ_OK || partitions < 1) {
        log_warn("\"skipping invalid topic row\" topic=\"%s\" partitions=%d", name, partitions);
        return MQ_OK;
    }
    log_config_t cfg;
    char msg[400];
    if (apply_configs(config, NULL, &cfg, NULL, msg, sizeof(msg), 0) != MQ_OK) {
        /* A config a newer or older broker accepted: keep the topic, on defaults. */
        log_warn("\"ignoring topic configs\" topic=%s error=\"%s\"", name, msg);
        cfg = M.cfg.log;
    }
    topic_t *t = topic_new(name, partitions, &cfg, config, created);
    if (!t)
        return MQ_ERR_NO_MEMORY;
    mq_err_t err = open_partitions(t);
    if (err == MQ_OK)
        err = topics_publish(t);
    if (err != MQ_OK) {
        close_partitions(t);
        topic_release(t);
        return err;
    }
    return MQ_OK;
}

/* True if dir holds nothing but numbered partition directories: only such a
 * directory is ours to remove. */
static int looks_like_topic_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int ok = 1;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (strspn(e->d_name, "0123456789") != strlen(e->d_name)) {
            ok = 0;
            break;
        }
    }
    closedir(d);
    return ok;
}

static void remove_orphans(void)
{
    DIR *d = opendir(M.cfg.data_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (topics_validate_name(e->d_name) != MQ_OK)
            continue;
        char path[4400];
        struct stat sb;
        topic_dir(path, sizeof(path), e->d_name);
        if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        topic_t *t = topics_get(e->d_name);
        if (t) {
            topic_release(t);
            continue;
        }
        if (!looks_like_topic_dir(path)) {
            log_warn("\"leaving unknown directory in the data dir\" path=%s", path);
            continue;
        }
        log_warn("\"removing topic directory without a meta.db row (crash during create or "
                 "delete)\" path=%s",
                 path);
        remove_tree(path);
    }
    closedir(d);
}

static mq_err_t load_topics(void)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(M.db, "SELECT name, partitions, config, created_ms FROM topics", -1, &st,
                           NULL) != SQLITE_OK) {
        log_error("\"cannot read topics\" error=\"%s\"", sqlite3_errmsg(M.db));
        return MQ_ERR_STORAGE;
    }
    mq_err_t err = MQ_OK;
    int rc, n = 0;
    while (err == MQ_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *config = (const char *)sqlite3_column_text(st, 2);
        err = load_topic(name ? name : "", sqlite3_column_int(st, 1), config ? config : "{}",
                         sqlite3_column_int64(st, 3));
        n++;
    }
    sqlite3_finalize(st);
    if (err == MQ_OK)
        log_info("\"topics loaded\" count=%d", n);
    return err;
}

static mq_err_t open_db(void)
{
    if (mkdir(M.cfg.data_dir, 0755) != 0 && errno != EEXIST) {
        log_error("\"cannot create data dir\" path=%s errno=%d", M.cfg.data_dir, errno);
        return MQ_ERR_STORAGE;
    }
    char path[4200];
    snprintf(path, sizeof(path), "%s/meta.db", M.cfg.data_dir);
    if (sqlite3_open_v2(path, &M.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        log_error("\"cannot open meta.db\" path=%s error=\"%s\"", path,
                  M.db ? sqlite3_errmsg(M.db) : "out of memory");
        return MQ_ERR_STORAGE;
    }
    sqlite3_busy_timeout(M.db, 5000);
    if (exec_sql("PRAGMA journal_mode=WAL") != 0 || exec_sql("PRAGMA synchronous=FULL") != 0)
        return MQ_ERR_STORAGE;
    return MQ_OK;
}

static void close_all_topics(void);

static mq_err_t load(void)
{
    mq_err_t err = open_db();
    if (err == MQ_OK)
        err = migrate();
    if (err == MQ_OK)
        err = load_producer_ids();
    if (err == MQ_OK)
        err = load_topics();
    if (err == MQ_OK)
        remove_orphans();
    if (err != MQ_OK) {
        close_all_topics();
        sqlite3_close(M.db);
        M.db = NULL;
        producer_ids_free(M.pids);
        M.pids = NULL;
    }
    return err;
}

mq_err_t meta_start(const broker_config_t *cfg)
{
    pthread_mutex_lock(&M.mu);
    if (M.running) {
        pthread_mutex_unlock(&M.mu);
        return MQ_ERR_INVALID_ARG;
    }
    M.cfg = *cfg;
    M.loaded = 0;
    M.stopping = 0;
    pthread_mutex_unlock(&M.mu);
    if (pthread_create(&M.thread, NULL, meta_thread, NULL) != 0)
        return MQ_ERR_NO_MEMORY;
    pthread_mutex_lock(&M.mu);
    while (!M.loaded)
        pthread_cond_wait(&M.cond, &M.mu);
    mq_err_t err = M.load_err;
    M.running = err == MQ_OK;
    pthread_mutex_unlock(&M.mu);
    if (err != MQ_OK)
        pthread_join(M.thread, NULL);
    return err;
}

static void collect_name(topic_t *t, void *arg)
{
    char ***names = arg;
    size_t n = 0;
    while (*names && (*names)[n])
        n++;
    char **grown = realloc(*names, (n + 2) * sizeof(char *));
    if (!grown)
        return;
    grown[n] = strdup(t->name);
    grown[n + 1] = NULL;
    *names = grown;
}

static void close_all_topics(void)
{
    char **names = NULL;
    topics_foreach(collect_name, &names);
    for (size_t i = 0; names && names[i]; i++) {
        topic_t *t = topics_unpublish(names[i]);
        if (t) {
            close_partitions(t);
            topic_release(t);
        }
        free(names[i]);
    }
    free(names);
}

void meta_stop(void)
{
    pthread_mutex_lock(&M.mu);
    if (!M.running) {
        pthread_mutex_unlock(&M.mu);
        return;
    }
    M.stopping = 1;
    pthread_cond_broadcast(&M.cond);
    pthread_mutex_unlock(&M.mu);
    pthread_join(M.thread, NULL);
    close_all_topics();
    sqlite3_close(M.db);
    M.db = NULL;
    producer_ids_free(M.pids);
    M.pids = NULL;
    pthread_mutex_lock(&M.mu);
    M.running = 0;
    pthread_mutex_unlock(&M.mu);
    log_info("\"metadata stopped\"");
}

/* ---- producer ids: the calls ---- */

static void bg_reserved(loop_t *loop, void *arg, mq_err_t err)
{
    (void)loop;
    (void)arg;
    if (err != MQ_OK)
        log_warn("\"cannot reserve producer ids\" err=%s", mq_err_name(err));
    __atomic_store_n(&M.pid_reserving, 0, __ATOMIC_RELEASE);
}

void meta_reserve_producer_ids(loop_t *reply_loop,
                               void (*done)(loop_t *loop, void *arg, mq_err_t err), void *arg)
{
    job_t *j = job_new(JOB_PRODUCER_IDS, "producer ids", NULL, reply_loop, arg);
    if (!j) {
        report_oom(reply_loop, done, NULL, arg);
        return;
    }
    j->done_simple = done;
    submit(j);
}

mq_err_t meta_init_producer_id(int64_t pid, int32_t epoch, int64_t *out_pid, int16_t *out_epoch)
{
    producer_ids_t *ids = M.pids;
    if (!ids)
        return MQ_ERR_SHUTTING_DOWN;
    mq_err_t err = producer_ids_init(ids, pid, epoch, out_pid, out_epoch);
    if (producer_ids_remaining(ids) < PRODUCER_ID_BLOCK / 2 &&
        !__atomic_exchange_n(&M.pid_reserving, 1, __ATOMIC_ACQ_REL))
        meta_reserve_producer_ids(NULL, bg_reserved, NULL);
    return err;
}
