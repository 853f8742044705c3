/*
 * rdb_shard_load.h - the parallel half of startup loading: one loader
 * thread per shard builds the values of that shard's keys and stores them.
 *
 * Owns: the loader threads, their batch queues and their first error.
 * Why this shape: building values (strings copied, listpacks validated,
 * skiplists and tables filled) and inserting them is most of a load's
 * time, and each shard's part of it touches only that shard. So the file
 * reader (rdb_file.c, on the main thread) only walks the opcodes, reads
 * each key to find its shard and skips over the value's bytes
 * (ts_rdb_skip_value); the (key, value bytes, expire) records go to the
 * shard's loader in batches. The loaders decode with ts_rdb_load_value,
 * the same code as a sequential load, so every check is still made, and
 * keys reach a shard in file order (the last duplicate wins as before).
 *
 * Threads: add/failed/finish are called by the one reading thread; each
 * loader thread is the only one touching its shard. The loaders run
 * before the workers start and are joined in finish, so their writes are
 * ordered before anything a worker does. The image the records point
 * into must stay mapped until finish returns.
 */
#ifndef TESSERA_RDB_SHARD_LOAD_H
#define TESSERA_RDB_SHARD_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/config/config.h"
#include "tessera/route/engine.h"

typedef struct ts_rdb_shard_load ts_rdb_shard_load;

/* Starts one loader per shard of router; base is the image's first byte
 * (error offsets are counted from it). */
ts_rdb_shard_load *ts_rdb_shard_load_start(ts_router *router, const ts_config *cfg, const unsigned char *base);

/* Queues one key for shard `shard`: the klen bytes at key (in the image,
 * or in key_owned, a malloc'd buffer taken over; NULL when the key is in
 * the image); the value is the vlen bytes at val, of rdb type `type`. Blocks while the
 * shard's queue is full (memory stays bounded whatever the file's size). */
void ts_rdb_shard_load_add(ts_rdb_shard_load *l, unsigned shard, int db, const char *key, size_t klen,
                           char *key_owned, int type,
                           const unsigned char *val, size_t vlen, int64_t expire);

/* Whether a loader has failed (the reader may stop early). */
bool ts_rdb_shard_load_failed(ts_rdb_shard_load *l);

/* Hands over what is queued, waits for every loader and frees l. 0 when
 * every value loaded; -1 with err set to the failure at the lowest offset
 * ("Bad value of type T for key 'K' (why) at offset N"). */
int ts_rdb_shard_load_finish(ts_rdb_shard_load *l, char *err, size_t errlen);

#endif
