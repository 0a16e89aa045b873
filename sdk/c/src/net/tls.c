/* Client TLS: the context from the ssl.* keys, sessions with SNI, hostname
 * verification and ALPN h2, and non-blocking handshake and I/O. */
#include "net/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

struct mq_tls {
    const mq_conf_t *conf; /* the owner's copy; outlives this */
    SSL_CTX *ctx;
    int stale;
};

static void put(char *errstr, size_t size, const char *fmt, const char *a, const char *b)
{
    if (errstr && size)
        snprintf(errstr, size, fmt, a, b);
}

/* OpenSSL's reason for the last failure; clears the error queue. */
static const char *reason(char *buf, size_t cap)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    if (r)
        snprintf(buf, cap, "%s", r);
    else if (e)
        ERR_error_string_n(e, buf, cap);
    else
        snprintf(buf, cap, "unknown error");
    ERR_clear_error();
    return buf;
}

static int password_cb(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    const char *pw = u;
    size_t n = strlen(pw);
    if (n >= (size_t)size)
        return -1;
    memcpy(buf, pw, n);
    return (int)n;
}

/* Adds every certificate of a PEM string to the trust store. */
static int load_ca_pem(SSL_CTX *ctx, const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    if (!bio)
        return -1;
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    int n = 0;
    X509 *x;
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (X509_STORE_add_cert(store, x) == 1)
            n++;
        X509_free(x);
    }
    BIO_free(bio);
    ERR_clear_error(); /* the read past the last certificate */
    return n > 0 ? 0 : -1;
}

/* The first certificate is ours, the rest its chain. */
static int load_cert_pem(SSL_CTX *ctx, const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    if (!bio)
        return -1;
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    int rc = x && SSL_CTX_use_certificate(ctx, x) == 1 ? 0 : -1;
    X509_free(x);
    while (rc == 0 && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
        if (SSL_CTX_add_extra_chain_cert(ctx, x) != 1) { /* takes x on success */
            X509_free(x);
            rc = -1;
        }
    if (rc == 0)
        ERR_clear_error();
    BIO_free(bio);
    return rc;
}

static int load_key_pem(SSL_CTX *ctx, const char *pem, const char *password)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    if (!bio)
        return -1;
    EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, password_cb, (void *)password);
    int rc = k && SSL_CTX_use_PrivateKey(ctx, k) == 1 ? 0 : -1;
    EVP_PKEY_free(k);
    BIO_free(bio);
    return rc;
}

static int load_crl(SSL_CTX *ctx, const char *path)
{
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    X509_LOOKUP *lk = X509_STORE_add_lookup(store, X509_LOOKUP_file());
    if (!lk || X509_load_crl_file(lk, path, X509_FILETYPE_PEM) <= 0)
        return -1;
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    return 0;
}

/* A file OpenSSL cannot open only says "system lib": name the reason. */
static int unreadable(const char *key, const char *path, char *errstr, size_t size)
{
    if (!path[0] || access(path, R_OK) == 0)
        return 0;
    char msg[600];
    snprintf(msg, sizeof(msg), "%s '%s': %s", key, path, strerror(errno));
    put(errstr, size, "%s%s", msg, "");
    return 1;
}

