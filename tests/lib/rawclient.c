/* A small blocking gRPC-over-HTTP/2 client for tests (nghttp2 1.52 API). */
#include "rawclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STREAM_WINDOW (1 << 30)
#define CONN_WINDOW (1 << 30)
#define MAX_FRAME (1 << 20)
#define RECV_BUF (256 * 1024)
/* Output is gathered here and written in large sends; nghttp2 is told to
 * wait (WOULDBLOCK) while more than OUT_HIGH bytes are unsent. */
#define OUT_HIGH (128 * 1024)

typedef struct rc_stream {
    int32_t id;
    const uint8_t *req;
    uint8_t *req_owned;
    size_t req_len;
    size_t req_off;
    size_t frame_off; /* start of the DATA frame nghttp2 is about to send */
    int done;
    uint64_t done_seq; /* completion order */
    rc_result_t res;
    size_t body_cap;
    struct rc_stream *next;
} rc_stream_t;

struct rawclient {
    int fd;
    SSL_CTX *ssl_ctx; /* rc_connect_tls only */
    SSL *ssl;
    nghttp2_session *session;
    rc_stream_t *streams;
    int inflight;
    int broken;
    int goaway_error;
    uint64_t done_seq;
    char error[256];
    uint8_t *out; /* unsent bytes are out[out_off, out_len) */
    size_t out_off;
    size_t out_len;
    size_t out_cap;
};

static int flush_out(rawclient_t *rc);

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_broken(rawclient_t *rc, const char *fmt, ...)
{
    if (rc->broken)
        return;
    rc->broken = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rc->error, sizeof rc->error, fmt, ap);
    va_end(ap);
}

