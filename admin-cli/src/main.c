/* mqadmin: parses the command line against the command tree, applies the
 * global options and runs the command. The exit code is the contract with
 * scripts (cli.h, docs/mqadmin.md). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "http.h"

#ifndef MQADMIN_VERSION
#define MQADMIN_VERSION "0"
#endif

#define DEFAULT_URL "http://127.0.0.1:9642"
#define DEFAULT_TIMEOUT_S 60.0

const opt_spec_t global_options[] = {
    {"url", 0, OPT_VALUE, "URL",
     "admin API of the broker (env MQ_ADMIN_URL; default " DEFAULT_URL ")", COMPLETE_NONE, NULL},
    {"ca", 0, OPT_VALUE, "FILE", "CA certificates (PEM) to verify an https:// broker",
     COMPLETE_FILE, NULL},
    {"cert", 0, OPT_VALUE, "FILE", "client certificate (PEM) for mutual TLS", COMPLETE_FILE, NULL},
    {"key", 0, OPT_VALUE, "FILE", "private key (PEM) of --cert", COMPLETE_FILE, NULL},
    {"output", 'o', OPT_VALUE, "FORMAT",
     "table, json or csv (default: table on a terminal, json when piped)", COMPLETE_WORDS,
     "table json csv"},
    {"no-color", 0, OPT_FLAG, NULL, "no colors (also env NO_COLOR)", COMPLETE_NONE, NULL},
    {"timeout", 0, OPT_VALUE, "SECONDS", "give up on a request after this long (default 60)",
     COMPLETE_NONE, NULL},
    {"version", 0, OPT_FLAG, NULL, "print mqadmin's version and exit", COMPLETE_NONE, NULL},
    {"help", 'h', OPT_FLAG, NULL, "show help for the command and exit", COMPLETE_NONE, NULL},
    {NULL, 0, 0, NULL, NULL, 0, NULL},
};

/* The families, in the order --help and completion list them. */
static const command_t *const families[] = {&topic_command,   &group_command, &cluster_command,
                                            &metrics_command, &acl_command,   NULL};

const command_t root_command = {
    .name = "mqadmin",
    .summary = "Administer an mq broker over its admin REST API.",
    .description =
        "Administer an mq broker over its admin REST API: create and inspect topics,\n"
        "watch and reset consumer groups, check the broker's health, read its metrics\n"
        "and manage ACL rules.\n"
        "\n"
        "Exit codes:\n"
        "  0  success\n"
        "  1  usage error (bad command or option), or a destructive command not confirmed\n"
        "  2  the broker answered with an error\n"
        "  3  not found (no such topic, group or ACL rule)\n"
        "  4  cannot reach the broker (connection refused, TLS failure, timeout)\n"
        "\n"
        "Environment:\n"
        "  MQ_ADMIN_URL  the broker's admin URL when --url is not given\n"
        "  NO_COLOR      set to turn colors off",
    .examples = "  mqadmin topic create orders --partitions 3 --config retention.ms=86400000\n"
                "  mqadmin topic list\n"
                "  mqadmin --url http://broker:9642 topic describe orders -o json\n"
                "  mqadmin group describe billing\n"
                "  mqadmin cluster health\n",
    .subcommands = families,
};

static void print_prefix(const cli_t *cli)
{
    fprintf(stderr, "%smqadmin:%s ", cli->err_color ? "\033[1;31m" : "",
            cli->err_color ? "\033[0m" : "");
}

int cli_fail(cli_t *cli, int code, const char *fmt, ...)
{
    if (cli->quiet)
        return code;
    va_list ap;
    va_start(ap, fmt);
    print_prefix(cli);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

int cli_usage(cli_t *cli, const char *fmt, ...)
{
    if (cli->quiet)
        return CLI_USAGE;
    va_list ap;
    va_start(ap, fmt);
    print_prefix(cli);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (cli->pr)
        help_print_usage_hint(stderr, cli->pr);
    return CLI_USAGE;
}

static int apply_url(cli_t *cli, const args_t *a)
{
    const char *src = "--url";
    const char *url = args_value(a, "url");
    if (!url) {
        url = getenv("MQ_ADMIN_URL");
        src = "MQ_ADMIN_URL";
    }
    if (!url || !*url) {
        url = DEFAULT_URL;
        src = "the default";
    }
    if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))
        return cli_usage(cli, "invalid URL '%s' (from %s): it must start with http:// or https://",
                         url, src);
    cli->url = strdup(url);
    if (!cli->url)
        return cli_fail(cli, CLI_SERVER, "out of memory");
    size_t n = strlen(cli->url);
    while (n > 0 && cli->url[n - 1] == '/')
        cli->url[--n] = '\0';
    return CLI_OK;
}

/* A missing certificate file is the user's mistake, not the broker's. */
static int apply_file(cli_t *cli, const args_t *a, const char *name, const char **out)
{
    const char *f = args_value(a, name);
    if (f && access(f, R_OK) != 0)
        return cli_usage(cli, "cannot read --%s file '%s': %s", name, f, strerror(errno));
    *out = f;
    return CLI_OK;
}

