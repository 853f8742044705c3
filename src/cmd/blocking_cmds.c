/*
 * blocking_cmds.c - BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
 * BZPOPMAX, BZMPOP.
 *
 * Owns: nothing beyond one call. Each function is the command's single
 * implementation for all three ways it runs (blocking.h): the client's
 * attempt (c->blocker set: nothing to pop -> ts_cmd_block registers it),
 * serve mode on the shard that got the data (c->serve_key: only that key
 * is considered, and it is known to hold the right type), and everywhere
 * else (no blocker: nothing to pop -> the timeout reply at once).
 * The pops themselves are the list and sorted-set primitives (t_list.h,
 * t_zset.h), so BLPOP's element leaves the list exactly like LPOP's.
 *
 * The AOF never sees a blocking form (a replay must not block): a pop is
 * logged as the non-blocking command with the same effect on the key
 * that was served, and a client that blocks logs nothing (aof.h).
 *
 * Arguments are checked in Redis 7.0's order, so the same error comes
 * first: BLPOP/BZPOP* check the timeout before any key; BLMOVE checks the
 * directions, then the timeout; B*MPOP check numkeys, the direction, COUNT,
 * and only then the timeout.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "cmds.h"
#include "tessera/persist/aof.h"
#include "tessera/route/blocking.h"
#include "tessera/store/db.h"
#include "tessera/types/t_list.h"
#include "tessera/types/t_zset.h"
#include "typed_ops.h"
#include "tessera/util/clock.h"

static ts_arg end_name(int where) { return where == TS_LIST_HEAD ? (ts_arg){"LEFT", 4} : (ts_arg){"RIGHT", 5}; }

/* <cmd> key count: the non-blocking pop of up to count elements. */
static void prop_pop_count(ts_cmd_ctx *c, const char *cmd, ts_arg key, long count)
{
    ts_prop_begin(c, 3);
    if (!ts_prop_on(c)) return;
    ts_aof_log_arg_str(c->aof, cmd);
    ts_aof_log_arg(c->aof, key.ptr, key.len);
    ts_aof_log_arg_ll(c->aof, count);
}

/* Shared with LMPOP and ZMPOP (cmds.h): the key wanted check is a no-op
 * outside a blocking command's serve mode. */
int ts_first_key_of_type(ts_cmd_ctx *c, int from, int to, int type, ts_entry **e)
{
    for (int j = from; j < to; j++) {
        if (!ts_cmd_key_wanted(c, j)) continue;
        bool wrong;
        *e = ts_db_lookup_write_type(&c->ex, c->argv[j], type, &wrong);
        if (wrong) return -1;
        if (*e) return j;
    }
    return 0;
}

/* The timeout argument a (seconds) in *ms; false after replying its error. */
static bool parse_timeout(ts_cmd_ctx *c, ts_arg a, int64_t *ms)
{
    const char *err = ts_parse_block_timeout(a, true, ms);
    if (err) ts_reply_error(c->r, err);
    return !err;
}

/* Nothing to pop: logs nothing and blocks the client (or replies what a
 * timeout replies, see ts_cmd_block). */
static void block(ts_cmd_ctx *c, int64_t ms)
{
    ts_prop_none(c);
    ts_cmd_block(c, ms);
}

/* The first of the keys argv[from..to) holding a value of type, as
 * ts_first_key_of_type finds it; when there is none, blocks and returns 0. */
static int first_key_or_block(ts_cmd_ctx *c, int from, int to, int type, int64_t ms, ts_entry **e)
{
    int k = ts_first_key_of_type(c, from, to, type, e);
    if (k == 0) block(c, ms);
    return k;
}

/* ---------- BLPOP / BRPOP key [key ...] timeout ---------- */

static void bpop_list(ts_cmd_ctx *c, int where)
{
    int64_t ms;
    if (!parse_timeout(c, c->argv[c->argc - 1], &ms)) return;
    ts_entry *e;
    int j = first_key_or_block(c, 1, c->argc - 1, TS_TYPE_LIST, ms, &e);
    if (j <= 0) return;
    ts_reply_array(c->r, 2);
    ts_reply_bulk(c->r, c->argv[j].ptr, c->argv[j].len);
    ts_list_pop_reply(&c->ex, c->argv[j], e, where, 1, true);
    ts_arg pop[2] = {where == TS_LIST_HEAD ? (ts_arg){"LPOP", 4} : (ts_arg){"RPOP", 4}, c->argv[j]};
    ts_prop_argv(c, 2, pop);
}

