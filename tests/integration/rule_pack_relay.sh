#!/bin/sh
# The shipped rule pack behind a real rsyslog with its repeated-message
# reduction on ($RepeatedMsgReduction, as Debian and Ubuntu ship it): ten
# identical sshd failures reach sentineld as one line and a "message
# repeated 9 times: [ ... ]" summary. det_rules must match the summary's
# inner message and count it 9 times: exactly one ssh-brute-force signal
# for the address, window count 10 of threshold 10, with the summary in
# its evidence; nine failures of another address (1 + "repeated 8 times")
# raise nothing.
. "$SRCDIR/tests/integration/lib.sh"

RSYSLOGD=$(command -v rsyslogd || ls /usr/sbin/rsyslogd 2>/dev/null)
[ -n "$RSYSLOGD" ] || skip_all "rsyslogd not installed"
tap_plan 5

p_s=$(free_port)
p_rs=$(free_port)
hp=$(free_port)
mkdir -p "$TMP/rs" "$TMP/state"
cat >"$TMP/s.yaml" <<EOC
daemon: { state_dir: $TMP/state }
http: { listen: "127.0.0.1:$hp" }
inputs:
  - { name: relay, plugin: in_syslog, parser: auto, listen: [ "tcp://127.0.0.1:$p_s" ] }
detectors:
  - { name: rules, plugin: det_rules, rules: [ $SRCDIR/conf/rules ], signals_file: $TMP/signals.json, tick: 100ms }
outputs:
  - { name: o, plugin: out_file, path: $TMP/out.json }
EOC
cat >"$TMP/rs.conf" <<EOC
global(workDirectory="$TMP/rs")
module(load="imtcp")
\$RepeatedMsgReduction on
input(type="imtcp" address="127.0.0.1" port="$p_rs")
action(type="omfwd" target="127.0.0.1" port="$p_s" protocol="tcp"
       TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
action(type="omfile" file="$TMP/rs.out")
EOC

start_daemon "$TMP/s.yaml" "$TMP/s.log"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null
"$RSYSLOGD" -n -f "$TMP/rs.conf" -i "$TMP/rs.pid" >"$TMP/rs.log" 2>&1 &
RSPID=$!
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $p_rs)).close()"

python3 - "$p_rs" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
now = time.strftime("%b %e %H:%M:%S", time.gmtime())
def send(line):
    s.sendall(("<38>%s web9 %s\n" % (now, line)).encode())
for _ in range(10):
    send("sshd[5001]: Failed password for root from 198.51.100.9 port 50001 ssh2")
# A different message ends the run: rsyslog then writes its summary.
send("sshd[5002]: Connection closed by 198.51.100.9 port 50001 [preauth]")
for _ in range(9):
    send("sshd[5003]: Failed password for invalid user pi from 198.51.100.10 port 50002 ssh2")
send("sshd[5004]: Connection closed by 198.51.100.10 port 50002 [preauth]")
s.close()
PY
wait_until 10 'test "$(lines "$TMP/out.json")" -ge 6'
sleep 0.5
kill "$RSPID" 2>/dev/null
wait "$RSPID" 2>/dev/null

check "rsyslog folded the repeats (its own output has the summaries)" \
    grep -q 'message repeated 9 times: \[ *Failed password for root from 198.51.100.9' "$TMP/rs.out"
check "sentineld received 6 lines for 20 messages" test "$(lines "$TMP/out.json")" -eq 6
check "one ssh-brute-force signal for 198.51.100.9: 10 of threshold 10, summary in evidence" python3 -c "
import json
s=[json.loads(l) for l in open('$TMP/signals.json') if '\"rule\":\"ssh-brute-force\"' in l]
assert len(s)==1, s
s=s[0]
assert s['key']=={'source.ip':'198.51.100.9'}, s['key']
assert s['window']['count']==10 and s['window']['threshold']==10, s['window']
msgs=[e['summary']['msg'] for e in s['evidence']['first']+s['evidence']['last']]
assert any('message repeated 9 times' in m for m in msgs), msgs"
check "nine failures of 198.51.100.10 raise no brute-force signal" python3 -c "
import json
s=[json.loads(l) for l in open('$TMP/signals.json') if '198.51.100.10' in l and 'ssh-brute-force' in l]
assert s==[], s"
check "the summary event carries the inner message's fields" python3 -c "
import json
e=[json.loads(l) for l in open('$TMP/out.json')]
r=[x for x in e if 'message repeated 9 times' in json.dumps(x)]
assert r, e
f=json.dumps(r[0])
assert '\"source.ip\": \"198.51.100.9\"' in f or '\"source.ip\":\"198.51.100.9\"' in f, f
assert 'ssh-brute-force' in f, f"
stop_daemon
tap_done
