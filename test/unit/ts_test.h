/*
 * ts_test.h - the tiny assertion kit of the C unit tests.
 *
 * Each test file is one executable; CHECK records a failure and goes on,
 * TS_TEST_MAIN_END prints "N passed, N failed" and sets the exit code that
 * ctest reads.
 */
#ifndef TS_TEST_H
#define TS_TEST_H
#include <stdio.h>
#include <string.h>

static int ts_test_passed, ts_test_failed;

#define CHECK(cond) do { \
    if (cond) ts_test_passed++; \
    else { ts_test_failed++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_EQ_INT(a, b) do { \
    long long _a = (long long)(a), _b = (long long)(b); \
    if (_a == _b) ts_test_passed++; \
    else { ts_test_failed++; fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, _a, _b); } \
} while (0)

#define CHECK_MEM(p, n, s) CHECK((n) == strlen(s) && memcmp((p), (s), (n)) == 0)

/* A deterministic pseudo-random stream for tests (splitmix64); seed it by
 * assigning ts_test_rng. */
static unsigned long long ts_test_rng = 0x2545F4914F6CDD1Dull;
static inline unsigned long long ts_test_rnd(void)
{
    unsigned long long z = (ts_test_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A draw below n (n > 0), by modulo: the tests need no exact uniformity. */
static inline unsigned long long ts_test_rnd_below(unsigned long long n) { return ts_test_rnd() % n; }

#define TS_TEST_MAIN_END() do { \
    printf("%d passed, %d failed\n", ts_test_passed, ts_test_failed); \
    return ts_test_failed ? 1 : 0; \
} while (0)
#endif
