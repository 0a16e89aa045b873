/* Housekeeping: calls part_housekeep on every partition periodically. */
#include "housekeeping.h"

#include "log.h"
#include "topics.h"

static loop_timer_t g_timer;
static int64_t g_interval_ms;

typedef struct {
    int64_t now_ms;
    int deleted;
} pass_t;

static void housekeep_topic(topic_t *t, void *arg)
{
    pass_t *p = arg;
    for (int32_t i = 0; i < t->partition_count; i++)
        if (t->parts[i])
            p->deleted += part_housekeep(t->parts[i], p->now_ms);
}

int housekeeping_run(int64_t now_ms)
{
    pass_t p = {now_ms, 0};
    topics_foreach(housekeep_topic, &p);
    if (p.deleted > 0)
        log_info("\"retention deleted segments\" segments=%d", p.deleted);
    return p.deleted;
}

static void on_timer(loop_t *loop, loop_timer_t *t)
{
    housekeeping_run(wall_now_ms());
    loop_timer_start(loop, t, loop_now_ms() + g_interval_ms);
}

static void arm(loop_t *loop, void *arg)
{
    (void)arg;
    loop_timer_init(&g_timer, on_timer, NULL);
    loop_timer_start(loop, &g_timer, loop_now_ms() + g_interval_ms);
}

void housekeeping_start(loop_t *loop, int64_t interval_ms)
{
    g_interval_ms = interval_ms > 0 ? interval_ms : 60000;
    loop_post(loop, arm, NULL);
}
