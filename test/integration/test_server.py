"""Server and connection commands: PING, ECHO, TIME, SELECT, DBSIZE, SWAPDB,
MOVE, CLIENT (ID, SETNAME, GETNAME, INFO, LIST, KILL), COMMAND (COUNT,
LIST, INFO, DOCS, GETKEYS), INFO, CONFIG (GET, SET, RESETSTAT), DEBUG
(SLEEP, SET-ACTIVE-EXPIRE, OBJECT), SHUTDOWN and the exit on signals.

Replies are compared byte for byte with a real redis-server 7.0 wherever
they are deterministic; otherwise their shape and the parts clients read
are compared.
"""
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import start_redis, start_tessera, tessera_bin, wait_exit
from tessera_testlib import NSHARDS, Diff, Wire, encode, keys_on, parse, spread_keys


# ---------- helpers ----------

@pytest.fixture(scope="module")
def ref_debug(tmp_path_factory):
    """A redis-server 7.0 that accepts DEBUG (the shared reference does not)."""
    srv = start_redis(tmp_path_factory.mktemp("redis-debug"), "--enable-debug-command", "yes")
    if srv is None:
        pytest.skip("redis-server not installed")
    yield srv
    srv.stop()


def info_dict(text):
    if isinstance(text, bytes):
        text = text.decode()
    out = {}
    for line in text.split("\r\n"):
        if line and not line.startswith("#") and ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def info_sections(text):
    if isinstance(text, bytes):
        text = text.decode()
    return [l[2:] for l in text.split("\r\n") if l.startswith("# ")]


def client_line_fields(line):
    return [kv.split("=", 1) for kv in line.strip().split(" ")]


def clients(w):
    """CLIENT LIST as a list of {field: value}."""
    text = w.val("CLIENT", "LIST").decode()
    return [dict(client_line_fields(l)) for l in text.split("\n") if l]


# ---------- PING / ECHO / TIME ----------

def test_ping_echo(d):
    d.run([
        ("PING",), ("PING", "hello"), ("PING", ""), ("PING", "a", "b"), ("ping",), ("ECHO", "x"),
        ("ECHO", ""), ("ECHO", "a\r\nb\x00c"), ("ECHO",), ("ECHO", "a", "b"), ("TIME", "x"),
    ])


def test_time(server, reference):
    a, b = Wire(server), Wire(reference)
    x, y = a.cmd("TIME"), b.cmd("TIME")
    shape = lambda raw: re.sub(rb"\d+", b"N", raw)
    assert shape(x) == shape(y)
    secs, usecs = (int(v) for v in parse(x))
    assert 0 <= usecs < 1000000
    assert abs(secs + usecs / 1e6 - time.time()) < 2
    secs2, usecs2 = (int(v) for v in a.val("TIME"))
    assert (secs2, usecs2) >= (secs, usecs)


# ---------- SELECT / DBSIZE / SWAPDB / MOVE ----------

def test_select(d):
    d.run([
        ("SELECT", "0"), ("SELECT", "15"), ("SELECT", "16"), ("SELECT", "-1"), ("SELECT", "abc"),
        ("SELECT", "1.5"), ("SELECT", "99999999999"), ("SELECT", ""), ("SELECT",), ("SELECT", "1", "2"),
        ("SELECT", "3"), ("SET", "a", "in3"), ("SELECT", "0"), ("GET", "a"), ("SET", "a", "in0"),
        ("SELECT", "3"), ("GET", "a"), ("DBSIZE",), ("SELECT", "0"), ("DBSIZE",),
    ])


def test_dbsize_across_shards(d):
    ks = spread_keys("db", 5)
    for k in ks:
        d("SET", k, "v")
    d("DBSIZE")
    d("SELECT", "5")
    d("DBSIZE")
    d("MSET", *[x for k in ks[:4] for x in (k, "w")])
    d("DBSIZE")
    d("SELECT", "0")
    d("DEL", *ks[::2])
    d("DBSIZE")
    d("DBSIZE", "extra")


def test_swapdb(d):
    ks = spread_keys("sw", 2)
    for k in ks:
        d("SET", k, "zero")
    d("SELECT", "1")
    d("SET", ks[0], "one")
    d("SELECT", "0")
    d.run([
        ("SWAPDB", "0", "1"), ("DBSIZE",), ("GET", ks[0]), ("GET", ks[1]), ("SELECT", "1"), ("DBSIZE",),
        ("GET", ks[0]), ("MGET", *ks), ("SWAPDB", "1", "0"), ("DBSIZE",), ("SELECT", "0"), ("DBSIZE",),
        ("SWAPDB", "0", "0"), ("DBSIZE",), ("SWAPDB", "0", "16"), ("SWAPDB", "a", "b"), ("SWAPDB", "0", "-1"),
        ("SWAPDB", "0", "a"), ("SWAPDB", "-1", "0"), ("SWAPDB", "0"), ("SWAPDB", "0", "1", "2"),
        ("SWAPDB", "0", "99999999999"),
    ])


def test_swapdb_seen_by_other_connections(server, r):
    """A connection that selected a db sees the swapped contents."""
    a, b = Wire(server), Wire(server)
    k = keys_on(NSHARDS - 1, "swx")[0]
    assert a.cmd("SET", k, "zero") == b"+OK\r\n"
    b.cmd("SELECT", "2")
    assert b.cmd("GET", k) == b"$-1\r\n"
    assert a.cmd("SWAPDB", "0", "2") == b"+OK\r\n"
    assert b.cmd("GET", k) == b"$4\r\nzero\r\n"
    assert a.cmd("GET", k) == b"$-1\r\n"


def test_move(d):
    k = keys_on(NSHARDS - 1, "mv")[0]
    d.run([
        ("SET", k, "v"), ("MOVE", k, "1"), ("EXISTS", k), ("SELECT", "1"), ("GET", k), ("MOVE", k, "0"),
        ("SET", k, "again"), ("MOVE", k, "0"), ("SELECT", "0"), ("GET", k), ("MOVE", k, "16"),
        ("MOVE", k, "x"), ("MOVE", "nokey", "1"), ("MOVE", k, "0"),
    ])


# ---------- CLIENT ----------

