/* The epoll event loop: one per I/O thread. Timers live in a binary min-heap
 * keyed by deadline; callbacks posted from other threads sit in a
 * mutex-protected queue and wake the loop through an eventfd. */
#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOOP_MAX_EVENTS 128

typedef struct post {
    struct post *next;
    loop_post_cb cb;
    void *arg;
} post_t;

struct loop {
    int index;
    int epfd;
    int wakefd;
    int stop; /* atomic */

    loop_timer_t **heap;
    int heap_len;
    int heap_cap;

    pthread_mutex_t post_mu;
    post_t *post_head;
    post_t *post_tail;
    int wake_pending; /* under post_mu: an eventfd write is outstanding */

    /* The batch epoll_wait returned, so loop_io_del can drop events for an
     * io that is removed (and maybe freed) while the batch is dispatched. */
    struct epoll_event events[LOOP_MAX_EVENTS];
    int nevents;
    int cur_event;
};

int64_t loop_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t wall_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

loop_t *loop_new(int index)
{
    loop_t *loop = calloc(1, sizeof(*loop));
    if (!loop)
        return NULL;
    loop->index = index;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->epfd < 0 || loop->wakefd < 0)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev) != 0)
        goto fail;
    pthread_mutex_init(&loop->post_mu, NULL);
    return loop;
fail:
    log_error("\"event loop setup failed\" errno=%d", errno);
    if (loop->epfd >= 0)
        close(loop->epfd);
    if (loop->wakefd >= 0)
        close(loop->wakefd);
    free(loop);
    return NULL;
}

static void run_posts(loop_t *loop);

void loop_free(loop_t *loop)
{
    if (!loop)
        return;
    /* Callbacks still queued own their args: run them so nothing leaks. */
    run_posts(loop);
    close(loop->epfd);
    close(loop->wakefd);
    pthread_mutex_destroy(&loop->post_mu);
    free(loop->heap);
    free(loop);
}

int loop_index(const loop_t *loop)
{
    return loop->index;
}

/* ---- fd watchers ------------------------------------------------------- */

int loop_io_add(loop_t *loop, loop_io_t *io, int fd, uint32_t events, loop_io_cb cb, void *data)
{
    io->fd = fd;
    io->events = events;
    io->cb = cb;
    io->data = data;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int loop_io_mod(loop_t *loop, loop_io_t *io, uint32_t events)
{
    if (io->events == events)
        return 0;
    io->events = events;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev);
}

void loop_io_del(loop_t *loop, loop_io_t *io)
{
    if (io->fd >= 0)
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    for (int i = loop->cur_event + 1; i < loop->nevents; i++) {
        if (loop->events[i].data.ptr == io)
            loop->events[i].events = 0;
    }
    io->fd = -1;
}

/* ---- timers (binary min-heap) ------------------------------------------ */

static void heap_swap(loop_t *loop, int a, int b)
{
    loop_timer_t *t = loop->heap[a];
    loop->heap[a] = loop->heap[b];
    loop->heap[b] = t;
    loop->heap[a]->heap_index = a;
    loop->heap[b]->heap_index = b;
}

static void heap_up(loop_t *loop, int i)
{
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (loop->heap[parent]->deadline_ms <= loop->heap[i]->deadline_ms)
            break;
        heap_swap(loop, i, parent);
        i = parent;
    }
}

static void heap_down(loop_t *loop, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < loop->heap_len && loop->heap[l]->deadline_ms < loop->heap[m]->deadline_ms)
            m = l;
        if (r < loop->heap_len && loop->heap[r]->deadline_ms < loop->heap[m]->deadline_ms)
            m = r;
        if (m == i)
            return;
        heap_swap(loop, i, m);
        i = m;
    }
}

void loop_timer_init(loop_timer_t *t, loop_timer_cb cb, void *data)
{
    t->deadline_ms = 0;
    t->cb = cb;
    t->data = data;
    t->heap_index = -1;
}

void loop_timer_stop(loop_t *loop, loop_timer_t *t)
{
    int i = t->heap_index;
    if (i < 0)
        return;
    int last = --loop->heap_len;
    if (i != last) {
        loop->heap[i] = loop->heap[last];
        loop->heap[i]->heap_index = i;
        heap_up(loop, i);
        heap_down(loop, loop->heap[i]->heap_index);
    }
    t->heap_index = -1;
}

