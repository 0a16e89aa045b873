/* One segment of a partition's log: `<base offset, 20 digits>.log` holding
 * record batches verbatim, plus its indexes (index.h). Segments are
 * reference-counted so that readers keep a segment's file open while it is
 * rolled or deleted by retention. Fields other than refs are guarded by the
 * partition's lock; the bytes below `size` never change once written, so
 * readers pread them without the lock. */
#ifndef BROKER_LOG_SEGMENT_H
#define BROKER_LOG_SEGMENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "index.h"
#include "partition.h"

/* The fields of a batch header a segment needs (see docs/protocol.md). */
typedef struct seg_batch {
    int64_t base;   /* base offset */
    int32_t lod;    /* last offset delta */
    int64_t max_ts; /* max timestamp */
    uint32_t size;  /* whole batch, log overhead included */
} seg_batch_t;

typedef struct segment {
    int64_t base;         /* offset of its first batch; its file name */
    int fd;               /* the .log */
    uint64_t size;        /* bytes of whole batches */
    int64_t next_offset;  /* offset after its last batch */
    int64_t max_ts;       /* largest batch timestamp, -1 if none */
    int64_t created_ms;   /* time of the first batch, for segment.ms */
    uint64_t since_index; /* bytes since the last offset index entry */
    int needs_sync;       /* rolled (or recovered) but not yet fsync'd */
    seg_index_t idx;
    pthread_mutex_t sync_lock; /* one index writer outside the partition lock */
    atomic_int refs;
    char path[]; /* "<dir>/<base>" without extension */
} segment_t;

/* Bytes of a batch header the segment peeks at. */
#define SEG_PEEK_SIZE 61

/* Creates a new empty segment (files must not exist). Returns MQ_OK,
 * MQ_ERR_STORAGE or MQ_ERR_NO_MEMORY. */
mq_err_t seg_create(const char *dir, int64_t base, segment_t **out);
/* Opens an existing `.log` and its index files (created when missing;
 * *index_existed says which). size is the file size; nothing is loaded or
 * verified (recovery.c does that). */
mq_err_t seg_open(const char *dir, int64_t base, segment_t **out, int *index_existed);

void seg_ref(segment_t *s);
/* Drops a reference; the last one closes the files and frees. */
void seg_unref(segment_t *s);
/* Removes the segment's files (they stay readable while referenced). */
void seg_unlink(segment_t *s);

/* Parses the first SEG_PEEK_SIZE bytes of a batch. Returns MQ_OK or
 * MQ_ERR_INVALID_BATCH (bad magic or lengths). */
mq_err_t seg_parse_peek(const uint8_t *p, seg_batch_t *b);
/* Reads and parses the header of the batch at pos; the batch must end by
 * limit. Returns MQ_OK, MQ_ERR_INVALID_BATCH, MQ_ERR_STORAGE. */
mq_err_t seg_peek(const segment_t *s, uint64_t pos, uint64_t limit, seg_batch_t *b);

/* Books a batch written at the segment's end: size, next offset, max
 * timestamp and sparse index entries (every `interval` bytes). */
void seg_account(segment_t *s, const seg_batch_t *b, uint32_t interval);
/* Writes a batch at the end and books it; a failed write is cut back so the
 * file is as before. Returns MQ_OK or MQ_ERR_STORAGE. */
mq_err_t seg_append(segment_t *s, const uint8_t *buf, const seg_batch_t *b, uint32_t interval);
/* Adds a last time entry for the segment's max timestamp and writes every
 * pending index entry (on roll and close). */
mq_err_t seg_seal_index(segment_t *s);
/* fdatasync of the log; with_index also writes pending index entries and
 * fsyncs the index files (only for a segment no longer appended to, since
 * it runs without the partition's lock). */
mq_err_t seg_sync(segment_t *s, int with_index);

/* Where a lookup for `offset` starts scanning: an index entry's position. */
uint64_t seg_index_pos(const segment_t *s, int64_t offset);
/* Scans batch headers from start (< limit) to the first batch whose last
 * offset >= offset. *found is 0 if the scan reached limit. */
mq_err_t seg_locate(const segment_t *s, int64_t offset, uint64_t start, uint64_t limit,
                    uint64_t *pos, int *found);
/* Scans from start for the first batch with max timestamp >= ts; *offset
 * gets its base offset or -1 when none before limit. */
mq_err_t seg_find_time(const segment_t *s, int64_t ts, uint64_t start, uint64_t limit,
                       int64_t *offset);
/* Appends to out whole batches from pos (a batch start) up to max_bytes,
 * at least one, never past limit. *next_offset and *next_pos describe the
 * batch after the last one read. Returns MQ_OK, MQ_ERR_STORAGE,
 * MQ_ERR_NO_MEMORY. */
mq_err_t seg_read(const segment_t *s, uint64_t pos, uint64_t limit, size_t max_bytes,
                  bytebuf_t *out, int64_t *next_offset, uint64_t *next_pos);

/* The offset in a file name "<20 digits><ext>" (how segments and their
 * side files are named), or -1 if name is not of that form. */
int64_t seg_parse_name(const char *name, const char *ext);

/* Writes all len bytes at off through part_io_pwrite. Returns MQ_OK or
 * MQ_ERR_STORAGE with errno saying why. */
mq_err_t seg_pwrite(int fd, const void *buf, size_t len, uint64_t off);

/* Reads exactly len bytes at off. Returns MQ_OK or MQ_ERR_STORAGE (also at
 * end of file). */
mq_err_t seg_pread(int fd, void *buf, size_t len, uint64_t off);

#endif
