/*
 * config_cmd.c - CONFIG GET, CONFIG SET, CONFIG HELP.
 *
 * Every worker keeps its own copy of the configuration (read on its hot
 * paths without atomics). CONFIG SET therefore visits every worker through
 * a txn holding every shard exclusively (so two CONFIG SETs apply in the
 * same order everywhere) and applies the same validated change to each copy; the few values
 * other threads read (maxclients for the acceptor, the log level) are
 * published as atomics by the coordinator afterwards.
 *
 * maxclients also needs the process's open-file limit (Redis's
 * updateMaxclients): the first part of the txn, which runs before any
 * other, raises it when the new value needs more; when the OS refuses, that
 * copy is restored and every part leaves its own alone, so the CONFIG SET
 * fails whole with Redis's error.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "tessera/config/config.h"
#include "tessera/util/fdlimit.h"
#include "tessera/util/log.h"
#include "tessera/cmd/server.h"
#include "tessera/route/acl.h"
#include "tessera/route/engine.h"
#include "tessera/persist/aof.h"
#include "tessera/persist/persist.h"
#include "tessera/persist/snapshot.h"
#include "tessera/cmd/persist_cmds.h"

typedef struct get_acc { ts_buf names; int n; } get_acc;

static void collect(void *ctx, const char *name, const char *value)
{
    get_acc *a = ctx;
    ts_buf_append(&a->names, name, strlen(name) + 1);
    ts_buf_append(&a->names, value, strlen(value) + 1);
    a->n++;
}

void cmd_config_get(ts_cmd_ctx *c)
{
    get_acc a = {.n = 0};
    ts_buf_init(&a.names);
    ts_config_get(&c->engine->config, c->argv + 2, c->argc - 2, collect, &a);
    ts_reply_map(c->r, a.n);
    const char *p = a.names.data;
    for (int i = 0; i < 2 * a.n; i++) {
        size_t n = strlen(p);
        ts_reply_bulk(c->r, p, n);
        p += n + 1;
    }
    ts_buf_free(&a.names);
}

/* On each worker's own thread: its scheduling policy, and appendonly no:
 * its shard stops logging
 * after handing over what it logged (the persistence thread closes the
 * file once every worker has: publish). appendonly yes starts logging
 * later, at the rewrite's snapshot point (persist_cmds.c). */
static void apply_local(ts_engine *e)
{
    e->hooks->config_changed(e);
    if (e->config.appendonly || !e->aof_on) return;
    ts_engine_flush_log(e);
    e->aof_on = false;
    e->shard.aof = NULL;
}

static void publish(ts_engine *e)
{
    ts_persist *persist = e->srv->persist;
    atomic_store(&e->srv->maxclients, e->config.maxclients);
    ts_log_set_level(e->config.loglevel);
    ts_aof_set_fsync(persist, e->config.appendfsync);
    ts_alloc_background_purge(e->config.jemalloc_bg_thread);
    if (ts_persist_set_appendonly(persist, e->config.appendonly)) ts_aof_rewrite_start(e);
}

/* enable-protected-configs: may this client CONFIG SET dir or dbfilename
 * (Redis 7.0: "no" by default, "local" for loopback and unix clients)? */
static bool protected_allowed(const ts_cmd_ctx *c)
{
    int allowed = c->config->enable_protected_configs;
    return allowed == TS_ALLOWED_YES || (allowed == TS_ALLOWED_LOCAL && c->client_local);
}

/* requirepass is the default user's password (route/acl.h): setting it
 * (even to the same value, as Redis) makes a new ACL snapshot. */
static bool sets_requirepass(const ts_cmd_ctx *c)
{
    for (int i = 2; i + 1 < c->argc; i += 2)
        if (ts_arg_eq(c->argv[i], "requirepass")) return true;
    return false;
}

static ts_acl *requirepass_snapshot(const ts_cmd_ctx *c)
{
    return ts_acl_set_requirepass(c->engine->acl, c->engine->config.requirepass);
}

