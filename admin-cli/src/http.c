/* Requests to the admin API over libcurl, and the mapping of every failure
 * to an exit code and a message naming what failed. */
#include "http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MQADMIN_VERSION
#define MQADMIN_VERSION "0"
#endif

/* A body larger than this is not an admin API answer. */
#define HTTP_MAX_BODY (256u << 20)

struct http {
    CURL *curl;
    char errbuf[CURL_ERROR_SIZE];
};

typedef struct buffer {
    char *p;
    size_t len, cap;
    int too_big;
} buffer_t;

static size_t on_data(char *p, size_t size, size_t n, void *user)
{
    buffer_t *b = user;
    size_t add = size * n;
    if (b->len + add + 1 > HTTP_MAX_BODY) {
        b->too_big = 1;
        return 0;
    }
    if (b->len + add + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + add + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np)
            return 0;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, add);
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

static struct http *get_handle(cli_t *cli)
{
    if (cli->http)
        return cli->http;
    struct http *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        return NULL;
    }
    cli->http = h;
    return h;
}

void http_close(cli_t *cli)
{
    if (!cli->http)
        return;
    curl_easy_cleanup(cli->http->curl);
    free(cli->http);
    cli->http = NULL;
    curl_global_cleanup();
}

char *http_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(strlen(s) * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("._~-", *p)) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

char *http_item_path(const char *prefix, const char *name, const char *suffix)
{
    char *esc = http_escape(name);
    if (!esc)
        return NULL;
    if (!suffix)
        suffix = "";
    size_t n = strlen(prefix) + 1 + strlen(esc) + strlen(suffix) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s%s", prefix, esc, suffix);
    free(esc);
    return p;
}

static void setup(cli_t *cli, struct http *h, const char *method, const char *url,
                  struct curl_slist *headers, const char *body, buffer_t *buf)
{
    CURL *c = h->curl;
    curl_easy_reset(c);
    h->errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mqadmin/" MQADMIN_VERSION);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, buf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    /* topic names are checked by the broker; do not let curl fold "." or
     * ".." segments into another route first */
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, cli->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     cli->timeout_ms < 10000 ? cli->timeout_ms : 10000L);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    if (cli->ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, cli->ca);
    if (cli->cert)
        curl_easy_setopt(c, CURLOPT_SSLCERT, cli->cert);
    if (cli->key)
        curl_easy_setopt(c, CURLOPT_SSLKEY, cli->key);
}

/* Transport failures: nothing usable came back from the broker. */
static int transport_error(cli_t *cli, CURLcode rc, const char *method, const char *url,
                           const char *detail, const buffer_t *buf)
{
    const char *why = detail[0] ? detail : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
        /* the scheme was checked, so this is the answer: not HTTP/1.x */
        return cli_fail(cli, CLI_CONNECT,
                        "cannot talk to the broker at %s: %s (is the URL the broker's admin port? "
                        "the client port speaks gRPC only)",
                        url, why);
    case CURLE_URL_MALFORMAT:
        return cli_fail(cli, CLI_USAGE, "invalid URL '%s': %s (check --url or MQ_ADMIN_URL)", url,
                        why);
    case CURLE_OPERATION_TIMEDOUT:
        return cli_fail(cli, CLI_CONNECT, "no answer from %s within %.3g s: %s (see --timeout)",
                        url, cli->timeout_ms / 1000.0, why);
    case CURLE_WRITE_ERROR:
        if (buf->too_big)
            return cli_fail(cli, CLI_SERVER, "the answer to %s %s is larger than %u MiB", method,
                            url, HTTP_MAX_BODY >> 20);
        return cli_fail(cli, CLI_SERVER, "out of memory reading the answer to %s %s", method, url);
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CIPHER:
        return cli_fail(cli, CLI_USAGE, "TLS setup for %s failed: %s (check --ca, --cert, --key)",
                        url, why);
    default:
        return cli_fail(cli, CLI_CONNECT,
                        "cannot reach the broker at %s: %s (is mqbroker running? check --url or "
                        "MQ_ADMIN_URL)",
                        url, why);
    }
}

