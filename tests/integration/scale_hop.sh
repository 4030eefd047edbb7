#!/bin/sh
# The repartition hop (docs/scaling.md): conf/examples/edge.yaml and
# conf/examples/detector.yaml as they ship, the events topic keyed by
# hostname (the edge's default), three detector instances in one group on
# the mock cluster (6 events partitions, 6 repartition partitions), the
# shipped rule pack, incidents and partition checkpoints in PostgreSQL.
# 20 attackers each fail 20 SSH passwords, each attacker over 4 of 12
# servers, so every attacker's failures are on several partitions read by
# several instances; ordinary logins in between. ssh-brute-force groups
# by source.ip, not by the topic's key: its matches go through the
# repartition topic to the instance owning the attacker's key. In the
# middle of the attack one instance is killed with -9 (its matches after
# its last checkpoint are produced again by the next owner: the replay
# marks must drop them), then all three restart one after the other.
# Every attacker must be exactly one incident with hit_count 20, in
# PostgreSQL and as the last version on the alerts topic (kcat).
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
. "$SRCDIR/tests/integration/pglib.sh"
. "$SRCDIR/tests/integration/attack_lib.sh"
tap_plan 13

ATTACKERS=20
PER=20
# The mock cluster checks nothing about creation: the detectors still read
# both topics' partition counts at start and must find them equal.
hop_cluster 3

detector() { hop_detector "$@"; }
msum() { echo $(($(hop_metric a "$1") + $(hop_metric b "$1") + $(hop_metric c "$1"))); }

# send FROM TO: rounds FROM..TO-1 of the attack to the edge. Failure i of
# attacker a is on server web(a%3*4 + (a+i)%4 + 1): 4 servers each, 12 in
# all, so the attack covers every partition; each failure is followed by
# an ordinary login on the same server.
SENT=0
send() {
    python3 - "$SYSLOG_PORT" "$ATTACKERS" "$1" "$2" <<'PY'
import socket, sys, time
port, n, lo, hi = map(int, sys.argv[1:5])
s = socket.create_connection(("127.0.0.1", port))
out = []
t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
for i in range(lo, hi):
    for a in range(n):
        host = "web%02d" % (a % 3 * 4 + (a + i) % 4 + 1)
        out.append("<38>1 %s.%06dZ %s sshd %d - - Failed password for user%d "
                   "from 203.0.113.%d port %d ssh2\n"
                   % (t, i * 100 + a, host, 1000 + a, i, a + 1, 40000 + i))
        out.append("<38>1 %s.%06dZ %s sshd %d - - Accepted publickey for deploy "
                   "from 192.0.2.%d port %d ssh2\n"
                   % (t, i * 100 + a, host, 2000 + a, a + 1, 50000 + i))
s.sendall("".join(out).encode())
s.close()
PY
    SENT=$((SENT + ($2 - $1) * ATTACKERS * 2))
    wait_until 20 "test \"\$(kcount sentineld.events)\" -ge $SENT"
}

T0=$(date +%s)
# A checkpoints only when its partitions move: its kill -9 makes the
# survivors read all it read again, and its matches come a second time.
detector a 60s
detector b
detector c
check "three instances as shipped share the 6 partitions of the events and of the repartition topic" \
    wait_for 40 hop_spread a b c
check "the repartition topic has as many partitions as the events topic, and no instance warned" sh -c "
    parts() { kcat -L -b $BOOTSTRAP -t \$1 | sed -n 's/.* with \\([0-9]*\\) partitions.*/\\1/p'; }
    n=\$(parts sentineld.events)
    [ -n \"\$n\" ] && [ \"\$(parts $GROUP.repartition)\" = \"\$n\" ] || exit 1
    ! grep -h 'rules: repartition topic' '$TMP/a.log' '$TMP/b.log' '$TMP/c.log'"
send 0 7
check "the events topic is keyed by hostname: the attack is on all 6 partitions" sh -c "
    for p in 0 1 2 3 4 5; do
        n=\$(timeout 20 kcat -b $BOOTSTRAP -C -t sentineld.events -p \$p -e -q -f 'x\n' 2>/dev/null | wc -l)
        [ \"\$n\" -gt 0 ] || exit 1
    done"
send 7 10
WHERE="rule_id = 'ssh-brute-force'"
hits() { q "select count(*)||' '||coalesce(sum(hit_count),0) from incidents where $WHERE"; }
# Before the hop 0 of 20 fired here: each instance saw a part of each
# attacker's 10 failures (issue #19).
check "while all three run, every attacker's 10 failures over 4 servers fire its incident" \
    wait_until 30 "test \"\$(hits)\" = \"$ATTACKERS $((ATTACKERS * 10))\""
kill -9 "$(cat "$TMP/a.pid")"
wait "$(cat "$TMP/a.pid")" 2>/dev/null
K=$(date +%s)
send 10 13
check "after kill -9 the two survivors take over all partitions of both topics" wait_for 40 hop_spread b c
diag "hand-over after kill -9: $(($(date +%s) - K)) s (session timeout 6 s)"
check "the survivors drop the matches A's partitions produced again" \
    wait_until 20 "test \$((\$(hop_metric b plugin_repartition_replays_dropped_total) + \$(hop_metric c plugin_repartition_replays_dropped_total))) -gt 0"
diag "replays dropped: $(($(hop_metric b plugin_repartition_replays_dropped_total) + $(hop_metric c plugin_repartition_replays_dropped_total)))"
detector a

rolling_restart

check_attack_incidents
check "an incident explains the hopped match (condition trace, evidence)" python3 - "$TMP/alerts.json" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    m = json.loads(l)
    if m.get("rule_id") == "ssh-brute-force":
        s = json.dumps(m)
        assert "Failed password" in s and "203.0.113." in s, s[:400]
        assert "trace" in s or "condition" in s, s[:800]
        break
else:
    assert False, "no incident"
PY
check "no instance saw an ordinary login as an attack" \
    test "$(q "select count(*) from incidents where group_key->>'source.ip' like '192.0.2.%'")" = 0
P=$(msum plugin_repartition_produced_total) C=$(msum plugin_repartition_consumed_total)
R=$(msum plugin_repartition_replays_dropped_total)
diag "since the last restarts: produced $P, consumed $C, replays dropped $R"
check "the survivors' metrics count matches produced and consumed through the hop" \
    test "$P" -gt 0 -a "$C" -gt 0
for x in a b c; do kill -TERM "$(cat "$TMP/$x.pid")"; done
RC=0
for x in a b c; do wait "$(cat "$TMP/$x.pid")" || RC=$((RC + 1)); done
check "all three stop cleanly" test "$RC" -eq 0
grep -h "replays dropped\|repartition" "$TMP"/[abc].log | head -5 | sed 's/^/# /'
DPID=$EDGE
stop_daemon
diag "scenario took $(($(date +%s) - T0)) s"
