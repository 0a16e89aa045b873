/* Private: the record-batch codec (Kafka RecordBatch v2, magic 2).
 * docs/protocol.md lays the format out byte by byte. All integers in the
 * batch header are big-endian; record fields are zig-zag varints. */
#ifndef MQ_WIRE_BATCH_H
#define MQ_WIRE_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "mqclient.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes before the first record. */
#define MQ_BATCH_HEADER_SIZE 61
/* Bytes covered by base offset + batch length; batch_length counts the rest. */
#define MQ_BATCH_LOG_OVERHEAD 12
/* Offset of the CRC field and of the first CRC-covered byte (attributes). */
#define MQ_BATCH_CRC_OFFSET 17
#define MQ_BATCH_ATTR_OFFSET 21

/* Attributes bits. */
#define MQ_BATCH_COMPRESSION_MASK 0x07
#define MQ_BATCH_COMPRESSION_NONE 0
#define MQ_BATCH_COMPRESSION_LZ4 3
#define MQ_BATCH_COMPRESSION_ZSTD 4
#define MQ_BATCH_TIMESTAMP_LOG_APPEND 0x08

typedef struct mq_batch_header {
    int64_t base_offset;
    int32_t batch_length; /* bytes after this field */
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
} mq_batch_header_t;

/* Parses and sanity-checks the header of the batch at buf (magic 2, lengths
 * consistent, batch fits in len, record_count >= 1, last_offset_delta =
 * record_count - 1). Does not check the CRC.
 * Returns MQ_OK, MQ_ERR_INVALID_BATCH, or MQ_ERR_PROTOCOL if len is shorter
 * than the header or the whole batch (the caller may need more bytes). */
mq_err_t mq__batch_parse_header(const uint8_t *buf, size_t len, mq_batch_header_t *h);

/* Total bytes of the batch starting at buf: batch_length + 12. */
static inline size_t mq__batch_size(const mq_batch_header_t *h)
{
    return (size_t)h->batch_length + MQ_BATCH_LOG_OVERHEAD;
}

/* Verifies the CRC32C over attributes..end. Returns MQ_OK or
 * MQ_ERR_CORRUPT_MESSAGE (MQ_ERR_INVALID_BATCH if len is under 61 bytes).
 * buf/len is exactly one batch. */
mq_err_t mq__batch_verify_crc(const uint8_t *buf, size_t len);

/* Full validation for a batch received from a producer: header, CRC and,
 * when uncompressed, that every record parses and the count matches.
 * buf/len must be exactly one batch. One CRC pass (SSE4.2, 3 streams) and
 * one pass over the records: ~30M records/s for 100-byte records.
 * Returns as mq__batch_validate_header. */
mq_err_t mq__batch_validate(const uint8_t *buf, size_t len);

/* mq__batch_validate that also hands back the parsed header (the broker
 * needs producer id, sequence and counts after validating).
 * Returns MQ_OK; MQ_ERR_INVALID_BATCH (layout: short, trailing bytes, bad
 * magic/lengths/counts, a record that does not parse, offset deltas not
 * 0..count-1, records not filling the batch, unknown codec 5-7);
 * MQ_ERR_CORRUPT_MESSAGE (CRC); MQ_ERR_UNSUPPORTED (gzip, snappy,
 * transactional or control batches). Compressed records are not opened. */
mq_err_t mq__batch_validate_header(const uint8_t *buf, size_t len, mq_batch_header_t *h);

/* Rewrites the base offset in place (outside the CRC). */
void mq__batch_set_base_offset(uint8_t *buf, int64_t base_offset);
/* Rewrites max timestamp and sets the log-append-time attribute bit; the
 * CRC is recomputed since both sit inside it. */
void mq__batch_set_log_append_time(uint8_t *buf, size_t len, int64_t ts);
/* Rewrites producer id, epoch and base sequence in place (a retry under a
 * new epoch) and recomputes the CRC, which covers them. buf/len is exactly
 * one batch; shorter than the header: nothing is changed. */
void mq__batch_set_producer(uint8_t *buf, size_t len, int64_t producer_id, int16_t producer_epoch,
                            int32_t base_sequence);

/* ---- Building batches -------------------------------------------------- */

typedef struct mq_header {
    const char *key;
    size_t key_len;
    const void *value; /* NULL = null value */
    size_t value_len;
} mq_header_t;

typedef struct mq_batch_builder {
    uint8_t *buf;
    size_t len;
    size_t cap;
    int32_t count;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int owns_buf;
} mq_batch_builder_t;

/* Starts a batch in a buffer the builder grows with realloc. */
mq_err_t mq__batch_builder_init(mq_batch_builder_t *b, size_t initial_cap);
/* Appends one record. key/value NULL = null; timestamp in ms. */
mq_err_t mq__batch_builder_add(mq_batch_builder_t *b, int64_t timestamp, const void *key,
                               size_t key_len, const void *value, size_t value_len,
                               const mq_header_t *headers, size_t header_count);

/* Bytes of the zig-zag varint of v. Record fields are nearly always one or
 * two bytes long, so those are a compare each; no loop for the rest. */
static inline size_t mq__batch_varint_size(int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    if (u < 0x80)
        return 1;
    if (u < 0x4000)
        return 2;
    return 1 + (size_t)(63 - __builtin_clzll(u)) / 7;
}

/* The encoded headers of a record, count varint excluded; SIZE_MAX when a
 * field is longer than INT32_MAX or the total passes it. */
size_t mq__batch_headers_size(const mq_header_t *headers, size_t header_count);

