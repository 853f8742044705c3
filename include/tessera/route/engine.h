/*
 * engine.h - a shard's engine: the shard, the inbox through which other
 * threads reach it, and what running commands on it keeps (statistics, the
 * configuration copy, the clock, the propagation log).
 *
 * Owns: the shard (store/shard.h), the inbox (an MPSC queue plus a
 * coalescing eventfd wake-up), the local FIFO of messages the engine sends
 * itself, the work parked while a multi-shard transaction holds the shard,
 * the per-command statistics, the configuration copy, the AOF propagation
 * log and its submission state.
 * Thread: one thread owns an engine (its worker, net/worker.h, which embeds
 * it and runs its loop). Exceptions, each marked below: the inbox and its
 * wake-up flags (`inbox`, `may_sleep`, `wake_pending`: any sender, through
 * ts_engine_post / ts_engine_send), `dirty` (any thread reads), `aof_holding`
 * and `aof_sync_posted` (the persistence thread), and the fields set before
 * the owner thread starts (id, router, srv, hooks, wake_fd).
 *
 * Why an engine apart from the worker: routing, transactions, the runner
 * and persistence talk to a shard's owner without knowing libuv or
 * connections (the layers of docs/architecture.md). The worker supplies
 * what only it can do through ts_engine_hooks, registered at start.
 *
 * Wake-ups (practice 7 of docs/style.md): the owner drains its inbox once per
 * loop iteration and before it may block; a sender writes the eventfd only
 * when the owner may be asleep (may_sleep, Dekker-style fences in
 * engine.c), and wake-ups owed to peers are sent once per loop iteration.
 * A drain takes at most a budget of messages and time (ts_engine_drain):
 * what is left makes the next poll non-blocking and runs in the next
 * iteration, so a flood of other shards' batches cannot starve the owner's
 * own sockets and timers. Wake-ups still coalesce: nothing is left behind
 * unseen, it is only taken in slices.
 */
#ifndef TESSERA_ENGINE_H
#define TESSERA_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tessera/config/config.h"
#include "tessera/util/channels.h"
#include "tessera/store/aof_log.h"
#include "tessera/store/shard.h"
#include "tessera/util/clock.h"
#include "tessera/util/mpsc.h"

struct ts_engine;
struct ts_server;
struct ts_batch;
struct ts_acl;

/* Statistics of one command (INFO commandstats). */
typedef struct ts_cmd_stats {
    uint64_t calls;
    uint64_t usec;
    uint64_t rejected;
    uint64_t failed;
} ts_cmd_stats;

/* The engine's counters (INFO stats, clients): written by the owner only. */
typedef struct ts_engine_stats {
    uint64_t commands_processed;
    uint64_t errors;
    uint64_t batches_sent;
    uint64_t batches_served;
    uint64_t txns;
    uint64_t net_input;
    uint64_t net_output;
    uint64_t migrations_out;        /* connections handed to the worker owning their keys */
    long clients;                   /* open connections of this worker */
    long blocked_clients;           /* of them, blocked on keys */
} ts_engine_stats;

typedef struct ts_error_stat { char code[32]; uint64_t count; } ts_error_stat;

/* What the engine asks of the layers above it (set once, before start). */
typedef struct ts_engine_hooks {
    /* Hand the propagation log's bytes to the persistence thread (called
     * only when the log is not empty; the hook empties it). */
    void (*flush_log)(struct ts_engine *e);
    /* The shard was released by a multi-shard txn and its parked messages
     * ran: the owner's own parked work may retry. */
    void (*shard_released)(struct ts_engine *e);
    /* The shard began a background snapshot: walk it between iterations
     * (persist/snapshot.h). */
    void (*snapshot_started)(struct ts_engine *e);
    /* CONFIG SET changed this engine's configuration copy: the owner
     * applies what is its own (its thread's scheduling policy). */
    void (*config_changed)(struct ts_engine *e);
    /* A new ACL snapshot was installed (route/acl.h): connections whose
     * user no longer exists go (the issuer's own after its reply). */
    void (*acl_changed)(struct ts_engine *e, uint64_t issuer_client_id);
} ts_engine_hooks;

/* Every engine of the process, indexed by shard id. Written before the
 * workers start, read-only afterwards. */
