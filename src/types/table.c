/*
 * table.c - the keyspace hash table and its packed entries (see table.h).
 *
 * Owns every entry, the bucket arrays and (via the table's free callback)
 * the objects PTR values point to. Only the worker thread that owns the
 * table's shard calls in here, so nothing is locked or atomic.
 *
 * Why it is shaped so:
 *   - Memory first. An entry is one allocation with no padding:
 *       [0]  next        8 bytes, bucket chain (aligned: malloc'd start)
 *       [8]  flags       2 bytes: type(3) enc(4) form(2) has_expire(1) snap(1)
 *       [10] lru         3 bytes, little-endian 24 bits
 *       [13] klen        LEB128 varint (1 byte below 128), then the key
 *            expire_ms   8 bytes, only when has_expire
 *            value       INT: int64 | INLINE: varint vlen + bytes | PTR: void*
 *     Everything past `next` is unaligned and accessed with memcpy.
 *   - Speed second. Bucket arrays are powers of two (index = hash & mask,
 *     no division); a lookup hashes once and compares length then bytes.
 *   - No latency spikes. A resize allocates a second array; every
 *     find/set/delete/random moves one bucket of the old array into the new
 *     one (visiting at most 10 empty buckets), like an incremental dict.
 *     Entries are relinked, never moved, so ts_entry pointers survive it.
 *     While rehashing, ht[0] buckets below rehash_idx are empty, new keys go
 *     to ht[1], and lookups check ht[0] then ht[1].
 *   - Replacing a value rewrites the entry in place when the new layout
 *     fits its allocation without wasting much of it, else allocates a new
 *     entry and relinks it in the same chain position.
 */
#include "tessera/types/table.h"

#include "tessera/util/common.h"
#include "tessera/util/hash.h"

#include <malloc.h>
#include <string.h>

struct ts_entry {
    ts_entry *next;
    unsigned char b[]; /* flags, lru, klen varint, key, [expire], value */
};

/* Offsets into e->b. */
#define TE_FLAGS 0
#define TE_LRU 2
#define TE_KEY 5
#define TE_HDR (sizeof(ts_entry) + TE_KEY) /* bytes before the key varint */

#define TF_TYPE_MASK 0x7u
#define TF_ENC_SHIFT 3
#define TF_ENC_MASK 0xFu
#define TF_FORM_SHIFT 7
#define TF_FORM_MASK 0x3u
#define TF_EXPIRE (1u << 9)
#define TF_SNAP (1u << 10)   /* snapshot mark: equals t->snap_parity once written (table.h) */

#define TS_TABLE_MIN_BUCKETS 4
#define TS_TABLE_EMPTY_VISITS 10 /* empty buckets skipped per rehash step */

/* ---- varints (LEB128: 7 bits per byte, high bit = more follows) ---- */

