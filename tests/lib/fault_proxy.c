/* A loopback TCP proxy for fault injection in tests (see fault_proxy.h).
 *
 * One thread polls the listening socket, a wake-up eventfd and both sockets
 * of every connection. Each direction keeps a FIFO of chunks, each with the
 * time it may be written (for delays). Bytes are looked at as they are
 * read: client to server, HEADERS blocks are decoded to learn each
 * request's :path (every block must be decoded, to keep the HPACK dynamic
 * table in step with the server's); server to client, only the 9-byte frame
 * headers matter, to find the frames of a response to drop. Controls take
 * the mutex, change the settings and wake the thread. */
#include "fault_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define C2S 0 /* read from the client, written to the server */
#define S2C 1
#define READ_CHUNK (128 * 1024)
#define QUEUE_MAX (1024 * 1024) /* stop reading a direction above this */
#define FRAME_HDR 9
#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PREFACE_LEN 24
#define PATH_SLOTS 16

#define H2_DATA 0
#define H2_HEADERS 1
#define H2_RST_STREAM 3
#define H2_SETTINGS 4
#define H2_CONTINUATION 9
#define H2_END_STREAM 0x1
#define H2_ACK 0x1
#define H2_END_HEADERS 0x4
#define H2_PADDED 0x8
#define H2_PRIORITY 0x20

typedef struct chunk {
    struct chunk *next;
    long long due_ms;
    size_t off, len;
    uint8_t data[];
} chunk_t;

typedef struct queue {
    chunk_t *head, *tail;
    size_t bytes;
} queue_t;

/* Incremental HTTP/2 frame reader for one direction. */
typedef struct h2_reader {
    int preface_left; /* client preface bytes still to skip */
    uint8_t hdr[FRAME_HDR];
    int hdr_len;
    uint32_t left; /* payload bytes of the current frame still to come */
    uint8_t type, flags;
    int32_t sid;
    int capture;  /* the payload is kept (HEADERS, CONTINUATION, SETTINGS) */
    uint8_t *buf; /* kept payload; for headers, the block so far */
    size_t len, cap;
    size_t frame_start; /* where this frame's payload starts in buf */
    int broken;         /* gave up parsing (bad framing or HPACK) */
} h2_reader_t;

typedef struct conn {
    struct conn *next;
    int fd[2];      /* [C2S] client socket, [S2C] upstream socket */
    int connecting; /* upstream connect in progress */
    int eof[2];     /* fd[d] was closed by its peer */
    queue_t q[2];   /* q[d]: read from fd[d], written to fd[1 - d] */
    h2_reader_t r[2];
    nghttp2_hd_inflater *inflater;
    int32_t last_request_sid;
    int32_t target_sid;  /* the response to drop (0 = none) */
    int target_forward;  /* its frames still let through */
    int dropping;        /* every server-to-client byte is dropped */
    int close_after;     /* reset once the current s2c frame is consumed */
    int close_now;       /* reset at the end of this round */
    int reset_when_sent; /* reset once what was let through is written */
} conn_t;

typedef struct path_count {
    char path[96];
    uint64_t count;
} path_count_t;

