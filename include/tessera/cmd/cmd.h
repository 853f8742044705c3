/*
 * cmd.h - the declarative command table and the execution context.
 *
 * Owns: the table of every command (name, arity, flags, key positions,
 * routing class, implementation, documentation), the same data that
 * COMMAND INFO / COMMAND DOCS return.
 * Thread: the table is const and read by every thread. A command's `run`
 * executes on the thread that owns the shard of its keys (or, for keyless
 * commands, on the connection's own worker) and touches only that shard.
 *
 * Why this shape: a command file knows the keyspace and the reply writer,
 * never libuv, never which thread it runs on, never whether its reply
 * travels through a message. Routing is decided from the table alone.
 */
#ifndef TESSERA_CMD_H
#define TESSERA_CMD_H

#include <stdbool.h>
#include <stdint.h>

#include "tessera/util/common.h"
#include "tessera/proto/reply.h"
#include "tessera/store/exec.h"
#include "tessera/util/strconv.h"

struct ts_shard;
struct ts_worker;
struct ts_conn;
struct ts_txn_ops;

/* How the dispatcher routes a command. */
enum ts_route {
    TS_ROUTE_NONE,   /* keyless, stateless: runs on the connection's worker (PING, ECHO, TIME) */
    TS_ROUTE_KEYS,   /* runs where its keys live; several shards -> a multi-shard txn (cmd->multi) */
    TS_ROUTE_ALL,    /* touches every shard: a txn over all shards (cmd->multi) */
    TS_ROUTE_CONN,   /* connection state (HELLO, SELECT, CLIENT, QUIT): in order, after everything in flight */
    TS_ROUTE_CURSOR, /* SCAN: runs on the shard its cursor names */
};

/* How a multi-shard txn holds each shard it visits. */
enum ts_txn_mode {
    TS_TXN_KEYS,       /* locks its keys on each shard */
    TS_TXN_EXCLUSIVE,  /* holds whole shards (KEYS, FLUSHALL, SWAPDB, ...) */
    TS_TXN_SHARED,     /* touches no keys (INFO, CLIENT LIST, CONFIG SET) */
};

/* Flag bits (the names COMMAND INFO prints). */
#define TS_CMD_WRITE      (1u << 0)
#define TS_CMD_READONLY   (1u << 1)
#define TS_CMD_DENYOOM    (1u << 2)
#define TS_CMD_ADMIN      (1u << 3)
#define TS_CMD_PUBSUB     (1u << 4)
#define TS_CMD_NOSCRIPT   (1u << 5)
#define TS_CMD_BLOCKING   (1u << 6)
#define TS_CMD_LOADING    (1u << 7)
#define TS_CMD_STALE      (1u << 8)
#define TS_CMD_SKIP_MONITOR (1u << 9)
#define TS_CMD_SKIP_SLOWLOG (1u << 10)
#define TS_CMD_FAST       (1u << 11)
#define TS_CMD_NO_AUTH    (1u << 12)
#define TS_CMD_MAY_REPLICATE (1u << 13)
#define TS_CMD_SENTINEL   (1u << 14)
#define TS_CMD_ONLY_SENTINEL (1u << 15)
#define TS_CMD_NO_MANDATORY_KEYS (1u << 16)
#define TS_CMD_ALLOW_BUSY (1u << 17)
#define TS_CMD_NO_ASYNC_LOADING (1u << 18)
#define TS_CMD_NO_MULTI   (1u << 19)
#define TS_CMD_MOVABLE_KEYS (1u << 20)
#define TS_CMD_ALLOW_STALE (1u << 21)