def test_client_id_and_names(d, server):
    ids = [Wire(server).val("CLIENT", "ID") for _ in range(6)]
    assert ids == sorted(ids) and len(set(ids)) == 6
    d.run([
        ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", "myname"), ("CLIENT", "GETNAME"),
        ("CLIENT", "SETNAME", "a b"), ("CLIENT", "SETNAME", "a\nb"), ("CLIENT", "SETNAME", "\x7f"),
        ("CLIENT", "SETNAME", "\x01"), ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", "ok~!{}"),
        ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", ""), ("CLIENT", "GETNAME"),
        ("CLIENT", "SETNAME"), ("CLIENT", "SETNAME", "a", "b"), ("CLIENT", "GETNAME", "x"),
        ("CLIENT", "ID", "x"), ("client", "getname"),
    ])


def test_client_unknown_subcommand(d):
    d.run([
        ("CLIENT", "foo"), ("CLIENT", "foo", "bar"), ("CLIENT",), ("CLIENT", "x" * 300),
        ("CLIENT", "LIST", "foo"), ("CLIENT", "LIST", "TYPE"), ("CLIENT", "LIST", "TYPE", "bogus"),
        ("CLIENT", "LIST", "TYPE", "x" * 300), ("CLIENT", "LIST", "ID"), ("CLIENT", "LIST", "ID", "1", "x"),
        ("CLIENT", "LIST", "TYPE", "pubsub"), ("CLIENT", "LIST", "TYPE", "master"),
        ("CLIENT", "LIST", "TYPE", "normal", "ID", "1"), ("CLIENT", "LIST", "ID", "0"),
        ("CLIENT", "LIST", "ID", "-5", "99999999"),
        ("CLIENT", "KILL", "1.2.3.4:5"), ("CLIENT", "KILL", "ID", "0"), ("CLIENT", "KILL", "ID", "x"),
        ("CLIENT", "KILL", "ID", "99999999"), ("CLIENT", "KILL", "TYPE", "pubsub"),
        ("CLIENT", "KILL", "TYPE", "nope"), ("CLIENT", "KILL", "USER", "bob"),
        ("CLIENT", "KILL", "SKIPME", "maybe"), ("CLIENT", "KILL", "ADDR", "1.2.3.4:5", "SKIPME"),
        ("CLIENT", "KILL", "ADDR", "1.2.3.4:5", "FOO", "bar"), ("CLIENT", "KILL", "LADDR", "1.2.3.4:5"),
        ("CLIENT", "KILL", "ID", "99999999", "ID", "99999998"),
    ])


def test_client_list_fields_equal_redis(server, reference):
    a, b = Wire(server), Wire(reference)
    la = a.val("CLIENT", "LIST").decode().split("\n")[0]
    lb = b.val("CLIENT", "LIST").decode().split("\n")[0]
    assert [k for k, _ in client_line_fields(la)] == [k for k, _ in client_line_fields(lb)]
    ia, ib = a.val("CLIENT", "INFO").decode(), b.val("CLIENT", "INFO").decode()
    assert ia.endswith("\n") and ib.endswith("\n") and ia.count("\n") == 1
    assert [k for k, _ in client_line_fields(ia)] == [k for k, _ in client_line_fields(ib)]


def test_client_list_values(server, r):
    ws = [Wire(server) for _ in range(5)]           # round robin: on every worker
    for i, w in enumerate(ws):
        w.cmd("CLIENT", "SETNAME", "c%d" % i)
        w.cmd("SELECT", str(i))
    ws[3].cmd("HELLO", "3")
    ids = [w.val("CLIENT", "ID") for w in ws]
    listed = {int(c["id"]): c for c in clients(ws[0])}
    for i, (cid, w) in enumerate(zip(ids, ws)):
        c = listed[cid]
        assert c["name"] == "c%d" % i
        assert c["db"] == str(i)
        assert c["resp"] == ("3" if i == 3 else "2")
        assert c["user"] == "default" and c["flags"] == "N"
        host, port = c["addr"].rsplit(":", 1)
        assert (host, int(port)) == w.s.getsockname()
        assert c["laddr"] == "127.0.0.1:%d" % server.port
        assert c["cmd"] == ("client|list" if i == 0 else "client|id")
    # CLIENT INFO describes the caller only.
    info = dict(client_line_fields(ws[2].val("CLIENT", "INFO").decode()))
    assert info["id"] == str(ids[2]) and info["name"] == "c2" and info["cmd"] == "client|info"
    # ID filter: in the order given, repeats kept, unknown ids skipped.
    text = ws[0].val("CLIENT", "LIST", "ID", ids[4], ids[1], "999999", ids[4]).decode()
    assert [int(dict(client_line_fields(l))["id"]) for l in text.split("\n") if l] == [ids[4], ids[1], ids[4]]
    assert ws[0].val("CLIENT", "LIST", "ID", "0") == b""
    text = ws[0].val("CLIENT", "LIST", "TYPE", "normal").decode()
    assert {int(dict(client_line_fields(l))["id"]) for l in text.split("\n") if l} >= set(ids)
    assert ws[0].val("CLIENT", "LIST", "TYPE", "replica") == b""
    for w in ws:
        w.close()


def test_client_long_name(server, reference):
    """A name of any length is listed whole."""
    for srv in (server, reference):
        w = Wire(srv)
        name = "n" * 5000
        assert w.cmd("CLIENT", "SETNAME", name) == b"+OK\r\n"
        info = dict(client_line_fields(w.val("CLIENT", "INFO").decode()))
        assert info["name"] == name and info["resp"] == "2"
        assert any(c.get("name") == name for c in clients(w))
        w.close()


