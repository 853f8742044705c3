/*
 * multi_keys.c - the keyspace commands that may involve several shards, as
 * multi-shard operations (txn.h): DEL/UNLINK, EXISTS/TOUCH, RENAME/RENAMENX,
 * COPY (keys on several shards) and KEYS, RANDOMKEY, DBSIZE, FLUSHDB/
 * FLUSHALL, SWAPDB (every shard).
 *
 * Owns: nothing beyond one command; a value moving between shards (RENAME,
 * COPY) is owned by the txn part that carries it until it is installed or
 * freed.
 *
 * Threads: step() runs on the thread owning the part's shard, with that
 * shard held by the txn, and touches only that shard; after() runs on the
 * coordinator and reads only the parts' results.
 *
 * Why this shape: these ops are the single implementation of the commands.
 * When all keys are on one shard (or the server has one shard) keys.c runs
 * the same ops as a one-part txn inline, so the local and the cross-shard
 * paths cannot disagree. Argument errors are decided by every part from argv
 * alone (each part does no work on a bad call) and after() replies with
 * part 0's verdict, so no shard needs another's configuration.
 *
 * RENAME/RENAMENX/COPY across shards. Parts come in ascending shard order,
 * not argument order, so when phase 0 runs on one shard the other's state
 * is unknown. The source value is therefore taken in phase 0 only when no
 * later finding can cancel the command: RENAME (the destination is always
 * overwritten) and COPY (taking is a copy; discarding it changes nothing).
 * RENAMENX only looks in phase 0; if after() sees the destination free it
 * detaches the source in phase 1. The destination installs in phase 2. So
 * "no such key", RENAMENX -> 0 and COPY -> 0 leave both shards untouched.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "cmds.h"
#include "tessera/route/blocking.h"
#include "tessera/store/db.h"
#include "tessera/store/lazyfree.h"
#include "tessera/store/watched_keys.h"
#include "tessera/types/object.h"
#include "tessera/util/glob.h"
#include "tessera/cmd/server.h"
#include "tessera/util/clock.h"

/* ---------- shared helpers ---------- */

/* Argument verdicts; every part of a txn computes the same one. */
enum arg_verdict {
    ARG_OK,
    ARG_SYNTAX,
    ARG_NOT_INT,
    ARG_INT_RANGE,
    ARG_DB_RANGE,
    ARG_SAME_OBJECT,
    ARG_BAD_FIRST_DB,
    ARG_BAD_SECOND_DB,
};

static const char *const verdict_msg[] = {
    [ARG_OK] = NULL,
    [ARG_SYNTAX] = TS_ERR_SYNTAX,
    [ARG_NOT_INT] = TS_ERR_NOT_INT,
    [ARG_INT_RANGE] = "ERR value is out of range, value must between -2147483648 and 2147483647",
    [ARG_DB_RANGE] = TS_ERR_DB_INDEX,
    [ARG_SAME_OBJECT] = "ERR source and destination objects are the same",
    [ARG_BAD_FIRST_DB] = "ERR invalid first DB index",
    [ARG_BAD_SECOND_DB] = "ERR invalid second DB index",
};

/* Replies part 0's argument verdict; true if it was an error. */
static bool reply_verdict(ts_txn *t)
{
    long long v = t->parts[0].i64;
    if (v == ARG_OK) return false;
    ts_reply_error(&t->reply, verdict_msg[v]);
    return true;
}

/* Parses an int like Redis's getIntFromObjectOrReply, with its two errors. */
static enum arg_verdict arg_to_int(ts_arg a, int *out)
{
    long long v;
    if (!ts_arg_to_ll(a, &v)) return ARG_NOT_INT;
    if (v < INT_MIN || v > INT_MAX) return ARG_INT_RANGE;
    *out = (int)v;
    return ARG_OK;
}

static bool part_has_pos(const ts_txn_part *p, int pos)
{
    for (int k = 0; k < p->nkeys; k++)
        if (p->keys[k] == pos) return true;
    return false;
}

static ts_txn_part *part_with_pos(ts_txn *t, int pos)
{
    for (int j = 0; j < t->nparts; j++)
        if (part_has_pos(&t->parts[j], pos)) return &t->parts[j];
    return NULL;
}

