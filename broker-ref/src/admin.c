/* Admin connections: HTTP/1.1 (libhttp-parser) and HTTP/2 (nghttp2) on one
 * port, served on the loop that accepted them. The first bytes decide the
 * protocol: the HTTP/2 client preface means h2 (prior knowledge), anything
 * else is HTTP/1.1.
 *
 * A connection is freed only when no callback of ours is on the stack
 * (`depth`), so closing it from deep inside a parser callback or a write is
 * safe. Requests handed to the routes may be answered later (after the
 * metadata thread posts back); if the connection dies meanwhile the request
 * is detached (conn = NULL) and freed by its reply. */
#include "admin.h"

#include <errno.h>
#include <http_parser.h>
#include <inttypes.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "admin_internal.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "tls.h"

#define IDLE_TIMEOUT_MS 60000
/* The admin port serves operators and scrapers, not traffic: past this many
 * connections new ones are refused, which bounds what a flood can hold. */
#define MAX_ADMIN_CONNS 256
/* HTTP/2 streams in flight per connection (each may buffer a full body). */
#define MAX_H2_STREAMS 32
#define READ_CHUNK 16384
/* HTTP/1.1: stop reading while this much input waits behind a request. */
#define MAX_PENDING_INPUT (ADMIN_MAX_BODY + 65536)

static const char H2_PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN 24

enum { PROTO_SNIFF, PROTO_H1, PROTO_H2 };

typedef struct buf {
    char *data;
    size_t len, cap;
} buf_t;

struct admin_conn {
    loop_t *loop;
    loop_io_t io;
    loop_timer_t idle;
    int fd;
    int proto;
    int closed;
    int depth;      /* our callbacks on the stack; free only at 0 */
    int want_close; /* close once the output is written */
    int writing;    /* EPOLLOUT registered */
    int reading;    /* EPOLLIN registered */
    int64_t last_active_ms;
    SSL *ssl;        /* TLS admin port: the session; NULL on plaintext */
    int handshaking; /* TLS handshake not finished */
    char principal[256];
    buf_t in;
    buf_t out;
    size_t out_off;
    admin_req_t *reqs; /* every request of this connection */
    /* HTTP/1.1 */
    http_parser hp;
    admin_req_t *h1_req;  /* being parsed */
    admin_req_t *h1_done; /* parsed, to be routed */
    int h1_busy;          /* routed, not yet answered */
    int h1_keep_alive;
    int h1_error;      /* status to answer a broken request with */
    int h1_header;     /* which header the current value belongs to */
    int h1_expect_100; /* Expect: 100-continue seen */
    int h1_feeding;
    /* HTTP/2 */
    nghttp2_session *h2;
    admin_req_t *h2_ready; /* complete streams to route, in order */
    admin_conn_t *prev, *next;
};

/* Every connection, for admin_close_all. Admin traffic is light: a mutex. */
static pthread_mutex_t g_conns_mu = PTHREAD_MUTEX_INITIALIZER;
static admin_conn_t *g_conns;
static int g_nconns;

static pthread_mutex_t g_addr_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_client_addr[256];
static char g_admin_addr[256];

static void conn_flush(admin_conn_t *c);
static void conn_close(admin_conn_t *c);
static void h1_feed(admin_conn_t *c);
static void h2_flush(admin_conn_t *c);

/* ---- buffers ---- */

