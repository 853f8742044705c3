/*
 * transaction.c - EXEC (transaction.h): the plan, the inline run on the
 * coordinator's shard, and the compound txn that runs a transaction whose
 * keys live on several shards.
 *
 * Compound txn phases (route/txn.h's protocol):
 *   0 ACQUIRE  every part locks its share of the queued commands' keys (or
 *              takes its shard whole) and checks the WATCHed keys; when the
 *              queue holds only single-shard commands and nothing is
 *              watched, each part also runs its share right there (the
 *              whole EXEC in one pass, as MSET writes in phase 0).
 *   1..       the coordinator walks the queue (exec_after): connection and
 *              stateless commands run there at their turn; a run of
 *              consecutive single-shard commands is one round (one STEP to
 *              each shard concerned, which runs its commands of the round
 *              in queue order); a multi-shard command runs its own
 *              protocol inside the held shards: phase 0 part by part in
 *              ascending shard order, as ACQUIRE would (CONFIG SET and ACL
 *              SETUSER build on the first shard), later phases in parallel.
 *   last      the reply (one array, replies in queue order) and the AOF
 *              block are built on the coordinator; RELEASE follows.
 * Each command's effects are captured per command (its AOF segment) and
 * logged by the coordinator while every key is still held, wrapped in
 * MULTI/EXEC when more than one command propagated (Redis 7.0 wraps only
 * then).
 */
#include "tessera/cmd/transaction.h"

#include <stdlib.h>
#include <string.h>

#include "tessera/route/blocking.h"
#include "tessera/route/engine.h"
#include "tessera/route/run.h"
#include "tessera/route/slot.h"
#include "tessera/route/watch.h"
#include "tessera/store/aof_log.h"
#include "tessera/store/blocked_keys.h"
#include "tessera/util/strconv.h"
#include "tessera/util/clock.h"

#define KEYS_STACK 64

/* ---------- the queue ---------- */

void ts_tx_queue_push(ts_tx_queue *q, const ts_command *cmd, int argc, const ts_arg *argv)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 4;
        q->v = ts_realloc(q->v, sizeof(*q->v) * (size_t)q->cap);
    }
    q->v[q->n++] = (ts_queued_cmd){.cmd = cmd, .argc = argc, .argv = ts_args_dup(argc, argv)};
    q->flags |= cmd->flags;
    size_t bytes = sizeof(ts_queued_cmd) + sizeof(ts_arg) * (size_t)argc;
    for (int i = 0; i < argc; i++) bytes += argv[i].len;
    q->bytes += bytes;
}

void ts_tx_queue_clear(ts_tx_queue *q)
{
    for (int i = 0; i < q->n; i++) free(q->v[i].argv);
    free(q->v);
    *q = (ts_tx_queue){0};
}

/* ---------- planning ---------- */

enum item_kind {
    ITEM_COORD,    /* connection / stateless / keyless: on the coordinator, at its turn */
    ITEM_SHARD,    /* single-shard: on its shard, in a round */
    ITEM_MEMBER,   /* multi-shard: its own protocol, driven inside the held shards */
};

typedef struct plan {
    uint8_t kind;
    unsigned shard;      /* ITEM_SHARD */
    bool all_shards;     /* ITEM_MEMBER over every shard (ROUTE_ALL, SORT BY pattern) */
    bool exclusive;      /* needs its shards whole (MOVE, SCAN, ROUTE_ALL, wide keys) */
} plan;

/* The database a queued SELECT switches to (cmd_select's checks), or -1. */
static int selected_db(const ts_engine *e, const ts_queued_cmd *q)
{
    if (strcmp(q->cmd->name, "select") != 0 || q->argc != 2) return -1;
    long long db;
    if (!ts_arg_to_ll(q->argv[1], &db) || db < 0 || db >= e->shard.ndb) return -1;
    return (int)db;
}

