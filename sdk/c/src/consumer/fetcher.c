/* The consumer's I/O thread: one connection to a bootstrap broker (each in
 * turn, with backoff), Fetch long polls for every fetchable partition
 * (prefetch bounded by queued.max.messages.kbytes), and the turns of
 * offsets.c and group.c. Fetch responses are decoded by hand so the
 * record batches stay where they arrived: each partition's batches become
 * one chunk in the ready queue, and poll walks them in place. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "consumer/consumer.h"
#include "consumer/group.h"
#include "error.h"
#include "mq/v1/broker.pb-c.h"

/* Fetch calls in flight at once (each for a share of the partitions), so
 * the broker prepares one response while the client takes in another. */
#define FETCH_CALLS 4

typedef struct fetch_part {
    mq_cpart_t *p;
    uint32_t version;
    int64_t offset;
} fetch_part_t;

typedef struct fetch_call {
    mq_consumer_t *c;
    size_t n;
    fetch_part_t parts[];
} fetch_call_t;

mq_err_t mq__consumer_call(mq_consumer_t *c, const char *method, const uint8_t *req, size_t len,
                           int64_t timeout_ms, mq_call_cb cb, void *arg)
{
    if (!c->conn || !mq__conn_established(c->conn))
        return MQ_ERR_TRANSPORT;
    char path[64];
    snprintf(path, sizeof(path), "/mq.v1.Broker/%s", method);
    return mq__conn_call(c->conn, path, req, len, timeout_ms, cb, arg);
}

static void push_error(mq_consumer_t *c, mq_err_t err, const char *text, mq_cpart_t *p)
{
    mq_event_t *ev = mq__cerror_event(err, text, p);
    if (ev)
        mq__cq_push_event(c, ev, NULL);
}

/* ---- decoding FetchResponse by hand (protobuf wire format) ------------------- */

typedef struct pb {
    const uint8_t *pos, *end;
} pb_t;

