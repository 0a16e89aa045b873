/* Private: the client configuration and its one table of keys. */
#ifndef MQ_SRC_CONF_H
#define MQ_SRC_CONF_H

#include <stdint.h>
#include <stdio.h>

#include "mqclient.h"

#ifdef __cplusplus
extern "C" {
#endif

/* compression.type values: the wire's attribute codes. */
enum { MQ__COMPRESSION_NONE = 0, MQ__COMPRESSION_LZ4 = 3, MQ__COMPRESSION_ZSTD = 4 };

/* auto.offset.reset and partition.assignment.strategy values. */
enum { MQ__RESET_EARLIEST = 0, MQ__RESET_LATEST = 1, MQ__RESET_ERROR = 2 };
enum { MQ__ASSIGN_STICKY = 0, MQ__ASSIGN_RANGE = 1, MQ__ASSIGN_ROUNDROBIN = 2 };

/* Parsed values; every numeric key (int, bool, enum) is an int64_t. */
struct mq_conf {
    char *bootstrap_servers;
    char *client_id;
    int64_t linger_ms;
    int64_t batch_size;
    int64_t batch_num_messages;
    int64_t max_in_flight;
    int64_t acks;
    int64_t enable_idempotence;
    int64_t retries;
    int64_t reconnect_backoff_ms;
    int64_t reconnect_backoff_max_ms;
    int64_t retry_backoff_ms;
    int64_t retry_backoff_max_ms;
    int64_t message_timeout_ms;
    int64_t request_timeout_ms;
    int64_t queue_buffering_max_kbytes;
    int64_t queue_buffering_max_messages;
    int64_t max_block_ms;
    int64_t compression_type;
    int64_t statistics_interval_ms;
    int64_t message_max_bytes;
    int64_t metadata_refresh_interval_ms;
    int64_t socket_connection_setup_timeout_ms;
    int64_t socket_keepalive_enable;
    int64_t connection_ping_interval_ms;
    int64_t connection_ping_timeout_ms;
    /* TLS (net/tls.c). */
    int64_t security_protocol; /* 0 plaintext, 1 ssl */
    char *ssl_ca_location;
    char *ssl_ca_pem;
    char *ssl_certificate_location;
    char *ssl_certificate_pem;
    char *ssl_key_location;
    char *ssl_key_pem;
    char *ssl_key_password;
    char *ssl_crl_location;
    int64_t ssl_endpoint_identification; /* 0 none, 1 https */
    /* Consumer keys. */
    char *group_id;
    char *group_instance_id;
    int64_t session_timeout_ms;
    int64_t heartbeat_interval_ms;
    int64_t max_poll_interval_ms;
    int64_t auto_offset_reset;
    int64_t enable_auto_commit;
    int64_t auto_commit_interval_ms;
    int64_t enable_auto_offset_store;
    int64_t enable_partition_eof;
    int64_t fetch_max_bytes;
    int64_t fetch_min_bytes;
    int64_t fetch_wait_max_ms;
    int64_t max_partition_fetch_bytes;
    int64_t queued_max_messages_kbytes;
    int64_t partition_assignment_strategy;
};

/* Checks that keys agree with each other (e.g. idempotence needs acks=all
 * and max.in.flight <= 5). Returns MQ_OK or MQ_ERR_INVALID_CONFIG. */
mq_err_t mq__conf_check(const mq_conf_t *conf, char *errstr, size_t errstr_size);

/* Writes the table as a markdown section (for docs/configuration.md). */
void mq__conf_write_markdown(FILE *out);

/* Number of keys in the table and the name of key i (for tests). */
size_t mq__conf_key_count(void);
const char *mq__conf_key_name(size_t i);

#ifdef __cplusplus
}
#endif

#endif