typedef struct ts_router {
    unsigned nshards;
    struct ts_engine **engines;
    /* Txns of no connection (a `save` rule's BGSAVE, a signal's shutdown)
     * started and not yet freed (route/txn.c); the exit waits for them,
     * since no connection keeps its worker busy meanwhile. Any thread. */
    atomic_int connless_txns;
    /* Scripts past busy-reply-threshold (script/eval.c): how many engines
     * run one (0 on the fast path: one relaxed load per command), and how
     * many of those hold every shard (G). A SHUTDOWN NOSAVE asks them to
     * stop (shutdown_kills_scripts). Any thread. */
    atomic_int scripts_busy;
    atomic_int scripts_busy_everywhere;
    atomic_int shutdown_kills_scripts;
} ts_router;

/* A script's state, as other threads see it (written by the engine that
 * runs it, except `kill`). */
enum { TS_SCRIPT_IDLE = 0, TS_SCRIPT_BUSY_EVAL = 1, TS_SCRIPT_BUSY_FUNCTION = 2 };

typedef struct ts_engine {
    unsigned id;                    /* = its shard's id */
    /* The script this engine runs past busy-reply-threshold (TS_SCRIPT_*),
     * whether it wrote (SCRIPT KILL refuses then), and a kill request
     * (SCRIPT KILL / FUNCTION KILL from any worker). Any thread. */
    atomic_int script_state;
    atomic_bool script_dirty;
    atomic_bool script_kill;
    ts_router *router;
    struct ts_server *srv;          /* the process context (cmd/server.h), opaque here */
    const ts_engine_hooks *hooks;
    /* The inbox. Written by the owner around each poll, read by every
     * sender: on a line of their own. may_sleep is 1 from the owner's last
     * look at the inbox before it polls until it runs again; a sender that
     * finds it 0 writes nothing, because the owner drains the inbox before
     * polling. */
    _Alignas(64) atomic_int may_sleep;
    atomic_int wake_pending;
    char wake_pad[64 - 2 * sizeof(atomic_int)];
    ts_mpsc inbox;
    int wake_fd;                    /* eventfd the owner's loop polls */
    unsigned *wake_list;            /* peers owed a wake-up this loop iteration */
    unsigned nwake;
    bool *wake_owed;
    ts_msg *self_head, *self_tail;  /* messages this engine sent itself */
    ts_msg *parked_head, *parked_tail;  /* work for the shard parked while a txn holds it, FIFO */
    ts_shard shard;
    ts_config config;               /* this thread's copy */
    /* The users (route/acl.h): the snapshot this engine checks commands
     * against, held by reference, and its generation (a connection's cached
     * user is valid while it matches). */
    struct ts_acl *acl;
    uint64_t acl_gen;
    int64_t now_ms;                 /* the clock of the current batch of work */
    bool loading;                   /* startup replay: clock reads 0, no expiry, no logging */
    ts_cmd_stats *cmd_stats;        /* indexed by ts_command.id */
    int ncmd_stats;
    ts_engine_stats stats;
    ts_error_stat errstats[32];
    int nerrstats;
    /* Write commands run here (INFO rdb_changes_since_last_save, `save`
     * rules): written by the owner, read by any thread. */
    atomic_ullong dirty;
    /* The AOF (persist/aof.h). The shard logs into aof_log (shard.aof
     * points here once startup replay is over); the log is handed to the
     * persistence thread before any message that orders logs leaves and
     * once per loop iteration (hooks->flush_log). */
    ts_aof_log aof_log;
    bool aof_on;                    /* appendonly yes: the shard logs after loading */
    uint64_t aof_last_seq;          /* this engine's last submission */
    atomic_int aof_holding;         /* replies wait for an fsync (read by the persistence thread) */
    atomic_int aof_sync_posted;     /* aof_sync_msg is in the inbox */
    ts_msg aof_sync_msg;
    struct ts_batch *batch_cache;   /* freed batches kept for reuse (batch.c) */
    int nbatch_cache;
} ts_engine;

/* Before the owner thread starts: builds the engine of shard id (its own
 * configuration copy of cfg). 0 or a negative errno. */
int ts_engine_init(ts_engine *e, ts_router *router, struct ts_server *srv, unsigned id, const ts_config *cfg,
                   int ncommands, bool loading, const ts_engine_hooks *hooks);
/* After the owner thread ended. */
void ts_engine_destroy(ts_engine *e);
/* Owner thread (or before it starts): installs an ACL snapshot (a new
 * reference is taken, the old one dropped), then tells the owner's layer
 * (hooks->acl_changed) when the engine already had one. */
void ts_engine_set_acl(ts_engine *e, struct ts_acl *acl, uint64_t issuer_client_id);

/* Any thread: hands a message to the engine's owner (and wakes it when it
 * may be asleep). The message belongs to the receiver from now on. */