static int pb_varint(pb_t *b, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64 && b->pos < b->end; shift += 7) {
        uint8_t byte = *b->pos++;
        x |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Reads one field: number, wire type, and either a varint or a span. */
static int pb_field(pb_t *b, uint32_t *num, uint64_t *v, const uint8_t **data, size_t *len)
{
    uint64_t key;
    if (pb_varint(b, &key) != 0)
        return -1;
    *num = (uint32_t)(key >> 3);
    switch (key & 7) {
    case 0:
        return pb_varint(b, v);
    case 1:
        if (b->end - b->pos < 8)
            return -1;
        b->pos += 8;
        return 0;
    case 5:
        if (b->end - b->pos < 4)
            return -1;
        b->pos += 4;
        return 0;
    case 2:
        if (pb_varint(b, v) != 0 || *v > (uint64_t)(b->end - b->pos))
            return -1;
        *data = b->pos;
        *len = (size_t)*v;
        b->pos += *len;
        *num |= 0x80000000u; /* marks a span */
        return 0;
    default:
        return -1;
    }
}

typedef struct fetch_data {
    const uint8_t *topic;
    size_t topic_len;
    int32_t partition, error_code;
    int64_t hwm, log_start;
    const uint8_t *records;
    size_t records_len;
    const uint8_t *msg;
    size_t msg_len;
} fetch_data_t;

static int decode_partition(const uint8_t *data, size_t len, fetch_data_t *d)
{
    memset(d, 0, sizeof(*d)); /* proto3: an absent field is 0 */
    pb_t b = {data, data + len};
    while (b.pos < b.end) {
        uint32_t num;
        uint64_t v = 0;
        const uint8_t *s = NULL;
        size_t sl = 0;
        if (pb_field(&b, &num, &v, &s, &sl) != 0)
            return -1;
        switch (num) {
        case 2:
            d->partition = (int32_t)v;
            break;
        case 3:
            d->error_code = (int32_t)v;
            break;
        case 4:
            d->hwm = (int64_t)v;
            break;
        case 5:
            d->log_start = (int64_t)v;
            break;
        case 0x80000000u | 1:
            d->topic = s;
            d->topic_len = sl;
            break;
        case 0x80000000u | 6:
            d->records = s;
            d->records_len = sl;
            break;
        case 0x80000000u | 7:
            d->msg = s;
            d->msg_len = sl;
            break;
        default:
            break;
        }
    }
    return 0;
}

/* ---- Fetch ---------------------------------------------------------------------- */

/* Whole batches at the start of records, and the offset after the last. */
static size_t whole_batches(const uint8_t *rec, size_t len, int64_t *end, size_t *records)
{
    size_t off = 0;
    while (off < len) {
        mq_batch_header_t h;
        if (mq__batch_parse_header(rec + off, len - off, &h) != MQ_OK)
            break;
        off += mq__batch_size(&h);
        *end = h.base_offset + h.last_offset_delta + 1;
        *records += (size_t)h.record_count;
    }
    return off;
}

static void partition_error(mq_consumer_t *c, mq_cpart_t *p, const fetch_data_t *d, int64_t now)
{
    mq_err_t err = mq__err_from_wire(d->error_code);
    char text[512];
    snprintf(text, sizeof(text), "%s [%d]: fetch at offset %lld failed: %.*s", p->topic,
             p->partition, (long long)p->fetch_pos, d->msg_len ? (int)d->msg_len : 64,
             d->msg_len ? (const char *)d->msg : mq_err_str(err));
    if (err == MQ_ERR_OFFSET_OUT_OF_RANGE) {
        mq__offsets_reset(c, p, text);
        return;
    }
    if (err == MQ_ERR_UNKNOWN_MEMBER || err == MQ_ERR_FENCED_MEMBER_EPOCH ||
        err == MQ_ERR_STALE_MEMBER_EPOCH) {
        p->retry_at_ms = now + mq__backoff_next(&p->retry_backoff);
        mq__group_fenced(c, err);
        return;
    }
    /* Unknown topic or partition, storage, authorization: report, retry later. */
    p->retry_at_ms = now + mq__backoff_next(&p->retry_backoff);
    push_error(c, err, text, p);
}

static void fetch_part_result(mq_consumer_t *c, mq_fbuf_t *buf, fetch_part_t *fp,
                              const fetch_data_t *d, int64_t now)
{
    mq_cpart_t *p = fp->p;
    if (p->inflight && p->inflight_version == fp->version)
        p->inflight = 0;
    if (fp->version != p->version || !p->assigned || p->paused || p->state != P_READY)
        return; /* sought, paused or revoked meanwhile */
    if (d->error_code) {
        partition_error(c, p, d, now);
        return;
    }
    mq__backoff_reset(&p->retry_backoff);
    p->hwm = d->hwm;
    int64_t end = -1;
    size_t records = 0;
    size_t whole = whole_batches(d->records, d->records_len, &end, &records);
    if (whole && end > p->fetch_pos) {
        mq_chunk_t *ch = calloc(1, sizeof(*ch));
        if (ch && !(ch->topic = strdup(p->topic))) {
            free(ch);
            ch = NULL;
        }
        if (!ch)
            return; /* fetched again: fetch_pos did not move */
        ch->refs = 1;
        __atomic_add_fetch(&buf->refs, 1, __ATOMIC_RELAXED);
        ch->buf = buf;
        ch->partition = p->partition;
        ch->version = p->version;
        ch->part = p;
        ch->data = d->records;
        ch->len = whole;
        ch->nrecords = records;
        p->fetch_pos = end;
        p->eof_sent = 0;
        mq__cq_push_chunk(c, ch);
    }
    if (c->conf->enable_partition_eof && !p->eof_sent && d->hwm >= 0 && p->fetch_pos >= d->hwm) {
        mq_event_t *ev = mq__events_new(1, MQ_EVENT_PARTITION_EOF, p->topic, NULL);
        if (ev) {
            ev->partition = p->partition;
            ev->offset = d->hwm;
            p->eof_sent = 1;
            mq__cq_push_event(c, ev, p);
        }
    }
}

static void on_fetch(void *arg, mq_err_t err, const char *msg, const uint8_t *resp, size_t len,
                     int sent)
{
    (void)sent;
    fetch_call_t *call = arg;
    mq_consumer_t *c = call->c;
    int64_t now = mq__mono_ms();
    mq_fbuf_t *buf = NULL;
    if (err == MQ_OK && (buf = malloc(sizeof(*buf)))) {
        buf->refs = 1;
        buf->len = len;
        buf->data = mq__conn_take_response(); /* no copy of the batches */
        if (!buf->data && (buf->data = malloc(len ? len : 1)))
            memcpy(buf->data, resp, len);
        if (!buf->data) {
            free(buf);
            buf = NULL;
        }
    }
    if (err == MQ_OK && !buf) {
        err = MQ_ERR_NO_MEMORY;
        msg = "out of memory for a Fetch response";
    }
    pthread_mutex_lock(&c->lock);
    c->stats.fetches++;
    size_t i = 0;
    pb_t b = {buf ? buf->data : NULL, buf ? buf->data + len : NULL};
    while (err == MQ_OK && b.pos < b.end) {
        uint32_t num;
        uint64_t v = 0;
        const uint8_t *s = NULL;
        size_t sl = 0;
        fetch_data_t d;
        if (pb_field(&b, &num, &v, &s, &sl) != 0 ||
            (num == (0x80000000u | 1) && decode_partition(s, sl, &d) != 0)) {
            err = MQ_ERR_PROTOCOL;
            msg = "cannot decode the Fetch response";
            break;
        }
        if (num != (0x80000000u | 1))
            continue;
        if (i >= call->n || d.partition != call->parts[i].p->partition) {
            err = MQ_ERR_PROTOCOL;
            msg = "the Fetch response does not answer the partitions asked for";
            break;
        }
        fetch_part_result(c, buf, &call->parts[i++], &d, now);
    }
    if (err != MQ_OK || i < call->n) {
        /* Whatever got no answer is fetched again after a pause. */
        for (size_t k = i; k < call->n; k++) {
            mq_cpart_t *p = call->parts[k].p;
            if (p->inflight && p->inflight_version == call->parts[k].version) {
                p->inflight = 0;
                p->retry_at_ms = now + mq__backoff_next(&p->retry_backoff);
            }
        }
        c->stats.fetch_errors++;
        /* A lost connection is reported once by the loop, not per call. */
        if (err != MQ_OK && err != MQ_ERR_TRANSPORT) {
            char text[512];
            snprintf(text, sizeof(text), "Fetch failed: %s", msg ? msg : mq_err_str(err));
            push_error(c, err, text, NULL);
        }
    }
    pthread_mutex_unlock(&c->lock);
    mq__fbuf_release(buf);
    free(call);
}

static int fetchable(const mq_consumer_t *c, const mq_cpart_t *p, size_t per_part, int64_t now)
{
    return p->assigned && !p->paused && !p->revoking && p->state == P_READY &&
           !(p->inflight && p->inflight_version == p->version) && p->queued < per_part &&
           now >= p->retry_at_ms && p->fetch_pos >= 0 && !c->closing;
}

/* Sends one Fetch for a share of the fetchable partitions; returns 1 if it
 * sent one. */
static int maybe_fetch(mq_consumer_t *c, int64_t now, int64_t *next)
{
    pthread_mutex_lock(&c->lock);
    size_t limit = (size_t)c->conf->queued_max_messages_kbytes * 1024;
    size_t per_part = limit / (size_t)(c->nassigned > 0 ? c->nassigned : 1);
    if (per_part == 0)
        per_part = 1;
    size_t n = 0, total = 0;
    for (mq_cpart_t *p = c->parts; p; p = p->next) {
        total++;
        if (fetchable(c, p, per_part, now))
            n++;
        else if (p->assigned && p->retry_at_ms > now)
            *next = mq__min64(*next, p->retry_at_ms);
    }
    if (n == 0 || c->queued_total >= limit) {
        pthread_mutex_unlock(&c->lock);
        return 0;
    }
    size_t share = (size_t)(c->nassigned + FETCH_CALLS - 1) / FETCH_CALLS;
    if (n > share && share > 0)
        n = share;
    fetch_call_t *call = malloc(sizeof(*call) + n * sizeof(fetch_part_t));
    Mq__V1__FetchPartition *fps = calloc(n, sizeof(*fps));
    Mq__V1__FetchPartition **fpp = calloc(n, sizeof(*fpp));
    if (!call || !fps || !fpp) {
        pthread_mutex_unlock(&c->lock);
        free(call);
        free(fps);
        free(fpp);
        return 0;
    }
    /* Start at a rotating partition: the first one with data always gets
     * its whole batch, so no partition starves the others. */
    size_t start = total ? (size_t)c->fetch_rr++ % total : 0, k = 0, idx = 0;
    for (int pass = 0; pass < 2; pass++) {
        idx = 0;
        for (mq_cpart_t *p = c->parts; p; p = p->next, idx++) {
            if ((pass == 0) != (idx >= start) || k == n || !fetchable(c, p, per_part, now))
                continue;
            call->parts[k] = (fetch_part_t){p, p->version, p->fetch_pos};
            mq__v1__fetch_partition__init(&fps[k]);
            fps[k].topic = p->topic;
            fps[k].partition = p->partition;
            fps[k].fetch_offset = p->fetch_pos;
            fps[k].partition_max_bytes = (int32_t)c->conf->max_partition_fetch_bytes;
            fpp[k] = &fps[k];
            p->inflight = 1;
            p->inflight_version = p->version;
            k++;
        }
    }
    call->c = c;
    call->n = k;
    Mq__V1__FetchRequest req = MQ__V1__FETCH_REQUEST__INIT;
    req.max_wait_ms = (int32_t)c->conf->fetch_wait_max_ms;
    req.min_bytes = (int32_t)c->conf->fetch_min_bytes;
    req.max_bytes = (int32_t)c->conf->fetch_max_bytes;
    req.n_partitions = k;
    req.partitions = fpp;
    const char *gid = "", *mid = "";
    int32_t epoch = -1;
    if (mq__group_member(c, &gid, &mid, &epoch)) {
        req.group_id = (char *)gid;
        req.member_id = (char *)mid;
    }
    req.member_epoch = epoch;
    size_t len = mq__v1__fetch_request__get_packed_size(&req);
    uint8_t *buf = malloc(len ? len : 1);
    if (buf)
        mq__v1__fetch_request__pack(&req, buf);
    pthread_mutex_unlock(&c->lock);
    mq_err_t err = MQ_ERR_NO_MEMORY;
    if (buf)
        err = mq__consumer_call(c, "Fetch", buf, len,
                                c->conf->fetch_wait_max_ms + c->conf->request_timeout_ms, on_fetch,
                                call);
    free(buf);
    free(fps);
    free(fpp);
    if (err == MQ_OK)
        return 1;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < call->n; i++)
        call->parts[i].p->inflight = 0;
    pthread_mutex_unlock(&c->lock);
    free(call);
    return 0;
}

