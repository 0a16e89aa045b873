/* Kafka RecordBatch v2 (magic 2): header parsing, validation, building and
 * record iteration. docs/protocol.md lays the format out byte by byte.
 * Every read is bounds-checked against the batch end: the broker feeds this
 * code whatever a producer sends, and the fuzzer feeds it anything. */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "crc32c.h"
#include "varint.h"

/* Field offsets inside the 61-byte header. */
enum {
    OFF_BASE_OFFSET = 0,
    OFF_BATCH_LENGTH = 8,
    OFF_LEADER_EPOCH = 12,
    OFF_MAGIC = 16,
    OFF_CRC = 17,
    OFF_ATTRIBUTES = 21,
    OFF_LAST_OFFSET_DELTA = 23,
    OFF_BASE_TIMESTAMP = 27,
    OFF_MAX_TIMESTAMP = 35,
    OFF_PRODUCER_ID = 43,
    OFF_PRODUCER_EPOCH = 51,
    OFF_BASE_SEQUENCE = 53,
    OFF_RECORD_COUNT = 57,
};

#define MAGIC_V2 2
#define ATTR_TRANSACTIONAL 0x10
#define ATTR_CONTROL 0x20
/* length, attributes, timestamp delta, offset delta, key, value, header count */
#define MIN_RECORD_SIZE 7

static inline uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t get_be64(const uint8_t *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}
static inline void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

/* ---- Header ------------------------------------------------------------ */

/* The batch's total size from its first 17 bytes, checking only what
 * framing needs: magic 2 and a batch length that covers the header. */
static mq_err_t frame_size(const uint8_t *buf, size_t len, size_t *size)
{
    if (!buf || len < OFF_CRC)
        return MQ_ERR_PROTOCOL;
    int32_t batch_length = (int32_t)get_be32(buf + OFF_BATCH_LENGTH);
    if ((int8_t)buf[OFF_MAGIC] != MAGIC_V2)
        return MQ_ERR_INVALID_BATCH;
    if (batch_length < MQ_BATCH_HEADER_SIZE - MQ_BATCH_LOG_OVERHEAD)
        return MQ_ERR_INVALID_BATCH;
    *size = (size_t)batch_length + MQ_BATCH_LOG_OVERHEAD;
    return *size > len ? MQ_ERR_PROTOCOL : MQ_OK;
}

mq_err_t mq__batch_parse_header(const uint8_t *buf, size_t len, mq_batch_header_t *h)
{
    size_t size;
    mq_err_t err = frame_size(buf, len, &size);
    if (err != MQ_OK)
        return err;

    int32_t batch_length = (int32_t)(size - MQ_BATCH_LOG_OVERHEAD);
    h->base_offset = (int64_t)get_be64(buf + OFF_BASE_OFFSET);
    h->batch_length = batch_length;
    h->partition_leader_epoch = (int32_t)get_be32(buf + OFF_LEADER_EPOCH);
    h->magic = MAGIC_V2;
    h->crc = get_be32(buf + OFF_CRC);
    h->attributes = (int16_t)get_be16(buf + OFF_ATTRIBUTES);
    h->last_offset_delta = (int32_t)get_be32(buf + OFF_LAST_OFFSET_DELTA);
    h->base_timestamp = (int64_t)get_be64(buf + OFF_BASE_TIMESTAMP);
    h->max_timestamp = (int64_t)get_be64(buf + OFF_MAX_TIMESTAMP);
    h->producer_id = (int64_t)get_be64(buf + OFF_PRODUCER_ID);
    h->producer_epoch = (int16_t)get_be16(buf + OFF_PRODUCER_EPOCH);
    h->base_sequence = (int32_t)get_be32(buf + OFF_BASE_SEQUENCE);
    h->record_count = (int32_t)get_be32(buf + OFF_RECORD_COUNT);

    if (h->record_count < 1 || h->last_offset_delta != h->record_count - 1)
        return MQ_ERR_INVALID_BATCH;
    return MQ_OK;
}

