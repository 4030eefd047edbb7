#!/bin/sh
# Pipeline benchmark: N (default 10 million) 200-byte lines from a file
# through in_file -> parse_raw -> out_file(/dev/null) (JSON written), and
# through in_file -> parse_raw -> out_null (the core alone), one worker,
# printing lines/s and MB/s next to `cat file > /dev/null` as the physical
# reference in the same run.
#   bench/pipeline.sh [N]      (after ./scripts/build.sh)
set -e
cd "$(dirname "$0")/.."
n=${1:-10000000}
b=_build
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$n" "$tmp/in.log" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
line = ("x" * 199 + "\n").encode()
with open(path, "wb") as f:
    chunk = line * 10000
    for _ in range(n // 10000):
        f.write(chunk)
    f.write(line * (n % 10000))
PY
bytes=$(stat -c %s "$tmp/in.log")
conf() { # conf OUTPUT-PLUGIN
    cat >"$tmp/c.yaml" <<EOC
daemon: { workers: 1, state_dir: $tmp/state }
http: { enabled: false }
inputs:
  - { name: f, plugin: in_file, path: $tmp/in.log, keep_position: false, parser: raw }
outputs:
  - { name: o, plugin: $1, path: /dev/null }
EOC
    [ "$1" = out_null ] && sed -i 's|, path: /dev/null||' "$tmp/c.yaml"
    return 0
}
now() { date +%s.%N; }
t0=$(now); cat "$tmp/in.log" >/dev/null; t1=$(now)
conf out_file
SENTINELD_PLUGIN_PATH=$b/.plugins $b/sentineld run -c "$tmp/c.yaml" --oneshot 2>"$tmp/log"
t2=$(now)
grep -q "$n received, $n parsed" "$tmp/log" || { echo "lost lines!"; cat "$tmp/log"; exit 1; }
conf out_null
SENTINELD_PLUGIN_PATH=$b/.plugins $b/sentineld run -c "$tmp/c.yaml" --oneshot 2>"$tmp/log"
t3=$(now)
grep -q "$n received, $n parsed" "$tmp/log" || { echo "lost lines!"; cat "$tmp/log"; exit 1; }
python3 - "$n" "$bytes" "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
n, size = int(sys.argv[1]), int(sys.argv[2])
t0, t1, t2, t3 = map(float, sys.argv[3:7])
for name, t in (("cat > /dev/null", t1 - t0),
                ("sentineld -> out_file JSON", t2 - t1),
                ("sentineld -> out_null (core)", t3 - t2)):
    print("%-30s %10.0f lines/s %8.1f MB/s" % (name, n / t, size / t / 1e6))
PY
