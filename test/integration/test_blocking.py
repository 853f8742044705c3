"""Blocking commands: BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX
BZMPOP.

Immediate replies and errors are compared byte for byte with redis-server
7.0. Blocked clients are raw connections (Wire): consecutive connections
land on different workers, so "a client blocked on a key of another worker"
is the ordinary case here; keys are placed on chosen shards with keys_on.
"""
import select
import threading
import time

import pytest

from tessera_testlib import NSHARDS, Wire, encode, keys_on, parse

A = keys_on(0, "ba")[0]
B = keys_on(NSHARDS - 1, "bb")[0]
A2 = keys_on(0, "bc")[0]


def blocked(server, *args):
    """A raw connection that sent args and is (presumably) blocked."""
    w = Wire(server)
    w.send(encode(*args))
    return w


def wait_blocked(r, n, timeout=5.0):
    """Waits until INFO clients shows n blocked clients."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if r.info("clients")["blocked_clients"] == n:
            return
        time.sleep(0.01)
    raise AssertionError("blocked_clients never reached %d (is %d)" % (n, r.info("clients")["blocked_clients"]))


def no_reply(w, wait=0.2):
    """True when nothing arrives on w within wait seconds (w has no
    buffered bytes: its replies so far were read whole)."""
    readable, _, _ = select.select([w.s], [], [], wait)
    return not readable


# ---------- immediate answers, compared with Redis ----------

def test_immediate_and_errors(d):
    d.run([
        ("RPUSH", "{t}l1", "a", "b", "c"), ("BLPOP", "{t}l1", "{t}l2", "0"), ("BRPOP", "{t}l2", "{t}l1", "0"),
        ("BLMOVE", "{t}l1", "{t}l2", "LEFT", "RIGHT", "0"), ("BRPOPLPUSH", "{t}l2", "{t}l2", "0"),
        ("RPUSH", "{t}l3", "x", "y", "z"), ("BLMPOP", "0", "2", "{t}nx", "{t}l3", "RIGHT", "COUNT", "2"),
        ("BLMPOP", "0", "1", "{t}l3", "LEFT"),
        ("ZADD", "{t}z", "1", "a", "2", "b", "3", "c"), ("BZPOPMIN", "{t}nx", "{t}z", "0"),
        ("BZPOPMAX", "{t}z", "0"), ("BZMPOP", "0", "1", "{t}z", "MIN", "COUNT", "5"),
        ("SET", "{t}s", "v"), ("BLPOP", "{t}s", "0"), ("BLPOP", "{t}nx", "{t}s", "0"), ("BZPOPMIN", "{t}s", "0"),
        ("BLMOVE", "{t}s", "{t}l9", "LEFT", "LEFT", "0"),
        ("BLPOP", "{t}l1", "-1"), ("BLPOP", "{t}l1", "abc"), ("BLPOP", "{t}l1", "1e300"),
        ("BLPOP", "{t}l1", "inf"), ("BLPOP", "{t}l1", " 1"),
        ("BZPOPMIN", "{t}z", "1e300"), ("BLMOVE", "{t}l1", "{t}l2", "LEFT", "LEFT", "x"), ("BLPOP", "{t}l1", "nan"), ("BLPOP", "{t}l1"),
        ("BLMPOP", "0", "0", "{t}l1", "LEFT"), ("BLMPOP", "0", "1", "{t}l1", "UP"),
        ("BLMPOP", "0", "1", "{t}l1", "LEFT", "COUNT", "0"), ("BZMPOP", "1", "x", "{t}z", "MIN"),
        ("BLMOVE", "{t}l1", "{t}l2", "UP", "LEFT", "0"),
        # the MPOP argument parser shared with LMPOP/ZMPOP
        ("LMPOP", "0", "{t}l1", "LEFT"), ("LMPOP", "abc", "{t}l1", "LEFT"), ("LMPOP", "2", "{t}l1", "LEFT"),
        ("LMPOP", "1", "{t}l1", "LEFT", "COUNT"), ("LMPOP", "1", "{t}l1", "LEFT", "COUNT", "-1"),
        ("LMPOP", "1", "{t}l1", "LEFT", "COUNT", "1", "COUNT", "2"), ("ZMPOP", "1", "{t}z", "LEFT"),
        ("ZMPOP", "99999999999999999999", "{t}z", "MIN"), ("BZMPOP", "0", "3", "{t}z", "MIN"),
        ("BLMPOP", "x", "1", "{t}l1", "LEFT"), ("BLMPOP", "0", "1", "{t}l1", "LEFT", "COUNT", "x"),
        ("BLPOP", "{t}empty", "0.01"), ("BLMOVE", "{t}empty", "{t}l2", "LEFT", "LEFT", "0.01"),
        ("BZPOPMIN", "{t}empty", "0.01"), ("BLMPOP", "0.01", "1", "{t}empty", "LEFT"),
    ])


def test_immediate_resp3(d):
    d.both("HELLO", "3")   # the client ids differ
    d.run([("RPUSH", "{t}l", "a"), ("BLPOP", "{t}l", "0"), ("BLPOP", "{t}l", "0.01"),
           ("ZADD", "{t}z", "1.5", "m"), ("BZPOPMIN", "{t}z", "0"), ("BZPOPMIN", "{t}z", "0.01"),
           ("BLMOVE", "{t}l", "{t}x", "LEFT", "LEFT", "0.01")])


# ---------- waking up ----------

@pytest.mark.parametrize("key", [A, B])
def test_blpop_woken_by_push(server, r, key):
    w = blocked(server, "BLPOP", key, "0")
    wait_blocked(r, 1)
    assert r.rpush(key, "v") == 1
    assert parse(w.reply()) == [key.encode(), b"v"]
    assert r.exists(key) == 0
    wait_blocked(r, 0)
    w.close()


def test_keys_on_two_shards(server, r):
    """BLPOP over keys of two shards, served by whichever gets data."""
    w = blocked(server, "BLPOP", A, B, "0")
    wait_blocked(r, 1)
    r.lpush(B, "b1")
    assert parse(w.reply()) == [B.encode(), b"b1"]
    # the registration on A is gone: a push there stays in the list
    r.lpush(A, "a1")
    time.sleep(0.05)
    assert r.lrange(A, 0, -1) == [b"a1"]
    w.close()


def test_first_key_with_data_wins(server, r):
    r.rpush(B, "b")
    r.rpush(A, "a")
    w = Wire(server)
    assert parse(w.cmd("BLPOP", "nokey", B, A, "0")) == [B.encode(), b"b"]
    w.close()


def test_fifo_order(server, r):
    clients = []
    for i in range(4):
        clients.append(blocked(server, "BLPOP", A, "0"))
        wait_blocked(r, i + 1)
    r.rpush(A, "e0", "e1", "e2", "e3")
    got = [parse(c.reply()) for c in clients]
    assert got == [[A.encode(), b"e%d" % i] for i in range(4)]
    for c in clients:
        c.close()


def test_one_element_one_client(server, r):
    c1 = blocked(server, "BRPOP", B, "0")
    wait_blocked(r, 1)
    c2 = blocked(server, "BRPOP", B, "0")
    wait_blocked(r, 2)
    r.rpush(B, "only")
    assert parse(c1.reply()) == [B.encode(), b"only"]
    assert no_reply(c2)
    r.rpush(B, "second")
    assert parse(c2.reply()) == [B.encode(), b"second"]
    c1.close()
    c2.close()


@pytest.mark.parametrize("src,dst", [(A, A2), (A, B), (B, A)])
def test_blmove_woken(server, r, src, dst):
    w = blocked(server, "BLMOVE", src, dst, "RIGHT", "LEFT", "0")
    wait_blocked(r, 1)
    r.rpush(dst, "old")
    r.rpush(src, "x", "y")
    assert parse(w.reply()) == b"y"
    assert r.lrange(src, 0, -1) == [b"x"]
    assert r.lrange(dst, 0, -1) == [b"y", b"old"]
    w.close()


def test_brpoplpush_woken_cross_shard(server, r):
    w = blocked(server, "BRPOPLPUSH", A, B, "0")
    wait_blocked(r, 1)
    r.lpush(A, "m")
    assert parse(w.reply()) == b"m"
    assert r.lrange(B, 0, -1) == [b"m"]
    w.close()


def test_blmove_chain_serves_next_waiter(server, r):
    """BLMOVE's push into its destination wakes a client blocked there."""
    waiter = blocked(server, "BLPOP", A2, "0")
    wait_blocked(r, 1)
    mover = blocked(server, "BLMOVE", A, A2, "LEFT", "LEFT", "0")
    wait_blocked(r, 2)
    r.rpush(A, "z")
    assert parse(mover.reply()) == b"z"
    assert parse(waiter.reply()) == [A2.encode(), b"z"]
    assert r.exists(A, A2) == 0
    waiter.close()
    mover.close()


