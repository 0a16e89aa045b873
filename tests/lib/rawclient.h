/* Test helper: a small blocking gRPC client over nghttp2 (HTTP/2 prior
 * knowledge, raised flow-control windows) for talking to mqbroker without
 * libmqclient. One connection carries any number of calls in flight
 * (rc_submit + rc_poll/rc_wait); rc_unary does one call start to finish.
 * Convenience helpers encode and decode the mq.v1.Broker messages with
 * protobuf-c and build record batches with the codec; admin helpers speak
 * the broker's REST API with libcurl. Not thread-safe: one rawclient per
 * thread. */
#ifndef MQ_TESTS_RAWCLIENT_H
#define MQ_TESTS_RAWCLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rawclient rawclient_t;

typedef struct rc_header {
    const char *name;
    const char *value;
} rc_header_t;

typedef struct rc_call_opts {
    const rc_header_t *headers; /* extra request headers */
    size_t header_count;
    const char *content_type; /* NULL = "application/grpc" */
    int raw_body;             /* 1 = body is sent as is, no 5-byte prefix added */
    int grpc_timeout_ms;      /* > 0 adds "grpc-timeout: <n>m" */
    int borrow_body;          /* 1 = with raw_body, send body in place (it must
                                 outlive the call); no copy is made */
} rc_call_opts_t;

typedef struct rc_result {
    int32_t stream_id;
    int http_status; /* :status, 0 if none arrived */
    int grpc_status; /* grpc-status, -1 if none arrived */
    char grpc_message[512];
    char content_type[128];
    uint32_t close_error; /* HTTP/2 error code the stream closed with (RST_STREAM) */
    int transport_error;  /* connection failed or GOAWAY'd before the call finished */
    int timed_out;        /* the local wait ran out (the stream was cancelled) */
    uint8_t *body;        /* every DATA byte received */
    size_t body_len;
    const uint8_t *msg; /* payload of the first complete gRPC message in body */
    size_t msg_len;
    int msg_compressed;
    int msg_count; /* complete gRPC messages in body */
} rc_result_t;

/* Connects to host:port and sends the preface and settings. NULL on failure
 * with a reason in err. */
rawclient_t *rc_connect(const char *host, int port, char *err, size_t errlen);
/* Same, with "HOST:PORT". */
rawclient_t *rc_connect_addr(const char *addr, char *err, size_t errlen);
/* Over TLS (ALPN h2): ca verifies the broker (NULL: no verification), cert
 * and key (NULL: none) are the client certificate. The handshake is done
 * before it returns (up to 5 s); with TLS 1.3 the broker may still refuse
 * the certificate after that (the first call then fails). */
rawclient_t *rc_connect_tls(const char *host, int port, const char *ca, const char *cert,
                            const char *key, char *err, size_t errlen);
void rc_close(rawclient_t *rc);

/* Starts a call: path like "/mq.v1.Broker/Produce", body the serialized
 * request (framed with the 5-byte prefix unless opts->raw_body). Returns the
 * stream id (> 0) or -1 (connection unusable; rc_error says why). */
int32_t rc_submit(rawclient_t *rc, const char *path, const void *body, size_t len,
                  const rc_call_opts_t *opts);
/* Waits for any submitted call to finish and moves its result to out.
 * Returns 1 with out filled, 0 on timeout, -1 if nothing is in flight. */
int rc_poll(rawclient_t *rc, int timeout_ms, rc_result_t *out);
/* Waits for one call. Returns 1 with out filled, 0 on timeout (the call is
 * then cancelled with RST_STREAM and out->timed_out set), -1 if unknown. */
int rc_wait(rawclient_t *rc, int32_t stream_id, int timeout_ms, rc_result_t *out);
/* Submit + wait. Returns 1 if the call finished (see out for how), 0 on
 * timeout, -1 if it could not be sent. */
int rc_unary(rawclient_t *rc, const char *path, const void *body, size_t len,
             const rc_call_opts_t *opts, int timeout_ms, rc_result_t *out);
void rc_result_free(rc_result_t *r);
/* Calls submitted and not yet returned by rc_poll/rc_wait. */
int rc_inflight(const rawclient_t *rc);
/* 1 once the connection is closed, broken or GOAWAY'd. */
int rc_broken(const rawclient_t *rc);
const char *rc_error(const rawclient_t *rc);
/* Pumps I/O for up to timeout_ms (no call needs to be in flight); returns
 * -1 once the connection is broken. Lets tests see a GOAWAY or a close. */
int rc_pump(rawclient_t *rc, int timeout_ms);
/* The last GOAWAY's error code, or -1 if none arrived. */
int rc_goaway_error(const rawclient_t *rc);
/* The connection's local TCP port (to find it in strace output). */
int rc_local_port(const rawclient_t *rc);

/* ---- mq.v1.Broker helpers ----------------------------------------------- */

#define RC_PATH_METADATA "/mq.v1.Broker/Metadata"
#define RC_PATH_PRODUCE "/mq.v1.Broker/Produce"
#define RC_PATH_FETCH "/mq.v1.Broker/Fetch"
#define RC_PATH_LIST_OFFSETS "/mq.v1.Broker/ListOffsets"

/* Default wait for a helper call; fetches add their max_wait to it. */
#define RC_CALL_TIMEOUT_MS 20000

