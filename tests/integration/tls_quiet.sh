#!/bin/sh
# TLS bursts that end quietly: the senders below push many small TLS
# records over one connection, faster than one loop turn reads (a turn
# stops after 16 x 64 KiB), then go quiet with the connection still open.
# Every message must arrive without any further traffic: decrypted or
# read-ahead bytes that OpenSSL holds raise no socket event, so a loop
# that stopped at its cap and did not look at SSL_has_pending would sit
# on them (and on its partial batch) until the sender's next message.
#   0. python ssl, 10,488 records of one 100-byte message: one read cap
#      (1 MiB) and a little more, all in the kernel's buffer
#      (the daemon is SIGSTOPped while it is sent; rcvbuf 4 MiB);
#   1. python ssl, one record per message (60,000 LF-framed records);
#   2. python ssl, records of random 1..300 bytes cutting messages at any
#      byte (octet-counted), so frames straddle records and reads;
#   3. openssl s_client fed a file then kept open by a sleeping writer.
. "$SRCDIR/tests/integration/lib.sh"

command -v openssl >/dev/null || skip_all "openssl not installed"
tap_plan 6
N=60000

make_certs client.test || {
    cat "$TMP/openssl.log"
    exit 1
}
pt=$(free_port)
hp=$(free_port)
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, workers: 2 }
http: { listen: "127.0.0.1:$hp" }
inputs:
  - name: tls
    plugin: in_syslog
    parser: raw
    threads: 1
    rcvbuf: 4MiB
    listen: [ "tls://127.0.0.1:$pt" ]
    tls_cert: $TMP/server.pem
    tls_key: $TMP/server.key
outputs:
  - { name: o, plugin: out_file, path: $TMP/out.json }
EOC

# send.py PORT COUNT PREFIX per-message|random HOLD_FLAG: COUNT messages,
# then stay connected (sending nothing) while HOLD_FLAG exists.
cat >"$TMP/send.py" <<'EOPY'
import os, random, socket, ssl, sys, time
port, count, prefix, mode, hold = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port)))
open(hold + '.connected', 'w').close()  # handshake done
t_go = time.monotonic() + 10
while not os.path.exists(hold + '.go') and time.monotonic() < t_go:
    time.sleep(0.01)
msgs = [('<13>1 2024-05-01T10:00:00Z h app - - - %s seq %06d' % (prefix, i)).encode()
        for i in range(count)]
if mode == 'exact':
    # 100-byte LF-framed messages, one record each: the read cap
    # (16 x 64 KiB) ends inside message 10486; COUNT = 10488.
    for m in msgs:
        s.sendall(m.ljust(99, b'x') + b'\n')
elif mode == 'per-message':
    for m in msgs:
        s.sendall(m + b'\n')  # one TLS record each
else:
    data = b''.join(b'%d %s' % (len(m), m) for m in msgs)
    rnd = random.Random(7)
    i = 0
    while i < len(data):
        k = rnd.randint(1, 300)
        s.sendall(data[i:i + k])
        i += k
open(hold + '.sent', 'w').close()
deadline = time.monotonic() + 60
while os.path.exists(hold) and time.monotonic() < deadline:
    time.sleep(0.05)
s.close()
EOPY

cat >"$TMP/check.py" <<'EOPY'
import re, sys
out, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
pat = re.compile(re.escape(prefix) + r' seq (\d{6})')
seqs = [int(m.group(1)) for m in map(pat.search, open(out, errors='replace')) if m]
if seqs != list(range(count)):
    bad = next((i for i, (a, b) in enumerate(zip(seqs, range(count))) if a != b), len(seqs))
    sys.exit('%s: %d lines, first wrong at position %d' % (prefix, len(seqs), bad))
EOPY
count_in() { grep -c "$1 seq" "$TMP/out.json" 2>/dev/null || true; }
# arrived PREFIX COUNT: for wait_for (re-counts on every poll).
arrived() { [ "$(count_in "$1")" -ge "$2" ]; }

start_daemon "$TMP/c.yaml" "$TMP/log"
check "sentineld listens on TLS" \
    wait_for 10 grep -q "listening on tls://127.0.0.1:$pt" "$TMP/log"

# burst SENT_FILE: keep the daemon stopped (SIGSTOP) while the sender
# writes, so the kernel and OpenSSL hold megabytes when it resumes: its
# loop then stops at the read cap turn after turn, the case that stalled.
# HOLD: the sender's flag file (HOLD.connected: handshake done, HOLD.go:
# send now, HOLD.sent: all written).
burst() {
    wait_for 10 test -e "$1.connected"
    kill -STOP "$DPID"
    : >"$1.go"
    wait_for 10 test -e "$1.sent"
    sleep 0.2
    diag "held while stopped: $(ss -Htn state established "( sport = :$pt )" | awk '{q += $1} END {print q + 0}') bytes in the daemon's receive queue"
    kill -CONT "$DPID"
}

# run_quiet PREFIX MODE: send, then wait (the sender quiet and connected)
# for every message; the sender must still be connected at the end.
run_quiet() {
    n=${3:-$N}
    : >"$TMP/hold.$1"
    python3 "$TMP/send.py" "$pt" "$n" "$1" "$2" "$TMP/hold.$1" \
        2>"$TMP/send.$1.err" &
    spid=$!
    PIDS="$PIDS $spid"
    burst "$TMP/hold.$1"
    wait_for 30 arrived "$1" "$n"
    still=no
    kill -0 "$spid" 2>/dev/null && still=yes
    rm -f "$TMP/hold.$1"
    wait "$spid"
    diag "$1: $(count_in "$1") of $n arrived while the sender was quiet and" \
        "connected (still connected at the end: $still)"
    [ "$still" = yes ] && python3 "$TMP/check.py" "$TMP/out.json" "$1" "$n"
}
# The exact case: after the first turn's 1 MiB (the cap) the socket is
# empty and OpenSSL holds the last two messages (read ahead, and the rest
# of a record cut by the full buffer).
check "1 MiB + 2 messages in 100-byte records: those past the read cap arrive too" \
    run_quiet EXACT exact 10488
check "one record per message: all $N arrive, in order, before the quiet sender closes" \
    run_quiet PERREC per-message
check "random 1..300-byte records: all $N arrive, in order, before the quiet sender closes" \
    run_quiet RANDREC random

# openssl s_client writes what it reads from stdin as TLS records; the
# subshell keeps its stdin open (and the connection quiet) after the file.
python3 -c "
import sys
for i in range($N):
    m = b'<13>1 2024-05-01T10:00:00Z h app - - - SCLIENT seq %06d' % i
    sys.stdout.buffer.write(b'%d %s' % (len(m), m))
" >"$TMP/sclient.in"
: >"$TMP/hold.sclient"
(
    sleep 1
    cat "$TMP/sclient.in"
    : >"$TMP/hold.sclient.sent"
    while [ -e "$TMP/hold.sclient" ]; do sleep 0.1; done
) | openssl s_client -quiet -no_ign_eof -connect "127.0.0.1:$pt" >/dev/null 2>"$TMP/sclient.err" &
cpid=$!
PIDS="$PIDS $cpid"
sleep 0.5 # connected, not yet sending (the handshake takes milliseconds)
kill -STOP "$DPID"
wait_for 10 test -e "$TMP/hold.sclient.sent"
kill -CONT "$DPID"
wait_for 30 arrived SCLIENT "$N"
still=no
kill -0 "$cpid" 2>/dev/null && still=yes
rm -f "$TMP/hold.sclient"
diag "s_client: $(count_in SCLIENT) of $N arrived while quiet; connected: $still"
check "openssl s_client: all $N arrive, in order, while the connection is quiet" \
    sh -c "[ $still = yes ] && python3 '$TMP/check.py' '$TMP/out.json' SCLIENT $N"
kill "$cpid" 2>/dev/null
wait "$cpid" 2>/dev/null
stop_daemon
check "SIGTERM stops the daemon with exit 0" test $? -eq 0
grep -i "tls" "$TMP/log" | head -5 | sed 's/^/# /'
tap_done
