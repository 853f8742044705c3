"""Listening sockets and connection management: IPv6 and unix sockets,
maxclients, idle timeout, the query buffer limit, many concurrent
pipelining clients, clients that vanish with commands in flight on other
shards, and servers with 1, 3 and 4 worker threads.

Each test that needs particular options starts its own server with
start_tessera (the module's `server` fixture is the shared default one).
"""
import os
import random
import selectors
import socket
import stat
import struct
import subprocess
import time

import pytest
import redis

from conftest import wait_port, start_tessera, tessera_bin
from tessera_testlib import NSHARDS, Wire, encode, spread_keys


# ---------- helpers ----------

def client_ids(srv):
    w = Wire.tcp(srv.port)
    text = w.cmd("CLIENT", "LIST")
    mine = int(w.cmd("CLIENT", "ID")[1:-2])
    w.close()
    return {int(l.split(b" ")[0][3:]) for l in text.split(b"\n") if l.startswith(b"id=")} - {mine}


def smoke(client, nshards, prefix="s"):
    """A quick workload through redis-py touching every shard."""
    ks = spread_keys(prefix, 3, nshards)
    base = client.dbsize()
    pipe = client.pipeline(transaction=False)
    for i, k in enumerate(ks):
        pipe.set(k, i)
    for k in ks:
        pipe.get(k)
    res = pipe.execute()
    assert res[:len(ks)] == [True] * len(ks)
    assert res[len(ks):] == [str(i).encode() for i in range(len(ks))]
    assert client.mget(ks) == [str(i).encode() for i in range(len(ks))]
    client.mset({k: "m" + k for k in ks})
    assert client.mget(ks) == [("m" + k).encode() for k in ks]
    assert client.exists(*ks) == len(ks)
    client.rename(ks[0], ks[-1])
    assert client.get(ks[-1]) == ("m" + ks[0]).encode() and not client.exists(ks[0])
    assert client.dbsize() == base + len(ks) - 1
    assert sorted(client.keys(prefix + "*")) == sorted(k.encode() for k in ks[1:])
    assert client.info("keyspace")["db0"]["keys"] == base + len(ks) - 1
    assert client.delete(*ks) == len(ks) - 1
    assert client.dbsize() == base


def ipv6_available():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# ---------- IPv6 and unix sockets ----------

@pytest.mark.skipif(not ipv6_available(), reason="::1 is not available")
def test_bind_ipv4_and_ipv6(tmp_path):
    srv = start_tessera(tmp_path, "--bind", "127.0.0.1", "::1")
    wait_port(srv.port, srv.proc, host="::1")
    try:
        v4 = Wire.tcp(srv.port)
        v6 = Wire(socket.create_connection(("::1", srv.port), timeout=10))
        assert v6.cmd("PING") == b"+PONG\r\n"
        assert v6.cmd("SET", "six", "6") == b"+OK\r\n"
        assert v4.cmd("GET", "six") == b"$1\r\n6\r\n"
        c6 = redis.Redis(host="::1", port=srv.port, socket_timeout=10)
        smoke(c6, NSHARDS, "v6")
        assert c6.config_get("bind") == {"bind": "127.0.0.1 ::1"}
        c6.close()
        text = v4.cmd("CLIENT", "LIST").decode()
        assert "laddr=127.0.0.1:%d " % srv.port in text
        # The v6 client can be killed by its id.
        vid = int(v6.cmd("CLIENT", "ID")[1:-2])
        assert v4.cmd("CLIENT", "KILL", "ID", str(vid)) == b":1\r\n"
        assert v6.rest_until_close() == b""
    finally:
        assert srv.stop() == 0


@pytest.mark.skipif(not ipv6_available(), reason="::1 is not available")
def test_ipv6_client_addr_format(tmp_path):
    srv = start_tessera(tmp_path, "--bind", "127.0.0.1", "::1")
    wait_port(srv.port, srv.proc, host="::1")
    try:
        v6 = Wire(socket.create_connection(("::1", srv.port), timeout=10))
        port = v6.s.getsockname()[1]
        info = v6.cmd("CLIENT", "INFO").decode()
        assert " addr=[::1]:%d " % port in info
        assert " laddr=[::1]:%d " % srv.port in info
        other = Wire(socket.create_connection(("::1", srv.port), timeout=10))
        assert other.cmd("CLIENT", "KILL", "[::1]:%d" % port) == b"+OK\r\n"
    finally:
        assert srv.stop() == 0


def test_ipv6_bind_optional_address(tmp_path):
    """'-' marks an address that may be missing (the default bind line)."""
    srv = start_tessera(tmp_path, "--bind", "127.0.0.1", "-::1")
    try:
        assert Wire.tcp(srv.port).cmd("PING") == b"+PONG\r\n"
    finally:
        assert srv.stop() == 0


