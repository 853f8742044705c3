/*
 * t_stream.h - the stream type (TS_TYPE_STREAM, encoding "stream"): entries
 * in listpack nodes, consumer groups with their pending entries lists.
 *
 * Owns: a ts_stream and everything hanging from it (nodes, groups,
 * consumers, pending entries).
 * Thread: the owner of the key's shard; a stream is plain malloc'd memory
 * (object.h), so RENAME across shards and the lazy-free thread may take it.
 *
 * Shape. Entries live in nodes; each node is one listpack in Redis 7.0's
 * stream node layout, so that an RDB file can carry a node as it is:
 *
 *   master entry: count | deleted | num-fields | field_1 .. field_N | 0
 *   each entry:   flags | ms-diff | seq-diff | [num-fields | field_1 value_1
 *                 .. field_N value_N | or, with SAMEFIELDS: value_1 ..
 *                 value_N] | lp-count
 *
 * count/deleted are the node's live and tombstoned entries, the master
 * fields are the fields of the node's first entry, ms/seq-diff are the
 * entry ID minus the node's master ID (the first ID ever inserted in it),
 * lp-count is the number of elements of the entry before it (so a reverse
 * walk can jump back over an entry). A deleted entry stays in its node with
 * flags |= DELETED until the whole node is empty.
 *
 * The nodes are indexed by master ID in a sorted array (binary search):
 * XADD always appends to the last node, XRANGE seeks, and trimming drops
 * nodes from the front. Consumer groups and a group's consumers are
 * sorted arrays by name (Redis's rax order: XINFO lists them that way);
 * a group's PEL and each consumer's PEL are arrays of pending entries
 * sorted by ID (a pending entry is shared: the group's PEL owns it, the
 * consumer's PEL points at it). Design note: docs/streams.md.
 */
#ifndef TESSERA_T_STREAM_H
#define TESSERA_T_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/util/common.h"

/* Entry flags, as Redis stores them. */
#define TS_STREAM_F_DELETED 1
#define TS_STREAM_F_SAMEFIELDS 2

/* entries_read unknown (Redis's SCG_INVALID_ENTRIES_READ). */
#define TS_STREAM_READ_INVALID (-1LL)

typedef struct ts_stream_id {
    uint64_t ms, seq;
} ts_stream_id;

typedef struct ts_stream_node {
    ts_stream_id master;
    unsigned char *lp;
} ts_stream_node;

struct ts_stream_consumer;

typedef struct ts_stream_nack {
    ts_stream_id id;
    int64_t delivery_time;    /* ms */
    uint64_t delivery_count;
    struct ts_stream_consumer *consumer;
} ts_stream_nack;

/* A PEL: nack pointers sorted by id, v[0..n-1]. The array has room at
 * both ends (v starts `head` slots into its allocation of `cap`): entries
 * are usually delivered at the end and acknowledged at the front, and
 * both are O(1); a change elsewhere moves the shorter side. */
typedef struct ts_stream_pel {
    ts_stream_nack **v;
    size_t n, cap, head;
} ts_stream_pel;

typedef struct ts_stream_consumer {
    char *name;
    size_t name_len;
    int64_t seen_time;        /* ms */
    ts_stream_pel pel;        /* pointers into the group's PEL */
} ts_stream_consumer;

typedef struct ts_stream_cg {
    char *name;
    size_t name_len;
    ts_stream_id last_id;
    long long entries_read;   /* TS_STREAM_READ_INVALID when unknown */
    ts_stream_pel pel;        /* owns the nacks */
    ts_stream_consumer **consumers;   /* sorted by name */
    size_t nconsumers, consumers_cap;
} ts_stream_cg;

