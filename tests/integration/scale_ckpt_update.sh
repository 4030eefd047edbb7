#!/bin/sh
# A partition whose state the clock changed, not a record, moves with
# that change (docs/scaling.md, "Partition state"). The shipped edge
# turns logger's sshd lines into events on a one-partition events topic;
# detector A (conf/examples/detector.yaml, incident versions delivered at
# once) sees 15 failures of one address: ssh-brute-force fires at the
# 10th, and its window's 5 later failures reach the incident as an update
# the clock makes due 5-10 s later, with no record behind it. A is
# stopped (SIGTERM), detector B takes the partition over from A's
# checkpoint and sees 5 more failures. PostgreSQL and the alerts topic
# (kcat) must end with one incident of 20 hits whose versions only grow.
# Before, A's checkpoint was not written again after the update (the
# partition's position had not moved), so B restored the window's 5
# absorbed failures and the incident before the update and delivered 20
# hits under the version number A had used for 15: both sinks kept 15.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
. "$SRCDIR/tests/integration/pglib.sh"
tap_plan 6

IP=203.0.113.9
start_broker -t sentineld.events:1 -t sentineld.alerts:1 ||
    { not_ok "mock cluster starts"; exit 1; }
pg_start || { not_ok "PostgreSQL starts"; exit 1; }
export SENTINELD_KAFKA_BROKERS="$BOOTSTRAP" SENTINELD_PG_URL="$PG_URL"
export SENTINELD_RULES="$SRCDIR/conf/rules"
# One partition holds every key, so the correlations need no hop.
export SENTINELD_TOPIC_KEY=source.ip SENTINELD_SESSION_TIMEOUT_MS=6000

SYSLOG_PORT=$(free_port)
SENTINELD_SYSLOG_PORT=$SYSLOG_PORT SENTINELD_EVENTS_TOPIC=sentineld.events \
    SENTINELD_HTTP_LISTEN="127.0.0.1:$(free_port)" SENTINELD_STATE_DIR="$TMP/edge-state" \
    start_daemon "$SRCDIR/conf/examples/edge.yaml" "$TMP/edge.log"
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $SYSLOG_PORT)).close()"

CONF="$TMP/detector.yaml"
{ cat "$SRCDIR/conf/examples/detector.yaml"; echo "incidents: { update_interval: 0 }"; } >"$CONF"
detector() { # NAME: start it; pid in DPID
    SENTINELD_HTTP_LISTEN="127.0.0.1:$(free_port)" SENTINELD_STATE_DIR="$TMP/$1-state" \
        SENTINELD_INSTANCE_ID="det-$1" SENTINELD_MATCHES_FILE="$TMP/$1-matches.json" \
        start_daemon "$CONF" "$TMP/$1.log"
}
q() { pg_psql -c "$1" 2>/dev/null; }
hits() { q "select coalesce(sum(hit_count), -1) from incidents where rule_id = 'ssh-brute-force' and group_key->>'source.ip' = '$IP'"; }

detector a
A=$DPID
wait_for 30 grep -q 'events: assigned 1 partitions' "$TMP/a.log"
ssh_failures "$SYSLOG_PORT" "$IP" 15
check "A: the brute force fires, and its 5 later failures arrive as an update (15 hits)" \
    wait_until 40 'test "$(hits)" = 15'
DPID=$A
check "A stops cleanly" stop_daemon

detector b
B=$DPID
check "B takes the partition over from A's checkpoint" \
    wait_for 40 grep -q 'events: assigned 1 partitions' "$TMP/b.log"
ssh_failures "$SYSLOG_PORT" "$IP" 5
check "PostgreSQL: one incident of 20 hits" \
    wait_until 40 'test "$(hits)" = 20 && test "$(q "select count(*) from incidents where rule_id = '"'ssh-brute-force'"'")" = 1'
diag "PostgreSQL: $(q "select version, hit_count from incidents where rule_id = 'ssh-brute-force'")"

timeout 30 kcat -b "$BOOTSTRAP" -C -t sentineld.alerts -e -q -f '%s\n' >"$TMP/alerts.json" 2>/dev/null
check "alerts topic (kcat): no version number carries two hit counts; the last has 20" \
    python3 - "$TMP/alerts.json" <<'PY'
import json, sys
seen = {}
for l in open(sys.argv[1]):
    m = json.loads(l)
    if m.get("rule_id") == "ssh-brute-force":
        seen.setdefault(m["id"], {}).setdefault(m["version"], set()).add(m["hit_count"])
assert len(seen) == 1, seen
vs = next(iter(seen.values()))
print("# versions (version: hits):", sorted(vs.items()))
assert all(len(h) == 1 for h in vs.values()), "a version number with two hit counts"
last = max(vs)
assert vs[last] == {20}, vs
order = [min(vs[v]) for v in sorted(vs)]
assert order[0] == 10 and 15 in order, order
PY
DPID=$B
check "B stops cleanly" stop_daemon
