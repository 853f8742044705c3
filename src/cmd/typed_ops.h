/*
 * typed_ops.h - private to src/cmd: keyspace operations on one type's
 * values that several commands share, each with its Redis reply: popping
 * from a list or a sorted set, moving a list element (LPOP, LMPOP, BLPOP,
 * LMOVE, BLMOVE, ZPOPMIN, ZMPOP, BZPOPMIN, ...; the blocking ones also when
 * a blocked client is served).
 *
 * Thread: the owner of x->shard only.
 */
#ifndef TESSERA_TYPED_OPS_H
#define TESSERA_TYPED_OPS_H

#include <stdbool.h>

#include "tessera/store/exec.h"
#include "tessera/types/table.h"

/* Pops up to count (>= 1) elements from the `where` end of the list held
 * by entry e (key `key`, already looked up as a list, non-empty), deleting
 * the key when it becomes empty and signalling it modified (watched_keys.h),
 * and writes Redis's reply for them: with
 * `single` one bulk string (count must be 1: LPOP key, BLPOP's element),
 * otherwise an array of the popped elements (LPOP key count, the inner
 * array of LMPOP/BLMPOP). The caller writes anything around it (BLPOP's
 * [key, element] header). e is invalid afterwards. Returns the number
 * popped. */
long ts_list_pop_reply(ts_exec *x, ts_arg key, ts_entry *e, int where, long count, bool single);

/* One LMOVE step: src (entry se, an existing non-empty list) loses its
 * element at the `from` end, which is pushed at the `to` end of dst
 * (created when missing; src and dst may be the same key), then replies
 * the element as a bulk string, signals both keys modified and dst ready.
 * When dst holds
 * another type, replies WRONGTYPE, changes nothing and returns false.
 * se is invalid afterwards. */
bool ts_list_move(ts_exec *x, ts_arg src, ts_entry *se, ts_arg dst, int from, int to);

/* ---- the pop primitive ---- */
/* Reply shapes of Redis's genericZpopCommand:
 *   FLAT       ZPOPMIN/ZPOPMAX in RESP2, or without COUNT: m1 s1 m2 s2 ...
 *   NESTED     ZPOPMIN/ZPOPMAX with COUNT in RESP3: [m1 s1] [m2 s2] ...
 *   KEY_FLAT   BZPOPMIN/BZPOPMAX: key m s
 *   KEY_NESTED ZMPOP/BZMPOP: key [[m1 s1] [m2 s2] ...] */
enum { TS_ZPOP_FLAT, TS_ZPOP_NESTED, TS_ZPOP_KEY_FLAT, TS_ZPOP_KEY_NESTED };
/* Pops up to count (>= 1) members of the sorted set in e (the live entry
 * of key, type zset), lowest first or highest first (max), writing the
 * reply in `shape`. Signals the key modified and deletes it when it
 * becomes empty (e is then invalid). Returns the number popped. */
long ts_zset_pop(ts_exec *x, ts_arg key, ts_entry *e, bool max, long count, int shape);

#endif
