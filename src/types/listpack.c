/*
 * listpack.c - compact sequences in Redis 7's listpack byte format (see
 * include/tessera/types/listpack.h for the layout and the API contract).
 *
 * Owns: nothing but the blob each function is handed. Thread: whoever owns
 * the blob; there is no shared state here.
 *
 * Shape: every change is one "splice" - replace a byte range of the blob
 * by new bytes - followed by an exact-size realloc, so the blob never holds
 * slack (1M small hashes are 1M listpacks: slack would be the main cost).
 * Growing reallocates before moving the tail, shrinking moves it first.
 * The encoder picks the same encodings and backlen sizes as Redis (even its
 * odd "< 16383" backlen bounds), so blobs are byte-identical to what Redis
 * would build and pass its integrity check when written into an RDB.
 */
#include "tessera/types/listpack.h"

#include <malloc.h>
#include <string.h>

#include "tessera/util/common.h"
#include "tessera/util/strconv.h"

#define LP_COUNT_UNKNOWN 65535u

/* Encoding bytes (see listpack.h). */
#define LP_ENC_7BIT_UINT_MASK 0x80
#define LP_ENC_6BIT_STR 0x80
#define LP_ENC_13BIT_INT 0xC0
#define LP_ENC_12BIT_STR 0xE0
#define LP_ENC_32BIT_STR 0xF0
#define LP_ENC_16BIT_INT 0xF1
#define LP_ENC_24BIT_INT 0xF2
#define LP_ENC_32BIT_INT 0xF3
#define LP_ENC_64BIT_INT 0xF4

/* ---- header ---- */

static inline uint32_t rd_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void wr_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static inline unsigned hdr_count(const unsigned char *lp) { return (unsigned)lp[4] | (unsigned)lp[5] << 8; }

static inline void set_count(unsigned char *lp, size_t n)
{
    if (n > LP_COUNT_UNKNOWN) n = LP_COUNT_UNKNOWN;
    lp[4] = (unsigned char)n;
    lp[5] = (unsigned char)(n >> 8);
}

size_t ts_lp_bytes(const unsigned char *lp) { return rd_u32(lp); }

unsigned char *ts_lp_new(void)
{
    unsigned char *lp = ts_malloc(TS_LP_HDR_SIZE + 1);
    wr_u32(lp, TS_LP_HDR_SIZE + 1);
    set_count(lp, 0);
    lp[TS_LP_HDR_SIZE] = TS_LP_EOF;
    return lp;
}

void ts_lp_free(unsigned char *lp) { free(lp); }

/* ---- entry sizes ---- */

/* Bytes of the backlen field for an entry whose encoding+data is l bytes
 * long. The bounds are Redis's (lpEncodeBacklen), including the "<" that
 * makes 16383 take three bytes, so that our blobs match its. */
static inline size_t backlen_size(size_t l)
{
    if (l <= 127) return 1;
    if (l < 16383) return 2;
    if (l < 2097151) return 3;
    if (l < 268435455) return 4;
    return 5;
}

/* Writes l's backlen into buf (backlen_size(l) bytes): the leftmost byte
 * holds the high bits, every byte but the leftmost has bit 7 set ("more to
 * the left"), so it can be read from the right. */
static void backlen_write(unsigned char *buf, size_t l)
{
    size_t n = backlen_size(l);
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)((l >> (7 * i)) & 127);
        if (i + 1 < n) b |= 128;
        buf[n - 1 - i] = b;
    }
}

/* Length of encoding+data of the (well-formed) entry at p. */
static inline size_t enc_len(const unsigned char *p)
{
    unsigned char b = p[0];
    if (b < 0x80) return 1;
    if ((b & 0xC0) == LP_ENC_6BIT_STR) return 1 + (size_t)(b & 0x3F);
    if ((b & 0xE0) == LP_ENC_13BIT_INT) return 2;
    if ((b & 0xF0) == LP_ENC_12BIT_STR) return 2 + ((size_t)(b & 0x0F) << 8 | p[1]);
    switch (b) {
    case LP_ENC_32BIT_STR: return 5 + (size_t)rd_u32(p + 1);
    case LP_ENC_16BIT_INT: return 3;
    case LP_ENC_24BIT_INT: return 4;
    case LP_ENC_32BIT_INT: return 5;
    case LP_ENC_64BIT_INT: return 9;
    default: ts_panic("listpack: bad encoding byte 0x%02x", b);
    }
}

