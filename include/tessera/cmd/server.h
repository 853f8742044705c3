/*
 * server.h - process-wide state that is not owned by any one worker.
 *
 * Owns: the worker array, the startup configuration (the master copy; each
 * worker keeps its own copy for lock-free reads), and the few counters
 * every thread updates (as relaxed atomics).
 * Thread: fields set before the workers start are read-only afterwards;
 * the atomics may be touched by any thread.
 */
#ifndef TESSERA_SERVER_H
#define TESSERA_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "tessera/config/config.h"


struct ts_worker;

typedef struct ts_server {
    ts_config config;                /* master copy (main thread) */
    unsigned nworkers;
    struct ts_worker **workers;
    uv_loop_t *main_loop;
    char run_id[41];
    int64_t start_time_ms;
    const char *config_file;         /* absolute path or NULL */
    const char *executable;
    atomic_long connected_clients;
    atomic_ullong total_connections;
    atomic_ullong rejected_connections;
    atomic_ullong next_client_id;
    atomic_int maxclients;           /* CONFIG SET maxclients updates it for the acceptor */
    atomic_int shutdown_requested;   /* 1 = nosave, 2 = save */
    uv_async_t shutdown_async;       /* any thread -> main loop: begin or advance shutdown */
    atomic_int idle_workers;         /* workers that closed all their connections (shutdown) */
    atomic_ullong total_net_input, total_net_output;
    atomic_int save_rules_present;   /* worker 0 keeps it current (its copy of `save`): shutdown saves then */
    bool loading;                    /* set by main before the workers start: the AOF is replayed first */
    atomic_int final_save;           /* shutdown save: 0 none, 1 running, 2 done, 3 failed */
} ts_server;

/* Shutdown modes. */
enum { TS_SHUTDOWN_DEFAULT = 1, TS_SHUTDOWN_SAVE = 2, TS_SHUTDOWN_NOSAVE = 3 };
/* Any thread: ask the main loop to shut down (SHUTDOWN command, signals). */
void ts_server_request_shutdown(ts_server *srv, int mode);
/* Worker thread, during shutdown: this worker has no connection left. */
void ts_server_worker_idle(ts_server *srv);

#endif
