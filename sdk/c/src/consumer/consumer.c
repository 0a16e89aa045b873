/* The consumer's public calls: creating and closing the handle, the
 * assignment, and poll. Fetched record batches wait in one ordered queue
 * with the events; poll walks their records in place, so a message is a
 * view into the Fetch response (zero-copy) holding a reference on it. */
#include "consumer/consumer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "consumer/group.h"

struct mq_message {
    mq_chunk_t *chunk; /* ref held; NULL inside a batch (the batch holds refs) */
    const char *topic;
    int32_t partition;
    int32_t header_count;
    int64_t offset;
    int64_t timestamp;
    const uint8_t *key, *value, *headers;
    size_t key_len, value_len, headers_len;
    mq_timestamp_type_t tstype;
    int in_slab; /* lives in its chunk's slab (freed with the chunk) */
};

struct mq_message_batch {
    size_t count;
    size_t nchunks, chunks_cap;
    mq_chunk_t **chunks;
    mq_message_t msgs[];
};

static void seterr(char *errstr, size_t size, const char *msg)
{
    if (errstr && size)
        snprintf(errstr, size, "%s", msg);
}

/* ---- buffers and chunks ---------------------------------------------------- */

void mq__fbuf_release(mq_fbuf_t *b)
{
    if (b && __atomic_fetch_sub(&b->refs, 1, __ATOMIC_ACQ_REL) == 1) {
        free(b->data);
        free(b);
    }
}

void mq__chunk_release(mq_chunk_t *ch)
{
    if (!ch || __atomic_fetch_sub(&ch->refs, 1, __ATOMIC_ACQ_REL) != 1)
        return;
    for (size_t i = 0; i < ch->ndec; i++)
        free(ch->dec[i]);
    free(ch->slab);
    free(ch->dec);
    free(ch->topic);
    mq__fbuf_release(ch->buf);
    free(ch);
}

static void chunk_ref(mq_chunk_t *ch)
{
    __atomic_add_fetch(&ch->refs, 1, __ATOMIC_RELAXED);
}

/* ---- the ready queue (lock held) ------------------------------------------- */

void mq__consumer_wake(mq_consumer_t *c)
{
    if (__atomic_exchange_n(&c->wake_pending, 1, __ATOMIC_ACQ_REL))
        return;
    uint64_t one = 1;
    ssize_t r = write(c->wakefd, &one, sizeof(one));
    (void)r;
}

static void fd_set_ready(mq_consumer_t *c, int ready)
{
    uint64_t v = 1;
    ssize_t r = ready ? write(c->fd, &v, sizeof(v)) : read(c->fd, &v, sizeof(v));
    (void)r;
}

static void q_append(mq_consumer_t *c, mq_qitem_t *q)
{
    q->next = NULL;
    if (c->qtail)
        c->qtail->next = q;
    else
        c->qhead = q;
    c->qtail = q;
    if (q == c->qhead)
        fd_set_ready(c, 1);
    pthread_cond_broadcast(&c->cond);
}

void mq__cq_push_event(mq_consumer_t *c, mq_event_t *ev, mq_cpart_t *part)
{
    mq_qitem_t *q = calloc(1, sizeof(*q));
    if (!q) {
        mq_event_destroy(ev);
        return;
    }
    q->ev = ev;
    q->part = part;
    q->version = part ? part->version : 0;
    q_append(c, q);
}

void mq__cq_push_chunk(mq_consumer_t *c, mq_chunk_t *ch)
{
    mq_qitem_t *q = calloc(1, sizeof(*q));
    if (!q) {
        mq__chunk_release(ch);
        return;
    }
    q->chunk = ch;
    q->part = ch->part;
    q->version = ch->version;
    ch->part->queued += ch->len;
    c->queued_total += ch->len;
    q_append(c, q);
}

/* A chunk leaves the queue or the cursor: its bytes no longer count. */
static void chunk_done(mq_consumer_t *c, mq_chunk_t *ch)
{
    ch->part->queued -= ch->len;
    c->queued_total -= ch->len;
    mq__chunk_release(ch);
    mq__consumer_wake(c); /* there may be room to fetch again */
}

static void free_qitem(mq_consumer_t *c, mq_qitem_t *q)
{
    if (q->chunk)
        chunk_done(c, q->chunk);
    if (q->ev)
        mq_event_destroy(q->ev);
    free(q);
}

/* Moves the iterator's decompressed buffer into the chunk (messages point
 * into it) and ends the iteration. */
static void iter_retire(mq_consumer_t *c)
{
    if (!c->it_active)
        return;
    if (c->it.decompressed) {
        c->cur->dec[c->cur->ndec++] = c->it.decompressed; /* room reserved at init */
        c->it.decompressed = NULL;
    }
    mq__record_iter_free(&c->it);
    c->it_active = 0;
}

static void drop_cursor(mq_consumer_t *c)
{
    if (!c->cur)
        return;
    iter_retire(c);
    chunk_done(c, c->cur);
    c->cur = NULL;
}

void mq__cq_purge(mq_consumer_t *c, mq_cpart_t *part)
{
    if (c->cur && c->cur->part == part)
        drop_cursor(c);
    mq_qitem_t **pp = &c->qhead, *last = NULL;
    while (*pp) {
        mq_qitem_t *q = *pp;
        if (q->part == part) {
            *pp = q->next;
            free_qitem(c, q);
            continue;
        }
        last = q;
        pp = &q->next;
    }
    c->qtail = last;
    if (!c->qhead)
        fd_set_ready(c, 0);
}

mq_event_t *mq__cerror_event(mq_err_t err, const char *text, const mq_cpart_t *part)
{
    mq_event_t *ev = mq__events_new(1, MQ_EVENT_ERROR, part ? part->topic : NULL, text);
    if (!ev)
        return NULL;
    ev->err = err;
    if (part) {
        ev->partition = part->partition;
        ev->offset = part->position;
    }
    return ev;
}

/* ---- partitions (lock held) ------------------------------------------------- */

