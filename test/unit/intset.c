/*
 * intset.c (unit test) - the intset of src/types/intset.c.
 *
 * Checks the byte format (header fields, little-endian elements, exact
 * allocation size), width upgrades 16 -> 32 -> 64 bits at the boundaries
 * of each width, ordering and search against a shadow model under random
 * adds and removes, and that ts_intset_validate accepts every intset this
 * module builds and rejects corrupt blobs without reading out of bounds
 * (random corruption; run it under ASan).
 */
#include "tessera/types/intset.h"

#include "ts_test.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define rnd ts_test_rnd

static uint32_t rd32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static bool sorted_unique(const ts_intset *is)
{
    for (uint32_t i = 1; i < ts_intset_len(is); i++)
        if (ts_intset_get(is, i - 1) >= ts_intset_get(is, i)) return false;
    return true;
}

static void test_format(void)
{
    ts_intset *is = ts_intset_new();
    CHECK_EQ_INT(ts_intset_len(is), 0);
    CHECK_EQ_INT(ts_intset_width(is), 2);
    CHECK_EQ_INT(ts_intset_bytes(is), 8);
    bool added;
    is = ts_intset_add(is, 5, &added);
    CHECK(added);
    is = ts_intset_add(is, -1, &added);
    is = ts_intset_add(is, 5, &added);
    CHECK(!added);
    CHECK_EQ_INT(ts_intset_len(is), 2);
    /* encoding 2, length 2, then -1 and 5 as little-endian int16 */
    static const uint8_t want[] = {2, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff, 5, 0};
    CHECK_EQ_INT(ts_intset_bytes(is), sizeof want);
    CHECK(memcmp(is, want, sizeof want) == 0);
    CHECK(ts_intset_validate(is, ts_intset_bytes(is)));
    free(is);
}

static void test_upgrades(void)
{
    ts_intset *is = ts_intset_new();
    is = ts_intset_add(is, 32767, NULL);
    is = ts_intset_add(is, -32768, NULL);
    CHECK_EQ_INT(ts_intset_width(is), 2);
    is = ts_intset_add(is, 32768, NULL);          /* 16 -> 32, appended at the end */
    CHECK_EQ_INT(ts_intset_width(is), 4);
    CHECK_EQ_INT(ts_intset_get(is, 0), -32768);
    CHECK_EQ_INT(ts_intset_get(is, 1), 32767);
    CHECK_EQ_INT(ts_intset_get(is, 2), 32768);
    is = ts_intset_add(is, INT32_MIN, NULL);
    is = ts_intset_add(is, INT32_MAX, NULL);
    CHECK_EQ_INT(ts_intset_width(is), 4);
    is = ts_intset_add(is, (int64_t)INT32_MIN - 1, NULL); /* 32 -> 64, prepended */
    CHECK_EQ_INT(ts_intset_width(is), 8);
    CHECK_EQ_INT(ts_intset_get(is, 0), (int64_t)INT32_MIN - 1);
    is = ts_intset_add(is, INT64_MAX, NULL);
    is = ts_intset_add(is, INT64_MIN, NULL);
    CHECK_EQ_INT(ts_intset_len(is), 8);
    CHECK_EQ_INT(ts_intset_get(is, 0), INT64_MIN);
    CHECK_EQ_INT(ts_intset_get(is, 7), INT64_MAX);
    CHECK_EQ_INT(ts_intset_bytes(is), 8 + 8 * 8);
    CHECK(sorted_unique(is));
    CHECK(ts_intset_find(is, INT64_MIN));
    CHECK(ts_intset_find(is, 32767));
    CHECK(!ts_intset_find(is, 0));
    CHECK(ts_intset_validate(is, ts_intset_bytes(is)));
    /* A 16-bit set upgraded straight to 64 bits. */
    ts_intset *b = ts_intset_new();
    b = ts_intset_add(b, 1, NULL);
    b = ts_intset_add(b, -2, NULL);
    b = ts_intset_add(b, INT64_MIN, NULL);
    CHECK_EQ_INT(ts_intset_width(b), 8);
    CHECK_EQ_INT(ts_intset_get(b, 0), INT64_MIN);
    CHECK_EQ_INT(ts_intset_get(b, 1), -2);
    CHECK_EQ_INT(ts_intset_get(b, 2), 1);
    /* A wide value is never found in a narrow set, and removing it is a no-op. */
    ts_intset *c = ts_intset_new();
    c = ts_intset_add(c, 7, NULL);
    CHECK(!ts_intset_find(c, 7 + 65536));
    bool removed;
    c = ts_intset_remove(c, (int64_t)1 << 40, &removed);
    CHECK(!removed);
    /* Removal never narrows the width. */
    is = ts_intset_remove(is, INT64_MIN, &removed);
    CHECK(removed);
    is = ts_intset_remove(is, INT64_MAX, &removed);
    is = ts_intset_remove(is, (int64_t)INT32_MIN - 1, &removed);
    CHECK_EQ_INT(ts_intset_width(is), 8);
    CHECK_EQ_INT(ts_intset_len(is), 5);
    CHECK_EQ_INT(ts_intset_bytes(is), 8 + 5 * 8);
    free(is);
    free(b);
    free(c);
}

/* Random adds and removes against a sorted shadow array. */
static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t pick_value(void)
{
    static const int64_t edges[] = {0, 1, -1, INT16_MAX, INT16_MIN, INT16_MAX + 1, INT16_MIN - 1,
                                    INT32_MAX, INT32_MIN, (int64_t)INT32_MAX + 1, (int64_t)INT32_MIN - 1,
                                    INT64_MAX, INT64_MIN};
    switch (rnd() % 4) {
    case 0: return edges[rnd() % (sizeof edges / sizeof edges[0])];
    case 1: return (int64_t)(rnd() % 200) - 100;
    case 2: return (int64_t)(int32_t)rnd() % 100000;
    default: return (int64_t)(rnd() % 1000) * ((int64_t)1 << 33);
    }
}

