/* libFuzzer target: request decoding on the broker's client port.
 *
 * Every input goes through two paths:
 *  1. The decoders directly: the gRPC 5-byte framing decoder (input split
 *     into chunks), then each message through the in-place ProduceRequest
 *     decoder (+ record-batch validation of each batch) and the protobuf-c
 *     unpacking of MetadataRequest, FetchRequest and ListOffsetsRequest;
 *     grpc-timeout and grpc-message parsing.
 *  2. The real server: a connection (a socketpair) served by server.c on a
 *     loop driven here, fed the HTTP/2 client preface, then the input as
 *     raw bytes after it — or, when the first byte is even, as the DATA of
 *     one gRPC call whose method the second byte picks. A topic "f" with
 *     one partition lives in a temp data dir, so Produce appends, Fetch
 *     reads and acks=all waits for the real fsync thread.
 * Nothing may crash, leak or hang. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "call.h"
#include "config.h"
#include "flusher.h"
#include "log.h"
#include "loop.h"
#include "mq/v1/broker.pb-c.h"
#include "server.h"
#include "topics.h"
#include "wire/batch.h"
#include "wire/grpc.h"

static loop_t *g_loop;

static void cleanup_dir(void);

static int setup(void)
{
    static char dir[] = "/tmp/mq-fuzz-request-XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    g_log_level = -1; /* quiet: errors are expected here */
    config_defaults(&g_config);
    snprintf(g_config.data_dir, sizeof(g_config.data_dir), "%s", dir);
    g_config.log.segment_bytes = 1 << 20;
    g_config.log.retention_bytes = 4 << 20;
    g_config.max_request_bytes = 1 << 20;
    g_config.fetch_max_wait_ms = 5;
    char pdir[4200];
    snprintf(pdir, sizeof(pdir), "%s/f/0", dir);
    char tdir[4200];
    snprintf(tdir, sizeof(tdir), "%s/f", dir);
    mkdir(tdir, 0755);
    topic_t *t = topic_new("f", 1, &g_config.log, NULL, 0);
    if (!t || part_open(pdir, &g_config.log, &t->parts[0]) != MQ_OK)
        return -1;
    if (topics_publish(t) != MQ_OK)
        return -1;
    g_loop = loop_new(0);
    if (!g_loop || server_attach_loop(&g_config, g_loop) != MQ_OK)
        return -1;
    if (flusher_start() != MQ_OK)
        return -1;
    atexit(cleanup_dir);
    return 0;
}

static void cleanup_dir(void)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_config.data_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_config.data_dir);
}

/* ---- path 1: decoders ---------------------------------------------------- */

static mq_err_t on_msg(void *ud, const uint8_t *msg, size_t len)
{
    (void)ud;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return MQ_ERR_NO_MEMORY;
    memcpy(copy, msg, len);
    produce_req_t pr;
    if (produce_req_decode(copy, len, &pr) == MQ_OK) {
        for (size_t i = 0; i < pr.n_batches; i++) {
            mq_batch_header_t h;
            if (pr.batches[i].len)
                mq__batch_validate_header(pr.batches[i].records, pr.batches[i].len, &h);
            topics_validate_name(pr.batches[i].topic);
        }
        produce_req_free(&pr);
    }
    free(copy);
    Mq__V1__MetadataRequest *m = mq__v1__metadata_request__unpack(NULL, len, msg);
    if (m)
        mq__v1__metadata_request__free_unpacked(m, NULL);
    Mq__V1__FetchRequest *f = mq__v1__fetch_request__unpack(NULL, len, msg);
    if (f)
        mq__v1__fetch_request__free_unpacked(f, NULL);
    Mq__V1__ListOffsetsRequest *l = mq__v1__list_offsets_request__unpack(NULL, len, msg);
    if (l)
        mq__v1__list_offsets_request__free_unpacked(l, NULL);
    return MQ_OK;
}

static void fuzz_decoders(const uint8_t *data, size_t size)
{
    /* The input itself as one message, then as a framed stream. */
    on_msg(NULL, data, size);
    mq_grpc_decoder_t d;
    mq__grpc_decoder_init(&d, 1 << 20);
    size_t chunk = size ? (size_t)data[0] % 17 + 1 : 1;
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (mq__grpc_decoder_feed(&d, data + off, n, on_msg, NULL) != MQ_OK)
            break;
    }
    mq__grpc_decoder_finish(&d);
    mq__grpc_decoder_free(&d);
    int64_t ms;
    mq__grpc_timeout_parse((const char *)data, size < 12 ? size : 12, &ms);
    char out[256];
    mq__grpc_message_decode((const char *)data, size < 80 ? size : 80, out, sizeof(out));
}