mq_cpart_t *mq__cpart_find(mq_consumer_t *c, const char *topic, int32_t partition)
{
    for (mq_cpart_t *p = c->parts; p; p = p->next)
        if (p->partition == partition && !strcmp(p->topic, topic))
            return p;
    return NULL;
}

mq_cpart_t *mq__cpart_get(mq_consumer_t *c, const char *topic, int32_t partition)
{
    mq_cpart_t *p = mq__cpart_find(c, topic, partition);
    if (p)
        return p;
    p = calloc(1, sizeof(*p));
    if (!p || !(p->topic = strdup(topic))) {
        free(p);
        return NULL;
    }
    p->partition = partition;
    p->position = p->fetch_pos = MQ_OFFSET_INVALID;
    mq__backoff_init(&p->retry_backoff, c->conf->retry_backoff_ms, c->conf->retry_backoff_max_ms,
                     (uint64_t)(uintptr_t)p ^ (uint64_t)mq__mono_ms());
    p->stored = p->committed = p->hwm = -1;
    p->next = c->parts;
    c->parts = p;
    return p;
}

void mq__cpart_restart(mq_consumer_t *c, mq_cpart_t *p, int64_t want)
{
    p->version++;
    mq__cq_purge(c, p);
    p->eof_sent = 0;
    p->retry_at_ms = 0;
    if (want >= 0) {
        p->position = p->fetch_pos = want;
        p->state = P_READY;
    } else {
        p->want = want;
        p->state = P_START;
    }
    mq__consumer_wake(c);
}

static mq_cpart_t *assigned(mq_consumer_t *c, const char *topic, int32_t partition)
{
    mq_cpart_t *p = topic ? mq__cpart_find(c, topic, partition) : NULL;
    return p && p->assigned ? p : NULL;
}

/* ---- ops: work for the I/O thread -------------------------------------------- */

mq_op_t *mq__op_new(int type, const mq_topic_partition_t *parts, size_t n)
{
    size_t strings = 0;
    for (size_t i = 0; i < n; i++)
        strings += strlen(parts[i].topic) + 1;
    mq_op_t *op = calloc(1, sizeof(*op));
    if (!op)
        return NULL;
    op->parts = malloc(n * sizeof(*op->parts) + strings + 1);
    if (!op->parts) {
        free(op);
        return NULL;
    }
    char *sp = (char *)(op->parts + n);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(parts[i].topic) + 1;
        memcpy(sp, parts[i].topic, len);
        op->parts[i] = parts[i];
        op->parts[i].topic = sp;
        op->parts[i].err = MQ_OK;
        sp += len;
    }
    op->n = n;
    op->type = type;
    op->refs = 1;
    return op;
}

void mq__op_release(mq_consumer_t *c, mq_op_t *op)
{
    (void)c;
    if (--op->refs > 0)
        return;
    free(op->parts);
    free(op);
}

void mq__op_finish(mq_consumer_t *c, mq_op_t *op, mq_err_t err, const char *text)
{
    op->err = err;
    if (text)
        snprintf(op->errstr, sizeof(op->errstr), "%s", text);
    op->done = 1;
    if (op->type == OP_COMMIT && (op->async || op->auto_commit)) {
        /* Async and automatic commits report as events (auto ones only
         * when they fail, or always? always: the app may track progress). */
        mq_event_t *ev = mq__events_new(1, MQ_EVENT_COMMIT, NULL, err ? op->errstr : NULL);
        if (ev) {
            ev->err = err;
            if (op->n)
                mq__event_set_parts(ev, op->parts, op->n);
            mq__cq_push_event(c, ev, NULL);
        }
    }
    pthread_cond_broadcast(&c->cond);
    mq__op_release(c, op);
}

/* Hands op to the I/O thread and waits (lock held) up to timeout_ms. The
 * caller keeps its reference and releases it after reading the results. */
static mq_err_t run_op(mq_consumer_t *c, mq_op_t *op, int32_t timeout_ms)
{
    if (c->closing == 2)
        return MQ_ERR_CLOSED;
    int64_t limit = timeout_ms < 0 ? c->conf->request_timeout_ms : timeout_ms;
    op->refs++; /* the I/O thread's, dropped by mq__op_finish */
    op->next = NULL;
    mq_op_t **pp = &c->ops;
    while (*pp)
        pp = &(*pp)->next;
    *pp = op;
    mq__consumer_wake(c);
    struct timespec until;
    mq__abstime(&until, limit);
    while (!op->done) {
        if (pthread_cond_timedwait(&c->cond, &c->lock, &until) == ETIMEDOUT)
            break;
    }
    return op->done ? op->err : MQ_ERR_TIMED_OUT;
}

/* ---- creating ---------------------------------------------------------------- */

static mq_err_t parse_servers(mq_consumer_t *c, char *errstr, size_t size)
{
    char *copy = strdup(c->conf->bootstrap_servers);
    if (!copy)
        return MQ_ERR_NO_MEMORY;
    mq_err_t err = MQ_OK;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok && err == MQ_OK;
         tok = strtok_r(NULL, ", ", &save)) {
        char *colon = strrchr(tok, ':');
        if (!colon || colon == tok || !colon[1] ||
            strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
            char msg[300];
            snprintf(msg, sizeof(msg),
                     "\"bootstrap.servers\": \"%.200s\" is not host:port (e.g. 127.0.0.1:9092)",
                     tok);
            seterr(errstr, size, msg);
            err = MQ_ERR_INVALID_CONFIG;
            break;
        }
        *colon = '\0';
        char *host = tok;
        if (host[0] == '[' && colon[-1] == ']') {
            host++;
            colon[-1] = '\0';
        }
        char **h = realloc(c->servers_host, (size_t)(c->nservers + 1) * sizeof(char *));
        if (h)
            c->servers_host = h;
        char **pt = realloc(c->servers_port, (size_t)(c->nservers + 1) * sizeof(char *));
        if (pt)
            c->servers_port = pt;
        if (!h || !pt) {
            err = MQ_ERR_NO_MEMORY;
            break;
        }
        h[c->nservers] = strdup(host);
        pt[c->nservers] = strdup(colon + 1);
        c->nservers++;
        if (!h[c->nservers - 1] || !pt[c->nservers - 1])
            err = MQ_ERR_NO_MEMORY;
    }
    free(copy);
    if (err == MQ_OK && c->nservers == 0) {
        seterr(errstr, size, "\"bootstrap.servers\" must name at least one broker");
        err = MQ_ERR_INVALID_CONFIG;
    }
    return err;
}

