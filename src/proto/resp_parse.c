/*
 * resp_parse.c - the client request parser (see resp_parse.h).
 *
 * Owns: the parsing state machine of one connection, its argument vector
 * and the scratch bytes of unquoted inline arguments.
 * Thread: only the thread that reads the connection calls it.
 *
 * Shape: a small state machine that resumes where the previous call
 * stopped. `scan` remembers how far the search for the current line end
 * got, and a bulk payload is never looked at (only its length is compared
 * with what has arrived), so the total work for a command is linear in its
 * size whatever the pieces it arrives in. Progress is kept as offsets from
 * the command start because the caller may move its bytes; argv is turned
 * into pointers only when a command completes, and again only if the bytes
 * are handed over at another address.
 *
 * Redis 7.0 compatibility, checked against redis-server 7.0.15; these are
 * deliberate, not oversights:
 *  - A header line ("*<n>", "$<len>") ends at the first '\r' after its
 *    start, and whatever byte follows that '\r' is skipped unchecked. A
 *    bulk payload is followed by two bytes that are skipped unchecked too
 *    ("*1\rX$4\rYPINGab" is a valid PING).
 *  - Redis searches for line ends with strchr, so a NUL byte before the line
 *    end hides it: the request then waits for more bytes until more than
 *    64KB are pending, and fails as "too big". Bulk payloads may hold NULs.
 *  - "*<n>" with n <= 0 (e.g. "*0", "*-1") is an empty command; n may be up
 *    to INT_MAX. Numbers are strict: optional '-', no '+', no spaces, no
 *    leading zeros, and "-0" is invalid.
 *  - The character in "expected '$', got 'X'" is the raw byte, except that
 *    '\r' and '\n' are shown as a space.
 *  - Inline lines end at '\n' and lose one '\r' before it. Leading blanks
 *    are the six isspace() characters, but an unquoted token only ends at
 *    ' ', '\t', '\r' or '\n' ("a\vb" is one argument). A quote may start in
 *    the middle of a token (a"b c" is "ab c") and its closing quote must be
 *    followed by a blank or the end of the line.
 */
#include "tessera/proto/resp_parse.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

enum {
    ST_START,      /* nothing known about the command yet */
    ST_INLINE,     /* looking for the end of an inline line */
    ST_COUNT,      /* looking for the end of "*<n>" */
    ST_BULK_HDR,   /* looking for the end of "$<len>" at pos */
    ST_BULK_DATA,  /* waiting for bulk_len + 2 bytes at bulk_start */
    ST_DONE,       /* a complete command is in argv */
    ST_ERROR,      /* error holds the reply */
};

#define NPOS ((size_t)-1)
#define SCRATCH_BIT ((size_t)1 << (sizeof(size_t) * CHAR_BIT - 1))
/* Memory kept across commands; more is released on reset. */
#define KEEP_ARGS 1024
#define KEEP_SCRATCH ((size_t)16 * 1024)
/* Redis allocates at most this many argument slots up front. */
#define FIRST_ARGS 1024

static int fail(ts_parser *p, const char *msg)
{
    p->state = ST_ERROR;
    p->error = msg;
    p->argc = 0;
    return TS_PARSE_ERROR;
}

static int fail_expected_dollar(ts_parser *p, char got)
{
    if (got == '\r' || got == '\n') got = ' ';
    snprintf(p->errbuf, sizeof(p->errbuf), "ERR Protocol error: expected '$', got '%c'",
             (unsigned char)got);
    return fail(p, p->errbuf);
}

/* Redis's string2ll: decimal, optional '-', no '+', no blanks, no leading
 * zeros, "-0" rejected, must fit a long long. */
static int parse_ll(const char *s, size_t n, long long *out)
{
    size_t i = 0;
    int neg = 0;
    unsigned long long v = 0;

    if (n == 0 || n > 20) return 0;
    if (n == 1 && s[0] == '0') { *out = 0; return 1; }
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (n == 1) return 0;
    }
    if (s[i] < '1' || s[i] > '9') return 0;
    for (; i < n; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9') return 0;
        d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (!neg) {
        if (v > (unsigned long long)LLONG_MAX) return 0;
        *out = (long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX + 1) return 0;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    }
    return 1;
}

/* Looks for ch in buf[scan, len), stopping at a NUL as strchr would.
 * Returns its offset, or NPOS when it is not there (yet). A NUL found first
 * sets `blocked`: this line can then never end. */
