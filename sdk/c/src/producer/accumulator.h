/* Private: the producer's per-partition batches and its memory bound.
 * Application threads append under one lock; the I/O thread seals batches
 * (linger, flush), takes them for sending and hands back the finished
 * ones. Messages for a topic whose partition count is not known yet wait
 * in the topic's unassigned list. */
#ifndef MQ_PRODUCER_ACCUMULATOR_H
#define MQ_PRODUCER_ACCUMULATOR_H

#include <pthread.h>
#include <stdint.h>

#include "conf.h"
#include "mqclient.h"
#include "net/backoff.h"
#include "producer/partitioner.h"
#include "wire/batch.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mq_msg_meta {
    void *opaque;
    int64_t timestamp;
} mq_msg_meta_t;

struct mq_topic;

struct mq_acc;

typedef struct mq_pbatch {
    struct mq_pbatch *next;
    struct mq_acc *acc; /* whose pool takes it back when freed */
    struct mq_topic *topic;
    int32_t partition;
    mq_batch_builder_t builder;
    mq_msg_meta_t *meta;
    int32_t count;
    int32_t meta_cap;
    size_t bytes;        /* encoded record bytes, as counted against the buffer limit */
    int64_t first_ms;    /* monotonic time of the first message (linger) */
    int64_t deadline_ms; /* monotonic time the messages time out; 0 = never */
    const uint8_t *wire; /* the finished batch (set by the I/O thread) */
    size_t wire_len;
    int32_t base_sequence;
    int32_t attempts;
    int64_t retry_at_ms;
    int sent; /* sent at least once: a failure now is "possibly persisted" */
} mq_pbatch_t;

typedef struct mq_tpart {
    mq_pbatch_t *open;
    mq_pbatch_t *ready_head, *ready_tail; /* sealed, in send order */
    int32_t in_flight;
    int32_t next_sequence;
} mq_tpart_t;

/* A message waiting for its topic's partition count (one allocation). */
typedef struct mq_ua_msg {
    struct mq_ua_msg *next;
    struct mq_topic *topic;
    int32_t partition;
    void *opaque;
    int64_t timestamp;
    int64_t enq_ms;          /* monotonic time of mq_produce */
    const void *key, *value; /* into data[]; NULL = null */
    size_t key_len, value_len;
    mq_header_t *headers; /* into data[] */
    size_t header_count;
    size_t bytes;
    uint8_t data[];
} mq_ua_msg_t;

typedef struct mq_topic {
    struct mq_topic *next;
    char *name;
    int32_t partitions; /* -1 until metadata says */
    mq_tpart_t *parts;
    mq_sticky_t sticky;
    mq_ua_msg_t *ua_head, *ua_tail;
    mq_ua_msg_t *ua_bad;    /* explicit partition out of range: to be failed */
    int64_t metadata_at_ms; /* last metadata request for it (I/O thread) */
    /* While its partition count is unknown: no new request before this;
     * the wait grows per request and restarts once the count is known. */
    int64_t metadata_retry_at_ms;
    mq_backoff_t metadata_backoff; /* lazily set up by the I/O thread */
    /* Size and count of its last sealed batch: a new batch starts with room
     * for as much, so a busy topic's batches never grow by copying. */
    size_t last_batch_len;
    int32_t last_batch_count;
} mq_topic_t;

typedef struct mq_acc {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* space freed or messages reported */
    const mq_conf_t *conf;
    mq_topic_t *topics;
    mq_topic_t *last; /* the topic of the last append: most apps use one */
    int64_t msgs;     /* accepted and not yet reported */
    int64_t bytes;
    int64_t max_msgs, max_bytes;
    int closed;
    int32_t part_in_flight_max;
    int64_t sender_wake_ms; /* when the I/O thread will look next (INT64_MAX: idle) */
    void (*wake)(void *arg);
    void *wake_arg;
    /* Counters for stats (under lock). */
    int64_t batches_sealed;
    /* Freed batches kept with their buffers for the next ones (under lock). */
    mq_pbatch_t *pool;
    int32_t pool_n;
} mq_acc_t;

