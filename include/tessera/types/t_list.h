/*
 * t_list.h - list values in the keyspace: the type ops, and the pop / move
 * steps shared by LPOP/RPOP/LMPOP/LMOVE/RPOPLPUSH and the blocking
 * commands (BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH).
 *
 * Owns: nothing beyond the call. A list is a TS_FORM_PTR value of type
 * TS_TYPE_LIST, encoding TS_ENC_QUICKLIST, pointing at a ts_quicklist
 * (quicklist.h). An empty list never exists: the key is deleted with its
 * last element.
 *
 * Thread: the owner of c->shard (like every command function).
 */
#ifndef TESSERA_T_LIST_H
#define TESSERA_T_LIST_H

#include <stdbool.h>

#include "tessera/types/object.h"
#include "tessera/types/quicklist.h"
#include "tessera/types/table.h"
#include "tessera/util/common.h"

enum { TS_LIST_HEAD = TS_QL_HEAD, TS_LIST_TAIL = TS_QL_TAIL };

extern const ts_type_ops ts_list_ops;
/* LEFT -> TS_LIST_HEAD, RIGHT -> TS_LIST_TAIL (any case); false otherwise. */
bool ts_list_parse_end(ts_arg a, int *where);

#endif
