#!/usr/bin/env python3
"""Generates src/cmd/command_table.inc, the declarative command table, from
the public command metadata of a running Redis 7.0 (arity, flags, legacy key
positions, ACL categories, summary, since, group, complexity) plus Tessera's
own routing and implementation columns below.

Run against a redis-server 7.0: scripts/gen_command_table.py [port]
The output is committed; the build does not need Redis.
"""
import socket
import sys

# name -> (route, run function, multi-shard ops or None). A run of None is
# bound at startup by the layer that owns the command's state
# (net/conn_cmds.c for the connection commands: ts_command_bind).
COMMANDS = {
    # strings
    "get": ("KEYS", "cmd_get", None), "set": ("KEYS", "cmd_set", None),
    "setnx": ("KEYS", "cmd_setnx", None), "setex": ("KEYS", "cmd_setex", None),
    "psetex": ("KEYS", "cmd_psetex", None), "getset": ("KEYS", "cmd_getset", None),
    "getdel": ("KEYS", "cmd_getdel", None), "getex": ("KEYS", "cmd_getex", None),
    "mget": ("KEYS", "cmd_mget", "&ts_multi_mget"), "mset": ("KEYS", "cmd_mset", "&ts_multi_mset"),
    "msetnx": ("KEYS", "cmd_msetnx", "&ts_multi_msetnx"), "append": ("KEYS", "cmd_append", None),
    "strlen": ("KEYS", "cmd_strlen", None), "incr": ("KEYS", "cmd_incr", None),
    "decr": ("KEYS", "cmd_decr", None), "incrby": ("KEYS", "cmd_incrby", None),
    "decrby": ("KEYS", "cmd_decrby", None), "incrbyfloat": ("KEYS", "cmd_incrbyfloat", None),
    "getrange": ("KEYS", "cmd_getrange", None), "setrange": ("KEYS", "cmd_setrange", None),
    "substr": ("KEYS", "cmd_getrange", None), "lcs": ("KEYS", "cmd_lcs", "&ts_multi_lcs"),
    # lists
    "lpush": ("KEYS", "cmd_lpush", None), "rpush": ("KEYS", "cmd_rpush", None),
    "lpushx": ("KEYS", "cmd_lpushx", None), "rpushx": ("KEYS", "cmd_rpushx", None),
    "lpop": ("KEYS", "cmd_lpop", None), "rpop": ("KEYS", "cmd_rpop", None),
    "llen": ("KEYS", "cmd_llen", None), "lindex": ("KEYS", "cmd_lindex", None),
    "lrange": ("KEYS", "cmd_lrange", None), "lset": ("KEYS", "cmd_lset", None),
    "linsert": ("KEYS", "cmd_linsert", None), "lrem": ("KEYS", "cmd_lrem", None),
    "ltrim": ("KEYS", "cmd_ltrim", None), "lpos": ("KEYS", "cmd_lpos", None),
    "lmove": ("KEYS", "cmd_lmove", "&ts_multi_borrow"), "rpoplpush": ("KEYS", "cmd_rpoplpush", "&ts_multi_borrow"),
    "lmpop": ("KEYS", "cmd_lmpop", "&ts_multi_borrow"),
    # sort.c
    "sort": ("KEYS", "cmd_sort", "&ts_multi_sort"), "sort_ro": ("KEYS", "cmd_sort_ro", "&ts_multi_sort"),
    # keys
    "del": ("KEYS", "cmd_del", "&ts_multi_del"), "unlink": ("KEYS", "cmd_del", "&ts_multi_del"),
    "exists": ("KEYS", "cmd_exists", "&ts_multi_exists"), "touch": ("KEYS", "cmd_exists", "&ts_multi_exists"),
    "type": ("KEYS", "cmd_type", None), "keys": ("ALL", "cmd_keys", "&ts_multi_keys"),
    "scan": ("CURSOR", "cmd_scan", None), "randomkey": ("ALL", "cmd_randomkey", "&ts_multi_randomkey"),
    "rename": ("KEYS", "cmd_rename", "&ts_multi_rename"), "renamenx": ("KEYS", "cmd_rename", "&ts_multi_rename"),
    "copy": ("KEYS", "cmd_copy", "&ts_multi_copy"), "move": ("KEYS", "cmd_move", None),
    "object": ("NONE", "cmd_container", None),
    "object|encoding": ("KEYS", "cmd_object", None), "object|refcount": ("KEYS", "cmd_object", None),
    "object|idletime": ("KEYS", "cmd_object", None), "object|freq": ("KEYS", "cmd_object", None),
    "object|help": ("NONE", "cmd_object_help", None),
    "dbsize": ("ALL", "cmd_dbsize", "&ts_multi_dbsize"), "flushdb": ("ALL", "cmd_flushdb", "&ts_multi_flush"),
    "flushall": ("ALL", "cmd_flushall", "&ts_multi_flush"), "select": ("CONN", None, None),
    # transactions (net/conn_multi.c; EXEC runs through cmd/transaction.c)
    "multi": ("CONN", None, None), "exec": ("CONN", None, None), "discard": ("CONN", None, None),
    "watch": ("CONN", None, None), "unwatch": ("CONN", None, None),
    # scripting (script/eval.c binds them)
    "eval": ("KEYS", None, None), "evalsha": ("KEYS", None, None), "eval_ro": ("KEYS", None, None),
    "evalsha_ro": ("KEYS", None, None), "script": ("NONE", "cmd_container", None),
    "script|help": ("NONE", None, None), "script|flush": ("NONE", None, None),
    "script|exists": ("NONE", None, None), "script|load": ("NONE", None, None),
    "script|kill": ("NONE", None, None), "script|debug": ("NONE", None, None),
    "fcall": ("KEYS", None, None), "fcall_ro": ("KEYS", None, None), "function": ("NONE", "cmd_container", None),
    "function|load": ("NONE", None, None), "function|delete": ("NONE", None, None),
    "function|flush": ("NONE", None, None), "function|list": ("NONE", None, None),
    "function|stats": ("NONE", None, None), "function|kill": ("NONE", None, None),
    "function|dump": ("NONE", None, None), "function|restore": ("NONE", None, None),
    "function|help": ("NONE", None, None),
    "swapdb": ("ALL", "cmd_swapdb", "&ts_multi_swapdb"),
    # expiry
    "expire": ("KEYS", "cmd_expire", None), "pexpire": ("KEYS", "cmd_expire", None),
    "expireat": ("KEYS", "cmd_expire", None), "pexpireat": ("KEYS", "cmd_expire", None),
    "ttl": ("KEYS", "cmd_ttl", None), "pttl": ("KEYS", "cmd_ttl", None),
    "expiretime": ("KEYS", "cmd_ttl", None), "pexpiretime": ("KEYS", "cmd_ttl", None),
    "persist": ("KEYS", "cmd_persist", None),
    # serialization (dump.c)
    "dump": ("KEYS", "cmd_dump", None), "restore": ("KEYS", "cmd_restore", None),
    # sorted sets (zsets.c)
    "zadd": ("KEYS", "cmd_zadd", None), "zincrby": ("KEYS", "cmd_zincrby", None),
    "zrem": ("KEYS", "cmd_zrem", None), "zcard": ("KEYS", "cmd_zcard", None),
    "zscore": ("KEYS", "cmd_zscore", None), "zmscore": ("KEYS", "cmd_zmscore", None),
    "zrank": ("KEYS", "cmd_zrank", None), "zrevrank": ("KEYS", "cmd_zrevrank", None),
    "zcount": ("KEYS", "cmd_zcount", None), "zlexcount": ("KEYS", "cmd_zlexcount", None),
    "zrange": ("KEYS", "cmd_zrange", None), "zrangestore": ("KEYS", "cmd_zrangestore", "&ts_multi_borrow"),
    "zrevrange": ("KEYS", "cmd_zrevrange", None), "zrangebyscore": ("KEYS", "cmd_zrangebyscore", None),
    "zrevrangebyscore": ("KEYS", "cmd_zrevrangebyscore", None), "zrangebylex": ("KEYS", "cmd_zrangebylex", None),
    "zrevrangebylex": ("KEYS", "cmd_zrevrangebylex", None), "zremrangebyrank": ("KEYS", "cmd_zremrangebyrank", None),
    "zremrangebyscore": ("KEYS", "cmd_zremrangebyscore", None), "zremrangebylex": ("KEYS", "cmd_zremrangebylex", None),
    "zpopmin": ("KEYS", "cmd_zpopmin", None), "zpopmax": ("KEYS", "cmd_zpopmax", None),
    "zmpop": ("KEYS", "cmd_zmpop", "&ts_multi_borrow"), "zrandmember": ("KEYS", "cmd_zrandmember", None),
    "zunion": ("KEYS", "cmd_zunion", "&ts_multi_borrow"), "zinter": ("KEYS", "cmd_zinter", "&ts_multi_borrow"),
    "zdiff": ("KEYS", "cmd_zdiff", "&ts_multi_borrow"), "zunionstore": ("KEYS", "cmd_zunionstore", "&ts_multi_borrow"),
    "zinterstore": ("KEYS", "cmd_zinterstore", "&ts_multi_borrow"), "zdiffstore": ("KEYS", "cmd_zdiffstore", "&ts_multi_borrow"),
    "zintercard": ("KEYS", "cmd_zintercard", "&ts_multi_borrow"), "zscan": ("KEYS", "cmd_zscan", None),
    # sets
    "sadd": ("KEYS", "cmd_sadd", None), "srem": ("KEYS", "cmd_srem", None),
    "sismember": ("KEYS", "cmd_sismember", None), "smismember": ("KEYS", "cmd_smismember", None),
    "scard": ("KEYS", "cmd_scard", None), "smembers": ("KEYS", "cmd_smembers", None),
    "spop": ("KEYS", "cmd_spop", None), "srandmember": ("KEYS", "cmd_srandmember", None),
    "smove": ("KEYS", "cmd_smove", "&ts_multi_borrow"), "sinter": ("KEYS", "cmd_sinter", "&ts_multi_borrow"),
    "sintercard": ("KEYS", "cmd_sintercard", "&ts_multi_borrow"),
    "sinterstore": ("KEYS", "cmd_sinterstore", "&ts_multi_borrow"),
    "sunion": ("KEYS", "cmd_sunion", "&ts_multi_borrow"), "sunionstore": ("KEYS", "cmd_sunionstore", "&ts_multi_borrow"),
    "sdiff": ("KEYS", "cmd_sdiff", "&ts_multi_borrow"), "sdiffstore": ("KEYS", "cmd_sdiffstore", "&ts_multi_borrow"),
    "sscan": ("KEYS", "cmd_sscan", None),
    # blocking (src/cmd/blocking_cmds.c, blocking.h)
    "blpop": ("KEYS", "cmd_blpop", "&ts_multi_borrow"), "brpop": ("KEYS", "cmd_brpop", "&ts_multi_borrow"),
    "blmove": ("KEYS", "cmd_blmove", "&ts_multi_borrow"),
    "brpoplpush": ("KEYS", "cmd_brpoplpush", "&ts_multi_borrow"),
    "blmpop": ("KEYS", "cmd_blmpop", "&ts_multi_borrow"),
    "bzpopmin": ("KEYS", "cmd_bzpopmin", "&ts_multi_borrow"),
    "bzpopmax": ("KEYS", "cmd_bzpopmax", "&ts_multi_borrow"),
    "bzmpop": ("KEYS", "cmd_bzmpop", "&ts_multi_borrow"),
    # connection and server
    "ping": ("NONE", "cmd_ping", None), "echo": ("NONE", "cmd_echo", None),
    "quit": ("CONN", "cmd_quit", None), "hello": ("CONN", None, None), "auth": ("CONN", None, None),
    "client": ("NONE", "cmd_container", None),
    "client|id": ("CONN", None, None), "client|setname": ("CONN", None, None),
    "client|getname": ("CONN", None, None), "client|list": ("ALL", None, None),
    "client|info": ("CONN", None, None), "client|kill": ("ALL", None, None),
    "client|help": ("NONE", None, None), "client|no-evict": ("CONN", None, None),
    "command": ("NONE", "cmd_command", None),
    "command|count": ("NONE", "cmd_command", None), "command|info": ("NONE", "cmd_command", None),
    "command|list": ("NONE", "cmd_command", None), "command|docs": ("NONE", "cmd_command", None),
    "command|getkeys": ("NONE", "cmd_command", None),
    "command|getkeysandflags": ("NONE", "cmd_command", None), "command|help": ("NONE", "cmd_command_help", None),
    "info": ("ALL", "cmd_info", "&ts_multi_info"),
    "config": ("NONE", "cmd_container", None),
    "acl": ("NONE", "cmd_container", None),
    "acl|cat": ("NONE", "cmd_acl_cat", None), "acl|deluser": ("ALL", "cmd_acl_deluser", "&ts_multi_acl_change"),
    "acl|dryrun": ("NONE", "cmd_acl_dryrun", None), "acl|genpass": ("NONE", "cmd_acl_genpass", None),
    "acl|getuser": ("NONE", "cmd_acl_getuser", None), "acl|help": ("NONE", "cmd_acl_help", None),
    "acl|list": ("NONE", "cmd_acl_list", None), "acl|load": ("ALL", "cmd_acl_load", "&ts_multi_acl_change"),
    "acl|log": ("NONE", "cmd_acl_log", None), "acl|save": ("NONE", "cmd_acl_save", None),
    "acl|setuser": ("ALL", "cmd_acl_setuser", "&ts_multi_acl_change"),
    "acl|users": ("NONE", "cmd_acl_users", None), "acl|whoami": ("CONN", None, None),
    "config|get": ("CONN", "cmd_config_get", None), "config|set": ("ALL", "cmd_config_set", "&ts_multi_config_set"),
    "config|resetstat": ("ALL", "cmd_config_resetstat", "&ts_multi_resetstat"),
    "config|help": ("NONE", "cmd_config_help", None),
    "time": ("NONE", "cmd_time", None), "shutdown": ("ALL", "cmd_shutdown", "&ts_multi_shutdown"),
    "debug": ("ALL", "cmd_debug", "&ts_multi_debug"),
    # persistence (persist_cmds.c)
    "save": ("ALL", "cmd_save", "&ts_multi_snapshot"), "bgsave": ("ALL", "cmd_bgsave", "&ts_multi_snapshot"),
    "bgrewriteaof": ("ALL", "cmd_bgrewriteaof", "&ts_multi_snapshot"),
    "lastsave": ("NONE", "cmd_lastsave", None),
    # hashes
    "hset": ("KEYS", "cmd_hset", None), "hsetnx": ("KEYS", "cmd_hsetnx", None),
    "hmset": ("KEYS", "cmd_hmset", None), "hget": ("KEYS", "cmd_hget", None),
    "hmget": ("KEYS", "cmd_hmget", None), "hdel": ("KEYS", "cmd_hdel", None),
    "hlen": ("KEYS", "cmd_hlen", None), "hstrlen": ("KEYS", "cmd_hstrlen", None),
    "hexists": ("KEYS", "cmd_hexists", None), "hkeys": ("KEYS", "cmd_hkeys", None),
    "hvals": ("KEYS", "cmd_hvals", None), "hgetall": ("KEYS", "cmd_hgetall", None),
    "hincrby": ("KEYS", "cmd_hincrby", None), "hincrbyfloat": ("KEYS", "cmd_hincrbyfloat", None),
    "hrandfield": ("KEYS", "cmd_hrandfield", None), "hscan": ("KEYS", "cmd_hscan", None),
    # streams
    "xadd": ("KEYS", "cmd_xadd", None), "xlen": ("KEYS", "cmd_xlen", None),
    "xrange": ("KEYS", "cmd_xrange", None), "xrevrange": ("KEYS", "cmd_xrevrange", None),
    "xdel": ("KEYS", "cmd_xdel", None), "xtrim": ("KEYS", "cmd_xtrim", None),
    "xsetid": ("KEYS", "cmd_xsetid", None),
    "xread": ("KEYS", "cmd_xread", "&ts_multi_borrow"), "xreadgroup": ("KEYS", "cmd_xread", "&ts_multi_borrow"),
    "xgroup": ("NONE", "cmd_container", None),
    "xgroup|create": ("KEYS", "cmd_xgroup_create", None), "xgroup|setid": ("KEYS", "cmd_xgroup_setid", None),
    "xgroup|destroy": ("KEYS", "cmd_xgroup_destroy", None),
    "xgroup|createconsumer": ("KEYS", "cmd_xgroup_createconsumer", None),
    "xgroup|delconsumer": ("KEYS", "cmd_xgroup_delconsumer", None),
    "xgroup|help": ("NONE", "cmd_xgroup_help", None),
    "xack": ("KEYS", "cmd_xack", None), "xpending": ("KEYS", "cmd_xpending", None),
    "xclaim": ("KEYS", "cmd_xclaim", None), "xautoclaim": ("KEYS", "cmd_xautoclaim", None),
    "xinfo": ("NONE", "cmd_container", None),
    "xinfo|stream": ("KEYS", "cmd_xinfo_stream", None), "xinfo|groups": ("KEYS", "cmd_xinfo_groups", None),
    "xinfo|consumers": ("KEYS", "cmd_xinfo_consumers", None), "xinfo|help": ("NONE", "cmd_xinfo_help", None),
}

