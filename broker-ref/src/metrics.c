/* Broker metrics. Recording is lock-free: every counter is preallocated and
 * bumped with a relaxed atomic add, so I/O loops never wait on each other or
 * on a scrape. Per-partition produce counters live in a fixed open-addressing
 * table whose slots are claimed once with a compare-and-swap; the scrape
 * (GET /metrics, rare) walks everything and reads partition sizes from the
 * registry at that moment. */
#include "metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/partition.h"
#include "mqclient.h"
#include "groups.h"
#include "tls.h"
#include "topics.h"

#define RELAXED __ATOMIC_RELAXED

/* Latency buckets, upper bounds in microseconds (rendered in seconds). */
static const int64_t BUCKETS_US[] = {100,     250,     500,     1000,    2500,   5000,
                                     10000,   25000,   50000,   100000,  250000, 500000,
                                     1000000, 2500000, 5000000, 10000000};
#define NBUCKETS ((int)(sizeof(BUCKETS_US) / sizeof(BUCKETS_US[0])))

typedef struct histogram {
    int64_t buckets[NBUCKETS + 1]; /* not cumulative; the last is +Inf */
    int64_t sum_us;
    int64_t count;
} histogram_t;

/* gRPC statuses 0..16; anything else is counted under OTHER_STATUS. */
#define NSTATUS 17
#define OTHER_STATUS NSTATUS
static const char *const GRPC_CODE_NAMES[NSTATUS + 1] = {"OK",
                                                         "CANCELLED",
                                                         "UNKNOWN",
                                                         "INVALID_ARGUMENT",
                                                         "DEADLINE_EXCEEDED",
                                                         "NOT_FOUND",
                                                         "ALREADY_EXISTS",
                                                         "PERMISSION_DENIED",
                                                         "RESOURCE_EXHAUSTED",
                                                         "FAILED_PRECONDITION",
                                                         "ABORTED",
                                                         "OUT_OF_RANGE",
                                                         "UNIMPLEMENTED",
                                                         "INTERNAL",
                                                         "UNAVAILABLE",
                                                         "DATA_LOSS",
                                                         "UNAUTHENTICATED",
                                                         "OTHER"};

/* Method slots: claimed on first use; names are checked so a client's :path
 * cannot inject text into the exposition. Extra names share "other". */
#define METHOD_SLOTS 32
#define METHOD_NAME_MAX 48
typedef struct method_stats {
    int state; /* 0 free, 1 being claimed, 2 ready */
    char name[METHOD_NAME_MAX];
    int64_t requests[NSTATUS + 1];
    int64_t bytes_in, bytes_out;
    histogram_t latency;
} method_stats_t;

/* Per-partition produce counters. 8192 slots cover far more partitions than
 * one node serves; past that, counts go to the overflow totals. */
#define PART_SLOTS 8192
typedef struct part_slot {
    int state; /* 0 free, 1 being claimed, 2 ready */
    int32_t partition;
    uint32_t hash;
    char topic[TOPIC_NAME_MAX + 1];
    int64_t records, bytes;
} part_slot_t;

static struct {
    int64_t start_wall_ms;
    struct timespec start_mono;
    method_stats_t methods[METHOD_SLOTS];
    method_stats_t other_method;
    int64_t connections, connections_total;
    int64_t tls_failures[2][2]; /* [port][timed out] */
    int64_t fetched_bytes;
    part_slot_t parts[PART_SLOTS];
    int64_t overflow_records, overflow_bytes;
    int64_t admin_requests[600]; /* by HTTP status */
    histogram_t admin_latency;
} S;

__attribute__((constructor)) static void metrics_ctor(void)
{
    metrics_init();
}

void metrics_init(void)
{
    if (S.start_wall_ms)
        return;
    strcpy(S.other_method.name, "other");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    S.start_wall_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    clock_gettime(CLOCK_MONOTONIC, &S.start_mono);
}

double metrics_uptime_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - S.start_mono.tv_sec) +
           (double)(now.tv_nsec - S.start_mono.tv_nsec) / 1e9;
}