mq_err_t mq__acc_init(mq_acc_t *acc, const mq_conf_t *conf, int32_t part_in_flight_max,
                      void (*wake)(void *), void *wake_arg);
/* Frees every topic and batch still held (events are not produced). */
void mq__acc_destroy(mq_acc_t *acc);

/* One message for mq__acc_append: mq_produce's arguments, passed down by
 * pointer (a dozen arguments per call level cost more than the copy). */
typedef struct mq_acc_msg {
    const void *key, *value; /* NULL = null */
    size_t key_len, value_len;
    const mq_header_t *headers;
    size_t header_count;
    int64_t timestamp;
    void *opaque;
    size_t bytes; /* encoded size (mq__batch_record_size), held against the bounds */
} mq_acc_msg_t;

/* Appends one message (called by mq_produce); the message's bytes are
 * copied. Returns MQ_OK, MQ_ERR_QUEUE_FULL, MQ_ERR_CLOSED,
 * MQ_ERR_UNKNOWN_PARTITION (partition out of range of a topic whose
 * partition count is known), or MQ_ERR_NO_MEMORY. */
mq_err_t mq__acc_append(mq_acc_t *acc, const char *topic, int32_t partition, const mq_acc_msg_t *m,
                        int block);

/* ---- I/O thread side (each takes the lock itself) ------------------------ */

/* Seals batches whose linger passed (all of them if flush_all), moves
 * unassigned messages of topics with a known partition count into batches,
 * and takes up to max batches ready to send (at most part_in_flight_max per
 * partition, retries first, max_bytes in total). With hold (the connection
 * is up, so a slot will free), an open batch whose partition cannot send it
 * now (its window is full, batches wait ahead of it, or max is reached)
 * stays open and keeps filling instead of being sealed by linger: a backlog
 * then coalesces into few batches. Batches whose deadline has passed and
 * are not in flight go to *expired. Sets *next_ms to the next time
 * something becomes due. Returns the number taken. */
size_t mq__acc_collect(mq_acc_t *acc, int64_t now_ms, int flush_all, int hold, mq_pbatch_t **out,
                       size_t max, size_t max_bytes, mq_pbatch_t **expired, int64_t *next_ms);

/* Sets a topic's partition count (metadata answer) and moves its waiting
 * messages into batches. Growing is allowed; shrinking is ignored (batches
 * may exist for the old partitions). */
mq_err_t mq__acc_set_partitions(mq_acc_t *acc, mq_topic_t *t, int32_t partitions);

/* Takes the unassigned messages of a topic (to fail them). With bad_only,
 * only those whose explicit partition the topic does not have. */
mq_ua_msg_t *mq__acc_take_ua(mq_acc_t *acc, mq_topic_t *t, int bad_only);

/* Puts a batch that failed retriably back at the head of its partition. */
void mq__acc_requeue(mq_acc_t *acc, mq_pbatch_t *b, int64_t retry_at_ms);

/* A sent batch is finished (reported): frees the in-flight slot. */
void mq__acc_batch_done(mq_acc_t *acc, mq_pbatch_t *b);

/* Gives back buffer space for reported messages and wakes waiters. */
void mq__acc_release(mq_acc_t *acc, int64_t msgs, int64_t bytes);

/* Takes every batch still held (open, ready) and every unassigned message,
 * for failing them at close. */
void mq__acc_take_all(mq_acc_t *acc, mq_pbatch_t **batches, mq_ua_msg_t **ua);

/* Stops intake: appends fail with MQ_ERR_CLOSED and blocked ones return. */
void mq__acc_close(mq_acc_t *acc);

/* Waits until every accepted message is reported, up to timeout_ms (-1 no
 * limit). Returns MQ_OK or MQ_ERR_TIMED_OUT. */
mq_err_t mq__acc_wait_empty(mq_acc_t *acc, int32_t timeout_ms);

/* Frees a batch taken from the accumulator (any thread; takes the lock).
 * Up to a few are kept, buffers and all, for new batches to reuse. */
void mq__pbatch_free(mq_pbatch_t *b);

#ifdef __cplusplus
}
#endif

#endif
