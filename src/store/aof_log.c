/*
 * aof_log.c - RESP encoding of logged commands into a propagation log
 * (aof_log.h).
 */
#include "tessera/store/aof_log.h"

#include <stdio.h>
#include <string.h>

void ts_aof_log_init(ts_aof_log *l)
{
    ts_buf_init(&l->buf);
    l->db = -1;
}

void ts_aof_log_free(ts_aof_log *l)
{
    ts_buf_free(&l->buf);
    l->db = -1;
}

static void put_len(ts_buf *b, char kind, size_t n)
{
    char tmp[32];
    int k = snprintf(tmp, sizeof tmp, "%c%zu\r\n", kind, n);
    ts_buf_append(b, tmp, (size_t)k);
}

void ts_aof_log_arg(ts_aof_log *l, const void *p, size_t n)
{
    ts_buf_reserve(&l->buf, n + 24);
    put_len(&l->buf, '$', n);
    ts_buf_append(&l->buf, p, n);
    ts_buf_append(&l->buf, "\r\n", 2);
}

void ts_aof_log_arg_str(ts_aof_log *l, const char *s) { ts_aof_log_arg(l, s, strlen(s)); }

void ts_aof_log_arg_ll(ts_aof_log *l, long long v)
{
    char tmp[24];
    int k = snprintf(tmp, sizeof tmp, "%lld", v);
    ts_aof_log_arg(l, tmp, (size_t)k);
}

void ts_aof_log_select(ts_aof_log *l, int db)
{
    if (db == l->db) return;
    ts_buf_append(&l->buf, "*2\r\n$6\r\nSELECT\r\n", 16);
    ts_aof_log_arg_ll(l, db);
    l->db = db;
}

void ts_aof_log_begin(ts_aof_log *l, int db, int argc)
{
    ts_aof_log_select(l, db);
    put_len(&l->buf, '*', (size_t)argc);
}

void ts_aof_log_argv(ts_aof_log *l, int db, int argc, const ts_arg *argv)
{
    ts_aof_log_begin(l, db, argc);
    for (int i = 0; i < argc; i++) ts_aof_log_arg(l, argv[i].ptr, argv[i].len);
}

void ts_aof_log_take(ts_aof_log *l, ts_buf *out)
{
    *out = l->buf;
    ts_buf_init(&l->buf);
    l->db = -1;
}
