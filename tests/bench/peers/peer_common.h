/* Shared by the peer benchmark clients (peer_redis.c, peer_nats.c,
 * peer_kafka.c): options, clock, latency histogram and the one JSON result
 * line that tests/bench/peers/run reads. Header-only so that each client stays
 * one file plus this. */
#ifndef PEER_COMMON_H
#define PEER_COMMON_H

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum { MODE_PRODUCE, MODE_CONSUME, MODE_LATENCY } peer_mode_t;

typedef struct peer_opts {
    peer_mode_t mode;
    const char *addr;  /* host:port */
    const char *topic; /* stream / subject / topic name */
    int64_t count;     /* messages */
    size_t size;       /* value bytes */
    int acks_all;      /* 0 = leader equivalent, 1 = all (fsync) equivalent */
    int64_t rate;      /* latency mode: messages per second */
    int linger_ms;     /* batching clients only (Kafka); -1 = client default */
} peer_opts_t;

static inline int64_t peer_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void peer_sleep_until(int64_t due_ns)
{
    int64_t wait = due_ns - peer_now_ns();
    if (wait <= 0)
        return;
    struct timespec ts = {wait / 1000000000, wait % 1000000000};
    nanosleep(&ts, NULL);
}

static inline void peer_usage(const char *prog, FILE *f)
{
    fprintf(f,
            "usage: %s produce --addr HOST:PORT --topic T [--count N] [--size B]\n"
            "                 [--acks leader|all]\n"
            "       %s consume --addr HOST:PORT --topic T --count N\n"
            "       %s latency --addr HOST:PORT --topic T [--count N] [--size B]\n"
            "                 [--rate MSGS_PER_SEC]\n"
            "       --linger-ms MS sets a batching client's linger (Kafka only)\n"
            "Prints one JSON line: messages, bytes, seconds, msgs_per_sec, mb_per_sec,\n"
            "errors and, for latency, p50_ms, p99_ms, p999_ms (end to end; there\n"
            "seconds and msgs_per_sec cover the sends, so show the rate achieved).\n",
            prog, prog, prog);
}

/* Returns 0 on success, 2 on a usage error (already reported). */
static inline int peer_parse(int argc, char **argv, peer_opts_t *o)
{
    const char *prog = argv[0];
    memset(o, 0, sizeof(*o));
    o->count = 100000;
    o->size = 100;
    o->rate = 10000;
    o->linger_ms = -1;
    if (argc < 2) {
        peer_usage(prog, stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help")) {
        peer_usage(prog, stdout);
        exit(0);
    }
    if (!strcmp(argv[1], "produce"))
        o->mode = MODE_PRODUCE;
    else if (!strcmp(argv[1], "consume"))
        o->mode = MODE_CONSUME;
    else if (!strcmp(argv[1], "latency"))
        o->mode = MODE_LATENCY;
    else {
        fprintf(stderr, "%s: unknown mode \"%s\" (produce, consume or latency)\n", prog, argv[1]);
        return 2;
    }
    static const struct option opts[] = {
        {"addr", required_argument, 0, 'b'},      {"topic", required_argument, 0, 't'},
        {"count", required_argument, 0, 'c'},     {"size", required_argument, 0, 's'},
        {"acks", required_argument, 0, 'a'},      {"rate", required_argument, 0, 'r'},
        {"linger-ms", required_argument, 0, 'l'}, {0, 0, 0, 0}};
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            o->addr = optarg;
            break;
        case 't':
            o->topic = optarg;
            break;
        case 'c':
            o->count = strtoll(optarg, NULL, 10);
            break;
        case 's':
            o->size = (size_t)strtoull(optarg, NULL, 10);
            break;
        case 'a':
            if (strcmp(optarg, "leader") && strcmp(optarg, "all")) {
                fprintf(stderr, "%s: --acks wants leader or all, got \"%s\"\n", prog, optarg);
                return 2;
            }
            o->acks_all = !strcmp(optarg, "all");
            break;
        case 'r':
            o->rate = strtoll(optarg, NULL, 10);
            break;
        case 'l':
            o->linger_ms = atoi(optarg);
            break;
        default:
            peer_usage(prog, stderr);
            return 2;
        }
    }
    if (!o->addr || !o->topic || o->count <= 0 || o->rate <= 0) {
        fprintf(stderr, "%s: --addr and --topic are required; --count and --rate must be > 0\n",
                prog);
        return 2;
    }
    /* Latency mode stamps the send time into the first 8 bytes. */
    if (o->mode == MODE_LATENCY && o->size < 8) {
        fprintf(stderr, "%s: latency mode needs --size of at least 8\n", prog);
        return 2;
    }
    return 0;
}

/* The message value: a fixed pattern, so compressible peers gain nothing
 * over mq (nobody compresses here anyway). */
static inline char *peer_value(size_t size)
{
    char *v = malloc(size ? size : 1);
    if (!v)
        return NULL;
    for (size_t i = 0; i < size; i++)
        v[i] = (char)('a' + i % 26);
    return v;
}

static inline void peer_stamp(char *value, int64_t ns)
{
    memcpy(value, &ns, sizeof(ns));
}

static inline int64_t peer_stamp_read(const void *value)
{
    int64_t ns;
    memcpy(&ns, value, sizeof(ns));
    return ns;
}

/* End-to-end latency histogram: 1 µs buckets up to 10 s, the last one
 * collecting anything slower. */
#define PEER_HIST_BUCKETS 10000000

typedef struct peer_hist {
    uint32_t *b;
    int64_t n;
} peer_hist_t;

static inline int peer_hist_init(peer_hist_t *h)
{
    h->n = 0;
    h->b = calloc(PEER_HIST_BUCKETS, sizeof(uint32_t));
    return h->b ? 0 : -1;
}

static inline void peer_hist_add(peer_hist_t *h, int64_t ns)
{
    int64_t us = ns < 0 ? 0 : ns / 1000;
    h->b[us < PEER_HIST_BUCKETS ? us : PEER_HIST_BUCKETS - 1]++;
    h->n++;
}

static inline double peer_hist_ms(const peer_hist_t *h, double q)
{
    int64_t want = (int64_t)ceil(q * (double)h->n), seen = 0;
    if (h->n == 0)
        return 0;
    for (int64_t i = 0; i < PEER_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= want)
            return (double)(i + 1) / 1000.0;
    }
    return 0;
}

static inline void peer_report(int64_t messages, size_t size, double secs, int64_t errors,
                               const peer_hist_t *h)
{
    if (secs <= 0)
        secs = 1e-9;
    double bytes = (double)messages * (double)size;
    printf("{\"messages\":%" PRId64 ",\"bytes\":%.0f,\"seconds\":%.3f,\"msgs_per_sec\":%.0f,"
           "\"mb_per_sec\":%.2f,\"errors\":%" PRId64,
           messages, bytes, secs, (double)messages / secs, bytes / secs / 1e6, errors);
    if (h)
        printf(",\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f", peer_hist_ms(h, 0.50),
               peer_hist_ms(h, 0.99), peer_hist_ms(h, 0.999));
    printf("}\n");
    fflush(stdout);
}

#endif
