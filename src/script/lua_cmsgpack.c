/*
 * lua_cmsgpack.c - the `cmsgpack` Lua library of Redis scripts: MessagePack
 * encoding of Lua values and decoding back, behaving as lua-cmsgpack 0.4.0
 * as Redis 7.0 bundles it (deps/lua/src/lua_cmsgpack.c, read for behaviour;
 * this is our own code).
 *
 * Owns: cmsgpack.pack, unpack, unpack_one, unpack_limit and the global
 * table `cmsgpack` (script/lua_libs.h). Thread: the thread that owns the
 * lua_State; nothing here is static and mutable.
 *
 * DESIGN
 *
 * Encoding (pack). Each argument is encoded in turn into one growing byte
 * buffer and the result is their concatenation (Redis packs each into its
 * own string and concatenates them: the same bytes). The choices, which
 * clients of Redis depend on byte for byte:
 *   - a number whose value is an integer in [-2^63, 2^63) is an integer in
 *     the smallest format: positive fixint, uint 8/16/32/64 for the
 *     non-negative, negative fixint, int 8/16/32/64 for the negative;
 *     -0 is the fixint 0;
 *   - any other number is a float 32 when converting it to float and back
 *     gives it again (so the infinities are float 32), else a float 64
 *     (NaN, 0.1, ...);
 *   - a string is fixstr / str 8 / str 16 / str 32 by length (never bin);
 *   - true/false are 0xc3/0xc2; nil, functions, userdata and threads nil;
 *   - a table is an array when its keys are exactly the integers 1..n
 *     (keys must be numbers, integral, 1 <= k <= INT_MAX; the empty table
 *     is the empty array), else a map in lua_next order;
 *   - a table nested 16 deep (the top-level value is level 0) is packed as
 *     nil: that is how Redis survives tables that contain themselves.
 * The buffer is a full userdata in a stack slot of the call, replaced by a
 * twice bigger one when full: memory comes from the state's allocator and
 * the collector reclaims it even when the encoding raises an error (Redis's
 * buffer, taken from the allocator directly, leaks in that case).
 *
 * Decoding (unpack, unpack_one, unpack_limit). A cursor walks the string;
 * each top-level value is pushed on the stack and returned, so unpack
 * returns as many values as the string holds. The formats Redis's copy
 * knows are decoded (nil, booleans, every int and uint, float 32/64, str
 * 8/16/32, array and map of every size); bin, ext, fixext and 0xc1 are
 * "Bad data format in input.", a value cut short is "Missing bytes in
 * input.". uint 64 above 2^63-1 comes back negative (Redis converts it
 * through lua_Integer). Nesting is bounded only by the Lua stack: each
 * level checks for stack room with the messages Redis uses, so a deep or
 * long input fails with Redis's "stack overflow (...)" error, at the same
 * point. A map with a nil or NaN key fails in lua_settable as in Redis.
 * unpack_one and unpack_limit return first the offset at which to go on
 * (-1 once the string is consumed), then the values.
 */
#include "lua_libs.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>

#define LIB_NAME "cmsgpack"
#define LIB_VERSION "lua-cmsgpack 0.4.0"
#define LIB_COPYRIGHT "Copyright (C) 2012, Salvatore Sanfilippo"
#define LIB_DESCRIPTION "MessagePack C implementation for Lua"

/* Redis's LUACMSGPACK_MAX_NESTING: a table at this depth is packed as nil. */
#define NEST_MAX 16

/* ------------------------------------------------------------------------
 * Encoding
 * ------------------------------------------------------------------------ */

typedef struct enc {
    lua_State *L;
    int slot;               /* absolute stack index of the userdata holding p */
    unsigned char *p;       /* the bytes so far; owned by that userdata */
    size_t len, cap;
} enc;

/* Room for n more bytes. A bigger userdata replaces the old one in its slot
 * (the old one becomes garbage), so p is invalid after a call that grows. */
