/*
 * batch.h - a batch: consecutive single-shard commands of one connection
 * that travel together to the engine owning their shard, and their
 * replies, which travel back in the same object.
 *
 * Owns: the batch object, its encoding of the commands, the owner-side
 * execution (through the runner, run.h), and the origin engine's cache of
 * freed batches.
 * Thread: a batch is built by its origin (the connection's worker), posted
 * to the owner of its shard as TS_MSG_BATCH, executed there, and posted
 * back as TS_MSG_BATCH_DONE; between the two posts only the owner touches
 * it (util/channels.h). The origin allocates and frees it.
 *
 * Encoding (the `args` buffer), per command:
 *   [const ts_command *][int32 db | resp << 16][int32 argc] then argc x ([uint64 len][bytes]).
 * The replies are appended to `reply`, and reply_end[i] is where reply i
 * ends, so the origin hands each reply to its slot in request order.
 *
 * Why batches: Dragonfly's lesson (it calls it squashing): a pipeline's
 * commands for one remote shard cost one hop per pass, not one per
 * command, or pipelining stops paying off.
 */
#ifndef TESSERA_BATCH_H
#define TESSERA_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "tessera/route/command.h"
#include "tessera/util/channels.h"
#include "tessera/util/buf.h"

struct ts_engine;
struct ts_conn;

typedef struct ts_batch {
    ts_msg msg;
    struct ts_conn *conn;        /* origin side only (net/conn.h) */
    struct ts_engine *origin;
    unsigned target;
    int ncmds;                   /* commands with a reply so far */
    int total;                   /* commands in the batch */
    int exec_idx;                /* owner side: next command to run (parked batches resume) */
    size_t exec_off;             /* owner side: its offset in args */
    int consumed;                /* replies already moved to the connection */
    bool done;                   /* origin side: replies are back (set on BATCH_DONE) */
    bool is_local;               /* the connection's own pseudo-batch (replies made at the origin) */
    int64_t now_ms;
    ts_buf args;                 /* the encoded commands */
    ts_buf reply;
    size_t *reply_end;           /* end offset in `reply` of each command's reply */
    uint32_t reply_end_cap;
    /* The client's room for replies when the batch was sent (0: no
     * limit): once the replies reach it the rest of the batch is not run,
     * and `overflow` tells the origin to disconnect the client
     * (net/conn.c). Sent with `overflow` already set (no room at all),
     * none of it runs. */
    size_t reply_budget;
    bool overflow;
    uint32_t errors;
    /* Owner side: a command of the batch could not run on this shard (a
     * script that reached another shard's key) and runs as a txn holding
     * every shard, with this engine as its coordinator; the batch goes on
     * after it (ts_batch_execute says so with `escalated`). */
    bool escalated;
} ts_batch;

/* Origin: a batch for commands of conn bound for shard target (a warm one
 * from the engine's cache when there is one). A local pseudo-batch only
 * collects replies made at the origin. */
ts_batch *ts_batch_new(struct ts_engine *origin, struct ts_conn *conn, unsigned target, bool is_local);
/* Origin: back to the engine's cache, or freed. */
void ts_batch_free(ts_batch *b);
/* Origin: appends one command (its arguments are copied). */
void ts_batch_append(ts_batch *b, const ts_command *cmd, int db, int resp, int argc, const ts_arg *argv);
/* Marks the end of the reply just written into b->reply. */
void ts_batch_mark_reply(ts_batch *b);
/* Owner: runs the batch from where it stopped last time. False when it
 * stopped at a command whose keys a multi-shard txn holds (the caller
 * parks it; what ran stays done). True with b->escalated set: it stopped
 * at a command that now runs as a txn over every shard; that txn's end
 * resubmits the batch (ts_engine_submit), which goes on from there. */
bool ts_batch_execute(struct ts_engine *e, ts_batch *b);
/* Frees the engine's cache of batches (engine teardown). */
void ts_batch_cache_free(struct ts_engine *e);

#endif
