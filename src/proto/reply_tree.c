/*
 * reply_tree.c - replies from static metadata trees (see ts_reply_tree in
 * reply.h). The command table keeps COMMAND INFO key specifications and
 * COMMAND DOCS documents in this encoding so that one string serves both
 * RESP2 and RESP3 (maps and sets are written per the client's protocol).
 * Thread: any; the input is const.
 */
#include <stdlib.h>
#include <string.h>

#include "tessera/proto/reply.h"

static long read_num(const char **p)
{
    char *end;
    long n = strtol(*p, &end, 10);
    *p = end + 1;   /* skip the '\n' */
    return n;
}

const char *ts_reply_tree(ts_reply *r, const char *p)
{
    char kind = *p++;
    switch (kind) {
    case '*': case '~': case '%': {
        long n = read_num(&p);
        if (kind == '*') ts_reply_array(r, n);
        else if (kind == '~') ts_reply_set(r, n);
        else ts_reply_map(r, n);
        long items = kind == '%' ? 2 * n : n;
        for (long i = 0; i < items; i++) p = ts_reply_tree(r, p);
        return p;
    }
    case '$': {
        long n = read_num(&p);
        ts_reply_bulk(r, p, (size_t)n);
        return p + n;
    }
    case '+': {
        const char *end = strchr(p, '\n');
        ts_buf_putc(r->out, '+');
        ts_buf_append(r->out, p, (size_t)(end - p));
        ts_buf_append(r->out, "\r\n", 2);
        return end + 1;
    }
    case ':':
        ts_reply_int(r, read_num(&p));
        return p;
    default:
        ts_panic("bad metadata tree encoding '%c'", kind);
    }
}
