/*
 * lua_struct.c - the `struct` Lua library of Redis scripts: binary packing
 * and unpacking of numbers and strings by a format string, behaving as the
 * struct.c (Roberto Ierusalimschy, v1.7) that Redis 7.0 bundles in
 * deps/lua/src/lua_struct.c with its fixes (read for behaviour; this is
 * our own code).
 *
 * Owns: struct.pack, struct.unpack, struct.size and the global table
 * `struct` (script/lua_libs.h). Thread: the thread that owns the lua_State;
 * nothing here is static and mutable.
 *
 * FORMAT (one character per item, read left to right)
 *   >  <          big / little endian from here on (the default is the
 *                 host's: little on x86-64). '=' is NOT an option here.
 *   !n            items align to min(their size, n) from here on; n must be
 *                 a power of two; '!' alone is 8 (the alignment of double)
 *   ' '           ignored (no other white space is)
 *   b B           signed / unsigned char (1 byte)
 *   h H           short (2)       l L   long (8)       T   size_t (8)
 *   i I / in In   int of sizeof(int) (4) / of n bytes, 0 <= n <= 32
 *   f d           float (4) / double (8), in the host's format
 *   x             one zero byte (pack) / one skipped byte (unpack)
 *   cn            n bytes of a string (c = c1); c0 packs the whole string
 *                 and, unpacking, takes its length from the previous result
 *   s             a zero-terminated string
 * Alignment is relative to the start of the data, including unpack's
 * starting offset, and never applies to c.
 *
 * Redis's copy leans on undefined behaviour in places; what x86-64 makes of
 * it is what scripts see, so this file computes the same values with
 * defined operations (each place says which):
 *   - packing a number into an integer item: a negative one is truncated
 *     to int64 (0x8000000000000000 when below -2^63 or -inf), a
 *     non-negative one goes through gcc's double-to-uint64 sequence
 *     (values from 2^64 up and +inf give 0, NaN gives 0x8000000000000000);
 *   - integer items wider than 8 bytes: packing writes the 8 bytes of the
 *     value then zeros; unpacking keeps the 8 bytes nearest the least
 *     significant end and sign-extends with a mask shifted by
 *     (8 * size - 1) mod 64, as the x86 shift instruction counts (so "<i9"
 *     of nine 0x01 bytes is -127, as in Redis); "i0" unpacks as 0;
 *   - the c0 length taken from a previous number goes through the same
 *     double-to-uint64 sequence.
 */
#include "lua_libs.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>

/* Widest integer item, in bytes. */
#define MAXINTSIZE 32

/* The '!' default: the alignment of double, or of int if larger (8 on
 * x86-64), as Redis derives it from a {char; double} struct. */
struct double_align { char c; double d; };
#define MAXALIGN (offsetof(struct double_align, d) > sizeof(int) ? offsetof(struct double_align, d) : sizeof(int))

enum { BIG = 0, LITTLE = 1 };

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define NATIVE BIG
#else
#define NATIVE LITTLE
#endif

typedef struct header {
    int endian;
    int align;
} header;

static int is_digit(int ch) { return ch >= '0' && ch <= '9'; }

/* isalnum in the C locale, for any char value (Redis's copy calls isalnum
 * on a plain char; Redis never sets LC_CTYPE, so it is the C locale). */
static int is_alnum(int ch) { return is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }

/* The decimal number at *fmt, or df when there is none. */
static int read_num(lua_State *L, const char **fmt, int df)
{
    if (!is_digit(**fmt)) return df;
    int a = 0;
    do {
        int d = **fmt - '0';
        if (a > INT_MAX / 10 || a * 10 > INT_MAX - d) luaL_error(L, "integral size overflow");
        a = a * 10 + d;
        (*fmt)++;
    } while (is_digit(**fmt));
    return a;
}

/* The size of option opt, reading its number from *fmt; 0 for the options
 * that have none (control characters, 's', and unknown ones). */
static size_t opt_size(lua_State *L, int opt, const char **fmt)
{
    switch (opt) {
    case 'B': case 'b': return sizeof(char);
    case 'H': case 'h': return sizeof(short);
    case 'L': case 'l': return sizeof(long);
    case 'T': return sizeof(size_t);
    case 'f': return sizeof(float);
    case 'd': return sizeof(double);
    case 'x': return 1;
    case 'c': return (size_t)read_num(L, fmt, 1);
    case 'i': case 'I': {
        int sz = read_num(L, fmt, (int)sizeof(int));
        if (sz > MAXINTSIZE) luaL_error(L, "integral size %d is larger than limit of %d", sz, MAXINTSIZE);
        return (size_t)sz;
    }
    default: return 0;
    }
}