/* ---- connection --------------------------------------------------------------------- */

static void update_epoll(mq_consumer_t *c)
{
    uint32_t want = mq__conn_events(c->conn);
    if (want == c->conn_events)
        return;
    struct epoll_event ev = {.events = want, .data.ptr = c->conn};
    epoll_ctl(c->epfd, EPOLL_CTL_MOD, mq__conn_fd(c->conn), &ev);
    c->conn_events = want;
}

/* A connect attempt failed or the connection was lost: the next attempt
 * waits the reconnect backoff (net/conn.c); the application hears of it as
 * an error event and connection-state events. */
static void conn_failed(mq_consumer_t *c, const char *broker, mq_err_t err, const char *why,
                        int64_t now)
{
    int64_t delay;
    mq_event_t *evs[2];
    size_t n = mq__conn_failed(&c->reconnect_backoff, c->conf, c->connected_at_ms, now, broker, err,
                               why, &delay, evs);
    c->connected_at_ms = 0;
    c->reconnect_at_ms = now + delay;
    pthread_mutex_lock(&c->lock);
    c->stats.reconnects++;
    if (!c->closing)
        push_error(c, err, why, NULL);
    for (size_t i = 0; i < n; i++) {
        if (c->closing)
            mq_event_destroy(evs[i]);
        else
            mq__cq_push_event(c, evs[i], NULL);
    }
    pthread_mutex_unlock(&c->lock);
}

