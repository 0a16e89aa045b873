/* Admin REST routes for consumer groups (docs/admin-api.md): list, describe
 * (members, assignment, committed offsets, lag), delete an empty group, and
 * reset an empty group's offsets (earliest, latest, an offset, a time; with
 * "dry_run" only the plan). State comes from groups.c; changes go through
 * the metadata thread (group_store.c) and are answered once committed. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_internal.h"
#include "error.h"
#include "group_rpc.h"
#include "groups.h"
#include "log/partition.h"
#include "topics.h"

static void add_i64(cJSON *obj, const char *key, int64_t v)
{
    char num[32];
    snprintf(num, sizeof(num), "%" PRId64, v);
    cJSON_AddRawToObject(obj, key, num);
}

/* The partition's log start and end (next offset); 0 if it does not exist. */
static int log_bounds(const char *topic, int32_t partition, int64_t *start, int64_t *end)
{
    topic_t *t = topics_get(topic);
    int ok = t && partition >= 0 && partition < t->partition_count && t->parts[partition];
    if (ok) {
        part_stats_t st;
        part_get_stats(t->parts[partition], &st);
        *start = st.log_start_offset;
        *end = st.log_end_offset;
    }
    topic_release(t);
    return ok;
}

/* ---- GET /api/v1/groups ---- */

static void list_groups(admin_req_t *req)
{
    char **ids = NULL;
    size_t n = groups_list(&ids);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        cJSON *d = groups_describe(ids[i]);
        if (d) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "group_id", ids[i]);
            cJSON_AddItemToObject(o, "state", cJSON_DetachItemFromObject(d, "state"));
            cJSON_AddItemToObject(o, "group_epoch", cJSON_DetachItemFromObject(d, "group_epoch"));
            cJSON_AddItemToObject(o, "assignor", cJSON_DetachItemFromObject(d, "assignor"));
            cJSON_AddNumberToObject(o, "members",
                                    cJSON_GetArraySize(cJSON_GetObjectItem(d, "members")));
            cJSON_AddItemToArray(arr, o);
            cJSON_Delete(d);
        }
        free(ids[i]);
    }
    free(ids);
    admin_reply_data(req, 200, arr);
}

/* ---- GET /api/v1/groups/{id} ---- */

typedef struct lag_row {
    const char *topic;
    int32_t partition;
} lag_row_t;

/* Adds one offsets[] entry; returns its lag (-1 when unknown). */
static int64_t add_offset_row(cJSON *arr, const char *topic, int32_t partition, int64_t committed,
                              const char *metadata, int64_t commit_ms)
{
    int64_t start = 0, end = 0, lag = -1;
    int exists = log_bounds(topic, partition, &start, &end);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "topic", topic);
    cJSON_AddNumberToObject(o, "partition", partition);
    add_i64(o, "committed_offset", committed);
    cJSON_AddStringToObject(o, "metadata", metadata);
    add_i64(o, "commit_time_ms", commit_ms);
    if (exists) {
        add_i64(o, "log_start_offset", start);
        add_i64(o, "log_end_offset", end);
    } else {
        cJSON_AddNullToObject(o, "log_start_offset");
        cJSON_AddNullToObject(o, "log_end_offset");
    }
    if (exists && committed >= 0) {
        lag = end > committed ? end - committed : 0;
        add_i64(o, "lag", lag);
    } else {
        cJSON_AddNullToObject(o, "lag");
    }
    cJSON_AddItemToArray(arr, o);
    return lag;
}

static int has_offset(const group_offset_t *v, size_t n, const char *topic, int32_t p)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].partition == p && !strcmp(v[i].topic, topic))
            return 1;
    return 0;
}

static void describe_group(admin_req_t *req, const char *id)
{
    cJSON *d = groups_describe(id);
    if (!d) {
        char msg[400];
        snprintf(msg, sizeof(msg), "group '%.250s' does not exist", id);
        admin_reply_error(req, 404, msg);
        return;
    }
    group_offset_t *offs = NULL;
    size_t n = 0;
    groups_list_offsets(id, &offs, &n);
    cJSON *arr = cJSON_AddArrayToObject(d, "offsets");
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t lag = add_offset_row(arr, offs[i].topic, offs[i].partition, offs[i].offset,
                                     offs[i].metadata, offs[i].commit_ms);
        if (lag > 0)
            total += lag;
    }
    /* Assigned partitions without a commit: their lag is unknown. */
    cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItem(d, "members"))
    {
        cJSON *tp;
        cJSON_ArrayForEach(tp, cJSON_GetObjectItem(m, "assignment"))
        {
            const char *topic = cJSON_GetStringValue(cJSON_GetObjectItem(tp, "topic"));
            cJSON *p;
            cJSON_ArrayForEach(p, cJSON_GetObjectItem(tp, "partitions"))
            {
                if (topic && !has_offset(offs, n, topic, p->valueint))
                    add_offset_row(arr, topic, p->valueint, -1, "", -1);
            }
        }
    }
    group_offsets_free(offs, n);
    add_i64(d, "total_lag", total);
    admin_reply_data(req, 200, d);
}

