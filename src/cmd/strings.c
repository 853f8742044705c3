/*
 * strings.c - the STRING commands: GET SET SETNX SETEX PSETEX GETSET GETDEL
 * GETEX MGET MSET MSETNX APPEND STRLEN INCR DECR INCRBY DECRBY INCRBYFLOAT
 * GETRANGE/SUBSTR SETRANGE LCS, with Redis 7.0's replies and error texts.
 *
 * Owns: nothing beyond the call. Values live in the shard's table (db.h):
 * a string is an INT (encoding "int") or INLINE bytes ("embstr"/"raw").
 * Thread: every function runs on the thread owning ctx->shard (the shard of
 * the command's keys). When MGET/MSET/MSETNX/LCS keys span shards,
 * multi_strings.c drives them as a txn and reuses the ts_str_* helpers
 * exported at the end of this file, so the rules exist only once.
 *
 * Shape: one helper per rule Redis applies in several commands - the option
 * grammar of SET/GETEX, the expire-time validation, reading a key as a
 * string (or reporting WRONGTYPE), storing bytes with a given encoding while
 * keeping the TTL. Each command is then a short sequence of those steps, in
 * the order Redis checks things, because the order decides which error a
 * client sees when several things are wrong at once.
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
#include "tessera/store/db.h"
#include "tessera/store/watched_keys.h"
#include "tessera/config/config.h"

/* Redis's MAX_LONG_DOUBLE_CHARS: longer float strings are not parsed, and a
 * finite long double printed with "%.17Lf" always fits. */

/* The embstr limit, the same as ts_value_string's. */

#define ERR_OFFSET "ERR offset is out of range"
#define ERR_TOO_BIG "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
#define ERR_LCS_TYPE "ERR The specified keys must contain string values"

/* ---------- reading ---------- */

/* Looks key up for reading. Returns 1 and the bytes (INT values are
 * formatted into numbuf, >= 24 bytes) when it holds a string, 0 when it does
 * not exist, -1 when it holds another type. */
int ts_str_read(ts_cmd_ctx *c, ts_arg key, char *numbuf, const char **p, size_t *n)
{
    ts_entry *e = ts_db_lookup_read(&c->ex, key);
    if (!e) return 0;
    if (ts_entry_type(e) != TS_TYPE_STRING) return -1;
    ts_entry_string(e, numbuf, p, n);
    return 1;
}

/* Passes a looked-up entry through when it is a string or NULL (missing),
 * with *ok true; for any other type writes WRONGTYPE, *ok false. */
static ts_entry *string_entry(ts_cmd_ctx *c, ts_entry *e, bool *ok)
{
    *ok = !e || ts_entry_type(e) == TS_TYPE_STRING;
    if (!*ok) {
        ts_reply_error(c->r, TS_ERR_WRONGTYPE);
        return NULL;
    }
    return e;
}

static void reply_entry(ts_cmd_ctx *c, const ts_entry *e)
{
    char numbuf[24];
    const char *p;
    size_t n;
    ts_entry_string(e, numbuf, &p, &n);
    ts_reply_bulk(c->r, p, n);
}

/* Replies with key's value, nil when missing. False (WRONGTYPE written) for
 * another type. Redis's getGenericCommand. */
static bool reply_get(ts_cmd_ctx *c, ts_arg key)
{
    bool ok;
    ts_entry *e = string_entry(c, ts_db_lookup_read(&c->ex, key), &ok);
    if (!ok) return false;
    if (e) reply_entry(c, e);
    else ts_reply_null(c->r);
    return true;
}

/* GETDEL's and GETEX's lookup: key's string entry, or NULL after replying
 * nil (missing) or WRONGTYPE (another type). */
static ts_entry *string_or_nil(ts_cmd_ctx *c, ts_arg key)
{
    bool ok;
    ts_entry *e = string_entry(c, ts_db_lookup_read(&c->ex, key), &ok);
    if (ok && !e) ts_reply_null(c->r);
    return e;
}

