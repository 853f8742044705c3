/*
 * blocked_keys.h - each shard's registry of the clients blocked on its keys
 * (BLPOP, BZPOPMIN, XREAD BLOCK, ...), and the keys signalled ready.
 *
 * Owns: per shard, a table from (db, key) to the FIFO of waiters on that
 * key, and the list of keys signalled ready since the last serve. A waiter
 * is opaque here: the blocker of route/blocking.h, which registers it,
 * serves it and says how to drop the registry's reference to it.
 * Thread: the owner of the shard only.
 *
 * Why a table keyed by db + key: a signal (every LPUSH, ZADD, ...) must
 * cost nothing when nobody waits (one counter test) and one lookup when
 * someone might; FIFO per key is what makes serving fair.
 */
#ifndef TESSERA_BLOCKED_KEYS_H
#define TESSERA_BLOCKED_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "tessera/store/exec.h"
#include "tessera/store/shard.h"
#include "tessera/util/common.h"

/* The waiters of one key, first come first. */
typedef struct ts_waitlist {
    void **v;
    uint32_t n, cap;
    bool queued;   /* in the shard's ready list */
} ts_waitlist;

/* A key signalled ready: 4-byte db + key bytes. */
typedef struct ts_ready_key {
    char *k;
    size_t len;
} ts_ready_key;

/* Registers waiter on key of database db (once per key: BLPOP k k waits
 * once). True when it was added: the registry then holds a reference,
 * dropped through release (the same function for every waiter). */
bool ts_waits_add(ts_shard *s, int db, ts_arg key, void *waiter, void (*release)(void *waiter));
/* Drops waiter's registration on key (and the registry's reference). */
void ts_waits_remove(ts_shard *s, int db, ts_arg key, void *waiter);
/* The waiters of a ready key (k, len: a ts_ready_key's bytes), or NULL;
 * *e is the registry entry, for ts_waits_drop_if_empty. */
ts_waitlist *ts_waits_find(ts_shard *s, const char *k, size_t len, ts_entry **e);
/* Removes waiter i of l (FIFO order kept) and drops the registry's
 * reference to it. */
void ts_waitlist_remove(ts_shard *s, ts_waitlist *l, uint32_t i);
/* Forgets l when it has no waiter and is not queued as ready. */
void ts_waits_drop_if_empty(ts_shard *s, ts_entry *e, ts_waitlist *l);

/* Tells blocked clients that key of the current database may now serve
 * them: call it after every write that adds elements to a list, sorted set
 * or stream (push, insert, store, rename/move into place). Cheap when
 * nobody is blocked on the shard. */
void ts_db_signal_ready(ts_exec *x, ts_arg key);
/* The same for a key of database db that just received value type `type`
 * (does nothing unless it is a list, sorted set or stream). */
void ts_db_signal_ready_in(ts_shard *s, int db, ts_arg key, int type);
/* Marks every key of database db with blocked clients as ready, after the
 * database's contents were replaced wholesale (FLUSHDB, FLUSHALL, SWAPDB):
 * each waiter is reconsidered (an XREADGROUP whose stream vanished gets its
 * error, a BLPOP whose key appeared is served). */
void ts_blocking_signal_db(ts_shard *s, int db);
/* True when keys were signalled and not yet served. */
static inline bool ts_blocking_pending(const ts_shard *s) { return s->nready != 0; }
/* Frees the registry (shard teardown), releasing every waiter. */
void ts_blocking_free(ts_shard *s);

#endif
