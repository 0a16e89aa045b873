/* Idempotent-producer state. Sequences are per producer and partition and
 * wrap from INT32_MAX to 0 as Kafka's do; a batch covers
 * [base_seq, base_seq + count - 1]. */
#include "producers.h"

#include <stdlib.h>
#include <string.h>

#include "log/be.h"

/* ---- producer ids --------------------------------------------------------- */

typedef struct id_entry {
    int64_t pid;
    int16_t epoch;
} id_entry_t;

struct producer_ids {
    pthread_mutex_t lock;
    int64_t next;
    int64_t first;       /* ids below it predate this process: epochs unknown */
    int64_t limit;       /* ids below it are reserved (persisted by the caller) */
    id_entry_t *entries; /* sorted by pid (ids are handed out increasing) */
    size_t n, cap;
};

producer_ids_t *producer_ids_new(int64_t next_id)
{
    producer_ids_t *ids = calloc(1, sizeof(*ids));
    if (!ids)
        return NULL;
    pthread_mutex_init(&ids->lock, NULL);
    ids->next = ids->first = next_id < 0 ? 0 : next_id;
    ids->limit = INT64_MAX;
    return ids;
}

void producer_ids_set_limit(producer_ids_t *ids, int64_t limit)
{
    pthread_mutex_lock(&ids->lock);
    /* The first call replaces "no limit"; later ones only raise it. */
    if (ids->limit == INT64_MAX || limit > ids->limit)
        ids->limit = limit;
    pthread_mutex_unlock(&ids->lock);
}

int64_t producer_ids_remaining(producer_ids_t *ids)
{
    pthread_mutex_lock(&ids->lock);
    int64_t n = ids->limit - ids->next;
    pthread_mutex_unlock(&ids->lock);
    return n < 0 ? 0 : n;
}

void producer_ids_free(producer_ids_t *ids)
{
    if (!ids)
        return;
    pthread_mutex_destroy(&ids->lock);
    free(ids->entries);
    free(ids);
}

int64_t producer_ids_next(producer_ids_t *ids)
{
    pthread_mutex_lock(&ids->lock);
    int64_t n = ids->next;
    pthread_mutex_unlock(&ids->lock);
    return n;
}

static id_entry_t *find_id(producer_ids_t *ids, int64_t pid)
{
    size_t lo = 0, hi = ids->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ids->entries[mid].pid < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ids->n && ids->entries[lo].pid == pid ? &ids->entries[lo] : NULL;
}

/* Inserts pid keeping entries sorted. */
static mq_err_t add_id(producer_ids_t *ids, int64_t pid, int16_t epoch)
{
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? ids->cap * 2 : 64;
        id_entry_t *e = realloc(ids->entries, cap * sizeof(*e));
        if (!e)
            return MQ_ERR_NO_MEMORY;
        ids->entries = e;
        ids->cap = cap;
    }
    size_t i = ids->n;
    while (i > 0 && ids->entries[i - 1].pid > pid) {
        ids->entries[i] = ids->entries[i - 1];
        i--;
    }
    ids->entries[i] = (id_entry_t){pid, epoch};
    ids->n++;
    return MQ_OK;
}

static mq_err_t new_id(producer_ids_t *ids, int64_t *out_pid, int16_t *out_epoch)
{
    if (ids->next >= ids->limit)
        return PRODUCER_IDS_EXHAUSTED;
    mq_err_t err = add_id(ids, ids->next, 0);
    if (err != MQ_OK)
        return err;
    *out_pid = ids->next++;
    *out_epoch = 0;
    return MQ_OK;
}

