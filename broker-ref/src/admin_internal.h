/* Private to the admin port: one request in flight and its reply path.
 *
 * admin.c owns connections (HTTP/1.1 via http_parser, HTTP/2 via nghttp2)
 * and turns each complete request into an admin_req_t; admin_routes.c
 * answers it, now or later (after the metadata thread posts back), with
 * admin_reply(). */
#ifndef BROKER_ADMIN_INTERNAL_H
#define BROKER_ADMIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "loop.h"

/* Largest request body accepted (413 above). */
#define ADMIN_MAX_BODY (1024 * 1024)
/* Longest request target accepted (414 above). */
#define ADMIN_MAX_URL 8192

typedef struct admin_conn admin_conn_t;

typedef enum { REQ_RECEIVING, REQ_DISPATCHED, REQ_REPLIED } req_state_t;

typedef struct admin_req {
    admin_conn_t *conn; /* NULL once the connection is gone */
    loop_t *loop;
    int32_t stream_id; /* HTTP/2 stream; 0 on HTTP/1.1 */
    req_state_t state;
    int stream_closed; /* HTTP/2: the peer or session closed the stream */
    int too_large;     /* body went past ADMIN_MAX_BODY */
    char method[16];
    char *path; /* request target as sent, NUL-terminated */
    size_t path_len;
    char *body;
    size_t body_len;
    int64_t start_ms;
    char principal[256]; /* who sent it (ANONYMOUS without a certificate) */
    /* The response (HTTP/2 sends it from here). */
    int status;
    char *resp;
    size_t resp_len, resp_off;
    struct admin_req *prev, *next; /* the connection's requests */
    struct admin_req *ready_next;  /* HTTP/2: complete, waiting to be routed */
} admin_req_t;

/* Sends the response and releases req (or just frees it if its connection
 * or stream is gone). Takes ownership of body (malloc'd, may be NULL).
 * allow is the Allow header for a 405, else NULL. */
void admin_reply(admin_req_t *req, int status, const char *content_type, char *body, size_t len,
                 const char *allow);

/* Routes a complete request; replies now or later with admin_reply. */
void admin_route(admin_req_t *req);

/* A JSON envelope reply: {"success":false,"data":null,"error":msg}. */
void admin_reply_error(admin_req_t *req, int status, const char *msg);

/* A JSON envelope reply: {"success":true,"data":data,"error":null}; takes
 * ownership of data (NULL sends null). */
void admin_reply_data(admin_req_t *req, int status, cJSON *data);

/* 405 naming the method, the path and the allowed methods (Allow header). */
void admin_reply_not_allowed(admin_req_t *req, const char *path, const char *allow);

/* req's method is m; HEAD counts as GET. */
int admin_method_is(const admin_req_t *req, const char *m);
/* Percent-decodes src[0..n) into dst (size cap). -1 if malformed, too
 * long, or it decodes to a NUL. */
int admin_url_decode(const char *src, size_t n, char *dst, size_t cap);

/* Authorization of admin requests (admin_acls.c). admin_acl_route checks
 * what the endpoint needs (replying 403 when denied) and serves the
 * /api/v1/acls routes: 1 if it answered, 0 to route on. */
int admin_acl_route(admin_req_t *req, const char *path);
/* 1 if the request's principal may describe the topic (topic listing). */
int admin_topic_visible(const admin_req_t *req, const char *topic);

/* The /api/v1/groups routes (admin_groups.c): 1 if it answered. */
int admin_group_route(admin_req_t *req, const char *path);

/* The addresses shown by GET /api/v1/cluster. */
void admin_get_listeners(char *client, size_t clen, char *admin, size_t alen);

#endif
