/*
 * batch.c - batches of single-shard commands: building them at the
 * origin, running them on the shard's owner (batch.h).
 */
#include "tessera/route/batch.h"

#include <string.h>

#include "tessera/route/engine.h"
#include "tessera/route/run.h"
#include "tessera/route/txn.h"

/* Batches are allocated and freed by their origin engine, which keeps a
 * few freed ones with their buffers: a pipeline then reuses warm memory
 * instead of growing fresh buffers with realloc on every pass. */
#define TS_BATCH_CACHE_MAX 32
#define TS_BATCH_CACHE_BUF_MAX (16 * 1024)

static void batch_release(ts_batch *b)
{
    ts_buf_free(&b->args);
    ts_buf_free(&b->reply);
    free(b->reply_end);
    free(b);
}

ts_batch *ts_batch_new(ts_engine *origin, struct ts_conn *conn, unsigned target, bool is_local)
{
    ts_batch *b = origin->batch_cache;
    if (b) {
        origin->batch_cache = (ts_batch *)b->msg.next;
        origin->nbatch_cache--;
        ts_buf args = b->args, reply = b->reply;
        size_t *ends = b->reply_end;
        uint32_t ends_cap = b->reply_end_cap;
        memset(b, 0, sizeof(*b));
        b->args = args;
        b->args.len = 0;
        b->reply = reply;
        b->reply.len = 0;
        b->reply_end = ends;
        b->reply_end_cap = ends_cap;
    } else {
        b = ts_calloc(1, sizeof(*b));
    }
    b->conn = conn;
    b->origin = origin;
    b->target = target;
    b->is_local = is_local;
    b->done = is_local;
    return b;
}

void ts_batch_free(ts_batch *b)
{
    ts_engine *e = b->origin;
    if (e->nbatch_cache < TS_BATCH_CACHE_MAX && b->args.cap <= TS_BATCH_CACHE_BUF_MAX &&
        b->reply.cap <= TS_BATCH_CACHE_BUF_MAX) {
        b->msg.next = (ts_msg *)e->batch_cache;
        e->batch_cache = b;
        e->nbatch_cache++;
        return;
    }
    batch_release(b);
}

void ts_batch_cache_free(ts_engine *e)
{
    while (e->batch_cache) {
        ts_batch *b = e->batch_cache;
        e->batch_cache = (ts_batch *)b->msg.next;
        batch_release(b);
    }
    e->nbatch_cache = 0;
}

void ts_batch_mark_reply(ts_batch *b)
{
    if ((uint32_t)b->ncmds == b->reply_end_cap) {
        b->reply_end_cap = b->reply_end_cap ? b->reply_end_cap * 2 : 8;
        b->reply_end = ts_realloc(b->reply_end, sizeof(size_t) * b->reply_end_cap);
    }
    b->reply_end[b->ncmds++] = b->reply.len;
}

void ts_batch_append(ts_batch *b, const ts_command *cmd, int db, int resp, int argc, const ts_arg *argv)
{
    size_t need = sizeof(cmd) + 8;
    for (int i = 0; i < argc; i++) need += 8 + argv[i].len;
    ts_buf_reserve(&b->args, need);
    int32_t db32 = db | (resp << 16), argc32 = argc;
    ts_buf_append(&b->args, &cmd, sizeof(cmd));
    ts_buf_append(&b->args, &db32, 4);
    ts_buf_append(&b->args, &argc32, 4);
    for (int i = 0; i < argc; i++) {
        uint64_t len = argv[i].len;
        ts_buf_append(&b->args, &len, 8);
        ts_buf_append(&b->args, argv[i].ptr, argv[i].len);
    }
    b->ncmds++;
}

/* One command's header in the encoding. */
static const char *read_header(const char *p, const ts_command **cmd, int32_t *db, int32_t *argc)
{
    memcpy(cmd, p, sizeof(*cmd));
    p += sizeof(*cmd);
    memcpy(db, p, 4);
    p += 4;
    memcpy(argc, p, 4);
    return p + 4;
}

/* Walks the batch from `off` and issues one prefetch stage for the first
 * key of each command: the lookups of a batch then overlap their cache
 * misses instead of paying them one after another. */
