/*
 * faultfs.c - an LD_PRELOAD shim that makes file writes, fsyncs and
 * renames fail (or stall) on demand, for the disk-fault tests
 * (test/integration/test_disk_faults.py builds it with the system cc and
 * preloads it into tessera-server and redis-server alike).
 *
 * Control: the environment variable TS_FAULT_CTL names a text file, read
 * again whenever it changed (checked at most every 10 ms). Each line is a
 * rule:
 *     <op> <action> [<path substring>]
 * op: write (write, writev, pwrite), fsync (fsync, fdatasync) or rename
 * (rename, renameat; the substring is matched against the source name);
 * action: an errno name (ENOSPC, EIO, EDQUOT, EROFS) to fail with, or
 * delay:<ms> to sleep that long first and then succeed. Only regular files
 * are affected, and only those whose path (/proc/self/fd) contains the
 * substring when one is given. An empty or missing file: no faults.
 *
 * Threads: any. The rule table is swapped under a mutex; a call with no
 * rules costs one clock read.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum { OP_WRITE, OP_FSYNC, OP_RENAME };
#define MAX_RULES 16

typedef struct rule {
    int op;
    int err;        /* 0: delay only */
    int delay_ms;
    char path[200];
} rule;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static rule rules[MAX_RULES];
static atomic_int nrules;
static atomic_llong next_check_ns;
static struct timespec ctl_mtime;
static off_t ctl_size = -1;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int errno_named(const char *name)
{
    static const struct { const char *name; int err; } names[] = {
        {"ENOSPC", ENOSPC}, {"EIO", EIO}, {"EDQUOT", EDQUOT}, {"EROFS", EROFS}, {"EACCES", EACCES},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i].name, name) == 0) return names[i].err;
    return EIO;
}

static int op_named(const char *name)
{
    if (strcmp(name, "fsync") == 0) return OP_FSYNC;
    if (strcmp(name, "rename") == 0) return OP_RENAME;
    return OP_WRITE;
}

/* Under lock: parses the control file into the table. */
static void load(const char *path)
{
    int n = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        char line[512];
        while (n < MAX_RULES && fgets(line, sizeof line, f)) {
            char op[32], action[64], sub[200] = "";
            int got = sscanf(line, "%31s %63s %199s", op, action, sub);
            if (got < 2) continue;
            rule *r = &rules[n++];
            memset(r, 0, sizeof(*r));
            r->op = op_named(op);
            if (strncmp(action, "delay:", 6) == 0) r->delay_ms = atoi(action + 6);
            else r->err = errno_named(action);
            snprintf(r->path, sizeof r->path, "%s", sub);
        }
        fclose(f);
    }
    atomic_store(&nrules, n);
}

static void refresh(void)
{
    long long now = now_ns();
    if (now < atomic_load_explicit(&next_check_ns, memory_order_relaxed)) return;
    atomic_store(&next_check_ns, now + 10 * 1000000LL);
    const char *path = getenv("TS_FAULT_CTL");
    if (!path) return;
    struct stat sb;
    pthread_mutex_lock(&lock);
    if (stat(path, &sb) != 0) {
        ctl_size = -1;
        atomic_store(&nrules, 0);
    } else if (sb.st_size != ctl_size || sb.st_mtim.tv_sec != ctl_mtime.tv_sec ||
               sb.st_mtim.tv_nsec != ctl_mtime.tv_nsec) {
        ctl_size = sb.st_size;
        ctl_mtime = sb.st_mtim;
        load(path);
    }
    pthread_mutex_unlock(&lock);
}

/* The rule for an operation on fd (or on the file `name`), copied out;
 * 0 when none applies. */
static int match(int op, int fd, const char *name, rule *out)
{
    refresh();
    if (atomic_load_explicit(&nrules, memory_order_relaxed) == 0) return 0;
    char path[512] = "";
    if (name) {
        snprintf(path, sizeof path, "%s", name);
    } else {
        struct stat sb;
        if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) return 0;
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, path, sizeof path - 1);
        if (n < 0) return 0;
        path[n] = '\0';
    }
    int found = 0;
    pthread_mutex_lock(&lock);
    int n = atomic_load(&nrules);
    for (int i = 0; i < n && !found; i++) {
        if (rules[i].op != op || (rules[i].path[0] && !strstr(path, rules[i].path))) continue;
        *out = rules[i];
        found = 1;
    }
    pthread_mutex_unlock(&lock);
    return found;
}

/* 0: go on with the real call; -1: fail it (errno set). */
static int fault(int op, int fd, const char *name)
{
    rule r;
    if (!match(op, fd, name, &r)) return 0;
    if (r.delay_ms > 0) usleep((useconds_t)r.delay_ms * 1000);
    if (!r.err) return 0;
    errno = r.err;
    return -1;
}

#define REAL(ret, name, ...)                                  \
    static ret (*real)(__VA_ARGS__);                          \
    if (!real) real = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, name)

ssize_t write(int fd, const void *buf, size_t n)
{
    REAL(ssize_t, "write", int, const void *, size_t);
    if (fault(OP_WRITE, fd, NULL)) return -1;
    return real(fd, buf, n);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    REAL(ssize_t, "writev", int, const struct iovec *, int);
    if (fault(OP_WRITE, fd, NULL)) return -1;
    return real(fd, iov, cnt);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    REAL(ssize_t, "pwrite", int, const void *, size_t, off_t);
    if (fault(OP_WRITE, fd, NULL)) return -1;
    return real(fd, buf, n, off);
}

int fsync(int fd)
{
    REAL(int, "fsync", int);
    if (fault(OP_FSYNC, fd, NULL)) return -1;
    return real(fd);
}

int fdatasync(int fd)
{
    REAL(int, "fdatasync", int);
    if (fault(OP_FSYNC, fd, NULL)) return -1;
    return real(fd);
}

int rename(const char *from, const char *to)
{
    REAL(int, "rename", const char *, const char *);
    if (fault(OP_RENAME, -1, from)) return -1;
    return real(from, to);
}

int renameat(int fromdir, const char *from, int todir, const char *to)
{
    REAL(int, "renameat", int, const char *, int, const char *);
    if (fault(OP_RENAME, -1, from)) return -1;
    return real(fromdir, from, todir, to);
}
