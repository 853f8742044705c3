/*
 * aof_load.h - startup with appendonly yes: read the AOF (its RDB
 * preamble on the main thread, its commands through the real command
 * path), or make its first version from the RDB file.
 *
 * Owns: the order of startup steps for the AOF and their log messages
 * (Redis's wording), truncating a torn tail, and the replay connection.
 */
#ifndef TESSERA_AOF_LOAD_H
#define TESSERA_AOF_LOAD_H

#include <stddef.h>
#include <stdint.h>

struct ts_server;

typedef struct ts_aof_startup {
    unsigned char *map;    /* the file, mmap()ed (NULL: nothing to replay) */
    size_t map_len;
    size_t cmds_off;       /* first command byte (after an RDB preamble) */
    size_t cmds_end;       /* end of the last complete command */
    int64_t t0_us;
} ts_aof_startup;

/* Main thread, before the workers start: validates the AOF (truncating a
 * torn tail when aof-load-truncated allows it), loads its RDB preamble, or
 * creates the file from the RDB file when there is no AOF yet; opens the
 * file for appending. Sets srv->loading when commands are to be replayed.
 * 0, or -1 after logging why startup must stop. */
int ts_aof_startup_prepare(struct ts_server *srv, ts_aof_startup *st);
/* Main thread, workers running, before the acceptor: replays the commands
 * through a connection to worker 0, then tells every worker loading is
 * over. 0, or -1 after logging. */
int ts_aof_startup_replay(struct ts_server *srv, ts_aof_startup *st);

#endif
