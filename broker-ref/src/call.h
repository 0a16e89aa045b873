/* One gRPC call on the client port: a unary request on an HTTP/2 stream.
 *
 * server.c creates a call per stream, checks the headers, decodes the one
 * length-prefixed request message and hands it to the method's handler
 * (produce.c, fetch.c, metadata.c). A handler answers now or later with
 * call_reply() or call_fail(). A call may outlive its stream (reset by the
 * peer, connection closed, deadline passed): it is reference-counted, a
 * handler that answers later holds a reference, and answering a call that
 * is already done is a no-op. Everything runs on the call's loop thread. */
#ifndef BROKER_CALL_H
#define BROKER_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "log/partition.h"
#include "loop.h"
#include "mqclient.h"

typedef struct conn conn_t;
typedef struct call call_t;

typedef enum {
    METHOD_NONE = -1,
    METHOD_METADATA = 0,
    METHOD_PRODUCE,
    METHOD_FETCH,
    METHOD_LIST_OFFSETS,
    METHOD_INIT_PRODUCER_ID,
    METHOD_JOIN_GROUP,
    METHOD_HEARTBEAT,
    METHOD_LEAVE_GROUP,
    METHOD_COMMIT_OFFSETS,
    METHOD_FETCH_OFFSETS,
    METHOD_COUNT
} method_t;

/* A piece of the response body: len bytes at off in the response buffer.
 * Slices let a handler leave gaps in its buffer (fetch.c writes headers
 * right before the records it read, without moving them). */
typedef struct slice {
    size_t off;
    size_t len;
} slice_t;

struct call {
    loop_t *loop;
    conn_t *conn; /* NULL once the connection is gone */
    int32_t stream_id;
    method_t method;
    int refs;
    unsigned done : 1;          /* a response (or reset) was submitted */
    unsigned stream_closed : 1; /* nghttp2 closed the stream */
    unsigned headers_ok : 1;    /* request headers were valid */
    unsigned dispatched : 1;    /* the request message reached the handler */
    unsigned have_msg : 1;      /* the request message is in msg */
    unsigned content_type_ok : 1;
    unsigned is_post : 1;
    unsigned reset_after_reply : 1; /* RST_STREAM(NO_ERROR) once answered */
    int64_t start_us;
    int64_t deadline_ms; /* monotonic; 0 = none */
    loop_timer_t deadline_timer;
    size_t bytes_in;
    size_t bytes_out;
    char path[64];

    /* Request decoding (gRPC 5-byte framing). */
    void *decoder; /* mq_grpc_decoder_t, allocated on the first DATA */
    uint8_t *msg;  /* the request message, until END_STREAM */
    size_t msg_len;

    /* Response. */
    bytebuf_t resp;
    slice_t *slices;
    size_t nslices;
    size_t slice_idx;
    size_t slice_pos;
    uint8_t prefix[5];
    size_t prefix_pos;
    int grpc_status;
    char *grpc_message; /* percent-encoded; NULL when empty */

    /* The handler's state and the hook run when the call ends before the
     * handler answered (stream reset, connection closed, deadline, shutdown).
     * The hook must drop whatever it parked; it may not answer. */
    void *state;
    void (*on_cancel)(call_t *c);

    call_t *next; /* in the connection's list of live calls */
    call_t *prev;
};

void call_ref(call_t *c);
void call_unref(call_t *c);

/* Answers with a response message: the call takes over buf (freed when the
 * call is) and sends the given slices of it as the one message, then
 * grpc-status OK. nslices 0 means the whole buffer. Returns nothing: if the
 * call is already done, buf is just freed. */
void call_reply(call_t *c, bytebuf_t *buf, const slice_t *slices, size_t nslices);
/* Answers with a protobuf-c message (packed here). */
void call_reply_pb(call_t *c, const void *protobuf_c_message);
/* Fails the whole call with a gRPC status and message (Trailers-Only). */
void call_fail(call_t *c, int grpc_status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 1 when nobody will read an answer any more (done, reset, closed). */
int call_is_done(const call_t *c);
/* Milliseconds until the call's deadline (INT64_MAX if none, >= 0). */
int64_t call_time_left_ms(const call_t *c);

/* Most partitions (or topics) one Fetch, ListOffsets or Metadata request may
 * name: bounds the memory a single request can make the broker spend. */
#define MAX_REQUEST_PARTITIONS 100000

/* Handlers, one per method. msg (the request message) belongs to the call
 * and lives as long as it: a handler holding a reference may keep pointers
 * into it, and may modify it in place. */
void metadata_handle(call_t *c, uint8_t *msg, size_t len);
void produce_handle(call_t *c, uint8_t *msg, size_t len);
void fetch_handle(call_t *c, uint8_t *msg, size_t len);
void list_offsets_handle(call_t *c, uint8_t *msg, size_t len);
void init_producer_id_handle(call_t *c, uint8_t *msg, size_t len); /* init_producer.c */
/* Consumer groups (group_rpc.c). */
void join_group_handle(call_t *c, uint8_t *msg, size_t len);
void heartbeat_handle(call_t *c, uint8_t *msg, size_t len);
void leave_group_handle(call_t *c, uint8_t *msg, size_t len);
void commit_offsets_handle(call_t *c, uint8_t *msg, size_t len);
void fetch_offsets_handle(call_t *c, uint8_t *msg, size_t len);

/* A ProduceRequest decoded in place (produce.c): records point into the
 * message, topics are NUL-terminated copies. */
typedef struct produce_batch {
    char *topic;
    int32_t partition;
    uint8_t *records;
    size_t len;
} produce_batch_t;

typedef struct produce_req {
    int32_t acks;
    int32_t timeout_ms;
    size_t n_batches;
    produce_batch_t *batches;
} produce_req_t;

/* Decodes the protobuf wire format of mq.v1.ProduceRequest (unknown fields
 * skipped). MQ_OK, MQ_ERR_PROTOCOL (malformed) or MQ_ERR_NO_MEMORY; on
 * error nothing needs freeing. */
mq_err_t produce_req_decode(uint8_t *msg, size_t len, produce_req_t *out);
void produce_req_free(produce_req_t *r);

/* Fetch long poll support (fetch.c). */
/* Per-loop state; called by server.c when loops are created. */
void fetch_init(int nloops);
/* Some partition got appends: wakes parked fetches on every loop. Any thread. */
void fetch_notify_append(void);
/* Answers every parked fetch on this loop now (shutdown). Loop thread only. */
void fetch_release_all(loop_t *loop);

#endif
