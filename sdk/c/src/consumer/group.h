/* Private: consumer-group membership (group.c), called from consumer.c
 * with c->lock held. */
#ifndef MQ_CONSUMER_GROUP_H
#define MQ_CONSUMER_GROUP_H

#include "consumer/consumer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sets (or replaces) the subscription; the I/O thread joins. Returns MQ_OK
 * or MQ_ERR_NO_MEMORY. */
mq_err_t mq__group_subscribe(mq_consumer_t *c, const char *const *topics, size_t n);
/* Leaves the group (after a final commit) and drops the assignment. */
void mq__group_unsubscribe(mq_consumer_t *c);
/* A Fetch or commit saw a fencing error (lock held). */
void mq__group_fenced(mq_consumer_t *c, mq_err_t err);

#ifdef __cplusplus
}
#endif

#endif
