/* The consumer-group RPCs over groups.c (docs/protocol.md 2.6-2.10).
 *
 * Heartbeats are long-polled: a heartbeat whose answer would not change what
 * the member owns is held on its loop (a list per loop, like parked
 * fetches) until groups.c's version moves (another member freed partitions,
 * the group rebalanced) or its wait ends. groups.c calls wake_all under its
 * lock; that only posts to loops holding heartbeats, which then re-ask
 * groups.c for each held one. Session expiry runs from one timer on loop 0
 * (groups_tick says when next). */
#include "group_rpc.h"

#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "call.h"
#include "error.h"
#include "groups.h"
#include "log.h"
#include "meta.h"
#include "mq/v1/broker.pb-c.h"
#include "server.h"
#include "topics.h"

/* Held heartbeats answer this long before the call's deadline. */
#define DEADLINE_MARGIN_MS 20

typedef struct hb {
    call_t *call;
    Mq__V1__HeartbeatRequest *req;
    group_tp_list_t owned;
    loop_timer_t timer;
    struct hb *next, *prev;
    uint64_t version; /* groups_version when last checked */
} hb_t;

typedef struct hb_loop {
    hb_t *held;
    int count; /* atomic */
    int wake;  /* atomic: a wake-up is posted */
} hb_loop_t;

static hb_loop_t *g_loops;
static int g_nloops;

static struct {
    loop_t *loop; /* loop 0: the tick timer's */
    loop_timer_t timer;
    int posted; /* atomic: a re-tick is posted to loop */
} g_tick;

/* ---- answers ---- */

static Mq__V1__TopicPartitions **tp_msgs(const group_tp_list_t *l, size_t *n_out)
{
    /* Group consecutive partitions of a topic (lists are sorted). */
    size_t n = 0;
    Mq__V1__TopicPartitions **v = calloc(l->n + 1, sizeof(*v));
    for (size_t i = 0; v && i < l->n; i++) {
        if (n == 0 || strcmp(v[n - 1]->topic, l->v[i].topic)) {
            Mq__V1__TopicPartitions *tp = calloc(1, sizeof(*tp));
            int32_t *parts = calloc(l->n, sizeof(int32_t));
            if (!tp || !parts) {
                free(tp);
                free(parts);
                break;
            }
            mq__v1__topic_partitions__init(tp);
            tp->topic = l->v[i].topic;
            tp->partitions = parts;
            v[n++] = tp;
        }
        v[n - 1]->partitions[v[n - 1]->n_partitions++] = l->v[i].partition;
    }
    *n_out = n;
    return v;
}

static void tp_msgs_free(Mq__V1__TopicPartitions **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]->partitions);
        free(v[i]);
    }
    free(v);
}

/* Bounds the memory one request can make the broker spend. */
static size_t count_partitions(Mq__V1__TopicPartitions **v, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += v[i]->n_partitions;
    return total;
}

static int tp_list_from(group_tp_list_t *l, Mq__V1__TopicPartitions **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < v[i]->n_partitions; j++)
            if (group_tp_list_add(l, v[i]->topic ? v[i]->topic : "", v[i]->partitions[j]) != 0)
                return -1;
    return 0;
}

static void reply_heartbeat(call_t *c, mq_err_t err, group_answer_t *a)
{
    Mq__V1__HeartbeatResponse r = MQ__V1__HEARTBEAT_RESPONSE__INIT;
    r.error_code = mq__err_to_wire(err);
    r.error_message = err == MQ_OK ? "" : a->message;
    r.member_epoch = a->member_epoch;
    r.heartbeat_interval_ms = a->heartbeat_interval_ms;
    r.assignment = tp_msgs(&a->assignment, &r.n_assignment);
    r.revoke = tp_msgs(&a->revoke, &r.n_revoke);
    call_reply_pb(c, &r);
    tp_msgs_free(r.assignment, r.n_assignment);
    tp_msgs_free(r.revoke, r.n_revoke);
}

/* ---- the tick timer (loop 0) ---- */

static void on_tick(loop_t *loop, loop_timer_t *t)
{
    (void)t;
    int64_t next = groups_tick(loop_now_ms());
    if (next >= 0)
        loop_timer_start(loop, &g_tick.timer, loop_now_ms() + (next < 200 ? next : 200));
}

static void retick(loop_t *loop, void *arg)
{
    (void)arg;
    __atomic_store_n(&g_tick.posted, 0, __ATOMIC_RELEASE);
    loop_timer_stop(loop, &g_tick.timer);
    on_tick(loop, &g_tick.timer);
}

