/* The InitProducerId RPC: hands an idempotent producer an id and epoch, or
 * bumps the epoch of the id it has (producers.h has the rules). Ids come
 * from memory; meta.c reserves them in meta.db a block at a time, and only
 * when a block is used up before the next one is written does a call wait
 * (for the metadata thread, never blocking the loop). */
#include <stdio.h>
#include <stdlib.h>

#include "acl.h"
#include "call.h"
#include "error.h"
#include "log.h"
#include "meta.h"
#include "mq/v1/broker.pb-c.h"
#include "producers.h"
#include "server.h"

/* Reservations a waiting call asks for before it gives up. */
#define MAX_RESERVE_TRIES 3

typedef struct init_pid {
    call_t *call;
    int64_t pid;
    int32_t epoch;
    int tries;
} init_pid_t;

static void answer(call_t *c, mq_err_t err, int64_t pid, int16_t epoch)
{
    Mq__V1__InitProducerIdResponse resp = MQ__V1__INIT_PRODUCER_ID_RESPONSE__INIT;
    char text[200] = "";
    resp.producer_id = -1;
    resp.producer_epoch = -1;
    switch (err) {
    case MQ_OK:
        resp.producer_id = pid;
        resp.producer_epoch = epoch;
        break;
    case MQ_ERR_INVALID_ARG:
        snprintf(text, sizeof(text),
                 "producer_id and producer_epoch must both be -1 (a new producer) or both be "
                 "set, with the epoch at most %d",
                 PRODUCERS_EPOCH_MAX);
        break;
    case MQ_ERR_PRODUCER_FENCED:
        snprintf(text, sizeof(text), "producer %lld: epoch %d is not its current epoch",
                 (long long)pid, (int)epoch);
        break;
    case MQ_ERR_UNKNOWN_PRODUCER:
        snprintf(text, sizeof(text), "producer id %lld was never handed out by this broker",
                 (long long)pid);
        break;
    default:
        snprintf(text, sizeof(text), "cannot hand out a producer id: %s", mq_err_str(err));
    }
    resp.error_code = mq__err_to_wire(err);
    resp.error_message = text;
    call_reply_pb(c, &resp);
}

static void on_reserved(loop_t *loop, void *arg, mq_err_t err);

/* Answers, or waits for a reservation when the reserved ids ran out. */
static void try_init(init_pid_t *st)
{
    int64_t pid = -1;
    int16_t epoch = -1;
    mq_err_t err = meta_init_producer_id(st->pid, st->epoch, &pid, &epoch);
    if (err == PRODUCER_IDS_EXHAUSTED && st->tries < MAX_RESERVE_TRIES) {
        st->tries++;
        meta_reserve_producer_ids(st->call->loop, on_reserved, st);
        return;
    }
    if (err == PRODUCER_IDS_EXHAUSTED)
        err = MQ_ERR_STORAGE;
    if (err == MQ_OK)
        log_debug("\"producer id\" pid=%lld epoch=%d", (long long)pid, (int)epoch);
    answer(st->call, err, err == MQ_OK ? pid : st->pid, err == MQ_OK ? epoch : (int16_t)st->epoch);
    call_unref(st->call);
    free(st);
}

static void on_reserved(loop_t *loop, void *arg, mq_err_t err)
{
    (void)loop;
    init_pid_t *st = arg;
    if (call_is_done(st->call)) {
        call_unref(st->call);
        free(st);
        return;
    }
    if (err != MQ_OK) {
        answer(st->call, err, st->pid, (int16_t)st->epoch);
        call_unref(st->call);
        free(st);
        return;
    }
    try_init(st);
}

void init_producer_id_handle(call_t *c, uint8_t *msg, size_t len)
{
    /* An idempotent producer needs write on the cluster or on some topic
     * (each Produce is still checked per topic). */
    if (acl_enabled() && !acl_check_call(c, ACL_OP_WRITE, ACL_RES_CLUSTER, "") &&
        !acl_call_allows_any_topic(c, ACL_OP_WRITE)) {
        call_fail(c, MQ_GRPC_PERMISSION_DENIED,
                  "principal '%s' is not allowed to write to any topic (InitProducerId needs "
                  "write on the cluster or on a topic)",
                  acl_call_principal(c));
        return;
    }
    Mq__V1__InitProducerIdRequest *req = mq__v1__init_producer_id_request__unpack(NULL, len, msg);
    if (!req) {
        call_fail(c, MQ_GRPC_INVALID_ARGUMENT,
                  "malformed InitProducerIdRequest (protobuf did not parse)");
        return;
    }
    init_pid_t *st = calloc(1, sizeof(*st));
    if (!st) {
        mq__v1__init_producer_id_request__free_unpacked(req, NULL);
        call_fail(c, MQ_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    st->call = c;
    st->pid = req->producer_id;
    st->epoch = req->producer_epoch;
    mq__v1__init_producer_id_request__free_unpacked(req, NULL);
    call_ref(c);
    try_init(st);
}
