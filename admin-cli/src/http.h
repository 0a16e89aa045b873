/* The HTTP client: one libcurl handle per run, requests against the admin
 * API's base URL, and the JSON envelope {"success","data","error"}. */
#ifndef MQADMIN_HTTP_H
#define MQADMIN_HTTP_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "cli.h"

typedef struct http_response {
    long status;
    char *body; /* NUL-terminated */
    size_t len;
    cJSON *json; /* the parsed envelope; NULL for raw requests */
    cJSON *data; /* json's "data" (borrowed) */
} http_response_t;

enum { HTTP_ENVELOPE = 0, HTTP_RAW = 1 };

/* Sends METHOD cli->url + path with body (JSON) or no body. Returns CLI_OK
 * for a 2xx answer (with the envelope parsed unless HTTP_RAW). Otherwise it
 * prints what failed (the URL, the broker's error message) and returns
 * CLI_CONNECT, CLI_NOT_FOUND (404), CLI_SERVER or CLI_USAGE (bad --url). */
int http_request(cli_t *cli, const char *method, const char *path, const cJSON *body, int flags,
                 http_response_t *resp);
void http_response_free(http_response_t *resp);
/* Frees the libcurl handle, if any. */
void http_close(cli_t *cli);
/* A path segment with everything but [A-Za-z0-9._~-] percent-encoded;
 * malloc'd, NULL on out of memory. */
char *http_escape(const char *s);
/* "PREFIX/NAME" + suffix with NAME percent-encoded (http_escape), e.g.
 * ("/api/v1/groups", "billing", "/offsets"); suffix may be NULL. malloc'd,
 * NULL on out of memory. */
char *http_item_path(const char *prefix, const char *name, const char *suffix);

#endif
