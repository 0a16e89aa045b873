/* Idempotent-producer state: producer id allocation (InitProducerId) and,
 * per partition, the last PRODUCERS_BATCHES batches of each producer so a
 * retried batch is recognised and answered with its original offsets, a
 * gap is rejected, and an old epoch is fenced. Pure in-memory logic: the
 * caller persists the next id (meta.db), rebuilds partition state from
 * batch headers on recovery (producers_record for each batch), and
 * serialises calls on one partition_producers_t (the partition's lock). */
#ifndef BROKER_PRODUCERS_H
#define BROKER_PRODUCERS_H

#include <pthread.h>
#include <stdint.h>

#include "mqclient.h"

#define PRODUCERS_BATCHES 5
#define PRODUCERS_EPOCH_MAX 32767
/* producer_ids_init's answer when the reserved ids ran out (internal: it
 * never goes on the wire). */
#define PRODUCER_IDS_EXHAUSTED MQ_ERR_QUEUE_FULL

/* ---- Producer ids (one per broker) ---------------------------------------- */

typedef struct producer_ids producer_ids_t;

/* next_id: the first id to hand out (persisted by the caller so ids are
 * never reused across restarts). No limit until producer_ids_set_limit.
 * NULL when out of memory. */
producer_ids_t *producer_ids_new(int64_t next_id);
void producer_ids_free(producer_ids_t *ids);
/* Ids below limit are reserved (persisted); new ids stop there until the
 * caller reserves more. A lower limit than the current one is ignored. */
void producer_ids_set_limit(producer_ids_t *ids, int64_t limit);
/* Ids that can still be handed out before the limit. */
int64_t producer_ids_remaining(producer_ids_t *ids);
/* InitProducerId. pid/epoch -1/-1: a new id with epoch 0. A known pid with
 * its current epoch: the epoch is bumped (a new id when it would pass
 * PRODUCERS_EPOCH_MAX). Returns MQ_OK with the id and epoch in out_pid and
 * out_epoch;
 * MQ_ERR_PRODUCER_FENCED if epoch is not the id's current one;
 * MQ_ERR_UNKNOWN_PRODUCER if the id was never handed out;
 * MQ_ERR_INVALID_ARG for pid -1 with epoch not -1 (or the reverse);
 * PRODUCER_IDS_EXHAUSTED when a new id is needed and every reserved one is
 * handed out (reserve more, then call again);
 * MQ_ERR_NO_MEMORY. Thread-safe. */
mq_err_t producer_ids_init(producer_ids_t *ids, int64_t pid, int32_t epoch, int64_t *out_pid,
                           int16_t *out_epoch);
/* The next id that would be handed out (for persisting). */
int64_t producer_ids_next(producer_ids_t *ids);

/* ---- Per-partition sequence state ------------------------------------------ */

typedef struct partition_producers partition_producers_t;

typedef enum producer_check {
    PRODUCER_CHECK_APPEND = 0,       /* new batch in sequence (or not idempotent): append it */
    PRODUCER_CHECK_DUPLICATE = 1,    /* a retry of a batch already stored: answer its offsets */
    PRODUCER_CHECK_OUT_OF_ORDER = 2, /* a gap: MQ_ERR_OUT_OF_ORDER_SEQUENCE */
    PRODUCER_CHECK_FENCED = 3,       /* an older epoch: MQ_ERR_PRODUCER_FENCED */
    PRODUCER_CHECK_UNKNOWN = 4,      /* no state and base sequence != 0: MQ_ERR_UNKNOWN_PRODUCER */
} producer_check_t;

/* Where a stored batch went (returned for duplicates). */
typedef struct producer_batch_ref {
    int32_t first_seq;
    int32_t last_seq;
    int64_t base_offset;
    int64_t append_time_ms;
} producer_batch_ref_t;

partition_producers_t *partition_producers_new(void);
void partition_producers_free(partition_producers_t *pp);

/* Checks a batch's producer fields (from its header; count = record
 * count). pid < 0 means not idempotent: always APPEND. For DUPLICATE,
 * *dup holds the original batch's offsets. Does not change state. */
producer_check_t producers_check(const partition_producers_t *pp, int64_t pid, int16_t epoch,
                                 int32_t base_seq, int32_t count, producer_batch_ref_t *dup);

/* Records an appended batch (after a successful append, or while
 * recovering the log). A newer epoch replaces the producer's history.
 * Returns MQ_OK or MQ_ERR_NO_MEMORY. pid < 0 is ignored. */
mq_err_t producers_record(partition_producers_t *pp, int64_t pid, int16_t epoch, int32_t base_seq,
                          int32_t count, int64_t base_offset, int64_t append_time_ms);

/* Serialised state, for snapshots (log/producer_snapshot.c). Encodes every
 * producer's epoch and remembered batches into *out (malloc'd, *len bytes;
 * caller frees). Returns MQ_OK or MQ_ERR_NO_MEMORY. */
mq_err_t producers_encode(const partition_producers_t *pp, uint8_t **out, size_t *len);
/* Records the state producers_encode wrote into pp. Returns MQ_OK,
 * MQ_ERR_STORAGE if buf is not such an encoding (pp may then hold part of
 * it), or MQ_ERR_NO_MEMORY. */
mq_err_t producers_decode(partition_producers_t *pp, const uint8_t *buf, size_t len);

/* The mq_err_t to answer for a check result (MQ_OK for APPEND/DUPLICATE). */
mq_err_t producer_check_error(producer_check_t c);

/* Producers with state on this partition. */
size_t producers_count(const partition_producers_t *pp);

/* How long a producer's state outlives its last batch on a partition (as
 * Kafka's producer.id.expiration.ms): without it every producer instance
 * that ever wrote would stay in memory. A producer that writes again after
 * that gets UNKNOWN_PRODUCER (unless it starts at sequence 0) and bumps
 * its epoch. */
#define PRODUCERS_EXPIRY_MS (24LL * 3600 * 1000)

/* Forgets producers whose last recorded batch (its append_time_ms) is
 * older than before_ms. Returns how many were dropped. */
size_t producers_expire(partition_producers_t *pp, int64_t before_ms);
/* Counts every producer as seen at now_ms (after recovery: the batches'
 * own timestamps say little about when they were written). */
void producers_touch_all(partition_producers_t *pp, int64_t now_ms);

#endif
