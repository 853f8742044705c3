/*
 * Unit test of the AOF scanner (aof_scan.c) and the RDB checker
 * (rdb_check.c): valid files, a truncation at every byte, MULTI blocks,
 * corruption in the middle, huge lengths, and an RDB preamble taken from
 * a real redis-server 7.0.15 SAVE (8 keys of every type, one expire).
 * Every truncated input is scanned from its own malloc'd copy of exactly
 * that many bytes, so an over-read shows under ASan/valgrind.
 */
#include "tessera/persist/aof_scan.h"

#include <stdlib.h>

#include "tessera/config/config.h"
#include "tessera/persist/rdb_check.h"
#include "tessera/types/table.h"
#include "ts_test.h"

/* redis-server 7.0.15: SET s hello, SET n 12345, RPUSH l a b c, HSET h f v,
 * SADD st 1 2 3, ZADD z 1 m, SET e x PX 99999999999, XADD x 1-1 f v; SAVE. */
static const unsigned char redis_rdb[] = {
    0x52, 0x45, 0x44, 0x49, 0x53, 0x30, 0x30, 0x31, 0x30, 0xfa, 0x09, 0x72,
    0x65, 0x64, 0x69, 0x73, 0x2d, 0x76, 0x65, 0x72, 0x06, 0x37, 0x2e, 0x30,
    0x2e, 0x31, 0x35, 0xfa, 0x0a, 0x72, 0x65, 0x64, 0x69, 0x73, 0x2d, 0x62,
    0x69, 0x74, 0x73, 0xc0, 0x40, 0xfa, 0x05, 0x63, 0x74, 0x69, 0x6d, 0x65,
    0xc2, 0xbc, 0x06, 0x13, 0x6b, 0xfa, 0x08, 0x75, 0x73, 0x65, 0x64, 0x2d,
    0x6d, 0x65, 0x6d, 0xc2, 0x28, 0x4a, 0x10, 0x00, 0xfa, 0x08, 0x61, 0x6f,
    0x66, 0x2d, 0x62, 0x61, 0x73, 0x65, 0xc0, 0x00, 0xfe, 0x00, 0xfb, 0x08,
    0x01, 0x0b, 0x02, 0x73, 0x74, 0x0e, 0x02, 0x00, 0x00, 0x00, 0x03, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x02, 0x00, 0x03, 0x00, 0x13, 0x01, 0x78, 0x01,
    0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x1d, 0x1d, 0x00, 0x00, 0x00, 0x0a, 0x00,
    0x01, 0x01, 0x00, 0x01, 0x01, 0x01, 0x81, 0x66, 0x02, 0x00, 0x01, 0x02,
    0x01, 0x00, 0x01, 0x00, 0x01, 0x81, 0x76, 0x02, 0x04, 0x01, 0xff, 0x01,
    0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x73, 0x05,
    0x68, 0x65, 0x6c, 0x6c, 0x6f, 0xfc, 0x8a, 0x37, 0xc9, 0x8a, 0xb9, 0x01,
    0x00, 0x00, 0x00, 0x01, 0x65, 0x01, 0x78, 0x00, 0x01, 0x6e, 0xc1, 0x39,
    0x30, 0x12, 0x01, 0x6c, 0x01, 0x02, 0x10, 0x10, 0x00, 0x00, 0x00, 0x03,
    0x00, 0x81, 0x61, 0x02, 0x81, 0x62, 0x02, 0x81, 0x63, 0x02, 0xff, 0x11,
    0x01, 0x7a, 0x0c, 0x0c, 0x00, 0x00, 0x00, 0x02, 0x00, 0x81, 0x6d, 0x02,
    0x01, 0x01, 0xff, 0x10, 0x01, 0x68, 0x0d, 0x0d, 0x00, 0x00, 0x00, 0x02,
    0x00, 0x81, 0x66, 0x02, 0x81, 0x76, 0x02, 0xff, 0xff, 0x66, 0xf1, 0x69,
    0xee, 0x68, 0x48, 0x65, 0xce,
};

