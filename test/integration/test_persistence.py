"""RDB snapshots: SAVE, BGSAVE, LASTSAVE, `save` rules, shutdown saves,
loading at startup, interchange with redis-server 7.0 (both directions,
redis-check-rdb), corrupt files, and the point-in-time guarantee of the
forkless BGSAVE while writers keep changing keys."""
import os
import shutil
import subprocess
import threading
import time

import pytest
import redis

from conftest import start_redis, start_tessera, spawn_tessera, exit_status_after_use, wait_exit

REDIS = shutil.which("redis-server")
CHECK_RDB = shutil.which("redis-check-rdb")


def raw_replies(c):
    """redis-py turns BGSAVE's status into True: keep the text."""
    c.set_response_callback("BGSAVE", lambda r, **kw: r)
    return c


def wait_bgsave(c, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        info = c.info("persistence")
        if info["rdb_bgsave_in_progress"] == 0:
            return info
        time.sleep(0.02)
    raise AssertionError("BGSAVE did not finish")


def fill_every_type(c, db=0, n_big=300):
    """Keys of every type, in both encodings, some with expire times."""
    c.execute_command("SELECT", db)
    c.set("s:int", 12345)
    c.set("s:neg", -9223372036854775808)
    c.set("s:emb", "hello")
    c.set("s:raw", "x" * 100)
    c.set("s:bin", bytes(range(256)))
    c.set("s:ttl", "v", px=3_600_000)
    c.rpush("l:small", "a", 1, "b", -5, "c" * 70)
    c.rpush("l:big", *[("e%d" % i) * (i % 7 + 1) for i in range(n_big * 10)])
    c.hset("h:small", mapping={"f1": "v1", "f2": 2, "f3": ""})
    c.hset("h:big", mapping={"f%d" % i: "v%d" % i for i in range(n_big * 2)})
    c.sadd("set:int", 1, 2, 3, -7, 100000)
    c.sadd("set:str", "a", "b", "c")
    c.sadd("set:bigint", *range(n_big * 2))
    c.zadd("z:small", {"a": 1, "b": 2.5, "c": -3, "inf": float("inf"), "ninf": float("-inf")})
    c.zadd("z:big", {"m%d" % i: i / 3 for i in range(n_big)})
    c.expire("z:big", 7200)
    for i in range(50):
        c.xadd("x:s", {"f": i, "g": "v%d" % i}, id="%d-%d" % (1000 + i // 3, i % 3))
    c.xdel("x:s", "1001-0", "1003-1")
    c.xgroup_create("x:s", "g1", id="0")
    c.xgroup_create("x:s", "g2", id="$")
    c.xreadgroup("g1", "alice", {"x:s": ">"}, count=5)
    c.xreadgroup("g1", "bob", {"x:s": ">"}, count=3)
    c.xack("x:s", "g1", "1000-1")
    c.xadd("x:empty", {"a": 1}, id="5-5")
    c.xdel("x:empty", "5-5")
    c.execute_command("SELECT", 0)


def contents(c, dbs=range(16)):
    """Everything readable about every key: {(db, key): (type, value, expire)}."""
    out = {}
    for db in dbs:
        c.execute_command("SELECT", db)
        for key in c.scan_iter(count=1000):
            t = c.type(key).decode()
            if t == "string":
                v = c.get(key)
            elif t == "list":
                v = c.lrange(key, 0, -1)
            elif t == "hash":
                v = sorted(c.hgetall(key).items())
            elif t == "set":
                v = sorted(c.smembers(key))
            elif t == "zset":
                v = c.zrange(key, 0, -1, withscores=True)
            elif t == "stream":
                groups = []
                for g in c.xinfo_groups(key):
                    name = g["name"]
                    consumers = sorted((x["name"], x["pending"]) for x in c.xinfo_consumers(key, name))
                    pel = [(p["message_id"], p["consumer"], p["times_delivered"])
                           for p in c.xpending_range(key, name, "-", "+", 1000)]
                    groups.append((name, g["last-delivered-id"], g.get("entries-read"), consumers, pel))
                info = c.xinfo_stream(key)
                v = (c.xrange(key), info["length"], info["last-generated-id"],
                     info.get("max-deleted-entry-id"), info.get("entries-added"), sorted(groups))
            else:
                raise AssertionError(t)
            out[(db, key)] = (t, v, c.pexpiretime(key) > 0)
    c.execute_command("SELECT", 0)
    return out


def restart(srv, *extra):
    """Stops a Tessera server (SIGTERM) and starts a new one in the same dir."""
    assert srv.stop() == 0
    return start_tessera(srv.workdir, *extra)


@pytest.fixture
def tdir(tmp_path):
    return tmp_path


def test_save_and_reload_every_type(tdir):
    srv = start_tessera(tdir)
    try:
        c = raw_replies(srv.client())
        fill_every_type(c, 0)
        fill_every_type(c, 3, n_big=50)
        c.set("gone", "x", px=1)
        time.sleep(0.01)
        before = contents(c)
        assert c.save() is True
        assert os.path.exists(tdir / "dump.rdb")
        info = c.info("persistence")
        assert info["rdb_last_bgsave_status"] == "ok" and info["rdb_saves"] == 1
        assert info["rdb_changes_since_last_save"] == 0
        srv.stop()
        srv = start_tessera(tdir)
        c = raw_replies(srv.client())
        assert contents(c) == before
        assert c.object("encoding", "l:small") == b"quicklist"
        assert c.object("encoding", "h:small") == b"listpack"
        assert c.object("encoding", "h:big") == b"hashtable"
        assert c.object("encoding", "set:int") == b"intset"
        assert c.object("encoding", "z:big") == b"skiplist"
        assert c.object("encoding", "s:int") == b"int"
        assert 3_590_000 < c.pttl("s:ttl") <= 3_600_000
        assert c.info("persistence")["rdb_last_load_keys_loaded"] == len(before)
    finally:
        srv.stop()


def test_bgsave_lastsave_and_errors(tdir):
    srv = start_tessera(tdir)
    try:
        c = raw_replies(srv.client())
        for i in range(1000):
            c.set("k%d" % i, i)
        first = c.lastsave()
        time.sleep(1.1)
        assert c.execute_command("BGSAVE") == b"Background saving started"
        wait_bgsave(c)
        assert c.lastsave() > first
        assert c.execute_command("BGSAVE", "SCHEDULE") in (b"Background saving started",)
        wait_bgsave(c)
        with pytest.raises(redis.ResponseError, match="^syntax error$"):
            c.execute_command("BGSAVE", "NOW")
        with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
            c.execute_command("SAVE", "x")
        with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
            c.execute_command("LASTSAVE", "x")
        srv = restart(srv)
        c = raw_replies(srv.client())
        assert c.dbsize() == 1000 and c.get("k999") == b"999"
    finally:
        srv.stop()


def test_bgsave_already_in_progress(tdir):
    srv = start_tessera(tdir)
    try:
        c = raw_replies(srv.client())
        pipe = c.pipeline(transaction=False)
        for i in range(200_000):
            pipe.set("key:%d" % i, "v" * 20)
        pipe.execute()
        c2 = raw_replies(srv.client())
        assert c.execute_command("BGSAVE") == b"Background saving started"
        seen = False
        while c.info("persistence")["rdb_bgsave_in_progress"]:
            try:
                c2.execute_command("BGSAVE")
            except redis.ResponseError as e:
                assert str(e) == "Background save already in progress"
                seen = True
                break
        wait_bgsave(c)
        if not seen:
            pytest.skip("the snapshot ended before a second BGSAVE could race it")
    finally:
        srv.stop()


def test_config_options(tdir):
    srv = start_tessera(tdir, "--save", "900 1 300 10", "--dbfilename", "x.rdb")
    try:
        c = raw_replies(srv.client())
        assert c.config_get("save") == {"save": "900 1 300 10"}
        assert c.config_get("dbfilename") == {"dbfilename": "x.rdb"}
        c.config_set("save", "")
        assert c.config_get("save") == {"save": ""}
        with pytest.raises(redis.ResponseError, match="Invalid save parameters"):
            c.config_set("save", "100")
        with pytest.raises(redis.ResponseError, match="Invalid save parameters"):
            c.config_set("save", "a b")
        c.config_set("dbfilename", "y.rdb")
        c.set("a", 1)
        assert c.save()
        assert os.path.exists(tdir / "y.rdb")
    finally:
        srv.stop()


def test_save_rules_trigger_bgsave(tdir):
    srv = start_tessera(tdir, "--save", "1 3")
    try:
        c = raw_replies(srv.client())
        c.set("a", 1)
        time.sleep(2.5)
        assert c.info("persistence")["rdb_saves"] == 0   # 1 change < 3
        c.set("b", 2)
        c.set("c", 3)
        deadline = time.time() + 10
        while c.info("persistence")["rdb_saves"] == 0:
            assert time.time() < deadline, "save rule did not fire"
            time.sleep(0.1)
        assert c.info("persistence")["rdb_changes_since_last_save"] == 0
    finally:
        srv.stop()


def test_shutdown_save_modes(tdir):
    # SIGTERM with save rules saves; with none it does not.
    srv = start_tessera(tdir, "--save", "3600 1")
    c = raw_replies(srv.client())
    c.set("k", "v1")
    assert srv.stop() == 0
    assert os.path.exists(tdir / "dump.rdb")
    srv = start_tessera(tdir)
    c = raw_replies(srv.client())
    assert c.get("k") == b"v1"
    c.set("k", "v2")
    # SHUTDOWN NOSAVE: the file keeps v1.
    c.shutdown(nosave=True)
    assert srv.proc.wait(10) == 0
    srv = start_tessera(tdir)
    c = raw_replies(srv.client())
    assert c.get("k") == b"v1"
    c.set("k", "v3")
    # SHUTDOWN SAVE without save rules still saves.
    c.shutdown(save=True)
    assert srv.proc.wait(10) == 0
    srv = start_tessera(tdir)
    try:
        assert raw_replies(srv.client()).get("k") == b"v3"
    finally:
        srv.stop()


@pytest.mark.skipif(not REDIS, reason="redis-server not installed")
def test_tessera_dump_loads_into_redis(tdir):
    srv = start_tessera(tdir)
    try:
        c = raw_replies(srv.client())
        fill_every_type(c, 0)
        fill_every_type(c, 5, n_big=40)
        ours = contents(c)
        assert c.save()
    finally:
        srv.stop()
    if CHECK_RDB:
        out = subprocess.run([CHECK_RDB, str(tdir / "dump.rdb")], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "RDB looks OK" in out.stdout
    rdir = tdir / "redis"
    rdir.mkdir()
    shutil.copy(tdir / "dump.rdb", rdir / "dump.rdb")
    ref = start_redis(rdir)
    try:
        assert contents(ref.client()) == ours
    finally:
        ref.stop()


@pytest.mark.skipif(not REDIS, reason="redis-server not installed")
def redis_dump(tdir, fill):
    """Runs fill(client) on a redis-server 7.0, saves, and copies its dump
    into tdir; returns contents() as Redis saw them."""
    rdir = tdir / "redis"
    rdir.mkdir()
    ref = start_redis(rdir)
    try:
        rc = ref.client()
        fill(rc)
        theirs = contents(rc)
        assert rc.save()
    finally:
        ref.stop()
    shutil.copy(rdir / "dump.rdb", tdir / "dump.rdb")
    return theirs


def test_redis_dump_loads_into_tessera(tdir):
    def fill(rc):
        fill_every_type(rc, 0)
        fill_every_type(rc, 2, n_big=40)
    theirs = redis_dump(tdir, fill)
    srv = start_tessera(tdir)
    try:
        c = raw_replies(srv.client())
        assert contents(c) == theirs
        for key, enc in [("l:big", b"quicklist"), ("h:small", b"listpack"), ("h:big", b"hashtable"),
                         ("set:int", b"intset"), ("set:str", b"hashtable"), ("z:small", b"listpack"),
                         ("z:big", b"skiplist"), ("x:s", b"stream")]:
            assert c.object("encoding", key) == enc, key
    finally:
        srv.stop()


def write_file_and_start(tdir, data, *extra):
    (tdir / "dump.rdb").write_bytes(data)
    (tdir / "tessera.log").unlink(missing_ok=True)   # this start's log only
    return spawn_tessera(tdir, *extra)


def test_corrupt_files_stop_startup(tdir):
    srv = start_tessera(tdir)
    try:
        c = raw_replies(srv.client())
        fill_every_type(c, 0, n_big=20)
        assert c.save()
    finally:
        srv.stop()
    good = (tdir / "dump.rdb").read_bytes()
    cases = {
        "truncated": good[: len(good) // 2],
        "no trailer": good[:-9],
        "bad signature": b"RADIS" + good[5:],
        "bad version": b"REDIS0099" + good[9:],
        "bad checksum": good[:-1] + bytes([good[-1] ^ 0xFF]),
    }
    for name, data in cases.items():
        proc, port = write_file_and_start(tdir, data)
        rc = wait_exit(proc, 20, "%s: the server started on a corrupt file" % name)
        assert rc == 1, name
        log = (tdir / "tessera.log").read_text()
        assert "Fatal error loading the DB" in log, name
        if name in ("truncated", "no trailer"):
            assert "offset" in log, log


def test_flip_every_byte_never_crashes(tdir):
    """Each corrupted byte either fails cleanly or loads: never a crash."""
    srv = start_tessera(tdir, "--rdbchecksum", "no")
    try:
        c = raw_replies(srv.client())
        c.rpush("l", *range(20))
        c.hset("h", mapping={"a": 1, "b": 2})
        c.zadd("z", {"a": 1})
        c.sadd("s", 1, 2)
        assert c.save()
    finally:
        srv.stop()
    good = (tdir / "dump.rdb").read_bytes()
    for pos in range(9, len(good) - 9, max(1, (len(good) - 18) // 40)):
        data = bytearray(good)
        data[pos] ^= 0x5A
        proc, port = write_file_and_start(tdir, bytes(data))
        rc = exit_status_after_use(proc, port, lambda t: (t.dbsize(), t.lrange("l", 0, -1)))
        assert rc in (0, 1), "byte %d: exit %s" % (pos, rc)


def test_bgsave_is_point_in_time(tdir):
    """Writers keep changing keys (each writer its own keys, in order);
    the snapshot holds exactly the writes acknowledged before BGSAVE was
    sent, and none of those sent after its reply came back."""
    srv = start_tessera(tdir)
    try:
        c = raw_replies(srv.client())
        nkeys = 200_000
        pipe = c.pipeline(transaction=False)
        for i in range(nkeys):
            pipe.set("k:%d" % i, 0)
        pipe.rpush("list", *range(1000))
        pipe.execute()
        c.save()
        nwriters, per = 3, 200
        stop = threading.Event()
        acked = [[] for _ in range(nwriters)]   # (seq, time acknowledged, time sent)

        def writer(w):
            cw = raw_replies(srv.client())
            seq = 0
            while not stop.is_set():
                seq += 1
                sent = time.time()
                # Round robin over this writer's keys; MSET spans shards.
                base = (seq % per) * nwriters + w
                cw.mset({"w%d:%d" % (w, seq % per): seq, "k:%d" % base: seq, "k:%d" % (base + 30_000): seq})
                cw.rpush("list", "w%d:%d" % (w, seq))
                acked[w].append((seq, time.time(), sent))

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(nwriters)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        t_send = time.time()
        assert c.execute_command("BGSAVE") == b"Background saving started"
        t_reply = time.time()
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        info = wait_bgsave(c)
        assert info["rdb_last_bgsave_status"] == "ok"
        # Writers hit keys the walk had not reached: their old values were
        # written early (otherwise this test would not test the hook).
        assert info["rdb_last_cow_size"] > 0
    finally:
        srv.stop()
    # Load the snapshot into a fresh server (the file in tdir is the BGSAVE's:
    # the stop above ran without save rules).
    srv = start_tessera(tdir)
    try:
        c = raw_replies(srv.client())
        lst = [x.decode() for x in c.lrange("list", 0, -1)]
        assert lst[:1000] == [str(i) for i in range(1000)]
        for w in range(nwriters):
            # Highest seq of this writer in the snapshot.
            mine = [int(x.split(":")[1]) for x in lst[1000:] if x.startswith("w%d:" % w)]
            m = max(mine) if mine else 0
            assert mine == list(range(1, m + 1)), "writer %d: list is not a prefix" % w
            for seq, t_ack, sent in acked[w]:
                if t_ack < t_send:
                    assert seq <= m, "write acknowledged before BGSAVE is missing"
                if sent > t_reply:
                    assert seq > m, "write sent after BGSAVE's reply is in the snapshot"
            # Every key holds the last value written to it up to m, or m + 1
            # (the writer's MSET m + 1 precedes its RPUSH m + 1: the cut may
            # fall between the two). The MSET's three keys always agree.
            for slot in range(per):
                expect = [s for s in range(1, m + 1) if s % per == slot]
                want = {expect[-1] if expect else None}
                if (m + 1) % per == slot:
                    want.add(m + 1)
                got = c.get("w%d:%d" % (w, slot))
                got = int(got) if got is not None else None
                assert got in want, (w, slot, got, want)
                base = slot * nwriters + w
                assert int(c.get("k:%d" % base)) == (got or 0)
                assert int(c.get("k:%d" % (base + 30_000))) == (got or 0)
    finally:
        srv.stop()


def test_bgsave_with_flush_swapdb_and_deletes(tdir):
    """Keys deleted, flushed, swapped or expiring during the walk are in the
    snapshot as they were when BGSAVE began."""
    srv = start_tessera(tdir)
    try:
        c = raw_replies(srv.client())
        pipe = c.pipeline(transaction=False)
        for i in range(100_000):
            pipe.set("a:%d" % i, i)
        pipe.execute()
        c.execute_command("SELECT", 1)
        c.set("db1", "one")
        c.execute_command("SELECT", 2)
        c.set("db2", "two")
        c.execute_command("SELECT", 0)
        c.rpush("biglist", *range(5000))
        c.set("exp", "x", px=50)
        pipe = c.pipeline(transaction=False)
        pipe.execute_command("BGSAVE")
        pipe.delete("biglist")
        pipe.execute_command("SWAPDB", 1, 2)
        pipe.execute_command("FLUSHDB")
        pipe.set("new", "after")
        res = pipe.execute()
        assert res[0] == b"Background saving started"
        time.sleep(0.1)
        wait_bgsave(c)
    finally:
        srv.stop()
    srv = start_tessera(tdir)
    try:
        c = raw_replies(srv.client())
        assert c.get("new") is None
        assert c.dbsize() >= 100_001   # 'exp' may have expired by the time we load
        assert c.llen("biglist") == 5000
        assert c.get("a:99999") == b"99999"
        c.execute_command("SELECT", 1)
        assert c.get("db1") == b"one" and c.get("db2") is None
    finally:
        srv.stop()


@pytest.mark.skipif(not CHECK_RDB, reason="redis-check-rdb not installed")
def test_bgsave_file_passes_redis_check_rdb(tdir):
    srv = start_tessera(tdir)
    try:
        c = raw_replies(srv.client())
        fill_every_type(c, 0)
        c.execute_command("BGSAVE")
        wait_bgsave(c)
    finally:
        srv.stop()
    out = subprocess.run([CHECK_RDB, str(tdir / "dump.rdb")], capture_output=True, text=True)
    assert out.returncode == 0 and "RDB looks OK" in out.stdout, out.stdout


def test_single_thread_server(tdir):
    srv = start_tessera(tdir, threads=1)
    try:
        c = raw_replies(srv.client())
        fill_every_type(c, 0, n_big=30)
        before = contents(c)
        assert c.execute_command("BGSAVE") == b"Background saving started"
        wait_bgsave(c)
        c.set("later", 1)
        srv = restart(srv)
        assert contents(raw_replies(srv.client())) == before
        c = raw_replies(srv.client())
        c.set("x", 1)
        assert c.save()
    finally:
        srv.stop()


def test_parallel_load_of_a_big_redis_dump(tdir):
    """A dump with keys of every type on every shard loads into 4 shards in
    parallel with identical contents, in several databases."""
    def fill(rc):
        for db in (0, 3):
            rc.execute_command("SELECT", db)
            p = rc.pipeline(transaction=False)
            for i in range(3000):
                p.set("s:%d" % i, "v%d" % i)
                if i % 3 == 0:
                    p.hset("h:%d" % i, mapping={"a": i, "b": "x" * (i % 80)})
                    p.rpush("l:%d" % i, *range(i % 7 + 1))
                    p.zadd("z:%d" % i, {"m%d" % k: k for k in range(i % 5 + 1)})
                    p.sadd("set:%d" % i, *range(i % 4 + 1))
                if i % 10 == 0:
                    p.pexpire("s:%d" % i, 3_600_000)
            p.execute()
        rc.execute_command("SELECT", 0)
        fill_every_type(rc, 5, n_big=30)
    theirs = redis_dump(tdir, fill)
    srv = start_tessera(tdir, threads=4)
    try:
        c = raw_replies(srv.client())
        assert contents(c) == theirs
        log = (tdir / "tessera.log").read_text()
        assert "Done loading RDB, keys loaded: %d, keys expired: 0." % len(theirs) in log
    finally:
        srv.stop()


def rdb_len(n):
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    return b"\x80" + n.to_bytes(4, "big")


def rdb_str(s):
    return rdb_len(len(s)) + s


def test_bad_value_found_by_a_shard_loader_stops_startup(tdir):
    """A value whose lengths are sound but whose contents are not (a hash
    listpack of garbage) is only caught by the shard loader that builds it:
    startup still stops with the key and the value's offset, whichever
    shard it lands on, with keys before and after it in the file."""
    body = b"REDIS0010" + b"\xfe\x00"
    for i in range(5000):
        body += b"\x00" + rdb_str(b"k%d" % i) + rdb_str(b"v")
    bad_at = len(body) + 1 + len(rdb_str(b"bad"))
    body += b"\x10" + rdb_str(b"bad") + rdb_str(b"not a listpack!!")
    for i in range(5000, 10000):
        body += b"\x00" + rdb_str(b"k%d" % i) + rdb_str(b"v")
    body += b"\xff" + b"\x00" * 8   # no checksum
    for threads in (1, 3):
        proc, port = write_file_and_start(tdir, body, "--threads", threads)
        assert proc.wait(20) == 1
        log = (tdir / "tessera.log").read_text()
        assert "Bad value of type 16 for key 'bad' (invalid hash listpack) at offset %d" % bad_at in log, log
    # the same file without the bad key loads every key
    good = body.replace(b"\x10" + rdb_str(b"bad") + rdb_str(b"not a listpack!!"), b"")
    (tdir / "dump.rdb").write_bytes(good)
    srv = start_tessera(tdir, threads=3)
    try:
        c = srv.client()
        assert c.dbsize() == 10000
        assert c.get("k9999") == b"v"
    finally:
        srv.stop()
