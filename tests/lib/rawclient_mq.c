/* rawclient helpers for the mq.v1.Broker RPCs: protobuf-c encode/decode and
 * record-batch building with the codec. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mq/v1/broker.pb-c.h"
#include "rawclient.h"
#include "wire/batch.h"

static void copy_str(char *dst, size_t dstlen, const char *src)
{
    snprintf(dst, dstlen, "%s", src ? src : "");
}

/* Copies the call status into a helper result; 0 if the call is usable. */
static int call_status(const rc_result_t *r, int *grpc_status, char *msg, size_t msglen)
{
    *grpc_status = r->grpc_status;
    if (r->timed_out)
        snprintf(msg, msglen, "timed out waiting for the response");
    else if (r->transport_error)
        snprintf(msg, msglen, "transport error (no grpc-status)");
    else if (r->grpc_status < 0)
        snprintf(msg, msglen, "no grpc-status (stream closed with h2 error %u, :status %d)",
                 r->close_error, r->http_status);
    else
        copy_str(msg, msglen, r->grpc_message);
    if (r->grpc_status != 0)
        return -1;
    if (!r->msg) {
        snprintf(msg, msglen, "grpc-status OK but no complete response message");
        return -1;
    }
    return 0;
}

/* ---- Produce ------------------------------------------------------------- */

uint8_t *rc_encode_produce(int acks, int timeout_ms, const rc_batch_ref_t *batches, size_t n,
                           size_t *out_len)
{
    Mq__V1__ProduceRequest req = MQ__V1__PRODUCE_REQUEST__INIT;
    Mq__V1__PartitionBatch *pb = calloc(n ? n : 1, sizeof *pb);
    Mq__V1__PartitionBatch **pp = calloc(n ? n : 1, sizeof *pp);
    if (!pb || !pp) {
        free(pb);
        free(pp);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        mq__v1__partition_batch__init(&pb[i]);
        pb[i].topic = (char *)batches[i].topic;
        pb[i].partition = batches[i].partition;
        pb[i].records.data = (uint8_t *)batches[i].data;
        pb[i].records.len = batches[i].len;
        pp[i] = &pb[i];
    }
    req.acks = acks;
    req.timeout_ms = timeout_ms;
    req.n_batches = n;
    req.batches = pp;
    size_t len = mq__v1__produce_request__get_packed_size(&req);
    uint8_t *buf = malloc(len ? len : 1);
    if (buf)
        mq__v1__produce_request__pack(&req, buf);
    free(pb);
    free(pp);
    *out_len = len;
    return buf;
}

int rc_decode_produce(const uint8_t *msg, size_t len, rc_produce_result_t *out, size_t max)
{
    Mq__V1__ProduceResponse *resp = mq__v1__produce_response__unpack(NULL, len, msg);
    if (!resp)
        return -1;
    for (size_t i = 0; i < resp->n_results && i < max; i++) {
        Mq__V1__ProducePartitionResult *r = resp->results[i];
        out[i].error_code = r->error_code;
        out[i].base_offset = r->base_offset;
        out[i].log_append_time_ms = r->log_append_time_ms;
        out[i].log_start_offset = r->log_start_offset;
        copy_str(out[i].error_message, sizeof out[i].error_message, r->error_message);
    }
    int count = (int)resp->n_results;
    mq__v1__produce_response__free_unpacked(resp, NULL);
    return count;
}

void rc_produce_result_from(const rc_result_t *r, rc_produce_result_t *out)
{
    memset(out, 0, sizeof *out);
    out->base_offset = -1;
    out->error_code = -1;
    if (call_status(r, &out->grpc_status, out->grpc_message, sizeof out->grpc_message) != 0)
        return;
    int n = rc_decode_produce(r->msg, r->msg_len, out, 1);
    if (n < 0) {
        snprintf(out->grpc_message, sizeof out->grpc_message, "ProduceResponse does not parse");
        out->grpc_status = -1;
    } else if (n != 1) {
        snprintf(out->grpc_message, sizeof out->grpc_message,
                 "ProduceResponse has %d results, want 1", n);
        out->grpc_status = -1;
    }
}

int rc_produce(rawclient_t *rc, const char *topic, int32_t partition, const uint8_t *batch,
               size_t len, int acks, rc_produce_result_t *out)
{
    rc_batch_ref_t ref = {topic, partition, batch, len};
    size_t req_len;
    uint8_t *req = rc_encode_produce(acks, 0, &ref, 1, &req_len);
    rc_result_t r;
    rc_unary(rc, RC_PATH_PRODUCE, req, req_len, NULL, RC_CALL_TIMEOUT_MS, &r);
    free(req);
    rc_produce_result_from(&r, out);
    rc_result_free(&r);
    return out->grpc_status == 0 ? 0 : -1;
}

