// The epoll event loop: timers, fd watchers, cross-thread posts and stop.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <vector>

extern "C" {
#include "loop.h"
}

namespace
{

struct TimerLog {
    std::vector<int> fired;
};

struct Tagged {
    loop_timer_t t;
    int tag;
    TimerLog *log;
};

void on_tagged(loop_t *, loop_timer_t *t)
{
    Tagged *x = (Tagged *)t->data;
    x->log->fired.push_back(x->tag);
}

} // namespace

TEST(Loop, TimersFireInDeadlineOrderAndStopWorks)
{
    loop_t *loop = loop_new(0);
    ASSERT_NE(loop, nullptr);
    TimerLog log;
    const int n = 200;
    std::vector<Tagged> ts(n);
    int64_t now = loop_now_ms();
    for (int i = 0; i < n; i++) {
        ts[i].tag = i;
        ts[i].log = &log;
        loop_timer_init(&ts[i].t, on_tagged, &ts[i]);
    }
    // Deadlines in a scrambled order, all in the past so one pass runs them.
    for (int i = 0; i < n; i++) {
        int k = (i * 37) % n;
        loop_timer_start(loop, &ts[k].t, now - 1000 + k);
    }
    // Stop every third one; re-arm one with a later deadline.
    for (int i = 0; i < n; i += 3)
        loop_timer_stop(loop, &ts[i].t);
    loop_timer_start(loop, &ts[1].t, now - 1000 + n + 5);
    loop_run_once(loop, 0);
    std::vector<int> want;
    for (int i = 2; i < n; i++)
        if (i % 3 != 0)
            want.push_back(i);
    want.push_back(1);
    EXPECT_EQ(want, log.fired);
    for (auto &t : ts)
        EXPECT_EQ(t.t.heap_index, -1);
    loop_free(loop);
}

TEST(Loop, FutureTimerWaits)
{
    loop_t *loop = loop_new(0);
    TimerLog log;
    Tagged t{{}, 7, &log};
    loop_timer_init(&t.t, on_tagged, &t);
    int64_t t0 = loop_now_ms();
    loop_timer_start(loop, &t.t, t0 + 50);
    loop_run_once(loop, 0);
    EXPECT_TRUE(log.fired.empty());
    while (log.fired.empty() && loop_now_ms() - t0 < 2000)
        loop_run_once(loop, 1000);
    EXPECT_EQ(log.fired.size(), 1u);
    EXPECT_GE(loop_now_ms() - t0, 50);
    loop_free(loop);
}

namespace
{

struct PostState {
    loop_t *loop;
    int count = 0;
    int target = 0;
};

void on_post(loop_t *loop, void *arg)
{
    PostState *s = (PostState *)arg;
    if (++s->count == s->target)
        loop_stop(loop);
}

void *poster(void *arg)
{
    PostState *s = (PostState *)arg;
    for (int i = 0; i < 2500; i++)
        EXPECT_EQ(loop_post(s->loop, on_post, s), 0);
    return nullptr;
}

} // namespace

TEST(Loop, PostsFromManyThreadsAllRunOnTheLoop)
{
    loop_t *loop = loop_new(3);
    EXPECT_EQ(loop_index(loop), 3);
    PostState s;
    s.loop = loop;
    s.target = 4 * 2500;
    pthread_t th[4];
    for (auto &t : th)
        pthread_create(&t, nullptr, poster, &s);
    loop_run(loop); // returns at loop_stop from the last post
    for (auto &t : th)
        pthread_join(t, nullptr);
    EXPECT_EQ(s.count, s.target);
    loop_free(loop);
}

namespace
{

void *stopper(void *arg)
{
    usleep(20000);
    loop_stop((loop_t *)arg);
    return nullptr;
}

struct IoState {
    int reads = 0;
    char last = 0;
};

void on_readable(loop_t *, loop_io_t *io, uint32_t)
{
    IoState *s = (IoState *)io->data;
    char c;
    while (read(io->fd, &c, 1) == 1) {
        s->reads++;
        s->last = c;
    }
}

} // namespace

TEST(Loop, StopFromAnotherThreadEndsRun)
{
    loop_t *loop = loop_new(0);
    pthread_t th;
    pthread_create(&th, nullptr, stopper, loop);
    loop_run(loop);
    pthread_join(th, nullptr);
    loop_free(loop);
}

TEST(Loop, IoWatcherSeesDataAndCanBeRemoved)
{
    loop_t *loop = loop_new(0);
    int p[2];
    ASSERT_EQ(pipe2(p, O_NONBLOCK), 0);
    IoState s;
    loop_io_t io;
    ASSERT_EQ(loop_io_add(loop, &io, p[0], EPOLLIN, on_readable, &s), 0);
    ASSERT_EQ(write(p[1], "ab", 2), 2);
    loop_run_once(loop, 1000);
    EXPECT_EQ(s.reads, 2);
    EXPECT_EQ(s.last, 'b');
    loop_io_del(loop, &io);
    ASSERT_EQ(write(p[1], "c", 1), 1);
    loop_run_once(loop, 10);
    EXPECT_EQ(s.reads, 2);
    close(p[0]);
    close(p[1]);
    loop_free(loop);
}

TEST(Loop, FreeRunsQueuedPosts)
{
    loop_t *loop = loop_new(0);
    PostState s;
    s.loop = loop;
    s.target = -1;
    for (int i = 0; i < 3; i++)
        loop_post(loop, on_post, &s);
    loop_free(loop);
    EXPECT_EQ(s.count, 3);
}
