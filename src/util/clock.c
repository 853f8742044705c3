/*
 * clock.c - the process's clocks (declared in server.h): wall time in ms
 * and us, monotonic us. In the core library so tessera-server and
 * tessera-check share them; unit tests that need a fixed clock define
 * their own, which the linker then prefers over this file.
 */
#include <stdint.h>
#include <time.h>

#include "tessera/server.h"

int64_t ts_mstime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ts_ustime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

uint64_t ts_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}
