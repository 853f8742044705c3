/*
 * txn.c - multi-shard transactions (protocol in txn.h, proof of deadlock
 * freedom in docs/architecture.md).
 *
 * Memory: a txn is allocated by the coordinator and freed when its last
 * reference goes: one reference per part (dropped when the part's shard has
 * processed RELEASE) and one for the coordinator (dropped when the reply has
 * been handed to the connection).
 */
#include "tessera/route/txn.h"

#include <string.h>

#include "tessera/route/engine.h"
#include "tessera/route/run.h"
#include "tessera/route/slot.h"

static int cmp_uint(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

ts_txn *ts_txn_new(ts_engine *coord, ts_txn_done_fn *on_done, void *owner, uint64_t client_id,
                   const ts_command *cmd, int db, int resp, int argc, const ts_arg *argv, const int *keypos,
                   int nkeys)
{
    ts_txn *t = ts_calloc(1, sizeof(*t));
    t->coord = coord;
    t->on_done = on_done;
    t->owner = owner;
    t->client_id = client_id;
    t->cmd = cmd;
    t->db = db;
    t->resp = resp;
    t->now_ms = coord->now_ms;
    t->ops = cmd->multi;
    t->mode = keypos ? TS_TXN_KEYS : cmd->txn_mode;

    t->argv = ts_args_dup(argc, argv);
    t->argc = argc;

    unsigned nworkers = coord->router->nshards;
    unsigned shards[TS_MAX_SHARDS];
    int nshards = 0;
    if (keypos) {
        unsigned *key_shard = ts_malloc(sizeof(unsigned) * (size_t)(nkeys ? nkeys : 1));
        for (int i = 0; i < nkeys; i++) {
            key_shard[i] = ts_key_shard(argv[keypos[i]].ptr, argv[keypos[i]].len);
            bool seen = false;
            for (int j = 0; j < nshards; j++) if (shards[j] == key_shard[i]) { seen = true; break; }
            if (!seen) shards[nshards++] = key_shard[i];
        }
        qsort(shards, (size_t)nshards, sizeof(unsigned), cmp_uint);
        t->nparts = nshards;
        t->parts = ts_calloc((size_t)nshards, sizeof(ts_txn_part));
        t->keybuf = ts_malloc(sizeof(int) * (size_t)(nkeys ? nkeys : 1));
        int used = 0;
        for (int j = 0; j < nshards; j++) {
            ts_txn_part *part = &t->parts[j];
            part->shard = shards[j];
            part->keys = t->keybuf + used;
            for (int i = 0; i < nkeys; i++)
                if (key_shard[i] == shards[j]) part->keys[part->nkeys++] = keypos[i];
            used += part->nkeys;
        }
        free(key_shard);
    } else {
        t->nparts = (int)nworkers;
        t->parts = ts_calloc(nworkers, sizeof(ts_txn_part));
        for (unsigned j = 0; j < nworkers; j++) t->parts[j].shard = j;
    }
    for (int j = 0; j < t->nparts; j++) {
        t->parts[j].txn = t;
        ts_buf_init(&t->parts[j].out);
    }
    ts_buf_init(&t->reply_buf);
    ts_reply_init(&t->reply, &t->reply_buf, resp);
    /* References: one per part (RELEASE) and the coordinator's. */
    atomic_init(&t->refs, t->nparts + 1);
    return t;
}

void ts_txn_free(ts_txn *t)
{
    if (t->connless) atomic_fetch_sub(&t->coord->router->connless_txns, 1);
    for (int i = 0; i < t->nmembers; i++) ts_txn_free(t->members[i]);
    free(t->members);
    for (int j = 0; j < t->nparts; j++) ts_buf_free(&t->parts[j].out);
    free(t->parts);
    free(t->keybuf);
    free(t->argv);
    ts_buf_free(&t->reply_buf);
    ts_aof_log_free(&t->aof);
    free(t);
}

void ts_txn_unref(ts_txn *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) ts_txn_free(t);
}

