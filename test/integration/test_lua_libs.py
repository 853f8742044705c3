"""The libraries Redis 7.0 gives scripts besides redis.*: cmsgpack, struct,
cjson and bit. Each case is a Lua expression run as
`EVAL "<helpers> return <expr>" 0` on Tessera and on Redis; the raw reply
bytes must be equal (the `d` Diff fixture).

cmsgpack and struct are our own rewrites (src/script/lua_cmsgpack.c,
src/script/lua_struct.c, unit-tested against Redis's outputs in
test/unit/lua_libs.c); cjson and bit are Debian's lua-cjson 2.1.0 and
lua-bitop 1.0.2 linked in, which these cases check against the copies
Redis bundles. Binary results go through hx (lowercase hex), big ones
through redis.sha1hex; errors are caught with pe (pcall: "ok:<value>" or
"err:<message>"), and a few are left to raise so the whole error reply is
compared. Expressions that change cjson's settings restore them before
they return: a script state (and its cjson) outlives one EVAL.

Until Tessera has EVAL, the module skips itself (it asks Tessera for
`EVAL "return 1" 0` first).
"""
import pytest
import redis

HELPERS = (
    'local function hx(s) return (string.gsub(s, ".", function(c) '
    'return string.format("%02x", string.byte(c)) end)) end '
    'local function uh(h) return (string.gsub(h, "..", function(x) '
    'return string.char(tonumber(x, 16)) end)) end '
    'local function pe(f) local ok, e = pcall(f) if ok then return "ok:" .. tostring(e) end '
    'return "err:" .. tostring(e) end '
    'local function seq(n) local t = {} for i = 1, n do t[i] = i end return t end '
    'local function map(n) local t = {} for i = 1, n do t["k" .. i] = i end return t end '
    'local function nest(n, leaf) local t = leaf for i = 1, n do t = {t} end return t end '
)

