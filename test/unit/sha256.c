/*
 * Unit test of the SHA-256 in src/util/sha256.c: the FIPS 180-4 / NIST
 * example vectors, the one-shot hex form, messages whose lengths sit on the
 * padding edges (55/56/57, 63/64/65, 119/120, 128 bytes: where the length
 * field still fits in the last block, where it spills into one more, and
 * block-aligned messages), and the incremental API split at every boundary
 * and in random chunks, which must give the one-shot digest.
 * The edge and extra digests were computed once with
 * `printf '%s' ... | sha256sum` (GNU coreutils 9.x) and are hardcoded; the
 * test runs no external program.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "tessera/util/sha256.h"
#include "ts_test.h"

static void to_hex(const uint8_t d[TS_SHA256_DIGEST_LEN], char out[TS_SHA256_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < TS_SHA256_DIGEST_LEN; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 0x0f];
    }
    out[TS_SHA256_HEX_LEN] = '\0';
}

/* The one-shot hex of (p, n) is want, and ts_sha256_hex writes exactly 65
 * bytes (the byte after the NUL stays untouched). */
static bool hex_is(const void *p, size_t n, const char *want)
{
    char out[TS_SHA256_HEX_LEN + 2];
    memset(out, '#', sizeof out);
    ts_sha256_hex(p, n, out);
    bool ok = out[TS_SHA256_HEX_LEN] == '\0' && out[TS_SHA256_HEX_LEN + 1] == '#' && strcmp(out, want) == 0;
    if (!ok) fprintf(stderr, "sha256 of %zu bytes: got %.64s, want %s\n", n, out, want);
    return ok;
}

/* Every two-way split of (p, n), at each k in 0..n, gives the one-shot
 * digest; so does feeding it one byte at a time. Counts the mismatches. */
static int split_mismatches(const uint8_t *p, size_t n)
{
    char want[TS_SHA256_HEX_LEN + 1], got[TS_SHA256_HEX_LEN + 1];
    uint8_t d[TS_SHA256_DIGEST_LEN];
    ts_sha256 s;
    int bad = 0;
    ts_sha256_hex(p, n, want);
    for (size_t k = 0; k <= n; k++) {
        ts_sha256_init(&s);
        ts_sha256_update(&s, p, k);
        ts_sha256_update(&s, p + k, n - k);
        ts_sha256_final(&s, d);
        to_hex(d, got);
        if (strcmp(got, want) != 0) {
            fprintf(stderr, "split of %zu bytes at %zu: got %s, want %s\n", n, k, got, want);
            bad++;
        }
    }
    ts_sha256_init(&s);
    for (size_t i = 0; i < n; i++) ts_sha256_update(&s, p + i, 1);
    ts_sha256_final(&s, d);
    to_hex(d, got);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "bytewise %zu bytes: got %s, want %s\n", n, got, want);
        bad++;
    }
    return bad;
}

/* The first n bytes of "abcdefghijklmnopqrstuvwxyz" repeated. */
static void alphabet(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)('a' + i % 26);
}

