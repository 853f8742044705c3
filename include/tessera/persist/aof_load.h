/*
 * aof_load.h - startup with appendonly yes: read the AOF (its RDB
 * preamble on the main thread, its commands through the real command
 * path), or make its first version from the RDB file.
 *
 * Owns: the order of startup steps for the AOF and their log messages
 * (Redis's wording), truncating a torn tail, and the replay connection's
 * feeding and draining (a feeder on the main thread, a drain thread).
 */
#ifndef TESSERA_AOF_LOAD_H
#define TESSERA_AOF_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

#include "tessera/config/config.h"
#include "tessera/route/engine.h"
#include "tessera/util/common.h"

/* What startup needs from the layers above (main.c fills it in). */
typedef struct ts_aof_load_env {
    const ts_config *config;
    struct ts_persist *persist;         /* opens the AOF for appending */
    ts_router *router;                  /* the shards a preamble loads into */
    /* True when the command table knows the name (cmd/cmd.h). */
    bool (*known_command)(ts_arg name);
    /* Hands one end of the replay socketpair to a worker as a client
     * connection (net/: it counts as a connected client until it closes). */
    void (*open_replay_connection)(int fd, void *arg);
    void *arg;
} ts_aof_load_env;

typedef struct ts_aof_startup {
    unsigned char *map;    /* the file, mmap()ed (NULL: nothing to replay) */
    size_t map_len;
    size_t cmds_off;       /* first command byte (after an RDB preamble) */
    size_t cmds_end;       /* end of the last complete command */
    bool replay;           /* commands are to be replayed: the workers start loading */
    int64_t t0_us;
} ts_aof_startup;

/* Main thread, before the workers start: validates the AOF (truncating a
 * torn tail when aof-load-truncated allows it), loads its RDB preamble, or
 * creates the file from the RDB file when there is no AOF yet; opens the
 * file for appending. Sets st->replay when commands are to be replayed.
 * 0, or -1 after logging why startup must stop. */
int ts_aof_startup_prepare(const ts_aof_load_env *env, ts_aof_startup *st);
/* Main thread, workers running, before the acceptor: replays the commands
 * through a connection to worker 0, then tells every worker loading is
 * over. 0, or -1 after logging. */
int ts_aof_startup_replay(const ts_aof_load_env *env, ts_aof_startup *st);

#endif
