"""SORTED SET commands: Tessera's raw reply bytes must equal Redis 7.0's, in
RESP2 and RESP3, for valid calls and error cases; encodings (listpack /
skiplist) must convert exactly when Redis converts; ZRANDMEMBER and ZSCAN
are compared by their properties; a seeded random stream of zset commands
over small key/member spaces must agree reply for reply.

Multi-key commands use keys sharing a hash tag ({t}), and also keys on
different shards (they then run through ts_multi_borrow).
"""
import random

import pytest

from tessera_testlib import NSHARDS, keys_on, parse

K = "{t}z1"
K2 = "{t}z2"
K3 = "{t}z3"
D = "{t}dst"
S = "{t}str"


def hello(d, proto):
    d.both("HELLO", str(proto))


@pytest.fixture(params=[2, 3])
def dp(d, request):
    hello(d, request.param)
    return d


def fill(d, key, pairs):
    args = []
    for m, s in pairs:
        args += [str(s), m]
    d("ZADD", key, *args)


SCORES = ["0.1", "1e300", "-0", "3.0", "1.5e-7", "inf", "-inf", "+inf", "123456789012345678",
          "-1.5", "0", "1e-320", "4503599627370496", "-4503599627370495", "0x10", "1E5", "7"]


def test_score_formatting(dp):
    d = dp
    for i, s in enumerate(SCORES):
        d("ZADD", K, s, "m%d" % i)
        d("ZSCORE", K, "m%d" % i)
    d("ZRANGE", K, "0", "-1", "WITHSCORES")
    d("ZSCAN", K, "0", "COUNT", "100")
    d("CONFIG", "SET", "zset-max-listpack-entries", "0")
    d("ZUNIONSTORE", K2, "1", K)
    d("OBJECT", "ENCODING", K2)
    for i, s in enumerate(SCORES):
        d("ZSCORE", K2, "m%d" % i)
    d("ZRANGE", K2, "0", "-1", "WITHSCORES")
    d("CONFIG", "SET", "zset-max-listpack-entries", "128")
    for bad in ["nan", "NaN", "abc", "", " 1", "1 ", "1e999", "-1e999", "1e-400", "inf1"]:
        d("ZADD", K, bad, "x")
    d("ZADD", K, "inf", "a")
    d("ZINCRBY", K, "-inf", "a")
    d("ZADD", K, "INCR", "-inf", "a")
    d("ZINCRBY", K, "1", "a")
    d("ZINCRBY", K, "0.1", "new")
    d("ZINCRBY", K, "0.2", "new")


def test_zadd_options(dp):
    d = dp
    d("ZADD", K, "1", "a", "2", "b")
    cases = [
        ("NX", "5", "a", "6", "c"), ("XX", "5", "a", "6", "d"), ("CH", "5", "a", "6", "e"),
        ("XX", "CH", "9", "a"), ("GT", "1", "a"), ("GT", "CH", "10", "a"), ("LT", "CH", "10", "a"),
        ("LT", "CH", "-1", "b"), ("GT", "LT", "1", "a"), ("NX", "XX", "1", "a"), ("NX", "GT", "1", "a"),
        ("NX", "LT", "1", "a"), ("INCR", "1", "a", "2", "b"), ("INCR", "5", "a"), ("INCR", "NX", "5", "a"),
        ("INCR", "XX", "5", "zz"), ("INCR", "GT", "-5", "a"), ("INCR", "LT", "-5", "a"),
        ("INCR", "GT", "5", "a"), ("1",), ("1", "a", "2"), ("nx",), ("NX", "1"), ("x", "1", "a"),
        ("1", "a", "bad", "b"), ("ch", "ch", "1", "q"), ("GT", "XX", "100", "q", "100", "a"),
    ]
    for cs in cases:
        d("ZADD", K, *cs)
        d("ZRANGE", K, "0", "-1", "WITHSCORES")
    d("ZADD", "{t}new", "XX", "1", "a")
    d("EXISTS", "{t}new")
    d("ZADD", "{t}new", "XX", "INCR", "1", "a")
    d("ZADD", "{t}new", "GT", "CH", "1", "a")
    d("ZADD", K, "0", "-0m")
    d("ZADD", K, "-0", "-0m")
    d("ZSCORE", K, "-0m")
    d("ZINCRBY", K, "1")
    d("ZINCRBY", K, "x", "a")
    d("ZINCRBY", K, "nx", "a")
    d("ZINCRBY", "{t}nokey", "2.5", "a")


