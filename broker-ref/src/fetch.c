/* The Fetch and ListOffsets RPCs.
 *
 * Fetch reads whole stored batches per partition, bounded by the partition
 * and response caps (the first partition with data always gets at least one
 * whole batch). If fewer than min_bytes are there, the call is parked on its
 * loop until appends bring enough (produce.c calls fetch_notify_append,
 * which posts one wake-up per loop), max_wait_ms passes, or the deadline
 * nears (docs/protocol.md 2.3: 20 ms before it, a success with what is
 * there). The response is encoded by hand: each partition's header is
 * written right in front of the records part_read put in the buffer, so the
 * records are never moved (the slices skip the gaps). */
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "call.h"
#include "config.h"
#include "error.h"
#include "group_rpc.h"
#include "log.h"
#include "metrics.h"
#include "mq/v1/broker.pb-c.h"
#include "server.h"
#include "topics.h"

#define MAX_LOOPS 64
/* Answer a parked fetch this long before its deadline, with what is there. */
#define DEADLINE_MARGIN_MS 20

typedef struct fetch fetch_t;

struct fetch {
    call_t *call;
    Mq__V1__FetchRequest *req;
    int32_t max_wait_ms;
    int32_t min_bytes;
    int32_t max_bytes;
    int64_t found_bytes; /* record bytes found when parked */
    int64_t *base_size;  /* per partition: size_bytes when parked (-1: none) */
    loop_timer_t timer;
    int parked;
    fetch_t *next, *prev;
};

typedef struct fetch_loop {
    fetch_t *parked;
    int count; /* atomic: parked fetches */
    int wake;  /* atomic: a wake-up is posted */
} fetch_loop_t;

static fetch_loop_t g_loops[MAX_LOOPS];
static int g_nloops;

void fetch_init(int nloops)
{
    memset(g_loops, 0, sizeof(g_loops));
    g_nloops = nloops < MAX_LOOPS ? nloops : MAX_LOOPS;
}

/* ---- protobuf encoding -------------------------------------------------- */

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* proto3 int32/int64 fields: negative values are 10-byte varints; zero is
 * omitted. */
static size_t put_int_field(uint8_t *p, int field, int64_t v)
{
    if (v == 0)
        return 0;
    size_t n = put_varint(p, (uint64_t)field << 3);
    return n + put_varint(p + n, (uint64_t)v);
}

static size_t put_bytes_field(uint8_t *p, int field, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    size_t n = put_varint(p, (uint64_t)field << 3 | 2);
    n += put_varint(p + n, len);
    if (data)
        memcpy(p + n, data, len);
    return n + len;
}

/* Room for one FetchPartitionData header without its records. */
static size_t header_room(size_t topic_len, size_t msg_len)
{
    return 2 * (1 + 10) + (1 + 5 + topic_len) + 4 * (1 + 10) + (1 + 5 + msg_len) + 1;
}

/* ---- reading ------------------------------------------------------------ */

typedef struct out {
    bytebuf_t buf;
    slice_t *slices;
    size_t nslices;
    size_t slices_cap;
    int64_t used;    /* response bytes so far */
    int64_t records; /* record bytes so far */
    int errors;
} out_t;

