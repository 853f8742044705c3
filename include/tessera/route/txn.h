/*
 * txn.h - multi-shard transactions: atomic commands whose keys live on
 * several shards (MSET, MGET, DEL k1 k2, RENAME, COPY, ...), commands that
 * visit every shard (KEYS, DBSIZE, FLUSHALL, INFO, CLIENT LIST), and later
 * MULTI/EXEC.
 *
 * Owns: the protocol by which a coordinator (the worker of the client that
 * sent the command) holds a set of shards, runs steps on them and releases
 * them.
 *
 * Protocol (strict two-phase locking, acquired shard by shard in ascending
 * shard order, which is what makes it deadlock-free; docs/architecture.md
 * has the proof):
 *   1. ACQUIRE travels along the participating shards in ascending order.
 *      Each shard locks the part's keys (or the whole shard, for
 *      TS_TXN_EXCLUSIVE commands) all at once, runs phase 0 of the txn on
 *      its part, and forwards ACQUIRE to the next shard; when a lock is
 *      taken it parks the ACQUIRE until it can. The last shard sends DONE to
 *      the coordinator.
 *   2. The coordinator runs ops->after(); it either starts another phase
 *      (STEP to every part in parallel; the last to finish sends DONE) or
 *      finishes: the reply is complete.
 *   3. RELEASE goes to every shard; each then serves what it parked.
 * Threads: ops->step runs on the thread owning the part's shard, with that
 * shard held; ops->after runs on the coordinator. A part's result fields are
 * written only by its shard during a step and read by the coordinator after
 * DONE: the message queues provide the happens-before edges.
 */
#ifndef TESSERA_TXN_H
#define TESSERA_TXN_H

#include <stdatomic.h>
#include <stdbool.h>

#include "tessera/proto/reply.h"
#include "tessera/route/command.h"
#include "tessera/util/channels.h"
#include "tessera/store/aof_log.h"
#include "tessera/util/buf.h"

struct ts_engine;
struct ts_txn;

typedef struct ts_txn_part {
    ts_msg msg;                 /* ACQUIRE / STEP / RELEASE to this part's shard */
    struct ts_txn *txn;
    unsigned shard;
    int nkeys;                  /* argument positions of this shard's keys */
    int *keys;
    /* Results of the last step, written by the shard, read by the coordinator. */
    long long n;
    ts_buf out;
    void *ptr;
    int64_t i64;
    /* appendfsync always: the AOF sequence number covering everything the
     * shard had logged when it ran its step (its reads may reflect it);
     * the reply waits for it (net/conn.c ts_conn_on_txn_done). */
    uint64_t aof_seen;
    /* Set by ops->after: the next STEP skips this part (a compound txn's
     * phase that has nothing to run there). Coordinator only. */
    bool idle;
} ts_txn_part;

typedef struct ts_txn_ops {
    /* On the part's shard thread, shard held. ctx is prepared with the
     * txn's db, argv and now; ctx->r writes into part->out. */
    void (*step)(struct ts_txn *t, ts_txn_part *p, ts_cmd_ctx *ctx);
    /* On the coordinator after every part finished the current phase.
     * Returns the next phase (> current), -1 when the reply in t->reply is
     * complete, or TS_TXN_SUSPEND: the txn keeps every shard it holds and
     * nothing runs until ts_txn_resume calls after() again (same phase). */
    int (*after)(struct ts_txn *t);
} ts_txn_ops;

#define TS_TXN_SUSPEND (-2)

/* Coordinator side, when the txn has its reply (the last phase ran; the
 * RELEASEs are on their way). The txn stays valid during the call. */
typedef void ts_txn_done_fn(struct ts_txn *t);

