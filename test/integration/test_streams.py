"""STREAM commands: Tessera's raw reply bytes must equal Redis 7.0's (fixture
`d`), in RESP2 and RESP3, for valid calls and error cases. Replies that hold
generated ids or times are compared by structure. Blocking XREAD/XREADGROUP:
woken by XADD from another connection on the same and on another shard,
timeouts, disconnects, deleted keys and groups.
"""
import contextlib
import socket
import threading
import time

import pytest

from tessera_testlib import NSHARDS, Wire, encode, keys_on, parse

S0, S1 = keys_on(0, "s", 2)
T0 = keys_on(NSHARDS - 1, "t", 1)[0]


@contextlib.contextmanager
def both_config(d, name, value, restore):
    """CONFIG SET name value on both servers (each answers OK) for the with
    block, then name back to restore."""
    for srv in (d.a, d.b):
        assert parse(srv.cmd("CONFIG", "SET", name, value)) == "OK"
    try:
        yield
    finally:
        for srv in (d.a, d.b):
            srv.cmd("CONFIG", "SET", name, restore)


def fill(d, key, n, start=1, fields=("f", "v")):
    for i in range(start, start + n):
        d("XADD", key, "%d-0" % i, fields[0], "%s%d" % (fields[1], i))


# ---------- XADD / XLEN / XRANGE / XREVRANGE ----------

def test_xadd_explicit_and_errors(d):
    d.run([
        ("XADD", "s", "1-0", "a", "1"),
        ("XADD", "s", "1-0", "a", "1"),
        ("XADD", "s", "0-0", "a", "1"),
        ("XADD", "new", "0-0", "a", "1"),
        ("EXISTS", "new"),
        ("XADD", "s", "1-*", "b", "2"),
        ("XADD", "s", "1", "b", "2"),
        ("XADD", "s", "2", "b", "2", "c", "3"),
        ("XADD", "s", "0-*", "a", "1"),
        ("XADD", "e", "0-*", "a", "1"),
        ("XADD", "s", "abc", "a", "b"),
        ("XADD", "s", "-", "a", "b"),
        ("XADD", "s", "+", "a", "b"),
        ("XADD", "s", "3-x", "a", "b"),
        ("XADD", "s", "3-0", "a"),
        ("XADD", "s", "3-0", "a", "b", "c"),
        ("XADD", "s", "maxlen", "-1", "*", "a", "b"),
        ("XADD", "s", "maxlen", "=", "1", "limit", "10", "*", "a", "b"),
        ("XADD", "s", "limit", "10", "*", "a", "b"),
        ("XADD", "s", "maxlen", "~", "1", "limit", "-1", "*", "a", "b"),
        ("XADD", "s", "maxlen", "1", "minid", "1", "*", "a", "b"),
        ("XADD", "s", "minid", "abc", "*", "a", "b"),
        ("XADD", "s", "maxlen", "abc", "*", "a", "b"),
        ("XADD", "s", "foo", "*", "a", "b"),
        ("XADD", "s", "maxlen"),
        ("XADD", "s2", "nomkstream", "*", "a", "b"),
        ("EXISTS", "s2"),
        ("XADD", "s", "nomkstream", "5-1", "x", "y"),
        ("XADD", "s", "18446744073709551615-18446744073709551615", "a", "b"),
        ("XADD", "s", "*", "a", "b"),
        ("XADD", "s", "18446744073709551615-*", "a", "b"),
        ("XLEN", "s"), ("XLEN", "nokey"),
        ("XRANGE", "s", "-", "+"),
        ("SET", "str", "x"),
        ("XADD", "str", "1-0", "a", "b"), ("XLEN", "str"), ("XRANGE", "str", "-", "+"),
        ("TYPE", "s"), ("OBJECT", "ENCODING", "s"),
    ])


def test_xadd_id_parsing_quirks(d):
    d.run([
        ("XADD", "s", "007-3", "a", "1"),
        ("XADD", "s", "+8-0", "a", "1"),
        ("XADD", "s", " 9-0", "a", "1"),
        ("XADD", "s", "10-+1", "a", "1"),
        ("XADD", "s", "11--1", "a", "1"),
        ("XADD", "s", "18446744073709551616-0", "a", "1"),
        ("XADD", "s", "12-18446744073709551615", "a", "1"),
        ("XADD", "s", "13-*", "a", "1"),
        ("XADD", "s", "13-*", "a", "1"),
        ("XADD", "s", "x" * 130, "a", "1"),
        ("XRANGE", "s", "-", "+"),
    ])


def test_xadd_auto_id_shape(d):
    a = parse(d.a.cmd("XADD", "s", "*", "a", "1"))
    b = parse(d.a.cmd("XADD", "s", "*", "a", "2"))
    ms_a, seq_a = map(int, a.split(b"-"))
    ms_b, seq_b = map(int, b.split(b"-"))
    assert abs(ms_a - time.time() * 1000) < 5000
    assert (ms_b, seq_b) > (ms_a, seq_a)
    c = parse(d.a.cmd("XADD", "s", "%d-*" % (ms_b + 10), "a", "3"))
    assert c == b"%d-0" % (ms_b + 10)


def test_xrange_xrevrange(d):
    fill(d, "s", 20)
    d("XADD", "s", "20-1", "other", "x", "and", "y")
    d("XADD", "s", "21-0", "f", "12345")
    d("XADD", "s", "22-0", "f", "-7", "g", "")
    d.run([
        ("XRANGE", "s", "-", "+"),
        ("XREVRANGE", "s", "+", "-"),
        ("XRANGE", "s", "5", "8"),
        ("XRANGE", "s", "5-0", "(8-0"),
        ("XRANGE", "s", "(5-0", "8"),
        ("XRANGE", "s", "(5", "+", "COUNT", "3"),
        ("XREVRANGE", "s", "(15", "-", "COUNT", "3"),
        ("XREVRANGE", "s", "15", "(10", "count", "100"),
        ("XRANGE", "s", "8", "5"),
        ("XRANGE", "s", "-", "+", "COUNT", "0"),
        ("XRANGE", "s", "-", "+", "COUNT", "-1"),
        ("XRANGE", "nokey", "-", "+", "COUNT", "0"),
        ("XRANGE", "s", "-", "+", "COUNT"),
        ("XRANGE", "s", "-", "+", "COUNT", "x"),
        ("XRANGE", "s", "-", "+", "FOO", "1"),
        ("XRANGE", "s", "(-", "+"),
        ("XRANGE", "s", "-", "(+"),
        ("XRANGE", "s", "abc", "+"),
        ("XRANGE", "s", "(18446744073709551615-18446744073709551615", "+"),
        ("XRANGE", "s", "-", "(0-0"),
        ("XRANGE", "s", "20-1", "20-1"),
        ("XRANGE", "s", "20", "20"),
        ("XRANGE", "s", "0", "0"),
        ("XRANGE", "nokey", "-", "+"),
        ("XREVRANGE", "nokey", "+", "-"),
    ])


