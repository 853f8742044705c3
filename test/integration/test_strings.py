"""STRING commands: Tessera's raw reply bytes must equal Redis 7.0's, in RESP2
and RESP3, for valid calls and every error case, with keys on one shard and
spread over several (MGET/MSET/MSETNX/LCS then run as multi-shard txns).

The reference is a real redis-server (fixture `reference`); the tests that
compare against it are skipped when it is not installed.
"""
import random
import time

import pytest

from tessera_testlib import NSHARDS, Diff, crc16, key_shard, keys_on


# ---------- key placement (the slot function is in tessera_testlib) ----------

# Two keys on the first shard and two on the last one.
A0, A1 = keys_on(0, "a", 2)
B0, B1 = keys_on(NSHARDS - 1, "b", 2)


def test_key_placement():
    assert crc16(b"123456789") == 0x31C3  # the XMODEM check value
    if NSHARDS > 1:
        assert key_shard(A0) != key_shard(B0)


# ---------- comparing two servers ----------

class Pair(Diff):
    """A Diff (a raw connection to Tessera, one to Redis) that collects
    mismatches instead of failing at the first."""

    def __init__(self, tessera, redis):
        super().__init__(tessera, redis)
        self.mismatches = []

    def check(self, *args):
        got, want = self.both(*args)
        if got != want:
            self.mismatches.append("%r:\n  tessera %r\n  redis   %r" % (args, got[:400], want[:400]))
        return got

    def run(self, cases):
        for args in cases:
            self.check(*args)

    def hello(self, proto):
        # The HELLO replies differ (server name, client id): only switch.
        self.both("HELLO", str(proto))

    def assert_clean(self):
        assert not self.mismatches, "%d mismatches:\n%s" % (len(self.mismatches), "\n".join(self.mismatches))


@pytest.fixture
def pair(d):
    return Pair(d.a, d.b)


def has_lists(p):
    """Whether Tessera implements LPUSH yet (needed to create a non-string key)."""
    got = p.a.cmd("LPUSH", "__probe", "x")
    p.a.cmd("DEL", "__probe")
    return not got.startswith(b"-ERR unknown command")


# ---------- fixed cases ----------

def set_cases():
    return [
        ("SET", A0, "v"), ("GET", A0),
        ("SET", A0, "v", "EX", "0"), ("SET", A0, "v", "EX", "-1"), ("SET", A0, "v", "EX", "abc"),
        ("SET", A0, "v", "EX", "9223372036854775807"), ("SET", A0, "v", "EX", "9223372036854775"),
        ("SET", A0, "v", "PX", "9223372036854775807"), ("SET", A0, "v", "PX", "0"),
        ("SET", A0, "v", "EXAT", "0"), ("SET", A0, "v", "PXAT", "-5"), ("SET", A0, "v", "EXAT", "x"),
        ("SET", A0, "v", "EXAT", "9223372036854775"), ("SET", A0, "v", "EXAT", "9223372036854776"),
        ("SET", A0, "v", "PXAT", "9223372036854775807"), ("GET", A0),
        ("SET", A0, "v", "PXAT", "1"), ("GET", A0),
        ("SET", A0, "v", "EX", "10", "PX", "10"), ("SET", A0, "v", "NX", "XX"), ("SET", A0, "v", "XX", "NX"),
        ("SET", A0, "v", "KEEPTTL", "EX", "10"), ("SET", A0, "v", "EX", "10", "KEEPTTL"),
        ("SET", A0, "v", "PXAT", "10", "EXAT", "10"), ("SET", A0, "v", "EX"), ("SET", A0, "v", "EX", "10", "EX"),
        ("SET", A0, "v", "foo"), ("SET", A0, "v", "PERSIST"), ("SET", A0, "v", "NXX"), ("SET", A0, "v", ""),
        ("SET", A0, "v", "EX", "100", "EX", "100"), ("SET", A0, "v", "NX", "NX"), ("SET", A0, "v", "GET", "GET"),
        ("SET", A0, "v", "nX"), ("SET", A0, "w", "Xx", "gEt"), ("SET", A0, "x", "KeepTTL"),
        ("SET", A1, "v", "GET"), ("SET", A1, "w", "NX", "GET"), ("SET", A1, "x", "XX", "GET"),
        ("SET", B0, "v", "XX"), ("SET", B0, "v", "XX", "GET"), ("SET", B0, "v", "NX"), ("SET", B0, "w", "NX"),
        ("SET", B0, "w", "NX", "GET"), ("GET", B0), ("SET", B0, "z", "EX", "abc", "GET"),
        ("SET", B0, "z", "EX", "0", "GET"), ("SET", B0, "z", "PX", "100000", "GET"), ("GET", B0),
        ("SET",), ("SET", A0), ("GET",), ("GET", A0, A1),
        ("SETNX", A0, "x"), ("SETNX", B1, "x"), ("SETNX", B1, "y"), ("GET", B1), ("SETNX", B1),
        ("SETEX", A0, "0", "v"), ("SETEX", A0, "-1", "v"), ("SETEX", A0, "abc", "v"),
        ("SETEX", A0, "9223372036854775807", "v"), ("SETEX", A0, "9223372036854775", "v"),
        ("PSETEX", A0, "0", "v"), ("PSETEX", A0, "9223372036854775807", "v"), ("PSETEX", A0, "1.5", "v"),
        ("SETEX", A0, "100", "sv"), ("GET", A0), ("PSETEX", A0, "100000", "12"), ("GET", A0), ("SETEX", A0, "1"),
        ("GETSET", A0, "g"), ("GETSET", "nokey", "g"), ("GET", "nokey"), ("GETSET", A0),
        ("GETDEL", A0), ("GETDEL", A0), ("GETDEL", "missing"), ("GETDEL",),
    ]


