/*
 * sets.c - the SET commands: SADD SREM SISMEMBER SMISMEMBER SCARD SMEMBERS
 * SPOP SRANDMEMBER SMOVE SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE
 * SDIFF SDIFFSTORE SSCAN, with Redis 7.0's replies, error texts and
 * encoding conversions.
 *
 * Owns: nothing beyond the call. Sets live in the shard's table as
 * TS_TYPE_SET objects (t_set.h: intset or hashtable).
 * Thread: every function runs on the thread owning ctx->shard. The
 * multi-key commands (SMOVE, S*STORE, SINTER, ...) are plain single-shard
 * code over ts_db_* lookups; when their keys span shards, ts_multi_borrow
 * (multi_borrow.c) brings every key into one scratch database and runs the
 * same function there.
 *
 * Shape: each command follows the order in which Redis 7.0 checks its
 * arguments and keys, because that order decides which error a client
 * sees. Results of SINTER/SUNION/SDIFF are built as a set the way Redis
 * builds them (starting from an intset, adding member by member), so the
 * stored result has Redis's encoding and an all-integer reply comes out in
 * Redis's (ascending) order.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "tessera/persist/aof.h"
#include "tessera/config/config.h"
#include "tessera/store/db.h"
#include "tessera/store/watched_keys.h"
#include "tessera/util/glob.h"
#include "tessera/types/t_set.h"
#include "tessera/store/lazyfree.h"

#define ERR_POSITIVE "ERR value is out of range, must be positive"
#define ERR_RANDMEMBER_RANGE \
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
#define ERR_NUMKEYS "ERR numkeys should be greater than 0"
#define ERR_NUMKEYS_ARGS "ERR Number of keys can't be greater than number of args"
#define ERR_LIMIT "ERR LIMIT can't be negative"

/* SPOP with a count keeps the popped set when at most this many times
 * more elements would be popped than kept (Redis's SPOP_MOVE_STRATEGY_MUL);
 * SRANDMEMBER copies the set when the count is above 1/3 of it
 * (SRANDMEMBER_SUB_STRATEGY_MUL). */
#define SPOP_MOVE_MUL 5
#define SRANDMEMBER_SUB_MUL 3

/* ---------- helpers ---------- */

static long long max_intset(ts_cmd_ctx *c) { return ts_db_config(&c->ex)->set_max_intset_entries; }

/* A set entry's object and encoding. */
typedef struct setv {
    ts_entry *e;
    void *obj;
    int enc;
} setv;

static setv setv_of(ts_entry *e)
{
    setv s = {e, NULL, 0};
    if (e) {
        s.obj = ts_entry_obj(e);
        s.enc = ts_entry_enc(e);
    }
    return s;
}

/* Stores a possibly reallocated/converted object back in its entry, or
 * deletes the key when the set became empty. */
static void setv_commit(ts_cmd_ctx *c, setv *s)
{
    /* First the new pointer: deleting frees what the entry points at. */
    ts_entry_set_object(s->e, s->enc, s->obj);
    if (ts_set_size(s->obj, s->enc) == 0) {
        ts_table_delete_entry(ts_db_table(&c->ex), s->e);
        s->e = NULL;
    }
}

/* Replaces key (whatever it holds, dropping its TTL) with a set object, or
 * deletes it when the set is empty (then frees the set). Returns the size.
 * Signals the key like Redis's S*STORE: setKey, or a delete that found a
 * key. */
static size_t store_set(ts_cmd_ctx *c, ts_arg key, void *obj, int enc)
{
    size_t n = ts_set_size(obj, enc);
    bool deleted = ts_db_delete(&c->ex, key);
    if (n == 0) ts_set_free(obj, enc);
    else ts_db_add_object(&c->ex, key, TS_TYPE_SET, enc, obj);
    if (n || deleted) ts_db_signal_modified(&c->ex, key);
    return n;
}

/* A list of members with their own copies of the bytes. */
typedef struct mlist {
    char *buf;
    size_t len, cap;
    size_t *off, *mlen;
    size_t n, ncap;
} mlist;