/* How one queued command runs; pos/nkeys: its key positions (KEYS route). */
static plan classify(const ts_engine *e, const ts_queued_cmd *q, int *pos, int *nkeys)
{
    unsigned nshards = e->router->nshards;
    const ts_command *cmd = q->cmd;
    *nkeys = 0;
    switch (cmd->route) {
    case TS_ROUTE_CURSOR:
        return (plan){.kind = ITEM_SHARD,
                      .shard = q->argc > 1 ? ts_cursor_shard(q->argv[1].ptr, q->argv[1].len, nshards) : 0,
                      .exclusive = true};
    case TS_ROUTE_ALL:
        if (nshards == 1 && !cmd->always_txn) return (plan){.kind = ITEM_SHARD, .shard = e->id};
        return (plan){.kind = ITEM_MEMBER, .all_shards = true, .exclusive = true};
    case TS_ROUTE_KEYS: {
        if (cmd->script && nshards > 1)   /* G: it may reach any shard */
            return (plan){.kind = ITEM_MEMBER, .all_shards = true, .exclusive = true};
        if (cmd->wide_keys && nshards > 1 && cmd->wide_keys(q->argc, q->argv))
            return (plan){.kind = ITEM_MEMBER, .all_shards = true, .exclusive = true};
        int n = ts_command_keys(cmd, q->argc, q->argv, pos, q->argc);
        *nkeys = n;
        if (n == 0) return (plan){.kind = ITEM_COORD};
        unsigned target = ts_key_shard(q->argv[pos[0]].ptr, q->argv[pos[0]].len);
        for (int i = 1; i < n; i++)
            if (ts_key_shard(q->argv[pos[i]].ptr, q->argv[pos[i]].len) != target)
                return (plan){.kind = ITEM_MEMBER};
        return (plan){.kind = ITEM_SHARD, .shard = target, .exclusive = cmd->quiet_shard};
    }
    default:
        return (plan){.kind = ITEM_COORD};
    }
}

static int *keys_buf(int argc, int *stackbuf)
{
    return argc > KEYS_STACK ? ts_malloc(sizeof(int) * (size_t)argc) : stackbuf;
}

enum ts_tx_where ts_tx_where(ts_engine *e, const ts_tx_queue *q, int db, const ts_watch *watch)
{
    if (watch && !ts_watch_all_on(watch, e->id)) return TS_TX_TXN;
    bool busy = ts_engine_shard_busy(e);
    enum ts_tx_where where = TS_TX_HERE;
    for (int i = 0; i < q->n && where != TS_TX_TXN; i++) {
        const ts_queued_cmd *qc = &q->v[i];
        int stack[KEYS_STACK];
        int *pos = keys_buf(qc->argc, stack), nkeys;
        plan p = classify(e, qc, pos, &nkeys);
        if (p.kind == ITEM_MEMBER || (p.kind == ITEM_SHARD && p.shard != e->id)) {
            where = TS_TX_TXN;
        } else if (p.kind == ITEM_SHARD) {
            if (busy || ts_run_locked_out(e, qc->cmd, db, qc->argc, qc->argv)) where = TS_TX_WAIT;
        }
        if (pos != stack) free(pos);
        int sel = selected_db(e, qc);
        if (sel >= 0) db = sel;
    }
    return where;
}

/* ---------- AOF segments ---------- */

static const char aof_multi[] = "*1\r\n$5\r\nMULTI\r\n";
static const char aof_exec[] = "*1\r\n$4\r\nEXEC\r\n";

/* ---------- inline ---------- */

static void run_one(ts_engine *e, const ts_queued_cmd *qc, int db, const ts_tx_client *who, int64_t now_ms,
                    ts_reply *r, ts_aof_log *aof, bool *close_after)
{
    if (qc->denied) {
        ts_reply_error(r, qc->denied);
        ts_engine_count_error(e, r->last_error_code);
        return;
    }
    ts_cmd_ctx ctx;
    ts_run_ctx_init(&ctx, e, qc->cmd, db, qc->argc, qc->argv, r);
    ctx.now_ms = now_ms;
    bool conn_cmd = qc->cmd->route == TS_ROUTE_NONE || qc->cmd->route == TS_ROUTE_CONN;
    ctx.conn = conn_cmd ? who->conn : NULL;
    ctx.client_local = who->client_local;
    ctx.client_id = who->client_id;
    ctx.defer_blocked = true;
    ctx.in_exec = true;
    ctx.aof = aof;
    ts_run_command(e, &ctx);
    if (ctx.close_after_reply && close_after) *close_after = true;
}

