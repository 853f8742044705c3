/*
 * multi_borrow.c - the generic multi-shard execution of a multi-key
 * command: borrow every key's value, run the command's ordinary
 * single-shard implementation on a private scratch database, give the
 * values back.
 *
 * Owns: the scratch database of one txn (coordinator side) and the values
 * in transit (owned by the part that carries them until installed).
 *
 * Phases (txn.h's protocol; every key of the command is locked from phase 0
 * until RELEASE, so no other client can see or touch a key in transit):
 *   0 BORROW  on each shard, with its keys locked: every live key of the
 *             part is detached from the shard's table (lazy expiry first),
 *             value, expire time and LRU clock together. Moving a PTR value
 *             is a pointer move, so borrowing a big collection costs O(1).
 *   -         on the coordinator: the borrowed entries go into a scratch
 *             table, the command's `run` executes on it exactly as it would
 *             on a shard that held every key, and its reply is the client's.
 *             Then each borrowed key position is detached from the scratch
 *             table again: whatever the command left there (changed,
 *             unchanged, new, or nothing) goes back to the key's part.
 *   1 RETURN  on each shard: the part installs what it was handed (a key
 *             the command deleted stays deleted), signals the keys the
 *             command modified (the scratch shard recorded its
 *             ts_db_signal_modified calls: WATCH registrations live on the
 *             real shards) and those that may now serve blocked clients.
 *
 * Why this shape: SMOVE, SINTERSTORE, ZUNIONSTORE, LMOVE, ... each have one
 * implementation, the single-shard one, and cross-shard atomicity comes from
 * the locks, not from per-command protocols. Commands with their own
 * multi-shard ops (MSET, RENAME, ...) do not use this file.
 *
 * Threads: phase steps run on the part's shard thread; after() and the
 * scratch database live on the coordinator. Values are plain malloc'd
 * memory (object.h), so handing them between threads is allowed; the
 * message queues order each hand-over.
 */
#include <string.h>

#include "cmds.h"
#include "tessera/route/blocking.h"
#include "tessera/store/db.h"
#include "tessera/types/object.h"
#include "tessera/store/shard.h"
#include "tessera/route/engine.h"
#include "tessera/route/run.h"
#include "tessera/store/lazyfree.h"
#include "tessera/store/watched_keys.h"

enum { PHASE_BORROW = 0, PHASE_RETURN = 1 };

/* One key of a part, in transit. */
typedef struct loan {
    int pos;            /* argument position of the key */
    bool present;
    bool modified;      /* the command signalled it on the scratch shard */
    ts_value v;         /* INLINE bytes owned by the loan */
    int64_t expire;
    uint32_t lru;
} loan;

typedef struct loans {
    int n;
    loan items[];
} loans;

/* True if argv[pos] repeats a key at an earlier position of the same part. */
static bool repeated(const ts_txn *t, const ts_txn_part *p, int k)
{
    ts_arg a = t->argv[p->keys[k]];
    for (int j = 0; j < k; j++) {
        ts_arg b = t->argv[p->keys[j]];
        if (a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0) return true;
    }
    return false;
}

static loans *loans_new(int n)
{
    loans *l = ts_calloc(1, sizeof(loans) + sizeof(loan) * (size_t)n);
    return l;
}

static void loan_drop(loan *x)
{
    if (!x->present) return;
    if (x->v.form == TS_FORM_INLINE) free((void *)x->v.s.ptr);
    else ts_value_free(&x->v);
    x->present = false;
}

static void loans_free(loans *l)
{
    if (!l) return;
    for (int i = 0; i < l->n; i++) loan_drop(&l->items[i]);
    free(l);
}

/* Moves the entry for key out of table t into x (absent: x->present false). */
static void loan_take(loan *x, ts_table *t, ts_entry *e)
{
    x->present = e != NULL;
    if (!e) return;
    x->lru = ts_entry_lru(e);
    ts_table_detach(t, e, &x->v, &x->expire);
}

/* Installs x under key in t (x gives up its value). */
static void loan_put(loan *x, ts_table *t, ts_arg key)
{
    if (!x->present) return;
    ts_entry *e = ts_table_set(t, key.ptr, key.len, &x->v, x->expire, false);
    ts_entry_set_lru(e, x->lru);
    if (x->v.form == TS_FORM_INLINE) free((void *)x->v.s.ptr);
    x->present = false;
}

