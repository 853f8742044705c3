/*
 * keys.c - the generic keyspace commands (DEL, EXISTS, TYPE, KEYS, SCAN,
 * RANDOMKEY, RENAME, COPY, MOVE, OBJECT, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB)
 * and the expiry commands (EXPIRE family, TTL family, PERSIST).
 *
 * Owns: nothing; it reads and writes the tables of the shard it runs on.
 * Thread: a command runs on the thread owning c->shard (cmd.h) and never
 * looks at another shard.
 *
 * Why this shape: commands that may span shards (DEL, EXISTS, RENAME, COPY)
 * or visit every shard (KEYS, RANDOMKEY, DBSIZE, FLUSH*, SWAPDB) are
 * implemented once, as multi-shard operations in multi_keys.c. When their
 * keys are all local, or the server has one shard, the dispatcher calls the
 * `run` function here, which executes the very same operation as a one-part
 * transaction inline (run_as_txn): the phases run back to back on this
 * shard, no message and no allocation beyond the part's reply buffer.
 *
 * SCAN cursors name a shard: cursor = (table cursor << 8) | shard. The
 * dispatcher routes a SCAN to shard (cursor % 256) % nshards; that shard
 * continues its own reverse-binary table scan (table.h) and, when its table
 * is done, returns the cursor `shard + 1` (table cursor 0 on the next shard),
 * or 0 after the last shard. A key lives on one shard for its whole life, so
 * Redis's guarantee carries over: a key present for the whole iteration is
 * returned at least once.
 */
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "tessera/persist/aof.h"
#include "tessera/store/db.h"
#include "tessera/store/watched_keys.h"
#include "tessera/util/glob.h"
#include "tessera/route/engine.h"

#define SAME_OBJECT_ERR "ERR source and destination objects are the same"

/* Redis shares the integer objects 0..9999 (OBJ_SHARED_INTEGERS); OBJECT
 * REFCOUNT reports them as INT_MAX (OBJ_SHARED_REFCOUNT). */
#define SHARED_INTEGERS 10000

/* ---------- helpers ---------- */

/* Executes a multi-shard operation as a transaction with one part, this
 * shard, holding every key position of the call. */
static void run_as_txn(ts_cmd_ctx *c, const ts_txn_ops *ops)
{
    int posbuf[16];
    int *pos = c->argc <= (int)TS_ARRAY_LEN(posbuf) ? posbuf : ts_malloc(sizeof(int) * (size_t)c->argc);
    ts_txn_part part = {.shard = c->shard->id, .keys = pos};
    part.nkeys = ts_command_keys(c->cmd, c->argc, c->argv, pos, c->argc);
    ts_buf_init(&part.out);
    ts_txn t = {
        .ops = ops, .cmd = c->cmd, .coord = c->engine, .db = c->db,
        .resp = c->r->resp, .argc = c->argc, .argv = c->argv, .nparts = 1, .parts = &part,
        .now_ms = c->now_ms, .reply = *c->r,
    };
    part.txn = &t;
    for (;;) {
        ts_reply r;
        ts_reply_init(&r, &part.out, c->r->resp);
        ts_cmd_ctx step = *c;
        step.conn = NULL;   /* as on a remote part */
        step.r = &r;
        ops->step(&t, &part, &step);
        int next = ops->after(&t);
        if (next < 0) break;
        t.phase = next;
    }
    *c->r = t.reply;   /* the reply went to c->r->out; keep its error count */
    ts_buf_free(&part.out);
    if (pos != posbuf) free(pos);
}


/* The part of the command name after '|' ("object|encoding" -> "encoding"). */
static const char *subcommand(const ts_cmd_ctx *c)
{
    const char *bar = strchr(c->cmd->name, '|');
    return bar ? bar + 1 : c->cmd->name;
}

/* ---------- commands implemented by multi_keys.c ---------- */

