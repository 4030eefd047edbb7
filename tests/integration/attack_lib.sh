# The end of an SSH attack scenario with several detectors
# (scale_three.sh, scale_hop.sh), sourced after lib.sh, kafka_lib.sh and
# pglib.sh. check_attack_incidents: waits (90 s at most) until PostgreSQL
# holds, per attacker, one ssh-brute-force incident of PER hits (a total
# alone can be met while one attacker's last version is still in flight
# and another's is ahead), then checks that every attacker 203.0.113.1..ATTACKERS is exactly one
# incident of PER hits, and that the alerts topic (read with kcat) has one
# id per attacker whose last version has PER hits, the ids PostgreSQL has.
# Uses q (psql -c), T0, TMP, BOOTSTRAP.
#
# For the detectors of conf/examples/detector.yaml (or HOP_CONF) with the
# repartition hop (scale_hop.sh, scale_hop_burst.sh): hop_cluster starts
# what they run against, hop_detector starts
# one (its pid, port and log in TMP/NAME.*), hop_pair two (a and b), hop_owned and hop_spread read the
# partitions they hold from their logs, stop ends one, hop_metric reads
# one's /metrics; q runs a query on the test's PostgreSQL.
# ca_complete: true when every attacker is one incident of PER hits, and
# no other source has one (compared sorted, whatever the collation).
ca_complete() {
    q "select group_key->>'source.ip'||':'||count(*)||':'||sum(hit_count) from incidents where $ca_where group by group_key->>'source.ip'" |
        LC_ALL=C sort >"$TMP/ca_have"
    i=1
    while [ "$i" -le "$ATTACKERS" ]; do
        printf '203.0.113.%d:1:%d\n' "$i" "$PER"
        i=$((i + 1))
    done | LC_ALL=C sort >"$TMP/ca_want"
    cmp -s "$TMP/ca_have" "$TMP/ca_want"
}

check_attack_incidents() {
    ca_where="rule_id = 'ssh-brute-force'"
    diag "attack sent at $(($(date +%s) - T0)) s"
    # An attack's last matches reach its incident as the fired window's
    # updates (refire per_window: every 5 s of watermark, the rest at the
    # close, 2 min after the first): 60-65 s here once the group is calm.
    within 150 ca_complete
    diag "incidents complete in PostgreSQL at $(($(date +%s) - T0)) s"
    # Deliveries still in flight would show up as extra rows or hits.
    sleep 2
    q "select group_key->>'source.ip', count(*), sum(hit_count) from incidents where $ca_where group by 1 order by 1" >"$TMP/pg.txt"
    # What PostgreSQL holds, in the log, should a check below fail.
    diag "PostgreSQL per attacker (ip|incidents|hits): $(tr '\n' ' ' <"$TMP/pg.txt")"
    check "PostgreSQL: every attacker is exactly one incident of exactly $PER hits" python3 - "$TMP/pg.txt" "$ATTACKERS" "$PER" <<'PY'
import sys
rows = [l.split("|") for l in open(sys.argv[1]).read().split()]
n, per = int(sys.argv[2]), int(sys.argv[3])
want = [["203.0.113.%d" % a, "1", str(per)] for a in range(1, n + 1)]
assert sorted(rows) == sorted(want), rows
PY
    timeout 30 kcat -b "$BOOTSTRAP" -C -t sentineld.alerts -e -q -f '%s\n' >"$TMP/alerts.json" 2>/dev/null
    q "select id from incidents where $ca_where order by 1" >"$TMP/pg_ids.txt"
    check "alerts topic (kcat): one incident id per attacker, its last version $PER hits, the ids PostgreSQL has" \
        python3 - "$TMP/alerts.json" "$TMP/pg_ids.txt" "$ATTACKERS" "$PER" <<'PY'
import json, sys
last = {}
for l in open(sys.argv[1]):
    m = json.loads(l)
    if m.get("rule_id") != "ssh-brute-force":
        continue
    if m["id"] not in last or m["version"] > last[m["id"]]["version"]:
        last[m["id"]] = m
n, per = int(sys.argv[3]), int(sys.argv[4])
ips = sorted(m["group_key"]["source.ip"] for m in last.values())
assert ips == sorted("203.0.113.%d" % a for a in range(1, n + 1)), ips
assert all(m["hit_count"] == per for m in last.values()), \
    [(m["group_key"], m["hit_count"]) for m in last.values()]
assert sorted(last) == open(sys.argv[2]).read().split(), "ids differ"
PY
}

# rolling_restart: stop and start b, c, then a, each back (answering
# /health) before the next goes, while the attack goes on in between
# (rounds 13-20); checks that every stop exits 0. Uses the caller's stop,
# detector and send.
rolling_restart() {
    rr_rc=0
    for rr_x in b c a; do
        wait_for 20 curl -sf "http://127.0.0.1:$(cat "$TMP/$rr_x.port")/health" -o /dev/null
        stop "$rr_x" || rr_rc=$((rr_rc + 1))
        detector "$rr_x"
        case $rr_x in b) send 13 16 ;; c) send 16 18 ;; a) send 18 20 ;; esac
    done
    check "each instance stops cleanly (exit 0) in the rolling restart" test "$rr_rc" -eq 0
}

