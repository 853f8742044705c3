"""The wire protocol: request parsing (RESP multibulk and inline), errors
for malformed input, pipelining split at arbitrary points, very large
arguments, the unknown-command and arity error texts, and RESP3 replies.

Almost every test sends the same bytes to Tessera and to a real
redis-server 7.0 and compares the raw reply bytes. Keys are chosen on both
shards on purpose, so replies of the remote-shard path (batches) take part
in the pipelines.
"""
import os
import random
import re
import threading
import time

import pytest

import tessera_testlib as testlib
from tessera_testlib import NSHARDS, encode, keys_on, spread_keys


# ---------- helpers ----------

class Wire(testlib.Wire):
    """The shared raw connection with TCP_NODELAY set, so that requests sent
    in pieces really reach the server in pieces."""

    def __init__(self, srv, timeout=20):
        super().__init__(srv, timeout, nodelay=True)


def exchange(server, data, nreplies, chunks=None, pause=0.0):
    """Sends data (optionally in chunks, pausing between them) from one
    thread and reads nreplies replies from another; returns the bytes."""
    w = Wire(server)
    err = []

    def writer():
        try:
            if chunks is None:
                w.send(data)
                return
            i = 0
            while i < len(data):
                n = next(chunks)
                w.send(data[i:i + n])
                i += n
                if pause:
                    time.sleep(pause)
        except OSError as e:  # pragma: no cover - reported below
            err.append(e)

    t = threading.Thread(target=writer)
    t.start()
    try:
        out = w.replies(nreplies)
    finally:
        t.join()
        w.close()
    assert not err, err
    return out


def redis_id_free(raw):
    """HELLO replies carry the client id: blank it out."""
    return re.sub(rb"(\$2\r\nid\r\n):\d+\r\n", rb"\1:ID\r\n", raw)


@pytest.fixture
def both(server, reference, r, ref):
    return server, reference


# ---------- pipelines split anywhere ----------

def short_pipeline():
    a, b = keys_on(0, "p")[0], keys_on(NSHARDS - 1, "q")[0]
    cmds = [
        encode("DEL", a, b, "counter"),
        encode("SET", a, "hello world"),
        b"SET %s \"quoted value\"\r\n" % b.encode(),
        encode("GET", a),
        b"GET %s\r\n" % b.encode(),
        encode("MGET", a, b, "nokey"),
        b"INCR counter\r\n",
        encode("INCRBY", "counter", "41"),
        b"\r\n",
        encode("APPEND", b, "!"),
        b"*0\r\n",
        encode("STRLEN", b),
        b"PING\r\n",
        encode("ECHO", "x\r\ny"),
        encode("DEL", a, b),
        encode("EXISTS", a, b),
    ]
    return b"".join(cmds), 14


def test_pipeline_one_byte_at_a_time(both):
    ts, rs = both
    data, n = short_pipeline()
    ones = iter(lambda: 1, None)
    got = exchange(ts, data, n, chunks=ones, pause=0.0002)
    want = exchange(rs, data, n)
    assert got == want


def test_pipeline_every_split_point(both):
    """The short pipeline cut in two at every byte offset. It starts by
    deleting its keys, so every run after the first replies the same."""
    ts, rs = both
    data, n = short_pipeline()
    exchange(rs, data, n)
    want = exchange(rs, data, n)
    w = Wire(ts)
    try:
        w.send(data)
        w.replies(n)
        for cut in range(1, len(data)):
            w.send(data[:cut])
            time.sleep(0.0005)
            w.send(data[cut:])
            assert w.replies(n) == want, "split at %d" % cut
    finally:
        w.close()


