#!/usr/bin/env bash
# Interleaved A/B of two tessera-server binaries (a refactor's before and
# after): both run at once, redis-benchmark alternates between them round
# by round, and the report gives, per workload, the median rps and server
# CPU per request of each and the median of the per-round ratios B/A. Use
# it when a change must cost nothing: the two binaries see the same box
# load, so the ratio is what the change did, not what the neighbours did.
#
# Usage: bench/ab.sh A_BIN B_BIN [options]
#   --rounds N      interleaved rounds (default 5)
#   --threads N     worker threads of both servers (default 2)
#   --requests N    requests per -P 1 run (default 200000; -P 16 runs 5x)
#   --clients N     redis-benchmark connections (default 50)
#   --tests LIST    redis-benchmark tests (default set,get)
# Exit status: 0 ok, 1 a run failed, 2 usage/setup problems.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

[ $# -ge 2 ] || usage 2
A_BIN=$1 B_BIN=$2; shift 2
rounds=5; threads=2; requests=200000; clients=50; tests=set,get
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --tests) tests=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 2 ;;
  esac
done
for b in "$A_BIN" "$B_BIN"; do [ -x "$b" ] || die "not an executable: $b"; done
need_cmd redis-benchmark; need_cmd redis-cli; need_cmd "$PY"
bench_init ab

TESSERA_BIN=$A_BIN start_tessera "$threads" "$BENCH_TMP/a"; A_PID=$STARTED_PID; A_PORT=$STARTED_PORT
TESSERA_BIN=$B_BIN start_tessera "$threads" "$BENCH_TMP/b"; B_PID=$STARTED_PID; B_PORT=$STARTED_PORT
wait_ready "$A_PORT" "$A_PID" || exit 1
wait_ready "$B_PORT" "$B_PID" || exit 1

results="$BENCH_TMP/results"
: > "$results"
for r in $(seq 1 "$rounds"); do
  for side in A B; do
    if [ $side = A ]; then pid=$A_PID port=$A_PORT; else pid=$B_PID port=$B_PORT; fi
    for t in ${tests//,/ }; do
      for p in 1 16; do
        n=$requests; [ $p -gt 1 ] && n=$((requests * 5))
        c0=$(cpu_ns "$pid")
        out=$(timeout 300 redis-benchmark -h 127.0.0.1 -p "$port" -t "$t" -P "$p" -n "$n" -c "$clients" \
              -r 1000000 -q 2>/dev/null) || { log "redis-benchmark failed ($side $t -P $p)"; exit 1; }
        c1=$(cpu_ns "$pid")
        rps=$(echo "$out" | grep -oE '[0-9.]+ requests per second' | awk '{print $1}')
        echo "$side ${t^^}_P$p $rps $(( (c1 - c0) / n ))" >> "$results"
      done
    done
  done
  log "round $r of $rounds done"
done

echo "# A=$A_BIN"
echo "# B=$B_BIN"
echo "# rounds=$rounds threads=$threads requests(-P1)=$requests clients=$clients"
"$PY" - "$results" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
work = []
for side, w, rps, ns in rows:
    if w not in work:
        work.append(w)
print("| workload | A rps | B rps | B/A rps | A CPU ns/req | B CPU ns/req | B/A CPU |")
print("|---|---|---|---|---|---|---|")
for w in work:
    a = [(float(r), int(n)) for s, x, r, n in rows if x == w and s == "A"]
    b = [(float(r), int(n)) for s, x, r, n in rows if x == w and s == "B"]
    ratio_rps = statistics.median(bb[0] / aa[0] for aa, bb in zip(a, b))
    ratio_cpu = statistics.median(bb[1] / aa[1] for aa, bb in zip(a, b))
    print("| %s | %.0f | %.0f | %.3f | %d | %d | %.3f |" % (
        w.replace("_", " -"), statistics.median(x[0] for x in a), statistics.median(x[0] for x in b), ratio_rps,
        statistics.median(x[1] for x in a), statistics.median(x[1] for x in b), ratio_cpu))
print("\nratios are medians of per-round B/A (rounds interleave A and B); CPU = all server threads' run time per request")
EOF