CMSGPACK = [
    # integers: each size class and its edges
    'hx(cmsgpack.pack(0, 1, 127, 128, 255, 256, 65535, 65536))',
    'hx(cmsgpack.pack(4294967295, 4294967296, 2^53, 2^63 - 1024))',
    'hx(cmsgpack.pack(-1, -32, -33, -128, -129, -32768, -32769))',
    'hx(cmsgpack.pack(-2147483648, -2147483649, -2^53, -2^63))',
    # float 32 when exact as a float, else float 64; 2^63 and beyond are floats
    'hx(cmsgpack.pack(0.5, 1.5, 0.1, -0.1, 3.14, 2^63, 2^64, -2^63 - 2048))',
    'hx(cmsgpack.pack(math.huge, -math.huge, 0/0, 1e300, 3.4028234663852886e38, 3.4028235677973366e38))',
    'hx(cmsgpack.pack(2^-149, 2^-150, 16777217.5, 1/3))',
    'hx(cmsgpack.pack(-0.0))',
    # strings of each length class
    'hx(cmsgpack.pack("", "a", "\\0\\255", string.rep("x", 31), string.rep("y", 32)))',
    'redis.sha1hex(cmsgpack.pack(string.rep("z", 255)))',
    'redis.sha1hex(cmsgpack.pack(string.rep("z", 256)))',
    'redis.sha1hex(cmsgpack.pack(string.rep("w", 65535)))',
    'redis.sha1hex(cmsgpack.pack(string.rep("v", 65536)))',
    # nil, booleans, types msgpack does not have
    'hx(cmsgpack.pack(true, false, nil, string.len, coroutine.create(function() end)))',
    # tables: arrays when the keys are 1..n, else maps
    'hx(cmsgpack.pack({}, {1, 2, 3}, {"a", {"b"}, true}, {a = 1}))',
    'hx(cmsgpack.pack({1, 2, nil, 4}, {[1] = 1, [3] = 3}, {[0] = "z"}, {[1.5] = 1}, {[-1] = 1}))',
    'hx(cmsgpack.pack({[2^31 - 1] = 1}, {[2^31] = 1}, {["1"] = 1}, {[true] = false}))',
    'hx(cmsgpack.pack({x = {y = {z = 1}}}, {[{1}] = 2}, {1, 2, x = 3}, {a = 1, b = 2, c = 3}))',
    'hx(cmsgpack.pack(seq(15)))',
    'hx(cmsgpack.pack(seq(16)))',
    'redis.sha1hex(cmsgpack.pack(seq(65535)))',
    'redis.sha1hex(cmsgpack.pack(seq(65536)))',
    'redis.sha1hex(cmsgpack.pack(map(15)))',
    'redis.sha1hex(cmsgpack.pack(map(16)))',
    'redis.sha1hex(cmsgpack.pack(map(65536)))',
    # nesting: a table 16 levels down is packed as nil; cycles end there
    'hx(cmsgpack.pack(nest(15, 1), nest(16, 1), nest(17, 1)))',
    'pe(function() local t = {} t[1] = t t.x = t return hx(cmsgpack.pack(t)) end)',
    # unpack: values come back as Lua values, then as Redis replies
    'cmsgpack.unpack(cmsgpack.pack("hello"))',
    '{cmsgpack.unpack(cmsgpack.pack(1, -2, "x", {1, 2, {3}}, 2^40))}',
    'cmsgpack.unpack(cmsgpack.pack({a = {1, 2}})).a',
    '{cmsgpack.unpack(uh("cf8000000000000000cfffffffffffffffffd3ffffffffffffffff"))}',
    'tostring(cmsgpack.unpack(uh("cb3fb999999999999a"))) .. " " .. tostring(cmsgpack.unpack(uh("ca7f800000")))',
    '{cmsgpack.unpack(uh("9301c003"))}',
    'cmsgpack.unpack(uh("93010203"))',
    'cmsgpack.unpack(uh("dc0003010203"))',
    'cmsgpack.unpack(uh("82a16101a16202")).b',
    'select("#", cmsgpack.unpack(""))',
    'select("#", cmsgpack.unpack(string.rep("\\1", 7998)))',
    'cmsgpack.unpack(1)',
    'pe(function() return #cmsgpack.unpack(string.rep("\\145", 3996) .. "\\1") end)',
    # malformed input
    'pe(function() return cmsgpack.unpack("\\193") end)',
    'pe(function() return cmsgpack.unpack(uh("c40161")) end)',
    'pe(function() return cmsgpack.unpack(uh("cd01")) end)',
    'pe(function() return cmsgpack.unpack(uh("d90561")) end)',
    'pe(function() return cmsgpack.unpack(uh("9201")) end)',
    'pe(function() return cmsgpack.unpack(uh("81c001")) end)',
    'pe(function() return cmsgpack.unpack() end)',
    'pe(function() return cmsgpack.unpack(string.rep("\\145", 4100) .. "\\1") end)',
    'pe(function() return cmsgpack.unpack(string.rep("\\1", 8100)) end)',
    'pe(function() return cmsgpack.pack() end)',
    'pe(function() return cmsgpack.pack(unpack(seq(4001))) end)',
    # unpack_one and unpack_limit: the offset to go on from, -1 at the end
    '{cmsgpack.unpack_one(cmsgpack.pack(1, "ab", 3))}',
    '{cmsgpack.unpack_one(cmsgpack.pack(1, "ab", 3), 1)}',
    '{cmsgpack.unpack_one(cmsgpack.pack(1, "ab", 3), 4)}',
    '{cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3, 4), 2)}',
    '{cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3, 4), 2, 2)}',
    '{cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3, 4), 0)}',
    '{cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3, 4), 0, 1)}',
    'pe(function() local s, o, out = cmsgpack.pack(1, "ab", {3}), 0, {} '
    'while o >= 0 do local v o, v = cmsgpack.unpack_one(s, o) out[#out + 1] = o end '
    'return table.concat(out, ",") end)',
    'pe(function() return cmsgpack.unpack_one("\\1\\2", 3) end)',
    'pe(function() return cmsgpack.unpack_one("\\1\\2", -1) end)',
    'pe(function() return cmsgpack.unpack_limit("\\1\\2", -1) end)',
    'pe(function() return cmsgpack.unpack_one("\\1", "x") end)',
    'pe(function() return cmsgpack.unpack_limit("\\1") end)',
    # the library table
    '{cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION}',
    'pe(function() local o = {} for k in pairs(cmsgpack) do o[#o + 1] = k end return table.concat(o, ",") end)',
]

