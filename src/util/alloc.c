/*
 * alloc.c - allocation wrappers and ts_panic.
 *
 * Owns nothing; any thread may call. The process allocator is jemalloc
 * (linked in release builds, so plain malloc/free are jemalloc's); the
 * wrappers only turn allocation failure into a clear abort instead of a
 * NULL that every caller would have to check.
 */
#include "tessera/util/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#if defined(TS_HAVE_JEMALLOC) && !defined(TS_SANITIZED)
#include <jemalloc/jemalloc.h>
#endif

void ts_panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("tessera: fatal: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

void *ts_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (TS_UNLIKELY(!p)) ts_panic("out of memory allocating %zu bytes", n);
    return p;
}

void *ts_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (TS_UNLIKELY(!p)) ts_panic("out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

void *ts_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (TS_UNLIKELY(!q)) ts_panic("out of memory reallocating to %zu bytes", n);
    return q;
}

char *ts_strndup(const char *s, size_t n)
{
    char *p = ts_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

int ts_alloc_background_purge(bool on)
{
#if defined(TS_HAVE_JEMALLOC) && !defined(TS_SANITIZED)
    /* jemalloc returns the dirty pages of an arena to the kernel only as
     * that arena allocates; a worker that went idle (its clients moved to
     * another worker, a burst ended) would keep them for good. Its
     * background threads purge them after the decay time instead (Redis's
     * jemalloc-bg-thread). */
    return mallctl("background_thread", NULL, NULL, &on, sizeof on) == 0 ? 0 : -1;
#else
    (void)on;   /* another allocator: it purges by its own rules */
    return 0;
#endif
}

void ts_alloc_thread_cache_flush(void)
{
#if defined(TS_HAVE_JEMALLOC) && !defined(TS_SANITIZED)
    mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
#endif
}

ts_arg *ts_args_dup(int argc, const ts_arg *argv)
{
    size_t bytes = 0;
    for (int i = 0; i < argc; i++) bytes += argv[i].len + 1;
    ts_arg *copy = ts_malloc(sizeof(ts_arg) * (size_t)argc + bytes + 1);
    char *p = (char *)(copy + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].ptr, argv[i].len);
        p[argv[i].len] = '\0';
        copy[i].ptr = p;
        copy[i].len = argv[i].len;
        p += argv[i].len + 1;
    }
    return copy;
}
