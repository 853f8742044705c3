/*
 * worker.h - a worker thread: one libuv loop running one shard's engine
 * (route/engine.h), and the connections the acceptor handed it.
 *
 * Owns: the thread, the loop and its handles (the inbox's wake-up poll,
 * cron, timers, the snapshot walk), its connections, the list of
 * connections ready to continue, its blocked clients' timers, and the
 * engine it embeds (the shard, the inbox, the statistics).
 * Thread: everything in a worker belongs to its thread. Other threads
 * reach it only through its engine's inbox (ts_engine_post); the engine
 * header marks the few fields others read.
 *
 * Why: ownership instead of locks (practice 2 of docs/style.md). Wake-ups
 * coalesce, so every wake-up drains all that waits (practice 7), in slices
 * of a bounded budget per loop iteration (worker.c's inbox_budget) so that
 * the worker's own sockets and timers run between them.
 */
#ifndef TESSERA_WORKER_H
#define TESSERA_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdatomic.h>
#include <uv.h>

#include "tessera/cmd/server.h"
#include "tessera/proto/resp_parse.h"
#include "tessera/route/engine.h"
#include "tessera/util/thread.h"
#include "tessera/util/channels.h"
#include "tessera/util/clock.h"

struct ts_conn;
struct ts_batch;

typedef struct ts_worker {
    ts_engine e;                    /* first: the engine's owner is its worker (ts_worker_of_engine) */
    ts_server *srv;
    ts_thread thread;
    uv_loop_t loop;
    uv_poll_t wake_poll;            /* the engine's eventfd */
    uv_idle_t inbox_idle;           /* makes the next poll non-blocking when the inbox is not empty */
    bool loop_closing;              /* TS_MSG_FINAL ran: the wake-up handles are closed */
    uv_timer_t cron;
    uv_check_t wake_check;          /* after I/O callbacks: send the wake-ups owed to peers */
    uv_prepare_t wake_prepare;      /* before polling: the same (for messages sent from timers) */
    struct ts_conn *conns;          /* all connections, doubly linked */
    long live_conns;                /* allocated ones (closing ones wait for their replies) */
    bool reported_idle;
    struct ts_conn *ready_head;     /* connections to continue processing */
    struct ts_conn *ready_tail;
    struct ts_conn *shard_waiters;  /* connections waiting for this shard to be released */
    struct ts_batch **open_batches; /* per target shard, during one connection's pass */
    ts_parser lookahead;            /* conn.c's prefetch look-ahead over a pipeline */
    /* What the look-ahead parsed during one ts_conn_process call, so the
     * commands are not parsed and looked up a second time (conn.c). */
    struct ts_preparsed *pre;
    int npre, pre_next;
    ts_arg *pre_argv;
    size_t pre_argv_cap;
    unsigned *open_targets;
    unsigned nopen;
    bool stopping;
    bool final_pending;             /* TS_MSG_FINAL arrived; the loop closes once the shard is free */
    /* Blocked clients of this worker's connections (conn.c). */
    struct ts_blocker *blocked_head;
    uv_timer_t block_timer;
    int64_t block_timer_due;        /* 0 = not armed */
    /* Snapshots (snapshot.h): the shard's walk runs from an idle handle
     * between loop iterations, or from a timer while the disk lags. */
    uv_idle_t snap_idle;
    uv_timer_t snap_timer;
    int64_t last_save_check_s;      /* worker 0: second of the last `save` rule check */
    int64_t last_client_check_s;    /* second of the last idle/output-limit pass over conns */
    /* maxmemory-clients: the memory of this worker's biggest evictable
     * connection, for other workers to compare with (written by the owner). */
    atomic_size_t biggest_evictable;
    int64_t evict_warned_ms;        /* last "Over client maxmemory ..." warning */
    uint64_t activity_seen;          /* commands + bytes read at the last cron tick */
    unsigned idle_ticks;             /* cron ticks since activity_seen changed */
    /* appendfsync always: connections whose output waits for an fsync
     * (conn.c aof_hold). */
    struct ts_conn *aof_held;
} ts_worker;

/* The worker running an engine (every engine is a worker's). */
static inline ts_worker *ts_worker_of_engine(ts_engine *e) { return TS_CONTAINER_OF(e, ts_worker, e); }

int ts_worker_init(ts_worker *w, ts_server *srv, ts_router *router, unsigned id);
int ts_worker_start(ts_worker *w);
void ts_worker_join(ts_worker *w);
void ts_worker_destroy(ts_worker *w);
/* Owner thread: puts the calling worker thread under SCHED_BATCH or the
 * default policy, as config.worker_sched_batch says (at start and after
 * CONFIG SET). */
void ts_worker_apply_sched_policy(ts_worker *w);
/* Owner thread: hands the shard's logged commands to the persistence
 * thread (no-op when there are none). */
void ts_worker_aof_flush(ts_worker *w);
/* Owner thread: the connection may continue (processed after the current callback). */
void ts_worker_make_ready(ts_worker *w, struct ts_conn *c);
void ts_worker_run_ready(ts_worker *w);
/* Owner thread: a connection's memory was released (shutdown bookkeeping). */
void ts_worker_conn_freed(ts_worker *w);
/* Owner thread: the shard began a snapshot; walk it between iterations. */
void ts_worker_snapshot_kick(ts_worker *w);
/* Owner thread: (re)arms the blocked-client timer for a deadline. */
void ts_worker_arm_block_timer(ts_worker *w, int64_t deadline_ms);

#endif
