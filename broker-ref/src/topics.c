/* The topic registry: a name-sorted array of topic pointers under a rwlock.
 * Lookups (I/O loops) take the read lock and an atomic reference; only the
 * metadata thread writes. A topic is freed when its last reference drops,
 * which for a deleted topic is after the metadata thread destroyed its
 * partitions. */
#include "topics.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_rwlock_t g_lock = PTHREAD_RWLOCK_INITIALIZER;
static topic_t **g_topics;
static int g_count;
static int g_cap;

/* Signalled when a deleting topic's references drop to one. */
static pthread_mutex_t g_ref_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_ref_cond = PTHREAD_COND_INITIALIZER;

mq_err_t topics_validate_name(const char *name)
{
    if (!name)
        return MQ_ERR_INVALID_TOPIC;
    size_t n = strnlen(name, TOPIC_NAME_MAX + 1);
    if (n == 0 || n > TOPIC_NAME_MAX)
        return MQ_ERR_INVALID_TOPIC;
    if (!strcmp(name, ".") || !strcmp(name, ".."))
        return MQ_ERR_INVALID_TOPIC;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok)
            return MQ_ERR_INVALID_TOPIC;
    }
    return MQ_OK;
}

topic_t *topic_new(const char *name, int32_t partitions, const log_config_t *cfg,
                   const char *config_json, int64_t created_ms)
{
    if (topics_validate_name(name) != MQ_OK || partitions < 1)
        return NULL;
    topic_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->parts = calloc((size_t)partitions, sizeof(*t->parts));
    t->config_json = strdup(config_json ? config_json : "{}");
    if (!t->parts || !t->config_json) {
        free(t->parts);
        free(t->config_json);
        free(t);
        return NULL;
    }
    strcpy(t->name, name);
    t->partition_count = partitions;
    t->cfg = *cfg;
    t->created_ms = created_ms;
    t->refs = 1;
    pthread_mutex_init(&t->cfg_lock, NULL);
    return t;
}

static void topic_free(topic_t *t)
{
    pthread_mutex_destroy(&t->cfg_lock);
    free(t->parts);
    free(t->config_json);
    free(t);
}

void topic_release(topic_t *t)
{
    if (!t)
        return;
    /* Read the flag before dropping our reference: once it is dropped another
     * holder may free t. The waiter re-checks on a short period, so a release
     * racing with the flag being set costs at most one slice, never a hang. */
    if (!__atomic_load_n(&t->deleting, __ATOMIC_ACQUIRE)) {
        if (__atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) == 0)
            topic_free(t);
        return;
    }
    pthread_mutex_lock(&g_ref_mu);
    int left = __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL);
    if (left == 1)
        pthread_cond_broadcast(&g_ref_cond);
    pthread_mutex_unlock(&g_ref_mu);
    if (left == 0)
        topic_free(t);
}

int topic_wait_sole_ref(topic_t *t, int timeout_ms)
{
    struct timespec now, until, slice;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    pthread_mutex_lock(&g_ref_mu);
    while (__atomic_load_n(&t->refs, __ATOMIC_ACQUIRE) > 1) {
        clock_gettime(CLOCK_REALTIME, &now);
        if (now.tv_sec > until.tv_sec ||
            (now.tv_sec == until.tv_sec && now.tv_nsec >= until.tv_nsec)) {
            rc = -1;
            break;
        }
        slice = now;
        slice.tv_nsec += 10 * 1000000L;
        if (slice.tv_nsec >= 1000000000L) {
            slice.tv_sec++;
            slice.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g_ref_cond, &g_ref_mu, &slice);
    }
    pthread_mutex_unlock(&g_ref_mu);
    return rc;
}

void topic_get_config(topic_t *t, log_config_t *cfg, char **json)
{
    pthread_mutex_lock(&t->cfg_lock);
    if (cfg)
        *cfg = t->cfg;
    if (json)
        *json = strdup(t->config_json ? t->config_json : "{}");
    pthread_mutex_unlock(&t->cfg_lock);
}