static void mlist_push(void *ctx, const char *p, size_t n)
{
    mlist *m = ctx;
    if (!m->buf || m->len + n > m->cap) {   /* never NULL: replies memcpy from it */
        m->cap = (m->len + n) * 2 + 64;
        m->buf = ts_realloc(m->buf, m->cap);
    }
    if (m->n == m->ncap) {
        m->ncap = m->ncap * 2 + 16;
        m->off = ts_realloc(m->off, sizeof(size_t) * m->ncap);
        m->mlen = ts_realloc(m->mlen, sizeof(size_t) * m->ncap);
    }
    if (n) memcpy(m->buf + m->len, p, n);
    m->off[m->n] = m->len;
    m->mlen[m->n] = n;
    m->len += n;
    m->n++;
}

static void mlist_free(mlist *m)
{
    free(m->buf);
    free(m->off);
    free(m->mlen);
}

static void reply_member(void *ctx, const char *p, size_t n) { ts_reply_bulk(ctx, p, n); }

/* The whole set as a RESP3 set (RESP2 array). */
static void reply_set_members(ts_cmd_ctx *c, void *obj, int enc)
{
    ts_reply_set(c->r, (long)ts_set_size(obj, enc));
    ts_set_foreach(obj, enc, reply_member, c->r);
}

/* ---------- SADD SREM SISMEMBER SMISMEMBER SCARD SMEMBERS ---------- */

void cmd_sadd(ts_cmd_ctx *c)
{
    bool wrong;
    ts_entry *e = ts_db_lookup_write_type(&c->ex, c->argv[1], TS_TYPE_SET, &wrong);
    if (wrong) return;
    setv s;
    if (e) {
        s = setv_of(e);
    } else {
        s.obj = ts_set_create(c->argv[2].ptr, c->argv[2].len, &s.enc);
        s.e = ts_db_add_object(&c->ex, c->argv[1], TS_TYPE_SET, s.enc, s.obj);
    }
    long long added = 0, max = max_intset(c);
    for (int i = 2; i < c->argc; i++) added += ts_set_add(&s.obj, &s.enc, c->argv[i].ptr, c->argv[i].len, max);
    ts_entry_set_object(s.e, s.enc, s.obj);
    if (added) ts_db_signal_modified(&c->ex, c->argv[1]);   /* SADD s existing: none */
    ts_reply_int(c->r, added);
}

void cmd_srem(ts_cmd_ctx *c)
{
    bool wrong;
    ts_entry *e = ts_db_lookup_write_type(&c->ex, c->argv[1], TS_TYPE_SET, &wrong);
    if (wrong) return;
    if (!e) { ts_reply_int(c->r, 0); return; }
    setv s = setv_of(e);
    long long removed = 0;
    for (int i = 2; i < c->argc; i++) {
        removed += ts_set_remove(&s.obj, s.enc, c->argv[i].ptr, c->argv[i].len);
        if (ts_set_size(s.obj, s.enc) == 0) break;
    }
    setv_commit(c, &s);
    if (removed) ts_db_signal_modified(&c->ex, c->argv[1]);
    ts_reply_int(c->r, removed);
}

void cmd_sismember(ts_cmd_ctx *c)
{
    bool wrong;
    ts_entry *e = ts_db_lookup_read_type(&c->ex, c->argv[1], TS_TYPE_SET, &wrong);
    if (wrong) return;
    setv s = setv_of(e);
    ts_reply_int(c->r, e && ts_set_has(s.obj, s.enc, c->argv[2].ptr, c->argv[2].len));
}

void cmd_smismember(ts_cmd_ctx *c)
{
    bool wrong;
    ts_entry *e = ts_db_lookup_read_type(&c->ex, c->argv[1], TS_TYPE_SET, &wrong);
    if (wrong) return;
    setv s = setv_of(e);
    ts_reply_array(c->r, c->argc - 2);
    for (int i = 2; i < c->argc; i++)
        ts_reply_int(c->r, e && ts_set_has(s.obj, s.enc, c->argv[i].ptr, c->argv[i].len));
}

void cmd_scard(ts_cmd_ctx *c)
{
    bool wrong;
    ts_entry *e = ts_db_lookup_read_type(&c->ex, c->argv[1], TS_TYPE_SET, &wrong);
    if (wrong) return;
    setv s = setv_of(e);
    ts_reply_int(c->r, e ? (long long)ts_set_size(s.obj, s.enc) : 0);
}

