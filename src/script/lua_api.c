/*
 * lua_api.c - the Lua side of scripting: each thread's Lua state (the
 * libraries Redis 7.0 loads, the `redis` table, the global protection, the
 * error handler), the redis.* functions other than call/pcall's command
 * execution (eval.c), and the conversions between RESP and Lua values
 * exactly as Redis 7.0 makes them (script_lua.c there).
 *
 * Owns: one lua_State per thread that runs scripts (thread-local), the
 * process-wide math.random generator.
 * Thread: any worker; a state is used only by its own thread.
 *
 * Global protection: stock Lua 5.1 has no read-only tables (Redis patches
 * its Lua), so scripts run with an environment table that is a proxy: it
 * reads through to the real globals, refuses new globals ("Attempt to
 * modify a readonly table") and undefined reads ("Script attempted to
 * access nonexistent global variable"); the library tables are read-only
 * proxies in the same way.
 */
#include <lualib.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lua_libs.h"
#include "script_int.h"
#include "tessera/util/clock.h"
#include "tessera/util/log.h"
#include "tessera/util/sha1.h"
#include "tessera/util/version.h"

#include <lua-bitop.h>
#include <lua-cjson.h>

char ts_lua_stray_token;

static _Thread_local lua_State *tl_lua;
static _Thread_local uint64_t tl_generation;
extern atomic_uint_fast64_t ts_script_generation;   /* eval.c */

static const char run_key = 'r';   /* registry key of the current run */

ts_script_run *ts_lua_current_run(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&run_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    ts_script_run *run = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return run;
}

void ts_lua_set_current_run(lua_State *L, ts_script_run *run)
{
    lua_pushlightuserdata(L, (void *)&run_key);
    if (run) lua_pushlightuserdata(L, run);
    else lua_pushnil(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
}

/* ---------- errors ---------- */

void ts_lua_push_error(lua_State *L, const char *err, size_t len)
{
    /* "-CODE msg" -> "CODE msg"; "-msg" (no space) -> "ERR msg"; "msg" -> "ERR msg". */
    const char *code = "ERR";
    size_t codelen = 3;
    const char *msg = err;
    size_t msglen = len;
    if (len && err[0] == '-') {
        const char *sp = memchr(err, ' ', len);
        if (!sp) {
            msg = err + 1;
            msglen = len - 1;
        } else {
            code = err + 1;
            codelen = (size_t)(sp - err - 1);
            msg = sp + 1;
            msglen = len - (size_t)(sp + 1 - err);
        }
    }
    while (msglen && (msg[msglen - 1] == '\r' || msg[msglen - 1] == '\n')) msglen--;
    while (msglen && (msg[0] == '\r' || msg[0] == '\n')) { msg++; msglen--; }
    luaL_Buffer b;
    lua_newtable(L);
    lua_pushstring(L, "err");
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, code, codelen);
    luaL_addchar(&b, ' ');
    luaL_addlstring(&b, msg, msglen);
    luaL_pushresult(&b);
    lua_settable(L, -3);
}

/* ---------- RESP -> Lua ---------- */

typedef struct parser {
    const char *p, *end;
} parser;

static const char *line_end(parser *ps)
{
    const char *q = memchr(ps->p, '\r', (size_t)(ps->end - ps->p));
    return q ? q : ps->end;
}

static long long parse_ll(const char *s, const char *e)
{
    long long v = 0;
    bool neg = s < e && *s == '-';
    if (neg || (s < e && *s == '+')) s++;
    for (; s < e; s++) v = v * 10 + (*s - '0');
    return neg ? -v : v;
}

