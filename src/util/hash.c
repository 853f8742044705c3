/*
 * hash.c - the seeded 64-bit key hash (see hash.h).
 *
 * Owns the process-wide seed, written once by ts_hash_seed_init() on the
 * main thread before workers start and read-only afterwards, so every
 * thread may hash concurrently.
 *
 * Design. The one primitive is fold(a, b): the full 128-bit product of two
 * 64-bit words with its high half XORed into its low half. One fold spreads
 * every input bit over the whole output word, costs one multiply, and its
 * only weak input - an operand of zero, which absorbs the other - is out of
 * an attacker's reach because every operand is XORed with a seed-derived
 * secret first.
 *
 *   - Up to 16 bytes (the common key): the bytes become two words a, b with
 *     overlapping loads (8..16 bytes: first and last 8; 4..7: first and last
 *     4; 1..3: first, middle and last byte), with no loop and no branch on
 *     each byte.
 *   - Longer input: a single chain s = fold(w0 ^ k, w1 ^ s) over each
 *     16-byte block except the last, then the last 16 bytes of the input
 *     (which may overlap the previous block) become a, b.
 *   - Finish: x = fold(a ^ k, b ^ s), then a second fold with the length so
 *     inputs that differ only by overlapping loads still differ, and so the
 *     low bits (the ones a power-of-two table uses) depend on every input bit.
 *
 * All loads go through memcpy, so unaligned keys are fine and there is no
 * strict-aliasing or alignment UB. The result depends on byte order, which
 * does not matter: hashes never leave the process.
 */
#include "tessera/util/hash.h"

#include "tessera/util/common.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Nothing-up-my-sleeve constants: the golden ratio and the fractional parts
 * of the square roots of 2, 3, 5 and 7. */
#define TS_HK0 UINT64_C(0x9E3779B97F4A7C15)
#define TS_HK1 UINT64_C(0x6A09E667F3BCC909)
#define TS_HK2 UINT64_C(0xBB67AE8584CAA73B)
#define TS_HK3 UINT64_C(0x3C6EF372FE94F82B)
#define TS_HK4 UINT64_C(0xA54FF53A5F1D36F1)

static uint64_t ts_hash_seed_value = TS_HK0;

static inline uint64_t ts_hash_fold(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
    __extension__ typedef unsigned __int128 u128;
    u128 r = (u128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    /* Schoolbook 64x64->128 from 32-bit halves. */
    uint64_t al = a & 0xFFFFFFFFu, ah = a >> 32, bl = b & 0xFFFFFFFFu, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (lh & 0xFFFFFFFFu) + (hl & 0xFFFFFFFFu);
    uint64_t lo = (mid << 32) | (ll & 0xFFFFFFFFu);
    uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    return lo ^ hi;
#endif
}

static inline uint64_t ts_hash_rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint64_t ts_hash_rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

uint64_t ts_hash_with_seed(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    const uint64_t k = seed ^ TS_HK1;
    uint64_t s = seed ^ TS_HK2;
    uint64_t a, b;

    if (TS_LIKELY(len <= 16)) {
        if (len >= 8) {
            a = ts_hash_rd64(p);
            b = ts_hash_rd64(p + len - 8);
        } else if (len >= 4) {
            a = ts_hash_rd32(p);
            b = ts_hash_rd32(p + len - 4);
        } else if (len > 0) {
            a = ((uint64_t)p[0] << 16) | ((uint64_t)p[len >> 1] << 8) | p[len - 1];
            b = 0;
        } else {
            a = 0;
            b = 0;
        }
    } else {
        const unsigned char *end = p + len;
        size_t n = len;
        do {
            s = ts_hash_fold(ts_hash_rd64(p) ^ k, ts_hash_rd64(p + 8) ^ s);
            p += 16;
            n -= 16;
        } while (n > 16);
        a = ts_hash_rd64(end - 16);
        b = ts_hash_rd64(end - 8);
    }
    uint64_t x = ts_hash_fold(a ^ k, b ^ s);
    return ts_hash_fold(x ^ TS_HK3, (uint64_t)len ^ seed ^ TS_HK4);
}

uint64_t ts_hash(const void *p, size_t len)
{
    return ts_hash_with_seed(p, len, ts_hash_seed_value);
}

uint64_t ts_hash_seed(void)
{
    return ts_hash_seed_value;
}

void ts_hash_seed_init(void)
{
    uint64_t seed = 0;
    unsigned char *dst = (unsigned char *)&seed;
    size_t got = 0;
    while (got < sizeof seed) {
        ssize_t n = getrandom(dst + got, sizeof seed - got, 0);
        if (n > 0) {
            got += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            break;
        }
    }
    if (got < sizeof seed) {
        /* No kernel entropy (very old kernel, seccomp): mix what varies
         * between runs. Weaker against flooding, but still a seed. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = ts_hash_fold((uint64_t)ts.tv_sec ^ TS_HK3, (uint64_t)ts.tv_nsec ^ TS_HK4);
        seed ^= ts_hash_fold((uint64_t)getpid() ^ TS_HK1, (uint64_t)(uintptr_t)&seed ^ TS_HK2);
    }
    ts_hash_seed_value = seed;
}