void cmd_smembers(ts_cmd_ctx *c)
{
    bool wrong;
    ts_entry *e = ts_db_lookup_read_type(&c->ex, c->argv[1], TS_TYPE_SET, &wrong);
    if (wrong) return;
    if (!e) { ts_reply_set(c->r, 0); return; }
    setv s = setv_of(e);
    reply_set_members(c, s.obj, s.enc);
}

/* ---------- SPOP ---------- */

/* Pops one random member of s into m (when m is not NULL) or the reply. */
/* Pops a random member into m, or into the reply (and into `logged`, the
 * members the AOF's SREM will name, when not NULL). */
static void pop_one(ts_cmd_ctx *c, setv *s, mlist *m, mlist *logged)
{
    char buf[TS_SET_NUMBUF];
    const char *p;
    size_t n;
    ts_set_random(s->obj, s->enc, buf, &p, &n);
    if (m) mlist_push(m, p, n);
    else ts_reply_bulk(c->r, p, n);
    if (logged) mlist_push(logged, p, n);
    /* p may point into the entry being deleted: remove copies nothing from
     * it after the lookup has matched. */
    ts_set_remove(&s->obj, s->enc, p, n);
}

/* SPOP is random: the AOF gets SREM key <the members popped> (aof.h). */
static void prop_srem(ts_cmd_ctx *c, mlist *popped)
{
    ts_prop_begin(c, (int)popped->n + 2);
    if (ts_prop_on(c)) {
        ts_aof_log_arg(c->aof, "SREM", 4);
        ts_aof_log_arg(c->aof, c->argv[1].ptr, c->argv[1].len);
        for (size_t i = 0; i < popped->n; i++) ts_aof_log_arg(c->aof, popped->buf + popped->off[i], popped->mlen[i]);
    }
    mlist_free(popped);
}

static void collect_member(void *ctx, const char *p, size_t n) { mlist_push(ctx, p, n); }

static void spop_count(ts_cmd_ctx *c)
{
    long long count;
    if (!ts_arg_to_ll(c->argv[2], &count) || count < 0) { ts_reply_error(c->r, ERR_POSITIVE); return; }
    bool wrong;
    ts_entry *e = ts_db_lookup_write_type(&c->ex, c->argv[1], TS_TYPE_SET, &wrong);
    if (wrong) return;
    if (!e || count == 0) { ts_reply_set(c->r, 0); return; }
    setv s = setv_of(e);
    size_t size = ts_set_size(s.obj, s.enc);
    if ((unsigned long long)count >= size) {
        /* Everything: Redis replies with a union of the one set, i.e. the
         * members in the order of a set rebuilt from scratch. */
        void *u = ts_set_new(TS_ENC_INTSET);
        int uenc = TS_ENC_INTSET;
        mlist m = {0};
        ts_set_foreach(s.obj, s.enc, mlist_push, &m);
        for (size_t i = 0; i < m.n; i++) ts_set_add(&u, &uenc, m.buf + m.off[i], m.mlen[i], max_intset(c));
        mlist_free(&m);
        reply_set_members(c, u, uenc);
        ts_set_free(u, uenc);
        ts_table_delete_entry(ts_db_table(&c->ex), e);
        ts_db_signal_modified(&c->ex, c->argv[1]);
        ts_arg del[2] = {{"DEL", 3}, c->argv[1]};
        ts_prop_argv(c, 2, del);
        return;
    }
    size_t remaining = size - (size_t)count;
    mlist popped = {0};
    mlist *logged = ts_prop_on(c) ? &popped : NULL;
    ts_reply_set(c->r, count);
    if (remaining * SPOP_MOVE_MUL > (size_t)count) {
        /* Few to pop: pop them one by one. */
        for (long long i = 0; i < count; i++) pop_one(c, &s, NULL, logged);
        ts_entry_set_object(s.e, s.enc, s.obj);
        ts_db_signal_modified(&c->ex, c->argv[1]);
        prop_srem(c, &popped);
        return;
    }
    /* Most of the set goes: move the few survivors into a new set, reply
     * with what is left of the old one, swap. Like Redis, the new set is
     * created for its first survivor: a hashtable whose survivors are all
     * integers becomes an intset. */
    int kenc;
    mlist m = {0};
    for (size_t i = 0; i < remaining; i++) pop_one(c, &s, &m, NULL);
    void *keep = ts_set_create(m.buf, m.mlen[0], &kenc);
    for (size_t i = 0; i < m.n; i++) ts_set_add(&keep, &kenc, m.buf + m.off[i], m.mlen[i], max_intset(c));
    mlist_free(&m);
    ts_set_foreach(s.obj, s.enc, reply_member, c->r);
    if (logged) ts_set_foreach(s.obj, s.enc, collect_member, logged);
    prop_srem(c, &popped);
    ts_entry_set_object(s.e, kenc, keep);
    /* The popped remainder may be big: free it the way the keyspace frees
     * values (in the background past the lazy-free threshold). */
    ts_value old = {.type = TS_TYPE_SET, .enc = (uint8_t)s.enc, .form = TS_FORM_PTR};
    old.ptr = s.obj;
    ts_value_free(&old);
    ts_db_signal_modified(&c->ex, c->argv[1]);
}

