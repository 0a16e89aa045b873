/* mqadmin group list|describe|delete|remove-member|reset-offsets over /api/v1/groups
 * (docs/admin-api.md "Consumer groups"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "http.h"
#include "output.h"

#define GROUPS_PATH "/api/v1/groups"

/* One request on a group's path (suffix: NULL or "/offsets"). */
static int group_request(cli_t *cli, const char *method, const char *id, const char *suffix,
                         const cJSON *body, http_response_t *resp)
{
    char *path = http_item_path(GROUPS_PATH, id, suffix);
    if (!path)
        return cli_fail(cli, CLI_SERVER, "out of memory");
    int rc = http_request(cli, method, path, body, HTTP_ENVELOPE, resp);
    free(path);
    return rc;
}

/* A text built piecewise (open_memstream); the table copies it. */
typedef struct text {
    char *s;
    size_t len;
    FILE *f;
} text_t;

static FILE *text_open(text_t *t)
{
    memset(t, 0, sizeof *t);
    t->f = open_memstream(&t->s, &t->len);
    return t->f;
}

/* Closes the stream; the text stays in t->s (free it), "" if it failed. */
static const char *text_close(text_t *t)
{
    if (t->f)
        fclose(t->f);
    t->f = NULL;
    return t->s ? t->s : "";
}

/* "orders 0,1; clicks 2" from [{"topic","partitions":[..]}]. */
static void print_assignment(FILE *f, const cJSON *assignment)
{
    const cJSON *tp, *p;
    int first = 1;
    cJSON_ArrayForEach(tp, assignment)
    {
        fprintf(f, "%s%s ", first ? "" : "; ", out_json_str(tp, "topic"));
        first = 0;
        int n = 0;
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(tp, "partitions"))
            fprintf(f, "%s%lld", n++ ? "," : "", (long long)p->valuedouble);
    }
}

static void cell_assignment(table_t *t, const cJSON *assignment)
{
    text_t txt;
    if (text_open(&txt))
        print_assignment(txt.f, assignment);
    table_cell(t, text_close(&txt));
    free(txt.s);
}

/* The topics a member subscribes to, or its regex. */
static void cell_subscription(table_t *t, const cJSON *m)
{
    const char *regex = out_json_str(m, "topic_regex");
    text_t txt;
    if (text_open(&txt)) {
        if (regex[0]) {
            fprintf(txt.f, "regex %s", regex);
        } else {
            const cJSON *topic;
            int n = 0;
            cJSON_ArrayForEach(topic, cJSON_GetObjectItemCaseSensitive(m, "topics")) fprintf(
                txt.f, "%s%s", n++ ? "," : "", cJSON_IsString(topic) ? topic->valuestring : "");
        }
    }
    table_cell(t, text_close(&txt));
    free(txt.s);
}

/* The member that owns topic/partition now, or "". */
static const char *owner_of(const cJSON *members, const char *topic, long long partition)
{
    const cJSON *m, *tp, *p;
    cJSON_ArrayForEach(m, members)
    {
        cJSON_ArrayForEach(tp, cJSON_GetObjectItemCaseSensitive(m, "assignment"))
        {
            if (strcmp(out_json_str(tp, "topic"), topic))
                continue;
            cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(tp, "partitions"))
            {
                if ((long long)p->valuedouble == partition)
                    return out_json_str(m, "member_id");
            }
        }
    }
    return "";
}

/* An offset that may be -1 (none) or null (unknown): "-" in the table, the
 * API's value in CSV ("" for null). */
static void cell_offset(table_t *t, const cJSON *v)
{
    if (cJSON_IsNumber(v) && v->valuedouble >= 0) {
        table_cell_json(t, v);
        return;
    }
    char exact[32] = "";
    if (cJSON_IsNumber(v))
        snprintf(exact, sizeof exact, "%lld", (long long)v->valuedouble);
    table_cell2(t, "-", exact);
}

