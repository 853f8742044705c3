"""ACL (docs/security.md): users, ACL SETUSER's rules and selectors,
GETUSER / LIST / USERS / CAT / DRYRUN / LOG / SAVE / LOAD / GENPASS /
WHOAMI / DELUSER, AUTH as a user, NOPERM, the `user` directives and the
aclfile, all compared with a real redis-server 7.0 started the same way.

Redis describes a user's commands from its command dictionary, whose order
is random per process; the category part of a description is
deterministic, the single-command tail is compared as a set
(norm_rules)."""
import hashlib
import random

import pytest

from conftest import start_pair, start_redis, start_tessera
from tessera_testlib import Diff, Wire, parse, two_shard_keys

CATEGORIES = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog",
              "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection",
              "transaction", "scripting"]


def norm_rules(s):
    """A rule list with each run of single-command rules sorted."""
    out, run = [], []

    def flush():
        out.extend(sorted(run))
        run.clear()

    for t in s.split(b" "):
        single = t[:1] in (b"+", b"-") and t[1:2] != b"@"
        if single and t.endswith(b")"):
            run.append(t[:-1])
            flush()
            out.append(b")")
        elif single:
            run.append(t)
        else:
            flush()
            out.append(t)
    flush()
    return b" ".join(out)


def norm_getuser(v):
    if not isinstance(v, list):
        return v
    out = []
    for i in range(0, len(v), 2):
        k, val = v[i], v[i + 1]
        if k == b"commands":
            val = norm_rules(val)
        elif k == b"selectors":
            val = [norm_getuser(s) for s in val]
        out += [k, val]
    return out


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    dirs = [tmp_path_factory.mktemp("ts"), tmp_path_factory.mktemp("rs")]
    for x in dirs:
        (x / "users.acl").write_text("")
    ts = start_tessera(dirs[0], "--aclfile", "users.acl")
    rs = start_redis(dirs[1], "--aclfile", "users.acl")
    if rs is None:
        ts.stop()
        pytest.skip("redis-server not installed")
    yield ts, rs
    assert ts.stop() == 0
    rs.stop()


@pytest.fixture
def d(pair):
    """A Diff of admin connections, after both servers were reset: no users
    but the default one (ACL LOAD of an empty file), empty log, no keys."""
    ts, rs = pair
    for srv in pair:
        (srv.workdir / "users.acl").write_text("")
        w = Wire.tcp(srv.port)
        assert w.cmd("ACL", "LOAD") == b"+OK\r\n"
        assert w.cmd("ACL", "LOG", "RESET") == b"+OK\r\n"
        assert w.cmd("FLUSHALL") == b"+OK\r\n"
        w.close()
    diff = Diff(Wire.tcp(ts.port), Wire.tcp(rs.port))
    yield diff
    diff.a.close()
    diff.b.close()


def as_user(pair, user, password="pw"):
    """A Diff of connections authenticated as user on both servers."""
    ts, rs = pair
    diff = Diff(Wire.tcp(ts.port), Wire.tcp(rs.port))
    diff("AUTH", user, password)
    return diff


def check(u, call):
    """One call on both servers: replies equal; for KEYS as sets, for SCAN
    and RANDOMKEY (whose keys and cursors may differ) the same error or
    the same kind of reply."""
    x, y = u.both(*call)
    if x.startswith(b"-") or y.startswith(b"-"):
        assert x == y, (call, x, y)
    elif call[0] == "keys":
        assert sorted(parse(x)) == sorted(parse(y)), (call, x, y)
    elif call[0] in ("scan", "randomkey"):
        assert x[:1] == y[:1], (call, x, y)
    else:
        assert x == y, (call, x, y)


def same_getuser(d, name):
    x, y = d.both("ACL", "GETUSER", name)
    assert norm_getuser(parse(x)) == norm_getuser(parse(y)), (name, x, y)


def same_list(d):
    x, y = d.both("ACL", "LIST")
    assert [norm_rules(l) for l in parse(x)] == [norm_rules(l) for l in parse(y)], (x, y)