static inline size_t entry_size(const unsigned char *p)
{
    size_t l = enc_len(p);
    return l + backlen_size(l);
}

/* Reads the backlen that ends at p (its rightmost byte). */
static inline size_t backlen_read(const unsigned char *p)
{
    size_t v = 0;
    unsigned shift = 0;
    for (;;) {
        v |= (size_t)(p[0] & 127) << shift;
        if (!(p[0] & 128)) break;
        shift += 7;
        p--;
        if (shift > 28) ts_panic("listpack: bad backlen");
    }
    return v;
}

/* ---- navigation ---- */

unsigned char *ts_lp_first(unsigned char *lp)
{
    unsigned char *p = lp + TS_LP_HDR_SIZE;
    return *p == TS_LP_EOF ? NULL : p;
}

unsigned char *ts_lp_next(unsigned char *lp, unsigned char *p)
{
    (void)lp;
    p += entry_size(p);
    return *p == TS_LP_EOF ? NULL : p;
}

unsigned char *ts_lp_prev(unsigned char *lp, unsigned char *p)
{
    if (p == lp + TS_LP_HDR_SIZE) return NULL;
    size_t l = backlen_read(p - 1);
    return p - l - backlen_size(l);
}

unsigned char *ts_lp_last(unsigned char *lp)
{
    unsigned char *eof = lp + rd_u32(lp) - 1;
    return ts_lp_prev(lp, eof);
}

size_t ts_lp_length(const unsigned char *lp)
{
    unsigned n = hdr_count(lp);
    if (n != LP_COUNT_UNKNOWN) return n;
    size_t count = 0;
    const unsigned char *p = lp + TS_LP_HDR_SIZE;
    while (*p != TS_LP_EOF) {
        p += entry_size(p);
        count++;
    }
    return count;
}

unsigned char *ts_lp_seek(unsigned char *lp, long index)
{
    unsigned n = hdr_count(lp);
    bool forward = index >= 0;
    if (n != LP_COUNT_UNKNOWN) {
        /* Known length: normalise, then walk from the nearer end. */
        if (index < 0) index += (long)n;
        if (index < 0 || index >= (long)n) return NULL;
        forward = index < (long)n / 2 + 1;
        if (!forward) index -= (long)n; /* negative again */
    }
    if (forward) {
        unsigned char *p = ts_lp_first(lp);
        while (p && index-- > 0) p = ts_lp_next(lp, p);
        return p;
    }
    unsigned char *p = ts_lp_last(lp);
    while (p && ++index < 0) p = ts_lp_prev(lp, p);
    return p;
}

/* ---- reading ---- */

/* Sign-extends the low `bits` bits of u. */
static inline long long sext(uint64_t u, unsigned bits)
{
    uint64_t m = 1ULL << (bits - 1);
    u &= (bits == 64) ? ~0ULL : ((1ULL << bits) - 1);
    return (long long)((u ^ m) - m);
}

void ts_lp_get(const unsigned char *p, ts_lp_val *out)
{
    unsigned char b = p[0];
    out->str = NULL;
    out->len = 0;
    if (b < 0x80) { out->ll = b; return; }
    if ((b & 0xC0) == LP_ENC_6BIT_STR) {
        out->str = p + 1;
        out->len = b & 0x3F;
        out->ll = 0;
        return;
    }
    if ((b & 0xE0) == LP_ENC_13BIT_INT) { out->ll = sext((uint64_t)(b & 0x1F) << 8 | p[1], 13); return; }
    if ((b & 0xF0) == LP_ENC_12BIT_STR) {
        out->str = p + 2;
        out->len = (size_t)(b & 0x0F) << 8 | p[1];
        out->ll = 0;
        return;
    }
    uint64_t u = 0;
    switch (b) {
    case LP_ENC_32BIT_STR:
        out->str = p + 5;
        out->len = rd_u32(p + 1);
        out->ll = 0;
        return;
    case LP_ENC_16BIT_INT: u = (uint64_t)p[1] | (uint64_t)p[2] << 8; out->ll = sext(u, 16); return;
    case LP_ENC_24BIT_INT: u = (uint64_t)p[1] | (uint64_t)p[2] << 8 | (uint64_t)p[3] << 16; out->ll = sext(u, 24); return;
    case LP_ENC_32BIT_INT: out->ll = sext(rd_u32(p + 1), 32); return;
    case LP_ENC_64BIT_INT:
        u = (uint64_t)rd_u32(p + 1) | (uint64_t)rd_u32(p + 5) << 32;
        out->ll = sext(u, 64);
        return;
    default: ts_panic("listpack: bad encoding byte 0x%02x", b);
    }
}

