/*
 * t_stream.c - the stream structure of t_stream.h: listpack nodes in
 * Redis 7.0's stream node layout, consumer groups, pending entries lists.
 *
 * Owns: ts_stream objects (nodes, groups, consumers, nacks).
 * Thread: whoever owns the stream's key (plain malloc'd memory only).
 *
 * Why arrays: a stream is appended at its tail and trimmed at its head;
 * a sorted array of (master id, listpack) gives O(log n) seeks, O(1)
 * appends and a memmove per dropped node, which is cheap next to the 100
 * entries a node holds. Groups and consumers are few; PELs are sorted
 * arrays because deliveries arrive in ID order (appends) and ACKs mostly
 * take the oldest entries.
 */
#include "tessera/types/t_stream.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/types/listpack.h"

#define NODE_MAX_BYTES_CAP (1LL << 30)   /* Redis's STREAM_LISTPACK_MAX_SIZE */

/* ---------- ids ---------- */

int ts_stream_id_fmt(const ts_stream_id *id, char *buf)
{
    return snprintf(buf, 42, "%" PRIu64 "-%" PRIu64, id->ms, id->seq);
}

bool ts_stream_id_incr(ts_stream_id *id)
{
    if (id->seq == UINT64_MAX) {
        if (id->ms == UINT64_MAX) return false;
        id->ms++;
        id->seq = 0;
    } else {
        id->seq++;
    }
    return true;
}

bool ts_stream_id_decr(ts_stream_id *id)
{
    if (id->seq == 0) {
        if (id->ms == 0) return false;
        id->ms--;
        id->seq = UINT64_MAX;
    } else {
        id->seq--;
    }
    return true;
}

/* ---------- listpack helpers ---------- */

static long long lp_int(const unsigned char *p)
{
    ts_lp_val v;
    ts_lp_get(p, &v);
    if (v.str) {
        /* Never happens for the integer slots of a well-formed node. */
        long long x = 0;
        for (size_t i = 0; i < v.len; i++) x = x * 10 + (v.str[i] - '0');
        return x;
    }
    return v.ll;
}

/* The master entry: sets the master fields, their count, the terminator
 * element; returns the first entry's flags or NULL. */
static unsigned char *node_entries(unsigned char *lp, unsigned char **mfields, long long *mnf, unsigned char **mend)
{
    unsigned char *p = ts_lp_first(lp);      /* count */
    p = ts_lp_next(lp, p);                    /* deleted */
    p = ts_lp_next(lp, p);                    /* num-fields */
    long long n = lp_int(p);
    p = ts_lp_next(lp, p);
    if (mfields) *mfields = p;
    if (mnf) *mnf = n;
    for (long long i = 0; i < n; i++) p = ts_lp_next(lp, p);
    if (mend) *mend = p;                      /* the 0 terminator */
    return ts_lp_next(lp, p);
}

/* Parses the entry at flags element p. Returns the element after its
 * lp-count (the next entry or NULL); sets what it read. */
typedef struct entry_view {
    unsigned char *flags_p;
    long long flags;
    ts_stream_id id;
    bool same;
    long long nfields;
    unsigned char *data;   /* first value (same) or first field */
    unsigned char *count_p; /* lp-count */
} entry_view;

static unsigned char *entry_parse(unsigned char *lp, unsigned char *p, const ts_stream_id *master, long long mnf,
                                  entry_view *e)
{
    e->flags_p = p;
    e->flags = lp_int(p);
    p = ts_lp_next(lp, p);
    e->id.ms = master->ms + (uint64_t)lp_int(p);
    p = ts_lp_next(lp, p);
    e->id.seq = master->seq + (uint64_t)lp_int(p);
    p = ts_lp_next(lp, p);
    e->same = (e->flags & TS_STREAM_F_SAMEFIELDS) != 0;
    long long skip;
    if (e->same) {
        e->nfields = mnf;
        skip = mnf;
    } else {
        e->nfields = lp_int(p);
        p = ts_lp_next(lp, p);
        skip = e->nfields * 2;
    }
    e->data = p;
    for (long long i = 0; i < skip; i++) p = ts_lp_next(lp, p);
    e->count_p = p;
    return ts_lp_next(lp, p);
}

/* ---------- node index ---------- */

/* Index of the last node whose master id <= id, or -1. */
static long node_floor(const ts_stream *s, const ts_stream_id *id)
{
    long lo = 0, hi = (long)s->nnodes - 1, ans = -1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        if (ts_stream_id_cmp(&s->nodes[mid].master, id) <= 0) { ans = mid; lo = mid + 1; }
        else hi = mid - 1;
    }
    return ans;
}

