/* Offsets: where a partition starts (ListOffsets for earliest/latest,
 * FetchOffsets for the group's committed offset, auto.offset.reset when
 * there is none or it is out of range), the application's lookups
 * (offsets_for_times, committed), and commits (explicit, async, and
 * enable.auto.commit of only the offsets poll has stored). I/O thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer/consumer.h"
#include "consumer/group.h"
#include "error.h"
#include "mq/v1/broker.pb-c.h"

/* What a ListOffsets / FetchOffsets call answers: partitions being
 * started, or an application op. */
typedef struct lookup_call {
    mq_consumer_t *c;
    mq_op_t *op; /* NULL: starting partitions */
    size_t n;
    struct {
        mq_cpart_t *p;
        uint32_t version;
    } parts[];
} lookup_call_t;

static void push_error(mq_consumer_t *c, mq_err_t err, const char *text, mq_cpart_t *p)
{
    mq_event_t *ev = mq__cerror_event(err, text, p);
    if (ev)
        mq__cq_push_event(c, ev, NULL);
}

void mq__offsets_reset(mq_consumer_t *c, mq_cpart_t *p, const char *why)
{
    switch (c->conf->auto_offset_reset) {
    case MQ__RESET_EARLIEST:
        mq__cpart_restart(c, p, MQ_OFFSET_BEGINNING);
        return;
    case MQ__RESET_LATEST:
        mq__cpart_restart(c, p, MQ_OFFSET_END);
        return;
    default:
        break;
    }
    p->version++;
    mq__cq_purge(c, p);
    p->state = P_ERROR;
    char text[600];
    snprintf(text, sizeof(text), "%s; auto.offset.reset=error: seek to go on", why);
    push_error(c, MQ_ERR_OFFSET_OUT_OF_RANGE, text, p);
}

/* ---- ListOffsets ------------------------------------------------------------------ */

static void set_part_error(mq_consumer_t *c, mq_cpart_t *p, mq_err_t err, const char *what,
                           const char *msg)
{
    char text[512];
    snprintf(text, sizeof(text), "%s [%d]: %s failed: %s", p->topic, p->partition, what,
             msg && msg[0] ? msg : mq_err_str(err));
    p->state = P_START;
    p->retry_at_ms = mq__mono_ms() + mq__backoff_next(&p->retry_backoff);
    if (err != MQ_ERR_TRANSPORT)
        push_error(c, err, text, p);
}

/* The broker answers a time lookup with the base offset of the first batch
 * whose newest record is late enough (it never opens batches). The exact
 * answer, the first record at or after the time, is inside that batch: one
 * Fetch per partition (only the first partition of a Fetch is sure to get a
 * whole batch past the byte caps) finds it. */
typedef struct refine_call {
    mq_consumer_t *c;
    mq_op_t *op;
    size_t n;
    size_t pending; /* Fetch calls not answered yet (under c->lock) */
    struct {
        size_t idx;
        int64_t ts;
    } parts[];
} refine_call_t;

typedef struct refine_one {
    refine_call_t *rc;
    size_t k;
} refine_one_t;

/* The op's partitions that need a look into their batch (lock held). */
static refine_call_t *refine_new(mq_consumer_t *c, mq_op_t *op,
                                 const Mq__V1__ListOffsetsResponse *r)
{
    size_t n = 0;
    for (size_t i = 0; i < op->n; i++)
        n += op->parts[i].offset >= 0 && !r->results[i]->error_code && r->results[i]->offset >= 0;
    refine_call_t *rc = n ? malloc(sizeof(*rc) + n * sizeof(rc->parts[0])) : NULL;
    if (!rc)
        return NULL;
    rc->c = c;
    rc->op = op;
    rc->n = 0;
    for (size_t i = 0; i < op->n; i++) {
        if (op->parts[i].offset >= 0 && !r->results[i]->error_code && r->results[i]->offset >= 0) {
            rc->parts[rc->n].idx = i;
            rc->parts[rc->n++].ts = op->parts[i].offset; /* the time asked for */
        }
    }
    rc->pending = rc->n;
    return rc;
}