const unsigned char *ts_lp_get_str(const unsigned char *p, char *buf, size_t *len)
{
    ts_lp_val v;
    ts_lp_get(p, &v);
    if (v.str) { *len = v.len; return v.str; }
    *len = ts_ll_to_str(buf, v.ll);
    return (const unsigned char *)buf;
}

/* Compares the element at p with s, where s_is_int/s_ll say whether s is
 * the canonical form of an integer (computed once by the caller). */
static inline bool eq_prepared(const unsigned char *p, const char *s, size_t len, bool s_is_int, long long s_ll)
{
    unsigned char b = p[0];
    /* Fast path for the common short strings: no full decode. */
    if ((b & 0xC0) == LP_ENC_6BIT_STR) return (size_t)(b & 0x3F) == len && memcmp(p + 1, s, len) == 0;
    ts_lp_val v;
    ts_lp_get(p, &v);
    if (v.str) return v.len == len && (len == 0 || memcmp(v.str, s, len) == 0);
    return s_is_int && v.ll == s_ll;
}

bool ts_lp_eq(const unsigned char *p, const char *s, size_t len)
{
    long long ll = 0;
    bool is_int = ts_str_to_ll(s, len, &ll);
    return eq_prepared(p, s, len, is_int, ll);
}

unsigned char *ts_lp_find(unsigned char *lp, unsigned char *p, const char *s, size_t len, unsigned skip)
{
    (void)lp;
    long long ll = 0;
    bool is_int = ts_str_to_ll(s, len, &ll);
    while (p && *p != TS_LP_EOF) {
        if (eq_prepared(p, s, len, is_int, ll)) return p;
        p += entry_size(p);
        for (unsigned i = 0; i < skip && *p != TS_LP_EOF; i++) p += entry_size(p);
    }
    return NULL;
}

/* ---- encoding ---- */

/* An element ready to be written: hdr (encoding byte(s), or the whole
 * integer), then data (the string bytes, if any), then the backlen. */
typedef struct lp_enc {
    unsigned char hdr[9];
    size_t hdr_len;
    const char *data;
    size_t data_len;
    unsigned char back[5];
    size_t back_len;
} lp_enc;

static inline size_t enc_total(const lp_enc *e) { return e->hdr_len + e->data_len + e->back_len; }

static void enc_finish(lp_enc *e)
{
    size_t l = e->hdr_len + e->data_len;
    e->back_len = backlen_size(l);
    backlen_write(e->back, l);
}

static void enc_int(lp_enc *e, long long v)
{
    e->data = NULL;
    e->data_len = 0;
    uint64_t u = (uint64_t)v;
    if (v >= 0 && v <= 127) {
        e->hdr[0] = (unsigned char)v;
        e->hdr_len = 1;
    } else if (v >= -4096 && v <= 4095) {
        e->hdr[0] = (unsigned char)(LP_ENC_13BIT_INT | ((u >> 8) & 0x1F));
        e->hdr[1] = (unsigned char)u;
        e->hdr_len = 2;
    } else {
        int bytes;
        if (v >= -32768 && v <= 32767) { e->hdr[0] = LP_ENC_16BIT_INT; bytes = 2; }
        else if (v >= -8388608 && v <= 8388607) { e->hdr[0] = LP_ENC_24BIT_INT; bytes = 3; }
        else if (v >= -2147483648LL && v <= 2147483647LL) { e->hdr[0] = LP_ENC_32BIT_INT; bytes = 4; }
        else { e->hdr[0] = LP_ENC_64BIT_INT; bytes = 8; }
        for (int i = 0; i < bytes; i++) e->hdr[1 + i] = (unsigned char)(u >> (8 * i));
        e->hdr_len = 1 + (size_t)bytes;
    }
    enc_finish(e);
}