/* Pushes one value (or skips it when L is NULL: attributes). */
static void push_value(lua_State *L, parser *ps)
{
    if (ps->p >= ps->end) {
        if (L) lua_pushnil(L);
        return;
    }
    char t = *ps->p++;
    const char *le = line_end(ps);
    const char *body = ps->p;
    ps->p = le + 2 <= ps->end ? le + 2 : ps->end;
    if (L && !lua_checkstack(L, 5)) luaL_error(L, "reached lua stack limit");
    switch (t) {
    case ':':
        if (L) lua_pushnumber(L, (lua_Number)parse_ll(body, le));
        return;
    case '$': {
        long long n = parse_ll(body, le);
        if (n < 0) {
            if (L) lua_pushboolean(L, 0);
            return;
        }
        if (L) lua_pushlstring(L, ps->p, (size_t)n);
        ps->p += n + 2;
        return;
    }
    case '+':
        if (L) {
            lua_newtable(L);
            lua_pushstring(L, "ok");
            lua_pushlstring(L, body, (size_t)(le - body));
            lua_settable(L, -3);
        }
        return;
    case '-':
        if (L) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            luaL_addchar(&b, '-');
            luaL_addlstring(&b, body, (size_t)(le - body));
            luaL_pushresult(&b);
            size_t n;
            const char *s = lua_tolstring(L, -1, &n);
            ts_lua_push_error(L, s, n);
            lua_remove(L, -2);
            lua_pushstring(L, "ignore_error_stats_update");
            lua_pushboolean(L, 1);
            lua_settable(L, -3);
        }
        return;
    case '*': {
        long long n = parse_ll(body, le);
        if (n < 0) {
            if (L) lua_pushboolean(L, 0);
            return;
        }
        if (L) lua_newtable(L);
        for (long long j = 0; j < n; j++) {
            if (L) lua_pushnumber(L, (lua_Number)(j + 1));
            push_value(L, ps);
            if (L) lua_settable(L, -3);
        }
        return;
    }
    case '%': {
        long long n = parse_ll(body, le);
        if (L) {
            lua_newtable(L);
            lua_pushstring(L, "map");
            lua_newtable(L);
        }
        for (long long j = 0; j < n; j++) {
            push_value(L, ps);
            push_value(L, ps);
            if (L) lua_settable(L, -3);
        }
        if (L) lua_settable(L, -3);
        return;
    }
    case '~': {
        long long n = parse_ll(body, le);
        if (L) {
            lua_newtable(L);
            lua_pushstring(L, "set");
            lua_newtable(L);
        }
        for (long long j = 0; j < n; j++) {
            push_value(L, ps);
            if (L) {
                lua_pushboolean(L, 1);
                lua_settable(L, -3);
            }
        }
        if (L) lua_settable(L, -3);
        return;
    }
    case '_':
        if (L) lua_pushnil(L);
        return;
    case '#':
        if (L) lua_pushboolean(L, body < le && *body == 't');
        return;
    case ',': {
        if (L) {
            char tmp[64];
            size_t n = (size_t)(le - body) < sizeof tmp - 1 ? (size_t)(le - body) : sizeof tmp - 1;
            memcpy(tmp, body, n);
            tmp[n] = '\0';
            lua_newtable(L);
            lua_pushstring(L, "double");
            lua_pushnumber(L, strtod(tmp, NULL));
            lua_settable(L, -3);
        }
        return;
    }
    case '(':
        if (L) {
            lua_newtable(L);
            lua_pushstring(L, "big_number");
            lua_pushlstring(L, body, (size_t)(le - body));
            lua_settable(L, -3);
        }
        return;
    case '=': {
        long long n = parse_ll(body, le);
        const char *s = ps->p;
        ps->p += n + 2;
        if (L) {
            lua_newtable(L);
            lua_pushstring(L, "verbatim_string");
            lua_newtable(L);
            lua_pushstring(L, "string");
            lua_pushlstring(L, s + 4, n >= 4 ? (size_t)n - 4 : 0);
            lua_settable(L, -3);
            lua_pushstring(L, "format");
            lua_pushlstring(L, s, 3);
            lua_settable(L, -3);
            lua_settable(L, -3);
        }
        return;
    }
    case '|': {
        long long n = parse_ll(body, le);
        for (long long j = 0; j < n; j++) {
            push_value(NULL, ps);
            push_value(NULL, ps);
        }
        push_value(L, ps);
        return;
    }
    default:
        if (L) lua_pushnil(L);
        return;
    }
}

void ts_lua_push_reply(lua_State *L, const char *p, size_t n)
{
    parser ps = {p, p + n};
    push_value(L, &ps);
}

/* ---------- Lua -> RESP ---------- */

/* A copy of the string at the top of the stack, NUL-terminated, with CR
 * and LF made spaces (Redis's sdsmapchars for status, error and big number
 * replies); free() it. */
static char *reply_text(lua_State *L, size_t *len)
{
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    char *out = ts_malloc(n + 1);
    for (size_t i = 0; i < n; i++) out[i] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
    out[n] = '\0';
    *len = n;
    return out;
}