/* A raised maxclients: the open-file limit follows, or the new values are
 * undone (`old` is the copy from before they were set; `dir` moves back). */
static int fit_maxclients(ts_engine *e, ts_config *old, char *err, size_t errlen)
{
    int want = e->config.maxclients;
    if (want <= old->maxclients) return 0;
    int fit = ts_fdlimit_fit(want, e->srv->reserved_fds, false);
    if (fit == want) return 0;
    ts_log(TS_LOG_WARNING, "Failed applying new configuration. Possibly related to new maxclients setting. "
                           "Restoring previous settings.");
    if (strcmp(old->dir, e->config.dir) != 0 && chdir(old->dir) != 0) {
        /* The old directory vanished meanwhile: stay (config.c does the same). */
    }
    ts_config_free(&e->config);
    e->config = *old;
    *old = (ts_config){0};
    snprintf(err, errlen, "ERR CONFIG SET failed (possibly related to argument 'maxclients') - The operating "
                          "system is not able to handle the specified number of clients, try with %d",
             fit > 0 ? fit : 1);
    return -1;
}

/* Sets the values on this engine's copy; `first`: the first copy to change
 * (the open-file limit is raised there, fit_maxclients). */
static int set_values(ts_cmd_ctx *c, bool first, char *err, size_t errlen)
{
    ts_engine *e = c->engine;
    const ts_arg *args = c->argv + 2;
    int nargs = c->argc - 2;
    if (!first) return ts_config_set(&e->config, args, nargs, protected_allowed(c), err, errlen);
    ts_config old;
    ts_config_copy(&old, &e->config);
    int rc = ts_config_set(&e->config, args, nargs, protected_allowed(c), err, errlen);
    if (rc == 0) rc = fit_maxclients(e, &old, err, errlen);
    ts_config_free(&old);
    return rc;
}

void cmd_config_set(ts_cmd_ctx *c)
{
    char err[512];
    if (set_values(c, true, err, sizeof(err)) != 0) {
        ts_reply_error(c->r, err);
        return;
    }
    apply_local(c->engine);
    if (sets_requirepass(c)) {
        ts_acl *next = requirepass_snapshot(c);
        ts_engine_set_acl(c->engine, next, c->client_id);
        ts_acl_unref(next);
    }
    publish(c->engine);
    ts_reply_ok(c->r);
}

static void config_set_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *ctx)
{
    char err[512];
    /* Every copy holds the same values, so validation gives the same
     * answer everywhere: all copies change or none does. Only the first
     * part meets the open-file limit; the others follow its answer (it ran
     * before them: its ACQUIRE chain is their happens-before). */
    bool first = p == &t->parts[0];
    if (!first && t->parts[0].n == -1) {
        p->n = -1;
        return;
    }
    if (set_values(ctx, first, err, sizeof(err)) != 0) {
        ts_buf_append(&p->out, err, strlen(err) + 1);
        p->n = -1;
        return;
    }
    apply_local(ctx->engine);
    /* The txn holds every shard exclusively, parts in ascending order: the
     * first builds the users' new snapshot, every part installs it. */
    if (p == &t->parts[0] && sets_requirepass(ctx)) t->state = requirepass_snapshot(ctx);
    if (t->state) ts_engine_set_acl(ctx->engine, t->state, t->client_id);
}

static int config_set_after(ts_txn *t)
{
    ts_acl_unref(t->state);
    t->state = NULL;
    if (t->parts[0].n == -1) {
        ts_reply_error(&t->reply, t->parts[0].out.data);
        return -1;
    }
    publish(t->coord);
    ts_reply_ok(&t->reply);
    return -1;
}

const ts_txn_ops ts_multi_config_set = {config_set_step, config_set_after};

void cmd_config_help(ts_cmd_ctx *c)
{
    static const char *lines[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "HELP",
        "    Print this help.",
    };
    ts_reply_status_lines(c->r, lines, TS_ARRAY_LEN(lines));
}
