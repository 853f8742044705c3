/*
 * hash.h - Tessera's seeded 64-bit hash function for keys.
 *
 * Owns: the process-wide hash seed. ts_hash_seed_init() draws it from the
 * kernel once, at start-up, before any worker thread exists; after that the
 * seed is only read, so ts_hash() may be called from any thread without
 * locks or atomics.
 *
 * Shape: the hash is a small multiply-fold design (a 64x64->128 bit multiply
 * whose two halves are XORed together) that consumes 16 bytes per round and
 * reads keys of up to 16 bytes - almost every real key - with two
 * overlapping loads and no loop. Every multiplier operand is XORed with a
 * secret derived from the seed, so a client that does not know the seed
 * cannot craft keys that all land in one bucket. It is not a cryptographic
 * hash and must not be used as one.
 */
#ifndef TESSERA_HASH_H
#define TESSERA_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Seeds ts_hash() from getrandom() (a clock/pid mix if that fails). Call
 * once from the main thread before starting workers. Without a call the
 * seed is a fixed constant, which keeps tests reproducible. */
void ts_hash_seed_init(void);

/* The current process seed (for code that wants to derive its own secrets,
 * e.g. to seed a PRNG). */
uint64_t ts_hash_seed(void);

/* Hashes len bytes at p with the process seed. Reads only [p, p+len). */
uint64_t ts_hash(const void *p, size_t len);

/* Same function with an explicit seed (tests, or callers that need a hash
 * that is stable across processes). */
uint64_t ts_hash_with_seed(const void *p, size_t len, uint64_t seed);

#endif
