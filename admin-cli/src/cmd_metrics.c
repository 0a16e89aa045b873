/* mqadmin metrics: a readable summary of the broker's Prometheus /metrics
 * (broker totals, gRPC calls per method, admin requests, partitions), or the
 * text as is with --raw. The summary is built as one JSON object; the table
 * and CSV outputs render that object. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "http.h"
#include "output.h"
#include "prom.h"

#define MAX_BUCKETS 64

typedef struct rpc_stat {
    const char *method;
    double requests, errors, received, sent, sum, count;
    double le[MAX_BUCKETS], cum[MAX_BUCKETS];
    int nbuckets;
} rpc_stat_t;

typedef struct part_stat {
    const char *topic, *partition;
    double start, end, size, segments, produced_records, produced_bytes;
} part_stat_t;

typedef struct summary {
    rpc_stat_t *rpc;
    int nrpc;
    part_stat_t *part;
    int npart, part_cursor;
} summary_t;

static rpc_stat_t *rpc_for(summary_t *s, const char *method)
{
    for (int i = 0; i < s->nrpc; i++)
        if (!strcmp(s->rpc[i].method, method))
            return &s->rpc[i];
    rpc_stat_t *n = realloc(s->rpc, (size_t)(s->nrpc + 1) * sizeof *n);
    if (!n)
        return NULL;
    s->rpc = n;
    memset(&n[s->nrpc], 0, sizeof *n);
    n[s->nrpc].method = method;
    return &n[s->nrpc++];
}

/* The gauges list partitions in the same order each time, so the search
 * starts after the last hit: linear overall for thousands of partitions. */
static part_stat_t *part_for(summary_t *s, const char *topic, const char *partition)
{
    for (int k = 0; k < s->npart; k++) {
        int i = (s->part_cursor + k) % s->npart;
        if (!strcmp(s->part[i].topic, topic) && !strcmp(s->part[i].partition, partition)) {
            s->part_cursor = i + 1;
            return &s->part[i];
        }
    }
    part_stat_t *n = realloc(s->part, (size_t)(s->npart + 1) * sizeof *n);
    if (!n)
        return NULL;
    s->part = n;
    memset(&n[s->npart], 0, sizeof *n);
    n[s->npart].topic = topic;
    n[s->npart].partition = partition;
    s->part_cursor = s->npart + 1;
    return &n[s->npart++];
}

static int has_prefix(const char *s, const char *p)
{
    return !strncmp(s, p, strlen(p));
}

static void add_rpc_sample(summary_t *s, const prom_sample_t *x, const char *method)
{
    rpc_stat_t *r = rpc_for(s, method);
    if (!r)
        return;
    const char *n = x->name;
    if (!strcmp(n, "mq_rpc_requests_total")) {
        const char *code = prom_label(x, "grpc_code");
        r->requests += x->value;
        if (code && strcmp(code, "OK") && strcmp(code, "0"))
            r->errors += x->value;
    } else if (!strcmp(n, "mq_rpc_received_bytes_total")) {
        r->received += x->value;
    } else if (!strcmp(n, "mq_rpc_sent_bytes_total")) {
        r->sent += x->value;
    } else if (!strcmp(n, "mq_rpc_duration_seconds_sum")) {
        r->sum = x->value;
    } else if (!strcmp(n, "mq_rpc_duration_seconds_count")) {
        r->count = x->value;
    } else if (!strcmp(n, "mq_rpc_duration_seconds_bucket") && r->nbuckets < MAX_BUCKETS) {
        const char *le = prom_label(x, "le");
        r->le[r->nbuckets] = le ? strtod(le, NULL) : INFINITY;
        r->cum[r->nbuckets++] = x->value;
    }
}

static void add_part_sample(summary_t *s, const prom_sample_t *x, const char *topic,
                            const char *partition)
{
    static const struct {
        const char *name;
        size_t off;
    } map[] = {
        {"mq_partition_log_start_offset", offsetof(part_stat_t, start)},
        {"mq_partition_log_end_offset", offsetof(part_stat_t, end)},
        {"mq_partition_size_bytes", offsetof(part_stat_t, size)},
        {"mq_partition_segments", offsetof(part_stat_t, segments)},
        {"mq_produced_records_total", offsetof(part_stat_t, produced_records)},
        {"mq_produced_bytes_total", offsetof(part_stat_t, produced_bytes)},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(x->name, map[i].name))
            continue;
        part_stat_t *p = part_for(s, topic, partition);
        if (p)
            *(double *)((char *)p + map[i].off) = x->value;
        return;
    }
}