def test_unix_socket(tmp_path):
    path = str(tmp_path / "ts.sock")
    srv = start_tessera(tmp_path, "--unixsocket", path, "--unixsocketperm", "700")
    try:
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
        c = redis.Redis(unix_socket_path=path, socket_timeout=10)
        assert c.ping()
        smoke(c, NSHARDS, "unix")
        c.set("from-unix", "1")
        assert Wire.tcp(srv.port).cmd("GET", "from-unix") == b"$1\r\n1\r\n"
        assert c.config_get("unixsocket") == {"unixsocket": path}
        assert c.config_get("unixsocketperm") == {"unixsocketperm": "700"}
        me = c.client_info()
        assert me["addr"] == path + ":0" and me["laddr"] == path + ":0"
        assert me["flags"] == "U"
        # Several unix clients, spread over the workers, each see their replies.
        cs = [redis.Redis(unix_socket_path=path, socket_timeout=10) for _ in range(4)]
        for i, x in enumerate(cs):
            x.set("u%d" % i, i)
        for i, x in enumerate(cs):
            assert x.get("u%d" % i) == str(i).encode()
            x.close()
        c.close()
    finally:
        assert srv.stop() == 0
    assert not os.path.exists(path)          # removed at exit, like Redis


def test_unix_socket_only(tmp_path):
    """--port 0: no TCP at all, only the unix socket."""
    path = str(tmp_path / "only.sock")
    argv = [tessera_bin(), "--port", "0", "--unixsocket", path, "--threads", str(NSHARDS), "--dir", str(tmp_path),
            "--logfile", str(tmp_path / "t.log")]
    proc = subprocess.Popen(argv, cwd=str(tmp_path))
    try:
        deadline = time.time() + 10
        while not os.path.exists(path):
            assert time.time() < deadline and proc.poll() is None
            time.sleep(0.02)
        c = redis.Redis(unix_socket_path=path, socket_timeout=10)
        assert c.ping()
        smoke(c, NSHARDS, "uo")
        c.close()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


# ---------- maxclients ----------

def test_maxclients(tmp_path):
    srv = start_tessera(tmp_path, "--maxclients", "5")
    try:
        # The start-up probe may not have been reaped yet: wait for it.
        first = Wire.tcp(srv.port)
        deadline = time.time() + 5
        while b"connected_clients:1\r\n" not in first.cmd("INFO", "clients"):
            assert time.time() < deadline
            time.sleep(0.02)
        ws = [first] + [Wire.tcp(srv.port) for _ in range(4)]
        for w in ws:
            assert w.cmd("PING") == b"+PONG\r\n"
        extra = Wire.tcp(srv.port)
        assert extra.rest_until_close() == b"-ERR max number of clients reached\r\n"
        # A slot frees when a client leaves.
        ws.pop().close()
        deadline = time.time() + 5
        while True:
            w = Wire.tcp(srv.port)
            try:
                if w.cmd("PING") == b"+PONG\r\n":
                    break
            except (EOFError, OSError):
                pass
            assert time.time() < deadline, "no slot freed"
            time.sleep(0.05)
        ws.append(w)
        info = ws[0].cmd("INFO", "stats").decode()
        assert "rejected_connections:" in info
        rejected = int(info.split("rejected_connections:")[1].split("\r\n")[0])
        assert rejected >= 1
        assert b"connected_clients:5\r\n" in ws[0].cmd("INFO", "clients")
        assert ws[0].cmd("CONFIG", "GET", "maxclients") == b"*2\r\n$10\r\nmaxclients\r\n$1\r\n5\r\n"
    finally:
        assert srv.stop() == 0


# ---------- idle timeout ----------

def test_timeout_closes_idle_clients(tmp_path):
    srv = start_tessera(tmp_path, "--timeout", "1")
    try:
        idle = Wire.tcp(srv.port)
        busy = Wire.tcp(srv.port)
        assert idle.cmd("PING") == b"+PONG\r\n"
        t0 = time.time()
        while time.time() - t0 < 2.6:
            assert busy.cmd("PING") == b"+PONG\r\n"
            time.sleep(0.2)
        assert idle.rest_until_close(timeout=2) == b""
        assert time.time() - t0 >= 1.0
        assert busy.cmd("GET", "x") == b"$-1\r\n"
        # CONFIG SET timeout 0 turns it off.
        assert busy.cmd("CONFIG", "SET", "timeout", "0") == b"+OK\r\n"
        quiet = Wire.tcp(srv.port)
        quiet.cmd("PING")
        time.sleep(2.2)
        assert quiet.cmd("PING") == b"+PONG\r\n"
    finally:
        assert srv.stop() == 0


