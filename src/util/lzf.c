/*
 * lzf.c - LZF compression in liblzf's stream format, the format of Redis's
 * compressed RDB strings (rdbcompression) and of compressed list nodes.
 *
 * Owns: nothing; both directions work on the caller's buffers. Any thread.
 *
 * Format (liblzf's lzf_d.c defines it by decoding): a sequence of
 *   literal run   000LLLLL, then L+1 bytes copied as they are (1..32);
 *   back-ref      LLLOOOOO [L'] OOOOOOOO: copy (L + 2) bytes (L = 7 means
 *                 7 + L', up to 264) starting (O + 1) bytes back in the
 *                 output (O has 13 bits: at most 8192 back); the source
 *                 may overlap the bytes being written.
 * The compressor is our own greedy matcher over a 3-byte hash table; it
 * emits the same format, not necessarily the same bytes as liblzf (any
 * LZF decoder, Redis's included, reads it).
 *
 * The decompressor reads untrusted input (RDB files, RESTORE payloads):
 * every read and write is checked against the buffers' ends and every
 * back-reference against the start of the output, and a violation returns
 * 0 without touching memory outside [in, in+in_len) and [out, out+out_cap).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/util/lzf.h"

#define LZF_HLOG 14                    /* at most 16384 hash slots, like liblzf's default */
#define LZF_HLOG_MIN 8                 /* short strings (most of a snapshot's) get a small table */
#define LZF_MAX_LIT 32                 /* 5 bits of run length */
#define LZF_MAX_OFF (1u << 13)         /* 13 bits of distance - 1 */
#define LZF_MAX_REF (264u)             /* 7 + 255 + 2 */

/* Knuth's multiplicative hash of the next 3 bytes, hlog bits. */
static inline uint32_t lzf_hash(const unsigned char *p, int hlog)
{
    uint32_t v = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
    return (v * 2654435761u) >> (32 - hlog);
}

/* Appends the literals [from, to) as runs of up to 32; false if out fills. */
static bool emit_literals(const unsigned char *from, const unsigned char *to, unsigned char *out, size_t out_cap,
                          size_t *op)
{
    while (from < to) {
        size_t n = (size_t)(to - from) < LZF_MAX_LIT ? (size_t)(to - from) : LZF_MAX_LIT;
        if (out_cap - *op < n + 1) return false;
        out[(*op)++] = (unsigned char)(n - 1);
        memcpy(out + *op, from, n);
        *op += n;
        from += n;
    }
    return true;
}

size_t ts_lzf_compress(const void *in, size_t in_len, void *out, size_t out_cap)
{
    const unsigned char *ip = in, *base = in, *end = base + in_len, *lit = base;
    unsigned char *o = out;
    size_t op = 0;
    if (in_len == 0) return 0;
    /* Slots hold position + 1 (0 = empty). About one slot per input byte:
     * zeroing a 64 KB table for a 30-byte string would cost more than
     * compressing it. */
    int hlog = LZF_HLOG_MIN;
    while (hlog < LZF_HLOG && ((size_t)1 << hlog) < in_len) hlog++;
    uint32_t *htab = calloc((size_t)1 << hlog, sizeof(uint32_t));
    if (!htab) return 0;
    bool ok = true;
    while (ok && end - ip >= 3) {
        uint32_t h = lzf_hash(ip, hlog);
        uint32_t slot = htab[h];
        htab[h] = (uint32_t)(ip - base) + 1;
        const unsigned char *ref = slot ? base + (slot - 1) : NULL;
        if (!ref || (size_t)(ip - ref) > LZF_MAX_OFF || memcmp(ref, ip, 3) != 0) { ip++; continue; }
        size_t max = (size_t)(end - ip) < LZF_MAX_REF ? (size_t)(end - ip) : LZF_MAX_REF;
        size_t len = 3;
        while (len < max && ref[len] == ip[len]) len++;
        if (!emit_literals(lit, ip, o, out_cap, &op)) { ok = false; break; }
        size_t off = (size_t)(ip - ref) - 1, l = len - 2;
        if (out_cap - op < (l >= 7 ? 4u : 3u)) { ok = false; break; }
        if (l < 7) {
            o[op++] = (unsigned char)((l << 5) | (off >> 8));
        } else {
            o[op++] = (unsigned char)((7u << 5) | (off >> 8));
            o[op++] = (unsigned char)(l - 7);
        }
        o[op++] = (unsigned char)(off & 0xff);
        /* Index the positions inside the match too: better ratios on
         * repetitive data for one hash per byte. */
        for (const unsigned char *q = ip + 1; q < ip + len && end - q >= 3; q++)
            htab[lzf_hash(q, hlog)] = (uint32_t)(q - base) + 1;
        ip += len;
        lit = ip;
    }
    if (ok) ok = emit_literals(lit, end, o, out_cap, &op);
    free(htab);
    return ok ? op : 0;
}

size_t ts_lzf_decompress(const void *in, size_t in_len, void *out, size_t out_cap)
{
    const unsigned char *ip = in, *iend = ip + in_len;
    unsigned char *o = out;
    size_t op = 0;
    while (ip < iend) {
        unsigned ctrl = *ip++;
        if (ctrl < (1u << 5)) {
            size_t n = ctrl + 1;
            if ((size_t)(iend - ip) < n || out_cap - op < n) return 0;
            memcpy(o + op, ip, n);
            ip += n;
            op += n;
        } else {
            size_t len = ctrl >> 5;
            size_t back = ((size_t)(ctrl & 0x1f) << 8) + 1;
            if (len == 7) {
                if (ip >= iend) return 0;
                len += *ip++;
            }
            if (ip >= iend) return 0;
            back += *ip++;
            len += 2;
            if (back > op || out_cap - op < len) return 0;
            /* Byte by byte: the source may overlap what is written. */
            for (size_t i = 0; i < len; i++, op++) o[op] = o[op - back];
        }
    }
    return op;
}