static void print_group_header(cli_t *cli, const cJSON *g)
{
    static const column_t head[] = {
        {"Group", "group_id", 0},    {"State", "state", 0},     {"Epoch", "group_epoch", 0},
        {"Assignor", "assignor", 0}, {"Members", "members", 0}, {"Total lag", "total_lag", 0},
    };
    table_t *t = table_new(head, 6);
    table_row(t);
    table_cell(t, out_json_str(g, "group_id"));
    table_cell(t, out_json_str(g, "state"));
    table_cell_int(t, out_json_int(g, "group_epoch"));
    table_cell(t, out_json_str(g, "assignor"));
    table_cell_int(t, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g, "members")));
    table_cell_int(t, out_json_int(g, "total_lag"));
    table_print(cli, t, TABLE_VERTICAL);
    table_free(t);
}

static void print_members(cli_t *cli, const cJSON *members)
{
    static const column_t cols[] = {
        {"MEMBER ID", "member_id", 0},   {"INSTANCE ID", "group_instance_id", 0},
        {"CLIENT ID", "client_id", 0},   {"ADDRESS", "client_address", 0},
        {"EPOCH", "member_epoch", 1},    {"SUBSCRIPTION", "topics", 0},
        {"ASSIGNMENT", "assignment", 0}, {"HEARTBEAT", "ms_since_heartbeat", 1},
    };
    if (cJSON_GetArraySize(members) == 0) {
        puts("No members.");
        return;
    }
    table_t *t = table_new(cols, sizeof(cols) / sizeof(cols[0]));
    const cJSON *m;
    cJSON_ArrayForEach(m, members)
    {
        const char *instance = out_json_str(m, "group_instance_id");
        long long since = out_json_int(m, "ms_since_heartbeat");
        char hb[48];
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "left")))
            snprintf(hb, sizeof hb, "left");
        else if (since == 0) /* a heartbeat of it is held: alive now */
            snprintf(hb, sizeof hb, "now");
        else
            snprintf(hb, sizeof hb, "%.1f s ago", since / 1000.0);
        table_row(t);
        table_cell(t, out_json_str(m, "member_id"));
        table_cell(t, instance[0] ? instance : "-");
        const char *client = out_json_str(m, "client_id"),
                   *addr = out_json_str(m, "client_address");
        table_cell(t, client[0] ? client : "-");
        table_cell(t, addr[0] ? addr : "-");
        table_cell_int(t, out_json_int(m, "member_epoch"));
        cell_subscription(t, m);
        cell_assignment(t, cJSON_GetObjectItemCaseSensitive(m, "assignment"));
        table_cell(t, hb);
    }
    table_print(cli, t, TABLE_ROWS);
    table_free(t);
}

/* CSV rows for the members that own nothing (topic and partition empty). */
static void add_idle_members(table_t *t, const char *id, const cJSON *members)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, members)
    {
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "assignment")) > 0)
            continue;
        table_row(t);
        table_cell(t, id);
        table_cell(t, "");
        table_cell(t, "");
        table_cell(t, out_json_str(m, "member_id"));
    }
}

/* Per partition: owner, committed offset, log end and lag. CSV adds a row
 * for each member that owns nothing, so every member is listed. */