static rc_stream_t *find_stream(rawclient_t *rc, int32_t id)
{
    for (rc_stream_t *s = rc->streams; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

static void finish_stream(rawclient_t *rc, rc_stream_t *s)
{
    if (s->done)
        return;
    s->done = 1;
    s->done_seq = ++rc->done_seq;
}

/* ---- nghttp2 callbacks --------------------------------------------------- */

static int out_append(rawclient_t *rc, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    if (rc->out_off == rc->out_len)
        rc->out_off = rc->out_len = 0;
    size_t need = rc->out_len + alen + blen;
    if (need > rc->out_cap) {
        if (rc->out_off > 0) {
            memmove(rc->out, rc->out + rc->out_off, rc->out_len - rc->out_off);
            rc->out_len -= rc->out_off;
            rc->out_off = 0;
            need = rc->out_len + alen + blen;
        }
        size_t cap = rc->out_cap ? rc->out_cap : 64 * 1024;
        while (cap < need)
            cap *= 2;
        if (cap != rc->out_cap) {
            uint8_t *nb = realloc(rc->out, cap);
            if (!nb)
                return -1;
            rc->out = nb;
            rc->out_cap = cap;
        }
    }
    memcpy(rc->out + rc->out_len, a, alen);
    if (blen)
        memcpy(rc->out + rc->out_len + alen, b, blen);
    rc->out_len += alen + blen;
    return 0;
}

static ssize_t send_cb(nghttp2_session *session, const uint8_t *data, size_t length, int flags,
                       void *user)
{
    (void)session;
    (void)flags;
    rawclient_t *rc = user;
    if (rc->out_len - rc->out_off >= OUT_HIGH)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (out_append(rc, data, length, NULL, 0) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)length;
}

/* Request bodies are not copied into nghttp2: read_body_cb only says how
 * much goes in the next DATA frame, and send_data_cb copies header and
 * payload straight into the output buffer. */
static ssize_t read_body_cb(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
                            size_t length, uint32_t *flags, nghttp2_data_source *source, void *user)
{
    (void)session;
    (void)stream_id;
    (void)buf;
    (void)user;
    rc_stream_t *s = source->ptr;
    size_t left = s->req_len - s->req_off;
    size_t n = left < length ? left : length;
    s->frame_off = s->req_off;
    s->req_off += n;
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (s->req_off == s->req_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int send_data_cb(nghttp2_session *session, nghttp2_frame *frame, const uint8_t *framehd,
                        size_t length, nghttp2_data_source *source, void *user)
{
    (void)session;
    (void)frame;
    rawclient_t *rc = user;
    rc_stream_t *s = source->ptr;
    if (rc->out_len - rc->out_off >= OUT_HIGH)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (out_append(rc, framehd, 9, s->req + s->frame_off, length) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* grpc-message is percent-encoded. */
static void percent_decode(char *dst, size_t dstlen, const uint8_t *src, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < dstlen; i++) {
        if (src[i] == '%' && i + 2 < len && hexval(src[i + 1]) >= 0 && hexval(src[i + 2]) >= 0) {
            dst[o++] = (char)(hexval(src[i + 1]) * 16 + hexval(src[i + 2]));
            i += 2;
        } else {
            dst[o++] = (char)src[i];
        }
    }
    dst[o] = '\0';
}

static int header_cb(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    (void)session;
    (void)flags;
    rc_stream_t *s = find_stream(user, frame->hd.stream_id);
    if (!s)
        return 0;
    char v[64];
    size_t vl = valuelen < sizeof v - 1 ? valuelen : sizeof v - 1;
    memcpy(v, value, vl);
    v[vl] = '\0';
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        s->res.http_status = atoi(v);
    } else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
        s->res.grpc_status = atoi(v);
    } else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
        percent_decode(s->res.grpc_message, sizeof s->res.grpc_message, value, valuelen);
    } else if (namelen == 12 && memcmp(name, "content-type", 12) == 0) {
        size_t n =
            valuelen < sizeof s->res.content_type - 1 ? valuelen : sizeof s->res.content_type - 1;
        memcpy(s->res.content_type, value, n);
        s->res.content_type[n] = '\0';
    }
    return 0;
}

static int data_chunk_cb(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *user)
{
    (void)session;
    (void)flags;
    rawclient_t *rc = user;
    rc_stream_t *s = find_stream(rc, stream_id);
    if (!s)
        return 0;
    if (s->res.body_len + len > s->body_cap) {
        size_t cap = s->body_cap ? s->body_cap : 4096;
        while (cap < s->res.body_len + len)
            cap *= 2;
        uint8_t *nb = realloc(s->res.body, cap);
        if (!nb)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        s->res.body = nb;
        s->body_cap = cap;
    }
    memcpy(s->res.body + s->res.body_len, data, len);
    s->res.body_len += len;
    return 0;
}

static int stream_close_cb(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *user)
{
    (void)session;
    rawclient_t *rc = user;
    rc_stream_t *s = find_stream(rc, stream_id);
    if (!s)
        return 0;
    s->res.close_error = error_code;
    finish_stream(rc, s);
    return 0;
}

static int frame_recv_cb(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
    (void)session;
    rawclient_t *rc = user;
    if (frame->hd.type == NGHTTP2_GOAWAY)
        rc->goaway_error = (int)frame->goaway.error_code;
    return 0;
}

/* ---- connection ------------------------------------------------------------ */

static int setup_session(rawclient_t *rc)
{
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return -1;
    nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
    nghttp2_session_callbacks_set_send_data_callback(cbs, send_data_cb);
    nghttp2_session_callbacks_set_on_header_callback(cbs, header_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, data_chunk_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, stream_close_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, frame_recv_cb);
    int rv = nghttp2_session_client_new(&rc->session, cbs, rc);
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0)
        return -1;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, MAX_FRAME},
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000},
    };
    if (nghttp2_submit_settings(rc->session, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]))
        return -1;
    if (nghttp2_session_set_local_window_size(rc->session, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW))
        return -1;
    return 0;
}

