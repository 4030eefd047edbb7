#!/bin/sh
# Three detectors (docs/scaling.md): conf/examples/detector.yaml as it
# ships, three instances in one group on the mock cluster (3 brokers, a
# 6-partition events topic), the shipped rule pack, incidents and
# partition checkpoints in PostgreSQL, incidents on the alerts topic. The
# edge (conf/examples/edge.yaml) turns syslog into event JSON; the events
# topic is keyed by source.ip, ssh-brute-force's group_by (the edge
# extracts nothing, so the test re-keys the edge's events with kcat), so
# no correlation needs
# another instance's events. 20 attackers each fail 20 SSH passwords over
# 4 servers, interleaved with ordinary logins. In the middle of the attack
# one instance is killed with kill -9; it comes back, then all three are
# restarted one after the other while the attack goes on. Every attacker
# must be exactly one incident with hit_count 20, in PostgreSQL and as the
# last version on the alerts topic (kcat): nothing lost, nothing counted
# twice. The example's detectors are told the topic's key
# (SENTINELD_TOPIC_KEY=source.ip), so the SSH rules skip the repartition
# hop; scale_hop.sh runs the same attack with the topic keyed by hostname
# through the hop.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
. "$SRCDIR/tests/integration/pglib.sh"
. "$SRCDIR/tests/integration/attack_lib.sh"
tap_plan 11

ATTACKERS=20
PER=20
start_broker -b 3 -t sentineld.events:6 -t sentineld.alerts:1 -t edge.out:1 ||
    { not_ok "mock cluster starts"; exit 1; }
pg_start || { not_ok "PostgreSQL starts"; exit 1; }

export SENTINELD_KAFKA_BROKERS="$BOOTSTRAP" SENTINELD_PG_URL="$PG_URL"
export SENTINELD_RULES="$SRCDIR/conf/rules"  # the shipped rule pack
export SENTINELD_TOPIC_KEY=source.ip
# The edge: syslog in, event JSON out to edge.out (one partition: the
# test re-keys its messages in order).
SYSLOG_PORT=$(free_port)
export SENTINELD_SYSLOG_PORT=$SYSLOG_PORT SENTINELD_EVENTS_TOPIC=edge.out
export SENTINELD_HTTP_LISTEN="127.0.0.1:$(free_port)" SENTINELD_STATE_DIR="$TMP/edge-state"
start_daemon "$SRCDIR/conf/examples/edge.yaml" "$TMP/edge.log"
EDGE=$DPID
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $SYSLOG_PORT)).close()"

# detector NAME: start (again) instance NAME; its pid in $NAME.pid, its
# log in NAME.log (appended), its port in NAME.port.
detector() {
    [ -s "$TMP/$1.port" ] || free_port >"$TMP/$1.port"
    echo "=== start" >>"$TMP/$1.log"
    SENTINELD_EVENTS_TOPIC=sentineld.events SENTINELD_HTTP_LISTEN="127.0.0.1:$(cat "$TMP/$1.port")" \
        SENTINELD_STATE_DIR="$TMP/$1-state" SENTINELD_INSTANCE_ID="det-$1" \
        SENTINELD_MATCHES_FILE="$TMP/$1-matches.json" SENTINELD_SESSION_TIMEOUT_MS=6000 \
        "$SENTINELD" run -c "$SRCDIR/conf/examples/detector.yaml" >>"$TMP/$1.log" 2>&1 &
    echo $! >"$TMP/$1.pid"
    PIDS="$PIDS $!"
}
# owned NAME: the partitions NAME holds now, from its log since its last
# start (cooperative assignment logs increments with the total).
owned() {
    sed -n '/^=== start/h; /^=== start/!H; ${x;p}' "$TMP/$1.log" |
        sed -n 's/.*events: assigned [0-9]* partitions (\([0-9]*\) in all.*/\1/p; s/.*events: revoked [0-9]* partitions (\([0-9]*\) left).*/\1/p' |
        tail -n 1
}
spread() { # NAME...: each holds some, together all 6 (wait_for's t and i untouched)
    sp_total=0
    for sp_x in "$@"; do
        sp_o=$(owned "$sp_x")
        [ "${sp_o:-0}" -gt 0 ] || return 1
        sp_total=$((sp_total + sp_o))
    done
    [ "$sp_total" -eq 6 ]
}
stop() { # NAME: SIGTERM, exit status
    kill -TERM "$(cat "$TMP/$1.pid")"
    wait "$(cat "$TMP/$1.pid")"
}

