/*
 * server.h - the process context: what is process-wide rather than owned
 * by one worker.
 *
 * Owns: the startup configuration (the master copy; each engine keeps its
 * own copy for lock-free reads), the router to every engine, the few
 * counters every thread updates (as relaxed atomics), and the hooks
 * through which lower layers reach the main thread.
 * Thread: fields set before the workers start are read-only afterwards;
 * the atomics may be touched by any thread; the hooks may be called from
 * any thread.
 *
 * Why hooks: the exit is run by the main thread's loop (main.c), which no
 * library code may call directly (docs/architecture.md, "Layers"); main
 * registers what a successful shutdown or a stopping worker must trigger.
 */
#ifndef TESSERA_SERVER_H
#define TESSERA_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tessera/config/config.h"
#include "tessera/route/engine.h"

struct ts_server;
struct ts_txn;

/* Registered by main before any worker starts; any thread may call them. */
typedef struct ts_server_hooks {
    /* A shutdown succeeded (cmd/shutdown.c): its final save, if any, is on
     * disk and its txn holds every shard; stop serving and exit. */
    void (*shutdown_exit)(struct ts_server *srv);
    /* Something the exit waits for happened (a worker closed its clients,
     * a worker went idle): the main thread looks again. */
    void (*shutdown_progress)(struct ts_server *srv);
} ts_server_hooks;

/* srv->sig_shutdown: a shutdown SIGTERM/SIGINT asked for (Redis's
 * shutdown_asap). */
enum { TS_SIG_SHUTDOWN_NONE, TS_SIG_SHUTDOWN_REQUESTED, TS_SIG_SHUTDOWN_RUNNING };

typedef struct ts_server {
    ts_config config;                /* master copy (main thread) */
    unsigned nworkers;
    ts_router router;                /* every worker's engine (route/engine.h) */
    struct ts_persist *persist;      /* the persistence controller (persist/persist.h) */
    struct ts_acl_log *acl_log;      /* ACL LOG (route/acl.h): any worker, its own lock */
    ts_server_hooks hooks;
    char run_id[41];
    int64_t start_time_ms;
    const char *config_file;         /* absolute path or NULL */
    const char *executable;
    int reserved_fds;                /* descriptors kept besides one per client (net/acceptor.h): set at startup */
    atomic_long connected_clients;
    atomic_ullong total_connections;
    atomic_ullong rejected_connections;
    atomic_llong clients_memory;     /* every connection's buffers (net/conn.c), for maxmemory-clients */
    atomic_ullong evicted_clients;
    atomic_ullong next_client_id;
    atomic_int maxclients;           /* CONFIG SET maxclients updates it for the acceptor */
    bool loading;                    /* set by main before the workers start: the AOF is replayed first */
    /* Shutdown (cmd/shutdown.c, main.c). */
    atomic_int sig_shutdown;         /* TS_SIG_SHUTDOWN_*: main requests, the attempt runs or SHUTDOWN ABORT cancels */
    atomic_bool exiting;             /* a shutdown succeeded: the process is on its way out */
    struct ts_txn *_Atomic shutdown_hold;   /* that shutdown's txn, holding every shard until released */
    atomic_int stopped_workers;      /* workers that closed every connection (exit, stage 1) */
    atomic_int idle_workers;         /* ... and whose connections' work in flight all came back */
} ts_server;

/* Worker thread, exiting: this worker closed every connection; no reply
 * leaves it any more. */
static inline void ts_server_worker_stopped(ts_server *srv)
{
    atomic_fetch_add(&srv->stopped_workers, 1);
    srv->hooks.shutdown_progress(srv);
}
/* Worker thread, exiting: this worker has no connection left. */
static inline void ts_server_worker_idle(ts_server *srv)
{
    atomic_fetch_add(&srv->idle_workers, 1);
    srv->hooks.shutdown_progress(srv);
}

#endif
