#!/usr/bin/env bash
# Installs the Node packages of test/jobqueues/package.json (BullMQ and
# bee-queue, pinned by its package-lock.json) into test/jobqueues/node_modules
# for test/integration/test_jobqueues.py, skipping the install when that
# lockfile is already installed. Run by scripts/deps.sh test; needs npm.
set -euo pipefail
dir="$(cd "$(dirname "$0")/.." && pwd)/test/jobqueues"
stamp="$dir/node_modules/.installed-lock"
if [ -f "$stamp" ] && cmp -s "$stamp" "$dir/package-lock.json"; then
  exit 0
fi
echo "npm: installing test/jobqueues (bullmq, bee-queue)"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
cp "$dir/package-lock.json" "$stamp"
