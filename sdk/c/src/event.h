/* Private: events (delivery reports, errors, stats) and the queue that
 * hands them to the application's poll. Producer-side threads push; the
 * application pops. Events of one batch share one allocation. */
#ifndef MQ_SRC_EVENT_H
#define MQ_SRC_EVENT_H

#include <pthread.h>
#include <stdint.h>

#include "mqclient.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One allocation backing `count` events; freed when the last is destroyed. */
typedef struct mq_event_block {
    int refs;    /* atomic (__atomic builtins) */
    char *topic; /* owned; "" when none */
    char *text;  /* owned error string or stats JSON; may be NULL */
    /* MQ_EVENT_CONNECTION: the state (mq_conn_state_t); the broker is in
     * topic, the attempt in the event's partition, the delay in its offset. */
    int conn_state;
    /* Consumer events: a partition list (one allocation holding the topic
     * strings too; NULL when none) and the rebalance kind. */
    mq_topic_partition_t *parts;
    size_t nparts;
    mq_rebalance_type_t rebalance;
} mq_event_block_t;

struct mq_event {
    mq_event_t *next;
    mq_event_block_t *block;
    mq_event_type_t type;
    mq_err_t err;
    mq_persisted_t persisted;
    int32_t partition;
    void *opaque;
    int64_t offset;
    int64_t timestamp;
};

/* Allocates a block of n events (zeroed but for block, type, partition -1,
 * offset -1, timestamp -1) chained by next. topic/text are copied (NULL ok).
 * Returns the first event, or NULL if memory ran out. */
mq_event_t *mq__events_new(size_t n, mq_event_type_t type, const char *topic, const char *text);

/* Copies parts (topics included) into ev's block, replacing any list.
 * Returns MQ_OK or MQ_ERR_NO_MEMORY. */
mq_err_t mq__event_set_parts(mq_event_t *ev, const mq_topic_partition_t *parts, size_t n);

typedef struct mq_event_queue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    mq_event_t *head, *tail;
    size_t count;
    int fd;     /* eventfd: readable while count > 0 */
    int closed; /* no more events will come */
} mq_event_queue_t;

mq_err_t mq__eq_init(mq_event_queue_t *q);
/* Frees queued events and the eventfd. */
void mq__eq_destroy(mq_event_queue_t *q);
/* Appends the chain first..last (n events). */
void mq__eq_push(mq_event_queue_t *q, mq_event_t *first, mq_event_t *last, size_t n);
/* Marks the queue closed: pop returns MQ_ERR_CLOSED once it is empty. */
void mq__eq_close(mq_event_queue_t *q);
/* Pops one event: MQ_OK, MQ_ERR_TIMED_OUT or MQ_ERR_CLOSED. */
mq_err_t mq__eq_pop(mq_event_queue_t *q, int32_t timeout_ms, mq_event_t **out);

/* Monotonic and wall clocks in ms, and an absolute timespec for cond waits. */
int64_t mq__mono_ms(void);
int64_t mq__wall_ms(void);
void mq__abstime(struct timespec *ts, int64_t timeout_ms);

#ifdef __cplusplus
}
#endif

#endif