def test_basic_reads(dp):
    d = dp
    fill(d, K, [("a", 1), ("b", 2), ("c", 3), ("d", 3), ("e", "-inf"), ("f", "inf"), ("", 0), ("\x00bin\xff", 2)])
    for args in [
        ("ZCARD", K), ("ZCARD", "{t}none"), ("ZSCORE", K, "a"), ("ZSCORE", K, "zz"), ("ZSCORE", "{t}none", "a"),
        ("ZMSCORE", K, "a", "zz", "", "f"), ("ZMSCORE", "{t}none", "a", "b"), ("ZRANK", K, "a"),
        ("ZRANK", K, "zz"), ("ZREVRANK", K, "a"), ("ZRANK", "{t}none", "a"), ("ZREVRANK", K, ""),
        ("ZCOUNT", K, "-inf", "+inf"), ("ZCOUNT", K, "(1", "3"), ("ZCOUNT", K, "(1", "(3"),
        ("ZCOUNT", K, "3", "1"), ("ZCOUNT", K, "(3", "3"), ("ZCOUNT", K, "x", "1"), ("ZCOUNT", K, "1", "nan"),
        ("ZCOUNT", K, "", "(2"), ("ZCOUNT", K, "(", "3"), ("ZCOUNT", K, " 1", "3"), ("ZCOUNT", "{t}none", "0", "1"),
        ("ZCOUNT", K, "(-inf", "(inf"), ("ZCOUNT", K, "-inf", "-inf"),
        ("ZLEXCOUNT", K, "-", "+"), ("ZLEXCOUNT", K, "[a", "[c"), ("ZLEXCOUNT", K, "(a", "(c"),
        ("ZLEXCOUNT", K, "+", "-"), ("ZLEXCOUNT", K, "-", "-"), ("ZLEXCOUNT", K, "a", "c"),
        ("ZLEXCOUNT", K, "[", "+"), ("ZLEXCOUNT", K, "(", "+"), ("ZLEXCOUNT", K, "+x", "+"),
        ("ZLEXCOUNT", K, "", "+"), ("ZLEXCOUNT", "{t}none", "-", "+"),
    ]:
        d(*args)


