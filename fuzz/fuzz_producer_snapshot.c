/* libFuzzer target: the producer-state snapshot decoder (producers_decode),
 * which reads files a crash or a bad disk may have damaged.
 * Invariant checked: what decodes re-encodes to something that decodes
 * again to the same number of producers. */
#include <stdint.h>
#include <stdlib.h>

#include "producers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    partition_producers_t *pp = partition_producers_new();
    if (!pp)
        return 0;
    if (producers_decode(pp, data, size) == MQ_OK) {
        uint8_t *enc;
        size_t len;
        if (producers_encode(pp, &enc, &len) == MQ_OK) {
            partition_producers_t *again = partition_producers_new();
            if (again && (producers_decode(again, enc, len) != MQ_OK ||
                          producers_count(again) != producers_count(pp)))
                abort();
            partition_producers_free(again);
            free(enc);
        }
    }
    partition_producers_free(pp);
    return 0;
}
