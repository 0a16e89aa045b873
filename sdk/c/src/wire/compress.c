/* lz4 frame and zstd for batch records, with an output cap on decompression. */
#include "compress.h"

#include <lz4frame.h>
#include <stdlib.h>
#include <zstd.h>

#include "batch.h"

static mq_err_t compress_lz4(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
    LZ4F_preferences_t prefs = {0};
    prefs.frameInfo.contentSize = len;
    size_t cap = LZ4F_compressFrameBound(len, &prefs);
    uint8_t *buf = malloc(cap);
    if (!buf)
        return MQ_ERR_NO_MEMORY;
    size_t n = LZ4F_compressFrame(buf, cap, in, len, &prefs);
    if (LZ4F_isError(n)) {
        free(buf);
        return MQ_ERR_NO_MEMORY; /* only fails on a too-small buffer */
    }
    *out = buf;
    *out_len = n;
    return MQ_OK;
}

static mq_err_t compress_zstd(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
    size_t cap = ZSTD_compressBound(len);
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf)
        return MQ_ERR_NO_MEMORY;
    size_t n = ZSTD_compress(buf, cap, in, len, 3);
    if (ZSTD_isError(n)) {
        free(buf);
        return MQ_ERR_NO_MEMORY;
    }
    *out = buf;
    *out_len = n;
    return MQ_OK;
}

mq_err_t mq__compress(int codec, const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
    switch (codec) {
    case MQ_BATCH_COMPRESSION_LZ4:
        return compress_lz4(in, len, out, out_len);
    case MQ_BATCH_COMPRESSION_ZSTD:
        return compress_zstd(in, len, out, out_len);
    default:
        return MQ_ERR_UNSUPPORTED;
    }
}

/* A growable output buffer that refuses to pass max bytes. */
struct outbuf {
    uint8_t *buf;
    size_t len;
    size_t cap;
    size_t max;
};

static mq_err_t outbuf_grow(struct outbuf *o)
{
    if (o->cap >= o->max)
        return MQ_ERR_MESSAGE_TOO_LARGE;
    size_t cap = o->cap ? o->cap * 2 : 64 * 1024;
    if (cap > o->max)
        cap = o->max;
    uint8_t *nb = realloc(o->buf, cap);
    if (!nb)
        return MQ_ERR_NO_MEMORY;
    o->buf = nb;
    o->cap = cap;
    return MQ_OK;
}

/* Where a decoder may write when the buffer has no room yet (0 bytes). */
static uint8_t no_room[1];

static uint8_t *out_pos(struct outbuf *o)
{
    return o->buf ? o->buf + o->len : no_room;
}

/* Both decoders run the same loop: decode into whatever room there is, and
 * grow only when a call makes no progress for lack of room. Output that ends
 * exactly at the cap therefore succeeds. */
static mq_err_t decompress_lz4(const uint8_t *in, size_t len, struct outbuf *o)
{
    LZ4F_dctx *dctx;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
        return MQ_ERR_NO_MEMORY;
    mq_err_t err = MQ_OK;
    size_t pos = 0;
    size_t hint = 1; /* 0 = the last frame is complete */
    while (pos < len || hint != 0) {
        size_t src_n = len - pos;
        size_t dst_n = o->cap - o->len;
        hint = LZ4F_decompress(dctx, out_pos(o), &dst_n, in + pos, &src_n, NULL);
        if (LZ4F_isError(hint)) {
            err = MQ_ERR_INVALID_BATCH;
            break;
        }
        pos += src_n;
        o->len += dst_n;
        if (src_n || dst_n)
            continue;
        if (o->len < o->cap) {
            err = MQ_ERR_INVALID_BATCH; /* stuck with room to spare: truncated */
            break;
        }
        if ((err = outbuf_grow(o)) != MQ_OK)
            break;
    }
    LZ4F_freeDecompressionContext(dctx);
    return err;
}

static mq_err_t decompress_zstd(const uint8_t *in, size_t len, struct outbuf *o)
{
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (!dctx)
        return MQ_ERR_NO_MEMORY;
    /* A frame header may ask for a window of up to 2 GiB; the decoder would
     * allocate it before writing one byte. 32 MiB covers every level. */
    ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, 25);
    mq_err_t err = MQ_OK;
    ZSTD_inBuffer ib = {in, len, 0};
    for (;;) {
        ZSTD_outBuffer ob = {out_pos(o), o->cap - o->len, 0};
        size_t in_before = ib.pos;
        size_t ret = ZSTD_decompressStream(dctx, &ob, &ib);
        if (ZSTD_isError(ret)) {
            err = MQ_ERR_INVALID_BATCH;
            break;
        }
        o->len += ob.pos;
        if (ret == 0 && ib.pos == ib.size)
            break;
        if (ob.pos || ib.pos != in_before)
            continue;
        if (o->len < o->cap) {
            err = MQ_ERR_INVALID_BATCH; /* stuck with room to spare: truncated */
            break;
        }
        if ((err = outbuf_grow(o)) != MQ_OK)
            break;
    }
    ZSTD_freeDCtx(dctx);
    return err;
}

mq_err_t mq__decompress(int codec, const uint8_t *in, size_t len, size_t max_out, uint8_t **out,
                        size_t *out_len)
{
    struct outbuf o = {NULL, 0, 0, max_out};
    mq_err_t err;
    switch (codec) {
    case MQ_BATCH_COMPRESSION_LZ4:
        err = decompress_lz4(in, len, &o);
        break;
    case MQ_BATCH_COMPRESSION_ZSTD:
        err = decompress_zstd(in, len, &o);
        break;
    default:
        return MQ_ERR_UNSUPPORTED;
    }
    if (err != MQ_OK) {
        free(o.buf);
        return err;
    }
    *out = o.buf;
    *out_len = o.len;
    return MQ_OK;
}
