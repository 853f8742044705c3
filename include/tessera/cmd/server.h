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
 * Why hooks: shutdown is run by the main thread's loop (main.c), which no
 * library code may call directly (docs/architecture.md, "Layers"); main
 * registers what a SHUTDOWN command or an idle worker must trigger.
 */
#ifndef TESSERA_SERVER_H
#define TESSERA_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tessera/config/config.h"
#include "tessera/route/engine.h"

struct ts_server;

/* Shutdown modes. */
enum { TS_SHUTDOWN_DEFAULT = 1, TS_SHUTDOWN_SAVE = 2, TS_SHUTDOWN_NOSAVE = 3 };

/* Registered by main before any worker starts; any thread may call them. */
typedef struct ts_server_hooks {
    /* Begin shutting down (SHUTDOWN), mode TS_SHUTDOWN_*. */
    void (*request_shutdown)(struct ts_server *srv, int mode);
    /* Something shutdown waits for happened (a worker closed its last
     * connection, the final save ended): the main thread looks again. */
    void (*shutdown_progress)(struct ts_server *srv);
} ts_server_hooks;

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
    atomic_ullong next_client_id;
    atomic_int maxclients;           /* CONFIG SET maxclients updates it for the acceptor */
    atomic_int shutdown_requested;   /* TS_SHUTDOWN_* once requested */
    atomic_int idle_workers;         /* workers that closed all their connections (shutdown) */
    atomic_int save_rules_present;   /* worker 0 keeps it current (its copy of `save`): shutdown saves then */
    bool loading;                    /* set by main before the workers start: the AOF is replayed first */
    atomic_int final_save;           /* shutdown save: 0 none, 1 running, 2 done, 3 failed */
} ts_server;

/* Any thread: ask the main thread to shut down (SHUTDOWN command). */
static inline void ts_server_request_shutdown(ts_server *srv, int mode) { srv->hooks.request_shutdown(srv, mode); }
/* Worker thread, during shutdown: this worker has no connection left. */
static inline void ts_server_worker_idle(ts_server *srv)
{
    atomic_fetch_add(&srv->idle_workers, 1);
    srv->hooks.shutdown_progress(srv);
}

#endif
