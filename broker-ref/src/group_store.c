/* Consumer groups in meta.db: the `groups` table (one JSON document per
 * group, written when groups.c marks it dirty, coalesced so a burst of
 * heartbeats costs one write) and `group_offsets` (one row per committed
 * partition, written before CommitOffsets answers). Everything here runs on
 * the metadata thread through meta_run, inside its grouped transactions. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "group_rpc.h"
#include "groups.h"
#include "log.h"
#include "loop.h"
#include "meta.h"

static int g_write_queued; /* atomic: a write of dirty groups is queued */

/* Created here rather than in meta.c's migrations, so the tables live with
 * their code: a group's members and assignment as one JSON document, and
 * one row per committed partition. */
static const char SCHEMA[] = "CREATE TABLE IF NOT EXISTS groups ("
                             "  group_id TEXT PRIMARY KEY,"
                             "  state TEXT NOT NULL,"
                             "  updated_ms INTEGER NOT NULL"
                             ") WITHOUT ROWID;"
                             "CREATE TABLE IF NOT EXISTS group_offsets ("
                             "  group_id TEXT NOT NULL,"
                             "  topic TEXT NOT NULL,"
                             "  partition INTEGER NOT NULL,"
                             "  committed_offset INTEGER NOT NULL,"
                             "  metadata TEXT NOT NULL DEFAULT '',"
                             "  commit_ms INTEGER NOT NULL,"
                             "  PRIMARY KEY (group_id, topic, partition)"
                             ") WITHOUT ROWID;";

static mq_err_t step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? MQ_OK : MQ_ERR_STORAGE;
}

static void write_dirty(void *dbv, void *arg, meta_result_t *res)
{
    (void)arg;
    sqlite3 *db = dbv;
    __atomic_store_n(&g_write_queued, 0, __ATOMIC_RELEASE);
    group_blob_t *blobs = NULL;
    size_t n = groups_take_dirty(&blobs);
    mq_err_t err = MQ_OK;
    for (size_t i = 0; err == MQ_OK && i < n; i++) {
        sqlite3_stmt *st = NULL;
        if (blobs[i].json) {
            sqlite3_prepare_v2(db,
                               "INSERT INTO groups(group_id, state, updated_ms) VALUES(?, ?, ?) "
                               "ON CONFLICT(group_id) DO UPDATE SET state = excluded.state, "
                               "updated_ms = excluded.updated_ms",
                               -1, &st, NULL);
            sqlite3_bind_text(st, 1, blobs[i].group_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, blobs[i].json, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, wall_now_ms());
            err = step_done(st);
        } else {
            sqlite3_prepare_v2(db, "DELETE FROM groups WHERE group_id = ?", -1, &st, NULL);
            sqlite3_bind_text(st, 1, blobs[i].group_id, -1, SQLITE_STATIC);
            err = step_done(st);
            st = NULL;
            sqlite3_prepare_v2(db, "DELETE FROM group_offsets WHERE group_id = ?", -1, &st, NULL);
            sqlite3_bind_text(st, 1, blobs[i].group_id, -1, SQLITE_STATIC);
            if (err == MQ_OK)
                err = step_done(st);
            else
                sqlite3_finalize(st);
        }
    }
    if (err != MQ_OK)
        log_error("\"cannot write consumer groups\" error=\"%s\"", sqlite3_errmsg(db));
    group_blobs_free(blobs, n);
    res->err = err;
}

void group_store_schedule(void)
{
    if (__atomic_exchange_n(&g_write_queued, 1, __ATOMIC_ACQ_REL))
        return;
    meta_run_sql(write_dirty, NULL, NULL, NULL);
}

typedef struct flush_job {
    void (*done)(loop_t *loop, void *arg, mq_err_t err);
    void *arg;
} flush_job_t;

static void flushed(loop_t *loop, void *arg, const meta_result_t *res)
{
    flush_job_t *f = arg;
    f->done(loop, f->arg, res->err);
    free(f);
}

void group_store_flush(loop_t *reply_loop, void (*done)(loop_t *loop, void *arg, mq_err_t err),
                       void *arg)
{
    flush_job_t *f = malloc(sizeof(*f));
    if (!f) {
        done(reply_loop, arg, MQ_ERR_NO_MEMORY);
        return;
    }
    *f = (flush_job_t){done, arg};
    meta_run_sql(write_dirty, reply_loop, flushed, f);
}

typedef struct commit_job {
    char *group_id;
    group_commit_row_t *rows;
    size_t n;
    int64_t commit_ms;
    void (*done)(loop_t *loop, void *arg, mq_err_t err);
    void *arg;
} commit_job_t;

static void commit_job_free(commit_job_t *j)
{
    for (size_t i = 0; i < j->n; i++) {
        free(j->rows[i].topic);
        free(j->rows[i].metadata);
    }
    free(j->rows);
    free(j->group_id);
    free(j);
}