def test_resp3(d):
    d.both("HELLO", "3")
    fill(d, "s", 3)
    d("XGROUP", "CREATE", "s", "g", "0")
    d.run([
        ("XRANGE", "s", "-", "+"),
        ("XREAD", "STREAMS", "s", "0"),
        ("XREAD", "STREAMS", "s", "nokey", "0", "0"),
        ("XREAD", "STREAMS", "nokey", "0"),
        ("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0"),
        ("XPENDING", "s", "g"),
        ("XPENDING", "s", "nog"),
        ("XINFO", "GROUPS", "s"),
        ("XRANGE", "s", "-", "+", "COUNT", "0"),
        ("XADD", "s2", "NOMKSTREAM", "*", "a", "b"),
    ])
    d("XGROUP", "CREATE", "s", "g2", "$")
    d("XPENDING", "s", "g2")
    d("XINFO", "GROUPS", "s")
    d("XAUTOCLAIM", "s", "g", "c2", "0", "0", "JUSTID")
    d("XCLAIM", "s", "g", "c3", "0", "1-0", "JUSTID")
    d("XINFO", "HELP")
    for args in (("XINFO", "STREAM", "s"), ("XINFO", "STREAM", "s", "FULL")):
        a, b = (d.a.cmd(*args), d.b.cmd(*args))
        assert a[:3] == b[:3] == (b"%10" if len(args) == 3 else b"%9\r")
        pa, pb = strip_times(strip_rax_nodes(parse(a))), strip_times(strip_rax_nodes(parse(b)))
        if len(args) == 3:
            assert pa == pb


# ---------- XDEL / XTRIM ----------

def test_xdel(d):
    fill(d, "s", 10)
    d.run([
        ("XDEL", "s", "3-0", "5", "99-0", "3-0"),
        ("XDEL", "s", "abc"),
        ("XDEL", "s", "4-0", "abc"),
        ("XLEN", "s"),
        ("XRANGE", "s", "-", "+"),
        ("XREVRANGE", "s", "+", "-", "COUNT", "4"),
        ("XDEL", "nokey", "1-0"),
        ("XDEL", "nokey", "x"),
        ("XDEL", "s", "1", "2", "4", "6", "7", "8", "9", "10"),
        ("XLEN", "s"), ("EXISTS", "s"), ("XRANGE", "s", "-", "+"),
        ("XADD", "s", "5-0", "a", "b"),
        ("XADD", "s", "11-0", "a", "b"),
        ("XRANGE", "s", "-", "+"),
    ])


def test_xtrim(d):
    fill(d, "s", 250)
    d.run([
        ("XTRIM", "s"), ("XTRIM", "s", "maxlen"), ("XTRIM", "s", "foo", "1"),
        ("XTRIM", "s", "maxlen", "1", "limit", "10"),
        ("XTRIM", "s", "limit", "10"),
        ("XTRIM", "s", "maxlen", "1", "minid", "0"),
        ("XTRIM", "s", "maxlen", "~"),
        ("XTRIM", "s", "maxlen", "99999999999999999999"),
        ("XTRIM", "s", "maxlen", "-1"),
        ("XTRIM", "s", "maxlen", "~", "240"),
        ("XLEN", "s"),
        ("XTRIM", "s", "maxlen", "~", "120", "limit", "50"),
        ("XLEN", "s"),
        ("XTRIM", "s", "maxlen", "~", "120"),
        ("XLEN", "s"),
        ("XTRIM", "s", "maxlen", "=", "110"),
        ("XLEN", "s"),
        ("XRANGE", "s", "-", "+", "COUNT", "2"),
        ("XTRIM", "s", "minid", "~", "180"),
        ("XTRIM", "s", "minid", "185"),
        ("XRANGE", "s", "-", "+", "COUNT", "2"),
        ("XTRIM", "s", "minid", "=", "abc"),
        ("XTRIM", "nokey", "maxlen", "0"),
        ("XTRIM", "s", "maxlen", "0"),
        ("XLEN", "s"), ("EXISTS", "s"),
        ("XINFO", "STREAM", "s"),
    ])


def test_xadd_with_trim(d):
    for i in range(1, 301):
        d("XADD", "s", "MAXLEN", "~", "150", "%d-0" % i, "f", str(i))
    d("XLEN", "s")
    for i in range(301, 320):
        d("XADD", "s", "MAXLEN", "5", "%d-0" % i, "f", str(i))
    d("XRANGE", "s", "-", "+")
    d("XADD", "s", "MINID", "318", "320-0", "f", "x")
    d("XRANGE", "s", "-", "+")
    d("XADD", "m", "MAXLEN", "0", "1-0", "f", "x")
    d("XLEN", "m")
    d("EXISTS", "m")
    d("XINFO", "STREAM", "m")


def test_node_limits_config(d):
    # Few entries per node: trimming with ~ removes whole nodes.
    with both_config(d, "stream-node-max-entries", "5", restore="100"):
        d("CONFIG", "GET", "stream-node-max-entries")
        fill(d, "s", 23)
        d("XTRIM", "s", "MAXLEN", "~", "11")
        d("XLEN", "s")
        d("XRANGE", "s", "-", "+")
        d("XDEL", "s", "16-0", "17-0")
        d("XTRIM", "s", "MAXLEN", "~", "3")
        d("XRANGE", "s", "-", "+")
        d("XREVRANGE", "s", "+", "-")
    d("CONFIG", "GET", "stream-node-max-bytes")
    with both_config(d, "stream-node-max-bytes", "80", restore="4096"):
        for i in range(1, 40):
            d("XADD", "b", "%d-0" % i, "field", "v" * (i % 7), *(["x", "y"] if i % 3 == 0 else []))
        d("XTRIM", "b", "MAXLEN", "~", "20")
        d("XLEN", "b")
        d("XTRIM", "b", "MINID", "~", "30")
        d("XRANGE", "b", "-", "+")
        d("CONFIG", "SET", "stream-node-max-bytes", "1kb")
        d("CONFIG", "GET", "stream-node-max-bytes")
        d("CONFIG", "SET", "stream-node-max-bytes", "-1")
        d("CONFIG", "SET", "stream-node-max-entries", "x")


