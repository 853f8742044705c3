/*
 * quicklist.c (unit test) - the list encoding.
 *
 * Checks the quicklist against a shadow model (an array of strings) under
 * random pushes, pops, inserts, replaces, iterator deletions and range
 * deletions for several fill values (counts and byte sizes), checking the
 * node invariants (ts_ql_check: counts, links, size limits) after every
 * step; node splitting and merging at the size limits; index from both
 * ends; iteration in both directions from every index; dup; and 1M pushes
 * (printing the bytes per element).
 */
#include "tessera/types/quicklist.h"

#include "ts_test.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define rnd ts_test_rnd

/* ---- the model: a growable array of malloc'd strings ---- */

typedef struct { char *s; size_t n; } str;
typedef struct { str *a; size_t n, cap; } model;

static void m_insert(model *m, size_t at, const char *s, size_t n)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->a = realloc(m->a, m->cap * sizeof(str));
    }
    memmove(m->a + at + 1, m->a + at, (m->n - at) * sizeof(str));
    m->a[at].s = malloc(n ? n : 1);
    memcpy(m->a[at].s, s, n);
    m->a[at].n = n;
    m->n++;
}

static void m_delete(model *m, size_t at, size_t k)
{
    for (size_t i = at; i < at + k; i++) free(m->a[i].s);
    memmove(m->a + at, m->a + at + k, (m->n - at - k) * sizeof(str));
    m->n -= k;
}

static void m_free(model *m)
{
    m_delete(m, 0, m->n);
    free(m->a);
    m->a = NULL;
    m->cap = 0;
}

static bool val_is(const ts_lp_val *v, const str *s)
{
    char buf[32];
    const char *p = (const char *)v->str;
    size_t n = v->len;
    if (!p) {
        n = (size_t)snprintf(buf, sizeof(buf), "%lld", v->ll);
        p = buf;
    }
    return n == s->n && memcmp(p, s->s, n) == 0;
}

/* A random element: integers, short strings, and now and then a long one
 * (longer than a 4 KB node) to exercise single-element nodes. */
static size_t rand_elem(char *buf)
{
    switch (rnd() % 10) {
    case 0: return (size_t)snprintf(buf, 64, "%lld", (long long)(rnd() % 100000) - 50000);
    case 1: return (size_t)snprintf(buf, 64, "%llu", (unsigned long long)rnd());
    case 2: {
        size_t n = rnd() % 16 == 0 ? 5000 + rnd() % 3000 : 100 + rnd() % 400;
        for (size_t i = 0; i < n; i++) buf[i] = (char)('a' + rnd() % 26);
        return n;
    }
    case 3: return 0;
    default: {
        size_t n = 1 + rnd() % 20;
        for (size_t i = 0; i < n; i++) buf[i] = (char)('a' + rnd() % 4);
        return n;
    }
    }
}

static bool same(ts_quicklist *ql, const model *m)
{
    if (ql->count != m->n || !ts_ql_check(ql)) return false;
    ts_ql_iter it;
    ts_lp_val v;
    ts_ql_iter_at(ql, 0, TS_QL_TAIL, &it);
    for (size_t i = 0; i < m->n; i++)
        if (!ts_ql_iter_next(&it, &v) || !val_is(&v, &m->a[i])) return false;
    return !ts_ql_iter_next(&it, &v);
}

/* How many of the list's nodes are compressed. */
static size_t compressed_nodes(const ts_quicklist *ql)
{
    size_t n = 0;
    for (const ts_ql_node *x = ql->head; x; x = x->next) n += x->lzf_len != 0;
    return n;
}

/* ---- random differential run for one fill ---- */

