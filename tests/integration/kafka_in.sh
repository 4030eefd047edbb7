#!/bin/sh
# in_kafka with the mock Kafka cluster (3 brokers, a 6-partition topic):
# every message produced by kcat reaches out_file exactly once; a malformed
# one goes to the dead-letter topic with its reason while the ones around
# it survive; offsets are committed only after processing, so a restart
# reads nothing twice; a broker outage mid-stream loses nothing; and the
# JSON out_kafka writes parses back into the same events.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
tap_plan 11

start_broker -b 3 -t sys:6 -t ev:3
N=20000
gen() { # gen FROM TO: RFC 5424 lines
    python3 -c "
for i in range($1, $2):
    print('<38>1 2026-11-23T10:00:00Z host%02d sshd %d - - line %06d' % (i % 50, i, i))
    if i == $1 + 100: print('this is not syslog at all')
"
}
gen 0 $N | kcat -b "$BOOTSTRAP" -t sys -P -K '|' 2>"$TMP/kcat-p.log"
port=$(free_port)
cat >"$TMP/in.yaml" <<EOC
daemon: { state_dir: $TMP/state, workers: 2 }
http: { listen: "127.0.0.1:$port" }
parsers:
  - { name: strict, plugin: parse_rfc5424, fallback: false }
inputs:
  - name: k
    plugin: in_kafka
    brokers: "$BOOTSTRAP"
    topics: [sys]
    group: detectors
    parser: strict
    dead_letter_topic: sys.dlq
    commit_interval: 200ms
    # Longer than the 2 s outage below plus the stalls of a loaded CI
    # machine: with 6 s the coordinator sometimes evicted the member after
    # the outage; its commits then fail ("Unknown member") and the records
    # are read again after it rejoins: correct at-least-once, but not the
    # "none read twice" and "offsets cover everything" this test checks.
    kafka.session.timeout.ms: 20000
    kafka.heartbeat.interval.ms: 500
outputs:
  - { name: o, plugin: out_file, path: $TMP/out.json }
EOC
start_daemon "$TMP/in.yaml" "$TMP/d1.log"
wait_for 30 sh -c "[ \$(wc -l <'$TMP/out.json' 2>/dev/null || echo 0) -ge $N ]"
sleep 1.5 # two commit intervals and a lag update
curl -s "http://127.0.0.1:$port/metrics" >"$TMP/metrics.txt"
stop_daemon
check "first run: clean stop" test $? -eq 0
check "all $N messages from 6 partitions arrive exactly once" python3 -c "
import json, collections
c=collections.Counter(json.loads(l)['msg'] for l in open('$TMP/out.json'))
assert set(c)=={'line %06d' % i for i in range($N)}, len(c)
assert max(c.values())==1
"
timeout 20 kcat -b "$BOOTSTRAP" -C -t sys.dlq -e -q -f '%h|%s\n' >"$TMP/dlq.txt" 2>/dev/null
check "the malformed message is in the dead-letter topic with its reason and origin" \
    grep -q "^reason=.*,source_topic=sys,source_partition=[0-5],source_offset=[0-9]*|this is not syslog at all$" "$TMP/dlq.txt"
check "/metrics: 1 dead letter, consumed count, lag 0 on every partition" python3 -c "
import re
t=open('$TMP/metrics.txt').read()
assert re.search(r'sentineld_plugin_kafka_dead_letters_total\{[^}]*\} 1\b', t), t
assert re.search(r'sentineld_plugin_kafka_consumed_total\{[^}]*\} $((N + 1))\b', t)
lags=re.findall(r'sentineld_plugin_kafka_consumer_lag\{[^}]*partition=\"(\d)\"\} (\d+)', t)
assert len(lags)==6 and all(v=='0' for _,v in lags), lags
"
# The 6 partitions are spread over both workers (each partition on one).
check "both workers parse: the partitions are spread over them" python3 -c "
import re
t=open('$TMP/metrics.txt').read()
w=[int(v) for v in re.findall(r'sentineld_worker_records_total\{worker=\"\d\"\} (\d+)', t)]
assert len(w)==2 and min(w)>0 and sum(w)==$((N + 1)), w
"

