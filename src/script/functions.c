/*
 * functions.c - Redis 7.0 functions: the process-wide library registry and
 * FUNCTION LOAD | DELETE | FLUSH | LIST | STATS | KILL | HELP | DUMP |
 * RESTORE (FCALL runs in eval.c, as EVAL does).
 *
 * Owns: the registry (libraries: name, full code, functions with their
 * description and flags; a function name -> library index), under a mutex,
 * and its generation. Each thread runs its own copies: before an FCALL it
 * compares the generation it compiled with the registry's and, when behind,
 * loads every library's code into its Lua state again (ts_fn_push).
 * Thread: any worker. A change is published before its command replies, so
 * an FCALL that follows it (on any worker) sees it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "script_int.h"
#include "tessera/cmd/cmd.h"
#include "tessera/persist/rdb.h"
#include "tessera/store/db.h"
#include "tessera/script/script.h"
#include "tessera/util/glob.h"

typedef struct fn_info {
    char *name;
    char *desc;          /* NULL: none */
    unsigned flags;      /* TS_SCRIPT_* (no COMPAT) */
} fn_info;

typedef struct library {
    char *name;
    char *code;          /* as loaded, shebang included */
    size_t len;
    fn_info *fns;
    int nfns;
} library;

typedef struct registry {
    library **libs;
    int n, cap;
} registry;

static pthread_mutex_t fn_mu = PTHREAD_MUTEX_INITIALIZER;
static registry reg;
static atomic_uint_fast64_t fn_generation = 1;

static void library_free(library *l)
{
    if (!l) return;
    for (int i = 0; i < l->nfns; i++) {
        free(l->fns[i].name);
        free(l->fns[i].desc);
    }
    free(l->fns);
    free(l->name);
    free(l->code);
    free(l);
}

static void registry_clear(registry *r)
{
    for (int i = 0; i < r->n; i++) library_free(r->libs[i]);
    free(r->libs);
    *r = (registry){0};
}

static void registry_add(registry *r, library *l)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->libs = ts_realloc(r->libs, sizeof(*r->libs) * (size_t)r->cap);
    }
    r->libs[r->n++] = l;
}

static int find_library(const registry *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->libs[i]->name, name)) return i;
    return -1;
}

static const library *function_owner(const registry *r, const char *name, const fn_info **fi)
{
    for (int i = 0; i < r->n; i++)
        for (int j = 0; j < r->libs[i]->nfns; j++)
            if (!strcmp(r->libs[i]->fns[j].name, name)) {
                if (fi) *fi = &r->libs[i]->fns[j];
                return r->libs[i];
            }
    return NULL;
}

