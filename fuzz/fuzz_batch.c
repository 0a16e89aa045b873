/* libFuzzer target: the record-batch decoder (header parse, validation,
 * record and header iteration, lz4/zstd decompression).
 * Random bytes almost never carry a right CRC, so each input is also tried
 * with its batch length and CRC repaired, which lets the fuzzer reach the
 * record parser. Invariant checked: a batch that validates iterates cleanly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/batch.h"
#include "wire/crc32c.h"

/* Keeps decompression bombs cheap under the fuzzer's memory limit. */
#define FUZZ_DECOMPRESS_CAP (1u << 20)

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Iterates every record and header; returns 0 or the first error. */
static int iterate(const uint8_t *buf, size_t len)
{
    mq_record_iter_t it;
    int rc = mq__record_iter_init_cap(&it, buf, len, FUZZ_DECOMPRESS_CAP);
    if (rc == MQ_OK) {
        mq_record_t rec;
        while ((rc = mq__record_iter_next(&it, &rec)) == 1) {
            volatile uint8_t sink = 0;
            if (rec.key_len)
                sink ^= rec.key[rec.key_len - 1];
            if (rec.value_len)
                sink ^= rec.value[rec.value_len - 1];
            const uint8_t *p = rec.headers;
            const uint8_t *end = rec.headers + rec.headers_len;
            mq_header_t h;
            int32_t n = 0;
            int hr;
            while ((hr = mq__header_next(&p, end, &h)) == 1) {
                if (h.key_len)
                    sink ^= (uint8_t)h.key[h.key_len - 1];
                if (h.value_len)
                    sink ^= ((const uint8_t *)h.value)[h.value_len - 1];
                n++;
            }
            if (hr < 0 || n != rec.header_count)
                abort(); /* the iterator vouched for these headers */
            (void)sink;
        }
        /* After the end or an error, the iterator stays put. */
        if (rc <= 0 && mq__record_iter_next(&it, &rec) == 1)
            abort();
    }
    mq__record_iter_free(&it);
    return rc;
}

static void check(const uint8_t *buf, size_t len)
{
    mq_batch_header_t h;
    if (mq__batch_parse_header(buf, len, &h) == MQ_OK && mq__batch_size(&h) > len)
        abort();
    mq_err_t v = mq__batch_validate_header(buf, len, &h);
    int it = iterate(buf, len);
    int compressed = len > 22 && (buf[22] & MQ_BATCH_COMPRESSION_MASK) != 0;
    if (v == MQ_OK && !compressed && it != 0)
        abort(); /* validate accepted what the iterator rejects */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size);
    /* Concatenated batches, as a Fetch response carries them. */
    size_t off = 0;
    mq_batch_header_t h;
    while (off < size && mq__batch_parse_header(data + off, size - off, &h) == MQ_OK) {
        iterate(data + off, size - off);
        off += mq__batch_size(&h);
    }
    if (size < MQ_BATCH_HEADER_SIZE || size - MQ_BATCH_LOG_OVERHEAD > INT32_MAX)
        return 0;
    uint8_t *fixed = malloc(size);
    if (!fixed)
        return 0;
    memcpy(fixed, data, size);
    fixed[16] = 2; /* magic */
    put_be32(fixed + 8, (uint32_t)(size - MQ_BATCH_LOG_OVERHEAD));
    put_be32(fixed + MQ_BATCH_CRC_OFFSET,
             mq__crc32c(0, fixed + MQ_BATCH_ATTR_OFFSET, size - MQ_BATCH_ATTR_OFFSET));
    check(fixed, size);
    mq__batch_set_base_offset(fixed, (int64_t)size << 20);
    mq__batch_set_log_append_time(fixed, size, 1);
    if (mq__batch_verify_crc(fixed, size) != MQ_OK)
        abort(); /* rewriting offset and time keeps the CRC right */
    free(fixed);
    return 0;
}
