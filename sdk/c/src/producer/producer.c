/* The producer's public calls. mq_produce validates, sizes the record and
 * hands it to the accumulator; everything on the network happens in the
 * I/O thread (sender.c). */
#include "producer/producer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Headers are converted on the stack up to this many; more go to the heap. */
#define STACK_HEADERS 16

static void seterr(char *errstr, size_t size, const char *msg)
{
    if (errstr && size)
        snprintf(errstr, size, "%s", msg);
}

void mq__producer_wake(void *arg)
{
    mq_producer_t *p = arg;
    if (__atomic_exchange_n(&p->wake_pending, 1, __ATOMIC_ACQ_REL))
        return; /* already pending: the I/O thread will look */
    uint64_t one = 1;
    ssize_t r = write(p->wakefd, &one, sizeof(one));
    (void)r;
}

/* Splits "h1:p1,h2:p2" (IPv6 as [addr]:port). */
static mq_err_t parse_servers(mq_producer_t *p, const char *list, char *errstr, size_t size)
{
    char *copy = strdup(list);
    if (!copy)
        return MQ_ERR_NO_MEMORY;
    mq_err_t err = MQ_OK;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        char *colon = strrchr(tok, ':');
        char *host = tok;
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
        if (host[0] == '[' && colon[-1] == ']') {
            host++;
            colon[-1] = '\0';
        }
        mq_server_t *s = realloc(p->servers, (size_t)(p->nservers + 1) * sizeof(*s));
        if (!s) {
            err = MQ_ERR_NO_MEMORY;
            break;
        }
        p->servers = s;
        s[p->nservers].host = strdup(host);
        s[p->nservers].port = strdup(colon + 1);
        p->nservers++;
        if (!s[p->nservers - 1].host || !s[p->nservers - 1].port) {
            err = MQ_ERR_NO_MEMORY;
            break;
        }
    }
    free(copy);
    if (err == MQ_OK && p->nservers == 0) {
        seterr(errstr, size, "\"bootstrap.servers\" must name at least one broker");
        err = MQ_ERR_INVALID_CONFIG;
    }
    return err;
}

static void free_producer(mq_producer_t *p)
{
    for (int i = 0; i < p->nservers; i++) {
        free(p->servers[i].host);
        free(p->servers[i].port);
    }
    free(p->servers);
    mq__tls_free(p->tls);
    if (p->epfd >= 0)
        close(p->epfd);
    if (p->wakefd >= 0)
        close(p->wakefd);
    mq_conf_destroy(p->conf);
    free(p);
}

mq_err_t mq_producer_new(const mq_conf_t *conf, mq_producer_t **out, char *errstr,
                         size_t errstr_size)
{
    if (errstr && errstr_size)
        errstr[0] = '\0';
    if (!out) {
        seterr(errstr, errstr_size, "out must not be NULL");
        return MQ_ERR_INVALID_ARG;
    }
    *out = NULL;
    mq_producer_t *p = calloc(1, sizeof(*p));
    if (!p)
        return MQ_ERR_NO_MEMORY;
    p->epfd = p->wakefd = -1;
    p->conf = conf ? mq_conf_dup(conf) : mq_conf_new();
    if (!p->conf) {
        free(p);
        return MQ_ERR_NO_MEMORY;
    }
    mq_err_t err = mq__conf_check(p->conf, errstr, errstr_size);
    if (err == MQ_OK)
        err = parse_servers(p, p->conf->bootstrap_servers, errstr, errstr_size);
    if (err == MQ_OK)
        err = mq__tls_new(p->conf, &p->tls, errstr, errstr_size);
    if (err != MQ_OK) {
        free_producer(p);
        return err;
    }
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    p->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (p->epfd < 0 || p->wakefd < 0 || epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->wakefd, &ev) != 0) {
        seterr(errstr, errstr_size, "cannot create epoll or eventfd");
        free_producer(p);
        return MQ_ERR_UNKNOWN;
    }
    /* Without idempotence a retry must not overtake a later batch, so one
     * batch per partition is in flight; with it, sequence numbers let the
     * broker reject a gap and up to max.in.flight may be. */
    int32_t per_part = p->conf->enable_idempotence ? (int32_t)p->conf->max_in_flight : 1;
    if (mq__eq_init(&p->events) != MQ_OK) {
        free_producer(p);
        return MQ_ERR_UNKNOWN;
    }
    mq__acc_init(&p->acc, p->conf, per_part, mq__producer_wake, p);
    pthread_mutex_init(&p->close_lock, NULL);
    p->producer_id = -1;
    p->producer_epoch = -1;
    p->rng = (uint64_t)(uintptr_t)p ^ (uint64_t)mq__wall_ms();
    mq__backoff_init(&p->reconnect_backoff, p->conf->reconnect_backoff_ms,
                     p->conf->reconnect_backoff_max_ms, p->rng);
    mq__backoff_init(&p->pid_backoff, p->conf->retry_backoff_ms, p->conf->retry_backoff_max_ms,
                     p->rng + 0x9e3779b97f4a7c15ull);
    if (pthread_create(&p->thread, NULL, mq__sender_main, p) != 0) {
        seterr(errstr, errstr_size, "cannot start the I/O thread");
        mq__acc_destroy(&p->acc);
        mq__eq_destroy(&p->events);
        pthread_mutex_destroy(&p->close_lock);
        free_producer(p);
        return MQ_ERR_UNKNOWN;
    }
    p->thread_started = 1;
    *out = p;
    return MQ_OK;
}

