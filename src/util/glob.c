/*
 * glob.c - Redis-compatible glob matching (see glob.h for the syntax).
 *
 * Owns: ts_glob_match. Thread: pure, any thread.
 *
 * Every token other than '*' consumes exactly one subject byte, so matching
 * needs to remember only the most recent '*': when a token fails, that star
 * swallows one more byte and the match resumes after it. This gives the same
 * answers as trying every split recursively, in O(len(pat) * len(s)) time and
 * constant stack.
 *
 * Bytes in bracket ranges compare as signed chars, the way Redis compares
 * them on the platforms it ships for, so "[a-\xff]" selects what it selects
 * there. Case folding is ASCII-only and independent of the C locale.
 */
#include "tessera/util/glob.h"

#include <stdint.h>

/* A byte as a signed char value, without implementation-defined casts. */
static int byte_value(char b)
{
    unsigned char u = (unsigned char)b;
    return u < 128 ? (int)u : (int)u - 256;
}

static int fold(int v, bool nocase)
{
    return (nocase && v >= 'A' && v <= 'Z') ? v + ('a' - 'A') : v;
}

/* Matches the bracket set starting at pat[*pi] == '[' against subject byte
 * c and advances *pi past the set (to the end of the pattern when no ']'
 * closes it). */
static bool match_set(const char *pat, size_t plen, size_t *pi, int c, bool nocase)
{
    size_t i = *pi + 1;
    bool negate = i < plen && pat[i] == '^';
    if (negate) i++;
    bool hit = false;
    while (i < plen) {
        if (pat[i] == '\\' && plen - i >= 2) {
            i++;
            if (byte_value(pat[i]) == c) hit = true;   /* escapes compare exactly */
        } else if (pat[i] == ']') {
            break;
        } else if (plen - i >= 3 && pat[i + 1] == '-') {
            int lo = byte_value(pat[i]), hi = byte_value(pat[i + 2]);
            if (lo > hi) { int t = lo; lo = hi; hi = t; }
            lo = fold(lo, nocase);
            hi = fold(hi, nocase);
            int x = fold(c, nocase);
            if (x >= lo && x <= hi) hit = true;
            i += 2;
        } else if (fold(byte_value(pat[i]), nocase) == fold(c, nocase)) {
            hit = true;
        }
        i++;
    }
    *pi = i < plen ? i + 1 : plen;
    return negate ? !hit : hit;
}

/* Matches the one non-star token at pat[*pi] against subject byte sc and
 * advances *pi past it. */
static bool match_token(const char *pat, size_t plen, size_t *pi, char sc, bool nocase)
{
    size_t i = *pi;
    int c = byte_value(sc);
    if (pat[i] == '?') {
        *pi = i + 1;
        return true;
    }
    if (pat[i] == '[') return match_set(pat, plen, pi, c, nocase);
    if (pat[i] == '\\' && plen - i >= 2) i++;
    *pi = i + 1;
    return fold(byte_value(pat[i]), nocase) == fold(c, nocase);
}

bool ts_glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase)
{
    /* Redis never lets a pattern (not even "*") match an empty subject. */
    if (slen == 0) return plen == 0;

    size_t pi = 0, si = 0;
    size_t star_pi = SIZE_MAX, star_si = 0;
    while (si < slen) {
        if (pi < plen && pat[pi] == '*') {
            while (pi < plen && pat[pi] == '*') pi++;
            if (pi == plen) return true;           /* a trailing star takes the rest */
            star_pi = pi;
            star_si = si;
            continue;
        }
        size_t next = pi;
        if (pi < plen && match_token(pat, plen, &next, s[si], nocase)) {
            pi = next;
            si++;
            continue;
        }
        if (star_pi == SIZE_MAX) return false;
        /* Let the last star swallow one more byte and retry after it. */
        si = ++star_si;
        pi = star_pi;
    }
    while (pi < plen && pat[pi] == '*') pi++;
    return pi == plen;
}