# hop_cluster BROKERS: the mock cluster (sentineld.events and
# GROUP.repartition with 6 partitions each, sentineld.alerts), PostgreSQL,
# the shipped rule pack, and the shipped edge (syslog in on SYSLOG_PORT,
# events out keyed by hostname; its pid in EDGE). The repartition topic is
# made here: librdkafka's mock cluster does not implement CreateTopics (and
# names no controller), so the detectors' creation of a missing topic
# cannot run against it. Ends the test when one does not start.
hop_cluster() {
    GROUP=sentineld-detectors
    start_broker -b "$1" -t sentineld.events:6 -t sentineld.alerts:1 \
        -t "$GROUP.repartition:6" || { not_ok "mock cluster starts"; exit 1; }
    pg_start || { not_ok "PostgreSQL starts"; exit 1; }
    export SENTINELD_KAFKA_BROKERS="$BOOTSTRAP" SENTINELD_PG_URL="$PG_URL"
    export SENTINELD_RULES="$SRCDIR/conf/rules"
    SYSLOG_PORT=$(free_port)
    SENTINELD_SYSLOG_PORT=$SYSLOG_PORT SENTINELD_HTTP_LISTEN="127.0.0.1:$(free_port)" \
        SENTINELD_STATE_DIR="$TMP/edge-state" \
        start_daemon "$SRCDIR/conf/examples/edge.yaml" "$TMP/edge.log"
    EDGE=$DPID
    wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $SYSLOG_PORT)).close()"
}
hop_conf_now() { # HOP_CONF: the shipped detector, every incident version
    # delivered at once: a version that only adds hits is otherwise held
    # up to 1 m (incidents.update_interval, docs/incidents.md "Versions").
    HOP_CONF="$TMP/detector.yaml"
    { cat "$SRCDIR/conf/examples/detector.yaml"; echo "incidents: { update_interval: 0 }"; } >"$HOP_CONF"
}
hop_detector() { # NAME [CHECKPOINT_INTERVAL]: start (again) instance NAME
    [ -s "$TMP/$1.port" ] || free_port >"$TMP/$1.port"
    echo "=== start" >>"$TMP/$1.log"
    SENTINELD_CHECKPOINT_INTERVAL=${2:-1s} SENTINELD_HTTP_LISTEN="127.0.0.1:$(cat "$TMP/$1.port")" \
        SENTINELD_STATE_DIR="$TMP/$1-state" SENTINELD_INSTANCE_ID="det-$1" \
        SENTINELD_MATCHES_FILE="$TMP/$1-matches.json" SENTINELD_SESSION_TIMEOUT_MS=6000 \
        "$SENTINELD" run -c "${HOP_CONF:-$SRCDIR/conf/examples/detector.yaml}" >>"$TMP/$1.log" 2>&1 &
    echo $! >"$TMP/$1.pid"
    PIDS="$PIDS $!"
}
hop_pair() { # T0 now, detectors a and b started; checks that they share both topics
    T0=$(date +%s)
    hop_detector a
    hop_detector b
    check "the two detectors share the 6 partitions of the events and of the repartition topic" \
        wait_for 40 hop_spread a b
    diag "group settled at $(($(date +%s) - T0)) s"
}
hop_owned() { # NAME INPUT: the partitions of INPUT that NAME holds since its last start
    sed -n '/^=== start/h; /^=== start/!H; ${x;p}' "$TMP/$1.log" |
        sed -n "s/.*$2: assigned [0-9]* partitions (\([0-9]*\) in all.*/\1/p; s/.*$2: revoked [0-9]* partitions (\([0-9]*\) left).*/\1/p" |
        tail -n 1
}
hop_spread() { # NAME...: together they hold all 6 partitions of both topics
    for sp_in in events repartition; do
        sp_total=0
        for sp_x in "$@"; do
            sp_total=$((sp_total + $(hop_owned "$sp_x" $sp_in | grep . || echo 0)))
        done
        [ "$sp_total" -eq 6 ] || return 1
    done
}
stop() { kill -TERM "$(cat "$TMP/$1.pid")"; wait "$(cat "$TMP/$1.pid")"; }
hop_metric() { # NAME METRIC: its value (sum over labels)
    curl -s "http://127.0.0.1:$(cat "$TMP/$1.port")/metrics" |
        awk -v m="sentineld_$2" '$1 ~ "^"m"[{ ]" || $1 == m { s += $2 } END { print s + 0 }'
}
q() { pg_psql -c "$1" 2>/dev/null; }
