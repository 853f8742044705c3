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

/* ---- the writer (the persistence controller, persist.h) ---- */

/* The fsync policies: TS_AOF_FSYNC_* (config/config.h). */
struct ts_persist;

/* Main thread, before workers start: opens (creates) the file for
 * appending. 0 or a negative errno. */
int ts_aof_open(struct ts_persist *p, const char *filename, int fsync_policy);
void ts_aof_set_fsync(struct ts_persist *p, int fsync_policy);
int ts_aof_fsync_policy(const struct ts_persist *p);
bool ts_aof_enabled(const struct ts_persist *p);
/* Any worker: hands a buffer over (takes its bytes); returns the sequence
 * number the bytes got (increasing in file order). */
uint64_t ts_aof_submit(struct ts_persist *p, ts_buf *buf);
/* CONFIG SET appendonly no, after every shard stopped logging and handed
 * its log over: the persistence thread writes and fsyncs what is queued
 * before this, closes the file and releases every held reply. */
void ts_aof_submit_off(struct ts_persist *p);
/* The highest sequence number whose bytes are on disk (fsynced); with
 * appendfsync no/everysec, the highest written. Any thread. */
uint64_t ts_aof_durable(const struct ts_persist *p);

#endif
