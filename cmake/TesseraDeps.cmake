# Finds libuv, jemalloc and Lua 5.1 (with Debian's cjson and bitop modules)
# through pkg-config and fails with the Debian
# package to install when one is missing.
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config")
endif()

pkg_check_modules(LIBUV IMPORTED_TARGET libuv>=1.40)
if(NOT LIBUV_FOUND)
  message(FATAL_ERROR "libuv not found: apt-get install libuv1-dev")
endif()

pkg_check_modules(LUA51 IMPORTED_TARGET lua5.1)
if(NOT LUA51_FOUND)
  message(FATAL_ERROR "Lua 5.1 not found: apt-get install liblua5.1-0-dev lua-cjson-dev lua-bitop-dev")
endif()
# Scripts' cjson and bit libraries: Debian's static modules, linked in.
find_library(LUA51_CJSON NAMES lua5.1-cjson.a liblua5.1-cjson.a)
find_library(LUA51_BITOP NAMES lua5.1-bitop.a liblua5.1-bitop.a)
if(NOT LUA51_CJSON OR NOT LUA51_BITOP)
  message(FATAL_ERROR "Lua cjson/bitop not found: apt-get install lua-cjson-dev lua-bitop-dev")
endif()

find_package(Threads REQUIRED)
add_library(tessera_deps INTERFACE)
target_link_libraries(tessera_deps INTERFACE PkgConfig::LIBUV ${LUA51_CJSON} ${LUA51_BITOP} PkgConfig::LUA51
                      Threads::Threads m)

if(TESSERA_JEMALLOC)
  pkg_check_modules(JEMALLOC IMPORTED_TARGET jemalloc)
  if(NOT JEMALLOC_FOUND)
    message(FATAL_ERROR "jemalloc not found: apt-get install libjemalloc-dev")
  endif()
  target_link_libraries(tessera_deps INTERFACE PkgConfig::JEMALLOC)
  target_compile_definitions(tessera_deps INTERFACE TS_HAVE_JEMALLOC=1)
endif()
