/*
 * t_zset.c - the sorted-set type over its two encodings (see t_zset.h):
 * listpack (small) and skiplist (zskiplist.c), score text rules, the
 * per-type ops (free, dup, free effort) and the pop primitive.
 *
 * Thread: the owner of the key's shard.
 *
 * Shape: every operation is written once per encoding and nowhere else, so
 * the commands (src/cmd/zsets.c) never look at an encoding. The listpack
 * side walks pairs linearly - it is small by construction (at most
 * zset-max-listpack-entries members) - and keeps Redis's byte layout so an
 * RDB can carry it as it is.
 */
#include "tessera/types/t_zset.h"

#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/config/config.h"
#include "tessera/types/listpack.h"

/* ---------- scores ---------- */

/* Copies a into a NUL-terminated buffer (stack for short ones). */
static char *arg_cstr(ts_arg a, char *stack, size_t cap)
{
    char *b = a.len < cap ? stack : ts_malloc(a.len + 1);
    memcpy(b, a.ptr, a.len);
    b[a.len] = '\0';
    return b;
}

bool ts_zset_parse_score(ts_arg a, double *out)
{
    if (a.len == 0 || isspace((unsigned char)a.ptr[0])) return false;
    char stack[128];
    char *b = arg_cstr(a, stack, sizeof(stack));
    char *end;
    errno = 0;
    double d = strtod(b, &end);
    bool ok = (size_t)(end - b) == a.len && !isnan(d) &&
              !(errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL || fpclassify(d) == FP_ZERO));
    if (b != stack) free(b);
    if (ok) *out = d;
    return ok;
}

int ts_zset_fmt_score(char *buf, double d)
{
    if (isnan(d)) return snprintf(buf, 32, "nan");
    if (isinf(d)) return snprintf(buf, 32, "%s", d < 0 ? "-inf" : "inf");
    if (d == 0) return snprintf(buf, 32, "%s", signbit(d) ? "-0" : "0");
    /* Integral values of safe magnitude print as integers (Redis's d2string). */
    if (d > -4503599627370495.0 && d < 4503599627370496.0 && d == (double)(long long)d)
        return snprintf(buf, 32, "%lld", (long long)d);
    return snprintf(buf, 32, "%.17g", d);
}

/* Redis's zslParseRange item: strtod over the C string (leading space and
 * "" are accepted, the argument ends at a NUL), "(" for exclusive, no NaN. */
static bool parse_score_bound(ts_arg a, double *v, bool *ex)
{
    char stack[128];
    char *b = arg_cstr(a, stack, sizeof(stack));
    char *s = b, *end;
    *ex = false;
    if (s[0] == '(') {
        *ex = true;
        s++;
    }
    *v = strtod(s, &end);
    bool ok = end[0] == '\0' && !isnan(*v);
    if (b != stack) free(b);
    return ok;
}

bool ts_zset_parse_score_range(ts_arg min, ts_arg max, ts_zscore_range *r)
{
    return parse_score_bound(min, &r->min, &r->minex) && parse_score_bound(max, &r->max, &r->maxex);
}

static bool parse_lex_bound(ts_arg a, ts_zlex_bound *b)
{
    if (a.len == 0) return false;
    switch (a.ptr[0]) {
    case '+':
    case '-':
        if (a.len > 1 && a.ptr[1] != '\0') return false;
        b->kind = a.ptr[0] == '+' ? TS_LEX_POS : TS_LEX_NEG;
        b->ex = true;
        b->p = NULL;
        b->n = 0;
        return true;
    case '(':
    case '[':
        b->kind = TS_LEX_VAL;
        b->ex = a.ptr[0] == '(';
        b->p = a.ptr + 1;
        b->n = a.len - 1;
        return true;
    default:
        return false;
    }
}

bool ts_zset_parse_lex_range(ts_arg min, ts_arg max, ts_zlex_range *r)
{
    return parse_lex_bound(min, &r->min) && parse_lex_bound(max, &r->max);
}

