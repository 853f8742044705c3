/*
 * sort.c - SORT and SORT_RO (Redis 7.0's sort.c semantics, written anew):
 * the options, loading a list/set/zset, BY weights, ALPHA, LIMIT, GET,
 * STORE, and the multi-shard operation that runs them when BY or GET
 * patterns name keys that may live on other shards.
 *
 * Owns: one call's sort job (its copied elements, its lookup requests and
 * their copied results), on the thread that runs the command (local) or on
 * the txn's coordinator (ts_multi_sort).
 *
 * Threads and routing (docs/architecture.md, section 3 and 4):
 *   - No BY/GET pattern with a '*' (BY nosort, GET #): SORT touches only its
 *     key and STORE's destination: an ordinary KEYS command (the fast path;
 *     source and destination on two shards run through ts_multi_borrow).
 *   - A pattern with '*' on a server with several shards: the dispatcher
 *     (cmd->wide_keys) makes it an exclusive txn over every shard, so the
 *     values read are one snapshot and the STORE is atomic with them:
 *       0 LOAD   the source's shard copies the elements (after the option
 *                check, like Redis, so a syntax error looks nothing up)
 *       1 BY     each shard looks up the BY keys that hash to it
 *       2 GET    each shard looks up the GET keys of the output range
 *       3 STORE  the destination's shard writes the list
 *     after() sorts on the coordinator between the phases; a phase with
 *     nothing to do is skipped. Each lookup request is written by the one
 *     shard that owns its key and read by the coordinator after DONE (the
 *     message queues order them). No shard memory is touched by another
 *     thread: elements and values travel as copies.
 *   - One shard: everything runs locally on it.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "tessera/route/engine.h"
#include "tessera/route/run.h"
#include "tessera/route/slot.h"
#include "tessera/store/db.h"
#include "tessera/store/watched_keys.h"
#include "tessera/types/quicklist.h"
#include "tessera/types/t_hash.h"
#include "tessera/types/t_set.h"
#include "tessera/types/t_zset.h"
#include "tessera/util/strconv.h"

#define ERR_SCORES "ERR One or more scores can't be converted into double"

/* ---------- options ---------- */

typedef struct sort_opts {
    bool desc, alpha, dontsort;
    long long limit_start, limit_count;
    int by;            /* argv index of the BY pattern, 0: none */
    int store;         /* argv index of the destination, 0: none */
    int ngets;
    int *gets;         /* argv indexes of GET patterns */
} sort_opts;

/* Redis's option loop: NULL, or the error to reply. */
static const char *sort_parse(int argc, const ts_arg *argv, bool readonly, sort_opts *o)
{
    memset(o, 0, sizeof *o);
    o->limit_count = -1;
    o->gets = ts_malloc(sizeof(int) * (size_t)argc);
    for (int j = 2; j < argc; j++) {
        int left = argc - j - 1;
        ts_arg a = argv[j];
        if (ts_arg_cstr_eq(a, "asc")) o->desc = false;
        else if (ts_arg_cstr_eq(a, "desc")) o->desc = true;
        else if (ts_arg_cstr_eq(a, "alpha")) o->alpha = true;
        else if (ts_arg_cstr_eq(a, "limit") && left >= 2) {
            if (!ts_arg_to_ll(argv[j + 1], &o->limit_start) || !ts_arg_to_ll(argv[j + 2], &o->limit_count))
                return TS_ERR_NOT_INT;
            j += 2;
        } else if (!readonly && ts_arg_cstr_eq(a, "store") && left >= 1) {
            o->store = ++j;
        } else if (ts_arg_cstr_eq(a, "by") && left >= 1) {
            o->by = ++j;
            if (!memchr(argv[j].ptr, '*', strnlen(argv[j].ptr, argv[j].len))) o->dontsort = true;
        } else if (ts_arg_cstr_eq(a, "get") && left >= 1) {
            o->gets[o->ngets++] = ++j;
        } else {
            return TS_ERR_SYNTAX;
        }
    }
    return NULL;
}

static bool has_star(ts_arg a) { return memchr(a.ptr, '*', strnlen(a.ptr, a.len)) != NULL; }

