/*
 * object.c - the per-type operation table of object.h, and the value-level
 * helpers built on it (free now, free effort, deep copy), and the string encoding rule
 * (ts_value_string), which the keyspace and the RDB loader share.
 *
 * Each type module defines its ts_type_ops; this file only lists them, so
 * that the keyspace depends on the table and not on any type's internals.
 */
#include "tessera/types/object.h"

#include <stdlib.h>
#include <string.h>

#include "tessera/util/common.h"
#include "tessera/util/strconv.h"
#include "tessera/types/t_hash.h"
#include "tessera/types/t_list.h"
#include "tessera/types/t_set.h"
#include "tessera/types/t_stream.h"
#include "tessera/types/t_zset.h"

static void stream_free(void *obj, int enc) { (void)enc; ts_stream_free(obj); }
static void *stream_dup(const void *obj, int enc) { (void)enc; return ts_stream_dup(obj); }
static size_t stream_free_effort(const void *obj, int enc) { (void)enc; return ts_stream_free_effort(obj); }
static const ts_type_ops stream_ops = {.free = stream_free, .dup = stream_dup, .free_effort = stream_free_effort};

static const ts_type_ops *const ops_by_type[] = {
    [TS_TYPE_STRING] = NULL,   /* strings are INT or INLINE, never PTR */
    [TS_TYPE_LIST] = &ts_list_ops,
    [TS_TYPE_SET] = &ts_set_ops,
    [TS_TYPE_HASH] = &ts_hash_ops,
    [TS_TYPE_ZSET] = &ts_zset_ops,
    [TS_TYPE_STREAM] = &stream_ops,
};

const ts_type_ops *ts_type_ops_of(int type)
{
    if (type < 0 || type >= (int)TS_ARRAY_LEN(ops_by_type)) return NULL;
    return ops_by_type[type];
}

void ts_value_free_now(const ts_value *v)
{
    if (v->form != TS_FORM_PTR) return;
    const ts_type_ops *ops = ts_type_ops_of(v->type);
    if (ops) ops->free(v->ptr, v->enc);
    else free(v->ptr);
}

size_t ts_value_free_effort(const ts_value *v)
{
    if (v->form != TS_FORM_PTR) return 0;
    const ts_type_ops *ops = ts_type_ops_of(v->type);
    return ops ? ops->free_effort(v->ptr, v->enc) : 1;
}

void ts_value_dup(const ts_value *src, ts_value *out)
{
    *out = *src;
    if (src->form == TS_FORM_INLINE) {
        out->s.ptr = ts_strndup(src->s.ptr, src->s.len);
    } else if (src->form == TS_FORM_PTR) {
        const ts_type_ops *ops = ts_type_ops_of(src->type);
        out->ptr = ops ? ops->dup(src->ptr, src->enc) : NULL;
    }
}

void ts_value_string(ts_value *v, const char *p, size_t n)
{
    long long ll;
    v->type = TS_TYPE_STRING;
    if (n <= 20 && ts_str_to_ll(p, n, &ll)) {
        v->form = TS_FORM_INT;
        v->enc = TS_ENC_INT;
        v->i = ll;
        return;
    }
    v->form = TS_FORM_INLINE;
    v->enc = n <= TS_EMBSTR_MAX ? TS_ENC_EMBSTR : TS_ENC_RAW;
    v->s.ptr = p;
    v->s.len = n;
}