static void enc_room(enc *e, size_t n)
{
    if (e->cap - e->len >= n) return;
    size_t cap = e->cap ? e->cap : 64;
    while (cap - e->len < n) {
        if (cap > SIZE_MAX / 2) luaL_error(e->L, "not enough memory");
        cap *= 2;
    }
    luaL_checkstack(e->L, 1, "in function mp_buf_append");
    unsigned char *np = lua_newuserdata(e->L, cap);
    if (e->len > 0) memcpy(np, e->p, e->len);
    lua_replace(e->L, e->slot);
    e->p = np;
    e->cap = cap;
}

static void put(enc *e, const void *s, size_t n)
{
    enc_room(e, n);
    if (n > 0) memcpy(e->p + e->len, s, n);
    e->len += n;
}

/* A type byte followed by the low `bytes` bytes of v, big-endian. */
static void put_be(enc *e, unsigned char type, uint64_t v, int bytes)
{
    unsigned char b[9];
    b[0] = type;
    for (int i = 0; i < bytes; i++) b[1 + i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    put(e, b, (size_t)bytes + 1);
}

static void put_int(enc *e, int64_t n)
{
    uint64_t u = (uint64_t)n;          /* two's complement bytes of n */
    if (n >= 0) {
        if (n <= 127) put_be(e, (unsigned char)n, 0, 0);          /* positive fixint */
        else if (n <= 0xff) put_be(e, 0xcc, u, 1);
        else if (n <= 0xffff) put_be(e, 0xcd, u, 2);
        else if (n <= 0xffffffffLL) put_be(e, 0xce, u, 4);
        else put_be(e, 0xcf, u, 8);
    } else {
        if (n >= -32) put_be(e, (unsigned char)(u & 0xff), 0, 0); /* negative fixint */
        else if (n >= -128) put_be(e, 0xd0, u, 1);
        else if (n >= -32768) put_be(e, 0xd1, u, 2);
        else if (n >= -2147483648LL) put_be(e, 0xd2, u, 4);
        else put_be(e, 0xd3, u, 8);
    }
}

/* Float 32 when d survives the trip through float (the infinities do, NaN
 * never does), else float 64. The range test keeps the conversion of a
 * double beyond float's range out of the comparison; Redis converts it
 * anyway, gets an infinity, and also ends in float 64. */
static void put_double(enc *e, double d)
{
    int as_float;
    if (isnan(d)) as_float = 0;
    else if (isinf(d)) as_float = 1;
    else as_float = d >= -FLT_MAX && d <= FLT_MAX && (double)(float)d == d;
    if (as_float) {
        float f = (float)d;
        uint32_t bits;
        memcpy(&bits, &f, 4);
        put_be(e, 0xca, bits, 4);
    } else {
        uint64_t bits;
        memcpy(&bits, &d, 8);
        put_be(e, 0xcb, bits, 8);
    }
}

/* A header with a length: the fix form (fix_type | n) when n < fix_limit,
 * else the 8-bit form (when t8 is non-zero), 16-bit or 32-bit form. Like
 * Redis, a length of 2^32 or more keeps its low 32 bits. */
static void put_len(enc *e, size_t n, unsigned char fix_type, size_t fix_limit,
                    unsigned char t8, unsigned char t16, unsigned char t32)
{
    if (n < fix_limit) put_be(e, (unsigned char)(fix_type | n), 0, 0);
    else if (t8 && n <= 0xff) put_be(e, t8, n, 1);
    else if (n <= 0xffff) put_be(e, t16, n, 2);
    else put_be(e, t32, (uint32_t)n, 4);
}

/* Redis's IS_INT64_EQUIVALENT on x86-64: finite, integral and inside
 * int64_t (the cast that Redis compares with is then exact). */
static int is_int64(lua_Number x)
{
    return x >= -0x1p63 && x < 0x1p63 && (lua_Number)(int64_t)x == x;
}

/* The table at the top holds exactly the keys 1..n (Redis's
 * table_is_an_array: every key a number, integral, 1 <= k <= INT_MAX, and
 * the largest equal to the count). */
static int is_sequence(lua_State *L)
{
    int top = lua_gettop(L);
    lua_Number max = 0, count = 0;
    luaL_checkstack(L, 2, "in function table_is_an_array");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        lua_Number k;
        if (lua_type(L, -1) != LUA_TNUMBER || !((k = lua_tonumber(L, -1)) > 0) || k > INT_MAX ||
            (lua_Number)(int)k != k) {
            lua_settop(L, top);
            return 0;
        }
        if (k > max) max = k;
        count++;
    }
    lua_settop(L, top);
    return max == count;
}