const char *ts_sort_any_key_option(const ts_command *cmd, int argc, const ts_arg *argv)
{
    bool readonly = !(cmd->flags & TS_CMD_WRITE);
    long long n;
    for (int j = 2; j < argc; j++) {   /* sort_parse's loop, up to its first error */
        int left = argc - j - 1;
        ts_arg a = argv[j];
        if (ts_arg_cstr_eq(a, "asc") || ts_arg_cstr_eq(a, "desc") || ts_arg_cstr_eq(a, "alpha")) continue;
        if (ts_arg_cstr_eq(a, "limit") && left >= 2) {
            if (!ts_arg_to_ll(argv[j + 1], &n) || !ts_arg_to_ll(argv[j + 2], &n)) return NULL;
            j += 2;
        } else if (!readonly && ts_arg_cstr_eq(a, "store") && left >= 1) {
            j++;
        } else if (ts_arg_cstr_eq(a, "by") && left >= 1) {
            if (has_star(argv[++j])) return "ERR BY option of SORT denied due to insufficient ACL permissions.";
        } else if (ts_arg_cstr_eq(a, "get") && left >= 1) {
            return "ERR GET option of SORT denied due to insufficient ACL permissions.";
        } else {
            return NULL;
        }
    }
    return NULL;
}

/* Whether the call may read keys it does not name (the dispatcher's test,
 * from argv alone: any BY or GET argument holding a '*'). */
bool ts_sort_wide_keys(int argc, const ts_arg *argv)
{
    for (int j = 2; j + 1 < argc; j++)
        if ((ts_arg_cstr_eq(argv[j], "by") || ts_arg_cstr_eq(argv[j], "get")) && has_star(argv[j + 1])) return true;
    return false;
}

/* ---------- the elements ---------- */

typedef struct sort_elem {
    char *p;
    size_t n;
    double score;
    char *cmp;         /* ALPHA BY weight (NUL-terminated copy), NULL: missing */
    size_t cmpn;
} sort_elem;

typedef struct sort_vec {
    sort_elem *v;
    long n;
    long start, end;   /* the output range */
    bool wrongtype;
    bool is_set;
} sort_vec;

static void vec_push(sort_vec *s, const char *p, size_t n)
{
    sort_elem *e = &s->v[s->n++];
    memset(e, 0, sizeof *e);
    e->p = ts_malloc(n + 1);
    memcpy(e->p, p, n);
    e->p[n] = '\0';
    e->n = n;
}

static void vec_free(sort_vec *s)
{
    for (long i = 0; s->v && i < s->n; i++) { free(s->v[i].p); free(s->v[i].cmp); }
    free(s->v);
    free(s);
}

static void push_member(void *ctx, const char *p, size_t n) { vec_push(ctx, p, n); }

static void push_lp(sort_vec *s, const ts_lp_val *v)
{
    char buf[24];
    if (v->str) { vec_push(s, (const char *)v->str, v->len); return; }
    vec_push(s, buf, ts_ll_to_str(buf, v->ll));
}

/* Redis's LIMIT arithmetic over len elements. */
static void limit_range(const sort_opts *o, long len, long *start, long *end)
{
    long long s = o->limit_start < 0 ? 0 : o->limit_start;
    if (s > len) s = len;
    long long cnt = o->limit_count < -1 ? -1 : o->limit_count;
    if (cnt > len) cnt = len;
    long long e = cnt < 0 ? len - 1 : s + cnt - 1;
    if (s >= len) { s = len - 1; e = len - 2; }
    if (e >= len) e = len - 1;
    *start = (long)s;
    *end = (long)e;
}

static void load_list(sort_vec *s, ts_quicklist *ql, const sort_opts *o, long len)
{
    ts_ql_iter it;
    ts_lp_val v;
    if (!o->dontsort) {
        ts_ql_iter_at(ql, 0, TS_QL_TAIL, &it);
        while (ts_ql_iter_next(&it, &v)) push_lp(s, &v);
        return;
    }
    if (s->end < s->start) return;
    long want = s->end - s->start + 1;
    ts_ql_iter_at(ql, o->desc ? len - s->start - 1 : s->start, o->desc ? TS_QL_HEAD : TS_QL_TAIL, &it);
    while (s->n < want && ts_ql_iter_next(&it, &v)) push_lp(s, &v);
    s->end -= s->start;
    s->start = 0;
}

