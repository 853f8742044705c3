/*
 * acl_cmd.c - the ACL command (all subcommands but WHOAMI, which is the
 * connection's: net/conn_cmds.c), with Redis 7.0's replies and errors.
 *
 * Changes (SETUSER, DELUSER, LOAD) build a new snapshot (route/acl.h) and
 * install it on every engine, as a transaction holding every shard
 * exclusively: the first shard builds it from its own snapshot (the
 * exclusive holds serialize changes, so every engine sees the same
 * sequence), every shard installs it, and the client's reply comes after
 * the last one did, so any command sent after the reply is checked against
 * the new rules wherever it runs. With one shard the command runs on it
 * directly. Reads (GETUSER, LIST, USERS, CAT, DRYRUN, SAVE) use the snapshot
 * of the engine that runs them; LOG reads the server's shared log.
 *
 * Thread: each function runs on the engine named in its context.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "cmds.h"
#include "tessera/cmd/server.h"
#include "tessera/route/acl.h"
#include "tessera/route/engine.h"
#include "tessera/util/strconv.h"

#define ERRLEN 4096
/* An argument as Redis's "%s" / "%.128s" print it: up to its first NUL. */
#define ARG_C(a) (int)strnlen((a).ptr, (a).len), (a).ptr
#define ARG_C128(a) (int)strnlen((a).ptr, (a).len > 128 ? 128 : (a).len), (a).ptr

/* Redis's addReplyErrorSdsSafe: "ERR " and the text with no line breaks. */
static void reply_error_text(ts_reply *r, char *text)
{
    for (char *p = text; *p; p++)
        if (*p == '\r' || *p == '\n') *p = ' ';
    ts_reply_errorf(r, "ERR %s", text);
}

/* Redis's addReplySubcommandSyntaxError. */
static void reply_subcommand_error(ts_cmd_ctx *c)
{
    ts_reply_errorf(c->r, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try ACL HELP.",
                    ARG_C128(c->argv[1]));
}

static const char no_aclfile[] =
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL "
    "SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order "
    "to store users in the Redis configuration.";

/* ---------- changes ---------- */

/* The snapshot this change makes from base, or NULL with the error text. */
static ts_acl *build_change(const ts_cmd_ctx *c, const ts_acl *base, long *count, char *err)
{
    const char *sub = c->cmd->name + 4;    /* after "acl|" */
    *count = 0;
    if (!strcmp(sub, "setuser"))
        return ts_acl_setuser(base, c->argv[2], c->argc - 3, c->argv + 3, c->config->acl_pubsub_default, err, ERRLEN);
    if (!strcmp(sub, "deluser")) return ts_acl_deluser(base, c->argc - 2, c->argv + 2, count, err, ERRLEN);
    return ts_acl_load_file(base, c->config->aclfile, c->config->acl_pubsub_default, err, ERRLEN);
}

static void reply_change(ts_cmd_ctx *c, long count)
{
    if (!strcmp(c->cmd->name, "acl|deluser")) ts_reply_int(c->r, count);
    else ts_reply_ok(c->r);
}

static bool refused_without_file(ts_cmd_ctx *c)
{
    if (strcmp(c->cmd->name, "acl|load") != 0 || c->config->aclfile[0]) return false;
    ts_reply_error(c->r, no_aclfile);
    return true;
}

/* One shard: build and install here. */
static void run_change(ts_cmd_ctx *c)
{
    if (refused_without_file(c)) return;
    char err[ERRLEN];
    long count;
    ts_acl *next = build_change(c, c->engine->acl, &count, err);
    if (!next) {
        reply_error_text(c->r, err);
        return;
    }
    ts_engine_set_acl(c->engine, next, c->client_id);
    ts_acl_unref(next);
    reply_change(c, count);
}

void cmd_acl_setuser(ts_cmd_ctx *c) { run_change(c); }
void cmd_acl_deluser(ts_cmd_ctx *c) { run_change(c); }
void cmd_acl_load(ts_cmd_ctx *c) { run_change(c); }

/* Every shard, in ascending order (phase 0 of an exclusive txn): the first
 * builds, each installs. */
static void change_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *ctx)
{
    if (p == &t->parts[0]) {
        if (!strcmp(t->cmd->name, "acl|load") && !ctx->config->aclfile[0]) {
            p->n = -2;
            return;
        }
        char err[ERRLEN];
        long count;
        ts_acl *next = build_change(ctx, ctx->engine->acl, &count, err);
        if (!next) {
            ts_buf_append(&p->out, err, strlen(err) + 1);
            p->n = -1;
            return;
        }
        t->state = next;    /* the txn's reference, dropped in change_after */
        p->n = count;
    }
    if (t->state) ts_engine_set_acl(ctx->engine, t->state, t->client_id);
}

static int change_after(ts_txn *t)
{
    ts_txn_part *first = &t->parts[0];
    if (first->n == -2) {
        ts_reply_error(&t->reply, no_aclfile);
    } else if (first->n == -1) {
        reply_error_text(&t->reply, first->out.data);
    } else if (!strcmp(t->cmd->name, "acl|deluser")) {
        ts_reply_int(&t->reply, first->n);
    } else {
        ts_reply_ok(&t->reply);
    }
    ts_acl_unref(t->state);
    t->state = NULL;
    return -1;
}