/* The common tail of mq_produce: size, timestamp, accumulator. */
static inline mq_err_t produce(mq_producer_t *p, const char *topic, int32_t partition,
                               const void *key, size_t key_len, const void *value, size_t value_len,
                               const mq_header_t *hs, size_t header_count, int64_t timestamp_ms,
                               void *opaque, uint32_t flags)
{
    /* Sized with the largest deltas a batch could give it, so it always fits
     * (constant deltas: the size folds to a few adds). */
    size_t size = mq__batch_record_size(INT64_MAX / 2, INT32_MAX, key_len, !key, value_len, !value,
                                        hs, header_count);
    if (size == SIZE_MAX || size > (size_t)p->conf->message_max_bytes)
        return MQ_ERR_MESSAGE_TOO_LARGE;
    mq_acc_msg_t m = {.key = key,
                      .value = value,
                      .key_len = key_len,
                      .value_len = value_len,
                      .headers = hs,
                      .header_count = header_count,
                      .timestamp = timestamp_ms > 0 ? timestamp_ms : mq__wall_ms(),
                      .opaque = opaque,
                      .bytes = size};
    return mq__acc_append(&p->acc, topic, partition, &m, flags & MQ_PRODUCE_BLOCK);
}

/* Headers are converted to the codec's form (with key lengths) first; kept
 * apart so the header-less call has no big stack frame. */
static mq_err_t produce_with_headers(mq_producer_t *p, const char *topic, int32_t partition,
                                     const void *key, size_t key_len, const void *value,
                                     size_t value_len, const mq_msg_header_t *headers,
                                     size_t header_count, int64_t timestamp_ms, void *opaque,
                                     uint32_t flags)
{
    mq_header_t stack[STACK_HEADERS];
    mq_header_t *hs = stack;
    if (header_count == 0)
        __builtin_unreachable(); /* mq_produce's check (tells gcc hs[0] gets written) */
    if (header_count > STACK_HEADERS && !(hs = malloc(header_count * sizeof(*hs))))
        return MQ_ERR_NO_MEMORY;
    mq_err_t err = MQ_OK;
    for (size_t i = 0; i < header_count; i++) {
        if (!headers[i].key || (headers[i].value_len && !headers[i].value)) {
            err = MQ_ERR_INVALID_ARG;
            goto out;
        }
        hs[i] = (mq_header_t){headers[i].key, strlen(headers[i].key), headers[i].value,
                              headers[i].value_len};
    }
    err = produce(p, topic, partition, key, key_len, value, value_len, hs, header_count,
                  timestamp_ms, opaque, flags);
out:
    if (hs != stack)
        free(hs);
    return err;
}

mq_err_t mq_produce(mq_producer_t *p, const char *topic, int32_t partition, const void *key,
                    size_t key_len, const void *value, size_t value_len,
                    const mq_msg_header_t *headers, size_t header_count, int64_t timestamp_ms,
                    void *opaque, uint32_t flags)
{
    if (!p || !topic || !topic[0] || partition < MQ_PARTITION_ANY || (key_len && !key) ||
        (value_len && !value) || (header_count && !headers) || (flags & ~MQ_PRODUCE_BLOCK))
        return MQ_ERR_INVALID_ARG;
    if (header_count)
        return produce_with_headers(p, topic, partition, key, key_len, value, value_len, headers,
                                    header_count, timestamp_ms, opaque, flags);
    return produce(p, topic, partition, key, key_len, value, value_len, NULL, 0, timestamp_ms,
                   opaque, flags);
}

mq_err_t mq_producer_poll(mq_producer_t *p, int32_t timeout_ms, mq_event_t **out)
{
    if (out)
        *out = NULL;
    if (!p || !out || timeout_ms < -1)
        return MQ_ERR_INVALID_ARG;
    return mq__eq_pop(&p->events, timeout_ms, out);
}

int mq_producer_fd(mq_producer_t *p)
{
    return p ? p->events.fd : MQ_ERR_INVALID_ARG;
}

mq_err_t mq_producer_flush(mq_producer_t *p, int32_t timeout_ms)
{
    if (!p || timeout_ms < -1)
        return MQ_ERR_INVALID_ARG;
    __atomic_add_fetch(&p->flushing, 1, __ATOMIC_ACQ_REL);
    mq__producer_wake(p);
    mq_err_t err = mq__acc_wait_empty(&p->acc, timeout_ms);
    __atomic_sub_fetch(&p->flushing, 1, __ATOMIC_ACQ_REL);
    return err;
}

mq_err_t mq_producer_close(mq_producer_t *p, int32_t timeout_ms)
{
    if (!p || timeout_ms < -1)
        return MQ_ERR_INVALID_ARG;
    pthread_mutex_lock(&p->close_lock);
    if (p->closed) {
        pthread_mutex_unlock(&p->close_lock);
        return MQ_OK;
    }
    p->closed = 1;
    mq__acc_close(&p->acc);
    mq_err_t err = mq_producer_flush(p, timeout_ms);
    /* The I/O thread fails whatever is left with MQ_ERR_CLOSED, then exits. */
    __atomic_store_n(&p->stopping, 1, __ATOMIC_RELEASE);
    mq__producer_wake(p);
    pthread_join(p->thread, NULL);
    p->thread_started = 0;
    mq__eq_close(&p->events);
    pthread_mutex_unlock(&p->close_lock);
    return err;
}

void mq_producer_destroy(mq_producer_t *p)
{
    if (!p)
        return;
    mq_producer_close(p, 0);
    mq__acc_destroy(&p->acc);
    mq__eq_destroy(&p->events);
    pthread_mutex_destroy(&p->close_lock);
    free_producer(p);
}
