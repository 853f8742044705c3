/*
 * resp_parse.c (test) - the request parser against the behaviour of
 * redis-server 7.0, whatever pieces the bytes arrive in.
 *
 * Owns: nothing outside this executable. Single-threaded.
 *
 * Shape: a pipeline of commands with known arguments is fed through a
 * simulated connection under several arrival schedules (every split point,
 * byte by byte, random chunks), optionally moving the unconsumed bytes to a
 * fresh allocation before every call (so ASan catches any pointer the parser
 * kept) and optionally stalling each command once before consuming it. The
 * error cases check the exact reply text and that the error is decided by
 * the last byte and not before. Scan cost is measured with the parser's
 * `scanned` counter, not with a clock.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/util/buf.h"
#include "tessera/proto/resp_parse.h"
#include "ts_test.h"

#define K64 ((size_t)64 * 1024)

/* ---- expected commands --------------------------------------------- */

typedef struct exp_cmd {
    int argc;
    ts_arg argv[8];
} exp_cmd;

static ts_buf pipe_bytes;
static exp_cmd exps[64];
static int nexp;

/* Appends raw bytes to the pipeline and the arguments they must parse to:
 * argc, then argc (const char *, int len) pairs; len -1 means strlen. */
static void add_cmd(const char *raw, size_t raw_len, int argc, ...)
{
    va_list ap;
    int i;
    exp_cmd *e = &exps[nexp++];

    ts_buf_append(&pipe_bytes, raw, raw_len);
    e->argc = argc;
    va_start(ap, argc);
    for (i = 0; i < argc; i++) {
        const char *s = va_arg(ap, const char *);
        int n = va_arg(ap, int);
        e->argv[i].ptr = s;
        e->argv[i].len = n < 0 ? strlen(s) : (size_t)n;
    }
    va_end(ap);
}

#define RAW(s) s, sizeof(s) - 1

/* The small pipeline: binary bytes, empty arguments, empty commands, inline
 * quoting and Redis's lax line ends. */
