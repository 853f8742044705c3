#!/usr/bin/env bash
# Side-by-side throughput: tessera-server vs redis-server 7.0 under
# redis-benchmark, in interleaved rounds. Reports, per workload, the median
# rps of each server and the median of the per-round ratios tessera/redis.
# Only ratios mean anything on a shared machine; see docs/benchmarks.md.
#
# Usage: bench/throughput.sh [options]
#   --rounds N      interleaved rounds (default 3; 1 with --quick)
#   --requests N    requests per run at -P 1 (default 200000; 20000 with
#                   --quick). Pipelined runs use 5x, except MSET.
#   --threads N     tessera worker threads (default 2)
#   --clients N     redis-benchmark connections (default 50)
#   --pipeline N    the pipelined depth (default 16)
#   --mset-keys N   keys per MSET (default 10 = redis-benchmark's own MSET test;
#                   other values use a custom MSET command line)
#   --all           also incr, ping (inline and multibulk) at -P 1, and
#                   incr, ping, mset at -P N
#   --types         the data-type tests of redis-benchmark's default run
#                   (lpush rpush lpop rpop sadd hset spop zadd zpopmin
#                   lrange_100..600 xadd) at -P 1 and -P N, instead of the
#                   string workloads; the sanity run is then redis-benchmark's
#                   full default test set
#   --quick         smoke run: fewer requests, 1 round
#   --timeout S     bound for one redis-benchmark run (default 300)
#   --keep          keep the temp dir (raw outputs, server logs)
# Environment: TESSERA_BIN (default build-bench/ or build/ tessera-server).
# Exit status: 0 ok, 1 a redis-benchmark run failed or reported errors, or a
# server died; 2 usage/setup problems. Missed targets do not fail the run.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

rounds=""; requests=""; threads=2; clients=50; pipeline=16; mset_keys=10
all=0; types=0; quick=0; run_timeout=300; keyspace=1000000
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --pipeline) pipeline=$2; shift 2 ;;
    --mset-keys) mset_keys=$2; shift 2 ;;
    --all) all=1; shift ;;
    --types) types=1; shift ;;
    --quick) quick=1; shift ;;
    --timeout) run_timeout=$2; shift 2 ;;
    --keep) BENCH_KEEP_TMP=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 2 ;;
  esac
done
if [ $quick -eq 1 ]; then : "${rounds:=1}"; : "${requests:=20000}"; fi
: "${rounds:=3}"; : "${requests:=200000}"
for v in rounds requests threads clients pipeline mset_keys run_timeout; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--${v//_/-} needs a positive integer"
done

need_cmd redis-server; need_cmd redis-benchmark; need_cmd redis-cli; need_cmd "$PY"
bench_init throughput
TBIN=$(tessera_bin)

# ---- workloads: label|P|requests|redis-benchmark test args --------------
P=$pipeline
mset_args="-t mset"
if [ "$mset_keys" -ne 10 ]; then
  mset_args="MSET"
  for i in $(seq 1 "$mset_keys"); do mset_args+=" key:__rand_int__ xxx"; done
fi
workloads=(
  "SET|1|$requests|-t set"
  "GET|1|$requests|-t get"
  "SET|$P|$((requests * 5))|-t set"
  "GET|$P|$((requests * 5))|-t get"
  "MSET|1|$requests|$mset_args"
)
if [ $all -eq 1 ]; then
  workloads+=(
    "INCR|1|$requests|-t incr"
    "PING|1|$requests|-t ping"
    "INCR|$P|$((requests * 5))|-t incr"
    "PING|$P|$((requests * 5))|-t ping"
    "MSET|$P|$requests|$mset_args"
  )
fi

if [ $types -eq 1 ]; then
  workloads=()
  for t in lpush rpush lpop rpop sadd hset spop zadd zpopmin lrange_100 lrange_300 lrange_500 lrange_600; do
    case $t in lrange_*) n1=$((requests / 4)) ;; *) n1=$requests ;; esac
    workloads+=("${t^^}|1|$n1|-t $t" "${t^^}|$P|$((n1 * 5))|-t $t")
  done
  # Debian's redis-benchmark 7.0 has no built-in XADD test (7.2 added one):
  # the same command as a custom one.
  workloads+=("XADD|1|$requests|XADD mystream * myfield myvalue" "XADD|$P|$((requests * 5))|XADD mystream * myfield myvalue")
fi

