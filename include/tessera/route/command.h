/*
 * command.h - what routing and the runner know of a command: its
 * descriptor (name, arity, flags, key positions, key specs, routing class,
 * the implementation and its multi-shard operation) and the context a
 * command runs with.
 *
 * Owns: the descriptor type, the key spec types and the command context
 * type; the table of every command, with its documentation, is cmd/'s
 * (cmd/cmd.h).
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
struct ts_acl_user;

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
    uint64_t client_id;         /* the client that sent it (0: the server's own) */
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
    /* Clients blocked on keys this command fills are served by the caller
     * once the whole unit ran (EXEC, a script), not after the command, as
     * Redis serves them after EXEC. */
    bool defer_blocked;
    /* Inside EXEC: a command that logs a unit of several effects (a
     * script) leaves them unwrapped: EXEC's own MULTI/EXEC block holds them. */
    bool in_exec;
    /* The client's ACL user when it is restricted (NULL: unrestricted), for
     * commands that run others (scripts check each call). */
    const struct ts_acl_user *acl_user;
    /* Out: the command could not run here and did nothing (a script that
     * reached a key of another shard): the caller runs it again holding
     * every shard (script/). */
    bool escalate;
} ts_cmd_ctx;

typedef void ts_cmd_fn(ts_cmd_ctx *ctx);
/* Extracts key argument positions when first/last/step cannot describe them;
 * returns the count written to pos (at most max). */
typedef int ts_getkeys_fn(int argc, const ts_arg *argv, int *pos, int max);

/* Key spec flags (Redis 7.0's CMD_KEY_*, same bits and order; the names
 * COMMAND INFO and COMMAND GETKEYSANDFLAGS print are ts_key_flag_name's).
 * One of RO/RW/OW/RM (none on a NOT_KEY spec) says what happens to the
 * key's value or metadata; ACCESS/UPDATE/INSERT/DELETE say what happens to
 * the user data in it. */
#define TS_KEY_RO             (1u << 0)   /* reads the value (not necessarily returned) */
#define TS_KEY_RW             (1u << 1)   /* modifies the value or its metadata */
#define TS_KEY_OW             (1u << 2)   /* overwrites the value */
#define TS_KEY_RM             (1u << 3)   /* deletes the key */
#define TS_KEY_ACCESS         (1u << 4)   /* returns, copies or uses the user data */
#define TS_KEY_UPDATE         (1u << 5)   /* updates data (the new may depend on the old) */
#define TS_KEY_INSERT         (1u << 6)   /* only adds data */
#define TS_KEY_DELETE         (1u << 7)   /* explicitly deletes some content */
#define TS_KEY_NOT_KEY        (1u << 8)   /* a "fake" key: routed like one, excluded from key checks */
#define TS_KEY_INCOMPLETE     (1u << 9)   /* the spec may miss keys: the getkeys function decides */
#define TS_KEY_VARIABLE_FLAGS (1u << 10)  /* flags depend on the arguments: the getkeys function decides */
#define TS_KEY_FLAG_COUNT     11

/* The ACL permissions a key needs, from its spec flags, exactly as Redis
 * 7.0's ACLSelectorCheckKey maps them: ACCESS needs read; UPDATE, INSERT
 * and DELETE need write; RO/RW/OW/RM add nothing (so EXISTS's RO key, or
 * a key whose flags are 0 because a getkeys function gave none, needs
 * neither: any key pattern that matches lets it through). */
static inline bool ts_key_flags_need_read(uint32_t f) { return (f & TS_KEY_ACCESS) != 0; }
static inline bool ts_key_flags_need_write(uint32_t f)
{
    return (f & (TS_KEY_UPDATE | TS_KEY_INSERT | TS_KEY_DELETE)) != 0;
}

/* Where a key spec starts looking (Redis's begin_search). 0 is "none":
 * a descriptor never holds it. */
enum ts_key_search {
    TS_KSPEC_BS_UNKNOWN = 1,  /* the spec cannot say: the getkeys function decides */
    TS_KSPEC_BS_INDEX,        /* at argument bs.index.pos */
    TS_KSPEC_BS_KEYWORD,      /* after the argument bs.keyword.keyword, searched from bs.keyword.startfrom
                                 (forwards when > 0, backwards from argc+startfrom when < 0) */
};

/* How a key spec finds the keys from there (Redis's find_keys). */
enum ts_key_find {
    TS_KSPEC_FK_UNKNOWN = 1,  /* the spec cannot say */
    TS_KSPEC_FK_RANGE,        /* keys up to lastkey (relative to the start; < 0: from the end, or with
                                 a limit, -1 and the 1/limit-th of what remains), every keystep */
    TS_KSPEC_FK_KEYNUM,       /* a count at start+keynumidx, then that many keys from
                                 start+firstkey, every keystep */
};

/* One key spec of a command, decoded at table init from the descriptor's
 * key_specs string (ts_key_specs_decode). */