static int buf_append(buf_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *g = realloc(b->data, cap);
        if (!g)
            return -1;
        b->data = g;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static void buf_consume(buf_t *b, size_t n)
{
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

static void buf_free(buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- listeners ---- */

void admin_set_listeners(const char *client, const char *admin)
{
    pthread_mutex_lock(&g_addr_mu);
    if (client)
        snprintf(g_client_addr, sizeof(g_client_addr), "%s", client);
    if (admin)
        snprintf(g_admin_addr, sizeof(g_admin_addr), "%s", admin);
    pthread_mutex_unlock(&g_addr_mu);
}

void admin_get_listeners(char *client, size_t clen, char *admin, size_t alen)
{
    pthread_mutex_lock(&g_addr_mu);
    snprintf(client, clen, "%s", g_client_addr[0] ? g_client_addr : g_config.listen);
    snprintf(admin, alen, "%s", g_admin_addr[0] ? g_admin_addr : g_config.admin_listen);
    pthread_mutex_unlock(&g_addr_mu);
}

/* ---- requests ---- */

static admin_req_t *req_new(admin_conn_t *c, int32_t stream_id)
{
    admin_req_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->conn = c;
    r->loop = c->loop;
    r->stream_id = stream_id;
    r->start_ms = loop_now_ms();
    snprintf(r->principal, sizeof(r->principal), "%s", c->principal);
    r->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = r;
    c->reqs = r;
    return r;
}

static void req_unlink(admin_req_t *r)
{
    admin_conn_t *c = r->conn;
    if (!c)
        return;
    if (r->prev)
        r->prev->next = r->next;
    else
        c->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    r->conn = NULL;
}

static void req_free(admin_req_t *r)
{
    req_unlink(r);
    free(r->path);
    free(r->body);
    free(r->resp);
    free(r);
}

static int req_append(char **dst, size_t *len, const char *p, size_t n, size_t max)
{
    if (*len + n > max)
        return -1;
    char *g = realloc(*dst, *len + n + 1);
    if (!g)
        return -1;
    memcpy(g + *len, p, n);
    *len += n;
    g[*len] = 0;
    *dst = g;
    return 0;
}

static const char *status_text(int status)
{
    static const struct {
        int code;
        const char *text;
    } T[] = {
        {100, "Continue"},
        {200, "OK"},
        {201, "Created"},
        {204, "No Content"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {413, "Payload Too Large"},
        {414, "URI Too Long"},
        {416, "Range Not Satisfiable"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };
    for (size_t i = 0; i < sizeof(T) / sizeof(T[0]); i++)
        if (T[i].code == status)
            return T[i].text;
    return "Unknown";
}

/* ---- HTTP/1.1 ---- */

static void h1_write_response(admin_conn_t *c, int status, const char *ctype, const char *body,
                              size_t len, const char *allow, int close_after, int head_only)
{
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s%s%s\r\n",
                     status, status_text(status), ctype, len, allow ? "Allow: " : "",
                     allow ? allow : "", allow ? "\r\n" : "",
                     close_after ? "Connection: close\r\n" : "");
    if (buf_append(&c->out, head, (size_t)n) != 0 ||
        (!head_only && buf_append(&c->out, body, len) != 0)) {
        conn_close(c);
        return;
    }
    if (close_after)
        c->want_close = 1;
}

/* A request we cannot parse: answer and close. */
static void h1_fail(admin_conn_t *c, int status, const char *msg)
{
    char body[400];
    int n = snprintf(body, sizeof(body), "{\"success\":false,\"data\":null,\"error\":\"%s\"}", msg);
    metrics_admin_request(status, 0);
    log_debug("\"admin request rejected\" status=%d error=\"%s\"", status, msg);
    h1_write_response(c, status, "application/json", body, (size_t)n, NULL, 1, 0);
}

enum { HDR_OTHER, HDR_EXPECT };

static admin_conn_t *hp_conn(http_parser *p)
{
    return p->data;
}

static int on_message_begin(http_parser *p)
{
    admin_conn_t *c = hp_conn(p);
    c->h1_req = req_new(c, 0);
    c->h1_expect_100 = 0;
    if (!c->h1_req) {
        c->h1_error = 500;
        return -1;
    }
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    admin_conn_t *c = hp_conn(p);
    admin_req_t *r = c->h1_req;
    if (req_append(&r->path, &r->path_len, at, n, ADMIN_MAX_URL) != 0) {
        c->h1_error = 414;
        return -1;
    }
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    admin_conn_t *c = hp_conn(p);
    /* Only Expect matters; a field split across reads is rare enough that
     * matching each piece is fine (a false negative costs curl one second). */
    c->h1_header = (n == 6 && !strncasecmp(at, "expect", 6)) ? HDR_EXPECT : HDR_OTHER;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    admin_conn_t *c = hp_conn(p);
    if (c->h1_header == HDR_EXPECT && n == 12 && !strncasecmp(at, "100-continue", 12))
        c->h1_expect_100 = 1;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    admin_conn_t *c = hp_conn(p);
    admin_req_t *r = c->h1_req;
    snprintf(r->method, sizeof(r->method), "%s", http_method_str((enum http_method)p->method));
    if (!r->path) {
        c->h1_error = 400;
        return -1;
    }
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > ADMIN_MAX_BODY) {
        c->h1_error = 413;
        return -1;
    }
    if (c->h1_expect_100) {
        /* Sent when h1_feed flushes, right after the parser returns: never
         * from inside it, where a failed send would close the connection
         * under the parser's feet. */
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (buf_append(&c->out, cont, sizeof(cont) - 1) != 0) {
            c->h1_error = 500;
            return -1;
        }
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    admin_conn_t *c = hp_conn(p);
    admin_req_t *r = c->h1_req;
    if (req_append(&r->body, &r->body_len, at, n, ADMIN_MAX_BODY) != 0) {
        c->h1_error = 413;
        return -1;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    admin_conn_t *c = hp_conn(p);
    c->h1_keep_alive = http_should_keep_alive(p);
    c->h1_done = c->h1_req;
    c->h1_req = NULL;
    /* One request at a time: stop here until it is answered. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings H1_SETTINGS = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void h1_error_reply(admin_conn_t *c, enum http_errno e)
{
    int status = c->h1_error ? c->h1_error : 400;
    char msg[200];
    if (status == 413)
        snprintf(msg, sizeof(msg), "request body is larger than %d bytes", ADMIN_MAX_BODY);
    else if (status == 414)
        snprintf(msg, sizeof(msg), "request target is longer than %d bytes", ADMIN_MAX_URL);
    else if (status == 500)
        snprintf(msg, sizeof(msg), "out of memory");
    else
        snprintf(msg, sizeof(msg), "malformed HTTP request: %s", http_errno_description(e));
    h1_fail(c, status, msg);
}

/* Parses buffered input until a request is waiting for its answer. */
static void h1_feed(admin_conn_t *c)
{
    if (c->h1_feeding)
        return; /* a synchronous reply from inside the loop below */
    c->h1_feeding = 1;
    while (!c->closed && !c->want_close && !c->h1_busy) {
        if (c->h1_done) {
            admin_req_t *r = c->h1_done;
            c->h1_done = NULL;
            c->h1_busy = 1;
            r->state = REQ_DISPATCHED;
            admin_route(r);
            continue;
        }
        if (c->in.len == 0)
            break;
        if (HTTP_PARSER_ERRNO(&c->hp) == HPE_PAUSED)
            http_parser_pause(&c->hp, 0);
        if (c->hp.upgrade) /* we never upgrade: the next bytes are HTTP/1.1 again */
            http_parser_init(&c->hp, HTTP_REQUEST);
        c->hp.data = c;
        size_t used = http_parser_execute(&c->hp, &H1_SETTINGS, c->in.data, c->in.len);
        enum http_errno e = HTTP_PARSER_ERRNO(&c->hp);
        if (e != HPE_OK && e != HPE_PAUSED) {
            h1_error_reply(c, e);
            break;
        }
        buf_consume(&c->in, used);
        if (!c->h1_done && used == 0)
            break;
    }
    c->h1_feeding = 0;
    conn_flush(c);
}

/* ---- HTTP/2 ---- */

static ssize_t h2_read_body(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t length,
                            uint32_t *flags, nghttp2_data_source *src, void *user)
{
    (void)s;
    (void)stream_id;
    (void)user;
    admin_req_t *r = src->ptr;
    size_t n = r->resp_len - r->resp_off;
    if (n > length)
        n = length;
    if (n)
        memcpy(buf, r->resp + r->resp_off, n);
    r->resp_off += n;
    if (r->resp_off == r->resp_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static void h2_queue_ready(admin_conn_t *c, admin_req_t *r)
{
    /* Routed in arrival order after nghttp2_session_mem_recv returns, so no
     * reply is submitted from inside nghttp2's callbacks. */
    r->state = REQ_DISPATCHED;
    admin_req_t **tail = &c->h2_ready;
    while (*tail)
        tail = &(*tail)->ready_next;
    r->ready_next = NULL;
    *tail = r;
}

static int h2_on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
    admin_conn_t *c = user;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    admin_req_t *r = req_new(c, f->hd.stream_id);
    if (!r)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    nghttp2_session_set_stream_user_data(s, f->hd.stream_id, r);
    return 0;
}

static int h2_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                        size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *user)
{
    (void)flags;
    (void)user;
    admin_req_t *r = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!r || r->state != REQ_RECEIVING)
        return 0;
    if (namelen == 7 && !memcmp(name, ":method", 7)) {
        size_t n = valuelen < sizeof(r->method) - 1 ? valuelen : sizeof(r->method) - 1;
        memcpy(r->method, value, n);
        r->method[n] = 0;
    } else if (namelen == 5 && !memcmp(name, ":path", 5)) {
        if (req_append(&r->path, &r->path_len, (const char *)value, valuelen, ADMIN_MAX_URL))
            r->too_large = 2; /* target too long */
    }
    return 0;
}

static int h2_on_data(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data,
                      size_t len, void *user)
{
    (void)flags;
    (void)user;
    admin_req_t *r = nghttp2_session_get_stream_user_data(s, stream_id);
    if (!r || r->state != REQ_RECEIVING || r->too_large)
        return 0;
    if (req_append(&r->body, &r->body_len, (const char *)data, len, ADMIN_MAX_BODY) != 0) {
        r->too_large = 1;
        free(r->body);
        r->body = NULL;
        r->body_len = 0;
    }
    return 0;
}

static int h2_on_frame(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
    admin_conn_t *c = user;
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    admin_req_t *r = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (r && r->state == REQ_RECEIVING)
        h2_queue_ready(c, r);
    return 0;
}

static int h2_on_close(nghttp2_session *s, int32_t stream_id, uint32_t code, void *user)
{
    (void)code;
    (void)user;
    admin_req_t *r = nghttp2_session_get_stream_user_data(s, stream_id);
    if (!r)
        return 0;
    nghttp2_session_set_stream_user_data(s, stream_id, NULL);
    r->stream_closed = 1;
    /* Queued or routed requests are freed by the ready loop or their reply. */
    if (r->state == REQ_RECEIVING || r->state == REQ_REPLIED)
        req_free(r);
    return 0;
}

static int h2_start(admin_conn_t *c)
{
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -1;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, h2_on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, h2_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2_on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_on_close);
    int rv = nghttp2_session_server_new(&c->h2, cb, c);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0)
        return -1;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_H2_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
    };
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2) != 0)
        return -1;
    return 0;
}

