/* The client port: I/O threads, listeners, connections and HTTP/2.
 *
 * Each of io.threads loops registers the one client listening socket with
 * EPOLLEXCLUSIVE and accepts its own connections; loop 0 also accepts the
 * admin port and hands those sockets to admin.c. A connection reads in big
 * chunks into nghttp2_session_mem_recv and writes what
 * nghttp2_session_mem_send produces in batches, so many frames share one
 * send(). Reads and writes go through a small transport (plain TCP now; TLS
 * slots in later). gRPC rules (method, path, content-type, framing,
 * grpc-timeout) are checked here; the calls themselves are in call.c and
 * the handlers. */
#include "server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "acl.h"
#include "admin.h"
#include "error.h"
#include "group_rpc.h"
#include "log.h"
#include "metrics.h"
#include "tls.h"
#include "wire/grpc.h"

#define READ_CHUNK (256 * 1024)
#define WRITE_BATCH (256 * 1024)
#define H2_STREAM_WINDOW (16 * 1024 * 1024)
#define H2_CONN_WINDOW (64 * 1024 * 1024)
#define H2_MAX_FRAME (1024 * 1024)
#define H2_MAX_STREAMS 1024
#define MAX_LOOPS 64
#define MAX_LISTENERS 8
/* A TLS handshake not finished in this long is dropped. */
#define TLS_HANDSHAKE_TIMEOUT_MS 10000
/* Request bytes a connection may have buffered at once (at least). */
#define CONN_REQUEST_BYTES_MIN (64u * 1024 * 1024)

/* The seam for TLS: a connection reads and writes through these. */
typedef struct transport {
    ssize_t (*read)(conn_t *c, void *buf, size_t len);
    ssize_t (*write)(conn_t *c, const void *buf, size_t len);
} transport_t;

typedef struct ioloop ioloop_t;

struct conn {
    ioloop_t *il;
    loop_io_t io;
    int fd;
    const transport_t *tp;
    nghttp2_session *h2;
    call_t *calls; /* calls whose stream is open */
    int active;    /* calls not yet answered */
    uint8_t *out;  /* bytes from mem_send not yet written */
    size_t out_len, out_off, out_cap;
    loop_timer_t flush_timer;
    int in_io; /* inside on_conn_io: it flushes at the end */
    int64_t last_read_ms;
    size_t request_bytes; /* request bytes held by calls not yet answered */
    int draining;         /* GOAWAY sent for shutdown */
    SSL *ssl;             /* TLS listener: the session; NULL on plaintext */
    int handshaking;      /* TLS handshake not finished: no HTTP/2 yet */
    acl_cache_t acl;      /* principal and cached decisions (acl.h) */
    int listener;         /* index of the listener that accepted it */
    char peer[64];
    char client_id[256]; /* the client's mq-client-id header (client.id), "" if none */
    conn_t *next, *prev;
};

struct ioloop {
    int index;
    loop_t *loop;
    pthread_t thread;
    int started;
    loop_io_t listen_io[MAX_LISTENERS];
    loop_io_t admin_io;
    conn_t *conns;
    uint8_t *rbuf;
    int draining;
    loop_timer_t idle_timer;
};

static struct {
    const broker_config_t *cfg;
    int nloops;
    ioloop_t loops[MAX_LOOPS];
    int nlisten;
    int listen_fd[MAX_LISTENERS];
    int listen_tls[MAX_LISTENERS];
    char listen_addr[MAX_LISTENERS][300];
    int admin_fd;
    int admin_tls;
    char client_addr[300];
    char admin_addr[300];
    char listeners[MAX_LISTENERS * 320]; /* "plaintext://A,ssl://B" as bound */
    int conn_count;                      /* atomic, all loops */
    int call_count;                      /* atomic: calls in flight, all loops */
    int64_t last_refusal_log_ms;
    unsigned next_loop; /* atomic: round robin for new connections */
} g_srv = {.admin_fd = -1};

static const char *method_paths[METHOD_COUNT] = {
    [METHOD_METADATA] = "/mq.v1.Broker/Metadata",
    [METHOD_PRODUCE] = "/mq.v1.Broker/Produce",
    [METHOD_FETCH] = "/mq.v1.Broker/Fetch",
    [METHOD_LIST_OFFSETS] = "/mq.v1.Broker/ListOffsets",
    [METHOD_INIT_PRODUCER_ID] = "/mq.v1.Broker/InitProducerId",
    [METHOD_JOIN_GROUP] = "/mq.v1.Broker/JoinGroup",
    [METHOD_HEARTBEAT] = "/mq.v1.Broker/Heartbeat",
    [METHOD_LEAVE_GROUP] = "/mq.v1.Broker/LeaveGroup",
    [METHOD_COMMIT_OFFSETS] = "/mq.v1.Broker/CommitOffsets",
    [METHOD_FETCH_OFFSETS] = "/mq.v1.Broker/FetchOffsets",
};

/* ---- transport: plain TCP ---------------------------------------------- */

static ssize_t tcp_read(conn_t *c, void *buf, size_t len)
{
    return recv(c->fd, buf, len, 0);
}

static ssize_t tcp_write(conn_t *c, const void *buf, size_t len)
{
    return send(c->fd, buf, len, MSG_NOSIGNAL);
}

static const transport_t tcp_transport = {tcp_read, tcp_write};

/* ---- transport: TLS ----------------------------------------------------- */

static ssize_t ssl_read(conn_t *c, void *buf, size_t len)
{
    return tls_read(c->ssl, buf, len);
}

static ssize_t ssl_write(conn_t *c, const void *buf, size_t len)
{
    return tls_write(c->ssl, buf, len);
}

static const transport_t tls_transport = {ssl_read, ssl_write};

/* ---- connection I/O ----------------------------------------------------- */

static void conn_close(conn_t *c, const char *why);

/* Copies what nghttp2 wants to send into c->out (up to a batch), then writes.
 * Returns 0, or -1 if the connection should close. */
