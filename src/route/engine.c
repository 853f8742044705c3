/*
 * engine.c - a shard's engine: its inbox and wake-ups, message delivery,
 * the parking of shard work behind multi-shard transactions, and its
 * statistics (engine.h).
 *
 * Messages an engine sends itself (a multi-shard txn that includes its own
 * shard) never go through the inbox: they go on a plain local FIFO that
 * the owner runs after the current callback, so handlers are never
 * re-entered from inside one another.
 */
#include "tessera/route/engine.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tessera/route/acl.h"
#include "tessera/route/batch.h"
#include "tessera/route/blocking.h"
#include "tessera/route/txn.h"

int ts_engine_init(ts_engine *e, ts_router *router, struct ts_server *srv, unsigned id, const ts_config *cfg,
                   int ncommands, bool loading, const ts_engine_hooks *hooks)
{
    memset(e, 0, sizeof(*e));
    e->id = id;
    e->router = router;
    e->srv = srv;
    e->hooks = hooks;
    ts_config_copy(&e->config, cfg);
    ts_mpsc_init(&e->inbox);
    e->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (e->wake_fd < 0) return -errno;
    atomic_init(&e->wake_pending, 0);
    atomic_init(&e->may_sleep, 0);
    e->wake_list = ts_calloc(router->nshards, sizeof(unsigned));
    e->wake_owed = ts_calloc(router->nshards, sizeof(bool));
    ts_shard_init(&e->shard, id, e->config.databases);
    e->cmd_stats = ts_calloc((size_t)ncommands, sizeof(ts_cmd_stats));
    e->ncmd_stats = ncommands;
    atomic_init(&e->dirty, 0);
    ts_aof_log_init(&e->aof_log);
    e->aof_on = e->config.appendonly;
    e->loading = loading;
    if (e->aof_on && !loading) e->shard.aof = &e->aof_log;
    atomic_init(&e->aof_holding, 0);
    atomic_init(&e->aof_sync_posted, 0);
    e->aof_sync_msg.kind = TS_MSG_AOF_SYNCED;
    ts_engine_tick(e);
    return 0;
}

void ts_engine_destroy(ts_engine *e)
{
    ts_batch_cache_free(e);
    if (e->wake_fd >= 0) close(e->wake_fd);
    ts_shard_free(&e->shard);
    ts_aof_log_free(&e->aof_log);
    ts_config_free(&e->config);
    ts_acl_unref(e->acl);
    e->acl = NULL;
    free(e->wake_list);
    free(e->wake_owed);
    free(e->cmd_stats);
}

void ts_engine_set_acl(ts_engine *e, struct ts_acl *acl, uint64_t issuer_client_id)
{
    ts_acl *old = e->acl;
    ts_acl_ref(acl);
    e->acl = acl;
    e->acl_gen = ts_acl_generation(acl);
    if (!old) return;
    ts_acl_unref(old);
    if (e->hooks->acl_changed) e->hooks->acl_changed(e, issuer_client_id);
}

/* ---------- the inbox ---------- */

/* Any thread, after its push is complete.
 *
 * Two flags keep the system calls away from the hot path. may_sleep: the
 * receiver drains its inbox once per loop iteration, just before it polls
 * (ts_engine_prepare_sleep), so while it is awake a sender only has to
 * link its message. Before polling the receiver sets may_sleep and then
 * looks at the inbox once more; a sender pushes and then reads may_sleep.
 * With a seq_cst fence on both sides (Dekker) one of them sees the other:
 * either the receiver finds the message and does not block, or the sender
 * finds may_sleep set and writes the eventfd. wake_pending: among the
 * senders that found may_sleep set, only the first writes (the receiver
 * clears it before it drains, so a sender whose push was not yet linked
 * when that drain ran finds it cleared and writes). */
