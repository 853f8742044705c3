"""EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT: Tessera's raw replies must
equal Redis 7.0's: the redis.* API, the RESP <-> Lua conversions, the
errors with the script's name and line, the global protection, shebang
flags; and scripts that touch keys they did not declare, on any shard,
are atomic and apply their writes exactly once (src/script/eval.c).
"""
import threading
import time

import pytest

from conftest import start_tessera
from tessera_testlib import NSHARDS, Wire, keys_on, parse

A = keys_on(0, "a", 3)
B = keys_on(NSHARDS - 1, "b", 3)


def ev(d, script, *args, keys=()):
    return d("EVAL", script, str(len(keys)), *keys, *args)


SCRIPTS = [
    # conversions Lua -> RESP
    "return 1", "return 1.9", "return -3.7", "return 'str'", "return true", "return false", "return nil",
    "return {}", "return {1,2,3}", "return {1,2,nil,4}", "return {1,{2,{3,'x'}},'y'}", "return {err='My Error'}",
    "return {ok='fine'}", "return {ok='a\\r\\nb'}", "return {err='a\\nb'}", "return redis.error_reply('CODE msg')",
    "return redis.error_reply('-CODE2 msg')", "return redis.error_reply('nocode')", "return redis.status_reply('PONG')",
    "return {1, true, false, 'x', 2.5}", "return {double=3.14}", "return {big_number='123456789012345678901234567890'}",
    "return {map={a=1}}", "return {set={a=true}}", "return {verbatim_string={format='txt', string='hello'}}",
    "return 9007199254740993", "return -0.5", "return 1e20", "return tostring(1/0)",
    # conversions RESP -> Lua
    "return redis.call('ping')", "return redis.call('echo', 'x')", "return redis.call('get', 'nokey')",
    "return type(redis.call('get', 'nokey'))", "return redis.call('incr', 'n')",
    "redis.call('rpush', 'l', 1, 2, 3); return redis.call('lrange', 'l', 0, -1)",
    "return type(redis.call('lrange', 'nolist', 0, -1))", "return redis.call('set', 's', 'v')",
    "return type(redis.call('set', 's', 'v'))", "return redis.call('set', 's', 'v')['ok']",
    "return redis.pcall('incr', 's')", "return type(redis.pcall('incr', 's'))",
    "return redis.pcall('incr', 's')['err']", "redis.call('hset', 'h', 'f', 'v'); return redis.call('hgetall', 'h')",
    "return redis.call('set', 'k', 3.5)", "redis.call('set', 'k', 12345678901234567890); return redis.call('get', 'k')",
    "redis.call('set', 'k', 0.1); return redis.call('get', 'k')",
    "return redis.call('zadd', 'z', 1.5, 'm')", "redis.call('zadd','z',1.5,'m'); return redis.call('zscore', 'z', 'm')",
    # RESP3 inside the script
    "redis.setresp(3); return redis.call('hgetall', 'nohash')",
    "redis.setresp(3); redis.call('hset','h','a','1'); return redis.call('hgetall', 'h')",
    "redis.setresp(3); redis.call('hset','h','a','1'); local t = redis.call('hgetall', 'h'); return t['map']['a']",
    "redis.setresp(3); redis.call('sadd','st','x'); return redis.call('smembers', 'st')",
    "redis.setresp(3); return redis.call('get', 'nokey')", "redis.setresp(3); return redis.call('get', 'nokey') == nil",
    "redis.setresp(3); redis.call('zadd','z',1.5,'m'); return redis.call('zscore', 'z', 'm')",
    "redis.setresp(3); return {double=1.5}", "redis.setresp(3); return true", "redis.setresp(3); return false",
    "redis.setresp(3); return redis.call('exists', 'x')",
    "return redis.setresp(4)", "return redis.setresp()",
    # the API
    "return redis.sha1hex('')", "return redis.sha1hex('abc')", "return redis.sha1hex()",
    "return redis.REDIS_VERSION", "return redis.REDIS_VERSION_NUM",
    "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
    "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}",
    "redis.log(redis.LOG_WARNING, 'hello', 'world'); return 1", "return redis.log()", "return redis.log('x', 'y')",
    "return redis.log(9, 'y')", "redis.set_repl(redis.REPL_ALL); return 1", "return redis.set_repl(99)",
    "return redis.set_repl()", "return redis.replicate_commands()",
    "return redis.call()", "return redis.call({})", "return redis.pcall()", "return redis.call('nosuch')",
    "return redis.pcall('nosuch')", "return redis.call('get')", "return redis.call('eval', 'return 1', 0)",
    "return redis.call('multi')", "return redis.call('select', 5)", "redis.call('select', 5); return redis.call('set','x','y')",
    "return redis.call('select', 99)", "return redis.call('select', 'x')",
    "return pcall(function() redis.call('nosuch') end)", "return {pcall(function() error('x') end)}",
    "return {pcall(function() error({err='tbl'}) end)}", "return xpcall(function() error('x') end, function(e) return 'h:' .. e end)",
    "return {xpcall(function() return 1 end, function(e) return e end)}",
    # errors and line numbers
    "error('boom')", "error({err='My err'})", "local a = nil; return a.b", "\n\nerror('line3')",
    "return redis.call('incr', 'nolist', 'extra')", "redis.call('set','s','x'); redis.call('incr','s')",
    "return 1 +", "#!lua\nreturn 1", "#!lua flags=no-writes\nreturn 1", "#!lua flags=no-writes\nreturn redis.call('set','x','1')",
    "#!lua flags=no-writes,allow-oom\nreturn redis.call('get','x')", "#!lua flags=bogus\nreturn 1", "#!lua foo=bar\nreturn 1",
    "#!python\nreturn 1", "#!lua", "#!lua flags=allow-cross-slot-keys,allow-stale,no-cluster\nreturn 2",
    # the sandbox
    "a = 1", "return a", "function f() end", "redis.call = nil", "string.len = nil", "math.x = 1",
    "return _G.pcall ~= nil", "return type(print)", "return type(loadfile)", "return type(dofile)",
    "return type(os)", "return type(io)", "return type(require)", "return type(debug)",
    "return type(cjson)", "return type(bit)", "return type(struct)", "return type(cmsgpack)",
    "return type(string.rep)", "return ('x'):rep(3)", "local t = {}; t.x = 1; return t.x",
    "return type(__redis__err__handler)", "return tostring(math.random(1,100) > 0)",
]


