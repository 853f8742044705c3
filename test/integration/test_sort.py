"""SORT and SORT_RO: Tessera's raw replies must equal Redis 7.0's.

Keys for BY/GET patterns are spread over the shards (w_1 may live on
another shard than w_2 and than the sorted key), so the exclusive txn over
every shard (src/cmd/sort.c) is exercised. Where Redis's order is its own
(a set's iteration order under BY nosort, ties among ALPHA BY weights)
the replies are compared as multisets.
"""
import random
import threading

import pytest

from tessera_testlib import NSHARDS, keys_on, parse


def fill(d):
    d("RPUSH", "l", "3", "1", "2", "10", "-5", "1.5", "7")
    d("SADD", "s", "3", "1", "2", "10", "-5", "1.5", "7")
    d("ZADD", "z", "1", "c", "2", "a", "3", "b", "4", "e", "5", "d")
    d("RPUSH", "la", "pear", "apple", "fig", "Banana", "apple")
    for i, x in enumerate(["3", "1", "2", "10", "-5", "1.5", "7"]):
        d("SET", "w_" + x, str((i * 7) % 5))
        d("HSET", "h_" + x, "f", "v" + x, "n", str(-i))
        d("SET", "o_" + x, "obj" + x)
    for m in "abcde":
        d("SET", "w_" + m, str(ord(m) % 3))
        d("SET", "o_" + m, "obj" + m)


CASES = [
    ("l",), ("l", "DESC"), ("l", "ASC"), ("l", "LIMIT", "1", "3"), ("l", "LIMIT", "-1", "3"),
    ("l", "LIMIT", "2", "-1"), ("l", "LIMIT", "0", "0"), ("l", "LIMIT", "5", "100"), ("l", "LIMIT", "100", "1"),
    ("l", "LIMIT", "-5", "-5"), ("l", "BY", "nosort"), ("l", "BY", "nosort", "DESC"),
    ("l", "BY", "nosort", "LIMIT", "2", "3"), ("l", "BY", "nosort", "DESC", "LIMIT", "2", "3"),
    ("l", "BY", "w_*"), ("l", "BY", "w_*", "DESC"), ("l", "BY", "w_*", "LIMIT", "0", "3"),
    ("l", "BY", "h_*->n"), ("l", "BY", "h_*->f", "ALPHA"), ("l", "BY", "missing_*"),
    ("l", "GET", "#"), ("l", "GET", "o_*"), ("l", "GET", "o_*", "GET", "#", "GET", "h_*->f"),
    ("l", "GET", "nostar"), ("l", "GET", "h_*->missing"), ("l", "GET", "h_*->"),
    ("l", "BY", "w_*", "GET", "o_*", "LIMIT", "1", "4", "DESC"),
    ("la", "ALPHA"), ("la", "ALPHA", "DESC"), ("la", "ALPHA", "LIMIT", "1", "2"), ("la",),
    ("s",), ("s", "DESC"), ("s", "BY", "w_*"), ("s", "GET", "o_*"), ("s", "ALPHA"), ("s", "BY", "w_*", "GET", "h_*->f"),
    ("z",), ("z", "ALPHA"), ("z", "BY", "nosort"), ("z", "BY", "nosort", "DESC"),
    ("z", "BY", "nosort", "LIMIT", "1", "2"), ("z", "BY", "nosort", "DESC", "LIMIT", "1", "2"),
    ("z", "BY", "w_*"), ("z", "BY", "nosort", "GET", "o_*"), ("z", "BY", "w_*", "ALPHA", "DESC"),
    ("nokey",), ("nokey", "BY", "w_*", "GET", "o_*"),
    ("l", "FOO"), ("l", "LIMIT", "1"), ("l", "LIMIT", "a", "1"), ("l", "BY"), ("l", "GET"),
    ("str",), ("str", "BY", "w_*"), ("l", "BY", "o_*"),
]