def getex_cases():
    return [
        ("SET", A0, "v"),
        ("GETEX", A0), ("GETEX", A0, "EX", "0"), ("GETEX", A0, "EX", "abc"), ("GETEX", A0, "PX", "-1"),
        ("GETEX", A0, "PERSIST", "EX", "10"), ("GETEX", A0, "EX", "10", "PERSIST"), ("GETEX", A0, "foo"),
        ("GETEX", A0, "GET"), ("GETEX", A0, "KEEPTTL"), ("GETEX", A0, "NX"), ("GETEX", A0, "XX"),
        ("GETEX", A0, "EX"), ("GETEX", A0, "EX", "10", "PX", "10"),
        ("GETEX", A0, "PX", "9223372036854775807"), ("GETEX", A0, "EXAT", "9223372036854775807"),
        ("GETEX", A0, "EX", "9223372036854775"), ("GETEX", A0, "EXAT", "9223372036854775"),
        ("GETEX", "nokey", "EX", "0"), ("GETEX", "nokey", "foo"), ("GETEX", "nokey"),
        ("GETEX", A0, "PERSIST"), ("GETEX", A0, "EX", "100"), ("GETEX", A0, "EX", "100", "EX", "200"),
        ("GETEX", A0, "PXAT", "1"), ("GET", A0), ("GETEX", A0, "persist"),
        ("SET", A0, "12345"), ("GETEX", A0, "PX", "100000"), ("GETEX", A0, "EXAT", "1"), ("EXISTS", A0),
        ("GETEX",),
    ]


