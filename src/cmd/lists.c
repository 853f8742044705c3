/*
 * lists.c - the LIST commands: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN
 * LRANGE LINDEX LSET LINSERT LREM LTRIM LPOS LMOVE RPOPLPUSH LMPOP, with
 * Redis 7.0's replies and error texts. (The blocking ones, BLPOP & co.,
 * build on t_list.h's pop/move steps elsewhere.)
 *
 * Owns: nothing beyond the call. Values are quicklists (quicklist.h) held
 * by TS_TYPE_LIST entries (t_list.h).
 * Thread: the owner of c->shard. LMOVE, RPOPLPUSH and LMPOP over keys on
 * several shards run here too, on a scratch database of borrowed keys
 * (multi_borrow.c), so they only use ts_db_* calls.
 *
 * Shape: each command checks things in the order Redis does (argument
 * parsing before or after the lookup differs per command, and decides which
 * error a client sees), then works on the quicklist.
 */
#include <limits.h>
#include <string.h>

#include "cmds.h"
#include "tessera/config/config.h"
#include "tessera/store/db.h"
#include "tessera/store/watched_keys.h"
#include "tessera/types/t_list.h"
#include "typed_ops.h"

#define ERR_INDEX_RANGE "ERR index out of range"
#define ERR_MUST_POSITIVE "ERR value is out of range, must be positive"

static void reply_val(ts_reply *r, const ts_lp_val *v)
{
    if (v->str) ts_reply_bulk(r, v->str, v->len);
    else ts_reply_bulk_ll(r, v->ll);
}

/* True if the element equals the argument bytes. */
static bool val_eq(const ts_lp_val *v, ts_arg a)
{
    if (v->str) return v->len == a.len && memcmp(v->str, a.ptr, a.len) == 0;
    char buf[24];
    size_t n = ts_ll_to_str(buf, v->ll);
    return n == a.len && memcmp(buf, a.ptr, n) == 0;
}

static bool parse_long(ts_cmd_ctx *c, ts_arg a, long long *out)
{
    if (ts_arg_to_ll(a, out)) return true;
    ts_reply_error(c->r, TS_ERR_NOT_INT);
    return false;
}

/* LEFT|RIGHT; false when neither. */
static ts_quicklist *list_of(ts_entry *e) { return ts_entry_obj(e); }

/* Deletes the key of e when its list is empty. */
static void drop_if_empty(ts_cmd_ctx *c, ts_entry *e)
{
    if (list_of(e)->count == 0) ts_table_delete_entry(ts_db_table(&c->ex), e);
}

/* What a command replies when its key is missing. */
enum { MISSING_NIL, MISSING_ZERO, MISSING_EMPTY, MISSING_NIL_ARRAY, MISSING_OK, MISSING_NO_KEY };

/* Redis's lookupKey{Read,Write}OrReply + checkType for the list at argv[1]:
 * its entry; NULL after replying WRONGTYPE or, for a missing key, the
 * `missing` reply. */
static ts_entry *list_or_reply(ts_cmd_ctx *c, bool write, int missing)
{
    bool wrong;
    ts_arg key = c->argv[1];
    ts_entry *e = write ? ts_db_lookup_write_type(&c->ex, key, TS_TYPE_LIST, &wrong)
                        : ts_db_lookup_read_type(&c->ex, key, TS_TYPE_LIST, &wrong);
    if (wrong) return NULL;
    if (e) return e;
    switch (missing) {
    case MISSING_NIL: ts_reply_null(c->r); break;
    case MISSING_ZERO: ts_reply_int(c->r, 0); break;
    case MISSING_EMPTY: ts_reply_array(c->r, 0); break;
    case MISSING_NIL_ARRAY: ts_reply_null_array(c->r); break;
    case MISSING_OK: ts_reply_ok(c->r); break;
    default: ts_reply_error(c->r, TS_ERR_NO_KEY); break;
    }
    return NULL;
}

/* LRANGE's and LTRIM's start and end over llen elements, as Redis clips
 * them (negative indexes count from the end); false when the range is empty. */
static bool list_range(long long llen, long long *start, long long *end)
{
    if (*start < 0) *start += llen;
    if (*end < 0) *end += llen;
    if (*start < 0) *start = 0;
    if (*start > *end || *start >= llen) return false;
    if (*end >= llen) *end = llen - 1;
    return true;
}

