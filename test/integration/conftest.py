"""Fixtures for the integration tests: a real tessera-server binary (started
per test module on a free port) and, where installed, a real redis-server
7.0 to compare replies against.

The helpers the test modules share (key placement, RESP encoding and
parsing, the raw connection Wire, the differ Diff) are in tessera_testlib.py.

Environment:
  TESSERA_BIN      path of tessera-server (default: build/tessera-server)
  TESSERA_THREADS  worker threads for the server under test (default 2)
"""
import os
import shutil
import socket
import subprocess
import time

import pytest
import redis

from tessera_testlib import Diff, Wire

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# What the suite needs beyond the defaults, on both servers alike (the
# security defaults are tested with servers started without them:
# test_security.py): DEBUG, and CONFIG SET dir / dbfilename.
TEST_OPTIONS = ["--enable-debug-command", "yes", "--enable-protected-configs", "yes"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=10.0, host="127.0.0.1"):
    """Waits until the server accepts connections on host:port (each
    listening address of a server opens separately: wait for the one a
    test uses)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("server did not start on port %d" % port)


class Server:
    """A running server process; .client() gives a redis-py client."""

    def __init__(self, argv, port, proc, workdir):
        self.argv, self.port, self.proc, self.workdir = argv, port, proc, workdir

    def client(self, **kw):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=20, **kw)

    def raw(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return s

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def tessera_bin():
    return os.environ.get("TESSERA_BIN", os.path.join(ROOT, "build", "tessera-server"))


def start_tessera(tmp_path, *extra, threads=None, env=None, preexec_fn=None):
    port = free_port()
    threads = threads or int(os.environ.get("TESSERA_THREADS", "2"))
    argv = [tessera_bin(), "--port", str(port), "--threads", str(threads), "--dir", str(tmp_path),
            "--logfile", str(tmp_path / "tessera.log"),
            # No snapshots unless a test asks for them (extra options override).
            "--save", ""] + TEST_OPTIONS + [str(x) for x in extra]
    proc = subprocess.Popen(argv, cwd=str(tmp_path), env=env, preexec_fn=preexec_fn)
    wait_port(port, proc)
    return Server(argv, port, proc, tmp_path)


def spawn_tessera(tmp_path, *extra):
    """Starts tessera-server without waiting for it (it may refuse to start):
    (process, port). Log in tmp_path/tessera.log, no snapshots."""
    port = free_port()
    argv = [tessera_bin(), "--port", str(port), "--dir", str(tmp_path), "--save", "",
            "--logfile", str(tmp_path / "tessera.log")] + TEST_OPTIONS + [str(x) for x in extra]
    return subprocess.Popen(argv, cwd=str(tmp_path)), port


def exit_status_after_use(proc, port, use=lambda c: c.dbsize(), timeout=10):
    """Waits until the server answers (then runs use(client) and stops it with
    SIGTERM) or exits by itself; returns its exit status."""
    import signal
    deadline = time.time() + timeout
    while proc.poll() is None and time.time() < deadline:
        try:
            with redis.Redis(port=port, socket_timeout=2) as t:
                t.ping()
                use(t)
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    return proc.returncode


def wait_exit(proc, timeout=10, fail="server did not exit"):
    """The exit status of proc; when it has not exited within timeout
    seconds, kills it and fails with the message fail."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(fail)


def start_redis(tmp_path, *extra, env=None, preexec_fn=None):
    """A redis-server on a free port with its files in tmp_path, no snapshots
    and no AOF unless extra options (they come last) say otherwise; None when
    redis-server is not installed."""
    exe = shutil.which("redis-server")
    if not exe:
        return None
    port = free_port()
    argv = [exe, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path),
            "--logfile", str(tmp_path / "redis.log")] + TEST_OPTIONS + [str(x) for x in extra]
    proc = subprocess.Popen(argv, cwd=str(tmp_path), env=env, preexec_fn=preexec_fn)
    wait_port(port, proc)
    return Server(argv, port, proc, tmp_path)


def start_pair(tmp_path, *extra):
    """Tessera in tmp_path/ts and redis-server in tmp_path/rs with the same
    options; skips the test when redis-server is not installed."""
    (tmp_path / "ts").mkdir()
    (tmp_path / "rs").mkdir()
    ts = start_tessera(tmp_path / "ts", *extra)
    rs = start_redis(tmp_path / "rs", *extra)
    if rs is None:
        ts.stop()
        pytest.skip("redis-server not installed")
    return ts, rs


def rss_mb(srv):
    with open("/proc/%d/status" % srv.proc.pid) as f:
        return int(f.read().split("VmRSS:")[1].split()[0]) // 1024


def sanitized(srv):
    """A sanitized build: ASan's quarantine and TSan's shadow memory make
    RSS meaningless, and everything runs 5-20x slower."""
    with open("/proc/%d/maps" % srv.proc.pid) as f:
        maps = f.read()
    return "libasan" in maps or "libtsan" in maps


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_tessera(tmp_path_factory.mktemp("tessera"))
    yield srv
    rc = srv.stop()
    assert rc == 0, "tessera-server exited with %s" % rc


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    srv = start_redis(tmp_path_factory.mktemp("redis"))
    if srv is None:
        pytest.skip("redis-server not installed")
    yield srv
    srv.stop()


def flushed_client(srv):
    """A redis-py client of srv, after FLUSHALL; closed when the test ends."""
    c = srv.client()
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def r(server):
    yield from flushed_client(server)


@pytest.fixture
def ref(reference):
    yield from flushed_client(reference)


@pytest.fixture
def d(server, reference, r, ref):
    """A Diff between fresh raw connections to Tessera and Redis (both flushed)."""
    a, b = Wire(server), Wire(reference)
    yield Diff(a, b)
    a.close()
    b.close()