static void print_partitions(cli_t *cli, const cJSON *g)
{
    static const column_t cols[] = {
        {"GROUP", "group_id", 0},
        {"TOPIC", "topic", 0},
        {"PARTITION", "partition", 1},
        {"MEMBER", "member_id", 0},
        {"COMMITTED", "committed_offset", 1},
        {"LOG END", "log_end_offset", 1},
        {"LAG", "lag", 1},
        {"COMMITTED AT", "commit_time_ms", 0},
    };
    const cJSON *members = cJSON_GetObjectItemCaseSensitive(g, "members");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(g, "offsets");
    const char *id = out_json_str(g, "group_id");
    int csv = cli->format == OUT_CSV;
    if (!csv && cJSON_GetArraySize(offsets) == 0) {
        puts("No committed or assigned partitions.");
        return;
    }
    table_t *t = table_new(cols + !csv, 8 - !csv); /* the table's header names the group */
    const cJSON *o;
    cJSON_ArrayForEach(o, offsets)
    {
        const char *topic = out_json_str(o, "topic");
        long long part = out_json_int(o, "partition");
        table_row(t);
        if (csv)
            table_cell(t, id);
        table_cell(t, topic);
        table_cell_int(t, part);
        const char *owner = owner_of(members, topic, part);
        table_cell2(t, owner[0] || csv ? owner : "-", owner);
        cell_offset(t, cJSON_GetObjectItemCaseSensitive(o, "committed_offset"));
        cell_offset(t, cJSON_GetObjectItemCaseSensitive(o, "log_end_offset"));
        cell_offset(t, cJSON_GetObjectItemCaseSensitive(o, "lag"));
        table_cell_time_ms(t, out_json_int(o, "commit_time_ms"));
    }
    if (csv)
        add_idle_members(t, id, members);
    table_print(cli, t, TABLE_ROWS);
    table_free(t);
}

static int group_list(cli_t *cli, const args_t *a)
{
    (void)a;
    http_response_t r;
    int rc = http_request(cli, "GET", GROUPS_PATH, NULL, HTTP_ENVELOPE, &r);
    if (rc != CLI_OK)
        return rc;
    if (cli->format == OUT_JSON) {
        out_json(cli, r.data);
    } else if (cli->format == OUT_TABLE && cJSON_GetArraySize(r.data) == 0) {
        puts("No groups.");
    } else {
        static const column_t cols[] = {
            {"GROUP", "group_id", 0},    {"STATE", "state", 0},       {"MEMBERS", "members", 1},
            {"ASSIGNOR", "assignor", 0}, {"EPOCH", "group_epoch", 1},
        };
        table_t *t = table_new(cols, 5);
        const cJSON *g;
        cJSON_ArrayForEach(g, r.data)
        {
            table_row(t);
            table_cell(t, out_json_str(g, "group_id"));
            table_cell(t, out_json_str(g, "state"));
            table_cell_int(t, out_json_int(g, "members"));
            table_cell(t, out_json_str(g, "assignor"));
            table_cell_int(t, out_json_int(g, "group_epoch"));
        }
        table_print(cli, t, TABLE_ROWS);
        table_free(t);
    }
    http_response_free(&r);
    return CLI_OK;
}

static int group_describe(cli_t *cli, const args_t *a)
{
    http_response_t r;
    int rc = group_request(cli, "GET", a->pos[0], NULL, NULL, &r);
    if (rc != CLI_OK)
        return rc;
    if (cli->format == OUT_JSON) {
        out_json(cli, r.data);
    } else if (cli->format == OUT_CSV) {
        print_partitions(cli, r.data);
    } else {
        print_group_header(cli, r.data);
        out_section(cli, "Members");
        print_members(cli, cJSON_GetObjectItemCaseSensitive(r.data, "members"));
        out_section(cli, "Partitions");
        print_partitions(cli, r.data);
    }
    http_response_free(&r);
    return CLI_OK;
}

/* Asks with what would be lost; an unknown group fails before asking. */
static int confirm_delete(cli_t *cli, const args_t *a, const char *id)
{
    char what[320];
    snprintf(what, sizeof what, "deleting group '%s'", id);
    if (args_has(a, "yes"))
        return CLI_OK;
    if (!isatty(STDIN_FILENO)) /* say no before touching the broker */
        return confirm_destructive(cli, a, NULL, what);

    http_response_t r;
    int rc = group_request(cli, "GET", id, NULL, NULL, &r);
    if (rc != CLI_OK)
        return rc;
    int committed = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(r.data, "offsets")) committed +=
        out_json_int(o, "committed_offset") >= 0;
    char question[512];
    snprintf(question, sizeof question,
             "Delete group '%s' and its committed offsets of %d partitions? Its consumers would "
             "start over per auto.offset.reset. This cannot be undone.",
             id, committed);
    http_response_free(&r);
    return confirm_destructive(cli, a, question, what);
}