typedef struct rc_batch_ref {
    const char *topic;
    int32_t partition;
    const uint8_t *data;
    size_t len;
} rc_batch_ref_t;

typedef struct rc_produce_result {
    int grpc_status; /* -1 = no status (transport error or timeout) */
    char grpc_message[512];
    int32_t error_code; /* wire code: 0 or -mq_err_t */
    int64_t base_offset;
    int64_t log_append_time_ms;
    int64_t log_start_offset;
    char error_message[256];
} rc_produce_result_t;

/* Serialized ProduceRequest (malloc'd) for n batches. */
uint8_t *rc_encode_produce(int acks, int timeout_ms, const rc_batch_ref_t *batches, size_t n,
                           size_t *out_len);
/* Fills up to max results from a ProduceResponse payload; returns how many
 * results it had, or -1 if it does not parse. grpc fields are left alone. */
int rc_decode_produce(const uint8_t *msg, size_t len, rc_produce_result_t *out, size_t max);
/* Fills out (one result) from a finished Produce call's rc_result. */
void rc_produce_result_from(const rc_result_t *r, rc_produce_result_t *out);
/* One batch, one call. Returns 0 when grpc-status is OK and the response
 * parsed (out->error_code may still be set), else -1 (see out). */
int rc_produce(rawclient_t *rc, const char *topic, int32_t partition, const uint8_t *batch,
               size_t len, int acks, rc_produce_result_t *out);

typedef struct rc_fetch_result {
    int grpc_status;
    char grpc_message[512];
    int32_t error_code;
    int64_t high_watermark;
    int64_t log_start_offset;
    uint8_t *records; /* malloc'd copy; rc_fetch_result_free */
    size_t records_len;
    char error_message[256];
} rc_fetch_result_t;

uint8_t *rc_encode_fetch(const char *topic, int32_t partition, int64_t offset, int max_wait_ms,
                         int min_bytes, int max_bytes, int partition_max_bytes, size_t *out_len);
/* One partition. partition_max_bytes 0 = same as max_bytes (or 1 MiB). */
int rc_fetch(rawclient_t *rc, const char *topic, int32_t partition, int64_t offset, int max_wait_ms,
             int min_bytes, int max_bytes, rc_fetch_result_t *out);
/* Same with an explicit partition cap. */
int rc_fetch_ex(rawclient_t *rc, const char *topic, int32_t partition, int64_t offset,
                int max_wait_ms, int min_bytes, int max_bytes, int partition_max_bytes,
                rc_fetch_result_t *out);
void rc_fetch_result_from(const rc_result_t *r, rc_fetch_result_t *out);
void rc_fetch_result_free(rc_fetch_result_t *r);

typedef struct rc_offset_result {
    int grpc_status;
    char grpc_message[512];
    int32_t error_code;
    int64_t offset;
    int64_t timestamp;
} rc_offset_result_t;

/* timestamp: -2 earliest, -1 latest, else ms since the epoch. */
int rc_list_offsets(rawclient_t *rc, const char *topic, int32_t partition, int64_t timestamp,
                    rc_offset_result_t *out);

/* Metadata for the given topics (n = 0: all). Returns a
 * Mq__V1__MetadataResponse* (free with mq__v1__metadata_response__free_unpacked
 * (resp, NULL)) as void* to keep this header free of protobuf-c, or NULL with
 * *grpc_status set (-1 if no status). */
void *rc_metadata(rawclient_t *rc, const char *const *topics, size_t n, int *grpc_status);

/* Walks concatenated batches: returns the size of the batch at buf, or 0 if
 * buf/len does not start with a whole valid batch header. base offset and
 * record count go to the outputs when non-NULL. */
size_t rc_batch_at(const uint8_t *buf, size_t len, int64_t *base_offset, int32_t *record_count);

/* ---- Building batches ---------------------------------------------------- */

/* A magic-2 batch of `records` records with value_size-byte values, keys
 * "k<seed>-<i>", values derived from seed, timestamps ts_ms (+i), no
 * producer id, no compression. malloc'd; NULL on failure. */
uint8_t *rc_make_batch(int records, size_t value_size, int64_t ts_ms, uint32_t seed,
                       size_t *out_len);
/* Same with an explicit compression (MQ_BATCH_COMPRESSION_*). */
uint8_t *rc_make_batch_ex(int records, size_t value_size, int64_t ts_ms, uint32_t seed,
                          int compression, size_t *out_len);
int64_t rc_now_ms(void); /* wall clock, ms since the epoch */

/* ---- Admin REST (libcurl) ------------------------------------------------ */

/* method "GET"/"POST"/"PUT"/"DELETE"; body JSON or NULL. *resp (may be NULL)
 * gets the malloc'd body. Returns the HTTP status, or -1 if no response. */
long rc_admin_request(const char *admin_addr, const char *method, const char *path,
                      const char *body, char **resp);
/* POST /api/v1/topics {"name","partitions"}. Returns the HTTP status (201 or
 * 200 on success) or -1; err gets the response body on failure. */
long rc_admin_create_topic(const char *admin_addr, const char *name, int partitions, char *err,
                           size_t errlen);
/* Same with extra JSON members for the topic config, e.g.
 * "\"config\":{\"max.message.bytes\":\"1000\"}" (NULL = none). */
long rc_admin_create_topic_ex(const char *admin_addr, const char *name, int partitions,
                              const char *extra_json, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