mq_err_t mq__batch_verify_crc(const uint8_t *buf, size_t len)
{
    if (!buf || len < MQ_BATCH_HEADER_SIZE)
        return MQ_ERR_INVALID_BATCH;
    uint32_t want = get_be32(buf + OFF_CRC);
    uint32_t got = mq__crc32c(0, buf + OFF_ATTRIBUTES, len - OFF_ATTRIBUTES);
    return got == want ? MQ_OK : MQ_ERR_CORRUPT_MESSAGE;
}

void mq__batch_set_base_offset(uint8_t *buf, int64_t base_offset)
{
    put_be64(buf + OFF_BASE_OFFSET, (uint64_t)base_offset);
}

void mq__batch_set_log_append_time(uint8_t *buf, size_t len, int64_t ts)
{
    if (len < MQ_BATCH_HEADER_SIZE)
        return;
    uint16_t attr = get_be16(buf + OFF_ATTRIBUTES) | MQ_BATCH_TIMESTAMP_LOG_APPEND;
    put_be16(buf + OFF_ATTRIBUTES, attr);
    put_be64(buf + OFF_MAX_TIMESTAMP, (uint64_t)ts);
    put_be32(buf + OFF_CRC, mq__crc32c(0, buf + OFF_ATTRIBUTES, len - OFF_ATTRIBUTES));
}

void mq__batch_set_producer(uint8_t *buf, size_t len, int64_t producer_id, int16_t producer_epoch,
                            int32_t base_sequence)
{
    if (len < MQ_BATCH_HEADER_SIZE)
        return;
    put_be64(buf + OFF_PRODUCER_ID, (uint64_t)producer_id);
    put_be16(buf + OFF_PRODUCER_EPOCH, (uint16_t)producer_epoch);
    put_be32(buf + OFF_BASE_SEQUENCE, (uint32_t)base_sequence);
    put_be32(buf + OFF_CRC, mq__crc32c(0, buf + OFF_ATTRIBUTES, len - OFF_ATTRIBUTES));
}

/* ---- Records ----------------------------------------------------------- */

/* Most record varints are one byte; this keeps those out of a call. */
static inline size_t get_varint32(const uint8_t *p, const uint8_t *end, int32_t *out)
{
    if (p < end && p[0] < 0x80) {
        *out = (int32_t)(p[0] >> 1) ^ -(int32_t)(p[0] & 1);
        return 1;
    }
    if (end - p >= 2 && p[1] < 0x80) { /* lengths up to 8191 */
        uint32_t u = (uint32_t)(p[0] & 0x7f) | (uint32_t)p[1] << 7;
        *out = (int32_t)(u >> 1) ^ -(int32_t)(u & 1);
        return 2;
    }
    return mq__varint_get32(p, end, out);
}

static inline size_t get_varint64(const uint8_t *p, const uint8_t *end, int64_t *out)
{
    if (p < end && p[0] < 0x80) {
        *out = (int64_t)(p[0] >> 1) ^ -(int64_t)(p[0] & 1);
        return 1;
    }
    return mq__varint_get64(p, end, out);
}

/* One record as it sits on the wire, before the batch's base values apply. */
struct raw_record {
    int64_t timestamp_delta;
    int32_t offset_delta;
    mq_record_t rec;
};

/* Reads a length-prefixed byte string; len -1 = null, other negatives are
 * invalid. Returns 0 on success. */
static inline int read_bytes(const uint8_t **pp, const uint8_t *end, int allow_null,
                             const uint8_t **data, size_t *data_len)
{
    int32_t n;
    size_t used = get_varint32(*pp, end, &n);
    if (!used)
        return -1;
    const uint8_t *p = *pp + used;
    if (n == -1 && allow_null) {
        *data = NULL;
        *data_len = 0;
        *pp = p;
        return 0;
    }
    if (n < 0 || (size_t)n > (size_t)(end - p))
        return -1;
    *data = p;
    *data_len = (size_t)n;
    *pp = p + n;
    return 0;
}