# The whole attack goes through the edge first: failure i of attacker a
# on server web(a+i)%4, each followed by an ordinary login on the same
# server. The edge's events are then re-keyed by the address in them,
# one file per round, and fed to the events topic round by round
# (send FROM TO), so the attack goes on around the kill and the restarts.
python3 - "$SYSLOG_PORT" "$ATTACKERS" "$PER" <<'PY'
import socket, sys, time
port, n, per = map(int, sys.argv[1:4])
s = socket.create_connection(("127.0.0.1", port))
out = []
for i in range(per):
    for a in range(n):
        t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        host = "web%02d" % ((a + i) % 4 + 1)
        out.append("<38>1 %s.%06dZ %s sshd %d - - Failed password for user%d "
                   "from 203.0.113.%d port %d ssh2\n"
                   % (t, i * 100 + a, host, 1000 + a, i, a + 1, 40000 + i))
        out.append("<38>1 %s.%06dZ %s sshd %d - - Accepted publickey for deploy "
                   "from 192.0.2.%d port %d ssh2\n"
                   % (t, i * 100 + a, host, 2000 + a, a + 1, 50000 + i))
s.sendall("".join(out).encode())
s.close()
PY
TOTAL=$((ATTACKERS * PER * 2))
wait_until 20 "test \"\$(kcount edge.out)\" -ge $TOTAL"
timeout 30 kcat -b "$BOOTSTRAP" -C -t edge.out -e -q -f '%s\n' 2>/dev/null |
    python3 -c '
import json, re, sys
rounds = {}
for l in sys.stdin:
    m = re.search(r"from ([0-9.]+) port ([0-9]+)", json.loads(l)["msg"])
    rounds.setdefault(int(m.group(2)) % 10000, []).append(m.group(1) + "\t" + l)
for i, ls in rounds.items():
    open(sys.argv[1] + "/round.%d.tsv" % i, "w").writelines(ls)' "$TMP"
DPID=$EDGE
stop_daemon
check "the edge turned the whole attack into events, and stops cleanly" \
    test $? -eq 0 -a "$(cat "$TMP"/round.*.tsv | wc -l)" -eq "$TOTAL"
SENT=0
send() {
    for i in $(seq "$1" $(($2 - 1))); do cat "$TMP/round.$i.tsv"; done >"$TMP/send.tsv"
    kcat -b "$BOOTSTRAP" -t sentineld.events -P -K '	' -z none <"$TMP/send.tsv"
    SENT=$((SENT + $(wc -l <"$TMP/send.tsv")))
}
metric() { # NAME METRIC: its value (sum over labels)
    curl -s "http://127.0.0.1:$(cat "$TMP/$1.port")/metrics" |
        awk -v m="sentineld_$2" '$1 ~ "^"m"[{ ]" || $1 == m { s += $2 } END { print s + 0 }'
}
q() { pg_psql -c "$1" 2>/dev/null; }
ckpt_covered() {
    q "select coalesce(sum(next_offset), 0) from sentineld_partition_checkpoints where group_id = 'sentineld-detectors' and next_offset >= 0"
}

T0=$(date +%s)
detector a
detector b
detector c
check "three instances as shipped share the 6 partitions" wait_for 40 spread a b c

send 0 7
check "checkpoints cover the first 7 failures (and logins) of every attacker" \
    wait_until 30 "test \"\$(ckpt_covered)\" -eq $SENT"
send 7 10
wait_until 20 "test \$((\$(metric a plugin_kafka_consumed_total) + \$(metric b plugin_kafka_consumed_total) + \$(metric c plugin_kafka_consumed_total))) -ge $SENT"
kill -9 "$(cat "$TMP/a.pid")"
wait "$(cat "$TMP/a.pid")" 2>/dev/null
K=$(date +%s)
# The attack goes on while A's partitions wait for the session timeout.
send 10 13
check "after kill -9 the two survivors take over all 6 partitions" wait_for 40 spread b c
diag "hand-over after kill -9: $(($(date +%s) - K)) s (session timeout 6 s)"
detector a

# Rolling restart: one instance after the other, each back (answering
# /health) before the next goes; the attack goes on in between.
rolling_restart

check_attack_incidents
check "no instance saw an ordinary login as an attack" \
    test "$(q "select count(*) from incidents where group_key->>'source.ip' like '192.0.2.%'")" = 0
check "every event reached an instance's matches file at least once" python3 - "$TMP" "$SENT" <<'PY'
import glob, json, sys
seen = set()
for f in glob.glob(sys.argv[1] + "/*-matches.json"):
    for l in open(f):
        e = json.loads(l)
        seen.add(e["msg"] + "|" + e["hostname"])
assert len(seen) == int(sys.argv[2]), (len(seen), sys.argv[2])
PY
diag "partitions held at the end: a $(owned a), b $(owned b), c $(owned c)"
# All three at once (docs/kafka.md: stopping together is safe).
for x in a b c; do kill -TERM "$(cat "$TMP/$x.pid")"; done
RC=0
for x in a b c; do wait "$(cat "$TMP/$x.pid")" || RC=$((RC + 1)); done
check "all three stop cleanly" test "$RC" -eq 0
check "their last checkpoints cover the whole stream" test "$(ckpt_covered)" -eq "$SENT"
diag "scenario took $(($(date +%s) - T0)) s"
