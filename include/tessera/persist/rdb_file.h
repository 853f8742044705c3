/*
 * rdb_file.h - loading a whole RDB file into the shards (startup).
 *
 * Owns: the file-level RDB format on the reading side (signature, AUX,
 * SELECTDB, RESIZEDB, expire/idle/freq opcodes, EOF, checksum). Values are
 * decoded by rdb.h. The writing side is the persistence thread (persist.c)
 * and the shards' snapshot walk (snapshot.c).
 *
 * Thread: the main thread, before the workers start; per-shard loader
 * threads (rdb_shard_load.h) build and store the values and are joined
 * before these functions return.
 */
#ifndef TESSERA_RDB_FILE_H
#define TESSERA_RDB_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/config/config.h"
#include "tessera/route/engine.h"

typedef struct ts_rdb_load_stats {
    int version;
    uint64_t keys;       /* stored */
    uint64_t expires;    /* stored with an expire time */
    uint64_t expired;    /* skipped: already expired */
} ts_rdb_load_stats;

/* 0 = loaded, 1 = no such file, -1 = error (err says what and where; the
 * shards may hold part of the file: the caller must exit). */
int ts_rdb_load_file(ts_router *router, const ts_config *cfg, const char *path, ts_rdb_load_stats *st, char *err, size_t errlen);
/* The same over bytes in memory; bytes after the RDB's EOF opcode and
 * checksum are not read (an AOF's command tail), *used (may be NULL)
 * receives where the RDB ended. */
int ts_rdb_load_mem(ts_router *router, const ts_config *cfg, const void *data, size_t len, size_t *used, ts_rdb_load_stats *st, char *err,
                    size_t errlen);

#endif