def long_pipeline(rng, count=3000):
    ks = spread_keys("lp", 4)
    parts, n = [], 0
    for i in range(count):
        k = rng.choice(ks)
        op = rng.randrange(10)
        if op == 0:
            v = "v%d" % i + "x" * rng.choice([0, 10, 100, 5000])
            parts.append(encode("SET", k, v))
        elif op == 1:
            parts.append(encode("GET", k))
        elif op == 2:
            parts.append(encode("MSET", k, str(i), rng.choice(ks), "m%d" % i))
        elif op == 3:
            parts.append(encode("MGET", *rng.sample(ks, 3)))
        elif op == 4:
            parts.append(b"INCR n%s\r\n" % k.encode())
        elif op == 5:
            parts.append(encode("APPEND", k, "a"))
        elif op == 6:
            parts.append(b"EXISTS %s %s\r\n" % (k.encode(), rng.choice(ks).encode()))
        elif op == 7:
            parts.append(encode("DEL", k))
        elif op == 8:
            # SELECT is a barrier in Tessera: later commands wait for the
            # replies of earlier ones, and remote commands carry the db.
            parts.append(rng.choice([b"PING\r\n", encode("SELECT", rng.choice(["0", "1"]))]))
        else:
            parts.append(encode("STRLEN", k))
        n += 1
    parts.append(encode("MGET", *ks))
    return b"".join(parts), n + 1


def test_pipeline_random_chunks(both):
    ts, rs = both
    rng = random.Random(7)
    data, n = long_pipeline(rng)
    want = exchange(rs, data, n)
    sizes = iter(lambda: rng.choice([1, 2, 3, 7, 16, 100, 1000, 4096, 20000]), None)
    got = exchange(ts, data, n, chunks=sizes)
    assert got == want


def test_pipeline_all_at_once(both):
    ts, rs = both
    data, n = long_pipeline(random.Random(11))
    assert exchange(ts, data, n) == exchange(rs, data, n)


def test_pipeline_over_a_big_table(both):
    """With 64K+ keys in the connection's database the worker parses ahead
    over the pipeline (to prefetch keys) and dispatches what it parsed:
    unknown commands, arity errors, subcommands, multi-shard commands,
    inline commands, commands with many arguments, SELECT to a small
    database and back, all answered exactly as Redis does, whatever the
    pieces the bytes arrive in."""
    ts, rs = both
    nkeys = 75000 * NSHARDS
    for srv in (ts, rs):
        c = srv.client(db=9)
        c.flushdb()
        p = c.pipeline(transaction=False)
        for i in range(0, nkeys, 1000):
            p.mset({"big:%d" % j: j for j in range(i, i + 1000)})
        p.execute()
        c.close()
    rng = random.Random(5)
    ks = spread_keys("la", 4) + ["big:%d" % rng.randrange(nkeys) for _ in range(20)]
    parts, n = [encode("SELECT", "9")], 1
    for i in range(4000):
        k = rng.choice(ks)
        op = rng.randrange(14)
        if op == 0:
            parts.append(encode("SET", k, "v%d" % i))
        elif op == 1:
            parts.append(encode("GET", k))
        elif op == 2:
            parts.append(encode("NOSUCHCMD", k))
        elif op == 3:
            parts.append(encode("GET", k, "extra"))            # arity error
        elif op == 4:
            parts.append(encode("CONFIG", "GET", "databases"))  # a subcommand
        elif op == 5:
            parts.append(encode("MSET", k, str(i), rng.choice(ks), "m"))
        elif op == 6:
            parts.append(b"GET %s\r\n" % k.encode())          # inline
        elif op == 7:
            args = []
            for j in range(40):                                 # 81 arguments
                args += [rng.choice(ks), "x%d" % j]
            parts.append(encode("MSET", *args))
        elif op == 8:
            parts.append(encode("SELECT", rng.choice(["9", "10"])))
        elif op == 9:
            parts.append(encode("ECHO", "e" * rng.choice([0, 1, 100, 70000])))
        elif op == 10:
            parts.append(encode("EXISTS", *rng.sample(ks, 3)))
        elif op == 11:
            parts.append(encode("INCR", "n" + k))
        elif op == 12:
            parts.append(encode("set", k, "lower"))
        else:
            parts.append(encode("DEL", k))
        n += 1
    parts.append(encode("SELECT", "9"))
    parts.append(encode("MGET", *ks))
    n += 2
    data = b"".join(parts)
    try:
        want = exchange(rs, data, n)
        assert exchange(ts, data, n) == want
        sizes = iter(lambda: rng.choice([1, 7, 100, 4096, 20000, 100000]), None)
        assert exchange(ts, data, n, chunks=sizes) == exchange(rs, data, n)
    finally:
        for srv in (ts, rs):
            c = srv.client(db=9)
            c.flushdb()
            c.close()
            c = srv.client(db=10)
            c.flushdb()
            c.close()


