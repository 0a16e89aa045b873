/* Recovery of a partition directory on open (see recovery.h). */
#include "recovery.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "be.h"
#include "log.h"
#include "wire/batch.h"

/* Bytes read at a time when scanning a segment. */
#define SCAN_CHUNK (8u << 20)
/* Index entries tried from the end before the index is rebuilt. */
#define MAX_BAD_ENTRIES 16

/* ---- Scanning ----------------------------------------------------------- */

typedef struct scanner {
    int fd;
    uint64_t file_size;
    uint8_t *buf;
    size_t cap;
    uint64_t start; /* file position of buf[0] */
    size_t len;
} scanner_t;

/* Makes [pos, pos + n) readable in the buffer; NULL past the end of file or
 * on a read error. */
static const uint8_t *scan_need(scanner_t *sc, uint64_t pos, size_t n)
{
    if (pos >= sc->start && pos + n <= sc->start + sc->len)
        return sc->buf + (pos - sc->start);
    if (pos + n > sc->file_size)
        return NULL;
    if (n > sc->cap) {
        uint8_t *b = realloc(sc->buf, n);
        if (!b)
            return NULL;
        sc->buf = b;
        sc->cap = n;
    }
    size_t want = sc->file_size - pos < sc->cap ? (size_t)(sc->file_size - pos) : sc->cap;
    if (seg_pread(sc->fd, sc->buf, want, pos) != MQ_OK)
        return NULL;
    sc->start = pos;
    sc->len = want;
    return sc->buf;
}

/* Books every good batch from s->size on (the segment's state must describe
 * the bytes before it) and stops at the first bad, torn or out-of-sequence
 * one. verify checks the header fully and the CRC. */
static mq_err_t scan_batches(segment_t *s, uint64_t file_size, int verify, uint32_t interval)
{
    scanner_t sc = {.fd = s->fd, .file_size = file_size, .cap = SCAN_CHUNK};
    sc.buf = malloc(sc.cap);
    if (!sc.buf)
        return MQ_ERR_NO_MEMORY;
    while (s->size < file_size) {
        seg_batch_t b;
        const uint8_t *p = scan_need(&sc, s->size, SEG_PEEK_SIZE);
        if (!p || seg_parse_peek(p, &b) != MQ_OK || b.base != s->next_offset)
            break;
        p = scan_need(&sc, s->size, b.size);
        if (!p)
            break;
        mq_batch_header_t h;
        if (verify && (mq__batch_parse_header(p, b.size, &h) != MQ_OK ||
                       mq__batch_verify_crc(p, b.size) != MQ_OK))
            break;
        seg_account(s, &b, interval);
    }
    free(sc.buf);
    return MQ_OK;
}

/* Rescans the whole segment into a fresh index. */
static mq_err_t rebuild(segment_t *s, uint64_t file_size, int verify, uint32_t interval)
{
    if (index_reset(&s->idx) != MQ_OK)
        return MQ_ERR_STORAGE;
    s->size = 0;
    s->next_offset = s->base;
    s->max_ts = -1;
    s->since_index = 0;
    return scan_batches(s, file_size, verify, interval);
}

/* Rescans from the last index entry that points at the batch it names,
 * dropping the entries after it; rebuilds when there is none. */
static mq_err_t resume(segment_t *s, uint64_t file_size, int verify, uint32_t interval)
{
    seg_index_t *x = &s->idx;
    for (size_t tries = 0; x->n > 0 && tries < MAX_BAD_ENTRIES; tries++) {
        idx_entry_t e = x->e[x->n - 1];
        seg_batch_t b;
        if (seg_peek(s, e.pos, file_size, &b) != MQ_OK || b.base != s->base + e.rel) {
            x->n--;
            continue;
        }
        /* Time entries up to e give the max timestamp through e's batch. */
        if (index_truncate(x, x->n - 1, e.rel) != MQ_OK)
            return MQ_ERR_STORAGE;
        s->size = e.pos;
        s->next_offset = s->base + e.rel;
        s->max_ts = tindex_last_ts(x);
        s->since_index = UINT64_MAX; /* re-adds e's entry */
        return scan_batches(s, file_size, verify, interval);
    }
    return rebuild(s, file_size, verify, interval);
}

/* ---- Producer state ------------------------------------------------------ */

/* Records the producer fields of every batch of s in [pos, s->size) whose
 * base offset is at least min_offset. */
static mq_err_t scan_producers(const segment_t *s, uint64_t pos, int64_t min_offset,
                               partition_producers_t *pp)
{
    scanner_t sc = {.fd = s->fd, .file_size = s->size, .cap = SCAN_CHUNK};
    sc.buf = malloc(sc.cap);
    if (!sc.buf)
        return MQ_ERR_NO_MEMORY;
    mq_err_t err = MQ_OK;
    while (pos < s->size && err == MQ_OK) {
        seg_batch_t b;
        const uint8_t *p = scan_need(&sc, pos, SEG_PEEK_SIZE);
        if (!p || seg_parse_peek(p, &b) != MQ_OK) {
            log_warn("\"cannot read batch header for producer state\" segment=%s.log pos=%" PRIu64,
                     s->path, pos);
            break;
        }
        /* Header layout: docs/protocol.md section 4 (producer id at 43). */
        int64_t pid = (int64_t)be_get(p + 43, 8);
        int16_t epoch = (int16_t)be_get(p + 51, 2);
        int32_t seq = (int32_t)be_get(p + 53, 4);
        int32_t count = (int32_t)be_get(p + 57, 4);
        if (pid >= 0 && b.base >= min_offset)
            err = producers_record(pp, pid, epoch, seq, count, b.base, b.max_ts);
        pos += b.size;
    }
    free(sc.buf);
    return err;
}

