/*
 * conn_blocked.c - the client side of a blocking command (BLPOP, XREAD
 * BLOCK, ...): a connection waiting for its keys, served, timed out or
 * closed (route/blocking.h has the protocol; conn.h the connection).
 *
 * Thread: the client's worker (the blocker's origin). Exactly one of the
 * serving shard, the timeout and the disconnect ends a wait: the blocker's
 * atomic state decides (claim_end here, the shard's claim in
 * route/blocking.c).
 */
#include <string.h>

#include "conn.h"
#include "tessera/net/worker.h"
#include "tessera/route/blocking.h"
#include "tessera/route/txn.h"


static void waiting_add(ts_worker *w, ts_blocker *b)
{
    b->prev_waiting = NULL;
    b->next_waiting = w->blocked_head;
    if (w->blocked_head) w->blocked_head->prev_waiting = b;
    w->blocked_head = b;
    w->e.stats.blocked_clients++;
}

static void waiting_remove(ts_worker *w, ts_blocker *b)
{
    if (b->prev_waiting) b->prev_waiting->next_waiting = b->next_waiting;
    else w->blocked_head = b->next_waiting;
    if (b->next_waiting) b->next_waiting->prev_waiting = b->prev_waiting;
    b->next_waiting = b->prev_waiting = NULL;
    w->e.stats.blocked_clients--;
}

/* The attempt found nothing: the connection waits (no later command of its
 * pipeline runs) until served, timed out or closed. */
void ts__conn_park_blocked(ts_conn *c)
{
    ts_blocker *b = c->blocker;
    c->wait = TS_WAIT_BLOCKED;
    waiting_add(c->w, b);
    if (b->deadline_ms) ts_worker_arm_block_timer(c->w, b->deadline_ms);
}


static void unpark(ts_conn *c)
{
    ts_blocker *b = c->blocker;
    if (c->wait == TS_WAIT_BLOCKED) waiting_remove(c->w, b);
    c->wait = TS_WAIT_NONE;
    c->blocker = NULL;
}

/* A served blocker's outcome goes to the client (or runs again). */
static void deliver_served(ts_conn *c)
{
    ts_blocker *b = c->blocker;
    unpark(c);
    if (b->retry) {
        /* BLMOVE across shards: a fresh attempt, as a txn over both keys. */
        int pos[2] = {1, 2};
        ts__conn_start_blocking_txn(c, b->cmd, b->argc, b->argv, pos, 2);
        ts_blocker_finish(b);
        return;
    }
    ts_buf *out = ts__conn_reply_begin(c);
    ts_buf_append(out, b->reply.data, b->reply.len);
    ts__conn_reply_end(c, out);
    ts_blocker_finish(b);
    ts_worker_make_ready(c->w, c);
    ts__conn_flush(c);
}

void ts_conn_on_block_done(ts_blocker *b)
{
    ts_conn *c = b->conn;
    b->served = true;
    if (b->msg.aof_seq > c->aof_need) c->aof_need = b->msg.aof_seq;
    if (c->wait == TS_WAIT_TXN) return;   /* served before the attempt's txn returned */
    if (c->closing) {
        c->blocker = NULL;
        ts_blocker_finish(b);
        ts__conn_maybe_free(c);
        return;
    }
    deliver_served(c);
}

/* Claims the blocker for the origin (timeout, disconnect). False when a
 * shard served it first: its BLOCK_DONE is on the way or has arrived. */
static bool claim_end(ts_blocker *b)
{
    int expect = TS_BLOCK_WAITING;
    return atomic_compare_exchange_strong(&b->state, &expect, TS_BLOCK_ENDED);
}

int64_t ts_conn_expire_blocked(ts_worker *w, int64_t now_ms)
{
    int64_t next = 0;
    ts_blocker *b = w->blocked_head;
    while (b) {
        ts_blocker *nb = b->next_waiting;
        /* Redis's rule: timed out once the deadline is in the past. */
        if (b->deadline_ms && b->deadline_ms < now_ms && claim_end(b)) {
            ts_conn *c = b->conn;
            unpark(c);
            ts_buf *out = ts__conn_reply_begin(c);
            ts_reply r;
            ts_reply_init(&r, out, c->client.resp);
            ts_blocker_reply_timeout(b, &r);
            ts__conn_reply_end(c, out);
            ts_blocker_finish(b);
            ts_worker_make_ready(w, c);
            ts__conn_flush(c);
        } else if (b->deadline_ms && b->deadline_ms >= now_ms && (next == 0 || b->deadline_ms < next)) {
            next = b->deadline_ms;
        }
        b = nb;
    }
    return next;
}

/* The client goes away while blocked (or while its attempt runs). */
void ts__conn_cancel_blocked(ts_conn *c)
{
    ts_blocker *b = c->blocker;
    if (!b || c->wait == TS_WAIT_TXN) return;   /* settled when the txn returns */
    if (claim_end(b) || b->served) {
        unpark(c);
        ts_blocker_finish(b);
        return;
    }
    /* Served, BLOCK_DONE on the way: it finishes the blocker. */
    if (c->wait == TS_WAIT_BLOCKED) waiting_remove(c->w, b);
    c->wait = TS_WAIT_NONE;
}

/* The attempt's txn came back: reply, or park. */
bool ts__conn_blocking_txn_done(ts_conn *c, ts_txn *t)
{
    ts_blocker *b = t->blocker;
    if (!b) return false;
    if (!b->blocked) {
        c->blocker = NULL;
        ts_blocker_finish(b);
        return false;   /* the txn's reply is the reply */
    }
    c->wait = TS_WAIT_NONE;
    if (c->closing) {
        ts__conn_cancel_blocked(c);
        return true;
    }
    if (b->served) deliver_served(c);
    else ts__conn_park_blocked(c);
    return true;
}