def wait_gone(w, cid, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if all(int(c["id"]) != cid for c in clients(w)):
            return True
        time.sleep(0.02)
    return False


def test_client_kill_by_id_on_every_worker(server, r):
    killer = Wire(server)
    victims = [Wire(server) for _ in range(2 * NSHARDS)]   # spread over the workers
    for v in victims:
        v.cmd("PING")
    for v in victims:
        vid = v.val("CLIENT", "ID")
        assert killer.cmd("CLIENT", "KILL", "ID", str(vid)) == b":1\r\n"
        assert v.closed(), "client %d was not closed" % vid
        assert wait_gone(killer, vid)
    assert killer.cmd("PING") == b"+PONG\r\n"


def test_client_kill_old_style_addr(server, r):
    killer = Wire(server)
    victims = [Wire(server) for _ in range(2 * NSHARDS)]
    for v in victims:
        assert v.cmd("PING") == b"+PONG\r\n"   # adopted by its worker, so listed
        addr = "%s:%d" % v.s.getsockname()
        assert killer.cmd("CLIENT", "KILL", addr) == b"+OK\r\n"
        assert v.closed()
        assert killer.cmd("CLIENT", "KILL", addr) == b"-ERR No such client\r\n"
    assert killer.cmd("CLIENT", "KILL", "1.2.3.4:5") == b"-ERR No such client\r\n"


def test_client_kill_addr_and_skipme(server, r):
    me = Wire(server)
    other = Wire(server)
    my_addr = "%s:%d" % me.s.getsockname()
    # SKIPME defaults to yes with the new syntax.
    assert me.cmd("CLIENT", "KILL", "ADDR", my_addr) == b":0\r\n"
    assert me.cmd("CLIENT", "KILL", "ADDR", my_addr, "SKIPME", "yes") == b":0\r\n"
    assert me.cmd("CLIENT", "KILL", "ADDR", "%s:%d" % other.s.getsockname()) == b":1\r\n"
    assert other.closed()
    assert me.cmd("CLIENT", "KILL", "LADDR", "127.0.0.1:%d" % server.port, "ID", "999999") == b":0\r\n"
    # Killing oneself: the reply arrives, then the connection closes.
    assert me.cmd("CLIENT", "KILL", "ADDR", my_addr, "SKIPME", "no") == b":1\r\n"
    assert me.closed()


def test_client_kill_everyone_else(server, r):
    me = Wire(server)
    others = [Wire(server) for _ in range(6)]
    for o in others:
        o.cmd("PING")
    n = me.val("CLIENT", "KILL", "TYPE", "normal")
    assert n >= len(others)
    for o in others:
        assert o.closed()
    assert me.cmd("PING") == b"+PONG\r\n"


def test_client_kill_old_style_self(server, r):
    me = Wire(server)
    assert me.cmd("CLIENT", "KILL", "%s:%d" % me.s.getsockname()) == b"+OK\r\n"
    assert me.closed()


def test_client_kill_busy_client(server, r):
    """A client with a pipeline to every shard in flight, which reads none
    of its replies, is killed at once, pending replies dropped (Redis frees
    the client on the spot)."""
    victim = Wire(server)
    killer = Wire(server)
    ks = spread_keys("busy", 4)
    vid = victim.val("CLIENT", "ID")
    pipeline = b"".join(encode("SET", k, "x" * 1000) + encode("MGET", *ks) for k in ks * 100)

    def flood():
        try:
            for _ in range(3):       # megabytes of replies nobody reads
                victim.send(pipeline)
        except OSError:
            pass

    t = threading.Thread(target=flood)
    t.start()
    time.sleep(0.3)                  # the server is now blocked writing to victim
    assert killer.val("CLIENT", "KILL", "ID", str(vid)) == 1
    assert wait_gone(killer, vid)
    assert victim.closed(timeout=10)
    t.join()
    assert killer.cmd("PING") == b"+PONG\r\n"
    assert killer.cmd("MGET", *ks)[:1] == b"*"


# ---------- COMMAND ----------

def command_names(w):
    return [n.decode() for n in w.val("COMMAND", "LIST")]


def test_command_count_list(server, reference):
    a, b = Wire(server), Wire(reference)
    names = command_names(a)
    assert len(names) == len(set(names))
    assert a.val("COMMAND", "COUNT") == len(names)
    assert len(a.val("COMMAND")) == len(names)
    assert len(a.val("COMMAND", "INFO")) == len(names)
    assert len(a.val("COMMAND", "DOCS")) == 2 * len(names)
    redis_names = set(command_names(b))
    assert set(names) <= redis_names, set(names) - redis_names
    for must in ["get", "set", "mget", "mset", "del", "ping", "info", "config", "client", "command", "hello"]:
        assert must in names


def test_command_info_equals_redis(server, reference):
    a, b = Wire(server), Wire(reference)
    names = command_names(a)
    mine = a.val("COMMAND", "INFO", *names)
    theirs = b.val("COMMAND", "INFO", *names)
    for name, x, y in zip(names, mine, theirs):
        # name, arity, flags, first key, last key, step, ACL categories,
        # tips, key specifications
        assert x[:9] == y[:9], name
        subs_x = {s[0]: s[:9] for s in x[9]}
        subs_y = {s[0]: s[:9] for s in y[9]}
        for sub, v in subs_x.items():
            assert sub in subs_y, sub
            assert v == subs_y[sub], sub
    # Subcommands by full name, unknown names, and the whole table.
    d = Diff(a, b)
    x = a.val("COMMAND", "INFO", "config|get", "nosuch", "client|kill", "GET")
    y = b.val("COMMAND", "INFO", "config|get", "nosuch", "client|kill", "GET")
    assert [e[:7] if e else e for e in x] == [e[:7] if e else e for e in y]
    d("COMMAND", "INFO", "nosuch", "alsonot")
    every = {e[0]: e[:7] for e in a.val("COMMAND")}
    assert set(every) == {n.encode() for n in names}


def test_command_docs(server, reference):
    a, b = Wire(server), Wire(reference)
    names = command_names(a)
    mine = a.val("COMMAND", "DOCS", *names)
    theirs = b.val("COMMAND", "DOCS", *names)
    mine = dict(zip(mine[::2], mine[1::2]))
    theirs = dict(zip(theirs[::2], theirs[1::2]))
    assert set(mine) == {n.encode() for n in names}
    for name, doc in mine.items():
        doc = dict(zip(doc[::2], doc[1::2]))
        ref = dict(zip(theirs[name][::2], theirs[name][1::2]))
        for field in (b"summary", b"since", b"group", b"complexity"):
            assert doc[field] == ref[field], (name, field)
        # Subcommands come in dict order in Redis: compare them by name.
        subs, ref_subs = doc.pop(b"subcommands", []), ref.pop(b"subcommands", [])
        assert doc == ref, name
        ref_subs = dict(zip(ref_subs[::2], ref_subs[1::2]))
        for sub, sdoc in zip(subs[::2], subs[1::2]):
            assert sdoc == ref_subs[sub], sub
    assert a.val("COMMAND", "DOCS", "nosuch") == []
    assert len(a.val("COMMAND", "DOCS", "get", "nosuch", "set")) == 4


GETKEYS = [
    ("GET", "a"), ("SET", "a", "b"), ("SET", "a", "b", "EX", "10"), ("MSET", "a", "1", "b", "2", "c", "3"),
    ("MGET", "a", "b", "c"), ("DEL", "a", "b"), ("EXISTS", "x"), ("RENAME", "a", "b"), ("COPY", "a", "b", "DB", "1"),
    ("LCS", "a", "b"), ("OBJECT", "ENCODING", "k"), ("EXPIRE", "a", "10", "NX"), ("MOVE", "a", "1"),
    ("GETEX", "k", "PERSIST"), ("SUBSTR", "a", "1", "2"), ("MSETNX", "a", "1", "b", "2"), ("SETRANGE", "k", "0", "v"),
    ("PING",), ("ping", "a"), ("CONFIG", "GET", "x"), ("CONFIG", "GET"), ("CONFIG",), ("KEYS", "*"), ("SCAN", "0"),
    ("nosuch", "a"), ("OBJECT", "nosuch", "k"), ("OBJECT",), ("OBJECT", "ENCODING"), ("GET",), ("GET", "a", "b"),
    ("MSET", "a"), ("MSET", "a", "1", "b"), ("CLIENT", "KILL", "x"), ("get", "lower"), ("Client", "LIST"),
    ("MGET",) + tuple("k%d" % i for i in range(300)),
]


def test_command_getkeys_equals_redis(d):
    for args in GETKEYS:
        d("COMMAND", "GETKEYS", *args)
    d("COMMAND", "GETKEYS")


def test_command_misc(d):
    d.run([("COMMAND", "foo"), ("COMMAND", "COUNT", "x"), ("COMMAND", "LIST", "FILTERBY")])


# ---------- INFO ----------

def test_info_fields_clients_read(server, r):
    ks = spread_keys("inf", 3)
    r.mset({k: "v" for k in ks})
    r.expire(ks[0], 1000)
    r.execute_command("SELECT", "0")
    w = Wire(server)
    info = info_dict(w.val("INFO"))
    assert re.fullmatch(r"7\.\d+\.\d+", info["redis_version"])
    assert info["redis_mode"] == "standalone"
    assert info["role"] == "master"
    assert int(info["connected_clients"]) >= 2
    assert int(info["used_memory"]) > 0
    assert info["tcp_port"] == str(server.port)
    assert info["db0"] == "keys=%d,expires=1,avg_ttl=0" % len(ks)
    # redis-py's own parser reads it.
    parsed = r.info()
    assert parsed["db0"]["keys"] == len(ks) and parsed["db0"]["expires"] == 1
    assert r.info("server")["redis_version"] == info["redis_version"]
    assert "db1" not in info


def test_info_keyspace_every_db(server, r):
    w = Wire(server)
    for db in (0, 3, 15):
        w.cmd("SELECT", str(db))
        for k in spread_keys("kdb%d" % db, db + 1):
            w.cmd("SET", k, "v")
    info = info_dict(w.val("INFO", "keyspace"))
    for db in (0, 3, 15):
        assert info["db%d" % db] == "keys=%d,expires=0,avg_ttl=0" % ((db + 1) * NSHARDS)
    assert set(k for k in info if k.startswith("db")) == {"db0", "db3", "db15"}


def test_info_sections_like_redis(server, reference):
    a, b = Wire(server), Wire(reference)
    for args in [(), ("default",), ("all",), ("everything",), ("server",), ("SERVER",), ("clients", "memory"),
                 ("keyspace",), ("commandstats",), ("errorstats",), ("nosuch",), ("cpu", "nosuch", "stats"),
                 ("modules",), ("cluster",), ("persistence", "replication")]:
        sa = info_sections(a.val("INFO", *args))
        sb = [s for s in info_sections(b.val("INFO", *args)) if s != "Latencystats"]
        assert sa == sb, args
    # Section names clients look for.
    fa = info_dict(a.val("INFO", "everything"))
    fb = info_dict(b.val("INFO", "everything"))
    for f in ["redis_version", "redis_mode", "os", "arch_bits", "process_id", "run_id", "tcp_port",
              "uptime_in_seconds", "uptime_in_days", "hz", "executable", "config_file", "connected_clients",
              "maxclients", "blocked_clients", "used_memory", "used_memory_human", "used_memory_rss",
              "maxmemory", "maxmemory_policy", "mem_allocator", "loading", "rdb_changes_since_last_save",
              "aof_enabled", "total_connections_received", "total_commands_processed",
              "instantaneous_ops_per_sec", "total_net_input_bytes", "total_net_output_bytes",
              "rejected_connections", "expired_keys", "evicted_keys", "keyspace_hits", "keyspace_misses",
              "total_error_replies", "role", "connected_slaves", "master_replid", "master_repl_offset",
              "used_cpu_sys", "used_cpu_user", "cluster_enabled"]:
        assert f in fa, f
        assert f in fb, f
    # Nothing Redis would not print, except Tessera's own few fields.
    own = {"tessera_version", "worker_threads", "cross_shard_batches", "multi_shard_transactions",
           "connection_migrations"}
    extra = {k for k in fa if k not in fb and not k.startswith(("cmdstat_", "errorstat_", "db"))}
    assert extra <= own, extra


def test_info_commandstats_counts_every_worker(server, r):
    w = Wire(server)
    assert w.cmd("CONFIG", "RESETSTAT") == b"+OK\r\n"
    ks = spread_keys("cs", 2)
    conns = [Wire(server) for _ in range(2 * NSHARDS)]
    for c in conns:
        for k in ks:
            c.cmd("GET", k)
        c.cmd("SET", ks[0], "v")
        c.cmd("GET")                      # arity: rejected
        c.cmd("MGET", *ks)                # multi-shard
        c.cmd("INCR", ks[0])              # fails: not an integer
    stats = info_dict(w.val("INFO", "commandstats"))
    n = len(conns)

    def stat(name):
        return dict(kv.split("=") for kv in stats["cmdstat_" + name].split(","))

    assert stat("get")["calls"] == str(n * len(ks))
    assert stat("get")["rejected_calls"] == str(n)
    assert stat("set")["calls"] == str(n)
    assert stat("mget")["calls"] == str(n)
    assert stat("incr")["calls"] == str(n) and stat("incr")["failed_calls"] == str(n)
    assert stat("config|resetstat")["calls"] == "1"
    errs = info_dict(w.val("INFO", "errorstats"))
    assert errs["errorstat_ERR"] == "count=%d" % (2 * n)
    allstats = info_dict(w.val("INFO", "stats"))
    assert int(allstats["total_error_replies"]) == 2 * n
    assert int(allstats["total_commands_processed"]) >= n * (len(ks) + 3)


def test_config_resetstat(server, r, d):
    r.set("a", "1")
    r.get("a")
    r.get("nokey")
    w = Wire(server)
    w.cmd("NOSUCH")
    assert w.cmd("CONFIG", "RESETSTAT") == b"+OK\r\n"
    stats = info_dict(w.val("INFO", "stats"))
    assert stats["keyspace_hits"] == "0" and stats["keyspace_misses"] == "0"
    assert stats["total_error_replies"] == "0" and stats["expired_keys"] == "0"
    assert int(stats["total_commands_processed"]) <= 2
    cmds = info_dict(w.val("INFO", "commandstats"))
    assert set(cmds) <= {"cmdstat_config|resetstat", "cmdstat_info"}, cmds
    assert info_dict(w.val("INFO", "errorstats")) == {}
    d("CONFIG", "RESETSTAT")
    d("CONFIG", "RESETSTAT", "x")


# ---------- CONFIG ----------

# Runtime options and values to try, with what CONFIG GET should show after.
RUNTIME = [
    ("timeout", ["5", "2147483647", "0"]),
    ("tcp-keepalive", ["60", "0", "300"]),
    ("loglevel", ["warning", "DEBUG", "verbose", "notice"]),
    ("hz", ["100", "1", "0", "1000", "500", "10"]),
    ("maxclients", ["100", "1", "10000"]),
    ("client-query-buffer-limit", ["2mb", "1048576", "5GB", "3m", "1000000000", "1gb"]),
    ("proto-max-bulk-len", ["1mb", "2000000", "1g", "512mb"]),
    ("jemalloc-bg-thread", ["no", "YES", "yes"]),
]

IMMUTABLE = ["databases", "daemonize", "unixsocket", "logfile", "pidfile", "tcp-backlog", "unixsocketperm"]

BAD_VALUES = [
    ("timeout", "-1"), ("timeout", "abc"), ("timeout", "1.5"), ("timeout", "99999999999"), ("timeout", ""),
    ("timeout", "+5"), ("timeout", " 5"), ("timeout", "05"), ("timeout", "0x10"),
    ("tcp-keepalive", "-1"), ("loglevel", "bogus"), ("loglevel", ""), ("hz", "-1"), ("hz", "x"),
    ("maxclients", "0"), ("maxclients", "5000000000"), ("maxclients", "1.5"),
    ("client-query-buffer-limit", "1k"), ("client-query-buffer-limit", "x"),
    ("client-query-buffer-limit", "1048575"), ("client-query-buffer-limit", "-5"),
    ("client-query-buffer-limit", "10tb"), ("proto-max-bulk-len", "100"), ("proto-max-bulk-len", "-1"),
    ("jemalloc-bg-thread", "maybe"), ("jemalloc-bg-thread", ""),
]


def test_config_set_get_round_trip(d):
    for name, values in RUNTIME:
        original = d("CONFIG", "GET", name)
        for v in values:
            d("CONFIG", "SET", name, v)
            d("CONFIG", "GET", name)
            d("CONFIG", "GET", name.upper())
        d("CONFIG", "GET", name)
        assert d.a.cmd("CONFIG", "GET", name) == original


def test_config_errors_equal_redis(d):
    for name in IMMUTABLE:
        d("CONFIG", "SET", name, "1")
    for name, v in BAD_VALUES:
        d("CONFIG", "SET", name, v)
        d("CONFIG", "GET", name)
    d.run([
        ("CONFIG", "SET", "nosuch", "1"), ("CONFIG", "SET", "timeout", "1", "timeout", "2"),
        ("CONFIG", "SET", "timeout", "1", "hz", "x"), ("CONFIG", "GET", "timeout"),
        ("CONFIG", "SET", "hz", "x", "nosuch", "1"), ("CONFIG", "SET", "timeout", "1", "TIMEOUT", "2"),
        ("CONFIG", "SET", "timeout"), ("CONFIG", "SET", "timeout", "1", "hz"), ("CONFIG", "SET", "nosuch", "1", "timeout", "x"),
        ("CONFIG", "SET", "timeout", "3", "hz", "20"), ("CONFIG", "GET", "timeout"), ("CONFIG", "GET", "hz"),
        ("CONFIG", "SET", "databases", "1", "timeout", "x"), ("CONFIG", "SET", "timeout", "x", "databases", "1"),
        ("CONFIG", "SET", "timeout", "0", "hz", "10"),
        ("CONFIG", "GET", "nosuch"), ("CONFIG", "GET", "timeout", "TIMEOUT"), ("CONFIG", "GET", "tcp-back*"),
        ("CONFIG", "GET", "maxc?ients"), ("CONFIG", "GET", "databases"), ("CONFIG", "GET", "tcp-backlog"),
        ("CONFIG", "GET"), ("CONFIG",), ("CONFIG", "foo"), ("CONFIG", "HELP", "x"),
    ])


def test_config_get_several_patterns(server, reference):
    a, b = Wire(server), Wire(reference)
    # Several names or globs: Redis's order is its dict's, so compare as maps.
    for args in [("timeout", "hz", "timeout"), ("hz", "tcp-backlog"), ("maxc*", "loglevel", "tim*out"), ("tcp-*",),
                 ("unixsocket*",), ("*-max-bulk-len", "client-query-*")]:
        x, y = a.val("CONFIG", "GET", *args), b.val("CONFIG", "GET", *args)
        assert dict(zip(x[::2], x[1::2])) == dict(zip(y[::2], y[1::2])), args


def test_config_get_all_known_to_redis(server, reference):
    a, b = Wire(server), Wire(reference)
    mine = a.val("CONFIG", "GET", "*")
    mine = dict(zip(mine[::2], mine[1::2]))
    assert {b"threads", b"shards", b"port", b"bind", b"dir", b"maxclients"} <= set(mine)
    # Options whose default does not depend on how the server was started.
    same_default = {b"tcp-backlog", b"unixsocketperm", b"timeout", b"tcp-keepalive", b"daemonize",
                    b"loglevel", b"databases", b"hz", b"maxclients", b"client-query-buffer-limit",
                    b"proto-max-bulk-len", b"unixsocket", b"pidfile", b"jemalloc-bg-thread"}
    for name, value in mine.items():
        if name in (b"threads", b"shards"):            # Tessera's own
            assert value == str(NSHARDS).encode()
            continue
        if name == b"worker-sched-batch":              # Tessera's own
            assert value == b"yes"
            continue
        theirs = b.val("CONFIG", "GET", name)
        assert theirs and theirs[0] == name, name
        if name in same_default:
            assert value == theirs[1], name
    assert mine[b"port"] == str(server.port).encode()
    assert mine[b"dir"] == str(server.workdir).encode()


def test_config_set_dir(server, tmp_path):
    """Redis protects `dir` by default; Tessera lets CONFIG SET change it
    (absolute or relative to the current one) on every worker at once."""
    w = Wire(server)
    old = w.val("CONFIG", "GET", "dir")[1].decode()
    (tmp_path / "sub").mkdir()
    try:
        assert w.cmd("CONFIG", "SET", "dir", str(tmp_path)) == b"+OK\r\n"
        assert w.val("CONFIG", "GET", "dir") == [b"dir", str(tmp_path).encode()]
        assert w.cmd("CONFIG", "SET", "dir", "sub") == b"+OK\r\n"
        for _ in range(2 * NSHARDS):
            assert Wire(server).val("CONFIG", "GET", "dir") == [b"dir", str(tmp_path / "sub").encode()]
        err = w.cmd("CONFIG", "SET", "dir", str(tmp_path / "missing"))
        assert err == b"-ERR CONFIG SET failed (possibly related to argument 'dir') - No such file or directory\r\n"
        assert w.val("CONFIG", "GET", "dir") == [b"dir", str(tmp_path / "sub").encode()]
    finally:
        assert w.cmd("CONFIG", "SET", "dir", old) == b"+OK\r\n"


def test_config_set_reaches_every_worker(server, r):
    """CONFIG SET applies to the copy of every worker."""
    w = Wire(server)
    try:
        assert w.cmd("CONFIG", "SET", "hz", "42", "timeout", "77") == b"+OK\r\n"
        for _ in range(2 * NSHARDS):
            c = Wire(server)
            assert c.val("CONFIG", "GET", "hz") == [b"hz", b"42"]
            assert c.val("CONFIG", "GET", "timeout") == [b"timeout", b"77"]
            c.close()
    finally:
        w.cmd("CONFIG", "SET", "hz", "10", "timeout", "0")


def threads_of(pid):
    """[(tid, name)] of a process's threads (one that ends meanwhile is left out)."""
    out = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                out.append((int(tid), f.read().strip()))
        except FileNotFoundError:
            pass
    return out


def worker_policies(pid, nworkers=None):
    """{thread name: scheduling policy} of a process's ts-worker-N threads
    (waits until nworkers of them have named themselves, when given)."""
    deadline = time.time() + 10
    while True:
        out = {}
        for tid, name in threads_of(pid):
            if name.startswith("ts-worker-"):
                out[name] = os.sched_getscheduler(tid)
        if nworkers is None or len(out) >= nworkers or time.time() > deadline:
            return out
        time.sleep(0.05)


def test_worker_sched_batch(tmp_path):
    """Workers run under SCHED_BATCH by default; CONFIG SET switches every
    worker's own thread, other threads keep the default policy."""
    srv = start_tessera(tmp_path, threads=3)
    try:
        w = Wire(srv)
        assert w.val("CONFIG", "GET", "worker-sched-batch") == [b"worker-sched-batch", b"yes"]
        pol = worker_policies(srv.proc.pid, 3)
        assert sorted(pol) == ["ts-worker-0", "ts-worker-1", "ts-worker-2"]
        assert set(pol.values()) == {os.SCHED_BATCH}
        assert os.sched_getscheduler(srv.proc.pid) == os.SCHED_OTHER   # the acceptor
        assert w.cmd("CONFIG", "SET", "worker-sched-batch", "no") == b"+OK\r\n"
        assert set(worker_policies(srv.proc.pid).values()) == {os.SCHED_OTHER}
        assert w.cmd("CONFIG", "SET", "worker-sched-batch", "yes") == b"+OK\r\n"
        assert set(worker_policies(srv.proc.pid).values()) == {os.SCHED_BATCH}
        assert w.cmd("CONFIG", "SET", "worker-sched-batch", "maybe").startswith(b"-ERR ")
        w.close()
    finally:
        srv.stop()
    srv = start_tessera(tmp_path, "--worker-sched-batch", "no", threads=2)
    try:
        assert set(worker_policies(srv.proc.pid, 2).values()) == {os.SCHED_OTHER}
    finally:
        srv.stop()


def skip_without_jemalloc():
    if "malloc=jemalloc" not in subprocess.run([tessera_bin(), "--version"], capture_output=True, text=True).stdout:
        pytest.skip("built without jemalloc (sanitizer build)")


def has_bg_thread(pid, wait=0.0):
    """Whether jemalloc's purging thread runs (waiting up to `wait` s for it)."""
    deadline = time.time() + wait
    while True:
        if any(name == "jemalloc_bg_thd" for _, name in threads_of(pid)):
            return True
        if time.time() >= deadline:
            return False
        time.sleep(0.05)


def test_jemalloc_bg_thread(tmp_path):
    """jemalloc-bg-thread (Redis's option, default yes): jemalloc's purging
    thread runs, so idle workers' freed pages go back to the system; CONFIG
    SET stops and restarts it."""
    skip_without_jemalloc()
    srv = start_tessera(tmp_path)
    try:
        w = Wire(srv)
        pid = srv.proc.pid
        assert w.val("CONFIG", "GET", "jemalloc-bg-thread") == [b"jemalloc-bg-thread", b"yes"]
        w.cmd("SET", "k", "v" * 100000)                   # the thread starts with the first arena use
        assert has_bg_thread(pid, wait=5)
        assert w.cmd("CONFIG", "SET", "jemalloc-bg-thread", "no") == b"+OK\r\n"
        assert not has_bg_thread(pid)
        assert w.cmd("CONFIG", "SET", "jemalloc-bg-thread", "yes") == b"+OK\r\n"
        assert has_bg_thread(pid, wait=5)
    finally:
        assert srv.stop() == 0
    srv = start_tessera(tmp_path, "--jemalloc-bg-thread", "no")
    try:
        Wire(srv).cmd("SET", "k", "v" * 100000)
        time.sleep(0.3)
        assert not has_bg_thread(srv.proc.pid)
    finally:
        assert srv.stop() == 0


def test_idle_worker_returns_its_cached_memory(tmp_path):
    """A worker that has been idle for about a second gives the memory its
    thread cached back to the allocator (INFO used_memory drops): after a
    burst of SETs and DELs, jemalloc's thread cache holds the freed values."""
    skip_without_jemalloc()
    srv = start_tessera(tmp_path, threads=1)
    try:
        c = srv.client()
        p = c.pipeline(transaction=False)
        for i in range(3000):
            p.set("k%d" % i, "x" * (100 + i % 2000))
        p.execute()
        p = c.pipeline(transaction=False)
        for i in range(3000):
            p.delete("k%d" % i)
        p.execute()
        busy = c.info("memory")["used_memory"]
        for _ in range(4):                  # INFO itself is activity: each try waits a new idle second
            time.sleep(1.5)
            idle = c.info("memory")["used_memory"]
            if idle < busy - 200000:
                break
        assert idle < busy - 200000, (busy, idle)
    finally:
        assert srv.stop() == 0


def test_config_set_maxclients_applies(tmp_path):
    srv = start_tessera(tmp_path)
    try:
        w = Wire(srv)
        assert w.cmd("CONFIG", "SET", "maxclients", "3") == b"+OK\r\n"
        extra = [Wire(srv) for _ in range(2)]
        for e in extra:
            assert e.cmd("PING") == b"+PONG\r\n"
        s = srv.raw()
        s.settimeout(5)
        assert s.recv(100) == b"-ERR max number of clients reached\r\n"
        assert w.cmd("CONFIG", "SET", "maxclients", "10") == b"+OK\r\n"
        assert Wire(srv).cmd("PING") == b"+PONG\r\n"
    finally:
        assert srv.stop() == 0


# ---------- DEBUG ----------

def test_debug_sleep(server):
    w = Wire(server)
    assert w.cmd("DEBUG", "SLEEP", "0") == b"+OK\r\n"
    t = time.time()
    assert w.cmd("DEBUG", "SLEEP", "0.2") == b"+OK\r\n"
    assert time.time() - t >= 0.19
    assert w.cmd("DEBUG", "SLEEP", "x") == b"+OK\r\n"


def test_debug_errors_equal_redis(server, ref_debug):
    a, b = Wire(server), Wire(ref_debug)
    for args in [("DEBUG",), ("DEBUG", "foo"), ("DEBUG", "SLEEP"), ("DEBUG", "OBJECT"), ("DEBUG", "OBJECT", "nokey"),
                 ("DEBUG", "SET-ACTIVE-EXPIRE"), ("DEBUG", "OBJECT", "a", "b"), ("DEBUG", "x" * 300),
                 ("DEBUG", "SLEEP", "0"), ("DEBUG", "SLEEP", "abc")]:
        assert a.cmd(*args) == b.cmd(*args), args


def test_debug_object(server, ref_debug, r):
    a, b = Wire(server), Wire(ref_debug)
    b.cmd("FLUSHALL")
    values = ["hello", "12345", "-100", "123456789012", "x" * 15, "y" * 44, "z" * 45, "0", "1.5", "007"]
    ks = spread_keys("dbg", len(values))
    pat = re.compile(r"Value at:0x[0-9a-f]+ refcount:(\d+) encoding:(\w+) serializedlength:(\d+) "
                     r"lru:(\d+) lru_seconds_idle:(\d+)")
    for k, v in zip(ks, values):
        a.cmd("SET", k, v)
        b.cmd("SET", k, v)
        ma = pat.fullmatch(a.val("DEBUG", "OBJECT", k))
        mb = pat.fullmatch(b.val("DEBUG", "OBJECT", k))
        assert ma and mb, (a.val("DEBUG", "OBJECT", k), b.val("DEBUG", "OBJECT", k))
        assert ma.group(1) == mb.group(1), v             # refcount (shared integers)
        assert ma.group(2) == mb.group(2), v             # encoding
        if len(v) <= 20:                                  # no LZF compression in Redis
            assert ma.group(3) == mb.group(3), v
        assert int(ma.group(5)) <= 1
        assert abs(int(ma.group(4)) - int(mb.group(4))) <= 2   # the same LRU clock


def test_debug_object_collections(server, ref_debug, r):
    """Collections: the serialized length is the real RDB size (equal to
    Redis's where no LZF is involved), lists add Redis's ql_* fields."""
    a, b = Wire(server), Wire(ref_debug)
    b.cmd("FLUSHALL")
    ks = spread_keys("dbgc", 7)
    build = [
        [("RPUSH", ks[0]) + tuple("element:%d" % i for i in range(j, j + 100)) for j in range(0, 3000, 100)],
        [("SADD", ks[1]) + tuple(str(i) for i in range(j, j + 100)) for j in range(0, 3000, 100)],   # hashtable
        [("SADD", ks[2], "1", "2", "3")],                                                            # intset
        [("HSET", ks[3]) + tuple(x for i in range(j, j + 100) for x in ("f%d" % i, "v"))
         for j in range(0, 1000, 100)],
        [("HSET", ks[4], "a", "1", "b", "2")],
        [("ZADD", ks[5]) + tuple(x for i in range(j, j + 100) for x in (str(i), "m%d" % i))
         for j in range(0, 1000, 100)],
        [("ZADD", ks[6], "1", "a", "2.5", "b")],
    ]
    pat = re.compile(r"Value at:0x[0-9a-f]+ refcount:(\d+) encoding:(\w+) serializedlength:(\d+) "
                     r"lru:\d+ lru_seconds_idle:\d+( ql_nodes:.*)?")
    for depth in ("0", "1"):
        for c in (a, b):
            c.cmd("CONFIG", "SET", "list-compress-depth", depth)
            c.cmd("CONFIG", "SET", "rdbcompression", "no")
        try:
            for k, cmds in zip(ks, build):
                for c in (a, b):
                    c.cmd("DEL", k)
                    for cmd in cmds:
                        c.cmd(*cmd)
                ma = pat.fullmatch(a.val("DEBUG", "OBJECT", k))
                mb = pat.fullmatch(b.val("DEBUG", "OBJECT", k))
                assert ma and mb, (a.val("DEBUG", "OBJECT", k), b.val("DEBUG", "OBJECT", k))
                assert ma.group(2) == mb.group(2), k
                assert ma.group(4) == mb.group(4), k          # ql_* fields (lists only)
                if k == ks[0] and depth == "1":
                    # compressed nodes are written as they are: LZF sizes
                    # of two different compressors
                    assert abs(int(ma.group(3)) - int(mb.group(3))) <= int(mb.group(3)) // 10, k
                else:
                    assert ma.group(3) == mb.group(3), k
        finally:
            for c in (a, b):
                c.cmd("CONFIG", "SET", "list-compress-depth", "0")
                c.cmd("CONFIG", "SET", "rdbcompression", "yes")
                c.cmd("DEL", *ks)


def test_debug_set_active_expire(server, r):
    w = Wire(server)
    ks = spread_keys("ae", 5)
    try:
        assert w.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"+OK\r\n"
        w.cmd("CONFIG", "RESETSTAT")
        for k in ks:
            w.cmd("SET", k, "v", "PX", "30")
        w.cmd("SET", "persistent", "v")
        time.sleep(0.5)              # many cron runs: nothing is reclaimed
        assert w.val("DBSIZE") == len(ks) + 1
        assert info_dict(w.val("INFO", "keyspace"))["db0"].startswith("keys=%d,expires=%d," % (len(ks) + 1, len(ks)))
        assert info_dict(w.val("INFO", "stats"))["expired_keys"] == "0"
        # Still there for DEBUG OBJECT (a plain lookup, as in Redis)...
        assert w.val("DEBUG", "OBJECT", ks[0]).startswith("Value at:")
        # ...but an access reclaims the key.
        assert w.cmd("GET", ks[0]) == b"$-1\r\n"
        assert w.cmd("EXISTS", ks[1]) == b":0\r\n"
        assert w.val("DBSIZE") == len(ks) - 1
        assert info_dict(w.val("INFO", "stats"))["expired_keys"] == "2"
        assert w.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "1") == b"+OK\r\n"
        deadline = time.time() + 5
        while w.val("DBSIZE") != 1 and time.time() < deadline:
            time.sleep(0.05)
        assert w.val("DBSIZE") == 1
        assert info_dict(w.val("INFO", "stats"))["expired_keys"] == str(len(ks))
    finally:
        w.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "1")