/* Sums every part's n into an integer reply (DEL, EXISTS, DBSIZE). */
static int after_sum(ts_txn *t)
{
    long long sum = 0;
    for (int j = 0; j < t->nparts; j++) sum += t->parts[j].n;
    ts_reply_int(&t->reply, sum);
    return -1;
}


/* ---------- DEL / UNLINK ---------- */

static void del_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *c)
{
    long long n = 0;
    for (int k = 0; k < p->nkeys; k++) {
        ts_arg key = t->argv[p->keys[k]];
        if (!ts_db_delete(&c->ex, key)) continue;   /* DEL missing: no signal */
        ts_db_signal_modified(&c->ex, key);
        n++;
    }
    p->n = n;
}

const ts_txn_ops ts_multi_del = {.step = del_step, .after = after_sum};

/* ---------- EXISTS / TOUCH ---------- */

static void exists_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *c)
{
    bool touch = strcmp(t->cmd->name, "touch") == 0;
    long long n = 0;
    for (int k = 0; k < p->nkeys; k++) {
        ts_arg key = t->argv[p->keys[k]];
        n += (touch ? ts_db_lookup_read(&c->ex, key) : ts_db_lookup_notouch(&c->ex, key)) != NULL;
    }
    p->n = n;
}

const ts_txn_ops ts_multi_exists = {.step = exists_step, .after = after_sum};

/* ---------- DBSIZE ---------- */

static void dbsize_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *c)
{
    (void)t;
    p->n = (long long)ts_table_size(ts_db_table(&c->ex));
}

const ts_txn_ops ts_multi_dbsize = {.step = dbsize_step, .after = after_sum};

/* ---------- KEYS ---------- */

typedef struct keys_scan {
    ts_arg pattern;
    bool all;           /* pattern "*": no matching needed */
    int64_t now_ms;
    ts_reply *r;
    long long n;
} keys_scan;

/* Like Redis, KEYS skips expired keys without deleting them. */
static void keys_cb(void *ctx, ts_entry *e)
{
    keys_scan *x = ctx;
    size_t klen;
    const char *k = ts_entry_key(e, &klen);
    if (!x->all && !ts_glob_match(x->pattern.ptr, x->pattern.len, k, klen, false)) return;
    if (ts_entry_expired(e, x->now_ms)) return;
    ts_reply_bulk(x->r, k, klen);
    x->n++;
}

/* Writes this shard's matching keys as bulk strings; the count in p->n. */
static void keys_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *c)
{
    keys_scan x = {.pattern = t->argv[1], .now_ms = c->now_ms, .r = c->r};
    x.all = x.pattern.len == 1 && x.pattern.ptr[0] == '*';
    ts_table *tab = ts_db_table(&c->ex);
    uint64_t cursor = 0;
    do {
        cursor = ts_table_scan(tab, cursor, 1024, keys_cb, &x);
    } while (cursor != 0);
    p->n = x.n;
}

static int keys_after(ts_txn *t)
{
    long long total = 0;
    for (int j = 0; j < t->nparts; j++) total += t->parts[j].n;
    ts_reply_array(&t->reply, total);
    for (int j = 0; j < t->nparts; j++) {
        const ts_buf *out = &t->parts[j].out;
        if (out->len) ts_reply_raw(&t->reply, out->data, out->len);   /* data is NULL when empty */
    }
    return -1;
}

const ts_txn_ops ts_multi_keys = {.step = keys_step, .after = keys_after};

/* ---------- RANDOMKEY ---------- */

/* Each shard reports its live size and one random live key (raw bytes in
 * p->out); after() picks a shard with probability size/total, so every key
 * is about as likely as in one big table. Expired keys met on the way are
 * deleted, as Redis does. */
static void randomkey_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *c)
{
    (void)t;
    ts_table *tab = ts_db_table(&c->ex);
    ts_entry *e;
    while ((e = ts_table_random(tab)) != NULL) {
        size_t klen;
        const char *k = ts_entry_key(e, &klen);
        ts_arg key = {k, klen};
        if (ts_db_lookup_in(c->shard, c->db, key, c->now_ms)) {
            ts_buf_append(&p->out, k, klen);
            break;
        }
    }
    p->n = (long long)ts_table_size(tab);
}