static int64_t first_at_or_after(const uint8_t *batch, size_t len, int64_t ts)
{
    mq_record_iter_t it;
    mq_record_t rec;
    int64_t found = -1;
    if (mq__record_iter_init(&it, batch, len) == MQ_OK)
        while (found < 0 && mq__record_iter_next(&it, &rec) == 1)
            if (rec.timestamp >= ts)
                found = rec.offset;
    mq__record_iter_free(&it);
    return found;
}

static void on_refine(void *arg, mq_err_t err, const char *msg, const uint8_t *resp, size_t len,
                      int sent)
{
    (void)sent;
    (void)msg;
    refine_one_t *one = arg;
    refine_call_t *call = one->rc;
    mq_consumer_t *c = call->c;
    Mq__V1__FetchResponse *r =
        err == MQ_OK ? mq__v1__fetch_response__unpack(NULL, len, resp) : NULL;
    pthread_mutex_lock(&c->lock);
    /* Without an answer the broker's offset stays: a valid lower bound. */
    if (r && r->n_partitions == 1 && !r->partitions[0]->error_code) {
        Mq__V1__FetchPartitionData *d = r->partitions[0];
        int64_t off = first_at_or_after(d->records.data, d->records.len, call->parts[one->k].ts);
        if (off >= 0)
            call->op->parts[call->parts[one->k].idx].offset = off;
    }
    int last = --call->pending == 0;
    if (last)
        mq__op_finish(c, call->op, MQ_OK, NULL);
    pthread_mutex_unlock(&c->lock);
    if (r)
        mq__v1__fetch_response__free_unpacked(r, NULL);
    free(one);
    if (last)
        free(call);
}

static void send_refine(mq_consumer_t *c, refine_call_t *call)
{
    size_t n = call->n; /* call may be freed by the last answer */
    for (size_t k = 0; k < n; k++) {
        refine_one_t *one = malloc(sizeof(*one));
        uint8_t buf[1024];
        mq_err_t err = MQ_ERR_NO_MEMORY;
        if (one) {
            one->rc = call;
            one->k = k;
            mq_topic_partition_t *tp = &call->op->parts[call->parts[k].idx];
            Mq__V1__FetchPartition fp = MQ__V1__FETCH_PARTITION__INIT;
            Mq__V1__FetchPartition *fpp = &fp;
            fp.topic = (char *)tp->topic;
            fp.partition = tp->partition;
            fp.fetch_offset = tp->offset;
            fp.partition_max_bytes = 1; /* the first batch only (always whole) */
            Mq__V1__FetchRequest req = MQ__V1__FETCH_REQUEST__INIT;
            req.n_partitions = 1;
            req.partitions = &fpp;
            req.member_epoch = -1;
            size_t len = mq__v1__fetch_request__get_packed_size(&req);
            if (len <= sizeof(buf)) {
                mq__v1__fetch_request__pack(&req, buf);
                err = mq__consumer_call(c, "Fetch", buf, len, c->conf->request_timeout_ms,
                                        on_refine, one);
            }
        }
        if (err != MQ_OK) {
            if (!one) {
                pthread_mutex_lock(&c->lock);
                int last = --call->pending == 0;
                if (last)
                    mq__op_finish(c, call->op, MQ_OK, NULL);
                pthread_mutex_unlock(&c->lock);
                if (last)
                    free(call);
                continue;
            }
            on_refine(one, err, NULL, NULL, 0, 0);
        }
    }
}

static void on_list_offsets(void *arg, mq_err_t err, const char *msg, const uint8_t *resp,
                            size_t len, int sent)
{
    (void)sent;
    lookup_call_t *call = arg;
    mq_consumer_t *c = call->c;
    Mq__V1__ListOffsetsResponse *r = NULL;
    if (err == MQ_OK && (!(r = mq__v1__list_offsets_response__unpack(NULL, len, resp)) ||
                         r->n_results != call->n)) {
        err = MQ_ERR_PROTOCOL;
        msg = "the ListOffsets response does not answer every partition";
    }
    pthread_mutex_lock(&c->lock);
    refine_call_t *refine = NULL;
    if (call->op) {
        refine = err == MQ_OK ? refine_new(c, call->op, r) : NULL;
        for (size_t i = 0; err == MQ_OK && i < call->n; i++) {
            call->op->parts[i].offset = r->results[i]->offset;
            call->op->parts[i].err = mq__err_from_wire(r->results[i]->error_code);
        }
        if (!refine)
            mq__op_finish(c, call->op, err, msg);
    } else {
        for (size_t i = 0; i < call->n; i++) {
            mq_cpart_t *p = call->parts[i].p;
            if (p->version != call->parts[i].version || p->state != P_LOOKUP)
                continue;
            mq_err_t e = err == MQ_OK ? mq__err_from_wire(r->results[i]->error_code) : err;
            if (e != MQ_OK) {
                set_part_error(c, p, e, "ListOffsets",
                               err == MQ_OK ? r->results[i]->error_message : msg);
                continue;
            }
            p->position = p->fetch_pos = r->results[i]->offset;
            p->state = P_READY;
            mq__backoff_reset(&p->retry_backoff);
        }
        mq__consumer_wake(c);
    }
    pthread_mutex_unlock(&c->lock);
    if (r)
        mq__v1__list_offsets_response__free_unpacked(r, NULL);
    free(call);
    if (refine)
        send_refine(c, refine);
}

