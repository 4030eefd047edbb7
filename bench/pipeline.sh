#!/bin/sh
# Pipeline benchmark: N (default 10 million) 200-byte lines from a file
# through in_file -> parse_raw -> out_file(/dev/null), one worker, printing
# lines/s and MB/s, next to `cat file > /dev/null` as the physical
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
cat >"$tmp/c.yaml" <<EOC
daemon: { workers: 1, state_dir: $tmp/state }
http: { enabled: false }
inputs:
  - { name: f, plugin: in_file, path: $tmp/in.log, keep_position: false, parser: raw }
outputs:
  - { name: null, plugin: out_file, path: /dev/null }
EOC
now() { date +%s.%N; }
t0=$(now); cat "$tmp/in.log" >/dev/null; t1=$(now)
SENTINELD_PLUGIN_PATH=$b/.plugins $b/sentineld run -c "$tmp/c.yaml" --oneshot 2>"$tmp/log"
t2=$(now)
python3 - "$n" "$bytes" "$t0" "$t1" "$t2" <<'PY'
import sys
n, size = int(sys.argv[1]), int(sys.argv[2])
t0, t1, t2 = map(float, sys.argv[3:6])
cat, snd = t1 - t0, t2 - t1
print("cat > /dev/null : %10.0f lines/s %8.1f MB/s" % (n / cat, size / cat / 1e6))
print("sentineld       : %10.0f lines/s %8.1f MB/s (1 worker, in_file -> parse_raw -> out_file JSON)" % (n / snd, size / snd / 1e6))
PY
grep -q "$n received, $n parsed" "$tmp/log" || { echo "lost lines!"; cat "$tmp/log"; exit 1; }
