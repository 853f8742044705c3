"""LIST commands: Tessera's raw reply bytes must equal Redis 7.0's, in RESP2
and RESP3, for valid calls and every error case: wrong types, arity, bad
integers, negative and out-of-range indexes, empty, binary and
integer-looking elements, lists spanning many quicklist nodes (small
list-max-listpack-size values), and a seeded random stream over a small key
space. Multi-key commands (LMOVE, RPOPLPUSH, LMPOP) run with keys sharing a
hash tag and with keys on different shards (multi-shard txns).

The reference is a real redis-server (fixture `reference`); the tests that
compare against it are skipped when it is not installed.
"""
import random

import pytest

from tessera_testlib import NSHARDS, key_shard, keys_on

# Keys on the first and the last shard.
A0, A1 = keys_on(0, "la", 2)
B0, B1 = keys_on(NSHARDS - 1, "lb", 2)

FILLS = ["-2", "4", "1", "2", "-1", "-3", "-4", "-5", "128"]


@pytest.fixture
def dl(d):
    """The differ, with list-max-listpack-size and list-compress-depth
    restored afterwards."""
    yield d
    d.both("CONFIG", "SET", "list-max-listpack-size", "-2")
    d.both("CONFIG", "SET", "list-compress-depth", "0")


def both_protocols(d, script):
    for proto in ("2", "3"):
        d.both("HELLO", proto)
        d.both("FLUSHALL")
        d.run(script)
    d.both("HELLO", "2")


def set_fill(d, fill):
    d.both("CONFIG", "SET", "list-max-listpack-size", fill)


# ---------- per command ----------

def test_push_pop_basic(dl):
    both_protocols(dl, [
        ("LPUSH", "l", "a"), ("RPUSH", "l", "b", "c", "d"), ("LPUSH", "l", "x", "y"),
        ("LRANGE", "l", "0", "-1"), ("LLEN", "l"), ("LLEN", "nokey"),
        ("LPOP", "l"), ("RPOP", "l"), ("LPOP", "l", "2"), ("RPOP", "l", "1"),
        ("LPOP", "l", "0"), ("RPOP", "l", "0"), ("LPOP", "nokey"), ("RPOP", "nokey"),
        ("LPOP", "nokey", "0"), ("LPOP", "nokey", "3"), ("RPOP", "nokey", "3"),
        ("LPOP", "l", "-1"), ("LPOP", "l", "x"), ("LPOP", "l", "1.5"), ("RPOP", "nokey", "-1"),
        ("LPOP", "l", "100"), ("EXISTS", "l"), ("RPUSH", "l", "a", "b"),
        ("RPOP", "l", "9223372036854775807"), ("EXISTS", "l"),
        ("RPUSH", "l", "a"), ("RPOP", "l", "9223372036854775808"),
        ("LPUSHX", "nokey", "a"), ("RPUSHX", "nokey", "a", "b"), ("EXISTS", "nokey"),
        ("LPUSHX", "l", "p", "q"), ("RPUSHX", "l", "r"), ("LRANGE", "l", "0", "-1"),
        ("LPOP", "l", "1", "2"), ("LPUSH", "l"), ("RPUSH", "l"), ("LPUSHX", "l"), ("LLEN",),
        ("LLEN", "l", "x"), ("RPOP",),
    ])


def test_elements_kinds(dl):
    big = "z" * 70000
    both_protocols(dl, [
        ("RPUSH", "l", "", "0", "-1", "1", "01", "+1", "-0", " 1", "9223372036854775807",
         "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "12345678901234567890",
         "1.5", "a\x00b", "\r\n", "\xff\xfe", "127", "128", "-4096", "4095", "65535", "16777216", big),
        ("LRANGE", "l", "0", "-1"), ("LINDEX", "l", "0"), ("LINDEX", "l", "-1"),
        ("LPOS", "l", "1"), ("LPOS", "l", "01"), ("LPOS", "l", ""), ("LPOS", "l", "a\x00b"),
        ("LREM", "l", "0", "-0"), ("LREM", "l", "0", "0"), ("LINSERT", "l", "BEFORE", "127", "x"),
        ("LSET", "l", "2", "777"), ("LRANGE", "l", "0", "5"), ("RPOP", "l"), ("LPOP", "l", "30"),
    ])