int mq__header_next(const uint8_t **pos, const uint8_t *end, mq_header_t *h)
{
    if (*pos >= end)
        return 0;
    const uint8_t *p = *pos;
    const uint8_t *key;
    const uint8_t *value;
    if (read_bytes(&p, end, 0, &key, &h->key_len) != 0)
        return MQ_ERR_INVALID_BATCH;
    if (read_bytes(&p, end, 1, &value, &h->value_len) != 0)
        return MQ_ERR_INVALID_BATCH;
    h->key = (const char *)key;
    h->value = value;
    *pos = p;
    return 1;
}

/* Parses the record at *pp (its length varint first), checks that its fields
 * fill its declared length exactly, and advances *pp past it. */
static mq_err_t read_record(const uint8_t **pp, const uint8_t *end, struct raw_record *r)
{
    int32_t len;
    size_t used = get_varint32(*pp, end, &len);
    if (!used)
        return MQ_ERR_INVALID_BATCH;
    const uint8_t *p = *pp + used;
    if (len < MIN_RECORD_SIZE - 1 || (size_t)len > (size_t)(end - p))
        return MQ_ERR_INVALID_BATCH;
    const uint8_t *rend = p + len;

    p++; /* record attributes: unused in v2 */
    if (!(used = get_varint64(p, rend, &r->timestamp_delta)))
        return MQ_ERR_INVALID_BATCH;
    p += used;
    if (!(used = get_varint32(p, rend, &r->offset_delta)) || r->offset_delta < 0)
        return MQ_ERR_INVALID_BATCH;
    p += used;
    mq_record_t *rec = &r->rec;
    if (read_bytes(&p, rend, 1, &rec->key, &rec->key_len) != 0 ||
        read_bytes(&p, rend, 1, &rec->value, &rec->value_len) != 0)
        return MQ_ERR_INVALID_BATCH;
    if (!(used = get_varint32(p, rend, &rec->header_count)) || rec->header_count < 0)
        return MQ_ERR_INVALID_BATCH;
    p += used;
    /* Each header takes at least two bytes: a cheap bound before the walk. */
    if ((size_t)rec->header_count > (size_t)(rend - p) / 2)
        return MQ_ERR_INVALID_BATCH;
    rec->headers = p;
    for (int32_t i = 0; i < rec->header_count; i++) {
        mq_header_t h;
        if (mq__header_next(&p, rend, &h) != 1)
            return MQ_ERR_INVALID_BATCH;
    }
    if (p != rend)
        return MQ_ERR_INVALID_BATCH;
    rec->headers_len = (size_t)(rend - rec->headers);
    *pp = rend;
    return MQ_OK;
}

/* Applies the batch's base offset and timestamp to a raw record. */
static mq_err_t finish_record(const mq_batch_header_t *h, struct raw_record *r)
{
    if (__builtin_add_overflow(h->base_offset, (int64_t)r->offset_delta, &r->rec.offset))
        return MQ_ERR_INVALID_BATCH;
    if (h->attributes & MQ_BATCH_TIMESTAMP_LOG_APPEND) {
        r->rec.timestamp = h->max_timestamp;
        return MQ_OK;
    }
    if (__builtin_add_overflow(h->base_timestamp, r->timestamp_delta, &r->rec.timestamp))
        return MQ_ERR_INVALID_BATCH;
    return MQ_OK;
}

/* ---- Validation -------------------------------------------------------- */

static mq_err_t check_attributes(int16_t attributes)
{
    switch (attributes & MQ_BATCH_COMPRESSION_MASK) {
    case MQ_BATCH_COMPRESSION_NONE:
    case MQ_BATCH_COMPRESSION_LZ4:
    case MQ_BATCH_COMPRESSION_ZSTD:
        break;
    case 1: /* gzip */
    case 2: /* snappy */
        return MQ_ERR_UNSUPPORTED;
    default:
        return MQ_ERR_INVALID_BATCH;
    }
    if (attributes & (ATTR_TRANSACTIONAL | ATTR_CONTROL))
        return MQ_ERR_UNSUPPORTED;
    return MQ_OK;
}

