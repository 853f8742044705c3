"""Atomicity of multi-shard commands under concurrency, and freedom from
deadlock.

Writers change keys that live on different shards in one command (MSET,
DEL, MSETNX, RENAME) while readers on other connections look at all of them
in one command (MGET, EXISTS). A reader must never see half of a write:
every MGET of k1..k8 returns eight equal values (or eight nils), every
EXISTS src dst during a RENAME ping-pong returns exactly 1. Each scenario
runs against servers with 2 and with 4 worker threads, with keys spread
over every shard of both layouts. The deadlock test has many clients run
random overlapping multi-shard commands with a timeout on every request.

TESSERA_ATOMICITY_SECONDS sets how long each scenario runs (default 2).
"""
import itertools
import os
import random
import socket
import threading
import time

import pytest

from conftest import start_tessera
from tessera_testlib import Wire, encode, key_shard, parse, spread_keys

SECONDS = float(os.environ.get("TESSERA_ATOMICITY_SECONDS", "2"))
REQUEST_TIMEOUT = 10.0    # generous for the sanitizer builds; a hang is far longer


# ---------- helpers ----------

def eight_keys(prefix):
    """k1..k8: two on each shard of a 4-shard layout, hence four on each of
    a 2-shard layout (shard = slot * n / 16384)."""
    ks = spread_keys(prefix, 2, nshards=4)
    for n in (2, 4):
        assert {key_shard(k, n) for k in ks} == set(range(n))
    return ks


class Conn(Wire):
    """A raw connection with a per-request timeout; replies parsed."""

    def __init__(self, port):
        sock = socket.create_connection(("127.0.0.1", port), timeout=REQUEST_TIMEOUT)
        super().__init__(sock, timeout=REQUEST_TIMEOUT, nodelay=True)

    def pipeline(self, cmds):
        """Sends every command at once, returns the replies in order."""
        self.send(b"".join(encode(*c) for c in cmds))
        return [parse(self.reply()) for _ in cmds]

    def __call__(self, *args):
        return self.pipeline([args])[0]


class Workers:
    """Runs functions in threads until the time is up; collects failures."""

    def __init__(self, seconds):
        self.stop_at = time.time() + seconds
        self.errors = []
        self.threads = []
        self.counts = {}

    def running(self):
        return time.time() < self.stop_at and not self.errors

    def spawn(self, name, fn, *args):
        def run():
            n = 0
            try:
                while self.running():
                    fn(*args)
                    n += 1
            except socket.timeout:
                self.errors.append("%s: a request got no reply in %.0f s (deadlock?)" % (name, REQUEST_TIMEOUT))
            except AssertionError as e:
                self.errors.append("%s: %s" % (name, e))
            except Exception as e:  # pragma: no cover - anything else is a failure too
                self.errors.append("%s: %r" % (name, e))
            self.counts[name] = n
        t = threading.Thread(target=run, name=name)
        self.threads.append(t)
        t.start()

    def join(self):
        for t in self.threads:
            t.join(REQUEST_TIMEOUT + SECONDS + 30)
            assert not t.is_alive(), "%s is stuck" % t.name
        assert not self.errors, self.errors[:5]


@pytest.fixture(params=[2, 4], ids=["threads2", "threads4"])
def srv(request, tmp_path):
    s = start_tessera(tmp_path, threads=request.param)
    s.threads = request.param
    yield s
    assert s.stop() == 0


def check_counts(w, minimum=1):
    for name, n in w.counts.items():
        assert n >= minimum, "%s ran %d times" % (name, n)


# ---------- MSET / MGET ----------

def test_mset_mget_all_or_nothing(srv):
    ks = eight_keys("k")
    setup = Conn(srv.port)
    assert setup("MSET", *[x for k in ks for x in (k, "v0")]) == "OK"
    w = Workers(SECONDS)

    def writer(c, wid, seq):
        v = "w%d-%d" % (wid, next(seq))
        assert c("MSET", *[x for k in ks for x in (k, v)]) == "OK"

    def pipelined_writer(c, wid, seq):
        cmds = []
        for _ in range(8):
            n = next(seq)
            order = ks[::-1] if n % 2 else ks
            cmds.append(("MSET",) + tuple(x for k in order for x in (k, "p%d-%d" % (wid, n))))
        assert c.pipeline(cmds) == ["OK"] * len(cmds)

    def reader(c):
        vals = c("MGET", *ks)
        assert len(set(vals)) == 1, "torn MSET seen by MGET: %r" % vals

    def pipelined_reader(c):
        for vals in c.pipeline([("MGET",) + tuple(ks), ("MGET",) + tuple(ks[::-1]), ("MGET",) + tuple(ks[2:6])] * 4):
            assert len(set(vals)) == 1, "torn MSET seen by a pipelined MGET: %r" % vals

    for i in range(2):
        w.spawn("writer%d" % i, writer, Conn(srv.port), i, itertools.count())
    w.spawn("pwriter", pipelined_writer, Conn(srv.port), 9, itertools.count())
    for i in range(3):
        w.spawn("reader%d" % i, reader, Conn(srv.port))
    w.spawn("preader", pipelined_reader, Conn(srv.port))
    w.join()
    check_counts(w)
    assert len(set(setup("MGET", *ks))) == 1


