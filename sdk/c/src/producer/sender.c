/* The producer's I/O thread: keeps one connection to a bootstrap broker
 * (trying each in turn, with backoff), learns partition counts with
 * Metadata, gets a producer id when idempotent, sends sealed batches as
 * Produce calls (up to max.in.flight at once), retries what failed
 * retriably, and turns every outcome into delivery reports for poll. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "error.h"
#include "mq/v1/broker.pb-c.h"
#include "producer/producer.h"

/* Batches per Produce call and bytes per call (the broker's request limit
 * is 16 MiB; stay well under it). */
#define MAX_BATCHES_PER_CALL 256
#define MAX_CALL_BYTES (8u * 1024 * 1024)

typedef struct produce_call {
    mq_producer_t *p;
    int64_t sent_ms;
    size_t n;
    mq_pbatch_t *batches[];
} produce_call_t;

typedef struct metadata_call {
    mq_producer_t *p;
    size_t n;
    mq_topic_t *topics[];
} metadata_call_t;

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static void emit_error(mq_producer_t *p, mq_err_t err, const char *text)
{
    mq_event_t *ev = mq__events_new(1, MQ_EVENT_ERROR, NULL, text);
    if (!ev)
        return;
    ev->err = err;
    mq__eq_push(&p->events, ev, ev, 1);
}

/* ---- delivery reports ------------------------------------------------------ */

static mq_event_t *alloc_events(size_t n, const char *topic, const char *text)
{
    mq_event_t *ev;
    /* A report must never be dropped: wait out a memory shortage. */
    while (!(ev = mq__events_new(n, MQ_EVENT_DELIVERY, topic, text)))
        usleep(1000);
    return ev;
}

/* 1 if b was built under an older producer id or epoch than the current
 * ones (the epoch was bumped since). */
static int stale_stamp(const mq_producer_t *p, const mq_pbatch_t *b)
{
    mq_batch_header_t h;
    return b->wire && mq__batch_parse_header(b->wire, b->wire_len, &h) == MQ_OK &&
           (h.producer_id != p->producer_id || h.producer_epoch != p->producer_epoch);
}

/* Reports every message of b and frees it. in_flight: b holds a slot. */
static void report_batch(mq_producer_t *p, mq_pbatch_t *b, int in_flight, mq_err_t err,
                         const char *text, int64_t base_offset, int64_t append_time,
                         mq_persisted_t persisted)
{
    /* A batch that took sequence numbers failed for good: the broker may or
     * may not have them, so later batches of its partition would be refused
     * as out of order forever. A new epoch restarts every sequence at 0. */
    if (err != MQ_OK && b->base_sequence >= 0 && p->conf->enable_idempotence && !stale_stamp(p, b))
        p->pid_bump = 1;
    mq_event_t *ev = alloc_events((size_t)b->count, b->topic->name, err ? text : NULL);
    for (int32_t i = 0; i < b->count; i++) {
        ev[i].err = err;
        ev[i].opaque = b->meta[i].opaque;
        ev[i].partition = b->partition;
        ev[i].offset = err == MQ_OK && base_offset >= 0 ? base_offset + i : -1;
        ev[i].timestamp = append_time >= 0 ? append_time : b->meta[i].timestamp;
        ev[i].persisted = persisted;
    }
    mq__eq_push(&p->events, ev, &ev[b->count - 1], (size_t)b->count);
    if (err == MQ_OK)
        p->stats.delivered += b->count;
    else
        p->stats.failed += b->count;
    if (in_flight)
        mq__acc_batch_done(&p->acc, b);
    mq__acc_release(&p->acc, b->count, (int64_t)b->bytes);
    mq__pbatch_free(b);
}

static void report_ua(mq_producer_t *p, mq_ua_msg_t *m, mq_err_t err, const char *text)
{
    while (m) {
        mq_ua_msg_t *next = m->next;
        mq_event_t *ev = alloc_events(1, m->topic->name, text);
        ev->err = err;
        ev->opaque = m->opaque;
        ev->partition = m->partition;
        ev->timestamp = m->timestamp;
        mq__eq_push(&p->events, ev, ev, 1);
        p->stats.failed++;
        mq__acc_release(&p->acc, 1, (int64_t)m->bytes);
        free(m);
        m = next;
    }
}

static void report_list(mq_producer_t *p, mq_pbatch_t *b, mq_err_t err, const char *text)
{
    while (b) {
        mq_pbatch_t *next = b->next;
        mq_err_t e = err;
        if (e == MQ_ERR_MSG_TIMED_OUT && b->sent)
            text = "message timed out (message.timeout.ms) after being sent; it may be stored";
        report_batch(p, b, 0, e, text, -1, -1, b->sent ? MQ_POSSIBLY_PERSISTED : MQ_NOT_PERSISTED);
        b = next;
    }
}

