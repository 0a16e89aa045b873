/* mqadmin topic create|list|describe|alter|delete over /api/v1/topics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "http.h"
#include "output.h"

/* One request on a topic's path. */
static int topic_request(cli_t *cli, const char *method, const char *name, const cJSON *body,
                         http_response_t *resp)
{
    char *path = http_item_path("/api/v1/topics", name, NULL);
    if (!path)
        return cli_fail(cli, CLI_SERVER, "out of memory");
    int rc = http_request(cli, method, path, body, HTTP_ENVELOPE, resp);
    free(path);
    return rc;
}

/* "k=v, k2=v2" from {"k":"v",...}, for one table cell. */
static void cell_overrides(table_t *t, const cJSON *o)
{
    size_t cap = 1, len = 0;
    const cJSON *kv;
    cJSON_ArrayForEach(kv, o) cap +=
        strlen(kv->string) + 3 + (cJSON_IsString(kv) ? strlen(kv->valuestring) : 32);
    char *s = malloc(cap);
    if (!s) {
        table_cell(t, "?");
        return;
    }
    s[0] = '\0';
    cJSON_ArrayForEach(kv, o)
    {
        char num[32] = "";
        if (!cJSON_IsString(kv))
            snprintf(num, sizeof num, "%lld", (long long)kv->valuedouble);
        len += (size_t)snprintf(s + len, cap - len, "%s%s=%s", len ? ", " : "", kv->string,
                                cJSON_IsString(kv) ? kv->valuestring : num);
    }
    table_cell(t, s);
    free(s);
}

/* The full topic object (describe, create, alter) as a table or CSV. */
static void print_topic(cli_t *cli, const cJSON *topic)
{
    const char *name = out_json_str(topic, "name");
    const cJSON *parts = cJSON_GetObjectItemCaseSensitive(topic, "partitions");
    const cJSON *p;

    if (cli->format == OUT_TABLE) {
        static const column_t head[] = {
            {"Name", "name", 0},
            {"Partitions", "partition_count", 0},
            {"Created", "created_ms", 0},
            {"Size", "size_bytes", 0},
        };
        table_t *t = table_new(head, 4);
        table_row(t);
        table_cell(t, name);
        table_cell_int(t, out_json_int(topic, "partition_count"));
        table_cell_time_ms(t, out_json_int(topic, "created_ms"));
        table_cell_size(t, out_json_int(topic, "size_bytes"));
        table_print(cli, t, TABLE_VERTICAL);
        table_free(t);
        out_section(cli, "Partitions");
    }

    /* CSV of a topic is its partitions: one row each, the topic named. */
    static const column_t pcols[] = {
        {"TOPIC", "topic", 0},          {"PARTITION", "partition", 1},
        {"LEADER", "leader", 1},        {"EARLIEST", "earliest_offset", 1},
        {"LATEST", "latest_offset", 1}, {"RECORDS", "records", 1},
        {"SIZE", "size_bytes", 1},      {"SEGMENTS", "segment_count", 1},
    };
    int skip = cli->format == OUT_TABLE; /* the topic column repeats the header */
    table_t *t = table_new(pcols + skip, 8 - skip);
    cJSON_ArrayForEach(p, parts)
    {
        long long earliest = out_json_int(p, "earliest_offset");
        long long latest = out_json_int(p, "latest_offset");
        table_row(t);
        if (!skip)
            table_cell(t, name);
        table_cell_int(t, out_json_int(p, "partition"));
        table_cell_int(t, out_json_int(p, "leader"));
        table_cell_int(t, earliest);
        table_cell_int(t, latest);
        table_cell_int(t, latest - earliest);
        table_cell_size(t, out_json_int(p, "size_bytes"));
        table_cell_int(t, out_json_int(p, "segment_count"));
    }
    table_print(cli, t, TABLE_ROWS);
    table_free(t);
    if (cli->format != OUT_TABLE)
        return;

    out_section(cli, "Config");
    static const column_t ccols[] = {
        {"KEY", "key", 0}, {"VALUE", "value", 0}, {"SOURCE", "source", 0}};
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(topic, "config");
    const cJSON *overrides = cJSON_GetObjectItemCaseSensitive(topic, "config_overrides");
    const cJSON *kv;
    t = table_new(ccols, 3);
    cJSON_ArrayForEach(kv, config)
    {
        table_row(t);
        table_cell(t, kv->string);
        table_cell_json(t, kv);
        table_cell(t, cJSON_HasObjectItem(overrides, kv->string) ? "topic" : "default");
    }
    table_print(cli, t, TABLE_ROWS);
    table_free(t);
}