void ts_lua_reply(lua_State *L, ts_reply *r, int script_resp)
{
    int t = lua_type(L, -1);
    if (!lua_checkstack(L, 4)) {
        ts_reply_error(r, "ERR reached lua stack limit");
        lua_pop(L, 1);
        return;
    }
    switch (t) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        ts_reply_bulk(r, s, n);
        break;
    }
    case LUA_TBOOLEAN:
        if (script_resp == 2) {
            if (lua_toboolean(L, -1)) ts_reply_int(r, 1);
            else ts_reply_null(r);
        } else {
            ts_reply_bool(r, lua_toboolean(L, -1));
        }
        break;
    case LUA_TNUMBER:
        ts_reply_int(r, (long long)lua_tonumber(L, -1));
        break;
    case LUA_TTABLE: {
        lua_pushstring(L, "err");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TSTRING) {
            size_t n;
            char *msg = reply_text(L, &n);
            ts_reply_error(r, msg);
            free(msg);
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        lua_pushstring(L, "ok");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TSTRING) {
            size_t n;
            char *ok = reply_text(L, &n);
            ts_reply_raw(r, "+", 1);
            ts_reply_raw(r, ok, strlen(ok));
            ts_reply_raw(r, "\r\n", 2);
            free(ok);
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        lua_pushstring(L, "double");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TNUMBER) {
            ts_reply_double(r, lua_tonumber(L, -1));
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        lua_pushstring(L, "big_number");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TSTRING) {
            size_t n;
            char *num = reply_text(L, &n);
            if (r->resp == 3) {
                ts_reply_raw(r, "(", 1);
                ts_reply_raw(r, num, n);
                ts_reply_raw(r, "\r\n", 2);
            } else {
                ts_reply_bulk(r, num, n);
            }
            free(num);
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        lua_pushstring(L, "verbatim_string");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TTABLE) {
            lua_pushstring(L, "format");
            lua_rawget(L, -2);
            if (lua_type(L, -1) == LUA_TSTRING) {
                const char *fmt = lua_tostring(L, -1);
                lua_pushstring(L, "string");
                lua_rawget(L, -3);
                if (lua_type(L, -1) == LUA_TSTRING) {
                    size_t n;
                    const char *s = lua_tolstring(L, -1, &n);
                    char ext[4] = {0};
                    memcpy(ext, fmt, strlen(fmt) < 3 ? strlen(fmt) : 3);
                    ts_reply_verbatim(r, s, n, ext);
                    lua_pop(L, 4);
                    return;
                }
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        lua_pushstring(L, "map");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TTABLE) {
            long n = 0;
            size_t h = ts_reply_defer(r);
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                lua_pushvalue(L, -2);
                ts_lua_reply(L, r, script_resp);   /* the key */
                ts_lua_reply(L, r, script_resp);   /* the value */
                n++;
            }
            ts_reply_set_map_len(r, h, n);
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        lua_pushstring(L, "set");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TTABLE) {
            long n = 0;
            size_t h = ts_reply_defer(r);
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                lua_pop(L, 1);
                lua_pushvalue(L, -1);
                ts_lua_reply(L, r, script_resp);
                n++;
            }
            ts_reply_set_set_len(r, h, n);
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        {
            long n = 0;
            size_t h = ts_reply_defer(r);
            for (int j = 1;; j++) {
                lua_pushnumber(L, j);
                lua_rawget(L, -2);
                if (lua_type(L, -1) == LUA_TNIL) {
                    lua_pop(L, 1);
                    break;
                }
                ts_lua_reply(L, r, script_resp);
                n++;
            }
            ts_reply_set_array_len(r, h, n);
        }
        break;
    }
    default:
        ts_reply_null(r);
    }
    lua_pop(L, 1);
}

/* ---------- redis.* ---------- */

static int raise_error_table(lua_State *L) { return lua_error(L); }

/* redis.call / redis.pcall: the arguments to an argv (numbers as %.17g). */
static int generic_call(lua_State *L, bool raise)
{
    ts_script_run *run = ts_lua_current_run(L);
    if (!run) {
        ts_lua_push_error(L, "redis.call/pcall can only be called inside a script invocation",
                          strlen("redis.call/pcall can only be called inside a script invocation"));
        return raise_error_table(L);
    }
    int argc = lua_gettop(L);
    if (argc == 0) {
        static const char e[] = "Please specify at least one argument for this redis lib call";
        ts_lua_push_error(L, e, sizeof e - 1);
        return raise ? raise_error_table(L) : 1;
    }
    ts_arg stack[16];
    char numstack[16][32];
    ts_arg *argv = argc > 16 ? ts_malloc(sizeof(ts_arg) * (size_t)argc) : stack;
    char (*nums)[32] = argc > 16 ? ts_malloc(32 * (size_t)argc) : numstack;
    int j;
    for (j = 0; j < argc; j++) {
        if (lua_type(L, j + 1) == LUA_TNUMBER) {
            int n = snprintf(nums[j], 32, "%.17g", (double)lua_tonumber(L, j + 1));
            argv[j] = (ts_arg){nums[j], (size_t)n};
        } else {
            size_t n;
            const char *s = lua_tolstring(L, j + 1, &n);
            if (!s) break;
            argv[j] = (ts_arg){s, n};
        }
    }
    int rc;
    if (j != argc) {
        static const char e[] = "Lua redis lib command arguments must be strings or integers";
        ts_lua_push_error(L, e, sizeof e - 1);
        rc = raise ? -1 : 1;
    } else {
        /* The strings stay on the Lua stack (referenced by argv) during the call. */
        rc = ts_script_call(L, run, argc, argv, raise);
    }
    if (nums != numstack) free(nums);
    if (argv != stack) free(argv);
    if (rc < 0) return raise_error_table(L);
    /* Only the result remains meaningful: drop the arguments below it. */
    return rc;
}

static int redis_call(lua_State *L) { return generic_call(L, true); }
static int redis_pcall(lua_State *L) { return generic_call(L, false); }

