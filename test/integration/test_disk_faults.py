"""No write acknowledged that cannot be kept (docs/persistence.md, "When the
disk fails"). The disk is made to fail for real: test/fault/faultfs.c, an
LD_PRELOAD shim built here with the system compiler, fails (or stalls)
write/writev, fsync/fdatasync and rename of chosen files on demand, in
tessera-server and in redis-server 7.0 alike, so the errors are compared
byte for byte.

Covered: MISCONF while AOF writes fail and after a failed BGSAVE
(stop-writes-on-bgsave-error), recovery when the disk comes back, every
acknowledged write still there after a SIGKILL and restart, a failed fsync
under appendfsync always ending the process, an AOF rewrite after failed
writes not replaying them twice, the AOF queue bounded while the disk
stalls, and CONFIG SET dir during a BGSAVE."""
import os
import signal
import subprocess
import threading
import time

import pytest
import redis

from conftest import ROOT, rss_mb, sanitized, start_redis, start_tessera
from tessera_testlib import Wire

AOF_ERR = "MISCONF Errors writing to the AOF file: %s"
RDB_ERR = ("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. "
           "Commands that may modify the data set are disabled, because this instance is configured to report "
           "errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the "
           "Redis logs for details about the RDB error.")


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    out = tmp_path_factory.mktemp("faultfs") / "faultfs.so"
    subprocess.check_call(["cc", "-O1", "-shared", "-fPIC", "-o", str(out),
                           os.path.join(ROOT, "test", "fault", "faultfs.c"), "-ldl", "-lpthread"])
    return out


class Disk:
    """The fault control file of one server."""

    def __init__(self, path):
        self.path = path
        path.write_text("")

    def fail(self, *rules):
        tmp = self.path.with_suffix(".new")
        tmp.write_text("".join(r + "\n" for r in rules))
        os.replace(tmp, self.path)
        time.sleep(0.05)   # the shim looks at the file every 10 ms

    def heal(self):
        self.fail()


def env_for(shim, ctl):
    env = dict(os.environ, LD_PRELOAD=str(shim), TS_FAULT_CTL=str(ctl))
    # A sanitized build wants its runtime first in the library list.
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
    return env


def tessera(tmp_path, shim, *extra):
    tmp_path.mkdir(exist_ok=True)
    disk = Disk(tmp_path / "faults")
    srv = start_tessera(tmp_path, *extra, env=env_for(shim, disk.path))
    return srv, disk


def redis_ref(tmp_path, shim, *extra):
    tmp_path.mkdir(exist_ok=True)
    disk = Disk(tmp_path / "faults")
    srv = start_redis(tmp_path, *extra, env=env_for(shim, disk.path))
    if srv is None:
        pytest.skip("redis-server not installed")
    return srv, disk


def until(fn, timeout=10, step=0.05):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(step)


def write_error(c, *cmd):
    """The error text a command gets, or None when it succeeds."""
    try:
        c.execute_command(*cmd)
        return None
    except redis.ResponseError as e:
        return str(e)


def logged(c, *cmd):
    """Runs a write and waits until its bytes are in the AOF: Tessera's
    everysec replies may leave a few ms before the write (Redis writes
    first), and a fault switched on in between would catch them."""
    before = c.info("persistence")["aof_current_size"]
    c.execute_command(*cmd)
    assert until(lambda: c.info("persistence")["aof_current_size"] > before)


def restart(srv, *extra):
    """SIGKILLs srv and starts a tessera-server (no faults) on its files."""
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    return start_tessera(srv.workdir, "--appendonly", "yes", *extra)


AOF_ON = ["--appendonly", "yes", "--appendfsync", "everysec"]


