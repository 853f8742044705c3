"""Keyspace and expiry commands: DEL/UNLINK, EXISTS/TOUCH, TYPE, KEYS, SCAN,
RANDOMKEY, RENAME/RENAMENX, COPY, MOVE, OBJECT, DBSIZE, FLUSHDB/FLUSHALL,
SWAPDB, the EXPIRE and TTL families, PERSIST.

Most tests send the same commands to Tessera and to a real redis-server 7.0
and compare the raw reply bytes. Keys are chosen on purpose on one shard or
on several (the slot map is contiguous: shard = slot * nshards / 16384), so
the single-shard path and the multi-shard transaction path both run.
"""
import random
import threading
import time

import pytest

from tessera_testlib import NSHARDS, Wire, key_shard, keys_on, two_shard_keys

multishard = pytest.mark.skipif(NSHARDS < 2, reason="needs at least two shards")


# ---------- helpers ----------

def fill(client, keys, pexpire=None, chunk=250):
    """SETs every key to "v" (and PEXPIREs it), pipelined in chunks."""
    p, n = client.pipeline(transaction=False), 0
    for k in keys:
        p.set(k, "v")
        if pexpire is not None:
            p.pexpire(k, pexpire)
        n += 1
        if n % chunk == 0:
            p.execute()
    p.execute()


# ---------- DEL / UNLINK / EXISTS / TOUCH / TYPE ----------

def test_del_exists_touch_type_same_shard(d):
    d.run([
        ("SET", "{t}a", "1"), ("SET", "{t}b", "2"), ("SET", "{t}c", "x" * 50),
        ("EXISTS", "{t}a"), ("EXISTS", "{t}a", "{t}a", "{t}b", "{t}nope"),
        ("TOUCH", "{t}a", "{t}b", "{t}nope", "{t}a"),
        ("TYPE", "{t}a"), ("TYPE", "{t}nope"),
        ("DEL", "{t}a", "{t}nope", "{t}a"), ("EXISTS", "{t}a"),
        ("UNLINK", "{t}b", "{t}c"), ("DBSIZE",), ("DEL", "{t}a"),
        ("EXISTS",), ("DEL",), ("UNLINK",), ("TOUCH",), ("TYPE",), ("TYPE", "a", "b"),
    ])


@multishard
def test_del_exists_touch_across_shards(d):
    ks = keys_on(0, "x", 3) + keys_on(NSHARDS - 1, "y", 3)
    for k in ks[::2]:
        d("SET", k, k)
    d("EXISTS", *ks)
    d("EXISTS", *(ks + ks))
    d("TOUCH", *(ks + ["missing"]))
    d("DEL", *(ks + ks))
    d("EXISTS", *ks)
    d("DBSIZE")
    for k in ks:
        d("SET", k, "v")
    d("UNLINK", *reversed(ks))
    d("DBSIZE")


# ---------- KEYS / DBSIZE / RANDOMKEY ----------

def test_keys_patterns(d):
    names = ["a", "ab", "abc", "b", "bb", "hello", "hallo", "hxllo", "h*llo", "{t}1", "{t}2",
             "key:1", "key:2", "key:10", "x\\y", "[x]"] + ["n%d" % i for i in range(200)]
    for k in names:
        d("SET", k, "v")
    for pat in ["*", "a*", "*b", "?", "??", "h?llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "h\\*llo",
                "key:*", "key:?", "{t}*", "n1*", "x\\\\y", "\\[x\\]", "nomatch*", "*[", "n[0-9]"]:
        d.unordered("KEYS", pat)
    d("DBSIZE")
    d("KEYS")
    d("KEYS", "a", "b")


def test_keys_skips_expired(r, d):
    d("SET", "live", "1")
    d("SET", "dead", "1")
    d("PEXPIRE", "dead", "1")
    time.sleep(0.05)
    d.unordered("KEYS", "*")


def test_randomkey(server, r):
    assert r.randomkey() is None
    ks = ["r%d" % i for i in range(500)]
    r.mset({k: 1 for k in ks})
    seen = set()
    for _ in range(300):
        k = r.randomkey().decode()
        assert k in ks
        seen.add(key_shard(k))
    assert seen == set(range(NSHARDS))