def counter_cases():
    return [
        ("SET", A0, "9223372036854775807"), ("INCR", A0), ("INCRBY", A0, "0"), ("INCRBY", A0, "1"),
        ("SET", A0, "-9223372036854775808"), ("DECR", A0), ("DECRBY", A0, "1"), ("INCRBY", A0, "-1"),
        ("INCRBY", A0, "abc"), ("INCRBY", A0, ""), ("INCRBY", A0, "1.0"), ("INCRBY", A0, "+1"),
        ("INCRBY", A0, "-9223372036854775808"), ("INCRBY", A0, "9223372036854775808"),
        ("DECRBY", A0, "-9223372036854775808"), ("DECRBY", "nokey", "-9223372036854775808"),
        ("SET", A0, "5"), ("DECRBY", A0, "-9223372036854775808"), ("DECRBY", A0, "9223372036854775807"),
        ("INCRBY", A0, "9223372036854775807"), ("INCRBY", A0, "-9223372036854775808"), ("DECRBY", A0, "3"),
        ("SET", A0, " 1"), ("INCR", A0), ("SET", A0, "1 "), ("INCR", A0), ("SET", A0, "1.5"), ("INCR", A0),
        ("SET", A0, "01"), ("INCR", A0), ("SET", A0, "-0"), ("INCR", A0), ("SET", A0, "+5"), ("INCR", A0),
        ("SET", A0, ""), ("INCR", A0), ("SET", A0, "99999999999999999999"), ("INCR", A0),
        ("INCR", A1), ("INCR", A1), ("DECR", A1), ("DECR", A1), ("DECR", A1), ("GET", A1),
        ("INCRBY", B0, "10"), ("DECRBY", B0, "25"), ("GET", B0), ("INCR",), ("INCRBY", A0),
        # INCRBYFLOAT: Redis prints the long double with %.17Lf, trailing zeros trimmed.
        ("SET", A0, "10.5"), ("INCRBYFLOAT", A0, "0.1"), ("INCRBYFLOAT", A0, "2.0e2"),
        ("SET", A0, "3.0e3"), ("INCRBYFLOAT", A0, "0"), ("INCRBYFLOAT", A0, "1e-5"),
        ("SET", A0, "5.0e15"), ("INCRBYFLOAT", A0, "0"), ("INCRBYFLOAT", A0, "1.5e308"),
        ("INCRBYFLOAT", A0, "inf"), ("INCRBYFLOAT", A0, "-inf"), ("INCRBYFLOAT", A0, "nan"),
        ("INCRBYFLOAT", A0, "abc"), ("INCRBYFLOAT", A0, " 1"), ("INCRBYFLOAT", A0, "1 "), ("INCRBYFLOAT", A0, ""),
        ("INCRBYFLOAT", A0, "1e5000"), ("INCRBYFLOAT", A0, "1e-5000"), ("INCRBYFLOAT", A0, "0x10"),
        ("SET", A0, "abc"), ("INCRBYFLOAT", A0, "1"), ("INCRBYFLOAT", A0, "x"), ("SET", A0, "inf"),
        ("INCRBYFLOAT", A0, "1"), ("SET", A0, "1e308"), ("INCRBYFLOAT", A0, "1e308"),
        ("INCRBYFLOAT", A0, "1.7976931348623157e308"), ("GET", A0), ("INCRBYFLOAT", A0, "1e4000"),
        ("INCRBYFLOAT", A0, "-1e4000"),
        ("INCRBYFLOAT", A1, "1.10"), ("INCRBYFLOAT", A1, "-1.1"), ("INCRBYFLOAT", A1, "-1e-30"),
        ("INCRBYFLOAT", A1, "1e-4940"), ("INCRBYFLOAT", A1, "1e400"), ("INCRBYFLOAT", A1, "1e-400"),
        ("SET", B1, "100"), ("INCRBYFLOAT", B1, "1.5"), ("INCRBYFLOAT", B1, "-101.5"), ("INCR", B1),
        ("INCRBYFLOAT", B1, "3"), ("INCR", B1), ("INCRBYFLOAT", B1, "-0.25"), ("INCRBYFLOAT", B1, "1e15"),
        ("INCRBYFLOAT", B1, "0.1"), ("INCRBYFLOAT", B1, "1e20"), ("GET", B1), ("INCRBYFLOAT", B1),
    ]


