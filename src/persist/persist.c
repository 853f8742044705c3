/*
 * persist.c - the persistence thread and the snapshot file writer (see
 * persist.h; docs/persistence.md explains the whole snapshot protocol).
 *
 * Jobs are FIFO. A snapshot's header job comes first (queued by whoever
 * created the snapshot, before any shard learns of it), then chunks from
 * any shard in any interleaving: every chunk starts with its own SELECTDB,
 * so the file stays valid whatever the order. The last SHARD_DONE makes
 * this thread finish the file:
 *   EOF opcode, CRC-64 of every byte before it, fsync, rename(temp, final),
 *   fsync of the directory,
 * so a crash at any moment leaves either the old file or the new one.
 */
#include "tessera/persist/persist.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aof_writer.h"
#include "persist_internal.h"
#include "tessera/persist/aof.h"
#include "tessera/util/common.h"
#include "tessera/util/log.h"
#include "tessera/persist/rdb.h"
#include "tessera/route/engine.h"
#include "tessera/util/thread.h"
#include "tessera/util/clock.h"
#include "tessera/util/version.h"


/* TS_JOB_BARRIER's answer: the waiter sleeps on it (ts_persist_barrier). */
typedef struct persist_barrier {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int rc;
} persist_barrier;

typedef struct persist_job {
    struct persist_job *next;
    int kind;                   /* ts_persist_job_kind (util/channels.h) */
    ts_snapshot *snap;
    persist_barrier *barrier;   /* TS_JOB_BARRIER */
    ts_buf data;
    size_t cow;
    uint64_t seq;               /* TS_JOB_AOF: its sequence number */
} job;

