/*
 * zskiplist.c - the skiplist + member index of big sorted sets (see
 * zskiplist.h for the node layout and why nodes live inside the index's
 * table entries).
 *
 * Thread: the owner of the sorted set's key; the only shared state is the
 * thread-local generator of node levels.
 *
 * The algorithms are the classic skiplist with spans (Pugh; the same ones
 * Redis uses): a search keeps, per level, the last node before the target
 * (update[]) and its rank (rank[]), so insert/delete fix spans in O(level).
 * Level 0 keeps no span: every level-0 link skips exactly one node.
 */
#include "tessera/types/zskiplist.h"

#include <malloc.h>
#include <string.h>

#include "tessera/util/common.h"

/* ---- node layout ---- */

#define N_SCORE 0
#define N_BACK 8
#define N_MLEN 16
#define N_GAP 20
#define N_LEVEL 21
#define N_FWD0 22
#define N_LV 30   /* level 1.. records start here: {fwd 8, span 4} */
#define N_LVSIZE 12

static inline size_t node_size(int level) { return (size_t)N_LV + (size_t)(level - 1) * N_LVSIZE; }

static inline double n_score(const ts_zsl_node *x) { double d; memcpy(&d, x + N_SCORE, 8); return d; }
static inline void n_set_score(ts_zsl_node *x, double d) { memcpy(x + N_SCORE, &d, 8); }
static inline ts_zsl_node *n_back(const ts_zsl_node *x) { ts_zsl_node *p; memcpy(&p, x + N_BACK, 8); return p; }
static inline void n_set_back(ts_zsl_node *x, ts_zsl_node *p) { memcpy(x + N_BACK, &p, 8); }
static inline int n_level(const ts_zsl_node *x) { return x[N_LEVEL]; }

static inline ts_zsl_node *n_fwd(const ts_zsl_node *x, int i)
{
    ts_zsl_node *p;
    memcpy(&p, i == 0 ? x + N_FWD0 : x + N_LV + (size_t)(i - 1) * N_LVSIZE, 8);
    return p;
}
static inline void n_set_fwd(ts_zsl_node *x, int i, ts_zsl_node *p)
{
    memcpy(i == 0 ? x + N_FWD0 : x + N_LV + (size_t)(i - 1) * N_LVSIZE, &p, 8);
}
static inline size_t n_span(const ts_zsl_node *x, int i)
{
    if (i == 0) return 1;
    uint32_t s;
    memcpy(&s, x + N_LV + (size_t)(i - 1) * N_LVSIZE + 8, 4);
    return s;
}
static inline void n_set_span(ts_zsl_node *x, int i, size_t s)
{
    if (i == 0) return;
    uint32_t v = (uint32_t)s;
    memcpy(x + N_LV + (size_t)(i - 1) * N_LVSIZE + 8, &v, 4);
}
static inline const char *n_member(const ts_zsl_node *x, size_t *len)
{
    uint32_t n;
    memcpy(&n, x + N_MLEN, 4);
    *len = n;
    return (const char *)x - x[N_GAP] - n;
}

/* ---- comparisons ---- */

int ts_zmember_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    size_t m = an < bn ? an : bn;
    int c = m ? memcmp(a, b, m) : 0;
    if (c) return c;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

/* (score, member) of x compared with (s, m): <0 when x sorts first. */
static inline int n_cmp(const ts_zsl_node *x, double s, const char *m, size_t n)
{
    double xs = n_score(x);
    if (xs < s) return -1;
    if (xs > s) return 1;
    size_t xn;
    const char *xm = n_member(x, &xn);
    return ts_zmember_cmp(xm, xn, m, n);
}

bool ts_zscore_gte_min(double s, const ts_zscore_range *r) { return r->minex ? s > r->min : s >= r->min; }
bool ts_zscore_lte_max(double s, const ts_zscore_range *r) { return r->maxex ? s < r->max : s <= r->max; }
bool ts_zscore_range_empty(const ts_zscore_range *r)
{
    return r->min > r->max || (r->min == r->max && (r->minex || r->maxex));
}