static void enc_value(enc *e, int level);

static void enc_table(enc *e, int level)
{
    lua_State *L = e->L;
    if (is_sequence(L)) {
        size_t n = lua_objlen(L, -1);  /* the keys are 1..n: the only border */
        put_len(e, n, 0x90, 16, 0, 0xdc, 0xdd);
        luaL_checkstack(L, 1, "in function mp_encode_lua_table_as_array");
        for (size_t i = 1; i <= n; i++) {
            lua_pushnumber(L, (lua_Number)i);
            lua_gettable(L, -2);
            enc_value(e, level + 1);
        }
        return;
    }
    /* A map: count the pairs first, the header comes before them. */
    size_t n = 0;
    luaL_checkstack(L, 3, "in function mp_encode_lua_table_as_map");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        n++;
    }
    put_len(e, n, 0x80, 16, 0, 0xde, 0xdf);
    lua_pushnil(L);
    while (lua_next(L, -2)) {          /* ... key value */
        lua_pushvalue(L, -2);          /* ... key value key */
        enc_value(e, level + 1);       /* the key (pops the copy) */
        enc_value(e, level + 1);       /* the value (pops it, leaving the key) */
    }
}

/* Encodes the value at the top of the stack and pops it. */
static void enc_value(enc *e, int level)
{
    lua_State *L = e->L;
    int t = lua_type(L, -1);
    if (t == LUA_TTABLE && level == NEST_MAX) t = LUA_TNIL;
    switch (t) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        put_len(e, n, 0xa0, 32, 0xd9, 0xda, 0xdb);
        put(e, s, n);
        break;
    }
    case LUA_TBOOLEAN:
        put_be(e, lua_toboolean(L, -1) ? 0xc3 : 0xc2, 0, 0);
        break;
    case LUA_TNUMBER: {
        lua_Number x = lua_tonumber(L, -1);
        if (is_int64(x)) put_int(e, (int64_t)x);
        else put_double(e, (double)x);
        break;
    }
    case LUA_TTABLE:
        enc_table(e, level);
        break;
    default:
        put_be(e, 0xc0, 0, 0);
        break;
    }
    lua_pop(L, 1);
}

static int mp_pack(lua_State *L)
{
    int nargs = lua_gettop(L);
    if (nargs == 0) return luaL_argerror(L, 0, "MessagePack pack needs input.");
    if (!lua_checkstack(L, nargs)) return luaL_argerror(L, 0, "Too many arguments for MessagePack pack.");
    lua_pushnil(L);                    /* the buffer's slot */
    enc e = {L, nargs + 1, NULL, 0, 0};
    for (int i = 1; i <= nargs; i++) {
        luaL_checkstack(L, 1, "in function mp_check");
        lua_pushvalue(L, i);
        enc_value(&e, 0);
    }
    lua_pushlstring(L, (const char *)e.p, e.len);  /* e.len > 0: every value is a byte or more */
    return 1;
}

/* ------------------------------------------------------------------------
 * Decoding
 * ------------------------------------------------------------------------ */

enum { CUR_OK, CUR_EOF, CUR_BADFMT };

typedef struct cur {
    const unsigned char *p;
    size_t left;
    int err;
} cur;

/* n more bytes are there; else the cursor records EOF. */
static int need(cur *c, size_t n)
{
    if (c->left >= n) return 1;
    c->err = CUR_EOF;
    return 0;
}

static void skip(cur *c, size_t n)
{
    c->p += n;
    c->left -= n;
}

/* The n bytes after the type byte, big-endian (the caller checked need). */
static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 1; i <= n; i++) v = (v << 8) | p[i];
    return v;
}

