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

#include "tessera/cmd/cmd.h"
#include "tessera/types/object.h"
#include "tessera/types/quicklist.h"
#include "tessera/types/table.h"

enum { TS_LIST_HEAD = TS_QL_HEAD, TS_LIST_TAIL = TS_QL_TAIL };

extern const ts_type_ops ts_list_ops;
/* LEFT -> TS_LIST_HEAD, RIGHT -> TS_LIST_TAIL (any case); false otherwise. */
bool ts_list_parse_end(ts_arg a, int *where);

/* Pops up to count (>= 1) elements from the `where` end of the list held
 * by entry e (key `key`, already looked up as a list, non-empty), deleting
 * the key when it becomes empty, and writes Redis's reply for them: with
 * `single` one bulk string (count must be 1: LPOP key, BLPOP's element),
 * otherwise an array of the popped elements (LPOP key count, the inner
 * array of LMPOP/BLMPOP). The caller writes anything around it (BLPOP's
 * [key, element] header). e is invalid afterwards. Returns the number
 * popped. */
long ts_list_pop_reply(ts_cmd_ctx *c, ts_arg key, ts_entry *e, int where, long count, bool single);

/* One LMOVE step: src (entry se, an existing non-empty list) loses its
 * element at the `from` end, which is pushed at the `to` end of dst
 * (created when missing; src and dst may be the same key), then replies
 * the element as a bulk string and signals dst ready. When dst holds
 * another type, replies WRONGTYPE, changes nothing and returns false.
 * se is invalid afterwards. */
bool ts_list_move(ts_cmd_ctx *c, ts_arg src, ts_entry *se, ts_arg dst, int from, int to);

#endif
