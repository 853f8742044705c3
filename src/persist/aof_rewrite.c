/*
 * aof_rewrite.c - a key as the commands that rebuild it, for an AOF
 * rewrite without an RDB preamble (aof-use-rdb-preamble no).
 *
 * Owns: the command form of every type, the one Redis 7.0's rewrite
 * writes (rewriteAppendOnlyFileRio), so the file reads like Redis's and
 * loads into it: SET; RPUSH, SADD, ZADD, HMSET in batches of 64 items;
 * a stream as its XADDs, XGROUP CREATE per group, XCLAIM ... FORCE JUSTID
 * per pending entry and XGROUP CREATECONSUMER per consumer with nothing
 * pending, and XSETID (last id, entries added, max deleted id); then
 * PEXPIREAT for a key with a time to live. Unlike Redis's, pending entries
 * of deleted messages survive (rewrite_stream).
 *
 * Called by the shard's snapshot walk (snapshot.c) on the shard's own
 * thread, with the value as it was at the snapshot point.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/persist/aof.h"
#include "tessera/types/quicklist.h"
#include "tessera/util/strconv.h"
#include "tessera/types/t_hash.h"
#include "tessera/types/t_set.h"
#include "tessera/types/t_stream.h"
#include "tessera/types/t_zset.h"

#define ITEMS_PER_CMD 64   /* Redis's AOF_REWRITE_ITEMS_PER_CMD */

/* A command with a variable number of items, split into commands of at
 * most ITEMS_PER_CMD items: NAME key item... */
typedef struct batcher {
    ts_aof_log *log;
    int db;
    const char *name;
    const char *key;
    size_t klen;
    size_t left;        /* items still to write */
    size_t in_cmd;      /* items still to write in the current command */
    int args_per_item;
} batcher;

static void batch_item_begin(batcher *b)
{
    if (b->in_cmd == 0) {
        b->in_cmd = b->left < ITEMS_PER_CMD ? b->left : ITEMS_PER_CMD;
        ts_aof_log_begin(b->log, b->db, 2 + (int)b->in_cmd * b->args_per_item);
        ts_aof_log_arg_str(b->log, b->name);
        ts_aof_log_arg(b->log, b->key, b->klen);
    }
    b->in_cmd--;
    b->left--;
}

static void log_double(ts_aof_log *l, double d)
{
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%.17g", d);
    ts_aof_log_arg(l, buf, (size_t)n);
}

static void log_id(ts_aof_log *l, const ts_stream_id *id)
{
    char buf[48];
    int n = ts_stream_id_fmt(id, buf);
    ts_aof_log_arg(l, buf, (size_t)n);
}

void ts_aof_log_xclaim(ts_aof_log *l, int db, const char *key, size_t klen, const ts_stream_cg *g,
                       const ts_stream_nack *nk, const ts_stream_id *lastid)
{
    ts_aof_log_begin(l, db, lastid ? 14 : 12);
    ts_aof_log_arg_str(l, "XCLAIM");
    ts_aof_log_arg(l, key, klen);
    ts_aof_log_arg(l, g->name, g->name_len);
    ts_aof_log_arg(l, nk->consumer->name, nk->consumer->name_len);
    ts_aof_log_arg_str(l, "0");
    log_id(l, &nk->id);
    ts_aof_log_arg_str(l, "TIME");
    ts_aof_log_arg_ll(l, (long long)nk->delivery_time);
    ts_aof_log_arg_str(l, "RETRYCOUNT");
    ts_aof_log_arg_ll(l, (long long)nk->delivery_count);
    ts_aof_log_arg_str(l, "FORCE");
    ts_aof_log_arg_str(l, "JUSTID");
    if (lastid) {
        ts_aof_log_arg_str(l, "LASTID");
        log_id(l, lastid);
    }
}

static void each_set_member(void *ctx, const char *p, size_t n)
{
    batcher *b = ctx;
    batch_item_begin(b);
    ts_aof_log_arg(b->log, p, n);
}

static void each_hash_pair(void *ctx, ts_hobj_str f, ts_hobj_str v)
{
    batcher *b = ctx;
    batch_item_begin(b);
    ts_aof_log_arg(b->log, f.p, f.n);
    ts_aof_log_arg(b->log, v.p, v.n);
}

static void rewrite_list(batcher *b, ts_quicklist *ql)
{
    ts_ql_iter it;
    ts_lp_val val;
    if (!ts_ql_iter_at(ql, 0, TS_QL_TAIL, &it)) return;
    while (ts_ql_iter_next(&it, &val)) {
        batch_item_begin(b);
        if (val.str) ts_aof_log_arg(b->log, val.str, val.len);
        else ts_aof_log_arg_ll(b->log, val.ll);
    }
}