static void load_zset(sort_vec *s, ts_zset *z, const sort_opts *o)
{
    ts_zset_it it;
    size_t mlen;
    if (!o->dontsort) {
        for (ts_zset_it_at(z, &it, 0, false); ts_zset_it_valid(&it); ts_zset_it_next(&it)) {
            const char *m = ts_zset_it_member(&it, &mlen);
            vec_push(s, m, mlen);
        }
        return;
    }
    long want = s->end - s->start + 1;
    if (want > 0)
        for (ts_zset_it_at(z, &it, (size_t)s->start, o->desc); s->n < want && ts_zset_it_valid(&it); ts_zset_it_next(&it)) {
            const char *m = ts_zset_it_member(&it, &mlen);
            vec_push(s, m, mlen);
        }
    s->end -= s->start;
    s->start = 0;
}

/* Loads the key to sort (Redis's lookupKeyRead: counts a hit or a miss).
 * May turn o->dontsort off (a set stored unsorted is sorted ALPHA). */
static sort_vec *sort_load(ts_exec *x, ts_arg key, sort_opts *o)
{
    sort_vec *s = ts_calloc(1, sizeof *s);
    ts_entry *e = ts_db_lookup_read(x, key);
    int type = e ? ts_entry_type(e) : TS_TYPE_LIST;
    if (type != TS_TYPE_LIST && type != TS_TYPE_SET && type != TS_TYPE_ZSET) { s->wrongtype = true; return s; }
    s->is_set = type == TS_TYPE_SET;
    if (o->dontsort && s->is_set && o->store) { o->dontsort = false; o->alpha = true; o->by = 0; }
    long len = 0;
    ts_zset z = {0};
    if (type == TS_TYPE_LIST) len = e ? (long)ts_ql_count(ts_entry_obj(e)) : 0;
    else if (type == TS_TYPE_SET) len = (long)ts_set_size(ts_entry_obj(e), ts_entry_enc(e));
    else {
        z = ts_zset_of(e);
        ts_zset_convert_to_skiplist(&z);   /* Redis converts the sorted set it sorts */
        ts_zset_store(e, &z);
        len = (long)ts_zset_length(&z);
    }
    limit_range(o, len, &s->start, &s->end);
    s->v = ts_malloc(sizeof(sort_elem) * (size_t)(len ? len : 1));
    if (!e) return s;
    if (type == TS_TYPE_LIST) load_list(s, ts_entry_obj(e), o, len);
    else if (type == TS_TYPE_SET) ts_set_foreach(ts_entry_obj(e), ts_entry_enc(e), push_member, s);
    else load_zset(s, &z, o);
    return s;
}

/* ---------- pattern lookups ---------- */

typedef struct sort_req {
    char *key;
    size_t klen;
    const char *field;  /* into the pattern (argv), NULL: a string key */
    size_t flen;
    unsigned shard;
    bool found;
    char *val;          /* copy, NUL-terminated */
    size_t vlen;
} sort_req;

/* Builds the request of pattern for element el (Redis's lookupKeyByPattern
 * up to the lookup). False: the pattern has no '*' (always nil). */
static bool req_make(sort_req *q, ts_arg pat, const sort_elem *el)
{
    memset(q, 0, sizeof *q);
    size_t clen = strnlen(pat.ptr, pat.len);   /* Redis searches the C string */
    const char *star = memchr(pat.ptr, '*', clen);
    if (!star) return false;
    size_t fieldlen = 0;
    const char *end = pat.ptr + clen;
    for (const char *f = star + 1; f + 1 < end; f++) {
        if (f[0] == '-' && f[1] == '>') {
            if (f + 2 < end) {
                fieldlen = pat.len - (size_t)(f - pat.ptr) - 2;
                q->field = f + 2;
                q->flen = fieldlen;
            }
            break;
        }
    }
    size_t prefix = (size_t)(star - pat.ptr);
    size_t post = pat.len - (prefix + 1) - (fieldlen ? fieldlen + 2 : 0);
    q->klen = prefix + el->n + post;
    q->key = ts_malloc(q->klen ? q->klen : 1);
    memcpy(q->key, pat.ptr, prefix);
    memcpy(q->key + prefix, el->p, el->n);
    memcpy(q->key + prefix + el->n, star + 1, post);
    q->shard = ts_key_shard(q->key, q->klen);
    return true;
}