def test_aof_write_error_refuses_writes_like_redis(tmp_path, shim):
    ts, tdisk = tessera(tmp_path / "ts", shim, *AOF_ON)
    rs, rdisk = redis_ref(tmp_path / "rs", shim, *AOF_ON)
    try:
        for srv, disk in ((ts, tdisk), (rs, rdisk)):
            c = srv.client()
            logged(c, "SET", "a", "1")
            disk.fail("write ENOSPC appendonly")
            c.set("b", "2")   # acknowledged: its bytes wait for the disk, in order
            err = until(lambda: write_error(c, "SET", "c", "3"))
            assert err == AOF_ERR % "No space left on device", srv.argv[0]
            assert write_error(c, "PING") == err       # Redis refuses PING too
            assert write_error(c, "INCR", "a") == err
            assert c.get("b") == b"2"                  # reads go on
            assert c.info("persistence")["aof_last_write_status"] == "err"
            disk.heal()
            assert until(lambda: write_error(c, "SET", "c", "3") is None, timeout=5), srv.argv[0]
            assert c.info("persistence")["aof_last_write_status"] == "ok"
        ts = restart(ts)
        c = ts.client()
        assert c.mget("a", "b", "c") == [b"1", b"2", b"3"]
        assert "Error writing to the AOF file: No space left on device" in (tmp_path / "ts" / "tessera.log").read_text()
    finally:
        ts.stop()
        rs.stop()


def test_everysec_fsync_error_refuses_writes_like_redis(tmp_path, shim):
    ts, tdisk = tessera(tmp_path / "ts", shim, *AOF_ON)
    rs, rdisk = redis_ref(tmp_path / "rs", shim, *AOF_ON)
    try:
        for srv, disk in ((ts, tdisk), (rs, rdisk)):
            c = srv.client()
            disk.fail("fsync EIO appendonly")
            c.set("a", "1")
            err = until(lambda: write_error(c, "SET", "b", "2"), timeout=5)
            assert err == AOF_ERR % "Input/output error", srv.argv[0]
            assert c.get("a") == b"1"
            disk.heal()
            if srv is ts:
                # Tessera fsyncs again a second later and writes resume;
                # Redis 7.0 only retries the fsync after another write, which
                # it refuses, and stays in MISCONF.
                assert until(lambda: write_error(c, "SET", "b", "2") is None, timeout=5)
                assert c.info("persistence")["aof_last_write_status"] == "ok"
    finally:
        ts.stop()
        rs.stop()


class Incrementer(threading.Thread):
    """INCRs a counter without pause; counts the acknowledged ones."""

    def __init__(self, srv):
        super().__init__(daemon=True)
        self.c = redis.Redis(port=srv.port, socket_timeout=60)
        self.acked = 0
        self.refused = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                self.c.incr("n")
                self.acked += 1
            except redis.ResponseError:
                self.refused += 1
                time.sleep(0.001)
            except redis.ConnectionError:
                return


@pytest.mark.parametrize("fsync", ["everysec", "always"])
def test_acknowledged_writes_survive_a_failing_disk(tmp_path, shim, fsync):
    ts, disk = tessera(tmp_path, shim, "--appendonly", "yes", "--appendfsync", fsync)
    try:
        w = Incrementer(ts)
        w.start()
        rss = []
        frozen = []
        for _ in range(3):
            time.sleep(0.3)
            disk.fail("write ENOSPC appendonly")
            time.sleep(0.3)
            before = w.acked
            time.sleep(0.4)
            frozen.append(w.acked == before)
            with open("/proc/%d/status" % ts.proc.pid) as f:
                rss.append(int(f.read().split("VmRSS:")[1].split()[0]))
            disk.heal()
        time.sleep(1.5)   # the retry after the last failure
        w.stop.set()
        w.join(30)
        time.sleep(0.2)   # everysec: the last replies left a few ms before their bytes
        assert w.acked > 0
        if fsync == "always":
            assert all(frozen)     # no reply while its write cannot be made durable
        else:
            assert w.refused > 0   # MISCONF while the writes fail
        assert max(rss) - min(rss) < 64 * 1024, rss   # KB: refusing writes keeps memory flat
        c = ts.client()
        assert int(c.get("n")) == w.acked
        ts = restart(ts, "--appendfsync", fsync)
        assert int(ts.client().get("n")) == w.acked
    finally:
        ts.stop()


