/* Per-partition batches. mq_produce's cost is here: one lock, a topic
 * lookup (usually the cached last topic) and one copy of the message into
 * the open batch's buffer with the codec's batch builder. */
#include "producer/accumulator.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"

/* A new batch's first buffer: grown by the builder up to batch.size. */
#define BATCH_INITIAL_CAP (16 * 1024)
/* Freed batches kept for reuse: a new batch then writes into memory that is
 * already mapped (fresh pages fault in mq_produce, ~40 messages a page).
 * A few cover a producer's batches in flight at a time. */
#define POOL_MAX 4

mq_err_t mq__acc_init(mq_acc_t *acc, const mq_conf_t *conf, int32_t part_in_flight_max,
                      void (*wake)(void *), void *wake_arg)
{
    memset(acc, 0, sizeof(*acc));
    acc->conf = conf;
    acc->max_msgs = conf->queue_buffering_max_messages;
    acc->max_bytes = conf->queue_buffering_max_kbytes * 1024;
    acc->part_in_flight_max = part_in_flight_max;
    acc->sender_wake_ms = INT64_MAX;
    acc->wake = wake;
    acc->wake_arg = wake_arg;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&acc->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&acc->lock, NULL);
    return MQ_OK;
}

static void pbatch_destroy(mq_pbatch_t *b)
{
    mq__batch_builder_free(&b->builder);
    free(b->meta);
    free(b);
}

void mq__pbatch_free(mq_pbatch_t *b)
{
    if (!b)
        return;
    mq_acc_t *acc = b->acc;
    /* A buffer grown for one huge record is not worth keeping. */
    if (acc && b->builder.buf && b->builder.cap <= 2 * (size_t)acc->conf->batch_size) {
        pthread_mutex_lock(&acc->lock);
        int kept = acc->pool_n < POOL_MAX;
        if (kept) {
            b->next = acc->pool;
            acc->pool = b;
            acc->pool_n++;
        }
        pthread_mutex_unlock(&acc->lock);
        if (kept)
            return;
    }
    pbatch_destroy(b);
}

static void free_batch_list(mq_pbatch_t *b)
{
    while (b) {
        mq_pbatch_t *next = b->next;
        pbatch_destroy(b);
        b = next;
    }
}

static void free_ua_list(mq_ua_msg_t *m)
{
    while (m) {
        mq_ua_msg_t *next = m->next;
        free(m);
        m = next;
    }
}

void mq__acc_destroy(mq_acc_t *acc)
{
    mq_topic_t *t = acc->topics;
    while (t) {
        mq_topic_t *next = t->next;
        for (int32_t i = 0; i < t->partitions; i++) {
            free_batch_list(t->parts[i].open);
            free_batch_list(t->parts[i].ready_head);
        }
        free_ua_list(t->ua_head);
        free_ua_list(t->ua_bad);
        free(t->parts);
        free(t->name);
        free(t);
        t = next;
    }
    free_batch_list(acc->pool);
    acc->pool = NULL;
    pthread_mutex_destroy(&acc->lock);
    pthread_cond_destroy(&acc->cond);
}

static mq_topic_t *find_topic(mq_acc_t *acc, const char *name)
{
    if (acc->last && strcmp(acc->last->name, name) == 0)
        return acc->last;
    for (mq_topic_t *t = acc->topics; t; t = t->next) {
        if (strcmp(t->name, name) == 0) {
            acc->last = t;
            return t;
        }
    }
    return NULL;
}

static mq_topic_t *new_topic(mq_acc_t *acc, const char *name)
{
    mq_topic_t *t = calloc(1, sizeof(*t));
    if (!t || !(t->name = strdup(name))) {
        free(t);
        return NULL;
    }
    t->partitions = -1;
    mq__sticky_init(&t->sticky, (uint64_t)(uintptr_t)t ^ (uint64_t)time(NULL));
    t->next = acc->topics;
    acc->topics = t;
    acc->last = t;
    return t;
}