void ts_tx_run_here(ts_cmd_ctx *x, const ts_tx_client *who, ts_tx_queue *q)
{
    ts_engine *e = x->engine;
    ts_reply *r = x->r;
    x->propagated = true;   /* EXEC's own argv is never logged */
    if (who->watch) {
        ts_watch_check_and_drop(&e->shard, e->id, who->watch, x->now_ms);
        bool dirty = ts_watch_is_dirty(who->watch);
        ts_watch_end(e, who->watch);
        if (dirty) {
            ts_reply_null_array(r);
            return;
        }
    }
    /* EXEC itself does not fail because a command inside it did (Redis
     * counts those errors on the commands). */
    uint32_t errors_before = r->errors;
    ts_reply_array(r, q->n);
    ts_aof_log *log = e->shard.aof;
    ts_aof_log cap;
    ts_aof_log_init(&cap);
    if (log) cap.db = log->db;
    int nprop = 0, db = who->db;
    for (int i = 0; i < q->n; i++) {
        size_t before = cap.buf.len;
        run_one(e, &q->v[i], db, who, x->now_ms, r, log ? &cap : NULL, &x->close_after_reply);
        if (cap.buf.len != before) nprop++;
        int sel = selected_db(e, &q->v[i]);
        if (sel >= 0) db = sel;
    }
    if (log && cap.buf.len) {
        if (nprop > 1) ts_buf_append(&log->buf, aof_multi, sizeof aof_multi - 1);
        ts_buf_append(&log->buf, cap.buf.data, cap.buf.len);
        if (nprop > 1) ts_buf_append(&log->buf, aof_exec, sizeof aof_exec - 1);
        log->db = cap.db;
    }
    ts_aof_log_free(&cap);
    r->errors = errors_before;
    if (ts_blocking_pending(&e->shard)) ts_blocking_serve(e);
}

/* ---------- the compound txn ---------- */

typedef struct tx_item {
    ts_queued_cmd q;
    int db;
    plan p;
    ts_txn *member;      /* ITEM_MEMBER: the command's own txn, driven here */
    ts_buf out;          /* its reply */
    ts_aof_log aof;      /* its effects */
} tx_item;

typedef struct tx_state {
    tx_item *items;
    int n;
    ts_tx_client who;    /* who.watch: the WATCH session, checked in phase 0 */
    int next;            /* first command not finished */
    bool early;          /* only single-shard commands and no WATCH: each part runs its share while
                            ACQUIRE passes (one hop less; strict two-phase locking holds as for MSET) */
    int round_end;       /* ITEM_SHARD round in flight: [next, round_end) */
    ts_txn *member;      /* multi-shard command in flight (items[next]) */
    int member_seq;      /* its phase 0: the part running now */
    uint64_t t0;
} tx_state;

static void run_item(ts_engine *e, ts_txn *t, tx_item *it)
{
    tx_state *st = t->state;
    ts_reply r;
    ts_reply_init(&r, &it->out, t->resp);
    run_one(e, &it->q, it->db, &st->who, t->now_ms, &r, e->shard.aof ? &it->aof : NULL, NULL);
}

static void exec_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *ctx)
{
    tx_state *st = t->state;
    ts_engine *e = ctx->engine;
    if (t->phase == 0) {
        /* Every key of the part is locked now: a watched key that expired
         * since WATCH dirties the session; its registrations go. */
        if (st->who.watch) ts_watch_check_and_drop(&e->shard, p->shard, st->who.watch, t->now_ms);
        if (st->early)
            for (int i = 0; i < st->n; i++)
                if (st->items[i].p.shard == p->shard) run_item(e, t, &st->items[i]);
        return;
    }
    if (st->member) {
        int j = ts_txn_part_of(st->member, p->shard);
        if (j >= 0) ts_txn_run_part_step(e, &st->member->parts[j]);
        return;
    }
    for (int i = st->next; i < st->round_end; i++)
        if (st->items[i].p.kind == ITEM_SHARD && st->items[i].p.shard == p->shard) run_item(e, t, &st->items[i]);
}

/* Marks the parts of the given shards active for the next STEP, the others idle. */
static void activate_none(ts_txn *t)
{
    for (int j = 0; j < t->nparts; j++) t->parts[j].idle = true;
}

static void activate(ts_txn *t, unsigned shard)
{
    int j = ts_txn_part_of(t, shard);
    TS_ASSERT(j >= 0);
    t->parts[j].idle = false;
}

static void finish_member(ts_txn *t, tx_item *it)
{
    ts_txn *m = it->member;
    ts_buf_append(&it->out, m->reply_buf.data, m->reply_buf.len);
    if (t->coord->shard.aof) ts_txn_log_into(&it->aof, m);
    if (!m->accounted) ts_run_account(t->coord, m->cmd, 0, &m->reply, 0);
}

static void tx_state_free(tx_state *st)
{
    for (int i = 0; i < st->n; i++) {
        free(st->items[i].q.argv);
        ts_buf_free(&st->items[i].out);
        ts_aof_log_free(&st->items[i].aof);
    }
    free(st->items);
    if (st->who.watch) ts_watch_unref(st->who.watch);
    free(st);
}

