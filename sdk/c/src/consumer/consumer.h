/* Private: the consumer handle, shared by consumer.c (public calls on
 * application threads), fetcher.c (the I/O thread: connection, Fetch,
 * ListOffsets), offsets.c (commits, committed offsets, offset reset) and
 * group.c (membership and heartbeats).
 *
 * Locking: c->lock guards the partition table, the ready queue, the poll
 * cursor, the op list and the group's shared fields. The I/O thread never
 * holds it while calling into net/conn.c (whose callbacks take it). */
#ifndef MQ_CONSUMER_CONSUMER_H
#define MQ_CONSUMER_CONSUMER_H

#include <pthread.h>
#include <stdint.h>

#include "conf.h"
#include "event.h"
#include "mqclient.h"
#include "net/backoff.h"
#include "net/conn.h"
#include "wire/batch.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One Fetch response body (taken from the connection, not copied),
 * shared by the chunks cut from it. */
typedef struct mq_fbuf {
    int refs; /* atomic */
    size_t len;
    uint8_t *data; /* malloc'd */
} mq_fbuf_t;

/* The record batches one Fetch response returned for one partition. Messages
 * point into it (zero-copy) and hold a reference. */
typedef struct mq_chunk {
    int refs;       /* atomic */
    mq_fbuf_t *buf; /* ref held */
    char *topic;    /* own copy: messages outlive partitions */
    int32_t partition;
    uint32_t version;      /* the partition's version when fetched */
    struct mq_cpart *part; /* valid while the chunk is queued or current */
    const uint8_t *data;   /* concatenated whole batches */
    size_t len;
    size_t pos;    /* next batch */
    uint8_t **dec; /* decompressed record buffers messages point into */
    size_t ndec;
    size_t nrecords;         /* records in its batches (from their headers) */
    struct mq_message *slab; /* mq_consumer_poll's messages, one per record */
    size_t slab_used;
} mq_chunk_t;

/* Where a partition stands. */
enum {
    P_START,  /* needs its start offset resolved (want says how) */
    P_LOOKUP, /* a ListOffsets / FetchOffsets for it is in flight */
    P_READY,  /* fetchable from fetch_pos */
    P_ERROR,  /* stopped (auto.offset.reset=error); a seek restarts it */
};

/* A partition the consumer has known. Never freed before the consumer:
 * in-flight calls and queued chunks may point at it. */
typedef struct mq_cpart {
    struct mq_cpart *next;
    char *topic;
    int32_t partition;
    int assigned;
    int paused;
    int state;
    int64_t want;               /* P_START: an offset, MQ_OFFSET_BEGINNING/END/STORED */
    int64_t position;           /* next offset poll returns; MQ_OFFSET_INVALID = unknown */
    int64_t fetch_pos;          /* next offset to fetch */
    int64_t stored;             /* offset to commit next; -1 = none */
    int64_t committed;          /* last offset known committed; -1 = none */
    int64_t hwm;                /* high watermark of the last Fetch; -1 = unknown */
    uint32_t version;           /* bumped by seek/pause/assign: older fetches are dropped */
    int inflight;               /* a Fetch for it is in flight ... */
    uint32_t inflight_version;  /* ... fetched at this version */
    size_t queued;              /* bytes of its chunks waiting for poll */
    int eof_sent;               /* EOF emitted at fetch_pos == hwm; reset by new data */
    int64_t retry_at_ms;        /* after a partition error: next fetch or lookup */
    mq_backoff_t retry_backoff; /* its wait: grows per error, reset by a success */
    int revoking;               /* group: being revoked (no more fetches) */
} mq_cpart_t;

/* A queue entry: a chunk, or an event (with the partition/version it is
 * about, so a seek drops stale EOFs). */
typedef struct mq_qitem {
    struct mq_qitem *next;
    mq_chunk_t *chunk;
    mq_event_t *ev;
    mq_cpart_t *part;
    uint32_t version;
} mq_qitem_t;

/* Work the application hands the I/O thread (blocking calls wait on it). */
enum { OP_LIST_OFFSETS, OP_COMMIT, OP_COMMITTED };

typedef struct mq_op {
    struct mq_op *next;
    int type;
    int refs;  /* app + I/O thread; under c->lock */
    int async; /* commit: report as an event, nobody waits */
    int auto_commit;
    int sent;
    int done;
    mq_err_t err;
    char errstr[256];
    mq_topic_partition_t *parts; /* topics point into one allocation */
    size_t n;
} mq_op_t;

typedef struct mq_cstats {
    int64_t msgs, bytes, fetches, fetch_errors, reconnects, commits, commit_errors;
    int64_t rebalances;
} mq_cstats_t;

struct mq_group;

