/*
 * aof_scan.c - the AOF syntax checker shared by startup replay and the
 * tessera-check tool (see aof_scan.h).
 *
 * Shape: the file is read in place (an mmap()ed file or a test's buffer),
 * one command at a time, by parse_command, which allocates nothing and
 * keeps lengths as 64-bit integers saturated at INT64_MAX, so a huge or
 * overflowing length can neither wrap an offset nor reserve memory: it is
 * only compared with the bytes that are really there.
 *
 * Every stop is one of two kinds, and the difference matters to --fix and
 * to aof-load-truncated: "truncated" when every byte present could still
 * be the start of a valid command (the writer died mid-append: cutting the
 * tail loses only the unfinished command), "corrupt" when a byte is wrong
 * (cutting there could drop any amount of good data after it, so nothing
 * is cut automatically). A MULTI whose EXEC never came is a truncation at
 * the MULTI: its commands were never acknowledged as a whole.
 *
 * The callback sees a MULTI block only once its EXEC has been read: the
 * block is parsed again from the MULTI (a second pass over bytes already
 * validated) rather than buffered, which keeps the scan allocation-free.
 *
 * Wording of the errors follows redis-check-aof 7.0 where it has one;
 * error_pos is the first wrong byte (redis-check-aof prints a nearby
 * stream position instead; ours points at the byte itself).
 */
#include "tessera/persist/aof_scan.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tessera/config/config.h"
#include "tessera/persist/rdb_check.h"

enum { PARSE_OK = 0, PARSE_SHORT = 1, PARSE_BAD = -1 };

typedef struct scan {
    const unsigned char *d;
    size_t len;
    ts_aof_scan_result *res;
    uint64_t lines;
} scan;

typedef struct command {
    size_t end;    /* one past its last byte */
    int argc;
    ts_arg name;
} command;

static int bad(scan *s, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(scan *s, size_t pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->res->error, sizeof s->res->error, fmt, ap);
    va_end(ap);
    s->res->error_pos = pos;
    return PARSE_BAD;
}

static int short_read(scan *s, const char *what)
{
    snprintf(s->res->error, sizeof s->res->error, "%s", what);
    s->res->error_pos = s->len;
    return PARSE_SHORT;
}

/* A byte as redis-check-aof shows it in "got: 'x'", readable when it is
 * not printable. */
static const char *show(unsigned char c, char buf[8])
{
    if (c >= 0x20 && c < 0x7f) snprintf(buf, 8, "%c", c);
    else snprintf(buf, 8, "\\x%02x", c);
    return buf;
}

/* "<prefix><decimal>\r\n" at *pos: the value, saturated at INT64_MAX
 * (negative values are kept to be reported as such). */
static int read_number(scan *s, size_t *pos, char prefix, int64_t *out, bool *negative)
{
    const unsigned char *d = s->d;
    size_t p = *pos;
    char b1[8];
    if (p >= s->len) return short_read(s, "Reached EOF in the middle of a command");
    if (d[p] != (unsigned char)prefix) return bad(s, p, "Expected prefix '%c', got: '%s'", prefix, show(d[p], b1));
    p++;
    *negative = false;
    if (p < s->len && d[p] == '-') {
        *negative = true;
        p++;
    }
    size_t digits = p;
    int64_t v = 0;
    while (p < s->len && d[p] >= '0' && d[p] <= '9') {
        int dig = d[p] - '0';
        v = v > (INT64_MAX - dig) / 10 ? INT64_MAX : v * 10 + dig;
        p++;
    }
    bool have_digits = p > digits;
    if (p >= s->len) return short_read(s, "Reached EOF in the middle of a command");
    if (d[p] != '\r' || (p + 1 < s->len && d[p + 1] != '\n'))
        return bad(s, p, "Expected \\r\\n, got: %02x%02x", d[p], p + 1 < s->len ? d[p + 1] : 0);
    if (p + 1 >= s->len) return short_read(s, "Reached EOF in the middle of a command");
    if (!have_digits) return bad(s, *pos, "Expected a number after '%c'", prefix);
    *pos = p + 2;
    *out = *negative ? -v : v;
    s->lines++;
    return PARSE_OK;
}

/* One command starting at off (its '*'). */
static int parse_command(scan *s, size_t off, command *c)
{
    size_t pos = off;
    int64_t argc = 0, blen = 0;
    bool neg = false;
    int rc = read_number(s, &pos, '*', &argc, &neg);
    if (rc != PARSE_OK) return rc;
    if (argc < 1 || argc > INT_MAX) return bad(s, off, "Invalid argument count %lld", (long long)argc);
    c->argc = (int)argc;
    for (int64_t i = 0; i < argc; i++) {
        size_t at = pos;
        rc = read_number(s, &pos, '$', &blen, &neg);
        if (rc != PARSE_OK) return rc;
        if (blen < 0 || blen > INT64_MAX - 2)
            return bad(s, at, "Expected to read string of %lld bytes, which is not in the suitable range",
                       (long long)blen);
        size_t avail = s->len - pos;
        uint64_t need = (uint64_t)blen + 2;
        if ((uint64_t)blen < avail) {
            /* The CRLF after the payload: as much of it as is there must be right. */
            size_t crlf = pos + (size_t)blen;
            if (s->d[crlf] != '\r' || (crlf + 1 < s->len && s->d[crlf + 1] != '\n'))
                return bad(s, crlf, "Expected \\r\\n, got: %02x%02x", s->d[crlf], crlf + 1 < s->len ? s->d[crlf + 1] : 0);
        }
        if (need > avail) {
            snprintf(s->res->error, sizeof s->res->error, "Expected to read %llu bytes, got %zu bytes",
                     (unsigned long long)need, avail);
            s->res->error_pos = s->len;
            return PARSE_SHORT;
        }
        if (i == 0) {
            c->name.ptr = (const char *)s->d + pos;
            c->name.len = (size_t)blen;
        }
        pos += (size_t)need;
        s->lines++;
    }
    c->end = pos;
    return PARSE_OK;
}