/* The last phase: the reply array, the AOF block, EXEC's statistics. */
static void exec_finish(ts_txn *t)
{
    tx_state *st = t->state;
    ts_reply_array(&t->reply, st->n);
    for (int i = 0; i < st->n; i++) ts_buf_append(&t->reply_buf, st->items[i].out.data, st->items[i].out.len);
    ts_aof_log *log = t->coord->shard.aof;
    if (log) {
        int nprop = 0;
        for (int i = 0; i < st->n; i++) nprop += st->items[i].aof.buf.len != 0;
        t->aof.db = log->db;
        if (nprop > 1) ts_buf_append(&t->aof.buf, aof_multi, sizeof aof_multi - 1);
        for (int i = 0; i < st->n; i++) {
            tx_item *it = &st->items[i];
            if (it->aof.buf.len == 0) continue;
            ts_aof_log_select(&t->aof, it->db);
            ts_buf_append(&t->aof.buf, it->aof.buf.data, it->aof.buf.len);
            t->aof.db = it->aof.db;
        }
        if (nprop > 1) ts_buf_append(&t->aof.buf, aof_exec, sizeof aof_exec - 1);
        t->aof_propagated = true;
    }
    ts_run_account(t->coord, t->cmd, ts_monotonic_us() - st->t0, &t->reply, t->reply.errors);
    tx_state_free(st);   /* the txn always runs to its end, even when the client left */
    t->state = NULL;
}

static int exec_after(ts_txn *t)
{
    tx_state *st = t->state;
    if (t->phase == 0 && st->who.watch && ts_watch_is_dirty(st->who.watch)) {
        /* A watched key changed: nothing runs. */
        ts_reply_null_array(&t->reply);
        ts_run_account(t->coord, t->cmd, ts_monotonic_us() - st->t0, &t->reply, t->reply.errors);
        tx_state_free(st);
        t->state = NULL;
        return -1;
    }
    if (t->phase == 0 && st->early) st->next = st->n;   /* everything ran in ACQUIRE */
    if (t->phase > 0) {
        if (st->member) {
            ts_txn *m = st->member;
            if (m->phase == 0 && st->member_seq + 1 < m->nparts) {
                st->member_seq++;
                activate_none(t);
                activate(t, m->parts[st->member_seq].shard);
                return t->phase + 1;
            }
            int next = m->ops->after(m);
            TS_ASSERT(next != TS_TXN_SUSPEND);
            if (next >= 0) {
                m->phase = next;
                activate_none(t);
                for (int j = 0; j < m->nparts; j++) activate(t, m->parts[j].shard);
                return t->phase + 1;
            }
            finish_member(t, &st->items[st->next]);
            st->member = NULL;
            st->next++;
        } else if (st->round_end > st->next) {
            st->next = st->round_end;
        }
    }
    while (st->next < st->n) {
        tx_item *it = &st->items[st->next];
        switch (it->p.kind) {
        case ITEM_COORD: {
            ts_reply r;
            ts_reply_init(&r, &it->out, t->resp);
            run_one(t->coord, &it->q, it->db, &st->who, t->now_ms, &r, t->coord->shard.aof ? &it->aof : NULL,
                    NULL);
            st->next++;
            continue;
        }
        case ITEM_MEMBER:
            if (it->q.denied) {   /* refused: its error, no protocol */
                ts_reply r;
                ts_reply_init(&r, &it->out, t->resp);
                run_one(t->coord, &it->q, it->db, &st->who, t->now_ms, &r, NULL, NULL);
                st->next++;
                continue;
            }
            st->member = it->member;
            st->member_seq = 0;
            it->member->phase = 0;
            activate_none(t);
            activate(t, it->member->parts[0].shard);
            return t->phase + 1;
        default: {
            int end = st->next;
            activate_none(t);
            while (end < st->n && st->items[end].p.kind == ITEM_SHARD) {
                if (!st->items[end].q.denied) activate(t, st->items[end].p.shard);
                end++;
            }
            st->round_end = end;
            bool any = false;
            for (int j = 0; j < t->nparts; j++) any |= !t->parts[j].idle;
            if (!any) {   /* every command of the round was refused */
                for (int i = st->next; i < end; i++) run_item(t->coord, t, &st->items[i]);
                st->next = end;
                continue;
            }
            for (int i = st->next; i < end; i++)   /* refused ones reply here */
                if (st->items[i].q.denied) run_item(t->coord, t, &st->items[i]);
            return t->phase + 1;
        }
        }
    }
    exec_finish(t);
    return -1;
}