static void node_remove(ts_stream *s, size_t i)
{
    ts_lp_free(s->nodes[i].lp);
    memmove(&s->nodes[i], &s->nodes[i + 1], sizeof(*s->nodes) * (s->nnodes - i - 1));
    s->nnodes--;
}

/* ---------- the stream ---------- */

ts_stream *ts_stream_new(void)
{
    ts_stream *s = ts_calloc(1, sizeof(*s));
    s->first_id.ms = s->first_id.seq = 0;
    return s;
}

static void pel_free(ts_stream_pel *p, bool owner)
{
    if (owner)
        for (size_t i = 0; i < p->n; i++) free(p->v[i]);
    if (p->v) free(p->v - p->head);
}

static void consumer_free(ts_stream_consumer *c)
{
    pel_free(&c->pel, false);
    free(c->name);
    free(c);
}

static void cg_free(ts_stream_cg *g)
{
    for (size_t i = 0; i < g->nconsumers; i++) consumer_free(g->consumers[i]);
    free(g->consumers);
    pel_free(&g->pel, true);
    free(g->name);
    free(g);
}

void ts_stream_free(ts_stream *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nnodes; i++) ts_lp_free(s->nodes[i].lp);
    free(s->nodes);
    for (size_t i = 0; i < s->ngroups; i++) cg_free(s->groups[i]);
    free(s->groups);
    free(s);
}

static void pel_copy(ts_stream_pel *dst, const ts_stream_pel *src)
{
    dst->n = dst->cap = src->n;
    dst->head = 0;
    dst->v = src->n ? ts_malloc(sizeof(*dst->v) * src->n) : NULL;
}

typedef struct cons_pair {
    const ts_stream_consumer *from;
    ts_stream_consumer *to;
} cons_pair;

static int cons_pair_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const cons_pair *)a)->from, y = (uintptr_t)((const cons_pair *)b)->from;
    return x < y ? -1 : x > y;
}

static ts_stream_consumer *cons_map(const cons_pair *map, size_t n, const ts_stream_consumer *from)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)map[mid].from < (uintptr_t)from) lo = mid + 1;
        else hi = mid;
    }
    TS_ASSERT(lo < n && map[lo].from == from);
    return map[lo].to;
}

ts_stream *ts_stream_dup(const ts_stream *s)
{
    ts_stream *d = ts_malloc(sizeof(*d));
    *d = *s;
    d->nodes_cap = s->nnodes;
    d->nodes = s->nnodes ? ts_malloc(sizeof(*d->nodes) * s->nnodes) : NULL;
    for (size_t i = 0; i < s->nnodes; i++) {
        size_t n = ts_lp_bytes(s->nodes[i].lp);
        d->nodes[i].master = s->nodes[i].master;
        d->nodes[i].lp = ts_malloc(n);
        memcpy(d->nodes[i].lp, s->nodes[i].lp, n);
    }
    d->groups_cap = s->ngroups;
    d->groups = s->ngroups ? ts_malloc(sizeof(*d->groups) * s->ngroups) : NULL;
    for (size_t i = 0; i < s->ngroups; i++) {
        const ts_stream_cg *g = s->groups[i];
        ts_stream_cg *h = ts_malloc(sizeof(*h));
        *h = *g;
        h->name = ts_strndup(g->name, g->name_len);
        h->consumers_cap = g->nconsumers;
        h->consumers = g->nconsumers ? ts_malloc(sizeof(*h->consumers) * g->nconsumers) : NULL;
        for (size_t j = 0; j < g->nconsumers; j++) {
            const ts_stream_consumer *c = g->consumers[j];
            ts_stream_consumer *k = ts_malloc(sizeof(*k));
            *k = *c;
            k->name = ts_strndup(c->name, c->name_len);
            pel_copy(&k->pel, &c->pel);
            k->pel.n = 0;   /* refilled below, in id order */
            h->consumers[j] = k;
        }
        /* Old consumer -> its copy: pairs sorted by old address, so that
         * each nack finds its consumer in O(log consumers). */
        cons_pair *map = g->nconsumers ? ts_malloc(sizeof(*map) * g->nconsumers) : NULL;
        for (size_t j = 0; j < g->nconsumers; j++) map[j] = (cons_pair){g->consumers[j], h->consumers[j]};
        if (g->nconsumers > 1) qsort(map, g->nconsumers, sizeof(*map), cons_pair_cmp);
        pel_copy(&h->pel, &g->pel);
        for (size_t j = 0; j < g->pel.n; j++) {
            ts_stream_nack *n = ts_malloc(sizeof(*n));
            *n = *g->pel.v[j];
            n->consumer = cons_map(map, g->nconsumers, g->pel.v[j]->consumer);
            h->pel.v[j] = n;
            ts_stream_pel *cp = &n->consumer->pel;
            cp->v[cp->n++] = n;
        }
        free(map);
        d->groups[i] = h;
    }
    return d;
}