/* Appends one FetchPartitionData (records from part_read, if any). */
static int add_partition(fetch_t *f, out_t *o, const Mq__V1__FetchPartition *fp)
{
    const char *topic = fp->topic ? fp->topic : "";
    size_t tlen = strlen(topic);
    char msg[300] = "";
    int64_t hwm = -1, lso = -1;

    mq_err_t err = MQ_OK;
    int allowed = acl_check_call(f->call, ACL_OP_READ, ACL_RES_TOPIC, topic);
    /* Consumer-group fencing next: a zombie member reads nothing. */
    if (allowed)
        err = group_fence(f->req->group_id, f->req->member_id, f->req->member_epoch, topic,
                          fp->partition, msg, sizeof(msg));
    topic_t *t = allowed && err == MQ_OK ? topics_get(topic) : NULL;
    part_t *p = NULL;
    if (!allowed) {
        err = MQ_ERR_TOPIC_AUTHORIZATION;
        snprintf(msg, sizeof(msg), "principal '%.60s' is not allowed to read topic '%.200s'",
                 acl_call_principal(f->call), topic);
    } else if (err != MQ_OK) {
        /* msg says why */
    } else if (!t) {
        err = MQ_ERR_UNKNOWN_TOPIC;
        snprintf(msg, sizeof(msg), "unknown topic '%.200s'", topic);
    } else if (fp->partition < 0 || fp->partition >= t->partition_count ||
               !t->parts[fp->partition]) {
        err = MQ_ERR_UNKNOWN_PARTITION;
        snprintf(msg, sizeof(msg), "topic '%s' has no partition %d (it has %d)", topic,
                 fp->partition, t->partition_count);
    } else {
        p = t->parts[fp->partition];
        part_stats_t st;
        part_get_stats(p, &st);
        if (fp->fetch_offset < st.log_start_offset || fp->fetch_offset > st.log_end_offset) {
            err = MQ_ERR_OFFSET_OUT_OF_RANGE;
            snprintf(msg, sizeof(msg), "offset %lld is outside the log [%lld, %lld]",
                     (long long)fp->fetch_offset, (long long)st.log_start_offset,
                     (long long)st.log_end_offset);
        }
    }

    /* Room for the header, then the records right after it. */
    size_t room = header_room(tlen, strlen(msg));
    if (bytebuf_reserve(&o->buf, room) != 0) {
        topic_release(t);
        return -1;
    }
    o->buf.len += room;
    size_t rec_start = o->buf.len;
    if (p && err == MQ_OK) {
        int64_t limit = f->max_bytes - o->used - (int64_t)room;
        if (fp->partition_max_bytes > 0 && fp->partition_max_bytes < limit)
            limit = fp->partition_max_bytes;
        int first = o->records == 0;
        if (limit > 0 || first) {
            err = part_read(p, fp->fetch_offset, limit > 0 ? (size_t)limit : 1, &o->buf);
            if (err != MQ_OK) {
                o->buf.len = rec_start;
                snprintf(msg, sizeof(msg), "read failed: %s", mq_err_str(err));
            } else if (!first && (int64_t)(o->buf.len - rec_start) > limit) {
                o->buf.len = rec_start; /* only the first partition may overshoot */
            }
        }
    }
    if (p) {
        part_stats_t st;
        part_get_stats(p, &st);
        hwm = st.log_end_offset;
        lso = st.log_start_offset;
    }
    topic_release(t);

    size_t rec_len = o->buf.len - rec_start;
    /* Encode inner fields after an 11-byte hole for the outer tag+length. */
    uint8_t *tmp = malloc(room + 11);
    if (!tmp)
        return -1;
    uint8_t *inner = tmp + 11;
    size_t n = 0;
    n += put_bytes_field(inner + n, 1, topic, tlen);
    n += put_int_field(inner + n, 2, fp->partition);
    n += put_int_field(inner + n, 3, err == MQ_OK ? 0 : mq__err_to_wire(err));
    n += put_int_field(inner + n, 4, hwm);
    n += put_int_field(inner + n, 5, lso);
    n += put_bytes_field(inner + n, 7, msg, strlen(msg));
    if (rec_len > 0) {
        n += put_varint(inner + n, 6 << 3 | 2);
        n += put_varint(inner + n, rec_len);
    }
    uint8_t outer[11];
    size_t ol = put_varint(outer, 1 << 3 | 2);
    ol += put_varint(outer + ol, n + rec_len);
    memcpy(inner - ol, outer, ol);
    size_t h = ol + n;
    if (h > room) {
        free(tmp);
        return -1; /* cannot happen: room is the worst case */
    }
    memcpy(o->buf.data + rec_start - h, inner - ol, h);
    free(tmp);
    if (o->nslices == o->slices_cap) {
        size_t cap = o->slices_cap ? o->slices_cap * 2 : 8;
        slice_t *s = realloc(o->slices, cap * sizeof(*s));
        if (!s)
            return -1;
        o->slices = s;
        o->slices_cap = cap;
    }
    o->slices[o->nslices++] = (slice_t){rec_start - h, h + rec_len};
    o->used += (int64_t)(h + rec_len);
    o->records += (int64_t)rec_len;
    if (err != MQ_OK)
        o->errors++;
    return 0;
}

static int collect(fetch_t *f, out_t *o)
{
    memset(o, 0, sizeof(*o));
    for (size_t i = 0; i < f->req->n_partitions; i++)
        if (add_partition(f, o, f->req->partitions[i]) != 0)
            return -1;
    return 0;
}

static void out_free(out_t *o)
{
    bytebuf_free(&o->buf);
    free(o->slices);
}

/* ---- answering and parking --------------------------------------------- */

static void fetch_free(fetch_t *f)
{
    mq__v1__fetch_request__free_unpacked(f->req, NULL);
    free(f->base_size);
    call_unref(f->call);
    free(f);
}

static void unpark(fetch_t *f)
{
    if (!f->parked)
        return;
    fetch_loop_t *fl = &g_loops[loop_index(f->call->loop)];
    if (f->prev)
        f->prev->next = f->next;
    else
        fl->parked = f->next;
    if (f->next)
        f->next->prev = f->prev;
    f->parked = 0;
    __atomic_sub_fetch(&fl->count, 1, __ATOMIC_ACQ_REL);
    loop_timer_stop(f->call->loop, &f->timer);
}