def test_blmpop_and_bzmpop_woken(server, r):
    w = blocked(server, "BLMPOP", "0", "2", A, B, "RIGHT", "COUNT", "2")
    wait_blocked(r, 1)
    r.rpush(B, "1", "2", "3")
    assert parse(w.reply()) == [B.encode(), [b"3", b"2"]]
    w.close()
    z = blocked(server, "BZMPOP", "0", "2", A, B + "z", "MAX", "COUNT", "10")
    wait_blocked(r, 1)
    r.zadd(B + "z", {"p": 1, "q": 2})
    assert parse(z.reply()) == [(B + "z").encode(), [[b"q", b"2"], [b"p", b"1"]]]
    z.close()


@pytest.mark.parametrize("cmd", ["BZPOPMIN", "BZPOPMAX"])
def test_bzpop_woken(server, r, cmd):
    w = blocked(server, cmd, A, B, "0")
    wait_blocked(r, 1)
    r.zadd(A, {"lo": 1, "hi": 9})
    want = [b"lo", b"1"] if cmd == "BZPOPMIN" else [b"hi", b"9"]
    assert parse(w.reply()) == [A.encode()] + want
    w.close()


def test_woken_by_multi_shard_command(server, r):
    """A client blocked on a list filled by a cross-shard LMOVE."""
    r.rpush(A, "moved")
    w = blocked(server, "BLPOP", B, "0")
    wait_blocked(r, 1)
    assert r.lmove(A, B, "LEFT", "LEFT") == b"moved"
    assert parse(w.reply()) == [B.encode(), b"moved"]
    w.close()