def test_wrong_type(dl):
    both_protocols(dl, [
        ("SET", "s", "v"),
        ("LPUSH", "s", "a"), ("RPUSH", "s", "a"), ("LPUSHX", "s", "a"), ("RPUSHX", "s", "a"),
        ("LPOP", "s"), ("RPOP", "s", "2"), ("LPOP", "s", "0"), ("LPOP", "s", "-1"), ("LLEN", "s"),
        ("LRANGE", "s", "0", "-1"), ("LRANGE", "s", "x", "1"), ("LINDEX", "s", "0"), ("LINDEX", "s", "x"),
        ("LSET", "s", "0", "v"), ("LSET", "s", "x", "v"), ("LINSERT", "s", "BEFORE", "a", "b"),
        ("LINSERT", "s", "middle", "a", "b"), ("LREM", "s", "0", "a"), ("LREM", "s", "x", "a"),
        ("LTRIM", "s", "0", "1"), ("LTRIM", "s", "0", "x"), ("LPOS", "s", "a"), ("LPOS", "s", "a", "RANK", "0"),
        ("LMOVE", "s", "d", "LEFT", "RIGHT"), ("RPOPLPUSH", "s", "d"), ("LMPOP", "1", "s", "LEFT"),
        ("RPUSH", "l", "a"), ("LMOVE", "l", "s", "LEFT", "RIGHT"), ("RPOPLPUSH", "l", "s"),
        ("LMOVE", "nokey", "s", "LEFT", "RIGHT"), ("RPOPLPUSH", "nokey", "s"), ("LRANGE", "l", "0", "-1"),
        ("LMPOP", "2", "nokey", "s", "LEFT"), ("LMPOP", "2", "l", "s", "LEFT"),
        ("TYPE", "l"), ("GET", "l"), ("APPEND", "l", "x"), ("INCR", "l"),
    ])


def test_lrange_lindex_indexes(dl):
    for fill in ("-2", "4", "1"):
        set_fill(dl, fill)
        script = [("RPUSH", "l") + tuple("e%d" % i for i in range(37))]
        for s, e in [(0, -1), (0, 0), (-1, -1), (5, 3), (-100, 100), (36, 36), (37, 40), (-37, -37),
                     (-38, 2), (10, -10), (-5, -1), (0, 9223372036854775807),
                     (-9223372036854775808, 9223372036854775807), (20, 10)]:
            script.append(("LRANGE", "l", str(s), str(e)))
        for i in (0, 1, 3, 4, 5, 17, 36, 37, -1, -4, -5, -37, -38, 9223372036854775807, -9223372036854775808):
            script.append(("LINDEX", "l", str(i)))
        script += [("LRANGE", "nokey", "0", "-1"), ("LINDEX", "nokey", "0"), ("LINDEX", "nokey", "x"),
                   ("LRANGE", "l", "x", "1"), ("LRANGE", "l", "1", "y"), ("LRANGE", "l", "1.0", "2"),
                   ("LRANGE", "nokey", "x", "1"), ("LINDEX", "l", "1x"), ("LINDEX", "l", ""),
                   ("LRANGE", "l", "0"), ("LINDEX", "l")]
        both_protocols(dl, script)


