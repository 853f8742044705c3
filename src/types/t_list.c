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
#include "tessera/util/strconv.h"

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


bool ts_list_parse_end(ts_arg a, int *where)
{
    if (ts_arg_eq(a, "left")) *where = TS_LIST_HEAD;
    else if (ts_arg_eq(a, "right")) *where = TS_LIST_TAIL;
    else return false;
    return true;
}