/* A batch failed: retry it, or report it failed. possibly: the broker may
 * have stored it (no answer came). */
static void batch_failed(mq_producer_t *p, mq_pbatch_t *b, mq_err_t err, const char *text,
                         int possibly)
{
    int64_t now = mq__mono_ms();
    b->sent |= possibly;
    int expired = b->deadline_ms && now >= b->deadline_ms;
    int stopping = __atomic_load_n(&p->stopping, __ATOMIC_ACQUIRE);
    int idem = p->conf->enable_idempotence;
    int retriable = mq_err_is_retriable(err) || (err == MQ_ERR_OUT_OF_ORDER_SEQUENCE && idem);
    int seq_err = err == MQ_ERR_OUT_OF_ORDER_SEQUENCE || err == MQ_ERR_PRODUCER_FENCED ||
                  err == MQ_ERR_UNKNOWN_PRODUCER;
    if (idem && seq_err && stale_stamp(p, b)) {
        /* A batch that may have been stored went once more under its old
         * epoch after a bump, to find out: the broker says it does not have
         * it, so it may now go under the new epoch (finish_batch). */
        b->sent = 0;
        retriable = 1;
    } else if (idem && err == MQ_ERR_UNKNOWN_PRODUCER) {
        /* The broker lost this producer's state (e.g. it expired): the
         * batch goes again under a new epoch, from sequence 0. */
        p->pid_bump = 1;
    }
    if (retriable && !expired && !stopping && b->attempts < p->conf->retries) {
        b->attempts++;
        p->stats.retries++;
        /* retry.backoff.ms doubling per attempt up to retry.backoff.max.ms, with jitter. */
        mq_backoff_t bo;
        mq__backoff_init(&bo, p->conf->retry_backoff_ms, p->conf->retry_backoff_max_ms,
                         p->rng += 0x9e3779b97f4a7c15ull);
        int64_t delay = 0;
        for (int32_t i = 0; i < b->attempts && i < 32; i++)
            delay = mq__backoff_next(&bo);
        mq__acc_requeue(&p->acc, b, now + delay);
        return;
    }
    p->stats.errors++;
    if (stopping) {
        /* close(): what was not delivered in time fails as MQ_ERR_CLOSED; the
         * persisted status still says whether it may be stored. */
        err = MQ_ERR_CLOSED;
        text = "producer closed before the message was delivered";
    } else if (retriable && expired) {
        err = MQ_ERR_MSG_TIMED_OUT;
        text = "message timed out (message.timeout.ms) while retrying";
    }
    report_batch(p, b, 1, err, text, -1, -1, b->sent ? MQ_POSSIBLY_PERSISTED : MQ_NOT_PERSISTED);
}

/* ---- Produce --------------------------------------------------------------- */

static void on_produce(void *arg, mq_err_t err, const char *msg, const uint8_t *resp, size_t len,
                       int sent)
{
    produce_call_t *call = arg;
    mq_producer_t *p = call->p;
    p->produce_in_flight--;
    int64_t rtt_us = (mq__mono_ms() - call->sent_ms) * 1000;
    p->stats.rtt_sum_us += rtt_us;
    p->stats.rtt_count++;
    if (rtt_us > p->stats.rtt_max_us)
        p->stats.rtt_max_us = rtt_us;
    Mq__V1__ProduceResponse *r = NULL;
    if (err == MQ_OK) {
        r = mq__v1__produce_response__unpack(NULL, len, resp);
        if (!r || r->n_results != call->n) {
            err = MQ_ERR_PROTOCOL;
            msg = "Produce response does not have one result per batch";
        }
    }
    for (size_t i = 0; i < call->n; i++) {
        mq_pbatch_t *b = call->batches[i];
        if (err != MQ_OK) {
            if (!msg)
                msg = mq_err_str(err);
            /* The whole call failed: without an answer the batch may be stored. */
            batch_failed(p, b, err, msg, sent && err != MQ_ERR_PROTOCOL ? 1 : sent);
            continue;
        }
        Mq__V1__ProducePartitionResult *res = r->results[i];
        if (res->error_code != 0) {
            char text[512];
            mq_err_t e = mq__err_from_wire(res->error_code);
            snprintf(text, sizeof(text), "%s [%d]: %s", b->topic->name, b->partition,
                     res->error_message && res->error_message[0] ? res->error_message
                                                                 : mq_err_str(e));
            batch_failed(p, b, e, text, 0);
            continue;
        }
        mq_persisted_t ps = p->conf->acks == 0 ? MQ_POSSIBLY_PERSISTED : MQ_PERSISTED;
        report_batch(p, b, 1, MQ_OK, NULL, res->base_offset, res->log_append_time_ms, ps);
    }
    if (r)
        mq__v1__produce_response__free_unpacked(r, NULL);
    free(call);
}