void cmd_blpop(ts_cmd_ctx *c) { bpop_list(c, TS_LIST_HEAD); }
void cmd_brpop(ts_cmd_ctx *c) { bpop_list(c, TS_LIST_TAIL); }

/* ---------- BLMOVE src dst LEFT|RIGHT LEFT|RIGHT timeout, BRPOPLPUSH ---------- */

static void bmove(ts_cmd_ctx *c, int from, int to, ts_arg timeout)
{
    int64_t ms;
    if (!parse_timeout(c, timeout, &ms)) return;
    bool wrong;
    ts_entry *se = ts_db_lookup_write_type(&c->ex, c->argv[1], TS_TYPE_LIST, &wrong);
    if (wrong) return;
    if (!se && !c->blocker) {
        /* May not block (inside MULTI or a script): Redis replies a null
         * bulk here, not the null array of a timeout. */
        ts_prop_none(c);
        ts_reply_null(c->r);
        return;
    }
    if (!se) { block(c, ms); return; }
    ts_list_move(&c->ex, c->argv[1], se, c->argv[2], from, to);
    ts_arg lmove[5] = {{"LMOVE", 5}, c->argv[1], c->argv[2], end_name(from), end_name(to)};
    ts_prop_argv(c, 5, lmove);
}

void cmd_blmove(ts_cmd_ctx *c)
{
    int from, to;
    if (!ts_list_parse_end(c->argv[3], &from) || !ts_list_parse_end(c->argv[4], &to)) {
        ts_reply_error(c->r, TS_ERR_SYNTAX);
        return;
    }
    bmove(c, from, to, c->argv[5]);
}

void cmd_brpoplpush(ts_cmd_ctx *c) { bmove(c, TS_LIST_TAIL, TS_LIST_HEAD, c->argv[3]); }

/* ---------- BLMPOP / BZMPOP timeout numkeys key [key ...] <where> [COUNT n] ---------- */

void cmd_blmpop(ts_cmd_ctx *c)
{
    ts_mpop_args o;
    int64_t ms;
    if (!ts_parse_mpop(c, 2, "left", "right", &o) || !parse_timeout(c, c->argv[1], &ms)) return;
    ts_entry *e;
    int k = first_key_or_block(c, o.first_key, o.first_key + o.nkeys, TS_TYPE_LIST, ms, &e);
    if (k <= 0) return;
    ts_reply_array(c->r, 2);
    ts_reply_bulk(c->r, c->argv[k].ptr, c->argv[k].len);
    ts_list_pop_reply(&c->ex, c->argv[k], e, o.second_word ? TS_LIST_TAIL : TS_LIST_HEAD, o.count, false);
    prop_pop_count(c, o.second_word ? "RPOP" : "LPOP", c->argv[k], o.count);
}

/* ---------- BZPOPMIN / BZPOPMAX key [key ...] timeout, BZMPOP ---------- */

static void bzpop(ts_cmd_ctx *c, bool max)
{
    int64_t ms;
    if (!parse_timeout(c, c->argv[c->argc - 1], &ms)) return;
    ts_entry *e;
    int j = first_key_or_block(c, 1, c->argc - 1, TS_TYPE_ZSET, ms, &e);
    if (j <= 0) return;
    ts_zset_pop(&c->ex, c->argv[j], e, max, 1, TS_ZPOP_KEY_FLAT);
    ts_arg pop[2] = {max ? (ts_arg){"ZPOPMAX", 7} : (ts_arg){"ZPOPMIN", 7}, c->argv[j]};
    ts_prop_argv(c, 2, pop);
}

void cmd_bzpopmin(ts_cmd_ctx *c) { bzpop(c, false); }
void cmd_bzpopmax(ts_cmd_ctx *c) { bzpop(c, true); }

void cmd_bzmpop(ts_cmd_ctx *c)
{
    ts_mpop_args o;
    int64_t ms;
    if (!ts_parse_mpop(c, 2, "min", "max", &o) || !parse_timeout(c, c->argv[1], &ms)) return;
    ts_entry *e;
    int k = first_key_or_block(c, o.first_key, o.first_key + o.nkeys, TS_TYPE_ZSET, ms, &e);
    if (k <= 0) return;
    ts_zset_pop(&c->ex, c->argv[k], e, o.second_word, o.count, TS_ZPOP_KEY_NESTED);
    prop_pop_count(c, o.second_word ? "ZPOPMAX" : "ZPOPMIN", c->argv[k], o.count);
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
