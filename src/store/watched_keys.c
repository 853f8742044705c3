/*
 * watched_keys.c - the shard's registry of WATCHed keys and the signals
 * that dirty their watchers (watched_keys.h).
 *
 * Owns: the registry table (a ts_table whose entries hold a watch_list as a
 * PTR value, keyed by a 4-byte db number and the key's bytes, like
 * blocked_keys.c's), its lists of registrations, and one reference to each
 * registered watcher; on a scratch shard, the keys recorded instead of
 * signalled.
 * Thread: the owner of the shard only (the scratch shard: the coordinator
 * that runs on it).
 *
 * The rules are Redis 7.0.15's multi.c, line by line:
 *
 *   watchForKey             ts_watch_add: one registration per watcher and
 *                           key, appended (registration order), `expired`
 *                           = keyIsExpired at the time of WATCH.
 *   touchWatchedKey         touch_list: for each registration in order, an
 *                           expired-when-watched one whose key is gone from
 *                           the table is cleared and skipped, one whose key
 *                           is still there stops the walk (`break`: later
 *                           watchers stay clean); any other is touched and
 *                           removed.
 *   touchAllWatchedKeysInDb ts_db_signal_flushed, every branch.
 *   isWatchedKeyExpired     ts_watch_expired_since, per registration.
 *
 * One divergence, forced by the sharding: Redis's touchWatchedKey calls
 * unwatchAllKeys(c), dropping every registration of the dirty client on
 * every key at once. Here a touch removes only the touched registration (the
 * watcher's others may live on other shards, owned by other threads). The
 * registrations left behind would matter in one place, the `break` above: an
 * expired-when-watched registration of a client Redis had already unwatched
 * would stop the walk here. ops->stale (optional) closes that gap: a
 * registration whose watcher says it is stale (already dirty, or its WATCH
 * session ended and its unregistration is on the way) is dropped wherever
 * the walk meets it, as if it had been unwatched when Redis would have.
 */
#include "tessera/store/watched_keys.h"

#include <stdlib.h>
#include <string.h>

#include "tessera/store/db.h"
#include "tessera/types/table.h"

/* One watcher's registration on one key. */
typedef struct watch_rec {
    void *watcher;
    const ts_watcher_ops *ops;
    bool expired;           /* the key was logically expired when watched */
} watch_rec;

/* The registrations of one key, in registration order. */
typedef struct watch_list {
    watch_rec *v;
    uint32_t n, cap;
} watch_list;

/* The registry table's free callback (ts_watch_free_all releases the
 * watchers first). */
static void watch_list_free(const ts_value *v)
{
    watch_list *l = v->ptr;
    free(l->v);
    free(l);
}

/* db + key, the registry's key. buf must hold 4 + len bytes; returns buf
 * or a malloc'd buffer (free it) when it does not. */
static char *reg_key(int db, ts_arg key, char *buf, size_t buflen, size_t *out_len)
{
    *out_len = 4 + key.len;
    char *k = *out_len <= buflen ? buf : ts_malloc(*out_len);
    uint32_t d = (uint32_t)db;
    memcpy(k, &d, 4);
    memcpy(k + 4, key.ptr, key.len);
    return k;
}

static watch_list *find_list(ts_shard *s, int db, ts_arg key, ts_entry **ep)
{
    if (!s->watch_reg) return NULL;
    char buf[128];
    size_t len;
    char *k = reg_key(db, key, buf, sizeof buf, &len);
    ts_entry *e = ts_table_find(s->watch_reg, k, len);
    if (k != buf) free(k);
    if (ep) *ep = e;
    return e ? ts_entry_obj(e) : NULL;
}

/* The key is in the database's table at all, expired or not (Redis's
 * dictFind on db->dict: no lazy expiry). */
static bool key_in_table(ts_shard *s, int db, ts_arg key)
{
    return ts_table_find(&s->dbs[db], key.ptr, key.len) != NULL;
}

/* keyIsExpired: the key has an expire time and now_ms is past it (no
 * deletion). now_ms is 0 while loading, when nothing is expired. */
static bool key_is_expired(ts_shard *s, int db, ts_arg key, int64_t now_ms)
{
    ts_entry *e = ts_table_find(&s->dbs[db], key.ptr, key.len);
    return e && ts_entry_expired(e, now_ms);
}

static bool rec_stale(const watch_rec *r) { return r->ops->stale && r->ops->stale(r->watcher); }

