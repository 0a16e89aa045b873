/* TLS for the client and admin ports (OpenSSL 3).
 *
 * Two server contexts: the client port's (ALPN h2) and the admin port's
 * (ALPN h2, http/1.1), built from the ssl.* and admin.ssl.* keys. SIGHUP
 * rebuilds both from the files (tls_reload); connections keep the context
 * they were accepted with (an SSL holds a reference), new ones get the new
 * one, so a reload never drops a connection. A failed reload keeps the old
 * contexts and says why.
 *
 * Per connection, a non-blocking handshake driven from the event loop, then
 * reads and writes with recv/send semantics (errno EAGAIN when OpenSSL wants
 * the socket), and the principal taken from the client certificate. */
#ifndef BROKER_TLS_H
#define BROKER_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

typedef struct ssl_st SSL;

/* The principal of a connection without a client certificate. */
#define TLS_ANONYMOUS "ANONYMOUS"

enum { TLS_PORT_CLIENT = 0, TLS_PORT_ADMIN = 1 };

/* Builds the contexts a configuration needs (the client one if any client
 * listener is TLS, the admin one if the admin port is). 0, or -1 with a
 * message naming the key, the file and OpenSSL's reason. */
int tls_init(const broker_config_t *cfg, char *err, size_t errlen);
/* Rebuilds every context from the files. 0, or -1 with err (old contexts
 * stay). Thread-safe. */
int tls_reload(char *err, size_t errlen);
void tls_shutdown(void);

/* A new server-side SSL on fd for a port, or NULL (logged). Thread-safe. */
SSL *tls_accept_new(int port, int fd);
void tls_free(SSL *ssl);
/* After a failed handshake, before close: reads what the peer sent and
 * half-closes, so the alert is not overtaken by a TCP reset. */
void tls_drain_fd(int fd);

/* Drives the handshake: 1 done, 0 in progress (*want gets EPOLLIN and/or
 * EPOLLOUT), -1 failed (reason gets OpenSSL's reason and the certificate
 * verification result when there is one). */
int tls_handshake(SSL *ssl, uint32_t *want, char *reason, size_t rlen);

/* recv/send semantics: >0 bytes; read 0 = the peer closed; -1 with errno
 * EAGAIN (try again when the socket is ready) or EPIPE/ECONNRESET. */
ssize_t tls_read(SSL *ssl, void *buf, size_t len);
ssize_t tls_write(SSL *ssl, const void *buf, size_t len);
/* Bytes already decrypted and waiting inside the SSL (epoll cannot see them). */
int tls_pending(SSL *ssl);

/* The principal after the handshake, by ssl.principal.mapping: the subject
 * CN, or the first SAN URI / DNS / email; TLS_ANONYMOUS without a client
 * certificate. 0, or -1 if the certificate lacks the mapped field (out
 * names what is missing). */
int tls_principal(SSL *ssl, char *out, size_t cap);
/* The negotiated ALPN protocol ("" when none). */
void tls_alpn(SSL *ssl, char *out, size_t cap);

/* 1 when the admin port serves TLS: admin.listen says ssl:// (or
 * plaintext://), else whenever an admin certificate is configured
 * (admin.ssl.certificate.location or ssl.certificate.location). */
int tls_admin_enabled(const broker_config_t *cfg);

/* Splits a listener spec "ssl://HOST:PORT", "plaintext://HOST:PORT" or
 * "HOST:PORT": *is_tls 1, 0, or -1 (no scheme). 0, or -1 if malformed.
 * */
int tls_listener_parse(const char *spec, int *is_tls, char *addr, size_t cap);

#endif