static int conn_flush(conn_t *c)
{
    if (c->handshaking)
        return 0; /* HTTP/2 starts once TLS is up */
    for (;;) {
        while (c->out_off < c->out_len) {
            ssize_t n = c->tp->write(c, c->out + c->out_off, c->out_len - c->out_off);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    loop_io_mod(c->il->loop, &c->io, EPOLLIN | EPOLLOUT);
                    return 0;
                }
                return -1;
            }
            c->out_off += (size_t)n;
        }
        c->out_off = c->out_len = 0;
        while (c->out_len < WRITE_BATCH) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(c->h2, &data);
            if (n < 0) {
                log_warn("\"http2 send failed\" peer=%s err=\"%s\"", c->peer,
                         nghttp2_strerror((int)n));
                return -1;
            }
            if (n == 0)
                break;
            if (c->out_len + (size_t)n > c->out_cap) {
                size_t cap = c->out_cap ? c->out_cap : 64 * 1024;
                while (cap < c->out_len + (size_t)n)
                    cap *= 2;
                uint8_t *p = realloc(c->out, cap);
                if (!p)
                    return -1;
                c->out = p;
                c->out_cap = cap;
            }
            memcpy(c->out + c->out_len, data, (size_t)n);
            c->out_len += (size_t)n;
        }
        if (c->out_len == 0)
            break;
    }
    loop_io_mod(c->il->loop, &c->io, EPOLLIN);
    if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2))
        return -1;
    /* Shutting down: close once every stream is done, responses held back
     * by flow control included. */
    if (c->draining && c->calls == NULL)
        return -1;
    return 0;
}

static void on_flush_timer(loop_t *loop, loop_timer_t *t)
{
    (void)loop;
    conn_t *c = t->data;
    if (conn_flush(c) != 0)
        conn_close(c, "closed");
}

/* Gets pending frames written soon: right after the read being handled, or
 * in this loop iteration's timer pass (so answers posted from other threads
 * in one iteration share a write). */
static void conn_want_write(conn_t *c)
{
    if (c->in_io || c->flush_timer.heap_index >= 0)
        return;
    loop_timer_start(c->il->loop, &c->flush_timer, 0);
}

/* Drives the TLS handshake. 1 done (HTTP/2 may start), 0 in progress, -1
 * failed (logged with OpenSSL's reason; the caller closes). */
static int conn_handshake(conn_t *c)
{
    uint32_t want = 0;
    char reason[400];
    int rv = tls_handshake(c->ssl, &want, reason, sizeof(reason));
    if (rv == 0) {
        loop_io_mod(c->il->loop, &c->io, want);
        return 0;
    }
    if (rv < 0) {
        log_info("\"tls handshake failed\" peer=%s reason=\"%s\"", c->peer, reason);
        metrics_tls_failure(TLS_PORT_CLIENT, 0);
        return -1;
    }
    c->handshaking = 0;
    char principal[256];
    if (tls_principal(c->ssl, principal, sizeof(principal)) != 0) {
        log_warn("\"connection refused: no principal\" peer=%s reason=\"%s\"", c->peer, principal);
        metrics_tls_failure(TLS_PORT_CLIENT, 0);
        return -1;
    }
    acl_cache_init(&c->acl, principal);
    char alpn[32];
    tls_alpn(c->ssl, alpn, sizeof(alpn));
    log_debug("\"tls established\" peer=%s principal=\"%s\" alpn=%s", c->peer, principal,
              alpn[0] ? alpn : "-");
    return 1;
}

/* One read into nghttp2. 1 data was read, 0 nothing to read now, -1 the
 * connection is finished (closed here). */
static int conn_read(conn_t *c)
{
    ssize_t n = c->tp->read(c, c->il->rbuf, READ_CHUNK);
    if (n == 0) {
        conn_close(c, "peer closed");
        return -1;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        conn_close(c, "read error");
        return -1;
    }
    c->last_read_ms = loop_now_ms();
    ssize_t rv = nghttp2_session_mem_recv(c->h2, c->il->rbuf, (size_t)n);
    if (rv < 0) {
        log_info("\"bad http2 input, closing\" peer=%s err=\"%s\"", c->peer,
                 nghttp2_strerror((int)rv));
        /* Tell the peer why before closing (bad preface included). */
        nghttp2_session_terminate_session(c->h2, rv == NGHTTP2_ERR_NOMEM ? NGHTTP2_INTERNAL_ERROR
                                                                         : NGHTTP2_PROTOCOL_ERROR);
        c->in_io = 0;
        conn_flush(c);
        conn_close(c, "protocol error");
        return -1;
    }
    return 1;
}

static void on_conn_io(loop_t *loop, loop_io_t *io, uint32_t events)
{
    (void)loop;
    conn_t *c = io->data;
    if (c->handshaking) {
        int hs = conn_handshake(c);
        if (hs < 0) {
            tls_drain_fd(c->fd);
            conn_close(c, "tls handshake failed");
            return;
        }
        if (hs == 0)
            return;
        loop_io_mod(c->il->loop, &c->io, EPOLLIN);
        events |= EPOLLIN; /* application data may have come with the handshake */
    }
    c->in_io = 1;
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        int rv;
        /* TLS may hold decrypted bytes that epoll cannot see: drain them. */
        do {
            rv = conn_read(c);
            if (rv < 0)
                return;
        } while (rv > 0 && c->ssl && tls_pending(c->ssl) > 0);
    }
    c->in_io = 0;
    if (conn_flush(c) != 0)
        conn_close(c, "closed");
}

/* ---- calls on a connection --------------------------------------------- */

static void conn_link_call(conn_t *c, call_t *call)
{
    call->next = c->calls;
    call->prev = NULL;
    if (c->calls)
        c->calls->prev = call;
    c->calls = call;
}

static void conn_unlink_call(conn_t *c, call_t *call)
{
    if (call->prev)
        call->prev->next = call->next;
    else if (c->calls == call)
        c->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
    call->next = call->prev = NULL;
}

void server_call_finished(call_t *call)
{
    if (call->conn) {
        call->conn->active--;
        call->conn->request_bytes -= call->bytes_in;
    }
    __atomic_sub_fetch(&g_srv.call_count, 1, __ATOMIC_ACQ_REL);
    int64_t now_us = loop_now_ms() * 1000;
    metrics_rpc(call->method >= 0 ? method_paths[call->method] : call->path, call->grpc_status,
                now_us - call->start_us, call->bytes_in, call->bytes_out);
}

