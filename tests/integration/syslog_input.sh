#!/bin/sh
# in_syslog end to end with the real binary: logger over UDP, TCP and a
# unix socket; 10,000-message octet-counted and LF streams cut at odd
# chunk sizes arrive once and in order with their stream offsets; a
# malformed frame mid-stream is logged with its offset and counted while
# the messages around it survive; TLS with and without client
# certificates; bad listen URLs and a busy port are reported with the
# URL; SIGTERM exits 0.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 22

command -v python3 >/dev/null || skip_all "python3 not installed"
# The test must not depend on parsers that may be absent: parse_auto
# when this build has it, else raw (the whole record is the message).
PARSER=raw
"$SENTINELD" plugins parse_auto >/dev/null 2>&1 && PARSER=auto
diag "parser: $PARSER"

pu=$(free_port)
pt=$(free_port)
po=$(free_port)
ps=$(free_port)
pm=$(free_port)
hp=$(free_port)

# Certificates: a CA, a server certificate for 127.0.0.1 / sentineld.test
# and a client certificate for client.test, all signed by the CA.
have_openssl=no
make_certs client.test && have_openssl=yes
[ "$have_openssl" = yes ] || diag "openssl failed: $(cat "$TMP/openssl.log")"

cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, workers: 2, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$hp" }
inputs:
  - name: sys
    plugin: in_syslog
    parser: $PARSER
    threads: 2
    listen:
      - udp://127.0.0.1:$pu
      - tcp://127.0.0.1:$pt
      - unix://$TMP/log.sock
  - name: oc
    plugin: in_syslog
    parser: $PARSER
    framing: octet-counting
    listen: [ "tcp://127.0.0.1:$po" ]
  - name: tls
    plugin: in_syslog
    parser: $PARSER
    listen: [ "tls://127.0.0.1:$ps" ]
    tls_cert: $TMP/server.pem
    tls_key: $TMP/server.key
  - name: mtls
    plugin: in_syslog
    parser: $PARSER
    listen: [ "tls://127.0.0.1:$pm" ]
    tls_cert: $TMP/server.pem
    tls_key: $TMP/server.key
    tls_ca: $TMP/ca.pem
    tls_verify_client: required
    tls_permitted_peers: [ "*.test" ]
outputs:
  - { name: o, plugin: out_file, path: $TMP/out.json }
EOC

# send.py MODE PORT COUNT PREFIX [tls|mtls CERT KEY]: a stream of COUNT
# messages "PREFIX seq NNNNNN", octet-counted or LF-terminated, written in
# chunks of odd sizes (1..997 bytes) so frames straddle reads; prints the
# byte offset of every message, one per line, to PREFIX.offsets.
cat >"$TMP/send.py" <<'EOPY'
import random, socket, ssl, sys
mode, port, count, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rnd = random.Random(42)
out, offs, pos = [], [], 0
for i in range(count):
    msg = ('<13>1 2024-05-01T10:00:00.000Z host app %d - - %s seq %06d%s' %
           (i, prefix, i, ' pad' * rnd.randrange(0, 40))).encode()
    frame = b'%d %s' % (len(msg), msg) if mode == 'octet' else msg + b'\n'
    offs.append(pos)
    out.append(frame)
    pos += len(frame)
data = b''.join(out)
s = socket.create_connection(('127.0.0.1', port))
if len(sys.argv) > 5:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if sys.argv[5] == 'mtls':
        ctx.load_cert_chain(sys.argv[6], sys.argv[7])
    s = ctx.wrap_socket(s)
i = 0
while i < len(data):
    n = rnd.randrange(1, 998)
    s.sendall(data[i:i + n])
    i += n
if len(sys.argv) > 5:
    s.unwrap()
s.close()
with open(prefix + '.offsets', 'w') as f:
    f.write(''.join('%d\n' % o for o in offs))
EOPY

