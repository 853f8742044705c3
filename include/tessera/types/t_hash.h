/*
 * t_hash.h - the hash value type: its two encodings and the operations the
 * hash commands (src/cmd/hashes.c) build on.
 *
 * Owns: hash objects. A hash lives in a keyspace entry as a TS_FORM_PTR
 * value of type TS_TYPE_HASH whose pointer is, by encoding:
 *   TS_ENC_LISTPACK   a bare listpack (listpack.h) of field, value, field,
 *                     value, ... in insertion order (no wrapper struct:
 *                     a million small hashes are a million listpacks);
 *   TS_ENC_HASHTABLE  a malloc'd ts_table (table.h) whose entries are the
 *                     fields, each with its value as INLINE bytes.
 * Like Redis 7.0, a listpack becomes a hashtable when it would hold more
 * than hash-max-listpack-entries fields or a field or value longer than
 * hash-max-listpack-value bytes, and a hashtable never turns back.
 * (Prefix ts_hobj_: ts_hash_* is the key hash function of hash.h.)
 *
 * Calling convention: operations that may reallocate or convert take the
 * object and its encoding by pointer and update both; the caller then
 * stores them in its entry with ts_entry_set_object (table.h). Bytes handed
 * out (field/value pointers) point into the object or into a caller buffer
 * of TS_HOBJ_NUMBUF bytes, and are valid until the object changes.
 *
 * Thread: a hash is plain malloc'd memory owned by whoever owns its entry
 * (it may move to another thread with its key). The random generator used
 * by ts_hobj_rand is per thread.
 */
#ifndef TESSERA_T_HASH_H
#define TESSERA_T_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/util/common.h"
#include "tessera/types/object.h"

/* Room for an integer formatted out of a listpack. */
#define TS_HOBJ_NUMBUF 24

/* A field or value as read from a hash. */
typedef struct ts_hobj_str {
    const char *p;
    size_t n;
} ts_hobj_str;

/* An empty hash: a listpack (*enc = TS_ENC_LISTPACK). */
void *ts_hobj_new(int *enc);
void ts_hobj_free(void *obj, int enc);
size_t ts_hobj_len(const void *obj, int enc);

/* Redis's hashTypeTryConversion: converts a listpack to a hashtable when
 * any of the n strings (the fields and values about to be written) is
 * longer than max_value, or when they could take it past 1 GB. Call it
 * before a batch of ts_hobj_set. */
void ts_hobj_try_convert(void **obj, int *enc, const ts_arg *args, int n, long long max_value);
/* Converts a listpack hash to a hashtable (no-op for a hashtable). */
void ts_hobj_convert(void **obj, int *enc);

/* Looks a field up; true and *val (buf: TS_HOBJ_NUMBUF bytes) if present. */
bool ts_hobj_get(void *obj, int enc, const char *f, size_t fl, char *buf, ts_hobj_str *val);
bool ts_hobj_exists(void *obj, int enc, const char *f, size_t fl);
/* Sets field f to v; true if the field is new. Converts to a hashtable first
 * when f or v is longer than max_value, and after inserting when the hash
 * has more than max_entries fields (Redis's hashTypeSet). f and v must not
 * point into the hash. */
bool ts_hobj_set(void **obj, int *enc, const char *f, size_t fl, const char *v, size_t vl,
                 long long max_entries, long long max_value);
/* Deletes a field; true if it was there. The hash may become empty: the
 * caller then deletes the key. */
bool ts_hobj_del(void **obj, int enc, const char *f, size_t fl);

/* Calls fn for every field/value pair, in listpack order or in table
 * order. The hash must not change during the walk. */
typedef void ts_hobj_each_fn(void *ctx, ts_hobj_str field, ts_hobj_str value);
void ts_hobj_foreach(void *obj, int enc, ts_hobj_each_fn *fn, void *ctx);

/* A uniformly(ish) random pair of a non-empty hash (buffers: see above). */
void ts_hobj_random(void *obj, int enc, char *fbuf, char *vbuf, ts_hobj_str *field, ts_hobj_str *value);
/* Calls fn count times with a random pair each (repeats allowed, any
 * order): HRANDFIELD with a negative count. The hash must be non-empty and
 * must not change during the calls. */
void ts_hobj_random_each(void *obj, int enc, size_t count, ts_hobj_each_fn *fn, void *ctx);
/* count distinct random pairs of a hash holding more than count fields, in
 * fields[]/values[] (valid until the hash changes). A listpack gives them in
 * listpack order (like Redis's lpRandomPairsUnique); integers are formatted
 * into numbufs (2 * count * TS_HOBJ_NUMBUF bytes). */
void ts_hobj_random_unique(void *obj, int enc, size_t count, ts_hobj_str *fields, ts_hobj_str *values,
                           char *numbufs);
/* A random number from this thread's generator. */
uint64_t ts_hobj_rand(void);

/* HSCAN over a hashtable hash: one step from cursor, visiting whole buckets
 * until about count fields were reported (table.h's scan guarantees);
 * returns the next cursor, 0 when done. fn must not change the hash. */
uint64_t ts_hobj_scan(void *obj, int enc, uint64_t cursor, size_t count, ts_hobj_each_fn *fn, void *ctx);

/* The per-type operations registered in object.c. */
extern const ts_type_ops ts_hash_ops;

#endif