/* Where the replay starts without a snapshot: the last max_bytes of the
 * log, and at least the whole active segment (a log that never rolled has
 * no snapshot at all). Sets *first (segment index) and *pos. */
static void tail_window(segment_t *const *segs, size_t n, uint64_t max_bytes, size_t *first,
                        uint64_t *pos)
{
    uint64_t left = max_bytes > segs[n - 1]->size ? max_bytes : segs[n - 1]->size;
    *first = n;
    *pos = 0;
    while (*first > 0) {
        const segment_t *s = segs[*first - 1];
        (*first)--;
        if (s->size <= left) {
            left -= s->size;
            continue;
        }
        /* The first index entry inside the window (none: skip it all). */
        uint64_t from = s->size - left;
        *pos = s->size;
        for (size_t i = 0; i < s->idx.n; i++) {
            if (s->idx.e[i].pos >= from) {
                *pos = s->idx.e[i].pos;
                break;
            }
        }
        break;
    }
}

mq_err_t recovery_load_producers(segment_t *const *segs, size_t n, int64_t from_offset,
                                 uint64_t max_bytes, partition_producers_t *pp)
{
    if (n == 0)
        return MQ_OK;
    size_t first = 0;
    uint64_t start = 0;
    if (from_offset < 0) {
        tail_window(segs, n, max_bytes, &first, &start);
    } else {
        while (first + 1 < n && segs[first + 1]->base <= from_offset)
            first++;
        start = segs[first]->base < from_offset ? seg_index_pos(segs[first], from_offset) : 0;
    }
    for (size_t i = first; i < n; i++) {
        mq_err_t err = scan_producers(segs[i], i == first ? start : 0, from_offset, pp);
        if (err != MQ_OK)
            return err;
    }
    return MQ_OK;
}

/* ---- Segments ----------------------------------------------------------- */

static uint32_t interval_of(const log_config_t *cfg)
{
    return cfg->index_interval_bytes > 0 ? (uint32_t)cfg->index_interval_bytes : 0;
}

/* An older segment was fsync'd at roll: trust an intact index whose last
 * entry checks out, else rebuild it from batch headers. */
static mq_err_t load_older(segment_t *s, int existed, const log_config_t *cfg)
{
    uint64_t file_size = s->size;
    int intact = 0;
    if (existed && index_load(&s->idx, file_size, &intact) != MQ_OK)
        return MQ_ERR_STORAGE;
    if (intact && s->idx.n > 0) {
        idx_entry_t e = s->idx.e[s->idx.n - 1];
        seg_batch_t b;
        intact = seg_peek(s, e.pos, file_size, &b) == MQ_OK && b.base == s->base + e.rel;
    }
    if (intact) {
        s->max_ts = tindex_last_ts(&s->idx);
        return index_truncate(&s->idx, s->idx.n, UINT32_MAX);
    }
    log_warn("\"rebuilding index\" segment=%s.log", s->path);
    mq_err_t err = rebuild(s, file_size, 0, interval_of(cfg));
    if (err != MQ_OK)
        return err;
    if (s->size < file_size)
        log_error("\"bad batch in older segment; rest unreadable\" segment=%s.log pos=%" PRIu64
                  " size=%" PRIu64,
                  s->path, s->size, file_size);
    err = seg_seal_index(s);
    return err == MQ_OK ? index_sync(&s->idx) : err;
}

static mq_err_t recover_active(segment_t *s, int existed, int clean, const log_config_t *cfg,
                               int64_t now_ms)
{
    uint64_t file_size = s->size;
    uint32_t interval = interval_of(cfg);
    int intact = 0;
    if (existed && index_load(&s->idx, file_size, &intact) != MQ_OK)
        return MQ_ERR_STORAGE;
    mq_err_t err;
    if (clean && intact) {
        /* Trusted: only headers from the last entry on, no CRCs. */
        err = resume(s, file_size, 0, interval);
        if (err == MQ_OK && s->size != file_size) {
            log_warn("\"clean shutdown marker but bad tail; rebuilding\" segment=%s.log", s->path);
            err = rebuild(s, file_size, 1, interval);
        }
    } else {
        if (!intact && file_size > 0)
            log_warn("\"index missing or damaged; checking it\" segment=%s.log", s->path);
        /* Validates from the last entry that points inside the file at the
         * batch it names; rebuilds when no entry does. */
        err = resume(s, file_size, 1, interval);
    }
    if (err != MQ_OK)
        return err;
    if (s->size < file_size) {
        log_warn("\"truncating torn or corrupt tail\" segment=%s.log from=%" PRIu64 " to=%" PRIu64
                 " next_offset=%" PRId64,
                 s->path, file_size, s->size, s->next_offset);
        if (ftruncate(s->fd, (off_t)s->size) != 0) {
            log_error("\"cannot truncate segment\" segment=%s.log errno=%d", s->path, errno);
            return MQ_ERR_STORAGE;
        }
    }
    if (!clean)
        s->needs_sync = 1; /* its page-cache tail may not be on disk */
    s->created_ms = now_ms;
    seg_batch_t first;
    if (s->size > 0 && seg_peek(s, 0, s->size, &first) == MQ_OK && first.max_ts >= 0)
        s->created_ms = first.max_ts;
    return index_write(&s->idx, 1);
}