static bool is_name(ts_arg a, const char *upper)
{
    size_t n = strlen(upper);
    if (a.len != n) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)a.ptr[i];
        if (ch >= 'a' && ch <= 'z') ch = (unsigned char)(ch - 'a' + 'A');
        if (ch != (unsigned char)upper[i]) return false;
    }
    return true;
}

/* An annotation line ("#...\n", Redis 7.0 writes them for timestamps):
 * skipped like Redis's loader does. 0 with *pos past it, or PARSE_SHORT. */
static int skip_annotation(scan *s, size_t *pos)
{
    const unsigned char *nl = memchr(s->d + *pos, '\n', s->len - *pos);
    if (!nl) return short_read(s, "Reached EOF in the middle of an annotation");
    *pos = (size_t)(nl - s->d) + 1;
    s->lines++;
    return PARSE_OK;
}

/* Hands the commands of a closed MULTI block (from its MULTI to its EXEC,
 * both included) to fn: they were all validated by the first pass. */
static int replay_block(scan *s, size_t from, size_t to, ts_aof_scan_fn *fn, void *arg)
{
    uint64_t lines = s->lines;
    size_t pos = from;
    int rc = 0;
    while (pos < to && rc == 0) {
        if (s->d[pos] == '#') {
            skip_annotation(s, &pos);
            continue;
        }
        command c;
        if (parse_command(s, pos, &c) != PARSE_OK) break; /* cannot happen: validated */
        rc = fn(arg, s->d + pos, c.end - pos, c.argc, c.name);
        pos = c.end;
    }
    s->lines = lines;
    return rc;
}

static int check_preamble(scan *s)
{
    ts_aof_scan_result *res = s->res;
    ts_config cfg;
    ts_config_init_defaults(&cfg);
    char err[sizeof res->error - 32];
    size_t n = 0;
    int rc = ts_rdb_check_mem(s->d, s->len, &cfg, &n, &res->rdb, err, sizeof err);
    ts_config_free(&cfg);
    if (rc != 0) {
        res->corrupt = true;
        res->error_off = 0;
        res->error_pos = res->rdb.error_off;
        snprintf(res->error, sizeof res->error, "RDB preamble is not valid: %s", err);
        return -1;
    }
    res->rdb_len = n;
    return 0;
}

static int scan_commands(scan s, ts_aof_scan_fn *fn, void *arg);

int ts_aof_scan(const unsigned char *data, size_t len, ts_aof_scan_fn *fn, void *arg, ts_aof_scan_result *res)
{
    memset(res, 0, sizeof(*res));
    scan s = {.d = data, .len = len, .res = res, .lines = 0};
    if (len >= 5 && memcmp(data, "REDIS", 5) == 0 && check_preamble(&s) != 0) return -1;
    return scan_commands(s, fn, arg);
}

int ts_aof_scan_after(const unsigned char *data, size_t len, size_t rdb_len, ts_aof_scan_fn *fn, void *arg,
                      ts_aof_scan_result *res)
{
    memset(res, 0, sizeof(*res));
    scan s = {.d = data, .len = len, .res = res, .lines = 0};
    res->rdb_len = rdb_len <= len ? rdb_len : len;
    return scan_commands(s, fn, arg);
}

/* The commands from res->rdb_len on. */
static int scan_commands(scan s, ts_aof_scan_fn *fn, void *arg)
{
    const unsigned char *data = s.d;
    size_t len = s.len;
    ts_aof_scan_result *res = s.res;
    size_t pos = res->rdb_len;
    size_t multi = SIZE_MAX;   /* offset of the open MULTI, or none */
    res->valid_len = pos;
    while (pos < len) {
        int rc;
        if (data[pos] == '#') {
            rc = skip_annotation(&s, &pos);
        } else {
            command c;
            rc = parse_command(&s, pos, &c);
            if (rc == PARSE_OK) {
                if (is_name(c.name, "MULTI")) {
                    if (multi != SIZE_MAX) {
                        bad(&s, pos, "Unexpected MULTI");
                        rc = PARSE_BAD;
                    } else {
                        multi = pos;
                    }
                } else if (is_name(c.name, "EXEC")) {
                    if (multi == SIZE_MAX) {
                        bad(&s, pos, "Unexpected EXEC");
                        rc = PARSE_BAD;
                    } else {
                        int urc = fn ? replay_block(&s, multi, c.end, fn, arg) : 0;
                        if (urc != 0) return urc;
                        multi = SIZE_MAX;
                    }
                } else if (multi == SIZE_MAX && fn) {
                    int urc = fn(arg, data + pos, c.end - pos, c.argc, c.name);
                    if (urc != 0) return urc;
                }
                if (rc == PARSE_OK) {
                    res->commands++;
                    pos = c.end;
                }
            }
        }
        if (rc == PARSE_SHORT) {
            res->truncated = true;
            res->error_off = pos;
            return 0;
        }
        if (rc == PARSE_BAD) {
            res->corrupt = true;
            res->error_off = pos;
            return -1;
        }
        if (multi == SIZE_MAX) {
            res->valid_len = pos;
            res->valid_lines = s.lines;
        }
    }
    if (multi != SIZE_MAX) {
        res->truncated = true;
        res->error_off = multi;
        res->error_pos = len;
        snprintf(res->error, sizeof res->error, "Reached EOF before reading EXEC for MULTI");
    }
    return 0;
}