void topic_set_config(topic_t *t, const log_config_t *cfg, char *config_json)
{
    pthread_mutex_lock(&t->cfg_lock);
    t->cfg = *cfg;
    char *old = t->config_json;
    t->config_json = config_json;
    pthread_mutex_unlock(&t->cfg_lock);
    free(old);
}

/* Index of name, or -(insertion point) - 1. Caller holds the lock. */
static int find(const char *name)
{
    int lo = 0, hi = g_count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(g_topics[mid]->name, name);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -lo - 1;
}

topic_t *topics_get(const char *name)
{
    if (!name)
        return NULL;
    topic_t *t = NULL;
    pthread_rwlock_rdlock(&g_lock);
    int i = find(name);
    if (i >= 0) {
        t = g_topics[i];
        __atomic_add_fetch(&t->refs, 1, __ATOMIC_ACQ_REL);
    }
    pthread_rwlock_unlock(&g_lock);
    return t;
}

void topics_foreach(void (*fn)(topic_t *t, void *arg), void *arg)
{
    /* Snapshot with references held so fn runs without the lock (it may be
     * slow, e.g. stat() partitions) and the registry can change meanwhile. */
    pthread_rwlock_rdlock(&g_lock);
    int n = g_count;
    topic_t **snap = n ? malloc((size_t)n * sizeof(*snap)) : NULL;
    if (n && !snap) {
        pthread_rwlock_unlock(&g_lock);
        return;
    }
    for (int i = 0; i < n; i++) {
        snap[i] = g_topics[i];
        __atomic_add_fetch(&snap[i]->refs, 1, __ATOMIC_ACQ_REL);
    }
    pthread_rwlock_unlock(&g_lock);
    for (int i = 0; i < n; i++) {
        fn(snap[i], arg);
        topic_release(snap[i]);
    }
    free(snap);
}

int topics_count(void)
{
    pthread_rwlock_rdlock(&g_lock);
    int n = g_count;
    pthread_rwlock_unlock(&g_lock);
    return n;
}

int64_t topics_partition_total(void)
{
    int64_t n = 0;
    pthread_rwlock_rdlock(&g_lock);
    for (int i = 0; i < g_count; i++)
        n += g_topics[i]->partition_count;
    pthread_rwlock_unlock(&g_lock);
    return n;
}

mq_err_t topics_publish(topic_t *t)
{
    mq_err_t err = MQ_OK;
    pthread_rwlock_wrlock(&g_lock);
    int i = find(t->name);
    if (i >= 0) {
        err = MQ_ERR_TOPIC_EXISTS;
        goto out;
    }
    if (g_count == g_cap) {
        int cap = g_cap ? g_cap * 2 : 16;
        topic_t **grown = realloc(g_topics, (size_t)cap * sizeof(*grown));
        if (!grown) {
            err = MQ_ERR_NO_MEMORY;
            goto out;
        }
        g_topics = grown;
        g_cap = cap;
    }
    int at = -i - 1;
    memmove(g_topics + at + 1, g_topics + at, (size_t)(g_count - at) * sizeof(*g_topics));
    g_topics[at] = t;
    g_count++;
out:
    pthread_rwlock_unlock(&g_lock);
    return err;
}

topic_t *topics_unpublish(const char *name)
{
    topic_t *t = NULL;
    pthread_rwlock_wrlock(&g_lock);
    int i = find(name);
    if (i >= 0) {
        t = g_topics[i];
        memmove(g_topics + i, g_topics + i + 1, (size_t)(g_count - i - 1) * sizeof(*g_topics));
        g_count--;
        __atomic_store_n(&t->deleting, 1, __ATOMIC_RELEASE);
    }
    if (g_count == 0) {
        free(g_topics);
        g_topics = NULL;
        g_cap = 0;
    }
    pthread_rwlock_unlock(&g_lock);
    return t;
}
