/*
 * channels.h - every channel between threads, declared in one place.
 *
 * Owns: the message header and the kinds of every message and job that
 * crosses threads, the small payloads that are nothing but a message, and
 * the rules each channel follows. The larger objects that travel as
 * messages (a batch, a txn part, a blocker) carry a ts_msg at their start
 * and are defined beside their protocol; this header names them.
 * Thread: a message is built by its sender and, once handed over, belongs
 * to its receiver until it is sent on again; nobody touches a message it
 * has posted (practice 10 of docs/style.md).
 *
 * The threads (docs/architecture.md, "Threads", has the full table):
 *   main         acceptor loop, signals, startup and shutdown (main.c)
 *   worker i     one libuv loop running engine i: shard i and its clients
 *   persistence  AOF group commit and fsync, RDB snapshot files (persist.c)
 *   lazy-free    frees big values off the workers (store/lazyfree.c)
 *   loader i     startup only: decodes RDB records into shard i
 *   aof-drain    startup only: reads the AOF replay connection's replies
 *
 * The channels:
 *
 *   1. A worker's inbox (route/engine.h): an intrusive MPSC queue plus an
 *      eventfd wake-up written only while the owner may sleep; every
 *      wake-up drains all that waits, in slices of at most 1000 messages or
 *      about 1 ms per drain (ts_engine_drain; the rest keeps the next poll
 *      from blocking and runs in the next loop iteration). Messages from one sender to one receiver arrive in
 *      the order sent (FIFO per pair); there is no order across senders. An
 *      engine's messages to itself go through a local FIFO run after the
 *      current callback. Kinds, sender -> receiver, payload:
 *        NEW_CONN        main (acceptor, AOF replay) -> worker   ts_msg_new_conn
 *        BATCH           origin worker -> shard owner             ts_batch (route/batch.h)
 *        BATCH_DONE      shard owner -> origin worker             ts_batch
 *        TXN_ACQUIRE     coordinator / previous part -> next shard, in ascending
 *                        shard order                              ts_txn_part (route/txn.h)
 *        TXN_STEP        coordinator -> every part's shard         ts_txn_part
 *        TXN_DONE        last part to finish -> coordinator       ts_txn (its done_msg)
 *        TXN_RELEASE     coordinator -> every part's shard         ts_txn_part
 *        MIGRATE_CONN    worker -> worker owning the client's keys ts_msg_migrate
 *        BLOCK_DONE      serving shard -> blocked client's worker  ts_blocker (route/blocking.h)
 *        BLOCK_UNREG     blocked client's worker -> key's shard     ts_msg_unblock
 *        WATCH_UNREG     watching client's worker -> key's shard    ts_msg_unwatch (route/watch.h)
 *        CALL            a script's coordinator -> a shard's owner, while the
 *                        coordinator holds every shard (route/engine.h
 *                        ts_engine_call): the caller waits for it   ts_msg_call
 *        SHUTDOWN        main (SIGTERM/SIGINT) -> worker 0        ts_msg_shutdown
 *        STOP            main -> every worker (exit, stage 1)     ts_msg
 *        FINAL           main -> every worker (exit, stage 2)     ts_msg
 *        AOF_SYNCED      persistence -> worker holding replies     the engine's own
 *                        aof_sync_msg (at most one in flight: aof_sync_posted)
 *        LOADED          main -> every worker (replay over)       ts_msg
 *      Logs: a message that orders logs (txn traffic) carries the sender's
 *      last AOF sequence number, and what the sender logged is handed to the
 *      persistence thread before it leaves (route/engine.c, persist/aof.h).
 *
 *   2. The persistence queue (persist/persist.c): a mutex + condition
 *      variable FIFO; any worker or main -> the persistence thread, taken a
 *      round at a time, in FIFO order (so every shard's snapshot bytes follow
 *      the header, and AOF sequence numbers are file order). Jobs:
 *      ts_persist_job_kind below. Back: a snapshot's end wakes
 *      ts_snapshot_wait (condition variable) or calls its done callback on
 *      the persistence thread; AOF durability reaches workers as AOF_SYNCED.
 *      Bounded for AOF bytes: past TS_AOF_QUEUE_MAX handed over and not yet
 *      written, a submitting worker waits on a second condition variable
 *      (room) that the persistence thread signals as it writes; not while
 *      writes are failing (MISCONF stops new ones instead).
 *
 *   3. The lazy-free queue (store/lazyfree.c): a mutex + condition variable
 *      FIFO; any worker -> the lazy-free thread. Jobs: ts_lazyfree_job_kind.
 *      Bounded (jobs and free effort): when full, the sender frees inline.
 *      Nothing comes back (INFO reads two atomic counters).
 *
 *   4. The loader queues (persist/rdb_shard_load.c, startup only): main ->
 *      loader i, a bounded FIFO of record batches (mutex + two condition
 *      variables: work and room); the first error travels back in an
 *      atomic.
 *
 *   5. The AOF replay connection (persist/aof_load.c, startup only): main
 *      writes the file's commands into one end of a socketpair whose other
 *      end is a client of worker 0 (NEW_CONN); the aof-drain thread reads
 *      the replies until the final ECHO token.
 *
 *   6. Shutdown (main.c, cmd/server.h hooks, cmd/shutdown.c): any thread ->
 *      main through a uv_async_t (a SHUTDOWN that may exit now, a worker
 *      that closed its clients or went idle); SIGTERM/SIGINT through
 *      libuv signal handles on the main loop, which hands them to worker 0
 *      as SHUTDOWN messages.
 *
 * Shared state that is not a channel (read by other threads, written by
 * one): the statistics atomics of engine.h (dirty), persist.h's status,
 * the server context's counters (cmd/server.h), the durable AOF sequence
 * number (persist/aof.h). Each is marked where it is declared. Also:
 *   - ACL snapshots (route/acl.h): immutable once built, shared by every
 *     engine; a change travels as an exclusive txn (TXN_ACQUIRE carries
 *     the new snapshot from the first shard to the others), so the txn
 *     messages give the happens-before; reference counts are atomic.
 *   - The ACL log (route/acl_log.c): any worker appends on a refusal and
 *     reads it for ACL LOG, under its own mutex.
 *   - The script cache and the function registry (script/eval.c,
 *     script/functions.c): any worker reads and changes them under their
 *     own mutexes; each thread compiles its own copies (a generation
 *     counter, atomic, tells it when to reload).
 *   - A busy script's state (route/engine.h script_state, script_dirty,
 *     script_kill; the router's scripts_busy counters): atomics written by
 *     the engine running the script (kill: by SCRIPT/FUNCTION KILL on any
 *     worker); FUNCTION STATS's copy of its name and command is under a
 *     mutex per engine (script/eval.c busy_infos).
 *   - A WATCH session's dirty flag (route/watch.h): set by any shard
 *     (release), read by the coordinator after a message from every shard
 *     concerned.
 */
