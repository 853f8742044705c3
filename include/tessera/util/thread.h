/*
 * thread.h - the one way Tessera starts and joins threads.
 *
 * Owns: nothing beyond the handle. Every thread of the process (workers,
 * the persistence thread, the lazy-free thread, RDB loader threads, the
 * AOF replay's drain thread) starts here, named (so `top -H` and perf
 * show which is which), with its result checked.
 * Thread: any thread may start a thread; only the starter joins it.
 */
#ifndef TESSERA_THREAD_H
#define TESSERA_THREAD_H

#include <pthread.h>

typedef struct ts_thread {
    pthread_t id;
} ts_thread;

typedef void ts_thread_fn(void *arg);

/* Runs fn(arg) on a new thread called name (at most 15 characters; NULL:
 * the thread names itself, e.g. after setting its scheduling policy).
 * 0, or a negative errno (nothing started). */
int ts_thread_start(ts_thread *t, const char *name, ts_thread_fn *fn, void *arg);
/* Waits for the thread to end; a failure is a broken invariant (panic). */
void ts_thread_join(ts_thread *t);

#endif
