/* Command-line parsing against the command tree: words pick subcommands
 * until a command without subcommands is reached; the rest are positional
 * arguments. Options may appear anywhere after the command they belong to;
 * global options anywhere at all. `--name=value` and `--name value` both
 * work; `--` ends the options. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const opt_spec_t *find_in(const opt_spec_t *t, const char *name, char short_name)
{
    for (; t && t->name; t++) {
        if (name && !strcmp(t->name, name))
            return t;
        if (!name && short_name && t->short_name == short_name)
            return t;
    }
    return NULL;
}

const opt_spec_t *args_find_option(const command_t *cmd, const char *name, char short_name)
{
    const opt_spec_t *o = find_in(cmd ? cmd->options : NULL, name, short_name);
    return o ? o : find_in(global_options, name, short_name);
}

static const command_t *find_subcommand(const command_t *cmd, const char *name)
{
    for (const command_t *const *c = cmd->subcommands; c && *c; c++)
        if (!strcmp((*c)->name, name))
            return *c;
    return NULL;
}

/* Keeps the first error: it is the one the user should fix first. */
static void set_error(parse_result_t *pr, const char *fmt, ...)
{
    if (pr->error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pr->error, sizeof pr->error, fmt, ap);
    va_end(ap);
}

static void add_option(parse_result_t *pr, const opt_spec_t *spec, const char *value)
{
    if (pr->args.nopt >= ARGS_MAX) {
        set_error(pr, "too many options (at most %d)", ARGS_MAX);
        return;
    }
    pr->args.opt[pr->args.nopt].spec = spec;
    pr->args.opt[pr->args.nopt].value = value;
    pr->args.nopt++;
}

/* One option word at argv[*i]; may consume the next word as its value. */
static void parse_option(parse_result_t *pr, int argc, char **argv, int *i)
{
    const char *w = argv[*i];
    const command_t *cmd = pr->path[pr->depth - 1];
    char name[128];
    const char *inline_value = NULL;
    const opt_spec_t *spec;

    if (w[1] == '-') {
        const char *eq = strchr(w + 2, '=');
        size_t n = eq ? (size_t)(eq - (w + 2)) : strlen(w + 2);
        if (n >= sizeof name) {
            set_error(pr, "unknown option '%.40s...'", w);
            return;
        }
        memcpy(name, w + 2, n);
        name[n] = '\0';
        inline_value = eq ? eq + 1 : NULL;
        spec = args_find_option(cmd, name, 0);
    } else {
        spec = w[2] ? NULL : args_find_option(cmd, NULL, w[1]);
    }
    if (!spec) {
        char where[256];
        help_command_path(pr, where, sizeof where);
        set_error(pr, "unknown option '%s' for '%s'", w, where);
        return;
    }
    if (!strcmp(spec->name, "help")) {
        pr->help = 1;
        return;
    }
    if (spec->kind == OPT_FLAG) {
        if (inline_value)
            set_error(pr, "option '--%s' takes no value", spec->name);
        else
            add_option(pr, spec, NULL);
        return;
    }
    if (!inline_value) {
        if (*i + 1 >= argc) {
            set_error(pr, "option '--%s' needs a value (%s)", spec->name, spec->metavar);
            return;
        }
        inline_value = argv[++*i];
    }
    add_option(pr, spec, inline_value);
}

static void parse_word(parse_result_t *pr, const char *w)
{
    const command_t *cmd = pr->path[pr->depth - 1];
    if (cmd->subcommands && pr->args.npos == 0) {
        const command_t *sub = find_subcommand(cmd, w);
        if (sub && pr->depth < (int)(sizeof pr->path / sizeof pr->path[0])) {
            pr->path[pr->depth++] = sub;
            return;
        }
        char where[256];
        help_command_path(pr, where, sizeof where);
        set_error(pr, "unknown command '%s' for '%s'", w, where);
        return;
    }
    if (pr->args.npos >= ARGS_MAX) {
        set_error(pr, "too many arguments (at most %d)", ARGS_MAX);
        return;
    }
    pr->args.pos[pr->args.npos++] = w;
}

int args_parse(const command_t *root, int argc, char **argv, parse_result_t *pr)
{
    memset(pr, 0, sizeof *pr);
    pr->path[0] = root;
    pr->depth = 1;
    int only_positional = 0;
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        if (!only_positional && !strcmp(w, "--"))
            only_positional = 1;
        else if (!only_positional && w[0] == '-' && w[1])
            parse_option(pr, argc, argv, &i);
        else
            parse_word(pr, w);
    }
    return pr->error[0] ? -1 : 0;
}

const char *args_value(const args_t *a, const char *name)
{
    const char *v = NULL;
    for (int i = 0; i < a->nopt; i++)
        if (!strcmp(a->opt[i].spec->name, name))
            v = a->opt[i].value;
    return v;
}

int args_has(const args_t *a, const char *name)
{
    for (int i = 0; i < a->nopt; i++)
        if (!strcmp(a->opt[i].spec->name, name))
            return 1;
    return 0;
}

const char *args_nth(const args_t *a, const char *name, int n)
{
    for (int i = 0; i < a->nopt; i++)
        if (!strcmp(a->opt[i].spec->name, name) && n-- == 0)
            return a->opt[i].value;
    return NULL;
}

int args_parse_long(const char *s, long long *out)
{
    if (!s || !*s)
        return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s)
        return -1;
    *out = v;
    return 0;
}
