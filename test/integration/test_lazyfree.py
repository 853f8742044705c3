"""Lazy free: big collections leave the keyspace at once and are freed by
the background thread (INFO lazyfreed_objects counts them); FLUSHALL and
FLUSHDB ASYNC hand whole tables over. The server of this module must still
exit cleanly (under ASan: nothing leaked)."""
import time

import pytest

from conftest import start_tessera

from tessera_testlib import keys_on, NSHARDS


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = start_tessera(tmp_path_factory.mktemp("lazyfree"))
    yield s
    assert s.stop() == 0


def freed(c):
    return c.info("memory")["lazyfreed_objects"]


def wait_freed(c, at_least, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if freed(c) >= at_least and c.info("memory")["lazyfree_pending_objects"] == 0:
            return
        time.sleep(0.01)
    raise AssertionError("lazyfreed_objects stayed at %d" % freed(c))


def fill(c, key, kind, n=None):
    # big enough to be freed in the background: lists count nodes of 8 KB,
    # the other types count elements (threshold 64, like Redis's)
    n = n or (100000 if kind == "list" else 5000)
    p = c.pipeline(transaction=False)
    for i in range(0, n, 500):
        chunk = ["m%d" % j for j in range(i, i + 500)]
        if kind == "list":
            p.rpush(key, *chunk)
        elif kind == "set":
            p.sadd(key, *chunk)
        elif kind == "hash":
            p.hset(key, mapping={m: "v" for m in chunk})
        else:
            p.zadd(key, {m: j for j, m in enumerate(chunk)})
    p.execute()


@pytest.mark.parametrize("kind", ["list", "set", "hash", "zset"])
def test_big_values_freed_in_background(srv, kind):
    c = srv.client()
    keys = [keys_on(s, "big" + kind)[0] for s in range(NSHARDS)]
    before = freed(c)
    for k in keys:
        fill(c, k, kind)
    c.delete(keys[0])                 # DEL
    if len(keys) > 1:
        c.unlink(keys[1])             # UNLINK
    wait_freed(c, before + min(2, len(keys)))
    assert c.exists(*keys) == 0
    # overwrite and expiry
    fill(c, keys[0], kind)
    c.set(keys[0], "now a string")
    fill(c, "exp" + kind, kind)
    c.pexpire("exp" + kind, 1)
    time.sleep(0.01)
    assert c.exists("exp" + kind) == 0
    wait_freed(c, before + min(2, len(keys)) + 2)
    assert c.get(keys[0]) == b"now a string"
    c.close()


def test_small_values_freed_inline(srv):
    c = srv.client()
    before = freed(c)
    c.rpush("small", "a", "b")
    c.sadd("smallset", "1", "2")
    c.delete("small", "smallset")
    time.sleep(0.05)
    assert freed(c) == before
    c.close()


def test_flush_async(srv):
    c = srv.client()
    before = freed(c)
    for s in range(NSHARDS):
        for k in keys_on(s, "fa", 20):
            c.set(k, "v")
        fill(c, keys_on(s, "fbig")[0], "list")
    assert c.flushall(asynchronous=True)
    assert c.dbsize() == 0
    wait_freed(c, before + NSHARDS)   # one table set per shard (and its big list)
    for s in range(NSHARDS):
        c.set(keys_on(s, "fb")[0], "x")
    assert c.flushdb(asynchronous=True)
    assert c.dbsize() == 0
    c.close()
