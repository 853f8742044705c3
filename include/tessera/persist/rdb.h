/*
 * rdb.h - Redis's RDB encoding (version 10, as Redis 7.0 writes it) of one
 * value, and the primitives the file format is built from.
 *
 * Owns: the byte format of a key's value inside an RDB file, a DUMP payload
 * and an AOF's RDB preamble: lengths, strings (integer-encoded and
 * LZF-compressed ones too), every type and encoding Tessera keeps, and the
 * reverse: building a value from those bytes. The file-level structure
 * (header, aux fields, SELECTDB, expire opcodes, EOF, checksum) belongs to
 * src/persist/rdb_file.c; this module knows nothing of files, shards or
 * threads.
 *
 * Thread: pure functions over the caller's buffers and objects; a value is
 * read (saving) or built (loading) by whichever thread owns it.
 *
 * Shape: saving appends to a ts_buf (the caller owns it, chunks travel to
 * the persistence thread as they are); loading reads from a bounded memory
 * range (an mmap()ed file, a DUMP payload), so a corrupt length can never
 * read past the end: every read checks the bounds and fails with an error
 * text instead. Collections are loaded into the encoding Redis would choose
 * for them under the given thresholds (a small HASH becomes a listpack, a
 * LISTPACK hash past hash-max-listpack-entries becomes a hashtable), and a
 * listpack/intset payload is checked for integrity before it is adopted.
 * Design note (what each type is written as, what loading converts):
 * docs/persistence.md.
 */
#ifndef TESSERA_RDB_H
#define TESSERA_RDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/util/buf.h"
#include "tessera/util/lzf.h"
#include "tessera/config/config.h"
#include "tessera/types/table.h"

#define TS_RDB_VERSION 10

/* Value types (the byte before a key). */
enum {
    TS_RDB_TYPE_STRING = 0,
    TS_RDB_TYPE_LIST = 1,
    TS_RDB_TYPE_SET = 2,
    TS_RDB_TYPE_ZSET = 3,
    TS_RDB_TYPE_HASH = 4,
    TS_RDB_TYPE_ZSET_2 = 5,
    TS_RDB_TYPE_MODULE_2 = 7,
    TS_RDB_TYPE_HASH_ZIPMAP = 9,
    TS_RDB_TYPE_LIST_ZIPLIST = 10,
    TS_RDB_TYPE_SET_INTSET = 11,
    TS_RDB_TYPE_ZSET_ZIPLIST = 12,
    TS_RDB_TYPE_HASH_ZIPLIST = 13,
    TS_RDB_TYPE_LIST_QUICKLIST = 14,
    TS_RDB_TYPE_STREAM_LISTPACKS = 15,
    TS_RDB_TYPE_HASH_LISTPACK = 16,
    TS_RDB_TYPE_ZSET_LISTPACK = 17,
    TS_RDB_TYPE_LIST_QUICKLIST_2 = 18,
    TS_RDB_TYPE_STREAM_LISTPACKS_2 = 19,
};

/* Opcodes of the file format (rdb_file.c). */
enum {
    TS_RDB_OPCODE_FUNCTION2 = 245,
    TS_RDB_OPCODE_FUNCTION = 246,
    TS_RDB_OPCODE_MODULE_AUX = 247,
    TS_RDB_OPCODE_IDLE = 248,
    TS_RDB_OPCODE_FREQ = 249,
    TS_RDB_OPCODE_AUX = 250,
    TS_RDB_OPCODE_RESIZEDB = 251,
    TS_RDB_OPCODE_EXPIRETIME_MS = 252,
    TS_RDB_OPCODE_EXPIRETIME = 253,
    TS_RDB_OPCODE_SELECTDB = 254,
    TS_RDB_OPCODE_EOF = 255,
};

/* ---- saving ---- */

/* A length (6-bit, 14-bit, 32-bit or 64-bit form, Redis's rdbSaveLen). */
void ts_rdb_save_len(ts_buf *out, uint64_t len);
/* A string the way rdbSaveRawString writes it: integer-encoded when it is
 * the canonical form of an integer that fits 32 bits (and at most 11
 * chars), LZF-compressed when `compress` and it is longer than 20 bytes and
 * compression gains, plain otherwise. */
void ts_rdb_save_string(ts_buf *out, const char *p, size_t n, bool compress);
/* An integer as rdbSaveLongLongAsStringObject does (int encoding if it fits
 * 32 bits, else its decimal digits). */
void ts_rdb_save_ll_string(ts_buf *out, long long v);
/* The RDB type byte of a value (TS_RDB_TYPE_*), as Redis 7.0 picks it for
 * the same type and encoding. */
int ts_rdb_value_type(const ts_value *v);
/* The value's payload (without the type byte). */
void ts_rdb_save_value(ts_buf *out, const ts_value *v, bool compress);

/* ---- loading ---- */