static void test_random_model(void)
{
    int64_t model[4096];
    size_t n = 0;
    ts_intset *is = ts_intset_new();
    int bad = 0;
    for (int step = 0; step < 200000; step++) {
        int64_t v = pick_value();
        bool in_model = bsearch(&v, model, n, sizeof v, cmp64) != NULL;
        if (rnd() % 3 != 0 && n < 4000) {
            bool added;
            is = ts_intset_add(is, v, &added);
            if (added == in_model) bad++;
            if (!in_model) { model[n++] = v; qsort(model, n, sizeof v, cmp64); }
        } else {
            bool removed;
            is = ts_intset_remove(is, v, &removed);
            if (removed != in_model) bad++;
            if (in_model) {
                int64_t *at = bsearch(&v, model, n, sizeof v, cmp64);
                memmove(at, at + 1, (size_t)(model + n - at - 1) * sizeof v);
                n--;
            }
        }
        if (ts_intset_find(is, v) != (bsearch(&v, model, n, sizeof v, cmp64) != NULL)) bad++;
        if (step % 1000 == 0) {
            if (ts_intset_len(is) != n) bad++;
            for (size_t i = 0; i < n; i++) if (ts_intset_get(is, (uint32_t)i) != model[i]) bad++;
            if (n && !ts_intset_validate(is, ts_intset_bytes(is))) bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(sorted_unique(is));
    /* Random members are members and, over many draws, cover a small set. */
    ts_intset *s = ts_intset_new();
    for (int i = 0; i < 10; i++) s = ts_intset_add(s, i * 1000, NULL);
    int seen[10] = {0};
    for (int i = 0; i < 1000; i++) {
        int64_t m = ts_intset_random(s, rnd());
        CHECK(m % 1000 == 0 && m >= 0 && m < 10000);
        seen[m / 1000] = 1;
    }
    int cover = 0;
    for (int i = 0; i < 10; i++) cover += seen[i];
    CHECK_EQ_INT(cover, 10);
    /* Duplicated intsets are independent. */
    ts_intset *d = ts_intset_dup(s);
    d = ts_intset_remove_at(d, 0);
    CHECK_EQ_INT(ts_intset_len(s), 10);
    CHECK_EQ_INT(ts_intset_len(d), 9);
    free(d);
    free(s);
    free(is);
}

static void test_validate(void)
{
    CHECK(!ts_intset_validate("", 0));
    CHECK(!ts_intset_validate("\2\0\0\0\0\0\0", 7));
    ts_intset *e = ts_intset_new();
    CHECK(!ts_intset_validate(e, ts_intset_bytes(e)));     /* empty */
    free(e);
    uint8_t b[8 + 3 * 4];
    /* width 4, length 3: 1, 2, 3 */
    memcpy(b, "\4\0\0\0\3\0\0\0\1\0\0\0\2\0\0\0\3\0\0\0", sizeof b);
    CHECK(ts_intset_validate(b, sizeof b));
    CHECK(!ts_intset_validate(b, sizeof b - 1));           /* truncated */
    b[0] = 3; CHECK(!ts_intset_validate(b, sizeof b)); b[0] = 4;  /* bad width */
    b[4] = 4; CHECK(!ts_intset_validate(b, sizeof b)); b[4] = 3;  /* length too big */
    b[4] = 2; CHECK(!ts_intset_validate(b, sizeof b)); b[4] = 3;  /* length too small */
    b[12] = 1; CHECK(!ts_intset_validate(b, sizeof b)); b[12] = 2; /* duplicate */
    b[12] = 5; CHECK(!ts_intset_validate(b, sizeof b)); b[12] = 2; /* unsorted */
    b[0] = 8; b[4] = 0xff; b[5] = 0xff; b[6] = 0xff; b[7] = 0x1f;  /* huge length: no overflow */
    CHECK(!ts_intset_validate(b, sizeof b));

    /* Random corruption of valid intsets never crashes (ASan checks that
     * nothing outside the blob is read); whatever passes is well formed. */
    int accepted_bad = 0;
    for (int round = 0; round < 3000; round++) {
        ts_intset *is = ts_intset_new();
        int n = 1 + (int)(rnd() % 40);
        for (int i = 0; i < n; i++) is = ts_intset_add(is, pick_value(), NULL);
        size_t size = ts_intset_bytes(is);
        CHECK(ts_intset_validate(is, size));
        size_t cut = rnd() % 4 == 0 ? rnd() % (size + 1) : size;  /* sometimes truncated */
        uint8_t *blob = malloc(cut ? cut : 1);
        memcpy(blob, is, cut);
        int flips = (int)(rnd() % 4);
        for (int f = 0; f < flips && cut; f++) blob[rnd() % cut] ^= (uint8_t)(1u << (rnd() % 8));
        if (ts_intset_validate(blob, cut)) {
            /* Accepted: must really be a sorted intset of consistent size. */
            const ts_intset *v = (const ts_intset *)blob;
            uint32_t w = rd32(blob), len = rd32(blob + 4);
            if (!((w == 2 || w == 4 || w == 8) && 8 + (size_t)len * w == cut && len > 0 && sorted_unique(v)))
                accepted_bad++;
        }
        free(blob);
        free(is);
    }
    CHECK_EQ_INT(accepted_bad, 0);
}

int main(void)
{
    ts_test_rng = 0x9E3779B97F4A7C15ull;   /* the seed this test has always used */
    test_format();
    test_upgrades();
    test_random_model();
    test_validate();
    TS_TEST_MAIN_END();
}
