"""HASH commands: Tessera's raw reply bytes must equal Redis 7.0's, in RESP2
and RESP3, for valid calls and every error case; OBJECT ENCODING must switch
from listpack to hashtable exactly when Redis's does (by entry count, by
field or value length, after CONFIG SET of the thresholds); and the keyspace
commands (TYPE, OBJECT, COPY, RENAME, MOVE, EXPIRE, DEL, SCAN TYPE) must
handle hashes on every shard.

Replies whose content is random (HRANDFIELD) or whose order follows the
hash table (HSCAN and HGETALL & co. of a hashtable hash) are compared by
their properties instead of byte for byte.

The reference is a real redis-server (fixture `reference`); the tests are
skipped when it is not installed.
"""
import random

import pytest

from tessera_testlib import NSHARDS, key_shard, keys_on, parse

A0, A1 = keys_on(0, "ha", 2)
B0, B1 = keys_on(NSHARDS - 1, "hb", 2)

ALL_CMDS = ["HSET", "HSETNX", "HMSET", "HGET", "HMGET", "HDEL", "HLEN", "HSTRLEN", "HEXISTS", "HKEYS",
            "HVALS", "HGETALL", "HINCRBY", "HINCRBYFLOAT", "HRANDFIELD", "HSCAN"]


@pytest.fixture
def d3(d, request):
    """The Diff d, switched to the protocol of the test's `proto` param."""
    proto = getattr(request, "param", 2)
    if proto == 3:
        d.both("HELLO", "3")
    return d


def proto_params():
    return pytest.mark.parametrize("d3", [2, 3], indirect=True)


def config_both(d, name, value):
    a, b = d.both("CONFIG", "SET", name, str(value))
    assert a == b == b"+OK\r\n", (a, b)


@pytest.fixture
def thresholds(d):
    """Restores the listpack thresholds a test changes."""
    yield
    config_both(d, "hash-max-listpack-entries", 512)
    config_both(d, "hash-max-listpack-value", 64)


def pairs(flat):
    return sorted(zip(flat[0::2], flat[1::2]))


def same_content(d, *args):
    """HKEYS/HVALS/HGETALL of a hash whose order may differ: same elements
    (HGETALL: same pairs), and the same aggregate type byte."""
    x, y = d.both(*args)
    assert x[:1] == y[:1], (args, x[:60], y[:60])
    px, py = parse(x), parse(y)
    if isinstance(px, list) and args[0].upper() == "HGETALL":
        assert pairs(px) == pairs(py), args
    elif isinstance(px, list):
        assert sorted(px) == sorted(py), args
    else:
        assert x == y, (args, x, y)
    return px


# ---------- fixed cases, byte for byte ----------

@proto_params()
def test_basic_commands(d3):
    d = d3
    d.run([
        ("HSET", A0, "f1", "v1"), ("HSET", A0, "f1", "v1b", "f2", "v2", "f3", "3"), ("HGET", A0, "f1"),
        ("HGET", A0, "nofield"), ("HGET", "nokey", "f"), ("HMGET", A0, "f1", "nofield", "f3", "f2"),
        ("HMGET", "nokey", "a", "b"), ("HLEN", A0), ("HLEN", "nokey"), ("HSTRLEN", A0, "f1"),
        ("HSTRLEN", A0, "f3"), ("HSTRLEN", A0, "nofield"), ("HSTRLEN", "nokey", "f"), ("HEXISTS", A0, "f2"),
        ("HEXISTS", A0, "zz"), ("HEXISTS", "nokey", "f"), ("HKEYS", A0), ("HVALS", A0), ("HGETALL", A0),
        ("HKEYS", "nokey"), ("HVALS", "nokey"), ("HGETALL", "nokey"),
        ("HSETNX", A0, "f1", "x"), ("HSETNX", A0, "f4", "x"), ("HSETNX", "new", "a", "b"), ("HGETALL", "new"),
        ("HMSET", A0, "f5", "5", "f1", "one"), ("HGETALL", A0),
        ("HDEL", A0, "f1", "f1", "nofield"), ("HDEL", "nokey", "f"), ("HDEL", A0, "f2", "f3", "f4", "f5"),
        ("EXISTS", A0), ("HDEL", "new", "a"), ("EXISTS", "new"), ("TYPE", "new"),
        ("HSET", B0, "a", "1", "a", "2", "b", "3"), ("HGETALL", B0), ("TYPE", B0), ("OBJECT", "ENCODING", B0),
        ("HSET", B0, "", ""), ("HGET", B0, ""), ("HSTRLEN", B0, ""), ("HEXISTS", B0, ""), ("HGETALL", B0),
        ("HSET", B0, "n", "-9223372036854775808", "m", "9223372036854775807", "o", "012", "p", "+1", "q", "-0"),
        ("HGETALL", B0), ("HSTRLEN", B0, "n"), ("HMGET", B0, "o", "p", "q", "n", "m"),
    ])