static inline size_t vr_len(size_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline size_t vr_put(unsigned char *p, size_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

static inline size_t vr_get(const unsigned char *p, size_t *v)
{
    if (TS_LIKELY(p[0] < 0x80)) {
        *v = p[0];
        return 1;
    }
    size_t r = 0, n = 0;
    unsigned shift = 0;
    do {
        r |= (size_t)(p[n] & 0x7F) << shift;
        shift += 7;
    } while (p[n++] & 0x80);
    *v = r;
    return n;
}

/* ---- entry layout ---- */

static inline unsigned e_flags(const ts_entry *e)
{
    uint16_t f;
    memcpy(&f, e->b + TE_FLAGS, sizeof f);
    return f;
}

static inline void e_set_flags(ts_entry *e, unsigned f)
{
    uint16_t x = (uint16_t)f;
    memcpy(e->b + TE_FLAGS, &x, sizeof x);
}

static inline unsigned flags_of(const ts_value *v, bool has_expire, unsigned snap)
{
    TS_ASSERT(v->type <= TF_TYPE_MASK && v->enc <= TF_ENC_MASK && v->form <= TS_FORM_PTR);
    return (v->type & TF_TYPE_MASK) | ((unsigned)(v->enc & TF_ENC_MASK) << TF_ENC_SHIFT) |
           ((unsigned)(v->form & TF_FORM_MASK) << TF_FORM_SHIFT) | (has_expire ? TF_EXPIRE : 0) | snap;
}

/* Key bytes and length. */
static inline const unsigned char *e_key(const ts_entry *e, size_t *klen)
{
    const unsigned char *p = e->b + TE_KEY;
    return p + vr_get(p, klen);
}

/* Offset from the entry start to the first byte after the key. */
static inline size_t e_head(const ts_entry *e)
{
    size_t klen;
    const unsigned char *k = e_key(e, &klen);
    return (size_t)(k - (const unsigned char *)e) + klen;
}

static inline bool e_key_eq(const ts_entry *e, const char *key, size_t klen)
{
    size_t l;
    const unsigned char *k = e_key(e, &l);
    return l == klen && memcmp(k, key, klen) == 0;
}

static inline uint64_t e_hash(const ts_entry *e)
{
    size_t klen;
    const unsigned char *k = e_key(e, &klen);
    return ts_hash(k, klen);
}

static inline size_t value_size(const ts_value *v)
{
    switch (v->form) {
    case TS_FORM_INT: return sizeof(int64_t);
    case TS_FORM_INLINE: return vr_len(v->s.len) + v->s.len;
    default: return sizeof(void *);
    }
}

/* Writes the expire time (if expire >= 0) and value after the key. The
 * INLINE bytes are moved first and with memmove, so they may come from
 * anywhere in this same entry (the header writes come after). */
static void e_write_tail(unsigned char *tail, int64_t expire, const ts_value *v)
{
    unsigned char *vp = tail + (expire >= 0 ? sizeof(int64_t) : 0);
    switch (v->form) {
    case TS_FORM_INT:
        memcpy(vp, &v->i, sizeof v->i);
        break;
    case TS_FORM_INLINE: {
        size_t h = vr_len(v->s.len);
        if (v->s.len) memmove(vp + h, v->s.ptr, v->s.len);
        vr_put(vp, v->s.len);
        break;
    }
    default:
        memcpy(vp, &v->ptr, sizeof v->ptr);
        break;
    }
    if (expire >= 0) memcpy(tail, &expire, sizeof expire);
}

static ts_entry *e_new(const char *key, size_t klen, const ts_value *v, int64_t expire, unsigned snap)
{
    size_t kh = vr_len(klen);
    size_t need = TE_HDR + kh + klen + (expire >= 0 ? sizeof(int64_t) : 0) + value_size(v);
    ts_entry *e = ts_malloc(need);
    e->next = NULL;
    e_set_flags(e, flags_of(v, expire >= 0, snap));
    memset(e->b + TE_LRU, 0, 3);
    vr_put(e->b + TE_KEY, klen);
    if (klen) memcpy(e->b + TE_KEY + kh, key, klen);
    e_write_tail(e->b + TE_KEY + kh + klen, expire, v);
    return e;
}

/* ---- accessors ---- */

const char *ts_entry_key(const ts_entry *e, size_t *klen)
{
    return (const char *)e_key(e, klen);
}

int64_t ts_entry_expire(const ts_entry *e)
{
    if (!(e_flags(e) & TF_EXPIRE)) return -1;
    int64_t x;
    memcpy(&x, (const unsigned char *)e + e_head(e), sizeof x);
    return x;
}

void ts_entry_value(const ts_entry *e, ts_value *out)
{
    unsigned f = e_flags(e);
    const unsigned char *vp = (const unsigned char *)e + e_head(e) + ((f & TF_EXPIRE) ? sizeof(int64_t) : 0);
    out->type = (uint8_t)(f & TF_TYPE_MASK);
    out->enc = (uint8_t)((f >> TF_ENC_SHIFT) & TF_ENC_MASK);
    out->form = (uint8_t)((f >> TF_FORM_SHIFT) & TF_FORM_MASK);
    switch (out->form) {
    case TS_FORM_INT:
        memcpy(&out->i, vp, sizeof out->i);
        break;
    case TS_FORM_INLINE: {
        size_t len;
        size_t h = vr_get(vp, &len);
        out->s.ptr = (const char *)vp + h;
        out->s.len = len;
        break;
    }
    default:
        memcpy(&out->ptr, vp, sizeof out->ptr);
        break;
    }
}

void ts_entry_set_object(ts_entry *e, int enc, void *ptr)
{
    unsigned f = e_flags(e);
    TS_ASSERT(((f >> TF_FORM_SHIFT) & TF_FORM_MASK) == TS_FORM_PTR && (unsigned)enc <= TF_ENC_MASK);
    unsigned char *vp = (unsigned char *)e + e_head(e) + ((f & TF_EXPIRE) ? sizeof(int64_t) : 0);
    memcpy(vp, &ptr, sizeof ptr);
    e_set_flags(e, (f & ~(TF_ENC_MASK << TF_ENC_SHIFT)) | ((unsigned)enc << TF_ENC_SHIFT));
}

int ts_entry_type(const ts_entry *e) { return (int)(e_flags(e) & TF_TYPE_MASK); }
int ts_entry_enc(const ts_entry *e) { return (int)((e_flags(e) >> TF_ENC_SHIFT) & TF_ENC_MASK); }
int ts_entry_form(const ts_entry *e) { return (int)((e_flags(e) >> TF_FORM_SHIFT) & TF_FORM_MASK); }

uint32_t ts_entry_lru(const ts_entry *e)
{
    const unsigned char *p = e->b + TE_LRU;
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
}

void ts_entry_set_lru(ts_entry *e, uint32_t v)
{
    unsigned char *p = e->b + TE_LRU;
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
}

size_t ts_entry_alloc_size(const ts_entry *e)
{
    return malloc_usable_size((void *)e);
}

/* ---- table internals ---- */

static inline bool t_rehashing(const ts_table *t) { return t->ht[1] != NULL; }

static void t_free_value(ts_table *t, const ts_entry *e)
{
    if (((e_flags(e) >> TF_FORM_SHIFT) & TF_FORM_MASK) == TS_FORM_PTR && t->free_ptr) {
        ts_value v;
        ts_entry_value(e, &v);
        t->free_ptr(&v);
    }
}

static void t_start_resize(ts_table *t, size_t buckets)
{
    t->ht[1] = ts_calloc(buckets, sizeof(ts_entry *));
    t->mask[1] = buckets - 1;
    t->used[1] = 0;
    t->rehash_idx = 0;
}

/* Starts a grow or shrink if the load calls for one (never mid-rehash). */
static void t_check_resize(ts_table *t)
{
    if (t_rehashing(t) || !t->ht[0]) return;
    size_t buckets = t->mask[0] + 1, used = t->used[0];
    if (used >= buckets) {
        size_t n = buckets * 2;
        while (n <= used) n *= 2;
        t_start_resize(t, n);
    } else if (buckets > TS_TABLE_MIN_BUCKETS && used < buckets / 8) {
        size_t n = TS_TABLE_MIN_BUCKETS;
        while (n <= used) n *= 2;
        t_start_resize(t, n);
    }
}

static int t_rehash(ts_table *t, size_t steps)
{
    if (!t_rehashing(t)) return 0;
    size_t empty = steps * TS_TABLE_EMPTY_VISITS;
    ts_entry **src = t->ht[0], **dst = t->ht[1];
    size_t dmask = t->mask[1];
    while (steps > 0 && t->used[0] > 0) {
        ts_entry *e = src[t->rehash_idx];
        if (!e) {
            t->rehash_idx++;
            if (--empty == 0) return 1;
            continue;
        }
        size_t moved = 0;
        while (e) {
            ts_entry *next = e->next;
            size_t idx = (size_t)e_hash(e) & dmask;
            e->next = dst[idx];
            dst[idx] = e;
            moved++;
            e = next;
        }
        src[t->rehash_idx++] = NULL;
        t->used[0] -= moved;
        t->used[1] += moved;
        steps--;
    }
    if (t->used[0] > 0) return 1;
    free(t->ht[0]);
    t->ht[0] = t->ht[1];
    t->mask[0] = t->mask[1];
    t->used[0] = t->used[1];
    t->ht[1] = NULL;
    t->mask[1] = 0;
    t->used[1] = 0;
    t->rehash_idx = 0;
    /* Inserts or deletes during the rehash may already call for another. */
    t_check_resize(t);
    return t_rehashing(t);
}

/* The slot that points to the entry of hash h that is `target` or, with
 * target NULL, has this key (a bucket or a `next` field), or NULL. *which
 * gets the array it is in. Buckets of ht[0] below rehash_idx are empty
 * (rehash_idx is 0 when not rehashing). Inlined, the target test folds away. */
static inline ts_entry **t_search(ts_table *t, uint64_t h, const ts_entry *target, const char *key, size_t klen,
                                  int *which)
{
    for (int i = 0; i < 2; i++) {
        ts_entry **ht = t->ht[i];
        if (!ht) break;
        size_t idx = (size_t)h & t->mask[i];
        if (i == 0 && idx < t->rehash_idx) continue;
        for (ts_entry **l = &ht[idx]; *l; l = &(*l)->next) {
            if (target ? *l == target : e_key_eq(*l, key, klen)) {
                *which = i;
                return l;
            }
        }
    }
    return NULL;
}

/* The slot that points to the entry with this key, or NULL (t_search). */
static inline ts_entry **t_find_link(ts_table *t, const char *key, size_t klen, uint64_t h, int *which)
{
    return t_search(t, h, NULL, key, klen, which);
}

void ts_table_prefetch(const ts_table *t, const char *key, size_t klen, int stage)
{
    int i = t->ht[1] ? 1 : 0;   /* while rehashing, new keys land in ht[1] */
    if (!t->ht[i]) return;
    ts_entry *const *slot = &t->ht[i][(size_t)ts_hash(key, klen) & t->mask[i]];
    if (stage == 0) __builtin_prefetch(slot);
    else if (*slot) __builtin_prefetch(*slot);
}

/* The slot that points to e, which must be in t. */
static ts_entry **t_link_of(ts_table *t, const ts_entry *e, int *which)
{
    ts_entry **l = t_search(t, e_hash(e), e, NULL, 0, which);
    if (!l) ts_panic("ts_table: entry %p is not in table %p", (const void *)e, (void *)t);
    return l;
}

/* Unlinks the entry at *l from array `which` and updates the counters. */
static ts_entry *t_unlink(ts_table *t, ts_entry **l, int which)
{
    ts_entry *e = *l;
    *l = e->next;
    t->used[which]--;
    if (e_flags(e) & TF_EXPIRE) t->expires--;
    t->entry_bytes -= malloc_usable_size(e);
    return e;
}

/* Gives e the value v and expire time (negative = none), in place when the
 * new layout fits e's allocation snugly, else in a new allocation relinked
 * at e's chain position (link may be NULL: found on demand). Frees the old
 * PTR value unless v carries the same pointer. Returns the entry. */
static ts_entry *t_rewrite(ts_table *t, ts_entry *e, ts_entry **link, int64_t expire, const ts_value *v)
{
    ts_value old;
    ts_entry_value(e, &old);
    bool had_expire = (e_flags(e) & TF_EXPIRE) != 0;
    size_t head = e_head(e);
    size_t need = head + (expire >= 0 ? sizeof(int64_t) : 0) + value_size(v);
    size_t usable = malloc_usable_size(e);
    size_t slack = usable / 8 > 16 ? usable / 8 : 16;
    ts_entry *n = e;
    if (!(need <= usable && usable - need < slack)) {
        n = ts_malloc(need);
        memcpy(n, e, head); /* next, flags, lru, key */
        t->entry_bytes += malloc_usable_size(n);
        t->entry_bytes -= usable;
    }
    e_write_tail((unsigned char *)n + head, expire, v);
    e_set_flags(n, flags_of(v, expire >= 0, e_flags(e) & TF_SNAP));
    if (n != e) {
        int which;
        if (!link) link = t_link_of(t, e, &which);
        *link = n;
        free(e);
    }
    if (had_expire && expire < 0) t->expires--;
    if (!had_expire && expire >= 0) t->expires++;
    if (old.form == TS_FORM_PTR && !(v->form == TS_FORM_PTR && v->ptr == old.ptr) && t->free_ptr)
        t->free_ptr(&old);
    return n;
}

/* A snapshot is in progress and e is not written yet: let it write e first. */
static inline void t_snap_check(ts_table *t, ts_entry *e)
{
    if (TS_UNLIKELY(t->snap != NULL) && e && ((e_flags(e) & TF_SNAP) != 0) != (t->snap_parity != 0))
        t->snap->before_change(t->snap, t, e);
}

static uint64_t t_rand(ts_table *t)
{
    /* splitmix64 */
    uint64_t z = (t->rng += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* ---- public table API ---- */

void ts_table_init(ts_table *t, ts_value_free_fn *free_ptr)
{
    memset(t, 0, sizeof *t);
    t->free_ptr = free_ptr;
    uintptr_t a = (uintptr_t)t;
    t->rng = ts_hash(&a, sizeof a);
}

void ts_table_clear(ts_table *t)
{
    ts_table_snapshot_drain(t);
    for (int i = 0; i < 2; i++) {
        ts_entry **ht = t->ht[i];
        if (!ht) continue;
        size_t n = t->mask[i] + 1;
        for (size_t b = 0; b < n; b++) {
            ts_entry *e = ht[b];
            while (e) {
                ts_entry *next = e->next;
                t_free_value(t, e);
                free(e);
                e = next;
            }
        }
        free(ht);
    }
    ts_value_free_fn *f = t->free_ptr;
    uint64_t rng = t->rng;
    uint8_t parity = t->snap_parity;
    memset(t, 0, sizeof *t);
    t->free_ptr = f;
    t->rng = rng;
    t->snap_parity = parity;
}

size_t ts_table_size(const ts_table *t) { return t->used[0] + t->used[1]; }
size_t ts_table_expires(const ts_table *t) { return t->expires; }
bool ts_table_is_rehashing(const ts_table *t) { return t_rehashing(t); }

size_t ts_table_buckets(const ts_table *t)
{
    return (t->ht[0] ? t->mask[0] + 1 : 0) + (t->ht[1] ? t->mask[1] + 1 : 0);
}

size_t ts_table_memory(const ts_table *t)
{
    return t->entry_bytes + ts_table_buckets(t) * sizeof(ts_entry *);
}

int ts_table_rehash_step(ts_table *t, int buckets)
{
    if (buckets <= 0) return t_rehashing(t);
    return t_rehash(t, (size_t)buckets);
}

ts_entry *ts_table_find(ts_table *t, const char *key, size_t klen)
{
    if (TS_UNLIKELY(t_rehashing(t))) t_rehash(t, 1);
    if (t->used[0] + t->used[1] == 0) return NULL;
    int which;
    ts_entry **l = t_find_link(t, key, klen, ts_hash(key, klen), &which);
    if (!l) return NULL;
    t_snap_check(t, *l);
    return *l;
}

ts_entry *ts_table_set(ts_table *t, const char *key, size_t klen, const ts_value *v,
                       int64_t expire_ms, bool keep_expire)
{
    if (TS_UNLIKELY(t_rehashing(t))) t_rehash(t, 1);
    if (expire_ms < 0) expire_ms = -1;
    uint64_t h = ts_hash(key, klen);
    int which;
    ts_entry **l = t_find_link(t, key, klen, h, &which);
    if (l) {
        ts_entry *e = *l;
        t_snap_check(t, e);
        return t_rewrite(t, e, l, keep_expire ? ts_entry_expire(e) : expire_ms, v);
    }
    if (TS_UNLIKELY(!t->ht[0])) {
        t->ht[0] = ts_calloc(TS_TABLE_MIN_BUCKETS, sizeof(ts_entry *));
        t->mask[0] = TS_TABLE_MIN_BUCKETS - 1;
    }
    ts_entry *e = e_new(key, klen, v, expire_ms, t->snap_parity ? TF_SNAP : 0);
    int i = t_rehashing(t) ? 1 : 0;
    size_t idx = (size_t)h & t->mask[i];
    e->next = t->ht[i][idx];
    t->ht[i][idx] = e;
    t->used[i]++;
    t->entry_bytes += malloc_usable_size(e);
    if (expire_ms >= 0) t->expires++;
    if (TS_UNLIKELY(i == 0 && t->used[0] > t->mask[0])) t_check_resize(t);
    return e;
}

ts_entry *ts_table_set_value(ts_table *t, ts_entry *e, const ts_value *v)
{
    t_snap_check(t, e);
    return t_rewrite(t, e, NULL, ts_entry_expire(e), v);
}

ts_entry *ts_table_set_expire(ts_table *t, ts_entry *e, int64_t expire_ms)
{
    t_snap_check(t, e);
    bool had = (e_flags(e) & TF_EXPIRE) != 0;
    if (expire_ms < 0 && !had) return e;
    if (expire_ms >= 0 && had) {
        memcpy((unsigned char *)e + e_head(e), &expire_ms, sizeof expire_ms);
        return e;
    }
    ts_value cur;
    ts_entry_value(e, &cur); /* INLINE bytes point into e: t_rewrite copes */
    return t_rewrite(t, e, NULL, expire_ms < 0 ? -1 : expire_ms, &cur);
}

int ts_table_delete(ts_table *t, const char *key, size_t klen)
{
    if (TS_UNLIKELY(t_rehashing(t))) t_rehash(t, 1);
    if (t->used[0] + t->used[1] == 0) return 0;
    int which;
    ts_entry **l = t_find_link(t, key, klen, ts_hash(key, klen), &which);
    if (!l) return 0;
    t_snap_check(t, *l);
    ts_entry *e = t_unlink(t, l, which);
    t_free_value(t, e);
    free(e);
    t_check_resize(t);
    return 1;
}

void ts_table_delete_entry(ts_table *t, ts_entry *e)
{
    t_snap_check(t, e);
    int which;
    ts_entry **l = t_link_of(t, e, &which);
    t_unlink(t, l, which);
    t_free_value(t, e);
    free(e);
    t_check_resize(t);
}

void ts_table_detach(ts_table *t, ts_entry *e, ts_value *out, int64_t *expire_ms)
{
    t_snap_check(t, e);
    int which;
    ts_entry **l = t_link_of(t, e, &which);
    t_unlink(t, l, which);
    ts_entry_value(e, out);
    if (expire_ms) *expire_ms = ts_entry_expire(e);
    if (out->form == TS_FORM_INLINE) {
        char *buf = ts_malloc(out->s.len);
        if (out->s.len) memcpy(buf, out->s.ptr, out->s.len);
        out->s.ptr = buf;
    }
    free(e);
    t_check_resize(t);
}

/* ---- snapshots ---- */

void ts_table_snapshot_begin(ts_table *t, ts_table_snap *snap)
{
    TS_ASSERT(t->snap == NULL);
    t->snap_parity ^= 1;
    t->snap = snap;
}

void ts_table_snapshot_end(ts_table *t) { t->snap = NULL; }

void ts_table_snapshot_drain(ts_table *t)
{
    if (!t->snap) return;
    for (int i = 0; i < 2; i++) {
        if (!t->ht[i]) continue;
        for (size_t b = 0; b <= t->mask[i]; b++)
            for (ts_entry *e = t->ht[i][b]; e; e = e->next) t_snap_check(t, e);
    }
    t->snap = NULL;
}

bool ts_entry_snap_pending(const ts_table *t, const ts_entry *e)
{
    return ((e_flags(e) & TF_SNAP) != 0) != (t->snap_parity != 0);
}

void ts_entry_snap_mark(const ts_table *t, ts_entry *e)
{
    unsigned f = e_flags(e) & ~TF_SNAP;
    e_set_flags(e, f | (t->snap_parity ? TF_SNAP : 0));
}

/* ---- SCAN ---- */

static inline uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & UINT64_C(0x5555555555555555)) | ((v & UINT64_C(0x5555555555555555)) << 1);
    v = ((v >> 2) & UINT64_C(0x3333333333333333)) | ((v & UINT64_C(0x3333333333333333)) << 2);
    v = ((v >> 4) & UINT64_C(0x0F0F0F0F0F0F0F0F)) | ((v & UINT64_C(0x0F0F0F0F0F0F0F0F)) << 4);
    return __builtin_bswap64(v);
}

/* Increments the cursor in reversed bit order over the bits in mask: the
 * high bits are set first so the carry runs from the top mask bit down. */
static inline uint64_t scan_next(uint64_t v, size_t mask)
{
    v |= ~(uint64_t)mask;
    v = rev64(v);
    v++;
    return rev64(v);
}

static size_t scan_bucket(ts_entry *e, ts_table_scan_fn *fn, void *ctx)
{
    size_t n = 0;
    while (e) {
        ts_entry *next = e->next;
        fn(ctx, e);
        n++;
        e = next;
    }
    return n;
}

/*
 * Why the guarantee holds: bucket b of a table with mask m holds exactly
 * the keys whose hash & m == b. The cursor walks bucket indexes with the
 * bits reversed, so the buckets of a larger table that expand one bucket of
 * a smaller table (same low bits, different high bits) are consecutive in
 * cursor order, and a cursor value taken from one size stays meaningful at
 * any other: every index already returned at the old size corresponds to
 * indexes at the new size whose reversed value is below the cursor. During
 * a rehash an element is in either array, so we visit the bucket of the
 * smaller array and all its expansions in the larger one.
 */
uint64_t ts_table_scan(ts_table *t, uint64_t cursor, size_t count, ts_table_scan_fn *fn, void *ctx)
{
    if (t->used[0] + t->used[1] == 0) return 0;
    if (count == 0) count = 1;
    size_t budget = count > SIZE_MAX / 10 ? SIZE_MAX : count * 10;
    size_t emitted = 0;
    uint64_t v = cursor;
    do {
        if (!t_rehashing(t)) {
            size_t m = t->mask[0];
            emitted += scan_bucket(t->ht[0][v & m], fn, ctx);
            v = scan_next(v, m);
        } else {
            int s = t->mask[0] <= t->mask[1] ? 0 : 1, l = 1 - s;
            size_t ms = t->mask[s], ml = t->mask[l];
            emitted += scan_bucket(t->ht[s][v & ms], fn, ctx);
            do {
                emitted += scan_bucket(t->ht[l][v & ml], fn, ctx);
                v = scan_next(v, ml);
            } while (v & (ms ^ ml));
        }
        budget--;
    } while (v != 0 && emitted < count && budget > 0);
    return v;
}

/* ---- random ---- */

static ts_entry *random_bucket(ts_table *t)
{
    if (!t_rehashing(t)) {
        size_t m = t->mask[0];
        for (int tries = 0; tries < 256; tries++) {
            ts_entry *e = t->ht[0][t_rand(t) & m];
            if (e) return e;
        }
    } else {
        /* Uniform over the live buckets of both arrays by rejection from a
         * power-of-two range at least as large as both together. */
        size_t n0 = t->mask[0] + 1, n1 = t->mask[1] + 1;
        size_t span = (n0 > n1 ? n0 : n1) * 2;
        for (int tries = 0; tries < 256; tries++) {
            size_t x = (size_t)t_rand(t) & (span - 1);
            ts_entry *e = NULL;
            if (x < n0) {
                if (x >= t->rehash_idx) e = t->ht[0][x];
            } else if (x - n0 < n1) {
                e = t->ht[1][x - n0];
            }
            if (e) return e;
        }
    }
    /* Very sparse (a shrink in progress after mass deletion): walk from a
     * random bucket to the next non-empty one. Always terminates since the
     * table is not empty. */
    size_t n0 = t->mask[0] + 1, n1 = t_rehashing(t) ? t->mask[1] + 1 : 0;
    size_t total = n0 + n1;
    size_t span = n1 == 0 ? n0 : (n0 > n1 ? n0 : n1) * 2; /* power of two >= total */
    size_t x = (size_t)t_rand(t) & (span - 1);
    if (x >= total) x -= total;
    for (size_t k = 0; k < total; k++, x++) {
        if (x >= total) x = 0;
        ts_entry *e = x < n0 ? t->ht[0][x] : t->ht[1][x - n0];
        if (e) return e;
    }
    ts_panic("ts_table_random: no entry in a non-empty table");
}

ts_entry *ts_table_random(ts_table *t)
{
    if (TS_UNLIKELY(t_rehashing(t))) t_rehash(t, 1);
    if (t->used[0] + t->used[1] == 0) return NULL;
    ts_entry *e = random_bucket(t);
    size_t len = 0;
    for (ts_entry *p = e; p; p = p->next) len++;
    if (len > 1) {
        uint64_t k = ((t_rand(t) >> 32) * (uint64_t)(len > UINT32_MAX ? UINT32_MAX : len)) >> 32;
        while (k--) e = e->next;
    }
    t_snap_check(t, e);
    return e;
}