/* Marks a call done without an answer and lets its handler drop state. */
static void call_cancel(call_t *call, int status)
{
    if (call->done)
        return;
    call->done = 1;
    call->grpc_status = status;
    loop_timer_stop(call->loop, &call->deadline_timer);
    server_call_finished(call);
    void (*hook)(call_t *) = call->on_cancel;
    call->on_cancel = NULL;
    if (hook)
        hook(call);
}

/* Detaches a call from its stream; drops the stream's reference. */
static void call_detach(call_t *call, int status)
{
    conn_t *c = call->conn;
    call_cancel(call, status);
    if (c)
        conn_unlink_call(c, call);
    call->conn = NULL;
    call->stream_closed = 1;
    call_unref(call);
}

static void conn_close(conn_t *c, const char *why)
{
    ioloop_t *il = c->il;
    log_debug("\"connection closed\" peer=%s client_id=\"%s\" reason=\"%s\"", c->peer, c->client_id,
              why);
    while (c->calls) {
        call_t *call = c->calls;
        if (c->h2)
            nghttp2_session_set_stream_user_data(c->h2, call->stream_id, NULL);
        call_detach(call, MQ_GRPC_CANCELLED);
    }
    loop_timer_stop(il->loop, &c->flush_timer);
    loop_io_del(il->loop, &c->io);
    nghttp2_session_del(c->h2);
    tls_free(c->ssl);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        il->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->out);
    free(c);
    __atomic_sub_fetch(&g_srv.conn_count, 1, __ATOMIC_ACQ_REL);
    metrics_connection(-1);
}

/* ---- responses ---------------------------------------------------------- */

static nghttp2_nv make_nv(const char *name, const char *value)
{
    nghttp2_nv nv = {(uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value),
                     NGHTTP2_NV_FLAG_NO_COPY_NAME};
    return nv;
}

static void submit_trailers(conn_t *c, call_t *call)
{
    char status[8];
    snprintf(status, sizeof(status), "%d", call->grpc_status);
    nghttp2_nv nva[2];
    size_t n = 0;
    nva[n++] = make_nv("grpc-status", status);
    if (call->grpc_message)
        nva[n++] = make_nv("grpc-message", call->grpc_message);
    nghttp2_submit_trailer(c->h2, call->stream_id, nva, n);
}

/* Copies the response (prefix, then slices) into nghttp2's frame buffer. */
static ssize_t read_response(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
                             size_t length, uint32_t *data_flags, nghttp2_data_source *source,
                             void *user_data)
{
    (void)session;
    (void)stream_id;
    conn_t *c = user_data;
    call_t *call = source->ptr;
    size_t n = 0;
    while (n < length && call->prefix_pos < sizeof(call->prefix))
        buf[n++] = call->prefix[call->prefix_pos++];
    while (n < length && call->slice_idx < call->nslices) {
        slice_t *s = &call->slices[call->slice_idx];
        size_t take = s->len - call->slice_pos;
        if (take > length - n)
            take = length - n;
        if (take > 0) /* an empty message may have no buffer at all */
            memcpy(buf + n, call->resp.data + s->off + call->slice_pos, take);
        n += take;
        call->slice_pos += take;
        if (call->slice_pos == s->len) {
            call->slice_idx++;
            call->slice_pos = 0;
        }
    }
    if (call->slice_idx == call->nslices) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        submit_trailers(c, call);
    }
    return (ssize_t)n;
}

void conn_submit_reply(conn_t *c, call_t *call)
{
    nghttp2_nv nva[2] = {make_nv(":status", "200"), make_nv("content-type", "application/grpc")};
    nghttp2_data_provider prd = {.source.ptr = call, .read_callback = read_response};
    int rv = nghttp2_submit_response(c->h2, call->stream_id, nva, 2, &prd);
    if (rv != 0)
        log_warn("\"submit response failed\" peer=%s err=\"%s\"", c->peer, nghttp2_strerror(rv));
    conn_want_write(c);
}

void conn_submit_error(conn_t *c, call_t *call)
{
    char status[8];
    snprintf(status, sizeof(status), "%d", call->grpc_status);
    const char *http = "200";
    if (!call->is_post)
        http = "405";
    else if (!call->content_type_ok)
        http = "415";
    nghttp2_nv nva[4];
    size_t n = 0;
    nva[n++] = make_nv(":status", http);
    nva[n++] = make_nv("content-type", "application/grpc");
    nva[n++] = make_nv("grpc-status", status);
    if (call->grpc_message)
        nva[n++] = make_nv("grpc-message", call->grpc_message);
    int rv = nghttp2_submit_response(c->h2, call->stream_id, nva, n, NULL);
    if (rv != 0)
        log_warn("\"submit response failed\" peer=%s err=\"%s\"", c->peer, nghttp2_strerror(rv));
    conn_want_write(c);
}

/* ---- deadlines -------------------------------------------------------- */

static void on_deadline(loop_t *loop, loop_timer_t *t)
{
    (void)loop;
    call_t *call = t->data;
    /* The handler drops what it parked first; then the call fails. */
    void (*hook)(call_t *) = call->on_cancel;
    call->on_cancel = NULL;
    call_ref(call);
    if (hook)
        hook(call);
    call_fail(call, MQ_GRPC_DEADLINE_EXCEEDED, "deadline exceeded (grpc-timeout)");
    call_unref(call);
}

/* ---- nghttp2 callbacks -------------------------------------------------- */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    conn_t *c = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    call_t *call = calloc(1, sizeof(*call));
    if (!call)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
    call->loop = c->il->loop;
    call->conn = c;
    call->stream_id = frame->hd.stream_id;
    call->method = METHOD_NONE;
    call->refs = 1; /* the stream's */
    call->start_us = loop_now_ms() * 1000;
    loop_timer_init(&call->deadline_timer, on_deadline, call);
    conn_link_call(c, call);
    c->active++;
    __atomic_add_fetch(&g_srv.call_count, 1, __ATOMIC_ACQ_REL);
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, call);
    return 0;
}

static int header_is(const uint8_t *name, size_t len, const char *s)
{
    return len == strlen(s) && memcmp(name, s, len) == 0;
}

