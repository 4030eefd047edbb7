#!/bin/sh
# The same TCP syslog stream into rsyslog (imtcp -> omfile) and into
# sentineld (in_syslog -> parse_rfc5424 -> out_file), one after the other
# on this machine, timed from the first byte sent until the last line is
# written. Prints msgs/s for each and the ratio.
#
#   bench/bench_vs_rsyslog.sh [COUNT] [octet|lf] [CONNECTIONS]
#
# Environment: SENTINELD (default ./sentineld), SENTINELD_PLUGIN_PATH
# (default ./.plugins), RSYSLOGD (default: from PATH), PARSER (default
# rfc5424; "auto" or "raw" also work). Run from the build directory.
set -u
N=${1:-1000000}
FRAMING=${2:-octet}
CONNS=${3:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
SENTINELD=${SENTINELD:-./sentineld}
SENTINELD_PLUGIN_PATH=${SENTINELD_PLUGIN_PATH:-$(pwd)/.plugins}
export SENTINELD_PLUGIN_PATH
RSYSLOGD=${RSYSLOGD:-$(command -v rsyslogd || echo /usr/sbin/rsyslogd)}
PARSER=${PARSER:-rfc5424}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sentineld-bench.XXXXXX")
PIDS=""
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
now() { python3 -c 'import time; print(time.monotonic())'; }
wait_port() {
    i=0
    while ! python3 -c "import socket; socket.create_connection(('127.0.0.1', $1)).close()" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 100 ] && { echo "nothing listens on port $1" >&2; exit 1; }
        sleep 0.1
    done
}
# run NAME PORT OUTFILE: send, wait for N lines, print the rate.
run() {
    t0=$(now)
    python3 "$HERE/syslog_tcp_load.py" --port "$2" --count "$N" \
        --framing "$FRAMING" --connections "$CONNS" 2>"$TMP/$1.send"
    while [ "$(lines "$3")" -lt "$N" ]; do sleep 0.05; done
    t1=$(now)
    python3 -c "print('%-10s %9d msgs in %6.2fs: %9.0f msgs/s   (sender alone: %s)' % ('$1', $N, $t1 - $t0, $N / ($t1 - $t0), open('$TMP/$1.send').read().split(': ')[-1].strip()))" |
        tee "$TMP/$1.rate"
}

# rsyslog: imtcp -> omfile, message as received, no sync.
rp=$(free_port)
mkdir -p "$TMP/rs"
cat >"$TMP/rsyslog.conf" <<EOC
global(workDirectory="$TMP/rs" maxMessageSize="64k")
module(load="imtcp")
template(name="raw" type="string" string="%rawmsg%\n")
input(type="imtcp" address="127.0.0.1" port="$rp" ruleset="bench")
ruleset(name="bench" queue.type="LinkedList" queue.size="1000000") {
    action(type="omfile" file="$TMP/rsyslog.out" template="raw"
           asyncWriting="on" ioBufferSize="256k" flushOnTXEnd="off")
}
EOC
"$RSYSLOGD" -n -f "$TMP/rsyslog.conf" -i "$TMP/rs.pid" >"$TMP/rs.log" 2>&1 &
PIDS="$PIDS $!"
wait_port "$rp"
run rsyslog "$rp" "$TMP/rsyslog.out"
kill "$(cat "$TMP/rs.pid" 2>/dev/null || echo 0)" 2>/dev/null

# sentineld: in_syslog -> parser -> out_file (JSON).
sp=$(free_port)
cat >"$TMP/s.yaml" <<EOC
daemon: { state_dir: $TMP/state }
http: { enabled: false }
inputs:
  - { name: bench, plugin: in_syslog, parser: $PARSER, listen: [ "tcp://127.0.0.1:$sp" ] }
outputs:
  - { name: o, plugin: out_file, path: $TMP/sentineld.out }
EOC
"$SENTINELD" run -c "$TMP/s.yaml" >"$TMP/s.out" 2>"$TMP/s.log" &
SPID=$!
PIDS="$PIDS $SPID"
wait_port "$sp"
run sentineld "$sp" "$TMP/sentineld.out"
kill -TERM "$SPID"
wait "$SPID"

python3 -c "
r = float(open('$TMP/rsyslog.rate').read().split(':')[-2].split()[0])
s = float(open('$TMP/sentineld.rate').read().split(':')[-2].split()[0])
print('ratio sentineld/rsyslog: %.2f  (%s framing, %d connection(s), parser %s, %d CPUs)' % (s / r, '$FRAMING', $CONNS, '$PARSER', __import__('os').cpu_count()))"