def test_randomkey_empty_name(server, r, d):
    # The empty key name is a key like any other (ASan+UBSan build: no
    # memcpy from a NULL pointer for its empty bulk reply).
    d("SET", "", "v")
    d("RANDOMKEY")
    d("GET", "")
    d("TYPE", "")
    d("KEYS", "*")
    d("DEL", "")


def test_randomkey_skips_expired(server, r, d):
    # Every key expired: RANDOMKEY deletes them on the way and finds nothing.
    for i in range(20):
        d("SET", "e%d" % i, "v")
        d("PEXPIRE", "e%d" % i, "1")
    time.sleep(0.05)
    d("RANDOMKEY")
    d("DBSIZE")


def test_randomkey_resp3(server):
    w = Wire(server)
    w.cmd("HELLO", "3")
    w.cmd("FLUSHALL")
    assert w.cmd("RANDOMKEY") == b"_\r\n"
    assert w.cmd("OBJECT", "ENCODING", "nokey") == b"_\r\n"
    w.close()


# ---------- RENAME / RENAMENX ----------

RENAME_ERRORS = [
    ("RENAME", "nokey", "other"), ("RENAME", "nokey", "nokey"), ("RENAMENX", "nokey", "other"),
    ("RENAMENX", "nokey", "nokey"), ("RENAME", "a"), ("RENAMENX", "a", "b", "c"),
]


def test_rename_same_shard(d):
    d.run(RENAME_ERRORS)
    d.run([
        ("SET", "{t}a", "1"), ("RENAME", "{t}a", "{t}a"), ("RENAMENX", "{t}a", "{t}a"),
        ("RENAME", "{t}a", "{t}b"), ("EXISTS", "{t}a"), ("GET", "{t}b"),
        ("SET", "{t}c", "hello"), ("RENAMENX", "{t}b", "{t}c"), ("GET", "{t}b"), ("GET", "{t}c"),
        ("RENAME", "{t}b", "{t}c"), ("GET", "{t}c"), ("EXISTS", "{t}b"),
        ("RENAMENX", "{t}c", "{t}d"), ("GET", "{t}d"), ("OBJECT", "ENCODING", "{t}d"),
        ("SET", "{t}big", "z" * 100), ("RENAME", "{t}big", "{t}d"), ("OBJECT", "ENCODING", "{t}d"),
        ("STRLEN", "{t}d"), ("DBSIZE",),
    ])


def test_rename_keeps_ttl(d):
    d.run([("SET", "{t}a", "1"), ("EXPIRE", "{t}a", "1000"), ("SET", "{t}b", "2"), ("EXPIRE", "{t}b", "5000")])
    d("RENAME", "{t}a", "{t}b")
    d.near(1, "TTL", "{t}b")
    d("SET", "{t}c", "3")
    d("RENAME", "{t}c", "{t}b")
    d("TTL", "{t}b")


@multishard
@pytest.mark.parametrize("direction", ["up", "down"])
def test_rename_across_shards(d, direction):
    lo, hi = two_shard_keys("rn")
    src, dst = (lo, hi) if direction == "up" else (hi, lo)
    d.run([
        ("RENAME", src, dst), ("RENAMENX", src, dst),          # no such key: nothing changes
        ("SET", dst, "old"), ("RENAME", src, dst), ("GET", dst),
        ("SET", src, "12345"), ("EXPIRE", src, "1000"),
        ("RENAMENX", src, dst), ("GET", src), ("GET", dst),    # 0: both untouched
        ("TTL", src),
        ("RENAME", src, dst), ("EXISTS", src), ("GET", dst), ("TTL", dst), ("OBJECT", "ENCODING", dst),
        ("RENAMENX", dst, src), ("GET", src), ("EXISTS", dst), ("TTL", src),
        ("SET", dst, "y" * 64), ("RENAME", dst, src), ("GET", src), ("TTL", src),
        ("OBJECT", "ENCODING", src), ("DBSIZE",),
    ])


@multishard
def test_rename_expired_source_across_shards(d):
    lo, hi = two_shard_keys("rx")
    d.run([("SET", hi, "v"), ("SET", lo, "keep"), ("PEXPIRE", hi, "1")])
    time.sleep(0.02)
    d("RENAME", hi, lo)
    d("GET", lo)
    d("RENAMENX", hi, lo)