static const ts_txn_ops exec_ops = {exec_step, exec_after};

ts_txn *ts_tx_new(ts_engine *coord, const ts_command *exec, ts_txn_done_fn *on_done, void *owner,
                  const ts_tx_client *who, ts_tx_queue *q)
{
    tx_state *st = ts_calloc(1, sizeof(*st));
    st->who = *who;
    st->n = q->n;
    st->items = ts_calloc((size_t)(q->n ? q->n : 1), sizeof(tx_item));
    st->t0 = ts_monotonic_us();
    ts_txn **members = ts_malloc(sizeof(ts_txn *) * (size_t)(q->n ? q->n : 1));
    int nmembers = 0;
    bool exclusive = false;
    int db = who->db;
    for (int i = 0; i < q->n; i++) {
        tx_item *it = &st->items[i];
        it->q = q->v[i];
        it->db = db;
        ts_buf_init(&it->out);
        ts_aof_log_init(&it->aof);
        it->aof.db = db;
        int stack[KEYS_STACK];
        int *pos = keys_buf(it->q.argc, stack), nkeys;
        it->p = classify(coord, &it->q, pos, &nkeys);
        exclusive |= it->p.exclusive;
        if (it->p.kind == ITEM_MEMBER) {
            /* Its own txn, never started: the locks of its keys, and the
             * protocol exec_after drives. */
            ts_txn *m = ts_txn_new(coord, NULL, NULL, who->client_id, it->q.cmd, db, who->resp, it->q.argc,
                                   it->q.argv, it->p.all_shards ? NULL : pos, it->p.all_shards ? 0 : nkeys);
            m->client_local = who->client_local;
            m->nested = true;
            it->member = m;
            members[nmembers++] = m;
        } else if (it->p.kind == ITEM_SHARD && nkeys > 0) {
            /* A lock holder for its keys (not driven). */
            members[nmembers++] = ts_txn_new(coord, NULL, NULL, who->client_id, it->q.cmd, db, who->resp,
                                             it->q.argc, it->q.argv, pos, nkeys);
        } else if (it->p.kind == ITEM_SHARD) {
            exclusive = true;   /* SCAN, or a ROUTE_ALL command on one shard: whole shards */
        }
        if (pos != stack) free(pos);
        int sel = selected_db(coord, &it->q);
        if (sel >= 0) db = sel;
    }
    q->n = 0;
    ts_tx_queue_clear(q);
    st->early = !who->watch && st->n > 0;
    for (int i = 0; i < st->n; i++)
        st->early &= st->items[i].p.kind == ITEM_SHARD && !st->items[i].q.denied;
    ts_watch *w = who->watch;
    if (w && w->n) {
        /* The watched keys are locked with the others (one holder per db):
         * nothing can change them between their check and the end. */
        members = ts_realloc(members, sizeof(ts_txn *) * (size_t)(nmembers + w->n));
        for (int i = 0; i < w->n; i++) {
            bool seen = false;
            for (int k = 0; k < i; k++) seen |= w->keys[k].db == w->keys[i].db;
            if (seen) continue;
            ts_arg *argv = ts_malloc(sizeof(ts_arg) * (size_t)(w->n + 1));
            int *pos = ts_malloc(sizeof(int) * (size_t)w->n);
            int argc = 1, nkeys = 0;
            argv[0] = (ts_arg){"watch", 5};
            for (int k = i; k < w->n; k++) {
                if (w->keys[k].db != w->keys[i].db) continue;
                pos[nkeys++] = argc;
                argv[argc++] = w->keys[k].key;
            }
            members[nmembers++] = ts_txn_new(coord, NULL, NULL, who->client_id, exec, w->keys[i].db, who->resp, argc,
                                             argv, pos, nkeys);
            free(argv);
            free(pos);
        }
    }
    ts_txn *t = ts_txn_compound(coord, members, nmembers, exclusive, &exec_ops);
    free(members);
    t->cmd = exec;
    t->on_done = on_done;
    t->owner = owner;
    t->client_id = who->client_id;
    t->client_local = who->client_local;
    t->db = who->db;
    t->resp = who->resp;
    t->state = st;
    t->accounted = true;   /* exec_finish accounts for EXEC */
    ts_reply_init(&t->reply, &t->reply_buf, t->resp);
    ts_aof_log_init(&t->aof);
    return t;
}