static void add_small_pipeline(void)
{
    add_cmd(RAW("*3\r\n$3\r\nSET\r\n$5\r\nk\0\r\n1\r\n$4\r\n\xff\xfe\r\n\r\n"), 3,
            "SET", -1, "k\0\r\n1", 5, "\xff\xfe\r\n", 4);
    add_cmd(RAW("*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"), 2, "ECHO", -1, "", 0);
    add_cmd(RAW("*0\r\n"), 0);
    add_cmd(RAW("*-1\r\n"), 0);
    add_cmd(RAW("\r\n"), 0);
    add_cmd(RAW("SET \"a b\" 'c\\'d' \"\\x41\\n\" plain\r\n"), 5,
            "SET", -1, "a b", -1, "c'd", -1, "A\n", -1, "plain", -1);
    add_cmd(RAW("  \t\n"), 0);
    add_cmd(RAW("PING\n"), 1, "PING", -1);
    add_cmd(RAW("*1\rX$4\rYPINGab"), 1, "PING", -1);
    add_cmd(RAW("get  x\"y z\"\r\n"), 2, "get", -1, "xy z", -1);
    add_cmd(RAW("*1\r\n$1\r\n\0\r\n"), 1, "\0", 1);
    add_cmd(RAW("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), 2, "GET", -1, "k", -1);
}

/* ---- the simulated connection --------------------------------------- */

enum { F_MOVE = 1, F_STALL = 2 };
enum { S_BYTES, S_SPLIT, S_CHUNK, S_RANDOM };

typedef struct sched {
    int kind;
    size_t arg;
    unsigned long long rng;
} sched;

static size_t sched_next(sched *s, size_t cur, size_t n)
{
    size_t step;
    switch (s->kind) {
    case S_BYTES: step = 1; break;
    case S_SPLIT: return cur < s->arg ? s->arg : n;
    case S_CHUNK: step = s->arg; break;
    default:
        s->rng ^= s->rng << 13;
        s->rng ^= s->rng >> 7;
        s->rng ^= s->rng << 17;
        step = 1 + (size_t)(s->rng % s->arg);
        break;
    }
    return n - cur < step ? n : cur + step;
}

static int same_cmd(const ts_parser *p, const exp_cmd *e)
{
    int i;
    if (p->argc != e->argc) return 0;
    for (i = 0; i < e->argc; i++) {
        if (p->argv[i].len != e->argv[i].len) return 0;
        if (p->argv[i].ptr == e->argv[i].ptr) continue;
        if (e->argv[i].len && memcmp(p->argv[i].ptr, e->argv[i].ptr, e->argv[i].len) != 0) return 0;
    }
    return 1;
}

static char *dup_bytes(const char *s, size_t n)
{
    char *d = ts_malloc(n ? n : 1);
    if (n) memcpy(d, s, n);
    return d;
}

/* Feeds data[0, n) by schedule s; returns the number of commands that came
 * out matching e[], or -1 (after printing why) on any mismatch. With F_MOVE
 * the unconsumed bytes live in a fresh allocation at every arrival (the old
 * one is freed); with F_STALL every command is parsed again right away, and
 * once more after the next arrival, before it is consumed. */
static int run(const char *data, size_t n, sched s, int flags, const exp_cmd *e, int ne)
{
    ts_parser p;
    size_t arrived = 0;   /* bytes of data delivered so far */
    size_t pos = 0;       /* bytes of data consumed */
    char *own = NULL;     /* F_MOVE: data[base, arrived) */
    size_t base = 0;
    int got = 0, stalled = 0, ok = 1;

    ts_parser_init(&p, TS_PROTO_MAX_BULK_DEFAULT);
    while (ok && arrived < n) {
        size_t upto = sched_next(&s, arrived, n);
        if (flags & F_MOVE) {
            char *fresh = ts_malloc(upto - pos);
            if (arrived > pos) memcpy(fresh, own + (pos - base), arrived - pos);
            memcpy(fresh + (arrived - pos), data + arrived, upto - arrived);
            free(own);
            own = fresh;
            base = pos;
        }
        arrived = upto;
        for (;;) {
            const char *view = (flags & F_MOVE) ? own + (pos - base) : data + pos;
            size_t vlen = arrived - pos;
            int rc = ts_parser_next(&p, view, vlen);
            if (rc == TS_PARSE_INCOMPLETE) break;
            if (rc == TS_PARSE_ERROR) {
                fprintf(stderr, "run: command %d: unexpected error %s\n", got, p.error);
                ok = 0;
                break;
            }
            if (got >= ne || !same_cmd(&p, &e[got])) {
                fprintf(stderr, "run: command %d (at %zu, arrived %zu) differs\n", got, pos, arrived);
                ok = 0;
                break;
            }
            if (flags & F_STALL) {
                size_t first_len = p.cmd_len;
                if (ts_parser_next(&p, view, vlen) != TS_PARSE_OK || p.cmd_len != first_len ||
                    !same_cmd(&p, &e[got])) {
                    fprintf(stderr, "run: command %d changed when parsed again\n", got);
                    ok = 0;
                    break;
                }
                if (!stalled && arrived < n) {
                    stalled = 1;
                    break;
                }
            }
            stalled = 0;
            pos += p.cmd_len;
            got++;
            ts_parser_reset(&p);
        }
    }
    if (ok && pos != n) {
        fprintf(stderr, "run: %zu of %zu bytes consumed\n", pos, n);
        ok = 0;
    }
    free(own);
    ts_parser_free(&p);
    return ok ? got : -1;
}

static void reset_pipeline(void)
{
    ts_buf_free(&pipe_bytes);
    nexp = 0;
}

/* ---- pipelines under every arrival schedule ---------------------------- */

static void test_small_pipeline(void)
{
    size_t n, k;
    int flags, bad = 0, seed, maxc;

    reset_pipeline();
    add_small_pipeline();
    n = pipe_bytes.len;
    for (k = 0; k <= n; k++) {
        sched s = {S_SPLIT, k, 0};
        for (flags = 0; flags < 4; flags++)
            if (run(pipe_bytes.data, n, s, flags, exps, nexp) != nexp) {
                fprintf(stderr, "small pipeline: split %zu flags %d failed\n", k, flags);
                bad++;
            }
    }
    CHECK_EQ_INT(bad, 0);
    for (flags = 0; flags < 4; flags++) {
        sched s = {S_BYTES, 0, 0};
        CHECK_EQ_INT(run(pipe_bytes.data, n, s, flags, exps, nexp), nexp);
    }
    /* Every pair of split points, moving and stalling. */
    bad = 0;
    for (k = 1; k < n; k++) {
        size_t j;
        for (j = k + 1; j < n; j++) {
            /* delivers k bytes, then j, then all; consuming a command moves
             * the rest to the front of a fresh copy */
            ts_parser p;
            size_t cuts[3] = {k, j, n}, pos = 0;
            int c, got = 0, ok = 1;
            ts_parser_init(&p, TS_PROTO_MAX_BULK_DEFAULT);
            for (c = 0; c < 3 && ok; c++) {
                char *copy = dup_bytes(pipe_bytes.data + pos, cuts[c] - pos);
                for (;;) {
                    int rc = ts_parser_next(&p, copy, cuts[c] - pos);
                    if (rc == TS_PARSE_INCOMPLETE) break;
                    if (rc != TS_PARSE_OK || !same_cmd(&p, &exps[got])) { ok = 0; break; }
                    {
                        size_t used = p.cmd_len;
                        char *rest = dup_bytes(copy + used, cuts[c] - pos - used);
                        free(copy);
                        copy = rest;
                        pos += used;
                    }
                    got++;
                    ts_parser_reset(&p);
                }
                free(copy);
            }
            ts_parser_free(&p);
            if (!ok || got != nexp) bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    bad = 0;
    for (seed = 1; seed <= 200; seed++)
        for (maxc = 1; maxc <= 9; maxc += 4) {
            sched s = {S_RANDOM, (size_t)maxc, 0x9e3779b97f4a7c15ULL * (unsigned)seed};
            if (run(pipe_bytes.data, n, s, F_MOVE | F_STALL, exps, nexp) != nexp) bad++;
        }
    CHECK_EQ_INT(bad, 0);
}

static void test_big_pipeline(void)
{
    const size_t big = (size_t)1 << 20;
    char hdr[64];
    size_t off, n, k, i;
    int bad = 0, seed, big_idx;
    char *payload = ts_malloc(big);

    for (i = 0; i < big; i++) payload[i] = (char)((i * 7 + 3) & 0xff);
    reset_pipeline();
    add_small_pipeline();
    snprintf(hdr, sizeof(hdr), "*2\r\n$3\r\nBIG\r\n$%zu\r\n", big);
    big_idx = nexp;
    add_cmd(hdr, strlen(hdr), 2, "BIG", -1, "", 0);
    off = pipe_bytes.len;
    ts_buf_append(&pipe_bytes, payload, big);
    ts_buf_append(&pipe_bytes, "\r\n", 2);
    add_small_pipeline();
    /* The pipeline no longer grows: the big argument can point into it, so
     * that an unmoved parse compares by address. */
    exps[big_idx].argv[1].ptr = pipe_bytes.data + off;
    exps[big_idx].argv[1].len = big;
    n = pipe_bytes.len;

    {
        sched s = {S_BYTES, 0, 0};
        CHECK_EQ_INT(run(pipe_bytes.data, n, s, 0, exps, nexp), nexp);
        CHECK_EQ_INT(run(pipe_bytes.data, n, s, F_STALL, exps, nexp), nexp);
    }
    for (k = 0; k <= n; k++) {
        sched s = {S_SPLIT, k, 0};
        int near_edge = k < off + 64 || k + 64 > off + big;
        if (!near_edge && k % 61) continue;
        if (run(pipe_bytes.data, n, s, 0, exps, nexp) != nexp) {
            fprintf(stderr, "big pipeline: split %zu failed\n", k);
            bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    bad = 0;
    for (seed = 1; seed <= 8; seed++) {
        sched s = {S_RANDOM, 40000, 0x2545f4914f6cdd1dULL * (unsigned)seed};
        if (run(pipe_bytes.data, n, s, F_MOVE | F_STALL, exps, nexp) != nexp) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    {
        sched s = {S_CHUNK, 16384, 0};
        CHECK_EQ_INT(run(pipe_bytes.data, n, s, F_MOVE, exps, nexp), nexp);
    }
    free(payload);
    reset_pipeline();
}

/* ---- inline splitting (each case checked against redis-server 7.0) --- */

static void check_inline(const char *line, int argc, ...)
{
    ts_parser p;
    va_list ap;
    int i, rc, good;
    size_t n = strlen(line);

    ts_parser_init(&p, TS_PROTO_MAX_BULK_DEFAULT);
    rc = ts_parser_next(&p, line, n);
    good = rc == TS_PARSE_OK && p.argc == argc && p.cmd_len == n;
    va_start(ap, argc);
    for (i = 0; good && i < argc; i++) {
        const char *s = va_arg(ap, const char *);
        int len = va_arg(ap, int);
        size_t l = len < 0 ? strlen(s) : (size_t)len;
        good = p.argv[i].len == l && memcmp(p.argv[i].ptr, s, l) == 0;
    }
    va_end(ap);
    if (!good) fprintf(stderr, "inline split of [%s]: rc %d argc %d\n", line, rc, p.argc);
    CHECK(good);
    ts_parser_free(&p);
}

static void test_inline_split(void)
{
    check_inline("a b\tc\r\n", 3, "a", -1, "b", -1, "c", -1);
    check_inline("\"a\\n\\r\\t\\b\\a\\\\\\\"\\x41\\x4a\\xzz\\q\"\r\n", 1,
                 "a\n\r\t\b\a\\\"AJxzzq", -1);
    check_inline("'a\\'b\\nc'\r\n", 1, "a'b\\nc", -1);
    check_inline("foo\"bar baz\" x'y z'\r\n", 2, "foobar baz", -1, "xy z", -1);
    check_inline("\"\" '' x\r\n", 3, "", 0, "", 0, "x", -1);
    /* \v and \f are skipped as leading blanks but do not end a token */
    check_inline("a\vb \vc d\f\r\n", 3, "a\vb", -1, "c", -1, "d\f", -1);
    check_inline("\"a\"\v b\r\n", 2, "a", -1, "b", -1);
    check_inline("a\rb\r\n", 2, "a", -1, "b", -1);
    check_inline("\"a\"\r\r\n", 1, "a", -1);   /* only one \r is stripped */
    check_inline("\"\\xfF\\x0\"\r\n", 1, "\xffx0", -1);
    check_inline("\xff\xa0 b\r\n", 2, "\xff\xa0", -1, "b", -1);
    check_inline("\"\\x00\" z\n", 2, "\0", 1, "z", -1);
    check_inline("  \t \r\n", 0);
    check_inline("\n", 0);
    check_inline("\r\n", 0);
    check_inline(" *1\r\n", 1, "*1", -1);   /* only a leading '*' means multibulk */
    check_inline("$4\r\n", 1, "$4", -1);
    check_inline("ECHO \"a\\\"b\"\n", 2, "ECHO", -1, "a\"b", -1);
}

/* ---- errors ------------------------------------------------------------ */

/* in[0, n) delivered in one piece fails with exactly err. */
static void expect_error_at_once(const char *in, size_t n, const char *err, size_t max_bulk, int unauth)
{
    ts_parser p;
    int rc;

    ts_parser_init(&p, max_bulk);
    p.unauthenticated = unauth;
    rc = ts_parser_next(&p, in, n);
    CHECK_EQ_INT(rc, TS_PARSE_ERROR);
    if (rc == TS_PARSE_ERROR) CHECK(strcmp(p.error, err) == 0);
    ts_parser_free(&p);
}

/* in[0, n) must be INCOMPLETE for every shorter prefix and fail with exactly
 * err at n, both fed byte by byte and at once, and stay failed. */
static void expect_error_n(const char *in, size_t n, const char *err, size_t max_bulk, int unauth)
{
    ts_parser p;
    size_t k;
    int rc, early = -1;
    char *moved;

    ts_parser_init(&p, max_bulk);
    p.unauthenticated = unauth;
    for (k = 0; k < n; k++) {
        rc = ts_parser_next(&p, in, k);
        if (rc != TS_PARSE_INCOMPLETE) { early = (int)k; break; }
    }
    if (early < 0) {
        rc = ts_parser_next(&p, in, n);
        if (rc != TS_PARSE_ERROR || strcmp(p.error, err) != 0) {
            fprintf(stderr, "error case [%.40s]: rc %d error [%s], want [%s]\n", in, rc,
                    rc == TS_PARSE_ERROR ? p.error : "", err);
            CHECK(0);
        } else {
            CHECK(1);
        }
        moved = dup_bytes(in, n);
        CHECK_EQ_INT(ts_parser_next(&p, moved, n), TS_PARSE_ERROR);
        CHECK(strcmp(p.error, err) == 0);
        free(moved);
    } else {
        fprintf(stderr, "error case [%.40s]: decided at %d of %zu bytes\n", in, early, n);
        CHECK(0);
    }
    ts_parser_free(&p);
    expect_error_at_once(in, n, err, max_bulk, unauth);
}

#define EXPECT_ERROR(lit, err) expect_error_n(lit, sizeof(lit) - 1, err, TS_PROTO_MAX_BULK_DEFAULT, 0)

/* in[0, n) must not be an error (nor complete), wanting `wanted` bytes. */
static void expect_incomplete_n(const char *in, size_t n, size_t max_bulk, int unauth, size_t wanted)
{
    ts_parser p;
    int rc;

    ts_parser_init(&p, max_bulk);
    p.unauthenticated = unauth;
    rc = ts_parser_next(&p, in, n);
    if (rc != TS_PARSE_INCOMPLETE) fprintf(stderr, "incomplete case [%.40s]: rc %d\n", in, rc);
    CHECK_EQ_INT(rc, TS_PARSE_INCOMPLETE);
    CHECK_EQ_INT(ts_parser_bytes_wanted(&p), wanted);
    ts_parser_free(&p);
}

#define EXPECT_INCOMPLETE(lit, wanted) \
    expect_incomplete_n(lit, sizeof(lit) - 1, TS_PROTO_MAX_BULK_DEFAULT, 0, wanted)

/* prefix followed by fill bytes up to n in total */
static char *padded(const char *prefix, size_t plen, char fill, size_t n)
{
    char *b = ts_malloc(n);
    memset(b, fill, n);
    memcpy(b, prefix, plen);
    return b;
}

#define PADDED(lit, fill, n) padded(lit, sizeof(lit) - 1, fill, n)

static void test_errors(void)
{
    static const char mbulk[] = "ERR Protocol error: invalid multibulk length";
    static const char bulk[] = "ERR Protocol error: invalid bulk length";
    static const char quotes[] = "ERR Protocol error: unbalanced quotes in request";
    const size_t D = TS_PROTO_MAX_BULK_DEFAULT;
    char *b;

    EXPECT_ERROR("*\r\n", mbulk);
    EXPECT_ERROR("*x\r\n", mbulk);
    EXPECT_ERROR("*+1\r\n", mbulk);
    EXPECT_ERROR("*01\r\n", mbulk);
    EXPECT_ERROR("*-0\r\n", mbulk);
    EXPECT_ERROR("* 1\r\n", mbulk);
    EXPECT_ERROR("*1 \r\n", mbulk);
    EXPECT_ERROR("*1\n\r\n", mbulk);
    EXPECT_ERROR("*2147483648\r\n", mbulk);
    EXPECT_ERROR("*99999999999999999999\r\n", mbulk);
    EXPECT_ERROR("*-9223372036854775809\r\n", mbulk);
    EXPECT_ERROR("*9223372036854775808\r\n", mbulk);

    EXPECT_ERROR("*1\r\nX\r\n", "ERR Protocol error: expected '$', got 'X'");
    EXPECT_ERROR("*1\r\n\r\n", "ERR Protocol error: expected '$', got ' '");
    EXPECT_ERROR("*1\r\n\n\r\n", "ERR Protocol error: expected '$', got ' '");
    EXPECT_ERROR("*1\r\n\xff\r\n", "ERR Protocol error: expected '$', got '\xff'");
    EXPECT_ERROR("*1\r1\r\n", "ERR Protocol error: expected '$', got ' '");
    EXPECT_ERROR("*2\r\n$1\r\na\r\nfoo\r\n", "ERR Protocol error: expected '$', got 'f'");
    EXPECT_ERROR("*2\r\n$1\r\naXY:1\r\n", "ERR Protocol error: expected '$', got ':'");

    EXPECT_ERROR("*1\r\n$-1\r\n", bulk);
    EXPECT_ERROR("*1\r\n$-0\r\n", bulk);
    EXPECT_ERROR("*1\r\n$+4\r\n", bulk);
    EXPECT_ERROR("*1\r\n$04\r\n", bulk);
    EXPECT_ERROR("*1\r\n$\r\n", bulk);
    EXPECT_ERROR("*1\r\n$ 4\r\n", bulk);
    EXPECT_ERROR("*1\r\n$4 \r\n", bulk);
    EXPECT_ERROR("*1\r\n$99999999999999999999\r\n", bulk);
    EXPECT_ERROR("*1\r\n$-9223372036854775808\r\n", bulk);
    EXPECT_ERROR("*1\r\n$536870913\r\n", bulk);
    expect_error_n(RAW("*1\r\n$11\r\n"), bulk, 10, 0);
    expect_incomplete_n(RAW("*1\r\n$10\r\n"), 10, 0, 9 + 10 + 2);
    EXPECT_INCOMPLETE("*1\r\n$536870912\r\n", 16 + (size_t)536870912 + 2);
    EXPECT_INCOMPLETE("*2147483647\r\n", 0);

    expect_error_n(RAW("*11\r\n"), "ERR Protocol error: unauthenticated multibulk length", D, 1);
    expect_error_n(RAW("*11x\r\n"), mbulk, D, 1);
    expect_error_n(RAW("*1\r\n$16385\r\n"), "ERR Protocol error: unauthenticated bulk length", D, 1);
    expect_error_n(RAW("*1\r\n$600000000\r\n"), bulk, D, 1);
    expect_incomplete_n(RAW("*10\r\n"), D, 1, 0);
    expect_incomplete_n(RAW("*1\r\n$16384\r\n"), D, 1, 9 + 16384 + 2 + 3);

    /* Lines that do not end within 64KB. */
    b = PADDED("*", '1', K64 + 1);
    expect_error_n(b, K64 + 1, "ERR Protocol error: too big mbulk count string", D, 0);
    expect_incomplete_n(b, K64, D, 0, 0);
    free(b);
    b = PADDED("*1\r\n$", '1', 4 + K64 + 1);
    expect_error_n(b, 4 + K64 + 1, "ERR Protocol error: too big bulk count string", D, 0);
    expect_incomplete_n(b, 4 + K64, D, 0, 0);
    free(b);
    b = PADDED("*1\r\n", 'x', 4 + K64 + 1);
    expect_error_n(b, 4 + K64 + 1, "ERR Protocol error: too big bulk count string", D, 0);
    free(b);
    b = PADDED("*2\r\n$3\r\nfoo\r\n$", '1', 13 + K64 + 1);
    expect_error_n(b, 13 + K64 + 1, "ERR Protocol error: too big bulk count string", D, 0);
    expect_incomplete_n(b, 13 + K64, D, 0, 0);
    free(b);
    b = PADDED("", 'x', K64 + 1);
    expect_error_n(b, K64 + 1, "ERR Protocol error: too big inline request", D, 0);
    expect_incomplete_n(b, K64, D, 0, 0);
    free(b);
    /* A header line ending more than 64KB away is merely invalid when it
     * arrives at once (bytewise it is "too big" first, as in Redis). */
    b = PADDED("*", '1', K64 + 3);
    memcpy(b + K64 + 1, "\r\n", 2);
    expect_error_at_once(b, K64 + 3, mbulk, D, 0);
    expect_error_n(b, K64 + 1, "ERR Protocol error: too big mbulk count string", D, 0);
    free(b);

    /* A NUL before the line end hides it, as with Redis's strchr. */
    b = PADDED("*1\0\r\n$4\r\nPING\r\n", 'x', K64 + 1);
    expect_incomplete_n(b, 15, D, 0, 0);
    expect_error_n(b, K64 + 1, "ERR Protocol error: too big mbulk count string", D, 0);
    free(b);
    b = PADDED("*1\r\n$4\0\r\nPING\r\n", 'x', 4 + K64 + 1);
    expect_incomplete_n(b, 15, D, 0, 0);
    expect_error_n(b, 4 + K64 + 1, "ERR Protocol error: too big bulk count string", D, 0);
    free(b);
    b = PADDED("PING\0\r\n", 'x', K64 + 1);
    expect_incomplete_n(b, 7, D, 0, 0);
    expect_error_n(b, K64 + 1, "ERR Protocol error: too big inline request", D, 0);
    free(b);

    EXPECT_ERROR("ECHO \"a\r\n", quotes);
    EXPECT_ERROR("\"a\"b\n", quotes);
    EXPECT_ERROR("'a'b\n", quotes);
    EXPECT_ERROR("'abc\n", quotes);
    EXPECT_ERROR("\"abc\\\n", quotes);
    EXPECT_ERROR("a\"b\n", quotes);
    EXPECT_ERROR("x 'a\\'\r\n", quotes);
    EXPECT_ERROR("\"a\"\"b\"\n", quotes);

    /* An error after a good command in the same buffer. */
    {
        static const char two[] = "*1\r\n$3\r\nfoo\r\n*x\r\n";
        ts_parser p;
        ts_parser_init(&p, D);
        CHECK_EQ_INT(ts_parser_next(&p, two, sizeof(two) - 1), TS_PARSE_OK);
        CHECK_EQ_INT(p.cmd_len, 13);
        ts_parser_reset(&p);
        CHECK_EQ_INT(ts_parser_next(&p, two + 13, sizeof(two) - 1 - 13), TS_PARSE_ERROR);
        CHECK(strcmp(p.error, mbulk) == 0);
        ts_parser_free(&p);
    }
}

/* Things Redis accepts that a strict parser would not. */
static void test_lax(void)
{
    static const char lax[] = "*1\rX$4\rYPINGab";
    static const char neg[] = "*-9223372036854775808\r\nX";
    ts_parser p;

    ts_parser_init(&p, TS_PROTO_MAX_BULK_DEFAULT);
    CHECK_EQ_INT(ts_parser_next(&p, lax, 13), TS_PARSE_INCOMPLETE);
    CHECK_EQ_INT(ts_parser_next(&p, lax, 14), TS_PARSE_OK);
    CHECK_EQ_INT(p.argc, 1);
    CHECK_MEM(p.argv[0].ptr, p.argv[0].len, "PING");
    CHECK_EQ_INT(p.cmd_len, 14);
    ts_parser_reset(&p);
    CHECK_EQ_INT(ts_parser_next(&p, neg, sizeof(neg) - 1), TS_PARSE_OK);
    CHECK_EQ_INT(p.argc, 0);
    CHECK_EQ_INT(p.cmd_len, sizeof(neg) - 2);
    ts_parser_free(&p);
}

/* ---- the stall / re-parse contract ------------------------------------ */

static void test_stall(void)
{
    static const char src[] = "*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\nSET \"a b\" c\r\nPING";
    ts_parser p;
    char *b1 = dup_bytes(src, sizeof(src) - 1), *b2;
    size_t n = sizeof(src) - 1, first;
    const char *scratch_ptr;

    ts_parser_init(&p, TS_PROTO_MAX_BULK_DEFAULT);
    CHECK_EQ_INT(ts_parser_next(&p, b1, 10), TS_PARSE_INCOMPLETE);
    CHECK_EQ_INT(ts_parser_next(&p, b1, n), TS_PARSE_OK);
    CHECK_EQ_INT(p.argc, 2);
    CHECK(p.argv[1].ptr == b1 + 18);
    first = p.cmd_len;
    CHECK_EQ_INT(first, 25);
    /* stalled: asked again, same place */
    CHECK_EQ_INT(ts_parser_next(&p, b1, n), TS_PARSE_OK);
    CHECK(p.argv[1].ptr == b1 + 18);
    CHECK_EQ_INT(p.cmd_len, first);
    /* the caller moved everything to a bigger buffer and freed the old one */
    b2 = ts_malloc(n + 100);
    memcpy(b2, b1, n);
    memcpy(b2 + n, "\r\nmore", 6);
    free(b1);
    CHECK_EQ_INT(ts_parser_next(&p, b2, n + 6), TS_PARSE_OK);
    CHECK_EQ_INT(p.argc, 2);
    CHECK(p.argv[0].ptr == b2 + 8);
    CHECK(p.argv[1].ptr == b2 + 18);
    CHECK_MEM(p.argv[1].ptr, p.argv[1].len, "hello");
    CHECK_EQ_INT(p.cmd_len, first);
    ts_parser_reset(&p);

    /* inline with one unquoted argument in scratch */
    CHECK_EQ_INT(ts_parser_next(&p, b2 + first, n + 6 - first), TS_PARSE_OK);
    CHECK_EQ_INT(p.argc, 3);
    CHECK_MEM(p.argv[1].ptr, p.argv[1].len, "a b");
    CHECK(p.argv[0].ptr == b2 + first);
    scratch_ptr = p.argv[1].ptr;
    b1 = dup_bytes(b2 + first, n + 6 - first);
    CHECK_EQ_INT(ts_parser_next(&p, b1, n + 6 - first), TS_PARSE_OK);
    CHECK(p.argv[0].ptr == b1);
    CHECK(p.argv[1].ptr == scratch_ptr);
    CHECK_MEM(p.argv[2].ptr, p.argv[2].len, "c");
    CHECK(p.argv[2].ptr == b1 + 10);
    first += p.cmd_len;
    ts_parser_reset(&p);
    CHECK_EQ_INT(ts_parser_next(&p, b2 + first, n + 6 - first), TS_PARSE_OK);
    CHECK_EQ_INT(p.argc, 1);
    CHECK_MEM(p.argv[0].ptr, p.argv[0].len, "PING");
    ts_parser_free(&p);
    free(b1);
    free(b2);
}

static void test_bytes_wanted(void)
{
    static const char src[] = "*2\r\n$3\r\nSET\r\n$5\r\nhello\r\n";
    ts_parser p;
    size_t k;

    ts_parser_init(&p, TS_PROTO_MAX_BULK_DEFAULT);
    for (k = 0; k < 8; k++) {
        CHECK_EQ_INT(ts_parser_next(&p, src, k), TS_PARSE_INCOMPLETE);
        CHECK_EQ_INT(ts_parser_bytes_wanted(&p), 0);
    }
    CHECK_EQ_INT(ts_parser_next(&p, src, 8), TS_PARSE_INCOMPLETE);
    CHECK_EQ_INT(ts_parser_bytes_wanted(&p), 13);
    CHECK_EQ_INT(ts_parser_next(&p, src, 19), TS_PARSE_INCOMPLETE);
    CHECK_EQ_INT(ts_parser_bytes_wanted(&p), 24);
    CHECK_EQ_INT(ts_parser_next(&p, src, 24), TS_PARSE_OK);
    CHECK_EQ_INT(ts_parser_bytes_wanted(&p), 0);
    ts_parser_free(&p);
}

/* ---- scan cost ---------------------------------------------------------- */

static void test_scan_cost(void)
{
    ts_parser p;

    /* A 64MB bulk arriving 16KB at a time, moved once half way. */
    {
        const size_t big = (size_t)64 << 20, piece = 16384;
        char hdr[64];
        size_t h, n, avail = 0, calls = 0, wanted = 0;
        char *b;
        int rc = TS_PARSE_INCOMPLETE, moved = 0;

        snprintf(hdr, sizeof(hdr), "*2\r\n$3\r\nSET\r\n$%zu\r\n", big);
        h = strlen(hdr);
        n = h + big + 2;
        b = ts_malloc(n);
        memcpy(b, hdr, h);
        memset(b + h, 'v', big);
        memcpy(b + h + big, "\r\n", 2);
        ts_parser_init(&p, TS_PROTO_MAX_BULK_DEFAULT);
        while (rc == TS_PARSE_INCOMPLETE && avail < n) {
            avail = n - avail < piece ? n : avail + piece;
            rc = ts_parser_next(&p, b, avail);
            rc = ts_parser_next(&p, b, avail); /* the same bytes again */
            calls += 2;
            if (!wanted) wanted = ts_parser_bytes_wanted(&p);
            if (!moved && avail > n / 2) {
                char *c = ts_malloc(n);
                memcpy(c, b, n);
                free(b);
                b = c;
                moved = 1;
            }
        }
        CHECK_EQ_INT(rc, TS_PARSE_OK);
        CHECK_EQ_INT(wanted, n);
        CHECK_EQ_INT(p.argc, 2);
        CHECK_EQ_INT(p.argv[1].len, big);
        CHECK(p.argv[1].ptr == b + h);
        CHECK_EQ_INT(p.cmd_len, n);
        CHECK(p.scanned <= h);
        CHECK(calls >= 2 * (big / piece));
        ts_parser_free(&p);
        free(b);
    }

    /* A million one-byte arguments arriving 5 bytes at a time, each piece
     * parsed twice. */
    {
        const int count = 1000000;
        size_t n, avail = 0, calls = 0, before;
        ts_buf in;
        int i, rc = TS_PARSE_INCOMPLETE, good = 1, same = 1;
        char hdr[32];

        ts_buf_init(&in);
        snprintf(hdr, sizeof(hdr), "*%d\r\n", count);
        ts_buf_append(&in, hdr, strlen(hdr));
        for (i = 0; i < count; i++) {
            char c = (char)('a' + i % 26);
            ts_buf_append(&in, "$1\r\n", 4);
            ts_buf_append(&in, &c, 1);
            ts_buf_append(&in, "\r\n", 2);
        }
        n = in.len;
        ts_parser_init(&p, TS_PROTO_MAX_BULK_DEFAULT);
        while (rc == TS_PARSE_INCOMPLETE && avail < n) {
            avail = n - avail < 5 ? n : avail + 5;
            rc = ts_parser_next(&p, in.data, avail);
            before = p.scanned;
            if (rc == TS_PARSE_INCOMPLETE) rc = ts_parser_next(&p, in.data, avail);
            if (p.scanned != before && rc == TS_PARSE_INCOMPLETE) same = 0;
            calls += 2;
        }
        CHECK_EQ_INT(rc, TS_PARSE_OK);
        CHECK_EQ_INT(p.argc, count);
        for (i = 0; i < count && good; i++)
            good = p.argv[i].len == 1 && p.argv[i].ptr[0] == (char)('a' + i % 26);
        CHECK(good);
        CHECK(same || p.scanned <= n + calls);
        /* each byte once, plus one re-look at a '\r' that was the last byte */
        CHECK(p.scanned <= n + calls / 2);
        ts_parser_reset(&p);
        CHECK(p.cap <= 1024); /* the big argv was released */
        ts_parser_free(&p);
        ts_buf_free(&in);
    }

    /* An inline line growing a byte at a time, asked twice per byte. */
    {
        size_t n = 60000, k;
        char *b = PADDED("ECHO ", 'y', n + 2);
        int rc = TS_PARSE_INCOMPLETE;
        memcpy(b + n, "\r\n", 2);
        ts_parser_init(&p, TS_PROTO_MAX_BULK_DEFAULT);
        for (k = 1; k <= n + 2 && rc == TS_PARSE_INCOMPLETE; k++) {
            rc = ts_parser_next(&p, b, k);
            if (rc == TS_PARSE_INCOMPLETE) rc = ts_parser_next(&p, b, k);
        }
        CHECK_EQ_INT(rc, TS_PARSE_OK);
        CHECK_EQ_INT(p.argc, 2);
        CHECK_EQ_INT(p.argv[1].len, n - 5);
        CHECK(p.scanned <= n + 2);
        ts_parser_free(&p);
        free(b);
    }

    /* A line hidden by a NUL is not searched again. */
    {
        char *b = PADDED("*1\0", '1', K64);
        size_t k;
        ts_parser_init(&p, TS_PROTO_MAX_BULK_DEFAULT);
        for (k = 1; k <= K64; k++) ts_parser_next(&p, b, k);
        CHECK(p.scanned <= 3);
        ts_parser_free(&p);
        free(b);
    }
}

/* The fast path (a whole command in one call) against the state machine
 * (the same bytes one at a time, which never takes the fast path): random
 * multibulk commands, and the same with one byte replaced, inserted or cut,
 * must give the same result, arguments, length and error, and count the
 * same scanned bytes when they succeed. */
static int parse_whole(ts_parser *p, const char *b, size_t n)
{
    ts_parser_reset(p);
    return ts_parser_next(p, b, n);
}

static int parse_bytewise(ts_parser *p, const char *b, size_t n)
{
    int rc = TS_PARSE_INCOMPLETE;
    ts_parser_reset(p);
    for (size_t k = 1; k <= n && rc == TS_PARSE_INCOMPLETE; k++) rc = ts_parser_next(p, b, k);
    return rc;
}

static uint32_t next_rand(uint32_t *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 8) & 0xffffff;
}

static void test_fast_path_agrees(void)
{
    static const char alphabet[] = "*$0123456789\r\n-+ \0aZ";
    ts_parser a, b;
    uint32_t seed = 4242;
    int mismatches = 0, oks = 0, errs = 0, incompletes = 0;
    ts_parser_init(&a, 1000);   /* a small proto-max-bulk-len: the limit is exercised too */
    ts_parser_init(&b, 1000);
    for (int iter = 0; iter < 20000; iter++) {
        char buf[4096];
        size_t n = 0;
#define RND() next_rand(&seed)
        int argc = (int)(RND() % 70);
        if (RND() % 8 != 0) argc++;
        n += (size_t)snprintf(buf + n, sizeof buf - n, "*%d\r\n", argc);
        for (int i = 0; i < argc && n < sizeof buf - 64; i++) {
            size_t len = RND() % 4 == 0 ? RND() % 1100 : RND() % 20;
            if (len > sizeof buf - n - 40) len = 0;
            n += (size_t)snprintf(buf + n, sizeof buf - n, "$%zu\r\n", len);
            for (size_t k = 0; k < len; k++) buf[n++] = (char)RND();
            buf[n++] = '\r';
            buf[n++] = '\n';
        }
        switch (RND() % 4) {
        case 0: break;
        case 1: if (n) buf[RND() % n] = alphabet[RND() % (sizeof alphabet - 1)]; break;
        case 2: if (n) n = RND() % n; break;
        case 3:
            if (n && n < sizeof buf) {
                size_t at = RND() % n;
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = alphabet[RND() % (sizeof alphabet - 1)];
                n++;
            }
            break;
        }
#undef RND
        int ra = parse_whole(&a, buf, n), rb = parse_bytewise(&b, buf, n);
        int same = ra == rb;
        if (same && ra == TS_PARSE_OK) {
            same = a.argc == b.argc && a.cmd_len == b.cmd_len;
            for (int i = 0; same && i < a.argc; i++)
                same = a.argv[i].len == b.argv[i].len && a.argv[i].ptr == b.argv[i].ptr;
            oks++;
        } else if (same && ra == TS_PARSE_ERROR) {
            same = strcmp(a.error, b.error) == 0;
            errs++;
        } else if (same) {
            incompletes++;
        }
        if (!same && mismatches++ < 5) fprintf(stderr, "fast/slow mismatch at iteration %d (rc %d vs %d)\n", iter, ra, rb);
    }
    CHECK_EQ_INT(mismatches, 0);
    CHECK(oks > 1000 && errs > 1000 && incompletes > 1000);
    /* Scan statistics agree on a complete command (b takes the state
     * machine: the fast path is not tried for unauthenticated clients). */
    {
        const char *cmd = "*3\r\n$3\r\nSET\r\n$16\r\nkey:000000012345\r\n$3\r\nxxx\r\n";
        size_t n = strlen(cmd);
        size_t sa = a.scanned, sb = b.scanned;
        b.unauthenticated = 1;
        CHECK_EQ_INT(parse_whole(&a, cmd, n), TS_PARSE_OK);
        CHECK_EQ_INT(parse_whole(&b, cmd, n), TS_PARSE_OK);
        CHECK_EQ_INT(a.scanned - sa, b.scanned - sb);
        CHECK_EQ_INT(a.scanned - sa, 3 + 3 + 4 + 3);
    }
    ts_parser_free(&a);
    ts_parser_free(&b);
}

int main(void)
{
    test_inline_split();
    test_errors();
    test_lax();
    test_stall();
    test_bytes_wanted();
    test_small_pipeline();
    test_big_pipeline();
    test_scan_cost();
    test_fast_path_agrees();
    reset_pipeline();
    TS_TEST_MAIN_END();
}
