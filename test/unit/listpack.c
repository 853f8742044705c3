/*
 * listpack.c (unit test) - the listpack encoder, navigation, editing and
 * integrity check.
 *
 * Byte compatibility is checked against blobs taken from a real Redis 7.0
 * (DUMP of a listpack hash with rdbcompression off): a small one in full,
 * two big ones by length and FNV-1a hash. Then every encoding boundary,
 * canonical-integer detection, editing at both ends and the middle, seeks
 * with negative indexes, walks in both directions, the 65535 "unknown
 * count" header, find with skip, a random model test, and validation of
 * good, truncated and randomly corrupted blobs (run it under ASan: a
 * corrupted blob must never make validate read out of bounds, and a blob
 * that validate accepts must be safe to walk).
 */
#include "tessera/types/listpack.h"

#include "ts_test.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRLEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---- */

#define rnd ts_test_rnd
#define rnd_below ts_test_rnd_below

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static unsigned char *from_hex(const char *hex, size_t *n)
{
    size_t len = strlen(hex) / 2;
    unsigned char *b = malloc(len);
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        b[i] = (unsigned char)v;
    }
    *n = len;
    return b;
}

static unsigned char *append_cstr(unsigned char *lp, const char *s) { return ts_lp_append(lp, s, strlen(s)); }

/* Element bytes at p equal s. */
static bool elem_is(unsigned char *p, const char *s, size_t len)
{
    char buf[32];
    size_t n;
    const unsigned char *q = ts_lp_get_str(p, buf, &n);
    return n == len && (len == 0 || memcmp(q, s, len) == 0);
}

/* Size in bytes of the entry at p (distance to the next entry or EOF). */
static size_t entry_bytes(unsigned char *lp, unsigned char *p)
{
    unsigned char *n = ts_lp_next(lp, p);
    if (n) return (size_t)(n - p);
    return (size_t)(lp + ts_lp_bytes(lp) - 1 - p);
}

/* Field/value hash-style listpack of vals (fields "0", "1", ...). */
static unsigned char *pairs(const char *const *vals, size_t n)
{
    unsigned char *lp = ts_lp_new();
    char f[24];
    for (size_t i = 0; i < n; i++) {
        snprintf(f, sizeof f, "%zu", i);
        lp = append_cstr(lp, f);
        lp = append_cstr(lp, vals[i]);
    }
    return lp;
}

/* ---- byte compatibility with Redis 7.0 ---- */

static const char redis_small_hex[] =
    "4401000040000001000101017f010201c080020301dfff020401cfff020501f10010030601d000020701f1ffef030801f1ff7f03"
    "0901f2008000040a01f10080030b01f2ff7fff040c01f2ffff7f040d01f300008000050e01f2000080040f01f3ffff7fff051001"
    "f3ffffff7f051101f40000008000000000091201f300000080051301f4ffffff7fffffffff091401f4ffffffffffffff7f091501"
    "f400000000000000800916018001170183303132041801822b31031901822d30031a01822031031b019339323233333732303336"
    "383534373735383038141c01942d39323233333732303336383534373735383039151d01bf616161616161616161616161616161"
    "616161616161616161616161616161616161616161616161616161616161616161616161616161616161616161616161401e0183"
    "312e35041f018361626304ff";