static void seal(mq_acc_t *acc, mq_topic_t *t, int32_t partition)
{
    mq_tpart_t *tp = &t->parts[partition];
    mq_pbatch_t *b = tp->open;
    if (!b)
        return;
    tp->open = NULL;
    b->next = NULL;
    if (tp->ready_tail)
        tp->ready_tail->next = b;
    else
        tp->ready_head = b;
    tp->ready_tail = b;
    t->last_batch_len = b->builder.len;
    t->last_batch_count = b->count;
    acc->batches_sealed++;
    mq__sticky_batch_sealed(&t->sticky, partition, t->partitions);
}

/* A pooled batch, emptied, keeping its buffer and meta array. */
static mq_pbatch_t *reuse_batch(mq_acc_t *acc)
{
    mq_pbatch_t *b = acc->pool;
    acc->pool = b->next;
    acc->pool_n--;
    mq_batch_builder_t builder = b->builder;
    mq_msg_meta_t *meta = b->meta;
    int32_t meta_cap = b->meta_cap;
    memset(b, 0, sizeof(*b));
    b->builder = builder;
    mq__batch_builder_reset(&b->builder);
    b->meta = meta;
    b->meta_cap = meta_cap;
    return b;
}

/* A fresh batch with as much room as the topic's last batch held (a little
 * more, so the same fill fits without a realloc), at least
 * BATCH_INITIAL_CAP, at most batch.size; the builder still grows past that
 * for one large record. */
static mq_pbatch_t *alloc_batch(mq_acc_t *acc, const mq_topic_t *t)
{
    mq_pbatch_t *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    size_t limit = (size_t)acc->conf->batch_size;
    size_t cap = t->last_batch_len + t->last_batch_len / 8 + 1024;
    if (cap < BATCH_INITIAL_CAP)
        cap = BATCH_INITIAL_CAP;
    if (cap > limit)
        cap = limit;
    int32_t meta_cap = t->last_batch_count + t->last_batch_count / 8 + 16;
    if (meta_cap > acc->conf->batch_num_messages)
        meta_cap = (int32_t)acc->conf->batch_num_messages;
    if (mq__batch_builder_init(&b->builder, cap) != MQ_OK ||
        !(b->meta = malloc((size_t)meta_cap * sizeof(*b->meta)))) {
        pbatch_destroy(b);
        return NULL;
    }
    b->meta_cap = meta_cap;
    return b;
}

static mq_pbatch_t *new_batch(mq_acc_t *acc, mq_topic_t *t, int32_t partition, int64_t now)
{
    mq_pbatch_t *b = acc->pool ? reuse_batch(acc) : alloc_batch(acc, t);
    if (!b)
        return NULL;
    b->acc = acc;
    b->topic = t;
    b->partition = partition;
    b->first_ms = now;
    b->base_sequence = -1;
    int64_t timeout = acc->conf->message_timeout_ms;
    b->deadline_ms = timeout ? now + timeout : 0;
    return b;
}

static mq_err_t grow_meta(mq_pbatch_t *b)
{
    int32_t cap = b->meta_cap * 2;
    mq_msg_meta_t *m = realloc(b->meta, (size_t)cap * sizeof(*m));
    if (!m)
        return MQ_ERR_NO_MEMORY;
    b->meta = m;
    b->meta_cap = cap;
    return MQ_OK;
}

/* Appends to the partition's open batch, sealing it first if the record
 * would overflow batch.size, and after if it reached batch.num.messages.
 * now: the message's monotonic time, or 0 to read the clock if needed. */
