/* mqadmin acl add|list|remove|test over /api/v1/acls (docs/security.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "http.h"
#include "output.h"

#define OPERATIONS "read write create delete describe alter all"

/* The resource options: exactly one of --topic NAME, --group NAME,
 * --cluster. Fills type and name; CLI_OK or a usage error. */
static int resource_of(cli_t *cli, const args_t *a, const char **type, const char **name)
{
    int n = args_has(a, "topic") + args_has(a, "group") + args_has(a, "cluster");
    if (n != 1)
        return cli_usage(cli, "give exactly one resource: --topic NAME, --group NAME or --cluster");
    if (args_has(a, "cluster")) {
        *type = "cluster";
        *name = "";
    } else {
        *type = args_has(a, "topic") ? "topic" : "group";
        *name = args_value(a, *type);
    }
    return CLI_OK;
}

static int valid_operation(const char *op)
{
    static const char *const ops[] = {"read",     "write", "create", "delete",
                                      "describe", "alter", "all",    NULL};
    for (int i = 0; ops[i]; i++)
        if (!strcmp(op, ops[i]))
            return 1;
    return 0;
}

/* principal, resource and operation, shared by add and test. */
static cJSON *rule_body(cli_t *cli, const args_t *a, int *rc)
{
    const char *type = "", *name = "";
    *rc = resource_of(cli, a, &type, &name);
    if (*rc != CLI_OK)
        return NULL;
    const char *principal = args_value(a, "principal");
    const char *op = args_value(a, "operation");
    if (!principal || !principal[0]) {
        *rc = cli_usage(cli, "--principal is required (a principal, or '*' for everyone)");
        return NULL;
    }
    if (!op || !valid_operation(op)) {
        *rc = cli_usage(cli, "--operation must be one of: %s", OPERATIONS);
        return NULL;
    }
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "principal", principal);
    cJSON_AddStringToObject(b, "resource_type", type);
    cJSON_AddStringToObject(b, "resource_name", name);
    cJSON_AddStringToObject(b, "operation", op);
    return b;
}

static const column_t rule_cols[] = {
    {"ID", "id", 1},
    {"Principal", "principal", 0},
    {"Permission", "permission", 0},
    {"Operation", "operation", 0},
    {"Resource type", "resource_type", 0},
    {"Pattern", "pattern_type", 0},
    {"Resource name", "resource_name", 0},
};
#define NCOLS ((int)(sizeof rule_cols / sizeof rule_cols[0]))

static void rule_row(table_t *t, const cJSON *r)
{
    table_row(t);
    table_cell_int(t, out_json_int(r, "id"));
    table_cell(t, out_json_str(r, "principal"));
    table_cell(t, out_json_str(r, "permission"));
    table_cell(t, out_json_str(r, "operation"));
    table_cell(t, out_json_str(r, "resource_type"));
    table_cell(t, out_json_str(r, "pattern_type"));
    table_cell(t, out_json_str(r, "resource_name"));
}

static int acl_add(cli_t *cli, const args_t *a)
{
    int rc;
    cJSON *b = rule_body(cli, a, &rc);
    if (!b)
        return rc;
    if (args_has(a, "allow") && args_has(a, "deny")) {
        cJSON_Delete(b);
        return cli_usage(cli, "give --allow or --deny, not both");
    }
    cJSON_AddStringToObject(b, "pattern_type", args_has(a, "prefix") ? "prefix" : "literal");
    cJSON_AddStringToObject(b, "permission", args_has(a, "deny") ? "deny" : "allow");
    http_response_t r;
    rc = http_request(cli, "POST", "/api/v1/acls", b, HTTP_ENVELOPE, &r);
    cJSON_Delete(b);
    if (rc != CLI_OK)
        return rc;
    if (cli->format == OUT_JSON) {
        out_json(cli, r.data);
    } else {
        table_t *t = table_new(rule_cols, NCOLS);
        rule_row(t, r.data);
        table_print(cli, t, cli->format == OUT_CSV ? TABLE_ROWS : TABLE_VERTICAL);
        table_free(t);
    }
    http_response_free(&r);
    return CLI_OK;
}