static void borrow_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *c)
{
    if (t->phase == PHASE_BORROW) {
        loans *l = loans_new(p->nkeys);
        for (int k = 0; k < p->nkeys; k++) {
            if (repeated(t, p, k)) continue;
            loan *x = &l->items[l->n++];
            x->pos = p->keys[k];
            loan_take(x, ts_db_table(&c->ex), ts_db_lookup_in(c->shard, c->db, t->argv[x->pos], c->now_ms));
        }
        p->ptr = l;
        return;
    }
    loans *l = p->ptr;
    p->ptr = NULL;
    /* A blocking command that found nothing waits on this part's keys
     * from now on; they are still locked, so no push can slip in between. */
    if (t->blocker && t->blocker->blocked) ts_blocking_register(c->shard, t->blocker);
    for (int i = 0; l && i < l->n; i++) {
        loan *x = &l->items[i];
        ts_arg key = t->argv[x->pos];
        if (x->present) {
            int type = x->v.type;
            loan_put(x, ts_db_table(&c->ex), key);
            ts_db_signal_ready_in(c->shard, c->db, key, type);
        }
        /* The scratch run's signals, on the key's real shard, once the
         * key holds its final value (or is gone). */
        if (x->modified) ts_db_signal_modified_in(c->shard, c->db, key);
    }
    loans_free(l);
}

/* Marks the loans of the keys the command signalled on the scratch shard
 * (watched_keys.h): each part's RETURN signals them on the real shard. The
 * scratch shard has no WATCH registry, and a key's watchers are registered
 * where the key lives. Every key a borrowed command touches is one of its
 * keys, so each signal finds its loan (a repeated key has one loan, in the
 * part of its first position). */
static void mark_modified(ts_txn *t, const ts_shard *scratch)
{
    for (size_t s = 0; s < scratch->nsignals; s++) {
        const ts_signal_rec *r = &scratch->signals[s];
        if (r->db != t->db) continue;
        for (int j = 0; j < t->nparts; j++) {
            loans *l = t->parts[j].ptr;
            for (int i = 0; l && i < l->n; i++) {
                ts_arg key = t->argv[l->items[i].pos];
                if (key.len == r->len && memcmp(key.ptr, r->k, r->len) == 0) l->items[i].modified = true;
            }
        }
    }
}

/* Runs the command on a scratch database holding every borrowed key, then
 * hands each part back what the command left under its keys. */
static void run_on_scratch(ts_txn *t)
{
    ts_table *dbs = ts_calloc((size_t)t->db + 1, sizeof(ts_table));
    for (int i = 0; i <= t->db; i++) ts_table_init(&dbs[i], ts_value_free);
    ts_shard scratch;
    memset(&scratch, 0, sizeof scratch);
    scratch.id = t->coord->shard.id;
    scratch.ndb = t->db + 1;
    scratch.dbs = dbs;
    ts_table *tab = &dbs[t->db];

    for (int j = 0; j < t->nparts; j++) {
        loans *l = t->parts[j].ptr;
        for (int i = 0; l && i < l->n; i++) loan_put(&l->items[i], tab, t->argv[l->items[i].pos]);
    }
    /* The command's one execution, through the runner: its statistics are
     * the coordinator's (the txn is not accounted again) and its effect is
     * logged into the txn's log, which the coordinator writes whole. */
    ts_cmd_ctx ctx;
    ts_run_ctx_init(&ctx, t->coord, t->cmd, t->db, t->argc, t->argv, &t->reply);
    ctx.shard = &scratch;
    ctx.now_ms = t->now_ms;
    ctx.blocker = t->blocker;
    ctx.aof = NULL;
    if (t->coord->shard.aof) {
        ts_aof_log_free(&t->aof);
        ctx.aof = &t->aof;
    }
    ts_signals_record_begin(&scratch);
    ts_run_command(t->coord, &ctx);
    t->accounted = true;
    t->aof_propagated = ctx.propagated;
    for (int j = 0; j < t->nparts; j++) {
        loans *l = t->parts[j].ptr;
        for (int i = 0; l && i < l->n; i++) {
            loan *x = &l->items[i];
            ts_arg key = t->argv[x->pos];
            loan_take(x, tab, ts_table_find(tab, key.ptr, key.len));
        }
    }
    mark_modified(t, &scratch);
    ts_signals_record_free(&scratch);
    /* The borrowed statistics belong to the coordinator's shard. */
    ts_shard_stats *st = &t->coord->shard.stats;
    st->keyspace_hits += scratch.stats.keyspace_hits;
    st->keyspace_misses += scratch.stats.keyspace_misses;
    st->expired_keys += scratch.stats.expired_keys;
    for (int i = 0; i <= t->db; i++) ts_table_clear(&dbs[i]);
    free(dbs);
}

static int borrow_after(ts_txn *t)
{
    if (t->phase == PHASE_RETURN) return -1;
    run_on_scratch(t);
    return PHASE_RETURN;
}

const ts_txn_ops ts_multi_borrow = {.step = borrow_step, .after = borrow_after};