@multishard
def test_rename_across_shards_is_atomic(server, r):
    a, b = two_shard_keys("at")
    r.set(a, "token")
    stop = threading.Event()
    errors = []

    def mover():
        c = server.client()
        src, dst = a, b
        try:
            while not stop.is_set():
                c.rename(src, dst)
                src, dst = dst, src
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=mover)
    t.start()
    try:
        for _ in range(2000):
            assert r.exists(a, b) == 1
    finally:
        stop.set()
        t.join()
    assert not errors
    assert r.exists(a, b) == 1


# ---------- COPY ----------

def test_copy_errors(d):
    d.run([
        ("COPY", "a"), ("COPY", "a", "a"), ("COPY", "a", "b", "foo"), ("COPY", "a", "b", "DB"),
        ("COPY", "a", "b", "DB", "x"), ("COPY", "a", "b", "DB", "16"), ("COPY", "a", "b", "DB", "-1"),
        ("COPY", "a", "b", "DB", "99999999999"), ("COPY", "a", "a", "DB", "0"),
        ("COPY", "a", "b", "DB", "1", "foo"), ("COPY", "a", "b", "foo", "DB", "x"),
        ("COPY", "a", "a", "DB", "1"), ("COPY", "nokey", "b"), ("COPY", "nokey", "b", "REPLACE"),
    ])


def test_copy_same_shard(d):
    d.run([
        ("SET", "{t}a", "1"), ("COPY", "{t}a", "{t}b"), ("GET", "{t}b"), ("OBJECT", "ENCODING", "{t}b"),
        ("SET", "{t}c", "x"), ("COPY", "{t}a", "{t}c"), ("GET", "{t}c"),
        ("COPY", "{t}a", "{t}c", "replace"), ("GET", "{t}c"),
        ("SET", "{t}s", "s" * 60), ("EXPIRE", "{t}s", "3000"),
        ("COPY", "{t}s", "{t}t"), ("GET", "{t}t"), ("TTL", "{t}t"), ("OBJECT", "ENCODING", "{t}t"),
        ("SET", "{t}u", "uu"), ("EXPIRE", "{t}u", "50"), ("COPY", "{t}a", "{t}u", "REPLACE"), ("TTL", "{t}u"),
        ("COPY", "{t}a", "{t}a", "DB", "3"), ("SELECT", "3"), ("GET", "{t}a"),
        ("COPY", "{t}a", "{t}a", "DB", "0"), ("COPY", "{t}a", "{t}a", "DB", "0", "REPLACE"),
        ("SELECT", "0"), ("DBSIZE",),
    ])


@multishard
@pytest.mark.parametrize("direction", ["up", "down"])
def test_copy_across_shards(d, direction):
    lo, hi = two_shard_keys("cp")
    src, dst = (lo, hi) if direction == "up" else (hi, lo)
    d.run([
        ("COPY", src, dst), ("EXISTS", dst),
        ("SET", src, "123"), ("EXPIRE", src, "1000"), ("SET", dst, "taken"),
        ("COPY", src, dst), ("GET", src), ("GET", dst), ("TTL", src), ("TTL", dst),
        ("COPY", src, dst, "REPLACE"), ("GET", src), ("GET", dst), ("TTL", dst),
        ("OBJECT", "ENCODING", dst), ("DEL", dst),
        ("COPY", src, dst, "DB", "2"), ("EXISTS", dst), ("SELECT", "2"), ("GET", dst), ("TTL", dst),
        ("COPY", src, dst, "DB", "0"), ("SELECT", "0"),
        ("SET", src, "v" * 100), ("COPY", src, dst), ("GET", dst), ("OBJECT", "ENCODING", dst),
        ("COPY", src, dst, "DB", "17"), ("COPY", src, dst, "bogus"), ("DBSIZE",),
    ])


# ---------- MOVE ----------