static mq_err_t append_to_partition(mq_acc_t *acc, mq_topic_t *t, int32_t partition,
                                    const mq_acc_msg_t *m, int64_t now, int *woke)
{
    mq_tpart_t *tp = &t->parts[partition];
    size_t limit = (size_t)acc->conf->batch_size;
    mq_pbatch_t *b = tp->open;
    if (b && b->builder.len + m->bytes > limit) {
        seal(acc, t, partition);
        *woke = 1;
        b = NULL;
    }
    if (!b) {
        if (!now)
            now = mq__mono_ms();
        if (!(b = tp->open = new_batch(acc, t, partition, now)))
            return MQ_ERR_NO_MEMORY;
        if (now + acc->conf->linger_ms < acc->sender_wake_ms)
            *woke = 1;
    }
    if (b->count == b->meta_cap && grow_meta(b) != MQ_OK)
        return MQ_ERR_NO_MEMORY;
    mq_err_t err = mq__batch_builder_add(&b->builder, m->timestamp, m->key, m->key_len, m->value,
                                         m->value_len, m->headers, m->header_count);
    if (err != MQ_OK)
        return err;
    b->meta[b->count++] = (mq_msg_meta_t){m->opaque, m->timestamp};
    b->bytes += m->bytes;
    if (b->count >= acc->conf->batch_num_messages || b->builder.len >= limit) {
        seal(acc, t, partition);
        *woke = 1;
    }
    return MQ_OK;
}

static mq_err_t park_unassigned(mq_topic_t *t, int32_t partition, const mq_acc_msg_t *in,
                                int64_t now)
{
    const mq_header_t *headers = in->headers;
    size_t header_count = in->header_count;
    size_t hbytes = 0;
    for (size_t i = 0; i < header_count; i++)
        hbytes += headers[i].key_len + headers[i].value_len;
    mq_ua_msg_t *m = malloc(sizeof(*m) + header_count * sizeof(mq_header_t) + in->key_len +
                            in->value_len + hbytes);
    if (!m)
        return MQ_ERR_NO_MEMORY;
    *m = (mq_ua_msg_t){.topic = t,
                       .partition = partition,
                       .opaque = in->opaque,
                       .timestamp = in->timestamp,
                       .enq_ms = now,
                       .key_len = in->key_len,
                       .value_len = in->value_len,
                       .header_count = header_count,
                       .bytes = in->bytes};
    m->headers = (mq_header_t *)m->data;
    uint8_t *p = m->data + header_count * sizeof(mq_header_t);
    for (size_t i = 0; i < header_count; i++) {
        m->headers[i] = headers[i];
        memcpy(p, headers[i].key, headers[i].key_len);
        m->headers[i].key = (const char *)p;
        p += headers[i].key_len;
        if (headers[i].value) {
            memcpy(p, headers[i].value, headers[i].value_len);
            m->headers[i].value = p;
            p += headers[i].value_len;
        }
    }
    if (in->key) {
        memcpy(p, in->key, in->key_len);
        m->key = p;
        p += in->key_len;
    }
    if (in->value) {
        memcpy(p, in->value, in->value_len);
        m->value = p;
    }
    if (t->ua_tail)
        t->ua_tail->next = m;
    else
        t->ua_head = m;
    t->ua_tail = m;
    return MQ_OK;
}

/* Waits for buffer space; returns MQ_OK when there is room. */
static mq_err_t wait_space(mq_acc_t *acc, size_t record_size, int block)
{
    struct timespec until;
    int have_until = 0;
    while (!acc->closed &&
           (acc->msgs + 1 > acc->max_msgs || acc->bytes + (int64_t)record_size > acc->max_bytes)) {
        /* An empty buffer always takes one message, however large. */
        if (acc->msgs == 0)
            return MQ_OK;
        if (!block)
            return MQ_ERR_QUEUE_FULL;
        if (!have_until) {
            mq__abstime(&until, acc->conf->max_block_ms);
            have_until = 1;
        }
        if (pthread_cond_timedwait(&acc->cond, &acc->lock, &until) == ETIMEDOUT)
            return acc->closed ? MQ_ERR_CLOSED : MQ_ERR_QUEUE_FULL;
    }
    return acc->closed ? MQ_ERR_CLOSED : MQ_OK;
}

