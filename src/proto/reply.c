/*
 * reply.c - RESP2/RESP3 encoding of replies (see reply.h).
 *
 * Numbers are formatted by hand (no printf on the hot path). RESP allows no
 * padding in a length, so a deferred aggregate header is spliced in with one
 * memmove when the length is known (aggregates are built once, so this is
 * cheap).
 */
#include "tessera/proto/reply.h"
#include "tessera/util/strconv.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void put_header(ts_reply *r, char type, long long v)
{
    ts_buf_reserve(r->out, 24);
    char *p = r->out->data + r->out->len;
    p[0] = type;
    size_t n = 1 + ts_ll_to_str(p + 1, v);
    p[n++] = '\r';
    p[n++] = '\n';
    r->out->len += n;
}

void ts_reply_raw(ts_reply *r, const char *s, size_t n) { ts_buf_append(r->out, s, n); }

void ts_reply_ok(ts_reply *r) { ts_buf_append(r->out, "+OK\r\n", 5); }

void ts_reply_simple(ts_reply *r, const char *s)
{
    size_t n = strlen(s);
    ts_buf_reserve(r->out, n + 3);
    ts_buf_putc(r->out, '+');
    ts_buf_append(r->out, s, n);
    ts_buf_append(r->out, "\r\n", 2);
}

void ts_reply_error(ts_reply *r, const char *msg)
{
    size_t n = strlen(msg);
    ts_buf_reserve(r->out, n + 3);
    ts_buf_putc(r->out, '-');
    /* An error line must not contain newlines: replace them like Redis. */
    size_t start = r->out->len;
    ts_buf_append(r->out, msg, n);
    for (size_t i = start; i < r->out->len; i++)
        if (r->out->data[i] == '\r' || r->out->data[i] == '\n') r->out->data[i] = ' ';
    ts_buf_append(r->out, "\r\n", 2);
    r->errors++;
    size_t code = strcspn(msg, " ");
    if (code >= sizeof(r->last_error_code)) code = sizeof(r->last_error_code) - 1;
    memcpy(r->last_error_code, msg, code);
    r->last_error_code[code] = '\0';
}

void ts_reply_errorf(ts_reply *r, const char *fmt, ...)
{
    char stackbuf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(stackbuf, sizeof(stackbuf), fmt, ap);
    va_end(ap);
    char *msg = stackbuf;
    if (n >= (int)sizeof(stackbuf)) {
        msg = ts_malloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    /* Like Redis's addReplyErrorFormat: newlines at either end (a quoted
     * argument's) are trimmed, the ones inside become spaces. */
    char *start = msg, *end = msg + strlen(msg);
    while (start < end && (*start == '\r' || *start == '\n')) start++;
    while (end > start && (end[-1] == '\r' || end[-1] == '\n')) end--;
    *end = '\0';
    ts_reply_error(r, start);
    if (msg != stackbuf) free(msg);
}

void ts_reply_bulk(ts_reply *r, const void *p, size_t n)
{
    ts_buf_reserve(r->out, n + 26);
    put_header(r, '$', (long long)n);
    if (n) memcpy(r->out->data + r->out->len, p, n);   /* an empty bulk's p may be NULL */
    r->out->len += n;
    r->out->data[r->out->len++] = '\r';
    r->out->data[r->out->len++] = '\n';
}

void ts_reply_bulk_ll(ts_reply *r, long long v)
{
    char tmp[24];
    size_t n = ts_ll_to_str(tmp, v);
    ts_reply_bulk(r, tmp, n);
}

void ts_reply_int(ts_reply *r, long long v) { put_header(r, ':', v); }

void ts_reply_null(ts_reply *r)
{
    if (r->resp >= 3) ts_buf_append(r->out, "_\r\n", 3);
    else ts_buf_append(r->out, "$-1\r\n", 5);
}

void ts_reply_null_array(ts_reply *r)
{
    if (r->resp >= 3) ts_buf_append(r->out, "_\r\n", 3);
    else ts_buf_append(r->out, "*-1\r\n", 5);
}

void ts_reply_array(ts_reply *r, long n) { put_header(r, '*', n); }

void ts_reply_map(ts_reply *r, long n)
{
    if (r->resp >= 3) put_header(r, '%', n);
    else put_header(r, '*', 2 * (long long)n);
}

void ts_reply_set(ts_reply *r, long n) { put_header(r, r->resp >= 3 ? '~' : '*', n); }

void ts_reply_double(ts_reply *r, double d)
{
    char dbuf[64];
    int n;
    if (isinf(d)) n = snprintf(dbuf, sizeof(dbuf), "%s", d > 0 ? "inf" : "-inf");
    else n = snprintf(dbuf, sizeof(dbuf), "%.17g", d);
    if (r->resp >= 3) {
        ts_buf_putc(r->out, ',');
        ts_buf_append(r->out, dbuf, (size_t)n);
        ts_buf_append(r->out, "\r\n", 2);
    } else {
        ts_reply_bulk(r, dbuf, (size_t)n);
    }
}

void ts_reply_bool(ts_reply *r, bool b)
{
    if (r->resp >= 3) ts_buf_append(r->out, b ? "#t\r\n" : "#f\r\n", 4);
    else ts_buf_append(r->out, b ? ":1\r\n" : ":0\r\n", 4);
}

void ts_reply_verbatim(ts_reply *r, const char *p, size_t n, const char *ext)
{
    if (r->resp < 3) { ts_reply_bulk(r, p, n); return; }
    ts_buf_reserve(r->out, n + 32);
    put_header(r, '=', (long long)n + 4);
    ts_buf_append(r->out, ext, 3);
    ts_buf_putc(r->out, ':');
    ts_buf_append(r->out, p, n);
    ts_buf_append(r->out, "\r\n", 2);
}

/* A deferred header is remembered as the offset where it must be inserted. */
size_t ts_reply_defer(ts_reply *r) { return r->out->len; }

static void splice_header(ts_reply *r, size_t at, char type, long long n)
{
    char hdr[32];
    hdr[0] = type;
    size_t len = 1 + ts_ll_to_str(hdr + 1, n);
    hdr[len++] = '\r';
    hdr[len++] = '\n';
    ts_buf_reserve(r->out, len);
    memmove(r->out->data + at + len, r->out->data + at, r->out->len - at);
    memcpy(r->out->data + at, hdr, len);
    r->out->len += len;
}

void ts_reply_set_array_len(ts_reply *r, size_t handle, long n) { splice_header(r, handle, '*', n); }

void ts_reply_set_set_len(ts_reply *r, size_t handle, long n) { splice_header(r, handle, r->resp >= 3 ? '~' : '*', n); }

void ts_reply_set_map_len(ts_reply *r, size_t handle, long n)
{
    if (r->resp >= 3) splice_header(r, handle, '%', n);
    else splice_header(r, handle, '*', 2 * (long long)n);
}

void ts_reply_status_lines(ts_reply *r, const char *const *lines, size_t n)
{
    ts_reply_array(r, (long)n);
    for (size_t i = 0; i < n; i++) ts_reply_simple(r, lines[i]);
}