/* m compared with a bound: <0 below it, 0 equal, >0 above. */
static int lex_cmp_bound(const char *m, size_t n, const ts_zlex_bound *b)
{
    if (b->kind == TS_LEX_NEG) return 1;
    if (b->kind == TS_LEX_POS) return -1;
    return ts_zmember_cmp(m, n, b->p, b->n);
}
bool ts_zlex_gte_min(const char *m, size_t n, const ts_zlex_range *r)
{
    int c = lex_cmp_bound(m, n, &r->min);
    return r->min.ex ? c > 0 : c >= 0;
}
bool ts_zlex_lte_max(const char *m, size_t n, const ts_zlex_range *r)
{
    int c = lex_cmp_bound(m, n, &r->max);
    return r->max.ex ? c < 0 : c <= 0;
}
bool ts_zlex_range_empty(const ts_zlex_range *r)
{
    int c;
    if (r->min.kind != TS_LEX_VAL || r->max.kind != TS_LEX_VAL) c = r->min.kind - r->max.kind;
    else c = ts_zmember_cmp(r->min.p, r->min.n, r->max.p, r->max.n);
    return c > 0 || (c == 0 && (r->min.ex || r->max.ex));
}

/* ---- levels ---- */

static _Thread_local uint64_t level_rng = 0x9E3779B97F4A7C15ull;

/* P(level > k) = 0.25^k, like Redis (ZSKIPLIST_P). */
static int random_level(void)
{
    uint64_t x = level_rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    level_rng = x;
    int level = 1;
    while (level < TS_ZSL_MAXLEVEL && (x & 3) == 0) {
        level++;
        x >>= 2;
        if (x == 0) break;
    }
    return level;
}

/* ---- life cycle ---- */

ts_zsl *ts_zsl_new(void)
{
    ts_zsl *z = ts_calloc(1, sizeof(*z));
    ts_table_init(&z->dict, NULL);
    z->header = ts_calloc(1, node_size(TS_ZSL_MAXLEVEL));
    z->header[N_LEVEL] = TS_ZSL_MAXLEVEL;
    z->level = 1;
    return z;
}

void ts_zsl_free(ts_zsl *z)
{
    if (!z) return;
    ts_table_clear(&z->dict);
    free(z->header);
    free(z);
}

ts_zsl *ts_zsl_dup(const ts_zsl *z)
{
    ts_zsl *d = ts_zsl_new();
    for (ts_zsl_node *x = n_fwd(z->header, 0); x; x = n_fwd(x, 0)) {
        size_t n;
        const char *m = n_member(x, &n);
        ts_zsl_append(d, m, n, n_score(x));
    }
    return d;
}

/* ---- accessors ---- */

double ts_zsl_score(const ts_zsl_node *x) { return n_score(x); }
const char *ts_zsl_member(const ts_zsl_node *x, size_t *len) { return n_member(x, len); }
ts_zsl_node *ts_zsl_next(const ts_zsl_node *x) { return n_fwd(x, 0); }
ts_zsl_node *ts_zsl_prev(const ts_zsl_node *x) { return n_back(x); }
ts_zsl_node *ts_zsl_first(const ts_zsl *z) { return n_fwd(z->header, 0); }
ts_zsl_node *ts_zsl_last(const ts_zsl *z) { return z->tail; }

ts_zsl_node *ts_zsl_node_of_entry(const ts_entry *e)
{
    ts_value v;
    ts_entry_value(e, &v);
    return (ts_zsl_node *)(uintptr_t)v.s.ptr;
}

ts_zsl_node *ts_zsl_find(ts_zsl *z, const char *m, size_t n)
{
    ts_entry *e = ts_table_find(&z->dict, m, n);
    return e ? ts_zsl_node_of_entry(e) : NULL;
}

/* ---- insert / delete ---- */

