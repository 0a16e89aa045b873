/* mq-perf consume: reads a topic as fast as it can (or measures end-to-end
 * latency) and ends with one line of JSON shaped like produce's.
 *
 *   mq-perf consume --brokers H:P --topic T [--group G | --partitions N]
 *                   [--count N] [--batch N] [--latency] [--idle-ms MS]
 *                   [-X key=value]...
 *
 * With --group it subscribes (a new group starts at the earliest message,
 * or at the end with --latency); without, it assigns partitions 0..N-1
 * from the beginning (the end with --latency). --batch N uses
 * mq_consumer_poll_batch with up to N messages per call (default 10000);
 * --batch 0 uses mq_consumer_poll. --latency reads the send time that
 * `mq-perf produce --latency-header` puts in each message's "mq-perf-ts"
 * header (ns since the epoch) and reports p50/p99/p99.9 end to end.
 * Stops after --count messages, or after --idle-ms without one. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mq-perf.h"
#include "mqclient.h"

#define HIST_BUCKETS 10000000 /* 1 us buckets up to 10 s */

typedef struct cperf {
    int64_t msgs, bytes, errors, lat_count;
    int64_t first_ns, last_ns;
    uint32_t *hist;
    int latency;
} cperf_t;

static int64_t mono_ns(void)
{
    return perf_clock_ns(CLOCK_MONOTONIC);
}

static int64_t wall_ns(void)
{
    return perf_clock_ns(CLOCK_REALTIME);
}

static void cusage(FILE *f)
{
    fprintf(f, "usage: mq-perf consume --brokers HOST:PORT[,...] --topic T\n"
               "         [--group G | --partitions N] [--count N] [--batch N]\n"
               "         [--latency] [--idle-ms MS] [-X key=value]...\n");
}

static void record(cperf_t *pf, const mq_message_t *m, int64_t now)
{
    size_t vlen;
    mq_message_value(m, &vlen);
    pf->msgs++;
    pf->bytes += (int64_t)vlen;
    if (!pf->first_ns)
        pf->first_ns = now;
    pf->last_ns = now;
    if (!pf->latency)
        return;
    const void *v;
    size_t len;
    if (mq_message_header_get(m, PERF_LATENCY_HEADER, &v, &len) != MQ_OK || len != 8)
        return;
    const uint8_t *b = v;
    uint64_t sent = 0;
    for (int i = 0; i < 8; i++)
        sent = sent << 8 | b[i];
    int64_t us = (wall_ns() - (int64_t)sent) / 1000;
    if (us < 0)
        us = 0;
    pf->hist[us < HIST_BUCKETS ? us : HIST_BUCKETS - 1]++;
    pf->lat_count++;
}

static double cpercentile(const cperf_t *pf, double q)
{
    return perf_percentile_ms(pf->hist, HIST_BUCKETS, pf->lat_count, q, 1);
}

static void on_event(cperf_t *pf, mq_event_t *ev)
{
    switch (mq_event_type(ev)) {
    case MQ_EVENT_ERROR:
        if (pf->errors++ < 5)
            fprintf(stderr, "mq-perf: %s: %s\n", mq_err_name(mq_event_error(ev)),
                    mq_event_error_string(ev));
        break;
    case MQ_EVENT_STATS:
        fprintf(stderr, "%s\n", mq_event_stats(ev));
        break;
    case MQ_EVENT_REBALANCE: {
        size_t n;
        mq_event_partitions(ev, &n);
        fprintf(stderr, "mq-perf: %s %zu partitions\n",
                mq_event_rebalance_type(ev) == MQ_REBALANCE_ASSIGN ? "assigned" : "revoked", n);
        break;
    }
    default:
        break;
    }
    mq_event_destroy(ev);
}

/* Polls until count messages or idle_ms without one. */
static void consume_loop(mq_consumer_t *c, cperf_t *pf, int64_t count, int64_t batch,
                         int64_t idle_ms)
{
    int64_t last = mono_ns();
    while (pf->msgs < count) {
        mq_message_t *m = NULL;
        mq_message_batch_t *b = NULL;
        mq_event_t *ev = NULL;
        mq_err_t rc = batch ? mq_consumer_poll_batch(c, 100, (size_t)batch, &b, &ev)
                            : mq_consumer_poll(c, 100, &m, &ev);
        /* One clock read per batch, or per 256 single messages (clock reads
         * would otherwise be a good part of a single poll's cost), and one
         * when the count is reached. */
        int64_t now = last;
        if (batch || rc != MQ_OK || !m || (pf->msgs & 255) == 0 || pf->msgs + 1 >= count)
            now = mono_ns();
        if (rc == MQ_ERR_TIMED_OUT) {
            if ((now - last) / 1000000 >= idle_ms)
                break;
            continue;
        }
        if (rc != MQ_OK)
            break;
        if (ev) {
            on_event(pf, ev);
            continue;
        }
        last = now;
        if (m) {
            record(pf, m, now);
            mq_message_destroy(m);
            continue;
        }
        size_t n = mq_message_batch_count(b);
        for (size_t i = 0; i < n; i++)
            record(pf, mq_message_batch_get(b, i), now);
        mq_message_batch_destroy(b);
    }
}

