/*
 * sha256.h - SHA-256 (FIPS 180-4), incremental and one-shot.
 *
 * Owns: nothing but the caller's ts_sha256 context; the functions are pure.
 * Thread: any thread; a context belongs to whoever holds it (no locking).
 * Why: the ACL keeps user passwords the way Redis does, as the lowercase hex
 * SHA-256 digest of the password, and compares digests rather than
 * passwords. The implementation is our own (src/util/sha256.c), so util
 * needs no crypto library.
 *
 * Use: ts_sha256_init, any number of ts_sha256_update calls (the digest
 * depends only on the concatenated bytes, not on how they were split), then
 * ts_sha256_final, which writes the 32-byte digest and clears the context
 * (init it again to hash another message). ts_sha256_hex does all three and
 * writes the digest as 64 lowercase hex digits and a NUL.
 */
#ifndef TESSERA_SHA256_H
#define TESSERA_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define TS_SHA256_DIGEST_LEN 32        /* bytes of a digest */
#define TS_SHA256_BLOCK_LEN 64         /* bytes of a message block */
#define TS_SHA256_HEX_LEN 64           /* hex digits of a digest, without the NUL */

typedef struct ts_sha256 {
    uint32_t h[8];                     /* the running hash value H(i) */
    uint64_t len;                      /* message bytes hashed so far */
    uint8_t block[TS_SHA256_BLOCK_LEN];/* a partial block waiting for more bytes */
    size_t used;                       /* bytes of block in use, 0..63 */
} ts_sha256;

void ts_sha256_init(ts_sha256 *s);
/* data may be NULL when len is 0. */
void ts_sha256_update(ts_sha256 *s, const void *data, size_t len);
void ts_sha256_final(ts_sha256 *s, uint8_t out[TS_SHA256_DIGEST_LEN]);
/* One shot: out receives 64 lowercase hex digits and a NUL. */
void ts_sha256_hex(const void *data, size_t len, char out[TS_SHA256_HEX_LEN + 1]);

#endif
