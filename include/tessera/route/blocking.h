/*
 * blocking.h - clients blocked on keys (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH,
 * BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP).
 *
 * Owns: the blocker, the one object shared by the client's worker (the
 * origin) and the shards whose keys it waits on; the service of blocked
 * clients when their keys are signalled. Each shard's registry of waiters
 * per key is store/blocked_keys.h.
 *
 * Life of a blocking command:
 *   1. Attempt. The origin runs the command once, atomically over all its
 *      keys: inline when they are all on its own shard, else as a
 *      multi-shard txn (multi_borrow.c) whose scratch run happens on the
 *      origin. A command that finds nothing calls ts_cmd_block: no reply,
 *      and the blocker is registered on every key while the keys are still
 *      locked (inline: same thread; txn: in its last phase), so a push can
 *      never fall between the look and the registration.
 *   2. Wait. The origin keeps the connection parked (no later command of
 *      the pipeline runs) and arms its timeout.
 *   3. Serve. A write that adds elements calls ts_db_signal_ready; after the
 *      command (the runner, run.h), the shard walks that key's blockers
 *      first-come first-served
 *      and, while the key can serve, claims one (an atomic state change:
 *      exactly one of serve / timeout / disconnect wins) and runs the
 *      command (through the runner) on that key alone, on the spot, writing the reply into the
 *      blocker, then sends it to the origin. A BLMOVE whose destination is
 *      on another shard cannot finish on the spot: it is claimed and handed
 *      back to the origin, which runs the command again from step 1.
 *   4. End. Served, timed out or disconnected, the origin sends UNREGISTER
 *      to the shards of the keys so stale registrations disappear.
 * Refcount: the origin's reference, one per registration, one per
 * UNREGISTER message in flight; the last one frees the blocker (any
 * thread: it is plain memory).
 */
#ifndef TESSERA_BLOCKING_H
#define TESSERA_BLOCKING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tessera/route/command.h"
#include "tessera/util/channels.h"
#include "tessera/util/buf.h"

struct ts_engine;
struct ts_conn;
struct ts_shard;

enum { TS_BLOCK_WAITING, TS_BLOCK_SERVED, TS_BLOCK_ENDED };

typedef struct ts_blocker {
    ts_msg msg;                 /* BLOCK_DONE to the origin */
    atomic_int state;           /* TS_BLOCK_*: the claim */
    atomic_int refs;
    struct ts_engine *origin;
    struct ts_conn *conn;       /* origin side only (net/conn.h) */
    const ts_command *cmd;
    int db;
    int resp;
    int argc;
    ts_arg *argv;               /* copies owned by the blocker */
    char **own_args;            /* replacements set by ts_blocker_set_arg */
    int n_own_args;
    /* Set by the attempt (on the origin). */
    bool blocked;               /* found nothing: registered, no reply yet */
    int64_t deadline_ms;        /* 0 = wait forever */
    /* Origin side. */
    bool served;                /* BLOCK_DONE arrived */
    struct ts_blocker *next_waiting, *prev_waiting;  /* origin worker's parked blockers */
    /* Written by the serving shard, read by the origin after BLOCK_DONE. */
    bool retry;                 /* run the command again instead of replying */
    ts_buf reply;
} ts_blocker;

/* Origin. A blocker for this call (copies argv); the origin holds one ref. */
ts_blocker *ts_blocker_new(struct ts_engine *origin, struct ts_conn *conn, const ts_command *cmd, int db,
                           int resp, int argc, const ts_arg *argv);
void ts_blocker_unref(ts_blocker *b);
/* Origin: the blocker is over (served, timed out, disconnected): tells the
 * shards of its keys to drop their registrations, drops the origin's ref. */
void ts_blocker_finish(ts_blocker *b);
/* Origin: the reply a timed-out command gets. */
void ts_blocker_reply_timeout(const ts_blocker *b, ts_reply *r);

/* In a blocking command's attempt: replaces the blocker's saved argument
 * pos with a copy of p (XREAD's '$' becomes the concrete last id, so a
 * later serve compares with the id seen at the attempt). Origin only,
 * before the blocker is registered. */
void ts_blocker_set_arg(ts_blocker *b, int pos, const char *p, size_t len);
/* Called by a blocking command's run when no key can serve it now. In a
 * client's attempt (c->blocker set): records the deadline and marks the
 * call blocked; nothing is replied. Elsewhere (MULTI later, serve mode):
 * replies what a timeout replies. timeout_ms 0 = forever. */
void ts_cmd_block(ts_cmd_ctx *c, int64_t timeout_ms);
/* In a blocking command's run: true when key (argument position pos) may
 * be tried now (serve mode considers only the key being served). */
bool ts_cmd_key_wanted(const ts_cmd_ctx *c, int pos);

/* Shard side (the owner thread). Registers b on its keys of this shard. */
void ts_blocking_register(struct ts_shard *s, ts_blocker *b);
/* Drops b's registrations on this shard (UNREGISTER). */
void ts_blocking_unregister(struct ts_shard *s, ts_blocker *b);
/* Serves blocked clients of the keys signalled ready, as far as they can
 * be served now (keys locked by a txn wait for its release). The runner
 * calls it after every command (run.h). */
void ts_blocking_serve(struct ts_engine *e);



#endif