def test_lset(dl):
    for fill in ("-2", "3", "-1"):
        set_fill(dl, fill)
        both_protocols(dl, [
            ("LSET", "nokey", "0", "x"), ("LSET", "nokey", "x", "x"),
            ("RPUSH", "l", "a", "b", "c", "d", "e", "f", "g"),
            ("LSET", "l", "0", "A"), ("LSET", "l", "-1", "G"), ("LSET", "l", "3", "12345"),
            ("LSET", "l", "7", "x"), ("LSET", "l", "-8", "x"), ("LSET", "l", "x", "x"),
            ("LSET", "l", "4", "y" * 5000), ("LSET", "l", "5", "z" * 9000), ("LSET", "l", "5", "small"),
            ("LRANGE", "l", "0", "-1"), ("LSET", "l", "1"), ("LLEN", "l"),
        ])


def test_linsert(dl):
    for fill in ("-2", "2", "5", "-1"):
        set_fill(dl, fill)
        script = [("LINSERT", "nokey", "BEFORE", "a", "b"), ("LINSERT", "nokey", "where", "a", "b"),
                  ("RPUSH", "l", "a", "b", "c", "a", "5")]
        for i, (w, p) in enumerate([("BEFORE", "a"), ("AFTER", "a"), ("after", "c"), ("before", "5"),
                                    ("AFTER", "5"), ("BEFORE", "zz"), ("middle", "a"), ("AFTER", "b"),
                                    ("BEFORE", "b"), ("AFTER", "x%d" % 3)]):
            script.append(("LINSERT", "l", w, p, "x%d" % i))
            script.append(("LRANGE", "l", "0", "-1"))
        script += [("LINSERT", "l", "BEFORE", "a", "y" * 5000), ("LINSERT", "l", "AFTER", "c", ""),
                   ("LRANGE", "l", "0", "-1"), ("LINSERT", "l", "BEFORE", "a")]
        both_protocols(dl, script)


def test_lrem(dl):
    for fill in ("-2", "3", "1"):
        set_fill(dl, fill)
        base = ("RPUSH", "l") + tuple(["a", "b", "a", "c", "a", "a", "d", "1", "a", "b"] * 5)
        script = []
        for count in ("0", "1", "2", "-1", "-2", "-3", "100", "-100", "9223372036854775807",
                      "-9223372036854775808"):
            script += [("DEL", "l"), base, ("LREM", "l", count, "a"), ("LRANGE", "l", "0", "-1"),
                       ("LREM", "l", count, "1"), ("LREM", "l", count, "zz"), ("LLEN", "l")]
        script += [("LREM", "l", "0", "b"), ("LREM", "l", "0", "c"), ("LREM", "l", "0", "d"), ("EXISTS", "l"),
                   ("LREM", "nokey", "0", "a"), ("LREM", "nokey", "x", "a"), ("LREM", "l", "1.5", "a"),
                   ("LREM", "l", "0")]
        both_protocols(dl, script)


def test_ltrim(dl):
    for fill in ("-2", "4", "1"):
        set_fill(dl, fill)
        script = []
        for s, e in [(0, -1), (1, -2), (5, 3), (-100, 100), (3, 3), (-1, -1), (0, 0), (40, 50), (-3, -5),
                     (2, 100), (-9223372036854775808, 9223372036854775807), (10, 25)]:
            script += [("DEL", "l"), ("RPUSH", "l") + tuple("v%d" % i for i in range(30)),
                       ("LTRIM", "l", str(s), str(e)), ("LRANGE", "l", "0", "-1"), ("EXISTS", "l")]
        script += [("LTRIM", "nokey", "0", "1"), ("LTRIM", "nokey", "x", "1"), ("LTRIM", "l", "0", "y"),
                   ("LTRIM", "l", "0")]
        both_protocols(dl, script)


