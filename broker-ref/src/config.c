/* The broker's configuration table: every key with its type, default, range
 * and doc, in one place. Defaults are applied by parsing the default strings
 * through the same setter a file or flag uses, and docs/configuration.md is
 * printed from this table. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

broker_config_t g_config;

typedef enum {
    CT_INT,    /* integer within [min, max] */
    CT_BOOL,   /* true/false */
    CT_STRING, /* free text (paths) */
    CT_ADDR,   /* HOST:PORT */
    CT_LEVEL,  /* error|warn|info|debug */
    CT_TSTYPE, /* CreateTime|LogAppendTime */
    CT_CHOICE, /* one of choices[] (stored as its index) */
} ctype_t;

/* Where a key's value lives: in broker_config_t, or in the log_config_t of
 * the topic defaults (cfg->log), in which case topic_key names the per-topic
 * override (as in Kafka: log.segment.bytes vs segment.bytes). */
typedef struct ckey {
    const char *name;
    ctype_t type;
    size_t offset; /* into broker_config_t, or log_config_t if topic_key */
    size_t size;   /* of the field: 4 or 8 for ints, buffer size for strings */
    const char *def;
    int64_t min, max;
    const char *topic_key;
    const char *flag; /* command-line flag, if any */
    const char *doc;
} ckey_t;

static const char *const client_auth_choices[] = {"none", "requested", "required", NULL};
static const char *const admin_client_auth_choices[] = {"", "none", "requested", "required", NULL};
static const char *const principal_choices[] = {"cn", "san.uri", "san.dns", "san.email", NULL};

/* The values a CT_CHOICE key allows (NULL-terminated). */
static const char *const *choices_of(const char *key)
{
    if (!strcmp(key, "ssl.client.auth"))
        return client_auth_choices;
    if (!strcmp(key, "admin.ssl.client.auth"))
        return admin_client_auth_choices;
    return principal_choices;
}

#define BC(f) offsetof(broker_config_t, f), sizeof(((broker_config_t *)0)->f)
#define LC(f) offsetof(log_config_t, f), sizeof(((log_config_t *)0)->f)
#define KiB 1024LL
#define MiB (1024LL * 1024)
#define GiB (1024LL * 1024 * 1024)
#define DAY_MS (24LL * 3600 * 1000)

