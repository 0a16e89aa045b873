/* mqadmin cluster health|info over /health and /api/v1/cluster. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "http.h"
#include "output.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cluster_health(cli_t *cli, const args_t *a)
{
    (void)a;
    http_response_t r;
    double start = now_ms();
    int rc = http_request(cli, "GET", "/health", NULL, HTTP_ENVELOPE, &r);
    if (rc != CLI_OK)
        return rc;
    double took = now_ms() - start;
    const char *status = out_json_str(r.data, "status");
    int ok = !strcmp(status, "ok");
    if (cli->format == OUT_JSON) {
        out_json(cli, r.data);
    } else {
        static const column_t cols[] = {
            {"Status", "status", 0}, {"URL", "url", 0}, {"Response time", "response_ms", 0}};
        char human[32], exact[32];
        snprintf(human, sizeof human, "%.1f ms", took);
        snprintf(exact, sizeof exact, "%.3f", took);
        char shown[96];
        snprintf(shown, sizeof shown, "%s%s%s", out_color(cli, ok ? ANSI_GREEN : ANSI_RED),
                 status[0] ? status : "(none)", out_color(cli, ANSI_RESET));
        table_t *t = table_new(cols, 3);
        table_row(t);
        table_cell2(t, shown, status);
        table_cell(t, cli->url);
        table_cell2(t, human, exact);
        table_print(cli, t, TABLE_VERTICAL);
        table_free(t);
    }
    http_response_free(&r);
    if (!ok)
        return cli_fail(cli, CLI_SERVER, "the broker at %s reports status '%s'", cli->url, status);
    return CLI_OK;
}

static int cluster_info(cli_t *cli, const args_t *a)
{
    (void)a;
    http_response_t r;
    int rc = http_request(cli, "GET", "/api/v1/cluster", NULL, HTTP_ENVELOPE, &r);
    if (rc != CLI_OK)
        return rc;
    if (cli->format == OUT_JSON) {
        out_json(cli, r.data);
        http_response_free(&r);
        return CLI_OK;
    }
    static const column_t cols[] = {
        {"Node ID", "node_id", 0},
        {"Version", "version", 0},
        {"Client listener", "client_listener", 0},
        {"Admin listener", "admin_listener", 0},
        {"Uptime", "uptime_seconds", 0},
        {"Topics", "topic_count", 0},
        {"Partitions", "partition_count", 0},
    };
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(r.data, "listeners");
    table_t *t = table_new(cols, 7);
    table_row(t);
    table_cell_int(t, out_json_int(r.data, "node_id"));
    table_cell(t, out_json_str(r.data, "version"));
    table_cell(t, out_json_str(l, "client"));
    table_cell(t, out_json_str(l, "admin"));
    table_cell_duration(t, out_json_int(r.data, "uptime_seconds"));
    table_cell_int(t, out_json_int(r.data, "topic_count"));
    table_cell_int(t, out_json_int(r.data, "partition_count"));
    table_print(cli, t, TABLE_VERTICAL);
    table_free(t);
    http_response_free(&r);
    return CLI_OK;
}

static const command_t health_cmd = {
    .name = "health",
    .summary = "Check that the broker answers",
    .description = "Check that the broker answers on its admin port. Exits 0 when it reports\n"
                   "status ok, 4 when it cannot be reached, 2 for any other answer.",
    .examples = "  mqadmin cluster health\n"
                "  until mqadmin cluster health >/dev/null 2>&1; do sleep 1; done\n",
    .run = cluster_health,
};

static const command_t info_cmd = {
    .name = "info",
    .summary = "Show the node: id, version, listeners, uptime, counts",
    .description = "Show the broker node: id, version, client and admin listeners, uptime and\n"
                   "its topic and partition counts.",
    .examples = "  mqadmin cluster info\n",
    .run = cluster_info,
};

static const command_t *const cluster_subcommands[] = {&health_cmd, &info_cmd, NULL};

const command_t cluster_command = {
    .name = "cluster",
    .summary = "Broker health and node information",
    .description = "Broker health and node information.",
    .subcommands = cluster_subcommands,
};
