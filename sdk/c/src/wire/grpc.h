/* Private: gRPC-over-HTTP/2 message framing shared by the client and broker.
 *
 * Each gRPC message on a stream's DATA frames is a 5-byte prefix (a
 * compressed flag byte, then the message length as a big-endian u32)
 * followed by that many bytes of protobuf. mq negotiates no grpc-encoding,
 * so the flag is always 0. See docs/protocol.md, "Transport". */
#ifndef MQ_WIRE_GRPC_H
#define MQ_WIRE_GRPC_H

#include <stddef.h>
#include <stdint.h>

#include "mqclient.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MQ_GRPC_PREFIX_SIZE 5

/* Writes the prefix of an uncompressed message of len bytes to out[0..4]. */
void mq__grpc_put_prefix(uint8_t *out, uint32_t len);

/* ---- Incremental decoder ------------------------------------------------ */

/* Called once per complete message. msg is valid only during the call (it
 * points into the fed chunk when the message arrived whole, else into the
 * decoder's buffer). A return other than MQ_OK stops feeding and is
 * returned by mq__grpc_decoder_feed. */
typedef mq_err_t (*mq_grpc_msg_cb)(void *ud, const uint8_t *msg, size_t len);

typedef struct mq_grpc_decoder {
    size_t max_size; /* largest message accepted */
    uint8_t prefix[MQ_GRPC_PREFIX_SIZE];
    size_t prefix_have; /* prefix bytes seen of the current message */
    uint8_t *buf;       /* the current message when it spans chunks */
    size_t buf_cap;
    size_t msg_len;  /* declared length of the current message */
    size_t msg_have; /* body bytes buffered so far */
    mq_err_t error;  /* sticky: once set, feed returns it */
} mq_grpc_decoder_t;

void mq__grpc_decoder_init(mq_grpc_decoder_t *d, size_t max_size);
void mq__grpc_decoder_free(mq_grpc_decoder_t *d);

/* Feeds one DATA chunk (any split of the stream is fine) and calls cb for
 * every message it completes.
 * Returns MQ_OK; MQ_ERR_REQUEST_TOO_LARGE (a declared length over
 * max_size, detected from the prefix alone, before buffering the body);
 * MQ_ERR_UNSUPPORTED (compressed flag 1: no grpc-encoding is negotiated);
 * MQ_ERR_PROTOCOL (a flag other than 0 or 1); MQ_ERR_NO_MEMORY; or the
 * callback's error. Errors are sticky. */
mq_err_t mq__grpc_decoder_feed(mq_grpc_decoder_t *d, const uint8_t *data, size_t len,
                               mq_grpc_msg_cb cb, void *ud);

/* At END_STREAM: MQ_OK if no message is half received, else MQ_ERR_PROTOCOL
 * (or the sticky error). */
mq_err_t mq__grpc_decoder_finish(const mq_grpc_decoder_t *d);

/* ---- Headers and trailers ---------------------------------------------- */

/* Parses a grpc-timeout value (1 to 8 ASCII digits and a unit: H hours,
 * M minutes, S seconds, m milliseconds, u microseconds, n nanoseconds) into
 * milliseconds, rounding sub-millisecond remainders up so a positive
 * timeout never becomes 0. Returns MQ_OK or MQ_ERR_PROTOCOL. */
mq_err_t mq__grpc_timeout_parse(const char *s, size_t len, int64_t *ms);

/* Formats ms (>= 0) as a grpc-timeout value ("250m", or a coarser unit when
 * ms needs more than 8 digits, rounded up). buf needs 10 bytes; returns the
 * length written (NUL-terminated), 0 if cap is too small or ms < 0. */
size_t mq__grpc_timeout_format(int64_t ms, char *buf, size_t cap);

/* Percent-encodes a grpc-message value: bytes outside 0x20..0x7E and '%'
 * become %XX (upper-case hex). Writes at most cap-1 bytes plus a NUL and
 * returns the full encoded length (as snprintf does; at most 3 * len). */
size_t mq__grpc_message_encode(const char *in, size_t len, char *out, size_t cap);

/* Decodes a grpc-message value; a '%' not followed by two hex digits is kept
 * as is (the spec asks decoders to be lenient). Same return as encode. */
size_t mq__grpc_message_decode(const char *in, size_t len, char *out, size_t cap);

/* Parses a grpc-status value (decimal 0..99). Returns it, or -1 if invalid. */
int mq__grpc_status_parse(const char *s, size_t len);

#ifdef __cplusplus
}
#endif

#endif