/* One pass over uncompressed records: each parses, offset deltas run
 * 0..count-1, and the records fill the batch exactly. */
static mq_err_t walk_records(const mq_batch_header_t *h, const uint8_t *p, const uint8_t *end)
{
    if ((size_t)h->record_count > (size_t)(end - p) / MIN_RECORD_SIZE)
        return MQ_ERR_INVALID_BATCH;
    for (int32_t i = 0; i < h->record_count; i++) {
        struct raw_record r;
        mq_err_t err = read_record(&p, end, &r);
        if (err != MQ_OK)
            return err;
        if (r.offset_delta != i || finish_record(h, &r) != MQ_OK)
            return MQ_ERR_INVALID_BATCH;
    }
    return p == end ? MQ_OK : MQ_ERR_INVALID_BATCH;
}

mq_err_t mq__batch_validate_header(const uint8_t *buf, size_t len, mq_batch_header_t *h)
{
    /* Framing, then the CRC, then the fields it covers: damage in transit
     * reads as MQ_ERR_CORRUPT_MESSAGE (retriable), not as a bad layout. */
    size_t size;
    if (frame_size(buf, len, &size) != MQ_OK || size != len)
        return MQ_ERR_INVALID_BATCH; /* a short buffer is a bad batch here */
    mq_err_t err = mq__batch_verify_crc(buf, len);
    if (err != MQ_OK)
        return err;
    if (mq__batch_parse_header(buf, len, h) != MQ_OK)
        return MQ_ERR_INVALID_BATCH;
    if ((err = check_attributes(h->attributes)) != MQ_OK)
        return err;
    if ((h->attributes & MQ_BATCH_COMPRESSION_MASK) != MQ_BATCH_COMPRESSION_NONE)
        return len > MQ_BATCH_HEADER_SIZE ? MQ_OK : MQ_ERR_INVALID_BATCH;
    return walk_records(h, buf + MQ_BATCH_HEADER_SIZE, buf + len);
}

mq_err_t mq__batch_validate(const uint8_t *buf, size_t len)
{
    mq_batch_header_t h;
    return mq__batch_validate_header(buf, len, &h);
}

/* ---- Iteration --------------------------------------------------------- */

mq_err_t mq__record_iter_init_cap(mq_record_iter_t *it, const uint8_t *batch, size_t len,
                                  size_t max_decompressed)
{
    memset(it, 0, sizeof(*it));
    size_t size;
    mq_err_t err = frame_size(batch, len, &size);
    if (err != MQ_OK)
        return err;
    if ((err = mq__batch_verify_crc(batch, size)) != MQ_OK)
        return err;
    if ((err = mq__batch_parse_header(batch, size, &it->hdr)) != MQ_OK)
        return err;
    int codec = it->hdr.attributes & MQ_BATCH_COMPRESSION_MASK;
    const uint8_t *records = batch + MQ_BATCH_HEADER_SIZE;
    size_t records_len = size - MQ_BATCH_HEADER_SIZE;
    if (codec == MQ_BATCH_COMPRESSION_NONE) {
        it->pos = records;
        it->end = records + records_len;
        return MQ_OK;
    }
    if (codec != MQ_BATCH_COMPRESSION_LZ4 && codec != MQ_BATCH_COMPRESSION_ZSTD)
        return codec <= 2 ? MQ_ERR_UNSUPPORTED : MQ_ERR_INVALID_BATCH;
    size_t out_len;
    err =
        mq__decompress(codec, records, records_len, max_decompressed, &it->decompressed, &out_len);
    if (err != MQ_OK)
        return err;
    it->pos = it->decompressed;
    it->end = it->decompressed + out_len;
    return MQ_OK;
}

mq_err_t mq__record_iter_init(mq_record_iter_t *it, const uint8_t *batch, size_t len)
{
    return mq__record_iter_init_cap(it, batch, len, MQ_DECOMPRESS_MAX_DEFAULT);
}

int mq__record_iter_next(mq_record_iter_t *it, mq_record_t *rec)
{
    if (!it->pos)
        return MQ_ERR_INVALID_BATCH; /* an earlier error sticks */
    if (it->index == it->hdr.record_count) {
        if (it->pos != it->end)
            goto bad; /* bytes after the last record */
        return 0;
    }
    struct raw_record r;
    if (read_record(&it->pos, it->end, &r) != MQ_OK || finish_record(&it->hdr, &r) != MQ_OK)
        goto bad;
    *rec = r.rec;
    it->index++;
    return 1;
bad:
    it->pos = NULL;
    return MQ_ERR_INVALID_BATCH;
}

void mq__record_iter_free(mq_record_iter_t *it)
{
    free(it->decompressed);
    it->decompressed = NULL;
    it->pos = NULL;
}

/* ---- Building ---------------------------------------------------------- */

/* finish() writes the magic byte; add() refuses to touch a finished batch. */
static int builder_finished(const mq_batch_builder_t *b)
{
    return b->buf && b->buf[OFF_MAGIC] == MAGIC_V2;
}

static mq_err_t builder_reserve(mq_batch_builder_t *b, size_t extra)
{
    size_t need = b->len + extra;
    if (need < b->len)
        return MQ_ERR_MESSAGE_TOO_LARGE;
    if (b->buf && need <= b->cap)
        return MQ_OK;
    size_t cap = b->cap < 256 ? 256 : b->cap;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    int fresh = b->buf == NULL;
    uint8_t *nb = realloc(b->buf, cap);
    if (!nb)
        return MQ_ERR_NO_MEMORY;
    if (fresh)
        memset(nb, 0, MQ_BATCH_HEADER_SIZE);
    b->buf = nb;
    b->cap = cap;
    b->owns_buf = 1;
    return MQ_OK;
}

mq_err_t mq__batch_builder_init(mq_batch_builder_t *b, size_t initial_cap)
{
    memset(b, 0, sizeof(*b));
    b->len = MQ_BATCH_HEADER_SIZE;
    size_t extra = initial_cap > MQ_BATCH_HEADER_SIZE ? initial_cap - MQ_BATCH_HEADER_SIZE : 0;
    return builder_reserve(b, extra);
}

/* Writes the zig-zag varint of v; one- and two-byte values (nearly every
 * record field) without a loop. */