static size_t entry_strlen(const ts_entry *e)
{
    char numbuf[24];
    const char *p;
    size_t n;
    ts_entry_string(e, numbuf, &p, &n);
    return n;
}

/* ---------- writing ---------- */

/* Stores v under key (e is its entry, or NULL when absent), keeping any TTL,
 * and refreshes the LRU clock the way ts_db_set_string does. */
static void store_value(ts_cmd_ctx *c, ts_arg key, ts_entry *e, const ts_value *v)
{
    ts_table *t = ts_db_table(&c->ex);
    e = e ? ts_table_set_value(t, e, v) : ts_table_set(t, key.ptr, key.len, v, -1, false);
    ts_entry_set_lru(e, ts_lru_clock(c->now_ms));
}

/* Bytes stored as a string that is never "int": "raw" for what Redis builds
 * by modifying a string in place (APPEND, SETRANGE), otherwise what its
 * createStringObject gives: "embstr" up to TS_EMBSTR_MAX bytes, "raw" beyond. */
static void store_bytes(ts_cmd_ctx *c, ts_arg key, ts_entry *e, const char *p, size_t n, bool raw)
{
    ts_value v = {.type = TS_TYPE_STRING, .form = TS_FORM_INLINE};
    v.enc = raw || n > TS_EMBSTR_MAX ? TS_ENC_RAW : TS_ENC_EMBSTR;
    v.s.ptr = p;
    v.s.len = n;
    store_value(c, key, e, &v);
}

/* Redis's checkStringLength: a string may not outgrow proto-max-bulk-len. */
static bool check_length(ts_cmd_ctx *c, unsigned long long size, unsigned long long append)
{
    unsigned long long total = size + append;
    if (total < size || total > (unsigned long long)c->config->proto_max_bulk_len) {
        ts_reply_error(c->r, ERR_TOO_BIG);
        return false;
    }
    return true;
}

/* ---------- SET / GETEX options and expire times ---------- */

enum {
    OPT_NX = 1 << 0, OPT_XX = 1 << 1, OPT_GET = 1 << 2, OPT_KEEPTTL = 1 << 3, OPT_PERSIST = 1 << 4,
    OPT_EX = 1 << 5, OPT_PX = 1 << 6, OPT_EXAT = 1 << 7, OPT_PXAT = 1 << 8,
};
#define OPT_EXPIRE (OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT)

typedef struct set_opts {
    unsigned flags;
    const ts_arg *expire;   /* the time argument of EX/PX/EXAT/PXAT, or NULL */
} set_opts;

/* What an option token is and which flags may not be set before it. For
 * the expire options the conflict set excludes the option itself: "EX 1 EX 2"
 * is accepted, the later value wins. */
typedef struct opt_rule {
    const char *name;
    unsigned flag;
    unsigned conflicts;
    bool for_set, for_getex, takes_arg;
} opt_rule;

static const opt_rule opt_rules[] = {
    {"NX", OPT_NX, OPT_XX, true, false, false},
    {"XX", OPT_XX, OPT_NX, true, false, false},
    {"GET", OPT_GET, 0, true, false, false},
    {"KEEPTTL", OPT_KEEPTTL, OPT_EXPIRE | OPT_PERSIST, true, false, false},
    {"PERSIST", OPT_PERSIST, OPT_EXPIRE | OPT_KEEPTTL, false, true, false},
    {"EX", OPT_EX, (OPT_EXPIRE & ~OPT_EX) | OPT_KEEPTTL | OPT_PERSIST, true, true, true},
    {"PX", OPT_PX, (OPT_EXPIRE & ~OPT_PX) | OPT_KEEPTTL | OPT_PERSIST, true, true, true},
    {"EXAT", OPT_EXAT, (OPT_EXPIRE & ~OPT_EXAT) | OPT_KEEPTTL | OPT_PERSIST, true, true, true},
    {"PXAT", OPT_PXAT, (OPT_EXPIRE & ~OPT_PXAT) | OPT_KEEPTTL | OPT_PERSIST, true, true, true},
};

