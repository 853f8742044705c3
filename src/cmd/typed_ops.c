/*
 * typed_ops.c - list and sorted-set operations with their replies, shared
 * by commands and blocked-client service (typed_ops.h).
 */
#include "typed_ops.h"

#include <stdlib.h>
#include <string.h>

#include "tessera/config/config.h"
#include "tessera/store/db.h"
#include "tessera/store/watched_keys.h"
#include "tessera/types/t_list.h"
#include "tessera/types/t_zset.h"
#include "tessera/util/strconv.h"

/* ---------- lists ---------- */

static void reply_val(ts_reply *r, const ts_lp_val *v)
{
    if (v->str) ts_reply_bulk(r, v->str, v->len);
    else ts_reply_bulk_ll(r, v->ll);
}

long ts_list_pop_reply(ts_exec *x, ts_arg key, ts_entry *e, int where, long count, bool single)
{
    ts_quicklist *ql = ts_entry_obj(e);
    long n = (size_t)count < ql->count ? count : (long)ql->count;
    if (!single) ts_reply_array(x->r, n);
    ts_lp_val v;
    for (long i = 0; i < n; i++) {
        ts_ql_peek(ql, where, &v);
        reply_val(x->r, &v);
        ts_ql_pop(ql, where);
    }
    if (ql->count == 0) ts_table_delete_entry(ts_db_table(x), e);
    /* listElementsRemoved: after the delete. (Redis does not signal when
     * it serves a blocked BLPOP, "already called when an element was
     * pushed"; signalling again there touches no one the push did not.) */
    ts_db_signal_modified(x, key);
    return n;
}

bool ts_list_move(ts_exec *x, ts_arg src, ts_entry *se, ts_arg dst, int from, int to)
{
    bool same = src.len == dst.len && memcmp(src.ptr, dst.ptr, src.len) == 0;
    ts_entry *de = se;
    if (!same) {
        bool wrong;
        de = ts_db_lookup_write_type(x, dst, TS_TYPE_LIST, &wrong);
        if (wrong) return false;
    }
    ts_quicklist *sq = ts_entry_obj(se);
    ts_lp_val v;
    ts_ql_peek(sq, from, &v);
    /* Copy the element out of the source listpack before it changes. */
    char numbuf[24], *heap = NULL;
    const char *s;
    size_t len;
    if (v.str) {
        heap = ts_malloc(v.len ? v.len : 1);
        memcpy(heap, v.str, v.len);
        s = heap;
        len = v.len;
    } else {
        len = ts_ll_to_str(numbuf, v.ll);
        s = numbuf;
    }
    ts_ql_pop(sq, from);
    ts_quicklist *dq;
    if (same) {
        dq = sq;
    } else if (de) {
        dq = ts_entry_obj(de);
    } else {
        dq = ts_ql_new(ts_db_config(x)->list_max_listpack_size, ts_db_config(x)->list_compress_depth);
        ts_db_add_object(x, dst, TS_TYPE_LIST, TS_ENC_QUICKLIST, dq);
    }
    ts_ql_push(dq, to, s, len);
    ts_db_signal_modified(x, dst);   /* lmoveHandlePush */
    ts_reply_bulk(x->r, s, len);
    free(heap);
    if (!same && sq->count == 0) {
        /* Adding dst may have rehashed the table, but entries never move. */
        ts_table_delete_entry(ts_db_table(x), se);
    }
    ts_db_signal_modified(x, src);   /* lmoveGenericCommand's touchedkey, after its delete */
    ts_db_signal_ready(x, dst);
    return true;
}

/* ---------- pop ---------- */

long ts_zset_pop(ts_exec *x, ts_arg key, ts_entry *e, bool max, long count, int shape)
{
    ts_zset z = ts_zset_of(e);
    size_t len = ts_zset_length(&z);
    long n = count > (long)len ? (long)len : count;
    bool nested = shape == TS_ZPOP_NESTED || shape == TS_ZPOP_KEY_NESTED;
    switch (shape) {
    case TS_ZPOP_FLAT: ts_reply_array(x->r, n * 2); break;
    case TS_ZPOP_NESTED: ts_reply_array(x->r, n); break;
    case TS_ZPOP_KEY_FLAT:
        ts_reply_array(x->r, n * 2 + 1);
        ts_reply_bulk(x->r, key.ptr, key.len);
        break;
    default:
        ts_reply_array(x->r, 2);
        ts_reply_bulk(x->r, key.ptr, key.len);
        ts_reply_array(x->r, n);
        break;
    }
    ts_zset_it it;
    ts_zset_it_at(&z, &it, 0, max);
    for (long i = 0; i < n; i++) {
        if (nested) ts_reply_array(x->r, 2);
        size_t ml;
        const char *m = ts_zset_it_member(&it, &ml);
        ts_reply_bulk(x->r, m, ml);
        ts_reply_double(x->r, ts_zset_it_score(&it));
        ts_zset_it_next(&it);
    }
    if (n > 0) {
        size_t start = max ? len - (size_t)n : 0;
        ts_zset_delete_ranks(&z, start, start + (size_t)n - 1);
    }
    ts_zset_store(e, &z);   /* first: the entry must free the current pointer */
    /* genericZpopCommand signals with the first member popped, before the
     * key is deleted. */
    if (n > 0) ts_db_signal_modified(x, key);
    if (ts_zset_length(&z) == 0) ts_table_delete_entry(ts_db_table(x), e);
    return n;
}
