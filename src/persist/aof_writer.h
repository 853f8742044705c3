/*
 * aof_writer.h - the AOF file as the persistence thread sees it (private
 * to src/persist/: persist.c's thread loop drives it).
 *
 * One "round" is every AOF job the thread found queued at once: their
 * bytes go out in one writev() and, with appendfsync always, one
 * fdatasync() (group commit); then the round's last sequence number
 * becomes durable and workers holding replies for it are woken.
 */
#ifndef TESSERA_AOF_WRITER_H
#define TESSERA_AOF_WRITER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tessera/util/buf.h"

struct ts_router;
struct ts_persist;

#define TS_AOF_ROUND_IOV 64

/* The writer's state, inside struct ts_persist. The file descriptor and
 * the round belong to the persistence thread once it runs (main before);
 * the atomics are read by any thread. */
typedef struct ts_aof_writer {
    const struct ts_router *router;     /* engines to wake when more is durable */
    int fd;                             /* -1: AOF off */
    atomic_bool enabled;                /* fd >= 0, for any thread */
    atomic_int fsync_policy;
    ts_buf pending[TS_AOF_ROUND_IOV];   /* this round's bytes, in order */
    int npending;
    uint64_t pending_seq;               /* seq of the last pending buffer */
    uint64_t written_seq;               /* written, maybe not fsynced */
    atomic_ullong durable_seq;
    uint64_t synced_seq;
    int64_t last_fsync_ms;
    bool write_failed;
    int64_t retry_at_ms;
    int64_t last_write_ms;
    bool rewriting;                     /* keep a copy of appended bytes in rewrite_tail */
    ts_buf rewrite_tail;
} ts_aof_writer;

void ts_aofw_init(struct ts_persist *p, const struct ts_router *router);
/* Takes data's bytes for this round. */
void ts_aofw_append(struct ts_persist *p, ts_buf *data, uint64_t seq);
/* Writes (and fsyncs, per policy) what this round appended. */
void ts_aofw_round_end(struct ts_persist *p);
/* Milliseconds the thread may sleep before an everysec fsync is due
 * (-1: no limit). */
long ts_aofw_sleep_ms(struct ts_persist *p);
/* The thread woke without jobs: an everysec fsync may be due. */
void ts_aofw_tick(struct ts_persist *p);
/* BGREWRITEAOF (persist.c, on the snapshot's jobs): from the header on,
 * every appended AOF byte is also kept for the new file's tail. */
void ts_aofw_rewrite_begin(struct ts_persist *p);
/* Takes the kept tail (the caller frees it) and stops keeping. */
ts_buf ts_aofw_rewrite_tail(struct ts_persist *p);
/* The new file is in place under `filename` (in directory dirfd): append
 * to it from now on.
 * With the AOF off the file is only made, unless `enable` (the rewrite of
 * CONFIG SET appendonly yes, still wanted): then it is opened and the log
 * is on. */
int ts_aofw_reopen(struct ts_persist *p, int dirfd, const char *filename, bool enable);
/* CONFIG SET appendonly no (ts_aof_submit_off's job). */
void ts_aofw_disable(struct ts_persist *p);
/* Records the outcome (stops keeping a tail if it failed). */
void ts_aofw_rewrite_end(struct ts_persist *p, bool ok, int64_t duration_ms);
/* TS_JOB_BARRIER (shutdown): writes what is pending now (a failed write
 * is retried at once) and fsyncs, whatever the policy. 0, or a negative
 * errno (logged). */
int ts_aofw_sync_now(struct ts_persist *p);
/* Thread exit: writes and fsyncs what is left, closes the file. */
void ts_aofw_close(struct ts_persist *p);

#endif
