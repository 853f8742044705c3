#!/usr/bin/env bash
# Installs the Debian packages Tessera needs to build, test and benchmark,
# skipping the ones already installed. Usage: scripts/deps.sh [build|test]
set -euo pipefail
need=(build-essential cmake pkg-config libuv1-dev libjemalloc-dev liblua5.1-0-dev lua-cjson-dev lua-bitop-dev)
if [ "${1:-build}" = test ]; then
  need+=(python3 python3-redis python3-pytest redis-server redis-tools)
  # The job-queue frameworks test/integration/test_jobqueues.py runs; BullMQ
  # and bee-queue come from npm (scripts/npm_deps.sh, run below).
  need+=(python3-rq python3-celery python3-kombu ruby ruby-redis ruby-sidekiq nodejs npm)
fi
missing=()
for p in "${need[@]}"; do
  # A nodejs from elsewhere (NodeSource's package bundles npm and conflicts
  # with Debian's npm) counts as installed when its command is on PATH.
  case $p in nodejs) command -v node >/dev/null && continue ;; npm) command -v npm >/dev/null && continue ;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian redis-server package may start a system instance on 6379; the
  # tests start their own servers on free ports, so stop it to keep 6379 free.
  if [ -x /usr/bin/redis-server ] && command -v service >/dev/null 2>&1; then
    $SUDO service redis-server stop >/dev/null 2>&1 || true
  fi
fi
if [ "${1:-build}" = test ]; then
  "$(dirname "$0")/npm_deps.sh"
fi