void cmd_spop(ts_cmd_ctx *c)
{
    if (c->argc == 3) { spop_count(c); return; }
    if (c->argc > 3) { ts_reply_error(c->r, TS_ERR_SYNTAX); return; }
    bool wrong;
    ts_entry *e = ts_db_lookup_write_type(&c->ex, c->argv[1], TS_TYPE_SET, &wrong);
    if (wrong) return;
    if (!e) { ts_reply_null(c->r); return; }
    setv s = setv_of(e);
    mlist popped = {0};
    pop_one(c, &s, NULL, ts_prop_on(c) ? &popped : NULL);
    setv_commit(c, &s);
    ts_db_signal_modified(&c->ex, c->argv[1]);
    prop_srem(c, &popped);
}

/* ---------- SRANDMEMBER ---------- */

static void srandmember_count(ts_cmd_ctx *c)
{
    long long l;
    if (!ts_arg_to_ll(c->argv[2], &l)) { ts_reply_error(c->r, TS_ERR_NOT_INT); return; }
    if (l == LLONG_MIN) { ts_reply_error(c->r, ERR_RANDMEMBER_RANGE); return; }
    bool uniq = l >= 0;
    unsigned long long count = uniq ? (unsigned long long)l : (unsigned long long)-l;
    bool wrong;
    ts_entry *e = ts_db_lookup_read_type(&c->ex, c->argv[1], TS_TYPE_SET, &wrong);
    if (wrong) return;
    if (!e || count == 0) { ts_reply_array(c->r, 0); return; }
    setv s = setv_of(e);
    size_t size = ts_set_size(s.obj, s.enc);
    char buf[TS_SET_NUMBUF];
    const char *p;
    size_t n;
    if (!uniq || count == 1) {
        /* Repetitions allowed: count independent draws. */
        ts_reply_array(c->r, (long)count);
        for (unsigned long long i = 0; i < count && !ts_reply_over_limit(c->r); i++) {
            ts_set_random(s.obj, s.enc, buf, &p, &n);
            ts_reply_bulk(c->r, p, n);
        }
        return;
    }
    if (count >= size) {
        ts_reply_array(c->r, (long)size);
        ts_set_foreach(s.obj, s.enc, reply_member, c->r);
        return;
    }
    mlist m = {0};
    if (count * SRANDMEMBER_SUB_MUL > size) {
        /* Close to the whole set: copy it, drop random members. */
        ts_set_foreach(s.obj, s.enc, mlist_push, &m);
        while (m.n > count) {
            size_t victim = (size_t)(ts_set_rand() % m.n);
            m.off[victim] = m.off[m.n - 1];
            m.mlen[victim] = m.mlen[m.n - 1];
            m.n--;
        }
    } else {
        /* Small sample: draw until count distinct members were seen. */
        void *seen = ts_set_new(TS_ENC_HASHTABLE);
        int senc = TS_ENC_HASHTABLE;
        while (m.n < count) {
            ts_set_random(s.obj, s.enc, buf, &p, &n);
            if (ts_set_add(&seen, &senc, p, n, 0)) mlist_push(&m, p, n);
        }
        ts_set_free(seen, senc);
    }
    ts_reply_array(c->r, (long)m.n);
    for (size_t i = 0; i < m.n; i++) ts_reply_bulk(c->r, m.buf + m.off[i], m.mlen[i]);
    mlist_free(&m);
}