static void req_set(sort_req *q, const char *p, size_t n)
{
    q->found = true;
    q->val = ts_malloc(n + 1);
    memcpy(q->val, p, n);
    q->val[n] = '\0';
    q->vlen = n;
}

/* Looks the request's key up on x's shard (a read: hit/miss, lazy expiry). */
static void req_resolve(ts_exec *x, sort_req *q)
{
    ts_entry *e = ts_db_lookup_read(x, (ts_arg){.ptr = q->key, .len = q->klen});
    if (!e) return;
    int type = ts_entry_type(e);
    if (q->field) {
        if (type != TS_TYPE_HASH) return;
        char buf[TS_HOBJ_NUMBUF];
        ts_hobj_str v;
        if (ts_hobj_get(ts_entry_obj(e), ts_entry_enc(e), q->field, q->flen, buf, &v)) req_set(q, v.p, v.n);
    } else if (type == TS_TYPE_STRING) {
        char buf[24];
        const char *p;
        size_t n;
        ts_entry_string(e, buf, &p, &n);
        req_set(q, p, n);
    }
}

typedef struct sort_reqs {
    sort_req *q;
    long n;
    long *at;           /* per request: its element (BY) or output slot (GET) */
} sort_reqs;

static void reqs_free(sort_reqs *r)
{
    for (long i = 0; i < r->n; i++) { free(r->q[i].key); free(r->q[i].val); }
    free(r->q);
    free(r->at);
    memset(r, 0, sizeof *r);
}

/* The BY requests: one per element (Redis looks every weight up). */
static void by_requests(const sort_opts *o, const sort_vec *s, const ts_arg *argv, sort_reqs *r)
{
    memset(r, 0, sizeof *r);
    if (o->dontsort || !o->by) return;
    r->q = ts_malloc(sizeof(sort_req) * (size_t)(s->n ? s->n : 1));
    r->at = ts_malloc(sizeof(long) * (size_t)(s->n ? s->n : 1));
    for (long i = 0; i < s->n; i++)
        if (req_make(&r->q[r->n], argv[o->by], &s->v[i])) r->at[r->n++] = i;
}

/* The GET requests of the output range: slot (j - start) * ngets + g. */
static void get_requests(const sort_opts *o, const sort_vec *s, const ts_arg *argv, sort_reqs *r)
{
    memset(r, 0, sizeof *r);
    long rows = s->end - s->start + 1;
    if (rows <= 0 || o->ngets == 0) return;
    size_t cap = (size_t)rows * (size_t)o->ngets;
    r->q = ts_malloc(sizeof(sort_req) * cap);
    r->at = ts_malloc(sizeof(long) * cap);
    for (long j = s->start; j <= s->end; j++)
        for (int g = 0; g < o->ngets; g++) {
            ts_arg pat = argv[o->gets[g]];
            if (pat.len == 1 && pat.ptr[0] == '#') continue;
            if (req_make(&r->q[r->n], pat, &s->v[j])) r->at[r->n++] = (j - s->start) * o->ngets + g;
        }
}

/* ---------- weights and order ---------- */

/* Applies the BY results (or the elements themselves); false on a score
 * that is not a double (Redis still sorts, then replies the error). */
static bool sort_weigh(const sort_opts *o, sort_vec *s, const sort_reqs *by)
{
    if (o->dontsort) return true;
    bool ok = true;
    long k = 0;
    for (long i = 0; i < s->n; i++) {
        sort_elem *e = &s->v[i];
        const char *p = e->p;
        size_t n = e->n;
        if (o->by) {
            while (k < by->n && by->at[k] < i) k++;
            if (k >= by->n || by->at[k] != i || !by->q[k].found) continue;
            p = by->q[k].val;
            n = by->q[k].vlen;
        }
        if (o->alpha) {
            if (o->by) {
                e->cmp = ts_malloc(n + 1);
                memcpy(e->cmp, p, n + 1);
                e->cmpn = n;
            }
            continue;
        }
        char *end;
        errno = 0;
        e->score = strtod(p, &end);
        if (end[0] != '\0' || errno == ERANGE || isnan(e->score)) ok = false;
    }
    return ok;
}