def test_move(d):
    d.run([
        ("MOVE", "a", "1"), ("SET", "a", "1"), ("MOVE", "a", "0"), ("MOVE", "a", "16"), ("MOVE", "a", "-1"),
        ("MOVE", "a", "x"), ("MOVE", "a", "1.5"), ("MOVE", "a"), ("MOVE", "a", "99999999999"),
        ("MOVE", "a", "-99999999999"), ("MOVE", "a", "9223372036854775808"),
        ("EXPIRE", "a", "1000"), ("MOVE", "a", "1"), ("EXISTS", "a"), ("SELECT", "1"), ("GET", "a"),
        ("TTL", "a"), ("SET", "b", "in1"), ("SELECT", "0"), ("SET", "b", "in0"), ("MOVE", "b", "1"),
        ("GET", "b"), ("SELECT", "1"), ("GET", "b"), ("MOVE", "a", "0"), ("SELECT", "0"), ("GET", "a"),
        ("TTL", "a"), ("DBSIZE",),
    ])


# ---------- OBJECT ----------

def test_object(d):
    d.run([
        ("SET", "i", "1"), ("SET", "big", "10000"), ("SET", "neg", "-5"), ("SET", "s", "hello"),
        ("SET", "raw", "r" * 45),
        ("OBJECT", "ENCODING", "i"), ("OBJECT", "encoding", "s"), ("OBJECT", "Encoding", "raw"),
        ("OBJECT", "ENCODING", "nokey"), ("OBJECT", "REFCOUNT", "i"), ("OBJECT", "REFCOUNT", "big"),
        ("OBJECT", "REFCOUNT", "neg"), ("OBJECT", "REFCOUNT", "s"), ("OBJECT", "REFCOUNT", "nokey"),
        ("OBJECT", "FREQ", "i"), ("OBJECT", "FREQ", "nokey"), ("OBJECT", "IDLETIME", "nokey"),
        ("OBJECT", "IDLETIME", "i"), ("OBJECT", "HELP"), ("OBJECT", "help"),
        ("OBJECT", "ENCODING"), ("OBJECT", "ENCODING", "a", "b"), ("OBJECT",), ("OBJECT", "foo", "i"),
    ])


def test_object_idletime(r):
    r.set("k", "v")
    assert r.object("idletime", "k") <= 1
    time.sleep(2.1)
    assert 2 <= r.object("idletime", "k") <= 3
    r.exists("k")                 # EXISTS/TYPE/TTL do not touch the LRU clock
    r.type("k")
    r.ttl("k")
    assert r.object("idletime", "k") >= 2
    r.get("k")
    assert r.object("idletime", "k") <= 1


# ---------- DBSIZE / FLUSHDB / FLUSHALL / SWAPDB ----------

def test_flush_and_dbsize(d):
    script = []
    for db in ("0", "1"):
        script += [("SELECT", db)] + [("SET", "{%s}k%d" % (db, i), "v") for i in range(30)] + [("DBSIZE",)]
    d.run(script)
    d.run([
        ("FLUSHDB", "foo"), ("FLUSHDB", "async", "sync"), ("FLUSHALL", "bar"), ("FLUSHALL", "sync", "x"),
        ("DBSIZE",), ("FLUSHDB", "ASYNC"), ("DBSIZE",), ("SELECT", "0"), ("DBSIZE",),
        ("FLUSHDB", "sync"), ("DBSIZE",), ("SET", "x", "1"), ("SELECT", "1"), ("SET", "y", "1"),
        ("FLUSHALL", "async"), ("DBSIZE",), ("SELECT", "0"), ("DBSIZE",), ("FLUSHALL",), ("FLUSHDB",),
        ("DBSIZE", "x"),
    ])


def test_swapdb(d):
    d.run([
        ("SWAPDB", "0"), ("SWAPDB", "a", "1"), ("SWAPDB", "0", "a"), ("SWAPDB", "a", "b"),
        ("SWAPDB", "-1", "0"), ("SWAPDB", "0", "-1"), ("SWAPDB", "16", "0"), ("SWAPDB", "0", "16"),
        ("SWAPDB", "99999999999", "0"), ("SWAPDB", "0", "99999999999"), ("SWAPDB", "1.0", "0"),
        ("SWAPDB", "0", "0"),
    ])
    script = [("SET", "k%d" % i, "db0") for i in range(40)]
    script += [("EXPIRE", "k1", "1000"), ("SELECT", "5")] + [("SET", "k%d" % i, "db5") for i in range(20, 60)]
    script += [("SWAPDB", "0", "5"), ("DBSIZE",), ("GET", "k1"), ("GET", "k50"), ("SELECT", "0"),
               ("DBSIZE",), ("GET", "k1"), ("GET", "k50"), ("TTL", "k1"), ("SWAPDB", "5", "0"),
               ("GET", "k50"), ("DBSIZE",)]
    d.run(script)
    d.unordered("KEYS", "*")