/* Keeps the connection's client id, made safe for logs and JSON: printable
 * ASCII without quotes or backslashes (libmqclient allows no others). */
static void set_client_id(conn_t *c, const uint8_t *v, size_t len)
{
    if (!c)
        return;
    if (len > sizeof(c->client_id) - 1)
        len = sizeof(c->client_id) - 1;
    if (memcmp(c->client_id, v, len) == 0 && c->client_id[len] == '\0')
        return; /* the same on every call: nothing to do */
    for (size_t i = 0; i < len; i++)
        c->client_id[i] =
            v[i] < 0x20 || v[i] > 0x7e || v[i] == '"' || v[i] == '\\' ? '_' : (char)v[i];
    c->client_id[len] = '\0';
    log_debug("\"client id\" peer=%s client_id=\"%s\"", c->peer, c->client_id);
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user_data)
{
    (void)flags;
    (void)user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    call_t *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!call)
        return 0;
    if (header_is(name, namelen, ":method")) {
        call->is_post = valuelen == 4 && memcmp(value, "POST", 4) == 0;
    } else if (header_is(name, namelen, ":path")) {
        size_t n = valuelen < sizeof(call->path) - 1 ? valuelen : sizeof(call->path) - 1;
        memcpy(call->path, value, n);
        call->path[n] = '\0';
        call->method = METHOD_NONE;
        for (int m = 0; m < METHOD_COUNT; m++)
            if (valuelen == strlen(method_paths[m]) &&
                memcmp(value, method_paths[m], valuelen) == 0)
                call->method = (method_t)m;
    } else if (header_is(name, namelen, "content-type")) {
        /* application/grpc, optionally +proto or ;params */
        call->content_type_ok = valuelen >= 16 && memcmp(value, "application/grpc", 16) == 0 &&
                                (valuelen == 16 || value[16] == '+' || value[16] == ';');
    } else if (header_is(name, namelen, "mq-client-id")) {
        set_client_id(call->conn, value, valuelen);
    } else if (header_is(name, namelen, "grpc-timeout")) {
        int64_t ms;
        if (mq__grpc_timeout_parse((const char *)value, valuelen, &ms) == MQ_OK)
            call->deadline_ms = loop_now_ms() + ms;
        else
            call->deadline_ms = -1; /* reported once the headers are complete */
    }
    return 0;
}

/* The request headers are complete: check the gRPC rules. */
static void on_request_headers(conn_t *c, call_t *call)
{
    (void)c;
    if (!call->is_post) {
        call_fail(call, MQ_GRPC_INTERNAL, "gRPC requires method POST");
        return;
    }
    if (!call->content_type_ok) {
        call_fail(call, MQ_GRPC_INTERNAL, "content-type must be application/grpc");
        return;
    }
    if (call->method == METHOD_NONE) {
        call_fail(call, MQ_GRPC_UNIMPLEMENTED,
                  "unknown method %s (this server implements "
                  "mq.v1.Broker: Metadata, Produce, Fetch, "
                  "ListOffsets, InitProducerId, JoinGroup, Heartbeat, LeaveGroup, "
                  "CommitOffsets, "
                  "FetchOffsets)",
                  call->path);
        return;
    }
    if (call->deadline_ms < 0) {
        call_fail(call, MQ_GRPC_INVALID_ARGUMENT, "malformed grpc-timeout header");
        return;
    }
    if (c->draining) {
        call_fail(call, MQ_GRPC_UNAVAILABLE, "broker is shutting down");
        return;
    }
    call->headers_ok = 1;
    if (call->deadline_ms > 0)
        loop_timer_start(call->loop, &call->deadline_timer, call->deadline_ms);
}

typedef void (*handler_fn)(call_t *c, uint8_t *msg, size_t len);
static const handler_fn handlers[METHOD_COUNT] = {
    [METHOD_METADATA] = metadata_handle,
    [METHOD_PRODUCE] = produce_handle,
    [METHOD_FETCH] = fetch_handle,
    [METHOD_LIST_OFFSETS] = list_offsets_handle,
    [METHOD_INIT_PRODUCER_ID] = init_producer_id_handle,
    [METHOD_JOIN_GROUP] = join_group_handle,
    [METHOD_HEARTBEAT] = heartbeat_handle,
    [METHOD_LEAVE_GROUP] = leave_group_handle,
    [METHOD_COMMIT_OFFSETS] = commit_offsets_handle,
    [METHOD_FETCH_OFFSETS] = fetch_offsets_handle,
};

/* A unary request is handled once the peer half-closes the stream, so a
 * second message can still be refused; until then the message is kept. */
static mq_err_t on_message(void *ud, const uint8_t *msg, size_t len)
{
    call_t *call = ud;
    if (call->have_msg) {
        call_fail(call, MQ_GRPC_UNIMPLEMENTED, "unary method got more than one request message");
        return MQ_ERR_PROTOCOL;
    }
    mq_grpc_decoder_t *d = call->decoder;
    if (msg == d->buf) {
        /* The message was assembled in the decoder's buffer: take it over
         * instead of copying (the decoder allocates anew if needed). */
        call->msg = d->buf;
        d->buf = NULL;
        d->buf_cap = 0;
    } else {
        call->msg = malloc(len ? len : 1);
        if (!call->msg) {
            call_fail(call, MQ_GRPC_RESOURCE_EXHAUSTED, "out of memory");
            return MQ_ERR_NO_MEMORY;
        }
        memcpy(call->msg, msg, len);
    }
    call->msg_len = len;
    call->have_msg = 1;
    return MQ_OK;
}

