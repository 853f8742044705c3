/*
 * worker.h - a worker thread: one libuv loop, its connections and its shard.
 *
 * Owns: the loop, the inbox (MPSC queue + coalescing eventfd wake-up),
 * the shard, the worker's copy of the configuration, its connections, its
 * statistics, and the list of connections ready to continue.
 * Thread: everything in a worker belongs to its thread, except
 * ts_worker_post (any thread) and the fields set before the thread starts.
 *
 * Why: ownership instead of locks. Other threads never read or write a
 * worker's state; they post messages (practice 2 of STYLE.md). Wake-ups
 * coalesce, so the async callback drains the whole inbox (practice 7).
 */
#ifndef TESSERA_WORKER_H
#define TESSERA_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdatomic.h>
#include <uv.h>

#include "tessera/persist/aof.h"
#include "tessera/config/config.h"
#include "tessera/util/mpsc.h"
#include "tessera/route/msg.h"
#include "tessera/proto/resp_parse.h"
#include "tessera/cmd/server.h"
#include "tessera/store/shard.h"
#include "tessera/util/clock.h"

struct ts_conn;
struct ts_batch;

typedef struct ts_cmd_stats {
    uint64_t calls;
    uint64_t usec;
    uint64_t rejected;
    uint64_t failed;
} ts_cmd_stats;

typedef struct ts_worker_stats {
    uint64_t commands_processed;
    uint64_t errors;
    uint64_t batches_sent;
    uint64_t batches_served;
    uint64_t txns;
    uint64_t net_input;
    uint64_t net_output;
    uint64_t migrations_out;        /* connections handed to the worker owning their keys */
} ts_worker_stats;

typedef struct ts_error_stat { char code[32]; uint64_t count; } ts_error_stat;

typedef struct ts_worker {
    unsigned id;
    ts_server *srv;
    uv_thread_t thread;
    uv_loop_t loop;
    /* Wake-up: an eventfd polled by the loop, written only when the
     * worker may be asleep (wake_pending 0 -> 1). Unlike uv_async_t, whose
     * receiver spins (and sched_yield()s) while a sender is between its two
     * flag updates, nobody ever waits for anybody here: on a machine with
     * fewer cores than busy threads that spin was a measurable cost. */
    int wake_fd;
    uv_poll_t wake_poll;
    /* Written by the owner around each poll, read by every sender: on a
     * line of their own. may_sleep is 1 from the owner's last look at the
     * inbox before it polls until it runs again; a sender that finds it 0
     * writes nothing, because the owner drains the inbox before polling. */
    _Alignas(64) atomic_int may_sleep;
    atomic_int wake_pending;
    char wake_pad[64 - 2 * sizeof(atomic_int)];
    uv_idle_t inbox_idle;           /* makes the next poll non-blocking when the inbox is not empty */
    bool loop_closing;              /* TS_MSG_FINAL ran: the wake-up handles are closed */
    uv_timer_t cron;
    uv_check_t wake_check;          /* after I/O callbacks: send the wake-ups owed to peers */
    uv_prepare_t wake_prepare;      /* before polling: the same (for messages sent from timers) */
    unsigned *wake_list;            /* peers owed a wake-up this loop iteration */
    unsigned nwake;
    bool *wake_owed;
    ts_mpsc inbox;
    ts_shard shard;
    ts_config config;               /* this worker's copy */
    struct ts_conn *conns;          /* all connections, doubly linked */
    long nconns;                    /* open connections */
    long live_conns;                /* allocated ones (closing ones wait for their replies) */
    bool reported_idle;
    struct ts_conn *ready_head;     /* connections to continue processing */
    struct ts_conn *ready_tail;
    ts_msg *self_head, *self_tail;  /* messages this worker sent to itself */
    struct ts_conn *shard_waiters;  /* connections waiting for this shard to be released */
    struct ts_batch **open_batches; /* per target shard, during one connection's pass */
    struct ts_batch *batch_cache;   /* freed batches kept for reuse (conn.c) */
    ts_parser lookahead;            /* conn.c's prefetch look-ahead over a pipeline */
    /* What the look-ahead parsed during one ts_conn_process call, so the
     * commands are not parsed and looked up a second time (conn.c). */
    struct ts_preparsed *pre;
    int npre, pre_next;
    ts_arg *pre_argv;
    size_t pre_argv_cap;
    int nbatch_cache;
    unsigned *open_targets;
    unsigned nopen;
    ts_cmd_stats *cmd_stats;        /* indexed by ts_command.id */
    ts_worker_stats stats;
    ts_error_stat errstats[32];
    int nerrstats;
    int64_t now_ms;
    bool stopping;
    /* Blocked clients of this worker's connections (conn.c). */
    struct ts_blocker *blocked_head;
    long nblocked;
    uv_timer_t block_timer;
    int64_t block_timer_due;        /* 0 = not armed */
    /* Snapshots (snapshot.h): the shard's walk runs from an idle handle
     * between loop iterations, or from a timer while the disk lags. */
    uv_idle_t snap_idle;
    uv_timer_t snap_timer;
    /* Write commands run for this worker's clients (INFO
     * rdb_changes_since_last_save, `save` rules): written by the owner,
     * read by any thread. */
    atomic_ullong dirty;
    int64_t last_save_check_s;      /* worker 0: second of the last `save` rule check */
    uint64_t activity_seen;          /* commands + bytes read at the last cron tick */
    unsigned idle_ticks;             /* cron ticks since activity_seen changed */
    /* The AOF (aof.h). The shard logs into aof_log (shard.aof points here
     * once startup replay is over); the worker hands it to the persistence
     * thread before any message leaves and once per loop iteration. With
     * appendfsync always, replies wait in conn.c until ts_aof_durable()
     * reaches what their connection needs (aof_held list). */
    ts_aof_log aof_log;
    bool aof_on;                    /* appendonly yes: the shard logs after loading */
    bool loading;                   /* startup replay: clock reads 0, no expiry, no logging */
    uint64_t aof_last_seq;          /* this worker's last submission */
    struct ts_conn *aof_held;       /* connections whose output waits for an fsync */
    atomic_int aof_holding;         /* aof_held is not empty (read by the persistence thread) */
    atomic_int aof_sync_posted;     /* aof_sync_msg is in the inbox */
    ts_msg aof_sync_msg;
} ts_worker;