/* A record's size after its length varint; SIZE_MAX when a field is longer
 * than INT32_MAX. Inline: with constant deltas (mq_produce's bound) it
 * folds to a few adds. */
static inline size_t mq__batch_record_body_size(int64_t ts_delta, int32_t offset_delta,
                                                size_t key_len, int key_null, size_t value_len,
                                                int value_null, const mq_header_t *headers,
                                                size_t header_count)
{
    if ((!key_null && key_len > INT32_MAX) || (!value_null && value_len > INT32_MAX) ||
        header_count > INT32_MAX)
        return SIZE_MAX;
    size_t n = 1 + mq__batch_varint_size(ts_delta) + mq__batch_varint_size(offset_delta) +
               mq__batch_varint_size((int64_t)header_count);
    n += key_null ? 1 : mq__batch_varint_size((int64_t)key_len) + key_len;
    n += value_null ? 1 : mq__batch_varint_size((int64_t)value_len) + value_len;
    if (header_count) {
        size_t hn = mq__batch_headers_size(headers, header_count);
        if (hn == SIZE_MAX)
            return SIZE_MAX;
        n += hn;
    }
    return n > INT32_MAX ? SIZE_MAX : n;
}

/* Bytes such a record adds to the builder, its length varint included
 * (b->len + this = size after adding; for size caps). SIZE_MAX when a field
 * is longer than INT32_MAX. */
static inline size_t mq__batch_record_size(int64_t ts_delta, int32_t offset_delta, size_t key_len,
                                           int key_null, size_t value_len, int value_null,
                                           const mq_header_t *headers, size_t header_count)
{
    size_t body = mq__batch_record_body_size(ts_delta, offset_delta, key_len, key_null, value_len,
                                             value_null, headers, header_count);
    return body == SIZE_MAX ? SIZE_MAX : mq__batch_varint_size((int64_t)body) + body;
}
/* Writes the header (producer fields given; base offset 0) and the CRC.
 * compression: MQ_BATCH_COMPRESSION_*; records are compressed in place.
 * On success *out and *out_len give the finished batch, still owned by b.
 * After finish only detach, reset or free; add returns MQ_ERR_INVALID_ARG.
 * Returns MQ_OK, MQ_ERR_INVALID_ARG (no records, already finished),
 * MQ_ERR_UNSUPPORTED (codec), MQ_ERR_MESSAGE_TOO_LARGE, MQ_ERR_NO_MEMORY. */
mq_err_t mq__batch_builder_finish(mq_batch_builder_t *b, int64_t producer_id,
                                  int16_t producer_epoch, int32_t base_sequence, int compression,
                                  const uint8_t **out, size_t *out_len);
/* Takes ownership of the buffer away from the builder (caller frees). */
uint8_t *mq__batch_builder_detach(mq_batch_builder_t *b);
void mq__batch_builder_reset(mq_batch_builder_t *b);
void mq__batch_builder_free(mq_batch_builder_t *b);

/* ---- Reading records --------------------------------------------------- */

typedef struct mq_record {
    int64_t offset;
    int64_t timestamp;
    const uint8_t *key; /* NULL when null */
    size_t key_len;
    const uint8_t *value; /* NULL when null */
    size_t value_len;
    const uint8_t *headers; /* raw header bytes for mq__header_next */
    size_t headers_len;
    int32_t header_count;
} mq_record_t;

typedef struct mq_record_iter {
    mq_batch_header_t hdr;
    const uint8_t *pos;
    const uint8_t *end;
    int32_t index;
    uint8_t *decompressed; /* owned; freed by mq__record_iter_free */
} mq_record_iter_t;

/* Starts iterating one batch (decompressing lz4/zstd records if needed).
 * Verifies header and CRC. len may exceed the batch (bytes after it are
 * ignored). Decompressed records are capped at MQ_DECOMPRESS_MAX_DEFAULT
 * (64 MiB). Always call mq__record_iter_free, even after an error.
 * Returns MQ_OK; MQ_ERR_PROTOCOL (len shorter than the batch);
 * MQ_ERR_INVALID_BATCH; MQ_ERR_CORRUPT_MESSAGE; MQ_ERR_UNSUPPORTED (gzip,
 * snappy); MQ_ERR_MESSAGE_TOO_LARGE (decompressed size over the cap);
 * MQ_ERR_NO_MEMORY. */
mq_err_t mq__record_iter_init(mq_record_iter_t *it, const uint8_t *batch, size_t len);
/* The same with a caller-chosen cap on the decompressed record bytes. */
mq_err_t mq__record_iter_init_cap(mq_record_iter_t *it, const uint8_t *batch, size_t len,
                                  size_t max_decompressed);
/* Returns 1 and fills rec, 0 at the end, or a negative mq_err_t if a record
 * is malformed (MQ_ERR_INVALID_BATCH; it sticks). Records are bounds-checked
 * as a whole, headers included, and fewer or more records than the header's
 * count is an error. key/value/headers point into the batch (or into the
 * iterator's decompressed buffer) and live as long as both. */
int mq__record_iter_next(mq_record_iter_t *it, mq_record_t *rec);
void mq__record_iter_free(mq_record_iter_t *it);

/* Walks a record's headers: returns 1 and fills h, 0 at end, <0 on error.
 * Start with pos = rec.headers, end = rec.headers + rec.headers_len.
 * h->key is not NUL-terminated; h->value NULL = null value. */
int mq__header_next(const uint8_t **pos, const uint8_t *end, mq_header_t *h);

#ifdef __cplusplus
}
#endif

#endif
