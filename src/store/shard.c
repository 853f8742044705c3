/*
 * shard.c - shard lifecycle and the queue of work parked while the shard is
 * held by a multi-shard transaction (see shard.h).
 */
#include "tessera/shard.h"

#include <string.h>

#include "tessera/db.h"

void ts_shard_init(ts_shard *s, unsigned id, int ndb)
{
    memset(s, 0, sizeof(*s));
    s->id = id;
    s->ndb = ndb;
    s->dbs = ts_calloc((size_t)ndb, sizeof(ts_table));
    for (int i = 0; i < ndb; i++) ts_table_init(&s->dbs[i], ts_value_free);
    s->active_expire = true;
}

void ts_shard_free(ts_shard *s)
{
    for (int i = 0; i < s->ndb; i++) ts_table_clear(&s->dbs[i]);
    free(s->dbs);
    s->dbs = NULL;
}

void ts_shard_defer(ts_shard *s, ts_msg *m)
{
    m->next = NULL;
    if (s->deferred_tail) s->deferred_tail->next = m;
    else s->deferred_head = m;
    s->deferred_tail = m;
}

ts_msg *ts_shard_undefer(ts_shard *s)
{
    ts_msg *m = s->deferred_head;
    if (!m) return NULL;
    s->deferred_head = m->next;
    if (!s->deferred_head) s->deferred_tail = NULL;
    m->next = NULL;
    return m;
}