static void rewrite_zset(batcher *b, ts_zset *z)
{
    ts_zset_it it;
    for (ts_zset_it_at(z, &it, 0, false); ts_zset_it_valid(&it); ts_zset_it_next(&it)) {
        batch_item_begin(b);
        log_double(b->log, ts_zset_it_score(&it));
        size_t n;
        const char *m = ts_zset_it_member(&it, &n);
        ts_aof_log_arg(b->log, m, n);
    }
}

static int id_cmp_qsort(const void *a, const void *b) { return ts_stream_id_cmp(a, b); }

/* Pending entries whose message was deleted: XCLAIM skips a missing
 * message, so the rewrite adds these messages back for the claims and
 * deletes them after (Redis 7.0's own rewrite loses such entries). Sorted,
 * without duplicates; *n of them. */
static ts_stream_id *deleted_pending(const ts_stream *s, size_t *n)
{
    ts_stream_id *v = NULL;
    size_t len = 0, cap = 0;
    for (size_t gi = 0; gi < s->ngroups; gi++) {
        const ts_stream_pel *pel = &s->groups[gi]->pel;
        for (size_t i = 0; i < pel->n; i++) {
            if (ts_stream_entry_exists(s, &pel->v[i]->id)) continue;
            if (len == cap) {
                cap = cap ? cap * 2 : 8;
                v = ts_realloc(v, sizeof(*v) * cap);
            }
            v[len++] = pel->v[i]->id;
        }
    }
    if (len > 1) qsort(v, len, sizeof(*v), id_cmp_qsort);
    size_t out = 0;
    for (size_t i = 0; i < len; i++)
        if (out == 0 || ts_stream_id_cmp(&v[out - 1], &v[i]) != 0) v[out++] = v[i];
    *n = out;
    return v;
}

static void log_placeholder(ts_aof_log *l, int db, const char *key, size_t klen, const ts_stream_id *id)
{
    ts_aof_log_begin(l, db, 5);
    ts_aof_log_arg_str(l, "XADD");
    ts_aof_log_arg(l, key, klen);
    log_id(l, id);
    ts_aof_log_arg_str(l, "x");
    ts_aof_log_arg_str(l, "y");
}

static void rewrite_stream_entries(ts_aof_log *l, int db, const char *key, size_t klen, const ts_stream *s,
                                   const ts_stream_id *holes, size_t nholes)
{
    size_t h = 0;
    ts_stream_iter it;
    ts_stream_id id;
    long long nf;
    ts_stream_iter_start(&it, s, NULL, NULL, false);
    while (ts_stream_iter_next(&it, &id, &nf)) {
        for (; h < nholes && ts_stream_id_cmp(&holes[h], &id) < 0; h++) log_placeholder(l, db, key, klen, &holes[h]);
        ts_aof_log_begin(l, db, 3 + (int)nf * 2);
        ts_aof_log_arg_str(l, "XADD");
        ts_aof_log_arg(l, key, klen);
        log_id(l, &id);
        for (long long i = 0; i < nf; i++) {
            char fb[24], vb[24];
            const unsigned char *f, *v;
            size_t fl, vl;
            ts_stream_iter_field(&it, fb, &f, &fl, vb, &v, &vl);
            ts_aof_log_arg(l, f, fl);
            ts_aof_log_arg(l, v, vl);
        }
    }
    for (; h < nholes; h++) log_placeholder(l, db, key, klen, &holes[h]);
}

static void rewrite_stream_groups(ts_aof_log *l, int db, const char *key, size_t klen, const ts_stream *s)
{
    for (size_t gi = 0; gi < s->ngroups; gi++) {
        const ts_stream_cg *g = s->groups[gi];
        ts_aof_log_begin(l, db, 7);
        ts_aof_log_arg_str(l, "XGROUP");
        ts_aof_log_arg_str(l, "CREATE");
        ts_aof_log_arg(l, key, klen);
        ts_aof_log_arg(l, g->name, g->name_len);
        log_id(l, &g->last_id);
        ts_aof_log_arg_str(l, "ENTRIESREAD");
        ts_aof_log_arg_ll(l, g->entries_read);
        for (size_t ci = 0; ci < g->nconsumers; ci++) {
            const ts_stream_consumer *co = g->consumers[ci];
            if (co->pel.n == 0) {
                ts_aof_log_begin(l, db, 5);
                ts_aof_log_arg_str(l, "XGROUP");
                ts_aof_log_arg_str(l, "CREATECONSUMER");
                ts_aof_log_arg(l, key, klen);
                ts_aof_log_arg(l, g->name, g->name_len);
                ts_aof_log_arg(l, co->name, co->name_len);
                continue;
            }
            for (size_t i = 0; i < co->pel.n; i++) ts_aof_log_xclaim(l, db, key, klen, g, co->pel.v[i], NULL);
        }
    }
}