def test_default_user_and_introspection(d):
    d("ACL", "USERS")
    d("ACL", "LIST")
    same_getuser(d, "default")
    d("ACL", "GETUSER", "nobody")
    d("ACL", "WHOAMI")
    d("ACL", "CAT", "nosuch")
    d("ACL", "CAT", "a", "b")
    d("ACL")
    d("ACL", "NOSUCH")
    d("ACL", "HELP")
    d("ACL", "GETUSER")
    d("ACL", "DRYRUN", "default")
    d("ACL", "DRYRUN", "nobody", "get", "k")
    d("ACL", "DRYRUN", "default", "nosuchcmd")
    d("ACL", "DRYRUN", "default", "get")
    d("ACL", "DRYRUN", "default", "get", "k")
    d("ACL", "DELUSER", "default")
    d("ACL", "DELUSER", "nobody", "default")
    d("ACL", "DELUSER", "nobody")
    x, y = d.both("ACL", "CAT")
    assert parse(x) == parse(y) == [c.encode() for c in CATEGORIES]
    for cat in CATEGORIES:
        d.unordered("ACL", "CAT", cat)
        d.unordered("ACL", "CAT", cat.upper())


def test_genpass(d):
    for args in ([], ["1"], ["4"], ["5"], ["255"], ["4096"]):
        x, y = d.both("ACL", "GENPASS", *args)
        px, py = parse(x), parse(y)
        assert len(px) == len(py) and all(c in b"0123456789abcdef" for c in px), (args, x, y)
    assert parse(d.a.cmd("ACL", "GENPASS")) != parse(d.a.cmd("ACL", "GENPASS"))
    for bad in ("0", "-1", "4097", "x", "1.5"):
        d("ACL", "GENPASS", bad)
    d("ACL", "GENPASS", "1", "2")


RULE_ERRORS = [
    ["bad"], ["~a b"], ["%X~k"], ["%R"], ["%RR~k"], ["+nosuch"], ["-nosuch"], ["+@nosuch"], ["-@nosuch"],
    ["+config|nosuch"], ["+config|get|x"], ["+get|"], ["~*", "~k"], ["allkeys", "%R~k"], ["&*", "&c"],
    ["allchannels", "&x"], ["<nopw"], ["#abc"], ["!abc"], ["#" + "A" * 64], ["(~k +get", "+set"],
    ["(~k", "bad)"], ["(bad)"], ["(", ")"], ["on", "(+get", "(", "x)"], ["+acl|nosuch|x"], ["-config|"],
]


@pytest.mark.parametrize("rules", RULE_ERRORS, ids=lambda r: " ".join(r))
def test_setuser_errors_match_redis(d, rules):
    d("ACL", "SETUSER", "u1", *rules)
    d("ACL", "USERS")      # nothing was created by a failing SETUSER
    d("ACL", "SETUSER", "u1", "on")
    d("ACL", "SETUSER", "u1", *rules)
    same_getuser(d, "u1")  # nor changed


def test_setuser_bad_names(d):
    d("ACL", "SETUSER", "a b")
    d("ACL", "SETUSER", "a\x00b")
    d("ACL", "SETUSER", "a\tb", "on")


SETUSER_CASES = [
    [],
    ["on", ">pw", "~*", "+@all"],
    ["on", "nopass", "allkeys", "allchannels", "allcommands"],
    ["on", ">pw", "~foo*", "%R~r*", "%W~w*", "%RW~x*", "%R~x*", "+@string", "-set", "+@hash"],
    ["on", ">a", ">b", "<a", ">c", "#" + hashlib.sha256(b"d").hexdigest(), "!" + hashlib.sha256(b"c").hexdigest()],
    ["+@all", "-@dangerous", "-@admin", "+config|get", "-debug"],
    ["-@all", "+@read", "+@write", "-@keyspace", "+del"],
    ["+@all", "-@all", "+select|0", "+select|1", "+select|1"],
    ["+@all", "-select", "+select|0"],
    ["+client|kill", "+client|list", "+config"],
    ["+config", "-config|set"],
    ["nocommands", "+@sortedset", "+@list", "+@set", "-@slow"],
    ["allcommands", "-@fast"],
    ["+@geo", "+@bitmap", "+@hyperloglog", "+@stream", "+@pubsub", "+@scripting", "+@transaction"],
    ["&chan*", "&other", "resetchannels", "&again"],
    ["(~k* +get)", "(%R~r* +@read)", "on", "nopass"],
    ["(~k*", "+get", "+set)", "~z*"],
    ["(~k* +get)", "clearselectors", "(~j* +set)"],
    ["reset"],
    ["on", "skip-sanitize-payload"],
    ["sanitize-payload", "off"],
    ["nopass", "resetpass", ">x", "nopass"],
    ["~a*", "allkeys", "resetkeys", "~b*"],
    ["+@connection", "-@connection", "+@all", "-@slow", "+@fast", "-@keyspace"],
    ["", "on", ""],
    ["ON", "NOPASS", "ALLKEYS", "+GET", "+@READ"],
]


