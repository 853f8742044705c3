#!/usr/bin/env bash
# Transactions and scripts side by side: tessera-server vs redis-server 7.0,
# interleaved rounds. Reports per workload the median rate of each server,
# the median per-round ratio tessera/redis and server CPU per operation.
# Only ratios mean anything on a shared machine; see docs/benchmarks.md.
#
# Workloads:
#   MULTI/EXEC tag5    MULTI, INCR, SET, GET, HINCRBY, EXPIRE on keys of the
#                      connection's own hash tag, EXEC (bench/txload.c)
#   MULTI/EXEC cross2  MULTI, DECRBY on a key of shard 0, INCRBY on a key of
#                      the last shard, EXEC (bench/txload.c)
#   EVALSHA ratelimit  a rate limiter (INCR + PEXPIRE of one key) by
#                      redis-benchmark: a random key per call (rl:__rand_int__)
#                      and one hot key (rl)
#   FCALL ratelimit    the same as a function (FUNCTION LOAD), random keys
# Usage: bench/tx.sh [--rounds N] [--txns N] [--threads N] [--clients N] [--keep]
# Environment: TESSERA_BIN (default build-bench/ or build/ tessera-server).
set -uo pipefail
source "$(dirname "$0")/lib.sh"

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
rounds=3; txns=100000; threads=2; clients=50
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --txns) txns=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --keep) BENCH_KEEP_TMP=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 2 ;;
  esac
done
need_cmd redis-server; need_cmd redis-cli; need_cmd redis-benchmark; need_cmd cc
bench_init tx
TBIN=$(tessera_bin)
cc -O2 -o "$BENCH_TMP/txload" "$BENCH_ROOT/bench/txload.c" || die "cannot build bench/txload.c"

echo "# tessera transactions vs redis: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# tessera=$TBIN (tree $(tree_rev)) threads=$threads; $(redis-server --version | cut -d' ' -f1-3)"
echo "# rounds=$rounds txns=$txns clients=$clients; host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
start_tessera "$threads" "$BENCH_TMP/tessera"; T_PID=$STARTED_PID; T_PORT=$STARTED_PORT
start_redis "$BENCH_TMP/redis"; R_PID=$STARTED_PID; R_PORT=$STARTED_PORT
wait_ready "$T_PORT" "$T_PID" || exit 1
wait_ready "$R_PORT" "$R_PID" || exit 1

RESULTS="$BENCH_TMP/results.tsv"; : >"$RESULTS"
LIMITER='local c = redis.call("incr", KEYS[1]) redis.call("pexpire", KEYS[1], ARGV[1]) return c'
LIMITER_LIB='#!lua name=rl
redis.register_function("ratelimit", function(keys, args) local c = redis.call("incr", keys[1]) redis.call("pexpire", keys[1], args[1]) return c end)'
failures=0
for r in $(seq 1 "$rounds"); do
  for mode in tag5 cross2 evalsha-random evalsha-hot fcall-random; do
    if [ $((r % 2)) -eq 1 ]; then order="tessera redis"; else order="redis tessera"; fi
    for srv in $order; do
      if [ "$srv" = tessera ]; then port=$T_PORT; pid=$T_PID; else port=$R_PORT; pid=$R_PID; fi
      c0=$(cpu_ns "$pid")
      case $mode in
        fcall-*)
          redis-cli -p "$port" FUNCTION LOAD REPLACE "$LIMITER_LIB" >/dev/null
          run() { timeout 300 redis-benchmark -p "$port" -c "$clients" -n "$txns" -r 100000 -q \
                    FCALL ratelimit 1 rl:__rand_int__ 60000 | tr '\r' '\n' | grep 'requests per second' |
                  awk '{for (i = 1; i <= NF; i++) if ($i == "requests") print "x x", $(i-1), "txn/s"}'; } ;;
        evalsha-*)
          sha=$(redis-cli -p "$port" SCRIPT LOAD "$LIMITER")
          key='rl'; [ "$mode" = evalsha-random ] && key='rl:__rand_int__'
          run() { timeout 300 redis-benchmark -p "$port" -c "$clients" -n "$txns" -r 100000 -q \
                    EVALSHA "$sha" 1 "$key" 60000 | tr '\r' '\n' | grep 'requests per second' |
                  awk '{for (i = 1; i <= NF; i++) if ($i == "requests") print "x x", $(i-1), "txn/s"}'; } ;;
        *) run() { timeout 300 "$BENCH_TMP/txload" -p "$port" -c "$clients" -n "$txns" -m "$mode" -s "$threads"; } ;;
      esac
      if out=$(run) && [ -n "$out" ]; then
        cpu=$(( $(cpu_ns "$pid") - c0 ))
        rate=$(echo "$out" | awk '{print $(NF-1)}')
        us=$(awk -v c="$cpu" -v n="$txns" 'BEGIN {printf "%.3f", c / 1000 / n}')
        printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$srv" "$mode" "$rate" "$us" >>"$RESULTS"
        log "round $r $srv $mode: $rate txn/s, $us us CPU/txn"
      else
        echo "FAIL: round $r $srv $mode: $out" >&2
        failures=$((failures + 1))
      fi
    done
  done
done
stop_server "$T_PID" || failures=$((failures + 1))
stop_server "$R_PID" || true
echo
"$PY" - "$RESULTS" <<'PYEOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
by = {}
for r, srv, mode, rate, us in rows:
    by.setdefault(mode, {}).setdefault(r, {})[srv] = (float(rate), float(us))
print("%-22s %14s %14s %8s %12s %12s" % ("workload", "tessera txn/s", "redis txn/s", "ratio", "ts us/txn", "rs us/txn"))
for mode, rounds in by.items():
    full = [v for v in rounds.values() if len(v) == 2]
    if not full:
        continue
    t = statistics.median(v["tessera"][0] for v in full)
    rr = statistics.median(v["redis"][0] for v in full)
    ratio = statistics.median(v["tessera"][0] / v["redis"][0] for v in full)
    tu = statistics.median(v["tessera"][1] for v in full)
    ru = statistics.median(v["redis"][1] for v in full)
    label = (mode.replace("evalsha-", "EVALSHA ") if mode.startswith("evalsha") else
             mode.replace("fcall-", "FCALL ") if mode.startswith("fcall") else "MULTI/EXEC " + mode)
    print("%-22s %14.0f %14.0f %7.2fx %12.2f %12.2f" % (label, t, rr, ratio, tu, ru))
PYEOF
[ $failures -eq 0 ]
