/*
 * aof.h - the append-only file: what a shard logs, how commands say what
 * their effect is, and the persistence thread's side of the log.
 *
 * Owns: the RESP encoding of logged commands (ts_aof_log, one per shard and
 * one per multi-shard txn), the propagation rules commands follow, and the
 * interface of the AOF writer that runs on the persistence thread
 * (persist.c) and of startup replay (aof_load.c).
 *
 * Shape: each shard appends the commands it executed to its own buffer,
 * with no lock; the worker hands the buffer to the persistence thread once
 * per loop iteration (and before a reply leaves for another worker), which
 * writes everything that arrived in one write() and, for appendfsync
 * always, one fsync (group commit). Keys of different shards are
 * independent, so interleaving the shards' buffers keeps every key's
 * history in order; a command whose keys span shards is logged once, as a
 * whole, by its coordinator while its keys are still locked, after every
 * involved shard has handed over what it logged before (txn.c), so a
 * replay never applies half of it. Every buffer handed over starts with a
 * SELECT, because the file interleaves buffers that each assume their own
 * current database.
 *
 * Propagation: a write command that succeeded is logged as its argv unless
 * it says otherwise with ts_prop_*: relative times become absolute (SET EX
 * -> SET PXAT, EXPIRE -> PEXPIREAT), random or state-dependent choices
 * become their effect (SPOP -> SREM, INCRBYFLOAT -> SET, XADD * -> the
 * ID), blocking forms become their non-blocking pop, consumer-group reads
 * and claims become what they changed in the group (XCLAIM ... FORCE
 * JUSTID LASTID per delivered entry, XACK, XGROUP SETID / CREATECONSUMER;
 * streams.c), and RESTORE logs the key's resulting value as RESTORE ...
 * REPLACE ABSTTL (ts_prop_value). An effect of several commands is one
 * MULTI ... EXEC block, so a torn tail never replays half of it.
 */
#ifndef TESSERA_AOF_H
#define TESSERA_AOF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tessera/util/buf.h"
#include "tessera/store/aof_log.h"
#include "tessera/route/run.h"
#include "tessera/util/common.h"
#include "tessera/types/table.h"

/* ---- what commands call (on the shard running them) ---- */
/* ts_prop_on, ts_prop_none, ts_prop_argv, ts_prop_begin: route/run.h. */
/* Logs the key's current value and expire time (RESTORE key <abs ms|0>
 * <payload> REPLACE ABSTTL), or DEL key when it does not exist. */
void ts_prop_value(ts_cmd_ctx *c, ts_arg key);

/* An AOF rewrite without an RDB preamble (aof-use-rdb-preamble no): the
 * commands that rebuild key (value v; expire >= 0: its PEXPIREAT), as
 * Redis 7.0's rewrite writes them (aof_rewrite.c). */
void ts_aof_rewrite_key(ts_aof_log *l, int db, const char *key, size_t klen, const ts_value *v, int64_t expire);
/* XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID [LASTID
 * lastid]: recreates pending entry nk of group g exactly (its owner,
 * delivery time and count). Shared by the rewrite and by the propagation
 * of consumer-group commands (streams.c). */
struct ts_stream_cg;
struct ts_stream_nack;
struct ts_stream_id;
void ts_aof_log_xclaim(ts_aof_log *l, int db, const char *key, size_t klen, const struct ts_stream_cg *g,
                       const struct ts_stream_nack *nk, const struct ts_stream_id *lastid);

/* ---- the writer (persistence thread; persist.c) ---- */

/* The fsync policies: TS_AOF_FSYNC_* (config/config.h). */

/* What INFO persistence reports (any thread reads). */
typedef struct ts_aof_status {
    atomic_llong current_size;     /* bytes in the file */
    atomic_llong base_size;        /* ... when it was opened */
    atomic_int last_write_ok;
    atomic_ullong loaded_commands; /* startup replay */
    /* BGREWRITEAOF (persist_cmds.c starts it, the persistence thread ends it). */
    atomic_int rewrite_in_progress;
    atomic_int rewrite_scheduled;   /* waits for a running BGSAVE */
    atomic_ullong rewrites;
    atomic_int last_rewrite_ok;
    atomic_llong last_rewrite_ms;   /* -1 before the first */
    atomic_llong rewrite_started_ms;
    atomic_ullong rewrite_failures; /* consecutive */
    /* CONFIG SET appendonly at runtime (config_cmd.c): `wanted` mirrors
     * the setting; `enabling` is set from CONFIG SET appendonly yes until
     * the rewrite that switches the log on has put the file in place;
     * `enable_pending` asks the next rewrite to be that one. */
    atomic_int wanted;
    atomic_int enabling;
    atomic_int enable_pending;
} ts_aof_status;
extern ts_aof_status ts_aof_stat;

/* Main thread, before workers start: opens (creates) the file for
 * appending. 0 or -1 with errno. */
int ts_aof_open(const char *filename, int fsync_policy);
void ts_aof_set_fsync(int fsync_policy);
int ts_aof_fsync_policy(void);
bool ts_aof_enabled(void);
/* Any worker: hands a buffer over (takes its bytes); returns the sequence
 * number the bytes got (increasing in file order). */
uint64_t ts_aof_submit(ts_buf *buf);
/* CONFIG SET appendonly no, after every shard stopped logging and handed
 * its log over: the persistence thread writes and fsyncs what is queued
 * before this, closes the file and releases every held reply. */
void ts_aof_submit_off(void);
/* The highest sequence number whose bytes are on disk (fsynced); with
 * appendfsync no/everysec, the highest written. */
uint64_t ts_aof_durable(void);

#endif