/* A topic not seen before: created, and the I/O thread asks for its
 * metadata. */
static mq_topic_t *find_or_add_topic(mq_acc_t *acc, const char *name, int *woke)
{
    mq_topic_t *t = find_topic(acc, name);
    if (!t && (t = new_topic(acc, name)))
        *woke = 1;
    return t;
}

/* The message goes to a batch, or waits for the topic's partition count. */
static mq_err_t append_locked(mq_acc_t *acc, const char *topic, int32_t partition,
                              const mq_acc_msg_t *m, int *woke)
{
    mq_topic_t *t = acc->last;
    if (!t || strcmp(t->name, topic) != 0) {
        if (!(t = find_or_add_topic(acc, topic, woke)))
            return MQ_ERR_NO_MEMORY;
    }
    /* Behind parked messages too, so a partition keeps produce order. */
    if (t->partitions < 0 || t->ua_head) {
        if (t->partitions >= 0 && partition >= t->partitions)
            return MQ_ERR_UNKNOWN_PARTITION;
        return park_unassigned(t, partition, m, mq__mono_ms());
    }
    int32_t p = mq__partition_choose(&t->sticky, partition, m->key, m->key_len, t->partitions);
    if (p < 0)
        return MQ_ERR_UNKNOWN_PARTITION;
    /* The clock is read only when a batch starts (clock_gettime is a
     * noticeable part of an append on some VMs). */
    return append_to_partition(acc, t, p, m, 0, woke);
}

mq_err_t mq__acc_append(mq_acc_t *acc, const char *topic, int32_t partition, const mq_acc_msg_t *m,
                        int block)
{
    int woke = 0;
    pthread_mutex_lock(&acc->lock);
    mq_err_t err = wait_space(acc, m->bytes, block);
    if (err == MQ_OK)
        err = append_locked(acc, topic, partition, m, &woke);
    if (err == MQ_OK) {
        acc->msgs++;
        acc->bytes += (int64_t)m->bytes;
    }
    pthread_mutex_unlock(&acc->lock);
    if (woke && acc->wake)
        acc->wake(acc->wake_arg);
    return err;
}

/* ---- I/O thread side ----------------------------------------------------- */

