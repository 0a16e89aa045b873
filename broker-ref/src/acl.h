/* Authorization: ACL rules (principal, resource, operation, allow or deny)
 * kept in meta.db and in memory, checked for every RPC and admin request
 * when authorizer.enabled is on. Deny wins; with the authorizer on, nothing
 * is allowed that no rule allows; super.users are allowed everything.
 *
 * Each connection keeps its principal and a few recent decisions
 * (acl_cache_t); a rule change bumps a global generation, which empties
 * every cache at its next use. Rules change on the metadata thread (they
 * are written to meta.db first); checks read them under a read lock, only
 * on a cache miss. */
#ifndef BROKER_ACL_H
#define BROKER_ACL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "loop.h"
#include "meta.h"

typedef enum { ACL_RES_TOPIC = 0, ACL_RES_GROUP, ACL_RES_CLUSTER, ACL_RES_COUNT } acl_res_t;
typedef enum {
    ACL_OP_READ = 0,
    ACL_OP_WRITE,
    ACL_OP_CREATE,
    ACL_OP_DELETE,
    ACL_OP_DESCRIBE,
    ACL_OP_ALTER,
    ACL_OP_ALL,
    ACL_OP_COUNT
} acl_op_t;
typedef enum { ACL_PATTERN_LITERAL = 0, ACL_PATTERN_PREFIX } acl_pattern_t;

typedef struct acl_rule {
    int64_t id;
    char principal[256]; /* or "*" */
    acl_res_t resource;
    acl_pattern_t pattern;
    char name[256]; /* literal "*" matches every name; ignored for cluster */
    acl_op_t op;    /* ACL_OP_ALL matches every operation */
    int allow;      /* 1 allow, 0 deny */
} acl_rule_t;

#define ACL_CACHE_SLOTS 8
#define ACL_CACHE_NAME 120 /* longer names are checked without the cache */

typedef struct acl_cache_slot {
    uint64_t gen; /* 0 = empty */
    uint64_t hash;
    uint8_t res, op, allow;
    int64_t rule_id;
    char name[ACL_CACHE_NAME];
} acl_cache_slot_t;

/* One per connection (client or admin). */
typedef struct acl_cache {
    char principal[256];
    int super_user;
    acl_cache_slot_t slot[ACL_CACHE_SLOTS];
} acl_cache_t;

/* Reads authorizer.enabled and super.users. Rules come from acl_load. */
void acl_configure(const broker_config_t *cfg);
/* 1 when the authorizer is on. */
int acl_enabled(void);
/* Loads every rule from meta.db (creating the table), on the metadata
 * thread; returns once done. MQ_OK or MQ_ERR_STORAGE (logged). */
mq_err_t acl_load(void);
void acl_free_all(void);

void acl_cache_init(acl_cache_t *c, const char *principal);

/* The decision for the connection's principal: 1 allowed, 0 denied. rule_id
 * (may be NULL) gets the id of the deciding rule, 0 when none decided
 * (default deny), -1 for a super user or the authorizer being off. Logs
 * denials with the principal, operation and resource. */
int acl_check(acl_cache_t *c, acl_op_t op, acl_res_t res, const char *name, int64_t *rule_id);
/* The same without a cache (admin test endpoint; no log line). */
int acl_decide(const char *principal, acl_op_t op, acl_res_t res, const char *name,
               int64_t *rule_id);
/* 1 if the principal is allowed op on at least one topic (by some allow
 * rule, ignoring denies of specific topics): InitProducerId needs write on
 * the cluster or on some topic. */
int acl_allows_any_topic(acl_cache_t *c, acl_op_t op);

/* Names <-> enums ("topic", "read", "literal", ...); -1 if unknown. */
int acl_res_parse(const char *s);
int acl_op_parse(const char *s);
int acl_pattern_parse(const char *s);
const char *acl_res_name(acl_res_t r);
const char *acl_op_name(acl_op_t o);
const char *acl_pattern_name(acl_pattern_t p);

/* Copies every rule (sorted by id); *out is malloc'd (free it). */
size_t acl_list(acl_rule_t **out);

/* Adds a rule (id assigned) or removes one by id, through meta.db: done is
 * posted to reply_loop with MQ_OK (res->message holds the new id for an
 * add), MQ_ERR_NOT_FOUND (remove: no such id), MQ_ERR_STORAGE,
 * MQ_ERR_SHUTTING_DOWN or MQ_ERR_NO_MEMORY. The in-memory rules change
 * (and every cache is invalidated) before done runs. */
void acl_add(const acl_rule_t *rule, loop_t *reply_loop, meta_done_cb done, void *arg);
void acl_remove(int64_t id, loop_t *reply_loop, meta_done_cb done, void *arg);

/* For RPC handlers (implemented by server.c, which owns connections): the
 * decision for the principal of the call's connection (acl_check on its
 * cache; a call whose connection is gone is denied when the authorizer is
 * on), and that principal ("" when gone). */
struct call;
int acl_check_call(struct call *c, acl_op_t op, acl_res_t res, const char *name);
const char *acl_call_principal(struct call *c);
/* acl_allows_any_topic for the call's principal (0 if the connection is gone). */
int acl_call_allows_any_topic(struct call *c, acl_op_t op);

/* Hook for group RPCs (JoinGroup, Heartbeat, OffsetCommit, ...): read on
 * the group. Returns 1 if allowed. */
#define acl_check_group_call(call, group)                                                          \
    acl_check_call((call), ACL_OP_READ, ACL_RES_GROUP, (group))

#endif