struct fault_proxy {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int listen_fd;
    int wake_fd;
    int port;
    char addr[64];
    struct sockaddr_in upstream;
    conn_t *conns;
    int stop;
    /* Settings, under lock. */
    int delay_ms[2];
    int blackhole;
    int refuse;
    int armed; /* fp_drop_response waiting for its trigger */
    char armed_path[96];
    int armed_forward;
    uint64_t drop_asked, drop_done;
    int chaos_on;
    fp_chaos_t chaos;
    char chaos_path[96];
    uint64_t rng;
    long long chaos_next_drop_ms;
    long long chaos_frozen_until; /* a chaos blackhole lasts until then */
    fp_counters_t n;
    path_count_t paths[PATH_SLOTS];
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* splitmix64: small, and the same seed gives the same draws everywhere. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int rng_range(uint64_t *s, int lo, int hi)
{
    if (hi <= lo)
        return lo;
    return lo + (int)(rng_next(s) % (uint64_t)(hi - lo + 1));
}

static void wake(fault_proxy_t *fp)
{
    uint64_t one = 1;
    ssize_t r = write(fp->wake_fd, &one, sizeof one);
    (void)r;
}

static void set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Closes with RST (SO_LINGER 0) when reset, else with FIN. */
static void close_fd(int fd, int reset)
{
    if (fd < 0)
        return;
    if (reset) {
        struct linger lg = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(fd);
}

static int resolve(const char *host, int port, struct sockaddr_in *out)
{
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    if (!strcmp(host, "localhost"))
        host = "127.0.0.1";
    return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

/* ---- queues --------------------------------------------------------------- */

static void queue_push(queue_t *q, chunk_t *c)
{
    c->next = NULL;
    if (q->tail && q->tail->due_ms > c->due_ms)
        c->due_ms = q->tail->due_ms; /* a later chunk never overtakes */
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->bytes += c->len;
}

static void queue_clear(queue_t *q)
{
    while (q->head) {
        chunk_t *n = q->head->next;
        free(q->head);
        q->head = n;
    }
    q->tail = NULL;
    q->bytes = 0;
}

/* ---- connections ---------------------------------------------------------- */

static void conn_free(fault_proxy_t *fp, conn_t *c, int reset)
{
    close_fd(c->fd[C2S], reset);
    close_fd(c->fd[S2C], reset);
    for (int d = 0; d < 2; d++) {
        queue_clear(&c->q[d]);
        free(c->r[d].buf);
    }
    if (c->inflater)
        nghttp2_hd_inflate_del(c->inflater);
    fp->n.closed++;
    fp->n.open--;
    free(c);
}

/* Closes every connection with close_now set. */
static void reap(fault_proxy_t *fp)
{
    conn_t **pp = &fp->conns;
    while (*pp) {
        conn_t *c = *pp;
        if (!c->close_now) {
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        conn_free(fp, c, c->close_now > 1);
    }
}

/* close_now: 1 = graceful, 2 = reset. */
static void fault_close(fault_proxy_t *fp, conn_t *c)
{
    if (c->close_now == 2)
        return;
    c->close_now = 2;
    fp->n.faults++;
}

static void drop_all(fault_proxy_t *fp)
{
    for (conn_t *c = fp->conns; c; c = c->next)
        fault_close(fp, c);
    reap(fp);
}

static void accept_one(fault_proxy_t *fp, int cfd)
{
    fp->n.accepted++;
    set_nodelay(cfd);
    if (fp->refuse) {
        fp->n.refused++;
        close_fd(cfd, 1);
        return;
    }
    int sfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    conn_t *c = calloc(1, sizeof *c);
    if (sfd < 0 || !c || nghttp2_hd_inflate_new(&c->inflater) != 0) {
        close_fd(sfd, 1);
        close_fd(cfd, 1);
        free(c);
        fp->n.upstream_failed++;
        return;
    }
    set_nodelay(sfd);
    c->fd[C2S] = cfd;
    c->fd[S2C] = sfd;
    c->r[C2S].preface_left = PREFACE_LEN;
    int rc = connect(sfd, (struct sockaddr *)&fp->upstream, sizeof fp->upstream);
    if (rc != 0 && errno != EINPROGRESS) {
        nghttp2_hd_inflate_del(c->inflater);
        free(c);
        close_fd(sfd, 1);
        close_fd(cfd, 1);
        fp->n.upstream_failed++;
        return;
    }
    c->connecting = rc != 0;
    c->next = fp->conns;
    fp->conns = c;
    fp->n.open++;
}

static void accept_all(fault_proxy_t *fp)
{
    for (;;) {
        int cfd = accept4(fp->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            return;
        accept_one(fp, cfd);
    }
}

/* ---- reading HTTP/2 ------------------------------------------------------- */

static int reader_keep(h2_reader_t *r, const uint8_t *p, size_t n)
{
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n)
            cap *= 2;
        uint8_t *nb = realloc(r->buf, cap);
        if (!nb)
            return -1;
        r->buf = nb;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, p, n);
    r->len += n;
    return 0;
}

static void count_path(fault_proxy_t *fp, const char *path)
{
    for (int i = 0; i < PATH_SLOTS; i++) {
        path_count_t *pc = &fp->paths[i];
        if (pc->count && strcmp(pc->path, path))
            continue;
        if (!pc->count)
            snprintf(pc->path, sizeof pc->path, "%s", path);
        pc->count++;
        return;
    }
}

static int path_matches(const char *path, const char *want)
{
    return !want[0] || strstr(path, want) != NULL;
}

/* A new request on stream sid: count it, and maybe make it the target. */
static void on_request(fault_proxy_t *fp, conn_t *c, int32_t sid, const char *path)
{
    fp->n.requests++;
    count_path(fp, path);
    if (c->target_sid)
        return;
    if (fp->armed && path_matches(path, fp->armed_path)) {
        fp->armed = 0;
        c->target_sid = sid;
        c->target_forward = fp->armed_forward;
        return;
    }
    if (fp->chaos_on && fp->chaos.response_drop_permille > 0 &&
        path_matches(path, fp->chaos_path) &&
        rng_range(&fp->rng, 0, 999) < fp->chaos.response_drop_permille) {
        c->target_sid = sid;
        c->target_forward = 0;
    }
}

/* Decodes a complete header block (keeping the HPACK table in step). */
static void on_header_block(fault_proxy_t *fp, conn_t *c, int32_t sid, uint8_t *in, size_t len)
{
    char path[96] = "";
    for (;;) {
        nghttp2_nv nv;
        int fl = 0;
        ssize_t n = nghttp2_hd_inflate_hd2(c->inflater, &nv, &fl, in, len, 1);
        if (n < 0) {
            c->r[C2S].broken = 1;
            return;
        }
        in += n;
        len -= (size_t)n;
        if ((fl & NGHTTP2_HD_INFLATE_EMIT) && nv.namelen == 5 && !memcmp(nv.name, ":path", 5))
            snprintf(path, sizeof path, "%.*s", (int)nv.valuelen, (const char *)nv.value);
        if (fl & NGHTTP2_HD_INFLATE_FINAL) {
            nghttp2_hd_inflate_end_headers(c->inflater);
            break;
        }
        if (n == 0 && !(fl & NGHTTP2_HD_INFLATE_EMIT) && len == 0)
            break;
    }
    /* Stream ids of new requests grow; anything else is a trailer. */
    if (sid > c->last_request_sid) {
        c->last_request_sid = sid;
        on_request(fp, c, sid, path);
    }
}

/* The server's SETTINGS_HEADER_TABLE_SIZE bounds the client's encoder. */
static void on_settings(conn_t *c, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 6 <= len; i += 6) {
        uint16_t id = (uint16_t)(p[i] << 8 | p[i + 1]);
        uint32_t v = (uint32_t)p[i + 2] << 24 | (uint32_t)p[i + 3] << 16 | (uint32_t)p[i + 4] << 8 |
                     p[i + 5];
        if (id == 1)
            nghttp2_hd_inflate_change_table_size(c->inflater, v);
    }
}

/* A whole client-to-server HEADERS/CONTINUATION payload is in r->buf. */
static void c2s_frame_end(fault_proxy_t *fp, conn_t *c)
{
    h2_reader_t *r = &c->r[C2S];
    if (r->type == H2_HEADERS) {
        /* Strip padding and priority from this frame's part of the block. */
        uint8_t *p = r->buf + r->frame_start;
        size_t n = r->len - r->frame_start, skip = 0, pad = 0;
        if (r->flags & H2_PADDED) {
            pad = n ? p[0] : 0;
            skip = 1;
        }
        if (r->flags & H2_PRIORITY)
            skip += 5;
        if (skip + pad > n) {
            r->broken = 1;
            return;
        }
        memmove(p, p + skip, n - skip - pad);
        r->len = r->frame_start + n - skip - pad;
    }
    if (r->flags & H2_END_HEADERS) {
        on_header_block(fp, c, r->sid, r->buf, r->len);
        r->len = 0;
    }
    r->frame_start = r->len;
}

/* Looks at a server-to-client frame header; returns 1 to forward the frame. */
static int s2c_frame_start(fault_proxy_t *fp, conn_t *c)
{
    h2_reader_t *r = &c->r[S2C];
    int ends = ((r->type == H2_HEADERS || r->type == H2_DATA) && (r->flags & H2_END_STREAM)) ||
               r->type == H2_RST_STREAM;
    int of_target = c->target_sid && r->sid == c->target_sid &&
                    (r->type == H2_HEADERS || r->type == H2_DATA || r->type == H2_CONTINUATION ||
                     r->type == H2_RST_STREAM);
    if (of_target && !c->dropping) {
        if (c->target_forward > 0) {
            c->target_forward--;
            if (ends)
                c->target_sid = 0; /* it all went through: nothing to drop */
            return 1;
        }
        c->dropping = 1;
        fp->n.responses_dropped++;
    }
    if (c->dropping && of_target && ends)
        c->close_after = 1;
    return !c->dropping;
}

/* Feeds n bytes read in direction d through the frame reader; the bytes to
 * forward are appended to out (*olen). */
static void parse(fault_proxy_t *fp, conn_t *c, int d, const uint8_t *p, size_t n, uint8_t *out,
                  size_t *olen)
{
    h2_reader_t *r = &c->r[d];
    int fwd = !(d == S2C && c->dropping);
    while (n > 0 && !c->close_now && !c->reset_when_sent) {
        if (r->broken) {
            fwd = !(d == S2C && c->dropping);
            if (fwd) {
                memcpy(out + *olen, p, n);
                *olen += n;
            }
            return;
        }
        if (r->preface_left > 0) {
            size_t k = n < (size_t)r->preface_left ? n : (size_t)r->preface_left;
            /* Not HTTP/2 prior knowledge (TLS, say): only copy bytes. */
            if (memcmp(p, PREFACE + (PREFACE_LEN - r->preface_left), k) != 0)
                c->r[C2S].broken = c->r[S2C].broken = 1;
            memcpy(out + *olen, p, k);
            *olen += k;
            r->preface_left -= (int)k;
            p += k;
            n -= k;
            continue;
        }
        if (r->left == 0 && r->hdr_len < FRAME_HDR) {
            /* Frame header bytes wait here until all 9 are in. */
            size_t k = FRAME_HDR - (size_t)r->hdr_len;
            if (k > n)
                k = n;
            memcpy(r->hdr + r->hdr_len, p, k);
            r->hdr_len += (int)k;
            p += k;
            n -= k;
            if (r->hdr_len < FRAME_HDR)
                return;
            r->left = (uint32_t)r->hdr[0] << 16 | (uint32_t)r->hdr[1] << 8 | r->hdr[2];
            r->type = r->hdr[3];
            r->flags = r->hdr[4];
            r->sid = (int32_t)(((uint32_t)r->hdr[5] << 24 | (uint32_t)r->hdr[6] << 16 |
                                (uint32_t)r->hdr[7] << 8 | r->hdr[8]) &
                               0x7fffffff);
            if (d == C2S)
                r->capture = r->type == H2_HEADERS || r->type == H2_CONTINUATION;
            else
                r->capture = r->type == H2_SETTINGS && !(r->flags & H2_ACK);
            fwd = d == C2S ? 1 : s2c_frame_start(fp, c);
            if (fwd) {
                memcpy(out + *olen, r->hdr, FRAME_HDR);
                *olen += FRAME_HDR;
            }
        } else {
            size_t k = n < r->left ? n : r->left;
            if (fwd) {
                memcpy(out + *olen, p, k);
                *olen += k;
            }
            if (r->capture && reader_keep(r, p, k) != 0)
                r->broken = 1;
            r->left -= (uint32_t)k;
            p += k;
            n -= k;
        }
        if (r->left > 0)
            continue;
        /* The frame is complete. */
        r->hdr_len = 0;
        if (d == C2S && r->capture)
            c2s_frame_end(fp, c);
        if (d == S2C && r->capture) {
            on_settings(c, r->buf, r->len);
            r->len = 0;
        }
        if (d == S2C && c->close_after) {
            /* What came before the dropped part still reaches the client. */
            c->reset_when_sent = 1;
            return;
        }
    }
}

/* Reads what fd[d] has and queues it for the other side. */
static void read_dir(fault_proxy_t *fp, conn_t *c, int d, long long now)
{
    uint8_t in[READ_CHUNK];
    ssize_t n = read(c->fd[d], in, sizeof in);
    if (n == 0) {
        c->eof[d] = 1;
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            c->close_now = c->close_now ? c->close_now : 1;
        return;
    }
    /* Forwarded bytes can exceed what was read by a held frame header. */
    chunk_t *ch = malloc(sizeof *ch + (size_t)n + FRAME_HDR);
    if (!ch) {
        fault_close(fp, c);
        return;
    }
    ch->off = ch->len = 0;
    parse(fp, c, d, in, (size_t)n, ch->data, &ch->len);
    if (d == C2S) {
        fp->n.dropped_c2s += (uint64_t)n > ch->len ? (uint64_t)n - ch->len : 0;
    } else {
        fp->n.dropped_s2c += (uint64_t)n > ch->len ? (uint64_t)n - ch->len : 0;
    }
    if (ch->len == 0) {
        free(ch);
        return;
    }
    int jitter = fp->chaos_on ? rng_range(&fp->rng, 0, fp->chaos.delay_jitter_ms) : 0;
    ch->due_ms = now + fp->delay_ms[d] + jitter;
    queue_push(&c->q[d], ch);
}

/* Writes due chunks of direction d to fd[1 - d]. */
static void write_dir(fault_proxy_t *fp, conn_t *c, int d, long long now)
{
    queue_t *q = &c->q[d];
    while (q->head && q->head->due_ms <= now) {
        chunk_t *ch = q->head;
        ssize_t w = send(c->fd[1 - d], ch->data + ch->off, ch->len - ch->off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno != EAGAIN && errno != EINTR)
                c->close_now = c->close_now ? c->close_now : 1;
            return;
        }
        ch->off += (size_t)w;
        q->bytes -= (size_t)w;
        if (d == C2S)
            fp->n.bytes_c2s += (uint64_t)w;
        else
            fp->n.bytes_s2c += (uint64_t)w;
        if (ch->off < ch->len)
            return;
        q->head = ch->next;
        if (!q->head)
            q->tail = NULL;
        free(ch);
    }
}

/* ---- the loop ------------------------------------------------------------- */

static short want_events(const conn_t *c, int side, long long now)
{
    short ev = 0;
    if (c->connecting)
        return side == S2C ? POLLOUT : 0;
    const queue_t *q = &c->q[1 - side];
    int due = q->head && q->head->due_ms <= now;
    if (c->reset_when_sent)
        return side == C2S && due ? POLLOUT : 0;
    /* Read side `side` when its queue has room; write to it what the
     * other direction has due. */
    if (!c->eof[side] && c->q[side].bytes < QUEUE_MAX)
        ev |= POLLIN;
    if (due)
        ev |= POLLOUT;
    return ev;
}

static int frozen(const fault_proxy_t *fp, long long now)
{
    return fp->blackhole || now < fp->chaos_frozen_until;
}

static long long next_due(const fault_proxy_t *fp, long long now)
{
    long long next = now + 1000;
    if (fp->chaos_on && fp->chaos_next_drop_ms && fp->chaos_next_drop_ms < next)
        next = fp->chaos_next_drop_ms;
    if (fp->chaos_frozen_until > now && fp->chaos_frozen_until < next)
        next = fp->chaos_frozen_until;
    if (frozen(fp, now))
        return next;
    for (const conn_t *c = fp->conns; c; c = c->next)
        for (int d = 0; d < 2; d++)
            if (c->q[d].head && c->q[d].head->due_ms > now && c->q[d].head->due_ms < next)
                next = c->q[d].head->due_ms;
    return next;
}

static void chaos_tick(fault_proxy_t *fp, long long now)
{
    if (!fp->chaos_on || fp->chaos.drop_max_ms <= 0)
        return;
    if (!fp->chaos_next_drop_ms) {
        fp->chaos_next_drop_ms =
            now + rng_range(&fp->rng, fp->chaos.drop_min_ms, fp->chaos.drop_max_ms);
        return;
    }
    if (now < fp->chaos_next_drop_ms)
        return;
    const fp_chaos_t *ch = &fp->chaos;
    if (ch->blackhole_permille > 0 && rng_range(&fp->rng, 0, 999) < ch->blackhole_permille) {
        fp->n.chaos_blackholes++;
        fp->chaos_frozen_until =
            now + rng_range(&fp->rng, ch->blackhole_min_ms, ch->blackhole_max_ms);
        /* The next interval starts when this blackhole ends. */
        now = fp->chaos_frozen_until;
    } else {
        fp->n.chaos_drops++;
        drop_all(fp);
    }
    fp->chaos_next_drop_ms = now + rng_range(&fp->rng, ch->drop_min_ms, ch->drop_max_ms);
}

static void finish_connect(fault_proxy_t *fp, conn_t *c, short rev)
{
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(c->fd[S2C], SOL_SOCKET, SO_ERROR, &err, &l);
    if (err || (rev & (POLLERR | POLLHUP))) {
        fp->n.upstream_failed++;
        c->close_now = 2;
        return;
    }
    if (rev & POLLOUT)
        c->connecting = 0;
}

static void serve(fault_proxy_t *fp, conn_t *c, const struct pollfd *pf, long long now)
{
    if (c->connecting) {
        finish_connect(fp, c, pf[S2C].revents);
        return;
    }
    for (int side = 0; side < 2 && !c->close_now && !c->reset_when_sent; side++) {
        short rev = pf[side].revents;
        if (rev & (POLLIN | POLLHUP | POLLERR))
            read_dir(fp, c, side, now);
    }
    for (int d = 0; d < 2 && !c->close_now; d++)
        write_dir(fp, c, d, now);
    if (c->reset_when_sent && !c->q[S2C].head)
        fault_close(fp, c);
    /* A side that closed: pass on what it sent, then close the other. */
    for (int d = 0; d < 2 && !c->close_now; d++)
        if (c->eof[d] && !c->q[d].head)
            c->close_now = 1;
}

static void *proxy_main(void *arg)
{
    fault_proxy_t *fp = arg;
    struct pollfd *pfs = NULL;
    size_t cap = 0;
    pthread_mutex_lock(&fp->lock);
    while (!fp->stop) {
        long long now = now_ms();
        if (fp->drop_done != fp->drop_asked) {
            drop_all(fp);
            fp->drop_done = fp->drop_asked;
            pthread_cond_broadcast(&fp->cond);
        }
        chaos_tick(fp, now);
        int fz = frozen(fp, now);
        size_t nconn = 0;
        for (conn_t *c = fp->conns; c; c = c->next)
            nconn++;
        if (2 + 2 * nconn > cap) {
            cap = 2 * (2 + 2 * nconn);
            struct pollfd *np = realloc(pfs, cap * sizeof *pfs);
            if (!np)
                break;
            pfs = np;
        }
        pfs[0] = (struct pollfd){.fd = fp->wake_fd, .events = POLLIN};
        pfs[1] = (struct pollfd){.fd = fp->listen_fd, .events = POLLIN};
        size_t i = 2;
        for (conn_t *c = fp->conns; c; c = c->next, i += 2)
            for (int side = 0; side < 2; side++)
                pfs[i + side] = (struct pollfd){
                    .fd = fz ? -1 : c->fd[side],
                    .events = want_events(c, side, now),
                };
        int timeout = (int)(next_due(fp, now) - now);
        pthread_mutex_unlock(&fp->lock);
        int n = poll(pfs, i, timeout < 0 ? 0 : timeout);
        pthread_mutex_lock(&fp->lock);
        if (n < 0)
            continue;
        if (pfs[0].revents & POLLIN) {
            uint64_t v;
            ssize_t r = read(fp->wake_fd, &v, sizeof v);
            (void)r;
        }
        now = now_ms();
        /* Frozen again: a blackhole set during poll holds from now on. */
        fz = frozen(fp, now);
        /* Connections are only added by accept_all below, after this walk,
         * so pfs lines up with the list. */
        i = 2;
        for (conn_t *c = fp->conns; c; c = c->next, i += 2)
            if (!fz)
                serve(fp, c, &pfs[i], now);
        reap(fp);
        if (pfs[1].revents & POLLIN)
            accept_all(fp);
    }
    for (conn_t *c = fp->conns; c; c = c->next)
        c->close_now = 2;
    reap(fp);
    pthread_mutex_unlock(&fp->lock);
    free(pfs);
    return NULL;
}

/* ---- public --------------------------------------------------------------- */

fault_proxy_t *fp_start(const char *upstream_host, int upstream_port, char *err, size_t errlen)
{
    fault_proxy_t *fp = calloc(1, sizeof *fp);
    if (!fp) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    fp->listen_fd = fp->wake_fd = -1;
    if (!upstream_host || resolve(upstream_host, upstream_port, &fp->upstream) != 0) {
        snprintf(err, errlen, "upstream host \"%s\" is not an IPv4 address",
                 upstream_host ? upstream_host : "(null)");
        free(fp);
        return NULL;
    }
    fp->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (fp->listen_fd < 0 || bind(fp->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(fp->listen_fd, 128) != 0 ||
        getsockname(fp->listen_fd, (struct sockaddr *)&a, &l) != 0) {
        snprintf(err, errlen, "listen on 127.0.0.1:0: %s", strerror(errno));
        close_fd(fp->listen_fd, 0);
        free(fp);
        return NULL;
    }
    fp->port = ntohs(a.sin_port);
    snprintf(fp->addr, sizeof fp->addr, "127.0.0.1:%d", fp->port);
    fp->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&fp->lock, NULL);
    pthread_cond_init(&fp->cond, NULL);
    if (fp->wake_fd < 0 || pthread_create(&fp->thread, NULL, proxy_main, fp) != 0) {
        snprintf(err, errlen, "cannot start the proxy thread: %s", strerror(errno));
        close_fd(fp->wake_fd, 0);
        close_fd(fp->listen_fd, 0);
        pthread_mutex_destroy(&fp->lock);
        pthread_cond_destroy(&fp->cond);
        free(fp);
        return NULL;
    }
    return fp;
}

void fp_stop(fault_proxy_t *fp)
{
    if (!fp)
        return;
    pthread_mutex_lock(&fp->lock);
    fp->stop = 1;
    pthread_mutex_unlock(&fp->lock);
    wake(fp);
    pthread_join(fp->thread, NULL);
    close_fd(fp->listen_fd, 0);
    close_fd(fp->wake_fd, 0);
    pthread_mutex_destroy(&fp->lock);
    pthread_cond_destroy(&fp->cond);
    free(fp);
}

int fp_port(const fault_proxy_t *fp)
{
    return fp->port;
}

const char *fp_addr(const fault_proxy_t *fp)
{
    return fp->addr;
}

int fp_set_upstream(fault_proxy_t *fp, const char *host, int port)
{
    struct sockaddr_in a;
    if (!host || resolve(host, port, &a) != 0)
        return -1;
    pthread_mutex_lock(&fp->lock);
    fp->upstream = a;
    pthread_mutex_unlock(&fp->lock);
    return 0;
}

void fp_drop_all(fault_proxy_t *fp)
{
    pthread_mutex_lock(&fp->lock);
    uint64_t ticket = ++fp->drop_asked;
    wake(fp);
    while (fp->drop_done < ticket && !fp->stop)
        pthread_cond_wait(&fp->cond, &fp->lock);
    pthread_mutex_unlock(&fp->lock);
}

void fp_drop_response(fault_proxy_t *fp, const char *path_substr, int forward_frames)
{
    pthread_mutex_lock(&fp->lock);
    fp->armed = 1;
    snprintf(fp->armed_path, sizeof fp->armed_path, "%s", path_substr ? path_substr : "");
    fp->armed_forward = forward_frames < 0 ? 0 : forward_frames;
    pthread_mutex_unlock(&fp->lock);
}

void fp_set_delay(fault_proxy_t *fp, int c2s_ms, int s2c_ms)
{
    pthread_mutex_lock(&fp->lock);
    fp->delay_ms[C2S] = c2s_ms < 0 ? 0 : c2s_ms;
    fp->delay_ms[S2C] = s2c_ms < 0 ? 0 : s2c_ms;
    pthread_mutex_unlock(&fp->lock);
    wake(fp);
}

void fp_set_blackhole(fault_proxy_t *fp, int on)
{
    pthread_mutex_lock(&fp->lock);
    fp->blackhole = on;
    pthread_mutex_unlock(&fp->lock);
    wake(fp);
}

void fp_set_refuse(fault_proxy_t *fp, int on)
{
    pthread_mutex_lock(&fp->lock);
    fp->refuse = on;
    pthread_mutex_unlock(&fp->lock);
}

void fp_set_chaos(fault_proxy_t *fp, const fp_chaos_t *chaos)
{
    pthread_mutex_lock(&fp->lock);
    fp->chaos_on = chaos != NULL;
    if (chaos) {
        fp->chaos = *chaos;
        snprintf(fp->chaos_path, sizeof fp->chaos_path, "%s",
                 chaos->response_path ? chaos->response_path : "");
        fp->chaos.response_path = fp->chaos_path;
        if (fp->chaos.delay_jitter_ms < 0)
            fp->chaos.delay_jitter_ms = 0;
        fp->rng = chaos->seed;
    }
    fp->chaos_next_drop_ms = 0;
    fp->chaos_frozen_until = 0;
    pthread_mutex_unlock(&fp->lock);
    wake(fp);
}

void fp_get_counters(fault_proxy_t *fp, fp_counters_t *out)
{
    pthread_mutex_lock(&fp->lock);
    *out = fp->n;
    pthread_mutex_unlock(&fp->lock);
}

uint64_t fp_requests(fault_proxy_t *fp, const char *path_substr)
{
    uint64_t total = 0;
    pthread_mutex_lock(&fp->lock);
    for (int i = 0; i < PATH_SLOTS; i++)
        if (fp->paths[i].count && path_matches(fp->paths[i].path, path_substr ? path_substr : ""))
            total += fp->paths[i].count;
    pthread_mutex_unlock(&fp->lock);
    return total;
}