/* ---------- txn groups ---------- */

static void group_step(ts_txn *g, ts_txn_part *p, ts_cmd_ctx *ctx)
{
    (void)g; (void)p; (void)ctx;   /* members' steps run in run_step */
}

static int group_after(ts_txn *g)
{
    for (int i = 0; i < g->nmembers; i++) {
        ts_txn *m = g->members[i];
        int next = m->ops->after(m);
        TS_ASSERT(next < 0);   /* only single-phase commands are grouped */
        (void)next;
        ts_buf_append(&g->reply_buf, m->reply_buf.data, m->reply_buf.len);
    }
    return -1;
}

static const ts_txn_ops group_ops = {group_step, group_after};

/* A txn over the union of the members' shards (every shard when all). */
static ts_txn *txn_over_members(ts_engine *coord, ts_txn **members, int n, bool all)
{
    ts_txn *g = ts_calloc(1, sizeof(*g));
    g->coord = coord;
    g->now_ms = coord->now_ms;
    g->members = ts_malloc(sizeof(ts_txn *) * (size_t)(n ? n : 1));
    if (n) memcpy(g->members, members, sizeof(ts_txn *) * (size_t)n);
    g->nmembers = n;
    unsigned shards[TS_MAX_SHARDS];
    int nshards = 0;
    if (all) {
        for (unsigned j = 0; j < coord->router->nshards; j++) shards[nshards++] = j;
    } else {
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < members[i]->nparts; j++) {
                unsigned s = members[i]->parts[j].shard;
                bool seen = false;
                for (int k = 0; k < nshards; k++) if (shards[k] == s) { seen = true; break; }
                if (!seen) shards[nshards++] = s;
            }
        }
        qsort(shards, (size_t)nshards, sizeof(unsigned), cmp_uint);
    }
    g->nparts = nshards;
    g->parts = ts_calloc((size_t)nshards, sizeof(ts_txn_part));
    for (int j = 0; j < nshards; j++) {
        g->parts[j].txn = g;
        g->parts[j].shard = shards[j];
        ts_buf_init(&g->parts[j].out);
    }
    ts_buf_init(&g->reply_buf);
    atomic_init(&g->refs, g->nparts + 1);
    return g;
}

ts_txn *ts_txn_compound(ts_engine *coord, ts_txn **members, int n, bool exclusive, const ts_txn_ops *ops)
{
    ts_txn *t = txn_over_members(coord, members, n, exclusive);
    t->ops = ops;
    t->mode = exclusive ? TS_TXN_EXCLUSIVE : TS_TXN_KEYS;
    t->compound = true;
    return t;
}

ts_txn *ts_txn_group(ts_txn **members, int n)
{
    ts_engine *coord = members[0]->coord;
    ts_txn *g = txn_over_members(coord, members, n, false);
    g->on_done = members[0]->on_done;
    g->owner = members[0]->owner;
    g->client_id = members[0]->client_id;
    g->client_local = members[0]->client_local;
    g->cmd = members[0]->cmd;
    g->db = members[0]->db;
    g->resp = members[0]->resp;
    g->ops = &group_ops;
    g->mode = TS_TXN_KEYS;
    ts_reply_init(&g->reply, &g->reply_buf, g->resp);
    return g;
}

/* The txns whose keys a part stands for: a group's members, or itself. */
#define FOR_EACH_MEMBER(t, m) \
    for (int i_ = 0, n_ = (t)->nmembers ? (t)->nmembers : 1; i_ < n_; i_++) \
        for (ts_txn *m = (t)->nmembers ? (t)->members[i_] : (t); m; m = NULL)

/* Locks (all or nothing) the keys every member has on shard s, owned by t. */
static bool lock_part(ts_shard *s, ts_txn *t, unsigned shard)
{
    FOR_EACH_MEMBER(t, m) {
        int j = ts_txn_part_of(m, shard);
        if (j >= 0 && ts_shard_keys_blocked(s, m->db, m->argv, m->parts[j].keys, m->parts[j].nkeys, t))
            return false;
    }
    FOR_EACH_MEMBER(t, m) {
        int j = ts_txn_part_of(m, shard);
        if (j >= 0) ts_shard_lock_keys(s, t, m->db, m->argv, m->parts[j].keys, m->parts[j].nkeys);
    }
    return true;
}

