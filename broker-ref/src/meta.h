/* The metadata thread: the one owner of <data>/meta.db (SQLite, WAL).
 *
 * Every change to topics (and later offsets, groups, producer ids, ACLs) is a
 * job queued to that thread. The thread runs the jobs it finds in one
 * transaction per tick, then publishes the result to the in-memory registry
 * (topics.h) and posts each job's completion to the loop that asked for it
 * with loop_post(). Nothing here touches SQLite on the caller's thread, so
 * I/O loops never block on the disk for metadata. */
#ifndef BROKER_META_H
#define BROKER_META_H

#include <stdint.h>

#include "config.h"
#include "loop.h"
#include "mqclient.h"

/* Opens <data>/meta.db (creating the data dir and the schema, migrating an
 * older schema), removes topic directories that have no row (a crash during
 * a create; logged), opens every partition with part_open and publishes
 * every topic. Starts the metadata thread and returns once all topics are
 * loaded. Returns MQ_OK, MQ_ERR_STORAGE (the db or a partition could not be
 * opened; logged), MQ_ERR_NO_MEMORY or MQ_ERR_INVALID_ARG (already started). */
mq_err_t meta_start(const broker_config_t *cfg);

/* Runs every queued job, stops the thread, unpublishes and closes every
 * partition and closes the db. Call after the I/O loops have stopped (no
 * topic references may be held any more). Safe to call when not started. */
void meta_stop(void);

/* Creates a topic with the broker's default topic configs (auto-create).
 * done(reply_loop, arg, err) is posted to reply_loop; err is MQ_OK,
 * MQ_ERR_TOPIC_EXISTS, MQ_ERR_INVALID_TOPIC, MQ_ERR_INVALID_PARTITIONS,
 * MQ_ERR_STORAGE, MQ_ERR_SHUTTING_DOWN or MQ_ERR_NO_MEMORY. */
void meta_create_topic(const char *name, int32_t partitions, loop_t *reply_loop,
                       void (*done)(loop_t *loop, void *arg, mq_err_t err), void *arg);

/* The outcome of an admin job: an error code and, on failure, a message
 * naming the problem ("partitions must be between 1 and 10000"). */
typedef struct meta_result {
    mq_err_t err;
    char message[512];
} meta_result_t;

typedef void (*meta_done_cb)(loop_t *loop, void *arg, const meta_result_t *res);

/* Creates a topic with explicit configs: config_json is a JSON object of
 * topic keys (retention.ms, retention.bytes, segment.bytes, segment.ms,
 * max.message.bytes, message.timestamp.type) to string or number values, or
 * NULL. Errors as meta_create_topic plus MQ_ERR_INVALID_CONFIG. */
void meta_create_topic_ex(const char *name, int32_t partitions, const char *config_json,
                          loop_t *reply_loop, meta_done_cb done, void *arg);

/* Replaces the listed config keys of a topic (other keys keep their value; a
 * JSON null removes an override). Errors: MQ_ERR_UNKNOWN_TOPIC,
 * MQ_ERR_INVALID_CONFIG, MQ_ERR_STORAGE, MQ_ERR_SHUTTING_DOWN, MQ_ERR_NO_MEMORY. */
void meta_alter_topic(const char *name, const char *config_json, loop_t *reply_loop,
                      meta_done_cb done, void *arg);

/* Removes a topic: unpublishes it, waits until no reference is held, deletes
 * its row, then its partitions and directory. Errors: MQ_ERR_UNKNOWN_TOPIC,
 * MQ_ERR_STORAGE, MQ_ERR_SHUTTING_DOWN, MQ_ERR_NO_MEMORY. */
void meta_delete_topic(const char *name, loop_t *reply_loop, meta_done_cb done, void *arg);

/* For other subsystems' tables (acl.c): runs fn(db, arg, res) on the
 * metadata thread inside the tick's transaction, in its own savepoint; db is
 * the sqlite3 handle. fn sets res->err (MQ_OK keeps its changes, anything
 * else rolls them back); if the commit fails res->err becomes
 * MQ_ERR_STORAGE. done(reply_loop, arg, res) is then posted to reply_loop,
 * or run on the metadata thread when reply_loop is NULL. Tables are created
 * by fn itself (CREATE TABLE IF NOT EXISTS). */
typedef void (*meta_sql_fn)(void *db, void *arg, meta_result_t *res);
void meta_run_sql(meta_sql_fn fn, loop_t *reply_loop, meta_done_cb done, void *arg);

/* meta_run_sql for loading at start: runs fn on the metadata thread and waits
 * for it; fn must ignore its arg. Returns res->err; res holds the message. */
mq_err_t meta_run_sql_wait(meta_sql_fn fn, meta_result_t *res);

/* ---- Producer ids (InitProducerId) ----
 * Ids come from memory (producers.h) and are reserved in meta.db in blocks,
 * so a call does not wait for the disk; a new block is queued in the
 * background when the current one runs low. Ids are never reused across
 * restarts; epochs are not persisted (see producers.h). */

/* producer_ids_init on the broker's allocator (any thread, no disk I/O).
 * Returns what producer_ids_init returns; PRODUCER_IDS_EXHAUSTED means the
 * reserved ids ran out: call meta_reserve_producer_ids and try again once
 * it completes. MQ_ERR_SHUTTING_DOWN when the metadata thread is not
 * running. */
mq_err_t meta_init_producer_id(int64_t pid, int32_t epoch, int64_t *out_pid, int16_t *out_epoch);

/* Reserves the next block of producer ids in meta.db (a no-op when half a
 * block or more is still free). done(reply_loop, arg, err) is posted to
 * reply_loop (run on the metadata thread when NULL); err is MQ_OK,
 * MQ_ERR_STORAGE, MQ_ERR_SHUTTING_DOWN or MQ_ERR_NO_MEMORY. */
void meta_reserve_producer_ids(loop_t *reply_loop,
                               void (*done)(loop_t *loop, void *arg, mq_err_t err), void *arg);

#endif
