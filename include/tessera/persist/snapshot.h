/*
 * snapshot.h - one shard's part of a point-in-time snapshot, written
 * without fork (docs/persistence.md, "Snapshots without fork").
 *
 * Owns: the shard's walk over its databases, the chunk being filled, and
 * the table hooks that write an entry's old value before anything changes
 * it.
 *
 * Thread: the shard's owner only. A snapshot begins on every shard while a
 * txn holds all of them (so the snapshot is one point in the serial order
 * of every command), then each worker walks its shard between event-loop
 * iterations (ts_shard_snapshot_step from an idle handle) while serving
 * clients. Before any command can see or change an entry that the walk has
 * not reached, the table hook writes the entry as it is: the file gets the
 * value of the moment the snapshot began, however the key changes later.
 * The bytes go to the persistence thread in chunks.
 */
#ifndef TESSERA_SNAPSHOT_H
#define TESSERA_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>

#include "tessera/persist/persist.h"
#include "tessera/store/shard.h"

/* Marks every entry of every database pending and installs the hooks. */
void ts_shard_snapshot_begin(ts_shard *s, ts_snapshot *snap);
/* Writes up to about max_entries pending entries. Returns true when the
 * shard has written everything: its hooks are gone, its last chunk and
 * its "done" are with the persistence thread. */
bool ts_shard_snapshot_step(ts_shard *s, size_t max_entries);
/* The same, to the end, now (SAVE, shutdown). */
void ts_shard_snapshot_finish(ts_shard *s);
static inline bool ts_shard_snapshot_active(const ts_shard *s) { return s->snap != NULL; }

#endif