static int group_delete(cli_t *cli, const args_t *a)
{
    const char *id = a->pos[0];
    int rc = confirm_delete(cli, a, id);
    if (rc != CLI_OK)
        return rc;
    http_response_t r;
    rc = group_request(cli, "DELETE", id, NULL, NULL, &r);
    if (rc != CLI_OK)
        return rc;
    if (cli->format == OUT_JSON) {
        out_json(cli, r.data);
    } else if (cli->format == OUT_CSV) {
        static const column_t cols[] = {{"GROUP", "group_id", 0}, {"DELETED", "deleted", 0}};
        table_t *t = table_new(cols, 2);
        table_row(t);
        table_cell(t, out_json_str(r.data, "group_id"));
        table_cell_json(t, cJSON_GetObjectItemCaseSensitive(r.data, "deleted"));
        table_print(cli, t, TABLE_ROWS);
        table_free(t);
    } else {
        printf("Deleted group '%s'.\n", out_json_str(r.data, "group_id"));
    }
    http_response_free(&r);
    return CLI_OK;
}

/* ---- remove-member ---- */

static int group_remove_member(cli_t *cli, const args_t *a)
{
    const char *id = a->pos[0];
    const char *member = args_value(a, "member"), *instance = args_value(a, "instance");
    if (!member == !instance || (member && !*member) || (instance && !*instance))
        return cli_usage(cli, "give exactly one of --member MEMBER_ID or --instance "
                              "GROUP_INSTANCE_ID");
    char what[600];
    snprintf(what, sizeof what, "removing %s '%s' from group '%s'",
             member ? "member" : "the member with group.instance.id", member ? member : instance,
             id);
    char question[700];
    snprintf(question, sizeof question,
             "Remove %s '%s' from group '%s'? Its partitions move to the other members now.",
             member ? "member" : "the member with group.instance.id", member ? member : instance,
             id);
    int rc = confirm_destructive(cli, a, question, what);
    if (rc != CLI_OK)
        return rc;
    char *esc = http_escape(member ? member : instance);
    size_t n = esc ? strlen(esc) + 16 : 0;
    char *suffix = esc ? malloc(n) : NULL;
    if (!suffix) {
        free(esc);
        return cli_fail(cli, CLI_SERVER, "out of memory");
    }
    snprintf(suffix, n, "/%s/%s", member ? "members" : "instances", esc);
    free(esc);
    http_response_t r;
    rc = group_request(cli, "DELETE", id, suffix, NULL, &r);
    free(suffix);
    if (rc != CLI_OK)
        return rc;
    if (cli->format == OUT_JSON) {
        out_json(cli, r.data);
    } else if (cli->format == OUT_CSV) {
        static const column_t cols[] = {
            {"GROUP", "group_id", 0}, {"MEMBER", "member_id", 0}, {"REMOVED", "removed", 0}};
        table_t *t = table_new(cols, 3);
        table_row(t);
        table_cell(t, out_json_str(r.data, "group_id"));
        table_cell(t, out_json_str(r.data, "member_id"));
        table_cell_json(t, cJSON_GetObjectItemCaseSensitive(r.data, "removed"));
        table_print(cli, t, TABLE_ROWS);
        table_free(t);
    } else {
        printf("Removed member '%s' from group '%s'.\n", out_json_str(r.data, "member_id"),
               out_json_str(r.data, "group_id"));
    }
    http_response_free(&r);
    return CLI_OK;
}

/* ---- reset-offsets ---- */

static int take_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static long long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

/* The zone suffix: "", Z, +HH, +HHMM or +HH:MM (or -); seconds east. */
static const char *parse_zone(const char *p, long long *east)
{
    *east = 0;
    if (!*p)
        return p;
    if (*p == 'Z' || *p == 'z')
        return p + 1;
    if (*p != '+' && *p != '-')
        return NULL;
    int sign = *p++ == '-' ? -1 : 1, hh, mm = 0;
    if (take_digits(&p, 2, &hh) != 0)
        return NULL;
    if (*p == ':')
        p++;
    if (*p && take_digits(&p, 2, &mm) != 0)
        return NULL;
    if (hh > 23 || mm > 59)
        return NULL;
    *east = sign * (hh * 3600LL + mm * 60LL);
    return p;
}