static void hist_observe(histogram_t *h, int64_t us)
{
    if (us < 0)
        us = 0;
    int i = 0;
    while (i < NBUCKETS && us > BUCKETS_US[i])
        i++;
    __atomic_add_fetch(&h->buckets[i], 1, RELAXED);
    __atomic_add_fetch(&h->sum_us, us, RELAXED);
    __atomic_add_fetch(&h->count, 1, RELAXED);
}

static int valid_method_name(const char *s, size_t n)
{
    if (n == 0 || n >= METHOD_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

static method_stats_t *method_slot(const char *method)
{
    if (!method)
        return &S.other_method;
    const char *slash = strrchr(method, '/');
    const char *name = slash ? slash + 1 : method;
    size_t n = strlen(name);
    if (!valid_method_name(name, n))
        return &S.other_method;
    for (int i = 0; i < METHOD_SLOTS; i++) {
        method_stats_t *m = &S.methods[i];
        int st = __atomic_load_n(&m->state, __ATOMIC_ACQUIRE);
        if (st == 0) {
            int expect = 0;
            if (__atomic_compare_exchange_n(&m->state, &expect, 1, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                memcpy(m->name, name, n + 1);
                __atomic_store_n(&m->state, 2, __ATOMIC_RELEASE);
                return m;
            }
            st = expect;
        }
        while (st == 1) /* another thread is writing the name: a few stores */
            st = __atomic_load_n(&m->state, __ATOMIC_ACQUIRE);
        if (!strcmp(m->name, name))
            return m;
    }
    return &S.other_method;
}

void metrics_rpc(const char *method, int grpc_status, int64_t latency_us, size_t bytes_in,
                 size_t bytes_out)
{
    method_stats_t *m = method_slot(method);
    int code = (grpc_status >= 0 && grpc_status < NSTATUS) ? grpc_status : OTHER_STATUS;
    __atomic_add_fetch(&m->requests[code], 1, RELAXED);
    __atomic_add_fetch(&m->bytes_in, (int64_t)bytes_in, RELAXED);
    __atomic_add_fetch(&m->bytes_out, (int64_t)bytes_out, RELAXED);
    hist_observe(&m->latency, latency_us);
}

void metrics_connection(int delta)
{
    __atomic_add_fetch(&S.connections, delta, RELAXED);
    if (delta > 0)
        __atomic_add_fetch(&S.connections_total, delta, RELAXED);
}

void metrics_tls_failure(int port, int timed_out)
{
    if (port == TLS_PORT_CLIENT || port == TLS_PORT_ADMIN)
        __atomic_add_fetch(&S.tls_failures[port][timed_out != 0], 1, RELAXED);
}

void metrics_fetched(size_t bytes)
{
    __atomic_add_fetch(&S.fetched_bytes, (int64_t)bytes, RELAXED);
}

void metrics_admin_request(int http_status, int64_t latency_us)
{
    if (http_status >= 100 && http_status < 600)
        __atomic_add_fetch(&S.admin_requests[http_status], 1, RELAXED);
    hist_observe(&S.admin_latency, latency_us);
}

static uint32_t part_hash(const char *topic, int32_t partition)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = topic; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    h = (h ^ (uint32_t)partition) * 16777619u;
    return h;
}

static part_slot_t *part_slot(const char *topic, int32_t partition)
{
    size_t n = strnlen(topic, TOPIC_NAME_MAX + 1);
    if (n > TOPIC_NAME_MAX)
        return NULL;
    uint32_t h = part_hash(topic, partition);
    for (uint32_t probe = 0; probe < PART_SLOTS; probe++) {
        part_slot_t *s = &S.parts[(h + probe) % PART_SLOTS];
        int st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
        if (st == 0) {
            int expect = 0;
            if (__atomic_compare_exchange_n(&s->state, &expect, 1, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                memcpy(s->topic, topic, n + 1);
                s->partition = partition;
                s->hash = h;
                __atomic_store_n(&s->state, 2, __ATOMIC_RELEASE);
                return s;
            }
            st = expect;
        }
        while (st == 1)
            st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
        if (s->hash == h && s->partition == partition && !strcmp(s->topic, topic))
            return s;
    }
    return NULL;
}

void metrics_produced(const char *topic, int32_t partition, int64_t records, size_t bytes)
{
    part_slot_t *s = topic ? part_slot(topic, partition) : NULL;
    if (!s) {
        __atomic_add_fetch(&S.overflow_records, records, RELAXED);
        __atomic_add_fetch(&S.overflow_bytes, (int64_t)bytes, RELAXED);
        return;
    }
    __atomic_add_fetch(&s->records, records, RELAXED);
    __atomic_add_fetch(&s->bytes, (int64_t)bytes, RELAXED);
}

void metrics_forget_topic(const char *topic)
{
    /* Slots stay claimed (claiming is lock-free and one-way); zeroing them
     * reads as a counter reset, which Prometheus handles. */
    for (int i = 0; i < PART_SLOTS; i++) {
        part_slot_t *s = &S.parts[i];
        if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == 2 && !strcmp(s->topic, topic)) {
            __atomic_store_n(&s->records, 0, RELAXED);
            __atomic_store_n(&s->bytes, 0, RELAXED);
        }
    }
}

/* True if the slot's topic still exists: deleted topics leave the output. */
static int slot_live(part_slot_t *s)
{
    if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != 2)
        return 0;
    topic_t *t = topics_get(s->topic);
    int live = t && s->partition < t->partition_count;
    topic_release(t);
    return live;
}

/* ---- rendering ---- */

typedef struct out {
    char *buf;
    size_t len, cap;
    int oom;
} out_t;

static void emit(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emit(out_t *o, const char *fmt, ...)
{
    if (o->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->oom = 1;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap * 2 + (size_t)n + 1;
        char *grown = realloc(o->buf, cap);
        if (!grown) {
            o->oom = 1;
            return;
        }
        o->buf = grown;
        o->cap = cap;
    }
}

static void header(out_t *o, const char *name, const char *type, const char *help)
{
    emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int64_t load64(const int64_t *p)
{
    return __atomic_load_n(p, RELAXED);
}

/* labels is "" or `key="value",` (with the trailing comma). */
static void emit_histogram(out_t *o, const char *name, const char *labels, const histogram_t *h)
{
    int64_t cum = 0;
    for (int i = 0; i < NBUCKETS; i++) {
        cum += load64(&h->buckets[i]);
        emit(o, "%s_bucket{%sle=\"%g\"} %" PRId64 "\n", name, labels, (double)BUCKETS_US[i] / 1e6,
             cum);
    }
    cum += load64(&h->buckets[NBUCKETS]);
    emit(o, "%s_bucket{%sle=\"+Inf\"} %" PRId64 "\n", name, labels, cum);
    size_t l = strlen(labels);
    char bare[128] = "";
    if (l > 1 && l < sizeof(bare)) { /* drop the trailing comma */
        memcpy(bare, labels, l - 1);
        bare[l - 1] = 0;
    }
    const char *lb = bare[0] ? "{" : "", *rb = bare[0] ? "}" : "";
    emit(o, "%s_sum%s%s%s %.6f\n", name, lb, bare, rb, (double)load64(&h->sum_us) / 1e6);
    /* count from the buckets so it always equals the +Inf bucket */
    emit(o, "%s_count%s%s%s %" PRId64 "\n", name, lb, bare, rb, cum);
}

static int method_count(method_stats_t **list)
{
    int n = 0;
    for (int i = 0; i < METHOD_SLOTS; i++)
        if (__atomic_load_n(&S.methods[i].state, __ATOMIC_ACQUIRE) == 2)
            list[n++] = &S.methods[i];
    if (load64(&S.other_method.latency.count) > 0)
        list[n++] = &S.other_method;
    return n;
}

static void render_rpc(out_t *o)
{
    method_stats_t *list[METHOD_SLOTS + 1];
    int n = method_count(list);
    header(o, "mq_rpc_requests_total", "counter", "gRPC calls finished, by method and status.");
    for (int i = 0; i < n; i++)
        for (int c = 0; c <= NSTATUS; c++) {
            int64_t v = load64(&list[i]->requests[c]);
            if (v)
                emit(o, "mq_rpc_requests_total{method=\"%s\",grpc_code=\"%s\"} %" PRId64 "\n",
                     list[i]->name, GRPC_CODE_NAMES[c], v);
        }
    header(o, "mq_rpc_duration_seconds", "histogram", "gRPC call latency, by method.");
    for (int i = 0; i < n; i++) {
        char labels[96];
        snprintf(labels, sizeof(labels), "method=\"%s\",", list[i]->name);
        emit_histogram(o, "mq_rpc_duration_seconds", labels, &list[i]->latency);
    }
    header(o, "mq_rpc_received_bytes_total", "counter", "gRPC request bytes, by method.");
    for (int i = 0; i < n; i++)
        emit(o, "mq_rpc_received_bytes_total{method=\"%s\"} %" PRId64 "\n", list[i]->name,
             load64(&list[i]->bytes_in));
    header(o, "mq_rpc_sent_bytes_total", "counter", "gRPC response bytes, by method.");
    for (int i = 0; i < n; i++)
        emit(o, "mq_rpc_sent_bytes_total{method=\"%s\"} %" PRId64 "\n", list[i]->name,
             load64(&list[i]->bytes_out));
}

static void render_traffic(out_t *o)
{
    header(o, "mq_connections", "gauge", "Open client connections.");
    emit(o, "mq_connections %" PRId64 "\n", load64(&S.connections));
    header(o, "mq_connections_opened_total", "counter", "Client connections accepted.");
    emit(o, "mq_connections_opened_total %" PRId64 "\n", load64(&S.connections_total));
    header(o, "mq_tls_handshake_failures_total", "counter",
           "TLS handshakes refused (certificate, protocol, no principal) or timed out.");
    static const char *const ports[2] = {[TLS_PORT_CLIENT] = "client", [TLS_PORT_ADMIN] = "admin"};
    static const char *const causes[2] = {"refused", "timeout"};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            emit(o, "mq_tls_handshake_failures_total{port=\"%s\",cause=\"%s\"} %" PRId64 "\n",
                 ports[i], causes[j], load64(&S.tls_failures[i][j]));
    header(o, "mq_fetched_bytes_total", "counter", "Record batch bytes returned by Fetch.");
    emit(o, "mq_fetched_bytes_total %" PRId64 "\n", load64(&S.fetched_bytes));

    /* One pass decides which slots are shown, so both families agree. */
    unsigned char *live = calloc(PART_SLOTS, 1);
    if (!live) {
        o->oom = 1;
        return;
    }
    for (int i = 0; i < PART_SLOTS; i++)
        live[i] = (unsigned char)slot_live(&S.parts[i]);
    header(o, "mq_produced_records_total", "counter", "Records appended, by partition.");
    for (int i = 0; i < PART_SLOTS; i++) {
        part_slot_t *s = &S.parts[i];
        if (live[i])
            emit(o, "mq_produced_records_total{topic=\"%s\",partition=\"%d\"} %" PRId64 "\n",
                 s->topic, s->partition, load64(&s->records));
    }
    if (load64(&S.overflow_records))
        emit(o, "mq_produced_records_total{topic=\"\",partition=\"\"} %" PRId64 "\n",
             load64(&S.overflow_records));
    header(o, "mq_produced_bytes_total", "counter", "Record batch bytes appended, by partition.");
    for (int i = 0; i < PART_SLOTS; i++) {
        part_slot_t *s = &S.parts[i];
        if (live[i])
            emit(o, "mq_produced_bytes_total{topic=\"%s\",partition=\"%d\"} %" PRId64 "\n",
                 s->topic, s->partition, load64(&s->bytes));
    }
    if (load64(&S.overflow_bytes))
        emit(o, "mq_produced_bytes_total{topic=\"\",partition=\"\"} %" PRId64 "\n",
             load64(&S.overflow_bytes));
    free(live);
}

static void render_admin(out_t *o)
{
    header(o, "mq_admin_requests_total", "counter", "Admin HTTP requests, by status code.");
    for (int c = 100; c < 600; c++) {
        int64_t v = load64(&S.admin_requests[c]);
        if (v)
            emit(o, "mq_admin_requests_total{code=\"%d\"} %" PRId64 "\n", c, v);
    }
    header(o, "mq_admin_request_duration_seconds", "histogram", "Admin HTTP request latency.");
    emit_histogram(o, "mq_admin_request_duration_seconds", "", &S.admin_latency);
}

/* Partition sizes, read from the registry now. */
typedef struct part_row {
    char topic[TOPIC_NAME_MAX + 1];
    int32_t partition;
    part_stats_t st;
} part_row_t;

typedef struct rows {
    part_row_t *v;
    size_t n, cap;
    int oom;
} rows_t;

static void gather_topic(topic_t *t, void *arg)
{
    rows_t *r = arg;
    for (int32_t i = 0; i < t->partition_count && !r->oom; i++) {
        if (!t->parts[i])
            continue;
        if (r->n == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 64;
            part_row_t *g = realloc(r->v, cap * sizeof(*g));
            if (!g) {
                r->oom = 1;
                return;
            }
            r->v = g;
            r->cap = cap;
        }
        part_row_t *row = &r->v[r->n++];
        strcpy(row->topic, t->name);
        row->partition = i;
        part_get_stats(t->parts[i], &row->st);
    }
}

static void render_partitions(out_t *o)
{
    rows_t r = {0};
    topics_foreach(gather_topic, &r);
    if (r.oom)
        o->oom = 1;
    static const struct {
        const char *name, *help;
    } fam[] = {
        {"mq_partition_log_start_offset", "First offset still stored."},
        {"mq_partition_log_end_offset", "Next offset to be assigned."},
        {"mq_partition_size_bytes", "Bytes on disk in all segments."},
        {"mq_partition_segments", "Segment count."},
    };
    for (int f = 0; f < 4; f++) {
        header(o, fam[f].name, "gauge", fam[f].help);
        for (size_t i = 0; i < r.n; i++) {
            const part_stats_t *st = &r.v[i].st;
            int64_t v = f == 0   ? st->log_start_offset
                        : f == 1 ? st->log_end_offset
                        : f == 2 ? st->size_bytes
                                 : st->segment_count;
            emit(o, "%s{topic=\"%s\",partition=\"%d\"} %" PRId64 "\n", fam[f].name, r.v[i].topic,
                 r.v[i].partition, v);
        }
    }
    free(r.v);
    header(o, "mq_topics", "gauge", "Topics.");
    emit(o, "mq_topics %d\n", topics_count());
    header(o, "mq_partitions", "gauge", "Partitions over all topics.");
    emit(o, "mq_partitions %" PRId64 "\n", topics_partition_total());
    int64_t ng, nm, nr;
    groups_counts(&ng, &nm, &nr);
    header(o, "mq_consumer_groups", "gauge",
           "Consumer groups (with members or committed offsets).");
    emit(o, "mq_consumer_groups %" PRId64 "\n", ng);
    header(o, "mq_consumer_group_members", "gauge", "Members of every consumer group.");
    emit(o, "mq_consumer_group_members %" PRId64 "\n", nm);
    header(o, "mq_consumer_group_rebalances_total", "counter",
           "Target assignments computed (group epoch changes) since start.");
    emit(o, "mq_consumer_group_rebalances_total %" PRId64 "\n", nr);
}

char *metrics_render(size_t *len)
{
    out_t o = {.cap = 16384};
    o.buf = malloc(o.cap);
    if (!o.buf)
        return NULL;
    o.buf[0] = 0;
    header(&o, "mq_build_info", "gauge", "Broker version.");
    emit(&o, "mq_build_info{version=\"%s\"} 1\n", MQ_VERSION_STR);
    header(&o, "mq_uptime_seconds", "gauge", "Seconds since the broker started.");
    emit(&o, "mq_uptime_seconds %.3f\n", metrics_uptime_seconds());
    header(&o, "process_start_time_seconds", "gauge", "Start time since the Unix epoch.");
    emit(&o, "process_start_time_seconds %.3f\n", (double)S.start_wall_ms / 1000.0);
    render_rpc(&o);
    render_traffic(&o);
    render_admin(&o);
    render_partitions(&o);
    if (o.oom) {
        free(o.buf);
        return NULL;
    }
    if (len)
        *len = o.len;
    return o.buf;
}