/* Parses repeated --config KEY=VALUE into obj; a usage error names the bad one. */
static int add_configs(cli_t *cli, const args_t *a, cJSON *obj)
{
    const char *kv;
    for (int i = 0; (kv = args_nth(a, "config", i)); i++) {
        const char *eq = strchr(kv, '=');
        if (!eq || eq == kv)
            return cli_usage(cli, "invalid --config '%s': expected KEY=VALUE", kv);
        char key[256];
        if ((size_t)(eq - kv) >= sizeof key)
            return cli_usage(cli, "invalid --config '%.40s...': key too long", kv);
        memcpy(key, kv, (size_t)(eq - kv));
        key[eq - kv] = '\0';
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
        if (!cJSON_AddStringToObject(obj, key, eq + 1))
            return cli_fail(cli, CLI_SERVER, "out of memory");
    }
    return CLI_OK;
}

/* Prints a changed topic: a line for people, then the topic. */
static int print_changed(cli_t *cli, const http_response_t *r, const char *fmt)
{
    if (cli->format == OUT_JSON) {
        out_json(cli, r->data);
        return CLI_OK;
    }
    if (cli->format == OUT_TABLE) {
        printf(fmt, out_json_str(r->data, "name"), out_json_int(r->data, "partition_count"));
        putchar('\n');
        putchar('\n');
    }
    print_topic(cli, r->data);
    return CLI_OK;
}

static int topic_create(cli_t *cli, const args_t *a)
{
    const char *name = a->pos[0];
    const char *parts = args_value(a, "partitions");
    long long n = 0;
    if (parts && args_parse_long(parts, &n) != 0)
        return cli_usage(cli, "invalid --partitions '%s': expected a whole number", parts);

    cJSON *body = cJSON_CreateObject();
    cJSON *config = cJSON_CreateObject();
    int rc = body && config ? CLI_OK : cli_fail(cli, CLI_SERVER, "out of memory");
    if (rc == CLI_OK)
        rc = add_configs(cli, a, config);
    if (rc == CLI_OK) {
        cJSON_AddStringToObject(body, "name", name);
        if (parts)
            cJSON_AddNumberToObject(body, "partitions", (double)n);
        if (cJSON_GetArraySize(config) > 0) {
            cJSON_AddItemToObject(body, "config", config);
            config = NULL;
        }
    }
    http_response_t r;
    if (rc == CLI_OK)
        rc = http_request(cli, "POST", "/api/v1/topics", body, HTTP_ENVELOPE, &r);
    if (rc == CLI_OK) {
        rc = print_changed(cli, &r, "Created topic '%s' with %lld partitions.");
        http_response_free(&r);
    }
    cJSON_Delete(config);
    cJSON_Delete(body);
    return rc;
}

static int topic_list(cli_t *cli, const args_t *a)
{
    (void)a;
    http_response_t r;
    int rc = http_request(cli, "GET", "/api/v1/topics", NULL, HTTP_ENVELOPE, &r);
    if (rc != CLI_OK)
        return rc;
    if (cli->format == OUT_JSON) {
        out_json(cli, r.data);
        http_response_free(&r);
        return CLI_OK;
    }
    if (cli->format == OUT_TABLE && cJSON_GetArraySize(r.data) == 0) {
        puts("No topics.");
        http_response_free(&r);
        return CLI_OK;
    }
    static const column_t cols[] = {
        {"NAME", "name", 0},
        {"PARTITIONS", "partition_count", 1},
        {"CREATED", "created_ms", 0},
        {"CONFIG OVERRIDES", "config_overrides", 0},
    };
    table_t *t = table_new(cols, 4);
    const cJSON *topic;
    cJSON_ArrayForEach(topic, r.data)
    {
        table_row(t);
        table_cell(t, out_json_str(topic, "name"));
        table_cell_int(t, out_json_int(topic, "partition_count"));
        table_cell_time_ms(t, out_json_int(topic, "created_ms"));
        cell_overrides(t, cJSON_GetObjectItemCaseSensitive(topic, "config_overrides"));
    }
    table_print(cli, t, TABLE_ROWS);
    table_free(t);
    http_response_free(&r);
    return CLI_OK;
}

static int topic_describe(cli_t *cli, const args_t *a)
{
    http_response_t r;
    int rc = topic_request(cli, "GET", a->pos[0], NULL, &r);
    if (rc != CLI_OK)
        return rc;
    if (cli->format == OUT_JSON)
        out_json(cli, r.data);
    else
        print_topic(cli, r.data);
    http_response_free(&r);
    return CLI_OK;
}

