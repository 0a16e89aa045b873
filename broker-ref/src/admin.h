/* The admin REST API (docs/admin-api.md): HTTP/1.1 through libhttp-parser and
 * HTTP/2 through nghttp2 on one port. On plaintext the HTTP/2 client preface
 * is sniffed from the first bytes. Connections live on the loop that accepted
 * them; topic changes go to the metadata thread (meta.h) and are answered
 * when it posts the result back, so the loop never blocks. */
#ifndef BROKER_ADMIN_H
#define BROKER_ADMIN_H

#include "loop.h"

/* Takes ownership of an accepted admin connection (blocking or not; it is
 * made non-blocking) and serves it on loop, over TLS when tls is 1 (ALPN
 * picks h2 or http/1.1; the principal comes from the client certificate).
 * Closes fd on failure. */
void admin_conn_accept(loop_t *loop, int fd, int tls);

/* Records the addresses the listeners actually bound ("HOST:PORT"), shown by
 * GET /api/v1/cluster; until called the configured addresses are shown.
 * Thread-safe; either may be NULL to keep the current value. */
void admin_set_listeners(const char *client, const char *admin);

/* Closes every admin connection served by loop (call on that loop's thread,
 * or after it has stopped, before loop_free). */
void admin_close_all(loop_t *loop);

#endif
