/* The admin port's authorization: which operation each endpoint needs (a
 * denied request gets 403 naming the principal, operation and resource),
 * and the ACL endpoints GET|POST /api/v1/acls, DELETE /api/v1/acls/{id},
 * POST /api/v1/acls/test (docs/admin-api.md). */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "admin_internal.h"
#include "error.h"
#include "log.h"

static cJSON *rule_json(const acl_rule_t *r)
{
    cJSON *o = cJSON_CreateObject();
    char num[32];
    snprintf(num, sizeof(num), "%" PRId64, r->id);
    cJSON_AddRawToObject(o, "id", num);
    cJSON_AddStringToObject(o, "principal", r->principal);
    cJSON_AddStringToObject(o, "resource_type", acl_res_name(r->resource));
    cJSON_AddStringToObject(o, "pattern_type", acl_pattern_name(r->pattern));
    cJSON_AddStringToObject(o, "resource_name", r->name);
    cJSON_AddStringToObject(o, "operation", acl_op_name(r->op));
    cJSON_AddStringToObject(o, "permission", r->allow ? "allow" : "deny");
    return o;
}

/* ---- the gate ---- */

/* 1 if allowed; else replies 403 and returns 0. */
static int authorize(admin_req_t *req, acl_op_t op, acl_res_t res, const char *name)
{
    int64_t rule = 0;
    if (acl_decide(req->principal, op, res, name, &rule))
        return 1;
    char why[64];
    if (rule)
        snprintf(why, sizeof(why), "denied by rule %" PRId64, rule);
    else
        snprintf(why, sizeof(why), "no rule allows it");
    char msg[700];
    if (res == ACL_RES_CLUSTER)
        snprintf(msg, sizeof(msg), "principal '%s' is not allowed to %s the cluster (%s)",
                 req->principal, acl_op_name(op), why);
    else
        snprintf(msg, sizeof(msg), "principal '%s' is not allowed to %s %s '%.250s' (%s)",
                 req->principal, acl_op_name(op), acl_res_name(res), name, why);
    log_info("\"authorization denied\" principal=\"%s\" operation=%s resource=%s name=\"%.250s\" "
             "rule=%" PRId64 " endpoint=\"%s %.200s\"",
             req->principal, acl_op_name(op), acl_res_name(res), name ? name : "", rule,
             req->method, req->path ? req->path : "");
    admin_reply_error(req, 403, msg);
    return 0;
}

/* The "name" of a POST /api/v1/topics body, or "" (routing reports errors). */
static void body_topic_name(admin_req_t *req, char *out, size_t cap)
{
    out[0] = '\0';
    cJSON *doc = req->body ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
    cJSON *name = doc ? cJSON_GetObjectItemCaseSensitive(doc, "name") : NULL;
    if (cJSON_IsString(name))
        snprintf(out, cap, "%s", name->valuestring);
    cJSON_Delete(doc);
}

/* Checks the operation the endpoint needs. 1 to go on routing. */
static int gate(admin_req_t *req, const char *path)
{
    static const char topic_prefix[] = "/api/v1/topics/";
    if (!acl_enabled())
        return 1;
    if (!strcmp(path, "/api/v1/topics")) {
        if (!admin_method_is(req, "POST"))
            return 1; /* the list shows only topics the principal may describe */
        char name[300];
        body_topic_name(req, name, sizeof(name));
        if (acl_decide(req->principal, ACL_OP_CREATE, ACL_RES_CLUSTER, "", NULL))
            return 1;
        return authorize(req, ACL_OP_CREATE, ACL_RES_TOPIC, name);
    }
    if (!strncmp(path, topic_prefix, sizeof(topic_prefix) - 1)) {
        /* The raw (percent-encoded) name: a name needing encoding is
         * invalid anyway and is refused by the route. */
        const char *name = path + sizeof(topic_prefix) - 1;
        if (admin_method_is(req, "GET"))
            return authorize(req, ACL_OP_DESCRIBE, ACL_RES_TOPIC, name);
        if (admin_method_is(req, "PUT"))
            return authorize(req, ACL_OP_ALTER, ACL_RES_TOPIC, name);
        if (admin_method_is(req, "DELETE"))
            return authorize(req, ACL_OP_DELETE, ACL_RES_TOPIC, name);
        return 1;
    }
    if (!strncmp(path, "/api/v1/acls", 12)) {
        if (admin_method_is(req, "GET") || !strcmp(path, "/api/v1/acls/test"))
            return authorize(req, ACL_OP_DESCRIBE, ACL_RES_CLUSTER, "");
        return authorize(req, ACL_OP_ALTER, ACL_RES_CLUSTER, "");
    }
    if (!strncmp(path, "/api/v1/groups", 14)) {
        /* Group endpoints: read (describe) or delete/alter on the group. */
        const char *name = path[14] == '/' ? path + 15 : "";
        if (!*name)
            return authorize(req, ACL_OP_DESCRIBE, ACL_RES_CLUSTER, "");
        char group[300];
        snprintf(group, sizeof(group), "%.*s", (int)strcspn(name, "/"), name);
        if (admin_method_is(req, "GET"))
            return authorize(req, ACL_OP_DESCRIBE, ACL_RES_GROUP, group);
        if (admin_method_is(req, "DELETE"))
            return authorize(req, ACL_OP_DELETE, ACL_RES_GROUP, group);
        return authorize(req, ACL_OP_ALTER, ACL_RES_GROUP, group);
    }
    /* /health, /metrics, /api/v1/cluster and anything else: the cluster. */
    return authorize(req, ACL_OP_DESCRIBE, ACL_RES_CLUSTER, "");
}