/* ---- Fetch ----------------------------------------------------------------- */

uint8_t *rc_encode_fetch(const char *topic, int32_t partition, int64_t offset, int max_wait_ms,
                         int min_bytes, int max_bytes, int partition_max_bytes, size_t *out_len)
{
    Mq__V1__FetchRequest req = MQ__V1__FETCH_REQUEST__INIT;
    Mq__V1__FetchPartition fp = MQ__V1__FETCH_PARTITION__INIT;
    Mq__V1__FetchPartition *fpp = &fp;
    fp.topic = (char *)topic;
    fp.partition = partition;
    fp.fetch_offset = offset;
    fp.partition_max_bytes = partition_max_bytes;
    req.max_wait_ms = max_wait_ms;
    req.min_bytes = min_bytes;
    req.max_bytes = max_bytes;
    req.n_partitions = 1;
    req.partitions = &fpp;
    size_t len = mq__v1__fetch_request__get_packed_size(&req);
    uint8_t *buf = malloc(len ? len : 1);
    if (buf)
        mq__v1__fetch_request__pack(&req, buf);
    *out_len = len;
    return buf;
}

void rc_fetch_result_from(const rc_result_t *r, rc_fetch_result_t *out)
{
    memset(out, 0, sizeof *out);
    out->error_code = -1;
    out->high_watermark = -1;
    if (call_status(r, &out->grpc_status, out->grpc_message, sizeof out->grpc_message) != 0)
        return;
    Mq__V1__FetchResponse *resp = mq__v1__fetch_response__unpack(NULL, r->msg_len, r->msg);
    if (!resp || resp->n_partitions != 1) {
        snprintf(out->grpc_message, sizeof out->grpc_message,
                 resp ? "FetchResponse has %zu partitions, want 1" : "FetchResponse does not parse",
                 resp ? resp->n_partitions : 0);
        out->grpc_status = -1;
        if (resp)
            mq__v1__fetch_response__free_unpacked(resp, NULL);
        return;
    }
    Mq__V1__FetchPartitionData *p = resp->partitions[0];
    out->error_code = p->error_code;
    out->high_watermark = p->high_watermark;
    out->log_start_offset = p->log_start_offset;
    copy_str(out->error_message, sizeof out->error_message, p->error_message);
    if (p->records.len) {
        out->records = malloc(p->records.len);
        if (out->records) {
            memcpy(out->records, p->records.data, p->records.len);
            out->records_len = p->records.len;
        }
    }
    mq__v1__fetch_response__free_unpacked(resp, NULL);
}

int rc_fetch_ex(rawclient_t *rc, const char *topic, int32_t partition, int64_t offset,
                int max_wait_ms, int min_bytes, int max_bytes, int partition_max_bytes,
                rc_fetch_result_t *out)
{
    size_t req_len;
    uint8_t *req = rc_encode_fetch(topic, partition, offset, max_wait_ms, min_bytes, max_bytes,
                                   partition_max_bytes, &req_len);
    rc_result_t r;
    int wait = RC_CALL_TIMEOUT_MS + (max_wait_ms > 0 ? max_wait_ms : 0);
    rc_unary(rc, RC_PATH_FETCH, req, req_len, NULL, wait, &r);
    free(req);
    rc_fetch_result_from(&r, out);
    rc_result_free(&r);
    return out->grpc_status == 0 ? 0 : -1;
}

int rc_fetch(rawclient_t *rc, const char *topic, int32_t partition, int64_t offset, int max_wait_ms,
             int min_bytes, int max_bytes, rc_fetch_result_t *out)
{
    int pmax = max_bytes > 0 ? max_bytes : 1 << 20;
    return rc_fetch_ex(rc, topic, partition, offset, max_wait_ms, min_bytes, max_bytes, pmax, out);
}

void rc_fetch_result_free(rc_fetch_result_t *r)
{
    free(r->records);
    r->records = NULL;
    r->records_len = 0;
}

/* ---- ListOffsets ----------------------------------------------------------- */