/* Membership changed somewhere: re-plan the timer soon (any thread). */
static void kick_tick(void)
{
    loop_t *loop = __atomic_load_n(&g_tick.loop, __ATOMIC_ACQUIRE);
    if (loop && !__atomic_exchange_n(&g_tick.posted, 1, __ATOMIC_ACQ_REL))
        loop_post(loop, retick, NULL);
}

/* ---- held heartbeats ---- */

static void hb_free(hb_t *h)
{
    mq__v1__heartbeat_request__free_unpacked(h->req, NULL);
    group_tp_list_free(&h->owned);
    call_unref(h->call);
    free(h);
}

static void unhold(hb_t *h)
{
    hb_loop_t *hl = &g_loops[loop_index(h->call->loop)];
    if (h->prev)
        h->prev->next = h->next;
    else
        hl->held = h->next;
    if (h->next)
        h->next->prev = h->prev;
    __atomic_sub_fetch(&hl->count, 1, __ATOMIC_ACQ_REL);
    loop_timer_stop(h->call->loop, &h->timer);
    groups_hold(h->req->group_id, h->req->member_id, -1, loop_now_ms());
    kick_tick(); /* its session clock starts again */
}

/* Asks groups.c again; answers when something changed or force is set.
 * Returns 1 if answered (h freed). */
static int recheck(hb_t *h, int force)
{
    group_answer_t a;
    int changed = 0;
    h->version = groups_version();
    mq_err_t err = groups_heartbeat(h->req->group_id, h->req->member_id, h->req->member_epoch,
                                    &h->owned, loop_now_ms(), &a, &changed);
    if (err == MQ_OK && !changed && !force)
        return 0;
    unhold(h);
    h->call->on_cancel = NULL;
    reply_heartbeat(h->call, err, &a);
    group_answer_free(&a);
    hb_free(h);
    return 1;
}

static void hb_on_timer(loop_t *loop, loop_timer_t *t)
{
    (void)loop;
    recheck(t->data, 1);
}

static void hb_on_cancel(call_t *c)
{
    hb_t *h = c->state;
    unhold(h);
    hb_free(h);
}

static void on_wake(loop_t *loop, void *arg)
{
    (void)arg;
    hb_loop_t *hl = &g_loops[loop_index(loop)];
    __atomic_store_n(&hl->wake, 0, __ATOMIC_RELEASE);
    uint64_t v = groups_version();
    for (hb_t *h = hl->held, *next; h; h = next) {
        next = h->next;
        if (h->version != v)
            recheck(h, 0);
    }
}

/* groups.c's hook: called under its lock, so it only posts. */
static void wake_all(void)
{
    for (int i = 0; i < g_nloops; i++) {
        hb_loop_t *hl = &g_loops[i];
        if (__atomic_load_n(&hl->count, __ATOMIC_ACQUIRE) == 0)
            continue;
        if (__atomic_exchange_n(&hl->wake, 1, __ATOMIC_ACQ_REL) == 0)
            loop_post(server_loop(i), on_wake, NULL);
    }
}

static void hold(hb_t *h, int64_t wait_ms)
{
    hb_loop_t *hl = &g_loops[loop_index(h->call->loop)];
    h->next = hl->held;
    h->prev = NULL;
    if (hl->held)
        hl->held->prev = h;
    hl->held = h;
    __atomic_add_fetch(&hl->count, 1, __ATOMIC_ACQ_REL);
    groups_hold(h->req->group_id, h->req->member_id, +1, loop_now_ms());
    h->call->state = h;
    h->call->on_cancel = hb_on_cancel;
    loop_timer_init(&h->timer, hb_on_timer, h);
    loop_timer_start(h->call->loop, &h->timer, loop_now_ms() + wait_ms);
}

void group_rpc_release_all(loop_t *loop)
{
    if (!g_loops)
        return;
    hb_loop_t *hl = &g_loops[loop_index(loop)];
    while (hl->held)
        recheck(hl->held, 1);
}

void group_rpc_init_loops(int nloops)
{
    free(g_loops);
    g_loops = calloc((size_t)nloops, sizeof(*g_loops));
    g_nloops = g_loops ? nloops : 0;
}

