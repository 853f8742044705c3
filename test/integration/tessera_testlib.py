"""Helpers shared by the integration tests (the fixtures are in conftest.py).

Key placement: the Redis Cluster slot function (as src slot.h) and the
contiguous slot map of the server, shard = slot * nshards / 16384.

RESP: encode() builds a request, Wire is a raw connection that reads whole
replies as bytes, parse() turns one reply into Python values, and Diff sends
every command to Tessera and to a real redis-server and compares the raw
reply bytes.

Environment:
  TESSERA_THREADS  worker threads (= shards) of the server under test (default 2)
"""
import os
import socket
import time

import pytest

NSHARDS = int(os.environ.get("TESSERA_THREADS", "2"))


def known_bug(reason):
    """A test that shows a known bug in code outside this suite's reach.
    Strict: the fix turns it into a failure, and the marker is removed."""
    return pytest.mark.xfail(strict=True, reason=reason)


# ---------- key placement ----------

def crc16(data):
    """CRC16-CCITT (XMODEM), as Redis Cluster uses for key slots."""
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def key_slot(key):
    """The slot of a key (str or bytes), honouring a non-empty {hash tag}."""
    if isinstance(key, str):
        key = key.encode()
    s = key.find(b"{")
    if s >= 0:
        e = key.find(b"}", s + 1)
        if e > s + 1:
            key = key[s + 1:e]
    return crc16(key) % 16384


def key_shard(key, nshards=NSHARDS):
    """The shard owning a key on a server with nshards shards."""
    return key_slot(key) * nshards // 16384


def keys_on(shard, prefix, count=1, nshards=NSHARDS):
    """The first count keys "<prefix><i>" that live on shard."""
    out, i = [], 0
    while len(out) < count:
        k = "%s%d" % (prefix, i)
        if key_shard(k, nshards) == shard:
            out.append(k)
        i += 1
    return out


def spread_keys(prefix, per_shard=2, nshards=NSHARDS):
    """per_shard keys on each of nshards shards, interleaved by shard."""
    cols = [keys_on(s, prefix, per_shard, nshards) for s in range(nshards)]
    return [k for row in zip(*cols) for k in row]


def two_shard_keys(prefix="k"):
    """(a, b) with shard(a) < shard(b) (when there are two shards or more)."""
    return keys_on(0, prefix)[0], keys_on(NSHARDS - 1, prefix)[0]


# ---------- RESP ----------

