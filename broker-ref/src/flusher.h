/* The fsync thread. acks=all produces ask it to flush the partitions they
 * appended to; it takes every request queued so far, calls part_flush once
 * per distinct partition (one fdatasync serves every batch waiting on it),
 * then posts each request's completion to the loop that asked. */
#ifndef BROKER_FLUSHER_H
#define BROKER_FLUSHER_H

#include "loop.h"
#include "mqclient.h"
#include "topics.h"

typedef void (*flusher_done_cb)(loop_t *loop, void *arg, mq_err_t err);

/* Starts the thread. Reads MQ_TEST_FSYNC_DELAY_MS (a test hook: sleep that
 * long before each part_flush). MQ_OK or MQ_ERR_NO_MEMORY. */
mq_err_t flusher_start(void);

/* Flushes everything queued, posts the completions and joins the thread.
 * Later requests fail with MQ_ERR_SHUTTING_DOWN. */
void flusher_stop(void);

/* Asks for a part_flush of partition `partition` of t that starts after
 * this call; done(loop, arg, err) then runs on loop. Takes its own topic
 * reference. If this returns an error (MQ_ERR_SHUTTING_DOWN,
 * MQ_ERR_NO_MEMORY) done is never called. */
mq_err_t flusher_request(topic_t *t, int32_t partition, loop_t *loop, flusher_done_cb done,
                         void *arg);

#endif
