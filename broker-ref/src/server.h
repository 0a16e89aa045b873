/* The client port: listeners, the I/O threads (one event loop each),
 * connections with an nghttp2 server session each, and gRPC dispatch.
 * The admin listener is accepted on loop 0 and handed to admin.c. */
#ifndef BROKER_SERVER_H
#define BROKER_SERVER_H

#include <stddef.h>

#include "call.h"
#include "config.h"
#include "loop.h"
#include "mqclient.h"

/* Binds both listeners (errors name the address), creates io.threads loops
 * and starts their threads. Returns MQ_OK, MQ_ERR_TRANSPORT (bind/listen
 * failed; logged), MQ_ERR_NO_MEMORY. */
mq_err_t server_start(const broker_config_t *cfg);

/* "HOST:PORT" actually bound (after server_start). */
const char *server_client_addr(void);
const char *server_admin_addr(void);
/* Every client listener as bound: "plaintext://HOST:PORT,ssl://HOST:PORT". */
const char *server_listeners(void);
/* HOST:PORT of the listener a call's connection came in on (the first
 * listener if the connection is gone): what Metadata tells the client. */
const char *server_call_addr(call_t *c);
/* The client.id a call's connection sent (mq-client-id header), "" if none
 * or the connection is gone. */
const char *server_call_client_id(const call_t *c);
/* "IP:PORT" of the peer of a call's connection, "" once it is gone. */
const char *server_call_peer(const call_t *c);
/* 1 when the admin port serves TLS. */
int server_admin_tls(void);

/* Graceful stop, part one: stops accepting, sends GOAWAY on every
 * connection, answers parked fetches, and waits up to timeout_ms for the
 * calls in flight to finish; then stops and joins the loop threads. */
void server_stop(int64_t timeout_ms);
/* Part two, after the fsync thread and before meta_stop: closes every
 * connection (calls still running are cancelled). */
void server_close_all(void);
/* Part three, after meta_stop: frees the loops (running any callbacks
 * still queued to them). */
void server_free(void);

/* For tests and fuzzing, instead of server_start: serves on loop, which the
 * caller drives (loop_run_once) on its own thread, as loop 0 with no
 * listeners and no threads. server_adopt_fd makes fd (a connected socket)
 * a client connection of it. server_free frees the loop too. */
mq_err_t server_attach_loop(const broker_config_t *cfg, loop_t *loop);
void server_adopt_fd(int fd);
/* Client connections open now (all loops). */
int server_connection_count(void);

int server_loop_count(void);
loop_t *server_loop(int i);

/* For call.c: submit the call's response (HEADERS, DATA, trailers) or a
 * Trailers-Only error on its stream, and get it written soon. */
void conn_submit_reply(conn_t *conn, call_t *c);
void conn_submit_error(conn_t *conn, call_t *c);
/* The call got its answer (or was cancelled): metrics and shutdown count. */
void server_call_finished(call_t *c);

#endif
