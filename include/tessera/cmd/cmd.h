/*
 * cmd.h - the declarative command table, and the helpers command files
 * share to read their arguments.
 *
 * Owns: the table of every command (the descriptors of route/command.h,
 * with their documentation), the same data that COMMAND INFO / COMMAND
 * DOCS return.
 * Thread: the table is const after ts_command_table_init (main thread,
 * before the workers start) and read by every thread.
 *
 * Why this shape: a command file knows the keyspace and the reply writer,
 * never libuv, never which thread it runs on, never whether its reply
 * travels through a message. Routing is decided from the table alone.
 */
#ifndef TESSERA_CMD_H
#define TESSERA_CMD_H

#include <stdbool.h>
#include <stdint.h>

#include "tessera/util/common.h"
#include "tessera/proto/reply.h"
#include "tessera/route/command.h"
#include "tessera/util/strconv.h"

/* Lookup by name (case-insensitive). NULL when unknown. */
const ts_command *ts_command_lookup(const char *name, size_t len);
/* For container commands (CONFIG GET): the subcommand, or NULL. */
const ts_command *ts_command_lookup_sub(const ts_command *parent, const char *name, size_t len);
/* Iteration over the table, for COMMAND and INFO commandstats. */
int ts_command_count(void);
const ts_command *ts_command_at(int i);
/* Main thread, before anything else uses the table. */
void ts_command_table_init(void);
/* Main thread, after ts_command_table_init and before the workers start:
 * gives a command (or "container|sub") whose state belongs to a higher
 * layer its implementation and multi-shard ops (net/conn_cmds.c), so the
 * table never names a function of a layer above it. */
void ts_command_bind(const char *name, ts_cmd_fn *run, const struct ts_txn_ops *multi);
/* Main thread, before the workers start: panics when a command has no
 * implementation (a bind was forgotten). */
void ts_command_table_check(void);

/* Helpers shared by command files. */
/* ts_arg_eq and ts_arg_to_ll: util/strconv.h. */
/* Like Redis's getIntFromObjectOrReply: NULL, or the error text to reply. */
const char *ts_arg_to_int(ts_arg a, int *out);
bool ts_arg_to_double(ts_arg a, double *out);
/* A SCAN-family cursor the way Redis reads it (strtoul): an optional sign
 * (a minus wraps around), decimal digits only, "" is 0, leading white
 * space and overflow are errors; like a C string it ends at a NUL. */
bool ts_arg_to_cursor(ts_arg a, uint64_t *out);  /* like Redis's string2d (no spaces, no NaN) */
bool ts_arg_to_long_double(ts_arg a, long double *out);


#endif
