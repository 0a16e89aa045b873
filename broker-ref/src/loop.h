/* One epoll event loop per I/O thread: fd watchers, timers, and callbacks
 * posted from other threads (woken by an eventfd). Everything but
 * loop_post() and loop_stop() must be called on the loop's own thread. */
#ifndef BROKER_LOOP_H
#define BROKER_LOOP_H

#include <stdint.h>

typedef struct loop loop_t;
typedef struct loop_io loop_io_t;
typedef struct loop_timer loop_timer_t;

typedef void (*loop_io_cb)(loop_t *loop, loop_io_t *io, uint32_t events);
typedef void (*loop_timer_cb)(loop_t *loop, loop_timer_t *t);
typedef void (*loop_post_cb)(loop_t *loop, void *arg);

/* Embedded in the owner's struct; the loop never allocates these. */
struct loop_io {
    int fd;
    uint32_t events; /* EPOLLIN / EPOLLOUT / ... as registered */
    loop_io_cb cb;
    void *data; /* owner's pointer */
};

struct loop_timer {
    int64_t deadline_ms; /* monotonic, see loop_now_ms */
    loop_timer_cb cb;
    void *data;
    int heap_index; /* -1 when not armed */
};

loop_t *loop_new(int index);
void loop_free(loop_t *loop);
int loop_index(const loop_t *loop);

int loop_io_add(loop_t *loop, loop_io_t *io, int fd, uint32_t events, loop_io_cb cb, void *data);
int loop_io_mod(loop_t *loop, loop_io_t *io, uint32_t events);
void loop_io_del(loop_t *loop, loop_io_t *io);

void loop_timer_init(loop_timer_t *t, loop_timer_cb cb, void *data);
void loop_timer_start(loop_t *loop, loop_timer_t *t, int64_t deadline_ms);
void loop_timer_stop(loop_t *loop, loop_timer_t *t);

/* Thread-safe: runs cb(loop, arg) on the loop's thread soon. 0 or -1 (ENOMEM). */
int loop_post(loop_t *loop, loop_post_cb cb, void *arg);

/* Runs until loop_stop(). */
void loop_run(loop_t *loop);
/* One iteration: waits up to timeout_ms (-1 = until something happens, 0 =
 * poll) for events, then dispatches them, posted callbacks and due timers.
 * For tests and fuzzing, which drive a loop on their own thread. */
void loop_run_once(loop_t *loop, int timeout_ms);
/* Thread-safe. */
void loop_stop(loop_t *loop);

/* Monotonic and wall clocks in ms. */
int64_t loop_now_ms(void);
int64_t wall_now_ms(void);

#endif