void cmd_srandmember(ts_cmd_ctx *c)
{
    if (c->argc == 3) { srandmember_count(c); return; }
    if (c->argc > 3) { ts_reply_error(c->r, TS_ERR_SYNTAX); return; }
    bool wrong;
    ts_entry *e = ts_db_lookup_read_type(&c->ex, c->argv[1], TS_TYPE_SET, &wrong);
    if (wrong) return;
    if (!e) { ts_reply_null(c->r); return; }
    setv s = setv_of(e);
    char buf[TS_SET_NUMBUF];
    const char *p;
    size_t n;
    ts_set_random(s.obj, s.enc, buf, &p, &n);
    ts_reply_bulk(c->r, p, n);
}

/* ---------- SMOVE ---------- */

void cmd_smove(ts_cmd_ctx *c)
{
    ts_arg ele = c->argv[3];
    ts_entry *src = ts_db_lookup_write(&c->ex, c->argv[1]);
    ts_entry *dst = ts_db_lookup_write(&c->ex, c->argv[2]);
    if (!src) { ts_reply_int(c->r, 0); return; }
    if (ts_entry_type(src) != TS_TYPE_SET || (dst && ts_entry_type(dst) != TS_TYPE_SET)) {
        ts_reply_error(c->r, TS_ERR_WRONGTYPE);
        return;
    }
    setv s = setv_of(src);
    if (src == dst) {
        ts_reply_int(c->r, ts_set_has(s.obj, s.enc, ele.ptr, ele.len));
        return;
    }
    if (!ts_set_remove(&s.obj, s.enc, ele.ptr, ele.len)) { ts_reply_int(c->r, 0); return; }
    setv_commit(c, &s);
    setv d;
    if (dst) {
        d = setv_of(dst);
    } else {
        d.obj = ts_set_create(ele.ptr, ele.len, &d.enc);
        d.e = ts_db_add_object(&c->ex, c->argv[2], TS_TYPE_SET, d.enc, d.obj);
    }
    ts_db_signal_modified(&c->ex, c->argv[1]);
    /* The destination only when the member was new there, as Redis. */
    bool added = ts_set_add(&d.obj, &d.enc, ele.ptr, ele.len, max_intset(c));
    ts_entry_set_object(d.e, d.enc, d.obj);
    if (added) ts_db_signal_modified(&c->ex, c->argv[2]);
    ts_reply_int(c->r, 1);
}

/* ---------- SINTER SINTERCARD SINTERSTORE ---------- */

typedef struct srcset {
    ts_entry *e;        /* NULL: missing key (an empty set) */
    void *obj;
    int enc;
    size_t size;
} srcset;

/* Looks up n keys as sets (write lookups when storing, like Redis). On
 * WRONGTYPE replies and returns NULL; else an array the caller frees. */
static srcset *lookup_sets(ts_cmd_ctx *c, const ts_arg *keys, int n, bool write, int *missing)
{
    srcset *v = ts_malloc(sizeof(srcset) * (size_t)(n ? n : 1));
    *missing = 0;
    for (int i = 0; i < n; i++) {
        bool wrong;
        ts_entry *e = write ? ts_db_lookup_write_type(&c->ex, keys[i], TS_TYPE_SET, &wrong)
                            : ts_db_lookup_read_type(&c->ex, keys[i], TS_TYPE_SET, &wrong);
        if (wrong) { free(v); return NULL; }
        v[i].e = e;
        if (!e) { (*missing)++; v[i].obj = NULL; v[i].enc = 0; v[i].size = 0; continue; }
        v[i].obj = ts_entry_obj(e);
        v[i].enc = ts_entry_enc(e);
        v[i].size = ts_set_size(v[i].obj, v[i].enc);
    }
    return v;
}

static int by_size(const void *a, const void *b)
{
    size_t x = ((const srcset *)a)->size, y = ((const srcset *)b)->size;
    return (x > y) - (x < y);
}

typedef struct inter_walk {
    srcset *sets;
    int n;
    unsigned long long found, limit;   /* limit 0: none */
    mlist *out;                        /* NULL: count only */
} inter_walk;

