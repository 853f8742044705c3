/*
 * zsets.c - the sorted-set commands of Redis 7.0: ZADD ZINCRBY ZREM ZCARD
 * ZSCORE ZMSCORE ZRANK ZREVRANK ZCOUNT ZLEXCOUNT ZRANGE ZRANGESTORE
 * ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX
 * ZREMRANGEBYRANK/SCORE/LEX ZPOPMIN ZPOPMAX ZMPOP ZRANDMEMBER ZUNION ZINTER
 * ZDIFF ZUNIONSTORE ZINTERSTORE ZDIFFSTORE ZINTERCARD ZSCAN.
 *
 * Owns: nothing beyond the call; the sorted sets are t_zset.h objects in
 * the shard's table. Thread: the owner of ctx->shard. Multi-key commands
 * are written for one shard (ts_db_* only); across shards ts_multi_borrow
 * runs them unchanged on borrowed keys.
 *
 * Shape: each command parses and checks in the order Redis 7.0 does (the
 * order decides which error a client sees), then works through t_zset.h,
 * never through an encoding. The range commands share one driver
 * (zrange_generic) and one result sink (a client reply or a destination
 * key); the set-algebra commands share zsetop.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmds.h"
#include "tessera/config/config.h"
#include "tessera/store/db.h"
#include "tessera/store/watched_keys.h"
#include "tessera/util/glob.h"
#include "tessera/types/listpack.h"
#include "tessera/types/t_set.h"
#include "tessera/types/t_zset.h"
#include "typed_ops.h"

#define ERR_NAN "ERR resulting score is not a number (NaN)"
#define ERR_MINMAX "ERR min or max is not a float"
#define ERR_LEXRANGE "ERR min or max not valid string range item"

static ts_entry *zread(ts_cmd_ctx *c, ts_arg key, bool *wrong)
{
    return ts_db_lookup_read_type(&c->ex, key, TS_TYPE_ZSET, wrong);
}

static ts_entry *zwrite(ts_cmd_ctx *c, ts_arg key, bool *wrong)
{
    return ts_db_lookup_write_type(&c->ex, key, TS_TYPE_ZSET, wrong);
}

/* What a command replies when its key is missing. */
enum { MISSING_ZERO, MISSING_NIL, MISSING_EMPTY, MISSING_EMPTY_SCAN };

/* Redis's lookupKey{Read,Write}OrReply + checkType for the sorted set at
 * argv[1]: its entry, the set in *z; NULL after replying WRONGTYPE or, for
 * a missing key, the `missing` reply (0, nil, [], or SCAN's empty reply). */
static ts_entry *zset_or_reply(ts_cmd_ctx *c, bool write, int missing, ts_zset *z)
{
    bool wrong;
    ts_entry *e = write ? zwrite(c, c->argv[1], &wrong) : zread(c, c->argv[1], &wrong);
    if (wrong) return NULL;
    if (e) {
        *z = ts_zset_of(e);
        return e;
    }
    if (missing == MISSING_ZERO) ts_reply_int(c->r, 0);
    else if (missing == MISSING_NIL) ts_reply_null(c->r);
    else if (missing == MISSING_EMPTY) ts_reply_array(c->r, 0);
    else ts_reply_empty_scan(c);
    return NULL;
}

/* Redis's getLongFromObjectOrReply. */
static bool get_long(ts_cmd_ctx *c, ts_arg a, long long *out)
{
    if (!ts_arg_to_ll(a, out)) {
        ts_reply_error(c->r, TS_ERR_NOT_INT);
        return false;
    }
    return true;
}

/* Redis's getRangeLongFromObjectOrReply with a custom message. */
static bool get_range_long(ts_cmd_ctx *c, ts_arg a, long long min, long long max, const char *msg,
                           long long *out)
{
    if (!ts_arg_to_ll(a, out)) {
        ts_reply_error(c->r, msg ? msg : TS_ERR_NOT_INT);
        return false;
    }
    if (*out < min || *out > max) {
        if (msg) ts_reply_error(c->r, msg);
        else ts_reply_errorf(c->r, "ERR value is out of range, value must between %lld and %lld", min, max);
        return false;
    }
    return true;
}

/* Deletes the key of e when its sorted set became empty, else stores z. */
static void store_or_delete(ts_cmd_ctx *c, ts_entry *e, ts_zset *z)
{
    ts_zset_store(e, z);   /* first: the entry must free the current pointer */
    if (ts_zset_length(z) == 0) ts_table_delete_entry(ts_db_table(&c->ex), e);
}

static void reply_member(ts_cmd_ctx *c, const char *m, size_t n) { ts_reply_bulk(c->r, m, n); }

/* Replies member m and, withscores, its score s: a [member, score] pair in
 * RESP3, two flat elements in RESP2 (see scored_len for the array size). */
static void reply_scored(ts_reply *r, const char *m, size_t n, double s, bool withscores)
{
    if (withscores && r->resp > 2) ts_reply_array(r, 2);
    ts_reply_bulk(r, m, n);
    if (withscores) ts_reply_double(r, s);
}

/* The array length of n members replied by reply_scored. */
static long scored_len(const ts_reply *r, unsigned long long n, bool withscores)
{
    return (long)(withscores && r->resp == 2 ? n * 2 : n);
}

/* ---------- ZADD / ZINCRBY ---------- */