size_t ts_stream_free_effort(const ts_stream *s)
{
    size_t effort = s->nnodes;
    for (size_t i = 0; i < s->ngroups; i++) effort += 1 + s->groups[i]->pel.n + s->groups[i]->nconsumers;
    return effort;
}

/* ---------- loading: node validation and adoption ---------- */

/* Reads the integer element at *p and steps; false when there is none or
 * it is a string (a well-formed node keeps these slots as integers). */
static bool node_int(unsigned char *lp, unsigned char **p, long long *out)
{
    if (!*p) return false;
    ts_lp_val v;
    ts_lp_get(*p, &v);
    if (v.str) return false;
    *out = v.ll;
    *p = ts_lp_next(lp, *p);
    return true;
}

static bool node_skip(unsigned char *lp, unsigned char **p, long long n)
{
    for (long long i = 0; i < n; i++) {
        if (!*p) return false;
        *p = ts_lp_next(lp, *p);
    }
    return true;
}

bool ts_stream_node_validate(const unsigned char *blob, size_t size)
{
    if (!ts_lp_validate(blob, size)) return false;
    unsigned char *lp = (unsigned char *)blob;   /* only read below */
    unsigned char *p = ts_lp_first(lp);
    long long count, deleted, mnf, zero;
    if (!node_int(lp, &p, &count) || !node_int(lp, &p, &deleted) || !node_int(lp, &p, &mnf)) return false;
    if (count <= 0 || deleted < 0 || mnf < 0 || (size_t)mnf > size) return false;
    if (!node_skip(lp, &p, mnf) || !node_int(lp, &p, &zero) || zero != 0) return false;
    long long live = 0, dead = 0;
    while (p) {
        long long flags, msd, seqd, nf, lpcount;
        if (!node_int(lp, &p, &flags) || !node_int(lp, &p, &msd) || !node_int(lp, &p, &seqd)) return false;
        long long elems;
        if (flags & TS_STREAM_F_SAMEFIELDS) {
            nf = mnf;
            elems = mnf + 3;
            if (!node_skip(lp, &p, mnf)) return false;
        } else {
            if (!node_int(lp, &p, &nf) || nf < 0 || (size_t)nf > size) return false;
            elems = 2 * nf + 4;
            if (!node_skip(lp, &p, 2 * nf)) return false;
        }
        if (!node_int(lp, &p, &lpcount) || lpcount != elems) return false;
        if (flags & TS_STREAM_F_DELETED) dead++;
        else live++;
    }
    return live == count && dead == deleted;
}

/* Appends a node to the index (the caller keeps the order). */
static void node_push(ts_stream *s, const ts_stream_id *master, unsigned char *lp)
{
    if (s->nnodes == s->nodes_cap) {
        s->nodes_cap = s->nodes_cap ? s->nodes_cap * 2 : 4;
        s->nodes = ts_realloc(s->nodes, sizeof(*s->nodes) * s->nodes_cap);
    }
    s->nodes[s->nnodes].master = *master;
    s->nodes[s->nnodes].lp = lp;
    s->nnodes++;
}

bool ts_stream_push_node(ts_stream *s, const ts_stream_id *master, unsigned char *lp)
{
    if (s->nnodes && ts_stream_id_cmp(&s->nodes[s->nnodes - 1].master, master) >= 0) return false;
    node_push(s, master, lp);
    return true;
}

/* ---------- append, delete, trim ---------- */

static unsigned char *lp_append_arg(unsigned char *lp, ts_arg a) { return ts_lp_append(lp, a.ptr, a.len); }

