/*
 * snapshot.c - a shard's part of a forkless point-in-time snapshot (see
 * snapshot.h and docs/persistence.md).
 *
 * > Invariant: between ts_shard_snapshot_begin and the end of the walk,
 * > every entry that existed at the beginning is written exactly once,
 * > with the value and expire time it had at the beginning.
 *
 * Why it holds:
 *   - begin flips each table's parity: every existing entry is pending,
 *     and entries created afterwards are born marked (not in the file).
 *   - The walk (SCAN over each table: every entry present for the whole
 *     walk is visited at least once, across rehashes) writes pending
 *     entries and marks them, so a second visit writes nothing.
 *   - The table calls the hook before it hands a pending entry to any
 *     command (find, random) or changes or drops it (set, delete, detach,
 *     clear): the entry is written as it was, then marked. Commands change
 *     values only through entries they found, so no change reaches a value
 *     before its old state is in the file.
 *   - FLUSHALL, FLUSHDB and SWAPDB drain a table's pending entries under their database
 *     number before the table is handed away or renumbered.
 * The cost of changes during the walk is only the bytes of the changed
 * keys written early: no copy of the keyspace, no fork, no page faults.
 */
#include "tessera/persist/snapshot.h"

#include <stddef.h>
#include <string.h>

#include "tessera/persist/aof.h"
#include "tessera/util/common.h"
#include "tessera/persist/rdb.h"

#define CHUNK_BYTES (256 * 1024)  /* hand a chunk over past this size */

typedef struct ts_shard_snap {
    ts_table_snap hook;     /* first: the tables call back through it */
    ts_shard *shard;
    ts_snapshot *snap;
    bool compress;
    bool commands;          /* an AOF rewrite written as commands (aof_rewrite.c) */
    ts_buf chunk;
    int chunk_db;           /* database the chunk's last SELECTDB named, -1 = none */
    size_t cow;             /* bytes written by the hook, since the last chunk */
    int db;                 /* database being walked */
    uint64_t cursor;        /* SCAN cursor in it */
    size_t written;         /* entries written by the walk in the current step */
} ts_shard_snap;

static void flush_chunk(ts_shard_snap *ss)
{
    ts_snapshot_chunk(ss->snap, &ss->chunk, ss->cow);
    ss->cow = 0;
    ss->chunk_db = -1;
}

/* Appends one key as the commands that rebuild it, after a SELECT when
 * the chunk's last command named another database. */
static void write_entry_commands(ts_shard_snap *ss, int db, ts_entry *e)
{
    ts_aof_log log = {.buf = ss->chunk, .db = ss->chunk_db};
    ts_value v;
    ts_entry_value(e, &v);
    size_t klen;
    const char *key = ts_entry_key(e, &klen);
    ts_aof_rewrite_key(&log, db, key, klen, &v, ts_entry_expire(e));
    ss->chunk = log.buf;
    ss->chunk_db = log.db;
}

/* Appends one key: [SELECTDB] [EXPIRETIME_MS] type key value. */
static void write_entry(ts_shard_snap *ss, int db, ts_entry *e)
{
    if (ss->commands) {
        write_entry_commands(ss, db, e);
        return;
    }
    ts_buf *b = &ss->chunk;
    if (ss->chunk_db != db) {
        ts_buf_putc(b, (char)TS_RDB_OPCODE_SELECTDB);
        ts_rdb_save_len(b, (uint64_t)db);
        ss->chunk_db = db;
    }
    int64_t expire = ts_entry_expire(e);
    if (expire >= 0) {
        unsigned char le[9];
        le[0] = TS_RDB_OPCODE_EXPIRETIME_MS;
        for (int i = 0; i < 8; i++) le[1 + i] = (unsigned char)((uint64_t)expire >> (8 * i));
        ts_buf_append(b, le, sizeof le);
    }
    ts_value v;
    ts_entry_value(e, &v);
    ts_buf_putc(b, (char)ts_rdb_value_type(&v));
    size_t klen;
    const char *key = ts_entry_key(e, &klen);
    ts_rdb_save_string(b, key, klen, ss->compress);
    ts_rdb_save_value(b, &v, ss->compress);
}

static int db_of(ts_shard_snap *ss, const ts_table *t)
{
    ptrdiff_t db = t - ss->shard->dbs;
    TS_ASSERT(db >= 0 && db < ss->shard->ndb);
    return (int)db;
}

/* The table hook: an entry the walk has not reached is about to be seen or
 * changed. */
static void before_change(ts_table_snap *hook, ts_table *t, ts_entry *e)
{
    ts_shard_snap *ss = (ts_shard_snap *)hook;
    size_t before = ss->chunk.len;
    write_entry(ss, db_of(ss, t), e);
    ts_entry_snap_mark(t, e);
    ss->cow += ss->chunk.len - before;
    if (ss->chunk.len >= CHUNK_BYTES) flush_chunk(ss);
}

void ts_shard_snapshot_begin(ts_shard *s, ts_snapshot *snap)
{
    TS_ASSERT(s->snap == NULL);
    ts_shard_snap *ss = ts_calloc(1, sizeof(*ss));
    ss->hook.before_change = before_change;
    ss->shard = s;
    ss->snap = snap;
    ss->compress = ts_snapshot_compress(snap);
    ss->commands = ts_snapshot_commands(snap);
    ss->chunk_db = -1;
    ts_buf_init(&ss->chunk);
    for (int db = 0; db < s->ndb; db++) ts_table_snapshot_begin(&s->dbs[db], &ss->hook);
    s->snap = ss;
}

typedef struct walk_ctx {
    ts_shard_snap *ss;
    ts_table *t;
    int db;
} walk_ctx;

static void walk_one(void *arg, ts_entry *e)
{
    walk_ctx *w = arg;
    if (!ts_entry_snap_pending(w->t, e)) return;
    write_entry(w->ss, w->db, e);
    ts_entry_snap_mark(w->t, e);
    w->ss->written++;
}

static void end_walk(ts_shard *s)
{
    ts_shard_snap *ss = s->snap;
    for (int db = 0; db < s->ndb; db++) ts_table_snapshot_end(&s->dbs[db]);
    flush_chunk(ss);
    ts_buf_free(&ss->chunk);
    ts_snapshot_shard_done(ss->snap);
    s->snap = NULL;
    free(ss);
}

bool ts_shard_snapshot_step(ts_shard *s, size_t max_entries)
{
    ts_shard_snap *ss = s->snap;
    if (!ss) return true;
    ss->written = 0;
    while (ss->db < s->ndb) {
        ts_table *t = &s->dbs[ss->db];
        walk_ctx w = {.ss = ss, .t = t, .db = ss->db};
        if (ts_table_size(t) == 0) ss->cursor = 0;
        else ss->cursor = ts_table_scan(t, ss->cursor, 64, walk_one, &w);
        if (ss->cursor == 0) ss->db++;
        if (ss->chunk.len >= CHUNK_BYTES) flush_chunk(ss);
        if (ss->written >= max_entries) return false;
    }
    end_walk(s);
    return true;
}

void ts_shard_snapshot_finish(ts_shard *s)
{
    while (!ts_shard_snapshot_step(s, SIZE_MAX)) {}
}