def range_cases():
    return [
        ("APPEND", A0, "123"), ("APPEND", A0, "4"), ("GET", A0), ("APPEND", A0, ""), ("STRLEN", A0),
        ("APPEND", A1, ""), ("EXISTS", A1), ("APPEND", A1, "abc"), ("APPEND", A1, "x" * 50), ("STRLEN", A1),
        ("APPEND", A0), ("STRLEN", "nokey"), ("STRLEN",),
        ("SETRANGE", B0, "536870912", "x"), ("SETRANGE", B0, "9223372036854775807", "x"),
        ("SETRANGE", B0, "536870912", ""), ("SETRANGE", B0, "-1", ""), ("SETRANGE", B0, "-1", "x"),
        ("SETRANGE", B0, "abc", "x"), ("SETRANGE", B0, "1.5", "x"), ("SETRANGE", B0, "0", ""), ("EXISTS", B0),
        ("SETRANGE", B0, "2", "ab"), ("GET", B0), ("SETRANGE", B0, "0", "X"), ("SETRANGE", B0, "10", "end"),
        ("GET", B0), ("STRLEN", B0), ("SETRANGE", B0, "536870912", ""), ("SETRANGE", B0, "536870910", "abc"),
        ("SET", B1, "12345"), ("SETRANGE", B1, "1", ""), ("SETRANGE", B1, "5", "9"), ("GET", B1),
        ("SETRANGE", B1, "1", "XY"), ("GET", B1), ("SETRANGE", B1, "0"),
        ("SET", A0, "hello"),
        ("GETRANGE", A0, "-3", "-1"), ("GETRANGE", A0, "-1", "-3"), ("GETRANGE", A0, "0", "100"),
        ("GETRANGE", A0, "5", "10"), ("GETRANGE", A0, "4", "10"), ("GETRANGE", A0, "-100", "-100"),
        ("GETRANGE", A0, "-100", "0"), ("GETRANGE", A0, "3", "2"), ("GETRANGE", A0, "0", "-100"),
        ("GETRANGE", A0, "-1", "-1"), ("GETRANGE", A0, "0", "0"), ("GETRANGE", A0, "0", "-1"),
        ("GETRANGE", A0, "9223372036854775807", "-9223372036854775808"),
        ("GETRANGE", A0, "-9223372036854775808", "9223372036854775807"),
        ("GETRANGE", A0, "-9223372036854775808", "-9223372036854775808"),
        ("GETRANGE", A0, "a", "0"), ("GETRANGE", A0, "0", "a"), ("GETRANGE", A0, "0"),
        ("GETRANGE", "nokey", "0", "-1"), ("GETRANGE", "nokey", "a", "0"), ("GETRANGE", "nokey", "5", "1"),
        ("SET", A1, ""), ("GETRANGE", A1, "0", "-1"), ("GETRANGE", A1, "0", "0"), ("GETRANGE", A1, "-1", "0"),
        ("GETRANGE", A1, "-1", "-1"),
        ("SET", A1, "123456"), ("GETRANGE", A1, "1", "3"), ("GETRANGE", A1, "-2", "-1"),
        ("SUBSTR", A0, "1", "2"), ("SUBSTR", A0, "a", "2"), ("SUBSTR", A0, "-2", "-1"), ("SUBSTR", A0, "1"),
    ]


def multi_cases():
    return [
        ("MSET", A0, "1", B0, "2"), ("MGET", A0, B0), ("MGET", B0, A0, "nokey", B0, A0),
        ("MSET", A0, "1", B0), ("MSETNX", A0, "1", B0), ("MSET", B0, "x", A0), ("MSET", A0),
        ("MSET", A0, "x", B0, "y", A0, "z", B0, "w"), ("MGET", A0, B0),
        ("MSET", A0, "1", A1, "2"), ("MGET", A0, A1, A0),
        ("MSETNX", A1, "n", B1, "n"), ("MGET", A1, B1), ("MSETNX", B1, "n", B0, "n"),
        ("DEL", A1, B1), ("MSETNX", A1, "n", B1, "m", B1, "o"), ("MGET", A1, B1), ("MSETNX", A1, "q"),
        ("DEL", A1), ("MSETNX", A1, "q"), ("GET", A1), ("MSETNX",), ("MGET",),
        ("MSET", A0, "7", B0, "7" * 50, A1, "77777777777777777777", B1, "-12"),
        ("MGET", A0, B0, A1, B1, "nokey"),
        ("MSET", A0, "ohmytext", B0, "mynewtext"),
        ("LCS", A0, B0), ("LCS", A0, B0, "LEN"), ("LCS", A0, B0, "IDX"),
        ("LCS", A0, B0, "IDX", "MINMATCHLEN", "4"), ("LCS", A0, B0, "IDX", "WITHMATCHLEN"),
        ("LCS", A0, B0, "IDX", "WITHMATCHLEN", "MINMATCHLEN", "4"), ("LCS", A0, B0, "LEN", "IDX"),
        ("LCS", A0, B0, "IDX", "LEN"), ("LCS", A0, B0, "MINMATCHLEN"), ("LCS", A0, B0, "MINMATCHLEN", "abc"),
        ("LCS", A0, B0, "MINMATCHLEN", "-5", "IDX"), ("LCS", A0, B0, "foo"), ("LCS", A0, B0, "LEN", "LEN"),
        ("LCS", A0, B0, "MINMATCHLEN", "1", "LEN"), ("LCS", A0, B0, "WITHMATCHLEN"),
        ("LCS", A0, "nokey"), ("LCS", "nokey", B0, "IDX"), ("LCS", "nokey", "nokey2", "IDX"),
        ("LCS", "nokey", "nokey2", "LEN"), ("LCS", A0, A0, "IDX", "WITHMATCHLEN"), ("LCS", A0),
        ("MSET", A1, "12345", B1, "2345"), ("LCS", A1, B1, "IDX", "WITHMATCHLEN"), ("LCS", B1, A1),
        ("MSET", A1, "aaaaabbbbbcccccdddddeeeee", B1, "xxaaayybbbbzzccccdwwweeeeeq"),
        ("LCS", A1, B1), ("LCS", A1, B1, "IDX", "WITHMATCHLEN"), ("LCS", B1, A1, "IDX", "MINMATCHLEN", "3"),
        ("LCS", A1, A0, "IDX"),
    ]


