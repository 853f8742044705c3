/*
 * eval.c - EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT: the script
 * cache, the checks Redis 7.0 makes, and the two ways a script runs
 * (docs/architecture.md, "Scripts"):
 *
 *   L  on the thread that owns the shard of its declared keys (inline on
 *      the client's worker, or as the one step of a txn locking the
 *      declared keys on another shard). Every redis.call runs there; a
 *      call that needs another shard, or a key a txn holds, is a *stray*:
 *      the run is abandoned (Lua unwinds with a token our pcall/xpcall
 *      let through), the keys it changed get back the values they had (the
 *      undo log: each written key's original is kept and a copy is changed
 *      instead), nothing is replied or logged, and the script runs again
 *      in G.
 *   G  on the coordinator, holding every shard exclusively: a call for
 *      another shard runs on its owner through ts_engine_call (the
 *      coordinator waits; route/engine.h says why that cannot deadlock),
 *      a multi-shard command through its own protocol, phase by phase.
 * Either way the script is atomic, its writes are applied once, and its
 * effects reach the AOF as the commands it ran, wrapped in MULTI/EXEC when
 * more than one (inside EXEC, EXEC's block holds them).
 *
 * Owns: the process-wide script cache (SHA1 -> body and flags, under a
 * mutex; each thread compiles what it runs into its own Lua state), the
 * cache generation (SCRIPT FLUSH).
 * Thread: any worker.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script_int.h"
#include "tessera/cmd/cmd.h"
#include "tessera/route/acl.h"
#include "tessera/route/blocking.h"
#include "tessera/route/engine.h"
#include "tessera/route/run.h"
#include "tessera/route/slot.h"
#include "tessera/script/script.h"
#include "tessera/store/blocked_keys.h"
#include "tessera/store/db.h"
#include "tessera/store/lazyfree.h"
#include "tessera/types/object.h"
#include "tessera/util/clock.h"
#include "tessera/util/log.h"
#include "tessera/util/sha1.h"

atomic_uint_fast64_t ts_script_generation;

/* ---------- the cache ---------- */

typedef struct cached_script {
    struct cached_script *next;
    char sha[41];
    char *body;
    size_t len;
} cached_script;

#define CACHE_BUCKETS 4096
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static cached_script *cache[CACHE_BUCKETS];
static size_t cache_count, cache_bytes;

static unsigned sha_bucket(const char *sha)
{
    unsigned h = 0;
    for (int i = 0; i < 8; i++) h = h * 16 + (unsigned)(sha[i] <= '9' ? sha[i] - '0' : (sha[i] | 32) - 'a' + 10);
    return h % CACHE_BUCKETS;
}

static void lower_sha(char out[41], const char *sha)
{
    for (int i = 0; i < 40; i++) out[i] = (sha[i] >= 'A' && sha[i] <= 'Z') ? (char)(sha[i] + 32) : sha[i];
    out[40] = '\0';
}

/* A copy of the body of sha (caller frees), or NULL. */
static char *cache_get(const char *sha, size_t *len)
{
    char *out = NULL;
    pthread_mutex_lock(&cache_mu);
    for (cached_script *c = cache[sha_bucket(sha)]; c; c = c->next) {
        if (memcmp(c->sha, sha, 40) == 0) {
            out = ts_malloc(c->len + 1);
            memcpy(out, c->body, c->len + 1);
            *len = c->len;
            break;
        }
    }
    pthread_mutex_unlock(&cache_mu);
    return out;
}

static bool cache_has(const char *sha)
{
    bool found = false;
    pthread_mutex_lock(&cache_mu);
    for (cached_script *c = cache[sha_bucket(sha)]; c && !found; c = c->next) found = memcmp(c->sha, sha, 40) == 0;
    pthread_mutex_unlock(&cache_mu);
    return found;
}

static void cache_put(const char *sha, const char *body, size_t len)
{
    pthread_mutex_lock(&cache_mu);
    unsigned b = sha_bucket(sha);
    for (cached_script *c = cache[b]; c; c = c->next) {
        if (memcmp(c->sha, sha, 40) == 0) {
            pthread_mutex_unlock(&cache_mu);
            return;
        }
    }
    cached_script *c = ts_malloc(sizeof(*c));
    memcpy(c->sha, sha, 41);
    c->body = ts_malloc(len + 1);
    memcpy(c->body, body, len);
    c->body[len] = '\0';
    c->len = len;
    c->next = cache[b];
    cache[b] = c;
    cache_count++;
    cache_bytes += len + 40;
    pthread_mutex_unlock(&cache_mu);
}

static void cache_flush(void)
{
    pthread_mutex_lock(&cache_mu);
    for (unsigned b = 0; b < CACHE_BUCKETS; b++) {
        cached_script *c = cache[b];
        while (c) {
            cached_script *next = c->next;
            free(c->body);
            free(c);
            c = next;
        }
        cache[b] = NULL;
    }
    cache_count = cache_bytes = 0;
    /* Every thread drops its compiled functions before its next script. */
    atomic_fetch_add_explicit(&ts_script_generation, 1, memory_order_release);
    pthread_mutex_unlock(&cache_mu);
}

void ts_script_cache_stats(size_t *count, size_t *bytes)
{
    pthread_mutex_lock(&cache_mu);
    *count = cache_count;
    *bytes = cache_bytes;
    pthread_mutex_unlock(&cache_mu);
}

/* ---------- shebang ---------- */

