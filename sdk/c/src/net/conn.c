/* One HTTP/2 connection carrying gRPC unary calls: prior knowledge over
 * TCP, or over TLS (ALPN h2) when the client has an mq_tls_t. */
#include "net/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "error.h"
#include "event.h"
#include "net/tls.h"
#include "wire/grpc.h"

/* Windows and frame size we advertise: large, so a response is never
 * throttled by flow control on loopback. */
#define LOCAL_WINDOW (64 * 1024 * 1024)
#define MAX_FRAME (1 << 20)
#define MAX_RESPONSE (64 * 1024 * 1024)

typedef struct call {
    struct call *next, *prev;
    mq_conn_t *conn;
    int32_t stream_id;
    uint8_t *req;
    size_t req_len, req_off;
    int64_t deadline_ms;
    mq_grpc_decoder_t dec;
    uint8_t *resp;
    size_t resp_len;
    int nresp;
    int http_status;
    int grpc_status; /* -1 until seen */
    char *grpc_message;
    mq_call_cb cb;
    void *arg;
} call_t;

struct mq_conn {
    int fd;
    int established;  /* TCP connected and, with TLS, the handshake done */
    int tcp_up;       /* TCP connected */
    mq_tls_t *tls;    /* NULL: plaintext */
    SSL *ssl;         /* the TLS session once TCP is up */
    uint32_t hs_want; /* epoll bits the handshake waits for */
    int got_data;     /* something arrived over TLS (auth errors come before) */
    mq_err_t fail;    /* how the connection failed: TRANSPORT or AUTHENTICATION */
    char host[256];
    const char *client_id; /* client.id, sent as mq-client-id; the conf outlives us */
    nghttp2_session *session;
    call_t *calls; /* doubly linked */
    size_t ncalls;
    char authority[300];
    char err[200];
    /* Liveness (mq__conn_set_liveness): a PING goes out after ping_interval
     * ms without a byte from the broker, or at once when a call times out;
     * no byte within ping_timeout of it and the connection is dead. */
    int64_t ping_interval_ms; /* 0: no PINGs */
    int64_t ping_timeout_ms;
    int64_t last_rx_ms;   /* when the broker last sent something */
    int64_t ping_sent_ms; /* 0: no PING outstanding */
    int dead;             /* the PING went unanswered: flush and io fail */
};

static void set_err(mq_conn_t *c, const char *what, int e)
{
    if (!c->err[0])
        snprintf(c->err, sizeof(c->err), "%s: %s", what, e ? strerror(e) : "closed");
}

/* ---- calls ---------------------------------------------------------------- */

static void unlink_call(mq_conn_t *c, call_t *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        c->calls = k->next;
    if (k->next)
        k->next->prev = k->prev;
    c->ncalls--;
}

static void free_call(call_t *k)
{
    mq__grpc_decoder_free(&k->dec);
    free(k->req);
    free(k->resp);
    free(k->grpc_message);
    free(k);
}

/* The call whose callback runs now (mq__conn_take_response). */
static __thread call_t *cb_call;

/* Completes a call: decides the outcome from what arrived, runs cb. */
static void finish_call(mq_conn_t *c, call_t *k, mq_err_t transport_err)
{
    unlink_call(c, k);
    mq_err_t err = transport_err;
    const char *msg = k->grpc_message;
    int sent = k->req_off > 0;
    if (err == MQ_OK) {
        if (k->grpc_status < 0) {
            err = k->http_status && k->http_status != 200 ? MQ_ERR_PROTOCOL : MQ_ERR_TRANSPORT;
            if (!msg)
                msg = k->http_status && k->http_status != 200 ? "HTTP error status without "
                                                                "grpc-status"
                                                              : "stream ended without grpc-status";
        } else if (k->grpc_status != MQ_GRPC_OK) {
            err = mq__err_from_grpc_status(k->grpc_status);
        } else if (k->nresp != 1 || mq__grpc_decoder_finish(&k->dec) != MQ_OK) {
            err = MQ_ERR_PROTOCOL;
            msg = "unary call did not get exactly one response message";
        }
    }
    cb_call = k;
    k->cb(k->arg, err, msg, k->resp, k->resp_len, sent);
    cb_call = NULL;
    free_call(k);
}

