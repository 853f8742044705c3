/*
 * watched_keys.h - each shard's registry of the WATCHed keys (MULTI/EXEC's
 * optimistic locks), and the signals that dirty them.
 *
 * Owns: per shard, a table from (db, key) to the watchers of that key in
 * registration order, each with Redis's "expired when watched" bit. A
 * watcher is opaque here (the route layer's ts_watch, one per WATCH session
 * of a connection): the registry calls ops->touch when a watched key
 * changes and ops->release when it drops its reference.
 * Thread: the owner of the shard only.
 *
 * Why per shard: a key lives on one shard, and so do its watchers'
 * registrations; a write signals only its own shard's registry, at the
 * cost of one counter test when nobody watches there.
 *
 * The rules are Redis 7.0.15's (multi.c): watchForKey, touchWatchedKey
 * (including its `break` at an expired-when-watched registration whose key
 * exists), touchAllWatchedKeysInDb (FLUSHDB, FLUSHALL, SWAPDB) and
 * isWatchedKeyExpired.
 */
#ifndef TESSERA_WATCHED_KEYS_H
#define TESSERA_WATCHED_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "tessera/store/exec.h"
#include "tessera/store/shard.h"
#include "tessera/util/common.h"

typedef struct ts_watcher_ops {
    /* A watched key changed: the watcher's EXEC must fail (CLIENT_DIRTY_CAS). */
    void (*touch)(void *watcher);
    /* The registry dropped its reference to the watcher. */
    void (*release)(void *watcher);
    /* Optional (NULL: never). True when the watcher no longer needs its
     * registrations: it is dirty already, or its WATCH session ended and
     * its unregistration is on the way. Redis would have unwatched such a
     * client (touchWatchedKey -> unwatchAllKeys, EXEC, UNWATCH) at once;
     * the registry treats its registrations as gone wherever it meets them,
     * which matters for touchWatchedKey's `break` (watched_keys.c). Called
     * on the shard's thread: it reads the watcher's state atomically. */
    bool (*stale)(void *watcher);
} ts_watcher_ops;

/* The ops' callbacks run on the shard's thread, in the middle of a registry
 * walk: they must not call back into this registry. */

/* Registers watcher on key of database db (watchForKey): the registration
 * records whether the key is logically expired at now_ms. False, and no
 * reference taken, when the watcher already watches that key. */
bool ts_watch_add(ts_shard *s, int db, ts_arg key, void *watcher, const ts_watcher_ops *ops, int64_t now_ms);
/* Drops watcher's registration on key (and the registry's reference); no-op
 * when there is none (a touch may have removed it). */
void ts_watch_remove(ts_shard *s, int db, ts_arg key, void *watcher);
/* isWatchedKeyExpired for one registration: true when it was not expired
 * when watched and the key is expired (still in the table) at now_ms. */
bool ts_watch_expired_since(ts_shard *s, int db, ts_arg key, void *watcher, int64_t now_ms);
/* Number of registrations on the shard (tests, INFO). */
size_t ts_watch_count(const ts_shard *s);

/* signalModifiedKey's WATCH half (touchWatchedKey): key of the context's
 * database changed. Call it wherever Redis 7.0 calls signalModifiedKey;
 * cheap when nobody watches on the shard. */
void ts_db_signal_modified(ts_exec *x, ts_arg key);
void ts_db_signal_modified_in(ts_shard *s, int db, ts_arg key);
/* False when a signal on s would do nothing (nobody watches, nothing
 * records): the one test ts_db_signal_modified* make first, for callers
 * that would have to prepare something for the signal. */
static inline bool ts_watch_signals_wanted(const ts_shard *s)
{
    return (s->watches | (size_t)s->record_signals) != 0;
}
/* touchAllWatchedKeysInDb: database `emptied` of the shard is being
 * emptied (FLUSHDB, FLUSHALL) or, with replaced_with >= 0, swapped with
 * that database (SWAPDB: call it for (a, b) and (b, a) before swapping).
 * now_ms decides keyIsExpired. */
void ts_db_signal_flushed(ts_shard *s, int emptied, int replaced_with, int64_t now_ms);

/* Frees the registry (shard teardown), releasing every watcher, and any
 * recorded signals. */
void ts_watch_free_all(ts_shard *s);

/* Scratch shards (cmd/multi_borrow.c run a single-shard command over values
 * lent by several shards on a private shard with no registry): between
 * begin and free, ts_db_signal_modified* on s appends (db, key) to
 * s->signals instead of touching anything, for the owners of the keys to
 * signal them on their real shards. ts_db_signal_flushed records nothing
 * (no command run on a scratch shard empties a database). */
typedef struct ts_signal_rec {
    int db;
    char *k;        /* the key's bytes (owned) */
    size_t len;
} ts_signal_rec;
void ts_signals_record_begin(ts_shard *s);
/* Frees the recorded keys and stops recording. */
void ts_signals_record_free(ts_shard *s);

#endif