void loop_timer_start(loop_t *loop, loop_timer_t *t, int64_t deadline_ms)
{
    loop_timer_stop(loop, t);
    if (loop->heap_len == loop->heap_cap) {
        int cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
        loop_timer_t **h = realloc(loop->heap, (size_t)cap * sizeof(*h));
        if (!h) {
            /* Without room the timer cannot be armed; firing it now is the
             * safest fallback (callers treat it as expiry). */
            log_error("\"timer heap allocation failed\"");
            t->deadline_ms = deadline_ms;
            t->cb(loop, t);
            return;
        }
        loop->heap = h;
        loop->heap_cap = cap;
    }
    t->deadline_ms = deadline_ms;
    t->heap_index = loop->heap_len;
    loop->heap[loop->heap_len++] = t;
    heap_up(loop, t->heap_index);
}

static void run_timers(loop_t *loop)
{
    int64_t now = loop_now_ms();
    /* Bound the pass so a callback re-arming an expired timer cannot spin. */
    int budget = loop->heap_len;
    while (loop->heap_len > 0 && budget-- > 0) {
        loop_timer_t *t = loop->heap[0];
        if (t->deadline_ms > now)
            break;
        loop_timer_stop(loop, t);
        t->cb(loop, t);
    }
}

/* ---- cross-thread posts ------------------------------------------------ */

int loop_post(loop_t *loop, loop_post_cb cb, void *arg)
{
    post_t *p = malloc(sizeof(*p));
    if (!p)
        return -1;
    p->next = NULL;
    p->cb = cb;
    p->arg = arg;
    pthread_mutex_lock(&loop->post_mu);
    if (loop->post_tail)
        loop->post_tail->next = p;
    else
        loop->post_head = p;
    loop->post_tail = p;
    int wake = !loop->wake_pending;
    loop->wake_pending = 1;
    pthread_mutex_unlock(&loop->post_mu);
    if (wake) {
        uint64_t one = 1;
        ssize_t n = write(loop->wakefd, &one, sizeof(one));
        (void)n; /* EAGAIN means the counter is already non-zero: awake */
    }
    return 0;
}

static void run_posts(loop_t *loop)
{
    pthread_mutex_lock(&loop->post_mu);
    post_t *p = loop->post_head;
    loop->post_head = loop->post_tail = NULL;
    loop->wake_pending = 0;
    pthread_mutex_unlock(&loop->post_mu);
    while (p) {
        post_t *next = p->next;
        p->cb(loop, p->arg);
        free(p);
        p = next;
    }
}

static void drain_wakefd(loop_t *loop)
{
    uint64_t v;
    ssize_t n = read(loop->wakefd, &v, sizeof(v));
    (void)n;
}

void loop_stop(loop_t *loop)
{
    __atomic_store_n(&loop->stop, 1, __ATOMIC_RELEASE);
    uint64_t one = 1;
    ssize_t n = write(loop->wakefd, &one, sizeof(one));
    (void)n;
}

/* ---- the loop ---------------------------------------------------------- */

static int next_timeout(loop_t *loop)
{
    if (loop->heap_len == 0)
        return -1;
    int64_t d = loop->heap[0]->deadline_ms - loop_now_ms();
    if (d <= 0)
        return 0;
    return d > 60000 ? 60000 : (int)d;
}

/* Waits at most timeout_ms (or until the next timer) and dispatches. 0, or
 * -1 if epoll failed. */
static int iterate(loop_t *loop, int timeout_ms)
{
    int t = next_timeout(loop);
    if (timeout_ms >= 0 && (t < 0 || t > timeout_ms))
        t = timeout_ms;
    int n = epoll_wait(loop->epfd, loop->events, LOOP_MAX_EVENTS, t);
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        log_error("\"epoll_wait failed\" errno=%d", errno);
        return -1;
    }
    loop->nevents = n;
    int woke = 0;
    for (loop->cur_event = 0; loop->cur_event < n; loop->cur_event++) {
        struct epoll_event *ev = &loop->events[loop->cur_event];
        if (ev->data.ptr == NULL) {
            woke = 1;
            continue;
        }
        if (ev->events == 0)
            continue; /* its io was removed during this batch */
        loop_io_t *io = ev->data.ptr;
        io->cb(loop, io, ev->events);
    }
    loop->nevents = 0;
    loop->cur_event = 0;
    if (woke)
        drain_wakefd(loop);
    /* Posts are checked every pass: one may be queued while wake_pending
     * suppressed its eventfd write. */
    run_posts(loop);
    run_timers(loop);
    return 0;
}

void loop_run(loop_t *loop)
{
    while (!__atomic_load_n(&loop->stop, __ATOMIC_ACQUIRE)) {
        if (iterate(loop, -1) != 0)
            break;
    }
    __atomic_store_n(&loop->stop, 0, __ATOMIC_RELEASE);
}

void loop_run_once(loop_t *loop, int timeout_ms)
{
    iterate(loop, timeout_ms);
}