/* The connection is up: the backoff's clock for "stayed up" starts. */
static void conn_up(mq_consumer_t *c)
{
    c->connected_at_ms = mq__mono_ms();
    mq_event_t *ev =
        mq__conn_event_new(MQ_CONN_CONNECTED, mq__conn_authority(c->conn), 0, -1, MQ_OK, NULL);
    pthread_mutex_lock(&c->lock);
    if (ev && !c->closing)
        mq__cq_push_event(c, ev, NULL);
    else
        mq_event_destroy(ev);
    pthread_mutex_unlock(&c->lock);
}

static void conn_lost(mq_consumer_t *c, const char *why)
{
    int64_t now = mq__mono_ms();
    epoll_ctl(c->epfd, EPOLL_CTL_DEL, mq__conn_fd(c->conn), NULL);
    mq_conn_t *conn = c->conn;
    char broker[300];
    snprintf(broker, sizeof(broker), "%s", mq__conn_authority(conn));
    mq_err_t err = mq__conn_error(conn); /* MQ_ERR_AUTHENTICATION for TLS refusals */
    c->conn = NULL;
    mq__conn_free(conn); /* fails its calls: their callbacks clear in-flight marks */
    conn_failed(c, broker, err, why, now);
    mq__group_conn_lost(c);
}

