"""Key specs: COMMAND GETKEYSANDFLAGS and COMMAND GETKEYS, byte for byte
against a real redis-server 7.0, for a representative call of every command
(and subcommand) Tessera has whose COMMAND INFO lists key specs, and for the
edge cases of the key spec search: SET's GET (variable flags), XREAD /
XREADGROUP's STREAMS keyword, numkeys that do not parse (Redis's atoi
fallback), a key in two specs, keys past the end, NULs in arguments.

What the calls find is what the ACL will check (ts_command_keys_with_flags,
src/route/command.c); the specs of commands Tessera does not have (MIGRATE's
backwards KEYS search, GEORADIUS's STORE) are covered by the
unit test test/unit/command.c with Redis's own answers.
"""
import pytest

from tessera_testlib import Wire, parse

# name (as COMMAND INFO spells it) -> a representative call
CALLS = {
    "get": ("GET", "k"), "set": ("SET", "k", "v"), "setnx": ("SETNX", "k", "v"), "setex": ("SETEX", "k", 10, "v"),
    "psetex": ("PSETEX", "k", 100, "v"), "getset": ("GETSET", "k", "v"), "getdel": ("GETDEL", "k"),
    "getex": ("GETEX", "k", "PERSIST"), "mget": ("MGET", "a", "b", "c"), "mset": ("MSET", "a", 1, "b", 2),
    "msetnx": ("MSETNX", "a", 1, "b", 2), "append": ("APPEND", "k", "v"), "strlen": ("STRLEN", "k"),
    "incr": ("INCR", "k"), "decr": ("DECR", "k"), "incrby": ("INCRBY", "k", 2), "decrby": ("DECRBY", "k", 2),
    "incrbyfloat": ("INCRBYFLOAT", "k", 1.5), "getrange": ("GETRANGE", "k", 0, 1),
    "setrange": ("SETRANGE", "k", 0, "v"), "substr": ("SUBSTR", "k", 0, 1), "lcs": ("LCS", "a", "b", "LEN"),
    # lists
    "lpush": ("LPUSH", "k", "a", "b"), "rpush": ("RPUSH", "k", "a"), "lpushx": ("LPUSHX", "k", "a"),
    "rpushx": ("RPUSHX", "k", "a"), "lpop": ("LPOP", "k", 2), "rpop": ("RPOP", "k"), "llen": ("LLEN", "k"),
    "lindex": ("LINDEX", "k", 0), "lrange": ("LRANGE", "k", 0, -1), "lset": ("LSET", "k", 0, "v"),
    "linsert": ("LINSERT", "k", "BEFORE", "p", "v"), "lrem": ("LREM", "k", 0, "v"), "ltrim": ("LTRIM", "k", 0, 1),
    "lpos": ("LPOS", "k", "v", "RANK", 1), "lmove": ("LMOVE", "a", "b", "LEFT", "RIGHT"),
    "rpoplpush": ("RPOPLPUSH", "a", "b"), "lmpop": ("LMPOP", 2, "a", "b", "LEFT", "COUNT", 2),
    # transactions and scripts
    "watch": ("WATCH", "a", "b"), "eval": ("EVAL", "return 1", 2, "a", "b", "arg"),
    "evalsha": ("EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", 1, "a"),
    "eval_ro": ("EVAL_RO", "return 1", 1, "a"), "evalsha_ro": ("EVALSHA_RO", "f" * 40, 0),
    "fcall": ("FCALL", "fn", 2, "a", "b", "arg"), "fcall_ro": ("FCALL_RO", "fn", 1, "a"),
    # sort
    "sort": ("SORT", "k", "BY", "w_*", "LIMIT", 0, 1, "GET", "#", "STORE", "d"),
    "sort_ro": ("SORT_RO", "k", "BY", "w_*", "GET", "o_*"),
    # keys and expiry
    "del": ("DEL", "a", "b"), "unlink": ("UNLINK", "a", "b"), "exists": ("EXISTS", "a", "b"),
    "touch": ("TOUCH", "a", "b"), "type": ("TYPE", "k"), "rename": ("RENAME", "a", "b"),
    "renamenx": ("RENAMENX", "a", "b"), "copy": ("COPY", "a", "b", "DB", 1, "REPLACE"), "move": ("MOVE", "k", 1),
    "object|encoding": ("OBJECT", "ENCODING", "k"), "object|refcount": ("OBJECT", "REFCOUNT", "k"),
    "object|idletime": ("OBJECT", "IDLETIME", "k"), "object|freq": ("OBJECT", "FREQ", "k"),
    "expire": ("EXPIRE", "k", 10, "NX"), "pexpire": ("PEXPIRE", "k", 10), "expireat": ("EXPIREAT", "k", 10),
    "pexpireat": ("PEXPIREAT", "k", 10, "GT"), "ttl": ("TTL", "k"), "pttl": ("PTTL", "k"),
    "expiretime": ("EXPIRETIME", "k"), "pexpiretime": ("PEXPIRETIME", "k"), "persist": ("PERSIST", "k"),
    "dump": ("DUMP", "k"), "restore": ("RESTORE", "k", 0, "payload", "REPLACE"),
    # sorted sets
    "zadd": ("ZADD", "k", 1, "m"), "zincrby": ("ZINCRBY", "k", 1, "m"), "zrem": ("ZREM", "k", "m"),
    "zcard": ("ZCARD", "k"), "zscore": ("ZSCORE", "k", "m"), "zmscore": ("ZMSCORE", "k", "a", "b"),
    "zrank": ("ZRANK", "k", "m"), "zrevrank": ("ZREVRANK", "k", "m"), "zcount": ("ZCOUNT", "k", 0, 1),
    "zlexcount": ("ZLEXCOUNT", "k", "-", "+"), "zrange": ("ZRANGE", "k", 0, -1),
    "zrangestore": ("ZRANGESTORE", "d", "k", 0, -1), "zrevrange": ("ZREVRANGE", "k", 0, -1),
    "zrangebyscore": ("ZRANGEBYSCORE", "k", 0, 1), "zrevrangebyscore": ("ZREVRANGEBYSCORE", "k", 1, 0),
    "zrangebylex": ("ZRANGEBYLEX", "k", "-", "+"), "zrevrangebylex": ("ZREVRANGEBYLEX", "k", "+", "-"),
    "zremrangebyrank": ("ZREMRANGEBYRANK", "k", 0, 1), "zremrangebyscore": ("ZREMRANGEBYSCORE", "k", 0, 1),
    "zremrangebylex": ("ZREMRANGEBYLEX", "k", "-", "+"), "zpopmin": ("ZPOPMIN", "k", 2),
    "zpopmax": ("ZPOPMAX", "k"), "zmpop": ("ZMPOP", 2, "a", "b", "MIN", "COUNT", 2),
    "zrandmember": ("ZRANDMEMBER", "k", 2), "zunion": ("ZUNION", 2, "a", "b", "WITHSCORES"),
    "zinter": ("ZINTER", 2, "a", "b"), "zdiff": ("ZDIFF", 2, "a", "b"),
    "zunionstore": ("ZUNIONSTORE", "d", 2, "a", "b", "WEIGHTS", 1, 2), "zinterstore": ("ZINTERSTORE", "d", 2, "a", "b"),
    "zdiffstore": ("ZDIFFSTORE", "d", 2, "a", "b"), "zintercard": ("ZINTERCARD", 2, "a", "b", "LIMIT", 1),
    "zscan": ("ZSCAN", "k", 0),
    # sets
    "sadd": ("SADD", "k", "a", "b"), "srem": ("SREM", "k", "a"), "sismember": ("SISMEMBER", "k", "a"),
    "smismember": ("SMISMEMBER", "k", "a", "b"), "scard": ("SCARD", "k"), "smembers": ("SMEMBERS", "k"),
    "spop": ("SPOP", "k", 2), "srandmember": ("SRANDMEMBER", "k", 2), "smove": ("SMOVE", "a", "b", "m"),
    "sinter": ("SINTER", "a", "b"), "sintercard": ("SINTERCARD", 2, "a", "b", "LIMIT", 1),
    "sinterstore": ("SINTERSTORE", "d", "a", "b"), "sunion": ("SUNION", "a", "b"),
    "sunionstore": ("SUNIONSTORE", "d", "a", "b"), "sdiff": ("SDIFF", "a", "b"),
    "sdiffstore": ("SDIFFSTORE", "d", "a", "b"), "sscan": ("SSCAN", "k", 0),
    # blocking
    "blpop": ("BLPOP", "a", "b", 0), "brpop": ("BRPOP", "a", 0), "blmove": ("BLMOVE", "a", "b", "LEFT", "RIGHT", 0),
    "brpoplpush": ("BRPOPLPUSH", "a", "b", 0), "blmpop": ("BLMPOP", 0, 2, "a", "b", "LEFT"),
    "bzpopmin": ("BZPOPMIN", "a", "b", 0), "bzpopmax": ("BZPOPMAX", "a", 0), "bzmpop": ("BZMPOP", 0, 2, "a", "b", "MIN"),
    # hashes
    "hset": ("HSET", "k", "f", "v"), "hsetnx": ("HSETNX", "k", "f", "v"), "hmset": ("HMSET", "k", "f", "v"),
    "hget": ("HGET", "k", "f"), "hmget": ("HMGET", "k", "a", "b"), "hdel": ("HDEL", "k", "a"), "hlen": ("HLEN", "k"),
    "hstrlen": ("HSTRLEN", "k", "f"), "hexists": ("HEXISTS", "k", "f"), "hkeys": ("HKEYS", "k"),
    "hvals": ("HVALS", "k"), "hgetall": ("HGETALL", "k"), "hincrby": ("HINCRBY", "k", "f", 1),
    "hincrbyfloat": ("HINCRBYFLOAT", "k", "f", 1.5), "hrandfield": ("HRANDFIELD", "k", 2), "hscan": ("HSCAN", "k", 0),
    # streams
    "xadd": ("XADD", "k", "*", "f", "v"), "xlen": ("XLEN", "k"), "xrange": ("XRANGE", "k", "-", "+"),
    "xrevrange": ("XREVRANGE", "k", "+", "-"), "xdel": ("XDEL", "k", "1-1"), "xtrim": ("XTRIM", "k", "MAXLEN", 10),
    "xsetid": ("XSETID", "k", "1-1"), "xread": ("XREAD", "COUNT", 1, "STREAMS", "a", "b", 0, 0),
    "xreadgroup": ("XREADGROUP", "GROUP", "g", "c", "COUNT", 1, "STREAMS", "a", "b", ">", ">"),
    "xgroup|create": ("XGROUP", "CREATE", "k", "g", "$", "MKSTREAM"), "xgroup|setid": ("XGROUP", "SETID", "k", "g", 0),
    "xgroup|destroy": ("XGROUP", "DESTROY", "k", "g"),
    "xgroup|createconsumer": ("XGROUP", "CREATECONSUMER", "k", "g", "c"),
    "xgroup|delconsumer": ("XGROUP", "DELCONSUMER", "k", "g", "c"), "xack": ("XACK", "k", "g", "1-1"),
    "xpending": ("XPENDING", "k", "g"), "xclaim": ("XCLAIM", "k", "g", "c", 0, "1-1"),
    "xautoclaim": ("XAUTOCLAIM", "k", "g", "c", 0, 0), "xinfo|stream": ("XINFO", "STREAM", "k", "FULL"),
    "xinfo|groups": ("XINFO", "GROUPS", "k"), "xinfo|consumers": ("XINFO", "CONSUMERS", "k", "g"),
}

