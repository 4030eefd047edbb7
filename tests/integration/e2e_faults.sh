#!/bin/bash
# Faults on the delivery side, with the shipped postgres-kafka example:
# incidents keep opening while PostgreSQL is stopped, while the Kafka
# brokers are down, and across kill -9 of sentineld (restarted each time).
# At the end PostgreSQL and the alerts topic (read with kcat) hold exactly
# the incidents and latest versions the store holds: nothing missing.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/pglib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
. "$SRCDIR/tests/integration/converge_lib.sh"

KILLS=${E2E_KILLS:-5}
PG_DOWN=${E2E_PG_DOWN:-15}
tap_plan 9

pg_start || { echo "Bail out! PostgreSQL did not start"; exit 1; }
start_broker -b 1 -t sentineld.alerts:1 || { echo "Bail out! broker"; exit 1; }

p_sys=$(free_port)
p_http=$(free_port)
mkdir -p "$TMP/state"
export SENTINELD_PG_URL="$PG_URL" SENTINELD_KAFKA_BROKERS="$BOOTSTRAP"
export SENTINELD_SYSLOG_PORT=$p_sys SENTINELD_HTTP_LISTEN="127.0.0.1:$p_http"
export SENTINELD_STATE_DIR="$TMP/state" SENTINELD_RULES="$SRCDIR/conf/rules"
CONF="$SRCDIR/conf/examples/postgres-kafka.yaml"

run=0
start() {
    run=$((run + 1))
    start_daemon "$CONF" "$TMP/s$run.log"
    wait_for 20 grep -q "listening on tcp://127.0.0.1:$p_sys" "$TMP/s$run.log"
}
# attack FIRST COUNT: COUNT sources (10.9.x.y from index FIRST) fail 10
# SSH passwords each: one brute-force incident per source.
attack() {
    python3 - "$p_sys" "$1" "$2" <<'EOPY'
import socket, sys, time
port, first, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection(('127.0.0.1', port))
ts = time.strftime('%b %e %H:%M:%S')
lines = []
for k in range(first, first + count):
    ip = '10.9.%d.%d' % (k // 250, k % 250 + 1)
    for i in range(10):
        lines.append('<38>%s web1 sshd[%d]: Failed password for root from %s port %d ssh2\n'
                     % (ts, 1000 + k, ip, 40000 + i))
s.sendall(''.join(lines).encode())
s.close()
EOPY
}
q() { pg_psql -c "$1" 2>/dev/null; }
# pg_rows_ge N: PostgreSQL holds at least N incidents (re-queried on each
# call, so it can be polled with wait_for).
pg_rows_ge() { [ "$(q "select count(*) from incidents")" -ge "$1" ] 2>/dev/null; }
metric() {
    curl -s "http://127.0.0.1:$p_http/metrics" |
        awk -v m="$1" '$1 ~ "^"m"[{]" || $1 == m {s += $2} END {print s + 0}'
}

start
attack 0 20
check "incidents reach PostgreSQL" \
    wait_for 30 pg_rows_ge 20

# 1. PostgreSQL stopped while incidents keep opening.
pg_stop
attack 20 20
sleep "$PG_DOWN"
check "with PostgreSQL down the daemon keeps committing to the store" \
    test "$(metric sentineld_incidents_opened_total)" -ge 40
pg_start
check "after PostgreSQL returns, the backlog is delivered" \
    wait_for 60 pg_rows_ge 40

# 2. The brokers go down while incidents keep opening, then come back.
kill -USR1 "$BROKER_PID"
attack 40 20
sleep 5
kill -USR2 "$BROKER_PID"

# 3. kill -9 at moments during streams, restarting each time.
k=60
for i in $(seq 1 "$KILLS"); do
    attack $k 10 &
    ap=$!
    sleep "0.$((RANDOM % 9 + 1))"
    kill -9 "$DPID"
    wait "$DPID" 2>/dev/null
    wait "$ap" 2>/dev/null
    k=$((k + 10))
    start
done
attack $k 10
check "still running after $KILLS kill -9 and restarts" kill -0 "$DPID"

drained() {
    [ "$(metric sentineld_outbox_backlog)" = 0 ] &&
        [ "$(metric sentineld_incident_queue_length)" = 0 ]
}
check "the outbox drains for both outputs" wait_for 90 drained
sleep 2
# A clean stop delivers the versions held by incidents.update_interval
# (hit-only updates go out at most once a minute): then every output
# must hold the store's latest version.
stop_daemon

store_ids "$TMP/state/sentineld.db" >"$TMP/store.ids"
pg_ids >"$TMP/pg.ids"
kafka_ids sentineld.alerts >"$TMP/kafka.ids"
n=$(wc -l <"$TMP/store.ids")
diag "store $n, postgres $(wc -l <"$TMP/pg.ids"), kafka $(wc -l <"$TMP/kafka.ids") incidents"
check "the store holds the incidents of every phase ($n >= 60)" test "$n" -ge 60
check "PostgreSQL equals the store: every incident, latest version" \
    cmp -s "$TMP/store.ids" "$TMP/pg.ids"
check "the alerts topic converged on the store's latest versions" \
    cmp -s "$TMP/store.ids" "$TMP/kafka.ids"
check "one row per brute-force source in PostgreSQL (no duplicate incidents)" \
    test "$(q "select count(*) - count(distinct group_key->>'source.ip') from incidents where rule_id = 'ssh-brute-force'")" = 0
tap_done