struct mq_consumer {
    mq_conf_t *conf;
    mq_tls_t *tls; /* NULL: plaintext (security.protocol) */
    char **servers_host, **servers_port;
    int nservers;

    pthread_mutex_t lock;
    pthread_cond_t cond; /* poll waiters and op waiters */
    int fd;              /* eventfd: readable while the queue has items */
    mq_qitem_t *qhead, *qtail;
    size_t queued_total;
    int closed_taken; /* the CLOSED event was handed out */

    mq_cpart_t *parts;
    int nassigned;
    int manual; /* mq_consumer_assign was used */

    /* The poll cursor (under lock). */
    mq_chunk_t *cur;
    mq_record_iter_t it;
    int it_active;
    int64_t last_poll_ms;

    mq_op_t *ops;
    int commits_in_flight;
    int close_committed; /* the final commit of a manual assignment is queued */

    /* Close: 1 = requested, 2 = the I/O thread finished it. */
    int closing;
    int stopping; /* atomic: the I/O thread exits at once */
    int64_t close_deadline_ms;

    struct mq_group *group; /* NULL without subscribe */

    /* I/O thread. */
    pthread_t thread;
    int thread_started;
    int epfd, wakefd, wake_pending;
    mq_conn_t *conn;
    uint32_t conn_events;
    int server_next;
    int64_t connect_deadline_ms, connected_at_ms, reconnect_at_ms;
    mq_backoff_t reconnect_backoff;
    int fetch_rr; /* rotates the first partition of each Fetch */
    int64_t stats_at_ms, commit_at_ms;
    mq_cstats_t stats;
};

/* consumer.c */
void mq__consumer_wake(mq_consumer_t *c);
/* Queues an event (lock held). part/version: the partition it is about. */
void mq__cq_push_event(mq_consumer_t *c, mq_event_t *ev, mq_cpart_t *part);
void mq__cq_push_chunk(mq_consumer_t *c, mq_chunk_t *ch);
/* Drops every queued item of part (lock held). */
void mq__cq_purge(mq_consumer_t *c, mq_cpart_t *part);
void mq__chunk_release(mq_chunk_t *ch);
void mq__fbuf_release(mq_fbuf_t *b);
/* Error event, optionally about one partition (lock held or not). */
mq_event_t *mq__cerror_event(mq_err_t err, const char *text, const mq_cpart_t *part);
mq_cpart_t *mq__cpart_find(mq_consumer_t *c, const char *topic, int32_t partition);
mq_cpart_t *mq__cpart_get(mq_consumer_t *c, const char *topic, int32_t partition);
/* Moves a partition to a new start (lock held): drops queued data. */
void mq__cpart_restart(mq_consumer_t *c, mq_cpart_t *p, int64_t want);
void mq__op_release(mq_consumer_t *c, mq_op_t *op);
/* Finishes an op (lock held): wakes the waiter or emits the event. */
void mq__op_finish(mq_consumer_t *c, mq_op_t *op, mq_err_t err, const char *text);
mq_op_t *mq__op_new(int type, const mq_topic_partition_t *parts, size_t n);

/* fetcher.c: the I/O thread. */
void *mq__fetcher_main(void *c);
/* Starts a call on the connection (I/O thread, lock not held). */
mq_err_t mq__consumer_call(mq_consumer_t *c, const char *method, const uint8_t *req, size_t len,
                           int64_t timeout_ms, mq_call_cb cb, void *arg);

/* offsets.c (I/O thread). */
void mq__offsets_tick(mq_consumer_t *c, int64_t now, int64_t *next);
/* Resolves P_START partitions (ListOffsets / FetchOffsets / reset). */
void mq__offsets_resolve(mq_consumer_t *c, int64_t now, int64_t *next);
/* Applies auto.offset.reset to a partition (lock held). */
void mq__offsets_reset(mq_consumer_t *c, mq_cpart_t *p, const char *why);
/* Queues a commit of every stored-but-uncommitted offset (lock held);
 * returns 1 if one was queued. */
int mq__offsets_auto_commit(mq_consumer_t *c);
/* Calls in flight from offsets.c. */
int mq__offsets_busy(mq_consumer_t *c);

/* group.c (I/O thread unless said). */
void mq__group_tick(mq_consumer_t *c, int64_t now, int64_t *next);
/* 1 once the group is left (or there is none) during close. */
int mq__group_closed(mq_consumer_t *c);
void mq__group_conn_lost(mq_consumer_t *c);
void mq__group_free(struct mq_group *g);
/* Member id / epoch for Fetch and commits (lock held); 0 if none. */
int mq__group_member(mq_consumer_t *c, const char **group_id, const char **member_id,
                     int32_t *epoch);

static inline int64_t mq__min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

#ifdef __cplusplus
}
#endif

#endif
