/*
 * watch.c - WATCH sessions (watch.h): the keys list, registration on the
 * owning shards (store/watched_keys.h), the EXEC check and the end of a
 * session.
 */
#include "tessera/route/watch.h"

#include <stdlib.h>
#include <string.h>

#include "tessera/route/engine.h"
#include "tessera/route/slot.h"
#include "tessera/store/watched_keys.h"

static void touch(void *watcher)
{
    ts_watch *w = watcher;
    atomic_store_explicit(&w->dirty, true, memory_order_release);
}

static void release(void *watcher) { ts_watch_unref(watcher); }

/* Redis would have unwatched it already (dirty, or its session ended). */
static bool stale(void *watcher)
{
    ts_watch *w = watcher;
    return atomic_load_explicit(&w->dirty, memory_order_acquire) ||
           atomic_load_explicit(&w->ended, memory_order_acquire);
}

static const ts_watcher_ops watcher_ops = {touch, release, stale};

ts_watch *ts_watch_new(void)
{
    ts_watch *w = ts_calloc(1, sizeof(*w));
    atomic_init(&w->dirty, false);
    atomic_init(&w->ended, false);
    atomic_init(&w->refs, 1);
    return w;
}

void ts_watch_ref(ts_watch *w) { atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed); }

void ts_watch_unref(ts_watch *w)
{
    if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) != 1) return;
    for (int i = 0; i < w->n; i++) free((void *)w->keys[i].key.ptr);
    free(w->keys);
    free(w);
}

bool ts_watch_note(ts_watch *w, int db, ts_arg key)
{
    for (int i = 0; i < w->n; i++)
        if (w->keys[i].db == db && w->keys[i].key.len == key.len && memcmp(w->keys[i].key.ptr, key.ptr, key.len) == 0)
            return false;
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 4;
        w->keys = ts_realloc(w->keys, sizeof(*w->keys) * (size_t)w->cap);
    }
    char *copy = ts_malloc(key.len + 1);
    memcpy(copy, key.ptr, key.len);
    copy[key.len] = '\0';
    w->keys[w->n++] = (ts_watch_key){.db = db, .shard = ts_key_shard(key.ptr, key.len), .key = {copy, key.len}};
    return true;
}

void ts_watch_register(ts_shard *s, ts_watch *w, int db, ts_arg key, int64_t now_ms)
{
    ts_watch_ref(w);   /* the registry's */
    if (!ts_watch_add(s, db, key, w, &watcher_ops, now_ms)) ts_watch_unref(w);
}

void ts_watch_check_and_drop(ts_shard *s, unsigned id, ts_watch *w, int64_t now_ms)
{
    for (int i = 0; i < w->n; i++) {
        const ts_watch_key *k = &w->keys[i];
        if (k->shard != id) continue;
        if (ts_watch_expired_since(s, k->db, k->key, w, now_ms)) touch(w);
        ts_watch_remove(s, k->db, k->key, w);
    }
}

void ts_watch_drop_here(ts_shard *s, unsigned id, ts_watch *w)
{
    for (int i = 0; i < w->n; i++)
        if (w->keys[i].shard == id) ts_watch_remove(s, w->keys[i].db, w->keys[i].key, w);
}

bool ts_watch_all_on(const ts_watch *w, unsigned id)
{
    for (int i = 0; i < w->n; i++)
        if (w->keys[i].shard != id) return false;
    return true;
}

void ts_watch_end(ts_engine *e, ts_watch *w)
{
    atomic_store_explicit(&w->ended, true, memory_order_release);
    bool sent[TS_MAX_SHARDS] = {false};
    for (int i = 0; i < w->n; i++) {
        unsigned sh = w->keys[i].shard;
        if (sent[sh]) continue;
        sent[sh] = true;
        if (sh == e->id) {
            ts_watch_drop_here(&e->shard, sh, w);
            continue;
        }
        ts_msg_unwatch *m = ts_malloc(sizeof(*m));
        m->msg.kind = TS_MSG_WATCH_UNREG;
        m->w = w;
        ts_watch_ref(w);
        ts_engine_send(e, ts_engine_of(e, sh), &m->msg);
    }
    ts_watch_unref(w);
}