static const struct { const char *name; unsigned flag; } script_flags[] = {
    {"no-writes", TS_SCRIPT_NO_WRITES}, {"allow-oom", TS_SCRIPT_ALLOW_OOM},
    {"allow-stale", TS_SCRIPT_ALLOW_STALE}, {"no-cluster", TS_SCRIPT_NO_CLUSTER},
    {"allow-cross-slot-keys", TS_SCRIPT_CROSS_SLOT},
};

/* Redis's evalExtractShebangFlags: *flags, the shebang's length (kept out
 * of the compiled code, its line feed stays), or an error text in err. */
static bool parse_shebang(const char *body, size_t len, unsigned *flags, size_t *skip, char *err, size_t errlen)
{
    *flags = TS_SCRIPT_COMPAT;
    *skip = 0;
    if (len < 2 || body[0] != '#' || body[1] != '!') return true;
    const char *nl = memchr(body, '\n', len);
    if (!nl) {
        snprintf(err, errlen, "ERR Invalid script shebang");
        return false;
    }
    *skip = (size_t)(nl - body);
    /* Split on spaces (sdssplitargs: quotes are not expected here). */
    char *line = ts_malloc(*skip + 1);
    memcpy(line, body, *skip);
    line[*skip] = '\0';
    char *save = NULL;
    char *part = strtok_r(line, " \t\r", &save);
    bool ok = true;
    if (!part) {
        snprintf(err, errlen, "ERR Invalid engine in script shebang");
        ok = false;
    } else if (strcmp(part, "#!lua") != 0) {
        snprintf(err, errlen, "ERR Unexpected engine in script shebang: %s", part);
        ok = false;
    } else {
        *flags = 0;
        while (ok && (part = strtok_r(NULL, " \t\r", &save)) != NULL) {
            if (strncmp(part, "flags=", 6) != 0) {
                snprintf(err, errlen, "ERR Unknown lua shebang option: %s", part);
                ok = false;
                break;
            }
            char *list = part + 6, *fs = NULL;
            /* An empty list is allowed ("flags="); each name must be known. */
            for (char *f = strtok_r(list, ",", &fs); f; f = strtok_r(NULL, ",", &fs)) {
                size_t k;
                for (k = 0; k < TS_ARRAY_LEN(script_flags); k++)
                    if (!strcmp(f, script_flags[k].name)) break;
                if (k == TS_ARRAY_LEN(script_flags)) {
                    snprintf(err, errlen, "ERR Unexpected flag in script shebang: %s", f);
                    ok = false;
                    break;
                }
                *flags |= script_flags[k].flag;
            }
        }
    }
    free(line);
    return ok;
}

/* ---------- compiled functions (per thread) ---------- */

/* Pushes f_<sha>, compiling body when the thread has not yet: false after
 * writing the compile error to r (nothing pushed). *flags: its flags. */
