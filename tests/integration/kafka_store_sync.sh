#!/bin/sh
# in_kafka commits an offset only once the incidents its records caused
# are in the incident store (docs/scaling.md, exactly-once effect): while
# the store is locked by another process, the signals of 20 SSH failures
# wait in the incident manager's queue and the offsets stay uncommitted
# (kafka_commits_deferred_total); after a kill -9 and a restart the records
# are read again and the incident is stored with all its hits. A commit
# that ran ahead of the store would lose that incident for good.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
tap_plan 5

start_broker -b 1 -t events:1 || { not_ok "mock cluster starts"; exit 1; }
cat >"$TMP/rules.yaml" <<'EOF'
rules:
  - id: sync-brute-force
    title: SSH brute force (store sync test)
    severity: medium
    match: appname == "sshd" and msg startswith "Failed password "
    extract:
      - regex: '^Failed password for (?<user>\S+) from (?<ip>[0-9.]+) port'
        fields:
          user: user.name
          ip: source.ip:ip
    threshold: {count: 10}
    # Every 10 failures is a hit (each counted exactly once is what this
    # test checks), not once per window.
    refire: every_threshold
    window: 10m
    group_by: [source.ip]
    allowed_lateness: 10m
EOF
PORT=$(free_port)
cat >"$TMP/d.yaml" <<EOF
daemon:
  state_dir: $TMP/state
http:
  listen: 127.0.0.1:$PORT
inputs:
  - name: events
    plugin: in_kafka
    brokers: "$BOOTSTRAP"
    topics: [events]
    group: sync
    parser: rfc5424
    commit_interval: 100ms
    # The killed member's partition is handed out again after this.
    kafka.session.timeout.ms: "6000"
    kafka.heartbeat.interval.ms: "500"
detectors:
  - name: rules
    plugin: det_rules
    rules: [$TMP/rules.yaml]
EOF
metric() {
    curl -s "http://127.0.0.1:$PORT/metrics" |
        awk -v m="$1" '$1 ~ "^"m"[{ ]" || $1 == m { print $2 }' | head -n 1
}
metric_is() { test "$(metric "$1")" = "$2"; }
metric_ge() { v=$(metric "$1"); test "${v:-0}" -ge "$2"; }

start_daemon "$TMP/d.yaml" "$TMP/d1.log"
D1=$DPID
wait_for 20 grep -q 'assigned 1 partitions' "$TMP/d1.log"

# Another writer holds the store (WAL: one writer at a time).
python3 -c "
import sqlite3, time
c = sqlite3.connect('$TMP/state/sentineld.db', isolation_level=None, timeout=10)
c.execute('BEGIN EXCLUSIVE')
open('$TMP/locked', 'w').close()
time.sleep(120)
" &
LOCKER=$!
PIDS="$PIDS $LOCKER"
wait_for 10 test -f "$TMP/locked"

python3 -c "
import time
base = int(time.time()) - 60
for i in range(20):
    t = time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(base + i))
    print('<38>1 %sZ web1 sshd 77 - - Failed password for u%d from 192.0.2.7 port %d ssh2' % (t, i, 40000 + i))
" | kcat -b "$BOOTSTRAP" -t events -P
wait_for 20 metric_is sentineld_plugin_rules_matches_total 20
wait_for 10 metric_is sentineld_signals_received_total 2
check "commits are put off while the incidents are not stored" \
    wait_for 10 metric_ge sentineld_plugin_kafka_commits_deferred_total 3
check "nothing was committed" metric_is sentineld_plugin_kafka_commits_total 0

kill -9 "$D1"
wait "$D1" 2>/dev/null
kill "$LOCKER"
wait "$LOCKER" 2>/dev/null

start_daemon "$TMP/d.yaml" "$TMP/d2.log"
check "after kill -9 the restarted instance reads the 20 records again" \
    wait_for 30 metric_is sentineld_plugin_kafka_consumed_total 20
stored() {
    "$SENTINELD" incidents list --store "$TMP/state/sentineld.db" --json 2>/dev/null |
        python3 -c '
import json, sys
d = json.load(sys.stdin)["incidents"]
assert [(i["rule_id"], i["hit_count"]) for i in d] == [("sync-brute-force", 20)], d
'
}
check "the incident is stored once, with its 20 hits" wait_for 20 stored
check "and its offsets are committed now" \
    wait_for 10 metric_ge sentineld_plugin_kafka_commits_total 1