uint8_t *mq__conn_take_response(void)
{
    if (!cb_call)
        return NULL;
    uint8_t *r = cb_call->resp;
    cb_call->resp = NULL;
    return r;
}

static mq_err_t on_message(void *ud, const uint8_t *msg, size_t len)
{
    call_t *k = ud;
    if (++k->nresp > 1)
        return MQ_ERR_PROTOCOL;
    k->resp_len = len;
    if (msg == k->dec.buf && len) {
        /* It spanned DATA frames and sits whole in the decoder's buffer:
         * take the buffer instead of copying it (Fetch responses are MBs). */
        k->resp = k->dec.buf;
        k->dec.buf = NULL;
        k->dec.buf_cap = 0;
        return MQ_OK;
    }
    k->resp = malloc(len ? len : 1);
    if (!k->resp)
        return MQ_ERR_NO_MEMORY;
    memcpy(k->resp, msg, len);
    return MQ_OK;
}

/* ---- nghttp2 callbacks ---------------------------------------------------- */

static ssize_t send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud)
{
    (void)s;
    (void)flags;
    mq_conn_t *c = ud;
    if (c->ssl) {
        char why[300] = "";
        ssize_t n = mq__tls_write(c->ssl, data, len, why, sizeof(why));
        if (n >= 0)
            return n;
        if (errno == EAGAIN)
            return NGHTTP2_ERR_WOULDBLOCK;
        if (!c->err[0])
            snprintf(c->err, sizeof(c->err), "%.199s", why);
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return NGHTTP2_ERR_WOULDBLOCK;
    set_err(c, "send", errno);
    return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static ssize_t read_body_cb(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t length,
                            uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)stream_id;
    (void)ud;
    call_t *k = src->ptr;
    size_t n = k->req_len - k->req_off;
    if (n > length)
        n = length;
    memcpy(buf, k->req + k->req_off, n);
    k->req_off += n;
    if (k->req_off == k->req_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int on_header_cb(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                        size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *ud)
{
    (void)flags;
    (void)ud;
    call_t *k = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    if (!k)
        return 0;
    if (namelen == 7 && !memcmp(name, ":status", 7)) {
        k->http_status = atoi((const char *)value);
    } else if (namelen == 11 && !memcmp(name, "grpc-status", 11)) {
        k->grpc_status = mq__grpc_status_parse((const char *)value, valuelen);
        if (k->grpc_status < 0)
            k->grpc_status = MQ_GRPC_UNKNOWN;
    } else if (namelen == 12 && !memcmp(name, "grpc-message", 12) && !k->grpc_message) {
        k->grpc_message = malloc(valuelen * 3 + 1);
        if (k->grpc_message)
            mq__grpc_message_decode((const char *)value, valuelen, k->grpc_message,
                                    valuelen * 3 + 1);
    }
    return 0;
}

static int on_data_cb(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data,
                      size_t len, void *ud)
{
    (void)flags;
    (void)ud;
    call_t *k = nghttp2_session_get_stream_user_data(s, stream_id);
    if (k)
        mq__grpc_decoder_feed(&k->dec, data, len, on_message, k); /* errors are sticky */
    return 0;
}

static int on_close_cb(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *ud)
{
    mq_conn_t *c = ud;
    call_t *k = nghttp2_session_get_stream_user_data(s, stream_id);
    if (!k)
        return 0;
    nghttp2_session_set_stream_user_data(s, stream_id, NULL);
    mq_err_t err = MQ_OK;
    if (k->dec.error != MQ_OK)
        err = MQ_ERR_PROTOCOL;
    else if (error_code != NGHTTP2_NO_ERROR && k->grpc_status < 0)
        err = MQ_ERR_TRANSPORT; /* reset or refused (GOAWAY): may be retried */
    finish_call(c, k, err);
    return 0;
}

/* ---- connection ----------------------------------------------------------- */

static mq_err_t start_session(mq_conn_t *c)
{
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return MQ_ERR_NO_MEMORY;
    nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close_cb);
    int rv = nghttp2_session_client_new(&c->session, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0)
        return MQ_ERR_NO_MEMORY;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, LOCAL_WINDOW},
        {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, MAX_FRAME},
    };
    if (nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 3) != 0 ||
        nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, LOCAL_WINDOW) != 0)
        return MQ_ERR_NO_MEMORY;
    return MQ_OK;
}