static char *dup_str(const char *p, size_t n)
{
    char *s = ts_malloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* ---------- building a library from its code ---------- */

static bool valid_name(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

/* Redis's functionExtractLibMetaData and engine->create: the library, or
 * NULL with Redis's error text in err (with its code). */
#define LOAD_TIMEOUT_MS 500   /* Redis's LOAD_TIMEOUT_MS */

static library *library_build(const char *code, size_t len, long long timeout_ms, char *err, size_t errlen)
{
    if (len < 2 || code[0] != '#' || code[1] != '!') {
        snprintf(err, errlen, "ERR Missing library metadata");
        return NULL;
    }
    const char *nl = memchr(code, '\n', len);
    if (!nl) {
        snprintf(err, errlen, "ERR Invalid library metadata");
        return NULL;
    }
    char *line = dup_str(code, (size_t)(nl - code));
    char *save = NULL, *engine = strtok_r(line, " \t\r", &save);
    char *name = NULL;
    bool ok = engine != NULL;
    if (!ok) snprintf(err, errlen, "ERR Invalid library metadata");
    for (char *part; ok && (part = strtok_r(NULL, " \t\r", &save)) != NULL;) {
        if (!strncasecmp(part, "name=", 5)) {
            if (name) {
                snprintf(err, errlen, "ERR Invalid metadata value, name argument was given multiple times");
                ok = false;
            } else {
                name = part + 5;
            }
            continue;
        }
        snprintf(err, errlen, "ERR Invalid metadata value given: %s", part);
        ok = false;
    }
    if (ok && !name) {
        snprintf(err, errlen, "ERR Library name was not given");
        ok = false;
    }
    if (ok && !valid_name(name)) {
        snprintf(err, errlen, "ERR Library names can only contain letters, numbers, or underscores(_) and must be at "
                              "least one character long");
        ok = false;
    }
    if (ok && strcasecmp(engine + 2, "lua") != 0) {
        snprintf(err, errlen, "ERR Engine '%s' not found", engine + 2);
        ok = false;
    }
    library *l = NULL;
    if (ok) {
        lua_State *L = ts_lua_state();
        int base = lua_gettop(L);
        lua_newtable(L);
        if (ts_lua_load_library(L, nl, len - (size_t)(nl - code), timeout_ms, err, errlen) == 0) {
            l = ts_calloc(1, sizeof(*l));
            l->name = ts_strndup(name, strlen(name));
            l->code = dup_str(code, len);
            l->len = len;
            lua_pushnil(L);
            while (lua_next(L, base + 1)) {
                l->fns = ts_realloc(l->fns, sizeof(fn_info) * (size_t)(l->nfns + 1));
                fn_info *fi = &l->fns[l->nfns++];
                size_t n;
                const char *fname = lua_tolstring(L, -2, &n);
                fi->name = dup_str(fname, n);
                lua_getfield(L, -1, "description");
                fi->desc = lua_isstring(L, -1) ? ts_strndup(lua_tostring(L, -1), lua_strlen(L, -1)) : NULL;
                lua_pop(L, 1);
                lua_getfield(L, -1, "flags");
                fi->flags = (unsigned)lua_tonumber(L, -1);
                lua_pop(L, 2);
            }
            if (l->nfns == 0) {
                snprintf(err, errlen, "ERR No functions registered");
                library_free(l);
                l = NULL;
            }
        }
        lua_settop(L, base);
    }
    free(line);
    return l;
}

/* Adds lib to r (replacing a library of the same name when replace);
 * false with Redis's error when names collide. Takes lib on success. */
static bool registry_join(registry *r, library *lib, bool replace, char *err, size_t errlen)
{
    int old = find_library(r, lib->name);
    if (old >= 0 && !replace) {
        snprintf(err, errlen, "ERR Library '%s' already exists", lib->name);
        return false;
    }
    for (int j = 0; j < lib->nfns; j++) {
        const library *owner = function_owner(r, lib->fns[j].name, NULL);
        if (owner && (old < 0 || owner != r->libs[old])) {
            snprintf(err, errlen, "ERR Function %s already exists", lib->fns[j].name);
            return false;
        }
    }
    if (old >= 0) {
        library_free(r->libs[old]);
        r->libs[old] = lib;
    } else {
        registry_add(r, lib);
    }
    return true;
}

static void published(void) { atomic_fetch_add_explicit(&fn_generation, 1, memory_order_release); }

/* ---------- per-thread copies ---------- */

bool ts_fn_push(lua_State *L, const char *name, size_t len, unsigned *flags)
{
    uint64_t gen = atomic_load_explicit(&fn_generation, memory_order_acquire);
    lua_getfield(L, LUA_REGISTRYINDEX, "ts_fns_gen");
    bool fresh = lua_isnumber(L, -1) && (uint64_t)lua_tonumber(L, -1) == gen;
    lua_pop(L, 1);
    if (!fresh) {
        /* Load every library again (their code was checked when it came). */
        pthread_mutex_lock(&fn_mu);
        gen = atomic_load_explicit(&fn_generation, memory_order_acquire);
        int n = reg.n;
        char **codes = ts_malloc(sizeof(char *) * (size_t)(n ? n : 1));
        size_t *lens = ts_malloc(sizeof(size_t) * (size_t)(n ? n : 1));
        for (int i = 0; i < n; i++) {
            codes[i] = dup_str(reg.libs[i]->code, reg.libs[i]->len);
            lens[i] = reg.libs[i]->len;
        }
        pthread_mutex_unlock(&fn_mu);
        lua_newtable(L);
        int all = lua_gettop(L);
        for (int i = 0; i < n; i++) {
            const char *nl = memchr(codes[i], '\n', lens[i]);
            char err[256];
            lua_newtable(L);
            if (nl && ts_lua_load_library(L, nl, lens[i] - (size_t)(nl - codes[i]), 0, err, sizeof err) == 0) {
                lua_pushnil(L);
                while (lua_next(L, -2)) {
                    lua_pushvalue(L, -2);
                    lua_insert(L, -2);
                    lua_rawset(L, all);
                }
            }
            lua_pop(L, 1);
            free(codes[i]);
        }
        free(codes);
        free(lens);
        lua_setfield(L, LUA_REGISTRYINDEX, "ts_fns");
        lua_pushnumber(L, (lua_Number)gen);
        lua_setfield(L, LUA_REGISTRYINDEX, "ts_fns_gen");
    }
    lua_getfield(L, LUA_REGISTRYINDEX, "ts_fns");
    lua_pushlstring(L, name, len);
    lua_rawget(L, -2);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 2);
        return false;
    }
    lua_getfield(L, -1, "flags");
    *flags = (unsigned)lua_tonumber(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, -1, "callback");
    lua_replace(L, -3);
    lua_pop(L, 1);
    return true;
}