/* ---------- listpack helpers (pairs: member element, score element) ---------- */

static double lp_score_at(const unsigned char *p)
{
    ts_lp_val v;
    ts_lp_get(p, &v);
    if (!v.str) return (double)v.ll;
    char buf[128];
    size_t n = v.len < sizeof(buf) - 1 ? v.len : sizeof(buf) - 1;
    memcpy(buf, v.str, n);
    buf[n] = '\0';
    return strtod(buf, NULL);
}

static size_t lp_pairs(const unsigned char *lp) { return ts_lp_length(lp) / 2; }

/* The member element of m, or NULL; *score gets its score. */
static unsigned char *lp_find(unsigned char *lp, const char *m, size_t n, double *score)
{
    unsigned char *first = ts_lp_first(lp);
    if (!first) return NULL;
    unsigned char *p = ts_lp_find(lp, first, m, n, 1);
    if (p && score) *score = lp_score_at(ts_lp_next(lp, p));
    return p;
}

static int lp_cmp_member(const unsigned char *p, const char *m, size_t n)
{
    char buf[32];
    size_t len;
    const unsigned char *s = ts_lp_get_str(p, buf, &len);
    return ts_zmember_cmp((const char *)s, len, m, n);
}

/* A score as Redis 7.0's zzlInsertAt stores it: an integer when the double
 * is integral within +-LLONG_MAX/2 (double2ll; -0 becomes 0), else d2string. */
static int lp_score_text(char *buf, double d)
{
    if (d >= (double)(-LLONG_MAX / 2) && d <= (double)(LLONG_MAX / 2)) {
        long long ll = (long long)d;
        if ((double)ll == d) return snprintf(buf, 32, "%lld", ll);
    }
    return ts_zset_fmt_score(buf, d);
}

/* Inserts (m, score) at its sorted place; returns the new listpack. */
static unsigned char *lp_insert(unsigned char *lp, const char *m, size_t n, double score)
{
    char sbuf[32];
    int sl = lp_score_text(sbuf, score);
    for (unsigned char *p = ts_lp_first(lp); p; p = ts_lp_next(lp, ts_lp_next(lp, p))) {
        double s = lp_score_at(ts_lp_next(lp, p));
        if (s > score || (s == score && lp_cmp_member(p, m, n) > 0)) {
            unsigned char *np;
            lp = ts_lp_insert(lp, m, n, p, TS_LP_BEFORE, &np);
            return ts_lp_insert(lp, sbuf, (size_t)sl, np, TS_LP_AFTER, NULL);
        }
    }
    lp = ts_lp_append(lp, m, n);
    return ts_lp_append(lp, sbuf, (size_t)sl);
}

static unsigned char *lp_delete_pair(unsigned char *lp, unsigned char *p)
{
    return ts_lp_delete_range_at(lp, &p, 2);
}

/* ---------- objects ---------- */

ts_zset ts_zset_create(const ts_config *cfg, size_t first_len)
{
    if (cfg->zset_max_listpack_entries == 0 || (unsigned long long)cfg->zset_max_listpack_value < first_len)
        return (ts_zset){ts_zsl_new(), TS_ENC_SKIPLIST};
    return (ts_zset){ts_lp_new(), TS_ENC_LISTPACK};
}

size_t ts_zset_length(const ts_zset *z)
{
    return z->enc == TS_ENC_LISTPACK ? lp_pairs(z->ptr) : ts_zsl_length(z->ptr);
}

bool ts_zset_score(ts_zset *z, const char *m, size_t n, double *score)
{
    if (z->enc == TS_ENC_LISTPACK) return lp_find(z->ptr, m, n, score) != NULL;
    ts_zsl_node *x = ts_zsl_find(z->ptr, m, n);
    if (!x) return false;
    *score = ts_zsl_score(x);
    return true;
}

