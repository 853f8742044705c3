"""SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT], SIGTERM / SIGINT, and the
shutdown-timeout / shutdown-on-sigterm / shutdown-on-sigint options, next
to redis-server 7.0 where both behave the same.

A save that fails for real, even as root (who ignores directory
permissions): `dbfilename` names a directory that exists, so renaming the
finished temporary file onto it fails (EISDIR) for both servers. A failed
shutdown answers "-ERR Errors trying to SHUTDOWN. Check logs." and the
server keeps serving; a signal's failed shutdown only logs. Every write a
client saw acknowledged before a successful SHUTDOWN is in the file."""
import os
import signal
import threading
import time

import pytest
import redis

from conftest import start_redis, start_tessera, wait_exit
from tessera_testlib import Wire, encode, spread_keys

SHUTDOWN_ERR = b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
GAVE_UP = "Errors trying to shut down the server. Check the logs for more information."


STARTED = []


@pytest.fixture(autouse=True)
def no_server_left():
    """A test that fails midway leaves servers that refuse SIGTERM (their
    save fails): kill them."""
    yield
    while STARTED:
        proc = STARTED.pop().proc
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def servers(tmp_path, *extra, threads=None):
    """Tessera, and Redis when installed, each in a directory of its own."""
    out = []
    for name in ("tessera", "redis"):
        d = tmp_path / name
        d.mkdir()
        srv = start_tessera(d, *extra, threads=threads) if name == "tessera" else start_redis(d, *extra)
        if srv is not None:
            out.append(srv)
            STARTED.append(srv)
    return out


def log_of(srv):
    name = "tessera.log" if (srv.workdir / "tessera.log").exists() else "redis.log"
    with open(srv.workdir / name, errors="replace") as f:
        return f.read()


def wait_log(srv, text, timeout=10):
    deadline = time.time() + timeout
    while text not in log_of(srv):
        assert time.time() < deadline, "%r not logged:\n%s" % (text, log_of(srv)[-2000:])
        time.sleep(0.05)


def break_saves(srv):
    """The next save of srv fails: its file name is an existing directory."""
    (srv.workdir / "adir").mkdir(exist_ok=True)
    srv.client().config_set("dbfilename", "adir")


def restart(srv, *extra):
    """A new server on srv's directory (Tessera or Redis, as srv was)."""
    if (srv.workdir / "tessera.log").exists():
        return start_tessera(srv.workdir, *extra)
    return start_redis(srv.workdir, *extra)


def fill(c):
    c.set("str", "v")
    c.rpush("list", *range(100))
    c.hset("hash", mapping={"f%d" % i: i for i in range(50)})
    for k in spread_keys("spread", 3):
        c.set(k, k)


def contents(c):
    return {k: c.dump(k) for k in c.keys("*")}


# ---------- a save that fails ----------

@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("how", [("SHUTDOWN", "SAVE"), ("SHUTDOWN",), ("shutdown", "now")])
def test_failing_save_keeps_serving(tmp_path, threads, how):
    for srv in servers(tmp_path, "--save", "3600 1", threads=threads):
        c = srv.client()
        fill(c)
        before = contents(c)
        break_saves(srv)
        w = Wire(srv)
        assert w.cmd(*how) == SHUTDOWN_ERR
        # The same connection and others go on; nothing was lost.
        assert w.cmd("GET", "str") == b"$1\r\nv\r\n"
        assert w.cmd("SET", "after", "1") == b"+OK\r\n"
        assert srv.proc.poll() is None
        assert contents(c) == {**before, b"after": c.dump("after")}
        log = log_of(srv)
        for line in ("User requested shutdown...", "Saving the final RDB snapshot before exiting.",
                     "Error moving temp DB file", "Error trying to save the DB, can't exit.", GAVE_UP):
            assert line in log, line
        # Fixed: the next SHUTDOWN saves everything and exits 0.
        c.config_set("dbfilename", "dump.rdb")
        expected = contents(c)
        w.send(encode(*how))
        assert w.closed(timeout=10)
        assert wait_exit(srv.proc) == 0
        again = restart(srv)
        try:
            assert contents(again.client()) == expected
        finally:
            again.stop()


@pytest.mark.parametrize("args", [("SHUTDOWN", "SAVE", "FORCE"), ("SHUTDOWN", "FORCE", "NOW")])
def test_force_exits_despite_failing_save(tmp_path, args):
    for srv in servers(tmp_path, "--save", "3600 1"):
        srv.client().set("k", "v")
        break_saves(srv)
        w = Wire(srv)
        w.send(encode(*args))
        assert w.closed(timeout=10)
        assert wait_exit(srv.proc) == 0
        assert "Error trying to save the DB. Exit anyway." in log_of(srv)


@pytest.mark.parametrize("args", [("SHUTDOWN", "NOSAVE"), ("SHUTDOWN", "NOSAVE", "NOW")])
def test_nosave_exits_whatever_the_save_would_do(tmp_path, args):
    for srv in servers(tmp_path, "--save", "3600 1"):
        srv.client().set("k", "v")
        break_saves(srv)
        w = Wire(srv)
        w.send(encode(*args))
        assert w.closed(timeout=10)
        assert wait_exit(srv.proc) == 0
        assert not (srv.workdir / "dump.rdb").exists()


