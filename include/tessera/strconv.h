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

/* Writes v in decimal plus a NUL (dst needs 21 bytes); returns the length. */
size_t ts_ll_to_str(char *dst, long long v);
/* Strict parse like Redis's string2ll: the whole of p, no spaces, no '+',
 * no leading zeros, within 64 bits. */
bool ts_str_to_ll(const char *p, size_t n, long long *out);

#endif
