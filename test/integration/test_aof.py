"""The append-only file: every type and the non-deterministic commands
survive a restart (clean and SIGKILL), the file is Redis's format
(redis-check-aof accepts it, redis-server 7.0 loads it), torn tails and
corruption are handled like Redis, and with appendfsync always no
acknowledged write is ever lost to a SIGKILL."""
import os
import random
import shutil
import signal
import subprocess
import threading
import time

import pytest
import redis

from conftest import start_redis, start_tessera, spawn_tessera, exit_status_after_use, wait_exit
from tessera_testlib import encode as cmd
from test_persistence import contents, fill_every_type

REDIS = shutil.which("redis-server")
CHECK_AOF = shutil.which("redis-check-aof")


def start_aof(tdir, *extra, threads=None):
    return start_tessera(tdir, "--appendonly", "yes", *extra, threads=threads)


def kill9(srv):
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(10)


def kill9_while_running(srv, threads, stop, pause):
    """Starts the client threads, SIGKILLs the server after `pause`
    seconds, then stops and joins them."""
    for t in threads:
        t.start()
    time.sleep(pause)
    kill9(srv)
    stop.set()
    for t in threads:
        t.join()


def nondeterministic_writes(c, other):
    """Commands whose argv is not their effect (aof.h), run on c; `other`
    is a second connection for blocked clients."""
    c.set("nd:ex", "v", ex=1000)
    c.set("nd:px", "v", px=500000)
    c.setex("nd:setex", 1000, "v")
    c.psetex("nd:psetex", 900000, "v")
    c.set("nd:getex", "v")
    c.getex("nd:getex", ex=800)
    c.set("nd:persist", "v", ex=100)
    c.getex("nd:persist", persist=True)
    c.set("nd:exp", "v")
    c.expire("nd:exp", 700)
    c.set("nd:pexp", "v")
    c.pexpire("nd:pexp", 600000)
    c.set("nd:gone", "v")
    c.expireat("nd:gone", 1)            # in the past: deleted (logged as DEL)
    c.set("nd:nx", "v")
    c.expire("nd:nx", 100, nx=True)
    c.expire("nd:nx", 5000, nx=True)    # not applied
    c.incrbyfloat("nd:f", 10.5)
    c.incrbyfloat("nd:f", 0.1)
    c.hincrbyfloat("nd:h", "f", 3.25)
    c.sadd("nd:s", *range(100))
    c.spop("nd:s")
    c.spop("nd:s", 10)
    c.spop("nd:s", 85)                   # most of the set: the swap path
    c.sadd("nd:s2", 1, 2)
    c.spop("nd:s2", 5)                   # everything: DEL
    for i in range(30):
        c.xadd("nd:x", {"i": i})
    c.xadd("nd:x", {"i": "t"}, maxlen=10, approximate=True)
    c.xtrim("nd:x", maxlen=5, approximate=True)
    c.xgroup_create("nd:x", "g", id="0")
    c.xreadgroup("g", "c1", {"nd:x": ">"}, count=2)
    c.xclaim("nd:x", "g", "c2", 0, [c.xrange("nd:x")[0][0]])
    c.xautoclaim("nd:x", "g", "c3", 0, "0-0", count=1)
    c.set("nd:dump", "payload")
    c.restore("nd:restored", 400000, c.dump("nd:dump"))
    c.rpush("nd:l", 1, 2, 3)
    c.blpop(["nd:empty", "nd:l"], 1)
    c.brpoplpush("nd:l", "nd:l2", 1)
    c.blmove("nd:l", "nd:l3", 1, "LEFT", "RIGHT")
    c.zadd("nd:z", {"a": 1, "b": 2, "c": 3})
    c.bzpopmin(["nd:z"], 1)
    c.execute_command("BZMPOP", 1, 1, "nd:z", "MAX", "COUNT", 1)
    c.rpush("nd:lm", 1, 2, 3, 4)
    c.execute_command("BLMPOP", 1, 1, "nd:lm", "RIGHT", "COUNT", 2)
    # Served later: a client blocked first, then the push.
    got = []
    t = threading.Thread(target=lambda: got.append(other.blpop(["nd:later"], 10)))
    t.start()
    time.sleep(0.2)
    c.rpush("nd:later", "x", "y")
    t.join()
    assert got == [(b"nd:later", b"x")]
    # Across shards (atomic commands logged whole by their coordinator).
    c.mset({"ms:%d" % i: i for i in range(20)})
    c.set("rn:a", "1")
    c.rename("rn:a", "rn:b")
    c.sadd("sm:src", "m1", "m2")
    c.smove("sm:src", "sm:dst", "m1")
    c.copy("ms:1", "ms:copy")
    c.execute_command("SELECT", 5)
    c.set("db5", "x")
    c.execute_command("FLUSHDB")
    c.set("db5:after", "y")
    c.execute_command("SELECT", 0)
    c.set("mv", "1")
    c.move("mv", 6)
    c.swapdb(7, 8)
    c.execute_command("SELECT", 7)
    c.set("db7", "z")
    c.execute_command("SELECT", 0)
    c.swapdb(7, 8)
    c.set("lazy", "v", px=1)
    time.sleep(0.01)
    assert c.get("lazy") is None        # expired on access: logged as DEL


