/*
 * aof_log.c - the RESP encoding of logged commands and the propagation
 * rules commands follow (aof.h).
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

void ts_aof_log_init(ts_aof_log *l)
{
    ts_buf_init(&l->buf);
    l->db = -1;
}

void ts_aof_log_free(ts_aof_log *l)
{
    ts_buf_free(&l->buf);
    l->db = -1;
}

static void put_len(ts_buf *b, char kind, size_t n)
{
    char tmp[32];
    int k = snprintf(tmp, sizeof tmp, "%c%zu\r\n", kind, n);
    ts_buf_append(b, tmp, (size_t)k);
}

void ts_aof_log_arg(ts_aof_log *l, const void *p, size_t n)
{
    ts_buf_reserve(&l->buf, n + 24);
    put_len(&l->buf, '$', n);
    ts_buf_append(&l->buf, p, n);
    ts_buf_append(&l->buf, "\r\n", 2);
}

void ts_aof_log_arg_str(ts_aof_log *l, const char *s) { ts_aof_log_arg(l, s, strlen(s)); }

void ts_aof_log_arg_ll(ts_aof_log *l, long long v)
{
    char tmp[24];
    int k = snprintf(tmp, sizeof tmp, "%lld", v);
    ts_aof_log_arg(l, tmp, (size_t)k);
}

void ts_aof_log_begin(ts_aof_log *l, int db, int argc)
{
    if (db != l->db) {
        ts_buf_append(&l->buf, "*2\r\n$6\r\nSELECT\r\n", 16);
        ts_aof_log_arg_ll(l, db);
        l->db = db;
    }
    put_len(&l->buf, '*', (size_t)argc);
}

void ts_aof_log_argv(ts_aof_log *l, int db, int argc, const ts_arg *argv)
{
    ts_aof_log_begin(l, db, argc);
    for (int i = 0; i < argc; i++) ts_aof_log_arg(l, argv[i].ptr, argv[i].len);
}

void ts_aof_log_take(ts_aof_log *l, ts_buf *out)
{
    *out = l->buf;
    ts_buf_init(&l->buf);
    l->db = -1;
}

/* ---- propagation ---- */

void ts_prop_none(ts_cmd_ctx *c) { c->propagated = true; }

void ts_prop_argv(ts_cmd_ctx *c, int argc, const ts_arg *argv)
{
    c->propagated = true;
    if (c->aof) ts_aof_log_argv(c->aof, c->db, argc, argv);
}

void ts_prop_begin(ts_cmd_ctx *c, int argc)
{
    c->propagated = true;
    if (c->aof) ts_aof_log_begin(c->aof, c->db, argc);
}

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
    ts_rdb_dump_payload(&payload, &v, ts_db_config(c)->rdbcompression);
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

void ts_prop_default(ts_cmd_ctx *c)
{
    if (!c->aof || c->propagated) return;
    c->propagated = true;
    ts_aof_log_argv(c->aof, c->db, c->argc, c->argv);
}
