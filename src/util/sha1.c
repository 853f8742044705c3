/*
 * sha1.c - SHA-1 as FIPS 180-4 specifies it (sections 4.1.1, 4.2.1, 5.1.1,
 * 5.3.1 and 6.1), written from the standard.
 *
 * Owns: ts_sha1, ts_sha1_hex. Thread: pure, any thread.
 *
 * Shape: the one-shot functions compress the caller's whole blocks in
 * place and copy only the tail (under 64 bytes) into a stack block for the
 * padding, so nothing is allocated. Words are read and written big-endian
 * byte by byte, so the code depends on neither the host's byte order nor the
 * input's alignment; every byte is widened to uint32_t before it is shifted.
 * The message schedule is the 16-word circular form of section 6.1.3
 * (the standard's alternative method), which keeps the stack frame small.
 *
 * The length goes into the padding as a bit count modulo 2^64; a message of
 * 2^61 bytes or more is beyond what the standard defines and beyond any
 * script body.
 */
#include "tessera/util/sha1.h"

#include <stdint.h>
#include <string.h>

#define BLOCK 64

/* Section 5.3.1. */
static const uint32_t H0[5] = { 0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u };

/* Section 3.2: rotate left by n, 0 < n < 32. */
static inline uint32_t rotl(uint32_t x, unsigned n) { return (x << n) | (x >> (32u - n)); }

static inline uint32_t load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Sections 4.1.1 and 4.2.1: f_t and K_t for the four rounds of 20 steps. */
static inline uint32_t f_and_k(int t, uint32_t b, uint32_t c, uint32_t d, uint32_t *k)
{
    if (t < 20) { *k = 0x5a827999u; return (b & c) ^ (~b & d); }   /* Ch */
    if (t < 40) { *k = 0x6ed9eba1u; return b ^ c ^ d; }            /* Parity */
    if (t < 60) { *k = 0x8f1bbcdcu; return (b & c) ^ (b & d) ^ (c & d); } /* Maj */
    *k = 0xca62c1d6u;
    return b ^ c ^ d;                                              /* Parity */
}

/* Section 6.1.3: one 64-byte block into the hash value h, with the
 * schedule kept as 16 words (W[s] for s = t mod 16). */
static void compress(uint32_t h[5], const uint8_t *block)
{
    uint32_t w[16];
    for (int t = 0; t < 16; t++) w[t] = load_be32(block + 4 * t);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int t = 0; t < 80; t++) {
        int s = t & 15;
        if (t >= 16)
            w[s] = rotl(w[(s + 13) & 15] ^ w[(s + 8) & 15] ^ w[(s + 2) & 15] ^ w[s], 1);
        uint32_t k, f = f_and_k(t, b, c, d, &k);
        uint32_t tmp = rotl(a, 5) + f + e + k + w[s];
        e = d;
        d = c;
        c = rotl(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

void ts_sha1(const void *data, size_t len, unsigned char out[TS_SHA1_DIGEST_LEN])
{
    const uint8_t *p = data;
    uint32_t h[5];
    memcpy(h, H0, sizeof h);
    size_t whole = len - len % BLOCK;
    for (size_t off = 0; off < whole; off += BLOCK) compress(h, p + off);

    /* Section 5.1.1: the tail, the byte 0x80, zeros up to 56 mod 64, then
     * the length in bits as a 64-bit big-endian number; when fewer than 8
     * bytes are left after the 0x80, the padding spills into one more block. */
    uint8_t block[BLOCK];
    size_t n = len - whole;
    if (n > 0) memcpy(block, p + whole, n);    /* p may be NULL when len is 0 */
    block[n++] = 0x80;
    if (n > BLOCK - 8) {
        memset(block + n, 0, BLOCK - n);
        compress(h, block);
        n = 0;
    }
    memset(block + n, 0, BLOCK - 8 - n);
    uint64_t bits = (uint64_t)len << 3;
    store_be32(block + 56, (uint32_t)(bits >> 32));
    store_be32(block + 60, (uint32_t)bits);
    compress(h, block);
    for (int i = 0; i < 5; i++) store_be32(out + 4 * i, h[i]);
}

void ts_sha1_hex(const void *data, size_t len, char out[TS_SHA1_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char d[TS_SHA1_DIGEST_LEN];
    ts_sha1(data, len, d);
    for (int i = 0; i < TS_SHA1_DIGEST_LEN; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 0x0f];
    }
    out[TS_SHA1_HEX_LEN] = '\0';
}