#ifndef TESSERA_CHANNELS_H
#define TESSERA_CHANNELS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tessera/util/mpsc.h"

/* ---- 1. the worker inbox ---- */

typedef enum ts_msg_kind {
    TS_MSG_NEW_CONN = 1,
    TS_MSG_BATCH,
    TS_MSG_BATCH_DONE,
    TS_MSG_TXN_ACQUIRE,
    TS_MSG_TXN_STEP,
    TS_MSG_TXN_DONE,
    TS_MSG_TXN_RELEASE,
    TS_MSG_MIGRATE_CONN,
    TS_MSG_BLOCK_DONE,
    TS_MSG_BLOCK_UNREG,
    TS_MSG_WATCH_UNREG,
    TS_MSG_CALL,
    TS_MSG_SHUTDOWN,
    TS_MSG_STOP,
    TS_MSG_FINAL,
    TS_MSG_AOF_SYNCED,
    TS_MSG_LOADED,
} ts_msg_kind;

/* The header every inbox message starts with. */
typedef struct ts_msg {
    ts_mpsc_node node;      /* inbox link (any thread pushes) */
    struct ts_msg *next;    /* single-thread list link (an engine's local FIFO, parked work) */
    uint8_t kind;           /* ts_msg_kind */
    uint64_t aof_seq;       /* the sender's last AOF submission when it sent this */
} ts_msg;

