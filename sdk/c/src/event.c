/* Events and the poll queue. A delivered batch of N messages becomes N
 * events in one allocation and one queue push, so reporting costs little
 * per message; each event is still freed on its own by mq_event_destroy. */
#include "event.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

int64_t mq__mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mq__wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Condition variables here use CLOCK_MONOTONIC (see mq__cond_init). */
void mq__abstime(struct timespec *ts, int64_t timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (timeout_ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

mq_event_t *mq__events_new(size_t n, mq_event_type_t type, const char *topic, const char *text)
{
    if (n == 0)
        return NULL;
    mq_event_block_t *b = malloc(sizeof(*b) + n * sizeof(mq_event_t));
    if (!b)
        return NULL;
    b->topic = dup_or_empty(topic);
    b->text = text ? strdup(text) : NULL;
    if (!b->topic || (text && !b->text)) {
        free(b->topic);
        free(b->text);
        free(b);
        return NULL;
    }
    b->refs = (int)n;
    b->conn_state = MQ_CONN_NONE;
    b->parts = NULL;
    b->nparts = 0;
    b->rebalance = MQ_REBALANCE_NONE;
    mq_event_t *ev = (mq_event_t *)(b + 1);
    for (size_t i = 0; i < n; i++) {
        ev[i] = (mq_event_t){.next = i + 1 < n ? &ev[i + 1] : NULL,
                             .block = b,
                             .type = type,
                             .err = MQ_OK,
                             .persisted = MQ_NOT_PERSISTED,
                             .partition = -1,
                             .opaque = NULL,
                             .offset = -1,
                             .timestamp = -1};
    }
    return ev;
}

void mq_event_destroy(mq_event_t *ev)
{
    if (!ev)
        return;
    mq_event_block_t *b = ev->block;
    if (__atomic_fetch_sub(&b->refs, 1, __ATOMIC_ACQ_REL) != 1)
        return;
    free(b->topic);
    free(b->text);
    free(b->parts);
    free(b);
}

mq_err_t mq__event_set_parts(mq_event_t *ev, const mq_topic_partition_t *parts, size_t n)
{
    size_t strings = 0;
    for (size_t i = 0; i < n; i++)
        strings += strlen(parts[i].topic) + 1;
    mq_topic_partition_t *copy = malloc(n * sizeof(*copy) + strings + 1);
    if (!copy)
        return MQ_ERR_NO_MEMORY;
    char *sp = (char *)(copy + n);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(parts[i].topic) + 1;
        memcpy(sp, parts[i].topic, len);
        copy[i] = parts[i];
        copy[i].topic = sp;
        sp += len;
    }
    free(ev->block->parts);
    ev->block->parts = copy;
    ev->block->nparts = n;
    return MQ_OK;
}

mq_rebalance_type_t mq_event_rebalance_type(const mq_event_t *ev)
{
    return ev->type == MQ_EVENT_REBALANCE ? ev->block->rebalance : MQ_REBALANCE_NONE;
}

const mq_topic_partition_t *mq_event_partitions(const mq_event_t *ev, size_t *count)
{
    int has = ev->type == MQ_EVENT_REBALANCE || ev->type == MQ_EVENT_COMMIT;
    *count = has ? ev->block->nparts : 0;
    return has && ev->block->nparts ? ev->block->parts : NULL;
}

/* Events about one partition: delivery reports, partition EOF, and errors
 * the consumer ties to a partition (partition >= 0). */
static int has_partition(const mq_event_t *ev)
{
    return ev->type == MQ_EVENT_DELIVERY || ev->type == MQ_EVENT_PARTITION_EOF ||
           (ev->type == MQ_EVENT_ERROR && ev->partition >= 0);
}

mq_event_type_t mq_event_type(const mq_event_t *ev)
{
    return ev->type;
}

mq_err_t mq_event_error(const mq_event_t *ev)
{
    return ev->type == MQ_EVENT_STATS ? MQ_OK : ev->err;
}

const char *mq_event_error_string(const mq_event_t *ev)
{
    if (ev->err == MQ_OK || ev->type == MQ_EVENT_STATS)
        return "";
    return ev->block->text ? ev->block->text : mq_err_str(ev->err);
}

void *mq_event_opaque(const mq_event_t *ev)
{
    return ev->type == MQ_EVENT_DELIVERY ? ev->opaque : NULL;
}

const char *mq_event_topic(const mq_event_t *ev)
{
    return has_partition(ev) ? ev->block->topic : "";
}

int32_t mq_event_partition(const mq_event_t *ev)
{
    return has_partition(ev) ? ev->partition : -1;
}

int64_t mq_event_offset(const mq_event_t *ev)
{
    return has_partition(ev) ? ev->offset : -1;
}

int64_t mq_event_timestamp(const mq_event_t *ev)
{
    return ev->type == MQ_EVENT_DELIVERY || ev->type == MQ_EVENT_CONNECTION ? ev->timestamp : -1;
}

mq_persisted_t mq_event_persisted(const mq_event_t *ev)
{
    return ev->type == MQ_EVENT_DELIVERY ? ev->persisted : MQ_NOT_PERSISTED;
}

const char *mq_event_stats(const mq_event_t *ev)
{
    return ev->type == MQ_EVENT_STATS && ev->block->text ? ev->block->text : "";
}

mq_conn_state_t mq_event_conn_state(const mq_event_t *ev)
{
    return ev->type == MQ_EVENT_CONNECTION ? (mq_conn_state_t)ev->block->conn_state : MQ_CONN_NONE;
}

const char *mq_event_broker(const mq_event_t *ev)
{
    return ev->type == MQ_EVENT_CONNECTION ? ev->block->topic : "";
}

static int is_reconnecting(const mq_event_t *ev)
{
    return ev->type == MQ_EVENT_CONNECTION && ev->block->conn_state == MQ_CONN_RECONNECTING;
}

int32_t mq_event_conn_attempt(const mq_event_t *ev)
{
    return is_reconnecting(ev) ? ev->partition : 0;
}

int64_t mq_event_conn_delay_ms(const mq_event_t *ev)
{
    return is_reconnecting(ev) ? ev->offset : -1;
}

/* ---- Queue --------------------------------------------------------------- */

mq_err_t mq__eq_init(mq_event_queue_t *q)
{
    memset(q, 0, sizeof(*q));
    q->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->fd < 0)
        return MQ_ERR_UNKNOWN;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&q->lock, NULL);
    return MQ_OK;
}

