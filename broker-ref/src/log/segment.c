/* One segment file: append, header scans and reads (see segment.h). */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "wire/batch.h"

ssize_t (*part_io_pwrite)(int fd, const void *buf, size_t n, off_t off) = pwrite;
int (*part_io_fdatasync)(int fd) = fdatasync;

/* Header fields a peek reads (Kafka RecordBatch v2). */
#define OFF_BATCH_LENGTH 8
#define OFF_MAGIC 16
#define OFF_LAST_OFFSET_DELTA 23
#define OFF_MAX_TIMESTAMP 35

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static segment_t *seg_alloc(const char *dir, int64_t base)
{
    size_t plen = strlen(dir) + 32;
    segment_t *s = calloc(1, sizeof(*s) + plen);
    if (!s)
        return NULL;
    snprintf(s->path, plen, "%s/%020" PRId64, dir, base);
    s->base = base;
    s->fd = -1;
    s->next_offset = base;
    s->max_ts = -1;
    s->created_ms = -1;
    index_init(&s->idx);
    atomic_init(&s->refs, 1);
    pthread_mutex_init(&s->sync_lock, NULL);
    return s;
}

static int open_log(segment_t *s, int flags)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s.log", s->path);
    s->fd = open(path, O_RDWR | O_CLOEXEC | flags, 0644);
    if (s->fd < 0)
        log_error("\"cannot open segment\" path=%s errno=%d", path, errno);
    return s->fd;
}

mq_err_t seg_create(const char *dir, int64_t base, segment_t **out)
{
    segment_t *s = seg_alloc(dir, base);
    if (!s)
        return MQ_ERR_NO_MEMORY;
    if (open_log(s, O_CREAT | O_EXCL) < 0) {
        seg_unref(s);
        return MQ_ERR_STORAGE;
    }
    int existed;
    if (index_open(&s->idx, s->path, &existed) != MQ_OK || index_reset(&s->idx) != MQ_OK) {
        seg_unlink(s); /* so that a later roll can create it again */
        seg_unref(s);
        return MQ_ERR_STORAGE;
    }
    *out = s;
    return MQ_OK;
}

mq_err_t seg_open(const char *dir, int64_t base, segment_t **out, int *index_existed)
{
    segment_t *s = seg_alloc(dir, base);
    if (!s)
        return MQ_ERR_NO_MEMORY;
    struct stat st;
    if (open_log(s, 0) < 0 || fstat(s->fd, &st) != 0 ||
        index_open(&s->idx, s->path, index_existed) != MQ_OK) {
        seg_unref(s);
        return MQ_ERR_STORAGE;
    }
    s->size = (uint64_t)st.st_size;
    *out = s;
    return MQ_OK;
}

void seg_ref(segment_t *s)
{
    atomic_fetch_add(&s->refs, 1);
}

void seg_unref(segment_t *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    if (s->fd >= 0)
        close(s->fd);
    index_close(&s->idx);
    pthread_mutex_destroy(&s->sync_lock);
    free(s);
}

void seg_unlink(segment_t *s)
{
    static const char *const exts[] = {".log", ".index", ".timeindex"};
    for (size_t i = 0; i < 3; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s%s", s->path, exts[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            log_warn("\"cannot delete segment file\" path=%s errno=%d", path, errno);
    }
}

int64_t seg_parse_name(const char *name, const char *ext)
{
    size_t len = strlen(name), elen = strlen(ext);
    if (len != 20 + elen || strcmp(name + 20, ext) != 0)
        return -1;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

mq_err_t seg_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t w = part_io_pwrite(fd, p, len, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            return MQ_ERR_STORAGE;
        }
        p += w;
        len -= (size_t)w;
        off += (uint64_t)w;
    }
    return MQ_OK;
}

mq_err_t seg_pread(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t r = pread(fd, p, len, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return MQ_ERR_STORAGE;
        p += r;
        len -= (size_t)r;
        off += (uint64_t)r;
    }
    return MQ_OK;
}

mq_err_t seg_parse_peek(const uint8_t *p, seg_batch_t *b)
{
    int32_t length = (int32_t)be32(p + OFF_BATCH_LENGTH);
    if (p[OFF_MAGIC] != 2 || length < MQ_BATCH_HEADER_SIZE - MQ_BATCH_LOG_OVERHEAD)
        return MQ_ERR_INVALID_BATCH;
    b->base = (int64_t)be64(p);
    b->lod = (int32_t)be32(p + OFF_LAST_OFFSET_DELTA);
    b->max_ts = (int64_t)be64(p + OFF_MAX_TIMESTAMP);
    b->size = (uint32_t)length + MQ_BATCH_LOG_OVERHEAD;
    return b->lod < 0 || b->base < 0 ? MQ_ERR_INVALID_BATCH : MQ_OK;
}

mq_err_t seg_peek(const segment_t *s, uint64_t pos, uint64_t limit, seg_batch_t *b)
{
    uint8_t hdr[SEG_PEEK_SIZE];
    if (pos + SEG_PEEK_SIZE > limit)
        return MQ_ERR_INVALID_BATCH;
    if (seg_pread(s->fd, hdr, sizeof(hdr), pos) != MQ_OK)
        return MQ_ERR_STORAGE;
    mq_err_t err = seg_parse_peek(hdr, b);
    if (err == MQ_OK && pos + b->size > limit)
        err = MQ_ERR_INVALID_BATCH;
    return err;
}

