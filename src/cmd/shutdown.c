/*
 * shutdown.c - SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT] and the
 * shutdown SIGTERM / SIGINT ask for (shutdown.h; docs/persistence.md,
 * "Shutdown").
 *
 * Owns: a shutdown attempt: the AOF's final write and fsync, the final
 * RDB save, and the decision to exit or to keep serving.
 * Thread: the attempt is a txn over every shard, held exclusively; its
 * coordinator is the worker of the client that sent SHUTDOWN, or worker 0
 * for a signal. Its after() blocks that worker while the persistence
 * thread writes, as SAVE does (Redis's server is blocked as long).
 *
 * Why a txn: a snapshot without fork is a point in the serial order of
 * every command. For the file to hold every acknowledged write, no write
 * may run after that point until the process has stopped answering.
 * Holding every shard does that: whatever touches data waits (its
 * connection stays open, its reply comes later or never), and what does
 * not (PING, CLIENT ...) still answers.
 *   phase 0  every shard is held.      after: arguments, ABORT, the log line.
 *   phase 1  each shard ends the walk of a background snapshot still in
 *            progress (BGSAVE, BGREWRITEAOF) and hands its AOF log over.
 *            after: the persistence barrier (those snapshots have ended;
 *            the AOF is written and fsynced), claim the final snapshot.
 *   phase 2  each shard writes itself into the final snapshot.
 *            after: wait for the file.
 * Failure without FORCE: the log lines and the error, then the shards are
 * released and everything that waited runs, as in Redis 7.0. Success: the
 * txn suspends still holding every shard; main stops listening and has
 * every worker close its connections (no reply can leave after that),
 * then resumes the txn (ts_shutdown_release), which releases the shards
 * so the work that waited can drain, and the process exits (main.c).
 */
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "cmds.h"
#include "tessera/cmd/server.h"
#include "tessera/cmd/shutdown.h"
#include "tessera/persist/aof.h"
#include "tessera/persist/persist.h"
#include "tessera/persist/snapshot.h"
#include "tessera/route/engine.h"
#include "tessera/route/txn.h"
#include "tessera/util/log.h"

/* t->flags: SHUTDOWN's TS_SHUTDOWN_* (config.h) and these. */
#define FROM_SIGNAL (1u << 16)   /* SIGTERM / SIGINT's attempt: nobody to reply to */
#define HOLDING (1u << 17)       /* succeeded: holding every shard until main resumes it */

#define ERR_SHUTDOWN "ERR Errors trying to SHUTDOWN. Check logs."

/* Redis's shutdownCommand: any order, any case; ABORT alone; not SAVE and
 * NOSAVE together. Returns 0, or -1 on a syntax error. */
static int parse_args(int argc, const ts_arg *argv, int *flags, bool *abort_req)
{
    static const struct { const char *name; int flag; } words[] = {
        {"nosave", TS_SHUTDOWN_NOSAVE}, {"save", TS_SHUTDOWN_SAVE}, {"now", TS_SHUTDOWN_NOW},
        {"force", TS_SHUTDOWN_FORCE}, {"abort", 0},
    };
    *flags = 0;
    *abort_req = false;
    for (int i = 1; i < argc; i++) {
        size_t j = 0;
        while (j < TS_ARRAY_LEN(words) && !ts_arg_eq(argv[i], words[j].name)) j++;
        if (j == TS_ARRAY_LEN(words)) return -1;
        if (words[j].flag) *flags |= words[j].flag;
        else *abort_req = true;
    }
    if (*abort_req && *flags) return -1;
    if ((*flags & TS_SHUTDOWN_SAVE) && (*flags & TS_SHUTDOWN_NOSAVE)) return -1;
    return 0;
}

/* The table's run: never called, SHUTDOWN always runs as a txn (table.c
 * marks it always_txn); kept so the table has a function for it. */
void cmd_shutdown(ts_cmd_ctx *c) { ts_reply_error(c->r, ERR_SHUTDOWN); }

/* SHUTDOWN ABORT, with every shard held, so no attempt runs now: Redis
 * cancels a shutdown a signal asked for that has not begun (the only kind
 * there is without replicas to wait for). */
static void abort_shutdown(ts_txn *t)
{
    ts_server *srv = t->coord->srv;
    int expect = TS_SIG_SHUTDOWN_REQUESTED;
    if (!atomic_compare_exchange_strong(&srv->sig_shutdown, &expect, TS_SIG_SHUTDOWN_NONE)) {
        ts_reply_error(&t->reply, "ERR No shutdown in progress.");
        return;
    }
    ts_log(TS_LOG_NOTICE, "Shutdown manually aborted.");
    ts_reply_ok(&t->reply);
}

/* Redis's finishShutdown error path: the attempt is over, the server keeps
 * serving. A shutdown a signal asked for meanwhile is dropped with it
 * (Redis's cancelShutdown clears shutdown_asap too). */
static int fail(ts_txn *t)
{
    ts_server *srv = t->coord->srv;
    ts_log(TS_LOG_WARNING, "Errors trying to shut down the server. Check the logs for more information.");
    atomic_store(&srv->sig_shutdown, TS_SIG_SHUTDOWN_NONE);
    if (!(t->flags & FROM_SIGNAL)) ts_reply_error(&t->reply, ERR_SHUTDOWN);
    return -1;
}

/* Every shard stays held: main stops serving, then releases us. */
static int succeed(ts_txn *t)
{
    ts_server *srv = t->coord->srv;
    t->flags |= HOLDING;
    atomic_store(&srv->exiting, true);
    atomic_store(&srv->shutdown_hold, t);
    srv->hooks.shutdown_exit(srv);
    return TS_TXN_SUSPEND;
}