static int redis_sha1hex(lua_State *L)
{
    if (lua_gettop(L) != 1) {
        ts_lua_push_error(L, "wrong number of arguments", 25);
        return lua_error(L);
    }
    size_t n;
    const char *s = lua_tolstring(L, 1, &n);
    char hex[41];
    ts_sha1_hex(s ? s : "", s ? n : 0, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int redis_error_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        ts_lua_push_error(L, "wrong number or type of arguments", 33);
        return 1;
    }
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (n && s[0] == '-') {
        ts_lua_push_error(L, s, n);
    } else {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        luaL_addchar(&b, '-');
        luaL_addlstring(&b, s, n);
        luaL_pushresult(&b);
        const char *e = lua_tolstring(L, -1, &n);
        ts_lua_push_error(L, e, n);
        lua_remove(L, -2);
    }
    return 1;
}

static int redis_status_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        ts_lua_push_error(L, "wrong number or type of arguments", 33);
        return 1;
    }
    lua_newtable(L);
    lua_pushstring(L, "ok");
    lua_pushvalue(L, -3);
    lua_settable(L, -3);
    return 1;
}

static int fail(lua_State *L, const char *msg)
{
    ts_lua_push_error(L, msg, strlen(msg));
    return lua_error(L);
}

static int redis_set_repl(lua_State *L)
{
    ts_script_run *run = ts_lua_current_run(L);
    if (!run) return fail(L, "redis.set_repl can only be called inside a script invocation");
    if (lua_gettop(L) != 1) return fail(L, "redis.set_repl() requires two arguments.");
    int flags = (int)lua_tonumber(L, -1);
    if (flags & ~3) return fail(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
    run->repl = flags;
    return 0;
}

static int redis_replicate_commands(lua_State *L)
{
    lua_pushboolean(L, 1);   /* effects replication is the only mode (Redis 7) */
    return 1;
}

static int redis_setresp(lua_State *L)
{
    ts_script_run *run = ts_lua_current_run(L);
    if (!run) return fail(L, "redis.setresp can only be called inside a script invocation");
    if (lua_gettop(L) != 1) return fail(L, "redis.setresp() requires one argument.");
    int resp = (int)lua_tonumber(L, -1);
    if (resp != 2 && resp != 3) return fail(L, "RESP version must be 2 or 3.");
    run->resp = resp;
    return 0;
}

static int redis_log(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc < 2) return fail(L, "redis.log() requires two arguments or more.");
    if (!lua_isnumber(L, -argc)) return fail(L, "First argument must be a number (log level).");
    int level = (int)lua_tonumber(L, -argc);
    if (level < 0 || level > 3) return fail(L, "Invalid debug level.");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    bool first = true;
    for (int j = 1; j < argc; j++) {
        size_t n;
        const char *s = lua_tolstring(L, (-argc) + j, &n);
        if (!s) continue;
        if (!first) luaL_addchar(&b, ' ');
        luaL_addlstring(&b, s, n);
        first = false;
    }
    luaL_pushresult(&b);
    static const int levels[] = {TS_LOG_DEBUG, TS_LOG_VERBOSE, TS_LOG_NOTICE, TS_LOG_WARNING};
    ts_log(levels[level], "%s", lua_tostring(L, -1));
    return 0;
}

static int redis_breakpoint(lua_State *L)
{
    lua_pushboolean(L, 0);   /* no debugging session (SCRIPT DEBUG is not supported) */
    return 1;
}

static int redis_debug(lua_State *L)
{
    (void)L;   /* only a debugging session prints it */
    return 0;
}

/* ---------- math.random (Redis's rand.c generator, process-wide) ---------- */

static atomic_uint_fast64_t rand_state = 0x1234ABCD330EULL;

static int32_t lrand48_next(void)
{
    uint_fast64_t x = atomic_load_explicit(&rand_state, memory_order_relaxed), nx;
    do {
        nx = (0x5DEECE66DULL * x + 0xB) & 0xFFFFFFFFFFFFULL;
    } while (!atomic_compare_exchange_weak(&rand_state, &x, nx));
    return (int32_t)(nx >> 17);
}