const ts_txn_ops ts_multi_acl_change = {change_step, change_after};

/* ---------- reads ---------- */

void cmd_acl_getuser(ts_cmd_ctx *c) { ts_acl_reply_getuser(c->engine->acl, c->argv[2], c->r); }
void cmd_acl_list(ts_cmd_ctx *c) { ts_acl_reply_list(c->engine->acl, c->r, false); }
void cmd_acl_users(ts_cmd_ctx *c) { ts_acl_reply_list(c->engine->acl, c->r, true); }

void cmd_acl_cat(ts_cmd_ctx *c)
{
    if (c->argc > 3) {
        reply_subcommand_error(c);
        return;
    }
    if (ts_acl_reply_cat(c->argc == 3 ? &c->argv[2] : NULL, c->r)) return;
    ts_reply_errorf(c->r, "ERR Unknown category '%.*s'", ARG_C128(c->argv[2]));
}

void cmd_acl_save(ts_cmd_ctx *c)
{
    if (!c->config->aclfile[0]) {
        ts_reply_error(c->r, no_aclfile);
        return;
    }
    if (ts_acl_save_file(c->engine->acl, c->config->aclfile) == 0) ts_reply_ok(c->r);
    else ts_reply_error(c->r, "ERR There was an error trying to save the ACLs. Please check the server logs for "
                              "more information");
}

void cmd_acl_genpass(ts_cmd_ctx *c)
{
    if (c->argc > 3) {
        reply_subcommand_error(c);
        return;
    }
    long long bits = 256;
    if (c->argc == 3 && !ts_arg_to_ll(c->argv[2], &bits)) {
        ts_reply_error(c->r, TS_ERR_NOT_INT);
        return;
    }
    if (bits <= 0 || bits > 4096) {
        ts_reply_error(c->r, "ERR ACL GENPASS argument must be the number of bits for the output password, a "
                             "positive number up to 4096");
        return;
    }
    size_t chars = (size_t)(bits + 3) / 4;
    unsigned char raw[512];
    size_t need = (chars + 1) / 2, got = 0;
    while (got < need) {
        ssize_t n = getrandom(raw + got, need - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) ts_panic("getrandom: %s", strerror(errno));
        got += (size_t)n;
    }
    char hex[1024];
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < chars; i++) hex[i] = digits[(raw[i / 2] >> (i % 2 ? 0 : 4)) & 15];
    ts_reply_bulk(c->r, hex, chars);
}

void cmd_acl_log(ts_cmd_ctx *c)
{
    ts_server *srv = c->engine->srv;
    if (c->argc > 3) {
        reply_subcommand_error(c);
        return;
    }
    long long count = 10;
    if (c->argc == 3) {
        if (ts_arg_eq(c->argv[2], "reset")) {
            ts_acl_log_reset(srv->acl_log);
            ts_reply_ok(c->r);
            return;
        }
        if (!ts_arg_to_ll(c->argv[2], &count)) {
            ts_reply_error(c->r, TS_ERR_NOT_INT);
            return;
        }
    }
    ts_acl_log_reply(srv->acl_log, count < 0 ? 0 : (long)count, c->r);
}

/* ACL DRYRUN user command [arg ...] over the commands Tessera has. */
void cmd_acl_dryrun(ts_cmd_ctx *c)
{
    const ts_acl_user *u = ts_acl_find(c->engine->acl, c->argv[2].ptr, c->argv[2].len);
    if (!u) {
        ts_reply_errorf(c->r, "ERR User '%.*s' not found", ARG_C(c->argv[2]));
        return;
    }
    int argc = c->argc - 3;
    const ts_arg *argv = c->argv + 3;
    const ts_command *cmd = ts_command_lookup(argv[0].ptr, argv[0].len);
    if (cmd && cmd->subcommands && argc >= 2) cmd = ts_command_lookup_sub(cmd, argv[1].ptr, argv[1].len);
    if (!cmd) {
        ts_reply_errorf(c->r, "ERR Command '%.*s' not found", ARG_C(argv[0]));
        return;
    }
    if ((cmd->arity > 0 && cmd->arity != argc) || argc < -cmd->arity) {
        ts_reply_errorf(c->r, "ERR wrong number of arguments for '%s' command", cmd->name);
        return;
    }
    int pos = 0;
    int verdict = ts_acl_check(u, cmd, argc, argv, &pos);
    char msg[512];
    int n = 0;
    if (verdict == TS_ACL_DENIED_CMD)
        n = snprintf(msg, sizeof(msg), "This user has no permissions to run the '%s' command", cmd->name);
    else if (verdict == TS_ACL_DENIED_KEY)
        n = snprintf(msg, sizeof(msg), "This user has no permissions to access the '%.*s' key",
                     ARG_C(argv[pos]));
    else if (verdict == TS_ACL_DENIED_CHANNEL)
        n = snprintf(msg, sizeof(msg), "This user has no permissions to access the '%.*s' channel",
                     ARG_C(argv[pos]));
    if (verdict == TS_ACL_OK) ts_reply_ok(c->r);
    else ts_reply_bulk(c->r, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}

void cmd_acl_help(ts_cmd_ctx *c)
{
    static const char *lines[] = {
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Prints this help.",
    };
    ts_reply_status_lines(c->r, lines, TS_ARRAY_LEN(lines));
}