static int topic_alter(cli_t *cli, const args_t *a)
{
    if (!args_has(a, "config") && !args_has(a, "reset-config"))
        return cli_usage(cli, "nothing to change: give --config KEY=VALUE or --reset-config KEY");
    cJSON *body = cJSON_CreateObject();
    cJSON *config = cJSON_AddObjectToObject(body, "config");
    if (!config) {
        cJSON_Delete(body);
        return cli_fail(cli, CLI_SERVER, "out of memory");
    }
    int rc = add_configs(cli, a, config);
    const char *key;
    for (int i = 0; rc == CLI_OK && (key = args_nth(a, "reset-config", i)); i++) {
        cJSON_DeleteItemFromObjectCaseSensitive(config, key);
        cJSON_AddNullToObject(config, key); /* null = back to the broker default */
    }
    http_response_t r;
    if (rc == CLI_OK)
        rc = topic_request(cli, "PUT", a->pos[0], body, &r);
    if (rc == CLI_OK) {
        rc = print_changed(cli, &r, "Altered topic '%s' (%lld partitions).");
        http_response_free(&r);
    }
    cJSON_Delete(body);
    return rc;
}

/* Asks with what would be lost: partitions, records, bytes. */
static int confirm_delete(cli_t *cli, const args_t *a, const char *name)
{
    char what[512];
    snprintf(what, sizeof what, "deleting topic '%s'", name);
    if (args_has(a, "yes"))
        return CLI_OK;
    if (!isatty(STDIN_FILENO)) /* say no before touching the broker */
        return confirm_destructive(cli, a, NULL, what);

    http_response_t r;
    int rc = topic_request(cli, "GET", name, NULL, &r);
    if (rc != CLI_OK)
        return rc;
    long long records = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(r.data, "partitions")) records +=
        out_json_int(p, "latest_offset") - out_json_int(p, "earliest_offset");
    char size[32], question[640];
    out_size(out_json_int(r.data, "size_bytes"), size, sizeof size);
    snprintf(question, sizeof question,
             "Delete topic '%s' with %lld partitions, %lld records and %s on disk? This cannot "
             "be undone.",
             name, out_json_int(r.data, "partition_count"), records, size);
    http_response_free(&r);
    return confirm_destructive(cli, a, question, what);
}

static int topic_delete(cli_t *cli, const args_t *a)
{
    const char *name = a->pos[0];
    int rc = confirm_delete(cli, a, name);
    if (rc != CLI_OK)
        return rc;
    http_response_t r;
    rc = topic_request(cli, "DELETE", name, NULL, &r);
    if (rc != CLI_OK)
        return rc;
    if (cli->format == OUT_JSON) {
        out_json(cli, r.data);
    } else if (cli->format == OUT_CSV) {
        static const column_t cols[] = {{"NAME", "name", 0}, {"DELETED", "deleted", 0}};
        table_t *t = table_new(cols, 2);
        table_row(t);
        table_cell(t, out_json_str(r.data, "name"));
        table_cell_json(t, cJSON_GetObjectItemCaseSensitive(r.data, "deleted"));
        table_print(cli, t, TABLE_ROWS);
        table_free(t);
    } else {
        printf("Deleted topic '%s'.\n", out_json_str(r.data, "name"));
    }
    http_response_free(&r);
    return CLI_OK;
}

static const opt_spec_t create_opts[] = {
    {"partitions", 'p', OPT_VALUE, "N", "partitions (default: the broker's num.partitions)",
     COMPLETE_NONE, NULL},
    {"config", 'c', OPT_LIST, "KEY=VALUE", "a topic config; repeat for more (see 'Topic configs')",
     COMPLETE_WORDS,
     "retention.ms= retention.bytes= segment.bytes= segment.ms= max.message.bytes= "
     "index.interval.bytes= message.timestamp.type="},
    {NULL, 0, 0, NULL, NULL, 0, NULL},
};

static const opt_spec_t alter_opts[] = {
    {"config", 'c', OPT_LIST, "KEY=VALUE", "set a topic config; repeat for more", COMPLETE_WORDS,
     "retention.ms= retention.bytes= segment.bytes= segment.ms= max.message.bytes= "
     "index.interval.bytes= message.timestamp.type="},
    {"reset-config", 0, OPT_LIST, "KEY", "put a config back to the broker default; may repeat",
     COMPLETE_WORDS,
     "retention.ms retention.bytes segment.bytes segment.ms max.message.bytes "
     "index.interval.bytes message.timestamp.type"},
    {NULL, 0, 0, NULL, NULL, 0, NULL},
};