/* Parses argv[first..] as SET (for_set) or GETEX options. False with a
 * syntax error written on an unknown, misplaced or conflicting option. */
static bool parse_set_opts(ts_cmd_ctx *c, int first, bool for_set, set_opts *o)
{
    o->flags = 0;
    o->expire = NULL;
    for (int j = first; j < c->argc; j++) {
        const opt_rule *rule = NULL;
        for (size_t k = 0; k < TS_ARRAY_LEN(opt_rules); k++) {
            if (ts_arg_eq(c->argv[j], opt_rules[k].name)) { rule = &opt_rules[k]; break; }
        }
        bool allowed = rule && (for_set ? rule->for_set : rule->for_getex) &&
                       !(o->flags & rule->conflicts) && (!rule->takes_arg || j + 1 < c->argc);
        if (!allowed) {
            ts_reply_error(c->r, TS_ERR_SYNTAX);
            return false;
        }
        o->flags |= rule->flag;
        if (rule->takes_arg) o->expire = &c->argv[++j];
    }
    return true;
}

static void reply_bad_expire(ts_cmd_ctx *c)
{
    ts_reply_errorf(c->r, "ERR invalid expire time in '%s' command", c->cmd->name);
}

/* Converts an expire argument to an absolute unix time in ms, with Redis's
 * validation: positive, and no overflow once scaled and made absolute. */
static bool expire_at_ms(ts_cmd_ctx *c, ts_arg arg, bool seconds, bool relative, int64_t *out)
{
    long long v;
    if (!ts_arg_to_ll(arg, &v)) {
        ts_reply_error(c->r, TS_ERR_NOT_INT);
        return false;
    }
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) {
        reply_bad_expire(c);
        return false;
    }
    if (seconds) v *= 1000;
    if (relative && __builtin_add_overflow(v, (long long)c->now_ms, &v)) {
        reply_bad_expire(c);
        return false;
    }
    *out = v;
    return true;
}

static bool opts_expire_at_ms(ts_cmd_ctx *c, const set_opts *o, int64_t *out)
{
    return expire_at_ms(c, *o->expire, (o->flags & (OPT_EX | OPT_EXAT)) != 0,
                        (o->flags & (OPT_EX | OPT_PX)) != 0, out);
}

/* The AOF gets a SET with an absolute expire time (or KEEPTTL), whatever
 * form of SET / SETEX / PSETEX / INCRBYFLOAT stored the value. */
static void prop_set(ts_cmd_ctx *c, ts_arg key, const char *val, size_t n, int64_t when, bool keepttl)
{
    ts_prop_begin(c, when >= 0 || keepttl ? (when >= 0 ? 5 : 4) : 3);
    if (!ts_prop_on(c)) return;
    ts_aof_log_arg(c->aof, "SET", 3);
    ts_aof_log_arg(c->aof, key.ptr, key.len);
    ts_aof_log_arg(c->aof, val, n);
    if (when >= 0) {
        ts_aof_log_arg(c->aof, "PXAT", 4);
        ts_aof_log_arg_ll(c->aof, when);
    } else if (keepttl) {
        ts_aof_log_arg(c->aof, "KEEPTTL", 7);
    }
}

/* Redis's setGenericCommand: validate the expire time, reply the old value
 * for GET, honour NX/XX, store. The replies for "stored" / "not stored" are
 * +OK / nil, or 1 / 0 for SETNX (as_int); with GET the old value is all. */
static void set_generic(ts_cmd_ctx *c, const set_opts *o, bool as_int)
{
    ts_arg key = c->argv[1], val = c->argv[2];
    bool get = (o->flags & OPT_GET) != 0;
    int64_t when = -1;
    if (o->expire && !opts_expire_at_ms(c, o, &when)) return;
    if (get && !reply_get(c, key)) return;
    bool found = ts_db_exists(&c->ex, key);
    bool stored = !((o->flags & OPT_NX) && found) && !((o->flags & OPT_XX) && !found);
    if (stored) ts_db_set_string(&c->ex, key, val.ptr, val.len, when, (o->flags & OPT_KEEPTTL) != 0);
    if (stored) prop_set(c, key, val.ptr, val.len, when, (o->flags & OPT_KEEPTTL) != 0);
    else ts_prop_none(c);
    if (get) return;
    if (as_int) ts_reply_int(c->r, stored);
    else if (stored) ts_reply_ok(c->r);
    else ts_reply_null(c->r);
}