/* Upper bound of the bucket holding quantile q; NAN without data. */
static double quantile_le(const rpc_stat_t *r, double q)
{
    if (r->count <= 0)
        return NAN;
    for (int i = 0; i < r->nbuckets; i++)
        if (r->cum[i] >= q * r->count)
            return r->le[i];
    return NAN;
}

static void add_number(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static double sum_of(const prom_t *p, const char *name)
{
    double v = 0;
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->s[i].name, name))
            v += p->s[i].value;
    return v;
}

static cJSON *broker_json(const prom_t *p)
{
    cJSON *b = cJSON_CreateObject();
    const char *version = NULL;
    for (int i = 0; i < p->n && !version; i++)
        if (!strcmp(p->s[i].name, "mq_build_info"))
            version = prom_label(&p->s[i], "version");
    cJSON_AddStringToObject(b, "version", version ? version : "");
    add_number(b, "uptime_seconds", sum_of(p, "mq_uptime_seconds"));
    add_number(b, "connections", sum_of(p, "mq_connections"));
    add_number(b, "connections_opened", sum_of(p, "mq_connections_opened_total"));
    add_number(b, "topics", sum_of(p, "mq_topics"));
    add_number(b, "partitions", sum_of(p, "mq_partitions"));
    add_number(b, "rpc_requests", sum_of(p, "mq_rpc_requests_total"));
    add_number(b, "admin_requests", sum_of(p, "mq_admin_requests_total"));
    add_number(b, "produced_records", sum_of(p, "mq_produced_records_total"));
    add_number(b, "produced_bytes", sum_of(p, "mq_produced_bytes_total"));
    add_number(b, "fetched_bytes", sum_of(p, "mq_fetched_bytes_total"));
    return b;
}

static int by_topic_partition(const void *a, const void *b)
{
    const part_stat_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c)
        return c;
    long long px = strtoll(x->partition, NULL, 10), py = strtoll(y->partition, NULL, 10);
    return (px > py) - (px < py);
}

static cJSON *summarize(const prom_t *p)
{
    summary_t s = {0};
    cJSON *admin = cJSON_CreateArray();
    for (int i = 0; i < p->n; i++) {
        const prom_sample_t *x = &p->s[i];
        const char *method = prom_label(x, "method");
        const char *topic = prom_label(x, "topic"), *part = prom_label(x, "partition");
        if (has_prefix(x->name, "mq_rpc_") && method)
            add_rpc_sample(&s, x, method);
        else if (topic && part)
            add_part_sample(&s, x, topic, part);
        else if (!strcmp(x->name, "mq_admin_requests_total") && prom_label(x, "code")) {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddStringToObject(a, "code", prom_label(x, "code"));
            add_number(a, "requests", x->value);
            cJSON_AddItemToArray(admin, a);
        }
    }

    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "broker", broker_json(p));
    cJSON *rpc = cJSON_AddArrayToObject(out, "rpc");
    for (int i = 0; i < s.nrpc; i++) {
        const rpc_stat_t *r = &s.rpc[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "method", r->method);
        add_number(o, "requests", r->requests);
        add_number(o, "errors", r->errors);
        add_number(o, "received_bytes", r->received);
        add_number(o, "sent_bytes", r->sent);
        add_number(o, "latency_avg_seconds", r->count > 0 ? r->sum / r->count : NAN);
        add_number(o, "latency_p99_le_seconds", quantile_le(r, 0.99));
        cJSON_AddItemToArray(rpc, o);
    }
    cJSON_AddItemToObject(out, "admin", admin);
    cJSON *parts = cJSON_AddArrayToObject(out, "partitions");
    if (s.npart > 1)
        qsort(s.part, (size_t)s.npart, sizeof *s.part, by_topic_partition);
    for (int i = 0; i < s.npart; i++) {
        const part_stat_t *x = &s.part[i];
        cJSON *o = cJSON_CreateObject();
        long long partition = strtoll(x->partition, NULL, 10);
        cJSON_AddStringToObject(o, "topic", x->topic);
        add_number(o, "partition", (double)partition);
        add_number(o, "log_start_offset", x->start);
        add_number(o, "log_end_offset", x->end);
        add_number(o, "records", x->end - x->start);
        add_number(o, "size_bytes", x->size);
        add_number(o, "segments", x->segments);
        add_number(o, "produced_records", x->produced_records);
        add_number(o, "produced_bytes", x->produced_bytes);
        cJSON_AddItemToArray(parts, o);
    }
    free(s.rpc);
    free(s.part);
    return out;
}