/* Creates the table entry holding member m and a fresh node of `level`. */
static ts_zsl_node *node_create(ts_zsl *z, const char *m, size_t n, double score, int level)
{
    TS_ASSERT(n <= UINT32_MAX);
    unsigned char buf[N_LV + (TS_ZSL_MAXLEVEL - 1) * N_LVSIZE];
    size_t sz = node_size(level);
    memset(buf, 0, sz);
    n_set_score(buf, score);
    uint32_t mlen = (uint32_t)n;
    memcpy(buf + N_MLEN, &mlen, 4);
    buf[N_LEVEL] = (unsigned char)level;
    ts_value v = {.form = TS_FORM_INLINE};
    v.s.ptr = (const char *)buf;
    v.s.len = sz;
    ts_entry *e = ts_table_set(&z->dict, m, n, &v, -1, false);
    size_t klen;
    const char *key = ts_entry_key(e, &klen);
    ts_zsl_node *x = ts_zsl_node_of_entry(e);
    ptrdiff_t gap = (const char *)x - (key + klen);
    if (gap < 0 || gap > 255) ts_panic("zskiplist: member and node are %td bytes apart", gap);
    x[N_GAP] = (unsigned char)gap;
    return x;
}

/* Links node x (its level and score set, member in place) into the list. */
static void link_node(ts_zsl *z, ts_zsl_node *x)
{
    ts_zsl_node *update[TS_ZSL_MAXLEVEL];
    size_t rank[TS_ZSL_MAXLEVEL];
    double s = n_score(x);
    size_t mn;
    const char *m = n_member(x, &mn);
    ts_zsl_node *h = z->header;
    for (int i = z->level - 1; i >= 0; i--) {
        rank[i] = i == z->level - 1 ? 0 : rank[i + 1];
        ts_zsl_node *f;
        while ((f = n_fwd(h, i)) && n_cmp(f, s, m, mn) < 0) {
            rank[i] += n_span(h, i);
            h = f;
        }
        update[i] = h;
    }
    int level = n_level(x);
    if (level > z->level) {
        for (int i = z->level; i < level; i++) {
            rank[i] = 0;
            update[i] = z->header;
            n_set_span(z->header, i, z->length);
        }
        z->level = level;
    }
    for (int i = 0; i < level; i++) {
        n_set_fwd(x, i, n_fwd(update[i], i));
        n_set_fwd(update[i], i, x);
        n_set_span(x, i, n_span(update[i], i) - (rank[0] - rank[i]));
        n_set_span(update[i], i, rank[0] - rank[i] + 1);
    }
    for (int i = level; i < z->level; i++) n_set_span(update[i], i, n_span(update[i], i) + 1);
    n_set_back(x, update[0] == z->header ? NULL : update[0]);
    ts_zsl_node *next = n_fwd(x, 0);
    if (next) n_set_back(next, x);
    else z->tail = x;
    z->length++;
}

/* Unlinks x given update[] (the last node before x on every level). */
static void unlink_node(ts_zsl *z, ts_zsl_node *x, ts_zsl_node **update)
{
    for (int i = 0; i < z->level; i++) {
        if (n_fwd(update[i], i) == x) {
            n_set_span(update[i], i, n_span(update[i], i) + n_span(x, i) - 1);
            n_set_fwd(update[i], i, n_fwd(x, i));
        } else {
            n_set_span(update[i], i, n_span(update[i], i) - 1);
        }
    }
    ts_zsl_node *next = n_fwd(x, 0);
    if (next) n_set_back(next, n_back(x));
    else z->tail = n_back(x);
    while (z->level > 1 && n_fwd(z->header, z->level - 1) == NULL) z->level--;
    z->length--;
}

/* Unlinks x (update[] as for unlink_node) and deletes its member's entry,
 * which holds the node: x is freed. */
static void delete_node(ts_zsl *z, ts_zsl_node *x, ts_zsl_node **update)
{
    unlink_node(z, x, update);
    size_t n;
    const char *m = n_member(x, &n);
    ts_entry *e = ts_table_find(&z->dict, m, n);
    TS_ASSERT(e != NULL);
    ts_table_delete_entry(&z->dict, e);
}

