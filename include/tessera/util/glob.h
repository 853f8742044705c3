/*
 * glob.h - the glob matcher of KEYS, SCAN MATCH and CONFIG GET.
 *
 * Owns: one pure function with the semantics of Redis's pattern matching, so
 * that a pattern selects exactly the names Redis would select:
 *   *        any run of bytes (including none)
 *   ?        exactly one byte
 *   [abc]    one byte of the set; [^abc] one byte not in it; [a-z] a range
 *            (bounds in either order); \x inside brackets is a literal x
 *   \x       the byte x, even if x is special
 * and Redis's edge cases: an unterminated '[' takes the rest of the pattern
 * as its set, "[]" matches nothing and "[^]" any byte, a trailing '\' is a
 * literal, and an empty subject matches only the empty pattern.
 * With nocase, bytes compare ASCII case-insensitively (an escaped byte in a
 * bracket set still compares exactly, as in Redis).
 *
 * Thread: pure and reentrant; any thread.
 * Shape: both strings are (pointer, length) pairs because keys and patterns
 * are binary-safe. The matcher keeps one backtracking point (the last '*')
 * instead of recursing, so the worst case is O(len(pat) * len(s)) and no
 * pattern can exhaust the stack.
 */
#ifndef TESSERA_GLOB_H
#define TESSERA_GLOB_H

#include <stdbool.h>
#include <stddef.h>

bool ts_glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase);

#endif
