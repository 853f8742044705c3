/*
 * msg.h - every message that crosses threads.
 *
 * Owns: the message kinds and the header every message starts with.
 * Thread: a message is built by its sender, pushed onto the receiver's
 * inbox (ts_worker_post), and from then on belongs to the receiver until it
 * is sent on again. Nobody touches a message it has posted.
 *
 * Why one header: the inbox is a single intrusive MPSC queue per worker,
 * and its drain loop switches on `kind` (practice 8 of STYLE.md: explicit
 * kinds, shutdown is a message too). The `next` link is for lists a single
 * thread keeps (a shard's deferred queue), so deferring never allocates.
 */
#ifndef TESSERA_MSG_H
#define TESSERA_MSG_H

#include <stdint.h>

#include "tessera/util/mpsc.h"

typedef enum ts_msg_kind {
    TS_MSG_NEW_CONN = 1,   /* acceptor -> worker: adopt this socket */
    TS_MSG_BATCH,          /* worker -> owner of a shard: run these single-shard commands */
    TS_MSG_BATCH_DONE,     /* owner -> origin worker: the replies are in the batch */
    TS_MSG_TXN_ACQUIRE,    /* -> shard: hold your keyspace for this multi-shard txn, run phase 0 */
    TS_MSG_TXN_STEP,       /* -> shard (held by the txn): run the current phase */
    TS_MSG_TXN_DONE,       /* -> coordinator: every shard finished the current phase */
    TS_MSG_TXN_RELEASE,    /* -> shard: the txn is over, serve others again */
    TS_MSG_MIGRATE_CONN,   /* worker -> worker: adopt this client (conn.c, connection migration) */
    TS_MSG_BLOCK_DONE,     /* shard -> origin: a blocked client was served (blocking.h) */
    TS_MSG_BLOCK_UNREG,    /* origin -> shard: drop a blocker's registrations */
    TS_MSG_SNAPSHOT_SHARD, /* main -> worker: write your whole shard into this snapshot now (ts_msg_snapshot) */
    TS_MSG_FINAL_SAVE,     /* main -> worker 0: shutdown: save every shard now (no client is left) */
    TS_MSG_STOP,           /* main -> worker: close every connection (shutdown, stage 1) */
    TS_MSG_FINAL,          /* main -> worker: every worker is idle; leave the loop (stage 2) */
    TS_MSG_AOF_SYNCED,     /* persistence thread -> worker: more of the AOF is durable (aof.h) */
    TS_MSG_LOADED,         /* main -> worker: startup replay is over; log to the AOF from now on */
} ts_msg_kind;

typedef struct ts_msg {
    ts_mpsc_node node;      /* inbox link (any thread pushes) */
    struct ts_msg *next;    /* single-thread list link (deferred queues) */
    uint8_t kind;
    uint64_t aof_seq;       /* the sender's last AOF submission when it sent this (aof.h) */
} ts_msg;

/* Acceptor -> worker: a freshly accepted socket. The worker owns the fd. */
typedef struct ts_msg_new_conn {
    ts_msg msg;
    int fd;
    int is_unix;
} ts_msg_new_conn;

/* Main -> worker: a snapshot to write the worker's shard into (shutdown). */
typedef struct ts_msg_snapshot {
    ts_msg msg;
    struct ts_snapshot *snap;
} ts_msg_snapshot;

#endif