/* Fills update[] for node x (which is in the list). */
static void find_update(const ts_zsl *z, const ts_zsl_node *x, ts_zsl_node **update)
{
    double s = n_score(x);
    size_t mn;
    const char *m = n_member(x, &mn);
    ts_zsl_node *h = z->header;
    for (int i = z->level - 1; i >= 0; i--) {
        ts_zsl_node *f;
        while ((f = n_fwd(h, i)) && f != x && n_cmp(f, s, m, mn) < 0) h = f;
        update[i] = h;
    }
}

ts_zsl_node *ts_zsl_insert(ts_zsl *z, const char *m, size_t n, double score)
{
    ts_zsl_node *x = node_create(z, m, n, score, random_level());
    link_node(z, x);
    return x;
}

ts_zsl_node *ts_zsl_append(ts_zsl *z, const char *m, size_t n, double score)
{
    int level = random_level();
    ts_zsl_node *x = node_create(z, m, n, score, level);
    /* update[i] = the last node of level i: walk down from the header on
     * the highest level, always to the end (the list is short per level). */
    if (level > z->level) {
        for (int i = z->level; i < level; i++) n_set_span(z->header, i, z->length);
        z->level = level;
    }
    ts_zsl_node *h = z->header;
    size_t r = 0;
    for (int i = z->level - 1; i >= 0; i--) {
        ts_zsl_node *f;
        while ((f = n_fwd(h, i))) {
            r += n_span(h, i);
            h = f;
        }
        if (i < level) {
            n_set_fwd(h, i, x);
            n_set_span(h, i, z->length + 1 - r);
            n_set_span(x, i, 0);
        } else {
            n_set_span(h, i, n_span(h, i) + 1);
        }
    }
    n_set_back(x, z->tail);
    z->tail = x;
    z->length++;
    return x;
}

void ts_zsl_delete(ts_zsl *z, ts_zsl_node *x)
{
    ts_zsl_node *update[TS_ZSL_MAXLEVEL];
    find_update(z, x, update);
    delete_node(z, x, update);
}

void ts_zsl_update_score(ts_zsl *z, ts_zsl_node *x, double score)
{
    size_t mn;
    const char *m = n_member(x, &mn);
    ts_zsl_node *prev = n_back(x), *next = n_fwd(x, 0);
    /* Still in order with its neighbours: only the score changes. */
    if ((!prev || n_cmp(prev, score, m, mn) < 0) && (!next || n_cmp(next, score, m, mn) > 0)) {
        n_set_score(x, score);
        return;
    }
    ts_zsl_node *update[TS_ZSL_MAXLEVEL];
    find_update(z, x, update);
    unlink_node(z, x, update);
    n_set_score(x, score);
    link_node(z, x);
}

/* ---- rank ---- */

size_t ts_zsl_rank(const ts_zsl *z, const ts_zsl_node *x)
{
    double s = n_score(x);
    size_t mn;
    const char *m = n_member(x, &mn);
    ts_zsl_node *h = z->header;
    size_t r = 0;
    for (int i = z->level - 1; i >= 0; i--) {
        ts_zsl_node *f;
        while ((f = n_fwd(h, i)) && n_cmp(f, s, m, mn) <= 0) {
            r += n_span(h, i);
            h = f;
        }
        if (h == x) return r - 1;
    }
    TS_ASSERT(h == x);
    return r - 1;
}

ts_zsl_node *ts_zsl_at(const ts_zsl *z, size_t rank)
{
    if (rank >= z->length) return NULL;
    size_t target = rank + 1, r = 0;
    ts_zsl_node *h = z->header;
    for (int i = z->level - 1; i >= 0; i--) {
        ts_zsl_node *f;
        while ((f = n_fwd(h, i)) && r + n_span(h, i) <= target) {
            r += n_span(h, i);
            h = f;
        }
        if (r == target) return h;
    }
    return NULL;
}

/* ---- ranges ---- */

