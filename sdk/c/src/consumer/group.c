/* Consumer-group membership (docs/protocol.md 2.6-2.10): the broker
 * computes the assignment; this member joins, keeps one long-polled
 * Heartbeat in flight (it returns at once when the assignment changes),
 * gives up revoked partitions after a final commit, takes new ones, and
 * leaves on close, unsubscribe or when the application stops polling for
 * max.poll.interval.ms. Assignments and revocations reach the application
 * as MQ_EVENT_REBALANCE events. I/O thread, unless a function says so. */
#include "consumer/group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mq/v1/broker.pb-c.h"

enum { G_IDLE, G_JOIN, G_JOINED, G_LEFT };

struct mq_group {
    char **topics;
    size_t ntopics;
    char *regex;
    char member_id[128];
    int32_t epoch;
    int state;
    uint32_t gen; /* bumped when the membership restarts: stale replies are ignored */
    int join_inflight, hb_inflight, leave_inflight;
    int hb_now;
    int64_t hb_at_ms;
    int64_t retry_at_ms;
    mq_backoff_t join_backoff; /* JoinGroup retries; reset once joined */
    mq_backoff_t hb_backoff;   /* Heartbeat retries; reset by a good one */
    int32_t hb_interval_ms;
    int sub_changed; /* rejoin with the new subscription */
    int revoking;    /* waiting for revoke_op before the partitions go */
    mq_op_t *revoke_op;
    int leave_after; /* leave once the revoke is done */
    int poll_exceeded;
    int close_started;
};

typedef struct gcall {
    mq_consumer_t *c;
    uint32_t gen;
} gcall_t;

static void free_subscription(struct mq_group *g)
{
    for (size_t i = 0; i < g->ntopics; i++)
        free(g->topics[i]);
    free(g->topics);
    free(g->regex);
    g->topics = NULL;
    g->ntopics = 0;
    g->regex = NULL;
}

void mq__group_free(struct mq_group *g)
{
    if (!g)
        return;
    free_subscription(g);
    free(g);
}

/* ---- application side (lock held) ------------------------------------------------ */

mq_err_t mq__group_subscribe(mq_consumer_t *c, const char *const *topics, size_t n)
{
    struct mq_group *g = c->group;
    if (!g) {
        g = calloc(1, sizeof(*g));
        if (!g)
            return MQ_ERR_NO_MEMORY;
        g->epoch = -1;
        g->hb_interval_ms = (int32_t)c->conf->heartbeat_interval_ms;
        uint64_t seed = (uint64_t)(uintptr_t)g ^ (uint64_t)mq__mono_ms();
        mq__backoff_init(&g->join_backoff, c->conf->retry_backoff_ms, c->conf->retry_backoff_max_ms,
                         seed);
        mq__backoff_init(&g->hb_backoff, c->conf->retry_backoff_ms, c->conf->retry_backoff_max_ms,
                         seed + 0x9e3779b97f4a7c15ull);
    }
    char **v = calloc(n, sizeof(*v));
    char *regex = NULL;
    size_t k = 0;
    int ok = v != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        if (topics[i][0] == '^')
            ok = (regex = strdup(topics[i])) != NULL;
        else
            ok = (v[k++] = strdup(topics[i])) != NULL;
    }
    if (!ok) {
        for (size_t i = 0; v && i < k; i++)
            free(v[i]);
        free(v);
        free(regex);
        if (!c->group)
            free(g);
        return MQ_ERR_NO_MEMORY;
    }
    free_subscription(g);
    g->topics = v;
    g->ntopics = k;
    g->regex = regex;
    if (g->state == G_JOINED)
        g->sub_changed = 1;
    else if (g->state == G_IDLE || g->state == G_LEFT)
        g->state = G_JOIN;
    g->poll_exceeded = 0;
    g->retry_at_ms = 0;
    c->group = g;
    return MQ_OK;
}