int main(void)
{
    /* FIPS 180-4 examples (NIST CSRC "SHA256.pdf", "SHA2_Additional.pdf"). */
    static const char m448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    static const char m896[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                               "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    CHECK_EQ_INT(strlen(m448), 56);
    CHECK_EQ_INT(strlen(m896), 112);
    CHECK(hex_is("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    CHECK(hex_is(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    CHECK(hex_is("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    CHECK(hex_is(m448, 56, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    CHECK(hex_is(m896, 112, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"));

    /* One million 'a': one shot, and in 1000 updates of 1000 bytes. */
    enum { MILLION = 1000000 };
    static const char million_a[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    uint8_t *big = malloc(MILLION);
    CHECK(big != NULL);
    if (big) {
        memset(big, 'a', MILLION);
        CHECK(hex_is(big, MILLION, million_a));
        ts_sha256 s;
        uint8_t d[TS_SHA256_DIGEST_LEN];
        char got[TS_SHA256_HEX_LEN + 1];
        ts_sha256_init(&s);
        for (int i = 0; i < 1000; i++) ts_sha256_update(&s, big + 1000 * i, 1000);
        ts_sha256_final(&s, d);
        to_hex(d, got);
        CHECK(strcmp(got, million_a) == 0);
        free(big);
    }

    /* The padding edges, from `printf '%s' <the n letters> | sha256sum`. */
    static const struct { size_t n; const char *hex; } edges[] = {
        {55, "595615dbe4f0f407ae397d08b4c2cb870cb9b0e11937416f950c5160acf9c005"},
        {56, "784f623b787495078e93ff28a25b581df0584055a7e71d8cd90c454716b92f51"},
        {57, "808f0738aa4401bdee842e5a15a7baad5809f976d8eb6f9bd2683cebd2e8d671"},
        {63, "5ca3e1ef5207490eac01a795e5cc94d59582a5118bf9534665c8668d87aa647c"},
        {64, "2fcd5a0d60e4c941381fcc4e00a4bf8be422c3ddfafb93c809e8d1e2bfffae8e"},
        {65, "1b3cd1877ab2f2f19f7be001722554f336cb799df0329de0bb4c118dc6abc06d"},
        {119, "faef67da856d6fd9c8d12f9ed0a4fefd3cf0ce085ab43e2907418d457e3c354b"},
        {120, "c9512b08619c19fbb503c7da6b46ef20301e5f7a7a5f43989182398536f5c5c8"},
        {128, "6c05be2c4268843ae47e68e611277ce62c02153f2f4d2e1e2a1a4b44f766cf74"},
    };
    uint8_t abc[128];
    alphabet(abc, sizeof abc);
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        CHECK(hex_is(abc, edges[i].n, edges[i].hex));
        CHECK_EQ_INT(split_mismatches(abc, edges[i].n), 0);
    }

    /* Binary bytes (NUL, high bit) and two passwords, also from sha256sum. */
    CHECK(hex_is("\x00", 1, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"));
    CHECK(hex_is("\x00\x80\xff", 3, "5240672d7b51756b829ad0ef8d9468b7a078afa2f410484fd3892dab47becb72"));
    CHECK(hex_is("password", 8, "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"));
    CHECK(hex_is("foobar", 6, "c3ab8ff13720e8ad9047dd39466b3c8974e592c2fa383d4a3960714caef0c4f2"));

    /* Incremental == one shot, split at every boundary. */
    CHECK_EQ_INT(split_mismatches((const uint8_t *)"abc", 3), 0);
    CHECK_EQ_INT(split_mismatches((const uint8_t *)m448, 56), 0);
    CHECK_EQ_INT(split_mismatches((const uint8_t *)m896, 112), 0);
    uint8_t rnd[300];
    for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (uint8_t)ts_test_rnd();
    CHECK_EQ_INT(split_mismatches(rnd, sizeof rnd), 0);

    /* Random chunk sizes 0..150 (empty updates with NULL included), over
     * the random bytes, must also give the one-shot digest. */
    {
        char want[TS_SHA256_HEX_LEN + 1], got[TS_SHA256_HEX_LEN + 1];
        uint8_t d[TS_SHA256_DIGEST_LEN];
        ts_sha256_hex(rnd, sizeof rnd, want);
        int bad = 0;
        for (int round = 0; round < 200; round++) {
            ts_sha256 s;
            ts_sha256_init(&s);
            size_t off = 0;
            while (off < sizeof rnd) {
                size_t c = (size_t)ts_test_rnd_below(151);
                if (c > sizeof rnd - off) c = sizeof rnd - off;
                ts_sha256_update(&s, c ? rnd + off : NULL, c);
                off += c;
            }
            ts_sha256_final(&s, d);
            to_hex(d, got);
            bad += strcmp(got, want) != 0;
        }
        CHECK_EQ_INT(bad, 0);
    }

    /* A context is reusable after final once it is initialised again. */
    {
        ts_sha256 s;
        uint8_t d[TS_SHA256_DIGEST_LEN];
        char got[TS_SHA256_HEX_LEN + 1];
        ts_sha256_init(&s);
        ts_sha256_update(&s, m896, 112);
        ts_sha256_final(&s, d);
        ts_sha256_init(&s);
        ts_sha256_update(&s, "abc", 3);
        ts_sha256_final(&s, d);
        to_hex(d, got);
        CHECK(strcmp(got, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    }

    TS_TEST_MAIN_END();
}
