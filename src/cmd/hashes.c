/*
 * hashes.c - the HASH commands: HSET HSETNX HMSET HGET HMGET HDEL HLEN
 * HSTRLEN HEXISTS HKEYS HVALS HGETALL HINCRBY HINCRBYFLOAT HRANDFIELD
 * HSCAN, with Redis 7.0's replies and error texts.
 *
 * Owns: nothing beyond the call. A hash is a TS_FORM_PTR value of type
 * TS_TYPE_HASH (t_hash.h); this file only parses arguments, looks keys up,
 * calls t_hash.c and replies.
 * Thread: every function runs on the thread owning ctx->shard (all of these
 * commands have one key).
 *
 * Shape: each command follows the order in which Redis checks things
 * (argument parsing, key type, field values), because that order decides
 * which error a client sees when several things are wrong at once. Writes
 * go through hash_open/hash_close: open finds the hash (or makes an empty
 * one that is added to the keyspace only on close), close stores the
 * possibly moved or converted object back in the entry, or deletes the key
 * when the hash became empty.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "tessera/persist/aof.h"
#include "tessera/config/config.h"
#include "tessera/store/db.h"
#include "tessera/store/watched_keys.h"
#include "tessera/util/glob.h"
#include "tessera/types/t_hash.h"

/* Redis's MAX_LONG_DOUBLE_CHARS. */

/* ---------- opening and closing a hash ---------- */

typedef struct hash_ref {
    ts_entry *e; /* NULL: a new hash not yet in the keyspace */
    void *obj;
    int enc;
} hash_ref;

/* Finds key's hash for writing, or (create) starts a new empty one that
 * hash_close adds to the keyspace. False only when key holds another type
 * (WRONGTYPE written); a missing key without create gives h->obj NULL. */
static bool hash_open(ts_cmd_ctx *c, ts_arg key, bool create, hash_ref *h)
{
    bool wrong;
    h->e = ts_db_lookup_write_type(&c->ex, key, TS_TYPE_HASH, &wrong);
    h->obj = NULL;
    h->enc = TS_ENC_LISTPACK;
    if (wrong) return false;
    if (h->e) {
        h->obj = ts_entry_obj(h->e);
        h->enc = ts_entry_enc(h->e);
    } else if (create) {
        h->obj = ts_hobj_new(&h->enc);
    }
    return true;
}

/* Stores the hash back after a change: a new hash is added, an existing
 * entry gets its (maybe moved) object, an empty hash deletes the key. */
static void hash_close(ts_cmd_ctx *c, ts_arg key, hash_ref *h)
{
    if (ts_hobj_len(h->obj, h->enc) == 0) {
        if (h->e) {
            ts_entry_set_object(h->e, h->enc, h->obj);
            ts_table_delete_entry(ts_db_table(&c->ex), h->e);
        } else {
            ts_hobj_free(h->obj, h->enc);
        }
        h->e = NULL;
        h->obj = NULL;
        return;
    }
    if (h->e) {
        ts_entry_set_object(h->e, h->enc, h->obj);
        ts_entry_set_lru(h->e, ts_lru_clock(c->now_ms));
    } else {
        h->e = ts_db_add_object(&c->ex, key, TS_TYPE_HASH, h->enc, h->obj);
    }
}

/* Finds key's hash for reading: NULL when missing or of another type
 * (*wrong set, WRONGTYPE written). */
static ts_entry *hash_read(ts_cmd_ctx *c, ts_arg key, bool *wrong)
{
    return ts_db_lookup_read_type(&c->ex, key, TS_TYPE_HASH, wrong);
}

static bool hash_set(ts_cmd_ctx *c, hash_ref *h, ts_arg f, const char *v, size_t vl)
{
    const ts_config *cfg = ts_db_config(&c->ex);
    return ts_hobj_set(&h->obj, &h->enc, f.ptr, f.len, v, vl, cfg->hash_max_listpack_entries,
                       cfg->hash_max_listpack_value);
}

