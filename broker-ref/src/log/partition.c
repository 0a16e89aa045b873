/* A partition's log: the list of segments, the append, read, flush and
 * housekeeping paths, and the locking between them (see partition.h).
 *
 * One mutex guards the segment list, the offsets and each segment's state.
 * Appends write under it; reads and flushes take it only to pick a segment
 * (and a reference to it) and do their I/O outside, on bytes that never
 * change once written. Slow fsyncs of a rolled segment also run outside. */
#include "partition.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "producer_snapshot.h"
#include "producers.h"
#include "recovery.h"
#include "retention.h"
#include "segment.h"
#include "wire/batch.h"

struct part {
    pthread_mutex_t lock;
    char *dir;
    int dirfd;
    log_config_t cfg;
    segment_t **segs; /* oldest first; the last one is active */
    size_t nseg, cap;
    int64_t end_offset;
    int64_t flushed_offset;
    uint64_t total_bytes;
    pthread_cond_t synced;   /* a background roll sync finished */
    int syncing;             /* roll syncs running */
    uint64_t dir_gen;        /* bumped when files are created */
    uint64_t dir_synced_gen; /* dir_gen as of the last directory fsync */
    /* Idempotent producers' last batches, checked and updated under lock
     * with the append so a retry cannot race its original. */
    partition_producers_t *producers;
    uint64_t snap_bytes;      /* appended since the last producer snapshot */
    int64_t last_snap_offset; /* offset of the last snapshot started, -1 none */
    /* Where the last read stopped, so a sequential reader does not rescan
     * from an index entry. */
    struct {
        int valid;
        int64_t seg_base;
        int64_t offset; /* base offset of the batch at pos */
        uint64_t pos;
    } cache;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static segment_t *active(const part_t *p)
{
    return p->segs[p->nseg - 1];
}

/* Index of the last segment whose base <= offset (0 if none). */
static size_t find_seg(const part_t *p, int64_t offset)
{
    size_t lo = 0, hi = p->nseg;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->segs[mid]->base <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? lo - 1 : 0;
}

/* ---- Open, close, destroy ----------------------------------------------- */

/* Producer state: the newest snapshot, then the batches after it. */
static mq_err_t load_producers(part_t *p)
{
    int64_t from = -1;
    mq_err_t err = psnap_load(p->dir, p->dirfd, active(p)->next_offset, &p->producers, &from);
    if (err == MQ_OK && !p->producers && !(p->producers = partition_producers_new()))
        err = MQ_ERR_NO_MEMORY;
    if (err == MQ_OK)
        err = recovery_load_producers(p->segs, p->nseg, from, RECOVERY_PRODUCER_SCAN_BYTES,
                                      p->producers);
    if (err == MQ_OK)
        log_info("\"producer state loaded\" dir=%s producers=%zu snapshot=%" PRId64, p->dir,
                 producers_count(p->producers), from);
    return err;
}

/* Writes a snapshot of the producer state at the log end now (lock held;
 * the log must be durable up to there first). */
static void snapshot_locked(part_t *p)
{
    uint8_t *body;
    size_t len;
    if (producers_encode(p->producers, &body, &len) != MQ_OK) {
        log_error("\"out of memory for producer snapshot\" dir=%s", p->dir);
        return;
    }
    psnap_write(p->dir, p->dirfd, p->end_offset, body, len);
    free(body);
    p->snap_bytes = 0;
    p->last_snap_offset = p->end_offset;
}

mq_err_t part_open(const char *dir, const log_config_t *cfg, part_t **out)
{
    if (!dir || !cfg || !out)
        return MQ_ERR_INVALID_ARG;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        log_error("\"cannot create partition dir\" dir=%s errno=%d", dir, errno);
        return MQ_ERR_STORAGE;
    }
    part_t *p = calloc(1, sizeof(*p));
    if (!p || !(p->dir = strdup(dir))) {
        free(p);
        return MQ_ERR_NO_MEMORY;
    }
    p->cfg = *cfg;
    p->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (p->dirfd < 0) {
        log_error("\"cannot open partition dir\" dir=%s errno=%d", dir, errno);
        free(p->dir);
        free(p);
        return MQ_ERR_STORAGE;
    }
    mq_err_t err = recovery_load(dir, p->dirfd, cfg, wall_ms(), &p->segs, &p->nseg);
    if (err != MQ_OK) {
        close(p->dirfd);
        free(p->dir);
        free(p);
        return err;
    }
    p->last_snap_offset = -1;
    err = load_producers(p);
    if (err == MQ_OK)
        producers_touch_all(p->producers, wall_ms());
    if (err != MQ_OK) {
        partition_producers_free(p->producers);
        for (size_t i = 0; i < p->nseg; i++)
            seg_unref(p->segs[i]);
        free(p->segs);
        close(p->dirfd);
        free(p->dir);
        free(p);
        return err;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->synced, NULL);
    p->cap = p->nseg;
    for (size_t i = 0; i < p->nseg; i++)
        p->total_bytes += p->segs[i]->size;
    p->end_offset = active(p)->next_offset;
    /* What recovery found is in the page cache; segments it marked
     * needs_sync make part_needs_flush() true until a flush covers them. */
    p->flushed_offset = p->end_offset;
    log_info("\"partition opened\" dir=%s segments=%zu start=%" PRId64 " end=%" PRId64, dir,
             p->nseg, p->segs[0]->base, p->end_offset);
    *out = p;
    return MQ_OK;
}