void ts_stream_append(ts_stream *s, const ts_stream_id *id, const ts_arg *fv, int nfields, long long max_bytes,
                      long long max_entries)
{
    ts_stream_node *node = s->nnodes ? &s->nodes[s->nnodes - 1] : NULL;
    if (node) {
        long long cap = (max_bytes <= 0 || max_bytes > NODE_MAX_BYTES_CAP) ? NODE_MAX_BYTES_CAP : max_bytes;
        long long tot = 0;
        for (int i = 0; i < nfields * 2; i++) tot += (long long)fv[i].len;
        if ((long long)ts_lp_bytes(node->lp) + tot >= cap) {
            node = NULL;
        } else if (max_entries > 0) {
            unsigned char *p = ts_lp_first(node->lp);
            long long count = lp_int(p) + lp_int(ts_lp_next(node->lp, p));
            if (count >= max_entries) node = NULL;
        }
    }
    if (!node) {
        unsigned char *lp = ts_lp_new();
        lp = ts_lp_append_int(lp, 1);          /* count */
        lp = ts_lp_append_int(lp, 0);          /* deleted */
        lp = ts_lp_append_int(lp, nfields);
        for (int i = 0; i < nfields; i++) lp = lp_append_arg(lp, fv[2 * i]);
        lp = ts_lp_append_int(lp, 0);          /* master terminator */
        node_push(s, id, lp);
        node = &s->nodes[s->nnodes - 1];
    } else {
        unsigned char *p = ts_lp_first(node->lp);
        node->lp = ts_lp_replace_int(node->lp, &p, lp_int(p) + 1);
    }
    unsigned char *lp = node->lp;
    /* SAMEFIELDS when the fields are the master fields, in order. */
    unsigned char *mf;
    long long mnf;
    node_entries(lp, &mf, &mnf, NULL);
    long long flags = 0;
    if (mnf == nfields) {
        bool same = true;
        unsigned char *p = mf;
        for (int i = 0; i < nfields && same; i++) {
            same = ts_lp_eq(p, fv[2 * i].ptr, fv[2 * i].len);
            p = ts_lp_next(lp, p);
        }
        if (same) flags |= TS_STREAM_F_SAMEFIELDS;
    }
    lp = ts_lp_append_int(lp, flags);
    lp = ts_lp_append_int(lp, (long long)(id->ms - node->master.ms));
    lp = ts_lp_append_int(lp, (long long)(id->seq - node->master.seq));
    if (flags & TS_STREAM_F_SAMEFIELDS) {
        for (int i = 0; i < nfields; i++) lp = lp_append_arg(lp, fv[2 * i + 1]);
        lp = ts_lp_append_int(lp, nfields + 3);
    } else {
        lp = ts_lp_append_int(lp, nfields);
        for (int i = 0; i < nfields * 2; i++) lp = lp_append_arg(lp, fv[i]);
        lp = ts_lp_append_int(lp, 3 + 1 + 2LL * nfields);
    }
    node->lp = lp;
    s->length++;
    s->entries_added++;
    s->last_id = *id;
    if (s->length == 1) s->first_id = *id;
}

/* Adds d to the node's live count and -d to its deleted count. */
static void node_count_delta(ts_stream_node *node, long long live, long long deleted)
{
    unsigned char *p = ts_lp_first(node->lp);
    node->lp = ts_lp_replace_int(node->lp, &p, lp_int(p) + live);
    p = ts_lp_next(node->lp, p);
    node->lp = ts_lp_replace_int(node->lp, &p, lp_int(p) + deleted);
}

static long long node_live(const ts_stream_node *node) { return lp_int(ts_lp_first(node->lp)); }

bool ts_stream_delete(ts_stream *s, const ts_stream_id *id)
{
    long i = node_floor(s, id);
    if (i < 0) return false;
    ts_stream_node *node = &s->nodes[i];
    long long mnf;
    unsigned char *p = node_entries(node->lp, NULL, &mnf, NULL);
    while (p) {
        entry_view e;
        unsigned char *next = entry_parse(node->lp, p, &node->master, mnf, &e);
        int c = ts_stream_id_cmp(&e.id, id);
        if (c > 0) return false;
        if (c == 0) {
            if (e.flags & TS_STREAM_F_DELETED) return false;
            unsigned char *fp = e.flags_p;
            node->lp = ts_lp_replace_int(node->lp, &fp, e.flags | TS_STREAM_F_DELETED);
            node_count_delta(node, -1, 1);
            if (node_live(node) == 0) node_remove(s, (size_t)i);
            s->length--;
            return true;
        }
        p = next;
    }
    return false;
}

bool ts_stream_edge_id(const ts_stream *s, bool last, ts_stream_id *out)
{
    ts_stream_iter it;
    long long nf;
    ts_stream_iter_start(&it, s, NULL, NULL, last);
    return ts_stream_iter_next(&it, out, &nf);
}

