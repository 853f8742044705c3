/*
 * blocked_keys.c - the shard's registry of waiters per key and its ready
 * list (blocked_keys.h).
 *
 * The registry is a ts_table whose entries hold a ts_waitlist as a PTR
 * value, keyed by a 4-byte db number and the key's bytes.
 */
#include "tessera/store/blocked_keys.h"

#include <stdlib.h>
#include <string.h>

#include "tessera/store/db.h"
#include "tessera/types/table.h"

/* The registry table's free callback (its waiters are released first:
 * ts_blocking_free). */
static void waitlist_free(const ts_value *v)
{
    ts_waitlist *l = v->ptr;
    free(l->v);
    free(l);
}

/* db + key, the registry's key. buf must hold 4 + len bytes; returns buf
 * or a malloc'd buffer when it does not. */
static char *reg_key(int db, ts_arg key, char *buf, size_t buflen, size_t *out_len)
{
    *out_len = 4 + key.len;
    char *k = *out_len <= buflen ? buf : ts_malloc(*out_len);
    uint32_t d = (uint32_t)db;
    memcpy(k, &d, 4);
    memcpy(k + 4, key.ptr, key.len);
    return k;
}

ts_waitlist *ts_waits_find(ts_shard *s, const char *k, size_t len, ts_entry **ep)
{
    if (!s->block_reg) return NULL;
    ts_entry *e = ts_table_find(s->block_reg, k, len);
    if (ep) *ep = e;
    return e ? ts_entry_obj(e) : NULL;
}

bool ts_waits_add(ts_shard *s, int db, ts_arg key, void *waiter, void (*release)(void *waiter))
{
    if (!s->block_reg) {
        s->block_reg = ts_malloc(sizeof(ts_table));
        ts_table_init(s->block_reg, waitlist_free);
    }
    s->waiter_release = release;
    char buf[128];
    size_t len;
    char *k = reg_key(db, key, buf, sizeof buf, &len);
    ts_waitlist *l = ts_waits_find(s, k, len, NULL);
    if (!l) {
        l = ts_calloc(1, sizeof(*l));
        ts_value v = {.type = TS_TYPE_LIST, .enc = TS_ENC_QUICKLIST, .form = TS_FORM_PTR};
        v.ptr = l;
        ts_table_set(s->block_reg, k, len, &v, -1, false);
        s->blocked_keys++;
    }
    if (k != buf) free(k);
    for (uint32_t j = 0; j < l->n; j++)
        if (l->v[j] == waiter) return false;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = ts_realloc(l->v, sizeof(*l->v) * l->cap);
    }
    l->v[l->n++] = waiter;
    return true;
}

void ts_waitlist_remove(ts_shard *s, ts_waitlist *l, uint32_t i)
{
    void *w = l->v[i];
    memmove(&l->v[i], &l->v[i + 1], sizeof(*l->v) * (l->n - i - 1));
    l->n--;
    s->waiter_release(w);
}

void ts_waits_drop_if_empty(ts_shard *s, ts_entry *e, ts_waitlist *l)
{
    if (l->n || l->queued) return;
    ts_table_delete_entry(s->block_reg, e);
    s->blocked_keys--;
}

void ts_waits_remove(ts_shard *s, int db, ts_arg key, void *waiter)
{
    char buf[128];
    size_t len;
    char *k = reg_key(db, key, buf, sizeof buf, &len);
    ts_entry *e;
    ts_waitlist *l = ts_waits_find(s, k, len, &e);
    if (l) {
        for (uint32_t j = 0; j < l->n; j++) {
            if (l->v[j] == waiter) { ts_waitlist_remove(s, l, j); break; }
        }
        ts_waits_drop_if_empty(s, e, l);
    }
    if (k != buf) free(k);
}

/* Queues l (registry key k) as ready; takes k when owned, else copies. */
static void ready_push(ts_shard *s, ts_waitlist *l, char *k, size_t len, bool owned)
{
    l->queued = true;
    if (s->nready == s->ready_cap) {
        s->ready_cap = s->ready_cap ? s->ready_cap * 2 : 8;
        s->ready = ts_realloc(s->ready, sizeof(*s->ready) * s->ready_cap);
    }
    s->ready[s->nready].k = owned ? k : ts_strndup(k, len);
    s->ready[s->nready].len = len;
    s->nready++;
}

void ts_db_signal_ready(ts_exec *x, ts_arg key) { ts_db_signal_ready_in(x->shard, x->db, key, TS_TYPE_LIST); }

void ts_db_signal_ready_in(ts_shard *s, int db, ts_arg key, int type)
{
    if (TS_LIKELY(s->blocked_keys == 0)) return;
    if (type != TS_TYPE_LIST && type != TS_TYPE_ZSET && type != TS_TYPE_STREAM) return;
    char buf[128];
    size_t len;
    char *k = reg_key(db, key, buf, sizeof buf, &len);
    ts_waitlist *l = ts_waits_find(s, k, len, NULL);
    if (l && !l->queued) {
        ready_push(s, l, k, len, k != buf);
        return;
    }
    if (k != buf) free(k);
}

typedef struct signal_db_ctx {
    ts_shard *s;
    uint32_t db;
} signal_db_ctx;

static void signal_db_cb(void *ctx, ts_entry *e)
{
    signal_db_ctx *x = ctx;
    size_t len;
    const char *k = ts_entry_key(e, &len);
    uint32_t db;
    memcpy(&db, k, 4);
    ts_waitlist *l = ts_entry_obj(e);
    if (db == x->db && !l->queued) ready_push(x->s, l, (char *)k, len, false);
}

void ts_blocking_signal_db(ts_shard *s, int db)
{
    if (TS_LIKELY(s->blocked_keys == 0) || !s->block_reg) return;
    signal_db_ctx x = {s, (uint32_t)db};
    uint64_t cur = 0;
    do {
        cur = ts_table_scan(s->block_reg, cur, 64, signal_db_cb, &x);
    } while (cur);
}

static void release_waiters_cb(void *ctx, ts_entry *e)
{
    ts_shard *s = ctx;
    ts_waitlist *l = ts_entry_obj(e);
    for (uint32_t i = 0; i < l->n; i++) s->waiter_release(l->v[i]);
    l->n = 0;
}

void ts_blocking_free(ts_shard *s)
{
    for (size_t i = 0; i < s->nready; i++) free(s->ready[i].k);
    free(s->ready);
    s->ready = NULL;
    s->nready = s->ready_cap = 0;
    if (s->block_reg) {
        uint64_t cur = 0;
        do {
            cur = ts_table_scan(s->block_reg, cur, 64, release_waiters_cb, s);
        } while (cur);
        ts_table_clear(s->block_reg);
        free(s->block_reg);
        s->block_reg = NULL;
    }
    s->blocked_keys = 0;
}