static void free_part(part_t *p)
{
    for (size_t i = 0; i < p->nseg; i++)
        seg_unref(p->segs[i]);
    free(p->segs);
    partition_producers_free(p->producers);
    close(p->dirfd);
    pthread_cond_destroy(&p->synced);
    pthread_mutex_destroy(&p->lock);
    free(p->dir);
    free(p);
}

/* Waits for background roll syncs, which use p. */
static void wait_syncs(part_t *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->syncing > 0)
        pthread_cond_wait(&p->synced, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

void part_close(part_t *p)
{
    if (!p)
        return;
    wait_syncs(p);
    int ok = part_flush(p) == MQ_OK;
    pthread_mutex_lock(&p->lock);
    segment_t *s = active(p);
    ok = ok && seg_seal_index(s) == MQ_OK && index_sync(&s->idx) == MQ_OK;
    if (ok)
        snapshot_locked(p); /* the next start replays nothing */
    if (!ok || recovery_mark_clean(p->dir, p->dirfd, s) != MQ_OK)
        log_warn("\"unclean close; recovery will check the tail\" dir=%s", p->dir);
    pthread_mutex_unlock(&p->lock);
    free_part(p);
}

mq_err_t part_destroy(part_t *p)
{
    if (!p)
        return MQ_ERR_INVALID_ARG;
    wait_syncs(p);
    for (size_t i = 0; i < p->nseg; i++)
        seg_unlink(p->segs[i]);
    /* Anything else (a marker, stray files) goes too. */
    DIR *d = fdopendir(dup(p->dirfd));
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                unlinkat(dirfd(d), de->d_name, 0);
        }
        closedir(d);
    }
    int rc = rmdir(p->dir);
    if (rc != 0)
        log_error("\"cannot remove partition dir\" dir=%s errno=%d", p->dir, errno);
    free_part(p);
    return rc == 0 ? MQ_OK : MQ_ERR_STORAGE;
}

void part_set_config(part_t *p, const log_config_t *cfg)
{
    pthread_mutex_lock(&p->lock);
    p->cfg = *cfg;
    pthread_mutex_unlock(&p->lock);
}

/* ---- Roll and sync ------------------------------------------------------ */

/* fsync of the directory if files were created since the last one. */
static mq_err_t sync_dir(part_t *p)
{
    pthread_mutex_lock(&p->lock);
    uint64_t gen = p->dir_gen;
    int due = gen > p->dir_synced_gen;
    pthread_mutex_unlock(&p->lock);
    if (!due)
        return MQ_OK;
    if (fsync(p->dirfd) != 0) {
        log_error("\"directory fsync failed\" dir=%s errno=%d", p->dir, errno);
        return MQ_ERR_STORAGE;
    }
    pthread_mutex_lock(&p->lock);
    if (gen > p->dir_synced_gen)
        p->dir_synced_gen = gen;
    pthread_mutex_unlock(&p->lock);
    return MQ_OK;
}

/* Work an append leaves for a thread of its own, off the lock: after a
 * roll, the rolled segment to fsync; after a roll or every
 * PSNAP_INTERVAL_BYTES, the producer state as of snap_offset to snapshot
 * (once the rolled segment is durable). p is NULL when there is nothing. */