# ---------- EXPIRE family, TTL family, PERSIST ----------

def test_expire_errors(d):
    d("SET", "k", "v")
    for cmd in ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"):
        d.run([
            (cmd, "k"), (cmd, "k", "abc"), (cmd, "k", "1.5"), (cmd, "k", ""), (cmd, "k", "100", "foo"),
            (cmd, "k", "100", "nx", "xx"), (cmd, "k", "100", "NX", "GT"), (cmd, "k", "100", "lt", "nx"),
            (cmd, "k", "100", "gt", "lt"), (cmd, "k", "100", "GT", "LT", "NX"), (cmd, "k", "abc", "nx", "xx"),
            (cmd, "k", "abc", "bar"), (cmd, "k", "9223372036854775807"), (cmd, "k", "-9223372036854775808"),
            (cmd, "k", "9223372036854775808"), (cmd, "k", "9223372036854775"),
            (cmd, "k", "9223372036854776"), (cmd, "k", "-9223372036854776"),
            (cmd, "nokey", "100"), (cmd, "nokey", "abc"),
        ])
    d("TTL", "k")


def test_expire_options(d):
    far = int(time.time()) + 100000
    d.run([
        ("SET", "k", "v"),
        ("EXPIRE", "k", "1000", "XX"), ("TTL", "k"), ("EXPIRE", "k", "1000", "GT"), ("TTL", "k"),
        ("EXPIRE", "k", "1000", "LT"), ("TTL", "k"), ("PERSIST", "k"),
        ("EXPIRE", "k", "1000", "NX"), ("EXPIRE", "k", "2000", "NX"), ("TTL", "k"),
        ("EXPIRE", "k", "2000", "XX"), ("TTL", "k"), ("EXPIRE", "k", "1000", "GT"), ("TTL", "k"),
        ("EXPIRE", "k", "3000", "GT"), ("TTL", "k"), ("EXPIRE", "k", "4000", "LT"), ("TTL", "k"),
        ("EXPIRE", "k", "500", "lt", "xx"), ("TTL", "k"), ("EXPIRE", "k", "600", "GT", "XX"), ("TTL", "k"),
        ("EXPIREAT", "k", str(far)), ("EXPIRETIME", "k"), ("PEXPIRETIME", "k"),
        ("PEXPIREAT", "k", str(far * 1000 + 1234)), ("EXPIRETIME", "k"), ("PEXPIRETIME", "k"),
        ("PEXPIREAT", "k", str(far * 1000 + 499)), ("EXPIRETIME", "k"),
        ("PEXPIREAT", "k", str(far * 1000 + 500)), ("EXPIRETIME", "k"),
        # The far end: rounding to seconds must not overflow.
        ("PEXPIREAT", "k", "9223372036854775807"), ("EXPIRETIME", "k"), ("PEXPIRETIME", "k"),
        ("PEXPIREAT", "k", "9223372036854775499"), ("EXPIRETIME", "k"),
        ("EXPIREAT", "k", "9223372036854775"), ("EXPIRETIME", "k"), ("EXPIREAT", "k", "9223372036854776"),
        ("EXPIREAT", "k", str(far - 10), "GT"), ("EXPIREAT", "k", str(far + 10), "LT"), ("EXPIRETIME", "k"),
        ("PERSIST", "k"), ("PERSIST", "k"), ("PERSIST", "nokey"), ("TTL", "k"), ("PTTL", "k"),
        ("EXPIRETIME", "k"), ("PEXPIRETIME", "k"), ("TTL", "nokey"), ("PTTL", "nokey"),
        ("EXPIRETIME", "nokey"), ("PEXPIRETIME", "nokey"),
        ("EXPIRE", "k", "-1", "LT"), ("EXISTS", "k"),
        ("SET", "k", "v"), ("EXPIRE", "k", "-1", "GT"), ("EXISTS", "k"), ("EXPIRE", "k", "-1", "XX"),
        ("EXISTS", "k"), ("EXPIRE", "k", "0"), ("EXISTS", "k"),
        ("SET", "k", "v"), ("PEXPIRE", "k", "-100"), ("EXISTS", "k"),
        ("SET", "k", "v"), ("EXPIREAT", "k", "1"), ("EXISTS", "k"),
        ("SET", "k", "v"), ("PEXPIREAT", "k", "0"), ("EXISTS", "k"),
        ("SET", "k", "v"), ("EXPIRE", "k", "100", "nx", "NX"), ("TTL", "k"),
        ("TTL",), ("TTL", "a", "b"), ("PERSIST",), ("EXPIRETIME",),
    ])


