/* Output formats: aligned tables (humans), CSV (spreadsheets) and JSON (the
 * API's data as is). A table holds two texts per cell: the readable one for
 * --output table (1.5 MiB, a date) and the exact one for CSV (bytes, ms). */
#ifndef MQADMIN_OUTPUT_H
#define MQADMIN_OUTPUT_H

#include <cjson/cJSON.h>

#include "cli.h"

typedef struct column {
    const char *title; /* table header: "PARTITIONS" */
    const char *key;   /* CSV header: "partition_count" */
    int right;         /* right-align (numbers) */
} column_t;

typedef struct table table_t;

/* The columns array must outlive the table. Out of memory ends the program
 * with exit code 2 (the tables are small; there is nothing to recover). */
table_t *table_new(const column_t *cols, int ncols);
void table_free(table_t *t);
/* Starts a row; the cells that follow fill it left to right. */
void table_row(table_t *t);
void table_cell(table_t *t, const char *text);
/* Different texts for the table and for CSV. */
void table_cell2(table_t *t, const char *human, const char *exact);
void table_cell_int(table_t *t, long long v);
/* "1.5 MiB" in the table, the exact byte count in CSV. */
void table_cell_size(table_t *t, long long bytes);
/* "2026-11-22 08:17:43" (UTC) in the table, the ms in CSV. */
void table_cell_time_ms(table_t *t, long long ms);
/* "1h 2m 3s" in the table, the seconds in CSV. */
void table_cell_duration(table_t *t, long long seconds);
/* A JSON value: strings as is, numbers exact, null as "", others as JSON. */
void table_cell_json(table_t *t, const cJSON *v);

enum { TABLE_ROWS = 0, TABLE_VERTICAL = 1 };
/* Prints to stdout as an aligned table (TABLE_VERTICAL: "Title: value" lines,
 * for one record) or, with --output csv, as CSV with a header row. */
void table_print(cli_t *cli, const table_t *t, int layout);
int table_rows(const table_t *t);

/* Prints JSON to stdout: indented on a terminal, one line when piped. */
void out_json(cli_t *cli, const cJSON *v);
/* A section title in table output ("Partitions"); nothing in CSV/JSON. */
void out_section(cli_t *cli, const char *title);
#define ANSI_BOLD "\033[1m"
#define ANSI_RED "\033[31m"
#define ANSI_GREEN "\033[32m"
#define ANSI_RESET "\033[0m"
/* The escape when stdout gets colors, else "". */
const char *out_color(const cli_t *cli, const char *esc);
/* "0 B", "512 B", "1.5 KiB", ... */
void out_size(long long bytes, char *buf, size_t len);
/* JSON number as an exact integer (cJSON keeps doubles; exact to 2^53). */
long long out_json_int(const cJSON *o, const char *key);
const char *out_json_str(const cJSON *o, const char *key);

#endif
