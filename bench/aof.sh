#!/usr/bin/env bash
# AOF write throughput side by side: tessera-server and redis-server 7.0,
# each without persistence, with appendfsync everysec and with appendfsync
# always, all on the same disk (a temp dir), SET from 50 clients without
# pipelining over a 1M-key space, in interleaved rounds. Prints the median
# rps per configuration and the ratios the persistence issue names:
#   tessera always / tessera none      (target >= 0.85)
#   tessera everysec / tessera none    (target >= 0.95)
#   tessera always / redis always      (target >= 1.5)
#   redis always / redis none          (for scale)
#
# Usage: bench/aof.sh [--rounds N] [--requests N] [--threads N] [--clients N] [--keep]
# Environment: TESSERA_BIN (default build-bench/ or build/ tessera-server).
set -uo pipefail
source "$(dirname "$0")/lib.sh"

rounds=3; requests=200000; threads=2; clients=50
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --keep) BENCH_KEEP_TMP=1; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1" ;;
  esac
done
need_cmd redis-server; need_cmd redis-benchmark; need_cmd redis-cli
bench_init aof
failures=0

configs="none everysec always"
declare -A rps

one_run() {  # server mode round
  local server=$1 mode=$2 round=$3 dir="$BENCH_TMP/$1-$2-$3" extra=()
  case $mode in
    none) extra=(--appendonly no) ;;
    *) extra=(--appendonly yes --appendfsync "$mode") ;;
  esac
  if [ "$server" = tessera ]; then
    mkdir -p "$dir"
    local port; port=$(free_port)
    (cd "$dir" && exec "$(tessera_bin)" --port "$port" --bind 127.0.0.1 --threads "$threads" --dir "$dir" \
       --logfile "$dir/tessera.log" --save '' "${extra[@]}" >"$dir/stdout.log" 2>&1) &
    STARTED_PID=$!; STARTED_PORT=$port; BENCH_PIDS+=("$STARTED_PID")
  else
    mkdir -p "$dir"
    local port; port=$(free_port)
    # Redis 7.0's AOF is a directory of files; the same disk either way.
    (cd "$dir" && exec redis-server --port "$port" --bind 127.0.0.1 --save '' --daemonize no --dir "$dir" \
       --logfile "$dir/redis.log" "${extra[@]}" >"$dir/stdout.log" 2>&1) &
    STARTED_PID=$!; STARTED_PORT=$port; BENCH_PIDS+=("$STARTED_PID")
  fi
  wait_ready "$STARTED_PORT" "$STARTED_PID" || { failures=$((failures + 1)); return; }
  local out="$dir/bench.out"
  timeout --kill-after=5 300 redis-benchmark -h 127.0.0.1 -p "$STARTED_PORT" -q -t set -n "$requests" \
    -c "$clients" -r 1000000 >"$out" 2>&1
  if ! "$PY" "$BENCH_ROOT/bench/rbparse.py" --errors "$out" >/dev/null; then
    echo "FAIL: $server $mode: errors in redis-benchmark output" >&2; failures=$((failures + 1))
  fi
  local r; r=$("$PY" "$BENCH_ROOT/bench/rbparse.py" "$out" | awk -F'\t' '{print $2; exit}')
  rps[$server-$mode]="${rps[$server-$mode]:-} $r"
  log "round $round $server appendfsync=$mode: $r rps"
  stop_server "$STARTED_PID" >/dev/null
  rm -rf "$dir"
}

for round in $(seq 1 "$rounds"); do
  for mode in $configs; do
    one_run tessera "$mode" "$round"
    one_run redis "$mode" "$round"
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR) print (NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2); else print 0}'; }
printf '%-10s %14s %14s\n' "appendfsync" "tessera rps" "redis rps"
declare -A med
for mode in $configs; do
  med[tessera-$mode]=$(echo "${rps[tessera-$mode]:-}" | median)
  med[redis-$mode]=$(echo "${rps[redis-$mode]:-}" | median)
  printf '%-10s %14s %14s\n' "$mode" "${med[tessera-$mode]}" "${med[redis-$mode]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
echo "tessera always/none:     $(ratio "${med[tessera-always]}" "${med[tessera-none]}")   (target >= 0.85)"
echo "tessera everysec/none:   $(ratio "${med[tessera-everysec]}" "${med[tessera-none]}")   (target >= 0.95)"
echo "tessera/redis always:    $(ratio "${med[tessera-always]}" "${med[redis-always]}")   (target >= 1.5)"
echo "redis always/none:       $(ratio "${med[redis-always]}" "${med[redis-none]}")"
[ $failures -eq 0 ] || exit 1