typedef struct ts_rdb_reader {
    const unsigned char *p;    /* next byte */
    const unsigned char *end;  /* one past the last readable byte */
    const char *err;           /* set on the first failure (static text) */
} ts_rdb_reader;

static inline void ts_rdb_reader_init(ts_rdb_reader *r, const void *p, size_t n)
{
    r->p = (const unsigned char *)p;
    r->end = r->p + n;
    r->err = NULL;
}

/* Each returns 0, or -1 with r->err set (and then every later call fails). */
int ts_rdb_read_byte(ts_rdb_reader *r, int *out);
/* A length; *encoded tells it was a special string encoding (int / LZF) and
 * *len then holds the encoding kind. encoded may be NULL (then an encoded
 * form is an error). */
int ts_rdb_read_len(ts_rdb_reader *r, uint64_t *len, bool *encoded);
/* A string of any encoding into a malloc'd buffer (*out, *n; free() it).
 * A NUL byte is appended past *n for convenience. */
int ts_rdb_read_string(ts_rdb_reader *r, char **out, size_t *n);
/* The same without a copy when the string is stored plain: *p points into
 * the image and *owned is NULL; an encoded string (integer, LZF) is decoded
 * into *owned (free() it), and *p points there. */
int ts_rdb_read_string_view(ts_rdb_reader *r, const char **p, size_t *n, char **owned);
/* Skips a string without decoding it. */
int ts_rdb_skip_string(ts_rdb_reader *r);
int ts_rdb_read_u64le(ts_rdb_reader *r, uint64_t *out);   /* EXPIRETIME_MS, module ids */
int ts_rdb_read_u32le(ts_rdb_reader *r, uint32_t *out);   /* EXPIRETIME (seconds) */
/* A binary double (RDB_TYPE_ZSET_2) and the old text form (RDB_TYPE_ZSET). */
int ts_rdb_read_binary_double(ts_rdb_reader *r, double *out);
int ts_rdb_read_text_double(ts_rdb_reader *r, double *out);

/* Builds a value of rdb type `rdbtype` from the payload at r. On success
 * *out owns a new object (PTR form) or holds a string (INT form, or INLINE
 * with out->s.ptr malloc'd: free((void *)out->s.ptr) after storing it) and
 * returns 0. On failure returns -1 with r->err set and nothing allocated.
 * An empty collection (possible in old or hand-made files) is an error
 * ("empty keys are not allowed") like Redis's loader; types Tessera cannot
 * hold (modules, the pre-7.0 ziplist/zipmap encodings it does not convert)
 * fail with a clear text too. cfg gives the encoding thresholds. */
int ts_rdb_load_value(ts_rdb_reader *r, int rdbtype, const ts_config *cfg, ts_value *out);
/* Moves r past a value of rdb type `rdbtype` without building it (the
 * bounds are checked, the contents are not: ts_rdb_load_value over the
 * same bytes does that). 0, or -1 with r->err set; a type that cannot be
 * loaded fails with ts_rdb_load_value's reason. */
int ts_rdb_skip_value(ts_rdb_reader *r, int rdbtype);

/* ---- functions (FUNCTION LOAD libraries, script/functions.c) ---- */

/* How RDB files and AOF rewrites reach the function libraries, which live
 * in a higher layer: main sets it before anything saves or loads. */
typedef struct ts_rdb_functions_io {
    /* Appends every library as opcode FUNCTION2 + its code (any thread). */
    void (*save)(ts_buf *out, bool compress);
    /* Appends every library as a FUNCTION LOAD command (AOF rewrite
     * without an RDB preamble). */
    void (*save_commands)(ts_buf *out);
    /* Loads one library's code; 0, or -1 with err set. */
    int (*load)(const char *code, size_t len, char *err, size_t errlen);
} ts_rdb_functions_io;

void ts_rdb_set_functions_io(const ts_rdb_functions_io *io);
const ts_rdb_functions_io *ts_rdb_functions(void);

/* ---- checksums and compression ---- */

/* Redis's CRC-64 (Jones polynomial, reflected), as in its RDB trailer and
 * DUMP payloads: ts_crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9ca. */
uint64_t ts_crc64(uint64_t crc, const void *p, size_t n);

/* LZF: tessera/lzf.h. */

/* ---- DUMP / RESTORE payloads ---- */

/* type byte + payload + RDB version (2 bytes LE) + CRC64 (8 bytes LE). */
void ts_rdb_dump_payload(ts_buf *out, const ts_value *v, bool compress);
/* Checks the footer (version <= TS_RDB_VERSION, and the CRC: always, like
 * Redis's verifyDumpPayload, whatever rdbchecksum says; a zero CRC means
 * "not computed" only in an RDB file's trailer) and builds the value; 0, or
 * -1 with *err set to Redis's reply text without the "ERR " prefix ("DUMP
 * payload version or checksum are wrong", "Bad data format"). */
int ts_rdb_restore_payload(const void *p, size_t n, const ts_config *cfg, ts_value *out, const char **err);

#endif
