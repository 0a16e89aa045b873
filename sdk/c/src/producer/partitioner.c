/* Partition choice compatible with Kafka's Java client: keys hash with
 * murmur2 so a key lands where a Kafka producer would put it; keyless
 * messages stick to one partition per batch (KIP-480) so batches fill up. */
#include "producer/partitioner.h"

#include "mqclient.h"

int32_t mq__murmur2(const void *key, size_t len)
{
    const uint8_t *data = key;
    const uint32_t m = 0x5bd1e995;
    const int r = 24;
    uint32_t h = 0x9747b28cu ^ (uint32_t)len;
    size_t n4 = len / 4;

    for (size_t i = 0; i < n4; i++) {
        const uint8_t *p = data + i * 4;
        uint32_t k =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    const uint8_t *tail = data + n4 * 4;
    switch (len & 3) {
    case 3:
        h ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        h ^= tail[0];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int32_t)h;
}

int32_t mq__partition_for_key(const void *key, size_t len, int32_t partitions)
{
    return (int32_t)(((uint32_t)mq__murmur2(key, len) & 0x7fffffffu) % (uint32_t)partitions);
}

static uint64_t next_rand(mq_sticky_t *s)
{
    uint64_t x = s->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s->rng = x;
    return x;
}

void mq__sticky_init(mq_sticky_t *s, uint64_t seed)
{
    s->current = -1;
    s->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

static int32_t pick(mq_sticky_t *s, int32_t partitions, int32_t avoid)
{
    if (partitions <= 1)
        return 0;
    if (avoid < 0 || avoid >= partitions)
        return (int32_t)(next_rand(s) % (uint64_t)partitions);
    /* Uniform over the others: draw from partitions-1 and skip `avoid`. */
    int32_t p = (int32_t)(next_rand(s) % (uint64_t)(partitions - 1));
    return p >= avoid ? p + 1 : p;
}

int32_t mq__sticky_pick(mq_sticky_t *s, int32_t partitions)
{
    s->current = pick(s, partitions, -1);
    return s->current;
}

void mq__sticky_batch_sealed(mq_sticky_t *s, int32_t partition, int32_t partitions)
{
    if (partition == s->current)
        s->current = pick(s, partitions, partition);
}

/* partitioner.h spells MQ_PARTITION_ANY as -1 to stay free of mqclient.h. */
_Static_assert(MQ_PARTITION_ANY == -1, "mq__partition_choose assumes MQ_PARTITION_ANY == -1");