def fill(c, other):
    fill_every_type(c, 0)
    fill_every_type(c, 3, n_big=50)
    nondeterministic_writes(c, other)


def ttls(c):
    return {k: c.pexpiretime(k) for k in c.scan_iter("nd:*")}


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
def test_every_type_survives_restart(tmp_path, stop):
    srv = start_aof(tmp_path, "--appendfsync", "always")
    try:
        c, other = srv.client(), srv.client()
        fill(c, other)
        before, before_ttl = contents(c), ttls(c)
        assert c.info("persistence")["aof_enabled"] == 1
        if stop == "sigkill":
            kill9(srv)
        else:
            assert srv.stop() == 0
        srv = start_aof(tmp_path)
        c = srv.client()
        assert contents(c) == before
        assert ttls(c) == before_ttl
        assert c.get("nd:f") == b"10.6"
        assert c.ttl("nd:nx") <= 100
        # The log keeps growing after a replay, and a second restart agrees.
        c.set("after", "restart")
        before = contents(c)
        assert srv.stop() == 0
        srv = start_aof(tmp_path)
        assert contents(srv.client()) == before
    finally:
        srv.stop()


@pytest.mark.skipif(not CHECK_AOF, reason="redis-check-aof not installed")
def test_redis_check_aof_accepts_the_file(tmp_path):
    srv = start_aof(tmp_path)
    try:
        c, other = srv.client(), srv.client()
        fill(c, other)
    finally:
        assert srv.stop() == 0
    out = subprocess.run([CHECK_AOF, str(tmp_path / "appendonly.aof")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "is valid" in out.stdout


def redis_loading(aof, rdir):
    """A redis-server 7.0 started on a copy of the single-file AOF `aof`
    (it upgrades it to its multi-part layout), once it has loaded it."""
    rdir.mkdir()
    shutil.copy(aof, rdir / "appendonly.aof")
    ref = start_redis(rdir, "--appendonly", "yes")
    try:
        rc = ref.client()
        for _ in range(100):
            if rc.info("persistence")["loading"] == 0:
                break
            time.sleep(0.05)
    except BaseException:
        ref.stop()
        raise
    return ref


def assert_redis_replays_alike(tmp_path, write, observe):
    """Runs write(server) on Tessera with the AOF on, then has redis-server
    7.0 load the file: observe(client) must read the same on both."""
    tdir = tmp_path / "t"
    tdir.mkdir()
    srv = start_aof(tdir)
    try:
        write(srv)
        before = observe(srv.client())
    finally:
        assert srv.stop() == 0
    ref = redis_loading(tdir / "appendonly.aof", tmp_path / "r")
    try:
        assert observe(ref.client()) == before
    finally:
        ref.stop()


@pytest.mark.skipif(not REDIS, reason="redis-server not installed")
def test_redis_server_loads_the_file(tmp_path):
    """Redis 7.0 loads Tessera's AOF with the same contents."""
    assert_redis_replays_alike(tmp_path, lambda srv: fill(srv.client(), srv.client()), contents)


GROUP_KEYS = ["cg:a", "cg:b", "cg:{a}2"]   # several shards, and two on one


def group_state(c):
    """XINFO STREAM FULL of every GROUP_KEYS stream, less what a replay
    cannot keep: the consumers' seen-times (the replay's own, in Redis
    too) and radix-tree-nodes (Tessera estimates it)."""
    out = {}
    for key in GROUP_KEYS:
        info = c.xinfo_stream(key, full=True)
        info.pop("radix-tree-nodes", None)
        for g in info["groups"]:
            for cons in g["consumers"]:
                i = cons.index(b"seen-time")
                del cons[i:i + 2]
        out[key] = info
    return out


def consumer_group_traffic(c, rounds=150, seed=7):
    """Seeded reads and claims by several consumers of several groups
    (XREADGROUP new and history, NOACK, keys of several shards in one
    call, XCLAIM with every option, XAUTOCLAIM over deleted entries, XACK,
    XDEL, XGROUP SETID/CREATECONSUMER/DELCONSUMER)."""
    rnd = random.Random(seed)
    for key in GROUP_KEYS:
        for i in range(60):
            c.xadd(key, {"i": i, "k": key})
        c.xgroup_create(key, "g1", id="0")
        c.xgroup_create(key, "g2", id="$")
    consumers = ["alice", "bob", "carol"]
    for _ in range(rounds):
        key = rnd.choice(GROUP_KEYS)
        group = rnd.choice(["g1", "g2"])
        who = rnd.choice(consumers)
        op = rnd.randrange(11)
        ids = [e[0] for e in c.xrange(key)]
        if op == 0:
            c.xadd(key, {"new": rnd.random()})
        elif op in (1, 2):
            c.xreadgroup(group, who, {k: ">" for k in rnd.sample(GROUP_KEYS, 2)}, count=rnd.randint(1, 4))
        elif op == 3:
            c.xreadgroup(group, who, {key: ">"}, count=2, noack=True)
        elif op == 4:
            c.xreadgroup(group, who, {key: "0"}, count=rnd.randint(1, 3))
        elif op == 5 and ids:
            pending = [p["message_id"] for p in c.xpending_range(key, group, "-", "+", 5)]
            pick = rnd.sample(ids, 2) + pending[:2]
            c.xclaim(key, group, who, 0, pick, idle=rnd.choice([None, 5000]),
                     retrycount=rnd.choice([None, 9]), force=rnd.random() < 0.5,
                     justid=rnd.random() < 0.5)
        elif op == 6:
            c.execute_command("XCLAIM", key, group, who, 0, ids[0] if ids else "0-1",
                              "TIME", 1600000000000, "LASTID", ids[min(len(ids) - 1, 20)] if ids else "0-1")
        elif op == 7:
            c.xautoclaim(key, group, who, 0, "0-0", count=rnd.randint(1, 5), justid=rnd.random() < 0.5)
        elif op == 8 and ids:
            pending = [p["message_id"] for p in c.xpending_range(key, group, "-", "+", 10)]
            c.xdel(key, *rnd.sample(ids, 2))
            if pending:
                c.xack(key, group, pending[0])
        elif op == 9 and rnd.random() < 0.3:
            c.xgroup_setid(key, group, rnd.choice(["0", "$"] + ids[:5]))
        elif op == 10:
            if rnd.random() < 0.5:
                c.xgroup_createconsumer(key, group, "dave")
            else:
                c.xgroup_delconsumer(key, group, rnd.choice(consumers + ["dave"]))


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
def test_consumer_groups_survive_restart(tmp_path, stop):
    """Reads and claims are logged as what they changed in the group
    (XCLAIM ... FORCE JUSTID LASTID, XACK, XGROUP SETID, ...): a replay
    gives the same pending entries, owners, delivery times and counts,
    positions and consumers."""
    srv = start_aof(tmp_path, "--appendfsync", "always", threads=3)
    try:
        c = srv.client()
        consumer_group_traffic(c)
        before = group_state(c)
        if stop == "sigkill":
            kill9(srv)
        else:
            assert srv.stop() == 0
        srv = start_aof(tmp_path, threads=2)
        assert group_state(srv.client()) == before
    finally:
        srv.stop()


@pytest.mark.skipif(not REDIS, reason="redis-server not installed")
def test_redis_server_replays_consumer_groups_alike(tmp_path):
    assert_redis_replays_alike(tmp_path, lambda srv: consumer_group_traffic(srv.client(), seed=11), group_state)


def test_reading_a_big_stream_logs_only_what_changed(tmp_path):
    """An XREADGROUP or XCLAIM of one entry from a stream of 20000 adds a
    few hundred bytes to the log, not the stream. (appendfsync always: a
    reply means its bytes are in the file, so the sizes read are exact.)"""
    srv = start_aof(tmp_path, "--appendfsync", "always")
    try:
        c = srv.client()
        p = c.pipeline(transaction=False)
        for i in range(20000):
            p.xadd("big", {"field": "value %d" % i})
        p.execute()
        c.xgroup_create("big", "g", id="0")
        size0 = c.info("persistence")["aof_current_size"]
        for _ in range(10):
            c.xreadgroup("g", "c1", {"big": ">"}, count=1)
        first = c.xrange("big", count=1)[0][0]
        c.xclaim("big", "g", "c2", 0, [first])
        c.xautoclaim("big", "g", "c3", 0, "0-0", count=1)
        grown = c.info("persistence")["aof_current_size"] - size0
        assert 0 < grown < 12 * 400, grown
    finally:
        srv.stop()


def write_aof(tdir, data):
    (tdir / "appendonly.aof").write_bytes(data)


def start_expect_exit(tdir, *extra, timeout=20):
    proc, _ = spawn_tessera(tdir, "--appendonly", "yes", *extra)
    return wait_exit(proc, timeout, "the server started")


def test_truncated_tail_is_cut_off(tmp_path):
    good = cmd("SELECT", 0) + b"".join(cmd("SET", "k%d" % i, i) for i in range(10))
    torn = good + cmd("SET", "torn", "value")[:-3]
    write_aof(tmp_path, torn)
    srv = start_aof(tmp_path)
    try:
        c = srv.client()
        assert c.dbsize() == 10 and c.get("k9") == b"9" and c.get("torn") is None
        c.set("next", "1")
    finally:
        assert srv.stop() == 0
    log = (tmp_path / "tessera.log").read_text()
    assert "short read while loading the AOF file" in log
    assert "Truncating the AOF" in log and str(len(good)) in log
    data = (tmp_path / "appendonly.aof").read_bytes()
    assert data.startswith(good) and b"torn" not in data and b"next" in data


def test_truncated_tail_refused_without_aof_load_truncated(tmp_path):
    write_aof(tmp_path, cmd("SET", "a", 1) + b"*3\r\n$3\r\nSET")
    assert start_expect_exit(tmp_path, "--aof-load-truncated", "no") == 1
    assert "Unexpected end of file reading the append only file" in (tmp_path / "tessera.log").read_text()


def test_open_multi_at_the_end_is_truncated(tmp_path):
    write_aof(tmp_path, cmd("SET", "a", 1) + cmd("MULTI") + cmd("SET", "b", 2))
    srv = start_aof(tmp_path)
    try:
        c = srv.client()
        assert c.get("a") == b"1" and c.get("b") is None
    finally:
        srv.stop()


def test_multi_exec_block_from_redis_loads(tmp_path):
    write_aof(tmp_path, cmd("MULTI") + cmd("SET", "a", 1) + cmd("INCR", "a") + cmd("EXEC"))
    srv = start_aof(tmp_path)
    try:
        assert srv.client().get("a") == b"2"
    finally:
        srv.stop()


def test_corruption_in_the_middle_stops_startup(tmp_path):
    data = cmd("SET", "a", 1) + b"x" + cmd("SET", "b", 2)
    write_aof(tmp_path, data)
    assert start_expect_exit(tmp_path) == 1
    log = (tmp_path / "tessera.log").read_text()
    assert "Bad file format reading the append only file" in log
    assert "offset %d" % len(cmd("SET", "a", 1)) in log
    assert (tmp_path / "appendonly.aof").read_bytes() == data   # never "fixed" behind the user's back


def test_unknown_command_stops_startup(tmp_path):
    write_aof(tmp_path, cmd("SET", "a", 1) + cmd("NOSUCHCOMMAND", "x"))
    assert start_expect_exit(tmp_path) == 1
    assert "Unknown command 'NOSUCHCOMMAND' reading the append only file" in (tmp_path / "tessera.log").read_text()


def test_flipped_bytes_never_crash(tmp_path):
    good = b"".join(cmd("RPUSH", "l", *range(i, i + 5)) for i in range(0, 50, 5)) + cmd("HSET", "h", "f", "v")
    rnd = random.Random(7)
    for _ in range(25):
        data = bytearray(good)
        pos = rnd.randrange(len(data))
        data[pos] ^= rnd.choice([0x01, 0x20, 0x5A, 0xFF])
        write_aof(tmp_path, bytes(data))
        proc, port = spawn_tessera(tmp_path, "--appendonly", "yes")
        rc = exit_status_after_use(proc, port)
        assert rc in (0, 1), "byte %d: exit %s" % (pos, rc)


@pytest.mark.parametrize("threads", [1, 3])
def test_big_command_tail_loads_exactly(tmp_path, threads):
    """A command tail of several MB, with MULTI blocks and values bigger
    than the replay's write runs (256 KB) between ordinary commands: the
    replay applies every command once, in file order."""
    rnd = random.Random(11)
    parts, expect = [cmd("SELECT", 0)], {}
    for i in range(20000):
        k = "k%d" % rnd.randrange(3000)
        if i % 2500 == 7:
            v = bytes(rnd.randrange(256) for _ in range(300000))
        else:
            v = b"v%d" % i * rnd.randrange(1, 8)
        if i % 5 == 0:
            parts += [cmd("MULTI"), cmd("SET", k, v), cmd("APPEND", k, "!"), cmd("EXEC")]
            expect[k] = v + b"!"
        else:
            parts.append(cmd("SET", k, v))
            expect[k] = v
    write_aof(tmp_path, b"".join(parts))
    srv = start_aof(tmp_path, threads=threads)
    try:
        c = srv.client()
        assert c.dbsize() == len(expect)
        keys = sorted(expect)
        for i in range(0, len(keys), 500):
            assert c.mget(keys[i:i + 500]) == [expect[k] for k in keys[i:i + 500]]
    finally:
        assert srv.stop() == 0


def aof_with_preamble(tdir):
    """An AOF made of an RDB preamble (a rewrite) and a command tail;
    returns (file bytes, contents, preamble length)."""
    srv = start_aof(tdir, "--appendfsync", "always", threads=3)
    try:
        c = srv.client()
        fill_every_type(c, 0, n_big=50)
        assert c.bgrewriteaof()
        wait_rewrite(c, 1)
        preamble_len = os.path.getsize(tdir / "appendonly.aof")
        for i in range(20):
            c.set("after%d" % i, i)
        c.rpush("lst", "tail")
        expected = contents(c)
    finally:
        assert srv.stop() == 0
    data = (tdir / "appendonly.aof").read_bytes()
    assert data.startswith(b"REDIS0010") and len(data) > preamble_len
    return data, expected, preamble_len


def test_rdb_preamble_then_command_tail(tmp_path):
    """The preamble is read by the RDB loader, the tail after it by the
    command scan: a torn tail is cut at its absolute offset, corruption in
    the tail or in the preamble stops startup naming what is wrong."""
    data, expected, preamble_len = aof_with_preamble(tmp_path)
    srv = start_aof(tmp_path, threads=2)
    try:
        assert contents(srv.client()) == expected
    finally:
        assert srv.stop() == 0

    write_aof(tmp_path, data + cmd("SET", "torn", "x")[:-2])
    srv = start_aof(tmp_path, threads=2)
    try:
        assert contents(srv.client()) == expected
    finally:
        assert srv.stop() == 0
    log = (tmp_path / "tessera.log").read_text()
    assert "Truncating the AOF appendonly.aof at offset %d" % len(data) in log
    assert (tmp_path / "appendonly.aof").read_bytes() == data

    write_aof(tmp_path, data + b"x" + cmd("SET", "b", 2))
    assert start_expect_exit(tmp_path) == 1
    log = (tmp_path / "tessera.log").read_text()
    assert "Bad file format reading the append only file appendonly.aof at offset %d" % len(data) in log
    assert (tmp_path / "appendonly.aof").read_bytes() == data + b"x" + cmd("SET", "b", 2)   # left as it was

    bad = bytearray(data)
    bad[preamble_len // 2] ^= 0x20       # inside the preamble: the CRC64 catches it at least
    write_aof(tmp_path, bytes(bad))
    assert start_expect_exit(tmp_path) == 1
    assert "Bad file format reading the RDB preamble of the append only file" in \
        (tmp_path / "tessera.log").read_text()
    assert (tmp_path / "appendonly.aof").read_bytes() == bytes(bad)


def test_first_start_with_aof_keeps_the_rdb_data(tmp_path):
    """Turning appendonly on over an existing dump: the dump is loaded and
    becomes the AOF's RDB preamble, so the next start still has it."""
    srv = start_tessera(tmp_path)
    try:
        c = srv.client()
        fill_every_type(c, 0, n_big=50)
        before = contents(c)
        assert c.save()
    finally:
        srv.stop()
    srv = start_aof(tmp_path)
    try:
        c = srv.client()
        assert contents(c) == before
        c.set("added", "later")
        before = contents(c)
    finally:
        assert srv.stop() == 0
    assert (tmp_path / "appendonly.aof").read_bytes().startswith(b"REDIS0010")
    os.unlink(tmp_path / "dump.rdb")
    srv = start_aof(tmp_path)
    try:
        assert contents(srv.client()) == before
    finally:
        srv.stop()


def test_info_and_config(tmp_path):
    srv = start_aof(tmp_path)
    try:
        c = srv.client()
        assert c.config_get("appendonly") == {"appendonly": "yes"}
        assert c.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert c.config_set("appendfsync", "always")
        c.set("x", "y")
        info = c.info("persistence")
        assert info["aof_enabled"] == 1 and info["aof_last_write_status"] == "ok"
        assert info["aof_current_size"] == os.path.getsize(tmp_path / "appendonly.aof") > 0
        with pytest.raises(redis.ResponseError, match="argument 'appendfsync'"):
            c.config_set("appendfsync", "sometimes")
    finally:
        srv.stop()


def acked_writer(port, wid, acked, stop):
    c = redis.Redis(port=port, socket_timeout=5)
    i = 0
    try:
        while not stop.is_set():
            key = "w%d:%d" % (wid, i)
            c.set(key, i)
            acked.append(key)       # only after the reply
            c.incr("ctr%d" % wid)
            acked.append(("ctr%d" % wid, i + 1))
            i += 1
    except (redis.ConnectionError, redis.TimeoutError):
        pass


def test_sigkill_never_loses_an_acknowledged_write(tmp_path):
    """appendfsync always: writers on several connections, SIGKILL at random
    moments (20 times); after each restart every acknowledged write is there."""
    rnd = random.Random(11)
    srv = start_aof(tmp_path, "--appendfsync", "always")
    all_acked = []
    try:
        for round_ in range(20):
            acked, stop = [], threading.Event()
            ts = [threading.Thread(target=acked_writer, args=(srv.port, w, acked, stop)) for w in range(6)]
            kill9_while_running(srv, ts, stop, rnd.uniform(0.05, 0.4))
            all_acked.extend(acked)
            srv = start_aof(tmp_path, "--appendfsync", "always")
            c = srv.client()
            keys = [k for k in all_acked if isinstance(k, str)]
            values = c.mget(keys) if keys else []
            missing = [k for k, v in zip(keys, values) if v is None]
            assert not missing, "round %d: lost %d acknowledged SETs, e.g. %s" % (round_, len(missing), missing[:3])
            for name, n in (k for k in acked if isinstance(k, tuple)):
                assert int(c.get(name) or 0) >= n, "round %d: %s below an acknowledged %d" % (round_, name, n)
            # Next round's writers start their counters afresh.
            c.delete(*["ctr%d" % w for w in range(6)])
            all_acked = keys
    finally:
        srv.stop()


def observing_reader(port, names, seen, stop):
    """GETs the counters in a loop (single GETs and MGETs, so both local
    replies and replies from other shards take part); records the highest
    value it was ever shown per counter."""
    c = redis.Redis(port=port, socket_timeout=5)
    try:
        while not stop.is_set():
            for name, v in zip(names, c.mget(names)):
                if v is not None:
                    seen[name] = max(seen.get(name, 0), int(v))
            name = names[len(seen) % len(names)]
            v = c.get(name)
            if v is not None:
                seen[name] = max(seen.get(name, 0), int(v))
    except (redis.ConnectionError, redis.TimeoutError):
        pass


@pytest.mark.parametrize("threads", [1, 3])
def test_sigkill_never_loses_a_value_a_reader_saw(tmp_path, threads):
    """appendfsync always: a reply leaves only once every write it reflects
    is durable, so a value that any client was shown survives a SIGKILL,
    even when the client that read it is not the one that wrote it."""
    rnd = random.Random(23 + threads)
    names = ["ctr%d" % w for w in range(6)]
    srv = start_aof(tmp_path, "--appendfsync", "always", threads=threads)
    try:
        for round_ in range(int(os.environ.get("READER_ROUNDS", "15"))):
            acked, stop = [], threading.Event()
            seen = [{} for _ in range(4)]
            ts = [threading.Thread(target=acked_writer, args=(srv.port, w, acked, stop)) for w in range(6)]
            ts += [threading.Thread(target=observing_reader, args=(srv.port, names, seen[i], stop))
                   for i in range(4)]
            kill9_while_running(srv, ts, stop, rnd.uniform(0.1, 0.4))
            srv = start_aof(tmp_path, "--appendfsync", "always", threads=threads)
            c = srv.client()
            observed = 0
            for s in seen:
                for name, n in s.items():
                    observed += 1
                    assert int(c.get(name) or 0) >= n, "round %d: %s was read as %d, then lost" % (round_, name, n)
            assert observed, "the readers saw nothing"
            c.delete(*names)
            c.delete(*[k for k in acked if isinstance(k, str)])
    finally:
        srv.stop()


def test_everysec_loses_at_most_about_a_second(tmp_path):
    srv = start_aof(tmp_path, "--appendfsync", "everysec")
    try:
        c = srv.client()
        for i in range(2000):
            c.set("k%d" % i, i)
        time.sleep(2.2)              # one background fsync at least
        kill9(srv)
        srv = start_aof(tmp_path)
        assert srv.client().dbsize() == 2000
    finally:
        srv.stop()


def wait_rewrite(c, n, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        info = c.info("persistence")
        if info["aof_rewrites"] >= n and info["aof_rewrite_in_progress"] == 0:
            return info
        time.sleep(0.05)
    raise AssertionError("no AOF rewrite finished")


def test_bgrewriteaof_under_writers_keeps_everything(tmp_path):
    """BGREWRITEAOF while writers keep going: the new file (RDB preamble of
    the snapshot point + the log after it) replays to exactly the state at
    the end, and redis-check-aof / redis-server accept it."""
    srv = start_aof(tmp_path, "--appendfsync", "always")
    try:
        c, other = srv.client(), srv.client()
        fill(c, other)
        stop = threading.Event()

        def writer(wid):
            w = redis.Redis(port=srv.port)
            i = 0
            while not stop.is_set():
                w.incr("rw:ctr%d" % wid)
                w.rpush("rw:list{%d}" % wid, i)
                w.hset("rw:h", "f%d:%d" % (wid, i % 50), i)
                i += 1

        ts = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in ts:
            t.start()
        time.sleep(0.2)
        assert c.bgrewriteaof()
        try:
            c.bgrewriteaof()      # a second one while the first runs is refused
        except redis.ResponseError as e:
            assert "rewriting already in progress" in str(e)
        wait_rewrite(c, 1)
        time.sleep(0.2)
        stop.set()
        for t in ts:
            t.join()
        before = contents(c)
        info = c.info("persistence")
        assert info["aof_last_bgrewrite_status"] == "ok"
        assert info["aof_base_size"] <= info["aof_current_size"]
        kill9(srv)
        data = (tmp_path / "appendonly.aof").read_bytes()
        assert data.startswith(b"REDIS0010")
        srv = start_aof(tmp_path)
        assert contents(srv.client()) == before
    finally:
        srv.stop()
    if CHECK_AOF:
        out = subprocess.run([CHECK_AOF, str(tmp_path / "appendonly.aof")], capture_output=True, text=True)
        assert out.returncode == 0 and "is valid" in out.stdout, out.stdout + out.stderr


def test_bgrewriteaof_shrinks_a_log_of_overwrites(tmp_path):
    srv = start_aof(tmp_path)
    try:
        c = srv.client()
        for i in range(3000):
            c.set("same", "x" * 100)
        c.bgrewriteaof()
        wait_rewrite(c, 1)
        assert os.path.getsize(tmp_path / "appendonly.aof") < 2000
        c.set("after", "1")
    finally:
        assert srv.stop() == 0
    srv = start_aof(tmp_path)
    try:
        c = srv.client()
        assert c.get("same") == b"x" * 100 and c.get("after") == b"1"
    finally:
        srv.stop()


def rewrite_as_commands(srv):
    """Fills every type (streams with groups and an empty one among them),
    rewrites the AOF as commands, and writes more after the rewrite."""
    c, other = srv.client(), srv.client()
    fill(c, other)
    consumer_group_traffic(c)
    c.xgroup_create("cg:empty", "g", id="$", mkstream=True)
    c.xadd("cg:emptied", {"f": "v"}, id="5-5")
    c.xdel("cg:emptied", "5-5")
    c.bgrewriteaof()
    wait_rewrite(c, 1)
    with open(srv.workdir / "appendonly.aof", "rb") as f:
        assert f.read(1) == b"*"   # no RDB preamble
    c.set("after:rewrite", "1")
    c.xreadgroup("g1", "erin", {"cg:a": ">"}, count=2)


def everything(c):
    return contents(c), group_state(c), c.xinfo_stream("cg:empty"), c.xinfo_stream("cg:emptied")


@pytest.mark.parametrize("threads", [1, 3])
def test_rewrite_without_rdb_preamble(tmp_path, threads):
    """aof-use-rdb-preamble no: the rewrite writes the commands that rebuild
    every key (Redis 7.0's forms), and a replay gives the same data."""
    srv = start_aof(tmp_path, "--appendfsync", "always", "--aof-use-rdb-preamble", "no", threads=threads)
    try:
        rewrite_as_commands(srv)
        c = srv.client()
        assert c.config_get("aof-use-rdb-preamble") == {"aof-use-rdb-preamble": "no"}
        before = everything(c)
        kill9(srv)
        srv = start_aof(tmp_path, threads=2)
        assert everything(srv.client()) == before
    finally:
        srv.stop()


@pytest.mark.skipif(not REDIS or not CHECK_AOF, reason="redis-server or redis-check-aof not installed")
def test_redis_loads_a_rewrite_without_rdb_preamble(tmp_path):
    def write(srv):
        srv.client().config_set("aof-use-rdb-preamble", "no")
        rewrite_as_commands(srv)
    assert_redis_replays_alike(tmp_path, write, everything)
    out = subprocess.run([CHECK_AOF, str(tmp_path / "t" / "appendonly.aof")], capture_output=True, text=True)
    assert out.returncode == 0 and "is valid" in out.stdout, out.stdout + out.stderr


def test_automatic_rewrite(tmp_path):
    srv = start_aof(tmp_path, "--auto-aof-rewrite-min-size", "200kb", "--auto-aof-rewrite-percentage", "100")
    try:
        c = srv.client()
        assert c.config_get("auto-aof-rewrite-percentage") == {"auto-aof-rewrite-percentage": "100"}
        p = c.pipeline(transaction=False)
        for i in range(6000):
            p.set("k%d" % (i % 100), "v" * 50)
        p.execute()
        info = wait_rewrite(c, 1, timeout=10)
        assert info["aof_base_size"] < 200 * 1024
        assert "Starting automatic rewriting of AOF" in (tmp_path / "tessera.log").read_text()
    finally:
        srv.stop()


def switch_aof_on(c):
    """CONFIG SET appendonly yes, then waits for the rewrite that makes the file."""
    n = c.info("persistence")["aof_rewrites"]
    assert c.config_set("appendonly", "yes")
    assert c.info("persistence")["aof_enabled"] == 1   # already, as in Redis
    info = wait_rewrite(c, n + 1)
    assert info["aof_last_bgrewrite_status"] == "ok" and info["aof_enabled"] == 1


@pytest.mark.parametrize("fsync,threads", [("always", 2), ("everysec", 1), ("always", 3)])
def test_config_set_appendonly_at_runtime(tmp_path, fsync, threads):
    """CONFIG SET appendonly yes on a running server with data and writers:
    a rewrite makes the file (the data as of its snapshot point plus every
    write after it), then the log is on; after SIGKILL every write is
    there. CONFIG SET appendonly no closes the file and stops logging."""
    srv = start_tessera(tmp_path, "--appendfsync", fsync, threads=threads)
    try:
        c, other = srv.client(), srv.client()
        fill(c, other)
        assert not (tmp_path / "appendonly.aof").exists()
        acked, stop = [], threading.Event()
        ts = [threading.Thread(target=acked_writer, args=(srv.port, w, acked, stop)) for w in range(3)]
        for t in ts:
            t.start()
        time.sleep(0.2)
        switch_aof_on(c)
        assert c.config_get("appendonly") == {"appendonly": "yes"}
        time.sleep(0.3)
        stop.set()
        for t in ts:
            t.join()
        c.set("after", "on")
        before = contents(c)
        time.sleep(1.2 if fsync == "everysec" else 0)
        kill9(srv)
        assert (tmp_path / "appendonly.aof").read_bytes().startswith(b"REDIS0010")
        srv = start_tessera(tmp_path, "--appendonly", "yes", threads=threads)
        c = srv.client()
        assert contents(c) == before
        keys = [k for k in acked if isinstance(k, str)]
        assert all(v is not None for v in c.mget(keys))

        # and off again: the file stops growing, the server keeps working
        assert c.config_set("appendonly", "no")
        deadline = time.time() + 10
        while c.info("persistence")["aof_enabled"] and time.time() < deadline:
            time.sleep(0.02)
        assert c.info("persistence")["aof_enabled"] == 0
        size = os.path.getsize(tmp_path / "appendonly.aof")
        for i in range(200):
            c.set("off:%d" % i, i)
        assert os.path.getsize(tmp_path / "appendonly.aof") == size
        # on once more, with the keys written while it was off
        switch_aof_on(c)
        c.set("last", "1")
        state = contents(c)
        time.sleep(1.2)
        kill9(srv)
        srv = start_tessera(tmp_path, "--appendonly", "yes", threads=threads)
        assert contents(srv.client()) == state
    finally:
        srv.stop()