def all_cases():
    return set_cases() + getex_cases() + counter_cases() + range_cases() + multi_cases()


def test_cases_resp2(pair):
    pair.run(all_cases())
    pair.assert_clean()


def test_cases_resp3(pair):
    pair.hello(3)
    pair.run(all_cases())
    pair.hello(2)
    pair.check("GET", B0)
    pair.assert_clean()


def test_multi_shard_keys_span_shards():
    if NSHARDS < 2:
        pytest.skip("one shard")
    cases = [c for c in multi_cases() if c[0] in ("MGET", "MSET", "MSETNX", "LCS")]
    spanning = [c for c in cases if len({key_shard(k) for k in c[1:] if k in (A0, A1, B0, B1)}) > 1]
    assert len(spanning) > 20


def test_wrongtype(pair):
    if not has_lists(pair):
        pytest.skip("Tessera has no list type yet")
    for proto in (2, 3):
        pair.hello(proto)
        pair.both("DEL", A1, B1)
        pair.run([
            ("LPUSH", A1, "x"), ("LPUSH", B1, "y"), ("SET", A0, "v"), ("SET", B0, "w"),
            ("GET", A1), ("SET", A1, "v", "GET"), ("SET", A1, "v", "NX", "GET"), ("SET", A1, "v", "XX", "GET"),
            ("SET", A1, "v", "EX", "abc", "GET"), ("SET", A1, "v", "EX", "0", "GET"), ("SET", A1, "v", "GETT"),
            ("GETSET", A1, "x"), ("GETDEL", A1), ("GETEX", A1), ("GETEX", A1, "EX", "0"), ("GETEX", A1, "foo"),
            ("APPEND", A1, "x"), ("STRLEN", A1), ("INCR", A1), ("DECR", A1), ("INCRBY", A1, "2"),
            ("INCRBY", A1, "x"), ("DECRBY", A1, "-9223372036854775808"), ("INCRBYFLOAT", A1, "1"),
            ("INCRBYFLOAT", A1, "x"), ("GETRANGE", A1, "0", "1"), ("GETRANGE", A1, "x", "1"),
            ("SETRANGE", A1, "0", ""), ("SETRANGE", A1, "-1", "x"), ("SETRANGE", A1, "536870912", "x"),
            ("SETRANGE", A1, "0", "x"), ("SUBSTR", A1, "0", "1"),
            ("MGET", A0, A1, B0, B1, "nokey"), ("MGET", A1, B1), ("MSETNX", A1, "1", "nokey", "2"),
            ("LCS", A0, A1), ("LCS", A1, A0, "foo"), ("LCS", A1, "nokey"), ("LCS", B0, A1, "IDX", "LEN"),
            ("LCS", A1, B1), ("LCS", A0, B1, "LEN"),
            ("SET", A1, "now a string"), ("GET", A1),
        ])
    pair.assert_clean()


# ---------- a seeded random differential stream ----------

VALUES = ["", "0", "1", "-1", "10", "3.5", "-2.25", "abc", "hello world", "9223372036854775807",
          "-9223372036854775808", "1e3", " 1", "007", "1.0", "inf", "x" * 60, "ohmytext", "mynewtext"]


