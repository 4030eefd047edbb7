#!/bin/sh
# TCP back-pressure loses nothing: a small pipeline (batch_pool: 4) whose
# out_file writes into a named pipe read by a deliberately slow reader
# (1 ms per line while a flag file exists, then full speed). 50,000
# octet-counted messages sent over TCP while the reader is slow cannot all
# be taken in: the batch pool runs dry, in_syslog stops reading, and the
# sender blocks in send() until the reader speeds up. Afterwards every
# message has arrived exactly once and in order, and /metrics shows no
# drops. The same 50,000 messages with a fast reader first give the
# unhindered sending time to compare with.
. "$SRCDIR/tests/integration/lib.sh"

command -v python3 >/dev/null || skip_all "python3 not installed"
command -v mkfifo >/dev/null || skip_all "mkfifo not installed"
tap_plan 9
N=50000
SLOW_SECONDS=3
PARSER=raw
"$SENTINELD" plugins parse_auto >/dev/null 2>&1 && PARSER=auto

pt=$(free_port)
hp=$(free_port)
mkfifo "$TMP/fifo"

# A 64 KiB socket receive buffer (the sender's send buffer is as small)
# keeps what the kernel can hold far below N messages, so a stalled
# pipeline reaches the sender within a few hundred kilobytes.
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, workers: 1, batch_pool: 4, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$hp" }
inputs:
  - name: bp
    plugin: in_syslog
    parser: $PARSER
    framing: octet-counting
    threads: 1
    rcvbuf: 64KiB
    listen: [ "tcp://127.0.0.1:$pt" ]
outputs:
  - { name: o, plugin: out_file, path: $TMP/fifo }
EOC

# reader.py FIFO OUT FLAG: copy lines from the pipe to OUT, sleeping 1 ms
# per line while FLAG exists; ends at EOF (the daemon closed the pipe).
cat >"$TMP/reader.py" <<'EOPY'
import os, sys, time
fifo, out, flag = sys.argv[1:4]
n = 0
with open(fifo, 'rb') as f, open(out, 'wb') as o:
    for line in f:
        o.write(line)
        n += 1
        if os.path.exists(flag):
            o.flush()
            time.sleep(0.001)
        elif n % 1000 == 0:
            o.flush()
EOPY

# send.py PORT COUNT PREFIX DONE: COUNT octet-counted messages
# "PREFIX seq NNNNNN" through a 64 KiB send buffer; writes the seconds
# send took to DONE once the last byte is in the kernel.
cat >"$TMP/send.py" <<'EOPY'
import socket, sys, time
port, count, prefix, done = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
frames = []
for i in range(count):
    m = ('<13>1 2024-05-01T10:00:00.000Z host app %d - - %s seq %06d '
         'a message of typical length for a busy sshd host' % (i, prefix, i)).encode()
    frames.append(b'%d %s' % (len(m), m))
data = b''.join(frames)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
s.connect(('127.0.0.1', port))
t0 = time.monotonic()
for i in range(0, len(data), 16384):
    s.sendall(data[i:i + 16384])
s.close()
with open(done, 'w') as f:
    f.write('%.3f\n' % (time.monotonic() - t0))
EOPY

# check.py OUT PREFIX COUNT: "PREFIX seq N" for N = 0..COUNT-1, each once,
# in order.
cat >"$TMP/check.py" <<'EOPY'
import re, sys
out, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
pat = re.compile(re.escape(prefix) + r' seq (\d{6})')
seqs = [int(m.group(1)) for m in map(pat.search, open(out, errors='replace')) if m]
if seqs != list(range(count)):
    bad = next((i for i, (a, b) in enumerate(zip(seqs, range(count))) if a != b), len(seqs))
    sys.exit('%s: %d lines, first wrong at position %d' % (prefix, len(seqs), bad))
EOPY

# metric NAME: the sum of NAME over all its label sets on /metrics.
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

python3 "$TMP/reader.py" "$TMP/fifo" "$TMP/out" "$TMP/slow" &
RPID=$!
PIDS="$PIDS $RPID"
start_daemon "$TMP/c.yaml" "$TMP/log"
check "the daemon starts with a named pipe as its output" \
    wait_for 10 grep -q "listening on tcp://127.0.0.1:$pt" "$TMP/log"

# Unhindered: the reader at full speed.
python3 "$TMP/send.py" "$pt" "$N" FAST "$TMP/fast.done"
wait_until 30 "test \"\$(count_in 'FAST seq')\" -ge \"\$N\""
check "fast reader: $N messages arrive once, in order" \
    python3 "$TMP/check.py" "$TMP/out" FAST "$N"
t_fast=$(cat "$TMP/fast.done")

# Slow: 1 ms per line for SLOW_SECONDS, then full speed.
: >"$TMP/slow"
rm -f "$TMP/slow.done"
python3 "$TMP/send.py" "$pt" "$N" SLOW "$TMP/slow.done" &
SPID=$!
PIDS="$PIDS $SPID"
# Sample the pool gauge while the reader is slow: the connection's share
# of the pool (half of 4 batches; the other half is kept for other
# emitters, src/pipeline/batch.h) must run full, which is what stops the
# input from reading.
max_in_use=0
for i in $(seq "$SLOW_SECONDS"); do
    sleep 1
    v=$(metric sentineld_pipeline_batches_in_use)
    [ "$v" != absent ] && [ "$v" -gt "$max_in_use" ] && max_in_use=$v
done
taken=$(metric sentineld_input_records_total)
arrived_slow=$(count_in 'SLOW seq')
sender_done_early=no
[ -e "$TMP/slow.done" ] && sender_done_early=yes
rm -f "$TMP/slow"
wait "$SPID"
t_slow=$(cat "$TMP/slow.done")
in_flight=$((taken - N - arrived_slow))
diag "sending $N messages took ${t_fast}s with the fast reader, ${t_slow}s" \
    "with the slow one; after ${SLOW_SECONDS}s of slow reading the daemon" \
    "had taken in $((taken - N)), the reader had $arrived_slow," \
    "batches_in_use gauge peaked at $max_in_use"
check "the one connection filled its share of the pool (batches_in_use reached 2 of 4)" \
    test "$max_in_use" -eq 2
check "the sender was still blocked when the reader sped up" \
    test "$sender_done_early" = no
check "sending took seconds longer than with the fast reader" \
    python3 -c "import sys; sys.exit(not $t_slow - $t_fast >= $SLOW_SECONDS - 0.5)"
# 4 batches of at most 1024 records, plus what the pipe and the reader's
# read buffer hold: the daemon took in no more than its pool can carry.
check "records in flight stayed within the pool ($in_flight <= 4 x 1024 + 500)" \
    test "$in_flight" -le 4596
wait_until 30 "test \"\$(count_in 'SLOW seq')\" -ge \"\$N\""
check "slow reader: $N messages arrive once, in order" \
    python3 "$TMP/check.py" "$TMP/out" SLOW "$N"
dropped=$(metric sentineld_input_dropped_total)
check "no input dropped a record (sentineld_input_dropped_total = 0)" \
    test "$dropped" = 0
stop_daemon
check "SIGTERM stops the daemon with exit 0" test $? -eq 0
wait "$RPID"
tap_done