struct ts_snapshot {
    ts_persist *p;
    char *filename;
    bool aof_rewrite;            /* BGREWRITEAOF: the RDB preamble of a new AOF (aof_writer.c adds the tail) */
    bool aof_enable;             /* ... that switches the log on (CONFIG SET appendonly yes) */
    bool commands;               /* ... written as commands, no RDB preamble (aof-use-rdb-preamble no) */
    char tmpname[64];
    bool foreground;             /* SAVE, the shutdown save: someone waits (ts_snapshot_wait) */
    int dirfd;                   /* the directory at the snapshot point: a later CONFIG SET dir does not move it */
    unsigned shards_left;        /* persistence thread only */
    bool compress, checksum;
    bool waiter;                 /* SAVE / SHUTDOWN wait for it: their callers log the failure */
    uint64_t dirty;
    int fd;                      /* persistence thread only */
    bool failed;                 /* persistence thread only */
    uint64_t crc;
    uint64_t bytes;
    size_t cow;
    ts_snapshot_done_fn *done;
    void *arg;
    atomic_int refs;
    /* Completion, for ts_snapshot_wait. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool ended, ok;
};


static void push(ts_persist *p, job *j)
{
    if (j->kind == TS_JOB_SNAP_CHUNK) atomic_fetch_add(&p->backlog, j->data.len);
    pthread_mutex_lock(&p->lock);
    j->next = NULL;
    if (p->tail) p->tail->next = j;
    else p->head = j;
    p->tail = j;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

/* Every queued job at once (a round), oldest first; waits up to
 * wait_ms (-1: forever) for the first. NULL on timeout. */
static job *pop_all(ts_persist *p, long wait_ms)
{
    pthread_mutex_lock(&p->lock);
    if (!p->head && wait_ms >= 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (wait_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        while (!p->head && pthread_cond_timedwait(&p->cond, &p->lock, &ts) == 0) {}
    } else {
        p->idle = true;   /* lazy submissions signal from now on */
        while (!p->head) pthread_cond_wait(&p->cond, &p->lock);
        p->idle = false;
    }
    job *j = p->head;
    p->head = p->tail = NULL;
    pthread_mutex_unlock(&p->lock);
    return j;
}

/* With appendfsync always a submission wakes the thread at once (a reply
 * waits for it). Otherwise the bytes only join the queue: the thread comes
 * by every few milliseconds (ts_aofw_sleep_ms) or when much has piled up,
 * and small submissions are merged into the last queued one, so a busy
 * worker costs no thread wake-up per loop iteration. */
#define AOF_LAZY_MAX (1u << 20)

void ts_aof_submit_off(ts_persist *p)
{
    job *j = ts_calloc(1, sizeof(*j));
    j->kind = TS_JOB_AOF_OFF;
    push(p, j);
}

/* Under p->lock: while the disk is slow (not failing: then write
 * commands get MISCONF and little more arrives), a submitter waits for
 * the writer to bring the unwritten bytes under TS_AOF_QUEUE_MAX. */
static void wait_for_room(ts_persist *p)
{
    while (atomic_load(&p->aof_unwritten) >= TS_AOF_QUEUE_MAX && atomic_load(&p->aof.last_write_ok) &&
           ts_aof_enabled(p)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;   /* look at the conditions again now and then */
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        atomic_fetch_add(&p->aof_room_waiters, 1);
        pthread_cond_signal(&p->cond);   /* the writer may be sleeping on lazy submissions */
        pthread_cond_timedwait(&p->aof_room, &p->lock, &ts);
        atomic_fetch_sub(&p->aof_room_waiters, 1);
    }
}

uint64_t ts_aof_submit(ts_persist *p, ts_buf *buf)
{
    bool urgent = ts_aof_fsync_policy(p) == TS_AOF_FSYNC_ALWAYS;
    job *j = ts_calloc(1, sizeof(*j));   /* before the lock; freed if merged */
    j->kind = TS_JOB_AOF;
    /* The sequence number is taken with the insertion, under one lock, so
     * sequence order is file order. */
    pthread_mutex_lock(&p->lock);
    if (TS_UNLIKELY(atomic_load_explicit(&p->aof_unwritten, memory_order_relaxed) >= TS_AOF_QUEUE_MAX))
        wait_for_room(p);
    atomic_fetch_add(&p->aof_unwritten, buf->len);
    uint64_t seq = ++p->aof_seq;
    job *t = p->tail;
    if (!urgent && t && t->kind == TS_JOB_AOF && t->data.len + buf->len <= AOF_LAZY_MAX) {
        ts_buf_append(&t->data, buf->data, buf->len);
        t->seq = seq;
        pthread_mutex_unlock(&p->lock);
        ts_buf_free(buf);
        free(j);
        return seq;
    }
    j->data = *buf;
    ts_buf_init(buf);
    j->seq = seq;
    j->next = NULL;
    if (t) t->next = j;
    else p->head = j;
    p->tail = j;
    if (urgent || p->idle || j->data.len >= AOF_LAZY_MAX) pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return seq;
}

uint64_t ts_persist_backlog(const ts_persist *p) { return atomic_load_explicit(&p->backlog, memory_order_relaxed); }


/* ---- the file ---- */

static void snap_write(ts_snapshot *s, const void *p, size_t n)
{
    if (s->failed || n == 0) return;
    if (s->checksum) s->crc = ts_crc64(s->crc, p, n);
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(s->fd, c, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            ts_log(TS_LOG_WARNING, "Write error saving DB on disk: %s", strerror(errno));
            s->failed = true;
            return;
        }
        c += w;
        n -= (size_t)w;
        s->bytes += (size_t)w;
    }
}

static void aux_str(ts_buf *b, const char *k, const char *v)
{
    ts_buf_putc(b, (char)TS_RDB_OPCODE_AUX);
    ts_rdb_save_string(b, k, strlen(k), false);
    ts_rdb_save_string(b, v, strlen(v), false);
}

static void aux_int(ts_buf *b, const char *k, long long v)
{
    ts_buf_putc(b, (char)TS_RDB_OPCODE_AUX);
    ts_rdb_save_string(b, k, strlen(k), false);
    ts_rdb_save_ll_string(b, v);
}

static void write_header(ts_snapshot *s)
{
    ts_persist *p = s->p;
    if (s->aof_rewrite) {
        snprintf(s->tmpname, sizeof s->tmpname, "temp-rewriteaof-bg-%d.aof", (int)getpid());
        ts_aofw_rewrite_begin(p);   /* AOF jobs after this one form the new file's tail */
    } else {
        snprintf(s->tmpname, sizeof s->tmpname, "temp-%d-%p.rdb", (int)getpid(), (void *)s);
    }
    s->fd = openat(s->dirfd, s->tmpname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s->fd < 0) {
        char cwd[1024];
        ts_log(TS_LOG_WARNING, "Failed opening the temp RDB file %s (in server root dir %s) for saving: %s",
               s->tmpname, getcwd(cwd, sizeof cwd) ? cwd : "unknown", strerror(errno));
        s->failed = true;
        return;
    }
    const ts_rdb_functions_io *fio = ts_rdb_functions();
    if (s->commands) {   /* a plain command log: no RDB header, the libraries as FUNCTION LOAD */
        if (fio) {
            ts_buf b;
            ts_buf_init(&b);
            fio->save_commands(&b);
            if (b.len) snap_write(s, b.data, b.len);
            ts_buf_free(&b);
        }
        return;
    }
    ts_buf b;
    ts_buf_init(&b);
    char magic[16];
    snprintf(magic, sizeof magic, "REDIS%04d", TS_RDB_VERSION);
    ts_buf_append(&b, magic, 9);
    aux_str(&b, "redis-ver", TS_VERSION);
    aux_int(&b, "redis-bits", (long long)(sizeof(void *) * 8));
    aux_int(&b, "ctime", (long long)(ts_mstime() / 1000));
    aux_int(&b, "used-mem", 0);
    aux_int(&b, "aof-base", s->aof_rewrite ? 1 : 0);
    if (fio) fio->save(&b, s->compress);   /* the libraries, before the keys (Redis's order) */
    snap_write(s, b.data, b.len);
    ts_buf_free(&b);
}

static bool fsync_dir(int dirfd)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return false;
    int rc = fsync(fd);
    close(fd);
    return rc == 0;
}

