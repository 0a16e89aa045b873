/* Private: one HTTP/2 connection to a broker (nghttp2 client session over
 * a nonblocking TCP socket) carrying gRPC unary calls. The owner (an I/O
 * thread) polls conn_fd for conn_events and calls mq__conn_io; nothing
 * here blocks or starts threads. TLS (net/tls.h) sits under the same
 * interface: a connection is established once its handshake is done. */
#ifndef MQ_NET_CONN_H
#define MQ_NET_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "mqclient.h"
#include "net/backoff.h"
#include "net/tls.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mq_conn mq_conn_t;

/* Called once per call, from mq__conn_io, mq__conn_expire or
 * mq__conn_free. err is MQ_OK when the call completed with grpc-status OK
 * and one response message (resp/len, valid only during the call); else the
 * failure: MQ_ERR_TRANSPORT (connection lost, stream reset; the request may
 * or may not have been processed), MQ_ERR_TIMED_OUT, or the mq_err_t of the
 * grpc-status (message in grpc_message, may be NULL). sent says whether any
 * of the request left this process. */
typedef void (*mq_call_cb)(void *arg, mq_err_t err, const char *grpc_message, const uint8_t *resp,
                           size_t len, int sent);

/* Starts a nonblocking connect to host:port (numeric or resolvable; the
 * lookup blocks the calling I/O thread). Returns MQ_OK,
 * MQ_ERR_TRANSPORT (lookup or socket failure; errstr says why), or
 * MQ_ERR_NO_MEMORY. */
mq_err_t mq__conn_new(const char *host, const char *port, mq_conn_t **out, char *errstr,
                      size_t errstr_size);
/* The same over TLS when tls is not NULL (the handshake runs from
 * mq__conn_io; its failures return MQ_ERR_AUTHENTICATION there). */
mq_err_t mq__conn_new_tls(const char *host, const char *port, mq_tls_t *tls, mq_conn_t **out,
                          char *errstr, size_t errstr_size);
int mq__conn_fd(const mq_conn_t *c);
/* "host:port" as given to mq__conn_new. */
const char *mq__conn_authority(const mq_conn_t *c);
/* TCP keepalive: probes after idle_s seconds of silence, then every
 * idle_s/3, three times. */
void mq__conn_set_keepalive(mq_conn_t *c, int idle_s);
/* HTTP/2 PING liveness (0 interval = off): once established, a PING is sent
 * after ping_interval_ms without a byte from the broker, and at once when
 * a call times out; when no byte arrives within ping_timeout_ms of it,
 * mq__conn_expire marks the connection dead and the next mq__conn_flush or
 * mq__conn_io returns MQ_ERR_TRANSPORT saying so. */
void mq__conn_set_liveness(mq_conn_t *c, int64_t ping_interval_ms, int64_t ping_timeout_ms);
/* How the connection failed: MQ_ERR_AUTHENTICATION (TLS handshake refused,
 * by us or the broker: errstr of mq__conn_io names OpenSSL's reason) or
 * MQ_ERR_TRANSPORT. */
mq_err_t mq__conn_error(const mq_conn_t *c);
/* EPOLLIN/EPOLLOUT bits the connection waits for now. */
uint32_t mq__conn_events(const mq_conn_t *c);
/* 1 once TCP is connected and TLS (if any) is up (calls can be submitted
 * before; they queue). */
int mq__conn_established(const mq_conn_t *c);
/* Handles readiness (epoll bits). Returns MQ_OK, or MQ_ERR_TRANSPORT /
 * MQ_ERR_AUTHENTICATION when the connection is finished (the caller frees
 * it; errstr says why). */
mq_err_t mq__conn_io(mq_conn_t *c, uint32_t events, char *errstr, size_t errstr_size);
/* Starts a unary call: path e.g. "/mq.v1.Broker/Produce", msg the protobuf
 * bytes (copied into a framed buffer), timeout_ms bounds the call.
 * Returns MQ_OK (cb will be called exactly once), MQ_ERR_NO_MEMORY, or
 * MQ_ERR_TRANSPORT (the session is shutting down; cb is not called). */
mq_err_t mq__conn_call(mq_conn_t *c, const char *path, const uint8_t *msg, size_t len,
                       int64_t timeout_ms, mq_call_cb cb, void *arg);
/* Only inside a call's callback: takes the response buffer (resp) away
 * from the call; the caller frees it with free(). NULL elsewhere, or when
 * the call has no response. Saves a copy of large responses. */
uint8_t *mq__conn_take_response(void);
/* Pushes pending frames to the socket (after calls were submitted). */
mq_err_t mq__conn_flush(mq_conn_t *c, char *errstr, size_t errstr_size);
/* Calls in progress. */
size_t mq__conn_calls(const mq_conn_t *c);
/* Fails calls whose deadline passed (MQ_ERR_TIMED_OUT, stream reset) and
 * runs the PING liveness check; returns the earliest remaining deadline
 * (monotonic ms) or INT64_MAX. */
int64_t mq__conn_expire(mq_conn_t *c, int64_t now_ms);
/* Fails every call with MQ_ERR_TRANSPORT and frees the connection. */
void mq__conn_free(mq_conn_t *c);

/* ---- the reconnect policy both I/O threads follow ----------------------
 * The owner (producer/sender.c, consumer/fetcher.c) keeps one connection:
 * it connects when its reconnect time comes (bootstrap servers in turn),
 * fails a connect that takes socket.connection.setup.timeout.ms, and after
 * every failure waits the delay mq__conn_failed draws. */
struct mq_conf;

/* TCP keepalive (socket.keepalive.enable), PING liveness
 * (connection.ping.interval.ms / connection.ping.timeout.ms) and the
 * client.id every call carries, from conf (which must outlive c). */
void mq__conn_apply_conf(mq_conn_t *c, const struct mq_conf *conf);

/* A connection-state event (MQ_EVENT_CONNECTION) for the owner's queue;
 * NULL when memory ran out. why is kept only with an error. */
mq_event_t *mq__conn_event_new(mq_conn_state_t state, const char *broker, int32_t attempt,
                               int64_t delay_ms, mq_err_t err, const char *why);

/* A connect attempt failed, or a connection was lost, at now
 * (connected_at_ms: when it was established, 0 if it never was). Starts
 * the backoff over if the connection stayed up reconnect.backoff.max.ms,
 * then draws the delay to the next attempt into *delay_ms. out receives the
 * events to queue (DISCONNECTED when it had been connected, then
 * RECONNECTING with the attempt number and delay); returns their count. */
size_t mq__conn_failed(mq_backoff_t *b, const struct mq_conf *conf, int64_t connected_at_ms,
                       int64_t now, const char *broker, mq_err_t err, const char *why,
                       int64_t *delay_ms, mq_event_t *out[2]);

#ifdef __cplusplus
}
#endif

#endif