static void h2_route_ready(admin_conn_t *c)
{
    while (c->h2_ready && !c->closed) {
        admin_req_t *r = c->h2_ready;
        c->h2_ready = r->ready_next;
        if (r->stream_closed) {
            req_free(r);
            continue;
        }
        if (r->too_large == 1) {
            char msg[100];
            snprintf(msg, sizeof(msg), "request body is larger than %d bytes", ADMIN_MAX_BODY);
            admin_reply_error(r, 413, msg);
        } else if (r->too_large == 2) {
            admin_reply_error(r, 414, "request target is too long");
        } else {
            admin_route(r);
        }
    }
}

static void h2_feed(admin_conn_t *c)
{
    ssize_t n = nghttp2_session_mem_recv(c->h2, (const uint8_t *)c->in.data, c->in.len);
    if (n < 0) {
        log_debug("\"admin h2 session error\" error=\"%s\"", nghttp2_strerror((int)n));
        /* nghttp2 queued a GOAWAY for protocol errors: send it, then close. */
        c->want_close = 1;
        c->in.len = 0;
        h2_flush(c);
        return;
    }
    c->in.len = 0;
    h2_route_ready(c);
    h2_flush(c);
}

static void h2_flush(admin_conn_t *c)
{
    if (c->closed || !c->h2)
        return;
    for (;;) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(c->h2, &data);
        if (n < 0) {
            conn_close(c);
            return;
        }
        if (n == 0)
            break;
        if (buf_append(&c->out, data, (size_t)n) != 0) {
            conn_close(c);
            return;
        }
    }
    if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2))
        c->want_close = 1;
    conn_flush(c);
}

