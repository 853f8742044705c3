/*
 * exec.h - the store-level execution context: what the keyspace (store/)
 * sees of one command's execution on a shard.
 *
 * Owns: nothing; it names what an execution works on. The runner
 * (route/run.h) fills one in for every command it runs; the command
 * context (route/command.h, ts_cmd_ctx) embeds it and adds what only
 * commands need (the arguments, the connection, the blocking state).
 * Thread: a context lives on the stack of the thread that owns `shard`
 * and is used only there.
 *
 * Why the fields come twice (TS_EXEC_FIELDS): ts_cmd_ctx holds them in an
 * anonymous union, once as a named ts_exec (`&c->ex`, what store/ takes)
 * and once field by field (`c->r`, `c->db`, what the ~1,500 uses in the
 * command files read), so both name the same memory. The Linux kernel's
 * struct_group() is the same idea.
 */
#ifndef TESSERA_EXEC_H
#define TESSERA_EXEC_H

#include <stdbool.h>
#include <stdint.h>

#include "tessera/proto/reply.h"

struct ts_shard;
struct ts_config;
struct ts_aof_log;

#define TS_EXEC_FIELDS                                                                             \
    struct ts_shard *shard;         /* the shard this runs on (its owner thread only) */          \
    int db;                         /* the selected database */                                   \
    int64_t now_ms;                 /* wall clock in ms, taken once per batch (0 while loading) */ \
    const struct ts_config *config; /* the owner's configuration copy */                          \
    ts_reply *r;                    /* where the reply goes */                                    \
    struct ts_aof_log *aof;         /* where the effect is logged (NULL: not logged) */           \
    bool propagated;                /* the command said itself what to log (persist/aof.h) */

typedef struct ts_exec {
    TS_EXEC_FIELDS
} ts_exec;

#endif