mq_err_t producer_ids_init(producer_ids_t *ids, int64_t pid, int32_t epoch, int64_t *out_pid,
                           int16_t *out_epoch)
{
    if ((pid < 0) != (epoch < 0) || epoch > PRODUCERS_EPOCH_MAX)
        return MQ_ERR_INVALID_ARG;
    mq_err_t err;
    pthread_mutex_lock(&ids->lock);
    if (pid < 0) {
        err = new_id(ids, out_pid, out_epoch);
    } else {
        id_entry_t *e = find_id(ids, pid);
        if (!e) {
            /* An id from before a restart (below `first`): its epoch is not
             * known here, so trust the producer's and go on from it. */
            if (pid >= ids->first)
                err = MQ_ERR_UNKNOWN_PRODUCER;
            else if (epoch == PRODUCERS_EPOCH_MAX)
                err = new_id(ids, out_pid, out_epoch);
            else if ((err = add_id(ids, pid, (int16_t)(epoch + 1))) == MQ_OK) {
                *out_pid = pid;
                *out_epoch = (int16_t)(epoch + 1);
            }
        } else if (e->epoch != epoch) {
            err = MQ_ERR_PRODUCER_FENCED;
        } else if (e->epoch == PRODUCERS_EPOCH_MAX) {
            err = new_id(ids, out_pid, out_epoch);
        } else {
            e->epoch++;
            *out_pid = pid;
            *out_epoch = e->epoch;
            err = MQ_OK;
        }
    }
    pthread_mutex_unlock(&ids->lock);
    return err;
}

/* ---- per-partition state ---------------------------------------------------- */

typedef struct pstate {
    int64_t pid; /* -1 = empty slot */
    int16_t epoch;
    int n;           /* batches held, newest last */
    int64_t last_ms; /* append time of the newest batch (for expiry) */
    int head;        /* ring index of the oldest */
    producer_batch_ref_t ring[PRODUCERS_BATCHES];
} pstate_t;

struct partition_producers {
    pstate_t *slots; /* open addressing on pid */
    size_t cap;      /* power of two */
    size_t count;
};

partition_producers_t *partition_producers_new(void)
{
    return calloc(1, sizeof(partition_producers_t));
}

void partition_producers_free(partition_producers_t *pp)
{
    if (!pp)
        return;
    free(pp->slots);
    free(pp);
}

size_t producers_count(const partition_producers_t *pp)
{
    return pp->count;
}

static size_t hash_pid(int64_t pid, size_t cap)
{
    uint64_t x = (uint64_t)pid * 0x9e3779b97f4a7c15ull;
    return (size_t)(x >> 17) & (cap - 1);
}

static pstate_t *lookup(const partition_producers_t *pp, int64_t pid)
{
    if (!pp->cap)
        return NULL;
    for (size_t i = hash_pid(pid, pp->cap);; i = (i + 1) & (pp->cap - 1)) {
        if (pp->slots[i].pid == pid)
            return &pp->slots[i];
        if (pp->slots[i].pid < 0)
            return NULL;
    }
}

static mq_err_t grow(partition_producers_t *pp)
{
    size_t cap = pp->cap ? pp->cap * 2 : 16;
    pstate_t *slots = malloc(cap * sizeof(*slots));
    if (!slots)
        return MQ_ERR_NO_MEMORY;
    for (size_t i = 0; i < cap; i++)
        slots[i].pid = -1;
    for (size_t j = 0; j < pp->cap; j++) {
        if (pp->slots[j].pid < 0)
            continue;
        size_t i = hash_pid(pp->slots[j].pid, cap);
        while (slots[i].pid >= 0)
            i = (i + 1) & (cap - 1);
        slots[i] = pp->slots[j];
    }
    free(pp->slots);
    pp->slots = slots;
    pp->cap = cap;
    return MQ_OK;
}

static pstate_t *insert(partition_producers_t *pp, int64_t pid)
{
    if ((pp->count + 1) * 2 > pp->cap && grow(pp) != MQ_OK)
        return NULL;
    size_t i = hash_pid(pid, pp->cap);
    while (pp->slots[i].pid >= 0)
        i = (i + 1) & (pp->cap - 1);
    pstate_t *s = &pp->slots[i];
    memset(s, 0, sizeof(*s));
    s->pid = pid;
    pp->count++;
    return s;
}