static void unlock_part(ts_shard *s, ts_txn *t, unsigned shard)
{
    FOR_EACH_MEMBER(t, m) {
        int j = ts_txn_part_of(m, shard);
        if (j >= 0) ts_shard_unlock_keys(s, t, m->db, m->argv, m->parts[j].keys, m->parts[j].nkeys);
    }
}

int ts_txn_part_of(const ts_txn *t, unsigned shard)
{
    for (int j = 0; j < t->nparts; j++) if (t->parts[j].shard == shard) return j;
    return -1;
}

static void send_part(ts_engine *from, ts_txn_part *p, ts_msg_kind kind)
{
    p->msg.kind = (uint8_t)kind;
    ts_engine_send(from, ts_engine_of(from, p->shard), &p->msg);
}

void ts_txn_start(ts_txn *t)
{
    t->phase = 0;
    if (!t->on_done) {
        t->connless = true;
        atomic_fetch_add(&t->coord->router->connless_txns, 1);
    }
    t->coord->stats.txns++;
    send_part(t->coord, &t->parts[0], TS_MSG_TXN_ACQUIRE);
}

static void run_step(ts_engine *e, ts_txn_part *p)
{
    ts_txn *t = p->txn;
    if (t->nmembers && !t->compound) {
        /* A group: each member's step for this shard, in order. */
        for (int i = 0; i < t->nmembers; i++) {
            ts_txn *m = t->members[i];
            int j = ts_txn_part_of(m, p->shard);
            if (j >= 0) run_step(e, &m->parts[j]);
        }
        return;
    }
    ts_shard_assert_owner(&e->shard);
    ts_reply r;
    ts_reply_init(&r, &p->out, t->resp);
    /* A part's step logs nothing: the coordinator logs the whole command
     * (log_txn), and accounts for it once (ts_txn_on_done). */
    ts_cmd_ctx ctx;
    ts_run_ctx_init(&ctx, e, t->cmd, t->db, t->argc, t->argv, &r);
    ctx.now_ms = t->now_ms;
    ctx.aof = NULL;
    ctx.client_local = t->client_local;
    ctx.client_id = t->client_id;
    ts_run_part(e, t, p, &ctx);
}

void ts_txn_run_part_step(ts_engine *e, ts_txn_part *p) { run_step(e, p); }

/* appendfsync always: what the shard logged so far (writes its step may
 * have read) goes to the disk queue now, and the part records the sequence
 * number its reply must wait for. */
static void part_note_log(ts_engine *e, ts_txn_part *p)
{
    if (TS_LIKELY(e->shard.aof == NULL) || e->config.appendfsync != TS_AOF_FSYNC_ALWAYS) return;
    ts_engine_flush_log(e);
    if (e->aof_last_seq > p->aof_seen) p->aof_seen = e->aof_last_seq;
}

bool ts_txn_try_acquire(ts_engine *e, ts_txn_part *p)
{
    ts_txn *t = p->txn;
    ts_shard *s = &e->shard;
    switch (t->mode) {
    case TS_TXN_EXCLUSIVE:
        if (s->exclusive || s->locks.count) return false;
        s->exclusive = t;
        break;
    case TS_TXN_KEYS:
        if (!lock_part(s, t, p->shard)) return false;
        break;
    default:
        break;
    }
    run_step(e, p);
    part_note_log(e, p);
    int idx = (int)(p - t->parts);
    if (idx + 1 < t->nparts) {
        send_part(e, &t->parts[idx + 1], TS_MSG_TXN_ACQUIRE);
    } else {
        t->done_msg.kind = TS_MSG_TXN_DONE;
        ts_engine_send(e, t->coord, &t->done_msg);
    }
    return true;
}

