/*
 * log.c - the server log (see log.h). The role character is always M (as a
 * Redis master prints), so log scrapers written for Redis keep working.
 */
#include "tessera/util/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_fp;
static atomic_int log_level = TS_LOG_NOTICE;

int ts_log_open(const char *path, int level)
{
    atomic_store(&log_level, level);
    if (!path || !*path) { log_fp = stdout; return 0; }
    FILE *fp = fopen(path, "a");
    if (!fp) return -errno;
    log_fp = fp;
    return 0;
}

void ts_log_set_level(int level) { atomic_store(&log_level, level); }

void ts_log(int level, const char *fmt, ...)
{
    if (level < atomic_load_explicit(&log_level, memory_order_relaxed)) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char when[64];
    size_t off = strftime(when, sizeof(when), "%d %b %Y %H:%M:%S.", &tm);
    snprintf(when + off, sizeof(when) - off, "%03d", (int)(tv.tv_usec / 1000));
    static const char marks[] = ".-*#";

    pthread_mutex_lock(&log_lock);
    FILE *fp = log_fp ? log_fp : stdout;
    fprintf(fp, "%d:M %s %c %s\n", (int)getpid(), when, marks[level & 3], msg);
    fflush(fp);
    pthread_mutex_unlock(&log_lock);
}