@pytest.mark.parametrize("case", CASES, ids=[" ".join(c) for c in CASES])
@pytest.mark.parametrize("cmd", ["SORT", "SORT_RO"])
def test_sort_cases(d, case, cmd):
    fill(d)
    d("SET", "str", "x")
    args = (cmd,) + case
    if "ALPHA" in case and "BY" in case and "->" not in " ".join(case):
        d.unordered(*args)   # ties among equal ALPHA weights: Redis's qsort/pqsort order
    else:
        d(*args)


STORE_CASES = [
    ("l",), ("l", "BY", "w_*", "GET", "o_*", "GET", "#"), ("l", "GET", "nostar", "GET", "h_*->f"),
    ("s", "BY", "nosort"), ("s",), ("z", "BY", "nosort", "LIMIT", "1", "2"), ("l", "LIMIT", "0", "0"),
    ("nokey",), ("la", "ALPHA", "DESC"),
]


@pytest.mark.parametrize("case", STORE_CASES, ids=[" ".join(c) for c in STORE_CASES])
def test_sort_store(d, case):
    fill(d)
    for dest in keys_on(0, "dst", 1) + keys_on(NSHARDS - 1, "dst", 1):
        d("SET", dest, "old")
        d("EXPIRE", dest, "100")
        d("SORT", *case, "STORE", dest)
        d("TYPE", dest)
        d("TTL", dest)
        d("LRANGE", dest, "0", "-1")


def test_sort_ro_refuses_store(d):
    fill(d)
    d("SORT_RO", "l", "STORE", "x")
    d("EXISTS", "x")


def test_sort_wrongtype_and_numeric_errors(d):
    fill(d)
    d("HSET", "hh", "a", "1")
    d("SORT", "hh")
    d("SORT", "hh", "FOO")        # syntax first
    d("SORT", "la")               # not numbers
    d("RPUSH", "inf", "1", "inf", "-inf", "1e400", "")
    d("SORT", "inf")
    d("RPUSH", "nan", "1", "nan")
    d("SORT", "nan")
    d("SET", "w_1", "notanumber")
    d("SORT", "l", "BY", "w_*")
    d("SORT", "l", "BY", "w_*", "STORE", "dd")
    d("EXISTS", "dd")


def test_sort_equal_scores(d):
    d("RPUSH", "e", "b", "a", "c", "10", "9", "a", "b")
    for x in ["a", "b", "c", "9", "10"]:
        d("SET", "k_" + x, "1")
    d("SORT", "e", "BY", "k_*")
    d("SORT", "e", "BY", "k_*", "DESC")
    d("SORT", "e", "BY", "k_*", "LIMIT", "1", "3")
    d("RPUSH", "n", "2", "1", "02", "2.0", "1e0", "+1")
    d("SORT", "n")
    d("SORT", "n", "DESC")


def test_sort_zset_encoding_and_stats(d):
    d("ZADD", "z", "1", "a", "2", "b")
    d("OBJECT", "ENCODING", "z")
    d("SORT", "z", "ALPHA")
    d("OBJECT", "ENCODING", "z")


def test_sort_keyspace_stats(r, ref):
    for c in (r, ref):
        c.rpush("l", 3, 1, 2)
        c.set("w_1", 1)
        c.set("o_2", "x")
        c.config_resetstat()
        c.sort("l", by="w_*", get=["o_*", "#"])
    a, b = r.info("stats"), ref.info("stats")
    assert (a["keyspace_hits"], a["keyspace_misses"]) == (b["keyspace_hits"], b["keyspace_misses"])


