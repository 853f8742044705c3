#!/usr/bin/env bash
# Startup loading of one RDB file, tessera-server vs redis-server 7.0: a
# dump written by Redis (string keys plus small hashes, lists and sorted
# sets) is loaded by each server in turn; the figure is the load time each
# logs ("DB loaded from disk: S seconds"), and Redis's time over Tessera's
# (above 1: Tessera loads faster; its shards load in parallel).
# With --aof, the same dataset is loaded from an append-only file
# (appendonly yes) instead: `commands` = the dataset as a plain command log
# (every command replayed), `preamble` = a rewritten AOF (RDB preamble
# written by Tessera's BGREWRITEAOF, no tail). Both servers load the same
# single-file AOF (redis-server 7.0 takes it as its base file).
# Usage: bench/load.sh [--keys N] [--threads N] [--rounds N] [--aof commands|preamble] [--keep]
set -uo pipefail
source "$(dirname "$0")/lib.sh"

keys=2000000; threads=2; rounds=3; aof=""
while [ $# -gt 0 ]; do
  case "$1" in
    --aof) aof=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --keep) BENCH_KEEP_TMP=1; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1" ;;
  esac
done
case "$aof" in ""|commands|preamble) ;; *) die "--aof: commands or preamble" ;; esac
need_cmd redis-server; need_cmd redis-cli
bench_init load

# the dataset: keys strings, keys/10 each of hashes, lists and sorted sets
"$PY" - "$keys" >"$BENCH_TMP/load.resp" <<'PYEOF'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
def cmd(*a):
    out.write(b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a))
for i in range(n):
    cmd(b"SET", b"key:%012d" % i, b"v" * 16)
    if i % 10 == 0:
        cmd(b"HSET", b"h:%d" % i, b"f1", b"a", b"f2", b"%d" % i, b"f3", b"c" * 20)
        cmd(b"RPUSH", b"l:%d" % i, *[b"e%d" % k for k in range(8)])
        cmd(b"ZADD", b"z:%d" % i, *[x for k in range(5) for x in (b"%d" % k, b"m%d" % k)])
PYEOF

start_redis "$BENCH_TMP/make"
wait_ready "$STARTED_PORT" "$STARTED_PID" || exit 1
redis-cli -h 127.0.0.1 -p "$STARTED_PORT" --pipe <"$BENCH_TMP/load.resp" >/dev/null
redis-cli -h 127.0.0.1 -p "$STARTED_PORT" save >/dev/null
nkeys=$(redis-cli -h 127.0.0.1 -p "$STARTED_PORT" dbsize)
stop_server "$STARTED_PID" >/dev/null
log "dump: $nkeys keys, $(stat -c %s "$BENCH_TMP/make/dump.rdb") bytes"

# The input file of each round, and how the servers are told to load it.
input=dump.rdb
load_pattern='DB loaded from disk'
if [ -n "$aof" ]; then
  input=appendonly.aof; load_pattern='DB loaded from append only file'
  TESSERA_ARGS=(--appendonly yes --appendfilename appendonly.aof --save '')
  REDIS_ARGS=(--appendonly yes --appendfilename appendonly.aof)
  if [ "$aof" = commands ]; then
    cp "$BENCH_TMP/load.resp" "$BENCH_TMP/make/appendonly.aof"
  else
    mkdir -p "$BENCH_TMP/rw"
    cp "$BENCH_TMP/make/dump.rdb" "$BENCH_TMP/rw/dump.rdb"   # first start: the dump becomes the AOF
    start_tessera "$threads" "$BENCH_TMP/rw"
    wait_ready "$STARTED_PORT" "$STARTED_PID" 300 || exit 1
    redis-cli -h 127.0.0.1 -p "$STARTED_PORT" bgrewriteaof >/dev/null
    until redis-cli -h 127.0.0.1 -p "$STARTED_PORT" info persistence | grep -q '^aof_rewrites:1'; do sleep 0.2; done
    while redis-cli -h 127.0.0.1 -p "$STARTED_PORT" info persistence | grep -q '^aof_rewrite_in_progress:1'; do sleep 0.2; done
    stop_server "$STARTED_PID" >/dev/null
    cp "$BENCH_TMP/rw/appendonly.aof" "$BENCH_TMP/make/appendonly.aof"
  fi
  log "aof ($aof): $(stat -c %s "$BENCH_TMP/make/appendonly.aof") bytes"
fi

load_secs() {  # LOGFILE: the seconds the server logged for its load
  sed -n "s/.*$load_pattern: \([0-9.]*\) seconds.*/\1/p" "$1" | tail -1
}

for round in $(seq 1 "$rounds"); do
  rm -rf "$BENCH_TMP/t" "$BENCH_TMP/r"
  mkdir -p "$BENCH_TMP/t" "$BENCH_TMP/r"
  cp "$BENCH_TMP/make/$input" "$BENCH_TMP/t/$input"
  cp "$BENCH_TMP/make/$input" "$BENCH_TMP/r/$input"
  start_tessera "$threads" "$BENCH_TMP/t"
  wait_ready "$STARTED_PORT" "$STARTED_PID" 300 || exit 1
  redis-cli -h 127.0.0.1 -p "$STARTED_PORT" config set save "" >/dev/null   # no save at exit
  got=$(redis-cli -h 127.0.0.1 -p "$STARTED_PORT" dbsize)
  [ "$got" = "$nkeys" ] || die "tessera loaded $got keys of $nkeys"
  stop_server "$STARTED_PID" >/dev/null
  start_redis "$BENCH_TMP/r"
  wait_ready "$STARTED_PORT" "$STARTED_PID" 300 || exit 1
  got=$(redis-cli -h 127.0.0.1 -p "$STARTED_PORT" dbsize)
  [ "$got" = "$nkeys" ] || die "redis loaded $got keys of $nkeys"
  stop_server "$STARTED_PID" >/dev/null
  t=$(load_secs "$BENCH_TMP/t/tessera.log"); r=$(load_secs "$BENCH_TMP/r/redis.log")
  printf 'round %d  keys %s  tessera (threads %s) %6.3fs  redis %6.3fs  redis/tessera %.2fx\n' \
    "$round" "$nkeys" "$threads" "$t" "$r" "$(awk -v a="$r" -v b="$t" 'BEGIN {print a / b}')"
done