static int math_random(lua_State *L)
{
    if (!ts_lua_current_run(L)) return luaL_error(L, "math.random can only be called inside a script invocation");
    lua_Number r = (lua_Number)(lrand48_next() % 2147483647) / (lua_Number)2147483647;
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        break;
    case 1: {
        int u = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushnumber(L, floor(r * u) + 1);
        break;
    }
    case 2: {
        int l = luaL_checkint(L, 1);
        int u = luaL_checkint(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        lua_pushnumber(L, floor(r * (u - l + 1)) + l);
        break;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
    return 1;
}

static int math_randomseed(lua_State *L)
{
    if (!ts_lua_current_run(L))
        return luaL_error(L, "math.randomseed can only be called inside a script invocation");
    uint32_t seed = (uint32_t)luaL_checkint(L, 1);
    atomic_store(&rand_state, ((uint_fast64_t)seed << 16) | 0x330E);
    return 0;
}

/* ---------- pcall that lets a stray through ---------- */

static bool is_stray(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == &ts_lua_stray_token;
}

/* Redis's pcall: an error table becomes its message; a stray (an L run
 * that must restart holding every shard) is never caught. */
static int lua_pcall_redis(lua_State *L)
{
    int argc = lua_gettop(L);
    luaL_checkany(L, 1);
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    if (lua_pcall(L, argc - 1, LUA_MULTRET, 0)) {
        if (is_stray(L, -1)) return lua_error(L);
        lua_remove(L, 1);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            if (lua_isstring(L, -1)) lua_replace(L, -2);
            else lua_pop(L, 1);
        }
        lua_pushboolean(L, 0);
        lua_insert(L, 1);
    }
    return lua_gettop(L);
}

static int xpcall_handler(lua_State *L)
{
    if (is_stray(L, 1)) return 1;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int lua_xpcall_redis(lua_State *L)
{
    luaL_checkany(L, 2);
    lua_settop(L, 2);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, xpcall_handler, 1);   /* the user's handler, bypassed for a stray */
    lua_replace(L, 2);
    lua_insert(L, 1);                          /* handler, function */
    int status = lua_pcall(L, 0, LUA_MULTRET, 1);
    if (status && is_stray(L, -1)) return lua_error(L);
    lua_pushboolean(L, status == 0);
    lua_replace(L, 1);
    return lua_gettop(L);
}

/* ---------- protection ---------- */

static int protected_index(lua_State *L)
{
    /* (proxy, key): read through, or Redis's error for a missing global. */
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    if (!lua_isnil(L, -1) || !lua_toboolean(L, lua_upvalueindex(2))) return 1;
    const char *name = lua_tostring(L, 2);
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'", name ? name : "?");
}

static int protected_newindex(lua_State *L)
{
    return luaL_error(L, "Attempt to modify a readonly table");
}

/* True when the value at idx is one of our read-only proxies. */
static bool is_readonly(lua_State *L, int idx)
{
    if (!lua_istable(L, idx) || !lua_getmetatable(L, idx)) return false;
    lua_pushstring(L, "__ts_ro");
    lua_rawget(L, -2);
    bool ro = lua_toboolean(L, -1);
    lua_pop(L, 2);
    return ro;
}

/* rawset and setmetatable refuse read-only tables, as Redis's Lua does
 * (the error carries no position: it comes from a C function). */
static int refuse_readonly(lua_State *L)
{
    lua_pushstring(L, "Attempt to modify a readonly table");
    return lua_error(L);
}

static int lua_rawset_guarded(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (is_readonly(L, 1)) return refuse_readonly(L);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/* Replaces a read-only proxy at idx with the table it stands for. */
static void unwrap(lua_State *L, int idx)
{
    if (!is_readonly(L, idx)) return;
    lua_getmetatable(L, idx);
    lua_pushstring(L, "__ts_real");
    lua_rawget(L, -2);
    lua_replace(L, idx);
    lua_pop(L, 1);
}

/* next, pairs and rawget see through the proxies (Redis's read-only tables
 * are the tables themselves). */
static int lua_next_unwrapped(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    unwrap(L, 1);
    lua_settop(L, 2);
    if (lua_next(L, 1)) return 2;
    lua_pushnil(L);
    return 1;
}

static int lua_pairs_unwrapped(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushvalue(L, lua_upvalueindex(1));   /* next */
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int lua_rawget_unwrapped(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    unwrap(L, 1);
    lua_settop(L, 2);
    lua_rawget(L, 1);
    return 1;
}

static int lua_setmetatable_guarded(lua_State *L)
{
    if (is_readonly(L, 1)) return refuse_readonly(L);
    lua_pushvalue(L, lua_upvalueindex(1));   /* the original setmetatable */
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* Replaces the table at the top with a read-only proxy of it (strict: a
 * missing key is an error, as for the globals). */
static void make_proxy(lua_State *L, bool strict)
{
    lua_newtable(L);            /* table, proxy */
    lua_newtable(L);            /* table, proxy, mt */
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "__ts_ro");
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__ts_real");
    lua_pushvalue(L, -3);
    lua_pushboolean(L, strict);
    lua_pushcclosure(L, protected_index, 2);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, protected_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);    /* table, proxy */
    lua_remove(L, -2);
}

static void load_lib(lua_State *L, const char *name, lua_CFunction open)
{
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

static void set_fn(lua_State *L, const char *name, lua_CFunction f)
{
    lua_pushcfunction(L, f);
    lua_setfield(L, -2, name);
}

static void set_num(lua_State *L, const char *name, lua_Number v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, name);
}

/* Redis's error handler (eval.c scriptingInit), with a stray passed through. */
static const char err_handler_src[] =
    "local dbg, stray = debug, ...\n"
    "function __redis__err__handler(err)\n"
    "  if err == stray then return err end\n"
    "  local i = dbg.getinfo(2,'nSl')\n"
    "  if i and i.what == 'C' then\n"
    "    i = dbg.getinfo(3,'nSl')\n"
    "  end\n"
    "  if type(err) ~= 'table' then\n"
    "    err = {err='ERR ' .. tostring(err)}"
    "  end"
    "  if i then\n"
    "    err['source'] = i.source\n"
    "    err['line'] = i.currentline\n"
    "  end"
    "  return err\n"
    "end\n";

/* ---------- FUNCTION LOAD's registration ---------- */

static bool valid_function_name(const char *s, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
}

static int register_error(lua_State *L, const char *msg)
{
    ts_lua_push_error(L, msg, strlen(msg));
    return lua_error(L);
}

/* Redis's flag names, case-insensitive, as register_function reads them. */
static bool read_flags(lua_State *L, int idx, unsigned *out)
{
    static const struct { const char *name; unsigned flag; } names[] = {
        {"no-writes", 1u << 0}, {"allow-oom", 1u << 1}, {"allow-stale", 1u << 2},
        {"no-cluster", 1u << 3}, {"allow-cross-slot-keys", 1u << 4},
    };
    unsigned f = 0;
    for (int j = 1;; j++) {
        lua_pushnumber(L, j);
        lua_gettable(L, idx);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        if (!lua_isstring(L, -1)) {
            lua_pop(L, 1);
            return false;
        }
        const char *s = lua_tostring(L, -1);
        size_t k;
        for (k = 0; k < TS_ARRAY_LEN(names); k++)
            if (!strcasecmp(s, names[k].name)) break;
        lua_pop(L, 1);
        if (k == TS_ARRAY_LEN(names)) return false;
        f |= names[k].flag;
    }
    *out = f;
    return true;
}

static int redis_register_function(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "ts_collect");
    if (!lua_istable(L, -1)) return register_error(L, "redis.register_function can only be called on FUNCTION LOAD command");
    int collect = lua_gettop(L);
    int argc = collect - 1;
    if (argc < 1 || argc > 2) return register_error(L, "wrong number of arguments to redis.register_function");
    int name = 0, desc = 0, callback = 0;
    unsigned flags = 0;
    if (argc == 2) {
        if (!lua_isstring(L, 1)) return register_error(L, "first argument to redis.register_function must be a string");
        if (!lua_isfunction(L, 2))
            return register_error(L, "second argument to redis.register_function must be a function");
        name = 1;
        callback = 2;
    } else {
        if (!lua_istable(L, 1))
            return register_error(L, "calling redis.register_function with a single argument is only applicable to "
                                     "Lua table (representing named arguments).");
        /* Fixed slots for what the named arguments give. */
        lua_pushnil(L);
        int name_slot = lua_gettop(L);
        lua_pushnil(L);
        int desc_slot = lua_gettop(L);
        lua_pushnil(L);
        int cb_slot = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, 1)) {
            /* ... key value */
            if (!lua_isstring(L, -2))
                return register_error(L, "named argument key given to redis.register_function is not a string");
            const char *key = lua_tostring(L, -2);
            if (!strcasecmp(key, "function_name")) {
                if (!lua_isstring(L, -1))
                    return register_error(L, "function_name argument given to redis.register_function must be a string");
                lua_replace(L, name_slot);
                name = name_slot;
            } else if (!strcasecmp(key, "description")) {
                if (!lua_isstring(L, -1))
                    return register_error(L, "description argument given to redis.register_function must be a string");
                lua_replace(L, desc_slot);
                desc = desc_slot;
            } else if (!strcasecmp(key, "callback")) {
                if (!lua_isfunction(L, -1))
                    return register_error(L, "callback argument given to redis.register_function must be a function");
                lua_replace(L, cb_slot);
                callback = cb_slot;
            } else if (!strcasecmp(key, "flags")) {
                if (!lua_istable(L, -1))
                    return register_error(L, "flags argument to redis.register_function must be a table representing "
                                             "function flags");
                if (!read_flags(L, lua_gettop(L), &flags)) return register_error(L, "unknown flag given");
                lua_pop(L, 1);
            } else {
                return register_error(L, "unknown argument given to redis.register_function");
            }
        }
        if (!name) return register_error(L, "redis.register_function must get a function name argument");
        if (!callback) return register_error(L, "redis.register_function must get a callback argument");
    }
    size_t nlen;
    const char *n = lua_tolstring(L, name, &nlen);
    if (!valid_function_name(n, nlen))
        return register_error(L, "Library names can only contain letters, numbers, or underscores(_) and must be at "
                                 "least one character long");
    lua_pushvalue(L, name);
    lua_rawget(L, collect);
    if (!lua_isnil(L, -1)) return register_error(L, "Function already exists in the library");
    lua_pop(L, 1);
    lua_pushvalue(L, name);
    lua_newtable(L);
    lua_pushvalue(L, callback);
    lua_setfield(L, -2, "callback");
    if (desc) {
        lua_pushvalue(L, desc);
        lua_setfield(L, -2, "description");
    }
    lua_pushnumber(L, flags);
    lua_setfield(L, -2, "flags");
    lua_rawset(L, collect);
    return 0;
}