typedef struct ts_key_spec {
    uint16_t flags;            /* TS_KEY_* */
    uint8_t begin_search;      /* enum ts_key_search */
    uint8_t find_keys;         /* enum ts_key_find */
    union {
        struct { int pos; } index;
        struct { char keyword[16]; int startfrom; } keyword;   /* NUL-terminated, as Redis spells it */
    } bs;
    union {
        struct { int lastkey, keystep, limit; } range;
        struct { int keynumidx, firstkey, keystep; } keynum;
    } fk;
} ts_key_spec;

/* A key of a call: its argument index and its spec's TS_KEY_* flags. */
typedef struct ts_key_ref {
    int pos;
    uint32_t flags;
} ts_key_ref;

/* The keys of a call with their flags, for calls the key specs cannot
 * describe (Redis's getkeys_proc: numkeys counts that do not parse, XREAD's
 * options, SET's GET). Same return convention as ts_command_keys_with_flags. */
typedef int ts_getkeys_flags_fn(int argc, const ts_arg *argv, ts_key_ref *out, int max);

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
    int16_t acl_id;         /* the command's bit in ACL selectors (route/acl.h), set at init */
    uint8_t txn_mode;       /* ROUTE_ALL: TS_TXN_EXCLUSIVE or TS_TXN_SHARED (set at init) */
    bool squashable;        /* single-phase multi-shard op (MSET, MGET, DEL, EXISTS): pipelined
                               ones run together as one txn group */
    bool always_txn;        /* ROUTE_ALL that is a txn even with one shard (SHUTDOWN: cmd/shutdown.c) */
    bool protected_cmd;     /* DEBUG, MODULE: refused unless enable-debug-command / enable-module-command allow it */
    bool quiet_shard;       /* single-shard command that reads beyond its keys (MOVE, COPY, SCAN):
                               waits until no multi-shard txn holds keys in the shard */
    /* key_specs decoded (ts_command_table_init), in Redis's order, and the
     * getkeys function that stands in where they fall short (Redis's
     * getkeys_proc; NULL for most commands). Read by
     * ts_command_keys_with_flags, never on the dispatch path (last, so the
     * fields dispatch reads keep their places). */
    const ts_key_spec *specs;
    int nspecs;
    ts_getkeys_flags_fn *getkeys_flags;
    /* Optional: true when this call may read keys it does not name (SORT
     * with BY/GET patterns). With several shards the dispatcher then runs
     * it as a txn holding every shard (txn_mode, set EXCLUSIVE at init). */
    bool (*wide_keys)(int argc, const ts_arg *argv);
    /* Optional: the error for a user who may not read every key, when the
     * call has an option that reads keys it does not name (SORT's BY with
     * a pattern, GET), reached before any other option error; else NULL.
     * The dispatcher asks only for restricted users (ts_acl_reads_any_key). */
    const char *(*any_key_option)(const struct ts_command *cmd, int argc, const ts_arg *argv);
    /* EVAL, EVALSHA and their _RO forms: the dispatcher runs the script
     * inline where its declared keys live, else holding shards (script/). */
    bool script;
} ts_command;

/* Key positions of a call; returns the count (0 for keyless). The
 * dispatcher's: first/last/step or the getkeys function, no flags. */
int ts_command_keys(const ts_command *cmd, int argc, const ts_arg *argv, int *pos, int max);

/* The keys of a call, each with its spec's TS_KEY_* flags, as Redis 7.0's
 * getKeysFromCommandWithSpecs finds them (ACL key checks, COMMAND GETKEYS
 * and GETKEYSANDFLAGS): from the key specs when the command has one that
 * is not NOT_KEY and none has VARIABLE_FLAGS, skipping NOT_KEY specs (a
 * spec whose keyword is absent gives no keys); when a spec fails (a bad
 * numkeys, keys past the end, an unknown or INCOMPLETE spec) or the specs
 * do not apply, from cmd->getkeys_flags, or none. An argument found by
 * several specs comes once per spec, an argument named twice once per
 * position. The caller has checked the arity.
 * Returns the number of keys and writes the first min(that, max) to out:
 * call again with a larger out when it returns more than max (it never
 * returns more than argc * max(1, cmd->nspecs)). */
int ts_command_keys_with_flags(const ts_command *cmd, int argc, const ts_arg *argv, ts_key_ref *out, int max);
/* Whether a command can have keys at all (Redis's doesCommandHaveKeys): a
 * spec that is not NOT_KEY, or a getkeys_flags function. */
bool ts_command_has_keys(const ts_command *cmd);
/* The name of flag bit `bit` (0 .. TS_KEY_FLAG_COUNT-1) as Redis prints it:
 * "RO", "RW", "OW", "RM", "access", "update", "insert", "delete",
 * "not_key", "incomplete", "variable_flags". */
const char *ts_key_flag_name(int bit);
/* Decodes a key_specs string (reply.h's tree encoding of COMMAND INFO's
 * key specifications: a set of maps) into out; returns the number of specs,
 * at most max (panics on an encoding it cannot read, or more specs than
 * max: the strings are generated). Main thread, table init. */
int ts_key_specs_decode(const char *enc, ts_key_spec *out, int max);
/* Checks arity; false (and the Redis error written) when wrong. */
bool ts_command_check_arity(const ts_command *cmd, int argc, const ts_arg *argv, ts_reply *r);

#endif