/* ---- DELETE /api/v1/groups/{id} ---- */

typedef struct pending {
    admin_req_t *req;
    cJSON *data; /* the answer once committed */
    group_commit_row_t *rows;
} pending_t;

static void on_written(loop_t *loop, void *arg, mq_err_t err)
{
    (void)loop;
    pending_t *p = arg;
    if (err != MQ_OK) {
        char msg[200];
        snprintf(msg, sizeof(msg), "meta.db write failed: %s", mq_err_str(err));
        admin_reply_error(p->req, 500, msg);
        cJSON_Delete(p->data);
    } else {
        admin_reply_data(p->req, 200, p->data);
    }
    free(p);
}

/* Answers data once the group changes made so far are in meta.db. */
static void reply_when_stored(admin_req_t *req, cJSON *data)
{
    pending_t *p = data ? calloc(1, sizeof(*p)) : NULL;
    if (!p) {
        cJSON_Delete(data);
        admin_reply_error(req, 500, "out of memory");
        return;
    }
    p->req = req;
    p->data = data;
    group_store_flush(req->loop, on_written, p);
}

static void delete_group(admin_req_t *req, const char *id)
{
    mq_err_t err = groups_delete(id);
    char msg[400];
    if (err == MQ_ERR_NOT_FOUND) {
        snprintf(msg, sizeof(msg), "group '%.250s' does not exist", id);
        admin_reply_error(req, 404, msg);
        return;
    }
    if (err == MQ_ERR_GROUP_NOT_EMPTY) {
        snprintf(msg, sizeof(msg),
                 "group '%.250s' has %d members: only a group without members can be deleted", id,
                 groups_member_count(id));
        admin_reply_error(req, 409, msg);
        return;
    }
    if (err != MQ_OK) {
        admin_reply_error(req, 500, "out of memory");
        return;
    }
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "group_id", id);
    cJSON_AddBoolToObject(data, "deleted", 1);
    reply_when_stored(req, data);
}

/* ---- DELETE /api/v1/groups/{id}/members/{member} and .../instances/{inst} ---- */

static void remove_member(admin_req_t *req, const char *id, const char *tail)
{
    int by_instance = !strncmp(tail, "/instances/", 11);
    const char *raw = tail + (by_instance ? 11 : 9);
    char name[300];
    if (admin_url_decode(raw, strlen(raw), name, sizeof(name)) != 0 || !name[0]) {
        admin_reply_error(req, 400,
                          "a member id or group.instance.id (percent-encoded, at most "
                          "299 bytes) must follow");
        return;
    }
    char removed[64] = "";
    mq_err_t err = groups_remove_member(id, by_instance ? "" : name, by_instance ? name : "",
                                        removed, sizeof(removed));
    char msg[700];
    if (err == MQ_ERR_NOT_FOUND) {
        snprintf(msg, sizeof(msg), "group '%.250s' has no member %s'%.299s'", id,
                 by_instance ? "with group.instance.id " : "", name);
        admin_reply_error(req, 404, msg);
        return;
    }
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "group_id", id);
    cJSON_AddStringToObject(data, "member_id", removed);
    if (by_instance)
        cJSON_AddStringToObject(data, "group_instance_id", name);
    cJSON_AddBoolToObject(data, "removed", 1);
    reply_when_stored(req, data);
}

/* ---- POST /api/v1/groups/{id}/offsets ---- */

typedef struct reset_spec {
    const char *topic;
    int mode; /* 0 earliest, 1 latest, 2 offset, 3 timestamp */
    int64_t value;
    int dry_run;
    cJSON *partitions; /* array of ints or NULL = every partition */
} reset_spec_t;