# Restart after a clean stop, with a backlog; the brokers go down while
# the daemon is working through it and come back 2 s later; more messages
# follow. Nothing read twice, nothing lost.
B=$((N * 5))
T=$((N * 6))
gen $N $B | kcat -b "$BOOTSTRAP" -t sys -P 2>>"$TMP/kcat-p.log"
start_daemon "$TMP/in.yaml" "$TMP/d2.log"
wait_for 30 sh -c "[ \$(wc -l <'$TMP/out.json') -ge $((N + 1000)) ]"
kill -USR1 "$BROKER_PID"
at_outage=$(lines "$TMP/out.json")
sleep 2
kill -USR2 "$BROKER_PID"
gen $B $T | kcat -b "$BOOTSTRAP" -t sys -P 2>>"$TMP/kcat-p.log"
wait_for 40 sh -c "[ \$(wc -l <'$TMP/out.json') -ge $T ]"
sleep 1
stop_daemon
check "second run: clean stop" test $? -eq 0
check "the outage hit mid-stream ($at_outage of $B lines out)" test "$at_outage" -lt "$B"
check "restart + outage: all $T messages, none read twice" python3 -c "
import json, collections
c=collections.Counter(json.loads(l)['msg'] for l in open('$TMP/out.json'))
assert set(c)=={'line %06d' % i for i in range($T)}, len(c)
dups=[k for k,v in c.items() if v>1]
assert not dups, (len(dups), dups[:3])
"
check "the committed offsets cover everything (kcat in the group reads nothing)" \
    sh -c "[ \$(timeout 10 kcat -b '$BOOTSTRAP' -G detectors -e -q sys 2>/dev/null | wc -l) -eq 0 ]"

# Round trip: out_kafka's event JSON read back by in_kafka with the json
# parser is the same event (only the receipt keys differ).
cat >"$TMP/src.log" <<'EOL'
<34>1 2026-11-23T10:00:00.5+01:00 web1 sshd 42 ID7 [meta@32473 a="1" a="2"][x@1 b="q"] Failed password for root
<38>1 2026-11-23T10:00:01Z - - - - - only a message
EOL
cat >"$TMP/ship.yaml" <<EOC
daemon: { state_dir: $TMP/state3 }
http: { enabled: false }
inputs:
  - { name: f, plugin: in_file, path: $TMP/src.log, parser: rfc5424 }
outputs:
  - { name: a, plugin: out_file, path: $TMP/a.json }
  - { name: k, plugin: out_kafka, brokers: "$BOOTSTRAP", topic: ev, key_field: hostname }
EOC
"$SENTINELD" run -c "$TMP/ship.yaml" --oneshot 2>"$TMP/ship.log"
cat >"$TMP/back.yaml" <<EOC
daemon: { state_dir: $TMP/state4 }
http: { enabled: false }
inputs:
  - { name: k, plugin: in_kafka, brokers: "$BOOTSTRAP", topics: ["^e."], group: rt, parser: json, dead_letter_file: $TMP/rt-dlq.json }
outputs:
  - { name: b, plugin: out_file, path: $TMP/b.json }
EOC
start_daemon "$TMP/back.yaml" "$TMP/back.log"
wait_for 20 sh -c "[ \$(wc -l <'$TMP/b.json' 2>/dev/null || echo 0) -ge 2 ]"
stop_daemon
check "a regex subscription reads the shipped events back" test "$(lines "$TMP/b.json")" -eq 2
check "out_kafka's JSON parses back into the same events" python3 -c "
import json
drop={'received_ns','input','transport','peer','source_offset'}
def load(p): return sorted(({k:v for k,v in json.loads(l).items() if k not in drop} for l in open(p)), key=lambda e:e['msg'])
a,b=load('$TMP/a.json'),load('$TMP/b.json')
assert a==b, (a,b)
"