static void push_event(mq_consumer_t *c, mq_event_t *ev)
{
    if (ev)
        mq__cq_push_event(c, ev, NULL);
}

static void push_error(mq_consumer_t *c, mq_err_t err, const char *text)
{
    push_event(c, mq__cerror_event(err, text, NULL));
}

/* A rebalance event listing the partitions whose flag `mark` is set. */
static void rebalance_event(mq_consumer_t *c, mq_rebalance_type_t type, mq_topic_partition_t *v,
                            size_t n)
{
    if (n == 0)
        return;
    mq_event_t *ev = mq__events_new(1, MQ_EVENT_REBALANCE, NULL, NULL);
    if (!ev)
        return;
    ev->block->rebalance = type;
    if (mq__event_set_parts(ev, v, n) != MQ_OK) {
        mq_event_destroy(ev);
        return;
    }
    c->stats.rebalances++;
    push_event(c, ev);
}

static void count_assigned(mq_consumer_t *c)
{
    c->nassigned = 0;
    for (mq_cpart_t *p = c->parts; p; p = p->next)
        c->nassigned += p->assigned != 0;
}

/* Drops every assigned partition at once, without a commit (fenced, or the
 * broker is gone). */
static void lose_all(mq_consumer_t *c, mq_rebalance_type_t type)
{
    size_t n = 0, i = 0;
    for (mq_cpart_t *p = c->parts; p; p = p->next)
        n += p->assigned != 0;
    mq_topic_partition_t *v = calloc(n ? n : 1, sizeof(*v));
    for (mq_cpart_t *p = c->parts; p; p = p->next) {
        if (!p->assigned)
            continue;
        if (v)
            v[i++] = (mq_topic_partition_t){p->topic, p->partition, MQ_OK, p->position};
        p->assigned = 0;
        p->revoking = 0;
        p->paused = 0;
        p->version++;
        mq__cq_purge(c, p);
    }
    rebalance_event(c, type, v, i);
    free(v);
    count_assigned(c);
    struct mq_group *g = c->group;
    if (g->revoke_op) {
        mq__op_release(c, g->revoke_op);
        g->revoke_op = NULL;
    }
    g->revoking = 0;
}

/* Starts giving up partitions (all, or those marked revoking already):
 * no more messages from them; a final commit of their stored offsets. */
static void start_revoke(mq_consumer_t *c, int all)
{
    struct mq_group *g = c->group;
    size_t n = 0, i = 0;
    for (mq_cpart_t *p = c->parts; p; p = p->next) {
        if (!p->assigned || (!all && !p->revoking))
            continue;
        p->revoking = 1;
        p->version++;
        mq__cq_purge(c, p);
        n += c->conf->enable_auto_commit && p->stored >= 0 && p->stored != p->committed;
    }
    g->revoking = 1;
    if (n == 0)
        return;
    mq_topic_partition_t *v = calloc(n, sizeof(*v));
    if (!v)
        return;
    for (mq_cpart_t *p = c->parts; p; p = p->next)
        if (p->assigned && p->revoking && c->conf->enable_auto_commit && p->stored >= 0 &&
            p->stored != p->committed)
            v[i++] = (mq_topic_partition_t){p->topic, p->partition, MQ_OK, p->stored};
    mq_op_t *op = mq__op_new(OP_COMMIT, v, n);
    free(v);
    if (!op)
        return;
    op->auto_commit = 1;
    op->refs = 2; /* the I/O thread's and ours */
    mq_op_t **pp = &c->ops;
    while (*pp)
        pp = &(*pp)->next;
    *pp = op;
    g->revoke_op = op;
}

