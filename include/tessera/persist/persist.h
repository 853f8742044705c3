/*
 * persist.h - the persistence thread: the one thread that writes RDB
 * snapshot files, and the process-wide persistence status INFO reports.
 *
 * Owns: the open snapshot file, its running CRC-64, the job queue, and the
 * status fields (last save time and result, save in progress, changes
 * since the last save).
 *
 * Threads: a snapshot is started by one worker (the coordinator of a SAVE
 * or BGSAVE txn, or the main thread at shutdown) with ts_snapshot_new;
 * every shard then serializes itself on its own worker and hands its bytes
 * over in chunks (ts_snapshot_chunk) and finally says it is done
 * (ts_snapshot_shard_done). Only the persistence thread touches the file:
 * no worker ever blocks on write() or fsync(). When the last shard is done
 * the thread writes the EOF opcode and checksum, fsyncs, renames the temp
 * file into place, records the outcome, and wakes whoever waits
 * (ts_snapshot_wait, or the done callback, which runs on the persistence
 * thread and must only post a message).
 *
 * Shape: a mutex + condition variable FIFO, like Redis's bio.c: jobs are
 * chunks of hundreds of kilobytes, so a lock per job costs nothing next to
 * the write, and the FIFO keeps every shard's bytes after the header.
 * Status fields are atomics so INFO and LASTSAVE read them from any thread.
 */
#ifndef TESSERA_PERSIST_H
#define TESSERA_PERSIST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tessera/util/buf.h"

struct ts_router;
typedef struct ts_snapshot ts_snapshot;

/* Called on the persistence thread when a snapshot has ended (ok or not). */
typedef void ts_snapshot_done_fn(ts_snapshot *snap, bool ok, void *arg);

typedef struct ts_persist_status {
    atomic_llong lastsave;               /* unix seconds of the last successful save */
    atomic_int last_bgsave_ok;           /* 1 = ok */
    atomic_int in_progress;              /* a snapshot is being written */
    atomic_llong save_started_ms;        /* start of the current (or last) snapshot */
    atomic_llong last_save_duration_ms;  /* -1 before the first */
    atomic_ullong dirty_at_save_start;   /* ts_router_dirty() when the current/last snapshot began */
    atomic_ullong dirty_saved;           /* ... of the last successful one */
    atomic_ullong saves;                 /* successful snapshots */
    atomic_llong last_cow_size;          /* bytes written for keys changed during the last snapshot */
    atomic_ullong last_load_keys_loaded; /* startup: keys loaded from the file */
    atomic_ullong last_load_keys_expired;
} ts_persist_status;

extern ts_persist_status ts_persist;

/* Main thread, before the workers start / after they stopped. */
void ts_persist_start(const struct ts_router *router);
void ts_persist_stop(void);


/* Claims the single snapshot slot: false when one is in progress. */
bool ts_snapshot_try_claim(void);
/* Creates a snapshot over nshards shards writing `filename` (relative to
 * the process's directory) and queues its header. The caller must hold the
 * claim (released when the snapshot ends). done (may be NULL) runs on the
 * persistence thread at the end. With `waiter` the caller must call
 * ts_snapshot_wait and then ts_snapshot_release; otherwise the snapshot
 * frees itself after done has run. */
ts_snapshot *ts_snapshot_new(const char *filename, unsigned nshards, bool compress, bool checksum,
                             uint64_t dirty, ts_snapshot_done_fn *done, void *arg, bool waiter);
/* BGREWRITEAOF: a snapshot written as the RDB preamble of a new AOF (or,
 * without rdb_preamble, as the commands that rebuild each key), to which
 * the persistence thread appends every AOF byte queued after the
 * snapshot's header, then swaps it in (fsync, rename, reopen). */
ts_snapshot *ts_snapshot_new_aof(const char *aof_filename, unsigned nshards, bool compress, bool enable,
                                 bool rdb_preamble);
/* Whether it is the rewrite that switches the log on: each shard starts
 * logging at its snapshot point (persist_cmds.c). */
bool ts_snapshot_enables_aof(const ts_snapshot *snap);
bool ts_snapshot_compress(const ts_snapshot *snap);
/* An AOF rewrite written as commands (aof-use-rdb-preamble no). */
bool ts_snapshot_commands(const ts_snapshot *snap);
/* A shard's worker: hands over a chunk of the body (takes the bytes; buf
 * is left empty). */
void ts_snapshot_chunk(ts_snapshot *snap, ts_buf *buf, size_t cow_bytes);
/* A shard's worker: this shard has written everything. */
void ts_snapshot_shard_done(ts_snapshot *snap);
/* Blocks until the snapshot has ended; true when the file is in place. */
bool ts_snapshot_wait(ts_snapshot *snap);
/* Releases a snapshot the caller waited for. */
void ts_snapshot_release(ts_snapshot *snap);
/* Bytes queued for the disk and not yet written (workers pause their walk
 * above a limit). */
uint64_t ts_persist_backlog(void);

#endif