def test_woken_by_rename(server, r):
    r.rpush(A, "r")
    w = blocked(server, "BLPOP", B, "0")
    wait_blocked(r, 1)
    r.rename(A, B)
    assert parse(w.reply()) == [B.encode(), b"r"]
    w.close()


def test_type_change_and_delete_keep_waiting(server, r):
    w = blocked(server, "BLPOP", A, "0")
    wait_blocked(r, 1)
    r.set(A, "string")
    r.delete(A)
    r.zadd(A, {"m": 1})     # a zset does not serve BLPOP
    assert no_reply(w)
    r.delete(A)
    r.lpush(A, "finally")
    assert parse(w.reply()) == [A.encode(), b"finally"]
    w.close()


# ---------- timeouts and disconnects ----------

@pytest.mark.parametrize("args,null", [
    (("BLPOP", A, B, "0.3"), b"*-1\r\n"),
    (("BLMOVE", A, B, "LEFT", "LEFT", "0.3"), b"*-1\r\n"),
    (("BZPOPMIN", B, "0.3"), b"*-1\r\n"),
    (("BLMPOP", "0.3", "1", A, "LEFT"), b"*-1\r\n"),
])
def test_timeout_honoured(server, r, args, null):
    w = Wire(server)
    t0 = time.monotonic()
    assert w.cmd(*args) == null
    took = time.monotonic() - t0
    assert 0.3 <= took < 0.4, took
    assert w.cmd("PING") == b"+PONG\r\n"
    wait_blocked(r, 0)
    w.close()


def test_timeout_resp3(server, r):
    w = Wire(server)
    w.cmd("HELLO", "3")
    assert w.cmd("BLPOP", B, "0.05") == b"_\r\n"
    assert w.cmd("BLMOVE", B, A, "LEFT", "LEFT", "0.05") == b"_\r\n"
    w.close()


def test_pipeline_waits_behind_blocked_command(server, r):
    w = Wire(server)
    w.send(encode("BLPOP", A, "0") + encode("SET", "after", "1") + encode("GET", "after"))
    wait_blocked(r, 1)
    assert r.get("after") is None
    r.rpush(A, "go")
    assert parse(w.reply()) == [A.encode(), b"go"]
    assert w.reply() == b"+OK\r\n"
    assert w.reply() == b"$1\r\n1\r\n"
    w.close()


def test_disconnect_while_blocked(server, r):
    ws = [blocked(server, "BLPOP", A, B, "0") for _ in range(3)]
    wait_blocked(r, 3)
    for w in ws:
        w.close()
    wait_blocked(r, 0)
    r.rpush(A, "kept")
    r.rpush(B, "kept")
    time.sleep(0.05)
    assert r.llen(A) == 1 and r.llen(B) == 1


def test_many_blocked_clients_and_timeouts(server, r):
    ws = [blocked(server, "BLPOP", (A, B)[i % 2], "0.2") for i in range(20)]
    wait_blocked(r, 20)
    r.rpush(A, *["x%d" % i for i in range(5)])
    got = [parse(w.reply()) for w in ws]
    served = [g for g in got if g is not None]
    assert len(served) == 5 and all(g[0] == A.encode() for g in served)
    for w in ws:
        w.close()
    wait_blocked(r, 0)


def test_concurrent_pushers_every_element_once(server, r):
    """Blocked poppers and pushers on several workers: every element is
    delivered exactly once."""
    n = 200
    results, lock = [], threading.Lock()

    def popper():
        w = Wire(server)
        for _ in range(n // 4):
            v = parse(w.cmd("BLPOP", A, B, "5"))
            with lock:
                results.append(v[1])
        w.close()

    def pusher(key, base):
        c = server.client()
        for i in range(n // 2):
            c.rpush(key, "%s%d" % (base, i))
        c.close()

    ts = [threading.Thread(target=popper) for _ in range(4)]
    ts += [threading.Thread(target=pusher, args=(A, "a")), threading.Thread(target=pusher, args=(B, "b"))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert sorted(results) == sorted([b"a%d" % i for i in range(n // 2)] + [b"b%d" % i for i in range(n // 2)])
    assert r.exists(A, B) == 0