# check_stream PREFIX COUNT INPUT: every "PREFIX seq N" arrived once, in
# order, from INPUT, with source_offset the frame's byte offset.
cat >"$TMP/check.py" <<'EOPY'
import json, os, re, sys
path, count, inp = sys.argv[1], int(sys.argv[2]), sys.argv[3]
pat = re.compile(re.escape(os.path.basename(path)) + r' seq (\d{6})')
seqs, offs = [], []
for line in open(sys.argv[4]):
    m = pat.search(line)
    if not m:
        continue
    r = json.loads(line)
    assert r.get('input') == inp, r
    seqs.append(int(m.group(1)))
    offs.append(r.get('source_offset'))
assert seqs == list(range(count)), ('got %d, first bad at %s' % (len(seqs),
    next((i for i, (a, b) in enumerate(zip(seqs, range(count))) if a != b), len(seqs))))
want = [int(l) for l in open(path + '.offsets')]
assert offs == want, 'source_offset differs: first %s' % next(
    ((i, a, b) for i, (a, b) in enumerate(zip(offs, want)) if a != b), None)
EOPY

count_in() { cat "$TMP/out.json" 2>/dev/null | grep -c "$1"; }
metric() {
    curl -sf "http://127.0.0.1:$hp/metrics" |
        sed -n "s/^sentineld_plugin_$1{instance=\"$2\"} //p"
}

start_daemon "$TMP/c.yaml" "$TMP/log"
wait_for 10 grep -q "listening on tls://127.0.0.1:$pm" "$TMP/log"
check "every listener is bound and logged at start" \
    grep -q "listening on unix://$TMP/log.sock" "$TMP/log"
check "the unix socket is mode 0666 like /dev/log" \
    test "$(stat -c %a "$TMP/log.sock")" = 666

logger --server 127.0.0.1 --port "$pu" --udp --rfc5424 -t t1 "udp5424 token-u1"
logger --server 127.0.0.1 --port "$pu" --udp --rfc3164 -t t2 "udp3164 token-u2"
logger --server 127.0.0.1 --port "$pt" --tcp --rfc5424 -t t3 "tcp5424 token-t1"
logger --server 127.0.0.1 --port "$pt" --tcp --rfc3164 -t t4 "tcp3164 token-t2"
logger --server 127.0.0.1 --port "$pt" --tcp --octet-count --rfc5424 -t t5 \
    "tcpoctet token-t3"
logger --socket "$TMP/log.sock" --socket-errors=on -t t6 "unix token-x1"
wait_for 10 sh -c "grep -q token-x1 '$TMP/out.json' && grep -q token-t3 '$TMP/out.json' && grep -q token-u2 '$TMP/out.json'"
check "logger --udp (RFC 5424 and 3164) arrives, transport udp" python3 -c "
import json
rows=[json.loads(l) for l in open('$TMP/out.json')]
u=[r for r in rows if 'token-u' in json.dumps(r)]
assert len(u)==2 and all(r['transport']=='udp' and r['peer'].startswith('127.0.0.1:') for r in u), u"
check "logger --tcp (LF and octet-counted) arrives, transport tcp" python3 -c "
import json
rows=[json.loads(l) for l in open('$TMP/out.json')]
t=[r for r in rows if 'token-t' in json.dumps(r)]
assert len(t)==3 and all(r['transport']=='tcp' for r in t), t"
check "logger --socket (unix datagram) arrives, transport unix" python3 -c "
import json
rows=[json.loads(l) for l in open('$TMP/out.json')]
x=[r for r in rows if 'token-x1' in json.dumps(r)]
assert len(x)==1 and x[0]['transport']=='unix' and x[0]['peer']=='$TMP/log.sock', x"

(cd "$TMP" && python3 send.py octet "$pt" 10000 OCT) 2>"$TMP/send1.err"
wait_until 20 "test \"\$(count_in 'OCT seq')\" -ge 10000"
check "10,000 octet-counted messages in odd chunks: once, in order, offsets" \
    python3 "$TMP/check.py" "$TMP/OCT" 10000 sys "$TMP/out.json"
