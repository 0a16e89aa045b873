/* Private: the record compression codecs of a batch (attributes bits 0-2).
 * lz4 is the LZ4 *frame* format (lz4frame.h), as Kafka uses for magic 2;
 * zstd is a standard zstd frame. */
#ifndef MQ_WIRE_COMPRESS_H
#define MQ_WIRE_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "mqclient.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default cap on the decompressed records of one batch (decompression bombs). */
#define MQ_DECOMPRESS_MAX_DEFAULT (64u * 1024 * 1024)

/* Compresses len bytes with codec (MQ_BATCH_COMPRESSION_LZ4 or _ZSTD) into a
 * new malloc'd buffer *out (*out_len bytes; caller frees).
 * Returns MQ_OK, MQ_ERR_UNSUPPORTED (other codec), MQ_ERR_NO_MEMORY. */
mq_err_t mq__compress(int codec, const uint8_t *in, size_t len, uint8_t **out, size_t *out_len);

/* Decompresses one or more whole frames filling in..in+len exactly into a
 * new malloc'd buffer (caller frees). max_out caps the output size.
 * Returns MQ_OK, MQ_ERR_UNSUPPORTED (codec), MQ_ERR_INVALID_BATCH (corrupt,
 * truncated or trailing bytes), MQ_ERR_MESSAGE_TOO_LARGE (output would exceed
 * max_out), MQ_ERR_NO_MEMORY. */
mq_err_t mq__decompress(int codec, const uint8_t *in, size_t len, size_t max_out, uint8_t **out,
                        size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif
