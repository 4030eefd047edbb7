#!/bin/bash
# Readiness for systemd (Type=notify): with NOTIFY_SOCKET set, the daemon
# sends READY=1 only once its inputs listen and the API answers (checked
# the moment READY=1 arrives), RELOADING=1 then READY=1 around a SIGHUP
# reload, and STOPPING=1 on SIGTERM. The socket is a real AF_UNIX datagram
# socket, as systemd's; an abstract one ('@name') too.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 7

p_sys=$(free_port)
p_http=$(free_port)
mkdir -p "$TMP/state"
export SENTINELD_STATE_DIR="$TMP/state" SENTINELD_SYSLOG_PORT=$p_sys \
    SENTINELD_HTTP_LISTEN="127.0.0.1:$p_http" SENTINELD_RULES="$SRCDIR/conf/rules"

# listen.py SOCKET: print each datagram's lines as they come; on READY=1
# probe the syslog port and /health at once and print the result.
cat >"$TMP/listen.py" <<PYEOF
import socket, sys, urllib.request
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + path[1:] if path.startswith("@") else path)
s.settimeout(60)
out = open(sys.argv[2], "a", buffering=1)
while True:
    msg = s.recv(4096).decode()
    for line in msg.split("\n"):
        out.write(line + "\n")
    if "READY=1" in msg and "probed" not in globals():
        probed = True
        try:
            socket.create_connection(("127.0.0.1", $p_sys), 1).close()
            urllib.request.urlopen("http://127.0.0.1:$p_http/health", timeout=2)
            out.write("PROBE=ok\n")
        except Exception as e:
            out.write("PROBE=failed %s\n" % e)
    if "STOPPING=1" in msg:
        break
PYEOF

for sock in "$TMP/notify.sock" "@sentineld-test-$$"; do
    : >"$TMP/msgs"
    python3 "$TMP/listen.py" "$sock" "$TMP/msgs" &
    LPID=$!
    PIDS="$PIDS $LPID"
    # Bound (a path socket exists; an abstract one is in /proc/net/unix).
    wait_for 10 sh -c "test -S '$sock' || grep -q ' $sock\$' /proc/net/unix"
    NOTIFY_SOCKET=$sock "$SENTINELD" run -c "$SRCDIR/conf/sentineld.yaml" \
        >"$TMP/d.out" 2>"$TMP/d.log" &
    DPID=$!
    PIDS="$PIDS $DPID"
    if [ "$sock" = "$TMP/notify.sock" ]; then
        check "READY=1 arrives" wait_for 30 grep -qx READY=1 "$TMP/msgs"
        check "and the syslog port and /health answer at that moment" \
            wait_for 5 grep -qx PROBE=ok "$TMP/msgs"
        kill -HUP "$DPID"
        check "SIGHUP: RELOADING=1, then READY=1 again" \
            wait_until 20 '[ "$(grep -cx READY=1 "$TMP/msgs")" -ge 2 ] && grep -qx RELOADING=1 "$TMP/msgs"'
        check "in that order" sh -c "grep -x 'RELOADING=1\|READY=1' '$TMP/msgs' | head -3 | tr '\n' ' ' | grep -q '^READY=1 RELOADING=1 READY=1'"
        kill -TERM "$DPID"
        wait "$DPID"
        rc=$?
        check "SIGTERM: STOPPING=1 and a clean exit ($rc)" \
            sh -c "test $rc -eq 0 && grep -qx STOPPING=1 '$TMP/msgs'"
    else
        check "an abstract socket (@name) gets READY=1 too" \
            wait_for 30 grep -qx READY=1 "$TMP/msgs"
        kill -TERM "$DPID"
        wait "$DPID"
    fi
    wait "$LPID" 2>/dev/null
done
unset NOTIFY_SOCKET
# A log of its own: waiting on d.log could find the previous daemon's
# "listening" before this one's shell truncated it, and a SIGTERM before
# the daemon's handlers are set ends it with 143.
"$SENTINELD" run -c "$SRCDIR/conf/sentineld.yaml" >"$TMP/d3.out" 2>"$TMP/d3.log" &
DPID=$!
PIDS="$PIDS $DPID"
wait_for 20 grep -q "listening on tcp" "$TMP/d3.log"
stop_daemon
rc=$?
# The log says why when it did not stop cleanly.
[ "$rc" -eq 0 ] || tail -5 "$TMP/d3.log" | sed 's/^/# /'
check "without NOTIFY_SOCKET nothing changes (clean run and stop: $rc)" test "$rc" -eq 0
tap_done