/* Functions' environment: the load API while a library registers, the
 * scripts' environment when its functions run. */
static int fenv_index(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "ts_loading");
    bool loading = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, loading ? "ts_load_api" : "ts_env");
    unwrap(L, lua_gettop(L));
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    if (lua_isnil(L, -1)) {
        /* Raised here so the position is the script's line. */
        const char *name = lua_tostring(L, 2);
        return luaL_error(L, "Script attempted to access nonexistent global variable '%s'", name ? name : "?");
    }
    return 1;
}

void ts_lua_push_env(lua_State *L) { lua_getfield(L, LUA_REGISTRYINDEX, "ts_env"); }

static _Thread_local uint64_t load_deadline_us;

/* Redis's luaEngineLoadHook: a library's code that runs too long fails. */
static void load_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (ts_monotonic_us() <= load_deadline_us) return;
    lua_sethook(L, load_hook, LUA_MASKLINE, 0);
    ts_lua_push_error(L, "FUNCTION LOAD timeout", 21);
    lua_error(L);
}

int ts_lua_load_library(lua_State *L, const char *code, size_t len, long long timeout_ms, char *err, size_t errlen)
{
    int collect = lua_gettop(L);
    lua_pushvalue(L, collect);
    lua_setfield(L, LUA_REGISTRYINDEX, "ts_collect");
    int rc = 0;
    if (luaL_loadbuffer(L, code, len, "@user_function") != 0) {
        snprintf(err, errlen, "ERR Error compiling function: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        rc = -1;
    } else {
        lua_getfield(L, LUA_REGISTRYINDEX, "ts_fenv");
        lua_setfenv(L, -2);
        lua_pushboolean(L, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, "ts_loading");
        if (timeout_ms > 0) {
            load_deadline_us = ts_monotonic_us() + (uint64_t)timeout_ms * 1000;
            lua_sethook(L, load_hook, LUA_MASKCOUNT, 100000);
        }
        int status = lua_pcall(L, 0, 0, 0);
        if (timeout_ms > 0) lua_sethook(L, NULL, 0, 0);
        if (status != 0) {
            const char *msg = NULL;
            char tmp[512];
            if (lua_isstring(L, -1)) {
                snprintf(tmp, sizeof tmp, "ERR %s", lua_tostring(L, -1));
                msg = tmp;
            } else if (lua_istable(L, -1)) {
                lua_getfield(L, -1, "err");
                if (lua_isstring(L, -1)) {
                    snprintf(tmp, sizeof tmp, "%s", lua_tostring(L, -1));
                    msg = tmp;
                }
                lua_pop(L, 1);
            }
            snprintf(err, errlen, "ERR Error registering functions: %s", msg ? msg : "(null)");
            lua_pop(L, 1);
            rc = -1;
        }
        lua_pushboolean(L, 0);
        lua_setfield(L, LUA_REGISTRYINDEX, "ts_loading");
    }
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "ts_collect");
    lua_settop(L, collect);
    return rc;
}