/* ISO 8601: YYYY-MM-DD, then optionally [T ]HH:MM[:SS[.fff]] and a zone
 * (Z, +HH:MM, +HHMM, +HH); no zone means UTC. Returns 0 and ms since the
 * epoch, or -1 with *why saying what is wrong. */
static int parse_datetime(const char *s, long long *ms, const char **why)
{
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
    *why = "expected YYYY-MM-DD[THH:MM[:SS[.mmm]]][Z|+HH:MM]";
    if (take_digits(&p, 4, &y) || *p++ != '-' || take_digits(&p, 2, &mo) || *p++ != '-' ||
        take_digits(&p, 2, &d))
        return -1;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (take_digits(&p, 2, &h) || *p++ != ':' || take_digits(&p, 2, &mi))
            return -1;
        if (*p == ':' && (p++, take_digits(&p, 2, &sec)))
            return -1;
        if ((*p == '.' || *p == ',') && p[1] >= '0' && p[1] <= '9') {
            int scale = 100;
            for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
                frac += (*p - '0') * scale; /* past milliseconds: dropped */
        }
    }
    long long east;
    p = parse_zone(p, &east);
    if (!p || *p)
        return -1;
    *why = "no such date or time";
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
        return -1;
    long long s_epoch = days_from_civil(y, mo, d) * 86400 + h * 3600LL + mi * 60LL + sec - east;
    *why = "it is before 1970-01-01T00:00:00Z";
    if (s_epoch < 0)
        return -1;
    *ms = s_epoch * 1000 + frac;
    return 0;
}

/* "to" (and "offset" or "timestamp") from exactly one --to-* option. */
static int add_target(cli_t *cli, const args_t *a, cJSON *body)
{
    int n = args_has(a, "to-earliest") + args_has(a, "to-latest") + args_has(a, "to-offset") +
            args_has(a, "to-datetime");
    if (n != 1)
        return cli_usage(cli, "give exactly one of --to-earliest, --to-latest, --to-offset N, "
                              "--to-datetime ISO8601");
    long long v;
    const char *s, *why;
    if (args_has(a, "to-earliest")) {
        cJSON_AddStringToObject(body, "to", "earliest");
    } else if (args_has(a, "to-latest")) {
        cJSON_AddStringToObject(body, "to", "latest");
    } else if ((s = args_value(a, "to-offset"))) {
        if (args_parse_long(s, &v) != 0 || v < 0)
            return cli_usage(cli, "invalid --to-offset '%s': expected a whole number >= 0", s);
        cJSON_AddStringToObject(body, "to", "offset");
        cJSON_AddNumberToObject(body, "offset", (double)v);
    } else {
        s = args_value(a, "to-datetime");
        if (parse_datetime(s, &v, &why) != 0)
            return cli_usage(cli,
                             "invalid --to-datetime '%s': %s (ISO 8601, e.g. "
                             "2026-12-01T10:00:00Z)",
                             s, why);
        cJSON_AddStringToObject(body, "to", "timestamp");
        cJSON_AddNumberToObject(body, "timestamp", (double)v);
    }
    return CLI_OK;
}