static int acl_list(cli_t *cli, const args_t *a)
{
    const char *principal = args_value(a, "principal");
    http_response_t r;
    int rc = http_request(cli, "GET", "/api/v1/acls", NULL, HTTP_ENVELOPE, &r);
    if (rc != CLI_OK)
        return rc;
    cJSON *shown = cJSON_CreateArray();
    const cJSON *rule;
    cJSON_ArrayForEach(rule, r.data)
    {
        if (!principal || !strcmp(out_json_str(rule, "principal"), principal))
            cJSON_AddItemReferenceToArray(shown, (cJSON *)rule);
    }
    if (cli->format == OUT_JSON) {
        out_json(cli, shown);
    } else {
        table_t *t = table_new(rule_cols, NCOLS);
        cJSON_ArrayForEach(rule, shown) rule_row(t, rule);
        if (cli->format == OUT_TABLE && table_rows(t) == 0)
            printf("No ACL rules%s%s.\n", principal ? " for " : "", principal ? principal : "");
        else
            table_print(cli, t, TABLE_ROWS);
        table_free(t);
    }
    cJSON_Delete(shown);
    http_response_free(&r);
    return CLI_OK;
}

static int acl_remove(cli_t *cli, const args_t *a)
{
    long long id;
    if (args_parse_long(a->pos[0], &id) != 0 || id <= 0)
        return cli_usage(cli, "ID must be a positive integer (see 'mqadmin acl list'), got '%s'",
                         a->pos[0]);
    char what[96], question[160];
    snprintf(what, sizeof what, "removing ACL rule %lld", id);
    snprintf(question, sizeof question,
             "Remove ACL rule %lld? Access it grants or denies changes "
             "at once.",
             id);
    int rc = confirm_destructive(cli, a, question, what);
    if (rc != CLI_OK)
        return rc;
    char path[64];
    snprintf(path, sizeof path, "/api/v1/acls/%lld", id);
    http_response_t r;
    rc = http_request(cli, "DELETE", path, NULL, HTTP_ENVELOPE, &r);
    if (rc != CLI_OK)
        return rc;
    if (cli->format == OUT_JSON)
        out_json(cli, r.data);
    else if (cli->format == OUT_CSV)
        printf("id,deleted\n%lld,true\n", id);
    else
        printf("Removed ACL rule %lld.\n", id);
    http_response_free(&r);
    return CLI_OK;
}

static int acl_test(cli_t *cli, const args_t *a)
{
    int rc;
    cJSON *b = rule_body(cli, a, &rc);
    if (!b)
        return rc;
    http_response_t r;
    rc = http_request(cli, "POST", "/api/v1/acls/test", b, HTTP_ENVELOPE, &r);
    cJSON_Delete(b);
    if (rc != CLI_OK)
        return rc;
    if (cli->format == OUT_JSON) {
        out_json(cli, r.data);
    } else {
        static const column_t cols[] = {
            {"Decision", "decision", 0},
            {"Rule", "rule_id", 0},
            {"Reason", "reason", 0},
            {"Principal", "principal", 0},
            {"Operation", "operation", 0},
            {"Resource type", "resource_type", 0},
            {"Resource name", "resource_name", 0},
        };
        const char *decision = out_json_str(r.data, "decision");
        char shown[64];
        snprintf(shown, sizeof shown, "%s%s%s",
                 out_color(cli, !strcmp(decision, "allow") ? ANSI_GREEN : ANSI_RED), decision,
                 out_color(cli, ANSI_RESET));
        table_t *t = table_new(cols, 7);
        table_row(t);
        table_cell2(t, shown, decision);
        table_cell_json(t, cJSON_GetObjectItemCaseSensitive(r.data, "rule_id"));
        table_cell(t, out_json_str(r.data, "reason"));
        table_cell(t, out_json_str(r.data, "principal"));
        table_cell(t, out_json_str(r.data, "operation"));
        table_cell(t, out_json_str(r.data, "resource_type"));
        table_cell(t, out_json_str(r.data, "resource_name"));
        table_print(cli, t, cli->format == OUT_CSV ? TABLE_ROWS : TABLE_VERTICAL);
        table_free(t);
    }
    http_response_free(&r);
    return CLI_OK;
}

static const opt_spec_t add_opts[] = {
    {"principal", 0, OPT_VALUE, "P", "certificate CN (or mapped SAN), ANONYMOUS, or *",
     COMPLETE_NONE, NULL},
    {"topic", 0, OPT_VALUE, "NAME", "a topic (* = every topic)", COMPLETE_TOPIC, NULL},
    {"group", 0, OPT_VALUE, "NAME", "a consumer group (* = every group)", COMPLETE_GROUP, NULL},
    {"cluster", 0, OPT_FLAG, NULL, "the cluster (topic creation, ACLs, health, metrics)",
     COMPLETE_NONE, NULL},
    {"operation", 0, OPT_VALUE, "OP", OPERATIONS, COMPLETE_WORDS, OPERATIONS},
    {"prefix", 0, OPT_FLAG, NULL, "NAME is a prefix (e.g. --topic orders. --prefix)", COMPLETE_NONE,
     NULL},
    {"allow", 0, OPT_FLAG, NULL, "allow (the default)", COMPLETE_NONE, NULL},
    {"deny", 0, OPT_FLAG, NULL, "deny (deny wins over any allow)", COMPLETE_NONE, NULL},
    {NULL, 0, 0, NULL, NULL, 0, NULL},
};