def test_lpos(dl):
    for fill in ("-2", "3"):
        set_fill(dl, fill)
        script = [("RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c", "a", "1", "c")]
        opts = [(), ("RANK", "1"), ("RANK", "2"), ("RANK", "-1"), ("RANK", "-2"), ("RANK", "-9"),
                ("RANK", "9"), ("COUNT", "0"), ("COUNT", "1"), ("COUNT", "2"), ("COUNT", "100"),
                ("MAXLEN", "0"), ("MAXLEN", "1"), ("MAXLEN", "3"), ("MAXLEN", "8"),
                ("RANK", "2", "COUNT", "0"), ("RANK", "-2", "COUNT", "2"), ("RANK", "-1", "COUNT", "0", "MAXLEN", "4"),
                ("COUNT", "0", "MAXLEN", "7"), ("RANK", "3", "MAXLEN", "8"), ("RANK", "1", "RANK", "2"),
                ("COUNT", "1", "COUNT", "0"), ("rank", "-9223372036854775807"), ("RANK", "9223372036854775807"),
                ("RANK", "-9223372036854775808"), ("RANK", "-9223372036854775808", "COUNT", "0"),
                ("maxlen", "9223372036854775807", "count", "9223372036854775807")]
        for el in ("c", "a", "1", "3", "zz"):
            for o in opts:
                script.append(("LPOS", "l", el) + o)
        script += [
            ("LPOS", "l", "c", "RANK", "0"), ("LPOS", "l", "c", "RANK", "x"), ("LPOS", "l", "c", "COUNT", "-1"),
            ("LPOS", "l", "c", "COUNT", "x"), ("LPOS", "l", "c", "MAXLEN", "-1"), ("LPOS", "l", "c", "MAXLEN", "y"),
            ("LPOS", "l", "c", "RANK"), ("LPOS", "l", "c", "COUNT"), ("LPOS", "l", "c", "FOO", "1"),
            ("LPOS", "l", "c", "RANK", "9223372036854775808"), ("LPOS", "l"),
            ("LPOS", "nokey", "c"), ("LPOS", "nokey", "c", "COUNT", "0"), ("LPOS", "nokey", "c", "RANK", "0"),
            ("LPOS", "nokey", "c", "COUNT", "1", "RANK", "-1"), ("LPOS", "nokey", "c", "MAXLEN", "-1"),
        ]
        both_protocols(dl, script)


def test_lmove_rpoplpush(dl):
    ends = ("LEFT", "RIGHT", "left", "right")
    script = [("RPUSH", "{t}src", "a", "b", "c", "d"), ("RPUSH", "{t}dst", "x")]
    for f in ends[:2]:
        for t in ends[:2]:
            script += [("LMOVE", "{t}src", "{t}dst", f, t), ("LRANGE", "{t}src", "0", "-1"),
                       ("LRANGE", "{t}dst", "0", "-1")]
    script += [
        ("LMOVE", "{t}src", "{t}src", "LEFT", "RIGHT"), ("LRANGE", "{t}src", "0", "-1"),
        ("LMOVE", "{t}dst", "{t}dst", "RIGHT", "LEFT"), ("LRANGE", "{t}dst", "0", "-1"),
        ("RPOPLPUSH", "{t}dst", "{t}dst"), ("LRANGE", "{t}dst", "0", "-1"),
        ("LMOVE", "{t}src", "{t}new", "left", "right"), ("EXISTS", "{t}src"), ("LRANGE", "{t}new", "0", "-1"),
        ("RPOPLPUSH", "{t}new", "{t}other"), ("EXISTS", "{t}new"), ("LRANGE", "{t}other", "0", "-1"),
        ("LMOVE", "{t}none", "{t}dst", "LEFT", "LEFT"), ("RPOPLPUSH", "{t}none", "{t}dst"), ("EXISTS", "{t}none"),
        ("LMOVE", "{t}other", "{t}dst", "UP", "LEFT"), ("LMOVE", "{t}other", "{t}dst", "LEFT", "DOWN"),
        ("LMOVE", "{t}none", "{t}dst", "UP", "LEFT"),
        ("LMOVE", "{t}other", "{t}dst", "LEFT"), ("RPOPLPUSH", "{t}other"),
        ("RPUSH", "{t}one", "solo"), ("LMOVE", "{t}one", "{t}one", "LEFT", "LEFT"), ("LRANGE", "{t}one", "0", "-1"),
        ("RPOPLPUSH", "{t}one", "{t}one"), ("LLEN", "{t}one"),
        ("RPUSH", "{t}n", "12", "-7"), ("RPOPLPUSH", "{t}n", "{t}dst"), ("LMOVE", "{t}n", "{t}dst", "LEFT", "LEFT"),
        ("LRANGE", "{t}dst", "0", "-1"), ("TYPE", "{t}dst"), ("OBJECT", "ENCODING", "{t}dst"),
    ]
    both_protocols(dl, script)


