#!/bin/sh
# RELP with the journal on (docs/journal.md, "Writing: group commit"): a
# RELP client (Python, speaking relp.md as omrelp does: open offers, a
# window of 256 pipelined syslog commands) sends N messages to
# relp://; every answer comes back in order as "200 OK", the journal
# needs far fewer fdatasyncs than messages (librelp answered each frame
# on its own: one fdatasync per message), and every acknowledged message
# survives a kill -9 sent the moment the last answer arrived. Protocol
# edges on live sessions: "close" is answered then the server closes, a
# command with the wrong transaction number ends the session unanswered,
# a syslog command before "open" is refused, a session silent for
# idle_timeout gets the "serverclose" hint before it is closed.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 8
N=${RELP_GC_N:-3000}
p_relp=$(free_port)
hp=$(free_port)
mkdir -p "$TMP/state"
cat >"$TMP/s.yaml" <<EOC
daemon: { state_dir: $TMP/state, journal: { enabled: true, fsync_interval: 0 } }
http: { listen: "127.0.0.1:$hp" }
inputs: [ { name: relp, plugin: in_syslog, listen: [ "relp://127.0.0.1:$p_relp" ], idle_timeout: 2s } ]
outputs: [ { name: o, plugin: out_file, path: $TMP/out.json } ]
EOC
start_daemon "$TMP/s.yaml" "$TMP/s.log"
wait_for 20 grep -q "listening on relp://" "$TMP/s.log"

cat >"$TMP/client.py" <<'EOPY'
import re, socket, sys
port, mode = int(sys.argv[1]), sys.argv[2]
OFFER = b'relp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog'

def frame(txnr, cmd, data=b''):
    return b'%d %s %d%s\n' % (txnr, cmd, len(data), b' ' + data if data else b'')

class Conn:
    def __init__(self):
        self.s = socket.create_connection(('127.0.0.1', port))
        self.s.settimeout(30)
        self.buf = b''
    def answer(self):
        """One server frame as (txnr, command, data), or None at EOF."""
        while True:
            m = re.match(rb'(\d+) ([a-zA-Z]+) (\d+)', self.buf)
            if m and len(self.buf) > m.end():
                n = int(m.group(3))
                start = m.end() + (1 if n else 0)
                need = start + n + 1
                if len(self.buf) >= need:
                    assert self.buf[need - 1:need] == b'\n', self.buf[:need]
                    data = self.buf[start:start + n]
                    self.buf = self.buf[need:]
                    return int(m.group(1)), m.group(2), data
            d = self.s.recv(65536)
            if not d:
                return None
            self.buf += d
    def open(self):
        self.s.sendall(frame(1, b'open', OFFER))
        t, c, d = self.answer()
        assert (t, c) == (1, b'rsp') and d.startswith(b'200 OK\n'), d
        assert b'commands=syslog' in d and b'relp_version=0' in d, d

if mode == 'stream':
    n = int(sys.argv[3])
    c = Conn()
    c.open()
    sent, acked, window = 0, 0, 256
    while acked < n:
        burst = []
        while sent < n and sent - acked < window:
            burst.append(frame(sent + 2, b'syslog',
                               b'<38>May  1 10:00:00 gen app: gcseq %06d payload' % sent))
            sent += 1
        if burst:
            c.s.sendall(b''.join(burst))
        t, cmd, d = c.answer()
        assert (t, cmd, d) == (acked + 2, b'rsp', b'200 OK'), (t, cmd, d, acked)
        acked += 1
    print('acked %d' % acked)
elif mode == 'edges':
    c = Conn()
    c.open()
    c.s.sendall(frame(2, b'syslog', b'<38>May  1 10:00:00 gen app: edge one') + frame(3, b'close'))
    assert c.answer() == (2, b'rsp', b'200 OK')
    t, cmd, d = c.answer()
    assert (t, cmd) == (3, b'rsp') and d.startswith(b'200'), (t, cmd, d)
    assert c.answer() is None, 'server did not close after close'
    print('close answered, then closed')
    c = Conn()
    c.open()
    c.s.sendall(frame(5, b'syslog', b'<38>May  1 10:00:00 gen app: edge bad txnr'))
    assert c.answer() is None, 'wrong txnr not refused'
    print('wrong transaction number: closed unanswered')
    c = Conn()
    c.s.sendall(frame(1, b'syslog', b'<38>May  1 10:00:00 gen app: edge no open'))
    t, cmd, d = c.answer()
    assert (t, cmd) == (1, b'rsp') and d.startswith(b'500'), (t, cmd, d)
    print('syslog before open: %s' % d.decode())
elif mode == 'idle':
    c = Conn()
    c.open()
    t, cmd, d = c.answer()
    assert (t, cmd) == (0, b'serverclose'), (t, cmd, d)
    assert c.answer() is None, 'not closed after serverclose'
    print('idle session: serverclose, then closed')
EOPY

metric() { awk -v m="$1" 'index($1, m) == 1 { v += $2 } END { print v + 0 }' "$2"; }
timeout 60 python3 "$TMP/client.py" "$p_relp" stream "$N" >"$TMP/stream.out" 2>&1
rc=$?
sed 's/^/# /' "$TMP/stream.out"
check "$N pipelined syslog commands each answered 200 OK, in order" \
    test "$rc" -eq 0
curl -sf "http://127.0.0.1:$hp/metrics" >"$TMP/m1"
kill -9 "$DPID"
wait "$DPID" 2>/dev/null
fs=$(metric sentineld_journal_fsync_microseconds_count "$TMP/m1")
acked=$(metric sentineld_plugin_relp_messages_total "$TMP/m1")
diag "acknowledged $acked, journal fdatasyncs $fs"
# With a window of 256 a commit answers tens of messages at once; one
# fdatasync per message (librelp) gives fs >= N.
check "group commit: fewer than one fdatasync per 8 acknowledged messages" \
    test "$acked" -ge "$N" -a "$fs" -ge 1 -a "$((fs * 8))" -le "$acked"

start_daemon "$TMP/s.yaml" "$TMP/s2.log"
wait_for 20 grep -q "listening on relp://" "$TMP/s2.log"
distinct() { grep -o 'gcseq [0-9]*' "$TMP/out.json" 2>/dev/null | sort -u | wc -l; }
wait_until 60 '[ "$(distinct)" -ge "$N" ]'
check "every acknowledged message is in out_file after kill -9 and restart" \
    test "$(distinct)" -eq "$N"

python3 "$TMP/client.py" "$p_relp" edges >"$TMP/edges.out" 2>&1
rc=$?
sed 's/^/# /' "$TMP/edges.out"
check "close is answered, then the server closes the session" \
    grep -q "close answered, then closed" "$TMP/edges.out"
check "a wrong transaction number ends the session unanswered" \
    grep -q "wrong transaction number: closed unanswered" "$TMP/edges.out"
check "syslog before open is refused with 500" test "$rc" -eq 0
check "a session idle for idle_timeout gets serverclose, then is closed" \
    timeout 30 python3 "$TMP/client.py" "$p_relp" idle
curl -sf "http://127.0.0.1:$hp/metrics" >"$TMP/m2"
check "/metrics: the refused session and the bad frame are RELP errors" \
    test "$(metric sentineld_plugin_relp_errors_total "$TMP/m2")" -ge 2
stop_daemon
tap_done