def test_ttl_rounding(d):
    d("SET", "k", "v")
    d("PEXPIRE", "k", "100499")
    d("TTL", "k")
    d("PEXPIRE", "k", "100501")
    d.near(1, "TTL", "k")
    d.near(50, "PTTL", "k")


def test_lazy_expiry(r):
    r.set("k", "v")
    assert r.pexpire("k", 100)
    assert 0 < r.pttl("k") <= 100
    time.sleep(0.15)
    assert r.get("k") is None
    assert r.exists("k") == 0
    assert r.ttl("k") == -2


def test_active_expiry(r):
    p = r.pipeline(transaction=False)
    for i in range(200):
        p.set("a%d" % i, "v")
        p.pexpire("a%d" % i, 100)
    p.set("keep", "v")
    p.execute()
    assert r.dbsize() == 201
    deadline = time.time() + 2.0
    while r.dbsize() > 1 and time.time() < deadline:
        time.sleep(0.05)
    assert r.dbsize() == 1
    assert r.get("keep") == b"v"


def test_active_expiry_50k(r):
    fill(r, ("big:%d" % i for i in range(50000)), pexpire=200)
    deadline = time.time() + 8.0
    size = r.dbsize()
    while size > 0 and time.time() < deadline:
        time.sleep(0.1)
        size = r.dbsize()
    assert size == 0, "%d keys left" % size


# ---------- SCAN ----------

def test_scan_errors(d):
    d.run([
        ("SCAN",), ("SCAN", "abc"), ("SCAN", "1.0"), ("SCAN", " 1"), ("SCAN", "18446744073709551616"),
        ("SCAN", "-18446744073709551616"), ("SCAN", "0", "COUNT", "0"), ("SCAN", "0", "COUNT", "-1"),
        ("SCAN", "0", "COUNT", "abc"), ("SCAN", "0", "COUNT"), ("SCAN", "0", "MATCH"), ("SCAN", "0", "TYPE"),
        ("SCAN", "0", "foo", "bar"), ("SCAN", "0", "novalues"), ("SCAN", "abc", "COUNT", "0"),
        ("SCAN", "0", "COUNT", "0", "MATCH"),
    ])


def scan_raw(w, cursor, *opts):
    """Iterates SCAN from `cursor` to the end over a raw connection (Wire)."""
    keys, calls = [], 0
    while True:
        reply = w.val("SCAN", cursor, *opts)
        cursor = reply[0].decode()
        keys += reply[1]
        calls += 1
        if cursor == "0":
            return keys, calls


def test_scan_empty(server, r):
    # Redis answers cursor 0 at once; Tessera may first hand over from shard
    # to shard (cursor "1", ...), with no keys, before it answers 0.
    w = Wire(server)
    for cur in ("0", "", "-1", "+0", "000", "18446744073709551615"):
        for opts in ((), ("TYPE", "foo"), ("MATCH", "*", "COUNT", "10", "TYPE", "string")):
            keys, calls = scan_raw(w, cur, *opts)
            assert keys == [] and calls <= NSHARDS
    w.close()


def scan_all(client, **kw):
    cursor, seen, calls = 0, [], 0
    while True:
        cursor, keys = client.scan(cursor, **kw)
        seen += [k.decode() for k in keys]
        calls += 1
        assert calls < 100000
        if cursor == 0:
            return seen, calls


