/*
 * blocking.c - blockers and the shard's registry of clients blocked on its
 * keys (blocking.h has the protocol).
 *
 * Owns: per shard, a table from (db, key) to the FIFO of blockers waiting
 * on it, and the list of keys signalled ready since the last serve.
 * Thread: registry functions run on the shard's owner; a blocker's state
 * and refcount are atomics because the origin and several shards race to
 * end it; everything else in a blocker has one writer at a time, handed
 * over by messages.
 *
 * Why a table keyed by db + key: a signal (every LPUSH, ZADD, ...) must cost
 * nothing when nobody waits (one counter test) and one lookup when someone
 * might; FIFO per key is what makes serving fair.
 */
#include "tessera/store/blocking.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tessera/net/conn.h"
#include "tessera/store/db.h"
#include "tessera/route/slot.h"
#include "tessera/types/t_stream.h"
#include "tessera/net/worker.h"
#include "tessera/util/clock.h"

typedef struct ts_ready_key {
    char *k;       /* 4-byte db + key */
    size_t len;
} ts_ready_key;

typedef struct waitlist {
    ts_blocker **v;
    uint32_t n, cap;
    bool queued;   /* in the ready list */
} waitlist;

/* ---------- blockers ---------- */

ts_blocker *ts_blocker_new(ts_worker *origin, ts_conn *conn, const ts_command *cmd, int db, int resp, int argc,
                           const ts_arg *argv)
{
    size_t bytes = 0;
    for (int i = 0; i < argc; i++) bytes += argv[i].len;
    ts_blocker *b = ts_calloc(1, sizeof(*b));
    b->argv = ts_malloc(sizeof(ts_arg) * (size_t)argc + bytes + 1);
    char *p = (char *)(b->argv + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].ptr, argv[i].len);
        b->argv[i].ptr = p;
        b->argv[i].len = argv[i].len;
        p += argv[i].len;
    }
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
            ts_worker_send(b->origin, ts_worker_of(b->origin->srv, shards[i]), &m->msg);
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

const char *ts_parse_block_timeout(ts_arg a, bool seconds, int64_t *ms)
{
    long double v;
    if (seconds) {
        if (!ts_arg_to_long_double(a, &v) || isnan(v)) return "ERR timeout is not a float or out of range";
        /* Redis 7.0 truncates seconds * 1000 to an integer (0.0001 is 0:
         * forever), and a value too big for it comes out negative (x86's
         * out-of-range conversion), hence "negative" for 1e300. */
        v *= 1000.0L;
        if (!(v < 9223372036854775808.0L) || v <= -9223372036854775808.0L) return "ERR timeout is negative";
        v = truncl(v);
    } else {
        long long ll;
        if (!ts_arg_to_ll(a, &ll)) return "ERR timeout is not an integer or out of range";
        v = (long double)ll;
    }
    if (v < 0) return "ERR timeout is negative";
    *ms = (int64_t)v;
    if (*ms > INT64_MAX - ts_mstime()) return "ERR timeout is out of range";
    return NULL;
}

bool ts_cmd_key_wanted(const ts_cmd_ctx *c, int pos)
{
    if (!c->serve_key) return true;
    ts_arg k = c->argv[pos];
    return k.len == c->serve_key->len && memcmp(k.ptr, c->serve_key->ptr, k.len) == 0;
}

/* ---------- the registry ---------- */

static void waitlist_free(const ts_value *v)
{
    waitlist *l = v->ptr;
    for (uint32_t i = 0; i < l->n; i++) ts_blocker_unref(l->v[i]);
    free(l->v);
    free(l);
}

/* db + key, the registry's key. buf must hold 4 + len bytes; returns buf
 * or a malloc'd buffer when it does not. */
static char *reg_key(int db, ts_arg key, char *buf, size_t buflen, size_t *out_len)
{
    *out_len = 4 + key.len;
    char *k = *out_len <= buflen ? buf : ts_malloc(*out_len);
    uint32_t d = (uint32_t)db;
    memcpy(k, &d, 4);
    memcpy(k + 4, key.ptr, key.len);
    return k;
}