def test_xsetid(d):
    fill(d, "s", 5)
    d("XDEL", "s", "5-0")
    d.run([
        ("XSETID", "nokey", "1-0"),
        ("XSETID", "s", "abc"),
        ("XSETID", "s", "3-0"),
        ("XSETID", "s", "4-0"),
        ("XSETID", "s", "4-0", "ENTRIESADDED", "-1"),
        ("XSETID", "s", "4-0", "ENTRIESADDED", "x"),
        ("XSETID", "s", "4-0", "ENTRIESADDED", "3"),
        ("XSETID", "s", "4-0", "MAXDELETEDID", "5-0"),
        ("XSETID", "s", "9-0", "MAXDELETEDID", "x"),
        ("XSETID", "s", "9-0", "FOO", "1"),
        ("XSETID", "s", "9-0", "ENTRIESADDED"),
        ("XSETID", "s", "9-0", "ENTRIESADDED", "20", "MAXDELETEDID", "8-0"),
        ("XSETID", "s", "7-0"),
        ("XINFO", "STREAM", "s"),
        ("XADD", "s", "8-0", "a", "b"),
        ("XADD", "s", "*", "a", "b")[:0] or ("XLEN", "s"),
        ("SET", "str", "x"), ("XSETID", "str", "1-0"),
        ("XADD", "e", "5-0", "a", "b"), ("XDEL", "e", "5-0"), ("XSETID", "e", "3-0"),
        ("XSETID", "e", "1-0", "MAXDELETEDID", "2-0"), ("XSETID", "e", "4-0", "MAXDELETEDID", "2-0"),
        ("XINFO", "STREAM", "e"), ("XADD", "e", "3-5", "a", "b"),
    ])


# ---------- XREAD ----------

def test_xread(d):
    fill(d, "s", 5)
    fill(d, "t", 3, start=10)
    d.run([
        ("XREAD", "STREAMS", "s", "0"),
        ("XREAD", "COUNT", "2", "STREAMS", "s", "t", "2", "0"),
        ("XREAD", "STREAMS", "s", "t", "5", "12"),
        ("XREAD", "STREAMS", "s", "$"),
        ("XREAD", "STREAMS", "nokey", "0"),
        ("XREAD", "STREAMS", "s"),
        ("XREAD", "COUNT", "1", "STREAMS", "s", "s2", "0"),
        ("XREAD", "STREAMS", "s", ">"),
        ("XREAD", "BLOCK", "-1", "STREAMS", "s", "0"),
        ("XREAD", "BLOCK", "abc", "STREAMS", "s", "0"),
        ("XREAD", "COUNT", "-1", "STREAMS", "s", "3"),
        ("XREAD", "COUNT", "abc", "STREAMS", "s", "0"),
        ("XREAD", "FOO", "STREAMS", "s", "0"),
        ("XREAD", "STREAMS", "s", "+"),
        ("XREAD", "STREAMS", "s", "-"),
        ("XREAD", "GROUP", "g", "c", "STREAMS", "s", "0"),
        ("XREAD", "NOACK", "STREAMS", "s", "0"),
        ("XREAD", "COUNT", "1", "s", "0"),
        ("XREAD", "BLOCK", "10", "STREAMS", "s", "5"),
        ("XREAD", "BLOCK", "0", "STREAMS", "s", "4"),
        ("SET", "str", "x"),
        ("XREAD", "STREAMS", "s", "str", "0", "0"),
        ("XREAD", "STREAMS", "str", "s", "0", "abc"),
        ("XREAD", "STREAMS", "s", "str", "abc", "0"),
    ])


def test_xread_cross_shard(d):
    fill(d, S0, 3)
    fill(d, T0, 3, start=5)
    d("XREAD", "STREAMS", S0, T0, "0", "0")
    d("XREAD", "COUNT", "1", "STREAMS", T0, S0, "5", "0")
    d("XREAD", "STREAMS", S0, T0, "$", "$")
    d("XGROUP", "CREATE", S0, "g", "0")
    d("XGROUP", "CREATE", T0, "g", "0")
    d("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", S0, T0, ">", ">")
    d("XREADGROUP", "GROUP", "g", "c", "STREAMS", T0, S0, ">", "0")
    d("XREADGROUP", "GROUP", "g", "c", "STREAMS", S0, T0, ">", ">")
    d("XPENDING", S0, "g")
    d("XPENDING", T0, "g")
    d("XREADGROUP", "GROUP", "nog", "c", "STREAMS", S0, T0, ">", ">")


# ---------- consumer groups ----------