void cmd_set(ts_cmd_ctx *c)
{
    set_opts o;
    if (parse_set_opts(c, 3, true, &o)) set_generic(c, &o, false);
}

void cmd_setnx(ts_cmd_ctx *c)
{
    set_opts o = {.flags = OPT_NX, .expire = NULL};
    set_generic(c, &o, true);
}

/* SETEX key seconds value / PSETEX key ms value: the value is argv[3]. */
static void setex_generic(ts_cmd_ctx *c, bool seconds)
{
    int64_t when;
    if (!expire_at_ms(c, c->argv[2], seconds, true, &when)) return;
    ts_db_set_string(&c->ex, c->argv[1], c->argv[3].ptr, c->argv[3].len, when, false);
    prop_set(c, c->argv[1], c->argv[3].ptr, c->argv[3].len, when, false);
    ts_reply_ok(c->r);
}

void cmd_setex(ts_cmd_ctx *c) { setex_generic(c, true); }
void cmd_psetex(ts_cmd_ctx *c) { setex_generic(c, false); }

/* ---------- GET family ---------- */

void cmd_get(ts_cmd_ctx *c) { reply_get(c, c->argv[1]); }

void cmd_getset(ts_cmd_ctx *c)
{
    if (!reply_get(c, c->argv[1])) return;
    ts_db_set_string(&c->ex, c->argv[1], c->argv[2].ptr, c->argv[2].len, -1, false);
}

void cmd_getdel(ts_cmd_ctx *c)
{
    ts_entry *e = string_or_nil(c, c->argv[1]);
    if (!e) return;
    reply_entry(c, e);
    ts_table_delete_entry(ts_db_table(&c->ex), e);
    ts_db_signal_modified(&c->ex, c->argv[1]);
}

/* GETEX: options first (syntax), then the key (nil when missing), its type,
 * and only then the expire time, like Redis. */
void cmd_getex(ts_cmd_ctx *c)
{
    set_opts o;
    if (!parse_set_opts(c, 2, false, &o)) return;
    ts_prop_none(c);   /* unless it changes the expire time, below */
    ts_entry *e = string_or_nil(c, c->argv[1]);
    if (!e) return;
    int64_t when = -1;
    if (o.expire && !opts_expire_at_ms(c, &o, &when)) return;
    reply_entry(c, e);
    ts_table *t = ts_db_table(&c->ex);
    ts_arg key = c->argv[1];
    if (o.expire && when <= c->now_ms) {
        ts_arg del[2] = {{"DEL", 3}, key};
        ts_prop_argv(c, 2, del);
        ts_table_delete_entry(t, e);   /* EXAT/PXAT in the past */
        ts_db_signal_modified(&c->ex, key);
    } else if (o.expire) {
        ts_table_set_expire(t, e, when);
        ts_db_signal_modified(&c->ex, key);
        char num[24];
        ts_arg pexpireat[3] = {{"PEXPIREAT", 9}, key, {num, (size_t)snprintf(num, sizeof num, "%lld", (long long)when)}};
        ts_prop_argv(c, 3, pexpireat);
    } else if (o.flags & OPT_PERSIST) {
        /* removeExpire: a change (and a signal) only when there was one. */
        bool had_ttl = ts_entry_expire(e) >= 0;
        ts_table_set_expire(t, e, -1);
        if (had_ttl) ts_db_signal_modified(&c->ex, key);
        ts_arg persist[2] = {{"PERSIST", 7}, key};
        ts_prop_argv(c, 2, persist);
    }
}