/* The commit is done (or there was none): the partitions go. */
static void finish_revoke(mq_consumer_t *c)
{
    struct mq_group *g = c->group;
    size_t n = 0, i = 0;
    for (mq_cpart_t *p = c->parts; p; p = p->next)
        n += p->assigned && p->revoking;
    mq_topic_partition_t *v = calloc(n ? n : 1, sizeof(*v));
    for (mq_cpart_t *p = c->parts; p; p = p->next) {
        if (!p->assigned || !p->revoking)
            continue;
        if (v)
            v[i++] = (mq_topic_partition_t){p->topic, p->partition, MQ_OK, p->position};
        p->assigned = 0;
        p->revoking = 0;
        p->paused = 0;
    }
    rebalance_event(c, MQ_REBALANCE_REVOKE, v, i);
    free(v);
    count_assigned(c);
    if (g->revoke_op)
        mq__op_release(c, g->revoke_op);
    g->revoke_op = NULL;
    g->revoking = 0;
    g->hb_now = 1;
}

void mq__group_unsubscribe(mq_consumer_t *c)
{
    struct mq_group *g = c->group;
    free_subscription(g);
    if (g->state == G_JOINED) {
        start_revoke(c, 1);
        g->leave_after = 1;
    } else {
        lose_all(c, MQ_REBALANCE_REVOKE);
        g->state = G_IDLE;
    }
}

void mq__group_fenced(mq_consumer_t *c, mq_err_t err)
{
    struct mq_group *g = c->group;
    if (!g || g->state != G_JOINED)
        return;
    if (err == MQ_ERR_STALE_MEMBER_EPOCH) {
        g->hb_now = 1;
        return;
    }
    /* Fenced or forgotten: every partition is lost; join as a new member. */
    char text[256];
    snprintf(text, sizeof(text), "group \"%s\": %s; partitions lost, joining again",
             c->conf->group_id, mq_err_str(err));
    push_error(c, err, text);
    lose_all(c, MQ_REBALANCE_LOST);
    g->state = G_JOIN;
    g->member_id[0] = '\0';
    g->epoch = -1;
    g->gen++;
    g->retry_at_ms = 0;
}

int mq__group_member(mq_consumer_t *c, const char **group_id, const char **member_id,
                     int32_t *epoch)
{
    struct mq_group *g = c->group;
    if (!g || g->state != G_JOINED)
        return 0;
    *group_id = c->conf->group_id;
    *member_id = g->member_id;
    *epoch = g->epoch;
    return 1;
}

int mq__group_closed(mq_consumer_t *c)
{
    pthread_mutex_lock(&c->lock);
    struct mq_group *g = c->group;
    int done =
        !g || (g->state != G_JOINED && !g->join_inflight && !g->leave_inflight && !g->revoking);
    pthread_mutex_unlock(&c->lock);
    return done;
}

void mq__group_conn_lost(mq_consumer_t *c)
{
    (void)c; /* the calls' callbacks saw MQ_ERR_TRANSPORT and retry */
}

/* ---- assignment from the broker (lock held) ------------------------------------- */

static void take_assignment(mq_consumer_t *c, Mq__V1__TopicPartitions **tps, size_t ntps)
{
    size_t n = 0, i = 0;
    for (size_t t = 0; t < ntps; t++)
        n += tps[t]->n_partitions;
    mq_topic_partition_t *v = calloc(n ? n : 1, sizeof(*v));
    for (size_t t = 0; t < ntps; t++) {
        for (size_t k = 0; k < tps[t]->n_partitions; k++) {
            mq_cpart_t *p = mq__cpart_get(c, tps[t]->topic, tps[t]->partitions[k]);
            if (!p || (p->assigned && !p->revoking))
                continue;
            p->assigned = 1;
            p->revoking = 0;
            p->paused = 0;
            p->stored = p->committed = -1;
            p->position = p->fetch_pos = MQ_OFFSET_INVALID;
            mq__cpart_restart(c, p, MQ_OFFSET_STORED);
            if (v)
                v[i++] = (mq_topic_partition_t){p->topic, p->partition, MQ_OK, MQ_OFFSET_STORED};
        }
    }
    count_assigned(c);
    /* The event goes before any message of these partitions: their fetches
     * start only after the start offset lookup this turn queues. */
    rebalance_event(c, MQ_REBALANCE_ASSIGN, v, i);
    free(v);
}

