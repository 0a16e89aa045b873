/* Loading a partition directory on open: the segments, their indexes, and
 * the active segment's tail after an unclean shutdown. */
#ifndef BROKER_LOG_RECOVERY_H
#define BROKER_LOG_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "partition.h"
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

/* Records a clean shutdown of the active segment (its base and size). */
mq_err_t recovery_mark_clean(const char *dir, int dirfd, const segment_t *active);

#endif