@proto_params()
def test_binary_fields(d3):
    d = d3
    fields = [b"\x00", b"a\x00b", b"\r\n", b"\xff\xfe", b"*1\r\n$1\r\n", b"12\x00", b" 1", b"\x00" * 70]
    for i, f in enumerate(fields):
        d("HSET", A1, f, f + b"v%d" % i)
        if i == 6:
            d("HGETALL", A1)  # still a listpack: same order
    for f in fields:
        d("HGET", A1, f)
        d("HSTRLEN", A1, f)
        d("HEXISTS", A1, f + b"x")
    d("OBJECT", "ENCODING", A1)  # a 70-byte field: hashtable
    same_content(d, "HGETALL", A1)
    for f in fields[:4]:
        d("HSET", B1, f, f)
    d("HGETALL", B1)
    d("HSCAN", B1, "0")
    d("HDEL", B1, *fields)
    d("EXISTS", B1)


def test_wrong_type_and_arity(d):
    d("SET", "str", "x")
    d("HSET", "hh", "f", "v")
    calls = [
        ("HSET", "str", "f", "v"), ("HSETNX", "str", "f", "v"), ("HMSET", "str", "f", "v"), ("HGET", "str", "f"),
        ("HMGET", "str", "f"), ("HDEL", "str", "f"), ("HLEN", "str"), ("HSTRLEN", "str", "f"),
        ("HEXISTS", "str", "f"), ("HKEYS", "str"), ("HVALS", "str"), ("HGETALL", "str"),
        ("HINCRBY", "str", "f", "1"), ("HINCRBYFLOAT", "str", "f", "1"), ("HRANDFIELD", "str"),
        ("HRANDFIELD", "str", "2"), ("HRANDFIELD", "str", "-2", "WITHVALUES"), ("HSCAN", "str", "0"),
        ("HSCAN", "str", "0", "COUNT", "0"), ("HINCRBY", "str", "f", "x"), ("HINCRBYFLOAT", "str", "f", "x"),
        ("HINCRBYFLOAT", "str", "f", "inf"), ("HRANDFIELD", "str", "x"), ("HSCAN", "str", "x"),
        # the other way round
        ("GET", "hh"), ("APPEND", "hh", "x"), ("INCR", "hh"), ("STRLEN", "hh"), ("GETRANGE", "hh", "0", "1"),
        ("SET", "hh", "now a string"), ("HGET", "hh", "f"), ("TYPE", "hh"),
        # arity
        ("HSET", "k"), ("HSET", "k", "f"), ("HSET", "k", "f", "v", "g"), ("HMSET", "k", "f"),
        ("HMSET", "k", "f", "v", "g"), ("HSETNX", "k", "f"), ("HSETNX", "k", "f", "v", "x"), ("HGET", "k"),
        ("HGET", "k", "f", "g"), ("HMGET", "k"), ("HDEL", "k"), ("HLEN",), ("HLEN", "k", "x"),
        ("HSTRLEN", "k"), ("HEXISTS", "k"), ("HKEYS",), ("HKEYS", "k", "x"), ("HVALS",), ("HGETALL",),
        ("HGETALL", "k", "x"), ("HINCRBY", "k", "f"), ("HINCRBY", "k", "f", "1", "2"), ("HINCRBYFLOAT", "k", "f"),
        ("HRANDFIELD",), ("HRANDFIELD", "k", "1", "WITHVALUES", "x"), ("HSCAN", "k"), ("EXISTS", "k"),
    ]
    for call in calls:
        d(*call)


