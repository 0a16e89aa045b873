/* Shell completion from the command tree (completion/mqadmin.bash calls
 * `mqadmin __complete WORD... CURRENT`): commands, options, option values and
 * topic names (asked from the broker with a short timeout). Bash splits
 * `--output=json` at '=' into "--output" "=" "json"; those are joined back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "http.h"

static void offer(const char *word, const char *cur)
{
    if (!strncmp(word, cur, strlen(cur)))
        puts(word);
}

static void offer_words(const char *words, const char *cur)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", words);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
        offer(w, cur);
}

static void offer_topics(const parse_result_t *pr, const char *cur)
{
    cli_t cli = {0};
    cli.quiet = 1;
    args_t a = pr->args;
    if (cli_apply_globals(&cli, &a) != CLI_OK)
        goto out;
    if (!args_has(&a, "timeout"))
        cli.timeout_ms = 2000;
    http_response_t r;
    if (http_request(&cli, "GET", "/api/v1/topics", NULL, HTTP_ENVELOPE, &r) != CLI_OK)
        goto out;
    const cJSON *t;
    cJSON_ArrayForEach(t, r.data)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
        if (cJSON_IsString(name))
            offer(name->valuestring, cur);
    }
    http_response_free(&r);
out:
    http_close(&cli);
    free(cli.url);
}

static void offer_value(const opt_spec_t *o, const parse_result_t *pr, const char *cur)
{
    if (o->complete == COMPLETE_FILE)
        puts(":files");
    else if (o->complete == COMPLETE_WORDS)
        offer_words(o->words, cur);
    else if (o->complete == COMPLETE_TOPIC)
        offer_topics(pr, cur);
}

static void offer_options(const opt_spec_t *t, const char *cur)
{
    char buf[160];
    for (; t && t->name; t++) {
        snprintf(buf, sizeof buf, "--%s", t->name);
        offer(buf, cur);
    }
}

/* The option a value is being typed for ("--output" in "--output js"), given
 * the words before the current one; NULL if none. */
static const opt_spec_t *pending_option(const parse_result_t *pr, const char *last)
{
    if (!last || strncmp(last, "-", 1) || strchr(last, '=') || !strcmp(last, "--"))
        return NULL;
    const command_t *cmd = pr->path[pr->depth - 1];
    const opt_spec_t *o =
        last[1] == '-' ? args_find_option(cmd, last + 2, 0) : args_find_option(cmd, NULL, last[1]);
    return o && o->kind != OPT_FLAG ? o : NULL;
}

int complete_main(int argc, char **argv)
{
    if (argc < 1)
        return CLI_USAGE;
    const char *cur = argv[argc - 1];
    int value_after_eq = !strcmp(cur, "=") || (argc >= 2 && !strcmp(argv[argc - 2], "="));
    if (!strcmp(cur, "="))
        cur = "";

    /* the words before the current one, with "X = Y" joined to "X=Y" */
    char **done = calloc((size_t)argc + 1, sizeof *done);
    int n = 0;
    if (!done)
        return CLI_SERVER;
    for (int i = 0; i < argc - 1; i++) {
        if (!strcmp(argv[i], "=") && n > 0 && i + 1 < argc - 1) {
            char *j = malloc(strlen(done[n - 1]) + strlen(argv[i + 1]) + 2);
            if (j)
                sprintf(j, "%s=%s", done[n - 1], argv[i + 1]);
            free(done[n - 1]);
            done[n - 1] = j ? j : strdup("");
            i++;
        } else if (strcmp(argv[i], "=")) {
            done[n++] = strdup(argv[i]);
        }
    }
    /* "--output =" being completed: the option is the last done word */
    static parse_result_t pr;
    args_parse(&root_command, n, done, &pr);
    const char *last = n ? done[n - 1] : NULL;
    const opt_spec_t *o = pending_option(&pr, last);
    const command_t *cmd = pr.path[pr.depth - 1];

    if (o || value_after_eq) {
        if (o)
            offer_value(o, &pr, cur);
    } else if (cur[0] == '-') {
        offer_options(cmd->options, cur);
        offer_options(global_options, cur);
    } else if (cmd->subcommands && pr.args.npos == 0) {
        for (const command_t *const *s = cmd->subcommands; *s; s++)
            if (!(*s)->hidden)
                offer((*s)->name, cur);
    } else if (cmd->pos_complete == COMPLETE_TOPIC && pr.args.npos < cmd->max_pos) {
        offer_topics(&pr, cur);
    }
    for (int i = 0; i < n; i++)
        free(done[i]);
    free(done);
    return CLI_OK;
}