def test_default_shutdown_without_save_rules_does_not_save(tmp_path):
    for srv in servers(tmp_path):
        srv.client().set("k", "v")
        break_saves(srv)     # would fail, but nothing is saved
        w = Wire(srv)
        w.send(encode("SHUTDOWN"))
        assert w.closed(timeout=10)
        assert wait_exit(srv.proc) == 0


def test_abort_and_syntax_errors_as_redis(tmp_path):
    srvs = servers(tmp_path)
    if len(srvs) < 2:
        pytest.skip("redis-server not installed")
    a, b = Wire(srvs[0]), Wire(srvs[1])
    for args in [("SHUTDOWN", "ABORT"), ("shutdown", "abort", "ABORT"), ("SHUTDOWN", "ABORT", "FORCE"),
                 ("SHUTDOWN", "NOW", "ABORT"), ("SHUTDOWN", "SAVE", "ABORT"), ("SHUTDOWN", "NOSAVE", "SAVE"),
                 ("SHUTDOWN", "save", "now", "nosave"), ("SHUTDOWN", "FOO"), ("SHUTDOWN", ""),
                 ("SHUTDOWN", "NOW", "FORCE", "BAR"), ("SHUTDOWN", "FORCE", "FORCE", "ABORT")]:
        assert a.cmd(*args) == b.cmd(*args), args
    assert a.cmd("PING") == b.cmd("PING") == b"+PONG\r\n"
    for s in srvs:
        s.stop()


# ---------- signals ----------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_with_failing_save_keeps_running(tmp_path, sig):
    option = "shutdown-on-sigterm" if sig == signal.SIGTERM else "shutdown-on-sigint"
    for srv in servers(tmp_path, "--save", "3600 1", threads=3):
        c = srv.client()
        fill(c)
        before = contents(c)
        break_saves(srv)
        srv.proc.send_signal(sig)
        wait_log(srv, GAVE_UP)
        time.sleep(0.2)
        assert srv.proc.poll() is None
        assert contents(c) == before
        assert "Error trying to save the DB, can't exit." in log_of(srv)
        # NOW does not skip the save either: still running.
        c.config_set(option, "now")
        n = log_of(srv).count(GAVE_UP)
        srv.proc.send_signal(sig)
        deadline = time.time() + 10
        while log_of(srv).count(GAVE_UP) == n:
            assert time.time() < deadline
            time.sleep(0.05)
        assert srv.proc.poll() is None and c.ping()
        # NOSAVE: gone, the file untouched.
        c.config_set(option, "nosave")
        srv.proc.send_signal(sig)
        assert wait_exit(srv.proc) == 0
        assert not (srv.workdir / "dump.rdb").exists()


def test_sigterm_force_exits(tmp_path):
    for srv in servers(tmp_path, "--save", "3600 1", "--shutdown-on-sigterm", "force"):
        srv.client().set("k", "v")
        break_saves(srv)
        srv.proc.send_signal(signal.SIGTERM)
        assert wait_exit(srv.proc) == 0
        assert "Error trying to save the DB. Exit anyway." in log_of(srv)


def test_sigterm_save_saves_without_rules(tmp_path):
    for srv in servers(tmp_path, "--shutdown-on-sigterm", "save"):
        srv.client().set("k", "v")
        srv.proc.send_signal(signal.SIGTERM)
        assert wait_exit(srv.proc) == 0
        again = restart(srv)
        try:
            assert again.client().get("k") == b"v"
        finally:
            again.stop()


# ---------- the options ----------

def config_pairs(reply):
    return dict(zip(reply[::2], reply[1::2]))


def test_options_as_redis(tmp_path):
    srvs = servers(tmp_path)
    if len(srvs) < 2:
        pytest.skip("redis-server not installed")
    a, b = Wire(srvs[0]), Wire(srvs[1])
    assert config_pairs(a.val("CONFIG", "GET", "shutdown*")) == config_pairs(b.val("CONFIG", "GET", "shutdown*"))
    sets = [("shutdown-timeout", "0"), ("shutdown-timeout", "-1"), ("shutdown-timeout", "2147483648"),
            ("shutdown-timeout", "x"), ("shutdown-timeout", "30"),
            ("shutdown-on-sigterm", "nosave"), ("shutdown-on-sigterm", "force now"),
            ("shutdown-on-sigterm", "NOW Force SAVE"), ("shutdown-on-sigterm", "default"),
            ("shutdown-on-sigterm", "default nosave"), ("shutdown-on-sigterm", "save nosave"),
            ("shutdown-on-sigterm", ""), ("shutdown-on-sigterm", "now  force"), ("shutdown-on-sigterm", " now"),
            ("shutdown-on-sigterm", "now\tforce"), ("shutdown-on-sigterm", "bogus"),
            ("shutdown-on-sigint", "save save now"), ("shutdown-on-sigint", "force"),
            ("shutdown-on-sigint", "nosave force now save")]
    for name, value in sets:
        assert a.cmd("CONFIG", "SET", name, value) == b.cmd("CONFIG", "SET", name, value), (name, value)
        assert a.cmd("CONFIG", "GET", name) == b.cmd("CONFIG", "GET", name), (name, value)
    assert a.cmd("CONFIG", "SET", "shutdown-on-sigint", "now", "shutdown-on-sigterm", "nosave force") == \
        b.cmd("CONFIG", "SET", "shutdown-on-sigint", "now", "shutdown-on-sigterm", "nosave force")
    assert config_pairs(a.val("CONFIG", "GET", "shutdown*")) == config_pairs(b.val("CONFIG", "GET", "shutdown*"))
    for s in srvs:
        s.stop()