/* ---------- RDB / DUMP (opcode FUNCTION2 + the code) ---------- */

void ts_functions_rdb_save(ts_buf *out, bool compress)
{
    pthread_mutex_lock(&fn_mu);
    for (int i = 0; i < reg.n; i++) {
        ts_buf_putc(out, (char)TS_RDB_OPCODE_FUNCTION2);
        ts_rdb_save_string(out, reg.libs[i]->code, reg.libs[i]->len, compress);
    }
    pthread_mutex_unlock(&fn_mu);
}

void ts_functions_aof_commands(ts_buf *out)
{
    pthread_mutex_lock(&fn_mu);
    for (int i = 0; i < reg.n; i++) {
        char hdr[64];
        int n = snprintf(hdr, sizeof hdr, "*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n$%zu\r\n", reg.libs[i]->len);
        ts_buf_append(out, hdr, (size_t)n);
        ts_buf_append(out, reg.libs[i]->code, reg.libs[i]->len);
        ts_buf_append(out, "\r\n", 2);
    }
    pthread_mutex_unlock(&fn_mu);
}

int ts_functions_rdb_load(const char *code, size_t len, char *err, size_t errlen)
{
    library *l = library_build(code, len, 0, err, errlen);   /* from a file: no time limit, as Redis */
    if (!l) return -1;
    pthread_mutex_lock(&fn_mu);
    bool ok = registry_join(&reg, l, false, err, errlen);
    if (ok) published();
    pthread_mutex_unlock(&fn_mu);
    if (!ok) library_free(l);
    return ok ? 0 : -1;
}

void ts_functions_stats(size_t *libraries, size_t *functions)
{
    pthread_mutex_lock(&fn_mu);
    *libraries = (size_t)reg.n;
    *functions = 0;
    for (int i = 0; i < reg.n; i++) *functions += (size_t)reg.libs[i]->nfns;
    pthread_mutex_unlock(&fn_mu);
}

/* ---------- FUNCTION ---------- */

static void cmd_function_load(ts_cmd_ctx *c)
{
    bool replace = false;
    int pos = 2;
    while (pos < c->argc - 1) {
        ts_arg a = c->argv[pos++];
        if (ts_arg_eq(a, "replace")) {
            replace = true;
            continue;
        }
        char *s = dup_str(a.ptr, a.len);
        ts_reply_errorf(c->r, "ERR Unknown option given: %s", s);
        free(s);
        return;
    }
    if (pos >= c->argc) {
        ts_reply_error(c->r, "ERR Function code is missing");
        return;
    }
    char err[512];
    library *l = library_build(c->argv[pos].ptr, c->argv[pos].len, LOAD_TIMEOUT_MS, err, sizeof err);
    if (!l) {
        ts_reply_error(c->r, err);
        return;
    }
    char *name = ts_strndup(l->name, strlen(l->name));
    pthread_mutex_lock(&fn_mu);
    bool ok = registry_join(&reg, l, replace, err, sizeof err);
    if (ok) published();
    pthread_mutex_unlock(&fn_mu);
    if (!ok) {
        library_free(l);
        ts_reply_error(c->r, err);
    } else {
        ts_reply_bulk(c->r, name, strlen(name));
    }
    free(name);
}

static void cmd_function_delete(ts_cmd_ctx *c)
{
    char *name = dup_str(c->argv[2].ptr, c->argv[2].len);
    pthread_mutex_lock(&fn_mu);
    int i = find_library(&reg, name);
    if (i >= 0) {
        library_free(reg.libs[i]);
        memmove(reg.libs + i, reg.libs + i + 1, sizeof(library *) * (size_t)(reg.n - i - 1));
        reg.n--;
        published();
    }
    pthread_mutex_unlock(&fn_mu);
    free(name);
    if (i < 0) ts_reply_error(c->r, "ERR Library not found");
    else ts_reply_ok(c->r);
}

