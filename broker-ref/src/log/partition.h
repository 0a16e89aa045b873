/* One partition's log: a directory of segments, each `<base>.log` with a
 * sparse `.index` and `.timeindex`. Thread-safe: appends from any I/O loop,
 * reads concurrently, flushes from the fsync thread, retention from the
 * housekeeping timer. */
#ifndef BROKER_LOG_PARTITION_H
#define BROKER_LOG_PARTITION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mqclient.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct part part_t;

typedef struct log_config {
    int64_t segment_bytes;            /* roll when the active segment would exceed this */
    int64_t segment_ms;               /* roll when the active segment is older than this */
    int64_t retention_ms;             /* -1 = keep forever */
    int64_t retention_bytes;          /* -1 = no size limit */
    int32_t index_interval_bytes;     /* bytes between sparse index entries */
    int32_t max_message_bytes;        /* largest batch accepted */
    int message_timestamp_log_append; /* 1 = broker time replaces create time */
} log_config_t;

/* A growable byte buffer, used to return read data. */
typedef struct bytebuf {
    uint8_t *data;
    size_t len;
    size_t cap;
} bytebuf_t;

int bytebuf_reserve(bytebuf_t *b, size_t extra);
void bytebuf_free(bytebuf_t *b);

typedef struct part_stats {
    int64_t log_start_offset;
    int64_t log_end_offset; /* next offset to assign */
    int64_t flushed_offset; /* offsets below this are fsync'd */
    int64_t size_bytes;     /* all segments */
    int32_t segment_count;
} part_stats_t;

/* Opens (creating if needed) dir `<data>/<topic>/<partition>` (its parent
 * must exist) and recovers it: verifies the active segment's tail, truncates
 * a torn tail, rebuilds a missing or damaged index. Without the clean-shutdown
 * marker part_close leaves, the recovered tail counts as unflushed
 * (part_needs_flush is true until a part_flush). Idempotent producers'
 * state is rebuilt from the batch headers of the log's tail (recovery.h). Returns MQ_OK,
 * MQ_ERR_INVALID_ARG, MQ_ERR_NO_MEMORY, MQ_ERR_STORAGE (errno logged). */
mq_err_t part_open(const char *dir, const log_config_t *cfg, part_t **out);
/* Flushes, marks a clean shutdown (`.clean_shutdown` in dir), closes files,
 * frees. No other call may run on p at the same time or after. */
void part_close(part_t *p);
/* Closes and removes the partition's directory (topic deletion) and frees
 * p. Returns MQ_OK, MQ_ERR_INVALID_ARG, MQ_ERR_STORAGE (not removed). */
mq_err_t part_destroy(part_t *p);

void part_set_config(part_t *p, const log_config_t *cfg);

/* Appends one validated batch: rewrites its base offset (and its timestamp
 * when the topic keeps log-append time), writes it to the active segment
 * (rolling first if needed: a background thread then fsyncs the old
 * segment, its indexes and the directory), adds index entries. *base_offset gets the
 * offset of its first record; *log_append_time now_ms or -1 (either pointer
 * may be NULL). No fsync. Returns MQ_OK, MQ_ERR_INVALID_ARG,
 * MQ_ERR_INVALID_BATCH (len is not exactly one batch), MQ_ERR_MESSAGE_TOO_LARGE,
 * MQ_ERR_STORAGE (e.g. ENOSPC; the log is left as before the call), and the
 * idempotence errors of part_append_idem. */
mq_err_t part_append(part_t *p, uint8_t *batch, size_t len, int64_t now_ms, int64_t *base_offset,
                     int64_t *log_append_time);
/* part_append with the idempotent-producer check (it runs under the same
 * lock as the append, so a retry cannot race its original). A batch with
 * producer id >= 0 must continue its producer's sequence on this
 * partition; a copy of one of the producer's last 5 batches here is not
 * written again: *duplicate (may be NULL) is set to 1 and *base_offset and
 * *log_append_time are the original's. part_append does the same check.
 * Errors as part_append plus MQ_ERR_OUT_OF_ORDER_SEQUENCE (a gap),
 * MQ_ERR_PRODUCER_FENCED (an older epoch than the last one seen here) and
 * MQ_ERR_UNKNOWN_PRODUCER (no state and base sequence not 0). */
mq_err_t part_append_idem(part_t *p, uint8_t *batch, size_t len, int64_t now_ms,
                          int64_t *base_offset, int64_t *log_append_time, int *duplicate);

/* fdatasync of everything written so far; one call serves every waiting
 * batch. On return part_stats().flushed_offset covers all prior appends.
 * Returns MQ_OK, MQ_ERR_INVALID_ARG, MQ_ERR_NO_MEMORY, MQ_ERR_STORAGE
 * (flushed_offset unchanged). */
mq_err_t part_flush(part_t *p);
/* True if appends exist that part_flush has not covered. */
int part_needs_flush(part_t *p);

/* Appends to out whole batches starting with the one holding `offset`, up to
 * max_bytes (but always at least one batch if any exist at offset), from
 * one segment. Safe against concurrent appends, rolls and retention.
 * Returns MQ_OK (possibly with nothing appended at the log end) or
 * MQ_ERR_OFFSET_OUT_OF_RANGE if offset < start or > end, MQ_ERR_INVALID_ARG,
 * MQ_ERR_NO_MEMORY, MQ_ERR_STORAGE. */
mq_err_t part_read(part_t *p, int64_t offset, size_t max_bytes, bytebuf_t *out);

/* Base offset of the first batch whose max timestamp >= ts, or -1 if none
 * (or on a read error, which is logged). */
int64_t part_offset_for_time(part_t *p, int64_t ts);

void part_get_stats(part_t *p, part_stats_t *st);

/* Housekeeping (called periodically off the hot path): time-based roll and
 * retention by time and bytes, deleting whole non-active segments. Returns
 * how many segments were deleted. */
int part_housekeep(part_t *p, int64_t now_ms);

/* I/O calls of the log, for fault-injection tests (they swap them for a
 * failing version and restore them). Default: pwrite(2), fdatasync(2). */
extern ssize_t (*part_io_pwrite)(int fd, const void *buf, size_t n, off_t off);
extern int (*part_io_fdatasync)(int fd);

#ifdef __cplusplus
}
#endif

#endif
