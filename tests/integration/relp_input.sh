#!/bin/sh
# rsyslog -> sentineld over RELP with a real rsyslogd running the
# contrib/rsyslog/sentineld-relp.conf snippet as-is (omrelp, disk-assisted
# action queue; only target, port and queue directory substituted): every
# line arrives exactly once, an SSH brute force becomes an incident, and
# lines sent while sentineld is stopped wait in rsyslog's queue and are
# all delivered, once, when it is back. relp+tls:// with mutual TLS and
# a permitted peer carries a second stream.
. "$SRCDIR/tests/integration/lib.sh"

RSYSLOGD=$(command -v rsyslogd || ls /usr/sbin/rsyslogd 2>/dev/null)
[ -n "$RSYSLOGD" ] || skip_all "rsyslogd not installed"
omrelp=no
for d in /usr/lib/x86_64-linux-gnu/rsyslog /usr/lib/*/rsyslog /usr/lib/rsyslog \
    /usr/lib64/rsyslog; do
    [ -f "$d/omrelp.so" ] && omrelp=yes
done
[ "$omrelp" = yes ] || skip_all "rsyslog-relp (omrelp.so) not installed"
tap_plan 10
N=${RELP_N:-5000}

p_relp=$(free_port)
p_rs=$(free_port)
p_tls=$(free_port)
p_rs_tls=$(free_port)
hp=$(free_port)
mkdir -p "$TMP/rs" "$TMP/state"
make_certs rsyslog.test || { echo "Bail out! openssl failed"; exit 1; }

cat >"$TMP/s.yaml" <<EOC
daemon: { state_dir: $TMP/state }
http: { listen: "127.0.0.1:$hp" }
inputs:
  - { name: relp, plugin: in_syslog, listen: [ "relp://127.0.0.1:$p_relp" ] }
  - name: relptls
    plugin: in_syslog
    listen: [ "relp+tls://127.0.0.1:$p_tls" ]
    tls_cert: $TMP/server.pem
    tls_key: $TMP/server.key
    tls_ca: $TMP/ca.pem
    tls_verify_client: required
    tls_permitted_peers: [ rsyslog.test ]
detectors:
  - { name: rules, plugin: det_rules, rules: [ $SRCDIR/conf/rules ] }
outputs:
  - { name: o, plugin: out_file, path: $TMP/out.json }
  - { name: inc, plugin: out_file, path: $TMP/inc.json, take: incidents }
EOC
start_daemon "$TMP/s.yaml" "$TMP/s.log"
check "sentineld listens on relp://" \
    wait_for 15 grep -q "listening on relp://127.0.0.1:$p_relp" "$TMP/s.log"

# The sysadmin's snippet, pointed at this test's port; nothing else changed.
sed -e "s/port=\"20514\"/port=\"$p_relp\"/" \
    "$SRCDIR/contrib/rsyslog/sentineld-relp.conf" >"$TMP/sentineld-relp.conf"
cat >"$TMP/rsyslog.conf" <<EOC
global(workDirectory="$TMP/rs")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="$p_rs")
include(file="$TMP/sentineld-relp.conf")
# relp+tls, mutual: the snippet's action with omrelp's TLS parameters.
input(type="imtcp" address="127.0.0.1" port="$p_rs_tls" ruleset="tls")
ruleset(name="tls") {
    action(type="omrelp" target="127.0.0.1" port="$p_tls"
           template="RSYSLOG_SyslogProtocol23Format"
           tls="on" tls.caCert="$TMP/ca.pem"
           tls.myCert="$TMP/client.pem" tls.myPrivKey="$TMP/client.key"
           tls.authMode="name" tls.permittedPeer=["sentineld.test"]
           queue.type="LinkedList" queue.filename="sentineld_relp_tls"
           action.resumeRetryCount="-1" action.resumeInterval="1")
}
EOC
"$RSYSLOGD" -n -f "$TMP/rsyslog.conf" -i "$TMP/rs.pid" >"$TMP/rs.out" 2>&1 &
RPID=$!
PIDS="$PIDS $RPID"
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $p_rs)).close()"

# feed FIRST COUNT [PORT]: RFC 3164 lines numbered FIRST.. into rsyslog's
# imtcp (PORT: the one forwarding over relp://).
feed() {
    python3 - "${3:-$p_rs}" "$1" "$2" <<'EOPY'
import socket, sys
port, first, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
apps = ['sudo', 'CRON[4242]', 'kernel', 'postfix/smtpd[77]']
s = socket.create_connection(('127.0.0.1', port))
s.sendall(b''.join(('<38>May  1 10:00:00 gen %s: relpseq %06d payload\n'
                    % (apps[i % 4], i)).encode() for i in range(first, first + n)))
s.close()
EOPY
}
# distinct_once TOTAL: out.json holds relpseq 0..TOTAL-1, each once.
cat >"$TMP/tally.py" <<'EOPY'
import collections, re, sys
c = collections.Counter(re.findall(r'relpseq (\d{6})', open(sys.argv[1]).read()))
want = int(sys.argv[2])
dup = sum(v - 1 for v in c.values())
c = collections.Counter({k: v for k, v in c.items() if int(k) < 900000})
missing = want - len(c)
print('distinct %d duplicates %d missing %d' % (len(c), dup, missing))
sys.exit(0 if dup == 0 and missing == 0 and len(c) == want else 1)
EOPY
# (grep -c reads stdin: a missing file counts 0, and prints it once)
seq_lines() { cat "$TMP/out.json" 2>/dev/null | grep -c 'relpseq [0-8]'; }

feed 0 "$N"
for i in $(seq 1 12); do
    logger --server 127.0.0.1 --port "$p_rs" --tcp --rfc3164 -t "sshd[$((900 + i))]" \
        "Failed password for invalid user admin$i from 203.0.113.7 port $((40000 + i)) ssh2"
done
wait_until 60 '[ "$(seq_lines)" -ge "$N" ]'
sleep 1 # a duplicate would arrive late
diag "first run: $(python3 "$TMP/tally.py" "$TMP/out.json" "$N")"
check "$N lines through omrelp, each exactly once" \
    python3 "$TMP/tally.py" "$TMP/out.json" "$N"
brute_force() {
    python3 - "$TMP/inc.json" <<'EOP'
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
ids = {d["id"] for d in docs if d.get("rule_id") == "ssh-brute-force"
       and d["group_key"].get("source.ip") == "203.0.113.7"}
sys.exit(0 if len(ids) == 1 else 1)
EOP
}
check "the SSH brute force sent over RELP is one incident" wait_for 30 brute_force
curl -sf "http://127.0.0.1:$hp/metrics" >"$TMP/m1"
metric() { awk -v m="$1" 'index($1, m) == 1 { v += $2 } END { print v + 0 }' "$2"; }
diag "$(grep relp_ "$TMP/m1" | grep -v '^#' | tr '\n' ' ')"
check "/metrics: RELP sessions and acknowledged messages counted" \
    test "$(metric sentineld_plugin_relp_sessions_total "$TMP/m1")" -ge 1 -a \
    "$(metric sentineld_plugin_relp_messages_total "$TMP/m1")" -ge $((N + 12))
# relp+tls: numbers from 900000 on, so the plain tally is unaffected.
feed 900000 1000 "$p_rs_tls"
tls_lines() { cat "$TMP/out.json" 2>/dev/null | grep -c 'relpseq 9.*"input":"relptls"'; }
wait_until 60 '[ "$(tls_lines)" -ge 1000 ]'
check "relp+tls:// (mutual, permitted peer): 1000 lines through omrelp tls" \
    test "$(tls_lines)" -eq 1000
curl -sf "http://127.0.0.1:$hp/metrics" >"$TMP/m1"
check "/metrics: no RELP errors" \
    test "$(metric sentineld_plugin_relp_errors_total "$TMP/m1")" -eq 0

# sentineld goes away; rsyslog keeps what arrives in its action queue.
# A second session, opened by hand, shows what rsyslog is told at stop:
# "serverclose" (the sender suspends the action and retries).
python3 - "$p_relp" >"$TMP/sc.out" 2>&1 <<'EOPY' &
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
offer = b'relp_version=0\nrelp_software=test\ncommands=syslog'
s.sendall(b'1 open %d %s\n' % (len(offer), offer))
s.settimeout(30)
data = b''
while b'serverclose' not in data:
    d = s.recv(4096)
    if not d:
        break
    data += d
    sys.stdout.write(d.decode(errors='replace'))
    sys.stdout.flush()
EOPY
SCPID=$!
PIDS="$PIDS $SCPID"
wait_for 10 grep -q "^1 rsp .* 200 OK" "$TMP/sc.out"
stop_daemon
check "sentineld exits 0 on SIGTERM with RELP sessions open" test $? -eq 0
wait "$SCPID"
check "open RELP sessions receive serverclose at stop" grep -q "^0 serverclose" "$TMP/sc.out"
feed "$N" "$N"
sleep 2
check "nothing arrives while sentineld is down" test "$(seq_lines)" -eq "$N"
start_daemon "$TMP/s.yaml" "$TMP/s.log2"
wait_for 15 grep -q "listening on relp://127.0.0.1:$p_relp" "$TMP/s.log2"
wait_until 60 '[ "$(seq_lines)" -ge $((2 * N)) ]'
sleep 1
diag "after restart: $(python3 "$TMP/tally.py" "$TMP/out.json" $((2 * N)))"
check "rsyslog's queue delivered all $((2 * N)) lines, each exactly once" \
    python3 "$TMP/tally.py" "$TMP/out.json" $((2 * N))
kill -TERM "$RPID" 2>/dev/null
wait "$RPID" 2>/dev/null
# Expected: omrelp's "error opening connection" while sentineld was down.
grep -i relp "$TMP/rs.out" | tail -3 | sed 's/^/# rsyslogd: /'
stop_daemon
diag "exit $?"
tap_done
