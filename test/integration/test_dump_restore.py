"""DUMP / RESTORE against a real redis-server 7.0, for every type and
encoding:

- the same commands build the same value on both servers; OBJECT ENCODING
  must agree;
- where Redis's payload is deterministic for that content and encoding,
  Tessera's DUMP must be byte-identical (with rdbcompression no as well, so
  LZF strings are compared on equal terms; with compression on, the
  compressed strings are compared after decoding, since our LZF compressor
  is not liblzf);
- Redis's payload RESTOREd into Tessera gives the same contents and
  encoding as in Redis, and DUMPs back to the very same bytes (the round
  trip holds for payloads with clock-dependent fields too: PEL delivery
  times, consumer seen-times);
- Tessera's payload RESTOREd into Redis gives the same contents;
- every RESTORE error is byte-identical to Redis's; corrupt payloads (their
  CRC recomputed so that the checksum does not catch them) never crash
  Tessera.
"""
import random
import threading
import time

import pytest

from tessera_testlib import Wire, encode, parse

# ---------- CRC-64 (Jones, reflected) and LZF, to build and read payloads ----------

_POLY = 0x95AC9329AC4BC9B5
_TAB = []
for _b in range(256):
    _c = _b
    for _ in range(8):
        _c = (_c >> 1) ^ _POLY if _c & 1 else _c >> 1
    _TAB.append(_c)


def crc64(data, crc=0):
    for byte in data:
        crc = _TAB[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


def test_crc64_vector():
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA


def with_crc(body):
    """body = type byte + value + 2-byte version: appends the CRC."""
    return body + crc64(body).to_bytes(8, "little")


def lzf_decompress(data, size):
    out = bytearray()
    i = 0
    while i < len(data):
        ctrl = data[i]
        i += 1
        if ctrl < 32:
            out += data[i:i + ctrl + 1]
            i += ctrl + 1
        else:
            ln = ctrl >> 5
            back = ((ctrl & 0x1F) << 8) + 1
            if ln == 7:
                ln += data[i]
                i += 1
            back += data[i]
            i += 1
            for _ in range(ln + 2):
                out.append(out[-back])
    assert len(out) == size
    return bytes(out)


def read_len(p, i):
    b = p[i]
    kind = b >> 6
    if kind == 0:
        return b & 0x3F, i + 1, False
    if kind == 1:
        return ((b & 0x3F) << 8) | p[i + 1], i + 2, False
    if kind == 3:
        return b & 0x3F, i + 1, True
    if b == 0x80:
        return int.from_bytes(p[i + 1:i + 5], "big"), i + 5, False
    return int.from_bytes(p[i + 1:i + 9], "big"), i + 9, False


def decode_string_payload(p):
    """The string of a type-0 DUMP payload, whatever its encoding."""
    assert p[0] == 0
    n, i, enc = read_len(p, 1)
    if not enc:
        return p[i:i + n]
    if n in (0, 1, 2):
        w = 1 << n
        return str(int.from_bytes(p[i:i + w], "little", signed=True)).encode()
    assert n == 3
    clen, i, _ = read_len(p, i)
    ulen, i, _ = read_len(p, i)
    return lzf_decompress(p[i:i + clen], ulen)


# ---------- the values ----------

rnd = random.Random(1234)
INCOMPRESSIBLE = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(300))


def big_list():
    return [("RPUSH", "k") + tuple("e%d" % i if i % 3 else str(i * 7919) for i in range(j, j + 100))
            for j in range(0, 3000, 100)]


