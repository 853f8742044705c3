/*
 * Unit test of the SHA-1 in src/util/sha1.c: the FIPS 180-4 / NIST example
 * vectors ("abc", the 448- and 896-bit messages, one million 'a'), the
 * empty message (also with a NULL pointer), messages whose lengths sit on
 * the padding edges (55/56/57, 63/64/65, 119/120, 127/128/129 bytes: where
 * the length field still fits in the last block, where it spills into one
 * more, and block-aligned messages), binary bytes, the digest of
 * "return 1" that Redis's SCRIPT LOAD replies, and that ts_sha1_hex writes
 * exactly 41 bytes and agrees with ts_sha1.
 * The expected digests were computed once with Python's hashlib.sha1
 * (python3 3.11) and are hardcoded; the test runs no external program.
 * Single-threaded.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "tessera/util/sha1.h"
#include "ts_test.h"

/* The hex of (p, n) is want, ts_sha1_hex writes exactly 41 bytes (the byte
 * after the NUL stays untouched), and ts_sha1's raw digest spells the same. */
static bool hex_is(const void *p, size_t n, const char *want)
{
    static const char digits[] = "0123456789abcdef";
    char out[TS_SHA1_HEX_LEN + 2], raw_hex[TS_SHA1_HEX_LEN + 1];
    unsigned char d[TS_SHA1_DIGEST_LEN];
    memset(out, '#', sizeof out);
    ts_sha1_hex(p, n, out);
    ts_sha1(p, n, d);
    for (int i = 0; i < TS_SHA1_DIGEST_LEN; i++) {
        raw_hex[2 * i] = digits[d[i] >> 4];
        raw_hex[2 * i + 1] = digits[d[i] & 0x0f];
    }
    raw_hex[TS_SHA1_HEX_LEN] = '\0';
    bool ok = out[TS_SHA1_HEX_LEN] == '\0' && out[TS_SHA1_HEX_LEN + 1] == '#' &&
              strcmp(out, want) == 0 && strcmp(raw_hex, want) == 0;
    if (!ok) fprintf(stderr, "sha1 of %zu bytes: got %.40s / %s, want %s\n", n, out, raw_hex, want);
    return ok;
}

int main(void)
{
    /* FIPS 180-4 examples (NIST CSRC "SHA1.pdf", "SHA_All.pdf"). */
    static const char m448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    static const char m896[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                               "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    CHECK_EQ_INT(strlen(m448), 56);
    CHECK_EQ_INT(strlen(m896), 112);
    CHECK(hex_is("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709"));
    CHECK(hex_is(NULL, 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709"));
    CHECK(hex_is("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d"));
    CHECK(hex_is(m448, 56, "84983e441c3bd26ebaae4aa1f95129e5e54670f1"));
    CHECK(hex_is(m896, 112, "a49b2446a02c645bf419f995b67091253a04a259"));

    enum { MILLION = 1000000 };
    char *big = malloc(MILLION);
    CHECK(big != NULL);
    if (big) {
        memset(big, 'a', MILLION);
        CHECK(hex_is(big, MILLION, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"));
        free(big);
    }

    /* The padding edges: the first n bytes of "abc...z" repeated. */
    static const struct { size_t n; const char *hex; } edges[] = {
        {55, "a617d006d1ca12671785098a19a87fe58443bde9"},
        {56, "4ad5bb7ae3c4024768d364b77c52128ea3cffebe"},
        {57, "e1b3b34da0f7b299090824d9aa81fff6711a79ad"},
        {63, "fc8a5ab77259625085ead3ec96515b3b8d933fad"},
        {64, "93249d4c2f8903ebf41ac358473148ae6ddd7042"},
        {65, "cf2a63cc308225cf07b498d2309a01dd0df52f67"},
        {119, "edd0f1133d0e4ca5f3e98bb7e0295f31d20d2cdb"},
        {120, "23a58eee587aa1f50d19a969ab36a3fe3e88c393"},
        {127, "4add81c7de2e43d621cdb34132bbb23178f4c500"},
        {128, "3698f9beb7cdf5b1e1ce786672fb234143d4df89"},
        {129, "1d96f2c973fdd492d08f2a16f950d654912b61ca"},
    };
    char abc[129];
    for (size_t i = 0; i < sizeof abc; i++) abc[i] = (char)('a' + i % 26);
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        /* From a heap copy of exactly n bytes, so ASan sees any over-read. */
        char *copy = malloc(edges[i].n);
        CHECK(copy != NULL);
        if (!copy) continue;
        memcpy(copy, abc, edges[i].n);
        CHECK(hex_is(copy, edges[i].n, edges[i].hex));
        free(copy);
    }

    /* Binary bytes, and what `SCRIPT LOAD "return 1"` replies in Redis. */
    CHECK(hex_is("\x00", 1, "5ba93c9db0cff93f52b521d7420e43f6eda2784f"));
    CHECK(hex_is("\x00\x80\xff", 3, "f883686921f6ae7b94c63937715256438dc15d16"));
    CHECK(hex_is("return 1", 8, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"));

    TS_TEST_MAIN_END();
}
