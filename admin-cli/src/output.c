/* Tables, CSV and JSON on stdout. */
#include "output.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct cell {
    char *human; /* table text */
    char *exact; /* CSV text */
} cell_t;

struct table {
    const column_t *cols;
    int ncols;
    cell_t *cells;              /* rows * ncols */
    int rows, cap_rows, filled; /* filled: cells set in the last row */
};

static void out_of_memory(void)
{
    fputs("mqadmin: out of memory\n", stderr);
    exit(CLI_SERVER);
}

static char *dup_str(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        out_of_memory();
    return d;
}

table_t *table_new(const column_t *cols, int ncols)
{
    table_t *t = calloc(1, sizeof *t);
    if (!t)
        out_of_memory();
    t->cols = cols;
    t->ncols = ncols;
    return t;
}

void table_free(table_t *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->rows * t->ncols; i++) {
        free(t->cells[i].human);
        free(t->cells[i].exact);
    }
    free(t->cells);
    free(t);
}

int table_rows(const table_t *t)
{
    return t->rows;
}

void table_row(table_t *t)
{
    if (t->rows == t->cap_rows) {
        int cap = t->cap_rows ? t->cap_rows * 2 : 16;
        cell_t *c = realloc(t->cells, (size_t)cap * (size_t)t->ncols * sizeof *c);
        if (!c)
            out_of_memory();
        t->cells = c;
        t->cap_rows = cap;
    }
    memset(&t->cells[t->rows * t->ncols], 0, (size_t)t->ncols * sizeof(cell_t));
    t->rows++;
    t->filled = 0;
}

void table_cell2(table_t *t, const char *human, const char *exact)
{
    if (t->rows == 0 || t->filled >= t->ncols)
        return; /* a bug in a command; never write past the row */
    cell_t *c = &t->cells[(t->rows - 1) * t->ncols + t->filled++];
    c->human = dup_str(human);
    c->exact = dup_str(exact);
}

void table_cell(table_t *t, const char *text)
{
    table_cell2(t, text, text);
}

void table_cell_int(table_t *t, long long v)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", v);
    table_cell(t, b);
}

void out_size(long long bytes, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    int u = 0;
    while (fabs(v) >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%lld B", bytes);
    else
        snprintf(buf, len, "%.1f %s", v, units[u]);
}

void table_cell_size(table_t *t, long long bytes)
{
    char human[32], exact[32];
    out_size(bytes, human, sizeof human);
    snprintf(exact, sizeof exact, "%lld", bytes);
    table_cell2(t, human, exact);
}

void table_cell_time_ms(table_t *t, long long ms)
{
    char human[64], exact[32];
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !gmtime_r(&s, &tm) || !strftime(human, sizeof human, "%Y-%m-%d %H:%M:%SZ", &tm))
        snprintf(human, sizeof human, "-");
    snprintf(exact, sizeof exact, "%lld", ms);
    table_cell2(t, human, exact);
}

void table_cell_duration(table_t *t, long long s)
{
    char human[64], exact[32];
    long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
    if (d)
        snprintf(human, sizeof human, "%lldd %lldh %lldm %llds", d, h, m, sec);
    else if (h)
        snprintf(human, sizeof human, "%lldh %lldm %llds", h, m, sec);
    else if (m)
        snprintf(human, sizeof human, "%lldm %llds", m, sec);
    else
        snprintf(human, sizeof human, "%llds", sec);
    snprintf(exact, sizeof exact, "%lld", s);
    table_cell2(t, human, exact);
}

