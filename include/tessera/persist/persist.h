/*
 * persist.h - the persistence controller: the one object that owns
 * everything persistent about the process: the persistence thread and its
 * job queue, the AOF file (aof.h), RDB snapshot files, their status, and
 * the save / rewrite / enable state machine the commands drive.
 *
 * Owns (struct ts_persist, private to src/persist/): the thread and its
 * queue, the open snapshot and AOF files, the snapshot slot (one snapshot
 * at a time, RDB or AOF rewrite), the AOF's enable state (CONFIG SET
 * appendonly at runtime), and the status fields INFO reports. One exists
 * per process, created by main and hung off the server context
 * (cmd/server.h: srv->persist); nothing here is a global.
 *
 * Threads: the controller's functions may be called from any thread unless
 * marked; its decisions are single atomic steps, so two workers racing
 * (a BGSAVE and a `save` rule) get one winner. A snapshot is started by one
 * worker (the coordinator of a SAVE / BGSAVE / BGREWRITEAOF txn, or worker
 * 0 at shutdown) with ts_snapshot_new; every shard then serializes itself
 * on its own worker and hands its bytes over in chunks (ts_snapshot_chunk)
 * and finally says it is done (ts_snapshot_shard_done). Only the
 * persistence thread touches the files: no worker ever blocks on write()
 * or fsync(). When the last shard is done the thread writes the EOF opcode
 * and checksum, fsyncs, renames the temp file into place, records the
 * outcome, and wakes whoever waits (ts_snapshot_wait, or the done
 * callback, which runs on the persistence thread and must only post a
 * message or call a hook).
 *
 * Shape: a mutex + condition variable FIFO, like Redis's bio.c (channel 2
 * of util/channels.h): jobs are chunks of hundreds of kilobytes or a
 * worker's AOF bytes, so a lock per job costs nothing next to the write,
 * and the FIFO keeps every shard's bytes after the header.
 */
#ifndef TESSERA_PERSIST_H
#define TESSERA_PERSIST_H

#include <stdbool.h>
#include <stdint.h>

#include "tessera/config/config.h"
#include "tessera/util/buf.h"

struct ts_router;
typedef struct ts_persist ts_persist;
typedef struct ts_snapshot ts_snapshot;

/* ---- lifecycle (main thread) ---- */

/* Before anything is loaded (the AOF is opened into it). */
ts_persist *ts_persist_new(void);
/* After loading, before clients: starts the thread; AOF durability wakes
 * the router's engines. */
void ts_persist_start(ts_persist *p, const struct ts_router *router);
/* After the workers ended: writes what is queued, closes the files, joins. */
void ts_persist_stop(ts_persist *p);
/* Shutdown (any worker; blocks the caller): returns once every job queued
 * before the call is done (snapshots whose shards all handed their bytes
 * over have ended) and everything queued for the AOF is written and
 * fsynced, whatever appendfsync says. 0, or a negative errno when the AOF
 * could not be written or fsynced (already logged). */
int ts_persist_barrier(ts_persist *p);
void ts_persist_free(ts_persist *p);

/* ---- status (any thread) ---- */

/* What INFO persistence and LASTSAVE report, read field by field. */
typedef struct ts_persist_info {
    int64_t lastsave;                /* unix seconds of the last successful save */
    bool last_bgsave_ok;
    bool rdb_in_progress;            /* an RDB snapshot (not a rewrite) is being written */
    int64_t save_started_ms;         /* start of the current (or last) snapshot */
    int64_t last_save_duration_ms;   /* -1 before the first */
    uint64_t dirty_saved;            /* changes counted when the last good save began */
    uint64_t saves;
    int64_t last_cow_size;
    uint64_t load_keys_loaded, load_keys_expired;
    bool aof_on;                     /* logging, or switching on (Redis: on while its rewrite runs) */
    bool rewrite_in_progress, rewrite_scheduled;
    int64_t rewrite_started_ms;
    int64_t last_rewrite_ms;         /* -1 before the first */
    bool last_rewrite_ok;
    uint64_t rewrites, rewrite_failures;
    bool last_write_ok;
    int64_t aof_current_size, aof_base_size;
} ts_persist_info;

void ts_persist_get_info(const ts_persist *p, ts_persist_info *out);
/* Startup: what the RDB file held (INFO rdb_last_load_keys_*). */
void ts_persist_note_load(ts_persist *p, uint64_t keys, uint64_t expired);
/* Startup: the changes replayed from the AOF are not changes since the
 * last save. */
