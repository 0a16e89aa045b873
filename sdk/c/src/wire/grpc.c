/* gRPC message framing, grpc-timeout and grpc-message encoding. */
#include "grpc.h"

#include <stdlib.h>
#include <string.h>

void mq__grpc_put_prefix(uint8_t *out, uint32_t len)
{
    out[0] = 0;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

void mq__grpc_decoder_init(mq_grpc_decoder_t *d, size_t max_size)
{
    memset(d, 0, sizeof(*d));
    d->max_size = max_size;
}

void mq__grpc_decoder_free(mq_grpc_decoder_t *d)
{
    free(d->buf);
    d->buf = NULL;
    d->buf_cap = 0;
}

/* Checks a complete prefix and records the message length. */
static mq_err_t take_prefix(mq_grpc_decoder_t *d)
{
    const uint8_t *p = d->prefix;
    if (p[0] == 1)
        return MQ_ERR_UNSUPPORTED;
    if (p[0] != 0)
        return MQ_ERR_PROTOCOL;
    uint32_t len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    if (len > d->max_size)
        return MQ_ERR_REQUEST_TOO_LARGE;
    d->msg_len = len;
    d->msg_have = 0;
    return MQ_OK;
}

/* Grows the buffer with the bytes that arrive, not with the declared length:
 * a peer that announces 16 MiB and sends 5 bytes costs little memory. */
static mq_err_t reserve(mq_grpc_decoder_t *d, size_t need)
{
    if (need <= d->buf_cap)
        return MQ_OK;
    size_t n = d->buf_cap * 2;
    if (n < need)
        n = need;
    if (n > d->msg_len)
        n = d->msg_len;
    uint8_t *nb = realloc(d->buf, n);
    if (!nb)
        return MQ_ERR_NO_MEMORY;
    d->buf = nb;
    d->buf_cap = n;
    return MQ_OK;
}

static mq_err_t feed(mq_grpc_decoder_t *d, const uint8_t *data, size_t len, mq_grpc_msg_cb cb,
                     void *ud)
{
    mq_err_t err;
    while (len > 0) {
        if (d->prefix_have < MQ_GRPC_PREFIX_SIZE) {
            size_t n = MQ_GRPC_PREFIX_SIZE - d->prefix_have;
            if (n > len)
                n = len;
            memcpy(d->prefix + d->prefix_have, data, n);
            d->prefix_have += n;
            data += n;
            len -= n;
            if (d->prefix_have < MQ_GRPC_PREFIX_SIZE)
                return MQ_OK;
            if ((err = take_prefix(d)) != MQ_OK)
                return err;
        }
        size_t want = d->msg_len - d->msg_have;
        if (d->msg_have == 0 && len >= want) {
            /* Whole message in this chunk: no copy. */
            d->prefix_have = 0;
            if ((err = cb(ud, data, want)) != MQ_OK)
                return err;
            data += want;
            len -= want;
            continue;
        }
        if (len == 0)
            return MQ_OK; /* the prefix ended the chunk */
        size_t n = len < want ? len : want;
        if ((err = reserve(d, d->msg_have + n)) != MQ_OK)
            return err;
        memcpy(d->buf + d->msg_have, data, n);
        d->msg_have += n;
        data += n;
        len -= n;
        if (d->msg_have < d->msg_len)
            return MQ_OK;
        d->prefix_have = 0;
        d->msg_have = 0;
        if ((err = cb(ud, d->buf, d->msg_len)) != MQ_OK)
            return err;
    }
    return MQ_OK;
}

mq_err_t mq__grpc_decoder_feed(mq_grpc_decoder_t *d, const uint8_t *data, size_t len,
                               mq_grpc_msg_cb cb, void *ud)
{
    if (d->error != MQ_OK)
        return d->error;
    d->error = feed(d, data, len, cb, ud);
    return d->error;
}

mq_err_t mq__grpc_decoder_finish(const mq_grpc_decoder_t *d)
{
    if (d->error != MQ_OK)
        return d->error;
    return d->prefix_have == 0 ? MQ_OK : MQ_ERR_PROTOCOL;
}

/* ---- grpc-timeout -------------------------------------------------------- */

mq_err_t mq__grpc_timeout_parse(const char *s, size_t len, int64_t *ms)
{
    if (!s || len < 2 || len > 9)
        return MQ_ERR_PROTOCOL;
    int64_t v = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return MQ_ERR_PROTOCOL;
        v = v * 10 + (s[i] - '0');
    }
    switch (s[len - 1]) {
    case 'H':
        *ms = v * 3600000;
        return MQ_OK;
    case 'M':
        *ms = v * 60000;
        return MQ_OK;
    case 'S':
        *ms = v * 1000;
        return MQ_OK;
    case 'm':
        *ms = v;
        return MQ_OK;
    case 'u':
        *ms = (v + 999) / 1000;
        return MQ_OK;
    case 'n':
        *ms = (v + 999999) / 1000000;
        return MQ_OK;
    default:
        return MQ_ERR_PROTOCOL;
    }
}

size_t mq__grpc_timeout_format(int64_t ms, char *buf, size_t cap)
{
    static const struct {
        char unit;
        int64_t ms;
    } units[] = {{'m', 1}, {'S', 1000}, {'M', 60000}, {'H', 3600000}};
    if (ms < 0 || cap < 10)
        return 0;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        int64_t v = ms / units[i].ms + (ms % units[i].ms != 0);
        if (v <= 99999999 || i == 3) {
            if (v > 99999999)
                v = 99999999;
            char digits[16];
            size_t n = 0;
            do {
                digits[n++] = (char)('0' + v % 10);
                v /= 10;
            } while (v);
            for (size_t k = 0; k < n; k++)
                buf[k] = digits[n - 1 - k];
            buf[n] = units[i].unit;
            buf[n + 1] = '\0';
            return n + 1;
        }
    }
    return 0;
}

/* ---- grpc-message -------------------------------------------------------- */

static void emit(char *out, size_t cap, size_t at, char c)
{
    if (at + 1 < cap)
        out[at] = c;
}

static void terminate(char *out, size_t cap, size_t n)
{
    if (cap)
        out[n < cap ? n : cap - 1] = '\0';
}

size_t mq__grpc_message_encode(const char *in, size_t len, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)in[i];
        if (c >= 0x20 && c <= 0x7e && c != '%') {
            emit(out, cap, n++, (char)c);
            continue;
        }
        emit(out, cap, n++, '%');
        emit(out, cap, n++, hex[c >> 4]);
        emit(out, cap, n++, hex[c & 15]);
    }
    terminate(out, cap, n);
    return n;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t mq__grpc_message_decode(const char *in, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (in[i] == '%' && i + 2 < len && (hi = hexval(in[i + 1])) >= 0 &&
            (lo = hexval(in[i + 2])) >= 0) {
            emit(out, cap, n++, (char)(hi << 4 | lo));
            i += 2;
            continue;
        }
        emit(out, cap, n++, in[i]);
    }
    terminate(out, cap, n);
    return n;
}

int mq__grpc_status_parse(const char *s, size_t len)
{
    if (!s || len == 0 || len > 2)
        return -1;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}