static void inter_member(void *ctx, const char *p, size_t len)
{
    inter_walk *w = ctx;
    if (w->limit && w->found >= w->limit) return;
    for (int j = 1; j < w->n; j++) {
        if (w->sets[j].obj == w->sets[0].obj) continue;
        if (!ts_set_has(w->sets[j].obj, w->sets[j].enc, p, len)) return;
    }
    w->found++;
    if (w->out) mlist_push(w->out, p, len);
}

enum { INTER_REPLY, INTER_CARD, INTER_STORE };

static void sinter_generic(ts_cmd_ctx *c, const ts_arg *keys, int n, int mode, ts_arg dst, unsigned long long limit)
{
    int missing;
    srcset *sets = lookup_sets(c, keys, n, mode == INTER_STORE, &missing);
    if (!sets) return;
    mlist m = {0};
    inter_walk w = {.sets = sets, .n = n, .limit = limit, .out = mode == INTER_CARD ? NULL : &m};
    if (!missing) {
        /* The smallest set drives the walk, as in Redis (and so its order). */
        qsort(sets, (size_t)n, sizeof *sets, by_size);
        ts_set_foreach(sets[0].obj, sets[0].enc, inter_member, &w);
    }
    free(sets);
    if (mode == INTER_CARD) {
        ts_reply_int(c->r, (long long)w.found);
    } else if (mode == INTER_REPLY) {
        ts_reply_set(c->r, (long)m.n);
        for (size_t i = 0; i < m.n; i++) ts_reply_bulk(c->r, m.buf + m.off[i], m.mlen[i]);
    } else {
        int enc = TS_ENC_INTSET;
        void *obj = ts_set_new(enc);
        for (size_t i = 0; i < m.n; i++) ts_set_add(&obj, &enc, m.buf + m.off[i], m.mlen[i], max_intset(c));
        ts_reply_int(c->r, (long long)store_set(c, dst, obj, enc));
    }
    mlist_free(&m);
}

void cmd_sinter(ts_cmd_ctx *c) { sinter_generic(c, c->argv + 1, c->argc - 1, INTER_REPLY, (ts_arg){0}, 0); }

void cmd_sinterstore(ts_cmd_ctx *c)
{
    sinter_generic(c, c->argv + 2, c->argc - 2, INTER_STORE, c->argv[1], 0);
}

void cmd_sintercard(ts_cmd_ctx *c)
{
    long long numkeys, limit = 0;
    if (!ts_arg_to_ll(c->argv[1], &numkeys) || numkeys < 1) { ts_reply_error(c->r, ERR_NUMKEYS); return; }
    if (numkeys > c->argc - 2) { ts_reply_error(c->r, ERR_NUMKEYS_ARGS); return; }
    for (int i = 2 + (int)numkeys; i < c->argc; i++) {
        if (ts_arg_eq(c->argv[i], "limit") && i + 1 < c->argc) {
            if (!ts_arg_to_ll(c->argv[i + 1], &limit) || limit < 0) { ts_reply_error(c->r, ERR_LIMIT); return; }
            i++;
        } else {
            ts_reply_error(c->r, TS_ERR_SYNTAX);
            return;
        }
    }
    sinter_generic(c, c->argv + 2, (int)numkeys, INTER_CARD, (ts_arg){0}, (unsigned long long)limit);
}

/* ---------- SUNION SDIFF and their STORE forms ---------- */

typedef struct build {
    void *obj;
    int enc;
    long long max;
} build;

static void build_add(void *ctx, const char *p, size_t n)
{
    build *b = ctx;
    ts_set_add(&b->obj, &b->enc, p, n, b->max);
}

static void build_remove(void *ctx, const char *p, size_t n)
{
    build *b = ctx;
    if (ts_set_size(b->obj, b->enc)) ts_set_remove(&b->obj, b->enc, p, n);
}

typedef struct diff_walk {
    srcset *sets;
    int n;
    build *b;
} diff_walk;

static void diff_member(void *ctx, const char *p, size_t len)
{
    diff_walk *w = ctx;
    for (int j = 1; j < w->n; j++)
        if (w->sets[j].e && ts_set_has(w->sets[j].obj, w->sets[j].enc, p, len)) return;
    build_add(w->b, p, len);
}

enum { OP_UNION, OP_DIFF };