long ts_zset_rank(ts_zset *z, const char *m, size_t n, bool rev)
{
    size_t len = ts_zset_length(z), r;
    if (z->enc == TS_ENC_LISTPACK) {
        unsigned char *lp = z->ptr;
        r = 0;
        unsigned char *p = ts_lp_first(lp);
        while (p && !ts_lp_eq(p, m, n)) {
            p = ts_lp_next(lp, ts_lp_next(lp, p));
            r++;
        }
        if (!p) return -1;
    } else {
        ts_zsl_node *x = ts_zsl_find(z->ptr, m, n);
        if (!x) return -1;
        r = ts_zsl_rank(z->ptr, x);
    }
    return (long)(rev ? len - 1 - r : r);
}

void ts_zset_convert_to_skiplist(ts_zset *z)
{
    if (z->enc != TS_ENC_LISTPACK) return;
    unsigned char *lp = z->ptr;
    ts_zsl *zs = ts_zsl_new();
    char buf[32];
    for (unsigned char *p = ts_lp_first(lp); p; p = ts_lp_next(lp, ts_lp_next(lp, p))) {
        size_t n;
        const unsigned char *m = ts_lp_get_str(p, buf, &n);
        ts_zsl_append(zs, (const char *)m, n, lp_score_at(ts_lp_next(lp, p)));
    }
    ts_lp_free(lp);
    z->ptr = zs;
    z->enc = TS_ENC_SKIPLIST;
}

bool ts_zset_add(ts_zset *z, const ts_config *cfg, double score, const char *m, size_t n, int in,
                 int *out, double *newscore)
{
    bool incr = in & TS_ZADD_INCR, nx = in & TS_ZADD_NX, xx = in & TS_ZADD_XX;
    bool gt = in & TS_ZADD_GT, lt = in & TS_ZADD_LT;
    *out = 0;
    if (isnan(score)) {
        *out = TS_ZADD_OUT_NAN;
        return false;
    }
    double cur;
    unsigned char *p = NULL;
    ts_zsl_node *x = NULL;
    bool found;
    if (z->enc == TS_ENC_LISTPACK) {
        p = lp_find(z->ptr, m, n, &cur);
        found = p != NULL;
    } else {
        x = ts_zsl_find(z->ptr, m, n);
        found = x != NULL;
        if (x) cur = ts_zsl_score(x);
    }
    if (found) {
        if (nx) {
            *out |= TS_ZADD_OUT_NOP;
            return true;
        }
        if (incr) {
            score += cur;
            if (isnan(score)) {
                *out |= TS_ZADD_OUT_NAN;
                return false;
            }
        }
        if ((lt && score >= cur) || (gt && score <= cur)) {
            *out |= TS_ZADD_OUT_NOP;
            return true;
        }
        if (newscore) *newscore = score;
        if (score != cur) {
            if (z->enc == TS_ENC_LISTPACK) {
                /* m may point into the listpack being changed (never: it
                 * is a command argument), so delete then insert. */
                z->ptr = lp_delete_pair(z->ptr, p);
                z->ptr = lp_insert(z->ptr, m, n, score);
            } else {
                ts_zsl_update_score(z->ptr, x, score);
            }
            *out |= TS_ZADD_OUT_UPDATED;
        }
        return true;
    }
    if (xx) {
        *out |= TS_ZADD_OUT_NOP;
        return true;
    }
    if (z->enc == TS_ENC_LISTPACK) {
        /* Redis also leaves the listpack before it would pass 1 GB
         * (lpSafeToAdd), which only a huge zset-max-listpack-value allows. */
        if (lp_pairs(z->ptr) + 1 > (unsigned long long)cfg->zset_max_listpack_entries ||
            n > (unsigned long long)cfg->zset_max_listpack_value || ts_lp_bytes(z->ptr) + n > TS_LP_SAFE_BYTES) {
            ts_zset_convert_to_skiplist(z);
        } else {
            z->ptr = lp_insert(z->ptr, m, n, score);
        }
    }
    if (z->enc == TS_ENC_SKIPLIST) ts_zsl_insert(z->ptr, m, n, score);
    if (newscore) *newscore = score;
    *out |= TS_ZADD_OUT_ADDED;
    return true;
}