static void random_run(int fill, int depth, int steps)
{
    static char buf[8192];
    ts_quicklist *ql = ts_ql_new(fill, depth);
    model m = {0};
    bool ok = true;
    size_t most_compressed = 0;
    for (int step = 0; step < steps && ok; step++) {
        size_t c = compressed_nodes(ql);
        if (c > most_compressed) most_compressed = c;
        unsigned op = (unsigned)(rnd() % 100);
        if (op < 40) {                       /* push */
            size_t n = rand_elem(buf);
            int where = (int)(rnd() & 1);
            ts_ql_push(ql, where, buf, n);
            m_insert(&m, where == TS_QL_HEAD ? 0 : m.n, buf, n);
        } else if (op < 50 && m.n) {         /* pop */
            int where = (int)(rnd() & 1);
            ts_lp_val v;
            size_t at = where == TS_QL_HEAD ? 0 : m.n - 1;
            ok = ts_ql_peek(ql, where, &v) && val_is(&v, &m.a[at]);
            ts_ql_pop(ql, where);
            m_delete(&m, at, 1);
        } else if (op < 60 && m.n) {         /* insert before/after a random element */
            size_t at = rnd() % m.n;
            int where = rnd() & 1 ? TS_LP_AFTER : TS_LP_BEFORE;
            size_t n = rand_elem(buf);
            ts_ql_iter it;
            ts_lp_val v;
            ts_ql_iter_at(ql, (long)at, TS_QL_TAIL, &it);
            ok = ts_ql_iter_next(&it, &v) && val_is(&v, &m.a[at]);
            ts_ql_iter_insert(&it, where, buf, n);
            m_insert(&m, where == TS_LP_AFTER ? at + 1 : at, buf, n);
        } else if (op < 68 && m.n) {         /* replace */
            size_t at = rnd() % m.n;
            size_t n = rand_elem(buf);
            long idx = rnd() & 1 ? (long)at : (long)at - (long)m.n;
            ok = ts_ql_replace(ql, idx, buf, n);
            m_delete(&m, at, 1);
            m_insert(&m, at, buf, n);
        } else if (op < 76 && m.n) {         /* LREM-like: delete matching while iterating */
            int dir = (int)(rnd() & 1);
            size_t start = rnd() % m.n;
            ts_ql_iter it;
            ts_lp_val v;
            ts_ql_iter_at(ql, (long)start, dir, &it);
            size_t i = start, seen = 0, limit = 1 + rnd() % 200;
            char first = (char)('a' + rnd() % 4);
            while (ok && seen < limit && ts_ql_iter_next(&it, &v)) {
                ok = val_is(&v, &m.a[i]);
                seen++;
                bool del = m.a[i].n > 0 && m.a[i].s[0] == first;
                if (del) {
                    ts_ql_iter_del(&it);
                    m_delete(&m, i, 1);
                    if (dir == TS_QL_HEAD) { if (i == 0) break; i--; }
                } else if (dir == TS_QL_TAIL) {
                    i++;
                } else {
                    if (i == 0) break;
                    i--;
                }
            }
        } else if (op < 82 && m.n) {         /* delete a range */
            size_t at = rnd() % m.n, k = rnd() % (m.n - at + 3);
            size_t want = k < m.n - at ? k : m.n - at;
            ok = ts_ql_del_range(ql, (long)at, k) == want;
            m_delete(&m, at, want);
        } else if (op < 90 && m.n) {         /* index from both ends */
            size_t at = rnd() % m.n;
            ts_lp_val v;
            ok = ts_ql_index(ql, (long)at, &v) && val_is(&v, &m.a[at]) &&
                 ts_ql_index(ql, (long)at - (long)m.n, &v) && val_is(&v, &m.a[at]) &&
                 !ts_ql_index(ql, (long)m.n, &v) && !ts_ql_index(ql, -(long)m.n - 1, &v);
        } else if (op < 92) {                /* dup */
            ts_quicklist *d = ts_ql_dup(ql);
            ok = same(d, &m);
            ts_ql_free(d);
        }
        if (ok && (step % 16 == 0 || m.n < 64)) ok = same(ql, &m);
        if (!ok) fprintf(stderr, "fill %d depth %d: mismatch at step %d (op %u, n %zu)\n", fill, depth, step, op, m.n);
    }
    CHECK(ok);
    CHECK(same(ql, &m));
    if (depth > 0 && most_compressed == 0) fprintf(stderr, "fill %d depth %d: no node was ever compressed\n", fill, depth);
    if (depth > 0) CHECK(most_compressed > 0);   /* the compressed paths did run */
    ts_ql_free(ql);
    m_free(&m);
}

/* ---- node layout at the limits ---- */

static void test_count_limits(void)
{
    for (int fill = 1; fill <= 8; fill++) {
        ts_quicklist *ql = ts_ql_new(fill, 0);
        for (int i = 0; i < 100; i++) ts_ql_push(ql, TS_QL_TAIL, "x", 1);
        CHECK_EQ_INT(ql->len, (100 + fill - 1) / fill);
        for (ts_ql_node *n = ql->head; n; n = n->next) CHECK(n->count <= (uint32_t)fill);
        CHECK(ts_ql_check(ql));
        /* Delete every other element: neighbours merge back to full nodes. */
        ts_ql_iter it;
        ts_lp_val v;
        ts_ql_iter_at(ql, 0, TS_QL_TAIL, &it);
        int i = 0;
        while (ts_ql_iter_next(&it, &v))
            if (i++ % 2 == 0) ts_ql_iter_del(&it);
        CHECK_EQ_INT(ql->count, 50);
        CHECK(ts_ql_check(ql));
        /* No two neighbours could be merged. */
        for (ts_ql_node *n = ql->head; n && n->next; n = n->next) CHECK(n->count + n->next->count > (uint32_t)fill);
        ts_ql_free(ql);
    }
}

