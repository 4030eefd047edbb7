#!/bin/sh
# Signal-fed sequences through the repartition hop (docs/scaling.md,
# "Signal-fed sequences"): conf/examples/edge.yaml and
# conf/examples/detector.yaml as they ship, the events topic keyed by
# hostname, two detectors in one group, the shipped rule pack.
# ssh-brute-force fires where hash(ssh-brute-force, source.ip) is owned;
# ssh-brute-force-then-success (a sequence of that signal, then an
# ssh-login-success match) is keyed by hash(sequence, source.ip), usually
# another repartition partition, often read by the other instance. Every
# attacker fails 30 passwords over 4 of 12 servers (three rounds of 10 in
# one 2-minute window: one ssh-brute-force firing, the other 20 its
# updates), then logs in once: each must be exactly one ssh-brute-force
# incident of 30 hits and one ssh-brute-force-then-success incident, in
# PostgreSQL and on the alerts topic (kcat). Before, a sequence's signal
# step stayed where the signal was raised while its login step went to
# the sequence's key: the then-success incidents of the attackers whose
# two keys were read by different instances were never raised.
# (ssh-repeat-offender needs three fired windows, minutes of event time
# apart: conf/rules/samples/sshd-relays.log and test_correlate cover it.)
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
. "$SRCDIR/tests/integration/pglib.sh"
. "$SRCDIR/tests/integration/attack_lib.sh"
tap_plan 8

ATTACKERS=12
hop_cluster 1
hop_conf_now

hop_pair

# send KIND ROUND: failures i = 10*ROUND .. +9 of every attacker a, on
# server web(a%3*4 + i%4 + 1), or (KIND login) one login of each.
SENT=0
send() {
    python3 - "$SYSLOG_PORT" "$ATTACKERS" "$1" "$2" <<'PY'
import socket, sys, time
port, n, kind, rnd = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
out = []
for a in range(n):
    if kind == "login":
        out.append("<38>1 %s.%06dZ web%02d sshd %d - - Accepted password for root "
                   "from 203.0.113.%d port 41000 ssh2\n"
                   % (t, a, a % 3 * 4 + 1, 3000 + a, a + 1))
        continue
    for i in range(10 * rnd, 10 * rnd + 10):
        out.append("<38>1 %s.%06dZ web%02d sshd %d - - Failed password for user%d "
                   "from 203.0.113.%d port %d ssh2\n"
                   % (t, a * 100 + i, a % 3 * 4 + i % 4 + 1, 1000 + a, i, a + 1,
                      40000 + i))
s = socket.create_connection(("127.0.0.1", port))
s.sendall("".join(out).encode())
s.close()
PY
}
bf() { q "select coalesce(sum(hit_count),0) from incidents where rule_id = 'ssh-brute-force'"; }
for r in 0 1 2; do
    send fail $r
    wait_until 30 "test \"\$(bf)\" -ge $((ATTACKERS * 10 * (r + 1)))"
done
diag "brute forces counted at $(($(date +%s) - T0)) s: $(bf) hits"
send login 0

# rule_id -> "count|incidents|hits" of attackers 203.0.113.*
rows() {
    q "select rule_id||':'||count(distinct group_key->>'source.ip')||':'||count(*)||':'||sum(hit_count)
       from incidents where group_key->>'source.ip' like '203.0.113.%'
       and rule_id in ('ssh-brute-force', 'ssh-brute-force-then-success') group by rule_id order by rule_id" |
        tr '\n' ' '
}
# A sequence's hit count is its steps: 2.
want="ssh-brute-force:$ATTACKERS:$ATTACKERS:$((ATTACKERS * 30)) ssh-brute-force-then-success:$ATTACKERS:$ATTACKERS:$((ATTACKERS * 2)) "
wait_until 30 "test \"\$(rows)\" = \"$want\""
sleep 2 # deliveries in flight would show up as extra rows
diag "incidents at $(($(date +%s) - T0)) s: $(rows)"
check "PostgreSQL: every attacker is one ssh-brute-force incident of 30 hits" \
    test "$(q "select count(*) from (select group_key->>'source.ip' ip, count(*) n, sum(hit_count) h
        from incidents where rule_id = 'ssh-brute-force' group by 1) x where n = 1 and h = 30")" = "$ATTACKERS"
