/*
 * t_hash.c - the hash value type (see include/tessera/types/t_hash.h): a listpack
 * of field/value pairs while small, a ts_table of fields beyond.
 *
 * Owns: hash objects and their conversion. Thread: whoever owns the key's
 * shard; the only per-thread state is the random generator.
 *
 * Shape: every operation switches on the encoding and does the obvious
 * thing for each. The listpack side finds a field with ts_lp_find with
 * skip 1 (fields only); the table side reuses the keyspace table, whose
 * entries pack field and value into one allocation, so a big hash costs
 * about one small allocation per field. Conversion happens exactly where
 * Redis 7.0 converts (hashTypeTryConversion before HSET-like commands,
 * hashTypeSet's length checks), so OBJECT ENCODING answers the same.
 */
#include "tessera/types/t_hash.h"

#include <string.h>
#include <time.h>

#include "tessera/types/listpack.h"
#include "tessera/types/table.h"


/* ---- random numbers ---- */

static _Thread_local uint64_t rng_state;

uint64_t ts_hobj_rand(void)
{
    if (TS_UNLIKELY(rng_state == 0)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        rng_state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&rng_state;
        if (rng_state == 0) rng_state = 1;
    }
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rand_below(uint64_t n) { return ts_hobj_rand() % n; }

/* ---- helpers ---- */

static inline ts_hobj_str lp_str(unsigned char *p, char *buf)
{
    size_t n;
    const unsigned char *s = ts_lp_get_str(p, buf, &n);
    return (ts_hobj_str){(const char *)s, n};
}

static inline ts_hobj_str entry_field(const ts_entry *e)
{
    ts_hobj_str s;
    s.p = ts_entry_key(e, &s.n);
    return s;
}

static inline ts_hobj_str entry_value(const ts_entry *e)
{
    ts_value v;
    ts_entry_value(e, &v);
    return (ts_hobj_str){v.s.ptr, v.s.len};
}

static inline ts_value inline_value(const char *p, size_t n)
{
    ts_value v = {.type = TS_TYPE_STRING, .enc = TS_ENC_RAW, .form = TS_FORM_INLINE};
    v.s.ptr = p;
    v.s.len = n;
    return v;
}

static ts_table *table_new(void)
{
    ts_table *t = ts_malloc(sizeof *t);
    ts_table_init(t, NULL); /* values are INLINE: nothing to free */
    return t;
}

/* The listpack entry of field f, or NULL. */
static inline unsigned char *lp_field(unsigned char *lp, const char *f, size_t fl)
{
    unsigned char *p = ts_lp_first(lp);
    return p ? ts_lp_find(lp, p, f, fl, 1) : NULL;
}

/* ---- lifetime ---- */

void *ts_hobj_new(int *enc)
{
    *enc = TS_ENC_LISTPACK;
    return ts_lp_new();
}

void ts_hobj_free(void *obj, int enc)
{
    if (!obj) return;
    if (enc == TS_ENC_LISTPACK) {
        ts_lp_free(obj);
    } else {
        ts_table_clear(obj);
        free(obj);
    }
}

size_t ts_hobj_len(const void *obj, int enc)
{
    if (enc == TS_ENC_LISTPACK) return ts_lp_length(obj) / 2;
    return ts_table_size(obj);
}

/* ---- conversion ---- */

void ts_hobj_convert(void **obj, int *enc)
{
    if (*enc != TS_ENC_LISTPACK) return;
    unsigned char *lp = *obj;
    ts_table *t = table_new();
    char fb[TS_HOBJ_NUMBUF], vb[TS_HOBJ_NUMBUF];
    for (unsigned char *p = ts_lp_first(lp); p; p = ts_lp_next(lp, p)) {
        unsigned char *vp = ts_lp_next(lp, p);
        TS_ASSERT(vp != NULL);
        if (!vp) break;
        ts_hobj_str f = lp_str(p, fb), v = lp_str(vp, vb);
        ts_value val = inline_value(v.p, v.n);
        ts_table_set(t, f.p, f.n, &val, -1, false);
        p = vp;
    }
    ts_lp_free(lp);
    *obj = t;
    *enc = TS_ENC_HASHTABLE;
}

void ts_hobj_try_convert(void **obj, int *enc, const ts_arg *args, int n, long long max_value)
{
    if (*enc != TS_ENC_LISTPACK) return;
    size_t sum = 0;
    for (int i = 0; i < n; i++) {
        sum += args[i].len;
        /* Redis also leaves the listpack before it would pass 1 GB
         * (lpSafeToAdd), which only a huge max_value allows. */
        if ((long long)args[i].len > max_value || ts_lp_bytes(*obj) + sum > TS_LP_SAFE_BYTES) {
            ts_hobj_convert(obj, enc);
            return;
        }
    }
}

/* ---- fields ---- */

bool ts_hobj_get(void *obj, int enc, const char *f, size_t fl, char *buf, ts_hobj_str *val)
{
    if (enc == TS_ENC_LISTPACK) {
        unsigned char *lp = obj, *p = lp_field(lp, f, fl);
        if (!p) return false;
        *val = lp_str(ts_lp_next(lp, p), buf);
        return true;
    }
    ts_entry *e = ts_table_find(obj, f, fl);
    if (!e) return false;
    *val = entry_value(e);
    return true;
}

bool ts_hobj_exists(void *obj, int enc, const char *f, size_t fl)
{
    if (enc == TS_ENC_LISTPACK) return lp_field(obj, f, fl) != NULL;
    return ts_table_find(obj, f, fl) != NULL;
}

bool ts_hobj_set(void **obj, int *enc, const char *f, size_t fl, const char *v, size_t vl,
                 long long max_entries, long long max_value)
{
    if (*enc == TS_ENC_LISTPACK && ((long long)fl > max_value || (long long)vl > max_value))
        ts_hobj_convert(obj, enc);
    if (*enc == TS_ENC_LISTPACK) {
        unsigned char *lp = *obj, *p = lp_field(lp, f, fl);
        if (p) {
            p = ts_lp_next(lp, p);
            *obj = ts_lp_replace(lp, &p, v, vl);
            return false;
        }
        lp = ts_lp_append(lp, f, fl);
        lp = ts_lp_append(lp, v, vl);
        *obj = lp;
        if ((long long)(ts_lp_length(lp) / 2) > max_entries) ts_hobj_convert(obj, enc);
        return true;
    }
    ts_table *t = *obj;
    ts_value val = inline_value(v, vl);
    ts_entry *e = ts_table_find(t, f, fl);
    if (e) {
        ts_table_set_value(t, e, &val);
        return false;
    }
    ts_table_set(t, f, fl, &val, -1, false);
    return true;
}

bool ts_hobj_del(void **obj, int enc, const char *f, size_t fl)
{
    if (enc == TS_ENC_LISTPACK) {
        unsigned char *lp = *obj, *p = lp_field(lp, f, fl);
        if (!p) return false;
        *obj = ts_lp_delete_range_at(lp, &p, 2);
        return true;
    }
    return ts_table_delete(*obj, f, fl) == 1;
}

/* ---- walks ---- */

typedef struct each_ctx {
    ts_hobj_each_fn *fn;
    void *ctx;
} each_ctx;

static void each_entry(void *ctx, ts_entry *e)
{
    each_ctx *x = ctx;
    x->fn(x->ctx, entry_field(e), entry_value(e));
}

void ts_hobj_foreach(void *obj, int enc, ts_hobj_each_fn *fn, void *ctx)
{
    if (enc == TS_ENC_LISTPACK) {
        unsigned char *lp = obj;
        char fb[TS_HOBJ_NUMBUF], vb[TS_HOBJ_NUMBUF];
        for (unsigned char *p = ts_lp_first(lp); p; p = ts_lp_next(lp, p)) {
            unsigned char *vp = ts_lp_next(lp, p);
            fn(ctx, lp_str(p, fb), lp_str(vp, vb));
            p = vp;
        }
        return;
    }
    /* A full scan of an unchanging table reports every entry once. */
    each_ctx x = {fn, ctx};
    uint64_t cursor = 0;
    do {
        cursor = ts_table_scan(obj, cursor, 1024, each_entry, &x);
    } while (cursor != 0);
}

uint64_t ts_hobj_scan(void *obj, int enc, uint64_t cursor, size_t count, ts_hobj_each_fn *fn, void *ctx)
{
    if (enc == TS_ENC_LISTPACK) {
        ts_hobj_foreach(obj, enc, fn, ctx);
        return 0;
    }
    each_ctx x = {fn, ctx};
    return ts_table_scan(obj, cursor, count, each_entry, &x);
}

/* ---- random ---- */

void ts_hobj_random(void *obj, int enc, char *fbuf, char *vbuf, ts_hobj_str *field, ts_hobj_str *value)
{
    if (enc == TS_ENC_LISTPACK) {
        unsigned char *lp = obj;
        size_t n = ts_lp_length(lp) / 2;
        TS_ASSERT(n > 0);
        unsigned char *p = ts_lp_seek(lp, (long)(2 * rand_below(n)));
        *field = lp_str(p, fbuf);
        *value = lp_str(ts_lp_next(lp, p), vbuf);
        return;
    }
    ts_entry *e = ts_table_random(obj);
    TS_ASSERT(e != NULL);
    *field = entry_field(e);
    *value = entry_value(e);
}

void ts_hobj_random_each(void *obj, int enc, size_t count, ts_hobj_each_fn *fn, void *ctx)
{
    if (enc == TS_ENC_LISTPACK) {
        /* Index the pairs once so each pick is O(1), not a walk. */
        unsigned char *lp = obj;
        size_t n = ts_lp_length(lp) / 2, i = 0;
        TS_ASSERT(n > 0);
        unsigned char **idx = ts_malloc(n * sizeof *idx);
        for (unsigned char *p = ts_lp_first(lp); p && i < n; p = ts_lp_next(lp, ts_lp_next(lp, p))) idx[i++] = p;
        char fb[TS_HOBJ_NUMBUF], vb[TS_HOBJ_NUMBUF];
        while (count--) {
            unsigned char *p = idx[rand_below(n)];
            fn(ctx, lp_str(p, fb), lp_str(ts_lp_next(lp, p), vb));
        }
        free(idx);
        return;
    }
    while (count--) {
        ts_entry *e = ts_table_random(obj);
        fn(ctx, entry_field(e), entry_value(e));
    }
}

static void collect_entry(void *ctx, ts_entry *e)
{
    ts_entry ***w = ctx;
    *(*w)++ = e;
}

/* A set of entry pointers for rejection sampling (open addressing). */
static bool ptrset_add(ts_entry **slots, size_t mask, ts_entry *e)
{
    size_t h = (size_t)(((uintptr_t)e >> 4) * 0x9E3779B97F4A7C15ull) & mask;
    while (slots[h]) {
        if (slots[h] == e) return false;
        h = (h + 1) & mask;
    }
    slots[h] = e;
    return true;
}

void ts_hobj_random_unique(void *obj, int enc, size_t count, ts_hobj_str *fields, ts_hobj_str *values,
                           char *numbufs)
{
    if (enc == TS_ENC_LISTPACK) {
        /* Selection sampling (Knuth's algorithm S): one pass, in order. */
        unsigned char *lp = obj;
        size_t n = ts_lp_length(lp) / 2, need = count, out = 0;
        unsigned char *p = ts_lp_first(lp);
        for (size_t i = 0; i < n && need > 0; i++) {
            unsigned char *vp = ts_lp_next(lp, p);
            if (rand_below(n - i) < need) {
                fields[out] = lp_str(p, numbufs + (2 * out) * TS_HOBJ_NUMBUF);
                values[out] = lp_str(vp, numbufs + (2 * out + 1) * TS_HOBJ_NUMBUF);
                out++;
                need--;
            }
            p = ts_lp_next(lp, vp);
        }
        TS_ASSERT(out == count);
        return;
    }
    ts_table *t = obj;
    size_t size = ts_table_size(t);
    TS_ASSERT(count < size);
    if (count * 3 > size) {
        /* A large share: list every entry, shuffle the first count. */
        ts_entry **all = ts_malloc(size * sizeof *all), **w = all;
        uint64_t cursor = 0;
        do {
            cursor = ts_table_scan(t, cursor, 1024, collect_entry, &w);
        } while (cursor != 0);
        size_t got = (size_t)(w - all);
        TS_ASSERT(got == size);
        for (size_t i = 0; i < count; i++) {
            size_t j = i + rand_below(got - i);
            ts_entry *tmp = all[i];
            all[i] = all[j];
            all[j] = tmp;
            fields[i] = entry_field(all[i]);
            values[i] = entry_value(all[i]);
        }
        free(all);
        return;
    }
    /* A small share: random picks, rejecting repeats. */
    size_t cap = 4;
    while (cap < count * 2) cap *= 2;
    ts_entry **slots = ts_calloc(cap, sizeof *slots);
    size_t got = 0;
    while (got < count) {
        ts_entry *e = ts_table_random(t);
        if (!ptrset_add(slots, cap - 1, e)) continue;
        fields[got] = entry_field(e);
        values[got] = entry_value(e);
        got++;
    }
    free(slots);
}

/* ---- the keyspace's view (object.h) ---- */

static void hash_free(void *obj, int enc) { ts_hobj_free(obj, enc); }

static void dup_entry(void *ctx, ts_hobj_str f, ts_hobj_str v)
{
    ts_value val = inline_value(v.p, v.n);
    ts_table_set(ctx, f.p, f.n, &val, -1, false);
}

static void *hash_dup(const void *obj, int enc)
{
    if (enc == TS_ENC_LISTPACK) {
        size_t n = ts_lp_bytes(obj);
        void *copy = ts_malloc(n);
        memcpy(copy, obj, n);
        return copy;
    }
    ts_table *t = table_new();
    /* The walk does not change the source (scans never rehash). */
    ts_hobj_foreach((void *)obj, enc, dup_entry, t);
    return t;
}

static size_t hash_free_effort(const void *obj, int enc)
{
    return enc == TS_ENC_LISTPACK ? 1 : ts_table_size(obj);
}

const ts_type_ops ts_hash_ops = {
    .free = hash_free,
    .dup = hash_dup,
    .free_effort = hash_free_effort,
};