RANGES = [
    ("ZRANGE", K, "0", "-1"), ("ZRANGE", K, "0", "-1", "WITHSCORES"), ("ZRANGE", K, "-3", "-2", "withscores"),
    ("ZRANGE", K, "2", "1"), ("ZRANGE", K, "-100", "100"), ("ZRANGE", K, "5", "100"), ("ZRANGE", K, "100", "200"),
    ("ZRANGE", K, "0", "-1", "REV"), ("ZRANGE", K, "0", "2", "REV", "WITHSCORES"),
    ("ZRANGE", K, "1", "3", "BYSCORE"), ("ZRANGE", K, "(1", "3", "BYSCORE", "WITHSCORES"),
    ("ZRANGE", K, "3", "(1", "BYSCORE", "REV"), ("ZRANGE", K, "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"),
    ("ZRANGE", K, "-inf", "+inf", "BYSCORE", "LIMIT", "1", "-1"),
    ("ZRANGE", K, "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"),
    ("ZRANGE", K, "-inf", "+inf", "BYSCORE", "LIMIT", "0", "0"),
    ("ZRANGE", K, "-inf", "+inf", "BYSCORE", "LIMIT", "100", "1"),
    ("ZRANGE", K, "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "2", "3", "WITHSCORES"),
    ("ZRANGE", K, "[a", "[c", "BYLEX"), ("ZRANGE", K, "-", "+", "BYLEX", "LIMIT", "1", "3"),
    ("ZRANGE", K, "+", "-", "BYLEX", "REV"), ("ZRANGE", K, "(c", "[a", "BYLEX", "REV"),
    ("ZRANGE", K, "-", "+", "BYLEX", "WITHSCORES"), ("ZRANGE", K, "0", "1", "LIMIT", "0", "1"),
    ("ZRANGE", K, "0", "1", "REV", "REV"), ("ZRANGE", K, "0", "1", "BYSCORE", "BYLEX"),
    ("ZRANGE", K, "0", "1", "BYSCORE", "BYSCORE"), ("ZRANGE", K, "0", "1", "LIMIT", "0"),
    ("ZRANGE", K, "0", "1", "LIMIT", "x", "1", "BYSCORE"), ("ZRANGE", K, "a", "1"), ("ZRANGE", K, "0", "1", "foo"),
    ("ZRANGE", K, "a", "b", "BYSCORE"), ("ZRANGE", K, "a", "b", "BYLEX"), ("ZRANGE", "{t}none", "0", "-1"),
    ("ZRANGE", S, "0", "-1"),
    ("ZREVRANGE", K, "0", "-1"), ("ZREVRANGE", K, "1", "2", "WITHSCORES"), ("ZREVRANGE", K, "0", "1", "REV"),
    ("ZREVRANGE", K, "0", "1", "BYSCORE"),
    ("ZRANGEBYSCORE", K, "-inf", "+inf"), ("ZRANGEBYSCORE", K, "(1", "(3", "WITHSCORES"),
    ("ZRANGEBYSCORE", K, "1", "3", "LIMIT", "1", "1"), ("ZRANGEBYSCORE", K, "1", "3", "REV"),
    ("ZRANGEBYSCORE", K, "1", "3", "BYLEX"),
    ("ZREVRANGEBYSCORE", K, "+inf", "-inf"), ("ZREVRANGEBYSCORE", K, "3", "1", "WITHSCORES", "LIMIT", "1", "5"),
    ("ZREVRANGEBYSCORE", K, "1", "3"),
    ("ZRANGEBYLEX", K, "-", "+"), ("ZRANGEBYLEX", K, "[b", "(d", "LIMIT", "0", "1"),
    ("ZRANGEBYLEX", K, "-", "+", "WITHSCORES"), ("ZRANGEBYLEX", K, "b", "d"),
    ("ZREVRANGEBYLEX", K, "+", "-"), ("ZREVRANGEBYLEX", K, "(d", "[b"), ("ZREVRANGEBYLEX", K, "-", "+"),
    ("ZREVRANGEBYLEX", K, "+", "-", "LIMIT", "1", "2"),
]


@pytest.mark.parametrize("big", [False, True])
def test_ranges(dp, big):
    d = dp
    if big:
        d("CONFIG", "SET", "zset-max-listpack-entries", "0")
    fill(d, K, [("a", 1), ("b", 1), ("c", 1), ("d", 2), ("e", 3), ("f", 3), ("g", "inf"), ("h", "-inf"), ("", 1)])
    d("SET", S, "x")
    d("OBJECT", "ENCODING", K)
    for args in RANGES:
        d(*args)
    # lex ranges on members sharing a score
    d("DEL", K)
    fill(d, K, [(m, 0) for m in ["", "a", "aa", "ab", "b", "\x00", "\xff", "abc", "B"]])
    for args in [("ZRANGEBYLEX", K, "-", "+"), ("ZRANGEBYLEX", K, "[a", "[ab"), ("ZRANGEBYLEX", K, "(a", "(b"),
                 ("ZRANGEBYLEX", K, "[", "(a"), ("ZRANGEBYLEX", K, "(", "+"), ("ZLEXCOUNT", K, "[\x00", "[\xff"),
                 ("ZREVRANGEBYLEX", K, "[b", "(a"), ("ZREMRANGEBYLEX", K, "(a", "[abc"), ("ZRANGE", K, "0", "-1")]:
        d(*args)
    d("CONFIG", "SET", "zset-max-listpack-entries", "128")


@pytest.mark.parametrize("big", [False, True])
def test_remrange_and_rem(dp, big):
    d = dp
    if big:
        d("CONFIG", "SET", "zset-max-listpack-entries", "0")
    base = [(chr(97 + i), i) for i in range(10)]
    for args in [("ZREMRANGEBYRANK", K, "0", "1"), ("ZREMRANGEBYRANK", K, "-2", "-1"),
                 ("ZREMRANGEBYRANK", K, "5", "2"), ("ZREMRANGEBYRANK", K, "-100", "100"),
                 ("ZREMRANGEBYRANK", K, "20", "30"), ("ZREMRANGEBYRANK", K, "x", "1"),
                 ("ZREMRANGEBYSCORE", K, "(2", "5"), ("ZREMRANGEBYSCORE", K, "-inf", "(3"),
                 ("ZREMRANGEBYSCORE", K, "5", "2"), ("ZREMRANGEBYSCORE", K, "a", "2"),
                 ("ZREMRANGEBYSCORE", K, "-inf", "inf"), ("ZREMRANGEBYLEX", K, "[b", "(e"),
                 ("ZREMRANGEBYLEX", K, "-", "+"), ("ZREMRANGEBYLEX", K, "b", "e"),
                 ("ZREM", K, "a", "b", "zz"), ("ZREM", K, "zz"),
                 ("ZREM", K, *[chr(97 + i) for i in range(10)], "more")]:
        d("DEL", K)
        fill(d, K, base)
        d(*args)
        d("ZRANGE", K, "0", "-1", "WITHSCORES")
        d("EXISTS", K)
    for c in ["ZREMRANGEBYRANK", "ZREMRANGEBYSCORE", "ZREMRANGEBYLEX"]:
        d(c, "{t}none", "0", "1") if c != "ZREMRANGEBYLEX" else d(c, "{t}none", "-", "+")
    d("ZREM", "{t}none", "a")
    d("CONFIG", "SET", "zset-max-listpack-entries", "128")


@pytest.mark.parametrize("big", [False, True])
def test_pops(dp, big):
    d = dp
    if big:
        d("CONFIG", "SET", "zset-max-listpack-entries", "0")
    fill(d, K, [(chr(97 + i), i * 0.5) for i in range(8)])
    for args in [("ZPOPMIN", K), ("ZPOPMAX", K), ("ZPOPMIN", K, "2"), ("ZPOPMAX", K, "1"), ("ZPOPMIN", K, "0"),
                 ("ZPOPMIN", K, "-1"), ("ZPOPMIN", K, "x"), ("ZPOPMIN", K, "1", "2"), ("ZPOPMIN", "{t}none"),
                 ("ZPOPMIN", "{t}none", "0"), ("ZPOPMAX", "{t}none", "3"),
                 ("ZMPOP", "1", K, "MIN"), ("ZMPOP", "2", "{t}none", K, "MAX", "COUNT", "2"),
                 ("ZMPOP", "0", K, "MIN"), ("ZMPOP", "-1", K, "MIN"), ("ZMPOP", "x", K, "MIN"),
                 ("ZMPOP", "1", K, "MID"), ("ZMPOP", "2", K, "MIN"), ("ZMPOP", "1", K, "MIN", "COUNT", "0"),
                 ("ZMPOP", "1", K, "MIN", "COUNT", "-1"), ("ZMPOP", "1", K, "MIN", "COUNT"),
                 ("ZMPOP", "1", K, "MIN", "COUNT", "1", "COUNT", "1"), ("ZMPOP", "1", K, "MIN", "FOO"),
                 ("ZMPOP", "1", "{t}none", "MIN"), ("ZMPOP", "1", S, "MIN"), ("ZPOPMAX", K, "100"),
                 ("EXISTS", K), ("ZMPOP", "1", K, "MAX")]:
        if args[0] == "ZMPOP" and S in args:
            d("SET", S, "v")
        d(*args)
    d("CONFIG", "SET", "zset-max-listpack-entries", "128")


def test_setops(dp):
    d = dp
    fill(d, K, [("a", 1), ("b", 2), ("c", 3)])
    fill(d, K2, [("b", 10), ("c", 20), ("d", 30)])
    fill(d, K3, [("c", "inf"), ("d", 1), ("e", "-inf")])
    d("SET", S, "x")
    cmds = []
    for op in ["ZUNION", "ZINTER", "ZDIFF"]:
        cmds += [(op, "2", K, K2), (op, "3", K, K2, K3), (op, "3", K, K2, K3, "WITHSCORES"),
                 (op, "1", "{t}none"), (op, "2", K, "{t}none", "WITHSCORES"), (op, "0", K), (op, "-1", K),
                 (op, "x", K), (op, "3", K, K2), (op, "2", K, S), (op, "2", K, K2, "WITHSCORES", "WITHSCORES"),
                 (op, "2", K, K2, "WEIGHTS", "1", "2"), (op, "2", K, K2, "AGGREGATE", "MAX", "WITHSCORES"),
                 (op, "2", K, K2, "WEIGHTS", "1", "x"), (op, "2", K, K2, "WEIGHTS", "1"),
                 (op, "2", K, K2, "AGGREGATE", "avg"), (op, "2", K, K2, "foo")]
    for op in ["ZUNION", "ZINTER"]:
        cmds += [(op, "3", K, K2, K3, "WEIGHTS", "0", "1", "-1", "WITHSCORES"),
                 (op, "3", K, K2, K3, "WEIGHTS", "2", "0.5", "0", "AGGREGATE", "MIN", "WITHSCORES"),
                 (op, "3", K3, K3, K3, "WEIGHTS", "1", "-1", "0", "WITHSCORES"),
                 (op, "2", K3, K3, "WEIGHTS", "1", "-1", "WITHSCORES"),
                 (op, "2", K3, K3, "AGGREGATE", "MAX", "WEIGHTS", "1", "-1", "WITHSCORES"),
                 (op, "1", K, "AGGREGATE", "SUM", "AGGREGATE", "MIN", "WITHSCORES")]
    for op in ["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]:
        cmds += [(op, D, "2", K, K2), (op, D, "3", K, K2, K3), (op, D, "1", "{t}none"), (op, D, "0", K),
                 (op, D, "2", K, K2, "WITHSCORES"), (op, D, "2", K, S), (op, K, "2", K, K2),
                 (op, D, "2", K2, K3, "WEIGHTS", "2", "3")]
    cmds += [("ZINTERCARD", "2", K, K2), ("ZINTERCARD", "3", K, K2, K3), ("ZINTERCARD", "2", K, K2, "LIMIT", "1"),
             ("ZINTERCARD", "2", K, K2, "LIMIT", "0"), ("ZINTERCARD", "2", K, K2, "LIMIT", "-1"),
             ("ZINTERCARD", "0", K), ("ZINTERCARD", "2", K), ("ZINTERCARD", "1", "{t}none"),
             ("ZINTERCARD", "2", K, K2, "WITHSCORES"), ("ZINTERCARD", "1", K, "WEIGHTS", "1"),
             ("ZINTERCARD", "1", S)]
    for args in cmds:
        d(*args)
        if "STORE" in args[0]:
            d("ZRANGE", args[1], "0", "-1", "WITHSCORES")
            d("OBJECT", "ENCODING", args[1])
            d("TYPE", args[1])
    # the destination is overwritten whatever it held, and loses its TTL
    d("SET", D, "x", "EX", "100")
    d("ZUNIONSTORE", D, "1", K)
    d("TTL", D)
    d("SET", D, "x")
    d("ZINTERSTORE", D, "2", K, "{t}none")
    d("EXISTS", D)


def test_setops_with_sets(dp):
    """Plain sets are inputs too (every member scores 1)."""
    d = dp
    fill(d, K, [("1", 5), ("2", 0.5), ("a", 3), ("b", "inf")])
    d("SADD", "{t}iset", "1", "2", "3")
    d("SADD", "{t}hset", "a", "b", "c", "2")
    for op in ["ZUNION", "ZINTER", "ZDIFF"]:
        for ks in [(K, "{t}iset"), ("{t}iset", K), (K, "{t}hset", "{t}iset"), ("{t}hset",), ("{t}hset", "{t}iset")]:
            d(op, str(len(ks)), *ks, "WITHSCORES")
            d(op + "STORE", D, str(len(ks)), *ks)
            d("ZRANGE", D, "0", "-1", "WITHSCORES")
            d("OBJECT", "ENCODING", D)
            if op != "ZDIFF":
                d(op, str(len(ks)), *ks, "WEIGHTS", *["2"] * len(ks), "AGGREGATE", "MAX", "WITHSCORES")
    d("ZINTERCARD", "2", K, "{t}hset")
    d("ZINTERCARD", "2", "{t}iset", "{t}hset", "LIMIT", "1")


def test_rangestore(dp):
    d = dp
    fill(d, "{t}ints", [("10", 1), ("-3", 2), ("7", 3), ("x", 4), ("123456789012", 5)])
    d("ZRANGESTORE", D, "{t}ints", "0", "-1")
    d("ZRANGE", D, "0", "-1", "WITHSCORES")
    d("ZRANGESTORE", D, "{t}ints", "0", "-1", "REV")
    d("ZRANGE", D, "0", "-1", "WITHSCORES")
    d("ZUNIONSTORE", D, "2", "{t}ints", "{t}ints")
    d("ZRANGE", D, "0", "-1", "WITHSCORES")
    d("ZRANGEBYLEX", "{t}ints", "-", "+")
    d("ZSCAN", "{t}ints", "0")
    fill(d, K, [(chr(97 + i), i) for i in range(10)])
    for args in [("ZRANGESTORE", D, K, "0", "-1"), ("ZRANGESTORE", D, K, "2", "4", "REV"),
                 ("ZRANGESTORE", D, K, "(2", "6", "BYSCORE", "LIMIT", "1", "2"),
                 ("ZRANGESTORE", D, K, "[c", "+", "BYLEX", "REV", "LIMIT", "0", "3"),
                 ("ZRANGESTORE", D, K, "5", "1"), ("ZRANGESTORE", D, "{t}none", "0", "-1"),
                 ("ZRANGESTORE", D, K, "0", "-1", "WITHSCORES"), ("ZRANGESTORE", D, S, "0", "-1"),
                 ("ZRANGESTORE", K, K, "0", "2")]:
        d("SET", S, "v")
        d(*args)
        d("ZRANGE", D, "0", "-1", "WITHSCORES")
        d("OBJECT", "ENCODING", D)


def test_wrongtype_and_arity(dp):
    d = dp
    d("SET", S, "x")
    for args in [("ZADD", S, "1", "a"), ("ZINCRBY", S, "1", "a"), ("ZREM", S, "a"), ("ZCARD", S), ("ZSCORE", S, "a"),
                 ("ZMSCORE", S, "a"), ("ZRANK", S, "a"), ("ZREVRANK", S, "a"), ("ZCOUNT", S, "0", "1"),
                 ("ZLEXCOUNT", S, "-", "+"), ("ZRANGE", S, "0", "1"), ("ZRANGEBYSCORE", S, "0", "1"),
                 ("ZRANGEBYLEX", S, "-", "+"), ("ZREMRANGEBYRANK", S, "0", "1"), ("ZREMRANGEBYSCORE", S, "0", "1"),
                 ("ZREMRANGEBYLEX", S, "-", "+"), ("ZPOPMIN", S), ("ZPOPMAX", S, "0"), ("ZRANDMEMBER", S),
                 ("ZRANDMEMBER", S, "2"), ("ZSCAN", S, "0"), ("ZRANGESTORE", D, S, "0", "1"),
                 ("ZUNIONSTORE", D, "1", S), ("ZADD", K, "1", "a"), ("GET", K)]:
        d(*args)
    for args in [("ZADD", K), ("ZADD", K, "1"), ("ZINCRBY", K, "1"), ("ZREM", K), ("ZCARD",), ("ZSCORE", K),
                 ("ZMSCORE", K), ("ZRANK", K), ("ZRANK", K, "a", "b"), ("ZCOUNT", K, "1"), ("ZLEXCOUNT", K),
                 ("ZRANGE", K, "0"), ("ZRANGESTORE", D, K, "0"), ("ZREVRANGE", K, "0"), ("ZRANGEBYSCORE", K, "0"),
                 ("ZREVRANGEBYLEX", K), ("ZREMRANGEBYRANK", K, "0"), ("ZPOPMIN",), ("ZMPOP", "1", K),
                 ("ZRANDMEMBER",), ("ZUNION", "1"), ("ZINTERSTORE", D, "1"), ("ZDIFF",), ("ZINTERCARD", "1"),
                 ("ZSCAN", K), ("ZRANDMEMBER", K, "1", "WITHSCORES", "x"), ("ZRANDMEMBER", K, "1", "x"),
                 ("ZRANDMEMBER", K, "x"), ("ZRANDMEMBER", K, "-9223372036854775808"),
                 ("ZRANDMEMBER", K, "9223372036854775807", "WITHSCORES"), ("ZRANDMEMBER", "{t}none", "5"),
                 ("ZRANDMEMBER", "{t}none"), ("ZRANDMEMBER", K, "0"), ("ZRANDMEMBER", K, "1"),
                 ("ZRANDMEMBER", K), ("ZRANDMEMBER", K, "1", "WITHSCORES"), ("ZRANDMEMBER", K, "-2", "WITHSCORES"),
                 ("ZRANDMEMBER", K, "5", "WITHSCORES"), ("ZRANDMEMBER", K, "-3"), ("ZRANDMEMBER", K, "0", "WITHSCORES"),
                 ("ZRANDMEMBER", "{t}none", "0", "WITHSCORES"),
                 ("ZMPOP", "9223372036854775807", K, "MIN"), ("ZMPOP", "9223372036854775806", K, "MIN"),
                 ("ZUNION", "9223372036854775807", K), ("ZUNIONSTORE", D, "9223372036854775807", K),
                 ("ZINTERCARD", "9223372036854775807", K), ("ZRANGE", K, "-9223372036854775808", "9223372036854775807"),
                 ("ZREMRANGEBYRANK", "{t}none2", "-9223372036854775808", "-1")]:
        d(*args)


def test_encoding_conversion(d):
    d("CONFIG", "SET", "zset-max-listpack-entries", "4")
    d("CONFIG", "SET", "zset-max-listpack-value", "8")
    for i in range(6):
        d("ZADD", K, str(i), "m%d" % i)
        d("OBJECT", "ENCODING", K)
    d("ZREMRANGEBYRANK", K, "0", "-2")
    d("OBJECT", "ENCODING", K)          # never converts back
    d("ZADD", K2, "1", "short", "2", "waytoolongmember")
    d("OBJECT", "ENCODING", K2)
    d("ZADD", K3, "2", "waytoolongmember")
    d("OBJECT", "ENCODING", K3)
    d("DEL", K3)
    d("ZADD", K3, "1", "a", "2", "b", "3", "c", "4", "d")
    d("OBJECT", "ENCODING", K3)
    d("ZADD", K3, "1", "12345678")
    d("OBJECT", "ENCODING", K3)
    d("DEL", K3)
    d("ZADD", K3, *(["1", "a"] * 50))
    d("OBJECT", "ENCODING", K3)
    d("ZADD", "{t}x", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")
    d("OBJECT", "ENCODING", "{t}x")
    d("ZINCRBY", "{t}inc", "1", "123456789")
    d("OBJECT", "ENCODING", "{t}inc")
    # store results pick their encoding from their final size
    d("ZUNIONSTORE", D, "1", "{t}x")
    d("OBJECT", "ENCODING", D)
    d("ZRANGESTORE", D, "{t}x", "0", "3")
    d("OBJECT", "ENCODING", D)
    d("ZRANGESTORE", D, "{t}x", "0", "4")
    d("OBJECT", "ENCODING", D)
    d("ZINTERSTORE", D, "2", K2, K2)
    d("OBJECT", "ENCODING", D)
    d("ZDIFFSTORE", D, "1", "{t}x")
    d("OBJECT", "ENCODING", D)
    d("CONFIG", "SET", "zset-max-listpack-entries", "0")
    d("ZADD", "{t}y", "1", "a")
    d("OBJECT", "ENCODING", "{t}y")
    d("CONFIG", "SET", "zset-max-listpack-entries", "128")
    d("CONFIG", "SET", "zset-max-listpack-value", "64")
    d("ZADD", "{t}b", "1", "x" * 64)
    d("OBJECT", "ENCODING", "{t}b")
    d("ZADD", "{t}b", "1", "x" * 65)
    d("OBJECT", "ENCODING", "{t}b")
    for i in range(130):
        d("ZADD", "{t}c", str(i), "m%d" % i)
    d("OBJECT", "ENCODING", "{t}c")
    d("ZRANGE", "{t}c", "0", "-1", "WITHSCORES")


def scan_all(w, typ):
    cur, out = "0", []
    while True:
        cur, keys = parse(w.cmd("SCAN", cur, "TYPE", typ, "COUNT", "100"))
        out += keys
        cur = cur.decode() if isinstance(cur, bytes) else cur
        if cur == "0":
            return sorted(out)


def test_keyspace_commands(dp):
    d = dp
    for big in [False, True]:
        d("CONFIG", "SET", "zset-max-listpack-entries", "0" if big else "128")
        d("FLUSHALL")
        fill(d, K, [("a", 1), ("b", 2.5), ("c", 3)])
        d("TYPE", K)
        d("OBJECT", "ENCODING", K)
        d("COPY", K, K2)
        d("ZADD", K2, "9", "z")
        d("ZRANGE", K, "0", "-1", "WITHSCORES")
        d("ZRANGE", K2, "0", "-1", "WITHSCORES")
        d("OBJECT", "ENCODING", K2)
        d("RENAME", K2, K3)
        d("ZRANGE", K3, "0", "-1", "WITHSCORES")
        d("EXPIRE", K3, "100")
        d("TTL", K3)
        assert scan_all(d.a, "zset") == scan_all(d.b, "zset")
        assert scan_all(d.a, "string") == scan_all(d.b, "string") == []
        d("DEL", K, K3)
        d("EXISTS", K, K3)
    d("CONFIG", "SET", "zset-max-listpack-entries", "128")


def test_cross_shard(d):
    if NSHARDS < 2:
        pytest.skip("one shard")
    a = keys_on(0, "za", 1)[0]
    b = keys_on(NSHARDS - 1, "zb", 1)[0]
    fill(d, a, [("x", 1), ("y", 2)])
    fill(d, b, [("y", 5), ("z", 6)])
    d("ZUNION", "2", a, b, "WITHSCORES")
    d("ZINTERSTORE", a, "2", a, b)
    d("ZRANGE", a, "0", "-1", "WITHSCORES")
    d("ZRANGESTORE", b, a, "0", "-1")
    d("ZMPOP", "2", "nokey", b, "MAX")
    d("ZINTERCARD", "2", a, b)


def test_randmember_properties(r):
    for big in [False, True]:
        r.config_set("zset-max-listpack-entries", 0 if big else 128)
        r.delete("z")
        members = {("m%d" % i): i * 1.5 for i in range(50)}
        r.zadd("z", members)
        for _ in range(20):
            assert r.zrandmember("z").decode() in members
        for cnt in [1, 5, 25, 49, 50, 100]:
            got = r.zrandmember("z", cnt)
            assert len(got) == min(cnt, 50)
            assert len(set(got)) == len(got)
            assert all(g.decode() in members for g in got)
        got = r.zrandmember("z", -200)
        assert len(got) == 200 and all(g.decode() in members for g in got)
        got = r.zrandmember("z", 10, withscores=True)
        assert len(got) == 20
        for i in range(0, 20, 2):
            assert float(got[i + 1]) == members[got[i].decode()]
        got = r.zrandmember("z", -5, withscores=True)
        assert len(got) == 10
    r.config_set("zset-max-listpack-entries", 128)


def test_zscan_properties(r, d):
    for big in [False, True]:
        r.config_set("zset-max-listpack-entries", 0 if big else 128)
        r.delete("z")
        members = {("m%d" % i): i for i in range(500 if big else 100)}
        members["bin\x00ary"] = 0.1
        r.zadd("z", members)
        seen = {}
        cursor = 0
        while True:
            cursor, items = r.zscan("z", cursor, count=20)
            for m, s in items:
                seen[m.decode()] = s
            if cursor == 0:
                break
        assert seen == {k: float(v) for k, v in members.items()}
        cursor, items = r.zscan("z", 0, match="m1*", count=10000)
        assert cursor == 0
        assert {m.decode() for m, _ in items} == {k for k in members if k.startswith("m1")}
    r.config_set("zset-max-listpack-entries", 128)
    fill(d, "zs", [("a", 1), ("b", 2)])
    for args in [("ZSCAN", "nokey", "0"), ("ZSCAN", "zs", "x"), ("ZSCAN", "zs", "0", "COUNT", "0"),
                 ("ZSCAN", "zs", "0", "COUNT", "x"), ("ZSCAN", "zs", "0", "TYPE", "zset"), ("ZSCAN", "zs", "0", "MATCH"),
                 ("ZSCAN", "zs", "-1"), ("ZSCAN", "zs", "0", "MATCH", "a")]:
        d(*args)


def test_lex_mixed_scores_listpack(dp):
    """The listpack walks of Redis's lex ranges, with mixed scores."""
    d = dp
    for args in [("ZRANGEBYLEX", K, "[b", "[d"), ("ZREVRANGEBYLEX", K, "[d", "[b"), ("ZLEXCOUNT", K, "[b", "[d"),
                 ("ZRANGEBYLEX", K, "-", "(c"), ("ZREVRANGEBYLEX", K, "(e", "-"), ("ZLEXCOUNT", K, "(a", "+"),
                 ("ZREMRANGEBYLEX", K, "[b", "[d"), ("ZREMRANGEBYLEX", K, "(a", "+"), ("ZREMRANGEBYLEX", K, "-", "[c")]:
        d("DEL", K)
        fill(d, K, [("c", 1), ("a", 2), ("d", 3), ("b", 4), ("e", 5), ("a0", 6), ("c1", 7)])
        d(*args)
        d("ZRANGE", K, "0", "-1")


@pytest.mark.parametrize("seed", [1234, 99, 7, 2024])
def test_random_stream(d, seed):
    rnd = random.Random(seed)
    keys = ["{r}a", "{r}b", "{r}c"]
    members = ["", "a", "b", "c", "d", "e", "10", "-3", "x" * 10]
    scores = ["0", "1", "-1", "2.5", "inf", "-inf", "1e10", "3", "(1", "0.1"]

    def sc():
        return rnd.choice(scores[:8])

    def bound():
        return rnd.choice(scores + ["+inf", "(2.5", "(-inf"])

    def lex():
        return rnd.choice(["-", "+", "[a", "(a", "[c", "(d", "[", "[10", "(x"])

    for step in range(3000):
        if step % 500 == 0:
            d.both("HELLO", str(rnd.choice([2, 3])))
            d("CONFIG", "SET", "zset-max-listpack-entries", rnd.choice(["0", "3", "128"]))
            d("CONFIG", "SET", "zset-max-listpack-value", rnd.choice(["1", "64"]))
        k = rnd.choice(keys)
        m = rnd.choice(members)
        op = rnd.randrange(26)
        if op in (9, 12, 15, 24, 25):
            # lex ranges are defined on members of equal scores (a skiplist
            # with mixed scores answers by its random levels)
            k = "{r}lex"
        if op >= 24:
            d("ZADD", k, "0", m)
            continue
        if op < 4:
            opts = rnd.sample(["NX", "XX", "GT", "LT", "CH", "INCR"], rnd.randrange(3))
            n = 1 if "INCR" in opts else rnd.randrange(1, 4)
            args = []
            for _ in range(n):
                args += [sc(), rnd.choice(members)]
            cmd = ("ZADD", k, *opts, *args)
        elif op == 4:
            cmd = ("ZINCRBY", k, sc(), m)
        elif op == 5:
            cmd = ("ZREM", k, m, rnd.choice(members))
        elif op == 6:
            cmd = ("ZSCORE", k, m)
        elif op == 7:
            cmd = (rnd.choice(["ZRANK", "ZREVRANK"]), k, m)
        elif op == 8:
            cmd = ("ZCOUNT", k, bound(), bound())
        elif op == 9:
            cmd = ("ZLEXCOUNT", k, lex(), lex())
        elif op == 10:
            cmd = ("ZRANGE", k, str(rnd.randint(-6, 6)), str(rnd.randint(-6, 6)),
                   *rnd.sample(["REV", "WITHSCORES"], rnd.randrange(3)))
        elif op == 11:
            lim = ["LIMIT", str(rnd.randint(-1, 4)), str(rnd.randint(-1, 4))] if rnd.random() < .5 else []
            cmd = (rnd.choice(["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]), k, bound(), bound(),
                   *(["WITHSCORES"] if rnd.random() < .5 else []), *lim)
        elif op == 12:
            lim = ["LIMIT", str(rnd.randint(-1, 4)), str(rnd.randint(-1, 4))] if rnd.random() < .5 else []
            cmd = (rnd.choice(["ZRANGEBYLEX", "ZREVRANGEBYLEX"]), k, lex(), lex(), *lim)
        elif op == 13:
            cmd = ("ZREMRANGEBYRANK", k, str(rnd.randint(-5, 5)), str(rnd.randint(-5, 5)))
        elif op == 14:
            cmd = ("ZREMRANGEBYSCORE", k, bound(), bound())
        elif op == 15:
            cmd = ("ZREMRANGEBYLEX", k, lex(), lex())
        elif op == 16:
            cmd = (rnd.choice(["ZPOPMIN", "ZPOPMAX"]), k, *([str(rnd.randint(0, 3))] if rnd.random() < .5 else []))
        elif op == 17:
            cmd = ("ZMPOP", "2", k, rnd.choice(keys), rnd.choice(["MIN", "MAX"]), "COUNT", str(rnd.randint(1, 3)))
        elif op == 18:
            ks = rnd.sample(keys, rnd.randint(1, 3))
            o = rnd.choice(["ZUNION", "ZINTER", "ZDIFF"])
            extra = []
            if o != "ZDIFF" and rnd.random() < .5:
                extra += ["WEIGHTS"] + [rnd.choice(["1", "2", "-1", "0", "0.5"]) for _ in ks]
            if o != "ZDIFF" and rnd.random() < .5:
                extra += ["AGGREGATE", rnd.choice(["SUM", "MIN", "MAX"])]
            cmd = (o, str(len(ks)), *ks, *extra, *(["WITHSCORES"] if rnd.random() < .5 else []))
        elif op == 19:
            ks = rnd.sample(keys, rnd.randint(1, 3))
            cmd = (rnd.choice(["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]), rnd.choice(keys), str(len(ks)), *ks)
        elif op == 20:
            cmd = ("ZRANGESTORE", rnd.choice(keys), k, bound(), bound(), "BYSCORE")
        elif op == 21:
            cmd = ("ZINTERCARD", "2", k, rnd.choice(keys))
        elif op == 22:
            cmd = ("ZMSCORE", k, m, rnd.choice(members))
        else:
            cmd = ("ZCARD", k)
        d(*cmd)
        if step % 50 == 0:
            for kk in keys:
                d("ZRANGE", kk, "0", "-1", "WITHSCORES")
                d("OBJECT", "ENCODING", kk)
    d("CONFIG", "SET", "zset-max-listpack-entries", "128")
    d("CONFIG", "SET", "zset-max-listpack-value", "64")


def test_random_stream_big(d):
    """Bigger member space: skiplist spans, ranks and offsets."""
    rnd = random.Random(42)
    keys = ["{b}a", "{b}b"]
    for step in range(2500):
        k = rnd.choice(keys)
        m = "m%d" % rnd.randrange(400)
        op = rnd.randrange(12)
        if op < 4:
            args = []
            for _ in range(rnd.randrange(1, 20)):
                args += [str(rnd.randrange(100) / 4), "m%d" % rnd.randrange(400)]
            cmd = ("ZADD", k, *args)
        elif op == 4:
            cmd = ("ZREM", k, m, "m%d" % rnd.randrange(400))
        elif op == 5:
            cmd = (rnd.choice(["ZRANK", "ZREVRANK"]), k, m)
        elif op == 6:
            a = rnd.randint(-300, 300)
            cmd = ("ZRANGE", k, str(a), str(a + rnd.randint(-5, 10)), *(["REV"] if rnd.random() < .5 else []),
                   "WITHSCORES")
        elif op == 7:
            lo = rnd.randrange(100) / 4
            cmd = ("ZRANGE", k, "(%s" % lo, str(lo + rnd.randrange(8)), "BYSCORE", "LIMIT",
                   str(rnd.randint(0, 30)), str(rnd.randint(-1, 10)))
        elif op == 8:
            cmd = ("ZREMRANGEBYRANK", k, str(rnd.randint(-300, 300)), str(rnd.randint(-300, 300)))
        elif op == 9:
            cmd = ("ZCOUNT", k, str(rnd.randrange(100) / 4), "(" + str(rnd.randrange(100) / 4))
        elif op == 10:
            cmd = ("ZINCRBY", k, str(rnd.randint(-3, 3)), m)
        else:
            cmd = ("ZUNIONSTORE", rnd.choice(keys), "2", keys[0], keys[1], "AGGREGATE", rnd.choice(["MIN", "MAX"]))
        d(*cmd)
        if step % 250 == 0:
            for kk in keys:
                d("ZRANGE", kk, "0", "-1", "WITHSCORES")
                d("OBJECT", "ENCODING", kk)
                d("ZCARD", kk)
