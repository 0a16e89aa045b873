/* Partition assignors for consumer groups: pure functions from (members,
 * their subscriptions, the current target) to a new target assignment.
 * groups.c calls them under its lock whenever a group's epoch moves. */
#ifndef BROKER_ASSIGNORS_H
#define BROKER_ASSIGNORS_H

#include <stddef.h>
#include <stdint.h>

#include "mqclient.h"

/* One partition; topic points into the caller's strings. */
typedef struct asg_tp {
    const char *topic;
    int32_t partition;
} asg_tp_t;

/* A topic that exists, with its partition count. */
typedef struct asg_topic {
    const char *name;
    int32_t partitions;
} asg_topic_t;

typedef struct asg_member {
    /* In: the member's subscribed topics (names in topics[]; unknown names
     * are ignored) and its previous target (sticky keeps it where it can). */
    const char *const *subs;
    size_t n_subs;
    const asg_tp_t *prev;
    size_t n_prev;
    /* Out: the new target, sorted by (topic, partition); malloc'd, the
     * caller frees it (asg_free_results). */
    asg_tp_t *out;
    size_t n_out;
} asg_member_t;

/* Known assignor names, in tie-break order. */
extern const char *const ASSIGNOR_NAMES[];

/* 1 if name is a known assignor ("" counts as the default, sticky). */
int assignor_known(const char *name);

/* Assigns every partition of every topic some member subscribes to, to
 * exactly one such member. members must be in a stable order (the caller
 * sorts them); topics sorted by name. Returns MQ_OK, MQ_ERR_NO_MEMORY
 * (nothing to free then) or MQ_ERR_UNSUPPORTED_ASSIGNOR. */
mq_err_t assign(const char *assignor, const asg_topic_t *topics, size_t n_topics,
                asg_member_t *members, size_t n_members);
void asg_free_results(asg_member_t *members, size_t n_members);

#endif
