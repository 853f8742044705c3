/*
 * lua_libs.h - private to src/script/: the Lua libraries Redis 7.0 bundles
 * in deps/lua that no Debian package provides, rewritten to behave as
 * Redis's copies do, byte for byte and error for error:
 *
 *   cmsgpack  (script/lua_cmsgpack.c)  lua-cmsgpack 0.4.0 as Redis ships it
 *   struct    (script/lua_struct.c)    Roberto Ierusalimschy's struct.c 1.7
 *                                      with Redis's fixes
 *
 * Owns: nothing. Each library is a set of pure Lua C functions; all their
 * state is on the Lua stack of the call and in memory from the state's
 * allocator (so it counts towards the state's memory and is freed by the
 * collector even when a call raises an error).
 * Thread: whichever thread owns the lua_State (a worker, for its own
 * state); the libraries keep no global or static mutable data, so states
 * on different threads may use them at once.
 *
 * Loading: call each opener as Redis's luaLoadLib does (push it, push the
 * library name, lua_call(L, 1, 0)) or directly. ts_luaopen_cmsgpack sets
 * the global `cmsgpack` (pack, unpack, unpack_one, unpack_limit, and the
 * string fields _NAME, _VERSION, _COPYRIGHT, _DESCRIPTION); Redis does not
 * load cmsgpack_safe, and neither do we. ts_luaopen_struct registers
 * `struct` (pack, unpack, size) with luaL_register, so it is both a global
 * and package.loaded.struct, as in Redis. Both leave the table on the
 * stack and return 1.
 *
 * Where Redis's C relied on undefined behaviour (float-to-integer
 * conversions out of range, shifts of 64 bits or more), the code computes
 * what Redis's x86-64 build produces, checked against redis-server 7.0.15
 * in test/unit/lua_libs.c, without the undefined operation.
 */
#ifndef TESSERA_SCRIPT_LUA_LIBS_H
#define TESSERA_SCRIPT_LUA_LIBS_H

#include <lua.h>

int ts_luaopen_cmsgpack(lua_State *L);
int ts_luaopen_struct(lua_State *L);

#endif