static int bin_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c) return c;
    return an < bn ? -1 : an > bn;
}

typedef struct sort_cmp_env {
    bool desc, alpha, by, store;
} sort_cmp_env;

/* Redis's sortCompare; strcoll is strcmp in the C locale Tessera runs in. */
static int elem_cmp(const sort_cmp_env *env, const sort_elem *a, const sort_elem *b)
{
    int c;
    if (!env->alpha) {
        if (a->score > b->score) c = 1;
        else if (a->score < b->score) c = -1;
        else c = bin_cmp(a->p, a->n, b->p, b->n);
    } else if (env->by) {
        if (!a->cmp || !b->cmp) c = a->cmp == b->cmp ? 0 : a->cmp ? 1 : -1;
        else c = env->store ? bin_cmp(a->cmp, a->cmpn, b->cmp, b->cmpn) : strcmp(a->cmp, b->cmp);
    } else {
        c = env->store ? bin_cmp(a->p, a->n, b->p, b->n) : strcmp(a->p, b->p);
    }
    return env->desc ? -c : c;
}

/* A stable merge sort (glibc's qsort is one for these sizes, so equal
 * elements keep their input order as in Redis). */
static void merge_sort(const sort_cmp_env *env, sort_elem *v, sort_elem *tmp, long n)
{
    if (n < 2) return;
    long h = n / 2;
    merge_sort(env, v, tmp, h);
    merge_sort(env, v + h, tmp, n - h);
    long i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = elem_cmp(env, &v[j], &v[i]) < 0 ? v[j++] : v[i++];
    while (i < h) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, sizeof(sort_elem) * (size_t)n);
}

static void sort_order(const sort_opts *o, sort_vec *s)
{
    if (o->dontsort || s->n < 2) return;
    sort_cmp_env env = {o->desc, o->alpha, o->by != 0, o->store != 0};
    sort_elem *tmp = ts_malloc(sizeof(sort_elem) * (size_t)s->n);
    merge_sort(&env, s->v, tmp, s->n);
    free(tmp);
}

/* ---------- output ---------- */

/* The value of output slot (row, g): the element, a GET result or none. */
static const char *slot_value(const sort_opts *o, const sort_vec *s, const ts_arg *argv, const sort_reqs *get,
                              long *k, long row, int g, size_t *n)
{
    const sort_elem *el = &s->v[s->start + row];
    ts_arg pat = argv[o->gets[g]];
    if (pat.len == 1 && pat.ptr[0] == '#') { *n = el->n; return el->p; }
    long slot = row * o->ngets + g;
    while (*k < get->n && get->at[*k] < slot) (*k)++;
    if (*k >= get->n || get->at[*k] != slot || !get->q[*k].found) return NULL;
    *n = get->q[*k].vlen;
    return get->q[*k].val;
}

static long output_len(const sort_opts *o, const sort_vec *s)
{
    long rows = s->end - s->start + 1;
    return o->ngets ? o->ngets * rows : rows;
}

static void reply_rows(ts_reply *r, const sort_opts *o, const sort_vec *s, const ts_arg *argv, const sort_reqs *get)
{
    ts_reply_array(r, output_len(o, s));
    long k = 0;
    for (long row = 0; row < s->end - s->start + 1; row++) {
        if (!o->ngets) ts_reply_bulk(r, s->v[s->start + row].p, s->v[s->start + row].n);
        for (int g = 0; g < o->ngets; g++) {
            size_t n;
            const char *p = slot_value(o, s, argv, get, &k, row, g, &n);
            if (p) ts_reply_bulk(r, p, n);
            else ts_reply_null(r);
        }
    }
}

