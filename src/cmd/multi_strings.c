/*
 * multi_strings.c - MGET, MSET, MSETNX and LCS when their keys live on
 * several shards: the txn operations (txn.h) the command table points at.
 *
 * Owns: the per-part scratch of those txns (records in part->out).
 * Threads: step() runs on each part's shard thread while the txn holds the
 * shard (strict 2PL: every shard stays held until the reply is complete, so
 * no client sees half an MSET); after() runs on the coordinator and touches
 * no shard, only what the parts left in their results.
 *
 * Shape: the string rules themselves live in strings.c (ts_str_*); this
 * file only moves data between shards and the coordinator. Reads copy each
 * key's bytes into the part's out buffer (which the txn owns and frees), so
 * nothing here allocates memory that must be freed on the other thread.
 */
#include <string.h>

#include "cmds.h"
#include "tessera/store/db.h"

/* Shared with strings.c (see there); the command table owner may move these
 * declarations into cmds.h. */
int ts_str_read(ts_cmd_ctx *c, ts_arg key, char *numbuf, const char **p, size_t *n);
void ts_str_reply_mget_one(ts_reply *r, int found, const char *p, size_t n);
bool ts_str_check_pairs(ts_reply *r, const ts_command *cmd, int argc);
void ts_str_set_pair(ts_cmd_ctx *c, int pos);
void ts_str_lcs(ts_reply *r, int argc, const ts_arg *argv, const char *a, size_t alen, const char *b, size_t blen);
void ts_str_lcs_wrongtype(ts_reply *r);

/* ---------- reads: one record per key of a part ---------- */

/* A record is ts_str_read's result as one signed byte, then, for a string,
 * its length (size_t, unaligned) and bytes. Records follow part->keys order. */
static void put_records(ts_txn_part *p, ts_cmd_ctx *ctx)
{
    for (int i = 0; i < p->nkeys; i++) {
        char numbuf[24];
        const char *s = NULL;
        size_t n = 0;
        signed char found = (signed char)ts_str_read(ctx, ctx->argv[p->keys[i]], numbuf, &s, &n);
        ts_buf_append(&p->out, &found, 1);
        if (found != 1) continue;
        ts_buf_append(&p->out, &n, sizeof n);
        ts_buf_append(&p->out, s, n);
    }
}

/* Decodes the record at rec; returns the address of the next one. */
static const char *get_record(const char *rec, int *found, const char **s, size_t *n)
{
    *found = (signed char)rec[0];
    *s = NULL;
    *n = 0;
    rec++;
    if (*found != 1) return rec;
    memcpy(n, rec, sizeof *n);
    *s = rec + sizeof *n;
    return *s + *n;
}

/* Indexes every part's records by argument position: at[pos] is the record
 * of the key at argv[pos] (NULL for positions that are not keys). The
 * caller frees the array. */
static const char **index_records(const ts_txn *t)
{
    const char **at = ts_calloc((size_t)t->argc, sizeof *at);
    for (int j = 0; j < t->nparts; j++) {
        const ts_txn_part *p = &t->parts[j];
        const char *rec = p->out.data;
        for (int i = 0; i < p->nkeys; i++) {
            int found;
            const char *s;
            size_t n;
            at[p->keys[i]] = rec;
            rec = get_record(rec, &found, &s, &n);
        }
    }
    return at;
}

static void read_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *ctx) { put_records(p, ctx); }

/* MGET: the values in argument order; nil for missing keys and other types. */
static int mget_after(ts_txn *t)
{
    const char **at = index_records(t);
    ts_reply_array(&t->reply, t->argc - 1);
    for (int pos = 1; pos < t->argc; pos++) {
        int found;
        const char *s;
        size_t n;
        get_record(at[pos], &found, &s, &n);
        ts_str_reply_mget_one(&t->reply, found, s, n);
    }
    free(at);
    return -1;
}

const ts_txn_ops ts_multi_mget = {.step = read_step, .after = mget_after};

/* LCS: both strings are brought to the coordinator, which computes there
 * (the shards are released as soon as the reply is written). */
static int lcs_after(ts_txn *t)
{
    const char **at = index_records(t);
    int fa, fb;
    const char *a, *b;
    size_t alen, blen;
    get_record(at[1], &fa, &a, &alen);
    get_record(at[2], &fb, &b, &blen);
    free(at);
    if (fa < 0 || fb < 0) ts_str_lcs_wrongtype(&t->reply);
    else ts_str_lcs(&t->reply, t->argc, t->argv, a ? a : "", alen, b ? b : "", blen);
    return -1;
}

const ts_txn_ops ts_multi_lcs = {.step = read_step, .after = lcs_after};

/* ---------- writes ---------- */

static bool pairs_ok(const ts_txn *t) { return t->argc % 2 == 1; }

static void set_pairs(ts_txn_part *p, ts_cmd_ctx *ctx)
{
    /* part->keys ascend, so of a key given twice the later value wins. */
    for (int i = 0; i < p->nkeys; i++) ts_str_set_pair(ctx, p->keys[i]);
}

/* MSET: each shard sets its own pairs as it is acquired. With an odd
 * number of arguments nothing is set and after() reports the arity. */
static void mset_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *ctx)
{
    if (pairs_ok(t)) set_pairs(p, ctx);
}

static int mset_after(ts_txn *t)
{
    if (ts_str_check_pairs(&t->reply, t->cmd, t->argc)) ts_reply_ok(&t->reply);
    return -1;
}

const ts_txn_ops ts_multi_mset = {.step = mset_step, .after = mset_after};

/* MSETNX: phase 0 counts the existing keys of each part; only if none
 * exists anywhere does phase 1 set them. */
static void msetnx_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *ctx)
{
    if (!pairs_ok(t)) return;
    if (t->phase == 1) {
        set_pairs(p, ctx);
        return;
    }
    p->n = 0;
    for (int i = 0; i < p->nkeys; i++) p->n += ts_db_exists(&ctx->ex, ctx->argv[p->keys[i]]);
}

static int msetnx_after(ts_txn *t)
{
    if (!ts_str_check_pairs(&t->reply, t->cmd, t->argc)) return -1;
    if (t->phase == 1) {
        ts_reply_int(&t->reply, 1);
        return -1;
    }
    for (int j = 0; j < t->nparts; j++) {
        if (t->parts[j].n > 0) {
            ts_reply_int(&t->reply, 0);
            return -1;
        }
    }
    return 1;
}

const ts_txn_ops ts_multi_msetnx = {.step = msetnx_step, .after = msetnx_after};
