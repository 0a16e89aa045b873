/* --help text, rendered from the command tree so it cannot drift from what
 * the parser accepts. */
#include <string.h>

#include "cli.h"

void help_command_path(const parse_result_t *pr, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < pr->depth && off < len; i++) {
        int n = snprintf(buf + off, len - off, "%s%s", i ? " " : "", pr->path[i]->name);
        if (n < 0)
            return;
        off += (size_t)n;
    }
}

static const command_t *leaf(const parse_result_t *pr)
{
    return pr->path[pr->depth - 1];
}

static void print_usage_line(FILE *out, const parse_result_t *pr)
{
    char path[256];
    const command_t *c = leaf(pr);
    help_command_path(pr, path, sizeof path);
    if (c->subcommands)
        fprintf(out, "Usage: %s COMMAND [options]\n", path);
    else
        fprintf(out, "Usage: %s%s%s [options]\n", path, c->args_usage ? " " : "",
                c->args_usage ? c->args_usage : "");
}

/* Prints text from column `indent` on, wrapped at 80 columns. */
static void print_wrapped(FILE *out, const char *text, int indent)
{
    const int width = 80 - indent;
    const char *p = text;
    while (*p) {
        int n = (int)strlen(p);
        if (n > width) {
            n = width;
            while (n > 0 && p[n] != ' ')
                n--;
            if (n == 0) /* one long word: let it overflow */
                n = (int)strcspn(p, " ");
        }
        fprintf(out, "%.*s\n", n, p);
        p += n;
        while (*p == ' ')
            p++;
        if (*p)
            fprintf(out, "%*s", indent, "");
    }
}

static void print_options(FILE *out, const char *title, const opt_spec_t *t)
{
    if (!t || !t->name)
        return;
    fprintf(out, "\n%s:\n", title);
    for (; t->name; t++) {
        char left[96];
        char sh[8] = "    ";
        if (t->short_name)
            snprintf(sh, sizeof sh, "-%c, ", t->short_name);
        snprintf(left, sizeof left, "%s--%s%s%s", sh, t->name, t->metavar ? " " : "",
                 t->metavar ? t->metavar : "");
        if (strlen(left) > 24) /* too wide for the column: help on the next line */
            fprintf(out, "  %s\n%*s", left, 2 + 24 + 1, "");
        else
            fprintf(out, "  %-24s ", left);
        print_wrapped(out, t->help, 2 + 24 + 1);
    }
}

static void print_subcommands(FILE *out, const command_t *c)
{
    int w = 12;
    for (const command_t *const *s = c->subcommands; *s; s++)
        if ((int)strlen((*s)->name) > w)
            w = (int)strlen((*s)->name);
    fprintf(out, "\nCommands:\n");
    for (const command_t *const *s = c->subcommands; *s; s++)
        fprintf(out, "  %-*s %s\n", w, (*s)->name, (*s)->summary);
}

void help_print(FILE *out, const parse_result_t *pr)
{
    const command_t *c = leaf(pr);
    char path[256];
    help_command_path(pr, path, sizeof path);

    print_usage_line(out, pr);
    fprintf(out, "\n%s\n", c->description ? c->description : c->summary);
    if (c->subcommands)
        print_subcommands(out, c);
    print_options(out, "Options", c->options);
    print_options(out, "Global options", global_options);
    if (c->examples)
        fprintf(out, "\nExamples:\n%s", c->examples);
    if (c->subcommands)
        fprintf(out, "\nRun '%s COMMAND --help' for more about a command.\n", path);
}

void help_print_usage_hint(FILE *out, const parse_result_t *pr)
{
    char path[256];
    help_command_path(pr, path, sizeof path);
    print_usage_line(out, pr);
    fprintf(out, "Run '%s --help' for more.\n", path);
}
