/* Loading a partition directory on open: the segments, their indexes, and
 * the active segment's tail after an unclean shutdown. */
#ifndef BROKER_LOG_RECOVERY_H
#define BROKER_LOG_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "partition.h"
#include "producers.h"
#include "segment.h"

/* Written by part_close, removed by part_open. */
#define RECOVERY_MARKER ".clean_shutdown"

/* Loads every segment of dir, oldest first, creating segment 0 in an empty
 * directory. Older segments get a missing or damaged index rebuilt. The
 * last (active) one: with a clean-shutdown marker its index is trusted,
 * otherwise the tail from the last good index entry is verified (header and
 * CRC of each batch) and a torn or corrupt tail is cut off; a missing or
 * damaged index is rebuilt from the whole segment. Consumes the marker.
 * *segs is malloc'd. Returns MQ_OK, MQ_ERR_STORAGE, MQ_ERR_NO_MEMORY. */
mq_err_t recovery_load(const char *dir, int dirfd, const log_config_t *cfg, int64_t now_ms,
                       segment_t ***segs, size_t *n);

/* How much of a log's tail recovery_load_producers reads when there is no
 * producer snapshot (a data directory from before snapshots): enough for
 * every retry a producer can still send (it keeps at most max.in.flight
 * batches per partition unanswered), without reading whole logs on start. */
#define RECOVERY_PRODUCER_SCAN_BYTES (16u << 20)

/* Rebuilds idempotent-producer state (producers_record, oldest first) from
 * batch headers (segs as recovery_load returned them). With from_offset
 * >= 0 (a snapshot's offset, its state already in pp) it replays every
 * batch from that offset on; with -1, the batches in the last max_bytes of
 * the log and in the whole active segment, starting at a batch boundary
 * the sparse index gives: a producer whose last batch is older gets no
 * state, so its next batch is answered UNKNOWN_PRODUCER and it bumps its
 * epoch. Returns MQ_OK, MQ_ERR_NO_MEMORY, MQ_ERR_STORAGE. */
mq_err_t recovery_load_producers(segment_t *const *segs, size_t n, int64_t from_offset,
                                 uint64_t max_bytes, partition_producers_t *pp);

/* Records a clean shutdown of the active segment (its base and size). */
mq_err_t recovery_mark_clean(const char *dir, int dirfd, const segment_t *active);

#endif