static void wake(ts_engine *e)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&e->may_sleep, memory_order_relaxed) == 0) return;
    /* A load first: while the flag is set (the receiver has not run yet)
     * senders only read it, so its cache line is not bounced between
     * cores. */
    if (atomic_load_explicit(&e->wake_pending, memory_order_relaxed) != 0 ||
        atomic_exchange(&e->wake_pending, 1) != 0)
        return;
    uint64_t one = 1;
    ssize_t n;
    do n = write(e->wake_fd, &one, sizeof one);
    while (n < 0 && errno == EINTR);
    /* EAGAIN: the counter is saturated, a wake-up is pending anyway. */
    if (n < 0 && errno != EAGAIN) ts_panic("wake-up write failed: %s", strerror(errno));
}

void ts_engine_post(ts_engine *e, ts_msg *m)
{
    ts_mpsc_push(&e->inbox, &m->node);
    wake(e);
}

void ts_engine_ack_wakeup(ts_engine *e)
{
    uint64_t v;
    while (read(e->wake_fd, &v, sizeof v) < 0 && errno == EINTR) {}
    atomic_store(&e->wake_pending, 0);
}

bool ts_engine_prepare_sleep(ts_engine *e)
{
    atomic_store(&e->may_sleep, 1);
    atomic_thread_fence(memory_order_seq_cst);
    if (ts_mpsc_empty(&e->inbox)) return true;
    /* Arrived meanwhile (or a push is half-way): the next iteration takes it. */
    atomic_store_explicit(&e->may_sleep, 0, memory_order_relaxed);
    return false;
}

ts_msg *ts_engine_next_local(ts_engine *e)
{
    ts_msg *m = e->self_head;
    if (m) {
        e->self_head = m->next;
        if (!e->self_head) e->self_tail = NULL;
    }
    return m;
}

ts_msg *ts_engine_next_inbox(ts_engine *e)
{
    ts_mpsc_node *n = ts_mpsc_pop(&e->inbox);
    return n ? TS_CONTAINER_OF(n, ts_msg, node) : NULL;
}

/* The clock is read once every TS_INBOX_CLOCK_EVERY messages: a message is
 * a few microseconds of work at least (a batch, a txn step), a clock read
 * some nanoseconds, so the budget overshoots by a handful of messages at
 * most and costs nothing. */
#define TS_INBOX_CLOCK_EVERY 8

bool ts_engine_drain(ts_engine *e, const ts_inbox_budget *budget, ts_engine_handle_fn *handle, void *arg)
{
    uint64_t start = budget->max_us ? ts_monotonic_us() : 0;
    for (unsigned n = 0;; n++) {
        if (n == budget->max_msgs) return !ts_mpsc_empty(&e->inbox);
        if (budget->max_us && n && n % TS_INBOX_CLOCK_EVERY == 0 && ts_monotonic_us() - start >= budget->max_us)
            return !ts_mpsc_empty(&e->inbox);
        ts_msg *m = ts_engine_next_inbox(e);
        if (!m) return false;
        handle(arg, m);
    }
}

void ts_engine_flush_log(ts_engine *e)
{
    if (e->aof_log.buf.len) e->hooks->flush_log(e);
}

/* Messages whose receiver may log something that must come after what the
 * sender logged (txn steps and their answers: a multi-shard command is
 * logged after every part handed its log over). Batches of single-shard
 * commands and their replies touch keys no other shard has, so their logs
 * may interleave freely (persist/aof.h). */
static bool orders_logs(uint8_t kind)
{
    switch (kind) {
    case TS_MSG_BATCH:
    case TS_MSG_BATCH_DONE:
    case TS_MSG_BLOCK_DONE:
    case TS_MSG_BLOCK_UNREG:
    case TS_MSG_WATCH_UNREG:
    case TS_MSG_MIGRATE_CONN:
        return false;
    default:
        return true;
    }
}

void ts_engine_send(ts_engine *self, ts_engine *target, ts_msg *m)
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
            ts_engine_flush_log(self);
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