bool ts_zset_del(ts_zset *z, const char *m, size_t n)
{
    if (z->enc == TS_ENC_LISTPACK) {
        unsigned char *p = lp_find(z->ptr, m, n, NULL);
        if (!p) return false;
        z->ptr = lp_delete_pair(z->ptr, p);
        return true;
    }
    ts_zsl_node *x = ts_zsl_find(z->ptr, m, n);
    if (!x) return false;
    ts_zsl_delete(z->ptr, x);
    return true;
}

size_t ts_zset_delete_ranks(ts_zset *z, size_t start, size_t end)
{
    size_t len = ts_zset_length(z);
    if (start >= len || end < start) return 0;
    if (end >= len) end = len - 1;
    if (z->enc == TS_ENC_LISTPACK) {
        z->ptr = ts_lp_delete_range(z->ptr, (long)(2 * start), 2 * (end - start + 1));
        return end - start + 1;
    }
    return ts_zsl_delete_rank_range(z->ptr, start, end);
}

bool ts_zset_score_ranks(ts_zset *z, const ts_zscore_range *r, size_t *start, size_t *end)
{
    if (z->enc == TS_ENC_SKIPLIST) {
        ts_zsl_node *a = ts_zsl_first_in_score(z->ptr, r);
        if (!a) return false;
        ts_zsl_node *b = ts_zsl_last_in_score(z->ptr, r);
        *start = ts_zsl_rank(z->ptr, a);
        *end = ts_zsl_rank(z->ptr, b);
        return true;
    }
    if (ts_zscore_range_empty(r)) return false;
    unsigned char *lp = z->ptr;
    size_t i = 0;
    bool any = false;
    for (unsigned char *p = ts_lp_first(lp); p; p = ts_lp_next(lp, ts_lp_next(lp, p)), i++) {
        double s = lp_score_at(ts_lp_next(lp, p));
        if (!ts_zscore_gte_min(s, r)) continue;
        if (!ts_zscore_lte_max(s, r)) break;
        if (!any) *start = i;
        *end = i;
        any = true;
    }
    return any;
}

static bool lp_lex_gte(unsigned char *p, const ts_zlex_range *r)
{
    char buf[32];
    size_t n;
    const char *m = (const char *)ts_lp_get_str(p, buf, &n);
    return ts_zlex_gte_min(m, n, r);
}

static bool lp_lex_lte(unsigned char *p, const ts_zlex_range *r)
{
    char buf[32];
    size_t n;
    const char *m = (const char *)ts_lp_get_str(p, buf, &n);
    return ts_zlex_lte_max(m, n, r);
}

/* The listpack walk of Redis's zzlFirstInLexRange / zzlLastInLexRange and
 * the emission loops after them: they assume members sorted by bytes (equal
 * scores); with mixed scores the result is whatever those walks give, and
 * this reproduces them step for step. */