static void snap_end(ts_snapshot *s, bool ok)
{
    ts_persist *p = s->p;
    int64_t now = ts_mstime();
    if (s->aof_rewrite) {
        ts_aofw_rewrite_end(p, ok, now - atomic_load(&p->st.save_started_ms));
        if (!ok && s->aof_enable && atomic_load(&p->aof.wanted)) {
            /* The log cannot be switched on without its file: try again
             * (worker 0's cron starts scheduled rewrites). */
            atomic_store(&p->aof.enable_pending, 1);
            atomic_store(&p->aof.rewrite_scheduled, 1);
        }
    } else if (ok) {
        atomic_store(&p->st.lastsave, now / 1000);
        atomic_store(&p->st.dirty_saved, s->dirty);
        atomic_fetch_add(&p->st.saves, 1);
    }
    if (!s->aof_rewrite) {
        /* As Redis: a failed SAVE (or shutdown save) is the caller's error
         * and leaves rdb_last_bgsave_status (and so MISCONF) alone. */
        if (ok || !s->foreground) atomic_store(&p->st.last_bgsave_ok, ok ? 1 : 0);
        atomic_store(&p->st.last_save_duration_ms, now - atomic_load(&p->st.save_started_ms));
        atomic_store(&p->st.last_cow_size, (long long)s->cow);
    }
    atomic_store(&p->st.in_progress, 0);
    if (s->done) s->done(s, ok, s->arg);
    pthread_mutex_lock(&s->lock);
    s->ended = true;
    s->ok = ok;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    ts_snapshot_release(s);
}

