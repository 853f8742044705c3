/*
 * fdlimit.h - the process's open-file limit (RLIMIT_NOFILE) against
 * maxclients, as Redis's adjustOpenFilesLimit (server.c) does it.
 *
 * Owns: nothing but the calls to getrlimit/setrlimit; the limit is the
 * process's.
 * Thread: the main thread at startup (before the workers exist), then the
 * worker running CONFIG SET maxclients (the first part of its exclusive
 * txn, so never two at once).
 *
 * Every client is one socket, so a server that accepts maxclients clients
 * needs maxclients plus the descriptors it keeps for itself (`reserved`:
 * listeners, log, persistence files, its loops' epoll/eventfd/pipes; the
 * caller counts them). When the soft limit is lower it is raised; when the
 * OS refuses, the highest limit it accepts is kept and maxclients shrinks
 * to fit, with Redis's log lines. Unlike Redis (which lowers the hard limit
 * to what it settles on, searching down 16 at a time), the hard limit is
 * left as it is and the search is a bisection.
 */
#ifndef TESSERA_FDLIMIT_H
#define TESSERA_FDLIMIT_H

#include <stdbool.h>

/* Raises the soft limit to maxclients + reserved if it is lower, as far as
 * the OS lets it, and returns the maxclients the limit now allows
 * (maxclients itself when it fits), logging Redis's warnings when it does
 * not. Returns 0 when the limit does not even cover `reserved`: at startup
 * (`startup`) Redis's "not enough for the server to start" line is logged
 * and the caller exits. */
int ts_fdlimit_fit(int maxclients, int reserved, bool startup);

#endif
