/*
 * worker.c - a worker thread: its loop, the handling of its engine's
 * messages, and its timers (see worker.h).
 *
 * The wake-up callback drains the engine's inbox (wake-ups coalesce: every
 * message waiting, up to a budget per drain, the rest in the next loop
 * iteration) and dispatches on the message kind; messages the engine sent itself run
 * from its local FIFO after the current callback (route/engine.c).
 * Connections that may continue (a reply came back, the shard was
 * released) are put on the ready list and processed at the same point.
 */
#include "tessera/net/worker.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "tessera/persist/aof.h"
#include "tessera/persist/persist.h"
#include "tessera/persist/snapshot.h"
#include "tessera/route/batch.h"
#include "tessera/route/blocking.h"
#include "tessera/route/txn.h"
#include "tessera/route/watch.h"
#include "tessera/script/script.h"
#include "tessera/store/db.h"
#include "tessera/util/log.h"
#include "tessera/util/thread.h"
#include "tessera/util/clock.h"
#include "tessera/cmd/persist_cmds.h"
#include "tessera/cmd/shutdown.h"

static void handle_msg(ts_worker *w, ts_msg *m);

/* WATCH_UNREG: a session ended; its registrations on this shard go. */
static void unwatch(ts_worker *w, ts_msg_unwatch *m)
{
    ts_watch_drop_here(&w->e.shard, w->e.id, m->w);
    ts_watch_unref(m->w);
    free(m);
}

void ts_worker_aof_flush(ts_worker *w)
{
    ts_engine *e = &w->e;
    if (e->aof_log.buf.len == 0) return;
    ts_buf b;
    ts_aof_log_take(&e->aof_log, &b);
    e->aof_last_seq = ts_aof_submit(w->srv->persist, &b);
    if (w->aof_held) ts_conn_aof_submitted(w, e->aof_last_seq);
}

/* The engine's hooks (route/engine.h). */
static void hook_flush_log(ts_engine *e) { ts_worker_aof_flush(ts_worker_of_engine(e)); }
static void hook_shard_released(ts_engine *e);
static void hook_snapshot_started(ts_engine *e) { ts_worker_snapshot_kick(ts_worker_of_engine(e)); }
static void hook_config_changed(ts_engine *e) { ts_worker_apply_sched_policy(ts_worker_of_engine(e)); }

/* A new ACL snapshot: connections authenticated as a user that is gone
 * (ACL DELUSER, ACL LOAD) are closed, their queued replies dropped, as
 * Redis frees them; the one that asked gets its reply first. */
static void hook_acl_changed(ts_engine *e, uint64_t issuer_client_id)
{
    ts_worker *w = ts_worker_of_engine(e);
    ts_conn *next;
    for (ts_conn *c = w->conns; c; c = next) {
        next = c->next;   /* ts_conn_close unlinks c */
        if (!c->client.user || ts__conn_acl_user(c)) continue;
        if (c->client.id == issuer_client_id) {
            c->close_after_reply = true;
        } else {
            ts_conn_close(c);
        }
    }
}

static const ts_engine_hooks worker_hooks = {
    .flush_log = hook_flush_log,
    .shard_released = hook_shard_released,
    .snapshot_started = hook_snapshot_started,
    .config_changed = hook_config_changed,
    .acl_changed = hook_acl_changed,
};

/* The flush at the end of a loop iteration. With appendfsync always, while
 * this worker's previous submission is not durable yet the log keeps
 * growing instead: the persistence thread's wake-up (AOF_SYNCED) hands it
 * over, so each fsync covers everything that arrived during the last one
 * (self-clocking group commit, like Redis's fsync per event-loop
 * iteration). The flushes that order messages (ts_engine_send) and txn
 * records never wait. */
static void aof_iteration_flush(ts_worker *w)
{
    ts_engine *e = &w->e;
    if (e->aof_log.buf.len == 0) return;
    if (e->config.appendfsync == TS_AOF_FSYNC_ALWAYS && e->aof_last_seq > ts_aof_durable(w->srv->persist)) {
        /* Published before durable_seq is read again (aof_writer.c's publish). */
        atomic_store(&e->aof_holding, 1);
        if (e->aof_last_seq > ts_aof_durable(w->srv->persist)) return;
    }
    ts_worker_aof_flush(w);
}

/* The inbox work of one drain (route/engine.h, ts_engine_drain); a loop
 * iteration drains twice at most (the wake-up's poll callback, then the
 * next iteration's prepare), with the sockets' callbacks between. 1000
 * messages or 1 ms, whichever comes first: a small inbox is drained whole,
 * as before; a flood (another shard's pipelined batches, many peers' txns)
 * is taken in slices of about a millisecond, so the worker's own clients
 * and timers wait at most that long per iteration for it. */