static void sunion_diff_generic(ts_cmd_ctx *c, const ts_arg *keys, int n, int op, const ts_arg *dst)
{
    int missing;
    srcset *sets = lookup_sets(c, keys, n, dst != NULL, &missing);
    if (!sets) return;
    build b = {.obj = ts_set_new(TS_ENC_INTSET), .enc = TS_ENC_INTSET, .max = max_intset(c)};
    if (op == OP_UNION) {
        for (int i = 0; i < n; i++)
            if (sets[i].e) ts_set_foreach(sets[i].obj, sets[i].enc, build_add, &b);
    } else if (sets[0].e) {
        bool sameset = false;
        unsigned long long one = 0, two = 0;
        for (int i = 0; i < n; i++) {
            if (i > 0 && sets[i].e == sets[0].e) sameset = true;
            if (!sets[i].e) continue;
            one += sets[0].size;
            two += sets[i].size;
        }
        /* Redis's choice between its two algorithms, which can leave the
         * result in different encodings: walk the first set checking the
         * others, or copy the first set and remove the others' members. */
        one /= 2;
        if (sameset) {
            /* The first set minus itself: empty. */
        } else if (one <= two) {
            diff_walk w = {sets, n, &b};
            ts_set_foreach(sets[0].obj, sets[0].enc, diff_member, &w);
        } else {
            ts_set_foreach(sets[0].obj, sets[0].enc, build_add, &b);
            for (int i = 1; i < n && ts_set_size(b.obj, b.enc); i++)
                if (sets[i].e) ts_set_foreach(sets[i].obj, sets[i].enc, build_remove, &b);
        }
    }
    free(sets);
    if (dst) {
        ts_reply_int(c->r, (long long)store_set(c, *dst, b.obj, b.enc));
    } else {
        reply_set_members(c, b.obj, b.enc);
        ts_set_free(b.obj, b.enc);
    }
}

void cmd_sunion(ts_cmd_ctx *c) { sunion_diff_generic(c, c->argv + 1, c->argc - 1, OP_UNION, NULL); }
void cmd_sdiff(ts_cmd_ctx *c) { sunion_diff_generic(c, c->argv + 1, c->argc - 1, OP_DIFF, NULL); }
void cmd_sunionstore(ts_cmd_ctx *c) { sunion_diff_generic(c, c->argv + 2, c->argc - 2, OP_UNION, &c->argv[1]); }
void cmd_sdiffstore(ts_cmd_ctx *c) { sunion_diff_generic(c, c->argv + 2, c->argc - 2, OP_DIFF, &c->argv[1]); }

/* ---------- SSCAN key cursor [MATCH pattern] [COUNT count] ---------- */

typedef struct scan_walk {
    mlist m;
    ts_arg pattern;     /* ptr NULL: everything */
} scan_walk;

static void scan_member(void *ctx, const char *p, size_t n)
{
    scan_walk *w = ctx;
    if (w->pattern.ptr && !ts_glob_match(w->pattern.ptr, w->pattern.len, p, n, false)) return;
    mlist_push(&w->m, p, n);
}

void cmd_sscan(ts_cmd_ctx *c)
{
    uint64_t cursor;
    if (!ts_arg_to_cursor(c->argv[2], &cursor)) { ts_reply_error(c->r, "ERR invalid cursor"); return; }
    bool wrong;
    ts_entry *e = ts_db_lookup_read_type(&c->ex, c->argv[1], TS_TYPE_SET, &wrong);
    if (wrong) return;
    if (!e) { ts_reply_empty_scan(c); return; }
    ts_scan_opts o;
    if (!ts_parse_scan_opts(c, 3, false, &o)) return;
    scan_walk w = {{0}, o.pattern};
    setv s = setv_of(e);
    /* An intset is small by definition: all of it at once, cursor 0, like
     * Redis (whatever cursor was given). */
    uint64_t next = ts_set_scan(s.obj, s.enc, cursor, (size_t)o.count, scan_member, &w);
    char num[24];
    int len = snprintf(num, sizeof num, "%llu", (unsigned long long)next);
    ts_reply_array(c->r, 2);
    ts_reply_bulk(c->r, num, (size_t)len);
    ts_reply_array(c->r, (long)w.m.n);
    for (size_t i = 0; i < w.m.n; i++) ts_reply_bulk(c->r, w.m.buf + w.m.off[i], w.m.mlen[i]);
    mlist_free(&w.m);
}