@pytest.mark.parametrize("rules", SETUSER_CASES, ids=lambda r: " ".join(r)[:60] or "empty")
def test_setuser_getuser_list_match_redis(d, rules):
    d("ACL", "SETUSER", "alice", *rules)
    same_getuser(d, "alice")
    same_list(d)
    d("ACL", "SETUSER", "alice", "on", "+ping")   # changes keep earlier rules
    same_getuser(d, "alice")
    d("ACL", "USERS")


DRYRUN_CALLS = [
    ["get", "k1"], ["get", "r1"], ["get", "w1"], ["get", "x1"], ["set", "k1", "v"], ["set", "r1", "v"],
    ["set", "w1", "v"], ["set", "x1", "v"], ["append", "w1", "v"], ["exists", "r1"], ["exists", "z"],
    ["del", "w1"], ["mget", "k1", "r1", "z"], ["mset", "w1", "1", "k1", "2"], ["copy", "r1", "w2"],
    ["copy", "w1", "r2"], ["rename", "w1", "w2"], ["lmove", "r1", "w1", "left", "left"], ["ping"],
    ["config", "get", "maxclients"], ["config", "set", "maxclients", "10"], ["select", "0"], ["select", "1"],
    ["client", "kill", "id", "1"], ["client", "list"], ["flushall"], ["keys", "*"], ["dbsize"],
    ["set", "k1", "v", "get"], ["getdel", "r1"], ["zunionstore", "w1", "2", "r1", "k1"],
    ["sintercard", "2", "r1", "x1"], ["xread", "streams", "r1", "0"], ["object", "encoding", "r1"],
    ["auth", "x"], ["hello"], ["acl", "whoami"], ["acl", "setuser", "x"],
]


def test_dryrun_matrix(d):
    for rules in SETUSER_CASES:
        d("ACL", "SETUSER", "bob", "reset", *rules)
        for call in DRYRUN_CALLS:
            d("ACL", "DRYRUN", "bob", *call)


def representative_calls():
    a, b = two_shard_keys("m")
    return [
        ["set", a, "1"], ["get", a], ["append", a, "x"], ["incr", "n"], ["mset", a, "1", b, "2"], ["mget", a, b],
        ["exists", a, b], ["type", a], ["expire", a, "100"], ["persist", a], ["rename", a, "c"],
        ["del", "c", b], ["lpush", "l", "a"], ["lrange", "l", "0", "-1"], ["blpop", "l", "0.01"],
        ["sadd", "s", "a"], ["smembers", "s"], ["zadd", "z", "1", "a"], ["zrange", "z", "0", "-1"],
        ["hset", "h", "f", "v"], ["hget", "h", "f"], ["xlen", "x"], ["keys", "*"], ["dbsize"], ["select", "0"], ["ping"], ["echo", "e"],
        ["client", "getname"], ["config", "get", "maxclients"], ["object", "encoding", "l"],
        ["flushdb"], ["acl", "whoami"], ["acl", "users"], ["acl", "deluser", "nobody"],
    ]


@pytest.mark.parametrize("cat", CATEGORIES)
def test_category_matrix(d, pair, cat):
    d("ACL", "SETUSER", "u_" + cat, "on", ">pw", "~*", "&*", "+@" + cat)
    u = as_user(pair, "u_" + cat)
    for call in representative_calls():
        check(u, call)
    d("ACL", "SETUSER", "v_" + cat, "on", ">pw", "~*", "&*", "+@all", "-@" + cat)
    v = as_user(pair, "v_" + cat)
    for call in representative_calls():
        check(v, call)


