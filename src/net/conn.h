/*
 * conn.h - a client connection: socket, query buffer, parser, reply
 * ordering, and dispatch of its commands to shards.
 *
 * Owns: the socket handle, the query and output buffers, the queue of
 * replies not yet sendable (slots), per-client state (db, protocol, name).
 * Thread: the worker the acceptor handed it to, only. Messages from other
 * shards carry a pointer to the connection but only its own worker
 * dereferences it (when the reply comes back).
 *
 * Why: replies must leave in request order, while commands of one pipeline
 * may run on several shards at once. Each command gets a reply slot; local
 * commands fill theirs at once, remote ones when their batch returns; the
 * output takes slots from the head while they are filled.
 */
#ifndef TESSERA_CONN_H
#define TESSERA_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "tessera/cmd/cmd.h"
#include "tessera/cmd/transaction.h"
#include "tessera/proto/resp_parse.h"
#include "tessera/route/batch.h"
#include "tessera/util/channels.h"
#include "tessera/util/buf.h"

struct ts_worker;
struct ts_txn;

#define TS_GROUP_MAX 32   /* most pipelined multi-shard commands run as one txn group */

enum ts_conn_wait {
    TS_WAIT_NONE = 0,
    TS_WAIT_INFLIGHT,   /* a barrier command waits for everything in flight */
    TS_WAIT_SHARD,      /* the local shard is held by a multi-shard txn */
    TS_WAIT_TXN,        /* our own multi-shard txn is running */
    TS_WAIT_BLOCKED,    /* a blocking command waits for its keys (blocking.h) */
};

/* Between MULTI and EXEC/DISCARD (conn_multi.c). */
typedef struct ts_conn_multi {
    ts_tx_queue queue;
    bool dirty_exec;                     /* a command was refused while queueing: EXEC aborts */
} ts_conn_multi;

typedef struct ts_conn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    struct ts_worker *w;
    struct ts_conn *prev, *next;        /* worker's connection list */
    struct ts_conn *ready_next;         /* worker's ready list */
    struct ts_conn *waiter_next;        /* shard waiters list */
    ts_buf query;
    size_t qpos;
    ts_parser parser;
    ts_buf out;                          /* replies ready to send */
    ts_buf writing;                      /* buffer owned by the write in progress */
    uv_write_t wreq;
    bool write_in_flight;
    /* appendfsync always (aof.h): the AOF sequence number this
     * connection's output waits for, and its link in the worker's list of
     * connections holding output until the fsync. */
    uint64_t aof_need;
    bool aof_held;
    bool aof_wait_flush;                 /* needs the worker's next submission too */
    bool aof_produced;                   /* this pass ran a command here (conn.c aof_note_replies) */
    struct ts_conn *aof_next;
    /* Reply slots: ring of batch pointers, one per command not yet replied. */
    ts_batch **slots;
    uint32_t slot_head, slot_count, slot_cap;
    ts_batch *local_batch;               /* pseudo-batch for local replies queued behind remote ones */
    int inflight;                        /* remote batches + txns not yet returned */
    size_t inflight_args;                /* bytes of the commands in those batches: they count
                                          * against client-query-buffer-limit (on_read) */
    struct ts_txn *pending[TS_GROUP_MAX];  /* consecutive multi-shard commands of this pass, */
    int npending;                          /* started together as one txn group */
    uint8_t wait;                        /* enum ts_conn_wait */
    struct ts_blocker *blocker;          /* the blocking command in progress, or NULL */
    ts_conn_multi *multi;                /* in MULTI, or NULL */
    struct ts_watch *watch;              /* the WATCH session (route/watch.h), or NULL */
    bool in_ready;
    bool in_waiters;
    bool closing;                        /* handle close started */
    bool close_after_reply;              /* QUIT / protocol error / CLIENT KILL */
    bool reading;
    bool paused;                         /* reading stopped: too much in flight (backpressure) */
    bool migrating;                      /* handed to another worker; this copy just closes */
    bool internal;                       /* the server's own (AOF replay): never refused by auth or ACL */
    /* Output limits (client-output-buffer-limit): reply bytes waiting in
     * slots (not yet in `out`), when the soft limit was first reached
     * (seconds, 0: not reached), and whether the client is over a limit:
     * nothing more runs for it and it closes at the next flush (Redis's
     * CLIENT_CLOSE_ASAP). */
    size_t slot_bytes;
    size_t budget_promised;              /* reply budgets of the batches in flight */
    int64_t obuf_soft_since_s;
    bool close_asap;
    size_t mem_counted;                  /* what it adds to srv->clients_memory (maxmemory-clients) */
    /* The ACL user of client.user, resolved in the engine's snapshot of
     * generation acl_gen (route/acl.h); valid while that is still the
     * engine's generation (ts__conn_acl_user). */
    const struct ts_acl_user *acl_user;
    uint64_t acl_gen;
    bool acl_unrestricted;
    /* Connection migration: consecutive single-shard commands that went to
     * the same other shard. */
    unsigned streak_target;
    uint32_t streak;
    ts_client_state client;             /* identity and settings (util/channels.h): moves with the client */
} ts_conn;