static const ckey_t g_keys[] = {
    /* Process and network. */
    {"data.dir", CT_STRING, BC(data_dir), "./data", 0, 0, NULL, "--data-dir",
     "Directory holding meta.db and one folder per topic and partition."},
    {"listen", CT_ADDR, BC(listen), "127.0.0.1:9092", 0, 0, NULL, "--listen",
     "HOST:PORT of the client port (gRPC over HTTP/2, prior knowledge). Port 0 picks a free "
     "port; the ready line shows the one bound. A `ssl://` or `plaintext://` prefix forces "
     "TLS or not (see listeners)."},
    {"admin.listen", CT_ADDR, BC(admin_listen), "127.0.0.1:9642", 0, 0, NULL, "--admin-listen",
     "HOST:PORT of the admin REST port (HTTP/1.1 and HTTP/2). Port 0 picks a free port. A "
     "`ssl://` or `plaintext://` prefix forces TLS or not (see admin.ssl.certificate.location)."},
    {"ready.file", CT_STRING, BC(ready_file), "", 0, 0, NULL, "--ready-file",
     "When set, the ready line `mqbroker ready client=HOST:PORT admin=HOST:PORT` is also "
     "written to this file (atomically) once the broker serves."},
    {"log.level", CT_LEVEL, BC(log_level), "info", 0, 0, NULL, "--log-level",
     "Logging verbosity: error, warn, info or debug. Logs go to stderr, one line per event."},
    {"io.threads", CT_INT, BC(io_threads), "1", 1, 64, NULL, NULL,
     "Number of event-loop threads serving client connections (each accepts from the one "
     "listening socket)."},
    {"node.id", CT_INT, BC(node_id), "1", 0, INT32_MAX, NULL, NULL,
     "This broker's id, reported by Metadata as the leader of every partition."},
    {"max.connections", CT_INT, BC(max_connections), "4096", 1, 1000000, NULL, NULL,
     "Most client connections served at once; further ones get a GOAWAY and are closed."},
    {"max.request.bytes", CT_INT, BC(max_request_bytes), "16777216", 1 * KiB, 1 * GiB, NULL, NULL,
     "Largest gRPC request message accepted; larger ones fail with RESOURCE_EXHAUSTED (the "
     "stream is reset, the connection keeps serving)."},
    {"connections.max.idle.ms", CT_INT, BC(connections_max_idle_ms), "600000", 0, DAY_MS, NULL,
     NULL,
     "Close a client connection (GOAWAY) that has sent nothing and has no call in flight for "
     "this long; 0 = never."},
    {"fetch.max.bytes", CT_INT, BC(fetch_max_bytes), "4194304", 1 * KiB, 64 * MiB, NULL, NULL,
     "Default and largest Fetch response size. Stock gRPC clients refuse messages over 4 MiB by "
     "default, so the default stays at 4 MiB. The first batch found is always returned whole."},
    {"fetch.max.wait.ms", CT_INT, BC(fetch_max_wait_ms), "30000", 0, 300000, NULL, NULL,
     "Upper bound on how long a Fetch waits for min_bytes (its max_wait_ms is capped to this)."},
    {"auto.create.topics.enable", CT_BOOL, BC(auto_create_topics), "false", 0, 0, NULL, NULL,
     "Create a topic (with num.partitions partitions) when a Produce names one that does not "
     "exist."},
    {"num.partitions", CT_INT, BC(default_partitions), "1", 1, 100000, NULL, NULL,
     "Partition count of auto-created topics and of topics created without one."},
    {"max.partitions", CT_INT, BC(max_partitions), "10000", 1, 100000, NULL, NULL,
     "Most partitions one topic may have."},
    /* Consumer groups (docs/protocol.md 2.6). */
    {"group.min.session.timeout.ms", CT_INT, BC(group_min_session_timeout_ms), "6000", 1, DAY_MS,
     NULL, NULL,
     "Smallest session.timeout.ms a consumer-group member may ask for (JoinGroup fails with "
     "INVALID_SESSION_TIMEOUT below it)."},
    {"group.max.session.timeout.ms", CT_INT, BC(group_max_session_timeout_ms), "1800000", 1, DAY_MS,
     NULL, NULL, "Largest session.timeout.ms a consumer-group member may ask for."},
    {"group.heartbeat.interval.ms", CT_INT, BC(group_heartbeat_interval_ms), "3000", 10, 600000,
     NULL, NULL,
     "The heartbeat interval the coordinator gives members: the longest it holds a Heartbeat "
     "whose answer has not changed. Rebalances do not wait for it."},
    {"log.retention.check.interval.ms", CT_INT, BC(housekeeping_interval_ms), "60000", 10, DAY_MS,
     NULL, NULL,
     "How often segments are checked for time-based roll and retention (deleting whole "
     "segments)."},
    {"shutdown.timeout.ms", CT_INT, BC(shutdown_timeout_ms), "10000", 0, 600000, NULL, NULL,
     "On SIGTERM/SIGINT, how long in-flight requests may take to finish before the broker "
     "closes connections anyway."},
    /* TLS (docs/security.md). */
    {"listeners", CT_STRING, BC(listeners), "", 0, 0, NULL, NULL,
     "Comma-separated client listeners, each `plaintext://HOST:PORT` or `ssl://HOST:PORT` "
     "(e.g. `plaintext://127.0.0.1:9092,ssl://127.0.0.1:9093`). Empty: one listener on "
     "`listen`, TLS when ssl.certificate.location is set. The ready line lists them all."},
    {"ssl.certificate.location", CT_STRING, BC(ssl_cert), "", 0, 0, NULL, "--ssl-cert",
     "PEM certificate (chain) of the TLS client port. The flag makes the --listen port and the "
     "admin port TLS. Reloaded on SIGHUP."},
    {"ssl.key.location", CT_STRING, BC(ssl_key), "", 0, 0, NULL, "--ssl-key",
     "PEM private key of ssl.certificate.location. Reloaded on SIGHUP."},
    {"ssl.key.password", CT_STRING, BC(ssl_key_password), "", 0, 0, NULL, NULL,
     "Password of an encrypted private key (both ports)."},
    {"ssl.ca.location", CT_STRING, BC(ssl_ca), "", 0, 0, NULL, "--ssl-ca",
     "PEM CA certificates that client certificates must chain to. Reloaded on SIGHUP."},
    {"ssl.crl.location", CT_STRING, BC(ssl_crl), "", 0, 0, NULL, NULL,
     "PEM certificate revocation list checked against client certificates. Reloaded on "
     "SIGHUP."},
    {"ssl.client.auth", CT_CHOICE, BC(ssl_client_auth), "none", 0, 0, NULL, "--ssl-client-auth",
     "Client certificates: none (not asked for), requested (verified when sent), required "
     "(the handshake fails without a valid one). requested and required need ssl.ca.location."},
    {"ssl.principal.mapping", CT_CHOICE, BC(ssl_principal_mapping), "cn", 0, 0, NULL, NULL,
     "Which part of a client certificate names the principal: cn (subject CN), san.uri, "
     "san.dns or san.email (the first SAN of that kind). A certificate without it is refused. "
     "Connections without a certificate are the principal ANONYMOUS."},
    {"admin.ssl.certificate.location", CT_STRING, BC(admin_ssl_cert), "", 0, 0, NULL, NULL,
     "Certificate of the admin port; empty = ssl.certificate.location. The admin port is TLS "
     "when either is set, unless admin.listen starts with plaintext:// (ssl:// forces TLS)."},
    {"admin.ssl.key.location", CT_STRING, BC(admin_ssl_key), "", 0, 0, NULL, NULL,
     "Private key of the admin port; empty = ssl.key.location."},
    {"admin.ssl.ca.location", CT_STRING, BC(admin_ssl_ca), "", 0, 0, NULL, NULL,
     "CA for admin client certificates; empty = ssl.ca.location."},
    {"admin.ssl.crl.location", CT_STRING, BC(admin_ssl_crl), "", 0, 0, NULL, NULL,
     "CRL for admin client certificates; empty = ssl.crl.location."},
    {"admin.ssl.client.auth", CT_CHOICE, BC(admin_ssl_client_auth), "", 0, 0, NULL, NULL,
     "Client certificates on the admin port: none, requested or required; empty = "
     "ssl.client.auth."},
    /* Authorization (docs/security.md). */
    {"authorizer.enabled", CT_BOOL, BC(authorizer_enabled), "false", 0, 0, NULL, NULL,
     "Check every RPC and admin request against the ACL rules (admin API /api/v1/acls): deny "
     "wins, and nothing is allowed that no rule allows."},
    {"super.users", CT_STRING, BC(super_users), "", 0, 0, NULL, NULL,
     "Comma-separated principals allowed everything whatever the rules say (e.g. `admin`)."},
    /* Topic defaults; each has a per-topic override. */
    {"log.segment.bytes", CT_INT, LC(segment_bytes), "1073741824", 1 * KiB, 2 * GiB,
     "segment.bytes", NULL,
     "Roll to a new segment file when the active one would exceed this size."},
    {"log.roll.ms", CT_INT, LC(segment_ms), "604800000", 1, 365 * DAY_MS, "segment.ms", NULL,
     "Roll to a new segment when the active one is older than this."},
    {"log.retention.ms", CT_INT, LC(retention_ms), "604800000", -1, INT64_MAX / 2, "retention.ms",
     NULL, "Delete segments whose newest record is older than this; -1 keeps data forever."},
    {"log.retention.bytes", CT_INT, LC(retention_bytes), "-1", -1, INT64_MAX / 2, "retention.bytes",
     NULL, "Delete the oldest segments while a partition is larger than this; -1 = no limit."},
    {"log.index.interval.bytes", CT_INT, LC(index_interval_bytes), "4096", 0, 16 * MiB,
     "index.interval.bytes", NULL, "Bytes of log between two entries of the sparse offset index."},
    {"message.max.bytes", CT_INT, LC(max_message_bytes), "1048576", 64, 512 * MiB,
     "max.message.bytes", NULL,
     "Largest record batch accepted by Produce; larger ones fail with MESSAGE_TOO_LARGE. Must "
     "not exceed max.request.bytes."},
    {"log.message.timestamp.type", CT_TSTYPE, LC(message_timestamp_log_append), "CreateTime", 0, 0,
     "message.timestamp.type", NULL,
     "CreateTime keeps the producer's timestamps; LogAppendTime stamps batches with the "
     "broker's clock on append."},
};