# ---------- SHUTDOWN and signals ----------

def sanitizer():
    """'address', 'thread' or None: how the binary under test was built."""
    from conftest import tessera_bin
    try:
        with open(tessera_bin(), "rb") as f:
            data = f.read()
    except OSError:
        return None
    if b"__asan_init" in data:
        return "address"
    if b"__tsan_init" in data:
        return "thread"
    return None


def idle_clients(srv, n=4):
    """Connections spread over the workers, each with a reply read."""
    ws = []
    for _ in range(n):
        w = Wire(srv)
        assert w.cmd("PING") == b"+PONG\r\n"
        ws.append(w)
    return ws


def busy_clients(srv, n=4):
    """Connections spread over the workers, each with a pipeline in flight
    (single-shard and multi-shard commands) whose replies it does not read."""
    ws = []
    ks = spread_keys("sd", 2)
    for _ in range(n):
        w = Wire(srv)
        w.cmd("PING")
        w.send(b"".join(encode("SET", k, "v") + encode("MGET", *ks) for k in ks * 20))
        ws.append(w)
    return ws


def shutdown_by_command(srv, args, others):
    w = Wire(srv)
    w.send(encode(*args))
    assert w.closed(timeout=10)          # no reply, the connection just closes
    assert wait_exit(srv.proc) == 0
    for o in others:
        assert o.closed()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=1)


