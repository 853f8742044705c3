/*
 * transaction.h - EXEC: running the commands a client queued between MULTI
 * and EXEC as one atomic, isolated unit, wherever their keys live.
 *
 * Owns: the queue of a transaction (commands with their own argument
 * copies) and the plan that decides how EXEC runs it:
 *   - here: every key on the connection's own shard (and no command that
 *     visits other shards): the commands run inline, one after the other,
 *     no message at all;
 *   - a compound txn (route/txn.h ts_txn_compound) otherwise: the union of
 *     the commands' keys is locked shard by shard (or, when a command needs
 *     whole shards, every shard is held exclusively), then the commands run
 *     in queue order: consecutive single-shard commands as one round, each
 *     shard running its share in one step; a multi-shard command (MSET over
 *     shards, RENAME, KEYS, FLUSHALL, ...) through its own protocol, driven
 *     phase by phase inside the held shards; connection commands (SELECT,
 *     CLIENT SETNAME) and stateless ones (PING) on the coordinator at their
 *     turn.
 * Either way no other client observes a part of it, replies come in queue
 * order, and the AOF gets its effects as one MULTI/EXEC block when more
 * than one command propagated (a torn block is dropped at load).
 * Thread: the connection's worker (the coordinator); a compound txn's
 * steps run on the shards' owners.
 */
#ifndef TESSERA_TRANSACTION_H
#define TESSERA_TRANSACTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/route/command.h"
#include "tessera/route/txn.h"

struct ts_engine;

typedef struct ts_queued_cmd {
    const ts_command *cmd;
    int argc;
    ts_arg *argv;              /* owned copies */
    const char *denied;        /* set at EXEC: the error replacing its run (ACL re-check), or NULL */
} ts_queued_cmd;

typedef struct ts_tx_queue {
    ts_queued_cmd *v;
    int n, cap;
    uint32_t flags;            /* OR of the queued commands' flags (Redis's mstate.cmd_flags) */
    size_t bytes;              /* memory the copies take (CLIENT LIST multi-mem) */
} ts_tx_queue;

void ts_tx_queue_push(ts_tx_queue *q, const ts_command *cmd, int argc, const ts_arg *argv);
/* Frees the copies; the queue is empty and reusable. */
void ts_tx_queue_clear(ts_tx_queue *q);

/* Who runs the transaction. */
typedef struct ts_tx_client {
    struct ts_conn *conn;      /* for connection commands (SELECT, CLIENT ...) run at their turn */
    uint64_t client_id;
    bool client_local;
    int db;                    /* the connection's database at EXEC */
    int resp;
    struct ts_watch *watch;    /* its WATCH session, or NULL; the EXEC takes the reference */
} ts_tx_client;

enum ts_tx_where {
    TS_TX_HERE,                /* inline on the coordinator's shard, now */
    TS_TX_WAIT,                /* inline, but the shard or a key is held by a txn: retry later */
    TS_TX_TXN,                 /* a compound txn */
};

/* Where EXEC of q runs, from the coordinator engine e (watch: the WATCH
 * session, or NULL: its keys are checked where they live). */
enum ts_tx_where ts_tx_where(struct ts_engine *e, const ts_tx_queue *q, int db, const struct ts_watch *watch);
/* Runs q inline (ts_tx_where said HERE): the EXEC reply (an array of the
 * commands' replies, or the null array when a watched key changed) goes to
 * exec_ctx->r. exec_ctx is EXEC's own context. Ends who->watch. */
void ts_tx_run_here(ts_cmd_ctx *exec_ctx, const ts_tx_client *who, ts_tx_queue *q);
/* The compound txn running q (ts_tx_where said TXN); q's commands move
 * into it (q is left empty), and so does who->watch: every watched key is
 * locked with the others and checked in phase 0 (a change makes the reply
 * the null array and nothing runs). Start it with ts_txn_start; its reply is the
 * EXEC reply. exec is EXEC's descriptor (accounted once, at the end). */
ts_txn *ts_tx_new(struct ts_engine *coord, const ts_command *exec, ts_txn_done_fn *on_done, void *owner,
                  const ts_tx_client *who, ts_tx_queue *q);

#endif