static const ts_inbox_budget inbox_budget = {.max_msgs = 1000, .max_us = 1000};

static void handle_inbox_msg(void *arg, ts_msg *m)
{
    ts_worker *w = arg;
    handle_msg(w, m);
    ts_worker_run_ready(w);
}

static void drain_inbox(ts_worker *w)
{
    ts_engine_tick(&w->e);
    /* Messages left over: the prepare callback sees them and keeps the next
     * poll from blocking (ts_engine_prepare_sleep). */
    (void)ts_engine_drain(&w->e, &inbox_budget, handle_inbox_msg, w);
    ts_worker_run_ready(w);
}

/* After the poll's callbacks: the loop is awake, senders need not write. */
static void on_wake_check(uv_check_t *h)
{
    ts_worker *w = h->data;
    ts_engine_mark_awake(&w->e);
    aof_iteration_flush(w);
    ts_engine_send_wakeups(&w->e);
}

static void on_inbox_idle(uv_idle_t *h) { uv_idle_stop(h); }

/* Just before the loop polls: take what arrived, send what is owed, then
 * announce that the loop may block and look at the inbox one last time
 * (see wake()). */
static void on_wake_prepare(uv_prepare_t *h)
{
    ts_worker *w = h->data;
    if (!ts_mpsc_empty(&w->e.inbox)) drain_inbox(w);
    if (w->loop_closing) return;
    aof_iteration_flush(w);
    ts_engine_send_wakeups(&w->e);
    /* Arrived meanwhile (or a push is half-way): poll without blocking,
     * the next iteration's prepare takes it. */
    if (!ts_engine_prepare_sleep(&w->e)) uv_idle_start(&w->inbox_idle, on_inbox_idle);
}

void ts_worker_make_ready(ts_worker *w, ts_conn *c)
{
    if (c->in_ready) return;
    c->in_ready = true;
    c->ready_next = NULL;
    if (w->ready_tail) w->ready_tail->ready_next = c;
    else w->ready_head = c;
    w->ready_tail = c;
}

void ts_worker_run_ready(ts_worker *w)
{
    for (;;) {
        ts_msg *m = ts_engine_next_local(&w->e);
        if (m) {
            handle_msg(w, m);
            continue;
        }
        if (w->ready_head) {
            ts_conn *c = w->ready_head;
            w->ready_head = c->ready_next;
            if (!w->ready_head) w->ready_tail = NULL;
            c->in_ready = false;
            ts_conn_process(c);
            continue;
        }
        break;
    }
}

/* TS_MSG_FINAL's work, once the shard is free: close the loop's handles
 * (a background save still walking finishes first), and the loop ends. */
static void maybe_close_loop(ts_worker *w)
{
    if (!w->final_pending || w->loop_closing) return;
    if (ts_engine_shard_busy(&w->e) || w->e.shard.locks.count) return;
    if (ts_shard_snapshot_active(&w->e.shard)) ts_shard_snapshot_finish(&w->e.shard);
    uv_idle_stop(&w->snap_idle);
    uv_close((uv_handle_t *)&w->snap_idle, NULL);
    uv_timer_stop(&w->snap_timer);
    uv_close((uv_handle_t *)&w->snap_timer, NULL);
    ts_engine_send_wakeups(&w->e);
    w->loop_closing = true;
    uv_idle_stop(&w->inbox_idle);
    uv_close((uv_handle_t *)&w->inbox_idle, NULL);
    uv_timer_stop(&w->cron);
    uv_close((uv_handle_t *)&w->cron, NULL);
    uv_timer_stop(&w->block_timer);
    uv_close((uv_handle_t *)&w->block_timer, NULL);
    uv_poll_stop(&w->wake_poll);
    uv_close((uv_handle_t *)&w->wake_poll, NULL);
    uv_check_stop(&w->wake_check);
    uv_close((uv_handle_t *)&w->wake_check, NULL);
    uv_prepare_stop(&w->wake_prepare);
    uv_close((uv_handle_t *)&w->wake_prepare, NULL);
}

/* Local connections parked on the shard retry, in arrival order (the
 * engine ran its parked messages first: route/engine.c). */
