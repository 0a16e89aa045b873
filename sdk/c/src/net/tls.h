/* Private: TLS for a client's connections (OpenSSL 3).
 *
 * One mq_tls_t per client handle holds the SSL_CTX built from the ssl.*
 * keys (files or in-memory PEM). A failed handshake marks it stale, so the
 * next connection attempt reloads the files (certificates get rotated).
 * Each connection gets an SSL with SNI, hostname (or IP) verification when
 * ssl.endpoint.identification.algorithm=https, and ALPN h2. Only the
 * owner's I/O thread uses an mq_tls_t after creation. */
#ifndef MQ_NET_TLS_H
#define MQ_NET_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include "conf.h"
#include "mqclient.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mq_tls mq_tls_t;
typedef struct ssl_st SSL;

/* *out = NULL for security.protocol=plaintext. Builds the context once so
 * that a bad file or PEM is reported now. Returns MQ_OK,
 * MQ_ERR_INVALID_CONFIG (errstr names the key and OpenSSL's reason) or
 * MQ_ERR_NO_MEMORY. */
mq_err_t mq__tls_new(const mq_conf_t *conf, mq_tls_t **out, char *errstr, size_t errstr_size);
void mq__tls_free(mq_tls_t *t);
/* A handshake failed: rebuild the context before the next connection. */
void mq__tls_invalidate(mq_tls_t *t);

/* A client SSL on fd for host. NULL with errstr on failure. */
SSL *mq__tls_session(mq_tls_t *t, int fd, const char *host, char *errstr, size_t errstr_size);
void mq__tls_session_free(SSL *ssl);

/* Handshake step: 1 done, 0 in progress (*want gets EPOLLIN/EPOLLOUT), -1
 * failed (errstr gets OpenSSL's reason and the certificate check result). */
int mq__tls_handshake(SSL *ssl, uint32_t *want, char *errstr, size_t errstr_size);

/* recv/send semantics: >0 bytes, read 0 = closed, -1 with errno EAGAIN or
 * EPROTO (a TLS error or alert; errstr says which) / ECONNRESET. */
ssize_t mq__tls_read(SSL *ssl, void *buf, size_t len, char *errstr, size_t errstr_size);
ssize_t mq__tls_write(SSL *ssl, const void *buf, size_t len, char *errstr, size_t errstr_size);

#ifdef __cplusplus
}
#endif

#endif