class Tree:
    """A RESP3 value with its type kept, so it can be re-encoded exactly."""
    def __init__(self, kind, val):
        self.kind, self.val = kind, val

def rd3(f):
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    if t in (b"*", b"~", b"%"):
        n = int(rest) * (2 if t == b"%" else 1)
        return Tree(t.decode(), [rd3(f) for _ in range(n)])
    if t == b"$":
        return Tree("$", f.read(int(rest) + 2)[:-2])
    if t == b"+":
        return Tree("+", rest)
    if t == b":":
        return Tree(":", int(rest))
    if t == b"_":
        return Tree("_", None)
    raise ValueError(line)

def enc(tree):
    """Compact encoding read by ts_reply_tree (src/proto/reply_tree.c)."""
    k = tree.kind
    if k in "*~":
        return k + "%d\n" % len(tree.val) + "".join(enc(x) for x in tree.val)
    if k == "%":
        return "%%%d\n" % (len(tree.val) // 2) + "".join(enc(x) for x in tree.val)
    if k == "$":
        return "$%d\n" % len(tree.val) + tree.val.decode()
    if k == "+":
        return "+" + tree.val.decode() + "\n"
    if k == ":":
        return ":%d\n" % tree.val
    raise ValueError(k)

def rd(f):
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [rd(f) for _ in range(n)]
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode()
    if t == b":":
        return int(rest)
    if t in (b"+", b"-"):
        return rest.decode()
    raise ValueError(line)

def send(sock, args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)

def call(sock, f, *args):
    send(sock, args)
    return rd(f)

def cstr(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

def call3(sock, f, *args):
    send(sock, args)
    return rd3(f)

def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 6379
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    s3 = socket.create_connection(("127.0.0.1", port))
    f3 = s3.makefile("rb")
    call3(s3, f3, "HELLO", "3")
    rows = []
    for name, (route, fn, multi) in COMMANDS.items():
        info = call(s, f, "COMMAND", "INFO", name)[0]
        docs = call(s, f, "COMMAND", "DOCS", name)
        d = dict(zip(docs[1][0::2], docs[1][1::2])) if docs else {}
        info3 = call3(s3, f3, "COMMAND", "INFO", name).val[0].val
        tips, specs = enc(info3[7]), enc(info3[8])
        docs3 = call3(s3, f3, "COMMAND", "DOCS", name).val[1].val
        pairs = [(docs3[i], docs3[i + 1]) for i in range(0, len(docs3), 2)]
        pairs = [p for p in pairs if p[0].val != b"subcommands"]
        docs_enc = "".join(enc(k) + enc(v) for k, v in pairs)
        flags = " | ".join("TS_CMD_" + {"movablekeys": "MOVABLE_KEYS"}.get(x, x.upper().replace("-", "_"))
                           for x in info[2]) or "0"
        acl = " ".join(info[6])
        rows.append("    {.name = %s, .arity = %d, .flags = %s, .acl = %s, .first_key = %d, .last_key = %d,"
                    " .key_step = %d, .route = TS_ROUTE_%s, .run = %s, .multi = %s,\n"
                    "     .summary = %s, .since = %s, .group = %s, .complexity = %s,\n"
                    "     .tips = %s,\n     .key_specs = %s,\n     .docs_npairs = %d, .docs = %s},"
                    % (cstr(name), info[1], flags, cstr(acl), info[3], info[4], info[5], route, fn or "NULL",
                       multi or "NULL", cstr(d.get("summary", "")), cstr(d.get("since", "")),
                       cstr(d.get("group", "")), cstr(d.get("complexity", "")),
                       cstr(tips), cstr(specs), len(pairs), cstr(docs_enc)))
    print("/* Generated by scripts/gen_command_table.py from Redis 7.0's public command")
    print(" * metadata; routing and implementation columns are Tessera's. Do not edit. */")
    print("\n".join(rows))

if __name__ == "__main__":
    main()