def test_lmove_cross_shard(dl):
    both_protocols(dl, [
        ("RPUSH", A0, "a", "b", "c"), ("LMOVE", A0, B0, "LEFT", "RIGHT"), ("RPOPLPUSH", A0, B0),
        ("LRANGE", A0, "0", "-1"), ("LRANGE", B0, "0", "-1"), ("LMOVE", A0, B0, "RIGHT", "LEFT"),
        ("EXISTS", A0), ("LRANGE", B0, "0", "-1"), ("RPOPLPUSH", B0, A1), ("LRANGE", A1, "0", "-1"),
        ("SET", B1, "str"), ("LMOVE", A1, B1, "LEFT", "LEFT"), ("RPOPLPUSH", B1, A1),
        ("LMOVE", "nokey", B1, "LEFT", "LEFT"), ("LRANGE", A1, "0", "-1"),
    ])


def test_lmpop(dl):
    script = [
        ("RPUSH", "{t}a", "1", "2", "3", "4", "5"), ("RPUSH", "{t}b", "x", "y"),
        ("LMPOP", "1", "{t}a", "LEFT"), ("LMPOP", "1", "{t}a", "RIGHT"), ("LMPOP", "1", "{t}a", "left", "COUNT", "2"),
        ("LMPOP", "2", "{t}none", "{t}a", "RIGHT", "count", "10"), ("EXISTS", "{t}a"),
        ("LMPOP", "3", "{t}none", "{t}a", "{t}b", "LEFT"), ("LMPOP", "2", "{t}b", "{t}a", "RIGHT", "COUNT", "5"),
        ("LMPOP", "2", "{t}none", "{t}a", "LEFT"), ("LMPOP", "1", "{t}none", "LEFT", "COUNT", "3"),
        ("RPUSH", "{t}a", "p", "q"),
        ("LMPOP", "0", "{t}a", "LEFT"), ("LMPOP", "-1", "{t}a", "LEFT"), ("LMPOP", "x", "{t}a", "LEFT"),
        ("LMPOP", "2", "{t}a", "LEFT"), ("LMPOP", "3", "{t}a", "LEFT"), ("LMPOP", "9999999999999", "{t}a", "LEFT"),
        ("LMPOP", "1", "{t}a", "UP"), ("LMPOP", "1", "{t}a", "LEFT", "COUNT", "0"),
        ("LMPOP", "1", "{t}a", "LEFT", "COUNT", "-1"), ("LMPOP", "1", "{t}a", "LEFT", "COUNT", "x"),
        ("LMPOP", "1", "{t}a", "LEFT", "COUNT"), ("LMPOP", "1", "{t}a", "LEFT", "COUNT", "1", "COUNT", "1"),
        ("LMPOP", "1", "{t}a", "LEFT", "FOO"), ("LMPOP", "1", "{t}a"), ("LMPOP", "1"),
        ("LMPOP", "1", "{t}a", "LEFT", "COUNT", "9223372036854775807"), ("EXISTS", "{t}a"),
    ]
    both_protocols(dl, script)


def test_lmpop_cross_shard(dl):
    both_protocols(dl, [
        ("RPUSH", B0, "b1", "b2"), ("LMPOP", "2", A0, B0, "LEFT"), ("RPUSH", A0, "a1"),
        ("LMPOP", "2", A0, B0, "RIGHT", "COUNT", "3"), ("LMPOP", "2", A0, B0, "RIGHT", "COUNT", "3"),
        ("LMPOP", "2", A0, B0, "RIGHT"), ("SET", A1, "s"), ("LMPOP", "2", A1, B0, "LEFT"),
    ])


