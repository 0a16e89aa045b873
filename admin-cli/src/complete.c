/* Shell completion from the command tree (completion/mqadmin.bash calls
 * `mqadmin __complete WORD... CURRENT`): commands, options, option values and
 * topic names and group ids (asked from the broker with a short timeout). The words are
 * split at spaces only, so "--output=js" and URLs arrive whole; candidates are
 * whole words too (the script trims what bash sees as already typed). */
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

/* The names at `path` of the broker (the `key` member of each item). */
static void offer_names(const parse_result_t *pr, const char *cur, const char *path,
                        const char *key)
{
    cli_t cli = {0};
    cli.quiet = 1;
    args_t a = pr->args;
    if (cli_apply_globals(&cli, &a) != CLI_OK)
        goto out;
    if (!args_has(&a, "timeout"))
        cli.timeout_ms = 2000;
    http_response_t r;
    if (http_request(&cli, "GET", path, NULL, HTTP_ENVELOPE, &r) != CLI_OK)
        goto out;
    const cJSON *t;
    cJSON_ArrayForEach(t, r.data)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, key);
        if (cJSON_IsString(name))
            offer(name->valuestring, cur);
    }
    http_response_free(&r);
out:
    http_close(&cli);
    free(cli.url);
}

/* Topic names or group ids, as `what` asks. */
static void offer_remote(complete_t what, const parse_result_t *pr, const char *cur)
{
    if (what == COMPLETE_TOPIC)
        offer_names(pr, cur, "/api/v1/topics", "name");
    else if (what == COMPLETE_GROUP)
        offer_names(pr, cur, "/api/v1/groups", "group_id");
}

static void offer_value(const opt_spec_t *o, const parse_result_t *pr, const char *cur)
{
    if (o->complete == COMPLETE_FILE)
        puts(":files");
    else if (o->complete == COMPLETE_WORDS)
        offer_words(o->words, cur);
    else
        offer_remote(o->complete, pr, cur);
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

/* CURRENT is "--opt=val": complete val, printing whole words. */
static void offer_inline_value(const parse_result_t *pr, const char *cur)
{
    const char *eq = strchr(cur, '=');
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(eq - cur - 2), cur + 2);
    const opt_spec_t *o = args_find_option(pr->path[pr->depth - 1], name, 0);
    if (!o || o->kind == OPT_FLAG)
        return;
    if (o->complete == COMPLETE_FILE) {
        puts(":files");
        return;
    }
    if (o->complete != COMPLETE_WORDS)
        return;
    char buf[512], word[640];
    snprintf(buf, sizeof buf, "%s", o->words);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        snprintf(word, sizeof word, "--%s=%s", o->name, w);
        offer(word, cur);
    }
}

int complete_main(int argc, char **argv)
{
    if (argc < 1)
        return CLI_USAGE;
    const char *cur = argv[argc - 1];
    static parse_result_t pr;
    args_parse(&root_command, argc - 1, argv, &pr);
    const char *last = argc >= 2 ? argv[argc - 2] : NULL;
    const opt_spec_t *o = pending_option(&pr, last);
    const command_t *cmd = pr.path[pr.depth - 1];

    if (o)
        offer_value(o, &pr, cur);
    else if (!strncmp(cur, "--", 2) && strchr(cur, '='))
        offer_inline_value(&pr, cur);
    else if (cur[0] == '-') {
        offer_options(cmd->options, cur);
        offer_options(global_options, cur);
    } else if (cmd->subcommands && pr.args.npos == 0) {
        for (const command_t *const *s = cmd->subcommands; *s; s++)
            offer((*s)->name, cur);
    } else if (pr.args.npos < cmd->max_pos) {
        offer_remote(cmd->pos_complete, &pr, cur);
    }
    return CLI_OK;
}
