#!/bin/bash
# conf/examples/full.yaml started as it is (only its own variables set:
# ports, state dir, the PostgreSQL URL and the brokers) against a real
# PostgreSQL and the Kafka-protocol test broker: logger's failed passwords
# become one ssh-brute-force incident seen in PostgreSQL, on the alerts
# topic (read with kcat), through the API, and its events in the console's
# event search.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/pglib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"

tap_plan 7
pg_start || { echo "Bail out! PostgreSQL did not start"; exit 1; }
start_broker -b 1 -t sentineld.alerts:1 || { echo "Bail out! broker"; exit 1; }

p_sys=$(free_port)
p_http=$(free_port)
mkdir -p "$TMP/state"
export SENTINELD_PG_URL="$PG_URL" SENTINELD_KAFKA_BROKERS="$BOOTSTRAP"
export SENTINELD_SYSLOG_PORT=$p_sys SENTINELD_HTTP_LISTEN="127.0.0.1:$p_http"
export SENTINELD_STATE_DIR="$TMP/state" SENTINELD_RULES="$SRCDIR/conf/rules"
full="$SRCDIR/conf/examples/full.yaml"

"$SENTINELD" check -c "$full" >"$TMP/check.out" 2>&1
check "sentineld check passes on conf/examples/full.yaml" test $? -eq 0
tok=$("$SENTINELD" token create --name full --role viewer -c "$full" 2>/dev/null)
start_daemon "$full" "$TMP/s.log"
check "it starts and listens" \
    wait_for 20 grep -q "listening on tcp://127.0.0.1:$p_sys" "$TMP/s.log"

for i in $(seq 1 12); do
    logger --server 127.0.0.1 --port "$p_sys" --tcp --rfc3164 -t "sshd[$((500 + i))]" \
        "Failed password for invalid user ops$i from 203.0.113.99 port $((42000 + i)) ssh2"
done
q() { pg_psql -c "$1" 2>/dev/null; }
in_pg() {
    [ "$(q "select count(*) from incidents where rule_id = 'ssh-brute-force'
            and group_key->>'source.ip' = '203.0.113.99'")" = 1 ]
}
check "the ssh-brute-force incident reaches PostgreSQL" wait_for 30 in_pg
id=$(q "select id from incidents where rule_id = 'ssh-brute-force'")
on_topic() {
    timeout 10 kcat -b "$BOOTSTRAP" -C -t sentineld.alerts -e -q \
        -f '%k\n' >"$TMP/keys" 2>/dev/null
    grep -qx "$id" "$TMP/keys"
}
check "and the alerts topic, keyed by its id" wait_for 30 on_topic
api() {
    curl -sf -H "Authorization: Bearer $tok" \
        "http://127.0.0.1:$p_http/api/v1/incidents/$id" >"$TMP/inc.json"
}
check "and the API" wait_for 10 api
events() {
    curl -sf -H "Authorization: Bearer $tok" \
        "http://127.0.0.1:$p_http/api/v1/events?q=203.0.113.99" >"$TMP/ev.json" &&
        grep -q 'ops12' "$TMP/ev.json"
}
check "its events are in the console's event search" wait_for 20 events
stop_daemon
check "SIGTERM stops it cleanly" test $? -eq 0
tap_done