static void send_list_offsets(mq_consumer_t *c, lookup_call_t *call,
                              const mq_topic_partition_t *tps)
{
    Mq__V1__ListOffsetsPartition *lp = calloc(call->n, sizeof(*lp));
    Mq__V1__ListOffsetsPartition **lpp = calloc(call->n, sizeof(*lpp));
    uint8_t *buf = NULL;
    mq_err_t err = MQ_ERR_NO_MEMORY;
    if (lp && lpp) {
        for (size_t i = 0; i < call->n; i++) {
            mq__v1__list_offsets_partition__init(&lp[i]);
            lp[i].topic = (char *)tps[i].topic;
            lp[i].partition = tps[i].partition;
            lp[i].timestamp = tps[i].offset;
            lpp[i] = &lp[i];
        }
        Mq__V1__ListOffsetsRequest req = MQ__V1__LIST_OFFSETS_REQUEST__INIT;
        req.n_partitions = call->n;
        req.partitions = lpp;
        size_t len = mq__v1__list_offsets_request__get_packed_size(&req);
        if ((buf = malloc(len ? len : 1))) {
            mq__v1__list_offsets_request__pack(&req, buf);
            err = mq__consumer_call(c, "ListOffsets", buf, len, c->conf->request_timeout_ms,
                                    on_list_offsets, call);
        }
    }
    free(lp);
    free(lpp);
    free(buf);
    if (err != MQ_OK)
        on_list_offsets(call, err, "cannot send ListOffsets", NULL, 0, 0);
}

/* ---- FetchOffsets ---------------------------------------------------------------------- */

static void on_fetch_offsets(void *arg, mq_err_t err, const char *msg, const uint8_t *resp,
                             size_t len, int sent)
{
    (void)sent;
    lookup_call_t *call = arg;
    mq_consumer_t *c = call->c;
    Mq__V1__FetchOffsetsResponse *r = NULL;
    if (err == MQ_OK && !(r = mq__v1__fetch_offsets_response__unpack(NULL, len, resp))) {
        err = MQ_ERR_PROTOCOL;
        msg = "cannot decode the FetchOffsets response";
    }
    if (err == MQ_OK && r->error_code) {
        err = mq__err_from_wire(r->error_code);
        msg = r->error_message;
    }
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < call->n; i++) {
        const char *topic = call->op ? call->op->parts[i].topic : call->parts[i].p->topic;
        int32_t part = call->op ? call->op->parts[i].partition : call->parts[i].p->partition;
        Mq__V1__FetchOffsetResult *res = NULL;
        for (size_t k = 0; err == MQ_OK && k < r->n_results && !res; k++)
            if (r->results[k]->partition == part && r->results[k]->topic &&
                !strcmp(r->results[k]->topic, topic))
                res = r->results[k];
        mq_err_t e = err != MQ_OK ? err : res ? mq__err_from_wire(res->error_code) : MQ_OK;
        int64_t off = res && e == MQ_OK ? res->offset : -1;
        if (call->op) {
            call->op->parts[i].offset = off;
            call->op->parts[i].err = e;
            continue;
        }
        mq_cpart_t *p = call->parts[i].p;
        if (p->version != call->parts[i].version || p->state != P_LOOKUP)
            continue;
        if (e != MQ_OK) {
            set_part_error(c, p, e, "FetchOffsets", err != MQ_OK ? msg : res->error_message);
            continue;
        }
        if (off < 0) {
            char why[300];
            snprintf(why, sizeof(why), "%s [%d]: group \"%s\" has no committed offset", p->topic,
                     p->partition, c->conf->group_id);
            mq__offsets_reset(c, p, why);
            continue;
        }
        p->committed = off;
        p->position = p->fetch_pos = off;
        p->state = P_READY;
        mq__backoff_reset(&p->retry_backoff);
    }
    if (call->op)
        mq__op_finish(c, call->op, err, msg);
    else
        mq__consumer_wake(c);
    pthread_mutex_unlock(&c->lock);
    if (r)
        mq__v1__fetch_offsets_response__free_unpacked(r, NULL);
    free(call);
}

