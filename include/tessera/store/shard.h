/*
 * shard.h - one keyspace shard: the databases of the slots one worker owns.
 *
 * Owns: the shard's tables (one per database), its keyspace statistics, the
 * "held by a multi-shard transaction" state (key locks, exclusive holder),
 * the registry of clients blocked on its keys (blocked_keys.h) and that of
 * the WATCHed keys (watched_keys.h).
 * Thread: only the owning worker thread touches a shard, ever (debug builds
 * assert it in ts_shard_assert_owner). Other threads reach it only by
 * posting messages to the owner's inbox.
 *
 * Why locks: a multi-shard command (MSET across shards, RENAME, MULTI/EXEC)
 * locks its keys on each of its shards, shard by shard in ascending shard
 * order, from the moment it touches the shard until it has finished
 * everywhere (strict two-phase locking). Commands that visit every key of a
 * shard (FLUSHALL, KEYS, SWAPDB) take the whole shard instead (`exclusive`).
 * Work that conflicts with a lock is parked in FIFO order (remote batches and
 * acquires by the engine, route/engine.h; the worker's own connections in
 * its waiter list),
 * and once anything is parked, newer work queues behind it, so nothing
 * starves. See docs/architecture.md, section 4.
 */
#ifndef TESSERA_SHARD_H
#define TESSERA_SHARD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "tessera/util/common.h"
#include "tessera/types/table.h"

struct ts_txn;
struct ts_shard_snap;

/* A key locked by a multi-shard transaction. */
typedef struct ts_key_lock {
    struct ts_key_lock *next;
    const struct ts_txn *owner;
    uint64_t hash;
    int db;
    size_t klen;
    char key[];
} ts_key_lock;

typedef struct ts_lock_table {
    ts_key_lock **buckets;
    size_t mask;                  /* bucket count - 1 */
    size_t count;
} ts_lock_table;

typedef struct ts_shard_stats {
    uint64_t keyspace_hits;
    uint64_t keyspace_misses;
    uint64_t expired_keys;
    uint64_t expired_stale_perc_x100;  /* last cycle's expired/sampled ratio x 10000 */
    uint64_t expire_cycle_cpu_usec;
} ts_shard_stats;

typedef struct ts_shard {
    unsigned id;
    int ndb;
    ts_table *dbs;
    ts_shard_stats stats;
    struct ts_txn *exclusive;     /* txn holding the whole shard, or NULL */
    ts_lock_table locks;          /* keys held by multi-shard txns */
    bool active_expire;           /* DEBUG SET-ACTIVE-EXPIRE */
    /* Blocked clients (blocking.c): registry of waiters per key (key = 4-byte
     * db + key bytes), and the keys signalled ready since the last serve. */
    size_t blocked_keys;          /* keys with a waiter list */
    struct ts_table *block_reg;   /* NULL until the first registration */
    void (*waiter_release)(void *waiter);   /* drops the registry's reference (blocked_keys.h) */
    struct ts_ready_key *ready;
    size_t nready, ready_cap;
    bool serving;
    /* WATCH (watched_keys.h): registry of watchers per key (key = 4-byte db
     * + key bytes), NULL until the first registration; `watches` counts the
     * registrations, so a signal costs one test when nobody watches. A
     * scratch shard records the keys it signals instead (record_signals,
     * signals: struct ts_signal_rec). */
    size_t watches;
    struct ts_table *watch_reg;
    bool record_signals;
    struct ts_signal_rec *signals;
    size_t nsignals, signals_cap;
    uint64_t expire_cursor[64];   /* active expiry scan position per db (first 64 dbs) */
    int expire_db;                /* next db the active cycle starts from */
    struct ts_shard_snap *snap;   /* snapshot being written (snapshot.h), or NULL */
    struct ts_aof_log *aof;       /* where this shard logs for the AOF (aof.h), NULL: not logging */
#ifndef NDEBUG
    pthread_t owner;
#endif
} ts_shard;

void ts_shard_init(ts_shard *s, unsigned id, int ndb);
void ts_shard_free(ts_shard *s);
/* True when a lock (or an exclusive holder other than `self`) stands in the
 * way of a command touching these keys of database db. */
bool ts_shard_keys_blocked(const ts_shard *s, int db, const ts_arg *argv, const int *keys, int nkeys,
                           const struct ts_txn *self);
/* Locks every key, or none (false) when one is locked by another txn. */
bool ts_shard_lock_keys(ts_shard *s, const struct ts_txn *t, int db, const ts_arg *argv, const int *keys, int nkeys);
void ts_shard_unlock_keys(ts_shard *s, const struct ts_txn *t, int db, const ts_arg *argv, const int *keys, int nkeys);

#ifndef NDEBUG
#define ts_shard_assert_owner(s) TS_ASSERT(pthread_equal((s)->owner, pthread_self()))
#else
#define ts_shard_assert_owner(s) ((void)0)
#endif

#endif
