#!/bin/sh
# Fairness: one flooding TCP connection cannot starve UDP or another
# connection of the same input. The pipeline is made the bottleneck (a
# batch_pool of 16 and an out_file writing into a named pipe whose reader
# pauses 1 ms every 20 lines while a flag file exists), and a TCP sender
# floods it, so the flooder waits for batches. Meanwhile a UDP sender (its
# input drops when no batch is free) and a second TCP connection (served
# by another connection loop) send 30 messages each, spread over the slow
# period. The pool's reserve (src/pipeline/batch.h: a blocking emitter
# holding batches cannot take the last half) must let every one of them
# through: counted delivered in the output, no drops on /metrics, and the
# flood itself complete and in order. Without the reserve the flood holds
# every batch and nearly all UDP messages are dropped.
. "$SRCDIR/tests/integration/lib.sh"

tap_plan 7
N=100000
M=30
SLOW_SECONDS=3

pt=$(free_port)
pu=$(free_port)
hp=$(free_port)
mkfifo "$TMP/fifo"

cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, workers: 1, batch_pool: 16, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$hp" }
inputs:
  - name: fair
    plugin: in_syslog
    parser: raw
    framing: octet-counting
    threads: 2
    rcvbuf: 64KiB
    listen: [ "tcp://127.0.0.1:$pt", "udp://127.0.0.1:$pu" ]
outputs:
  - { name: o, plugin: out_file, path: $TMP/fifo }
EOC

cat >"$TMP/reader.py" <<'EOPY'
import os, sys, time
fifo, out, flag = sys.argv[1:4]
n = 0
with open(fifo, 'rb') as f, open(out, 'wb') as o:
    for line in f:
        o.write(line)
        n += 1
        if n % 20 == 0 and os.path.exists(flag):
            time.sleep(0.001)
EOPY

# send.py tcp|udp PORT COUNT PREFIX GAP_S: COUNT messages "PREFIX seq N",
# octet-counted over TCP; GAP_S seconds between messages (0: as one
# stream through a 64 KiB send buffer).
cat >"$TMP/send.py" <<'EOPY'
import socket, sys, time
kind, port, count, prefix, gap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
msgs = [('<13>1 2024-05-01T10:00:00.000Z host app - - - %s seq %06d '
         'a message of typical length for a busy sshd host' % (prefix, i)).encode()
        for i in range(count)]
if kind == 'udp':
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for m in msgs:
        s.sendto(m, ('127.0.0.1', port))
        time.sleep(gap)
    sys.exit(0)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
s.connect(('127.0.0.1', port))
frames = [b'%d %s' % (len(m), m) for m in msgs]
if gap > 0:
    for f in frames:
        s.sendall(f)
        time.sleep(gap)
else:
    data = b''.join(frames)
    for i in range(0, len(data), 16384):
        s.sendall(data[i:i + 16384])
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

metric() {
    python3 - "$hp" "$1" <<'EOPY'
import sys, urllib.request
body = urllib.request.urlopen('http://127.0.0.1:%s/metrics' % sys.argv[1], timeout=5).read().decode()
vals = [float(l.split()[-1]) for l in body.splitlines()
        if l.split('{')[0].split(' ')[0] == sys.argv[2]]
print(int(sum(vals)) if vals else 'absent')
EOPY
}
count_in() { grep -c "$1" "$TMP/out" 2>/dev/null || true; }
# metric_ge NAME N: for wait_for (re-reads the metric on every poll).
metric_ge() { v=$(metric "$1"); [ "$v" != absent ] && [ "$v" -ge "$2" ]; }

: >"$TMP/slow"
python3 "$TMP/reader.py" "$TMP/fifo" "$TMP/out" "$TMP/slow" &
RPID=$!
PIDS="$PIDS $RPID"
start_daemon "$TMP/c.yaml" "$TMP/log"
check "the daemon listens on TCP and UDP" \
    wait_for 10 grep -q "listening on udp://127.0.0.1:$pu" "$TMP/log"

python3 "$TMP/send.py" tcp "$pt" "$N" FLOOD 0 &
FPID=$!
PIDS="$PIDS $FPID"
# Let the flood take its share of the pool before the others start.
# Its share is half the pool (8 of 16); a batch in hand-over between the
# emitter and the worker can make the gauge read one or two less.
wait_for 20 metric_ge sentineld_pipeline_batches_in_use 8
full=$(metric sentineld_pipeline_batches_in_use)
gap=$(python3 -c "print(($SLOW_SECONDS - 0.5) / $M)")
python3 "$TMP/send.py" udp "$pu" "$M" UDP "$gap" &
UPID=$!
python3 "$TMP/send.py" tcp "$pt" "$M" OTHER "$gap" &
OPID=$!
PIDS="$PIDS $UPID $OPID"
wait "$UPID"
wait "$OPID"
flood_done=yes
kill -0 "$FPID" 2>/dev/null && flood_done=no
in_use=$(metric sentineld_pipeline_batches_in_use)
rm -f "$TMP/slow"
diag "pool gauge when the others started: $full of 16, when they" \
    "finished: $in_use; flood still sending then: $([ $flood_done = no ] && echo yes || echo no)"
check "the flood had taken its share of the pool (batches_in_use >= 6 of 16)" \
    test "$full" -ge 6
check "the flooding sender was still blocked after the others finished" \
    test "$flood_done" = no
wait "$FPID"
wait_for 60 metric_ge sentineld_output_events_total $((N + 2 * M))
dropped=$(metric sentineld_input_dropped_total)
stop_daemon
wait "$RPID"
diag "delivered: FLOOD $(count_in 'FLOOD seq')/$N, UDP $(count_in 'UDP seq')/$M," \
    "OTHER $(count_in 'OTHER seq')/$M; dropped $dropped"
check "every UDP message sent during the flood was delivered ($M)" \
    python3 "$TMP/check.py" "$TMP/out" UDP "$M"
check "the second TCP connection's $M messages arrived, in order" \
    python3 "$TMP/check.py" "$TMP/out" OTHER "$M"
check "the flood's $N messages arrived once, in order" \
    python3 "$TMP/check.py" "$TMP/out" FLOOD "$N"
check "no record was dropped (sentineld_input_dropped_total = $dropped)" \
    test "$dropped" = 0
tap_done