typedef struct roll {
    part_t *p;
    segment_t *old; /* NULL: a snapshot only */
    uint8_t *snap;  /* producers_encode output; NULL if it failed */
    size_t snap_len;
    int64_t snap_offset;
} roll_t;

/* Encodes the producer state as of the log end into r (lock held). */
static void snapshot_job_locked(part_t *p, roll_t *r)
{
    r->p = p;
    p->snap_bytes = 0;
    /* A roll right after a periodic snapshot: that one covers it (and two
     * threads must not write the same file). */
    if (p->last_snap_offset == p->end_offset)
        return;
    p->last_snap_offset = p->end_offset;
    r->snap_offset = p->end_offset;
    if (producers_encode(p->producers, &r->snap, &r->snap_len) != MQ_OK)
        log_error("\"out of memory for producer snapshot\" dir=%s", p->dir);
}

/* Starts a new active segment at the log end. The old one keeps
 * needs_sync until start_sync (or a flush) has fsync'd it; r->old gets a
 * reference to it for that. Called with the lock held. */
static mq_err_t roll_locked(part_t *p, roll_t *r)
{
    segment_t *s = active(p);
    seg_seal_index(s); /* a failure leaves entries pending; the sync retries */
    if (p->nseg == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        segment_t **n = realloc(p->segs, cap * sizeof(*n));
        if (!n)
            return MQ_ERR_STORAGE;
        p->segs = n;
        p->cap = cap;
    }
    segment_t *ns;
    mq_err_t err = seg_create(p->dir, p->end_offset, &ns);
    if (err != MQ_OK) {
        log_error("\"cannot roll segment\" dir=%s base=%" PRId64, p->dir, p->end_offset);
        return MQ_ERR_STORAGE;
    }
    p->segs[p->nseg++] = ns;
    p->dir_gen++;
    s->needs_sync = 1;
    seg_ref(s);
    *r = (roll_t){.old = s};
    snapshot_job_locked(p, r);
    log_info("\"segment rolled\" dir=%s base=%" PRId64 " previous_size=%" PRIu64, p->dir, ns->base,
             s->size);
    return MQ_OK;
}

/* Makes a rolled segment and the new file's directory entry durable, then
 * writes the producer snapshot. (A snapshot whose batches a power loss
 * took is past the log end at the next start, and ignored.) */
static void sync_rolled(const roll_t *r)
{
    part_t *p = r->p;
    mq_err_t err = MQ_OK;
    if (r->old) {
        err = seg_sync(r->old, 1);
        if (sync_dir(p) != MQ_OK)
            err = MQ_ERR_STORAGE;
    }
    if (err == MQ_OK && r->snap)
        psnap_write(p->dir, p->dirfd, r->snap_offset, r->snap, r->snap_len);
    free(r->snap);
    pthread_mutex_lock(&p->lock);
    if (err == MQ_OK && r->old)
        r->old->needs_sync = 0;
    p->syncing--;
    pthread_cond_broadcast(&p->synced);
    pthread_mutex_unlock(&p->lock);
    if (r->old)
        seg_unref(r->old);
}

static void *sync_main(void *arg)
{
    roll_t r = *(roll_t *)arg;
    free(arg);
    pthread_setname_np(pthread_self(), "mq-roll-sync");
    sync_rolled(&r);
    return NULL;
}

/* fsyncs a rolled segment (and writes a snapshot) on a thread of its own:
 * with a 1 GiB segment that takes about a second, which must not stall the
 * appending I/O loop.
 * Until it is done the segment keeps needs_sync, so part_flush syncs it
 * too. Runs it here if no thread can be started. */
static void start_sync(part_t *p, const roll_t *roll)
{
    pthread_mutex_lock(&p->lock);
    p->syncing++;
    pthread_mutex_unlock(&p->lock);
    roll_t *r = malloc(sizeof(*r));
    pthread_attr_t attr;
    pthread_t tid;
    int started = 0;
    if (r && pthread_attr_init(&attr) == 0) {
        *r = *roll;
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        started = pthread_create(&tid, &attr, sync_main, r) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!started) {
        free(r);
        sync_rolled(roll);
    }
}

