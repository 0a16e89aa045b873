/* Private: the error table shared by libmqclient and mqbroker. */
#ifndef MQ_SRC_ERROR_H
#define MQ_SRC_ERROR_H

#include "mqclient.h"

/* gRPC status codes (grpc/status.h numbering). */
enum {
    MQ_GRPC_OK = 0,
    MQ_GRPC_CANCELLED = 1,
    MQ_GRPC_UNKNOWN = 2,
    MQ_GRPC_INVALID_ARGUMENT = 3,
    MQ_GRPC_DEADLINE_EXCEEDED = 4,
    MQ_GRPC_NOT_FOUND = 5,
    MQ_GRPC_ALREADY_EXISTS = 6,
    MQ_GRPC_PERMISSION_DENIED = 7,
    MQ_GRPC_RESOURCE_EXHAUSTED = 8,
    MQ_GRPC_FAILED_PRECONDITION = 9,
    MQ_GRPC_ABORTED = 10,
    MQ_GRPC_OUT_OF_RANGE = 11,
    MQ_GRPC_UNIMPLEMENTED = 12,
    MQ_GRPC_INTERNAL = 13,
    MQ_GRPC_UNAVAILABLE = 14,
    MQ_GRPC_DATA_LOSS = 15,
    MQ_GRPC_UNAUTHENTICATED = 16,
};

/* The gRPC status a whole call fails with when this error ends it. */
int mq__err_grpc_status(mq_err_t err);
/* The HTTP status the admin API answers with for this error. */
int mq__err_http_status(mq_err_t err);
/* Wire error_code <-> mq_err_t: the wire carries the magnitude. */
static inline int mq__err_to_wire(mq_err_t err)
{
    return -(int)err;
}
static inline mq_err_t mq__err_from_wire(int code)
{
    return (mq_err_t)-code;
}
/* The mq_err_t a client reports for a call that failed with a gRPC status. */
mq_err_t mq__err_from_grpc_status(int status);

#endif