void cmd_del(ts_cmd_ctx *c) { run_as_txn(c, &ts_multi_del); }
void cmd_exists(ts_cmd_ctx *c) { run_as_txn(c, &ts_multi_exists); }
void cmd_keys(ts_cmd_ctx *c) { run_as_txn(c, &ts_multi_keys); }
void cmd_randomkey(ts_cmd_ctx *c) { run_as_txn(c, &ts_multi_randomkey); }
void cmd_rename(ts_cmd_ctx *c) { run_as_txn(c, &ts_multi_rename); }
void cmd_copy(ts_cmd_ctx *c) { run_as_txn(c, &ts_multi_copy); }
void cmd_dbsize(ts_cmd_ctx *c) { run_as_txn(c, &ts_multi_dbsize); }
void cmd_flushdb(ts_cmd_ctx *c) { run_as_txn(c, &ts_multi_flush); }
void cmd_flushall(ts_cmd_ctx *c) { run_as_txn(c, &ts_multi_flush); }
void cmd_swapdb(ts_cmd_ctx *c) { run_as_txn(c, &ts_multi_swapdb); }

/* ---------- TYPE ---------- */

void cmd_type(ts_cmd_ctx *c)
{
    ts_entry *e = ts_db_lookup_notouch(&c->ex, c->argv[1]);
    ts_reply_simple(c->r, e ? ts_type_name(ts_entry_type(e)) : "none");
}

/* ---------- SCAN cursor [MATCH pattern] [COUNT n] [TYPE type] ---------- */

typedef struct scan_found {
    ts_arg pattern;
    ts_entry **e;
    size_t n, cap;
} scan_found;

/* Collects the entries whose key matches; filtering by expiry and type
 * happens after the table walk, which must not modify the table. */
static void scan_cb(void *ctx, ts_entry *e)
{
    scan_found *x = ctx;
    if (x->pattern.ptr) {
        size_t klen;
        const char *k = ts_entry_key(e, &klen);
        if (!ts_glob_match(x->pattern.ptr, x->pattern.len, k, klen, false)) return;
    }
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 16;
        x->e = ts_realloc(x->e, sizeof(*x->e) * x->cap);
    }
    x->e[x->n++] = e;
}

/* Drops expired entries (deleting them, as Redis's SCAN does) and those of
 * another type; compacts x->e. Deleting one entry leaves the others valid. */
static void scan_filter(ts_cmd_ctx *c, scan_found *x, ts_arg type)
{
    size_t live = 0;
    for (size_t i = 0; i < x->n; i++) {
        ts_entry *e = x->e[i];
        if (ts_entry_expire(e) >= 0) {
            ts_arg key;
            key.ptr = ts_entry_key(e, &key.len);
            if (!ts_db_lookup_in(c->shard, c->db, key, c->now_ms)) continue;   /* expired: gone */
        }
        if (type.ptr && !ts_arg_eq(type, ts_type_name(ts_entry_type(e)))) continue;
        x->e[live++] = e;
    }
    x->n = live;
}

void cmd_scan(ts_cmd_ctx *c)
{
    uint64_t cursor;
    if (!ts_arg_to_cursor(c->argv[1], &cursor)) {
        ts_reply_error(c->r, "ERR invalid cursor");
        return;
    }
    ts_scan_opts o;
    if (!ts_parse_scan_opts(c, 2, true, &o)) return;
    unsigned shard = c->shard->id, nshards = c->engine->router->nshards;
    scan_found x = {.pattern = o.pattern};
    uint64_t next = ts_table_scan(ts_db_table(&c->ex), cursor >> 8, (size_t)o.count, scan_cb, &x);
    uint64_t out = next != 0 ? (next << 8) | shard : shard + 1 < nshards ? shard + 1 : 0;
    scan_filter(c, &x, o.type);

    char buf[24];
    int blen = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)out);
    ts_reply_array(c->r, 2);
    ts_reply_bulk(c->r, buf, (size_t)blen);
    ts_reply_array(c->r, (long)x.n);
    for (size_t i = 0; i < x.n; i++) {
        size_t klen;
        const char *k = ts_entry_key(x.e[i], &klen);
        ts_reply_bulk(c->r, k, klen);
    }
    free(x.e);
}

/* ---------- MOVE key db ---------- */

