/*
 * worker.c - a worker thread: its loop, inbox and timers (see worker.h).
 *
 * The inbox callback drains the whole MPSC queue on every wake-up (wake-ups
 * coalesce) and dispatches on the message kind. Messages a worker sends to
 * itself (a multi-shard txn that includes the worker's own shard) never go
 * through the inbox: they go on a plain local FIFO that is run after the
 * current callback, so handlers are never re-entered from inside one another.
 * Connections that may continue (a reply came back, the shard was released)
 * are put on the ready list and processed at the same point.
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

#include "tessera/store/blocking.h"
#include "tessera/net/conn.h"
#include "tessera/store/db.h"
#include "tessera/util/log.h"
#include "tessera/persist/persist.h"
#include "tessera/persist/snapshot.h"
#include "tessera/route/txn.h"
#include "tessera/util/clock.h"

static void handle_msg(ts_worker *w, ts_msg *m);

ts_worker *ts_worker_of(ts_server *srv, unsigned shard) { return srv->workers[shard]; }

/* Any thread, after its push is complete.
 *
 * Two flags keep the system calls away from the hot path. may_sleep: the
 * receiver drains its inbox once per loop iteration, just before it polls
 * (on_wake_prepare), so while it is awake a sender only has to link its
 * message. Before polling the receiver sets may_sleep and then looks at the
 * inbox once more; a sender pushes and then reads may_sleep. With a seq_cst
 * fence on both sides (Dekker) one of them sees the other: either the
 * receiver finds the message and does not block, or the sender finds
 * may_sleep set and writes the eventfd. wake_pending: among the senders that
 * found may_sleep set, only the first writes (the receiver clears it before
 * it drains, so a sender whose push was not yet linked when that drain ran
 * finds it cleared and writes). */
static void wake(ts_worker *w)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&w->may_sleep, memory_order_relaxed) == 0) return;
    /* A load first: while the flag is set (the receiver has not run yet)
     * senders only read it, so its cache line is not bounced between
     * cores. */
    if (atomic_load_explicit(&w->wake_pending, memory_order_relaxed) != 0 ||
        atomic_exchange(&w->wake_pending, 1) != 0)
        return;
    uint64_t one = 1;
    ssize_t n;
    do n = write(w->wake_fd, &one, sizeof one);
    while (n < 0 && errno == EINTR);
    /* EAGAIN: the counter is saturated, a wake-up is pending anyway. */
    if (n < 0 && errno != EAGAIN) ts_panic("wake-up write failed: %s", strerror(errno));
}

void ts_worker_post(ts_worker *w, ts_msg *m)
{
    ts_mpsc_push(&w->inbox, &m->node);
    wake(w);
}

void ts_worker_aof_flush(ts_worker *w)
{
    if (w->aof_log.buf.len == 0) return;
    ts_buf b;
    ts_aof_log_take(&w->aof_log, &b);
    w->aof_last_seq = ts_aof_submit(&b);
    if (w->aof_held) ts_conn_aof_submitted(w, w->aof_last_seq);
}

/* Messages whose receiver may log something that must come after what the
 * sender logged (txn steps and their answers: a multi-shard command is
 * logged after every part handed its log over). Batches of single-shard
 * commands and their replies touch keys no other shard has, so their logs
 * may interleave freely (aof.h). */
static bool orders_logs(uint8_t kind)
{
    switch (kind) {
    case TS_MSG_BATCH:
    case TS_MSG_BATCH_DONE:
    case TS_MSG_BLOCK_DONE:
    case TS_MSG_BLOCK_UNREG:
    case TS_MSG_MIGRATE_CONN:
        return false;
    default:
        return true;
    }
}

/* The flush at the end of a loop iteration. With appendfsync always, while
 * this worker's previous submission is not durable yet the log keeps
 * growing instead: the persistence thread's wake-up (AOF_SYNCED) hands it
 * over, so each fsync covers everything that arrived during the last one
 * (self-clocking group commit, like Redis's fsync per event-loop
 * iteration). The flushes that order messages (ts_worker_send) and txn
 * records never wait. */
static void aof_iteration_flush(ts_worker *w)
{
    if (w->aof_log.buf.len == 0) return;
    if (w->config.appendfsync == TS_AOF_FSYNC_ALWAYS && w->aof_last_seq > ts_aof_durable()) {
        /* Published before durable_seq is read again (aof_writer.c's publish). */
        atomic_store(&w->aof_holding, 1);
        if (w->aof_last_seq > ts_aof_durable()) return;
    }
    ts_worker_aof_flush(w);
}