/* Coordinator-side generator (splitmix64); only used to choose a shard. */
static uint64_t coord_random(void)
{
    static _Thread_local uint64_t state;
    if (state == 0) state = ts_monotonic_us() ^ (uint64_t)(uintptr_t)&state;
    uint64_t z = (state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static int randomkey_after(ts_txn *t)
{
    uint64_t total = 0;
    for (int j = 0; j < t->nparts; j++) total += (uint64_t)t->parts[j].n;
    if (total == 0) {
        ts_reply_null(&t->reply);
        return -1;
    }
    uint64_t pick = coord_random() % total;
    for (int j = 0; j < t->nparts; j++) {
        ts_txn_part *p = &t->parts[j];
        if (pick < (uint64_t)p->n) {
            ts_reply_bulk(&t->reply, p->out.data, p->out.len);
            return -1;
        }
        pick -= (uint64_t)p->n;
    }
    ts_panic("randomkey: pick beyond total");
}

const ts_txn_ops ts_multi_randomkey = {.step = randomkey_step, .after = randomkey_after};

/* ---------- FLUSHDB / FLUSHALL [ASYNC|SYNC] ---------- */

/* ASYNC hands the old tables to the lazy-free thread (the keyspace is
 * empty at once, the memory comes back in the background); SYNC and the
 * default free them here. */
static void flush_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *c)
{
    bool async = t->argc == 2 && ts_arg_eq(t->argv[1], "async");
    bool ok = t->argc == 1 || async || (t->argc == 2 && ts_arg_eq(t->argv[1], "sync"));
    p->i64 = ok ? ARG_OK : ARG_SYNTAX;
    if (!ok) return;
    bool all = strcmp(t->cmd->name, "flushall") == 0;
    ts_table *first = all ? c->shard->dbs : ts_db_table(&c->ex);
    int n = all ? c->shard->ndb : 1;
    /* signalFlushedDb: WATCHed keys are touched while still there. */
    for (int db = all ? 0 : c->db; db < (all ? n : c->db + 1); db++)
        ts_db_signal_flushed(c->shard, db, -1, c->now_ms);
    if (async) {
        ts_lazyfree_tables(first, n);
    } else {
        for (int db = 0; db < n; db++) ts_table_clear(&first[db]);
    }
    for (int db = all ? 0 : c->db; db < (all ? n : c->db + 1); db++) ts_blocking_signal_db(c->shard, db);
}

static int flush_after(ts_txn *t)
{
    if (!reply_verdict(t)) ts_reply_ok(&t->reply);
    return -1;
}

const ts_txn_ops ts_multi_flush = {.step = flush_step, .after = flush_after};

/* ---------- SWAPDB ---------- */

static enum arg_verdict swapdb_args(ts_txn *t, int ndb, int *a, int *b)
{
    if (arg_to_int(t->argv[1], a) != ARG_OK) return ARG_BAD_FIRST_DB;
    if (arg_to_int(t->argv[2], b) != ARG_OK) return ARG_BAD_SECOND_DB;
    if (*a < 0 || *a >= ndb || *b < 0 || *b >= ndb) return ARG_DB_RANGE;
    return ARG_OK;
}

static void swapdb_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *c)
{
    int a, b;
    ts_shard *s = c->shard;
    p->i64 = swapdb_args(t, s->ndb, &a, &b);
    if (p->i64 != ARG_OK || a == b) return;
    /* dbSwapDatabases: WATCHed keys of either database, before the swap. */
    ts_db_signal_flushed(s, a, b, c->now_ms);
    ts_db_signal_flushed(s, b, a, c->now_ms);
    /* A snapshot in progress writes both databases' pending keys under
     * their current numbers before they trade places. */
    ts_table_snapshot_drain(&s->dbs[a]);
    ts_table_snapshot_drain(&s->dbs[b]);
    ts_table tmp = s->dbs[a];
    s->dbs[a] = s->dbs[b];
    s->dbs[b] = tmp;
    /* The active-expiry position belongs to the table, so it moves with it. */
    int ncur = (int)TS_ARRAY_LEN(s->expire_cursor);
    uint64_t ca = a < ncur ? s->expire_cursor[a] : 0, cb = b < ncur ? s->expire_cursor[b] : 0;
    if (a < ncur) s->expire_cursor[a] = cb;
    if (b < ncur) s->expire_cursor[b] = ca;
    ts_blocking_signal_db(s, a);
    ts_blocking_signal_db(s, b);
}

const ts_txn_ops ts_multi_swapdb = {.step = swapdb_step, .after = flush_after};

/* ---------- RENAME / RENAMENX / COPY ---------- */