void cmd_move(ts_cmd_ctx *c)
{
    ts_arg key = c->argv[1];
    int dst;
    const char *err = ts_arg_to_int(c->argv[2], &dst);
    if (err) { ts_reply_error(c->r, err); return; }
    if (dst < 0 || dst >= c->shard->ndb) { ts_reply_error(c->r, TS_ERR_DB_INDEX); return; }
    if (dst == c->db) { ts_reply_error(c->r, SAME_OBJECT_ERR); return; }
    ts_entry *e = ts_db_lookup_write(&c->ex, key);
    if (!e || ts_db_lookup_in(c->shard, dst, key, c->now_ms)) { ts_reply_int(c->r, 0); return; }
    /* The value object moves (its LRU clock and expire with it), as in Redis. */
    uint32_t lru = ts_entry_lru(e);
    ts_value v;
    int64_t expire;
    ts_db_signal_deleted(&c->ex, key);
    ts_table_detach(ts_db_table(&c->ex), e, &v, &expire);
    e = ts_table_set(&c->shard->dbs[dst], key.ptr, key.len, &v, expire, false);
    ts_db_signal_modified(&c->ex, key);                   /* moved out of this db ... */
    ts_db_signal_modified_in(c->shard, dst, key);         /* ... into dst */
    ts_db_signal_ready_in(c->shard, dst, key, v.type);
    ts_entry_set_lru(e, lru);
    ts_cmd_ctx dc = *c;
    dc.db = dst;
    ts_db_signal_ready(&dc.ex, key);   /* blocked clients of the key in db dst */
    if (v.form == TS_FORM_INLINE) free((void *)v.s.ptr);
    ts_reply_int(c->r, 1);
}

/* ---------- OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key, OBJECT HELP ---------- */

static long long object_refcount(const ts_entry *e)
{
    ts_value v;
    ts_entry_value(e, &v);
    return v.form == TS_FORM_INT && v.i >= 0 && v.i < SHARED_INTEGERS ? INT_MAX : 1;
}

/* Seconds since the entry's LRU clock, which wraps at 24 bits (db.c). */
static long long object_idletime(const ts_entry *e, int64_t now_ms)
{
    uint32_t now = (uint32_t)(now_ms / 1000) & TS_ENTRY_LRU_MAX, lru = ts_entry_lru(e);
    return now >= lru ? (long long)(now - lru) : (long long)(TS_ENTRY_LRU_MAX - lru + now);
}

void cmd_object(ts_cmd_ctx *c)
{
    const char *sub = subcommand(c);
    ts_entry *e = ts_db_lookup_notouch(&c->ex, c->argv[2]);
    if (!e) { ts_reply_null(c->r); return; }
    if (strcmp(sub, "encoding") == 0) {
        ts_reply_cstr(c->r, ts_encoding_name(ts_entry_enc(e)));
    } else if (strcmp(sub, "refcount") == 0) {
        ts_reply_int(c->r, object_refcount(e));
    } else if (strcmp(sub, "idletime") == 0) {
        ts_reply_int(c->r, object_idletime(e, c->now_ms));
    } else {
        /* FREQ: the eviction policy is never LFU. */
        ts_reply_error(c->r, "ERR An LFU maxmemory policy is not selected, access frequency not tracked. "
                             "Please note that when switching between policies at runtime LRU and LFU data "
                             "will take some time to adjust.");
    }
}

void cmd_object_help(ts_cmd_ctx *c)
{
    static const char *const lines[] = {
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    };
    ts_reply_status_lines(c->r, lines, TS_ARRAY_LEN(lines));
}

/* ---------- EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key time [NX|XX|GT|LT] ---------- */

enum { EXP_NX = 1, EXP_XX = 2, EXP_GT = 4, EXP_LT = 8 };