static waitlist *reg_find(ts_shard *s, const char *k, size_t len, ts_entry **ep)
{
    if (!s->block_reg) return NULL;
    ts_entry *e = ts_table_find(s->block_reg, k, len);
    if (ep) *ep = e;
    return e ? ts_entry_obj(e) : NULL;
}

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
    if (!s->block_reg) {
        s->block_reg = ts_malloc(sizeof(ts_table));
        ts_table_init(s->block_reg, waitlist_free);
    }
    int pos[64];
    int n = keys_here(s, b, pos, (int)TS_ARRAY_LEN(pos));
    for (int i = 0; i < n; i++) {
        char buf[128];
        size_t len;
        char *k = reg_key(b->db, b->argv[pos[i]], buf, sizeof buf, &len);
        waitlist *l = reg_find(s, k, len, NULL);
        if (!l) {
            l = ts_calloc(1, sizeof(*l));
            ts_value v = {.type = TS_TYPE_LIST, .enc = TS_ENC_QUICKLIST, .form = TS_FORM_PTR};
            v.ptr = l;
            ts_table_set(s->block_reg, k, len, &v, -1, false);
            s->blocked_keys++;
        }
        bool dup = false;   /* BLPOP k k: one registration */
        for (uint32_t j = 0; j < l->n; j++) dup |= l->v[j] == b;
        if (!dup) {
            if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 4;
                l->v = ts_realloc(l->v, sizeof(*l->v) * l->cap);
            }
            l->v[l->n++] = b;
            atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
        }
        if (k != buf) free(k);
    }
}

/* Removes entry i of l (keeping FIFO order) and drops its reference. */
static void waitlist_remove(waitlist *l, uint32_t i)
{
    ts_blocker *b = l->v[i];
    memmove(&l->v[i], &l->v[i + 1], sizeof(*l->v) * (l->n - i - 1));
    l->n--;
    ts_blocker_unref(b);
}

static void reg_drop_if_empty(ts_shard *s, ts_entry *e, waitlist *l)
{
    if (l->n || l->queued) return;
    ts_table_delete_entry(s->block_reg, e);
    s->blocked_keys--;
}

void ts_blocking_unregister(ts_shard *s, ts_blocker *b)
{
    int pos[64];
    int n = keys_here(s, b, pos, (int)TS_ARRAY_LEN(pos));
    for (int i = 0; i < n; i++) {
        char buf[128];
        size_t len;
        char *k = reg_key(b->db, b->argv[pos[i]], buf, sizeof buf, &len);
        ts_entry *e;
        waitlist *l = reg_find(s, k, len, &e);
        if (l) {
            for (uint32_t j = 0; j < l->n; j++) {
                if (l->v[j] == b) { waitlist_remove(l, j); break; }
            }
            reg_drop_if_empty(s, e, l);
        }
        if (k != buf) free(k);
    }
}

/* Queues l (registry key k) as ready; takes k when owned, else copies. */
static void ready_push(ts_shard *s, waitlist *l, char *k, size_t len, bool owned)
{
    l->queued = true;
    if (s->nready == s->ready_cap) {
        s->ready_cap = s->ready_cap ? s->ready_cap * 2 : 8;
        s->ready = ts_realloc(s->ready, sizeof(*s->ready) * s->ready_cap);
    }
    s->ready[s->nready].k = owned ? k : ts_strndup(k, len);
    s->ready[s->nready].len = len;
    s->nready++;
}

void ts_db_signal_ready(ts_exec *x, ts_arg key) { ts_db_signal_ready_in(x->shard, x->db, key, TS_TYPE_LIST); }

void ts_db_signal_ready_in(ts_shard *s, int db, ts_arg key, int type)
{
    if (TS_LIKELY(s->blocked_keys == 0)) return;
    if (type != TS_TYPE_LIST && type != TS_TYPE_ZSET && type != TS_TYPE_STREAM) return;
    char buf[128];
    size_t len;
    char *k = reg_key(db, key, buf, sizeof buf, &len);
    waitlist *l = reg_find(s, k, len, NULL);
    if (l && !l->queued) {
        ready_push(s, l, k, len, k != buf);
        return;
    }
    if (k != buf) free(k);
}

typedef struct signal_db_ctx {
    ts_shard *s;
    uint32_t db;
} signal_db_ctx;

static void signal_db_cb(void *ctx, ts_entry *e)
{
    signal_db_ctx *x = ctx;
    size_t len;
    const char *k = ts_entry_key(e, &len);
    uint32_t db;
    memcpy(&db, k, 4);
    waitlist *l = ts_entry_obj(e);
    if (db == x->db && !l->queued) ready_push(x->s, l, (char *)k, len, false);
}