def test_key_pattern_matrix(d, pair):
    d("ACL", "SETUSER", "keys", "on", ">pw", "+@all", "~a*", "%R~r*", "%W~w*", "%RW~b*")
    d("MSET", "a1", "1", "r1", "2", "w1", "3", "b1", "4", "z1", "5")
    d("RPUSH", "ra", "x", "y")
    u = as_user(pair, "keys")
    for call in [
        ["get", "a1"], ["get", "r1"], ["get", "w1"], ["get", "b1"], ["get", "z1"],
        ["set", "a1", "x"], ["set", "r1", "x"], ["set", "w1", "x"], ["set", "b1", "x"], ["set", "z1", "x"],
        ["append", "w1", "x"], ["exists", "r1", "w1", "z1"], ["strlen", "w1"], ["type", "w1"],
        ["del", "w1"], ["del", "r1"], ["getdel", "w1"], ["mget", "a1", "r1"], ["mget", "a1", "w1"],
        ["mset", "a2", "1", "w2", "2"], ["mset", "a2", "1", "r2", "2"], ["copy", "r1", "w3"],
        ["copy", "r1", "r3"], ["rename", "a1", "w4"], ["rename", "b1", "b2"], ["lmove", "ra", "wa", "left", "left"],
        ["lmove", "ra", "ra", "left", "left"], ["sinterstore", "w5", "r1", "a1"], ["expire", "r1", "10"],
        ["ttl", "w1"], ["ttl", "r1"], ["set", "w6", "v", "get"], ["set", "b3", "v", "get"],
        ["object", "encoding", "w1"], ["dump", "w1"], ["keys", "*"], ["scan", "0"], ["randomkey"],
    ]:
        check(u, call)
    d.unordered("KEYS", "*")
    log_x, log_y = d.both("ACL", "LOG")
    assert strip_log(parse(log_x)) == strip_log(parse(log_y))


def strip_log(entries):
    """ACL LOG entries without their age; client-info reduced to the fields
    that do not depend on the connection (cmd, user, db)."""
    out = []
    for e in entries:
        m = dict(zip(e[0::2], e[1::2]))
        assert float(m.pop(b"age-seconds")) >= 0
        info = dict(f.split(b"=", 1) for f in m.pop(b"client-info").split(b" "))
        m[b"info"] = (info[b"cmd"], info[b"user"], info[b"db"])
        out.append(sorted(m.items()))
    return out


def test_log_entries_and_grouping(d, pair):
    d("ACL", "SETUSER", "lg", "on", ">pw", "~k*", "+get", "+set")
    u = as_user(pair, "lg")
    for _ in range(3):
        u("GET", "nope")          # grouped into one entry, count 3
    u("DEL", "k1")
    u("SET", "z", "1")
    u("GET", "nope")              # the key entry again: count 4, moved to the front
    d("AUTH", "lg", "wrong")
    d("AUTH", "ghost", "x")
    d("HELLO", "2", "AUTH", "lg", "wrong")
    x, y = d.both("ACL", "LOG")
    assert strip_log(parse(x)) == strip_log(parse(y))
    x, y = d.both("ACL", "LOG", "2")
    assert strip_log(parse(x)) == strip_log(parse(y))
    d("ACL", "LOG", "0")
    d("ACL", "LOG", "-5")
    d("ACL", "LOG", "x")
    d("ACL", "LOG", "1", "2")
    d("CONFIG", "SET", "acllog-max-len", "2")
    u("GET", "other")
    x, y = d.both("ACL", "LOG")
    assert strip_log(parse(x)) == strip_log(parse(y))
    assert len(parse(x)) == 2
    d("CONFIG", "SET", "acllog-max-len", "128")
    d("ACL", "LOG", "RESET")
    d("ACL", "LOG")


def test_auth_as_users(d, pair):
    d("ACL", "SETUSER", "carol", "on", ">pw1", ">pw2", "~*", "+@all")
    d("ACL", "SETUSER", "dave", "off", ">pw", "~*", "+@all")
    d("ACL", "SETUSER", "erin", "on", "nopass", "~*", "+@all")
    for args in (["carol", "pw1"], ["carol", "pw2"], ["carol", "bad"], ["dave", "pw"], ["erin", "any"],
                 ["Carol", "pw1"], ["ghost", "pw"]):
        d("AUTH", *args)
        d("ACL", "WHOAMI")
    x, y = d.both("HELLO", "3", "AUTH", "carol", "pw1")
    d("ACL", "WHOAMI")
    x, y = d.both("HELLO", "2")
    assert x.split(b"id\r\n")[0] == y.split(b"id\r\n")[0]
    d("CLIENT", "KILL", "USER", "ghost")
    # The default user's password: AUTH <password> only once it has one.
    d("AUTH", "pw")
    d("ACL", "SETUSER", "default", "resetpass", ">pw")
    fresh = Diff(Wire.tcp(pair[0].port), Wire.tcp(pair[1].port))
    fresh("PING")
    fresh("AUTH", "pw")
    fresh("ACL", "WHOAMI")
    d("ACL", "SETUSER", "default", "nopass")
    Diff(Wire.tcp(pair[0].port), Wire.tcp(pair[1].port))("PING")


