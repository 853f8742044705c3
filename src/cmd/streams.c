/*
 * streams.c - the STREAM commands: XADD XLEN XRANGE XREVRANGE XDEL XTRIM
 * XSETID XREAD XREADGROUP XGROUP (CREATE DESTROY CREATECONSUMER DELCONSUMER SETID
 * HELP) XACK XPENDING XCLAIM XAUTOCLAIM XINFO (STREAM GROUPS CONSUMERS
 * HELP), with Redis 7.0's grammar, replies and error texts.
 *
 * Owns: nothing beyond the call; streams are t_stream.h objects stored as
 * TS_FORM_PTR values (type STREAM, encoding STREAM).
 * Thread: the owner of ctx->shard. XREAD/XREADGROUP over keys of several
 * shards run through ts_multi_borrow on a scratch database, and blocked
 * ones are served by the key's shard in serve mode (c->serve_key set:
 * only that key is considered), see blocking.h.
 *
 * Shape: the checks happen in Redis's order (option parsing, then key
 * and type, then group, then IDs), because the order decides which error
 * a client sees when several things are wrong. The range replies share
 * one writer (reply_range) like Redis's streamReplyWithRange.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "tessera/persist/aof.h"
#include "tessera/route/blocking.h"
#include "tessera/config/config.h"
#include "tessera/store/db.h"
#include "tessera/store/watched_keys.h"
#include "tessera/types/t_stream.h"
#include "tessera/util/clock.h"

#define ERR_BAD_ID "ERR Invalid stream ID specified as stream command argument"
#define ERR_ID_SMALL "ERR The ID specified in XADD is equal or smaller than the target stream top item"
#define ERR_EXHAUSTED "ERR The stream has exhausted the last possible ID, unable to add more items"
#define ERR_NEED_KEY                                                                                              \
    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM " \
    "option to create an empty stream automatically."
#define ERR_ENTRIESREAD "ERR value for ENTRIESREAD must be positive or -1"
#define ARGF(a) (int)(a).len, (a).ptr

static const ts_stream_id ID_MAX = {UINT64_MAX, UINT64_MAX};

/* ---------- ids ---------- */

/* Redis's string2ull: a strict 64-bit decimal, else strtoull's looser
 * grammar (leading spaces, '+', leading zeros). */
static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    char buf[130];
    if (n >= sizeof buf) return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    long long ll;
    if (ts_arg_to_ll((ts_arg){buf, n}, &ll)) {
        if (ll < 0) return false;
        *out = (uint64_t)ll;
        return true;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno == EINVAL || errno == ERANGE || !(buf[0] != '\0' && *end == '\0')) return false;
    *out = v;
    return true;
}

/* Redis's streamGenericParseIDOrReply. seq_given NULL: "ms-*" is invalid;
 * else it is accepted and *seq_given tells whether the sequence was
 * given. strict rejects "-" and "+". */
static bool parse_id(ts_arg a, ts_stream_id *id, uint64_t missing_seq, bool strict, bool *seq_given)
{
    if (seq_given) *seq_given = true;
    if (a.len > 127) return false;
    if (a.len == 1 && (a.ptr[0] == '-' || a.ptr[0] == '+')) {
        if (strict) return false;
        *id = a.ptr[0] == '-' ? (ts_stream_id){0, 0} : ID_MAX;
        return true;
    }
    const char *dash = memchr(a.ptr, '-', a.len);
    if (!dash) {
        if (!parse_u64(a.ptr, a.len, &id->ms)) return false;
        id->seq = missing_seq;
        return true;
    }
    size_t mslen = (size_t)(dash - a.ptr);
    if (!parse_u64(a.ptr, mslen, &id->ms)) return false;
    const char *sp = dash + 1;
    size_t slen = a.len - mslen - 1;
    if (seq_given && slen == 1 && sp[0] == '*') {
        id->seq = 0;
        *seq_given = false;
        return true;
    }
    return parse_u64(sp, slen, &id->seq);
}

/* XRANGE-style bound: "(" makes it exclusive. */
static bool parse_interval(ts_arg a, ts_stream_id *id, bool *exclusive, uint64_t missing_seq)
{
    if (a.len > 1 && a.ptr[0] == '(') {
        *exclusive = true;
        return parse_id((ts_arg){a.ptr + 1, a.len - 1}, id, missing_seq, true, NULL);
    }
    *exclusive = false;
    return parse_id(a, id, missing_seq, false, NULL);
}

static void reply_id(ts_reply *r, const ts_stream_id *id)
{
    char buf[48];
    int n = ts_stream_id_fmt(id, buf);
    ts_reply_bulk(r, buf, (size_t)n);
}

/* ---------- lookups ---------- */

static ts_stream *stream_read(ts_cmd_ctx *c, ts_arg key, bool *wrongtype)
{
    ts_entry *e = ts_db_lookup_read_type(&c->ex, key, TS_TYPE_STREAM, wrongtype);
    return e ? ts_entry_obj(e) : NULL;
}

static ts_stream *stream_write(ts_cmd_ctx *c, ts_arg key, bool *wrongtype)
{
    ts_entry *e = ts_db_lookup_write_type(&c->ex, key, TS_TYPE_STREAM, wrongtype);
    return e ? ts_entry_obj(e) : NULL;
}

/* ---------- range replies ---------- */

/* Writes the current entry of it: [id, [f1, v1, ...]]. */
static void reply_entry(ts_reply *r, ts_stream_iter *it, const ts_stream_id *id, long long nf)
{
    ts_reply_array(r, 2);
    reply_id(r, id);
    ts_reply_array(r, nf * 2);
    for (long long i = 0; i < nf; i++) {
        char fb[24], vb[24];
        const unsigned char *f, *v;
        size_t fl, vl;
        ts_stream_iter_field(it, fb, &f, &fl, vb, &v, &vl);
        ts_reply_bulk(r, f, fl);
        ts_reply_bulk(r, v, vl);
    }
}

/* ---------- consumer groups in the AOF (aof.h) ---------- */

/* The time consumer-group commands stamp (delivery and seen times). AOF
 * replay runs with the clock at 0, so that no key expires while loading;
 * the XCLAIMs it replays carry their own times and must not be clamped to
 * that 0, and the consumers they create are seen now. */
static int64_t stamp_clock(const ts_cmd_ctx *c) { return c->now_ms ? c->now_ms : ts_mstime(); }

/* What a consumer-group read or claim changed in one group, logged as Redis
 * 7.0 propagates it, in O(what changed) rather than O(stream):
 *   XGROUP CREATECONSUMER key group consumer      (a consumer it created)
 *   XACK key group id...                         (nacks of deleted entries)
 *   XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID
 *          LASTID group-last-id                  (each nack it delivered or
 *                                                 claimed, with its final state)
 *   XGROUP SETID key group id ENTRIESREAD n      (when the position moved)
 * Only recorded while the execution is logged (ts_prop_on). */
typedef struct cg_log {
    ts_arg key;
    ts_stream_cg *g;               /* NULL: nothing recorded */
    ts_stream_id last_id;          /* the group's position before the command */
    long long entries_read;
    ts_arg consumer;
    bool consumer_created;
    ts_stream_id *claimed, *acked;
    size_t nclaimed, nacked, claimed_cap, acked_cap;
} cg_log;

static void cg_log_start(const ts_cmd_ctx *c, cg_log *l, ts_arg key, ts_stream_cg *g, ts_arg consumer)
{
    memset(l, 0, sizeof *l);
    if (!ts_prop_on(c)) return;
    l->key = key;
    l->g = g;
    l->last_id = g->last_id;
    l->entries_read = g->entries_read;
    l->consumer = consumer;
}

static void cg_log_id(ts_stream_id **v, size_t *n, size_t *cap, const ts_stream_id *id)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *v = ts_realloc(*v, sizeof(**v) * *cap);
    }
    (*v)[(*n)++] = *id;
}

static void cg_log_claimed(cg_log *l, const ts_stream_id *id)
{
    if (l && l->g) cg_log_id(&l->claimed, &l->nclaimed, &l->claimed_cap, id);
}

static void cg_log_acked(cg_log *l, const ts_stream_id *id)
{
    if (l && l->g) cg_log_id(&l->acked, &l->nacked, &l->acked_cap, id);
}

static bool cg_log_moved(const cg_log *l)
{
    return ts_stream_id_cmp(&l->last_id, &l->g->last_id) != 0 || l->entries_read != l->g->entries_read;
}

static size_t cg_log_commands(const cg_log *l)
{
    if (!l->g) return 0;
    return (l->consumer_created ? 1 : 0) + (l->nacked ? 1 : 0) + l->nclaimed + (cg_log_moved(l) ? 1 : 0);
}

