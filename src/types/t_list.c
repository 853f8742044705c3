/*
 * t_list.c - list values in the keyspace (t_list.h): the type ops the
 * keyspace uses (free, dup, free effort) and the pop / move steps shared by
 * the list commands and the blocking commands.
 *
 * Owns: nothing beyond the call. Thread: the owner of c->shard.
 *
 * Shape: every list is a quicklist (Redis 7.0 has no other list
 * encoding), so the PTR of a list entry is the ts_quicklist itself and never
 * changes for the life of the key: no ts_entry_set_object is ever needed.
 */
#include "tessera/types/t_list.h"

#include <string.h>

#include "tessera/config/config.h"
#include "tessera/store/db.h"

/* ---------- type ops ---------- */

static void list_free(void *obj, int enc)
{
    (void)enc;
    ts_ql_free(obj);
}

static void *list_dup(const void *obj, int enc)
{
    (void)enc;
    return ts_ql_dup(obj);
}

/* One allocation per node (plus its listpack): Redis counts quicklist nodes. */
static size_t list_free_effort(const void *obj, int enc)
{
    (void)enc;
    return ((const ts_quicklist *)obj)->len;
}

const ts_type_ops ts_list_ops = {.free = list_free, .dup = list_dup, .free_effort = list_free_effort};

/* ---------- shared steps ---------- */

static void reply_val(ts_reply *r, const ts_lp_val *v)
{
    if (v->str) ts_reply_bulk(r, v->str, v->len);
    else ts_reply_bulk_ll(r, v->ll);
}

long ts_list_pop_reply(ts_cmd_ctx *c, ts_arg key, ts_entry *e, int where, long count, bool single)
{
    (void)key; /* the entry is deleted directly; key is for the caller's symmetry with ts_list_move */
    ts_quicklist *ql = ts_entry_obj(e);
    long n = (size_t)count < ql->count ? count : (long)ql->count;
    if (!single) ts_reply_array(c->r, n);
    ts_lp_val v;
    for (long i = 0; i < n; i++) {
        ts_ql_peek(ql, where, &v);
        reply_val(c->r, &v);
        ts_ql_pop(ql, where);
    }
    if (ql->count == 0) ts_table_delete_entry(ts_db_table(c), e);
    return n;
}

bool ts_list_move(ts_cmd_ctx *c, ts_arg src, ts_entry *se, ts_arg dst, int from, int to)
{
    bool same = src.len == dst.len && memcmp(src.ptr, dst.ptr, src.len) == 0;
    ts_entry *de = se;
    if (!same) {
        bool wrong;
        de = ts_db_lookup_write_type(c, dst, TS_TYPE_LIST, &wrong);
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
        dq = ts_ql_new(ts_db_config(c)->list_max_listpack_size, ts_db_config(c)->list_compress_depth);
        ts_db_add_object(c, dst, TS_TYPE_LIST, TS_ENC_QUICKLIST, dq);
    }
    ts_ql_push(dq, to, s, len);
    ts_reply_bulk(c->r, s, len);
    free(heap);
    if (!same && sq->count == 0) {
        /* Adding dst may have rehashed the table, but entries never move. */
        ts_table_delete_entry(ts_db_table(c), se);
    }
    ts_db_signal_ready(c, dst);
    return true;
}

bool ts_list_parse_end(ts_arg a, int *where)
{
    if (ts_arg_eq(a, "left")) *where = TS_LIST_HEAD;
    else if (ts_arg_eq(a, "right")) *where = TS_LIST_TAIL;
    else return false;
    return true;
}
