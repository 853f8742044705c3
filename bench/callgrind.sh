#!/usr/bin/env bash
# Instructions per request under callgrind: tessera-server at 1, 2 and 4
# worker threads, and redis-server 7.0, all given the same fixed workload.
# Instruction counts do not depend on the machine's load, so this is the
# noise-free complement of throughput.sh (it ignores cache misses, syscall
# cost and parallelism: valgrind runs one thread at a time).
#
# For each server it runs callgrind twice: a baseline (start, one PING,
# SIGTERM) and the workload run (start, PING, redis-benchmark, SIGTERM), and
# reports (workload total - baseline total) / requests, so start-up and
# shutdown costs cancel out.
#
# Usage: bench/callgrind.sh [options]
#   --requests N    redis-benchmark -n (default 200000; every test in --tests
#                   runs N requests, so the total is N x tests)
#   --tests LIST    redis-benchmark -t list (default set,get)
#   --pipeline N    -P (default 16)
#   --clients N     -c (default 8)
#   --keyspace N    -r (default 100000)
#   --servers LIST  what to measure (default t1,t2,t4,redis; tN = tessera
#                   with N threads)
#   --quick         --requests 20000
#   --timeout S     bound for one valgrind run (default 900)
#   --keep          keep the temp dir (callgrind.out files, logs)
# Environment: TESSERA_BIN (default build-bench/ or build/ tessera-server).
# Exit status: 0 ok, 1 a run failed, 2 setup.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

requests=""; tests=set,get; pipeline=16; clients=8; keyspace=100000
servers=t1,t2,t4,redis; run_timeout=900; quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests=$2; shift 2 ;;
    --tests) tests=$2; shift 2 ;;
    --pipeline) pipeline=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --keyspace) keyspace=$2; shift 2 ;;
    --servers) servers=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --timeout) run_timeout=$2; shift 2 ;;
    --keep) BENCH_KEEP_TMP=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 2 ;;
  esac
done
[ $quick -eq 1 ] && : "${requests:=20000}"
: "${requests:=200000}"
for v in requests pipeline clients keyspace run_timeout; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--$v needs a positive integer"
done
ntests=$(echo "$tests" | tr ',' '\n' | grep -c .)
total_requests=$((requests * ntests))

need_cmd valgrind; need_cmd redis-server; need_cmd redis-benchmark; need_cmd redis-cli; need_cmd "$PY"
bench_init callgrind
TBIN=$(tessera_bin)

# callgrind_total FILE: the event total (Ir) written by callgrind
callgrind_total() {
  awk '/^totals:/ {t = $2} /^summary:/ {s = $2} END {print (t != "" ? t : s)}' "$1"
}

# one_run SERVER MODE(base|load) DIR: prints the instruction total
one_run() {
  local srv=$1 mode=$2 dir=$3
  local out="$dir/callgrind.out"
  local vg=(timeout --kill-after=10 "$run_timeout" valgrind --tool=callgrind --callgrind-out-file="$out" --log-file="$dir/valgrind.log")
  case "$srv" in
    redis) start_redis "$dir" "${vg[@]}" ;;
    t*) start_tessera "${srv#t}" "$dir" "${vg[@]}" ;;
  esac
  local pid=$STARTED_PID port=$STARTED_PORT
  wait_ready "$port" "$pid" 120 || { tail -5 "$dir"/*.log >&2; return 1; }
  if [ "$mode" = load ]; then
    local t0 t1
    t0=$(date +%s)
    timeout --kill-after=5 "$run_timeout" redis-benchmark -h 127.0.0.1 -p "$port" -q \
      -t "$tests" -n "$requests" -P "$pipeline" -c "$clients" -r "$keyspace" >"$dir/bench.out" 2>&1
    local rc=$?
    t1=$(date +%s)
    if [ $rc -ne 0 ] || ! "$PY" "$BENCH_ROOT/bench/rbparse.py" --errors "$dir/bench.out" >/dev/null; then
      echo "FAIL: $srv: redis-benchmark exit $rc: $(tr '\r' '\n' <"$dir/bench.out" | grep -v '^\s*$' | tail -2 | tr '\n' '|')" >&2
      stop_server "$pid" 60 || true
      return 1
    fi
    log "$srv: workload ran $((t1 - t0)) s under valgrind"
  fi
  # `timeout` forwards SIGTERM to valgrind, which passes it to the server
  if ! stop_server "$pid" 120; then
    echo "FAIL: $srv ($mode) did not exit within 120 s of SIGTERM" >&2
    return 1
  fi
  [ -s "$out" ] || { echo "FAIL: $srv ($mode): no callgrind output" >&2; tail -5 "$dir/valgrind.log" >&2; return 1; }
  callgrind_total "$out"
}

echo "# instructions per request under callgrind: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# tessera=$TBIN (tree $(tree_rev), binary built $(date -u -r "$TBIN" "+%Y-%m-%d %H:%M UTC")); $(redis-server --version | cut -d' ' -f1-3); $(valgrind --version)"
echo "# workload: redis-benchmark -t $tests -n $requests -P $pipeline -c $clients -r $keyspace ($total_requests requests)"

failed=0
RES="$BENCH_TMP/results.tsv"; : >"$RES"
IFS=',' read -r -a srvlist <<<"$servers"
for srv in "${srvlist[@]}"; do
  case "$srv" in redis|t[1-9]|t[1-9][0-9]) ;; *) die "bad server '$srv' in --servers" ;; esac
  log "$srv: baseline run"
  base=$(one_run "$srv" base "$BENCH_TMP/$srv-base") || { failed=1; continue; }
  log "$srv: workload run"
  load=$(one_run "$srv" load "$BENCH_TMP/$srv-load") || { failed=1; continue; }
  log "$srv: baseline $base, workload $load instructions"
  printf '%s\t%s\t%s\n' "$srv" "$base" "$load" >>"$RES"
done

echo
"$PY" - "$RES" "$total_requests" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
n = int(sys.argv[2])
per = {}
fmt = "| %-10s | %15s | %15s | %12s |"
print(fmt % ("server", "baseline Ir", "workload Ir", "Ir/request"))
print("|" + "|".join("-" * len(c) for c in (fmt % ("", "", "", "")).split("|")[1:-1]) + "|")
for srv, base, load in rows:
    per[srv] = (int(load) - int(base)) / n
    name = "redis" if srv == "redis" else "tessera " + srv
    print(fmt % (name, base, load, "%.0f" % per[srv]))
print()
def ratio(a, b, target, label):
    if a in per and b in per:
        r = per[a] / per[b]
        print("%-26s %.3f  (target <= %.1f: %s)" % (label, r, target, "met" if r <= target else "MISSED"))
ratio("t1", "redis", 1.0, "tessera t1 / redis:")
if "t2" in per and "t1" in per:
    print("%-26s %.3f" % ("tessera t2 / tessera t1:", per["t2"] / per["t1"]))
ratio("t4", "t1", 1.3, "tessera t4 / tessera t1:")
EOF
[ $failed -eq 0 ] || { echo "FAILED: some runs failed (see above)" >&2; exit 1; }