static void test_redis_bytes(void)
{
    static const char a63[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const char *small[] = {"0", "127", "128", "-1", "4095", "4096", "-4096", "-4097", "32767", "32768",
                           "-32768", "-32769", "8388607", "8388608", "-8388608", "-8388609", "2147483647",
                           "2147483648", "-2147483648", "-2147483649", "9223372036854775807",
                           "-9223372036854775808", "", "012", "+1", "-0", " 1", "9223372036854775808",
                           "-9223372036854775809", a63, "1.5", "abc"};
    size_t n = ARRLEN(small);
    unsigned char *lp = pairs(small, n);
    size_t rn;
    unsigned char *ref = from_hex(redis_small_hex, &rn);
    CHECK_EQ_INT(ts_lp_bytes(lp), rn);
    CHECK(ts_lp_bytes(lp) == rn && memcmp(lp, ref, rn) == 0);
    CHECK(ts_lp_validate(ref, rn));
    CHECK_EQ_INT(ts_lp_length(ref), 2 * n);
    /* Reading Redis's blob gives back every value. */
    unsigned char *p = ts_lp_first(ref);
    for (size_t i = 0; i < n; i++) {
        char f[24];
        snprintf(f, sizeof f, "%zu", i);
        CHECK(p && ts_lp_eq(p, f, strlen(f)));
        p = ts_lp_next(ref, p);
        CHECK(p && elem_is(p, small[i], strlen(small[i])));
        p = ts_lp_next(ref, p);
    }
    CHECK(p == NULL);
    free(ref);
    ts_lp_free(lp);

    /* Big strings: lengths chosen around the 6/12/32-bit string and the
     * 1/2/3-byte backlen boundaries (Redis gives 16383 three bytes). */
    static const struct { size_t lens[6]; size_t n; size_t bytes; uint64_t fnv; } big[] = {
        {{64, 125, 126, 127, 4095, 4096}, 6, 8677, 0x34a8bf9dd3fd3081ull},
        {{16377, 16378, 16379, 16383, 70000}, 5, 135573, 0x47ea7a75b698d6cull},
    };
    for (size_t b = 0; b < ARRLEN(big); b++) {
        char *vals[6];
        for (size_t i = 0; i < big[b].n; i++) {
            vals[i] = malloc(big[b].lens[i] + 1);
            memset(vals[i], 'x', big[b].lens[i]);
            vals[i][big[b].lens[i]] = 0;
        }
        lp = pairs((const char *const *)vals, big[b].n);
        CHECK_EQ_INT(ts_lp_bytes(lp), big[b].bytes);
        CHECK(fnv1a(lp, ts_lp_bytes(lp)) == big[b].fnv);
        CHECK(ts_lp_validate(lp, ts_lp_bytes(lp)));
        for (size_t i = 0; i < big[b].n; i++) free(vals[i]);
        ts_lp_free(lp);
    }
}

/* ---- encodings ---- */

static void test_int_encodings(void)
{
    static const struct { long long v; size_t bytes; } cases[] = {
        {0, 2}, {1, 2}, {127, 2}, {128, 3}, {-1, 3}, {4095, 3}, {-4096, 3}, {4096, 4}, {-4097, 4},
        {32767, 4}, {-32768, 4}, {32768, 5}, {-32769, 5}, {8388607, 5}, {-8388608, 5}, {8388608, 6},
        {-8388609, 6}, {2147483647LL, 6}, {-2147483648LL, 6}, {2147483648LL, 10}, {-2147483649LL, 10},
        {INT64_MAX, 10}, {INT64_MIN, 10},
    };
    for (size_t i = 0; i < ARRLEN(cases); i++) {
        char s[32];
        snprintf(s, sizeof s, "%lld", cases[i].v);
        for (int via_int = 0; via_int < 2; via_int++) {
            unsigned char *lp = ts_lp_new();
            lp = via_int ? ts_lp_append_int(lp, cases[i].v) : append_cstr(lp, s);
            unsigned char *p = ts_lp_first(lp);
            CHECK(p != NULL);
            CHECK_EQ_INT(entry_bytes(lp, p), cases[i].bytes);
            CHECK_EQ_INT(ts_lp_bytes(lp), TS_LP_HDR_SIZE + 1 + cases[i].bytes);
            ts_lp_val v;
            ts_lp_get(p, &v);
            CHECK(v.str == NULL);
            CHECK(v.ll == cases[i].v);
            CHECK(elem_is(p, s, strlen(s)));
            CHECK(ts_lp_eq(p, s, strlen(s)));
            CHECK(ts_lp_validate(lp, ts_lp_bytes(lp)));
            ts_lp_free(lp);
        }
    }
    /* Every 13-bit value and a sweep of 16/24-bit values round-trip. */
    unsigned char *lp = ts_lp_new();
    for (long long v = -5000; v <= 5000; v++) lp = ts_lp_append_int(lp, v);
    for (long long v = -9000000; v <= 9000000; v += 977) lp = ts_lp_append_int(lp, v);
    long long expect = -5000;
    bool ok = true, sweep = false;
    for (unsigned char *p = ts_lp_first(lp); p; p = ts_lp_next(lp, p)) {
        ts_lp_val v;
        ts_lp_get(p, &v);
        if (v.str || v.ll != expect) ok = false;
        if (!sweep && expect == 5000) { sweep = true; expect = -9000000; }
        else expect += sweep ? 977 : 1;
    }
    CHECK(expect == -9000000 + 977 * (18000000 / 977 + 1));
    CHECK(ok);
    CHECK(ts_lp_validate(lp, ts_lp_bytes(lp)));
    ts_lp_free(lp);
}

static void test_canonical(void)
{
    static const char *ints[] = {"12", "0", "-1", "9223372036854775807", "-9223372036854775808", "127", "-4096"};
    static const char *strs[] = {"012", "+1", "-0", " 1", "1 ", "", "-", "00", "1.0", "1e3", "0x10",
                                 "9223372036854775808", "-9223372036854775809", "99999999999999999999", "--1",
                                 "1\0"};
    for (size_t i = 0; i < ARRLEN(ints); i++) {
        unsigned char *lp = append_cstr(ts_lp_new(), ints[i]);
        ts_lp_val v;
        ts_lp_get(ts_lp_first(lp), &v);
        CHECK(v.str == NULL);
        CHECK(elem_is(ts_lp_first(lp), ints[i], strlen(ints[i])));
        ts_lp_free(lp);
    }
    for (size_t i = 0; i < ARRLEN(strs); i++) {
        size_t len = strlen(strs[i]) + (i == ARRLEN(strs) - 1); /* last one: "1\0", 2 bytes */
        unsigned char *lp = ts_lp_append(ts_lp_new(), strs[i], len);
        ts_lp_val v;
        unsigned char *p = ts_lp_first(lp);
        ts_lp_get(p, &v);
        CHECK(v.str != NULL && v.len == len && memcmp(v.str, strs[i], len) == 0);
        CHECK(ts_lp_eq(p, strs[i], len));
        ts_lp_free(lp);
    }
    /* An integer element equals only its canonical form. */
    unsigned char *lp = append_cstr(ts_lp_new(), "12");
    unsigned char *p = ts_lp_first(lp);
    CHECK(ts_lp_eq(p, "12", 2));
    CHECK(!ts_lp_eq(p, "012", 3));
    CHECK(!ts_lp_eq(p, "+12", 3));
    CHECK(!ts_lp_eq(p, "12 ", 3));
    CHECK(!ts_lp_eq(p, "13", 2));
    CHECK(!ts_lp_eq(p, "", 0));
    ts_lp_free(lp);
    lp = ts_lp_append(ts_lp_new(), "", 0);
    CHECK(ts_lp_eq(ts_lp_first(lp), "", 0));
    CHECK(!ts_lp_eq(ts_lp_first(lp), "0", 1));
    ts_lp_free(lp);
}

static void test_string_encodings(void)
{
    static const struct { size_t len; size_t bytes; } cases[] = {
        /* 6-bit: 1 + len + backlen(1 + len) */
        {0, 2}, {1, 3}, {63, 65},
        /* 12-bit: 2 + len + backlen */
        {64, 67}, {125, 128}, {126, 130}, {4095, 4099},
        /* 32-bit: 5 + len + backlen */
        {4096, 4103}, {16377, 16384}, {16378, 16386}, {100000, 100008}, {3000000, 3000009},
    };
    for (size_t i = 0; i < ARRLEN(cases); i++) {
        size_t len = cases[i].len;
        char *s = malloc(len + 1);
        for (size_t j = 0; j < len; j++) s[j] = (char)('a' + j % 26);
        unsigned char *lp = ts_lp_new();
        lp = append_cstr(lp, "head");
        lp = ts_lp_append(lp, s, len);
        lp = append_cstr(lp, "tail");
        unsigned char *p = ts_lp_seek(lp, 1);
        CHECK_EQ_INT(entry_bytes(lp, p), cases[i].bytes);
        ts_lp_val v;
        ts_lp_get(p, &v);
        CHECK(v.str != NULL && v.len == len && (len == 0 || memcmp(v.str, s, len) == 0));
        /* prev from the tail crosses the big entry's backlen. */
        unsigned char *t = ts_lp_last(lp);
        CHECK(elem_is(t, "tail", 4));
        CHECK(ts_lp_prev(lp, t) == p);
        CHECK(elem_is(ts_lp_prev(lp, p), "head", 4));
        CHECK(ts_lp_validate(lp, ts_lp_bytes(lp)));
        CHECK(ts_lp_find(lp, ts_lp_first(lp), s, len, 0) == p);
        ts_lp_free(lp);
        free(s);
    }
}

/* ---- editing ---- */

static bool lp_matches(unsigned char *lp, const char *const *exp, size_t n)
{
    if (ts_lp_length(lp) != n) return false;
    if (!ts_lp_validate(lp, ts_lp_bytes(lp))) return false;
    unsigned char *p = ts_lp_first(lp);
    for (size_t i = 0; i < n; i++, p = ts_lp_next(lp, p))
        if (!p || !elem_is(p, exp[i], strlen(exp[i]))) return false;
    if (p) return false;
    p = ts_lp_last(lp);
    for (size_t i = n; i-- > 0; p = ts_lp_prev(lp, p))
        if (!p || !elem_is(p, exp[i], strlen(exp[i]))) return false;
    return p == NULL;
}

static void test_edit(void)
{
    unsigned char *lp = ts_lp_new();
    CHECK_EQ_INT(ts_lp_length(lp), 0);
    CHECK_EQ_INT(ts_lp_bytes(lp), 7);
    CHECK(ts_lp_first(lp) == NULL && ts_lp_last(lp) == NULL);
    CHECK(ts_lp_seek(lp, 0) == NULL && ts_lp_seek(lp, -1) == NULL);
    CHECK(ts_lp_validate(lp, 7));

    lp = append_cstr(lp, "b");
    lp = ts_lp_prepend(lp, "a", 1);
    lp = append_cstr(lp, "d");
    { const char *e[] = {"a", "b", "d"}; CHECK(lp_matches(lp, e, 3)); }

    unsigned char *p = ts_lp_seek(lp, 1), *np = NULL;
    lp = ts_lp_insert(lp, "c", 1, p, TS_LP_AFTER, &np);
    CHECK(np && elem_is(np, "c", 1));
    p = ts_lp_first(lp);
    lp = ts_lp_insert(lp, "0", 1, p, TS_LP_BEFORE, &np);
    CHECK(np == ts_lp_first(lp));
    p = ts_lp_last(lp);
    lp = ts_lp_insert(lp, "e", 1, p, TS_LP_AFTER, &np);
    CHECK(np == ts_lp_last(lp));
    { const char *e[] = {"0", "a", "b", "c", "d", "e"}; CHECK(lp_matches(lp, e, 6)); }

    /* Replace at head (int -> long string), middle (shrink), tail (int). */
    p = ts_lp_first(lp);
    char big[300];
    memset(big, 'Z', sizeof big - 1);
    big[sizeof big - 1] = 0;
    lp = ts_lp_replace(lp, &p, big, strlen(big));
    CHECK(p == ts_lp_first(lp) && elem_is(p, big, strlen(big)));
    p = ts_lp_seek(lp, 2);
    lp = ts_lp_replace(lp, &p, "", 0);
    CHECK(elem_is(p, "", 0));
    p = ts_lp_last(lp);
    lp = ts_lp_replace_int(lp, &p, -123456789012LL);
    CHECK(p == ts_lp_last(lp) && elem_is(p, "-123456789012", 13));
    { const char *e[] = {big, "a", "", "c", "d", "-123456789012"}; CHECK(lp_matches(lp, e, 6)); }
    p = ts_lp_first(lp);
    lp = ts_lp_replace(lp, &p, "x", 1);
    { const char *e[] = {"x", "a", "", "c", "d", "-123456789012"}; CHECK(lp_matches(lp, e, 6)); }

    /* Delete at head, middle, tail. */
    p = ts_lp_first(lp);
    lp = ts_lp_delete(lp, &p);
    CHECK(p == ts_lp_first(lp) && elem_is(p, "a", 1));
    p = ts_lp_seek(lp, 1);
    lp = ts_lp_delete(lp, &p);
    CHECK(p && elem_is(p, "c", 1));
    p = ts_lp_last(lp);
    lp = ts_lp_delete(lp, &p);
    CHECK(p == NULL);
    { const char *e[] = {"a", "c", "d"}; CHECK(lp_matches(lp, e, 3)); }

    /* Ranges: past the end, by negative index, whole. */
    p = ts_lp_seek(lp, 1);
    lp = ts_lp_delete_range_at(lp, &p, 100);
    CHECK(p == NULL);
    { const char *e[] = {"a"}; CHECK(lp_matches(lp, e, 1)); }
    for (int i = 0; i < 10; i++) {
        char s[8];
        snprintf(s, sizeof s, "v%d", i);
        lp = append_cstr(lp, s);
    }
    lp = ts_lp_delete_range(lp, -3, 2); /* v7 v8 */
    lp = ts_lp_delete_range(lp, 0, 2);  /* a v0 */
    lp = ts_lp_delete_range(lp, 50, 2); /* nothing */
    lp = ts_lp_delete_range(lp, -50, 2); /* nothing */
    lp = ts_lp_delete_range(lp, 1, 0);  /* nothing */
    { const char *e[] = {"v1", "v2", "v3", "v4", "v5", "v6", "v9"}; CHECK(lp_matches(lp, e, 7)); }
    lp = ts_lp_delete_range(lp, 0, 7);
    CHECK_EQ_INT(ts_lp_length(lp), 0);
    CHECK_EQ_INT(ts_lp_bytes(lp), 7);
    CHECK(ts_lp_first(lp) == NULL);

    /* A source that points into the listpack itself survives the move. */
    lp = append_cstr(lp, "the-source-string-which-is-moved");
    for (int i = 0; i < 20; i++) {
        ts_lp_val v;
        ts_lp_get(ts_lp_first(lp), &v);
        lp = ts_lp_prepend(lp, (const char *)v.str, v.len);
    }
    ts_lp_val v;
    ts_lp_get(ts_lp_first(lp), &v);
    p = ts_lp_last(lp);
    lp = ts_lp_replace(lp, &p, (const char *)v.str, v.len);
    bool ok = true;
    for (p = ts_lp_first(lp); p; p = ts_lp_next(lp, p))
        if (!elem_is(p, "the-source-string-which-is-moved", 32)) ok = false;
    CHECK(ok);
    CHECK_EQ_INT(ts_lp_length(lp), 21);
    ts_lp_free(lp);
}

static void test_seek_walk(void)
{
    unsigned char *lp = ts_lp_new();
    enum { N = 300 };
    for (int i = 0; i < N; i++) {
        char s[24];
        snprintf(s, sizeof s, i % 3 ? "s%d" : "%d", i);
        lp = append_cstr(lp, s);
    }
    bool ok = true;
    for (long i = -N - 2; i < N + 2; i++) {
        unsigned char *p = ts_lp_seek(lp, i);
        long idx = i < 0 ? i + N : i;
        if (idx < 0 || idx >= N) { if (p) ok = false; continue; }
        char s[24];
        snprintf(s, sizeof s, idx % 3 ? "s%ld" : "%ld", idx);
        if (!p || !elem_is(p, s, strlen(s))) ok = false;
    }
    CHECK(ok);
    /* Walk forward then back from every position. */
    ok = true;
    unsigned char *p = ts_lp_first(lp);
    for (int i = 0; i < N; i++) {
        if (!p) { ok = false; break; }
        unsigned char *q = ts_lp_next(lp, p);
        if (q && ts_lp_prev(lp, q) != p) ok = false;
        if (!q && (i != N - 1 || ts_lp_last(lp) != p)) ok = false;
        p = q;
    }
    CHECK(ok);
    CHECK(ts_lp_prev(lp, ts_lp_first(lp)) == NULL);
    CHECK(ts_lp_next(lp, ts_lp_last(lp)) == NULL);
    ts_lp_free(lp);
}

static void test_big_count(void)
{
    unsigned char *lp = ts_lp_new();
    enum { N = 70000 };
    for (int i = 0; i < N; i++) lp = ts_lp_append_int(lp, i);
    CHECK_EQ_INT(lp[4] | lp[5] << 8, 65535);
    CHECK_EQ_INT(ts_lp_length(lp), N);
    CHECK(ts_lp_validate(lp, ts_lp_bytes(lp)));
    ts_lp_val v;
    ts_lp_get(ts_lp_seek(lp, -1), &v);
    CHECK_EQ_INT(v.ll, N - 1);
    ts_lp_get(ts_lp_seek(lp, N - 1), &v);
    CHECK_EQ_INT(v.ll, N - 1);
    ts_lp_get(ts_lp_seek(lp, -N), &v);
    CHECK_EQ_INT(v.ll, 0);
    ts_lp_get(ts_lp_seek(lp, 40000), &v);
    CHECK_EQ_INT(v.ll, 40000);
    CHECK(ts_lp_seek(lp, N) == NULL);
    CHECK(ts_lp_seek(lp, -N - 1) == NULL);
    /* Still unknown after deleting a few; known again below 65535. */
    lp = ts_lp_delete_range(lp, 0, 1000);
    CHECK_EQ_INT(ts_lp_length(lp), N - 1000);
    CHECK(ts_lp_validate(lp, ts_lp_bytes(lp)));
    lp = ts_lp_delete_range(lp, -10000, 10000);
    CHECK_EQ_INT(ts_lp_length(lp), N - 11000);
    CHECK_EQ_INT(lp[4] | lp[5] << 8, N - 11000);
    CHECK(ts_lp_validate(lp, ts_lp_bytes(lp)));
    ts_lp_get(ts_lp_first(lp), &v);
    CHECK_EQ_INT(v.ll, 1000);
    ts_lp_get(ts_lp_last(lp), &v);
    CHECK_EQ_INT(v.ll, N - 10001);
    /* Exactly 65535 is "unknown" too (Redis's convention). */
    ts_lp_free(lp);
    lp = ts_lp_new();
    for (int i = 0; i < 65535; i++) lp = ts_lp_append_int(lp, 1);
    CHECK_EQ_INT(lp[4] | lp[5] << 8, 65535);
    CHECK_EQ_INT(ts_lp_length(lp), 65535);
    CHECK(ts_lp_validate(lp, ts_lp_bytes(lp)));
    unsigned char *p = ts_lp_first(lp);
    lp = ts_lp_delete(lp, &p);
    CHECK_EQ_INT(lp[4] | lp[5] << 8, 65534);
    ts_lp_free(lp);
}

static void test_find(void)
{
    /* field/value pairs where values look like fields: skip must only
     * look at fields. */
    unsigned char *lp = ts_lp_new();
    const char *kv[] = {"a", "b", "b", "c", "c", "a", "10", "10", "x", "-5", "-5", "x", "", "e"};
    for (size_t i = 0; i < ARRLEN(kv); i++) lp = append_cstr(lp, kv[i]);
    unsigned char *f = ts_lp_first(lp);
    CHECK(ts_lp_find(lp, f, "a", 1, 1) == ts_lp_seek(lp, 0));
    CHECK(ts_lp_find(lp, f, "b", 1, 1) == ts_lp_seek(lp, 2));
    CHECK(ts_lp_find(lp, f, "c", 1, 1) == ts_lp_seek(lp, 4));
    CHECK(ts_lp_find(lp, f, "10", 2, 1) == ts_lp_seek(lp, 6));
    CHECK(ts_lp_find(lp, f, "x", 1, 1) == ts_lp_seek(lp, 8));
    CHECK(ts_lp_find(lp, f, "-5", 2, 1) == ts_lp_seek(lp, 10));
    CHECK(ts_lp_find(lp, f, "", 0, 1) == ts_lp_seek(lp, 12));
    CHECK(ts_lp_find(lp, f, "e", 1, 1) == NULL); /* only as a value */
    CHECK(ts_lp_find(lp, f, "010", 3, 1) == NULL);
    CHECK(ts_lp_find(lp, f, "e", 1, 0) == ts_lp_seek(lp, 13));
    CHECK(ts_lp_find(lp, ts_lp_seek(lp, 1), "b", 1, 1) == ts_lp_seek(lp, 1)); /* starting on a value */
    CHECK(ts_lp_find(lp, ts_lp_seek(lp, 1), "a", 1, 1) == ts_lp_seek(lp, 5));
    CHECK(ts_lp_find(lp, ts_lp_seek(lp, 3), "a", 1, 0) == ts_lp_seek(lp, 5));
    CHECK(ts_lp_find(lp, NULL, "a", 1, 0) == NULL);
    /* skip 2 over an odd tail never runs past the end */
    CHECK(ts_lp_find(lp, f, "zz", 2, 2) == NULL);
    CHECK(ts_lp_find(lp, f, "zz", 2, 5) == NULL);
    ts_lp_free(lp);
}

/* ---- random model test ---- */

typedef struct mstr { char *p; size_t n; } mstr;

static mstr rnd_value(void)
{
    char buf[64];
    mstr m;
    switch (rnd_below(8)) {
    case 0: snprintf(buf, sizeof buf, "%lld", (long long)rnd_below(200) - 50); break;
    case 1: snprintf(buf, sizeof buf, "%lld", (long long)(rnd() >> rnd_below(64))); break;
    case 2: snprintf(buf, sizeof buf, "-%llu", (unsigned long long)(rnd() >> rnd_below(64))); break;
    case 3: snprintf(buf, sizeof buf, "0%d", (int)rnd_below(100)); break;
    case 4: {
        size_t n = rnd_below(20) == 0 ? 4000 + rnd_below(200) : rnd_below(140);
        m.p = malloc(n + 1);
        for (size_t i = 0; i < n; i++) m.p[i] = (char)rnd();
        m.n = n;
        return m;
    }
    default: snprintf(buf, sizeof buf, "v%d", (int)rnd_below(1000)); break;
    }
    m.n = strlen(buf);
    m.p = malloc(m.n + 1);
    memcpy(m.p, buf, m.n);
    return m;
}

static void test_random_model(void)
{
    enum { CAP = 400, OPS = 60000 };
    mstr *model = calloc(CAP + 1, sizeof *model);
    size_t n = 0;
    unsigned char *lp = ts_lp_new();
    bool ok = true;
    for (int op = 0; op < OPS && ok; op++) {
        int kind = (int)rnd_below(n >= CAP ? 3 : 7);
        if (n == 0) kind = 3;
        size_t idx = n ? rnd_below(n) : 0;
        if (kind == 0) { /* delete one */
            unsigned char *p = ts_lp_seek(lp, (long)idx);
            lp = ts_lp_delete(lp, &p);
            free(model[idx].p);
            memmove(model + idx, model + idx + 1, (n - idx - 1) * sizeof *model);
            n--;
            if (idx < n ? !(p && elem_is(p, model[idx].p, model[idx].n)) : p != NULL) ok = false;
        } else if (kind == 1) { /* delete a range by negative index */
            size_t cnt = rnd_below(5);
            long neg = (long)idx - (long)n;
            lp = ts_lp_delete_range(lp, neg, cnt);
            if (cnt > n - idx) cnt = n - idx;
            for (size_t i = idx; i < idx + cnt; i++) free(model[i].p);
            memmove(model + idx, model + idx + cnt, (n - idx - cnt) * sizeof *model);
            n -= cnt;
        } else if (kind == 2) { /* replace */
            mstr m = rnd_value();
            unsigned char *p = ts_lp_seek(lp, (long)idx);
            lp = ts_lp_replace(lp, &p, m.p, m.n);
            if (!elem_is(p, m.p, m.n)) ok = false;
            free(model[idx].p);
            model[idx] = m;
        } else { /* insert */
            mstr m = rnd_value();
            int how = (int)rnd_below(4);
            if (n == 0) how = (int)rnd_below(2);
            if (how == 0) {
                lp = ts_lp_append(lp, m.p, m.n);
                idx = n;
            } else if (how == 1) {
                lp = ts_lp_prepend(lp, m.p, m.n);
                idx = 0;
            } else {
                unsigned char *p = ts_lp_seek(lp, (long)idx - (long)n), *np;
                lp = ts_lp_insert(lp, m.p, m.n, p, how == 2 ? TS_LP_BEFORE : TS_LP_AFTER, &np);
                if (how == 3) idx++;
                if (!elem_is(np, m.p, m.n)) ok = false;
            }
            memmove(model + idx + 1, model + idx, (n - idx) * sizeof *model);
            model[idx] = m;
            n++;
        }
        if (op % 97 == 0 || n < 3) {
            if (ts_lp_length(lp) != n || !ts_lp_validate(lp, ts_lp_bytes(lp))) ok = false;
            unsigned char *p = ts_lp_first(lp);
            for (size_t i = 0; i < n && ok; i++, p = ts_lp_next(lp, p))
                if (!p || !elem_is(p, model[i].p, model[i].n)) ok = false;
            if (n && ok) {
                size_t j = rnd_below(n);
                unsigned char *q = ts_lp_find(lp, ts_lp_first(lp), model[j].p, model[j].n, 0);
                if (!q || !elem_is(q, model[j].p, model[j].n)) ok = false;
            }
        }
    }
    CHECK(ok);
    for (size_t i = 0; i < n; i++) free(model[i].p);
    free(model);
    ts_lp_free(lp);
}

/* ---- validation ---- */

/* Walks a blob that validated, reading every element both ways. */
static size_t walk_all(unsigned char *lp)
{
    size_t n = 0, sum = 0;
    char buf[32];
    for (unsigned char *p = ts_lp_first(lp); p; p = ts_lp_next(lp, p), n++) {
        size_t len;
        const unsigned char *s = ts_lp_get_str(p, buf, &len);
        if (len) sum += s[0] + s[len - 1];
    }
    for (unsigned char *p = ts_lp_last(lp); p; p = ts_lp_prev(lp, p)) n--;
    (void)sum;
    return n; /* 0 when both walks agree */
}

static unsigned char *sample_blob(void)
{
    unsigned char *lp = ts_lp_new();
    const char *vals[] = {"1", "-1", "300", "-70000", "5000000000", "", "abc", "012"};
    for (size_t i = 0; i < ARRLEN(vals); i++) lp = append_cstr(lp, vals[i]);
    char s[5000];
    memset(s, 'q', sizeof s);
    lp = ts_lp_append(lp, s, 100);
    lp = ts_lp_append(lp, s, 5000);
    lp = ts_lp_append(lp, s, 63);
    lp = ts_lp_append_int(lp, INT64_MIN);
    return lp;
}

static void test_validate(void)
{
    CHECK(!ts_lp_validate(NULL, 0));
    unsigned char *lp = sample_blob();
    size_t n = ts_lp_bytes(lp);
    CHECK(ts_lp_validate(lp, n));

    /* Every truncation (copied to an exact-size buffer so ASan sees any
     * over-read), with the header size patched to match or not. */
    bool ok = true;
    for (size_t cut = 0; cut < n; cut++) {
        unsigned char *b = malloc(cut ? cut : 1);
        memcpy(b, lp, cut);
        if (ts_lp_validate(b, cut)) ok = false;
        if (cut >= 4) {
            b[0] = (unsigned char)cut;
            b[1] = (unsigned char)(cut >> 8);
            b[2] = (unsigned char)(cut >> 16);
            b[3] = (unsigned char)(cut >> 24);
            if (cut > 0 && cut < n - 1) b[cut - 1] = TS_LP_EOF;
            if (cut != 7 && ts_lp_validate(b, cut)) ok = false;
        }
        free(b);
    }
    CHECK(ok);

    /* Specific corruptions. */
    unsigned char *b = malloc(n);
    memcpy(b, lp, n);
    b[4] ^= 1; /* count */
    CHECK(!ts_lp_validate(b, n));
    memcpy(b, lp, n);
    b[4] = b[5] = 0xFF; /* unknown count is fine */
    CHECK(ts_lp_validate(b, n));
    memcpy(b, lp, n);
    b[n - 1] = 0; /* no EOF */
    CHECK(!ts_lp_validate(b, n));
    memcpy(b, lp, n);
    b[0]++; /* total bytes */
    CHECK(!ts_lp_validate(b, n));
    memcpy(b, lp, n);
    b[TS_LP_HDR_SIZE] = 0xF7; /* unused encoding */
    CHECK(!ts_lp_validate(b, n));
    memcpy(b, lp, n);
    b[TS_LP_HDR_SIZE] = TS_LP_EOF; /* EOF in the middle */
    CHECK(!ts_lp_validate(b, n));
    memcpy(b, lp, n);
    b[TS_LP_HDR_SIZE + 1] = 2; /* backlen of entry 0 (value 1, backlen 1) */
    CHECK(!ts_lp_validate(b, n));
    free(b);
    ts_lp_free(lp);

    /* The Redis blob, every byte flipped in turn and random multi-byte
     * damage; whatever validate accepts must be walkable. */
    size_t rn;
    unsigned char *ref = from_hex(redis_small_hex, &rn);
    lp = sample_blob();
    n = ts_lp_bytes(lp);
    size_t accepted = 0, rejected = 0;
    for (int round = 0; round < 2; round++) {
        unsigned char *src = round ? ref : lp;
        size_t sz = round ? rn : n;
        unsigned char *c = malloc(sz);
        for (size_t i = 0; i < sz; i++) {
            for (int bit = 0; bit < 8; bit++) {
                memcpy(c, src, sz);
                c[i] ^= (unsigned char)(1u << bit);
                if (ts_lp_validate(c, sz)) {
                    accepted++;
                    if (walk_all(c) != 0) ok = false;
                } else {
                    rejected++;
                }
            }
        }
        for (int it = 0; it < 20000; it++) {
            memcpy(c, src, sz);
            int flips = 1 + (int)rnd_below(4);
            for (int k = 0; k < flips; k++) c[rnd_below(sz)] = (unsigned char)rnd();
            if (ts_lp_validate(c, sz)) {
                accepted++;
                if (walk_all(c) != 0) ok = false;
            } else {
                rejected++;
            }
        }
        free(c);
    }
    printf("validate fuzz: %zu accepted (string payload damage), %zu rejected\n", accepted, rejected);
    CHECK(ok);
    CHECK(rejected > 10000);
    free(ref);
    ts_lp_free(lp);
}

int main(void)
{
    ts_test_rng = 0x9E3779B97F4A7C15ull;   /* the seed this test has always used */
    test_redis_bytes();
    test_int_encodings();
    test_canonical();
    test_string_encodings();
    test_edit();
    test_seek_walk();
    test_big_count();
    test_find();
    test_random_model();
    test_validate();
    TS_TEST_MAIN_END();
}