/* The request body from the options; NULL with *rc on a usage error. */
static cJSON *reset_body(cli_t *cli, const args_t *a, int *rc)
{
    const char *topic = args_value(a, "topic");
    if (!topic || !topic[0]) {
        *rc = cli_usage(cli, "--topic T is required: the topic whose offsets to reset");
        return NULL;
    }
    cJSON *body = cJSON_CreateObject();
    if (!body) {
        *rc = cli_fail(cli, CLI_SERVER, "out of memory");
        return NULL;
    }
    cJSON_AddStringToObject(body, "topic", topic);
    *rc = add_target(cli, a, body);
    cJSON *parts = args_has(a, "partition") ? cJSON_AddArrayToObject(body, "partitions") : NULL;
    const char *p;
    for (int i = 0; *rc == CLI_OK && (p = args_nth(a, "partition", i)); i++) {
        long long v;
        if (args_parse_long(p, &v) != 0 || v < 0 || v > 0x7fffffff)
            *rc = cli_usage(cli, "invalid --partition '%s': expected a partition number", p);
        else
            cJSON_AddItemToArray(parts, cJSON_CreateNumber((double)v));
    }
    if (*rc != CLI_OK) {
        cJSON_Delete(body);
        return NULL;
    }
    return body;
}

/* "partition 0: 4 -> 0, partition 1: none -> 0, ..." for the question. */
static void print_plan_line(FILE *f, const cJSON *plan)
{
    const cJSON *p;
    int n = 0, total = cJSON_GetArraySize(plan);
    cJSON_ArrayForEach(p, plan)
    {
        if (n == 8) {
            fprintf(f, ", and %d more", total - n);
            break;
        }
        long long cur = out_json_int(p, "current_offset");
        fprintf(f, "%spartition %lld: ", n++ ? ", " : "", out_json_int(p, "partition"));
        if (cur < 0)
            fprintf(f, "none");
        else
            fprintf(f, "%lld", cur);
        fprintf(f, " -> %lld", out_json_int(p, "new_offset"));
    }
}

/* On a terminal: asks with the broker's plan (a dry run, which also finds
 * an unknown topic or a group with members before anything is asked). */
static int confirm_reset(cli_t *cli, const args_t *a, const char *id, cJSON *body)
{
    char what[320];
    snprintf(what, sizeof what, "resetting the offsets of group '%s'", id);
    if (args_has(a, "yes"))
        return CLI_OK;
    if (!isatty(STDIN_FILENO))
        return confirm_destructive(cli, a, NULL, what);

    cJSON_AddBoolToObject(body, "dry_run", 1);
    http_response_t r;
    int rc = group_request(cli, "POST", id, "/offsets", body, &r);
    cJSON_DeleteItemFromObjectCaseSensitive(body, "dry_run");
    if (rc != CLI_OK)
        return rc;
    text_t q;
    if (text_open(&q)) {
        fprintf(q.f, "Reset the committed offsets of group '%s' on topic '%s': ", id,
                out_json_str(body, "topic"));
        print_plan_line(q.f, cJSON_GetObjectItemCaseSensitive(r.data, "partitions"));
        fprintf(q.f, "?");
    }
    rc = confirm_destructive(cli, a, text_close(&q), what);
    free(q.s);
    http_response_free(&r);
    return rc;
}

static void print_reset(cli_t *cli, const cJSON *data)
{
    static const column_t cols[] = {
        {"GROUP", "group_id", 0},         {"TOPIC", "topic", 0},    {"PARTITION", "partition", 1},
        {"CURRENT", "current_offset", 1}, {"NEW", "new_offset", 1},
    };
    const char *id = out_json_str(data, "group_id");
    const cJSON *plan = cJSON_GetObjectItemCaseSensitive(data, "partitions");
    int csv = cli->format == OUT_CSV;
    if (!csv) {
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(data, "dry_run")))
            printf("Dry run, nothing changed: the reset would set these offsets of group "
                   "'%s'.\n\n",
                   id);
        else
            printf("Reset %d offsets of group '%s'.\n\n", cJSON_GetArraySize(plan), id);
    }
    table_t *t = table_new(cols + !csv, 5 - !csv);
    const cJSON *p;
    cJSON_ArrayForEach(p, plan)
    {
        table_row(t);
        if (csv)
            table_cell(t, id);
        table_cell(t, out_json_str(p, "topic"));
        table_cell_int(t, out_json_int(p, "partition"));
        cell_offset(t, cJSON_GetObjectItemCaseSensitive(p, "current_offset"));
        table_cell_int(t, out_json_int(p, "new_offset"));
    }
    table_print(cli, t, TABLE_ROWS);
    table_free(t);
}

