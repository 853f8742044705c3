/*
 * object.h - what the keyspace needs from a collection value: free it,
 * copy it, measure it.
 *
 * Owns: the per-type operation table. A collection (list, hash, set, zset,
 * stream) lives in a table entry as a TS_FORM_PTR value; the entry's type
 * and encoding say how to read the pointer. Each type module (src/types/)
 * defines one ts_type_ops; the keyspace (db.c, COPY, RENAME, lazy free)
 * reaches a collection only through these functions, so adding a type or
 * an encoding never touches the keyspace code.
 *
 * Thread: a collection is owned by the thread owning the shard of its key.
 * It may be handed whole to another thread (RENAME/MOVE across shards, the
 * lazy-free thread), so an object must not point into per-thread state
 * (no per-shard pools or caches): plain malloc'd memory only.
 */
#ifndef TESSERA_OBJECT_H
#define TESSERA_OBJECT_H

#include <stddef.h>

#include "tessera/types/table.h"

typedef struct ts_type_ops {
    /* Frees the object and everything it owns. */
    void (*free)(void *obj, int enc);
    /* A deep copy with the same encoding (COPY). */
    void *(*dup)(const void *obj, int enc);
    /* Roughly how many allocations freeing it walks (Redis's "free effort"):
     * above TS_LAZYFREE_THRESHOLD the object is freed on the background
     * thread instead of by the worker. */
    size_t (*free_effort)(const void *obj, int enc);
} ts_type_ops;

/* The ops of a collection type, or NULL for strings (never PTR) and for a
 * type without an implementation. */
const ts_type_ops *ts_type_ops_of(int type);

/* Frees a PTR value's object at once, on the calling thread (nothing for
 * INT and INLINE values, whose bytes the caller owns). The keyspace frees
 * through ts_value_free (store/lazyfree.h), which may defer big ones. */
void ts_value_free_now(const ts_value *v);
/* The value's free effort (1 for an object without a type's ops, 0 for
 * INT and INLINE values). */
size_t ts_value_free_effort(const ts_value *v);
/* A value's deep copy: INLINE bytes are copied into a new buffer the caller
 * owns, PTR objects through their type's dup. */
void ts_value_dup(const ts_value *src, ts_value *out);

#define TS_LAZYFREE_THRESHOLD 64

/* Longest string Redis stores as "embstr". */
#define TS_EMBSTR_MAX 44
/* Strings. A string value is INT (when it is the canonical decimal form of a
 * 64-bit integer, at most 20 chars, like Redis's "int" encoding) or INLINE
 * bytes (encoding "embstr" up to 44 bytes, "raw" beyond); v->s.ptr is p
 * itself (not copied). Any thread. */
void ts_value_string(ts_value *v, const char *p, size_t n);

#endif
