/* The consumer-group RPCs (JoinGroup, Heartbeat, LeaveGroup, CommitOffsets,
 * FetchOffsets; handlers declared in call.h), the fencing check Fetch uses,
 * and the group tables of meta.db (group_store.c). groups.c holds the
 * state; this layer parks long-polled heartbeats, drives session timeouts
 * from a timer on loop 0 and writes changes through the metadata thread. */
#ifndef BROKER_GROUP_RPC_H
#define BROKER_GROUP_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "loop.h"
#include "mqclient.h"

/* Before meta_start: limits from the config, hooks into groups.c. */
void group_rpc_init(const broker_config_t *cfg);
/* After server_start: the session-timeout timer runs on loop (loop 0). */
void group_rpc_start(loop_t *loop);
/* Per-loop state for held heartbeats; server.c calls it when loops exist. */
void group_rpc_init_loops(int nloops);
/* Shutdown: answers every held heartbeat on this loop (loop thread). */
void group_rpc_release_all(loop_t *loop);

/* Fetch's per-partition check (docs/protocol.md 2.3): MQ_OK when member_id
 * is empty or the member owns the partition at that epoch; else
 * MQ_ERR_UNKNOWN_MEMBER, MQ_ERR_FENCED_MEMBER_EPOCH or
 * MQ_ERR_STALE_MEMBER_EPOCH with a message in msg. */
mq_err_t group_fence(const char *group_id, const char *member_id, int32_t epoch, const char *topic,
                     int32_t partition, char *msg, size_t msglen);

/* ---- group_store.c: meta.db tables (metadata thread) ---- */

/* At start, after meta_start: creates the tables if needed and loads every
 * group and committed offset into groups.c (waits for the metadata thread).
 * MQ_OK, MQ_ERR_STORAGE or MQ_ERR_NO_MEMORY. */
mq_err_t group_store_load(void);
/* Queues one write of every changed group (coalesced: at most one queued). */
void group_store_schedule(void);
/* Writes every changed (or deleted) group now; done(loop, arg, err) follows
 * on reply_loop once committed. */
void group_store_flush(loop_t *reply_loop, void (*done)(loop_t *loop, void *arg, mq_err_t err),
                       void *arg);
/* One committed offset to write. */
typedef struct group_commit_row {
    char *topic;
    int32_t partition;
    int64_t offset;
    char *metadata;
} group_commit_row_t;
/* Writes rows for group_id on the metadata thread; done(loop, arg, err)
 * follows on reply_loop once they are committed, and only then are they
 * visible in groups.c (groups_set_offset). Takes ownership of rows. */
void group_store_commit(const char *group_id, group_commit_row_t *rows, size_t n,
                        loop_t *reply_loop, void (*done)(loop_t *loop, void *arg, mq_err_t err),
                        void *arg);

#endif