@pytest.mark.parametrize("script", SCRIPTS, ids=range(len(SCRIPTS)))
def test_eval(d, script):
    ev(d, script)


@pytest.mark.parametrize("script", SCRIPTS[:60], ids=range(60))
def test_eval_resp3_caller(d, script):
    d.both("HELLO", "3")
    ev(d, script)


def test_keys_and_argv(d):
    ev(d, "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}", "x", "y", keys=(A[0], B[0]))
    ev(d, "return {#KEYS, #ARGV}")
    d("EVAL", "return 1", "2", "k")
    d("EVAL", "return 1", "-1")
    d("EVAL", "return 1", "x")
    d("EVAL", "return KEYS", "1", "k", "a", "b")


def test_evalsha_and_script_commands(d):
    sha = parse(d("SCRIPT", "LOAD", "return {KEYS[1], ARGV[1]}"))
    d("EVALSHA", sha, "1", "k", "v")
    d("EVALSHA", sha.upper(), "1", "k", "v")
    d("EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0")
    d("EVALSHA", "short", "0")
    d("EVALSHA_RO", sha, "1", "k", "v")
    d("SCRIPT", "EXISTS", sha, "ffffffffffffffffffffffffffffffffffffffff", "x")
    d("EVAL", "return 'cached'", "0")
    d("SCRIPT", "EXISTS", parse(d("SCRIPT", "LOAD", "return 'cached'")))
    d("SCRIPT", "LOAD", "return 1 +")
    d("SCRIPT", "FLUSH")
    d("SCRIPT", "EXISTS", sha)
    d("EVALSHA", sha, "0")
    d("SCRIPT", "FLUSH", "ASYNC")
    d("SCRIPT", "FLUSH", "SYNC")
    d("SCRIPT", "FLUSH", "BAD")
    d("SCRIPT", "HELP")
    d("SCRIPT", "NOSUCH")
    d("SCRIPT", "KILL")