def test_mset_del_exists(srv):
    """Writers create all eight keys or delete all eight; EXISTS and MGET
    see 0 or 8 of them, never a part."""
    ks = eight_keys("e")
    w = Workers(SECONDS)

    def creator(c):
        assert c("MSET", *[x for k in ks for x in (k, "x")]) == "OK"

    def deleter(c):
        assert c("DEL", *ks) in (0, 8)

    def msetnx(c):
        assert c("MSETNX", *[x for k in ks for x in (k, "nx")]) in (0, 1)

    def reader(c):
        n = c("EXISTS", *ks)
        assert n in (0, 8), "EXISTS saw %d of 8 keys" % n
        vals = c("MGET", *ks)
        assert len(set(vals)) == 1, "MGET saw a partial MSET/DEL: %r" % vals

    w.spawn("creator", creator, Conn(srv.port))
    w.spawn("deleter", deleter, Conn(srv.port))
    w.spawn("msetnx", msetnx, Conn(srv.port))
    for i in range(3):
        w.spawn("reader%d" % i, reader, Conn(srv.port))
    w.join()
    check_counts(w)


def test_whole_keyspace_commands_see_whole_writes(srv):
    """Commands that visit every shard (DBSIZE, KEYS, SWAPDB, FLUSHALL) and
    multi-shard writes (MSET, DEL) never see or split part of each other."""
    ks = eight_keys("ks")
    w = Workers(SECONDS)

    def creator(c):
        assert c("MSET", *[x for k in ks for x in (k, "v")]) == "OK"

    def deleter(c):
        assert c("DEL", *ks) in (0, 8)

    def swapper(c):
        assert c("SWAPDB", "0", "1") == "OK"

    def flusher(c, rng):
        time.sleep(rng.random() * 0.05)
        assert c("FLUSHALL") == "OK"

    def reader(c):
        n = c("DBSIZE")
        assert n in (0, 8), "DBSIZE saw %d of 8 keys" % n
        found = c("KEYS", "ks*")
        assert len(found) in (0, 8), "KEYS saw %d of 8 keys" % len(found)
        vals = c("MGET", *ks)
        assert len(set(vals)) == 1, "MGET saw %r" % vals

    w.spawn("creator", creator, Conn(srv.port))
    w.spawn("deleter", deleter, Conn(srv.port))
    w.spawn("swapper", swapper, Conn(srv.port))
    w.spawn("flusher", flusher, Conn(srv.port), random.Random(1))
    for i in range(3):
        w.spawn("reader%d" % i, reader, Conn(srv.port))
    w.join()
    check_counts(w)


# ---------- RENAME ----------

def rename_pairs(nshards):
    """(src, dst) pairs on different shards, both directions."""
    ks = spread_keys("rn", 1, nshards)
    return [(ks[0], ks[-1]), (ks[-1], ks[0])] + [(ks[i], ks[i + 1]) for i in range(nshards - 1)]


def test_rename_ping_pong(srv):
    w = Workers(SECONDS)
    pairs = []
    for i, (a, b) in enumerate(rename_pairs(srv.threads)[:3]):
        a, b = "%s:%d" % (a, i), "%s:%d" % (b, i)
        if key_shard(a, srv.threads) != key_shard(b, srv.threads):
            pairs.append((a, b))
    assert pairs
    setup = Conn(srv.port)
    for i, (a, b) in enumerate(pairs):
        setup("DEL", a, b)
        assert setup("SET", a, "token%d" % i) == "OK"

    def mover(c, a, b):
        # Move the token one way, then the other.
        assert c("RENAME", a, b) == "OK"
        assert c("RENAME", b, a) == "OK"

    def pipelined_mover(c, a, b):
        assert c.pipeline([("RENAME", a, b), ("RENAME", b, a)] * 5) == ["OK"] * 10

    def reader(c, a, b, token):
        n = c("EXISTS", a, b)
        assert n == 1, "EXISTS %s %s = %d during RENAME" % (a, b, n)
        vals = c("MGET", a, b)
        assert sorted(vals, key=lambda v: v is None) == [token, None], "MGET %s %s = %r" % (a, b, vals)
        n = c("EXISTS", b, a, b)          # counts b twice: 1 or 2, never 0 or 3
        assert n in (1, 2), "EXISTS %s %s %s = %d during RENAME" % (b, a, b, n)

    for i, (a, b) in enumerate(pairs):
        mv = pipelined_mover if i % 2 else mover
        w.spawn("mover%d" % i, mv, Conn(srv.port), a, b)
        for j in range(2):
            w.spawn("reader%d.%d" % (i, j), reader, Conn(srv.port), a, b, b"token%d" % i)
    w.join()
    check_counts(w)
    for i, (a, b) in enumerate(pairs):
        assert setup("EXISTS", a, b) == 1
        assert setup("GET", a) == b"token%d" % i