/* ---------- LPUSH / RPUSH / LPUSHX / RPUSHX ---------- */

static void push_generic(ts_cmd_ctx *c, int where, bool xx)
{
    ts_arg key = c->argv[1];
    bool wrong;
    ts_entry *e = ts_db_lookup_write_type(&c->ex, key, TS_TYPE_LIST, &wrong);
    if (wrong) return;
    ts_quicklist *ql;
    if (!e) {
        if (xx) { ts_reply_int(c->r, 0); return; }
        ql = ts_ql_new(ts_db_config(&c->ex)->list_max_listpack_size, ts_db_config(&c->ex)->list_compress_depth);
        ts_db_add_object(&c->ex, key, TS_TYPE_LIST, TS_ENC_QUICKLIST, ql);
    } else {
        ql = list_of(e);
    }
    for (int i = 2; i < c->argc; i++) ts_ql_push(ql, where, c->argv[i].ptr, c->argv[i].len);
    ts_reply_int(c->r, (long long)ql->count);
    ts_db_signal_modified(&c->ex, key);
    ts_db_signal_ready(&c->ex, key);
}

void cmd_lpush(ts_cmd_ctx *c) { push_generic(c, TS_LIST_HEAD, false); }
void cmd_rpush(ts_cmd_ctx *c) { push_generic(c, TS_LIST_TAIL, false); }
void cmd_lpushx(ts_cmd_ctx *c) { push_generic(c, TS_LIST_HEAD, true); }
void cmd_rpushx(ts_cmd_ctx *c) { push_generic(c, TS_LIST_TAIL, true); }

/* ---------- LPOP / RPOP key [count] ---------- */