static const opt_spec_t test_opts[] = {
    {"principal", 0, OPT_VALUE, "P", "certificate CN (or mapped SAN), ANONYMOUS, or *",
     COMPLETE_NONE, NULL},
    {"topic", 0, OPT_VALUE, "NAME", "a topic (* = every topic)", COMPLETE_TOPIC, NULL},
    {"group", 0, OPT_VALUE, "NAME", "a consumer group (* = every group)", COMPLETE_GROUP, NULL},
    {"cluster", 0, OPT_FLAG, NULL, "the cluster (topic creation, ACLs, health, metrics)",
     COMPLETE_NONE, NULL},
    {"operation", 0, OPT_VALUE, "OP", OPERATIONS, COMPLETE_WORDS, OPERATIONS},
    {NULL, 0, 0, NULL, NULL, 0, NULL},
};

static const opt_spec_t list_opts[] = {
    {"principal", 0, OPT_VALUE, "PRINCIPAL", "only this principal's rules", COMPLETE_NONE, NULL},
    {NULL, 0, 0, NULL, NULL, 0, NULL},
};

static const opt_spec_t remove_opts[] = {
    {"yes", 'y', OPT_FLAG, NULL, "remove without asking (needed when stdin is not a terminal)",
     COMPLETE_NONE, NULL},
    {NULL, 0, 0, NULL, NULL, 0, NULL},
};

static const command_t acl_add_cmd = {
    .name = "add",
    .summary = "Add an allow or deny rule",
    .args_usage = "--principal P (--topic NAME | --group NAME | --cluster) --operation OP "
                  "[--prefix] [--deny]",
    .description = "Add an ACL rule. The broker checks rules when authorizer.enabled is true:\n"
                   "deny wins, and nothing is allowed that no rule allows. Prints the rule\n"
                   "with the id it got.",
    .examples = "  mqadmin acl add --principal alice --topic orders --operation write\n"
                "  mqadmin acl add --principal '*' --topic tmp. --prefix --operation all\n"
                "  mqadmin acl add --principal bob --topic payroll --operation read --deny\n",
    .options = add_opts,
    .run = acl_add,
};

static const command_t acl_list_cmd = {
    .name = "list",
    .summary = "List the rules",
    .description = "List every ACL rule by id.",
    .examples = "  mqadmin acl list\n"
                "  mqadmin acl list --principal alice -o csv\n",
    .options = list_opts,
    .run = acl_list,
};

static const command_t acl_remove_cmd = {
    .name = "remove",
    .summary = "Remove a rule by id",
    .args_usage = "ID [--yes]",
    .description = "Remove an ACL rule. On a terminal it asks first; --yes skips the question.\n"
                   "When stdin is not a terminal it refuses without --yes and exits 1.",
    .examples = "  mqadmin acl remove 3 --yes\n",
    .options = remove_opts,
    .min_pos = 1,
    .max_pos = 1,
    .run = acl_remove,
};

static const command_t acl_test_cmd = {
    .name = "test",
    .summary = "Show what the broker would decide, and which rule decides",
    .args_usage = "--principal P (--topic NAME | --group NAME | --cluster) --operation OP",
    .description = "Ask the broker whether a principal may do an operation on a resource.\n"
                   "Prints allow or deny and the id of the rule that decided (none: no rule\n"
                   "allows it, a super user, or the authorizer is off). Exits 0 either way.",
    .examples = "  mqadmin acl test --principal alice --topic orders --operation read\n",
    .options = test_opts,
    .run = acl_test,
};

static const command_t *const acl_subcommands[] = {&acl_add_cmd, &acl_list_cmd, &acl_remove_cmd,
                                                   &acl_test_cmd, NULL};

const command_t acl_command = {
    .name = "acl",
    .summary = "Authorization rules (who may do what)",
    .description = "Add, list, remove and test the broker's ACL rules (docs/security.md).",
    .subcommands = acl_subcommands,
};
