/*
 * sha1.h - SHA-1 (FIPS 180-4), one-shot.
 *
 * Owns: nothing; the functions are pure (all state is on the caller's stack).
 * Thread: any thread.
 * Why: Redis names a script by the SHA-1 of its body (EVAL/EVALSHA, SCRIPT
 * LOAD, SCRIPT EXISTS) and gives scripts redis.sha1hex; both want the
 * digest as 40 lowercase hex digits. SHA-1 is broken as a collision-resistant
 * hash, but here it is a name Redis clients already compute, not a security
 * boundary. The implementation is our own (src/util/sha1.c), so util needs
 * no crypto library.
 */
#ifndef TESSERA_SHA1_H
#define TESSERA_SHA1_H

#include <stddef.h>

#define TS_SHA1_DIGEST_LEN 20          /* bytes of a digest */
#define TS_SHA1_HEX_LEN 40             /* hex digits of a digest, without the NUL */

/* The 20-byte digest of (data, len); data may be NULL when len is 0. */
void ts_sha1(const void *data, size_t len, unsigned char out[TS_SHA1_DIGEST_LEN]);
/* The same digest as 40 lowercase hex digits and a NUL (41 bytes written),
 * what SCRIPT LOAD replies and redis.sha1hex returns. */
void ts_sha1_hex(const void *data, size_t len, char out[TS_SHA1_HEX_LEN + 1]);

#endif