static void send_fetch_offsets(mq_consumer_t *c, lookup_call_t *call,
                               const mq_topic_partition_t *tps)
{
    /* One TopicPartitions per element: simple, and the broker accepts repeats. */
    Mq__V1__TopicPartitions *tp = calloc(call->n, sizeof(*tp));
    Mq__V1__TopicPartitions **tpp = calloc(call->n, sizeof(*tpp));
    int32_t *nums = calloc(call->n, sizeof(*nums));
    uint8_t *buf = NULL;
    mq_err_t err = MQ_ERR_NO_MEMORY;
    if (tp && tpp && nums) {
        for (size_t i = 0; i < call->n; i++) {
            mq__v1__topic_partitions__init(&tp[i]);
            tp[i].topic = (char *)tps[i].topic;
            nums[i] = tps[i].partition;
            tp[i].n_partitions = 1;
            tp[i].partitions = &nums[i];
            tpp[i] = &tp[i];
        }
        Mq__V1__FetchOffsetsRequest req = MQ__V1__FETCH_OFFSETS_REQUEST__INIT;
        req.group_id = c->conf->group_id;
        req.n_partitions = call->n;
        req.partitions = tpp;
        size_t len = mq__v1__fetch_offsets_request__get_packed_size(&req);
        if ((buf = malloc(len ? len : 1))) {
            mq__v1__fetch_offsets_request__pack(&req, buf);
            err = mq__consumer_call(c, "FetchOffsets", buf, len, c->conf->request_timeout_ms,
                                    on_fetch_offsets, call);
        }
    }
    free(tp);
    free(tpp);
    free(nums);
    free(buf);
    if (err != MQ_OK)
        on_fetch_offsets(call, err, "cannot send FetchOffsets", NULL, 0, 0);
}

/* ---- CommitOffsets ------------------------------------------------------------------------ */

typedef struct commit_call {
    mq_consumer_t *c;
    mq_op_t *op;
} commit_call_t;

static void on_commit(void *arg, mq_err_t err, const char *msg, const uint8_t *resp, size_t len,
                      int sent)
{
    (void)sent;
    commit_call_t *call = arg;
    mq_consumer_t *c = call->c;
    mq_op_t *op = call->op;
    Mq__V1__CommitOffsetsResponse *r = NULL;
    if (err == MQ_OK && !(r = mq__v1__commit_offsets_response__unpack(NULL, len, resp))) {
        err = MQ_ERR_PROTOCOL;
        msg = "cannot decode the CommitOffsets response";
    }
    if (err == MQ_OK && r->error_code) {
        err = mq__err_from_wire(r->error_code);
        msg = r->error_message;
    }
    pthread_mutex_lock(&c->lock);
    c->stats.commits++;
    mq_err_t first = MQ_OK;
    const char *first_msg = NULL;
    for (size_t i = 0; i < op->n; i++) {
        mq_err_t e = err;
        if (err == MQ_OK && r && i < r->n_results) {
            e = mq__err_from_wire(r->results[i]->error_code);
            if (e && first == MQ_OK) {
                first = e;
                first_msg = r->results[i]->error_message;
            }
        }
        op->parts[i].err = e;
        if (e != MQ_OK)
            continue;
        mq_cpart_t *p = mq__cpart_find(c, op->parts[i].topic, op->parts[i].partition);
        if (p)
            p->committed = op->parts[i].offset;
    }
    if (err == MQ_OK) {
        err = first;
        msg = first_msg;
    }
    if (err != MQ_OK)
        c->stats.commit_errors++;
    if (err == MQ_ERR_UNKNOWN_MEMBER || err == MQ_ERR_FENCED_MEMBER_EPOCH)
        mq__group_fenced(c, err);
    char text[512];
    snprintf(text, sizeof(text), "commit failed: %s", msg && msg[0] ? msg : mq_err_str(err));
    c->commits_in_flight--;
    mq__op_finish(c, op, err, err ? text : NULL);
    pthread_mutex_unlock(&c->lock);
    if (r)
        mq__v1__commit_offsets_response__free_unpacked(r, NULL);
    free(call);
}

