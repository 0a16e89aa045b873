/* TLS contexts (built from the config, rebuilt on SIGHUP) and the
 * per-connection handshake, I/O and principal. See tls.h. */
#include "tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

typedef struct port_conf {
    const char *cert, *key, *ca, *crl;
    int client_auth; /* 0 none, 1 requested, 2 required */
} port_conf_t;

static struct {
    pthread_mutex_t mu;
    const broker_config_t *cfg;
    int want[2];     /* which ports need a context */
    SSL_CTX *ctx[2]; /* current; new connections take a reference */
} g_tls = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* OpenSSL's reason for the last failure (and clears the queue). */
static const char *ossl_reason(char *buf, size_t cap)
{
    unsigned long e = ERR_peek_last_error();
    if (!e) {
        snprintf(buf, cap, "unknown error");
        return buf;
    }
    const char *r = ERR_reason_error_string(e);
    if (r)
        snprintf(buf, cap, "%s", r);
    else
        ERR_error_string_n(e, buf, cap);
    ERR_clear_error();
    return buf;
}

int tls_listener_parse(const char *spec, int *is_tls, char *addr, size_t cap)
{
    const char *rest = spec;
    *is_tls = 0;
    if (!strncasecmp(spec, "ssl://", 6)) {
        *is_tls = 1;
        rest = spec + 6;
    } else if (!strncasecmp(spec, "plaintext://", 12)) {
        rest = spec + 12;
    } else if (strstr(spec, "://")) {
        return -1;
    } else {
        *is_tls = -1; /* no scheme: the caller decides */
    }
    if (strlen(rest) >= cap || !*rest)
        return -1;
    strcpy(addr, rest);
    return 0;
}

static void port_conf(const broker_config_t *cfg, int port, port_conf_t *pc)
{
    pc->cert = cfg->ssl_cert;
    pc->key = cfg->ssl_key;
    pc->ca = cfg->ssl_ca;
    pc->crl = cfg->ssl_crl;
    pc->client_auth = cfg->ssl_client_auth;
    if (port != TLS_PORT_ADMIN)
        return;
    if (cfg->admin_ssl_cert[0])
        pc->cert = cfg->admin_ssl_cert;
    if (cfg->admin_ssl_key[0])
        pc->key = cfg->admin_ssl_key;
    if (cfg->admin_ssl_ca[0])
        pc->ca = cfg->admin_ssl_ca;
    if (cfg->admin_ssl_crl[0])
        pc->crl = cfg->admin_ssl_crl;
    if (cfg->admin_ssl_client_auth > 0)
        pc->client_auth = cfg->admin_ssl_client_auth - 1;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    /* Ours in order of preference, in wire format. */
    static const unsigned char client_protos[] = "\x02h2";
    static const unsigned char admin_protos[] = "\x02h2\x08http/1.1";
    int admin = arg != NULL;
    const unsigned char *ours = admin ? admin_protos : client_protos;
    unsigned ourlen = admin ? sizeof(admin_protos) - 1 : sizeof(client_protos) - 1;
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, ours, ourlen, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
        *out = sel;
        return SSL_TLSEXT_ERR_OK;
    }
    /* gRPC needs h2: a client offering only other protocols cannot talk to
     * the client port. The admin port sniffs the protocol instead. */
    return admin ? SSL_TLSEXT_ERR_NOACK : SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int key_password_cb(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    const char *pw = u;
    int n = (int)strlen(pw);
    if (n >= size)
        return -1;
    memcpy(buf, pw, (size_t)n);
    return n;
}

/* A file OpenSSL cannot open only says "system lib": name the reason. */
static int unreadable(const char *key, const char *path, char *err, size_t errlen)
{
    if (!path[0] || access(path, R_OK) == 0)
        return 0;
    errf(err, errlen, "%s '%s': %s", key, path, strerror(errno));
    return 1;
}