static int due_by_time(const part_t *p, const segment_t *s, int64_t now_ms)
{
    return s->size > 0 && p->cfg.segment_ms > 0 && s->created_ms >= 0 &&
           now_ms - s->created_ms >= p->cfg.segment_ms;
}

static int needs_roll(const part_t *p, const segment_t *s, const seg_batch_t *b, int64_t now_ms)
{
    if (s->size == 0)
        return 0;
    uint64_t after = s->size + b->size;
    return after > (uint64_t)p->cfg.segment_bytes || after > UINT32_MAX ||
           p->end_offset + b->lod - s->base > (int64_t)UINT32_MAX || due_by_time(p, s, now_ms);
}

/* ---- Append ------------------------------------------------------------- */

static uint32_t index_interval(const log_config_t *cfg)
{
    return cfg->index_interval_bytes > 0 ? (uint32_t)cfg->index_interval_bytes : 0;
}

mq_err_t part_append(part_t *p, uint8_t *batch, size_t len, int64_t now_ms, int64_t *base_offset,
                     int64_t *log_append_time)
{
    return part_append_idem(p, batch, len, now_ms, base_offset, log_append_time, NULL);
}

/* A retry of a stored batch: answered from the producer state. Returns
 * MQ_OK with the original offsets, or the check's error. Lock held. */
static mq_err_t check_producer(part_t *p, const mq_batch_header_t *h, int *dup_out,
                               int64_t *base_offset, int64_t *log_append_time)
{
    producer_batch_ref_t ref;
    producer_check_t c = producers_check(p->producers, h->producer_id, h->producer_epoch,
                                         h->base_sequence, h->record_count, &ref);
    if (c != PRODUCER_CHECK_DUPLICATE)
        return producer_check_error(c);
    *dup_out = 1;
    if (base_offset)
        *base_offset = ref.base_offset;
    if (log_append_time)
        *log_append_time = p->cfg.message_timestamp_log_append ? ref.append_time_ms : -1;
    return MQ_OK;
}

mq_err_t part_append_idem(part_t *p, uint8_t *batch, size_t len, int64_t now_ms,
                          int64_t *base_offset, int64_t *log_append_time, int *duplicate)
{
    if (duplicate)
        *duplicate = 0;
    if (!p || !batch)
        return MQ_ERR_INVALID_ARG;
    mq_batch_header_t h;
    mq_err_t err = mq__batch_parse_header(batch, len, &h);
    if (err != MQ_OK || mq__batch_size(&h) != len)
        return MQ_ERR_INVALID_BATCH;
    seg_batch_t b = {.lod = h.last_offset_delta, .max_ts = h.max_timestamp, .size = (uint32_t)len};
    roll_t roll = {0};

    pthread_mutex_lock(&p->lock);
    if (p->cfg.max_message_bytes > 0 && len > (size_t)p->cfg.max_message_bytes) {
        pthread_mutex_unlock(&p->lock);
        return MQ_ERR_MESSAGE_TOO_LARGE;
    }
    if (h.producer_id >= 0) {
        int dup = 0;
        err = check_producer(p, &h, &dup, base_offset, log_append_time);
        if (err != MQ_OK || dup) {
            pthread_mutex_unlock(&p->lock);
            if (duplicate)
                *duplicate = dup;
            return err;
        }
    }
    int log_append = p->cfg.message_timestamp_log_append;
    if (needs_roll(p, active(p), &b, now_ms))
        err = roll_locked(p, &roll);
    segment_t *s = active(p);
    if (err == MQ_OK) {
        b.base = p->end_offset;
        mq__batch_set_base_offset(batch, b.base);
        if (log_append) {
            mq__batch_set_log_append_time(batch, len, now_ms);
            b.max_ts = now_ms;
        }
        if (s->size == 0)
            s->created_ms = now_ms;
        err = seg_append(s, batch, &b, index_interval(&p->cfg));
    }
    if (err == MQ_OK) {
        p->end_offset = s->next_offset;
        p->total_bytes += len;
        /* Appended either way; without the record a retry of it would be
         * stored again, so say so. */
        if (producers_record(p->producers, h.producer_id, h.producer_epoch, h.base_sequence,
                             h.record_count, b.base, now_ms) != MQ_OK)
            log_error("\"out of memory recording producer state\" dir=%s pid=%" PRId64, p->dir,
                      h.producer_id);
        /* Bounds what a restart after a crash replays. */
        p->snap_bytes += len;
        if (!roll.p && p->snap_bytes >= PSNAP_INTERVAL_BYTES)
            snapshot_job_locked(p, &roll);
    }
    pthread_mutex_unlock(&p->lock);

    if (roll.p)
        start_sync(p, &roll);
    if (err != MQ_OK)
        return err;
    if (base_offset)
        *base_offset = b.base;
    if (log_append_time)
        *log_append_time = log_append ? now_ms : -1;
    return MQ_OK;
}