static int tcp_connect(const char *host, int port, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int rv = getaddrinfo(host, portstr, &hints, &res);
    if (rv != 0) {
        snprintf(err, errlen, "resolve %s: %s", host, gai_strerror(rv));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        snprintf(err, errlen, "connect %s:%d: %s", host, port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

rawclient_t *rc_connect(const char *host, int port, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    rawclient_t *rc = calloc(1, sizeof *rc);
    if (!rc)
        return NULL;
    rc->goaway_error = -1;
    rc->fd = tcp_connect(host, port, err, errlen);
    if (rc->fd < 0) {
        free(rc);
        return NULL;
    }
    if (setup_session(rc) != 0) {
        snprintf(err, errlen, "nghttp2 session setup failed");
        rc_close(rc);
        return NULL;
    }
    flush_out(rc);
    return rc;
}

/* Drives a client handshake on a non-blocking socket, up to 5 s. */
static int tls_handshake(rawclient_t *rc, char *err, size_t errlen)
{
    long long deadline = mono_ms() + 5000;
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(rc->ssl);
        if (r == 1)
            return 0;
        int e = SSL_get_error(rc->ssl, r);
        struct pollfd pfd = {rc->fd, e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, 0};
        long long left = deadline - mono_ms();
        if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || left <= 0) {
            const char *why = ERR_reason_error_string(ERR_peek_last_error());
            snprintf(err, errlen, "TLS handshake failed: %s",
                     left <= 0 ? "timed out"
                     : why     ? why
                               : "connection closed");
            return -1;
        }
        poll(&pfd, 1, (int)left);
    }
}

rawclient_t *rc_connect_tls(const char *host, int port, const char *ca, const char *cert,
                            const char *key, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    rawclient_t *rc = calloc(1, sizeof *rc);
    if (!rc)
        return NULL;
    rc->goaway_error = -1;
    rc->fd = tcp_connect(host, port, err, errlen);
    if (rc->fd < 0) {
        free(rc);
        return NULL;
    }
    rc->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!rc->ssl_ctx || (ca && SSL_CTX_load_verify_locations(rc->ssl_ctx, ca, NULL) != 1) ||
        (cert && SSL_CTX_use_certificate_chain_file(rc->ssl_ctx, cert) != 1) ||
        (key && SSL_CTX_use_PrivateKey_file(rc->ssl_ctx, key, SSL_FILETYPE_PEM) != 1)) {
        snprintf(err, errlen, "TLS setup: %s", ERR_reason_error_string(ERR_peek_last_error()));
        rc_close(rc);
        return NULL;
    }
    SSL_CTX_set_verify(rc->ssl_ctx, ca ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    static const unsigned char alpn[] = "\x02h2";
    SSL_CTX_set_alpn_protos(rc->ssl_ctx, alpn, sizeof alpn - 1);
    rc->ssl = SSL_new(rc->ssl_ctx);
    if (!rc->ssl || SSL_set_fd(rc->ssl, rc->fd) != 1 || tls_handshake(rc, err, errlen) != 0) {
        if (!err[0])
            snprintf(err, errlen, "TLS session setup failed");
        rc_close(rc);
        return NULL;
    }
    if (setup_session(rc) != 0) {
        snprintf(err, errlen, "nghttp2 session setup failed");
        rc_close(rc);
        return NULL;
    }
    flush_out(rc);
    return rc;
}

rawclient_t *rc_connect_addr(const char *addr, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof host) {
        snprintf(err, errlen, "bad address %s", addr);
        return NULL;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    return rc_connect(host, atoi(colon + 1), err, errlen);
}

static void free_stream(rc_stream_t *s)
{
    free(s->req_owned);
    free(s->res.body);
    free(s);
}

void rc_close(rawclient_t *rc)
{
    if (!rc)
        return;
    if (rc->session)
        nghttp2_session_del(rc->session);
    SSL_free(rc->ssl);
    SSL_CTX_free(rc->ssl_ctx);
    if (rc->fd >= 0)
        close(rc->fd);
    free(rc->out);
    while (rc->streams) {
        rc_stream_t *s = rc->streams;
        rc->streams = s->next;
        free_stream(s);
    }
    free(rc);
}

int rc_inflight(const rawclient_t *rc)
{
    return rc->inflight;
}

int rc_broken(const rawclient_t *rc)
{
    return rc->broken;
}

const char *rc_error(const rawclient_t *rc)
{
    return rc->error;
}

int rc_goaway_error(const rawclient_t *rc)
{
    return rc->goaway_error;
}

int rc_local_port(const rawclient_t *rc)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(rc->fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

/* Marks every unfinished stream failed once the connection is gone. */
static void fail_all(rawclient_t *rc)
{
    for (rc_stream_t *s = rc->streams; s; s = s->next) {
        if (!s->done) {
            s->res.transport_error = 1;
            finish_stream(rc, s);
        }
    }
}

/* Writes what the socket takes now. 0, or -1 once the connection broke. */
static int write_out(rawclient_t *rc)
{
    while (rc->out_off < rc->out_len) {
        ssize_t n;
        if (rc->ssl) {
            size_t w = 0;
            ERR_clear_error();
            int r = SSL_write_ex(rc->ssl, rc->out + rc->out_off, rc->out_len - rc->out_off, &w);
            int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(rc->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return 0;
            if (e != SSL_ERROR_NONE) {
                set_broken(rc, "TLS write: %s", ERR_reason_error_string(ERR_peek_last_error()));
                return -1;
            }
            n = (ssize_t)w;
        } else {
            n = send(rc->fd, rc->out + rc->out_off, rc->out_len - rc->out_off, MSG_NOSIGNAL);
        }
        if (n > 0) {
            rc->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        set_broken(rc, "send: %s", n < 0 ? strerror(errno) : "closed");
        return -1;
    }
    return 0;
}

static int flush_out(rawclient_t *rc)
{
    if (rc->broken)
        return -1;
    for (;;) {
        int rv = nghttp2_session_send(rc->session);
        if (rv != 0) {
            set_broken(rc, "nghttp2_session_send: %s", nghttp2_strerror(rv));
            fail_all(rc);
            return -1;
        }
        size_t before = rc->out_len - rc->out_off;
        if (write_out(rc) != 0) {
            fail_all(rc);
            return -1;
        }
        /* Stop when the socket is full or nghttp2 has nothing more. */
        if (rc->out_off < rc->out_len || before == 0 || !nghttp2_session_want_write(rc->session))
            return 0;
    }
}

static int read_in(rawclient_t *rc)
{
    static __thread uint8_t buf[RECV_BUF];
    for (;;) {
        ssize_t n;
        if (rc->ssl) {
            size_t got = 0;
            ERR_clear_error();
            errno = 0;
            int r = SSL_read_ex(rc->ssl, buf, sizeof buf, &got);
            int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(rc->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return 0;
            if (e == SSL_ERROR_SSL) {
                const char *why = ERR_reason_error_string(ERR_peek_last_error());
                set_broken(rc, "TLS error: %s", why ? why : "?");
                return -1;
            }
            n = e == SSL_ERROR_NONE ? (ssize_t)got : 0;
            if (n > 0) {
                ssize_t used = nghttp2_session_mem_recv(rc->session, buf, (size_t)n);
                if (used < 0) {
                    set_broken(rc, "nghttp2_session_mem_recv: %s", nghttp2_strerror((int)used));
                    return -1;
                }
                continue; /* TLS: read until it would block */
            }
        } else {
            n = recv(rc->fd, buf, sizeof buf, 0);
        }
        if (n == 0) {
            set_broken(rc, "connection closed by the broker");
            return -1;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            if (errno == EINTR)
                continue;
            set_broken(rc, "recv: %s", strerror(errno));
            return -1;
        }
        ssize_t used = nghttp2_session_mem_recv(rc->session, buf, (size_t)n);
        if (used < 0) {
            set_broken(rc, "nghttp2_session_mem_recv: %s", nghttp2_strerror((int)used));
            return -1;
        }
        if ((size_t)n < sizeof buf)
            return 0;
    }
}

/* One round of I/O: send what is pending, wait up to timeout_ms for input. */
static int pump_once(rawclient_t *rc, int timeout_ms)
{
    if (flush_out(rc) != 0)
        return -1;
    if (!nghttp2_session_want_read(rc->session) && !nghttp2_session_want_write(rc->session) &&
        rc->out_off == rc->out_len) {
        set_broken(rc, "session finished (GOAWAY %d)", rc->goaway_error);
        fail_all(rc);
        return -1;
    }
    struct pollfd pfd = {rc->fd, POLLIN, 0};
    if (rc->out_off < rc->out_len)
        pfd.events |= POLLOUT;
    int n = poll(&pfd, 1, timeout_ms);
    if (n < 0 && errno != EINTR) {
        set_broken(rc, "poll: %s", strerror(errno));
        fail_all(rc);
        return -1;
    }
    if (n > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
        if (read_in(rc) != 0) {
            fail_all(rc);
            return -1;
        }
    }
    return flush_out(rc);
}

int rc_pump(rawclient_t *rc, int timeout_ms)
{
    long long deadline = mono_ms() + timeout_ms;
    do {
        long long left = deadline - mono_ms();
        if (pump_once(rc, left > 0 ? (int)left : 0) != 0)
            return -1;
    } while (mono_ms() < deadline);
    return 0;
}

int32_t rc_submit(rawclient_t *rc, const char *path, const void *body, size_t len,
                  const rc_call_opts_t *opts)
{
    rc_call_opts_t none = {0};
    if (!opts)
        opts = &none;
    if (rc->broken)
        return -1;
    rc_stream_t *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->res.grpc_status = -1;
    size_t prefix = opts->raw_body ? 0 : 5;
    s->req_len = len + prefix;
    if (opts->raw_body && opts->borrow_body) {
        s->req = body;
    } else {
        uint8_t *buf = malloc(s->req_len ? s->req_len : 1);
        if (!buf) {
            free(s);
            return -1;
        }
        if (prefix) {
            buf[0] = 0;
            buf[1] = (uint8_t)(len >> 24);
            buf[2] = (uint8_t)(len >> 16);
            buf[3] = (uint8_t)(len >> 8);
            buf[4] = (uint8_t)len;
        }
        if (len)
            memcpy(buf + prefix, body, len);
        s->req = s->req_owned = buf;
    }

    char timeout[32];
    snprintf(timeout, sizeof timeout, "%dm", opts->grpc_timeout_ms);
    const char *ct = opts->content_type ? opts->content_type : "application/grpc";
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}
    nghttp2_nv nva[40] = {
        NV(":method", "POST"), NV(":scheme", "http"),  NV(":authority", "127.0.0.1"),
        NV(":path", path),     NV("content-type", ct), NV("te", "trailers"),
    };
    size_t n = 6;
    if (opts->grpc_timeout_ms > 0)
        nva[n++] = (nghttp2_nv)NV("grpc-timeout", timeout);
    for (size_t i = 0; i < opts->header_count && n < 40; i++)
        nva[n++] = (nghttp2_nv)NV(opts->headers[i].name, opts->headers[i].value);
#undef NV
    nghttp2_data_provider dp = {.source.ptr = s, .read_callback = read_body_cb};
    int32_t id = nghttp2_submit_request(rc->session, NULL, nva, n, &dp, s);
    if (id < 0) {
        snprintf(rc->error, sizeof rc->error, "nghttp2_submit_request: %s", nghttp2_strerror(id));
        free_stream(s);
        return -1;
    }
    s->id = id;
    s->res.stream_id = id;
    s->next = rc->streams;
    rc->streams = s;
    rc->inflight++;
    flush_out(rc);
    return id;
}

/* Locates the first gRPC message in the body. */
static void parse_body(rc_result_t *r)
{
    size_t off = 0;
    r->msg = NULL;
    r->msg_len = 0;
    r->msg_count = 0;
    while (r->body_len - off >= 5) {
        const uint8_t *p = r->body + off;
        size_t mlen = ((size_t)p[1] << 24) | ((size_t)p[2] << 16) | ((size_t)p[3] << 8) | p[4];
        if (r->body_len - off - 5 < mlen)
            break;
        if (r->msg_count == 0) {
            r->msg_compressed = p[0];
            r->msg = p + 5;
            r->msg_len = mlen;
        }
        r->msg_count++;
        off += 5 + mlen;
    }
}

/* Unlinks s and hands its result to out. */
static void take_result(rawclient_t *rc, rc_stream_t *s, rc_result_t *out)
{
    rc_stream_t **pp = &rc->streams;
    while (*pp != s)
        pp = &(*pp)->next;
    *pp = s->next;
    rc->inflight--;
    *out = s->res;
    s->res.body = NULL;
    parse_body(out);
    if (!out->transport_error && out->close_error == 0 && out->grpc_status < 0 && rc->broken)
        out->transport_error = 1;
    free_stream(s);
}

static rc_stream_t *first_done(rawclient_t *rc)
{
    rc_stream_t *best = NULL;
    for (rc_stream_t *s = rc->streams; s; s = s->next)
        if (s->done && (!best || s->done_seq < best->done_seq))
            best = s;
    return best;
}

int rc_poll(rawclient_t *rc, int timeout_ms, rc_result_t *out)
{
    if (rc->inflight == 0)
        return -1;
    long long deadline = mono_ms() + timeout_ms;
    for (;;) {
        rc_stream_t *s = first_done(rc);
        if (s) {
            take_result(rc, s, out);
            return 1;
        }
        long long left = deadline - mono_ms();
        if (left <= 0)
            return 0;
        if (pump_once(rc, left > 100 ? 100 : (int)left) != 0)
            fail_all(rc);
    }
}

int rc_wait(rawclient_t *rc, int32_t stream_id, int timeout_ms, rc_result_t *out)
{
    rc_stream_t *s = find_stream(rc, stream_id);
    if (!s)
        return -1;
    long long deadline = mono_ms() + timeout_ms;
    while (!s->done) {
        long long left = deadline - mono_ms();
        if (left <= 0) {
            nghttp2_submit_rst_stream(rc->session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
            flush_out(rc);
            s->res.timed_out = 1;
            take_result(rc, s, out);
            return 0;
        }
        if (pump_once(rc, left > 100 ? 100 : (int)left) != 0)
            fail_all(rc);
    }
    take_result(rc, s, out);
    return 1;
}

int rc_unary(rawclient_t *rc, const char *path, const void *body, size_t len,
             const rc_call_opts_t *opts, int timeout_ms, rc_result_t *out)
{
    memset(out, 0, sizeof *out);
    out->grpc_status = -1;
    int32_t id = rc_submit(rc, path, body, len, opts);
    if (id < 0) {
        out->transport_error = 1;
        return -1;
    }
    return rc_wait(rc, id, timeout_ms, out);
}

void rc_result_free(rc_result_t *r)
{
    free(r->body);
    r->body = NULL;
    r->msg = NULL;
}