mq_err_t mq__conn_new(const char *host, const char *port, mq_conn_t **out, char *errstr,
                      size_t errstr_size)
{
    return mq__conn_new_tls(host, port, NULL, out, errstr, errstr_size);
}

mq_err_t mq__conn_new_tls(const char *host, const char *port, mq_tls_t *tls, mq_conn_t **out,
                          char *errstr, size_t errstr_size)
{
    /* OpenSSL writes with write(2): a broker that closed the socket (e.g.
     * after refusing our certificate) would raise SIGPIPE and kill the
     * application. Connections are made on the I/O thread, so block it
     * there for good (a pending SIGPIPE of a blocked thread is harmless). */
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rv = getaddrinfo(host, port, &hints, &res);
    if (rv != 0) {
        snprintf(errstr, errstr_size, "cannot resolve %s:%s: %s", host, port, gai_strerror(rv));
        return MQ_ERR_TRANSPORT;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "socket: %s", strerror(errno));
        freeaddrinfo(res);
        return MQ_ERR_TRANSPORT;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    rv = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rv != 0 && errno != EINPROGRESS) {
        snprintf(errstr, errstr_size, "connect %s:%s: %s", host, port, strerror(errno));
        close(fd);
        return MQ_ERR_TRANSPORT;
    }
    mq_conn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return MQ_ERR_NO_MEMORY;
    }
    c->fd = fd;
    c->tls = tls;
    c->fail = MQ_ERR_TRANSPORT;
    snprintf(c->host, sizeof(c->host), "%s", host);
    snprintf(c->authority, sizeof(c->authority), "%s:%s", host, port);
    if (start_session(c) != MQ_OK) {
        mq__conn_free(c);
        return MQ_ERR_NO_MEMORY;
    }
    *out = c;
    return MQ_OK;
}

void mq__conn_set_keepalive(mq_conn_t *c, int idle_s)
{
    /* A backstop under the PINGs: the kernel notices a peer that vanished
     * even while nothing is being sent. */
    int one = 1, intvl = idle_s / 3 > 0 ? idle_s / 3 : 1, cnt = 3;
    setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof(idle_s));
    setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

void mq__conn_set_liveness(mq_conn_t *c, int64_t ping_interval_ms, int64_t ping_timeout_ms)
{
    c->ping_interval_ms = ping_interval_ms;
    c->ping_timeout_ms = ping_timeout_ms > 0 ? ping_timeout_ms : 1;
}

const char *mq__conn_authority(const mq_conn_t *c)
{
    return c->authority;
}

int mq__conn_fd(const mq_conn_t *c)
{
    return c->fd;
}

int mq__conn_established(const mq_conn_t *c)
{
    return c->established;
}

mq_err_t mq__conn_error(const mq_conn_t *c)
{
    return c->fail;
}

uint32_t mq__conn_events(const mq_conn_t *c)
{
    if (!c->tcp_up)
        return EPOLLOUT;
    if (!c->established)
        return c->hs_want;
    uint32_t ev = EPOLLIN;
    if (nghttp2_session_want_write(c->session))
        ev |= EPOLLOUT;
    return ev;
}

size_t mq__conn_calls(const mq_conn_t *c)
{
    return c->ncalls;
}