def test_options_from_the_command_line_as_redis(tmp_path):
    srvs = servers(tmp_path, "--shutdown-timeout", "3", "--shutdown-on-sigterm", "nosave now",
                   "--shutdown-on-sigint", "force", "save")
    if len(srvs) < 2:
        pytest.skip("redis-server not installed")
    got = [config_pairs(Wire(s).val("CONFIG", "GET", "shutdown*")) for s in srvs]
    assert got[0] == got[1] == {b"shutdown-timeout": b"3", b"shutdown-on-sigterm": b"nosave now",
                                b"shutdown-on-sigint": b"save force"}
    for s in srvs:
        s.stop()


# ---------- what a successful shutdown keeps ----------

def writer(port, keys, acked, stop):
    """INCRs its keys round-robin, remembering the last value acknowledged."""
    c = redis.Redis(port=port, socket_timeout=20)
    try:
        while not stop.is_set():
            for k in keys:
                acked[k] = c.incr(k)
    except (redis.ConnectionError, redis.TimeoutError):
        pass


def test_acknowledged_writes_are_in_the_file(tmp_path):
    srv = start_tessera(tmp_path, "--save", "3600 1", threads=3)
    acked, stop = {}, threading.Event()
    keys = spread_keys("w", 4)
    threads = [threading.Thread(target=writer, args=(srv.port, keys[i::4], acked, stop)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    # A failed attempt under load: the writers go on afterwards.
    break_saves(srv)
    c = srv.client()
    with pytest.raises(redis.ResponseError, match="Errors trying to SHUTDOWN"):
        c.shutdown(save=True)
    seen = dict(acked)
    time.sleep(0.3)
    assert any(acked[k] > seen.get(k, 0) for k in acked), "writes did not resume"
    c.config_set("dbfilename", "dump.rdb")
    w = Wire(srv)
    w.send(encode("SHUTDOWN", "SAVE"))
    assert w.closed(timeout=20)
    assert wait_exit(srv.proc) == 0
    stop.set()
    for t in threads:
        t.join(10)
    final = dict(acked)
    again = start_tessera(tmp_path)
    try:
        ac = again.client()
        for k, v in final.items():
            assert int(ac.get(k)) >= v, k
    finally:
        again.stop()


def test_bgsave_in_progress_at_shutdown(tmp_path):
    srv = start_tessera(tmp_path, threads=3)
    c = srv.client()
    p = c.pipeline(transaction=False)
    for i in range(100000):
        p.set("k%d" % i, "v" * 20)
    p.execute()
    c.set_response_callback("BGSAVE", lambda r, **kw: r)
    assert c.bgsave() == b"Background saving started"
    w = Wire(srv)
    w.send(encode("SHUTDOWN", "SAVE"))
    assert w.closed(timeout=30)
    assert wait_exit(srv.proc, timeout=30) == 0
    again = start_tessera(tmp_path)
    try:
        assert again.client().dbsize() == 100000
    finally:
        again.stop()


def test_aof_is_flushed_and_fsynced_at_shutdown(tmp_path):
    srv = start_tessera(tmp_path, "--appendonly", "yes", "--appendfsync", "no", threads=3)
    c = srv.client()
    fill(c)
    before = contents(c)
    w = Wire(srv)
    w.send(encode("SHUTDOWN", "NOSAVE"))
    assert w.closed(timeout=10)
    assert wait_exit(srv.proc) == 0
    assert "Calling fsync() on the AOF file." in log_of(srv)
    again = start_tessera(tmp_path, "--appendonly", "yes")
    try:
        assert contents(again.client()) == before
    finally:
        again.stop()


def test_commands_wait_for_the_attempt_and_then_run(tmp_path):
    """While a failing attempt holds the shards, a pipelined write from
    another client waits; it runs afterwards and is answered."""
    srv = start_tessera(tmp_path, "--save", "3600 1", threads=3)
    c = srv.client()
    p = c.pipeline(transaction=False)
    for i in range(100000):
        p.set("k%d" % i, "v" * 20)
    p.execute()
    break_saves(srv)
    s, o = Wire(srv), Wire(srv)
    keys = spread_keys("n", 2)
    s.send(encode("SHUTDOWN"))
    o.send(b"".join(encode("INCR", k) for k in keys))
    assert s.reply() == SHUTDOWN_ERR
    assert o.replies(len(keys)) == b":1\r\n" * len(keys)
    c.config_set("save", "")
    assert srv.stop() == 0
