/* Admin REST routes (docs/admin-api.md). Every JSON answer uses one
 * envelope: {"success":true|false,"data":...,"error":null|"message"}.
 * Reads come from the in-memory registry on the loop; changes go to the
 * metadata thread, whose completion (posted back to this loop) replies. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "admin_internal.h"
#include "config.h"
#include "error.h"
#include "meta.h"
#include "metrics.h"
#include "topics.h"

#define JSON_TYPE "application/json"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---- envelope ---- */

void admin_reply_data(admin_req_t *req, int status, cJSON *data)
{
    cJSON *env = cJSON_CreateObject();
    if (env) {
        cJSON_AddBoolToObject(env, "success", 1);
        cJSON_AddItemToObject(env, "data", data ? data : cJSON_CreateNull());
        cJSON_AddNullToObject(env, "error");
    } else {
        cJSON_Delete(data);
    }
    char *text = env ? cJSON_PrintUnformatted(env) : NULL;
    cJSON_Delete(env);
    if (!text) {
        admin_reply_error(req, 500, "out of memory");
        return;
    }
    admin_reply(req, status, JSON_TYPE, text, strlen(text), NULL);
}

static void reply_error_allow(admin_req_t *req, int status, const char *msg, const char *allow)
{
    cJSON *env = cJSON_CreateObject();
    cJSON_AddBoolToObject(env, "success", 0);
    cJSON_AddNullToObject(env, "data");
    cJSON_AddStringToObject(env, "error", msg);
    char *text = cJSON_PrintUnformatted(env);
    cJSON_Delete(env);
    if (!text) {
        /* Nothing left to format with: a fixed body. */
        static const char oom[] = "{\"success\":false,\"data\":null,\"error\":\"out of memory\"}";
        text = strdup(oom);
        status = 500;
    }
    admin_reply(req, status, JSON_TYPE, text, text ? strlen(text) : 0, allow);
}

void admin_reply_error(admin_req_t *req, int status, const char *msg)
{
    reply_error_allow(req, status, msg, NULL);
}

static void reply_result(admin_req_t *req, const meta_result_t *res)
{
    int status = mq__err_http_status(res->err);
    if (status < 400)
        status = 500;
    admin_reply_error(req, status, res->message[0] ? res->message : mq_err_str(res->err));
}

/* ---- JSON helpers ---- */

static void add_i64(cJSON *obj, const char *key, int64_t v)
{
    /* Raw so 64-bit values are exact (cJSON numbers are doubles). */
    char num[32];
    snprintf(num, sizeof(num), "%" PRId64, v);
    cJSON_AddRawToObject(obj, key, num);
}

static cJSON *config_effective(const log_config_t *lc)
{
    cJSON *o = cJSON_CreateObject();
    add_i64(o, "retention.ms", lc->retention_ms);
    add_i64(o, "retention.bytes", lc->retention_bytes);
    add_i64(o, "segment.bytes", lc->segment_bytes);
    add_i64(o, "segment.ms", lc->segment_ms);
    add_i64(o, "max.message.bytes", lc->max_message_bytes);
    add_i64(o, "index.interval.bytes", lc->index_interval_bytes);
    cJSON_AddStringToObject(o, "message.timestamp.type",
                            lc->message_timestamp_log_append ? "LogAppendTime" : "CreateTime");
    return o;
}

