/*
 * blocking.c - clients blocked on keys of this shard (BLPOP and friends).
 *
 * Owns: the shard's registry of waiting clients per key and the queue of
 * keys signalled ready since the last pass.
 * Thread: the shard's owner only.
 */
#include "tessera/db.h"

void ts_db_signal_ready(ts_cmd_ctx *c, ts_arg key)
{
    if (TS_LIKELY(c->shard->blocked_keys == 0)) return;
    (void)key; /* the registry arrives with the blocking commands */
}