static void send_commit(mq_consumer_t *c, mq_op_t *op)
{
    commit_call_t *call = malloc(sizeof(*call));
    Mq__V1__CommitOffsetPartition *cp = calloc(op->n ? op->n : 1, sizeof(*cp));
    Mq__V1__CommitOffsetPartition **cpp = calloc(op->n ? op->n : 1, sizeof(*cpp));
    uint8_t *buf = NULL;
    mq_err_t err = MQ_ERR_NO_MEMORY;
    pthread_mutex_lock(&c->lock);
    c->commits_in_flight++;
    if (call && cp && cpp) {
        call->c = c;
        call->op = op;
        for (size_t i = 0; i < op->n; i++) {
            mq__v1__commit_offset_partition__init(&cp[i]);
            cp[i].topic = (char *)op->parts[i].topic;
            cp[i].partition = op->parts[i].partition;
            cp[i].offset = op->parts[i].offset;
            cpp[i] = &cp[i];
        }
        Mq__V1__CommitOffsetsRequest req = MQ__V1__COMMIT_OFFSETS_REQUEST__INIT;
        const char *gid = c->conf->group_id, *mid = "";
        int32_t epoch = -1;
        mq__group_member(c, &gid, &mid, &epoch);
        req.group_id = (char *)c->conf->group_id;
        req.member_id = (char *)mid;
        req.member_epoch = epoch;
        req.n_partitions = op->n;
        req.partitions = cpp;
        size_t len = mq__v1__commit_offsets_request__get_packed_size(&req);
        if ((buf = malloc(len ? len : 1)))
            mq__v1__commit_offsets_request__pack(&req, buf);
        pthread_mutex_unlock(&c->lock);
        if (buf)
            err = mq__consumer_call(c, "CommitOffsets", buf, len, c->conf->request_timeout_ms,
                                    on_commit, call);
    } else {
        pthread_mutex_unlock(&c->lock);
    }
    free(cp);
    free(cpp);
    free(buf);
    if (err == MQ_OK)
        return;
    if (!call) {
        pthread_mutex_lock(&c->lock);
        c->commits_in_flight--;
        mq__op_finish(c, op, err, "out of memory");
        pthread_mutex_unlock(&c->lock);
        return;
    }
    on_commit(call, err, "cannot send CommitOffsets", NULL, 0, 0);
}

int mq__offsets_busy(mq_consumer_t *c)
{
    return c->commits_in_flight > 0;
}

int mq__offsets_auto_commit(mq_consumer_t *c)
{
    if (!c->conf->enable_auto_commit || !c->conf->group_id[0])
        return 0;
    size_t n = 0, i = 0;
    for (mq_cpart_t *p = c->parts; p; p = p->next)
        n += p->assigned && p->stored >= 0 && p->stored != p->committed;
    if (n == 0)
        return 0;
    mq_topic_partition_t *v = calloc(n, sizeof(*v));
    if (!v)
        return 0;
    for (mq_cpart_t *p = c->parts; p; p = p->next)
        if (p->assigned && p->stored >= 0 && p->stored != p->committed)
            v[i++] = (mq_topic_partition_t){p->topic, p->partition, MQ_OK, p->stored};
    mq_op_t *op = mq__op_new(OP_COMMIT, v, n);
    free(v);
    if (!op)
        return 0;
    op->auto_commit = 1;
    mq_op_t **pp = &c->ops;
    while (*pp)
        pp = &(*pp)->next;
    *pp = op;
    return 1;
}

/* ---- the turn ----------------------------------------------------------------------------- */

