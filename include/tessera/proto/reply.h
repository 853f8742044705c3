/*
 * reply.h - the RESP2/RESP3 reply writer.
 *
 * Owns: nothing; it appends to a ts_buf that belongs to the caller (a
 * connection's output buffer for commands run inline, or the reply buffer
 * of a cross-thread message for commands run on another shard).
 * Thread: whoever owns the buffer. Commands write replies only through this
 * module, so they never know whether the reply travels through a message or
 * goes straight to a socket, nor which protocol the client speaks.
 */
#ifndef TESSERA_REPLY_H
#define TESSERA_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/util/buf.h"

typedef struct ts_reply {
    ts_buf *out;
    uint8_t resp;          /* 2 or 3 */
    uint32_t errors;       /* error replies written (for INFO errorstats) */
    char last_error_code[32]; /* first word of the last error, e.g. "ERR" */
    /* The client's output limit (client-output-buffer-limit's hard limit)
     * as a length of `out`; 0: none. Commands whose reply grows with a
     * count the client chose (SRANDMEMBER -N ...) stop once it is passed:
     * the client is being disconnected for it anyway (Redis's
     * CLIENT_CLOSE_ASAP check in those loops). */
    size_t limit;
} ts_reply;

static inline void ts_reply_init(ts_reply *r, ts_buf *out, int resp)
{
    r->out = out;
    r->resp = (uint8_t)resp;
    r->errors = 0;
    r->limit = 0;
    r->last_error_code[0] = '\0';
}

/* The reply passed its client's output limit (see `limit`). */
static inline bool ts_reply_over_limit(const ts_reply *r) { return r->limit && r->out->len > r->limit; }

void ts_reply_raw(ts_reply *r, const char *s, size_t n);
void ts_reply_ok(ts_reply *r);
void ts_reply_simple(ts_reply *r, const char *s);          /* +s\r\n */
/* -msg\r\n; msg starts with its code ("ERR ...", "WRONGTYPE ..."). */
void ts_reply_error(ts_reply *r, const char *msg);
void ts_reply_errorf(ts_reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ts_reply_bulk(ts_reply *r, const void *p, size_t n);
static inline void ts_reply_cstr(ts_reply *r, const char *s) { ts_reply_bulk(r, s, strlen(s)); }
void ts_reply_bulk_ll(ts_reply *r, long long v);           /* integer as a bulk string */
void ts_reply_int(ts_reply *r, long long v);
void ts_reply_null(ts_reply *r);                           /* RESP2 $-1, RESP3 _ */
void ts_reply_null_array(ts_reply *r);                     /* RESP2 *-1, RESP3 _ */
void ts_reply_array(ts_reply *r, long n);
void ts_reply_map(ts_reply *r, long n);                    /* RESP2: array of 2n */
void ts_reply_set(ts_reply *r, long n);                    /* RESP2: array */
void ts_reply_double(ts_reply *r, double d);               /* RESP2 bulk "%.17g", RESP3 ',' */
void ts_reply_bool(ts_reply *r, bool b);                   /* RESP2 :1/:0, RESP3 #t/#f */
void ts_reply_verbatim(ts_reply *r, const char *p, size_t n, const char *ext); /* RESP2 bulk */
/* An array of status lines (the HELP subcommands' replies). */
void ts_reply_status_lines(ts_reply *r, const char *const *lines, size_t n);

/* Deferred aggregate length: write a placeholder now, fill it in later.
 * Returns a handle (an offset into the buffer). */
size_t ts_reply_defer(ts_reply *r);
void ts_reply_set_array_len(ts_reply *r, size_t handle, long n);
void ts_reply_set_map_len(ts_reply *r, size_t handle, long n);
void ts_reply_set_set_len(ts_reply *r, size_t handle, long n);   /* RESP2: array */

/* Writes a value stored in the compact tree encoding used for static
 * metadata (the command table): "*N\n" array, "%N\n" map of N pairs, "~N\n"
 * set, "$L\n" + L bytes bulk, "+text\n" status, ":N\n" integer, each
 * followed by its elements. Returns the position after the value. */
const char *ts_reply_tree(ts_reply *r, const char *enc);

/* Common errors, byte-identical to Redis 7.0. */
#define TS_ERR_WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"
#define TS_ERR_SYNTAX "ERR syntax error"
#define TS_ERR_NOT_INT "ERR value is not an integer or out of range"
#define TS_ERR_NOT_FLOAT "ERR value is not a valid float"
#define TS_ERR_NO_KEY "ERR no such key"
#define TS_ERR_OVERFLOW "ERR increment or decrement would overflow"
#define TS_ERR_DB_INDEX "ERR DB index is out of range"
#define TS_ERR_BUSY_EVAL "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
#define TS_ERR_BUSY_FUNCTION "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."

#endif