static mq_err_t check_conf(const mq_conf_t *conf, char *errstr, size_t size)
{
    if (conf->reconnect_backoff_max_ms < conf->reconnect_backoff_ms) {
        seterr(errstr, size,
               "\"reconnect.backoff.max.ms\" must not be below \"reconnect.backoff.ms\"");
        return MQ_ERR_INVALID_CONFIG;
    }
    if (conf->group_instance_id[0] && !conf->group_id[0]) {
        seterr(errstr, size, "\"group.instance.id\" needs \"group.id\"");
        return MQ_ERR_INVALID_CONFIG;
    }
    return MQ_OK;
}

static void free_consumer(mq_consumer_t *c)
{
    for (int i = 0; i < c->nservers; i++) {
        free(c->servers_host[i]);
        free(c->servers_port[i]);
    }
    free(c->servers_host);
    free(c->servers_port);
    mq__tls_free(c->tls);
    if (c->epfd >= 0)
        close(c->epfd);
    if (c->wakefd >= 0)
        close(c->wakefd);
    if (c->fd >= 0)
        close(c->fd);
    mq_conf_destroy(c->conf);
    free(c);
}

mq_err_t mq_consumer_new(const mq_conf_t *conf, mq_consumer_t **out, char *errstr,
                         size_t errstr_size)
{
    seterr(errstr, errstr_size, "");
    if (!out) {
        seterr(errstr, errstr_size, "out must not be NULL");
        return MQ_ERR_INVALID_ARG;
    }
    *out = NULL;
    mq_consumer_t *c = calloc(1, sizeof(*c));
    if (!c)
        return MQ_ERR_NO_MEMORY;
    c->epfd = c->wakefd = c->fd = -1;
    c->conf = conf ? mq_conf_dup(conf) : mq_conf_new();
    if (!c->conf) {
        free(c);
        return MQ_ERR_NO_MEMORY;
    }
    mq_err_t err = check_conf(c->conf, errstr, errstr_size);
    if (err == MQ_OK)
        err = parse_servers(c, errstr, errstr_size);
    if (err == MQ_OK)
        err = mq__tls_new(c->conf, &c->tls, errstr, errstr_size);
    if (err != MQ_OK) {
        free_consumer(c);
        return err;
    }
    c->epfd = epoll_create1(EPOLL_CLOEXEC);
    c->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    c->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (c->epfd < 0 || c->wakefd < 0 || c->fd < 0 ||
        epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->wakefd, &ev) != 0) {
        seterr(errstr, errstr_size, "cannot create epoll or eventfd");
        free_consumer(c);
        return MQ_ERR_UNKNOWN;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &ca);
    pthread_condattr_destroy(&ca);
    c->last_poll_ms = mq__mono_ms();
    uint64_t seed = (uint64_t)(uintptr_t)c ^ (uint64_t)mq__wall_ms();
    mq__backoff_init(&c->reconnect_backoff, c->conf->reconnect_backoff_ms,
                     c->conf->reconnect_backoff_max_ms, seed);
    if (pthread_create(&c->thread, NULL, mq__fetcher_main, c) != 0) {
        seterr(errstr, errstr_size, "cannot start the I/O thread");
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->cond);
        free_consumer(c);
        return MQ_ERR_UNKNOWN;
    }
    c->thread_started = 1;
    *out = c;
    return MQ_OK;
}

/* ---- assignment ---------------------------------------------------------------- */

static int valid_start(int64_t off)
{
    return off >= MQ_OFFSET_BEGINNING || off == MQ_OFFSET_STORED;
}

mq_err_t mq_consumer_assign(mq_consumer_t *c, const mq_topic_partition_t *parts, size_t count)
{
    if (!c || (count && !parts))
        return MQ_ERR_INVALID_ARG;
    for (size_t i = 0; i < count; i++) {
        if (!parts[i].topic || !parts[i].topic[0] || parts[i].partition < 0 ||
            !valid_start(parts[i].offset))
            return MQ_ERR_INVALID_ARG;
        for (size_t j = 0; j < i; j++)
            if (parts[j].partition == parts[i].partition && !strcmp(parts[j].topic, parts[i].topic))
                return MQ_ERR_INVALID_ARG;
    }
    pthread_mutex_lock(&c->lock);
    mq_err_t err = MQ_OK;
    if (c->closing)
        err = MQ_ERR_CLOSED;
    else if (c->group)
        err = MQ_ERR_INVALID_ARG;
    /* Create every entry first so running out of memory changes nothing. */
    for (size_t i = 0; err == MQ_OK && i < count; i++)
        if (!mq__cpart_get(c, parts[i].topic, parts[i].partition))
            err = MQ_ERR_NO_MEMORY;
    if (err != MQ_OK) {
        pthread_mutex_unlock(&c->lock);
        return err;
    }
    for (mq_cpart_t *p = c->parts; p; p = p->next) {
        int keep = 0;
        for (size_t i = 0; i < count && !keep; i++)
            keep = parts[i].partition == p->partition && !strcmp(parts[i].topic, p->topic);
        if (!keep && p->assigned) {
            p->assigned = 0;
            p->paused = 0;
            p->version++;
            mq__cq_purge(c, p);
        }
    }
    c->nassigned = 0;
    for (size_t i = 0; i < count; i++) {
        mq_cpart_t *p = mq__cpart_find(c, parts[i].topic, parts[i].partition);
        int was = p->assigned;
        p->assigned = 1;
        c->nassigned++;
        if (was && parts[i].offset == MQ_OFFSET_STORED && p->position >= 0)
            continue;
        p->stored = -1;
        p->committed = -1;
        p->position = p->fetch_pos = MQ_OFFSET_INVALID;
        mq__cpart_restart(c, p, parts[i].offset);
    }
    c->manual = count > 0;
    pthread_mutex_unlock(&c->lock);
    mq__consumer_wake(c);
    return MQ_OK;
}

