/* Private: exponential backoff with jitter for reconnects and retries. */
#ifndef MQ_NET_BACKOFF_H
#define MQ_NET_BACKOFF_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mq_backoff {
    int64_t initial_ms;
    int64_t max_ms;
    int64_t cur_ms;
    int32_t attempts; /* mq__backoff_next calls since init or reset */
    uint64_t rng;
} mq_backoff_t;

void mq__backoff_init(mq_backoff_t *b, int64_t initial_ms, int64_t max_ms, uint64_t seed);
/* The next wait: min(cur * U(0.75, 1.5), max); then cur = min(2 * cur, max). */
int64_t mq__backoff_next(mq_backoff_t *b);
/* Back to initial_ms and attempt 0 (after a connection stayed up, or a
 * success). */
void mq__backoff_reset(mq_backoff_t *b);

#ifdef __cplusplus
}
#endif

#endif