void ts_worker_send(ts_worker *self, ts_worker *target, ts_msg *m)
{
    if (TS_UNLIKELY(self->aof_log.buf.len != 0)) {
        /* What this shard logged goes to the disk queue before anything
         * the receiver logs because of this message; with appendfsync
         * always a reply also needs the sequence number of our writes
         * (holding it back until the iteration's submission measured
         * slower: the client's round trip grows). */
        if (orders_logs(m->kind) ||
            ((m->kind == TS_MSG_BATCH_DONE || m->kind == TS_MSG_BLOCK_DONE) &&
             self->config.appendfsync == TS_AOF_FSYNC_ALWAYS))
            ts_worker_aof_flush(self);
    }
    m->aof_seq = self->aof_last_seq;
    if (target != self) {
        ts_mpsc_push(&target->inbox, &m->node);
        if (!self->wake_owed[target->id]) {
            self->wake_owed[target->id] = true;
            self->wake_list[self->nwake++] = target->id;
        }
        return;
    }
    /* Self-addressed: a local FIFO, run after the current callback. */
    m->next = NULL;
    if (self->self_tail) self->self_tail->next = m;
    else self->self_head = m;
    self->self_tail = m;
}

static void flush_wakeups(ts_worker *w)
{
    for (unsigned i = 0; i < w->nwake; i++) {
        unsigned id = w->wake_list[i];
        w->wake_owed[id] = false;
        wake(w->srv->workers[id]);
    }
    w->nwake = 0;
}

static void drain_inbox(ts_worker *w)
{
    ts_mpsc_node *n;
    w->now_ms = ts_worker_clock(w);
    while ((n = ts_mpsc_pop(&w->inbox)) != NULL) {
        handle_msg(w, TS_CONTAINER_OF(n, ts_msg, node));
        ts_worker_run_ready(w);
    }
    ts_worker_run_ready(w);
}

/* After the poll's callbacks: the loop is awake, senders need not write. */
static void on_wake_check(uv_check_t *h)
{
    ts_worker *w = h->data;
    ts_worker_mark_awake(w);
    aof_iteration_flush(w);
    flush_wakeups(w);
}

static void on_inbox_idle(uv_idle_t *h) { uv_idle_stop(h); }

/* Just before the loop polls: take what arrived, send what is owed, then
 * announce that the loop may block and look at the inbox one last time
 * (see wake()). */