void cmd_strlen(ts_cmd_ctx *c)
{
    bool ok;
    ts_entry *e = string_entry(c, ts_db_lookup_read(&c->ex, c->argv[1]), &ok);
    if (ok) ts_reply_int(c->r, e ? (long long)entry_strlen(e) : 0);
}

/* ---------- MGET / MSET / MSETNX (one shard) ---------- */

/* MGET's reply for one key: the value, or nil when missing or not a string. */
void ts_str_reply_mget_one(ts_reply *r, int found, const char *p, size_t n)
{
    if (found == 1) ts_reply_bulk(r, p, n);
    else ts_reply_null(r);
}

void cmd_mget(ts_cmd_ctx *c)
{
    ts_reply_array(c->r, c->argc - 1);
    for (int j = 1; j < c->argc; j++) {
        char numbuf[24];
        const char *p = NULL;
        size_t n = 0;
        int found = ts_str_read(c, c->argv[j], numbuf, &p, &n);
        ts_str_reply_mget_one(c->r, found, p, n);
    }
}

/* MSET/MSETNX need key/value pairs; the table's arity only says "at least
 * 3". False with Redis's arity error written. */
bool ts_str_check_pairs(ts_reply *r, const ts_command *cmd, int argc)
{
    if (argc % 2 == 1) return true;
    ts_reply_errorf(r, "ERR wrong number of arguments for '%s' command", cmd->name);
    return false;
}

/* Sets the pair whose key is at argv[pos] (value at pos + 1). */
void ts_str_set_pair(ts_cmd_ctx *c, int pos)
{
    ts_arg val = c->argv[pos + 1];
    ts_db_set_string(&c->ex, c->argv[pos], val.ptr, val.len, -1, false);
}

void cmd_mset(ts_cmd_ctx *c)
{
    if (!ts_str_check_pairs(c->r, c->cmd, c->argc)) return;
    for (int j = 1; j < c->argc; j += 2) ts_str_set_pair(c, j);
    ts_reply_ok(c->r);
}

void cmd_msetnx(ts_cmd_ctx *c)
{
    if (!ts_str_check_pairs(c->r, c->cmd, c->argc)) return;
    for (int j = 1; j < c->argc; j += 2) {
        if (ts_db_exists(&c->ex, c->argv[j])) {
            ts_reply_int(c->r, 0);
            return;
        }
    }
    for (int j = 1; j < c->argc; j += 2) ts_str_set_pair(c, j);
    ts_reply_int(c->r, 1);
}

/* ---------- APPEND / SETRANGE / GETRANGE ---------- */

/* Stores old[0..olen) overlaid with val at offset (the gap zero-filled) as
 * a raw string: the result of APPEND and SETRANGE on an existing key. */
static size_t store_spliced(ts_cmd_ctx *c, ts_arg key, ts_entry *e, size_t offset, ts_arg val)
{
    char numbuf[24];
    const char *old = "";
    size_t olen = 0;
    if (e) ts_entry_string(e, numbuf, &old, &olen);
    size_t len = offset + val.len > olen ? offset + val.len : olen;
    char *buf = ts_malloc(len ? len : 1);
    memcpy(buf, old, olen);
    if (offset > olen) memset(buf + olen, 0, offset - olen);
    memcpy(buf + offset, val.ptr, val.len);
    store_bytes(c, key, e, buf, len, true);
    free(buf);
    return len;
}

void cmd_append(ts_cmd_ctx *c)
{
    ts_arg key = c->argv[1], val = c->argv[2];
    bool ok;
    ts_entry *e = string_entry(c, ts_db_lookup_write(&c->ex, key), &ok);
    if (!ok) return;
    if (!e) {
        /* A new key gets the argument as SET would store it (maybe "int"). */
        ts_db_set_string(&c->ex, key, val.ptr, val.len, -1, false);
        ts_reply_int(c->r, (long long)val.len);
        return;
    }
    size_t olen = entry_strlen(e);
    if (!check_length(c, olen, val.len)) return;
    ts_reply_int(c->r, (long long)store_spliced(c, key, e, olen, val));
    ts_db_signal_modified(&c->ex, key);   /* even when val is empty, like Redis */
}