static int32_t seq_add(int32_t seq, int32_t n)
{
    return (int32_t)(((int64_t)seq + n) & 0x7fffffff);
}

static const producer_batch_ref_t *newest(const pstate_t *s)
{
    return &s->ring[(s->head + s->n - 1) % PRODUCERS_BATCHES];
}

producer_check_t producers_check(const partition_producers_t *pp, int64_t pid, int16_t epoch,
                                 int32_t base_seq, int32_t count, producer_batch_ref_t *dup)
{
    if (pid < 0)
        return PRODUCER_CHECK_APPEND;
    const pstate_t *s = lookup(pp, pid);
    if (!s || s->n == 0)
        return base_seq == 0 ? PRODUCER_CHECK_APPEND : PRODUCER_CHECK_UNKNOWN;
    if (epoch < s->epoch)
        return PRODUCER_CHECK_FENCED;
    if (epoch > s->epoch)
        return base_seq == 0 ? PRODUCER_CHECK_APPEND : PRODUCER_CHECK_OUT_OF_ORDER;
    int32_t last_seq = seq_add(base_seq, count - 1);
    for (int i = 0; i < s->n; i++) {
        const producer_batch_ref_t *b = &s->ring[(s->head + i) % PRODUCERS_BATCHES];
        if (b->first_seq == base_seq && b->last_seq == last_seq) {
            if (dup)
                *dup = *b;
            return PRODUCER_CHECK_DUPLICATE;
        }
    }
    if (base_seq == seq_add(newest(s)->last_seq, 1))
        return PRODUCER_CHECK_APPEND;
    return PRODUCER_CHECK_OUT_OF_ORDER;
}

mq_err_t producers_record(partition_producers_t *pp, int64_t pid, int16_t epoch, int32_t base_seq,
                          int32_t count, int64_t base_offset, int64_t append_time_ms)
{
    if (pid < 0)
        return MQ_OK;
    pstate_t *s = lookup(pp, pid);
    if (!s && !(s = insert(pp, pid)))
        return MQ_ERR_NO_MEMORY;
    if (epoch != s->epoch || s->n == 0) {
        s->epoch = epoch;
        s->n = 0;
        s->head = 0;
    }
    producer_batch_ref_t ref = {base_seq, seq_add(base_seq, count - 1), base_offset,
                                append_time_ms};
    s->last_ms = append_time_ms;
    if (s->n < PRODUCERS_BATCHES) {
        s->ring[(s->head + s->n) % PRODUCERS_BATCHES] = ref;
        s->n++;
    } else {
        s->ring[s->head] = ref;
        s->head = (s->head + 1) % PRODUCERS_BATCHES;
    }
    return MQ_OK;
}

/* Encoding: a u32 producer count, then per producer its id (8 bytes),
 * epoch (2), batch count n (1) and n batches oldest first, each first and
 * last sequence (4 + 4), base offset and append time (8 + 8); big-endian. */
#define ENC_PRODUCER 11
#define ENC_BATCH 24

mq_err_t producers_encode(const partition_producers_t *pp, uint8_t **out, size_t *len)
{
    size_t cap = 4 + pp->count * (ENC_PRODUCER + PRODUCERS_BATCHES * ENC_BATCH);
    uint8_t *buf = malloc(cap), *p = buf;
    if (!buf)
        return MQ_ERR_NO_MEMORY;
    be_put(p, pp->count, 4);
    p += 4;
    for (size_t i = 0; i < pp->cap; i++) {
        const pstate_t *s = &pp->slots[i];
        if (s->pid < 0)
            continue;
        be_put(p, (uint64_t)s->pid, 8);
        be_put(p + 8, (uint16_t)s->epoch, 2);
        p[10] = (uint8_t)s->n;
        p += ENC_PRODUCER;
        for (int j = 0; j < s->n; j++, p += ENC_BATCH) {
            const producer_batch_ref_t *b = &s->ring[(s->head + j) % PRODUCERS_BATCHES];
            be_put(p, (uint32_t)b->first_seq, 4);
            be_put(p + 4, (uint32_t)b->last_seq, 4);
            be_put(p + 8, (uint64_t)b->base_offset, 8);
            be_put(p + 16, (uint64_t)b->append_time_ms, 8);
        }
    }
    *out = buf;
    *len = (size_t)(p - buf);
    return MQ_OK;
}