static int parse_reset(admin_req_t *req, cJSON *doc, reset_spec_t *s)
{
    static const char *const allowed[] = {"topic",     "partitions", "to", "offset",
                                          "timestamp", "dry_run",    NULL};
    char msg[300];
    cJSON *it;
    cJSON_ArrayForEach(it, doc)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = !strcmp(*a, it->string);
        if (!ok) {
            snprintf(msg, sizeof(msg), "unknown field '%.200s'", it->string);
            admin_reply_error(req, 400, msg);
            return -1;
        }
    }
    memset(s, 0, sizeof(*s));
    s->topic = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "topic"));
    const char *to = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "to"));
    cJSON *dry = cJSON_GetObjectItemCaseSensitive(doc, "dry_run");
    s->partitions = cJSON_GetObjectItemCaseSensitive(doc, "partitions");
    if (!s->topic) {
        admin_reply_error(req, 400, "field 'topic' (a string) is required");
        return -1;
    }
    if (dry && !cJSON_IsBool(dry)) {
        admin_reply_error(req, 400, "field 'dry_run' must be true or false");
        return -1;
    }
    s->dry_run = cJSON_IsTrue(dry);
    static const char *const modes[] = {"earliest", "latest", "offset", "timestamp"};
    s->mode = -1;
    for (int i = 0; to && i < 4; i++)
        if (!strcmp(to, modes[i]))
            s->mode = i;
    if (s->mode < 0) {
        admin_reply_error(req, 400,
                          "field 'to' must be \"earliest\", \"latest\", \"offset\" or "
                          "\"timestamp\"");
        return -1;
    }
    if (s->mode >= 2) {
        const char *key = s->mode == 2 ? "offset" : "timestamp";
        cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
            v->valuedouble != (double)(int64_t)v->valuedouble) {
            snprintf(msg, sizeof(msg), "\"to\": \"%s\" needs field '%s', an integer >= 0", key,
                     key);
            admin_reply_error(req, 400, msg);
            return -1;
        }
        s->value = (int64_t)v->valuedouble;
    }
    if (s->partitions && !cJSON_IsArray(s->partitions)) {
        admin_reply_error(req, 400, "field 'partitions' must be an array of partition numbers");
        return -1;
    }
    return 0;
}

/* The new offset of one partition per the spec. */
static int64_t target_offset(const reset_spec_t *s, part_t *p)
{
    part_stats_t st;
    part_get_stats(p, &st);
    int64_t off = st.log_end_offset;
    if (s->mode == 0)
        off = st.log_start_offset;
    else if (s->mode == 2)
        off = s->value;
    else if (s->mode == 3) {
        int64_t at = part_offset_for_time(p, s->value);
        off = at >= 0 ? at : st.log_end_offset; /* nothing that late: the end */
    }
    /* Kafka clamps too: a reset never points outside the log. */
    if (off < st.log_start_offset)
        off = st.log_start_offset;
    if (off > st.log_end_offset)
        off = st.log_end_offset;
    return off;
}