long long ts_stream_trim(ts_stream *s, long long maxlen, const ts_stream_id *minid, bool approx, long long limit)
{
    long long deleted = 0;
    while (s->nnodes) {
        if (!minid && s->length <= (uint64_t)maxlen) break;
        ts_stream_node *node = &s->nodes[0];
        long long entries = node_live(node);
        if (limit && deleted + entries > limit) break;
        bool remove;
        if (!minid) {
            remove = (long long)s->length - entries >= maxlen;
        } else {
            /* The node's last id (deleted or not, like Redis's lpGetEdgeStreamID). */
            unsigned char *last = ts_lp_last(node->lp);
            long long k = lp_int(last);
            unsigned char *fp = last;
            for (long long j = 0; j < k; j++) fp = ts_lp_prev(node->lp, fp);
            long long mnf;
            unsigned char *first = node_entries(node->lp, NULL, &mnf, NULL);
            ts_stream_id lastid = node->master;
            if (first) {
                entry_view e;
                entry_parse(node->lp, fp, &node->master, mnf, &e);
                lastid = e.id;
            }
            remove = ts_stream_id_cmp(&lastid, minid) < 0;
        }
        if (remove) {
            node_remove(s, 0);
            s->length -= (uint64_t)entries;
            deleted += entries;
            continue;
        }
        if (approx) break;
        long long mnf, from_lp = 0;
        unsigned char *p = node_entries(node->lp, NULL, &mnf, NULL);
        while (p) {
            entry_view e;
            unsigned char *next = entry_parse(node->lp, p, &node->master, mnf, &e);
            bool stop = minid ? ts_stream_id_cmp(&e.id, minid) >= 0 : s->length <= (uint64_t)maxlen;
            if (stop) break;
            if (!(e.flags & TS_STREAM_F_DELETED)) {
                size_t off = next ? (size_t)(next - node->lp) : 0;
                unsigned char *fp = e.flags_p;
                /* Same-size replacement (flags 0..3 are 7-bit ints): offsets hold. */
                node->lp = ts_lp_replace_int(node->lp, &fp, e.flags | TS_STREAM_F_DELETED);
                next = next ? node->lp + off : NULL;
                from_lp++;
                s->length--;
            }
            p = next;
        }
        deleted += from_lp;
        node_count_delta(node, -from_lp, from_lp);
        break;
    }
    if (deleted) {
        /* Redis 7.0: 0-0 once empty. */
        if (!ts_stream_edge_id(s, false, &s->first_id)) s->first_id.ms = s->first_id.seq = 0;
    }
    return deleted;
}

/* ---------- iteration ---------- */

void ts_stream_iter_start(ts_stream_iter *it, const ts_stream *s, const ts_stream_id *start, const ts_stream_id *end,
                          bool rev)
{
    memset(it, 0, sizeof(*it));
    it->s = s;
    if (start) it->start = *start;
    else it->start.ms = it->start.seq = 0;
    if (end) it->end = *end;
    else it->end.ms = it->end.seq = UINT64_MAX;
    it->rev = rev;
    if (!rev) {
        long i = node_floor(s, &it->start);
        it->node = i < 0 ? 0 : (size_t)i;
    } else {
        long i = node_floor(s, &it->end);
        it->node = (size_t)(i + 1);
    }
}

static bool iter_load(ts_stream_iter *it)
{
    const ts_stream *s = it->s;
    size_t i;
    if (!it->rev) {
        if (it->node >= s->nnodes) return false;
        i = it->node;
        if (ts_stream_id_cmp(&s->nodes[i].master, &it->end) > 0) return false;
    } else {
        if (it->node == 0) return false;
        i = it->node - 1;
    }
    it->lp = s->nodes[i].lp;
    unsigned char *mend;
    unsigned char *first = node_entries(it->lp, &it->master_fields, &it->master_nfields, &mend);
    it->mend = mend;
    it->p = it->rev ? (first ? ts_lp_last(it->lp) : NULL) : first;
    return true;
}

bool ts_stream_entry_exists(const ts_stream *s, const ts_stream_id *id)
{
    ts_stream_iter it;
    ts_stream_id got;
    long long nf;
    ts_stream_iter_start(&it, s, id, id, false);
    return ts_stream_iter_next(&it, &got, &nf);
}