def test_always_fsync_error_ends_the_process(tmp_path, shim):
    ts, disk = tessera(tmp_path, shim, "--appendonly", "yes", "--appendfsync", "always")
    w = Incrementer(ts)
    w.start()
    time.sleep(0.5)
    disk.fail("fsync EIO appendonly")
    assert ts.proc.wait(10) == 1
    w.join(10)
    log = (tmp_path / "tessera.log").read_text()
    assert ("Can't persist AOF for fsync error when the AOF fsync policy is 'always': Input/output error. "
            "Exiting...") in log
    # What was acknowledged had been fsynced; the one write whose fsync
    # failed was never acknowledged (it may or may not be in the file).
    ts = start_tessera(tmp_path, "--appendonly", "yes")
    try:
        n = int(ts.client().get("n"))
        assert w.acked <= n <= w.acked + 1, (w.acked, n)
    finally:
        ts.stop()


def test_rewrite_after_failed_writes_replays_nothing_twice(tmp_path, shim):
    ts, disk = tessera(tmp_path, shim, *AOF_ON)
    try:
        c = ts.client()
        logged(c, "INCR", "x")
        disk.fail("write ENOSPC appendonly.aof")   # the log, not the rewrite's temp file
        c.incr("x")   # acknowledged, not written yet
        assert until(lambda: write_error(c, "INCR", "y"))
        done = c.info("persistence")["aof_rewrites"]
        c.bgrewriteaof()
        assert until(lambda: c.info("persistence")["aof_rewrites"] > done)
        disk.heal()
        assert c.info("persistence")["aof_last_write_status"] == "ok"   # the new file's status
        assert c.incr("x") == 3
        time.sleep(0.5)   # everysec: written within milliseconds, not before the reply
        ts = restart(ts)
        assert int(ts.client().get("x")) == 3
        assert "AOF reopen, just ignore the last error." in (tmp_path / "tessera.log").read_text()
    finally:
        ts.stop()


def test_failed_bgsave_stops_writes_like_redis(tmp_path, shim):
    ts, tdisk = tessera(tmp_path / "ts", shim, "--save", "900 1")
    rs, rdisk = redis_ref(tmp_path / "rs", shim, "--save", "900 1")
    try:
        txn_replies = []
        for srv, disk in ((ts, tdisk), (rs, rdisk)):
            c = srv.client()
            c.set("a", "1")
            w = Wire(srv)
            queued = [w.cmd("MULTI"), w.cmd("SET", "c", "3")]   # queued before the disk fails
            disk.fail("rename EIO temp-")   # Redis writes its RDB through stdio: rename is what it calls
            c.bgsave()
            assert until(lambda: c.info("persistence")["rdb_bgsave_in_progress"] == 0 and
                         c.info("persistence")["rdb_last_bgsave_status"] == "err"), srv.argv[0]
            assert write_error(c, "SET", "b", "2") == RDB_ERR, srv.argv[0]
            assert write_error(c, "PING") == RDB_ERR
            # EXEC of queued writes is refused (and the transaction gone);
            # a write queued now aborts the next EXEC; reads still run.
            txn_replies.append(queued + [w.cmd(*x) for x in (("EXEC",), ("EXEC",), ("MULTI",), ("GET", "a"),
                                                            ("EXEC",), ("MULTI",), ("SET", "b", "2"), ("EXEC",))])
            w.close()
            assert c.get("a") == b"1"
            c.config_set("stop-writes-on-bgsave-error", "no")
            assert write_error(c, "SET", "b", "2") is None
            c.config_set("stop-writes-on-bgsave-error", "yes")
            c.config_set("save", "")   # Redis stops writes only while save rules are set
            assert write_error(c, "SET", "b", "2") is None
            c.config_set("save", "900 1")
            assert write_error(c, "SET", "b", "2") == RDB_ERR
            disk.heal()
            c.bgsave()
            assert until(lambda: c.info("persistence")["rdb_last_bgsave_status"] == "ok"), srv.argv[0]
            assert write_error(c, "SET", "b", "2") is None
            assert c.config_get("stop-writes-on-bgsave-error") == {"stop-writes-on-bgsave-error": "yes"}
        assert txn_replies[0] == txn_replies[1]
        assert txn_replies[0][2].startswith(b"-EXECABORT Transaction discarded because of: MISCONF")
    finally:
        ts.stop()
        rs.stop()


