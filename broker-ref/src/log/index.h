/* A segment's sparse indexes, kept in memory and appended to their files in
 * chunks:
 *   .index      entries of (relative offset u32, file position u32), one per
 *               index.interval.bytes of log, big-endian, 8 bytes each;
 *   .timeindex  entries of (max timestamp so far i64, relative offset u32),
 *               added beside an offset entry when the maximum has grown,
 *               big-endian, 12 bytes each.
 * Invariant used by recovery: at every offset entry E, the largest
 * timestamp of the batches up to and including E's batch equals the
 * timestamp of the last time entry whose offset is <= E's. Not thread-safe:
 * the partition's lock guards it. */
#ifndef BROKER_LOG_INDEX_H
#define BROKER_LOG_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "mqclient.h"

#define INDEX_ENTRY_SIZE 8
#define TIMEINDEX_ENTRY_SIZE 12

typedef struct idx_entry {
    uint32_t rel; /* offset - segment base */
    uint32_t pos; /* byte position of the batch in the .log */
} idx_entry_t;

typedef struct tidx_entry {
    int64_t ts;   /* largest timestamp up to this batch */
    uint32_t rel; /* batch at which it was reached */
} tidx_entry_t;

typedef struct seg_index {
    int fd;  /* .index */
    int tfd; /* .timeindex */
    idx_entry_t *e;
    size_t n, cap, written; /* written: entries already in the file */
    tidx_entry_t *t;
    size_t tn, tcap, twritten;
    int write_failing; /* logs a failing index write once, not per append */
} seg_index_t;

void index_init(seg_index_t *x);
/* Opens (creating when missing) `<base_path>.index` and `.timeindex`.
 * *existed gets 1 if both files were already there. Returns MQ_OK or
 * MQ_ERR_STORAGE. */
mq_err_t index_open(seg_index_t *x, const char *base_path, int *existed);
/* Closes the files and frees the entries. */
void index_close(seg_index_t *x);

/* Reads the files into memory, keeping the longest prefix that is
 * consistent (whole entries, strictly increasing offsets and positions,
 * non-decreasing timestamps, positions inside a log of log_size bytes, the
 * first offset entry at 0/0). *intact gets 1 when nothing was dropped and a
 * non-empty log has at least one entry. Returns MQ_OK or MQ_ERR_STORAGE. */
mq_err_t index_load(seg_index_t *x, uint64_t log_size, int *intact);

/* Drops every entry (memory and files); used before a rebuild. */
mq_err_t index_reset(seg_index_t *x);
/* Keeps the first n offset entries and the time entries whose offset is
 * <= max_rel, then cuts the files to what memory holds. */
mq_err_t index_truncate(seg_index_t *x, size_t n, uint32_t max_rel);

/* Adds entries in memory; a failed allocation is ignored (the index is
 * sparse: a missing entry only makes a lookup scan further). */
void index_add(seg_index_t *x, uint32_t rel, uint32_t pos);
void tindex_add(seg_index_t *x, int64_t ts, uint32_t rel);

/* Largest indexed timestamp, or -1 without time entries. */
int64_t tindex_last_ts(const seg_index_t *x);

/* Position of the last offset entry whose offset <= rel (0 if none). */
uint32_t index_lookup(const seg_index_t *x, uint32_t rel);
/* Offset of the last time entry whose timestamp < ts, or -1 if none: every
 * batch up to that offset has timestamps below ts. */
int64_t tindex_lookup(const seg_index_t *x, int64_t ts);

/* Appends entries not yet in the files: always when force, else once a
 * chunk has gathered. The time index is written first so that an offset
 * entry on disk always has its time entries on disk (see the invariant).
 * Returns MQ_OK or MQ_ERR_STORAGE (entries stay pending for a retry). */
mq_err_t index_write(seg_index_t *x, int force);
/* fsync of both files. Returns MQ_OK or MQ_ERR_STORAGE. */
mq_err_t index_sync(seg_index_t *x);

#endif