static void enc_str(lp_enc *e, const char *s, size_t len)
{
    long long v;
    if (ts_str_to_ll(s, len, &v)) { enc_int(e, v); return; }
    if (len < 64) {
        e->hdr[0] = (unsigned char)(LP_ENC_6BIT_STR | len);
        e->hdr_len = 1;
    } else if (len < 4096) {
        e->hdr[0] = (unsigned char)(LP_ENC_12BIT_STR | (len >> 8));
        e->hdr[1] = (unsigned char)len;
        e->hdr_len = 2;
    } else {
        if (len > UINT32_MAX - 64) ts_panic("listpack: string of %zu bytes", len);
        e->hdr[0] = LP_ENC_32BIT_STR;
        wr_u32(e->hdr + 1, (uint32_t)len);
        e->hdr_len = 5;
    }
    e->data = s;
    e->data_len = len;
    enc_finish(e);
}

/* ---- the splice ---- */

/* Replaces del bytes at offset off with the element e (NULL: nothing),
 * adjusting the count by dcount. Returns the new blob. e->data must not
 * point into lp (callers copy it first). */
static unsigned char *splice(unsigned char *lp, size_t off, size_t del, const lp_enc *e, long dcount)
{
    size_t old = rd_u32(lp);
    size_t ins = e ? enc_total(e) : 0;
    size_t nsz = old - del + ins;
    if (nsz > UINT32_MAX) ts_panic("listpack: would exceed 4 GB");
    size_t tail = old - off - del; /* bytes after the replaced range, EOF included */
    if (ins > del) {
        /* Grow only past the allocation's usable size, as Redis's lpInsert
         * does: a realloc call per append, even one that stays in place,
         * leaves jemalloc with ~10% more resident memory for a list of
         * small elements (1M 16-byte elements: 19.9 MB RSS against 18.2). */
        if (nsz > malloc_usable_size(lp)) lp = ts_realloc(lp, nsz);
        memmove(lp + off + ins, lp + off + del, tail);
    } else if (ins < del) {
        memmove(lp + off + ins, lp + off + del, tail);
        lp = ts_realloc(lp, nsz);
    }
    if (e) {
        unsigned char *q = lp + off;
        memcpy(q, e->hdr, e->hdr_len);
        q += e->hdr_len;
        if (e->data_len) memcpy(q, e->data, e->data_len);
        q += e->data_len;
        memcpy(q, e->back, e->back_len);
    }
    wr_u32(lp, (uint32_t)nsz);
    unsigned n = hdr_count(lp);
    if (n != LP_COUNT_UNKNOWN) {
        set_count(lp, (size_t)((long)n + dcount));
    } else if (dcount < 0) {
        /* Redis leaves the count unknown for good; a recount costs no
         * more than the memmove just done and keeps length O(1) again. */
        size_t c = 0;
        for (const unsigned char *p = lp + TS_LP_HDR_SIZE; *p != TS_LP_EOF; p += entry_size(p))
            if (++c >= LP_COUNT_UNKNOWN) break;
        set_count(lp, c);
    }
    return lp;
}

/* If s points into lp, copies it to a heap buffer (returned in *own, to be
 * freed) so the splice can move lp's bytes freely. */
static const char *detach_src(const unsigned char *lp, const char *s, size_t len, char **own)
{
    *own = NULL;
    const char *b = (const char *)lp;
    if (len && s >= b && s < b + rd_u32(lp)) {
        *own = ts_malloc(len);
        memcpy(*own, s, len);
        return *own;
    }
    return s;
}

static unsigned char *insert_at(unsigned char *lp, size_t off, const char *s, size_t len, bool is_int, long long v,
                                unsigned char **newp)
{
    lp_enc e;
    char *own = NULL;
    if (is_int) {
        enc_int(&e, v);
    } else {
        s = detach_src(lp, s, len, &own);
        enc_str(&e, s, len);
    }
    lp = splice(lp, off, 0, &e, 1);
    free(own);
    if (newp) *newp = lp + off;
    return lp;
}

unsigned char *ts_lp_append(unsigned char *lp, const char *s, size_t len)
{
    return insert_at(lp, rd_u32(lp) - 1, s, len, false, 0, NULL);
}

unsigned char *ts_lp_prepend(unsigned char *lp, const char *s, size_t len)
{
    return insert_at(lp, TS_LP_HDR_SIZE, s, len, false, 0, NULL);
}

unsigned char *ts_lp_append_int(unsigned char *lp, long long v)
{
    return insert_at(lp, rd_u32(lp) - 1, NULL, 0, true, v, NULL);
}