static bool push_function(lua_State *L, const char *sha, const char *body, size_t len, unsigned *flags, ts_reply *r)
{
    char fname[43] = "f_";
    memcpy(fname + 2, sha, 41);
    lua_getfield(L, LUA_REGISTRYINDEX, fname);
    if (!lua_isnil(L, -1)) {
        char flagkey[48];
        snprintf(flagkey, sizeof flagkey, "flags_%s", sha);
        lua_getfield(L, LUA_REGISTRYINDEX, flagkey);
        *flags = (unsigned)lua_tonumber(L, -1);
        lua_pop(L, 1);
        return true;
    }
    lua_pop(L, 1);
    char err[256];
    size_t skip;
    if (!parse_shebang(body, len, flags, &skip, err, sizeof err)) {
        ts_reply_error(r, err);
        return false;
    }
    if (luaL_loadbuffer(L, body + skip, len - skip, "@user_script") != 0) {
        ts_reply_errorf(r, "ERR Error compiling script (new function): %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return false;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, "ts_env");
    lua_setfenv(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, fname);
    char flagkey[48];
    snprintf(flagkey, sizeof flagkey, "flags_%s", sha);
    lua_pushnumber(L, *flags);
    lua_setfield(L, LUA_REGISTRYINDEX, flagkey);
    return true;
}

/* ---------- undo (L with several shards) ---------- */

#define UNDO_MAX_EFFORT 4096   /* a bigger value is not copied: the run goes to G instead */

static bool undo_has(const ts_script_run *run, int db, ts_arg key)
{
    for (int i = 0; i < run->nundo; i++)
        if (run->undo[i].db == db && run->undo[i].klen == key.len && memcmp(run->undo[i].key, key.ptr, key.len) == 0)
            return true;
    return false;
}

/* Keeps key's current value aside and lets the command change a copy.
 * False when the value is too big to copy (the caller strays). */
static bool undo_save(ts_script_run *run, int db, ts_arg key)
{
    if (undo_has(run, db, key)) return true;
    ts_table *t = &run->e->shard.dbs[db];
    ts_entry *e = ts_table_find(t, key.ptr, key.len);
    ts_undo_rec rec = {.db = db, .klen = key.len, .present = e != NULL};
    if (e) {
        ts_value cur;
        ts_entry_value(e, &cur);
        if (ts_value_free_effort(&cur) > UNDO_MAX_EFFORT) return false;
        rec.lru = ts_entry_lru(e);
        ts_table_detach(t, e, &rec.v, &rec.expire);
        ts_value copy;
        ts_value_dup(&rec.v, &copy);
        ts_entry *ne = ts_table_set(t, key.ptr, key.len, &copy, rec.expire, false);
        ts_entry_set_lru(ne, rec.lru);
        if (copy.form == TS_FORM_INLINE) free((void *)copy.s.ptr);
    }
    rec.key = ts_malloc(key.len + 1);
    memcpy(rec.key, key.ptr, key.len);
    if (run->nundo == run->undo_cap) {
        run->undo_cap = run->undo_cap ? run->undo_cap * 2 : 8;
        run->undo = ts_realloc(run->undo, sizeof(*run->undo) * (size_t)run->undo_cap);
    }
    run->undo[run->nundo++] = rec;
    return true;
}

/* The run is abandoned: every key it wrote gets its original back. */
static void undo_rollback(ts_script_run *run)
{
    for (int i = run->nundo - 1; i >= 0; i--) {
        ts_undo_rec *rec = &run->undo[i];
        ts_table *t = &run->e->shard.dbs[rec->db];
        ts_entry *e = ts_table_find(t, rec->key, rec->klen);
        if (e) ts_table_delete_entry(t, e);
        if (rec->present) {
            ts_entry *ne = ts_table_set(t, rec->key, rec->klen, &rec->v, rec->expire, false);
            ts_entry_set_lru(ne, rec->lru);
            if (rec->v.form == TS_FORM_INLINE) free((void *)rec->v.s.ptr);
        }
        free(rec->key);
    }
    free(run->undo);
    run->undo = NULL;
    run->nundo = run->undo_cap = 0;
}

/* The run completed: the originals go. */
static void undo_commit(ts_script_run *run)
{
    for (int i = 0; i < run->nundo; i++) {
        ts_undo_rec *rec = &run->undo[i];
        if (rec->present) {
            if (rec->v.form == TS_FORM_INLINE) free((void *)rec->v.s.ptr);
            else ts_value_free(&rec->v);
        }
        free(rec->key);
    }
    free(run->undo);
    run->undo = NULL;
    run->nundo = run->undo_cap = 0;
}

/* Before a write in L: keep aside every key it may change. */
static bool undo_before(ts_script_run *run, const ts_command *cmd, int argc, const ts_arg *argv)
{
    ts_key_ref stack[16];
    int n = ts_command_keys_with_flags(cmd, argc, argv, stack, 16);
    ts_key_ref *refs = stack;
    if (n > 16) {
        refs = ts_malloc(sizeof(ts_key_ref) * (size_t)n);
        n = ts_command_keys_with_flags(cmd, argc, argv, refs, n);
    }
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        uint32_t f = refs[i].flags;
        if (f && !(f & (TS_KEY_RW | TS_KEY_OW | TS_KEY_RM | TS_KEY_INSERT | TS_KEY_DELETE | TS_KEY_UPDATE))) continue;
        ok = undo_save(run, run->db, argv[refs[i].pos]);
    }
    if (refs != stack) free(refs);
    return ok;
}

/* ---------- redis.call ---------- */

static int call_error(lua_State *L, const char *msg, bool raise)
{
    ts_lua_push_error(L, msg, strlen(msg));
    /* Redis marks it so EVAL's own error reply does not count it twice. */
    lua_pushstring(L, "ignore_error_stats_update");
    lua_pushboolean(L, 1);
    lua_settable(L, -3);
    return raise ? -1 : 1;
}

static int stray(lua_State *L, ts_script_run *run)
{
    run->stray = true;
    lua_pushlightuserdata(L, &ts_lua_stray_token);
    return -1;
}

typedef struct call_args {
    const ts_command *cmd;
    int db, argc, resp;
    ts_arg *argv;
    ts_buf *out;
    ts_aof_log *aof;
    int64_t now_ms;
    uint64_t client_id;
    bool client_local;
} call_args;

/* Runs one command on engine (the calling thread's, or a held shard's
 * owner through ts_engine_call). */
static void run_on(void *engine, void *arg)
{
    ts_engine *e = engine;
    call_args *a = arg;
    ts_reply r;
    ts_reply_init(&r, a->out, a->resp);
    ts_cmd_ctx ctx;
    ts_run_ctx_init(&ctx, e, a->cmd, a->db, a->argc, a->argv, &r);
    ctx.now_ms = a->now_ms;
    ctx.aof = a->aof;
    ctx.client_id = a->client_id;
    ctx.client_local = a->client_local;
    ctx.defer_blocked = true;
    ts_run_command(e, &ctx);
}

static void run_part_step(void *engine, void *arg) { ts_txn_run_part_step(engine, arg); }

/* G: a multi-shard command through its own protocol, phase by phase, each
 * part on its owner. */
static void run_member(ts_script_run *run, const ts_command *cmd, int argc, ts_arg *argv, const int *pos, int nkeys,
                       ts_buf *out, ts_aof_log *aof)
{
    ts_engine *e = run->e;
    ts_txn *m = ts_txn_new(e, NULL, NULL, run->client_id, cmd, run->db, run->resp, argc, argv, pos, nkeys);
    m->client_local = run->client_local;
    m->now_ms = run->now_ms;
    m->phase = 0;
    for (int j = 0; j < m->nparts; j++) ts_engine_call(e, ts_engine_of(e, m->parts[j].shard), run_part_step, &m->parts[j]);
    for (int next = m->ops->after(m); next >= 0; next = m->ops->after(m)) {
        m->phase = next;
        for (int j = 0; j < m->nparts; j++)
            ts_engine_call(e, ts_engine_of(e, m->parts[j].shard), run_part_step, &m->parts[j]);
    }
    ts_buf_append(out, m->reply_buf.data, m->reply_buf.len);
    if (aof) ts_txn_log_into(aof, m);
    if (!m->accounted) ts_run_account(e, m->cmd, 0, &m->reply, 0);
    ts_txn_free(m);
}

static const char *acl_reason(int verdict)
{
    switch (verdict) {
    case TS_ACL_DENIED_CMD: return "The user executing the script can't run this command or subcommand";
    case TS_ACL_DENIED_KEY: return "The user executing the script can't access at least one of the keys mentioned in the command arguments";
    case TS_ACL_DENIED_CHANNEL: return "The user executing the script can't publish to the channel mentioned in the command";
    default: return "The user executing the script lacking the permissions for the command";
    }
}

static ts_script_acl_logger *acl_logger;
static _Thread_local ts_buf tl_reply;   /* redis.call's reply bytes, reused (freed at thread end) */

void ts_script_set_acl_logger(ts_script_acl_logger *fn) { acl_logger = fn; }

int ts_script_call(lua_State *L, ts_script_run *run, int argc, ts_arg *argv, bool raise)
{
    if (run->stray) return stray(L, run);
    const ts_command *cmd = ts_command_lookup(argv[0].ptr, argv[0].len);
    if (cmd && cmd->subcommands && argc >= 2) {
        const ts_command *sub = ts_command_lookup_sub(cmd, argv[1].ptr, argv[1].len);
        if (sub) cmd = sub;
    }
    if (!cmd) return call_error(L, "Unknown Redis command called from script", raise);
    if ((cmd->arity > 0 && cmd->arity != argc) || argc < -cmd->arity)
        return call_error(L, "Wrong number of args calling Redis command from script", raise);
    if (cmd->flags & TS_CMD_NOSCRIPT) return call_error(L, "This Redis command is not allowed from script", raise);
    if (run->user) {
        int pos = 0;
        int verdict = ts_acl_check(run->user, cmd, argc, argv, &pos);
        if (verdict != TS_ACL_OK) {
            if (run->conn && acl_logger) {
                ts_arg object = verdict == TS_ACL_DENIED_CMD ? (ts_arg){cmd->name, strlen(cmd->name)} : argv[pos];
                acl_logger(run->conn, verdict, object);
            }
            return call_error(L, acl_reason(verdict), raise);
        }
    }
    if (run->read_only && (cmd->flags & (TS_CMD_WRITE | TS_CMD_MAY_REPLICATE)))
        return call_error(L, "Write commands are not allowed from read-only scripts.", raise);

    /* The reply, in a buffer the thread keeps (calls do not nest). */
    ts_buf *out = &tl_reply;
    out->len = 0;
    if (!strcmp(cmd->name, "select")) {
        /* The script client's own database (the caller's stays). */
        long long db;
        if (!ts_arg_to_ll(argv[1], &db)) ts_buf_append(out, "-" TS_ERR_NOT_INT "\r\n", strlen(TS_ERR_NOT_INT) + 3);
        else if (db < 0 || db >= run->e->shard.ndb) ts_buf_append(out, "-" TS_ERR_DB_INDEX "\r\n", strlen(TS_ERR_DB_INDEX) + 3);
        else {
            run->db = (int)db;
            ts_buf_append(out, "+OK\r\n", 5);
        }
    } else if (cmd->route == TS_ROUTE_CONN) {
        return call_error(L, "This Redis command is not allowed from script", raise);
    } else {
        ts_engine *e = run->e;
        unsigned nshards = e->router->nshards;
        /* Where it runs: one shard (target) or several (multi). */
        int stackpos[16];
        int *pos = argc > 16 ? ts_malloc(sizeof(int) * (size_t)argc) : stackpos;
        int nkeys = 0;
        bool multi = false, all = false;
        unsigned target = e->id;
        switch (cmd->route) {
        case TS_ROUTE_KEYS:
            if (cmd->wide_keys && nshards > 1 && cmd->wide_keys(argc, argv)) {
                multi = all = true;
                break;
            }
            nkeys = ts_command_keys(cmd, argc, argv, pos, argc);
            for (int i = 0; i < nkeys; i++) {
                unsigned s = ts_key_shard(argv[pos[i]].ptr, argv[pos[i]].len);
                if (i == 0) target = s;
                else if (s != target) multi = true;
            }
            break;
        case TS_ROUTE_ALL:
            if (nshards > 1 || cmd->always_txn) multi = all = true;
            break;
        case TS_ROUTE_CURSOR:
            target = argc > 1 ? ts_cursor_shard(argv[1].ptr, argv[1].len, nshards) : 0;
            break;
        default:
            break;
        }
        ts_aof_log cap, *aof = NULL;
        ts_aof_log_init(&cap);
        if (run->aof_on && (run->repl & 1)) {
            cap.db = run->aof.db;
            aof = &cap;
        }
        call_args a = {.cmd = cmd, .db = run->db, .argc = argc, .resp = run->resp, .argv = argv, .out = out,
                       .aof = aof, .now_ms = run->now_ms, .client_id = run->client_id,
                       .client_local = run->client_local};
        int rc = 0;
        if (run->mode == TS_SCRIPT_L) {
            if (multi || target != e->id || (cmd->quiet_shard && nshards > 1) ||
                ts_run_locked_out_by_others(e, cmd, run->db, argc, argv, run->lock_owner))
                rc = stray(L, run);
            else if (run->keep_undo && (cmd->flags & TS_CMD_WRITE) && !undo_before(run, cmd, argc, argv))
                rc = stray(L, run);
            else
                run_on(e, &a);
        } else if (multi) {
            run_member(run, cmd, argc, argv, all ? NULL : pos, all ? 0 : nkeys, out, aof);
        } else {
            ts_engine_call(e, ts_engine_of(e, target), run_on, &a);
        }
        if (pos != stackpos) free(pos);
        if (rc < 0) {
            ts_aof_log_free(&cap);
            return rc;
        }
        if ((cmd->flags & TS_CMD_WRITE) && !run->write_dirty) {
            run->write_dirty = true;
            if (run->busy) atomic_store(&run->e->script_dirty, true);   /* SCRIPT KILL refuses from now on */
        }
        if (aof && cap.buf.len) {
            ts_buf_append(&run->aof.buf, cap.buf.data, cap.buf.len);
            run->aof.db = cap.db;
            run->nprop++;
        }
        ts_aof_log_free(&cap);
    }
    bool is_error = out->len && out->data[0] == '-';
    ts_lua_push_reply(L, out->data, out->len);
    if (out->cap > 1 << 20) {   /* a huge reply's buffer does not stay */
        ts_buf_free(out);
        ts_buf_init(out);
    }
    return raise && is_error ? -1 : 1;
}

/* ---------- busy scripts ---------- */

static const char killed_msg[] = "Script killed by user with SCRIPT KILL...";

/* What FUNCTION STATS shows of a busy script, per engine (copies: the
 * script's thread writes them when it becomes busy and clears them when it
 * ends; any worker reads them under the lock). */
typedef struct busy_info {
    pthread_mutex_t mu;
    char name[128];
    ts_buf cmd;          /* the command's arguments, each as 8-byte length + bytes */
    int argc;
    uint64_t start_us;
    bool set;
} busy_info;

static busy_info busy_infos[TS_MAX_SHARDS];
static pthread_once_t busy_once = PTHREAD_ONCE_INIT;

static void busy_infos_init(void)
{
    for (unsigned i = 0; i < TS_MAX_SHARDS; i++) {
        pthread_mutex_init(&busy_infos[i].mu, NULL);
        ts_buf_init(&busy_infos[i].cmd);
    }
}

static void busy_info_set(const ts_script_run *run)
{
    pthread_once(&busy_once, busy_infos_init);
    busy_info *b = &busy_infos[run->e->id];
    pthread_mutex_lock(&b->mu);
    snprintf(b->name, sizeof b->name, "%s", run->name);
    b->cmd.len = 0;
    for (int i = 0; i < run->argc; i++) {
        uint64_t n = run->argv[i].len;
        ts_buf_append(&b->cmd, &n, sizeof n);
        ts_buf_append(&b->cmd, run->argv[i].ptr, run->argv[i].len);
    }
    b->argc = run->argc;
    b->start_us = run->start_us;
    b->set = true;
    pthread_mutex_unlock(&b->mu);
}

static void busy_info_clear(const ts_script_run *run)
{
    busy_info *b = &busy_infos[run->e->id];
    pthread_mutex_lock(&b->mu);
    b->set = false;
    if (b->cmd.cap > 65536) {
        ts_buf_free(&b->cmd);
        ts_buf_init(&b->cmd);
    }
    pthread_mutex_unlock(&b->mu);
}

bool ts_script_reply_running(ts_cmd_ctx *c)
{
    ts_router *router = c->engine->router;
    for (unsigned i = 0; i < router->nshards; i++) {
        int state = atomic_load(&router->engines[i]->script_state);
        if (state == TS_SCRIPT_IDLE) continue;
        if (state == TS_SCRIPT_BUSY_EVAL) return false;
        busy_info *b = &busy_infos[i];
        pthread_mutex_lock(&b->mu);
        if (!b->set) {
            pthread_mutex_unlock(&b->mu);
            continue;
        }
        ts_reply_map(c->r, 3);
        ts_reply_cstr(c->r, "name");
        ts_reply_cstr(c->r, b->name);
        ts_reply_cstr(c->r, "command");
        ts_reply_array(c->r, b->argc);
        const char *p = b->cmd.data;
        for (int k = 0; k < b->argc; k++) {
            uint64_t n;
            memcpy(&n, p, sizeof n);
            p += sizeof n;
            ts_reply_bulk(c->r, p, (size_t)n);
            p += n;
        }
        ts_reply_cstr(c->r, "duration_ms");
        ts_reply_int(c->r, (long long)((ts_monotonic_us() - b->start_us) / 1000));
        pthread_mutex_unlock(&b->mu);
        return true;
    }
    ts_reply_null(c->r);
    return true;
}

static void busy_enter(ts_script_run *run)
{
    ts_engine *e = run->e;
    run->busy = true;
    busy_info_set(run);
    ts_log(TS_LOG_WARNING,
           "Slow script detected: still in execution after %lld milliseconds. You can try killing the script "
           "using the %s command. Script name is: %s.",
           (long long)((ts_monotonic_us() - run->start_us) / 1000), run->eval_mode ? "SCRIPT KILL" : "FUNCTION KILL",
           run->name);
    atomic_store(&e->script_dirty, run->write_dirty);
    atomic_store(&e->script_kill, false);
    atomic_store(&e->script_state, run->eval_mode ? TS_SCRIPT_BUSY_EVAL : TS_SCRIPT_BUSY_FUNCTION);
    if (run->mode == TS_SCRIPT_G) atomic_fetch_add(&e->router->scripts_busy_everywhere, 1);
    atomic_fetch_add(&e->router->scripts_busy, 1);
}

static void busy_leave(ts_script_run *run)
{
    if (!run->busy) return;
    ts_engine *e = run->e;
    busy_info_clear(run);
    atomic_store(&e->script_state, TS_SCRIPT_IDLE);
    atomic_store(&e->script_kill, false);
    atomic_store(&e->script_dirty, false);
    if (run->mode == TS_SCRIPT_G) atomic_fetch_sub(&e->router->scripts_busy_everywhere, 1);
    atomic_fetch_sub(&e->router->scripts_busy, 1);
    run->busy = false;
}

/* Redis's luaMaskCountHook: past the threshold the script becomes visible
 * as busy; then SCRIPT KILL / FUNCTION KILL, or SHUTDOWN NOSAVE, stop it
 * (from then on at every line, so pcall cannot hold it). */
static void busy_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    ts_script_run *run = ts_lua_current_run(L);
    if (!run) return;
    if (!run->busy) {
        if ((long long)((ts_monotonic_us() - run->start_us) / 1000) < run->threshold_ms) return;
        busy_enter(run);
    }
    bool shutdown = atomic_load(&run->e->router->shutdown_kills_scripts) != 0;
    if (!shutdown && !atomic_load(&run->e->script_kill)) return;
    if (shutdown) run->drop_effects = true;
    ts_log(TS_LOG_WARNING, "Lua script killed by user with SCRIPT KILL.");
    lua_sethook(L, busy_hook, LUA_MASKLINE, 0);
    ts_lua_push_error(L, killed_msg, sizeof killed_msg - 1);
    lua_error(L);
}

