/*
 * strconv.c (unit test) - the C-string views of an argument that Redis's
 * key lookups take: ts_arg_atoi against glibc's own (int)strtol on fixed
 * and random inputs, ts_ll_to_int_wrap against gcc's cast, and
 * ts_arg_cstr_eq's end at the first NUL.
 *
 * Single-threaded.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/util/strconv.h"

#include "ts_test.h"

/* What Redis gets: atoi(), i.e. (int)strtol, on the argument as a C string. */
static int glibc_atoi(const char *s, size_t n)
{
    char buf[64];
    memcpy(buf, s, n);
    buf[n] = '\0';
    return (int)strtol(buf, NULL, 10);
}

static void check_atoi(const char *s, size_t n)
{
    int want = glibc_atoi(s, n), got = ts_arg_atoi((ts_arg){s, n});
    if (got == want) {
        ts_test_passed++;
    } else {
        ts_test_failed++;
        fprintf(stderr, "atoi(\"%.*s\") = %d, glibc %d\n", (int)n, s, got, want);
    }
}

int main(void)
{
    static const char *fixed[] = {
        "0", "1", "-1", "+2", "02", " 2", "\t\n\v\f\r 7", "2x", "x2", "", "-", "+", "--1", "+-1", " - 1",
        "2147483647", "2147483648", "-2147483648", "-2147483649", "4294967297", "4294967295",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
        "99999999999999999999999", "-99999999999999999999999", "00000000000000000000000012", "1e3", "0x10",
    };
    for (size_t i = 0; i < TS_ARRAY_LEN(fixed); i++) check_atoi(fixed[i], strlen(fixed[i]));
    /* an embedded NUL ends the number, as it ends Redis's C string */
    CHECK_EQ_INT(ts_arg_atoi((ts_arg){"12\0003", 4}), 12);

    static const char alphabet[] = "0123456789 +-\tx9";
    for (int round = 0; round < 200000; round++) {
        char s[40];
        size_t n = (size_t)ts_test_rnd_below(sizeof(s) - 1);
        for (size_t i = 0; i < n; i++) s[i] = alphabet[ts_test_rnd_below(sizeof(alphabet) - 1)];
        check_atoi(s, n);
    }

    CHECK_EQ_INT(ts_ll_to_int_wrap(5), 5);
    CHECK_EQ_INT(ts_ll_to_int_wrap(-5), -5);
    CHECK_EQ_INT(ts_ll_to_int_wrap(4294967297LL), 1);
    CHECK_EQ_INT(ts_ll_to_int_wrap(4294967295LL), -1);
    CHECK_EQ_INT(ts_ll_to_int_wrap(2147483648LL), INT_MIN);
    CHECK_EQ_INT(ts_ll_to_int_wrap(LLONG_MAX), -1);
    CHECK_EQ_INT(ts_ll_to_int_wrap(LLONG_MIN), 0);
    for (int round = 0; round < 100000; round++) {
        long long v = (long long)ts_test_rnd();
        CHECK_EQ_INT(ts_ll_to_int_wrap(v), (int)v);   /* gcc's cast: modulo 2^32 */
    }

    CHECK(ts_arg_cstr_eq((ts_arg){"GET", 3}, "get"));
    CHECK(ts_arg_cstr_eq((ts_arg){"get\0x", 5}, "get"));
    CHECK(!ts_arg_cstr_eq((ts_arg){"ge", 2}, "get"));
    CHECK(!ts_arg_cstr_eq((ts_arg){"ge\0t", 4}, "get"));
    CHECK(!ts_arg_cstr_eq((ts_arg){"gets", 4}, "get"));
    CHECK(ts_arg_cstr_eq((ts_arg){"", 0}, ""));
    CHECK(ts_arg_cstr_eq((ts_arg){"\0a", 2}, ""));
    TS_TEST_MAIN_END();
}
