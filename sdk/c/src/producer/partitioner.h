/* Private: choosing a partition the way Kafka's clients do. */
#ifndef MQ_PRODUCER_PARTITIONER_H
#define MQ_PRODUCER_PARTITIONER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Kafka's Utils.murmur2 (seed 0x9747b28c), as a Java int. */
int32_t mq__murmur2(const void *key, size_t len);

/* The partition Kafka's default partitioner gives a key:
 * (murmur2(key) & 0x7fffffff) % partitions. partitions must be >= 1. */
int32_t mq__partition_for_key(const void *key, size_t len, int32_t partitions);

/* Sticky partitioning for keyless messages: every keyless message for a
 * topic goes to the same partition until a batch is sealed there, then a
 * new partition is picked at random (never the same one twice in a row
 * when there is a choice). Not thread-safe; the caller holds its lock. */
typedef struct mq_sticky {
    int32_t current; /* -1 = none picked yet */
    uint64_t rng;    /* xorshift state */
} mq_sticky_t;

void mq__sticky_init(mq_sticky_t *s, uint64_t seed);
/* Picks the sticky partition anew (none yet, or out of range). */
int32_t mq__sticky_pick(mq_sticky_t *s, int32_t partitions);

/* The partition for the next keyless message. */
static inline int32_t mq__sticky_partition(mq_sticky_t *s, int32_t partitions)
{
    if (s->current >= 0 && s->current < partitions)
        return s->current;
    return mq__sticky_pick(s, partitions);
}
/* A batch was sealed on `partition`: move on if it was the sticky one. */
void mq__sticky_batch_sealed(mq_sticky_t *s, int32_t partition, int32_t partitions);

/* The whole rule: an explicit partition wins, else a key hashes, else sticky.
 * Returns the partition, or -1 if `explicit_partition` is out of range.
 * Inline: it runs for every message. MQ_PARTITION_ANY is -1 (mqclient.h). */
static inline int32_t mq__partition_choose(mq_sticky_t *s, int32_t explicit_partition,
                                           const void *key, size_t key_len, int32_t partitions)
{
    if (explicit_partition != -1)
        return explicit_partition >= 0 && explicit_partition < partitions ? explicit_partition : -1;
    if (key)
        return mq__partition_for_key(key, key_len, partitions);
    return mq__sticky_partition(s, partitions);
}

#ifdef __cplusplus
}
#endif

#endif