/* Worker thread: adopt a client another worker handed over. */
void ts_conn_adopt_migrated(struct ts_worker *w, ts_msg_migrate *m);
/* Frees an undelivered migration (shutdown). */
void ts_msg_migrate_drop(ts_msg_migrate *m);

/* Worker thread: adopt an accepted socket. */
void ts_conn_adopt(struct ts_worker *w, const ts_msg_new_conn *m);
/* Worker thread: continue processing buffered commands (after a wait ended). */
void ts_conn_process(ts_conn *c);
/* Worker thread: a remote batch came back. */
void ts_conn_on_batch_done(ts_batch *b);
/* Worker thread: a multi-shard txn this connection started has its reply
 * (the txn's on_done; t->owner is the connection). */
void ts_conn_on_txn_done(struct ts_txn *t);
/* Worker thread: a blocked client was served (BLOCK_DONE). */
void ts_conn_on_block_done(struct ts_blocker *b);
/* The persistence thread made more of the AOF durable: held output goes. */
void ts_conn_aof_release(struct ts_worker *w);
/* The worker handed its log over as `seq`: connections waiting for that
 * submission now wait for seq. */
void ts_conn_aof_submitted(struct ts_worker *w, uint64_t seq);
/* Worker thread: ends the blocked commands whose timeout passed; returns
 * the earliest deadline still pending (0 = none). */
int64_t ts_conn_expire_blocked(struct ts_worker *w, int64_t now_ms);
/* Worker thread, once a second: closes the connection when idle past
 * `timeout` or over its output limits. */
void ts_conn_cron(ts_conn *c, int64_t now_ms);
/* Worker thread: server shutdown: send what is ready, then close. */
void ts_conn_shutdown(ts_conn *c);
/* Worker thread: begin closing (replies already queued are dropped). */
void ts_conn_close(ts_conn *c);
/* Bytes the connection holds (buffers and replies waiting): CLIENT LIST's
 * tot-mem, what maxmemory-clients counts. */
size_t ts_conn_memory(const ts_conn *c);
/* Worker thread: brings srv->clients_memory up to date for c; evicts
 * clients while over maxmemory-clients when evict (biggest first). */
void ts_conn_account_memory(ts_conn *c, bool evict);
/* Worker thread, each cron tick: evicts this worker's clients while all
 * clients together are over maxmemory-clients. */
void ts_conn_evict_clients(struct ts_worker *w);
/* Formats the CLIENT LIST / CLIENT INFO line of a connection. */
void ts_conn_describe(ts_conn *c, ts_buf *out, int64_t now_ms);

/* ---- net-internal: shared by conn.c, conn_blocked.c, migrate.c ---- */