STRUCT = [
    'hx(struct.pack("b", -1) .. struct.pack("B", 255) .. struct.pack(">h", -2) .. struct.pack("<H", 65535))',
    'hx(struct.pack(">l", -2) .. struct.pack("<L", 1) .. struct.pack(">T", 7) .. struct.pack(">i", 1) .. struct.pack("<I", 4294967295))',
    'hx(struct.pack(">i1i2i3i5i7i8", 1, 2, -3, 2^32, -1, -2))',
    'hx(struct.pack(">i9", -1) .. struct.pack("<i16", -1) .. struct.pack(">I12", 258) .. struct.pack("i0", 5))',
    'hx(struct.pack(">i", 2.7) .. struct.pack(">i", -2.7) .. struct.pack(">i", "12"))',
    'hx(struct.pack(">L", 2^64) .. struct.pack(">L", 0/0) .. struct.pack(">L", -1e30) .. struct.pack(">L", 2^63 + 2048))',
    'hx(struct.pack(">f", 1.5) .. struct.pack("<f", 0.1) .. struct.pack(">f", 1e39) .. struct.pack(">d", 0.1) .. struct.pack("<d", -math.huge))',
    'struct.pack("c5", "hello world") .. "|" .. struct.pack("c0", "whole") .. "|" .. struct.pack("c", "xyz")',
    'hx(struct.pack("s", "abc") .. struct.pack("s", "a\\0b") .. struct.pack("xbx", 1) .. struct.pack("   b  ", 2))',
    'hx(struct.pack("!4 b i", 1, 2) .. struct.pack("!b d", 1, 2) .. struct.pack("!2 b d", 1, 2))',
    'hx(struct.pack("!8 b i3", 1, 2) .. struct.pack("!4 b i5", 1, 2) .. struct.pack("!8 b c3 h", 1, "abc", 2))',
    '{struct.unpack("b", "\\255")}',
    '{struct.unpack(">h", "\\255\\254")}',
    '{struct.unpack("<H", "\\255\\254")}',
    '{struct.unpack(">i", "\\128\\0\\0\\0")}',
    '{struct.unpack(">I", "\\128\\0\\0\\0")}',
    '{struct.unpack("<i3", "\\255\\255\\255")}',
    '{struct.unpack("<i9", string.rep("\\1", 9))}',
    'tostring(struct.unpack(">L", "\\255\\255\\255\\255\\255\\255\\255\\254"))',
    'tostring(struct.unpack(">d", "\\63\\185\\153\\153\\153\\153\\153\\154"))',
    '{struct.unpack("c5", "hello world")}',
    '{struct.unpack("s", "abc\\0def")}',
    '{struct.unpack("Bc0", "\\3abcd")}',
    '{struct.unpack("b", "\\1\\2\\3", 2)}',
    '{struct.unpack("!4 b i", "\\1\\0\\0\\0\\2\\0\\0\\0")}',
    '{struct.unpack(">bhilT", struct.pack(">bhilT", -1, -2, -3, -4, 5))}',
    '{struct.size("b"), struct.size("i"), struct.size("bhilTfd"), struct.size("!b d"), struct.size("!8 b i3"), struct.size("z")}',
    'pe(function() return struct.pack("z") end)',
    'pe(function() return struct.pack("=i", 1) end)',
    'pe(function() return struct.pack("i33", 1) end)',
    'pe(function() return struct.pack("i99999999999", 1) end)',
    'pe(function() return struct.pack("!3 b", 1) end)',
    'pe(function() return struct.pack("i") end)',
    'pe(function() return struct.pack("c5", "ab") end)',
    'pe(function() return struct.unpack("i", "abc") end)',
    'pe(function() return struct.unpack("b", "abc", 0) end)',
    'pe(function() return struct.unpack("s", "abc") end)',
    'pe(function() return struct.unpack("c0", "abc") end)',
    'pe(function() return struct.size("s") end)',
    'pe(function() return struct.size("c0") end)',
    'pe(function() return struct.size("#") end)',
    'pe(function() local o = {} for k in pairs(struct) do o[#o + 1] = k end return table.concat(o, ",") end)',
]

