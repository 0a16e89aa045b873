/* bench_broker_produce: drives Produce over loopback the way issue 2 asks:
 * one connection, N requests in flight (5), 1000-record batches of 100-byte
 * records, 4 partitions round robin, acks 1 or -1. Prints one JSON line.
 *
 *   bench_broker_produce --addr 127.0.0.1:9092 [--admin 127.0.0.1:9642] --acks 1
 *   bench_broker_produce --spawn --acks -1 --duration 5
 *   bench_broker_produce --fsync-probe DIR [--fsync-count 1000]
 *
 * With --admin (or --spawn) the topic is created first (an existing one is
 * fine). This is a benchmark program, not a test: it never fails on speed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker_proc.h"
#include "rawclient.h"

typedef struct bench_opts {
    const char *addr;
    const char *admin;
    const char *topic;
    int spawn;
    int acks;
    double duration_s;
    long count; /* batches; 0 = run for duration */
    int inflight;
    int records;
    int value_size;
    int partitions;
    const char *fsync_dir;
    int fsync_count;
} bench_opts_t;

static void usage(FILE *out)
{
    fprintf(out, "usage: bench_broker_produce [--addr HOST:PORT | --spawn] [--admin HOST:PORT]\n"
                 "         [--acks 1|-1|0] [--duration SEC | --count BATCHES] [--inflight 5]\n"
                 "         [--records 1000] [--value-size 100] [--partitions 4] [--topic bench]\n"
                 "       bench_broker_produce --fsync-probe DIR [--fsync-count 1000]\n");
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* count x (4 KiB write + fdatasync) in a fresh file under dir. */
static int fsync_probe(const char *dir, int count)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/mq-fsync-probe.%d", dir, (int)getpid());
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "fsync probe: open %s: %s\n", path, strerror(errno));
        return 1;
    }
    char buf[4096];
    memset(buf, 'x', sizeof buf);
    long long *lat = calloc((size_t)count, sizeof *lat);
    long long total = 0;
    for (int i = 0; i < count && lat; i++) {
        long long t0 = now_us();
        if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf || fdatasync(fd) != 0) {
            fprintf(stderr, "fsync probe: %s\n", strerror(errno));
            break;
        }
        lat[i] = now_us() - t0;
        total += lat[i];
    }
    close(fd);
    unlink(path);
    if (!lat)
        return 1;
    qsort(lat, (size_t)count, sizeof *lat, cmp_ll);
    printf("{\"fsync_probe\":{\"dir\":\"%s\",\"count\":%d,\"write_bytes\":4096,"
           "\"mean_us\":%.1f,\"p50_us\":%lld,\"p99_us\":%lld,\"max_us\":%lld}}\n",
           dir, count, (double)total / count, lat[count / 2], lat[count * 99 / 100],
           lat[count - 1]);
    free(lat);
    return 0;
}

static int parse_opts(int argc, char **argv, bench_opts_t *o)
{
    static const struct option longopts[] = {{"addr", required_argument, 0, 'a'},
                                             {"admin", required_argument, 0, 'm'},
                                             {"topic", required_argument, 0, 't'},
                                             {"spawn", no_argument, 0, 's'},
                                             {"acks", required_argument, 0, 'k'},
                                             {"duration", required_argument, 0, 'd'},
                                             {"count", required_argument, 0, 'c'},
                                             {"inflight", required_argument, 0, 'i'},
                                             {"records", required_argument, 0, 'r'},
                                             {"value-size", required_argument, 0, 'v'},
                                             {"partitions", required_argument, 0, 'p'},
                                             {"fsync-probe", required_argument, 0, 'f'},
                                             {"fsync-count", required_argument, 0, 'n'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    *o = (bench_opts_t){.topic = "bench",
                        .acks = 1,
                        .duration_s = 5,
                        .inflight = 5,
                        .records = 1000,
                        .value_size = 100,
                        .partitions = 4,
                        .fsync_count = 1000};
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'a':
            o->addr = optarg;
            break;
        case 'm':
            o->admin = optarg;
            break;
        case 't':
            o->topic = optarg;
            break;
        case 's':
            o->spawn = 1;
            break;
        case 'k':
            o->acks = atoi(optarg);
            break;
        case 'd':
            o->duration_s = atof(optarg);
            break;
        case 'c':
            o->count = atol(optarg);
            break;
        case 'i':
            o->inflight = atoi(optarg);
            break;
        case 'r':
            o->records = atoi(optarg);
            break;
        case 'v':
            o->value_size = atoi(optarg);
            break;
        case 'p':
            o->partitions = atoi(optarg);
            break;
        case 'f':
            o->fsync_dir = optarg;
            break;
        case 'n':
            o->fsync_count = atoi(optarg);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "unexpected argument: %s\n", argv[optind]);
        return -1;
    }
    if (o->fsync_dir)
        return o->fsync_count > 0 ? 0 : -1;
    if (!o->addr && !o->spawn) {
        fprintf(stderr, "give --addr HOST:PORT of a running broker, or --spawn\n");
        return -1;
    }
    if (o->acks != 0 && o->acks != 1 && o->acks != -1) {
        fprintf(stderr, "--acks must be 0, 1 or -1\n");
        return -1;
    }
    if (o->inflight < 1 || o->records < 1 || o->value_size < 0 || o->partitions < 1) {
        fprintf(stderr, "--inflight, --records, --partitions must be >= 1\n");
        return -1;
    }
    return 0;
}