void table_cell_json(table_t *t, const cJSON *v)
{
    if (cJSON_IsString(v)) {
        table_cell(t, v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        char b[64];
        if (v->valuedouble == (double)(long long)v->valuedouble)
            snprintf(b, sizeof b, "%lld", (long long)v->valuedouble);
        else
            snprintf(b, sizeof b, "%.15g", v->valuedouble);
        table_cell(t, b);
    } else if (!v || cJSON_IsNull(v)) {
        table_cell(t, "");
    } else {
        char *s = cJSON_PrintUnformatted(v);
        if (!s)
            out_of_memory();
        table_cell(t, s);
        cJSON_free(s);
    }
}

/* Display width: UTF-8 continuation bytes take no column. */
static int width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

static void pad(int n)
{
    for (; n > 0; n--)
        putchar(' ');
}

static void print_cell(const char *text, int w, int right, int last)
{
    int fill = w - width(text);
    if (right)
        pad(fill);
    fputs(text, stdout);
    if (!right && !last)
        pad(fill);
}

static void print_rows(cli_t *cli, const table_t *t)
{
    int w[64] = {0};
    int n = t->ncols < 64 ? t->ncols : 64;
    for (int c = 0; c < n; c++) {
        w[c] = width(t->cols[c].title);
        for (int r = 0; r < t->rows; r++) {
            const char *h = t->cells[r * t->ncols + c].human;
            if (h && width(h) > w[c])
                w[c] = width(h);
        }
    }
    fputs(out_color(cli, ANSI_BOLD), stdout);
    for (int c = 0; c < n; c++) {
        print_cell(t->cols[c].title, w[c], t->cols[c].right, c == n - 1);
        if (c < n - 1)
            fputs("  ", stdout);
    }
    fputs(out_color(cli, ANSI_RESET), stdout);
    putchar('\n');
    for (int r = 0; r < t->rows; r++) {
        for (int c = 0; c < n; c++) {
            const char *h = t->cells[r * t->ncols + c].human;
            print_cell(h ? h : "", w[c], t->cols[c].right, c == n - 1);
            if (c < n - 1)
                fputs("  ", stdout);
        }
        putchar('\n');
    }
}

static void print_vertical(cli_t *cli, const table_t *t)
{
    int w = 0;
    for (int c = 0; c < t->ncols; c++)
        if (width(t->cols[c].title) > w)
            w = width(t->cols[c].title);
    for (int r = 0; r < t->rows; r++) {
        if (r)
            putchar('\n');
        for (int c = 0; c < t->ncols; c++) {
            const char *h = t->cells[r * t->ncols + c].human;
            printf("%s%s:%s", out_color(cli, ANSI_BOLD), t->cols[c].title,
                   out_color(cli, ANSI_RESET));
            pad(w - width(t->cols[c].title) + 2);
            printf("%s\n", h ? h : "");
        }
    }
}

/* RFC 4180 (with \n line ends, as Unix tools expect): quote fields holding a comma, quote, CR or LF
 * (or edge spaces); double the quotes inside. */
static void csv_field(const char *s)
{
    size_t n = strlen(s);
    int quote = strpbrk(s, ",\"\r\n") != NULL || (n && (s[0] == ' ' || s[n - 1] == ' '));
    if (!quote) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void print_csv(const table_t *t)
{
    for (int c = 0; c < t->ncols; c++) {
        if (c)
            putchar(',');
        csv_field(t->cols[c].key);
    }
    putchar('\n');
    for (int r = 0; r < t->rows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *e = t->cells[r * t->ncols + c].exact;
            if (c)
                putchar(',');
            csv_field(e ? e : "");
        }
        putchar('\n');
    }
}

void table_print(cli_t *cli, const table_t *t, int layout)
{
    if (cli->format == OUT_CSV)
        print_csv(t);
    else if (layout == TABLE_VERTICAL)
        print_vertical(cli, t);
    else
        print_rows(cli, t);
}

static void newline_indent(int depth)
{
    putchar('\n');
    for (int i = 0; i < depth; i++)
        fputs("  ", stdout);
}

/* cJSON indents with tabs and puts a tab after every colon: reindent the
 * compact text with two spaces, keeping empty {} and [] on one line. */
static void print_pretty(const char *s)
{
    int depth = 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (c == '"') { /* copy a whole string, escapes included */
            putchar(c);
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    putchar(*p++);
                putchar(*p);
            }
            if (*p)
                putchar('"');
            else
                break;
        } else if ((c == '{' && p[1] == '}') || (c == '[' && p[1] == ']')) {
            putchar(c);
            putchar(*++p);
        } else if (c == '{' || c == '[') {
            putchar(c);
            newline_indent(++depth);
        } else if (c == '}' || c == ']') {
            newline_indent(--depth);
            putchar(c);
        } else if (c == ',') {
            putchar(c);
            newline_indent(depth);
        } else if (c == ':') {
            fputs(": ", stdout);
        } else {
            putchar(c);
        }
    }
    putchar('\n');
}

void out_json(cli_t *cli, const cJSON *v)
{
    char *s = cJSON_PrintUnformatted(v);
    (void)cli;
    if (!s)
        out_of_memory();
    if (isatty(STDOUT_FILENO))
        print_pretty(s);
    else
        puts(s);
    cJSON_free(s);
}

void out_section(cli_t *cli, const char *title)
{
    if (cli->format != OUT_TABLE)
        return;
    printf("\n%s%s%s\n", out_color(cli, ANSI_BOLD), title, out_color(cli, ANSI_RESET));
}

const char *out_color(const cli_t *cli, const char *esc)
{
    return cli->color ? esc : "";
}

long long out_json_int(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

const char *out_json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}
