/* The consumer-group coordinator's state machine (docs/protocol.md 2.6).
 *
 * Groups, members, epochs, target assignments (assignors.c), revoke-before-
 * assign reconciliation, session and rebalance timeouts, static membership,
 * fencing checks and committed offsets, all in memory under one mutex. It
 * never blocks and knows nothing of calls or loops: group_rpc.c turns RPCs
 * into these calls (parking heartbeats, waking them on groups_version
 * changes, driving groups_tick from a loop timer), and group_store.c writes
 * dirty groups and offsets to meta.db and reloads them at start. Every
 * function is thread-safe; times are monotonic ms (loop_now_ms). */
#ifndef BROKER_GROUPS_H
#define BROKER_GROUPS_H

#include <stddef.h>
#include <stdint.h>

#include "mqclient.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GROUP_ID_MAX 249
#define GROUP_METADATA_MAX 4096
#define GROUP_DEFAULT_SESSION_MS 45000
#define GROUP_DEFAULT_REBALANCE_MS 300000

/* One partition in a request or an answer. */
typedef struct group_tp {
    char *topic; /* malloc'd */
    int32_t partition;
} group_tp_t;

typedef struct group_tp_list {
    group_tp_t *v;
    size_t n, cap;
} group_tp_list_t;

int group_tp_list_add(group_tp_list_t *l, const char *topic, int32_t partition);
void group_tp_list_free(group_tp_list_t *l);

/* Limits and intervals (broker keys); set once at start, before use. */
typedef struct groups_limits {
    int32_t min_session_ms;
    int32_t max_session_ms;
    int32_t heartbeat_interval_ms;
} groups_limits_t;

void groups_init(const groups_limits_t *lim);
/* 1 to GROUP_ID_MAX of A-Z a-z 0-9 . _ -: MQ_OK or MQ_ERR_INVALID_GROUP_ID
 * with a message. */
mq_err_t groups_validate_id(const char *id, char *msg, size_t len);
/* Frees every group (broker shutdown, tests). */
void groups_reset(void);
/* Called (with no lock held... by the state machine, under its lock: keep it
 * cheap and non-blocking) whenever something a held heartbeat may be waiting
 * for changed, and whenever a group needs writing to meta.db. */
void groups_set_hooks(void (*wake)(void), void (*dirty)(void));
/* Grows with every change; held heartbeats re-check when it moves. */
uint64_t groups_version(void);

typedef struct group_join_req {
    const char *group_id;
    const char *member_id; /* "" = new member */
    const char *instance_id;
    const char *const *topics;
    size_t n_topics;
    const char *topic_regex;
    int32_t session_timeout_ms;   /* -1 = default */
    int32_t rebalance_timeout_ms; /* -1 = default */
    const char *assignor;
    const char *client_id;      /* the client's client.id ("" or NULL: none) */
    const char *client_address; /* its "IP:PORT" as the broker sees it */
} group_join_req_t;

/* What a member is told: its id, epoch and assignment, and what to revoke. */
typedef struct group_answer {
    char member_id[64];
    int32_t member_epoch;
    int32_t heartbeat_interval_ms;
    group_tp_list_t assignment;
    group_tp_list_t revoke;
    char message[256]; /* on error */
} group_answer_t;

void group_answer_free(group_answer_t *a);

/* JoinGroup. MQ_OK with out filled; or MQ_ERR_INVALID_GROUP_ID,
 * MQ_ERR_INVALID_SESSION_TIMEOUT, MQ_ERR_UNSUPPORTED_ASSIGNOR,
 * MQ_ERR_INVALID_ARG (subscription, regex, timeout), MQ_ERR_UNKNOWN_MEMBER,
 * MQ_ERR_NO_MEMORY; out->message names the problem. */
mq_err_t groups_join(const group_join_req_t *req, int64_t now, group_answer_t *out);

/* Heartbeat: owned is the member's full list. *changed is set when the
 * answer differs from what the member owns (answer now); otherwise a caller
 * may hold the call and ask again when groups_version moves. Errors:
 * MQ_ERR_UNKNOWN_MEMBER, MQ_ERR_FENCED_MEMBER_EPOCH, MQ_ERR_INVALID_GROUP_ID,
 * MQ_ERR_NO_MEMORY. */
mq_err_t groups_heartbeat(const char *group_id, const char *member_id, int32_t epoch,
                          const group_tp_list_t *owned, int64_t now, group_answer_t *out,
                          int *changed);
