/*
 * quicklist.h - a doubly linked list of listpack nodes: the one encoding of
 * a Redis 7.0 list value (OBJECT ENCODING "quicklist").
 *
 * Owns: its nodes and their listpacks (plain malloc'd memory, object.h).
 *
 * Shape: like Redis 7.0's quicklist without plain nodes. A node is 32 bytes
 * (prev, next, listpack, count, compressed size) and holds as many
 * elements as `fill` allows: fill > 0 caps the element count (and a node
 * stays under 8 KB unless it holds a single element), fill -1..-5 caps the
 * listpack at 4/8/16/32/64 KB. Nodes are kept full: a middle deletion
 * merges a node with a neighbour when both fit in one, an insertion into a
 * full node spills into a neighbour or splits the node. Element access walks
 * from the nearer end using the node counts, so index i costs
 * O(nodes + node size), never O(elements).
 *
 * Compression (list-compress-depth, Redis's semantics): with depth d > 0 the
 * d nodes at each end stay plain and every other node is kept LZF
 * compressed when that saves at least 8 bytes. A compressed node is
 * decompressed in place when an operation needs it and compressed again at
 * the start of the next operation on the list (or, for an iterator, when it
 * moves to the next node), so the values an operation hands out stay valid
 * until the next call on the same list. Node sizes are counted
 * uncompressed, so node boundaries do not depend on compression.
 *
 * Elements are read as ts_lp_val (listpack.h): a string (str != NULL) or an
 * integer. Pointers inside a ts_lp_val are valid until the next call on
 * the list (peek at an end: until the list changes).
 *
 * Thread: whoever owns the value (object.h); no shared state.
 */
#ifndef TESSERA_QUICKLIST_H
#define TESSERA_QUICKLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/types/listpack.h"

enum { TS_QL_HEAD = 0, TS_QL_TAIL = 1 };

typedef struct ts_ql_node {
    struct ts_ql_node *prev, *next;
    unsigned char *lp;  /* the listpack, or when lzf_len != 0 its compression:
                         * [uint32 listpack bytes, little endian][LZF data] */
    uint32_t count;     /* elements */
    uint32_t lzf_len;   /* bytes at lp when compressed, else 0 */
} ts_ql_node;

#define TS_QL_PENDING 8

typedef struct ts_quicklist {
    ts_ql_node *head, *tail;
    size_t count;   /* elements in all nodes */
    size_t len;     /* nodes */
    int fill;       /* list-max-listpack-size when the list was created */
    int depth;      /* list-compress-depth when the list was created; 0: none */
    /* Plain nodes to compress at the start of the next call (depth > 0). */
    int npending;
    ts_ql_node *pending[TS_QL_PENDING];
} ts_quicklist;

/* An empty list (no node); free with ts_ql_free. fill is clamped like
 * Redis's (1..32768 or -1..-5; 0 counts as 1, below -5 as -5); depth is
 * list-compress-depth (negative counts as 0). */
ts_quicklist *ts_ql_new(int fill, int depth);
void ts_ql_free(ts_quicklist *ql);
/* A deep copy (same fill, same node layout). */
ts_quicklist *ts_ql_dup(const ts_quicklist *ql);
static inline size_t ts_ql_count(const ts_quicklist *ql) { return ql->count; }

/* Push at the head (TS_QL_HEAD) or the tail (TS_QL_TAIL). */
void ts_ql_push(ts_quicklist *ql, int where, const char *s, size_t len);
/* Reads the element at an end without removing it; false when empty. */
bool ts_ql_peek(const ts_quicklist *ql, int where, ts_lp_val *out);
/* Removes the element at an end (the list must not be empty). */
void ts_ql_pop(ts_quicklist *ql, int where);

/* Position of one element: node plus listpack pointer plus offset in the
 * node. Valid until the list changes, except through ts_ql_iter_del, which
 * keeps the iterator usable. */
typedef struct ts_ql_iter {
    ts_quicklist *ql;
    ts_ql_node *node;
    unsigned char *p;   /* NULL: iteration over */
    long off;           /* index of p inside node */
    int dir;            /* TS_QL_TAIL: towards the tail, TS_QL_HEAD: towards the head */
    bool returned;      /* p was handed out by ts_ql_iter_next: the next call steps first */
} ts_ql_iter;

/* Places it on element `index` (>= 0 from the head, < 0 from the tail),
 * to walk in direction dir. False (it->p NULL) when out of range. */
bool ts_ql_iter_at(ts_quicklist *ql, long index, int dir, ts_ql_iter *it);
/* Reads the current element into *out and steps; false at the end. */
bool ts_ql_iter_next(ts_ql_iter *it, ts_lp_val *out);
/* The element most recently returned by ts_ql_iter_next: delete it; the
 * iterator continues with the element after it (in its direction). */
void ts_ql_iter_del(ts_ql_iter *it);
/* Inserts s before (TS_LP_BEFORE) or after (TS_LP_AFTER) the element most
 * recently returned by ts_ql_iter_next. The iterator is invalid afterwards. */
void ts_ql_iter_insert(ts_ql_iter *it, int where, const char *s, size_t len);

/* Reads element index (negative from the tail); false when out of range. */
bool ts_ql_index(ts_quicklist *ql, long index, ts_lp_val *out);
/* Replaces element index with s; false when out of range. */
bool ts_ql_replace(ts_quicklist *ql, long index, const char *s, size_t len);
/* Deletes count elements starting at index start (>= 0, in range; fewer
 * when the tail comes first). Returns the number deleted. */
size_t ts_ql_del_range(ts_quicklist *ql, long start, size_t count);

/* Memory of the list (allocator usable sizes), for the unit test and
 * MEMORY USAGE-like reports. */
size_t ts_ql_memory(const ts_quicklist *ql);
/* A node's listpack size, compressed or not. */
size_t ts_ql_node_bytes(const ts_ql_node *n);
/* For writers (RDB): the node's listpack, plain (*lzf_len == 0) or as its
 * LZF compression of *lzf_len bytes; *raw_len is the listpack's size. */
const unsigned char *ts_ql_node_data(const ts_ql_node *n, size_t *lzf_len, size_t *raw_len);
/* Checks every internal invariant (node counts, links, no empty node,
 * limits); for tests. */
bool ts_ql_check(const ts_quicklist *ql);

#endif
