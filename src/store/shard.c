/*
 * shard.c - shard lifecycle and the key locks multi-shard transactions
 * take (see shard.h).
 */
#include "tessera/store/shard.h"

#include "tessera/store/blocked_keys.h"
#include "tessera/store/watched_keys.h"

#include <string.h>

#include "tessera/store/db.h"
#include "tessera/util/hash.h"
#include "tessera/store/lazyfree.h"

void ts_shard_init(ts_shard *s, unsigned id, int ndb)
{
    memset(s, 0, sizeof(*s));
    s->id = id;
    s->ndb = ndb;
    s->dbs = ts_calloc((size_t)ndb, sizeof(ts_table));
    for (int i = 0; i < ndb; i++) ts_table_init(&s->dbs[i], ts_value_free);
    s->active_expire = true;
}

void ts_shard_free(ts_shard *s)
{
    free(s->locks.buckets);
    ts_blocking_free(s);
    ts_watch_free_all(s);
    for (int i = 0; i < s->ndb; i++) ts_table_clear(&s->dbs[i]);
    free(s->dbs);
    s->dbs = NULL;
}

/* ---------- key locks ---------- */

static uint64_t lock_hash(int db, const char *key, size_t klen)
{
    return ts_hash(key, klen) ^ ((uint64_t)db * 0x9E3779B97F4A7C15ull);
}

static ts_key_lock **lock_slot(const ts_lock_table *lt, uint64_t h, int db, const char *key, size_t klen)
{
    ts_key_lock **pp = &lt->buckets[h & lt->mask];
    while (*pp) {
        ts_key_lock *l = *pp;
        if (l->hash == h && l->db == db && l->klen == klen && memcmp(l->key, key, klen) == 0) return pp;
        pp = &l->next;
    }
    return pp;
}

static void lock_table_grow(ts_lock_table *lt)
{
    size_t nsize = lt->buckets ? (lt->mask + 1) * 2 : 64;
    ts_key_lock **nb = ts_calloc(nsize, sizeof(*nb));
    if (lt->buckets) {
        for (size_t i = 0; i <= lt->mask; i++) {
            ts_key_lock *l = lt->buckets[i];
            while (l) {
                ts_key_lock *next = l->next;
                l->next = nb[l->hash & (nsize - 1)];
                nb[l->hash & (nsize - 1)] = l;
                l = next;
            }
        }
        free(lt->buckets);
    }
    lt->buckets = nb;
    lt->mask = nsize - 1;
}

static const ts_key_lock *lock_find(const ts_lock_table *lt, int db, ts_arg key)
{
    if (lt->count == 0) return NULL;
    return *lock_slot(lt, lock_hash(db, key.ptr, key.len), db, key.ptr, key.len);
}

bool ts_shard_keys_blocked(const ts_shard *s, int db, const ts_arg *argv, const int *keys, int nkeys,
                           const struct ts_txn *self)
{
    if (s->exclusive && s->exclusive != self) return true;
    if (s->locks.count == 0) return false;
    for (int i = 0; i < nkeys; i++) {
        const ts_key_lock *l = lock_find(&s->locks, db, argv[keys[i]]);
        if (l && l->owner != self) return true;
    }
    return false;
}

bool ts_shard_lock_keys(ts_shard *s, const struct ts_txn *t, int db, const ts_arg *argv, const int *keys, int nkeys)
{
    if (ts_shard_keys_blocked(s, db, argv, keys, nkeys, t)) return false;
    for (int i = 0; i < nkeys; i++) {
        ts_arg k = argv[keys[i]];
        if (s->locks.count + 1 > (s->locks.buckets ? s->locks.mask + 1 : 0)) lock_table_grow(&s->locks);
        uint64_t h = lock_hash(db, k.ptr, k.len);
        ts_key_lock **pp = lock_slot(&s->locks, h, db, k.ptr, k.len);
        if (*pp) continue;   /* the same key twice in one command */
        ts_key_lock *l = ts_malloc(sizeof(*l) + k.len);
        l->next = NULL;
        l->owner = t;
        l->hash = h;
        l->db = db;
        l->klen = k.len;
        memcpy(l->key, k.ptr, k.len);
        *pp = l;
        s->locks.count++;
    }
    return true;
}

void ts_shard_unlock_keys(ts_shard *s, const struct ts_txn *t, int db, const ts_arg *argv, const int *keys, int nkeys)
{
    for (int i = 0; i < nkeys; i++) {
        ts_arg k = argv[keys[i]];
        if (s->locks.count == 0) return;
        ts_key_lock **pp = lock_slot(&s->locks, lock_hash(db, k.ptr, k.len), db, k.ptr, k.len);
        ts_key_lock *l = *pp;
        if (!l || l->owner != t) continue;   /* already released (duplicate key) */
        *pp = l->next;
        free(l);
        s->locks.count--;
    }
}
