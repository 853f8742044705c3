/*
 * common.h - small definitions every Tessera module shares.
 *
 * Owns: the argument slice type (ts_arg), branch hints, the error
 * convention and the debug assertion used to check thread ownership.
 * Thread: everything here is pure and may be used from any thread.
 *
 * Error convention (one for the whole code base): a function that can fail
 * returns 0 on success and a negative value on failure: -errno when a
 * system call failed (libuv's convention: report it with strerror(-rc)),
 * -1 when the function has described the failure itself (in the error
 * buffer it was given, or in the log). Callers pass a non-zero result up
 * unchanged. A function whose result is an answer rather than a success
 * (found or not, an index, a count, a next phase) says what it returns in
 * its own comment. Broken invariants and failed allocations are not
 * errors: they panic (ts_panic).
 */
#ifndef TESSERA_COMMON_H
#define TESSERA_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>

#define TS_LIKELY(x) __builtin_expect(!!(x), 1)
#define TS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define TS_CONTAINER_OF(ptr, type, field) \
    ((type *)((char *)(ptr) - offsetof(type, field)))

/* A byte string that the holder does not own: a command argument, a key. */
typedef struct ts_arg {
    const char *ptr;
    size_t len;
} ts_arg;

/* Aborts with a message: for broken invariants and failed allocations,
 * never for bad client input. */
void ts_panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Allocation wrappers that never return NULL (they panic on OOM). The
 * allocator is jemalloc in release builds; free with free(). */
void *ts_malloc(size_t n);
void *ts_calloc(size_t n, size_t size);
void *ts_realloc(void *p, size_t n);
/* jemalloc's background purging threads on or off (jemalloc-bg-thread);
 * -1 when the allocator refused. Process-wide; any thread. */
int ts_alloc_background_purge(bool on);
/* Gives the calling thread's cached free memory back to the allocator. */
void ts_alloc_thread_cache_flush(void);
char *ts_strndup(const char *s, size_t n);
/* A copy of argv in one allocation (the slices, then the bytes, each
 * argument NUL-terminated after its len bytes): free it with free(). */
ts_arg *ts_args_dup(int argc, const ts_arg *argv);

#ifndef NDEBUG
#define TS_ASSERT(cond) \
    do { if (TS_UNLIKELY(!(cond))) ts_panic("assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__); } while (0)
#else
#define TS_ASSERT(cond) ((void)0)
#endif

#endif