static void finish(ts_snapshot *s)
{
    ts_persist *p = s->p;
    unsigned char tail[9];
    tail[0] = TS_RDB_OPCODE_EOF;
    if (s->checksum) s->crc = ts_crc64(s->crc, tail, 1);
    uint64_t crc = s->checksum ? s->crc : 0;
    for (int i = 0; i < 8; i++) tail[1 + i] = (unsigned char)(crc >> (8 * i));
    bool keep = s->checksum;
    s->checksum = false; /* the trailer is not part of its own checksum */
    if (!s->commands) snap_write(s, tail, sizeof tail);
    if (s->aof_rewrite && !s->failed) {
        /* The log written since the snapshot point follows the preamble;
         * nothing else reaches the AOF until the new file replaces it. */
        ts_aofw_round_end(p);
        ts_buf t = ts_aofw_rewrite_tail(p);
        snap_write(s, t.data, t.len);
        ts_buf_free(&t);
    }
    s->checksum = keep;
    bool ok = !s->failed;
    if (ok && fsync(s->fd) != 0) {
        ts_log(TS_LOG_WARNING, "Failed to fsync the RDB file: %s", strerror(errno));
        ok = false;
    }
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    if (ok && renameat(s->dirfd, s->tmpname, s->dirfd, s->filename) != 0) {
        char cwd[1024];
        ts_log(TS_LOG_WARNING, "Error moving temp DB file %s on the final destination %s (in server root dir %s): %s",
               s->tmpname, s->filename, getcwd(cwd, sizeof cwd) ? cwd : "unknown", strerror(errno));
        ok = false;
    }
    if (ok && !fsync_dir(s->dirfd)) ts_log(TS_LOG_WARNING, "Failed to fsync the directory of %s", s->filename);
    if (!ok) unlinkat(s->dirfd, s->tmpname, 0);
    if (s->aof_rewrite) {
        if (ok && ts_aofw_reopen(p, s->dirfd, s->filename, s->aof_enable) != 0) ok = false;
        if (ok) ts_log(TS_LOG_NOTICE, "Background AOF rewrite finished successfully (%llu bytes)", (unsigned long long)s->bytes);
        else ts_log(TS_LOG_WARNING, "Background AOF rewrite failed");
        snap_end(s, ok);
        return;
    }
    if (ok)
        ts_log(TS_LOG_NOTICE, "DB saved on disk (%llu bytes, %llu bytes for keys changed while saving)",
               (unsigned long long)s->bytes, (unsigned long long)s->cow);
    else if (!s->waiter) ts_log(TS_LOG_WARNING, "Background saving error");
    snap_end(s, ok);
}

static void barrier_answer(persist_barrier *b, int rc)
{
    pthread_mutex_lock(&b->lock);
    b->rc = rc;
    b->done = true;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

static void thread_main(void *arg)
{
    ts_persist *p = arg;
    for (;;) {
        job *j = pop_all(p, ts_aofw_sleep_ms(p));
        if (!j) {
            ts_aofw_tick(p);
            continue;
        }
        bool stop = false;
        while (j) {
            job *next = j->next;
            ts_snapshot *s = j->snap;
            if (j->kind != TS_JOB_AOF) ts_aofw_round_end(p);   /* keep the AOF ahead of slow snapshot writes */
            switch (j->kind) {
            case TS_JOB_STOP:
                stop = true;
                break;
            case TS_JOB_AOF:
                ts_aofw_append(p, &j->data, j->seq);
                break;
            case TS_JOB_AOF_OFF:
                ts_aofw_disable(p);
                break;
            case TS_JOB_SNAP_HEADER:
                write_header(s);
                break;
            case TS_JOB_SNAP_CHUNK:
                snap_write(s, j->data.data, j->data.len);
                s->cow += j->cow;
                atomic_fetch_sub(&p->backlog, j->data.len);
                ts_buf_free(&j->data);
                break;
            case TS_JOB_SNAP_SHARD_DONE:
                if (--s->shards_left == 0) finish(s);
                break;
            case TS_JOB_BARRIER:
                barrier_answer(j->barrier, ts_aofw_sync_now(p));
                break;
            }
            free(j);
            j = next;
        }
        ts_aofw_round_end(p);
        if (stop) {
            ts_aofw_close(p);
            return;
        }
    }
}

void ts_persist_start(ts_persist *p, const ts_router *router)
{
    ts_aofw_init(p, router);
    if (ts_thread_start(&p->thread, "ts-persist", thread_main, p) != 0) ts_panic("cannot start the persistence thread");
    p->running = true;
}

int ts_persist_barrier(ts_persist *p)
{
    if (!p->running) return 0;
    persist_barrier b = {.done = false, .rc = 0};
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.cond, NULL);
    job *j = ts_calloc(1, sizeof(*j));
    j->kind = TS_JOB_BARRIER;
    j->barrier = &b;
    push(p, j);
    pthread_mutex_lock(&b.lock);
    while (!b.done) pthread_cond_wait(&b.cond, &b.lock);
    pthread_mutex_unlock(&b.lock);
    pthread_mutex_destroy(&b.lock);
    pthread_cond_destroy(&b.cond);
    return b.rc;
}

void ts_persist_stop(ts_persist *p)
{
    if (!p->running) return;
    job *j = ts_calloc(1, sizeof(*j));
    j->kind = TS_JOB_STOP;
    push(p, j);
    ts_thread_join(&p->thread);
    p->running = false;
}

/* ---- snapshots ---- */

enum { SNAP_RDB, SNAP_AOF_PREAMBLE, SNAP_AOF_COMMANDS };

