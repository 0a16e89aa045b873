/* Confirmation for destructive commands: asked only on a terminal, skipped
 * by --yes, and never assumed when there is no one to ask. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"

int confirm_destructive(cli_t *cli, const args_t *a, const char *question, const char *what)
{
    if (args_has(a, "yes"))
        return CLI_OK;
    if (!isatty(STDIN_FILENO))
        return cli_fail(cli, CLI_USAGE,
                        "not %s: stdin is not a terminal, so there is no one to confirm; pass "
                        "--yes to go ahead without asking",
                        what);
    fprintf(stderr, "%s [y/N] ", question);
    fflush(stderr);
    char line[64];
    if (!fgets(line, sizeof line, stdin)) {
        fputc('\n', stderr);
        return cli_fail(cli, CLI_USAGE, "not %s: no answer", what);
    }
    line[strcspn(line, "\r\n")] = '\0';
    if (!strcasecmp(line, "y") || !strcasecmp(line, "yes"))
        return CLI_OK;
    return cli_fail(cli, CLI_USAGE, "not %s: not confirmed", what);
}