bool ts_zset_lex_ranks(ts_zset *z, const ts_zlex_range *r, bool rev, size_t *start, size_t *end)
{
    if (z->enc == TS_ENC_SKIPLIST) {
        ts_zsl_node *a = ts_zsl_first_in_lex(z->ptr, r);
        if (!a) return false;
        ts_zsl_node *b = ts_zsl_last_in_lex(z->ptr, r);
        if (!b) return false;
        *start = ts_zsl_rank(z->ptr, a);
        *end = ts_zsl_rank(z->ptr, b);
        return *start <= *end;
    }
    if (ts_zlex_range_empty(r)) return false;
    unsigned char *lp = z->ptr;
    unsigned char *first = ts_lp_first(lp), *last = ts_lp_seek(lp, -2);
    if (!first || !lp_lex_gte(last, r) || !lp_lex_lte(first, r)) return false;
    size_t len = lp_pairs(lp);
    if (!rev) {
        size_t i = 0;
        unsigned char *p = first;
        while (p && !lp_lex_gte(p, r)) {
            p = ts_lp_next(lp, ts_lp_next(lp, p));
            i++;
        }
        if (!p || !lp_lex_lte(p, r)) return false;
        *start = *end = i;
        for (p = ts_lp_next(lp, ts_lp_next(lp, p)); p && lp_lex_lte(p, r); p = ts_lp_next(lp, ts_lp_next(lp, p)))
            (*end)++;
        return true;
    }
    size_t i = len - 1;
    unsigned char *p = last;
    while (p && !lp_lex_lte(p, r)) {
        unsigned char *q = ts_lp_prev(lp, p);
        p = q ? ts_lp_prev(lp, q) : NULL;
        i--;
    }
    if (!p || !lp_lex_gte(p, r)) return false;
    *start = *end = i;
    for (;;) {
        unsigned char *q = ts_lp_prev(lp, p);
        p = q ? ts_lp_prev(lp, q) : NULL;
        if (!p || !lp_lex_gte(p, r)) break;
        (*start)--;
    }
    return true;
}

/* ---------- iteration ---------- */

void ts_zset_it_at(ts_zset *z, ts_zset_it *it, size_t rank, bool rev)
{
    it->enc = z->enc;
    it->rev = rev;
    it->p = NULL;
    it->x = NULL;
    size_t len = ts_zset_length(z);
    if (rank >= len) return;
    size_t asc = rev ? len - 1 - rank : rank;
    if (z->enc == TS_ENC_LISTPACK) {
        it->lp = z->ptr;
        it->p = ts_lp_seek(it->lp, (long)(2 * asc));
    } else {
        it->x = ts_zsl_at(z->ptr, asc);
    }
}

const char *ts_zset_it_member(ts_zset_it *it, size_t *len)
{
    if (it->enc == TS_ENC_LISTPACK) return (const char *)ts_lp_get_str(it->p, it->buf, len);
    return ts_zsl_member(it->x, len);
}

double ts_zset_it_score(const ts_zset_it *it)
{
    if (it->enc == TS_ENC_LISTPACK) return lp_score_at(ts_lp_next(it->lp, it->p));
    return ts_zsl_score(it->x);
}

void ts_zset_it_next(ts_zset_it *it)
{
    if (it->enc == TS_ENC_LISTPACK) {
        if (it->rev) {
            unsigned char *q = ts_lp_prev(it->lp, it->p);
            it->p = q ? ts_lp_prev(it->lp, q) : NULL;
        } else {
            it->p = ts_lp_next(it->lp, ts_lp_next(it->lp, it->p));
        }
    } else {
        it->x = it->rev ? ts_zsl_prev(it->x) : ts_zsl_next(it->x);
    }
}

/* ---------- ops ---------- */

static void zset_free(void *obj, int enc)
{
    if (enc == TS_ENC_LISTPACK) ts_lp_free(obj);
    else ts_zsl_free(obj);
}

static void *zset_dup(const void *obj, int enc)
{
    if (enc == TS_ENC_LISTPACK) {
        size_t n = ts_lp_bytes(obj);
        void *d = ts_malloc(n);
        memcpy(d, obj, n);
        return d;
    }
    return ts_zsl_dup(obj);
}

unsigned char *ts_zset_lp_append(unsigned char *lp, const char *m, size_t n, double score)
{
    char sbuf[32];
    int sl = lp_score_text(sbuf, score);
    lp = ts_lp_append(lp, m, n);
    return ts_lp_append(lp, sbuf, (size_t)sl);
}

static size_t zset_free_effort(const void *obj, int enc)
{
    return enc == TS_ENC_LISTPACK ? 1 : ts_zsl_length(obj);
}

const ts_type_ops ts_zset_ops = {zset_free, zset_dup, zset_free_effort};