static void log_id(ts_aof_log *aof, const ts_stream_id *id)
{
    char buf[48];
    int len = ts_stream_id_fmt(id, buf);
    ts_aof_log_arg(aof, buf, (size_t)len);
}

static void cg_log_emit(ts_cmd_ctx *c, const cg_log *l)
{
    ts_aof_log *aof = c->aof;
    const ts_stream_cg *g = l->g;
    if (l->consumer_created) {
        ts_prop_begin(c, 5);
        ts_aof_log_arg_str(aof, "XGROUP");
        ts_aof_log_arg_str(aof, "CREATECONSUMER");
        ts_aof_log_arg(aof, l->key.ptr, l->key.len);
        ts_aof_log_arg(aof, g->name, g->name_len);
        ts_aof_log_arg(aof, l->consumer.ptr, l->consumer.len);
    }
    if (l->nacked) {
        ts_prop_begin(c, 3 + (int)l->nacked);
        ts_aof_log_arg_str(aof, "XACK");
        ts_aof_log_arg(aof, l->key.ptr, l->key.len);
        ts_aof_log_arg(aof, g->name, g->name_len);
        for (size_t i = 0; i < l->nacked; i++) log_id(aof, &l->acked[i]);
    }
    for (size_t i = 0; i < l->nclaimed; i++) {
        /* XCLAIM FORCE recreates a nack the replay lacks (one a read
         * delivered); a claimed nack stays pending until the command ends. */
        const ts_stream_nack *nk = ts_stream_pel_find(&g->pel, &l->claimed[i]);
        if (!nk || !nk->consumer) continue;
        ts_aof_log_xclaim(aof, c->db, l->key.ptr, l->key.len, g, nk, &g->last_id);
    }
    if (cg_log_moved(l)) {
        ts_prop_begin(c, 7);
        ts_aof_log_arg_str(aof, "XGROUP");
        ts_aof_log_arg_str(aof, "SETID");
        ts_aof_log_arg(aof, l->key.ptr, l->key.len);
        ts_aof_log_arg(aof, g->name, g->name_len);
        log_id(aof, &g->last_id);
        ts_aof_log_arg_str(aof, "ENTRIESREAD");
        ts_aof_log_arg_ll(aof, g->entries_read);
    }
}

static void cg_log_free(cg_log *l)
{
    free(l->claimed);
    free(l->acked);
}

/* Logs what the command changed in its groups (one MULTI ... EXEC block
 * when that takes several commands, so a torn tail never replays half of
 * it), or nothing, and frees the records. */
static void prop_cg_logs(ts_cmd_ctx *c, cg_log *logs, int n)
{
    size_t total = 0;
    for (int i = 0; i < n; i++) total += cg_log_commands(&logs[i]);
    ts_prop_none(c);
    if (total > 1) {
        ts_prop_begin(c, 1);
        ts_aof_log_arg_str(c->aof, "MULTI");
    }
    for (int i = 0; i < n; i++)
        if (cg_log_commands(&logs[i])) cg_log_emit(c, &logs[i]);
    if (total > 1) {
        ts_prop_begin(c, 1);
        ts_aof_log_arg_str(c->aof, "EXEC");
    }
    for (int i = 0; i < n; i++) cg_log_free(&logs[i]);
}

enum { RWR_NOACK = 1, RWR_RAW = 2 };

/* Redis's streamReplyWithRange: entries in [start, end] (count 0 = all);
 * with a group, entries are delivered to consumer ('>' semantics). RAW:
 * no array header (the caller writes one entry). Returns entries emitted. */
static size_t reply_range(ts_cmd_ctx *c, ts_stream *s, const ts_stream_id *start, const ts_stream_id *end,
                          size_t count, bool rev, ts_stream_cg *g, ts_stream_consumer *cons, int flags,
                          cg_log *gl)
{
    size_t handle = 0, n = 0;
    if (!(flags & RWR_RAW)) handle = ts_reply_defer(c->r);
    ts_stream_iter it;
    ts_stream_iter_start(&it, s, start, end, rev);
    ts_stream_id id;
    long long nf;
    while (ts_stream_iter_next(&it, &id, &nf)) {
        if (g) {
            ts_stream_cg_advance(s, g, &id);
            if (!(flags & RWR_NOACK)) {
                ts_stream_cg_deliver(g, cons, &id, c->now_ms);
                cg_log_claimed(gl, &id);
            }
        }
        reply_entry(c->r, &it, &id, nf);
        n++;
        if (count && n == count) break;
    }
    if (!(flags & RWR_RAW)) ts_reply_set_array_len(c->r, handle, (long)n);
    return n;
}

/* Writes the entry id alone (RAW), or returns false when it is absent. */
static bool reply_one(ts_cmd_ctx *c, ts_stream *s, const ts_stream_id *id)
{
    return reply_range(c, s, id, id, 1, false, NULL, NULL, RWR_RAW, NULL) == 1;
}

/* ---------- XADD / XTRIM ---------- */

enum { TRIM_NONE, TRIM_MAXLEN, TRIM_MINID };

typedef struct trim_args {
    int strategy;
    bool approx;
    long long maxlen, limit;
    ts_stream_id minid;
    bool nomkstream;
    bool id_given, seq_given;
    ts_stream_id id;
} trim_args;

/* MAXLEN or MINID at argv[*i], more arguments following: refuses a second
 * strategy, then takes an optional "~" (approximate) or "=" after it, *i
 * moving onto it, so that argv[*i + 1] is the threshold. False after
 * replying the error. */