void ts_engine_post(ts_engine *e, ts_msg *m);
/* The engine of shard id (any thread; the router is read-only). */
static inline ts_engine *ts_engine_of(const ts_engine *e, unsigned shard) { return e->router->engines[shard]; }
/* Owner thread: delivers a message to engine `target` (a local FIFO when
 * it is this engine). What this shard logged goes to the
 * disk queue first when the message orders logs (engine.c). The wake-up of
 * another engine is sent once per loop iteration (ts_engine_send_wakeups),
 * so a pass over many connections costs one wake-up per peer. */
void ts_engine_send(ts_engine *self, ts_engine *target, ts_msg *m);
/* Runs fn(target, arg) on target's thread and waits until it returned
 * (fn(self, arg) at once when target is self). Only for a coordinator that
 * holds every shard exclusively (a script in G mode, script/): no other
 * txn then holds anything, so the target's owner is never waiting for the
 * caller, and it handles CALL even though its shard is held. What self
 * logged goes to the disk queue first, as for any message that orders
 * logs. */
void ts_engine_call(ts_engine *self, ts_engine *target, void (*fn)(void *engine, void *arg), void *arg);
/* Inbox handler of CALL (the worker's drain). */
void ts_engine_on_call(ts_engine *e, ts_msg *m);
/* Owner thread, once per loop iteration and before blocking: sends the
 * wake-ups owed to peers. */
void ts_engine_send_wakeups(ts_engine *e);
/* Owner thread: the next message to handle, local FIFO first, then the
 * inbox; NULL when both are empty. */
ts_msg *ts_engine_next_local(ts_engine *e);
ts_msg *ts_engine_next_inbox(ts_engine *e);
/* How much inbox work one drain may do: max_msgs messages (0: none), and
 * about max_us microseconds (0: no time limit). */
typedef struct ts_inbox_budget {
    unsigned max_msgs;
    uint64_t max_us;
} ts_inbox_budget;
typedef void ts_engine_handle_fn(void *arg, ts_msg *m);
/* Owner thread: hands inbox messages, oldest first, to handle (which owns
 * each from then on) until the inbox is empty or the budget is spent.
 * True when messages are left: the caller must not block before draining
 * again (ts_engine_prepare_sleep also sees them). */
bool ts_engine_drain(ts_engine *e, const ts_inbox_budget *budget, ts_engine_handle_fn *handle, void *arg);
/* Owner thread, just before its loop may block: announces it, then looks
 * at the inbox once more; false when something arrived meanwhile (the
 * loop must not block; may_sleep is cleared again). */
bool ts_engine_prepare_sleep(ts_engine *e);
/* Owner thread, from a callback of the poll phase: the loop is running, so
 * senders need not wake it (cleared only when set: the line is shared). */
static inline void ts_engine_mark_awake(ts_engine *e)
{
    if (atomic_load_explicit(&e->may_sleep, memory_order_relaxed))
        atomic_store_explicit(&e->may_sleep, 0, memory_order_relaxed);
}
/* Owner thread: the eventfd was readable; consume it. */
void ts_engine_ack_wakeup(ts_engine *e);

/* Owner thread: the clock of the next batch of work: wall time, or 0 while
 * replaying the AOF (so nothing logged with an absolute time looks expired
 * before the log is over). */
static inline int64_t ts_engine_clock(const ts_engine *e) { return e->loading ? 0 : ts_mstime(); }
static inline void ts_engine_tick(ts_engine *e) { e->now_ms = ts_engine_clock(e); }

/* Owner thread: the shard's log goes to the persistence thread now (no-op
 * when empty). */
void ts_engine_flush_log(ts_engine *e);

/* ---- work that needs the shard (batches, txn acquires) ---- */
/* True when new work must queue: something is parked, or a txn holds the
 * whole shard. */
static inline bool ts_engine_shard_busy(const ts_engine *e) { return e->shard.exclusive || e->parked_head; }
/* Owner thread: runs shard work now unless older work is parked (FIFO: no
 * overtaking, so nothing starves) or a lock is in the way; else parks it. */
void ts_engine_submit(ts_engine *e, ts_msg *m);
/* Owner thread: a txn released its locks on the shard: parked work runs
 * in order while it can, then blocked clients and the owner's own parked
 * work (hooks->shard_released) get their turn. */
void ts_engine_shard_released(ts_engine *e);

/* ---- statistics ---- */
void ts_engine_count_error(ts_engine *e, const char *code);
/* Owner thread: one more write command ran. */
static inline void ts_engine_count_dirty(ts_engine *e)
{
    atomic_store_explicit(&e->dirty, atomic_load_explicit(&e->dirty, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}
/* Any thread: write commands run so far, summed over every engine. */
uint64_t ts_router_dirty(const ts_router *r);

#endif