void ts_engine_send_wakeups(ts_engine *e)
{
    for (unsigned i = 0; i < e->nwake; i++) {
        unsigned id = e->wake_list[i];
        e->wake_owed[id] = false;
        wake(e->router->engines[id]);
    }
    e->nwake = 0;
}

/* ---------- work that needs the shard ---------- */

static void park(ts_engine *e, ts_msg *m)
{
    m->next = NULL;
    if (e->parked_tail) e->parked_tail->next = m;
    else e->parked_head = m;
    e->parked_tail = m;
}

/* Runs shard work; false when a lock stands in its way (nothing done, or
 * for a batch, what ran before the locked command stays done). */
static bool shard_try(ts_engine *e, ts_msg *m)
{
    if (m->kind == TS_MSG_BATCH) {
        ts_batch *b = (ts_batch *)m;
        if (!ts_batch_execute(e, b)) return false;
        if (b->escalated) return true;   /* resubmitted when its txn ends */
        b->msg.kind = TS_MSG_BATCH_DONE;
        ts_engine_send(e, b->origin, &b->msg);
        return true;
    }
    return ts_txn_try_acquire(e, (ts_txn_part *)m);
}

void ts_engine_submit(ts_engine *e, ts_msg *m)
{
    if (ts_engine_shard_busy(e) || !shard_try(e, m)) park(e, m);
}

void ts_engine_shard_released(ts_engine *e)
{
    while (!e->shard.exclusive && e->parked_head) {
        ts_msg *m = e->parked_head;
        e->parked_head = m->next;
        if (!e->parked_head) e->parked_tail = NULL;
        if (!shard_try(e, m)) {
            /* Still blocked: back at the head, order kept. */
            m->next = e->parked_head;
            e->parked_head = m;
            if (!e->parked_tail) e->parked_tail = m;
            break;
        }
    }
    if (ts_engine_shard_busy(e)) return;
    ts_blocking_serve(e);   /* keys that were locked when signalled */
    e->hooks->shard_released(e);
}

/* ---------- statistics ---------- */

void ts_engine_count_error(ts_engine *e, const char *code)
{
    e->stats.errors++;
    for (int i = 0; i < e->nerrstats; i++) {
        if (strcmp(e->errstats[i].code, code) == 0) { e->errstats[i].count++; return; }
    }
    if (e->nerrstats < (int)TS_ARRAY_LEN(e->errstats)) {
        snprintf(e->errstats[e->nerrstats].code, sizeof(e->errstats[0].code), "%s", code);
        e->errstats[e->nerrstats++].count = 1;
    }
}

uint64_t ts_router_dirty(const ts_router *r)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < r->nshards; i++) sum += atomic_load_explicit(&r->engines[i]->dirty, memory_order_relaxed);
    return sum;
}

void ts_engine_call(ts_engine *self, ts_engine *target, void (*fn)(void *engine, void *arg), void *arg)
{
    if (target == self) {
        fn(self, arg);
        return;
    }
    ts_msg_call m = {.fn = fn, .arg = arg};
    pthread_mutex_init(&m.mu, NULL);
    pthread_cond_init(&m.cv, NULL);
    m.msg.kind = TS_MSG_CALL;
    ts_engine_send(self, target, &m.msg);
    ts_engine_send_wakeups(self);
    pthread_mutex_lock(&m.mu);
    while (!m.done) pthread_cond_wait(&m.cv, &m.mu);
    pthread_mutex_unlock(&m.mu);
    pthread_cond_destroy(&m.cv);
    pthread_mutex_destroy(&m.mu);
}

void ts_engine_on_call(ts_engine *e, ts_msg *msg)
{
    ts_msg_call *m = (ts_msg_call *)msg;
    m->fn(e, m->arg);
    /* What the call logged goes to the disk queue before the caller logs
     * anything that depends on it. */
    ts_engine_flush_log(e);
    pthread_mutex_lock(&m->mu);
    m->done = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}
