/* aof_log.c: the RESP encoding of logged commands, SELECT insertion, and
 * that every handed-over buffer starts with a SELECT; checked by
 * re-scanning the bytes with aof_scan.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/store/aof_log.h"
#include "tessera/persist/aof_scan.h"
#include "ts_test.h"

static void test_encoding(void)
{
    ts_aof_log l;
    ts_aof_log_init(&l);
    ts_arg set[3] = {{"SET", 3}, {"k", 1}, {"a\r\nb", 4}};
    ts_aof_log_argv(&l, 0, 3, set);
    const char *want = "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n";
    CHECK_MEM(l.buf.data, l.buf.len, want);
    /* Same db: no second SELECT. */
    size_t before = l.buf.len;
    ts_aof_log_argv(&l, 0, 3, set);
    CHECK(l.buf.len - before == strlen(want) - strlen("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"));
    /* Another db: a SELECT first. Piecewise with numbers and empty args. */
    ts_aof_log_begin(&l, 12, 3);
    ts_aof_log_arg_str(&l, "PEXPIREAT");
    ts_aof_log_arg(&l, "", 0);
    ts_aof_log_arg_ll(&l, -9223372036854775807LL - 1);
    CHECK(strstr(l.buf.data + before, "*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n*3\r\n$9\r\nPEXPIREAT\r\n$0\r\n\r\n"
                                      "$20\r\n-9223372036854775808\r\n") != NULL);
    ts_buf taken;
    ts_aof_log_take(&l, &taken);
    CHECK(l.buf.len == 0 && l.db == -1);
    /* After a hand-over the next command SELECTs again, even for the same db. */
    ts_aof_log_argv(&l, 12, 3, set);
    CHECK(l.buf.len > 10 && memcmp(l.buf.data, "*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n", 24) == 0);
    ts_aof_scan_result res;
    CHECK_EQ_INT(ts_aof_scan((const unsigned char *)taken.data, taken.len, NULL, NULL, &res), 0);
    CHECK(!res.truncated && !res.corrupt && res.valid_len == taken.len);
    CHECK_EQ_INT((int)res.commands, 5);   /* SELECT SET SET SELECT PEXPIREAT */
    ts_buf_free(&taken);
    ts_aof_log_free(&l);
}

static int count_cmd(void *arg, const unsigned char *cmd, size_t len, int argc, ts_arg name)
{
    (void)cmd; (void)len; (void)argc; (void)name;
    (*(int *)arg)++;
    return 0;
}

/* Many commands with binary arguments of every small length scan back to
 * exactly what was logged. */
static void test_round_trip(void)
{
    ts_aof_log l;
    ts_aof_log_init(&l);
    char bin[300];
    for (size_t i = 0; i < sizeof bin; i++) bin[i] = (char)i;
    int logged = 0;
    for (int i = 0; i < 300; i++) {
        ts_arg a[3] = {{"RPUSH", 5}, {bin, (size_t)(i % 7)}, {bin, (size_t)i}};
        ts_aof_log_argv(&l, i % 3, 3, a);
        logged++;
    }
    int seen = 0;
    ts_aof_scan_result res;
    CHECK_EQ_INT(ts_aof_scan((const unsigned char *)l.buf.data, l.buf.len, count_cmd, &seen, &res), 0);
    CHECK(res.valid_len == l.buf.len);
    CHECK_EQ_INT(seen, logged + 300);   /* every db change adds a SELECT: all 300 change */
    ts_aof_log_free(&l);
}

int main(void)
{
    test_encoding();
    test_round_trip();
    TS_TEST_MAIN_END();
}