static int32_t seq_after(int32_t seq, int32_t count)
{
    return (int32_t)(((int64_t)seq + count) & 0x7fffffff);
}

/* A retry built under an older producer id or epoch: the epoch was bumped
 * since, so it takes the next sequence numbers of the new one. */
static void restamp(mq_producer_t *p, mq_pbatch_t *b)
{
    mq_batch_header_t h;
    if (mq__batch_parse_header(b->wire, b->wire_len, &h) != MQ_OK ||
        (h.producer_id == p->producer_id && h.producer_epoch == p->producer_epoch))
        return;
    mq_tpart_t *tp = &b->topic->parts[b->partition];
    int32_t seq = tp->next_sequence;
    tp->next_sequence = seq_after(seq, b->count);
    /* The builder owns the buffer and nothing else reads it now. */
    mq__batch_set_producer((uint8_t *)b->wire, b->wire_len, p->producer_id, p->producer_epoch, seq);
    b->base_sequence = seq;
}

/* Writes producer id, epoch and sequence into the header, compresses. */
static mq_err_t finish_batch(mq_producer_t *p, mq_pbatch_t *b)
{
    if (b->wire) {
        /* A batch that may already be stored goes unchanged: under its old
         * epoch the broker still recognises it as a retry (batch_failed
         * lets it take the new epoch once the broker says it has not). */
        if (p->conf->enable_idempotence && !b->sent)
            restamp(p, b);
        return MQ_OK;
    }
    int64_t pid = -1;
    int16_t epoch = -1;
    int32_t seq = -1;
    mq_tpart_t *tp = &b->topic->parts[b->partition]; /* next_sequence: I/O thread only */
    if (p->conf->enable_idempotence) {
        pid = p->producer_id;
        epoch = p->producer_epoch;
        seq = tp->next_sequence;
    }
    mq_err_t err = mq__batch_builder_finish(&b->builder, pid, epoch, seq,
                                            (int)p->conf->compression_type, &b->wire, &b->wire_len);
    if (err == MQ_OK) {
        b->base_sequence = seq;
        /* Only a batch that exists uses up sequence numbers. */
        if (p->conf->enable_idempotence)
            tp->next_sequence = seq_after(seq, b->count);
    }
    return err;
}

/* Puts batches that could not be sent back for another try. */
static void requeue_all(mq_producer_t *p, mq_pbatch_t **batches, size_t n)
{
    int64_t at = mq__mono_ms() + p->conf->retry_backoff_ms;
    for (size_t i = 0; i < n; i++)
        mq__acc_requeue(&p->acc, batches[i], at);
}