def random_command(rng, keys, now_ms):
    key = rng.choice(keys)
    val = rng.choice(VALUES) if rng.random() < 0.7 else str(rng.randint(-1000, 1000))

    def expire_opt():
        return rng.choice([
            ["EX", "100"], ["PX", "100000"], ["EXAT", str(now_ms // 1000 + 1000)], ["PXAT", str(now_ms + 10**6)],
            ["PXAT", "1"], ["EXAT", "1"], ["EX", "0"], ["PX", "-5"], ["EX", "abc"], ["EX"],
            ["EX", "9223372036854775807"],
        ])

    def set_opts():
        opts = []
        for _ in range(rng.randint(0, 3)):
            opts += rng.choice([["NX"], ["XX"], ["GET"], ["KEEPTTL"], expire_opt(), ["BOGUS"], ["PERSIST"]])
        return opts

    kind = rng.randint(0, 21)
    if kind == 0:
        return ["SET", key, val] + set_opts()
    if kind == 1:
        return ["GET", key]
    if kind == 2:
        return ["SETNX", key, val]
    if kind == 3:
        return [rng.choice(["SETEX", "PSETEX"]), key, rng.choice(["100", "100000", "0", "-1", "x"]), val]
    if kind == 4:
        return ["GETSET", key, val]
    if kind == 5:
        return ["GETDEL", key]
    if kind == 6:
        opts = rng.choice([[], ["PERSIST"], expire_opt(), ["NX"], expire_opt() + ["PERSIST"]])
        return ["GETEX", key] + opts
    if kind == 7:
        return ["MGET"] + [rng.choice(keys) for _ in range(rng.randint(1, 6))]
    if kind in (8, 9):
        cmd = "MSET" if kind == 8 else "MSETNX"
        args = [cmd]
        for _ in range(rng.randint(1, 4)):
            args += [rng.choice(keys), rng.choice(VALUES)]
        if rng.random() < 0.1:
            args.pop()
        return args
    if kind == 10:
        return ["APPEND", key, rng.choice(VALUES)]
    if kind == 11:
        return ["STRLEN", key]
    if kind == 12:
        return [rng.choice(["INCR", "DECR"]), key]
    if kind == 13:
        return [rng.choice(["INCRBY", "DECRBY"]), key,
                rng.choice(["1", "-7", "1000000", "9223372036854775807", "-9223372036854775808", "x", "1.5"])]
    if kind == 14:
        return ["INCRBYFLOAT", key, rng.choice(["0.1", "-1.5", "3", "1e3", "2.5e-3", "x", "inf", "-0.1"])]
    if kind == 15:
        idx = ["0", "1", "-1", "-3", "5", "100", "-100", "2", "x"]
        return [rng.choice(["GETRANGE", "SUBSTR"]), key, rng.choice(idx), rng.choice(idx)]
    if kind == 16:
        return ["SETRANGE", key, rng.choice(["0", "1", "3", "10", "-1", "x", "536870912"]), rng.choice(VALUES)]
    if kind == 17:
        opts = rng.choice([[], ["LEN"], ["IDX"], ["IDX", "WITHMATCHLEN"], ["IDX", "MINMATCHLEN", "2"],
                           ["IDX", "LEN"], ["FOO"], ["MINMATCHLEN"], ["IDX", "MINMATCHLEN", "x", "WITHMATCHLEN"]])
        return ["LCS", key, rng.choice(keys)] + opts
    if kind == 18:
        return ["DEL", key]
    if kind == 19:
        return ["EXISTS", key]
    if kind == 20:
        return ["SET", key, rng.choice(VALUES)]
    return ["APPEND", key, str(rng.randint(0, 99))]


@pytest.mark.parametrize("seed,proto", [(1, 2), (2, 3), (3, 2), (4, 3)])
def test_random_stream(pair, seed, proto):
    rng = random.Random(seed)
    keys = [A0, A1, B0, B1, "k", "{" + A0 + "}x"]
    now_ms = int(time.time() * 1000)
    pair.hello(proto)
    for _ in range(300):
        pair.check(*random_command(rng, keys, now_ms))
    pair.check("MGET", *keys)
    pair.assert_clean()


# ---------- encodings and TTLs ----------

def test_object_encoding(pair):
    steps = [
        ("SET", A0, "12345"), ("SET", A1, "abc"), ("SET", B0, "x" * 45), ("SET", B1, "123456789012345678901"),
        ("APPEND", "n1", "123"), ("APPEND", "n2", "abc"), ("MSET", A0, "7", B0, "-12"), ("SETEX", "s", "100", "42"),
        ("GETSET", "g", "99"), ("INCR", "i"), ("INCRBYFLOAT", "f", "1.5"), ("INCRBYFLOAT", "f2", "3"),
        ("SETRANGE", "r", "0", "123"), ("SET", "neg", "-0"), ("SET", "big", "9223372036854775808"),
    ]
    for s in steps:
        pair.both(*s)
    for k in (A0, A1, B0, B1, "n1", "n2", "s", "g", "i", "f", "f2", "r", "neg", "big"):
        pair.check("OBJECT", "ENCODING", k)
    # Appending and overwriting a range always leave a raw string; INCR an int.
    for s in [("APPEND", "n1", "4"), ("APPEND", "n2", "d"), ("SETRANGE", A0, "0", "8"), ("INCR", "f2"),
              ("INCRBYFLOAT", "i", "1"), ("INCR", "r")]:
        pair.both(*s)
    for k in ("n1", "n2", A0, "f2", "i", "r"):
        pair.check("OBJECT", "ENCODING", k)
    pair.assert_clean()


def test_ttl_kept_and_cleared(r, ref):
    for c in (r, ref):
        c.set("t", "10", ex=1000)
        c.incr("t")
        assert 0 < c.ttl("t") <= 1000
        c.incrby("t", 5)
        c.decr("t")
        c.incrbyfloat("t", 1.5)
        c.append("t", "0")
        c.setrange("t", 0, "9")
        assert 0 < c.ttl("t") <= 1000
        assert c.get("t") == b"96.50"
        c.set("t", "x", keepttl=True)
        assert 0 < c.ttl("t") <= 1000
        c.set("t", "y")
        assert c.ttl("t") == -1
        c.set("t", "z", px=500000)
        assert 0 < c.pttl("t") <= 500000
        c.getset("t", "w")
        assert c.ttl("t") == -1
        c.getex("t", ex=300)
        assert 0 < c.ttl("t") <= 300
        c.getex("t", persist=True)
        assert c.ttl("t") == -1
        c.setex("t", 200, "v")
        assert 0 < c.ttl("t") <= 200
        c.mset({"t": "m"})
        assert c.ttl("t") == -1


def test_expire_times(r):
    now = int(time.time())
    r.set("e1", "v", exat=now + 100)
    assert 95 <= r.ttl("e1") <= 100
    r.set("e2", "v", pxat=(now + 100) * 1000)
    assert 95 <= r.ttl("e2") <= 100
    r.set("e3", "v", px=1)
    time.sleep(0.01)
    assert r.get("e3") is None
    r.set("e4", "v", pxat=1)
    assert r.get("e4") is None
    r.set("e5", "v")
    assert r.getex("e5", exat=1) == b"v"
    assert r.exists("e5") == 0


def test_large_values(pair):
    big = "x" * 100000
    pair.run([
        ("SET", A0, big), ("APPEND", A0, big), ("STRLEN", A0), ("GETRANGE", A0, "99990", "100010"),
        ("SETRANGE", A0, "250000", "end"), ("STRLEN", A0), ("GETRANGE", A0, "-5", "-1"),
        ("MSET", A1, big, B1, big + "y"), ("MGET", A1, B1, "nokey"),
        ("LCS", A0, "nokey", "LEN"),
    ])
    pair.assert_clean()


def test_many_keys(pair):
    keys = ["m%d" % i for i in range(600)]
    mset = ["MSET"]
    for i, k in enumerate(keys[::2]):
        mset += [k, str(i) if i % 3 else "v%d" % i]
    pair.run([
        tuple(mset), ("MGET",) + tuple(keys), ("MGET",) + tuple(reversed(keys)) + tuple(keys[:50]),
        ("MSETNX",) + tuple(x for k in keys[1::2] for x in (k, "n")), ("MGET",) + tuple(keys[:100]),
        ("MSETNX",) + tuple(x for k in keys[:100] for x in (k, "z")),
    ])
    pair.assert_clean()


def test_multi_shard_atomic(server):
    """MSET over two shards is all-or-nothing for a concurrent MGET."""
    if NSHARDS < 2:
        pytest.skip("one shard")
    import threading
    stop = threading.Event()
    errors = []

    def writer():
        c = server.client()
        i = 0
        while not stop.is_set():
            i += 1
            c.mset({A0: i, B0: i, A1: -i, B1: -i})

    def reader():
        c = server.client()
        for _ in range(2000):
            a, b, x, y = c.mget(A0, B0, A1, B1)
            if a != b or x != y:
                errors.append((a, b, x, y))

    w = threading.Thread(target=writer)
    w.start()
    try:
        reader()
    finally:
        stop.set()
        w.join()
    assert not errors[:5]