mq_err_t producers_decode(partition_producers_t *pp, const uint8_t *buf, size_t len)
{
    if (len < 4)
        return MQ_ERR_STORAGE;
    uint32_t count = (uint32_t)be_get(buf, 4);
    const uint8_t *p = buf + 4, *end = buf + len;
    for (uint32_t i = 0; i < count; i++) {
        if ((size_t)(end - p) < ENC_PRODUCER)
            return MQ_ERR_STORAGE;
        int64_t pid = (int64_t)be_get(p, 8);
        int16_t epoch = (int16_t)be_get(p + 8, 2);
        int n = p[10];
        p += ENC_PRODUCER;
        if (pid < 0 || n < 1 || n > PRODUCERS_BATCHES || (size_t)(end - p) < (size_t)n * ENC_BATCH)
            return MQ_ERR_STORAGE;
        for (int j = 0; j < n; j++, p += ENC_BATCH) {
            int32_t first = (int32_t)be_get(p, 4), last = (int32_t)be_get(p + 4, 4);
            if (first < 0 || last < 0)
                return MQ_ERR_STORAGE;
            int32_t count_in_batch = (int32_t)(((int64_t)last - first) & 0x7fffffff) + 1;
            mq_err_t err = producers_record(pp, pid, epoch, first, count_in_batch,
                                            (int64_t)be_get(p + 8, 8), (int64_t)be_get(p + 16, 8));
            if (err != MQ_OK)
                return err;
        }
    }
    return p == end ? MQ_OK : MQ_ERR_STORAGE;
}

size_t producers_expire(partition_producers_t *pp, int64_t before_ms)
{
    size_t dropped = 0;
    for (size_t i = 0; i < pp->cap; i++) {
        if (pp->slots[i].pid >= 0 && pp->slots[i].last_ms < before_ms) {
            pp->slots[i].pid = -1;
            dropped++;
        }
    }
    if (!dropped)
        return 0;
    /* Open addressing: re-place the survivors so no probe chain has a hole. */
    pstate_t *old = pp->slots;
    size_t cap = pp->cap;
    pp->slots = NULL;
    pp->cap = 0;
    pp->count = 0;
    for (size_t i = 0; i < cap; i++) {
        if (old[i].pid < 0)
            continue;
        pstate_t *s = insert(pp, old[i].pid);
        if (s)
            *s = old[i];
    }
    free(old);
    return dropped;
}

void producers_touch_all(partition_producers_t *pp, int64_t now_ms)
{
    for (size_t i = 0; i < pp->cap; i++)
        if (pp->slots[i].pid >= 0 && pp->slots[i].last_ms < now_ms)
            pp->slots[i].last_ms = now_ms;
}

mq_err_t producer_check_error(producer_check_t c)
{
    switch (c) {
    case PRODUCER_CHECK_APPEND:
    case PRODUCER_CHECK_DUPLICATE:
        return MQ_OK;
    case PRODUCER_CHECK_OUT_OF_ORDER:
        return MQ_ERR_OUT_OF_ORDER_SEQUENCE;
    case PRODUCER_CHECK_FENCED:
        return MQ_ERR_PRODUCER_FENCED;
    case PRODUCER_CHECK_UNKNOWN:
        return MQ_ERR_UNKNOWN_PRODUCER;
    }
    return MQ_ERR_UNKNOWN;
}
