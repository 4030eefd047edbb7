#!/bin/sh
# Edge -> Kafka -> detector with the shipped examples: logger sends syslog
# to an edge instance (conf/examples/edge.yaml: in_syslog -> out_kafka keyed
# by hostname), a detector instance (conf/examples/detector.yaml: in_kafka
# -> det_rules -> out_file, incidents to the alerts topic) consumes the
# events topic and the rules annotate the SSH failures. kcat reads the
# events topic independently. The detector runs as a static member with
# cooperative-sticky assignment, as the example ships.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
. "$SRCDIR/tests/integration/pglib.sh"
tap_plan 8

# The repartition topic exists with fewer partitions than the events
# topic: the detector must say so and leave it (the mock cluster cannot
# create topics, so sentineld's creation itself is not tested here).
start_broker -b 3 -t sentineld.events:6 -t sentineld.alerts:1 \
    -t sentineld-detectors.repartition:2
# The detector example keeps incidents and partition checkpoints in
# PostgreSQL.
pg_start || { not_ok "PostgreSQL starts"; exit 1; }
N=300
python3 -c "
for i in range($N):
    if i % 3 == 0:
        print('Failed password for root from 203.0.113.%d port 22 ssh2' % (i % 50))
    else:
        print('Accepted publickey for deploy from 192.0.2.%d port 22 ssh2 seq %d' % (i % 50, i))
" >"$TMP/msgs.txt"

export SENTINELD_KAFKA_BROKERS="$BOOTSTRAP"
export SENTINELD_SYSLOG_PORT=$(free_port)
export SENTINELD_HTTP_LISTEN="127.0.0.1:$(free_port)"
export SENTINELD_STATE_DIR="$TMP/edge-state"
start_daemon "$SRCDIR/conf/examples/edge.yaml" "$TMP/edge.log"
EDGE=$DPID
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $SENTINELD_SYSLOG_PORT)).close()"

export SENTINELD_HTTP_LISTEN="127.0.0.1:$(free_port)"
export SENTINELD_STATE_DIR="$TMP/det-state"
export SENTINELD_RULES="$SRCDIR/conf/rules"
export SENTINELD_MATCHES_FILE="$TMP/matches.json"
export SENTINELD_PG_URL="$PG_URL"
start_daemon "$SRCDIR/conf/examples/detector.yaml" "$TMP/det.log"
DET=$DPID

# Three passes over the messages, as logger sends them (this host's name).
for pass in 1 2 3; do
    logger --server 127.0.0.1 --port "$SENTINELD_SYSLOG_PORT" --tcp --rfc5424 \
        -t sshd -p auth.info -f "$TMP/msgs.txt" 2>>"$TMP/logger.err"
done
wait_for 40 sh -c "[ \$(wc -l <'$TMP/matches.json' 2>/dev/null || echo 0) -ge $((N * 3)) ]"
DPID=$DET
stop_daemon
check "detector stops cleanly" test $? -eq 0
# The example's hand-over settings are live (docs/scaling.md, "Hand-overs").
check "the detector is a static member with an id from its host and state_dir" \
    grep -Eq "events: static group membership: group.instance.id [A-Za-z0-9._-]+-[0-9a-f]{8}\$" "$TMP/det.log"
check "its partitions came by cooperative assignment, all 6" \
    grep -q 'events: assigned [0-9]* partitions (6 in all, cooperative)' "$TMP/det.log"
check "it warns that the repartition topic has 2 partitions, fewer than the events topic's 6" \
    grep -q 'warn rules: repartition topic sentineld-detectors.repartition has 2 partitions, fewer than the 6 of events topic sentineld.events' "$TMP/det.log"
DPID=$EDGE
stop_daemon
check "edge stops cleanly" test $? -eq 0
timeout 30 kcat -b "$BOOTSTRAP" -C -t sentineld.events -e -q -f '%k\t%s\n' >"$TMP/events.tsv" 2>/dev/null
check "kcat reads all $((N * 3)) events on the events topic, keyed by hostname" python3 -c "
import json
rows=[l.rstrip('\n').split('\t',1) for l in open('$TMP/events.tsv')]
assert len(rows)==$((N * 3)), len(rows)
assert all(json.loads(v)['hostname']==k for k,v in rows)
"
check "the detector received every event exactly once" python3 -c "
import json, collections
ev=[json.loads(l) for l in open('$TMP/matches.json')]
assert len(ev)==$((N * 3)), len(ev)
c=collections.Counter(e['msg'] for e in ev if e['msg'].startswith('Accepted'))
assert len(c)==$N-len(range(0,$N,3)) and set(c.values())=={3}, (len(c), set(c.values()))
"
check "the rules flag every failed password, with the source address" python3 -c "
import json
ev=[json.loads(l) for l in open('$TMP/matches.json')]
fails=[e for e in ev if e['msg'].startswith('Failed password')]
assert len(fails)==3*len(range(0,$N,3)), len(fails)
for e in fails:
    f=e.get('fields') or {}
    assert 'ssh-auth-failure' in f.get('rule.id','').split(), f
    assert f.get('source.ip')==e['msg'].split()[5], f
ok=[e for e in ev if e['msg'].startswith('Accepted')]
assert ok and all('ssh-auth-failure' not in (e.get('fields') or {}).get('rule.id','').split() for e in ok)
"
