/* Private: varints as Kafka records and protobuf use them.
 * Signed values are zig-zag encoded ((n << 1) ^ (n >> 63)) then written
 * 7 bits at a time, least significant group first, high bit = "more".
 * Decoders never read past end and reject encodings longer than the type
 * allows (5 bytes for 32 bits, 10 for 64) or whose last byte overflows it. */
#ifndef MQ_WIRE_VARINT_H
#define MQ_WIRE_VARINT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MQ_VARINT32_MAX 5
#define MQ_VARINT64_MAX 10

static inline uint64_t mq__zigzag64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t mq__unzigzag64(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* Unsigned (protobuf-style) varints. put writes at most 10 bytes to buf and
 * returns the count; get returns bytes consumed or 0 if truncated or invalid. */
size_t mq__uvarint_size(uint64_t v);
size_t mq__uvarint_put(uint8_t *buf, uint64_t v);
size_t mq__uvarint_get(const uint8_t *p, const uint8_t *end, uint64_t *out);

/* Zig-zag signed varints (Kafka "varint" and "varlong"). */
size_t mq__varint_size32(int32_t v);
size_t mq__varint_size64(int64_t v);
size_t mq__varint_put32(uint8_t *buf, int32_t v);
size_t mq__varint_put64(uint8_t *buf, int64_t v);
/* Return bytes consumed, or 0 when the input is truncated, longer than 5
 * (32) / 10 (64) bytes, or encodes a value outside the type. */
size_t mq__varint_get32(const uint8_t *p, const uint8_t *end, int32_t *out);
size_t mq__varint_get64(const uint8_t *p, const uint8_t *end, int64_t *out);

#ifdef __cplusplus
}
#endif

#endif
