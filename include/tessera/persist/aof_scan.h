/*
 * aof_scan.h - reading an append-only file without executing it: the
 * command boundaries, an RDB preamble, a truncated tail, corruption.
 *
 * Owns: the AOF's syntax (RESP arrays of bulk strings, MULTI/EXEC
 * nesting) as both startup replay (aof_load.c) and the tessera-check tool
 * read it, so both agree on where a file stops being valid.
 */
#ifndef TESSERA_AOF_SCAN_H
#define TESSERA_AOF_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/util/common.h"
#include "tessera/persist/rdb_check.h"

/* Called for each complete command, in file order: `cmd` points at its
 * first byte ('*'), len covers it up to and including its last CRLF, name
 * is its first argument. A non-zero return stops the scan (returned). */
typedef int ts_aof_scan_fn(void *arg, const unsigned char *cmd, size_t len, int argc, ts_arg name);

typedef struct ts_aof_scan_result {
    size_t rdb_len;      /* bytes of an RDB preamble at the start, 0 = none */
    size_t valid_len;    /* end of the last complete command outside an open MULTI */
    bool truncated;      /* the data ends inside a command or an open MULTI */
    bool corrupt;        /* bad syntax at error_off (not just a short tail) */
    size_t error_off;    /* offset of the first bad or incomplete byte's command */
    char error[160];     /* what is wrong, in redis-check-aof's words */
    uint64_t commands;   /* complete commands seen (MULTI and EXEC included) */
    size_t error_pos;    /* the first wrong byte, or len when the data just ends */
    uint64_t valid_lines; /* RESP lines (headers, bulks, annotations) in rdb_len..valid_len */
    ts_rdb_check_stats rdb; /* the preamble's statistics when rdb_len > 0 (or its failure) */
} ts_aof_scan_result;

/* Scans data[0..len). fn (may be NULL) sees every complete command of the
 * valid prefix, MULTI and EXEC included; commands of a MULTI block that
 * never got its EXEC are not passed. Returns 0 when the file is valid or
 * only truncated (res->truncated), -1 when corrupt (res->corrupt, or the
 * RDB preamble did not validate), or fn's non-zero return. */
int ts_aof_scan(const unsigned char *data, size_t len, ts_aof_scan_fn *fn, void *arg, ts_aof_scan_result *res);
/* The same when data[0..rdb_len) is an RDB preamble already read (and
 * checked) by its loader: only the commands after it are scanned. */
int ts_aof_scan_after(const unsigned char *data, size_t len, size_t rdb_len, ts_aof_scan_fn *fn, void *arg,
                      ts_aof_scan_result *res);

#endif
