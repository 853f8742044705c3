/*
 * table.h - the keyspace hash table (one per database) and its entries.
 *
 * Owns: every entry (one malloc per key holding header, key, optional
 * expire time and the value or a pointer to it), the bucket arrays, and -
 * through the free callback given at init - the objects that PTR values
 * point to.
 *
 * Thread: a table belongs to the worker thread that owns its shard; only
 * that thread may call any function here. There are no locks or atomics.
 *
 * Shape: the table is the server's main memory cost, so an entry is a packed
 * byte record with no padding and no separate key/value objects:
 *
 *     next (8) | flags (2) | lru (3) | varint klen | key | [expire_ms (8)] | value
 *     value = INT: int64 (8) | INLINE: varint vlen + bytes | PTR: pointer (8)
 *
 * A 16-byte key with a 16-byte string value takes 47 bytes: a 48-byte
 * jemalloc size class. Chained hashing over power-of-two bucket arrays; a
 * resize allocates a second array and moves one bucket per find/set/delete
 * (incremental rehash), so no single command pays for a whole resize.
 *
 * ts_entry pointers stay valid until the entry is deleted or until a call
 * documented to reallocate it (set, set_value, set_expire) returns the new
 * address. Rehashing relinks entries but never moves them.
 */
#ifndef TESSERA_TABLE_H
#define TESSERA_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { TS_TYPE_STRING, TS_TYPE_LIST, TS_TYPE_SET, TS_TYPE_ZSET, TS_TYPE_HASH, TS_TYPE_STREAM };
enum {
    TS_ENC_RAW, TS_ENC_INT, TS_ENC_EMBSTR, TS_ENC_HASHTABLE, TS_ENC_LISTPACK, TS_ENC_INTSET,
    TS_ENC_SKIPLIST, TS_ENC_QUICKLIST, TS_ENC_STREAM
};
/* Where the value lives: INT = int64 inside the entry, INLINE = bytes inside
 * the entry, PTR = pointer to an object the entry owns (freed through the
 * table's free callback). */
enum { TS_FORM_INT, TS_FORM_INLINE, TS_FORM_PTR };

#define TS_ENTRY_LRU_MAX 0xFFFFFFu /* the lru field is 24 bits */

typedef struct ts_value {
    uint8_t type; /* TS_TYPE_* (< 8) */
    uint8_t enc;  /* TS_ENC_*  (< 16) */
    uint8_t form; /* TS_FORM_* */
    union {
        int64_t i;                               /* TS_FORM_INT */
        struct { const char *ptr; size_t len; } s; /* TS_FORM_INLINE */
        void *ptr;                               /* TS_FORM_PTR */
    };
} ts_value;

typedef struct ts_entry ts_entry; /* opaque: use the accessors */
struct ts_table;

/* Frees a PTR value (v->form == TS_FORM_PTR). Called by the table whenever
 * it drops a PTR value it owns. Must not touch the table. */
typedef void ts_value_free_fn(const ts_value *v);

/* A point-in-time snapshot in progress over a table (src/persist/snapshot.c):
 * `before_change` is called with every entry not yet written to the
 * snapshot just before the table hands it out or changes it (find, set,
 * delete, detach, random, clear), so the snapshot can write the entry's
 * current value first and mark it with ts_entry_snap_mark. See
 * docs/persistence.md, "Snapshots without fork". */
typedef struct ts_table_snap {
    void (*before_change)(struct ts_table_snap *snap, struct ts_table *t, ts_entry *e);
} ts_table_snap;

/* Defined here so a table can be embedded in its owner; the fields are
 * private to table.c. ht[1] != NULL means a rehash from ht[0] to ht[1] is in
 * progress. */
typedef struct ts_table {
    ts_entry **ht[2];
    size_t mask[2];        /* bucket count - 1 */
    size_t used[2];        /* entries in each array */
    size_t rehash_idx;     /* next ht[0] bucket to move */
    size_t expires;        /* entries with an expire time */
    size_t entry_bytes;    /* sum of malloc_usable_size over entries */
    uint64_t rng;          /* ts_table_random state */
    ts_value_free_fn *free_ptr;
    ts_table_snap *snap;   /* snapshot in progress over this table, or NULL */
    uint8_t snap_parity;   /* entries written to the current snapshot (or to none) carry this bit */
} ts_table;

/* Allocates nothing; the first insert allocates 4 buckets. free_ptr may be
 * NULL (PTR values are then never freed by the table). */
void ts_table_init(ts_table *t, ts_value_free_fn *free_ptr);
/* Frees every entry, PTR value and bucket array; t stays usable and empty. */
void ts_table_clear(ts_table *t);
size_t ts_table_size(const ts_table *t);
size_t ts_table_expires(const ts_table *t);

/* Lookup; does one incremental rehash step if rehashing. NULL if absent. */
ts_entry *ts_table_find(ts_table *t, const char *key, size_t klen);
/* Prefetch hints for a batch of lookups (they change nothing): stage 0
 * prefetches the key's bucket slot, stage 1 the first entry of its chain
 * (call it after stage 0 for the whole batch, so the slot is in cache). */
void ts_table_prefetch(const ts_table *t, const char *key, size_t klen, int stage);

