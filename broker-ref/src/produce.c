/* The Produce RPC: validate each batch, append it to its partition, and
 * answer per acks — none and leader right after the append, all once the
 * fsync thread's part_flush covers every partition written. Per-partition
 * errors ride in the results with grpc-status OK. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "config.h"
#include "error.h"
#include "flusher.h"
#include "log.h"
#include "meta.h"
#include "metrics.h"
#include "mq/v1/broker.pb-c.h"
#include "server.h"
#include "topics.h"
#include "wire/batch.h"

typedef struct produce produce_t;

/* One partition written by an acks=all request, waiting for its fsync. */
typedef struct flush_slot {
    produce_t *st;
    char *topic;
    int32_t partition;
    mq_err_t err;
    int pending;
} flush_slot_t;

struct produce {
    call_t *call;
    Mq__V1__ProduceRequest *req;
    Mq__V1__ProducePartitionResult *results;
    Mq__V1__ProducePartitionResult **rptrs;
    char **messages; /* per result: malloc'd error text or NULL */
    int *slot_of;    /* per result: index into slots, or -1 */
    flush_slot_t *slots;
    int nslots;
    int pending;  /* async operations outstanding (creates, fsyncs) */
    int answered; /* replied, failed or cancelled */
    loop_timer_t timeout;
};

static void produce_free(produce_t *st)
{
    if (st->messages) {
        for (size_t i = 0; i < st->req->n_batches; i++)
            free(st->messages[i]);
        free(st->messages);
    }
    if (st->req)
        mq__v1__produce_request__free_unpacked(st->req, NULL);
    free(st->results);
    free(st->rptrs);
    free(st->slot_of);
    free(st->slots);
    free(st);
}

static void produce_release(produce_t *st)
{
    if (st->pending > 0)
        return;
    loop_timer_stop(st->call->loop, &st->timeout);
    call_t *c = st->call;
    produce_free(st);
    call_unref(c);
}

