/*
 * intset.h - a sorted set of 64-bit integers in one flat allocation, in
 * Redis's intset byte format.
 *
 * Owns: the bytes of one intset. Layout (all little-endian, no padding):
 *
 *     encoding u32 (2, 4 or 8: the width of every element) | length u32 |
 *     length elements of that width, signed, strictly ascending
 *
 * The same bytes as Redis's intset, so an RDB file can carry a set of this
 * encoding as one string, and a blob read from a file can be adopted after
 * ts_intset_validate. The allocation is exactly header + length * width
 * bytes (realloc on every add/remove, like Redis): small sets are the
 * common case and their memory matters more than the realloc.
 *
 * Width upgrade: an element that does not fit the current width widens
 * every element (16 -> 32 -> 64 bits); the width never shrinks.
 *
 * Thread: an intset is plain malloc'd memory with no shared state; whoever
 * owns it may use it. Every call that may reallocate returns the new
 * pointer and says so: the old one is invalid afterwards. Free with free().
 */
#ifndef TESSERA_INTSET_H
#define TESSERA_INTSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ts_intset ts_intset; /* opaque: the bytes described above */

#define TS_INTSET_HEADER 8

/* An empty intset of width 2 (free with free()). */
ts_intset *ts_intset_new(void);
/* A copy (free with free()). */
ts_intset *ts_intset_dup(const ts_intset *is);
/* Adds v; *added (may be NULL) tells whether it was new. Reallocates when
 * it adds: returns the new pointer, is is invalid afterwards. */
ts_intset *ts_intset_add(ts_intset *is, int64_t v, bool *added);
/* Removes v; *removed (may be NULL) tells whether it was there. Reallocates
 * when it removes: returns the new pointer. */
ts_intset *ts_intset_remove(ts_intset *is, int64_t v, bool *removed);
/* Removes the element at position pos (< length); reallocates. */
ts_intset *ts_intset_remove_at(ts_intset *is, uint32_t pos);
/* Binary search: whether v is a member. */
bool ts_intset_find(const ts_intset *is, int64_t v);
/* The element at position pos (< length), in ascending order. */
int64_t ts_intset_get(const ts_intset *is, uint32_t pos);
uint32_t ts_intset_len(const ts_intset *is);
/* Element width in bytes (2, 4 or 8). */
uint32_t ts_intset_width(const ts_intset *is);
/* Size of the whole blob (header included). */
size_t ts_intset_bytes(const ts_intset *is);
/* A member chosen by the caller's random number r (uniform when r is);
 * the intset must not be empty. */
int64_t ts_intset_random(const ts_intset *is, uint64_t r);
/* Whether the untrusted bytes p[0..size) are a well-formed intset: width
 * 2, 4 or 8, size == header + length * width, elements strictly ascending
 * (sorted, no duplicates), not empty (an empty set is never stored). Reads nothing outside p[0..size). An intset
 * that passes may be used as is (after copying it into a malloc'd block). */
bool ts_intset_validate(const void *p, size_t size);

#endif