/* ---- replies ---- */

void admin_reply(admin_req_t *req, int status, const char *content_type, char *body, size_t len,
                 const char *allow)
{
    admin_conn_t *c = req->conn;
    int64_t took_ms = loop_now_ms() - req->start_ms;
    metrics_admin_request(status, took_ms * 1000);
    if (g_log_level >= LOG_DEBUG) {
        /* The path is the client's: keep the log line one line. */
        char path[201];
        size_t n = 0;
        for (const char *p = req->path ? req->path : ""; *p && n < sizeof(path) - 1; p++)
            path[n++] = (*p > ' ' && *p < 127 && *p != '"') ? *p : '?';
        path[n] = 0;
        log_debug("\"admin request\" method=%s path=\"%s\" status=%d ms=%" PRId64, req->method,
                  path, status, took_ms);
    }
    if (!c || c->closed || req->stream_closed) {
        free(body);
        req_free(req);
        return;
    }
    c->depth++;
    if (c->proto == PROTO_H1) {
        int close_after = !c->h1_keep_alive || status == 413;
        h1_write_response(c, status, content_type, body ? body : "", len, allow, close_after,
                          !strcmp(req->method, "HEAD"));
        free(body);
        req_free(req);
        c->h1_busy = 0;
        h1_feed(c); /* next pipelined request, and flush */
    } else {
        char slen[32];
        snprintf(slen, sizeof(slen), "%zu", len);
        char sstatus[8];
        snprintf(sstatus, sizeof(sstatus), "%d", status);
        nghttp2_nv nv[4];
        size_t nnv = 0;
#define NV(k, v)                                                                                   \
    nv[nnv++] = (nghttp2_nv){(uint8_t *)(k), (uint8_t *)(v), sizeof(k) - 1, strlen(v),             \
                             NGHTTP2_NV_FLAG_NONE}
        NV(":status", sstatus);
        NV("content-type", content_type);
        NV("content-length", slen);
        if (allow)
            NV("allow", allow);
#undef NV
        req->resp = body;
        req->resp_len = len;
        req->resp_off = 0;
        req->state = REQ_REPLIED;
        nghttp2_data_provider prd = {.source.ptr = req, .read_callback = h2_read_body};
        /* A failed submit leaves req to be freed with its stream or connection. */
        nghttp2_submit_response(c->h2, req->stream_id, nv, nnv,
                                strcmp(req->method, "HEAD") ? &prd : NULL);
        h2_flush(c);
    }
    c->depth--;
    if (c->closed && c->depth == 0)
        conn_close(c);
}

