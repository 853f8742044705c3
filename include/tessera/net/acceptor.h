/*
 * acceptor.h - the listening sockets and the hand-off of accepted
 * connections to workers.
 *
 * Owns: the listening sockets (TCP v4/v6 per `bind`, optional unix socket)
 * and their uv_poll_t handles on the main loop; the round-robin cursor.
 * Thread: the main thread only. Accepted fds are handed to a worker as a
 * TS_MSG_NEW_CONN message (the worker opens them in its own loop), the
 * model of memcached's dispatch_conn_new.
 */
#ifndef TESSERA_ACCEPTOR_H
#define TESSERA_ACCEPTOR_H

#include <uv.h>

#include "tessera/cmd/server.h"

typedef struct ts_acceptor ts_acceptor;

/* Opens every listener on loop (the main thread's). On failure logs
 * Redis's messages and returns NULL. */
ts_acceptor *ts_acceptor_start(ts_server *srv, uv_loop_t *loop);
/* Stops listening (shutdown); the unix socket file is removed. */
void ts_acceptor_stop(ts_acceptor *a);
/* After the main loop has run the close callbacks. */
void ts_acceptor_free(ts_acceptor *a);
/* The file descriptors the server keeps for itself with nworkers workers,
 * besides one per client: what maxclients is reconciled with the open-file
 * limit against (util/fdlimit.h). Any thread (a pure function). */
int ts_acceptor_reserved_fds(unsigned nworkers);

#endif
