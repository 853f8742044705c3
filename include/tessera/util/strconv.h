/*
 * strconv.h - integer <-> decimal text, with Redis's strictness.
 *
 * Owns nothing; pure functions, any thread. One implementation for the
 * reply writer, the commands and the config parser.
 */
#ifndef TESSERA_STRCONV_H
#define TESSERA_STRCONV_H

#include <stdbool.h>
#include <stddef.h>

#include "tessera/util/common.h"

/* Writes v in decimal plus a NUL (dst needs 21 bytes); returns the length. */
size_t ts_ll_to_str(char *dst, long long v);
/* Strict parse like Redis's string2ll: the whole of p, no spaces, no '+',
 * no leading zeros, within 64 bits. */
bool ts_str_to_ll(const char *p, size_t n, long long *out);
/* The same for an argument slice. */
bool ts_arg_to_ll(ts_arg a, long long *out);
/* Case-insensitive (ASCII) comparison of an argument to a literal. */
bool ts_arg_eq(ts_arg a, const char *lit);
/* The same as Redis's strcasecmp(argv[i]->ptr, lit) == 0 sees it: the
 * argument as a C string, ending at its first NUL ("get\0x" is "get"). */
bool ts_arg_cstr_eq(ts_arg a, const char *lit);
/* glibc's atoi on an argument as a C string ((int)strtol(s, NULL, 10)):
 * leading white space, a sign, the digits up to the first other byte (none:
 * 0), saturated at LONG_MIN/LONG_MAX, then cut to int like gcc's cast. For
 * the places where Redis reads a number with atoi. */
int ts_arg_atoi(ts_arg a);
/* (int)v as gcc converts it: the low 32 bits, two's complement (C leaves an
 * out-of-range conversion implementation-defined; Redis relies on gcc's). */
int ts_ll_to_int_wrap(long long v);

/* Redis's long double strings (INCRBYFLOAT, HINCRBYFLOAT). */
#define TS_LD_CHARS (5 * 1024)   /* Redis's MAX_LONG_DOUBLE_CHARS */
/* string2ld: the whole string is a long double (strtold syntax, so hex and
 * "inf" are accepted), no leading space, no NaN, no overflow or underflow
 * to zero, shorter than TS_LD_CHARS. */
bool ts_str_to_ld(const char *p, size_t n, long double *out);
/* ld2string in human mode: "%.17Lf" without trailing zeros (nor a bare
 * point), "-0" as "0". v must be finite; cap >= TS_LD_CHARS. */
size_t ts_ld_to_str(char *buf, size_t cap, long double v);

#endif
