/*
 * server.c - server commands: PING, ECHO, QUIT, COMMAND, TIME, DEBUG,
 * and the containers' error replies. INFO and CONFIG live in
 * info.c and config_cmd.c; the commands about the connection itself
 * (SELECT, HELLO, CLIENT) in net/conn_cmds.c.
 *
 * Thread: ROUTE_NONE/ROUTE_CONN commands run on the client's own worker.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "tessera/store/db.h"
#include "tessera/types/quicklist.h"
#include "tessera/persist/rdb.h"
#include "tessera/cmd/server.h"
#include "tessera/route/slot.h"
#include "tessera/util/clock.h"
#include "tessera/util/version.h"

/* Arguments are not NUL-terminated: at most 128 bytes of one, as "%.*s"
 * arguments (stopping at a NUL like Redis's "%.128s" on an sds). */
#define ARG128(a) (int)((a).len > 128 ? 128 : (a).len), (a).ptr

static void upper_name(const char *name, char *out, size_t outlen)
{
    size_t i = 0;
    for (; name[i] && name[i] != '|' && i + 1 < outlen; i++) out[i] = (char)toupper((unsigned char)name[i]);
    out[i] = '\0';
}

/* A container command called without a known subcommand. */
void cmd_container(ts_cmd_ctx *c)
{
    char up[32];
    upper_name(c->cmd->name, up, sizeof(up));
    if (c->argc < 2) {
        ts_reply_errorf(c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
        return;
    }
    ts_reply_errorf(c->r, "ERR unknown subcommand '%.*s'. Try %s HELP.", ARG128(c->argv[1]), up);
}

void cmd_ping(ts_cmd_ctx *c)
{
    /* The table says -1 (Redis's arity), but PING takes at most one
     * argument: Redis checks that in the command. */
    if (c->argc > 2) {
        ts_reply_errorf(c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
        return;
    }
    if (c->argc == 1) ts_reply_simple(c->r, "PONG");
    else ts_reply_bulk(c->r, c->argv[1].ptr, c->argv[1].len);
}

void cmd_echo(ts_cmd_ctx *c) { ts_reply_bulk(c->r, c->argv[1].ptr, c->argv[1].len); }

void cmd_quit(ts_cmd_ctx *c)
{
    ts_reply_ok(c->r);
    c->close_after_reply = true;
}

void cmd_time(ts_cmd_ctx *c)
{
    int64_t us = ts_ustime();
    ts_reply_array(c->r, 2);
    ts_reply_bulk_ll(c->r, us / 1000000);
    ts_reply_bulk_ll(c->r, us % 1000000);
}

/* ---------- COMMAND ---------- */

/* The flags COMMAND INFO shows, in Redis 7.0's order; Redis hides
 * may_replicate, sentinel and only_sentinel. */
static const struct { uint32_t bit; const char *name; } flag_names[] = {
    {TS_CMD_WRITE, "write"}, {TS_CMD_READONLY, "readonly"}, {TS_CMD_DENYOOM, "denyoom"},
    {TS_CMD_ADMIN, "admin"}, {TS_CMD_PUBSUB, "pubsub"}, {TS_CMD_NOSCRIPT, "noscript"},
    {TS_CMD_BLOCKING, "blocking"}, {TS_CMD_LOADING, "loading"}, {TS_CMD_STALE, "stale"},
    {TS_CMD_SKIP_MONITOR, "skip_monitor"}, {TS_CMD_SKIP_SLOWLOG, "skip_slowlog"}, {TS_CMD_FAST, "fast"},
    {TS_CMD_NO_AUTH, "no_auth"}, {TS_CMD_NO_MANDATORY_KEYS, "no_mandatory_keys"},
    {TS_CMD_NO_ASYNC_LOADING, "no_async_loading"}, {TS_CMD_NO_MULTI, "no_multi"},
    {TS_CMD_MOVABLE_KEYS, "movablekeys"}, {TS_CMD_ALLOW_BUSY, "allow_busy"},
};

static void reply_command_info(ts_reply *r, const ts_command *cmd);

static int count_subcommands(const ts_command *parent)
{
    int n = 0;
    size_t plen = strlen(parent->name);
    for (int i = 0; i < ts_command_count(); i++) {
        const ts_command *s = ts_command_at(i);
        if (!strncmp(s->name, parent->name, plen) && s->name[plen] == '|') n++;
    }
    return n;
}

static void reply_command_info(ts_reply *r, const ts_command *cmd)
{
    ts_reply_array(r, 10);
    ts_reply_cstr(r, cmd->name);
    ts_reply_int(r, cmd->arity);
    int nflags = 0;
    for (size_t i = 0; i < TS_ARRAY_LEN(flag_names); i++) if (cmd->flags & flag_names[i].bit) nflags++;
    ts_reply_set(r, nflags);
    for (size_t i = 0; i < TS_ARRAY_LEN(flag_names); i++)
        if (cmd->flags & flag_names[i].bit) ts_reply_simple(r, flag_names[i].name);
    ts_reply_int(r, cmd->first_key);
    ts_reply_int(r, cmd->last_key);
    ts_reply_int(r, cmd->key_step);
    int nacl = 0;
    for (const char *p = cmd->acl; *p; p++) if (*p == '@') nacl++;
    ts_reply_set(r, nacl);
    for (const char *p = cmd->acl; *p;) {
        const char *end = strchr(p, ' ');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "%.*s", (int)n, p);
        ts_reply_simple(r, tmp);
        p += n;
        while (*p == ' ') p++;
    }
    /* Tips and key specifications come from the generated table (their
     * encoding keeps Redis's set/array/map types). A non-empty subcommand
     * list is an array, an empty one a set, as in Redis. */
    ts_reply_tree(r, cmd->tips);
    ts_reply_tree(r, cmd->key_specs);
    int nsub = strchr(cmd->name, '|') ? 0 : count_subcommands(cmd);
    if (nsub) ts_reply_array(r, nsub);
    else ts_reply_set(r, 0);
    if (nsub) {
        size_t plen = strlen(cmd->name);
        for (int i = 0; i < ts_command_count(); i++) {
            const ts_command *s = ts_command_at(i);
            if (!strncmp(s->name, cmd->name, plen) && s->name[plen] == '|') reply_command_info(r, s);
        }
    }
}

static void reply_command_docs(ts_reply *r, const ts_command *cmd)
{
    int nsub = strchr(cmd->name, '|') ? 0 : count_subcommands(cmd);
    ts_reply_map(r, cmd->docs_npairs + (nsub ? 1 : 0));
    const char *p = cmd->docs;
    for (int i = 0; i < 2 * cmd->docs_npairs; i++) p = ts_reply_tree(r, p);
    if (nsub) {
        ts_reply_cstr(r, "subcommands");
        ts_reply_map(r, nsub);
        size_t plen = strlen(cmd->name);
        for (int i = 0; i < ts_command_count(); i++) {
            const ts_command *s = ts_command_at(i);
            if (!strncmp(s->name, cmd->name, plen) && s->name[plen] == '|') {
                ts_reply_cstr(r, s->name);
                reply_command_docs(r, s);
            }
        }
    }
}

static const ts_command *find_command_by_name(ts_arg name)
{
    const ts_command *cmd = ts_command_lookup(name.ptr, name.len);
    if (cmd) return cmd;
    const char *bar = memchr(name.ptr, '|', name.len);
    if (!bar) return NULL;
    const ts_command *parent = ts_command_lookup(name.ptr, (size_t)(bar - name.ptr));
    if (!parent) return NULL;
    return ts_command_lookup_sub(parent, bar + 1, name.len - (size_t)(bar - name.ptr) - 1);
}

/* COMMAND GETKEYS / GETKEYSANDFLAGS <command> <args...> (Redis's
 * getKeysSubcommandImpl): the keys (and their flags) that ACL checks see,
 * ts_command_keys_with_flags. Redis's order of checks: the command (a
 * container needs a known subcommand), whether it has keys at all, then
 * its arity. */
static void reply_getkeys(ts_cmd_ctx *c, bool with_flags)
{
    int argc = c->argc - 2;
    const ts_arg *argv = c->argv + 2;
    const ts_command *cmd = ts_command_lookup(argv[0].ptr, argv[0].len);
    if (cmd && cmd->subcommands && argc >= 2) cmd = ts_command_lookup_sub(cmd, argv[1].ptr, argv[1].len);
    if (!cmd) {
        ts_reply_error(c->r, "ERR Invalid command specified");
        return;
    }
    if (!ts_command_has_keys(cmd)) {
        ts_reply_error(c->r, "ERR The command has no key arguments");
        return;
    }
    if ((cmd->arity > 0 && argc != cmd->arity) || argc < -cmd->arity) {
        ts_reply_error(c->r, "ERR Invalid number of arguments specified for command");
        return;
    }
    ts_key_ref local[32], *keys = local;
    int n = ts_command_keys_with_flags(cmd, argc, argv, keys, (int)TS_ARRAY_LEN(local));
    if (n > (int)TS_ARRAY_LEN(local)) {
        keys = ts_malloc(sizeof(*keys) * (size_t)n);
        n = ts_command_keys_with_flags(cmd, argc, argv, keys, n);
    }
    if (n == 0) {
        if (cmd->flags & TS_CMD_NO_MANDATORY_KEYS) ts_reply_array(c->r, 0);
        else ts_reply_error(c->r, "ERR Invalid arguments specified for command");
    } else {
        ts_reply_array(c->r, n);
        for (int i = 0; i < n; i++) {
            ts_arg key = argv[keys[i].pos];
            if (with_flags) ts_reply_array(c->r, 2);
            ts_reply_bulk(c->r, key.ptr, key.len);
            if (!with_flags) continue;
            int nflags = 0;
            for (int b = 0; b < TS_KEY_FLAG_COUNT; b++) nflags += (keys[i].flags >> b) & 1;
            ts_reply_set(c->r, nflags);
            for (int b = 0; b < TS_KEY_FLAG_COUNT; b++)
                if (keys[i].flags & (1u << b)) ts_reply_simple(c->r, ts_key_flag_name(b));
        }
    }
    if (keys != local) free(keys);
}

void cmd_command_help(ts_cmd_ctx *c)
{
    static const char *lines[] = {
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Prints this help.",
    };
    ts_reply_status_lines(c->r, lines, TS_ARRAY_LEN(lines));
}

void cmd_command(ts_cmd_ctx *c)
{
    const char *sub = strchr(c->cmd->name, '|');
    int top = 0;
    for (int i = 0; i < ts_command_count(); i++) if (!strchr(ts_command_at(i)->name, '|')) top++;
    if (!sub) {
        if (c->argc > 1) { cmd_container(c); return; }
        ts_reply_array(c->r, top);
        for (int i = 0; i < ts_command_count(); i++)
            if (!strchr(ts_command_at(i)->name, '|')) reply_command_info(c->r, ts_command_at(i));
        return;
    }
    sub++;
    if (!strcmp(sub, "count")) {
        ts_reply_int(c->r, top);
    } else if (!strcmp(sub, "list")) {
        if (c->argc > 2) {
            /* FILTERBY MODULE|ACLCAT|PATTERN is not supported yet. */
            ts_reply_error(c->r, TS_ERR_SYNTAX);
            return;
        }
        ts_reply_array(c->r, top);
        for (int i = 0; i < ts_command_count(); i++)
            if (!strchr(ts_command_at(i)->name, '|')) ts_reply_cstr(c->r, ts_command_at(i)->name);
    } else if (!strcmp(sub, "info")) {
        if (c->argc == 2) {
            ts_reply_array(c->r, top);
            for (int i = 0; i < ts_command_count(); i++)
                if (!strchr(ts_command_at(i)->name, '|')) reply_command_info(c->r, ts_command_at(i));
            return;
        }
        ts_reply_array(c->r, c->argc - 2);
        for (int i = 2; i < c->argc; i++) {
            const ts_command *cmd = find_command_by_name(c->argv[i]);
            if (cmd) reply_command_info(c->r, cmd);
            else ts_reply_null(c->r);   /* Redis: "$-1" in RESP2 */
        }
    } else if (!strcmp(sub, "docs")) {
        int n = 0;
        const ts_command **found = ts_malloc(sizeof(*found) * (size_t)(c->argc + ts_command_count()));
        if (c->argc == 2) {
            for (int i = 0; i < ts_command_count(); i++)
                if (!strchr(ts_command_at(i)->name, '|')) found[n++] = ts_command_at(i);
        } else {
            for (int i = 2; i < c->argc; i++) {
                const ts_command *cmd = find_command_by_name(c->argv[i]);
                if (cmd) found[n++] = cmd;
            }
        }
        ts_reply_map(c->r, n);
        for (int i = 0; i < n; i++) {
            ts_reply_cstr(c->r, found[i]->name);
            reply_command_docs(c->r, found[i]);
        }
        free(found);
    } else if (!strcmp(sub, "getkeys")) {
        reply_getkeys(c, false);
    } else if (!strcmp(sub, "getkeysandflags")) {
        reply_getkeys(c, true);
    }
}

/* ---------- DEBUG ---------- */

/* Bytes of an RDB length prefix, and of an RDB integer encoding (0 when the
 * value does not fit one), for DEBUG OBJECT's serializedlength. */
static size_t rdb_len_bytes(size_t n)
{
    if (n < 64) return 1;
    if (n < 16384) return 2;
    if (n <= UINT32_MAX) return 5;
    return 9;
}

static size_t rdb_int_bytes(long long v)
{
    if (v >= -128 && v <= 127) return 2;
    if (v >= -32768 && v <= 32767) return 3;
    if (v >= INT32_MIN && v <= INT32_MAX) return 5;
    return 0;
}

/* The size the value would take in an RDB file, as Redis computes it,
 * except that LZF compression of strings longer than 20 bytes (which only
 * makes Redis's figure smaller) is not modelled. */
static size_t rdb_string_len(const ts_value *v)
{
    char tmp[24];
    if (v->form == TS_FORM_INT) {
        size_t n = rdb_int_bytes(v->i);
        if (n) return n;
        n = ts_ll_to_str(tmp, v->i);
        return rdb_len_bytes(n) + n;
    }
    size_t len = v->form == TS_FORM_INLINE ? v->s.len : 0;
    long long ll;
    if (len > 0 && len <= 11 && ts_arg_to_ll((ts_arg){.ptr = v->s.ptr, .len = len}, &ll) && rdb_int_bytes(ll))
        return rdb_int_bytes(ll);
    return rdb_len_bytes(len) + len;
}

static void debug_object(ts_cmd_ctx *c)
{
    /* Like Redis: a plain find, which neither expires the key nor
     * touches its LRU clock. */
    ts_entry *e = ts_table_find(ts_db_table(&c->ex), c->argv[2].ptr, c->argv[2].len);
    if (!e) { ts_reply_error(c->r, TS_ERR_NO_KEY); return; }
    ts_value v;
    ts_entry_value(e, &v);
    uint32_t lru = ts_entry_lru(e);
    uint32_t now = (uint32_t)((c->now_ms / 1000) & TS_ENTRY_LRU_MAX);
    uint32_t idle = now >= lru ? now - lru : now + (TS_ENTRY_LRU_MAX - lru);
    /* Redis shares the integers 0..9999 and shows them with refcount
     * INT_MAX, as OBJECT REFCOUNT does (keys.c). */
    int refcount = v.form == TS_FORM_INT && v.i >= 0 && v.i < 10000 ? INT32_MAX : 1;
    /* serializedlength: strings as above; collections are serialized for
     * real, as Redis does (O(n), like Redis's). */
    size_t serialized;
    if (v.type == TS_TYPE_STRING) {
        serialized = rdb_string_len(&v);
    } else {
        ts_buf tmp;
        ts_buf_init(&tmp);
        ts_rdb_save_value(&tmp, &v, c->config->rdbcompression);
        serialized = tmp.len;
        ts_buf_free(&tmp);
    }
    char buf[384];
    int n = snprintf(buf, sizeof(buf),
                     "Value at:%p refcount:%d encoding:%s serializedlength:%zu lru:%u lru_seconds_idle:%u",
                     (void *)e, refcount, ts_encoding_name(v.enc), serialized, lru, idle);
    if (v.type == TS_TYPE_LIST && n > 0 && (size_t)n < sizeof(buf)) {
        const ts_quicklist *ql = v.ptr;
        size_t raw = 0;
        for (const ts_ql_node *x = ql->head; x; x = x->next) raw += ts_ql_node_bytes(x);
        snprintf(buf + n, sizeof(buf) - (size_t)n,
                 " ql_nodes:%zu ql_avg_node:%.2f ql_listpack_max:%d ql_compressed:%d ql_uncompressed_size:%zu",
                 ql->len, ql->len ? (double)ql->count / (double)ql->len : 0.0, ql->fill, ql->depth != 0, raw);
    }
    ts_reply_simple(c->r, buf);
}

/* Redis reads these numbers with atoi/strtod: a bad number is 0. */
static double arg_strtod(ts_arg a)
{
    char tmp[64];
    size_t n = a.len < sizeof(tmp) - 1 ? a.len : sizeof(tmp) - 1;
    memcpy(tmp, a.ptr, n);
    tmp[n] = '\0';
    return strtod(tmp, NULL);
}

static void debug_set_active_expire(ts_cmd_ctx *c, ts_shard *s)
{
    s->active_expire = (long long)arg_strtod(c->argv[2]) != 0;
}

static void debug_syntax_error(ts_cmd_ctx *c)
{
    ts_reply_errorf(c->r, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try DEBUG HELP.",
                    ARG128(c->argv[1]));
}

void cmd_debug(ts_cmd_ctx *c)
{
    ts_arg sub = c->argv[1];
    if (ts_arg_eq(sub, "OBJECT") && c->argc == 3) {
        debug_object(c);
    } else if (ts_arg_eq(sub, "SLEEP") && c->argc == 3) {
        double secs = arg_strtod(c->argv[2]);
        if (secs > 0) usleep((useconds_t)(secs * 1e6));
        ts_reply_ok(c->r);
    } else if (ts_arg_eq(sub, "SET-ACTIVE-EXPIRE") && c->argc == 3) {
        debug_set_active_expire(c, c->shard);
        ts_reply_ok(c->r);
    } else if (ts_arg_eq(sub, "HELP") && c->argc == 2) {
        ts_reply_array(c->r, 7);
        ts_reply_simple(c->r, "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
        ts_reply_simple(c->r, "OBJECT <key>");
        ts_reply_simple(c->r, "    Show low level info about `key` and associated value.");
        ts_reply_simple(c->r, "SLEEP <seconds>");
        ts_reply_simple(c->r, "    Stop the server for <seconds>. Decimals allowed.");
        ts_reply_simple(c->r, "SET-ACTIVE-EXPIRE <0|1>");
        ts_reply_simple(c->r, "    Setting it to 0 disables expiring keys in background when they are not accessed.");
    } else {
        debug_syntax_error(c);
    }
}

/* DEBUG visits every shard (it has no key specification, like Redis's):
 * SET-ACTIVE-EXPIRE applies everywhere, OBJECT answers on the key's shard,
 * the rest on the first shard. The reply is the first part's output. */
static void debug_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *ctx)
{
    ts_arg sub = ctx->argv[1];
    if (ts_arg_eq(sub, "SET-ACTIVE-EXPIRE") && ctx->argc == 3) {
        debug_set_active_expire(ctx, ctx->shard);
        ts_reply_ok(ctx->r);
    } else if (ts_arg_eq(sub, "OBJECT") && ctx->argc == 3) {
        if (ts_key_shard(ctx->argv[2].ptr, ctx->argv[2].len) == p->shard) cmd_debug(ctx);
    } else if (p == &t->parts[0]) {
        cmd_debug(ctx);
    }
}

static int debug_after(ts_txn *t)
{
    for (int i = 0; i < t->nparts; i++) {
        ts_buf *out = &t->parts[i].out;
        if (!out->len) continue;
        ts_buf_append(&t->reply_buf, out->data, out->len);
        if (out->data[0] == '-') {
            t->reply.errors++;
            size_t code = strcspn(out->data + 1, " \r");
            snprintf(t->reply.last_error_code, sizeof(t->reply.last_error_code), "%.*s", (int)code, out->data + 1);
        }
        break;
    }
    return -1;
}

const ts_txn_ops ts_multi_debug = {debug_step, debug_after};