static void send_produce(mq_producer_t *p, mq_pbatch_t **batches, size_t n)
{
    produce_call_t *call = malloc(sizeof(*call) + n * sizeof(mq_pbatch_t *));
    Mq__V1__PartitionBatch *pb = calloc(n, sizeof(*pb));
    Mq__V1__PartitionBatch **pbp = calloc(n, sizeof(*pbp));
    uint8_t *buf = NULL;
    size_t m = 0;
    if (!call || !pb || !pbp) {
        requeue_all(p, batches, n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        mq_pbatch_t *b = batches[i];
        mq_err_t e = finish_batch(p, b);
        if (e != MQ_OK) {
            report_batch(p, b, 1, e, "could not build the batch", -1, -1, MQ_NOT_PERSISTED);
            continue;
        }
        mq__v1__partition_batch__init(&pb[m]);
        pb[m].topic = b->topic->name;
        pb[m].partition = b->partition;
        pb[m].records.data = (uint8_t *)b->wire;
        pb[m].records.len = b->wire_len;
        pbp[m] = &pb[m];
        call->batches[m++] = b;
    }
    if (m == 0)
        goto out;
    call->p = p;
    call->n = m;
    call->sent_ms = mq__mono_ms();
    Mq__V1__ProduceRequest req = MQ__V1__PRODUCE_REQUEST__INIT;
    req.acks = (int32_t)p->conf->acks;
    req.timeout_ms = (int32_t)p->conf->request_timeout_ms;
    req.n_batches = m;
    req.batches = pbp;
    size_t len = mq__v1__produce_request__get_packed_size(&req);
    if (!(buf = malloc(len ? len : 1))) {
        requeue_all(p, call->batches, m);
        goto out;
    }
    mq__v1__produce_request__pack(&req, buf);
    if (mq__conn_call(p->conn, "/mq.v1.Broker/Produce", buf, len, p->conf->request_timeout_ms,
                      on_produce, call) != MQ_OK) {
        requeue_all(p, call->batches, m);
        goto out;
    }
    p->produce_in_flight++;
    p->stats.requests++;
    for (size_t i = 0; i < m; i++) {
        p->stats.batches_sent++;
        p->stats.msgs_sent += call->batches[i]->count;
        p->stats.bytes_sent += (int64_t)call->batches[i]->wire_len;
    }
    call = NULL; /* owned by the call now */
out:
    free(call);
    free(buf);
    free(pb);
    free(pbp);
}

/* ---- Metadata -------------------------------------------------------------- */

static void on_metadata(void *arg, mq_err_t err, const char *msg, const uint8_t *resp, size_t len,
                        int sent)
{
    (void)sent;
    metadata_call_t *call = arg;
    mq_producer_t *p = call->p;
    p->metadata_in_flight = 0;
    Mq__V1__MetadataResponse *r = NULL;
    if (err == MQ_OK && !(r = mq__v1__metadata_response__unpack(NULL, len, resp))) {
        err = MQ_ERR_PROTOCOL;
        msg = "cannot decode the Metadata response";
    }
    if (err != MQ_OK) {
        char text[512];
        snprintf(text, sizeof(text), "Metadata failed: %s", msg ? msg : mq_err_str(err));
        emit_error(p, err, text);
        free(call);
        return;
    }
    for (size_t i = 0; i < call->n; i++) {
        mq_topic_t *t = call->topics[i];
        Mq__V1__TopicMetadata *tm = NULL;
        for (size_t j = 0; j < r->n_topics; j++)
            if (r->topics[j]->name && !strcmp(r->topics[j]->name, t->name))
                tm = r->topics[j];
        mq_err_t terr = !tm ? MQ_ERR_UNKNOWN_TOPIC : mq__err_from_wire(tm->error_code);
        if (terr == MQ_OK) {
            int32_t count = 0;
            for (size_t j = 0; j < tm->n_partitions; j++)
                if (tm->partitions[j]->partition + 1 > count)
                    count = tm->partitions[j]->partition + 1;
            if (count > 0) {
                mq__acc_set_partitions(&p->acc, t, count);
                mq__backoff_reset(&t->metadata_backoff);
                t->metadata_retry_at_ms = 0;
                mq_ua_msg_t *bad = mq__acc_take_ua(&p->acc, t, 1);
                report_ua(p, bad, MQ_ERR_UNKNOWN_PARTITION, "the topic has no such partition");
                continue;
            }
            terr = MQ_ERR_UNKNOWN_TOPIC;
        }
        /* The topic is not there (or not usable): fail what waits for it, so
         * the application hears at once instead of at message.timeout.ms. */
        if (t->partitions < 0) {
            char text[512];
            snprintf(text, sizeof(text), "topic \"%s\": %s", t->name,
                     tm && tm->error_message && tm->error_message[0] ? tm->error_message
                                                                     : mq_err_str(terr));
            report_ua(p, mq__acc_take_ua(&p->acc, t, 0), terr, text);
        }
    }
    mq__v1__metadata_response__free_unpacked(r, NULL);
    free(call);
}

/* The wait before asking again for a topic whose partition count is still
 * unknown: retry.backoff.ms growing to retry.backoff.max.ms, jittered. */
static int64_t metadata_backoff_next(mq_producer_t *p, mq_topic_t *t)
{
    if (t->metadata_backoff.max_ms == 0)
        mq__backoff_init(&t->metadata_backoff, p->conf->retry_backoff_ms,
                         p->conf->retry_backoff_max_ms, p->rng += 0x9e3779b97f4a7c15ull);
    return mq__backoff_next(&t->metadata_backoff);
}

/* Asks for topics with no partition count yet (each at most once per
 * retry backoff), and for all of them every metadata refresh interval. */
static void maybe_send_metadata(mq_producer_t *p, int64_t now, int64_t *next)
{
    if (p->metadata_in_flight)
        return;
    int refresh = now >= p->metadata_refresh_at_ms;
    size_t n = 0, cap = 0;
    pthread_mutex_lock(&p->acc.lock);
    for (mq_topic_t *t = p->acc.topics; t; t = t->next)
        cap++;
    metadata_call_t *call = malloc(sizeof(*call) + (cap ? cap : 1) * sizeof(mq_topic_t *));
    for (mq_topic_t *t = p->acc.topics; call && t; t = t->next) {
        int want = t->partitions < 0 && (t->ua_head || t->ua_bad);
        if (want && now < t->metadata_retry_at_ms) {
            *next = min64(*next, t->metadata_retry_at_ms);
            want = 0;
        }
        if (want || (refresh && t->partitions >= 0))
            call->topics[n++] = t;
    }
    pthread_mutex_unlock(&p->acc.lock);
    if (refresh)
        p->metadata_refresh_at_ms = now + p->conf->metadata_refresh_interval_ms;
    *next = min64(*next, p->metadata_refresh_at_ms);
    if (!call || n == 0) {
        free(call);
        return;
    }
    call->p = p;
    call->n = n;
    Mq__V1__MetadataRequest req = MQ__V1__METADATA_REQUEST__INIT;
    char **names = malloc(n * sizeof(char *));
    if (!names) {
        free(call);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        names[i] = call->topics[i]->name;
        call->topics[i]->metadata_at_ms = now;
        if (call->topics[i]->partitions < 0)
            call->topics[i]->metadata_retry_at_ms = now + metadata_backoff_next(p, call->topics[i]);
    }
    req.n_topics = n;
    req.topics = names;
    size_t len = mq__v1__metadata_request__get_packed_size(&req);
    uint8_t *buf = malloc(len ? len : 1);
    if (buf) {
        mq__v1__metadata_request__pack(&req, buf);
        if (mq__conn_call(p->conn, "/mq.v1.Broker/Metadata", buf, len, p->conf->request_timeout_ms,
                          on_metadata, call) == MQ_OK) {
            p->metadata_in_flight = 1;
            call = NULL;
        }
    }
    free(buf);
    free(names);
    free(call);
}

/* ---- InitProducerId ------------------------------------------------------- */

/* A new id or epoch: every partition's sequence starts again at 0. */
static void reset_sequences(mq_producer_t *p)
{
    pthread_mutex_lock(&p->acc.lock);
    for (mq_topic_t *t = p->acc.topics; t; t = t->next)
        for (int32_t i = 0; i < t->partitions; i++)
            t->parts[i].next_sequence = 0;
    pthread_mutex_unlock(&p->acc.lock);
}

/* A failed batch asked for a new epoch: once no Produce call is in flight
 * (their answers may still move sequences), ask InitProducerId again with
 * the current id and epoch. Nothing is sent meanwhile. */
static void maybe_bump_epoch(mq_producer_t *p)
{
    if (!p->pid_bump || p->pid_state != PID_READY || p->produce_in_flight > 0)
        return;
    p->pid_bump = 0;
    p->pid_state = PID_NONE;
    p->pid_retry_at_ms = 0;
}

static void on_init_pid(void *arg, mq_err_t err, const char *msg, const uint8_t *resp, size_t len,
                        int sent)
{
    (void)sent;
    mq_producer_t *p = arg;
    Mq__V1__InitProducerIdResponse *r = NULL;
    if (err == MQ_OK && !(r = mq__v1__init_producer_id_response__unpack(NULL, len, resp))) {
        err = MQ_ERR_PROTOCOL;
        msg = "cannot decode the InitProducerId response";
    }
    if (err == MQ_OK && r->error_code != 0) {
        err = mq__err_from_wire(r->error_code);
        msg = r->error_message;
    }
    char text[512];
    if (err == MQ_OK) {
        if (r->producer_id != p->producer_id || r->producer_epoch != p->producer_epoch)
            reset_sequences(p);
        p->producer_id = r->producer_id;
        p->producer_epoch = (int16_t)r->producer_epoch;
        p->pid_state = PID_READY;
        mq__backoff_reset(&p->pid_backoff);
    } else if ((err == MQ_ERR_PRODUCER_FENCED || err == MQ_ERR_UNKNOWN_PRODUCER) &&
               p->producer_id >= 0) {
        /* The epoch cannot be bumped (another bump won, or the broker does
         * not know the id): a new id restarts the sequences just as well. */
        p->producer_id = -1;
        p->producer_epoch = -1;
        p->pid_state = PID_NONE;
        p->pid_retry_at_ms = 0;
    } else if (err == MQ_ERR_UNSUPPORTED || !mq_err_is_retriable(err)) {
        /* Sending without a producer id would silently drop the guarantee the
         * application asked for: fail instead, and say how to go on. */
        if (err == MQ_ERR_CLUSTER_AUTHORIZATION)
            snprintf(text, sizeof(text), "not authorized to produce (InitProducerId): %s",
                     msg ? msg : mq_err_str(err));
        else
            snprintf(text, sizeof(text),
                     "enable.idempotence: the broker cannot hand out a producer id (%s%s%s); "
                     "messages fail until enable.idempotence=false is set",
                     mq_err_str(err), msg ? ": " : "", msg ? msg : "");
        p->pid_state = PID_FAILED;
        p->pid_fail_err = err == MQ_ERR_CLUSTER_AUTHORIZATION ? err : MQ_ERR_UNSUPPORTED;
        snprintf(p->pid_fail_text, sizeof(p->pid_fail_text), "%s", text);
        emit_error(p, err, text);
    } else {
        p->pid_state = PID_NONE;
        p->pid_retry_at_ms = mq__mono_ms() + mq__backoff_next(&p->pid_backoff);
    }
    if (r)
        mq__v1__init_producer_id_response__free_unpacked(r, NULL);
}

static void maybe_init_pid(mq_producer_t *p, int64_t now, int64_t *next)
{
    if (!p->conf->enable_idempotence || p->pid_state != PID_NONE)
        return;
    if (now < p->pid_retry_at_ms) {
        *next = min64(*next, p->pid_retry_at_ms);
        return;
    }
    Mq__V1__InitProducerIdRequest req = MQ__V1__INIT_PRODUCER_ID_REQUEST__INIT;
    req.producer_id = p->producer_id;
    req.producer_epoch = p->producer_epoch;
    uint8_t buf[64];
    size_t len = mq__v1__init_producer_id_request__pack(&req, buf);
    if (mq__conn_call(p->conn, "/mq.v1.Broker/InitProducerId", buf, len,
                      p->conf->request_timeout_ms, on_init_pid, p) == MQ_OK)
        p->pid_state = PID_REQUESTED;
}

/* ---- connection ------------------------------------------------------------ */

static void update_epoll(mq_producer_t *p)
{
    if (!p->conn)
        return;
    uint32_t want = mq__conn_events(p->conn);
    if (want == p->conn_events)
        return;
    struct epoll_event ev = {.events = want, .data.ptr = p->conn};
    epoll_ctl(p->epfd, EPOLL_CTL_MOD, mq__conn_fd(p->conn), &ev);
    p->conn_events = want;
}

/* A connect attempt failed or the connection was lost: the next attempt
 * waits the reconnect backoff; the application hears of it as an error
 * event and connection-state events. */
static void conn_failed(mq_producer_t *p, const char *broker, mq_err_t err, const char *why,
                        int64_t now)
{
    int64_t delay;
    mq_event_t *evs[2];
    size_t n = mq__conn_failed(&p->reconnect_backoff, p->conf, p->connected_at_ms, now, broker, err,
                               why, &delay, evs);
    p->connected_at_ms = 0;
    p->reconnect_at_ms = now + delay;
    p->stats.reconnects++;
    emit_error(p, err, why);
    for (size_t i = 0; i < n; i++)
        mq__eq_push(&p->events, evs[i], evs[i], 1);
}

static void conn_lost(mq_producer_t *p, const char *why)
{
    int64_t now = mq__mono_ms();
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, mq__conn_fd(p->conn), NULL);
    mq_conn_t *c = p->conn;
    mq_err_t err = mq__conn_error(c); /* MQ_ERR_AUTHENTICATION for TLS refusals */
    char broker[300];
    snprintf(broker, sizeof(broker), "%s", mq__conn_authority(c));
    p->conn = NULL;
    mq__conn_free(c); /* fails its calls: retries get queued */
    p->metadata_in_flight = 0;
    /* Partition counts may have changed while we were away. */
    p->metadata_refresh_at_ms = 0;
    if (p->pid_state == PID_REQUESTED)
        p->pid_state = PID_NONE;
    conn_failed(p, broker, err, why, now);
}