typedef struct ts_stream {
    ts_stream_node *nodes;    /* sorted by master id */
    size_t nnodes, nodes_cap;
    uint64_t length;
    ts_stream_id last_id;
    ts_stream_id first_id;    /* UINT64_MAX-UINT64_MAX when empty, like Redis */
    ts_stream_id max_deleted_id;
    uint64_t entries_added;
    ts_stream_cg **groups;    /* sorted by name */
    size_t ngroups, groups_cap;
} ts_stream;

/* ---------- ids ---------- */
static inline int ts_stream_id_cmp(const ts_stream_id *a, const ts_stream_id *b)
{
    if (a->ms != b->ms) return a->ms < b->ms ? -1 : 1;
    if (a->seq != b->seq) return a->seq < b->seq ? -1 : 1;
    return 0;
}
/* Formats "ms-seq" into buf (>= 42 bytes); returns the length. */
int ts_stream_id_fmt(const ts_stream_id *id, char *buf);
/* id + 1 / id - 1; false on overflow/underflow. */
bool ts_stream_id_incr(ts_stream_id *id);
bool ts_stream_id_decr(ts_stream_id *id);

/* ---------- the stream ---------- */
ts_stream *ts_stream_new(void);
void ts_stream_free(ts_stream *s);
ts_stream *ts_stream_dup(const ts_stream *s);
size_t ts_stream_free_effort(const ts_stream *s);

/* Appends an entry with fields/values fv[0..2n) under id, which must be
 * greater than s->last_id (the caller checks). A new node starts when the
 * last node would reach max_bytes (0 = 1 GB) or holds max_entries
 * entries, live or deleted (0 = no limit). Updates length, last_id,
 * first_id, entries_added. */
void ts_stream_append(ts_stream *s, const ts_stream_id *id, const ts_arg *fv, int nfields, long long max_bytes,
                      long long max_entries);
/* Loading (rdb_value.c). Whether the untrusted size bytes at lp are a
 * stream node in the layout above: a valid listpack whose master entry and
 * entries are complete, whose integer slots are integers, whose lp-counts
 * match and whose live/deleted counts are right, with at least one live
 * entry. Reads nothing outside [lp, lp + size). */
bool ts_stream_node_validate(const unsigned char *lp, size_t size);
/* Appends a node (validated, malloc'd listpack, now owned by s) whose
 * master id is greater than the last node's; false (nothing taken) when it
 * is not. Sets nothing else: the caller sets length and the ids. */
bool ts_stream_push_node(ts_stream *s, const ts_stream_id *master, unsigned char *lp);
/* Deletes the entry id; false if it does not exist. Updates
 * max_deleted_id and first_id. A node left without live entries is freed. */
bool ts_stream_delete(ts_stream *s, const ts_stream_id *id);
/* Trims like Redis's streamTrim: MAXLEN (minid NULL) or MINID; approx
 * stops at a node boundary; limit (> 0) caps the entries removed (whole
 * nodes only). Returns the number of entries removed. */
long long ts_stream_trim(ts_stream *s, long long maxlen, const ts_stream_id *minid, bool approx, long long limit);
/* The first (or last) live entry id; false when empty. */
bool ts_stream_edge_id(const ts_stream *s, bool last, ts_stream_id *out);

/* ---------- iteration ---------- */
typedef struct ts_stream_iter {
    const ts_stream *s;
    ts_stream_id start, end;  /* inclusive */
    bool rev;
    size_t node;              /* current node index (forward), node+1 (reverse) */
    unsigned char *lp;
    unsigned char *p;         /* fwd: next entry's flags; rev: previous entry's lp-count */
    unsigned char *master_fields;   /* first master field of the node */
    long long master_nfields;
    unsigned char *mend;      /* the master entry's terminator (reverse walk's stop mark) */
    /* Current entry. */
    bool same;
    long long nfields;
    unsigned char *fp, *vp;   /* next field / value (fp unused when same) */
    long long left;
} ts_stream_iter;

void ts_stream_iter_start(ts_stream_iter *it, const ts_stream *s, const ts_stream_id *start, const ts_stream_id *end,
                          bool rev);
