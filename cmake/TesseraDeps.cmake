# Finds libuv and jemalloc through pkg-config and fails with the Debian
# package to install when one is missing.
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config")
endif()

pkg_check_modules(LIBUV IMPORTED_TARGET libuv>=1.40)
if(NOT LIBUV_FOUND)
  message(FATAL_ERROR "libuv not found: apt-get install libuv1-dev")
endif()

find_package(Threads REQUIRED)
add_library(tessera_deps INTERFACE)
target_link_libraries(tessera_deps INTERFACE PkgConfig::LIBUV Threads::Threads m)

if(TESSERA_JEMALLOC)
  pkg_check_modules(JEMALLOC IMPORTED_TARGET jemalloc)
  if(NOT JEMALLOC_FOUND)
    message(FATAL_ERROR "jemalloc not found: apt-get install libjemalloc-dev")
  endif()
  target_link_libraries(tessera_deps INTERFACE PkgConfig::JEMALLOC)
  target_compile_definitions(tessera_deps INTERFACE TS_HAVE_JEMALLOC=1)
endif()