def test_eval_ro(d):
    d("SET", "x", "1")
    d("EVAL_RO", "return redis.call('get', KEYS[1])", "1", "x")
    d("EVAL_RO", "return redis.call('set', KEYS[1], 'y')", "1", "x")
    d("EVAL_RO", "return redis.call('incr', 'x')", "0")
    d("EVAL_RO", "#!lua\nreturn 1", "0")
    d("EVAL_RO", "#!lua flags=no-writes\nreturn redis.call('get','x')", "0")
    d("GET", "x")


def test_script_in_multi(d):
    d("MULTI")
    ev(d, "redis.call('set', KEYS[1], 'a'); return redis.call('incr', KEYS[2])", keys=(A[0], B[0]))
    ev(d, "return redis.call('get', KEYS[1])", keys=(A[0],))
    d("SET", B[1], "x")
    d("EXEC")
    d("MGET", A[0], B[0], B[1])


def test_blocking_commands_in_scripts(d):
    ev(d, "return redis.call('blpop', 'nolist', 0)")
    ev(d, "return redis.call('blmove', 'nolist', 'x', 'left', 'left', 0)")
    ev(d, "return redis.call('bzpopmin', 'nozset', 0)")


def test_select_in_script_stays_in_script(d):
    d("SET", "k", "db0")
    ev(d, "redis.call('select', 3); redis.call('set', 'k', 'db3'); return redis.call('get', 'k')")
    d("GET", "k")
    d("SELECT", "3")
    d("GET", "k")


# ---------- keys nobody declared, on any shard ----------

def test_undeclared_keys_across_shards(d):
    """Keys passed in ARGV (BullMQ's way) on every shard: the script runs
    once, atomically, with the same results as Redis."""
    keys = A + B
    script = ("for i, k in ipairs(ARGV) do redis.call('incrby', k, i) end "
              "local out = {} for i, k in ipairs(ARGV) do out[i] = redis.call('get', k) end return out")
    for _ in range(3):
        ev(d, script, *keys)
    d("MGET", *keys)
    # declared key local, others undeclared; writes happen before the stray
    ev(d, "redis.call('rpush', KEYS[1], 'a'); redis.call('rpush', ARGV[1], 'b'); "
          "redis.call('rpush', KEYS[1], 'c'); return redis.call('lrange', KEYS[1], 0, -1)", B[1], keys=(A[1],))
    d("LRANGE", A[1], "0", "-1")
    d("LRANGE", B[1], "0", "-1")
    # writes then an error after the stray point: the writes stay, once
    ev(d, "redis.call('incr', KEYS[1]); redis.call('incr', ARGV[1]); error('late')", B[2], keys=(A[2],))
    d("MGET", A[2], B[2])
    # multi-shard and keyless commands inside a script
    ev(d, "redis.call('mset', ARGV[1], 1, ARGV[2], 2); return redis.call('mget', ARGV[1], ARGV[2])", A[0], B[0])
    ev(d, "return redis.call('dbsize')")
    ev(d, "return redis.call('exists', ARGV[1], ARGV[2], ARGV[3])", A[0], B[0], "nope")
    ev(d, "return redis.call('rename', ARGV[1], ARGV[2])", A[0], B[2])
    ev(d, "redis.call('sadd', ARGV[1], 'm'); return redis.call('smove', ARGV[1], ARGV[2], 'm')", A[1] + "s", B[1] + "s")
    d("SMEMBERS", B[1] + "s")


def test_stray_restores_big_and_small_values(d):
    """A script that changes a big local collection and then reaches another
    shard: the collection ends as Redis's (changed once, not twice)."""
    d("RPUSH", A[0], *[str(i) for i in range(3000)])
    d("SADD", A[1], *[str(i) for i in range(50)])
    ev(d, "redis.call('lpop', KEYS[1]); redis.call('srem', KEYS[2], '7'); redis.call('set', ARGV[1], 'x'); "
          "return {redis.call('llen', KEYS[1]), redis.call('scard', KEYS[2])}", B[0], keys=(A[0], A[1]))
    d("LLEN", A[0])
    d("LINDEX", A[0], "0")
    d("SCARD", A[1])
    d("SISMEMBER", A[1], "7")


