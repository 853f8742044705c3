/*
 * Unit test of ts_glob_match. Every expectation here was checked against
 * real Redis 7.0.15 (KEYS for case-sensitive matching, CONFIG GET for the
 * case-insensitive one), including its edge cases: unterminated and empty
 * bracket sets, escapes inside and outside sets, reversed ranges, bytes
 * above 0x7f (compared as signed chars in ranges) and the empty subject.
 */
#include "tessera/util/glob.h"
#include "ts_test.h"

static bool m(const char *pat, const char *s) { return ts_glob_match(pat, strlen(pat), s, strlen(s), false); }
static bool mi(const char *pat, const char *s) { return ts_glob_match(pat, strlen(pat), s, strlen(s), true); }

int main(void)
{
    /* Literals, '?' and '*'. */
    CHECK(m("hello", "hello"));
    CHECK(!m("hello", "hell"));
    CHECK(!m("hell", "hello"));
    CHECK(m("h?llo", "hallo"));
    CHECK(!m("h?llo", "hllo"));
    CHECK(m("h*llo", "hllo"));
    CHECK(m("h*llo", "heeeello"));
    CHECK(m("*", "anything"));
    CHECK(m("**", "anything"));
    CHECK(m("a*", "a"));
    CHECK(m("a**", "a"));
    CHECK(m("*a", "aaa"));
    CHECK(m("*a*b*c*", "xxaxxbxxcxx"));
    CHECK(!m("*a*b*c*", "xxaxxcxxbxx"));
    CHECK(m("a*b*a", "abba"));
    CHECK(m("a*ab", "aaab"));
    CHECK(!m("a*ab", "aaba"));
    CHECK(m("*?", "x"));
    CHECK(!m("*??", "x"));
    /* The empty subject matches only the empty pattern (not even "*"). */
    CHECK(m("", ""));
    CHECK(!m("*", ""));
    CHECK(!m("?", ""));
    CHECK(!m("", "a"));

    /* Bracket sets. */
    CHECK(m("h[ae]llo", "hello"));
    CHECK(m("h[ae]llo", "hallo"));
    CHECK(!m("h[ae]llo", "hillo"));
    CHECK(m("h[^e]llo", "hallo"));
    CHECK(!m("h[^e]llo", "hello"));
    CHECK(m("h[a-b]llo", "hbllo"));
    CHECK(!m("h[a-b]llo", "hcllo"));
    CHECK(m("h[b-a]llo", "hallo"));       /* reversed range */
    CHECK(m("[0-9][0-9]", "42"));
    CHECK(!m("[0-9][0-9]", "4x"));
    CHECK(m("[a-cx]", "x"));
    CHECK(m("[-a]", "-"));
    CHECK(!m("[]", "a"));                 /* empty set: nothing */
    CHECK(!m("[]", "]"));
    CHECK(m("[^]", "a"));                 /* negated empty set: any byte */
    CHECK(!m("[]a]", "]"));               /* "[]" matches nothing, so neither does "[]a]" */
    CHECK(!m("[]a]", "a"));
    CHECK(m("[a-]]", "]"));               /* the range a..']' reversed, then "]" ends the set */
    CHECK(m("[a-]", "^"));                /* ... and without it the set never closes */
    CHECK(m("[abc", "b"));                /* unterminated: the set runs to the end */
    CHECK(!m("[abc", "d"));
    CHECK(!m("[abc", "bc"));
    CHECK(!m("[", "["));
    CHECK(m("[^", "x"));
    CHECK(m("*[abc", "xxc"));
    CHECK(m("[a-", "a"));
    CHECK(m("[a-", "-"));
    CHECK(!m("[a-", "b"));

    /* Escapes. */
    CHECK(m("\\*", "*"));
    CHECK(!m("\\*", "a"));
    CHECK(m("\\?x", "?x"));
    CHECK(m("a\\[b", "a[b"));
    CHECK(m("\\a", "a"));
    CHECK(m("a\\", "a\\"));               /* a trailing backslash is literal */
    CHECK(m("\\", "\\"));
    CHECK(m("[\\]]", "]"));
    CHECK(m("[\\^a]", "^"));
    CHECK(m("[\\-]", "-"));
    CHECK(!m("[\\-]", "\\"));
    CHECK(m("[\\", "\\"));                /* "\" at the end of a set is literal */
    CHECK(m("*\\*", "abc*"));

    /* Case folding. */
    CHECK(!m("HELLO", "hello"));
    CHECK(mi("HELLO", "hello"));
    CHECK(mi("h?LLo", "HeLlO"));
    CHECK(mi("[H]ello", "hello"));
    CHECK(mi("[^H]ello", "jello"));
    CHECK(!mi("[^H]ello", "hello"));
    CHECK(mi("[A-C]x", "bX"));
    CHECK(mi("[a-c]x", "BX"));
    CHECK(!m("[A-C]x", "bx"));
    CHECK(mi("\\Port", "port"));          /* an escaped byte outside a set still folds */
    CHECK(!mi("[\\P]ort", "port"));       /* inside a set it compares exactly */
    CHECK(mi("[\\P]ort", "Port"));
    CHECK(!mi("[Z-a]", "z"));             /* bounds fold after ordering: z..a is empty */
    CHECK(m("[Z-a]", "_"));

    /* Binary safety and bytes above 0x7f. */
    CHECK(ts_glob_match("a\0b", 3, "a\0b", 3, false));
    CHECK(!ts_glob_match("a\0b", 3, "a\0c", 3, false));
    CHECK(ts_glob_match("a?b", 3, "a\0b", 3, false));
    CHECK(ts_glob_match("*", 1, "\0", 1, false));
    CHECK(m("[\x80-\xff]", "\x90"));
    CHECK(!m("[\x80-\xff]", "a"));
    CHECK(m("[a-\xff]", "\xff"));         /* signed: -1..'a' */
    CHECK(m("[a-\xff]", "A"));
    CHECK(!m("[a-\xff]", "b"));
    CHECK(m("\xc3\xa9*", "\xc3\xa9t\xc3\xa9"));

    /* No exponential blow-up on hostile patterns. */
    char subject[4001], pattern[201];
    memset(subject, 'a', 4000);
    subject[4000] = '\0';
    for (int i = 0; i < 100; i++) { pattern[2 * i] = '*'; pattern[2 * i + 1] = 'a'; }
    pattern[200] = '\0';
    pattern[199] = 'b';
    CHECK(!m(pattern, subject));
    pattern[199] = 'a';
    CHECK(m(pattern, subject));

    TS_TEST_MAIN_END();
}