/* SCRIPT KILL (eval) / FUNCTION KILL: Redis's scriptKill, for the script
 * any engine runs past the threshold. */
void ts_script_kill(ts_cmd_ctx *c, bool eval)
{
    ts_router *router = c->engine->router;
    for (unsigned i = 0; i < router->nshards; i++) {
        ts_engine *e = router->engines[i];
        int state = atomic_load(&e->script_state);
        if (state == TS_SCRIPT_IDLE) continue;
        if (atomic_load(&e->script_dirty)) {
            ts_reply_error(c->r, "UNKILLABLE Sorry the script already executed write commands against the dataset. "
                                 "You can either wait the script termination or kill the server in a hard way "
                                 "using the SHUTDOWN NOSAVE command.");
            return;
        }
        if (eval && state == TS_SCRIPT_BUSY_FUNCTION) {
            ts_reply_error(c->r, TS_ERR_BUSY_FUNCTION);
            return;
        }
        if (!eval && state == TS_SCRIPT_BUSY_EVAL) {
            ts_reply_error(c->r, TS_ERR_BUSY_EVAL);
            return;
        }
        atomic_store(&e->script_kill, true);
        ts_reply_ok(c->r);
        return;
    }
    ts_reply_error(c->r, "NOTBUSY No scripts in execution right now.");
}