/* XADD per entry, XGROUP CREATE and claims, XDEL of the re-added deleted
 * messages, then XSETID: ids, entries added and max deleted id exactly as
 * they were (the XSETID comes last, after the XDEL that would move them). */
static void rewrite_stream(ts_aof_log *l, int db, const char *key, size_t klen, const ts_stream *s)
{
    size_t nholes;
    ts_stream_id *holes = deleted_pending(s, &nholes);
    if (s->length || nholes) {
        rewrite_stream_entries(l, db, key, klen, s, holes, nholes);
    } else {
        /* An empty stream: created by an entry trimmed away at once (XSETID
         * then puts its ids and counters back), as Redis writes it. */
        ts_aof_log_begin(l, db, 7);
        ts_aof_log_arg_str(l, "XADD");
        ts_aof_log_arg(l, key, klen);
        ts_aof_log_arg_str(l, "MAXLEN");
        ts_aof_log_arg_str(l, "0");
        ts_aof_log_arg_str(l, "0-1");
        ts_aof_log_arg_str(l, "x");
        ts_aof_log_arg_str(l, "y");
    }
    rewrite_stream_groups(l, db, key, klen, s);
    if (nholes) {
        batcher b = {.log = l, .db = db, .name = "XDEL", .key = key, .klen = klen, .left = nholes, .args_per_item = 1};
        for (size_t i = 0; i < nholes; i++) {
            batch_item_begin(&b);
            log_id(l, &holes[i]);
        }
    }
    free(holes);
    ts_aof_log_begin(l, db, 7);
    ts_aof_log_arg_str(l, "XSETID");
    ts_aof_log_arg(l, key, klen);
    log_id(l, &s->last_id);
    ts_aof_log_arg_str(l, "ENTRIESADDED");
    ts_aof_log_arg_ll(l, (long long)s->entries_added);
    ts_aof_log_arg_str(l, "MAXDELETEDID");
    log_id(l, &s->max_deleted_id);
}

void ts_aof_rewrite_key(ts_aof_log *l, int db, const char *key, size_t klen, const ts_value *v, int64_t expire)
{
    batcher b = {.log = l, .db = db, .key = key, .klen = klen, .args_per_item = 1};
    switch (v->type) {
    case TS_TYPE_STRING:
        ts_aof_log_begin(l, db, 3);
        ts_aof_log_arg_str(l, "SET");
        ts_aof_log_arg(l, key, klen);
        if (v->form == TS_FORM_INT) ts_aof_log_arg_ll(l, v->i);
        else ts_aof_log_arg(l, v->s.ptr, v->s.len);
        break;
    case TS_TYPE_LIST:
        b.name = "RPUSH";
        b.left = ((ts_quicklist *)v->ptr)->count;
        rewrite_list(&b, v->ptr);
        break;
    case TS_TYPE_SET:
        b.name = "SADD";
        b.left = ts_set_size(v->ptr, v->enc);
        ts_set_foreach(v->ptr, v->enc, each_set_member, &b);
        break;
    case TS_TYPE_ZSET: {
        ts_zset z = {v->ptr, v->enc};
        b.name = "ZADD";
        b.args_per_item = 2;
        b.left = ts_zset_length(&z);
        rewrite_zset(&b, &z);
        break;
    }
    case TS_TYPE_HASH:
        b.name = "HMSET";
        b.args_per_item = 2;
        b.left = ts_hobj_len(v->ptr, v->enc);
        ts_hobj_foreach(v->ptr, v->enc, each_hash_pair, &b);
        break;
    case TS_TYPE_STREAM:
        rewrite_stream(l, db, key, klen, v->ptr);
        break;
    }
    if (expire >= 0) {
        ts_aof_log_begin(l, db, 3);
        ts_aof_log_arg_str(l, "PEXPIREAT");
        ts_aof_log_arg(l, key, klen);
        ts_aof_log_arg_ll(l, (long long)expire);
    }
}
