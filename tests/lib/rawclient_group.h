/* Test helper: any mq.v1.Broker call through protobuf-c messages, for the
 * consumer-group RPCs (JoinGroup, Heartbeat, LeaveGroup, CommitOffsets,
 * FetchOffsets) and Fetch with member fields. */
#ifndef MQ_TESTS_RAWCLIENT_GROUP_H
#define MQ_TESTS_RAWCLIENT_GROUP_H

#include <protobuf-c/protobuf-c.h>

#include "rawclient.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RC_PATH_JOIN_GROUP "/mq.v1.Broker/JoinGroup"
#define RC_PATH_HEARTBEAT "/mq.v1.Broker/Heartbeat"
#define RC_PATH_LEAVE_GROUP "/mq.v1.Broker/LeaveGroup"
#define RC_PATH_COMMIT_OFFSETS "/mq.v1.Broker/CommitOffsets"
#define RC_PATH_FETCH_OFFSETS "/mq.v1.Broker/FetchOffsets"

/* Sends req (a protobuf-c message) to path and unpacks the answer as a
 * message of resp_desc. Returns it (free with
 * protobuf_c_message_free_unpacked(msg, NULL)) or NULL with *grpc_status
 * (-1: no status: transport error or timeout) and msg text in err. */
ProtobufCMessage *rc_call_pb(rawclient_t *rc, const char *path, const ProtobufCMessage *req,
                             const ProtobufCMessageDescriptor *resp_desc, int timeout_ms,
                             int *grpc_status, char *err, size_t errlen);
/* Submits without waiting (for long-polled heartbeats); the stream id or -1. */
int32_t rc_submit_pb(rawclient_t *rc, const char *path, const ProtobufCMessage *req);
/* Unpacks a finished call's answer, as rc_call_pb. */
ProtobufCMessage *rc_result_pb(const rc_result_t *r, const ProtobufCMessageDescriptor *resp_desc,
                               int *grpc_status, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