/* The connection is up: the backoff's clock for "stayed up" starts. */
static void conn_up(mq_producer_t *p)
{
    p->connected_at_ms = mq__mono_ms();
    mq_event_t *ev =
        mq__conn_event_new(MQ_CONN_CONNECTED, mq__conn_authority(p->conn), 0, -1, MQ_OK, NULL);
    if (ev)
        mq__eq_push(&p->events, ev, ev, 1);
}

static void try_connect(mq_producer_t *p, int64_t now)
{
    mq_server_t *s = &p->servers[p->server_next];
    p->server_next = (p->server_next + 1) % p->nservers;
    char why[300] = "";
    mq_conn_t *c;
    if (mq__conn_new_tls(s->host, s->port, p->tls, &c, why, sizeof(why)) != MQ_OK) {
        char broker[300];
        snprintf(broker, sizeof(broker), "%s:%s", s->host, s->port);
        conn_failed(p, broker, MQ_ERR_TRANSPORT, why, now);
        return;
    }
    mq__conn_apply_conf(c, p->conf);
    p->conn = c;
    p->conn_events = mq__conn_events(c);
    p->connect_deadline_ms = now + p->conf->socket_connection_setup_timeout_ms;
    struct epoll_event ev = {.events = p->conn_events, .data.ptr = c};
    epoll_ctl(p->epfd, EPOLL_CTL_ADD, mq__conn_fd(c), &ev);
}