static cJSON *topic_json(topic_t *t, int details)
{
    log_config_t lc;
    char *overrides = NULL;
    topic_get_config(t, &lc, &overrides);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddNumberToObject(o, "partition_count", t->partition_count);
    add_i64(o, "created_ms", t->created_ms);
    cJSON *ov = overrides ? cJSON_Parse(overrides) : NULL;
    free(overrides);
    cJSON_AddItemToObject(o, "config_overrides", ov ? ov : cJSON_CreateObject());
    if (!details)
        return o;
    cJSON_AddItemToObject(o, "config", config_effective(&lc));
    cJSON *parts = cJSON_AddArrayToObject(o, "partitions");
    int64_t total = 0;
    for (int32_t i = 0; i < t->partition_count; i++) {
        part_stats_t st = {0};
        if (t->parts[i])
            part_get_stats(t->parts[i], &st);
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "partition", i);
        cJSON_AddNumberToObject(p, "leader", g_config.node_id);
        add_i64(p, "earliest_offset", st.log_start_offset);
        add_i64(p, "latest_offset", st.log_end_offset);
        add_i64(p, "size_bytes", st.size_bytes);
        cJSON_AddNumberToObject(p, "segment_count", st.segment_count);
        cJSON_AddItemToArray(parts, p);
        total += st.size_bytes;
    }
    add_i64(o, "size_bytes", total);
    return o;
}

/* ---- routes ---- */

static void get_health(admin_req_t *req)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "status", "ok");
    admin_reply_data(req, 200, d);
}

static void get_cluster(admin_req_t *req)
{
    char client[256], admin[256];
    admin_get_listeners(client, sizeof(client), admin, sizeof(admin));
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "node_id", g_config.node_id);
    cJSON_AddStringToObject(d, "version", MQ_VERSION_STR);
    cJSON *l = cJSON_AddObjectToObject(d, "listeners");
    cJSON_AddStringToObject(l, "client", client);
    cJSON_AddStringToObject(l, "admin", admin);
    cJSON_AddNumberToObject(d, "uptime_seconds", (double)(int64_t)metrics_uptime_seconds());
    cJSON_AddNumberToObject(d, "topic_count", topics_count());
    add_i64(d, "partition_count", topics_partition_total());
    admin_reply_data(req, 200, d);
}

typedef struct list_ctx {
    admin_req_t *req;
    cJSON *arr;
} list_ctx_t;

static void list_one(topic_t *t, void *arg)
{
    list_ctx_t *ctx = arg;
    if (admin_topic_visible(ctx->req, t->name))
        cJSON_AddItemToArray(ctx->arr, topic_json(t, 0));
}

static void list_topics(admin_req_t *req)
{
    list_ctx_t ctx = {req, cJSON_CreateArray()};
    topics_foreach(list_one, &ctx);
    admin_reply_data(req, 200, ctx.arr);
}

static void describe(admin_req_t *req, const char *name, int status)
{
    topic_t *t = topics_get(name);
    if (!t) {
        char msg[300];
        snprintf(msg, sizeof(msg), "topic '%.260s' does not exist", name);
        admin_reply_error(req, 404, msg);
        return;
    }
    cJSON *d = topic_json(t, 1);
    topic_release(t);
    admin_reply_data(req, status, d);
}

/* Checks that body is a JSON object holding only the allowed fields.
 * Replies 400 and returns NULL otherwise. */
static cJSON *parse_body(admin_req_t *req, const char *const *allowed)
{
    if (!req->body || req->body_len == 0) {
        admin_reply_error(req, 400, "request body must be a JSON object");
        return NULL;
    }
    cJSON *doc = cJSON_ParseWithLength(req->body, req->body_len);
    if (!doc) {
        admin_reply_error(req, 400, "request body is not valid JSON");
        return NULL;
    }
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        admin_reply_error(req, 400, "request body must be a JSON object");
        return NULL;
    }
    cJSON *it;
    cJSON_ArrayForEach(it, doc)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = !strcmp(*a, it->string);
        if (!ok) {
            char msg[300];
            snprintf(msg, sizeof(msg), "unknown field '%.200s'", it->string);
            cJSON_Delete(doc);
            admin_reply_error(req, 400, msg);
            return NULL;
        }
    }
    return doc;
}

/* The "config" field as compact JSON text (NULL if absent); 400 if not an object. */
static int config_field(admin_req_t *req, cJSON *doc, int required, char **out)
{
    *out = NULL;
    cJSON *cfg = cJSON_GetObjectItemCaseSensitive(doc, "config");
    if (!cfg) {
        if (required)
            admin_reply_error(req, 400, "field 'config' is required");
        return required ? -1 : 0;
    }
    if (!cJSON_IsObject(cfg)) {
        admin_reply_error(req, 400, "field 'config' must be an object");
        return -1;
    }
    *out = cJSON_PrintUnformatted(cfg);
    if (!*out) {
        admin_reply_error(req, 500, "out of memory");
        return -1;
    }
    return 0;
}

