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

#include <stdbool.h>
#include <stdint.h>

#include "tessera/util/buf.h"

struct ts_router;

void ts_aofw_init(const struct ts_router *router);
/* Takes data's bytes for this round. */
void ts_aofw_append(ts_buf *data, uint64_t seq);
/* Writes (and fsyncs, per policy) what this round appended. */
void ts_aofw_round_end(void);
/* Milliseconds the thread may sleep before an everysec fsync is due
 * (-1: no limit). */
long ts_aofw_sleep_ms(void);
/* The thread woke without jobs: an everysec fsync may be due. */
void ts_aofw_tick(void);
/* BGREWRITEAOF (persist.c, on the snapshot's jobs): from the header on,
 * every appended AOF byte is also kept for the new file's tail. */
void ts_aofw_rewrite_begin(void);
/* Takes the kept tail (the caller frees it) and stops keeping. */
ts_buf ts_aofw_rewrite_tail(void);
/* The new file is in place under `filename`: append to it from now on.
 * With the AOF off the file is only made, unless `enable` (the rewrite of
 * CONFIG SET appendonly yes, still wanted): then it is opened and the log
 * is on. */
int ts_aofw_reopen(const char *filename, bool enable);
/* CONFIG SET appendonly no (ts_aof_submit_off's job). */
void ts_aofw_disable(void);
/* Records the outcome (stops keeping a tail if it failed). */
void ts_aofw_rewrite_end(bool ok, int64_t duration_ms);
/* Thread exit: writes and fsyncs what is left, closes the file. */
void ts_aofw_close(void);

#endif