def test_xgroup(d):
    fill(d, "s", 3)
    d.run([
        ("XGROUP", "CREATE", "s", "g", "0"),
        ("XGROUP", "CREATE", "s", "g", "0"),
        ("XGROUP", "CREATE", "nokey", "g", "0"),
        ("XGROUP", "CREATE", "nokey", "g", "$", "MKSTREAM"),
        ("XLEN", "nokey"), ("TYPE", "nokey"),
        ("XGROUP", "CREATE", "s", "g2", "0", "entriesread", "-2"),
        ("XGROUP", "CREATE", "s", "g2", "0", "entriesread", "x"),
        ("XGROUP", "CREATE", "s", "g2", "0", "foo"),
        ("XGROUP", "CREATE", "s", "g2", "abc"),
        ("XGROUP", "CREATE", "s", "g2", "-"),
        ("XGROUP", "CREATE", "s", "g2", "$", "ENTRIESREAD", "3"),
        ("XGROUP", "CREATE", "s", "g3", "1-0", "MKSTREAM", "ENTRIESREAD", "-1"),
        ("XGROUP", "CREATE", "s", "a", "2"),
        ("XINFO", "GROUPS", "s"),
        ("XGROUP", "SETID", "s", "nog", "0"),
        ("XGROUP", "SETID", "s", "g", "0", "entriesread", "-5"),
        ("XGROUP", "SETID", "s", "g", "0", "foo", "1"),
        ("XGROUP", "SETID", "s", "g", "0", "entriesread"),
        ("XGROUP", "SETID", "s", "g", "2", "entriesread", "2"),
        ("XGROUP", "SETID", "s", "g3", "$"),
        ("XGROUP", "SETID", "s", "g2", "-"),
        ("XINFO", "GROUPS", "s"),
        ("XGROUP", "DESTROY", "nokey2", "g"),
        ("XGROUP", "DESTROY", "s", "nog"),
        ("XGROUP", "DESTROY", "s", "a"),
        ("XGROUP", "CREATECONSUMER", "nokey2", "g", "c"),
        ("XGROUP", "CREATECONSUMER", "s", "nog", "c"),
        ("XGROUP", "CREATECONSUMER", "s", "g", "c"),
        ("XGROUP", "CREATECONSUMER", "s", "g", "c"),
        ("XGROUP", "CREATECONSUMER", "s", "g", "b"),
        ("XGROUP", "DELCONSUMER", "s", "g", "nobody"),
        ("XGROUP", "DELCONSUMER", "s", "nog", "c"),
        ("XGROUP", "FOO", "s", "g"),
        ("XGROUP", "HELP"),
        ("XGROUP"),
        ("XGROUP", "CREATE", "s"),
        ("XGROUP", "DESTROY", "s", "g", "x"),
        ("SET", "str", "x"),
        ("XGROUP", "CREATE", "str", "g", "0"),
        ("XGROUP", "DESTROY", "str", "g"),
    ])


def test_option_values_named_like_keywords(d):
    fill(d, "s", 2)
    d("XGROUP", "CREATE", "s", "streams", "0")
    d("XGROUP", "CREATE", "s", "count", "0")
    d.run([
        ("XREADGROUP", "GROUP", "streams", "streams", "COUNT", "1", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "count", "block", "STREAMS", "s", ">"),
        ("XREAD", "COUNT", "1", "STREAMS", "s", "0"),
        ("XPENDING", "s", "streams"),
        ("COMMAND", "GETKEYS", "XREADGROUP", "GROUP", "streams", "c", "STREAMS", "k1", "k2", ">", ">"),
        ("COMMAND", "GETKEYS", "XREAD", "BLOCK", "1", "COUNT", "2", "STREAMS", "k1", "0"),
    ])


def test_xreadgroup_and_pending(d):
    fill(d, "s", 6)
    d("XGROUP", "CREATE", "s", "g", "0")
    d.run([
        ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "bob", "COUNT", "1", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"),
        ("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "1-0"),
        ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "s", "0"),
        ("XREADGROUP", "GROUP", "g", "carol", "STREAMS", "s", "0"),
        ("XREADGROUP", "GROUP", "g", "dave", "NOACK", "COUNT", "1", "STREAMS", "s", ">"),
        ("XINFO", "GROUPS", "s"),
        ("XREADGROUP", "GROUP", "nog", "c", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "nokey", ">"),
        ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$"),
        ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "abc"),
        ("XREADGROUP", "STREAMS", "s", "0"),
        ("XREADGROUP", "COUNT", "1", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "STREAMS", "s", ">"),
        ("XPENDING", "s", "g"),
        ("XPENDING", "s", "g", "-", "+", "10", "nobody"),
        ("XPENDING", "s", "g", "-", "(3", "-5"),
        ("XPENDING", "s", "g", "-", "+"),
        ("XPENDING", "s", "g", "-", "+", "x"),
        ("XPENDING", "s", "g", "x", "+", "1"),
        ("XPENDING", "s", "g", "IDLE", "x", "-", "+", "1"),
        ("XPENDING", "s", "g", "IDLE", "10", "-", "+"),
        ("XPENDING", "s", "g", "IDLE", "100000", "-", "+", "10"),
        ("XPENDING", "s", "nog"),
        ("XPENDING", "nokey", "g"),
        ("XPENDING", "s", "g", "-", "+", "10", "alice", "extra", "x", "y"),
        ("XACK", "s", "g", "1-0", "2-0", "99-0"),
        ("XACK", "s", "g", "abc"),
        ("XACK", "s", "nog", "abc"),
        ("XACK", "nokey", "g", "1"),
        ("XPENDING", "s", "g"),
        ("XGROUP", "DELCONSUMER", "s", "g", "bob"),
        ("XPENDING", "s", "g"),
        ("XINFO", "GROUPS", "s"),
        ("SET", "str", "x"),
        ("XACK", "str", "g", "1"),
        ("XPENDING", "str", "g"),
    ])
    for args in (("-", "+", "10"), ("-", "+", "10", "alice"), ("(1", "+", "1"), ("IDLE", "0", "-", "+", "5")):
        a, b = (parse(srv.cmd("XPENDING", "s", "g", *args)) for srv in (d.a, d.b))
        assert [[x[0], x[1], x[3]] for x in a] == [[x[0], x[1], x[3]] for x in b]
        assert all(0 <= x[2] < 2000 for x in a)
    # Pending entries whose stream entry was deleted show as nil.
    d("XREADGROUP", "GROUP", "g", "erin", "STREAMS", "s", ">")
    d("XDEL", "s", "6-0")
    d("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0")
    d("XADD", "s", "7-0", "f", "v7")
    d("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")