static int group_reset(cli_t *cli, const args_t *a)
{
    const char *id = a->pos[0];
    int rc;
    cJSON *body = reset_body(cli, a, &rc);
    if (!body)
        return rc;
    int dry = args_has(a, "dry-run");
    if (!dry)
        rc = confirm_reset(cli, a, id, body);
    http_response_t r;
    if (rc == CLI_OK) {
        cJSON_AddBoolToObject(body, "dry_run", dry);
        rc = group_request(cli, "POST", id, "/offsets", body, &r);
    }
    cJSON_Delete(body);
    if (rc != CLI_OK)
        return rc;
    if (cli->format == OUT_JSON)
        out_json(cli, r.data);
    else
        print_reset(cli, r.data);
    http_response_free(&r);
    return CLI_OK;
}

/* ---- the command table ---- */

static const opt_spec_t delete_opts[] = {
    {"yes", 'y', OPT_FLAG, NULL, "delete without asking (needed when stdin is not a terminal)",
     COMPLETE_NONE, NULL},
    {NULL, 0, 0, NULL, NULL, 0, NULL},
};

static const opt_spec_t remove_opts[] = {
    {"member", 'm', OPT_VALUE, "MEMBER_ID", "the member id (as group describe shows it)",
     COMPLETE_NONE, NULL},
    {"instance", 'i', OPT_VALUE, "GROUP_INSTANCE_ID",
     "the static member with this group.instance.id", COMPLETE_NONE, NULL},
    {"yes", 'y', OPT_FLAG, NULL, "remove without asking (needed when stdin is not a terminal)",
     COMPLETE_NONE, NULL},
    {NULL, 0, 0, NULL, NULL, 0, NULL},
};

static const opt_spec_t reset_opts[] = {
    {"topic", 't', OPT_VALUE, "T", "the topic whose offsets to reset (required)", COMPLETE_TOPIC,
     NULL},
    {"partition", 0, OPT_LIST, "N", "only this partition; may repeat (default: every partition)",
     COMPLETE_NONE, NULL},
    {"to-earliest", 0, OPT_FLAG, NULL, "to the log start: re-read everything kept", COMPLETE_NONE,
     NULL},
    {"to-latest", 0, OPT_FLAG, NULL, "to the log end: skip everything produced so far",
     COMPLETE_NONE, NULL},
    {"to-offset", 0, OPT_VALUE, "N", "to offset N (clamped to the log)", COMPLETE_NONE, NULL},
    {"to-datetime", 0, OPT_VALUE, "ISO8601",
     "to the first record at or after this time (e.g. 2026-12-01T10:00:00Z; no zone = UTC)",
     COMPLETE_NONE, NULL},
    {"dry-run", 0, OPT_FLAG, NULL, "show the new offsets and change nothing", COMPLETE_NONE, NULL},
    {"yes", 'y', OPT_FLAG, NULL, "reset without asking (needed when stdin is not a terminal)",
     COMPLETE_NONE, NULL},
    {NULL, 0, 0, NULL, NULL, 0, NULL},
};

static const command_t group_list_cmd = {
    .name = "list",
    .summary = "List consumer groups",
    .description = "List every group the broker knows (with members or committed offsets) by\n"
                   "id: its state (empty, stable, reconciling), members, assignor and epoch.",
    .examples = "  mqadmin group list\n"
                "  mqadmin group list -o json | jq -r '.[].group_id'\n",
    .run = group_list,
};

static const command_t group_describe_cmd = {
    .name = "describe",
    .summary = "Show a group's members, assignment and lag",
    .args_usage = "ID",
    .description =
        "Show a group: its members (subscription, the partitions each owns, last heartbeat),\n"
        "and per partition the owner, the committed offset, the log end and the lag (records\n"
        "produced but not yet committed; '-' when unknown: no commit yet), and the total lag.\n"
        "With --output csv: one row per partition (lag empty when unknown), and one row with\n"
        "an empty topic for each member that owns nothing.",
    .examples = "  mqadmin group describe billing\n"
                "  mqadmin group describe billing -o json | jq .total_lag\n",
    .min_pos = 1,
    .max_pos = 1,
    .pos_complete = COMPLETE_GROUP,
    .run = group_describe,
};