int mq_perf_consume(int argc, char **argv)
{
    const char *topic = NULL, *group = NULL;
    int64_t count = INT64_MAX, batch = 10000, partitions = 1, idle_ms = 5000;
    int latency = 0;
    mq_conf_t *conf = mq_conf_new();
    if (!conf)
        return 1;
    static const struct option opts[] = {
        {"brokers", required_argument, 0, 'b'}, {"topic", required_argument, 0, 't'},
        {"group", required_argument, 0, 'g'},   {"partitions", required_argument, 0, 'p'},
        {"count", required_argument, 0, 'c'},   {"batch", required_argument, 0, 'n'},
        {"latency", no_argument, 0, 'L'},       {"idle-ms", required_argument, 0, 'i'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    int o, bad = 0;
    optind = 1;
    while (!bad && (o = getopt_long(argc, argv, "b:t:g:p:c:n:Li:X:h", opts, NULL)) != -1) {
        switch (o) {
        case 'b':
            bad = perf_set(conf, "bootstrap.servers", optarg);
            break;
        case 't':
            topic = optarg;
            break;
        case 'g':
            group = optarg;
            bad = perf_set(conf, "group.id", optarg);
            break;
        case 'p':
            partitions = strtoll(optarg, NULL, 10);
            break;
        case 'c':
            count = strtoll(optarg, NULL, 10);
            break;
        case 'n':
            batch = strtoll(optarg, NULL, 10);
            break;
        case 'L':
            latency = 1;
            break;
        case 'i':
            idle_ms = strtoll(optarg, NULL, 10);
            break;
        case 'X':
            bad = perf_set_kv(conf, optarg);
            break;
        case 'h':
            cusage(stdout);
            mq_conf_destroy(conf);
            return 0;
        default:
            bad = 1;
        }
    }
    if (bad || !topic || count <= 0 || batch < 0 || partitions < 1 || idle_ms < 0) {
        if (!bad)
            fprintf(stderr, "mq-perf: --topic is required; --count and --partitions must be "
                            "> 0\n");
        cusage(stderr);
        mq_conf_destroy(conf);
        return 2;
    }
    if (group)
        perf_set(conf, "auto.offset.reset", latency ? "latest" : "earliest");
    char err[512];
    mq_consumer_t *c;
    mq_err_t rc = mq_consumer_new(conf, &c, err, sizeof(err));
    mq_conf_destroy(conf);
    if (rc != MQ_OK) {
        fprintf(stderr, "mq-perf: %s: %s\n", mq_err_name(rc), err);
        return 1;
    }
    if (group) {
        rc = mq_consumer_subscribe(c, &topic, 1);
    } else {
        mq_topic_partition_t *tp = calloc((size_t)partitions, sizeof(*tp));
        for (int64_t i = 0; tp && i < partitions; i++)
            tp[i] = (mq_topic_partition_t){topic, (int32_t)i, 0,
                                           latency ? MQ_OFFSET_END : MQ_OFFSET_BEGINNING};
        rc = tp ? mq_consumer_assign(c, tp, (size_t)partitions) : MQ_ERR_NO_MEMORY;
        free(tp);
    }
    cperf_t pf = {0};
    pf.latency = latency;
    pf.hist = latency ? calloc(HIST_BUCKETS, sizeof(uint32_t)) : NULL;
    if (rc != MQ_OK || (latency && !pf.hist)) {
        fprintf(stderr, "mq-perf: cannot start consuming: %s\n", mq_err_str(rc));
        mq_consumer_destroy(c);
        free(pf.hist);
        return 1;
    }
    consume_loop(c, &pf, count, batch, idle_ms);
    mq_consumer_close(c, 5000);
    mq_consumer_destroy(c);
    double secs = pf.msgs > 1 ? (double)(pf.last_ns - pf.first_ns) / 1e9 : 0;
    double rate = secs > 0 ? (double)pf.msgs / secs : 0;
    printf("{\"messages\":%" PRId64 ",\"bytes\":%" PRId64 ",\"seconds\":%.3f,"
           "\"msgs_per_sec\":%.0f,\"mb_per_sec\":%.2f,\"errors\":%" PRId64
           ",\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f}\n",
           pf.msgs, pf.bytes, secs, rate, secs > 0 ? (double)pf.bytes / secs / 1e6 : 0, pf.errors,
           cpercentile(&pf, 0.50), cpercentile(&pf, 0.99), cpercentile(&pf, 0.999));
    free(pf.hist);
    return count != INT64_MAX && pf.msgs < count ? 1 : 0;
}