static void cmd_function_flush(ts_cmd_ctx *c)
{
    if (c->argc > 3) {
        ts_reply_error(c->r, "ERR unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP.");
        return;
    }
    if (c->argc == 3 && !ts_arg_eq(c->argv[2], "sync") && !ts_arg_eq(c->argv[2], "async")) {
        ts_reply_error(c->r, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    pthread_mutex_lock(&fn_mu);
    registry_clear(&reg);
    published();
    pthread_mutex_unlock(&fn_mu);
    ts_reply_ok(c->r);
}

static const char *const flag_names[] = {"no-writes", "allow-oom", "allow-stale", "no-cluster",
                                          "allow-cross-slot-keys"};

static void cmd_function_list(ts_cmd_ctx *c)
{
    bool with_code = false;
    char *pattern = NULL;
    for (int i = 2; i < c->argc; i++) {
        ts_arg a = c->argv[i];
        if (!with_code && ts_arg_eq(a, "withcode")) {
            with_code = true;
            continue;
        }
        if (!pattern && ts_arg_eq(a, "libraryname")) {
            if (i >= c->argc - 1) {
                ts_reply_error(c->r, "ERR library name argument was not given");
                free(pattern);
                return;
            }
            i++;
            pattern = dup_str(c->argv[i].ptr, c->argv[i].len);
            continue;
        }
        char *s = dup_str(a.ptr, a.len);
        ts_reply_errorf(c->r, "ERR Unknown argument %s", s);
        free(s);
        free(pattern);
        return;
    }
    pthread_mutex_lock(&fn_mu);
    size_t h = ts_reply_defer(c->r);
    long n = 0;
    for (int i = 0; i < reg.n; i++) {
        const library *l = reg.libs[i];
        if (pattern && !ts_glob_match(pattern, strlen(pattern), l->name, strlen(l->name), false)) continue;
        n++;
        ts_reply_map(c->r, with_code ? 4 : 3);
        ts_reply_cstr(c->r, "library_name");
        ts_reply_cstr(c->r, l->name);
        ts_reply_cstr(c->r, "engine");
        ts_reply_cstr(c->r, "LUA");
        ts_reply_cstr(c->r, "functions");
        ts_reply_array(c->r, l->nfns);
        for (int j = 0; j < l->nfns; j++) {
            const fn_info *fi = &l->fns[j];
            ts_reply_map(c->r, 3);
            ts_reply_cstr(c->r, "name");
            ts_reply_cstr(c->r, fi->name);
            ts_reply_cstr(c->r, "description");
            if (fi->desc) ts_reply_cstr(c->r, fi->desc);
            else ts_reply_null(c->r);
            ts_reply_cstr(c->r, "flags");
            long nf = 0;
            for (size_t k = 0; k < TS_ARRAY_LEN(flag_names); k++) nf += (fi->flags >> k) & 1;
            ts_reply_set(c->r, nf);
            for (size_t k = 0; k < TS_ARRAY_LEN(flag_names); k++)
                if ((fi->flags >> k) & 1) ts_reply_simple(c->r, flag_names[k]);
        }
        if (with_code) {
            ts_reply_cstr(c->r, "library_code");
            ts_reply_bulk(c->r, l->code, l->len);
        }
    }
    ts_reply_set_array_len(c->r, h, n);
    pthread_mutex_unlock(&fn_mu);
    free(pattern);
}

static void cmd_function_stats(ts_cmd_ctx *c)
{
    size_t libs, fns;
    ts_functions_stats(&libs, &fns);
    size_t mark = c->r->out->len;
    ts_reply_map(c->r, 2);
    ts_reply_cstr(c->r, "running_script");
    if (!ts_script_reply_running(c)) {   /* an EVAL is busy */
        c->r->out->len = mark;
        ts_reply_error(c->r, TS_ERR_BUSY_EVAL);
        return;
    }
    ts_reply_cstr(c->r, "engines");
    ts_reply_map(c->r, 1);
    ts_reply_cstr(c->r, "LUA");
    ts_reply_map(c->r, 2);
    ts_reply_cstr(c->r, "libraries_count");
    ts_reply_int(c->r, (long long)libs);
    ts_reply_cstr(c->r, "functions_count");
    ts_reply_int(c->r, (long long)fns);
}

static void cmd_function_kill(ts_cmd_ctx *c) { ts_script_kill(c, false); }

static void cmd_function_dump(ts_cmd_ctx *c)
{
    ts_buf out;
    ts_buf_init(&out);
    ts_functions_rdb_save(&out, ts_db_config(&c->ex)->rdbcompression);
    unsigned char ver[2] = {TS_RDB_VERSION & 0xff, (TS_RDB_VERSION >> 8) & 0xff};
    ts_buf_append(&out, ver, 2);
    uint64_t crc = ts_crc64(0, out.data, out.len);
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(crc >> (8 * i));
    ts_buf_append(&out, b, 8);
    ts_reply_bulk(c->r, out.data, out.len);
    ts_buf_free(&out);
}

static void cmd_function_restore(ts_cmd_ctx *c)
{
    if (c->argc > 4) {
        ts_reply_error(c->r, "ERR unknown subcommand or wrong number of arguments for 'restore'. Try FUNCTION HELP.");
        return;
    }
    enum { APPEND, REPLACE, FLUSH } policy = APPEND;
    if (c->argc == 4) {
        if (ts_arg_eq(c->argv[3], "append")) policy = APPEND;
        else if (ts_arg_eq(c->argv[3], "replace")) policy = REPLACE;
        else if (ts_arg_eq(c->argv[3], "flush")) policy = FLUSH;
        else {
            ts_reply_error(c->r, "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
            return;
        }
    }
    const unsigned char *p = (const unsigned char *)c->argv[2].ptr;
    size_t n = c->argv[2].len;
    bool footer_ok = n >= 10;
    if (footer_ok) {
        unsigned ver = (unsigned)p[n - 10] | ((unsigned)p[n - 9] << 8);
        uint64_t crc = 0;
        for (int i = 0; i < 8; i++) crc |= (uint64_t)p[n - 8 + i] << (8 * i);
        footer_ok = ver <= TS_RDB_VERSION && ts_crc64(0, p, n - 8) == crc;
    }
    if (!footer_ok) {
        ts_reply_error(c->r, "ERR DUMP payload version or checksum are wrong");
        return;
    }
    registry fresh = {0};
    char err[512] = "";
    bool ok = true;
    ts_rdb_reader r;
    ts_rdb_reader_init(&r, p, n - 10);
    while (ok && r.p < r.end) {
        int type;
        if (ts_rdb_read_byte(&r, &type) != 0) {
            snprintf(err, sizeof err, "ERR can not read data type");
            ok = false;
            break;
        }
        if (type != TS_RDB_OPCODE_FUNCTION2) {
            snprintf(err, sizeof err, "ERR given type is not a function");
            ok = false;
            break;
        }
        char *code;
        size_t len;
        if (ts_rdb_read_string(&r, &code, &len) != 0) {
            snprintf(err, sizeof err, "ERR failed loading the given functions payload");
            ok = false;
            break;
        }
        library *l = library_build(code, len, LOAD_TIMEOUT_MS, err, sizeof err);
        free(code);
        if (!l || !registry_join(&fresh, l, false, err, sizeof err)) {
            library_free(l);
            ok = false;
        }
    }
    if (ok) {
        pthread_mutex_lock(&fn_mu);
        if (policy == FLUSH) {
            registry_clear(&reg);
            reg = fresh;
            fresh = (registry){0};
        } else {
            /* All or nothing: check every library first. */
            for (int i = 0; i < fresh.n && ok; i++) {
                int old = find_library(&reg, fresh.libs[i]->name);
                if (old >= 0 && policy != REPLACE) {
                    snprintf(err, sizeof err, "ERR Library %s already exists", fresh.libs[i]->name);
                    ok = false;
                }
                for (int j = 0; ok && j < fresh.libs[i]->nfns; j++) {
                    const library *owner = function_owner(&reg, fresh.libs[i]->fns[j].name, NULL);
                    if (owner && (old < 0 || owner != reg.libs[old])) {
                        snprintf(err, sizeof err, "ERR Function %s already exists", fresh.libs[i]->fns[j].name);
                        ok = false;
                    }
                }
            }
            for (int i = 0; ok && i < fresh.n; i++) {
                registry_join(&reg, fresh.libs[i], true, err, sizeof err);
                fresh.libs[i] = NULL;
            }
        }
        if (ok) published();
        pthread_mutex_unlock(&fn_mu);
    }
    registry_clear(&fresh);
    if (ok) ts_reply_ok(c->r);
    else ts_reply_error(c->r, err);
}

static void cmd_function_help(ts_cmd_ctx *c)
{
    static const char *const help[] = {
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION "
        "RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    };
    ts_reply_status_lines(c->r, help, TS_ARRAY_LEN(help));
}

void ts_functions_bind(void)
{
    ts_command_bind("function|load", cmd_function_load, NULL);
    ts_command_bind("function|delete", cmd_function_delete, NULL);
    ts_command_bind("function|flush", cmd_function_flush, NULL);
    ts_command_bind("function|list", cmd_function_list, NULL);
    ts_command_bind("function|stats", cmd_function_stats, NULL);
    ts_command_bind("function|kill", cmd_function_kill, NULL);
    ts_command_bind("function|dump", cmd_function_dump, NULL);
    ts_command_bind("function|restore", cmd_function_restore, NULL);
    ts_command_bind("function|help", cmd_function_help, NULL);
}

void ts_functions_free(void)
{
    pthread_mutex_lock(&fn_mu);
    registry_clear(&reg);
    pthread_mutex_unlock(&fn_mu);
}