/* ---- stats ------------------------------------------------------------------ */

static void maybe_stats(mq_producer_t *p, int64_t now, int64_t *next)
{
    if (!p->conf->statistics_interval_ms)
        return;
    if (!p->stats_at_ms)
        p->stats_at_ms = now + p->conf->statistics_interval_ms;
    if (now < p->stats_at_ms) {
        *next = min64(*next, p->stats_at_ms);
        return;
    }
    p->stats_at_ms = now + p->conf->statistics_interval_ms;
    *next = min64(*next, p->stats_at_ms);
    pthread_mutex_lock(&p->acc.lock);
    int64_t queued = p->acc.msgs, qbytes = p->acc.bytes, sealed = p->acc.batches_sealed;
    pthread_mutex_unlock(&p->acc.lock);
    mq_pstats_t *s = &p->stats;
    char json[1024];
    snprintf(json, sizeof(json),
             "{\"type\":\"producer\",\"client_id\":\"%s\",\"ts_ms\":%lld,"
             "\"msgs_queued\":%lld,\"bytes_queued\":%lld,\"requests_in_flight\":%d,"
             "\"connected\":%s,\"msgs_sent\":%lld,\"bytes_sent\":%lld,\"batches_sealed\":%lld,"
             "\"batches_sent\":%lld,\"avg_batch_msgs\":%.1f,\"avg_batch_bytes\":%.0f,"
             "\"requests\":%lld,\"rtt_avg_us\":%lld,\"rtt_max_us\":%lld,\"delivered\":%lld,"
             "\"failed\":%lld,\"errors\":%lld,\"retries\":%lld,\"reconnects\":%lld}",
             p->conf->client_id, (long long)mq__wall_ms(), (long long)queued, (long long)qbytes,
             p->produce_in_flight, p->conn && mq__conn_established(p->conn) ? "true" : "false",
             (long long)s->msgs_sent, (long long)s->bytes_sent, (long long)sealed,
             (long long)s->batches_sent,
             s->batches_sent ? (double)s->msgs_sent / (double)s->batches_sent : 0.0,
             s->batches_sent ? (double)s->bytes_sent / (double)s->batches_sent : 0.0,
             (long long)s->requests, (long long)(s->rtt_count ? s->rtt_sum_us / s->rtt_count : 0),
             (long long)s->rtt_max_us, (long long)s->delivered, (long long)s->failed,
             (long long)s->errors, (long long)s->retries, (long long)s->reconnects);
    s->rtt_max_us = 0;
    mq_event_t *ev = mq__events_new(1, MQ_EVENT_STATS, NULL, json);
    if (ev)
        mq__eq_push(&p->events, ev, ev, 1);
}

