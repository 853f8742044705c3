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

#include <errno.h>
#include <fcntl.h>
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

#define ROUND_IOV 64

static struct {
    const ts_router *router;    /* engines to wake when more is durable */
    int fd;                         /* -1: AOF off; persistence thread only once it runs */
    atomic_bool enabled;            /* fd >= 0, for any thread */
    atomic_int fsync_policy;
    ts_buf pending[ROUND_IOV];      /* this round's bytes, in order */
    int npending;
    uint64_t pending_seq;           /* seq of the last pending buffer */
    uint64_t written_seq;           /* written, maybe not fsynced */
    atomic_ullong durable_seq;
    uint64_t synced_seq;
    int64_t last_fsync_ms;
    bool write_failed;
    int64_t retry_at_ms;
    int64_t last_write_ms;
    bool rewriting;                 /* keep a copy of appended bytes in rewrite_tail */
    ts_buf rewrite_tail;
} aw = {.fd = -1};

ts_aof_status ts_aof_stat;

int ts_aof_open(const char *filename, int fsync_policy)
{
    int fd = open(filename, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    struct stat sb;
    if (fstat(fd, &sb) == 0) {
        atomic_store(&ts_aof_stat.current_size, (long long)sb.st_size);
        atomic_store(&ts_aof_stat.base_size, (long long)sb.st_size);
    }
    aw.fd = fd;
    atomic_store(&aw.enabled, true);
    atomic_store(&ts_aof_stat.wanted, 1);
    atomic_store(&aw.fsync_policy, fsync_policy);
    atomic_store(&ts_aof_stat.last_write_ok, 1);
    aw.last_fsync_ms = ts_mstime();
    return 0;
}

void ts_aof_set_fsync(int fsync_policy) { atomic_store(&aw.fsync_policy, fsync_policy); }
int ts_aof_fsync_policy(void) { return atomic_load_explicit(&aw.fsync_policy, memory_order_relaxed); }
bool ts_aof_enabled(void) { return atomic_load_explicit(&aw.enabled, memory_order_relaxed); }
uint64_t ts_aof_durable(void) { return atomic_load(&aw.durable_seq); }

void ts_aofw_init(const ts_router *router)
{
    aw.router = router;
    atomic_store(&ts_aof_stat.last_rewrite_ok, 1);
    atomic_store(&ts_aof_stat.last_rewrite_ms, -1);
}

/* Wakes every worker holding replies (the worker side is in worker.c).
 * The store of durable_seq before the loads of aof_holding pairs with the
 * worker's store of aof_holding before its load of durable_seq: one of
 * the two always sees the other (sequentially consistent atomics). */
static void publish(uint64_t seq)
{
    atomic_store(&aw.durable_seq, seq);
    const ts_router *r = aw.router;
    for (unsigned i = 0; r && i < r->nshards; i++) {
        ts_engine *e = r->engines[i];
        if (atomic_load(&e->aof_holding) && !atomic_exchange(&e->aof_sync_posted, 1))
            ts_engine_post(e, &e->aof_sync_msg);
    }
}

static bool do_fsync(void)
{
    if (fdatasync(aw.fd) != 0) {
        ts_log(TS_LOG_WARNING, "Can't fsync the append only file: %s", strerror(errno));
        return false;
    }
    aw.last_fsync_ms = ts_mstime();
    aw.synced_seq = aw.written_seq;
    return true;
}

/* Writes the pending buffers; false (bytes kept) on an error. */
static bool write_pending(void)
{
    int first = 0;
    while (first < aw.npending) {
        struct iovec iov[ROUND_IOV];
        int n = 0;
        for (int i = first; i < aw.npending; i++) {
            iov[n].iov_base = aw.pending[i].data;
            iov[n].iov_len = aw.pending[i].len;
            n++;
        }
        ssize_t wr = writev(aw.fd, iov, n);
        if (wr < 0) {
            if (errno == EINTR) continue;
            if (!aw.write_failed)
                ts_log(TS_LOG_WARNING, "Error writing to the AOF file: %s", strerror(errno));
            aw.write_failed = true;
            atomic_store(&ts_aof_stat.last_write_ok, 0);
            aw.retry_at_ms = ts_mstime() + 1000;
            /* Keep what is left, in order. */
            memmove(aw.pending, aw.pending + first, sizeof(ts_buf) * (size_t)(aw.npending - first));
            aw.npending -= first;
            return false;
        }
        atomic_fetch_add(&ts_aof_stat.current_size, (long long)wr);
        size_t left = (size_t)wr;
        while (first < aw.npending && left >= aw.pending[first].len) {
            left -= aw.pending[first].len;
            ts_buf_free(&aw.pending[first]);
            first++;
        }
        if (left) ts_buf_consume(&aw.pending[first], left);
    }
    aw.npending = 0;
    if (aw.write_failed) ts_log(TS_LOG_WARNING, "AOF write error looks solved. Tessera can write again.");
    aw.write_failed = false;
    atomic_store(&ts_aof_stat.last_write_ok, 1);
    aw.written_seq = aw.pending_seq;
    aw.last_write_ms = ts_mstime();
    return true;
}

void ts_aofw_round_end(void)
{
    if (aw.fd < 0 || aw.npending == 0) return;
    if (aw.write_failed && ts_mstime() < aw.retry_at_ms) return;
    if (!write_pending()) return;
    int policy = atomic_load(&aw.fsync_policy);
    if (policy == TS_AOF_FSYNC_ALWAYS) {
        if (!do_fsync()) return;
        publish(aw.synced_seq);
    } else {
        if (policy == TS_AOF_FSYNC_EVERYSEC && ts_mstime() - aw.last_fsync_ms >= 1000) do_fsync();
        publish(aw.written_seq);
    }
}

void ts_aofw_append(ts_buf *data, uint64_t seq)
{
    if (aw.fd < 0) {
        /* Off, or being switched on: a rewrite in progress keeps the bytes
         * for the new file; nothing can be made durable before that file
         * exists, so replies waiting for these bytes go (as in Redis, whose
         * writes are not fsynced while it waits for that rewrite). */
        if (aw.rewriting) ts_buf_append(&aw.rewrite_tail, data->data, data->len);
        ts_buf_free(data);
        publish(seq);
        return;
    }
    if (aw.rewriting) ts_buf_append(&aw.rewrite_tail, data->data, data->len);
    if (aw.npending == ROUND_IOV) {
        /* A long round: write what we have (fsync at the round's end). */
        if (!write_pending()) {
            /* Still failing: merge into the last buffer so nothing is lost. */
            ts_buf *last = &aw.pending[aw.npending - 1];
            ts_buf_append(last, data->data, data->len);
            ts_buf_free(data);
            aw.pending_seq = seq;
            return;
        }
    }
    aw.pending[aw.npending++] = *data;
    ts_buf_init(data);
    aw.pending_seq = seq;
}

void ts_aofw_rewrite_begin(void)
{
    aw.rewriting = true;
    aw.rewrite_tail.len = 0;
}

ts_buf ts_aofw_rewrite_tail(void)
{
    ts_buf t = aw.rewrite_tail;
    ts_buf_init(&aw.rewrite_tail);
    aw.rewriting = false;
    return t;
}

int ts_aofw_reopen(const char *filename, bool enable)
{
    /* Not when a later CONFIG SET appendonly yes waits for its own
     * rewrite: the shards' logs restarted at that one's snapshot point. */
    bool switch_on = aw.fd < 0 && enable && atomic_load(&ts_aof_stat.wanted) &&
                     !atomic_load(&ts_aof_stat.enable_pending);
    if (aw.fd < 0 && !switch_on) return 0;   /* appendonly no: the file is made, not used */
    int fd = open(filename, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) {
        ts_log(TS_LOG_WARNING, "Can't open the rewritten append only file %s: %s", filename, strerror(errno));
        return -1;
    }
    if (aw.fd >= 0) close(aw.fd);
    aw.fd = fd;
    if (switch_on) {
        atomic_store(&aw.enabled, true);
        atomic_store(&ts_aof_stat.enabling, 0);
        atomic_store(&ts_aof_stat.last_write_ok, 1);
        aw.last_fsync_ms = ts_mstime();
        aw.written_seq = aw.synced_seq = aw.pending_seq;
        ts_log(TS_LOG_NOTICE, "The append only file is on: %s", filename);
    }
    struct stat sb;
    if (fstat(fd, &sb) == 0) {
        atomic_store(&ts_aof_stat.current_size, (long long)sb.st_size);
        atomic_store(&ts_aof_stat.base_size, (long long)sb.st_size);
    }
    return 0;
}

void ts_aofw_rewrite_end(bool ok, int64_t duration_ms)
{
    aw.rewriting = false;
    ts_buf_free(&aw.rewrite_tail);
    atomic_store(&ts_aof_stat.last_rewrite_ok, ok ? 1 : 0);
    atomic_store(&ts_aof_stat.last_rewrite_ms, duration_ms);
    if (ok) {
        atomic_fetch_add(&ts_aof_stat.rewrites, 1);
        atomic_store(&ts_aof_stat.rewrite_failures, 0);
    } else {
        atomic_fetch_add(&ts_aof_stat.rewrite_failures, 1);
    }
    atomic_store(&ts_aof_stat.rewrite_in_progress, 0);
}

#define LAZY_WRITE_MS 5   /* how long everysec/no leave submissions queued (persist.c) */

long ts_aofw_sleep_ms(void)
{
    if (aw.fd < 0) return -1;
    if (aw.npending) return 1000;   /* a failed write waits for its retry */
    int policy = atomic_load(&aw.fsync_policy);
    if (policy == TS_AOF_FSYNC_ALWAYS) return -1;   /* every submission signals */
    if (policy == TS_AOF_FSYNC_EVERYSEC && aw.synced_seq != aw.written_seq) {
        long left = 1000 - (long)(ts_mstime() - aw.last_fsync_ms);
        return left < LAZY_WRITE_MS ? (left > 0 ? left : 0) : LAZY_WRITE_MS;
    }
    /* Poll while writes keep coming; after a quiet second, sleep until a
     * submission signals (persist.c's idle flag). */
    return ts_mstime() - aw.last_write_ms < 1000 ? LAZY_WRITE_MS : -1;
}

void ts_aofw_tick(void)
{
    if (aw.fd < 0) return;
    if (aw.npending) {
        aw.retry_at_ms = 0;
        ts_aofw_round_end();
        return;
    }
    if (atomic_load(&aw.fsync_policy) == TS_AOF_FSYNC_EVERYSEC && aw.synced_seq != aw.written_seq &&
        ts_mstime() - aw.last_fsync_ms >= 1000)
        do_fsync();
}

void ts_aofw_disable(void)
{
    atomic_store(&ts_aof_stat.enabling, 0);
    if (aw.fd < 0) return;
    ts_aofw_close();
    atomic_store(&aw.enabled, false);
    publish(aw.pending_seq);   /* nothing is held for a log that is off */
    ts_log(TS_LOG_NOTICE, "The append only file is off");
}

void ts_aofw_close(void)
{
    if (aw.fd < 0) return;
    aw.retry_at_ms = 0;
    ts_aofw_round_end();
    if (aw.npending == 0 && atomic_load(&aw.fsync_policy) != TS_AOF_FSYNC_NO) do_fsync();
    for (int i = 0; i < aw.npending; i++) ts_buf_free(&aw.pending[i]);
    aw.npending = 0;
    close(aw.fd);
    aw.fd = -1;
}