static void zadd_generic(ts_cmd_ctx *c, int flags)
{
    ts_arg key = c->argv[1];
    bool ch = false;
    int idx = 2;
    for (; idx < c->argc; idx++) {
        ts_arg o = c->argv[idx];
        if (ts_arg_eq(o, "nx")) flags |= TS_ZADD_NX;
        else if (ts_arg_eq(o, "xx")) flags |= TS_ZADD_XX;
        else if (ts_arg_eq(o, "ch")) ch = true;
        else if (ts_arg_eq(o, "incr")) flags |= TS_ZADD_INCR;
        else if (ts_arg_eq(o, "gt")) flags |= TS_ZADD_GT;
        else if (ts_arg_eq(o, "lt")) flags |= TS_ZADD_LT;
        else break;
    }
    bool incr = flags & TS_ZADD_INCR, nx = flags & TS_ZADD_NX, xx = flags & TS_ZADD_XX;
    bool gt = flags & TS_ZADD_GT, lt = flags & TS_ZADD_LT;
    int elements = c->argc - idx;
    if (elements % 2 || !elements) {
        ts_reply_error(c->r, TS_ERR_SYNTAX);
        return;
    }
    elements /= 2;
    if (nx && xx) {
        ts_reply_error(c->r, "ERR XX and NX options at the same time are not compatible");
        return;
    }
    if ((gt && nx) || (lt && nx) || (gt && lt)) {
        ts_reply_error(c->r, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if (incr && elements > 1) {
        ts_reply_error(c->r, "ERR INCR option supports a single increment-element pair");
        return;
    }
    double stack[16];
    double *scores = elements <= 16 ? stack : ts_malloc(sizeof(double) * (size_t)elements);
    for (int j = 0; j < elements; j++) {
        if (!ts_zset_parse_score(c->argv[idx + 2 * j], &scores[j])) {
            ts_reply_error(c->r, TS_ERR_NOT_FLOAT);
            goto done;
        }
    }
    bool wrong;
    ts_entry *e = zwrite(c, key, &wrong);
    if (wrong) goto done;
    long long added = 0, updated = 0, processed = 0;
    double score = 0;
    if (!e) {
        if (xx) goto reply;
        ts_zset nz = ts_zset_create(ts_db_config(&c->ex), c->argv[idx + 1].len);
        e = ts_db_add_object(&c->ex, key, TS_TYPE_ZSET, nz.enc, nz.ptr);
    }
    ts_zset z = ts_zset_of(e);
    for (int j = 0; j < elements; j++) {
        ts_arg m = c->argv[idx + 2 * j + 1];
        int out;
        double newscore = 0;
        if (!ts_zset_add(&z, ts_db_config(&c->ex), scores[j], m.ptr, m.len, flags, &out, &newscore)) {
            store_or_delete(c, e, &z);
            /* Redis's cleanup label: what was changed before the error counts. */
            if (added || updated) ts_db_signal_modified(&c->ex, key);
            ts_reply_error(c->r, ERR_NAN);
            goto done;
        }
        if (out & TS_ZADD_OUT_ADDED) added++;
        if (out & TS_ZADD_OUT_UPDATED) updated++;
        if (!(out & TS_ZADD_OUT_NOP)) processed++;
        score = newscore;
    }
    store_or_delete(c, e, &z);
    if (added || updated) ts_db_signal_modified(&c->ex, key);   /* a no-op ZADD: none */
    if (added) ts_db_signal_ready(&c->ex, key);
reply:
    if (incr) {
        if (processed) ts_reply_double(c->r, score);
        else ts_reply_null(c->r);
    } else {
        ts_reply_int(c->r, ch ? added + updated : added);
    }
done:
    if (scores != stack) free(scores);
}

void cmd_zadd(ts_cmd_ctx *c) { zadd_generic(c, 0); }
void cmd_zincrby(ts_cmd_ctx *c) { zadd_generic(c, TS_ZADD_INCR); }

/* ---------- ZREM ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK ---------- */

void cmd_zrem(ts_cmd_ctx *c)
{
    ts_zset z;
    ts_entry *e = zset_or_reply(c, true, MISSING_ZERO, &z);
    if (!e) return;
    long long deleted = 0;
    for (int j = 2; j < c->argc; j++) {
        if (ts_zset_del(&z, c->argv[j].ptr, c->argv[j].len)) deleted++;
        if (ts_zset_length(&z) == 0) break;
    }
    store_or_delete(c, e, &z);
    if (deleted) ts_db_signal_modified(&c->ex, c->argv[1]);
    ts_reply_int(c->r, deleted);
}

void cmd_zcard(ts_cmd_ctx *c)
{
    ts_zset z;
    if (!zset_or_reply(c, false, MISSING_ZERO, &z)) return;
    ts_reply_int(c->r, (long long)ts_zset_length(&z));
}

void cmd_zscore(ts_cmd_ctx *c)
{
    bool wrong;
    ts_entry *e = zread(c, c->argv[1], &wrong);
    if (wrong) return;
    double s;
    ts_zset z;
    if (e) z = ts_zset_of(e);
    if (e && ts_zset_score(&z, c->argv[2].ptr, c->argv[2].len, &s)) ts_reply_double(c->r, s);
    else ts_reply_null(c->r);
}

void cmd_zmscore(ts_cmd_ctx *c)
{
    bool wrong;
    ts_entry *e = zread(c, c->argv[1], &wrong);
    if (wrong) return;
    ts_zset z;
    if (e) z = ts_zset_of(e);
    ts_reply_array(c->r, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double s;
        if (e && ts_zset_score(&z, c->argv[j].ptr, c->argv[j].len, &s)) ts_reply_double(c->r, s);
        else ts_reply_null(c->r);
    }
}

static void zrank_generic(ts_cmd_ctx *c, bool rev)
{
    ts_zset z;
    if (!zset_or_reply(c, false, MISSING_NIL, &z)) return;
    long r = ts_zset_rank(&z, c->argv[2].ptr, c->argv[2].len, rev);
    if (r >= 0) ts_reply_int(c->r, r);
    else ts_reply_null(c->r);
}

void cmd_zrank(ts_cmd_ctx *c) { zrank_generic(c, false); }
void cmd_zrevrank(ts_cmd_ctx *c) { zrank_generic(c, true); }

/* ---------- ranges: by rank, score or member ---------- */

enum { RANGE_AUTO, RANGE_RANK, RANGE_SCORE, RANGE_LEX };

/* A range's min and max as parsed for its type. */
typedef struct zbounds {
    int type;               /* RANGE_RANK, RANGE_SCORE or RANGE_LEX */
    long long start, end;   /* RANGE_RANK: ranks, negative from the end */
    ts_zscore_range sr;     /* RANGE_SCORE */
    ts_zlex_range lr;       /* RANGE_LEX */
} zbounds;

/* Parses min and max as a range of the given type into *r; false after
 * replying Redis's error for that type. */
static bool parse_bounds(ts_cmd_ctx *c, int type, ts_arg min, ts_arg max, zbounds *r)
{
    r->type = type;
    if (type == RANGE_RANK) return get_long(c, min, &r->start) && get_long(c, max, &r->end);
    if (type == RANGE_SCORE ? ts_zset_parse_score_range(min, max, &r->sr) : ts_zset_parse_lex_range(min, max, &r->lr))
        return true;
    ts_reply_error(c->r, type == RANGE_SCORE ? ERR_MINMAX : ERR_LEXRANGE);
    return false;
}

/* The ranks [*first, *last] of a RANGE_RANK range over llen elements, as
 * Redis clips them (negative ranks count from the end); false when empty. */
static bool rank_range(const zbounds *r, long long llen, size_t *first, size_t *last)
{
    long long start = r->start, end = r->end;
    if (start < 0) start = llen + start;
    if (end < 0) end = llen + end;
    if (start < 0) start = 0;
    if (start > end || start >= llen) return false;
    if (end >= llen) end = llen - 1;
    *first = (size_t)start;
    *last = (size_t)end;
    return true;
}

/* The ascending ranks [*a, *b] of z's elements in a score or lex range (a
 * lex range is looked up from the top when rev); false when there are none. */
static bool bounds_ranks(ts_zset *z, const zbounds *r, bool rev, size_t *a, size_t *b)
{
    if (r->type == RANGE_SCORE) return ts_zset_score_ranks(z, &r->sr, a, b);
    return ts_zset_lex_ranks(z, &r->lr, rev, a, b);
}

/* ---------- ZCOUNT ZLEXCOUNT ---------- */

static void zcount_generic(ts_cmd_ctx *c, int type)
{
    zbounds r;
    if (!parse_bounds(c, type, c->argv[2], c->argv[3], &r)) return;
    bool wrong;
    ts_entry *e = zread(c, c->argv[1], &wrong);
    if (wrong) return;
    size_t a, b;
    ts_zset z;
    if (e) z = ts_zset_of(e);
    ts_reply_int(c->r, e && bounds_ranks(&z, &r, false, &a, &b) ? (long long)(b - a + 1) : 0);
}

void cmd_zcount(ts_cmd_ctx *c) { zcount_generic(c, RANGE_SCORE); }
void cmd_zlexcount(ts_cmd_ctx *c) { zcount_generic(c, RANGE_LEX); }

/* ---------- result sets (store destinations) ---------- */

typedef struct zitem {
    const char *m;
    size_t n;
    double s;
} zitem;

typedef struct zitems {
    zitem *v;
    size_t n, cap;
} zitems;

static void items_push(zitems *it, const char *m, size_t n, double s)
{
    if (it->n == it->cap) {
        it->cap = it->cap ? it->cap * 2 : 16;
        it->v = ts_realloc(it->v, it->cap * sizeof(zitem));
    }
    it->v[it->n++] = (zitem){m, n, s};
}

static int item_cmp(const void *pa, const void *pb)
{
    const zitem *a = pa, *b = pb;
    if (a->s < b->s) return -1;
    if (a->s > b->s) return 1;
    return ts_zmember_cmp(a->m, a->n, b->m, b->n);
}

/* Builds a sorted set from items already in ascending order, in the
 * encoding Redis picks for a stored result (zsetConvertToListpackIfNeeded). */
static ts_zset build_sorted(ts_cmd_ctx *c, const zitems *it)
{
    const ts_config *cfg = ts_db_config(&c->ex);
    size_t maxlen = 0, total = 0;
    for (size_t i = 0; i < it->n; i++) {
        if (it->v[i].n > maxlen) maxlen = it->v[i].n;
        total += it->v[i].n;
    }
    if (it->n <= (unsigned long long)cfg->zset_max_listpack_entries &&
        maxlen <= (unsigned long long)cfg->zset_max_listpack_value && total <= TS_LP_SAFE_BYTES) {
        unsigned char *lp = ts_lp_new();
        for (size_t i = 0; i < it->n; i++) lp = ts_zset_lp_append(lp, it->v[i].m, it->v[i].n, it->v[i].s);
        return (ts_zset){lp, TS_ENC_LISTPACK};
    }
    ts_zsl *zs = ts_zsl_new();
    for (size_t i = 0; i < it->n; i++) ts_zsl_append(zs, it->v[i].m, it->v[i].n, it->v[i].s);
    return (ts_zset){zs, TS_ENC_SKIPLIST};
}

/* Stores the result at dst (replacing any value and TTL) and replies with
 * its size; an empty result deletes dst and replies 0. Signals dst like
 * Redis's Z*STORE: setKey, or a delete that found a key. */
static void store_result(ts_cmd_ctx *c, ts_arg dst, const zitems *it)
{
    if (it->n == 0) {
        if (ts_db_delete(&c->ex, dst)) ts_db_signal_modified(&c->ex, dst);
        ts_reply_int(c->r, 0);
        return;
    }
    ts_zset z = build_sorted(c, it);
    ts_db_delete(&c->ex, dst);
    ts_db_add_object(&c->ex, dst, TS_TYPE_ZSET, z.enc, z.ptr);
    ts_db_signal_modified(&c->ex, dst);
    ts_db_signal_ready(&c->ex, dst);
    ts_reply_int(c->r, (long long)it->n);
}

/* ---------- ZRANGE and friends ---------- */

enum { DIR_AUTO, DIR_FWD, DIR_REV };

typedef struct sink {
    ts_cmd_ctx *c;
    bool store, withscores;
    size_t handle;
    long count;
    zitems items;
} sink;

static void sink_begin(sink *k)
{
    if (!k->store) k->handle = ts_reply_defer(k->c->r);
}

static void sink_emit(sink *k, const char *m, size_t n, double s)
{
    k->count++;
    if (k->store) {
        /* a copy: listpack integers are formatted in the iterator's buffer */
        items_push(&k->items, ts_strndup(m, n), n, s);
        return;
    }
    reply_scored(k->c->r, m, n, s, k->withscores);
}

static void sink_end(sink *k, ts_arg dst, bool rev)
{
    if (k->store) {
        if (rev) {
            for (size_t i = 0, j = k->items.n; i + 1 < j; i++, j--) {
                zitem t = k->items.v[i];
                k->items.v[i] = k->items.v[j - 1];
                k->items.v[j - 1] = t;
            }
        }
        store_result(k->c, dst, &k->items);
        for (size_t i = 0; i < k->items.n; i++) free((void *)k->items.v[i].m);
        free(k->items.v);
        return;
    }
    ts_reply_set_array_len(k->c->r, k->handle, scored_len(k->c->r, (unsigned long long)k->count, k->withscores));
}

/* Emits `count` elements from ascending rank `first` (or, reversed, the
 * elements of ascending ranks [first, last] from the top), skipping
 * `offset` and emitting at most `limit` (< 0: all). */
static void emit_ranks(sink *k, ts_zset *z, size_t first, size_t last, bool rev, long long offset, long long limit)
{
    size_t len = ts_zset_length(z);
    size_t total = last - first + 1;
    if (offset < 0 || (unsigned long long)offset >= total) return;
    size_t n = total - (size_t)offset;
    if (limit >= 0 && (unsigned long long)limit < n) n = (size_t)limit;
    size_t start = rev ? len - 1 - last : first;
    ts_zset_it it;
    ts_zset_it_at(z, &it, start + (size_t)offset, rev);
    for (size_t i = 0; i < n && ts_zset_it_valid(&it); i++) {
        size_t ml;
        const char *m = ts_zset_it_member(&it, &ml);
        sink_emit(k, m, ml, ts_zset_it_score(&it));
        ts_zset_it_next(&it);
    }
}

static void zrange_generic(ts_cmd_ctx *c, int argc_start, bool store, int type, int dir)
{
    ts_arg key = c->argv[argc_start];
    int minidx = argc_start + 1, maxidx = argc_start + 2;
    long long offset = 0, limit = -1;
    bool withscores = false;
    for (int j = argc_start + 3; j < c->argc; j++) {
        int left = c->argc - j - 1;
        ts_arg o = c->argv[j];
        if (!store && ts_arg_eq(o, "withscores")) {
            withscores = true;
        } else if (ts_arg_eq(o, "limit") && left >= 2) {
            if (!get_long(c, c->argv[j + 1], &offset) || !get_long(c, c->argv[j + 2], &limit)) return;
            j += 2;
        } else if (dir == DIR_AUTO && ts_arg_eq(o, "rev")) {
            dir = DIR_REV;
        } else if (type == RANGE_AUTO && ts_arg_eq(o, "bylex")) {
            type = RANGE_LEX;
        } else if (type == RANGE_AUTO && ts_arg_eq(o, "byscore")) {
            type = RANGE_SCORE;
        } else {
            ts_reply_error(c->r, TS_ERR_SYNTAX);
            return;
        }
    }
    if (dir == DIR_AUTO) dir = DIR_FWD;
    if (type == RANGE_AUTO) type = RANGE_RANK;
    if (limit != -1 && type == RANGE_RANK) {
        ts_reply_error(c->r, "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
        return;
    }
    if (withscores && type == RANGE_LEX) {
        ts_reply_error(c->r, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return;
    }
    bool rev = dir == DIR_REV;
    if (rev && type != RANGE_RANK) {
        int t = minidx;
        minidx = maxidx;
        maxidx = t;
    }
    zbounds r;
    if (!parse_bounds(c, type, c->argv[minidx], c->argv[maxidx], &r)) return;
    sink k = {.c = c, .store = store, .withscores = withscores};
    bool wrong;
    ts_entry *e = zread(c, key, &wrong);
    if (wrong) return;
    if (!e) {
        if (store) store_result(c, c->argv[1], &k.items);
        else ts_reply_array(c->r, 0);
        return;
    }
    ts_zset z = ts_zset_of(e);
    long long llen = (long long)ts_zset_length(&z);
    sink_begin(&k);
    if (type == RANGE_RANK) {
        size_t start, end;
        if (rank_range(&r, llen, &start, &end)) {
            /* rank ranges count in the direction of the reply */
            size_t top = (size_t)llen - 1;
            emit_ranks(&k, &z, rev ? top - end : start, rev ? top - start : end, rev, 0, -1);
        }
    } else {
        size_t a, b;
        if (!(offset > 0 && offset >= llen) && bounds_ranks(&z, &r, rev, &a, &b))
            emit_ranks(&k, &z, a, b, rev, offset, limit);
    }
    sink_end(&k, c->argv[1], rev);
}

void cmd_zrange(ts_cmd_ctx *c) { zrange_generic(c, 1, false, RANGE_AUTO, DIR_AUTO); }
void cmd_zrangestore(ts_cmd_ctx *c) { zrange_generic(c, 2, true, RANGE_AUTO, DIR_AUTO); }
void cmd_zrevrange(ts_cmd_ctx *c) { zrange_generic(c, 1, false, RANGE_RANK, DIR_REV); }
void cmd_zrangebyscore(ts_cmd_ctx *c) { zrange_generic(c, 1, false, RANGE_SCORE, DIR_FWD); }
void cmd_zrevrangebyscore(ts_cmd_ctx *c) { zrange_generic(c, 1, false, RANGE_SCORE, DIR_REV); }
void cmd_zrangebylex(ts_cmd_ctx *c) { zrange_generic(c, 1, false, RANGE_LEX, DIR_FWD); }
void cmd_zrevrangebylex(ts_cmd_ctx *c) { zrange_generic(c, 1, false, RANGE_LEX, DIR_REV); }

/* ---------- ZREMRANGEBYRANK / SCORE / LEX ---------- */

static void zremrange_generic(ts_cmd_ctx *c, int type)
{
    zbounds r;
    if (!parse_bounds(c, type, c->argv[2], c->argv[3], &r)) return;
    ts_zset z;
    ts_entry *e = zset_or_reply(c, true, MISSING_ZERO, &z);
    if (!e) return;
    size_t a, b;
    long long llen = (long long)ts_zset_length(&z);
    bool any = type == RANGE_RANK ? rank_range(&r, llen, &a, &b) : bounds_ranks(&z, &r, false, &a, &b);
    size_t removed = any ? ts_zset_delete_ranks(&z, a, b) : 0;
    store_or_delete(c, e, &z);
    if (removed) ts_db_signal_modified(&c->ex, c->argv[1]);
    ts_reply_int(c->r, (long long)removed);
}

void cmd_zremrangebyrank(ts_cmd_ctx *c) { zremrange_generic(c, RANGE_RANK); }
void cmd_zremrangebyscore(ts_cmd_ctx *c) { zremrange_generic(c, RANGE_SCORE); }
void cmd_zremrangebylex(ts_cmd_ctx *c) { zremrange_generic(c, RANGE_LEX); }

/* ---------- ZPOPMIN / ZPOPMAX / ZMPOP ---------- */

static void zpop_command(ts_cmd_ctx *c, bool max)
{
    if (c->argc > 3) {
        ts_reply_error(c->r, TS_ERR_SYNTAX);
        return;
    }
    long long count = -1;
    if (c->argc == 3 &&
        !get_range_long(c, c->argv[2], 0, LLONG_MAX, "ERR value is out of range, must be positive", &count))
        return;
    bool wrong;
    ts_entry *e = zwrite(c, c->argv[1], &wrong);
    if (wrong) return;
    if (!e || count == 0) {
        ts_reply_array(c->r, 0);
        return;
    }
    int shape = c->r->resp > 2 && count != -1 ? TS_ZPOP_NESTED : TS_ZPOP_FLAT;
    ts_zset_pop(&c->ex, c->argv[1], e, max, count == -1 ? 1 : (long)count, shape);
}

void cmd_zpopmin(ts_cmd_ctx *c) { zpop_command(c, false); }
void cmd_zpopmax(ts_cmd_ctx *c) { zpop_command(c, true); }

void cmd_zmpop(ts_cmd_ctx *c)
{
    ts_mpop_args o;
    if (!ts_parse_mpop(c, 1, "min", "max", &o)) return;
    ts_entry *e;
    int k = ts_first_key_of_type(c, o.first_key, o.first_key + o.nkeys, TS_TYPE_ZSET, &e);
    if (k < 0) return;
    if (k == 0) { ts_reply_null_array(c->r); return; }
    ts_zset_pop(&c->ex, c->argv[k], e, o.second_word, o.count, TS_ZPOP_KEY_NESTED);
}

/* ---------- ZRANDMEMBER ---------- */

static _Thread_local uint64_t rnd_state;

static uint64_t rnd(void)
{
    if (!rnd_state) rnd_state = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)&rnd_state;
    uint64_t z = (rnd_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* One random element: fair over the listpack, the index's random entry for
 * a skiplist (like Redis's dictGetFairRandomKey, close to fair). */
static void random_element(ts_zset *z, ts_zset_it *it)
{
    if (z->enc == TS_ENC_SKIPLIST) {
        ts_zsl *zs = z->ptr;
        ts_entry *e = ts_table_random(&zs->dict);
        it->enc = TS_ENC_SKIPLIST;
        it->rev = false;
        it->x = ts_zsl_node_of_entry(e);
        return;
    }
    ts_zset_it_at(z, it, (size_t)(rnd() % ts_zset_length(z)), false);
}

static void emit_it(ts_cmd_ctx *c, ts_zset_it *it, bool withscores)
{
    size_t ml;
    const char *m = ts_zset_it_member(it, &ml);
    reply_scored(c->r, m, ml, ts_zset_it_score(it), withscores);
}

static void zrandmember_count(ts_cmd_ctx *c, long long l, bool withscores)
{
    ts_zset z;
    if (!zset_or_reply(c, false, MISSING_EMPTY, &z)) return;
    size_t size = ts_zset_length(&z);
    bool uniq = l >= 0;
    unsigned long long count = uniq ? (unsigned long long)l : (unsigned long long)(-l);
    if (count == 0) {
        ts_reply_array(c->r, 0);
        return;
    }
    ts_zset_it it;
    if (!uniq || count == 1) {
        ts_reply_array(c->r, scored_len(c->r, count, withscores));
        unsigned char **ps = NULL;
        if (z.enc == TS_ENC_LISTPACK && count > 1) {
            /* index the pairs once: every pick is then O(1) */
            ps = ts_malloc(size * sizeof(*ps));
            size_t i = 0;
            for (ts_zset_it_at(&z, &it, 0, false); ts_zset_it_valid(&it); ts_zset_it_next(&it)) ps[i++] = it.p;
        }
        for (unsigned long long i = 0; i < count && !ts_reply_over_limit(c->r); i++) {
            if (ps) it.p = ps[rnd() % size];
            else random_element(&z, &it);
            emit_it(c, &it, withscores);
        }
        free(ps);
        return;
    }
    if (count >= size) {
        ts_reply_array(c->r, scored_len(c->r, size, withscores));
        for (ts_zset_it_at(&z, &it, 0, false); ts_zset_it_valid(&it); ts_zset_it_next(&it))
            emit_it(c, &it, withscores);
        return;
    }
    /* A random subset of distinct ranks: a partial Fisher-Yates shuffle
     * over the ranks, kept sparse (only displaced ranks are stored). */
    ts_table moved;
    ts_table_init(&moved, NULL);
    ts_reply_array(c->r, scored_len(c->r, count, withscores));
    for (unsigned long long i = 0; i < count; i++) {
        uint64_t j = i + rnd() % (size - i);
        uint64_t vi = i, vj = j;
        ts_entry *ei = ts_table_find(&moved, (const char *)&i, sizeof i);
        ts_entry *ej = ts_table_find(&moved, (const char *)&j, sizeof j);
        ts_value v;
        if (ei) { ts_entry_value(ei, &v); vi = (uint64_t)v.i; }
        if (ej) { ts_entry_value(ej, &v); vj = (uint64_t)v.i; }
        ts_value nv = {.form = TS_FORM_INT};
        nv.i = (int64_t)vi;
        ts_table_set(&moved, (const char *)&j, sizeof j, &nv, -1, false);
        ts_zset_it_at(&z, &it, (size_t)vj, false);
        emit_it(c, &it, withscores);
    }
    ts_table_clear(&moved);
}

void cmd_zrandmember(ts_cmd_ctx *c)
{
    if (c->argc >= 3) {
        long long l;
        bool withscores;
        if (!ts_parse_rand_count(c, "withscores", &l, &withscores)) return;
        zrandmember_count(c, l, withscores);
        return;
    }
    ts_zset z;
    if (!zset_or_reply(c, false, MISSING_NIL, &z)) return;
    ts_zset_it it;
    random_element(&z, &it);
    emit_it(c, &it, false);
}

/* ---------- ZUNION ZINTER ZDIFF (+STORE) ZINTERCARD ---------- */

enum { OP_UNION, OP_INTER, OP_DIFF };
enum { AGG_SUM, AGG_MIN, AGG_MAX };

/* An input of the set-algebra commands: a sorted set, or a plain set
 * whose members all score 1 (Redis accepts both). */
typedef struct zsrc {
    ts_zset z;
    bool present, is_set;
    void *set;
    int set_enc;
    double weight;
    size_t len;
} zsrc;

typedef void zsrc_fn(void *ctx, const char *m, size_t n, double score);

typedef struct set_walk {
    zsrc_fn *fn;
    void *ctx;
} set_walk;

static void set_walk_cb(void *ctx, const char *p, size_t n)
{
    set_walk *w = ctx;
    w->fn(w->ctx, p, n, 1.0);
}

/* Calls fn for every member of src with its score. */
static void src_each(zsrc *src, zsrc_fn *fn, void *ctx)
{
    if (!src->present || !src->len) return;
    if (src->is_set) {
        set_walk w = {fn, ctx};
        ts_set_foreach(src->set, src->set_enc, set_walk_cb, &w);
        return;
    }
    ts_zset_it it;
    for (ts_zset_it_at(&src->z, &it, 0, false); ts_zset_it_valid(&it); ts_zset_it_next(&it)) {
        size_t ml;
        const char *m = ts_zset_it_member(&it, &ml);
        fn(ctx, m, ml, ts_zset_it_score(&it));
    }
}

static bool src_score(zsrc *src, const char *m, size_t n, double *s)
{
    if (!src->present) return false;
    if (src->is_set) {
        *s = 1.0;
        return ts_set_has(src->set, src->set_enc, m, n);
    }
    return ts_zset_score(&src->z, m, n, s);
}

typedef struct op_state {
    ts_table *acc;
    zsrc *src;
    long long setnum, limit, cardinality;
    double weight;
    int agg;
    bool card_only, stop;
} op_state;

static void acc_put(ts_table *acc, const char *m, size_t n, double score)
{
    ts_value v = {.form = TS_FORM_INT};
    memcpy(&v.i, &score, sizeof score);
    ts_table_set(acc, m, n, &v, -1, false);
}

static void aggregate(double *target, double v, int agg)
{
    if (agg == AGG_SUM) {
        *target = *target + v;
        if (isnan(*target)) *target = 0.0;
    } else if (agg == AGG_MIN) {
        if (v < *target) *target = v;
    } else {
        if (v > *target) *target = v;
    }
}

static double weighted(double w, double s)
{
    double r = w * s;
    return isnan(r) ? 0 : r;
}

/* Stable sort of sources by cardinality (Redis's qsort of small arrays). */
static void sort_by_len(zsrc *s, long n)
{
    for (long i = 1; i < n; i++) {
        zsrc t = s[i];
        long j = i - 1;
        while (j >= 0 && s[j].len > t.len) {
            s[j + 1] = s[j];
            j--;
        }
        s[j + 1] = t;
    }
}

static void collect_cb(void *ctx, ts_entry *e)
{
    zitems *items = ctx;
    size_t n;
    const char *m = ts_entry_key(e, &n);
    ts_value v;
    ts_entry_value(e, &v);
    double s;
    memcpy(&s, &v.i, sizeof s);
    items_push(items, m, n, s);
}

static void inter_cb(void *ctx, const char *m, size_t n, double s0)
{
    op_state *st = ctx;
    if (st->stop) return;
    double score = weighted(st->src[0].weight, s0);
    for (long long k = 1; k < st->setnum; k++) {
        double s;
        if (!src_score(&st->src[k], m, n, &s)) return;
        aggregate(&score, st->src[k].weight * s, st->agg);
    }
    if (st->card_only) {
        st->cardinality++;
        if (st->limit && st->cardinality >= st->limit) st->stop = true;
        return;
    }
    acc_put(st->acc, m, n, score);
}

static void union_cb(void *ctx, const char *m, size_t n, double s0)
{
    op_state *st = ctx;
    double score = weighted(st->weight, s0);
    ts_entry *e = ts_table_find(st->acc, m, n);
    if (!e) {
        acc_put(st->acc, m, n, score);
        return;
    }
    ts_value v;
    double cur;
    ts_entry_value(e, &v);
    memcpy(&cur, &v.i, sizeof cur);
    aggregate(&cur, score, st->agg);
    memcpy(&v.i, &cur, sizeof cur);
    ts_table_set_value(st->acc, e, &v);
}

static void diff_cb(void *ctx, const char *m, size_t n, double s0)
{
    op_state *st = ctx;
    double s;
    for (long long k = 1; k < st->setnum; k++)
        if (src_score(&st->src[k], m, n, &s)) return;
    acc_put(st->acc, m, n, s0);
}

static void zsetop(ts_cmd_ctx *c, int numkeys_idx, int op, bool store, bool card_only)
{
    ts_arg dst = store ? c->argv[1] : (ts_arg){NULL, 0};
    long long setnum;
    if (!get_long(c, c->argv[numkeys_idx], &setnum)) return;
    if (setnum < 1) {
        ts_reply_errorf(c->r, "ERR at least 1 input key is needed for '%s' command", c->cmd->name);
        return;
    }
    if (setnum > c->argc - numkeys_idx - 1) {
        ts_reply_error(c->r, TS_ERR_SYNTAX);
        return;
    }
    zsrc *src = ts_calloc((size_t)setnum, sizeof(zsrc));
    int j = numkeys_idx + 1;
    for (long long i = 0; i < setnum; i++, j++) {
        ts_entry *e = store ? ts_db_lookup_write(&c->ex, c->argv[j]) : ts_db_lookup_read(&c->ex, c->argv[j]);
        src[i].weight = 1.0;
        if (!e) continue;
        if (ts_entry_type(e) == TS_TYPE_SET) {
            ts_value v;
            ts_entry_value(e, &v);
            src[i].is_set = true;
            src[i].set = v.ptr;
            src[i].set_enc = v.enc;
            src[i].len = ts_set_size(v.ptr, v.enc);
        } else if (ts_entry_type(e) == TS_TYPE_ZSET) {
            src[i].z = ts_zset_of(e);
            src[i].len = ts_zset_length(&src[i].z);
        } else {
            ts_reply_error(c->r, TS_ERR_WRONGTYPE);
            goto out;
        }
        src[i].present = true;
    }
    int agg = AGG_SUM;
    bool withscores = false;
    long long limit = 0;
    while (j < c->argc) {
        int remaining = c->argc - j;
        if (op != OP_DIFF && !card_only && remaining >= setnum + 1 && ts_arg_eq(c->argv[j], "weights")) {
            j++;
            for (long long i = 0; i < setnum; i++, j++) {
                if (!ts_zset_parse_score(c->argv[j], &src[i].weight)) {
                    ts_reply_error(c->r, "ERR weight value is not a float");
                    goto out;
                }
            }
        } else if (op != OP_DIFF && !card_only && remaining >= 2 && ts_arg_eq(c->argv[j], "aggregate")) {
            j++;
            if (ts_arg_eq(c->argv[j], "sum")) agg = AGG_SUM;
            else if (ts_arg_eq(c->argv[j], "min")) agg = AGG_MIN;
            else if (ts_arg_eq(c->argv[j], "max")) agg = AGG_MAX;
            else {
                ts_reply_error(c->r, TS_ERR_SYNTAX);
                goto out;
            }
            j++;
        } else if (card_only && remaining >= 2 && ts_arg_eq(c->argv[j], "limit")) {
            j++;
            if (!get_range_long(c, c->argv[j], 0, LLONG_MAX, "ERR LIMIT can't be negative", &limit)) goto out;
            j++;
        } else if (!store && !card_only && ts_arg_eq(c->argv[j], "withscores")) {
            j++;
            withscores = true;
        } else {
            ts_reply_error(c->r, TS_ERR_SYNTAX);
            goto out;
        }
    }
    if (op != OP_DIFF) sort_by_len(src, (long)setnum);

    /* Accumulate: member -> score in a scratch table (key = member bytes,
     * value = the double's bits as INT). */
    ts_table acc;
    ts_table_init(&acc, NULL);
    zitems items = {0};
    op_state st = {.acc = &acc, .src = src, .setnum = setnum, .limit = limit, .agg = agg, .card_only = card_only};
    if (op == OP_INTER) {
        src_each(&src[0], inter_cb, &st);
    } else if (op == OP_UNION) {
        for (long long i = 0; i < setnum; i++) {
            st.weight = src[i].weight;
            src_each(&src[i], union_cb, &st);
        }
    } else {
        src_each(&src[0], diff_cb, &st);
    }
    long long cardinality = st.cardinality;
    if (card_only) {
        ts_reply_int(c->r, cardinality);
        ts_table_clear(&acc);
        goto out;
    }
    /* Collect and sort by (score, member); the members stay in acc. */
    while (ts_table_rehash_step(&acc, 1024)) {}
    uint64_t cursor = 0;
    do {
        cursor = ts_table_scan(&acc, cursor, 1024, collect_cb, &items);
    } while (cursor);
    if (items.n > 1) qsort(items.v, items.n, sizeof(zitem), item_cmp);
    if (store) {
        store_result(c, dst, &items);
    } else {
        ts_reply_array(c->r, scored_len(c->r, items.n, withscores));
        for (size_t i = 0; i < items.n; i++) reply_scored(c->r, items.v[i].m, items.v[i].n, items.v[i].s, withscores);
    }
    free(items.v);
    ts_table_clear(&acc);
out:
    free(src);
}

void cmd_zunion(ts_cmd_ctx *c) { zsetop(c, 1, OP_UNION, false, false); }
void cmd_zinter(ts_cmd_ctx *c) { zsetop(c, 1, OP_INTER, false, false); }
void cmd_zdiff(ts_cmd_ctx *c) { zsetop(c, 1, OP_DIFF, false, false); }
void cmd_zunionstore(ts_cmd_ctx *c) { zsetop(c, 2, OP_UNION, true, false); }
void cmd_zinterstore(ts_cmd_ctx *c) { zsetop(c, 2, OP_INTER, true, false); }
void cmd_zdiffstore(ts_cmd_ctx *c) { zsetop(c, 2, OP_DIFF, true, false); }
void cmd_zintercard(ts_cmd_ctx *c) { zsetop(c, 1, OP_INTER, false, true); }

/* ---------- ZSCAN key cursor [MATCH pattern] [COUNT count] ---------- */

typedef struct zscan_found {
    ts_entry **e;
    size_t n, cap;
} zscan_found;

static void zscan_cb(void *ctx, ts_entry *e)
{
    zscan_found *x = ctx;
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 16;
        x->e = ts_realloc(x->e, sizeof(*x->e) * x->cap);
    }
    x->e[x->n++] = e;
}

void cmd_zscan(ts_cmd_ctx *c)
{
    uint64_t cursor;
    if (!ts_arg_to_cursor(c->argv[2], &cursor)) {
        ts_reply_error(c->r, "ERR invalid cursor");
        return;
    }
    ts_zset z;
    if (!zset_or_reply(c, false, MISSING_EMPTY_SCAN, &z)) return;
    ts_scan_opts o;
    if (!ts_parse_scan_opts(c, 3, false, &o)) return;
    ts_arg pat = o.pattern;
    uint64_t next = 0;
    zitems items = {0};
    zscan_found found = {0};
    char *texts = NULL;
    if (z.enc == TS_ENC_LISTPACK) {
        ts_zset_it it;
        /* listpack members may be formatted integers: copy them */
        size_t len = ts_zset_length(&z);
        texts = ts_malloc(len * 24 + 1);
        size_t i = 0;
        for (ts_zset_it_at(&z, &it, 0, false); ts_zset_it_valid(&it); ts_zset_it_next(&it), i++) {
            size_t ml;
            const char *m = ts_zset_it_member(&it, &ml);
            if (m == it.buf) {
                memcpy(texts + i * 24, m, ml);
                m = texts + i * 24;
            }
            items_push(&items, m, ml, ts_zset_it_score(&it));
        }
    } else {
        ts_zsl *zs = z.ptr;
        next = ts_table_scan(&zs->dict, cursor, (size_t)o.count, zscan_cb, &found);
        for (size_t i = 0; i < found.n; i++) {
            size_t ml;
            const char *m = ts_entry_key(found.e[i], &ml);
            items_push(&items, m, ml, ts_zsl_score(ts_zsl_node_of_entry(found.e[i])));
        }
    }
    size_t live = 0;
    for (size_t i = 0; i < items.n; i++)
        if (!pat.ptr || ts_glob_match(pat.ptr, pat.len, items.v[i].m, items.v[i].n, false)) items.v[live++] = items.v[i];
    char buf[32];
    int blen = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)next);
    ts_reply_array(c->r, 2);
    ts_reply_bulk(c->r, buf, (size_t)blen);
    ts_reply_array(c->r, (long)live * 2);
    for (size_t i = 0; i < live; i++) {
        reply_member(c, items.v[i].m, items.v[i].n);
        char sb[32];
        int sl;
        if (z.enc == TS_ENC_LISTPACK) {
            /* the stored text: integral scores as integers */
            double s = items.v[i].s;
            long long ll = (long long)s;
            if (s >= (double)(-LLONG_MAX / 2) && s <= (double)(LLONG_MAX / 2) && (double)ll == s)
                sl = snprintf(sb, sizeof(sb), "%lld", ll);
            else
                sl = ts_zset_fmt_score(sb, s);
        } else {
            sl = ts_zset_fmt_score(sb, items.v[i].s);
        }
        ts_reply_bulk(c->r, sb, (size_t)sl);
    }
    free(items.v);
    free(found.e);
    free(texts);
}
