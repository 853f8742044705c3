"""MULTI / EXEC / DISCARD: Tessera's raw replies must equal Redis 7.0's,
whatever shards the queued commands' keys live on; transactions are
atomic and isolated across shards; the AOF gets one MULTI/EXEC block.

Keys named a*/b* below are chosen per shard (keys_on), so a transaction
runs inline (every key on the connection's shard), as a compound txn over
key locks (keys on several shards), or holding every shard (KEYS,
FLUSHALL, SCAN, MOVE inside it): src/cmd/transaction.c.
"""
import threading
import time

import pytest

from conftest import start_tessera
from tessera_testlib import NSHARDS, Wire, encode, keys_on, parse

A = keys_on(0, "a", 3)
B = keys_on(NSHARDS - 1, "b", 3)


def tx(d, *cmds):
    """MULTI, the commands, EXEC through the Diff d; returns EXEC's reply."""
    d("MULTI")
    for c in cmds:
        d(*c)
    return d("EXEC")


SCRIPTS = {
    "empty": [],
    "one": [("SET", A[0], "1")],
    "same_shard": [("SET", A[0], "1"), ("INCR", A[0]), ("GET", A[0]), ("APPEND", A[1], "x"), ("MGET", A[0], A[1])],
    "hash_tag": [("SET", "{u}a", "1"), ("INCR", "{u}a"), ("LPUSH", "{u}l", "1", "2"), ("LRANGE", "{u}l", "0", "-1"),
                 ("HSET", "{u}h", "f", "v"), ("HGETALL", "{u}h")],
    "two_shards": [("SET", A[0], "1"), ("SET", B[0], "2"), ("INCR", A[0]), ("INCRBY", B[0], "5"),
                   ("MGET", A[0], B[0])],
    "multi_shard_cmds": [("MSET", A[0], "1", B[0], "2", A[1], "3"), ("MGET", A[0], B[0], A[1], B[1]),
                         ("DEL", A[1], B[1]), ("EXISTS", A[0], B[0], A[1]), ("RENAME", A[0], B[2]),
                         ("GET", B[2])],
    "borrow": [("RPUSH", A[0], "x", "y"), ("LMOVE", A[0], B[0], "LEFT", "RIGHT"), ("LRANGE", B[0], "0", "-1"),
               ("SADD", A[1], "m"), ("SMOVE", A[1], B[1], "m"), ("SMEMBERS", B[1]),
               ("ZADD", A[2], "1", "z"), ("ZUNIONSTORE", B[2], "2", A[2], B[2]), ("ZRANGE", B[2], "0", "-1")],
    "keyless": [("PING",), ("ECHO", "hi"), ("SET", A[0], "v"), ("DBSIZE",), ("EXISTS", A[0]),
                ("SET", B[0], "w"), ("DBSIZE",)],
    "global": [("SET", A[0], "1"), ("SET", B[0], "2"), ("KEYS", A[0]), ("KEYS", "b*"), ("FLUSHDB",), ("DBSIZE",), ("GET", A[0])],
    "select": [("SET", A[0], "db0"), ("SELECT", "3"), ("SET", A[0], "db3"), ("GET", A[0]), ("SELECT", "0"),
               ("GET", A[0]), ("SELECT", "99"), ("GET", A[0])],
    "move": [("SET", A[0], "x"), ("MOVE", A[0], "2"), ("EXISTS", A[0]), ("SELECT", "2"), ("GET", A[0])],
    "runtime_errors": [("SET", A[0], "x"), ("LPUSH", A[0], "y"), ("INCR", A[0]), ("SET", B[0], "1"),
                       ("INCR", B[0]), ("HSET", B[0], "f", "v"), ("GET", B[0])],
    "blocking": [("BLPOP", A[0], "0"), ("RPUSH", A[0], "e"), ("BLPOP", A[0], "0"), ("BLMOVE", A[1], B[1], "LEFT",
                                                                                       "LEFT", "0"),
                 ("BZPOPMIN", B[0], "0")],
    "sort_by_pattern": [("RPUSH", A[0], "3", "1", "2"), ("SET", "w_1", "9"), ("SET", "w_2", "5"),
                        ("SET", "w_3", "7"), ("SORT", A[0], "BY", "w_*"), ("SORT", A[0], "BY", "w_*", "STORE", B[0]),
                        ("LRANGE", B[0], "0", "-1")],
    "expire": [("SET", A[0], "v", "EX", "100"), ("TTL", A[0]), ("PERSIST", A[0]), ("TTL", A[0]),
               ("PEXPIRE", B[0], "100")],
    "conn_cmds": [("CLIENT", "SETNAME", "txn"), ("CLIENT", "GETNAME"), ("SET", B[0], "1"), ("CLIENT", "GETNAME")],
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_exec_scripts(d, name):
    tx(d, *SCRIPTS[name])
    # The effects stay: read them back outside the transaction.
    d("SELECT", "0")
    for k in A + B:
        d("DUMP", k)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_exec_scripts_resp3(d, name):
    d.both("HELLO", "3")   # (server identity differs)
    tx(d, *SCRIPTS[name])


def test_queue_errors_abort(d):
    # Unknown command, wrong arity: EXECABORT, nothing runs.
    tx(d, ("SET", A[0], "1"), ("NOSUCH", "x"), ("SET", B[0], "1"))
    d("EXISTS", A[0], B[0])
    tx(d, ("SET", A[0], "1"), ("GET",), ("SET", B[0], "1"))
    d("EXISTS", A[0], B[0])
    # Not allowed inside a transaction.
    tx(d, ("SET", A[0], "1"), ("SAVE",))
    d("EXISTS", A[0])


def test_state_errors(d):
    d("EXEC")
    d("DISCARD")
    d("MULTI")
    d("MULTI")            # an error, but the transaction goes on
    d("SET", A[0], "1")
    d("EXEC")
    d("MULTI")
    d("SET", A[0], "2")
    d("SET", B[0], "2")
    d("DISCARD")
    d("EXEC")
    d("MGET", A[0], B[0])


def test_pipelined(server, reference):
    """A whole transaction in one write, with commands before and after."""
    cmds = [("SET", A[0], "0"), ("MULTI",), ("INCR", A[0]), ("INCR", B[0]), ("MGET", A[0], B[0]), ("EXEC",),
            ("MGET", A[0], B[0]), ("MULTI",), ("NOSUCH",), ("EXEC",), ("GET", A[0])]
    data = b"".join(encode(*c) for c in cmds)
    out = []
    for srv in (server, reference):
        w = Wire(srv)
        w.cmd("FLUSHALL")
        w.send(data)
        out.append(w.replies(len(cmds)))
        w.close()
    assert out[0] == out[1]


def test_client_list_in_multi(server):
    """CLIENT LIST shows the queue length (multi=) and flag x."""
    c, w = server.client(), Wire(server)
    w.cmd("MULTI")
    w.cmd("SET", "x", "1")
    w.cmd("SET", "y", "2")
    me = parse(w.cmd("CLIENT", "ID"))   # queued too: the third command
    assert me == "QUEUED"
    line = [l for l in c.execute_command("CLIENT", "LIST").decode().splitlines() if " cmd=client|id " in l
            or " multi=3 " in l]
    assert len(line) == 1 and " multi=3 " in line[0] and " flags=x " in line[0], line
    assert int(line[0].split(" multi-mem=")[1].split()[0]) > 0
    w.cmd("DISCARD")
    line = [l for l in c.execute_command("CLIENT", "LIST").decode().splitlines() if " cmd=discard " in l]
    assert len(line) == 1 and " multi=-1 " in line[0] and " flags=N " in line[0], line
    c.close()
    w.close()


def commandstats(w, names):
    out = {}
    for line in parse(w.cmd("INFO", "commandstats")).decode().splitlines():
        for n in names:
            if line.startswith("cmdstat_%s:" % n):
                f = dict(kv.split("=") for kv in line.split(":", 1)[1].split(","))
                out[n] = (f["calls"], f["rejected_calls"], f["failed_calls"])
    return out


def test_commandstats(d):
    for w in (d.a, d.b):
        w.cmd("CONFIG", "RESETSTAT")
    tx(d, ("SET", A[0], "x"), ("INCR", A[0]), ("SET", B[0], "1"), ("INCR", B[0]))
    tx(d, ("SET", A[0], "x"), ("NOSUCH",))
    tx(d, ("GET",))
    d("EXEC")
    names = ["exec", "multi", "set", "incr", "get"]
    assert commandstats(d.a, names) == commandstats(d.b, names)


def test_blocked_client_served_after_exec(server, reference):
    """Redis serves a blocked client after the whole EXEC: a push then a pop
    of the same list inside it leaves the BLPOP waiting."""
    results = []
    for srv in (server, reference):
        w, blocked = Wire(srv), Wire(srv)
        w.cmd("FLUSHALL")
        blocked.send(encode("BLPOP", A[0], "1"))
        time.sleep(0.2)
        w.cmd("MULTI")
        w.cmd("LPUSH", A[0], "a")
        w.cmd("LPOP", A[0])
        w.cmd("LPUSH", A[0], "b", "c")
        w.cmd("LPOP", A[0])
        results.append((w.cmd("EXEC"), blocked.reply(), w.cmd("LRANGE", A[0], "0", "-1")))
        w.close()
        blocked.close()
    assert results[0] == results[1]


def test_acl_changed_before_exec(d, server, reference):
    """Redis checks the ACL again at EXEC: a command the rules no longer
    allow gets NOPERM with its reason, the others run; ACL LOG says
    context multi."""
    admins = [Wire(server), Wire(reference)]

    def admin(*args):
        x, y = (w.cmd(*args) for w in admins)
        assert x == y, (args, x, y)
        return x

    admin("ACL", "SETUSER", "txu", "on", ">pw", "~*", "+@all")
    admin("ACL", "LOG", "RESET")
    d("AUTH", "txu", "pw")
    d("MULTI")
    d("SET", A[0], "1")
    d("GET", B[0])
    admin("ACL", "SETUSER", "txu", "-set")
    d("EXEC")
    admin("ACL", "SETUSER", "txu", "+set")
    d("MULTI")
    d("SET", A[0], "2")
    d("GET", B[0])
    admin("ACL", "SETUSER", "txu", "resetkeys", "~a*")
    d("EXEC")
    d("MULTI")
    d("SET", "nope", "1")     # refused while queueing: EXECABORT, logged with context multi
    d("EXEC")
    la, lb = (parse(w.cmd("ACL", "LOG")) for w in admins)
    pick = lambda log: [(e[1], e[3], e[5], e[7]) for e in log]   # count, reason, context, object
    assert pick(la) == pick(lb)
    admin("ACL", "DELUSER", "txu")
    for w in admins:
        w.close()


# ---------- WATCH ----------

def pair_wires(server, reference):
    return [Wire(server), Wire(reference)]


class Two:
    """A second connection to each server, compared like d."""

    def __init__(self, server, reference):
        self.w = pair_wires(server, reference)

    def __call__(self, *args):
        x, y = (w.cmd(*args) for w in self.w)
        assert x == y, (args, x, y)
        return x

    def close(self):
        for w in self.w:
            w.close()


@pytest.fixture
def other(server, reference):
    o = Two(server, reference)
    yield o
    o.close()


@pytest.mark.parametrize("resp", ["2", "3"])
@pytest.mark.parametrize("key", [A[0], B[0]], ids=["local", "remote"])
def test_watch_touched_by_other_client(d, other, resp, key):
    if resp == "3":
        d.both("HELLO", "3")
    d("SET", key, "1")
    d("WATCH", key, A[1], B[1])
    other("SET", key, "2")
    assert tx(d, ("INCR", key), ("SET", B[2], "x")) in (b"*-1\r\n", b"_\r\n")
    d("MGET", key, B[2])
    # the session ended with that EXEC: the next transaction runs
    other("SET", key, "3")
    tx(d, ("INCR", key))


def test_watch_untouched_and_unwatch_discard(d, other):
    d("WATCH", A[0], B[0])
    other("SET", A[1], "x")           # another key: no effect
    tx(d, ("SET", A[0], "1"), ("SET", B[0], "1"))
    d("WATCH", A[0], B[0])
    d("UNWATCH")
    other("SET", A[0], "2")
    tx(d, ("GET", A[0]))
    d("WATCH", B[0])
    d("MULTI")
    d("DISCARD")                     # DISCARD unwatches too
    other("SET", B[0], "3")
    tx(d, ("GET", B[0]))
    d("WATCH", A[0])
    d("MULTI")
    d("WATCH", B[0])                 # inside MULTI: an error, not an abort
    d("UNWATCH")                     # queued
    other("DEL", A[0])
    d("EXEC")


def test_watch_own_writes_and_noops(d, other):
    d("SET", A[0], "1")
    d("WATCH", A[0])
    d("SET", A[0], "1")              # the watcher's own write dirties it too
    tx(d, ("GET", A[0]))
    d("WATCH", A[0], B[0])
    other("SETNX", A[0], "x")        # no change: no abort
    other("DEL", B[0])               # missing: no change
    tx(d, ("GET", A[0]))


@pytest.mark.parametrize("change", ["flushdb", "flushdb_other_db", "flushall", "swapdb", "move", "expire_later",
                                    "rename_to", "rename_from"])
def test_watch_db_wide_changes(d, other, change):
    d("SET", A[0], "1")
    d("SET", B[0], "1")
    d("SELECT", "1")
    d("SET", B[1], "x")
    d("SELECT", "0")
    d("WATCH", A[0], B[0])
    if change == "flushdb":
        other("FLUSHDB")
    elif change == "flushdb_other_db":
        other("SELECT", "1")
        other("FLUSHDB")
    elif change == "flushall":
        other("FLUSHALL")
    elif change == "swapdb":
        other("SWAPDB", "0", "1")
    elif change == "move":
        other("MOVE", B[0], "1")
    elif change == "expire_later":
        other("PEXPIRE", A[0], "1")
        time.sleep(0.05)
    elif change == "rename_to":
        other("SET", A[2], "z")
        other("RENAME", A[2], B[0])
    elif change == "rename_from":
        other("RENAME", A[0], B[2])
    tx(d, ("PING",))


def test_watch_already_expired(d, other):
    for w in (d.a, d.b):
        w.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        d("SET", A[0], "1", "PX", "1")
        d("SET", B[0], "1", "PX", "1")
        time.sleep(0.05)
        d("WATCH", A[0], B[0])       # both already expired (still stored)
        tx(d, ("PING",))             # still expired at EXEC: no abort
        d("WATCH", A[0])
        other("GET", A[0])           # lazily deleted: no logical change
        tx(d, ("PING",))
        d("SET", B[1], "1", "PX", "1")
        time.sleep(0.05)
        d("WATCH", B[1])
        other("SET", B[1], "new")    # re-created: a change
        tx(d, ("PING",))
    finally:
        for w in (d.a, d.b):
            w.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "1")


