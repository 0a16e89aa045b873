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
#include "acl.h"
#include "flusher.h"
#include "log.h"
#include "meta.h"
#include "metrics.h"
#include "mq/v1/broker.pb-c.h"
#include "server.h"
#include "topics.h"
#include "wire/batch.h"

/* ---- ProduceRequest, decoded in place ---------------------------------- */

typedef struct pb {
    const uint8_t *p;
    const uint8_t *end;
} pb_t;

static int pb_varint(pb_t *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return -1;
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* A length-delimited field's bytes. */
static int pb_bytes(pb_t *r, const uint8_t **data, size_t *len)
{
    uint64_t n;
    if (pb_varint(r, &n) != 0 || n > (uint64_t)(r->end - r->p))
        return -1;
    *data = r->p;
    *len = (size_t)n;
    r->p += n;
    return 0;
}

static int pb_skip(pb_t *r, int wire_type)
{
    uint64_t v;
    const uint8_t *d;
    size_t n;
    switch (wire_type) {
    case 0:
        return pb_varint(r, &v);
    case 1:
        if (r->end - r->p < 8)
            return -1;
        r->p += 8;
        return 0;
    case 2:
        return pb_bytes(r, &d, &n);
    case 5:
        if (r->end - r->p < 4)
            return -1;
        r->p += 4;
        return 0;
    default:
        return -1; /* groups (3, 4) and invalid types */
    }
}

static mq_err_t decode_batch(const uint8_t *data, size_t len, produce_batch_t *b)
{
    pb_t r = {data, data + len};
    const uint8_t *topic = (const uint8_t *)"";
    size_t topic_len = 0;
    b->partition = 0;
    b->records = NULL;
    b->len = 0;
    while (r.p < r.end) {
        uint64_t key;
        if (pb_varint(&r, &key) != 0)
            return MQ_ERR_PROTOCOL;
        int field = (int)(key >> 3), wt = (int)(key & 7);
        if (field == 1 && wt == 2) {
            if (pb_bytes(&r, &topic, &topic_len) != 0)
                return MQ_ERR_PROTOCOL;
        } else if (field == 2 && wt == 0) {
            uint64_t v;
            if (pb_varint(&r, &v) != 0)
                return MQ_ERR_PROTOCOL;
            b->partition = (int32_t)v;
        } else if (field == 3 && wt == 2) {
            const uint8_t *d;
            if (pb_bytes(&r, &d, &b->len) != 0)
                return MQ_ERR_PROTOCOL;
            b->records = (uint8_t *)d;
        } else if (field == 0 || pb_skip(&r, wt) != 0) {
            return MQ_ERR_PROTOCOL;
        }
    }
    if (memchr(topic, 0, topic_len))
        return MQ_ERR_PROTOCOL; /* a proto3 string is UTF-8 text, no NUL */
    b->topic = strndup((const char *)topic, topic_len);
    return b->topic ? MQ_OK : MQ_ERR_NO_MEMORY;
}

void produce_req_free(produce_req_t *r)
{
    for (size_t i = 0; i < r->n_batches; i++)
        free(r->batches[i].topic);
    free(r->batches);
    memset(r, 0, sizeof(*r));
}

mq_err_t produce_req_decode(uint8_t *msg, size_t len, produce_req_t *out)
{
    memset(out, 0, sizeof(*out));
    pb_t r = {msg, msg + len};
    size_t cap = 0;
    mq_err_t err = MQ_OK;
    while (r.p < r.end && err == MQ_OK) {
        uint64_t key, v;
        if (pb_varint(&r, &key) != 0) {
            err = MQ_ERR_PROTOCOL;
            break;
        }
        int field = (int)(key >> 3), wt = (int)(key & 7);
        if ((field == 1 || field == 2) && wt == 0) {
            if (pb_varint(&r, &v) != 0)
                err = MQ_ERR_PROTOCOL;
            else if (field == 1)
                out->acks = (int32_t)v;
            else
                out->timeout_ms = (int32_t)v;
        } else if (field == 3 && wt == 2) {
            const uint8_t *d;
            size_t n;
            if (pb_bytes(&r, &d, &n) != 0) {
                err = MQ_ERR_PROTOCOL;
                break;
            }
            if (out->n_batches == cap) {
                size_t nc = cap ? cap * 2 : 4;
                produce_batch_t *nb = realloc(out->batches, nc * sizeof(*nb));
                if (!nb) {
                    err = MQ_ERR_NO_MEMORY;
                    break;
                }
                out->batches = nb;
                cap = nc;
            }
            err = decode_batch(d, n, &out->batches[out->n_batches]);
            if (err == MQ_OK)
                out->n_batches++;
        } else if (field == 0 || pb_skip(&r, wt) != 0) {
            err = MQ_ERR_PROTOCOL;
        }
    }
    if (err != MQ_OK)
        produce_req_free(out);
    return err;
}

/* ---- handling ----------------------------------------------------------- */

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
    produce_req_t req_store;
    produce_req_t *req;
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
        produce_req_free(st->req);
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
    /* Batches for one partition usually come together: try the last first. */
    int last = st->nslots - 1;
    if (last >= 0 && st->slots[last].partition == partition &&
        !strcmp(st->slots[last].topic, topic))
        return last;
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

/* An append that failed; idempotence errors name the producer's numbers. */
static void set_sequence_error(produce_t *st, size_t i, mq_err_t err, const mq_batch_header_t *h)
{
    switch (err) {
    case MQ_ERR_OUT_OF_ORDER_SEQUENCE:
        set_error(st, i, err,
                  "producer %lld epoch %d: base sequence %d does not continue this "
                  "partition's sequence",
                  (long long)h->producer_id, h->producer_epoch, h->base_sequence);
        break;
    case MQ_ERR_PRODUCER_FENCED:
        set_error(st, i, err, "producer %lld epoch %d is fenced by a newer epoch",
                  (long long)h->producer_id, h->producer_epoch);
        break;
    case MQ_ERR_UNKNOWN_PRODUCER:
        set_error(st, i, err,
                  "producer %lld has no state on this partition and base sequence %d is not 0",
                  (long long)h->producer_id, h->base_sequence);
        break;
    default:
        set_error(st, i, err, "append failed: %s", mq_err_str(err));
    }
}

/* Validates and appends batch i; fills its result. */
static void append_one(produce_t *st, size_t i, int64_t now_ms)
{
    produce_batch_t *b = &st->req->batches[i];
    Mq__V1__ProducePartitionResult *r = &st->results[i];
    /* Before the lookup, so a principal cannot probe which topics exist. */
    if (!acl_check_call(st->call, ACL_OP_WRITE, ACL_RES_TOPIC, b->topic)) {
        set_error(st, i, MQ_ERR_TOPIC_AUTHORIZATION,
                  "principal '%s' is not allowed to write to topic '%s'",
                  acl_call_principal(st->call), b->topic);
        return;
    }
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
    size_t len = b->len;
    if (len > (size_t)lc.max_message_bytes) {
        set_error(st, i, MQ_ERR_MESSAGE_TOO_LARGE,
                  "record batch of %zu bytes exceeds max.message.bytes (%d)", len,
                  lc.max_message_bytes);
        topic_release(t);
        return;
    }
    mq_batch_header_t h;
    mq_err_t err = len ? mq__batch_validate_header(b->records, len, &h) : MQ_ERR_INVALID_BATCH;
    if (err != MQ_OK) {
        set_error(st, i, err, "record batch rejected: %s", mq_err_str(err));
        topic_release(t);
        return;
    }
    part_t *p = t->parts[b->partition];
    int64_t base = -1, lat = -1;
    int dup = 0;
    /* The producer-sequence check runs inside, under the partition's lock. */
    err = part_append_idem(p, b->records, len, now_ms, &base, &lat, &dup);
    if (err != MQ_OK) {
        set_sequence_error(st, i, err, &h);
        topic_release(t);
        return;
    }
    part_stats_t ps;
    part_get_stats(p, &ps);
    r->base_offset = base;
    r->log_append_time_ms = lc.message_timestamp_log_append ? lat : -1;
    r->log_start_offset = ps.log_start_offset;
    if (!dup)
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
    /* Indexes of batches whose topic is being created, to ask only once. */
    size_t *asked = malloc(st->req->n_batches * sizeof(*asked) + 1);
    if (!asked)
        return 0; /* the batches then fail with UNKNOWN_TOPIC */
    for (size_t i = 0; i < st->req->n_batches; i++) {
        const char *name = st->req->batches[i].topic;
        if (topics_validate_name(name) != MQ_OK)
            continue;
        /* Auto-create needs create on the cluster or the topic. */
        if (acl_enabled() && !acl_check_call(st->call, ACL_OP_CREATE, ACL_RES_CLUSTER, "") &&
            !acl_check_call(st->call, ACL_OP_CREATE, ACL_RES_TOPIC, name))
            continue;
        topic_t *t = topics_get(name);
        if (t) {
            topic_release(t);
            continue;
        }
        int seen = 0;
        for (int j = 0; j < started && !seen; j++)
            seen = !strcmp(st->req->batches[asked[j]].topic, name);
        if (seen)
            continue;
        asked[started++] = i;
        st->pending++;
        meta_create_topic(name, g_config.default_partitions, st->call->loop, on_created, st);
    }
    free(asked);
    return started;
}

void produce_handle(call_t *c, uint8_t *msg, size_t len)
{
    produce_req_t rq;
    mq_err_t derr = produce_req_decode(msg, len, &rq);
    if (derr != MQ_OK) {
        if (derr == MQ_ERR_NO_MEMORY)
            call_fail(c, MQ_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        else
            call_fail(c, MQ_GRPC_INVALID_ARGUMENT,
                      "malformed ProduceRequest (protobuf did not parse)");
        return;
    }
    if (rq.acks != 0 && rq.acks != 1 && rq.acks != -1) {
        call_fail(c, MQ_GRPC_INVALID_ARGUMENT, "acks must be 0, 1 or -1 (got %d)", rq.acks);
        produce_req_free(&rq);
        return;
    }
    size_t n = rq.n_batches;
    produce_t *st = calloc(1, sizeof(*st));
    if (st) {
        st->req_store = rq;
        st->req = &st->req_store;
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
            produce_req_free(&rq);
        }
        call_fail(c, MQ_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        Mq__V1__ProducePartitionResult *r = &st->results[i];
        mq__v1__produce_partition_result__init(r);
        r->topic = rq.batches[i].topic;
        r->partition = rq.batches[i].partition;
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
