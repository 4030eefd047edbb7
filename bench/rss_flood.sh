#!/bin/sh
# Memory under a sustained TCP flood: sentineld (in_syslog -> parser ->
# out_file, JSON written to /dev/null so the disk does not fill) receives
# bench/loadgen at full speed for RSS_SECONDS; VmRSS of the daemon is
# sampled every 5 s. Prints the samples, min/max, and over the steady part
# (after WARMUP, which fills the batch pool, arenas and socket buffers)
# the median, the max and the least-squares slope. Flat (exit 0): the
# slope moves it less than 2% of the median per 5 minutes (GROWING or
# SHRINKING otherwise)
# and no steady sample is over 10% above the median (SPIKY otherwise).
#
#   RSS_SECONDS=30 bench/rss_flood.sh        # quick run (default 300)
#
# Run from the build directory. Environment: SENTINELD, SENTINELD_PLUGIN_PATH,
# LOADGEN (as in bench_vs_rsyslog.sh), CONNS (connections, default 2),
# FRAMING (octet|lf, default octet), PARSER (default rfc5424), DAEMON_CPUS
# (taskset list, default "0,1"), WARMUP (seconds before the reference
# sample, default 30, at most half of RSS_SECONDS).
set -u
SECONDS_TOTAL=${RSS_SECONDS:-300}
CONNS=${CONNS:-2}
FRAMING=${FRAMING:-octet}
PARSER=${PARSER:-rfc5424}
SENTINELD=${SENTINELD:-./sentineld}
SENTINELD_PLUGIN_PATH=${SENTINELD_PLUGIN_PATH:-$(pwd)/.plugins}
export SENTINELD_PLUGIN_PATH
LOADGEN=${LOADGEN:-./bench/loadgen}
DAEMON_CPUS=${DAEMON_CPUS:-0,1}
WARMUP=${WARMUP:-30}
[ "$WARMUP" -gt $((SECONDS_TOTAL / 2)) ] && WARMUP=$((SECONDS_TOTAL / 2))
INTERVAL=5
[ -x "$LOADGEN" ] || { echo "no $LOADGEN: build first (./scripts/build.sh)" >&2; exit 2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sentineld-rss.XXXXXX")
PIDS=""
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done; [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"' EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }
metric() {
    curl -sf "http://127.0.0.1:$hp/metrics" | sed -n "s/^$1{[^}]*} //p" |
        awk '{ s += $1 } END { printf "%d", s }'
}

sp=$(free_port)
hp=$(free_port)
cat >"$TMP/s.yaml" <<EOC
daemon: { state_dir: $TMP/state }
http: { listen: "127.0.0.1:$hp" }
inputs:
  - { name: flood, plugin: in_syslog, parser: $PARSER, listen: [ "tcp://127.0.0.1:$sp" ] }
outputs:
  - { name: o, plugin: out_file, path: /dev/null }
EOC
taskset -c "$DAEMON_CPUS" "$SENTINELD" run -c "$TMP/s.yaml" \
    >"$TMP/s.out" 2>"$TMP/s.log" &
SPID=$!
PIDS="$PIDS $SPID"
i=0
until grep -q "listening on tcp://127.0.0.1:$sp" "$TMP/s.log"; do
    i=$((i + 1))
    [ $i -gt 100 ] && { cat "$TMP/s.log" >&2; exit 1; }
    sleep 0.1
done
rss0=$(rss_kib "$SPID")
echo "# sentineld pid $SPID on CPUs $DAEMON_CPUS: $CONNS connection(s), $FRAMING framing, $SECONDS_TOTAL s; idle RSS $rss0 KiB"

# 200,000 distinct messages per connection, sent over and over.
"$LOADGEN" -p "$sp" -n $((200000 * CONNS)) -c "$CONNS" -f "$FRAMING" \
    -d "$SECONDS_TOTAL" 2>"$TMP/loadgen.log" &
LPID=$!
PIDS="$PIDS $LPID"
until grep -q "built" "$TMP/loadgen.log" 2>/dev/null; do sleep 0.05; done

printf '%6s %10s %12s %10s\n' "t/s" "VmRSS/KiB" "records" "msgs/s"
: >"$TMP/samples"
t=0
last=0
while [ "$t" -lt "$SECONDS_TOTAL" ]; do
    sleep "$INTERVAL"
    t=$((t + INTERVAL))
    kill -0 "$SPID" 2>/dev/null || { echo "sentineld died" >&2; cat "$TMP/s.log" >&2; exit 1; }
    r=$(rss_kib "$SPID")
    n=$(metric sentineld_input_records_total)
    printf '%6d %10d %12d %10d\n' "$t" "$r" "$n" $(((n - last) / INTERVAL))
    echo "$t $r" >>"$TMP/samples"
    last=$n
done
wait "$LPID"
tail -1 "$TMP/loadgen.log"
dropped=$(metric sentineld_input_dropped_total)
kill -TERM "$SPID"
wait "$SPID"

python3 - "$TMP/samples" "$WARMUP" "$dropped" <<'EOPY'
import statistics, sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
warm = int(sys.argv[2])
steady = [(t, r) for t, r in rows if t >= warm]
ref = steady[0][1]
lo, hi = min(r for _, r in rows), max(r for _, r in rows)
s_hi = max(r for _, r in steady)
med = statistics.median(r for _, r in steady)
# Least-squares slope over the steady part: growth shows as a trend, a
# one-off sample as an outlier (reported, but judged by the max below).
n = len(steady)
mt = sum(t for t, _ in steady) / n
mr = sum(r for _, r in steady) / n
var = sum((t - mt) ** 2 for t, _ in steady)
slope = (sum((t - mt) * (r - mr) for t, r in steady) / var * 60) if var else 0.0
# Flat: the trend adds less than 2% of the median per 5 minutes, and no
# steady sample is more than 10% above the median.
trend_ok = abs(slope) * 5 < 0.02 * med
peak_ok = s_hi < 1.10 * med
flat = trend_ok and peak_ok
print('VmRSS min %d KiB, max %d KiB; after %d s: first %d KiB, median %d KiB, '
      'max %d KiB (%+.1f%% of the median), slope %+.1f KiB/min: %s; '
      'dropped records: %s'
      % (lo, hi, warm, ref, med, s_hi, 100.0 * (s_hi - med) / med, slope,
         'FLAT' if flat else ('SPIKY' if trend_ok else
                           ('GROWING' if slope > 0 else 'SHRINKING')),
         sys.argv[3]))
sys.exit(0 if flat else 1)
EOPY
