/*
 * conn_multi.c - a connection's MULTI state: MULTI, DISCARD and EXEC, the
 * queue of commands between them, and the ACL re-check at EXEC.
 *
 * Owns: ts_conn_multi (the queue and Redis's CLIENT_DIRTY_EXEC flag). What
 * is queued, and which errors abort the transaction, is decided by the
 * dispatcher (conn.c dispatch, in processCommand's order); how EXEC runs
 * the queue is cmd/transaction.c's.
 * Thread: the connection's worker.
 */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "tessera/cmd/transaction.h"
#include "tessera/net/worker.h"
#include "tessera/route/acl.h"
#include "tessera/route/engine.h"
#include "tessera/route/watch.h"

void ts__conn_multi_end(ts_conn *c)
{
    if (!c->multi) return;
    ts_tx_queue_clear(&c->multi->queue);
    free(c->multi);
    c->multi = NULL;
}

void ts__conn_multi_flag(ts_conn *c)
{
    if (c->multi) c->multi->dirty_exec = true;
}

void ts__conn_multi_queue(ts_conn *c, const ts_command *cmd, int argc, const ts_arg *argv)
{
    /* Like Redis, an aborted transaction keeps nothing (it still replies QUEUED). */
    if (!c->multi->dirty_exec) ts_tx_queue_push(&c->multi->queue, cmd, argc, argv);
    ts_buf *out = ts__conn_reply_begin(c);
    ts_buf_append(out, "+QUEUED\r\n", 9);
    ts__conn_reply_end(c, out);
}

/* Redis checks the ACL again at EXEC: the rules may have changed since the
 * commands were queued. */
void ts__conn_multi_check_acl(ts_conn *c)
{
    ts_tx_queue *q = &c->multi->queue;
    const ts_acl_user *u = ts__conn_acl_user(c);
    if (!u || ts_acl_user_unrestricted(u)) return;
    size_t ulen;
    const char *uname = ts_acl_user_name(u, &ulen);
    for (int i = 0; i < q->n; i++) {
        ts_queued_cmd *qc = &q->v[i];
        int pos = 0;
        int verdict = ts_acl_check(u, qc->cmd, qc->argc, qc->argv, &pos);
        if (verdict == TS_ACL_OK) continue;
        ts_arg object =
            verdict == TS_ACL_DENIED_CMD ? (ts_arg){qc->cmd->name, strlen(qc->cmd->name)} : qc->argv[pos];
        ts__conn_acl_log(c, verdict, object, (ts_arg){uname, ulen});
        switch (verdict) {
        case TS_ACL_DENIED_CMD:
            qc->denied = "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC "
                         "call. This command is no longer allowed for the following reason: no permission to "
                         "execute the command or subcommand";
            break;
        case TS_ACL_DENIED_KEY:
            qc->denied = "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC "
                         "call. This command is no longer allowed for the following reason: no permission to touch "
                         "the specified keys";
            break;
        case TS_ACL_DENIED_CHANNEL:
            qc->denied = "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC "
                         "call. This command is no longer allowed for the following reason: no permission to access "
                         "one of the channels used as arguments";
            break;
        default:
            qc->denied = "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC "
                         "call. This command is no longer allowed for the following reason: no permission";
            break;
        }
    }
}

void ts__conn_multi_client(ts_conn *c, ts_tx_client *who)
{
    *who = (ts_tx_client){.conn = c, .client_id = c->client.id, .client_local = ts__conn_is_local(c),
                          .db = c->client.db, .resp = c->client.resp, .watch = c->watch};
}

void ts__conn_unwatch(ts_conn *c)
{
    if (!c->watch) return;
    ts_watch_end(&c->w->e, c->watch);
    c->watch = NULL;
}

static void cmd_multi(ts_cmd_ctx *x)
{
    ts_conn *c = x->conn;
    if (c->multi) {
        ts_reply_error(x->r, "ERR MULTI calls can not be nested");
        return;
    }
    c->multi = ts_calloc(1, sizeof(*c->multi));
    ts_reply_ok(x->r);
}

static void cmd_discard(ts_cmd_ctx *x)
{
    ts_conn *c = x->conn;
    if (!c->multi) {
        ts_reply_error(x->r, "ERR DISCARD without MULTI");
        return;
    }
    ts__conn_multi_end(c);
    ts__conn_unwatch(c);
    ts_reply_ok(x->r);
}

/* EXEC run inline (conn.c dispatch_exec decided so, or there is nothing to
 * run: the errors). */
static void cmd_exec(ts_cmd_ctx *x)
{
    ts_conn *c = x->conn;
    if (!c->multi) {
        ts_reply_error(x->r, "ERR EXEC without MULTI");
        return;
    }
    if (c->multi->dirty_exec) {
        ts_reply_error(x->r, "EXECABORT Transaction discarded because of previous errors.");
        ts__conn_multi_end(c);
        ts__conn_unwatch(c);
        return;
    }
    ts__conn_multi_check_acl(c);
    ts_tx_client who;
    ts__conn_multi_client(c, &who);
    c->watch = NULL;   /* ts_tx_run_here ends it */
    ts_tx_run_here(x, &who, &c->multi->queue);
    ts__conn_multi_end(c);
}

/* WATCH with every key on this shard (conn.c dispatch_watch sends the
 * others through watch_ops). */
void ts__conn_watch_run(ts_cmd_ctx *x)
{
    ts_conn *c = x->conn;
    if (c->multi) {
        ts_reply_error(x->r, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    if (!c->watch) c->watch = ts_watch_new();
    for (int i = 1; i < x->argc; i++)
        if (ts_watch_note(c->watch, x->db, x->argv[i])) ts_watch_register(x->shard, c->watch, x->db, x->argv[i], x->now_ms);
    ts_reply_ok(x->r);
}

/* WATCH's keys on other shards: each part registers its keys (locked, so
 * no txn is half-way through writing them). t->state: the session. */
static void watch_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *ctx)
{
    for (int i = 0; i < p->nkeys; i++)
        ts_watch_register(ctx->shard, t->state, t->db, t->argv[p->keys[i]], t->now_ms);
}

static int watch_after(ts_txn *t)
{
    ts_watch_unref(t->state);
    t->state = NULL;
    ts_reply_ok(&t->reply);
    return -1;
}

static const ts_txn_ops watch_ops = {watch_step, watch_after};

static void cmd_unwatch(ts_cmd_ctx *x)
{
    ts__conn_unwatch(x->conn);
    ts_reply_ok(x->r);
}

void ts__conn_multi_bind(void)
{
    ts_command_bind("multi", cmd_multi, NULL);
    ts_command_bind("discard", cmd_discard, NULL);
    ts_command_bind("exec", cmd_exec, NULL);
    ts_command_bind("watch", ts__conn_watch_run, &watch_ops);
    ts_command_bind("unwatch", cmd_unwatch, NULL);
}