check "PostgreSQL: every attacker is exactly one ssh-brute-force-then-success incident (2 steps)" \
    test "$(q "select count(distinct group_key->>'source.ip')||' '||count(*)||' '||min(hit_count)||' '||max(hit_count)
        from incidents where rule_id = 'ssh-brute-force-then-success'")" = "$ATTACKERS $ATTACKERS 2 2"
check "no ssh-repeat-offender: 30 failures in one window are one ban, their updates no sequence steps" \
    test "$(q "select count(*) from incidents where rule_id = 'ssh-repeat-offender'")" = 0

timeout 30 kcat -b "$BOOTSTRAP" -C -t sentineld.alerts -e -q -f '%s\n' >"$TMP/alerts.json" 2>/dev/null
q "select rule_id||' '||id from incidents order by 1" >"$TMP/pg_ids.txt"
check "alerts topic (kcat): the sequence's incidents once per attacker, the ids PostgreSQL has" \
    python3 - "$TMP/alerts.json" "$TMP/pg_ids.txt" "$ATTACKERS" <<'PY'
import json, sys
n = int(sys.argv[3])
ids = {}
for l in open(sys.argv[1]):
    m = json.loads(l)
    ids.setdefault(m["rule_id"], {}).setdefault(m["id"], m["group_key"]["source.ip"])
pg = {}
for l in open(sys.argv[2]):
    r, i = l.split()
    pg.setdefault(r, set()).add(i)
want = sorted("203.0.113.%d" % a for a in range(1, n + 1))
for r in ("ssh-brute-force-then-success",):
    assert sorted(ids.get(r, {}).values()) == want, (r, ids.get(r))
    assert set(ids[r]) == pg[r], (r, "ids differ")
PY

# The signal steps travelled on the sequence key's partition (compact
# matches of rule ssh-brute-force for spec ssh-brute-force-then-success,
# keyed like the login's).
check "signal steps travel on the sequence key's repartition partition" sh -c "
    for p in 0 1 2 3 4 5; do
        timeout 20 kcat -b $BOOTSTRAP -C -t $GROUP.repartition -p \$p -e -q -f \"\$p %S\n%s\" 2>/dev/null
    done >'$TMP/hop.bin'
    python3 - '$TMP/hop.bin' <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
part = {}
at = 0
while at < len(data):
    nl = data.index(b'\n', at)
    p, n = map(int, data[at:nl].split()); m = data[nl + 1:nl + 1 + n]; at = nl + 1 + n
    if m[:4] == b'SNW1':
        continue  # a watermark beat (docs/scaling.md)
    assert m[:4] == b'SNH1', m[:8]
    o = 4
    l, = struct.unpack_from('<I', m, o); spec = m[o + 4:o + 4 + l].decode(); o += 4 + l
    l, = struct.unpack_from('<I', m, o); rule = m[o + 4:o + 4 + l].decode(); o += 4 + l
    h, = struct.unpack_from('<Q', m, o)
    part.setdefault((spec, rule), {}).setdefault(h, set()).add(p)
seq = 'ssh-brute-force-then-success'
steps = part.get((seq, 'ssh-brute-force'), {})
logins = part.get((seq, 'ssh-login-success'), {})
assert len(steps) == $ATTACKERS and sorted(steps) == sorted(logins), (steps, logins)
assert all(steps[h] == logins[h] for h in steps), 'steps on other partitions'
print('# signal and login steps of %d keys met on one partition' % len(steps))
PY"
check "every compact match was one of this ruleset" \
    test "$(($(hop_metric a repartition_rejected_total) + $(hop_metric b repartition_rejected_total)))" = 0
stop_both() { stop a && stop b; }
check "the detectors stop cleanly" stop_both
DPID=$EDGE
stop_daemon
diag "scenario took $(($(date +%s) - T0)) s"
