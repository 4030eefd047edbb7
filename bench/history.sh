#!/bin/sh
# Cost of out_history: N (default 1 million) RFC 5424 lines (10 hosts,
# 5 apps, parsed by parse_auto) from a file, one worker: through out_null
# (the core alone), then out_null + out_history (every event also written
# to <state_dir>/events.db), then the same with max_rows=M (default N/4)
# so retention prunes all along. Prints events/s and the store size; the
# history's output thread is the bottleneck (back-pressure to the input).
#   bench/history.sh [N] [M]      (after ./scripts/build.sh)
set -e
cd "$(dirname "$0")/.."
n=${1:-1000000}
m=${2:-$((n / 4))}
b=_build
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$n" "$tmp/in.log" <<'PY'
import sys, time
n, path = int(sys.argv[1]), sys.argv[2]
t0 = int(time.time()) - 3600
apps = ["sshd", "cron", "nginx", "kernel", "sudo"]
with open(path, "w") as f:
    for i in range(n):
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + i // 1000))
        f.write("<%d>1 %s host%d %s %d - - request %d from 192.0.2.%d "
                "user=u%d status=ok padding-padding-padding-padding\n"
                % (8 + i % 8, ts, i % 10, apps[i % 5], i % 3000, i, i % 250,
                   i % 100))
PY
conf() { # conf HISTORY(yes|no) [MAX_ROWS]
    rm -rf "$tmp/state"
    cat >"$tmp/c.yaml" <<EOC
daemon: { workers: 1, state_dir: $tmp/state }
http: { enabled: false }
inputs:
  - { name: f, plugin: in_file, path: $tmp/in.log, keep_position: false, parser: auto }
outputs:
EOC
    echo "  - { name: o, plugin: out_null }" >>"$tmp/c.yaml"
    if [ "$1" = yes ]; then
        echo "  - { name: h, plugin: out_history, max_rows: ${2:-100000000}, max_age: 3650d }" >>"$tmp/c.yaml"
    fi
}
now() { date +%s.%N; }
run() { # run N-OUTPUTS: each must report all n delivered
    SENTINELD_PLUGIN_PATH=$b/.plugins $b/sentineld run -c "$tmp/c.yaml" --oneshot 2>"$tmp/log"
    grep -q "$n received, $n parsed" "$tmp/log" && [ "$(grep -c ": $n delivered" "$tmp/log")" = "$1" ] ||
        { echo "lost lines!"; cat "$tmp/log"; exit 1; }
}
conf no; t0=$(now); run 1; t1=$(now)
conf yes; t1=$(now); run 2; t2=$(now)
rows=$(sqlite3 "$tmp/state/events.db" 'select count(*) from events' 2>/dev/null || echo "?")
size=$(du -sk "$tmp/state" | cut -f1)
conf yes "$m"; t3=$(now); run 2; t4=$(now)
rows2=$(sqlite3 "$tmp/state/events.db" 'select count(*) from events' 2>/dev/null || echo "?")
python3 - "$n" "$t0" "$t1" "$t2" "$t3" "$t4" "$rows" "$size" "$m" "$rows2" <<'PY'
import sys
n = int(sys.argv[1])
t0, t1, t2, t3, t4 = map(float, sys.argv[2:7])
rows, size, m, rows2 = sys.argv[7], int(sys.argv[8]), sys.argv[9], sys.argv[10]
print("%-44s %10.0f events/s" % ("out_null (core alone)", n / (t1 - t0)))
print("%-44s %10.0f events/s (%s rows, %.0f MB)" %
      ("out_null + out_history", n / (t2 - t1), rows, size / 1024))
print("%-44s %10.0f events/s (%s rows kept)" %
      ("out_null + out_history, max_rows=%s" % m, n / (t4 - t3), rows2))
PY