mq_err_t mq__conn_flush(mq_conn_t *c, char *errstr, size_t errstr_size)
{
    if (c->dead) {
        snprintf(errstr, errstr_size, "%s: %s", c->authority, c->err);
        return MQ_ERR_TRANSPORT;
    }
    if (!c->established)
        return MQ_OK;
    if (nghttp2_session_send(c->session) != 0) {
        set_err(c, "send", 0);
        snprintf(errstr, errstr_size, "%s: %s", c->authority, c->err);
        return MQ_ERR_TRANSPORT;
    }
    return MQ_OK;
}

/* TCP is up: starts or continues the TLS handshake. MQ_OK (done or in
 * progress; c->established says which) or MQ_ERR_AUTHENTICATION. */
static mq_err_t tls_step(mq_conn_t *c, char *errstr, size_t errstr_size)
{
    char why[400] = "";
    if (!c->ssl) {
        c->ssl = mq__tls_session(c->tls, c->fd, c->host, why, sizeof(why));
        if (!c->ssl) {
            snprintf(errstr, errstr_size, "%s: %s", c->authority, why);
            c->fail = MQ_ERR_AUTHENTICATION;
            return MQ_ERR_AUTHENTICATION;
        }
    }
    int rv = mq__tls_handshake(c->ssl, &c->hs_want, why, sizeof(why));
    if (rv < 0) {
        snprintf(errstr, errstr_size, "%s: %s", c->authority, why);
        c->fail = MQ_ERR_AUTHENTICATION;
        mq__tls_invalidate(c->tls); /* reload the files before the next try */
        return MQ_ERR_AUTHENTICATION;
    }
    if (rv == 1)
        c->established = 1;
    return MQ_OK;
}

/* Reads what is there into nghttp2. MQ_OK or the failure. */
static mq_err_t read_input(mq_conn_t *c, char *errstr, size_t errstr_size)
{
    uint8_t buf[65536];
    for (;;) {
        char why[300] = "";
        ssize_t n = c->ssl ? mq__tls_read(c->ssl, buf, sizeof(buf), why, sizeof(why))
                           : recv(c->fd, buf, sizeof(buf), 0);
        if (n > 0) {
            c->got_data = 1;
            c->last_rx_ms = mq__mono_ms();
            c->ping_sent_ms = 0; /* any byte proves the broker is there */
            ssize_t used = nghttp2_session_mem_recv(c->session, buf, (size_t)n);
            if (used < 0) {
                snprintf(errstr, errstr_size, "%s: HTTP/2 error: %s", c->authority,
                         nghttp2_strerror((int)used));
                return MQ_ERR_TRANSPORT;
            }
            /* Plain TCP: a short read means the socket is empty. TLS reads
             * one record at a time, so go on until it says so. */
            if (!c->ssl && (size_t)n < sizeof(buf))
                return MQ_OK;
            continue;
        }
        if (n == 0) {
            snprintf(errstr, errstr_size, "%s: connection closed by the broker", c->authority);
            return MQ_ERR_TRANSPORT;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return MQ_OK;
        if (errno == EINTR)
            continue;
        if (c->ssl) {
            /* An alert before any answer is the broker refusing us (TLS 1.3
             * checks the client certificate after our side finished). */
            snprintf(errstr, errstr_size, "%s: %s", c->authority, why);
            if (errno == EPROTO && !c->got_data) {
                c->fail = MQ_ERR_AUTHENTICATION;
                mq__tls_invalidate(c->tls);
                return MQ_ERR_AUTHENTICATION;
            }
            return MQ_ERR_TRANSPORT;
        }
        snprintf(errstr, errstr_size, "%s: recv: %s", c->authority, strerror(errno));
        return MQ_ERR_TRANSPORT;
    }
}

mq_err_t mq__conn_io(mq_conn_t *c, uint32_t events, char *errstr, size_t errstr_size)
{
    if (!c->tcp_up) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr || (events & (EPOLLERR | EPOLLHUP))) {
            snprintf(errstr, errstr_size, "connect %s: %s", c->authority,
                     strerror(soerr ? soerr : ECONNREFUSED));
            return MQ_ERR_TRANSPORT;
        }
        if (!(events & EPOLLOUT))
            return MQ_OK;
        c->tcp_up = 1;
        c->last_rx_ms = mq__mono_ms(); /* liveness counts from here */
        if (!c->tls)
            c->established = 1;
    }
    if (!c->established) {
        mq_err_t err = tls_step(c, errstr, errstr_size);
        if (err != MQ_OK || !c->established)
            return err;
        events |= EPOLLIN; /* data may have come with the handshake */
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        mq_err_t err = read_input(c, errstr, errstr_size);
        if (err != MQ_OK)
            return err;
    }
    if (mq__conn_flush(c, errstr, errstr_size) != MQ_OK)
        return MQ_ERR_TRANSPORT;
    if (!nghttp2_session_want_read(c->session) && !nghttp2_session_want_write(c->session)) {
        snprintf(errstr, errstr_size, "%s: HTTP/2 session ended (GOAWAY)", c->authority);
        return MQ_ERR_TRANSPORT;
    }
    return MQ_OK;
}

