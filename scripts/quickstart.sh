#!/usr/bin/env bash
# Quick start: install what is missing, build a release binary, and start
# tessera-server in the foreground with the embedded default configuration
# (port 6379, bind 127.0.0.1 -::1, one worker per CPU).
# Extra arguments go to the server, e.g. scripts/quickstart.sh --port 7000
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
exec build/tessera-server "$@"