static bool parse_trim_strategy(ts_cmd_ctx *c, trim_args *a, int *i, int more)
{
    if (a->strategy != TRIM_NONE) {
        ts_reply_error(c->r, "ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
        return false;
    }
    a->approx = false;
    ts_arg nx = c->argv[*i + 1];
    if (more >= 2 && nx.len == 1 && nx.ptr[0] == '~') { a->approx = true; (*i)++; }
    else if (more >= 2 && nx.len == 1 && nx.ptr[0] == '=') (*i)++;
    return true;
}

/* Redis's streamParseAddOrTrimArgsOrReply. Returns the position of XADD's
 * ID argument (or argc), -1 after replying an error. */
static int parse_add_trim(ts_cmd_ctx *c, trim_args *a, bool xadd)
{
    memset(a, 0, sizeof(*a));
    bool limit_given = false;
    int i = 2;
    for (; i < c->argc; i++) {
        int more = c->argc - 1 - i;
        ts_arg o = c->argv[i];
        if (xadd && o.len == 1 && o.ptr[0] == '*') break;
        if (ts_arg_eq(o, "maxlen") && more) {
            if (!parse_trim_strategy(c, a, &i, more)) return -1;
            if (!ts_arg_to_ll(c->argv[i + 1], &a->maxlen)) { ts_reply_error(c->r, TS_ERR_NOT_INT); return -1; }
            if (a->maxlen < 0) { ts_reply_error(c->r, "ERR The MAXLEN argument must be >= 0."); return -1; }
            i++;
            a->strategy = TRIM_MAXLEN;
        } else if (ts_arg_eq(o, "minid") && more) {
            if (!parse_trim_strategy(c, a, &i, more)) return -1;
            if (!parse_id(c->argv[i + 1], &a->minid, 0, true, NULL)) { ts_reply_error(c->r, ERR_BAD_ID); return -1; }
            i++;
            a->strategy = TRIM_MINID;
        } else if (ts_arg_eq(o, "limit") && more) {
            if (!ts_arg_to_ll(c->argv[i + 1], &a->limit)) { ts_reply_error(c->r, TS_ERR_NOT_INT); return -1; }
            if (a->limit < 0) { ts_reply_error(c->r, "ERR The LIMIT argument must be >= 0."); return -1; }
            limit_given = true;
            i++;
        } else if (xadd && ts_arg_eq(o, "nomkstream")) {
            a->nomkstream = true;
        } else if (xadd) {
            bool sg;
            if (!parse_id(o, &a->id, 0, true, &sg)) { ts_reply_error(c->r, ERR_BAD_ID); return -1; }
            a->id_given = true;
            a->seq_given = sg;
            break;
        } else {
            ts_reply_error(c->r, TS_ERR_SYNTAX);
            return -1;
        }
    }
    if (a->limit && a->strategy == TRIM_NONE) {
        ts_reply_error(c->r, "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return -1;
    }
    if (!xadd && a->strategy == TRIM_NONE) {
        ts_reply_error(c->r, "ERR syntax error, XTRIM must be called with a trimming strategy");
        return -1;
    }
    if (a->approx) {
        if (!limit_given) {
            long long e = ts_db_config(&c->ex)->stream_node_max_entries;
            a->limit = e > 0 && e <= LLONG_MAX / 100 ? e * 100 : 10000;
            if (a->limit > 1000000) a->limit = 1000000;
        }
    } else {
        if (limit_given) {
            ts_reply_error(c->r, "ERR syntax error, LIMIT cannot be used without the special ~ option");
            return -1;
        }
        a->limit = 0;
    }
    return i;
}

static long long do_trim(ts_stream *s, const trim_args *a)
{
    if (a->strategy == TRIM_NONE) return 0;
    return ts_stream_trim(s, a->maxlen, a->strategy == TRIM_MINID ? &a->minid : NULL, a->approx, a->limit);
}

/* ---------- the AOF (aof.h) ---------- */

/* XADD is logged with the ID it made and an exact trim to the length it
 * left: an approximate trim depends on node boundaries, a '*' on the clock. */
static void prop_xadd(ts_cmd_ctx *c, const trim_args *a, const ts_stream *s, const ts_stream_id *id, int fpos)
{
    int nfv = c->argc - fpos;
    bool trim = a->strategy != TRIM_NONE;
    ts_prop_begin(c, 3 + (a->nomkstream ? 1 : 0) + (trim ? 3 : 0) + nfv);
    if (!ts_prop_on(c)) return;
    ts_aof_log *l = c->aof;
    ts_aof_log_arg(l, "XADD", 4);
    ts_aof_log_arg(l, c->argv[1].ptr, c->argv[1].len);
    if (a->nomkstream) ts_aof_log_arg(l, "NOMKSTREAM", 10);
    if (trim) {
        ts_aof_log_arg(l, "MAXLEN", 6);
        ts_aof_log_arg(l, "=", 1);
        ts_aof_log_arg_ll(l, (long long)s->length);
    }
    char buf[48];
    int len = ts_stream_id_fmt(id, buf);
    ts_aof_log_arg(l, buf, (size_t)len);
    for (int i = fpos; i < c->argc; i++) ts_aof_log_arg(l, c->argv[i].ptr, c->argv[i].len);
}

static void prop_xtrim(ts_cmd_ctx *c, const ts_stream *s)
{
    ts_prop_begin(c, 4);
    if (!ts_prop_on(c)) return;
    ts_aof_log_arg(c->aof, "XTRIM", 5);
    ts_aof_log_arg(c->aof, c->argv[1].ptr, c->argv[1].len);
    ts_aof_log_arg(c->aof, "MAXLEN", 6);
    ts_aof_log_arg_ll(c->aof, (long long)s->length);
}

void cmd_xadd(ts_cmd_ctx *c)
{
    trim_args a;
    int idpos = parse_add_trim(c, &a, true);
    if (idpos < 0) return;
    int fpos = idpos + 1;
    int nfv = c->argc - fpos;
    if (nfv < 2 || nfv % 2) {
        ts_reply_errorf(c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
        return;
    }
    if (a.id_given && a.seq_given && a.id.ms == 0 && a.id.seq == 0) {
        ts_reply_error(c->r, "ERR The ID specified in XADD must be greater than 0-0");
        return;
    }
    bool wt;
    ts_arg key = c->argv[1];
    ts_stream *s = stream_write(c, key, &wt);
    if (wt) return;
    if (!s) {
        if (a.nomkstream) { ts_reply_null(c->r); return; }
        s = ts_stream_new();
        ts_db_add_object(&c->ex, key, TS_TYPE_STREAM, TS_ENC_STREAM, s);
    }
    if (s->last_id.ms == UINT64_MAX && s->last_id.seq == UINT64_MAX) {
        ts_reply_error(c->r, ERR_EXHAUSTED);
        return;
    }
    ts_stream_id id;
    if (a.id_given) {
        if (a.seq_given) {
            id = a.id;
        } else if (s->last_id.ms == a.id.ms) {
            if (s->last_id.seq == UINT64_MAX) { ts_reply_error(c->r, ERR_ID_SMALL); return; }
            id = s->last_id;
            id.seq++;
        } else {
            id = a.id;
        }
    } else {
        uint64_t ms = (uint64_t)c->now_ms;
        if (ms > s->last_id.ms) { id.ms = ms; id.seq = 0; }
        else { id = s->last_id; ts_stream_id_incr(&id); }
    }
    if (ts_stream_id_cmp(&id, &s->last_id) <= 0) {
        ts_reply_error(c->r, ERR_ID_SMALL);
        return;
    }
    const ts_config *cfg = ts_db_config(&c->ex);
    ts_stream_append(s, &id, c->argv + fpos, nfv / 2, cfg->stream_node_max_bytes, cfg->stream_node_max_entries);
    reply_id(c->r, &id);
    ts_db_signal_modified(&c->ex, key);   /* once, whether or not it also trims */
    do_trim(s, &a);
    prop_xadd(c, &a, s, &id, fpos);
    ts_db_signal_ready(&c->ex, key);
}

void cmd_xtrim(ts_cmd_ctx *c)
{
    trim_args a;
    if (parse_add_trim(c, &a, false) < 0) return;
    bool wt;
    ts_stream *s = stream_write(c, c->argv[1], &wt);
    if (wt) return;
    if (!s) { ts_reply_int(c->r, 0); ts_prop_none(c); return; }
    long long deleted = do_trim(s, &a);
    ts_reply_int(c->r, deleted);
    if (deleted) ts_db_signal_modified(&c->ex, c->argv[1]);
    prop_xtrim(c, s);
}

void cmd_xlen(ts_cmd_ctx *c)
{
    bool wt;
    ts_stream *s = stream_read(c, c->argv[1], &wt);
    if (wt) return;
    ts_reply_int(c->r, s ? (long long)s->length : 0);
}

enum { ID_LIST_INLINE = 16 };

/* The ids argv[from..] (XDEL, XACK), in buf when they fit, else in an
 * allocation (free_id_list releases either). All must parse (explicit ids,
 * no "*" or "-"/"+"), else Redis's error is replied and NULL returned. */
static ts_stream_id *parse_id_list(ts_cmd_ctx *c, int from, ts_stream_id buf[ID_LIST_INLINE])
{
    int n = c->argc - from;
    ts_stream_id *ids = n > ID_LIST_INLINE ? ts_malloc(sizeof(*ids) * (size_t)n) : buf;
    for (int j = from; j < c->argc; j++) {
        if (!parse_id(c->argv[j], &ids[j - from], 0, true, NULL)) {
            ts_reply_error(c->r, ERR_BAD_ID);
            if (ids != buf) free(ids);
            return NULL;
        }
    }
    return ids;
}

/* Releases the ids parse_id_list returned (given the same buf). */
static void free_id_list(ts_stream_id *ids, const ts_stream_id *buf)
{
    if (ids != buf) free(ids);
}

void cmd_xdel(ts_cmd_ctx *c)
{
    bool wt;
    ts_stream *s = stream_write(c, c->argv[1], &wt);
    if (wt) return;
    if (!s) { ts_reply_int(c->r, 0); return; }
    int n = c->argc - 2;
    ts_stream_id idbuf[ID_LIST_INLINE];
    ts_stream_id *ids = parse_id_list(c, 2, idbuf);
    if (!ids) return;
    long long deleted = 0;
    bool first = false;
    for (int j = 0; j < n; j++) {
        if (!ts_stream_delete(s, &ids[j])) continue;
        if (ts_stream_id_cmp(&ids[j], &s->first_id) == 0) first = true;
        if (ts_stream_id_cmp(&ids[j], &s->max_deleted_id) > 0) s->max_deleted_id = ids[j];
        deleted++;
    }
    if (deleted) {
        if (s->length == 0) s->first_id = (ts_stream_id){0, 0};
        else if (first && !ts_stream_edge_id(s, false, &s->first_id)) s->first_id = ID_MAX;
        ts_db_signal_modified(&c->ex, c->argv[1]);
    }
    ts_reply_int(c->r, deleted);
    free_id_list(ids, idbuf);
}

static bool last_valid_id(const ts_stream *s, ts_stream_id *out);

void cmd_xsetid(ts_cmd_ctx *c)
{
    ts_stream_id id, maxdel = {0, 0};
    long long added = -1;
    if (!parse_id(c->argv[2], &id, 0, true, NULL)) { ts_reply_error(c->r, ERR_BAD_ID); return; }
    for (int i = 3; i < c->argc; i += 2) {
        int more = c->argc - 1 - i;
        if (ts_arg_eq(c->argv[i], "entriesadded") && more) {
            if (!ts_arg_to_ll(c->argv[i + 1], &added)) { ts_reply_error(c->r, TS_ERR_NOT_INT); return; }
            if (added < 0) { ts_reply_error(c->r, "ERR entries_added must be positive"); return; }
        } else if (ts_arg_eq(c->argv[i], "maxdeletedid") && more) {
            if (!parse_id(c->argv[i + 1], &maxdel, 0, true, NULL)) { ts_reply_error(c->r, ERR_BAD_ID); return; }
            if (ts_stream_id_cmp(&id, &maxdel) < 0) {
                ts_reply_error(c->r, "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
                return;
            }
        } else {
            ts_reply_error(c->r, TS_ERR_SYNTAX);
            return;
        }
    }
    bool wt;
    ts_stream *s = stream_write(c, c->argv[1], &wt);
    if (wt) return;
    if (!s) { ts_reply_error(c->r, TS_ERR_NO_KEY); return; }
    ts_stream_id maxid;
    if (last_valid_id(s, &maxid)) {
        if (ts_stream_id_cmp(&id, &maxid) < 0) {
            ts_reply_error(c->r, "ERR The ID specified in XSETID is smaller than the target stream top item");
            return;
        }
        if (added != -1 && s->length > (uint64_t)added) {
            ts_reply_error(c->r, "ERR The entries_added specified in XSETID is smaller than the target stream length");
            return;
        }
    }
    s->last_id = id;
    if (added != -1) s->entries_added = (uint64_t)added;
    if (maxdel.ms || maxdel.seq) s->max_deleted_id = maxdel;
    ts_reply_ok(c->r);
}

/* ---------- XRANGE / XREVRANGE ---------- */

static void xrange_generic(ts_cmd_ctx *c, bool rev)
{
    ts_arg sa = rev ? c->argv[3] : c->argv[2], ea = rev ? c->argv[2] : c->argv[3];
    ts_stream_id start, end;
    bool sx, ex;
    long long count = -1;
    if (!parse_interval(sa, &start, &sx, 0)) { ts_reply_error(c->r, ERR_BAD_ID); return; }
    if (sx && !ts_stream_id_incr(&start)) { ts_reply_error(c->r, "ERR invalid start ID for the interval"); return; }
    if (!parse_interval(ea, &end, &ex, UINT64_MAX)) { ts_reply_error(c->r, ERR_BAD_ID); return; }
    if (ex && !ts_stream_id_decr(&end)) { ts_reply_error(c->r, "ERR invalid end ID for the interval"); return; }
    for (int j = 4; j < c->argc; j++) {
        int more = c->argc - j - 1;
        if (ts_arg_eq(c->argv[j], "count") && more >= 1) {
            if (!ts_arg_to_ll(c->argv[j + 1], &count)) { ts_reply_error(c->r, TS_ERR_NOT_INT); return; }
            if (count < 0) count = 0;
            j++;
        } else {
            ts_reply_error(c->r, TS_ERR_SYNTAX);
            return;
        }
    }
    bool wt;
    ts_stream *s = stream_read(c, c->argv[1], &wt);
    if (wt) return;
    if (!s) { ts_reply_array(c->r, 0); return; }
    if (count == 0) { ts_reply_null_array(c->r); return; }
    if (count == -1) count = 0;
    reply_range(c, s, &start, &end, (size_t)count, rev, NULL, NULL, 0, NULL);
}

void cmd_xrange(ts_cmd_ctx *c) { xrange_generic(c, false); }
void cmd_xrevrange(ts_cmd_ctx *c) { xrange_generic(c, true); }

/* ---------- XREAD / XREADGROUP ---------- */

typedef struct xread_args {
    bool group_mode;
    long long timeout;   /* -1: no BLOCK */
    long long count;
    int streams_arg, nstreams;
    bool noack;
    ts_arg group, consumer;
    bool have_group;
} xread_args;

/* Parses XREAD/XREADGROUP options; false after replying an error. */
static bool parse_xread(ts_cmd_ctx *c, xread_args *a)
{
    memset(a, 0, sizeof(*a));
    a->group_mode = strcmp(c->cmd->name, "xreadgroup") == 0;
    a->timeout = -1;
    for (int i = 1; i < c->argc; i++) {
        int more = c->argc - i - 1;
        ts_arg o = c->argv[i];
        if (ts_arg_eq(o, "block") && more) {
            i++;
            int64_t ms;
            const char *err = ts_parse_block_timeout(c->argv[i], false, &ms);
            if (err) { ts_reply_error(c->r, err); return false; }
            a->timeout = ms;
        } else if (ts_arg_eq(o, "count") && more) {
            i++;
            if (!ts_arg_to_ll(c->argv[i], &a->count)) { ts_reply_error(c->r, TS_ERR_NOT_INT); return false; }
            if (a->count < 0) a->count = 0;
        } else if (ts_arg_eq(o, "streams") && more) {
            a->streams_arg = i + 1;
            int n = c->argc - a->streams_arg;
            if (n % 2) {
                ts_reply_errorf(c->r,
                                "ERR Unbalanced %s list of streams: for each stream key an ID or '$' must be "
                                "specified.",
                                a->group_mode ? "XREADGROUP" : "XREAD");
                return false;
            }
            a->nstreams = n / 2;
            break;
        } else if (ts_arg_eq(o, "group") && more >= 2) {
            if (!a->group_mode) {
                ts_reply_error(c->r, "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
                return false;
            }
            a->group = c->argv[i + 1];
            a->consumer = c->argv[i + 2];
            a->have_group = true;
            i += 2;
        } else if (ts_arg_eq(o, "noack")) {
            if (!a->group_mode) {
                ts_reply_error(c->r, "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
                return false;
            }
            a->noack = true;
        } else {
            ts_reply_error(c->r, TS_ERR_SYNTAX);
            return false;
        }
    }
    if (a->streams_arg == 0) { ts_reply_error(c->r, TS_ERR_SYNTAX); return false; }
    if (a->group_mode && !a->have_group) {
        ts_reply_error(c->r, "ERR Missing GROUP option for XREADGROUP");
        return false;
    }
    return true;
}

/* The last live entry's id (Redis's streamLastValidID); false when empty. */
static bool last_valid_id(const ts_stream *s, ts_stream_id *out)
{
    if (!s->length) return false;
    return ts_stream_edge_id(s, true, out);
}

/* XREAD and XREADGROUP. XREADGROUP (the write one) logs what it changed
 * in its groups (prop_cg_logs); nothing when it blocked or failed. */
void cmd_xread(ts_cmd_ctx *c)
{
    uint32_t errors = c->r->errors;
    xread_args a;
    if (!parse_xread(c, &a)) return;
    int n = a.nstreams;
    ts_stream_id idbuf[8];
    ts_stream_cg *gbuf[8];
    ts_stream *sbuf[8];
    bool dollar_buf[8];
    cg_log logbuf[8];
    ts_stream_id *ids = n > 8 ? ts_malloc(sizeof(*ids) * (size_t)n) : idbuf;
    ts_stream_cg **groups = n > 8 ? ts_malloc(sizeof(*groups) * (size_t)n) : gbuf;
    ts_stream **streams = n > 8 ? ts_malloc(sizeof(*streams) * (size_t)n) : sbuf;
    bool *dollar = n > 8 ? ts_malloc(sizeof(*dollar) * (size_t)n) : dollar_buf;
    cg_log *logs = n > 8 ? ts_malloc(sizeof(*logs) * (size_t)n) : logbuf;
    memset(logs, 0, sizeof(*logs) * (size_t)n);
    bool serving = c->serve_key != NULL;

    for (int i = 0; i < n; i++) {
        int kpos = a.streams_arg + i, ipos = a.streams_arg + n + i;
        ts_arg key = c->argv[kpos], ida = c->argv[ipos];
        streams[i] = NULL;
        groups[i] = NULL;
        dollar[i] = false;
        if (!ts_cmd_key_wanted(c, kpos)) continue;
        bool wt;
        ts_entry *e = ts_db_lookup_read(&c->ex, key);
        wt = e && ts_entry_type(e) != TS_TYPE_STREAM;
        if (wt) {
            if (serving && a.group_mode) ts_reply_error(c->r, "UNBLOCKED the stream key no longer exists");
            else ts_reply_error(c->r, TS_ERR_WRONGTYPE);
            goto out;
        }
        ts_stream *s = e ? ts_entry_obj(e) : NULL;
        streams[i] = s;
        if (a.group_mode) {
            ts_stream_cg *g = s ? ts_stream_cg_find(s, a.group.ptr, a.group.len) : NULL;
            if (!g) {
                if (serving && !s) ts_reply_error(c->r, "UNBLOCKED the stream key no longer exists");
                else if (serving)
                    ts_reply_error(c->r, "NOGROUP the consumer group this client was blocked on no longer exists");
                else
                    ts_reply_errorf(c->r,
                                    "NOGROUP No such key '%.*s' or consumer group '%.*s' in XREADGROUP with GROUP "
                                    "option",
                                    ARGF(key), ARGF(a.group));
                goto out;
            }
            groups[i] = g;
        }
        if (ida.len == 1 && ida.ptr[0] == '$') {
            if (a.group_mode) {
                ts_reply_error(c->r,
                               "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the "
                               "history of this consumer by specifying a proper ID, or use the > ID to get new "
                               "messages. The $ ID would just return an empty result set.");
                goto out;
            }
            ids[i] = s ? s->last_id : (ts_stream_id){0, 0};
            dollar[i] = true;
            continue;
        }
        if (ida.len == 1 && ida.ptr[0] == '>') {
            if (!a.group_mode) {
                ts_reply_error(c->r,
                               "ERR The > ID can be specified only when calling XREADGROUP using the GROUP "
                               "<group> <consumer> option.");
                goto out;
            }
            ids[i] = ID_MAX;
            continue;
        }
        if (!parse_id(ida, &ids[i], 0, true, NULL)) {
            ts_reply_error(c->r, ERR_BAD_ID);
            goto out;
        }
    }

    size_t handle = 0;
    long served = 0;
    for (int i = 0; i < n; i++) {
        ts_stream *s = streams[i];
        if (!s) continue;
        ts_stream_id gt = ids[i];
        bool sync = false, history = false;
        if (a.group_mode) {
            if (gt.ms != UINT64_MAX || gt.seq != UINT64_MAX) {
                sync = history = true;
            } else {
                ts_stream_id maxid;
                if (last_valid_id(s, &maxid) && ts_stream_id_cmp(&maxid, &groups[i]->last_id) > 0) {
                    sync = true;
                    gt = groups[i]->last_id;
                }
            }
        } else {
            ts_stream_id maxid;
            if (last_valid_id(s, &maxid) && ts_stream_id_cmp(&maxid, &gt) > 0) sync = true;
        }
        if (!sync) continue;
        if (++served == 1) handle = ts_reply_defer(c->r);
        ts_stream_id start = gt;
        ts_stream_id_incr(&start);
        if (c->r->resp == 2) ts_reply_array(c->r, 2);
        ts_arg key = c->argv[a.streams_arg + i];
        ts_reply_bulk(c->r, key.ptr, key.len);
        ts_stream_consumer *cons = NULL;
        if (a.group_mode) {
            cg_log_start(c, &logs[i], key, groups[i], a.consumer);
            cons = ts_stream_consumer_get(groups[i], a.consumer.ptr, a.consumer.len, stamp_clock(c),
                                          &logs[i].consumer_created);
            cons->seen_time = stamp_clock(c);
        }
        if (history) {
            /* The consumer's own pending entries from start on. */
            size_t h = ts_reply_defer(c->r), k = 0;
            size_t j = ts_stream_pel_lower(&cons->pel, &start);
            for (; j < cons->pel.n && (!a.count || k < (size_t)a.count); j++, k++) {
                ts_stream_nack *nk = cons->pel.v[j];
                if (!reply_one(c, s, &nk->id)) {
                    ts_reply_array(c->r, 2);
                    reply_id(c->r, &nk->id);
                    ts_reply_null_array(c->r);
                } else {
                    nk->delivery_time = c->now_ms;
                    nk->delivery_count++;
                    cg_log_claimed(&logs[i], &nk->id);
                }
            }
            ts_reply_set_array_len(c->r, h, (long)k);
        } else {
            reply_range(c, s, &start, &ID_MAX, (size_t)a.count, false, groups[i], cons, a.noack ? RWR_NOACK : 0,
                        &logs[i]);
        }
    }
    if (served) {
        if (c->r->resp == 2) ts_reply_set_array_len(c->r, handle, served);
        else ts_reply_set_map_len(c->r, handle, served);
        goto out;
    }
    if (a.timeout != -1 && !serving) {
        /* '$' means the last id at this attempt: the blocker keeps it. */
        if (c->blocker) {
            for (int i = 0; i < n; i++) {
                if (!dollar[i]) continue;
                char buf[48];
                int len = ts_stream_id_fmt(&ids[i], buf);
                ts_blocker_set_arg(c->blocker, a.streams_arg + n + i, buf, (size_t)len);
            }
        }
        ts_prop_none(c);
        ts_cmd_block(c, a.timeout);
        goto out;
    }
    ts_reply_null_array(c->r);
out:
    if (a.group_mode && c->r->errors == errors) prop_cg_logs(c, logs, n);
    else for (int i = 0; i < n; i++) cg_log_free(&logs[i]);
    if (ids != idbuf) free(ids);
    if (groups != gbuf) free(groups);
    if (streams != sbuf) free(streams);
    if (dollar != dollar_buf) free(dollar);
    if (logs != logbuf) free(logs);
}

bool ts_stream_blocked_ready(const ts_stream *s, bool is_stream, int argc, const ts_arg *argv, ts_arg key)
{
    bool group_mode = false;
    ts_arg group = {0};
    int sa = 0;
    for (int i = 1; i < argc; i++) {
        if (ts_arg_eq(argv[i], "group") && i + 2 < argc) {
            group_mode = true;
            group = argv[i + 1];
            i += 2;
        } else if (ts_arg_eq(argv[i], "block") || ts_arg_eq(argv[i], "count")) {
            i++;
        } else if (ts_arg_eq(argv[i], "streams")) {
            sa = i + 1;
            break;
        }
    }
    if (!sa) return false;
    int n = (argc - sa) / 2;
    /* A deleted (or replaced) stream or group ends an XREADGROUP wait with
     * an error, like Redis 7.0; XREAD keeps waiting. */
    if (!is_stream) return group_mode;
    for (int i = 0; i < n; i++) {
        ts_arg k = argv[sa + i];
        if (k.len != key.len || memcmp(k.ptr, key.ptr, k.len) != 0) continue;
        ts_arg ida = argv[sa + n + i];
        ts_stream_id gt;
        if (group_mode) {
            ts_stream_cg *g = ts_stream_cg_find(s, group.ptr, group.len);
            if (!g) return true;
            gt = g->last_id;
        } else if (!parse_id(ida, &gt, 0, true, NULL)) {
            return false;
        }
        return ts_stream_id_cmp(&s->last_id, &gt) > 0;
    }
    return false;
}

/* ---------- XGROUP ---------- */

static bool parse_entries_read(ts_cmd_ctx *c, ts_arg a, long long *out)
{
    if (!ts_arg_to_ll(a, out)) { ts_reply_error(c->r, TS_ERR_NOT_INT); return false; }
    if (*out < 0 && *out != TS_STREAM_READ_INVALID) { ts_reply_error(c->r, ERR_ENTRIESREAD); return false; }
    return true;
}

static void subcommand_syntax(ts_cmd_ctx *c, const char *container)
{
    ts_reply_errorf(c->r, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try %s HELP.",
                    ARGF(c->argv[1]), container);
}

/* What the XGROUP subcommands share: the stream (NULL only for CREATE
 * with MKSTREAM), the group (NULL when there is none by that name), and the
 * options of CREATE and SETID. */
typedef struct xgroup_args {
    ts_stream *s;
    ts_stream_cg *g;
    bool mkstream;
    long long entries_read;
} xgroup_args;

/* The common prelude of XGROUP subcommands: options of CREATE, the key,
 * the group. Returns false after replying. */
static bool xgroup_prelude(ts_cmd_ctx *c, xgroup_args *a, bool need_group)
{
    a->mkstream = false;
    a->entries_read = TS_STREAM_READ_INVALID;
    bool create = ts_arg_eq(c->argv[1], "create");
    if (ts_arg_eq(c->argv[1], "setid") && c->argc > 5) {
        /* Like Redis 7.0: SETID's option is checked before the key is. */
        if (!ts_arg_eq(c->argv[5], "entriesread") || c->argc != 7) {
            subcommand_syntax(c, "XGROUP");
            return false;
        }
        if (!parse_entries_read(c, c->argv[6], &a->entries_read)) return false;
    }
    if (create && c->argc >= 5) {
        for (int i = 5; i < c->argc;) {
            if (ts_arg_eq(c->argv[i], "mkstream")) {
                a->mkstream = true;
                i++;
            } else if (ts_arg_eq(c->argv[i], "entriesread") && i + 1 < c->argc) {
                if (!parse_entries_read(c, c->argv[i + 1], &a->entries_read)) return false;
                i += 2;
            } else {
                subcommand_syntax(c, "XGROUP");
                return false;
            }
        }
    }
    bool wt;
    ts_stream *s = stream_write(c, c->argv[2], &wt);
    if (wt) return false;
    if (!s && !(create && a->mkstream)) { ts_reply_error(c->r, ERR_NEED_KEY); return false; }
    ts_arg gn = c->argv[3];
    ts_stream_cg *g = s ? ts_stream_cg_find(s, gn.ptr, gn.len) : NULL;
    if (!g && need_group) {
        ts_reply_errorf(c->r, "NOGROUP No such consumer group '%.*s' for key name '%.*s'", ARGF(gn),
                        ARGF(c->argv[2]));
        return false;
    }
    a->s = s;
    a->g = g;
    return true;
}

void cmd_xgroup_create(ts_cmd_ctx *c)
{
    xgroup_args a;
    if (!xgroup_prelude(c, &a, false)) return;
    if (c->argc > 8) { subcommand_syntax(c, "XGROUP"); return; }
    ts_stream_id id;
    ts_arg ida = c->argv[4];
    if (ida.len == 1 && ida.ptr[0] == '$') {
        id = a.s ? a.s->last_id : (ts_stream_id){0, 0};
    } else if (!parse_id(ida, &id, 0, true, NULL)) {
        ts_reply_error(c->r, ERR_BAD_ID);
        return;
    }
    if (!a.s) {
        a.s = ts_stream_new();
        ts_db_add_object(&c->ex, c->argv[2], TS_TYPE_STREAM, TS_ENC_STREAM, a.s);
        /* MKSTREAM's new key is the only change Redis 7.0 signals among
         * the group commands (XGROUP SETID/DESTROY/..., XACK, XCLAIM,
         * XAUTOCLAIM, XREADGROUP and XSETID signal nothing). */
        ts_db_signal_modified(&c->ex, c->argv[2]);
    }
    if (ts_stream_cg_create(a.s, c->argv[3].ptr, c->argv[3].len, &id, a.entries_read)) ts_reply_ok(c->r);
    else ts_reply_error(c->r, "BUSYGROUP Consumer Group name already exists");
}

void cmd_xgroup_setid(ts_cmd_ctx *c)
{
    xgroup_args a;
    if (!xgroup_prelude(c, &a, true)) return;
    ts_stream_id id;
    ts_arg ida = c->argv[4];
    if (ida.len == 1 && ida.ptr[0] == '$') {
        id = a.s->last_id;
    } else if (!parse_id(ida, &id, 0, false, NULL)) {
        ts_reply_error(c->r, ERR_BAD_ID);
        return;
    }
    a.g->last_id = id;
    a.g->entries_read = a.entries_read;
    ts_reply_ok(c->r);
}

void cmd_xgroup_destroy(ts_cmd_ctx *c)
{
    xgroup_args a;
    if (!xgroup_prelude(c, &a, false)) return;
    if (a.g) {
        ts_stream_cg_destroy(a.s, c->argv[3].ptr, c->argv[3].len);
        ts_reply_int(c->r, 1);
        /* Clients blocked on the group get their NOGROUP error. */
        ts_db_signal_ready(&c->ex, c->argv[2]);
    } else {
        ts_reply_int(c->r, 0);
    }
}

void cmd_xgroup_createconsumer(ts_cmd_ctx *c)
{
    xgroup_args a;
    if (!xgroup_prelude(c, &a, true)) return;
    bool created;
    ts_stream_consumer_get(a.g, c->argv[4].ptr, c->argv[4].len, stamp_clock(c), &created);
    ts_reply_int(c->r, created);
}

void cmd_xgroup_delconsumer(ts_cmd_ctx *c)
{
    xgroup_args a;
    if (!xgroup_prelude(c, &a, true)) return;
    ts_reply_int(c->r, (long long)ts_stream_consumer_delete(a.g, c->argv[4].ptr, c->argv[4].len));
}

void cmd_xgroup_help(ts_cmd_ctx *c)
{
    static const char *const lines[] = {
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    };
    ts_reply_status_lines(c->r, lines, TS_ARRAY_LEN(lines));
}

/* ---------- XACK / XPENDING / XCLAIM / XAUTOCLAIM ---------- */

/* Key and group, or NULL after replying NOGROUP (wrongtype: WRONGTYPE). */
static ts_stream_cg *need_group(ts_cmd_ctx *c, ts_stream **sp, bool write)
{
    bool wt;
    ts_stream *s = write ? stream_write(c, c->argv[1], &wt) : stream_read(c, c->argv[1], &wt);
    if (wt) return NULL;
    ts_stream_cg *g = s ? ts_stream_cg_find(s, c->argv[2].ptr, c->argv[2].len) : NULL;
    if (!g) {
        ts_reply_errorf(c->r, "NOGROUP No such key '%.*s' or consumer group '%.*s'", ARGF(c->argv[1]),
                        ARGF(c->argv[2]));
        return NULL;
    }
    *sp = s;
    return g;
}

void cmd_xack(ts_cmd_ctx *c)
{
    bool wt;
    ts_stream *s = stream_write(c, c->argv[1], &wt);
    if (wt) return;
    ts_stream_cg *g = s ? ts_stream_cg_find(s, c->argv[2].ptr, c->argv[2].len) : NULL;
    if (!g) { ts_reply_int(c->r, 0); return; }
    int n = c->argc - 3;
    ts_stream_id idbuf[ID_LIST_INLINE];
    ts_stream_id *ids = parse_id_list(c, 3, idbuf);
    if (!ids) return;
    long long acked = 0;
    for (int j = 0; j < n; j++) acked += ts_stream_cg_ack(g, &ids[j]);
    ts_reply_int(c->r, acked);
    free_id_list(ids, idbuf);
}

void cmd_xpending(ts_cmd_ctx *c)
{
    bool justinfo = c->argc == 3;
    ts_stream_id start = {0, 0}, end = ID_MAX;
    long long count = 0, minidle = 0;
    ts_arg consumer = {0};
    bool have_consumer = false;
    if (c->argc != 3 && (c->argc < 6 || c->argc > 9)) { ts_reply_error(c->r, TS_ERR_SYNTAX); return; }
    if (c->argc >= 6) {
        int si = 3;
        if (ts_arg_eq(c->argv[3], "idle")) {
            if (!ts_arg_to_ll(c->argv[4], &minidle)) { ts_reply_error(c->r, TS_ERR_NOT_INT); return; }
            if (c->argc < 8) { ts_reply_error(c->r, TS_ERR_SYNTAX); return; }
            si += 2;
        }
        if (!ts_arg_to_ll(c->argv[si + 2], &count)) { ts_reply_error(c->r, TS_ERR_NOT_INT); return; }
        if (count < 0) count = 0;
        bool sx, ex;
        if (!parse_interval(c->argv[si], &start, &sx, 0)) { ts_reply_error(c->r, ERR_BAD_ID); return; }
        if (sx && !ts_stream_id_incr(&start)) { ts_reply_error(c->r, "ERR invalid start ID for the interval"); return; }
        if (!parse_interval(c->argv[si + 1], &end, &ex, UINT64_MAX)) { ts_reply_error(c->r, ERR_BAD_ID); return; }
        if (ex && !ts_stream_id_decr(&end)) { ts_reply_error(c->r, "ERR invalid end ID for the interval"); return; }
        if (si + 3 < c->argc) { consumer = c->argv[si + 3]; have_consumer = true; }
    }
    ts_stream *s;
    ts_stream_cg *g = need_group(c, &s, false);
    if (!g) return;
    if (justinfo) {
        ts_reply_array(c->r, 4);
        ts_reply_int(c->r, (long long)g->pel.n);
        if (!g->pel.n) {
            ts_reply_null(c->r);
            ts_reply_null(c->r);
            ts_reply_null_array(c->r);
            return;
        }
        reply_id(c->r, &g->pel.v[0]->id);
        reply_id(c->r, &g->pel.v[g->pel.n - 1]->id);
        long k = 0;
        for (size_t i = 0; i < g->nconsumers; i++) k += g->consumers[i]->pel.n != 0;
        ts_reply_array(c->r, k);
        for (size_t i = 0; i < g->nconsumers; i++) {
            ts_stream_consumer *cn = g->consumers[i];
            if (!cn->pel.n) continue;
            ts_reply_array(c->r, 2);
            ts_reply_bulk(c->r, cn->name, cn->name_len);
            ts_reply_bulk_ll(c->r, (long long)cn->pel.n);
        }
        return;
    }
    const ts_stream_pel *pel = &g->pel;
    if (have_consumer) {
        ts_stream_consumer *cn = ts_stream_consumer_find(g, consumer.ptr, consumer.len);
        if (!cn) { ts_reply_array(c->r, 0); return; }
        pel = &cn->pel;
    }
    size_t h = ts_reply_defer(c->r);
    long n = 0;
    for (size_t i = ts_stream_pel_lower(pel, &start); count && i < pel->n; i++) {
        ts_stream_nack *nk = pel->v[i];
        if (ts_stream_id_cmp(&nk->id, &end) > 0) break;
        if (minidle && c->now_ms - nk->delivery_time < minidle) continue;
        n++;
        count--;
        ts_reply_array(c->r, 4);
        reply_id(c->r, &nk->id);
        ts_reply_bulk(c->r, nk->consumer->name, nk->consumer->name_len);
        int64_t el = c->now_ms - nk->delivery_time;
        ts_reply_int(c->r, el < 0 ? 0 : el);
        ts_reply_int(c->r, (long long)nk->delivery_count);
    }
    ts_reply_set_array_len(c->r, h, n);
}

static bool ll_or_reply(ts_cmd_ctx *c, ts_arg a, long long *out, const char *msg)
{
    if (ts_arg_to_ll(a, out)) return true;
    if (msg) ts_reply_errorf(c->r, "ERR %s", msg);
    else ts_reply_error(c->r, TS_ERR_NOT_INT);
    return false;
}

/* Logs what it changed in the group (prop_cg_logs). */
void cmd_xclaim(ts_cmd_ctx *c)
{
    ts_stream *s;
    ts_stream_cg *g = need_group(c, &s, true);
    if (!g) return;
    long long minidle, retrycount = -1, deliverytime = -1;
    bool force = false, justid = false;
    if (!ll_or_reply(c, c->argv[4], &minidle, "Invalid min-idle-time argument for XCLAIM")) return;
    if (minidle < 0) minidle = 0;
    int j, nids = 0;
    ts_stream_id *ids = ts_malloc(sizeof(*ids) * (size_t)c->argc);
    for (j = 5; j < c->argc; j++) {
        if (!parse_id(c->argv[j], &ids[nids], 0, true, NULL)) break;
        nids++;
    }
    int64_t now = stamp_clock(c);
    ts_stream_id last_id = {0, 0};
    for (; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        ts_arg o = c->argv[j];
        if (ts_arg_eq(o, "force")) {
            force = true;
        } else if (ts_arg_eq(o, "justid")) {
            justid = true;
        } else if (ts_arg_eq(o, "idle") && more) {
            j++;
            if (!ll_or_reply(c, c->argv[j], &deliverytime, "Invalid IDLE option argument for XCLAIM")) goto out;
            deliverytime = now - deliverytime;
        } else if (ts_arg_eq(o, "time") && more) {
            j++;
            if (!ll_or_reply(c, c->argv[j], &deliverytime, "Invalid TIME option argument for XCLAIM")) goto out;
        } else if (ts_arg_eq(o, "retrycount") && more) {
            j++;
            if (!ll_or_reply(c, c->argv[j], &retrycount, "Invalid RETRYCOUNT option argument for XCLAIM")) goto out;
        } else if (ts_arg_eq(o, "lastid") && more) {
            j++;
            if (!parse_id(c->argv[j], &last_id, 0, true, NULL)) { ts_reply_error(c->r, ERR_BAD_ID); goto out; }
        } else {
            ts_reply_errorf(c->r, "ERR Unrecognized XCLAIM option '%.*s'", ARGF(o));
            goto out;
        }
    }
    cg_log log;
    cg_log_start(c, &log, c->argv[1], g, c->argv[3]);
    if (ts_stream_id_cmp(&last_id, &g->last_id) > 0) g->last_id = last_id;
    if (deliverytime != -1) {
        if (deliverytime < 0 || deliverytime > now) deliverytime = now;
    } else {
        deliverytime = now;
    }
    ts_stream_consumer *cons = NULL;
    size_t h = ts_reply_defer(c->r);
    long n = 0;
    for (int i = 0; i < nids; i++) {
        ts_stream_id id = ids[i];
        ts_stream_nack *nk = ts_stream_pel_find(&g->pel, &id);
        if (!ts_stream_entry_exists(s, &id)) {
            if (nk) {
                ts_stream_cg_ack(g, &id);
                cg_log_acked(&log, &id);
            }
            continue;
        }
        if (force && !nk) {
            nk = ts_calloc(1, sizeof(*nk));
            nk->id = id;
            nk->delivery_time = now;
            nk->delivery_count = 1;
            ts_stream_pel_insert(&g->pel, nk);
        }
        if (!nk) continue;
        if (nk->consumer && minidle && now - nk->delivery_time < minidle) continue;
        if (!cons) {
            cons = ts_stream_consumer_get(g, c->argv[3].ptr, c->argv[3].len, now, NULL);
            cons->seen_time = now;
        }
        nk->delivery_time = deliverytime;
        if (retrycount >= 0) nk->delivery_count = (uint64_t)retrycount;
        else if (!justid) nk->delivery_count++;
        ts_stream_nack_move(nk, cons);
        cg_log_claimed(&log, &id);
        if (justid) reply_id(c->r, &id);
        else if (!reply_one(c, s, &id)) ts_reply_null(c->r);
        n++;
    }
    ts_reply_set_array_len(c->r, h, n);
    prop_cg_logs(c, &log, 1);
out:
    free(ids);
}

/* Logs what it changed in the group (prop_cg_logs). */
void cmd_xautoclaim(ts_cmd_ctx *c)
{
    long long minidle, count = 100;
    bool justid = false;
    ts_stream_id start;
    bool sx;
    if (!ll_or_reply(c, c->argv[4], &minidle, "Invalid min-idle-time argument for XAUTOCLAIM")) return;
    if (minidle < 0) minidle = 0;
    if (!parse_interval(c->argv[5], &start, &sx, 0)) { ts_reply_error(c->r, ERR_BAD_ID); return; }
    if (sx && !ts_stream_id_incr(&start)) { ts_reply_error(c->r, "ERR invalid start ID for the interval"); return; }
    for (int j = 6; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (ts_arg_eq(c->argv[j], "count") && more) {
            long long maxc = LONG_MAX / 16;
            if (!ts_arg_to_ll(c->argv[j + 1], &count)) { ts_reply_error(c->r, "ERR COUNT must be > 0"); return; }
            if (count < 1 || count > maxc) { ts_reply_error(c->r, "ERR COUNT must be > 0"); return; }
            j++;
        } else if (ts_arg_eq(c->argv[j], "justid")) {
            justid = true;
        } else {
            ts_reply_error(c->r, TS_ERR_SYNTAX);
            return;
        }
    }
    ts_stream *s;
    ts_stream_cg *g = need_group(c, &s, true);
    if (!g) return;
    long long attempts = count * 10;
    int64_t now = stamp_clock(c);
    cg_log log;
    cg_log_start(c, &log, c->argv[1], g, c->argv[3]);
    ts_stream_consumer *cons = NULL;
    size_t ndel = 0;
    ts_stream_id *deleted = ts_malloc(sizeof(*deleted) * (size_t)(count < 1024 ? count : 1024));
    size_t delcap = (size_t)(count < 1024 ? count : 1024);
    ts_reply_array(c->r, 3);
    /* The cursor comes first but is known last: write claimed entries into
     * a side buffer, then the cursor, the entries, the deleted ids. */
    ts_buf side;
    ts_buf_init(&side);
    ts_reply sr;
    ts_reply_init(&sr, &side, c->r->resp);
    ts_reply *main_r = c->r;
    c->r = &sr;
    long n = 0;
    size_t i = ts_stream_pel_lower(&g->pel, &start);
    while (attempts-- && count && i < g->pel.n) {
        ts_stream_nack *nk = g->pel.v[i];
        ts_stream_id id = nk->id;
        if (!ts_stream_entry_exists(s, &id)) {
            ts_stream_cg_ack(g, &id);   /* removes index i: the next one slides in */
            if (ndel == delcap) {
                delcap *= 2;
                deleted = ts_realloc(deleted, sizeof(*deleted) * delcap);
            }
            deleted[ndel++] = id;
            cg_log_acked(&log, &id);
            count--;
            continue;
        }
        if (minidle && now - nk->delivery_time < minidle) { i++; continue; }
        if (!cons) {
            cons = ts_stream_consumer_get(g, c->argv[3].ptr, c->argv[3].len, now, NULL);
            cons->seen_time = now;
        }
        nk->delivery_time = now;
        if (!justid) nk->delivery_count++;
        ts_stream_nack_move(nk, cons);
        cg_log_claimed(&log, &id);
        if (justid) reply_id(c->r, &id);
        else reply_one(c, s, &id);
        n++;
        count--;
        i++;
    }
    c->r = main_r;
    ts_stream_id cursor = i < g->pel.n ? g->pel.v[i]->id : (ts_stream_id){0, 0};
    reply_id(c->r, &cursor);
    ts_reply_array(c->r, n);
    ts_reply_raw(c->r, side.data, side.len);
    ts_buf_free(&side);
    ts_reply_array(c->r, (long)ndel);
    for (size_t k = 0; k < ndel; k++) reply_id(c->r, &deleted[k]);
    free(deleted);
    prop_cg_logs(c, &log, 1);
}

/* ---------- XINFO ---------- */

static void reply_lag(ts_cmd_ctx *c, const ts_stream *s, const ts_stream_cg *g)
{
    long long lag;
    if (ts_stream_cg_lag(s, g, &lag)) ts_reply_int(c->r, lag);
    else ts_reply_null(c->r);
}

static void reply_entries_read(ts_cmd_ctx *c, const ts_stream_cg *g)
{
    if (g->entries_read != TS_STREAM_READ_INVALID) ts_reply_int(c->r, g->entries_read);
    else ts_reply_null(c->r);
}

/* Redis reports its radix tree's node count; ours is an array, so this is
 * the count a rax holding these keys would roughly have. */
static long long rax_nodes_estimate(const ts_stream *s) { return s->nnodes ? (long long)s->nnodes + 1 : 1; }

/* XINFO STREAM FULL's "pel-count" and "pending" of a group's or a
 * consumer's PEL: its first count entries (0: all), each [id, consumer
 * name (group PELs only), delivery time, delivery count]. */
static void reply_full_pel(ts_cmd_ctx *c, const ts_stream_pel *pel, long long count, bool group)
{
    ts_reply_cstr(c->r, "pel-count");
    ts_reply_int(c->r, (long long)pel->n);
    ts_reply_cstr(c->r, "pending");
    size_t n = count && pel->n > (size_t)count ? (size_t)count : pel->n;
    ts_reply_array(c->r, (long)n);
    for (size_t i = 0; i < n; i++) {
        const ts_stream_nack *nk = pel->v[i];
        ts_reply_array(c->r, group ? 4 : 3);
        reply_id(c->r, &nk->id);
        if (group) ts_reply_bulk(c->r, nk->consumer->name, nk->consumer->name_len);
        ts_reply_int(c->r, nk->delivery_time);
        ts_reply_int(c->r, (long long)nk->delivery_count);
    }
}

/* The stream at XINFO's key (argv[2]); NULL after replying WRONGTYPE or,
 * for a missing key, Redis's "no such key". */
static ts_stream *xinfo_stream(ts_cmd_ctx *c)
{
    bool wt;
    ts_stream *s = stream_read(c, c->argv[2], &wt);
    if (!s && !wt) ts_reply_error(c->r, TS_ERR_NO_KEY);
    return s;
}

void cmd_xinfo_stream(ts_cmd_ctx *c)
{
    ts_stream *s = xinfo_stream(c);
    if (!s) return;
    bool full = false;
    long long count = 10;
    int optc = c->argc - 3;
    if (optc) {
        if ((optc != 1 && optc != 3) || !ts_arg_eq(c->argv[3], "full")) { subcommand_syntax(c, "XINFO"); return; }
        if (optc == 3) {
            if (!ts_arg_eq(c->argv[4], "count")) { subcommand_syntax(c, "XINFO"); return; }
            if (!ts_arg_to_ll(c->argv[5], &count)) { ts_reply_error(c->r, TS_ERR_NOT_INT); return; }
            if (count < 0) count = 10;
        }
        full = true;
    }
    ts_reply_map(c->r, full ? 9 : 10);
    ts_reply_cstr(c->r, "length");
    ts_reply_int(c->r, (long long)s->length);
    ts_reply_cstr(c->r, "radix-tree-keys");
    ts_reply_int(c->r, (long long)s->nnodes);
    ts_reply_cstr(c->r, "radix-tree-nodes");
    ts_reply_int(c->r, rax_nodes_estimate(s));
    ts_reply_cstr(c->r, "last-generated-id");
    reply_id(c->r, &s->last_id);
    ts_reply_cstr(c->r, "max-deleted-entry-id");
    reply_id(c->r, &s->max_deleted_id);
    ts_reply_cstr(c->r, "entries-added");
    ts_reply_int(c->r, (long long)s->entries_added);
    ts_reply_cstr(c->r, "recorded-first-entry-id");
    reply_id(c->r, &s->first_id);
    if (!full) {
        ts_reply_cstr(c->r, "groups");
        ts_reply_int(c->r, (long long)s->ngroups);
        ts_reply_cstr(c->r, "first-entry");
        if (!reply_range(c, s, NULL, NULL, 1, false, NULL, NULL, RWR_RAW, NULL)) ts_reply_null(c->r);
        ts_reply_cstr(c->r, "last-entry");
        if (!reply_range(c, s, NULL, NULL, 1, true, NULL, NULL, RWR_RAW, NULL)) ts_reply_null(c->r);
        return;
    }
    ts_reply_cstr(c->r, "entries");
    reply_range(c, s, NULL, NULL, (size_t)count, false, NULL, NULL, 0, NULL);
    ts_reply_cstr(c->r, "groups");
    ts_reply_array(c->r, (long)s->ngroups);
    for (size_t i = 0; i < s->ngroups; i++) {
        ts_stream_cg *g = s->groups[i];
        ts_reply_map(c->r, 7);
        ts_reply_cstr(c->r, "name");
        ts_reply_bulk(c->r, g->name, g->name_len);
        ts_reply_cstr(c->r, "last-delivered-id");
        reply_id(c->r, &g->last_id);
        ts_reply_cstr(c->r, "entries-read");
        reply_entries_read(c, g);
        ts_reply_cstr(c->r, "lag");
        reply_lag(c, s, g);
        reply_full_pel(c, &g->pel, count, true);
        ts_reply_cstr(c->r, "consumers");
        ts_reply_array(c->r, (long)g->nconsumers);
        for (size_t k = 0; k < g->nconsumers; k++) {
            ts_stream_consumer *cn = g->consumers[k];
            ts_reply_map(c->r, 4);
            ts_reply_cstr(c->r, "name");
            ts_reply_bulk(c->r, cn->name, cn->name_len);
            ts_reply_cstr(c->r, "seen-time");
            ts_reply_int(c->r, cn->seen_time);
            reply_full_pel(c, &cn->pel, count, false);
        }
    }
}

void cmd_xinfo_groups(ts_cmd_ctx *c)
{
    ts_stream *s = xinfo_stream(c);
    if (!s) return;
    ts_reply_array(c->r, (long)s->ngroups);
    for (size_t i = 0; i < s->ngroups; i++) {
        ts_stream_cg *g = s->groups[i];
        ts_reply_map(c->r, 6);
        ts_reply_cstr(c->r, "name");
        ts_reply_bulk(c->r, g->name, g->name_len);
        ts_reply_cstr(c->r, "consumers");
        ts_reply_int(c->r, (long long)g->nconsumers);
        ts_reply_cstr(c->r, "pending");
        ts_reply_int(c->r, (long long)g->pel.n);
        ts_reply_cstr(c->r, "last-delivered-id");
        reply_id(c->r, &g->last_id);
        ts_reply_cstr(c->r, "entries-read");
        reply_entries_read(c, g);
        ts_reply_cstr(c->r, "lag");
        reply_lag(c, s, g);
    }
}

void cmd_xinfo_consumers(ts_cmd_ctx *c)
{
    ts_stream *s = xinfo_stream(c);
    if (!s) return;
    ts_stream_cg *g = ts_stream_cg_find(s, c->argv[3].ptr, c->argv[3].len);
    if (!g) {
        ts_reply_errorf(c->r, "NOGROUP No such consumer group '%.*s' for key name '%.*s'", ARGF(c->argv[3]),
                        ARGF(c->argv[2]));
        return;
    }
    ts_reply_array(c->r, (long)g->nconsumers);
    for (size_t i = 0; i < g->nconsumers; i++) {
        ts_stream_consumer *cn = g->consumers[i];
        ts_reply_map(c->r, 3);
        ts_reply_cstr(c->r, "name");
        ts_reply_bulk(c->r, cn->name, cn->name_len);
        ts_reply_cstr(c->r, "pending");
        ts_reply_int(c->r, (long long)cn->pel.n);
        ts_reply_cstr(c->r, "idle");
        int64_t idle = c->now_ms - cn->seen_time;
        ts_reply_int(c->r, idle < 0 ? 0 : idle);
    }
}

void cmd_xinfo_help(ts_cmd_ctx *c)
{
    static const char *const lines[] = {
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
    };
    ts_reply_status_lines(c->r, lines, TS_ARRAY_LEN(lines));
}