typedef struct seen {
    int n;
    char names[32][16];
    int stop_at;   /* return 1 at this command (1-based), 0 = never */
} seen;

static int record(void *arg, const unsigned char *cmd, size_t len, int argc, ts_arg name)
{
    seen *s = arg;
    (void)argc;
    CHECK(cmd[0] == '*' && len >= 4 && cmd[len - 2] == '\r' && cmd[len - 1] == '\n');
    if (s->n < 32) snprintf(s->names[s->n], sizeof s->names[0], "%.*s", (int)name.len, name.ptr);
    s->n++;
    return s->stop_at && s->n == s->stop_at ? 1 : 0;
}

static int scan_copy(const void *p, size_t n, seen *sn, ts_aof_scan_result *res)
{
    unsigned char *copy = malloc(n ? n : 1);
    memcpy(copy, p, n);
    int rc = ts_aof_scan(copy, n, sn ? record : NULL, sn, res);
    free(copy);
    return rc;
}

#define SELECT0 "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"
#define SETAB "*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\nb\r\n"
#define MULTI "*1\r\n$5\r\nMULTI\r\n"
#define EXEC "*1\r\n$4\r\nexec\r\n"
#define INCR "*2\r\n$4\r\nINCR\r\n$1\r\nc\r\n"

static void test_valid(void)
{
    static const char f[] = SELECT0 SETAB MULTI INCR SETAB EXEC INCR;
    ts_aof_scan_result res;
    seen sn = {0};
    CHECK_EQ_INT(scan_copy(f, sizeof f - 1, &sn, &res), 0);
    CHECK(!res.truncated && !res.corrupt);
    CHECK_EQ_INT(res.valid_len, sizeof f - 1);
    CHECK_EQ_INT(res.rdb_len, 0);
    CHECK_EQ_INT(res.commands, 7);
    CHECK_EQ_INT(res.valid_lines, 5 + 7 + 3 + 5 + 7 + 3 + 5);
    CHECK_EQ_INT(sn.n, 7);
    CHECK(!strcmp(sn.names[0], "SELECT") && !strcmp(sn.names[2], "MULTI") && !strcmp(sn.names[5], "exec"));
    /* The empty file and a binary-safe argument. */
    CHECK_EQ_INT(ts_aof_scan((const unsigned char *)"", 0, NULL, NULL, &res), 0);
    CHECK(!res.truncated && !res.corrupt && res.valid_len == 0);
    static const char bin[] = "*2\r\n$3\r\nGET\r\n$4\r\n\r\n*$\r\n";
    CHECK_EQ_INT(scan_copy(bin, sizeof bin - 1, NULL, &res), 0);
    CHECK(!res.truncated && res.valid_len == sizeof bin - 1);
    /* The callback's non-zero return stops the scan and is returned. */
    seen stop = {.stop_at = 2};
    CHECK_EQ_INT(scan_copy(f, sizeof f - 1, &stop, &res), 1);
    CHECK_EQ_INT(stop.n, 2);
    /* Annotations are skipped. */
    static const char ann[] = "#TS:1700000000\r\n" SETAB "#x\n" INCR;
    seen sa = {0};
    CHECK_EQ_INT(scan_copy(ann, sizeof ann - 1, &sa, &res), 0);
    CHECK(!res.truncated && !res.corrupt && res.valid_len == sizeof ann - 1);
    CHECK_EQ_INT(sa.n, 2);
    CHECK_EQ_INT(scan_copy(ann, 10, NULL, &res), 0);
    CHECK(res.truncated && res.valid_len == 0);
}

/* Every prefix of a file of commands (with a MULTI block) is truncated,
 * except at a boundary outside the block, with valid_len the last such
 * boundary; never corrupt. */
