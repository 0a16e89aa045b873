/* Sparse offset and time indexes of one segment (see index.h). */
#include "index.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "be.h"
#include "log.h"
#include "partition.h"
#include "segment.h"

/* Entries gathered before they are appended to the files. */
#define INDEX_CHUNK 512

void index_init(seg_index_t *x)
{
    memset(x, 0, sizeof(*x));
    x->fd = -1;
    x->tfd = -1;
}

static int open_one(const char *base_path, const char *ext, int *existed)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s%s", base_path, ext);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd >= 0)
        return fd;
    *existed = 0;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        log_error("\"cannot open index\" path=%s errno=%d", path, errno);
    return fd;
}

mq_err_t index_open(seg_index_t *x, const char *base_path, int *existed)
{
    *existed = 1;
    x->fd = open_one(base_path, ".index", existed);
    x->tfd = open_one(base_path, ".timeindex", existed);
    return x->fd < 0 || x->tfd < 0 ? MQ_ERR_STORAGE : MQ_OK;
}

void index_close(seg_index_t *x)
{
    if (x->fd >= 0)
        close(x->fd);
    if (x->tfd >= 0)
        close(x->tfd);
    free(x->e);
    free(x->t);
    index_init(x);
}

/* Reads a whole file; *len gets its size. NULL with *len 0 when empty. */
static mq_err_t read_file(int fd, uint8_t **out, size_t *len)
{
    struct stat st;
    *out = NULL;
    *len = 0;
    if (fstat(fd, &st) != 0)
        return MQ_ERR_STORAGE;
    if (st.st_size == 0)
        return MQ_OK;
    uint8_t *buf = malloc((size_t)st.st_size);
    if (!buf)
        return MQ_ERR_NO_MEMORY;
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            free(buf);
            return MQ_ERR_STORAGE;
        }
        got += (size_t)r;
    }
    *out = buf;
    *len = got;
    return MQ_OK;
}

static int grow(void **arr, size_t *cap, size_t need, size_t esz)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 64;
    while (ncap < need)
        ncap *= 2;
    void *n = realloc(*arr, ncap * esz);
    if (!n)
        return -1;
    *arr = n;
    *cap = ncap;
    return 0;
}

/* Parses the offset index; returns 1 when every byte was a good entry. */
static int parse_offsets(seg_index_t *x, const uint8_t *buf, size_t len, uint64_t log_size)
{
    size_t count = len / INDEX_ENTRY_SIZE;
    if (grow((void **)&x->e, &x->cap, count, sizeof(idx_entry_t)) != 0)
        return 0;
    x->n = 0;
    for (size_t i = 0; i < count; i++) {
        idx_entry_t e = {(uint32_t)be_get(buf + i * 8, 4), (uint32_t)be_get(buf + i * 8 + 4, 4)};
        int first_ok = i > 0 || (e.rel == 0 && e.pos == 0);
        int mono = i == 0 || (e.rel > x->e[i - 1].rel && e.pos > x->e[i - 1].pos);
        if (!first_ok || !mono || e.pos >= log_size)
            return 0;
        x->e[x->n++] = e;
    }
    return len % INDEX_ENTRY_SIZE == 0;
}

static int parse_times(seg_index_t *x, const uint8_t *buf, size_t len)
{
    size_t count = len / TIMEINDEX_ENTRY_SIZE;
    if (grow((void **)&x->t, &x->tcap, count, sizeof(tidx_entry_t)) != 0)
        return 0;
    x->tn = 0;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *p = buf + i * TIMEINDEX_ENTRY_SIZE;
        tidx_entry_t t = {(int64_t)be_get(p, 8), (uint32_t)be_get(p + 8, 4)};
        if (i > 0 && (t.ts < x->t[i - 1].ts || t.rel <= x->t[i - 1].rel))
            return 0;
        x->t[x->tn++] = t;
    }
    return len % TIMEINDEX_ENTRY_SIZE == 0;
}

mq_err_t index_load(seg_index_t *x, uint64_t log_size, int *intact)
{
    uint8_t *buf;
    size_t len;
    *intact = 0;
    mq_err_t err = read_file(x->fd, &buf, &len);
    if (err != MQ_OK)
        return err;
    int ok = parse_offsets(x, buf, len, log_size);
    free(buf);
    err = read_file(x->tfd, &buf, &len);
    if (err != MQ_OK)
        return err;
    ok = parse_times(x, buf, len) && ok;
    free(buf);
    x->written = x->n;
    x->twritten = x->tn;
    *intact = ok && (log_size == 0 || x->n > 0);
    return MQ_OK;
}

mq_err_t index_reset(seg_index_t *x)
{
    x->tn = 0;
    return index_truncate(x, 0, 0);
}