static int listed(Mq__V1__TopicPartitions **tps, size_t n, const mq_cpart_t *p)
{
    for (size_t t = 0; t < n; t++) {
        if (strcmp(tps[t]->topic, p->topic))
            continue;
        for (size_t k = 0; k < tps[t]->n_partitions; k++)
            if (tps[t]->partitions[k] == p->partition)
                return 1;
    }
    return 0;
}

/* ---- JoinGroup ---------------------------------------------------------------------- */

static void on_join(void *arg, mq_err_t err, const char *msg, const uint8_t *resp, size_t len,
                    int sent)
{
    (void)sent;
    gcall_t *call = arg;
    mq_consumer_t *c = call->c;
    Mq__V1__JoinGroupResponse *r = NULL;
    if (err == MQ_OK && !(r = mq__v1__join_group_response__unpack(NULL, len, resp))) {
        err = MQ_ERR_PROTOCOL;
        msg = "cannot decode the JoinGroup response";
    }
    if (err == MQ_OK && r->error_code) {
        err = mq__err_from_wire(r->error_code);
        msg = r->error_message;
    }
    pthread_mutex_lock(&c->lock);
    struct mq_group *g = c->group;
    g->join_inflight = 0;
    if (call->gen != g->gen || g->state != G_JOIN) {
        /* Superseded (fenced, unsubscribed) meanwhile. */
    } else if (err != MQ_OK) {
        if (err == MQ_ERR_UNKNOWN_MEMBER)
            g->member_id[0] = '\0';
        g->retry_at_ms = mq__mono_ms() + mq__backoff_next(&g->join_backoff);
        /* A configuration the broker refuses does not get better by retrying:
         * report it once and wait for the next mq_consumer_subscribe. */
        int fatal = err == MQ_ERR_INVALID_SESSION_TIMEOUT || err == MQ_ERR_UNSUPPORTED_ASSIGNOR ||
                    err == MQ_ERR_INVALID_GROUP_ID || err == MQ_ERR_GROUP_AUTHORIZATION ||
                    err == MQ_ERR_INVALID_ARG || err == MQ_ERR_UNSUPPORTED;
        if (fatal)
            g->state = G_IDLE;
        if (err != MQ_ERR_TRANSPORT) {
            char text[512];
            snprintf(text, sizeof(text), "group \"%s\": JoinGroup failed: %s%s", c->conf->group_id,
                     msg && msg[0] ? msg : mq_err_str(err),
                     fatal ? " (not retried: fix the configuration and subscribe again)" : "");
            push_error(c, err, text);
        }
    } else {
        snprintf(g->member_id, sizeof(g->member_id), "%s", r->member_id ? r->member_id : "");
        g->epoch = r->member_epoch;
        if (r->heartbeat_interval_ms > 0)
            g->hb_interval_ms = r->heartbeat_interval_ms;
        g->state = G_JOINED;
        g->sub_changed = 0;
        mq__backoff_reset(&g->join_backoff);
        take_assignment(c, r->assignment, r->n_assignment);
        g->hb_now = 1;
    }
    pthread_mutex_unlock(&c->lock);
    mq__consumer_wake(c);
    if (r)
        mq__v1__join_group_response__free_unpacked(r, NULL);
    free(call);
}