def test_sort_store_aof_restart(tmp_path):
    from conftest import start_tessera
    srv = start_tessera(tmp_path, "--appendonly", "yes")
    c = srv.client()
    c.rpush("l", 3, 1, 2)
    for x in (1, 2, 3):
        c.set("w_%d" % x, 4 - x)
        c.set("o_%d" % x, "v%d" % x)
    assert c.sort("l", by="w_*", get=["o_*", "#"], store="dst") == 6
    c.sort("l", store="plain")
    c.sort("nokey", store="o_1")
    before = [c.lrange("dst", 0, -1), c.lrange("plain", 0, -1), c.exists("o_1")]
    c.close()
    assert srv.stop() == 0
    srv = start_tessera(tmp_path, "--appendonly", "yes")
    c = srv.client()
    assert [c.lrange("dst", 0, -1), c.lrange("plain", 0, -1), c.exists("o_1")] == before
    assert before[0] == [b"v3", b"3", b"v2", b"2", b"v1", b"1"]
    c.close()
    assert srv.stop() == 0


def test_sort_atomic_weights(r, server):
    """A writer moves weight w_<x> and the GET value o_<x> together in a
    MSET over two shards (w_a/o_b swapped keeping the order unique); SORT BY
    w_* GET o_* must always see consistent pairs."""
    xs = ["a", "b", "c", "d"]
    r.rpush("l", *xs)
    r.mset({"w_%s" % x: i for i, x in enumerate(xs)})
    r.mset({"o_%s" % x: "%s:%d" % (x, i) for i, x in enumerate(xs)})
    stop = threading.Event()

    def writer():
        c = server.client()
        n = 0
        while not stop.is_set():
            n += 1
            perm = xs[:]
            random.shuffle(perm)
            kv = {}
            for i, x in enumerate(perm):
                kv["w_%s" % x] = i
                kv["o_%s" % x] = "%s:%d" % (x, i)
            c.mset(kv)
        c.close()

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(300):
            out = r.sort("l", by="w_*", get=["o_*", "#"])
            pairs = list(zip(out[0::2], out[1::2]))
            assert [int(v.split(b":")[1]) for v, _ in pairs] == [0, 1, 2, 3], out
            assert all(v.split(b":")[0] == x for v, x in pairs), out
    finally:
        stop.set()
        t.join()


def test_sort_commands_table(d):
    d("COMMAND", "INFO", "sort", "sort_ro")
    d("COMMAND", "DOCS", "sort", "sort_ro")
    d("COMMAND", "GETKEYS", "SORT", "k", "LIMIT", "0", "1", "GET", "x", "STORE", "d")
    d("COMMAND", "GETKEYSANDFLAGS", "SORT", "k", "BY", "w_*", "STORE", "d", "STORE", "e")
    d("COMMAND", "GETKEYSANDFLAGS", "SORT_RO", "k", "BY", "w_*")


def test_sort_pipelined(d):
    """Pattern SORTs (txns over every shard) between single-shard writes
    in one pipeline: replies in order, each SORT sees the writes before it."""
    from tessera_testlib import encode
    cmds = []
    for i in range(20):
        cmds.append(("RPUSH", "pl", str(i)))
        cmds.append(("SET", "w_%d" % i, str(-i)))
        cmds.append(("SORT", "pl", "BY", "w_*", "GET", "w_*", "LIMIT", "0", "3"))
        cmds.append(("SORT", "pl", "BY", "w_*", "STORE", "pdst"))
    data = b"".join(encode(*c) for c in cmds)
    for w in (d.a, d.b):
        w.send(data)
    assert d.a.replies(len(cmds)) == d.b.replies(len(cmds))
    d("LRANGE", "pdst", "0", "-1")


def test_sort_store_serves_blocked_client(server, reference, r, ref):
    dest = keys_on(NSHARDS - 1, "bdst", 1)[0]
    got = []
    for srv, c in ((server, r), (reference, ref)):
        c.rpush("l", 2, 1)
        c.set("w_1", 5)
        waiter = srv.client()
        t = threading.Thread(target=lambda: got.append(waiter.blpop(dest, timeout=5)))
        t.start()
        import time
        time.sleep(0.2)
        c.sort("l", by="w_*", store=dest)
        t.join()
        waiter.close()
        got.append(c.lrange(dest, 0, -1))
    assert got[:2] == got[2:]