typedef struct ts_cmd_ctx {
    /* The store-level context (store/exec.h): &c->ex for store/ calls,
     * c->shard, c->db, c->r, ... field by field (the same memory). */
    union {
        ts_exec ex;
        struct { TS_EXEC_FIELDS };
    };
    struct ts_worker *worker;   /* the worker running it (owns `shard`) */
    struct ts_conn *conn;       /* the client, only for ROUTE_NONE/ROUTE_CONN; NULL elsewhere */
    const struct ts_command *cmd;
    int argc;
    ts_arg *argv;
    /* Blocking commands (blocking.h): the client's blocker during its
     * attempt, and in serve mode the one key being served. */
    struct ts_blocker *blocker;
    const ts_arg *serve_key;
} ts_cmd_ctx;

typedef void ts_cmd_fn(ts_cmd_ctx *ctx);
/* Extracts key argument positions when first/last/step cannot describe them;
 * returns the count written to pos (at most max). */
typedef int ts_getkeys_fn(int argc, const ts_arg *argv, int *pos, int max);

typedef struct ts_command {
    const char *name;       /* lower case */
    int arity;              /* like Redis: -N means at least N */
    uint32_t flags;
    const char *acl;        /* ACL categories as COMMAND INFO prints them, space separated, e.g. "@read @string @fast" */
    int first_key, last_key, key_step;
    uint8_t route;
    ts_cmd_fn *run;
    const struct ts_txn_ops *multi;   /* for ROUTE_KEYS spanning shards and ROUTE_ALL */
    ts_getkeys_fn *getkeys;           /* optional */
    const struct ts_command *subcommands;  /* NULL-name-terminated, for container commands */
    /* Documentation (COMMAND DOCS). */
    const char *summary, *since, *group, *complexity;
    /* COMMAND INFO's tips and key specifications, and COMMAND DOCS's fields
     * (without subcommands), in the compact tree encoding of reply.h's
     * ts_reply_tree. Generated from Redis 7.0's metadata. */
    const char *tips, *key_specs;
    int docs_npairs;
    const char *docs;
    uint16_t id;            /* index into per-worker statistics */
    uint8_t txn_mode;       /* ROUTE_ALL: TS_TXN_EXCLUSIVE or TS_TXN_SHARED (set at init) */
    bool squashable;        /* single-phase multi-shard op (MSET, MGET, DEL, EXISTS): pipelined
                               ones run together as one txn group */
    bool quiet_shard;       /* single-shard command that reads beyond its keys (MOVE, COPY, SCAN):
                               waits until no multi-shard txn holds keys in the shard */
} ts_command;

/* Lookup by name (case-insensitive). NULL when unknown. */
const ts_command *ts_command_lookup(const char *name, size_t len);
/* For container commands (CONFIG GET): the subcommand, or NULL. */
const ts_command *ts_command_lookup_sub(const ts_command *parent, const char *name, size_t len);
/* Key positions of a call; returns the count (0 for keyless). */
int ts_command_keys(const ts_command *cmd, int argc, const ts_arg *argv, int *pos, int max);
/* Iteration over the table, for COMMAND and INFO commandstats. */
int ts_command_count(void);
const ts_command *ts_command_at(int i);
void ts_command_table_init(void);
/* Checks arity; false (and the Redis error written) when wrong. */
bool ts_command_check_arity(const ts_command *cmd, int argc, const ts_arg *argv, ts_reply *r);

/* Helpers shared by command files. */
/* ts_arg_eq and ts_arg_to_ll: util/strconv.h. */
/* Like Redis's getIntFromObjectOrReply: NULL, or the error text to reply. */
const char *ts_arg_to_int(ts_arg a, int *out);
bool ts_arg_to_double(ts_arg a, double *out);
/* A SCAN-family cursor the way Redis reads it (strtoul): an optional sign
 * (a minus wraps around), decimal digits only, "" is 0, leading white
 * space and overflow are errors; like a C string it ends at a NUL. */
bool ts_arg_to_cursor(ts_arg a, uint64_t *out);  /* like Redis's string2d (no spaces, no NaN) */
bool ts_arg_to_long_double(ts_arg a, long double *out);


#endif
