#!/usr/bin/env bash
# Builds and runs every test: C unit tests (ctest) and integration tests
# (pytest against the real binary, with a real redis-server 7.0 for
# differential checks), first in a release build, then under
# AddressSanitizer+UBSan and under ThreadSanitizer.
#   scripts/test.sh            everything (what CI runs)
#   scripts/test.sh --quick    release build only
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
quick=0
[ "${1:-}" = "--quick" ] && quick=1
echo "=== layer and docs checks ==="
python3 scripts/check_layers.py
python3 scripts/check_docs.py
jobs=$(nproc)
PY=/usr/bin/python3   # Debian's python3 has python3-redis and python3-pytest

run_suite() {  # name, build dir, cmake args...; $MARK selects pytest tests (-m)
  local name=$1 dir=$2; shift 2
  echo "=== $name build ==="
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$jobs" 2>&1 | grep -vE '^\[|^-- ' || true
  [ -x "$dir/tessera-server" ] || { echo "build failed"; exit 1; }
  echo "=== $name unit tests ==="
  (cd "$dir" && ctest --output-on-failure -j"$jobs")
  echo "=== $name integration tests ==="
  TESSERA_BIN="$PWD/$dir/tessera-server" $PY -m pytest -q -p no:cacheprovider -m "${MARK:-}" test/integration
}

MARK="" run_suite release build -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ $quick -eq 0 ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  MARK="not slow" run_suite asan build-asan -DCMAKE_BUILD_TYPE=Debug -DTESSERA_SANITIZE=address
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/test/tsan.supp"
  MARK="not slow" run_suite tsan build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_SANITIZE=thread
fi
echo "all test suites passed"