/* Pre-encoded framed requests, one per partition (the same batch each time:
 * the broker rewrites only the base offset). */
static uint8_t **encode_requests(const bench_opts_t *o, size_t *req_lens, size_t *batch_len)
{
    uint8_t *batch = rc_make_batch(o->records, (size_t)o->value_size, rc_now_ms(), 1, batch_len);
    if (!batch)
        return NULL;
    uint8_t **reqs = calloc((size_t)o->partitions, sizeof *reqs);
    for (int p = 0; reqs && p < o->partitions; p++) {
        rc_batch_ref_t ref = {o->topic, p, batch, *batch_len};
        size_t len;
        uint8_t *msg = rc_encode_produce(o->acks, 30000, &ref, 1, &len);
        reqs[p] = malloc(len + 5);
        reqs[p][0] = 0;
        reqs[p][1] = (uint8_t)(len >> 24);
        reqs[p][2] = (uint8_t)(len >> 16);
        reqs[p][3] = (uint8_t)(len >> 8);
        reqs[p][4] = (uint8_t)len;
        memcpy(reqs[p] + 5, msg, len);
        free(msg);
        req_lens[p] = len + 5; /* partition 0 is shorter: proto3 omits zeros */
    }
    free(batch);
    return reqs;
}

static int run_bench(const bench_opts_t *o, const char *addr)
{
    size_t batch_len = 0;
    size_t *req_lens = calloc((size_t)o->partitions, sizeof *req_lens);
    uint8_t **reqs = req_lens ? encode_requests(o, req_lens, &batch_len) : NULL;
    if (!reqs) {
        free(req_lens);
        return 1;
    }
    char err[256];
    rawclient_t *rc = rc_connect_addr(addr, err, sizeof err);
    if (!rc) {
        fprintf(stderr, "connect %s: %s\n", addr, err);
        return 1;
    }
    rc_call_opts_t copts = {.raw_body = 1, .borrow_body = 1};
    long sent = 0, done = 0, failed = 0;
    int next_part = 0;
    long long t0 = now_us();
    long long end = t0 + (long long)(o->duration_s * 1e6);
    int rc_code = 0;
    for (;;) {
        int more = o->count ? sent < o->count : now_us() < end;
        while (more && rc_inflight(rc) < o->inflight) {
            if (rc_submit(rc, RC_PATH_PRODUCE, reqs[next_part], req_lens[next_part], &copts) < 0)
                break;
            next_part = (next_part + 1) % o->partitions;
            sent++;
            more = o->count ? sent < o->count : now_us() < end;
        }
        if (rc_inflight(rc) == 0)
            break;
        rc_result_t r;
        int got = rc_poll(rc, 30000, &r);
        if (got != 1) {
            fprintf(stderr, "no response within 30 s (%s)\n", rc_error(rc));
            rc_code = 1;
            break;
        }
        rc_produce_result_t pr;
        rc_produce_result_from(&r, &pr);
        rc_result_free(&r);
        if (pr.grpc_status != 0 || pr.error_code != 0) {
            if (failed++ == 0)
                fprintf(stderr, "produce failed: grpc %d %s, error %d %s\n", pr.grpc_status,
                        pr.grpc_message, pr.error_code, pr.error_message);
            if (rc_broken(rc)) {
                rc_code = 1;
                break;
            }
            continue;
        }
        done++;
    }
    double secs = (double)(now_us() - t0) / 1e6;
    double records = (double)done * o->records;
    double bytes = (double)done * (double)batch_len;
    printf("{\"records\":%.0f,\"bytes\":%.0f,\"seconds\":%.3f,\"records_per_sec\":%.0f,"
           "\"mb_per_sec\":%.1f,\"acks\":%d,\"batches\":%ld,\"failed\":%ld,\"inflight\":%d,"
           "\"record_value_bytes\":%d,\"records_per_batch\":%d,\"batch_bytes\":%zu,"
           "\"partitions\":%d}\n",
           records, bytes, secs, records / secs, bytes / secs / 1e6, o->acks, done, failed,
           o->inflight, o->value_size, o->records, batch_len, o->partitions);
    rc_close(rc);
    for (int p = 0; p < o->partitions; p++)
        free(reqs[p]);
    free(reqs);
    free(req_lens);
    return rc_code || failed ? 1 : 0;
}

static int create_topic(const bench_opts_t *o, const char *admin)
{
    char err[1024];
    long st = rc_admin_create_topic(admin, o->topic, o->partitions, err, sizeof err);
    if (st == 200 || st == 201 || st == 409)
        return 0;
    fprintf(stderr, "%s\n", err);
    return -1;
}

int main(int argc, char **argv)
{
    bench_opts_t o;
    if (parse_opts(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    if (o.fsync_dir)
        return fsync_probe(o.fsync_dir, o.fsync_count);

    broker_proc_t bp;
    const char *addr = o.addr, *admin = o.admin;
    if (o.spawn) {
        if (broker_proc_start(&bp, NULL) != 0) {
            fprintf(stderr, "spawn broker: %s\n", bp.error);
            broker_proc_dump_logs(&bp, stderr);
            broker_proc_destroy(&bp);
            return 1;
        }
        addr = bp.client_addr;
        admin = bp.admin_addr;
    }
    int code = admin && create_topic(&o, admin) != 0 ? 1 : run_bench(&o, addr);
    if (o.spawn) {
        broker_proc_stop(&bp, 0);
        broker_proc_destroy(&bp);
    }
    return code;
}