def test_scripts_atomic_under_concurrency(tmp_path):
    """Transfers by script between accounts on different shards (declared
    and undeclared keys) while others sum them by script and by MULTI: the
    total never changes."""
    srv = start_tessera(tmp_path, threads=max(NSHARDS, 3))
    accounts = ["acct:%d" % i for i in range(10)]
    c = srv.client()
    c.mset({k: 100 for k in accounts})
    total = 100 * len(accounts)
    move = ("local n = tonumber(ARGV[3]) redis.call('decrby', ARGV[1], n) redis.call('incrby', ARGV[2], n) return 1")
    move_declared = ("local n = tonumber(ARGV[1]) redis.call('decrby', KEYS[1], n) redis.call('incrby', KEYS[2], n) "
                     "return 1")
    summer = "local s = 0 for _, k in ipairs(ARGV) do s = s + tonumber(redis.call('get', k)) end return s"
    stop = time.time() + 3
    bad = []

    def mover(seed):
        import random
        rnd = random.Random(seed)
        cl = srv.client()
        while time.time() < stop:
            a, b = rnd.sample(accounts, 2)
            if rnd.random() < 0.5:
                cl.eval(move, 0, a, b, rnd.randint(1, 5))
            else:
                cl.eval(move_declared, 2, a, b, rnd.randint(1, 5))
        cl.close()

    def checker():
        cl = srv.client()
        while time.time() < stop:
            s = cl.eval(summer, 0, *accounts)
            if s != total:
                bad.append(("script", s))
            p = cl.pipeline(transaction=True)
            for k in accounts:
                p.get(k)
            s = sum(int(v) for v in p.execute())
            if s != total:
                bad.append(("multi", s))
        cl.close()

    ts = [threading.Thread(target=mover, args=(i,)) for i in range(3)] + [threading.Thread(target=checker)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert bad == []
    assert sum(int(v) for v in c.mget(accounts)) == total
    c.close()
    assert srv.stop() == 0


def test_script_effects_in_aof(tmp_path):
    srv = start_tessera(tmp_path, "--appendonly", "yes", "--appendfsync", "always", threads=max(NSHARDS, 2))
    c = srv.client()
    c.eval("redis.call('set', KEYS[1], 'a'); redis.call('set', ARGV[1], 'b'); return 1", 1, A[0], B[0])
    c.eval("return redis.call('incr', KEYS[1])", 1, A[1])
    c.eval("return redis.call('get', KEYS[1])", 1, A[1])
    try:
        c.eval("redis.call('rpush', KEYS[1], 'x'); redis.call('rpush', KEYS[1], 'y'); error('after writes')", 1, A[2])
    except Exception:
        pass
    c.close()
    assert srv.stop() == 0
    with open(tmp_path / "appendonly.aof", "rb") as f:
        data = f.read()
    assert b"EVAL" not in data.upper().replace(b"EVALSHA", b"")   # effects, never the script
    assert data.count(b"MULTI") == 2, data
    srv2 = start_tessera(tmp_path, "--appendonly", "yes", threads=max(NSHARDS, 2))
    c = srv2.client()
    assert c.mget(A[0], B[0], A[1]) == [b"a", b"b", b"1"]
    assert c.lrange(A[2], 0, -1) == [b"x", b"y"]
    c.close()
    assert srv2.stop() == 0


def test_global_protection_does_not_leak_between_scripts(d):
    ev(d, "KEYS = 1")
    ev(d, "return #KEYS", keys=("x",))
    ev(d, "rawset(_G, 'leak', 1)")
    ev(d, "return leak")


# ---------- functions ----------

LIB = ("#!lua name=mylib\n"
       "local function set(keys, args) return redis.call('set', keys[1], args[1]) end\n"
       "redis.register_function('myset', set)\n"
       "redis.register_function{function_name='myget', callback=function(keys) return redis.call('get', keys[1]) end,"
       " flags={'no-writes'}, description='reads one key'}\n"
       "redis.register_function('spread', function(keys, args) for i, k in ipairs(args) do redis.call('incr', k) end "
       "local out = {} for i, k in ipairs(args) do out[i] = redis.call('get', k) end return out end)\n"
       "redis.register_function('boom', function() error('oops') end)\n")

LOAD_ERRORS = [
    "no shebang", "#!lua\nreturn 1", "#!lua name=bad-name\nreturn 1", "#!lua name=l2\nreturn 1",
    "#!lua name=l2\nredis.register_function('myset', function() return 1 end)", "#!lua name=l3\nredis.call('ping')",
    "#!lua name=l3\nlocal x = string.len('a')", "#!lua name=l4 foo=bar\nx", "#!py name=l4\nx", "#!lua name=l5\n1 +",
    "#!lua name=l5 name=l6\nx", "#!lua name=l5",
    "#!lua name=l5\nredis.register_function()", "#!lua name=l5\nredis.register_function(1, 2)",
    "#!lua name=l5\nredis.register_function('a', 2)", "#!lua name=l5\nredis.register_function({})",
    "#!lua name=l5\nredis.register_function('x')", "#!lua name=l5\nredis.register_function({function_name='x'})",
    "#!lua name=l5\nredis.register_function({callback=function() end})",
    "#!lua name=l5\nredis.register_function({function_name='x', callback=function() end, flags={'bogus'}})",
    "#!lua name=l5\nredis.register_function({function_name='x', callback=function() end, bogus=1})",
    "#!lua name=l5\nredis.register_function('bad name', function() end)",
    "#!lua name=l5\nredis.register_function('a', function() end) redis.register_function('a', function() end)",
    "#!lua name=l5\nlocal i = 0 while true do i = i + 1 end",
    "#!lua name=l5\nlocal v = redis.REDIS_VERSION redis.log(redis.LOG_NOTICE, 'x') "
    "redis.register_function('v', function() return v end)",
]


def fn_list(d, *args):
    """FUNCTION LIST: libraries and their functions in each server's dict
    order: compared sorted by name."""
    def norm(v):
        if isinstance(v, list):
            items = [norm(x) for x in v]
            if len(items) % 2 == 0 and items and all(isinstance(k, (str, bytes)) for k in items[::2]) and \
                    items[0] in ("library_name", "name"):
                return tuple(items)
            return sorted(items, key=repr)
        return v
    x, y = (norm(parse(w.cmd("FUNCTION", "LIST", *args))) for w in (d.a, d.b))
    assert x == y, (args, x, y)


def test_functions(d):
    d("FUNCTION", "FLUSH")
    d("FUNCTION", "LOAD", LIB)
    d("FCALL", "myset", "1", A[0], "v")
    d("FCALL", "myget", "1", A[0])
    d("FCALL_RO", "myset", "1", A[0], "v")
    d("FCALL_RO", "myget", "1", A[0])
    d("FCALL", "nosuch", "0")
    d("FCALL", "myget", "x")
    d("FCALL", "myget", "5", "a")
    d("FCALL", "myget", "-1")
    d("FCALL", "boom", "0")
    d("FCALL", "spread", "0", *(A + B))
    d("MGET", *(A + B))
    d("FUNCTION", "LOAD", LIB)
    d("FUNCTION", "LOAD", "REPLACE", LIB)
    d("FUNCTION", "LOAD", "BOGUS", LIB)
    fn_list(d)
    fn_list(d, "WITHCODE")
    fn_list(d, "LIBRARYNAME", "my*")
    d("FUNCTION", "LIST", "LIBRARYNAME", "nomatch*", "WITHCODE")
    d("FUNCTION", "LIST", "LIBRARYNAME")
    d("FUNCTION", "LIST", "BOGUS")
    d("FUNCTION", "STATS")
    for code in LOAD_ERRORS:
        d("FUNCTION", "LOAD", code)
    d("FUNCTION", "DELETE", "l5")
    d("FUNCTION", "DELETE", "nosuch")
    d("FUNCTION", "DELETE", "mylib")
    d("FCALL", "myget", "1", A[0])
    d("FUNCTION", "FLUSH", "BAD")
    d("FUNCTION", "FLUSH", "ASYNC")
    d("FUNCTION", "HELP")
    d("FUNCTION", "KILL")


def test_function_dump_restore_interchangeable(d):
    for w in (d.a, d.b):
        w.cmd("FUNCTION", "FLUSH")
    d("FUNCTION", "LOAD", LIB)
    d("FUNCTION", "LOAD", "#!lua name=other\nredis.register_function('o1', function() return 'o' end)")
    # The payloads differ in library order (each server's dict) and LZF
    # choices; each server restores the other's.
    for src, dst in ((d.b, d.a), (d.a, d.b)):
        payload = parse(src.cmd("FUNCTION", "DUMP"))
        assert dst.cmd("FUNCTION", "RESTORE", payload) .startswith(b"-ERR Library")
        assert dst.cmd("FUNCTION", "RESTORE", payload, "REPLACE") == b"+OK\r\n"
        assert dst.cmd("FUNCTION", "FLUSH") == b"+OK\r\n"
        assert dst.cmd("FUNCTION", "RESTORE", payload) == b"+OK\r\n"
        assert dst.cmd("FUNCTION", "RESTORE", payload, "FLUSH") == b"+OK\r\n"
        assert dst.cmd("FCALL", "o1", "0") == b"$1\r\no\r\n"
    fn_list(d, "WITHCODE")
    d("FUNCTION", "RESTORE", "garbage")
    d("FUNCTION", "RESTORE", parse(d.a.cmd("FUNCTION", "DUMP")), "BOGUS")


def test_function_in_multi_and_undeclared_keys(d):
    d("FUNCTION", "FLUSH")
    d("FUNCTION", "LOAD", LIB)
    d("MULTI")
    d("FCALL", "spread", "0", A[1], B[1])
    d("FCALL", "myset", "1", B[2], "x")
    d("EXEC")
    d("MGET", A[1], B[1], B[2])


def test_functions_survive_restart(tmp_path):
    """FUNCTION LOAD reaches the AOF and the RDB; a server restarts with its
    libraries (and Redis loads Tessera's RDB: test_rdb's interop checks the
    format, here the function record round trip)."""
    srv = start_tessera(tmp_path, "--appendonly", "yes", threads=max(NSHARDS, 2))
    c = srv.client()
    c.function_load(LIB)
    c.fcall("myset", 1, "k", "v")
    c.save()
    c.close()
    assert srv.stop() == 0
    srv = start_tessera(tmp_path, "--appendonly", "yes", threads=max(NSHARDS, 2))
    c = srv.client()
    assert c.fcall("myget", 1, "k") == b"v"
    c.execute_command("BGREWRITEAOF")
    time.sleep(1)
    c.close()
    assert srv.stop() == 0
    srv = start_tessera(tmp_path, "--appendonly", "yes", "--aof-use-rdb-preamble", "no", threads=max(NSHARDS, 2))
    c = srv.client()
    assert c.fcall("myget", 1, "k") == b"v"
    c.execute_command("BGREWRITEAOF")
    time.sleep(1)
    c.close()
    assert srv.stop() == 0
    srv = start_tessera(tmp_path, "--appendonly", "yes", threads=max(NSHARDS, 2))
    c = srv.client()
    assert [dict(zip(l[::2], l[1::2]))[b"library_name"] for l in c.function_list()] == [b"mylib"]
    c.close()
    assert srv.stop() == 0


# ---------- busy scripts ----------

def test_busy_script_kill_and_shutdown(tmp_path):
    """Past busy-reply-threshold, commands for the script's shard get BUSY
    (Redis's texts), other shards keep serving; SCRIPT KILL stops a script
    that wrote nothing, FUNCTION KILL a function, a writing one is
    UNKILLABLE and SHUTDOWN NOSAVE stops the server without persisting its
    writes."""
    import subprocess
    srv = start_tessera(tmp_path, "--busy-reply-threshold", "100", "--appendonly", "yes", threads=2)
    a0, b0 = keys_on(0, "busy", 1, 2)[0], keys_on(1, "busy", 1, 2)[0]
    loop = "local i = 0 while true do i = i + 1 end"

    def run_async(*args):
        return subprocess.Popen(["redis-cli", "-p", str(srv.port)] + list(args), stdout=subprocess.PIPE, text=True)

    def cli(*args):
        return subprocess.run(["timeout", "10", "redis-cli", "-p", str(srv.port)] + list(args),
                              capture_output=True, text=True).stdout.strip()

    busy_eval = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    busy_fn = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    assert cli("SET", b0, "other") == "OK"
    p = run_async("EVAL", loop, "1", a0)
    time.sleep(0.5)
    assert cli("GET", a0) == busy_eval
    assert cli("GET", b0) == "other"      # an untouched shard keeps serving
    assert cli("PING") == "PONG"
    assert cli("FUNCTION", "KILL") == busy_eval
    assert cli("FUNCTION", "STATS") == busy_eval
    assert cli("SHUTDOWN") == busy_eval
    assert cli("SCRIPT", "KILL") == "OK"
    out = p.communicate(timeout=10)[0].strip()
    assert out.startswith("ERR Script killed by user with SCRIPT KILL... script: "), out
    assert cli("SCRIPT", "KILL") == "NOTBUSY No scripts in execution right now."
    assert cli("GET", a0) == ""
    # a function
    assert cli("FUNCTION", "LOAD", "#!lua name=busy\nredis.register_function('spin', function() " + loop + " end)") \
        == "busy"
    p = run_async("FCALL", "spin", "1", a0)
    time.sleep(0.5)
    assert cli("GET", a0) == busy_fn
    c = srv.client()
    stats = c.execute_command("FUNCTION", "STATS")
    running = dict(zip(stats[1][::2], stats[1][1::2]))
    assert running[b"name"] == b"spin" and running[b"command"] == [b"FCALL", b"spin", b"1", a0.encode()], stats
    assert running[b"duration_ms"] >= 100
    c.close()
    assert cli("SCRIPT", "KILL") == busy_fn
    assert cli("FUNCTION", "KILL") == "OK"
    assert p.communicate(timeout=10)[0].strip().startswith("ERR Script killed by user with SCRIPT KILL...")
    # a script that wrote: unkillable; SHUTDOWN NOSAVE stops the server
    p = run_async("EVAL", "redis.call('set', KEYS[1], 'partial') " + loop, "1", a0)
    time.sleep(0.5)
    assert cli("SCRIPT", "KILL").startswith("UNKILLABLE Sorry the script already executed write commands")
    cli("SHUTDOWN", "NOSAVE")
    assert srv.proc.wait(10) == 0
    p.wait(10)
    srv = start_tessera(tmp_path, "--appendonly", "yes", threads=2)
    c = srv.client()
    assert c.get(a0) is None          # the stopped script's write was never logged
    assert c.get(b0) == b"other"
    c.close()
    assert srv.stop() == 0


def test_script_acl(d, server, reference):
    """A restricted user's script: each call is checked (Redis's texts) and
    refusals are logged with context lua."""
    admins = [Wire(server), Wire(reference)]

    def admin(*args):
        x, y = (w.cmd(*args) for w in admins)
        assert x == y, (args, x, y)
        return x

    admin("ACL", "SETUSER", "scr", "on", ">pw", "~a*", "+@all", "-incr")
    admin("ACL", "LOG", "RESET")
    d("AUTH", "scr", "pw")
    ev(d, "return redis.call('set', KEYS[1], 'x')", keys=(A[0],))
    ev(d, "return redis.pcall('set', 'zzz', 'x')")
    ev(d, "return redis.call('incr', KEYS[1])", keys=(A[0],))
    ev(d, "return redis.call('get', ARGV[1])", B[0])
    la, lb = (parse(w.cmd("ACL", "LOG")) for w in admins)
    pick = lambda log: [(e[1], e[3], e[5], e[7]) for e in log]   # count, reason, context, object
    assert pick(la) == pick(lb)
    admin("ACL", "DELUSER", "scr")
    for w in admins:
        w.close()