static void on_wake_prepare(uv_prepare_t *h)
{
    ts_worker *w = h->data;
    if (!ts_mpsc_empty(&w->inbox)) drain_inbox(w);
    if (w->loop_closing) return;
    aof_iteration_flush(w);
    flush_wakeups(w);
    atomic_store(&w->may_sleep, 1);
    atomic_thread_fence(memory_order_seq_cst);
    if (!ts_mpsc_empty(&w->inbox)) {
        /* Arrived meanwhile (or a push is half-way): poll without blocking,
         * the next iteration's prepare takes it. */
        atomic_store_explicit(&w->may_sleep, 0, memory_order_relaxed);
        uv_idle_start(&w->inbox_idle, on_inbox_idle);
    }
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
        if (w->self_head) {
            ts_msg *m = w->self_head;
            w->self_head = m->next;
            if (!w->self_head) w->self_tail = NULL;
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

/* Runs parked work that needs the shard; false when it still cannot run. */
static bool shard_try(ts_worker *w, ts_msg *m)
{
    if (m->kind == TS_MSG_BATCH) {
        ts_batch *b = (ts_batch *)m;
        if (!ts_batch_execute(w, b)) return false;
        b->msg.kind = TS_MSG_BATCH_DONE;
        ts_worker_send(w, b->origin, &b->msg);
        return true;
    }
    return ts_txn_try_acquire(w, (ts_txn_part *)m);
}

/* New work for the shard: runs now unless older work is parked (FIFO: no
 * overtaking, so nothing starves) or a lock is in the way. */
static void shard_submit(ts_worker *w, ts_msg *m)
{
    if (ts_shard_busy(&w->shard) || !shard_try(w, m)) ts_shard_defer(&w->shard, m);
}

void ts_worker_shard_released(ts_worker *w)
{
    ts_shard *s = &w->shard;
    ts_msg *m;
    while (!s->exclusive && (m = ts_shard_undefer(s)) != NULL) {
        if (!shard_try(w, m)) {
            ts_shard_redefer_front(s, m);
            break;
        }
    }
    if (ts_shard_busy(s)) return;
    ts_blocking_serve(w);   /* keys that were locked when signalled */
    /* Local connections parked on the shard retry, in arrival order. */
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

void ts_worker_count_error(ts_worker *w, const char *code)
{
    w->stats.errors++;
    for (int i = 0; i < w->nerrstats; i++) {
        if (strcmp(w->errstats[i].code, code) == 0) { w->errstats[i].count++; return; }
    }
    if (w->nerrstats < (int)TS_ARRAY_LEN(w->errstats)) {
        snprintf(w->errstats[w->nerrstats].code, sizeof(w->errstats[0].code), "%s", code);
        w->errstats[w->nerrstats++].count = 1;
    }
}

static void handle_msg(ts_worker *w, ts_msg *m)
{
    switch ((ts_msg_kind)m->kind) {
    case TS_MSG_NEW_CONN: {
        ts_msg_new_conn *nc = (ts_msg_new_conn *)m;
        if (w->stopping) close(nc->fd);
        else ts_conn_adopt(w, nc->fd, nc->is_unix);
        free(nc);
        break;
    }
    case TS_MSG_BATCH:
        shard_submit(w, m);
        break;
    case TS_MSG_MIGRATE_CONN:
        ts_conn_adopt_migrated(w, (ts_msg_migrate *)m);
        break;
    case TS_MSG_BLOCK_DONE:
        ts_conn_on_block_done((ts_blocker *)m);
        break;
    case TS_MSG_BLOCK_UNREG: {
        ts_msg_unblock *u = (ts_msg_unblock *)m;
        ts_blocking_unregister(&w->shard, u->b);
        ts_blocker_unref(u->b);
        free(u);
        break;
    }
    case TS_MSG_BATCH_DONE:
        ts_conn_on_batch_done((ts_batch *)m);
        break;
    case TS_MSG_TXN_ACQUIRE:
        shard_submit(w, m);
        break;
    case TS_MSG_TXN_STEP:
        ts_txn_on_step(w, (ts_txn_part *)m);
        if (ts_blocking_pending(&w->shard)) ts_blocking_serve(w);
        break;
    case TS_MSG_TXN_RELEASE:
        ts_txn_on_release(w, (ts_txn_part *)m);
        break;
    case TS_MSG_TXN_DONE:
        ts_txn_on_done(w, TS_CONTAINER_OF(m, ts_txn, done_msg));
        break;
    case TS_MSG_SNAPSHOT_SHARD: {
        ts_msg_snapshot *sm = (ts_msg_snapshot *)m;
        ts_shard_snapshot_begin(&w->shard, sm->snap);
        ts_shard_snapshot_finish(&w->shard);
        free(sm);
        break;
    }
    case TS_MSG_FINAL_SAVE:
        free(m);
        ts_final_save_start(w);
        break;
    case TS_MSG_AOF_SYNCED:
        atomic_store(&w->aof_sync_posted, 0);
        /* What gathered while the last round was on its way goes first, so
         * the next fsync overlaps the writing of the released replies
         * (tens of socket writes: as long as the fsync itself). */
        aof_iteration_flush(w);
        ts_conn_aof_release(w);
        break;
    case TS_MSG_LOADED:
        free(m);
        w->loading = false;
        w->now_ms = ts_worker_clock(w);
        if (w->aof_on) w->shard.aof = &w->aof_log;
        break;
    case TS_MSG_STOP:
        /* Stage 1: close every connection. The loop keeps running: batches
         * and txns of closing connections (ours and other workers') still
         * need it until every worker is idle. */
        free(m);
        w->stopping = true;
        while (w->conns) ts_conn_shutdown(w->conns);
        ts_worker_conn_freed(w);
        break;
    case TS_MSG_FINAL:
        /* Stage 2: nothing is in flight anywhere; close the loop's handles.
         * A background save still walking finishes first. */
        free(m);
        if (ts_shard_snapshot_active(&w->shard)) ts_shard_snapshot_finish(&w->shard);
        uv_idle_stop(&w->snap_idle);
        uv_close((uv_handle_t *)&w->snap_idle, NULL);
        uv_timer_stop(&w->snap_timer);
        uv_close((uv_handle_t *)&w->snap_timer, NULL);
        flush_wakeups(w);
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
        break;
    default:
        ts_panic("worker %u: unknown message kind %d", w->id, m->kind);
    }
}

static void on_wakeup(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    ts_worker *w = p->data;
    ts_worker_mark_awake(w);
    uint64_t v;
    while (read(w->wake_fd, &v, sizeof v) < 0 && errno == EINTR) {}
    atomic_store(&w->wake_pending, 0);
    drain_inbox(w);
}

static void on_block_timer(uv_timer_t *t)
{
    ts_worker *w = t->data;
    w->now_ms = ts_worker_clock(w);
    w->block_timer_due = 0;
    int64_t next = ts_conn_expire_blocked(w, w->now_ms);
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
    if (!ts_shard_snapshot_active(&w->shard)) {
        uv_idle_stop(h);
        return;
    }
    if (ts_persist_backlog() > SNAP_MAX_BACKLOG) {
        /* The disk is behind: wait for it instead of spinning. */
        uv_idle_stop(h);
        uv_timer_start(&w->snap_timer, on_snap_timer, 5, 0);
        return;
    }
    if (ts_shard_snapshot_step(&w->shard, SNAP_STEP_ENTRIES)) uv_idle_stop(h);
}

void ts_worker_snapshot_kick(ts_worker *w)
{
    if (ts_shard_snapshot_active(&w->shard)) uv_idle_start(&w->snap_idle, on_snap_idle);
}

/* A worker that went quiet (its clients moved to the worker owning their
 * keys, a burst ended) hands the free memory cached by its thread back to
 * the allocator once, after about a second without commands or input, so
 * jemalloc's background thread can return it to the system. A busy worker
 * never pays for it. */
static void release_idle_caches(ts_worker *w)
{
    uint64_t activity = w->stats.commands_processed + w->stats.net_input + w->stats.batches_served;
    if (activity != w->activity_seen) {
        w->activity_seen = activity;
        w->idle_ticks = 0;
        return;
    }
    if (++w->idle_ticks == (unsigned)w->config.hz) ts_alloc_thread_cache_flush();   /* hz: 1..500 */
}

/* The periodic job (hz times a second): active expiry and idle clients. */
static void on_cron(uv_timer_t *t)
{
    ts_worker *w = t->data;
    w->now_ms = ts_worker_clock(w);
    /* Active expiry stays away while txns hold keys: it would delete what
     * they may still read. */
    if (!w->shard.exclusive && !w->shard.locks.count && w->shard.active_expire && !w->loading) {
        /* Redis spends at most 25% of a cron period on active expiry. */
        uint64_t budget_us = 1000000ULL / (uint64_t)(w->config.hz > 0 ? w->config.hz : 10) / 4;
        ts_db_active_expire_cycle(&w->shard, w->now_ms, budget_us);
        if (ts_blocking_pending(&w->shard)) ts_blocking_serve(w);   /* expired streams */
    }
    for (int db = 0; db < w->shard.ndb; db++)
        if (ts_table_is_rehashing(&w->shard.dbs[db])) ts_table_rehash_step(&w->shard.dbs[db], 1000);
    if (w->config.timeout > 0) {
        int64_t limit = (int64_t)w->config.timeout * 1000;
        ts_conn *c = w->conns;
        while (c) {
            ts_conn *next = c->next;
            if (c->inflight == 0 && c->wait == TS_WAIT_NONE && w->now_ms - c->last_interaction_ms > limit)
                ts_conn_close(c);
            c = next;
        }
    }
    /* `save` rules, once a second (Redis checks them in its cron too). */
    if (w->id == 0 && !w->stopping && w->now_ms / 1000 != w->last_save_check_s) {
        w->last_save_check_s = w->now_ms / 1000;
        ts_save_rules_check(w);
        ts_aof_rewrite_check(w);
    }
    release_idle_caches(w);
    ts_worker_run_ready(w);
}

int ts_worker_init(ts_worker *w, ts_server *srv, unsigned id)
{
    memset(w, 0, sizeof(*w));
    w->id = id;
    w->srv = srv;
    ts_config_copy(&w->config, &srv->config);
    int rc = uv_loop_init(&w->loop);
    if (rc) return rc;
    ts_mpsc_init(&w->inbox);
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0) return -errno;
    atomic_init(&w->wake_pending, 0);
    atomic_init(&w->may_sleep, 0);
    uv_idle_init(&w->loop, &w->inbox_idle);
    w->inbox_idle.data = w;
    rc = uv_poll_init(&w->loop, &w->wake_poll, w->wake_fd);
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
    atomic_init(&w->dirty, 0);
    ts_aof_log_init(&w->aof_log);
    w->aof_on = w->config.appendonly;
    w->loading = srv->loading;
    atomic_init(&w->aof_holding, 0);
    atomic_init(&w->aof_sync_posted, 0);
    w->aof_sync_msg.kind = TS_MSG_AOF_SYNCED;
    uv_prepare_init(&w->loop, &w->wake_prepare);
    w->wake_prepare.data = w;
    w->wake_list = ts_calloc(srv->nworkers, sizeof(unsigned));
    w->wake_owed = ts_calloc(srv->nworkers, sizeof(bool));
    ts_shard_init(&w->shard, id, w->config.databases);
    if (w->aof_on && !w->loading) w->shard.aof = &w->aof_log;
    w->open_batches = ts_calloc(srv->nworkers, sizeof(ts_batch *));
    w->open_targets = ts_calloc(srv->nworkers, sizeof(unsigned));
    w->cmd_stats = ts_calloc((size_t)ts_command_count(), sizeof(ts_cmd_stats));
    ts_parser_init(&w->lookahead, (size_t)w->config.proto_max_bulk_len);
    w->now_ms = ts_worker_clock(w);
    return 0;
}

void ts_worker_apply_sched_policy(ts_worker *w)
{
#ifdef SCHED_BATCH
    int now = sched_getscheduler(0);
    int want = w->config.worker_sched_batch ? SCHED_BATCH : SCHED_OTHER;
    /* Only between the two time-sharing policies: a real-time policy set
     * by the operator (chrt) is left alone. */
    if (now == want || (now != SCHED_BATCH && now != SCHED_OTHER)) return;
    struct sched_param sp = {.sched_priority = 0};
    int rc = pthread_setschedparam(pthread_self(), want, &sp);
    if (rc != 0)
        ts_log(TS_LOG_VERBOSE, "worker %u: cannot switch to %s: %s", w->id,
               want == SCHED_BATCH ? "SCHED_BATCH" : "SCHED_OTHER", strerror(rc));
#else
    (void)w;
#endif
}

static void worker_main(void *arg)
{
    ts_worker *w = arg;
#ifndef NDEBUG
    w->shard.owner = pthread_self();
#endif
    ts_worker_apply_sched_policy(w);   /* before the name: a named worker has its policy */
    char name[16];
    snprintf(name, sizeof(name), "ts-worker-%u", w->id);
    pthread_setname_np(pthread_self(), name);
    int hz = w->config.hz > 0 ? w->config.hz : 10;
    uv_timer_start(&w->cron, on_cron, (uint64_t)(1000 / hz), (uint64_t)(1000 / hz));
    uv_check_start(&w->wake_check, on_wake_check);
    uv_prepare_start(&w->wake_prepare, on_wake_prepare);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    ts_worker_aof_flush(w);
}

int ts_worker_start(ts_worker *w) { return uv_thread_create(&w->thread, worker_main, w); }

void ts_worker_join(ts_worker *w) { uv_thread_join(&w->thread); }

void ts_worker_destroy(ts_worker *w)
{
    /* Registrations dropped after the loops ended (clients closed while
     * blocked at shutdown). */
    ts_mpsc_node *n;
    while ((n = ts_mpsc_pop(&w->inbox)) != NULL) {
        ts_msg *m = TS_CONTAINER_OF(n, ts_msg, node);
        if (m->kind == TS_MSG_MIGRATE_CONN) {
            ts_msg_migrate_drop((ts_msg_migrate *)m);
            continue;
        }
        if (m->kind != TS_MSG_BLOCK_UNREG) continue;
        ts_msg_unblock *u = (ts_msg_unblock *)m;
        ts_blocking_unregister(&w->shard, u->b);
        ts_blocker_unref(u->b);
        free(u);
    }
    while (w->batch_cache) {
        ts_batch *b = w->batch_cache;
        w->batch_cache = (ts_batch *)b->msg.next;
        ts_batch_release(b);
    }
    uv_loop_close(&w->loop);
    close(w->wake_fd);
    ts_shard_free(&w->shard);
    ts_aof_log_free(&w->aof_log);
    ts_config_free(&w->config);
    free(w->open_batches);
    ts_parser_free(&w->lookahead);
    free(w->pre);
    free(w->pre_argv);
    free(w->wake_list);
    free(w->wake_owed);
    free(w->open_targets);
    free(w->cmd_stats);
}
