/* rawclient helpers for the broker's admin REST API, over libcurl. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rawclient.h"

typedef struct body_buf {
    char *data;
    size_t len;
} body_buf_t;

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *user)
{
    body_buf_t *b = user;
    size_t n = size * nmemb;
    char *nd = realloc(b->data, b->len + n + 1);
    if (!nd)
        return 0;
    memcpy(nd + b->len, ptr, n);
    b->data = nd;
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

long rc_admin_request(const char *admin_addr, const char *method, const char *path,
                      const char *body, char **resp)
{
    static int inited;
    if (!inited) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        inited = 1;
    }
    if (resp)
        *resp = NULL;
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    char url[1024];
    snprintf(url, sizeof url, "http://%s%s", admin_addr, path);
    body_buf_t b = {0};
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    long status = -1;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (resp)
        *resp = b.data;
    else
        free(b.data);
    return status;
}

long rc_admin_create_topic_ex(const char *admin_addr, const char *name, int partitions,
                              const char *extra_json, char *err, size_t errlen)
{
    char body[2048];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"partitions\":%d%s%s}", name, partitions,
             extra_json ? "," : "", extra_json ? extra_json : "");
    char *resp = NULL;
    long status = rc_admin_request(admin_addr, "POST", "/api/v1/topics", body, &resp);
    if (err && errlen) {
        if (status == 200 || status == 201)
            err[0] = '\0';
        else
            snprintf(err, errlen, "POST /api/v1/topics %s -> HTTP %ld: %s", body, status,
                     resp ? resp : "(no response)");
    }
    free(resp);
    return status;
}

long rc_admin_create_topic(const char *admin_addr, const char *name, int partitions, char *err,
                           size_t errlen)
{
    return rc_admin_create_topic_ex(admin_addr, name, partitions, NULL, err, errlen);
}