static void hook_shard_released(ts_engine *e)
{
    ts_worker *w = ts_worker_of_engine(e);
    if (w->final_pending) {
        maybe_close_loop(w);
        return;
    }
    ts_conn *c = w->shard_waiters;
    w->shard_waiters = NULL;
    while (c) {
        ts_conn *next = c->waiter_next;
        c->in_waiters = false;
        c->waiter_next = NULL;
        if (c->wait == TS_WAIT_SHARD) c->wait = TS_WAIT_NONE;
        ts_worker_make_ready(w, c);
        c = next;
    }
}

void ts_worker_conn_freed(ts_worker *w)
{
    if (w->stopping && w->live_conns == 0 && !w->reported_idle) {
        w->reported_idle = true;
        ts_server_worker_idle(w->srv);
    }
}

static void handle_msg(ts_worker *w, ts_msg *m)
{
    switch ((ts_msg_kind)m->kind) {
    case TS_MSG_NEW_CONN: {
        ts_msg_new_conn *nc = (ts_msg_new_conn *)m;
        if (w->stopping) close(nc->fd);
        else ts_conn_adopt(w, nc);
        free(nc);
        break;
    }
    case TS_MSG_BATCH:
        ts_engine_submit(&w->e, m);
        break;
    case TS_MSG_MIGRATE_CONN:
        ts_conn_adopt_migrated(w, (ts_msg_migrate *)m);
        break;
    case TS_MSG_BLOCK_DONE:
        ts_conn_on_block_done((ts_blocker *)m);
        break;
    case TS_MSG_BLOCK_UNREG: {
        ts_msg_unblock *u = (ts_msg_unblock *)m;
        ts_blocking_unregister(&w->e.shard, u->b);
        ts_blocker_unref(u->b);
        free(u);
        break;
    }
    case TS_MSG_WATCH_UNREG:
        unwatch(w, (ts_msg_unwatch *)m);
        break;
    case TS_MSG_CALL:
        ts_engine_on_call(&w->e, m);
        break;
    case TS_MSG_BATCH_DONE:
        ts_conn_on_batch_done((ts_batch *)m);
        break;
    case TS_MSG_TXN_ACQUIRE:
        ts_engine_submit(&w->e, m);
        break;
    case TS_MSG_TXN_STEP:
        ts_txn_on_step(&w->e, (ts_txn_part *)m);
        break;
    case TS_MSG_TXN_RELEASE:
        ts_txn_on_release(&w->e, (ts_txn_part *)m);
        break;
    case TS_MSG_TXN_DONE:
        ts_txn_on_done(&w->e, TS_CONTAINER_OF(m, ts_txn, done_msg));
        break;
    case TS_MSG_SHUTDOWN: {
        int signum = ((ts_msg_shutdown *)m)->signum;
        free(m);
        ts_shutdown_signal(&w->e, signum);
        break;
    }
    case TS_MSG_AOF_SYNCED:
        atomic_store(&w->e.aof_sync_posted, 0);
        /* What gathered while the last round was on its way goes first, so
         * the next fsync overlaps the writing of the released replies
         * (tens of socket writes: as long as the fsync itself). */
        aof_iteration_flush(w);
        ts_conn_aof_release(w);
        break;
    case TS_MSG_LOADED:
        free(m);
        w->e.loading = false;
        ts_engine_tick(&w->e);
        if (w->e.aof_on) w->e.shard.aof = &w->e.aof_log;
        break;
    case TS_MSG_STOP:
        /* Stage 1: close every connection (a successful SHUTDOWN still
         * holds every shard: no reply computed after its snapshot can
         * leave). The loop keeps running: batches and txns of closing
         * connections (ours and other workers') still need it until every
         * worker is idle. */
        free(m);
        w->stopping = true;
        while (w->conns) ts_conn_shutdown(w->conns);
        ts_server_worker_stopped(w->srv);
        ts_worker_conn_freed(w);
        break;
    case TS_MSG_FINAL:
        /* Stage 2: nothing of a connection is in flight anywhere. A txn
         * may still hold this shard (the SHUTDOWN's own, whose RELEASE is
         * on its way): the loop closes once it is released. */
        free(m);
        w->final_pending = true;
        maybe_close_loop(w);
        break;
    default:
        ts_panic("worker %u: unknown message kind %d", w->e.id, m->kind);
    }
}

static void on_wakeup(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    ts_worker *w = p->data;
    ts_engine_mark_awake(&w->e);
    ts_engine_ack_wakeup(&w->e);
    drain_inbox(w);
}

static void on_block_timer(uv_timer_t *t)
{
    ts_worker *w = t->data;
    ts_engine_tick(&w->e);
    w->block_timer_due = 0;
    int64_t next = ts_conn_expire_blocked(w, w->e.now_ms);
    if (next) ts_worker_arm_block_timer(w, next);
    ts_worker_run_ready(w);
}

