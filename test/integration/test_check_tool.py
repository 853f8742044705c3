"""The tessera-check tool (src/tools/check.c): AOF checking and --fix, RDB
checking of files written by redis-server 7.0 and by tessera-server, and
corrupt input rejected without a crash. Where Debian's redis-check-aof is
installed, the report lines are compared with its own.

The tool sits next to the server binary (TESSERA_BIN's directory).
"""
import os
import shutil
import subprocess

import pytest

from conftest import start_redis, start_tessera, tessera_bin
from tessera_testlib import encode


def check_bin():
    return os.path.join(os.path.dirname(os.path.abspath(tessera_bin())), "tessera-check")


def run(*args):
    p = subprocess.run([check_bin()] + [str(a) for a in args], capture_output=True, text=True,
                       errors="replace", timeout=60)   # key names in a corrupt file are any bytes
    # A crash (signal) is never an acceptable answer to bad input.
    assert p.returncode in (0, 1, 2), "tessera-check died: %s\n%s" % (p.returncode, p.stderr)
    return p


GOOD = (encode("SELECT", "0") + encode("SET", "a", "b") + encode("MULTI") + encode("INCR", "c")
        + encode("RPUSH", "l", "x", "y") + encode("EXEC") + encode("SET", "bin", b"\r\n\x00*$"))


def write(path, data):
    path.write_bytes(data)
    return path


def test_valid_aof(tmp_path):
    f = write(tmp_path / "good.aof", GOOD)
    p = run("aof", f)
    assert p.returncode == 0, p.stdout
    lines = p.stdout.splitlines()
    assert "AOF analyzed: filename=%s, size=%d, ok_up_to=%d, ok_up_to_line=" % (f, len(GOOD), len(GOOD)) in p.stdout
    assert "diff=0" in p.stdout
    assert lines[-1] == "AOF %s is valid" % f
    # The mode is guessed from the name too.
    assert run(f).returncode == 0
    # An empty file is valid, as for redis-check-aof.
    e = write(tmp_path / "empty.aof", b"")
    p = run("aof", e)
    assert p.returncode == 0 and "AOF %s is empty" % e in p.stdout


def test_truncated_aof_fix(tmp_path):
    for cut in (1, 3, 7, 12, 20, 29):
        data = GOOD[:-cut]
        f = write(tmp_path / ("t%d.aof" % cut), data)
        p = run("aof", f)
        assert p.returncode == 1, p.stdout
        assert p.stdout.splitlines()[-1] == "AOF %s is not valid. Use the --fix option to try fixing it." % f
        assert os.path.getsize(f) == len(data)   # not touched without --fix
        p = run("aof", "--fix", f)
        assert p.returncode == 0, p.stdout
        good_len = len(GOOD) - len(encode("SET", "bin", b"\r\n\x00*$"))
        assert "This will shrink the AOF %s from %d bytes, with %d bytes, to %d bytes" % (
            f, len(data), len(data) - good_len, good_len) in p.stdout
        assert "Successfully truncated AOF %s" % f in p.stdout
        assert f.read_bytes() == GOOD[:good_len]
        p = run("aof", f)
        assert p.returncode == 0 and p.stdout.splitlines()[-1] == "AOF %s is valid" % f


def test_multi_without_exec_fix(tmp_path):
    head = encode("SET", "a", "b")
    data = head + encode("MULTI") + encode("INCR", "c")
    f = write(tmp_path / "multi.aof", data)
    p = run("aof", f)
    assert p.returncode == 1 and "Reached EOF before reading EXEC for MULTI" in p.stdout
    assert "ok_up_to=%d," % len(head) in p.stdout
    p = run("aof", "--fix", f)
    assert p.returncode == 0 and f.read_bytes() == head


@pytest.mark.parametrize("bad,error", [
    (b"x3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n", "Expected prefix '*', got: 'x'"),
    (b"*3\r\n#3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n", "Expected prefix '$', got: '#'"),
    (b"*3\r\n$3\r\nSETxx$1\r\na\r\n$1\r\nb\r\n", "Expected \\r\\n, got: 7878"),
    (b"*1\r\n$4\r\nEXEC\r\n", "Unexpected EXEC"),
    (b"*1\r\n$-1\r\n", "Expected to read string of -1 bytes"),
    (b"*1\r\n$99999999999999999999999\r\nPING\r\n", "which is not in the suitable range"),
])
def test_corrupt_middle_refused(tmp_path, bad, error):
    head = encode("SELECT", "0") + encode("SET", "a", "b")
    data = head + bad + encode("SET", "after", "corruption")
    f = write(tmp_path / "corrupt.aof", data)
    p = run("aof", f)
    assert p.returncode == 1, p.stdout
    assert error in p.stdout
    assert "ok_up_to=%d," % len(head) in p.stdout
    p = run("aof", "--fix", f)
    assert p.returncode == 1, p.stdout
    assert "Fix the AOF by hand" in p.stdout
    assert f.read_bytes() == data   # never truncated


