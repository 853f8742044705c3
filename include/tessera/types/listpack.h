/*
 * listpack.h - a compact sequence of strings and integers in one allocation,
 * byte-compatible with Redis 7's listpack format.
 *
 * Owns: nothing beyond the blob itself. Small hashes, small sorted sets and
 * every node of a list are listpacks.
 *
 * Shape: the layout is Redis's published listpack format, so that an RDB
 * file (issue 4) can carry the blob as it is, in both directions:
 *
 *     total_bytes (u32 LE) | count (u16 LE, 65535 = unknown) | entries | 0xFF
 *     entry = encoding+data | backlen (1..5 bytes, the length of
 *             encoding+data, 7 bits per byte, read from right to left)
 *
 * Encodings: 0xxxxxxx 7-bit uint; 10xxxxxx 6-bit-length string;
 * 110xxxxx + 1 byte 13-bit int; 1110xxxx + 1 byte 12-bit-length string;
 * 0xF1/0xF2/0xF3/0xF4 16/24/32/64-bit int (LE); 0xF0 + u32 len string.
 * A string that is the canonical decimal form of a 64-bit integer is
 * stored as the smallest integer encoding (like Redis).
 *
 * Every function that changes a listpack may reallocate it: it returns the
 * new address and invalidates all element pointers into the old one,
 * except the ones it hands back through its out-parameters. The blob is
 * allocated with at least its size: an insertion reallocates only when it
 * outgrows malloc_usable_size (as Redis does), a deletion shrinks to the
 * exact size.
 *
 * Element pointers ("p") point at an entry's first byte; NULL means "no
 * element" (past either end).
 *
 * Thread: a listpack is plain malloc'd memory; whoever owns it uses it.
 */
#ifndef TESSERA_LISTPACK_H
#define TESSERA_LISTPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TS_LP_HDR_SIZE 6
#define TS_LP_EOF 0xFF

/* An element as read: a string (str != NULL, len bytes) or an integer
 * (str == NULL, value in ll). */
typedef struct ts_lp_val {
    const unsigned char *str;
    size_t len;
    long long ll;
} ts_lp_val;

enum { TS_LP_BEFORE, TS_LP_AFTER };

unsigned char *ts_lp_new(void);
void ts_lp_free(unsigned char *lp);
size_t ts_lp_bytes(const unsigned char *lp);
/* Redis's LISTPACK_MAX_SAFETY_SIZE: hashes and sorted sets leave the
 * listpack encoding before one would grow past it (lpSafeToAdd). */
#define TS_LP_SAFE_BYTES ((size_t)1 << 30)
/* Element count: O(1) below 65535 elements, a walk beyond. */
size_t ts_lp_length(const unsigned char *lp);

/* Navigation. seek: index >= 0 from the head, < 0 from the tail (-1 is
 * the last); NULL when out of range. */
unsigned char *ts_lp_first(unsigned char *lp);
unsigned char *ts_lp_last(unsigned char *lp);
unsigned char *ts_lp_next(unsigned char *lp, unsigned char *p);
unsigned char *ts_lp_prev(unsigned char *lp, unsigned char *p);
unsigned char *ts_lp_seek(unsigned char *lp, long index);

/* Reads the element at p. */
void ts_lp_get(const unsigned char *p, ts_lp_val *out);
/* The element's bytes: a string as it is, an integer formatted in buf
 * (at least 21 bytes). Returns the pointer, sets *len. */
const unsigned char *ts_lp_get_str(const unsigned char *p, char *buf, size_t *len);
/* True if the element at p equals the string s (an integer element equals
 * its decimal form). */
bool ts_lp_eq(const unsigned char *p, const char *s, size_t len);
/* The first element from p on (p included) equal to s, looking at every
 * (skip+1)-th element (skip = 1 walks the fields of field/value pairs).
 * NULL if none. */
unsigned char *ts_lp_find(unsigned char *lp, unsigned char *p, const char *s, size_t len, unsigned skip);

/* Insertion of a string (stored as an integer when canonical) or of an
 * integer. */
unsigned char *ts_lp_append(unsigned char *lp, const char *s, size_t len);
unsigned char *ts_lp_prepend(unsigned char *lp, const char *s, size_t len);
unsigned char *ts_lp_append_int(unsigned char *lp, long long v);
/* Inserts s before or after the element at p (p must be an element);
 * *newp (may be NULL) gets the inserted element. */
unsigned char *ts_lp_insert(unsigned char *lp, const char *s, size_t len, unsigned char *p, int where,
                            unsigned char **newp);
/* Replaces the element at *p with s; *p is updated to the new element. */
unsigned char *ts_lp_replace(unsigned char *lp, unsigned char **p, const char *s, size_t len);
unsigned char *ts_lp_replace_int(unsigned char *lp, unsigned char **p, long long v);

/* Deletes the element at *p; *p becomes the element that followed it (or
 * NULL at the end). */
unsigned char *ts_lp_delete(unsigned char *lp, unsigned char **p);
/* Deletes num elements starting at *p (fewer if the end comes first); *p
 * becomes the element after the deleted range or NULL. */
unsigned char *ts_lp_delete_range_at(unsigned char *lp, unsigned char **p, size_t num);
/* Deletes num elements starting at index (negative = from the tail). */
unsigned char *ts_lp_delete_range(unsigned char *lp, long index, size_t num);

/* Checks that size bytes at lp form a well-formed listpack (header total
 * matches size, every entry's encoding and backlen are consistent and in
 * bounds, the terminator is last, the count matches unless 65535). Never
 * reads outside [lp, lp + size). For loading untrusted files. */
bool ts_lp_validate(const unsigned char *lp, size_t size);

#endif