/* ---- the loop -------------------------------------------------------------- */

/* Seals by linger, expires, and sends what may go now. */
static void pump(mq_producer_t *p, int64_t now, int64_t *next)
{
    int flush_all = __atomic_load_n(&p->flushing, __ATOMIC_ACQUIRE) > 0;
    int ready = p->conn && mq__conn_established(p->conn) &&
                (!p->conf->enable_idempotence || (p->pid_state == PID_READY && !p->pid_bump));
    for (;;) {
        mq_pbatch_t *out[MAX_BATCHES_PER_CALL];
        mq_pbatch_t *expired = NULL;
        int64_t due;
        size_t max =
            ready && p->produce_in_flight < p->conf->max_in_flight ? MAX_BATCHES_PER_CALL : 0;
        /* Connected and ready: a partition whose window is full keeps its
         * open batch filling until an answer frees a slot. */
        size_t n = mq__acc_collect(&p->acc, now, flush_all, ready, out, max, MAX_CALL_BYTES,
                                   &expired, &due);
        *next = min64(*next, due);
        report_list(p, expired, MQ_ERR_MSG_TIMED_OUT,
                    "message timed out (message.timeout.ms) before it could be sent");
        if (n == 0)
            break;
        send_produce(p, out, n);
    }
    /* Idempotence refused by the broker: nothing may go out; fail it all. */
    if (p->pid_state == PID_FAILED) {
        mq_pbatch_t *bl;
        mq_ua_msg_t *ul;
        mq__acc_take_all(&p->acc, &bl, &ul);
        /* Not authorized is said as such; anything else is UNSUPPORTED. */
        report_list(p, bl, p->pid_fail_err, p->pid_fail_text);
        report_ua(p, ul, p->pid_fail_err, p->pid_fail_text);
    }
    /* Unassigned messages past their deadline (no metadata yet). */
    pthread_mutex_lock(&p->acc.lock);
    mq_topic_t *topics = p->acc.topics;
    pthread_mutex_unlock(&p->acc.lock);
    for (mq_topic_t *t = topics; t; t = t->next) {
        pthread_mutex_lock(&p->acc.lock);
        mq_ua_msg_t *head = t->ua_head;
        int64_t first = head ? head->enq_ms : 0;
        pthread_mutex_unlock(&p->acc.lock);
        if (!head || !p->conf->message_timeout_ms)
            continue;
        if (now >= first + p->conf->message_timeout_ms && t->partitions < 0)
            report_ua(p, mq__acc_take_ua(&p->acc, t, 0), MQ_ERR_MSG_TIMED_OUT,
                      "message timed out (message.timeout.ms) waiting for topic metadata");
        else
            *next = min64(*next, first + p->conf->message_timeout_ms);
    }
}