/* ---- the connection ---- */

static void conn_update_events(admin_conn_t *c)
{
    int want_read =
        !c->want_close && !(c->proto == PROTO_H1 && c->h1_busy && c->in.len >= MAX_PENDING_INPUT);
    int want_write = c->out.len > c->out_off;
    if (want_read == c->reading && want_write == c->writing)
        return;
    c->reading = want_read;
    c->writing = want_write;
    uint32_t ev = (want_read ? EPOLLIN : 0) | (want_write ? EPOLLOUT : 0);
    loop_io_mod(c->loop, &c->io, ev);
}

static void conn_flush(admin_conn_t *c)
{
    if (c->closed)
        return;
    if (c->handshaking)
        return;
    while (c->out_off < c->out.len) {
        ssize_t n =
            c->ssl ? tls_write(c->ssl, c->out.data + c->out_off, c->out.len - c->out_off)
                   : send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            conn_close(c);
            return;
        }
        c->out_off += (size_t)n;
    }
    if (c->out_off == c->out.len) {
        c->out.len = c->out_off = 0;
        if (c->want_close) {
            conn_close(c);
            return;
        }
    }
    conn_update_events(c);
}

static void conn_free(admin_conn_t *c)
{
    buf_free(&c->in);
    buf_free(&c->out);
    free(c);
}