bool ts_stream_iter_next(ts_stream_iter *it, ts_stream_id *id, long long *nfields)
{
    for (;;) {
        if (!it->lp) {
            if (!iter_load(it)) return false;
        }
        if (!it->p) {
            it->lp = NULL;
            if (it->rev) it->node--;
            else it->node++;
            continue;
        }
        const ts_stream_id *master = &it->s->nodes[it->rev ? it->node - 1 : it->node].master;
        entry_view e;
        if (!it->rev) {
            it->p = entry_parse(it->lp, it->p, master, it->master_nfields, &e);
        } else {
            unsigned char *mend = it->mend;
            long long k = lp_int(it->p);
            unsigned char *fp = it->p;
            for (long long j = 0; j < k; j++) fp = ts_lp_prev(it->lp, fp);
            unsigned char *prev = ts_lp_prev(it->lp, fp);
            entry_parse(it->lp, fp, master, it->master_nfields, &e);
            it->p = prev == mend ? NULL : prev;
        }
        if (e.flags & TS_STREAM_F_DELETED) continue;
        if (!it->rev) {
            if (ts_stream_id_cmp(&e.id, &it->start) < 0) continue;
            if (ts_stream_id_cmp(&e.id, &it->end) > 0) {
                it->node = it->s->nnodes;
                it->lp = NULL;
                return false;
            }
        } else {
            if (ts_stream_id_cmp(&e.id, &it->end) > 0) continue;
            if (ts_stream_id_cmp(&e.id, &it->start) < 0) {
                it->node = 0;
                it->lp = NULL;
                return false;
            }
        }
        *id = e.id;
        *nfields = e.nfields;
        it->same = e.same;
        it->nfields = e.nfields;
        it->fp = it->master_fields;
        it->vp = e.data;
        it->left = e.nfields;
        return true;
    }
}

void ts_stream_iter_field(ts_stream_iter *it, char *fbuf, const unsigned char **f, size_t *flen, char *vbuf,
                          const unsigned char **v, size_t *vlen)
{
    unsigned char *fp, *vp;
    if (it->same) {
        fp = it->fp;
        vp = it->vp;
        it->fp = ts_lp_next(it->lp, fp);
        it->vp = ts_lp_next(it->lp, vp);
    } else {
        fp = it->vp;
        vp = ts_lp_next(it->lp, fp);
        it->vp = ts_lp_next(it->lp, vp);
    }
    it->left--;
    *f = ts_lp_get_str(fp, fbuf, flen);
    *v = ts_lp_get_str(vp, vbuf, vlen);
}

/* ---------- PELs ---------- */

size_t ts_stream_pel_lower(const ts_stream_pel *p, const ts_stream_id *key)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ts_stream_id_cmp(&p->v[mid]->id, key) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

ts_stream_nack *ts_stream_pel_find(const ts_stream_pel *p, const ts_stream_id *id)
{
    size_t i = ts_stream_pel_lower(p, id);
    return i < p->n && ts_stream_id_cmp(&p->v[i]->id, id) == 0 ? p->v[i] : NULL;
}

/* Makes room for one more at the back: the free front moves back when it
 * is a quarter of the array (so the move is paid for by as many removals
 * from the front), else the array doubles. */
static void pel_room_at_back(ts_stream_pel *p)
{
    if (p->head + p->n < p->cap) return;
    ts_stream_nack **base = p->v ? p->v - p->head : NULL;
    if (p->head && p->head >= p->cap / 4) {
        memmove(base, p->v, sizeof(*p->v) * p->n);
        p->head = 0;
    } else {
        p->cap = p->cap ? p->cap * 2 : 4;
        base = ts_realloc(base, sizeof(*base) * p->cap);
    }
    p->v = base + p->head;
}

void ts_stream_pel_insert(ts_stream_pel *p, ts_stream_nack *n)
{
    size_t i = (p->n && ts_stream_id_cmp(&p->v[p->n - 1]->id, &n->id) < 0) ? p->n : ts_stream_pel_lower(p, &n->id);
    if (i < p->n / 2 && p->head > 0) {
        /* The front part moves one slot towards the free front. */
        p->v--;
        p->head--;
        memmove(&p->v[0], &p->v[1], sizeof(*p->v) * i);
    } else {
        pel_room_at_back(p);
        memmove(&p->v[i + 1], &p->v[i], sizeof(*p->v) * (p->n - i));
    }
    p->v[i] = n;
    p->n++;
}

bool ts_stream_pel_remove(ts_stream_pel *p, const ts_stream_id *id)
{
    size_t i = ts_stream_pel_lower(p, id);
    if (i >= p->n || ts_stream_id_cmp(&p->v[i]->id, id) != 0) return false;
    if (i < p->n / 2) {
        memmove(&p->v[1], &p->v[0], sizeof(*p->v) * i);
        p->v++;
        p->head++;
    } else {
        memmove(&p->v[i], &p->v[i + 1], sizeof(*p->v) * (p->n - i - 1));
    }
    p->n--;
    if (p->n == 0) {
        p->v -= p->head;
        p->head = 0;
    }
    return true;
}

/* ---------- groups and consumers ---------- */

/* Rax order: bytewise, a prefix first. */
static int name_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c) return c;
    return al < bl ? -1 : al > bl;
}

/* The name of item i of a name-sorted array of pointers (a stream's
 * groups, a group's consumers). */