/* The broker answered with an error status: say what it said. */
static int status_error(cli_t *cli, const char *method, const char *url, http_response_t *r)
{
    if (!r->json && r->body) /* raw requests (metrics) get the envelope on errors too */
        r->json = cJSON_Parse(r->body);
    cJSON *e = cJSON_GetObjectItemCaseSensitive(r->json, "error");
    const char *msg = cJSON_IsString(e) && e->valuestring[0] ? e->valuestring : NULL;
    if (msg)
        return cli_fail(cli, r->status == 404 ? CLI_NOT_FOUND : CLI_SERVER,
                        "%s (HTTP %ld from %s %s)", msg, r->status, method, url);
    /* not our envelope: another server at this URL; show its first line */
    int n = r->body ? (int)strcspn(r->body, "\r\n") : 0;
    return cli_fail(cli, CLI_SERVER,
                    "HTTP %ld from %s %s, and not from the admin API (is the URL the broker's "
                    "admin port?)%s%.*s",
                    r->status, method, url, n ? ": " : "", n > 120 ? 120 : n,
                    r->body ? r->body : "");
}

static int parse_envelope(cli_t *cli, const char *method, const char *url, http_response_t *r)
{
    r->json = r->body ? cJSON_Parse(r->body) : NULL;
    if (r->status < 200 || r->status > 299)
        return status_error(cli, method, url, r);
    cJSON *ok = cJSON_GetObjectItemCaseSensitive(r->json, "success");
    if (!cJSON_IsObject(r->json) || !cJSON_IsBool(ok) || !cJSON_HasObjectItem(r->json, "data"))
        return cli_fail(cli, CLI_SERVER,
                        "the answer to %s %s (HTTP %ld) is not the admin API's JSON envelope: is "
                        "the URL the broker's admin port?",
                        method, url, r->status);
    r->data = cJSON_GetObjectItemCaseSensitive(r->json, "data");
    return CLI_OK;
}

int http_request(cli_t *cli, const char *method, const char *path, const cJSON *body, int flags,
                 http_response_t *resp)
{
    memset(resp, 0, sizeof *resp);
    struct http *h = get_handle(cli);
    if (!h)
        return cli_fail(cli, CLI_SERVER, "cannot start libcurl (out of memory?)");

    size_t ulen = strlen(cli->url) + strlen(path) + 1;
    char *url = malloc(ulen);
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
    if (body)
        headers = curl_slist_append(headers, "Content-Type: application/json");
    if (!url || (body && !text) || !headers) {
        free(url);
        cJSON_free(text);
        curl_slist_free_all(headers);
        return cli_fail(cli, CLI_SERVER, "out of memory");
    }
    snprintf(url, ulen, "%s%s", cli->url, path);

    buffer_t buf = {0};
    setup(cli, h, method, url, headers, text, &buf);
    CURLcode rc = curl_easy_perform(h->curl);
    int ret;
    if (rc != CURLE_OK) {
        ret = transport_error(cli, rc, method, url, h->errbuf, &buf);
        free(buf.p);
    } else {
        curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
        resp->body = buf.p ? buf.p : calloc(1, 1);
        resp->len = buf.len;
        if (flags & HTTP_RAW)
            ret = resp->status >= 200 && resp->status <= 299 ? CLI_OK
                                                             : status_error(cli, method, url, resp);
        else
            ret = parse_envelope(cli, method, url, resp);
    }
    free(url);
    cJSON_free(text);
    curl_slist_free_all(headers);
    if (ret != CLI_OK)
        http_response_free(resp);
    return ret;
}

void http_response_free(http_response_t *resp)
{
    free(resp->body);
    cJSON_Delete(resp->json);
    memset(resp, 0, sizeof *resp);
}