enum {
    PHASE_LOOK = 0,     /* source found? destination taken? maybe take the source */
    PHASE_TAKE = 1,     /* RENAMENX: the source part detaches the value */
    PHASE_INSTALL = 2,  /* the destination part installs the carried value */
};

/* Flags in p->n after PHASE_LOOK. */
#define F_SRC_FOUND   1
#define F_DST_FOUND   2
#define F_UNCOPYABLE  4
#define F_REPLACE     8   /* COPY ... REPLACE */

/* A value in transit between shards. Owned by the part whose ptr holds it;
 * freed by install() or carried_free(). */
typedef struct carried {
    ts_value v;         /* INLINE bytes are malloc'd and owned here */
    int64_t expire;     /* absolute ms or -1 */
    uint32_t lru;
} carried;

static void carried_free(carried *m)
{
    if (!m) return;
    if (m->v.form == TS_FORM_INLINE) free((void *)m->v.s.ptr);
    else ts_value_free(&m->v);
    free(m);
}

/* RENAME: removes the entry, keeping its value, expire and LRU clock. */
static carried *take_detach(ts_table *t, ts_entry *e)
{
    carried *m = ts_malloc(sizeof(*m));
    m->lru = ts_entry_lru(e);
    ts_table_detach(t, e, &m->v, &m->expire);
    return m;
}

/* COPY: a copy with the same encoding and expire and a fresh LRU clock.
 * NULL for a PTR value of a type without an implementation (object.h). */
static carried *take_copy(const ts_entry *e, int64_t now_ms)
{
    ts_value v;
    ts_entry_value(e, &v);
    if (v.form == TS_FORM_PTR && !ts_type_ops_of(v.type)) return NULL;
    carried *m = ts_malloc(sizeof(*m));
    ts_value_dup(&v, &m->v);
    m->expire = ts_entry_expire(e);
    m->lru = (uint32_t)(now_ms / 1000);   /* the LRU clock: seconds (db.c) */
    return m;
}

/* Sets key to the carried value (replacing any entry) and frees m. */
static void install(ts_table *t, ts_arg key, carried *m)
{
    ts_entry *e = ts_table_set(t, key.ptr, key.len, &m->v, m->expire, false);
    ts_entry_set_lru(e, m->lru);
    if (m->v.form == TS_FORM_INLINE) free((void *)m->v.s.ptr);
    free(m);   /* a PTR value now belongs to the table */
}

static bool is_copy(const ts_txn *t) { return strcmp(t->cmd->name, "copy") == 0; }
static bool is_renamenx(const ts_txn *t) { return strcmp(t->cmd->name, "renamenx") == 0; }

static bool same_key(const ts_txn *t)
{
    return t->argv[1].len == t->argv[2].len && memcmp(t->argv[1].ptr, t->argv[2].ptr, t->argv[1].len) == 0;
}

typedef struct xfer_args {
    int dst_db;
    bool replace;
} xfer_args;

/* RENAME has no options; COPY src dst [DB n] [REPLACE], checked in
 * Redis's order: options left to right, then source == destination. */
static enum arg_verdict xfer_parse(ts_txn *t, int ndb, xfer_args *o)
{
    o->dst_db = t->db;
    o->replace = false;
    if (!is_copy(t)) return ARG_OK;
    for (int j = 3; j < t->argc; j++) {
        if (ts_arg_eq(t->argv[j], "replace")) {
            o->replace = true;
        } else if (ts_arg_eq(t->argv[j], "db") && j + 1 < t->argc) {
            enum arg_verdict v = arg_to_int(t->argv[j + 1], &o->dst_db);
            if (v != ARG_OK) return v;
            if (o->dst_db < 0 || o->dst_db >= ndb) return ARG_DB_RANGE;
            j++;
        } else {
            return ARG_SYNTAX;
        }
    }
    if (o->dst_db == t->db && same_key(t)) return ARG_SAME_OBJECT;
    return ARG_OK;
}

