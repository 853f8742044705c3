/*
 * zskiplist.h - the big encoding of a sorted set ("skiplist" in OBJECT
 * ENCODING): a skiplist with span counts ordered by (score, member) plus a
 * member -> node index.
 *
 * Owns: every node and the index. Thread: a ts_zsl is plain malloc'd
 * memory owned by whoever owns the key (object.h); no function here touches
 * shared state except a thread-local random generator for node levels.
 *
 * Shape (memory first: one sorted set of 1M members is benchmarked against
 * Redis): the index is a ts_table (table.h) whose key is the member and
 * whose INLINE value bytes ARE the skiplist node, so a member costs one
 * allocation and its bytes are stored once. The table never moves an entry
 * (rehash relinks; we never replace a value), so a node's address is stable
 * from insert to delete. A node is an unaligned byte record (accessed with
 * memcpy):
 *
 *     score (double 8) | backward (node* 8) | mlen (u32) | gap (u8) | level (u8)
 *     | forward[0] (8) | { forward (8), span (u32) } x (level - 1)
 *
 * The member bytes sit `gap` bytes before the node, inside the same table
 * entry (gap is measured once at insert). Level 0 stores no span: it is
 * always 1. A member of up to ~19 bytes with a level-1 node fits a 64-byte
 * allocation (Redis spends ~125 bytes: sds + node + dictEntry).
 *
 * Ranks are 0-based here. Spans are 32-bit: a sorted set holds fewer than
 * 2^32 members.
 */
#ifndef TESSERA_ZSKIPLIST_H
#define TESSERA_ZSKIPLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "tessera/types/table.h"

#define TS_ZSL_MAXLEVEL 32

typedef unsigned char ts_zsl_node;

typedef struct ts_zsl {
    ts_table dict;          /* member -> node (INLINE value bytes) */
    ts_zsl_node *header;    /* separate allocation, TS_ZSL_MAXLEVEL levels */
    ts_zsl_node *tail;
    size_t length;
    int level;
} ts_zsl;

/* A score interval; minex/maxex make a bound exclusive. */
typedef struct ts_zscore_range {
    double min, max;
    bool minex, maxex;
} ts_zscore_range;

/* A lex interval bound: "-" (NEG), "+" (POS) or a member, inclusive "[" or
 * exclusive "(" (the infinities count as exclusive, like Redis). */
enum { TS_LEX_NEG, TS_LEX_VAL, TS_LEX_POS };
typedef struct ts_zlex_bound {
    int kind;
    bool ex;
    const char *p;
    size_t n;
} ts_zlex_bound;
typedef struct ts_zlex_range {
    ts_zlex_bound min, max;
} ts_zlex_range;

/* Range predicates shared with the listpack encoding. */
bool ts_zscore_gte_min(double s, const ts_zscore_range *r);
bool ts_zscore_lte_max(double s, const ts_zscore_range *r);
bool ts_zscore_range_empty(const ts_zscore_range *r);
bool ts_zlex_gte_min(const char *m, size_t n, const ts_zlex_range *r);
bool ts_zlex_lte_max(const char *m, size_t n, const ts_zlex_range *r);
bool ts_zlex_range_empty(const ts_zlex_range *r);
/* Byte-wise compare like Redis's sdscmp: <0, 0, >0. */
int ts_zmember_cmp(const char *a, size_t an, const char *b, size_t bn);

ts_zsl *ts_zsl_new(void);
/* Frees the skiplist and every node. */
void ts_zsl_free(ts_zsl *z);
/* A copy with the same members and scores. */
ts_zsl *ts_zsl_dup(const ts_zsl *z);
static inline size_t ts_zsl_length(const ts_zsl *z) { return z->length; }

/* Node accessors. */
double ts_zsl_score(const ts_zsl_node *x);
const char *ts_zsl_member(const ts_zsl_node *x, size_t *len);
ts_zsl_node *ts_zsl_next(const ts_zsl_node *x);   /* NULL after the last */
ts_zsl_node *ts_zsl_prev(const ts_zsl_node *x);   /* NULL before the first */
ts_zsl_node *ts_zsl_first(const ts_zsl *z);
ts_zsl_node *ts_zsl_last(const ts_zsl *z);

/* The node of member, or NULL. */
ts_zsl_node *ts_zsl_find(ts_zsl *z, const char *m, size_t n);
/* The node of a table entry of z->dict (ZSCAN, ZRANDMEMBER). */
ts_zsl_node *ts_zsl_node_of_entry(const ts_entry *e);
/* Inserts member (which must be absent) with score. Returns its node. */
ts_zsl_node *ts_zsl_insert(ts_zsl *z, const char *m, size_t n, double score);
/* Appends member with a score >= every (score, member) already in z (a
 * sorted build: dup, conversion). O(1) amortized. */
ts_zsl_node *ts_zsl_append(ts_zsl *z, const char *m, size_t n, double score);
/* Changes the score of x in place (the node keeps its address). */
void ts_zsl_update_score(ts_zsl *z, ts_zsl_node *x, double score);
/* Removes x and frees it (x and its member bytes are invalid afterwards). */
void ts_zsl_delete(ts_zsl *z, ts_zsl_node *x);

/* 0-based rank of x in ascending order. */
size_t ts_zsl_rank(const ts_zsl *z, const ts_zsl_node *x);
/* The node at 0-based rank, NULL when out of range. */
ts_zsl_node *ts_zsl_at(const ts_zsl *z, size_t rank);

/* First / last node inside the range, NULL if none. */
ts_zsl_node *ts_zsl_first_in_score(const ts_zsl *z, const ts_zscore_range *r);
ts_zsl_node *ts_zsl_last_in_score(const ts_zsl *z, const ts_zscore_range *r);
ts_zsl_node *ts_zsl_first_in_lex(const ts_zsl *z, const ts_zlex_range *r);
ts_zsl_node *ts_zsl_last_in_lex(const ts_zsl *z, const ts_zlex_range *r);

/* Deletes the nodes of 0-based ranks [start, end] (clamped by the caller).
 * Returns the count deleted. */
size_t ts_zsl_delete_rank_range(ts_zsl *z, size_t start, size_t end);

/* Bytes used (allocations of nodes, header and buckets). */
size_t ts_zsl_memory(const ts_zsl *z);

#endif
