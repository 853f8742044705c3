/*
 * script_int.h - what the script folder's files share: one script
 * invocation's run state, the per-thread Lua state, and the conversions
 * between RESP replies and Lua values.
 *
 * Owns: nothing beyond the declarations.
 * Thread: a run belongs to the thread executing the script (the shard's
 * owner in L mode, the coordinator in G mode); each thread has its own Lua
 * state (lua_api.c).
 */
#ifndef TESSERA_SCRIPT_INT_H
#define TESSERA_SCRIPT_INT_H

#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>
#include <stdint.h>

#include "tessera/route/command.h"
#include "tessera/route/txn.h"
#include "tessera/store/aof_log.h"
#include "tessera/types/object.h"
#include "tessera/util/buf.h"

struct ts_engine;
struct ts_acl_user;

/* Script flags (the shebang's flags=..., Redis's SCRIPT_FLAG_*). */
#define TS_SCRIPT_NO_WRITES   (1u << 0)
#define TS_SCRIPT_ALLOW_OOM   (1u << 1)
#define TS_SCRIPT_ALLOW_STALE (1u << 2)
#define TS_SCRIPT_NO_CLUSTER  (1u << 3)
#define TS_SCRIPT_CROSS_SLOT  (1u << 4)
#define TS_SCRIPT_COMPAT      (1u << 5)   /* no shebang: Redis's EVAL_COMPAT_MODE */

/* Where a run executes (docs/architecture.md, "Scripts"). */
enum ts_script_mode {
    TS_SCRIPT_L,   /* on one shard's thread, its keys only: anything else is a stray */
    TS_SCRIPT_G,   /* on the coordinator holding every shard: calls reach any shard */
};

/* A key the run changed in L mode, with what it held before (undo). */
typedef struct ts_undo_rec {
    int db;
    char *key;
    size_t klen;
    bool present;
    ts_value v;           /* the original (INLINE bytes owned here) */
    int64_t expire;
    uint32_t lru;
} ts_undo_rec;

typedef struct ts_script_run {
    struct ts_engine *e;            /* the engine whose thread runs the Lua code */
    uint8_t mode;                   /* enum ts_script_mode */
    const struct ts_txn *lock_owner;/* L inside a txn step: its own locks do not stop a call */
    int db;                         /* the script client's database (SELECT inside the script) */
    int resp;                       /* the script client's protocol (redis.setresp) */
    int caller_resp;                /* the protocol of the client that ran the script */
    bool read_only;                 /* EVAL_RO, or the no-writes flag */
    bool write_dirty;               /* a write command ran */
    bool stray;                     /* L: a call needed another shard (the run is abandoned) */
    bool eval_mode;                 /* EVAL (not FCALL): error texts */
    char name[128];                 /* what errors call the script: its SHA, or the function's name */
    int repl;                       /* redis.set_repl: bit 0 AOF, bit 1 replicas */
    int64_t now_ms;
    uint64_t client_id;
    bool client_local;
    const struct ts_acl_user *user; /* restricted users: checked per call; NULL: unrestricted */
    struct ts_conn *conn;           /* the client, when this thread owns it (ACL LOG entries), else NULL */
    ts_aof_log aof;                 /* the effects, in order */
    int nprop;                      /* commands that propagated */
    bool aof_on;
    uint64_t start_us;              /* busy-reply-threshold counts from here */
    int argc;                       /* the command that runs it (FUNCTION STATS) */
    const ts_arg *argv;
    long long threshold_ms;
    bool busy;                      /* past the threshold: other clients see it (engine script_state) */
    bool drop_effects;              /* stopped by SHUTDOWN NOSAVE: nothing is logged */
    ts_undo_rec *undo;              /* L with several shards: originals of the keys written */
    int nundo, undo_cap;
    bool keep_undo;
} ts_script_run;

/* ---- lua_api.c ---- */

/* The calling thread's Lua state (created on first use, reset when the
 * script cache's generation moved on: SCRIPT FLUSH). */
lua_State *ts_lua_state(void);
/* Frees the calling thread's Lua state (worker exit). */
void ts_lua_state_free(void);
/* Pushes the parsed RESP reply p[0..n) as Redis converts it for Lua. */
void ts_lua_push_reply(lua_State *L, const char *p, size_t n);
/* Writes the Lua value at the top of the stack as the script's reply
 * (consumed). script_resp: the script client's protocol (booleans). */
void ts_lua_reply(lua_State *L, ts_reply *r, int script_resp);
/* Pushes Redis's error table {err="CODE msg"} for an error text (with or
 * without its leading '-'). */
void ts_lua_push_error(lua_State *L, const char *err, size_t len);
/* The light userdata a stray raises: our pcall/xpcall re-raise it. */
extern char ts_lua_stray_token;
/* The run of the script executing on this thread (the registry). */
ts_script_run *ts_lua_current_run(lua_State *L);
void ts_lua_set_current_run(lua_State *L, ts_script_run *run);

/* FUNCTION LOAD's registration (functions.c): a library's code runs with
 * the load API (redis.register_function, redis.log, the versions); each
 * registered function lands in the table at the top of the stack
 * (name -> {callback=f, description=s, flags=n}); code running longer than
 * timeout_ms (0: no limit) fails as Redis's FUNCTION LOAD timeout. 0, or -1 with the error
 * text in err ("Error compiling function: ...", "Error registering
 * functions: ..."). */
int ts_lua_load_library(lua_State *L, const char *code, size_t len, long long timeout_ms, char *err, size_t errlen);
/* The environment scripts run in (the globals proxy) and functions'. */
void ts_lua_push_env(lua_State *L);

/* ---- functions.c ---- */

/* Pushes the callback of function `name` (this thread's copy, loaded again
 * first when the registry changed) and sets *flags; false (nothing pushed)
 * when there is no such function. */
bool ts_fn_push(lua_State *L, const char *name, size_t len, unsigned *flags);
void ts_functions_bind(void);
void ts_functions_free(void);

/* ---- eval.c ---- */

/* redis.call / redis.pcall's command: runs argv as the script client
 * (checks, routing, execution) and pushes the reply as a Lua value, or an
 * error table (raise: whether redis.call raises it). Returns the number of
 * values pushed or raises. */
int ts_script_call(lua_State *L, ts_script_run *run, int argc, ts_arg *argv, bool raise);
/* SCRIPT KILL (eval true) / FUNCTION KILL. */
void ts_script_kill(ts_cmd_ctx *c, bool eval);
/* FUNCTION STATS's running_script: a busy script's name, command and
 * duration (a map), or null; false (nothing written) when the busy script
 * is an EVAL (FUNCTION STATS then answers BUSY, as Redis). */
bool ts_script_reply_running(ts_cmd_ctx *c);

#endif
