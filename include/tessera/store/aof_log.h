/*
 * aof_log.h - a propagation log: the RESP commands one shard (or one
 * multi-shard transaction) has logged for the append-only file and not yet
 * handed to the persistence thread (persist/aof.h has the whole design).
 *
 * Owns: the buffer and the database its last command ran in, so the next
 * command in another database is preceded by a SELECT.
 * Thread: a log belongs to one thread at a time (a shard's log to its
 * owner, a transaction's to its coordinator); ts_aof_log_take hands its
 * bytes on.
 */
#ifndef TESSERA_AOF_LOG_H
#define TESSERA_AOF_LOG_H

#include "tessera/util/buf.h"
#include "tessera/util/common.h"

typedef struct ts_aof_log {
    ts_buf buf;    /* RESP commands not yet handed to the persistence thread */
    int db;        /* database of the last command in buf; -1: the next one SELECTs */
} ts_aof_log;

void ts_aof_log_init(ts_aof_log *l);
void ts_aof_log_free(ts_aof_log *l);
/* One command (a SELECT first when db differs from the last one). */
void ts_aof_log_argv(ts_aof_log *l, int db, int argc, const ts_arg *argv);
/* A SELECT when db differs from the last command's. */
void ts_aof_log_select(ts_aof_log *l, int db);
/* Piecewise: the array header, then exactly argc arguments. */
void ts_aof_log_begin(ts_aof_log *l, int db, int argc);
void ts_aof_log_arg(ts_aof_log *l, const void *p, size_t n);
void ts_aof_log_arg_str(ts_aof_log *l, const char *s);
void ts_aof_log_arg_ll(ts_aof_log *l, long long v);
/* Takes the buffered bytes (leaves the log empty and makes the next
 * command SELECT its database). */
void ts_aof_log_take(ts_aof_log *l, ts_buf *out);

#endif