/* NEW_CONN: an accepted (or replay) socket; the worker owns the fd. */
typedef struct ts_msg_new_conn {
    ts_msg msg;
    int fd;
    int is_unix;
    bool internal;          /* the server's own (the AOF replay): authenticated, never refused */
    bool has_peer;          /* peer holds the address accept() gave (a reset peer has no other) */
    struct sockaddr_storage peer;
} ts_msg_new_conn;

/* SHUTDOWN: SIGTERM or SIGINT arrived; worker 0 attempts the shutdown
 * with the flags shutdown-on-sigterm / shutdown-on-sigint give. */
typedef struct ts_msg_shutdown {
    ts_msg msg;
    int signum;
} ts_msg_shutdown;

/* CALL: run fn(engine, arg) on your thread, then set done and signal
 * (the sender waits on the condition variable: the one place a worker
 * blocks on another; route/engine.h ts_engine_call says why it cannot
 * deadlock). */
typedef struct ts_msg_call {
    ts_msg msg;
    void (*fn)(void *engine, void *arg);
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
} ts_msg_call;

/* BLOCK_UNREG: drop this blocker's registrations on your shard (the
 * message holds one of the blocker's references). */
typedef struct ts_msg_unblock {
    ts_msg msg;
    struct ts_blocker *b;
} ts_msg_unblock;

/* A client's identity and settings: what a connection keeps for its whole
 * life (net/conn.h embeds it) and takes along when it moves to another
 * worker. */
typedef struct ts_client_state {
    uint64_t id;
    bool is_unix;
    bool authenticated;             /* AUTH / HELLO AUTH passed, or the default user needed no password */
    char *user;                     /* owned; the ACL user (route/acl.h) it authenticated as; NULL: "default" */
    uint64_t user_serial;           /* that user's identity (a deleted and re-created user is another) */
    int db, resp;
    char *name;                     /* owned; NULL: no name */
    char addr[64], laddr[64];
    int64_t ctime_ms, last_interaction_ms;
    const char *last_cmd;           /* a command table name (static) */
    uint64_t net_in, net_out;
    bool no_evict;                  /* CLIENT NO-EVICT on: never evicted by maxmemory-clients */
} ts_client_state;

/* MIGRATE_CONN: a client moving to the worker that owns the keys it uses
 * (net/conn.c); the receiver owns the fd and the client's name. */
typedef struct ts_msg_migrate {
    ts_msg msg;
    int fd;
    ts_client_state client;
} ts_msg_migrate;

/* ---- 2. the persistence queue ---- */

typedef enum ts_persist_job_kind {
    TS_JOB_SNAP_HEADER,      /* snapshot starter -> the file's header (opens the temp file) */
    TS_JOB_SNAP_CHUNK,       /* a shard's worker -> a chunk of its serialized entries */
    TS_JOB_SNAP_SHARD_DONE,  /* a shard's worker -> it wrote everything; the last one finishes the file */
    TS_JOB_AOF,              /* a worker -> its logged commands, with their sequence number */
    TS_JOB_AOF_OFF,          /* CONFIG SET appendonly no: write what is queued, close the file */
    TS_JOB_BARRIER,          /* shutdown -> once every earlier job is done: write and fsync the AOF, report back */
    TS_JOB_STOP,             /* main at exit -> the thread ends after what is queued */
} ts_persist_job_kind;

/* ---- 3. the lazy-free queue ---- */

typedef enum ts_lazyfree_job_kind {
    TS_LAZYFREE_VALUE,       /* a worker -> a big value's object, already out of its table */
    TS_LAZYFREE_TABLES,      /* FLUSHALL/FLUSHDB ASYNC -> whole tables' entries */
    TS_LAZYFREE_STOP,        /* main at exit -> the thread ends after what is queued */
} ts_lazyfree_job_kind;

#endif