/* ---- Flush -------------------------------------------------------------- */

mq_err_t part_flush(part_t *p)
{
    if (!p)
        return MQ_ERR_INVALID_ARG;
    pthread_mutex_lock(&p->lock);
    int64_t target = p->end_offset;
    size_t count = 0;
    struct {
        segment_t *s;
        int rolled; /* its index is final: sync that too */
        int clear;  /* needs_sync to clear on success */
    } *list = malloc(p->nseg * sizeof(*list));
    if (!list) {
        pthread_mutex_unlock(&p->lock);
        return MQ_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < p->nseg; i++) {
        segment_t *s = p->segs[i];
        int is_active = i + 1 == p->nseg;
        if (s->needs_sync || is_active) {
            seg_ref(s);
            list[count].s = s;
            list[count].rolled = s->needs_sync && !is_active;
            list[count++].clear = s->needs_sync;
        }
    }
    pthread_mutex_unlock(&p->lock);

    mq_err_t err = MQ_OK;
    for (size_t i = 0; i < count; i++) {
        if (seg_sync(list[i].s, list[i].rolled) != MQ_OK) {
            err = MQ_ERR_STORAGE;
            continue;
        }
        if (list[i].clear) {
            pthread_mutex_lock(&p->lock);
            list[i].s->needs_sync = 0;
            pthread_mutex_unlock(&p->lock);
        }
    }
    if (sync_dir(p) != MQ_OK)
        err = MQ_ERR_STORAGE;
    for (size_t i = 0; i < count; i++)
        seg_unref(list[i].s);
    free(list);
    if (err != MQ_OK)
        return err;
    pthread_mutex_lock(&p->lock);
    if (target > p->flushed_offset)
        p->flushed_offset = target;
    pthread_mutex_unlock(&p->lock);
    return MQ_OK;
}

int part_needs_flush(part_t *p)
{
    pthread_mutex_lock(&p->lock);
    int due = p->end_offset > p->flushed_offset || p->dir_gen > p->dir_synced_gen;
    for (size_t i = 0; !due && i < p->nseg; i++)
        due = p->segs[i]->needs_sync;
    pthread_mutex_unlock(&p->lock);
    return due;
}

/* ---- Read --------------------------------------------------------------- */

/* Where to start looking for offset in s: the index entry, or where the
 * last read stopped if that is further on. Lock held. */
static uint64_t start_pos(const part_t *p, const segment_t *s, int64_t offset)
{
    uint64_t pos = seg_index_pos(s, offset);
    if (p->cache.valid && p->cache.seg_base == s->base && p->cache.offset <= offset &&
        p->cache.pos > pos && p->cache.pos <= s->size)
        pos = p->cache.pos;
    return pos;
}