static const char *const protected_libs[] = {"string", "math", "table", "cjson", "bit", "struct", "cmsgpack",
                                             "coroutine", "redis"};

static lua_State *new_state(void)
{
    lua_State *L = luaL_newstate();
    load_lib(L, "", luaopen_base);
    load_lib(L, LUA_TABLIBNAME, luaopen_table);
    load_lib(L, LUA_STRLIBNAME, luaopen_string);
    load_lib(L, LUA_MATHLIBNAME, luaopen_math);
    load_lib(L, LUA_DBLIBNAME, luaopen_debug);
    lua_pushcfunction(L, luaopen_cjson);   /* Debian's module returns its table */
    lua_call(L, 0, 1);
    lua_setglobal(L, "cjson");
    load_lib(L, "struct", ts_luaopen_struct);
    load_lib(L, "cmsgpack", ts_luaopen_cmsgpack);
    load_lib(L, "bit", luaopen_bit);
    /* Not in Redis's allow list. */
    static const char *const removed[] = {"dofile", "loadfile", "print", "module", "require", "package"};
    for (size_t i = 0; i < TS_ARRAY_LEN(removed); i++) {
        lua_pushnil(L);
        lua_setglobal(L, removed[i]);
    }
    lua_pushcfunction(L, lua_pcall_redis);
    lua_setglobal(L, "pcall");
    lua_pushcfunction(L, lua_xpcall_redis);
    lua_setglobal(L, "xpcall");
    lua_pushcfunction(L, lua_rawset_guarded);
    lua_setglobal(L, "rawset");
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, lua_setmetatable_guarded, 1);
    lua_setglobal(L, "setmetatable");
    lua_pushcfunction(L, lua_next_unwrapped);
    lua_pushvalue(L, -1);
    lua_setglobal(L, "next");
    lua_pushcclosure(L, lua_pairs_unwrapped, 1);
    lua_setglobal(L, "pairs");
    lua_pushcfunction(L, lua_rawget_unwrapped);
    lua_setglobal(L, "rawget");

    lua_newtable(L);
    set_fn(L, "call", redis_call);
    set_fn(L, "pcall", redis_pcall);
    set_fn(L, "log", redis_log);
    set_num(L, "LOG_DEBUG", 0);
    set_num(L, "LOG_VERBOSE", 1);
    set_num(L, "LOG_NOTICE", 2);
    set_num(L, "LOG_WARNING", 3);
    set_num(L, "REDIS_VERSION_NUM", TS_VERSION_NUM);
    lua_pushstring(L, TS_VERSION);
    lua_setfield(L, -2, "REDIS_VERSION");
    set_fn(L, "setresp", redis_setresp);
    set_fn(L, "sha1hex", redis_sha1hex);
    set_fn(L, "error_reply", redis_error_reply);
    set_fn(L, "status_reply", redis_status_reply);
    set_fn(L, "set_repl", redis_set_repl);
    set_num(L, "REPL_NONE", 0);
    set_num(L, "REPL_AOF", 1);
    set_num(L, "REPL_SLAVE", 2);
    set_num(L, "REPL_REPLICA", 2);
    set_num(L, "REPL_ALL", 3);
    set_fn(L, "replicate_commands", redis_replicate_commands);
    set_fn(L, "breakpoint", redis_breakpoint);
    set_fn(L, "debug", redis_debug);
    lua_setglobal(L, "redis");

    lua_getglobal(L, "math");
    set_fn(L, "random", math_random);
    set_fn(L, "randomseed", math_randomseed);
    lua_pop(L, 1);

    if (luaL_loadbuffer(L, err_handler_src, sizeof err_handler_src - 1, "@err_handler_def") != 0)
        ts_panic("script error handler: %s", lua_tostring(L, -1));
    lua_pushlightuserdata(L, &ts_lua_stray_token);
    lua_call(L, 1, 0);
    lua_pushnil(L);
    lua_setglobal(L, "debug");

    /* Read-only library tables, then the globals themselves: scripts see
     * them through a strict proxy (their environment, eval.c). */
    for (size_t i = 0; i < TS_ARRAY_LEN(protected_libs); i++) {
        lua_getglobal(L, protected_libs[i]);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            continue;
        }
        make_proxy(L, false);
        lua_setglobal(L, protected_libs[i]);
    }
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    make_proxy(L, true);
    lua_pushvalue(L, -1);
    lua_setglobal(L, "_G");           /* _G is the proxy too */
    lua_setfield(L, LUA_REGISTRYINDEX, "ts_env");
    /* FUNCTION LOAD's API: redis.register_function, redis.log, the versions. */
    lua_newtable(L);
    lua_newtable(L);
    set_fn(L, "register_function", redis_register_function);
    set_fn(L, "log", redis_log);
    set_num(L, "LOG_DEBUG", 0);
    set_num(L, "LOG_VERBOSE", 1);
    set_num(L, "LOG_NOTICE", 2);
    set_num(L, "LOG_WARNING", 3);
    set_num(L, "REDIS_VERSION_NUM", TS_VERSION_NUM);
    lua_pushstring(L, TS_VERSION);
    lua_setfield(L, -2, "REDIS_VERSION");
    make_proxy(L, true);
    lua_setfield(L, -2, "redis");
    make_proxy(L, true);
    lua_setfield(L, LUA_REGISTRYINDEX, "ts_load_api");
    lua_newtable(L);                  /* the functions' environment */
    lua_newtable(L);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "__ts_ro");
    lua_pushcfunction(L, fenv_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, protected_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, "ts_fenv");
    /* Strings' methods stay the real ones; their metatable is hidden. */
    lua_pushstring(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return L;
}

lua_State *ts_lua_state(void)
{
    uint64_t gen = atomic_load_explicit(&ts_script_generation, memory_order_acquire);
    if (tl_lua && tl_generation != gen) {
        lua_close(tl_lua);
        tl_lua = NULL;
    }
    if (!tl_lua) {
        /* One at a time: Debian's cjson sets a process-wide variable
         * (fpconv_init) when a state opens it. */
        static pthread_mutex_t create_mu = PTHREAD_MUTEX_INITIALIZER;
        pthread_mutex_lock(&create_mu);
        tl_lua = new_state();
        pthread_mutex_unlock(&create_mu);
        tl_generation = gen;
    }
    return tl_lua;
}

void ts_lua_state_free(void)
{
    if (tl_lua) lua_close(tl_lua);
    tl_lua = NULL;
}