mq_err_t index_truncate(seg_index_t *x, size_t n, uint32_t max_rel)
{
    if (n < x->n)
        x->n = n;
    while (x->tn > 0 && x->t[x->tn - 1].rel > max_rel)
        x->tn--;
    if (x->written > x->n)
        x->written = x->n;
    if (x->twritten > x->tn)
        x->twritten = x->tn;
    /* Cutting to the kept entries also drops a torn or garbage tail. */
    if (ftruncate(x->fd, (off_t)(x->written * INDEX_ENTRY_SIZE)) != 0 ||
        ftruncate(x->tfd, (off_t)(x->twritten * TIMEINDEX_ENTRY_SIZE)) != 0) {
        log_error("\"cannot truncate index\" errno=%d", errno);
        return MQ_ERR_STORAGE;
    }
    return MQ_OK;
}

void index_add(seg_index_t *x, uint32_t rel, uint32_t pos)
{
    if (grow((void **)&x->e, &x->cap, x->n + 1, sizeof(idx_entry_t)) != 0)
        return;
    x->e[x->n++] = (idx_entry_t){rel, pos};
}

void tindex_add(seg_index_t *x, int64_t ts, uint32_t rel)
{
    if (grow((void **)&x->t, &x->tcap, x->tn + 1, sizeof(tidx_entry_t)) != 0)
        return;
    x->t[x->tn++] = (tidx_entry_t){ts, rel};
}

int64_t tindex_last_ts(const seg_index_t *x)
{
    return x->tn ? x->t[x->tn - 1].ts : -1;
}

uint32_t index_lookup(const seg_index_t *x, uint32_t rel)
{
    size_t lo = 0, hi = x->n; /* first entry with e.rel > rel */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->e[mid].rel <= rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? x->e[lo - 1].pos : 0;
}

int64_t tindex_lookup(const seg_index_t *x, int64_t ts)
{
    size_t lo = 0, hi = x->tn; /* first entry with t.ts >= ts */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->t[mid].ts < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? (int64_t)x->t[lo - 1].rel : -1;
}

static mq_err_t write_times(seg_index_t *x)
{
    size_t count = x->tn - x->twritten;
    if (count == 0)
        return MQ_OK;
    uint8_t *buf = malloc(count * TIMEINDEX_ENTRY_SIZE);
    if (!buf)
        return MQ_ERR_NO_MEMORY;
    for (size_t i = 0; i < count; i++) {
        const tidx_entry_t *t = &x->t[x->twritten + i];
        uint8_t *p = buf + i * TIMEINDEX_ENTRY_SIZE;
        be_put(p, (uint64_t)t->ts, 8);
        be_put(p + 8, t->rel, 4);
    }
    mq_err_t rc =
        seg_pwrite(x->tfd, buf, count * TIMEINDEX_ENTRY_SIZE, x->twritten * TIMEINDEX_ENTRY_SIZE);
    free(buf);
    if (rc != MQ_OK)
        return rc;
    x->twritten = x->tn;
    return MQ_OK;
}

static mq_err_t write_offsets(seg_index_t *x)
{
    size_t count = x->n - x->written;
    if (count == 0)
        return MQ_OK;
    uint8_t *buf = malloc(count * INDEX_ENTRY_SIZE);
    if (!buf)
        return MQ_ERR_NO_MEMORY;
    for (size_t i = 0; i < count; i++) {
        be_put(buf + i * 8, x->e[x->written + i].rel, 4);
        be_put(buf + i * 8 + 4, x->e[x->written + i].pos, 4);
    }
    mq_err_t rc = seg_pwrite(x->fd, buf, count * INDEX_ENTRY_SIZE, x->written * INDEX_ENTRY_SIZE);
    free(buf);
    if (rc != MQ_OK)
        return rc;
    x->written = x->n;
    return MQ_OK;
}

mq_err_t index_write(seg_index_t *x, int force)
{
    if (!force && x->n - x->written < INDEX_CHUNK && x->tn - x->twritten < INDEX_CHUNK)
        return MQ_OK;
    mq_err_t err = write_times(x);
    if (err == MQ_OK)
        err = write_offsets(x);
    if (err != MQ_OK && !x->write_failing)
        log_warn("\"cannot write index; entries kept pending\" errno=%d", errno);
    x->write_failing = err != MQ_OK;
    return err;
}

mq_err_t index_sync(seg_index_t *x)
{
    if (fsync(x->fd) != 0 || fsync(x->tfd) != 0) {
        log_error("\"index fsync failed\" errno=%d", errno);
        return MQ_ERR_STORAGE;
    }
    return MQ_OK;
}