@proto_params()
def test_hincrby(d3):
    d = d3
    d.run([
        ("HINCRBY", A0, "n", "5"), ("HINCRBY", A0, "n", "-12"), ("HGET", A0, "n"), ("HINCRBY", "new", "n", "0"),
        ("HGETALL", "new"), ("HSET", A0, "s", "abc", "f", "1.5", "sp", " 1", "z", "012", "big", "9223372036854775807"),
        ("HINCRBY", A0, "s", "1"), ("HINCRBY", A0, "f", "1"), ("HINCRBY", A0, "sp", "1"), ("HINCRBY", A0, "z", "1"),
        ("HINCRBY", A0, "big", "1"), ("HINCRBY", A0, "big", "0"), ("HINCRBY", A0, "big", "-1"),
        ("HSET", A0, "small", "-9223372036854775808"), ("HINCRBY", A0, "small", "-1"), ("HINCRBY", A0, "small", "1"),
        ("HINCRBY", A0, "n", "x"), ("HINCRBY", A0, "n", "1.0"), ("HINCRBY", A0, "n", ""), ("HINCRBY", A0, "n", " 1"),
        ("HINCRBY", A0, "n", "9223372036854775808"), ("HINCRBY", A0, "n", "-9223372036854775808"),
        ("HINCRBY", "nokey", "f", "x"), ("EXISTS", "nokey"), ("HINCRBY", A0, "", "7"), ("HGETALL", A0),
    ])


@proto_params()
def test_hincrbyfloat(d3):
    d = d3
    d.run([
        ("HINCRBYFLOAT", A0, "x", "10.5"), ("HINCRBYFLOAT", A0, "x", "0.1"), ("HINCRBYFLOAT", A0, "x", "-5"),
        ("HINCRBYFLOAT", A0, "x", "5.0e3"), ("HINCRBYFLOAT", A0, "x", "1e-20"), ("HINCRBYFLOAT", A0, "x", "-10010.6"),
        ("HGET", A0, "x"), ("HINCRBYFLOAT", A0, "y", "3"), ("HGET", A0, "y"), ("HINCRBYFLOAT", A0, "y", "-3"),
        ("HINCRBYFLOAT", A0, "y", "-0.0"), ("HINCRBYFLOAT", A0, "h", "0x10"), ("HINCRBYFLOAT", A0, "e", "1e400"),
        ("HINCRBYFLOAT", A0, "x", "inf"), ("HINCRBYFLOAT", A0, "x", "-inf"), ("HINCRBYFLOAT", A0, "x", "nan"),
        ("HINCRBYFLOAT", A0, "x", "abc"), ("HINCRBYFLOAT", A0, "x", ""), ("HINCRBYFLOAT", A0, "x", " 1"),
        ("HINCRBYFLOAT", A0, "x", "1 "), ("HINCRBYFLOAT", A0, "x", "1e5000"), ("HINCRBYFLOAT", "nokey", "f", "inf"),
        ("EXISTS", "nokey"), ("HSET", A0, "s", "abc", "i", "12", "m", "1e308"), ("HINCRBYFLOAT", A0, "s", "1"),
        ("HINCRBYFLOAT", A0, "i", "1.5"), ("HINCRBYFLOAT", A0, "m", "1e308"), ("HINCRBYFLOAT", A0, "m", "1e4930"),
        ("HINCRBYFLOAT", A0, "m", "1e4932"), ("OBJECT", "ENCODING", A0),
        ("HINCRBYFLOAT", A0, "big", "9223372036854775807"), ("HINCRBYFLOAT", A0, "big", "1"),
        # a result longer than hash-max-listpack-value converts
        ("HSET", B0, "f", "1"), ("HINCRBYFLOAT", B0, "f", "1e60"), ("OBJECT", "ENCODING", B0),
        ("HINCRBYFLOAT", B0, "f", "1e100"), ("OBJECT", "ENCODING", B0),
    ])
    same_content(d, "HGETALL", A0)
    same_content(d, "HGETALL", B0)


# ---------- encodings ----------

def enc(d, key):
    return d("OBJECT", "ENCODING", key)