(cd "$TMP" && python3 send.py lf "$pt" 10000 LFS) 2>"$TMP/send2.err"
wait_until 20 "test \"\$(count_in 'LFS seq')\" -ge 10000"
check "10,000 LF-framed messages in odd chunks: once, in order, offsets" \
    python3 "$TMP/check.py" "$TMP/LFS" 10000 sys "$TMP/out.json"

# Two connections at once on the octet-counting-only input, one of them
# interleaving: each connection's order is kept.
(
    cd "$TMP" || exit 1
    python3 send.py octet "$po" 5000 PA &
    python3 send.py octet "$po" 5000 PB &
    wait
)
wait_for 20 sh -c "test \$(grep -c 'P[AB] seq' '$TMP/out.json') -ge 10000"
check "two concurrent connections: each in order, none lost" sh -c "
python3 '$TMP/check.py' '$TMP/PA' 5000 oc '$TMP/out.json' &&
python3 '$TMP/check.py' '$TMP/PB' 5000 oc '$TMP/out.json'"

# A malformed frame mid-stream (octet-counting input, no count): the
# framer resyncs at the next LF; what comes before and after survives.
python3 - "$po" <<'EOPY' >"$TMP/bad_offset"
import socket, sys
def oc(m): return b'%d %s' % (len(m), m)
before = b''.join(oc(b'<13>1 - h a - - - BAD-CASE before %d' % i) for i in range(5))
bad = b'this is not a frame\n'
after = b''.join(oc(b'<13>1 - h a - - - BAD-CASE after %d' % i) for i in range(5))
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
s.sendall(before + bad + after)
s.close()
print(len(before))
EOPY
wait_until 10 "test \"\$(count_in 'BAD-CASE after 4')\" -ge 1"
check "messages before and after a malformed frame survive" python3 -c "
import re
got=[m.group(0) for m in re.finditer(r'BAD-CASE (before|after) \d', open('$TMP/out.json').read())]
assert got==['BAD-CASE before %d'%i for i in range(5)]+['BAD-CASE after %d'%i for i in range(5)], got"
check "the framing error is logged with peer and stream offset" \
    grep -q "framing error from 127.0.0.1:[0-9]* (tcp) at stream offset $(cat "$TMP/bad_offset")" "$TMP/log"
check "framing_errors_total counts it" test "$(metric framing_errors_total oc)" -ge 1

if [ "$have_openssl" = yes ]; then
    (cd "$TMP" && python3 send.py octet "$ps" 2000 TLSA tls) 2>"$TMP/send3.err"
    wait_until 20 "test \"\$(count_in 'TLSA seq')\" -ge 2000"
    check "TLS: 2,000 octet-counted messages once, in order, transport tls" \
        sh -c "python3 '$TMP/check.py' '$TMP/TLSA' 2000 tls '$TMP/out.json' && grep 'TLSA seq 000000' '$TMP/out.json' | grep -q '\"transport\":\"tls\"'"
    (cd "$TMP" && python3 send.py lf "$pm" 500 MTLS mtls client.pem client.key) \
        2>"$TMP/send4.err"
    wait_until 20 "test \"\$(count_in 'MTLS seq')\" -ge 500"
    check "mutual TLS: a permitted client certificate is accepted" \
        python3 "$TMP/check.py" "$TMP/MTLS" 500 mtls "$TMP/out.json"
    (cd "$TMP" && python3 send.py lf "$pm" 5 NOCERT tls) 2>/dev/null
    (cd "$TMP" && python3 send.py lf "$pm" 5 INTRUDER mtls other.pem other.key) 2>/dev/null
    wait_until 10 'test "$(metric tls_handshake_errors_total mtls)" -ge 2'
    check "mutual TLS: no certificate and an unknown one are refused" \
        test "$(count_in 'NOCERT seq')" -eq 0 -a "$(count_in 'INTRUDER seq')" -eq 0
    check "handshake failures are counted and logged with the peer" \
        grep -q "TLS handshake with 127.0.0.1:[0-9]* failed" "$TMP/log"
