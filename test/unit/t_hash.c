/*
 * t_hash.c (unit test) - the hash value type in both encodings.
 *
 * A random model test: set/get/del/exists against a plain array model,
 * with small thresholds so hashes convert mid-way; after every step the
 * encoding must be the one Redis would have (hashtable iff a past write
 * crossed a threshold), and walks, dups, scans and random picks must agree
 * with the model. Run under ASan it also checks for leaks and overreads.
 */
#include "tessera/types/t_hash.h"

#include "ts_test.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/types/listpack.h"
#include "tessera/types/table.h"

#define rnd ts_test_rnd

#define NF 40
typedef struct model {
    bool present[NF];
    char val[NF][80];
    size_t vlen[NF];
} model;

static void field_name(int i, char *buf, size_t *n)
{
    /* some fields look like integers, one is empty, one is long */
    if (i == 0) { buf[0] = 0; *n = 0; return; }
    if (i == 1) { memset(buf, 'L', 70); *n = 70; return; }
    *n = (size_t)snprintf(buf, 24, i % 3 ? "f%d" : "%d", i - 20);
}

static size_t rnd_value(char *buf)
{
    switch (rnd() % 4) {
    case 0: return (size_t)snprintf(buf, 24, "%lld", (long long)(rnd() >> (rnd() % 64)));
    case 1: return 0;
    case 2: { size_t n = rnd() % 75; for (size_t i = 0; i < n; i++) buf[i] = (char)rnd(); return n; }
    default: return (size_t)snprintf(buf, 24, "v%d", (int)(rnd() % 100));
    }
}

typedef struct walk {
    model *m;
    int seen[NF];
    bool bad;
} walk;

static int field_index(const char *p, size_t n)
{
    char buf[80];
    size_t bn;
    for (int i = 0; i < NF; i++) {
        field_name(i, buf, &bn);
        if (bn == n && (n == 0 || memcmp(buf, p, n) == 0)) return i;
    }
    return -1;
}

static void walk_cb(void *ctx, ts_hobj_str f, ts_hobj_str v)
{
    walk *w = ctx;
    int i = field_index(f.p, f.n);
    if (i < 0 || !w->m->present[i] || w->m->vlen[i] != v.n || (v.n && memcmp(w->m->val[i], v.p, v.n))) {
        w->bad = true;
        return;
    }
    w->seen[i]++;
}

static bool check_walk(void *obj, int enc, model *m, bool scan)
{
    walk w = {.m = m};
    if (scan) {
        uint64_t cursor = 0;
        do cursor = ts_hobj_scan(obj, enc, cursor, 3, walk_cb, &w);
        while (cursor);
    } else {
        ts_hobj_foreach(obj, enc, walk_cb, &w);
    }
    if (w.bad) return false;
    for (int i = 0; i < NF; i++)
        if (w.seen[i] != (m->present[i] ? 1 : 0)) return false;
    return true;
}

static void test_model(long long max_entries, long long max_value)
{
    model m;
    memset(&m, 0, sizeof m);
    int enc;
    void *obj = ts_hobj_new(&enc);
    bool must_be_table = false, ok = true;
    size_t count = 0;
    for (int step = 0; step < 20000 && ok; step++) {
        int i = (int)(rnd() % NF);
        char f[80], v[80], buf[TS_HOBJ_NUMBUF];
        size_t fl, vl;
        field_name(i, f, &fl);
        int op = (int)(rnd() % 10);
        if (op < 5) {
            vl = rnd_value(v);
            if ((long long)fl > max_value || (long long)vl > max_value) must_be_table = true;
            bool created = ts_hobj_set(&obj, &enc, f, fl, v, vl, max_entries, max_value);
            if (created != !m.present[i]) ok = false;
            if (created) count++;
            if ((long long)count > max_entries) must_be_table = true;
            m.present[i] = true;
            memcpy(m.val[i], v, vl);
            m.vlen[i] = vl;
        } else if (op < 7) {
            bool gone = ts_hobj_del(&obj, enc, f, fl);
            if (gone != m.present[i]) ok = false;
            if (gone) count--;
            m.present[i] = false;
        } else {
            ts_hobj_str got;
            bool has = ts_hobj_get(obj, enc, f, fl, buf, &got);
            if (has != m.present[i] || has != ts_hobj_exists(obj, enc, f, fl)) ok = false;
            if (has && (got.n != m.vlen[i] || (got.n && memcmp(got.p, m.val[i], got.n)))) ok = false;
        }
        if (ts_hobj_len(obj, enc) != count) ok = false;
        if ((enc == TS_ENC_HASHTABLE) != must_be_table) ok = false;
        if (enc == TS_ENC_LISTPACK && !ts_lp_validate(obj, ts_lp_bytes(obj))) ok = false;
        if (step % 50 == 0) {
            if (!check_walk(obj, enc, &m, false) || !check_walk(obj, enc, &m, true)) ok = false;
            /* dup: same content, independent memory */
            void *copy = ts_hash_ops.dup(obj, enc);
            if (!check_walk(copy, enc, &m, false)) ok = false;
            ts_hash_ops.free(copy, enc);
            if (count > 0) {
                char fb[TS_HOBJ_NUMBUF], vb[TS_HOBJ_NUMBUF];
                ts_hobj_str rf, rv;
                ts_hobj_random(obj, enc, fb, vb, &rf, &rv);
                int j = field_index(rf.p, rf.n);
                if (j < 0 || !m.present[j] || rv.n != m.vlen[j]) ok = false;
            }
            for (size_t want = 1; want < count; want += 1 + want / 2) {
                ts_hobj_str fs[NF], vs[NF];
                char nb[2 * NF * TS_HOBJ_NUMBUF];
                ts_hobj_random_unique(obj, enc, want, fs, vs, nb);
                int seen[NF] = {0};
                for (size_t k = 0; k < want; k++) {
                    int j = field_index(fs[k].p, fs[k].n);
                    if (j < 0 || !m.present[j] || seen[j]++ || vs[k].n != m.vlen[j]) ok = false;
                }
            }
            if (count == 0 && enc == TS_ENC_LISTPACK) CHECK_EQ_INT(ts_lp_bytes(obj), 7);
        }
    }
    CHECK(ok);
    CHECK(ts_hash_ops.free_effort(obj, enc) >= 1);
    ts_hobj_free(obj, enc);
}

static void test_try_convert(void)
{
    int enc;
    void *obj = ts_hobj_new(&enc);
    ts_arg args[] = {{"f", 1}, {"0123456789", 10}};
    ts_hobj_try_convert(&obj, &enc, args, 2, 10);
    CHECK_EQ_INT(enc, TS_ENC_LISTPACK);
    ts_hobj_try_convert(&obj, &enc, args, 2, 9);
    CHECK_EQ_INT(enc, TS_ENC_HASHTABLE);
    CHECK_EQ_INT(ts_hobj_len(obj, enc), 0);
    ts_hobj_try_convert(&obj, &enc, args, 2, 0); /* never back, never twice */
    CHECK_EQ_INT(enc, TS_ENC_HASHTABLE);
    ts_hobj_free(obj, enc);
}

int main(void)
{
    ts_test_rng = 42;   /* the seed this test has always used */
    test_try_convert();
    test_model(1000, 1000); /* stays a listpack */
    test_model(8, 1000);    /* converts by entries */
    test_model(1000, 40);   /* converts by length */
    test_model(0, 0);       /* converts on the first non-empty write */
    test_model(20, 64);
    TS_TEST_MAIN_END();
}