static void cell_seconds(table_t *t, const cJSON *v, const char *prefix)
{
    char human[48], exact[48];
    if (!cJSON_IsNumber(v)) {
        table_cell2(t, "-", "");
        return;
    }
    double s = v->valuedouble;
    if (s < 1e-3)
        snprintf(human, sizeof human, "%s%.0f µs", prefix, s * 1e6);
    else if (s < 1)
        snprintf(human, sizeof human, "%s%.1f ms", prefix, s * 1e3);
    else
        snprintf(human, sizeof human, "%s%.2f s", prefix, s);
    snprintf(exact, sizeof exact, "%.6f", s);
    table_cell2(t, human, exact);
}

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static void print_broker(cli_t *cli, const cJSON *b)
{
    static const column_t cols[] = {
        {"Version", "version", 0},
        {"Uptime", "uptime_seconds", 0},
        {"Connections open", "connections", 0},
        {"Connections opened", "connections_opened", 0},
        {"Topics", "topics", 0},
        {"Partitions", "partitions", 0},
        {"gRPC requests", "rpc_requests", 0},
        {"Admin requests", "admin_requests", 0},
        {"Produced records", "produced_records", 0},
        {"Produced bytes", "produced_bytes", 0},
        {"Fetched bytes", "fetched_bytes", 0},
    };
    table_t *t = table_new(cols, 11);
    table_row(t);
    table_cell(t, out_json_str(b, "version"));
    table_cell_duration(t, out_json_int(b, "uptime_seconds"));
    for (int i = 2; i < 11; i++) {
        if (strstr(cols[i].key, "bytes"))
            table_cell_size(t, out_json_int(b, cols[i].key));
        else
            table_cell_int(t, out_json_int(b, cols[i].key));
    }
    table_print(cli, t, TABLE_VERTICAL);
    table_free(t);
}

static void print_rpc(cli_t *cli, const cJSON *rpc)
{
    static const column_t cols[] = {
        {"METHOD", "method", 0},
        {"REQUESTS", "requests", 1},
        {"ERRORS", "errors", 1},
        {"RECEIVED", "received_bytes", 1},
        {"SENT", "sent_bytes", 1},
        {"AVG LATENCY", "latency_avg_seconds", 1},
        {"P99 LATENCY", "latency_p99_le_seconds", 1},
    };
    table_t *t = table_new(cols, 7);
    const cJSON *r;
    cJSON_ArrayForEach(r, rpc)
    {
        table_row(t);
        table_cell(t, out_json_str(r, "method"));
        table_cell_int(t, out_json_int(r, "requests"));
        table_cell_int(t, out_json_int(r, "errors"));
        table_cell_size(t, out_json_int(r, "received_bytes"));
        table_cell_size(t, out_json_int(r, "sent_bytes"));
        cell_seconds(t, get(r, "latency_avg_seconds"), "");
        cell_seconds(t, get(r, "latency_p99_le_seconds"), "<= ");
    }
    if (table_rows(t))
        table_print(cli, t, TABLE_ROWS);
    else
        puts("No gRPC requests yet.");
    table_free(t);
}

static void print_admin(cli_t *cli, const cJSON *admin)
{
    static const column_t cols[] = {{"HTTP STATUS", "code", 0}, {"REQUESTS", "requests", 1}};
    table_t *t = table_new(cols, 2);
    const cJSON *a;
    cJSON_ArrayForEach(a, admin)
    {
        table_row(t);
        table_cell(t, out_json_str(a, "code"));
        table_cell_int(t, out_json_int(a, "requests"));
    }
    table_print(cli, t, TABLE_ROWS);
    table_free(t);
}

static void print_partitions(cli_t *cli, const cJSON *parts)
{
    static const column_t cols[] = {
        {"TOPIC", "topic", 0},
        {"PARTITION", "partition", 1},
        {"START", "log_start_offset", 1},
        {"END", "log_end_offset", 1},
        {"RECORDS", "records", 1},
        {"SIZE", "size_bytes", 1},
        {"SEGMENTS", "segments", 1},
        {"PRODUCED", "produced_records", 1},
        {"PRODUCED BYTES", "produced_bytes", 1},
    };
    table_t *t = table_new(cols, 9);
    const cJSON *p;
    cJSON_ArrayForEach(p, parts)
    {
        table_row(t);
        table_cell(t, out_json_str(p, "topic"));
        for (int i = 1; i < 9; i++) {
            if (strstr(cols[i].key, "bytes"))
                table_cell_size(t, out_json_int(p, cols[i].key));
            else
                table_cell_int(t, out_json_int(p, cols[i].key));
        }
    }
    if (table_rows(t))
        table_print(cli, t, TABLE_ROWS);
    else
        puts("No partitions.");
    table_free(t);
}