unsigned char *ts_lp_insert(unsigned char *lp, const char *s, size_t len, unsigned char *p, int where,
                            unsigned char **newp)
{
    size_t off = (size_t)(p - lp);
    if (where == TS_LP_AFTER) off += entry_size(p);
    return insert_at(lp, off, s, len, false, 0, newp);
}

static unsigned char *replace_at(unsigned char *lp, unsigned char **p, const lp_enc *e)
{
    size_t off = (size_t)(*p - lp);
    lp = splice(lp, off, entry_size(*p), e, 0);
    *p = lp + off;
    return lp;
}

unsigned char *ts_lp_replace(unsigned char *lp, unsigned char **p, const char *s, size_t len)
{
    lp_enc e;
    char *own;
    s = detach_src(lp, s, len, &own);
    enc_str(&e, s, len);
    lp = replace_at(lp, p, &e);
    free(own);
    return lp;
}

unsigned char *ts_lp_replace_int(unsigned char *lp, unsigned char **p, long long v)
{
    lp_enc e;
    enc_int(&e, v);
    return replace_at(lp, p, &e);
}

/* ---- deletion ---- */

unsigned char *ts_lp_delete_range_at(unsigned char *lp, unsigned char **p, size_t num)
{
    size_t off = (size_t)(*p - lp);
    unsigned char *q = *p;
    size_t n = 0;
    while (n < num && *q != TS_LP_EOF) {
        q += entry_size(q);
        n++;
    }
    size_t del = (size_t)(q - *p);
    if (n) lp = splice(lp, off, del, NULL, -(long)n);
    *p = lp[off] == TS_LP_EOF ? NULL : lp + off;
    return lp;
}

unsigned char *ts_lp_delete(unsigned char *lp, unsigned char **p)
{
    return ts_lp_delete_range_at(lp, p, 1);
}

unsigned char *ts_lp_delete_range(unsigned char *lp, long index, size_t num)
{
    unsigned char *p = ts_lp_seek(lp, index);
    if (!p || num == 0) return lp;
    return ts_lp_delete_range_at(lp, &p, num);
}

/* ---- validation ---- */

bool ts_lp_validate(const unsigned char *lp, size_t size)
{
    if (!lp || size < TS_LP_HDR_SIZE + 1) return false;
    if (rd_u32(lp) != size) return false;
    if (lp[size - 1] != TS_LP_EOF) return false;
    const unsigned char *p = lp + TS_LP_HDR_SIZE, *end = lp + size - 1;
    size_t n = 0;
    while (p < end) {
        size_t room = (size_t)(end - p); /* bytes available before the EOF */
        unsigned char b = p[0];
        size_t l;
        if (b < 0x80) l = 1;
        else if ((b & 0xC0) == LP_ENC_6BIT_STR) l = 1 + (size_t)(b & 0x3F);
        else if ((b & 0xE0) == LP_ENC_13BIT_INT) l = 2;
        else if ((b & 0xF0) == LP_ENC_12BIT_STR) {
            if (room < 2) return false;
            l = 2 + ((size_t)(b & 0x0F) << 8 | p[1]);
        } else {
            switch (b) {
            case LP_ENC_32BIT_STR:
                if (room < 5) return false;
                l = 5 + (size_t)rd_u32(p + 1);
                break;
            case LP_ENC_16BIT_INT: l = 3; break;
            case LP_ENC_24BIT_INT: l = 4; break;
            case LP_ENC_32BIT_INT: l = 5; break;
            case LP_ENC_64BIT_INT: l = 9; break;
            default: return false; /* EOF inside, or an unused encoding */
            }
        }
        if (l > room) return false;
        size_t bl = backlen_size(l);
        if (bl > room - l) return false;
        /* The backlen must be exactly the canonical bl bytes encoding l. */
        const unsigned char *bp = p + l;
        size_t v = 0;
        for (size_t i = 0; i < bl; i++) {
            unsigned char c = bp[bl - 1 - i];
            bool more = (c & 128) != 0;
            if (more != (i + 1 < bl)) return false;
            v |= (size_t)(c & 127) << (7 * i);
        }
        if (v != l) return false;
        p += l + bl;
        n++;
    }
    if (p != end) return false;
    unsigned c = hdr_count(lp);
    if (c != LP_COUNT_UNKNOWN && c != n) return false;
    return true;
}
