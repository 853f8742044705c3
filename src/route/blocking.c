/*
 * blocking.c - blockers and their service (blocking.h has the protocol;
 * store/blocked_keys.h keeps each shard's waiters per key).
 *
 * Thread: registration and service run on the shard's owner; a blocker's
 * state and refcount are atomics because the origin and several shards
 * race to end it; everything else in a blocker has one writer at a time,
 * handed over by messages.
 */
#include "tessera/route/blocking.h"

#include <stdio.h>
#include <string.h>

#include "tessera/route/engine.h"
#include "tessera/route/run.h"
#include "tessera/route/slot.h"
#include "tessera/store/blocked_keys.h"
#include "tessera/store/db.h"
#include "tessera/types/t_stream.h"

/* ---------- blockers ---------- */

ts_blocker *ts_blocker_new(ts_engine *origin, struct ts_conn *conn, const ts_command *cmd, int db, int resp, int argc,
                           const ts_arg *argv)
{
    ts_blocker *b = ts_calloc(1, sizeof(*b));
    b->argv = ts_args_dup(argc, argv);
    atomic_init(&b->state, TS_BLOCK_WAITING);
    atomic_init(&b->refs, 1);
    b->origin = origin;
    b->conn = conn;
    b->cmd = cmd;
    b->db = db;
    b->resp = resp;
    b->argc = argc;
    ts_buf_init(&b->reply);
    return b;
}

void ts_blocker_unref(ts_blocker *b)
{
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1) return;
    ts_buf_free(&b->reply);
    for (int i = 0; i < b->n_own_args; i++) free(b->own_args[i]);
    free(b->own_args);
    free(b->argv);
    free(b);
}

static bool is_move(const ts_command *cmd);

/* The keys b waits on (BLMOVE waits on its source only; its destination
 * is locked by the attempt but never watched). */
static int wait_keys(const ts_blocker *b, int *pos, int max)
{
    if (is_move(b->cmd)) {
        pos[0] = 1;
        return 1;
    }
    return ts_command_keys(b->cmd, b->argc, b->argv, pos, max);
}

void ts_blocker_set_arg(ts_blocker *b, int pos, const char *p, size_t len)
{
    char *copy = ts_strndup(p, len);
    b->own_args = ts_realloc(b->own_args, sizeof(char *) * (size_t)(b->n_own_args + 1));
    b->own_args[b->n_own_args++] = copy;
    b->argv[pos].ptr = copy;
    b->argv[pos].len = len;
}

/* The shards holding b's keys, each once. Returns the count. */
static int blocker_shards(const ts_blocker *b, unsigned *out, int max)
{
    int pos[64];
    int nk = wait_keys(b, pos, (int)TS_ARRAY_LEN(pos));
    int n = 0;
    for (int i = 0; i < nk; i++) {
        unsigned s = ts_key_shard(b->argv[pos[i]].ptr, b->argv[pos[i]].len);
        bool seen = false;
        for (int j = 0; j < n; j++) seen |= out[j] == s;
        if (!seen && n < max) out[n++] = s;
    }
    return n;
}

void ts_blocker_finish(ts_blocker *b)
{
    if (b->blocked) {
        unsigned shards[64];
        int n = blocker_shards(b, shards, (int)TS_ARRAY_LEN(shards));
        for (int i = 0; i < n; i++) {
            ts_msg_unblock *m = ts_malloc(sizeof(*m));
            m->msg.kind = TS_MSG_BLOCK_UNREG;
            m->b = b;
            atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
            ts_engine_send(b->origin, ts_engine_of(b->origin, shards[i]), &m->msg);
        }
    }
    ts_blocker_unref(b);
}

static bool is_move(const ts_command *cmd)
{
    return strcmp(cmd->name, "blmove") == 0 || strcmp(cmd->name, "brpoplpush") == 0;
}

/* Redis 7.0 answers every timed-out list/zset/stream wait with a null
 * array, BLMOVE included. */
void ts_blocker_reply_timeout(const ts_blocker *b, ts_reply *r)
{
    (void)b;
    ts_reply_null_array(r);
}

void ts_cmd_block(ts_cmd_ctx *c, int64_t timeout_ms)
{
    ts_blocker *b = c->blocker;
    if (!b) {
        ts_reply_null_array(c->r);
        return;
    }
    b->blocked = true;
    b->deadline_ms = timeout_ms > 0 ? c->now_ms + timeout_ms : 0;
}

bool ts_cmd_key_wanted(const ts_cmd_ctx *c, int pos)
{
    if (!c->serve_key) return true;
    ts_arg k = c->argv[pos];
    return k.len == c->serve_key->len && memcmp(k.ptr, c->serve_key->ptr, k.len) == 0;
}

/* ---------- registration ---------- */

static void release_waiter(void *waiter) { ts_blocker_unref(waiter); }

/* b's key positions whose keys live on shard s. */
static int keys_here(const ts_shard *s, const ts_blocker *b, int *pos, int max)
{
    int all[64];
    int nk = wait_keys(b, all, (int)TS_ARRAY_LEN(all));
    int n = 0;
    for (int i = 0; i < nk && n < max; i++)
        if (ts_key_shard(b->argv[all[i]].ptr, b->argv[all[i]].len) == s->id) pos[n++] = all[i];
    return n;
}