else
    for i in 1 2 3 4; do ok "# SKIP openssl could not make certificates"; done
fi

check "connections are counted" test "$(metric connections_total sys)" -ge 4
check "no connection is left open" test \
    "$(metric connections_total sys)" = "$(metric connections_closed_total sys)"

stop_daemon
check "SIGTERM stops the daemon with exit 0" test $? -eq 0
check "the unix socket is removed at stop" test ! -e "$TMP/log.sock"

# Errors at init and start name the URL.
cat >"$TMP/bad.yaml" <<EOC
daemon: { state_dir: $TMP/state }
http: { enabled: false }
inputs:
  - { name: b, plugin: in_syslog, listen: [ "tcp//127.0.0.1:$pt" ] }
outputs:
  - { name: o, plugin: out_file, path: $TMP/none.json }
EOC
"$SENTINELD" check -c "$TMP/bad.yaml" >"$TMP/bad.out" 2>&1
check "a bad listen URL is a config error naming it" \
    grep -q 'listen URL "tcp//127.0.0.1:[0-9]*": unknown or missing scheme' "$TMP/bad.out"

python3 -c "
import socket, time, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $pt)); s.listen(1)
open('$TMP/busy', 'w').close(); time.sleep(10)" &
BUSY=$!
PIDS="$PIDS $BUSY"
wait_for 5 test -e "$TMP/busy"
cat >"$TMP/busy.yaml" <<EOC
daemon: { state_dir: $TMP/state }
http: { enabled: false }
inputs:
  - { name: b, plugin: in_syslog, listen: [ "tcp://127.0.0.1:$pt" ] }
outputs:
  - { name: o, plugin: out_file, path: $TMP/none.json }
EOC
"$SENTINELD" run -c "$TMP/busy.yaml" >"$TMP/busy.out" 2>&1
rc=$?
kill "$BUSY" 2>/dev/null
check "a busy port fails at start, naming the URL" sh -c "
test $rc -ne 0 && grep -q 'cannot bind tcp://127.0.0.1:$pt: Address already in use' '$TMP/busy.out'"

if python3 -c "import socket; s=socket.socket(socket.AF_INET6); s.bind(('::1',0))" 2>/dev/null; then
    p6=$(free_port)
    cat >"$TMP/v6.yaml" <<EOC
daemon: { state_dir: $TMP/state }
http: { enabled: false }
inputs:
  - { name: v6, plugin: in_syslog, parser: $PARSER, listen: [ "tcp://[::1]:$p6", "udp://[::1]:$p6" ] }
outputs:
  - { name: o, plugin: out_file, path: $TMP/v6.json }
EOC
    start_daemon "$TMP/v6.yaml" "$TMP/v6.log"
    wait_for 10 grep -q "listening on udp://\[::1\]:$p6" "$TMP/v6.log"
    python3 -c "
import socket
s = socket.create_connection(('::1', $p6)); s.sendall(b'<13>1 - h a - - - v6-tcp\n'); s.close()
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.sendto(b'<13>1 - h a - - - v6-udp', ('::1', $p6))"
    wait_for 10 sh -c "test \$(grep -c v6- '$TMP/v6.json') -ge 2"
    check "IPv6 listeners: peers are [addr]:port" python3 -c "
import json
rows=[json.loads(l) for l in open('$TMP/v6.json')]
assert len(rows)==2 and all(r['peer'].startswith('[::1]:') for r in rows), rows"
    stop_daemon
else
    ok "# SKIP no IPv6 loopback"
fi
tap_done
