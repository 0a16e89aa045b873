/* rawclient_group.h: protobuf-c messages over rawclient calls. */
#include "rawclient_group.h"

#include <stdio.h>
#include <stdlib.h>

static uint8_t *pack(const ProtobufCMessage *req, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(req);
    uint8_t *buf = malloc(*len + 1);
    if (buf)
        protobuf_c_message_pack(req, buf);
    return buf;
}

int32_t rc_submit_pb(rawclient_t *rc, const char *path, const ProtobufCMessage *req)
{
    size_t len;
    uint8_t *buf = pack(req, &len);
    if (!buf)
        return -1;
    int32_t id = rc_submit(rc, path, buf, len, NULL);
    free(buf);
    return id;
}

ProtobufCMessage *rc_result_pb(const rc_result_t *r, const ProtobufCMessageDescriptor *resp_desc,
                               int *grpc_status, char *err, size_t errlen)
{
    *grpc_status = r->grpc_status;
    if (err && errlen)
        snprintf(err, errlen, "%s", r->grpc_message);
    if (r->grpc_status != 0 || !r->msg)
        return NULL;
    ProtobufCMessage *m = protobuf_c_message_unpack(resp_desc, NULL, r->msg_len, r->msg);
    if (!m && err && errlen)
        snprintf(err, errlen, "response does not parse as %s", resp_desc->name);
    return m;
}

ProtobufCMessage *rc_call_pb(rawclient_t *rc, const char *path, const ProtobufCMessage *req,
                             const ProtobufCMessageDescriptor *resp_desc, int timeout_ms,
                             int *grpc_status, char *err, size_t errlen)
{
    size_t len;
    uint8_t *buf = pack(req, &len);
    *grpc_status = -1;
    if (!buf)
        return NULL;
    rc_result_t r;
    int rc_ok = rc_unary(rc, path, buf, len, NULL, timeout_ms, &r);
    free(buf);
    if (rc_ok != 1) {
        if (err && errlen)
            snprintf(err, errlen, "call did not finish: %s", rc_error(rc));
        if (rc_ok == 0)
            rc_result_free(&r);
        return NULL;
    }
    ProtobufCMessage *m = rc_result_pb(&r, resp_desc, grpc_status, err, errlen);
    rc_result_free(&r);
    return m;
}