/* Starts every partition that waits for its start offset. */
void mq__offsets_resolve(mq_consumer_t *c, int64_t now, int64_t *next)
{
    pthread_mutex_lock(&c->lock);
    size_t nl = 0, nf = 0;
    for (mq_cpart_t *p = c->parts; p; p = p->next) {
        if (!p->assigned || p->state != P_START || p->revoking)
            continue;
        if (now < p->retry_at_ms) {
            *next = mq__min64(*next, p->retry_at_ms);
            continue;
        }
        if (p->want == MQ_OFFSET_STORED && !c->conf->group_id[0]) {
            char why[300];
            snprintf(why, sizeof(why), "%s [%d]: no committed offset without group.id", p->topic,
                     p->partition);
            mq__offsets_reset(c, p, why);
            if (p->state != P_START)
                continue;
        }
        if (p->want == MQ_OFFSET_STORED)
            nf++;
        else
            nl++;
    }
    lookup_call_t *lc = nl ? malloc(sizeof(*lc) + nl * sizeof(lc->parts[0])) : NULL;
    lookup_call_t *fc = nf ? malloc(sizeof(*fc) + nf * sizeof(fc->parts[0])) : NULL;
    mq_topic_partition_t *lt = nl ? calloc(nl, sizeof(*lt)) : NULL;
    mq_topic_partition_t *ft = nf ? calloc(nf, sizeof(*ft)) : NULL;
    if ((nl && (!lc || !lt)) || (nf && (!fc || !ft))) {
        pthread_mutex_unlock(&c->lock);
        free(lc), free(fc), free(lt), free(ft);
        return;
    }
    size_t il = 0, jf = 0;
    for (mq_cpart_t *p = c->parts; p; p = p->next) {
        if (!p->assigned || p->state != P_START || p->revoking || now < p->retry_at_ms)
            continue;
        p->state = P_LOOKUP;
        if (p->want == MQ_OFFSET_STORED) {
            fc->parts[jf].p = p;
            fc->parts[jf].version = p->version;
            ft[jf++] = (mq_topic_partition_t){p->topic, p->partition, MQ_OK, 0};
        } else {
            lc->parts[il].p = p;
            lc->parts[il].version = p->version;
            lt[il++] = (mq_topic_partition_t){p->topic, p->partition, MQ_OK, p->want};
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (lc) {
        lc->c = c;
        lc->op = NULL;
        lc->n = il;
        send_list_offsets(c, lc, lt);
    }
    if (fc) {
        fc->c = c;
        fc->op = NULL;
        fc->n = jf;
        send_fetch_offsets(c, fc, ft);
    }
    free(lt);
    free(ft);
}

/* Sends the application's ops, and auto-commits on its interval. */
void mq__offsets_tick(mq_consumer_t *c, int64_t now, int64_t *next)
{
    pthread_mutex_lock(&c->lock);
    if (c->conf->enable_auto_commit && c->conf->group_id[0]) {
        if (!c->commit_at_ms)
            c->commit_at_ms = now + c->conf->auto_commit_interval_ms;
        if (now >= c->commit_at_ms) {
            c->commit_at_ms = now + c->conf->auto_commit_interval_ms;
            if (!c->closing)
                mq__offsets_auto_commit(c);
        }
        *next = mq__min64(*next, c->commit_at_ms);
    }
    /* Closing without a group: one final commit of what poll returned (a
     * group commits when it revokes). */
    if (c->closing == 1 && !c->close_committed && !c->group) {
        c->close_committed = 1;
        mq__offsets_auto_commit(c);
    }
    mq_op_t *ops = c->ops;
    c->ops = NULL;
    pthread_mutex_unlock(&c->lock);
    while (ops) {
        mq_op_t *op = ops;
        ops = op->next;
        op->next = NULL;
        if (op->type == OP_COMMIT) {
            send_commit(c, op);
            continue;
        }
        lookup_call_t *call = malloc(sizeof(*call));
        if (!call) {
            pthread_mutex_lock(&c->lock);
            mq__op_finish(c, op, MQ_ERR_NO_MEMORY, "out of memory");
            pthread_mutex_unlock(&c->lock);
            continue;
        }
        call->c = c;
        call->op = op;
        call->n = op->n;
        if (op->type == OP_LIST_OFFSETS)
            send_list_offsets(c, call, op->parts);
        else
            send_fetch_offsets(c, call, op->parts);
    }
}