void cmd_setrange(ts_cmd_ctx *c)
{
    ts_arg key = c->argv[1], val = c->argv[3];
    long long offset;
    if (!ts_arg_to_ll(c->argv[2], &offset)) {
        ts_reply_error(c->r, TS_ERR_NOT_INT);
        return;
    }
    if (offset < 0) {
        ts_reply_error(c->r, ERR_OFFSET);
        return;
    }
    bool ok;
    ts_entry *e = string_entry(c, ts_db_lookup_write(&c->ex, key), &ok);
    if (!ok) return;
    if (val.len == 0) {
        /* Nothing to write: the current length, and no key is created. */
        ts_reply_int(c->r, e ? (long long)entry_strlen(e) : 0);
        return;
    }
    if (!check_length(c, (unsigned long long)offset, val.len)) return;
    ts_reply_int(c->r, (long long)store_spliced(c, key, e, (size_t)offset, val));
    ts_db_signal_modified(&c->ex, key);
}

/* GETRANGE/SUBSTR: the inclusive range [start, end] of a string of len
 * bytes, negative indexes counting from the end. False when it is empty;
 * both negative with start > end is empty before any clamping. */
static bool clamp_range(long long len, long long *start, long long *end)
{
    if (*start < 0 && *end < 0 && *start > *end) return false;
    if (*start < 0) *start = *start + len < 0 ? 0 : *start + len;
    if (*end < 0) *end = *end + len < 0 ? 0 : *end + len;
    if (*end >= len) *end = len - 1;
    return *start <= *end;
}

void cmd_getrange(ts_cmd_ctx *c)
{
    long long start, end;
    if (!ts_arg_to_ll(c->argv[2], &start) || !ts_arg_to_ll(c->argv[3], &end)) {
        ts_reply_error(c->r, TS_ERR_NOT_INT);
        return;
    }
    char numbuf[24];
    const char *p = NULL;
    size_t n = 0;
    int found = ts_str_read(c, c->argv[1], numbuf, &p, &n);
    if (found < 0) ts_reply_error(c->r, TS_ERR_WRONGTYPE);
    else if (!clamp_range((long long)n, &start, &end)) ts_reply_bulk(c->r, "", 0);
    else ts_reply_bulk(c->r, p + start, (size_t)(end - start + 1));
}

/* ---------- counters ---------- */

/* INCR/DECR/INCRBY/DECRBY: the key's value must be a 64-bit decimal; the
 * result is stored as "int" and the TTL kept. */
static void incr_by(ts_cmd_ctx *c, long long delta)
{
    ts_arg key = c->argv[1];
    bool ok;
    ts_entry *e = string_entry(c, ts_db_lookup_write(&c->ex, key), &ok);
    if (!ok) return;
    long long cur = 0;
    if (e) {
        ts_value v;
        ts_entry_value(e, &v);
        if (v.form == TS_FORM_INT) {
            cur = v.i;
        } else if (!ts_arg_to_ll((ts_arg){v.s.ptr, v.s.len}, &cur)) {
            ts_reply_error(c->r, TS_ERR_NOT_INT);
            return;
        }
    }
    long long next;
    if (__builtin_add_overflow(cur, delta, &next)) {
        ts_reply_error(c->r, TS_ERR_OVERFLOW);
        return;
    }
    ts_value v = {.type = TS_TYPE_STRING, .enc = TS_ENC_INT, .form = TS_FORM_INT};
    v.i = next;
    store_value(c, key, e, &v);
    ts_db_signal_modified(&c->ex, key);
    ts_reply_int(c->r, next);
}

static bool parse_delta(ts_cmd_ctx *c, long long *delta)
{
    if (ts_arg_to_ll(c->argv[2], delta)) return true;
    ts_reply_error(c->r, TS_ERR_NOT_INT);
    return false;
}

void cmd_incr(ts_cmd_ctx *c) { incr_by(c, 1); }
void cmd_decr(ts_cmd_ctx *c) { incr_by(c, -1); }