def test_requirepass_is_the_default_users_password(d, pair):
    d("CONFIG", "SET", "requirepass", "secret")
    same_getuser(d, "default")
    d("ACL", "LIST")
    fresh = Diff(Wire.tcp(pair[0].port), Wire.tcp(pair[1].port))
    fresh("GET", "k")
    fresh("AUTH", "default", "secret")
    d("ACL", "SETUSER", "default", ">second")
    d("CONFIG", "GET", "requirepass")
    d("CONFIG", "SET", "requirepass", "")
    same_getuser(d, "default")
    Diff(Wire.tcp(pair[0].port), Wire.tcp(pair[1].port))("GET", "k")


def test_changes_apply_to_authenticated_connections(d, pair):
    d("ACL", "SETUSER", "frank", "on", ">pw", "~*", "+@all")
    u = as_user(pair, "frank")
    u("SET", "k", "v")
    d("ACL", "SETUSER", "frank", "-get", "resetkeys", "~k")
    u("GET", "k")
    u("SET", "k", "w")
    u("SET", "other", "w")
    d("ACL", "SETUSER", "frank", "off", "resetpass")
    u("SET", "k", "x")          # off and no password: the connection stays, as in Redis 7.0
    u("ACL", "WHOAMI")
    Diff(Wire.tcp(pair[0].port), Wire.tcp(pair[1].port))("AUTH", "frank", "pw")


def test_deluser_disconnects_its_connections(d, pair):
    d("ACL", "SETUSER", "gina", "on", ">pw", "~*", "+@all")
    conns = [as_user(pair, "gina") for _ in range(4)]   # spread over the workers
    other = Diff(Wire.tcp(pair[0].port), Wire.tcp(pair[1].port))
    d("ACL", "DELUSER", "gina", "ghost")
    for c in conns:
        assert c.a.closed() and c.b.closed()
    other("PING")
    # Deleting oneself: the reply comes, then the connection closes.
    d("ACL", "SETUSER", "hank", "on", ">pw", "~*", "+@all")
    me = as_user(pair, "hank")
    for w in (me.a, me.b):
        w.send(b"*3\r\n$3\r\nACL\r\n$7\r\nDELUSER\r\n$4\r\nhank\r\n*1\r\n$4\r\nPING\r\n")
        assert w.reply() == b":1\r\n"
        assert w.closed()


def test_client_list_and_kill_by_user(d, pair):
    d("ACL", "SETUSER", "ivy", "on", ">pw", "~*", "+@all")
    conns = [as_user(pair, "ivy") for _ in range(3)]
    for srv, w in zip(pair, (d.a, d.b)):
        listing = parse(w.cmd("CLIENT", "LIST"))
        assert listing.count(b"user=ivy") == 3 and b"user=default" in listing
    d("CLIENT", "KILL", "USER", "ivy")
    d("CLIENT", "KILL", "USER", "nobody")
    for c in conns:
        assert c.a.closed() and c.b.closed()


def test_acl_change_is_visible_everywhere_once_replied(d, pair):
    ts, _ = pair
    d("ACL", "SETUSER", "jack", "on", ">pw", "~*", "+@all")
    users = [Wire.tcp(ts.port) for _ in range(8)]
    for w in users:
        assert w.cmd("AUTH", "jack", "pw") == b"+OK\r\n"
    for i in range(30):
        allow = i % 2 == 0
        assert d.a.cmd("ACL", "SETUSER", "jack", "+get" if allow else "-get") == b"+OK\r\n"
        for w in users:
            got = w.cmd("GET", "k")
            assert got.startswith(b"$") if allow else got.startswith(b"-NOPERM"), (i, got)