# ---------- inline commands ----------

INLINE = [
    b"PING\r\n",
    b"PING\n",
    b"  PING  \r\n",
    b"ping hello\r\n",
    b"SET a \"b c\"\r\nGET a\r\n",
    b"SET a 'single quoted'\r\nGET a\r\n",
    b"SET a \"esc \\\"q\\\" \\n \\r \\t \\b \\a \\\\ \\x41\\x7a\"\r\nGET a\r\n",
    b"SET a 'it\\'s'\r\nGET a\r\n",
    b"SET a \"\\x4\"\r\nGET a\r\n",
    b"SET a \"\\xzz\"\r\nGET a\r\n",
    b"SET a x\"y z\"\r\nGET a\r\n",
    b"SET a \"\"\r\nGET a\r\nSTRLEN a\r\n",
    b"ECHO a\tb\r\n",
    b"ECHO a\x0bb\r\n",
    b"\x0bECHO a\r\n",
    b"ECHO 'a\\\\b'\r\n",
    b"ECHO \"a\\\"\"\r\n",
    b"MSET x 1 y 2\r\nMGET x y z\r\n",
    b"PING\r\r\n",
]


@pytest.mark.parametrize("data", INLINE, ids=range(len(INLINE)))
def test_inline(both, data):
    ts, rs = both
    n = data.count(b"\n")
    assert exchange(ts, data, n) == exchange(rs, data, n)


def test_inline_like_nc(both):
    """Lines typed into nc/telnet: pieces that end at arbitrary points."""
    ts, rs = both
    data = b"SET greeting \"hello world\"\nGET greeting\nDEL greeting\nGET greeting\n"
    want = exchange(rs, data, 4)
    got = exchange(ts, data, 4, chunks=iter(lambda: 5, None), pause=0.002)
    assert got == want


# ---------- QUIT ----------

def test_quit_in_pipeline(both):
    """QUIT replies +OK after the replies before it; what follows is ignored."""
    ts, rs = both
    k = keys_on(NSHARDS - 1, "quit")[0]
    data = encode("SET", k, "1") + encode("MGET", k, "x") + b"QUIT\r\n" + encode("SET", k, "2") + b"PING\r\n"
    out = []
    for srv in (ts, rs):
        w = Wire(srv)
        w.send(data)
        out.append(w.until_close())
        w.close()
        assert Wire(srv).cmd("GET", k) == b"$1\r\n1\r\n"
    assert out[0] == out[1] == b"+OK\r\n*2\r\n$1\r\n1\r\n$-1\r\n+OK\r\n"


# ---------- empty commands ----------

def test_empty_lines_and_empty_multibulk_are_ignored(both):
    ts, rs = both
    data = b"\r\n\n   \r\n*0\r\n*-1\r\n*-5\r\nPING\r\n\r\n*0\r\n" + encode("ECHO", "after") + b"\n"
    assert exchange(ts, data, 2) == exchange(rs, data, 2)


# ---------- malformed input ----------