echo "# tessera throughput vs redis: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# tessera=$TBIN (tree $(tree_rev), binary built $(date -u -r "$TBIN" "+%Y-%m-%d %H:%M UTC")) threads=$threads; $(redis-server --version | cut -d' ' -f1-3)"
echo "# rounds=$rounds requests(-P1)=$requests clients=$clients keyspace=$keyspace pipeline=$P mset-keys=$mset_keys"
echo "# host: $(nproc) CPUs, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

start_tessera "$threads" "$BENCH_TMP/tessera"; T_PID=$STARTED_PID; T_PORT=$STARTED_PORT
start_redis "$BENCH_TMP/redis"; R_PID=$STARTED_PID; R_PORT=$STARTED_PORT
wait_ready "$T_PORT" "$T_PID" || { cat "$BENCH_TMP/tessera/"*.log >&2; exit 1; }
wait_ready "$R_PORT" "$R_PID" || { cat "$BENCH_TMP/redis/"*.log >&2; exit 1; }
log "tessera pid $T_PID port $T_PORT; redis pid $R_PID port $R_PORT"

failures=0
RESULTS="$BENCH_TMP/results.tsv"   # round server label P test rps stalls longest
: >"$RESULTS"

# run_bench NAME OUTFILE PORT PID args...: one bounded redis-benchmark run.
run_bench() {
  local name=$1 out=$2 port=$3 pid=$4; shift 4
  timeout --kill-after=5 "$run_timeout" redis-benchmark -h 127.0.0.1 -p "$port" -q "$@" >"$out" 2>&1
  local rc=$?
  local bad=0
  if [ $rc -ne 0 ]; then
    [ $rc -eq 124 ] && echo "FAIL: $name: redis-benchmark timed out after ${run_timeout}s" >&2 \
                    || echo "FAIL: $name: redis-benchmark exited with $rc" >&2
    bad=1
  fi
  if errs=$("$PY" "$BENCH_ROOT/bench/rbparse.py" --errors "$out"); then :; else
    echo "FAIL: $name: error lines in redis-benchmark output:" >&2
    echo "$errs" | head -5 | sed 's/^/    /' >&2
    bad=1
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "FAIL: $name: the server (pid $pid) died" >&2
    bad=1
  fi
  if [ $bad -ne 0 ]; then
    echo "    command: redis-benchmark -h 127.0.0.1 -p $port -q $*" >&2
    echo "    output tail: $(tr '\r' '\n' <"$out" | grep -v '^\s*$' | tail -3 | tr '\n' '|')" >&2
    failures=$((failures + 1))
    return 1
  fi
  return 0
}

# ---- sanity: the full default test list against tessera, with and without pipelining
sn=$(( requests < 100000 ? requests : 100000 ))
if [ $types -eq 1 ]; then
  sanity_tests=()   # redis-benchmark's whole default set
  log "sanity runs against tessera (redis-benchmark's default test set, -P 1 and -P $P)"
else
  sanity_tests=(-t set,get,incr,mset,ping)
  log "sanity runs against tessera (-t set,get,incr,mset,ping, -P 1 and -P $P)"
fi
for sp in 1 "$P"; do
  run_bench "sanity -P $sp" "$BENCH_TMP/sanity-P$sp.out" "$T_PORT" "$T_PID" \
    "${sanity_tests[@]}" -n "$sn" -r "$keyspace" -c "$clients" -P "$sp" || true
done
if [ $failures -ne 0 ]; then
  echo "sanity runs failed; not benchmarking" >&2
  exit 1
fi