static void try_connect(mq_consumer_t *c, int64_t now)
{
    int i = c->server_next;
    c->server_next = (c->server_next + 1) % c->nservers;
    char why[300] = "";
    mq_conn_t *conn;
    if (mq__conn_new_tls(c->servers_host[i], c->servers_port[i], c->tls, &conn, why, sizeof(why)) !=
        MQ_OK) {
        char broker[300];
        snprintf(broker, sizeof(broker), "%s:%s", c->servers_host[i], c->servers_port[i]);
        conn_failed(c, broker, MQ_ERR_TRANSPORT, why, now);
        return;
    }
    mq__conn_apply_conf(conn, c->conf);
    c->conn = conn;
    c->conn_events = mq__conn_events(conn);
    c->connect_deadline_ms = now + c->conf->socket_connection_setup_timeout_ms;
    struct epoll_event ev = {.events = c->conn_events, .data.ptr = conn};
    epoll_ctl(c->epfd, EPOLL_CTL_ADD, mq__conn_fd(conn), &ev);
}

/* ---- stats and close ------------------------------------------------------------------ */

static void maybe_stats(mq_consumer_t *c, int64_t now, int64_t *next)
{
    if (!c->conf->statistics_interval_ms)
        return;
    if (!c->stats_at_ms)
        c->stats_at_ms = now + c->conf->statistics_interval_ms;
    if (now < c->stats_at_ms) {
        *next = mq__min64(*next, c->stats_at_ms);
        return;
    }
    c->stats_at_ms = now + c->conf->statistics_interval_ms;
    *next = mq__min64(*next, c->stats_at_ms);
    pthread_mutex_lock(&c->lock);
    mq_cstats_t *s = &c->stats;
    int64_t lag = 0;
    int assigned = 0;
    for (mq_cpart_t *p = c->parts; p; p = p->next) {
        if (!p->assigned)
            continue;
        assigned++;
        if (p->hwm >= 0 && p->position >= 0 && p->hwm > p->position)
            lag += p->hwm - p->position;
    }
    char json[1024];
    snprintf(json, sizeof(json),
             "{\"type\":\"consumer\",\"client_id\":\"%s\",\"ts_ms\":%lld,\"connected\":%s,"
             "\"assigned_partitions\":%d,\"msgs_consumed\":%lld,\"bytes_consumed\":%lld,"
             "\"bytes_queued\":%zu,\"fetches\":%lld,\"fetch_errors\":%lld,\"lag\":%lld,"
             "\"commits\":%lld,\"commit_errors\":%lld,\"rebalances\":%lld,\"reconnects\":%lld}",
             c->conf->client_id, (long long)mq__wall_ms(),
             c->conn && mq__conn_established(c->conn) ? "true" : "false", assigned,
             (long long)s->msgs, (long long)s->bytes, c->queued_total, (long long)s->fetches,
             (long long)s->fetch_errors, (long long)lag, (long long)s->commits,
             (long long)s->commit_errors, (long long)s->rebalances, (long long)s->reconnects);
    mq_event_t *ev = mq__events_new(1, MQ_EVENT_STATS, NULL, json);
    if (ev)
        mq__cq_push_event(c, ev, NULL);
    pthread_mutex_unlock(&c->lock);
}

