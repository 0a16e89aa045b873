/* Exponential backoff with jitter: the jitter keeps many clients that lost
 * the same broker from reconnecting in lockstep. */
#include "net/backoff.h"

void mq__backoff_init(mq_backoff_t *b, int64_t initial_ms, int64_t max_ms, uint64_t seed)
{
    b->initial_ms = initial_ms;
    b->max_ms = max_ms < initial_ms ? initial_ms : max_ms;
    b->cur_ms = initial_ms;
    b->attempts = 0;
    b->rng = seed ? seed : 0x2545f4914f6cdd1dull;
}

static uint64_t next_rand(mq_backoff_t *b)
{
    uint64_t x = b->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b->rng = x;
    return x;
}

int64_t mq__backoff_next(mq_backoff_t *b)
{
    /* U(0.75, 1.5) in 1/1024 steps: 768..1536. */
    int64_t factor = 768 + (int64_t)(next_rand(b) % 769);
    int64_t delay = b->cur_ms * factor / 1024;
    if (delay > b->max_ms)
        delay = b->max_ms;
    b->cur_ms = b->cur_ms > b->max_ms / 2 ? b->max_ms : b->cur_ms * 2;
    b->attempts++;
    return delay;
}

void mq__backoff_reset(mq_backoff_t *b)
{
    b->cur_ms = b->initial_ms;
    b->attempts = 0;
}