static void test_every_split(void)
{
    static const char *parts[] = {SELECT0, SETAB, MULTI, INCR, SETAB, EXEC, INCR};
    size_t ends[8], n = 0, total = 0;
    char f[512];
    for (size_t i = 0; i < TS_ARRAY_LEN(parts); i++) {
        memcpy(f + total, parts[i], strlen(parts[i]));
        total += strlen(parts[i]);
        ends[n++] = total;
    }
    size_t multi_off = ends[1], exec_end = ends[5];
    int bad = 0;
    for (size_t k = 0; k <= total; k++) {
        size_t expect = 0;
        bool boundary = k == 0;
        for (size_t i = 0; i < n; i++) {
            if (ends[i] <= k) expect = ends[i];
            if (ends[i] == k) boundary = true;
        }
        if (k > multi_off && k < exec_end) {
            expect = multi_off;
            boundary = false;
        }
        ts_aof_scan_result res;
        seen sn = {0};
        int rc = scan_copy(f, k, &sn, &res);
        if (rc != 0 || res.corrupt || res.truncated == boundary || res.valid_len != expect) {
            bad++;
            fprintf(stderr, "split at %zu: rc %d corrupt %d truncated %d valid_len %zu (expected %zu)\n", k, rc,
                    res.corrupt, res.truncated, res.valid_len, expect);
        }
        if (res.truncated && res.error_pos != k && !(k == multi_off + strlen(MULTI) && res.error_pos == k)) {
            bad++;
            fprintf(stderr, "split at %zu: error_pos %zu\n", k, res.error_pos);
        }
        /* The callback saw exactly the commands of the valid prefix. */
        size_t cmds = 0;
        for (size_t i = 0; i < n; i++) cmds += ends[i] <= res.valid_len;
        if ((size_t)sn.n != cmds) {
            bad++;
            fprintf(stderr, "split at %zu: callback saw %d, expected %zu\n", k, sn.n, cmds);
        }
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_multi(void)
{
    static const char f[] = SETAB MULTI INCR;
    ts_aof_scan_result res;
    seen sn = {0};
    CHECK_EQ_INT(scan_copy(f, sizeof f - 1, &sn, &res), 0);
    CHECK(res.truncated && !res.corrupt);
    CHECK_EQ_INT(res.valid_len, strlen(SETAB));
    CHECK_EQ_INT(res.error_off, strlen(SETAB));
    CHECK(!strcmp(res.error, "Reached EOF before reading EXEC for MULTI"));
    CHECK_EQ_INT(sn.n, 1);

    static const char nested[] = SETAB MULTI INCR "*1\r\n$5\r\nmulti\r\n" EXEC;
    CHECK_EQ_INT(scan_copy(nested, sizeof nested - 1, NULL, &res), -1);
    CHECK(res.corrupt && !strcmp(res.error, "Unexpected MULTI"));
    CHECK_EQ_INT(res.error_off, strlen(SETAB MULTI INCR));
    CHECK_EQ_INT(res.valid_len, strlen(SETAB));

    static const char exec[] = SETAB EXEC SETAB;
    CHECK_EQ_INT(scan_copy(exec, sizeof exec - 1, NULL, &res), -1);
    CHECK(res.corrupt && !strcmp(res.error, "Unexpected EXEC"));
    CHECK_EQ_INT(res.error_off, strlen(SETAB));
    CHECK_EQ_INT(res.valid_len, strlen(SETAB));
}

/* Changes byte `at` of a copy of f and expects corruption reported at the
 * command starting at cmd_off, with `text` as the start of the error. */
static void expect_corrupt(const char *f, size_t at, char byte, size_t cmd_off, const char *text)
{
    char buf[512];
    size_t n = strlen(f);
    memcpy(buf, f, n);
    buf[at] = byte;
    ts_aof_scan_result res;
    int rc = scan_copy(buf, n, NULL, &res);
    CHECK_EQ_INT(rc, -1);
    CHECK(res.corrupt && !res.truncated);
    CHECK_EQ_INT(res.error_off, cmd_off);
    CHECK_EQ_INT(res.valid_len, cmd_off);
    if (strncmp(res.error, text, strlen(text)) != 0) {
        ts_test_failed++;
        fprintf(stderr, "corrupt at %zu: error [%s], expected [%s...]\n", at, res.error, text);
    } else {
        ts_test_passed++;
    }
}

static void test_corrupt(void)
{
    static const char f[] = SELECT0 SETAB INCR;
    size_t c1 = strlen(SELECT0), c2 = strlen(SELECT0 SETAB);
    expect_corrupt(f, c1, 'x', c1, "Expected prefix '*', got: 'x'");
    expect_corrupt(f, c1 + 4, 'x', c1, "Expected prefix '$', got: 'x'");
    expect_corrupt(f, c1 + 4, '\0', c1, "Expected prefix '$', got: '\\x00'");
    expect_corrupt(f, c2 + 4, '#', c2, "Expected prefix '$'");
    expect_corrupt(f, c1 + 2, 'x', c1, "Expected \\r\\n, got: 780a");          /* "*3x\n" */
    expect_corrupt(f, c1 + 1, 'x', c1, "Expected \\r\\n, got: 780d");          /* "*x\r\n" */
    expect_corrupt(f, c1 + 3, 'x', c1, "Expected \\r\\n, got: 0d78");          /* "*3\rx" */
    expect_corrupt(f, c1 + 11, 'x', c1, "Expected \\r\\n, got: 780a");         /* after "set" */
    expect_corrupt(f, c1 + 12, 'x', c1, "Expected \\r\\n, got: 0d78");
    expect_corrupt(f, c1 + 1, '0', c1, "Invalid argument count 0");
    expect_corrupt(f, c1 + 1, '-', c1, "Expected a number after '*'");     /* "*-\r\n" */
    /* The error position is the wrong byte itself. */
    ts_aof_scan_result res;
    char buf[256];
    memcpy(buf, f, sizeof f);
    buf[c1 + 4] = 'x';
    scan_copy(buf, sizeof f - 1, NULL, &res);
    CHECK_EQ_INT(res.error_pos, c1 + 4);
    /* A wrong byte right at the end is corrupt, not truncated. */
    static const char tail[] = SETAB "*1\n";
    CHECK_EQ_INT(scan_copy(tail, sizeof tail - 1, NULL, &res), -1);
    CHECK(res.corrupt && res.error_off == strlen(SETAB));
    static const char tail2[] = SETAB "*1\r\n$4\r\nPINGx";
    CHECK_EQ_INT(scan_copy(tail2, sizeof tail2 - 1, NULL, &res), -1);
    CHECK(res.corrupt);
    static const char tail3[] = SETAB "*1\r\n$4\r\nPING\r";
    CHECK_EQ_INT(scan_copy(tail3, sizeof tail3 - 1, NULL, &res), 0);
    CHECK(res.truncated && res.valid_len == strlen(SETAB));
}

static void test_huge(void)
{
    ts_aof_scan_result res;
    static const char over[] = SETAB "*1\r\n$999999999999999999999999999999\r\nPING\r\n";
    CHECK_EQ_INT(scan_copy(over, sizeof over - 1, NULL, &res), -1);
    CHECK(res.corrupt && res.error_off == strlen(SETAB));
    CHECK(!strcmp(res.error, "Expected to read string of 9223372036854775807 bytes, which is not in the suitable range"));
    static const char max[] = SETAB "*1\r\n$9223372036854775806\r\nPING\r\n";
    CHECK_EQ_INT(scan_copy(max, sizeof max - 1, NULL, &res), -1);
    CHECK(res.corrupt);
    static const char neg[] = SETAB "*1\r\n$-1\r\nPING\r\n";
    CHECK_EQ_INT(scan_copy(neg, sizeof neg - 1, NULL, &res), -1);
    CHECK(res.corrupt && !strcmp(res.error, "Expected to read string of -1 bytes, which is not in the suitable range"));
    /* Big but representable: only the bytes that are there are looked at. */
    static const char big[] = SETAB "*1\r\n$9223372036854775805\r\nPING\r\n";
    CHECK_EQ_INT(scan_copy(big, sizeof big - 1, NULL, &res), 0);
    CHECK(res.truncated && res.valid_len == strlen(SETAB));
    CHECK(!strcmp(res.error, "Expected to read 9223372036854775807 bytes, got 6 bytes"));
    static const char argc[] = SETAB "*2147483648\r\n$4\r\nPING\r\n";
    CHECK_EQ_INT(scan_copy(argc, sizeof argc - 1, NULL, &res), -1);
    CHECK(res.corrupt && !strcmp(res.error, "Invalid argument count 2147483648"));
    static const char many[] = SETAB "*2147483647\r\n$4\r\nPING\r\n";
    CHECK_EQ_INT(scan_copy(many, sizeof many - 1, NULL, &res), 0);
    CHECK(res.truncated && res.valid_len == strlen(SETAB));
}

static void test_rdb_check(void)
{
    ts_config cfg;
    ts_config_init_defaults(&cfg);
    ts_rdb_check_stats st;
    char err[256];
    size_t n = 0;
    CHECK_EQ_INT(ts_rdb_check_mem(redis_rdb, sizeof redis_rdb, &cfg, &n, &st, err, sizeof err), 0);
    CHECK_EQ_INT(n, sizeof redis_rdb);
    CHECK_EQ_INT(st.version, 10);
    CHECK_EQ_INT(st.keys, 8);
    CHECK_EQ_INT(st.expires, 1);
    CHECK_EQ_INT(st.aux_fields, 5);
    CHECK_EQ_INT(st.dbs, 1);
    CHECK_EQ_INT(st.checksum, 1);
    CHECK_EQ_INT(st.types[TS_TYPE_STRING], 3);
    CHECK_EQ_INT(st.types[TS_TYPE_LIST], 1);
    CHECK_EQ_INT(st.types[TS_TYPE_SET], 1);
    CHECK_EQ_INT(st.types[TS_TYPE_ZSET], 1);
    CHECK_EQ_INT(st.types[TS_TYPE_HASH], 1);
    CHECK_EQ_INT(st.types[TS_TYPE_STREAM], 1);
    /* Every truncation fails with an offset inside the image. */
    int bad = 0;
    for (size_t k = 0; k < sizeof redis_rdb; k++) {
        unsigned char *copy = malloc(k ? k : 1);
        memcpy(copy, redis_rdb, k);
        if (ts_rdb_check_mem(copy, k, &cfg, &n, &st, err, sizeof err) != -1 || st.error_off > k) bad++;
        free(copy);
    }
    CHECK_EQ_INT(bad, 0);
    /* Every flipped byte fails (CRC or structure), never crashes; a zero
     * trailer skips the CRC. */
    bad = 0;
    unsigned char copy[sizeof redis_rdb];
    for (size_t k = 0; k < sizeof redis_rdb; k++) {
        memcpy(copy, redis_rdb, sizeof copy);
        copy[k] ^= 0x5a;
        if (ts_rdb_check_mem(copy, sizeof copy, &cfg, &n, &st, err, sizeof err) != -1) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    memcpy(copy, redis_rdb, sizeof copy);
    memset(copy + sizeof copy - 8, 0, 8);
    CHECK_EQ_INT(ts_rdb_check_mem(copy, sizeof copy, &cfg, &n, &st, err, sizeof err), 0);
    CHECK_EQ_INT(st.checksum, 0);
    memcpy(copy, redis_rdb, sizeof copy);
    copy[sizeof copy - 1] ^= 1;
    CHECK_EQ_INT(ts_rdb_check_mem(copy, sizeof copy, &cfg, &n, &st, err, sizeof err), -1);
    CHECK(strstr(err, "Wrong RDB checksum") != NULL);
    CHECK_EQ_INT(st.error_off, sizeof copy - 8);
    ts_config_free(&cfg);
}

static void test_preamble(void)
{
    static const char tail[] = SELECT0 SETAB MULTI INCR EXEC;
    size_t tn = sizeof tail - 1, total = sizeof redis_rdb + tn;
    unsigned char *f = malloc(total);
    memcpy(f, redis_rdb, sizeof redis_rdb);
    memcpy(f + sizeof redis_rdb, tail, tn);
    ts_aof_scan_result res;
    seen sn = {0};
    CHECK_EQ_INT(scan_copy(f, total, &sn, &res), 0);
    CHECK(!res.truncated && !res.corrupt);
    CHECK_EQ_INT(res.rdb_len, sizeof redis_rdb);
    CHECK_EQ_INT(res.valid_len, total);
    CHECK_EQ_INT(res.rdb.keys, 8);
    CHECK_EQ_INT(res.commands, 5);
    CHECK_EQ_INT(sn.n, 5);
    /* The preamble alone is a valid AOF. */
    CHECK_EQ_INT(scan_copy(f, sizeof redis_rdb, NULL, &res), 0);
    CHECK(!res.truncated && res.valid_len == sizeof redis_rdb);
    /* A cut in the tail is a truncation after the preamble. */
    CHECK_EQ_INT(scan_copy(f, sizeof redis_rdb + strlen(SELECT0) + 3, NULL, &res), 0);
    CHECK(res.truncated && res.valid_len == sizeof redis_rdb + strlen(SELECT0));
    /* A cut or a flipped byte in the preamble is corrupt. */
    CHECK_EQ_INT(scan_copy(f, sizeof redis_rdb - 3, NULL, &res), -1);
    CHECK(res.corrupt && res.valid_len == 0 && !strncmp(res.error, "RDB preamble is not valid: ", 27));
    f[100] ^= 0xff;
    CHECK_EQ_INT(scan_copy(f, total, NULL, &res), -1);
    CHECK(res.corrupt && res.valid_len == 0);
    f[100] ^= 0xff;

    /* ts_aof_scan_after (startup: the RDB loader has read the preamble):
     * the preamble's bytes are not looked at, offsets stay absolute. */
    unsigned char *junk = malloc(total);
    memcpy(junk, f, total);
    memset(junk, 0xee, sizeof redis_rdb);                 /* would not check as an RDB */
    seen after = {0};
    CHECK_EQ_INT(ts_aof_scan_after(junk, total, sizeof redis_rdb, record, &after, &res), 0);
    CHECK(!res.truncated && !res.corrupt);
    CHECK_EQ_INT(res.rdb_len, sizeof redis_rdb);
    CHECK_EQ_INT(res.valid_len, total);
    CHECK_EQ_INT(res.commands, 5);
    CHECK_EQ_INT(after.n, 5);
    CHECK(!strcmp(after.names[0], "SELECT") && !strcmp(after.names[4], "exec"));
    /* A torn tail: cut at the last complete command, absolute offset. */
    CHECK_EQ_INT(ts_aof_scan_after(junk, sizeof redis_rdb + strlen(SELECT0) + 3, sizeof redis_rdb, NULL, NULL, &res), 0);
    CHECK(res.truncated && res.valid_len == sizeof redis_rdb + strlen(SELECT0));
    /* Bad syntax in the tail: corrupt at its absolute offset. */
    junk[sizeof redis_rdb + strlen(SELECT0)] = 'x';
    CHECK_EQ_INT(ts_aof_scan_after(junk, total, sizeof redis_rdb, NULL, NULL, &res), -1);
    CHECK(res.corrupt && res.error_off == sizeof redis_rdb + strlen(SELECT0));
    CHECK_EQ_INT(res.valid_len, sizeof redis_rdb + strlen(SELECT0));
    /* Only a preamble; a preamble length past the end is clamped. */
    CHECK_EQ_INT(ts_aof_scan_after(junk, sizeof redis_rdb, sizeof redis_rdb, NULL, NULL, &res), 0);
    CHECK(!res.truncated && res.valid_len == sizeof redis_rdb);
    CHECK_EQ_INT(ts_aof_scan_after(junk, 10, sizeof redis_rdb, NULL, NULL, &res), 0);
    CHECK(!res.truncated && res.valid_len == 10 && res.rdb_len == 10);
    free(junk);
    free(f);
}

int main(void)
{
    test_valid();
    test_every_split();
    test_multi();
    test_corrupt();
    test_huge();
    test_rdb_check();
    test_preamble();
    TS_TEST_MAIN_END();
}