/* uint64/int64 bits as the int64 they spell in two's complement. */
static int64_t as_signed(uint64_t u)
{
    return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

static void dec_value(lua_State *L, cur *c);

static void dec_array(lua_State *L, cur *c, size_t n)
{
    lua_newtable(L);
    luaL_checkstack(L, 1, "in function mp_decode_to_lua_array");
    for (size_t i = 1; i <= n; i++) {
        lua_pushnumber(L, (lua_Number)i);
        dec_value(L, c);
        if (c->err) return;
        lua_settable(L, -3);
    }
}

static void dec_map(lua_State *L, cur *c, size_t n)
{
    lua_newtable(L);
    while (n-- > 0) {
        dec_value(L, c);               /* key */
        if (c->err) return;
        dec_value(L, c);               /* value */
        if (c->err) return;
        lua_settable(L, -3);           /* a nil or NaN key raises Lua's error */
    }
}

/* A string of n bytes after a header of h bytes. */
static void dec_str(lua_State *L, cur *c, size_t h, size_t n)
{
    if (!need(c, h) || !need(c, h + n)) return;   /* h + n cannot wrap: n < 2^32 */
    lua_pushlstring(L, (const char *)c->p + h, n);
    skip(c, h + n);
}

/* Decodes one value at the cursor and pushes it; on a malformed or short
 * input sets c->err and leaves what it pushed (the caller raises). */
static void dec_value(lua_State *L, cur *c)
{
    if (!need(c, 1)) return;
    /* One slot for this value; when it runs out, the stack is the limit
     * Redis reports (every value returned at once costs a slot). */
    luaL_checkstack(L, 1, "too many return values at once; use unpack_one or unpack_limit instead.");
    const unsigned char *p = c->p;
    unsigned t = p[0];
    if (t <= 0x7f) {                   /* positive fixint */
        lua_pushnumber(L, (lua_Number)t);
        skip(c, 1);
        return;
    }
    if (t >= 0xe0) {                   /* negative fixint */
        lua_pushnumber(L, (lua_Number)((int)t - 256));
        skip(c, 1);
        return;
    }
    if (t >= 0xa0 && t <= 0xbf) {      /* fixstr */
        dec_str(L, c, 1, t & 0x1f);
        return;
    }
    if (t >= 0x90 && t <= 0x9f) {      /* fixarray */
        skip(c, 1);
        dec_array(L, c, t & 0x0f);
        return;
    }
    if (t >= 0x80 && t <= 0x8f) {      /* fixmap */
        skip(c, 1);
        dec_map(L, c, t & 0x0f);
        return;
    }
    switch (t) {
    case 0xc0: lua_pushnil(L); skip(c, 1); return;
    case 0xc2: lua_pushboolean(L, 0); skip(c, 1); return;
    case 0xc3: lua_pushboolean(L, 1); skip(c, 1); return;
    case 0xcc: case 0xcd: case 0xce: case 0xcf: {   /* uint 8/16/32/64 */
        int n = 1 << (t - 0xcc);
        if (!need(c, (size_t)n + 1)) return;
        /* Redis pushes uint 64 through lua_Integer: above 2^63-1 it is negative. */
        lua_pushnumber(L, (lua_Number)as_signed(be(p, n)));
        skip(c, (size_t)n + 1);
        return;
    }
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {   /* int 8/16/32/64 */
        int n = 1 << (t - 0xd0);
        if (!need(c, (size_t)n + 1)) return;
        uint64_t u = be(p, n);
        if (n < 8 && (u >> (8 * n - 1)))            /* sign-extend */
            u |= ~UINT64_C(0) << (8 * n);
        lua_pushnumber(L, (lua_Number)as_signed(u));
        skip(c, (size_t)n + 1);
        return;
    }
    case 0xca: {                       /* float 32 */
        if (!need(c, 5)) return;
        uint32_t bits = (uint32_t)be(p, 4);
        float f;
        memcpy(&f, &bits, 4);
        lua_pushnumber(L, (lua_Number)f);
        skip(c, 5);
        return;
    }
    case 0xcb: {                       /* float 64 */
        if (!need(c, 9)) return;
        uint64_t bits = be(p, 8);
        double d;
        memcpy(&d, &bits, 8);
        lua_pushnumber(L, (lua_Number)d);
        skip(c, 9);
        return;
    }
    case 0xd9:                         /* str 8 */
        if (need(c, 2)) dec_str(L, c, 2, be(p, 1));
        return;
    case 0xda:                         /* str 16 */
        if (need(c, 3)) dec_str(L, c, 3, be(p, 2));
        return;
    case 0xdb:                         /* str 32 */
        if (need(c, 5)) dec_str(L, c, 5, be(p, 4));
        return;
    case 0xdc: case 0xdd: case 0xde: case 0xdf: {   /* array 16/32, map 16/32 */
        int n = (t & 1) ? 4 : 2;
        if (!need(c, (size_t)n + 1)) return;
        size_t len = (size_t)be(p, n);
        skip(c, (size_t)n + 1);
        if (t <= 0xdd) dec_array(L, c, len);
        else dec_map(L, c, len);
        return;
    }
    default:                           /* 0xc1, bin, ext, fixext */
        c->err = CUR_BADFMT;
        return;
    }
}

/* Decodes up to `limit` values from byte `offset` of argument 1 (both 0:
 * every value, and no offset returned). The stack holds argument 1 only,
 * or (unpack) the caller's arguments. */
static int unpack_from(lua_State *L, lua_Integer limit, lua_Integer offset)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    int all = limit == 0 && offset == 0;
    /* Redis prints the length where it means the limit: so do we. The %d
     * conversions keep the low 32 bits, as Redis's (int) casts do. */
    if (offset < 0 || limit < 0)
        return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.",
                          (int)offset, (int)len);
    if ((size_t)offset > len)
        return luaL_error(L, "Start offset %d greater than input length %d.", (int)offset, (int)len);
    if (all) limit = INT_MAX;
    cur c = {(const unsigned char *)s + offset, len - (size_t)offset, CUR_OK};
    int n;
    for (n = 0; c.left > 0 && n < limit; n++) {
        dec_value(L, &c);
        if (c.err == CUR_EOF) return luaL_error(L, "Missing bytes in input.");
        if (c.err == CUR_BADFMT) return luaL_error(L, "Bad data format in input.");
    }
    if (all) return n;
    luaL_checkstack(L, 1, "in function mp_unpack_full");
    lua_pushinteger(L, c.left == 0 ? -1 : (lua_Integer)(len - c.left));
    lua_insert(L, 2);                  /* the offset comes first */
    return n + 1;
}