static void look_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *c, const xfer_args *o)
{
    long long flags = o->replace ? F_REPLACE : 0;
    if (part_has_pos(p, 1)) {
        ts_arg src = t->argv[1];
        ts_entry *e = is_copy(t) ? ts_db_lookup_read(&c->ex, src) : ts_db_lookup_write(&c->ex, src);
        if (e) {
            flags |= F_SRC_FOUND;
            if (is_copy(t)) {
                p->ptr = take_copy(e, c->now_ms);
                if (!p->ptr) flags |= F_UNCOPYABLE;
            } else if (!is_renamenx(t) && !same_key(t)) {
                /* RENAME always completes once the source is found. */
                ts_db_signal_deleted(&c->ex, src);
                p->ptr = take_detach(ts_db_table(&c->ex), e);
                ts_db_signal_modified(&c->ex, src);
            }
        }
    }
    if (part_has_pos(p, 2) && ts_db_lookup_in(c->shard, o->dst_db, t->argv[2], c->now_ms))
        flags |= F_DST_FOUND;
    p->n = flags;
}

static void xfer_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *c)
{
    xfer_args o;
    enum arg_verdict v = xfer_parse(t, c->shard->ndb, &o);
    if (t->phase == PHASE_LOOK) {
        p->i64 = v;
        if (v == ARG_OK) look_step(t, p, c, &o);
    } else if (t->phase == PHASE_TAKE) {
        if (part_has_pos(p, 1)) {
            ts_entry *e = ts_db_lookup_write(&c->ex, t->argv[1]);
            /* Found in PHASE_LOOK; the shard stayed held (no active expiry
             * runs on a held shard) and the txn's clock is fixed. */
            TS_ASSERT(e);
            if (e) ts_db_signal_deleted(&c->ex, t->argv[1]);
            if (e) p->ptr = take_detach(ts_db_table(&c->ex), e);
            if (e) ts_db_signal_modified(&c->ex, t->argv[1]);
        }
    } else if (part_has_pos(p, 2) && p->ptr) {
        /* Blocked clients of the destination: the old value goes, the new
         * one may serve them (Redis signals both). */
        ts_cmd_ctx dc = *c;
        dc.db = o.dst_db;
        ts_db_signal_deleted(&dc.ex, t->argv[2]);
        int type = ((carried *)p->ptr)->v.type;
        install(&c->shard->dbs[o.dst_db], t->argv[2], p->ptr);
        ts_db_signal_modified_in(c->shard, o.dst_db, t->argv[2]);   /* RENAME's and COPY's destination */
        ts_db_signal_ready_in(c->shard, o.dst_db, t->argv[2], type);
        p->ptr = NULL;
    }
}

/* Hands the carried value from the source part to the destination part. */
static void hand_over(ts_txn *t)
{
    ts_txn_part *src = part_with_pos(t, 1), *dst = part_with_pos(t, 2);
    if (src == dst) return;
    dst->ptr = src->ptr;
    src->ptr = NULL;
}

/* Ends the command without installing: drops a value COPY took. */
static int xfer_fail(ts_txn_part *src)
{
    carried_free(src->ptr);
    src->ptr = NULL;
    return -1;
}

static int xfer_after(ts_txn *t)
{
    ts_txn_part *src = part_with_pos(t, 1), *dst = part_with_pos(t, 2);
    bool copy = is_copy(t), nx = is_renamenx(t);
    if (t->phase == PHASE_INSTALL) {
        if (copy || nx) ts_reply_int(&t->reply, 1);
        else ts_reply_ok(&t->reply);
        return -1;
    }
    if (t->phase == PHASE_TAKE) {
        hand_over(t);
        return PHASE_INSTALL;
    }
    if (reply_verdict(t)) return -1;
    long long flags = src->n | dst->n;
    if (!(flags & F_SRC_FOUND)) {
        if (copy) ts_reply_int(&t->reply, 0);
        else ts_reply_error(&t->reply, TS_ERR_NO_KEY);
        return -1;
    }
    if (flags & F_UNCOPYABLE) {
        ts_reply_error(&t->reply, "ERR COPY is not supported for this value type yet");
        return -1;
    }
    if (!copy && same_key(t)) {
        if (nx) ts_reply_int(&t->reply, 0);
        else ts_reply_ok(&t->reply);
        return -1;
    }
    if ((flags & F_DST_FOUND) && (nx || (copy && !(flags & F_REPLACE)))) {
        ts_reply_int(&t->reply, 0);
        return xfer_fail(src);
    }
    if (!src->ptr) return PHASE_TAKE;
    hand_over(t);
    return PHASE_INSTALL;
}

const ts_txn_ops ts_multi_rename = {.step = xfer_step, .after = xfer_after};
const ts_txn_ops ts_multi_copy = {.step = xfer_step, .after = xfer_after};