static void send_join(mq_consumer_t *c, struct mq_group *g)
{
    Mq__V1__JoinGroupRequest req = MQ__V1__JOIN_GROUP_REQUEST__INIT;
    static const char *const assignors[] = {"sticky", "range", "roundrobin"};
    req.group_id = c->conf->group_id;
    req.member_id = g->member_id;
    req.group_instance_id = c->conf->group_instance_id;
    req.n_topics = g->ntopics;
    req.topics = g->topics;
    req.topic_regex = g->regex ? g->regex : (char *)""; /* '^...' is a whole-name ERE */
    req.session_timeout_ms = (int32_t)c->conf->session_timeout_ms;
    req.rebalance_timeout_ms = (int32_t)c->conf->max_poll_interval_ms;
    req.assignor = (char *)assignors[c->conf->partition_assignment_strategy];
    size_t len = mq__v1__join_group_request__get_packed_size(&req);
    uint8_t *buf = malloc(len ? len : 1);
    gcall_t *call = malloc(sizeof(*call));
    mq_err_t err = MQ_ERR_NO_MEMORY;
    if (buf && call) {
        mq__v1__join_group_request__pack(&req, buf);
        call->c = c;
        call->gen = g->gen;
        g->join_inflight = 1;
        pthread_mutex_unlock(&c->lock);
        err =
            mq__consumer_call(c, "JoinGroup", buf, len, c->conf->request_timeout_ms, on_join, call);
        pthread_mutex_lock(&c->lock);
    }
    free(buf);
    if (err != MQ_OK) {
        free(call);
        g->join_inflight = 0;
        g->retry_at_ms = mq__mono_ms() + mq__backoff_next(&g->join_backoff);
    }
}

/* ---- Heartbeat ------------------------------------------------------------------------ */

static void on_heartbeat(void *arg, mq_err_t err, const char *msg, const uint8_t *resp, size_t len,
                         int sent)
{
    (void)sent;
    gcall_t *call = arg;
    mq_consumer_t *c = call->c;
    Mq__V1__HeartbeatResponse *r = NULL;
    if (err == MQ_OK && !(r = mq__v1__heartbeat_response__unpack(NULL, len, resp))) {
        err = MQ_ERR_PROTOCOL;
        msg = "cannot decode the Heartbeat response";
    }
    if (err == MQ_OK && r->error_code) {
        err = mq__err_from_wire(r->error_code);
        msg = r->error_message;
    }
    pthread_mutex_lock(&c->lock);
    struct mq_group *g = c->group;
    g->hb_inflight = 0;
    int64_t now = mq__mono_ms();
    if (call->gen != g->gen || g->state != G_JOINED) {
        /* Superseded. */
    } else if (err == MQ_ERR_UNKNOWN_MEMBER || err == MQ_ERR_FENCED_MEMBER_EPOCH) {
        mq__group_fenced(c, err);
    } else if (err != MQ_OK) {
        g->hb_at_ms = now + mq__backoff_next(&g->hb_backoff);
        if (err != MQ_ERR_TRANSPORT && err != MQ_ERR_TIMED_OUT) {
            char text[512];
            snprintf(text, sizeof(text), "group \"%s\": Heartbeat failed: %s", c->conf->group_id,
                     msg && msg[0] ? msg : mq_err_str(err));
            push_error(c, err, text);
        }
    } else {
        mq__backoff_reset(&g->hb_backoff);
        g->epoch = r->member_epoch;
        if (r->heartbeat_interval_ms > 0)
            g->hb_interval_ms = r->heartbeat_interval_ms;
        int revoke = 0;
        for (mq_cpart_t *p = c->parts; p; p = p->next) {
            if (p->assigned && !p->revoking && !listed(r->assignment, r->n_assignment, p)) {
                p->revoking = 1;
                revoke = 1;
            }
        }
        if (revoke && !g->revoking)
            start_revoke(c, 0);
        else if (!g->revoking)
            take_assignment(c, r->assignment, r->n_assignment);
        g->hb_now = 1;
    }
    pthread_mutex_unlock(&c->lock);
    mq__consumer_wake(c);
    if (r)
        mq__v1__heartbeat_response__free_unpacked(r, NULL);
    free(call);
}