/* Metadata completions hold the topic name after the request. */
typedef struct pending {
    admin_req_t *req;
    char *name;
} pending_t;

static pending_t *pending_new(admin_req_t *req, const char *name)
{
    pending_t *p = calloc(1, sizeof(*p));
    if (p)
        p->name = strdup(name);
    if (!p || !p->name) {
        free(p);
        admin_reply_error(req, 500, "out of memory");
        return NULL;
    }
    p->req = req;
    return p;
}

static void pending_free(pending_t *p)
{
    free(p->name);
    free(p);
}

static void on_created(loop_t *loop, void *arg, const meta_result_t *res)
{
    (void)loop;
    pending_t *p = arg;
    if (res->err == MQ_OK)
        describe(p->req, p->name, 201);
    else
        reply_result(p->req, res);
    pending_free(p);
}

static void on_altered(loop_t *loop, void *arg, const meta_result_t *res)
{
    (void)loop;
    pending_t *p = arg;
    if (res->err == MQ_OK)
        describe(p->req, p->name, 200);
    else
        reply_result(p->req, res);
    pending_free(p);
}

static void on_deleted(loop_t *loop, void *arg, const meta_result_t *res)
{
    (void)loop;
    pending_t *p = arg;
    if (res->err == MQ_OK) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "name", p->name);
        cJSON_AddBoolToObject(d, "deleted", 1);
        admin_reply_data(p->req, 200, d);
    } else {
        reply_result(p->req, res);
    }
    pending_free(p);
}

static void create_topic(admin_req_t *req)
{
    static const char *const allowed[] = {"name", "partitions", "config", NULL};
    cJSON *doc = parse_body(req, allowed);
    if (!doc)
        return;
    cJSON *name = cJSON_GetObjectItemCaseSensitive(doc, "name");
    cJSON *parts = cJSON_GetObjectItemCaseSensitive(doc, "partitions");
    char *cfg = NULL;
    int32_t n = g_config.default_partitions;
    if (!cJSON_IsString(name)) {
        admin_reply_error(req, 400, "field 'name' is required and must be a string");
        goto out;
    }
    if (parts) {
        double d = cJSON_IsNumber(parts) ? parts->valuedouble : 0.5;
        if (d != (double)(int64_t)d) {
            admin_reply_error(req, 400, "field 'partitions' must be an integer");
            goto out;
        }
        /* Out-of-range counts are clamped to a value the check rejects. */
        n = d < 0 ? -1 : d > 2147483647.0 ? 2147483647 : (int32_t)d;
    }
    if (config_field(req, doc, 0, &cfg) != 0)
        goto out;
    pending_t *p = pending_new(req, name->valuestring);
    if (p)
        meta_create_topic_ex(name->valuestring, n, cfg, req->loop, on_created, p);
out:
    free(cfg);
    cJSON_Delete(doc);
}

static void alter_topic(admin_req_t *req, const char *name)
{
    static const char *const allowed[] = {"config", NULL};
    cJSON *doc = parse_body(req, allowed);
    if (!doc)
        return;
    char *cfg = NULL;
    if (config_field(req, doc, 1, &cfg) == 0) {
        pending_t *p = pending_new(req, name);
        if (p)
            meta_alter_topic(name, cfg, req->loop, on_altered, p);
    }
    free(cfg);
    cJSON_Delete(doc);
}

static void delete_topic(admin_req_t *req, const char *name)
{
    pending_t *p = pending_new(req, name);
    if (p)
        meta_delete_topic(name, req->loop, on_deleted, p);
}

static void get_metrics(admin_req_t *req)
{
    size_t len = 0;
    char *text = metrics_render(&len);
    if (!text) {
        admin_reply_error(req, 500, "out of memory rendering metrics");
        return;
    }
    admin_reply(req, 200, METRICS_TYPE, text, len, NULL);
}