def stream_with_groups():
    cmds = [("XADD", "k", "%d-%d" % (i // 3 + 1, i % 3), "f", "v%d" % i, "n", str(i)) for i in range(40)]
    cmds += [
        ("XADD", "k", "100-0", "other", "shape"),
        ("XDEL", "k", "2-1", "5-0"),
        ("XGROUP", "CREATE", "k", "g1", "0"),
        ("XGROUP", "CREATE", "k", "g2", "$"),
        ("XGROUP", "CREATE", "k", "g0", "3-0", "ENTRIESREAD", "7"),
        ("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "5", "STREAMS", "k", ">"),
        ("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "3", "STREAMS", "k", ">"),
        ("XACK", "k", "g1", "1-1"),
        ("XGROUP", "CREATECONSUMER", "k", "g2", "carol"),
        ("XCLAIM", "k", "g1", "carol", "0", "2-0"),
    ]
    return cmds


# name -> (commands building key k, payload deterministic?)
VALUES = {
    "str_int8": ([("SET", "k", "-100")], True),
    "str_int16": ([("SET", "k", "30000")], True),
    "str_int32": ([("SET", "k", "-2147483648")], True),
    "str_int64": ([("SET", "k", "9223372036854775807")], True),
    "str_not_canonical": ([("SET", "k", "007")], True),
    "str_embstr": ([("SET", "k", "hello world")], True),
    "str_raw": ([("SET", "k", INCOMPRESSIBLE)], True),
    "str_compressible": ([("SET", "k", "abc" * 500)], True),
    "str_21_bytes": ([("SET", "k", "a" * 21)], True),
    "str_binary": ([("SET", "k", bytes(range(256)) * 3)], True),
    "str_empty": ([("SET", "k", "")], True),
    "list_small": ([("RPUSH", "k", "a", "1", "-70000", "x" * 100, "", "9223372036854775807")], True),
    "list_big": (big_list(), True),
    "list_compressible": ([("RPUSH", "k") + ("same-element",) * 500], True),
    "hash_listpack": ([("HSET", "k", "f1", "v1", "f2", "22", "num", "-3", "empty", "")], True),
    "hash_hashtable": ([("HSET", "k") + tuple(x for i in range(600) for x in ("f%d" % i, "v%d" % i))], False),
    "hash_long_value": ([("HSET", "k", "f", "v" * 100)], True),
    "set_intset16": ([("SADD", "k", "1", "2", "3", "-5", "300")], True),
    "set_intset64": ([("SADD", "k", "1", "9000000000", "-9000000000")], True),
    "set_hashtable": ([("SADD", "k", "a", "b", "c", "1")], False),
    "set_big_ints": ([("SADD", "k") + tuple(str(i) for i in range(600))], False),
    "zset_listpack": ([("ZADD", "k", "1", "a", "2.5", "b", "-inf", "c", "+inf", "d", "0", "e", "-0.125", "f",
                        "1e300", "g")], True),
    "zset_skiplist": ([("ZADD", "k") + tuple(x for i in range(200) for x in (str(i * 1.5 - 100), "m%d" % i)),
                       ("ZADD", "k", "-inf", "lo", "+inf", "hi", "3", "three")], True),
    "zset_long_member": ([("ZADD", "k", "1", "m" * 100, "2", "b")], True),
    "stream_simple": ([("XADD", "k", "1-1", "a", "1", "b", "2"), ("XADD", "k", "1-2", "a", "3", "b", "4"),
                       ("XADD", "k", "5-0", "c", "x" * 50), ("XDEL", "k", "1-2")], True),
    "stream_many_nodes": ([("XADD", "k", "%d-0" % i, "f", "v" * (i % 7), "g", str(i)) for i in range(1, 350)] +
                          [("XDEL", "k", "3-0", "150-0", "349-0"), ("XTRIM", "k", "MAXLEN", "300")], True),
    "stream_emptied": ([("XADD", "k", "1-0", "a", "b"), ("XDEL", "k", "1-0")], True),
    "stream_groups": (stream_with_groups(), False),
}


def build(client, cmds):
    for c in cmds:
        client.execute_command(*c)


def contents(c, key):
    t = c.type(key).decode()
    if t == "string":
        return c.get(key)
    if t == "list":
        return c.lrange(key, 0, -1)
    if t == "hash":
        return sorted(c.hgetall(key).items())
    if t == "set":
        return sorted(c.smembers(key))
    if t == "zset":
        return c.execute_command("ZRANGE", key, "0", "-1", "WITHSCORES")
    if t == "stream":
        full = c.execute_command("XINFO", "STREAM", key, "FULL")
        i = full.index(b"radix-tree-nodes")   # the rax's internal node count: not content
        del full[i:i + 2]
        return [c.execute_command("XRANGE", key, "-", "+"), full,
                c.execute_command("XINFO", "GROUPS", key)]
    return t


@pytest.fixture(params=sorted(VALUES))
def value(request):
    return request.param


def test_dump_matches_redis(r, ref, value):
    cmds, deterministic = VALUES[value]
    build(r, cmds)
    build(ref, cmds)
    assert r.object("encoding", "k") == ref.object("encoding", "k")
    ct, cr = contents(r, "k"), contents(ref, "k")
    if value == "stream_groups":   # delivery and seen times differ: entries and groups only
        ct, cr = [ct[0], ct[2]], [cr[0], cr[2]]
    assert ct == cr
    for compression in ("no", "yes"):
        r.config_set("rdbcompression", compression)
        ref.config_set("rdbcompression", compression)
        dt, dr = r.dump("k"), ref.dump("k")
        if not deterministic:
            assert len(dt) == len(dr) or compression == "yes"
            continue
        if compression == "yes" and dt != dr and value.startswith("str_"):
            # Our LZF bytes may differ from liblzf's: compare the decoded strings.
            assert decode_string_payload(dt) == decode_string_payload(dr)
            continue
        if compression == "yes" and dt != dr:
            # Compressed listpack blobs inside the value: equal once both
            # servers restore each other's payload (checked below).
            continue
        assert dt == dr, "%s (rdbcompression %s)" % (value, compression)


def test_redis_payload_into_tessera(r, ref, value):
    cmds, _ = VALUES[value]
    build(ref, cmds)
    for compression in ("yes", "no"):
        ref.config_set("rdbcompression", compression)
        r.config_set("rdbcompression", compression)
        payload = ref.dump("k")
        r.delete("k")
        assert r.restore("k", 0, payload) == b"OK"
        assert r.object("encoding", "k") == ref.object("encoding", "k")
        assert contents(r, "k") == contents(ref, "k")
        # Round trip: the value is the same, so the payload is too (where the
        # encoding's byte layout is deterministic; hashtables iterate in
        # their own order, LZF bytes are ours).
        if compression == "no" and (VALUES[value][1] or value == "stream_groups"):
            assert r.dump("k") == payload, value


def test_tessera_payload_into_redis(r, ref, value):
    cmds, _ = VALUES[value]
    build(r, cmds)
    for compression in ("yes", "no"):
        r.config_set("rdbcompression", compression)
        payload = r.dump("k")
        ref.delete("k")
        assert ref.restore("k", 0, payload) == b"OK"
        assert contents(ref, "k") == contents(r, "k")
        assert ref.object("encoding", "k") == r.object("encoding", "k")


def test_payload_sizes_with_compression(r, ref):
    """Compressed strings are smaller in both servers' payloads by a similar
    amount (our compressor is greedy like liblzf's)."""
    r.config_set("rdbcompression", "yes")
    ref.config_set("rdbcompression", "yes")
    r.set("k", "abc" * 500)
    ref.set("k", "abc" * 500)
    assert len(r.dump("k")) < 100 and len(ref.dump("k")) < 100
    r.config_set("rdbcompression", "no")
    assert len(r.dump("k")) > 1500
    r.config_set("rdbcompression", "yes")


def list_shapes():
    rng = random.Random(7)
    mixed = [("RPUSH", "k") + tuple("x" * rng.choice((1, 5, 40, 70, 200, 5000)) for _ in range(50))
             for _ in range(20)]
    lpush = [("LPUSH", "k") + tuple(str(rng.randrange(-10 ** 12, 10 ** 12)) for _ in range(100))
             for _ in range(30)]
    inserts = big_list()[:10] + [("LINSERT", "k", "BEFORE", "e%d" % i, "ins" * 30) for i in range(1, 900, 7)]
    return {"mixed": mixed, "lpush": lpush, "inserts": inserts, "big": big_list()}


@pytest.mark.parametrize("fill", ["-2", "-1", "-5", "5", "128"])
@pytest.mark.parametrize("shape", sorted(list_shapes()))
def test_list_node_layout_matches_redis(r, ref, fill, shape):
    """A list's nodes break where Redis's do (the quicklist counts a new
    element as len + 8, like Redis 7.0.15), so the payloads are equal."""
    cmds = list_shapes()[shape]
    for c in (r, ref):
        c.config_set("rdbcompression", "no")
        c.config_set("list-max-listpack-size", fill)
    try:
        build(r, cmds)
        build(ref, cmds)
        assert r.lrange("k", 0, -1) == ref.lrange("k", 0, -1)
        assert r.dump("k") == ref.dump("k")
    finally:
        for c in (r, ref):
            c.config_set("rdbcompression", "yes")
            c.config_set("list-max-listpack-size", "-2")


@pytest.mark.parametrize("fill", ["-2", "5"])
@pytest.mark.parametrize("shape", ["mixed", "big", "inserts"])
def test_compressed_list_payloads_interchange(r, ref, fill, shape):
    """list-compress-depth 1 in both servers: interior nodes travel as the
    LZF strings they are in memory (as Redis writes them), whatever
    rdbcompression says; each server restores the other's payload with the
    same elements and node boundaries."""
    cmds = list_shapes()[shape]
    for c in (r, ref):
        c.config_set("list-compress-depth", "1")
        c.config_set("list-max-listpack-size", fill)
    try:
        for compression in ("no", "yes"):
            for c in (r, ref):
                c.config_set("rdbcompression", compression)
                c.delete("k", "k2")
            if compression == "no":
                # The same list without compression, for the payload size.
                r.config_set("list-compress-depth", "0")
                build(r, cmds)
                plain = len(r.dump("k"))
                r.delete("k")
                r.config_set("list-compress-depth", "1")
            build(r, cmds)
            build(ref, cmds)
            mine, theirs = r.dump("k"), ref.dump("k")
            if compression == "no" and (fill == "-2" or shape == "mixed"):
                # Interior nodes went out compressed (5-element nodes of
                # short elements are under the 48 bytes worth compressing).
                assert len(mine) < plain
            assert ref.restore("k2", 0, mine) == b"OK"
            assert r.restore("k2", 0, theirs) == b"OK"
            want = ref.lrange("k", 0, -1)
            assert r.lrange("k", 0, -1) == want
            assert ref.lrange("k2", 0, -1) == want
            assert r.lrange("k2", 0, -1) == want
            # Still the same lists after changes in the middle.
            for c in (r, ref):
                c.lset("k2", len(want) // 2, "middle")
                c.linsert("k2", "BEFORE", "middle", "before-middle")
            assert r.lrange("k2", 0, -1) == ref.lrange("k2", 0, -1)
            assert r.lindex("k2", len(want) // 3) == ref.lindex("k2", len(want) // 3)
    finally:
        for c in (r, ref):
            c.config_set("rdbcompression", "yes")
            c.config_set("list-max-listpack-size", "-2")
            c.config_set("list-compress-depth", "0")
            c.delete("k", "k2")


def test_config_options(d):
    d("CONFIG", "GET", "rdbcompression")
    d("CONFIG", "GET", "rdbchecksum")
    d("CONFIG", "SET", "rdbcompression", "no")
    d("CONFIG", "GET", "rdbcompression")
    d("CONFIG", "SET", "rdbchecksum", "no")
    d("CONFIG", "SET", "rdbcompression", "maybe")
    d("CONFIG", "SET", "rdbcompression", "yes")
    d("CONFIG", "GET", "rdbcompression")


def test_dump_checksum_always_checked(r, ref):
    """Redis computes and checks a DUMP payload's CRC whatever rdbchecksum
    says (it only governs RDB files, and is immutable at runtime); a zero
    CRC is rejected like any wrong one."""
    for c in (r, ref):
        c.set("k", "v")
    dt, dr = r.dump("k"), ref.dump("k")
    assert dt == dr and dt[-8:] != b"\0" * 8
    zero = dt[:-8] + b"\0" * 8
    for c in (r, ref):
        with pytest.raises(Exception) as e:
            c.restore("k2", 0, zero)
        assert "checksum" in str(e.value)


def test_restore_thresholds_follow_config(r, ref):
    """Loading converts to the encoding this server's thresholds give, like
    Redis's loader."""
    ref.hset("h", mapping={"f%d" % i: "v" for i in range(10)})
    ref.zadd("z", {"m%d" % i: i for i in range(10)})
    ref.sadd("s", *range(10))
    ref.rpush("l", *range(10))
    ref.hset("hl", "f", "x" * 30)
    payloads = {k: ref.dump(k) for k in ("h", "z", "s", "l", "hl")}
    for c in (r, ref):
        c.config_set("hash-max-listpack-entries", 5)
        c.config_set("zset-max-listpack-entries", 5)
        c.config_set("set-max-intset-entries", 5)
        c.config_set("hash-max-listpack-value", 10)
    try:
        for k, p in payloads.items():
            r.restore(k + "2", 0, p)
            ref.restore(k + "2", 0, p)
            assert r.object("encoding", k + "2") == ref.object("encoding", k + "2"), k
            assert contents(r, k + "2") == contents(ref, k + "2")
        # a HASH (type 4) payload into listpack-capable thresholds
        big = {"f%d" % i: "v" for i in range(8)}
        r.hset("hh", mapping=big)
        ref.hset("hh", mapping=big)
        for c in (r, ref):
            c.config_set("hash-max-listpack-entries", 512)
        p = ref.dump("hh")
        r.restore("hh2", 0, p)
        ref.restore("hh2", 0, p)
        assert r.object("encoding", "hh2") == ref.object("encoding", "hh2")
    finally:
        for c in (r, ref):
            c.config_set("hash-max-listpack-entries", 512)
            c.config_set("zset-max-listpack-entries", 128)
            c.config_set("set-max-intset-entries", 512)
            c.config_set("hash-max-listpack-value", 64)


# ---------- RESTORE's replies and errors, byte for byte ----------

def payload_of(d, value="v"):
    d.a.cmd("SET", "src", value)
    d.b.cmd("SET", "src", value)
    p = parse(d.b.cmd("DUMP", "src"))
    assert parse(d.a.cmd("DUMP", "src")) == p
    return p


def test_dump_missing_and_arity(d):
    d("DUMP", "nokey")
    d("DUMP")
    d("DUMP", "a", "b")
    d("RESTORE", "k", "0")
    d("RESTORE")


def test_restore_errors(d):
    p = payload_of(d)
    d("RESTORE", "k", "0", "garbage")
    d("RESTORE", "k", "0", "")
    d("RESTORE", "k", "0", p[:-1] + bytes([p[-1] ^ 1]))     # bad CRC
    d("RESTORE", "k", "0", p[:-3])                          # truncated
    d("RESTORE", "k", "0", p[:1] + p[1:-10] + b"\x0b\x00" + p[-8:])   # version 11
    body = bytearray(p[:-8])
    d("RESTORE", "k", "0", with_crc(bytes(body[:2]) + bytes(body[-2:])))   # valid CRC, truncated value
    d("RESTORE", "k", "0", with_crc(b"\x63" + bytes(body[1:])))            # unknown type
    d("RESTORE", "k", "0", with_crc(b"\x0a" + bytes(body[1:])))            # ziplist type
    d("RESTORE", "k", "0", p)
    d("GET", "k")
    d("RESTORE", "k", "0", p)                                # BUSYKEY
    d("RESTORE", "k", "0", "garbage")                        # BUSYKEY comes first
    d("RESTORE", "k2", "-1", p)
    d("RESTORE", "k2", "abc", p)
    d("RESTORE", "k", "-1", p)                               # BUSYKEY before the TTL
    d("RESTORE", "k", "-1", p, "REPLACE")
    d("RESTORE", "k", "0", p, "REPLACE", "IDLETIME", "-1")
    d("RESTORE", "k", "0", p, "REPLACE", "IDLETIME", "abc")
    d("RESTORE", "k", "0", p, "REPLACE", "IDLETIME")
    d("RESTORE", "k", "0", p, "REPLACE", "FREQ", "256")
    d("RESTORE", "k", "0", p, "REPLACE", "FREQ", "-1")
    d("RESTORE", "k", "0", p, "REPLACE", "FREQ", "x")
    d("RESTORE", "k", "0", p, "REPLACE", "FREQ")
    d("RESTORE", "k", "0", p, "REPLACE", "IDLETIME", "10", "FREQ", "5")
    d("RESTORE", "k", "0", p, "REPLACE", "FREQ", "5", "IDLETIME", "10")
    d("RESTORE", "k", "0", p, "REPLACE", "BOGUS")
    d("RESTORE", "k", "0", p, "IDLETIME", "abc")             # options before BUSYKEY
    d("RESTORE", "k", "0", p, "REPLACE", "FREQ", "5")
    d("RESTORE", "k", "0", p, "replace", "absttl", "idletime", "0")
    d("GET", "k")


def test_restore_ttl_and_absttl(d):
    p = payload_of(d)
    d("RESTORE", "t1", "100000", p)
    d.near(1000, "PTTL", "t1")
    future = str(int(time.time() * 1000) + 100000)
    d("RESTORE", "t2", future, p, "ABSTTL")
    d.near(1000, "PTTL", "t2")
    d("RESTORE", "t3", "1000", p, "ABSTTL")                  # already expired: OK, no key
    d("EXISTS", "t3")
    d("SET", "t4", "old")
    d("RESTORE", "t4", "1000", p, "ABSTTL", "REPLACE")       # expired + REPLACE: old key deleted
    d("EXISTS", "t4")
    d("SET", "t5", "old")
    d("RESTORE", "t5", "0", p, "REPLACE")
    d("GET", "t5")
    d("TTL", "t5")


def test_restore_idletime(d):
    p = payload_of(d)
    d("RESTORE", "k", "0", p, "IDLETIME", "1000")
    d.near(2, "OBJECT", "IDLETIME", "k")
    d("RESTORE", "k2", "0", p, "FREQ", "100")
    d.near(2, "OBJECT", "IDLETIME", "k2")
    d("OBJECT", "FREQ", "k2")


def test_restore_wrong_type_replace(r, ref):
    for c in (r, ref):
        c.rpush("l", "a", "b")
        c.set("s", "str")
    p = ref.dump("l")
    for c in (r, ref):
        c.restore("s", 0, p, replace=True)
        assert c.type("s") == b"list"
        assert c.lrange("s", 0, -1) == [b"a", b"b"]


@pytest.mark.parametrize("kind", ["list", "zset", "stream"])
def test_restore_wakes_blocked_clients(server, r, ref, kind):
    build_cmds = {"list": ("RPUSH", "src", "x"), "zset": ("ZADD", "src", "1", "x"),
                  "stream": ("XADD", "src", "5-0", "f", "v")}[kind]
    block = {"list": ("BLPOP", "k", "10"), "zset": ("BZPOPMIN", "k", "10"),
             "stream": ("XREAD", "BLOCK", "10000", "STREAMS", "k", "0-0")}[kind]
    ref.execute_command(*build_cmds)
    p = ref.dump("src")
    w = Wire(server)
    w.send(encode(*block))
    time.sleep(0.2)
    assert r.restore("k", 0, p) == b"OK"
    got = parse(w.reply())
    w.close()
    key = got[0][0] if kind == "stream" else got[0]
    assert key == b"k", got


# ---------- corrupt payloads never crash Tessera ----------

def fuzz_payloads(ref):
    out = []
    for name, (cmds, _) in sorted(VALUES.items()):
        ref.delete("k")
        build(ref, cmds)
        for comp in ("yes", "no"):
            ref.config_set("rdbcompression", comp)
            out.append(ref.dump("k"))
    ref.config_set("rdbcompression", "yes")
    return out


def test_corrupt_payloads_do_not_crash(server, r, ref):
    payloads = fuzz_payloads(ref)
    rng = random.Random(99)
    tried = 0
    for p in payloads:
        body = p[:-8]
        variants = []
        for _ in range(40):
            b = bytearray(body)
            for _ in range(rng.randint(1, 4)):
                pos = rng.randrange(1, len(b) - 2) if len(b) > 3 else 0
                b[pos] = rng.randrange(256) if rng.random() < 0.7 else b[pos] ^ (1 << rng.randrange(8))
            variants.append(bytes(b))
        for _ in range(10):
            cut = rng.randrange(1, len(body) - 2) if len(body) > 3 else 1
            variants.append(body[:cut] + body[-2:])
        for v in variants:
            try:
                r.restore("fz", 0, with_crc(v), replace=True)
            except Exception as e:   # an error reply is fine; a dead server is not
                assert "Bad data format" in str(e) or "checksum" in str(e), e
            tried += 1
            if r.exists("fz"):
                contents(r, "fz")        # the restored value must be readable
                r.dump("fz")
                r.delete("fz")
        assert r.ping()
    assert tried > 1000
    assert server.proc.poll() is None