static void assign_unassigned(mq_acc_t *acc, mq_topic_t *t)
{
    int woke = 0;
    while (t->ua_head) {
        mq_ua_msg_t *m = t->ua_head;
        int32_t p =
            mq__partition_choose(&t->sticky, m->partition, m->key, m->key_len, t->partitions);
        if (p < 0) {
            /* Explicit partition the topic lacks: the I/O thread fails it. */
            t->ua_head = m->next;
            if (!t->ua_head)
                t->ua_tail = NULL;
            m->next = t->ua_bad;
            t->ua_bad = m;
            continue;
        }
        mq_acc_msg_t in = {m->key,          m->value,     m->key_len, m->value_len, m->headers,
                           m->header_count, m->timestamp, m->opaque,  m->bytes};
        if (append_to_partition(acc, t, p, &in, m->enq_ms, &woke) != MQ_OK)
            return; /* out of memory: try again next round */
        t->ua_head = m->next;
        if (!t->ua_head)
            t->ua_tail = NULL;
        free(m);
    }
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Batches past their deadline leave from the head of the partition (order
 * kept) for *exp. */
static void expire_head(mq_tpart_t *tp, int64_t now, mq_pbatch_t **exp)
{
    while (tp->ready_head && tp->ready_head->deadline_ms && tp->ready_head->deadline_ms <= now) {
        mq_pbatch_t *b = tp->ready_head;
        tp->ready_head = b->next;
        if (!tp->ready_head)
            tp->ready_tail = NULL;
        b->next = *exp;
        *exp = b;
    }
}

/* Takes ready batches of one partition while its in-flight window, the
 * call's batch count and its bytes allow. */
static void take_ready(mq_acc_t *acc, mq_tpart_t *tp, int64_t now, mq_pbatch_t **out, size_t *n,
                       size_t max, size_t *bytes, size_t max_bytes, int64_t *next)
{
    while (tp->ready_head && tp->in_flight < acc->part_in_flight_max && *n < max) {
        mq_pbatch_t *b = tp->ready_head;
        if (b->retry_at_ms > now) {
            *next = min64(*next, b->retry_at_ms);
            return;
        }
        if (*n > 0 && *bytes + b->builder.len > max_bytes)
            return;
        tp->ready_head = b->next;
        if (!tp->ready_head)
            tp->ready_tail = NULL;
        b->next = NULL;
        tp->in_flight++;
        out[(*n)++] = b;
        *bytes += b->builder.len;
    }
}

size_t mq__acc_collect(mq_acc_t *acc, int64_t now, int flush_all, int hold, mq_pbatch_t **out,
                       size_t max, size_t max_bytes, mq_pbatch_t **expired, int64_t *next_ms)
{
    size_t n = 0, bytes = 0;
    int64_t next = INT64_MAX;
    mq_pbatch_t *exp_head = NULL;
    pthread_mutex_lock(&acc->lock);
    for (mq_topic_t *t = acc->topics; t; t = t->next) {
        if (t->partitions < 0)
            continue;
        if (t->ua_head)
            assign_unassigned(acc, t);
        for (int32_t i = 0; i < t->partitions; i++) {
            mq_tpart_t *tp = &t->parts[i];
            expire_head(tp, now, &exp_head);
            take_ready(acc, tp, now, out, &n, max, &bytes, max_bytes, &next);
            mq_pbatch_t *b = tp->open;
            if (b) {
                int64_t due = flush_all || acc->closed ? now : b->first_ms + acc->conf->linger_ms;
                int lapsed = b->deadline_ms && b->deadline_ms <= now;
                /* It could not go now (window full, or batches ahead of it):
                 * sealing would only queue a small batch behind the others.
                 * It keeps filling until a slot frees (the answer wakes the
                 * I/O thread) or it is full. */
                int held = hold &&
                           (tp->ready_head || tp->in_flight >= acc->part_in_flight_max || n >= max);
                if (lapsed || (due <= now && !held)) {
                    seal(acc, t, i);
                    expire_head(tp, now, &exp_head);
                    take_ready(acc, tp, now, out, &n, max, &bytes, max_bytes, &next);
                } else if (!held) {
                    next = min64(next, due);
                } else if (b->deadline_ms) {
                    next = min64(next, b->deadline_ms);
                }
            }
            if (tp->ready_head && tp->ready_head->deadline_ms)
                next = min64(next, tp->ready_head->deadline_ms);
        }
    }
    acc->sender_wake_ms = next;
    pthread_mutex_unlock(&acc->lock);
    *expired = exp_head;
    *next_ms = next;
    return n;
}

mq_err_t mq__acc_set_partitions(mq_acc_t *acc, mq_topic_t *t, int32_t partitions)
{
    mq_err_t err = MQ_OK;
    pthread_mutex_lock(&acc->lock);
    if (partitions > t->partitions) {
        mq_tpart_t *parts = realloc(t->parts, (size_t)partitions * sizeof(*parts));
        if (!parts) {
            err = MQ_ERR_NO_MEMORY;
        } else {
            int32_t old = t->partitions < 0 ? 0 : t->partitions;
            memset(parts + old, 0, (size_t)(partitions - old) * sizeof(*parts));
            t->parts = parts;
            t->partitions = partitions;
        }
    }
    if (t->partitions >= 0)
        assign_unassigned(acc, t);
    pthread_mutex_unlock(&acc->lock);
    return err;
}

mq_ua_msg_t *mq__acc_take_ua(mq_acc_t *acc, mq_topic_t *t, int bad_only)
{
    pthread_mutex_lock(&acc->lock);
    mq_ua_msg_t *m = t->ua_bad;
    t->ua_bad = NULL;
    if (!bad_only && t->ua_head) {
        t->ua_tail->next = m;
        m = t->ua_head;
        t->ua_head = t->ua_tail = NULL;
    }
    pthread_mutex_unlock(&acc->lock);
    return m;
}

void mq__acc_requeue(mq_acc_t *acc, mq_pbatch_t *b, int64_t retry_at_ms)
{
    pthread_mutex_lock(&acc->lock);
    mq_tpart_t *tp = &b->topic->parts[b->partition];
    tp->in_flight--;
    b->retry_at_ms = retry_at_ms;
    /* Back in sequence order: with several batches of a partition in flight
     * (idempotence), failures can come back in any order. Batches without
     * a sequence keep produce order by going first. */
    mq_pbatch_t **pos = &tp->ready_head;
    while (*pos && b->base_sequence >= 0 && (*pos)->base_sequence >= 0 &&
           (*pos)->base_sequence < b->base_sequence)
        pos = &(*pos)->next;
    b->next = *pos;
    *pos = b;
    if (!b->next)
        tp->ready_tail = b;
    pthread_mutex_unlock(&acc->lock);
}

void mq__acc_batch_done(mq_acc_t *acc, mq_pbatch_t *b)
{
    pthread_mutex_lock(&acc->lock);
    b->topic->parts[b->partition].in_flight--;
    pthread_mutex_unlock(&acc->lock);
}

void mq__acc_release(mq_acc_t *acc, int64_t msgs, int64_t bytes)
{
    pthread_mutex_lock(&acc->lock);
    acc->msgs -= msgs;
    acc->bytes -= bytes;
    pthread_cond_broadcast(&acc->cond);
    pthread_mutex_unlock(&acc->lock);
}

void mq__acc_take_all(mq_acc_t *acc, mq_pbatch_t **batches, mq_ua_msg_t **ua)
{
    mq_pbatch_t *bl = NULL;
    mq_ua_msg_t *ul = NULL;
    pthread_mutex_lock(&acc->lock);
    for (mq_topic_t *t = acc->topics; t; t = t->next) {
        for (int32_t i = 0; i < t->partitions; i++) {
            mq_tpart_t *tp = &t->parts[i];
            if (tp->open)
                seal(acc, t, i);
            while (tp->ready_head) {
                mq_pbatch_t *b = tp->ready_head;
                tp->ready_head = b->next;
                b->next = bl;
                bl = b;
            }
            tp->ready_tail = NULL;
        }
        mq_ua_msg_t *lists[2] = {t->ua_head, t->ua_bad};
        for (int k = 0; k < 2; k++) {
            while (lists[k]) {
                mq_ua_msg_t *m = lists[k];
                lists[k] = m->next;
                m->next = ul;
                ul = m;
            }
        }
        t->ua_head = t->ua_tail = t->ua_bad = NULL;
    }
    pthread_mutex_unlock(&acc->lock);
    *batches = bl;
    *ua = ul;
}

void mq__acc_close(mq_acc_t *acc)
{
    pthread_mutex_lock(&acc->lock);
    acc->closed = 1;
    pthread_cond_broadcast(&acc->cond);
    pthread_mutex_unlock(&acc->lock);
}

mq_err_t mq__acc_wait_empty(mq_acc_t *acc, int32_t timeout_ms)
{
    struct timespec until;
    if (timeout_ms >= 0)
        mq__abstime(&until, timeout_ms);
    mq_err_t err = MQ_OK;
    pthread_mutex_lock(&acc->lock);
    while (acc->msgs > 0) {
        int rc = timeout_ms < 0 ? pthread_cond_wait(&acc->cond, &acc->lock)
                                : pthread_cond_timedwait(&acc->cond, &acc->lock, &until);
        if (rc == ETIMEDOUT) {
            err = acc->msgs > 0 ? MQ_ERR_TIMED_OUT : MQ_OK;
            break;
        }
    }
    pthread_mutex_unlock(&acc->lock);
    return err;
}
