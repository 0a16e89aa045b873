/* Call lifetime and answers: reference counting, the response message and
 * the status a call ends with. The HTTP/2 side (submitting frames) is in
 * server.c. */
#include "call.h"

#include <protobuf-c/protobuf-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "server.h"
#include "wire/grpc.h"

void call_ref(call_t *c)
{
    c->refs++;
}

void call_unref(call_t *c)
{
    if (--c->refs > 0)
        return;
    loop_timer_stop(c->loop, &c->deadline_timer);
    if (c->decoder) {
        mq__grpc_decoder_free(c->decoder);
        free(c->decoder);
    }
    bytebuf_free(&c->resp);
    free(c->msg);
    free(c->slices);
    free(c->grpc_message);
    free(c);
}

int call_is_done(const call_t *c)
{
    return c->done || c->stream_closed || !c->conn;
}

int64_t call_time_left_ms(const call_t *c)
{
    if (c->deadline_ms <= 0)
        return INT64_MAX;
    int64_t left = c->deadline_ms - loop_now_ms();
    return left > 0 ? left : 0;
}

/* Marks the call answered; 0 if it was live (the caller then submits). */
static int finish(call_t *c, int status)
{
    if (call_is_done(c))
        return -1;
    c->done = 1;
    c->grpc_status = status;
    c->on_cancel = NULL;
    loop_timer_stop(c->loop, &c->deadline_timer);
    server_call_finished(c);
    return 0;
}

void call_reply(call_t *c, bytebuf_t *buf, const slice_t *slices, size_t nslices)
{
    bytebuf_t b = *buf;
    memset(buf, 0, sizeof(*buf));
    if (call_is_done(c)) {
        bytebuf_free(&b);
        return;
    }
    slice_t whole = {0, b.len};
    if (nslices == 0) {
        slices = &whole;
        nslices = 1;
        c->slices = malloc(sizeof(slice_t));
        if (c->slices)
            c->slices[0] = whole;
    } else {
        c->slices = malloc(nslices * sizeof(slice_t));
        if (c->slices)
            memcpy(c->slices, slices, nslices * sizeof(slice_t));
    }
    if (!c->slices) {
        bytebuf_free(&b);
        call_fail(c, MQ_GRPC_RESOURCE_EXHAUSTED, "out of memory building the response");
        return;
    }
    size_t total = 0;
    for (size_t i = 0; i < nslices; i++)
        total += slices[i].len;
    c->nslices = nslices;
    c->resp = b;
    mq__grpc_put_prefix(c->prefix, (uint32_t)total);
    c->bytes_out = total + MQ_GRPC_PREFIX_SIZE;
    conn_t *conn = c->conn;
    finish(c, MQ_GRPC_OK);
    conn_submit_reply(conn, c);
}

void call_reply_pb(call_t *c, const void *msg)
{
    const ProtobufCMessage *m = msg;
    bytebuf_t b = {0};
    size_t n = protobuf_c_message_get_packed_size(m);
    if (bytebuf_reserve(&b, n + 1) != 0) {
        call_fail(c, MQ_GRPC_RESOURCE_EXHAUSTED, "out of memory building the response");
        return;
    }
    b.len = protobuf_c_message_pack(m, b.data);
    call_reply(c, &b, NULL, 0);
}

void call_fail(call_t *c, int grpc_status, const char *fmt, ...)
{
    if (call_is_done(c))
        return;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    size_t need = mq__grpc_message_encode(text, strlen(text), NULL, 0) + 1;
    c->grpc_message = malloc(need);
    if (c->grpc_message)
        mq__grpc_message_encode(text, strlen(text), c->grpc_message, need);
    conn_t *conn = c->conn;
    finish(c, grpc_status);
    conn_submit_error(conn, c);
}
