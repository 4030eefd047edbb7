#!/bin/sh
# #14 robustness: hostile clients against the real daemon started with
# `ulimit -n 256`: slow-loris headers, slow bodies, a connection flood, WebSocket
# ping floods that never read and descriptor exhaustion through the syslog
# TCP input, while /health must answer every probe (one every 50 ms, a new
# connection each) in under 100 ms, peak RSS stays bounded and the log
# does not explode. The clients are tests/integration/hostile_clients.py.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 13

hp=$(free_port)
sp=$(free_port)
mkdir -p "$TMP/state"
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$hp", web_root: "$SRCDIR/web", header_timeout: 2s, body_timeout: 3s, rate_limit: 100000 }
inputs:
  - { name: syslog, plugin: in_syslog, listen: [ "tcp://127.0.0.1:$sp" ], max_connections: 5000 }
  - { name: api, plugin: in_http }
outputs:
  - { name: o, plugin: out_null }
EOC
O=$("$SENTINELD" token create --name op --role operator -c "$TMP/c.yaml" 2>/dev/null)
(ulimit -n 256 && exec "$SENTINELD" run -c "$TMP/c.yaml" >"$TMP/log.out" 2>"$TMP/log") &
DPID=$!
PIDS="$PIDS $DPID"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null
check "the daemon runs with 256 descriptors" \
    grep -q 'Max open files *256 ' "/proc/$DPID/limits"
SN_SANITIZED=$(grep -q -- '-fsanitize' "$BUILDDIR/Makefile" && echo 1 || true)
export SN_SANITIZED
python3 "$SRCDIR/tests/integration/hostile_clients.py" "$hp" "$sp" "$DPID" \
    "$O" "$TMP/log" | sed 's/^\(not \)\{0,1\}ok \([0-9]*\)/\1ok _/' >"$TMP/tap"
while IFS= read -r l; do
    case "$l" in
    "ok _"*) ok "${l#ok _ - }" ;;
    "not ok _"*) not_ok "${l#not ok _ - }" ;;
    *) echo "# $l" ;;
    esac
done <"$TMP/tap"
diag "accept log lines: $(grep -c 'http: accept' "$TMP/log")"
check "the daemon is still up and stops cleanly" stop_daemon
tap_done
