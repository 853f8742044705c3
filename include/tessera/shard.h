/*
 * shard.h - one keyspace shard: the databases of the slots one worker owns.
 *
 * Owns: the shard's tables (one per database), its keyspace statistics, the
 * "held by a multi-shard transaction" state and the work deferred while it
 * is held.
 * Thread: only the owning worker thread touches a shard, ever (debug builds
 * assert it in ts_shard_assert_owner). Other threads reach it only by
 * posting messages to the owner's inbox.
 *
 * Why "held": a multi-shard command (MSET across shards, RENAME, MULTI/EXEC)
 * holds each of its shards, in ascending shard order, from the moment it
 * touches the shard until it has finished everywhere (strict two-phase
 * locking). While held, the shard runs only that transaction's steps and
 * parks everything else (remote batches, other transactions' acquires,
 * its own connections' commands) in FIFO order. See docs/architecture.md.
 */
#ifndef TESSERA_SHARD_H
#define TESSERA_SHARD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "tessera/msg.h"
#include "tessera/table.h"

struct ts_txn;

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
    struct ts_txn *held_by;       /* NULL when free */
    ts_msg *deferred_head;        /* messages parked while held, FIFO */
    ts_msg *deferred_tail;
    bool active_expire;           /* DEBUG SET-ACTIVE-EXPIRE */
    uint64_t expire_cursor[64];   /* active expiry scan position per db (first 64 dbs) */
    int expire_db;                /* next db the active cycle starts from */
#ifndef NDEBUG
    pthread_t owner;
#endif
} ts_shard;

void ts_shard_init(ts_shard *s, unsigned id, int ndb);
void ts_shard_free(ts_shard *s);
void ts_shard_defer(ts_shard *s, ts_msg *m);
ts_msg *ts_shard_undefer(ts_shard *s);      /* oldest parked message or NULL */

#ifndef NDEBUG
#define ts_shard_assert_owner(s) TS_ASSERT(pthread_equal((s)->owner, pthread_self()))
#else
#define ts_shard_assert_owner(s) ((void)0)
#endif

#endif
