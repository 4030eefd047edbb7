#!/bin/sh
# Syslog slowloris (issue #14). With in_syslog's defaults (max_connections
# 1024, idle_timeout 10m), 1,100 connections that never send a byte no
# longer lock senders out: at the cap a new connection replaces the
# longest silent one, so `logger --tcp` still gets through, and /metrics
# counts the evictions. A sender that starts a message and trickles one
# byte a second without ever ending it is closed after frame_timeout,
# however often its bytes arrive, with a log line naming the peer and
# the stream offset where the message began, and a counter.
. "$SRCDIR/tests/integration/lib.sh"
command -v logger >/dev/null || skip_all "no logger"
ulimit -n 4096 2>/dev/null || skip_all "cannot raise the descriptor limit"
tap_plan 10

hp=$(free_port)
pt=$(free_port)
pf=$(free_port)
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$hp" }
inputs:
  - { name: sys, plugin: in_syslog, listen: [ "tcp://127.0.0.1:$pt" ] }
  - { name: slow, plugin: in_syslog, listen: [ "tcp://127.0.0.1:$pf" ], frame_timeout: 3s }
outputs:
  - { name: o, plugin: out_file, path: $TMP/out.json }
EOC
metric() { plugin_metric "$hp" "$1" "$2"; }
start_daemon "$TMP/c.yaml" "$TMP/log"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null

# 1,100 silent connections, held open by a helper until told to stop.
python3 - "$pt" "$TMP/held" <<'EOP' &
import socket, sys, time, os
port, flag = int(sys.argv[1]), sys.argv[2]
socks = []
for i in range(1100):
    s = socket.socket()
    s.connect(("127.0.0.1", port))
    socks.append(s)
open(flag, "w").write("%d\n" % len(socks))
while os.path.exists(flag):
    time.sleep(0.2)
EOP
HPID=$!
PIDS="$PIDS $HPID"
wait_for 60 test -s "$TMP/held"
check "1,100 silent connections are open" test "$(cat "$TMP/held")" -eq 1100
# They all came within 2 s: none idle long enough to give way.
wait_until 10 'test "$(metric connections_rejected_total sys)" -ge 76'
check "past max_connections, fresh connections are refused, none churned ($(metric connections_rejected_total sys))" \
    test "$(metric connections_rejected_total sys)" -ge 76 -a "$(metric connections_evicted_total sys)" -eq 0
# Now the silent ones have been idle for the eviction's 2 s minimum.
sleep 3
logger --server 127.0.0.1 --port "$pt" --tcp --rfc5424 -t app "legit-sender-1"
wait_until 10 'grep -q legit-sender-1 "$TMP/out.json"'
check "a real sender (logger --tcp) still gets through" grep -q legit-sender-1 "$TMP/out.json"
check "by replacing the longest idle connection ($(metric connections_evicted_total sys) evicted)" \
    test "$(metric connections_evicted_total sys)" -ge 1
check "the eviction is logged with the peer" \
    grep -q "max_connections (1024) reached: closing the tcp connection from 127.0.0.1:[0-9]*, idle for" "$TMP/log"
check "and the daemon still answers /health" curl -sf "http://127.0.0.1:$hp/health" -o /dev/null
rm -f "$TMP/held"
wait "$HPID" 2>/dev/null

# A message begun and never finished, one byte a second.
python3 - "$pf" >"$TMP/trickle.out" <<'EOP'
import socket, sys, time
s = socket.socket()
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"<13>Dec  6 10:00:00 h app: complete\n")
t0 = time.time()
try:
    for b in b"<13>Dec  6 10:00:01 h app: never ends " * 10:
        s.sendall(bytes([b]))
        time.sleep(0.5)
        if time.time() - t0 > 20:
            break
    print("not closed")
except OSError:
    print("closed after %.1f s" % (time.time() - t0))
EOP
check "the trickling sender is closed after frame_timeout ($(cat "$TMP/trickle.out"))" \
    python3 -c "
t = open('$TMP/trickle.out').read().split()
assert t[0] == 'closed' and 2.5 <= float(t[2]) <= 8, t"
check "its log line names the peer and the offset where the message began" \
    grep -q "closing tcp connection from 127.0.0.1:[0-9]*: the message begun at stream offset 36 was not finished within frame_timeout (3000 ms)" "$TMP/log"
check "frame_timeouts_total counts it" test "$(metric frame_timeouts_total slow)" = 1
check "the complete message before it was delivered" grep -q '"msg":"complete"' "$TMP/out.json"
stop_daemon
tap_done
