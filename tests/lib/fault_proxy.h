/* Test helper: a loopback TCP proxy in front of a broker's client port that
 * a test steers to inject network faults.
 *
 * fp_start() listens on 127.0.0.1:0 and runs one thread that, for each
 * accepted client connection, opens a connection to the upstream address
 * and copies bytes both ways. Faults (each can be switched at any time from
 * the test's thread):
 *   - fp_drop_all: reset every open connection now;
 *   - fp_drop_response: the response to the next request whose :path
 *     matches is dropped (after letting N of its frames through), with
 *     everything after it, and the connection is reset once the response
 *     has passed. The proxy reads just enough HTTP/2 for this: frame
 *     headers both ways and, client to server, the HPACK-coded request
 *     headers (nghttp2's inflater) to learn each request's :path;
 *   - fp_set_delay: every chunk waits D ms per direction (order kept);
 *   - fp_set_blackhole: connections stay open and nothing moves either
 *     way (bytes wait in the kernel and in the proxy until it is lifted);
 *   - fp_set_refuse: new connections are accepted and reset at once;
 *   - fp_set_chaos: connections dropped or blackholed for a while at random
 *     intervals, responses dropped with a given probability and random
 *     extra delay, all drawn from a caller's seed, so a failing run can
 *     be replayed.
 * Counters say what happened (connections, bytes each way, requests per
 * path, responses dropped). Connections are reset (RST) by a fault, so the
 * peers see an abrupt loss, not a graceful close. */
#ifndef MQ_TESTS_FAULT_PROXY_H
#define MQ_TESTS_FAULT_PROXY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fault_proxy fault_proxy_t;

typedef struct fp_counters {
    uint64_t accepted;        /* client connections accepted (refused ones too) */
    uint64_t refused;         /* reset at once because fp_set_refuse was on */
    uint64_t upstream_failed; /* reset because the upstream connect failed */
    uint64_t faults;          /* connections reset by a fault (drop, chaos) */
    uint64_t closed;          /* connections closed for any reason */
    uint64_t open;            /* connections open now */
    uint64_t bytes_c2s;       /* bytes forwarded client -> server */
    uint64_t bytes_s2c;       /* bytes forwarded server -> client */
    uint64_t dropped_c2s;     /* bytes read and never forwarded */
    uint64_t dropped_s2c;
    uint64_t requests;          /* requests (new streams' HEADERS) seen */
    uint64_t responses_dropped; /* responses dropped by fp_drop_response or chaos */
    uint64_t chaos_drops;       /* fp_set_chaos rounds that reset every connection */
    uint64_t chaos_blackholes;  /* fp_set_chaos rounds that blackholed every connection */
} fp_counters_t;

typedef struct fp_chaos {
    uint64_t seed; /* same seed, same sequence of random draws */
    /* > 0: a round of faults at intervals drawn uniformly from
     * [drop_min_ms, drop_max_ms]; a round resets every connection, or ... */
    int drop_min_ms;
    int drop_max_ms;
    /* ... with this probability in thousandths, blackholes every
     * connection (as fp_set_blackhole) for U[blackhole_min_ms,
     * blackhole_max_ms] instead. */
    int blackhole_permille;
    int blackhole_min_ms;
    int blackhole_max_ms;
    /* Each request whose :path contains response_path (NULL = any) has its
     * response dropped, as fp_drop_response(…, 0) does, with this
     * probability in thousandths. */
    int response_drop_permille;
    const char *response_path;
    /* Every chunk read waits an extra U[0, delay_jitter_ms] (order kept).
     * Jitter draws one number per read, so with it on, which request gets
     * a drop also depends on how reads split the stream; without it, the
     * n-th matching request's fate depends on the seed alone. */
    int delay_jitter_ms;
} fp_chaos_t;

/* Starts a proxy to upstream_host:upstream_port (a numeric IPv4 address or
 * "localhost"). Returns NULL with the reason in err on failure. */
fault_proxy_t *fp_start(const char *upstream_host, int upstream_port, char *err, size_t errlen);
/* Resets every connection, stops the thread and frees the proxy. NULL is a
 * no-op. */
void fp_stop(fault_proxy_t *fp);

/* The proxy's listening port and "127.0.0.1:PORT" (valid until fp_stop). */
int fp_port(const fault_proxy_t *fp);
const char *fp_addr(const fault_proxy_t *fp);

/* Connections accepted from now on go to this address (a restarted broker
 * may listen on a new port). Returns 0, or -1 if the host does not resolve. */
int fp_set_upstream(fault_proxy_t *fp, const char *host, int port);

/* Resets every open connection; returns once they are closed. */
void fp_drop_all(fault_proxy_t *fp);

/* One-shot: the next request (on any connection) whose :path contains
 * path_substr (NULL = any request) is the trigger. The first
 * forward_frames frames of its response go through; from the next frame on,
 * every server-to-client byte of that connection is dropped, and the
 * connection is reset when the response's last frame (END_STREAM or
 * RST_STREAM) arrives. The request itself reaches the server, so the
 * server has acted on it: the client only lost the answer. Arming again
 * replaces an armed trigger that has not fired. */
void fp_drop_response(fault_proxy_t *fp, const char *path_substr, int forward_frames);

/* Delay in ms added to every chunk, per direction (0 = none). Applies to
 * bytes read from now on. */
void fp_set_delay(fault_proxy_t *fp, int c2s_ms, int s2c_ms);

/* on: nothing is read, written or closed on open connections, and new ones
 * are accepted but not served; off: everything resumes where it stopped. */
void fp_set_blackhole(fault_proxy_t *fp, int on);

/* on: new connections are accepted and reset at once (the client's connect
 * succeeds, its first read fails). Open connections are left alone. */
void fp_set_refuse(fault_proxy_t *fp, int on);

/* Random faults (see fp_chaos_t); NULL turns them off. The config is copied. */
void fp_set_chaos(fault_proxy_t *fp, const fp_chaos_t *chaos);

/* A snapshot of the counters. */
void fp_get_counters(fault_proxy_t *fp, fp_counters_t *out);

/* Requests seen whose :path contains path_substr. */
uint64_t fp_requests(fault_proxy_t *fp, const char *path_substr);

#ifdef __cplusplus
}
#endif

#endif
