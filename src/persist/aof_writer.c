/*
 * aof_writer.c - writing the append-only file on the persistence thread
 * (aof_writer.h; the policy is described in aof.h and docs/persistence.md).
 *
 * Owns: the AOF file descriptor, the bytes of the current round, the
 * durable sequence number, the fsync policy, and the aof_* status INFO
 * reports.
 *
 * Failure: a write that fails keeps its bytes and is retried every
 * second; nothing after them is written meanwhile, and with appendfsync
 * always no reply covered by them is released, so a full disk delays
 * acknowledgements but never loses an acknowledged write.
 */
#include "aof_writer.h"
#include "persist_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tessera/persist/aof.h"
#include "tessera/util/common.h"
#include "tessera/util/log.h"
#include "tessera/persist/persist.h"
#include "tessera/route/engine.h"
#include "tessera/util/clock.h"


int ts_aof_open(ts_persist *p, const char *filename, int fsync_policy)
{
    int fd = open(filename, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    struct stat sb;
    if (fstat(fd, &sb) == 0) {
        atomic_store(&p->aof.current_size, (long long)sb.st_size);
        atomic_store(&p->aof.base_size, (long long)sb.st_size);
    }
    p->aw.fd = fd;
    atomic_store(&p->aw.enabled, true);
    atomic_store(&p->aof.wanted, 1);
    atomic_store(&p->aw.fsync_policy, fsync_policy);
    atomic_store(&p->aof.last_write_ok, 1);
    p->aw.last_fsync_ms = ts_mstime();
    return 0;
}

void ts_aof_set_fsync(ts_persist *p, int fsync_policy) { atomic_store(&p->aw.fsync_policy, fsync_policy); }
int ts_aof_fsync_policy(const ts_persist *p) { return atomic_load_explicit(&p->aw.fsync_policy, memory_order_relaxed); }
bool ts_aof_enabled(const ts_persist *p) { return atomic_load_explicit(&p->aw.enabled, memory_order_relaxed); }
uint64_t ts_aof_durable(const ts_persist *p) { return atomic_load(&p->aw.durable_seq); }

void ts_aofw_init(ts_persist *p, const ts_router *router)
{
    p->aw.router = router;
    atomic_store(&p->aof.last_rewrite_ok, 1);
    atomic_store(&p->aof.last_rewrite_ms, -1);
}

/* Wakes every worker holding replies (the worker side is in worker.c).
 * The store of durable_seq before the loads of aof_holding pairs with the
 * worker's store of aof_holding before its load of durable_seq: one of
 * the two always sees the other (sequentially consistent atomics). */
static void publish(ts_persist *p, uint64_t seq)
{
    atomic_store(&p->aw.durable_seq, seq);
    const ts_router *r = p->aw.router;
    for (unsigned i = 0; r && i < r->nshards; i++) {
        ts_engine *e = r->engines[i];
        if (atomic_load(&e->aof_holding) && !atomic_exchange(&e->aof_sync_posted, 1))
            ts_engine_post(e, &e->aof_sync_msg);
    }
}

void ts_aof_unqueue(ts_persist *p, size_t n)
{
    unsigned long long before = atomic_fetch_sub(&p->aof_unwritten, n);
    if (before - n < TS_AOF_QUEUE_MAX && before >= TS_AOF_QUEUE_MAX && atomic_load(&p->aof_room_waiters)) {
        pthread_mutex_lock(&p->lock);
        pthread_cond_broadcast(&p->aof_room);
        pthread_mutex_unlock(&p->lock);
    }
}

/* fdatasync. After a failed fsync the kernel may have dropped the dirty
 * pages, so a later fsync that succeeds proves nothing about them: with
 * appendfsync always (replies wait for this fsync) the process exits,
 * as Redis does; with everysec write commands get MISCONF until an fsync
 * succeeds again (Redis's aof_bio_fsync_status). */
static bool do_fsync(ts_persist *p)
{
    if (fdatasync(p->aw.fd) != 0 && errno != EINVAL) {
        int err = errno;
        if (atomic_load(&p->aw.fsync_policy) == TS_AOF_FSYNC_ALWAYS) {
            ts_log(TS_LOG_WARNING,
                   "Can't persist AOF for fsync error when the AOF fsync policy is 'always': %s. Exiting...",
                   strerror(err));
            _exit(1);
        }
        if (atomic_exchange(&p->aof.fsync_ok, 0)) ts_log(TS_LOG_WARNING, "Fail to fsync the AOF file: %s", strerror(err));
        atomic_store(&p->aof.fsync_errno, err);
        p->aw.last_fsync_ms = ts_mstime();   /* tried: the next try is a second away */
        return false;
    }
    atomic_store(&p->aof.fsync_ok, 1);
    p->aw.last_fsync_ms = ts_mstime();
    p->aw.synced_seq = p->aw.written_seq;
    return true;
}

/* Writes the pending buffers; false (bytes kept) on an error. */
static bool write_pending(ts_persist *p)
{
    int first = 0;
    while (first < p->aw.npending) {
        struct iovec iov[TS_AOF_ROUND_IOV];
        int n = 0;
        for (int i = first; i < p->aw.npending; i++) {
            iov[n].iov_base = p->aw.pending[i].data;
            iov[n].iov_len = p->aw.pending[i].len;
            n++;
        }
        ssize_t wr = writev(p->aw.fd, iov, n);
        if (wr < 0) {
            if (errno == EINTR) continue;
            if (!p->aw.write_failed)
                ts_log(TS_LOG_WARNING, "Error writing to the AOF file: %s", strerror(errno));
            p->aw.write_failed = true;
            atomic_store(&p->aof.last_write_errno, errno);
            atomic_store(&p->aof.last_write_ok, 0);
            p->aw.retry_at_ms = ts_mstime() + 1000;
            /* Keep what is left, in order. */
            memmove(p->aw.pending, p->aw.pending + first, sizeof(ts_buf) * (size_t)(p->aw.npending - first));
            p->aw.npending -= first;
            return false;
        }
        atomic_fetch_add(&p->aof.current_size, (long long)wr);
        ts_aof_unqueue(p, (size_t)wr);
        size_t left = (size_t)wr;
        while (first < p->aw.npending && left >= p->aw.pending[first].len) {
            left -= p->aw.pending[first].len;
            ts_buf_free(&p->aw.pending[first]);
            first++;
        }
        if (left) ts_buf_consume(&p->aw.pending[first], left);
    }
    p->aw.npending = 0;
    if (p->aw.write_failed) ts_log(TS_LOG_WARNING, "AOF write error looks solved. Tessera can write again.");
    p->aw.write_failed = false;
    atomic_store(&p->aof.last_write_ok, 1);
    p->aw.written_seq = p->aw.pending_seq;
    p->aw.last_write_ms = ts_mstime();
    return true;
}

void ts_aofw_round_end(ts_persist *p)
{
    if (p->aw.fd < 0 || p->aw.npending == 0) return;
    if (p->aw.write_failed && ts_mstime() < p->aw.retry_at_ms) return;
    if (!write_pending(p)) return;
    int policy = atomic_load(&p->aw.fsync_policy);
    if (policy == TS_AOF_FSYNC_ALWAYS) {
        if (!do_fsync(p)) return;
        publish(p, p->aw.synced_seq);
    } else {
        if (policy == TS_AOF_FSYNC_EVERYSEC && ts_mstime() - p->aw.last_fsync_ms >= 1000) do_fsync(p);
        publish(p, p->aw.written_seq);
    }
}

void ts_aofw_append(ts_persist *p, ts_buf *data, uint64_t seq)
{
    if (p->aw.fd < 0) {
        /* Off, or being switched on: a rewrite in progress keeps the bytes
         * for the new file; nothing can be made durable before that file
         * exists, so replies waiting for these bytes go (as in Redis, whose
         * writes are not fsynced while it waits for that rewrite). */
        if (p->aw.rewriting) ts_buf_append(&p->aw.rewrite_tail, data->data, data->len);
        ts_aof_unqueue(p, data->len);
        ts_buf_free(data);
        publish(p, seq);
        return;
    }
    if (p->aw.rewriting) ts_buf_append(&p->aw.rewrite_tail, data->data, data->len);
    if (p->aw.npending == TS_AOF_ROUND_IOV) {
        /* A long round: write what we have (fsync at the round's end). */
        if (!write_pending(p)) {
            /* Still failing: merge into the last buffer so nothing is lost. */
            ts_buf *last = &p->aw.pending[p->aw.npending - 1];
            ts_buf_append(last, data->data, data->len);
            ts_buf_free(data);
            p->aw.pending_seq = seq;
            return;
        }
    }
    p->aw.pending[p->aw.npending++] = *data;
    ts_buf_init(data);
    p->aw.pending_seq = seq;
}

void ts_aofw_rewrite_begin(ts_persist *p)
{
    p->aw.rewriting = true;
    p->aw.rewrite_tail.len = 0;
}

ts_buf ts_aofw_rewrite_tail(ts_persist *p)
{
    ts_buf t = p->aw.rewrite_tail;
    ts_buf_init(&p->aw.rewrite_tail);
    p->aw.rewriting = false;
    return t;
}

/* Forgets the round's bytes. */
static void drop_pending(ts_persist *p)
{
    for (int i = 0; i < p->aw.npending; i++) {
        ts_aof_unqueue(p, p->aw.pending[i].len);
        ts_buf_free(&p->aw.pending[i]);
    }
    p->aw.npending = 0;
}

int ts_aofw_reopen(ts_persist *p, int dirfd, const char *filename, bool enable)
{
    /* Not when a later CONFIG SET appendonly yes waits for its own
     * rewrite: the shards' logs restarted at that one's snapshot point. */
    bool switch_on = p->aw.fd < 0 && enable && atomic_load(&p->aof.wanted) &&
                     !atomic_load(&p->aof.enable_pending);
    if (p->aw.fd < 0 && !switch_on) return 0;   /* appendonly no: the file is made, not used */
    int fd = openat(dirfd, filename, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) {
        ts_log(TS_LOG_WARNING, "Can't open the rewritten append only file %s: %s", filename, strerror(errno));
        return -1;
    }
    if (p->aw.fd >= 0) close(p->aw.fd);
    p->aw.fd = fd;
    /* Bytes still pending (their write failed) are in the new file
     * already: those queued before the snapshot point in its data, the
     * rest in its tail. Writing them again would replay them twice. The
     * new file was fsynced: everything so far is durable. The old file's
     * errors are its own ("AOF reopen, just ignore the last error", as
     * Redis). */
    drop_pending(p);
    p->aw.written_seq = p->aw.synced_seq = p->aw.pending_seq;
    if (p->aw.write_failed) ts_log(TS_LOG_WARNING, "AOF reopen, just ignore the last error.");
    p->aw.write_failed = false;
    atomic_store(&p->aof.last_write_ok, 1);
    atomic_store(&p->aof.fsync_ok, 1);
    p->aw.last_fsync_ms = ts_mstime();
    publish(p, p->aw.pending_seq);
    if (switch_on) {
        atomic_store(&p->aw.enabled, true);
        atomic_store(&p->aof.enabling, 0);
        ts_log(TS_LOG_NOTICE, "The append only file is on: %s", filename);
    }
    struct stat sb;
    if (fstat(fd, &sb) == 0) {
        atomic_store(&p->aof.current_size, (long long)sb.st_size);
        atomic_store(&p->aof.base_size, (long long)sb.st_size);
    }
    return 0;
}

void ts_aofw_rewrite_end(ts_persist *p, bool ok, int64_t duration_ms)
{
    p->aw.rewriting = false;
    ts_buf_free(&p->aw.rewrite_tail);
    atomic_store(&p->aof.last_rewrite_ok, ok ? 1 : 0);
    atomic_store(&p->aof.last_rewrite_ms, duration_ms);
    if (ok) {
        atomic_fetch_add(&p->aof.rewrites, 1);
        atomic_store(&p->aof.rewrite_failures, 0);
    } else {
        atomic_fetch_add(&p->aof.rewrite_failures, 1);
    }
    atomic_store(&p->aof.rewrite_in_progress, 0);
}

#define LAZY_WRITE_MS 5   /* how long everysec/no leave submissions queued (persist.c) */

long ts_aofw_sleep_ms(ts_persist *p)
{
    if (p->aw.fd < 0) return -1;
    if (p->aw.npending) return 1000;   /* a failed write waits for its retry */
    int policy = atomic_load(&p->aw.fsync_policy);
    if (policy == TS_AOF_FSYNC_ALWAYS) return -1;   /* every submission signals */
    if (policy == TS_AOF_FSYNC_EVERYSEC && p->aw.synced_seq != p->aw.written_seq) {
        long left = 1000 - (long)(ts_mstime() - p->aw.last_fsync_ms);
        return left < LAZY_WRITE_MS ? (left > 0 ? left : 0) : LAZY_WRITE_MS;
    }
    /* Poll while writes keep coming; after a quiet second, sleep until a
     * submission signals (persist.c's idle flag). */
    return ts_mstime() - p->aw.last_write_ms < 1000 ? LAZY_WRITE_MS : -1;
}

void ts_aofw_tick(ts_persist *p)
{
    if (p->aw.fd < 0) return;
    if (p->aw.npending) {
        p->aw.retry_at_ms = 0;
        ts_aofw_round_end(p);
        return;
    }
    if (atomic_load(&p->aw.fsync_policy) == TS_AOF_FSYNC_EVERYSEC && p->aw.synced_seq != p->aw.written_seq &&
        ts_mstime() - p->aw.last_fsync_ms >= 1000)
        do_fsync(p);
}

void ts_aofw_disable(ts_persist *p)
{
    atomic_store(&p->aof.enabling, 0);
    if (p->aw.fd < 0) return;
    ts_aofw_close(p);
    atomic_store(&p->aw.enabled, false);
    publish(p, p->aw.pending_seq);   /* nothing is held for a log that is off */
    ts_log(TS_LOG_NOTICE, "The append only file is off");
}

int ts_aofw_sync_now(ts_persist *p)
{
    if (p->aw.fd < 0) return 0;
    p->aw.retry_at_ms = 0;
    if (p->aw.npending && !write_pending(p)) {
        int err = atomic_load(&p->aof.last_write_errno);
        return -(err ? err : EIO);
    }
    if (!do_fsync(p)) {   /* (appendfsync always: the process ends there) */
        int err = atomic_load(&p->aof.fsync_errno);
        return -(err ? err : EIO);
    }
    publish(p, p->aw.synced_seq);
    return 0;
}

void ts_aofw_close(ts_persist *p)
{
    if (p->aw.fd < 0) return;
    p->aw.retry_at_ms = 0;
    ts_aofw_round_end(p);
    if (p->aw.npending == 0 && atomic_load(&p->aw.fsync_policy) != TS_AOF_FSYNC_NO) do_fsync(p);
    drop_pending(p);
    close(p->aw.fd);
    p->aw.fd = -1;
}
