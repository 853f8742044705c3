/*
 * command.h - what routing and the runner know of a command: its
 * descriptor (name, arity, flags, key positions, routing class, the
 * implementation and its multi-shard operation) and the context a command
 * runs with.
 *
 * Owns: the descriptor type and the command context type; the table of
 * every command, with its documentation, is cmd/'s (cmd/cmd.h).
 * Thread: descriptors are const and read by every thread. A command's `run`
 * executes on the thread that owns the shard of its keys (or, for keyless
 * commands, on the connection's own worker) and touches only that shard.
 *
 * Why here: the dispatcher (net/), the batch and transaction machinery and
 * the runner (route/) decide where and how a command runs from the
 * descriptor alone; the commands themselves (cmd/) only fill it in.
 */
#ifndef TESSERA_COMMAND_H
#define TESSERA_COMMAND_H

#include <stdbool.h>
#include <stdint.h>

#include "tessera/proto/reply.h"
#include "tessera/store/exec.h"
#include "tessera/util/common.h"

struct ts_engine;
struct ts_conn;
struct ts_txn_ops;
struct ts_blocker;

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
    struct ts_engine *engine;   /* the engine running it (owns `shard`; route/engine.h) */
    struct ts_conn *conn;       /* the client (net/conn.h), only for ROUTE_NONE/ROUTE_CONN; NULL elsewhere */
    bool client_local;          /* the client connects from 127.0.0.1, ::1 or a unix socket (Redis's islocalClient) */
    const struct ts_command *cmd;
    int argc;
    ts_arg *argv;
    /* Blocking commands (blocking.h): the client's blocker during its
     * attempt, and in serve mode the one key being served. */
    struct ts_blocker *blocker;
    const ts_arg *serve_key;
    /* Out: the client's connection closes once this reply is written
     * (QUIT, SHUTDOWN); the caller that owns the connection applies it. */
    bool close_after_reply;
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
    uint16_t id;            /* index into each engine's statistics (route/engine.h cmd_stats) */
    uint8_t txn_mode;       /* ROUTE_ALL: TS_TXN_EXCLUSIVE or TS_TXN_SHARED (set at init) */
    bool squashable;        /* single-phase multi-shard op (MSET, MGET, DEL, EXISTS): pipelined
                               ones run together as one txn group */
    bool protected_cmd;     /* DEBUG, MODULE: refused unless enable-debug-command / enable-module-command allow it */
    bool quiet_shard;       /* single-shard command that reads beyond its keys (MOVE, COPY, SCAN):
                               waits until no multi-shard txn holds keys in the shard */
} ts_command;

/* Key positions of a call; returns the count (0 for keyless). */
int ts_command_keys(const ts_command *cmd, int argc, const ts_arg *argv, int *pos, int max);
/* Checks arity; false (and the Redis error written) when wrong. */
bool ts_command_check_arity(const ts_command *cmd, int argc, const ts_arg *argv, ts_reply *r);

#endif