/* Padding before an item of `size` at offset pos: the item aligns to
 * min(size, h->align). The formula is Redis's, also for sizes that are not
 * powers of two (i3, i5, ...): all unsigned, so it is defined for any pos. */
static int align_pad(size_t pos, const header *h, int opt, size_t size)
{
    if (size == 0 || opt == 'c') return 0;
    if (size > (size_t)h->align) size = (size_t)h->align;
    return (int)((size - (pos & (size - 1))) & (size - 1));
}

/* The control options; anything else is an invalid option (argument 1). */
static void control(lua_State *L, int opt, const char **fmt, header *h)
{
    switch (opt) {
    case ' ': return;
    case '>': h->endian = BIG; return;
    case '<': h->endian = LITTLE; return;
    case '!': {
        int a = read_num(L, fmt, (int)MAXALIGN);
        if (a <= 0 || (a & (a - 1)) != 0) luaL_error(L, "alignment %d is not a power of 2", a);
        h->align = a;
        return;
    }
    default:
        luaL_argerror(L, 1, lua_pushfstring(L, "invalid format option '%c'", opt));
    }
}

/* x86-64's cvttsd2si: truncation toward zero, or 0x8000000000000000 for NaN
 * and anything outside int64_t. */
static uint64_t cvtt64(double x)
{
    if (x >= -0x1p63 && x < 0x1p63) return (uint64_t)(int64_t)x;
    return UINT64_C(0x8000000000000000);
}

/* What gcc's x86-64 code for (unsigned long)x yields for any double: below
 * 2^63 (and NaN) cvttsd2si directly, else cvttsd2si of x - 2^63 with bit 63
 * flipped. */
static uint64_t double_to_u64(double x)
{
    if (x >= 0x1p63) return cvtt64(x - 0x1p63) ^ UINT64_C(0x8000000000000000);
    return cvtt64(x);
}

static void put_integer(lua_State *L, luaL_Buffer *b, int arg, int endian, size_t size)
{
    lua_Number n = luaL_checknumber(L, arg);
    /* Redis: (unsigned long)(long)n for negative n, (unsigned long)n else. */
    uint64_t v = n < 0 ? cvtt64(n) : double_to_u64(n);
    char buf[MAXINTSIZE];
    for (size_t i = 0; i < size; i++) {   /* past 8 bytes v is 0: zeros */
        buf[endian == LITTLE ? i : size - 1 - i] = (char)(v & 0xff);
        v >>= 8;
    }
    luaL_addlstring(b, buf, size);
}

/* Reverses the n bytes at p when endian is not the host's. */
static void fix_order(char *p, size_t n, int endian)
{
    if (endian == NATIVE) return;
    for (size_t i = 0; i < n / 2; i++) {
        char t = p[i];
        p[i] = p[n - 1 - i];
        p[n - 1 - i] = t;
    }
}

static int b_pack(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    header h = {NATIVE, 1};
    int arg = 2;
    size_t total = 0;
    luaL_Buffer b;
    lua_pushnil(L);                    /* keeps the arguments below the buffer's strings */
    luaL_buffinit(L, &b);
    while (*fmt != '\0') {
        int opt = *fmt++;
        size_t size = opt_size(L, opt, &fmt);
        int pad = align_pad(total, &h, opt, size);
        total += (size_t)pad;
        while (pad-- > 0) luaL_addchar(&b, '\0');
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H':
        case 'l': case 'L': case 'T': case 'i': case 'I':
            put_integer(L, &b, arg++, h.endian, size);
            break;
        case 'x':
            luaL_addchar(&b, '\0');
            break;
        case 'f': {
            /* Out of float's range this rounds to an infinity (IEEE 754
             * conversion, C11 Annex F), as in Redis. */
            float f = (float)luaL_checknumber(L, arg++);
            fix_order((char *)&f, sizeof f, h.endian);
            luaL_addlstring(&b, (const char *)&f, sizeof f);
            break;
        }
        case 'd': {
            double d = (double)luaL_checknumber(L, arg++);
            fix_order((char *)&d, sizeof d, h.endian);
            luaL_addlstring(&b, (const char *)&d, sizeof d);
            break;
        }
        case 'c': case 's': {
            size_t l;
            const char *s = luaL_checklstring(L, arg++, &l);
            if (size == 0) size = l;
            /* Redis names the argument after the string (arg was already
             * advanced): "bad argument #3" for the string at #2. */
            luaL_argcheck(L, l >= size, arg, "string too short");
            luaL_addlstring(&b, s, size);
            if (opt == 's') {
                luaL_addchar(&b, '\0');
                size++;
            }
            break;
        }
        default:
            control(L, opt, &fmt, &h);
        }
        total += size;
    }
    luaL_pushresult(&b);
    return 1;
}