static size_t find_line_end(ts_parser *p, const char *buf, size_t len, char ch)
{
    size_t from = p->scan, end;
    const char *hit, *nul;

    if (p->blocked || from >= len) return NPOS;
    hit = memchr(buf + from, ch, len - from);
    end = hit ? (size_t)(hit - buf) : len;
    nul = end > from ? memchr(buf + from, '\0', end - from) : NULL;
    if (nul) {
        p->scan = (size_t)(nul - buf);
        p->scanned += p->scan - from + 1;
        p->blocked = 1;
        return NPOS;
    }
    p->scan = end;
    if (!hit) {
        p->scanned += len - from;
        return NPOS;
    }
    p->scanned += end - from + 1;
    return end;
}

static void reserve_args(ts_parser *p, size_t want)
{
    size_t cap = (size_t)p->cap;
    if (want <= cap) return;
    if (cap < 8) cap = 8;
    while (cap < want) cap *= 2;
    /* argc is an int, as in Redis; the query buffer limit keeps real
     * commands far below this. */
    if (cap > INT_MAX) cap = INT_MAX;
    if (want > cap) ts_panic("resp_parse: more than INT_MAX arguments");
    p->argv = ts_realloc(p->argv, cap * sizeof(*p->argv));
    p->off = ts_realloc(p->off, cap * sizeof(*p->off));
    p->cap = (int)cap;
}

static void push_arg(ts_parser *p, size_t off, size_t len)
{
    if (p->nargs == p->cap) reserve_args(p, (size_t)p->cap + 1);
    p->off[p->nargs] = off;
    p->argv[p->nargs].ptr = NULL;
    p->argv[p->nargs].len = len;
    p->nargs++;
}

/* Points argv at the bytes, unless it already points at this address. */
static void resolve(ts_parser *p, const char *buf)
{
    uintptr_t base = (uintptr_t)buf;
    int i;

    if (p->base == base) return;
    for (i = 0; i < p->nargs; i++) {
        size_t off = p->off[i];
        if (off & SCRATCH_BIT) p->argv[i].ptr = p->scratch + (off & ~SCRATCH_BIT);
        else p->argv[i].ptr = buf + off;
    }
    p->base = base;
}