mq_err_t mq_consumer_assignment(mq_consumer_t *c, mq_topic_partition_t **out, size_t *count)
{
    if (!c || !out || !count)
        return MQ_ERR_INVALID_ARG;
    *out = NULL;
    *count = 0;
    pthread_mutex_lock(&c->lock);
    size_t n = 0;
    for (mq_cpart_t *p = c->parts; p; p = p->next)
        n += p->assigned != 0;
    mq_topic_partition_t *v = n ? calloc(n, sizeof(*v)) : NULL;
    mq_err_t err = n && !v ? MQ_ERR_NO_MEMORY : MQ_OK;
    size_t i = 0;
    for (mq_cpart_t *p = c->parts; v && p; p = p->next) {
        if (!p->assigned)
            continue;
        char *t = strdup(p->topic);
        if (!t) {
            err = MQ_ERR_NO_MEMORY;
            break;
        }
        v[i++] = (mq_topic_partition_t){t, p->partition, MQ_OK, p->position};
    }
    pthread_mutex_unlock(&c->lock);
    if (err != MQ_OK) {
        mq_topic_partitions_destroy(v, i);
        return err;
    }
    *out = v;
    *count = i;
    return MQ_OK;
}

void mq_topic_partitions_destroy(mq_topic_partition_t *parts, size_t count)
{
    if (!parts)
        return;
    for (size_t i = 0; i < count; i++)
        free((char *)parts[i].topic);
    free(parts);
}

mq_err_t mq_consumer_seek(mq_consumer_t *c, const char *topic, int32_t partition, int64_t offset)
{
    if (!c || !topic || !valid_start(offset))
        return MQ_ERR_INVALID_ARG;
    pthread_mutex_lock(&c->lock);
    mq_cpart_t *p = assigned(c, topic, partition);
    if (p) {
        if (offset >= 0)
            p->position = offset;
        mq__cpart_restart(c, p, offset);
    }
    pthread_mutex_unlock(&c->lock);
    return p ? MQ_OK : MQ_ERR_UNKNOWN_PARTITION;
}

static int check_list(const mq_topic_partition_t *parts, size_t count)
{
    if (!parts && count)
        return 0;
    for (size_t i = 0; i < count; i++)
        if (!parts[i].topic)
            return 0;
    return 1;
}

static mq_err_t set_paused(mq_consumer_t *c, mq_topic_partition_t *parts, size_t count, int pause)
{
    if (!c || !parts || !check_list(parts, count))
        return MQ_ERR_INVALID_ARG;
    mq_err_t err = MQ_OK;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < count; i++) {
        mq_cpart_t *p = assigned(c, parts[i].topic, parts[i].partition);
        parts[i].err = p ? MQ_OK : MQ_ERR_UNKNOWN_PARTITION;
        if (!p) {
            err = MQ_ERR_UNKNOWN_PARTITION;
            continue;
        }
        if (p->paused == pause)
            continue;
        p->paused = pause;
        if (pause) {
            /* Fetched data is dropped; fetching resumes from the position. */
            p->version++;
            mq__cq_purge(c, p);
            if (p->state == P_READY && p->position >= 0)
                p->fetch_pos = p->position;
            p->eof_sent = 0;
        }
    }
    pthread_mutex_unlock(&c->lock);
    mq__consumer_wake(c);
    return err;
}

mq_err_t mq_consumer_pause(mq_consumer_t *c, mq_topic_partition_t *parts, size_t count)
{
    return set_paused(c, parts, count, 1);
}

mq_err_t mq_consumer_resume(mq_consumer_t *c, mq_topic_partition_t *parts, size_t count)
{
    return set_paused(c, parts, count, 0);
}

mq_err_t mq_consumer_position(mq_consumer_t *c, mq_topic_partition_t *parts, size_t count)
{
    if (!c || !parts || !check_list(parts, count))
        return MQ_ERR_INVALID_ARG;
    mq_err_t err = MQ_OK;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < count; i++) {
        mq_cpart_t *p = assigned(c, parts[i].topic, parts[i].partition);
        parts[i].err = p ? MQ_OK : MQ_ERR_UNKNOWN_PARTITION;
        parts[i].offset = p ? p->position : MQ_OFFSET_INVALID;
        if (!p)
            err = MQ_ERR_UNKNOWN_PARTITION;
    }
    pthread_mutex_unlock(&c->lock);
    return err;
}

mq_err_t mq_consumer_store_offsets(mq_consumer_t *c, mq_topic_partition_t *parts, size_t count)
{
    if (!c || !parts || !count || !check_list(parts, count))
        return MQ_ERR_INVALID_ARG;
    for (size_t i = 0; i < count; i++)
        if (parts[i].offset < 0)
            return MQ_ERR_INVALID_ARG;
    mq_err_t err = MQ_OK;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < count; i++) {
        mq_cpart_t *p = assigned(c, parts[i].topic, parts[i].partition);
        parts[i].err = p ? MQ_OK : MQ_ERR_UNKNOWN_PARTITION;
        if (p)
            p->stored = parts[i].offset;
        else
            err = MQ_ERR_UNKNOWN_PARTITION;
    }
    pthread_mutex_unlock(&c->lock);
    return err;
}

/* ---- blocking lookups and commits ------------------------------------------------ */

