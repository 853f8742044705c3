/*
 * buf.c - the growable byte buffer (see buf.h).
 *
 * Growth doubles the capacity (at least 64 bytes), so appending n bytes in
 * pieces costs O(n) copies in total.
 */
#include "tessera/util/buf.h"

void ts_buf_free(ts_buf *b)
{
    free(b->data);
    ts_buf_init(b);
}

void ts_buf_grow(ts_buf *b, size_t extra)
{
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    b->data = ts_realloc(b->data, cap);
    b->cap = cap;
}

void ts_buf_consume(ts_buf *b, size_t n)
{
    if (n >= b->len) { b->len = 0; return; }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}
