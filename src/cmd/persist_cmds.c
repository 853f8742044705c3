/*
 * persist_cmds.c - SAVE, BGSAVE [SCHEDULE], LASTSAVE, BGREWRITEAOF:
 * starting a snapshot of every shard at one point in time
 * (docs/persistence.md). BGREWRITEAOF's snapshot is the RDB preamble of a
 * new AOF; the persistence thread adds the log written after that point.
 *
 * With several shards both run as a txn over all of them (exclusive):
 *   phase 0  every shard is held: nothing changes anywhere;
 *   after    the coordinator claims the snapshot slot and queues the file
 *            header with the persistence thread;
 *   phase 1  each shard marks its entries pending and installs its hooks;
 *            SAVE then writes the whole shard at once, BGSAVE lets the
 *            worker walk it between loop iterations;
 *   after    SAVE waits for the file to be on disk; BGSAVE replies at once.
 * Every shard begins while all are held, so the snapshot is a single point
 * in the serial order of all commands. With one shard the same steps run
 * inline.
 */
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "tessera/persist/aof.h"
#include "tessera/util/log.h"
#include "tessera/cmd/server.h"
#include "tessera/persist/persist.h"
#include "tessera/persist/snapshot.h"
#include "tessera/route/txn.h"
#include "tessera/route/engine.h"
#include "tessera/route/run.h"
#include "tessera/util/clock.h"
#include "tessera/cmd/persist_cmds.h"

#define ERR_IN_PROGRESS "ERR Background save already in progress"

typedef enum { BG_OK, BG_SYNTAX } bg_args;

static bg_args parse_bgsave(int argc, const ts_arg *argv)
{
    if (argc == 1) return BG_OK;
    if (argc == 2 && ts_arg_eq(argv[1], "schedule")) return BG_OK;
    return BG_SYNTAX;
}

/* The persistence controller (persist/persist.h), from the server context. */
static ts_persist *persist_of(const ts_engine *e) { return e->srv->persist; }

static ts_snapshot *new_snapshot(ts_engine *e, bool waiter)
{
    return ts_snapshot_new(persist_of(e), e->config.dbfilename, e->router->nshards, e->config.rdbcompression,
                           e->config.rdbchecksum, ts_router_dirty(e->router), NULL, NULL, waiter);
}

static bool is_save(const ts_command *cmd) { return strcmp(cmd->name, "save") == 0; }
static bool is_rewrite(const ts_command *cmd) { return strcmp(cmd->name, "bgrewriteaof") == 0; }

#define ERR_REWRITE_IN_PROGRESS "ERR Background append only file rewriting already in progress"

/* BGREWRITEAOF's checks and claim, with every shard held (or the only one
 * running inline). Returns the snapshot, or NULL with the reply written
 * (an error, or "scheduled" when a BGSAVE holds the snapshot slot). */
static ts_snapshot *rewrite_claim(ts_engine *e, ts_reply *r)
{
    bool enable;
    switch (ts_persist_claim_rewrite(persist_of(e), &enable)) {
    case TS_REWRITE_RUNNING:
        if (r) ts_reply_error(r, ERR_REWRITE_IN_PROGRESS);
        return NULL;
    case TS_REWRITE_SCHEDULED:
        if (r) ts_reply_simple(r, "Background append only file rewriting scheduled");
        return NULL;
    case TS_REWRITE_START:
        break;
    }
    /* What this worker logged before the snapshot point goes to the disk
     * queue before the snapshot's header (the other shards' logs already
     * did, when they answered). */
    ts_engine_flush_log(e);
    ts_log(TS_LOG_NOTICE, "Background append only file rewriting started");
    return ts_snapshot_new_aof(persist_of(e), e->config.appendfilename, e->router->nshards, e->config.rdbcompression,
                               enable, e->config.aof_use_rdb_preamble);
}

/* The rewrite of CONFIG SET appendonly yes, on each shard at its snapshot
 * point: what the snapshot holds is before it, what the shard logs from
 * here on is the new file's tail. A CONFIG SET appendonly no that already
 * reached this worker's copy wins. */
static void start_logging_at_snapshot(ts_engine *e, const ts_snapshot *snap)
{
    if (!ts_snapshot_enables_aof(snap) || !e->config.appendonly) return;
    e->aof_on = true;
    e->shard.aof = &e->aof_log;
}

/* ---- one shard: inline ---- */

