/* Which old segments retention deletes (by time and by bytes). */
#ifndef BROKER_LOG_RETENTION_H
#define BROKER_LOG_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "partition.h"
#include "segment.h"

/* How many of the oldest segments (segs[0..n), oldest first) are due for
 * deletion: first those whose newest timestamp is more than retention_ms
 * before now_ms (a segment without timestamps uses its file's mtime), then
 * more while the partition's total_bytes exceed retention_bytes. Stops at
 * the first segment that is not due and never counts the last (active)
 * one. -1 disables either limit. */
size_t retention_count(segment_t *const *segs, size_t n, const log_config_t *cfg, int64_t now_ms,
                       uint64_t total_bytes);

#endif