static SSL_CTX *build_ctx(const broker_config_t *cfg, int port, char *err, size_t errlen)
{
    const char *what = port == TLS_PORT_ADMIN ? "admin.ssl" : "ssl";
    port_conf_t pc;
    port_conf(cfg, port, &pc);
    char why[256];
    if (!pc.cert[0] || !pc.key[0]) {
        errf(err, errlen, "a TLS %s port needs %s.certificate.location and %s.key.location",
             port == TLS_PORT_ADMIN ? "admin" : "client", what, what);
        return NULL;
    }
    char key[64];
    const char *const files[4][2] = {
        {"certificate", pc.cert}, {"key", pc.key}, {"ca", pc.ca}, {"crl", pc.crl}};
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "%s.%s.location", what, files[i][0]);
        if (unreadable(key, files[i][1], err, errlen))
            return NULL;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        errf(err, errlen, "cannot create a TLS context: %s", ossl_reason(why, sizeof(why)));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Fewer read syscalls: OpenSSL may read several records at once (what
     * it holds is drained via tls_pending). */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    if (cfg->ssl_key_password[0]) {
        SSL_CTX_set_default_passwd_cb(ctx, key_password_cb);
        SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)cfg->ssl_key_password);
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, pc.cert) != 1) {
        errf(err, errlen, "%s.certificate.location '%s': %s", what, pc.cert,
             ossl_reason(why, sizeof(why)));
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, pc.key, SSL_FILETYPE_PEM) != 1) {
        errf(err, errlen, "%s.key.location '%s': %s", what, pc.key, ossl_reason(why, sizeof(why)));
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        errf(err, errlen, "%s.key.location '%s' does not match the certificate '%s': %s", what,
             pc.key, pc.cert, ossl_reason(why, sizeof(why)));
        goto fail;
    }
    if (pc.ca[0]) {
        if (SSL_CTX_load_verify_locations(ctx, pc.ca, NULL) != 1) {
            errf(err, errlen, "%s.ca.location '%s': %s", what, pc.ca,
                 ossl_reason(why, sizeof(why)));
            goto fail;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(pc.ca);
        if (names)
            SSL_CTX_set_client_CA_list(ctx, names);
    } else if (pc.client_auth > 0) {
        errf(err, errlen, "%s.client.auth=%s needs %s.ca.location", what,
             pc.client_auth == 2 ? "required" : "requested", what);
        goto fail;
    }
    if (pc.crl[0]) {
        X509_STORE *store = SSL_CTX_get_cert_store(ctx);
        X509_LOOKUP *lk = X509_STORE_add_lookup(store, X509_LOOKUP_file());
        if (!lk || X509_load_crl_file(lk, pc.crl, X509_FILETYPE_PEM) <= 0) {
            errf(err, errlen, "%s.crl.location '%s': %s", what, pc.crl,
                 ossl_reason(why, sizeof(why)));
            goto fail;
        }
        X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    }
    int mode = SSL_VERIFY_NONE;
    if (pc.client_auth == 1)
        mode = SSL_VERIFY_PEER;
    else if (pc.client_auth == 2)
        mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, NULL);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, port == TLS_PORT_ADMIN ? (void *)1 : NULL);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

/* Builds every wanted context, then swaps them in (all or nothing). */
static int build_all(char *err, size_t errlen)
{
    SSL_CTX *fresh[2] = {NULL, NULL};
    for (int p = 0; p < 2; p++) {
        if (!g_tls.want[p])
            continue;
        fresh[p] = build_ctx(g_tls.cfg, p, err, errlen);
        if (!fresh[p]) {
            SSL_CTX_free(fresh[0]);
            return -1;
        }
    }
    pthread_mutex_lock(&g_tls.mu);
    for (int p = 0; p < 2; p++) {
        SSL_CTX_free(g_tls.ctx[p]); /* live SSLs keep their own reference */
        g_tls.ctx[p] = fresh[p];
    }
    pthread_mutex_unlock(&g_tls.mu);
    return 0;
}

