/*
 * zskiplist.c (unit test) - the sorted-set skiplist and its member index.
 *
 * Single-threaded, like its real users. Checks insert / delete / score
 * update / rank / node-at-rank / first-last in score ranges (inclusive and
 * exclusive bounds, infinities) and lex ranges against a naive sorted
 * array under many random operations, walking the whole list both ways
 * after each batch (spans are checked through rank and at, which follow
 * them); the sorted build (append) and dup; and prints the memory cost per
 * member of one sorted set of 1M members.
 */
#include "tessera/util/common.h"
#include "tessera/types/zskiplist.h"

#include "ts_test.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define rnd ts_test_rnd

/* ---- the naive model: an array sorted by (score, member) ---- */

typedef struct item {
    char m[16];
    size_t n;
    double s;
} item;

static item model[4096];
static size_t nmodel;

static int item_cmp(const item *a, double s, const char *m, size_t n)
{
    if (a->s < s) return -1;
    if (a->s > s) return 1;
    return ts_zmember_cmp(a->m, a->n, m, n);
}

static long model_find(const char *m, size_t n)
{
    for (size_t i = 0; i < nmodel; i++)
        if (model[i].n == n && memcmp(model[i].m, m, n) == 0) return (long)i;
    return -1;
}

static void model_insert(const char *m, size_t n, double s)
{
    size_t i = 0;
    while (i < nmodel && item_cmp(&model[i], s, m, n) < 0) i++;
    memmove(&model[i + 1], &model[i], (nmodel - i) * sizeof(item));
    memcpy(model[i].m, m, n);
    model[i].n = n;
    model[i].s = s;
    nmodel++;
}

static void model_delete(size_t i)
{
    memmove(&model[i], &model[i + 1], (nmodel - i - 1) * sizeof(item));
    nmodel--;
}

static double rand_score(void)
{
    switch (rnd() % 10) {
    case 0: return INFINITY;
    case 1: return -INFINITY;
    default: return (double)(rnd() % 40) / 4.0 - 3;
    }
}

static void rand_member(char *m, size_t *n)
{
    *n = 1 + rnd() % 3;
    for (size_t i = 0; i < *n; i++) m[i] = (char)('a' + rnd() % 4);
}

/* Whole-structure check against the model. */
static void check_all(ts_zsl *z)
{
    CHECK_EQ_INT(ts_zsl_length(z), nmodel);
    size_t i = 0;
    for (ts_zsl_node *x = ts_zsl_first(z); x; x = ts_zsl_next(x), i++) {
        size_t n;
        const char *m = ts_zsl_member(x, &n);
        if (i >= nmodel || n != model[i].n || memcmp(m, model[i].m, n) || ts_zsl_score(x) != model[i].s) {
            CHECK(!"forward walk differs from the model");
            return;
        }
        if (ts_zsl_rank(z, x) != i || ts_zsl_at(z, i) != x) {
            CHECK(!"rank/at differ (spans)");
            return;
        }
        if (ts_zsl_find(z, m, n) != x) {
            CHECK(!"index lookup differs");
            return;
        }
    }
    CHECK_EQ_INT(i, nmodel);
    i = nmodel;
    for (ts_zsl_node *x = ts_zsl_last(z); x; x = ts_zsl_prev(x)) {
        i--;
        size_t n;
        const char *m = ts_zsl_member(x, &n);
        if (n != model[i].n || memcmp(m, model[i].m, n)) {
            CHECK(!"backward walk differs");
            return;
        }
    }
    CHECK(ts_zsl_at(z, nmodel) == NULL);
}

static void check_score_range(ts_zsl *z, double min, double max, bool minex, bool maxex)
{
    ts_zscore_range r = {min, max, minex, maxex};
    long first = -1, last = -1;
    for (size_t i = 0; i < nmodel; i++) {
        if (ts_zscore_gte_min(model[i].s, &r) && ts_zscore_lte_max(model[i].s, &r)) {
            if (first < 0) first = (long)i;
            last = (long)i;
        }
    }
    ts_zsl_node *a = ts_zsl_first_in_score(z, &r), *b = ts_zsl_last_in_score(z, &r);
    if (first < 0) {
        CHECK(a == NULL && b == NULL);
    } else {
        CHECK(a && ts_zsl_rank(z, a) == (size_t)first);
        CHECK(b && ts_zsl_rank(z, b) == (size_t)last);
    }
}

static void check_lex_range(ts_zsl *z, const ts_zlex_range *r)
{
    long first = -1, last = -1;
    for (size_t i = 0; i < nmodel; i++) {
        if (ts_zlex_gte_min(model[i].m, model[i].n, r) && ts_zlex_lte_max(model[i].m, model[i].n, r)) {
            if (first < 0) first = (long)i;
            last = (long)i;
        }
    }
    ts_zsl_node *a = ts_zsl_first_in_lex(z, r), *b = ts_zsl_last_in_lex(z, r);
    if (first < 0) {
        CHECK(a == NULL && b == NULL);
    } else {
        CHECK(a && ts_zsl_rank(z, a) == (size_t)first);
        CHECK(b && ts_zsl_rank(z, b) == (size_t)last);
    }
}