/* The integer item of `size` bytes at p. Unsigned: the low 8 bytes as a
 * number. Signed: sign-extended with Redis's mask, ~0 << (8*size - 1),
 * whose shift count x86 takes modulo 64 (see the file's header). */
static lua_Number get_integer(const char *p, int endian, int is_signed, size_t size)
{
    uint64_t l = 0;
    for (size_t i = 0; i < size; i++) {
        l <<= 8;
        l |= (unsigned char)p[endian == BIG ? i : size - 1 - i];
    }
    if (!is_signed) return (lua_Number)l;
    uint64_t mask = ~UINT64_C(0) << ((8 * size - 1) & 63);
    if (l & mask) l |= mask;
    return (lua_Number)(l <= (uint64_t)INT64_MAX ? (int64_t)l : -(int64_t)(~l) - 1);
}

static int b_unpack(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    size_t ld;
    const char *data = luaL_checklstring(L, 2, &ld);
    /* A negative offset wraps to a huge one, which fails below as "data
     * string too short": only 0 gets the offset message (as in Redis). */
    size_t pos = (size_t)luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, pos > 0, 3, "offset must be 1 or greater");
    pos--;
    header h = {NATIVE, 1};
    int n = 0;
    while (*fmt) {
        int opt = *fmt++;
        size_t size = opt_size(L, opt, &fmt);
        pos += (size_t)align_pad(pos, &h, opt, size);
        luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
        luaL_checkstack(L, 2, "too many results");   /* the item and the next position */
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H':
        case 'l': case 'L': case 'T': case 'i': case 'I':
            lua_pushnumber(L, get_integer(data + pos, h.endian, opt >= 'a', size));
            n++;
            break;
        case 'x':
            break;
        case 'f': {
            float f;
            memcpy(&f, data + pos, sizeof f);
            fix_order((char *)&f, sizeof f, h.endian);
            lua_pushnumber(L, (lua_Number)f);
            n++;
            break;
        }
        case 'd': {
            double d;
            memcpy(&d, data + pos, sizeof d);
            fix_order((char *)&d, sizeof d, h.endian);
            lua_pushnumber(L, (lua_Number)d);
            n++;
            break;
        }
        case 'c':
            if (size == 0) {
                /* lua_isnumber: a numeric string from a previous c counts too. */
                if (n == 0 || !lua_isnumber(L, -1)) luaL_error(L, "format 'c0' needs a previous size");
                size = (size_t)double_to_u64((double)lua_tonumber(L, -1));
                lua_pop(L, 1);
                n--;
                luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
            }
            lua_pushlstring(L, data + pos, size);
            n++;
            break;
        case 's': {
            const char *e = memchr(data + pos, '\0', ld - pos);
            if (e == NULL) luaL_error(L, "unfinished string in data");
            size = (size_t)(e - (data + pos)) + 1;
            lua_pushlstring(L, data + pos, size - 1);
            n++;
            break;
        }
        default:
            control(L, opt, &fmt, &h);
        }
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)(pos + 1));
    return n + 1;
}

static int b_size(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    header h = {NATIVE, 1};
    size_t pos = 0;
    while (*fmt) {
        int opt = *fmt++;
        size_t size = opt_size(L, opt, &fmt);
        pos += (size_t)align_pad(pos, &h, opt, size);
        if (opt == 's') luaL_argerror(L, 1, "option 's' has no fixed size");
        else if (opt == 'c' && size == 0) luaL_argerror(L, 1, "option 'c0' has no fixed size");
        /* Letters and digits that are no option count as size 0 here, as in
         * Redis; other characters go through the control options. */
        if (!is_alnum(opt)) control(L, opt, &fmt, &h);
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos);
    return 1;
}

int ts_luaopen_struct(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"pack", b_pack},
        {"unpack", b_unpack},
        {"size", b_size},
        {NULL, NULL},
    };
    luaL_register(L, "struct", fns);
    return 1;
}