/* 1 if word is one of the space-separated words in list. */
static int in_list(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, " ");
        if (len == n && !strncmp(p, word, n))
            return 1;
        p += len;
        p += strspn(p, " ");
    }
    return 0;
}

/* CSV of the summary in long form: one row per value. */
static void add_rows(table_t *t, const char *section, const char *name, const cJSON *o,
                     const char *in_name)
{
    const cJSON *kv;
    cJSON_ArrayForEach(kv, o)
    {
        if (in_list(in_name, kv->string)) /* already in the name column */
            continue;
        table_row(t);
        table_cell(t, section);
        table_cell(t, name);
        table_cell(t, kv->string);
        table_cell_json(t, kv);
    }
}

static void print_csv(cli_t *cli, const cJSON *sum)
{
    static const column_t cols[] = {{"SECTION", "section", 0},
                                    {"NAME", "name", 0},
                                    {"FIELD", "field", 0},
                                    {"VALUE", "value", 0}};
    table_t *t = table_new(cols, 4);
    const cJSON *x;
    add_rows(t, "broker", "", get(sum, "broker"), "");
    cJSON_ArrayForEach(x, get(sum, "rpc"))
        add_rows(t, "rpc", out_json_str(x, "method"), x, "method");
    cJSON_ArrayForEach(x, get(sum, "admin"))
        add_rows(t, "admin", out_json_str(x, "code"), x, "code");
    cJSON_ArrayForEach(x, get(sum, "partitions"))
    {
        char name[320];
        snprintf(name, sizeof name, "%s/%lld", out_json_str(x, "topic"),
                 out_json_int(x, "partition"));
        add_rows(t, "partition", name, x, "topic partition");
    }
    table_print(cli, t, TABLE_ROWS);
    table_free(t);
}

static int metrics_run(cli_t *cli, const args_t *a)
{
    http_response_t r;
    int rc = http_request(cli, "GET", "/metrics", NULL, HTTP_RAW, &r);
    if (rc != CLI_OK)
        return rc;
    if (args_has(a, "raw")) {
        fwrite(r.body, 1, r.len, stdout);
        http_response_free(&r);
        return CLI_OK;
    }
    prom_t p;
    char err[256];
    if (prom_parse(r.body, &p, err, sizeof err) != 0) {
        http_response_free(&r);
        return cli_fail(cli, CLI_SERVER, "cannot read %s/metrics: %s", cli->url, err);
    }
    cJSON *sum = summarize(&p);
    if (cli->format == OUT_JSON) {
        out_json(cli, sum);
    } else if (cli->format == OUT_CSV) {
        print_csv(cli, sum);
    } else {
        print_broker(cli, get(sum, "broker"));
        out_section(cli, "gRPC requests");
        print_rpc(cli, get(sum, "rpc"));
        out_section(cli, "Admin requests");
        print_admin(cli, get(sum, "admin"));
        out_section(cli, "Partitions");
        print_partitions(cli, get(sum, "partitions"));
    }
    cJSON_Delete(sum);
    prom_free(&p);
    http_response_free(&r);
    return CLI_OK;
}

static const opt_spec_t metrics_opts[] = {
    {"raw", 0, OPT_FLAG, NULL, "print the Prometheus text as the broker serves it", COMPLETE_NONE,
     NULL},
    {NULL, 0, 0, NULL, NULL, 0, NULL},
};

const command_t metrics_command = {
    .name = "metrics",
    .summary = "Summarize the broker's metrics: requests, bytes, partitions",
    .description =
        "Summarize the broker's Prometheus metrics (/metrics): connections; gRPC requests\n"
        "per method with errors, bytes and latency (the average, and the upper bound of\n"
        "the histogram bucket holding the 99th percentile); admin requests per HTTP\n"
        "status; every partition's offsets, size, segments and records produced since\n"
        "the broker started. With --output csv: one row per value\n"
        "(section,name,field,value). --raw prints the Prometheus text as is.",
    .examples = "  mqadmin metrics\n"
                "  mqadmin metrics -o json | jq '.partitions[] | select(.topic==\"orders\")'\n"
                "  mqadmin metrics --raw | grep mq_partition_log_end_offset\n",
    .options = metrics_opts,
    .run = metrics_run,
};