/* Read first, then clear: a wake that found the flag still set made its
 * change before this point, and the loop looks at every change after it.
 * (Clearing first could leave the flag set with the eventfd empty, and
 * every later wake would be lost.) */
static void drain_wakefd(mq_producer_t *p)
{
    uint64_t v;
    ssize_t r = read(p->wakefd, &v, sizeof(v));
    (void)r;
    __atomic_store_n(&p->wake_pending, 0, __ATOMIC_RELEASE);
}

static void shutdown_all(mq_producer_t *p)
{
    if (p->conn) {
        epoll_ctl(p->epfd, EPOLL_CTL_DEL, mq__conn_fd(p->conn), NULL);
        mq_conn_t *c = p->conn;
        p->conn = NULL;
        mq__conn_free(c); /* in-flight calls fail; stopping forbids retries */
    }
    mq_pbatch_t *bl;
    mq_ua_msg_t *ul;
    mq__acc_take_all(&p->acc, &bl, &ul);
    report_list(p, bl, MQ_ERR_CLOSED, "producer closed before the message was delivered");
    report_ua(p, ul, MQ_ERR_CLOSED, "producer closed before the message was delivered");
}

void *mq__sender_main(void *arg)
{
    mq_producer_t *p = arg;
    p->metadata_refresh_at_ms = mq__mono_ms() + p->conf->metadata_refresh_interval_ms;
    while (!__atomic_load_n(&p->stopping, __ATOMIC_ACQUIRE)) {
        int64_t now = mq__mono_ms();
        int64_t next = INT64_MAX;
        if (!p->conn && now >= p->reconnect_at_ms)
            try_connect(p, now);
        if (p->conn && !mq__conn_established(p->conn)) {
            if (now >= p->connect_deadline_ms) {
                conn_lost(p, "connect timed out (socket.connection.setup.timeout.ms)");
                continue;
            }
            next = min64(next, p->connect_deadline_ms);
        }
        if (p->conn && mq__conn_established(p->conn)) {
            maybe_bump_epoch(p);
            maybe_init_pid(p, now, &next);
            maybe_send_metadata(p, now, &next);
        }
        /* Before pump too: a timed-out call requeues its batches, and pump
         * must see them to wake up for their retry (or their deadline). */
        if (p->conn)
            mq__conn_expire(p->conn, now);
        pump(p, now, &next);
        maybe_stats(p, now, &next);
        if (p->conn) {
            next = min64(next, mq__conn_expire(p->conn, now));
            char why[300] = "";
            if (mq__conn_flush(p->conn, why, sizeof(why)) != MQ_OK) {
                conn_lost(p, why);
                continue;
            }
            update_epoll(p);
        } else {
            next = min64(next, p->reconnect_at_ms);
        }
        int timeout = next == INT64_MAX ? -1 : next <= now ? 0 : (int)min64(next - now, 60000);
        struct epoll_event evs[4];
        int n = epoll_wait(p->epfd, evs, 4, timeout);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                drain_wakefd(p);
                continue;
            }
            if (evs[i].data.ptr != p->conn)
                continue;
            int was = mq__conn_established(p->conn);
            char why[300] = "";
            if (mq__conn_io(p->conn, evs[i].events, why, sizeof(why)) != MQ_OK) {
                conn_lost(p, why);
                continue;
            }
            if (!was && mq__conn_established(p->conn))
                conn_up(p);
        }
    }
    shutdown_all(p);
    return NULL;
}
