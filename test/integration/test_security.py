"""Exposure and authentication (docs/security.md): requirepass with AUTH and
HELLO AUTH, protected mode, the HTTP guard, protected configs and the DEBUG
switch. Replies are compared byte for byte with a real redis-server 7.0
started with the same options. These servers start with the security
defaults, not conftest's TEST_OPTIONS."""
import os
import shutil
import socket
import subprocess
import time

import pytest

from conftest import free_port, tessera_bin, wait_port, Server
from tessera_testlib import Diff, Wire, encode, parse

DENIED = (b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for "
          b"the default user.")


def start(kind, tmp_path, *extra):
    """Tessera (kind 'ts') or redis-server ('redis') with the security
    defaults, bound to 127.0.0.1 and 127.0.0.2 (so a client from 127.0.0.2
    is not local), plus extra options."""
    port = free_port()
    d = tmp_path / kind
    d.mkdir(exist_ok=True)
    if kind == "ts":
        argv = [tessera_bin(), "--threads", "2"]
    else:
        exe = shutil.which("redis-server")
        if not exe:
            pytest.skip("redis-server not installed")
        argv = [exe, "--appendonly", "no"]
    argv += ["--port", str(port), "--bind", "127.0.0.1", "127.0.0.2", "--save", "", "--dir", str(d),
             "--logfile", str(d / "server.log")] + [str(x) for x in extra]
    proc = subprocess.Popen(argv, cwd=str(d))
    wait_port(port, proc)
    return Server(argv, port, proc, d)


@pytest.fixture
def pair(tmp_path, request):
    """Tessera and Redis with the options the test's parameter names."""
    extra = getattr(request, "param", ())
    ts, rs = start("ts", tmp_path, *extra), start("redis", tmp_path, *extra)
    yield ts, rs
    ts.stop()
    rs.stop()


def from_127_0_0_2(port):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.connect(("127.0.0.2", port))
    s.settimeout(5)
    return s


def read_until_closed(s):
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def without_id(reply):
    """A HELLO reply with its client id left out (the ids differ)."""
    v = parse(reply)
    if isinstance(v, list):
        i = v.index(b"id")
        return v[:i] + v[i + 2:]
    return v


@pytest.mark.parametrize("pair", [("--requirepass", "pw")], indirect=True)
def test_requirepass_auth_and_hello_match_redis(pair):
    ts, rs = pair
    d = Diff(Wire.tcp(ts.port), Wire.tcp(rs.port))
    d.run([
        ("GET", "k"), ("PING",), ("CLIENT", "GETNAME"), ("FOO",), ("GET",),
        ("HELLO",), ("HELLO", "2"), ("HELLO", "3", "SETNAME", "early"),
        ("HELLO", "4"), ("HELLO", "2", "AUTH", "x"), ("HELLO", "2", "SETNAME", "a b"),
        ("AUTH",), ("AUTH", "a", "b", "c"), ("AUTH", "wrong"), ("AUTH", "default", "wrong"),
        ("AUTH", "nobody", "pw"), ("AUTH", "DEFAULT", "pw"),
        ("HELLO", "2", "SETNAME", "late", "AUTH", "default", "bad"),
        ("AUTH", "pw"), ("CLIENT", "GETNAME"), ("AUTH", "wrong"), ("PING",), ("SET", "k", "v"), ("GET", "k"),
    ])
    # HELLO AUTH authenticates and switches protocol in one go.
    d2 = Diff(Wire.tcp(ts.port), Wire.tcp(rs.port))
    x, y = d2.both("HELLO", "3", "AUTH", "default", "pw", "SETNAME", "h3")
    assert without_id(x) == without_id(y)
    d2.run([("CLIENT", "GETNAME"), ("GET", "k"), ("QUIT",)])


@pytest.mark.parametrize("pair", [()], indirect=True)
def test_no_password_auth_replies_match_redis(pair):
    ts, rs = pair
    d = Diff(Wire.tcp(ts.port), Wire.tcp(rs.port))
    d.run([("AUTH", "x"), ("AUTH", "default", "anything"), ("AUTH", "bob", "x"), ("PING",),
           ("CONFIG", "GET", "requirepass"), ("CONFIG", "GET", "protected-mode")])
    x, y = d.both("HELLO", "3", "AUTH", "default", "whatever")
    assert without_id(x) == without_id(y)


