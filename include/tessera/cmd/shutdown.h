/*
 * shutdown.h - starting and ending a shutdown attempt (cmd/shutdown.c;
 * docs/persistence.md, "Shutdown").
 *
 * Owns: the entry points the layers above need: worker 0 starts the
 * attempt SIGTERM / SIGINT ask for, and main lets a successful attempt
 * release its shards once no worker answers clients any more. SHUTDOWN
 * itself is a command of the table (ROUTE_ALL, always a txn).
 * Thread: as marked.
 */
#ifndef TESSERA_SHUTDOWN_H
#define TESSERA_SHUTDOWN_H

struct ts_engine;
struct ts_server;

/* Worker 0 (the SHUTDOWN message main posts on SIGTERM / SIGINT): attempts
 * the shutdown with the flags of shutdown-on-sigterm / shutdown-on-sigint
 * (this engine's copy), unless SHUTDOWN ABORT cancelled the request
 * before the attempt began. A failed attempt logs and keeps serving. */
void ts_shutdown_signal(struct ts_engine *e, int signum);

/* Main thread, exiting, once every worker closed its connections: the
 * successful attempt's txn releases every shard (what waited for them runs
 * with nobody left to answer). */
void ts_shutdown_release(struct ts_server *srv);

#endif