/* The connection's ACL user in its engine's current snapshot, or NULL when
 * that user no longer exists (deleted, or re-created as another user): the
 * caller closes the connection. */
const struct ts_acl_user *ts__conn_acl_user(ts_conn *c);
/* Adds an ACL LOG entry for this connection (route/acl.h reasons). */
void ts__conn_acl_log(ts_conn *c, int reason, ts_arg object, ts_arg username);
/* The same for a call a script of the connection ran (context lua). */
void ts__conn_script_acl_log(ts_conn *c, int reason, ts_arg object);
/* Sets the user the connection is authenticated as (AUTH, HELLO AUTH). */
void ts__conn_set_user(ts_conn *c, const struct ts_acl_user *u);
/* Where a reply produced now on the connection's worker goes: straight to
 * the output when nothing is queued ahead of it, else into the local
 * pseudo-batch behind the queued slots. Call ts__conn_reply_end after. */
ts_buf *ts__conn_reply_begin(ts_conn *c);
void ts__conn_reply_end(ts_conn *c, ts_buf *target);
/* Moves filled reply slots to the output and writes what may leave. */
void ts__conn_flush(ts_conn *c);
/* Frees a closing connection once nothing refers to it any more. */
void ts__conn_maybe_free(ts_conn *c);
/* The client connects from 127.0.0.1, ::1 or a unix socket (Redis's
 * islocalClient: protected mode, the `local` setting of the enable-*
 * options). */
bool ts__conn_is_local(const ts_conn *c);
/* appendfsync always: output waits for fsyncs. */
bool ts__conn_aof_gated(const struct ts_worker *w);
/* A connection object for a socket (NULL: fd closed, libuv refused it),
 * peer its address when accept() gave it (else getpeername is asked);
 * ts__conn_start_reading then reads from it. */
ts_conn *ts__conn_open(struct ts_worker *w, int fd, bool is_unix, const struct sockaddr_storage *peer);
void ts__conn_start_reading(ts_conn *c);
/* A blocking command's attempt as a txn over its keys (multi_borrow.c runs
 * it on the origin and registers the blocker in the txn's last phase). */
void ts__conn_start_blocking_txn(ts_conn *c, const ts_command *cmd, int argc, ts_arg *argv, const int *pos,
                                 int nkeys);
/* conn_blocked.c: the attempt found nothing: the connection waits; the
 * client goes away; the attempt's txn came back (true: handled here). */
void ts__conn_park_blocked(ts_conn *c);
void ts__conn_cancel_blocked(ts_conn *c);
bool ts__conn_blocking_txn_done(ts_conn *c, struct ts_txn *t);
/* conn_multi.c: the MULTI state. end: leaves it (EXEC, DISCARD, close);
 * flag: a command was refused while queueing (Redis's flagTransaction);
 * queue: a command queued, +QUEUED replied; check_acl: marks the queued
 * commands the ACL no longer allows (EXEC); client: who runs the EXEC;
 * bind: MULTI, DISCARD, EXEC's implementations (main thread, at start). */
void ts__conn_multi_end(ts_conn *c);
void ts__conn_multi_flag(ts_conn *c);
void ts__conn_multi_queue(ts_conn *c, const ts_command *cmd, int argc, const ts_arg *argv);
void ts__conn_multi_check_acl(ts_conn *c);
void ts__conn_multi_client(ts_conn *c, ts_tx_client *who);
void ts__conn_multi_bind(void);
/* WATCH with every key local (dispatch_watch decides; also identifies the
 * command there). */
void ts__conn_watch_run(ts_cmd_ctx *x);
/* Ends the WATCH session, if any (UNWATCH, DISCARD, EXECABORT, close). */
void ts__conn_unwatch(ts_conn *c);
/* migrate.c: moves the client to the worker its commands keep going to,
 * when it has built a streak and nothing of it is in flight. */
void ts__conn_maybe_migrate(ts_conn *c);

#endif