static mq_err_t lookup_op(mq_consumer_t *c, int type, mq_topic_partition_t *parts, size_t count,
                          int32_t timeout_ms)
{
    if (!c || !parts || !count || !check_list(parts, count) || timeout_ms < -1)
        return MQ_ERR_INVALID_ARG;
    if (type == OP_COMMITTED && !c->conf->group_id[0])
        return MQ_ERR_INVALID_CONFIG;
    mq_op_t *op = mq__op_new(type, parts, count);
    if (!op)
        return MQ_ERR_NO_MEMORY;
    pthread_mutex_lock(&c->lock);
    mq_err_t err = run_op(c, op, timeout_ms);
    if (op->done) {
        for (size_t i = 0; i < count; i++) {
            parts[i].offset = op->parts[i].offset;
            parts[i].err = op->parts[i].err;
        }
    }
    mq__op_release(c, op);
    pthread_mutex_unlock(&c->lock);
    return err;
}

mq_err_t mq_consumer_offsets_for_times(mq_consumer_t *c, mq_topic_partition_t *parts, size_t count,
                                       int32_t timeout_ms)
{
    for (size_t i = 0; parts && i < count; i++)
        if (parts[i].offset < MQ_OFFSET_BEGINNING)
            return MQ_ERR_INVALID_ARG;
    return lookup_op(c, OP_LIST_OFFSETS, parts, count, timeout_ms);
}

mq_err_t mq_consumer_committed(mq_consumer_t *c, mq_topic_partition_t *parts, size_t count,
                               int32_t timeout_ms)
{
    return lookup_op(c, OP_COMMITTED, parts, count, timeout_ms);
}

mq_err_t mq_consumer_commit(mq_consumer_t *c, const mq_topic_partition_t *parts, size_t count,
                            uint32_t flags)
{
    if (!c || (count && !parts) || !check_list(parts, count) || (flags & ~MQ_COMMIT_ASYNC))
        return MQ_ERR_INVALID_ARG;
    for (size_t i = 0; parts && i < count; i++)
        if (parts[i].offset < 0 || parts[i].partition < 0)
            return MQ_ERR_INVALID_ARG;
    if (!c->conf->group_id[0])
        return MQ_ERR_INVALID_CONFIG;
    pthread_mutex_lock(&c->lock);
    mq_op_t *op;
    if (parts) {
        op = mq__op_new(OP_COMMIT, parts, count);
    } else {
        /* The stored offsets of the assignment not yet committed. */
        size_t n = 0, i = 0;
        for (mq_cpart_t *p = c->parts; p; p = p->next)
            n += p->assigned && p->stored >= 0 && p->stored != p->committed;
        mq_topic_partition_t *v = calloc(n ? n : 1, sizeof(*v));
        for (mq_cpart_t *p = c->parts; v && p; p = p->next)
            if (p->assigned && p->stored >= 0 && p->stored != p->committed)
                v[i++] = (mq_topic_partition_t){p->topic, p->partition, MQ_OK, p->stored};
        op = v ? mq__op_new(OP_COMMIT, v, n) : NULL;
        free(v);
        if (op && n == 0) {
            /* Nothing to commit: done (an async caller still gets its event). */
            if (flags & MQ_COMMIT_ASYNC) {
                op->async = 1;
                mq__op_finish(c, op, MQ_OK, NULL);
            } else {
                mq__op_release(c, op);
            }
            pthread_mutex_unlock(&c->lock);
            return MQ_OK;
        }
    }
    if (!op) {
        pthread_mutex_unlock(&c->lock);
        return MQ_ERR_NO_MEMORY;
    }
    mq_err_t err;
    if (flags & MQ_COMMIT_ASYNC) {
        if (c->closing == 2) {
            mq__op_release(c, op);
            err = MQ_ERR_CLOSED;
        } else {
            op->async = 1;
            mq_op_t **pp = &c->ops;
            while (*pp)
                pp = &(*pp)->next;
            *pp = op;
            mq__consumer_wake(c);
            err = MQ_OK;
        }
    } else {
        err = run_op(c, op, -1);
        mq__op_release(c, op);
    }
    pthread_mutex_unlock(&c->lock);
    return err;
}

/* ---- poll ------------------------------------------------------------------------ */

enum { GOT_NOTHING, GOT_MESSAGE, GOT_EVENT };

/* Starts the next batch of the current chunk. Returns GOT_MESSAGE to go
 * on (iterating or skipping), GOT_EVENT with *ev on a bad batch. */
static int start_batch(mq_consumer_t *c, mq_event_t **ev)
{
    mq_chunk_t *ch = c->cur;
    mq_cpart_t *p = ch->part;
    const uint8_t *b = ch->data + ch->pos;
    size_t left = ch->len - ch->pos;
    mq_batch_header_t h;
    mq_err_t err = mq__batch_parse_header(b, left, &h);
    if (err != MQ_OK) {
        /* The rest of the chunk cannot be framed: drop it, fetch again. */
        ch->pos = ch->len;
        mq__cpart_restart(c, p, p->position); /* drops the chunk */
        *ev = mq__cerror_event(MQ_ERR_INVALID_BATCH, "a fetched record batch cannot be parsed", p);
        return *ev ? GOT_EVENT : GOT_MESSAGE;
    }
    size_t size = mq__batch_size(&h);
    int64_t end = h.base_offset + h.last_offset_delta + 1;
    ch->pos += size;
    if (end <= p->position)
        return GOT_MESSAGE; /* wholly below the position */
    if ((h.attributes & MQ_BATCH_COMPRESSION_MASK) != MQ_BATCH_COMPRESSION_NONE) {
        uint8_t **d = realloc(ch->dec, (ch->ndec + 1) * sizeof(*d));
        if (!d) {
            ch->pos -= size;
            *ev = mq__cerror_event(MQ_ERR_NO_MEMORY, "out of memory decompressing a batch", p);
            return *ev ? GOT_EVENT : GOT_MESSAGE;
        }
        ch->dec = d;
    }
    err = mq__record_iter_init(&c->it, b, size);
    if (err != MQ_OK) {
        mq__record_iter_free(&c->it);
        char text[256];
        snprintf(text, sizeof(text),
                 "%s [%d]: record batch at offset %lld is unreadable (%s); skipped to %lld",
                 p->topic, p->partition, (long long)h.base_offset, mq_err_str(err), (long long)end);
        p->position = end;
        *ev = mq__cerror_event(err, text, p);
        return *ev ? GOT_EVENT : GOT_MESSAGE;
    }
    c->it_active = 1;
    return GOT_MESSAGE;
}