@pytest.mark.parametrize("n", [0, 1, 7, 100, 1000, 5000])
def test_scan_full_iteration(r, n):
    ks = {"s%d" % i for i in range(n)}
    fill(r, ks)
    for count in (None, 1, 10, 1000):
        kw = {} if count is None else {"count": count}
        seen, calls = scan_all(r, **kw)
        assert set(seen) == ks
        # Each table is walked once: a key may repeat only across a resize.
        assert len(seen) == len(ks)
        if count == 1000 and n:
            assert calls <= NSHARDS * (n // 1000 + 2)


def test_scan_match_and_type(r):
    for i in range(300):
        r.set("m:%d" % i, i)
        r.set("o:%d" % i, i)
    seen, _ = scan_all(r, match="m:*", count=50)
    assert set(seen) == {"m:%d" % i for i in range(300)}
    seen, _ = scan_all(r, match="m:1?", count=50)
    assert set(seen) == {"m:%d" % i for i in range(10, 20)}
    seen, _ = scan_all(r, _type="string")
    assert len(set(seen)) == 600
    seen, _ = scan_all(r, _type="STRING")
    assert len(set(seen)) == 600
    seen, _ = scan_all(r, _type="list")
    assert seen == []


def test_empty_match_pattern_selects_only_the_empty_name(server, reference):
    """MATCH '' (and KEYS '') selects only a key, member or field named by
    the empty string, in SCAN and in every other SCAN variant, as Redis."""
    for srv in (server, reference):
        c = srv.client()
        c.flushall()
        for i in range(40):
            c.set("k%d" % i, i)
        c.sadd("s", "a", "b", "")
        c.hset("h", mapping={"a": 1, "": 2})
        c.zadd("z", {"a": 1, "": 2})
        c.close()
    results = []
    for srv in (server, reference):
        c = srv.client()
        before = sorted(scan_all(c, match="")[0])
        c.set("", "empty")
        after = sorted(scan_all(c, match="")[0])
        results.append((before, after, sorted(c.keys("")), c.sscan("s", 0, match=""),
                        c.hscan("h", 0, match=""), c.zscan("z", 0, match="")))
        c.close()
    assert results[0] == results[1]
    assert results[0][0] == [] and results[0][1] == [""]


def test_scan_skips_and_deletes_expired(r):
    for i in range(50):
        r.set("x%d" % i, "v")
    for i in range(25):
        r.pexpire("x%d" % i, 1)
    time.sleep(0.02)
    seen, _ = scan_all(r, count=1000)
    assert set(seen) == {"x%d" % i for i in range(25, 50)}


def test_scan_cursor_names_shard(r):
    """Cursor layout: (table cursor << 8) | shard; a finished shard hands
    over with cursor shard + 1."""
    for i in range(2000):
        r.set("c%d" % i, "v")
    cursor, shards = 0, []
    while True:
        cursor, _ = r.scan(cursor, count=100)
        if cursor == 0:
            break
        shards.append(cursor % 256)
    assert shards == sorted(shards)
    assert set(shards) <= set(range(NSHARDS))


def test_scan_guarantee_while_changing(r):
    """Keys present for the whole iteration are all returned while other
    keys are added and removed (tables grow, shrink and rehash)."""
    rnd = random.Random(7)
    stable = {"stable:%d" % i for i in range(3000)}
    fill(r, stable)
    fill(r, ("tmp:%d" % i for i in range(2000)))
    live_tmp = set("tmp:%d" % i for i in range(2000))
    next_tmp = 2000
    cursor, seen, rounds = 0, set(), 0
    while True:
        cursor, keys = r.scan(cursor, count=rnd.choice([1, 5, 20, 100]))
        seen.update(k.decode() for k in keys)
        rounds += 1
        p = r.pipeline(transaction=False)
        phase = (rounds // 30) % 3
        if phase == 0:        # grow
            for _ in range(200):
                k = "tmp:%d" % next_tmp
                next_tmp += 1
                live_tmp.add(k)
                p.set(k, "v")
        elif phase == 1:      # shrink
            for _ in range(min(300, len(live_tmp))):
                p.delete(live_tmp.pop())
        else:                 # churn
            for _ in range(50):
                if live_tmp:
                    p.delete(live_tmp.pop())
                k = "tmp:%d" % next_tmp
                next_tmp += 1
                live_tmp.add(k)
                p.set(k, "v")
        p.execute()
        if cursor == 0:
            break
        assert rounds < 200000
    missing = stable - seen
    assert not missing, "%d stable keys never returned" % len(missing)


# ---------- multi-db behaviour of the txn commands ----------

@multishard
def test_commands_respect_selected_db(d):
    lo, hi = two_shard_keys("db")
    d.run([
        ("SELECT", "4"), ("SET", lo, "1"), ("SET", hi, "2"), ("DBSIZE",), ("EXISTS", lo, hi),
        ("RENAME", lo, hi), ("COPY", hi, lo), ("SELECT", "0"), ("DBSIZE",), ("EXISTS", lo, hi),
        ("SELECT", "4"), ("DEL", lo, hi), ("DBSIZE",), ("SELECT", "0"),
    ])


# ---------- randomized differential stream ----------

STREAM_KEYS = ["a", "b", "c", "d", "e", "{t}a", "{t}b", "{t}c", "k:1", "k:2", "k:3", "zz"]
FAR = 4000000000  # an absolute time (s) far in the future, identical for both servers


def stream_command(rnd):
    k = lambda: rnd.choice(STREAM_KEYS)  # noqa: E731
    choice = rnd.randrange(30)
    if choice < 6:
        v = rnd.choice(["1", "42", "-7", "10000", "hello", "x" * rnd.randrange(1, 60), "007", "3.5"])
        return ("SET", k(), v)
    if choice == 6:
        return ("DEL",) + tuple(k() for _ in range(rnd.randrange(1, 4)))
    if choice == 7:
        return ("UNLINK", k(), k())
    if choice == 8:
        return ("EXISTS",) + tuple(k() for _ in range(rnd.randrange(1, 5)))
    if choice == 9:
        return ("TOUCH", k(), k())
    if choice == 10:
        return ("TYPE", k())
    if choice == 11:
        return (rnd.choice(["RENAME", "RENAMENX"]), k(), k())
    if choice == 12:
        extra = rnd.choice([(), ("REPLACE",), ("DB", "1"), ("DB", "0"), ("DB", "1", "REPLACE"), ("DB", "x")])
        return ("COPY", k(), k()) + extra
    if choice == 13:
        return ("MOVE", k(), rnd.choice(["0", "1", "2"]))
    if choice in (14, 15):
        # Relative times are never compared with GT/LT: two calls in the same
        # millisecond would make the outcome depend on the clock.
        cmd, val = rnd.choice([("EXPIRE", -1), ("EXPIRE", 0), ("EXPIRE", 100), ("EXPIRE", 5000),
                               ("PEXPIRE", -5), ("PEXPIRE", 200000), ("PEXPIRE", 9000000)])
        opts = rnd.choice([(), (), ("NX",), ("XX",), ("NX", "XX"), ("GT", "LT"), ("NX", "GT"), ("foo",)])
        return (cmd, k(), str(val)) + opts
    if choice == 16:
        cmd = rnd.choice(["EXPIREAT", "PEXPIREAT"])
        t = rnd.choice([1, FAR, FAR + 100, FAR - 100])
        return (cmd, k(), str(t * 1000 if cmd == "PEXPIREAT" else t)) + rnd.choice([(), ("GT",), ("LT",)])
    if choice in (17, 18):
        return (rnd.choice(["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"]), k())
    if choice == 19:
        return ("PERSIST", k())
    if choice == 20:
        return ("GET", k())
    if choice == 21:
        return ("DBSIZE",)
    if choice == 22:
        return ("KEYS", rnd.choice(["*", "k:*", "{t}*", "?", "[a-c]"]))
    if choice == 23:
        return ("OBJECT", "ENCODING", k())
    if choice == 24:
        return ("SELECT", rnd.choice(["0", "0", "1"]))
    if choice == 25:
        return ("SWAPDB", "0", "1")
    if choice == 26:
        return ("FLUSHDB",) if rnd.random() < 0.1 else ("DBSIZE",)
    if choice == 27:
        return ("APPEND", k(), "zz")
    if choice == 28:
        return ("INCR", k())
    return ("STRLEN", k())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_stream_matches_redis(d, seed):
    rnd = random.Random(seed)
    for _ in range(1500):
        cmd = stream_command(rnd)
        name = cmd[0]
        if name == "KEYS":
            d.unordered(*cmd)
        elif name in ("TTL", "EXPIRETIME"):
            d.near(1, *cmd)
        elif name in ("PTTL", "PEXPIRETIME"):
            d.near(1000, *cmd)
        else:
            d(*cmd)
    d("SELECT", "0")
    d.unordered("KEYS", "*")