void ts_persist_note_saved(ts_persist *p, uint64_t dirty);
/* Why write commands are refused now (Redis's
 * writeCommandsDeniedByDiskError): the last save failed while
 * stop_on_save_error (stop-writes-on-bgsave-error with `save` rules set),
 * or the AOF's last write or everysec fsync failed (*aof_errno: its
 * errno). A few relaxed loads: cheap enough for every write command. */
typedef enum ts_disk_error { TS_DISK_OK, TS_DISK_ERROR_RDB, TS_DISK_ERROR_AOF } ts_disk_error;
ts_disk_error ts_persist_disk_error(const ts_persist *p, bool stop_on_save_error, int *aof_errno);
/* True while a snapshot (RDB or AOF rewrite) is being written. */
bool ts_persist_snapshot_running(const ts_persist *p);
/* True while CONFIG SET appendonly yes waits for the rewrite that makes
 * its file (Redis's AOF_WAIT_REWRITE): the AOF holds nothing yet. */
bool ts_persist_aof_enabling(const ts_persist *p);

/* ---- the state machine (any worker) ---- */

/* SAVE, BGSAVE, the shutdown save: claims the snapshot slot; false when a
 * snapshot is in progress. The slot is released when the snapshot ends. */
bool ts_snapshot_try_claim(ts_persist *p);

typedef enum ts_rewrite_claim {
    TS_REWRITE_START,        /* the slot is ours: make the snapshot (*enable: it switches the log on) */
    TS_REWRITE_SCHEDULED,    /* a BGSAVE holds the slot: the rewrite starts when it ends */
    TS_REWRITE_RUNNING,      /* a rewrite is in progress already */
} ts_rewrite_claim;
/* BGREWRITEAOF (a client's, CONFIG SET appendonly yes's, or an automatic
 * one), with every shard held. */
ts_rewrite_claim ts_persist_claim_rewrite(ts_persist *p, bool *enable);
/* CONFIG SET appendonly, once every engine applied it: true when a
 * rewrite must start to switch the log on (as Redis: the rewrite makes the
 * file, then the log goes on); switching off queues the close. */
bool ts_persist_set_appendonly(ts_persist *p, bool want);
/* Worker 0's cron: a BGREWRITEAOF is due (one scheduled behind a BGSAVE,
 * or auto-aof-rewrite-percentage/-min-size: *growth is the percentage). */
bool ts_persist_rewrite_due(ts_persist *p, const ts_config *cfg, int64_t now_ms, long long *growth);
/* Worker 0's cron: a `save` rule asks for a BGSAVE now (dirty: the
 * changes so far); *secs and *changes name the rule for the log. */
bool ts_persist_save_due(ts_persist *p, const char *rules, uint64_t dirty, int64_t now_ms, long long *secs,
                         long long *changes);

/* ---- snapshots ---- */

/* Called on the persistence thread when a snapshot has ended (ok or not). */
typedef void ts_snapshot_done_fn(ts_snapshot *snap, bool ok, void *arg);

/* Creates a snapshot over nshards shards writing `filename` (relative to
 * the process's directory) and queues its header. The caller must hold the
 * claim (released when the snapshot ends). done (may be NULL) runs on the
 * persistence thread at the end. With `waiter` the caller must call
 * ts_snapshot_wait and then ts_snapshot_release; otherwise the snapshot
 * frees itself after done has run. */
ts_snapshot *ts_snapshot_new(ts_persist *p, const char *filename, unsigned nshards, bool compress, bool checksum,
                             uint64_t dirty, ts_snapshot_done_fn *done, void *arg, bool waiter);
/* BGREWRITEAOF (after TS_REWRITE_START): a snapshot written as the RDB
 * preamble of a new AOF (or, without rdb_preamble, as the commands that
 * rebuild each key), to which the persistence thread appends every AOF
 * byte queued after the snapshot's header, then swaps it in (fsync,
 * rename, reopen). */
ts_snapshot *ts_snapshot_new_aof(ts_persist *p, const char *aof_filename, unsigned nshards, bool compress,
                                 bool enable, bool rdb_preamble);
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
uint64_t ts_persist_backlog(const ts_persist *p);

#endif