void ts_blocking_signal_db(ts_shard *s, int db)
{
    if (TS_LIKELY(s->blocked_keys == 0) || !s->block_reg) return;
    signal_db_ctx x = {s, (uint32_t)db};
    uint64_t cur = 0;
    do {
        cur = ts_table_scan(s->block_reg, cur, 64, signal_db_cb, &x);
    } while (cur);
}

/* ---------- serving ---------- */

/* The type a blocking command pops from (XREAD/XREADGROUP read). */
static int wanted_type(const ts_command *cmd)
{
    if (cmd->name[0] == 'x') return TS_TYPE_STREAM;
    return cmd->name[1] == 'z' ? TS_TYPE_ZSET : TS_TYPE_LIST;
}

/* True when key can serve b now. */
static bool key_can_serve(ts_worker *w, const ts_blocker *b, ts_arg key)
{
    ts_entry *e = ts_db_lookup_in(&w->shard, b->db, key, w->now_ms);
    int want = wanted_type(b->cmd);
    if (want == TS_TYPE_STREAM) {
        bool is_stream = e && ts_entry_type(e) == TS_TYPE_STREAM;
        return ts_stream_blocked_ready(is_stream ? ts_entry_obj(e) : NULL, is_stream, b->argc, b->argv, key);
    }
    return e && ts_entry_type(e) == want;
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
static bool serve_key(ts_worker *w, waitlist *l, ts_arg key)
{
    ts_shard *s = &w->shard;
    /* Pops serve the head while the key can; a stream serves every waiter
     * whose own id it has passed, so a waiter that cannot be served yet
     * is skipped, not a stop. */
    uint32_t i = 0;
    while (i < l->n) {
        ts_blocker *b = l->v[i];
        if (atomic_load_explicit(&b->state, memory_order_acquire) != TS_BLOCK_WAITING) {
            waitlist_remove(l, i);
            continue;
        }
        if (!keys_free(s, b)) return false;
        if (!key_can_serve(w, b, key)) {
            if (wanted_type(b->cmd) != TS_TYPE_STREAM) return true;
            i++;
            continue;
        }
        int expect = TS_BLOCK_WAITING;
        if (!atomic_compare_exchange_strong(&b->state, &expect, TS_BLOCK_SERVED)) {
            waitlist_remove(l, i);
            continue;
        }
        if (needs_origin(s, b)) {
            b->retry = true;
        } else {
            ts_reply r;
            ts_reply_init(&r, &b->reply, b->resp);
            ts_cmd_ctx ctx = {
                .shard = s, .config = &w->config, .worker = w, .conn = NULL, .cmd = b->cmd, .db = b->db, .argc = b->argc,
                .argv = b->argv, .r = &r, .now_ms = w->now_ms, .serve_key = &key, .aof = s->aof,
            };
            b->cmd->run(&ctx);   /* a blocking command always propagates its pop itself (aof.h) */
            b->errors = r.errors;
            memcpy(b->last_error_code, r.last_error_code, sizeof b->last_error_code);
            w->cmd_stats[b->cmd->id].calls++;
            w->stats.commands_processed++;
            if (r.errors == 0) ts_worker_count_dirty(w);
        }
        b->msg.kind = TS_MSG_BLOCK_DONE;
        ts_worker_send(w, b->origin, &b->msg);
        waitlist_remove(l, i);
    }
    return true;
}

void ts_blocking_serve(ts_worker *w)
{
    ts_shard *s = &w->shard;
    if (s->serving || s->nready == 0) return;
    s->serving = true;
    size_t i = 0;
    /* Serving may signal more keys (BLMOVE's destination): the loop sees
     * them as nready grows. */
    while (i < s->nready) {
        ts_ready_key rk = s->ready[i];
        ts_entry *e;
        waitlist *l = reg_find(s, rk.k, rk.len, &e);
        bool finished = true;
        if (l) {
            uint32_t db;
            memcpy(&db, rk.k, 4);
            ts_arg key = {rk.k + 4, rk.len - 4};
            (void)db;
            finished = serve_key(w, l, key);
            if (finished) {
                l->queued = false;
                reg_drop_if_empty(s, e, l);
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

void ts_blocking_free(ts_shard *s)
{
    for (size_t i = 0; i < s->nready; i++) free(s->ready[i].k);
    free(s->ready);
    s->ready = NULL;
    s->nready = s->ready_cap = 0;
    if (s->block_reg) {
        ts_table_clear(s->block_reg);
        free(s->block_reg);
        s->block_reg = NULL;
    }
    s->blocked_keys = 0;
}
