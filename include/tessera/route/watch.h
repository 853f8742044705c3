/*
 * watch.h - WATCH: one connection's optimistic locks on keys of any shard.
 *
 * Owns: ts_watch, one per WATCH session of a connection (from the first
 * WATCH to the EXEC, DISCARD, UNWATCH or disconnect that ends it): the
 * keys watched, each with the shard that owns it, and the dirty flag that
 * any shard sets when one of them changes (Redis's CLIENT_DIRTY_CAS). The
 * shards' registries (store/watched_keys.h) hold references to it.
 * Threads: the keys list is the connection's worker's (the coordinator) and
 * is frozen once the session ends, after which shards may read it (EXEC's
 * check, WATCH_UNREG). `dirty` is written by any shard's thread (release)
 * and read by the coordinator after a message from every shard concerned
 * (acquire). The reference count is atomic.
 */
#ifndef TESSERA_WATCH_H
#define TESSERA_WATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tessera/store/shard.h"
#include "tessera/util/channels.h"
#include "tessera/util/common.h"

struct ts_engine;

typedef struct ts_watch_key {
    int db;
    unsigned shard;
    ts_arg key;          /* owned copy */
} ts_watch_key;

typedef struct ts_watch {
    atomic_bool dirty;
    atomic_bool ended;   /* the session ended: its registrations are on their way out */
    atomic_int refs;
    ts_watch_key *keys;
    int n, cap;
} ts_watch;

/* WATCH_UNREG: drop w's registrations on your shard (the message holds one
 * of w's references). */
typedef struct ts_msg_unwatch {
    ts_msg msg;
    ts_watch *w;
} ts_msg_unwatch;

/* A new session (one reference: the caller's). */
ts_watch *ts_watch_new(void);
void ts_watch_ref(ts_watch *w);
void ts_watch_unref(ts_watch *w);
/* Coordinator: adds (db, key) to the session; false when already watched. */
bool ts_watch_note(ts_watch *w, int db, ts_arg key);
/* On the shard's thread: registers key of database db in shard s for w
 * (expired-when-watched decided at now_ms). */
void ts_watch_register(ts_shard *s, ts_watch *w, int db, ts_arg key, int64_t now_ms);
/* On shard `id`'s thread (s is its shard), at EXEC with w's keys locked or
 * local: marks w dirty when one of its keys there expired since it was
 * watched (Redis's isWatchedKeyExpired), then drops those registrations. */
void ts_watch_check_and_drop(ts_shard *s, unsigned id, ts_watch *w, int64_t now_ms);
/* On shard `id`'s thread: drops w's registrations there (WATCH_UNREG). */
void ts_watch_drop_here(ts_shard *s, unsigned id, ts_watch *w);
/* Coordinator: ends the session: its own shard's registrations go now,
 * the others' through WATCH_UNREG messages; drops the caller's reference. */
void ts_watch_end(struct ts_engine *e, ts_watch *w);
/* True when every watched key lives on shard id. */
bool ts_watch_all_on(const ts_watch *w, unsigned id);
static inline bool ts_watch_is_dirty(ts_watch *w)
{
    return atomic_load_explicit(&w->dirty, memory_order_acquire);
}

#endif
