#!/usr/bin/env bash
# Memory per element of the collection types: tessera-server vs
# redis-server 7.0, side by side. For each dataset and each server: start it
# fresh, read VmRSS, load the dataset through `redis-cli --pipe`, check the
# element count, wait for RSS to settle, read VmRSS again;
# bytes/element = (after - before) / elements.
#
# Datasets (the issue's): 1M hashes of 5 fields ("hash5", listpack in both
# servers), 1M sets of 5 integers ("set5", intset), one sorted set of 1M
# members ("zset1m", skiplist), one list of 1M elements ("list1m", quicklist).
#
# Usage: bench/memory_types.sh [options]
#   --scale N       elements per dataset (default 1000000: 1M hashes, sets,
#                   zset members, list elements)
#   --only NAME     run one dataset (hash5, set5, zset1m, list1m)
#   --threads N     tessera worker threads (default 2)
#   --list-compress-depth N
#                   CONFIG SET list-compress-depth N on both servers before
#                   loading (default: leave Redis's default, 0)
#   --timeout S     bound for loading one dataset (default 300)
#   --decay S       seconds to wait after loading before reading RSS
#                   (default 11: jemalloc's dirty-page decay is 10 s, and
#                   both servers run its background purging thread, so
#                   this reads the RSS the process settles at)
#   --keep          keep the temp dir
# Environment: TESSERA_BIN (default build-bench/ or build/ tessera-server).
# Exit status: 0 ok (targets met or not), 1 load/count failure, 2 setup.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

scale=1000000; only=""; threads=2; load_timeout=300; compress_depth=; decay=11
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --list-compress-depth) compress_depth=$2; shift 2 ;;
    --timeout) load_timeout=$2; shift 2 ;;
    --decay) decay=$2; shift 2 ;;
    --keep) BENCH_KEEP_TMP=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 2 ;;
  esac
done
for v in scale threads load_timeout; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v needs a positive integer"
done
datasets=(hash5 set5 zset1m list1m)
if [ -n "$only" ]; then
  [[ " ${datasets[*]} " == *" $only "* ]] || die "--only: one of ${datasets[*]}"
  datasets=("$only")
fi

need_cmd redis-server; need_cmd redis-cli; need_cmd "$PY"
bench_init memory_types
TBIN=$(tessera_bin)

# gen NAME FILE: writes the dataset's commands; prints "elements check-command"
gen() {
  "$PY" - "$1" "$2" "$scale" <<'EOF'
import sys
name, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def cmd(*a):
    a = [x if isinstance(x, bytes) else str(x).encode() for x in a]
    return b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a)
out, count = [], 0
with open(path, "wb", buffering=1 << 20) as f:
    def emit(c):
        out.append(c)
        if len(out) >= 65536:
            f.write(b"".join(out)); out.clear()
    if name == "hash5":
        for i in range(n):
            k = b"hash:%010d" % i
            emit(cmd(b"HSET", k, *sum(([b"field%d" % j, b"value:%08d" % (i + j)] for j in range(5)), [])))
        print(n * 5, "DBSIZE", n)
    elif name == "set5":
        for i in range(n):
            emit(cmd(b"SADD", b"set:%010d" % i, *[str(i * 5 + j) for j in range(5)]))
        print(n * 5, "DBSIZE", n)
    elif name == "zset1m":
        for i in range(0, n, 100):
            args = []
            for j in range(i, min(i + 100, n)):
                args += [str((j * 7919) % 1000003 / 7.0), b"member:%010d" % j]
            emit(cmd(b"ZADD", b"bigzset", *args))
        print(n, "ZCARD bigzset", n)
    elif name == "list1m":
        for i in range(0, n, 100):
            emit(cmd(b"RPUSH", b"biglist", *[b"element:%08d" % j for j in range(i, min(i + 100, n))]))
        print(n, "LLEN biglist", n)
    f.write(b"".join(out))
EOF
}

failed=0
RESULTS="$BENCH_TMP/results.tsv"
: >"$RESULTS"
for ds in "${datasets[@]}"; do
  file="$BENCH_TMP/$ds.resp"
  read -r elements checkcmd checkarg expect < <(gen "$ds" "$file") || die "cannot generate $ds"
  [ -n "${expect:-}" ] || { expect=$checkarg; checkarg=""; }
  for srv in tessera redis; do
    dir="$BENCH_TMP/$ds-$srv"
    if [ $srv = tessera ]; then start_tessera "$threads" "$dir"; else start_redis "$dir"; fi
    pid=$STARTED_PID; port=$STARTED_PORT
    wait_ready "$port" "$pid" || { cat "$dir/"*.log >&2; exit 1; }
    if [ -n "$compress_depth" ]; then
      [ "$(redis-cli -h 127.0.0.1 -p "$port" config set list-compress-depth "$compress_depth")" = OK ] ||
        die "$srv: CONFIG SET list-compress-depth $compress_depth failed"
    fi
    sleep 0.5
    before=$(settle_rss "$pid") || { echo "FAIL: $srv: server died" >&2; exit 1; }
    log "$ds on $srv (pid $pid): RSS before $before kB; loading"
    if ! timeout --kill-after=5 "$load_timeout" redis-cli -h 127.0.0.1 -p "$port" --pipe <"$file" >"$dir/pipe.out" 2>&1 ||
       ! grep -q "errors: 0," "$dir/pipe.out"; then
      echo "FAIL: $ds on $srv: redis-cli --pipe: $(tail -1 "$dir/pipe.out")" >&2; failed=1
    fi
    # shellcheck disable=SC2086  # checkarg may be empty on purpose
    got=$(timeout 10 redis-cli -h 127.0.0.1 -p "$port" $checkcmd $checkarg 2>&1)
    [ "$got" = "$expect" ] || { echo "FAIL: $ds on $srv: $checkcmd $checkarg = '$got', expected $expect" >&2; failed=1; }
    sleep "$decay"
    after=$(settle_rss "$pid") || { echo "FAIL: $srv died" >&2; failed=1; continue; }
    enc=$(redis-cli -h 127.0.0.1 -p "$port" object encoding "$(redis-cli -h 127.0.0.1 -p "$port" randomkey)" 2>&1)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$ds" "$srv" "$elements" "$before" "$after" "$enc" >>"$RESULTS"
    stop_server "$pid" || { echo "FAIL: $srv did not exit within 30 s of SIGTERM" >&2; failed=1; }
  done
done

echo "# memory per element, collection types: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# tessera=$TBIN (tree $(tree_rev)) threads=$threads; $(redis-server --version | cut -d' ' -f1-3); scale=$scale"
echo
"$PY" - "$RESULTS" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
res = {}
for ds, srv, n, b, a, enc in rows:
    res.setdefault(ds, {})[srv] = ((int(a) - int(b)) * 1024 / int(n), enc)
fmt = "| %-7s | %-20s | %-20s | %6s | %-7s |"
print(fmt % ("dataset", "tessera B/element", "redis B/element", "ratio", "<= 0.9"))
print("|" + "|".join("-" * len(c) for c in (fmt % ("", "", "", "", "")).split("|")[1:-1]) + "|")
for ds, v in res.items():
    if "tessera" not in v or "redis" not in v:
        continue
    (t, te), (r, re) = v["tessera"], v["redis"]
    ratio = t / r if r > 0 else float("nan")
    print(fmt % (ds, "%.1f (%s)" % (t, te), "%.1f (%s)" % (r, re), "%.3f" % ratio, "met" if ratio <= 0.9 else "MISSED"))
EOF
exit $failed