def test_aof_queue_is_bounded_while_the_disk_stalls(tmp_path, shim):
    ts, disk = tessera(tmp_path, shim, "--appendonly", "yes", "--appendfsync", "no")
    try:
        c = ts.client()
        value = b"v" * (256 * 1024)
        c.set("k", value)
        base = rss_mb(ts)
        disk.fail("write delay:400 appendonly")
        peak = [base]
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_mb(ts))
                time.sleep(0.02)
        t = threading.Thread(target=watch)
        t.start()
        p = c.pipeline(transaction=False)
        for _ in range(1600):   # 400 MB of log for a 256 KB value
            p.set("k", value)
        t0 = time.time()
        p.execute()
        took = time.time() - t0
        stop.set()
        t.join()
        disk.heal()
        assert took > 1.0, took            # the writers waited for the slow disk
        if not sanitized(ts):
            assert peak[0] - base < 64 + 96, (base, peak[0])   # the queue's bound plus slack
        assert c.get("k") == value
    finally:
        ts.stop()


@pytest.mark.parametrize("which", ["tessera", "redis"])
def test_config_set_dir_during_bgsave(tmp_path, shim, which):
    start = tessera if which == "tessera" else redis_ref
    srv, disk = start(tmp_path / which, shim)
    try:
        c = srv.client()
        p = c.pipeline(transaction=False)
        for i in range(20000):
            p.set("key:%d" % i, "x" * 100)
        p.execute()
        old = srv.workdir
        new = tmp_path / ("%s-new" % which)
        new.mkdir()
        disk.fail("write delay:20 temp-")
        c.bgsave()
        c.config_set("dir", str(new))
        assert until(lambda: c.info("persistence")["rdb_bgsave_in_progress"] == 0, timeout=60)
        disk.heal()
        assert c.info("persistence")["rdb_last_bgsave_status"] == "ok"
        assert (old / "dump.rdb").exists()        # the snapshot lands where it began
        leftovers = [f for d in (old, new) for f in os.listdir(d) if f.startswith("temp-")]
        assert leftovers == []
        c.save()
        assert (new / "dump.rdb").exists()        # the next one goes to the new dir
    finally:
        srv.stop()


@pytest.mark.parametrize("fault", ["write ENOSPC temp-rewriteaof", "rename EIO temp-rewriteaof",
                                   "fsync EIO temp-rewriteaof"])
def test_failed_rewrite_under_load_loses_nothing(tmp_path, shim, fault):
    ts, disk = tessera(tmp_path, shim, "--appendonly", "yes", "--appendfsync", "always")
    try:
        w = Incrementer(ts)
        w.start()
        c = ts.client()
        time.sleep(0.3)
        disk.fail(fault)
        c.bgrewriteaof()
        assert until(lambda: c.info("persistence")["aof_last_bgrewrite_status"] == "err")
        acked = w.acked
        time.sleep(0.3)
        assert w.acked > acked and w.refused == 0   # a failed rewrite refuses nothing
        assert not [f for f in os.listdir(tmp_path) if f.startswith("temp-")]
        disk.heal()
        done = c.info("persistence")["aof_rewrites"]
        c.bgrewriteaof()
        assert until(lambda: c.info("persistence")["aof_rewrites"] > done)
        time.sleep(0.3)
        w.stop.set()
        w.join(30)
        ts = restart(ts)
        assert int(ts.client().get("n")) == w.acked
    finally:
        ts.stop()


@pytest.mark.parametrize("fault", ["write ENOSPC appendonly", "fsync EIO appendonly"])
def test_shutdown_refused_while_the_aof_fails(tmp_path, shim, fault):
    ts, disk = tessera(tmp_path, shim, "--appendonly", "yes", "--appendfsync", "everysec")
    try:
        c = ts.client()
        logged(c, "SET", "a", "1")
        disk.fail(fault)
        c.set("b", "2")   # acknowledged; its bytes cannot be made durable now
        assert write_error(c, "SHUTDOWN") == "Errors trying to SHUTDOWN. Check logs."
        assert c.get("b") == b"2"   # still serving
        disk.heal()
        c.shutdown()   # redis-py raises unless the connection closed
        assert ts.proc.wait(10) == 0
        ts = start_tessera(tmp_path, "--appendonly", "yes")
        assert ts.client().mget("a", "b") == [b"1", b"2"]
    finally:
        ts.stop()