static void conn_close(admin_conn_t *c)
{
    if (!c->closed) {
        c->closed = 1;
        loop_timer_stop(c->loop, &c->idle);
        loop_io_del(c->loop, &c->io);
        tls_free(c->ssl);
        c->ssl = NULL;
        close(c->fd);
        c->fd = -1;
        pthread_mutex_lock(&g_conns_mu);
        if (c->prev)
            c->prev->next = c->next;
        else
            g_conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        g_nconns--;
        pthread_mutex_unlock(&g_conns_mu);
        if (c->h2) {
            nghttp2_session_del(c->h2); /* no stream-close callbacks from here */
            c->h2 = NULL;
        }
        /* Routed requests wait for their reply, detached; the rest go now. */
        while (c->h2_ready) {
            admin_req_t *r = c->h2_ready;
            c->h2_ready = r->ready_next;
            req_free(r);
        }
        admin_req_t *r = c->reqs;
        while (r) {
            admin_req_t *next = r->next;
            if (r->state == REQ_DISPATCHED)
                req_unlink(r);
            else
                req_free(r);
            r = next;
        }
    }
    if (c->depth == 0)
        conn_free(c);
}

static void conn_on_input(admin_conn_t *c)
{
    if (c->proto == PROTO_SNIFF) {
        size_t n = c->in.len < H2_PREFACE_LEN ? c->in.len : H2_PREFACE_LEN;
        if (memcmp(c->in.data, H2_PREFACE, n) != 0) {
            c->proto = PROTO_H1;
            http_parser_init(&c->hp, HTTP_REQUEST);
            c->hp.data = c;
        } else if (n < H2_PREFACE_LEN) {
            return; /* could still be the preface */
        } else {
            c->proto = PROTO_H2;
            if (h2_start(c) != 0) {
                conn_close(c);
                return;
            }
        }
    }
    if (c->proto == PROTO_H1)
        h1_feed(c);
    else
        h2_feed(c);
}

/* Drives the TLS handshake: 1 done, 0 in progress, -1 failed (closed). */
static int conn_handshake(admin_conn_t *c)
{
    uint32_t want = 0;
    char reason[400];
    int rv = tls_handshake(c->ssl, &want, reason, sizeof(reason));
    if (rv == 0) {
        c->reading = (want & EPOLLIN) != 0;
        c->writing = (want & EPOLLOUT) != 0;
        loop_io_mod(c->loop, &c->io, want);
        return 0;
    }
    if (rv < 0) {
        log_info("\"admin tls handshake failed\" reason=\"%s\"", reason);
        metrics_tls_failure(TLS_PORT_ADMIN, 0);
        tls_drain_fd(c->fd);
        conn_close(c);
        return -1;
    }
    c->handshaking = 0;
    if (tls_principal(c->ssl, c->principal, sizeof(c->principal)) != 0) {
        log_warn("\"admin connection refused: no principal\" reason=\"%s\"", c->principal);
        metrics_tls_failure(TLS_PORT_ADMIN, 0);
        conn_close(c);
        return -1;
    }
    c->reading = 1;
    c->writing = 0;
    loop_io_mod(c->loop, &c->io, EPOLLIN);
    return 1;
}

