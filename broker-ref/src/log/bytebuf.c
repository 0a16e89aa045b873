/* The growable byte buffer reads return data in. */
#include <stdint.h>
#include <stdlib.h>

#include "partition.h"

int bytebuf_reserve(bytebuf_t *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return MQ_OK;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < extra) {
        if (cap > SIZE_MAX / 2)
            return MQ_ERR_NO_MEMORY;
        cap *= 2;
    }
    uint8_t *d = realloc(b->data, cap);
    if (!d)
        return MQ_ERR_NO_MEMORY;
    b->data = d;
    b->cap = cap;
    return MQ_OK;
}

void bytebuf_free(bytebuf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