static void test_size_limits(void)
{
    static const size_t levels[] = {4096, 8192, 16384, 32768, 65536};
    char elem[100];
    memset(elem, 'e', sizeof(elem));
    for (int fill = -1; fill >= -5; fill--) {
        ts_quicklist *ql = ts_ql_new(fill, 0);
        for (int i = 0; i < 5000; i++) ts_ql_push(ql, i & 1 ? TS_QL_TAIL : TS_QL_HEAD, elem, sizeof(elem));
        size_t limit = levels[-fill - 1];
        bool ok = true;
        for (ts_ql_node *n = ql->head; n; n = n->next) {
            size_t b = ts_lp_bytes(n->lp);
            if (b > limit) ok = false;
            /* Full nodes: all but the end nodes leave less than one element free. */
            if (n != ql->head && n != ql->tail && b + 2 * (sizeof(elem) + 3) <= limit) ok = false;
        }
        CHECK(ok);
        CHECK(ts_ql_check(ql));
        /* Split: insert into the middle of full nodes. */
        for (int i = 0; i < 500; i++) {
            ts_ql_iter it;
            ts_lp_val v;
            ts_ql_iter_at(ql, (long)(rnd() % ql->count), TS_QL_TAIL, &it);
            ts_ql_iter_next(&it, &v);
            ts_ql_iter_insert(&it, TS_LP_AFTER, "mid", 3);
        }
        CHECK_EQ_INT(ql->count, 5500);
        CHECK(ts_ql_check(ql));
        /* A big element gets a node of its own. */
        size_t bign = limit + 100;
        char *big = malloc(bign);
        memset(big, 'b', bign);
        ts_ql_push(ql, TS_QL_TAIL, big, bign);
        CHECK_EQ_INT(ql->tail->count, 1);
        CHECK(ts_ql_replace(ql, 10, big, bign));
        CHECK(ts_ql_check(ql));
        ts_lp_val v;
        CHECK(ts_ql_index(ql, 10, &v) && v.len == bign);
        free(big);
        /* Range deletion leaves merged nodes. */
        size_t before = ql->len;
        ts_ql_del_range(ql, 5, 2000);
        CHECK(ql->len < before);
        CHECK(ts_ql_check(ql));
        ts_ql_free(ql);
    }
}

static void test_iteration(void)
{
    ts_quicklist *ql = ts_ql_new(3, 0);
    char buf[16];
    for (int i = 0; i < 50; i++) {
        int n = snprintf(buf, sizeof(buf), "%d", i);
        ts_ql_push(ql, TS_QL_TAIL, buf, (size_t)n);
    }
    bool ok = true;
    for (long start = -60; start < 60; start++) {
        for (int dir = 0; dir < 2; dir++) {
            ts_ql_iter it;
            ts_lp_val v;
            bool in = start >= -50 && start < 50;
            if (ts_ql_iter_at(ql, start, dir, &it) != in) ok = false;
            if (!in) continue;
            long idx = start < 0 ? start + 50 : start, seen = 0;
            while (ts_ql_iter_next(&it, &v)) {
                if (v.str || v.ll != idx) ok = false;
                idx += dir == TS_QL_TAIL ? 1 : -1;
                seen++;
            }
            long want = dir == TS_QL_TAIL ? 50 - (start < 0 ? start + 50 : start) : (start < 0 ? start + 50 : start) + 1;
            if (seen != want) ok = false;
        }
    }
    CHECK(ok);
    ts_ql_free(ql);
}

/* list-compress-depth: the ends stay plain, the interior is compressed
 * (all of it once the list is left alone), and reading or changing the
 * middle works on and recompresses only the nodes it touches. */