@pytest.mark.parametrize("pair", [()], indirect=True)
def test_setting_a_password_keeps_connected_clients_authenticated(pair):
    for srv in pair:
        old = Wire.tcp(srv.port)
        assert old.cmd("CONFIG", "SET", "requirepass", "pw") == b"+OK\r\n"
        assert old.cmd("PING") == b"+PONG\r\n"          # connected before: still authenticated
        new = Wire.tcp(srv.port)
        assert new.cmd("PING") == b"-NOAUTH Authentication required.\r\n"
        assert new.cmd("AUTH", "pw") == b"+OK\r\n"
        assert old.cmd("CONFIG", "SET", "requirepass", "") == b"+OK\r\n"
        assert Wire.tcp(srv.port).cmd("PING") == b"+PONG\r\n"


@pytest.mark.parametrize("pair", [()], indirect=True)
def test_protected_mode_denies_non_loopback_clients(pair):
    ts, rs = pair
    got = []
    for srv in (ts, rs):
        s = from_127_0_0_2(srv.port)
        s.sendall(b"PING\r\n")
        got.append(read_until_closed(s))   # the message, then the server closes
        s.close()
    assert got[0] == got[1]
    assert got[0].startswith(DENIED) and got[0].endswith(b"\r\n")
    for srv in (ts, rs):
        w = Wire.tcp(srv.port)   # loopback: served
        assert w.cmd("PING") == b"+PONG\r\n"
        assert int(parse(w.cmd("INFO", "stats")).split(b"rejected_connections:")[1].split(b"\r\n")[0]) == 1


@pytest.mark.parametrize("pair", [("--requirepass", "pw"), ("--protected-mode", "no")], indirect=True)
def test_protected_mode_lets_others_in_with_a_password_or_when_off(pair):
    ts, rs = pair
    password = "--requirepass" in ts.argv
    for srv in (ts, rs):
        s = from_127_0_0_2(srv.port)
        w = Wire(s)
        if password:
            assert w.cmd("PING") == b"-NOAUTH Authentication required.\r\n"
            assert w.cmd("AUTH", "pw") == b"+OK\r\n"
        assert w.cmd("PING") == b"+PONG\r\n"


@pytest.mark.parametrize("pair", [()], indirect=True)
def test_protected_mode_follows_config_set(pair):
    for srv in pair:
        w = Wire.tcp(srv.port)
        assert w.cmd("CONFIG", "SET", "protected-mode", "no") == b"+OK\r\n"
        assert Wire(from_127_0_0_2(srv.port)).cmd("PING") == b"+PONG\r\n"
        assert w.cmd("CONFIG", "SET", "protected-mode", "yes") == b"+OK\r\n"
        s = from_127_0_0_2(srv.port)
        s.sendall(b"PING\r\n")
        assert read_until_closed(s).startswith(DENIED)


@pytest.mark.parametrize("pair", [()], indirect=True)
@pytest.mark.parametrize("attack", [b"POST / HTTP/1.1\r\nHost: example\r\n\r\n",
                                    b"GET / HTTP/1.1\r\nHost: example:6379\r\n\r\n",
                                    encode("post", "x"), encode("HOST:", "x")])
def test_http_request_closes_the_connection(pair, attack):
    for srv in pair:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        # What came before the attack runs, but its reply is dropped with
        # the connection; nothing after the attack runs.
        s.sendall(encode("SET", "before", "1") + attack + encode("SET", "after", "1"))
        got = read_until_closed(s)
        s.close()
        assert got == b"", (srv.argv[0], got)
        w = Wire.tcp(srv.port)
        assert w.cmd("EXISTS", "before") == b":1\r\n"
        assert w.cmd("EXISTS", "after") == b":0\r\n"
        log = open(srv.workdir / "server.log").read()
        assert "Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to " \
               "Redis. This is likely due to an attacker attempting to use Cross Protocol Scripting to compromise " \
               "your Redis instance. Connection aborted." in log