/* Removes registration i of l (order kept) and drops its reference. */
static void list_drop(ts_shard *s, watch_list *l, uint32_t i)
{
    watch_rec r = l->v[i];
    memmove(&l->v[i], &l->v[i + 1], sizeof(*l->v) * (l->n - i - 1));
    l->n--;
    s->watches--;
    r.ops->release(r.watcher);
}

/* Forgets the key's list once it holds no registration. */
static void drop_if_empty(ts_shard *s, ts_entry *e, watch_list *l)
{
    if (l->n == 0) ts_table_delete_entry(s->watch_reg, e);
}

bool ts_watch_add(ts_shard *s, int db, ts_arg key, void *watcher, const ts_watcher_ops *ops, int64_t now_ms)
{
    if (!s->watch_reg) {
        s->watch_reg = ts_malloc(sizeof(ts_table));
        ts_table_init(s->watch_reg, watch_list_free);
    }
    watch_list *l = find_list(s, db, key, NULL);
    if (!l) {
        l = ts_calloc(1, sizeof(*l));
        /* The type and encoding are placeholders: only the pointer matters. */
        ts_value v = {.type = TS_TYPE_LIST, .enc = TS_ENC_QUICKLIST, .form = TS_FORM_PTR};
        v.ptr = l;
        char buf[128];
        size_t len;
        char *k = reg_key(db, key, buf, sizeof buf, &len);
        ts_table_set(s->watch_reg, k, len, &v, -1, false);
        if (k != buf) free(k);
    }
    for (uint32_t i = 0; i < l->n; i++)
        if (l->v[i].watcher == watcher) return false;   /* already watched */
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 2;
        l->v = ts_realloc(l->v, sizeof(*l->v) * l->cap);
    }
    l->v[l->n++] = (watch_rec){.watcher = watcher, .ops = ops, .expired = key_is_expired(s, db, key, now_ms)};
    s->watches++;
    return true;
}

void ts_watch_remove(ts_shard *s, int db, ts_arg key, void *watcher)
{
    if (s->watches == 0) return;
    ts_entry *e;
    watch_list *l = find_list(s, db, key, &e);
    if (!l) return;
    for (uint32_t i = 0; i < l->n; i++) {
        if (l->v[i].watcher == watcher) {
            list_drop(s, l, i);
            break;
        }
    }
    drop_if_empty(s, e, l);
}

bool ts_watch_expired_since(ts_shard *s, int db, ts_arg key, void *watcher, int64_t now_ms)
{
    watch_list *l = find_list(s, db, key, NULL);
    for (uint32_t i = 0; l && i < l->n; i++) {
        if (l->v[i].watcher != watcher) continue;
        if (l->v[i].expired) return false;   /* was expired when WATCH was called */
        return key_is_expired(s, db, key, now_ms);
    }
    return false;
}

size_t ts_watch_count(const ts_shard *s) { return s->watches; }

/* touchWatchedKey over one key's registrations. */
static void touch_list(ts_shard *s, int db, ts_arg key, ts_entry *e, watch_list *l)
{
    uint32_t i = 0;
    while (i < l->n) {
        watch_rec *r = &l->v[i];
        if (rec_stale(r)) {          /* Redis would have unwatched it already */
            list_drop(s, l, i);
            continue;
        }
        if (r->expired) {
            /* The key was already expired when WATCH was called. */
            if (!key_in_table(s, db, key)) {
                /* Deleted since: logically no change. Deleted keys are not
                 * flagged as expired. */
                r->expired = false;
                i++;
                continue;
            }
            break;
        }
        r->ops->touch(r->watcher);
        /* Redis's unwatchAllKeys(c): only this registration is ours to drop
         * (the file's header). */
        list_drop(s, l, i);
    }
    drop_if_empty(s, e, l);
}

/* The scratch shard's record of a signal (multi_borrow.c replays it). */
static void record_signal(ts_shard *s, int db, ts_arg key)
{
    if (s->nsignals == s->signals_cap) {
        s->signals_cap = s->signals_cap ? s->signals_cap * 2 : 4;
        s->signals = ts_realloc(s->signals, sizeof(*s->signals) * s->signals_cap);
    }
    ts_signal_rec *r = &s->signals[s->nsignals++];
    r->db = db;
    r->k = ts_strndup(key.ptr, key.len);
    r->len = key.len;
}