def test_conversion_by_entries(d, thresholds):
    # Redis 7.0's defaults: 512 entries (128 is the sorted sets' limit), 64 bytes
    d("CONFIG", "GET", "hash-max-listpack-entries")
    d("CONFIG", "GET", "hash-max-ziplist-entries")
    d("CONFIG", "GET", "hash-max-listpack-value")
    for i in range(512):
        d.a.cmd("HSET", A0, "f%d" % i, "v%d" % i)
        d.b.cmd("HSET", A0, "f%d" % i, "v%d" % i)
    assert enc(d, A0) == b"$8\r\nlistpack\r\n"
    d("HSET", A0, "f0", "again")  # an update does not count
    enc(d, A0)
    d("HGETALL", A0)
    d("HSET", A0, "f512", "x")
    assert enc(d, A0) == b"$9\r\nhashtable\r\n"
    d("DEL", A0)
    config_both(d, "hash-max-listpack-entries", 128)
    for i in range(128):
        d("HSET", A0, "f%d" % i, "v%d" % i)
    assert enc(d, A0) == b"$8\r\nlistpack\r\n"
    d("HSET", A0, "f128", "x")
    assert enc(d, A0) == b"$9\r\nhashtable\r\n"
    for i in range(129):
        d("HDEL", A0, "f%d" % i)  # never back
        if i == 120:
            enc(d, A0)
    d("EXISTS", A0)
    # one HSET with 129 fields, HMSET and HSETNX crossing the limit
    args = []
    for i in range(129):
        args += ["g%d" % i, str(i)]
    d("HSET", B0, *args)
    enc(d, B0)
    same_content(d, "HGETALL", B0)
    d("HMSET", B1, *args[:256])
    enc(d, B1)
    d("HSETNX", B1, "last", "x")
    enc(d, B1)
    d("HINCRBY", A1, "a", "1")
    for i in range(127):
        d("HINCRBYFLOAT", A1, "x%d" % i, "1.5")
    enc(d, A1)
    d("HINCRBY", A1, "one-more", "1")
    enc(d, A1)
    same_content(d, "HKEYS", A1)
    same_content(d, "HVALS", A1)


def test_conversion_by_length(d, thresholds):
    v64, v65 = "x" * 64, "y" * 65
    d.run([
        ("HSET", A0, "f", v64), ("OBJECT", "ENCODING", A0), ("HSET", A0, v64, "f"), ("OBJECT", "ENCODING", A0),
        ("HSET", A0, "g", v65), ("OBJECT", "ENCODING", A0), ("HGET", A0, "g"),
        ("HSET", A1, v65, "1"), ("OBJECT", "ENCODING", A1), ("HSET", B0, "a", "1", "b", v65),
        ("OBJECT", "ENCODING", B0),
        # HSETNX: an existing field is not written, so no conversion
        ("HSET", B1, "a", "1"), ("HSETNX", B1, "a", v65), ("OBJECT", "ENCODING", B1),
        ("HSETNX", B1, "b", v65), ("OBJECT", "ENCODING", B1),
        # HINCRBY / HINCRBYFLOAT on a long field name convert
        ("HSET", "i1", "a", "1"), ("HINCRBY", "i1", v65, "1"), ("OBJECT", "ENCODING", "i1"),
        ("HSET", "i2", "a", "1"), ("HINCRBYFLOAT", "i2", v65, "1.5"), ("OBJECT", "ENCODING", "i2"),
        # an HINCRBY that fails leaves the encoding alone
        ("HSET", "i3", "a", "x"), ("HINCRBY", "i3", v65, "x"), ("HINCRBY", "i3", "a", "1"),
        ("OBJECT", "ENCODING", "i3"),
        # numbers: the length is the length of the digits
        ("HSET", "n", "f", "1" * 64), ("OBJECT", "ENCODING", "n"), ("HSET", "n", "f", "1" * 65),
        ("OBJECT", "ENCODING", "n"),
    ])