static void fill_message(mq_message_t *m, const mq_chunk_t *ch, const mq_record_t *r,
                         const mq_batch_header_t *h)
{
    m->topic = ch->topic;
    m->partition = ch->partition;
    m->offset = r->offset;
    m->timestamp = r->timestamp;
    m->tstype = h->attributes & MQ_BATCH_TIMESTAMP_LOG_APPEND ? MQ_TIMESTAMP_LOG_APPEND_TIME
                                                              : MQ_TIMESTAMP_CREATE_TIME;
    m->key = r->key;
    m->key_len = r->key_len;
    m->value = r->value;
    m->value_len = r->value_len;
    m->headers = r->headers;
    m->headers_len = r->headers_len;
    m->header_count = r->header_count;
}

/* Produces the next message into m (cursor chunk stays current) or an
 * event (lock held). */
static int next_item(mq_consumer_t *c, mq_message_t *m, mq_event_t **ev)
{
    for (;;) {
        mq_chunk_t *ch = c->cur;
        if (ch) {
            mq_cpart_t *p = ch->part;
            if (ch->version != p->version || !p->assigned || p->paused) {
                drop_cursor(c);
                continue;
            }
            if (c->it_active) {
                mq_record_t r;
                int rc = mq__record_iter_next(&c->it, &r);
                if (rc == 1) {
                    if (r.offset < p->position)
                        continue;
                    fill_message(m, ch, &r, &c->it.hdr);
                    p->position = r.offset + 1;
                    if (c->conf->enable_auto_offset_store)
                        p->stored = p->position;
                    return GOT_MESSAGE;
                }
                int64_t end = c->it.hdr.base_offset + c->it.hdr.last_offset_delta + 1;
                iter_retire(c);
                if (rc < 0) {
                    char text[256];
                    snprintf(text, sizeof(text),
                             "%s [%d]: malformed record in the batch ending at offset %lld; "
                             "skipped",
                             p->topic, p->partition, (long long)end);
                    if (p->position < end)
                        p->position = end;
                    *ev = mq__cerror_event(MQ_ERR_INVALID_BATCH, text, p);
                    if (*ev)
                        return GOT_EVENT;
                }
                continue;
            }
            if (ch->pos < ch->len) {
                if (start_batch(c, ev) == GOT_EVENT)
                    return GOT_EVENT;
                continue;
            }
            drop_cursor(c);
            continue;
        }
        mq_qitem_t *q = c->qhead;
        if (!q)
            return GOT_NOTHING;
        c->qhead = q->next;
        if (!c->qhead) {
            c->qtail = NULL;
            fd_set_ready(c, 0);
        }
        if (q->chunk) {
            c->cur = q->chunk;
            free(q);
            continue;
        }
        if (q->part && (q->version != q->part->version || !q->part->assigned)) {
            free_qitem(c, q);
            continue;
        }
        *ev = q->ev;
        free(q);
        if ((*ev)->type == MQ_EVENT_CLOSED)
            c->closed_taken = 1;
        return GOT_EVENT;
    }
}

/* Waits (lock held) until something is queued, the deadline passes or
 * the consumer is closed. Returns 0 on timeout. */
static int wait_ready(mq_consumer_t *c, int32_t timeout_ms, struct timespec *until, int *have)
{
    if (c->cur || c->qhead)
        return 1;
    if (timeout_ms == 0 || c->closed_taken)
        return 0;
    if (timeout_ms > 0 && !*have) {
        /* The deadline is computed only when a wait is needed: a poll that
         * finds a message at once reads no clock. */
        mq__abstime(until, timeout_ms);
        *have = 1;
    }
    int rc = timeout_ms < 0 ? pthread_cond_wait(&c->cond, &c->lock)
                            : pthread_cond_timedwait(&c->cond, &c->lock, until);
    return rc != ETIMEDOUT || c->cur || c->qhead;
}

static void note_poll(mq_consumer_t *c)
{
    /* The coarse clock (a few ms) is plenty for max.poll.interval.ms, and
     * much cheaper than a precise read on every poll. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (c->group && now - c->last_poll_ms > 100)
        mq__consumer_wake(c); /* a member that left for max.poll may rejoin */
    c->last_poll_ms = now;
}

/* A message of mq_consumer_poll: a slot of the chunk's slab (one
 * allocation per chunk instead of one per message), holding a reference on
 * the chunk. NULL if memory ran out. */
static mq_message_t *slab_message(mq_chunk_t *ch, const mq_message_t *m)
{
    mq_message_t *out = NULL;
    if (!ch->slab && ch->nrecords)
        ch->slab = malloc(ch->nrecords * sizeof(*ch->slab));
    if (ch->slab && ch->slab_used < ch->nrecords) {
        out = &ch->slab[ch->slab_used++];
        *out = *m;
        out->in_slab = 1;
    } else if ((out = malloc(sizeof(*out)))) {
        *out = *m;
        out->in_slab = 0;
    } else {
        return NULL;
    }
    out->chunk = ch;
    chunk_ref(ch);
    return out;
}