void ts_txn_on_step(ts_engine *e, ts_txn_part *p)
{
    ts_txn *t = p->txn;
    run_step(e, p);
    part_note_log(e, p);
    if (atomic_fetch_sub_explicit(&t->pending, 1, memory_order_acq_rel) == 1) {
        t->done_msg.kind = TS_MSG_TXN_DONE;
        ts_engine_send(e, t->coord, &t->done_msg);
    }
}

void ts_txn_on_release(ts_engine *e, ts_txn_part *p)
{
    ts_txn *t = p->txn;
    ts_shard *s = &e->shard;
    if (t->mode == TS_TXN_EXCLUSIVE) {
        TS_ASSERT(s->exclusive == t);
        s->exclusive = NULL;
    } else if (t->mode == TS_TXN_KEYS) {
        unlock_part(s, t, p->shard);
    }
    ts_engine_shard_released(e);
    ts_txn_unref(t);
}

void ts_txn_log_into(ts_aof_log *log, ts_txn *m)
{
    if (m->aof_propagated) {
        if (m->aof.buf.len == 0) return;
        ts_buf_append(&log->buf, m->aof.buf.data, m->aof.buf.len);
        log->db = m->aof.db;
    } else if (!m->reply.errors && (m->cmd->flags & TS_CMD_WRITE)) {
        ts_aof_log_argv(log, m->db, m->argc, m->argv);
    }
}

/* The AOF gets the whole command (or what it propagated) from the
 * coordinator while every key is still locked: each part handed over what
 * its shard logged before it answered (ts_engine_send), and nothing logged
 * after the release can come before this (aof.h). */
static void log_txn(ts_engine *e, ts_txn *t)
{
    if (TS_LIKELY(e->shard.aof == NULL)) return;
    ts_aof_log *log = e->shard.aof;
    if (t->compound) {
        if (t->aof.buf.len) {
            ts_buf_append(&log->buf, t->aof.buf.data, t->aof.buf.len);
            log->db = t->aof.db;
        }
    } else {
        for (int i = 0, n = t->nmembers ? t->nmembers : 1; i < n; i++)
            ts_txn_log_into(log, t->nmembers ? t->members[i] : t);
    }
    ts_engine_flush_log(e);
}

/* The statistics of the txn's commands (a group's members each), once,
 * on the coordinator: the runner's accounting (run.h). */
static void account_txn(ts_engine *e, ts_txn *t)
{
    bool whole = t->compound || !t->nmembers;
    for (int i = 0, n = whole ? 1 : t->nmembers; i < n; i++) {
        ts_txn *m = whole ? t : t->members[i];
        if (!m->accounted) ts_run_account(e, m->cmd, 0, &m->reply, 0);
    }
}

void ts_txn_resume(ts_txn *t)
{
    t->done_msg.kind = TS_MSG_TXN_DONE;
    ts_engine_post(t->coord, &t->done_msg);
}

void ts_txn_on_done(ts_engine *e, ts_txn *t)
{
    int next = t->ops->after(t);
    if (next == TS_TXN_SUSPEND) return;
    if (next >= 0) {
        t->phase = next;
        int active = 0;
        for (int j = 0; j < t->nparts; j++) active += !t->parts[j].idle;
        TS_ASSERT(active > 0);
        atomic_store_explicit(&t->pending, active, memory_order_relaxed);
        for (int j = 0; j < t->nparts; j++)
            if (!t->parts[j].idle) send_part(e, &t->parts[j], TS_MSG_TXN_STEP);
        return;
    }
    log_txn(e, t);
    for (int j = 0; j < t->nparts; j++) send_part(e, &t->parts[j], TS_MSG_TXN_RELEASE);
    if (t->on_done) {
        /* (The server's own txns, a `save` rule's BGSAVE, are no client's
         * command: not in the statistics.) */
        account_txn(e, t);
        t->on_done(t);
    }
    ts_txn_unref(t);
}