# ---------- query buffer limit ----------

def test_client_query_buffer_limit(server, r):
    c = Wire.tcp(server.port)
    assert c.cmd("CONFIG", "SET", "client-query-buffer-limit", "1mb") == b"+OK\r\n"
    try:
        # Under the limit: fine.
        ok = Wire.tcp(server.port)
        assert ok.cmd("SET", "under", "x" * (900 * 1024)) == b"+OK\r\n"
        # Over it: closed, without a reply (like Redis).
        w = Wire.tcp(server.port)
        try:
            w.send(b"*3\r\n$3\r\nSET\r\n$4\r\nover\r\n$3000000\r\n" + b"y" * (2 * 1024 * 1024))
        except OSError:
            pass
        assert w.rest_until_close(timeout=5) == b""
        # A pipeline of small commands larger than the limit is fine: the
        # limit is on what is waiting to be parsed.
        big = b"".join(encode("SET", "p%d" % i, "v" * 100) for i in range(20000))
        assert len(big) > 2 * 1024 * 1024
        ok.send(big)
        for _ in range(20000):
            assert ok.reply() == b"+OK\r\n"
        assert c.cmd("EXISTS", "over") == b":0\r\n"
        assert c.cmd("STRLEN", "under") == b":%d\r\n" % (900 * 1024)
    finally:
        c.cmd("CONFIG", "SET", "client-query-buffer-limit", "1gb")


# ---------- many clients ----------