static SSL_CTX *build(const mq_conf_t *c, char *errstr, size_t size)
{
    char why[256];
    if (unreadable("ssl.ca.location", c->ssl_ca_pem[0] ? "" : c->ssl_ca_location, errstr, size) ||
        unreadable("ssl.certificate.location",
                   c->ssl_certificate_pem[0] ? "" : c->ssl_certificate_location, errstr, size) ||
        unreadable("ssl.key.location", c->ssl_key_pem[0] ? "" : c->ssl_key_location, errstr,
                   size) ||
        unreadable("ssl.crl.location", c->ssl_crl_location, errstr, size))
        return NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        put(errstr, size, "cannot create a TLS context: %s%s", reason(why, sizeof(why)), "");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, 1); /* fewer read syscalls; read_input drains it */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    static const unsigned char alpn[] = "\x02h2";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
    const char *pw = c->ssl_key_password;
    if (pw[0]) {
        SSL_CTX_set_default_passwd_cb(ctx, password_cb);
        SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)pw);
    }
    const char *key = NULL, *val = NULL;
    if (c->ssl_ca_pem[0]) {
        if (load_ca_pem(ctx, c->ssl_ca_pem) != 0)
            key = "ssl.ca.pem", val = "(in memory)";
    } else if (c->ssl_ca_location[0]) {
        if (SSL_CTX_load_verify_locations(ctx, c->ssl_ca_location, NULL) != 1)
            key = "ssl.ca.location", val = c->ssl_ca_location;
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        key = "ssl.ca.location", val = "(system default)";
    }
    if (!key && c->ssl_certificate_pem[0]) {
        if (load_cert_pem(ctx, c->ssl_certificate_pem) != 0)
            key = "ssl.certificate.pem", val = "(in memory)";
    } else if (!key && c->ssl_certificate_location[0]) {
        if (SSL_CTX_use_certificate_chain_file(ctx, c->ssl_certificate_location) != 1)
            key = "ssl.certificate.location", val = c->ssl_certificate_location;
    }
    if (!key && c->ssl_key_pem[0]) {
        if (load_key_pem(ctx, c->ssl_key_pem, pw) != 0)
            key = "ssl.key.pem", val = "(in memory)";
    } else if (!key && c->ssl_key_location[0]) {
        if (SSL_CTX_use_PrivateKey_file(ctx, c->ssl_key_location, SSL_FILETYPE_PEM) != 1)
            key = "ssl.key.location", val = c->ssl_key_location;
    }
    int have_cert = c->ssl_certificate_pem[0] || c->ssl_certificate_location[0];
    int have_key = c->ssl_key_pem[0] || c->ssl_key_location[0];
    if (!key && have_cert != have_key) {
        put(errstr, size, "%s is set but %s is not", have_cert ? "a client certificate" : "a key",
            have_cert ? "its key (ssl.key.location or ssl.key.pem)"
                      : "a certificate (ssl.certificate.location or ssl.certificate.pem)");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (!key && have_cert && SSL_CTX_check_private_key(ctx) != 1)
        key = "ssl.key.location", val = "the key does not match the certificate";
    if (!key && c->ssl_crl_location[0] && load_crl(ctx, c->ssl_crl_location) != 0)
        key = "ssl.crl.location", val = c->ssl_crl_location;
    if (key) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%s '%s': %s", key, val, reason(why, sizeof(why)));
        put(errstr, size, "%s%s", msg, "");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

mq_err_t mq__tls_new(const mq_conf_t *conf, mq_tls_t **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (!conf->security_protocol)
        return MQ_OK;
    mq_tls_t *t = calloc(1, sizeof(*t));
    if (!t)
        return MQ_ERR_NO_MEMORY;
    t->conf = conf;
    t->ctx = build(conf, errstr, errstr_size);
    if (!t->ctx) {
        free(t);
        return MQ_ERR_INVALID_CONFIG;
    }
    *out = t;
    return MQ_OK;
}

void mq__tls_free(mq_tls_t *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

void mq__tls_invalidate(mq_tls_t *t)
{
    if (t)
        t->stale = 1;
}

SSL *mq__tls_session(mq_tls_t *t, int fd, const char *host, char *errstr, size_t errstr_size)
{
    char why[256];
    if (t->stale) {
        /* Files may have been replaced: a new context, else keep the old. */
        SSL_CTX *fresh = build(t->conf, why, sizeof(why));
        if (fresh) {
            SSL_CTX_free(t->ctx);
            t->ctx = fresh;
            t->stale = 0;
        }
    }
    SSL *ssl = SSL_new(t->ctx);
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
        put(errstr, errstr_size, "cannot create a TLS session: %s%s", reason(why, sizeof(why)), "");
        SSL_free(ssl);
        return NULL;
    }
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    if (!is_ip) /* SNI carries host names only */
        SSL_set_tlsext_host_name(ssl, host);
    if (t->conf->ssl_endpoint_identification) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
        int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host) : SSL_set1_host(ssl, host);
        if (ok != 1) {
            put(errstr, errstr_size, "cannot check the broker's name '%s': %s", host,
                reason(why, sizeof(why)));
            SSL_free(ssl);
            return NULL;
        }
    }
    SSL_set_connect_state(ssl);
    return ssl;
}

void mq__tls_session_free(SSL *ssl)
{
    SSL_free(ssl);
}

/* Describes a failure: OpenSSL's reason plus the certificate check. */
static void describe(SSL *ssl, int err, char *errstr, size_t size)
{
    char why[256];
    if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
        snprintf(why, sizeof(why), "%s",
                 errno ? strerror(errno) : "the broker closed the connection");
    else
        reason(why, sizeof(why));
    long vr = SSL_get_verify_result(ssl);
    if (vr != X509_V_OK)
        snprintf(errstr, size, "TLS handshake failed: %s (broker certificate: %s)", why,
                 X509_verify_cert_error_string(vr));
    else
        snprintf(errstr, size, "TLS handshake failed: %s", why);
    ERR_clear_error();
}

int mq__tls_handshake(SSL *ssl, uint32_t *want, char *errstr, size_t errstr_size)
{
    ERR_clear_error();
    errno = 0;
    int rv = SSL_do_handshake(ssl);
    if (rv == 1)
        return 1;
    int e = SSL_get_error(ssl, rv);
    if (e == SSL_ERROR_WANT_READ) {
        *want = EPOLLIN;
        return 0;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        *want = EPOLLOUT;
        return 0;
    }
    describe(ssl, e, errstr, errstr_size);
    return -1;
}

ssize_t mq__tls_read(SSL *ssl, void *buf, size_t len, char *errstr, size_t errstr_size)
{
    ERR_clear_error();
    errno = 0;
    size_t n = 0;
    int rv = SSL_read_ex(ssl, buf, len, &n);
    if (rv == 1)
        return (ssize_t)n;
    int e = SSL_get_error(ssl, rv);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && !errno))
        return 0;
    if (e == SSL_ERROR_SSL) {
        /* An alert from the broker (e.g. it refused our certificate after
         * a TLS 1.3 handshake) or a TLS protocol error. */
        char why[256];
        snprintf(errstr, errstr_size, "TLS error: %s", reason(why, sizeof(why)));
        errno = EPROTO;
        return -1;
    }
    snprintf(errstr, errstr_size, "TLS read failed: %s", errno ? strerror(errno) : "reset");
    ERR_clear_error();
    errno = ECONNRESET;
    return -1;
}

ssize_t mq__tls_write(SSL *ssl, const void *buf, size_t len, char *errstr, size_t errstr_size)
{
    ERR_clear_error();
    errno = 0;
    size_t n = 0;
    int rv = SSL_write_ex(ssl, buf, len, &n);
    if (rv == 1)
        return (ssize_t)n;
    int e = SSL_get_error(ssl, rv);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    char why[256];
    snprintf(errstr, errstr_size, "TLS write failed: %s",
             e == SSL_ERROR_SSL ? reason(why, sizeof(why))
             : errno            ? strerror(errno)
                                : "reset");
    ERR_clear_error();
    errno = e == SSL_ERROR_SSL ? EPROTO : EPIPE;
    return -1;
}