void ts_worker_arm_block_timer(ts_worker *w, int64_t deadline_ms)
{
    if (w->block_timer_due && w->block_timer_due <= deadline_ms) return;
    w->block_timer_due = deadline_ms;
    int64_t now = ts_mstime();
    /* Fire just after the deadline: a client is timed out once it is past. */
    uv_timer_start(&w->block_timer, on_block_timer, deadline_ms >= now ? (uint64_t)(deadline_ms - now) + 1 : 0, 0);
}

/* ---- snapshots: the shard's walk between loop iterations ---- */

#define SNAP_STEP_ENTRIES 2000            /* entries per loop iteration */
#define SNAP_MAX_BACKLOG (64u << 20)      /* bytes queued for the disk before the walk pauses */

static void on_snap_idle(uv_idle_t *h);

static void on_snap_timer(uv_timer_t *t)
{
    ts_worker *w = t->data;
    uv_idle_start(&w->snap_idle, on_snap_idle);
}

static void on_snap_idle(uv_idle_t *h)
{
    ts_worker *w = h->data;
    if (!ts_shard_snapshot_active(&w->e.shard)) {
        uv_idle_stop(h);
        return;
    }
    if (ts_persist_backlog(w->srv->persist) > SNAP_MAX_BACKLOG) {
        /* The disk is behind: wait for it instead of spinning. */
        uv_idle_stop(h);
        uv_timer_start(&w->snap_timer, on_snap_timer, 5, 0);
        return;
    }
    if (ts_shard_snapshot_step(&w->e.shard, SNAP_STEP_ENTRIES)) uv_idle_stop(h);
}

void ts_worker_snapshot_kick(ts_worker *w)
{
    if (ts_shard_snapshot_active(&w->e.shard)) uv_idle_start(&w->snap_idle, on_snap_idle);
}

/* A worker that went quiet (its clients moved to the worker owning their
 * keys, a burst ended) hands the free memory cached by its thread back to
 * the allocator once, after about a second without commands or input, so
 * jemalloc's background thread can return it to the system. A busy worker
 * never pays for it. */
static void release_idle_caches(ts_worker *w)
{
    const ts_engine_stats *st = &w->e.stats;
    uint64_t activity = st->commands_processed + st->net_input + st->batches_served;
    if (activity != w->activity_seen) {
        w->activity_seen = activity;
        w->idle_ticks = 0;
        return;
    }
    if (++w->idle_ticks == (unsigned)w->e.config.hz) ts_alloc_thread_cache_flush();   /* hz: 1..500 */
}

/* The periodic job (hz times a second): active expiry and idle clients. */
static void on_cron(uv_timer_t *t)
{
    ts_worker *w = t->data;
    ts_engine *e = &w->e;
    ts_engine_tick(e);
    /* Active expiry stays away while txns hold keys: it would delete what
     * they may still read. */
    if (!e->shard.exclusive && !e->shard.locks.count && e->shard.active_expire && !e->loading) {
        /* Redis spends at most 25% of a cron period on active expiry. */
        uint64_t budget_us = 1000000ULL / (uint64_t)(e->config.hz > 0 ? e->config.hz : 10) / 4;
        ts_db_active_expire_cycle(&e->shard, e->now_ms, budget_us);
        if (ts_blocking_pending(&e->shard)) ts_blocking_serve(e);   /* expired streams */
    }
    for (int db = 0; db < e->shard.ndb; db++)
        if (ts_table_is_rehashing(&e->shard.dbs[db])) ts_table_rehash_step(&e->shard.dbs[db], 1000);
    ts_conn_evict_clients(w);   /* maxmemory-clients */
    /* Idle clients and output limits, once a second as Redis's clientsCron. */
    if (e->now_ms / 1000 != w->last_client_check_s) {
        w->last_client_check_s = e->now_ms / 1000;
        ts_conn *c = w->conns;
        while (c) {
            ts_conn *next = c->next;
            ts_conn_cron(c, e->now_ms);
            c = next;
        }
    }
    /* `save` rules, once a second (Redis checks them in its cron too); not
     * while a txn holds the shard (with one shard a BGSAVE would start
     * inline, inside a SHUTDOWN's hold). */
    if (e->id == 0 && !w->stopping && !e->shard.exclusive && e->now_ms / 1000 != w->last_save_check_s) {
        w->last_save_check_s = e->now_ms / 1000;
        ts_save_rules_check(e);
        ts_aof_rewrite_check(e);
    }
    release_idle_caches(w);
    ts_worker_run_ready(w);
}