def test_save_and_load(d, pair):
    d("ACL", "SETUSER", "kim", "on", ">pw", "~k*", "&c", "+@read", "(~x +set)")
    d("ACL", "SETUSER", "lee", "off", "nopass", "allkeys", "+@all", "-@dangerous")
    d("ACL", "SAVE")
    texts = [(srv.workdir / "users.acl").read_text().splitlines() for srv in pair]
    assert [norm_rules(l.encode()) for l in texts[0]] == [norm_rules(l.encode()) for l in texts[1]]
    u = as_user(pair, "kim")
    d("ACL", "SETUSER", "mia", "on")
    d("ACL", "LOAD")          # from the file: mia is gone, kim's connection closed (a fresh user)
    d("ACL", "USERS")
    assert u.a.closed() and u.b.closed()
    same_list(d)


ACLFILE_ERRORS = [
    "user", "usr alice on", "user a\tb on", "user alice on\nuser alice off",
    "user alice bad", "user alice +nosuch +@nosuch", "user alice ~* ~k bad", "user alice (~k",
    "user alice on\n\n   \nuser bob +get|x +config|get|y",
]


@pytest.mark.parametrize("text", ACLFILE_ERRORS)
def test_load_errors_match_redis(d, pair, text):
    d("ACL", "SETUSER", "keep", "on")
    for srv in pair:
        (srv.workdir / "users.acl").write_text(text + "\n")
    d("ACL", "LOAD")
    d("ACL", "USERS")     # unchanged


def test_load_keeps_default_connections(d, pair):
    for srv in pair:
        (srv.workdir / "users.acl").write_text("user default on nopass ~* &* +@all -flushall\nuser nina on >pw\n")
    other = Diff(Wire.tcp(pair[0].port), Wire.tcp(pair[1].port))
    d("ACL", "LOAD")
    other("FLUSHALL")
    other("ACL", "WHOAMI")
    same_list(d)
    for srv in pair:
        (srv.workdir / "users.acl").write_text("user nina on >pw\n")
    d("ACL", "LOAD")
    same_getuser(d, "default")   # a file without default: Redis's default user


def test_save_load_without_aclfile(tmp_path):
    ts, rs = start_pair(tmp_path)
    try:
        dd = Diff(Wire.tcp(ts.port), Wire.tcp(rs.port))
        dd("ACL", "SAVE")
        dd("ACL", "LOAD")
        dd("CONFIG", "GET", "aclfile")
        dd("CONFIG", "SET", "aclfile", "x")
        x, y = dd.both("CONFIG", "GET", "acl*")   # a glob: in table order, Redis in dict order
        px, py = parse(x), parse(y)
        assert dict(zip(px[0::2], px[1::2])) == dict(zip(py[0::2], py[1::2]))
    finally:
        assert ts.stop() == 0
        rs.stop()


def test_user_directives_at_startup(tmp_path):
    args = ["--user", "ann", "on", ">pw", "~a*", "+@all", "--user", "default", "on", "nopass", "~*", "+@read",
            "--user", "bo", "(~b*", "+get)", "on", "nopass"]
    ts, rs = start_pair(tmp_path, *args)
    try:
        dd = Diff(Wire.tcp(ts.port), Wire.tcp(rs.port))
        dd("ACL", "USERS")
        for name in ("ann", "default", "bo"):
            same_getuser(dd, name)
        dd("SET", "k", "v")
        dd("AUTH", "ann", "pw")
        dd("SET", "a1", "v")
    finally:
        assert ts.stop() == 0
        rs.stop()


@pytest.mark.parametrize("args", [
    ["--user", "x", "bad"], ["--user", "x", "on", "--user", "x", "off"], ["--user", "x", "(~k"],
    ["--user", "x", "+nosuch"], ["--aclfile", "missing.acl"], ["--aclfile", "u.acl", "--user", "x", "on"],
], ids=lambda a: " ".join(a))
def test_bad_users_stop_startup(tmp_path, args):
    import subprocess
    from conftest import tessera_bin
    proc = subprocess.run([tessera_bin(), "--port", "0", "--dir", str(tmp_path)] + args, cwd=str(tmp_path),
                          capture_output=True, timeout=20)
    assert proc.returncode == 1, proc


