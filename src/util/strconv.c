/*
 * strconv.c - integer <-> decimal text (see strconv.h).
 */
#include "tessera/util/strconv.h"

#include "tessera/util/common.h"

#include <limits.h>
#include <string.h>
#include <stdio.h>
#include <math.h>
#include <errno.h>
#include <ctype.h>

size_t ts_ll_to_str(char *dst, long long v)
{
    char tmp[24];
    size_t n = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do { tmp[n++] = (char)('0' + u % 10); u /= 10; } while (u);
    size_t len = 0;
    if (v < 0) dst[len++] = '-';
    while (n) dst[len++] = tmp[--n];
    dst[len] = '\0';
    return len;
}

bool ts_str_to_ll(const char *p, size_t n, long long *out)
{
    if (n == 0 || n > 20) return false;
    if (n == 1 && p[0] == '0') { *out = 0; return true; }
    size_t i = 0;
    bool neg = false;
    if (p[0] == '-') { neg = true; i = 1; if (n == 1) return false; }
    if (p[i] < '1' || p[i] > '9') return false;
    unsigned long long v = 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) return false;
        *out = (long long)(0 - v);
    } else {
        if (v > (unsigned long long)LLONG_MAX) return false;
        *out = (long long)v;
    }
    return true;
}

bool ts_str_to_ld(const char *p, size_t n, long double *out)
{
    char buf[TS_LD_CHARS];
    if (n == 0 || n >= sizeof(buf)) return false;
    memcpy(buf, p, n);
    buf[n] = '\0';
    if (isspace((unsigned char)buf[0])) return false;
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if (end != buf + n || isnan(v)) return false;
    if (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0.0L)) return false;
    *out = v;
    return true;
}

size_t ts_ld_to_str(char *buf, size_t cap, long double v)
{
    int w = snprintf(buf, cap, "%.17Lf", v);
    TS_ASSERT(w > 0 && (size_t)w < cap);
    size_t n = (size_t)w;
    if (memchr(buf, '.', n)) {
        while (buf[n - 1] == '0') n--;
        if (buf[n - 1] == '.') n--;
    }
    if (n == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        n = 1;
    }
    return n;
}

bool ts_arg_to_ll(ts_arg a, long long *out) { return ts_str_to_ll(a.ptr, a.len, out); }

bool ts_arg_eq(ts_arg a, const char *lit)
{
    size_t n = strlen(lit);
    return a.len == n && strncasecmp(a.ptr, lit, n) == 0;
}

bool ts_arg_cstr_eq(ts_arg a, const char *lit)
{
    size_t n = strlen(lit);
    if (a.len < n || strncasecmp(a.ptr, lit, n) != 0) return false;
    return a.len == n || a.ptr[n] == '\0';
}

int ts_ll_to_int_wrap(long long v)
{
    uint32_t low = (uint32_t)(unsigned long long)v;
    if (low <= (uint32_t)INT_MAX) return (int)low;
    return (int)(low - (uint32_t)INT_MAX - 1u) + INT_MIN;   /* low - 2^32, without overflow */
}

int ts_arg_atoi(ts_arg a)
{
    size_t i = 0;
    /* isspace() of the C locale */
    while (i < a.len && (a.ptr[i] == ' ' || (a.ptr[i] >= '\t' && a.ptr[i] <= '\r'))) i++;
    bool neg = false;
    if (i < a.len && (a.ptr[i] == '+' || a.ptr[i] == '-')) neg = a.ptr[i++] == '-';
    /* strtol on a 64-bit long: the magnitude saturates at LONG_MAX (LONG_MIN
     * when negative: its magnitude is one more). */
    unsigned long long limit = neg ? (unsigned long long)LONG_MAX + 1 : (unsigned long long)LONG_MAX, v = 0;
    for (; i < a.len && a.ptr[i] >= '0' && a.ptr[i] <= '9'; i++) {
        unsigned d = (unsigned)(a.ptr[i] - '0');
        v = v > (limit - d) / 10 ? limit : v * 10 + d;
    }
    long long l = neg && v ? -(long long)(v - 1) - 1 : (long long)v;
    return ts_ll_to_int_wrap(l);
}