/* Reads again and answers with whatever is there. */
static void answer(fetch_t *f)
{
    unpark(f);
    f->call->on_cancel = NULL;
    out_t o;
    if (collect(f, &o) != 0) {
        out_free(&o);
        call_fail(f->call, MQ_GRPC_RESOURCE_EXHAUSTED, "out of memory building the response");
    } else {
        metrics_fetched((size_t)o.records);
        call_reply(f->call, &o.buf, o.slices, o.nslices);
        free(o.slices);
    }
    fetch_free(f);
}

static void on_cancel(call_t *c)
{
    fetch_t *f = c->state;
    unpark(f);
    fetch_free(f);
}

static void on_timer(loop_t *loop, loop_timer_t *t)
{
    (void)loop;
    answer(t->data);
}

/* Record bytes available now, estimated from partition growth since parking. */
static int64_t available(fetch_t *f)
{
    int64_t total = f->found_bytes;
    for (size_t i = 0; i < f->req->n_partitions; i++) {
        if (f->base_size[i] < 0)
            continue;
        const Mq__V1__FetchPartition *fp = f->req->partitions[i];
        topic_t *t = topics_get(fp->topic);
        if (!t)
            continue;
        if (fp->partition >= 0 && fp->partition < t->partition_count && t->parts[fp->partition]) {
            part_stats_t st;
            part_get_stats(t->parts[fp->partition], &st);
            if (st.size_bytes > f->base_size[i])
                total += st.size_bytes - f->base_size[i];
        }
        topic_release(t);
    }
    return total;
}

static void on_wake(loop_t *loop, void *arg)
{
    (void)arg;
    fetch_loop_t *fl = &g_loops[loop_index(loop)];
    __atomic_store_n(&fl->wake, 0, __ATOMIC_RELEASE);
    for (fetch_t *f = fl->parked, *next; f; f = next) {
        next = f->next;
        if (available(f) >= f->min_bytes)
            answer(f);
    }
}

void fetch_notify_append(void)
{
    for (int i = 0; i < g_nloops; i++) {
        fetch_loop_t *fl = &g_loops[i];
        if (__atomic_load_n(&fl->count, __ATOMIC_ACQUIRE) == 0)
            continue;
        if (__atomic_exchange_n(&fl->wake, 1, __ATOMIC_ACQ_REL) == 0)
            loop_post(server_loop(i), on_wake, NULL);
    }
}

void fetch_release_all(loop_t *loop)
{
    fetch_loop_t *fl = &g_loops[loop_index(loop)];
    while (fl->parked)
        answer(fl->parked);
}

static void park(fetch_t *f, int64_t found)
{
    fetch_loop_t *fl = &g_loops[loop_index(f->call->loop)];
    f->found_bytes = found;
    for (size_t i = 0; i < f->req->n_partitions; i++) {
        const Mq__V1__FetchPartition *fp = f->req->partitions[i];
        f->base_size[i] = -1;
        topic_t *t = topics_get(fp->topic);
        if (!t)
            continue;
        if (fp->partition >= 0 && fp->partition < t->partition_count && t->parts[fp->partition]) {
            part_stats_t st;
            part_get_stats(t->parts[fp->partition], &st);
            f->base_size[i] = st.size_bytes;
        }
        topic_release(t);
    }
    f->parked = 1;
    f->next = fl->parked;
    f->prev = NULL;
    if (fl->parked)
        fl->parked->prev = f;
    fl->parked = f;
    __atomic_add_fetch(&fl->count, 1, __ATOMIC_ACQ_REL);
    f->call->state = f;
    f->call->on_cancel = on_cancel;
    loop_timer_start(f->call->loop, &f->timer, loop_now_ms() + f->max_wait_ms);
}

