/* Broker configuration: one table of keys (type, default, range, doc) in
 * config.c; a file of `key = value` lines, then flags, fill broker_config_t.
 * docs/configuration.md is generated from the table (mqbroker --print-config-doc). */
#ifndef BROKER_CONFIG_H
#define BROKER_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "log/partition.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct broker_config {
    char data_dir[4096];
    char listen[256];       /* HOST:PORT of the client (gRPC) port */
    char admin_listen[256]; /* HOST:PORT of the admin REST port */
    char ready_file[4096];
    int log_level; /* 0 error, 1 warn, 2 info, 3 debug */
    int io_threads;
    int node_id;
    int max_connections;
    int64_t max_request_bytes; /* whole gRPC message */
    int32_t fetch_max_bytes;   /* default response cap (<= 4 MiB) */
    int32_t fetch_max_wait_ms; /* upper bound on a Fetch long poll */
    int auto_create_topics;
    int32_t default_partitions;
    int32_t max_partitions;
    int32_t group_min_session_timeout_ms;
    int32_t group_max_session_timeout_ms;
    int32_t group_heartbeat_interval_ms;
    int64_t housekeeping_interval_ms;
    int64_t shutdown_timeout_ms;
    int64_t connections_max_idle_ms; /* 0 = never close idle connections */
    log_config_t log;                /* topic defaults */
    /* TLS and authorization (tls.c, acl.c). */
    char listeners[1024]; /* "plaintext://H:P,ssl://H:P"; empty = listen */
    char ssl_cert[1024];
    char ssl_key[1024];
    char ssl_key_password[256];
    char ssl_ca[1024];
    char ssl_crl[1024];
    int ssl_client_auth;       /* 0 none, 1 requested, 2 required */
    int ssl_principal_mapping; /* 0 cn, 1 san.uri, 2 san.dns, 3 san.email */
    char admin_ssl_cert[1024]; /* admin.ssl.*: empty = the ssl.* value */
    char admin_ssl_key[1024];
    char admin_ssl_ca[1024];
    char admin_ssl_crl[1024];
    int admin_ssl_client_auth; /* 0 = as ssl.client.auth, else 1 + its value */
    int authorizer_enabled;
    char super_users[4096]; /* comma-separated principals */
} broker_config_t;

/* Fills cfg with defaults. */
void config_defaults(broker_config_t *cfg);
/* Sets one key; on failure writes a message naming the key and what is
 * allowed into err and returns -1. */
int config_set(broker_config_t *cfg, const char *key, const char *value, char *err, size_t errlen);
/* Reads a file of `key = value` lines (# comments). -1 with err on failure,
 * naming the file, line and key. */
int config_load_file(broker_config_t *cfg, const char *path, char *err, size_t errlen);
/* Topic-level keys (segment.bytes, retention.ms, ...) applied to a log_config. */
int config_set_topic_key(log_config_t *lc, const char *key, const char *value, char *err,
                         size_t errlen);
/* Writes the markdown reference for every key. */
void config_print_doc(FILE *out);

/* Cross-key checks after every key is set (message.max.bytes <=
 * max.request.bytes, num.partitions <= max.partitions, data.dir set).
 * 0, or -1 with a message in err. */
int config_validate(const broker_config_t *cfg, char *err, size_t errlen);
/* The key a dedicated flag sets ("--data-dir" -> "data.dir"), or NULL. */
const char *config_flag_key(const char *flag);
/* 1 if key is a broker key of the table. */
int config_is_key(const char *key);
/* Defaults, then the --config file (wherever it appears), then every other
 * flag in order (later wins): the dedicated flags (--data-dir, --listen,
 * --admin-listen, --log-level, --ready-file) and `--KEY VALUE` or
 * `--KEY=VALUE` for any key. --help, --version and --print-config-doc are
 * skipped (main handles them). Ends with config_validate. 0, or -1 with a
 * message naming the flag or file line. */
int config_from_args(broker_config_t *cfg, int argc, char **argv, char *err, size_t errlen);
/* "error", "warn", "info" or "debug". */
const char *config_log_level_name(int level);

extern broker_config_t g_config;

#ifdef __cplusplus
}
#endif

#endif
