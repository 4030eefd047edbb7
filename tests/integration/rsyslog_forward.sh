#!/bin/sh
# rsyslog -> sentineld with a real rsyslogd: 100,000 messages go into
# rsyslog's imtcp and leave through omfwd to in_syslog four ways: the
# contrib/rsyslog/sentineld.conf snippet (TCP, octet-counted, disk-assisted
# queue), TCP with LF framing, UDP and mutual TLS (rsyslog-openssl). Each
# way must deliver every message exactly once (distinct sequence numbers).
. "$SRCDIR/tests/integration/lib.sh"

RSYSLOGD=$(command -v rsyslogd || ls /usr/sbin/rsyslogd 2>/dev/null)
[ -n "$RSYSLOGD" ] || skip_all "rsyslogd not installed"
tap_plan 6
N=${RSYSLOG_FORWARD_N:-100000}

PARSER=raw
"$SENTINELD" plugins parse_auto >/dev/null 2>&1 && PARSER=auto
# rsyslog's OpenSSL network driver (Debian: rsyslog-openssl).
have_ossl=no
for d in /usr/lib/x86_64-linux-gnu/rsyslog /usr/lib/*/rsyslog /usr/lib/rsyslog \
    /usr/lib64/rsyslog; do
    [ -f "$d/lmnsd_ossl.so" ] && have_ossl=yes
done

make_certs rsyslog.test || have_ossl=no

p_oc=$(free_port)
p_lf=$(free_port)
p_udp=$(free_port)
p_tls=$(free_port)
p_rs=$(free_port)
p_rs2=$(free_port)
hp=$(free_port)
mkdir -p "$TMP/rs"

cat >"$TMP/s.yaml" <<EOC
daemon: { state_dir: $TMP/state, workers: 2, batch_pool: 256 }
http: { listen: "127.0.0.1:$hp" }
inputs:
  - { name: oc, plugin: in_syslog, parser: $PARSER, listen: [ "tcp://127.0.0.1:$p_oc" ] }
  - { name: lf, plugin: in_syslog, parser: $PARSER, framing: non-transparent, listen: [ "tcp://127.0.0.1:$p_lf" ] }
  - { name: udp, plugin: in_syslog, parser: $PARSER, rcvbuf: 32MiB, listen: [ "udp://127.0.0.1:$p_udp" ] }
EOC
if [ "$have_ossl" = yes ]; then
    cat >>"$TMP/s.yaml" <<EOC
  - name: tls
    plugin: in_syslog
    parser: $PARSER
    listen: [ "tls://127.0.0.1:$p_tls" ]
    tls_cert: $TMP/server.pem
    tls_key: $TMP/server.key
    tls_ca: $TMP/ca.pem
    tls_verify_client: required
    tls_permitted_peers: [ rsyslog.test ]
EOC
fi
cat >>"$TMP/s.yaml" <<EOC
outputs:
  - { name: o, plugin: out_file, path: $TMP/out.json }
EOC

start_daemon "$TMP/s.yaml" "$TMP/s.log"
wait_for 10 grep -q "listening on udp://127.0.0.1:$p_udp" "$TMP/s.log"
check "sentineld listens" grep -q "listening on tcp://127.0.0.1:$p_oc" "$TMP/s.log"

udp_delay=0
grep -q "rcvbuf .* asked" "$TMP/s.log" && udp_delay=20
udp_delay=${RSYSLOG_UDP_DELAY:-$udp_delay}

# The sysadmin's snippet, pointed at this test's port.
sed "s/port=\"5514\"/port=\"$p_oc\"/" \
    "$SRCDIR/contrib/rsyslog/sentineld.conf" >"$TMP/sentineld.conf"
# Two phases, one imtcp port each: the stream forwards first, then UDP on
# its own. UDP has no flow control: sharing the CPUs and the batch pool
# with three saturating TCP flows it would lose datagrams by design (they
# are counted), which is not what this test is about. When the kernel
# refused the 32 MiB receive buffer (no CAP_NET_ADMIN, small rmem_max),
# udp.sendDelay paces rsyslog so that a burst fits the smaller buffer.
# One in-memory queue per action, large enough for the whole run, so the
# stream forwards run in parallel and none blocks the others.
Q='queue.type="LinkedList" queue.size="400000" action.resumeRetryCount="-1" action.resumeInterval="1"'
cat >"$TMP/rsyslog.conf" <<EOC
global(workDirectory="$TMP/rs" maxMessageSize="64k"
       DefaultNetstreamDriverCAFile="$TMP/ca.pem"
       DefaultNetstreamDriverCertFile="$TMP/client.pem"
       DefaultNetstreamDriverKeyFile="$TMP/client.key")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="$p_rs" ruleset="streams")
input(type="imtcp" address="127.0.0.1" port="$p_rs2" ruleset="dgrams")
ruleset(name="dgrams") {
    action(type="omfwd" target="127.0.0.1" port="$p_udp" protocol="udp"
           udp.sendDelay="$udp_delay"
           template="RSYSLOG_SyslogProtocol23Format" $Q)
}
ruleset(name="streams") {
    include(file="$TMP/sentineld.conf")
    action(type="omfwd" target="127.0.0.1" port="$p_lf" protocol="tcp"
           TCP_Framing="traditional" template="RSYSLOG_SyslogProtocol23Format" $Q)
EOC
if [ "$have_ossl" = yes ]; then
    cat >>"$TMP/rsyslog.conf" <<EOC
    action(type="omfwd" target="127.0.0.1" port="$p_tls" protocol="tcp"
           StreamDriver="ossl" StreamDriverMode="1"
           StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="sentineld.test"
           TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format" $Q)
EOC
fi
echo "}" >>"$TMP/rsyslog.conf"

"$RSYSLOGD" -n -f "$TMP/rsyslog.conf" -i "$TMP/rs.pid" >"$TMP/rs.out" 2>&1 &
RPID=$!
PIDS="$PIDS $RPID"
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $p_rs2)).close()"

# feed PORT: N RFC 3164 lines into rsyslog's imtcp, LF-framed, at full
# speed, a realistic mix of programs.
feed() {
    python3 - "$1" "$N" <<'EOPY'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
apps = ['sshd[812]', 'sudo', 'CRON[4242]', 'kernel']
s = socket.create_connection(('127.0.0.1', port))
buf = []
for i in range(n):
    buf.append(('<38>May  1 10:00:00 gen %s: fwdseq %06d payload for message %d\n'
                % (apps[i % 4], i, i)).encode())
    if len(buf) == 2000:
        s.sendall(b''.join(buf))
        buf = []
s.sendall(b''.join(buf))
s.close()
EOPY
}

# tally INPUT...: "INPUT total distinct" of fwdseq numbers per input.
cat >"$TMP/tally.py" <<'EOPY'
import collections, json, re, sys
pat = re.compile(r'fwdseq (\d{6})')
tot, seen = collections.Counter(), collections.defaultdict(set)
try:
    for line in open(sys.argv[1]):
        m = pat.search(line)
        if m:
            inp = json.loads(line)['input']
            tot[inp] += 1
            seen[inp].add(m.group(1))
except (FileNotFoundError, ValueError):
    pass
for inp in sys.argv[2:]:
    print(inp, tot[inp], len(seen[inp]))
EOPY
# wait_lines COUNT SECONDS: until out.json has COUNT lines (cheap to poll).
wait_lines() {
    end=$(($(date +%s) + $2))
    while [ "$(lines "$TMP/out.json")" -lt "$1" ] && [ "$(date +%s)" -lt "$end" ]; do
        sleep 0.5
    done
}
ways="oc lf"
[ "$have_ossl" = yes ] && ways="$ways tls"
n_ways=$(echo $ways | wc -w)
t0=$(date +%s)
feed "$p_rs"
wait_lines $((N * n_ways)) 60
t1=$(date +%s)
feed "$p_rs2"
wait_lines $((N * (n_ways + 1))) 45
t2=$(date +%s)
sleep 1 # a duplicate would arrive late
diag "streams: $((t1 - t0))s, udp: $((t2 - t1))s"
python3 "$TMP/tally.py" "$TMP/out.json" $ways udp >"$TMP/tally"
diag "input total distinct: $(tr '\n' ';' <"$TMP/tally")"
exactly_once() {
    awk -v w="$1" -v n="$N" '$1 == w && $2 == n && $3 == n { ok = 1 } END { exit !ok }' "$TMP/tally"
}
check "snippet (TCP octet-counted, disk-assisted queue): $N exactly once" exactly_once oc
check "TCP LF framing: $N exactly once" exactly_once lf
if ! exactly_once udp; then
    curl -sf "http://127.0.0.1:$hp/metrics" | grep -E 'udp_kernel_drops|dropped' | sed 's/^/# /'
fi
check "UDP: $N exactly once" exactly_once udp
if [ "$have_ossl" = yes ]; then
    if ! exactly_once tls; then
        # Seen once under heavy load (99,083 of 100,000): keep the evidence.
        grep -iE 'tls|connection|error' "$TMP/s.log" | tail -20 | sed 's/^/# sentineld: /'
        tail -20 "$TMP/rs.out" | sed 's/^/# rsyslogd: /'
        curl -sf "http://127.0.0.1:$hp/metrics" | grep -E 'tls|connections|dropped' | sed 's/^/# /'
    fi
    check "mutual TLS (rsyslog-openssl): $N exactly once" exactly_once tls
else
    ok "# SKIP rsyslog-openssl (lmnsd_ossl.so) not installed"
fi
kill -TERM "$RPID" 2>/dev/null
wait "$RPID" 2>/dev/null
stop_daemon
check "sentineld exits 0 on SIGTERM" test $? -eq 0
tap_done
