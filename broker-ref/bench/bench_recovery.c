/* Recovery time of a partition's active segment after kill -9.
 *
 * A child process fills one active segment to --bytes (default 1 GiB) with
 * 1000-record batches of 100-byte records through part_append, then dies by
 * SIGKILL (no clean-shutdown marker, the last index chunk unwritten). The
 * parent times part_open (a) with the index files present, then (b) after
 * another unclean stop with the index files deleted. The page cache is warm.
 * Prints one line of JSON.
 *
 * usage: bench_recovery [--bytes N] [--dir DIR] [--keep] */
#include <errno.h>
#include <sys/stat.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "log/partition.h"
#include "wire/batch.h"

#define RECORDS_PER_BATCH 1000
#define RECORD_BYTES 100

typedef struct fill_result {
    int64_t end_offset;
    int64_t batches;
    double seconds;
} fill_result_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static log_config_t bench_config(int64_t bytes)
{
    log_config_t c = {
        .segment_bytes = bytes + (64 << 20), /* one segment: no roll */
        .segment_ms = 365LL * 24 * 3600 * 1000,
        .retention_ms = -1,
        .retention_bytes = -1,
        .index_interval_bytes = 4096,
        .max_message_bytes = 1 << 20,
        .message_timestamp_log_append = 0,
    };
    return c;
}

static int build_batch(uint8_t **out, size_t *len)
{
    mq_batch_builder_t b;
    if (mq__batch_builder_init(&b, 128 * 1024) != MQ_OK)
        return -1;
    uint8_t value[RECORD_BYTES];
    for (int i = 0; i < RECORDS_PER_BATCH; i++) {
        memset(value, 'a' + i % 26, sizeof(value));
        if (mq__batch_builder_add(&b, 1700000000000LL + i, NULL, 0, value, sizeof(value), NULL,
                                  0) != MQ_OK)
            return -1;
    }
    const uint8_t *data;
    if (mq__batch_builder_finish(&b, -1, -1, -1, MQ_BATCH_COMPRESSION_NONE, &data, len) != MQ_OK)
        return -1;
    *out = mq__batch_builder_detach(&b);
    mq__batch_builder_free(&b);
    return *out ? 0 : -1;
}

/* In the child: fill, report through fd, die like kill -9. */
static void fill_and_die(const char *dir, int64_t bytes, int fd)
{
    log_config_t cfg = bench_config(bytes);
    part_t *p;
    uint8_t *batch;
    size_t len;
    if (build_batch(&batch, &len) != 0 || part_open(dir, &cfg, &p) != MQ_OK)
        _exit(2);
    fill_result_t r = {0};
    double t0 = now_s();
    for (int64_t written = 0; written < bytes; written += (int64_t)len) {
        int64_t base, lat;
        if (part_append(p, batch, len, 1700000000000LL, &base, &lat) != MQ_OK)
            _exit(3);
        r.end_offset = base + RECORDS_PER_BATCH;
        r.batches++;
    }
    r.seconds = now_s() - t0;
    if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
        _exit(4);
    raise(SIGKILL);
    _exit(5);
}

static int fill(const char *dir, int64_t bytes, fill_result_t *r)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(fds[0]);
        fill_and_die(dir, bytes, fds[1]);
    }
    close(fds[1]);
    ssize_t n = read(fds[0], r, sizeof(*r));
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    if (n != (ssize_t)sizeof(*r) || !WIFSIGNALED(status)) {
        fprintf(stderr, "bench_recovery: filling failed (status %d)\n", status);
        return -1;
    }
    return 0;
}

/* Times part_open; leaves the partition unclean again (no part_close). */
static double time_open(const char *dir, int64_t bytes, int64_t want_end)
{
    log_config_t cfg = bench_config(bytes);
    part_t *p;
    double t0 = now_s();
    if (part_open(dir, &cfg, &p) != MQ_OK)
        return -1;
    double t = now_s() - t0;
    part_stats_t st;
    part_get_stats(p, &st);
    if (st.log_end_offset != want_end) {
        fprintf(stderr, "bench_recovery: recovered end %" PRId64 ", want %" PRId64 "\n",
                st.log_end_offset, want_end);
        return -1;
    }
    /* Close, then drop the marker: the next open is unclean again. */
    part_close(p);
    char marker[4200];
    snprintf(marker, sizeof(marker), "%s/.clean_shutdown", dir);
    unlink(marker);
    return t;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    int64_t bytes = 1LL << 30;
    const char *base_dir = NULL;
    int keep = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bytes") == 0 && i + 1 < argc) {
            bytes = strtoll(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            base_dir = argv[++i];
        } else if (strcmp(argv[i], "--keep") == 0) {
            keep = 1;
        } else {
            fprintf(stderr, "usage: %s [--bytes N] [--dir DIR] [--keep]\n", argv[0]);
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (bytes < 1 << 20 || bytes > (3LL << 30)) {
        fprintf(stderr, "bench_recovery: --bytes must be between 1 MiB and 3 GiB\n");
        return 2;
    }
    g_log_level = LOG_WARN;
    char tmpl[] = "/tmp/mqbench-recovery-XXXXXX";
    char root[4096];
    if (base_dir) {
        snprintf(root, sizeof(root), "%s", base_dir);
        if (mkdir(root, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "bench_recovery: cannot create %s: %s\n", root, strerror(errno));
            return 1;
        }
    } else if (mkdtemp(tmpl)) {
        snprintf(root, sizeof(root), "%s", tmpl);
    } else {
        perror("mkdtemp");
        return 1;
    }
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/bench-0", root);

    fill_result_t r;
    if (fill(dir, bytes, &r) != 0)
        return 1;
    double with_index = time_open(dir, bytes, r.end_offset);
    char path[4300];
    snprintf(path, sizeof(path), "%s/00000000000000000000.index", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/00000000000000000000.timeindex", dir);
    unlink(path);
    double without_index = time_open(dir, bytes, r.end_offset);
    if (!keep)
        nftw(base_dir ? dir : root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    if (with_index < 0 || without_index < 0)
        return 1;
    printf("{\"bench\":\"recovery\",\"segment_bytes\":%" PRId64 ",\"batches\":%" PRId64
           ",\"records\":%" PRId64 ",\"record_bytes\":%d,\"fill_records_per_sec\":%.0f"
           ",\"fill_mb_per_sec\":%.1f,\"recover_with_index_ms\":%.1f"
           ",\"recover_without_index_ms\":%.1f}\n",
           bytes, r.batches, r.end_offset, RECORD_BYTES, (double)r.end_offset / r.seconds,
           (double)bytes / r.seconds / 1e6, with_index * 1000, without_index * 1000);
    return 0;
}