CJSON = [
    'cjson.encode({1, 2, 3})',
    'cjson.encode({a = {b = {c = {1, 2, {d = "e"}}}}})',
    'cjson.encode({})',
    'cjson.encode({{}, {{}}})',
    'cjson.encode({[1] = 1, [2] = 2, [4] = 4})',
    'cjson.encode({[1] = 1, [10] = 2})',
    'pe(function() return cjson.encode({[1] = 1, [11] = 2}) end)',
    'cjson.encode({[2] = 1})',
    'pe(function() return cjson.encode({[0] = 1}) end)',
    'cjson.encode({1, 2, x = 3})',
    'cjson.encode({[1.5] = 1})',
    'pe(function() return cjson.encode({[true] = 1}) end)',
    'cjson.encode(0.1) .. " " .. cjson.encode(1/3) .. " " .. cjson.encode(-2.5) .. " " .. cjson.encode(100)',
    'cjson.encode(1e300) .. " " .. cjson.encode(2^53) .. " " .. cjson.encode(2^63) .. " " .. cjson.encode(-2^31)',
    'cjson.encode(123456789012345678) .. " " .. cjson.encode(12345678901234) .. " " .. cjson.encode(1e-7) .. " " .. cjson.encode(5e-324)',
    'cjson.encode(-0.0)',
    'pe(function() return cjson.encode(math.huge) end)',
    'pe(function() return cjson.encode({1, 0/0}) end)',
    'cjson.encode("a\\"b\\\\c/d\\n\\r\\t\\b\\f\\1\\31 \\127\\128\\255")',
    'cjson.encode("\\0x")',
    'cjson.encode(true) .. cjson.encode(false) .. cjson.encode(nil) .. cjson.encode(cjson.null)',
    'pe(function() return cjson.encode(string.len) end)',
    'pe(function() return cjson.encode() end)',
    'pe(function() return cjson.encode(1, 2) end)',
    'pe(function() local t = {} t[1] = t return cjson.encode(t) end)',
    'pe(function() return #cjson.encode(nest(999, {})) end)',
    'pe(function() return #cjson.encode(nest(1000, {})) end)',
    'cjson.decode("[1,2,3]")',
    'cjson.decode("{\\"a\\":[1,2,{\\"b\\":\\"c\\"}]}").a[3].b',
    'tostring(cjson.decode("0.1")) .. " " .. tostring(cjson.decode("1e5")) .. " " .. tostring(cjson.decode("-0")) '
    '.. " " .. tostring(cjson.decode("123456789012345678901234567890"))',
    'tostring(cjson.decode("null") == cjson.null) .. type(cjson.null)',
    'cjson.decode("\\"\\\\u00e9\\\\u20ac\\\\ud83d\\\\ude00\\\\/\\\\n\\"")',
    'hx(cjson.decode("\\"\\\\u0000\\""))',
    'pe(function() return cjson.decode("{") end)',
    'pe(function() return cjson.decode("[1,]") end)',
    'pe(function() return cjson.decode("") end)',
    'pe(function() return cjson.decode("[1] x") end)',
    'pe(function() return cjson.decode("\\"\\\\ud800\\"") end)',
    'pe(function() return cjson.decode("\\"abc") end)',
    'pe(function() return cjson.decode("{1:2}") end)',
    'pe(function() return cjson.decode(string.rep("[", 1001) .. string.rep("]", 1001)) end)',
    'pe(function() return #cjson.decode(string.rep("[", 1000) .. string.rep("]", 1000)) end)',
    'pe(function() return cjson.decode({}) end)',
    'tostring(cjson.decode("NaN")) .. tostring(cjson.decode("-Infinity")) .. tostring(cjson.decode("0x10")) .. tostring(cjson.decode("1e400"))',
    'pe(function() return cjson.decode("+1") end)',
    'cjson.encode(cjson.decode("{\\"k\\":[1,2.5,\\"x\\",true,null,{}]}"))',
    '{cjson._NAME, cjson._VERSION}',
    'pe(function() local o = {} for k in pairs(cjson) do o[#o + 1] = k end table.sort(o) return table.concat(o, ",") end)',
    'pe(function() return tostring(cjson.encode_keep_buffer()) .. " " .. tostring(cjson.encode_max_depth()) .. " " '
    '.. tostring(cjson.decode_max_depth()) .. " " .. tostring(cjson.encode_number_precision()) .. " " '
    '.. tostring(cjson.encode_invalid_numbers()) .. " " .. tostring(cjson.decode_invalid_numbers()) end)',
    'pe(function() return cjson.encode_number_precision(15) end)',
    'pe(function() cjson.encode_number_precision(3) local r = cjson.encode(1/3) cjson.encode_number_precision(14) return r end)',
    'pe(function() cjson.encode_invalid_numbers(true) local r = cjson.encode({math.huge, -math.huge, 0/0}) '
    'cjson.encode_invalid_numbers(false) return r end)',
    'pe(function() cjson.encode_invalid_numbers("null") local r = cjson.encode({math.huge}) cjson.encode_invalid_numbers(false) return r end)',
    'pe(function() cjson.encode_sparse_array(true) local r = cjson.encode({[1] = 1, [20] = 2}) cjson.encode_sparse_array(false) return r end)',
    'pe(function() cjson.encode_max_depth(2) local ok, r = pcall(cjson.encode, {{{1}}}) cjson.encode_max_depth(1000) return r end)',
    'pe(function() cjson.decode_max_depth(2) local ok, r = pcall(cjson.decode, "[[[1]]]") cjson.decode_max_depth(1000) return r end)',
    'pe(function() cjson.encode_keep_buffer(false) local r = cjson.encode({1}) cjson.encode_keep_buffer(true) return r end)',
    'pe(function() return cjson.encode_keep_buffer("maybe") end)',
    'pe(function() local j = cjson.new() return j.encode({1}) .. tostring(j == cjson) end)',
]

