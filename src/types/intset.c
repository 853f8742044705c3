/*
 * intset.c - sorted integer sets in Redis's intset byte format (intset.h).
 *
 * Owns: nothing beyond the intset passed in. Thread: any (plain memory).
 *
 * Every access goes through memcpy-based little-endian loads and stores,
 * so the blob needs no alignment and reads the same on any host: the bytes
 * are the on-disk format. Lookups are binary searches; inserts and removals
 * shift the tail with one memmove after an exact-size realloc.
 */
#include "tessera/types/intset.h"

#include <string.h>

#include "tessera/util/common.h"

struct ts_intset {
    uint8_t bytes[TS_INTSET_HEADER]; /* followed by the elements */
};

/* ---- little-endian access ---- */

static uint32_t load_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static uint64_t load_le(const uint8_t *p, uint32_t width)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < width; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void store_le(uint8_t *p, uint32_t width, uint64_t v)
{
    for (uint32_t i = 0; i < width; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Sign-extends a width-byte two's complement value. */
static int64_t load_elem(const uint8_t *p, uint32_t width)
{
    uint64_t u = load_le(p, width);
    if (width < 8) {
        uint64_t sign = UINT64_C(1) << (8 * width - 1);
        u = (u ^ sign) - sign;
    }
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static uint32_t width_of(int64_t v)
{
    if (v >= INT16_MIN && v <= INT16_MAX) return 2;
    if (v >= INT32_MIN && v <= INT32_MAX) return 4;
    return 8;
}

static uint8_t *elems(ts_intset *is) { return is->bytes + TS_INTSET_HEADER; }
static const uint8_t *celems(const ts_intset *is) { return is->bytes + TS_INTSET_HEADER; }

uint32_t ts_intset_width(const ts_intset *is) { return load_u32(is->bytes); }
uint32_t ts_intset_len(const ts_intset *is) { return load_u32(is->bytes + 4); }
static void set_len(ts_intset *is, uint32_t n) { store_u32(is->bytes + 4, n); }

size_t ts_intset_bytes(const ts_intset *is)
{
    return TS_INTSET_HEADER + (size_t)ts_intset_len(is) * ts_intset_width(is);
}

int64_t ts_intset_get(const ts_intset *is, uint32_t pos)
{
    uint32_t w = ts_intset_width(is);
    return load_elem(celems(is) + (size_t)pos * w, w);
}

ts_intset *ts_intset_new(void)
{
    ts_intset *is = ts_malloc(TS_INTSET_HEADER);
    store_u32(is->bytes, 2);
    set_len(is, 0);
    return is;
}

ts_intset *ts_intset_dup(const ts_intset *is)
{
    size_t n = ts_intset_bytes(is);
    ts_intset *c = ts_malloc(n);
    memcpy(c, is, n);
    return c;
}

/* Binary search: true and *pos = index when found, else false and *pos =
 * the insertion point. */
static bool search(const ts_intset *is, int64_t v, uint32_t *pos)
{
    uint32_t lo = 0, hi = ts_intset_len(is), w = ts_intset_width(is);
    const uint8_t *e = celems(is);
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t x = load_elem(e + (size_t)mid * w, w);
        if (x == v) { *pos = mid; return true; }
        if (x < v) lo = mid + 1;
        else hi = mid;
    }
    *pos = lo;
    return false;
}

bool ts_intset_find(const ts_intset *is, int64_t v)
{
    uint32_t pos;
    if (width_of(v) > ts_intset_width(is)) return false;
    return search(is, v, &pos);
}

/* Widens every element to width w (> current) and appends v, which does not
 * fit the old width and so is below or above every element. */
static ts_intset *upgrade_and_add(ts_intset *is, uint32_t w, int64_t v)
{
    uint32_t n = ts_intset_len(is), old = ts_intset_width(is);
    is = ts_realloc(is, TS_INTSET_HEADER + (size_t)(n + 1) * w);
    uint8_t *e = elems(is);
    bool front = v < 0;
    /* Back to front, so no element is overwritten before it is read. */
    for (uint32_t i = n; i-- > 0;) {
        int64_t x = load_elem(e + (size_t)i * old, old);
        store_le(e + (size_t)(i + front) * w, w, (uint64_t)x);
    }
    store_le(e + (size_t)(front ? 0 : n) * w, w, (uint64_t)v);
    store_u32(is->bytes, w);
    set_len(is, n + 1);
    return is;
}

ts_intset *ts_intset_add(ts_intset *is, int64_t v, bool *added)
{
    uint32_t w = ts_intset_width(is), need = width_of(v), pos;
    if (added) *added = true;
    if (need > w) return upgrade_and_add(is, need, v);
    if (search(is, v, &pos)) {
        if (added) *added = false;
        return is;
    }
    uint32_t n = ts_intset_len(is);
    if (n == UINT32_MAX) ts_panic("intset: too many elements");
    is = ts_realloc(is, TS_INTSET_HEADER + (size_t)(n + 1) * w);
    uint8_t *e = elems(is);
    memmove(e + (size_t)(pos + 1) * w, e + (size_t)pos * w, (size_t)(n - pos) * w);
    store_le(e + (size_t)pos * w, w, (uint64_t)v);
    set_len(is, n + 1);
    return is;
}

ts_intset *ts_intset_remove_at(ts_intset *is, uint32_t pos)
{
    uint32_t n = ts_intset_len(is), w = ts_intset_width(is);
    TS_ASSERT(pos < n);
    uint8_t *e = elems(is);
    memmove(e + (size_t)pos * w, e + (size_t)(pos + 1) * w, (size_t)(n - pos - 1) * w);
    set_len(is, n - 1);
    return ts_realloc(is, TS_INTSET_HEADER + (size_t)(n - 1) * w);
}

ts_intset *ts_intset_remove(ts_intset *is, int64_t v, bool *removed)
{
    uint32_t pos;
    bool found = width_of(v) <= ts_intset_width(is) && search(is, v, &pos);
    if (removed) *removed = found;
    return found ? ts_intset_remove_at(is, pos) : is;
}

int64_t ts_intset_random(const ts_intset *is, uint64_t r)
{
    uint32_t n = ts_intset_len(is);
    TS_ASSERT(n > 0);
    return ts_intset_get(is, (uint32_t)(r % n));
}

bool ts_intset_validate(const void *p, size_t size)
{
    const uint8_t *b = p;
    if (size < TS_INTSET_HEADER) return false;
    uint32_t w = load_u32(b), n = load_u32(b + 4);
    if (w != 2 && w != 4 && w != 8) return false;
    if ((size - TS_INTSET_HEADER) / w != n || (size - TS_INTSET_HEADER) % w != 0) return false;
    if (n == 0) return false;   /* an empty set is never stored (Redis rejects it too) */
    const uint8_t *e = b + TS_INTSET_HEADER;
    for (uint32_t i = 1; i < n; i++)
        if (load_elem(e + (size_t)(i - 1) * w, w) >= load_elem(e + (size_t)i * w, w)) return false;
    return true;
}