/* ---------- a run ---------- */

static const char aof_multi[] = "*1\r\n$5\r\nMULTI\r\n";
static const char aof_exec[] = "*1\r\n$4\r\nEXEC\r\n";

/* What the script needs to run (from EVAL's arguments). */
typedef struct eval_req {
    const ts_command *cmd;
    int argc;
    ts_arg *argv;
    int db;
    int64_t now_ms;
    uint64_t client_id;
    bool client_local;
    const struct ts_acl_user *user;
    struct ts_conn *conn;
} eval_req;

static bool is_evalsha(const ts_command *cmd) { return !strncmp(cmd->name, "evalsha", 7); }
static bool is_ro(const ts_command *cmd) { return strstr(cmd->name, "_ro") != NULL; }

/* Runs EVAL/EVALSHA req in mode on engine e. The reply goes to r, the
 * effects to aof (wrapped unless nested). False: a stray (L only): nothing
 * was replied or logged and every key is as before. */
static bool eval_run(ts_engine *e, uint8_t mode, const ts_txn *lock_owner, const eval_req *q, ts_reply *r,
                     ts_aof_log *aof, bool nested)
{
    long long numkeys;
    bool fcall = !strncmp(q->cmd->name, "fcall", 5);
    bool evalsha = is_evalsha(q->cmd);
    unsigned flags = 0;
    char script_name[128];
    lua_State *L = ts_lua_state();
    int base = lua_gettop(L);
    lua_getglobal(L, "__redis__err__handler");
    if (fcall) {
        /* FCALL name numkeys ...: the function first, then numkeys (Redis's order). */
        if (!ts_fn_push(L, q->argv[1].ptr, q->argv[1].len, &flags)) {
            lua_settop(L, base);
            ts_reply_error(r, "ERR Function not found");
            return true;
        }
        if (!ts_arg_to_ll(q->argv[2], &numkeys)) {
            lua_settop(L, base);
            ts_reply_error(r, "ERR Bad number of keys provided");
            return true;
        }
        size_t n = q->argv[1].len < sizeof script_name - 1 ? q->argv[1].len : sizeof script_name - 1;
        memcpy(script_name, q->argv[1].ptr, n);
        script_name[n] = '\0';
    } else {
        if (evalsha && q->argv[1].len != 40) {
            lua_settop(L, base);
            ts_reply_error(r, "NOSCRIPT No matching script. Please use EVAL.");
            return true;
        }
        if (!ts_arg_to_ll(q->argv[2], &numkeys)) {
            lua_settop(L, base);
            ts_reply_error(r, TS_ERR_NOT_INT);
            return true;
        }
    }
    if (numkeys > q->argc - 3) {
        lua_settop(L, base);
        ts_reply_error(r, "ERR Number of keys can't be greater than number of args");
        return true;
    }
    if (numkeys < 0) {
        lua_settop(L, base);
        ts_reply_error(r, "ERR Number of keys can't be negative");
        return true;
    }
    if (!fcall) {
        char sha[41];
        char *body = NULL;
        size_t blen = 0;
        if (evalsha) lower_sha(sha, q->argv[1].ptr);
        else ts_sha1_hex(q->argv[1].ptr, q->argv[1].len, sha);
        memcpy(script_name, sha, 41);
        char fname[43] = "f_";
        memcpy(fname + 2, sha, 41);
        lua_getfield(L, LUA_REGISTRYINDEX, fname);
        bool have = !lua_isnil(L, -1);
        lua_pop(L, 1);
        const char *src = q->argv[1].ptr;
        size_t srclen = q->argv[1].len;
        if (!have && evalsha) {
            body = cache_get(sha, &blen);
            if (!body) {
                lua_settop(L, base);
                ts_reply_error(r, "NOSCRIPT No matching script. Please use EVAL.");
                return true;
            }
            src = body;
            srclen = blen;
        }
        bool ok = push_function(L, sha, src, srclen, &flags, r);
        if (ok && !have && !evalsha) cache_put(sha, src, srclen);
        free(body);
        if (!ok) {
            lua_settop(L, base);
            return true;
        }
    }
    bool ro = is_ro(q->cmd);
    if (!(flags & TS_SCRIPT_COMPAT) && !(flags & TS_SCRIPT_NO_WRITES) && ro) {   /* functions: never COMPAT */
        lua_settop(L, base);
        ts_reply_error(r, "ERR Can not execute a script with write flag using *_ro command.");
        return true;
    }
    ts_script_run run = {
        .e = e, .mode = mode, .lock_owner = lock_owner, .db = q->db, .resp = 2, .caller_resp = r->resp,
        .read_only = ro || (!(flags & TS_SCRIPT_COMPAT) && (flags & TS_SCRIPT_NO_WRITES)), .eval_mode = !fcall,
        .repl = 3, .now_ms = q->now_ms, .client_id = q->client_id, .client_local = q->client_local,
        .user = q->user, .conn = q->conn, .aof_on = aof != NULL, .keep_undo = mode == TS_SCRIPT_L && e->router->nshards > 1,
    };
    snprintf(run.name, sizeof run.name, "%s", script_name);
    ts_aof_log_init(&run.aof);
    if (aof) run.aof.db = aof->db;
    /* KEYS and ARGV: EVAL's globals (set in the real globals; the proxy
     * reads through), a function's two arguments. */
    lua_newtable(L);
    for (int j = 0; j < numkeys; j++) {
        lua_pushlstring(L, q->argv[3 + j].ptr, q->argv[3 + j].len);
        lua_rawseti(L, -2, j + 1);
    }
    if (!fcall) lua_setglobal(L, "KEYS");
    lua_newtable(L);
    for (int j = 3 + (int)numkeys; j < q->argc; j++) {
        lua_pushlstring(L, q->argv[j].ptr, q->argv[j].len);
        lua_rawseti(L, -2, j - 2 - (int)numkeys);
    }
    if (!fcall) lua_setglobal(L, "ARGV");
    run.start_us = ts_monotonic_us();
    run.threshold_ms = e->config.busy_reply_threshold;
    run.argc = q->argc;
    run.argv = q->argv;
    ts_lua_set_current_run(L, &run);
    if (run.threshold_ms > 0) lua_sethook(L, busy_hook, LUA_MASKCOUNT, 100000);
    int err = fcall ? lua_pcall(L, 2, 1, -4) : lua_pcall(L, 0, 1, -2);
    if (run.threshold_ms > 0) lua_sethook(L, NULL, 0, 0);
    busy_leave(&run);
    ts_lua_set_current_run(L, NULL);
    static _Thread_local long gc_count;
    if (++gc_count == 50) {
        lua_gc(L, LUA_GCSTEP, 50);
        gc_count = 0;
    }
    if (run.stray) {
        lua_settop(L, base);
        undo_rollback(&run);
        ts_aof_log_free(&run.aof);
        return false;
    }
    if (err) {
        if (!lua_istable(L, -1)) {
            const char *msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "execution failure";
            char buf[256];
            snprintf(buf, sizeof buf, "ERR Error running script %s, %.100s", run.name, msg);
            for (char *c = buf; *c; c++) if (*c == '\r' || *c == '\n') *c = ' ';
            ts_reply_error(r, buf);
        } else {
            lua_getfield(L, -1, "err");
            size_t mlen = 0;
            const char *msg = lua_isstring(L, -1) ? lua_tolstring(L, -1, &mlen) : NULL;
            lua_getfield(L, -2, "source");
            const char *source = lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL;
            lua_getfield(L, -3, "line");
            const char *line = lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL;
            ts_buf m;
            ts_buf_init(&m);
            if (msg) ts_buf_append(&m, msg, mlen);
            if (line && source) {
                char tail[512];
                int n = snprintf(tail, sizeof tail, " script: %s, on %s:%s.", run.name, source, line);
                ts_buf_append(&m, tail, (size_t)n < sizeof tail ? (size_t)n : sizeof tail - 1);
            }
            ts_buf_putc(&m, '\0');
            for (char *c = m.data; *c; c++) if (*c == '\r' || *c == '\n') *c = ' ';
            ts_reply_error(r, m.data);
            ts_buf_free(&m);
        }
    } else {
        ts_lua_reply(L, r, run.resp);
    }
    lua_settop(L, base);
    undo_commit(&run);
    if (aof && run.aof.buf.len && !run.drop_effects) {
        bool wrap = run.nprop > 1 && !nested;
        if (wrap) ts_buf_append(&aof->buf, aof_multi, sizeof aof_multi - 1);
        ts_buf_append(&aof->buf, run.aof.buf.data, run.aof.buf.len);
        if (wrap) ts_buf_append(&aof->buf, aof_exec, sizeof aof_exec - 1);
        aof->db = run.aof.db;
    }
    ts_aof_log_free(&run.aof);
    return true;
}