static const opt_spec_t delete_opts[] = {
    {"yes", 'y', OPT_FLAG, NULL, "delete without asking (needed when stdin is not a terminal)",
     COMPLETE_NONE, NULL},
    {NULL, 0, 0, NULL, NULL, 0, NULL},
};

#define TOPIC_CONFIGS                                                                              \
    "\nTopic configs (unset keys follow the broker's log.* defaults):\n"                           \
    "  retention.ms            delete segments older than this (-1 = forever)\n"                   \
    "  retention.bytes         most bytes kept per partition (-1 = no limit)\n"                    \
    "  segment.bytes           roll the active segment at this size\n"                             \
    "  segment.ms              roll the active segment at this age\n"                              \
    "  max.message.bytes       largest record batch accepted\n"                                    \
    "  index.interval.bytes    bytes between sparse index entries\n"                               \
    "  message.timestamp.type  CreateTime or LogAppendTime"

static const command_t topic_create_cmd = {
    .name = "create",
    .summary = "Create a topic",
    .args_usage = "NAME [--partitions N] [--config KEY=VALUE ...]",
    .description = "Create a topic. NAME is 1 to 249 characters of [a-zA-Z0-9._-].\n"
                   "Prints the new topic (as 'topic describe' does).\n" TOPIC_CONFIGS,
    .examples = "  mqadmin topic create orders --partitions 3\n"
                "  mqadmin topic create clicks -p 12 -c retention.ms=86400000 -c "
                "segment.ms=3600000\n",
    .options = create_opts,
    .min_pos = 1,
    .max_pos = 1,
    .run = topic_create,
};

static const command_t topic_list_cmd = {
    .name = "list",
    .summary = "List topics",
    .description = "List every topic in name order with its partition count, creation time and\n"
                   "the configs set on it.",
    .examples = "  mqadmin topic list\n"
                "  mqadmin topic list -o csv > topics.csv\n",
    .run = topic_list,
};

static const command_t topic_describe_cmd = {
    .name = "describe",
    .summary = "Show a topic's partitions, offsets, sizes and config",
    .args_usage = "NAME",
    .description = "Show a topic: every partition with its earliest and latest offset, the\n"
                   "records between them, bytes on disk and segment count; and the effective\n"
                   "config, each key marked 'topic' (set on the topic) or 'default'.\n"
                   "With --output csv: one row per partition.",
    .examples = "  mqadmin topic describe orders\n"
                "  mqadmin topic describe orders -o json | jq '.partitions[].latest_offset'\n",
    .min_pos = 1,
    .max_pos = 1,
    .pos_complete = COMPLETE_TOPIC,
    .run = topic_describe,
};

static const command_t topic_alter_cmd = {
    .name = "alter",
    .summary = "Change a topic's configs",
    .args_usage = "NAME (--config KEY=VALUE | --reset-config KEY) ...",
    .description = "Change topic configs. Keys given with --config are set, keys given with\n"
                   "--reset-config go back to the broker default, others keep their value.\n"
                   "The change applies to every partition at once.\n" TOPIC_CONFIGS,
    .examples = "  mqadmin topic alter orders --config retention.bytes=1073741824\n"
                "  mqadmin topic alter orders --reset-config retention.ms\n",
    .options = alter_opts,
    .min_pos = 1,
    .max_pos = 1,
    .pos_complete = COMPLETE_TOPIC,
    .run = topic_alter,
};

static const command_t topic_delete_cmd = {
    .name = "delete",
    .summary = "Delete a topic and all its data",
    .args_usage = "NAME [--yes]",
    .description = "Delete a topic and all its data. On a terminal it shows what would be lost\n"
                   "and asks first; --yes skips the question. When stdin is not a terminal\n"
                   "(scripts, pipes) it refuses without --yes and exits 1, changing nothing.",
    .examples = "  mqadmin topic delete orders\n"
                "  mqadmin topic delete orders --yes\n",
    .options = delete_opts,
    .min_pos = 1,
    .max_pos = 1,
    .pos_complete = COMPLETE_TOPIC,
    .run = topic_delete,
};

static const command_t *const topic_subcommands[] = {
    &topic_create_cmd, &topic_list_cmd,   &topic_describe_cmd,
    &topic_alter_cmd,  &topic_delete_cmd, NULL,
};

const command_t topic_command = {
    .name = "topic",
    .summary = "Create, list, describe, alter and delete topics",
    .description = "Create, list, describe, alter and delete topics.",
    .subcommands = topic_subcommands,
};
