/*
 * aof_log.c - the propagation rules commands follow (aof.h): what a
 * command's execution writes into its propagation log
 * (store/aof_log.h has the log's encoding).
 *
 * Owns: nothing beyond the ts_aof_log buffers it appends to; a log
 * belongs to whoever owns its shard (or txn), so nothing here locks.
 */
#include "tessera/persist/aof.h"

#include <stdio.h>
#include <string.h>

#include "tessera/config/config.h"
#include "tessera/store/db.h"
#include "tessera/types/object.h"
#include "tessera/persist/rdb.h"
#include "tessera/types/table.h"

/* ---- propagation ---- */

void ts_prop_value(ts_cmd_ctx *c, ts_arg key)
{
    c->propagated = true;
    if (!c->aof) return;
    ts_entry *e = ts_table_find(&c->shard->dbs[c->db], key.ptr, key.len);
    if (!e) {
        ts_aof_log_begin(c->aof, c->db, 2);
        ts_aof_log_arg_str(c->aof, "DEL");
        ts_aof_log_arg(c->aof, key.ptr, key.len);
        return;
    }
    ts_value v;
    ts_entry_value(e, &v);
    ts_buf payload;
    ts_buf_init(&payload);
    ts_rdb_dump_payload(&payload, &v, ts_db_config(&c->ex)->rdbcompression);
    int64_t exp = ts_entry_expire(e);
    ts_aof_log_begin(c->aof, c->db, 6);
    ts_aof_log_arg_str(c->aof, "RESTORE");
    ts_aof_log_arg(c->aof, key.ptr, key.len);
    ts_aof_log_arg_ll(c->aof, exp < 0 ? 0 : exp);
    ts_aof_log_arg(c->aof, payload.data, payload.len);
    ts_aof_log_arg_str(c->aof, "REPLACE");
    ts_aof_log_arg_str(c->aof, "ABSTTL");
    ts_buf_free(&payload);
}