/* ---- Directory ---------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int has_base(const int64_t *bases, size_t n, int64_t base)
{
    return n > 0 && bsearch(&base, bases, n, sizeof(*bases), cmp_i64) != NULL;
}

/* Lists the segments' base offsets, sorted, and removes index files left
 * without their log (a deletion cut short). */
static mq_err_t list_bases(const char *dir, int64_t **out, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        log_error("\"cannot list partition\" dir=%s errno=%d", dir, errno);
        return MQ_ERR_STORAGE;
    }
    int64_t *bases = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int64_t base = seg_parse_name(de->d_name, ".log");
        if (base < 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *b = realloc(bases, cap * sizeof(*b));
            if (!b) {
                free(bases);
                closedir(d);
                return MQ_ERR_NO_MEMORY;
            }
            bases = b;
        }
        bases[n++] = base;
    }
    if (n > 1)
        qsort(bases, n, sizeof(*bases), cmp_i64);
    rewinddir(d);
    while ((de = readdir(d)) != NULL) {
        int64_t base = seg_parse_name(de->d_name, ".index");
        if (base < 0)
            base = seg_parse_name(de->d_name, ".timeindex");
        if (base >= 0 && !has_base(bases, n, base)) {
            log_warn("\"removing index without segment\" dir=%s file=%s", dir, de->d_name);
            unlinkat(dirfd(d), de->d_name, 0);
        }
    }
    closedir(d);
    *out = bases;
    *count = n;
    return MQ_OK;
}

/* Reads and removes the marker; *clean is 1 if it names this active
 * segment at its current size. */
static void take_marker(const char *dir, int dirfd, int64_t base, uint64_t size, int *clean)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, RECOVERY_MARKER);
    *clean = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    int64_t mbase;
    uint64_t msize;
    if (fscanf(f, "%" SCNd64 " %" SCNu64, &mbase, &msize) == 2)
        *clean = mbase == base && msize == size;
    fclose(f);
    /* Gone for good before anything is appended, so a crash later is seen. */
    if (unlink(path) != 0 || fsync(dirfd) != 0)
        log_warn("\"cannot remove clean shutdown marker\" path=%s errno=%d", path, errno);
}

mq_err_t recovery_mark_clean(const char *dir, int dirfd, const segment_t *active)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, RECOVERY_MARKER);
    FILE *f = fopen(path, "w");
    if (!f)
        return MQ_ERR_STORAGE;
    fprintf(f, "%" PRId64 " %" PRIu64 "\n", active->base, active->size);
    int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    return ok && fsync(dirfd) == 0 ? MQ_OK : MQ_ERR_STORAGE;
}

static void free_segs(segment_t **segs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        seg_unref(segs[i]);
    free(segs);
}

mq_err_t recovery_load(const char *dir, int dirfd, const log_config_t *cfg, int64_t now_ms,
                       segment_t ***out, size_t *out_n)
{
    int64_t *bases;
    size_t n;
    mq_err_t err = list_bases(dir, &bases, &n);
    if (err != MQ_OK)
        return err;
    segment_t **segs = calloc(n ? n : 1, sizeof(*segs));
    if (!segs) {
        free(bases);
        return MQ_ERR_NO_MEMORY;
    }
    size_t loaded = 0;
    if (n == 0) {
        err = seg_create(dir, 0, &segs[0]);
        loaded = err == MQ_OK;
        if (err == MQ_OK && fsync(dirfd) != 0)
            err = MQ_ERR_STORAGE;
    }
    for (size_t i = 0; i < n && err == MQ_OK; i++) {
        int existed;
        err = seg_open(dir, bases[i], &segs[i], &existed);
        if (err != MQ_OK)
            break;
        loaded++;
        if (i + 1 < n) {
            err = load_older(segs[i], existed, cfg);
            segs[i]->next_offset = bases[i + 1];
            continue;
        }
        int clean;
        take_marker(dir, dirfd, bases[i], segs[i]->size, &clean);
        err = recover_active(segs[i], existed, clean, cfg, now_ms);
        /* The segment rolled just before an unclean stop may be unsynced. */
        if (!clean && i > 0)
            segs[i - 1]->needs_sync = 1;
    }
    free(bases);
    if (err != MQ_OK) {
        free_segs(segs, loaded);
        return err;
    }
    *out = segs;
    *out_n = n ? n : 1;
    return MQ_OK;
}