static inline uint8_t *put_varint(uint8_t *p, int64_t v)
{
    uint64_t u = mq__zigzag64(v);
    if (u < 0x80) {
        *p = (uint8_t)u;
        return p + 1;
    }
    if (u < 0x4000) {
        p[0] = (uint8_t)(u | 0x80);
        p[1] = (uint8_t)(u >> 7);
        return p + 2;
    }
    while (u >= 0x80) {
        *p++ = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    *p++ = (uint8_t)u;
    return p;
}

/* A length-prefixed byte string; NULL data is the null string (length -1). */
static inline uint8_t *put_field(uint8_t *p, const void *data, size_t len)
{
    if (!data) {
        *p = 1; /* zig-zag -1 */
        return p + 1;
    }
    p = put_varint(p, (int64_t)len);
    memcpy(p, data, len);
    return p + len;
}

static size_t field_size(size_t len, int is_null)
{
    return is_null ? 1 : mq__batch_varint_size((int64_t)len) + len;
}

size_t mq__batch_headers_size(const mq_header_t *headers, size_t header_count)
{
    size_t n = 0;
    for (size_t i = 0; i < header_count; i++) {
        const mq_header_t *h = &headers[i];
        if (h->key_len > INT32_MAX || (h->value && h->value_len > INT32_MAX))
            return SIZE_MAX;
        n += field_size(h->key_len, 0) + field_size(h->value_len, !h->value);
        if (n > INT32_MAX)
            return SIZE_MAX;
    }
    return n;
}

static uint8_t *put_headers(uint8_t *p, const mq_header_t *headers, size_t header_count)
{
    for (size_t i = 0; i < header_count; i++) {
        p = put_field(p, headers[i].key ? headers[i].key : "", headers[i].key_len);
        p = put_field(p, headers[i].value, headers[i].value_len);
    }
    return p;
}

static int headers_valid(const mq_header_t *headers, size_t header_count)
{
    if (!headers)
        return 0;
    for (size_t i = 0; i < header_count; i++) {
        if (!headers[i].key && headers[i].key_len)
            return 0;
    }
    return 1;
}

/* The common record in one pass, sizing it by writing it: no headers, key
 * and value under 4 KiB together between 58 and 8170 bytes. Its body is
 * then kv + 6 to kv + 21 bytes (attributes, header count and the varints),
 * 64..8191, so its length varint is two bytes whatever the deltas: the
 * fields go right after those two bytes, and the length is filled in last.
 * Returns 0, having written nothing, when the record is not such a one or
 * the buffer might not hold it. */
static inline int add_common(mq_batch_builder_t *b, int64_t ts_delta, const void *key,
                             size_t key_len, const void *value, size_t value_len)
{
    size_t kv = (key ? key_len : 0) + (value ? value_len : 0);
    if ((key_len | value_len) >= 4096 || kv < 58 || kv > 8170 || b->len + 2 + kv + 21 > b->cap ||
        b->len > INT32_MAX - 8192)
        return 0;
    uint8_t *start = b->buf + b->len;
    uint8_t *p = start + 2;
    *p++ = 0; /* record attributes */
    p = put_varint(p, ts_delta);
    p = put_varint(p, b->count);
    p = put_field(p, key, key_len);
    p = put_field(p, value, value_len);
    *p++ = 0; /* no headers */
    size_t body = (size_t)(p - start) - 2;
    start[0] = (uint8_t)((body << 1) | 0x80); /* zig-zag: body * 2, low 7 bits */
    start[1] = (uint8_t)(body >> 6);
    b->len += 2 + body;
    return 1;
}

/* Any record: the size is computed first (arithmetic only), then the record
 * is written with one cursor into space reserved once. */
static mq_err_t add_any(mq_batch_builder_t *b, int64_t ts_delta, const void *key, size_t key_len,
                        const void *value, size_t value_len, const mq_header_t *headers,
                        size_t header_count)
{
    size_t body = mq__batch_record_body_size(ts_delta, b->count, key_len, !key, value_len, !value,
                                             headers, header_count);
    if (body == SIZE_MAX)
        return MQ_ERR_MESSAGE_TOO_LARGE;
    size_t end = b->len + mq__batch_varint_size((int64_t)body) + body;
    if (end - MQ_BATCH_LOG_OVERHEAD > INT32_MAX)
        return MQ_ERR_MESSAGE_TOO_LARGE;
    /* cap is 0 whenever buf is NULL, so one compare covers both. */
    if (end > b->cap) {
        mq_err_t err = builder_reserve(b, end - b->len);
        if (err != MQ_OK)
            return err;
    }
    uint8_t *p = put_varint(b->buf + b->len, (int64_t)body);
    *p++ = 0; /* record attributes */
    p = put_varint(p, ts_delta);
    p = put_varint(p, b->count);
    p = put_field(p, key, key_len);
    p = put_field(p, value, value_len);
    p = put_varint(p, (int64_t)header_count);
    if (header_count)
        put_headers(p, headers, header_count);
    b->len = end;
    return MQ_OK;
}

/* The CRC waits for finish. */
mq_err_t mq__batch_builder_add(mq_batch_builder_t *b, int64_t timestamp, const void *key,
                               size_t key_len, const void *value, size_t value_len,
                               const mq_header_t *headers, size_t header_count)
{
    if (builder_finished(b) || b->count == INT32_MAX ||
        (header_count && !headers_valid(headers, header_count)))
        return MQ_ERR_INVALID_ARG;
    int64_t ts_delta = 0;
    if (b->count && __builtin_sub_overflow(timestamp, b->base_timestamp, &ts_delta))
        return MQ_ERR_INVALID_ARG;
    if (header_count || !add_common(b, ts_delta, key, key_len, value, value_len)) {
        mq_err_t err = add_any(b, ts_delta, key, key_len, value, value_len, headers, header_count);
        if (err != MQ_OK)
            return err;
    }
    if (b->count == 0) {
        b->base_timestamp = timestamp;
        b->max_timestamp = timestamp;
    } else if (timestamp > b->max_timestamp) {
        b->max_timestamp = timestamp;
    }
    b->count++;
    return MQ_OK;
}

static mq_err_t compress_records(mq_batch_builder_t *b, int compression)
{
    uint8_t *z;
    size_t zlen;
    mq_err_t err = mq__compress(compression, b->buf + MQ_BATCH_HEADER_SIZE,
                                b->len - MQ_BATCH_HEADER_SIZE, &z, &zlen);
    if (err != MQ_OK)
        return err;
    if (zlen > INT32_MAX - MQ_BATCH_HEADER_SIZE) {
        free(z);
        return MQ_ERR_MESSAGE_TOO_LARGE;
    }
    size_t old_len = b->len;
    b->len = MQ_BATCH_HEADER_SIZE;
    if ((err = builder_reserve(b, zlen)) != MQ_OK) {
        b->len = old_len; /* realloc failed: the records are still there */
        free(z);
        return err;
    }
    memcpy(b->buf + MQ_BATCH_HEADER_SIZE, z, zlen);
    b->len += zlen;
    free(z);
    return MQ_OK;
}

mq_err_t mq__batch_builder_finish(mq_batch_builder_t *b, int64_t producer_id,
                                  int16_t producer_epoch, int32_t base_sequence, int compression,
                                  const uint8_t **out, size_t *out_len)
{
    if (b->count == 0 || !b->buf || builder_finished(b))
        return MQ_ERR_INVALID_ARG;
    if (compression != MQ_BATCH_COMPRESSION_NONE) {
        mq_err_t err = compress_records(b, compression);
        if (err != MQ_OK)
            return err;
    }
    uint8_t *h = b->buf;
    put_be64(h + OFF_BASE_OFFSET, 0);
    put_be32(h + OFF_BATCH_LENGTH, (uint32_t)(b->len - MQ_BATCH_LOG_OVERHEAD));
    put_be32(h + OFF_LEADER_EPOCH, (uint32_t)-1);
    h[OFF_MAGIC] = MAGIC_V2;
    put_be16(h + OFF_ATTRIBUTES, (uint16_t)compression);
    put_be32(h + OFF_LAST_OFFSET_DELTA, (uint32_t)(b->count - 1));
    put_be64(h + OFF_BASE_TIMESTAMP, (uint64_t)b->base_timestamp);
    put_be64(h + OFF_MAX_TIMESTAMP, (uint64_t)b->max_timestamp);
    put_be64(h + OFF_PRODUCER_ID, (uint64_t)producer_id);
    put_be16(h + OFF_PRODUCER_EPOCH, (uint16_t)producer_epoch);
    put_be32(h + OFF_BASE_SEQUENCE, (uint32_t)base_sequence);
    put_be32(h + OFF_RECORD_COUNT, (uint32_t)b->count);
    put_be32(h + OFF_CRC, mq__crc32c(0, h + OFF_ATTRIBUTES, b->len - OFF_ATTRIBUTES));
    *out = b->buf;
    *out_len = b->len;
    return MQ_OK;
}

uint8_t *mq__batch_builder_detach(mq_batch_builder_t *b)
{
    uint8_t *buf = b->buf;
    b->buf = NULL;
    b->cap = 0;
    mq__batch_builder_reset(b);
    return buf;
}

void mq__batch_builder_reset(mq_batch_builder_t *b)
{
    b->len = MQ_BATCH_HEADER_SIZE;
    b->count = 0;
    b->base_timestamp = 0;
    b->max_timestamp = 0;
    if (b->buf)
        b->buf[OFF_MAGIC] = 0;
}

void mq__batch_builder_free(mq_batch_builder_t *b)
{
    if (b->owns_buf)
        free(b->buf);
    memset(b, 0, sizeof(*b));
}