def encode(*args):
    """One command as a RESP multibulk request, as a client sends it and the
    AOF stores it. Bytes go as they are, anything else (str, int, float) as
    its text."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        if not isinstance(a, (bytes, bytearray)):
            a = str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def parse(raw):
    """One RESP2/3 reply as Python values; errors as ('err', text)."""
    def rd(i):
        t = raw[i:i + 1]
        j = raw.index(b"\r\n", i)
        line = raw[i + 1:j]
        i = j + 2
        if t == b"+":
            return line.decode(), i
        if t == b"-":
            return ("err", line.decode()), i
        if t == b":":
            return int(line), i
        if t == b"_":
            return None, i
        if t in (b"$", b"="):
            n = int(line)
            if n < 0:
                return None, i
            return raw[i:i + n], i + n + 2
        if t in (b"*", b"~", b"%"):
            n = int(line)
            if n < 0:
                return None, i
            out = []
            for _ in range(n * (2 if t == b"%" else 1)):
                v, i = rd(i)
                out.append(v)
            return out, i
        raise ValueError("bad reply %r" % raw[i - 1:i + 40])
    return rd(0)[0]


class Wire:
    """A raw connection that reads whole RESP replies as bytes. Keeps what
    it read past a reply, so every read of a connection goes through its
    one Wire.

    conn is a server (anything with .raw(), e.g. conftest.Server) or a
    connected socket. nodelay sets TCP_NODELAY, so that data sent in pieces
    really leaves in pieces."""

    def __init__(self, conn, timeout=20, nodelay=False):
        self.s = conn.raw() if hasattr(conn, "raw") else conn
        self.s.settimeout(timeout)
        if nodelay:
            self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.s.makefile("rb")

    @classmethod
    def tcp(cls, port, host="127.0.0.1", **kw):
        return cls(socket.create_connection((host, port), timeout=10), **kw)

    def send(self, data):
        self.s.sendall(data)

    def reply(self):
        data = bytearray()

        def rd():
            line = self.f.readline()
            if not line.endswith(b"\r\n"):
                raise EOFError("connection closed after %r" % bytes(data[-100:] + line))
            data.extend(line)
            t, rest = line[:1], line[1:-2]
            if t in (b"*", b"%", b"~", b">"):
                n = int(rest)
                for _ in range(max(n, 0) * (2 if t == b"%" else 1)):
                    rd()
            elif t in (b"$", b"=", b"!"):
                n = int(rest)
                if n >= 0:
                    body = self.f.read(n + 2)
                    if len(body) != n + 2:
                        raise EOFError("short bulk")
                    data.extend(body)
        rd()
        return bytes(data)

    def replies(self, n):
        return b"".join(self.reply() for _ in range(n))

    def cmd(self, *args):
        self.send(encode(*args))
        return self.reply()

    def val(self, *args):
        return parse(self.cmd(*args))

    def _drain(self, timeout):
        """Reads until the server closes the connection or timeout passes;
        returns (the bytes read, whether it closed)."""
        deadline = time.time() + timeout
        out = bytearray()
        try:
            while True:
                left = deadline - time.time()
                if left <= 0:
                    return bytes(out), False
                self.s.settimeout(left)
                d = self.f.read1(65536)
                if not d:
                    return bytes(out), True
                out.extend(d)
        except ConnectionResetError:
            return bytes(out), True
        except socket.timeout:
            return bytes(out), False

    def closed(self, timeout=5.0):
        """True when the server closes the connection within timeout
        (replies still on their way are read and dropped)."""
        return self._drain(timeout)[1]

    def rest_until_close(self, timeout=5.0):
        """What the server still sends before it closes; None if it does not
        close within timeout."""
        out, closed = self._drain(timeout)
        return out if closed else None

    def until_close(self, timeout=10.0):
        """Everything the server sends until it closes the connection; fails
        when it does not close within timeout."""
        out, closed = self._drain(timeout)
        if not closed:
            raise AssertionError("connection not closed; got %r" % out[:300])
        return out

    def close(self):
        self.f.close()
        self.s.close()


# ---------- comparing Tessera with Redis ----------

class Diff:
    """Sends each command to Tessera (a) and Redis (b), both Wires, and
    compares the raw reply bytes."""

    def __init__(self, ts, rs):
        self.a, self.b = ts, rs

    def both(self, *args):
        return self.a.cmd(*args), self.b.cmd(*args)

    def __call__(self, *args):
        x, y = self.both(*args)
        assert x == y, "%r: tessera %r, redis %r" % (args, x, y)
        return x

    def unordered(self, *args):
        """Array replies whose order may differ (KEYS, SCAN...)."""
        x, y = self.both(*args)
        px, py = parse(x), parse(y)
        assert isinstance(px, list) and isinstance(py, list), (args, x, y)
        assert sorted(px) == sorted(py), "%r: tessera %r, redis %r" % (args, x, y)
        return px

    def near(self, tolerance, *args):
        """Integer replies that depend on the clock (TTL, PTTL...)."""
        x, y = self.both(*args)
        px, py = parse(x), parse(y)
        if isinstance(px, int) and isinstance(py, int) and min(px, py) >= 0:
            assert abs(px - py) <= tolerance, "%r: tessera %r, redis %r" % (args, x, y)
        else:
            assert x == y, "%r: tessera %r, redis %r" % (args, x, y)
        return px

    def run(self, script):
        for line in script:
            self(*line)
