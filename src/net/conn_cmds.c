/*
 * conn_cmds.c - the commands about the connection that sends them:
 * AUTH, SELECT, HELLO, CLIENT (ID, GETNAME, SETNAME, INFO, LIST, KILL, HELP).
 *
 * Thread: SELECT, HELLO and CLIENT ID/GETNAME/SETNAME/INFO run on the
 * client's own worker with c->conn set (ROUTE_CONN); CLIENT LIST/KILL
 * visit every worker through a multi-shard txn (each worker reports on or
 * acts on its own connections).
 *
 * Why here and not in cmd/: their state is the connection's (net/conn.h),
 * which no lower layer may see; ts_conn_commands_bind gives the command
 * table these implementations at startup.
 */
#include "tessera/net/conn_cmds.h"

#include <stdio.h>
#include <string.h>

#include "tessera/cmd/cmd.h"
#include "conn.h"
#include "tessera/net/worker.h"
#include "tessera/route/acl.h"
#include "tessera/route/txn.h"
#include "tessera/route/watch.h"
#include "tessera/script/script.h"
#include "tessera/util/version.h"

static void cmd_select(ts_cmd_ctx *c)
{
    long long db;
    if (!ts_arg_to_ll(c->argv[1], &db)) {
        ts_reply_error(c->r, TS_ERR_NOT_INT);
        return;
    }
    if (db < INT32_MIN || db > INT32_MAX) {
        ts_reply_error(c->r, "ERR value is out of range, value must between -2147483648 and 2147483647");
        return;
    }
    if (db < 0 || db >= c->shard->ndb) {
        ts_reply_error(c->r, TS_ERR_DB_INDEX);
        return;
    }
    c->conn->client.db = (int)db;
    ts_reply_ok(c->r);
}

static bool valid_client_name(ts_arg name)
{
    for (size_t i = 0; i < name.len; i++)
        if (name.ptr[i] < '!' || name.ptr[i] > '~') return false;
    return true;
}

static void set_client_name(ts_conn *conn, ts_arg name)
{
    free(conn->client.name);
    conn->client.name = name.len ? ts_strndup(name.ptr, name.len) : NULL;
}

/* ---------- AUTH ---------- */

/* AUTH user password / HELLO ... AUTH: the ACL user (route/acl.h) must
 * exist, be on, and have this password (or nopass); the comparison is of
 * SHA-256 digests in constant time. On success the connection is
 * authenticated as that user; otherwise Redis's WRONGPASS is the reply (an
 * earlier authentication stays) and ACL LOG records it. */
static bool authenticate(ts_cmd_ctx *c, ts_arg user, ts_arg pass)
{
    const ts_acl_user *u = ts_acl_authenticate(c->engine->acl, user, pass);
    if (!u) {
        ts__conn_acl_log(c->conn, TS_ACL_DENIED_AUTH, c->argv[0], user);
        ts_reply_error(c->r, "WRONGPASS invalid username-password pair or user is disabled.");
        return false;
    }
    ts__conn_set_user(c->conn, u);
    return true;
}

static void cmd_auth(ts_cmd_ctx *c)
{
    if (c->argc > 3) {
        ts_reply_error(c->r, TS_ERR_SYNTAX);
        return;
    }
    if (c->argc == 2 && ts_acl_default_nopass(c->engine->acl)) {
        ts_reply_error(c->r, "ERR AUTH <password> called without any password configured for the default user. "
                             "Are you sure your configuration is correct?");
        return;
    }
    ts_arg user = c->argc == 3 ? c->argv[1] : (ts_arg){"default", 7};
    if (authenticate(c, user, c->argv[c->argc - 1])) ts_reply_ok(c->r);
}

static void cmd_acl_whoami(ts_cmd_ctx *c)
{
    const char *name = c->conn->client.user ? c->conn->client.user : "default";
    ts_reply_cstr(c->r, name);
}

/* ---------- HELLO ---------- */

/* Options are applied one by one as in Redis 7.0: a SETNAME or AUTH before
 * a failing option stays applied; the protocol changes only when everything
 * passed and the client is authenticated. */