static void pop_generic(ts_cmd_ctx *c, int where)
{
    long long count = 1;
    bool has_count = c->argc == 3;
    if (c->argc > 3) {
        ts_reply_errorf(c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
        return;
    }
    if (has_count && (!ts_arg_to_ll(c->argv[2], &count) || count < 0)) {
        ts_reply_error(c->r, ERR_MUST_POSITIVE);
        return;
    }
    ts_entry *e = list_or_reply(c, true, has_count ? MISSING_NIL_ARRAY : MISSING_NIL);
    if (!e) return;
    if (has_count && count == 0) {
        ts_reply_array(c->r, 0);
        return;
    }
    ts_list_pop_reply(&c->ex, c->argv[1], e, where, (long)(count > LONG_MAX ? LONG_MAX : count), !has_count);
}

void cmd_lpop(ts_cmd_ctx *c) { pop_generic(c, TS_LIST_HEAD); }
void cmd_rpop(ts_cmd_ctx *c) { pop_generic(c, TS_LIST_TAIL); }

/* ---------- LLEN / LINDEX / LRANGE ---------- */

void cmd_llen(ts_cmd_ctx *c)
{
    bool wrong;
    ts_entry *e = ts_db_lookup_read_type(&c->ex, c->argv[1], TS_TYPE_LIST, &wrong);
    if (wrong) return;
    ts_reply_int(c->r, e ? (long long)list_of(e)->count : 0);
}

void cmd_lindex(ts_cmd_ctx *c)
{
    ts_entry *e = list_or_reply(c, false, MISSING_NIL);
    if (!e) return;
    long long index;
    if (!parse_long(c, c->argv[2], &index)) return;
    ts_lp_val v;
    ts_quicklist *ql = list_of(e);
    if (index < -(long long)ql->count || index >= (long long)ql->count || !ts_ql_index(ql, (long)index, &v)) {
        ts_reply_null(c->r);
        return;
    }
    reply_val(c->r, &v);
}

void cmd_lrange(ts_cmd_ctx *c)
{
    long long start, end;
    if (!parse_long(c, c->argv[2], &start) || !parse_long(c, c->argv[3], &end)) return;
    ts_entry *e = list_or_reply(c, false, MISSING_EMPTY);
    if (!e) return;
    ts_quicklist *ql = list_of(e);
    if (!list_range((long long)ql->count, &start, &end)) { ts_reply_array(c->r, 0); return; }
    long long n = end - start + 1;
    ts_reply_array(c->r, (long)n);
    ts_ql_iter it;
    ts_lp_val v;
    /* The iterator finds start from the nearer end of the list. */
    ts_ql_iter_at(ql, (long)start, TS_QL_TAIL, &it);
    while (n-- > 0 && ts_ql_iter_next(&it, &v)) reply_val(c->r, &v);
}

/* ---------- LSET / LINSERT ---------- */

void cmd_lset(ts_cmd_ctx *c)
{
    ts_entry *e = list_or_reply(c, true, MISSING_NO_KEY);
    if (!e) return;
    long long index;
    if (!parse_long(c, c->argv[2], &index)) return;
    ts_quicklist *ql = list_of(e);
    if (index < -(long long)ql->count || index >= (long long)ql->count ||
        !ts_ql_replace(ql, (long)index, c->argv[3].ptr, c->argv[3].len)) {
        ts_reply_error(c->r, ERR_INDEX_RANGE);
        return;
    }
    ts_reply_ok(c->r);
    ts_db_signal_modified(&c->ex, c->argv[1]);
}

void cmd_linsert(ts_cmd_ctx *c)
{
    int where;
    if (ts_arg_eq(c->argv[2], "after")) where = TS_LP_AFTER;
    else if (ts_arg_eq(c->argv[2], "before")) where = TS_LP_BEFORE;
    else { ts_reply_error(c->r, TS_ERR_SYNTAX); return; }
    ts_entry *e = list_or_reply(c, true, MISSING_ZERO);
    if (!e) return;
    ts_quicklist *ql = list_of(e);
    ts_ql_iter it;
    ts_lp_val v;
    ts_ql_iter_at(ql, 0, TS_QL_TAIL, &it);
    while (ts_ql_iter_next(&it, &v)) {
        if (val_eq(&v, c->argv[3])) {
            ts_ql_iter_insert(&it, where, c->argv[4].ptr, c->argv[4].len);
            ts_reply_int(c->r, (long long)ql->count);
            ts_db_signal_modified(&c->ex, c->argv[1]);
            ts_db_signal_ready(&c->ex, c->argv[1]);
            return;
        }
    }
    ts_reply_int(c->r, -1);
}

/* ---------- LREM / LTRIM ---------- */

void cmd_lrem(ts_cmd_ctx *c)
{
    long long toremove;
    if (!parse_long(c, c->argv[2], &toremove)) return;
    ts_entry *e = list_or_reply(c, true, MISSING_ZERO);
    if (!e) return;
    ts_quicklist *ql = list_of(e);
    ts_ql_iter it;
    ts_lp_val v;
    long long removed = 0;
    if (toremove < 0) {
        toremove = toremove == LLONG_MIN ? LLONG_MAX : -toremove;
        ts_ql_iter_at(ql, -1, TS_QL_HEAD, &it);
    } else {
        ts_ql_iter_at(ql, 0, TS_QL_TAIL, &it);
    }
    while (ts_ql_iter_next(&it, &v)) {
        if (val_eq(&v, c->argv[3])) {
            ts_ql_iter_del(&it);
            removed++;
            if (toremove && removed == toremove) break;
        }
    }
    ts_reply_int(c->r, removed);
    if (removed) ts_db_signal_modified(&c->ex, c->argv[1]);   /* before the delete, as Redis */
    drop_if_empty(c, e);
}

void cmd_ltrim(ts_cmd_ctx *c)
{
    long long start, end;
    if (!parse_long(c, c->argv[2], &start) || !parse_long(c, c->argv[3], &end)) return;
    ts_entry *e = list_or_reply(c, true, MISSING_OK);
    if (!e) return;
    ts_quicklist *ql = list_of(e);
    long long llen = (long long)ql->count, ltrim, rtrim;
    if (list_range(llen, &start, &end)) {
        ltrim = start;
        rtrim = llen - end - 1;
    } else {
        ltrim = llen;
        rtrim = 0;
    }
    if (ltrim) ts_ql_del_range(ql, 0, (size_t)ltrim);
    if (rtrim) ts_ql_del_range(ql, (long)(ql->count - (size_t)rtrim), (size_t)rtrim);
    ts_reply_ok(c->r);
    drop_if_empty(c, e);
    ts_db_signal_modified(&c->ex, c->argv[1]);   /* always, even when nothing was trimmed */
}

/* ---------- LPOS key element [RANK rank] [COUNT num] [MAXLEN len] ---------- */

void cmd_lpos(ts_cmd_ctx *c)
{
    long long rank = 1, count = -1, maxlen = 0;
    for (int j = 3; j < c->argc; j++) {
        ts_arg opt = c->argv[j];
        bool more = j + 1 < c->argc;
        if (ts_arg_eq(opt, "rank") && more) {
            if (!parse_long(c, c->argv[++j], &rank)) return;
            if (rank == 0) {
                ts_reply_error(c->r, "ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
                                     "second ... or use negative to start from the end of the list");
                return;
            }
        } else if (ts_arg_eq(opt, "count") && more) {
            if (!ts_arg_to_ll(c->argv[++j], &count) || count < 0) {
                ts_reply_error(c->r, "ERR COUNT can't be negative");
                return;
            }
        } else if (ts_arg_eq(opt, "maxlen") && more) {
            if (!ts_arg_to_ll(c->argv[++j], &maxlen) || maxlen < 0) {
                ts_reply_error(c->r, "ERR MAXLEN can't be negative");
                return;
            }
        } else {
            ts_reply_error(c->r, TS_ERR_SYNTAX);
            return;
        }
    }
    ts_entry *e = list_or_reply(c, false, count != -1 ? MISSING_EMPTY : MISSING_NIL);
    if (!e) return;
    ts_quicklist *ql = list_of(e);
    int dir = TS_QL_TAIL;
    /* A negative rank searches from the tail; LLONG_MIN (whose negation
     * overflows) behaves as Redis's does: every match qualifies. */
    unsigned long long urank;
    if (rank < 0) {
        dir = TS_QL_HEAD;
        urank = rank == LLONG_MIN ? 1 : (unsigned long long)-rank;
    } else {
        urank = (unsigned long long)rank;
    }
    ts_ql_iter it;
    ts_lp_val v;
    ts_ql_iter_at(ql, dir == TS_QL_TAIL ? 0 : -1, dir, &it);
    long long llen = (long long)ql->count, index = 0, matches = 0, found = -1;
    size_t handle = 0;
    long arraylen = 0;
    if (count != -1) handle = ts_reply_defer(c->r);
    while ((maxlen == 0 || index < maxlen) && ts_ql_iter_next(&it, &v)) {
        if (val_eq(&v, c->argv[2])) {
            matches++;
            if ((unsigned long long)matches >= urank) {
                long long pos = dir == TS_QL_TAIL ? index : llen - 1 - index;
                if (count != -1) {
                    ts_reply_int(c->r, pos);
                    arraylen++;
                    if (count && arraylen >= count) break;
                } else {
                    found = pos;
                    break;
                }
            }
        }
        index++;
    }
    if (count != -1) ts_reply_set_array_len(c->r, handle, arraylen);
    else if (found >= 0) ts_reply_int(c->r, found);
    else ts_reply_null(c->r);
}

/* ---------- LMOVE / RPOPLPUSH ---------- */

static void move_generic(ts_cmd_ctx *c, int from, int to)
{
    ts_entry *se = list_or_reply(c, true, MISSING_NIL);
    if (!se) return;
    ts_list_move(&c->ex, c->argv[1], se, c->argv[2], from, to);
}

void cmd_lmove(ts_cmd_ctx *c)
{
    int from, to;
    if (!ts_list_parse_end(c->argv[3], &from) || !ts_list_parse_end(c->argv[4], &to)) {
        ts_reply_error(c->r, TS_ERR_SYNTAX);
        return;
    }
    move_generic(c, from, to);
}

void cmd_rpoplpush(ts_cmd_ctx *c) { move_generic(c, TS_LIST_TAIL, TS_LIST_HEAD); }

/* ---------- LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count] ---------- */

void cmd_lmpop(ts_cmd_ctx *c)
{
    ts_mpop_args o;
    if (!ts_parse_mpop(c, 1, "left", "right", &o)) return;
    ts_entry *e;
    int k = ts_first_key_of_type(c, o.first_key, o.first_key + o.nkeys, TS_TYPE_LIST, &e);
    if (k < 0) return;
    if (k == 0) { ts_reply_null_array(c->r); return; }
    ts_reply_array(c->r, 2);
    ts_reply_bulk(c->r, c->argv[k].ptr, c->argv[k].len);
    ts_list_pop_reply(&c->ex, c->argv[k], e, o.second_word ? TS_LIST_TAIL : TS_LIST_HEAD, o.count, false);
}
