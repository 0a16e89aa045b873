/* What mq-perf's produce (mq-perf.c) and consume (mq-perf-consume.c) modes share. */
#ifndef MQ_PERF_H
#define MQ_PERF_H

#include <stdint.h>
#include <time.h>

#include "mqclient.h"

/* The header `mq-perf produce --latency-header` writes: 8 bytes, big-endian
 * ns since the epoch (CLOCK_REALTIME). */
#define PERF_LATENCY_HEADER "mq-perf-ts"

int mq_perf_consume(int argc, char **argv);

/* clock_gettime(clock) in ns. */
int64_t perf_clock_ns(clockid_t clock);

/* mq_conf_set, printing its error; 0 or -1. */
int perf_set(mq_conf_t *conf, const char *key, const char *value);

/* -X key=value: sets the key (kv is modified); 0 or -1. */
int perf_set_kv(mq_conf_t *conf, char *kv);

/* The q-quantile in ms of a histogram of n buckets of bucket_us each holding
 * total samples (the upper edge of the bucket that reaches it). */
double perf_percentile_ms(const uint32_t *hist, int64_t n, int64_t total, double q,
                          int64_t bucket_us);

#endif
