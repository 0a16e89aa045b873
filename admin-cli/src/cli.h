/* mqadmin: the command tree, parsed arguments and the state every command
 * shares. A command family (topic, group, cluster, metrics, acl) is one
 * file that defines one command_t; main.c lists the families. */
#ifndef MQADMIN_CLI_H
#define MQADMIN_CLI_H

#include <stdio.h>

/* Exit codes: the contract with scripts (docs/mqadmin.md). */
enum {
    CLI_OK = 0,
    CLI_USAGE = 1,     /* bad command line, or a destructive command not confirmed */
    CLI_SERVER = 2,    /* the broker answered with an error (or an unusable answer) */
    CLI_NOT_FOUND = 3, /* the broker answered 404: no such topic, group (or route) */
    CLI_CONNECT = 4,   /* the broker could not be reached (connect, TLS, timeout) */
};

typedef enum { OUT_TABLE, OUT_JSON, OUT_CSV } out_format_t;

typedef enum {
    OPT_FLAG,  /* --yes */
    OPT_VALUE, /* --partitions N (the last one given wins) */
    OPT_LIST,  /* --config K=V, may repeat */
} opt_kind_t;

/* What the completion offers for a value. */
typedef enum {
    COMPLETE_NONE,
    COMPLETE_FILE,
    COMPLETE_TOPIC, /* topic names from the broker */
    COMPLETE_GROUP, /* group ids from the broker */
    COMPLETE_WORDS,
} complete_t;

typedef struct opt_spec {
    const char *name; /* long name without "--"; NULL ends a table */
    char short_name;  /* 0 = none */
    opt_kind_t kind;
    const char *metavar; /* shown in help: "N", "KEY=VALUE" */
    const char *help;
    complete_t complete;
    const char *words; /* COMPLETE_WORDS: space-separated choices */
} opt_spec_t;

#define ARGS_MAX 128

/* The result of parsing one command line. */
typedef struct args {
    const char *pos[ARGS_MAX]; /* positional arguments after the command path */
    int npos;
    struct {
        const opt_spec_t *spec;
        const char *value; /* NULL for flags */
    } opt[ARGS_MAX];
    int nopt;
} args_t;

typedef struct cli cli_t;
typedef struct command command_t;

struct command {
    const char *name;
    const char *summary;     /* one line, shown in the parent's command list */
    const char *args_usage;  /* after the command path: "NAME --partitions N ..." */
    const char *description; /* paragraphs for --help; NULL = summary */
    const char *examples;    /* lines for --help; NULL = none */
    const opt_spec_t *options;
    int min_pos, max_pos;
    complete_t pos_complete; /* what positional arguments complete to */
    int (*run)(cli_t *cli, const args_t *a);
    const command_t *const *subcommands; /* NULL-terminated; a group has no run */
};

struct http;

/* Shared state; filled from the global options before a command runs. */
struct cli {
    char *url; /* base URL, no trailing slash */
    const char *ca, *cert, *key;
    out_format_t format;
    int color;                     /* ANSI colors on stdout */
    int err_color;                 /* ANSI colors on stderr */
    long timeout_ms;               /* whole request */
    const struct parse_result *pr; /* the command line, for usage messages */
    struct http *http;             /* created on first request */
    int quiet;                     /* no messages (shell completion) */
};

/* The command families (one file each; listed in main.c). */
extern const command_t topic_command;
extern const command_t group_command;
extern const command_t cluster_command;
extern const command_t metrics_command;
extern const command_t acl_command;

/* The root of the tree (main.c). */
extern const command_t root_command;
/* Options every command accepts (main.c). */
extern const opt_spec_t global_options[];

/* args.c: parsing the command line against the tree. */
typedef struct parse_result {
    const command_t *path[8]; /* root .. the command reached */
    int depth;
    args_t args;
    int help;        /* -h/--help was given */
    char error[512]; /* why parsing failed; "" = it did not */
} parse_result_t;

/* Parses argv (without argv[0]) against the tree from root. Returns 0, or -1
 * with pr->error set; pr->path is as deep as parsing got either way. */
int args_parse(const command_t *root, int argc, char **argv, parse_result_t *pr);
/* Finds an option by long name ("--x" without dashes) or short name in a
 * command's options, then in the global options. */
const opt_spec_t *args_find_option(const command_t *cmd, const char *name, char short_name);
/* The last value given for an option, or NULL. */
const char *args_value(const args_t *a, const char *name);
/* 1 if the flag or option was given at all. */
int args_has(const args_t *a, const char *name);
/* The i-th value of a repeatable option, or NULL past the end. */
const char *args_nth(const args_t *a, const char *name, int i);
/* Parses a whole decimal integer; 0 or -1. */
int args_parse_long(const char *s, long long *out);

/* help.c */
/* "mqadmin topic create" for a parse path. */
void help_command_path(const parse_result_t *pr, char *buf, size_t len);
void help_print(FILE *out, const parse_result_t *pr);
/* Usage line and the hint to run --help, for usage errors. */
void help_print_usage_hint(FILE *out, const parse_result_t *pr);

/* main.c: messages. All errors go to stderr prefixed "mqadmin: ". Returns code. */
int cli_fail(cli_t *cli, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A usage error inside a command: message, usage line, exit 1. */
int cli_usage(cli_t *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* complete.c: `mqadmin __complete WORD... CURRENT` prints the candidates for
 * CURRENT, one a line (":files" = let the shell complete a file name). */
int complete_main(int argc, char **argv);
/* main.c: fills cli from the global options (URL, TLS files, format, colors,
 * timeout). Returns CLI_OK or CLI_USAGE after saying what is wrong. */
int cli_apply_globals(cli_t *cli, const args_t *a);

/* confirm.c: asks "question [y/N]" on the terminal. Returns CLI_OK if the
 * user agreed, else CLI_USAGE after saying why (stdin not a terminal and no
 * --yes, declined, end of input). `what` names the change for messages. */
int confirm_destructive(cli_t *cli, const args_t *a, const char *question, const char *what);

#endif