MALFORMED = [
    ("invalid multibulk length", b"*abc\r\n"),
    ("multibulk too long", b"*3000000000\r\n"),
    ("multibulk plus sign", b"*+1\r\n$4\r\nPING\r\n"),
    ("multibulk leading zero", b"*01\r\n$4\r\nPING\r\n"),
    ("expected $", b"*1\r\nxyz\r\n"),
    ("expected $, empty line", b"*1\r\n\r\n"),
    ("expected $ after good command", b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n:1\r\n"),
    ("invalid bulk length", b"*1\r\n$abc\r\n"),
    ("negative bulk length", b"*1\r\n$-1\r\n"),
    ("bulk length with space", b"*1\r\n$ 4\r\nPING\r\n"),
    ("bulk larger than proto-max-bulk-len", b"*2\r\n$3\r\nSET\r\n$536870913\r\n"),
    ("too big inline request", b"a" * 70000),
    ("too big mbulk count string", b"*" + b"1" * 70000),
    ("too big bulk count string", b"*1\r\n$" + b"1" * 70000),
    ("NUL hides the line end", b"PI\x00NG\r\n" + b"x" * 70000),
    ("unbalanced quotes", b"SET a \"b\r\n"),
    ("unbalanced single quotes", b"SET a 'b\r\n"),
    ("closing quote not followed by space", b"SET a \"b\"c\r\n"),
    ("good commands then garbage", b"PING\r\nSET k v\r\nGET k\r\n*x\r\nPING\r\n"),
]


@pytest.mark.parametrize("name,data", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_input_closes_connection(both, name, data):
    ts, rs = both
    results = []
    for srv in (ts, rs):
        bystander = Wire(srv)
        assert bystander.cmd("SET", "bystander", "1") == b"+OK\r\n"
        w = Wire(srv)
        w.send(data)
        results.append(w.until_close())
        w.close()
        # Another client on the same server is unaffected.
        assert bystander.cmd("GET", "bystander") == b"$1\r\n1\r\n"
        assert Wire(srv).cmd("PING") == b"+PONG\r\n"
        bystander.close()
    assert results[0] == results[1]
    assert b"-ERR Protocol error" in results[0]


def test_proto_max_bulk_len_new_connections(both):
    ts, rs = both
    data = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n"
    results = []
    for srv in (ts, rs):
        c = Wire(srv)
        assert c.cmd("CONFIG", "SET", "proto-max-bulk-len", "1mb") == b"+OK\r\n"
        try:
            w = Wire(srv)
            w.send(data)
            results.append(w.until_close())
            # A bulk right at the limit is fine.
            w = Wire(srv)
            assert w.cmd("SET", "k", "x" * (1024 * 1024)) == b"+OK\r\n"
            assert w.cmd("STRLEN", "k") == b":1048576\r\n"
        finally:
            c.cmd("CONFIG", "SET", "proto-max-bulk-len", "512mb")
    assert results[0] == results[1] == b"-ERR Protocol error: invalid bulk length\r\n"


def test_proto_max_bulk_len_existing_connection(server, r):
    w = Wire(server)
    c = Wire(server)
    assert c.cmd("CONFIG", "SET", "proto-max-bulk-len", "1mb") == b"+OK\r\n"
    try:
        w.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n")
        assert w.until_close(timeout=2) == b"-ERR Protocol error: invalid bulk length\r\n"
    finally:
        c.cmd("CONFIG", "SET", "proto-max-bulk-len", "512mb")


# ---------- very large arguments ----------

def test_100mb_argument_in_pieces(server, r):
    size = 100 * 1000 * 1000
    w = Wire(server, timeout=120)
    head = b"*3\r\n$3\r\nSET\r\n$7\r\nbig{k}1\r\n$%d\r\n" % size
    piece = bytes(range(256)) * 4096            # 1 MiB
    w.send(head)
    sent = 0
    rng = random.Random(3)
    while sent < size:
        n = min(size - sent, rng.choice([1, 1000, 65536, len(piece)]))
        w.send(piece[:n])
        sent += n
    w.send(b"\r\n")
    assert w.reply() == b"+OK\r\n"
    assert w.cmd("STRLEN", "big{k}1") == b":%d\r\n" % size
    # Pieces restart the byte pattern; the end of the last one is known.
    tail = piece[:size - (sent - n)][-8:]
    assert w.cmd("GETRANGE", "big{k}1", size - 8, -1) == b"$8\r\n%s\r\n" % tail
    assert w.cmd("DEL", "big{k}1") == b":1\r\n"
    w.close()


def test_large_argument_to_other_shard(server, r):
    """A multi-megabyte value that travels to the other shard in a batch."""
    k = keys_on(NSHARDS - 1, "bigremote")[0]
    v = os.urandom(3 * 1024 * 1024)
    w = Wire(server)
    w.send(encode("SET", k, v) + encode("GET", k) + encode("STRLEN", k))
    assert w.reply() == b"+OK\r\n"
    assert w.reply() == b"$%d\r\n%s\r\n" % (len(v), v)
    assert w.reply() == b":%d\r\n" % len(v)
    w.close()


# ---------- error texts ----------

UNKNOWN = [
    ("foo", "a", "b"),
    ("foo",),
    ("FOO", "x" * 200),
    ("foo", "new\r\nline"),
    ("foo", ""),
]

UNKNOWN_LONG = [
    ("foo", "a" * 40, "b" * 40),
    ("foo", "a" * 100, "b" * 100),
    ("x" * 200, "a"),
    ("foo",) + tuple("a%d" % i for i in range(60)),
]


@pytest.mark.parametrize("args", UNKNOWN, ids=range(len(UNKNOWN)))
def test_unknown_command_text(both, args):
    ts, rs = both
    assert Wire(ts).cmd(*args) == Wire(rs).cmd(*args)


@pytest.mark.parametrize("args", UNKNOWN_LONG, ids=range(len(UNKNOWN_LONG)))
def test_unknown_command_text_long(both, args):
    ts, rs = both
    assert Wire(ts).cmd(*args) == Wire(rs).cmd(*args)


def test_unknown_command_with_nul(both):
    ts, rs = both
    data = b"*1\r\n$4\r\nPI\x00G\r\n"
    assert exchange(ts, data, 1) == exchange(rs, data, 1)


ARITY = [
    ("GET",), ("GET", "a", "b"), ("SET", "a"), ("MSET", "a"), ("MGET",), ("ECHO",), ("ECHO", "a", "b"),
    ("PING", "a", "b"), ("SELECT",), ("DBSIZE", "x"), ("TIME", "x"), ("CLIENT",), ("CLIENT", "SETNAME"),
    ("CLIENT", "ID", "x"), ("CLIENT", "GETNAME", "x"), ("CLIENT", "KILL"), ("CONFIG",), ("CONFIG", "GET"),
    ("CONFIG", "SET", "a"), ("CONFIG", "RESETSTAT", "x"), ("COMMAND", "COUNT", "x"), ("COMMAND", "GETKEYS"),
    ("COMMAND", "GETKEYS", "GET"), ("INCR",), ("RENAME", "a"), ("EXISTS",), ("DEL",), ("OBJECT", "ENCODING"),
    ("DEBUG",), ("SWAPDB", "0"), ("MOVE", "a"), ("EXPIRE", "a"), ("KEYS",), ("SCAN",), ("get",), ("GeT",),
    ("client", "setname"), ("Config", "Get"),
]


def test_wrong_arity_texts(both):
    ts, rs = both
    a, b = Wire(ts), Wire(rs)
    for args in ARITY:
        assert a.cmd(*args) == b.cmd(*args), args


def test_unknown_subcommand_texts(both):
    ts, rs = both
    a, b = Wire(ts), Wire(rs)
    for args in [("CLIENT", "foo"), ("CONFIG", "foo", "bar"), ("COMMAND", "foo"), ("CLIENT", "x" * 300),
                 ("client", "nope", "a", "b"), ("OBJECT", "foo", "k")]:
        assert a.cmd(*args) == b.cmd(*args), args


# ---------- RESP3 ----------

def resp3_diff(ts, rs, cmds):
    """Runs HELLO 3 then cmds on both servers, compares the replies."""
    out = []
    for srv in (ts, rs):
        w = Wire(srv)
        w.send(encode("HELLO", "3") + b"".join(encode(*c) for c in cmds))
        out.append([redis_id_free(w.reply())] + [w.reply() for _ in cmds])
        w.close()
    return out


def test_resp3_replies_equal_redis(both):
    ts, rs = both
    a, b = keys_on(0, "r3")[0], keys_on(NSHARDS - 1, "r3")[0]
    cmds = [
        ("GET", "missing"), ("GET", a), ("SET", a, "1"), ("SET", b, "2"),
        ("MGET", a, b, "missing"), ("MGET", b, "nope"), ("EXISTS", a, b), ("TTL", a), ("PTTL", "missing"),
        ("INCRBYFLOAT", "f", "1.5"), ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", "three"),
        ("CLIENT", "GETNAME"), ("CONFIG", "GET", "maxclients"), ("CONFIG", "GET", "timeout"),
        ("CONFIG", "GET", "nosuch"), ("PING",), ("PING", "x"), ("ECHO", "e"), ("OBJECT", "ENCODING", "nope"),
        ("OBJECT", "ENCODING", a), ("SELECT", "1"), ("RANDOMKEY",), ("DBSIZE",), ("KEYS", "*"),
        ("SELECT", "0"), ("COMMAND", "GETKEYS", "MSET", a, "1", b, "2"),
        ("COMMAND", "INFO", "nosuchcommand"), ("CLIENT", "ID", "x"), ("COMMAND", "DOCS", "get", "mset"),
        ("CLIENT", "LIST", "ID", "0"), ("INFO", "nosuchsection"), ("CONFIG", "GET", "tcp-backlog"),
        ("HELLO", "3", "SETNAME", "a b"), ("GETDEL", a), ("GETDEL", a), ("DEL", a, b), ("CONFIG", "SET", "timeout", "0"),
    ]
    got, want = resp3_diff(ts, rs, cmds)
    for c, x, y in zip([("HELLO", "3")] + cmds, got, want):
        assert x == y, "%r: tessera %r, redis %r" % (c, x, y)


def test_resp3_remote_shard_nulls(server, r):
    """RESP3 nulls from commands that run on the other shard (batches)."""
    w = Wire(server)
    ks = spread_keys("nul", 2)
    w.cmd("HELLO", "3")
    w.send(b"".join(encode("GET", k) for k in ks) + encode("MGET", *ks))
    for _ in ks:
        assert w.reply() == b"_\r\n"
    assert w.reply() == b"*%d\r\n" % len(ks) + b"_\r\n" * len(ks)
    w.cmd("HELLO", "2")
    w.send(b"".join(encode("GET", k) for k in ks))
    for _ in ks:
        assert w.reply() == b"$-1\r\n"
    w.close()


def test_resp3_hello_map(both):
    ts, rs = both
    for args in [("HELLO", "3"), ("HELLO",), ("HELLO", "2"), ("HELLO", "3", "AUTH", "default", "pw"),
                 ("HELLO", "2", "SETNAME", "x", "AUTH", "default", "y")]:
        assert redis_id_free(Wire(ts).cmd(*args)) == redis_id_free(Wire(rs).cmd(*args)), args


def test_resp3_hello_id_is_client_id(server):
    w = Wire(server)
    raw = w.cmd("HELLO", "3")
    cid = int(re.search(rb"\$2\r\nid\r\n:(\d+)\r\n", raw).group(1))
    assert w.cmd("CLIENT", "ID") == b":%d\r\n" % cid


HELLO_ERRORS = [
    ("HELLO", "4"), ("HELLO", "1"), ("HELLO", "-1"), ("HELLO", "abc"), ("HELLO", "3.0"), ("HELLO", "03"),
    ("HELLO", "99999999999999"), ("HELLO", "999999999999999999999"),
    ("HELLO", "3", "AUTH", "bob", "pw"), ("HELLO", "3", "AUTH", "default"), ("HELLO", "3", "AUTH"),
    ("HELLO", "3", "SETNAME", "a b"), ("HELLO", "3", "SETNAME", "a\nb"), ("HELLO", "3", "SETNAME"),
    ("HELLO", "3", "foo"), ("HELLO", "3", "o" * 300), ("HELLO", "3", "AUTH", "bob", "pw", "SETNAME", "a b"),
]


def test_hello_errors(both):
    ts, rs = both
    for args in HELLO_ERRORS:
        a, b = Wire(ts), Wire(rs)
        # The protocol stays RESP2 after an error.
        assert a.cmd(*args) + a.cmd("GET", "nokey") == b.cmd(*args) + b.cmd("GET", "nokey"), args


def test_hello_options_apply_in_order(both):
    """Like Redis 7.0, SETNAME takes effect when it is read, even if a later
    option fails."""
    ts, rs = both
    for args in [("HELLO", "3", "SETNAME", "abc", "foo"), ("HELLO", "3", "SETNAME", "abc", "SETNAME", "a b"),
                 ("HELLO", "3", "SETNAME", "abc", "AUTH", "bob", "pw"), ("HELLO", "2", "SETNAME", "a", "SETNAME", "b"),
                 ("HELLO", "5", "SETNAME", "abc"), ("HELLO", "3", "SETNAME", "")]:
        a, b = Wire(ts), Wire(rs)
        ra = [redis_id_free(a.cmd(*args)), a.cmd("CLIENT", "GETNAME")]
        rb = [redis_id_free(b.cmd(*args)), b.cmd("CLIENT", "GETNAME")]
        assert ra == rb, args


def test_resp3_config_get_is_map(server):
    w = Wire(server)
    w.cmd("HELLO", "3")
    assert w.cmd("CONFIG", "GET", "maxclients") == b"%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n"
    assert w.cmd("CONFIG", "GET", "tcp-*").startswith(b"%2\r\n")


def test_resp3_info_is_verbatim(server):
    w = Wire(server)
    w.cmd("HELLO", "3")
    for args in [("INFO",), ("INFO", "server"), ("CLIENT", "INFO"), ("CLIENT", "LIST")]:
        raw = w.cmd(*args)
        m = re.match(rb"=(\d+)\r\ntxt:", raw)
        assert m, (args, raw[:40])
        assert len(raw) == len(m.group(0)) - 4 + int(m.group(1)) + 2
        assert raw.endswith(b"\r\n")


def test_resp3_time_and_command_count(both):
    ts, rs = both
    out = []
    for srv in (ts, rs):
        w = Wire(srv)
        w.cmd("HELLO", "3")
        out.append((w.cmd("TIME"), w.cmd("COMMAND", "COUNT")))
    shape = lambda raw: re.sub(rb"\d+", b"N", raw)
    assert shape(out[0][0]) == shape(out[1][0])           # *2 $N N $N N
    assert re.fullmatch(rb":\d+\r\n", out[0][1])
    t = int(re.findall(rb"\r\n(\d+)\r\n", out[0][0])[0])
    assert abs(t - time.time()) < 5


def test_resp3_command_info(both):
    ts, rs = both
    out = []
    for srv in (ts, rs):
        w = Wire(srv)
        w.cmd("HELLO", "3")
        # Flags, tips, key specifications as RESP3 sets and maps: the whole
        # reply is Redis's, byte for byte (containers are left out: Redis
        # lists their subcommands in dict order).
        out.append(w.cmd("COMMAND", "INFO", "echo", "select", "hello", "swapdb", "shutdown", "nosuch", "get", "set",
                         "mset", "rename", "lcs", "ping", "keys", "dbsize", "copy", "expire"))
    assert out[0] == out[1]
