/*
 * rdb_check.h - validating a whole RDB image without loading it anywhere:
 * the tessera-check tool's `rdb` mode and the AOF scanner's RDB preamble.
 *
 * Owns: a verify-only walk of the file-level RDB structure (the same
 * opcodes rdb_file.c's loader reads), with every value decoded through
 * rdb.h and freed at once, so "it checks" means "it would load". Nothing
 * here touches a server, a shard or a thread: it is a pure function over a
 * byte range, usable from a tool that never starts a server.
 */
#ifndef TESSERA_RDB_CHECK_H
#define TESSERA_RDB_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/config/config.h"

#define TS_RDB_CHECK_NTYPES 6   /* indexed by TS_TYPE_* of table.h */

typedef struct ts_rdb_check_stats {
    int version;                 /* the header's format version */
    uint64_t keys;               /* keys read (expired ones included) */
    uint64_t expires;            /* keys that carried an expire time */
    uint64_t already_expired;    /* of those, expired at check time */
    uint64_t aux_fields;         /* AUX opcodes */
    uint64_t dbs;                /* SELECTDB opcodes */
    uint64_t types[TS_RDB_CHECK_NTYPES];   /* keys per TS_TYPE_* */
    int checksum;                /* 1 = verified, 0 = trailer is zero (not computed), -1 = none (version < 5) */
    size_t error_off;            /* on failure: offset of the opcode, key or value at fault */
} ts_rdb_check_stats;

/* Validates the RDB image at the start of data[0..len): signature, version
 * (1..TS_RDB_VERSION), every opcode and value (decoded with cfg's encoding
 * thresholds and freed), a db number below cfg->databases, the CRC-64
 * trailer when it is not zero. Returns 0 with *rdb_len = bytes through the
 * 8-byte checksum (through the EOF byte before version 5); bytes after it
 * are not looked at (an AOF tail may follow). Returns -1 with err set to
 * what is wrong and where ("... at offset N") and st->error_off set. */
int ts_rdb_check_mem(const void *data, size_t len, const struct ts_config *cfg, size_t *rdb_len,
                     ts_rdb_check_stats *st, char *err, size_t errlen);

#endif