def test_200_concurrent_pipelining_clients(server, r):
    nclients, ncmds = 200, 60
    ks = spread_keys("cc", 4)
    sel = selectors.DefaultSelector()
    state = {}
    for i in range(nclients):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        s.setblocking(False)
        out, expect = [], []
        for j in range(ncmds):
            k = "%s:c%d" % (ks[j % len(ks)], i)
            op = j % 5
            if op == 0:
                out.append(encode("SET", k, "%d-%d" % (i, j)))
                expect.append(b"+OK\r\n")
            elif op == 1:
                out.append(encode("GET", "%s:c%d" % (ks[(j - 1) % len(ks)], i)))
                v = b"%d-%d" % (i, j - 1)
                expect.append(b"$%d\r\n%s\r\n" % (len(v), v))
            elif op == 2:
                out.append(encode("INCR", "n:c%d" % i))
                expect.append(b":%d\r\n" % (j // 5 + 1))
            elif op == 3:
                out.append(encode("ECHO", "e%d-%d" % (i, j)))
                v = b"e%d-%d" % (i, j)
                expect.append(b"$%d\r\n%s\r\n" % (len(v), v))
            else:
                out.append(encode("MGET", "%s:c%d" % (ks[(j - 4) % len(ks)], i), "nokey:%d" % i))
                v = b"%d-%d" % (i, j - 4)
                expect.append(b"*2\r\n$%d\r\n%s\r\n$-1\r\n" % (len(v), v))
        state[s] = {"out": b"".join(out), "sent": 0, "want": b"".join(expect), "got": bytearray()}
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    pending = len(state)
    deadline = time.time() + 60
    while pending:
        assert time.time() < deadline, "%d clients still waiting" % pending
        for key, ev in sel.select(timeout=1):
            s, st = key.fileobj, state[key.fileobj]
            if ev & selectors.EVENT_WRITE and st["sent"] < len(st["out"]):
                st["sent"] += s.send(st["out"][st["sent"]:st["sent"] + 65536])
                if st["sent"] == len(st["out"]):
                    sel.modify(s, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                d = s.recv(65536)
                assert d, "connection closed early"
                st["got"].extend(d)
                assert st["want"].startswith(bytes(st["got"])), "client replies out of order"
                if len(st["got"]) == len(st["want"]):
                    sel.unregister(s)
                    pending -= 1
    for s in state:
        s.close()
    assert r.ping()


# ---------- clients that vanish ----------

def test_disconnect_with_commands_in_flight(server, r):
    """Pipelines to every shard, multi-shard commands among them, and the
    socket closed at once (sometimes with a reset), many times. The
    sanitizer builds catch leaks and use-after-free here."""
    ks = spread_keys("gone", 8)
    rng = random.Random(5)
    before = client_ids(server)
    for round_ in range(60):
        parts = []
        for j in range(300):
            k = rng.choice(ks)
            op = j % 6
            if op == 0:
                parts.append(encode("SET", k, "v" * rng.choice([1, 100, 3000])))
            elif op == 1:
                parts.append(encode("GET", k))
            elif op == 2:
                parts.append(encode("MSET", *[x for kk in rng.sample(ks, 3) for x in (kk, "m")]))
            elif op == 3:
                parts.append(encode("MGET", *rng.sample(ks, 4)))
            elif op == 4:
                parts.append(encode("DEL", *rng.sample(ks, 2)))
            else:
                parts.append(encode("INCR", "n" + k))
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        if round_ % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))   # RST
        try:
            s.sendall(b"".join(parts))
            if round_ % 3 == 0:
                s.recv(10)                      # some replies already on their way
        except OSError:
            pass
        s.close()
    w = Wire.tcp(server.port)
    assert w.cmd("PING") == b"+PONG\r\n"
    assert w.cmd("MSET", ks[0], "1", ks[-1], "2") == b"+OK\r\n"
    assert w.cmd("MGET", ks[0], ks[-1]) == b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    # Every vanished client is gone from the list.
    deadline = time.time() + 5
    mine = int(w.cmd("CLIENT", "ID")[1:-2])
    while True:
        left = client_ids(server) - before - {mine}
        if not left:
            break
        assert time.time() < deadline, "clients still listed: %r" % left
        time.sleep(0.05)
    w.close()


def test_disconnect_during_multi_shard_commands(server, r):
    """Only multi-shard transactions in flight when the client goes."""
    ks = spread_keys("mx", 4)
    for round_ in range(40):
        data = b"".join(encode("MSET", *[x for k in ks for x in (k, str(i))]) + encode("MGET", *ks) +
                        encode("RENAME", ks[0], ks[-1]) + encode("RENAME", ks[-1], ks[0]) + encode("EXISTS", *ks)
                        for i in range(50))
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        try:
            s.sendall(data)
        except OSError:
            pass
        s.close()
    w = Wire.tcp(server.port)
    vals = w.cmd("MGET", *ks)
    assert vals.startswith(b"*%d\r\n" % len(ks))
    assert w.cmd("EXISTS", *ks) in (b":%d\r\n" % len(ks), b":%d\r\n" % (len(ks) - 1))


# ---------- worker counts ----------

@pytest.mark.parametrize("threads", [1, 3, 4])
def test_threads_smoke(tmp_path, threads):
    srv = start_tessera(tmp_path, threads=threads)
    try:
        c = srv.client()
        smoke(c, threads, "t%d" % threads)
        info = c.info("server")
        assert info["worker_threads"] == threads
        # Clients on every worker see each other's writes.
        cs = [srv.client() for _ in range(threads * 2)]
        for i, x in enumerate(cs):
            x.set("w%d" % i, i)
        for x in cs:
            assert x.mget(["w%d" % i for i in range(len(cs))]) == [str(i).encode() for i in range(len(cs))]
            x.close()
        assert c.dbsize() == len(cs)
        assert c.flushall()
        assert c.dbsize() == 0
        c.close()
    finally:
        assert srv.stop() == 0


# ---------- connection migration ----------

def migrations(r):
    return r.info("stats")["connection_migrations"]


@pytest.mark.skipif(NSHARDS < 2, reason="needs two workers")
def test_connection_migrates_to_the_shard_it_uses(server, r):
    """A client whose commands all go to one other shard moves to that
    shard's worker between two commands; nothing about it changes."""
    from tessera_testlib import keys_on
    before = migrations(r)
    w = Wire(server)
    w.cmd("HELLO", "3", "SETNAME", "mover")
    w.cmd("SELECT", "5")
    cid = w.val("CLIENT", "ID")
    for shard in range(NSHARDS):
        key = keys_on(shard, "mig")[0]
        for i in range(100):
            assert w.cmd("INCR", key) == b":%d\r\n" % (i + 1)
    assert migrations(r) > before
    assert w.val("CLIENT", "ID") == cid
    info = w.val("CLIENT", "INFO").decode()
    assert " name=mover " in info and " db=5 " in info and " resp=3" in info
    assert w.cmd("GET", keys_on(0, "mig")[0]) == b"$3\r\n100\r\n"
    # a pipeline across a migration keeps its order
    key = keys_on(NSHARDS - 1, "mig2")[0]
    w.send(b"".join(encode("RPUSH", key, str(i)) for i in range(300)))
    assert w.replies(300) == b"".join(b":%d\r\n" % (i + 1) for i in range(300))
    assert w.val("LRANGE", key, "0", "-1") == [str(i).encode() for i in range(300)]
    assert r.info("clients")["connected_clients"] >= 2
    w.close()


@pytest.mark.skipif(NSHARDS < 2, reason="needs two workers")
def test_spread_keys_do_not_migrate(server, r):
    before = migrations(r)
    w = Wire(server)
    keys = spread_keys("spread", per_shard=3)
    for i in range(300):
        w.cmd("SET", keys[i % len(keys)], "v")
    assert migrations(r) == before
    w.close()