static void dispatch(call_t *call)
{
    call->dispatched = 1;
    handlers[call->method](call, call->msg, call->msg_len);
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *user_data)
{
    (void)flags;
    call_t *call = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!call || call->done || !call->headers_ok)
        return 0;
    /* Bound what one connection can make the broker buffer: many streams
     * each sending most of max.request.bytes would otherwise add up. */
    size_t cap = (size_t)g_srv.cfg->max_request_bytes * 4;
    if (cap < CONN_REQUEST_BYTES_MIN)
        cap = CONN_REQUEST_BYTES_MIN;
    conn_t *c = user_data;
    if (c->request_bytes + len > cap) {
        call->reset_after_reply = 1;
        call_fail(call, MQ_GRPC_RESOURCE_EXHAUSTED,
                  "too much request data in flight on this connection (at most %zu bytes)", cap);
        return 0;
    }
    c->request_bytes += len;
    call->bytes_in += len;
    mq_grpc_decoder_t *d = call->decoder;
    if (!d) {
        d = malloc(sizeof(*d));
        if (!d) {
            call_fail(call, MQ_GRPC_RESOURCE_EXHAUSTED, "out of memory");
            return 0;
        }
        mq__grpc_decoder_init(d, (size_t)g_srv.cfg->max_request_bytes);
        call->decoder = d;
    }
    call_ref(call);
    mq_err_t err = mq__grpc_decoder_feed(d, data, len, on_message, call);
    if (err == MQ_ERR_REQUEST_TOO_LARGE && !call->done) {
        uint32_t declared = (uint32_t)d->prefix[1] << 24 | (uint32_t)d->prefix[2] << 16 |
                            (uint32_t)d->prefix[3] << 8 | d->prefix[4];
        call->grpc_status = MQ_GRPC_RESOURCE_EXHAUSTED;
        /* After the Trailers-Only answer is sent, RST_STREAM(NO_ERROR) asks
         * the peer to stop sending the rest (on_frame_send). */
        call->reset_after_reply = 1;
        call_fail(call, MQ_GRPC_RESOURCE_EXHAUSTED,
                  "request message of %u bytes exceeds max.request.bytes (%lld)", declared,
                  (long long)g_srv.cfg->max_request_bytes);
    } else if (err == MQ_ERR_UNSUPPORTED) {
        call_fail(call, MQ_GRPC_UNIMPLEMENTED,
                  "compressed messages are not supported "
                  "(no grpc-encoding is negotiated)");
    } else if (err != MQ_OK && err != MQ_ERR_PROTOCOL) {
        call_fail(call, MQ_GRPC_INTERNAL, "request decoding failed: %s", mq_err_str(err));
    } else if (err == MQ_ERR_PROTOCOL) {
        call_fail(call, MQ_GRPC_INTERNAL, "malformed gRPC message framing");
    }
    call_unref(call);
    return 0;
}

/* The peer half-closed the stream: a unary request must be complete. */
static void on_request_end(call_t *call)
{
    if (call->done || !call->headers_ok || call->dispatched)
        return;
    mq_grpc_decoder_t *d = call->decoder;
    if (call->have_msg && mq__grpc_decoder_finish(d) == MQ_OK)
        dispatch(call);
    else if (d && mq__grpc_decoder_finish(d) != MQ_OK)
        call_fail(call, MQ_GRPC_INTERNAL, "request ended inside a gRPC message");
    else
        call_fail(call, MQ_GRPC_INTERNAL, "request ended without a message");
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    conn_t *c = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    call_t *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!call)
        return 0;
    call_ref(call);
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
        on_request_headers(c, call);
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
        on_request_end(call);
    call_unref(call);
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *user_data)
{
    (void)error_code;
    (void)user_data;
    call_t *call = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!call)
        return 0;
    nghttp2_session_set_stream_user_data(session, stream_id, NULL);
    call_detach(call, MQ_GRPC_CANCELLED);
    return 0;
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    (void)user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    call_t *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (call && call->reset_after_reply) {
        call->reset_after_reply = 0;
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                  NGHTTP2_NO_ERROR);
    }
    return 0;
}

static int on_invalid_frame(nghttp2_session *session, const nghttp2_frame *frame, int lib_error,
                            void *user_data)
{
    (void)session;
    conn_t *c = user_data;
    log_debug("\"invalid http2 frame\" peer=%s type=%d stream=%d err=\"%s\"", c->peer,
              frame->hd.type, frame->hd.stream_id, nghttp2_strerror(lib_error));
    return 0;
}

/* DATA frames as large as the peer allows (nghttp2 caps them at 16 KiB
 * otherwise), so big Fetch responses take fewer frames. */
static ssize_t data_read_length(nghttp2_session *session, uint8_t frame_type, int32_t stream_id,
                                int32_t session_window, int32_t stream_window,
                                uint32_t remote_max_frame, void *user_data)
{
    (void)session;
    (void)frame_type;
    (void)stream_id;
    (void)user_data;
    int64_t n = remote_max_frame;
    if (session_window < n)
        n = session_window;
    if (stream_window < n)
        n = stream_window;
    return n > 0 ? (ssize_t)n : 1;
}

static nghttp2_session_callbacks *g_callbacks;