#define NKEYS (sizeof(g_keys) / sizeof(g_keys[0]))

static int errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static const ckey_t *find_key(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(g_keys[i].name, name))
            return &g_keys[i];
    return NULL;
}

static const ckey_t *find_topic_key(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (g_keys[i].topic_key && !strcmp(g_keys[i].topic_key, name))
            return &g_keys[i];
    return NULL;
}

static int parse_int(const char *s, int64_t *out)
{
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static const char *level_names[] = {"error", "warn", "info", "debug"};

static int parse_level(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(s, level_names[i]))
            return i;
    return -1;
}

/* Accepts [v6addr]:port or host:port with port 0..65535. */
static int valid_addr(const char *s)
{
    /* An optional scheme says plaintext or TLS (listen, admin.listen, listeners). */
    if (!strncasecmp(s, "ssl://", 6))
        s += 6;
    else if (!strncasecmp(s, "plaintext://", 12))
        s += 12;
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || strlen(colon + 1) == 0)
        return 0;
    int64_t port;
    if (parse_int(colon + 1, &port) != 0 || port < 0 || port > 65535)
        return 0;
    return 1;
}

static void store_int(void *field, size_t size, int64_t v)
{
    if (size == sizeof(int32_t)) {
        int32_t x = (int32_t)v;
        memcpy(field, &x, sizeof(x));
    } else {
        memcpy(field, &v, sizeof(v));
    }
}