def test_matches_redis_check_aof(tmp_path):
    exe = shutil.which("redis-check-aof")
    if not exe:
        pytest.skip("redis-check-aof not installed")
    cases = {"good": GOOD, "trunc": GOOD[:-5], "dollar": encode("SET", "a", "b") + b"*1\r\nx4\r\nPING\r\n"}
    for name, data in cases.items():
        f = write(tmp_path / (name + ".aof"), data)
        ours = run("aof", f)
        theirs = subprocess.run([exe, str(f)], capture_output=True, text=True, timeout=60)
        assert ours.returncode == theirs.returncode, (ours.stdout, theirs.stdout)
        assert ours.stdout.splitlines()[-1] == theirs.stdout.splitlines()[-1]
        analyzed = [l for l in theirs.stdout.splitlines() if l.startswith("AOF analyzed")][0]
        mine = [l for l in ours.stdout.splitlines() if l.startswith("AOF analyzed")][0]
        if name == "good":
            assert mine == analyzed
        else:
            # Same file, size and ok_up_to; the line counter differs (ours
            # counts the valid prefix, Redis's where it stopped reading).
            assert mine.split(", ok_up_to_line")[0] == analyzed.split(", ok_up_to_line")[0]


def fill_every_type(c):
    c.set("str", "hello")
    c.set("int", 12345)
    c.set("big", "x" * 5000)
    c.set("ttl", "v", px=10 ** 11)
    c.rpush("list", *["e%d" % i for i in range(10)])
    c.rpush("biglist", *["x" * 100 for _ in range(300)])
    c.hset("hash", mapping={"f1": "v1", "f2": "v2"})
    c.hset("bighash", mapping={"f%d" % i: "v%d" % i for i in range(300)})
    c.sadd("intset", 1, 2, 3)
    c.sadd("set", "a", "b", "c")
    c.sadd("bigset", *["m%d" % i for i in range(600)])
    c.zadd("zset", {"a": 1, "b": 2.5})
    c.zadd("bigzset", {"m%d" % i: i for i in range(300)})
    c.xadd("stream", {"f": "v"}, id="1-1")
    c.xadd("stream", {"f": "w"}, id="2-1")
    c.xgroup_create("stream", "g", id="0")
    c.xreadgroup("g", "consumer", {"stream": ">"}, count=1)
    c.select(3)
    c.set("db3", "x")
    return 15


@pytest.fixture(scope="module")
def redis_rdb(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("redisrdb")
    srv = start_redis(tmp)
    if srv is None:
        pytest.skip("redis-server not installed")
    try:
        c = srv.client()
        keys = fill_every_type(c)
        c.save()
    finally:
        srv.stop()
    return tmp / "dump.rdb", keys


def test_redis_rdb_accepted(redis_rdb, tmp_path):
    path, keys = redis_rdb
    p = run("rdb", path)
    assert p.returncode == 0, p.stdout
    assert "[offset 0] Checking RDB file %s" % path in p.stdout
    assert "Checksum OK" in p.stdout
    assert "\\o/ RDB looks OK! \\o/" in p.stdout
    assert "[info] %d keys read" % keys in p.stdout
    assert "[info] 1 expires" in p.stdout
    assert "[info] 5 strings, 2 lists, 3 sets, 2 zsets, 2 hashes, 1 streams" in p.stdout
    # The mode is guessed from the signature.
    assert "RDB looks OK" in run(path).stdout
    # As an AOF's RDB preamble, followed by commands.
    aof = write(tmp_path / "preamble.aof", path.read_bytes() + GOOD)
    p = run("aof", aof)
    assert p.returncode == 0, p.stdout
    assert "RDB preamble is OK, proceeding with AOF tail..." in p.stdout
    assert "AOF %s is valid" % aof in p.stdout
    # A truncated tail after the preamble is fixable; the preamble stays.
    aof2 = write(tmp_path / "preamble2.aof", path.read_bytes() + GOOD[:-4])
    assert run("aof", aof2).returncode == 1
    assert run("aof", "--fix", aof2).returncode == 0
    assert run("aof", aof2).returncode == 0


def test_tessera_rdb_accepted(tmp_path):
    srv = start_tessera(tmp_path)
    try:
        c = srv.client()
        keys = fill_every_type(c)
        c.save()
    finally:
        assert srv.stop() == 0
    p = run("rdb", tmp_path / "dump.rdb")
    assert p.returncode == 0, p.stdout
    assert "[info] %d keys read" % keys in p.stdout


def test_corrupt_rdb_rejected(redis_rdb, tmp_path):
    path, _ = redis_rdb
    data = path.read_bytes()
    # Flipped bytes all over the file (header, aux, values, checksum):
    # each is rejected (the CRC catches what the structure does not).
    step = max(1, len(data) // 60)
    for at in list(range(0, len(data), step)) + [len(data) - 1]:
        bad = bytearray(data)
        bad[at] ^= 0x5a
        f = write(tmp_path / "flip.rdb", bytes(bad))
        p = run("rdb", f)
        assert p.returncode == 1, "flip at %d accepted:\n%s" % (at, p.stdout)
        assert "--- RDB ERROR DETECTED ---" in p.stdout
        assert "[offset " in p.stdout
    # Truncated files too.
    for cut in (1, 8, 9, len(data) // 2, len(data) - 10):
        f = write(tmp_path / "cut.rdb", data[:cut])
        assert run("rdb", f).returncode == 1
    # A corrupt preamble cannot be fixed by truncating.
    bad = bytearray(data)
    bad[len(data) // 2] ^= 0xff
    f = write(tmp_path / "badpre.aof", bytes(bad) + GOOD)
    p = run("aof", "--fix", f)
    assert p.returncode == 1 and "Fix the AOF by hand" in p.stdout
    assert f.read_bytes() == bytes(bad) + GOOD


def test_usage(tmp_path):
    assert run().returncode == 2
    assert run("aof", tmp_path / "missing.aof").returncode == 2
    assert run("rdb", "--fix", tmp_path / "x.rdb").returncode == 2