void cmd_incrby(ts_cmd_ctx *c)
{
    long long d;
    if (parse_delta(c, &d)) incr_by(c, d);
}

void cmd_decrby(ts_cmd_ctx *c)
{
    long long d;
    if (!parse_delta(c, &d)) return;
    if (d == LLONG_MIN) {
        ts_reply_error(c->r, "ERR decrement would overflow");
        return;
    }
    incr_by(c, -d);
}

void cmd_incrbyfloat(ts_cmd_ctx *c)
{
    ts_arg key = c->argv[1];
    bool ok;
    ts_entry *e = string_entry(c, ts_db_lookup_write(&c->ex, key), &ok);
    if (!ok) return;
    long double cur = 0, incr;
    if (e) {
        ts_value v;
        ts_entry_value(e, &v);
        if (v.form == TS_FORM_INT) {
            cur = (long double)v.i;
        } else if (!ts_str_to_ld(v.s.ptr, v.s.len, &cur)) {
            ts_reply_error(c->r, TS_ERR_NOT_FLOAT);
            return;
        }
    }
    if (!ts_str_to_ld(c->argv[2].ptr, c->argv[2].len, &incr)) {
        ts_reply_error(c->r, TS_ERR_NOT_FLOAT);
        return;
    }
    cur += incr;
    if (isnan(cur) || isinf(cur)) {
        ts_reply_error(c->r, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[TS_LD_CHARS];
    size_t n = ts_ld_to_str(buf, sizeof(buf), cur);
    store_bytes(c, key, e, buf, n, false);
    ts_db_signal_modified(&c->ex, key);
    prop_set(c, key, buf, n, -1, true);
    ts_reply_bulk(c->r, buf, n);
}

/* ---------- LCS ---------- */

typedef struct lcs_opts {
    bool len, idx, withmatchlen;
    long long minmatchlen;
} lcs_opts;

static bool lcs_parse(ts_reply *r, int argc, const ts_arg *argv, lcs_opts *o)
{
    *o = (lcs_opts){0};
    for (int j = 3; j < argc; j++) {
        if (ts_arg_eq(argv[j], "IDX")) {
            o->idx = true;
        } else if (ts_arg_eq(argv[j], "LEN")) {
            o->len = true;
        } else if (ts_arg_eq(argv[j], "WITHMATCHLEN")) {
            o->withmatchlen = true;
        } else if (ts_arg_eq(argv[j], "MINMATCHLEN") && j + 1 < argc) {
            if (!ts_arg_to_ll(argv[++j], &o->minmatchlen)) {
                ts_reply_error(r, TS_ERR_NOT_INT);
                return false;
            }
            if (o->minmatchlen < 0) o->minmatchlen = 0;
        } else {
            ts_reply_error(r, TS_ERR_SYNTAX);
            return false;
        }
    }
    if (o->idx && o->len) {
        ts_reply_error(r, "ERR If you want both the length and indexes, please just use IDX.");
        return false;
    }
    return true;
}

static void lcs_reply_range(ts_reply *r, size_t lo, size_t hi)
{
    ts_reply_array(r, 2);
    ts_reply_int(r, (long long)lo);
    ts_reply_int(r, (long long)hi);
}

/* One IDX match: a[alo..alo+len) == b[blo..blo+len), unless shorter than
 * MINMATCHLEN. Returns the number of entries written (0 or 1). */
static long lcs_reply_match(ts_reply *r, const lcs_opts *o, size_t alo, size_t blo, size_t len)
{
    if (o->minmatchlen && (long long)len < o->minmatchlen) return 0;
    ts_reply_array(r, o->withmatchlen ? 3 : 2);
    lcs_reply_range(r, alo, alo + len - 1);
    lcs_reply_range(r, blo, blo + len - 1);
    if (o->withmatchlen) ts_reply_int(r, (long long)len);
    return 1;
}

/*
 * The classic dynamic program: L[i][j] = length of the LCS of a[0..i) and
 * b[0..j), then a walk back from (alen, blen) that takes a diagonal step on
 * equal bytes and otherwise moves towards the larger neighbour (towards b's
 * start on ties). Runs of consecutive diagonal steps are the IDX matches,
 * reported from the end of the strings backwards, like Redis.
 */
static void lcs_compute(ts_reply *r, const lcs_opts *o, const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen >= UINT32_MAX - 1 || blen >= UINT32_MAX - 1) {
        ts_reply_error(r, "ERR String too long for LCS");
        return;
    }
    size_t cols = blen + 1;
    uint32_t *L = NULL;
    if ((alen + 1) <= SIZE_MAX / sizeof(uint32_t) / cols)
        L = malloc((alen + 1) * cols * sizeof(uint32_t));   /* may fail: reported, like Redis */
    if (!L) {
        ts_reply_error(r, "ERR Insufficient memory, failed allocating transient memory for LCS");
        return;
    }
#define LCS_AT(i, j) L[(size_t)(i) * cols + (j)]
    for (size_t i = 0; i <= alen; i++) {
        for (size_t j = 0; j <= blen; j++) {
            if (i == 0 || j == 0) LCS_AT(i, j) = 0;
            else if (a[i - 1] == b[j - 1]) LCS_AT(i, j) = LCS_AT(i - 1, j - 1) + 1;
            else LCS_AT(i, j) = LCS_AT(i - 1, j) > LCS_AT(i, j - 1) ? LCS_AT(i - 1, j) : LCS_AT(i, j - 1);
        }
    }
    uint32_t total = LCS_AT(alen, blen);
    if (o->len) {
        ts_reply_int(r, total);
        free(L);
        return;
    }
    char *seq = o->idx ? NULL : ts_malloc(total ? total : 1);
    size_t matches_at = 0;
    long nmatches = 0;
    if (o->idx) {
        ts_reply_map(r, 2);
        ts_reply_cstr(r, "matches");
        matches_at = ts_reply_defer(r);
    }
    size_t i = alen, j = blen, k = total;
    size_t run = 0;   /* length of the current run of diagonal steps, ending before (i, j) */
    while (i > 0 && j > 0) {
        if (a[i - 1] == b[j - 1]) {
            if (seq) seq[--k] = a[i - 1];
            i--, j--, run++;
            continue;
        }
        if (run && o->idx) nmatches += lcs_reply_match(r, o, i, j, run);
        run = 0;
        if (LCS_AT(i - 1, j) > LCS_AT(i, j - 1)) i--;
        else j--;
    }
    if (run && o->idx) nmatches += lcs_reply_match(r, o, i, j, run);
#undef LCS_AT
    free(L);
    if (o->idx) {
        ts_reply_set_array_len(r, matches_at, nmatches);
        ts_reply_cstr(r, "len");
        ts_reply_int(r, total);
    } else {
        ts_reply_bulk(r, seq, total);
        free(seq);
    }
}

/* LCS once both keys were read and found to be strings (a missing key is
 * the empty string): options, then the computation and its reply. */
void ts_str_lcs(ts_reply *r, int argc, const ts_arg *argv, const char *a, size_t alen, const char *b, size_t blen)
{
    lcs_opts o;
    if (lcs_parse(r, argc, argv, &o)) lcs_compute(r, &o, a, alen, b, blen);
}

void ts_str_lcs_wrongtype(ts_reply *r) { ts_reply_error(r, ERR_LCS_TYPE); }

void cmd_lcs(ts_cmd_ctx *c)
{
    char abuf[24], bbuf[24];
    const char *a = "", *b = "";
    size_t alen = 0, blen = 0;
    /* Both keys are looked up before either type is judged, like Redis. */
    int fa = ts_str_read(c, c->argv[1], abuf, &a, &alen);
    int fb = ts_str_read(c, c->argv[2], bbuf, &b, &blen);
    if (fa < 0 || fb < 0) ts_str_lcs_wrongtype(c->r);
    else ts_str_lcs(c->r, c->argc, c->argv, a, alen, b, blen);
}