static void send_heartbeat(mq_consumer_t *c, struct mq_group *g, int64_t now)
{
    size_t n = 0;
    for (mq_cpart_t *p = c->parts; p; p = p->next)
        n += p->assigned && !p->revoking;
    /* One TopicPartitions per partition: the broker merges them. */
    Mq__V1__TopicPartitions *tp = calloc(n ? n : 1, sizeof(*tp));
    Mq__V1__TopicPartitions **tpp = calloc(n ? n : 1, sizeof(*tpp));
    int32_t *nums = calloc(n ? n : 1, sizeof(*nums));
    gcall_t *call = malloc(sizeof(*call));
    uint8_t *buf = NULL;
    mq_err_t err = MQ_ERR_NO_MEMORY;
    if (tp && tpp && nums && call) {
        size_t i = 0;
        for (mq_cpart_t *p = c->parts; p; p = p->next) {
            if (!p->assigned || p->revoking)
                continue;
            mq__v1__topic_partitions__init(&tp[i]);
            tp[i].topic = p->topic;
            nums[i] = p->partition;
            tp[i].n_partitions = 1;
            tp[i].partitions = &nums[i];
            tpp[i] = &tp[i];
            i++;
        }
        Mq__V1__HeartbeatRequest req = MQ__V1__HEARTBEAT_REQUEST__INIT;
        req.group_id = c->conf->group_id;
        req.member_id = g->member_id;
        req.member_epoch = g->epoch;
        req.n_owned = i;
        req.owned = tpp;
        /* Long-polled: the broker answers at once when the assignment
         * changes; a subscription change or a revoke to report goes now. */
        req.max_wait_ms = g->hb_interval_ms;
        size_t len = mq__v1__heartbeat_request__get_packed_size(&req);
        if ((buf = malloc(len ? len : 1))) {
            mq__v1__heartbeat_request__pack(&req, buf);
            call->c = c;
            call->gen = g->gen;
            g->hb_inflight = 1;
            g->hb_now = 0;
            g->hb_at_ms = now + g->hb_interval_ms;
            pthread_mutex_unlock(&c->lock);
            err = mq__consumer_call(c, "Heartbeat", buf, len,
                                    g->hb_interval_ms + c->conf->request_timeout_ms, on_heartbeat,
                                    call);
            pthread_mutex_lock(&c->lock);
        }
    }
    free(tp);
    free(tpp);
    free(nums);
    free(buf);
    if (err != MQ_OK) {
        free(call);
        g->hb_inflight = 0;
        g->hb_at_ms = now + mq__backoff_next(&g->hb_backoff);
    }
}

/* ---- LeaveGroup ------------------------------------------------------------------------- */

static void on_leave(void *arg, mq_err_t err, const char *msg, const uint8_t *resp, size_t len,
                     int sent)
{
    (void)sent;
    (void)msg;
    (void)resp;
    (void)len;
    (void)err; /* left either way: the session timeout removes us otherwise */
    gcall_t *call = arg;
    mq_consumer_t *c = call->c;
    pthread_mutex_lock(&c->lock);
    c->group->leave_inflight = 0;
    pthread_mutex_unlock(&c->lock);
    mq__consumer_wake(c);
    free(call);
}

static void send_leave(mq_consumer_t *c, struct mq_group *g)
{
    Mq__V1__LeaveGroupRequest req = MQ__V1__LEAVE_GROUP_REQUEST__INIT;
    req.group_id = c->conf->group_id;
    req.member_id = g->member_id;
    req.member_epoch = g->epoch;
    uint8_t buf[512];
    size_t len = mq__v1__leave_group_request__get_packed_size(&req);
    if (len <= sizeof(buf))
        mq__v1__leave_group_request__pack(&req, buf);
    gcall_t *call = malloc(sizeof(*call));
    g->state = g->ntopics || g->regex ? G_LEFT : G_IDLE;
    g->gen++;
    g->leave_after = 0;
    g->member_id[0] = '\0'; /* after packing: the request carries the old id */
    if (!call || len > sizeof(buf)) {
        free(call);
        return;
    }
    call->c = c;
    call->gen = g->gen;
    g->leave_inflight = 1;
    pthread_mutex_unlock(&c->lock);
    mq_err_t err =
        mq__consumer_call(c, "LeaveGroup", buf, len, c->conf->request_timeout_ms, on_leave, call);
    pthread_mutex_lock(&c->lock);
    if (err != MQ_OK) {
        free(call);
        g->leave_inflight = 0;
    }
}