@pytest.mark.parametrize("args", [("SHUTDOWN", "NOSAVE"), ("SHUTDOWN",), ("shutdown", "nosave", "now", "force")])
def test_shutdown_exits_zero(tmp_path, args):
    srv = start_tessera(tmp_path)
    shutdown_by_command(srv, args, idle_clients(srv))


def test_shutdown_with_commands_in_flight(tmp_path):
    srv = start_tessera(tmp_path)
    shutdown_by_command(srv, ("SHUTDOWN", "NOSAVE"), busy_clients(srv))


def test_shutdown_errors(server, reference):
    a, b = Wire(server), Wire(reference)
    for args in [("SHUTDOWN", "ABORT"), ("SHUTDOWN", "FOO"), ("SHUTDOWN", "SAVE", "NOSAVE"),
                 ("SHUTDOWN", "NOSAVE", "ABORT"), ("SHUTDOWN", "ABORT", "NOW")]:
        assert a.cmd(*args) == b.cmd(*args), args
    assert a.cmd("PING") == b"+PONG\r\n"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("threads", [1, 3])
def test_signal_exits_zero(tmp_path, sig, threads):
    srv = start_tessera(tmp_path, threads=threads)
    others = idle_clients(srv)
    srv.proc.send_signal(sig)
    assert wait_exit(srv.proc) == 0
    for o in others:
        assert o.closed()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_with_commands_in_flight(tmp_path, sig):
    srv = start_tessera(tmp_path, threads=3)
    others = busy_clients(srv)
    srv.proc.send_signal(sig)
    assert wait_exit(srv.proc) == 0
    for o in others:
        assert o.closed()