/* The list STORE writes (a missing GET value is ""), or NULL when empty. */
static ts_quicklist *store_list(const ts_config *cfg, const sort_opts *o, const sort_vec *s, const ts_arg *argv,
                                const sort_reqs *get)
{
    if (output_len(o, s) <= 0) return NULL;
    ts_quicklist *ql = ts_ql_new(cfg->list_max_listpack_size, cfg->list_compress_depth);
    long k = 0;
    for (long row = 0; row < s->end - s->start + 1; row++) {
        if (!o->ngets) ts_ql_push(ql, TS_QL_TAIL, s->v[s->start + row].p, s->v[s->start + row].n);
        for (int g = 0; g < o->ngets; g++) {
            size_t n = 0;
            const char *p = slot_value(o, s, argv, get, &k, row, g, &n);
            ts_ql_push(ql, TS_QL_TAIL, p ? p : "", p ? n : 0);
        }
    }
    return ql;
}

/* Replaces dest with ql (NULL: deletes it) and, like Redis's SORT STORE
 * (setKey, or a delete that found a key), signals it when anything
 * changed. Returns whether anything changed. */
static bool store_write(ts_exec *x, ts_arg dest, ts_quicklist *ql)
{
    bool deleted = ts_db_delete(x, dest);
    if (!ql) {
        if (deleted) ts_db_signal_modified(x, dest);
        return deleted;
    }
    ts_db_add_object(x, dest, TS_TYPE_LIST, TS_ENC_QUICKLIST, ql);
    ts_db_signal_modified(x, dest);
    ts_db_signal_ready(x, dest);
    return true;
}

/* ---------- the single-shard command ---------- */

static void resolve_local(ts_cmd_ctx *c, sort_reqs *r)
{
    for (long i = 0; i < r->n; i++) {
        if (r->q[i].shard != c->shard->id && c->engine->router->nshards > 1)
            ts_panic("SORT: pattern key on another shard reached the local path");
        req_resolve(&c->ex, &r->q[i]);
    }
}

static void sort_generic(ts_cmd_ctx *c, bool readonly)
{
    sort_opts o;
    const char *err = sort_parse(c->argc, c->argv, readonly, &o);
    if (err) { ts_reply_error(c->r, err); free(o.gets); ts_prop_none(c); return; }
    sort_vec *s = sort_load(&c->ex, c->argv[1], &o);
    if (s->wrongtype) { ts_reply_error(c->r, TS_ERR_WRONGTYPE); goto done; }
    sort_reqs by, get = {0};
    by_requests(&o, s, c->argv, &by);
    resolve_local(c, &by);
    bool ok = sort_weigh(&o, s, &by);
    reqs_free(&by);
    sort_order(&o, s);
    if (!ok) { ts_reply_error(c->r, ERR_SCORES); goto done; }
    get_requests(&o, s, c->argv, &get);
    resolve_local(c, &get);
    if (!o.store) {
        reply_rows(c->r, &o, s, c->argv, &get);
        ts_prop_none(c);
    } else {
        ts_quicklist *ql = store_list(c->config, &o, s, c->argv, &get);
        if (!store_write(&c->ex, c->argv[o.store], ql)) ts_prop_none(c);
        ts_reply_int(c->r, output_len(&o, s));
    }
    reqs_free(&get);
done:
    vec_free(s);
    free(o.gets);
}

void cmd_sort(ts_cmd_ctx *c) { sort_generic(c, false); }
void cmd_sort_ro(ts_cmd_ctx *c) { sort_generic(c, true); }

/* ---------- across shards: an exclusive txn over every shard ---------- */

enum { PHASE_LOAD, PHASE_BY, PHASE_GET, PHASE_STORE };
#define TO_OUTPUT (-3)   /* after_weights: no GET phase, output now */

typedef struct sort_job {
    sort_opts o;
    sort_vec *s;
    sort_reqs by, get;
    ts_quicklist *ql;    /* what STORE writes, handed to the destination's part */
} sort_job;

static bool sort_readonly(const ts_txn *t) { return !(t->cmd->flags & TS_CMD_WRITE); }

static void resolve_part(ts_cmd_ctx *c, sort_reqs *r, unsigned shard)
{
    for (long i = 0; i < r->n; i++)
        if (r->q[i].shard == shard) req_resolve(&c->ex, &r->q[i]);
}