void mq__eq_destroy(mq_event_queue_t *q)
{
    mq_event_t *ev = q->head;
    while (ev) {
        mq_event_t *next = ev->next;
        mq_event_destroy(ev);
        ev = next;
    }
    close(q->fd);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
}

static void fd_signal(int fd)
{
    uint64_t one = 1;
    ssize_t r = write(fd, &one, sizeof(one));
    (void)r; /* EAGAIN means the counter is already non-zero: readable anyway */
}

static void fd_clear(int fd)
{
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof(v));
    (void)r;
}

void mq__eq_push(mq_event_queue_t *q, mq_event_t *first, mq_event_t *last, size_t n)
{
    if (!first)
        return;
    last->next = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->tail)
        q->tail->next = first;
    else
        q->head = first;
    q->tail = last;
    if (q->count == 0)
        fd_signal(q->fd);
    q->count += n;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

void mq__eq_close(mq_event_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    if (q->count == 0)
        fd_signal(q->fd); /* wake an app loop so it sees MQ_ERR_CLOSED */
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

mq_err_t mq__eq_pop(mq_event_queue_t *q, int32_t timeout_ms, mq_event_t **out)
{
    struct timespec until;
    if (timeout_ms > 0)
        mq__abstime(&until, timeout_ms);
    pthread_mutex_lock(&q->lock);
    while (!q->head && !q->closed && timeout_ms != 0) {
        int rc = timeout_ms < 0 ? pthread_cond_wait(&q->cond, &q->lock)
                                : pthread_cond_timedwait(&q->cond, &q->lock, &until);
        if (rc == ETIMEDOUT)
            break;
    }
    mq_event_t *ev = q->head;
    if (!ev) {
        mq_err_t err = q->closed ? MQ_ERR_CLOSED : MQ_ERR_TIMED_OUT;
        pthread_mutex_unlock(&q->lock);
        return err;
    }
    q->head = ev->next;
    if (!q->head)
        q->tail = NULL;
    if (--q->count == 0 && !q->closed)
        fd_clear(q->fd);
    pthread_mutex_unlock(&q->lock);
    ev->next = NULL;
    *out = ev;
    return MQ_OK;
}