typedef const char *name_at_fn(const void *items, size_t i, size_t *len);

static const char *cg_name_at(const void *items, size_t i, size_t *len)
{
    const ts_stream_cg *g = ((ts_stream_cg *const *)items)[i];
    *len = g->name_len;
    return g->name;
}

static const char *consumer_name_at(const void *items, size_t i, size_t *len)
{
    const ts_stream_consumer *c = ((ts_stream_consumer *const *)items)[i];
    *len = c->name_len;
    return c->name;
}

/* Binary search for name among n name-sorted items: the position of the
 * first one not below it (where name goes), *found whether it is name. */
static size_t name_search(const void *items, size_t n, name_at_fn *name_at, const char *name, size_t len,
                          bool *found)
{
    size_t lo = 0, hi = n, ml;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *m = name_at(items, mid, &ml);
        if (name_cmp(m, ml, name, len) < 0) lo = mid + 1;
        else hi = mid;
    }
    *found = false;
    if (lo < n) {
        const char *m = name_at(items, lo, &ml);
        *found = name_cmp(m, ml, name, len) == 0;
    }
    return lo;
}

/* Makes room at position i of an array of *n elements of sz bytes (its
 * capacity *cap doubles, from 2, when full); returns the array, which may
 * have moved. The caller stores the new element. */
static void *array_insert_at(void *v, size_t *n, size_t *cap, size_t sz, size_t i)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 2;
        v = ts_realloc(v, sz * *cap);
    }
    memmove((char *)v + (i + 1) * sz, (char *)v + i * sz, sz * (*n - i));
    (*n)++;
    return v;
}

/* Removes the element at position i of an array of *n elements of sz bytes. */
static void array_remove_at(void *v, size_t *n, size_t sz, size_t i)
{
    memmove((char *)v + i * sz, (char *)v + (i + 1) * sz, sz * (*n - i - 1));
    (*n)--;
}

/* Where group name is, or goes, in s; *found whether it is there. */
static size_t cg_lower(const ts_stream *s, const char *name, size_t len, bool *found)
{
    return name_search(s->groups, s->ngroups, cg_name_at, name, len, found);
}

ts_stream_cg *ts_stream_cg_find(const ts_stream *s, const char *name, size_t len)
{
    bool found;
    size_t i = cg_lower(s, name, len, &found);
    return found ? s->groups[i] : NULL;
}

ts_stream_cg *ts_stream_cg_create(ts_stream *s, const char *name, size_t len, const ts_stream_id *last_id,
                                  long long entries_read)
{
    bool found;
    size_t i = cg_lower(s, name, len, &found);
    if (found) return NULL;
    ts_stream_cg *g = ts_calloc(1, sizeof(*g));
    g->name = ts_strndup(name, len);
    g->name_len = len;
    g->last_id = *last_id;
    g->entries_read = entries_read;
    s->groups = array_insert_at(s->groups, &s->ngroups, &s->groups_cap, sizeof(*s->groups), i);
    s->groups[i] = g;
    return g;
}

bool ts_stream_cg_destroy(ts_stream *s, const char *name, size_t len)
{
    bool found;
    size_t i = cg_lower(s, name, len, &found);
    if (!found) return false;
    cg_free(s->groups[i]);
    array_remove_at(s->groups, &s->ngroups, sizeof(*s->groups), i);
    return true;
}

/* Where consumer name is, or goes, in g; *found whether it is there. */
static size_t consumer_lower(const ts_stream_cg *g, const char *name, size_t len, bool *found)
{
    return name_search(g->consumers, g->nconsumers, consumer_name_at, name, len, found);
}

ts_stream_consumer *ts_stream_consumer_find(const ts_stream_cg *g, const char *name, size_t len)
{
    bool found;
    size_t i = consumer_lower(g, name, len, &found);
    return found ? g->consumers[i] : NULL;
}

ts_stream_consumer *ts_stream_consumer_get(ts_stream_cg *g, const char *name, size_t len, int64_t now_ms,
                                           bool *created)
{
    bool found;
    size_t i = consumer_lower(g, name, len, &found);
    if (found) {
        if (created) *created = false;
        return g->consumers[i];
    }
    ts_stream_consumer *c = ts_calloc(1, sizeof(*c));
    c->name = ts_strndup(name, len);
    c->name_len = len;
    c->seen_time = now_ms;
    g->consumers = array_insert_at(g->consumers, &g->nconsumers, &g->consumers_cap, sizeof(*g->consumers), i);
    g->consumers[i] = c;
    if (created) *created = true;
    return c;
}