/* Sets k's field inside base (broker_config_t or log_config_t). name is what
 * the user wrote, for the error message. */
static int set_value(void *base, const ckey_t *k, const char *name, const char *value, char *err,
                     size_t errlen)
{
    void *field = (char *)base + k->offset;
    switch (k->type) {
    case CT_INT: {
        int64_t v;
        if (parse_int(value, &v) != 0)
            return errf(err, errlen,
                        "%s: '%s' is not an integer (allowed: %" PRId64 "..%" PRId64 ")", name,
                        value, k->min, k->max);
        if (v < k->min || v > k->max)
            return errf(err, errlen, "%s: %s is out of range (allowed: %" PRId64 "..%" PRId64 ")",
                        name, value, k->min, k->max);
        store_int(field, k->size, v);
        return 0;
    }
    case CT_BOOL: {
        int v;
        if (!strcasecmp(value, "true") || !strcmp(value, "1"))
            v = 1;
        else if (!strcasecmp(value, "false") || !strcmp(value, "0"))
            v = 0;
        else
            return errf(err, errlen, "%s: '%s' is not a boolean (allowed: true, false)", name,
                        value);
        memcpy(field, &v, sizeof(v));
        return 0;
    }
    case CT_STRING:
        if (strlen(value) >= k->size)
            return errf(err, errlen, "%s: value is too long (at most %zu characters)", name,
                        k->size - 1);
        strcpy(field, value);
        return 0;
    case CT_ADDR:
        if (strlen(value) >= k->size || !valid_addr(value))
            return errf(err, errlen, "%s: '%s' is not HOST:PORT (port 0..65535; 0 = any free)",
                        name, value);
        strcpy(field, value);
        return 0;
    case CT_LEVEL: {
        int v = parse_level(value);
        if (v < 0)
            return errf(err, errlen,
                        "%s: '%s' is not a log level (allowed: error, warn, info, "
                        "debug)",
                        name, value);
        memcpy(field, &v, sizeof(v));
        return 0;
    }
    case CT_CHOICE: {
        const char *const *choices = choices_of(k->name);
        for (int i = 0; choices[i]; i++) {
            if (!strcasecmp(value, choices[i])) {
                memcpy(field, &i, sizeof(i));
                return 0;
            }
        }
        char list[200] = "";
        for (int i = 0; choices[i]; i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                     choices[i][0] ? choices[i] : "(empty)");
        return errf(err, errlen, "%s: '%s' is not allowed (allowed: %s)", name, value, list);
    }
    case CT_TSTYPE: {
        int v;
        if (!strcmp(value, "CreateTime"))
            v = 0;
        else if (!strcmp(value, "LogAppendTime"))
            v = 1;
        else
            return errf(err, errlen,
                        "%s: '%s' is not a timestamp type (allowed: CreateTime, "
                        "LogAppendTime)",
                        name, value);
        memcpy(field, &v, sizeof(v));
        return 0;
    }
    }
    return errf(err, errlen, "%s: unsupported type", name);
}

