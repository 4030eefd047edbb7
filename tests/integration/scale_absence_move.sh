#!/bin/sh
# An absence whose partition has no record since its last checkpoint
# moves with the partition (docs/scaling.md, "Partition state"): the
# shipped edge (events keyed by hostname) and two shipped detectors; one
# rule, "host-quiet" (absence after 8 s by hostname, not through the hop:
# the topic is keyed by it). web3 logs three lines and falls silent, no
# other host logs. Its absence fires on the owner of its events
# partition, whose position does not move after that: before, in_kafka
# wrote no row for it, so the partition's state in PostgreSQL kept web3
# present, and when the owner left the other instance restored that and
# reported web3 absent a second time (2 incidents). Now a partition
# whose state changed is written though its position did not move.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
. "$SRCDIR/tests/integration/pglib.sh"
. "$SRCDIR/tests/integration/attack_lib.sh"
tap_plan 6

hop_cluster 1
hop_conf_now
mkdir "$TMP/rules"
cat >"$TMP/rules/quiet.yaml" <<'YAML'
rules:
  - id: host-quiet
    title: Host quiet
    severity: medium
    match: exists hostname
    group_by: [hostname]
    absence: {after: 8s}
YAML
export SENTINELD_RULES="$TMP/rules"
hop_pair

quiet() { # hostname:incidents of host-quiet, sorted
    q "select group_key->>'hostname'||':'||count(*) from incidents where rule_id = 'host-quiet' group by group_key->>'hostname' order by 1" |
        tr '\n' ' '
}
python3 - "$SYSLOG_PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for i in range(3):
    t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    s.sendall(("<30>1 %sZ web3 app 42 - - line %d\n" % (t, i)).encode())
    time.sleep(1)
s.close()
PY
one() { test "$(quiet)" = "web3:1 "; }
check "web3, silent, is one absence incident" within 60 one
part=$(timeout 20 kcat -b "$BOOTSTRAP" -C -t sentineld.events -e -q -f '%p\n' 2>/dev/null | head -n 1)
owner=$(q "select owner from sentineld_partition_checkpoints where topic = 'sentineld.events' and partition = ${part:-0}")
if [ "${owner##*/}" = "$(cat "$TMP/a.pid")" ]; then
    go=a stay=b
else
    go=b stay=a
fi
diag "web3 on events partition $part, owned by $owner ($go) at $(($(date +%s) - T0)) s"
sleep 2 # a checkpoint since the absence (checkpoint_interval 1 s)
check "$go (owner of web3's partition) stops cleanly" stop "$go"
check "$stay takes the 6 partitions of both topics" wait_for 40 hop_spread $stay
diag "hand-over done at $(($(date +%s) - T0)) s"
sleep 6 # a restored key seen present is absent at the first tick
diag "host-quiet incidents (host:count): $(quiet)"
check "after the hand-over: still one absence incident for web3" one
check "$stay stops cleanly" stop $stay
DPID=$EDGE
stop_daemon
diag "scenario took $(($(date +%s) - T0)) s"
