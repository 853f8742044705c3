#!/usr/bin/env bash
# BGSAVE of 1M keys under write load, tessera-server vs redis-server 7.0:
# SET throughput (50 clients, -P 1, over the same 1M keys) without and
# during a BGSAVE, and the peak extra memory while the snapshot runs
# (sum of Pss over the server and its children, so Redis's forked child
# counts with exactly the pages copy-on-write duplicated).
#   target: tessera's extra memory <= 10% of the dataset (Redis's fork can
#   double it)
# Usage: bench/bgsave.sh [--keys N] [--threads N] [--keep]
set -uo pipefail
source "$(dirname "$0")/lib.sh"

keys=1000000; threads=2
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) keys=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --keep) BENCH_KEEP_TMP=1; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1" ;;
  esac
done
need_cmd redis-server; need_cmd redis-benchmark; need_cmd redis-cli
bench_init bgsave

# the dataset: key:<n> -> 16-byte value, as a redis-cli --pipe stream
"$PY" - "$keys" >"$BENCH_TMP/load.resp" <<'PYEOF'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
for i in range(n):
    k = b"key:%012d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\n%s\r\n" % (len(k), k, b"v" * 16))
PYEOF

pss_kb() {  # PID: Pss of PID and its children, kB
  local total=0 p
  for p in "$1" $(pgrep -P "$1" 2>/dev/null); do
    local v; v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

bench_set() {  # PORT OUT
  redis-benchmark -h 127.0.0.1 -p "$1" -q -t set -n 300000 -c 50 -r "$keys" >"$2" 2>&1
  "$PY" "$BENCH_ROOT/bench/rbparse.py" "$2" | awk -F'\t' '{print $2; exit}'
}

measure() {  # NAME PID PORT
  local name=$1 pid=$2 port=$3
  redis-cli -h 127.0.0.1 -p "$port" config set save "" >/dev/null   # only our BGSAVE
  redis-cli -h 127.0.0.1 -p "$port" --pipe <"$BENCH_TMP/load.resp" >/dev/null
  local base; base=$(settle_rss "$pid")
  local pss0; pss0=$(pss_kb "$pid")
  local quiet; quiet=$(bench_set "$port" "$BENCH_TMP/$name-quiet.out")
  # BGSAVE, with the same load running, sampling memory until it ends.
  bench_set "$port" "$BENCH_TMP/$name-during.out" >"$BENCH_TMP/$name-during.rps" &
  local bpid=$!
  sleep 0.3
  redis-cli -h 127.0.0.1 -p "$port" bgsave >/dev/null
  local peak=$pss0 t0; t0=$(date +%s.%N)
  while :; do
    local cur; cur=$(pss_kb "$pid"); [ "$cur" -gt "$peak" ] && peak=$cur
    [ "$(redis-cli -h 127.0.0.1 -p "$port" info persistence | tr -d '\r' | awk -F: '/^rdb_bgsave_in_progress/ {print $2}')" = 0 ] && break
    sleep 0.05
  done
  log "$name: Pss before $pss0 kB, peak $peak kB"
  local secs; secs=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN {print a - b}')
  wait $bpid
  local during; during=$(cat "$BENCH_TMP/$name-during.rps")
  local data_kb=$((base))
  printf '%-8s dataset RSS %7d kB  SET quiet %9s rps  during BGSAVE %9s rps (%s)  BGSAVE %.2fs  peak extra %6d kB (%s%% of RSS)\n' \
    "$name" "$base" "$quiet" "$during" "$(awk -v a="$during" -v b="$quiet" 'BEGIN {printf "%.2fx", a / b}')" "$secs" \
    $((peak - pss0)) "$(awk -v a=$((peak - pss0)) -v b="$data_kb" 'BEGIN {printf "%.1f", 100 * a / b}')"
}

start_tessera "$threads" "$BENCH_TMP/t"
wait_ready "$STARTED_PORT" "$STARTED_PID" || exit 1
measure tessera "$STARTED_PID" "$STARTED_PORT"
stop_server "$STARTED_PID" >/dev/null
start_redis "$BENCH_TMP/r"
wait_ready "$STARTED_PORT" "$STARTED_PID" || exit 1
measure redis "$STARTED_PID" "$STARTED_PORT"
stop_server "$STARTED_PID" >/dev/null