int config_set(broker_config_t *cfg, const char *key, const char *value, char *err, size_t errlen)
{
    if (!key || !value)
        return errf(err, errlen, "config key and value must not be NULL");
    const ckey_t *k = find_key(key);
    if (!k) {
        const ckey_t *tk = find_topic_key(key);
        if (tk)
            return errf(err, errlen,
                        "unknown config key '%s' (a per-topic key; the broker-wide default is "
                        "'%s')",
                        key, tk->name);
        return errf(err, errlen,
                    "unknown config key '%s' (see docs/configuration.md or "
                    "mqbroker --print-config-doc)",
                    key);
    }
    void *base = k->topic_key ? (void *)&cfg->log : (void *)cfg;
    return set_value(base, k, key, value, err, errlen);
}

int config_set_topic_key(log_config_t *lc, const char *key, const char *value, char *err,
                         size_t errlen)
{
    if (!key || !value)
        return errf(err, errlen, "config key and value must not be NULL");
    const ckey_t *k = find_topic_key(key);
    if (!k)
        return errf(err, errlen,
                    "unknown topic config key '%s' (allowed: segment.bytes, segment.ms, "
                    "retention.ms, retention.bytes, index.interval.bytes, max.message.bytes, "
                    "message.timestamp.type)",
                    key);
    return set_value(lc, k, key, value, err, errlen);
}

void config_defaults(broker_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NKEYS; i++) {
        char err[256];
        if (config_set(cfg, g_keys[i].name, g_keys[i].def, err, sizeof(err)) != 0) {
            /* A bad default is a bug in the table; make it loud. */
            log_error("\"bad config default\" err=\"%s\"", err);
            abort();
        }
    }
}