def test_keyspace_commands(dl):
    both_protocols(dl, [
        ("RPUSH", "l", "a", "b", "c"), ("TYPE", "l"), ("OBJECT", "ENCODING", "l"), ("OBJECT", "REFCOUNT", "l"),
        ("COPY", "l", "l2"), ("LRANGE", "l2", "0", "-1"), ("RPUSH", "l2", "d"), ("LRANGE", "l", "0", "-1"),
        ("RENAME", "l2", "l3"), ("LRANGE", "l3", "0", "-1"), ("EXISTS", "l2"),
        ("EXPIRE", "l3", "100"), ("TTL", "l3"), ("PERSIST", "l3"), ("DEL", "l", "l3"), ("EXISTS", "l", "l3"),
        ("RPUSH", "l", "x"), ("SET", "l", "str"), ("TYPE", "l"), ("RPUSH", "l", "y"),
        ("RPUSH", A0, "1"), ("RENAME", A0, B0), ("LRANGE", B0, "0", "-1"), ("COPY", B0, A0),
        ("LRANGE", A0, "0", "-1"), ("RPUSH", "{t}1", "a"), ("COPY", "{t}1", "{t}2"), ("LPOP", "{t}2"),
        ("LLEN", "{t}1"), ("SET", "s", "1"), ("COPY", "{t}1", "s"), ("COPY", "{t}1", "s", "REPLACE"),
        ("TYPE", "s"), ("LRANGE", "s", "0", "-1"),
    ])
    dl.both("FLUSHALL")
    dl.both("RPUSH", "l1", "a")
    dl.both("RPUSH", "l2", "a")
    dl.both("SET", "s1", "a")
    assert sorted(dl.unordered("KEYS", "*")) == [b"l1", b"l2", b"s1"]
    # SCAN TYPE list, all shards
    for srv in (dl.a, dl.b):
        cur, seen = b"0", set()
        while True:
            from tessera_testlib import parse
            reply = parse(srv.cmd("SCAN", cur, "TYPE", "list"))
            cur = reply[0]
            seen.update(reply[1])
            if cur == b"0":
                break
        assert seen == {b"l1", b"l2"}


def test_expired_list(dl):
    import time
    dl.both("RPUSH", "l", "a", "b")
    dl.both("PEXPIRE", "l", "30")
    time.sleep(0.1)
    dl.run([("LLEN", "l"), ("LRANGE", "l", "0", "-1"), ("EXISTS", "l"), ("RPUSHX", "l", "c"), ("LPOP", "l")])


# ---------- many nodes ----------

@pytest.mark.parametrize("fill", FILLS)
def test_many_nodes(dl, fill):
    many_nodes(dl, fill)


@pytest.mark.parametrize("fill,depth", [("4", "1"), ("2", "2"), ("-1", "1"), ("16", "3")])
def test_many_nodes_compressed(dl, fill, depth):
    """list-compress-depth: interior nodes compressed, the same replies."""
    dl.both("CONFIG", "SET", "list-compress-depth", depth)
    many_nodes(dl, fill)