mq_err_t part_read(part_t *p, int64_t offset, size_t max_bytes, bytebuf_t *out)
{
    if (!p || !out)
        return MQ_ERR_INVALID_ARG;
    pthread_mutex_lock(&p->lock);
    if (offset < p->segs[0]->base || offset > p->end_offset) {
        pthread_mutex_unlock(&p->lock);
        return MQ_ERR_OFFSET_OUT_OF_RANGE;
    }
    size_t i = find_seg(p, offset);
    for (;;) {
        if (offset >= p->end_offset || i >= p->nseg) {
            pthread_mutex_unlock(&p->lock);
            return MQ_OK;
        }
        segment_t *s = p->segs[i];
        uint64_t pos = start_pos(p, s, offset), limit = s->size;
        seg_ref(s);
        pthread_mutex_unlock(&p->lock);

        int found;
        mq_err_t err = seg_locate(s, offset, pos, limit, &pos, &found);
        if (err == MQ_OK && found) {
            int64_t next_offset;
            uint64_t next_pos;
            err = seg_read(s, pos, limit, max_bytes, out, &next_offset, &next_pos);
            if (err == MQ_OK) {
                pthread_mutex_lock(&p->lock);
                p->cache.valid = 1;
                p->cache.seg_base = s->base;
                p->cache.offset = next_offset;
                p->cache.pos = next_pos;
                pthread_mutex_unlock(&p->lock);
            }
        }
        int64_t base = s->base;
        seg_unref(s);
        if (err != MQ_OK || found)
            return err;
        /* Nothing at or after offset in this segment: its successor's
         * first batch is the next one. */
        pthread_mutex_lock(&p->lock);
        if (offset < p->segs[0]->base) { /* retention deleted it meanwhile */
            pthread_mutex_unlock(&p->lock);
            return MQ_ERR_OFFSET_OUT_OF_RANGE;
        }
        i = find_seg(p, base) + 1;
    }
}

int64_t part_offset_for_time(part_t *p, int64_t ts)
{
    if (!p)
        return -1;
    pthread_mutex_lock(&p->lock);
    int64_t after = INT64_MIN; /* base of the last segment searched */
    for (;;) {
        size_t i = after == INT64_MIN ? 0 : find_seg(p, after) + 1;
        if (after != INT64_MIN && p->segs[i - 1]->base != after)
            i = find_seg(p, after); /* it was deleted: its successor is first */
        while (i < p->nseg && p->segs[i]->max_ts < ts)
            i++;
        if (i >= p->nseg) {
            pthread_mutex_unlock(&p->lock);
            return -1;
        }
        segment_t *s = p->segs[i];
        int64_t rel = tindex_lookup(&s->idx, ts);
        uint64_t start = rel < 0 ? 0 : index_lookup(&s->idx, (uint32_t)rel);
        uint64_t limit = s->size;
        seg_ref(s);
        pthread_mutex_unlock(&p->lock);

        int64_t found;
        mq_err_t err = seg_find_time(s, ts, start, limit, &found);
        after = s->base;
        seg_unref(s);
        if (err != MQ_OK)
            return -1;
        if (found >= 0)
            return found;
        pthread_mutex_lock(&p->lock);
    }
}

void part_get_stats(part_t *p, part_stats_t *st)
{
    pthread_mutex_lock(&p->lock);
    st->log_start_offset = p->segs[0]->base;
    st->log_end_offset = p->end_offset;
    st->flushed_offset = p->flushed_offset;
    st->size_bytes = (int64_t)p->total_bytes;
    st->segment_count = (int32_t)p->nseg;
    pthread_mutex_unlock(&p->lock);
}

/* ---- Housekeeping ------------------------------------------------------- */

int part_housekeep(part_t *p, int64_t now_ms)
{
    if (!p)
        return 0;
    roll_t roll = {0};
    pthread_mutex_lock(&p->lock);
    if (due_by_time(p, active(p), now_ms))
        roll_locked(p, &roll); /* a failure is logged; the next tick tries again */
    size_t k = retention_count(p->segs, p->nseg, &p->cfg, now_ms, p->total_bytes);
    segment_t **gone = k ? malloc(k * sizeof(*gone)) : NULL;
    if (!gone)
        k = 0;
    for (size_t i = 0; i < k; i++) {
        gone[i] = p->segs[i];
        p->total_bytes -= gone[i]->size;
    }
    memmove(p->segs, p->segs + k, (p->nseg - k) * sizeof(*p->segs));
    p->nseg -= k;
    int64_t start = p->segs[0]->base;
    producers_expire(p->producers, now_ms - PRODUCERS_EXPIRY_MS);
    pthread_mutex_unlock(&p->lock);

    if (roll.p)
        start_sync(p, &roll);
    for (size_t i = 0; i < k; i++) {
        log_info("\"retention deleted segment\" segment=%s.log size=%" PRIu64 " max_ts=%" PRId64,
                 gone[i]->path, gone[i]->size, gone[i]->max_ts);
        seg_unlink(gone[i]);
        seg_unref(gone[i]);
    }
    if (k)
        log_info("\"log start advanced\" dir=%s log_start_offset=%" PRId64, p->dir, start);
    free(gone);
    return (int)k;
}
