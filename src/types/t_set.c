/*
 * t_set.c - set objects in their two encodings, intset and hashtable
 * (t_set.h), and their keyspace operations (free, dup, free effort).
 *
 * Owns: set objects. Thread: the owner of the entry holding the set; the
 * random generator is thread-local, so no state is shared between workers.
 *
 * Shape: every operation switches on the encoding; members travel as byte
 * strings, and an intset member is formatted/parsed at the boundary with
 * the strict integer parser (strconv.h), the same rule Redis uses to
 * decide whether a member is an integer ("007", "+1", "-0", " 1" are
 * strings). The hashtable is the keyspace table itself (table.h): member =
 * key, value = empty INLINE bytes, so big sets get incremental rehash and
 * Redis's SCAN guarantees for SSCAN with no new code.
 */
#include "tessera/types/t_set.h"

#include <string.h>

#include "tessera/util/common.h"
#include "tessera/types/intset.h"
#include "tessera/util/strconv.h"
#include "tessera/types/table.h"

/* Redis 7.0 caps the intset at 2^30 entries whatever the configuration
 * says (intset internals use 32-bit sizes). */
#define INTSET_HARD_MAX (1LL << 30)

static const ts_value EMPTY_MEMBER = {.type = TS_TYPE_STRING, .enc = TS_ENC_EMBSTR, .form = TS_FORM_INLINE,
                                      .s = {"", 0}};

static ts_table *table_new(void)
{
    ts_table *t = ts_malloc(sizeof *t);
    ts_table_init(t, NULL);
    return t;
}

static void table_add(ts_table *t, const char *p, size_t n)
{
    ts_table_set(t, p, n, &EMPTY_MEMBER, -1, false);
}

void *ts_set_create(const char *p, size_t n, int *enc)
{
    long long ll;
    if (ts_str_to_ll(p, n, &ll)) {
        *enc = TS_ENC_INTSET;
        return ts_intset_new();
    }
    *enc = TS_ENC_HASHTABLE;
    return table_new();
}

void *ts_set_new(int enc)
{
    return enc == TS_ENC_INTSET ? (void *)ts_intset_new() : (void *)table_new();
}

/* Converts an intset to a hashtable holding the same members; frees the
 * intset. */
static ts_table *intset_to_table(ts_intset *is)
{
    ts_table *t = table_new();
    char buf[TS_SET_NUMBUF];
    for (uint32_t i = 0; i < ts_intset_len(is); i++) {
        size_t n = ts_ll_to_str(buf, ts_intset_get(is, i));
        table_add(t, buf, n);
    }
    free(is);
    return t;
}

void ts_set_convert(void **obj, int *enc)
{
    if (*enc != TS_ENC_INTSET) return;
    *obj = intset_to_table(*obj);
    *enc = TS_ENC_HASHTABLE;
}

bool ts_set_add(void **obj, int *enc, const char *p, size_t n, long long max_intset)
{
    if (*enc == TS_ENC_INTSET) {
        long long ll;
        if (ts_str_to_ll(p, n, &ll)) {
            bool added;
            *obj = ts_intset_add(*obj, ll, &added);
            long long max = max_intset < INTSET_HARD_MAX ? max_intset : INTSET_HARD_MAX;
            if (added && (long long)ts_intset_len(*obj) > max) {
                *obj = intset_to_table(*obj);
                *enc = TS_ENC_HASHTABLE;
            }
            return added;
        }
        *obj = intset_to_table(*obj);
        *enc = TS_ENC_HASHTABLE;
    }
    ts_table *t = *obj;
    if (ts_table_find(t, p, n)) return false;
    table_add(t, p, n);
    return true;
}

bool ts_set_remove(void **obj, int enc, const char *p, size_t n)
{
    if (enc == TS_ENC_INTSET) {
        long long ll;
        bool removed = false;
        if (ts_str_to_ll(p, n, &ll)) *obj = ts_intset_remove(*obj, ll, &removed);
        return removed;
    }
    return ts_table_delete(*obj, p, n) == 1;
}

bool ts_set_has(void *obj, int enc, const char *p, size_t n)
{
    if (enc == TS_ENC_INTSET) {
        long long ll;
        return ts_str_to_ll(p, n, &ll) && ts_intset_find(obj, ll);
    }
    return ts_table_find(obj, p, n) != NULL;
}

size_t ts_set_size(const void *obj, int enc)
{
    return enc == TS_ENC_INTSET ? ts_intset_len(obj) : ts_table_size(obj);
}

typedef struct each_ctx {
    ts_set_each_fn *fn;
    void *ctx;
} each_ctx;

static void each_entry(void *ctx, ts_entry *e)
{
    each_ctx *x = ctx;
    size_t n;
    const char *p = ts_entry_key(e, &n);
    x->fn(x->ctx, p, n);
}

void ts_set_foreach(void *obj, int enc, ts_set_each_fn *fn, void *ctx)
{
    if (enc == TS_ENC_INTSET) {
        char buf[TS_SET_NUMBUF];
        for (uint32_t i = 0; i < ts_intset_len(obj); i++) {
            size_t n = ts_ll_to_str(buf, ts_intset_get(obj, i));
            fn(ctx, buf, n);
        }
        return;
    }
    /* Nothing changes the table during the walk, so one pass from cursor
     * 0 reports every entry exactly once. */
    each_ctx x = {fn, ctx};
    ts_table_scan(obj, 0, SIZE_MAX, each_entry, &x);
}

uint64_t ts_set_scan(void *obj, int enc, uint64_t cursor, size_t count, ts_set_each_fn *fn, void *ctx)
{
    if (enc == TS_ENC_INTSET) {
        ts_set_foreach(obj, enc, fn, ctx);
        return 0;
    }
    each_ctx x = {fn, ctx};
    return ts_table_scan(obj, cursor, count, each_entry, &x);
}

static _Thread_local uint64_t rng_state;

uint64_t ts_set_rand(void)
{
    if (rng_state == 0) rng_state = (uint64_t)(uintptr_t)&rng_state ^ UINT64_C(0x853C49E6748FEA9B);
    uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

void ts_set_random(void *obj, int enc, char *buf, const char **p, size_t *n)
{
    if (enc == TS_ENC_INTSET) {
        *n = ts_ll_to_str(buf, ts_intset_random(obj, ts_set_rand()));
        *p = buf;
        return;
    }
    ts_entry *e = ts_table_random(obj);
    TS_ASSERT(e != NULL);
    *p = ts_entry_key(e, n);
}

/* ---------- keyspace operations (object.h) ---------- */

static void set_free(void *obj, int enc)
{
    if (enc == TS_ENC_HASHTABLE) ts_table_clear(obj);
    free(obj);
}

void ts_set_free(void *obj, int enc) { set_free(obj, enc); }

static void dup_add(void *ctx, const char *p, size_t n) { table_add(ctx, p, n); }

static void *set_dup(const void *obj, int enc)
{
    if (enc == TS_ENC_INTSET) return ts_intset_dup(obj);
    ts_table *t = table_new();
    ts_set_foreach((void *)obj, enc, dup_add, t);
    return t;
}

static size_t set_free_effort(const void *obj, int enc)
{
    return enc == TS_ENC_INTSET ? 1 : ts_table_size(obj);
}

const ts_type_ops ts_set_ops = {.free = set_free, .dup = set_dup, .free_effort = set_free_effort};