/* A heartbeat of the member is held (+1) or no longer (-1): the member is
 * alive while one is held. Unknown members are ignored. */
void groups_hold(const char *group_id, const char *member_id, int delta, int64_t now);

/* LeaveGroup. MQ_ERR_UNKNOWN_MEMBER, MQ_ERR_FENCED_MEMBER_EPOCH. */
mq_err_t groups_leave(const char *group_id, const char *member_id, int32_t epoch, int64_t now);

/* May this member (at this epoch) fetch or commit this partition? MQ_OK,
 * MQ_ERR_UNKNOWN_MEMBER, MQ_ERR_FENCED_MEMBER_EPOCH, MQ_ERR_STALE_MEMBER_EPOCH.
 * member_id "" (manual assignment): MQ_OK for fetches. */
mq_err_t groups_check_partition(const char *group_id, const char *member_id, int32_t epoch,
                                const char *topic, int32_t partition);
/* The group-level check of a commit: member known and epoch not above its
 * own; with member_id "" the group must have no members. */
mq_err_t groups_check_committer(const char *group_id, const char *member_id, int32_t epoch,
                                char *msg, size_t msglen);

/* Expires sessions and rebalance timeouts, and notices subscribed topics
 * that were created or grew. Returns the ms until it next needs to run
 * (capped at 1000), or -1 when no group has members. */
int64_t groups_tick(int64_t now);

/* ---- committed offsets ---- */

typedef struct group_offset {
    char *topic;
    int32_t partition;
    int64_t offset;
    char *metadata;
    int64_t commit_ms; /* wall clock */
} group_offset_t;

/* Stores (in memory) a committed offset; creates the group if needed. */
mq_err_t groups_set_offset(const char *group_id, const char *topic, int32_t partition,
                           int64_t offset, const char *metadata, int64_t commit_ms);
/* Looks one up: MQ_OK with *out (strings malloc'd: group_offset_free) or
 * MQ_ERR_NOT_FOUND. */
mq_err_t groups_get_offset(const char *group_id, const char *topic, int32_t partition,
                           group_offset_t *out);
/* Every offset of a group (sorted by topic, partition); *n 0 if none. */
mq_err_t groups_list_offsets(const char *group_id, group_offset_t **out, size_t *n);
void group_offset_free(group_offset_t *o);
void group_offsets_free(group_offset_t *v, size_t n);

/* ---- inspection (admin API) and persistence (group_store.c) ---- */

/* A JSON description of one group (cJSON tree owned by the caller, NULL if
 * unknown): group_id, state, epoch, assignor, members[]. Offsets and lag
 * are added by the admin layer. */
struct cJSON;
struct cJSON *groups_describe(const char *group_id);
/* Ids of every group, sorted; the caller frees each and the array. */
size_t groups_list(char ***ids);
/* Members in the group (0 for an unknown group). */
int groups_member_count(const char *group_id);
/* Removes a group without members (and its offsets) from memory: MQ_OK,
 * MQ_ERR_NOT_FOUND, MQ_ERR_GROUP_NOT_EMPTY. */
mq_err_t groups_delete(const char *group_id);

/* Removes one member at once, as Kafka's RemoveMembersFromConsumerGroup
 * does: the static member with group.instance.id instance_id (when not
 * empty; e.g. one that left for good, whose partitions would otherwise wait
 * for its session timeout), else the member member_id. Its partitions go to
 * the others now; if it still runs, its next heartbeat gets UNKNOWN_MEMBER
 * and it joins again. MQ_OK with its member id in removed, or
 * MQ_ERR_NOT_FOUND (no such group or member). */
mq_err_t groups_remove_member(const char *group_id, const char *member_id, const char *instance_id,
                              char *removed, size_t removed_len);
/* Group and member totals and rebalances since start, for metrics. */
void groups_counts(int64_t *groups, int64_t *members, int64_t *rebalances);

/* A group to write: its id and its state as JSON (NULL = delete its row). */
typedef struct group_blob {
    char *group_id;
    char *json;
} group_blob_t;
/* Takes the groups changed since the last call (clearing their marks). */
size_t groups_take_dirty(group_blob_t **out);
void group_blobs_free(group_blob_t *v, size_t n);
/* Rebuilds a group from its JSON (at start); members get a fresh session. */
mq_err_t groups_restore(const char *group_id, const char *json, int64_t now);

#ifdef __cplusplus
}
#endif

#endif