ts_zsl_node *ts_zsl_first_in_score(const ts_zsl *z, const ts_zscore_range *r)
{
    if (ts_zscore_range_empty(r) || !z->tail) return NULL;
    if (!ts_zscore_gte_min(n_score(z->tail), r)) return NULL;
    ts_zsl_node *h = z->header;
    for (int i = z->level - 1; i >= 0; i--) {
        ts_zsl_node *f;
        while ((f = n_fwd(h, i)) && !ts_zscore_gte_min(n_score(f), r)) h = f;
    }
    ts_zsl_node *x = n_fwd(h, 0);
    return x && ts_zscore_lte_max(n_score(x), r) ? x : NULL;
}

ts_zsl_node *ts_zsl_last_in_score(const ts_zsl *z, const ts_zscore_range *r)
{
    ts_zsl_node *first = n_fwd(z->header, 0);
    if (ts_zscore_range_empty(r) || !first) return NULL;
    if (!ts_zscore_lte_max(n_score(first), r)) return NULL;
    ts_zsl_node *h = z->header;
    for (int i = z->level - 1; i >= 0; i--) {
        ts_zsl_node *f;
        while ((f = n_fwd(h, i)) && ts_zscore_lte_max(n_score(f), r)) h = f;
    }
    return h != z->header && ts_zscore_gte_min(n_score(h), r) ? h : NULL;
}

static bool node_lex_gte_min(const ts_zsl_node *x, const ts_zlex_range *r)
{
    size_t n;
    const char *m = n_member(x, &n);
    return ts_zlex_gte_min(m, n, r);
}
static bool node_lex_lte_max(const ts_zsl_node *x, const ts_zlex_range *r)
{
    size_t n;
    const char *m = n_member(x, &n);
    return ts_zlex_lte_max(m, n, r);
}

ts_zsl_node *ts_zsl_first_in_lex(const ts_zsl *z, const ts_zlex_range *r)
{
    if (ts_zlex_range_empty(r) || !z->tail) return NULL;
    if (!node_lex_gte_min(z->tail, r)) return NULL;
    ts_zsl_node *h = z->header;
    for (int i = z->level - 1; i >= 0; i--) {
        ts_zsl_node *f;
        while ((f = n_fwd(h, i)) && !node_lex_gte_min(f, r)) h = f;
    }
    ts_zsl_node *x = n_fwd(h, 0);
    return x && node_lex_lte_max(x, r) ? x : NULL;
}

ts_zsl_node *ts_zsl_last_in_lex(const ts_zsl *z, const ts_zlex_range *r)
{
    ts_zsl_node *first = n_fwd(z->header, 0);
    if (ts_zlex_range_empty(r) || !first) return NULL;
    if (!node_lex_lte_max(first, r)) return NULL;
    ts_zsl_node *h = z->header;
    for (int i = z->level - 1; i >= 0; i--) {
        ts_zsl_node *f;
        while ((f = n_fwd(h, i)) && node_lex_lte_max(f, r)) h = f;
    }
    return h != z->header && node_lex_gte_min(h, r) ? h : NULL;
}

size_t ts_zsl_delete_rank_range(ts_zsl *z, size_t start, size_t end)
{
    if (start >= z->length || end < start) return 0;
    if (end >= z->length) end = z->length - 1;
    ts_zsl_node *update[TS_ZSL_MAXLEVEL];
    size_t r = 0;
    ts_zsl_node *h = z->header;
    for (int i = z->level - 1; i >= 0; i--) {
        ts_zsl_node *f;
        while ((f = n_fwd(h, i)) && r + n_span(h, i) < start + 1) {
            r += n_span(h, i);
            h = f;
        }
        update[i] = h;
    }
    size_t removed = 0;
    ts_zsl_node *x = n_fwd(h, 0);
    while (x && removed < end - start + 1) {
        ts_zsl_node *next = n_fwd(x, 0);
        delete_node(z, x, update);
        removed++;
        x = next;
    }
    return removed;
}

size_t ts_zsl_memory(const ts_zsl *z)
{
    return sizeof(*z) + malloc_usable_size(z->header) + ts_table_memory(&z->dict);
}