void group_rpc_init(const broker_config_t *cfg)
{
    groups_limits_t lim = {cfg->group_min_session_timeout_ms, cfg->group_max_session_timeout_ms,
                           cfg->group_heartbeat_interval_ms};
    groups_init(&lim);
    /* Hooks before any group can change (loading, the first calls): both
     * are safe before group_rpc_start and the loops exist. */
    groups_set_hooks(wake_all, group_store_schedule);
}

void group_rpc_start(loop_t *loop)
{
    loop_timer_init(&g_tick.timer, on_tick, NULL);
    __atomic_store_n(&g_tick.loop, loop, __ATOMIC_RELEASE);
    kick_tick();
}

/* ---- handlers ---- */

/* Every group RPC needs read on the group (when the authorizer is on). */
static int group_denied(call_t *c, const char *gid, char *msg, size_t len)
{
    if (acl_check_group_call(c, gid ? gid : ""))
        return 0;
    snprintf(msg, len, "principal '%.60s' is not allowed to use group '%.160s'",
             acl_call_principal(c), gid ? gid : "");
    return 1;
}

#define UNPACK(type, fn, name)                                                                     \
    type *req = fn(NULL, len, msg);                                                                \
    if (!req) {                                                                                    \
        call_fail(c, MQ_GRPC_INVALID_ARGUMENT, "malformed " name " (protobuf did not parse)");     \
        return;                                                                                    \
    }

void join_group_handle(call_t *c, uint8_t *msg, size_t len)
{
    UNPACK(Mq__V1__JoinGroupRequest, mq__v1__join_group_request__unpack, "JoinGroupRequest");
    if (req->n_topics > MAX_REQUEST_PARTITIONS) {
        call_fail(c, MQ_GRPC_INVALID_ARGUMENT, "JoinGroupRequest names %zu topics (at most %d)",
                  req->n_topics, MAX_REQUEST_PARTITIONS);
        mq__v1__join_group_request__free_unpacked(req, NULL);
        return;
    }
    group_join_req_t r = {.group_id = req->group_id,
                          .member_id = req->member_id,
                          .instance_id = req->group_instance_id,
                          .topics = (const char *const *)req->topics,
                          .n_topics = req->n_topics,
                          .topic_regex = req->topic_regex,
                          .session_timeout_ms = req->session_timeout_ms,
                          .rebalance_timeout_ms = req->rebalance_timeout_ms,
                          .assignor = req->assignor,
                          .client_id = server_call_client_id(c),
                          .client_address = server_call_peer(c)};
    group_answer_t a = {0};
    mq_err_t err = MQ_ERR_GROUP_AUTHORIZATION;
    if (!group_denied(c, req->group_id, a.message, sizeof(a.message)))
        err = groups_join(&r, loop_now_ms(), &a);
    Mq__V1__JoinGroupResponse resp = MQ__V1__JOIN_GROUP_RESPONSE__INIT;
    resp.error_code = mq__err_to_wire(err);
    resp.error_message = err == MQ_OK ? "" : a.message;
    resp.member_id = a.member_id;
    resp.member_epoch = a.member_epoch;
    resp.heartbeat_interval_ms = a.heartbeat_interval_ms;
    resp.assignment = tp_msgs(&a.assignment, &resp.n_assignment);
    call_reply_pb(c, &resp);
    tp_msgs_free(resp.assignment, resp.n_assignment);
    group_answer_free(&a);
    mq__v1__join_group_request__free_unpacked(req, NULL);
    kick_tick();
}

