/* Snapshots of a partition's idempotent-producer state, so a restart
 * knows every producer's last batches without reading the whole log.
 *
 * One file per snapshot, "<offset, 20 digits>.producers", holding the
 * state after every batch below that offset. The partition writes one at
 * each segment roll (for the new segment's base), every
 * PSNAP_INTERVAL_BYTES appended, and at a clean close;
 * recovery loads the newest one at or below the log end and replays only
 * the batches from its offset on. */
#ifndef BROKER_LOG_PRODUCER_SNAPSHOT_H
#define BROKER_LOG_PRODUCER_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "mqclient.h"
#include "producers.h"

#define PSNAP_EXT ".producers"
/* A snapshot also follows this much appended since the last one, so a
 * restart after a crash replays at most about that much of a partition. */
#define PSNAP_INTERVAL_BYTES (64u << 20)

/* Writes body (producers_encode's output) as the snapshot for offset in
 * dir (dirfd open on it): a temporary file, fsync'd, renamed into place,
 * and the directory fsync'd. Then removes older snapshots but the newest
 * one before it (a fallback if this one is ever damaged). Returns MQ_OK
 * or MQ_ERR_STORAGE (logged, naming the file; the old snapshots stay). */
mq_err_t psnap_write(const char *dir, int dirfd, int64_t offset, const uint8_t *body, size_t len);

/* Loads the newest intact snapshot at or below max_offset into a new
 * *out, with its offset in *offset; *out NULL and *offset -1 if there is
 * none. Snapshots past max_offset (a log cut back by recovery) and
 * temporary files left by a crash are removed; a damaged snapshot is
 * logged and skipped for an older one. Returns MQ_OK or MQ_ERR_NO_MEMORY. */
mq_err_t psnap_load(const char *dir, int dirfd, int64_t max_offset, partition_producers_t **out,
                    int64_t *offset);

#endif
