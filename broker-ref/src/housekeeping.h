/* Periodic storage housekeeping: time-based segment roll and retention,
 * run by a timer on one loop every log.retention.check.interval.ms. */
#ifndef BROKER_HOUSEKEEPING_H
#define BROKER_HOUSEKEEPING_H

#include <stdint.h>

#include "loop.h"

/* Thread-safe: arms the timer on loop (posted to it). */
void housekeeping_start(loop_t *loop, int64_t interval_ms);

/* One pass over every partition of every topic; returns segments deleted. */
int housekeeping_run(int64_t now_ms);

#endif
