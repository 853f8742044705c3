/*
 * script.h - Lua scripting (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT):
 * what the layers above need from script/.
 *
 * Owns: nothing here; the script cache and the per-thread Lua states are
 * script/'s (script/eval.c, script/lua_api.c).
 * Thread: ts_script_bind on the main thread before the workers start;
 * ts_script_thread_end on a worker thread as it exits.
 */
#ifndef TESSERA_SCRIPT_H
#define TESSERA_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>

#include "tessera/util/buf.h"
#include "tessera/util/common.h"

/* Binds the scripting commands' implementations into the command table. */
void ts_script_bind(void);
/* Frees the calling thread's Lua state. */
void ts_script_thread_end(void);
/* Scripts in the cache and their bytes (INFO memory). */
void ts_script_cache_stats(size_t *count, size_t *bytes);
/* Function libraries and functions (INFO, FUNCTION STATS). */
void ts_functions_stats(size_t *libraries, size_t *functions);
/* The RDB's function records (opcode FUNCTION2 + code, per library). */
void ts_functions_rdb_save(ts_buf *out, bool compress);
/* Every library as a FUNCTION LOAD command (AOF rewrite without preamble). */
void ts_functions_aof_commands(ts_buf *out);
/* Loads one library's code from an RDB (no replace); 0, or -1 with err. */
int ts_functions_rdb_load(const char *code, size_t len, char *err, size_t errlen);
/* Adds an ACL LOG entry (context lua) for a call a script's ACL refused;
 * set by net (the connection's), called on the connection's thread. */
struct ts_conn;
typedef void ts_script_acl_logger(struct ts_conn *conn, int reason, ts_arg object);
void ts_script_set_acl_logger(ts_script_acl_logger *fn);
/* Frees the script cache and the function registry (exit). */
void ts_script_free(void);

#endif
