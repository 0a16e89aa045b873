/* Private: the producer handle, shared by producer.c (the public calls,
 * on application threads) and sender.c (the I/O thread). */
#ifndef MQ_PRODUCER_PRODUCER_H
#define MQ_PRODUCER_PRODUCER_H

#include <pthread.h>
#include <stdint.h>

#include "conf.h"
#include "event.h"
#include "mqclient.h"
#include "net/backoff.h"
#include "net/conn.h"
#include "producer/accumulator.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Idempotence state, I/O thread only. */
enum { PID_NONE, PID_REQUESTED, PID_READY, PID_FAILED };

typedef struct mq_server {
    char *host;
    char *port;
} mq_server_t;

typedef struct mq_pstats {
    int64_t msgs_sent, bytes_sent, batches_sent;
    int64_t requests, retries, errors, reconnects, delivered, failed;
    int64_t rtt_sum_us, rtt_max_us, rtt_count;
} mq_pstats_t;

struct mq_producer {
    mq_conf_t *conf;
    mq_tls_t *tls; /* NULL: plaintext (security.protocol) */
    mq_acc_t acc;
    mq_event_queue_t events;

    int epfd;
    int wakefd;
    int wake_pending; /* atomic: a wake is written and not yet drained */
    pthread_t thread;
    int thread_started;
    int flushing; /* atomic: flush/close in progress: ignore linger */
    int stopping; /* atomic: the I/O thread fails what is left and exits */
    int closed;   /* mq_producer_close was called */
    pthread_mutex_t close_lock;

    /* ---- I/O thread only ---- */
    mq_server_t *servers;
    int nservers;
    int server_next;
    mq_conn_t *conn;
    uint32_t conn_events;
    int64_t connect_deadline_ms;
    int64_t connected_at_ms;
    int64_t reconnect_at_ms;
    mq_backoff_t reconnect_backoff;
    int metadata_in_flight;
    int64_t metadata_refresh_at_ms;
    int produce_in_flight;
    int pid_state;
    int pid_bump; /* a sequenced batch failed: new epoch once nothing is in flight */
    int64_t pid_retry_at_ms;
    mq_backoff_t pid_backoff; /* InitProducerId retries; reset on success */
    mq_err_t pid_fail_err;    /* PID_FAILED: why (e.g. MQ_ERR_CLUSTER_AUTHORIZATION) */
    char pid_fail_text[512];  /* and the text every message's report carries */
    int64_t producer_id;
    int16_t producer_epoch;
    int64_t stats_at_ms;
    mq_pstats_t stats;
    uint64_t rng;
};

/* Wakes the I/O thread (any thread). */
void mq__producer_wake(void *p);
/* The I/O thread. */
void *mq__sender_main(void *p);

#ifdef __cplusplus
}
#endif

#endif
