/*
 * clock.h - the process's clocks: wall time in ms and us, and a cheap
 * monotonic clock in us (the TSC where it is invariant; clock.c).
 *
 * Thread: any thread may read the clocks. ts_clock_init runs once, on the
 * main thread, before any other thread starts.
 */
#ifndef TESSERA_CLOCK_H
#define TESSERA_CLOCK_H

#include <stdint.h>

int64_t ts_mstime(void);             /* wall clock in ms */
int64_t ts_ustime(void);             /* wall clock in us */
uint64_t ts_monotonic_us(void);      /* monotonic us (the TSC once ts_clock_init ran) */
/* Main thread, before any other thread starts: calibrates the TSC when it
 * is invariant. Returns the clock's name for the log. */
const char *ts_clock_init(void);
const char *ts_clock_name(void);     /* INFO server monotonic_clock */

#endif