def many_nodes(dl, fill):
    set_fill(dl, fill)
    rng = random.Random(int(fill) + 1000)
    elems = [rng.choice(["a", "bb", str(rng.randint(-1000, 1000)), "x" * rng.randint(0, 300)])
             for _ in range(400)]
    script = [("RPUSH", "l") + tuple(elems[:200]), ("LPUSH", "l") + tuple(elems[200:])]
    for i in range(0, 400, 37):
        script += [("LINDEX", "l", str(i)), ("LINDEX", "l", str(-i - 1)), ("LRANGE", "l", str(i), str(i + 13)),
                   ("LRANGE", "l", str(-i - 20), str(-i))]
    for i in range(0, 380, 23):
        script += [("LINSERT", "l", "AFTER", elems[i], "ins%d" % i), ("LSET", "l", str(i), "set%d" % i),
                   ("LSET", "l", str(-i - 1), "y" * (i * 13 % 700))]
    script += [("LRANGE", "l", "0", "-1"), ("LREM", "l", "-3", "a"), ("LREM", "l", "2", "bb"),
               ("LREM", "l", "0", "a"), ("LRANGE", "l", "0", "-1"), ("LTRIM", "l", "17", "-23"),
               ("LRANGE", "l", "0", "-1"), ("LPOS", "l", "bb", "COUNT", "0"), ("LPOS", "l", "bb", "RANK", "-2"),
               ("LPOP", "l", "50"), ("RPOP", "l", "50"), ("LRANGE", "l", "0", "-1"), ("LLEN", "l"),
               ("OBJECT", "ENCODING", "l")]
    both_protocols(dl, script)


@pytest.mark.parametrize("depth", ["0", "1"])
def test_big_lrange(dl, depth):
    dl.both("CONFIG", "SET", "list-compress-depth", depth)
    n = 100000
    elems = ["item-%d" % i for i in range(n)]
    for i in range(0, n, 5000):
        dl("RPUSH", "big", *elems[i:i + 5000])
    dl("LLEN", "big")
    dl("LRANGE", "big", "0", "-1")
    dl("LRANGE", "big", "-50000", "-49000")
    dl("LINDEX", "big", "54321")
    dl("LINDEX", "big", "-54321")
    dl("LPOS", "big", "item-99999")
    dl("LPOS", "big", "item-5", "MAXLEN", "5")
    dl("LTRIM", "big", "1000", "-1000")
    dl("LRANGE", "big", "0", "10")
    dl("LREM", "big", "0", "item-50000")
    dl("LLEN", "big")
    dl("DEL", "big")


# ---------- seeded random stream ----------

def random_command(rng, keys):
    k = rng.choice(keys)
    k2 = rng.choice(keys)
    el = lambda: rng.choice(["a", "b", "c", "1", "2", "", "x" * rng.randint(1, 200), str(rng.randint(-300, 300))])
    idx = lambda: str(rng.choice([0, 1, 2, -1, -2, rng.randint(-30, 30), 100, -100]))
    c = rng.randrange(22)
    if c == 0:
        return ("LPUSH", k) + tuple(el() for _ in range(rng.randint(1, 8)))
    if c == 1:
        return ("RPUSH", k) + tuple(el() for _ in range(rng.randint(1, 8)))
    if c == 2:
        return (rng.choice(["LPUSHX", "RPUSHX"]), k, el())
    if c == 3:
        return (rng.choice(["LPOP", "RPOP"]), k) + rng.choice([(), (str(rng.randint(0, 5)),)])
    if c == 4:
        return ("LLEN", k)
    if c == 5:
        return ("LRANGE", k, idx(), idx())
    if c == 6:
        return ("LINDEX", k, idx())
    if c == 7:
        return ("LSET", k, idx(), el())
    if c == 8:
        return ("LINSERT", k, rng.choice(["BEFORE", "AFTER"]), el(), el())
    if c == 9:
        return ("LREM", k, str(rng.randint(-3, 3)), el())
    if c == 10:
        return ("LTRIM", k, idx(), idx())
    if c == 11:
        opts = ()
        for o in rng.sample(["RANK", "COUNT", "MAXLEN"], rng.randint(0, 3)):
            opts += (o, str(rng.choice([1, 2, -1, -2, 3]) if o == "RANK" else rng.randint(0, 4)))
        return ("LPOS", k, el()) + opts
    if c == 12:
        return ("LMOVE", k, k2, rng.choice(["LEFT", "RIGHT"]), rng.choice(["LEFT", "RIGHT"]))
    if c == 13:
        return ("RPOPLPUSH", k, k2)
    if c == 14:
        ks = rng.sample(keys, rng.randint(1, 3))
        return ("LMPOP", str(len(ks))) + tuple(ks) + (rng.choice(["LEFT", "RIGHT"]),) + \
            rng.choice([(), ("COUNT", str(rng.randint(1, 4)))])
    if c == 15:
        return ("SET", k, el()) if rng.random() < 0.2 else ("LLEN", k)
    if c == 16:
        return ("DEL", k) if rng.random() < 0.3 else ("EXISTS", k)
    if c == 17:
        return ("TYPE", k)
    if c == 18:
        return ("LRANGE", k, "0", "-1")
    if c == 19:
        return ("COPY", k, k2, "REPLACE")
    return ("RPUSH", k) + tuple(el() for _ in range(rng.randint(5, 30)))