static int make_callbacks(void)
{
    if (nghttp2_session_callbacks_new(&g_callbacks) != 0)
        return -1;
    nghttp2_session_callbacks_set_on_begin_headers_callback(g_callbacks, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(g_callbacks, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(g_callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(g_callbacks, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(g_callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(g_callbacks, on_invalid_frame);
    nghttp2_session_callbacks_set_on_frame_send_callback(g_callbacks, on_frame_send);
    nghttp2_session_callbacks_set_data_source_read_length_callback(g_callbacks, data_read_length);
    return 0;
}

/* ---- accepting ---------------------------------------------------------- */

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char host[200], port[16];
    if (getnameinfo((const struct sockaddr *)ss, sizeof(*ss), host, sizeof(host), port,
                    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(out, cap, "?");
        return;
    }
    if (ss->ss_family == AF_INET6)
        snprintf(out, cap, "[%s]:%s", host, port);
    else
        snprintf(out, cap, "%s:%s", host, port);
}

/* Over max.connections: a SETTINGS and a GOAWAY (REFUSED_STREAM, with the
 * reason as debug data) written raw, then close. */
static void refuse_connection(int fd, const char *peer)
{
    char why[96];
    int wl = snprintf(why, sizeof(why), "too many connections (max.connections=%d)",
                      g_srv.cfg->max_connections);
    uint8_t frame[9 + 9 + 8 + sizeof(why)];
    size_t n = 0;
    const uint8_t settings[9] = {0, 0, 0, NGHTTP2_SETTINGS, 0, 0, 0, 0, 0};
    memcpy(frame, settings, 9);
    n = 9;
    uint32_t len = 8 + (uint32_t)wl;
    uint8_t hdr[9] = {
        (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len, NGHTTP2_GOAWAY, 0, 0, 0, 0, 0};
    memcpy(frame + n, hdr, 9);
    n += 9;
    uint8_t body[8] = {0, 0, 0, 0, 0, 0, 0, NGHTTP2_REFUSED_STREAM};
    memcpy(frame + n, body, 8);
    n += 8;
    memcpy(frame + n, why, (size_t)wl);
    n += (size_t)wl;
    ssize_t w = send(fd, frame, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    close(fd);
    int64_t now = loop_now_ms();
    int64_t last = __atomic_load_n(&g_srv.last_refusal_log_ms, __ATOMIC_RELAXED);
    if (now - last >= 1000) {
        __atomic_store_n(&g_srv.last_refusal_log_ms, now, __ATOMIC_RELAXED);
        log_warn("\"connection refused: max.connections reached\" peer=%s max_connections=%d", peer,
                 g_srv.cfg->max_connections);
    }
}

static int conn_setup_h2(conn_t *c)
{
    nghttp2_option *opt;
    if (nghttp2_option_new(&opt) != 0)
        return -1;
    nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
    int rv = nghttp2_session_server_new2(&c->h2, g_callbacks, c, opt);
    nghttp2_option_del(opt);
    if (rv != 0)
        return -1;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, H2_MAX_FRAME},
    };
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 3) != 0)
        return -1;
    if (nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW) != 0)
        return -1;
    return 0;
}

static void accept_client(ioloop_t *il, int fd, const char *peer, int listener)
{
    int tls = listener >= 0 && g_srv.listen_tls[listener];
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    conn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->il = il;
    c->fd = fd;
    c->tp = &tcp_transport;
    c->listener = listener;
    acl_cache_init(&c->acl, TLS_ANONYMOUS);
    if (tls) {
        c->ssl = tls_accept_new(TLS_PORT_CLIENT, fd);
        c->tp = &tls_transport;
        c->handshaking = 1;
    }
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    loop_timer_init(&c->flush_timer, on_flush_timer, c);
    if ((tls && !c->ssl) || conn_setup_h2(c) != 0 ||
        loop_io_add(il->loop, &c->io, fd, EPOLLIN, on_conn_io, c) != 0) {
        log_error("\"connection setup failed\" peer=%s", peer);
        if (c->h2)
            nghttp2_session_del(c->h2);
        tls_free(c->ssl);
        close(fd);
        free(c);
        return;
    }
    c->last_read_ms = loop_now_ms();
    c->next = il->conns;
    if (il->conns)
        il->conns->prev = c;
    il->conns = c;
    __atomic_add_fetch(&g_srv.conn_count, 1, __ATOMIC_ACQ_REL);
    metrics_connection(1);
    log_debug("\"connection accepted\" peer=%s loop=%d", peer, il->index);
    if (conn_flush(c) != 0) /* our SETTINGS go out first */
        conn_close(c, "write failed");
}

typedef struct handoff {
    int fd;
    int listener;
    char peer[64];
} handoff_t;

static void adopt_handoff(loop_t *loop, void *arg)
{
    handoff_t *h = arg;
    ioloop_t *il = &g_srv.loops[loop_index(loop)];
    if (il->draining)
        close(h->fd);
    else
        accept_client(il, h->fd, h->peer, h->listener);
    free(h);
}

static void on_listen(loop_t *loop, loop_io_t *io, uint32_t events)
{
    (void)loop;
    (void)events;
    ioloop_t *il = io->data;
    int is_admin = io == &il->admin_io;
    int listener = is_admin ? -1 : (int)(io - il->listen_io);
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(io->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                log_warn("\"accept failed: out of file descriptors\" errno=%d", errno);
            return;
        }
        char peer[64];
        format_addr(&ss, peer, sizeof(peer));
        if (is_admin) {
            admin_conn_accept(il->loop, fd, g_srv.admin_tls);
            continue;
        }
        int n = __atomic_load_n(&g_srv.conn_count, __ATOMIC_ACQUIRE);
        if (n >= g_srv.cfg->max_connections) {
            refuse_connection(fd, peer);
            continue;
        }
        /* EPOLLEXCLUSIVE wakes one loop, but mostly the same one: spread
         * connections round robin by handing the socket over. */
        unsigned target =
            __atomic_fetch_add(&g_srv.next_loop, 1, __ATOMIC_RELAXED) % (unsigned)g_srv.nloops;
        if ((int)target == il->index) {
            accept_client(il, fd, peer, listener);
            continue;
        }
        handoff_t *h = malloc(sizeof(*h));
        if (h) {
            h->fd = fd;
            h->listener = listener;
            snprintf(h->peer, sizeof(h->peer), "%s", peer);
        }
        if (!h || loop_post(g_srv.loops[target].loop, adopt_handoff, h) != 0) {
            free(h);
            accept_client(il, fd, peer, listener);
        }
    }
}

/* ---- idle connections ------------------------------------------------- */

/* Closes connections silent for connections.max.idle.ms with no call in
 * flight: a GOAWAY first, so a client knows it may reconnect. */
static void on_idle_timer(loop_t *loop, loop_timer_t *t)
{
    ioloop_t *il = t->data;
    int64_t idle = g_srv.cfg->connections_max_idle_ms;
    int64_t now = loop_now_ms();
    for (conn_t *c = il->conns, *next; c; c = next) {
        next = c->next;
        if (c->handshaking && now - c->last_read_ms >= TLS_HANDSHAKE_TIMEOUT_MS) {
            log_info("\"tls handshake timed out\" peer=%s", c->peer);
            metrics_tls_failure(TLS_PORT_CLIENT, 1);
            conn_close(c, "tls handshake timeout");
            continue;
        }
        if (idle <= 0 || c->active > 0 || now - c->last_read_ms < idle)
            continue;
        log_debug("\"closing idle connection\" peer=%s idle_ms=%lld", c->peer,
                  (long long)(now - c->last_read_ms));
        nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(c->h2), NGHTTP2_NO_ERROR,
                              (const uint8_t *)"idle", 4);
        conn_flush(c);
        conn_close(c, "idle");
    }
    int64_t every = idle <= 0 || idle / 4 > 1000 ? 1000 : (idle / 4 > 10 ? idle / 4 : 10);
    loop_timer_start(loop, t, now + every);
}

