#!/bin/sh
# The daemon's own stall never closes a sender. A connection with a
# message begun and unfinished, then the daemon stopped (SIGSTOP: a
# paused VM, a machine swapping, a loop blocked on a full pipeline) for
# longer than frame_timeout and idle_timeout while the sender finishes
# the message and sends another: when the daemon runs again, its timer
# and the sender's bytes are due together, and the bytes win. Nothing is
# closed, nothing counted as a timeout, every message arrives, and the
# connection keeps working. A sender that really stops is still closed.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 6

hp=$(free_port)
pt=$(free_port)
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$hp" }
inputs:
  - { name: sys, plugin: in_syslog, listen: [ "tcp://127.0.0.1:$pt" ], frame_timeout: 1s, idle_timeout: 2s }
outputs:
  - { name: o, plugin: out_file, path: $TMP/out.json }
EOC
metric() { plugin_metric "$hp" "$1" "$2"; }
start_daemon "$TMP/c.yaml" "$TMP/log"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null

# The sender: one whole message and half of the next; then, with the
# daemon stopped, the rest and a third; after the daemon runs again, a
# fourth on the same connection. It reports whether the connection was
# closed under it.
python3 - "$pt" "$TMP" <<'EOP' >"$TMP/sender.out" &
import os, socket, sys, time
port, tmp = int(sys.argv[1]), sys.argv[2]
def wait_file(name):
    while not os.path.exists(os.path.join(tmp, name)):
        time.sleep(0.05)
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"<13>1 2026-12-06T10:00:00Z h app - - - stall-one\n"
          b"<13>1 2026-12-06T10:00:01Z h app - - - stall-t")
open(os.path.join(tmp, "half-sent"), "w").close()
wait_file("stopped")
s.sendall(b"wo\n<13>1 2026-12-06T10:00:02Z h app - - - stall-three\n")
wait_file("continued")
time.sleep(0.3)
try:
    s.sendall(b"<13>1 2026-12-06T10:00:03Z h app - - - stall-four\n")
    s.settimeout(1.0)
    try:
        print("closed" if s.recv(1) == b"" else "data")
    except socket.timeout:
        print("open")
except OSError as e:
    print("closed: %s" % e)
EOP
SENDER=$!
PIDS="$PIDS $SENDER"
wait_for 10 test -e "$TMP/half-sent"
wait_until 10 'grep -q stall-one "$TMP/out.json"'
sleep 0.3 # the half message has been read: its frame timer runs
kill -STOP "$DPID"
touch "$TMP/stopped"
sleep 3 # past frame_timeout (1 s) and idle_timeout (2 s)
kill -CONT "$DPID"
touch "$TMP/continued"
wait "$SENDER"
wait_until 10 'grep -q stall-four "$TMP/out.json"'
check "the message finished while the daemon was stopped arrives" grep -q '"msg":"stall-two"' "$TMP/out.json"
check "so do the one after it and one sent after the daemon ran again" \
    sh -c "grep -q '\"msg\":\"stall-three\"' '$TMP/out.json' && grep -q '\"msg\":\"stall-four\"' '$TMP/out.json'"
check "the sender's connection stayed open ($(cat "$TMP/sender.out"))" test "$(cat "$TMP/sender.out")" = open
check "no timeout was counted" \
    test "$(metric frame_timeouts_total sys)" = 0 -a "$(metric idle_timeouts_total sys)" = 0

# A sender that begins a message and goes quiet is still closed.
python3 - "$pt" >"$TMP/quiet.out" <<'EOP'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"<13>1 2026-12-06T10:00:04Z h app - - - never-")
t0 = time.time()
s.settimeout(10)
try:
    r = s.recv(1)
except OSError:
    r = b""
print("closed after %.1f s" % (time.time() - t0) if r == b"" else "data")
EOP
check "a sender that stops mid-message is closed after frame_timeout ($(cat "$TMP/quiet.out"))" \
    python3 -c "
t = open('$TMP/quiet.out').read().split()
assert t[0] == 'closed' and 0.8 <= float(t[2]) <= 5, t"
check "and counted" test "$(metric frame_timeouts_total sys)" = 1
stop_daemon
tap_done