#define NV(n, v)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE             \
    }

mq_err_t mq__conn_call(mq_conn_t *c, const char *path, const uint8_t *msg, size_t len,
                       int64_t timeout_ms, mq_call_cb cb, void *arg)
{
    if (len > UINT32_MAX)
        return MQ_ERR_REQUEST_TOO_LARGE;
    call_t *k = calloc(1, sizeof(*k));
    if (!k || !(k->req = malloc(len + MQ_GRPC_PREFIX_SIZE))) {
        free(k);
        return MQ_ERR_NO_MEMORY;
    }
    mq__grpc_put_prefix(k->req, (uint32_t)len);
    memcpy(k->req + MQ_GRPC_PREFIX_SIZE, msg, len);
    k->req_len = len + MQ_GRPC_PREFIX_SIZE;
    k->grpc_status = -1;
    k->cb = cb;
    k->arg = arg;
    k->conn = c;
    k->deadline_ms = mq__mono_ms() + timeout_ms;
    mq__grpc_decoder_init(&k->dec, MAX_RESPONSE);

    char tmo[16];
    mq__grpc_timeout_format(timeout_ms, tmo, sizeof(tmo));
    nghttp2_nv hdrs[] = {
        NV(":method", "POST"),
        NV(":scheme", c->tls ? "https" : "http"),
        NV(":path", path),
        NV(":authority", c->authority),
        NV("content-type", "application/grpc"),
        NV("te", "trailers"),
        NV("grpc-timeout", tmo),
        NV("user-agent", "libmqclient/" MQ_VERSION_STR),
        NV("mq-client-id", c->client_id ? c->client_id : ""),
    };
    /* HPACK sends a repeated header as one byte after the first call. */
    size_t nhdrs = sizeof(hdrs) / sizeof(hdrs[0]) - (c->client_id && *c->client_id ? 0 : 1);
    nghttp2_data_provider dp = {.source.ptr = k, .read_callback = read_body_cb};
    int32_t id = nghttp2_submit_request(c->session, NULL, hdrs, nhdrs, &dp, k);
    if (id < 0) {
        free_call(k);
        return id == NGHTTP2_ERR_NOMEM ? MQ_ERR_NO_MEMORY : MQ_ERR_TRANSPORT;
    }
    k->stream_id = id;
    k->next = c->calls;
    if (c->calls)
        c->calls->prev = k;
    c->calls = k;
    c->ncalls++;
    return MQ_OK;
}

/* Sends a PING when the broker has been silent for ping_interval (or a
 * call just timed out) and declares the connection dead when the PING goes
 * unanswered for ping_timeout. Returns when to look again. */