int ts_worker_init(ts_worker *w, ts_server *srv, unsigned id);
int ts_worker_start(ts_worker *w);
void ts_worker_join(ts_worker *w);
void ts_worker_destroy(ts_worker *w);
/* Owner thread, from a callback of the poll phase: the loop is running, so
 * senders need not wake it (cleared only when set: the line is shared). */
static inline void ts_worker_mark_awake(ts_worker *w)
{
    if (atomic_load_explicit(&w->may_sleep, memory_order_relaxed))
        atomic_store_explicit(&w->may_sleep, 0, memory_order_relaxed);
}
/* Owner thread: puts the calling worker thread under SCHED_BATCH or the
 * default policy, as config.worker_sched_batch says (at start and after
 * CONFIG SET). */
void ts_worker_apply_sched_policy(ts_worker *w);
/* Any thread: hands a message to the worker. */
void ts_worker_post(ts_worker *w, ts_msg *m);
/* Owner thread: delivers a message to target (a local FIFO when target ==
 * self). The wake-up of another worker is sent once per loop iteration, so a
 * pass over many connections costs one wake-up per peer, not one per batch. */
void ts_worker_send(ts_worker *self, ts_worker *target, ts_msg *m);
/* Owner thread: hands the shard's logged commands to the persistence
 * thread (no-op when there are none). */
void ts_worker_aof_flush(ts_worker *w);
/* The worker's clock: wall time, or 0 while replaying the AOF (so nothing
 * logged with an absolute time looks expired before the log is over). */
static inline int64_t ts_worker_clock(const ts_worker *w) { return w->loading ? 0 : ts_mstime(); }
/* Owner thread: the connection may continue (processed after the current callback). */
void ts_worker_make_ready(ts_worker *w, struct ts_conn *c);
void ts_worker_run_ready(ts_worker *w);
/* Owner thread: a txn released locks on the shard; resume parked work. */
void ts_worker_shard_released(ts_worker *w);
void ts_worker_count_error(ts_worker *w, const char *code);
/* Owner thread: a connection's memory was released (shutdown bookkeeping). */
void ts_worker_conn_freed(ts_worker *w);
ts_worker *ts_worker_of(ts_server *srv, unsigned shard);
/* Owner thread: the shard began a snapshot; walk it between iterations. */
void ts_worker_snapshot_kick(ts_worker *w);
/* Owner thread: one more write command ran. */
static inline void ts_worker_count_dirty(ts_worker *w)
{
    atomic_store_explicit(&w->dirty, atomic_load_explicit(&w->dirty, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}
/* Owner thread: (re)arms the blocked-client timer for a deadline. */
void ts_worker_arm_block_timer(ts_worker *w, int64_t deadline_ms);

#endif