def random_rules(rng):
    vocab = [
        "on", "off", "nopass", "resetpass", "reset", ">pw1", ">pw2", "<pw1", "<pw2",
        "#" + hashlib.sha256(b"pw3").hexdigest(), "!" + hashlib.sha256(b"pw3").hexdigest(),
        "sanitize-payload", "skip-sanitize-payload", "~*", "~foo*", "%R~r*", "%W~w*", "%RW~x*", "%R~x*",
        "allkeys", "resetkeys", "&*", "&ch*", "allchannels", "resetchannels", "+@all", "-@all", "allcommands",
        "nocommands", "+get", "-get", "+set", "-set", "+config|get", "-config|set", "+config", "-config",
        "+select|0", "+select|2", "+client|kill", "-client", "+debug", "+nosuch", "-@nosuch", "+config|get|x",
        "+get|", "+acl|setuser", "-acl", "(~x* +get)", "(", "+set)", "(%R~q* +@read)", "clearselectors", "",
        "~a b", "%Q~k",
    ] + ["+@" + c for c in CATEGORIES] + ["-@" + c for c in CATEGORIES]
    return [rng.choice(vocab) for _ in range(rng.randint(1, 8))]


def test_fuzz_setuser_getuser_dryrun(d):
    rng = random.Random(20261207)
    for i in range(250):
        name = "fz%d" % (i % 7)
        rules = random_rules(rng)
        d("ACL", "SETUSER", name, *rules)
        same_getuser(d, name)
        for call in rng.sample(DRYRUN_CALLS, 6):
            d("ACL", "DRYRUN", name, *call)
    same_list(d)


def test_pubsub_default_allchannels(d):
    d("CONFIG", "SET", "acl-pubsub-default", "allchannels")
    d("ACL", "SETUSER", "pd", "on", "(+get)")
    same_getuser(d, "pd")
    d("ACL", "SETUSER", "pd2", "reset")
    same_getuser(d, "pd2")
    d("CONFIG", "SET", "acl-pubsub-default", "resetchannels")
    d("ACL", "SETUSER", "pd3", "on")
    same_getuser(d, "pd3")
    d("CONFIG", "GET", "acl-pubsub-default")


def test_aof_replay_is_not_refused_by_the_acl(tmp_path):
    """The AOF replays as the server itself, whatever the default user may do."""
    ts = start_tessera(tmp_path, "--appendonly", "yes", "--appendfsync", "always")
    w = Wire.tcp(ts.port)
    assert w.cmd("SET", "k", "v") == b"+OK\r\n"
    assert w.cmd("FLUSHALL") == b"+OK\r\n"
    assert w.cmd("SET", "k2", "v2") == b"+OK\r\n"
    w.close()
    assert ts.stop() == 0
    ts = start_tessera(tmp_path, "--appendonly", "yes", "--user", "default", "on", "nopass", "~*", "+get", "+ping")
    try:
        w = Wire.tcp(ts.port)
        assert w.cmd("GET", "k2") == b"$2\r\nv2\r\n"
        assert w.cmd("GET", "k") == b"$-1\r\n"
        assert w.cmd("SET", "k", "v").startswith(b"-NOPERM")
    finally:
        assert ts.stop() == 0


def test_sort_patterns_need_access_to_every_key(d, pair):
    d("RPUSH", "sl", "2", "1", "3")
    d("MSET", "w_1", "3", "w_2", "2", "w_3", "1", "o_1", "a", "o_2", "b", "o_3", "c")
    d("ACL", "SETUSER", "some", "on", ">pw", "+@all", "~s*", "~w_*", "~o_*")
    d("ACL", "SETUSER", "readall", "on", ">pw", "+@all", "%R~*", "~s*")
    d("ACL", "SETUSER", "sel", "on", ">pw", "+@all", "~s*", "(+sort ~*)")
    calls = [["sort", "sl", "by", "w_*"], ["sort", "sl", "get", "#"], ["sort", "sl", "get", "o_*"],
             ["sort", "sl", "by", "nosort"], ["sort", "sl", "by", "w_1"], ["sort", "sl", "limit", "x", "1", "by", "w_*"],
             ["sort", "sl", "alpha", "desc", "get", "#"], ["sort", "sl", "bogus", "get", "#"],
             ["sort_ro", "sl", "by", "w_*"], ["sort_ro", "sl", "store", "sx", "get", "#"],
             ["sort", "sl", "by", "w_*", "get", "o_*", "store", "sdst"], ["lrange", "sdst", "0", "-1"]]
    for name in ("some", "readall", "sel"):
        u = as_user(pair, name)
        for call in calls:
            check(u, call)
    log_x, log_y = d.both("ACL", "LOG")
    assert strip_log(parse(log_x)) == strip_log(parse(log_y))