/* ---- the turn ------------------------------------------------------------------------------ */

static void check_poll_interval(mq_consumer_t *c, struct mq_group *g, int64_t now)
{
    if (g->state == G_JOINED && !g->leave_after &&
        now - c->last_poll_ms > c->conf->max_poll_interval_ms) {
        char text[256];
        snprintf(text, sizeof(text),
                 "group \"%s\": the application did not poll for max.poll.interval.ms (%lld "
                 "ms); left the group, the next poll joins again",
                 c->conf->group_id, (long long)c->conf->max_poll_interval_ms);
        push_error(c, MQ_ERR_MAX_POLL_EXCEEDED, text);
        if (!g->revoking)
            start_revoke(c, 1);
        g->leave_after = 1;
        g->poll_exceeded = 1;
        return;
    }
    if (g->state == G_LEFT && g->poll_exceeded &&
        now - c->last_poll_ms <= c->conf->max_poll_interval_ms && !c->closing) {
        g->poll_exceeded = 0;
        g->state = G_JOIN;
        g->retry_at_ms = 0;
    }
}

void mq__group_tick(mq_consumer_t *c, int64_t now, int64_t *next)
{
    pthread_mutex_lock(&c->lock);
    struct mq_group *g = c->group;
    if (!g) {
        pthread_mutex_unlock(&c->lock);
        return;
    }
    int connected = c->conn && mq__conn_established(c->conn);
    if (c->closing && !g->close_started) {
        g->close_started = 1;
        if (g->state == G_JOINED) {
            if (!g->revoking)
                start_revoke(c, 1);
            else
                for (mq_cpart_t *p = c->parts; p; p = p->next)
                    p->revoking |= p->assigned; /* the current revoke takes them all */
            g->leave_after = 1;
        } else if (g->state == G_JOIN) {
            g->state = G_IDLE;
        }
    }
    if (c->closing && !connected) {
        /* No broker to commit to or leave: the session timeout will move
         * the partitions. */
        if (g->state == G_JOINED || g->revoking)
            lose_all(c, MQ_REBALANCE_LOST);
        g->state = G_IDLE;
        pthread_mutex_unlock(&c->lock);
        return;
    }
    check_poll_interval(c, g, now);
    if (g->revoking && (!g->revoke_op || g->revoke_op->done)) {
        finish_revoke(c);
        if (g->leave_after && connected)
            send_leave(c, g);
    }
    if (!connected) {
        pthread_mutex_unlock(&c->lock);
        return;
    }
    if (g->state == G_JOIN && !g->join_inflight && !c->closing) {
        if (now >= g->retry_at_ms)
            send_join(c, g);
        else
            *next = mq__min64(*next, g->retry_at_ms);
    }
    if (g->state == G_JOINED && g->sub_changed && !g->join_inflight && !g->revoking) {
        /* JoinGroup with our member id changes the subscription. */
        g->state = G_JOIN;
        send_join(c, g);
    }
    if (g->state == G_JOINED && !g->hb_inflight && !g->revoking && !g->leave_after) {
        if (g->hb_now || now >= g->hb_at_ms)
            send_heartbeat(c, g, now);
        else
            *next = mq__min64(*next, g->hb_at_ms);
    }
    if (g->state == G_JOINED && c->conf->max_poll_interval_ms)
        *next = mq__min64(*next, c->last_poll_ms + c->conf->max_poll_interval_ms + 1);
    pthread_mutex_unlock(&c->lock);
}