static int mp_unpack(lua_State *L) { return unpack_from(L, 0, 0); }

static int mp_unpack_one(lua_State *L)
{
    lua_Integer offset = luaL_optinteger(L, 2, 0);
    lua_settop(L, lua_gettop(L) > 0 ? 1 : 0);
    return unpack_from(L, 1, offset);
}

static int mp_unpack_limit(lua_State *L)
{
    lua_Integer limit = luaL_checkinteger(L, 2);
    lua_Integer offset = luaL_optinteger(L, 3, 0);
    lua_settop(L, 1);
    return unpack_from(L, limit, offset);
}

int ts_luaopen_cmsgpack(lua_State *L)
{
    /* Fields in Redis's order, so pairs(cmsgpack) walks them alike. */
    static const luaL_Reg fns[] = {
        {"pack", mp_pack},
        {"unpack", mp_unpack},
        {"unpack_one", mp_unpack_one},
        {"unpack_limit", mp_unpack_limit},
        {NULL, NULL},
    };
    lua_newtable(L);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lua_pushliteral(L, LIB_NAME);
    lua_setfield(L, -2, "_NAME");
    lua_pushliteral(L, LIB_VERSION);
    lua_setfield(L, -2, "_VERSION");
    lua_pushliteral(L, LIB_COPYRIGHT);
    lua_setfield(L, -2, "_COPYRIGHT");
    lua_pushliteral(L, LIB_DESCRIPTION);
    lua_setfield(L, -2, "_DESCRIPTION");
    lua_pushvalue(L, -1);
    lua_setglobal(L, LIB_NAME);
    return 1;
}
