/*
 * quicklist.c - the list encoding: a doubly linked list of listpack nodes
 * (quicklist.h).
 *
 * Owns: nodes and their listpacks. Thread: whoever owns the list value.
 *
 * Shape: element-level changes go through the listpack API; whole-node
 * changes (merging two neighbours, splitting a node in two) work on the
 * listpack bytes directly: an entry carries its own length in front and
 * behind, so a run of entries can be copied between listpacks as it is and
 * only the 6-byte header (total bytes, count) and the 0xFF terminator need
 * writing. That keeps a merge or a split one memcpy instead of hundreds of
 * appends.
 *
 * Node size rules (Redis 7.0's, so that the memory layout matches Redis's
 * for the same list-max-listpack-size): a negative fill caps the listpack's
 * bytes (4/8/16/32/64 KB); a positive fill caps the element count and also
 * keeps the listpack under 8 KB (SAFETY_LIMIT). A single element that is
 * over the limit gets a node of its own. Before an insertion the new size is
 * estimated from the string's length (an overestimate for integers).
 *
 * Compression (list-compress-depth): the `depth` nodes at each end are
 * always plain (ends_fix runs after every change), every other node is
 * compressed when it is left alone. A public call that reads or changes an
 * interior node first makes it plain and records it in ql->pending; the
 * next entry call (push, pop, index, replace, del_range, iter_at) compresses
 * the pending nodes that are still interior (settle), so what a call hands
 * out stays valid until the next one. An iterator compresses each interior
 * node as it leaves it. Iterator calls (iter_next, iter_del, iter_insert)
 * never settle: they continue an operation.
 */
#include "tessera/types/quicklist.h"

#include <malloc.h>
#include <string.h>

#include "tessera/util/common.h"
#include "tessera/util/lzf.h"

#define SAFETY_LIMIT 8192
#define FILL_MAX (1 << 15)
#define LP_OVERHEAD 7   /* header (6) + terminator (1) */

static const size_t size_levels[] = {4096, 8192, 16384, 32768, 65536};

/* ---------- raw listpack header access ---------- */

static size_t lp_bytes(const unsigned char *lp)
{
    return (size_t)lp[0] | (size_t)lp[1] << 8 | (size_t)lp[2] << 16 | (size_t)lp[3] << 24;
}

static void lp_set_header(unsigned char *lp, size_t bytes, size_t count)
{
    lp[0] = (unsigned char)bytes;
    lp[1] = (unsigned char)(bytes >> 8);
    lp[2] = (unsigned char)(bytes >> 16);
    lp[3] = (unsigned char)(bytes >> 24);
    if (count > 65535) count = 65535;
    lp[4] = (unsigned char)count;
    lp[5] = (unsigned char)(count >> 8);
}