BIT = [
    'bit.band(0xff, 0x0f)', 'bit.band(-1, 0x7fffffff, 0xf0f0)', 'bit.bor(1, 2, 4, 8)', 'bit.bxor(0xff, 0x0f)',
    'bit.bnot(0)', 'bit.bnot(0x7fffffff)', 'bit.lshift(1, 31)', 'bit.lshift(1, 32)', 'bit.lshift(0xff, 36)',
    'bit.rshift(-1, 28)', 'bit.rshift(0x80000000, 31)', 'bit.arshift(-256, 4)', 'bit.arshift(0x80000000, 31)',
    'bit.rol(0x12345678, 8)', 'bit.ror(0x12345678, 8)', 'bit.rol(1, 33)', 'bit.bswap(0x12345678)',
    'bit.tobit(2^32 + 1)', 'bit.tobit(0xffffffff)', 'bit.tobit(-1)', 'tostring(bit.tobit(1.5))', 'tostring(bit.tobit(2.5))',
    'tostring(bit.tobit(2^53))', 'tostring(bit.tobit(1e300))',
    'bit.tohex(255)', 'bit.tohex(-1)', 'bit.tohex(255, 2)', 'bit.tohex(255, -4)', 'bit.tohex(0x12345678, 16)',
    'bit.tohex(-1, -8)', 'bit.tohex(1, 1)', 'bit.band("10", "3")', 'bit.bxor(5)',
    'pe(function() return bit.band("x", 1) end)', 'pe(function() return bit.band() end)',
    'pe(function() return bit.lshift(1) end)', 'pe(function() return bit.tohex({}) end)',
    'pe(function() local o = {} for k in pairs(bit) do o[#o + 1] = k end table.sort(o) return table.concat(o, ",") end)',
]

# Left to raise: the whole error reply (the engine's wrapping included).
RAISE = [
    'cmsgpack.unpack("\\193")',
    'cmsgpack.pack()',
    'struct.pack("z")',
    'struct.unpack("i", "abc")',
    'cjson.decode("{")',
    'cjson.encode({[true] = 1})',
    'bit.bor()',
]


@pytest.fixture(scope="module", autouse=True)
def needs_eval(server):
    c = server.client()
    try:
        c.eval("return 1", 0)
    except redis.ResponseError as e:
        if "unknown command" in str(e):
            pytest.skip("Tessera has no EVAL yet")
        raise
    finally:
        c.close()


def run(d, expr):
    return d("EVAL", HELPERS + "return " + expr, "0")


@pytest.mark.parametrize("expr", CMSGPACK)
def test_cmsgpack(d, expr):
    run(d, expr)


@pytest.mark.parametrize("expr", STRUCT)
def test_struct(d, expr):
    run(d, expr)


@pytest.mark.parametrize("expr", CJSON)
def test_cjson(d, expr):
    run(d, expr)


@pytest.mark.parametrize("expr", BIT)
def test_bit(d, expr):
    run(d, expr)


@pytest.mark.parametrize("expr", RAISE)
def test_errors_raised(d, expr):
    assert run(d, expr).startswith(b"-")


def test_settings_outlive_one_eval(d):
    """cjson's settings belong to the script state, not to one EVAL: a
    change is seen by the next script on the same connection, then put
    back."""
    run(d, 'pe(function() cjson.encode_number_precision(5) return 1 end)')
    run(d, 'cjson.encode(1/3)')
    run(d, 'pe(function() cjson.encode_number_precision(14) return 1 end)')
    run(d, 'cjson.encode(1/3)')


def test_unpack_into_keys(d):
    """Packed data stored in a key and unpacked by a later script (what
    clients do with cmsgpack): the bytes survive the round trip."""
    d("EVAL", "return redis.call('SET', KEYS[1], cmsgpack.pack({1, 'two', {x = 3.5}}))", "1", "packed")
    d("GET", "packed")
    d("EVAL", HELPERS + "local v = cmsgpack.unpack(redis.call('GET', KEYS[1])) "
      "return {v[1], v[2], tostring(v[3].x)}", "1", "packed")
    d("EVAL", "return struct.unpack('>I', redis.call('SET', KEYS[1], struct.pack('>I', 258), 'GET') "
      "or struct.pack('>I', 7))", "1", "s")
    d("EVAL", HELPERS + "return hx(redis.call('GET', KEYS[1]))", "1", "s")