static void finish_close(mq_consumer_t *c)
{
    pthread_mutex_lock(&c->lock);
    if (c->closing != 2) {
        while (c->ops) {
            mq_op_t *op = c->ops;
            c->ops = op->next;
            mq__op_finish(c, op, MQ_ERR_CLOSED, "the consumer closed before the call was done");
        }
        mq_event_t *ev = mq__events_new(1, MQ_EVENT_CLOSED, NULL, NULL);
        mq_qitem_t *q = calloc(1, sizeof(*q));
        if (ev && q) {
            q->ev = ev;
            /* Appended by hand: mq__cq_push_event drops it when out of memory,
             * and poll must still end. */
            q->next = NULL;
            if (c->qtail)
                c->qtail->next = q;
            else
                c->qhead = q;
            c->qtail = q;
        } else {
            mq_event_destroy(ev);
            free(q);
            c->closed_taken = 1; /* poll returns MQ_ERR_CLOSED once drained */
        }
        uint64_t one = 1;
        ssize_t r = write(c->fd, &one, sizeof(one));
        (void)r;
        c->closing = 2;
        pthread_cond_broadcast(&c->cond);
    }
    pthread_mutex_unlock(&c->lock);
}

/* During close: done when the group is left and no commit is in flight,
 * or at the deadline. */
static int close_done(mq_consumer_t *c, int64_t now, int64_t *next)
{
    pthread_mutex_lock(&c->lock);
    int closing = c->closing == 1;
    int64_t deadline = c->close_deadline_ms;
    pthread_mutex_unlock(&c->lock);
    if (!closing)
        return 0;
    if (now >= deadline)
        return 1;
    *next = mq__min64(*next, deadline);
    pthread_mutex_lock(&c->lock);
    int busy = c->ops != NULL || mq__offsets_busy(c);
    pthread_mutex_unlock(&c->lock);
    return !busy && mq__group_closed(c);
}

static void drain_wakefd(mq_consumer_t *c)
{
    uint64_t v;
    ssize_t r = read(c->wakefd, &v, sizeof(v));
    (void)r;
    __atomic_store_n(&c->wake_pending, 0, __ATOMIC_RELEASE);
}

/* One turn of the work that needs a connection. */
static void work(mq_consumer_t *c, int64_t now, int64_t *next)
{
    mq__group_tick(c, now, next);
    mq__offsets_resolve(c, now, next);
    mq__offsets_tick(c, now, next);
    while (maybe_fetch(c, now, next))
        ;
}

void *mq__fetcher_main(void *arg)
{
    mq_consumer_t *c = arg;
    while (!__atomic_load_n(&c->stopping, __ATOMIC_ACQUIRE)) {
        int64_t now = mq__mono_ms();
        int64_t next = INT64_MAX;
        if (!c->conn && now >= c->reconnect_at_ms)
            try_connect(c, now);
        if (c->conn && !mq__conn_established(c->conn)) {
            if (now >= c->connect_deadline_ms) {
                conn_lost(c, "connect timed out (socket.connection.setup.timeout.ms)");
                continue;
            }
            next = mq__min64(next, c->connect_deadline_ms);
        }
        if (c->conn && mq__conn_established(c->conn))
            work(c, now, &next);
        else
            mq__group_tick(c, now, &next); /* close without a broker */
        if (close_done(c, now, &next))
            break;
        maybe_stats(c, now, &next);
        if (c->conn) {
            next = mq__min64(next, mq__conn_expire(c->conn, now));
            char why[300] = "";
            if (mq__conn_flush(c->conn, why, sizeof(why)) != MQ_OK) {
                conn_lost(c, why);
                continue;
            }
            update_epoll(c);
        } else {
            next = mq__min64(next, c->reconnect_at_ms);
        }
        int timeout = next == INT64_MAX ? -1 : next <= now ? 0 : (int)mq__min64(next - now, 1000);
        struct epoll_event evs[4];
        int n = epoll_wait(c->epfd, evs, 4, timeout);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                drain_wakefd(c);
                continue;
            }
            if (evs[i].data.ptr != c->conn)
                continue;
            int was = mq__conn_established(c->conn);
            char why[300] = "";
            if (mq__conn_io(c->conn, evs[i].events, why, sizeof(why)) != MQ_OK) {
                conn_lost(c, why);
                continue;
            }
            if (!was && mq__conn_established(c->conn))
                conn_up(c);
        }
    }
    if (c->conn) {
        epoll_ctl(c->epfd, EPOLL_CTL_DEL, mq__conn_fd(c->conn), NULL);
        mq_conn_t *conn = c->conn;
        c->conn = NULL;
        mq__conn_free(conn);
    }
    finish_close(c);
    return NULL;
}
