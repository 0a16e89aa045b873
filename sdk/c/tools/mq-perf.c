/* mq-perf: libmqclient's load tool.
 *
 *   mq-perf produce --brokers H:P --topic T [--count N] [--size B] [--acks none|leader|all]
 *                   [--linger-ms MS] [--batch-size B] [--compression none|lz4|zstd]
 *                   [--rate MSGS_PER_SEC] [--keys N] [-X key=value]...
 *   mq-perf --print-config-doc
 *
 * produce ends with one line of JSON: messages (successful delivery reports),
 * bytes, seconds, msgs_per_sec, mb_per_sec, errors, p50_ms, p99_ms (delivery
 * latency: mq_produce to delivery report). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "mq-perf.h"
#include "mqclient.h"

static int64_t now_ns(void)
{
    return perf_clock_ns(CLOCK_MONOTONIC);
}

/* The calling thread's CPU time: mq_produce's cost without the time the
 * thread waited for a core (client and broker share them). */
static int64_t cpu_ns(void)
{
    return perf_clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

/* Latency histogram: 10 µs buckets up to 100 s (plenty for delivery). */
#define HIST_BUCKETS 10000000
#define HIST_US 10

typedef struct perf {
    uint32_t *hist;
    int64_t delivered, errors, bytes;
    int64_t first_error_shown;
} perf_t;

static void usage(FILE *f)
{
    fprintf(f, "usage: mq-perf produce --brokers HOST:PORT[,...] --topic T [--count N]\n"
               "         [--size BYTES] [--acks none|leader|all] [--linger-ms MS]\n"
               "         [--batch-size BYTES] [--compression none|lz4|zstd]\n"
               "         [--rate MSGS_PER_SEC] [--keys N] [--latency-header] [-X key=value]...\n"
               "       mq-perf consume --brokers HOST:PORT[,...] --topic T [--group G]\n"
               "         [--partitions N] [--count N] [--batch N] [--latency] [-X key=value]...\n"
               "       mq-perf --print-config-doc\n");
}

/* mq-perf-consume.c */
/* now: when the report was polled (read once per 256 reports). */
static void handle_event(perf_t *pf, mq_event_t *ev, size_t size, int64_t now)
{
    switch (mq_event_type(ev)) {
    case MQ_EVENT_DELIVERY:
        if (mq_event_error(ev) == MQ_OK) {
            int64_t us = (now - (int64_t)(intptr_t)mq_event_opaque(ev)) / 1000;
            int64_t b = us / HIST_US;
            pf->hist[b < HIST_BUCKETS ? b : HIST_BUCKETS - 1]++;
            pf->delivered++;
            pf->bytes += (int64_t)size;
        } else {
            if (pf->errors++ < 5)
                fprintf(stderr, "mq-perf: delivery failed: %s: %s\n",
                        mq_err_name(mq_event_error(ev)), mq_event_error_string(ev));
        }
        break;
    case MQ_EVENT_ERROR:
        fprintf(stderr, "mq-perf: %s: %s\n", mq_err_name(mq_event_error(ev)),
                mq_event_error_string(ev));
        break;
    case MQ_EVENT_STATS:
        fprintf(stderr, "%s\n", mq_event_stats(ev));
        break;
    default: /* consumer events: not seen by a producer */
        break;
    }
    mq_event_destroy(ev);
}

static int drain(mq_producer_t *p, perf_t *pf, size_t size, int32_t timeout_ms)
{
    mq_event_t *ev;
    int n = 0;
    int64_t now = 0;
    mq_err_t err;
    /* Reports come a batch at a time: one clock read serves many (a few
     * microseconds apart at most, under the histogram's 10 us buckets). */
    while ((err = mq_producer_poll(p, timeout_ms, &ev)) == MQ_OK) {
        if ((n & 255) == 0)
            now = now_ns();
        handle_event(pf, ev, size, now);
        timeout_ms = 0;
        n++;
    }
    return err == MQ_ERR_CLOSED ? -1 : n;
}

static double percentile(const perf_t *pf, double q)
{
    return perf_percentile_ms(pf->hist, HIST_BUCKETS, pf->delivered, q, HIST_US);
}

/* What the produce loop sends and how it measures. */
typedef struct loop {
    mq_producer_t *p;
    perf_t *pf;
    const char *topic;
    const char *value;
    size_t size;
    int64_t keys;
    int latency;        /* --latency-header: the send time rides in a header */
    int64_t waited_ns;  /* in poll because the buffer was full */
    int64_t slept_ns;   /* pacing for --rate */
    int64_t produce_ns; /* in runs of mq_produce calls (no polls, no waits) */
    int64_t cpu_ns;     /* this thread's CPU time in those runs */
} loop_t;

/* Produces message i with send time t0, polling while the buffer is full. */
static mq_err_t produce_one(loop_t *l, int64_t i, int64_t t0)
{
    char key[32];
    int klen = l->keys ? snprintf(key, sizeof(key), "key-%" PRId64, i % l->keys) : 0;
    /* For `mq-perf consume --latency`: wall-clock ns, 8 bytes big-endian. */
    uint8_t ts[8];
    mq_msg_header_t h = {PERF_LATENCY_HEADER, ts, sizeof(ts)};
    if (l->latency) {
        struct timespec w;
        clock_gettime(CLOCK_REALTIME, &w);
        uint64_t ns = (uint64_t)w.tv_sec * 1000000000u + (uint64_t)w.tv_nsec;
        for (int b = 0; b < 8; b++)
            ts[b] = (uint8_t)(ns >> (56 - 8 * b));
    }
    for (;;) {
        mq_err_t rc = mq_produce(l->p, l->topic, MQ_PARTITION_ANY, l->keys ? key : NULL,
                                 (size_t)klen, l->value, l->size, l->latency ? &h : NULL,
                                 l->latency ? 1 : 0, 0, (void *)(intptr_t)t0, 0);
        if (rc != MQ_ERR_QUEUE_FULL)
            return rc;
        int64_t w0 = now_ns();
        drain(l->p, l->pf, l->size, 10);
        l->waited_ns += now_ns() - w0;
    }
}

/* Messages 1..count-1 (message 0 is the warm-up). Runs of 1024 mq_produce
 * calls are timed between polls for reports, so produce_ns is the cost of
 * the calls themselves (plus a clock read every 16 messages for the send
 * time: latencies are up to 15 calls' time early, far below the 10 us
 * histogram buckets). */
static mq_err_t produce_loop(loop_t *l, int64_t count, int64_t rate, int64_t start)
{
    int64_t run_start = start, t0 = start, cpu_start = cpu_ns();
    for (int64_t i = 1; i < count; i++) {
        if (rate) {
            int64_t due = start + i * 1000000000 / rate;
            int64_t wait = due - now_ns();
            if (wait > 0) {
                int64_t s0 = now_ns();
                drain(l->p, l->pf, l->size, 0);
                struct timespec ts = {wait / 1000000000, wait % 1000000000};
                nanosleep(&ts, NULL);
                l->slept_ns += now_ns() - s0;
            }
        }
        if ((i & 15) == 0)
            t0 = now_ns();
        mq_err_t rc = produce_one(l, i, t0);
        if (rc != MQ_OK) {
            fprintf(stderr, "mq-perf: mq_produce: %s\n", mq_err_str(rc));
            l->pf->errors++;
            return rc;
        }
        if ((i & 1023) == 0) {
            l->cpu_ns += cpu_ns() - cpu_start;
            l->produce_ns += now_ns() - run_start;
            drain(l->p, l->pf, l->size, 0);
            run_start = now_ns();
            cpu_start = cpu_ns();
        }
    }
    l->cpu_ns += cpu_ns() - cpu_start;
    l->produce_ns += now_ns() - run_start - l->waited_ns - l->slept_ns;
    return MQ_OK;
}

static int run_produce(int argc, char **argv)
{
    const char *topic = NULL;
    int64_t count = 1000000, rate = 0, keys = 0;
    int latency = 0;
    size_t size = 100;
    mq_conf_t *conf = mq_conf_new();
    if (!conf)
        return 1;
    static const struct option opts[] = {{"brokers", required_argument, 0, 'b'},
                                         {"topic", required_argument, 0, 't'},
                                         {"count", required_argument, 0, 'c'},
                                         {"size", required_argument, 0, 's'},
                                         {"acks", required_argument, 0, 'a'},
                                         {"linger-ms", required_argument, 0, 'l'},
                                         {"batch-size", required_argument, 0, 'B'},
                                         {"compression", required_argument, 0, 'z'},
                                         {"rate", required_argument, 0, 'r'},
                                         {"keys", required_argument, 0, 'k'},
                                         {"latency-header", no_argument, 0, 'T'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c, bad = 0;
    while (!bad && (c = getopt_long(argc, argv, "b:t:c:s:a:l:B:z:r:k:TX:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            bad = perf_set(conf, "bootstrap.servers", optarg);
            break;
        case 't':
            topic = optarg;
            break;
        case 'c':
            count = strtoll(optarg, NULL, 10);
            break;
        case 's':
            size = (size_t)strtoull(optarg, NULL, 10);
            break;
        case 'a':
            bad = perf_set(conf, "acks", optarg);
            break;
        case 'l':
            bad = perf_set(conf, "linger.ms", optarg);
            break;
        case 'B':
            bad = perf_set(conf, "batch.size", optarg);
            break;
        case 'z':
            bad = perf_set(conf, "compression.type", optarg);
            break;
        case 'r':
            rate = strtoll(optarg, NULL, 10);
            break;
        case 'k':
            keys = strtoll(optarg, NULL, 10);
            break;
        case 'T':
            latency = 1;
            break;
        case 'X':
            bad = perf_set_kv(conf, optarg);
            break;
        case 'h':
            usage(stdout);
            mq_conf_destroy(conf);
            return 0;
        default:
            bad = 1;
        }
    }
    if (bad || !topic || count <= 0 || rate < 0 || keys < 0) {
        if (!bad)
            fprintf(stderr, "mq-perf: --topic is required; --count must be > 0\n");
        usage(stderr);
        mq_conf_destroy(conf);
        return 2;
    }
    /* acks other than all needs idempotence off; do that for the user. */
    char acks[16];
    size_t al = sizeof(acks);
    mq_conf_get(conf, "acks", acks, &al);
    if (strcmp(acks, "all") != 0)
        mq_conf_set(conf, "enable.idempotence", "false", NULL, 0);

    char err[512];
    mq_producer_t *p;
    mq_err_t rc = mq_producer_new(conf, &p, err, sizeof(err));
    mq_conf_destroy(conf);
    if (rc != MQ_OK) {
        fprintf(stderr, "mq-perf: %s: %s\n", mq_err_name(rc), err);
        return 1;
    }
    perf_t pf = {0};
    pf.hist = calloc(HIST_BUCKETS, sizeof(uint32_t));
    char *value = malloc(size ? size : 1);
    if (!pf.hist || !value)
        return 1;
    for (size_t i = 0; i < size; i++)
        value[i] = (char)('a' + i % 26);

    /* Message 0 opens the connection and fetches metadata; the clock starts
     * when it is delivered, so start-up is not counted per message. */
    loop_t l = {.p = p,
                .pf = &pf,
                .topic = topic,
                .value = value,
                .size = size,
                .keys = keys,
                .latency = latency};
    rc = produce_one(&l, 0, now_ns());
    if (rc != MQ_OK) {
        fprintf(stderr, "mq-perf: mq_produce: %s\n", mq_err_str(rc));
        pf.errors++;
    }
    while (rc == MQ_OK && pf.delivered + pf.errors < 1 && drain(p, &pf, size, 100) >= 0)
        ;
    int64_t warm = pf.delivered;
    int64_t start = now_ns();
    l.waited_ns = 0;
    if (rc == MQ_OK)
        produce_loop(&l, count, rate, start);
    int64_t loop_ns = now_ns() - start - l.waited_ns;
    while (pf.delivered + pf.errors < count) {
        if (mq_producer_flush(p, 100) == MQ_OK) {
            drain(p, &pf, size, 0);
            break;
        }
        drain(p, &pf, size, 0);
    }
    mq_producer_close(p, 10000);
    while (drain(p, &pf, size, 0) > 0)
        ;
    double secs = (double)(now_ns() - start) / 1e9;
    mq_producer_destroy(p);
    /* Wall time per message after the warm-up, waits for a full buffer
     * excluded: of the whole loop (with the key snprintf and report polls),
     * and of the mq_produce calls alone. */
    int64_t timed = count > 1 ? count - 1 : 1;
    fprintf(stderr,
            "mq-perf: produce loop %.1f ns/message, mq_produce %.1f ns/call (I/O thread "
            "draining meanwhile; %.1f ns/call of this thread's CPU time)\n",
            (double)loop_ns / (double)timed, (double)l.produce_ns / (double)timed,
            (double)l.cpu_ns / (double)timed);
    double rate_msgs = (double)(pf.delivered - warm) / secs;
    printf("{\"messages\":%" PRId64 ",\"bytes\":%" PRId64 ",\"seconds\":%.3f,"
           "\"msgs_per_sec\":%.0f,\"mb_per_sec\":%.2f,\"errors\":%" PRId64
           ",\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n",
           pf.delivered, pf.bytes, secs, rate_msgs, rate_msgs * (double)size / 1e6, pf.errors,
           percentile(&pf, 0.50), percentile(&pf, 0.99));
    free(pf.hist);
    free(value);
    return pf.errors ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--print-config-doc")) {
        mq__conf_write_markdown(stdout);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "produce"))
        return run_produce(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "consume"))
        return mq_perf_consume(argc - 1, argv + 1);
    usage(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
    return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
}