void fetch_handle(call_t *c, uint8_t *msg, size_t len)
{
    Mq__V1__FetchRequest *req = mq__v1__fetch_request__unpack(NULL, len, msg);
    if (!req) {
        call_fail(c, MQ_GRPC_INVALID_ARGUMENT, "malformed FetchRequest (protobuf did not parse)");
        return;
    }
    if (req->n_partitions > MAX_REQUEST_PARTITIONS) {
        call_fail(c, MQ_GRPC_INVALID_ARGUMENT, "FetchRequest names %zu partitions (at most %d)",
                  req->n_partitions, MAX_REQUEST_PARTITIONS);
        mq__v1__fetch_request__free_unpacked(req, NULL);
        return;
    }
    fetch_t *f = calloc(1, sizeof(*f));
    if (f)
        f->base_size = calloc(req->n_partitions ? req->n_partitions : 1, sizeof(int64_t));
    if (!f || !f->base_size) {
        free(f);
        mq__v1__fetch_request__free_unpacked(req, NULL);
        call_fail(c, MQ_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    f->call = c;
    call_ref(c);
    f->req = req;
    loop_timer_init(&f->timer, on_timer, f);
    f->max_bytes = req->max_bytes > 0 && req->max_bytes < g_config.fetch_max_bytes
                       ? req->max_bytes
                       : g_config.fetch_max_bytes;
    f->min_bytes = req->min_bytes > 0 ? req->min_bytes : 0;
    int64_t wait = req->max_wait_ms > 0 ? req->max_wait_ms : 0;
    if (wait > g_config.fetch_max_wait_ms)
        wait = g_config.fetch_max_wait_ms;
    int64_t left = call_time_left_ms(c);
    if (left != INT64_MAX && wait > left - DEADLINE_MARGIN_MS)
        wait = left > DEADLINE_MARGIN_MS ? left - DEADLINE_MARGIN_MS : 0;
    f->max_wait_ms = (int32_t)wait;

    out_t o;
    if (collect(f, &o) != 0) {
        out_free(&o);
        call_fail(c, MQ_GRPC_RESOURCE_EXHAUSTED, "out of memory building the response");
        fetch_free(f);
        return;
    }
    if (o.records >= f->min_bytes || f->max_wait_ms <= 0 || o.errors > 0 ||
        req->n_partitions == 0) {
        metrics_fetched((size_t)o.records);
        call_reply(c, &o.buf, o.slices, o.nslices);
        free(o.slices);
        fetch_free(f);
        return;
    }
    int64_t found = o.records;
    out_free(&o);
    park(f, found);
}

/* ---- ListOffsets -------------------------------------------------------- */

void list_offsets_handle(call_t *c, uint8_t *msg, size_t len)
{
    Mq__V1__ListOffsetsRequest *req = mq__v1__list_offsets_request__unpack(NULL, len, msg);
    if (!req) {
        call_fail(c, MQ_GRPC_INVALID_ARGUMENT,
                  "malformed ListOffsetsRequest (protobuf did not parse)");
        return;
    }
    if (req->n_partitions > MAX_REQUEST_PARTITIONS) {
        call_fail(c, MQ_GRPC_INVALID_ARGUMENT,
                  "ListOffsetsRequest names %zu partitions (at most %d)", req->n_partitions,
                  MAX_REQUEST_PARTITIONS);
        mq__v1__list_offsets_request__free_unpacked(req, NULL);
        return;
    }
    size_t n = req->n_partitions;
    Mq__V1__ListOffsetsResult *rs = calloc(n ? n : 1, sizeof(*rs));
    Mq__V1__ListOffsetsResult **rp = calloc(n ? n : 1, sizeof(*rp));
    if (!rs || !rp) {
        free(rs);
        free(rp);
        mq__v1__list_offsets_request__free_unpacked(req, NULL);
        call_fail(c, MQ_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const Mq__V1__ListOffsetsPartition *lp = req->partitions[i];
        Mq__V1__ListOffsetsResult *r = &rs[i];
        mq__v1__list_offsets_result__init(r);
        rp[i] = r;
        r->topic = lp->topic;
        r->partition = lp->partition;
        r->offset = -1;
        r->timestamp = -1;
        if (!acl_check_call(c, ACL_OP_DESCRIBE, ACL_RES_TOPIC, lp->topic)) {
            r->error_code = mq__err_to_wire(MQ_ERR_TOPIC_AUTHORIZATION);
            r->error_message = "not authorized to describe the topic";
            continue;
        }
        topic_t *t = topics_get(lp->topic);
        if (!t) {
            r->error_code = mq__err_to_wire(MQ_ERR_UNKNOWN_TOPIC);
            r->error_message = "unknown topic";
            continue;
        }
        if (lp->partition < 0 || lp->partition >= t->partition_count || !t->parts[lp->partition]) {
            r->error_code = mq__err_to_wire(MQ_ERR_UNKNOWN_PARTITION);
            r->error_message = "unknown partition";
            topic_release(t);
            continue;
        }
        part_t *p = t->parts[lp->partition];
        part_stats_t st;
        part_get_stats(p, &st);
        if (lp->timestamp == -2) {
            r->offset = st.log_start_offset;
        } else if (lp->timestamp == -1) {
            r->offset = st.log_end_offset;
        } else if (lp->timestamp < 0) {
            r->error_code = mq__err_to_wire(MQ_ERR_INVALID_ARG);
            r->error_message = "timestamp must be -2 (earliest), -1 (latest) or >= 0";
        } else {
            r->offset = part_offset_for_time(p, lp->timestamp);
            r->timestamp = r->offset >= 0 ? lp->timestamp : -1;
        }
        topic_release(t);
    }
    Mq__V1__ListOffsetsResponse resp = MQ__V1__LIST_OFFSETS_RESPONSE__INIT;
    resp.n_results = n;
    resp.results = rp;
    call_reply_pb(c, &resp);
    free(rs);
    free(rp);
    mq__v1__list_offsets_request__free_unpacked(req, NULL);
}