typedef struct ts_txn {
    ts_msg done_msg;            /* DONE to the coordinator */
    const ts_txn_ops *ops;
    const ts_command *cmd;
    struct ts_engine *coord;
    ts_txn_done_fn *on_done;    /* NULL: nobody waits (the server's own, a `save` rule's BGSAVE) */
    void *owner;                /* the on_done's object (the client's connection), coordinator-side only */
    uint64_t client_id;         /* the client that sent it (CLIENT KILL SKIPME), 0 for the server's own */
    bool client_local;          /* ... from 127.0.0.1, ::1 or a unix socket (protected configs) */
    int db;
    int resp;
    int argc;
    ts_arg *argv;               /* copies owned by the txn */
    int phase;
    uint8_t mode;               /* enum ts_txn_mode */
    atomic_int pending;         /* parts yet to finish the current phase */
    atomic_int refs;            /* parts not yet released + the coordinator */
    int nparts;
    ts_txn_part *parts;         /* ascending shard order */
    int *keybuf;
    int64_t now_ms;
    ts_buf reply_buf;
    ts_reply reply;             /* the client's reply, built by ops->after */
    void *state;                /* command-specific scratch, coordinator-side */
    struct ts_txn **members;    /* a txn group: these txns run as one (see ts_txn_group) */
    int nmembers;
    uint64_t flags;             /* command-specific */
    struct ts_blocker *blocker; /* a blocking command's attempt (multi_borrow.c) */
    /* The AOF: what the command propagated when it ran on the coordinator
     * (multi_borrow.c), logged whole before the keys are released. */
    ts_aof_log aof;
    bool aof_propagated;
    bool accounted;             /* the command ran through the runner (multi_borrow.c): statistics are kept */
    bool connless;              /* started without on_done: counted in the router's connless_txns */
    /* A compound txn (ts_txn_compound, MULTI/EXEC): the members only say
     * which keys to lock; ops->step and ops->after drive them, t->aof is
     * what it logs (when aof_propagated) and t->cmd is accounted once. */
    bool compound;
    /* Driven by a compound txn (a member of MULTI/EXEC): what it logs goes
     * into the compound's block, so it wraps nothing in MULTI/EXEC itself. */
    bool nested;
} ts_txn;

/* Coordinator side. Builds a txn over the shards of the given key positions
 * (all shards when keypos is NULL). Copies argv. on_done(t) runs on the
 * coordinator when the reply is complete (may be NULL). */
ts_txn *ts_txn_new(struct ts_engine *coord, ts_txn_done_fn *on_done, void *owner, uint64_t client_id,
                   const ts_command *cmd, int db, int resp, int argc, const ts_arg *argv, const int *keypos,
                   int nkeys);
void ts_txn_start(ts_txn *t);
/* Groups consecutive pipelined single-phase txns (cmd->squashable) of one
 * connection into one txn: the union of their keys is locked shard by shard
 * once, each shard runs the members' steps in order in a single visit, and
 * the reply is the members' replies in order. Takes ownership of members. */
ts_txn *ts_txn_group(ts_txn **members, int n);
/* A compound txn (MULTI/EXEC, cmd/transaction.c): holds the union of the
 * members' keys (or, when exclusive, every shard whole) and runs `ops`,
 * whose step and after drive the members (never started themselves) with
 * ts_txn_run_part_step. Takes ownership of members; the caller sets cmd,
 * on_done, owner, client_id, client_local, db, resp and state. */
ts_txn *ts_txn_compound(struct ts_engine *coord, ts_txn **members, int n, bool exclusive, const ts_txn_ops *ops);
/* On part p's shard thread (p belongs to a member of a compound txn that
 * holds that shard): runs the member's step for its current phase, as the
 * protocol would (ops->step with the member's context). */
void ts_txn_run_part_step(struct ts_engine *e, ts_txn_part *p);
/* Appends what a finished txn logs for the AOF to log: its propagated
 * effects (even when it failed: a script that wrote then erred), else its
 * argv when it is a write that succeeded. */
void ts_txn_log_into(ts_aof_log *log, ts_txn *t);
void ts_txn_free(ts_txn *t);
/* Drops one reference (any thread); the last one frees the txn. */
void ts_txn_unref(ts_txn *t);
/* Any thread: a txn whose after() returned TS_TXN_SUSPEND runs after()
 * again on its coordinator (SHUTDOWN holds every shard until the process
 * stopped answering clients: cmd/shutdown.c). */
void ts_txn_resume(ts_txn *t);

/* Message handlers, called by the worker's inbox drain (or directly for its own shard). */
/* Takes the part's locks and runs phase 0; false (nothing done) when a lock
 * is taken by someone else: the caller parks the message. */
bool ts_txn_try_acquire(struct ts_engine *e, ts_txn_part *p);
void ts_txn_on_step(struct ts_engine *e, ts_txn_part *p);
void ts_txn_on_release(struct ts_engine *e, ts_txn_part *p);
void ts_txn_on_done(struct ts_engine *e, ts_txn *t);

/* Index of the part holding shard s, or -1. */
int ts_txn_part_of(const ts_txn *t, unsigned shard);

#endif