int config_validate(const broker_config_t *cfg, char *err, size_t errlen)
{
    if (cfg->log.max_message_bytes > cfg->max_request_bytes)
        return errf(err, errlen,
                    "message.max.bytes (%d) must not exceed max.request.bytes (%" PRId64 ")",
                    cfg->log.max_message_bytes, cfg->max_request_bytes);
    if (cfg->default_partitions > cfg->max_partitions)
        return errf(err, errlen, "num.partitions (%d) must not exceed max.partitions (%d)",
                    cfg->default_partitions, cfg->max_partitions);
    if (cfg->group_min_session_timeout_ms > cfg->group_max_session_timeout_ms)
        return errf(err, errlen,
                    "group.min.session.timeout.ms (%d) must not exceed "
                    "group.max.session.timeout.ms (%d)",
                    cfg->group_min_session_timeout_ms, cfg->group_max_session_timeout_ms);
    if (cfg->data_dir[0] == '\0')
        return errf(err, errlen, "data.dir must not be empty");
    char spec[sizeof(cfg->listeners)];
    snprintf(spec, sizeof(spec), "%s", cfg->listeners);
    for (char *save, *tok = strtok_r(spec, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*tok))
            tok++;
        if (strncasecmp(tok, "ssl://", 6) && strncasecmp(tok, "plaintext://", 12))
            return errf(err, errlen,
                        "listeners: '%s' must start with plaintext:// or ssl:// (e.g. "
                        "ssl://127.0.0.1:9093)",
                        tok);
        if (!valid_addr(tok))
            return errf(err, errlen, "listeners: '%s' is not SCHEME://HOST:PORT (port 0..65535)",
                        tok);
    }
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int config_load_file(broker_config_t *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errf(err, errlen, "%s: cannot open config file: %s", path, strerror(errno));
    char line[8192];
    int lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
            rc = errf(err, errlen, "%s:%d: line is too long (at most %zu characters)", path, lineno,
                      sizeof(line) - 2);
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (*s == '\0')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = errf(err, errlen, "%s:%d: expected 'key = value', got '%s'", path, lineno, s);
            break;
        }
        *eq = '\0';
        char *key = trim(s);
        char *value = trim(eq + 1);
        if (*key == '\0') {
            rc = errf(err, errlen, "%s:%d: missing key before '='", path, lineno);
            break;
        }
        char msg[512];
        if (config_set(cfg, key, value, msg, sizeof(msg)) != 0) {
            rc = errf(err, errlen, "%s:%d: %s", path, lineno, msg);
            break;
        }
    }
    if (rc == 0 && ferror(f))
        rc = errf(err, errlen, "%s: read error: %s", path, strerror(errno));
    fclose(f);
    return rc;
}

const char *config_flag_key(const char *flag)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (g_keys[i].flag && !strcmp(g_keys[i].flag, flag))
            return g_keys[i].name;
    return NULL;
}

int config_is_key(const char *key)
{
    return find_key(key) != NULL;
}

static const char *type_name(ctype_t t)
{
    switch (t) {
    case CT_INT:
        return "integer";
    case CT_BOOL:
        return "boolean";
    case CT_STRING:
        return "string";
    case CT_ADDR:
        return "HOST:PORT";
    case CT_LEVEL:
        return "level";
    case CT_TSTYPE:
    case CT_CHOICE:
        return "enum";
    }
    return "?";
}

static void print_range(FILE *out, const ckey_t *k)
{
    switch (k->type) {
    case CT_INT:
        fprintf(out, "%" PRId64 " .. %" PRId64, k->min, k->max);
        break;
    case CT_BOOL:
        fputs("true, false", out);
        break;
    case CT_LEVEL:
        fputs("error, warn, info, debug", out);
        break;
    case CT_TSTYPE:
        fputs("CreateTime, LogAppendTime", out);
        break;
    case CT_CHOICE: {
        const char *const *choices = choices_of(k->name);
        for (int i = 0; choices[i]; i++)
            fprintf(out, "%s%s", i ? ", " : "", choices[i][0] ? choices[i] : "(empty)");
        break;
    }
    case CT_ADDR:
        fputs("port 0 .. 65535", out);
        break;
    case CT_STRING:
        fputs("-", out);
        break;
    }
}