# ---- interleaved rounds --------------------------------------------------
for r in $(seq 1 "$rounds"); do
  for w in "${workloads[@]}"; do
    IFS='|' read -r label p n targs <<<"$w"
    # alternate who goes first, so neither always runs on a warmer/cooler box
    if [ $((r % 2)) -eq 1 ]; then order="tessera redis"; else order="redis tessera"; fi
    for srv in $order; do
      if [ "$srv" = tessera ]; then port=$T_PORT; pid=$T_PID; else port=$R_PORT; pid=$R_PID; fi
      out="$BENCH_TMP/r$r-$srv-$label-P$p.out"
      c0=$(cpu_ns "$pid")
      # shellcheck disable=SC2086  # targs is a word list on purpose (no globbing: XADD's *)
      set -f
      run_bench "round $r $srv $label -P $p" "$out" "$port" "$pid" \
        -n "$n" -r "$keyspace" -c "$clients" -P "$p" $targs
      ok=$?
      set +f
      if [ $ok -eq 0 ]; then
        cpu=$(( $(cpu_ns "$pid") - c0 ))
        ntests=$("$PY" "$BENCH_ROOT/bench/rbparse.py" "$out" | wc -l)
        "$PY" "$BENCH_ROOT/bench/rbparse.py" "$out" | while IFS=$'\t' read -r test rps st lg; do
          [ "$label" = MSET ] && test="MSET ($mset_keys keys)"
          # server CPU microseconds per request (a run with several tests,
          # like ping, shares its CPU time evenly between them)
          us=$(awk -v c="$cpu" -v n="$n" -v k="$ntests" 'BEGIN {printf "%.3f", c / 1000 / (n * k)}')
          printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$srv" "$label" "$p" "$test" "$rps" "$st" "$lg" "$us" >>"$RESULTS"
        done
        log "round $r $srv $label -P $p: $("$PY" "$BENCH_ROOT/bench/rbparse.py" "$out" | awk -F'\t' '{printf "%s %s rps; ", $1, $2}')"
      fi
      if ! kill -0 "$T_PID" 2>/dev/null || ! kill -0 "$R_PID" 2>/dev/null; then
        echo "a server died; stopping" >&2; break 3
      fi
    done
  done
done

echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "raw per-round results (round, server, workload, rps, server CPU us/request, stall ticks of 250 ms):"
awk -F'\t' '{printf "  %s %-8s %-22s P%-3s %12s rps %6s us/req  stalls=%s (longest %s)\n", $1, $2, $5, $4, $6, $9, $7, $8}' "$RESULTS"
echo
"$PY" - "$RESULTS" "$threads" "$P" <<'EOF'
import sys, statistics
path, threads, P = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
order, data = [], {}
for rnd, srv, label, p, test, rps, st, lg, us in rows:
    key = (test, p)
    if key not in data:
        order.append(key)
        data[key] = {}
    data[key].setdefault(int(rnd), {})[srv] = (float(rps), int(st), int(lg), float(us))
hdr = ("workload", "tessera rps", "redis rps", "ratio", "ratio range", "stalls t/r", "target", "result", "CPU us/req t/r", "CPU ratio")
fmt = "| %-24s | %12s | %12s | %6s | %13s | %10s | %6s | %-7s | %15s | %9s |"
print(fmt % hdr)
print("|" + "|".join("-" * len(c) for c in (fmt % hdr).split("|")[1:-1]) + "|")
missed = 0
for test, p in order:
    rounds = data[(test, p)]
    both = [r for r in rounds.values() if "tessera" in r and "redis" in r]
    if not both:
        continue
    trps = statistics.median(r["tessera"][0] for r in both)
    rrps = statistics.median(r["redis"][0] for r in both)
    ratios = [r["tessera"][0] / r["redis"][0] for r in both if r["redis"][0] > 0]
    ratio = statistics.median(ratios)
    tst = sum(r["tessera"][1] for r in both); rst = sum(r["redis"][1] for r in both)
    target = 1.3 if (p != "1" and test in ("SET", "GET") and threads == 2) else 1.0
    met = ratio >= target
    missed += not met
    tus = statistics.median(r["tessera"][3] for r in both)
    rus = statistics.median(r["redis"][3] for r in both)
    cratio = statistics.median(r["tessera"][3] / r["redis"][3] for r in both if r["redis"][3] > 0) \
        if any(r["redis"][3] > 0 for r in both) else float("nan")
    print(fmt % ("%s -P %s" % (test, p), "%.0f" % trps, "%.0f" % rrps, "%.2f" % ratio,
                 "%.2f-%.2f" % (min(ratios), max(ratios)), "%d/%d" % (tst, rst),
                 ">=%.1f" % target, "met" if met else "MISSED",
                 "%.3f/%.3f" % (tus, rus), "%.2f" % cratio))
print()
print("ratio = median over rounds of tessera rps / redis rps in the same round;")
print("stalls = 250 ms progress ticks with no reply at all, summed over rounds (tessera/redis).")
print("CPU us/req = server user+system CPU time per request (all threads; median over rounds);")
print("CPU ratio = median of per-round tessera/redis CPU per request (lower is better; not a target).")
print("targets: >= 1.0x everywhere, >= 1.3x for SET/GET at -P %s with threads 2; %d missed." % (P, missed))
EOF
stop_server "$T_PID" || failures=$((failures + 1))
stop_server "$R_PID" || true
if [ $failures -ne 0 ]; then
  echo "FAILED: $failures redis-benchmark run(s) failed or reported errors (see above)" >&2
  exit 1
fi
exit 0