mq_err_t mq_consumer_poll(mq_consumer_t *c, int32_t timeout_ms, mq_message_t **msg, mq_event_t **ev)
{
    if (msg)
        *msg = NULL;
    if (ev)
        *ev = NULL;
    if (!c || !msg || !ev || timeout_ms < -1)
        return MQ_ERR_INVALID_ARG;
    struct timespec until;
    int have_until = 0;
    mq_message_t tmp, *m = &tmp;
    pthread_mutex_lock(&c->lock);
    note_poll(c);
    mq_err_t err = MQ_ERR_TIMED_OUT;
    for (;;) {
        if (c->closed_taken && !c->cur && !c->qhead) {
            err = MQ_ERR_CLOSED;
            break;
        }
        int got = next_item(c, m, ev);
        if (got == GOT_MESSAGE) {
            if (!(*msg = slab_message(c->cur, m))) {
                /* Out of memory: fetch again from this message. */
                mq_cpart_t *p = c->cur->part;
                if (c->conf->enable_auto_offset_store)
                    p->stored = m->offset;
                mq__cpart_restart(c, p, m->offset);
                err = MQ_ERR_NO_MEMORY;
                break;
            }
            c->stats.msgs++;
            c->stats.bytes += (int64_t)m->value_len;
            err = MQ_OK;
            break;
        }
        if (got == GOT_EVENT) {
            err = MQ_OK;
            break;
        }
        if (!wait_ready(c, timeout_ms, &until, &have_until))
            break;
    }
    pthread_mutex_unlock(&c->lock);
    return err;
}

static int batch_add_chunk(mq_message_batch_t *b, mq_chunk_t *ch)
{
    if (b->nchunks && b->chunks[b->nchunks - 1] == ch)
        return 1;
    if (b->nchunks == b->chunks_cap) {
        size_t cap = b->chunks_cap ? b->chunks_cap * 2 : 8;
        mq_chunk_t **v = realloc(b->chunks, cap * sizeof(*v));
        if (!v)
            return 0;
        b->chunks = v;
        b->chunks_cap = cap;
    }
    chunk_ref(ch);
    b->chunks[b->nchunks++] = ch;
    return 1;
}

mq_err_t mq_consumer_poll_batch(mq_consumer_t *c, int32_t timeout_ms, size_t max,
                                mq_message_batch_t **out, mq_event_t **ev)
{
    if (out)
        *out = NULL;
    if (ev)
        *ev = NULL;
    if (!c || !out || !ev || !max || timeout_ms < -1)
        return MQ_ERR_INVALID_ARG;
    struct timespec until;
    int have_until = 0;
    pthread_mutex_lock(&c->lock);
    note_poll(c);
    /* Size the batch by what is queued (roughly), not by max. */
    size_t cap = max < 64 ? max : 64;
    mq_message_batch_t *b = NULL;
    mq_err_t err = MQ_ERR_TIMED_OUT;
    for (;;) {
        if (c->closed_taken && !c->cur && !c->qhead) {
            err = MQ_ERR_CLOSED;
            break;
        }
        if (!b || b->count == cap) {
            if (b)
                cap = cap * 4 < max ? cap * 4 : max;
            mq_message_batch_t *nb = realloc(b, sizeof(*b) + cap * sizeof(mq_message_t));
            if (!nb) {
                err = b ? MQ_OK : MQ_ERR_NO_MEMORY;
                break;
            }
            if (!b)
                nb->count = nb->nchunks = nb->chunks_cap = 0, nb->chunks = NULL;
            b = nb;
        }
        mq_event_t *e = NULL;
        /* An event ahead of more messages ends the batch; it comes next. */
        if (b->count && !c->cur && c->qhead && c->qhead->ev)
            break;
        int got = next_item(c, &b->msgs[b->count], &e);
        if (got == GOT_MESSAGE) {
            if (!batch_add_chunk(b, c->cur)) {
                /* Out of memory: fetch the partition again from this message
                 * (the cursor has moved past it). */
                mq_cpart_t *p = c->cur->part;
                int64_t off = b->msgs[b->count].offset;
                if (c->conf->enable_auto_offset_store)
                    p->stored = off;
                mq__cpart_restart(c, p, off);
                break;
            }
            b->msgs[b->count].chunk = NULL;
            c->stats.bytes += (int64_t)b->msgs[b->count].value_len;
            b->count++;
            c->stats.msgs++;
            if (b->count == max)
                break;
            continue;
        }
        if (got == GOT_EVENT) {
            if (b->count) {
                /* Cannot return both: keep the event first in the queue. */
                mq_qitem_t *q = calloc(1, sizeof(*q));
                if (q) {
                    q->ev = e;
                    q->next = c->qhead;
                    c->qhead = q;
                    if (!c->qtail)
                        c->qtail = q;
                    fd_set_ready(c, 1);
                } else {
                    mq_event_destroy(e);
                }
                break;
            }
            *ev = e;
            err = MQ_OK;
            break;
        }
        if (b->count || !wait_ready(c, timeout_ms, &until, &have_until))
            break;
    }
    pthread_mutex_unlock(&c->lock);
    if (b && b->count) {
        *out = b;
        return MQ_OK;
    }
    mq_message_batch_destroy(b);
    return err;
}

size_t mq_message_batch_count(const mq_message_batch_t *b)
{
    return b->count;
}

const mq_message_t *mq_message_batch_get(const mq_message_batch_t *b, size_t i)
{
    return i < b->count ? &b->msgs[i] : NULL;
}

void mq_message_batch_destroy(mq_message_batch_t *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nchunks; i++)
        mq__chunk_release(b->chunks[i]);
    free(b->chunks);
    free(b);
}

int mq_consumer_fd(mq_consumer_t *c)
{
    return c ? c->fd : MQ_ERR_INVALID_ARG;
}

/* ---- messages ----------------------------------------------------------------- */

void mq_message_destroy(mq_message_t *m)
{
    if (!m || !m->chunk)
        return;               /* NULL, or a batch member (released with its batch) */
    int in_slab = m->in_slab; /* the release may free the slab */
    mq__chunk_release(m->chunk);
    if (!in_slab)
        free(m);
}

const char *mq_message_topic(const mq_message_t *m)
{
    return m->topic;
}

int32_t mq_message_partition(const mq_message_t *m)
{
    return m->partition;
}

int64_t mq_message_offset(const mq_message_t *m)
{
    return m->offset;
}

const void *mq_message_key(const mq_message_t *m, size_t *len)
{
    if (len)
        *len = m->key_len;
    return m->key;
}