/* Whether the stream holds a live entry with this id. */
bool ts_stream_entry_exists(const ts_stream *s, const ts_stream_id *id);
/* The next live entry in range: its id and field count. */
bool ts_stream_iter_next(ts_stream_iter *it, ts_stream_id *id, long long *nfields);
/* The current entry's next field and value (call nfields times). Bytes
 * of integers are formatted into fbuf/vbuf (>= 24 bytes each). */
void ts_stream_iter_field(ts_stream_iter *it, char *fbuf, const unsigned char **f, size_t *flen, char *vbuf,
                          const unsigned char **v, size_t *vlen);

/* ---------- consumer groups ---------- */
ts_stream_cg *ts_stream_cg_find(const ts_stream *s, const char *name, size_t len);
/* NULL if it exists already. */
ts_stream_cg *ts_stream_cg_create(ts_stream *s, const char *name, size_t len, const ts_stream_id *last_id,
                                  long long entries_read);
bool ts_stream_cg_destroy(ts_stream *s, const char *name, size_t len);
ts_stream_consumer *ts_stream_consumer_find(const ts_stream_cg *g, const char *name, size_t len);
/* Creates the consumer (seen_time now); *created tells whether it was new. */
ts_stream_consumer *ts_stream_consumer_get(ts_stream_cg *g, const char *name, size_t len, int64_t now_ms,
                                           bool *created);
/* Deletes the consumer and its pending entries; returns how many were pending. */
size_t ts_stream_consumer_delete(ts_stream_cg *g, const char *name, size_t len);

/* PEL helpers: index of the first nack with id >= key. */
size_t ts_stream_pel_lower(const ts_stream_pel *p, const ts_stream_id *key);
ts_stream_nack *ts_stream_pel_find(const ts_stream_pel *p, const ts_stream_id *id);
void ts_stream_pel_insert(ts_stream_pel *p, ts_stream_nack *n);
bool ts_stream_pel_remove(ts_stream_pel *p, const ts_stream_id *id);
/* Records id as delivered to consumer (a new nack, or an existing one
 * moved to it with its time and count updated as XREADGROUP does). */
void ts_stream_cg_deliver(ts_stream_cg *g, ts_stream_consumer *c, const ts_stream_id *id, int64_t now_ms);
/* Moves nack n to consumer c (XCLAIM). */
void ts_stream_nack_move(ts_stream_nack *n, ts_stream_consumer *c);
/* Removes the nack id from the group and its consumer; false if absent. */
bool ts_stream_cg_ack(ts_stream_cg *g, const ts_stream_id *id);

/* Redis 7.0's entries_read bookkeeping (streamRangeHasTombstones,
 * streamEstimateDistanceFromFirstEverEntry). end NULL = infinity. */
bool ts_stream_range_has_tombstones(const ts_stream *s, const ts_stream_id *start, const ts_stream_id *end);
long long ts_stream_estimate_distance(const ts_stream *s, const ts_stream_id *id);
/* XINFO's lag; false when unknown (null). */
bool ts_stream_cg_lag(const ts_stream *s, const ts_stream_cg *g, long long *lag);
/* Advances a group's last_id to id (an entry just delivered by '>'). */
void ts_stream_cg_advance(ts_stream *s, ts_stream_cg *g, const ts_stream_id *id);

/* ---------- blocking (streams.c) ---------- */
/* True when a client blocked by XREAD/XREADGROUP (its arguments argv) can
 * be served on key now: s is the key's stream (is_stream false when the
 * key is missing or holds another type). XREAD waits for an entry newer
 * than its id; XREADGROUP '>' for one newer than the group's last id, and
 * ends with an error when the key or the group is gone (Redis 7.0). */
bool ts_stream_blocked_ready(const ts_stream *s, bool is_stream, int argc, const ts_arg *argv, ts_arg key);

#endif
