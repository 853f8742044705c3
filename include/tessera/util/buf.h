/*
 * buf.h - a growable byte buffer.
 *
 * Owns: its bytes (data is malloc'd; ts_buf_free releases them).
 * Thread: a buffer belongs to whoever holds it; it has no locking. Buffers
 * travel between threads only inside messages, which hand ownership over.
 * Any call that may grow the buffer may move data: pointers into it are
 * invalid afterwards.
 */
#ifndef TESSERA_BUF_H
#define TESSERA_BUF_H

#include <stddef.h>
#include <string.h>

#include "tessera/util/common.h"

typedef struct ts_buf {
    char *data;
    size_t len;
    size_t cap;
} ts_buf;

static inline void ts_buf_init(ts_buf *b) { b->data = NULL; b->len = 0; b->cap = 0; }
void ts_buf_free(ts_buf *b);
/* Makes room for at least `extra` more bytes after len. */
void ts_buf_grow(ts_buf *b, size_t extra);
static inline void ts_buf_reserve(ts_buf *b, size_t extra)
{
    if (TS_UNLIKELY(b->cap - b->len < extra)) ts_buf_grow(b, extra);
}
static inline void ts_buf_append(ts_buf *b, const void *p, size_t n)
{
    if (n == 0) return;   /* p may be NULL; memcpy must not see it */
    ts_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}
static inline void ts_buf_putc(ts_buf *b, char c)
{
    ts_buf_reserve(b, 1);
    b->data[b->len++] = c;
}
/* Removes the first n bytes, moving the rest to the front. */
void ts_buf_consume(ts_buf *b, size_t n);

#endif