# ---------- atomicity across shards ----------

def test_transfers_keep_total(tmp_path):
    """Clients move amounts between accounts on different shards with
    MULTI/EXEC while others sum every account inside MULTI/EXEC: the sum
    never changes."""
    srv = start_tessera(tmp_path, threads=max(NSHARDS, 3))
    accounts = ["acct:%d" % i for i in range(12)]
    c = srv.client()
    c.mset({k: 100 for k in accounts})
    total = 100 * len(accounts)
    stop = time.time() + 4
    errors = []

    def mover(seed):
        import random
        rnd = random.Random(seed)
        cl = srv.client()
        while time.time() < stop:
            a, b = rnd.sample(accounts, 2)
            n = rnd.randint(1, 10)
            p = cl.pipeline(transaction=True)
            p.decrby(a, n)
            p.incrby(b, n)
            p.execute()
        cl.close()

    def summer():
        cl = srv.client()
        n = 0
        while time.time() < stop:
            p = cl.pipeline(transaction=True)
            for k in accounts:
                p.get(k)
            s = sum(int(v) for v in p.execute())
            if s != total:
                errors.append(s)
            p = cl.pipeline(transaction=True)
            p.mget(accounts)
            s = sum(int(v) for v in p.execute()[0])
            if s != total:
                errors.append(("mget", s))
            n += 1
        cl.close()
        assert n > 10

    threads = [threading.Thread(target=mover, args=(i,)) for i in range(3)] + \
              [threading.Thread(target=summer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(int(v) for v in c.mget(accounts)) == total
    c.close()
    assert srv.stop() == 0


# ---------- the AOF ----------

def test_aof_block_and_reload(tmp_path):
    srv = start_tessera(tmp_path, "--appendonly", "yes", "--appendfsync", "always", threads=max(NSHARDS, 2))
    c = srv.client()
    p = c.pipeline(transaction=True)
    p.set(A[0], "1")
    p.set(B[0], "2")
    p.incr(A[0])
    p.execute()
    p = c.pipeline(transaction=True)
    p.set("{t}x", "1")
    p.incr("{t}x")
    p.execute()
    p = c.pipeline(transaction=True)
    p.get(A[0])
    p.set("single", "1")
    p.execute()
    c.close()
    assert srv.stop() == 0
    with open(tmp_path / "appendonly.aof", "rb") as f:
        data = f.read()
    assert data.count(b"MULTI") == 2, data
    assert data.count(b"EXEC") == 2, data
    # one command that propagated: no block around it
    assert data.index(b"single") > data.rindex(b"EXEC")
    srv2 = start_tessera(tmp_path, "--appendonly", "yes", threads=max(NSHARDS, 2))
    c = srv2.client()
    assert c.mget(A[0], B[0], "{t}x", "single") == [b"2", b"2", b"2", b"1"]
    c.close()
    assert srv2.stop() == 0


def test_sigkill_during_transfers_restarts_consistent(tmp_path):
    """With appendfsync always, a SIGKILL in the middle of cross-shard
    MULTI/EXEC and script transfers restarts to the same total: the AOF
    never holds half of one (a torn MULTI block is dropped at load)."""
    import random
    import signal
    threads = max(NSHARDS, 3)
    srv = start_tessera(tmp_path, "--appendonly", "yes", "--appendfsync", "always", threads=threads)
    accounts = ["acct:%d" % i for i in range(12)]
    c = srv.client()
    c.mset({k: 100 for k in accounts})
    total = 100 * len(accounts)
    done = threading.Event()
    counts = []

    move = "redis.call('decrby', ARGV[1], 3) redis.call('incrby', ARGV[2], 3) return 1"

    def mover(seed):
        rnd = random.Random(seed)
        cl = srv.client()
        n = 0
        try:
            while not done.is_set():
                a, b = rnd.sample(accounts, 2)
                if seed % 2:
                    cl.eval(move, 0, a, b)   # undeclared keys on two shards: a script holding every shard
                else:
                    p = cl.pipeline(transaction=True)
                    p.decrby(a, 3)
                    p.incrby(b, 3)
                    p.execute()
                n += 1
        except Exception:
            pass   # the server was killed
        counts.append(n)

    ts = [threading.Thread(target=mover, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    time.sleep(1.5)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    done.set()
    for t in ts:
        t.join()
    assert sum(counts) > 50, counts
    c.close()
    srv2 = start_tessera(tmp_path, "--appendonly", "yes", threads=threads)
    c = srv2.client()
    vals = [int(v) for v in c.mget(accounts)]
    assert sum(vals) == total, vals
    assert vals != [100] * len(accounts)
    c.close()
    assert srv2.stop() == 0