void ts_blocking_register(ts_shard *s, ts_blocker *b)
{
    int pos[64];
    int n = keys_here(s, b, pos, (int)TS_ARRAY_LEN(pos));
    for (int i = 0; i < n; i++)
        if (ts_waits_add(s, b->db, b->argv[pos[i]], b, release_waiter))
            atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void ts_blocking_unregister(ts_shard *s, ts_blocker *b)
{
    int pos[64];
    int n = keys_here(s, b, pos, (int)TS_ARRAY_LEN(pos));
    for (int i = 0; i < n; i++) ts_waits_remove(s, b->db, b->argv[pos[i]], b);
}

/* ---------- serving ---------- */

/* The type a blocking command pops from (XREAD/XREADGROUP read). */
static int wanted_type(const ts_command *cmd)
{
    if (cmd->name[0] == 'x') return TS_TYPE_STREAM;
    return cmd->name[1] == 'z' ? TS_TYPE_ZSET : TS_TYPE_LIST;
}

/* True when key can serve b now. */
static bool key_can_serve(ts_engine *e, const ts_blocker *b, ts_arg key)
{
    ts_entry *ent = ts_db_lookup_in(&e->shard, b->db, key, e->now_ms);
    int want = wanted_type(b->cmd);
    if (want == TS_TYPE_STREAM) {
        bool is_stream = ent && ts_entry_type(ent) == TS_TYPE_STREAM;
        return ts_stream_blocked_ready(is_stream ? ts_entry_obj(ent) : NULL, is_stream, b->argc, b->argv, key);
    }
    return ent && ts_entry_type(ent) == want;
}

/* True when b's keys on this shard are free of txn locks. */
static bool keys_free(ts_shard *s, const ts_blocker *b)
{
    if (s->exclusive) return false;
    if (s->locks.count == 0) return true;
    int pos[64];
    int n = keys_here(s, b, pos, (int)TS_ARRAY_LEN(pos));
    return !ts_shard_keys_blocked(s, b->db, b->argv, pos, n, NULL);
}

/* BLMOVE src dst with dst on another shard cannot run here. */
static bool needs_origin(const ts_shard *s, const ts_blocker *b)
{
    if (!is_move(b->cmd)) return false;
    return ts_key_shard(b->argv[2].ptr, b->argv[2].len) != s->id;
}

/* Serves l's blockers while the key can. False when it had to stop because
 * a lock is in the way (the key stays ready for the release). */
static bool serve_key(ts_engine *e, ts_waitlist *l, ts_arg key)
{
    ts_shard *s = &e->shard;
    /* Pops serve the head while the key can; a stream serves every waiter
     * whose own id it has passed, so a waiter that cannot be served yet
     * is skipped, not a stop. */
    uint32_t i = 0;
    while (i < l->n) {
        ts_blocker *b = l->v[i];
        if (atomic_load_explicit(&b->state, memory_order_acquire) != TS_BLOCK_WAITING) {
            ts_waitlist_remove(s, l, i);
            continue;
        }
        if (!keys_free(s, b)) return false;
        if (!key_can_serve(e, b, key)) {
            if (wanted_type(b->cmd) != TS_TYPE_STREAM) return true;
            i++;
            continue;
        }
        int expect = TS_BLOCK_WAITING;
        if (!atomic_compare_exchange_strong(&b->state, &expect, TS_BLOCK_SERVED)) {
            ts_waitlist_remove(s, l, i);
            continue;
        }
        if (needs_origin(s, b)) {
            b->retry = true;
        } else {
            /* The command on this key alone, through the runner (a blocking
             * command always propagates its pop itself: persist/aof.h). */
            ts_reply r;
            ts_reply_init(&r, &b->reply, b->resp);
            ts_cmd_ctx ctx;
            ts_run_ctx_init(&ctx, e, b->cmd, b->db, b->argc, b->argv, &r);
            ctx.serve_key = &key;
            ts_run_command(e, &ctx);
        }
        b->msg.kind = TS_MSG_BLOCK_DONE;
        ts_engine_send(e, b->origin, &b->msg);
        ts_waitlist_remove(s, l, i);
    }
    return true;
}

void ts_blocking_serve(ts_engine *e)
{
    ts_shard *s = &e->shard;
    if (s->serving || s->nready == 0) return;
    s->serving = true;
    size_t i = 0;
    /* Serving may signal more keys (BLMOVE's destination): the loop sees
     * them as nready grows. */
    while (i < s->nready) {
        ts_ready_key rk = s->ready[i];
        ts_entry *ent;
        ts_waitlist *l = ts_waits_find(s, rk.k, rk.len, &ent);
        bool finished = true;
        if (l) {
            ts_arg key = {rk.k + 4, rk.len - 4};
            finished = serve_key(e, l, key);
            if (finished) {
                l->queued = false;
                ts_waits_drop_if_empty(s, ent, l);
            }
        }
        if (finished) {
            free(rk.k);
            s->ready[i] = s->ready[--s->nready];
        } else {
            i++;
        }
    }
    s->serving = false;
}
