/* Big-endian integers in the broker's own files (indexes, producer
 * snapshots), the byte order of the wire format too. */
#ifndef BROKER_LOG_BE_H
#define BROKER_LOG_BE_H

#include <stdint.h>

/* Writes the low n bytes of v at p, most significant first. */
static inline void be_put(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* Reads n bytes at p, most significant first. */
static inline uint64_t be_get(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

#endif
