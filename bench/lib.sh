# shellcheck shell=bash disable=SC2034
# Shared helpers for the bench/*.sh scripts (sourced, not run).
#
# Every server a script starts is recorded in BENCH_PIDS and killed by
# bench_cleanup (installed as an EXIT/INT/TERM trap by bench_init), so a
# failing or interrupted run never leaves servers behind. Servers bind to
# 127.0.0.1 only, on ports the kernel reports free.

BENCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_PIDS=()
BENCH_TMP=""
PY="${PYTHON:-python3}"

die() { echo "error: $*" >&2; exit 2; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

bench_cleanup() {
  local pid
  for pid in "${BENCH_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  # give them a moment to exit cleanly, then force
  local i
  for i in $(seq 1 50); do
    local alive=0
    for pid in "${BENCH_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.1
  done
  for pid in "${BENCH_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  if [ -n "$BENCH_TMP" ] && [ -d "$BENCH_TMP" ]; then
    if [ -z "${BENCH_KEEP_TMP:-}" ]; then rm -rf "$BENCH_TMP"; else echo "kept $BENCH_TMP" >&2; fi
  fi
}

# bench_init NAME: temp dir + cleanup trap.
bench_init() {
  BENCH_TMP="$(mktemp -d "/tmp/tessera-bench-$1.XXXXXX")"
  trap bench_cleanup EXIT
  trap 'echo "interrupted" >&2; exit 130' INT TERM
}

need_cmd() { command -v "$1" >/dev/null 2>&1 || die "$1 not found (scripts/deps.sh test installs it)"; }

# free_port: a TCP port on 127.0.0.1 nobody listens on right now.
free_port() {
  "$PY" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# default tessera binary: $TESSERA_BIN, else build-bench/, else build/
tessera_bin() {
  if [ -n "${TESSERA_BIN:-}" ]; then echo "$TESSERA_BIN"; return; fi
  local d
  for d in build-bench build; do
    [ -x "$BENCH_ROOT/$d/tessera-server" ] && { echo "$BENCH_ROOT/$d/tessera-server"; return; }
  done
  die "no tessera-server binary: build with
  cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench -j2
or set TESSERA_BIN"
}

# wait_ready PORT PID [TIMEOUT_S]: until PING answers; fails if PID dies.
wait_ready() {
  local port=$1 pid=$2 limit=${3:-20} t=0
  while :; do
    kill -0 "$pid" 2>/dev/null || { echo "server pid $pid exited during startup" >&2; return 1; }
    if [ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then return 0; fi
    sleep 0.1; t=$((t + 1))
    [ $t -ge $((limit * 10)) ] && { echo "server on port $port not ready after ${limit}s" >&2; return 1; }
  done
}

# Start functions: set STARTED_PID and STARTED_PORT. Extra args are put in
# front of the server command (e.g. valgrind ...); TESSERA_ARGS and
# REDIS_ARGS (arrays) are appended to the server's own arguments.
#   start_tessera THREADS DIR [wrapper...]
#   start_redis DIR [wrapper...]
TESSERA_ARGS=(); REDIS_ARGS=()
start_tessera() {
  local threads=$1 dir=$2; shift 2
  local port; port=$(free_port)
  mkdir -p "$dir"
  (cd "$dir" && exec "$@" "$(tessera_bin)" --port "$port" --bind 127.0.0.1 --threads "$threads" \
     --dir "$dir" --logfile "$dir/tessera.log" "${TESSERA_ARGS[@]}" >"$dir/stdout.log" 2>&1) &
  STARTED_PID=$!; STARTED_PORT=$port
  BENCH_PIDS+=("$STARTED_PID")
}
start_redis() {
  local dir=$1; shift
  local port; port=$(free_port)
  mkdir -p "$dir"
  (cd "$dir" && exec "$@" redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
     --daemonize no --dir "$dir" --logfile "$dir/redis.log" "${REDIS_ARGS[@]}" >"$dir/stdout.log" 2>&1) &
  STARTED_PID=$!; STARTED_PORT=$port
  BENCH_PIDS+=("$STARTED_PID")
}

# stop_server PID [TIMEOUT_S]: SIGTERM, wait for exit (KILL after timeout).
# Returns 0 if it exited by itself.
stop_server() {
  local pid=$1 limit=${2:-30} t=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 0.1; t=$((t + 1))
    if [ $t -ge $((limit * 10)) ]; then
      echo "pid $pid did not exit ${limit}s after SIGTERM; killing" >&2
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      return 1
    fi
  done
  wait "$pid" 2>/dev/null || true
  return 0
}

# rss_kb PID: VmRSS in kB
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# settle_rss PID: poll VmRSS every 0.5 s until two readings agree within
# 0.5% (at most 10 s); prints kB.
settle_rss() {
  local pid=$1 prev cur i
  prev=$(rss_kb "$pid" 2>/dev/null) || return 1
  [ -n "$prev" ] || return 1
  cur=$prev
  for i in $(seq 1 20); do
    sleep 0.5
    cur=$(rss_kb "$pid" 2>/dev/null) || return 1
    [ -n "$cur" ] || return 1
    if [ $(( (cur > prev ? cur - prev : prev - cur) * 200 )) -le "$cur" ]; then break; fi
    prev=$cur
  done
  echo "$cur"
}

# cpu_ns PID: nanoseconds all current threads of PID have spent on a CPU
# (/proc/PID/task/*/schedstat, first field). Both servers keep their
# threads for their whole life, so differences are meaningful.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }

# tree_rev: the source tree's commit (+ "-dirty" with uncommitted changes;
# the binary may be older than the tree: rebuild before measuring)
tree_rev() { git -C "$BENCH_ROOT" describe --always --dirty --exclude '*' 2>/dev/null || echo unknown; }