int admin_topic_visible(const admin_req_t *req, const char *topic)
{
    return acl_decide(req->principal, ACL_OP_DESCRIBE, ACL_RES_TOPIC, topic, NULL);
}

/* ---- /api/v1/acls ---- */

static void list_acls(admin_req_t *req)
{
    acl_rule_t *rules = NULL;
    size_t n = acl_list(&rules);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, rule_json(&rules[i]));
    free(rules);
    admin_reply_data(req, 200, arr);
}

/* Reads principal, resource_type, resource_name, pattern_type (default
 * literal), operation and (unless test) permission. 0, or replies 400. */
static int parse_rule(admin_req_t *req, cJSON *doc, acl_rule_t *r, int test)
{
    static const char *const fields[] = {"principal",    "resource_type", "resource_name",
                                         "pattern_type", "operation",     "permission"};
    const char *v[6] = {0};
    for (int i = 0; i < 6; i++) {
        cJSON *f = cJSON_GetObjectItemCaseSensitive(doc, fields[i]);
        if (f && !cJSON_IsString(f)) {
            char msg[100];
            snprintf(msg, sizeof(msg), "field '%s' must be a string", fields[i]);
            admin_reply_error(req, 400, msg);
            return -1;
        }
        v[i] = f ? f->valuestring : NULL;
    }
    for (cJSON *f = doc->child; f; f = f->next) {
        int known = 0;
        for (int i = 0; i < 6; i++)
            known |= !strcmp(f->string, fields[i]);
        if (!known ||
            (test && (!strcmp(f->string, "permission") || !strcmp(f->string, "pattern_type")))) {
            char msg[300];
            snprintf(msg, sizeof(msg), "unknown field '%.100s' (allowed: %s)", f->string,
                     test ? "principal, resource_type, resource_name, operation"
                          : "principal, resource_type, resource_name, pattern_type, operation, "
                            "permission");
            admin_reply_error(req, 400, msg);
            return -1;
        }
    }
    memset(r, 0, sizeof(*r));
    int rs = acl_res_parse(v[1]);
    int pt = v[3] ? acl_pattern_parse(v[3]) : ACL_PATTERN_LITERAL;
    int op = acl_op_parse(v[4]);
    const char *err = NULL;
    if (!v[0] || !v[0][0] || strlen(v[0]) >= sizeof(r->principal))
        err = "field 'principal' is required (a principal name, or * for everyone; at most 255 "
              "characters)";
    else if (rs < 0)
        err = "field 'resource_type' must be topic, group or cluster";
    else if (rs != ACL_RES_CLUSTER && (!v[2] || !v[2][0] || strlen(v[2]) >= sizeof(r->name)))
        err = "field 'resource_name' is required for a topic or group (or * for all; at most "
              "255 characters)";
    else if (pt < 0)
        err = "field 'pattern_type' must be literal or prefix";
    else if (op < 0)
        err = "field 'operation' must be read, write, create, delete, describe, alter or all";
    else if (!test && (!v[5] || (strcmp(v[5], "allow") && strcmp(v[5], "deny"))))
        err = "field 'permission' must be allow or deny";
    if (err) {
        admin_reply_error(req, 400, err);
        return -1;
    }
    snprintf(r->principal, sizeof(r->principal), "%s", v[0]);
    r->resource = (acl_res_t)rs;
    r->pattern = (acl_pattern_t)pt;
    snprintf(r->name, sizeof(r->name), "%s", rs == ACL_RES_CLUSTER ? "cluster" : v[2]);
    r->op = (acl_op_t)op;
    r->allow = !test && !strcmp(v[5], "allow");
    return 0;
}

