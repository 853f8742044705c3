/*
 * run.h - the runner: the one function that runs a command on a shard.
 *
 * Owns: what happens around every execution of a command's `run`, in one
 * place so that no caller can drift from another (practice 13 of
 * docs/style.md, after Redis's call()): timing and the command's statistics
 * (INFO commandstats, errorstats, the dirty counter), propagation of a
 * write's effect to the AOF, and the service of clients blocked on keys
 * the command made ready. The propagation helpers commands call
 * (ts_prop_*) live here too.
 * Thread: the owner of the engine, with ctx->shard on that engine (or a
 * scratch shard the caller owns, see multi_borrow.c).
 *
 * Callers, each with a reply sink of its own (ctx->r): a command run
 * inline for a local client (net/conn.c), a command arriving in a batch
 * from another worker (batch.c), the scratch run of a multi-shard command
 * (cmd/multi_borrow.c), a blocked client being served (blocking.c), and
 * each part of a multi-shard transaction (ts_run_part, txn.c), whose
 * command is accounted once, by its coordinator, with ts_run_account.
 * MULTI/EXEC and scripts call ts_run_command with a sink of their own.
 *
 * What the caller has done before: the command was looked up and its
 * arity checked; the keys are on ctx->shard and no lock stands in the way
 * (ts_run_locked_out).
 */
#ifndef TESSERA_RUN_H
#define TESSERA_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "tessera/route/command.h"
#include "tessera/route/engine.h"

struct ts_engine;
struct ts_txn;
struct ts_txn_part;

/* Fills ctx for running cmd on e's shard (database db), replying into r:
 * the engine's clock, configuration and propagation log; no connection,
 * no blocker. Callers set what differs afterwards. */
static inline void ts_run_ctx_init(ts_cmd_ctx *ctx, struct ts_engine *e, const ts_command *cmd, int db, int argc,
                                   ts_arg *argv, ts_reply *r)
{
    *ctx = (ts_cmd_ctx){
        .shard = &e->shard, .db = db, .now_ms = e->now_ms, .config = &e->config, .r = r, .aof = e->shard.aof,
        .engine = e, .cmd = cmd, .argc = argc, .argv = argv,
    };
}
/* Runs ctx->cmd: its `run`, then (a write that succeeded) the default
 * propagation unless the command propagated itself, its statistics on e,
 * and, unless it ran on a scratch shard, the service of the blocked
 * clients it made ready. */
void ts_run_command(struct ts_engine *e, ts_cmd_ctx *ctx);
/* Runs a multi-shard command's part on this shard: the txn's step (which
 * replies into ctx->r for the coordinator) instead of the command's run,
 * with the same blocked-client service after it. Nothing is accounted or
 * logged here: the coordinator accounts for the command once
 * (ts_run_account) and logs it whole (txn.c), so no replay ever sees half
 * of it. */
void ts_run_part(struct ts_engine *e, struct ts_txn *t, struct ts_txn_part *p, ts_cmd_ctx *ctx);
/* The statistics of one finished command, for one executed elsewhere or
 * in pieces (a multi-shard txn's coordinator): calls, time, failures and
 * the error code, the dirty counter. */
void ts_run_account(struct ts_engine *e, const ts_command *cmd, uint64_t usec, const ts_reply *r,
                    uint32_t errors_before);
/* A command rejected before it ran (wrong arity): its error is counted. */
void ts_run_reject(struct ts_engine *e, const ts_command *cmd, const char *error_code);
/* True when the command may not run on e's shard now: a multi-shard txn
 * holds the whole shard, or a key it touches (or, for commands that read
 * beyond their keys, any key). */
bool ts_run_locked_out(const struct ts_engine *e, const ts_command *cmd, int db, int argc, const ts_arg *argv);
/* The same, ignoring the locks (or the exclusive hold) of owner: a call a
 * txn's own step makes (a script's redis.call). */
bool ts_run_locked_out_by_others(const struct ts_engine *e, const ts_command *cmd, int db, int argc,
                                 const ts_arg *argv, const struct ts_txn *owner);

/* ---- propagation: what commands call (persist/aof.h has the rules) ---- */
/* Whether this execution is being logged (AOF on, not replaying, not a
 * txn part whose coordinator logs the whole command). */
static inline bool ts_prop_on(const ts_cmd_ctx *c) { return c->aof != NULL; }
/* The command's effect is nothing the AOF needs (a condition failed). */
void ts_prop_none(ts_cmd_ctx *c);
/* Logs argv instead of the command's own (may be called several times). */
void ts_prop_argv(ts_cmd_ctx *c, int argc, const ts_arg *argv);
/* Piecewise: ts_prop_begin then argc ts_aof_log_arg* calls on c->aof. */
void ts_prop_begin(ts_cmd_ctx *c, int argc);

#endif