static void sort_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *c)
{
    if (t->mode != TS_TXN_EXCLUSIVE) { ts_multi_borrow.step(t, p, c); return; }
    sort_job *j = t->state;
    switch (t->phase) {
    case PHASE_LOAD: {
        if (p->shard != ts_key_shard(t->argv[1].ptr, t->argv[1].len)) return;
        sort_opts o;
        if (!sort_parse(t->argc, t->argv, sort_readonly(t), &o)) p->ptr = sort_load(&c->ex, t->argv[1], &o);
        free(o.gets);
        return;
    }
    case PHASE_BY: resolve_part(c, &j->by, p->shard); return;
    case PHASE_GET: resolve_part(c, &j->get, p->shard); return;
    case PHASE_STORE: {
        ts_arg dest = t->argv[j->o.store];
        if (p->shard != ts_key_shard(dest.ptr, dest.len)) return;
        p->n = store_write(&c->ex, dest, j->ql);
        j->ql = NULL;
        return;
    }
    }
}

static void job_free(sort_job *j)
{
    if (!j) return;
    if (j->s) vec_free(j->s);
    reqs_free(&j->by);
    reqs_free(&j->get);
    if (j->ql) ts_ql_free(j->ql);
    free(j->o.gets);
    free(j);
}

/* The job is over: the reply is in t->reply. Nothing is logged unless STORE
 * changed the destination. */
static int job_end(ts_txn *t, bool changed)
{
    if (!changed) {
        t->aof_propagated = true;
        ts_aof_log_free(&t->aof);
    }
    job_free(t->state);
    t->state = NULL;
    return -1;
}

static int job_fail(ts_txn *t, const char *err)
{
    ts_reply_error(&t->reply, err);
    return job_end(t, false);
}

/* After the weights are in: order, then the GET lookups or the output. */
static int after_weights(ts_txn *t, sort_job *j)
{
    bool ok = sort_weigh(&j->o, j->s, &j->by);
    reqs_free(&j->by);
    sort_order(&j->o, j->s);
    if (!ok) return job_fail(t, ERR_SCORES);
    get_requests(&j->o, j->s, t->argv, &j->get);
    return j->get.n ? PHASE_GET : TO_OUTPUT;
}

static int after_output(ts_txn *t, sort_job *j)
{
    if (!j->o.store) {
        reply_rows(&t->reply, &j->o, j->s, t->argv, &j->get);
        return job_end(t, false);
    }
    j->ql = store_list(&t->coord->config, &j->o, j->s, t->argv, &j->get);
    return PHASE_STORE;
}

static int after_load(ts_txn *t)
{
    sort_job *j = ts_calloc(1, sizeof *j);
    t->state = j;
    const char *err = sort_parse(t->argc, t->argv, sort_readonly(t), &j->o);
    if (err) return job_fail(t, err);
    int src = ts_txn_part_of(t, ts_key_shard(t->argv[1].ptr, t->argv[1].len));
    j->s = t->parts[src].ptr;
    t->parts[src].ptr = NULL;
    if (j->s->wrongtype) return job_fail(t, TS_ERR_WRONGTYPE);
    /* The load may have turned dontsort off (a set stored): the same rule here. */
    if (j->o.dontsort && j->s->is_set && j->o.store) { j->o.dontsort = false; j->o.alpha = true; j->o.by = 0; }
    by_requests(&j->o, j->s, t->argv, &j->by);
    if (j->by.n) return PHASE_BY;
    int next = after_weights(t, j);
    return next == TO_OUTPUT ? after_output(t, j) : next;
}

static int sort_after(ts_txn *t)
{
    if (t->mode != TS_TXN_EXCLUSIVE) return ts_multi_borrow.after(t);
    sort_job *j = t->state;
    int next;
    switch (t->phase) {
    case PHASE_LOAD: return after_load(t);
    case PHASE_BY:
        next = after_weights(t, j);
        return next == TO_OUTPUT ? after_output(t, j) : next;
    case PHASE_GET: return after_output(t, j);
    default: {
        int dst = ts_txn_part_of(t, ts_key_shard(t->argv[j->o.store].ptr, t->argv[j->o.store].len));
        ts_reply_int(&t->reply, output_len(&j->o, j->s));
        return job_end(t, t->parts[dst].n != 0);
    }
    }
}

const ts_txn_ops ts_multi_sort = {.step = sort_step, .after = sort_after};