def test_config_thresholds(d, thresholds):
    config_both(d, "hash-max-listpack-entries", 2)
    config_both(d, "hash-max-listpack-value", 4)
    d.run([
        ("HSET", A0, "a", "1", "b", "2"), ("OBJECT", "ENCODING", A0), ("HSET", A0, "c", "3"),
        ("OBJECT", "ENCODING", A0), ("HSET", B0, "abcd", "1234"), ("OBJECT", "ENCODING", B0),
        ("HSET", B0, "abcde", "1"), ("OBJECT", "ENCODING", B0), ("HSET", B1, "a", "12345"),
        ("OBJECT", "ENCODING", B1),
    ])
    config_both(d, "hash-max-listpack-entries", 0)
    d.run([("HSET", A1, "a", "1"), ("OBJECT", "ENCODING", A1), ("HGETALL", A1)])
    config_both(d, "hash-max-listpack-entries", 10)
    config_both(d, "hash-max-listpack-value", 0)
    d.run([("HSET", "z", "", ""), ("OBJECT", "ENCODING", "z"), ("HSET", "z", "a", ""), ("OBJECT", "ENCODING", "z")])
    # raising the limits does not convert back
    config_both(d, "hash-max-listpack-entries", 1000)
    config_both(d, "hash-max-listpack-value", 1000)
    d.run([("OBJECT", "ENCODING", A0), ("HSET", A0, "d", "4"), ("OBJECT", "ENCODING", A0),
           ("HSET", "big", "f", "x" * 900), ("OBJECT", "ENCODING", "big"), ("HGET", "big", "f")])


# ---------- HRANDFIELD ----------

@proto_params()
def test_hrandfield_exact_cases(d3):
    """Cases whose reply is not random: errors, missing keys, counts that
    cover a listpack hash (listpack order is insertion order in both)."""
    d = d3
    d("HSET", A0, "a", "1", "b", "2", "c", "3", "d", "-4")
    d.run([
        ("HRANDFIELD", "nokey"), ("HRANDFIELD", "nokey", "0"), ("HRANDFIELD", "nokey", "5"),
        ("HRANDFIELD", "nokey", "-5", "WITHVALUES"), ("HRANDFIELD", A0, "0"), ("HRANDFIELD", A0, "0", "WITHVALUES"),
        ("HRANDFIELD", A0, "4"), ("HRANDFIELD", A0, "5"), ("HRANDFIELD", A0, "100", "WITHVALUES"),
        ("HRANDFIELD", A0, "9223372036854775807"), ("HRANDFIELD", A0, "x"), ("HRANDFIELD", A0, "1.5"),
        ("HRANDFIELD", A0, "-9223372036854775808"), ("HRANDFIELD", A0, "-9223372036854775807", "x"),
        ("HRANDFIELD", A0, "4611686018427387904", "WITHVALUES"),
        ("HRANDFIELD", A0, "-4611686018427387904", "WITHVALUES"), ("HRANDFIELD", A0, "3", "WITHVALUE"),
        ("HRANDFIELD", A0, "3", "withvalues", "x"), ("HRANDFIELD", A0, "9223372036854775808"),
        ("HRANDFIELD", "nokey", "x"), ("HRANDFIELD", "nokey", "1", "bad"),
    ])


def rand_pairs(d, proto, args, withvalues):
    """Both replies of an HRANDFIELD with a count, as lists of fields or of
    (field, value) tuples."""
    x, y = d.both(*args)
    out = []
    for raw in (x, y):
        v = parse(raw)
        assert isinstance(v, list), (args, raw[:80])
        if withvalues and proto == 3:
            assert all(isinstance(p, list) and len(p) == 2 for p in v)
            v = [tuple(p) for p in v]
        elif withvalues:
            v = list(zip(v[0::2], v[1::2]))
        out.append(v)
    return out


