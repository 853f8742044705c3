/*
 * t_set.c (unit test) - set objects of src/types/t_set.c.
 *
 * Checks Redis's encoding rules (intset for integer members up to the
 * limit, hashtable for anything else, no conversion back), membership and
 * removal in both encodings against a shadow model, that a walk reports
 * every member once, and that dup gives an independent deep copy (run it
 * under ASan to catch leaks and double frees).
 */
#include "tessera/types/t_set.h"

#include "ts_test.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void count_cb(void *ctx, const char *p, size_t n)
{
    (void)p; (void)n;
    (*(size_t *)ctx)++;
}

static bool has(void *o, int enc, const char *s) { return ts_set_has(o, enc, s, strlen(s)); }
static bool add(void **o, int *enc, const char *s, long long max) { return ts_set_add(o, enc, s, strlen(s), max); }

static void test_encodings(void)
{
    int enc;
    void *o = ts_set_create("12", 2, &enc);
    CHECK_EQ_INT(enc, TS_ENC_INTSET);
    CHECK(add(&o, &enc, "12", 3));
    CHECK(!add(&o, &enc, "12", 3));
    CHECK(add(&o, &enc, "-9223372036854775808", 3));
    CHECK(add(&o, &enc, "9223372036854775807", 3));
    CHECK_EQ_INT(enc, TS_ENC_INTSET);
    CHECK(add(&o, &enc, "4", 3));            /* 4 > 3: converts */
    CHECK_EQ_INT(enc, TS_ENC_HASHTABLE);
    CHECK(has(o, enc, "9223372036854775807") && has(o, enc, "4") && has(o, enc, "12"));
    CHECK(ts_set_remove(&o, enc, "4", 1));
    CHECK_EQ_INT(enc, TS_ENC_HASHTABLE);     /* never back */
    ts_set_free(o, enc);

    const char *strings[] = {"a", "", "007", "-0", "+1", " 1", "9223372036854775808", "1.5"};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        o = ts_set_create(strings[i], strlen(strings[i]), &enc);
        CHECK_EQ_INT(enc, TS_ENC_HASHTABLE);
        ts_set_free(o, enc);
        o = ts_set_create("1", 1, &enc);
        add(&o, &enc, "1", 512);
        CHECK(!has(o, enc, strings[i]));
        add(&o, &enc, strings[i], 512);
        CHECK_EQ_INT(enc, TS_ENC_HASHTABLE);
        CHECK(has(o, enc, strings[i]) && has(o, enc, "1"));
        CHECK_EQ_INT(ts_set_size(o, enc), 2);
        ts_set_free(o, enc);
    }
}

static void test_model(void)
{
    /* Members "0".."199" and "s0".."s49"; a bitmap as the model. */
    bool model[250] = {false};
    int enc;
    void *o = ts_set_new(TS_ENC_INTSET);
    enc = TS_ENC_INTSET;
    unsigned seed = 7;
    char buf[16];
    int bad = 0;
    for (int step = 0; step < 50000; step++) {
        seed = seed * 1103515245u + 12345u;
        int m = (int)((seed >> 8) % (step < 20000 ? 200 : 250));
        int len = m < 200 ? snprintf(buf, sizeof buf, "%d", m) : snprintf(buf, sizeof buf, "s%d", m - 200);
        if ((seed >> 20) % 3) {
            if (ts_set_add(&o, &enc, buf, (size_t)len, 128) == model[m]) bad++;
            model[m] = true;
        } else {
            if (ts_set_remove(&o, enc, buf, (size_t)len) != model[m]) bad++;
            model[m] = false;
        }
        if (ts_set_has(o, enc, buf, (size_t)len) != model[m]) bad++;
    }
    size_t want = 0, got = 0;
    for (int i = 0; i < 250; i++) want += model[i];
    ts_set_foreach(o, enc, count_cb, &got);
    CHECK_EQ_INT(got, want);
    CHECK_EQ_INT(ts_set_size(o, enc), want);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(enc, TS_ENC_HASHTABLE);
    /* A deep copy is independent of the original. */
    void *d = ts_set_ops.dup(o, enc);
    size_t dn = 0;
    ts_set_foreach(d, enc, count_cb, &dn);
    CHECK_EQ_INT(dn, want);
    for (int i = 0; i < 200; i++) {
        int len = snprintf(buf, sizeof buf, "%d", i);
        ts_set_remove(&d, enc, buf, (size_t)len);
    }
    CHECK_EQ_INT(ts_set_size(o, enc), want);
    CHECK(ts_set_ops.free_effort(o, enc) == want);
    ts_set_ops.free(d, enc);
    ts_set_ops.free(o, enc);
}

static void test_random(void)
{
    int enc;
    void *o = ts_set_create("a", 1, &enc);
    const char *mem[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++) add(&o, &enc, mem[i], 512);
    int seen[4] = {0};
    char buf[TS_SET_NUMBUF];
    for (int i = 0; i < 400; i++) {
        const char *p;
        size_t n;
        ts_set_random(o, enc, buf, &p, &n);
        CHECK(n == 1 && p[0] >= 'a' && p[0] <= 'd');
        seen[p[0] - 'a'] = 1;
    }
    CHECK(seen[0] && seen[1] && seen[2] && seen[3]);
    ts_set_free(o, enc);
    o = ts_set_create("5", 1, &enc);
    add(&o, &enc, "5", 512);
    add(&o, &enc, "-70000", 512);
    for (int i = 0; i < 50; i++) {
        const char *p;
        size_t n;
        ts_set_random(o, enc, buf, &p, &n);
        CHECK(has(o, enc, p) && p == buf);
    }
    ts_set_free(o, enc);
}

int main(void)
{
    test_encodings();
    test_model();
    test_random();
    TS_TEST_MAIN_END();
}