int rc_list_offsets(rawclient_t *rc, const char *topic, int32_t partition, int64_t timestamp,
                    rc_offset_result_t *out)
{
    memset(out, 0, sizeof *out);
    out->offset = -1;
    out->error_code = -1;
    Mq__V1__ListOffsetsRequest req = MQ__V1__LIST_OFFSETS_REQUEST__INIT;
    Mq__V1__ListOffsetsPartition p = MQ__V1__LIST_OFFSETS_PARTITION__INIT;
    Mq__V1__ListOffsetsPartition *pp = &p;
    p.topic = (char *)topic;
    p.partition = partition;
    p.timestamp = timestamp;
    req.n_partitions = 1;
    req.partitions = &pp;
    size_t len = mq__v1__list_offsets_request__get_packed_size(&req);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return -1;
    mq__v1__list_offsets_request__pack(&req, buf);
    rc_result_t r;
    rc_unary(rc, RC_PATH_LIST_OFFSETS, buf, len, NULL, RC_CALL_TIMEOUT_MS, &r);
    free(buf);
    if (call_status(&r, &out->grpc_status, out->grpc_message, sizeof out->grpc_message) != 0) {
        rc_result_free(&r);
        return -1;
    }
    Mq__V1__ListOffsetsResponse *resp =
        mq__v1__list_offsets_response__unpack(NULL, r.msg_len, r.msg);
    rc_result_free(&r);
    if (!resp || resp->n_results != 1) {
        snprintf(out->grpc_message, sizeof out->grpc_message,
                 "ListOffsetsResponse does not parse or has no single result");
        out->grpc_status = -1;
        if (resp)
            mq__v1__list_offsets_response__free_unpacked(resp, NULL);
        return -1;
    }
    out->error_code = resp->results[0]->error_code;
    out->offset = resp->results[0]->offset;
    out->timestamp = resp->results[0]->timestamp;
    mq__v1__list_offsets_response__free_unpacked(resp, NULL);
    return 0;
}

/* ---- Metadata -------------------------------------------------------------- */

void *rc_metadata(rawclient_t *rc, const char *const *topics, size_t n, int *grpc_status)
{
    Mq__V1__MetadataRequest req = MQ__V1__METADATA_REQUEST__INIT;
    req.n_topics = n;
    req.topics = (char **)topics;
    size_t len = mq__v1__metadata_request__get_packed_size(&req);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return NULL;
    mq__v1__metadata_request__pack(&req, buf);
    rc_result_t r;
    rc_unary(rc, RC_PATH_METADATA, buf, len, NULL, RC_CALL_TIMEOUT_MS, &r);
    free(buf);
    *grpc_status = r.grpc_status;
    Mq__V1__MetadataResponse *resp = NULL;
    if (r.grpc_status == 0 && r.msg)
        resp = mq__v1__metadata_response__unpack(NULL, r.msg_len, r.msg);
    if (r.grpc_status == 0 && !resp)
        *grpc_status = -1;
    rc_result_free(&r);
    return resp;
}

/* ---- Batches ------------------------------------------------------------------ */

size_t rc_batch_at(const uint8_t *buf, size_t len, int64_t *base_offset, int32_t *record_count)
{
    mq_batch_header_t h;
    if (mq__batch_parse_header(buf, len, &h) != MQ_OK)
        return 0;
    if (base_offset)
        *base_offset = h.base_offset;
    if (record_count)
        *record_count = h.record_count;
    return mq__batch_size(&h);
}

uint8_t *rc_make_batch_ex(int records, size_t value_size, int64_t ts_ms, uint32_t seed,
                          int compression, size_t *out_len)
{
    mq_batch_builder_t b;
    if (mq__batch_builder_init(&b, 64 + (size_t)records * (value_size + 32)) != MQ_OK)
        return NULL;
    uint8_t *value = malloc(value_size ? value_size : 1);
    if (!value) {
        mq__batch_builder_free(&b);
        return NULL;
    }
    uint32_t x = seed * 2654435761u + 1;
    for (int i = 0; i < records; i++) {
        for (size_t j = 0; j < value_size; j++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            value[j] = (uint8_t)('a' + x % 26);
        }
        char key[48];
        int kl = snprintf(key, sizeof key, "k%u-%d", seed, i);
        if (mq__batch_builder_add(&b, ts_ms + i, key, (size_t)kl, value, value_size, NULL, 0) !=
            MQ_OK) {
            free(value);
            mq__batch_builder_free(&b);
            return NULL;
        }
    }
    free(value);
    const uint8_t *out;
    size_t len;
    uint8_t *copy = NULL;
    if (mq__batch_builder_finish(&b, -1, -1, -1, compression, &out, &len) == MQ_OK) {
        copy = malloc(len);
        if (copy) {
            memcpy(copy, out, len);
            *out_len = len;
        }
    }
    mq__batch_builder_free(&b);
    return copy;
}

uint8_t *rc_make_batch(int records, size_t value_size, int64_t ts_ms, uint32_t seed,
                       size_t *out_len)
{
    return rc_make_batch_ex(records, value_size, ts_ms, seed, MQ_BATCH_COMPRESSION_NONE, out_len);
}