void config_print_doc(FILE *out)
{
    fputs("# Configuration\n\n"
          "<!-- Generated by scripts/gen-config-doc from the tables in\n"
          "     broker-ref/src/config.c and sdk/c/src/conf.c; do not edit by hand. -->\n\n"
          "This page lists every key of mqbroker, then every key of libmqclient.\n\n"
          "mqbroker reads `--config FILE`, a file of `key = value` lines (`#` starts a\n"
          "comment), then applies command-line flags, which win. Every key can also be\n"
          "given as a flag: `--KEY VALUE` or `--KEY=VALUE` (e.g. `--io.threads 2`). An\n"
          "unknown key or a bad value stops the broker with exit code 2 and a message\n"
          "naming the key, the line and what is allowed.\n\n"
          "## Broker keys\n\n"
          "| Key | Type | Default | Allowed | Flag | Description |\n"
          "|---|---|---|---|---|---|\n",
          out);
    for (size_t i = 0; i < NKEYS; i++) {
        const ckey_t *k = &g_keys[i];
        fprintf(out, "| `%s` | %s | `%s` | ", k->name, type_name(k->type),
                k->def[0] ? k->def : "(empty)");
        print_range(out, k);
        fprintf(out, " | %s%s%s | %s |\n", k->flag ? "`" : "", k->flag ? k->flag : "-",
                k->flag ? "`" : "", k->doc);
    }
    fputs("\n## Per-topic keys\n\n"
          "A topic may override these defaults (admin API: `config` of a topic). The\n"
          "broker-wide key in the second column gives the default.\n\n"
          "| Topic key | Default from | Type | Allowed |\n"
          "|---|---|---|---|\n",
          out);
    for (size_t i = 0; i < NKEYS; i++) {
        const ckey_t *k = &g_keys[i];
        if (!k->topic_key)
            continue;
        fprintf(out, "| `%s` | `%s` | %s | ", k->topic_key, k->name, type_name(k->type));
        print_range(out, k);
        fputs(" |\n", out);
    }
    fputs("\n## Other flags\n\n"
          "| Flag | Meaning |\n"
          "|---|---|\n"
          "| `--config FILE` | Read keys from FILE first. |\n"
          "| `--help` | List the flags. |\n"
          "| `--version` | Print the version. |\n"
          "| `--print-config-doc` | Print this document. |\n"
          "\n## Environment (tests only)\n\n"
          "| Variable | Meaning |\n"
          "|---|---|\n"
          "| `MQ_TEST_FSYNC_DELAY_MS` | The fsync thread sleeps this long before each "
          "fdatasync, so tests can show an acks=all response never precedes its fsync. |\n",
          out);
}

const char *config_log_level_name(int level)
{
    return level >= 0 && level < 4 ? level_names[level] : "?";
}

/* Flags that take no value and are handled by main before configuration. */
static int is_action_flag(const char *a)
{
    return !strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "--version") ||
           !strcmp(a, "--print-config-doc");
}

int config_from_args(broker_config_t *cfg, int argc, char **argv, char *err, size_t errlen)
{
    config_defaults(cfg);
    /* The file first, wherever --config appears: flags always win. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *path = NULL;
        if (!strcmp(a, "--config")) {
            if (i + 1 >= argc)
                return errf(err, errlen, "--config needs a file name");
            path = argv[++i];
        } else if (!strncmp(a, "--config=", 9)) {
            path = a + 9;
        }
        if (path && config_load_file(cfg, path, err, errlen) != 0)
            return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (is_action_flag(a))
            continue;
        if (!strcmp(a, "--config")) {
            i++;
            continue;
        }
        if (!strncmp(a, "--config=", 9))
            continue;
        if (strncmp(a, "--", 2) != 0)
            return errf(err, errlen, "unexpected argument '%s' (see --help)", a);
        char flag[256];
        const char *value = NULL;
        const char *eq = strchr(a, '=');
        size_t fl = eq ? (size_t)(eq - a) : strlen(a);
        if (fl >= sizeof(flag))
            return errf(err, errlen, "unknown flag '%s' (see --help)", a);
        memcpy(flag, a, fl);
        flag[fl] = '\0';
        const char *key = config_flag_key(flag);
        if (!key && config_is_key(flag + 2))
            key = flag + 2;
        if (!key)
            return errf(err, errlen, "unknown flag '%s' (see --help)", flag);
        if (eq) {
            value = eq + 1;
        } else {
            if (i + 1 >= argc)
                return errf(err, errlen, "%s needs a value", flag);
            value = argv[++i];
        }
        char msg[512];
        if (config_set(cfg, key, value, msg, sizeof(msg)) != 0)
            return errf(err, errlen, "%s: %s", flag, msg);
    }
    return config_validate(cfg, err, errlen);
}