static bool expire_flags(ts_cmd_ctx *c, int *flags)
{
    *flags = 0;
    for (int i = 3; i < c->argc; i++) {
        ts_arg a = c->argv[i];
        if (ts_arg_eq(a, "nx")) *flags |= EXP_NX;
        else if (ts_arg_eq(a, "xx")) *flags |= EXP_XX;
        else if (ts_arg_eq(a, "gt")) *flags |= EXP_GT;
        else if (ts_arg_eq(a, "lt")) *flags |= EXP_LT;
        else {
            const char *nul = memchr(a.ptr, '\0', a.len);
            int n = (int)(nul ? (size_t)(nul - a.ptr) : a.len);
            ts_reply_errorf(c->r, "ERR Unsupported option %.*s", n, a.ptr);
            return false;
        }
    }
    if ((*flags & EXP_NX) && (*flags & (EXP_XX | EXP_GT | EXP_LT))) {
        ts_reply_error(c->r, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return false;
    }
    if ((*flags & EXP_GT) && (*flags & EXP_LT)) {
        ts_reply_error(c->r, "ERR GT and LT options at the same time are not compatible");
        return false;
    }
    return true;
}

/* The absolute expire time in ms the call asks for; false (error written)
 * on a bad number or an overflow. */
static bool expire_when(ts_cmd_ctx *c, long long *when)
{
    const char *name = c->cmd->name;
    bool seconds = strcmp(name, "expire") == 0 || strcmp(name, "expireat") == 0;
    long long base = strcmp(name, "expire") == 0 || strcmp(name, "pexpire") == 0 ? c->now_ms : 0;
    if (!ts_arg_to_ll(c->argv[2], when)) {
        ts_reply_error(c->r, TS_ERR_NOT_INT);
        return false;
    }
    bool overflow = false;
    if (seconds) {
        if (*when > LLONG_MAX / 1000 || *when < LLONG_MIN / 1000) overflow = true;
        else *when *= 1000;
    }
    if (!overflow && *when > LLONG_MAX - base) overflow = true;
    if (overflow) {
        ts_reply_errorf(c->r, "ERR invalid expire time in '%s' command", name);
        return false;
    }
    *when += base;
    return true;
}

/* NX/XX/GT/LT against the current expire (-1: none, an infinite TTL). */
static bool expire_allowed(int flags, long long current, long long when)
{
    if ((flags & EXP_NX) && current != -1) return false;
    if ((flags & EXP_XX) && current == -1) return false;
    if ((flags & EXP_GT) && (current == -1 || when <= current)) return false;
    if ((flags & EXP_LT) && current != -1 && when >= current) return false;
    return true;
}

void cmd_expire(ts_cmd_ctx *c)
{
    int flags;
    long long when;
    if (!expire_flags(c, &flags) || !expire_when(c, &when)) return;
    ts_entry *e = ts_db_lookup_write(&c->ex, c->argv[1]);
    if (!e || !expire_allowed(flags, ts_entry_expire(e), when)) {
        ts_prop_none(c);
        ts_reply_int(c->r, 0);
        return;
    }
    /* A time already past deletes the key (Redis replicates it as a DEL);
     * the AOF gets absolute times only (aof.h). */
    ts_arg key = c->argv[1];
    if (when <= c->now_ms) {
        ts_arg del[2] = {{"DEL", 3}, key};
        ts_prop_argv(c, 2, del);
        ts_table_delete_entry(ts_db_table(&c->ex), e);
        ts_db_signal_modified(&c->ex, key);
    } else {
        char num[24];
        ts_arg pexpireat[3] = {{"PEXPIREAT", 9}, key, {num, (size_t)snprintf(num, sizeof num, "%lld", when)}};
        ts_prop_argv(c, 3, pexpireat);
        ts_table_set_expire(ts_db_table(&c->ex), e, when);
        ts_db_signal_modified(&c->ex, key);
    }
    ts_reply_int(c->r, 1);
}

/* ---------- TTL / PTTL / EXPIRETIME / PEXPIRETIME key ---------- */

void cmd_ttl(ts_cmd_ctx *c)
{
    const char *name = c->cmd->name;
    bool ms = name[0] == 'p';
    bool absolute = strstr(name, "expiretime") != NULL;
    ts_entry *e = ts_db_lookup_notouch(&c->ex, c->argv[1]);
    if (!e) { ts_reply_int(c->r, -2); return; }
    long long expire = ts_entry_expire(e);
    if (expire < 0) { ts_reply_int(c->r, -1); return; }
    long long v = absolute ? expire : expire - c->now_ms;
    if (v < 0) v = 0;
    /* Seconds rounded to nearest, without (v + 500) overflowing near
     * LLONG_MAX (PEXPIREAT key 9223372036854775807: Redis answers
     * EXPIRETIME 9223372036854776). */
    ts_reply_int(c->r, ms ? v : v / 1000 + (v % 1000 >= 500));
}

/* ---------- PERSIST key ---------- */

void cmd_persist(ts_cmd_ctx *c)
{
    ts_entry *e = ts_db_lookup_write(&c->ex, c->argv[1]);
    if (!e || ts_entry_expire(e) < 0) { ts_reply_int(c->r, 0); return; }
    ts_table_set_expire(ts_db_table(&c->ex), e, -1);
    ts_db_signal_modified(&c->ex, c->argv[1]);
    ts_reply_int(c->r, 1);
}
