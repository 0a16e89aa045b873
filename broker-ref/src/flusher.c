/* The fsync thread: group commit for acks=all. */
#include "flusher.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"

typedef struct freq {
    struct freq *next;
    topic_t *topic;
    part_t *part;
    loop_t *loop;
    flusher_done_cb done;
    void *arg;
    mq_err_t err;
} freq_t;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    pthread_t thread;
    int running;
    int stopping;
    freq_t *head, *tail;
    int delay_ms;
} g_fl = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void run_done(loop_t *loop, void *arg)
{
    freq_t *r = arg;
    r->done(loop, r->arg, r->err);
    free(r);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Flushes each distinct partition of the batch once, then answers all. */
static void flush_batch(freq_t *list)
{
    for (freq_t *r = list; r; r = r->next) {
        freq_t *first = NULL;
        for (freq_t *q = list; q != r; q = q->next)
            if (q->part == r->part) {
                first = q;
                break;
            }
        if (first) {
            r->err = first->err;
            continue;
        }
        if (g_fl.delay_ms > 0)
            sleep_ms(g_fl.delay_ms);
        r->err = part_flush(r->part);
        if (r->err != MQ_OK)
            log_error("\"fsync failed\" topic=%s err=%s", r->topic->name, mq_err_name(r->err));
    }
    while (list) {
        freq_t *next = list->next;
        topic_release(list->topic);
        list->topic = NULL;
        if (loop_post(list->loop, run_done, list) != 0) {
            log_error("\"cannot post fsync completion\"");
            free(list);
        }
        list = next;
    }
}

static void *flusher_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "mq-fsync");
    pthread_mutex_lock(&g_fl.mu);
    for (;;) {
        while (!g_fl.head && !g_fl.stopping)
            pthread_cond_wait(&g_fl.cond, &g_fl.mu);
        freq_t *list = g_fl.head;
        g_fl.head = g_fl.tail = NULL;
        if (!list && g_fl.stopping)
            break;
        pthread_mutex_unlock(&g_fl.mu);
        flush_batch(list);
        pthread_mutex_lock(&g_fl.mu);
    }
    pthread_mutex_unlock(&g_fl.mu);
    return NULL;
}

mq_err_t flusher_start(void)
{
    const char *d = getenv("MQ_TEST_FSYNC_DELAY_MS");
    g_fl.delay_ms = d ? atoi(d) : 0;
    if (g_fl.delay_ms > 0)
        log_warn("\"test hook: fsync delayed\" delay_ms=%d", g_fl.delay_ms);
    g_fl.stopping = 0;
    if (pthread_create(&g_fl.thread, NULL, flusher_main, NULL) != 0)
        return MQ_ERR_NO_MEMORY;
    g_fl.running = 1;
    return MQ_OK;
}

void flusher_stop(void)
{
    if (!g_fl.running)
        return;
    pthread_mutex_lock(&g_fl.mu);
    g_fl.stopping = 1;
    pthread_cond_signal(&g_fl.cond);
    pthread_mutex_unlock(&g_fl.mu);
    pthread_join(g_fl.thread, NULL);
    g_fl.running = 0;
}

mq_err_t flusher_request(topic_t *t, int32_t partition, loop_t *loop, flusher_done_cb done,
                         void *arg)
{
    if (partition < 0 || partition >= t->partition_count || !t->parts[partition])
        return MQ_ERR_UNKNOWN_PARTITION;
    freq_t *r = calloc(1, sizeof(*r));
    if (!r)
        return MQ_ERR_NO_MEMORY;
    r->part = t->parts[partition];
    r->loop = loop;
    r->done = done;
    r->arg = arg;
    pthread_mutex_lock(&g_fl.mu);
    if (!g_fl.running || g_fl.stopping) {
        pthread_mutex_unlock(&g_fl.mu);
        free(r);
        return MQ_ERR_SHUTTING_DOWN;
    }
    __atomic_add_fetch(&t->refs, 1, __ATOMIC_ACQ_REL);
    r->topic = t;
    if (g_fl.tail)
        g_fl.tail->next = r;
    else
        g_fl.head = r;
    g_fl.tail = r;
    pthread_cond_signal(&g_fl.cond);
    pthread_mutex_unlock(&g_fl.mu);
    return MQ_OK;
}