static int begin(ts_txn *t)
{
    ts_server *srv = t->coord->srv;
    /* An earlier attempt succeeded: this one waited behind its hold, and
     * its client is gone. */
    if (atomic_load(&srv->exiting)) return -1;
    if (t->flags & FROM_SIGNAL) {
        int expect = TS_SIG_SHUTDOWN_REQUESTED;
        if (!atomic_compare_exchange_strong(&srv->sig_shutdown, &expect, TS_SIG_SHUTDOWN_RUNNING))
            return -1;   /* aborted, or coalesced with an attempt already made */
    } else {
        int flags;
        bool abort_req;
        if (parse_args(t->argc, t->argv, &flags, &abort_req) != 0) {
            ts_reply_error(&t->reply, TS_ERR_SYNTAX);
            return -1;
        }
        if (abort_req) {
            abort_shutdown(t);
            return -1;
        }
        t->flags = (uint64_t)flags;
    }
    /* Loading: what is in memory is not the whole data set yet. */
    if (t->coord->loading) t->flags = (t->flags & ~(uint64_t)TS_SHUTDOWN_SAVE) | TS_SHUTDOWN_NOSAVE;
    ts_log(TS_LOG_WARNING, "User requested shutdown...");
    return 1;
}

/* The final snapshot, or NULL when the slot is taken (cannot happen while
 * every shard is held: BGSAVE and BGREWRITEAOF start as txns too). */
static ts_snapshot *final_snapshot(ts_engine *e)
{
    ts_persist *p = e->srv->persist;
    if (!ts_snapshot_try_claim(p)) return NULL;
    return ts_snapshot_new(p, e->config.dbfilename, e->router->nshards, e->config.rdbcompression,
                           e->config.rdbchecksum, ts_router_dirty(e->router), NULL, NULL, true);
}

/* Phase 1 is done everywhere: what any shard logged and every background
 * snapshot is with the persistence thread. */
static int after_flush(ts_txn *t)
{
    ts_engine *e = t->coord;
    ts_persist *p = e->srv->persist;
    bool force = t->flags & TS_SHUTDOWN_FORCE;
    bool aof = ts_aof_enabled(p) || ts_persist_aof_enabling(p);
    if (aof) ts_log(TS_LOG_NOTICE, "Calling fsync() on the AOF file.");
    int rc = ts_persist_barrier(p);
    if (ts_persist_aof_enabling(p)) {
        /* CONFIG SET appendonly yes's rewrite failed or waits: the AOF
         * holds nothing yet. */
        if (!force) {
            ts_log(TS_LOG_WARNING, "Writing initial AOF, can't exit.");
            return fail(t);
        }
        ts_log(TS_LOG_WARNING, "Writing initial AOF. Exit anyway.");
    }
    if (rc != 0) {
        /* Unlike Redis 7.0, which only logs it: acknowledged writes may
         * not be on disk (docs/persistence.md). */
        if (!force) {
            ts_log(TS_LOG_WARNING, "Error trying to flush the AOF, can't exit.");
            return fail(t);
        }
        ts_log(TS_LOG_WARNING, "Error trying to flush the AOF. Exit anyway.");
    }
    bool save = (t->flags & TS_SHUTDOWN_SAVE) || (e->config.save[0] && !(t->flags & TS_SHUTDOWN_NOSAVE));
    if (!save) return succeed(t);
    ts_log(TS_LOG_NOTICE, "Saving the final RDB snapshot before exiting.");
    t->state = final_snapshot(e);
    if (t->state) return 2;
    ts_log(TS_LOG_WARNING, "Background save already in progress");
    return force ? succeed(t) : fail(t);
}

static int after_save(ts_txn *t)
{
    bool ok = ts_snapshot_wait(t->state);
    ts_snapshot_release(t->state);
    t->state = NULL;
    if (!ok) {
        if (!(t->flags & TS_SHUTDOWN_FORCE)) {
            ts_log(TS_LOG_WARNING, "Error trying to save the DB, can't exit.");
            return fail(t);
        }
        ts_log(TS_LOG_WARNING, "Error trying to save the DB. Exit anyway.");
    }
    return succeed(t);
}

static void shutdown_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *c)
{
    (void)p;
    if (t->phase == 1) {
        if (ts_shard_snapshot_active(c->shard)) ts_shard_snapshot_finish(c->shard);
        ts_engine_flush_log(c->engine);
    } else if (t->phase == 2) {
        ts_shard_snapshot_begin(c->shard, t->state);
        ts_shard_snapshot_finish(c->shard);
    }
}

static int shutdown_after(ts_txn *t)
{
    if (t->flags & HOLDING) return -1;   /* resumed: every worker stopped answering */
    switch (t->phase) {
    case 0: return begin(t);
    case 1: return after_flush(t);
    default: return after_save(t);
    }
}

const ts_txn_ops ts_multi_shutdown = {.step = shutdown_step, .after = shutdown_after};

void ts_shutdown_signal(ts_engine *e, int signum)
{
    int flags = signum == SIGINT ? e->config.shutdown_on_sigint : e->config.shutdown_on_sigterm;
    const ts_command *cmd = ts_command_lookup("shutdown", 8);
    ts_arg argv[1] = {{.ptr = "shutdown", .len = 8}};
    ts_txn *t = ts_txn_new(e, NULL, NULL, 0, cmd, 0, 2, 1, argv, NULL, 0);
    t->flags = (uint64_t)flags | FROM_SIGNAL;
    ts_txn_start(t);
}

void ts_shutdown_release(ts_server *srv)
{
    ts_txn *t = atomic_exchange(&srv->shutdown_hold, NULL);
    if (t) ts_txn_resume(t);
}