static void reset_offsets(admin_req_t *req, const char *id)
{
    char msg[400];
    if (groups_validate_id(id, msg, sizeof(msg)) != MQ_OK) {
        admin_reply_error(req, 400, msg);
        return;
    }
    if (groups_member_count(id) > 0) {
        snprintf(msg, sizeof(msg),
                 "group '%.250s' has %d members: offsets can only be reset while it has none", id,
                 groups_member_count(id));
        admin_reply_error(req, 409, msg);
        return;
    }
    cJSON *doc =
        req->body && req->body_len ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        admin_reply_error(req, 400, "request body must be a JSON object");
        return;
    }
    reset_spec_t s;
    if (parse_reset(req, doc, &s) != 0) {
        cJSON_Delete(doc);
        return;
    }
    topic_t *t = topics_get(s.topic);
    if (!t) {
        snprintf(msg, sizeof(msg), "topic '%.250s' does not exist", s.topic);
        admin_reply_error(req, 404, msg);
        cJSON_Delete(doc);
        return;
    }
    int32_t np = t->partition_count;
    int32_t *parts = calloc((size_t)np + 1, sizeof(int32_t));
    size_t n = 0;
    int bad = !parts;
    if (!bad && s.partitions) {
        cJSON *p;
        cJSON_ArrayForEach(p, s.partitions)
        {
            if (!cJSON_IsNumber(p) || p->valueint < 0 || p->valueint >= np || n >= (size_t)np) {
                snprintf(msg, sizeof(msg), "topic '%.200s' has partitions 0 to %d", t->name,
                         np - 1);
                bad = 1;
                break;
            }
            parts[n++] = p->valueint;
        }
    } else if (!bad) {
        for (int32_t i = 0; i < np; i++)
            parts[n++] = i;
    }
    if (bad) {
        topic_release(t);
        free(parts);
        cJSON_Delete(doc);
        admin_reply_error(req, parts ? 400 : 500, parts ? msg : "out of memory");
        return;
    }
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "group_id", id);
    cJSON_AddBoolToObject(data, "dry_run", s.dry_run);
    cJSON *plan = cJSON_AddArrayToObject(data, "partitions");
    group_commit_row_t *rows = calloc(n + 1, sizeof(*rows));
    for (size_t i = 0; rows && i < n; i++) {
        group_offset_t cur;
        int64_t now_at = -1;
        if (groups_get_offset(id, t->name, parts[i], &cur) == MQ_OK) {
            now_at = cur.offset;
            group_offset_free(&cur);
        }
        int64_t to = t->parts[parts[i]] ? target_offset(&s, t->parts[parts[i]]) : 0;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "topic", t->name);
        cJSON_AddNumberToObject(o, "partition", parts[i]);
        add_i64(o, "current_offset", now_at);
        add_i64(o, "new_offset", to);
        cJSON_AddItemToArray(plan, o);
        rows[i] = (group_commit_row_t){strdup(t->name), parts[i], to, strdup("")};
    }
    topic_release(t);
    free(parts);
    cJSON_Delete(doc);
    if (!rows) {
        cJSON_Delete(data);
        admin_reply_error(req, 500, "out of memory");
        return;
    }
    if (s.dry_run) {
        for (size_t i = 0; i < n; i++) {
            free(rows[i].topic);
            free(rows[i].metadata);
        }
        free(rows);
        admin_reply_data(req, 200, data);
        return;
    }
    pending_t *p = calloc(1, sizeof(*p));
    if (!p) {
        for (size_t i = 0; i < n; i++) {
            free(rows[i].topic);
            free(rows[i].metadata);
        }
        free(rows);
        cJSON_Delete(data);
        admin_reply_error(req, 500, "out of memory");
        return;
    }
    p->req = req;
    p->data = data;
    group_store_commit(id, rows, n, req->loop, on_written, p);
}

/* ---- dispatch ---- */

int admin_group_route(admin_req_t *req, const char *path)
{
    static const char prefix[] = "/api/v1/groups";
    size_t pl = sizeof(prefix) - 1;
    if (strncmp(path, prefix, pl) != 0 || (path[pl] != '\0' && path[pl] != '/'))
        return 0;
    if (path[pl] == '\0') {
        if (admin_method_is(req, "GET"))
            list_groups(req);
        else
            admin_reply_not_allowed(req, path, "GET");
        return 1;
    }
    /* /api/v1/groups/{id}, .../offsets, .../members/{m}, .../instances/{i};
     * group ids hold no characters that need percent-encoding. */
    char id[GROUP_ID_MAX + 2];
    const char *rest = path + pl + 1;
    size_t idlen = strcspn(rest, "/");
    const char *tail = rest + idlen;
    if (idlen == 0 || idlen > GROUP_ID_MAX) {
        admin_reply_error(req, 404, "no such route: a group id is 1 to 249 characters");
        return 1;
    }
    memcpy(id, rest, idlen);
    id[idlen] = '\0';
    if (!strcmp(tail, "/offsets")) {
        if (admin_method_is(req, "POST"))
            reset_offsets(req, id);
        else
            admin_reply_not_allowed(req, path, "POST");
    } else if (!strncmp(tail, "/members/", 9) || !strncmp(tail, "/instances/", 11)) {
        if (admin_method_is(req, "DELETE"))
            remove_member(req, id, tail);
        else
            admin_reply_not_allowed(req, path, "DELETE");
    } else if (*tail) {
        char msg[300];
        snprintf(msg, sizeof(msg), "no route for %s %.200s", req->method, path);
        admin_reply_error(req, 404, msg);
    } else if (admin_method_is(req, "GET")) {
        describe_group(req, id);
    } else if (admin_method_is(req, "DELETE")) {
        delete_group(req, id);
    } else {
        admin_reply_not_allowed(req, path, "GET, DELETE");
    }
    return 1;
}