static const command_t group_delete_cmd = {
    .name = "delete",
    .summary = "Delete a group without members and its committed offsets",
    .args_usage = "ID [--yes]",
    .description =
        "Delete a group and its committed offsets. The broker refuses while the group has\n"
        "members (stop its consumers first; exit 2). On a terminal it asks first; --yes skips\n"
        "the question. When stdin is not a terminal it refuses without --yes and exits 1,\n"
        "changing nothing.",
    .examples = "  mqadmin group delete billing\n"
                "  mqadmin group delete billing --yes\n",
    .options = delete_opts,
    .min_pos = 1,
    .max_pos = 1,
    .pos_complete = COMPLETE_GROUP,
    .run = group_delete,
};

static const command_t group_remove_cmd = {
    .name = "remove-member",
    .summary = "Remove a member from a group now",
    .args_usage = "ID (--member MEMBER_ID | --instance GROUP_INSTANCE_ID) [--yes]",
    .description =
        "Remove one member from group ID at once, as Kafka's RemoveMembersFromConsumerGroup\n"
        "does: its partitions go to the other members now. Meant for a static member\n"
        "(group.instance.id) that is gone for good, whose partitions would otherwise wait for\n"
        "its session timeout. A member still running gets UNKNOWN_MEMBER on its next\n"
        "heartbeat and joins again. On a terminal it asks first; --yes skips the question;\n"
        "when stdin is not a terminal it refuses without --yes and exits 1, changing nothing.",
    .examples = "  mqadmin group remove-member billing --instance billing-host-3\n"
                "  mqadmin group remove-member billing --member 5aw5UmkgDEvyDCXePZG21W --yes\n",
    .options = remove_opts,
    .min_pos = 1,
    .max_pos = 1,
    .pos_complete = COMPLETE_GROUP,
    .run = group_remove_member,
};

static const command_t group_reset_cmd = {
    .name = "reset-offsets",
    .summary = "Move a group's committed offsets on a topic",
    .args_usage = "ID --topic T (--to-earliest | --to-latest | --to-offset N | --to-datetime "
                  "ISO8601) [--dry-run]",
    .description =
        "Set the committed offsets of group ID on topic T (every partition, or those given\n"
        "with --partition), so its consumers resume from there. New offsets are clamped to\n"
        "the log. The broker refuses while the group has members (stop its consumers first;\n"
        "exit 2); an unknown group is created with these offsets.\n"
        "--dry-run shows the new offsets and changes nothing. Otherwise, on a terminal it\n"
        "shows the plan and asks first; --yes skips the question; when stdin is not a\n"
        "terminal it refuses without --yes and exits 1, changing nothing.",
    .examples = "  mqadmin group reset-offsets billing --topic orders --to-earliest --dry-run\n"
                "  mqadmin group reset-offsets billing --topic orders --to-datetime "
                "2026-12-01T10:00:00Z --yes\n"
                "  mqadmin group reset-offsets billing -t orders --partition 2 --to-offset 1500\n",
    .options = reset_opts,
    .min_pos = 1,
    .max_pos = 1,
    .pos_complete = COMPLETE_GROUP,
    .run = group_reset,
};

static const command_t *const group_subcommands[] = {
    &group_list_cmd,   &group_describe_cmd, &group_delete_cmd,
    &group_remove_cmd, &group_reset_cmd,    NULL,
};

const command_t group_command = {
    .name = "group",
    .summary = "List, describe, delete consumer groups, remove members, reset offsets",
    .description = "List and describe consumer groups (members, assignment, lag), delete them,\n"
                   "remove a member and reset their committed offsets.",
    .subcommands = group_subcommands,
};