def test_pending_extended_shape(d):
    fill(d, "s", 3)
    d("XGROUP", "CREATE", "s", "g", "0")
    d("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    a, b = parse(d.a.cmd("XPENDING", "s", "g", "-", "+", "10")), parse(d.b.cmd("XPENDING", "s", "g", "-", "+", "10"))
    assert [[x[0], x[1], x[3]] for x in a] == [[x[0], x[1], x[3]] for x in b]
    assert all(0 <= x[2] < 1000 for x in a)


def test_xclaim(d):
    fill(d, "s", 6)
    d("XGROUP", "CREATE", "s", "g", "0")
    d("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    d.run([
        ("XCLAIM", "s", "g", "bob", "0", "1-0", "2-0"),
        ("XCLAIM", "s", "g", "bob", "0", "3-0", "JUSTID"),
        ("XCLAIM", "s", "g", "bob", "100000", "4-0"),
        ("XCLAIM", "s", "g", "bob", "0", "4-0", "RETRYCOUNT", "7", "JUSTID"),
        ("XCLAIM", "s", "g", "bob", "0", "99-0", "FORCE"),
        ("XCLAIM", "s", "g", "bob", "0", "99-0"),
        ("XCLAIM", "s", "g", "carol", "0", "5-0", "IDLE", "0", "TIME", "0"),
        ("XCLAIM", "s", "g", "bob", "x", "1-0"),
        ("XCLAIM", "s", "g", "bob", "0", "1-0", "IDLE", "x"),
        ("XCLAIM", "s", "g", "bob", "0", "1-0", "TIME", "x"),
        ("XCLAIM", "s", "g", "bob", "0", "1-0", "RETRYCOUNT", "x"),
        ("XCLAIM", "s", "g", "bob", "0", "1-0", "LASTID", "x"),
        ("XCLAIM", "s", "g", "bob", "0", "1-0", "FOO"),
        ("XCLAIM", "s", "nog", "bob", "0", "1-0"),
        ("XCLAIM", "nokey", "g", "bob", "0", "1-0"),
        ("XCLAIM", "s", "g", "bob", "0", "1-0", "LASTID", "50-0", "JUSTID"),
        ("XINFO", "GROUPS", "s"),
        ("XPENDING", "s", "g"),
    ])
    d("XGROUP", "CREATE", "s", "g2", "0")
    d("XCLAIM", "s", "g2", "zed", "0", "3-0", "4-0", "FORCE", "JUSTID")
    d("XDEL", "s", "3-0")
    d("XCLAIM", "s", "g2", "zed", "0", "3-0", "4-0", "JUSTID")
    d("XPENDING", "s", "g2")
    p = [parse(srv.cmd("XPENDING", "s", "g", "-", "+", "10")) for srv in (d.a, d.b)]
    assert [[x[0], x[1], x[3]] for x in p[0]] == [[x[0], x[1], x[3]] for x in p[1]]