static int64_t check_liveness(mq_conn_t *c, int64_t now, int timed_out)
{
    if (!c->established || c->ping_interval_ms <= 0 || c->dead)
        return INT64_MAX;
    if (c->ping_sent_ms) {
        if (now - c->ping_sent_ms < c->ping_timeout_ms)
            return c->ping_sent_ms + c->ping_timeout_ms;
        snprintf(c->err, sizeof(c->err),
                 "no answer to an HTTP/2 PING within %lld ms (connection.ping.timeout.ms): "
                 "the broker or the network is not responding",
                 (long long)c->ping_timeout_ms);
        c->dead = 1;
        return now;
    }
    if (!timed_out && now - c->last_rx_ms < c->ping_interval_ms)
        return c->last_rx_ms + c->ping_interval_ms;
    if (nghttp2_submit_ping(c->session, NGHTTP2_FLAG_NONE, NULL) != 0)
        return INT64_MAX;
    c->ping_sent_ms = now > 0 ? now : 1;
    return c->ping_sent_ms + c->ping_timeout_ms;
}

int64_t mq__conn_expire(mq_conn_t *c, int64_t now)
{
    int64_t next = INT64_MAX;
    int timed_out = 0;
    call_t *k = c->calls;
    while (k) {
        call_t *nx = k->next;
        if (k->deadline_ms <= now) {
            nghttp2_session_set_stream_user_data(c->session, k->stream_id, NULL);
            nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, k->stream_id, NGHTTP2_CANCEL);
            finish_call(c, k, MQ_ERR_TIMED_OUT);
            timed_out = 1;
        } else if (k->deadline_ms < next) {
            next = k->deadline_ms;
        }
        k = nx;
    }
    int64_t live = check_liveness(c, now, timed_out);
    return live < next ? live : next;
}

void mq__conn_free(mq_conn_t *c)
{
    if (!c)
        return;
    while (c->calls) {
        nghttp2_session_set_stream_user_data(c->session, c->calls->stream_id, NULL);
        finish_call(c, c->calls, MQ_ERR_TRANSPORT);
    }
    nghttp2_session_del(c->session);
    mq__tls_session_free(c->ssl);
    close(c->fd);
    free(c);
}

/* ---- the reconnect policy of an I/O thread ------------------------------ */

void mq__conn_apply_conf(mq_conn_t *c, const struct mq_conf *conf)
{
    c->client_id = conf->client_id;
    if (conf->socket_keepalive_enable)
        mq__conn_set_keepalive(c, 60);
    mq__conn_set_liveness(c, conf->connection_ping_interval_ms, conf->connection_ping_timeout_ms);
}

mq_event_t *mq__conn_event_new(mq_conn_state_t state, const char *broker, int32_t attempt,
                               int64_t delay_ms, mq_err_t err, const char *why)
{
    mq_event_t *ev = mq__events_new(1, MQ_EVENT_CONNECTION, broker, err != MQ_OK ? why : NULL);
    if (!ev)
        return NULL;
    ev->block->conn_state = (int)state;
    ev->err = err;
    ev->partition = attempt;
    ev->offset = delay_ms;
    ev->timestamp = mq__wall_ms();
    return ev;
}

size_t mq__conn_failed(mq_backoff_t *b, const struct mq_conf *conf, int64_t connected_at_ms,
                       int64_t now, const char *broker, mq_err_t err, const char *why,
                       int64_t *delay_ms, mq_event_t *out[2])
{
    /* A connection that stayed up long enough was fine: start over. */
    if (connected_at_ms && now - connected_at_ms >= conf->reconnect_backoff_max_ms)
        mq__backoff_reset(b);
    *delay_ms = mq__backoff_next(b);
    size_t n = 0;
    if (connected_at_ms &&
        (out[n] = mq__conn_event_new(MQ_CONN_DISCONNECTED, broker, 0, -1, err, why)))
        n++;
    if ((out[n] =
             mq__conn_event_new(MQ_CONN_RECONNECTING, broker, b->attempts, *delay_ms, err, why)))
        n++;
    return n;
}