@pytest.mark.parametrize("seed,fill,proto,depth", [(1, "-2", "2", "0"), (2, "3", "3", "0"), (3, "1", "2", "0"),
                                                   (4, "-1", "3", "0"), (5, "5", "2", "0"), (6, "4", "2", "1"),
                                                   (7, "2", "3", "2"), (8, "8", "2", "1")])
def test_random_stream(dl, seed, fill, proto, depth):
    set_fill(dl, fill)
    dl.both("CONFIG", "SET", "list-compress-depth", depth)
    dl.both("HELLO", proto)
    rng = random.Random(seed)
    keys = ["{r}k1", "{r}k2", "{r}k3"]
    for _ in range(2500):
        dl(*random_command(rng, keys))
    for k in keys:
        dl("LRANGE", k, "0", "-1")


def test_random_stream_cross_shard(dl):
    rng = random.Random(77)
    set_fill(dl, "4")
    keys = [A0, A1, B0, B1]
    for _ in range(1500):
        dl(*random_command(rng, keys))
    for k in keys:
        dl("LRANGE", k, "0", "-1")


LIST_COMMANDS = ["lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "llen", "lindex", "lrange", "lset",
                 "linsert", "lrem", "ltrim", "lpos", "lmove", "rpoplpush", "lmpop"]


def test_command_metadata(dl):
    for proto in ("2", "3"):
        dl.both("HELLO", proto)
        for name in LIST_COMMANDS:
            dl("COMMAND", "INFO", name)
            dl("COMMAND", "DOCS", name)
        dl("COMMAND", "GETKEYS", "LMPOP", "2", "a", "b", "LEFT", "COUNT", "3")
        dl("COMMAND", "GETKEYS", "LMOVE", "a", "b", "LEFT", "RIGHT")
        dl("COMMAND", "GETKEYS", "RPOPLPUSH", "a", "b")
    dl.both("HELLO", "2")


def test_move_swapdb_unlink_big(dl):
    big = tuple("e%d" % i for i in range(3000))
    set_fill(dl, "4")   # ~750 nodes: freed by the lazy-free thread
    dl.run([
        ("RPUSH", "l", *big), ("MOVE", "l", "1"), ("EXISTS", "l"), ("SELECT", "1"), ("LLEN", "l"),
        ("LINDEX", "l", "1234"), ("SWAPDB", "0", "1"), ("LLEN", "l"), ("SELECT", "0"), ("LLEN", "l"),
        ("COPY", "l", "l2"), ("UNLINK", "l"), ("LRANGE", "l2", "2990", "-1"), ("RPUSH", "l3", *big),
        ("FLUSHALL", "ASYNC"), ("DBSIZE",), ("RPUSH", "l", *big), ("FLUSHDB", "SYNC"), ("EXISTS", "l"),
        ("RPUSH", "l", *big), ("SET", "l", "overwritten"), ("GET", "l"), ("RPUSH", "l4", *big),
        ("PEXPIRE", "l4", "1"),
    ])
    import time
    time.sleep(0.05)
    dl.run([("EXISTS", "l4"), ("DBSIZE",)])