static cJSON *parse_object(admin_req_t *req)
{
    cJSON *doc = req->body ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        admin_reply_error(req, 400, "request body must be a JSON object");
        return NULL;
    }
    return doc;
}

typedef struct pending_acl {
    admin_req_t *req;
    acl_rule_t rule;
} pending_acl_t;

static void on_changed(loop_t *loop, void *arg, const meta_result_t *res)
{
    (void)loop;
    pending_acl_t *p = arg;
    if (res->err == MQ_OK && p->rule.id == 0) {
        p->rule.id = strtoll(res->message, NULL, 10);
        admin_reply_data(p->req, 201, rule_json(&p->rule));
    } else if (res->err == MQ_OK) {
        cJSON *d = cJSON_CreateObject();
        char num[32];
        snprintf(num, sizeof(num), "%" PRId64, p->rule.id);
        cJSON_AddRawToObject(d, "id", num);
        cJSON_AddBoolToObject(d, "deleted", 1);
        admin_reply_data(p->req, 200, d);
    } else {
        int status = res->err == MQ_ERR_NOT_FOUND ? 404 : mq__err_http_status(res->err);
        admin_reply_error(p->req, status >= 400 ? status : 500,
                          res->message[0] ? res->message : mq_err_str(res->err));
    }
    free(p);
}

static void add_acl(admin_req_t *req)
{
    cJSON *doc = parse_object(req);
    if (!doc)
        return;
    pending_acl_t *p = calloc(1, sizeof(*p));
    if (!p) {
        admin_reply_error(req, 500, "out of memory");
    } else if (parse_rule(req, doc, &p->rule, 0) != 0) {
        free(p);
    } else {
        p->req = req;
        acl_add(&p->rule, req->loop, on_changed, p);
    }
    cJSON_Delete(doc);
}

static void remove_acl(admin_req_t *req, const char *idtext)
{
    char *end;
    long long id = strtoll(idtext, &end, 10);
    if (*end || id <= 0 || end == idtext) {
        char msg[300];
        snprintf(msg, sizeof(msg), "acl id '%.200s' is not a positive integer", idtext);
        admin_reply_error(req, 400, msg);
        return;
    }
    pending_acl_t *p = calloc(1, sizeof(*p));
    if (!p) {
        admin_reply_error(req, 500, "out of memory");
        return;
    }
    p->req = req;
    p->rule.id = id;
    acl_remove(id, req->loop, on_changed, p);
}

static void test_acl(admin_req_t *req)
{
    cJSON *doc = parse_object(req);
    if (!doc)
        return;
    acl_rule_t r;
    if (parse_rule(req, doc, &r, 1) == 0) {
        int64_t rule = 0;
        int allow = acl_decide(r.principal, r.op, r.resource, r.name, &rule);
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "principal", r.principal);
        cJSON_AddStringToObject(d, "resource_type", acl_res_name(r.resource));
        cJSON_AddStringToObject(d, "resource_name", r.name);
        cJSON_AddStringToObject(d, "operation", acl_op_name(r.op));
        cJSON_AddStringToObject(d, "decision", allow ? "allow" : "deny");
        if (rule > 0) {
            char num[32];
            snprintf(num, sizeof(num), "%" PRId64, rule);
            cJSON_AddRawToObject(d, "rule_id", num);
        } else {
            cJSON_AddNullToObject(d, "rule_id");
        }
        const char *why = rule > 0 ? (allow ? "allowed by rule" : "denied by rule")
                          : rule < 0 && !acl_enabled() ? "authorizer.enabled is false"
                          : rule < 0                   ? "super user"
                                                       : "no rule allows it (default deny)";
        cJSON_AddStringToObject(d, "reason", why);
        admin_reply_data(req, 200, d);
    }
    cJSON_Delete(doc);
}

int admin_acl_route(admin_req_t *req, const char *path)
{
    if (!gate(req, path))
        return 1; /* answered 403 */
    if (!strcmp(path, "/api/v1/acls")) {
        if (admin_method_is(req, "GET"))
            list_acls(req);
        else if (admin_method_is(req, "POST"))
            add_acl(req);
        else
            admin_reply_not_allowed(req, path, "GET, POST");
        return 1;
    }
    if (!strcmp(path, "/api/v1/acls/test")) {
        if (admin_method_is(req, "POST"))
            test_acl(req);
        else
            admin_reply_not_allowed(req, path, "POST");
        return 1;
    }
    if (!strncmp(path, "/api/v1/acls/", 13)) {
        if (admin_method_is(req, "DELETE"))
            remove_acl(req, path + 13);
        else
            admin_reply_not_allowed(req, path, "DELETE");
        return 1;
    }
    return 0;
}
