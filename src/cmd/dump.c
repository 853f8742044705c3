/*
 * dump.c - DUMP and RESTORE: a key's value as a Redis 7.0 payload (RDB v10
 * value + RDB version + CRC-64) and back.
 *
 * Owns: nothing; the payload format is rdb.h's (src/persist/rdb_value.c),
 * this file adds the command semantics: RESTORE's options, its checks in
 * Redis's order (options, BUSYKEY, TTL, payload), the expired-ABSTTL rule
 * and the LRU clock of IDLETIME.
 *
 * Thread: both run on the thread owning c->shard (single-key commands,
 * routed KEYS).
 *
 * FREQ: Tessera has no LFU policy, and Redis applies FREQ only under one
 * (objectSetLRUOrLFU), so the argument is parsed and range-checked like
 * Redis's and then has no effect, exactly as in a Redis whose
 * maxmemory-policy is not LFU.
 */
#include <limits.h>
#include <stdlib.h>

#include "cmds.h"
#include "tessera/persist/aof.h"
#include "tessera/store/db.h"
#include "tessera/store/watched_keys.h"
#include "tessera/persist/rdb.h"
#include "tessera/store/lazyfree.h"

void cmd_dump(ts_cmd_ctx *c)
{
    ts_entry *e = ts_db_lookup_read(&c->ex, c->argv[1]);
    if (!e) {
        ts_reply_null(c->r);
        return;
    }
    ts_value v;
    ts_entry_value(e, &v);
    ts_buf out;
    ts_buf_init(&out);
    ts_rdb_dump_payload(&out, &v, ts_db_config(&c->ex)->rdbcompression);
    ts_reply_bulk(c->r, out.data, out.len);
    ts_buf_free(&out);
}

/* Redis's objectSetLRUOrLFU for an idle time in seconds: the clock goes
 * back by idle, and an idle time past the clock's start lands half a wrap
 * away (LRU_CLOCK_MAX / 2), as Redis does. */
static uint32_t lru_for_idle(int64_t now_ms, long long idle)
{
    long long clock = ts_lru_clock(now_ms);
    long long abs = clock - idle;
    if (abs < 0) abs = (clock + TS_ENTRY_LRU_MAX / 2) % TS_ENTRY_LRU_MAX;
    return (uint32_t)abs;
}

static void restore_impl(ts_cmd_ctx *c);

/* The AOF gets the key as it ended up: an absolute TTL (ABSTTL), or a DEL
 * when the TTL was already past (aof.h). */
void cmd_restore(ts_cmd_ctx *c)
{
    uint32_t errors = c->r->errors;
    restore_impl(c);
    if (c->r->errors == errors) ts_prop_value(c, c->argv[1]);
}

static void restore_impl(ts_cmd_ctx *c)
{
    ts_arg key = c->argv[1];
    bool replace = false, absttl = false;
    long long idle = -1, freq = -1, ttl;
    for (int j = 4; j < c->argc; j++) {
        int more = c->argc - j - 1;
        ts_arg a = c->argv[j];
        if (ts_arg_eq(a, "replace")) {
            replace = true;
        } else if (ts_arg_eq(a, "absttl")) {
            absttl = true;
        } else if (ts_arg_eq(a, "idletime") && more >= 1 && freq == -1) {
            if (!ts_arg_to_ll(c->argv[++j], &idle)) { ts_reply_error(c->r, TS_ERR_NOT_INT); return; }
            if (idle < 0) { ts_reply_error(c->r, "ERR Invalid IDLETIME value, must be >= 0"); return; }
        } else if (ts_arg_eq(a, "freq") && more >= 1 && idle == -1) {
            if (!ts_arg_to_ll(c->argv[++j], &freq)) { ts_reply_error(c->r, TS_ERR_NOT_INT); return; }
            if (freq < 0 || freq > 255) {
                ts_reply_error(c->r, "ERR Invalid FREQ value, must be >= 0 and <= 255");
                return;
            }
        } else {
            ts_reply_error(c->r, TS_ERR_SYNTAX);
            return;
        }
    }
    if (!replace && ts_db_lookup_write(&c->ex, key)) {
        ts_reply_error(c->r, "BUSYKEY Target key name already exists.");
        return;
    }
    if (!ts_arg_to_ll(c->argv[2], &ttl)) { ts_reply_error(c->r, TS_ERR_NOT_INT); return; }
    if (ttl < 0) { ts_reply_error(c->r, "ERR Invalid TTL value, must be >= 0"); return; }

    ts_value v;
    const char *err;
    if (ts_rdb_restore_payload(c->argv[3].ptr, c->argv[3].len, ts_db_config(&c->ex), &v, &err) != 0) {
        ts_reply_errorf(c->r, "ERR %s", err);
        return;
    }
    bool deleted = replace && ts_db_delete(&c->ex, key);
    if (ttl && !absttl) ttl = ttl > LLONG_MAX - c->now_ms ? LLONG_MAX : ttl + c->now_ms;
    /* Already expired: the key is not created (and REPLACE deleted the old
     * one), the reply is still OK. */
    if (ttl && ttl <= c->now_ms) {
        ts_value_free(&v);
        if (v.form == TS_FORM_INLINE) free((void *)v.s.ptr);
        if (deleted) ts_db_signal_modified(&c->ex, key);   /* Redis: a DEL */
        ts_reply_ok(c->r);
        return;
    }
    ts_entry *e = ts_table_set(ts_db_table(&c->ex), key.ptr, key.len, &v, ttl ? ttl : -1, false);
    ts_entry_set_lru(e, idle >= 0 ? lru_for_idle(c->now_ms, idle) : ts_lru_clock(c->now_ms));
    if (v.form == TS_FORM_INLINE) free((void *)v.s.ptr);
    ts_db_signal_modified(&c->ex, key);
    ts_db_signal_ready_in(c->shard, c->db, key, v.type);
    ts_reply_ok(c->r);
}
