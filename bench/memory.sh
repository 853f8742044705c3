#!/usr/bin/env bash
# Memory per key: tessera-server vs redis-server 7.0.
# For each server: start it fresh, read VmRSS, load N keys `key:%012d` with
# 16-byte string values through `redis-cli --pipe`, check DBSIZE == N, wait
# for RSS to settle, read VmRSS again; bytes/key = (after - before) / N.
#
# Usage: bench/memory.sh [options]
#   --keys N        keys to load (default 1000000)
#   --value-size N  value length in bytes (default 16; values are not numeric,
#                   so neither server can store them as integers)
#   --threads N     tessera worker threads (default 2)
#   --timeout S     bound for loading one server (default 300)
#   --keep          keep the temp dir (RESP file, server logs)
# Environment: TESSERA_BIN (default build-bench/ or build/ tessera-server).
# Exit status: 0 ok (target met or not), 1 load/DBSIZE failure, 2 setup.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

keys=1000000; vsize=16; threads=2; load_timeout=300
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) keys=$2; shift 2 ;;
    --value-size) vsize=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --timeout) load_timeout=$2; shift 2 ;;
    --keep) BENCH_KEEP_TMP=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 2 ;;
  esac
done
for v in keys vsize threads load_timeout; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v needs a positive integer"
done
[ "$vsize" -ge 4 ] || die "--value-size must be >= 4"

need_cmd redis-server; need_cmd redis-cli; need_cmd "$PY"
bench_init memory
TBIN=$(tessera_bin)

RESP="$BENCH_TMP/load.resp"
log "generating $keys SET commands into $RESP"
"$PY" - "$RESP" "$keys" "$vsize" <<'EOF'
import sys
path, n, vsize = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
# value: "v:" + zero-padded number, padded/truncated to vsize; never numeric
with open(path, "wb", buffering=1 << 20) as f:
    out = []
    for i in range(n):
        k = b"key:%012d" % i
        v = (b"v:%0*d" % (max(vsize - 2, 1), i))[:vsize]
        out.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
        if len(out) == 65536:
            f.write(b"".join(out)); out = []
    f.write(b"".join(out))
EOF
[ -s "$RESP" ] || die "could not generate $RESP"

info_field() { redis-cli -h 127.0.0.1 -p "$1" info memory 2>/dev/null | tr -d '\r' | awk -F: -v k="$2" '$1 == k {print $2}'; }

failed=0
declare -A BEFORE AFTER USED0 USED1
for srv in tessera redis; do
  if [ $srv = tessera ]; then start_tessera "$threads" "$BENCH_TMP/$srv"; else start_redis "$BENCH_TMP/$srv"; fi
  pid=$STARTED_PID; port=$STARTED_PORT
  wait_ready "$port" "$pid" || { cat "$BENCH_TMP/$srv/"*.log >&2; exit 1; }
  sleep 0.5
  BEFORE[$srv]=$(settle_rss "$pid") || { echo "FAIL: $srv: server died" >&2; exit 1; }
  USED0[$srv]=$(info_field "$port" used_memory)
  log "$srv (pid $pid): RSS before ${BEFORE[$srv]} kB; loading $keys keys"
  t0=$(date +%s.%N)
  if ! timeout --kill-after=5 "$load_timeout" redis-cli -h 127.0.0.1 -p "$port" --pipe <"$RESP" >"$BENCH_TMP/$srv/pipe.out" 2>&1; then
    echo "FAIL: $srv: redis-cli --pipe failed or timed out: $(tail -3 "$BENCH_TMP/$srv/pipe.out")" >&2
    failed=1
  fi
  t1=$(date +%s.%N)
  grep -q "errors: 0, replies: $keys" "$BENCH_TMP/$srv/pipe.out" || {
    echo "FAIL: $srv: unexpected redis-cli --pipe summary: $(tail -1 "$BENCH_TMP/$srv/pipe.out")" >&2; failed=1; }
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid"; echo "FAIL: $srv: the server died while loading (exit status $?); log tail:" >&2
    tail -5 "$BENCH_TMP/$srv/"*.log >&2
    failed=1; continue
  fi
  n=$(timeout 10 redis-cli -h 127.0.0.1 -p "$port" dbsize 2>&1)
  if [ "$n" != "$keys" ]; then
    echo "FAIL: $srv: DBSIZE is '$n', expected $keys" >&2; failed=1
  fi
  AFTER[$srv]=$(settle_rss "$pid") || { echo "FAIL: $srv: server died" >&2; failed=1; continue; }
  USED1[$srv]=$(info_field "$port" used_memory)
  log "$srv: loaded in $(echo "$t1 - $t0" | bc) s; DBSIZE $n; RSS after ${AFTER[$srv]} kB"
  stop_server "$pid" || { echo "FAIL: $srv did not exit within 30 s of SIGTERM" >&2; failed=1; }
done
[ $failed -eq 0 ] || exit 1

echo "# memory per key: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# tessera=$TBIN (tree $(tree_rev), binary built $(date -u -r "$TBIN" "+%Y-%m-%d %H:%M UTC")) threads=$threads; $(redis-server --version | cut -d' ' -f1-3)"
echo "# $keys keys key:%012d, $vsize-byte values, loaded with redis-cli --pipe"
echo
"$PY" - "$keys" "${BEFORE[tessera]}" "${AFTER[tessera]}" "${BEFORE[redis]}" "${AFTER[redis]}" \
  "${USED0[tessera]:-0}" "${USED1[tessera]:-0}" "${USED0[redis]:-0}" "${USED1[redis]:-0}" <<'EOF'
import sys
n = int(sys.argv[1])
tb, ta, rb, ra = (int(x) * 1024 for x in sys.argv[2:6])
tu0, tu1, ru0, ru1 = (int(x or 0) for x in sys.argv[6:10])
t, r = (ta - tb) / n, (ra - rb) / n
fmt = "| %-8s | %14s | %14s | %15s | %19s |"
print(fmt % ("server", "RSS before", "RSS after", "RSS bytes/key", "used_memory B/key"))
print("|" + "|".join("-" * (len(c)) for c in (fmt % ("", "", "", "", "")).split("|")[1:-1]) + "|")
print(fmt % ("tessera", tb, ta, "%.1f" % t, "%.1f" % ((tu1 - tu0) / n)))
print(fmt % ("redis", rb, ra, "%.1f" % r, "%.1f" % ((ru1 - ru0) / n)))
print()
ratio = t / r
print("ratio tessera/redis (RSS bytes per key): %.3f  target <= 0.70: %s"
      % (ratio, "met" if ratio <= 0.70 else "MISSED"))
EOF