size_t ts_stream_consumer_delete(ts_stream_cg *g, const char *name, size_t len)
{
    bool found;
    size_t i = consumer_lower(g, name, len, &found);
    if (!found) return 0;
    ts_stream_consumer *c = g->consumers[i];
    size_t pending = c->pel.n;
    for (size_t j = 0; j < c->pel.n; j++) {
        ts_stream_nack *n = c->pel.v[j];
        ts_stream_pel_remove(&g->pel, &n->id);
        free(n);
    }
    consumer_free(c);
    array_remove_at(g->consumers, &g->nconsumers, sizeof(*g->consumers), i);
    return pending;
}

void ts_stream_nack_move(ts_stream_nack *n, ts_stream_consumer *c)
{
    if (n->consumer == c) return;
    if (n->consumer) ts_stream_pel_remove(&n->consumer->pel, &n->id);
    n->consumer = c;
    ts_stream_pel_insert(&c->pel, n);
}

void ts_stream_cg_deliver(ts_stream_cg *g, ts_stream_consumer *c, const ts_stream_id *id, int64_t now_ms)
{
    ts_stream_nack *n = ts_stream_pel_find(&g->pel, id);
    if (!n) {
        n = ts_calloc(1, sizeof(*n));
        n->id = *id;
        ts_stream_pel_insert(&g->pel, n);
    }
    n->delivery_time = now_ms;
    n->delivery_count = 1;
    ts_stream_nack_move(n, c);
}

bool ts_stream_cg_ack(ts_stream_cg *g, const ts_stream_id *id)
{
    ts_stream_nack *n = ts_stream_pel_find(&g->pel, id);
    if (!n) return false;
    ts_stream_pel_remove(&g->pel, id);
    if (n->consumer) ts_stream_pel_remove(&n->consumer->pel, id);
    free(n);
    return true;
}

/* ---------- entries_read and lag (Redis 7.0's rules) ---------- */

static bool id_zero(const ts_stream_id *id) { return id->ms == 0 && id->seq == 0; }

bool ts_stream_range_has_tombstones(const ts_stream *s, const ts_stream_id *start, const ts_stream_id *end)
{
    if (!s->length || id_zero(&s->max_deleted_id)) return false;
    if (ts_stream_id_cmp(&s->first_id, &s->max_deleted_id) > 0) return false;
    ts_stream_id a = {0, 0}, b = {UINT64_MAX, UINT64_MAX};
    if (start) a = *start;
    if (end) b = *end;
    return ts_stream_id_cmp(&a, &s->max_deleted_id) <= 0 && ts_stream_id_cmp(&s->max_deleted_id, &b) <= 0;
}

long long ts_stream_estimate_distance(const ts_stream *s, const ts_stream_id *id)
{
    if (!s->entries_added) return 0;
    if (!s->length && ts_stream_id_cmp(id, &s->last_id) < 1) return (long long)s->entries_added;
    int cmp_last = ts_stream_id_cmp(id, &s->last_id);
    if (cmp_last == 0) return (long long)s->entries_added;
    if (cmp_last > 0) return TS_STREAM_READ_INVALID;
    int cmp_id_first = ts_stream_id_cmp(id, &s->first_id);
    int cmp_xdel_first = ts_stream_id_cmp(&s->max_deleted_id, &s->first_id);
    if (id_zero(&s->max_deleted_id) || cmp_xdel_first < 0) {
        if (cmp_id_first < 0) return (long long)(s->entries_added - s->length);
        if (cmp_id_first == 0) return (long long)(s->entries_added - s->length + 1);
    }
    return TS_STREAM_READ_INVALID;
}

bool ts_stream_cg_lag(const ts_stream *s, const ts_stream_cg *g, long long *lag)
{
    if (!s->entries_added) {
        *lag = 0;
        return true;
    }
    if (g->entries_read != TS_STREAM_READ_INVALID && !ts_stream_range_has_tombstones(s, &g->last_id, NULL)) {
        *lag = (long long)s->entries_added - g->entries_read;
        return true;
    }
    long long er = ts_stream_estimate_distance(s, &g->last_id);
    if (er == TS_STREAM_READ_INVALID) return false;
    *lag = (long long)s->entries_added - er;
    return true;
}

void ts_stream_cg_advance(ts_stream *s, ts_stream_cg *g, const ts_stream_id *id)
{
    if (ts_stream_id_cmp(id, &g->last_id) <= 0) return;
    if (g->entries_read != TS_STREAM_READ_INVALID && !ts_stream_range_has_tombstones(s, id, NULL))
        g->entries_read++;
    else if (s->entries_added)
        g->entries_read = ts_stream_estimate_distance(s, id);
    g->last_id = *id;
}