void heartbeat_handle(call_t *c, uint8_t *msg, size_t len)
{
    UNPACK(Mq__V1__HeartbeatRequest, mq__v1__heartbeat_request__unpack, "HeartbeatRequest");
    if (count_partitions(req->owned, req->n_owned) > MAX_REQUEST_PARTITIONS) {
        call_fail(c, MQ_GRPC_INVALID_ARGUMENT, "HeartbeatRequest owns more than %d partitions",
                  MAX_REQUEST_PARTITIONS);
        mq__v1__heartbeat_request__free_unpacked(req, NULL);
        return;
    }
    hb_t *h = calloc(1, sizeof(*h));
    if (!h || tp_list_from(&h->owned, req->owned, req->n_owned) != 0) {
        if (h)
            group_tp_list_free(&h->owned);
        free(h);
        mq__v1__heartbeat_request__free_unpacked(req, NULL);
        call_fail(c, MQ_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    h->call = c;
    call_ref(c);
    h->req = req;
    group_answer_t a = {0};
    int changed = 0;
    h->version = groups_version();
    mq_err_t err = MQ_ERR_GROUP_AUTHORIZATION;
    if (!group_denied(c, req->group_id, a.message, sizeof(a.message)))
        err = groups_heartbeat(req->group_id, req->member_id, req->member_epoch, &h->owned,
                               loop_now_ms(), &a, &changed);
    int64_t wait = req->max_wait_ms;
    if (wait > a.heartbeat_interval_ms)
        wait = a.heartbeat_interval_ms;
    int64_t left = call_time_left_ms(c);
    if (left != INT64_MAX && wait > left - DEADLINE_MARGIN_MS)
        wait = left - DEADLINE_MARGIN_MS;
    if (err != MQ_OK || changed || wait <= 0) {
        reply_heartbeat(c, err, &a);
        group_answer_free(&a);
        hb_free(h);
        return;
    }
    group_answer_free(&a);
    hold(h, wait);
    /* Something may have moved between the check and the hold. */
    if (groups_version() != h->version)
        recheck(h, 0);
}

void leave_group_handle(call_t *c, uint8_t *msg, size_t len)
{
    UNPACK(Mq__V1__LeaveGroupRequest, mq__v1__leave_group_request__unpack, "LeaveGroupRequest");
    Mq__V1__LeaveGroupResponse resp = MQ__V1__LEAVE_GROUP_RESPONSE__INIT;
    char text[300] = "";
    mq_err_t err = MQ_ERR_GROUP_AUTHORIZATION;
    if (!group_denied(c, req->group_id, text, sizeof(text)))
        err = groups_leave(req->group_id, req->member_id, req->member_epoch, loop_now_ms());
    if (err != MQ_OK && err != MQ_ERR_GROUP_AUTHORIZATION)
        snprintf(text, sizeof(text), "%s: group '%.120s' member '%.60s'", mq_err_str(err),
                 req->group_id, req->member_id);
    resp.error_code = mq__err_to_wire(err);
    resp.error_message = text;
    call_reply_pb(c, &resp);
    mq__v1__leave_group_request__free_unpacked(req, NULL);
    kick_tick();
}

mq_err_t group_fence(const char *group_id, const char *member_id, int32_t epoch, const char *topic,
                     int32_t partition, char *msg, size_t msglen)
{
    if (!member_id || !*member_id)
        return MQ_OK;
    mq_err_t err =
        groups_check_partition(group_id ? group_id : "", member_id, epoch, topic, partition);
    if (err == MQ_ERR_STALE_MEMBER_EPOCH)
        snprintf(msg, msglen,
                 "member '%.60s' does not own %.120s/%d at epoch %d (heartbeat for its "
                 "assignment)",
                 member_id, topic, partition, epoch);
    else if (err == MQ_ERR_FENCED_MEMBER_EPOCH)
        snprintf(msg, msglen, "member epoch %d is above the member's current epoch", epoch);
    else if (err != MQ_OK)
        snprintf(msg, msglen, "group '%.120s' has no member '%.60s'", group_id ? group_id : "",
                 member_id);
    return err;
}

/* ---- CommitOffsets ---- */

typedef struct commit {
    call_t *call;
    Mq__V1__CommitOffsetsRequest *req;
    int32_t *codes; /* per partition */
    char **msgs;
} commit_t;

static void commit_free(commit_t *cm)
{
    for (size_t i = 0; cm->msgs && i < cm->req->n_partitions; i++)
        free(cm->msgs[i]);
    free(cm->msgs);
    free(cm->codes);
    mq__v1__commit_offsets_request__free_unpacked(cm->req, NULL);
    call_unref(cm->call);
    free(cm);
}

static void commit_reply(commit_t *cm, mq_err_t top, const char *top_msg)
{
    size_t n = cm->req->n_partitions;
    Mq__V1__CommitOffsetResult *res = calloc(n + 1, sizeof(*res));
    Mq__V1__CommitOffsetResult **ptrs = calloc(n + 1, sizeof(*ptrs));
    if (!res || !ptrs) {
        free(res);
        free(ptrs);
        call_fail(cm->call, MQ_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        mq__v1__commit_offset_result__init(&res[i]);
        res[i].topic = cm->req->partitions[i]->topic;
        res[i].partition = cm->req->partitions[i]->partition;
        res[i].error_code = top != MQ_OK ? mq__err_to_wire(top) : cm->codes[i];
        res[i].error_message =
            top != MQ_OK ? (char *)top_msg : (cm->msgs[i] ? cm->msgs[i] : (char *)"");
        ptrs[i] = &res[i];
    }
    Mq__V1__CommitOffsetsResponse resp = MQ__V1__COMMIT_OFFSETS_RESPONSE__INIT;
    resp.error_code = mq__err_to_wire(top);
    resp.error_message = (char *)top_msg;
    resp.n_results = n;
    resp.results = ptrs;
    call_reply_pb(cm->call, &resp);
    free(res);
    free(ptrs);
}

static void committed(loop_t *loop, void *arg, mq_err_t err)
{
    (void)loop;
    commit_t *cm = arg;
    /* The rows were written together: a failure fails each of them. */
    for (size_t i = 0; err != MQ_OK && i < cm->req->n_partitions; i++) {
        if (cm->codes[i] == 0) {
            cm->codes[i] = mq__err_to_wire(err);
            free(cm->msgs[i]);
            cm->msgs[i] = strdup(mq_err_str(err));
        }
    }
    commit_reply(cm, MQ_OK, "");
    commit_free(cm);
}

/* Per-partition checks; fills codes/msgs. Returns the rows to write. */
static group_commit_row_t *commit_rows(commit_t *cm, size_t *n_rows)
{
    Mq__V1__CommitOffsetsRequest *req = cm->req;
    group_commit_row_t *rows = calloc(req->n_partitions + 1, sizeof(*rows));
    *n_rows = 0;
    if (!rows)
        return NULL;
    for (size_t i = 0; i < req->n_partitions; i++) {
        Mq__V1__CommitOffsetPartition *p = req->partitions[i];
        char text[300] = "";
        mq_err_t err = MQ_OK;
        topic_t *t = topics_get(p->topic ? p->topic : "");
        if (!t) {
            err = MQ_ERR_UNKNOWN_TOPIC;
            snprintf(text, sizeof(text), "unknown topic '%.200s'", p->topic ? p->topic : "");
        } else if (p->partition < 0 || p->partition >= t->partition_count) {
            err = MQ_ERR_UNKNOWN_PARTITION;
            snprintf(text, sizeof(text), "topic '%s' has no partition %d", t->name, p->partition);
        } else if (p->offset < 0) {
            err = MQ_ERR_INVALID_ARG;
            snprintf(text, sizeof(text), "offset %lld is negative", (long long)p->offset);
        } else if (p->metadata && strlen(p->metadata) > GROUP_METADATA_MAX) {
            err = MQ_ERR_INVALID_ARG;
            snprintf(text, sizeof(text), "metadata is longer than %d bytes", GROUP_METADATA_MAX);
        } else if (!acl_check_call(cm->call, ACL_OP_READ, ACL_RES_TOPIC, t->name)) {
            err = MQ_ERR_TOPIC_AUTHORIZATION;
            snprintf(text, sizeof(text), "principal '%.60s' is not allowed to read topic '%.180s'",
                     acl_call_principal(cm->call), t->name);
        } else {
            err = group_fence(req->group_id, req->member_id, req->member_epoch, t->name,
                              p->partition, text, sizeof(text));
        }
        topic_release(t);
        cm->codes[i] = mq__err_to_wire(err);
        if (err != MQ_OK) {
            cm->msgs[i] = strdup(text);
            continue;
        }
        group_commit_row_t *r = &rows[*n_rows];
        r->topic = strdup(p->topic);
        r->metadata = strdup(p->metadata ? p->metadata : "");
        r->partition = p->partition;
        r->offset = p->offset;
        (*n_rows)++;
    }
    return rows;
}

void commit_offsets_handle(call_t *c, uint8_t *msg, size_t len)
{
    UNPACK(Mq__V1__CommitOffsetsRequest, mq__v1__commit_offsets_request__unpack,
           "CommitOffsetsRequest");
    if (req->n_partitions > MAX_REQUEST_PARTITIONS) {
        call_fail(c, MQ_GRPC_INVALID_ARGUMENT, "CommitOffsetsRequest names %zu partitions",
                  req->n_partitions);
        mq__v1__commit_offsets_request__free_unpacked(req, NULL);
        return;
    }
    commit_t *cm = calloc(1, sizeof(*cm));
    if (cm) {
        cm->codes = calloc(req->n_partitions + 1, sizeof(int32_t));
        cm->msgs = calloc(req->n_partitions + 1, sizeof(char *));
    }
    if (!cm || !cm->codes || !cm->msgs) {
        if (cm) {
            free(cm->codes);
            free(cm->msgs);
        }
        free(cm);
        mq__v1__commit_offsets_request__free_unpacked(req, NULL);
        call_fail(c, MQ_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    cm->call = c;
    call_ref(c);
    cm->req = req;
    char text[300] = "";
    mq_err_t err = MQ_ERR_GROUP_AUTHORIZATION;
    if (!group_denied(c, req->group_id, text, sizeof(text)))
        err = groups_check_committer(req->group_id, req->member_id, req->member_epoch, text,
                                     sizeof(text));
    if (err != MQ_OK) {
        commit_reply(cm, err, text);
        commit_free(cm);
        return;
    }
    size_t n = 0;
    group_commit_row_t *rows = commit_rows(cm, &n);
    if (!rows) {
        call_fail(c, MQ_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        commit_free(cm);
        return;
    }
    if (n == 0) {
        free(rows);
        commit_reply(cm, MQ_OK, "");
        commit_free(cm);
        return;
    }
    group_store_commit(req->group_id, rows, n, c->loop, committed, cm);
}

/* ---- FetchOffsets ---- */

void fetch_offsets_handle(call_t *c, uint8_t *msg, size_t len)
{
    UNPACK(Mq__V1__FetchOffsetsRequest, mq__v1__fetch_offsets_request__unpack,
           "FetchOffsetsRequest");
    if (count_partitions(req->partitions, req->n_partitions) > MAX_REQUEST_PARTITIONS) {
        call_fail(c, MQ_GRPC_INVALID_ARGUMENT,
                  "FetchOffsetsRequest names more than %d "
                  "partitions",
                  MAX_REQUEST_PARTITIONS);
        mq__v1__fetch_offsets_request__free_unpacked(req, NULL);
        return;
    }
    Mq__V1__FetchOffsetsResponse resp = MQ__V1__FETCH_OFFSETS_RESPONSE__INIT;
    char text[300] = "";
    mq_err_t err = MQ_ERR_GROUP_AUTHORIZATION;
    if (!group_denied(c, req->group_id, text, sizeof(text)))
        err = groups_validate_id(req->group_id, text, sizeof(text));
    if (err != MQ_OK) {
        resp.error_code = mq__err_to_wire(err);
        resp.error_message = text;
        call_reply_pb(c, &resp);
        mq__v1__fetch_offsets_request__free_unpacked(req, NULL);
        return;
    }
    group_offset_t *all = NULL;
    size_t n = 0;
    group_tp_list_t want = {0};
    if (req->n_partitions == 0)
        groups_list_offsets(req->group_id, &all, &n);
    else
        tp_list_from(&want, req->partitions, req->n_partitions);
    size_t count = req->n_partitions ? want.n : n;
    Mq__V1__FetchOffsetResult *res = calloc(count + 1, sizeof(*res));
    Mq__V1__FetchOffsetResult **ptrs = calloc(count + 1, sizeof(*ptrs));
    group_offset_t *got = calloc(count + 1, sizeof(*got));
    if (!res || !ptrs || !got) {
        call_fail(c, MQ_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        count = 0;
    }
    for (size_t i = 0; res && ptrs && got && i < count; i++) {
        mq__v1__fetch_offset_result__init(&res[i]);
        if (req->n_partitions == 0) {
            got[i] = all[i];
            memset(&all[i], 0, sizeof(all[i]));
        } else if (groups_get_offset(req->group_id, want.v[i].topic, want.v[i].partition,
                                     &got[i]) != MQ_OK) {
            got[i].offset = -1;
            got[i].commit_ms = -1;
        }
        res[i].topic = req->n_partitions ? want.v[i].topic : got[i].topic;
        res[i].partition = req->n_partitions ? want.v[i].partition : got[i].partition;
        res[i].offset = got[i].offset;
        res[i].metadata = got[i].metadata ? got[i].metadata : "";
        res[i].commit_time_ms = got[i].commit_ms;
        res[i].error_message = "";
        ptrs[i] = &res[i];
    }
    if (res && ptrs && got) {
        resp.n_results = count;
        resp.results = ptrs;
        resp.error_message = "";
        call_reply_pb(c, &resp);
    }
    for (size_t i = 0; got && i < count; i++)
        group_offset_free(&got[i]);
    free(got);
    free(res);
    free(ptrs);
    group_offsets_free(all, n);
    group_tp_list_free(&want);
    mq__v1__fetch_offsets_request__free_unpacked(req, NULL);
}