int tls_init(const broker_config_t *cfg, char *err, size_t errlen)
{
    g_tls.cfg = cfg;
    g_tls.want[TLS_PORT_CLIENT] = 0;
    char spec[1024];
    snprintf(spec, sizeof(spec), "%s", cfg->listeners);
    for (char *save, *tok = strtok_r(spec, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (!strncasecmp(tok, "ssl://", 6))
            g_tls.want[TLS_PORT_CLIENT] = 1;
    }
    if (!cfg->listeners[0] && cfg->ssl_cert[0])
        g_tls.want[TLS_PORT_CLIENT] = 1;
    g_tls.want[TLS_PORT_ADMIN] = tls_admin_enabled(cfg);
    return build_all(err, errlen);
}

int tls_admin_enabled(const broker_config_t *cfg)
{
    int is_tls;
    char addr[256];
    if (tls_listener_parse(cfg->admin_listen, &is_tls, addr, sizeof(addr)) != 0)
        return 0;
    if (is_tls >= 0)
        return is_tls;
    return cfg->admin_ssl_cert[0] || cfg->ssl_cert[0];
}

int tls_reload(char *err, size_t errlen)
{
    if (!g_tls.want[0] && !g_tls.want[1]) {
        errf(err, errlen, "no TLS port is configured");
        return 0;
    }
    return build_all(err, errlen);
}

void tls_shutdown(void)
{
    pthread_mutex_lock(&g_tls.mu);
    for (int p = 0; p < 2; p++) {
        SSL_CTX_free(g_tls.ctx[p]);
        g_tls.ctx[p] = NULL;
    }
    pthread_mutex_unlock(&g_tls.mu);
}

SSL *tls_accept_new(int port, int fd)
{
    pthread_mutex_lock(&g_tls.mu);
    SSL *ssl = g_tls.ctx[port] ? SSL_new(g_tls.ctx[port]) : NULL;
    pthread_mutex_unlock(&g_tls.mu);
    if (!ssl) {
        log_error("\"cannot create a TLS session\" port=%s",
                  port == TLS_PORT_ADMIN ? "admin" : "client");
        return NULL;
    }
    if (SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_accept_state(ssl);
    return ssl;
}

void tls_free(SSL *ssl)
{
    SSL_free(ssl);
}

void tls_drain_fd(int fd)
{
    /* Unread input makes close() send a RST, which can reach the peer
     * before the alert explaining the failure: read what is there first. */
    char buf[4096];
    for (int i = 0; i < 16; i++)
        if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
            break;
    shutdown(fd, SHUT_WR);
}

int tls_handshake(SSL *ssl, uint32_t *want, char *reason, size_t rlen)
{
    ERR_clear_error();
    int rv = SSL_do_handshake(ssl);
    if (rv == 1)
        return 1;
    int e = SSL_get_error(ssl, rv);
    if (e == SSL_ERROR_WANT_READ) {
        *want = EPOLLIN;
        return 0;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        *want = EPOLLIN | EPOLLOUT;
        return 0;
    }
    char why[256];
    long vr = SSL_get_verify_result(ssl);
    if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
        snprintf(why, sizeof(why), "%s", errno ? strerror(errno) : "peer closed the connection");
    else
        ossl_reason(why, sizeof(why));
    if (vr != X509_V_OK)
        snprintf(reason, rlen, "%s (certificate: %s)", why, X509_verify_cert_error_string(vr));
    else
        snprintf(reason, rlen, "%s", why);
    ERR_clear_error();
    return -1;
}

ssize_t tls_read(SSL *ssl, void *buf, size_t len)
{
    ERR_clear_error();
    /* SSL_read returns one record (<= 16 KiB) per call: gather several, so
     * nghttp2 gets big chunks like on plain TCP. */
    size_t total = 0, n = 0;
    int rv;
    while ((rv = SSL_read_ex(ssl, (char *)buf + total, len - total, &n)) == 1) {
        total += n;
        if (len - total < 16384 + 512)
            return (ssize_t)total;
    }
    if (total > 0) {
        ERR_clear_error();
        return (ssize_t)total; /* the error (or EAGAIN) comes again next time */
    }
    int e = SSL_get_error(ssl, rv);
    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0 && errno == 0)
            return 0; /* EOF without close_notify */
        /* fall through */
    default:
        ERR_clear_error();
        errno = ECONNRESET;
        return -1;
    }
}

ssize_t tls_write(SSL *ssl, const void *buf, size_t len)
{
    ERR_clear_error();
    size_t n = 0;
    int rv = SSL_write_ex(ssl, buf, len, &n);
    if (rv == 1)
        return (ssize_t)n;
    int e = SSL_get_error(ssl, rv);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    ERR_clear_error();
    errno = EPIPE;
    return -1;
}

int tls_pending(SSL *ssl)
{
    return SSL_has_pending(ssl);
}

static int san_value(X509 *cert, int type, char *out, size_t cap)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    int found = 0;
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && !found; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type != type)
            continue;
        const ASN1_IA5STRING *s = gn->d.ia5; /* uri, dNSName and rfc822Name are IA5 */
        int len = ASN1_STRING_length(s);
        if (len <= 0 || (size_t)len >= cap)
            continue;
        memcpy(out, ASN1_STRING_get0_data(s), (size_t)len);
        out[len] = '\0';
        found = 1;
    }
    GENERAL_NAMES_free(names);
    return found ? 0 : -1;
}

int tls_principal(SSL *ssl, char *out, size_t cap)
{
    X509 *cert = SSL_get0_peer_certificate(ssl);
    if (!cert) {
        snprintf(out, cap, "%s", TLS_ANONYMOUS);
        return 0;
    }
    int mapping = g_tls.cfg ? g_tls.cfg->ssl_principal_mapping : 0;
    static const int san_types[] = {0, GEN_URI, GEN_DNS, GEN_EMAIL};
    static const char *names[] = {"subject CN", "SAN URI", "SAN DNS name", "SAN email"};
    int rc;
    if (mapping == 0) {
        rc = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, out, (int)cap) >
                     0
                 ? 0
                 : -1;
    } else {
        rc = san_value(cert, san_types[mapping], out, cap);
    }
    if (rc != 0)
        snprintf(out, cap, "the client certificate has no %s (ssl.principal.mapping)",
                 names[mapping]);
    return rc;
}

void tls_alpn(SSL *ssl, char *out, size_t cap)
{
    const unsigned char *p;
    unsigned len;
    SSL_get0_alpn_selected(ssl, &p, &len);
    if (!p || len >= cap)
        len = 0;
    if (len)
        memcpy(out, p, len);
    out[len] = '\0';
}