void seg_account(segment_t *s, const seg_batch_t *b, uint32_t interval)
{
    uint32_t rel = (uint32_t)(b->base - s->base);
    int indexed = 0;
    if (s->size == 0 || s->since_index >= interval) {
        index_add(&s->idx, rel, (uint32_t)s->size);
        s->since_index = 0;
        indexed = 1;
    }
    s->since_index += b->size;
    if (b->max_ts > s->max_ts)
        s->max_ts = b->max_ts;
    if (indexed && s->max_ts > tindex_last_ts(&s->idx))
        tindex_add(&s->idx, s->max_ts, rel);
    s->size += b->size;
    s->next_offset = b->base + b->lod + 1;
}

mq_err_t seg_append(segment_t *s, const uint8_t *buf, const seg_batch_t *b, uint32_t interval)
{
    size_t done = 0;
    while (done < b->size) {
        ssize_t w = part_io_pwrite(s->fd, buf + done, b->size - done, (off_t)(s->size + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            /* Leave no partial batch behind: the file is as before. */
            if (done > 0 && ftruncate(s->fd, (off_t)s->size) != 0)
                log_error("\"cannot cut back a failed write\" path=%s.log errno=%d", s->path,
                          errno);
            log_error("\"segment write failed\" path=%s.log errno=%d", s->path, e);
            return MQ_ERR_STORAGE;
        }
        done += (size_t)w;
    }
    seg_account(s, b, interval);
    index_write(&s->idx, 0); /* a failure only leaves entries pending */
    return MQ_OK;
}

mq_err_t seg_seal_index(segment_t *s)
{
    if (s->size > 0 && s->max_ts > tindex_last_ts(&s->idx)) {
        /* Offset of the last batch: every batch up to it is <= max_ts. */
        uint32_t rel = (uint32_t)(s->next_offset - 1 - s->base);
        if (s->idx.tn == 0 || s->idx.t[s->idx.tn - 1].rel < rel)
            tindex_add(&s->idx, s->max_ts, rel);
    }
    return index_write(&s->idx, 1);
}

mq_err_t seg_sync(segment_t *s, int with_index)
{
    if (part_io_fdatasync(s->fd) != 0) {
        log_error("\"segment fdatasync failed\" path=%s.log errno=%d", s->path, errno);
        return MQ_ERR_STORAGE;
    }
    if (!with_index)
        return MQ_OK;
    pthread_mutex_lock(&s->sync_lock);
    mq_err_t err = index_write(&s->idx, 1);
    if (err == MQ_OK)
        err = index_sync(&s->idx);
    pthread_mutex_unlock(&s->sync_lock);
    return err;
}

uint64_t seg_index_pos(const segment_t *s, int64_t offset)
{
    if (offset <= s->base)
        return 0;
    int64_t rel = offset - s->base;
    return index_lookup(&s->idx, rel > UINT32_MAX ? UINT32_MAX : (uint32_t)rel);
}

mq_err_t seg_locate(const segment_t *s, int64_t offset, uint64_t start, uint64_t limit,
                    uint64_t *pos, int *found)
{
    *found = 0;
    for (uint64_t p = start; p < limit;) {
        seg_batch_t b;
        mq_err_t err = seg_peek(s, p, limit, &b);
        if (err != MQ_OK) {
            log_error("\"bad batch in segment\" path=%s.log pos=%" PRIu64, s->path, p);
            return MQ_ERR_STORAGE;
        }
        if (b.base + b.lod >= offset) {
            *pos = p;
            *found = 1;
            return MQ_OK;
        }
        p += b.size;
    }
    return MQ_OK;
}

mq_err_t seg_find_time(const segment_t *s, int64_t ts, uint64_t start, uint64_t limit,
                       int64_t *offset)
{
    *offset = -1;
    for (uint64_t p = start; p < limit;) {
        seg_batch_t b;
        if (seg_peek(s, p, limit, &b) != MQ_OK) {
            log_error("\"bad batch in segment\" path=%s.log pos=%" PRIu64, s->path, p);
            return MQ_ERR_STORAGE;
        }
        if (b.max_ts >= ts) {
            *offset = b.base;
            return MQ_OK;
        }
        p += b.size;
    }
    return MQ_OK;
}

mq_err_t seg_read(const segment_t *s, uint64_t pos, uint64_t limit, size_t max_bytes,
                  bytebuf_t *out, int64_t *next_offset, uint64_t *next_pos)
{
    seg_batch_t first;
    if (seg_peek(s, pos, limit, &first) != MQ_OK)
        return MQ_ERR_STORAGE;
    uint64_t want = max_bytes > first.size ? max_bytes : first.size;
    if (want > limit - pos)
        want = limit - pos;
    int rc = bytebuf_reserve(out, (size_t)want);
    if (rc != MQ_OK)
        return (mq_err_t)rc;
    uint8_t *dst = out->data + out->len;
    if (seg_pread(s->fd, dst, (size_t)want, pos) != MQ_OK)
        return MQ_ERR_STORAGE;
    /* Keep whole batches only; the first one always fits. */
    size_t n = 0;
    int64_t next = first.base;
    while (n + SEG_PEEK_SIZE <= want) {
        seg_batch_t b;
        if (seg_parse_peek(dst + n, &b) != MQ_OK || n + b.size > want)
            break;
        n += b.size;
        next = b.base + b.lod + 1;
    }
    if (n == 0)
        return MQ_ERR_STORAGE; /* cannot happen: the peek saw the first batch */
    out->len += n;
    *next_offset = next;
    *next_pos = pos + n;
    return MQ_OK;
}