def test_xautoclaim(d):
    fill(d, "s", 8)
    d("XGROUP", "CREATE", "s", "g", "0")
    d("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    d("XDEL", "s", "2-0", "5-0")
    d.run([
        ("XAUTOCLAIM", "s", "g", "bob", "0", "0", "COUNT", "3"),
        ("XAUTOCLAIM", "s", "g", "bob", "0", "(4", "COUNT", "2", "JUSTID"),
        ("XAUTOCLAIM", "s", "g", "bob", "0", "-"),
        ("XAUTOCLAIM", "s", "g", "bob", "100000", "-"),
        ("XAUTOCLAIM", "s", "g", "bob", "x", "-"),
        ("XAUTOCLAIM", "s", "g", "bob", "0", "x"),
        ("XAUTOCLAIM", "s", "g", "bob", "0", "-", "COUNT", "0"),
        ("XAUTOCLAIM", "s", "g", "bob", "0", "-", "COUNT", "x"),
        ("XAUTOCLAIM", "s", "g", "bob", "0", "-", "FOO"),
        ("XAUTOCLAIM", "s", "nog", "bob", "0", "-"),
        ("XAUTOCLAIM", "nokey", "g", "bob", "0", "-"),
        ("XPENDING", "s", "g"),
    ])


# ---------- XINFO ----------

def strip_rax_nodes(v):
    """radix-tree-nodes counts rax internals; Tessera has no rax."""
    i = v.index(b"radix-tree-nodes")
    return v[:i] + v[i + 2:]


def strip_times(v):
    """Drops consumer seen-times and delivery times of XINFO STREAM FULL."""
    if isinstance(v, list):
        out, skip = [], False
        for i, x in enumerate(v):
            if skip:
                skip = False
                continue
            if x == b"seen-time":
                skip = True
                continue
            out.append(strip_times(x))
        return out
    return v


def test_xinfo_stream(d):
    fill(d, "s", 7)
    d("XDEL", "s", "3-0")
    d("XGROUP", "CREATE", "s", "g", "0")
    d("XGROUP", "CREATE", "s", "a", "$")
    d("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "s", ">")
    d.run([
        ("XINFO", "STREAM", "s", "foo"),
        ("XINFO", "STREAM", "s", "full", "count"),
        ("XINFO", "STREAM", "s", "full", "x", "1"),
        ("XINFO", "STREAM", "s", "full", "count", "x"),
        ("XINFO", "STREAM", "nokey"),
        ("XINFO", "GROUPS", "nokey"),
        ("XINFO", "CONSUMERS", "s", "nog"),
        ("XINFO", "CONSUMERS", "nokey", "g"),
        ("XINFO", "FOO"),
        ("XINFO", "HELP"),
        ("XINFO", "GROUPS", "s"),
    ])
    for args in (("XINFO", "STREAM", "s"), ("XINFO", "STREAM", "empty")):
        if args[2] == "empty":
            d("XGROUP", "CREATE", "empty", "g", "$", "MKSTREAM")
        a, b = parse(d.a.cmd(*args)), parse(d.b.cmd(*args))
        assert strip_rax_nodes(a) == strip_rax_nodes(b), (a, b)
    for args in (("XINFO", "STREAM", "s", "FULL"), ("XINFO", "STREAM", "s", "FULL", "COUNT", "1")):
        a, b = parse(d.a.cmd(*args)), parse(d.b.cmd(*args))
        a, b = strip_rax_nodes(a), strip_rax_nodes(b)
        ga, gb = a[a.index(b"groups") + 1], b[b.index(b"groups") + 1]
        a[a.index(b"groups") + 1] = gb = None
        assert a[:-1] == b[:-1]
        # pending: [id, consumer, delivery time, count]
        for g in ga:
            for pe in g[g.index(b"pending") + 1]:
                assert abs(pe[2] - time.time() * 1000) < 10000
    a = parse(d.a.cmd("XINFO", "CONSUMERS", "s", "g"))
    assert a[0][:4] == [b"name", b"c", b"pending", 2] and a[0][4] == b"idle" and 0 <= a[0][5] < 5000
    d("XINFO", "CONSUMERS", "s", "a")


def test_lag_and_entries_read(d):
    fill(d, "s", 5)
    d("XGROUP", "CREATE", "s", "g", "0")
    d("XGROUP", "CREATE", "s", "h", "$")
    d("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "s", ">")
    d("XINFO", "GROUPS", "s")
    d("XDEL", "s", "4-0")
    d("XINFO", "GROUPS", "s")
    d("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    d("XINFO", "GROUPS", "s")
    d("XADD", "s", "9-0", "f", "x")
    d("XINFO", "GROUPS", "s")
    d("XDEL", "s", "1-0")
    d("XINFO", "GROUPS", "s")
    d("XGROUP", "SETID", "s", "h", "2-0")
    d("XINFO", "GROUPS", "s")
    d("XTRIM", "s", "MAXLEN", "0")
    d("XINFO", "GROUPS", "s")


def test_wrongtype_everywhere(d):
    d("SET", "str", "x")
    for args in (("XADD", "str", "*", "a", "b"), ("XLEN", "str"), ("XRANGE", "str", "-", "+"),
                 ("XREVRANGE", "str", "+", "-"), ("XDEL", "str", "1"), ("XTRIM", "str", "MAXLEN", "1"),
                 ("XREAD", "STREAMS", "str", "0"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "str", ">"),
                 ("XGROUP", "CREATE", "str", "g", "$"), ("XACK", "str", "g", "1"),
                 ("XPENDING", "str", "g"), ("XCLAIM", "str", "g", "c", "0", "1"),
                 ("XAUTOCLAIM", "str", "g", "c", "0", "0"), ("XINFO", "STREAM", "str"),
                 ("XINFO", "GROUPS", "str"), ("XINFO", "CONSUMERS", "str", "g"),
                 ("XTRIM", "str", "foo", "1"), ("XTRIM", "nokey", "foo", "1"), ("XDEL", "str", "abc"),
                 ("XACK", "str", "g", "abc"), ("XCLAIM", "str", "g", "c", "x", "1"),
                 ("XAUTOCLAIM", "str", "g", "c", "x", "0"), ("XPENDING", "str", "g", "x", "-", "+", "1"),
                 ("XINFO", "STREAM", "str", "foo"), ("XINFO", "STREAM", "nokey", "foo"),
                 ("XGROUP", "CREATE", "str", "g", "x", "foo"), ("XSETID", "str", "1", "foo", "1"),
                 ("XGROUP", "SETID", "str", "g", "x"), ("XGROUP", "CREATECONSUMER", "str", "g", "c"),
                 ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "str", "x"), ("XREAD", "STREAMS", "str", "x"),
                 ("XADD", "str", "0-0", "a", "b"), ("XADD", "str", "x", "a", "b"),
                 ("XRANGE", "str", "x", "+"), ("XRANGE", "str", "-", "+", "COUNT", "0")):
        d(*args)


def test_copy_rename_keep_stream(d):
    fill(d, S0, 3)
    d("XGROUP", "CREATE", S0, "g", "0")
    d("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", S0, ">")
    d("COPY", S0, "{x}copy")
    d("XRANGE", "{x}copy", "-", "+")
    d("XINFO", "GROUPS", "{x}copy")
    d("XPENDING", "{x}copy", "g")
    d("RENAME", S0, T0)
    d("XRANGE", T0, "-", "+")
    d("XPENDING", T0, "g")
    d("DEL", T0)
    d("EXISTS", T0)


def test_random_against_redis(d):
    import random
    rnd = random.Random(7)
    with both_config(d, "stream-node-max-entries", "7", restore="100"):
        d("XGROUP", "CREATE", "s", "g", "0", "MKSTREAM")
        nxt = 1
        for _ in range(600):
            op = rnd.random()
            if op < 0.45:
                nf = rnd.randint(1, 3)
                fv = []
                for j in range(nf):
                    fv += [rnd.choice(["a", "b", "c", "123", str(j)]), str(rnd.randint(-1000, 10 ** 12))]
                d("XADD", "s", "%d-%d" % (nxt, rnd.randint(0, 2)), *fv)
                nxt += rnd.randint(1, 3)
            elif op < 0.55:
                d("XDEL", "s", *["%d-%d" % (rnd.randint(1, nxt), rnd.randint(0, 2)) for _ in range(3)])
            elif op < 0.6:
                d("XTRIM", "s", "MAXLEN", rnd.choice(["~", "="]), str(rnd.randint(0, 60)))
            elif op < 0.65:
                d("XTRIM", "s", "MINID", rnd.choice(["~", "="]), str(rnd.randint(1, nxt)))
            elif op < 0.75:
                a, b = sorted([rnd.randint(0, nxt), rnd.randint(0, nxt)])
                cmd = rnd.choice([("XRANGE", "s", str(a), str(b)), ("XREVRANGE", "s", str(b), str(a))])
                d(*cmd, "COUNT", str(rnd.randint(1, 20)))
            elif op < 0.85:
                d("XREADGROUP", "GROUP", "g", rnd.choice("xyz"), "COUNT", str(rnd.randint(1, 5)), "STREAMS", "s", ">")
            elif op < 0.92:
                d("XACK", "s", "g", *["%d-%d" % (rnd.randint(1, nxt), rnd.randint(0, 2)) for _ in range(3)])
            else:
                d("XLEN", "s")
                d("XPENDING", "s", "g")
                d("XINFO", "GROUPS", "s")
        d("XRANGE", "s", "-", "+")
        d("XREVRANGE", "s", "+", "-")


# ---------- blocking ----------

def blocked_count(server):
    info = Wire(server).val("INFO", "clients")
    for line in info.decode().split("\r\n"):
        if line.startswith("blocked_clients:"):
            return int(line.split(":")[1])
    return -1


def wait_blocked(server, n, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if blocked_count(server) == n:
            return
        time.sleep(0.01)
    raise AssertionError("blocked_clients never reached %d" % n)


@pytest.mark.parametrize("key", [S0, T0])
def test_block_xread_woken_by_xadd(server, r, key):
    w = Wire(server)
    w.send(encode("XREAD", "BLOCK", "0", "STREAMS", key, "$"))
    wait_blocked(server, 1)
    other = Wire(server)
    assert other.val("XADD", key, "5-0", "f", "v") == b"5-0"
    assert parse(w.reply()) == [[key.encode(), [[b"5-0", [b"f", b"v"]]]]]
    wait_blocked(server, 0)


def test_block_xread_multi_key_cross_shard(server, r):
    w = Wire(server)
    w.send(encode("XREAD", "BLOCK", "0", "STREAMS", S0, T0, "$", "$"))
    wait_blocked(server, 1)
    Wire(server).val("XADD", T0, "7-0", "a", "b")
    assert parse(w.reply()) == [[T0.encode(), [[b"7-0", [b"a", b"b"]]]]]
    # Both keys on other shards from the client's point of view: the $ is
    # the id at the attempt, so an entry added before XADD does not count.
    Wire(server).val("XADD", S0, "1-0", "a", "b")
    w.send(encode("XREAD", "BLOCK", "0", "STREAMS", S0, T0, "$", "$"))
    wait_blocked(server, 1)
    Wire(server).val("XADD", S0, "2-0", "c", "d")
    assert parse(w.reply()) == [[S0.encode(), [[b"2-0", [b"c", b"d"]]]]]


def test_block_xread_explicit_id_waits_for_newer(server, r):
    Wire(server).val("XADD", S0, "1-0", "a", "b")
    w = Wire(server)
    w.send(encode("XREAD", "BLOCK", "0", "STREAMS", S0, "5-0"))
    w2 = Wire(server)
    w2.send(encode("XREAD", "BLOCK", "0", "STREAMS", S0, "2-0"))
    wait_blocked(server, 2)
    Wire(server).val("XADD", S0, "3-0", "c", "d")
    # The first waiter (id 5-0) is skipped, the second one served.
    assert parse(w2.reply()) == [[S0.encode(), [[b"3-0", [b"c", b"d"]]]]]
    wait_blocked(server, 1)
    Wire(server).val("XADD", S0, "6-0", "e", "f")
    assert parse(w.reply()) == [[S0.encode(), [[b"6-0", [b"e", b"f"]]]]]


def test_block_xread_serves_every_waiter(server, r):
    ws = [Wire(server) for _ in range(3)]
    for w in ws:
        w.send(encode("XREAD", "BLOCK", "0", "STREAMS", T0, "$"))
    wait_blocked(server, 3)
    Wire(server).val("XADD", T0, "1-0", "a", "b")
    for w in ws:
        assert parse(w.reply()) == [[T0.encode(), [[b"1-0", [b"a", b"b"]]]]]


def test_block_timeout(server, r):
    w = Wire(server)
    t0 = time.time()
    assert w.cmd("XREAD", "BLOCK", "150", "STREAMS", S0, "$") == b"*-1\r\n"
    el = time.time() - t0
    assert 0.14 <= el < 0.25, el
    Wire(server).val("XGROUP", "CREATE", S0, "g", "$", "MKSTREAM")
    t0 = time.time()
    assert w.cmd("XREADGROUP", "GROUP", "g", "c", "BLOCK", "100", "STREAMS", S0, ">") == b"*-1\r\n"
    assert 0.09 <= time.time() - t0 < 0.2
    w.cmd("HELLO", "3")
    assert w.cmd("XREAD", "BLOCK", "50", "STREAMS", S0, T0, "$", "$") == b"_\r\n"


def test_block_disconnect(server, r):
    w = Wire(server)
    w.send(encode("XREAD", "BLOCK", "0", "STREAMS", S0, T0, "$", "$"))
    w2 = Wire(server)
    w2.send(encode("XREAD", "BLOCK", "0", "STREAMS", S0, "$"))
    wait_blocked(server, 2)
    w.close()
    wait_blocked(server, 1)
    Wire(server).val("XADD", S0, "1-0", "a", "b")
    assert parse(w2.reply()) == [[S0.encode(), [[b"1-0", [b"a", b"b"]]]]]
    assert Wire(server).val("PING") == "PONG"


@pytest.mark.parametrize("key", [S0, T0])
def test_block_xreadgroup(server, r, key):
    c = Wire(server)
    c.val("XGROUP", "CREATE", key, "g", "$", "MKSTREAM")
    w1, w2 = Wire(server), Wire(server)
    w1.send(encode("XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", key, ">"))
    wait_blocked(server, 1)   # first come, first served
    w2.send(encode("XREADGROUP", "GROUP", "g", "c2", "BLOCK", "0", "STREAMS", key, ">"))
    wait_blocked(server, 2)
    c.val("XADD", key, "1-0", "a", "b")
    assert parse(w1.reply()) == [[key.encode(), [[b"1-0", [b"a", b"b"]]]]]
    wait_blocked(server, 1)   # the group moved on: c2 waits for the next one
    c.val("XADD", key, "2-0", "c", "d")
    assert parse(w2.reply()) == [[key.encode(), [[b"2-0", [b"c", b"d"]]]]]
    p = c.val("XPENDING", key, "g")
    assert p[0] == 2 and p[3] == [[b"c1", b"1"], [b"c2", b"1"]]


def test_block_xreadgroup_group_destroyed(server, r):
    c = Wire(server)
    c.val("XGROUP", "CREATE", T0, "g", "$", "MKSTREAM")
    w = Wire(server)
    w.send(encode("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", T0, ">"))
    wait_blocked(server, 1)
    assert c.val("XGROUP", "DESTROY", T0, "g") == 1
    assert w.reply() == b"-NOGROUP the consumer group this client was blocked on no longer exists\r\n"


@pytest.mark.parametrize("how", ["del", "set"])
def test_block_xreadgroup_key_gone(server, r, how):
    c = Wire(server)
    c.val("XGROUP", "CREATE", S0, "g", "$", "MKSTREAM")
    w = Wire(server)
    w.send(encode("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", S0, ">"))
    x = Wire(server)
    x.send(encode("XREAD", "BLOCK", "0", "STREAMS", S0, "$"))
    wait_blocked(server, 2)
    if how == "del":
        assert c.val("DEL", S0) == 1
    else:
        assert c.val("SET", S0, "x") == "OK"
    assert w.reply() == b"-UNBLOCKED the stream key no longer exists\r\n"
    # XREAD keeps waiting, and a new stream under the key serves it.
    wait_blocked(server, 1)
    c.val("DEL", S0)
    c.val("XADD", S0, "3-0", "a", "b")
    assert parse(x.reply()) == [[S0.encode(), [[b"3-0", [b"a", b"b"]]]]]


def test_block_xreadgroup_multi_key_cross_shard(server, r):
    c = Wire(server)
    c.val("XGROUP", "CREATE", S0, "g", "$", "MKSTREAM")
    c.val("XGROUP", "CREATE", T0, "g", "$", "MKSTREAM")
    w = Wire(server)
    w.send(encode("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", S0, T0, ">", ">"))
    wait_blocked(server, 1)
    c.val("XADD", T0, "4-0", "a", "b")
    assert parse(w.reply()) == [[T0.encode(), [[b"4-0", [b"a", b"b"]]]]]
    assert c.val("XPENDING", T0, "g")[0] == 1
    assert c.val("XPENDING", S0, "g")[0] == 0


def pending_no_idle(srv):
    return [[x[0], x[1], x[3]] for x in parse(srv.cmd("XPENDING", "s", "g", "-", "+", "1000"))]


@pytest.mark.parametrize("seed", [1, 2])
def test_random_groups_against_redis(d, seed):
    import random
    rnd = random.Random(seed)
    if seed == 2:
        d.both("HELLO", "3")
    with both_config(d, "stream-node-max-entries", "4", restore="100"):
        d("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        d("XGROUP", "CREATE", "s", "h", "0")
        nxt = 1
        idr = lambda: "%d-0" % rnd.randint(1, nxt)
        for _ in range(500):
            op = rnd.random()
            if op < 0.3:
                d("XADD", "s", "%d-0" % nxt, "f", str(nxt), *(["g", "x"] if rnd.random() < 0.3 else []))
                nxt += 1
            elif op < 0.38:
                d("XDEL", "s", idr(), idr())
            elif op < 0.5:
                grp = rnd.choice("gh")
                d("XREADGROUP", "GROUP", grp, rnd.choice(["a", "b", "c"]), "COUNT", str(rnd.randint(1, 4)),
                  *(["NOACK"] if rnd.random() < 0.1 else []), "STREAMS", "s", ">")
            elif op < 0.55:
                d("XREADGROUP", "GROUP", "g", rnd.choice(["a", "b"]), "COUNT", "3", "STREAMS", "s",
                  rnd.choice(["0", idr()]))
            elif op < 0.62:
                d("XACK", "s", rnd.choice("gh"), idr(), idr())
            elif op < 0.67:
                d("XCLAIM", "s", "g", rnd.choice(["a", "b", "z"]), "0", idr(), idr(), "JUSTID")
            elif op < 0.72:
                d("XAUTOCLAIM", "s", "g", rnd.choice(["a", "b", "z"]), "0", idr(), "COUNT",
                  str(rnd.randint(1, 5)), "JUSTID")
            elif op < 0.75:
                d("XGROUP", "SETID", "s", rnd.choice("gh"), rnd.choice(["0", "$", idr()]),
                  *(["ENTRIESREAD", str(rnd.randint(-1, nxt))] if rnd.random() < 0.5 else []))
            elif op < 0.78:
                d("XTRIM", "s", rnd.choice(["MAXLEN", "MINID"]), rnd.choice(["~", "="]),
                  str(rnd.randint(1, nxt)))
            elif op < 0.8:
                d("XGROUP", "DELCONSUMER", "s", "g", rnd.choice(["a", "b", "z"]))
            else:
                d("XINFO", "GROUPS", "s")
                d("XPENDING", "s", "g")
                d("XPENDING", "s", "h")
                assert pending_no_idle(d.a) == pending_no_idle(d.b)
        a, b = parse(d.a.cmd("XINFO", "STREAM", "s", "FULL")), parse(d.b.cmd("XINFO", "STREAM", "s", "FULL"))
        strip = lambda v: strip_times(strip_rax_nodes(v)) if seed == 1 else v
        if seed == 1:
            ga, gb = a[a.index(b"groups") + 1], b[b.index(b"groups") + 1]
            for g in ga + gb:
                i = g.index(b"pending") + 1
                g[i] = [[p[0], p[1], p[3]] for p in g[i]]
                for cn in g[g.index(b"consumers") + 1]:
                    j = cn.index(b"pending") + 1
                    cn[j] = [[p[0], p[2]] for p in cn[j]]
            assert strip(a) == strip(b)


@pytest.mark.parametrize("how", ["flushall", "flushdb", "swapdb", "expire"])
def test_block_xreadgroup_keyspace_changes(server, r, how):
    c = Wire(server)
    c.val("XGROUP", "CREATE", T0, "g", "$", "MKSTREAM")
    w = Wire(server)
    w.send(encode("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", T0, ">"))
    wait_blocked(server, 1)
    if how == "expire":
        c.val("PEXPIRE", T0, "50")
    elif how == "swapdb":
        c.val("SWAPDB", "0", "1")
    else:
        c.val(how.upper())
    assert w.reply() == b"-UNBLOCKED the stream key no longer exists\r\n"
    if how == "swapdb":
        c.val("SWAPDB", "0", "1")


def test_block_xread_served_by_swapdb(server, r):
    c = Wire(server)
    c.val("SELECT", "1")
    c.val("XADD", S0, "5-0", "a", "b")
    w = Wire(server)
    w.send(encode("XREAD", "BLOCK", "0", "STREAMS", S0, "0"))
    wait_blocked(server, 1)
    c.val("SWAPDB", "0", "1")
    assert parse(w.reply()) == [[S0.encode(), [[b"5-0", [b"a", b"b"]]]]]
    c.val("FLUSHALL")


@pytest.mark.parametrize("how", ["rename", "move"])
def test_block_xreadgroup_key_moved_away(server, r, how):
    c = Wire(server)
    c.val("XGROUP", "CREATE", S0, "g", "$", "MKSTREAM")
    w = Wire(server)
    w.send(encode("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", S0, ">"))
    wait_blocked(server, 1)
    if how == "rename":
        c.val("RENAME", S0, T0)
    else:
        c.val("MOVE", S0, "1")
    assert w.reply() == b"-UNBLOCKED the stream key no longer exists\r\n"


def test_block_xread_served_by_rename_into_key(server, r):
    c = Wire(server)
    c.val("XADD", S1, "5-0", "a", "b")
    w = Wire(server)
    w.send(encode("XREAD", "BLOCK", "0", "STREAMS", T0, "0"))
    wait_blocked(server, 1)
    c.val("RENAME", S1, T0)
    assert parse(w.reply()) == [[T0.encode(), [[b"5-0", [b"a", b"b"]]]]]
