/*
 * t_set.h - the set value type: its two encodings and the operations the
 * set commands (src/cmd/sets.c) build on.
 *
 * Owns: set objects. A set lives in a keyspace entry as a TS_FORM_PTR
 * value of type TS_TYPE_SET whose pointer is, by encoding:
 *   TS_ENC_INTSET     a ts_intset (intset.h): every member is the canonical
 *                     decimal form of a 64-bit integer and there are at
 *                     most set-max-intset-entries of them;
 *   TS_ENC_HASHTABLE  a ts_table (table.h) whose entries are the members,
 *                     each with an empty INLINE value.
 * Like Redis 7.0 (no listpack sets), an intset becomes a hashtable when a
 * non-integer member is added or the count exceeds the limit, and a
 * hashtable never turns back into an intset.
 *
 * Calling convention: operations that may reallocate or convert take the
 * object and its encoding by pointer and update both; the caller then
 * stores them in its entry with ts_entry_set_object (table.h).
 *
 * Thread: a set is plain malloc'd memory owned by whoever owns its entry;
 * the random-number state used for random members is per thread.
 */
#ifndef TESSERA_T_SET_H
#define TESSERA_T_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/types/object.h"

/* Room for any member formatted from an intset. */
#define TS_SET_NUMBUF 24

/* Redis's rule for the encoding of a new set: an empty intset when its
 * first member is an integer, else an empty hashtable. */
void *ts_set_create(const char *p, size_t n, int *enc);
/* An empty set of the given encoding (TS_ENC_INTSET or TS_ENC_HASHTABLE). */
void *ts_set_new(int enc);
/* Converts an intset set to a hashtable holding the same members (no-op
 * for a hashtable); frees the intset. */
void ts_set_convert(void **obj, int *enc);
/* Frees a set and everything it owns. */
void ts_set_free(void *obj, int enc);
/* Adds a member; true if it was new. May reallocate or convert *obj and *enc;
 * max_intset is set-max-intset-entries. */
bool ts_set_add(void **obj, int *enc, const char *p, size_t n, long long max_intset);
/* Removes a member; true if it was there. May reallocate *obj (never
 * converts). The set may become empty: the caller deletes the key. */
bool ts_set_remove(void **obj, int enc, const char *p, size_t n);
bool ts_set_has(void *obj, int enc, const char *p, size_t n);
size_t ts_set_size(const void *obj, int enc);

/* Calls fn for every member (any order; intsets ascend). The set must not
 * change during the walk. Bytes are valid during the call only. */
typedef void ts_set_each_fn(void *ctx, const char *p, size_t n);
void ts_set_foreach(void *obj, int enc, ts_set_each_fn *fn, void *ctx);

/* A random member of a non-empty set: *p points into the set or into buf
 * (TS_SET_NUMBUF bytes), valid until the set changes. */
void ts_set_random(void *obj, int enc, char *buf, const char **p, size_t *n);
/* A random number from this thread's generator. */
uint64_t ts_set_rand(void);

/* SSCAN over a hashtable set: one step from cursor, like table.h's scan;
 * returns the next cursor (0 when done). */
uint64_t ts_set_scan(void *obj, int enc, uint64_t cursor, size_t count, ts_set_each_fn *fn, void *ctx);

/* The per-type operations registered in object.c. */
extern const ts_type_ops ts_set_ops;

#endif