static int apply_output(cli_t *cli, const args_t *a)
{
    const char *o = args_value(a, "output");
    if (!o)
        cli->format = isatty(STDOUT_FILENO) ? OUT_TABLE : OUT_JSON;
    else if (!strcmp(o, "table"))
        cli->format = OUT_TABLE;
    else if (!strcmp(o, "json"))
        cli->format = OUT_JSON;
    else if (!strcmp(o, "csv"))
        cli->format = OUT_CSV;
    else
        return cli_usage(cli, "invalid --output '%s': use table, json or csv", o);
    return CLI_OK;
}

static int colors_allowed(const args_t *a)
{
    const char *term = getenv("TERM");
    const char *nc = getenv("NO_COLOR");
    return !args_has(a, "no-color") && !(nc && *nc) && !(term && !strcmp(term, "dumb"));
}

static int apply_timeout(cli_t *cli, const args_t *a)
{
    const char *t = args_value(a, "timeout");
    double s = DEFAULT_TIMEOUT_S;
    if (t) {
        char *end = NULL;
        errno = 0;
        s = strtod(t, &end);
        if (errno || end == t || *end || !(s > 0) || s > 86400)
            return cli_usage(cli,
                             "invalid --timeout '%s': give seconds, more than 0 and at most "
                             "86400",
                             t);
    }
    cli->timeout_ms = (long)(s * 1000);
    if (cli->timeout_ms < 1)
        cli->timeout_ms = 1;
    return CLI_OK;
}

int cli_apply_globals(cli_t *cli, const args_t *a)
{
    int rc;
    if ((rc = apply_url(cli, a)) || (rc = apply_file(cli, a, "ca", &cli->ca)) ||
        (rc = apply_file(cli, a, "cert", &cli->cert)) ||
        (rc = apply_file(cli, a, "key", &cli->key)) || (rc = apply_output(cli, a)) ||
        (rc = apply_timeout(cli, a)))
        return rc;
    if ((cli->ca || cli->cert || cli->key) && strncasecmp(cli->url, "https://", 8))
        cli_fail(cli, CLI_OK,
                 "warning: --ca, --cert and --key only apply to https:// URLs; %s is "
                 "plain HTTP",
                 cli->url);
    cli->color = cli->format == OUT_TABLE && isatty(STDOUT_FILENO) && colors_allowed(a);
    return CLI_OK;
}

static int check_positionals(cli_t *cli, const command_t *c, const args_t *a)
{
    if (a->npos < c->min_pos)
        return cli_usage(cli, "missing argument: %s", c->args_usage ? c->args_usage : "");
    if (a->npos > c->max_pos)
        return cli_usage(cli, "unexpected argument '%s'", a->pos[c->max_pos]);
    for (int i = 0; i < a->npos; i++)
        if (!a->pos[i][0]) /* "" would address the collection, not an item */
            return cli_usage(cli, "empty argument: %s", c->args_usage ? c->args_usage : "");
    return CLI_OK;
}

static int run(cli_t *cli, const parse_result_t *pr)
{
    const command_t *c = pr->path[pr->depth - 1];
    if (!c->run) {
        char path[256], names[256] = "";
        size_t off = 0;
        help_command_path(pr, path, sizeof path);
        for (const command_t *const *s = c->subcommands; *s && off < sizeof names; s++)
            off += (size_t)snprintf(names + off, sizeof names - off, "%s%s", off ? ", " : "",
                                    (*s)->name);
        return cli_usage(cli, "'%s' needs a command: %s", path, names);
    }
    int rc = check_positionals(cli, c, &pr->args);
    if (rc == CLI_OK)
        rc = cli_apply_globals(cli, &pr->args);
    if (rc == CLI_OK)
        rc = c->run(cli, &pr->args);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "__complete"))
        return complete_main(argc - 2, argv + 2);

    static parse_result_t pr;
    cli_t cli = {0};
    cli.pr = &pr;
    int bad = args_parse(&root_command, argc - 1, argv + 1, &pr);
    cli.err_color = isatty(STDERR_FILENO) && colors_allowed(&pr.args);

    if (pr.help) {
        help_print(stdout, &pr);
        return CLI_OK;
    }
    if (args_has(&pr.args, "version")) {
        printf("mqadmin %s\n", MQADMIN_VERSION);
        return CLI_OK;
    }
    if (bad)
        return cli_usage(&cli, "%s", pr.error);
    if (argc == 1) {
        help_print(stderr, &pr);
        return CLI_USAGE;
    }
    int rc = run(&cli, &pr);
    http_close(&cli);
    free(cli.url);
    if (fflush(stdout) != 0 && rc == CLI_OK)
        rc = cli_fail(&cli, CLI_SERVER, "cannot write the output: %s", strerror(errno));
    return rc;
}