static void conn_on_io(loop_t *loop, loop_io_t *io, uint32_t events)
{
    (void)loop;
    admin_conn_t *c = io->data;
    c->depth++;
    if (c->handshaking) {
        int hs = conn_handshake(c);
        if (hs <= 0) {
            c->depth--;
            if (c->closed && c->depth == 0)
                conn_free(c);
            return;
        }
        c->last_active_ms = loop_now_ms();
        events |= EPOLLIN;
    }
    /* TLS may hold decrypted bytes epoll cannot see: read until it is empty. */
    for (int more = (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0; more && !c->closed;) {
        char chunk[READ_CHUNK];
        ssize_t n =
            c->ssl ? tls_read(c->ssl, chunk, sizeof(chunk)) : recv(c->fd, chunk, sizeof(chunk), 0);
        more = 0;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            conn_close(c);
        } else if (n > 0) {
            c->last_active_ms = loop_now_ms();
            if (buf_append(&c->in, chunk, (size_t)n) != 0)
                conn_close(c);
            else
                conn_on_input(c);
            more = !c->closed && c->ssl && tls_pending(c->ssl) > 0;
        }
    }
    if (!c->closed && (events & EPOLLOUT))
        conn_flush(c);
    c->depth--;
    if (c->closed && c->depth == 0)
        conn_free(c);
}

static void conn_on_idle(loop_t *loop, loop_timer_t *t)
{
    admin_conn_t *c = t->data;
    int64_t now = loop_now_ms();
    int busy = c->h1_busy || c->out.len > c->out_off;
    for (admin_req_t *r = c->reqs; r && !busy; r = r->next)
        busy = r->state == REQ_DISPATCHED;
    if (!busy && now - c->last_active_ms >= IDLE_TIMEOUT_MS) {
        log_debug("\"admin connection idle, closing\" fd=%d", c->fd);
        if (c->handshaking)
            metrics_tls_failure(TLS_PORT_ADMIN, 1);
        conn_close(c);
        return;
    }
    /* loop_timer_start runs the callback at once when it cannot allocate;
     * do not recurse then (the connection just goes without an idle check). */
    static __thread int rearming;
    if (rearming)
        return;
    rearming = 1;
    loop_timer_start(loop, &c->idle, now + IDLE_TIMEOUT_MS);
    rearming = 0;
}

void admin_conn_accept(loop_t *loop, int fd, int tls)
{
    pthread_mutex_lock(&g_conns_mu);
    int full = g_nconns >= MAX_ADMIN_CONNS;
    pthread_mutex_unlock(&g_conns_mu);
    if (full) {
        log_warn("\"admin connection refused: too many connections\" max=%d", MAX_ADMIN_CONNS);
        close(fd);
        return;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    admin_conn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->loop = loop;
    c->fd = fd;
    c->reading = 1;
    snprintf(c->principal, sizeof(c->principal), "%s", TLS_ANONYMOUS);
    if (tls) {
        c->ssl = tls_accept_new(TLS_PORT_ADMIN, fd);
        c->handshaking = 1;
        if (!c->ssl) {
            close(fd);
            free(c);
            return;
        }
    }
    c->last_active_ms = loop_now_ms();
    if (loop_io_add(loop, &c->io, fd, EPOLLIN, conn_on_io, c) != 0) {
        tls_free(c->ssl);
        close(fd);
        free(c);
        return;
    }
    loop_timer_init(&c->idle, conn_on_idle, c);
    loop_timer_start(loop, &c->idle, c->last_active_ms + IDLE_TIMEOUT_MS);
    pthread_mutex_lock(&g_conns_mu);
    c->next = g_conns;
    if (g_conns)
        g_conns->prev = c;
    g_conns = c;
    g_nconns++;
    pthread_mutex_unlock(&g_conns_mu);
}

void admin_close_all(loop_t *loop)
{
    for (;;) {
        pthread_mutex_lock(&g_conns_mu);
        admin_conn_t *c = g_conns;
        while (c && c->loop != loop)
            c = c->next;
        pthread_mutex_unlock(&g_conns_mu);
        if (!c)
            return;
        conn_close(c);
    }
}