static void test_random_ops(void)
{
    ts_zsl *z = ts_zsl_new();
    nmodel = 0;
    for (int step = 0; step < 200000; step++) {
        char m[8];
        size_t n;
        rand_member(m, &n);
        long i = model_find(m, n);
        ts_zsl_node *x = ts_zsl_find(z, m, n);
        CHECK((i >= 0) == (x != NULL));
        int op = (int)(rnd() % 10);
        if (op < 4) {
            if (i < 0) {
                double s = rand_score();
                ts_zsl_insert(z, m, n, s);
                model_insert(m, n, s);
            }
        } else if (op < 6) {
            if (i >= 0) {
                ts_zsl_delete(z, x);
                model_delete((size_t)i);
            }
        } else if (op < 8) {
            if (i >= 0) {
                double s = rnd() % 2 ? rand_score() : model[i].s + 0.125;
                ts_zsl_update_score(z, x, s);
                model_delete((size_t)i);
                model_insert(m, n, s);
            }
        } else if (op == 8) {
            double a = rand_score(), b = rand_score();
            check_score_range(z, a, b, rnd() % 2, rnd() % 2);
        } else if (nmodel && rnd() % 50 == 0) {
            size_t a = rnd() % nmodel, b = a + rnd() % 5;
            size_t want = (b >= nmodel ? nmodel - 1 : b) - a + 1;
            CHECK_EQ_INT(ts_zsl_delete_rank_range(z, a, b), want);
            for (size_t k = 0; k < want; k++) model_delete(a);
        }
        if (step % 997 == 0) check_all(z);
    }
    check_all(z);
    /* exclusive bounds at existing scores, infinities */
    check_score_range(z, 1, 1, false, false);
    check_score_range(z, 1, 1, true, false);
    check_score_range(z, -INFINITY, INFINITY, false, false);
    check_score_range(z, -INFINITY, INFINITY, true, true);
    check_score_range(z, 2, 1, false, false);
    ts_zsl_free(z);
}

/* Lex ranges are defined on equal scores. */
static void test_lex(void)
{
    ts_zsl *z = ts_zsl_new();
    nmodel = 0;
    const char *ms[] = {"", "a", "aa", "ab", "b", "ba", "c", "\x00", "\xff", "abc"};
    for (size_t i = 0; i < TS_ARRAY_LEN(ms); i++) {
        size_t n = i == 7 || i == 8 ? 1 : strlen(ms[i]);
        ts_zsl_insert(z, ms[i], n, 0);
        model_insert(ms[i], n, 0);
    }
    check_all(z);
    const char *vals[] = {"", "a", "ab", "abd", "b", "zz"};
    for (int kmin = 0; kmin < 3; kmin++)
        for (int kmax = 0; kmax < 3; kmax++)
            for (size_t vi = 0; vi < TS_ARRAY_LEN(vals); vi++)
                for (size_t vj = 0; vj < TS_ARRAY_LEN(vals); vj++)
                    for (int ex = 0; ex < 4; ex++) {
                        ts_zlex_range r;
                        r.min = (ts_zlex_bound){kmin, kmin != TS_LEX_VAL || (ex & 1), vals[vi], strlen(vals[vi])};
                        r.max = (ts_zlex_bound){kmax, kmax != TS_LEX_VAL || (ex & 2), vals[vj], strlen(vals[vj])};
                        check_lex_range(z, &r);
                    }
    ts_zsl_free(z);
}

static void test_append_dup(void)
{
    ts_zsl *z = ts_zsl_new();
    nmodel = 0;
    for (int i = 0; i < 3000; i++) {
        char m[16];
        int n = snprintf(m, sizeof m, "m%05d", i);
        ts_zsl_append(z, m, (size_t)n, i / 3);
        model_insert(m, (size_t)n, i / 3);
    }
    check_all(z);
    ts_zsl *d = ts_zsl_dup(z);
    ts_zsl_free(z);
    check_all(d);
    /* inserts and deletes after a sorted build keep the spans right */
    for (int i = 0; i < 500; i++) {
        char m[16];
        int n = snprintf(m, sizeof m, "x%d", i);
        double s = (double)(rnd() % 1000);
        ts_zsl_insert(d, m, (size_t)n, s);
        model_insert(m, (size_t)n, s);
    }
    ts_zsl_delete_rank_range(d, 100, 199);
    for (int k = 0; k < 100; k++) model_delete(100);
    check_all(d);
    ts_zsl_free(d);
}

static void test_memory(void)
{
    ts_zsl *z = ts_zsl_new();
    for (int i = 0; i < 1000000; i++) {
        char m[24];
        int n = snprintf(m, sizeof m, "member:%d", i);
        ts_zsl_insert(z, m, (size_t)n, (double)(rnd() % 1000000));
    }
    printf("1M members (\"member:N\"): %.1f bytes per member\n", (double)ts_zsl_memory(z) / 1e6);
    CHECK(ts_zsl_length(z) == 1000000);
    ts_zsl_free(z);
}

int main(void)
{
    test_random_ops();
    test_lex();
    test_append_dup();
    test_memory();
    TS_TEST_MAIN_END();
}