def test_borrowed_collections_smove_lmove(srv):
    """Data-type commands across shards run through borrowing (the keys are
    detached under their locks while the command runs). SMOVE ping-pongs a
    member between sets on two shards while readers look at both in one
    command: SUNION always holds it once, SINTERCARD never counts it. LMOVE
    ping-pongs a list element meanwhile, and it is never lost."""
    w = Workers(SECONDS)
    a, b = rename_pairs(srv.threads)[0]
    sa, sb, la, lb = "s" + a, "s" + b, "l" + a, "l" + b
    if key_shard(sa, srv.threads) == key_shard(sb, srv.threads) or \
            key_shard(la, srv.threads) == key_shard(lb, srv.threads):
        pytest.skip("keys on one shard")
    setup = Conn(srv.port)
    setup("DEL", sa, sb, la, lb)
    assert setup("SADD", sa, "m", "fixed") == 2
    assert setup("SADD", sb, "fixed") == 1
    assert setup("RPUSH", la, "e") == 1

    def set_mover(c):
        assert c("SMOVE", sa, sb, "m") == 1
        assert c("SMOVE", sb, sa, "m") == 1

    def list_mover(c):
        assert c.pipeline([("LMOVE", la, lb, "LEFT", "RIGHT"), ("LMOVE", lb, la, "LEFT", "RIGHT")]) == [b"e", b"e"]

    def set_reader(c):
        u = c("SUNION", sa, sb)
        assert sorted(u) == [b"fixed", b"m"], "SUNION = %r during SMOVE" % (u,)
        n = c("SINTERCARD", "2", sa, sb)
        assert n == 1, "SINTERCARD = %d during SMOVE" % n

    w.spawn("smover", set_mover, Conn(srv.port))
    w.spawn("lmover", list_mover, Conn(srv.port))
    for j in range(2):
        w.spawn("sreader%d" % j, set_reader, Conn(srv.port))
    w.join()
    check_counts(w)
    assert sorted(setup("SUNION", sa, sb)) == [b"fixed", b"m"]
    assert setup("LLEN", la) + setup("LLEN", lb) == 1


def test_rename_keeps_ttl_and_value_under_load(srv):
    """RENAME moves value and TTL between shards while another client reads
    TTL and value of whichever key holds them."""
    a, b = rename_pairs(srv.threads)[0]
    setup = Conn(srv.port)
    setup("DEL", a, b)
    setup("SET", a, "payload" * 100, "EX", "1000")
    w = Workers(min(SECONDS, 1.5))

    def mover(c):
        assert c.pipeline([("RENAME", a, b), ("RENAME", b, a)]) == ["OK", "OK"]

    def reader(c):
        vals, ta, tb = c.pipeline([("MGET", a, b), ("TTL", a), ("TTL", b)])
        present = [v for v in vals if v is not None]
        assert present == [b"payload" * 100], vals

    w.spawn("mover", mover, Conn(srv.port))
    w.spawn("reader", reader, Conn(srv.port))
    w.join()
    assert 990 <= setup("TTL", a) <= 1000


# ---------- deadlock freedom ----------

def test_no_deadlock_random_multi_shard(srv):
    """Many clients run MSET, DEL, RENAME, MGET, EXISTS, MSETNX and COPY on
    random, overlapping key sets spanning every shard, some pipelined. No
    request may wait longer than the request timeout."""
    pool = spread_keys("dl", 12 // srv.threads + 1, srv.threads)
    w = Workers(SECONDS)

    def one(rng):
        op = rng.randrange(7)
        ks = rng.sample(pool, rng.randint(2, 6))
        if op == 0:
            return ("MSET",) + tuple(x for k in ks for x in (k, str(rng.random())))
        if op == 1:
            return ("DEL",) + tuple(ks)
        if op == 2:
            return ("RENAME", ks[0], ks[1])
        if op == 3:
            return ("MGET",) + tuple(ks)
        if op == 4:
            return ("EXISTS",) + tuple(ks)
        if op == 5:
            return ("MSETNX",) + tuple(x for k in ks for x in (k, "nx"))
        return ("COPY", ks[0], ks[1], "REPLACE")

    def client(c, rng):
        if rng.random() < 0.3:
            cmds = [one(rng) for _ in range(rng.randint(2, 20))]
            replies = c.pipeline(cmds)
        else:
            cmds = [one(rng)]
            replies = [c(*cmds[0])]
        for cmd, rep in zip(cmds, replies):
            if isinstance(rep, tuple):
                # Only RENAME of a missing key may fail.
                assert cmd[0] == "RENAME" and rep == ("err", "ERR no such key"), (cmd, rep)

    for i in range(16):
        w.spawn("client%d" % i, client, Conn(srv.port), random.Random(i))
    w.join()
    check_counts(w)
    c = Conn(srv.port)
    assert c("PING") == "PONG"
    assert c("DBSIZE") <= len(pool)
    vals = c("MGET", *pool)
    assert len(vals) == len(pool)
