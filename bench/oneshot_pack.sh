#!/bin/sh
# The whole daemon with a rule pack over a fixed capture of the load
# generator's stream, read once: in_file -> rfc5424 -> det_rules (the
# pack) -> out_file of every event and of the incidents (SQLite store),
# `sentineld run --oneshot`. Prints the daemon's CPU time, or with
# CALLGRIND=FILE its instructions (valgrind --tool=callgrind, written to
# FILE for callgrind_annotate), and the incidents and versions it wrote.
# Instruction counts are what to compare on a shared machine (issue #21's
# profiles in bench/README.md were made this way).
#
#   bench/oneshot_pack.sh [LINES]        (default 50000; run from _build)
#
# Environment: SENTINELD (default ./sentineld), SENTINELD_PLUGIN_PATH
# (default ./.plugins), LOADGEN (default ./bench/loadgen), RULES (default
# the source tree's conf/rules), CALLGRIND, KEEP_TMP. The capture is
# `loadgen -F -f lf` (fixed 2024-05-01 stamps), so every run reads the
# same lines. det_rules' ticker is set to 60 s: the run takes about a
# second, so no clock-driven update signal lands in it and the store's
# incidents are the same from run to run (under valgrind the run is
# slower and they may differ a little).
set -eu
LINES=${1:-50000}
SENTINELD=${SENTINELD:-./sentineld}
LOADGEN=${LOADGEN:-./bench/loadgen}
here=$(cd "$(dirname "$0")" && pwd)
RULES=${RULES:-$here/../conf/rules}
export SENTINELD_PLUGIN_PATH="${SENTINELD_PLUGIN_PATH:-./.plugins}"
[ -x "$SENTINELD" ] || { echo "no $SENTINELD (run from _build)" >&2; exit 1; }
[ -x "$LOADGEN" ] || { echo "no $LOADGEN (run from _build)" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/oneshot-pack.XXXXXX")
[ -n "${KEEP_TMP:-}" ] || trap 'rm -rf "$TMP"' EXIT

# Capture the generator's bytes: it only sends over TCP.
python3 - "$TMP/lines.log" "$TMP/port" <<'PY' &
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
open(sys.argv[2], "w").write(str(s.getsockname()[1]))
c, _ = s.accept()
with open(sys.argv[1], "wb") as f:
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        f.write(b)
PY
cap=$!
i=0
while [ ! -s "$TMP/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
"$LOADGEN" -F -f lf -q -n "$LINES" -p "$(cat "$TMP/port")" >/dev/null
wait $cap

cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state }
http: { enabled: false }
inputs:
  - { name: f, plugin: in_file, path: $TMP/lines.log, parser: rfc5424 }
detectors:
  - { name: d, plugin: det_rules, rules: [$RULES], tick: 60s }
outputs:
  - { name: inc, plugin: out_file, path: $TMP/inc.json, take: incidents }
  - { name: ev, plugin: out_file, path: $TMP/events.json }
EOC
if [ -n "${CALLGRIND:-}" ]; then
    valgrind --tool=callgrind --callgrind-out-file="$CALLGRIND" \
        "$SENTINELD" run -c "$TMP/c.yaml" --oneshot 2>"$TMP/run.log"
    ir=$(callgrind_annotate "$CALLGRIND" 2>/dev/null |
        awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
    echo "instructions: $ir ($((ir / LINES)) per line)"
else
    python3 - "$LINES" "$SENTINELD" run -c "$TMP/c.yaml" --oneshot \
        2>"$TMP/run.log" <<'PY'
import resource, subprocess, sys
n = int(sys.argv[1])
subprocess.run(sys.argv[2:], check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("CPU: %.2f s user + %.2f s system = %.2f us per line"
      % (r.ru_utime, r.ru_stime, (r.ru_utime + r.ru_stime) * 1e6 / n))
PY
fi
grep "output 'inc'" "$TMP/run.log" | sed 's/.*info //'
echo "incidents: $(sqlite3 "$TMP/state/sentineld.db" 'select count(*) from incidents' 2>/dev/null || echo '?')"