int ts_worker_init(ts_worker *w, ts_server *srv, ts_router *router, unsigned id)
{
    memset(w, 0, sizeof(*w));
    w->srv = srv;
    int rc = ts_engine_init(&w->e, router, srv, id, &srv->config, ts_command_count(), srv->loading, &worker_hooks);
    if (rc) return rc;
    rc = uv_loop_init(&w->loop);
    if (rc) return rc;
    uv_idle_init(&w->loop, &w->inbox_idle);
    w->inbox_idle.data = w;
    rc = uv_poll_init(&w->loop, &w->wake_poll, w->e.wake_fd);
    if (rc) return rc;
    w->wake_poll.data = w;
    uv_poll_start(&w->wake_poll, UV_READABLE, on_wakeup);
    uv_timer_init(&w->loop, &w->cron);
    w->cron.data = w;
    uv_timer_init(&w->loop, &w->block_timer);
    w->block_timer.data = w;
    uv_check_init(&w->loop, &w->wake_check);
    w->wake_check.data = w;
    uv_idle_init(&w->loop, &w->snap_idle);
    w->snap_idle.data = w;
    uv_timer_init(&w->loop, &w->snap_timer);
    w->snap_timer.data = w;
    uv_prepare_init(&w->loop, &w->wake_prepare);
    w->wake_prepare.data = w;
    w->open_batches = ts_calloc(router->nshards, sizeof(ts_batch *));
    w->open_targets = ts_calloc(router->nshards, sizeof(unsigned));
    ts_parser_init(&w->lookahead, (size_t)w->e.config.proto_max_bulk_len);
    return 0;
}

void ts_worker_apply_sched_policy(ts_worker *w)
{
#ifdef SCHED_BATCH
    int now = sched_getscheduler(0);
    int want = w->e.config.worker_sched_batch ? SCHED_BATCH : SCHED_OTHER;
    /* Only between the two time-sharing policies: a real-time policy set
     * by the operator (chrt) is left alone. */
    if (now == want || (now != SCHED_BATCH && now != SCHED_OTHER)) return;
    struct sched_param sp = {.sched_priority = 0};
    int rc = pthread_setschedparam(pthread_self(), want, &sp);
    if (rc != 0)
        ts_log(TS_LOG_VERBOSE, "worker %u: cannot switch to %s: %s", w->e.id,
               want == SCHED_BATCH ? "SCHED_BATCH" : "SCHED_OTHER", strerror(rc));
#else
    (void)w;
#endif
}

static void worker_main(void *arg)
{
    ts_worker *w = arg;
#ifndef NDEBUG
    w->e.shard.owner = pthread_self();
#endif
    ts_worker_apply_sched_policy(w);   /* before the name: a named worker has its policy */
    char name[16];
    snprintf(name, sizeof(name), "ts-worker-%u", w->e.id);
    pthread_setname_np(pthread_self(), name);
    int hz = w->e.config.hz > 0 ? w->e.config.hz : 10;
    uv_timer_start(&w->cron, on_cron, (uint64_t)(1000 / hz), (uint64_t)(1000 / hz));
    uv_check_start(&w->wake_check, on_wake_check);
    uv_prepare_start(&w->wake_prepare, on_wake_prepare);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    ts_worker_aof_flush(w);
    ts_script_thread_end();
}

int ts_worker_start(ts_worker *w) { return ts_thread_start(&w->thread, NULL, worker_main, w); }

void ts_worker_join(ts_worker *w) { ts_thread_join(&w->thread); }

void ts_worker_destroy(ts_worker *w)
{
    /* Registrations dropped after the loops ended (clients closed while
     * blocked at shutdown). */
    ts_msg *m;
    while ((m = ts_engine_next_inbox(&w->e)) != NULL) {
        if (m->kind == TS_MSG_MIGRATE_CONN) {
            ts_msg_migrate_drop((ts_msg_migrate *)m);
            continue;
        }
        if (m->kind == TS_MSG_WATCH_UNREG) {
            unwatch(w, (ts_msg_unwatch *)m);
            continue;
        }
        if (m->kind != TS_MSG_BLOCK_UNREG) continue;
        ts_msg_unblock *u = (ts_msg_unblock *)m;
        ts_blocking_unregister(&w->e.shard, u->b);
        ts_blocker_unref(u->b);
        free(u);
    }
    uv_loop_close(&w->loop);
    ts_engine_destroy(&w->e);
    free(w->open_batches);
    ts_parser_free(&w->lookahead);
    free(w->pre);
    free(w->pre_argv);
    free(w->open_targets);
}