/* ---------- the commands ---------- */

/* EVAL & co. run inline (L on the caller's shard; the dispatcher's choice,
 * or inside EXEC with one shard). A stray sets ctx->escalate. */
static void cmd_eval(ts_cmd_ctx *c)
{
    eval_req q = {.cmd = c->cmd, .argc = c->argc, .argv = c->argv, .db = c->db, .now_ms = c->now_ms,
                  .client_id = c->client_id, .client_local = c->client_local, .user = c->acl_user,
                  .conn = c->conn};
    ts_prop_none(c);   /* the effects are logged, never EVAL itself */
    if (!eval_run(c->engine, TS_SCRIPT_L, NULL, &q, c->r, c->aof, c->in_exec)) c->escalate = true;
    if (ts_blocking_pending(&c->engine->shard) && !c->defer_blocked) ts_blocking_serve(c->engine);
}

/* The txn form: a txn holding every shard (EXCLUSIVE, all parts), from a
 * client whose declared keys span shards, a stray, or EXEC: the script runs
 * in G on the coordinator after phase 0. t->state: the restricted ACL
 * user, or NULL. */
static void script_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *ctx)
{
    (void)t;
    (void)p;
    (void)ctx;   /* phase 0 only takes the shards */
}

static int script_after(ts_txn *t)
{
    /* A restricted user's txn is its connection's (t->owner, on this, the
     * coordinator's, thread): ACL LOG entries name it. */
    eval_req q = {.cmd = t->cmd, .argc = t->argc, .argv = t->argv, .db = t->db, .now_ms = t->now_ms,
                  .client_id = t->client_id, .client_local = t->client_local, .user = t->state,
                  .conn = t->state && !t->nested ? t->owner : NULL};
    ts_aof_log *aof = NULL;
    if (t->coord->shard.aof) {
        aof = &t->aof;
        aof->db = -1;   /* logged whole at the end (txn.c): it SELECTs first */
    }
    eval_run(t->coord, TS_SCRIPT_G, NULL, &q, &t->reply, aof, t->nested);
    t->aof_propagated = true;
    return -1;
}