static int finish(ts_parser *p, const char *buf, size_t cmd_len)
{
    p->state = ST_DONE;
    p->cmd_len = cmd_len;
    p->argc = p->nargs;
    p->base = 0;
    resolve(p, buf);
    return TS_PARSE_OK;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int ends_token(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The rest of a token from the opening quote at s[i]: appends the unquoted
 * bytes to scratch and returns the offset just past the closing quote, or
 * NPOS when the quotes are unbalanced. */
static size_t unquote(ts_parser *p, const char *s, size_t i, size_t n)
{
    char q = s[i++];
    char *out = p->scratch + p->scratch_len;

    while (i < n) {
        char c = s[i];
        if (q == '"' && c == '\\' && i + 3 < n && s[i + 1] == 'x' &&
            hex_value(s[i + 2]) >= 0 && hex_value(s[i + 3]) >= 0) {
            *out++ = (char)(hex_value(s[i + 2]) * 16 + hex_value(s[i + 3]));
            i += 4;
        } else if (q == '"' && c == '\\' && i + 1 < n) {
            switch (s[i + 1]) {
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'b': c = '\b'; break;
            case 'a': c = '\a'; break;
            default: c = s[i + 1]; break;
            }
            *out++ = c;
            i += 2;
        } else if (q == '\'' && c == '\\' && i + 1 < n && s[i + 1] == '\'') {
            *out++ = '\'';
            i += 2;
        } else if (c == q) {
            if (i + 1 < n && !is_blank(s[i + 1])) return NPOS;
            p->scratch_len = (size_t)(out - p->scratch);
            return i + 1;
        } else {
            *out++ = c;
            i++;
        }
    }
    return NPOS;
}

/* Splits s[0, n) like Redis's sdssplitargs. Returns 0, or -1 for
 * unbalanced quotes. */
static int split_inline(ts_parser *p, const char *s, size_t n)
{
    size_t i = 0;

    for (;;) {
        size_t start;
        while (i < n && is_blank(s[i])) i++;
        if (i == n) return 0;
        start = i;
        while (i < n && !ends_token(s[i]) && s[i] != '"' && s[i] != '\'') i++;
        if (i == n || ends_token(s[i])) {
            push_arg(p, start, i - start);
            continue;
        }
        /* A quoted part: the argument is built in scratch. The unquoted
         * bytes are never more than the source bytes. */
        {
            size_t need = p->scratch_len + (n - start);
            size_t arg_off = p->scratch_len;
            if (need > p->scratch_cap) {
                size_t cap = p->scratch_cap ? p->scratch_cap : 64;
                while (cap < need) cap *= 2;
                p->scratch = ts_realloc(p->scratch, cap);
                p->scratch_cap = cap;
            }
            memcpy(p->scratch + p->scratch_len, s + start, i - start);
            p->scratch_len += i - start;
            i = unquote(p, s, i, n);
            if (i == NPOS) return -1;
            push_arg(p, arg_off | SCRATCH_BIT, p->scratch_len - arg_off);
        }
    }
}

static int parse_inline(ts_parser *p, const char *buf, size_t len)
{
    size_t nl = find_line_end(p, buf, len, '\n'), end;

    if (nl == NPOS) {
        if (len > TS_PROTO_INLINE_MAX) return fail(p, "ERR Protocol error: too big inline request");
        return TS_PARSE_INCOMPLETE;
    }
    end = nl;
    if (end > 0 && buf[end - 1] == '\r') end--;
    if (split_inline(p, buf, end) < 0)
        return fail(p, "ERR Protocol error: unbalanced quotes in request");
    return finish(p, buf, nl + 1);
}

static int parse_count(ts_parser *p, const char *buf, size_t len)
{
    size_t r = find_line_end(p, buf, len, '\r');
    long long ll;

    if (r == NPOS) {
        if (len > TS_PROTO_INLINE_MAX) return fail(p, "ERR Protocol error: too big mbulk count string");
        return TS_PARSE_INCOMPLETE;
    }
    if (r + 1 >= len) return TS_PARSE_INCOMPLETE; /* the byte after '\r' */
    if (!parse_ll(buf + 1, r - 1, &ll) || ll > INT_MAX)
        return fail(p, "ERR Protocol error: invalid multibulk length");
    if (p->unauthenticated && ll > TS_PROTO_UNAUTH_MAX_ARGS)
        return fail(p, "ERR Protocol error: unauthenticated multibulk length");
    p->pos = p->scan = r + 2;
    if (ll <= 0) return finish(p, buf, p->pos);
    p->mb_left = (int)ll;
    reserve_args(p, ll < FIRST_ARGS ? (size_t)ll : FIRST_ARGS);
    p->state = ST_BULK_HDR;
    return TS_PARSE_INCOMPLETE;
}

/* Returns TS_PARSE_OK when the header is parsed and its payload is awaited. */
static int parse_bulk_header(ts_parser *p, const char *buf, size_t len)
{
    size_t r = find_line_end(p, buf, len, '\r');
    long long ll;

    if (r == NPOS) {
        if (len - p->pos > TS_PROTO_INLINE_MAX)
            return fail(p, "ERR Protocol error: too big bulk count string");
        return TS_PARSE_INCOMPLETE;
    }
    if (r + 1 >= len) return TS_PARSE_INCOMPLETE;
    if (buf[p->pos] != '$') return fail_expected_dollar(p, buf[p->pos]);
    if (!parse_ll(buf + p->pos + 1, r - p->pos - 1, &ll) || ll < 0 ||
        (unsigned long long)ll > (unsigned long long)p->max_bulk_len)
        return fail(p, "ERR Protocol error: invalid bulk length");
    if (p->unauthenticated && ll > TS_PROTO_UNAUTH_MAX_BULK)
        return fail(p, "ERR Protocol error: unauthenticated bulk length");
    p->bulk_start = r + 2;
    p->bulk_len = (size_t)ll;
    p->state = ST_BULK_DATA;
    return TS_PARSE_OK;
}

static int parse_multibulk(ts_parser *p, const char *buf, size_t len)
{
    if (p->state == ST_COUNT) {
        int rc = parse_count(p, buf, len);
        if (p->state != ST_BULK_HDR) return rc;
    }
    while (p->mb_left > 0) {
        size_t avail;
        if (p->state == ST_BULK_HDR) {
            int rc = parse_bulk_header(p, buf, len);
            if (rc != TS_PARSE_OK) return rc;
        }
        /* Only the length matters: the payload is never scanned, and the
         * two bytes after it are skipped whatever they are. */
        avail = len - p->bulk_start;
        if (avail < 2 || avail - 2 < p->bulk_len) return TS_PARSE_INCOMPLETE;
        push_arg(p, p->bulk_start, p->bulk_len);
        p->pos = p->scan = p->bulk_start + p->bulk_len + 2;
        p->mb_left--;
        p->state = ST_BULK_HDR;
    }
    return finish(p, buf, p->pos);
}

/* ---- the fast path ----
 * Almost every request is a multibulk command with a few arguments whose
 * bytes have all arrived and whose headers are plain digits. parse_fast
 * takes such a command in one pass, without the line-end searches of the
 * state machine above. It handles nothing else: on anything unusual (bytes
 * missing, a NUL or a sign in a header, a bad or oversized length, more
 * than FAST_MAX_ARGS arguments, an unauthenticated client) it returns 0
 * with the parser as it found it, and the state machine decides, so every
 * reply and error is the one it gives. A failed attempt reads at most the
 * bytes the state machine reads next, so the work stays linear. */
#define FAST_MAX_ARGS 64

/* A header number at buf[*i]: digits without a leading zero (or a lone
 * "0") up to the '\r', and the byte after the '\r' present. On success *i
 * is past that byte. */
static int fast_number(const char *buf, size_t len, size_t *i, size_t *out)
{
    size_t j = *i, v = 0, start = j;
    if (j >= len) return 0;
    if (buf[j] == '0') {
        j++;
    } else {
        while (j < len && buf[j] >= '0' && buf[j] <= '9' && j - start < 18) {
            v = v * 10 + (size_t)(buf[j] - '0');
            j++;
        }
        if (j == start || j - start >= 18) return 0;
    }
    if (j + 1 >= len || buf[j] != '\r') return 0;
    *out = v;
    *i = j + 2;
    return 1;
}

static int parse_fast(ts_parser *p, const char *buf, size_t len)
{
    size_t i = 1, count, scanned;
    if (!fast_number(buf, len, &i, &count) || count == 0 || count > FAST_MAX_ARGS) return 0;
    scanned = i - 1;   /* what the line-end search would have examined */
    reserve_args(p, count);
    for (size_t a = 0; a < count; a++) {
        size_t hdr = i, blen;
        if (i >= len || buf[i] != '$') break;
        i++;
        if (!fast_number(buf, len, &i, &blen) || blen > p->max_bulk_len || len - i < 2 || len - i - 2 < blen) break;
        scanned += i - hdr - 1;
        push_arg(p, i, blen);
        i += blen + 2;
    }
    if ((size_t)p->nargs != count) {
        p->nargs = 0;
        return 0;
    }
    p->scanned += scanned;
    p->pos = p->scan = i;
    return finish(p, buf, i);
}

void ts_parser_init(ts_parser *p, size_t max_bulk_len)
{
    memset(p, 0, sizeof(*p));
    p->max_bulk_len = max_bulk_len;
    p->state = ST_START;
}

void ts_parser_free(ts_parser *p)
{
    free(p->argv);
    free(p->off);
    free(p->scratch);
    p->argv = NULL;
    p->off = NULL;
    p->scratch = NULL;
    p->cap = 0;
    p->scratch_cap = 0;
    ts_parser_reset(p);
}

void ts_parser_reset(ts_parser *p)
{
    p->state = ST_START;
    p->argc = 0;
    p->cmd_len = 0;
    p->error = NULL;
    p->blocked = 0;
    p->mb_left = 0;
    p->nargs = 0;
    p->pos = 0;
    p->scan = 0;
    p->bulk_start = 0;
    p->bulk_len = 0;
    p->seen = 0;
    p->base = 0;
    p->scratch_len = 0;
    if (p->cap > KEEP_ARGS) {
        free(p->argv);
        free(p->off);
        p->argv = NULL;
        p->off = NULL;
        p->cap = 0;
    }
    if (p->scratch_cap > KEEP_SCRATCH) {
        free(p->scratch);
        p->scratch = NULL;
        p->scratch_cap = 0;
    }
}

int ts_parser_next(ts_parser *p, const char *buf, size_t len)
{
    TS_ASSERT(len >= p->seen);
    p->seen = len;
    switch (p->state) {
    case ST_DONE:
        TS_ASSERT(len >= p->cmd_len);
        resolve(p, buf);
        return TS_PARSE_OK;
    case ST_ERROR:
        return TS_PARSE_ERROR;
    case ST_START:
        if (len == 0) return TS_PARSE_INCOMPLETE;
        if (buf[0] == '*' && !p->unauthenticated && parse_fast(p, buf, len)) return TS_PARSE_OK;
        p->state = buf[0] == '*' ? ST_COUNT : ST_INLINE;
        break;
    default:
        break;
    }
    if (p->state == ST_INLINE) return parse_inline(p, buf, len);
    return parse_multibulk(p, buf, len);
}

size_t ts_parser_bytes_wanted(const ts_parser *p)
{
    if (p->state != ST_BULK_DATA) return 0;
    if (p->bulk_len > SIZE_MAX - 2 - p->bulk_start) return SIZE_MAX;
    return p->bulk_start + p->bulk_len + 2;
}
