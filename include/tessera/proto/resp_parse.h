/*
 * resp_parse.h - the client request parser: RESP multibulk requests
 * ("*<n>\r\n" followed by n "$<len>\r\n<bytes>\r\n") and inline commands
 * (a text line split on blanks, with "double" and 'single' quoting).
 *
 * Owns: one connection's parsing state, the argument vector it hands out
 * and the scratch bytes of inline arguments that needed unquoting. It owns
 * no request bytes: those stay in the connection's query buffer.
 *
 * Thread: a parser belongs to one connection and is only called by the
 * thread that reads that connection; it has no locking and no globals.
 *
 * Why it is shaped so: the caller keeps the bytes and may move them (it
 * compacts or grows its buffer between reads), so the parser remembers its
 * progress as offsets from the start of the current command, never as
 * pointers. Every byte is examined at most once per command however the
 * bytes arrive, which keeps a 100MB bulk or a million-argument command
 * linear. Errors and limits are those of Redis 7.0, byte for byte,
 * including its quirks (see resp_parse.c).
 */
#ifndef TESSERA_RESP_PARSE_H
#define TESSERA_RESP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/util/common.h"

enum { TS_PARSE_INCOMPLETE = 0, TS_PARSE_OK = 1, TS_PARSE_ERROR = -1 };

/* Redis's PROTO_INLINE_MAX_SIZE: a header or inline line that has not ended
 * within this many bytes is a protocol error. */
#define TS_PROTO_INLINE_MAX ((size_t)64 * 1024)
/* Default of proto-max-bulk-len. */
#define TS_PROTO_MAX_BULK_DEFAULT ((size_t)512 * 1024 * 1024)
/* The limits Redis applies while a client still has to authenticate. */
#define TS_PROTO_UNAUTH_MAX_ARGS 10
#define TS_PROTO_UNAUTH_MAX_BULK 16384

typedef struct ts_parser {
    /* Results, valid after TS_PARSE_OK until the next call or reset. */
    int argc;
    ts_arg *argv;          /* slices into the caller's buffer or into scratch */
    size_t cmd_len;        /* bytes the whole command occupies */
    const char *error;     /* after TS_PARSE_ERROR: "ERR Protocol error: ..." */

    /* Settings: the caller may change them between commands. */
    size_t max_bulk_len;   /* proto-max-bulk-len; SIZE_MAX for no limit */
    int unauthenticated;   /* non-zero: apply Redis's limits for clients that
                            * have not authenticated yet (10 args, 16KB bulks) */

    /* Statistics: bytes examined while looking for line ends, since init.
     * Tests use it to prove that no byte is scanned twice. */
    size_t scanned;

    /* Private state; offsets are from the start of the current command. */
    int state;
    int blocked;           /* a NUL byte hides the line end (see .c) */
    int mb_left;           /* bulk arguments still expected */
    int nargs;             /* arguments collected so far */
    int cap;               /* capacity of argv and off */
    size_t *off;           /* per argument: offset in buf, or in scratch
                            * when the top bit is set */
    size_t pos;            /* start of the header or line being parsed */
    size_t scan;           /* the line end search resumes here */
    size_t bulk_start;     /* first payload byte of the current bulk */
    size_t bulk_len;
    size_t seen;           /* len of the previous call */
    uintptr_t base;        /* address argv was last resolved against */
    char *scratch;         /* unquoted inline arguments */
    size_t scratch_len, scratch_cap;
    char errbuf[48];
} ts_parser;

/* max_bulk_len is proto-max-bulk-len (Redis's default: 512MB). */
void ts_parser_init(ts_parser *p, size_t max_bulk_len);
void ts_parser_free(ts_parser *p);

/* Parses the command that starts at buf[0] (the caller passes buf+pos,
 * len-pos).
 * OK: argc/argv hold the arguments (slices into buf, or into the parser's
 *   scratch for inline arguments that needed unquoting) and cmd_len is the
 *   size of the whole command. argc may be 0 (an empty inline line, "*0\r\n",
 *   "*-1\r\n"): the caller just skips cmd_len bytes.
 * INCOMPLETE: more bytes are needed. The next call must pass the same
 *   command start with at least the same bytes; the bytes may have moved to
 *   another address. Bytes already examined are not examined again.
 * ERROR: error is the Redis error line without '-' and CRLF; the connection
 *   sends it and closes. Further calls return the same error.
 * After OK the caller may leave the command unconsumed and call again from
 * the same start (moved or not, more bytes appended or not): the same command
 * comes back. Call ts_parser_reset before parsing at a new start; argv is
 * invalid after the reset. */
int ts_parser_next(ts_parser *p, const char *buf, size_t len);

/* Forgets the current command (keeps settings, statistics and, up to a
 * bound, memory). */
void ts_parser_reset(ts_parser *p);

/* How many bytes in total (from buf[0]) the incomplete command is known to
 * need so far, so the reader can reserve a large bulk's room at once; 0 if
 * unknown (no bulk payload is pending). */
size_t ts_parser_bytes_wanted(const ts_parser *p);

#endif
