/* Helpers shared by mq-perf's produce and consume modes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mq-perf.h"

int64_t perf_clock_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int perf_set(mq_conf_t *conf, const char *key, const char *value)
{
    char err[512];
    if (mq_conf_set(conf, key, value, err, sizeof(err)) != MQ_OK) {
        fprintf(stderr, "mq-perf: %s\n", err);
        return -1;
    }
    return 0;
}

int perf_set_kv(mq_conf_t *conf, char *kv)
{
    char *eq = strchr(kv, '=');
    if (!eq) {
        fprintf(stderr, "mq-perf: -X wants key=value, got \"%s\"\n", kv);
        return -1;
    }
    *eq = '\0';
    return perf_set(conf, kv, eq + 1);
}

double perf_percentile_ms(const uint32_t *hist, int64_t n, int64_t total, double q,
                          int64_t bucket_us)
{
    int64_t want = (int64_t)ceil(q * (double)total), seen = 0;
    if (total == 0)
        return 0;
    for (int64_t b = 0; b < n; b++) {
        seen += hist[b];
        if (seen >= want)
            return (double)((b + 1) * bucket_us) / 1000.0;
    }
    return 0;
}