static void test_compression(void)
{
    for (int depth = 1; depth <= 3; depth++) {
        ts_quicklist *ql = ts_ql_new(-2, depth);
        char buf[32];
        for (int i = 0; i < 200000; i++) {
            int n = snprintf(buf, sizeof(buf), "element:%08d", i);
            ts_ql_push(ql, TS_QL_TAIL, buf, (size_t)n);
        }
        CHECK(ts_ql_check(ql));
        size_t len = ql->len;
        /* Every interior node is compressed (pushes compress the node
         * they push out of an end at once). */
        CHECK_EQ_INT(compressed_nodes(ql) + 2 * (size_t)depth, len);
        for (int k = 0; k < depth; k++) {
            const ts_ql_node *a = ql->head, *b = ql->tail;
            for (int j = 0; j < k; j++) { a = a->next; b = b->prev; }
            CHECK(a->lzf_len == 0 && b->lzf_len == 0);
        }
        ts_lp_val v;
        CHECK(ts_ql_index(ql, 123456, &v) && v.len == 16 && memcmp(v.str, "element:00123456", 16) == 0);
        CHECK(ts_ql_index(ql, 98765, &v) && v.len == 16 && memcmp(v.str, "element:00098765", 16) == 0);
        CHECK_EQ_INT(compressed_nodes(ql) + 2 * (size_t)depth + 1, len);   /* the one just read is plain */
        CHECK(ts_ql_index(ql, 0, &v));                                        /* the next call recompresses it */
        CHECK_EQ_INT(compressed_nodes(ql) + 2 * (size_t)depth, len);
        size_t comp_mem = ts_ql_memory(ql);
        ts_quicklist *plain = ts_ql_new(-2, 0);
        for (int i = 0; i < 200000; i++) {
            int n = snprintf(buf, sizeof(buf), "element:%08d", i);
            ts_ql_push(plain, TS_QL_TAIL, buf, (size_t)n);
        }
        CHECK(comp_mem * 2 < ts_ql_memory(plain));
        if (depth == 1)
            printf("200k 'element:%%08d' pushes, depth 1: %.2f bytes/element (plain %.2f)\n",
                   (double)comp_mem / 200000.0, (double)ts_ql_memory(plain) / 200000.0);
        /* A dup keeps the compressed nodes and reads the same. */
        ts_quicklist *d = ts_ql_dup(ql);
        CHECK(ts_ql_check(d) && compressed_nodes(d) == compressed_nodes(ql));
        CHECK(ts_ql_index(d, 150000, &v) && v.len == 16 && memcmp(v.str, "element:00150000", 16) == 0);
        /* Popping the ends down brings compressed nodes to the ends: they
         * are plain when they get there. */
        for (int i = 0; i < 190000; i++) ts_ql_pop(ql, i & 1 ? TS_QL_HEAD : TS_QL_TAIL);
        CHECK(ts_ql_check(ql) && ql->count == 10000);
        CHECK(ts_ql_peek(ql, TS_QL_HEAD, &v) && v.len == 16 && memcmp(v.str, "element:00095000", 16) == 0);
        ts_ql_free(ql);
        ts_ql_free(d);
        ts_ql_free(plain);
    }
}

static void test_million(void)
{
    ts_quicklist *ql = ts_ql_new(-2, 0);
    char buf[32];
    for (int i = 0; i < 1000000; i++) {
        int n = snprintf(buf, sizeof(buf), "element:%d", i);
        ts_ql_push(ql, TS_QL_TAIL, buf, (size_t)n);
    }
    CHECK_EQ_INT(ql->count, 1000000);
    CHECK(ts_ql_check(ql));
    ts_lp_val v;
    CHECK(ts_ql_index(ql, 765432, &v) && v.len == 14 && memcmp(v.str, "element:765432", 14) == 0);
    CHECK(ts_ql_index(ql, -1, &v) && v.len == 14 && memcmp(v.str, "element:999999", 14) == 0);
    printf("1M 'element:N' pushes: %zu nodes, %.2f bytes/element\n", ql->len,
           (double)ts_ql_memory(ql) / 1000000.0);
    ts_ql_del_range(ql, 1000, 998000);
    CHECK_EQ_INT(ql->count, 2000);
    CHECK(ts_ql_check(ql));
    ts_ql_free(ql);
}

int main(void)
{
    ts_test_rng = 0x9E3779B97F4A7C15ull;   /* the seed this test has always used */
    test_count_limits();
    test_size_limits();
    test_iteration();
    /* QL_STEPS=N (environment) runs longer random streams. */
    const char *env = getenv("QL_STEPS");
    int steps = env ? atoi(env) : 6000;
    static const int fills[] = {1, 2, 3, 4, 7, 16, 128, -1, -2, -5};
    for (size_t i = 0; i < sizeof(fills) / sizeof(fills[0]); i++) random_run(fills[i], 0, steps);
    /* With compression (list-compress-depth 1 and 2): small nodes so that
     * lists have many interior nodes. */
    static const int cfills[] = {2, 4, 16, 64, -1};
    for (size_t i = 0; i < sizeof(cfills) / sizeof(cfills[0]); i++) {
        random_run(cfills[i], 1, steps);
        if (i < 3) random_run(cfills[i], 2, steps);   /* lists long enough for 2 plain nodes per end */
    }
    test_compression();
    test_million();
    TS_TEST_MAIN_END();
}