/* ---- path 2: the server ------------------------------------------------- */

static const char *paths[] = {"/mq.v1.Broker/Produce", "/mq.v1.Broker/Fetch",
                              "/mq.v1.Broker/Metadata", "/mq.v1.Broker/ListOffsets",
                              "/mq.v1.Broker/Nope"};

static size_t put_frame(uint8_t *out, uint8_t type, uint8_t flags, uint32_t stream,
                        const uint8_t *payload, size_t len)
{
    out[0] = (uint8_t)(len >> 16);
    out[1] = (uint8_t)(len >> 8);
    out[2] = (uint8_t)len;
    out[3] = type;
    out[4] = flags;
    out[5] = (uint8_t)(stream >> 24);
    out[6] = (uint8_t)(stream >> 16);
    out[7] = (uint8_t)(stream >> 8);
    out[8] = (uint8_t)stream;
    if (len)
        memcpy(out + 9, payload, len);
    return 9 + len;
}

/* HPACK literal header without indexing, new name (no Huffman). */
static size_t put_header(uint8_t *out, const char *name, const char *value)
{
    size_t n = 0, nl = strlen(name), vl = strlen(value);
    out[n++] = 0x00;
    out[n++] = (uint8_t)nl;
    memcpy(out + n, name, nl);
    n += nl;
    out[n++] = (uint8_t)vl;
    memcpy(out + n, value, vl);
    return n + vl;
}

/* Preface + SETTINGS, then either raw input or one gRPC call carrying it. */
static size_t build_stream(const uint8_t *data, size_t size, uint8_t *out)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    size_t n = 0;
    memcpy(out, preface, 24);
    n += 24;
    n += put_frame(out + n, 0x4, 0, 0, NULL, 0);
    if (size < 2 || (data[0] & 1)) {
        memcpy(out + n, data, size);
        return n + size;
    }
    uint8_t hb[256];
    size_t h = 0;
    h += put_header(hb + h, ":method", "POST");
    h += put_header(hb + h, ":scheme", "http");
    h += put_header(hb + h, ":path", paths[data[1] % 5]);
    h += put_header(hb + h, ":authority", "fuzz");
    h += put_header(hb + h, "content-type", "application/grpc");
    if (data[0] & 2)
        h += put_header(hb + h, "grpc-timeout", "20m");
    n += put_frame(out + n, 0x1, 0x4, 1, hb, h);
    /* The rest: a gRPC message (prefix + bytes) in one DATA frame. */
    uint8_t *msg = malloc(size + 5);
    if (!msg)
        return n;
    mq__grpc_put_prefix(msg, (uint32_t)(size - 2));
    memcpy(msg + 5, data + 2, size - 2);
    n += put_frame(out + n, 0x0, 0x1, 1, msg, size + 3);
    free(msg);
    return n;
}

static void fuzz_server(const uint8_t *data, size_t size)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        return;
    int sz = 1 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    server_adopt_fd(sv[1]);
    uint8_t *buf = malloc(size + 512);
    if (!buf) {
        close(sv[0]);
        server_close_all();
        return;
    }
    size_t n = build_stream(data, size, buf);
    size_t off = 0;
    uint8_t sink[65536];
    /* Write what fits, let the server work, drain its answers. */
    for (int round = 0; round < 200 && server_connection_count() > 0; round++) {
        if (off < n) {
            ssize_t w = send(sv[0], buf + off, n - off, MSG_NOSIGNAL);
            if (w > 0)
                off += (size_t)w;
            if (off == n)
                shutdown(sv[0], SHUT_WR);
        }
        loop_run_once(g_loop, round < 20 ? 0 : 2);
        while (recv(sv[0], sink, sizeof(sink), 0) > 0)
            ;
    }
    free(buf);
    close(sv[0]);
    server_close_all(); /* closes what is left; cancelled calls drop state */
    loop_run_once(g_loop, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready = -1;
    if (ready < 0)
        ready = setup();
    if (ready != 0)
        abort();
    fuzz_decoders(data, size);
    fuzz_server(data, size);
    return 0;
}