static void cmd_hello(ts_cmd_ctx *c)
{
    ts_conn *conn = c->conn;
    int proto = conn->client.resp;
    int i = 1;
    if (c->argc >= 2) {
        long long v;
        if (!ts_arg_to_ll(c->argv[1], &v)) {
            ts_reply_error(c->r, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (v < 2 || v > 3) {
            ts_reply_error(c->r, "NOPROTO unsupported protocol version");
            return;
        }
        proto = (int)v;
        i = 2;
    }
    for (; i < c->argc; i++) {
        bool more = i + 1 < c->argc;
        if (ts_arg_eq(c->argv[i], "AUTH") && i + 2 < c->argc) {
            if (!authenticate(c, c->argv[i + 1], c->argv[i + 2])) return;
            i += 2;
        } else if (ts_arg_eq(c->argv[i], "SETNAME") && more) {
            if (!valid_client_name(c->argv[i + 1])) {
                ts_reply_error(c->r, "ERR Client names cannot contain spaces, newlines or special characters.");
                return;
            }
            set_client_name(conn, c->argv[i + 1]);
            i++;
        } else {
            /* Redis quotes the whole option here ("%s"), not 128 bytes. */
            ts_reply_errorf(c->r, "ERR Syntax error in HELLO option '%.*s'", (int)c->argv[i].len, c->argv[i].ptr);
            return;
        }
    }
    if (!conn->client.authenticated && ts_acl_auth_required(c->engine->acl)) {
        ts_reply_error(c->r, "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
                             "AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
                             "protocol version at the same time");
        return;
    }
    conn->client.resp = proto;
    c->r->resp = (uint8_t)proto;
    ts_reply_map(c->r, 7);
    ts_reply_cstr(c->r, "server");
    ts_reply_cstr(c->r, "redis");
    ts_reply_cstr(c->r, "version");
    ts_reply_cstr(c->r, TS_VERSION);
    ts_reply_cstr(c->r, "proto");
    ts_reply_int(c->r, proto);
    ts_reply_cstr(c->r, "id");
    ts_reply_int(c->r, (long long)conn->client.id);
    ts_reply_cstr(c->r, "mode");
    ts_reply_cstr(c->r, "standalone");
    ts_reply_cstr(c->r, "role");
    ts_reply_cstr(c->r, "master");
    ts_reply_cstr(c->r, "modules");
    ts_reply_array(c->r, 0);
}

/* ---------- CLIENT ---------- */

static void cmd_client_help(ts_cmd_ctx *c)
{
    static const char *lines[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * ID <client-id>",
        "      Kill connections by client id.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "    * ID <client-id> [<client-id> ...]",
        "      Return clients of specified IDs only.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "HELP",
        "    Print this help.",
    };
    ts_reply_status_lines(c->r, lines, TS_ARRAY_LEN(lines));
}

/* Filters of CLIENT LIST and CLIENT KILL, parsed once on the coordinator
 * side and again (cheaply) by each worker from the same arguments.
 * The grammar is Redis 7.0's:
 *   CLIENT LIST [TYPE <type> | ID <id> [<id> ...]]   (one form only)
 *   CLIENT KILL <addr>                                (old style; may kill the caller)
 *   CLIENT KILL <option> <value> [<option> <value> ...]  (the last ID wins) */
typedef struct client_filter {
    bool old_style_kill;     /* CLIENT KILL ip:port */
    ts_arg addr, laddr, user;
    bool has_addr, has_laddr, has_user;
    uint64_t *ids;           /* LIST: in argument order, repeats kept; KILL: the one ID */
    int nids;
    bool has_ids;            /* an ID filter was given (even if it matches nobody) */
    int type;                /* -1 any, 0 normal, 1 other (master/replica/pubsub: none exist) */
    bool skipme;
    uint64_t me;
    const char *error;
    char *errbuf;            /* error texts that quote an argument (owned) */
} client_filter;

static void filter_free(client_filter *f)
{
    free(f->ids);
    free(f->errbuf);
}

/* -1 for an unknown type name. */
static int client_type(ts_arg t)
{
    if (ts_arg_eq(t, "normal")) return 0;
    if (ts_arg_eq(t, "master") || ts_arg_eq(t, "replica") || ts_arg_eq(t, "slave") || ts_arg_eq(t, "pubsub"))
        return 1;
    return -1;
}

static void filter_error_arg(client_filter *f, const char *fmt, ts_arg a)
{
    /* Redis quotes the whole argument. */
    int n = snprintf(NULL, 0, fmt, (int)a.len, a.ptr);
    f->errbuf = ts_malloc((size_t)n + 1);
    snprintf(f->errbuf, (size_t)n + 1, fmt, (int)a.len, a.ptr);
    f->error = f->errbuf;
}

static void parse_list_filter(ts_cmd_ctx *c, client_filter *f)
{
    if (c->argc == 2) return;
    if (c->argc == 4 && ts_arg_eq(c->argv[2], "TYPE")) {
        f->type = client_type(c->argv[3]);
        if (f->type < 0) filter_error_arg(f, "ERR Unknown client type '%.*s'", c->argv[3]);
        return;
    }
    if (c->argc > 3 && ts_arg_eq(c->argv[2], "ID")) {
        f->has_ids = true;
        f->ids = ts_malloc(sizeof(uint64_t) * (size_t)(c->argc - 3));
        for (int i = 3; i < c->argc; i++) {
            long long id;
            if (!ts_arg_to_ll(c->argv[i], &id)) {
                f->error = "ERR Invalid client ID";
                return;
            }
            f->ids[f->nids++] = (uint64_t)id;   /* ids <= 0 match nobody */
        }
        return;
    }
    f->error = TS_ERR_SYNTAX;
}

static void parse_kill_filter(ts_cmd_ctx *c, client_filter *f)
{
    if (c->argc == 3) {
        f->old_style_kill = true;
        f->addr = c->argv[2];
        f->has_addr = true;
        f->skipme = false;
        return;
    }
    for (int i = 2; i < c->argc; i += 2) {
        ts_arg opt = c->argv[i];
        if (i + 1 >= c->argc) { f->error = TS_ERR_SYNTAX; return; }
        ts_arg val = c->argv[i + 1];
        if (ts_arg_eq(opt, "ID")) {
            long long id;
            if (!ts_arg_to_ll(val, &id) || id <= 0) {
                f->error = "ERR client-id should be greater than 0";
                return;
            }
            if (!f->ids) f->ids = ts_malloc(sizeof(uint64_t));
            f->ids[0] = (uint64_t)id;
            f->nids = 1;
            f->has_ids = true;
        } else if (ts_arg_eq(opt, "TYPE")) {
            f->type = client_type(val);
            if (f->type < 0) { filter_error_arg(f, "ERR Unknown client type '%.*s'", val); return; }
        } else if (ts_arg_eq(opt, "ADDR")) {
            f->addr = val;
            f->has_addr = true;
        } else if (ts_arg_eq(opt, "LADDR")) {
            f->laddr = val;
            f->has_laddr = true;
        } else if (ts_arg_eq(opt, "USER")) {
            if (!ts_acl_find(c->engine->acl, val.ptr, val.len)) {
                filter_error_arg(f, "ERR No such user '%.*s'", val);
                return;
            }
            f->user = val;
            f->has_user = true;
        } else if (ts_arg_eq(opt, "SKIPME")) {
            if (ts_arg_eq(val, "yes")) f->skipme = true;
            else if (ts_arg_eq(val, "no")) f->skipme = false;
            else { f->error = TS_ERR_SYNTAX; return; }
        } else {
            f->error = TS_ERR_SYNTAX;
            return;
        }
    }
}

static void parse_filter(ts_cmd_ctx *c, bool kill, uint64_t me, client_filter *f)
{
    memset(f, 0, sizeof(*f));
    f->type = -1;
    f->skipme = kill;   /* SKIPME defaults to yes for KILL; LIST lists everyone */
    f->me = me;
    if (kill) parse_kill_filter(c, f);
    else parse_list_filter(c, f);
}

static bool filter_match(const client_filter *f, const ts_conn *conn)
{
    if (f->type == 1) return false;
    if (f->has_ids) {
        bool found = false;
        for (int i = 0; i < f->nids; i++) if (f->ids[i] == conn->client.id) { found = true; break; }
        if (!found) return false;
    }
    if (f->has_addr && (strlen(conn->client.addr) != f->addr.len || memcmp(conn->client.addr, f->addr.ptr, f->addr.len)))
        return false;
    if (f->has_laddr && (strlen(conn->client.laddr) != f->laddr.len || memcmp(conn->client.laddr, f->laddr.ptr, f->laddr.len)))
        return false;
    if (f->has_user) {
        const char *name = conn->client.user ? conn->client.user : "default";
        if (strlen(name) != f->user.len || memcmp(name, f->user.ptr, f->user.len) != 0) return false;
    }
    if (f->skipme && conn->client.id == f->me) return false;
    return true;
}

void ts_conn_describe(ts_conn *conn, ts_buf *out, int64_t now_ms)
{
    int fd = -1;
    uv_fileno(&conn->h.handle, &fd);
    char flags[8], *p = flags;   /* in Redis's order */
    if (conn->multi) *p++ = 'x';
    if (conn->watch && ts_watch_is_dirty(conn->watch)) *p++ = 'd';
    if (conn->client.is_unix) *p++ = 'U';
    if (conn->client.no_evict) *p++ = 'e';
    if (p == flags) *p++ = 'N';
    *p = '\0';
    const char *fmt =
        "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d sub=0 psub=0 ssub=0 "
        "multi=%d qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=%zu rbs=%zu rbp=0 obl=%zu oll=%u omem=%zu "
        "tot-mem=%zu events=r cmd=%s user=%s redir=-1 resp=%d\n";
#define DESCRIBE_ARGS \
        (unsigned long long)conn->client.id, conn->client.addr, conn->client.laddr, fd, conn->client.name ? conn->client.name : "", \
        (long long)((now_ms - conn->client.ctime_ms) / 1000), (long long)((now_ms - conn->client.last_interaction_ms) / 1000), \
        flags, conn->client.db, conn->multi ? conn->multi->queue.n : -1, conn->query.len - conn->qpos, \
        conn->query.cap - conn->query.len, conn->multi ? conn->multi->queue.bytes : (size_t)0, \
        conn->out.cap, conn->out.len, conn->slot_count, conn->writing.len, ts_conn_memory(conn), \
        conn->client.last_cmd ? conn->client.last_cmd : "NULL", conn->client.user ? conn->client.user : "default", \
        conn->client.resp
    /* The name has no length limit: measure first, then format in place. */
    int n = snprintf(NULL, 0, fmt, DESCRIBE_ARGS);
    if (n <= 0) return;
    ts_buf_reserve(out, (size_t)n + 1);
    snprintf(out->data + out->len, (size_t)n + 1, fmt, DESCRIBE_ARGS);
    out->len += (size_t)n;
#undef DESCRIBE_ARGS
}

/* Lists or kills this worker's matching connections. Like Redis, a killed
 * connection is closed at once and its pending replies are dropped; only
 * the caller itself gets its reply first (close after reply). */
static long client_apply(ts_worker *w, const client_filter *f, bool kill, ts_buf *list)
{
    long n = 0;
    ts_conn *next;
    for (ts_conn *conn = w->conns; conn; conn = next) {
        next = conn->next;   /* ts_conn_close unlinks conn */
        if (!filter_match(f, conn)) continue;
        n++;
        if (!kill) ts_conn_describe(conn, list, w->e.now_ms);
        else if (conn->client.id == f->me) conn->close_after_reply = true;
        else ts_conn_close(conn);
    }
    return n;
}

/* Replies with the CLIENT LIST lines the workers produced. With an ID
 * filter the lines follow the order of the IDs given, repeats included, as
 * in Redis; otherwise worker by worker. */
static void client_list_reply(ts_reply *r, const client_filter *f, const ts_buf *const *outs, int nouts)
{
    ts_buf all;
    ts_buf_init(&all);
    if (!f->has_ids) {
        for (int i = 0; i < nouts; i++)
            if (outs[i]->len) ts_buf_append(&all, outs[i]->data, outs[i]->len);
    } else {
        for (int k = 0; k < f->nids; k++) {
            char prefix[32];
            int plen = snprintf(prefix, sizeof(prefix), "id=%llu ", (unsigned long long)f->ids[k]);
            for (int i = 0; i < nouts; i++) {
                const char *p = outs[i]->data, *end = p + outs[i]->len;
                while (p < end) {
                    const char *nl = memchr(p, '\n', (size_t)(end - p));
                    const char *next = nl ? nl + 1 : end;
                    if (next - p > plen && !memcmp(p, prefix, (size_t)plen)) ts_buf_append(&all, p, (size_t)(next - p));
                    p = next;
                }
            }
        }
    }
    ts_reply_verbatim(r, all.data ? all.data : "", all.len, "txt");
    ts_buf_free(&all);
}

static void client_kill_reply(ts_cmd_ctx *c, const client_filter *f, long killed)
{
    if (f->old_style_kill) {
        if (killed == 0) ts_reply_error(c->r, "ERR No such client");
        else ts_reply_ok(c->r);
    } else {
        ts_reply_int(c->r, killed);
    }
}

static void cmd_client(ts_cmd_ctx *c)
{
    const char *sub = c->cmd->name + strlen("client|");
    ts_conn *conn = c->conn;
    if (!strcmp(sub, "id")) {
        ts_reply_int(c->r, (long long)conn->client.id);
    } else if (!strcmp(sub, "getname")) {
        if (conn->client.name) ts_reply_cstr(c->r, conn->client.name);
        else ts_reply_null(c->r);
    } else if (!strcmp(sub, "setname")) {
        if (!valid_client_name(c->argv[2])) {
            ts_reply_error(c->r, "ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        set_client_name(conn, c->argv[2]);
        ts_reply_ok(c->r);
    } else if (!strcmp(sub, "no-evict")) {
        if (ts_arg_eq(c->argv[2], "on")) conn->client.no_evict = true;
        else if (ts_arg_eq(c->argv[2], "off")) conn->client.no_evict = false;
        else { ts_reply_error(c->r, TS_ERR_SYNTAX); return; }
        ts_reply_ok(c->r);
    } else if (!strcmp(sub, "info")) {
        ts_buf line;
        ts_buf_init(&line);
        ts_conn_describe(conn, &line, c->now_ms);
        ts_reply_verbatim(c->r, line.data, line.len, "txt");
        ts_buf_free(&line);
    } else if (!strcmp(sub, "list") || !strcmp(sub, "kill")) {
        /* Single worker: everything is here. */
        bool kill = sub[0] == 'k';
        client_filter f;
        parse_filter(c, kill, conn ? conn->client.id : 0, &f);
        if (f.error) { ts_reply_error(c->r, f.error); filter_free(&f); return; }
        ts_buf list;
        ts_buf_init(&list);
        long n = client_apply(ts_worker_of_engine(c->engine), &f, kill, &list);
        if (kill) {
            client_kill_reply(c, &f, n);
        } else {
            const ts_buf *one = &list;
            client_list_reply(c->r, &f, &one, 1);
        }
        ts_buf_free(&list);
        filter_free(&f);
    }
}

/* Multi-worker CLIENT LIST / KILL: each worker handles its own connections. */
static void client_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *ctx, bool kill)
{
    client_filter f;
    parse_filter(ctx, kill, t->client_id, &f);
    if (!f.error) p->n = client_apply(ts_worker_of_engine(ctx->engine), &f, kill, &p->out);
    filter_free(&f);
}

static void client_list_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *ctx) { client_step(t, p, ctx, false); }
static void client_kill_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *ctx) { client_step(t, p, ctx, true); }

static bool client_filter_error(ts_txn *t, bool kill)
{
    ts_cmd_ctx ctx = {.argc = t->argc, .argv = t->argv, .r = &t->reply, .cmd = t->cmd, .engine = t->coord};
    client_filter f;
    parse_filter(&ctx, kill, 0, &f);
    bool bad = f.error != NULL;
    if (bad) ts_reply_error(&t->reply, f.error);
    filter_free(&f);
    return bad;
}

static int client_list_after(ts_txn *t)
{
    if (client_filter_error(t, false)) return -1;
    ts_cmd_ctx ctx = {.argc = t->argc, .argv = t->argv, .r = &t->reply, .cmd = t->cmd, .engine = t->coord};
    client_filter f;
    parse_filter(&ctx, false, 0, &f);
    const ts_buf **outs = ts_malloc(sizeof(*outs) * (size_t)t->nparts);
    for (int i = 0; i < t->nparts; i++) outs[i] = &t->parts[i].out;
    client_list_reply(&t->reply, &f, outs, t->nparts);
    free(outs);
    filter_free(&f);
    return -1;
}

static int client_kill_after(ts_txn *t)
{
    if (client_filter_error(t, true)) return -1;
    long n = 0;
    for (int i = 0; i < t->nparts; i++) n += t->parts[i].n;
    ts_cmd_ctx ctx = {.argc = t->argc, .argv = t->argv, .r = &t->reply, .cmd = t->cmd, .engine = t->coord};
    client_filter f;
    parse_filter(&ctx, true, 0, &f);
    client_kill_reply(&ctx, &f, n);
    filter_free(&f);
    return -1;
}

static const ts_txn_ops multi_client_list = {client_list_step, client_list_after};
static const ts_txn_ops multi_client_kill = {client_kill_step, client_kill_after};

void ts_conn_commands_bind(void)
{
    ts_command_bind("auth", cmd_auth, NULL);
    ts_command_bind("select", cmd_select, NULL);
    ts_command_bind("hello", cmd_hello, NULL);
    static const char *const conn_subs[] = {"client|id", "client|getname", "client|setname", "client|info",
                                            "client|no-evict"};
    for (size_t i = 0; i < TS_ARRAY_LEN(conn_subs); i++) ts_command_bind(conn_subs[i], cmd_client, NULL);
    ts_command_bind("client|list", cmd_client, &multi_client_list);
    ts_command_bind("client|kill", cmd_client, &multi_client_kill);
    ts_command_bind("client|help", cmd_client_help, NULL);
    ts_command_bind("acl|whoami", cmd_acl_whoami, NULL);
    ts__conn_multi_bind();
    ts_script_set_acl_logger(ts__conn_script_acl_log);
}