/* Inserts or replaces key with v. A new entry gets expire_ms (negative =
 * none) and lru 0. Replacing keeps the old lru, keeps the old expire when
 * keep_expire is true and otherwise sets expire_ms, and frees the old PTR
 * value unless v carries the same pointer. INLINE bytes (and key) are
 * copied and may point into any entry, including the one replaced. Returns
 * the entry (a replaced entry may have moved). */
ts_entry *ts_table_set(ts_table *t, const char *key, size_t klen, const ts_value *v,
                       int64_t expire_ms, bool keep_expire);
/* Replaces the value of e, which must be in t; keeps key, expire and lru.
 * May reallocate: returns the new address, e is invalid afterwards. The old
 * PTR value is freed unless v carries the same pointer. */
ts_entry *ts_table_set_value(ts_table *t, ts_entry *e, const ts_value *v);
/* Sets (expire_ms >= 0) or removes (negative) e's expire time. May
 * reallocate: returns the new address. */
ts_entry *ts_table_set_expire(ts_table *t, ts_entry *e, int64_t expire_ms);

/* Removes key, freeing its value. 1 if it existed, else 0. Does one rehash
 * step if rehashing. */
int ts_table_delete(ts_table *t, const char *key, size_t klen);
/* Removes e (which must be in t), freeing its value. */
void ts_table_delete_entry(ts_table *t, ts_entry *e);
/* Removes e but hands its value to the caller: PTR values are moved (not
 * freed), INT copied, INLINE copied into a new malloc'd buffer that the
 * caller frees with free((void *)out->s.ptr). expire_ms (may be NULL) gets
 * the expire time or -1. */
void ts_table_detach(ts_table *t, ts_entry *e, ts_value *out, int64_t *expire_ms);

/* Entry accessors. Pointers into an entry are valid as long as the entry. */
const char *ts_entry_key(const ts_entry *e, size_t *klen);
void ts_entry_value(const ts_entry *e, ts_value *out); /* INLINE: s.ptr points into e */
int ts_entry_type(const ts_entry *e);                  /* TS_TYPE_*, without decoding */
int ts_entry_enc(const ts_entry *e);                   /* TS_ENC_* */
int ts_entry_form(const ts_entry *e);                  /* TS_FORM_* */
int64_t ts_entry_expire(const ts_entry *e);            /* -1 if none */
uint32_t ts_entry_lru(const ts_entry *e);              /* 24 bits */
void ts_entry_set_lru(ts_entry *e, uint32_t v);        /* stores v & TS_ENTRY_LRU_MAX */
size_t ts_entry_alloc_size(const ts_entry *e);         /* malloc_usable_size */
/* Rewrites a PTR entry's pointer and encoding in place, freeing nothing:
 * for an object that was reallocated (the old pointer is already gone) or
 * converted by its owner (which freed the old one itself). */
void ts_entry_set_object(ts_entry *e, int enc, void *ptr);

/* Incremental rehash. The table grows (x2) when size reaches the bucket
 * count and shrinks (to the next power of two above size, min 4) when size
 * drops below buckets/8. Each find/set/delete/random moves one bucket (and
 * skips up to 10 empty ones); this moves `buckets` more (idle time).
 * Returns 1 if rehashing is still in progress, else 0. */
int ts_table_rehash_step(ts_table *t, int buckets);
bool ts_table_is_rehashing(const ts_table *t);
size_t ts_table_buckets(const ts_table *t); /* bucket count of both arrays */

/* SCAN with a reverse-binary cursor. Start with 0; returns the next cursor,
 * 0 when the iteration is complete. Every entry present for the whole
 * iteration is reported at least once, however the table grows, shrinks or
 * rehashes between calls; entries may be reported more than once. One call
 * visits whole buckets until at least `count` entries were reported (or
 * 10 * count buckets were visited, or the iteration ended). fn must not
 * modify the table. Does not rehash. */
typedef void ts_table_scan_fn(void *ctx, ts_entry *e);
uint64_t ts_table_scan(ts_table *t, uint64_t cursor, size_t count, ts_table_scan_fn *fn, void *ctx);

/* A random entry (random non-empty bucket, then random chain element), or
 * NULL if the table is empty. Does one rehash step if rehashing. */
ts_entry *ts_table_random(ts_table *t);

/* Snapshots. Every entry carries a one-bit mark; outside a snapshot every
 * mark equals the table's parity. snapshot_begin flips the parity, so every
 * entry becomes pending, and installs the hook; new entries are born with
 * the new parity (they are not part of the snapshot). An entry is written
 * once, then marked. snapshot_end removes the hook (every entry must be
 * marked by then). */
void ts_table_snapshot_begin(ts_table *t, ts_table_snap *snap);
void ts_table_snapshot_end(ts_table *t);
/* Calls the hook for every entry still pending (before a FLUSH hands the
 * table away or a SWAPDB moves it), then removes the hook. */
void ts_table_snapshot_drain(ts_table *t);
static inline bool ts_table_snap_active(const ts_table *t) { return t->snap != NULL; }
bool ts_entry_snap_pending(const ts_table *t, const ts_entry *e);
void ts_entry_snap_mark(const ts_table *t, ts_entry *e);

/* Bytes used: malloc_usable_size of every entry plus the bucket arrays. Does
 * not include memory behind PTR values. */
size_t ts_table_memory(const ts_table *t);

#endif