static void arm_idle_timer(loop_t *loop, void *arg)
{
    ioloop_t *il = arg;
    loop_timer_init(&il->idle_timer, on_idle_timer, il);
    loop_timer_start(loop, &il->idle_timer, loop_now_ms() + 10);
}

/* ---- listeners ---------------------------------------------------------- */

static int split_hostport(const char *addr, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *colon = strrchr(addr, ':');
    if (!colon)
        return -1;
    const char *h = addr;
    size_t hl = (size_t)(colon - addr);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= hcap || strlen(colon + 1) >= pcap)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    strcpy(port, colon + 1);
    return 0;
}

static int bind_listener(const char *what, const char *addr, char *bound, size_t bcap)
{
    char host[256], port[16];
    if (split_hostport(addr, host, sizeof(host), port, sizeof(port)) != 0) {
        log_error("\"bad listen address\" listener=%s addr=%s", what, addr);
        return -1;
    }
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res;
    int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (gai != 0) {
        log_error("\"cannot resolve listen address\" listener=%s addr=%s err=\"%s\"", what, addr,
                  gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    int err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        log_error("\"cannot listen\" listener=%s addr=%s err=\"%s\"", what, addr, strerror(err));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    format_addr(&ss, bound, bcap);
    return fd;
}

/* Binds every client listener: `listeners` (scheme://HOST:PORT, ...), or
 * `listen` alone, TLS when a certificate is configured (or ssl:// says so).
 * The first one is the "client" address of the ready line. 0 or -1. */
static int bind_client_listeners(const broker_config_t *cfg)
{
    char specs[sizeof(cfg->listeners)];
    if (cfg->listeners[0])
        snprintf(specs, sizeof(specs), "%s", cfg->listeners);
    else
        snprintf(specs, sizeof(specs), "%s", cfg->listen);
    size_t used = 0;
    for (char *save, *tok = strtok_r(specs, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (g_srv.nlisten == MAX_LISTENERS) {
            log_error("\"too many listeners\" max=%d", MAX_LISTENERS);
            return -1;
        }
        int l = g_srv.nlisten;
        char addr[256];
        int is_tls;
        if (tls_listener_parse(tok, &is_tls, addr, sizeof(addr)) != 0) {
            log_error("\"bad listen address\" listener=client addr=%s", tok);
            return -1;
        }
        if (is_tls < 0)
            is_tls = cfg->ssl_cert[0] != '\0';
        int fd = bind_listener(is_tls ? "ssl" : "plaintext", addr, g_srv.listen_addr[l],
                               sizeof(g_srv.listen_addr[l]));
        if (fd < 0)
            return -1;
        g_srv.listen_fd[l] = fd;
        g_srv.listen_tls[l] = is_tls;
        g_srv.nlisten++;
        used += (size_t)snprintf(g_srv.listeners + used, sizeof(g_srv.listeners) - used, "%s%s%s",
                                 l ? "," : "", is_tls ? "ssl://" : "plaintext://",
                                 g_srv.listen_addr[l]);
    }
    if (g_srv.nlisten == 0) {
        log_error("\"no client listener configured\"");
        return -1;
    }
    snprintf(g_srv.client_addr, sizeof(g_srv.client_addr), "%s", g_srv.listen_addr[0]);
    return 0;
}

/* ---- threads and lifecycle --------------------------------------------- */

static void *loop_thread(void *arg)
{
    ioloop_t *il = arg;
    char name[16];
    snprintf(name, sizeof(name), "mq-io-%d", il->index);
    pthread_setname_np(pthread_self(), name);
    loop_run(il->loop);
    return NULL;
}

mq_err_t server_start(const broker_config_t *cfg)
{
    g_srv.cfg = cfg;
    if (!g_callbacks && make_callbacks() != 0)
        return MQ_ERR_NO_MEMORY;
    if (bind_client_listeners(cfg) != 0)
        return MQ_ERR_TRANSPORT;
    char admin_spec[256];
    int admin_tls;
    if (tls_listener_parse(cfg->admin_listen, &admin_tls, admin_spec, sizeof(admin_spec)) != 0) {
        log_error("\"bad listen address\" listener=admin addr=%s", cfg->admin_listen);
        return MQ_ERR_TRANSPORT;
    }
    g_srv.admin_tls = tls_admin_enabled(cfg);
    g_srv.admin_fd = bind_listener("admin", admin_spec, g_srv.admin_addr, sizeof(g_srv.admin_addr));
    if (g_srv.admin_fd < 0)
        return MQ_ERR_TRANSPORT;
    admin_set_listeners(g_srv.client_addr, g_srv.admin_addr);
    g_srv.nloops = cfg->io_threads < MAX_LOOPS ? cfg->io_threads : MAX_LOOPS;
    fetch_init(g_srv.nloops);
    group_rpc_init_loops(g_srv.nloops);
    for (int i = 0; i < g_srv.nloops; i++) {
        ioloop_t *il = &g_srv.loops[i];
        il->index = i;
        il->loop = loop_new(i);
        il->rbuf = malloc(READ_CHUNK);
        if (!il->loop || !il->rbuf)
            return MQ_ERR_NO_MEMORY;
        for (int l = 0; l < g_srv.nlisten; l++)
            if (loop_io_add(il->loop, &il->listen_io[l], g_srv.listen_fd[l],
                            EPOLLIN | EPOLLEXCLUSIVE, on_listen, il) != 0)
                return MQ_ERR_TRANSPORT;
        if (i == 0 &&
            loop_io_add(il->loop, &il->admin_io, g_srv.admin_fd, EPOLLIN, on_listen, il) != 0)
            return MQ_ERR_TRANSPORT;
    }
    for (int i = 0; i < g_srv.nloops; i++) {
        ioloop_t *il = &g_srv.loops[i];
        loop_post(il->loop, arm_idle_timer, il);
        if (pthread_create(&il->thread, NULL, loop_thread, il) != 0)
            return MQ_ERR_NO_MEMORY;
        il->started = 1;
    }
    log_info("\"listening\" listeners=%s admin=%s%s io_threads=%d", g_srv.listeners,
             g_srv.admin_tls ? "ssl://" : "", g_srv.admin_addr, g_srv.nloops);
    return MQ_OK;
}

mq_err_t server_attach_loop(const broker_config_t *cfg, loop_t *loop)
{
    g_srv.cfg = cfg;
    if (!g_callbacks && make_callbacks() != 0)
        return MQ_ERR_NO_MEMORY;
    ioloop_t *il = &g_srv.loops[0];
    memset(il, 0, sizeof(*il));
    il->loop = loop;
    il->rbuf = malloc(READ_CHUNK);
    for (int l = 0; l < MAX_LISTENERS; l++)
        il->listen_io[l].fd = -1;
    il->admin_io.fd = -1;
    if (!il->rbuf)
        return MQ_ERR_NO_MEMORY;
    g_srv.nloops = 1;
    fetch_init(1);
    group_rpc_init_loops(1);
    return MQ_OK;
}

void server_adopt_fd(int fd)
{
    accept_client(&g_srv.loops[0], fd, "test", -1);
}

int server_connection_count(void)
{
    return __atomic_load_n(&g_srv.conn_count, __ATOMIC_ACQUIRE);
}

const char *server_client_addr(void)
{
    return g_srv.client_addr;
}

const char *server_admin_addr(void)
{
    return g_srv.admin_addr;
}

const char *server_call_client_id(const call_t *c)
{
    return c->conn ? c->conn->client_id : "";
}

const char *server_call_peer(const call_t *c)
{
    return c->conn ? c->conn->peer : "";
}

const char *server_call_addr(call_t *c)
{
    if (c->conn && c->conn->listener >= 0 && c->conn->listener < g_srv.nlisten)
        return g_srv.listen_addr[c->conn->listener];
    return g_srv.client_addr;
}

int acl_check_call(call_t *c, acl_op_t op, acl_res_t res, const char *name)
{
    if (!acl_enabled())
        return 1;
    if (!c->conn)
        return 0;
    return acl_check(&c->conn->acl, op, res, name, NULL);
}

int acl_call_allows_any_topic(call_t *c, acl_op_t op)
{
    if (!acl_enabled())
        return 1;
    return c->conn ? acl_allows_any_topic(&c->conn->acl, op) : 0;
}

const char *acl_call_principal(call_t *c)
{
    return c->conn ? c->conn->acl.principal : "";
}

const char *server_listeners(void)
{
    return g_srv.listeners;
}

int server_admin_tls(void)
{
    return g_srv.admin_tls;
}

int server_loop_count(void)
{
    return g_srv.nloops;
}

loop_t *server_loop(int i)
{
    return i >= 0 && i < g_srv.nloops ? g_srv.loops[i].loop : NULL;
}

/* On each loop: stop accepting, GOAWAY everyone, answer parked fetches. */
static void begin_drain(loop_t *loop, void *arg)
{
    (void)arg;
    ioloop_t *il = &g_srv.loops[loop_index(loop)];
    il->draining = 1;
    for (int l = 0; l < g_srv.nlisten; l++)
        if (il->listen_io[l].fd >= 0)
            loop_io_del(loop, &il->listen_io[l]);
    if (il->index == 0 && il->admin_io.fd >= 0)
        loop_io_del(loop, &il->admin_io);
    fetch_release_all(loop);
    group_rpc_release_all(loop);
    for (conn_t *c = il->conns, *next; c; c = next) {
        next = c->next;
        if (c->handshaking) {
            conn_close(c, "shutdown");
            continue;
        }
        c->draining = 1;
        nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(c->h2), NGHTTP2_NO_ERROR,
                              (const uint8_t *)"shutting down", 13);
        if (conn_flush(c) != 0)
            conn_close(c, "shutdown");
    }
}

void server_stop(int64_t timeout_ms)
{
    for (int i = 0; i < g_srv.nloops; i++)
        loop_post(g_srv.loops[i].loop, begin_drain, NULL);
    /* Draining connections close themselves once their streams are done
     * (answers written); wait for that, bounded by the timeout. */
    int64_t deadline = loop_now_ms() + timeout_ms;
    while ((__atomic_load_n(&g_srv.call_count, __ATOMIC_ACQUIRE) > 0 ||
            __atomic_load_n(&g_srv.conn_count, __ATOMIC_ACQUIRE) > 0) &&
           loop_now_ms() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    int calls = __atomic_load_n(&g_srv.call_count, __ATOMIC_ACQUIRE);
    int conns = __atomic_load_n(&g_srv.conn_count, __ATOMIC_ACQUIRE);
    if (calls > 0 || conns > 0)
        log_warn("\"shutdown timeout: closing connections with calls in flight\" calls=%d "
                 "connections=%d",
                 calls, conns);
    for (int i = 0; i < g_srv.nloops; i++)
        loop_stop(g_srv.loops[i].loop);
    for (int i = 0; i < g_srv.nloops; i++) {
        if (g_srv.loops[i].started)
            pthread_join(g_srv.loops[i].thread, NULL);
        g_srv.loops[i].started = 0;
    }
}

void server_close_all(void)
{
    for (int i = 0; i < g_srv.nloops; i++) {
        ioloop_t *il = &g_srv.loops[i];
        while (il->conns)
            conn_close(il->conns, "shutdown");
        admin_close_all(il->loop);
    }
    for (int l = 0; l < g_srv.nlisten; l++)
        if (g_srv.listen_fd[l] >= 0)
            close(g_srv.listen_fd[l]);
    g_srv.nlisten = 0;
    if (g_srv.admin_fd >= 0)
        close(g_srv.admin_fd);
    g_srv.admin_fd = -1;
}

void server_free(void)
{
    for (int i = 0; i < g_srv.nloops; i++) {
        ioloop_t *il = &g_srv.loops[i];
        loop_free(il->loop);
        il->loop = NULL;
        free(il->rbuf);
        il->rbuf = NULL;
    }
    g_srv.nloops = 0;
    if (g_callbacks)
        nghttp2_session_callbacks_del(g_callbacks);
    g_callbacks = NULL;
}