/* ---- dispatch ---- */

int admin_method_is(const admin_req_t *req, const char *m)
{
    return !strcmp(req->method, m) || (!strcmp(m, "GET") && !strcmp(req->method, "HEAD"));
}

void admin_reply_not_allowed(admin_req_t *req, const char *path, const char *allow)
{
    char msg[400];
    snprintf(msg, sizeof(msg), "method %s is not allowed on %.200s (allowed: %s)", req->method,
             path, allow);
    reply_error_allow(req, 405, msg, allow);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int admin_url_decode(const char *src, size_t n, char *dst, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = hexval(src[i + 1]), lo = hexval(src[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == 0 || o + 1 >= cap)
            return -1;
        dst[o++] = c;
    }
    dst[o] = 0;
    return 0;
}

static void route_topic(admin_req_t *req, const char *path, const char *raw, size_t rawlen)
{
    char name[1024];
    if (admin_url_decode(raw, rawlen, name, sizeof(name)) != 0 || strchr(name, '/')) {
        admin_reply_error(req, 404, "no such route; topic names cannot contain '/'");
        return;
    }
    if (!admin_method_is(req, "GET") && !admin_method_is(req, "PUT") &&
        !admin_method_is(req, "DELETE")) {
        admin_reply_not_allowed(req, path, "GET, PUT, DELETE");
        return;
    }
    if (topics_validate_name(name) != MQ_OK) {
        char msg[300];
        snprintf(msg, sizeof(msg),
                 "topic name '%.200s' is invalid: use 1 to %d characters from [a-zA-Z0-9._-], "
                 "not '.' or '..'",
                 name, TOPIC_NAME_MAX);
        admin_reply_error(req, 400, msg);
        return;
    }
    if (admin_method_is(req, "GET"))
        describe(req, name, 200);
    else if (admin_method_is(req, "PUT"))
        alter_topic(req, name);
    else
        delete_topic(req, name);
}

void admin_route(admin_req_t *req)
{
    /* The path without query string, and without one trailing slash. */
    char path[ADMIN_MAX_URL + 1];
    size_t n = strcspn(req->path ? req->path : "", "?#");
    if (n > ADMIN_MAX_URL)
        n = ADMIN_MAX_URL;
    memcpy(path, req->path ? req->path : "", n);
    path[n] = 0;
    if (n > 1 && path[n - 1] == '/')
        path[--n] = 0;

    if (admin_acl_route(req, path))
        return; /* denied, or an /api/v1/acls route */
    if (admin_group_route(req, path))
        return;
    static const char topic_prefix[] = "/api/v1/topics/";
    if (!strcmp(path, "/health")) {
        if (admin_method_is(req, "GET"))
            get_health(req);
        else
            admin_reply_not_allowed(req, path, "GET");
    } else if (!strcmp(path, "/api/v1/cluster")) {
        if (admin_method_is(req, "GET"))
            get_cluster(req);
        else
            admin_reply_not_allowed(req, path, "GET");
    } else if (!strcmp(path, "/api/v1/topics")) {
        if (admin_method_is(req, "GET"))
            list_topics(req);
        else if (admin_method_is(req, "POST"))
            create_topic(req);
        else
            admin_reply_not_allowed(req, path, "GET, POST");
    } else if (!strncmp(path, topic_prefix, sizeof(topic_prefix) - 1) &&
               n > sizeof(topic_prefix) - 1) {
        route_topic(req, path, path + sizeof(topic_prefix) - 1, n - (sizeof(topic_prefix) - 1));
    } else if (!strcmp(path, "/metrics")) {
        if (admin_method_is(req, "GET"))
            get_metrics(req);
        else
            admin_reply_not_allowed(req, path, "GET");
    } else {
        char msg[300];
        snprintf(msg, sizeof(msg), "no route for %s %.200s", req->method, path);
        admin_reply_error(req, 404, msg);
    }
}