static void set_error(produce_t *st, size_t i, mq_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_error(produce_t *st, size_t i, mq_err_t err, const char *fmt, ...)
{
    st->results[i].error_code = mq__err_to_wire(err);
    st->results[i].base_offset = -1;
    st->results[i].log_append_time_ms = -1;
    char text[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    free(st->messages[i]);
    st->messages[i] = strdup(text);
    st->results[i].error_message = st->messages[i] ? st->messages[i] : "";
}

static void reply(produce_t *st)
{
    if (st->answered)
        return;
    st->answered = 1;
    st->call->on_cancel = NULL;
    if (st->req->acks == 0) {
        /* docs/protocol.md 2.2: acks=0 reports no outcome. */
        for (size_t i = 0; i < st->req->n_batches; i++) {
            Mq__V1__ProducePartitionResult *r = &st->results[i];
            if (r->error_code != 0)
                log_debug("\"acks=0 batch failed\" topic=%s partition=%d err=\"%s\"", r->topic,
                          r->partition, r->error_message);
            r->error_code = 0;
            r->base_offset = -1;
            r->log_append_time_ms = -1;
            r->error_message = "";
        }
    }
    Mq__V1__ProduceResponse resp = MQ__V1__PRODUCE_RESPONSE__INIT;
    resp.n_results = st->req->n_batches;
    resp.results = st->rptrs;
    call_reply_pb(st->call, &resp);
}

static void on_cancel(call_t *c)
{
    produce_t *st = c->state;
    st->answered = 1;
}

/* Finds or adds the flush slot of (topic, partition). */
static int slot_for(produce_t *st, const char *topic, int32_t partition)
{
    for (int i = 0; i < st->nslots; i++)
        if (st->slots[i].partition == partition && !strcmp(st->slots[i].topic, topic))
            return i;
    flush_slot_t *s = &st->slots[st->nslots];
    s->st = st;
    s->topic = (char *)topic;
    s->partition = partition;
    s->err = MQ_OK;
    return st->nslots++;
}

/* Validates and appends batch i; fills its result. */
static void append_one(produce_t *st, size_t i, int64_t now_ms)
{
    Mq__V1__PartitionBatch *b = st->req->batches[i];
    Mq__V1__ProducePartitionResult *r = &st->results[i];
    topic_t *t = topics_get(b->topic);
    if (!t) {
        set_error(st, i, MQ_ERR_UNKNOWN_TOPIC, "unknown topic '%s'", b->topic);
        return;
    }
    if (b->partition < 0 || b->partition >= t->partition_count || !t->parts[b->partition]) {
        set_error(st, i, MQ_ERR_UNKNOWN_PARTITION, "topic '%s' has no partition %d (it has %d)",
                  b->topic, b->partition, t->partition_count);
        topic_release(t);
        return;
    }
    log_config_t lc;
    topic_get_config(t, &lc, NULL);
    size_t len = b->records.len;
    if (len > (size_t)lc.max_message_bytes) {
        set_error(st, i, MQ_ERR_MESSAGE_TOO_LARGE,
                  "record batch of %zu bytes exceeds max.message.bytes (%d)", len,
                  lc.max_message_bytes);
        topic_release(t);
        return;
    }
    mq_batch_header_t h;
    mq_err_t err = mq__batch_validate_header(b->records.data, len, &h);
    if (err != MQ_OK) {
        set_error(st, i, err, "record batch rejected: %s", mq_err_str(err));
        topic_release(t);
        return;
    }
    part_t *p = t->parts[b->partition];
    int64_t base = -1, lat = -1;
    err = part_append(p, b->records.data, len, now_ms, &base, &lat);
    if (err != MQ_OK) {
        set_error(st, i, err, "append failed: %s", mq_err_str(err));
        topic_release(t);
        return;
    }
    part_stats_t ps;
    part_get_stats(p, &ps);
    r->base_offset = base;
    r->log_append_time_ms = lc.message_timestamp_log_append ? lat : -1;
    r->log_start_offset = ps.log_start_offset;
    metrics_produced(t->name, b->partition, h.record_count, len);
    if (st->req->acks == -1)
        st->slot_of[i] = slot_for(st, b->topic, b->partition);
    topic_release(t);
}

static void on_flushed(loop_t *loop, void *arg, mq_err_t err)
{
    (void)loop;
    flush_slot_t *s = arg;
    produce_t *st = s->st;
    if (err != MQ_OK)
        s->err = err;
    if (--s->pending == 0 && s->err != MQ_OK) {
        for (size_t i = 0; i < st->req->n_batches; i++)
            if (st->slot_of[i] == s - st->slots)
                set_error(st, i, s->err, "fsync failed: %s", mq_err_str(s->err));
    }
    st->pending--;
    if (st->pending == 0)
        reply(st);
    produce_release(st);
}

/* acks=all waited longer than the request's timeout_ms. */
static void on_timeout(loop_t *loop, loop_timer_t *t)
{
    (void)loop;
    produce_t *st = t->data;
    for (size_t i = 0; i < st->req->n_batches; i++) {
        int s = st->slot_of[i];
        if (s >= 0 && st->slots[s].pending > 0)
            set_error(st, i, MQ_ERR_TIMED_OUT, "not fsync'd within timeout_ms (%d)",
                      st->req->timeout_ms);
    }
    reply(st);
}

static void append_all(produce_t *st)
{
    int64_t now = wall_now_ms();
    int appended = 0;
    for (size_t i = 0; i < st->req->n_batches; i++) {
        append_one(st, i, now);
        if (st->results[i].error_code == 0)
            appended++;
    }
    if (appended)
        fetch_notify_append();
    if (st->req->acks != -1 || st->nslots == 0) {
        reply(st);
        return;
    }
    int waiting = 0;
    for (int i = 0; i < st->nslots; i++) {
        flush_slot_t *s = &st->slots[i];
        topic_t *t = topics_get(s->topic);
        mq_err_t err = t ? flusher_request(t, s->partition, st->call->loop, on_flushed, s)
                         : MQ_ERR_UNKNOWN_TOPIC;
        if (t)
            topic_release(t);
        if (err == MQ_OK) {
            s->pending++;
            st->pending++;
            waiting++;
            continue;
        }
        s->err = err;
        for (size_t j = 0; j < st->req->n_batches; j++)
            if (st->slot_of[j] == i)
                set_error(st, j, err, "cannot wait for fsync: %s", mq_err_str(err));
    }
    if (waiting == 0) {
        reply(st);
        return;
    }
    if (st->req->timeout_ms > 0)
        loop_timer_start(st->call->loop, &st->timeout, loop_now_ms() + st->req->timeout_ms);
}

static void on_created(loop_t *loop, void *arg, mq_err_t err)
{
    (void)loop;
    produce_t *st = arg;
    if (err != MQ_OK && err != MQ_ERR_TOPIC_EXISTS)
        log_warn("\"auto-create failed\" err=%s", mq_err_name(err));
    st->pending--;
    if (st->pending == 0 && !st->answered && !call_is_done(st->call))
        append_all(st);
    produce_release(st);
}

/* With auto.create.topics.enable: asks the metadata thread for every topic
 * that is missing. Returns how many creations were started. */
static int create_missing(produce_t *st)
{
    int started = 0;
    for (size_t i = 0; i < st->req->n_batches; i++) {
        const char *name = st->req->batches[i]->topic;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(st->req->batches[j]->topic, name);
        if (seen || topics_validate_name(name) != MQ_OK)
            continue;
        topic_t *t = topics_get(name);
        if (t) {
            topic_release(t);
            continue;
        }
        st->pending++;
        started++;
        meta_create_topic(name, g_config.default_partitions, st->call->loop, on_created, st);
    }
    return started;
}

void produce_handle(call_t *c, const uint8_t *msg, size_t len)
{
    Mq__V1__ProduceRequest *req = mq__v1__produce_request__unpack(NULL, len, msg);
    if (!req) {
        call_fail(c, MQ_GRPC_INVALID_ARGUMENT, "malformed ProduceRequest (protobuf did not parse)");
        return;
    }
    if (req->acks != 0 && req->acks != 1 && req->acks != -1) {
        call_fail(c, MQ_GRPC_INVALID_ARGUMENT, "acks must be 0, 1 or -1 (got %d)", req->acks);
        mq__v1__produce_request__free_unpacked(req, NULL);
        return;
    }
    size_t n = req->n_batches;
    produce_t *st = calloc(1, sizeof(*st));
    if (st) {
        st->req = req;
        st->results = calloc(n ? n : 1, sizeof(*st->results));
        st->rptrs = calloc(n ? n : 1, sizeof(*st->rptrs));
        st->messages = calloc(n ? n : 1, sizeof(*st->messages));
        st->slot_of = calloc(n ? n : 1, sizeof(*st->slot_of));
        st->slots = calloc(n ? n : 1, sizeof(*st->slots));
    }
    if (!st || !st->results || !st->rptrs || !st->messages || !st->slot_of || !st->slots) {
        if (st) {
            produce_free(st);
        } else {
            mq__v1__produce_request__free_unpacked(req, NULL);
        }
        call_fail(c, MQ_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        Mq__V1__ProducePartitionResult *r = &st->results[i];
        mq__v1__produce_partition_result__init(r);
        r->topic = req->batches[i]->topic;
        r->partition = req->batches[i]->partition;
        r->base_offset = -1;
        r->log_append_time_ms = -1;
        r->log_start_offset = -1;
        st->rptrs[i] = r;
        st->slot_of[i] = -1;
    }
    st->call = c;
    call_ref(c);
    c->state = st;
    c->on_cancel = on_cancel;
    loop_timer_init(&st->timeout, on_timeout, st);
    st->pending = 1; /* ours, while starting */
    if (!g_config.auto_create_topics || create_missing(st) == 0)
        append_all(st);
    st->pending--;
    produce_release(st);
}