@pytest.mark.parametrize("pair", [()], indirect=True)
def test_protected_configs_and_debug_refused_by_default(pair):
    ts, rs = pair
    d = Diff(Wire.tcp(ts.port), Wire.tcp(rs.port))
    d.run([
        ("CONFIG", "SET", "dir", "/tmp"), ("CONFIG", "SET", "dbfilename", "x.rdb"),
        ("CONFIG", "SET", "dbfilename", "a/b"), ("CONFIG", "SET", "maxclients", "100", "dir", "/tmp"),
        ("CONFIG", "SET", "enable-debug-command", "yes"), ("CONFIG", "SET", "enable-protected-configs", "yes"),
        ("DEBUG", "SLEEP", "0"), ("DEBUG", "HELP"),
        ("CONFIG", "GET", "enable-protected-configs"), ("CONFIG", "GET", "enable-debug-command"),
        ("CONFIG", "GET", "enable-module-command"),
    ])
    # Refused commands are rejected calls, as in Redis's commandstats.
    stats = parse(Wire.tcp(ts.port).cmd("INFO", "commandstats"))
    assert b"cmdstat_debug:calls=0," in stats and b"rejected_calls=2" in stats


@pytest.mark.parametrize("pair", [("--enable-protected-configs", "local", "--enable-debug-command", "local")],
                         indirect=True)
def test_local_allows_loopback_clients_only(pair, tmp_path):
    ts, rs = pair
    for srv in (ts, rs):
        with_pw = Wire.tcp(srv.port)
        assert with_pw.cmd("CONFIG", "SET", "requirepass", "pw") == b"+OK\r\n"   # so 127.0.0.2 may connect
        here = Wire.tcp(srv.port)
        assert here.cmd("AUTH", "pw") == b"+OK\r\n"
        assert here.cmd("DEBUG", "SLEEP", "0") == b"+OK\r\n"
        assert here.cmd("CONFIG", "SET", "dbfilename", "local.rdb") == b"+OK\r\n"
        assert here.cmd("CONFIG", "SET", "dbfilename", "a/b") == \
            b"-ERR CONFIG SET failed (possibly related to argument 'dbfilename') - dbfilename can't be a path, " \
            b"just a filename\r\n"
        there = Wire(from_127_0_0_2(srv.port))
        assert there.cmd("AUTH", "pw") == b"+OK\r\n"
        assert there.cmd("DEBUG", "SLEEP", "0").startswith(b"-ERR DEBUG command not allowed.")
        assert there.cmd("CONFIG", "SET", "dbfilename", "x.rdb") == \
            b"-ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set protected config\r\n"


@pytest.mark.parametrize("option", ["dbfilename", "appendfilename"])
def test_file_names_must_not_be_paths(tmp_path, option):
    outs = []
    for exe in (tessera_bin(), shutil.which("redis-server")):
        if not exe:
            pytest.skip("redis-server not installed")
        p = subprocess.run([exe, "--port", str(free_port()), "--" + option, "sub/dump"], capture_output=True,
                           text=True, cwd=str(tmp_path), timeout=10)
        assert p.returncode == 1
        outs.append([l for l in (p.stdout + p.stderr).splitlines() if "can't be a path" in l])
    assert outs[0] == outs[1] == ["%s can't be a path, just a filename" % option]


def test_aof_replay_runs_with_a_password(tmp_path):
    """The AOF's replay connection is the server's own: requirepass does
    not stop it."""
    srv = start("ts", tmp_path, "--appendonly", "yes", "--requirepass", "pw")
    try:
        w = Wire.tcp(srv.port)
        assert w.cmd("AUTH", "pw") == b"+OK\r\n"
        for i in range(50):
            assert w.cmd("SET", "k%d" % i, i) == b"+OK\r\n"
    finally:
        assert srv.stop() == 0
    srv = Server(srv.argv, srv.port, subprocess.Popen(srv.argv, cwd=str(srv.workdir)), srv.workdir)
    try:
        wait_port(srv.port, srv.proc)
        w = Wire.tcp(srv.port)
        assert w.cmd("AUTH", "pw") == b"+OK\r\n"
        assert w.cmd("DBSIZE") == b":50\r\n"
    finally:
        srv.stop()
