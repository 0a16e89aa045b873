/* Zig-zag and unsigned varints with bounds checks. */
#include "varint.h"

size_t mq__uvarint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t mq__uvarint_put(uint8_t *buf, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        buf[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    buf[n++] = (uint8_t)v;
    return n;
}

/* Reads at most max_bytes; the last allowed byte may carry only the bits
 * that still fit in `bits`. */
static size_t uvarint_get_bounded(const uint8_t *p, const uint8_t *end, uint64_t *out,
                                  unsigned max_bytes, unsigned bits)
{
    if (p >= end)
        return 0;
    if (p[0] < 0x80) { /* the common case: one byte */
        *out = p[0];
        return 1;
    }
    uint64_t v = 0;
    size_t avail = (size_t)(end - p);
    for (unsigned i = 0; i < max_bytes; i++) {
        if (i >= avail)
            return 0;
        uint8_t b = p[i];
        unsigned shift = 7 * i;
        if (i == max_bytes - 1) {
            /* Last byte: no continuation bit, no bits beyond the type. */
            unsigned room = bits - shift;
            if (b & 0x80 || (b >> room) != 0)
                return 0;
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return i + 1;
        }
    }
    return 0;
}

size_t mq__uvarint_get(const uint8_t *p, const uint8_t *end, uint64_t *out)
{
    return uvarint_get_bounded(p, end, out, MQ_VARINT64_MAX, 64);
}

size_t mq__varint_size32(int32_t v)
{
    return mq__uvarint_size((uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
}

size_t mq__varint_size64(int64_t v)
{
    return mq__uvarint_size(mq__zigzag64(v));
}

size_t mq__varint_put32(uint8_t *buf, int32_t v)
{
    return mq__uvarint_put(buf, (uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
}

size_t mq__varint_put64(uint8_t *buf, int64_t v)
{
    return mq__uvarint_put(buf, mq__zigzag64(v));
}

size_t mq__varint_get32(const uint8_t *p, const uint8_t *end, int32_t *out)
{
    uint64_t u;
    size_t n = uvarint_get_bounded(p, end, &u, MQ_VARINT32_MAX, 32);
    if (n == 0)
        return 0;
    uint32_t z = (uint32_t)u;
    *out = (int32_t)((z >> 1) ^ (0u - (z & 1)));
    return n;
}

size_t mq__varint_get64(const uint8_t *p, const uint8_t *end, int64_t *out)
{
    uint64_t u;
    size_t n = uvarint_get_bounded(p, end, &u, MQ_VARINT64_MAX, 64);
    if (n == 0)
        return 0;
    *out = mq__unzigzag64(u);
    return n;
}