EDGES = [
    # SORT: Redis's sortGetKeys (the last STORE; LIMIT skips two, GET/BY one)
    ("SORT", "k"), ("SORT", "k", "STORE"), ("SORT", "k", "STORE", "a", "STORE", "b"), ("SORT", "k", "GET", "store", "x"),
    ("SORT", "k", "LIMIT", "store", "x", "STORE", "y"), ("SORT", "k", "foo", "store", "d"), ("SORT_RO", "k", "STORE", "d"),
    # SET: VARIABLE_FLAGS, so Redis's setGetKeys (GET makes the key read)
    ("SET", "k", "v", "GET"), ("SET", "k", "v", "EX", 10, "get", "NX"), ("SET", "k", "get"),
    ("SET", "k", "v", "KEEPTTL"), ("SET", "k", "v", b"GET\x00x"), ("SET", "k", "v", "GETX"),
    # XREAD / XREADGROUP: the STREAMS keyword, then half of what follows
    ("XREAD", "STREAMS", "a", 0), ("XREAD", "STREAMS", "a", "b", 0), ("XREAD", "COUNT", "streams", "STREAMS", "a", 0),
    ("XREAD", "BLOCK", 0, "STREAMS"), ("XREAD", "COUNT", 1, "a"), ("XREAD", "COUNT", 1, "STREAMS", "streams", 0),
    ("XREAD", "streams", "a", "b", "c", "d", "e", "f"), ("XREAD", b"STREAMS\x00", "a", 0),
    ("XREAD", "STREAMS", "a", "b"),
    ("XREADGROUP", "GROUP", "streams", "c", "STREAMS", "k", ">"),
    ("XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "a", "b", ">", 0),
    ("XREADGROUP", "GROUP", "g", "STREAMS", "STREAMS", "k", ">"),
    ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", "b", ">"),
    ("XREADGROUP", "GROUP", "g", "c", "BLOCK", 0, "k", ">"),
    # numkeys: the spec while it parses, Redis's atoi fallback (no flags, destination last) after
    ("ZUNIONSTORE", "d", 1, "a"), ("ZUNIONSTORE", "d", "02", "a", "b"), ("ZUNIONSTORE", "d", "2x", "a", "b"),
    ("ZUNIONSTORE", "d", " 2", "a", "b"), ("ZUNIONSTORE", "d", "+2", "a", "b"), ("ZUNIONSTORE", "d", 3, "a", "b"),
    ("ZUNIONSTORE", "d", 0, "a"), ("ZUNIONSTORE", "d", -1, "a", "b"), ("ZUNIONSTORE", "d", 4294967297, "a", "b"),
    ("ZUNIONSTORE", "d", 2147483648, "a", "b"), ("ZUNIONSTORE", "d", "99999999999999999999", "a", "b"),
    ("ZUNIONSTORE", "d", "x", "a"), ("ZUNIONSTORE", "d", "", "a"), ("ZINTERSTORE", "d", "2abc", "a", "b", "c"),
    ("ZDIFFSTORE", "d", 4294967298, "a", "b"),
    ("ZUNION", 1, "a"), ("ZUNION", 0, "a"), ("ZUNION", "1x", "a"), ("ZINTER", "2x", "a", "b"), ("ZDIFF", 3, "a", "b"),
    ("ZINTERCARD", 2, "a", "b"), ("SINTERCARD", 1, "a", "b", "c"), ("SINTERCARD", "x", "a"),
    ("SINTERCARD", 3, "a", "b"),
    ("LMPOP", 1, "a", "LEFT"), ("LMPOP", 3, "a", "b", "LEFT"), ("LMPOP", 0, "a", "LEFT"),
    ("LMPOP", "2abc", "a", "b", "LEFT"), ("ZMPOP", 1, "a", "MIN"), ("ZMPOP", 5, "a", "MIN"),
    ("BLMPOP", 0, 1, "a", "LEFT"), ("BLMPOP", 0, 3, "a", "b", "LEFT"), ("BLMPOP", 0, "+2", "a", "b", "LEFT"),
    ("BLMPOP", 0, 0, "a", "LEFT"), ("BLMPOP", 0, 4, "a", "b", "LEFT"), ("BZMPOP", 0, 2, "a", "b", "MAX"),
    ("BZMPOP", 0, "2 ", "a", "b", "MAX"),
    # a key in two specs, an argument named twice
    ("LMOVE", "a", "a", "LEFT", "RIGHT"), ("BLMOVE", "a", "a", "LEFT", "LEFT", 0), ("RPOPLPUSH", "a", "a"),
    ("SMOVE", "a", "a", "m"), ("RENAME", "a", "a"), ("COPY", "a", "a"), ("LCS", "a", "a"),
    ("EXISTS", "a", "a"), ("DEL", "a", "b", "a"), ("MSET", "a", 1, "a", 2), ("ZRANGESTORE", "k", "k", 0, 1),
    ("SINTERSTORE", "a", "a", "a"), ("ZUNIONSTORE", "a", 2, "a", "a"),
    # last key from the end, odd counts
    ("MSET", "a", 1, "b"), ("MSETNX", "a", 1, "b"), ("HMSET", "k", "f"),
    ("MGET",) + tuple("k%d" % i for i in range(300)),
    ("BLPOP",) + tuple("k%d" % i for i in range(100)) + (0,),
    ("ZUNIONSTORE", "d", 100) + tuple("k%d" % i for i in range(100)),
    # case, containers, errors in Redis's order
    ("get", "lower"), ("Object", "Encoding", "k"), ("nosuch", "a"), ("PING",), ("ping", "a"), ("KEYS", "*"),
    ("SCAN", 0), ("OBJECT",), ("OBJECT", "nosuch", "k"), ("OBJECT", "ENCODING"), ("OBJECT", "HELP"),
    ("XGROUP", "CREATE", "k"), ("XINFO", "STREAM"), ("XGROUP", "HELP"), ("GET",), ("GET", "a", "b"),
    ("MSET", "a"), ("CONFIG", "GET", "x"), ("CLIENT", "KILL", "x"), ("COMMAND", "GETKEYS", "GET", "k"),
    ("COMMAND", "GETKEYSANDFLAGS", "GET", "k"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "k"),
]


def command_tree(w):
    """{name: COMMAND INFO entry} for every command and subcommand of the
    server behind w."""
    out = {}

    def add(info):
        out[info[0].decode()] = info
        for sub in info[9]:
            add(sub)

    for info in w.val("COMMAND", "INFO", *w.val("COMMAND", "LIST")):
        add(info)
    return out


def test_every_keyed_command_has_a_call(server):
    """Each command whose COMMAND INFO lists key specs is in CALLS (a new
    command needs its representative call here), and nothing else is."""
    w = Wire(server)
    tree = command_tree(w)
    w.close()
    keyed = {name for name, info in tree.items() if info[8]}
    assert keyed == set(CALLS), "missing: %s, no keys: %s" % (sorted(keyed - set(CALLS)), sorted(set(CALLS) - keyed))


@pytest.mark.parametrize("resp", [2, 3])
def test_getkeysandflags_every_command(d, resp):
    if resp == 3:
        d.both("HELLO", "3")   # the replies differ (ids, versions)
    for name, call in CALLS.items():
        d("COMMAND", "GETKEYSANDFLAGS", *call)
        d("COMMAND", "GETKEYS", *call)


@pytest.mark.parametrize("resp", [2, 3])
def test_getkeysandflags_edges(d, resp):
    if resp == 3:
        d.both("HELLO", "3")   # the replies differ (ids, versions)
    for call in EDGES:
        d("COMMAND", "GETKEYSANDFLAGS", *call)
        d("COMMAND", "GETKEYS", *call)


def test_getkeysandflags_reply_shape(d):
    """What clients read: [[key, {flag...}], ...], flags as statuses in
    Redis's order."""
    x = parse(d("COMMAND", "GETKEYSANDFLAGS", "LMOVE", "a", "b", "LEFT", "RIGHT"))
    assert x == [[b"a", ["RW", "access", "delete"]], [b"b", ["RW", "insert"]]]
    d("COMMAND", "GETKEYSANDFLAGS")
    d("COMMAND", "GETKEYSANDFLAGS", "GET")
    d("COMMAND", "INFO", "command|getkeysandflags")
    d("COMMAND", "DOCS", "command|getkeysandflags")
    d("COMMAND", "HELP")