static void batch_prefetch(ts_engine *e, const ts_batch *b, int from, size_t off, int stage)
{
    const char *p = b->args.data + off;
    for (int i = from; i < b->total; i++) {
        const ts_command *cmd;
        int32_t db, argc;
        p = read_header(p, &cmd, &db, &argc);
        for (int a = 0; a < argc; a++) {
            uint64_t len;
            memcpy(&len, p, 8);
            p += 8;
            if (a == cmd->first_key && cmd->first_key > 0 && !cmd->getkeys)
                ts_table_prefetch(&e->shard.dbs[db & 0xffff], p, (size_t)len, stage);
            p += len;
        }
    }
}

/* The escalated command's txn has its reply (on this engine, its
 * coordinator): it takes its place among the batch's replies and the batch
 * goes on. */
static void escalated_done(ts_txn *g)
{
    ts_batch *b = g->owner;
    ts_buf_append(&b->reply, g->reply_buf.data, g->reply_buf.len);
    ts_batch_mark_reply(b);
    b->escalated = false;
    ts_engine_submit(g->coord, &b->msg);
}

bool ts_batch_execute(ts_engine *e, ts_batch *b)
{
    ts_shard_assert_owner(&e->shard);
    if (b->total - b->exec_idx > 1) {
        batch_prefetch(e, b, b->exec_idx, b->exec_off, 0);
        batch_prefetch(e, b, b->exec_idx, b->exec_off, 1);
    }
    ts_arg argv_stack[16];
    ts_reply r;
    ts_reply_init(&r, &b->reply, 2);
    r.limit = b->reply_budget;
    if (b->exec_idx == 0) {
        b->ncmds = 0;
        e->stats.batches_served++;
    }
    if (TS_UNLIKELY(b->overflow)) {
        /* Sent when its client had no room left for replies: nothing runs. */
        while (b->ncmds < b->total) ts_batch_mark_reply(b);
        b->exec_idx = b->total;
        return true;
    }
    while (b->exec_idx < b->total) {
        const ts_command *cmd;
        int32_t db, argc;
        const char *p = read_header(b->args.data + b->exec_off, &cmd, &db, &argc);
        ts_arg *argv = argc <= 16 ? argv_stack : ts_malloc(sizeof(ts_arg) * (size_t)argc);
        for (int a = 0; a < argc; a++) {
            uint64_t len;
            memcpy(&len, p, 8);
            p += 8;
            argv[a].ptr = p;
            argv[a].len = (size_t)len;
            p += len;
        }
        /* The protocol (RESP2/3) travels in the high bits of db. */
        int dbnum = db & 0xffff;
        if (ts_run_locked_out(e, cmd, dbnum, argc, argv)) {
            if (argv != argv_stack) free(argv);
            return false;
        }
        r.resp = (uint8_t)(db >> 16);
        ts_cmd_ctx ctx;
        ts_run_ctx_init(&ctx, e, cmd, dbnum, argc, argv, &r);
        ctx.now_ms = b->now_ms;   /* the origin's clock, as for its local commands */
        ts_run_command(e, &ctx);
        if (TS_UNLIKELY(ctx.escalate)) {
            /* It did nothing here: it runs holding every shard, and its
             * reply comes from there (escalated_done). */
            ts_txn *g = ts_txn_new(e, escalated_done, b, 0, cmd, dbnum, r.resp, argc, argv, NULL, 0);
            g->accounted = true;   /* counted by the attempt */
            if (argv != argv_stack) free(argv);
            b->exec_idx++;
            b->exec_off = (size_t)(p - b->args.data);
            b->escalated = true;
            b->errors = r.errors;
            ts_txn_start(g);
            return true;
        }
        ts_batch_mark_reply(b);
        if (argv != argv_stack) free(argv);
        b->exec_idx++;
        b->exec_off = (size_t)(p - b->args.data);
        if (TS_UNLIKELY(b->reply_budget && b->reply.len >= b->reply_budget)) {
            /* The client goes over its output limit: it is disconnected
             * when the batch is back, and what it sent after this command
             * does not run (as Redis stops reading a client closing ASAP). */
            b->overflow = true;
            while (b->ncmds < b->total) ts_batch_mark_reply(b);
            b->exec_idx = b->total;
        }
    }
    b->errors = r.errors;
    /* `done` is not set here: the origin thread sets it when the batch is
     * back in its hands (TS_MSG_BATCH_DONE). Until then the origin must not
     * look at the batch at all. */
    return true;
}
