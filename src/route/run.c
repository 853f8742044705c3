/*
 * run.c - the runner (run.h): one command's execution with its
 * statistics, propagation and blocked-client service.
 */
#include "tessera/route/run.h"

#include <stdlib.h>
#include <string.h>

#include "tessera/route/blocking.h"
#include "tessera/route/engine.h"
#include "tessera/route/txn.h"
#include "tessera/store/aof_log.h"
#include "tessera/store/blocked_keys.h"

#define TS_MAX_KEYS_STACK 64

void ts_run_account(ts_engine *e, const ts_command *cmd, uint64_t usec, const ts_reply *r, uint32_t errors_before)
{
    ts_cmd_stats *st = &e->cmd_stats[cmd->id];
    st->calls++;
    st->usec += usec;
    e->stats.commands_processed++;
    if (r->errors != errors_before) {
        st->failed++;
        ts_engine_count_error(e, r->last_error_code);
    } else if (cmd->flags & TS_CMD_WRITE) {
        ts_engine_count_dirty(e);
    }
}

void ts_run_reject(ts_engine *e, const ts_command *cmd, const char *error_code)
{
    e->cmd_stats[cmd->id].rejected++;
    ts_engine_count_error(e, error_code);
}

/* A write that succeeded is logged as its argv unless it said otherwise. */
static void propagate_default(ts_cmd_ctx *c)
{
    if (!c->aof || c->propagated) return;
    c->propagated = true;
    ts_aof_log_argv(c->aof, c->db, c->argc, c->argv);
}

void ts_run_command(ts_engine *e, ts_cmd_ctx *ctx)
{
    const ts_command *cmd = ctx->cmd;
    ts_reply *r = ctx->r;
    uint32_t errors_before = r->errors;
    uint64_t t0 = ts_monotonic_us();
    cmd->run(ctx);
    if (TS_UNLIKELY(ctx->aof != NULL) && (cmd->flags & TS_CMD_WRITE) && r->errors == errors_before)
        propagate_default(ctx);
    ts_run_account(e, cmd, ts_monotonic_us() - t0, r, errors_before);
    /* Like Redis: clients blocked on keys this command filled are served
     * before the next command runs. */
    if (TS_UNLIKELY(ts_blocking_pending(&e->shard)) && ctx->shard == &e->shard && !ctx->defer_blocked)
        ts_blocking_serve(e);
}

void ts_run_part(ts_engine *e, ts_txn *t, ts_txn_part *p, ts_cmd_ctx *ctx)
{
    t->ops->step(t, p, ctx);
    /* Keys the step filled may serve blocked clients (while the txn holds
     * them the service waits for the release: blocking.c). */
    if (TS_UNLIKELY(ts_blocking_pending(&e->shard))) ts_blocking_serve(e);
}

bool ts_run_locked_out(const ts_engine *e, const ts_command *cmd, int db, int argc, const ts_arg *argv)
{
    return ts_run_locked_out_by_others(e, cmd, db, argc, argv, NULL);
}

bool ts_run_locked_out_by_others(const ts_engine *e, const ts_command *cmd, int db, int argc, const ts_arg *argv,
                                 const ts_txn *owner)
{
    const ts_shard *s = &e->shard;
    if (s->exclusive) return s->exclusive != owner || !owner;
    if (s->locks.count == 0) return false;
    if (cmd->quiet_shard) return true;
    int posbuf[TS_MAX_KEYS_STACK];
    int *pos = argc > TS_MAX_KEYS_STACK ? ts_malloc(sizeof(int) * (size_t)argc) : posbuf;
    int n = ts_command_keys(cmd, argc, argv, pos, argc);
    bool blocked = ts_shard_keys_blocked(s, db, argv, pos, n, owner);
    if (pos != posbuf) free(pos);
    return blocked;
}

/* ---- propagation ---- */

void ts_prop_none(ts_cmd_ctx *c) { c->propagated = true; }

void ts_prop_argv(ts_cmd_ctx *c, int argc, const ts_arg *argv)
{
    c->propagated = true;
    if (c->aof) ts_aof_log_argv(c->aof, c->db, argc, argv);
}

void ts_prop_begin(ts_cmd_ctx *c, int argc)
{
    c->propagated = true;
    if (c->aof) ts_aof_log_begin(c->aof, c->db, argc);
}