static void write_offsets(void *dbv, void *arg, meta_result_t *res)
{
    commit_job_t *j = arg;
    sqlite3 *db = dbv;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO group_offsets(group_id, topic, partition, "
                           "committed_offset, metadata, commit_ms) VALUES(?, ?, ?, ?, ?, ?) "
                           "ON CONFLICT(group_id, topic, partition) DO UPDATE SET "
                           "committed_offset = excluded.committed_offset, metadata = "
                           "excluded.metadata, commit_ms = excluded.commit_ms",
                           -1, &st, NULL) != SQLITE_OK) {
        res->err = MQ_ERR_STORAGE;
        return;
    }
    mq_err_t err = MQ_OK;
    for (size_t i = 0; err == MQ_OK && i < j->n; i++) {
        sqlite3_bind_text(st, 1, j->group_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, j->rows[i].topic, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, j->rows[i].partition);
        sqlite3_bind_int64(st, 4, j->rows[i].offset);
        sqlite3_bind_text(st, 5, j->rows[i].metadata, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, j->commit_ms);
        if (sqlite3_step(st) != SQLITE_DONE)
            err = MQ_ERR_STORAGE;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    res->err = err;
}

static void offsets_written(loop_t *loop, void *arg, const meta_result_t *res)
{
    commit_job_t *j = arg;
    mq_err_t err = res->err;
    for (size_t i = 0; err == MQ_OK && i < j->n; i++)
        if (groups_set_offset(j->group_id, j->rows[i].topic, j->rows[i].partition,
                              j->rows[i].offset, j->rows[i].metadata, j->commit_ms) != MQ_OK)
            err = MQ_ERR_NO_MEMORY;
    if (j->done)
        j->done(loop, j->arg, err);
    commit_job_free(j);
}

void group_store_commit(const char *group_id, group_commit_row_t *rows, size_t n,
                        loop_t *reply_loop, void (*done)(loop_t *loop, void *arg, mq_err_t err),
                        void *arg)
{
    commit_job_t *j = calloc(1, sizeof(*j));
    char *gid = strdup(group_id);
    if (!j || !gid) {
        free(gid);
        free(j);
        for (size_t i = 0; i < n; i++) {
            free(rows[i].topic);
            free(rows[i].metadata);
        }
        free(rows);
        done(reply_loop, arg, MQ_ERR_NO_MEMORY);
        return;
    }
    *j = (commit_job_t){gid, rows, n, wall_now_ms(), done, arg};
    meta_run_sql(write_offsets, reply_loop, offsets_written, j);
}

static void load_rows(void *dbv, void *arg, meta_result_t *res)
{
    (void)arg;
    sqlite3 *db = dbv;
    sqlite3_stmt *st = NULL;
    int64_t now = loop_now_ms();
    int groups = 0, offsets = 0;
    if (sqlite3_exec(db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_prepare_v2(db, "SELECT group_id, state FROM groups", -1, &st, NULL) != SQLITE_OK)
        goto fail;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *json = (const char *)sqlite3_column_text(st, 1);
        if (groups_restore(id ? id : "", json ? json : "{}", now) != MQ_OK)
            log_warn("\"cannot restore consumer group\" group=%s", id ? id : "");
        else
            groups++;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT group_id, topic, partition, committed_offset, metadata, "
                           "commit_ms FROM group_offsets",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *topic = (const char *)sqlite3_column_text(st, 1);
        const char *meta = (const char *)sqlite3_column_text(st, 4);
        if (groups_set_offset(id ? id : "", topic ? topic : "", sqlite3_column_int(st, 2),
                              sqlite3_column_int64(st, 3), meta ? meta : "",
                              sqlite3_column_int64(st, 5)) != MQ_OK) {
            sqlite3_finalize(st);
            res->err = MQ_ERR_NO_MEMORY;
            return;
        }
        offsets++;
    }
    sqlite3_finalize(st);
    /* Restoring marked groups dirty; nothing needs writing back. */
    group_blob_t *blobs = NULL;
    size_t n_blobs = groups_take_dirty(&blobs);
    group_blobs_free(blobs, n_blobs);
    log_info("\"consumer groups loaded\" groups=%d offsets=%d", groups, offsets);
    return;
fail:
    snprintf(res->message, sizeof(res->message), "cannot read consumer groups: %s",
             sqlite3_errmsg(db));
    sqlite3_finalize(st);
    res->err = MQ_ERR_STORAGE;
}

mq_err_t group_store_load(void)
{
    meta_result_t res;
    if (meta_run_sql_wait(load_rows, &res) != MQ_OK)
        log_error("\"cannot load consumer groups\" err=%s error=\"%s\"", mq_err_name(res.err),
                  res.message);
    return res.err;
}