static void run_one_shard(ts_cmd_ctx *c, ts_reply *r)
{
    bool save = is_save(c->cmd);
    if (is_rewrite(c->cmd)) {
        ts_snapshot *snap = rewrite_claim(c->engine, r);
        if (!snap) return;
        ts_shard_snapshot_begin(c->shard, snap);
        start_logging_at_snapshot(c->engine, snap);
        c->engine->hooks->snapshot_started(c->engine);
        if (r) ts_reply_simple(r, "Background append only file rewriting started");
        return;
    }
    if (!save && parse_bgsave(c->argc, c->argv) == BG_SYNTAX) {
        if (r) ts_reply_error(r, TS_ERR_SYNTAX);
        return;
    }
    if (!ts_snapshot_try_claim(persist_of(c->engine))) {
        if (r) ts_reply_error(r, ERR_IN_PROGRESS);
        return;
    }
    ts_snapshot *snap = new_snapshot(c->engine, save);
    ts_shard_snapshot_begin(c->shard, snap);
    if (!save) {
        c->engine->hooks->snapshot_started(c->engine);
        if (r) ts_reply_simple(r, "Background saving started");
        return;
    }
    ts_shard_snapshot_finish(c->shard);
    bool ok = ts_snapshot_wait(snap);
    ts_snapshot_release(snap);
    if (ok) ts_reply_ok(r);
    else ts_reply_error(r, "ERR");
}

void cmd_save(ts_cmd_ctx *c) { run_one_shard(c, c->r); }
void cmd_bgsave(ts_cmd_ctx *c) { run_one_shard(c, c->r); }
void cmd_bgrewriteaof(ts_cmd_ctx *c) { run_one_shard(c, c->r); }

void cmd_lastsave(ts_cmd_ctx *c)
{
    ts_persist_info pi;
    ts_persist_get_info(persist_of(c->engine), &pi);
    ts_reply_int(c->r, pi.lastsave);
}

/* ---- several shards: a txn ---- */

static void snap_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *c)
{
    (void)p;
    if (t->phase == 0) return;   /* holding every shard is the point */
    ts_shard_snapshot_begin(c->shard, t->state);
    if (is_rewrite(t->cmd)) start_logging_at_snapshot(c->engine, t->state);
    if (is_save(t->cmd)) ts_shard_snapshot_finish(c->shard);
    else c->engine->hooks->snapshot_started(c->engine);
}

static int snap_after(ts_txn *t)
{
    bool save = is_save(t->cmd);
    if (is_rewrite(t->cmd)) {
        if (t->phase == 0) {
            t->state = rewrite_claim(t->coord, t->on_done ? &t->reply : NULL);
            return t->state ? 1 : -1;
        }
        if (t->on_done) ts_reply_simple(&t->reply, "Background append only file rewriting started");
        return -1;
    }
    if (t->phase == 0) {
        if (!save && parse_bgsave(t->argc, t->argv) == BG_SYNTAX) {
            ts_reply_error(&t->reply, TS_ERR_SYNTAX);
            return -1;
        }
        if (!ts_snapshot_try_claim(persist_of(t->coord))) {
            ts_reply_error(&t->reply, ERR_IN_PROGRESS);
            return -1;
        }
        t->state = new_snapshot(t->coord, save);
        return 1;
    }
    if (!save) {
        ts_reply_simple(&t->reply, "Background saving started");
        return -1;
    }
    /* SAVE blocks its client until the file is on disk (like Redis's SAVE,
     * which blocks the server); every shard has already handed its part
     * over, so this waits only for the persistence thread. */
    bool ok = ts_snapshot_wait(t->state);
    ts_snapshot_release(t->state);
    t->state = NULL;
    if (ok) ts_reply_ok(&t->reply);
    else ts_reply_error(&t->reply, "ERR");
    return -1;
}

const ts_txn_ops ts_multi_snapshot = {.step = snap_step, .after = snap_after};

static void start_conn_less(ts_engine *e, const char *name)
{
    const ts_command *cmd = ts_command_lookup(name, strlen(name));
    ts_arg argv[1] = {{.ptr = name, .len = strlen(name)}};
    if (e->router->nshards == 1) {
        ts_cmd_ctx c;
        ts_run_ctx_init(&c, e, cmd, 0, 1, argv, NULL);
        run_one_shard(&c, NULL);
        return;
    }
    ts_txn *t = ts_txn_new(e, NULL, NULL, 0, cmd, 0, 2, 1, argv, NULL, 0);
    ts_txn_start(t);
}

/* ---- `save` rules and scheduled rewrites ---- */

void ts_bgsave_start(ts_engine *e) { start_conn_less(e, "bgsave"); }
void ts_aof_rewrite_start(ts_engine *e) { start_conn_less(e, "bgrewriteaof"); }

/* Worker 0, once a second: a rewrite scheduled behind a BGSAVE, or
 * auto-aof-rewrite-percentage / auto-aof-rewrite-min-size. */
void ts_aof_rewrite_check(ts_engine *e)
{
    long long growth;
    if (!ts_persist_rewrite_due(persist_of(e), &e->config, e->now_ms, &growth)) return;
    if (growth) ts_log(TS_LOG_NOTICE, "Starting automatic rewriting of AOF on %lld%% growth", growth);
    start_conn_less(e, "bgrewriteaof");
}

void ts_save_rules_check(ts_engine *e)
{
    ts_server *srv = e->srv;
    const char *rules = e->config.save;
    long long secs, changes;
    if (!ts_persist_save_due(srv->persist, rules, ts_router_dirty(e->router), e->now_ms, &secs, &changes)) return;
    ts_log(TS_LOG_NOTICE, "%lld changes in %lld seconds. Saving...", changes, secs);
    ts_bgsave_start(e);
}