static uint32_t rd_u32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr_u32le(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

size_t ts_ql_node_bytes(const ts_ql_node *n) { return n->lzf_len ? rd_u32le(n->lp) : lp_bytes(n->lp); }

const unsigned char *ts_ql_node_data(const ts_ql_node *n, size_t *lzf_len, size_t *raw_len)
{
    *raw_len = ts_ql_node_bytes(n);
    *lzf_len = n->lzf_len ? n->lzf_len - 4 : 0;
    return n->lzf_len ? n->lp + 4 : n->lp;
}

/* ---------- size rules ---------- */

static bool fits(int fill, size_t bytes, size_t count)
{
    if (fill < 0) return bytes <= size_levels[-fill - 1];
    return bytes <= SAFETY_LIMIT && count <= (size_t)fill;
}

/* What Redis 7.0 counts for a new element of len bytes when it decides
 * whether a node takes it: len plus a flat 8 (SIZE_ESTIMATE_OVERHEAD, an
 * overestimate of the entry header and backlen). Counting the same way
 * gives the same node boundaries as Redis for the same pushes, so a list's
 * DUMP/RDB payload is byte-identical. */
#define SIZE_ESTIMATE_OVERHEAD 8
static size_t entry_estimate(size_t len) { return len + SIZE_ESTIMATE_OVERHEAD; }

static bool allow_insert(const ts_quicklist *ql, const ts_ql_node *n, size_t len)
{
    return n && fits(ql->fill, ts_ql_node_bytes(n) + entry_estimate(len), n->count + 1u);
}

static bool allow_merge(const ts_quicklist *ql, const ts_ql_node *a, const ts_ql_node *b)
{
    return a && b && fits(ql->fill, ts_ql_node_bytes(a) + ts_ql_node_bytes(b) - LP_OVERHEAD, (size_t)a->count + b->count);
}

/* ---------- compression ---------- */

/* Redis's thresholds: nodes under 48 bytes stay plain, and compression
 * must save at least 8 bytes. */
#define MIN_COMPRESS_BYTES 48
#define MIN_COMPRESS_IMPROVE 8

static void node_compress(ts_ql_node *n)
{
    if (n->lzf_len) return;
    size_t raw = lp_bytes(n->lp);
    if (raw < MIN_COMPRESS_BYTES) return;
    size_t cap = raw - MIN_COMPRESS_IMPROVE - 1;
    unsigned char *blob = ts_malloc(4 + cap);
    size_t clen = ts_lzf_compress(n->lp, raw, blob + 4, cap);
    if (clen == 0) {
        free(blob);
        return;
    }
    wr_u32le(blob, (uint32_t)raw);
    ts_lp_free(n->lp);
    n->lp = ts_realloc(blob, 4 + clen);
    n->lzf_len = (uint32_t)(4 + clen);
}

static void node_decompress(ts_ql_node *n)
{
    if (!n || !n->lzf_len) return;
    size_t raw = rd_u32le(n->lp);
    unsigned char *lp = ts_malloc(raw);
    if (ts_lzf_decompress(n->lp + 4, n->lzf_len - 4, lp, raw) != raw)
        ts_panic("quicklist: a compressed node does not decompress");   /* our own bytes */
    free(n->lp);
    n->lp = lp;
    n->lzf_len = 0;
}

/* Whether n is one of the `depth` nodes at either end (those stay plain). */
static bool in_end_zone(const ts_quicklist *ql, const ts_ql_node *n)
{
    const ts_ql_node *a = ql->head, *b = ql->tail;
    for (int i = 0; i < ql->depth && a; i++) {
        if (a == n || b == n) return true;
        a = a->next;
        b = b->prev;
    }
    return false;
}

static void pending_add(ts_quicklist *ql, ts_ql_node *n)
{
    for (int i = 0; i < ql->npending; i++)
        if (ql->pending[i] == n) return;
    /* Operations touch at most a handful of nodes; past that a node just
     * stays plain until something touches it again. */
    if (ql->npending < TS_QL_PENDING) ql->pending[ql->npending++] = n;
}

static void pending_remove(ts_quicklist *ql, const ts_ql_node *n)
{
    for (int i = 0; i < ql->npending; i++)
        if (ql->pending[i] == n) {
            ql->pending[i] = ql->pending[--ql->npending];
            return;
        }
}

/* n is about to be read or changed: plain now, compressed at the next
 * settle if it is interior then. */
static void use(ts_quicklist *ql, ts_ql_node *n)
{
    if (!ql->depth || !n) return;
    node_decompress(n);
    pending_add(ql, n);
}

/* An iterator leaves n: compress it now if it is interior. */
static void leave(ts_quicklist *ql, ts_ql_node *n)
{
    if (!ql->depth || !n || in_end_zone(ql, n)) return;
    pending_remove(ql, n);
    node_compress(n);
}

/* Start of an entry call: compress what the previous calls left plain. */
static void settle(ts_quicklist *ql)
{
    if (!ql->depth) return;
    for (int i = 0; i < ql->npending; i++)
        if (!in_end_zone(ql, ql->pending[i])) node_compress(ql->pending[i]);
    ql->npending = 0;
}

/* After a change: the nodes at the ends are plain, and the first interior
 * node on each side (which may have just left an end) is compressed: now
 * when the caller holds no pointer into it (push, pop: the ends are all
 * they touch), else at the next settle. */
static void ends_fix_now(ts_quicklist *ql, bool now)
{
    if (!ql->depth) return;
    ts_ql_node *a = ql->head, *b = ql->tail;
    for (int i = 0; i < ql->depth && a; i++) {
        node_decompress(a);
        node_decompress(b);
        a = a->next;
        b = b->prev;
    }
    ts_ql_node *edge[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        ts_ql_node *n = edge[i];
        if (!n || n->lzf_len || in_end_zone(ql, n)) continue;
        if (now) {
            pending_remove(ql, n);
            node_compress(n);
        } else {
            pending_add(ql, n);
        }
    }
}

static void ends_fix(ts_quicklist *ql) { ends_fix_now(ql, false); }

/* ---------- nodes ---------- */

static ts_ql_node *node_new(unsigned char *lp, uint32_t count)
{
    ts_ql_node *n = ts_malloc(sizeof(*n));
    n->prev = n->next = NULL;
    n->lp = lp;
    n->count = count;
    n->lzf_len = 0;
    return n;
}

/* Links n after `after` (NULL: at the head). */
static void link_after(ts_quicklist *ql, ts_ql_node *after, ts_ql_node *n)
{
    n->prev = after;
    n->next = after ? after->next : ql->head;
    if (n->next) n->next->prev = n;
    else ql->tail = n;
    if (after) after->next = n;
    else ql->head = n;
    ql->len++;
}

static void unlink_free(ts_quicklist *ql, ts_ql_node *n)
{
    if (n->prev) n->prev->next = n->next;
    else ql->head = n->next;
    if (n->next) n->next->prev = n->prev;
    else ql->tail = n->prev;
    ql->len--;
    ql->count -= n->count;
    pending_remove(ql, n);
    free(n->lp);
    free(n);
}

static ts_ql_node *node_single(const char *s, size_t len)
{
    return node_new(ts_lp_append(ts_lp_new(), s, len), 1);
}

/* Appends b's entries to a and frees b. a and b are neighbours (a first). */
static void merge_into(ts_quicklist *ql, ts_ql_node *a, ts_ql_node *b)
{
    use(ql, a);
    node_decompress(b);
    size_t ab = lp_bytes(a->lp), bb = lp_bytes(b->lp);
    size_t total = ab + bb - LP_OVERHEAD;
    a->lp = ts_realloc(a->lp, total);
    memcpy(a->lp + ab - 1, b->lp + 6, bb - 6);   /* b's entries and its terminator */
    a->count += b->count;
    lp_set_header(a->lp, total, a->count);
    b->count = 0;                                 /* its elements now live in a */
    unlink_free(ql, b);
}

/* Splits n before its element at offset off (0 < off < count): the
 * elements from off on move to a new node linked after n. p is the
 * element at off. Returns the new node. */
static ts_ql_node *split_at(ts_quicklist *ql, ts_ql_node *n, unsigned char *p, long off)
{
    size_t bytes = lp_bytes(n->lp);
    size_t left = (size_t)(p - n->lp);               /* header + entries before p */
    size_t rbytes = 6 + (bytes - left);              /* header + entries from p + terminator */
    unsigned char *r = ts_malloc(rbytes);
    memcpy(r + 6, p, bytes - left);
    uint32_t rcount = n->count - (uint32_t)off;
    lp_set_header(r, rbytes, rcount);
    n->lp[left] = TS_LP_EOF;
    n->lp = ts_realloc(n->lp, left + 1);
    n->count = (uint32_t)off;
    lp_set_header(n->lp, left + 1, n->count);
    ts_ql_node *rn = node_new(r, rcount);
    link_after(ql, n, rn);
    if (ql->depth) pending_add(ql, rn);
    return rn;
}

/* Merges n with a neighbour when both fit in one node. Returns the node now
 * holding n's elements (NULL when nothing was merged: n and the pointers
 * into it are unchanged) and sets *shift to how many elements precede n's
 * in it. */
static ts_ql_node *try_merge(ts_quicklist *ql, ts_ql_node *n, long *shift)
{
    *shift = 0;
    if (allow_merge(ql, n, n->next)) {
        merge_into(ql, n, n->next);
        return n;
    }
    if (allow_merge(ql, n->prev, n)) {
        ts_ql_node *p = n->prev;
        *shift = p->count;
        merge_into(ql, p, n);
        return p;
    }
    return NULL;
}

/* ---------- life ---------- */

ts_quicklist *ts_ql_new(int fill, int depth)
{
    if (fill > FILL_MAX) fill = FILL_MAX;
    else if (fill == 0) fill = 1;
    else if (fill < -5) fill = -5;
    ts_quicklist *ql = ts_calloc(1, sizeof(*ql));
    ql->fill = fill;
    ql->depth = depth > 0 ? depth : 0;
    return ql;
}

void ts_ql_free(ts_quicklist *ql)
{
    if (!ql) return;
    ts_ql_node *n = ql->head;
    while (n) {
        ts_ql_node *next = n->next;
        free(n->lp);
        free(n);
        n = next;
    }
    free(ql);
}

ts_quicklist *ts_ql_dup(const ts_quicklist *ql)
{
    ts_quicklist *c = ts_ql_new(ql->fill, ql->depth);
    for (ts_ql_node *n = ql->head; n; n = n->next) {
        size_t b = n->lzf_len ? n->lzf_len : lp_bytes(n->lp);   /* compressed nodes are copied as they are */
        unsigned char *lp = ts_malloc(b);
        memcpy(lp, n->lp, b);
        ts_ql_node *m = node_new(lp, n->count);
        m->lzf_len = n->lzf_len;
        link_after(c, c->tail, m);
        if (c->depth && !m->lzf_len) pending_add(c, m);   /* a plain interior node of the original */
    }
    c->count = ql->count;
    return c;
}

size_t ts_ql_memory(const ts_quicklist *ql)
{
    size_t m = malloc_usable_size((void *)ql);
    for (ts_ql_node *n = ql->head; n; n = n->next)
        m += malloc_usable_size(n) + malloc_usable_size(n->lp);
    return m;
}

/* ---------- ends ---------- */

void ts_ql_push(ts_quicklist *ql, int where, const char *s, size_t len)
{
    settle(ql);
    ts_ql_node *n = where == TS_QL_HEAD ? ql->head : ql->tail;
    if (allow_insert(ql, n, len)) {
        n->lp = where == TS_QL_HEAD ? ts_lp_prepend(n->lp, s, len) : ts_lp_append(n->lp, s, len);
        n->count++;
    } else {
        link_after(ql, where == TS_QL_HEAD ? NULL : ql->tail, node_single(s, len));
        ends_fix_now(ql, true);
    }
    ql->count++;
}

bool ts_ql_peek(const ts_quicklist *ql, int where, ts_lp_val *out)
{
    if (!ql->count) return false;
    ts_ql_node *n = where == TS_QL_HEAD ? ql->head : ql->tail;
    ts_lp_get(where == TS_QL_HEAD ? ts_lp_first(n->lp) : ts_lp_last(n->lp), out);
    return true;
}

void ts_ql_pop(ts_quicklist *ql, int where)
{
    settle(ql);
    ts_ql_node *n = where == TS_QL_HEAD ? ql->head : ql->tail;
    TS_ASSERT(n && n->count);
    if (n->count == 1) {
        unlink_free(ql, n);
        ends_fix_now(ql, true);
        return;
    }
    unsigned char *p = where == TS_QL_HEAD ? ts_lp_first(n->lp) : ts_lp_last(n->lp);
    n->lp = ts_lp_delete(n->lp, &p);
    n->count--;
    ql->count--;
}

/* ---------- positions ---------- */

/* The node holding element index (normalised to 0..count-1) and the
 * element's offset in it; NULL when out of range. Walks from the nearer end. */
static ts_ql_node *locate(const ts_quicklist *ql, long index, long *off)
{
    long count = (long)ql->count;
    if (index < 0) index += count;
    if (index < 0 || index >= count) return NULL;
    if (index < count / 2) {
        ts_ql_node *n = ql->head;
        while (index >= (long)n->count) {
            index -= n->count;
            n = n->next;
        }
        *off = index;
        return n;
    }
    long back = count - 1 - index;   /* elements after it */
    ts_ql_node *n = ql->tail;
    while (back >= (long)n->count) {
        back -= n->count;
        n = n->prev;
    }
    *off = (long)n->count - 1 - back;
    return n;
}

/* The element at offset off of n, seeking from the nearer end. */
static unsigned char *node_seek(ts_ql_node *n, long off)
{
    return ts_lp_seek(n->lp, off <= (long)n->count / 2 ? off : off - (long)n->count);
}

bool ts_ql_iter_at(ts_quicklist *ql, long index, int dir, ts_ql_iter *it)
{
    it->ql = ql;
    it->dir = dir;
    it->returned = false;
    settle(ql);
    it->node = locate(ql, index, &it->off);
    use(ql, it->node);
    it->p = it->node ? node_seek(it->node, it->off) : NULL;
    return it->p != NULL;
}

/* Moves to the next element in the iteration direction. */
static void iter_step(ts_ql_iter *it)
{
    ts_ql_node *n = it->node;
    if (it->dir == TS_QL_TAIL) {
        it->p = ts_lp_next(n->lp, it->p);
        it->off++;
        if (!it->p) {
            it->node = n->next;
            it->off = 0;
            use(it->ql, it->node);
            leave(it->ql, n);
            it->p = it->node ? ts_lp_first(it->node->lp) : NULL;
        }
    } else {
        it->p = it->off > 0 ? ts_lp_prev(n->lp, it->p) : NULL;
        it->off--;
        if (!it->p) {
            it->node = n->prev;
            it->off = it->node ? (long)it->node->count - 1 : 0;
            use(it->ql, it->node);
            leave(it->ql, n);
            it->p = it->node ? ts_lp_last(it->node->lp) : NULL;
        }
    }
}

bool ts_ql_iter_next(ts_ql_iter *it, ts_lp_val *out)
{
    if (it->returned) {
        it->returned = false;
        if (it->p) iter_step(it);
    }
    if (!it->p) return false;
    ts_lp_get(it->p, out);
    it->returned = true;
    return true;
}

void ts_ql_iter_del(ts_ql_iter *it)
{
    ts_quicklist *ql = it->ql;
    ts_ql_node *n = it->node;
    TS_ASSERT(it->returned && it->p);
    it->returned = false;   /* the position computed below is the next element to return */
    ql->count--;
    if (n->count == 1) {
        ts_ql_node *next = it->dir == TS_QL_TAIL ? n->next : n->prev;
        n->count = 0;
        unlink_free(ql, n);
        it->node = next;
        ends_fix(ql);
        if (!next) { it->p = NULL; return; }
        use(ql, next);
        it->off = it->dir == TS_QL_TAIL ? 0 : (long)next->count - 1;
        it->p = it->dir == TS_QL_TAIL ? ts_lp_first(next->lp) : ts_lp_last(next->lp);
        return;
    }
    unsigned char *p = it->p;
    n->lp = ts_lp_delete(n->lp, &p);   /* p: the element that followed, or NULL */
    n->count--;
    long shift, off = it->off;         /* offset of the element after the deleted one */
    ts_ql_node *m = try_merge(ql, n, &shift);
    if (m) {
        /* merged: pointers into the old listpack are gone */
        n = m;
        off += shift;
        p = off < (long)n->count ? node_seek(n, off) : NULL;
    }
    ends_fix(ql);   /* only compressed nodes change: n and p stay */
    if (it->dir == TS_QL_TAIL) {
        if (p) { it->node = n; it->off = off; it->p = p; return; }
        it->node = n->next;
        it->off = 0;
        use(ql, it->node);
        it->p = it->node ? ts_lp_first(it->node->lp) : NULL;
        return;
    }
    if (off > 0) {
        it->node = n;
        it->off = off - 1;
        it->p = p ? ts_lp_prev(n->lp, p) : ts_lp_last(n->lp);
        return;
    }
    it->node = n->prev;
    it->off = it->node ? (long)it->node->count - 1 : 0;
    use(ql, it->node);
    it->p = it->node ? ts_lp_last(it->node->lp) : NULL;
}

/* Inserts s at offset ins (0..count) of node n. */
static void insert_in_node(ts_quicklist *ql, ts_ql_node *n, unsigned char *p, long off, int where, const char *s,
                           size_t len)
{
    long ins = where == TS_LP_AFTER ? off + 1 : off;
    ql->count++;
    if (allow_insert(ql, n, len)) {
        n->lp = ts_lp_insert(n->lp, s, len, p, where, NULL);
        n->count++;
        return;
    }
    if (ins == (long)n->count) {
        if (allow_insert(ql, n->next, len)) {
            use(ql, n->next);
            n->next->lp = ts_lp_prepend(n->next->lp, s, len);
            n->next->count++;
        } else {
            link_after(ql, n, node_single(s, len));
            use(ql, n->next);
        }
        ends_fix(ql);
        return;
    }
    if (ins == 0) {
        if (allow_insert(ql, n->prev, len)) {
            use(ql, n->prev);
            n->prev->lp = ts_lp_append(n->prev->lp, s, len);
            n->prev->count++;
        } else {
            link_after(ql, n->prev, node_single(s, len));
            use(ql, n->prev);
        }
        ends_fix(ql);
        return;
    }
    /* In the middle of a full node: split it, the new element goes at the
     * end of the left half (or the start of the right one). */
    unsigned char *at = where == TS_LP_AFTER ? ts_lp_next(n->lp, p) : p;
    ts_ql_node *r = split_at(ql, n, at, ins);
    if (allow_insert(ql, n, len)) {
        n->lp = ts_lp_append(n->lp, s, len);
        n->count++;
    } else if (allow_insert(ql, r, len)) {
        r->lp = ts_lp_prepend(r->lp, s, len);
        r->count++;
    } else {
        link_after(ql, n, node_single(s, len));
        use(ql, n->next);
    }
    long shift;
    try_merge(ql, r, &shift);
    try_merge(ql, n, &shift);
    ends_fix(ql);
}

void ts_ql_iter_insert(ts_ql_iter *it, int where, const char *s, size_t len)
{
    TS_ASSERT(it->returned && it->p);
    insert_in_node(it->ql, it->node, it->p, it->off, where, s, len);
    it->p = NULL;
    it->node = NULL;
}

bool ts_ql_index(ts_quicklist *ql, long index, ts_lp_val *out)
{
    long off;
    settle(ql);
    ts_ql_node *n = locate(ql, index, &off);
    if (!n) return false;
    use(ql, n);
    ts_lp_get(node_seek(n, off), out);
    return true;
}

bool ts_ql_replace(ts_quicklist *ql, long index, const char *s, size_t len)
{
    long off;
    settle(ql);
    ts_ql_node *n = locate(ql, index, &off);
    if (!n) return false;
    use(ql, n);
    unsigned char *p = node_seek(n, off);
    n->lp = ts_lp_replace(n->lp, &p, s, len);
    if (n->count == 1 || fits(ql->fill, lp_bytes(n->lp), n->count)) return true;
    /* The node outgrew its limit: give the new element a node of its own
     * (and let the pieces join their neighbours when they can). */
    ts_ql_node *mid = n;
    if (off > 0) mid = split_at(ql, n, p, off);
    if (mid->count > 1) split_at(ql, mid, ts_lp_next(mid->lp, ts_lp_first(mid->lp)), 1);
    long shift;
    if (mid->next) try_merge(ql, mid->next, &shift);
    if (mid != n) try_merge(ql, n, &shift);
    ends_fix(ql);
    return true;
}

size_t ts_ql_del_range(ts_quicklist *ql, long start, size_t count)
{
    long off;
    settle(ql);
    ts_ql_node *n = locate(ql, start, &off);
    size_t done = 0;
    while (n && done < count) {
        size_t avail = n->count - (size_t)off;
        size_t k = count - done < avail ? count - done : avail;
        ts_ql_node *next = n->next;
        if (k == n->count) {
            unlink_free(ql, n);
        } else {
            use(ql, n);
            n->lp = ts_lp_delete_range(n->lp, off, k);
            n->count -= (uint32_t)k;
            ql->count -= k;
        }
        done += k;
        off = 0;
        n = next;
    }
    /* The partial nodes at the edges of the range may now fit with a
     * neighbour. */
    long shift, o;
    if (start > 0 && (n = locate(ql, start - 1, &o))) try_merge(ql, n, &shift);
    if ((n = locate(ql, start, &o))) try_merge(ql, n, &shift);
    ends_fix(ql);
    return done;
}

/* ---------- checks ---------- */

bool ts_ql_check(const ts_quicklist *ql)
{
    size_t count = 0, len = 0;
    const ts_ql_node *prev = NULL;
    for (const ts_ql_node *n = ql->head; n; n = n->next) {
        if (n->prev != prev || n->count == 0) return false;
        const unsigned char *lp = n->lp;
        unsigned char *tmp = NULL;
        if (n->lzf_len) {
            /* Only interior nodes of a compressing list, and smaller. */
            if (!ql->depth || in_end_zone(ql, n) || n->lzf_len < 4) return false;
            size_t raw = rd_u32le(n->lp);
            if (n->lzf_len - 4 + MIN_COMPRESS_IMPROVE >= raw) return false;
            tmp = ts_malloc(raw);
            bool ok = ts_lzf_decompress(n->lp + 4, n->lzf_len - 4, tmp, raw) == raw && lp_bytes(tmp) == raw;
            lp = tmp;
            if (!ok) { free(tmp); return false; }
        }
        bool ok = ts_lp_length(lp) == n->count && (n->count == 1 || fits(ql->fill, lp_bytes(lp), n->count));
        free(tmp);
        if (!ok) return false;
        count += n->count;
        len++;
        prev = n;
    }
    return ql->tail == prev && count == ql->count && len == ql->len;
}