void ts_db_signal_modified(ts_exec *x, ts_arg key) { ts_db_signal_modified_in(x->shard, x->db, key); }

void ts_db_signal_modified_in(ts_shard *s, int db, ts_arg key)
{
    /* One test on the common path: nobody watches and nothing records. */
    if (TS_LIKELY(!ts_watch_signals_wanted(s))) return;
    if (TS_UNLIKELY(s->record_signals)) {
        record_signal(s, db, key);
        return;
    }
    ts_entry *e;
    watch_list *l = find_list(s, db, key, &e);
    if (l) touch_list(s, db, key, e, l);
}

typedef struct flush_scan {
    uint32_t db;
    ts_entry **v;
    size_t n, cap;
} flush_scan;

static void flush_scan_cb(void *ctx, ts_entry *e)
{
    flush_scan *x = ctx;
    size_t len;
    const char *k = ts_entry_key(e, &len);
    uint32_t db;
    memcpy(&db, k, 4);
    if (db != x->db) return;
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 16;
        x->v = ts_realloc(x->v, sizeof(*x->v) * x->cap);
    }
    x->v[x->n++] = e;
}

/* touchAllWatchedKeysInDb for one watched key of `emptied`. */
static void flush_touch_key(ts_shard *s, int emptied, int replaced_with, ts_arg key, watch_list *l, int64_t now_ms)
{
    bool exists_in_emptied = key_in_table(s, emptied, key);
    bool exists_in_replacement = replaced_with >= 0 && key_in_table(s, replaced_with, key);
    if (!exists_in_emptied && !exists_in_replacement) return;
    for (uint32_t i = 0; i < l->n; i++) {
        watch_rec *r = &l->v[i];
        if (rec_stale(r)) continue;   /* Redis would have unwatched it already */
        if (r->expired) {
            if (!exists_in_replacement) {
                /* Expired key now deleted: no logical change. Deleted keys
                 * are not flagged as expired. */
                r->expired = false;
                continue;
            } else if (key_is_expired(s, replaced_with, key, now_ms)) {
                /* Expired key remains expired. */
                continue;
            }
        } else if (!exists_in_emptied && key_is_expired(s, replaced_with, key, now_ms)) {
            /* A missing key replaced with an expired one. */
            r->expired = true;
            continue;
        }
        /* Redis marks the client dirty here but leaves its registrations
         * (unwatching would break its iterator); so do we. */
        r->ops->touch(r->watcher);
    }
}

void ts_db_signal_flushed(ts_shard *s, int emptied, int replaced_with, int64_t now_ms)
{
    if (TS_LIKELY(s->watches == 0) || !s->watch_reg) return;
    /* Collect first, then touch: the walk reads other tables and calls the
     * watchers, and a table scan wants its callback to do neither. The
     * registry itself does not change until the last touch. */
    flush_scan x = {.db = (uint32_t)emptied};
    uint64_t cur = 0;
    do {
        cur = ts_table_scan(s->watch_reg, cur, 64, flush_scan_cb, &x);
    } while (cur);
    for (size_t i = 0; i < x.n; i++) {
        size_t len;
        const char *k = ts_entry_key(x.v[i], &len);
        ts_arg key = {k + 4, len - 4};
        flush_touch_key(s, emptied, replaced_with, key, ts_entry_obj(x.v[i]), now_ms);
    }
    free(x.v);
}

void ts_signals_record_begin(ts_shard *s)
{
    s->record_signals = true;
    s->nsignals = 0;
}

void ts_signals_record_free(ts_shard *s)
{
    for (size_t i = 0; i < s->nsignals; i++) free(s->signals[i].k);
    free(s->signals);
    s->signals = NULL;
    s->nsignals = s->signals_cap = 0;
    s->record_signals = false;
}

static void release_all_cb(void *ctx, ts_entry *e)
{
    (void)ctx;
    watch_list *l = ts_entry_obj(e);
    for (uint32_t i = 0; i < l->n; i++) l->v[i].ops->release(l->v[i].watcher);
    l->n = 0;
}

void ts_watch_free_all(ts_shard *s)
{
    if (s->watch_reg) {
        uint64_t cur = 0;
        do {
            cur = ts_table_scan(s->watch_reg, cur, 64, release_all_cb, NULL);
        } while (cur);
        ts_table_clear(s->watch_reg);
        free(s->watch_reg);
        s->watch_reg = NULL;
    }
    s->watches = 0;
    ts_signals_record_free(s);
}