static ts_snapshot *snapshot_new(ts_persist *p, const char *filename, unsigned nshards, bool compress,
                                 bool checksum, uint64_t dirty, ts_snapshot_done_fn *done, void *arg, bool waiter,
                                 int form);

ts_snapshot *ts_snapshot_new(ts_persist *p, const char *filename, unsigned nshards, bool compress, bool checksum,
                             uint64_t dirty, ts_snapshot_done_fn *done, void *arg, bool waiter)
{
    return snapshot_new(p, filename, nshards, compress, checksum, dirty, done, arg, waiter, SNAP_RDB);
}

ts_snapshot *ts_snapshot_new_aof(ts_persist *p, const char *aof_filename, unsigned nshards, bool compress,
                                 bool enable, bool rdb_preamble)
{
    ts_snapshot *s = snapshot_new(p, aof_filename, nshards, compress, rdb_preamble, 0, NULL, NULL, false,
                                  rdb_preamble ? SNAP_AOF_PREAMBLE : SNAP_AOF_COMMANDS);
    s->aof_enable = enable;   /* before any shard sees s: the txn's messages publish it */
    return s;
}

bool ts_snapshot_enables_aof(const ts_snapshot *snap) { return snap->aof_enable; }

static ts_snapshot *snapshot_new(ts_persist *p, const char *filename, unsigned nshards, bool compress,
                                 bool checksum, uint64_t dirty, ts_snapshot_done_fn *done, void *arg, bool waiter,
                                 int form)
{
    TS_ASSERT(atomic_load(&p->st.in_progress) == 1);
    bool aof = form != SNAP_RDB;
    ts_snapshot *s = ts_calloc(1, sizeof(*s));
    s->p = p;
    s->filename = ts_strndup(filename, strlen(filename));
    s->aof_rewrite = aof;
    s->commands = form == SNAP_AOF_COMMANDS;   /* before the header job: the thread reads it */
    s->shards_left = nshards;
    s->compress = compress;
    s->checksum = checksum;
    s->waiter = waiter;
    s->dirty = dirty;
    s->fd = -1;
    /* The directory the save was asked in (CONFIG SET dir is an exclusive
     * txn, so it is not half done while a save starts): the files go
     * there even if dir changes while they are written, as in Redis,
     * whose child keeps its working directory. */
    s->dirfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) s->dirfd = AT_FDCWD;
    s->done = done;
    s->arg = arg;
    atomic_init(&s->refs, waiter ? 2 : 1);
    s->foreground = waiter;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    atomic_store(&p->st.save_started_ms, ts_mstime());
    if (!aof) atomic_store(&p->st.dirty_at_save_start, dirty);
    job *j = ts_calloc(1, sizeof(*j));
    j->kind = TS_JOB_SNAP_HEADER;
    j->snap = s;
    push(p, j);
    return s;
}

bool ts_snapshot_compress(const ts_snapshot *snap) { return snap->compress; }
bool ts_snapshot_commands(const ts_snapshot *snap) { return snap->commands; }

void ts_snapshot_chunk(ts_snapshot *snap, ts_buf *buf, size_t cow_bytes)
{
    ts_persist *p = snap->p;
    if (buf->len == 0 && cow_bytes == 0) return;
    job *j = ts_calloc(1, sizeof(*j));
    j->kind = TS_JOB_SNAP_CHUNK;
    j->snap = snap;
    j->data = *buf;
    j->cow = cow_bytes;
    ts_buf_init(buf);
    push(p, j);
}

void ts_snapshot_shard_done(ts_snapshot *snap)
{
    ts_persist *p = snap->p;
    job *j = ts_calloc(1, sizeof(*j));
    j->kind = TS_JOB_SNAP_SHARD_DONE;
    j->snap = snap;
    push(p, j);
}

bool ts_snapshot_wait(ts_snapshot *s)
{
    pthread_mutex_lock(&s->lock);
    while (!s->ended) pthread_cond_wait(&s->cond, &s->lock);
    bool ok = s->ok;
    pthread_mutex_unlock(&s->lock);
    return ok;
}

void ts_snapshot_release(ts_snapshot *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1) return;
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    if (s->dirfd >= 0) close(s->dirfd);
    free(s->filename);
    free(s);
}
