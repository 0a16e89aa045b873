/* The one error table: code, name, text, gRPC status, HTTP status, retriable.
 * docs/protocol.md reproduces it; keep the two in step. */
#include "error.h"

#include <stddef.h>

struct err_entry {
    mq_err_t code;
    const char *name;
    const char *text;
    int grpc;
    int http;
    int retriable;
};

/* clang-format off */
#define E(code, text, grpc, http, retr) {code, #code, text, MQ_GRPC_##grpc, http, retr}
/* clang-format on */

static const struct err_entry table[] = {
    E(MQ_OK, "success", OK, 200, 0),
    E(MQ_ERR_UNKNOWN, "unknown error", UNKNOWN, 500, 0),
    E(MQ_ERR_INVALID_ARG, "invalid argument", INVALID_ARGUMENT, 400, 0),
    E(MQ_ERR_NO_MEMORY, "out of memory", RESOURCE_EXHAUSTED, 500, 1),
    E(MQ_ERR_INVALID_CONFIG, "invalid configuration", INVALID_ARGUMENT, 400, 0),
    E(MQ_ERR_UNKNOWN_TOPIC, "unknown topic", NOT_FOUND, 404, 0),
    E(MQ_ERR_UNKNOWN_PARTITION, "unknown partition", NOT_FOUND, 404, 0),
    E(MQ_ERR_TOPIC_EXISTS, "topic already exists", ALREADY_EXISTS, 409, 0),
    E(MQ_ERR_INVALID_TOPIC, "invalid topic name", INVALID_ARGUMENT, 400, 0),
    E(MQ_ERR_INVALID_PARTITIONS, "invalid partition count", INVALID_ARGUMENT, 400, 0),
    E(MQ_ERR_CORRUPT_MESSAGE, "record batch CRC mismatch", DATA_LOSS, 400, 1),
    E(MQ_ERR_INVALID_BATCH, "malformed record batch", INVALID_ARGUMENT, 400, 0),
    E(MQ_ERR_MESSAGE_TOO_LARGE, "message too large", RESOURCE_EXHAUSTED, 413, 0),
    E(MQ_ERR_REQUEST_TOO_LARGE, "request too large", RESOURCE_EXHAUSTED, 413, 0),
    E(MQ_ERR_OFFSET_OUT_OF_RANGE, "offset out of range", OUT_OF_RANGE, 416, 0),
    E(MQ_ERR_TIMED_OUT, "timed out", DEADLINE_EXCEEDED, 504, 1),
    E(MQ_ERR_TRANSPORT, "connection failed", UNAVAILABLE, 503, 1),
    E(MQ_ERR_SHUTTING_DOWN, "broker shutting down", UNAVAILABLE, 503, 1),
    E(MQ_ERR_STORAGE, "broker storage error", INTERNAL, 500, 1),
    E(MQ_ERR_PROTOCOL, "protocol error", INVALID_ARGUMENT, 400, 0),
    E(MQ_ERR_UNSUPPORTED, "unsupported request", UNIMPLEMENTED, 501, 0),
    E(MQ_ERR_TOO_MANY_CONNECTIONS, "too many connections", RESOURCE_EXHAUSTED, 503, 1),
    E(MQ_ERR_NOT_FOUND, "not found", NOT_FOUND, 404, 0),
    E(MQ_ERR_QUEUE_FULL, "producer queue full", RESOURCE_EXHAUSTED, 503, 1),
    E(MQ_ERR_MSG_TIMED_OUT, "message timed out", DEADLINE_EXCEEDED, 504, 0),
    E(MQ_ERR_CLOSED, "handle closed", CANCELLED, 503, 0),
    E(MQ_ERR_OUT_OF_ORDER_SEQUENCE, "out of order sequence number", FAILED_PRECONDITION, 409, 0),
    E(MQ_ERR_PRODUCER_FENCED, "producer fenced by a newer epoch", FAILED_PRECONDITION, 409, 0),
    E(MQ_ERR_UNKNOWN_PRODUCER, "unknown producer id", FAILED_PRECONDITION, 409, 1),
    E(MQ_ERR_AUTHENTICATION, "authentication failed", UNAUTHENTICATED, 401, 0),
    E(MQ_ERR_TOPIC_AUTHORIZATION, "not authorized for topic", PERMISSION_DENIED, 403, 0),
    E(MQ_ERR_GROUP_AUTHORIZATION, "not authorized for group", PERMISSION_DENIED, 403, 0),
    E(MQ_ERR_CLUSTER_AUTHORIZATION, "not authorized for cluster", PERMISSION_DENIED, 403, 0),
    E(MQ_ERR_UNKNOWN_MEMBER, "unknown group member", FAILED_PRECONDITION, 409, 0),
    E(MQ_ERR_FENCED_MEMBER_EPOCH, "member epoch fenced", FAILED_PRECONDITION, 409, 0),
    E(MQ_ERR_STALE_MEMBER_EPOCH, "stale member epoch", FAILED_PRECONDITION, 409, 1),
    E(MQ_ERR_GROUP_NOT_EMPTY, "group has members", FAILED_PRECONDITION, 409, 0),
    E(MQ_ERR_INVALID_SESSION_TIMEOUT, "session timeout out of range", INVALID_ARGUMENT, 400, 0),
    E(MQ_ERR_UNSUPPORTED_ASSIGNOR, "unknown partition assignor", INVALID_ARGUMENT, 400, 0),
    E(MQ_ERR_INVALID_GROUP_ID, "invalid group id", INVALID_ARGUMENT, 400, 0),
    E(MQ_ERR_MAX_POLL_EXCEEDED, "max.poll.interval.ms exceeded", FAILED_PRECONDITION, 409, 0),
};

#undef E

static const struct err_entry *lookup(mq_err_t err)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (table[i].code == err)
            return &table[i];
    }
    return &table[1]; /* MQ_ERR_UNKNOWN */
}

const char *mq_err_str(mq_err_t err)
{
    return lookup(err)->text;
}

const char *mq_err_name(mq_err_t err)
{
    return lookup(err)->name;
}

int mq_err_is_retriable(mq_err_t err)
{
    return err != MQ_OK && lookup(err)->retriable;
}

int mq__err_grpc_status(mq_err_t err)
{
    return lookup(err)->grpc;
}

int mq__err_http_status(mq_err_t err)
{
    return lookup(err)->http;
}

mq_err_t mq__err_from_grpc_status(int status)
{
    switch (status) {
    case MQ_GRPC_OK:
        return MQ_OK;
    case MQ_GRPC_DEADLINE_EXCEEDED:
        return MQ_ERR_TIMED_OUT;
    case MQ_GRPC_UNAVAILABLE:
        return MQ_ERR_TRANSPORT;
    case MQ_GRPC_UNIMPLEMENTED:
        return MQ_ERR_UNSUPPORTED;
    case MQ_GRPC_RESOURCE_EXHAUSTED:
        return MQ_ERR_REQUEST_TOO_LARGE;
    case MQ_GRPC_INVALID_ARGUMENT:
        return MQ_ERR_PROTOCOL;
    case MQ_GRPC_UNAUTHENTICATED:
        return MQ_ERR_AUTHENTICATION;
    case MQ_GRPC_PERMISSION_DENIED:
        return MQ_ERR_CLUSTER_AUTHORIZATION;
    case MQ_GRPC_NOT_FOUND:
        return MQ_ERR_NOT_FOUND;
    default:
        return MQ_ERR_UNKNOWN;
    }
}

const char *mq_version(void)
{
    return MQ_VERSION_STR;
}