const void *mq_message_value(const mq_message_t *m, size_t *len)
{
    if (len)
        *len = m->value_len;
    return m->value;
}

int64_t mq_message_timestamp(const mq_message_t *m, mq_timestamp_type_t *type)
{
    if (type)
        *type = m->tstype;
    return m->timestamp;
}

size_t mq_message_header_count(const mq_message_t *m)
{
    return m->header_count > 0 ? (size_t)m->header_count : 0;
}

mq_err_t mq_message_header_at(const mq_message_t *m, size_t i, const char **name, size_t *name_len,
                              const void **value, size_t *value_len)
{
    if (!m || !name || !name_len || !value || !value_len)
        return MQ_ERR_INVALID_ARG;
    const uint8_t *pos = m->headers, *end = m->headers + m->headers_len;
    mq_header_t h;
    for (size_t k = 0;; k++) {
        int rc = mq__header_next(&pos, end, &h);
        if (rc < 0)
            return MQ_ERR_INVALID_BATCH;
        if (rc == 0)
            return MQ_ERR_NOT_FOUND;
        if (k == i) {
            *name = h.key;
            *name_len = h.key_len;
            *value = h.value;
            *value_len = h.value_len;
            return MQ_OK;
        }
    }
}

mq_err_t mq_message_header_get(const mq_message_t *m, const char *name, const void **value,
                               size_t *value_len)
{
    if (!m || !name || !value || !value_len)
        return MQ_ERR_INVALID_ARG;
    size_t nl = strlen(name);
    const uint8_t *pos = m->headers, *end = m->headers + m->headers_len;
    mq_header_t h;
    mq_err_t err = MQ_ERR_NOT_FOUND;
    int rc;
    while ((rc = mq__header_next(&pos, end, &h)) == 1) {
        if (h.key_len == nl && !memcmp(h.key, name, nl)) {
            *value = h.value;
            *value_len = h.value_len;
            err = MQ_OK;
        }
    }
    return rc < 0 ? MQ_ERR_INVALID_BATCH : err;
}

/* ---- subscribe, close, destroy ---------------------------------------------------- */

mq_err_t mq_consumer_subscribe(mq_consumer_t *c, const char *const *topics, size_t count)
{
    if (!c || !topics || !count)
        return MQ_ERR_INVALID_ARG;
    for (size_t i = 0; i < count; i++)
        if (!topics[i] || !topics[i][0] || (topics[i][0] == '^' && count > 1))
            return MQ_ERR_INVALID_ARG;
    if (!c->conf->group_id[0])
        return MQ_ERR_INVALID_CONFIG;
    pthread_mutex_lock(&c->lock);
    mq_err_t err = MQ_OK;
    if (c->closing)
        err = MQ_ERR_CLOSED;
    else if (c->manual)
        err = MQ_ERR_INVALID_ARG;
    else
        err = mq__group_subscribe(c, topics, count);
    pthread_mutex_unlock(&c->lock);
    mq__consumer_wake(c);
    return err;
}

mq_err_t mq_consumer_unsubscribe(mq_consumer_t *c)
{
    if (!c)
        return MQ_ERR_INVALID_ARG;
    pthread_mutex_lock(&c->lock);
    mq_err_t err = c->closing ? MQ_ERR_CLOSED : MQ_OK;
    if (err == MQ_OK && c->group)
        mq__group_unsubscribe(c);
    pthread_mutex_unlock(&c->lock);
    mq__consumer_wake(c);
    return err;
}

static void stop_thread(mq_consumer_t *c)
{
    if (!c->thread_started)
        return;
    __atomic_store_n(&c->stopping, 1, __ATOMIC_RELEASE);
    mq__consumer_wake(c);
    pthread_join(c->thread, NULL);
    c->thread_started = 0;
}

mq_err_t mq_consumer_close(mq_consumer_t *c, int32_t timeout_ms)
{
    if (!c || timeout_ms < -1)
        return MQ_ERR_INVALID_ARG;
    pthread_mutex_lock(&c->lock);
    if (!c->closing) {
        c->closing = 1;
        /* The I/O thread bounds the close by itself too (the app may only
         * poll): request.timeout.ms, or the caller's timeout. */
        int64_t limit = timeout_ms > 0 ? timeout_ms : c->conf->request_timeout_ms;
        c->close_deadline_ms = mq__mono_ms() + limit;
    }
    mq__consumer_wake(c);
    if (timeout_ms == 0) {
        pthread_mutex_unlock(&c->lock);
        return MQ_OK;
    }
    struct timespec until;
    mq__abstime(&until, timeout_ms > 0 ? timeout_ms : 0);
    int timed_out = 0;
    while (c->closing != 2) {
        int rc = timeout_ms < 0 ? pthread_cond_wait(&c->cond, &c->lock)
                                : pthread_cond_timedwait(&c->cond, &c->lock, &until);
        if (rc == ETIMEDOUT) {
            timed_out = c->closing != 2;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    /* Cut short or done: the I/O thread exits (it queues CLOSED first). */
    stop_thread(c);
    return timed_out ? MQ_ERR_TIMED_OUT : MQ_OK;
}

void mq_consumer_destroy(mq_consumer_t *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    if (!c->closing) {
        c->closing = 1;
        c->close_deadline_ms = mq__mono_ms();
    }
    pthread_mutex_unlock(&c->lock);
    stop_thread(c);
    pthread_mutex_lock(&c->lock);
    drop_cursor(c);
    while (c->qhead) {
        mq_qitem_t *q = c->qhead;
        c->qhead = q->next;
        free_qitem(c, q);
    }
    while (c->ops) {
        mq_op_t *op = c->ops;
        c->ops = op->next;
        mq__op_release(c, op);
    }
    pthread_mutex_unlock(&c->lock);
    mq__group_free(c->group);
    while (c->parts) {
        mq_cpart_t *p = c->parts;
        c->parts = p->next;
        free(p->topic);
        free(p);
    }
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free_consumer(c);
}