@pytest.mark.parametrize("d3", [2, 3], indirect=True)
@pytest.mark.parametrize("size", [5, 100, 300])
def test_hrandfield_properties(d3, size, request):
    d = d3
    proto = request.node.callspec.params["d3"]
    content = {b"f%d" % i: b"%d" % (i * 7) for i in range(size)}
    args = []
    for f, v in content.items():
        args += [f, v]
    d("HSET", A0, *args)
    d("OBJECT", "ENCODING", A0)
    for _ in range(20):
        got = parse(d.a.cmd("HRANDFIELD", A0))
        assert got in content
    for count in [1, 2, 3, size // 3, size // 2, size - 1, size, size + 1]:
        for wv in (False, True):
            args = ["HRANDFIELD", A0, str(count)] + (["WITHVALUES"] if wv else [])
            mine, theirs = rand_pairs(d, proto, args, wv)
            assert len(mine) == len(theirs) == min(count, size)
            assert len(set(mine)) == len(mine)  # distinct
            for p in mine:
                assert (content[p[0]] == p[1]) if wv else (p in content)
    for count in [1, 3, size, 2 * size + 7]:
        for wv in (False, True):
            args = ["HRANDFIELD", A0, str(-count)] + (["WITHVALUES"] if wv else [])
            mine, theirs = rand_pairs(d, proto, args, wv)
            assert len(mine) == len(theirs) == count
            for p in mine:
                assert (content[p[0]] == p[1]) if wv else (p in content)
    # many picks cover every field of a small hash
    if size <= 100:
        seen = set(parse(d.a.cmd("HRANDFIELD", A0, str(-size * 40))))
        assert seen == set(content)
        seen = set()
        for _ in range(30):
            seen |= set(parse(d.a.cmd("HRANDFIELD", A0, str(max(1, size // 2)))))
        assert seen == set(content)


# ---------- HSCAN ----------

def full_hscan(wire, key, *opts):
    cursor, out, calls = b"0", [], 0
    while True:
        v = parse(wire.cmd("HSCAN", key, cursor, *opts))
        cursor, items = v
        out += list(zip(items[0::2], items[1::2]))
        calls += 1
        if cursor == b"0":
            return out, calls
        assert calls < 10000


@proto_params()
def test_hscan_listpack_exact(d3):
    d = d3
    d("HSET", A0, "a", "1", "b", "2", "abc", "3", "x", "-7", "", "e")
    d.run([
        ("HSCAN", A0, "0"), ("HSCAN", A0, "123"), ("HSCAN", A0, "0", "COUNT", "1"), ("HSCAN", A0, "0", "MATCH", "a*"),
        ("HSCAN", A0, "0", "MATCH", "*", "COUNT", "2"), ("HSCAN", A0, "0", "MATCH", "nothing"),
        ("HSCAN", A0, "0", "COUNT", "0"), ("HSCAN", A0, "0", "COUNT", "-1"), ("HSCAN", A0, "0", "COUNT", "x"),
        ("HSCAN", A0, "0", "COUNT"), ("HSCAN", A0, "0", "MATCH"), ("HSCAN", A0, "0", "TYPE", "hash"),
        ("HSCAN", A0, "0", "BOGUS", "1"), ("HSCAN", A0, "x"), ("HSCAN", A0, "-1"), ("HSCAN", A0, " 1"),
        ("HSCAN", A0, "18446744073709551616"), ("HSCAN", A0, "+0"), ("HSCAN", A0, ""),
        ("HSCAN", "nokey", "0"), ("HSCAN", "nokey", "x"), ("HSCAN", "nokey", "0", "COUNT", "0"),
        ("HSCAN", A0, "0", "MATCH", "[a-b]", "MATCH", "x*"), ("HSCAN", A0, "0", "count", "5", "match", "?"),
    ])


def test_hscan_hashtable(d):
    content = {b"field:%d" % i: b"v%d" % i for i in range(1000)}
    args = []
    for f, v in content.items():
        args += [f, v]
    d("HSET", B0, *args)
    assert enc(d, B0) == b"$9\r\nhashtable\r\n"
    for count in ([], ["COUNT", "1"], ["COUNT", "10"], ["COUNT", "333"], ["COUNT", "5000"]):
        got, calls = full_hscan(d.a, B0, *count)
        assert dict(got) == content
        if count == ["COUNT", "5000"]:
            assert calls <= 2
        if not count:
            assert calls > 20  # a hashtable comes in steps
    # Calls per full scan close to Redis's: COUNT counts fields, not
    # fields and values (about count fields per step in both).
    for count in ("10", "100"):
        _, mine = full_hscan(d.a, B0, "COUNT", count)
        _, theirs = full_hscan(d.b, B0, "COUNT", count)
        assert 0.7 * theirs <= mine <= 1.4 * theirs + 1, (count, mine, theirs)
    got, _ = full_hscan(d.a, B0, "MATCH", "field:1*")
    assert dict(got) == {f: v for f, v in content.items() if f.startswith(b"field:1")}
    theirs, _ = full_hscan(d.b, B0, "MATCH", "*:9?")
    mine, _ = full_hscan(d.a, B0, "MATCH", "*:9?")
    assert sorted(set(mine)) == sorted(set(theirs))
    # the scan guarantee while the hash shrinks between calls
    cursor, seen = b"0", set()
    deleted = set()
    i = 0
    while True:
        cursor, items = parse(d.a.cmd("HSCAN", B0, cursor))
        seen |= set(items[0::2])
        for _ in range(5):
            f = b"field:%d" % (999 - i)
            i += 1
            if i < 900:
                d.a.cmd("HDEL", B0, f)
                deleted.add(f)
        if cursor == b"0":
            break
    assert set(content) - deleted <= seen
    # errors after the key lookup, byte for byte
    d("HSCAN", B0, "0", "COUNT", "0")
    d("HSCAN", B0, "0", "NOVALUES")


# ---------- keyspace commands on hashes ----------

def test_keyspace_commands(d, thresholds):
    big = []
    for i in range(200):
        big += ["f%d" % i, "v%d" % i]
    d("HSET", A0, "a", "1", "b", "2")
    d("HSET", B0, *big)
    d.run([
        ("TYPE", A0), ("TYPE", B0), ("OBJECT", "ENCODING", A0), ("OBJECT", "ENCODING", B0),
        ("OBJECT", "REFCOUNT", A0), ("EXISTS", A0, B0),
        ("COPY", A0, A1), ("HSET", A0, "c", "3"), ("HGETALL", A1), ("HGETALL", A0), ("OBJECT", "ENCODING", A1),
        ("COPY", B0, B1), ("HDEL", B0, "f1"), ("HLEN", B1), ("HLEN", B0), ("HGET", B1, "f1"),
        ("OBJECT", "ENCODING", B1), ("COPY", A0, B1), ("COPY", A0, B1, "REPLACE"), ("HGETALL", B1),
        ("COPY", A0, "other", "DB", "1"),
        ("RENAME", A0, "r1"), ("HGETALL", "r1"), ("EXISTS", A0), ("RENAME", "r1", B1), ("HGETALL", B1),
        ("RENAMENX", B0, B1), ("RENAME", B0, A0), ("HLEN", A0), ("OBJECT", "ENCODING", A0),
        ("EXPIRE", A0, "100"), ("TTL", A0), ("HSET", A0, "new", "1"), ("TTL", A0), ("PERSIST", A0), ("TTL", A0),
        ("MOVE", A0, "2"), ("EXISTS", A0), ("SELECT", "2"), ("HLEN", A0), ("OBJECT", "ENCODING", A0),
        ("DEL", A0), ("SELECT", "0"), ("DEL", B1, "nokey"), ("EXISTS", B1), ("DBSIZE",),
    ])
    # an expired hash is gone for every command
    d("HSET", "exp", "a", "1")
    d("PEXPIRE", "exp", "1")
    import time
    time.sleep(0.01)
    d.run([("HGET", "exp", "a"), ("HLEN", "exp"), ("HSET", "exp", "b", "2"), ("HGETALL", "exp"), ("TTL", "exp")])
    # DEBUG OBJECT answers (the serialized length is not modelled)
    assert b"encoding:listpack" in d.a.cmd("DEBUG", "OBJECT", "exp")


def test_many_keys_on_every_shard(d):
    keys = [k for s in range(NSHARDS) for k in keys_on(s, "mk", 60)]
    rng = random.Random(7)
    for i, k in enumerate(keys):
        n = rng.choice([1, 3, 20, 130])
        args = []
        for j in range(n):
            args += ["f%d" % j, "v%d-%d" % (i, j)]
        d("HSET", k, *args)
    d("DBSIZE")
    for k in keys:
        d("HLEN", k)
        d("OBJECT", "ENCODING", k)
        d("HGET", k, "f0")
        same_content(d, "HGETALL", k)
    # SCAN TYPE hash finds every hash (and only hashes) on every shard
    d("SET", "a-string", "x")
    found, cursor = set(), b"0"
    while True:
        cursor, items = parse(d.a.cmd("SCAN", cursor, "TYPE", "hash", "COUNT", "50"))
        found |= set(items)
        if cursor == b"0":
            break
    assert found == {k.encode() for k in keys}
    assert {key_shard(k) for k in keys} == set(range(NSHARDS))
    for k in keys[::2]:
        d("DEL", k)
    d("DBSIZE")
    d("DEL", *keys[1::2])  # a multi-shard DEL of hashes
    d("DBSIZE")


# ---------- a seeded random differential stream ----------

FIELDS = ["a", "b", "c", "d", "e", "", "1", "-1", "long-field-name-xyz"]
VALUES = ["", "0", "1", "-1", "10", "3.5", "-2.25", "abc", "9223372036854775807", "-9223372036854775808",
          "1e3", " 1", "007", "inf", "x" * 10, "y" * 30]


def random_command(rng, keys):
    key = rng.choice(keys)
    f = rng.choice(FIELDS)
    v = rng.choice(VALUES) if rng.random() < 0.8 else str(rng.randint(-100, 100))
    kind = rng.randint(0, 22)
    if kind in (0, 1):
        args = ["HSET", key]
        for _ in range(rng.randint(1, 4)):
            args += [rng.choice(FIELDS), rng.choice(VALUES)]
        if rng.random() < 0.05:
            args.pop()
        return args
    if kind == 2:
        return ["HSETNX", key, f, v]
    if kind == 3:
        args = ["HMSET", key]
        for _ in range(rng.randint(1, 3)):
            args += [rng.choice(FIELDS), rng.choice(VALUES)]
        return args
    if kind == 4:
        return ["HGET", key, f]
    if kind == 5:
        return ["HMGET", key] + rng.sample(FIELDS, rng.randint(1, 4))
    if kind in (6, 7):
        return ["HDEL", key] + rng.sample(FIELDS, rng.randint(1, 3))
    if kind == 8:
        return ["HLEN", key]
    if kind == 9:
        return ["HSTRLEN", key, f]
    if kind == 10:
        return ["HEXISTS", key, f]
    if kind == 11:
        return ["HINCRBY", key, f, rng.choice(["1", "-3", "100", "9223372036854775807", "x", "1.5"])]
    if kind == 12:
        return ["HINCRBYFLOAT", key, f, rng.choice(["0.5", "-1.25", "3", "1e2", "x", "inf", "-0.5"])]
    if kind == 13:
        return [rng.choice(["HKEYS", "HVALS", "HGETALL"]), key]
    if kind == 14:
        return ["OBJECT", "ENCODING", key]
    if kind == 15:
        return ["DEL", key]
    if kind == 16:
        return ["SET", key, v]
    if kind == 17:
        return ["TYPE", key]
    if kind == 18:
        return ["HRANDFIELD", key] + rng.choice([["0"], ["x"], ["1", "BAD"], ["-5", "WITHVALUES", "x"]])
    if kind == 19:
        return ["EXISTS", key]
    if kind == 20:
        return ["HSCAN", key, "0", "MATCH", rng.choice(["*", "a*", "?", "[a-c]"])]
    if kind == 21:
        return ["COPY", key, rng.choice(keys)] + rng.choice([[], ["REPLACE"]])
    return ["RENAME", key, rng.choice(keys)]


@pytest.mark.parametrize("seed,proto", [(1, 2), (2, 3), (3, 2), (4, 3)])
def test_random_stream(d, thresholds, seed, proto):
    rng = random.Random(seed)
    if proto == 3:
        d.both("HELLO", "3")
    # small thresholds so that hashes convert during the stream
    config_both(d, "hash-max-listpack-entries", rng.choice([3, 5, 128]))
    config_both(d, "hash-max-listpack-value", rng.choice([8, 20, 64]))
    keys = [A0, A1, B0, B1, "k"]
    encodings = {}
    for _ in range(600):
        args = random_command(rng, keys)
        name = args[0].upper()
        if name in ("HKEYS", "HVALS", "HGETALL") or name == "HSCAN":
            # order follows the table for hashtable hashes
            x, y = d.both(*args)
            if x != y:
                assert parse(d.a.cmd("OBJECT", "ENCODING", args[1])) == b"hashtable", (args, x, y)
                px, py = parse(x), parse(y)
                if name == "HSCAN":  # one step of a hashtable: compare whole scans
                    mine, _ = full_hscan(d.a, *args[1:2], *args[3:])
                    theirs, _ = full_hscan(d.b, *args[1:2], *args[3:])
                    assert sorted(set(mine)) == sorted(set(theirs)), args
                elif name == "HGETALL":
                    assert x[:1] == y[:1] and pairs(px) == pairs(py), args
                else:
                    assert sorted(px) == sorted(py), args
            continue
        got = d(*args)
        if name == "OBJECT":
            encodings[got] = encodings.get(got, 0) + 1
    for k in keys:
        d("TYPE", k)
        d("OBJECT", "ENCODING", k)
        same_content(d, "HGETALL", k)