static const ts_txn_ops script_ops = {script_step, script_after};

/* ---------- SCRIPT ---------- */

static void cmd_script_help(ts_cmd_ctx *c)
{
    static const char *const help[] = {
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    };
    ts_reply_status_lines(c->r, help, TS_ARRAY_LEN(help));
}

static void cmd_script_flush(ts_cmd_ctx *c)
{
    if (c->argc == 3 && !ts_arg_eq(c->argv[2], "sync") && !ts_arg_eq(c->argv[2], "async")) {
        ts_reply_error(c->r, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    if (c->argc > 3) {
        ts_reply_error(c->r, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    cache_flush();
    ts_reply_ok(c->r);
}

static void cmd_script_exists(ts_cmd_ctx *c)
{
    ts_reply_array(c->r, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        char sha[41];
        bool ok = c->argv[i].len == 40;
        if (ok) {
            lower_sha(sha, c->argv[i].ptr);
            ok = cache_has(sha);
        }
        ts_reply_int(c->r, ok);
    }
}

static void cmd_script_load(ts_cmd_ctx *c)
{
    char sha[41];
    ts_sha1_hex(c->argv[2].ptr, c->argv[2].len, sha);
    if (!cache_has(sha)) {
        lua_State *L = ts_lua_state();
        int base = lua_gettop(L);
        unsigned flags;
        bool ok = push_function(L, sha, c->argv[2].ptr, c->argv[2].len, &flags, c->r);
        lua_settop(L, base);
        if (!ok) return;
        cache_put(sha, c->argv[2].ptr, c->argv[2].len);
    }
    ts_reply_bulk(c->r, sha, 40);
}

static void cmd_script_kill(ts_cmd_ctx *c) { ts_script_kill(c, true); }

static void cmd_script_debug(ts_cmd_ctx *c)
{
    if (ts_arg_eq(c->argv[2], "no")) {
        ts_reply_ok(c->r);
    } else if (ts_arg_eq(c->argv[2], "yes") || ts_arg_eq(c->argv[2], "sync")) {
        ts_reply_error(c->r, "ERR SCRIPT DEBUG YES/SYNC is not supported (Tessera has no Lua debugger)");
    } else {
        ts_reply_error(c->r, "ERR Use SCRIPT DEBUG YES/SYNC/NO");
    }
}

void ts_script_bind(void)
{
    static const char *const evals[] = {"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"};
    for (size_t i = 0; i < TS_ARRAY_LEN(evals); i++) ts_command_bind(evals[i], cmd_eval, &script_ops);
    ts_command_bind("script|help", cmd_script_help, NULL);
    ts_command_bind("script|flush", cmd_script_flush, NULL);
    ts_command_bind("script|exists", cmd_script_exists, NULL);
    ts_command_bind("script|load", cmd_script_load, NULL);
    ts_command_bind("script|kill", cmd_script_kill, NULL);
    ts_command_bind("script|debug", cmd_script_debug, NULL);
    ts_functions_bind();
}

void ts_script_thread_end(void)
{
    ts_lua_state_free();
    ts_buf_free(&tl_reply);
    ts_buf_init(&tl_reply);
}

void ts_script_free(void)
{
    cache_flush();
    ts_functions_free();
}
