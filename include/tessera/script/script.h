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

#include <stddef.h>

/* Binds the scripting commands' implementations into the command table. */
void ts_script_bind(void);
/* Frees the calling thread's Lua state. */
void ts_script_thread_end(void);
/* Scripts in the cache and their bytes (INFO memory). */
void ts_script_cache_stats(size_t *count, size_t *bytes);

#endif