static void reply_arity(ts_cmd_ctx *c)
{
    ts_reply_errorf(c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
}

/* ---------- HSET / HMSET / HSETNX ---------- */

static void hset_generic(ts_cmd_ctx *c, bool hmset)
{
    if (c->argc % 2 == 1) { reply_arity(c); return; }
    ts_arg key = c->argv[1];
    hash_ref h;
    if (!hash_open(c, key, true, &h)) return;
    ts_hobj_try_convert(&h.obj, &h.enc, c->argv + 2, c->argc - 2, ts_db_config(&c->ex)->hash_max_listpack_value);
    long long created = 0;
    for (int i = 2; i < c->argc; i += 2)
        created += hash_set(c, &h, c->argv[i], c->argv[i + 1].ptr, c->argv[i + 1].len);
    hash_close(c, key, &h);
    ts_db_signal_modified(&c->ex, key);   /* always, even when no value changed, as Redis */
    if (hmset) ts_reply_ok(c->r);
    else ts_reply_int(c->r, created);
}

void cmd_hset(ts_cmd_ctx *c) { hset_generic(c, false); }
void cmd_hmset(ts_cmd_ctx *c) { hset_generic(c, true); }

void cmd_hsetnx(ts_cmd_ctx *c)
{
    ts_arg key = c->argv[1];
    hash_ref h;
    if (!hash_open(c, key, true, &h)) return;
    if (ts_hobj_exists(h.obj, h.enc, c->argv[2].ptr, c->argv[2].len)) {
        ts_reply_int(c->r, 0);
        return;
    }
    ts_hobj_try_convert(&h.obj, &h.enc, c->argv + 2, 2, ts_db_config(&c->ex)->hash_max_listpack_value);
    hash_set(c, &h, c->argv[2], c->argv[3].ptr, c->argv[3].len);
    hash_close(c, key, &h);
    ts_db_signal_modified(&c->ex, key);
    ts_reply_int(c->r, 1);
}

/* ---------- reads of single fields ---------- */

/* Field f of the hash at e (NULL: no key) in *v, a listpack integer being
 * formatted in buf; false when there is no such field. */
static bool entry_field(const ts_entry *e, ts_arg f, char buf[TS_HOBJ_NUMBUF], ts_hobj_str *v)
{
    return e && ts_hobj_get(ts_entry_obj(e), ts_entry_enc(e), f.ptr, f.len, buf, v);
}

/* Replies the value of field f of the hash at e (NULL: no key), nil when absent. */
static void reply_field(ts_cmd_ctx *c, const ts_entry *e, ts_arg f)
{
    char buf[TS_HOBJ_NUMBUF];
    ts_hobj_str v;
    if (entry_field(e, f, buf, &v)) ts_reply_bulk(c->r, v.p, v.n);
    else ts_reply_null(c->r);
}

void cmd_hget(ts_cmd_ctx *c)
{
    bool wrong;
    ts_entry *e = hash_read(c, c->argv[1], &wrong);
    if (!wrong) reply_field(c, e, c->argv[2]);
}

void cmd_hmget(ts_cmd_ctx *c)
{
    bool wrong;
    ts_entry *e = hash_read(c, c->argv[1], &wrong);
    if (wrong) return;
    ts_reply_array(c->r, c->argc - 2);
    for (int i = 2; i < c->argc; i++) reply_field(c, e, c->argv[i]);
}

void cmd_hlen(ts_cmd_ctx *c)
{
    bool wrong;
    ts_entry *e = hash_read(c, c->argv[1], &wrong);
    if (wrong) return;
    ts_reply_int(c->r, e ? (long long)ts_hobj_len(ts_entry_obj(e), ts_entry_enc(e)) : 0);
}

void cmd_hstrlen(ts_cmd_ctx *c)
{
    bool wrong;
    ts_entry *e = hash_read(c, c->argv[1], &wrong);
    if (wrong) return;
    char buf[TS_HOBJ_NUMBUF];
    ts_hobj_str v;
    bool found = entry_field(e, c->argv[2], buf, &v);
    ts_reply_int(c->r, found ? (long long)v.n : 0);
}

void cmd_hexists(ts_cmd_ctx *c)
{
    bool wrong;
    ts_entry *e = hash_read(c, c->argv[1], &wrong);
    if (wrong) return;
    ts_reply_int(c->r, e && ts_hobj_exists(ts_entry_obj(e), ts_entry_enc(e), c->argv[2].ptr, c->argv[2].len));
}

/* ---------- HDEL ---------- */

void cmd_hdel(ts_cmd_ctx *c)
{
    ts_arg key = c->argv[1];
    hash_ref h;
    if (!hash_open(c, key, false, &h)) return;
    if (!h.obj) { ts_reply_int(c->r, 0); return; }
    long long deleted = 0;
    for (int i = 2; i < c->argc; i++) {
        if (ts_hobj_del(&h.obj, h.enc, c->argv[i].ptr, c->argv[i].len)) {
            deleted++;
            if (ts_hobj_len(h.obj, h.enc) == 0) break;
        }
    }
    hash_close(c, key, &h);
    if (deleted) ts_db_signal_modified(&c->ex, key);
    ts_reply_int(c->r, deleted);
}

/* ---------- HKEYS / HVALS / HGETALL ---------- */

enum { WANT_KEYS = 1, WANT_VALUES = 2 };

typedef struct getall_ctx {
    ts_reply *r;
    int want;
} getall_ctx;

static void getall_cb(void *ctx, ts_hobj_str f, ts_hobj_str v)
{
    getall_ctx *x = ctx;
    if (x->want & WANT_KEYS) ts_reply_bulk(x->r, f.p, f.n);
    if (x->want & WANT_VALUES) ts_reply_bulk(x->r, v.p, v.n);
}

static void getall_generic(ts_cmd_ctx *c, int want)
{
    bool wrong;
    ts_entry *e = hash_read(c, c->argv[1], &wrong);
    if (wrong) return;
    bool map = want == (WANT_KEYS | WANT_VALUES);
    long n = e ? (long)ts_hobj_len(ts_entry_obj(e), ts_entry_enc(e)) : 0;
    if (map) ts_reply_map(c->r, n);
    else ts_reply_array(c->r, n);
    if (!e) return;
    getall_ctx x = {c->r, want};
    ts_hobj_foreach(ts_entry_obj(e), ts_entry_enc(e), getall_cb, &x);
}

void cmd_hkeys(ts_cmd_ctx *c) { getall_generic(c, WANT_KEYS); }
void cmd_hvals(ts_cmd_ctx *c) { getall_generic(c, WANT_VALUES); }
void cmd_hgetall(ts_cmd_ctx *c) { getall_generic(c, WANT_KEYS | WANT_VALUES); }

/* ---------- HINCRBY / HINCRBYFLOAT ---------- */

void cmd_hincrby(ts_cmd_ctx *c)
{
    long long incr, value = 0;
    if (!ts_arg_to_ll(c->argv[3], &incr)) { ts_reply_error(c->r, TS_ERR_NOT_INT); return; }
    ts_arg key = c->argv[1], field = c->argv[2];
    hash_ref h;
    if (!hash_open(c, key, true, &h)) return;
    char buf[TS_HOBJ_NUMBUF];
    ts_hobj_str cur;
    if (ts_hobj_get(h.obj, h.enc, field.ptr, field.len, buf, &cur) && !ts_str_to_ll(cur.p, cur.n, &value)) {
        ts_reply_error(c->r, "ERR hash value is not an integer");
        return; /* the hash existed: it had this field */
    }
    if ((incr < 0 && value < 0 && incr < LLONG_MIN - value) || (incr > 0 && value > 0 && incr > LLONG_MAX - value)) {
        ts_reply_error(c->r, TS_ERR_OVERFLOW);
        return;
    }
    value += incr;
    char out[TS_HOBJ_NUMBUF];
    size_t n = ts_ll_to_str(out, value);
    hash_set(c, &h, field, out, n);
    hash_close(c, key, &h);
    ts_db_signal_modified(&c->ex, key);
    ts_reply_int(c->r, value);
}

void cmd_hincrbyfloat(ts_cmd_ctx *c)
{
    long double incr, value = 0;
    if (!ts_str_to_ld(c->argv[3].ptr, c->argv[3].len, &incr)) { ts_reply_error(c->r, TS_ERR_NOT_FLOAT); return; }
    if (isnan(incr) || isinf(incr)) { ts_reply_error(c->r, "ERR value is NaN or Infinity"); return; }
    ts_arg key = c->argv[1], field = c->argv[2];
    hash_ref h;
    if (!hash_open(c, key, true, &h)) return;
    char buf[TS_HOBJ_NUMBUF];
    ts_hobj_str cur;
    if (ts_hobj_get(h.obj, h.enc, field.ptr, field.len, buf, &cur) && !ts_str_to_ld(cur.p, cur.n, &value)) {
        ts_reply_error(c->r, "ERR hash value is not a float");
        return;
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        if (!h.e) ts_hobj_free(h.obj, h.enc);
        ts_reply_error(c->r, "ERR increment would produce NaN or Infinity");
        return;
    }
    char out[TS_LD_CHARS];
    size_t n = ts_ld_to_str(out, sizeof out, value);
    hash_set(c, &h, field, out, n);
    hash_close(c, key, &h);
    ts_db_signal_modified(&c->ex, key);
    ts_arg hset[4] = {{"HSET", 4}, key, field, {out, n}};   /* the AOF gets the result (aof.h) */
    ts_prop_argv(c, 4, hset);
    ts_reply_bulk(c->r, out, n);
}

/* ---------- HRANDFIELD key [count [WITHVALUES]] ---------- */

typedef struct rand_ctx {
    ts_reply *r;
    bool withvalues;
} rand_ctx;

static void rand_reply_pair(void *ctx, ts_hobj_str f, ts_hobj_str v)
{
    rand_ctx *x = ctx;
    if (x->withvalues && x->r->resp > 2) ts_reply_array(x->r, 2);
    ts_reply_bulk(x->r, f.p, f.n);
    if (x->withvalues) ts_reply_bulk(x->r, v.p, v.n);
}

static void hrandfield_count(ts_cmd_ctx *c, long long l, bool withvalues)
{
    bool wrong;
    ts_entry *e = hash_read(c, c->argv[1], &wrong);
    if (wrong) return;
    if (!e) { ts_reply_array(c->r, 0); return; }
    void *obj = ts_entry_obj(e);
    int enc = ts_entry_enc(e);
    size_t size = ts_hobj_len(obj, enc);
    bool uniq = l >= 0;
    unsigned long long count = uniq ? (unsigned long long)l : 0ULL - (unsigned long long)l;
    if (count == 0) { ts_reply_array(c->r, 0); return; }
    rand_ctx x = {c->r, withvalues};
    /* Repeats allowed (negative count), or a single pick. */
    if (!uniq || count == 1) {
        ts_reply_array(c->r, (long)(withvalues && c->r->resp == 2 ? count * 2 : count));
        /* In rounds, so a client's output limit stops a huge count. */
        while (count > 0 && !ts_reply_over_limit(c->r)) {
            size_t round = count < 4096 ? (size_t)count : 4096;
            ts_hobj_random_each(obj, enc, round, rand_reply_pair, &x);
            count -= round;
        }
        return;
    }
    size_t n = count < size ? (size_t)count : size;
    ts_reply_array(c->r, (long)(withvalues && c->r->resp == 2 ? n * 2 : n));
    if (count >= size) { /* the whole hash, in its order */
        ts_hobj_foreach(obj, enc, rand_reply_pair, &x);
        return;
    }
    ts_hobj_str *fields = ts_malloc(n * sizeof *fields), *values = ts_malloc(n * sizeof *values);
    char *numbufs = enc == TS_ENC_LISTPACK ? ts_malloc(2 * n * TS_HOBJ_NUMBUF) : NULL;
    ts_hobj_random_unique(obj, enc, n, fields, values, numbufs);
    for (size_t i = 0; i < n; i++) rand_reply_pair(&x, fields[i], values[i]);
    free(fields);
    free(values);
    free(numbufs);
}

void cmd_hrandfield(ts_cmd_ctx *c)
{
    if (c->argc >= 3) {
        long long l;
        bool withvalues;
        if (!ts_parse_rand_count(c, "withvalues", &l, &withvalues)) return;
        hrandfield_count(c, l, withvalues);
        return;
    }
    bool wrong;
    ts_entry *e = hash_read(c, c->argv[1], &wrong);
    if (wrong) return;
    if (!e) { ts_reply_null(c->r); return; }
    char fb[TS_HOBJ_NUMBUF], vb[TS_HOBJ_NUMBUF];
    ts_hobj_str f, v;
    ts_hobj_random(ts_entry_obj(e), ts_entry_enc(e), fb, vb, &f, &v);
    ts_reply_bulk(c->r, f.p, f.n);
}

/* ---------- HSCAN key cursor [MATCH pattern] [COUNT count] ---------- */

typedef struct hscan_ctx {
    ts_reply *r;
    ts_arg pattern; /* ptr NULL: everything */
    long n;
} hscan_ctx;

static void hscan_cb(void *ctx, ts_hobj_str f, ts_hobj_str v)
{
    hscan_ctx *x = ctx;
    if (x->pattern.ptr && !ts_glob_match(x->pattern.ptr, x->pattern.len, f.p, f.n, false)) return;
    ts_reply_bulk(x->r, f.p, f.n);
    ts_reply_bulk(x->r, v.p, v.n);
    x->n += 2;
}

typedef struct hscan_collect {
    struct { ts_hobj_str f, v; } *p;
    size_t n, cap;
} hscan_collect;

static void hscan_collect_cb(void *ctx, ts_hobj_str f, ts_hobj_str v)
{
    hscan_collect *x = ctx;
    if (x->n == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 16;
        x->p = ts_realloc(x->p, x->cap * sizeof *x->p);
    }
    x->p[x->n].f = f;
    x->p[x->n].v = v;
    x->n++;
}

void cmd_hscan(ts_cmd_ctx *c)
{
    uint64_t cursor;
    if (!ts_arg_to_cursor(c->argv[2], &cursor)) { ts_reply_error(c->r, "ERR invalid cursor"); return; }
    bool wrong;
    ts_entry *e = hash_read(c, c->argv[1], &wrong);
    if (wrong) return;
    if (!e) { ts_reply_empty_scan(c); return; }
    ts_scan_opts o;
    if (!ts_parse_scan_opts(c, 3, false, &o)) return;
    hscan_ctx x = {.r = c->r, .pattern = o.pattern};
    void *obj = ts_entry_obj(e);
    int enc = ts_entry_enc(e);
    ts_reply_array(c->r, 2);
    if (enc == TS_ENC_LISTPACK) {
        /* Like Redis: a listpack hash comes whole, with cursor 0. */
        ts_reply_bulk(c->r, "0", 1);
        size_t h = ts_reply_defer(c->r);
        ts_hobj_foreach(obj, enc, hscan_cb, &x);
        ts_reply_set_array_len(c->r, h, x.n);
        return;
    }
    /* The cursor goes first but is known only after the step: collect the
     * pairs (pointers into the unchanged table), then reply. A step
     * reports about COUNT fields, as redis-server 7.0.15 does (measured:
     * COUNT 20 and 100 on a 1000-field hash give 20 and 100 fields, like
     * ZSCAN's members). */
    hscan_collect col = {0};
    uint64_t next = ts_hobj_scan(obj, enc, cursor, (size_t)o.count, hscan_collect_cb, &col);
    char cbuf[24];
    int cn = snprintf(cbuf, sizeof cbuf, "%llu", (unsigned long long)next);
    ts_reply_bulk(c->r, cbuf, (size_t)cn);
    size_t h = ts_reply_defer(c->r);
    for (size_t i = 0; i < col.n; i++) hscan_cb(&x, col.p[i].f, col.p[i].v);
    ts_reply_set_array_len(c->r, h, x.n);
    free(col.p);
}
