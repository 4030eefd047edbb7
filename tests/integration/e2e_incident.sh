#!/bin/bash
# End to end, with every real component: logger -> rsyslog (imtcp, the
# sysadmin's contrib snippet: omfwd octet-counted) -> sentineld running the
# shipped conf/examples/postgres-kafka.yaml and rule pack -> an SSH
# brute-force incident in PostgreSQL and on the Kafka alerts topic (read
# with kcat), with its explanation; then the store, PostgreSQL and Kafka
# agree on every incident's latest version.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/pglib.sh"
. "$SRCDIR/tests/integration/kafka_lib.sh"
. "$SRCDIR/tests/integration/converge_lib.sh"

RSYSLOGD=$(command -v rsyslogd || ls /usr/sbin/rsyslogd 2>/dev/null)
[ -n "$RSYSLOGD" ] || skip_all "rsyslogd not installed"

tap_plan 13

pg_start || { echo "Bail out! PostgreSQL did not start"; exit 1; }
start_broker -b 1 -t sentineld.alerts:1 || { echo "Bail out! broker"; exit 1; }

p_sys=$(free_port)
p_http=$(free_port)
p_rs=$(free_port)
mkdir -p "$TMP/state"
export SENTINELD_PG_URL="$PG_URL" SENTINELD_KAFKA_BROKERS="$BOOTSTRAP"
export SENTINELD_SYSLOG_PORT=$p_sys SENTINELD_HTTP_LISTEN="127.0.0.1:$p_http"
export SENTINELD_STATE_DIR="$TMP/state" SENTINELD_RULES="$SRCDIR/conf/rules"
export SENTINELD_LOG_LEVEL=info

"$SENTINELD" check -c "$SRCDIR/conf/examples/postgres-kafka.yaml" >"$TMP/check.out" 2>&1
check "the shipped postgres-kafka example passes sentineld check" \
    test $? -eq 0
O=$("$SENTINELD" token create --name olga --role operator \
    -c "$SRCDIR/conf/examples/postgres-kafka.yaml" 2>/dev/null)
start_daemon "$SRCDIR/conf/examples/postgres-kafka.yaml" "$TMP/s.log"
check "sentineld listens" \
    wait_for 15 grep -q "listening on tcp://127.0.0.1:$p_sys" "$TMP/s.log"

sed "s/port=\"5514\"/port=\"$p_sys\"/" \
    "$SRCDIR/contrib/rsyslog/sentineld.conf" >"$TMP/sentineld.conf"
cat >"$TMP/rsyslog.conf" <<EOC
global(workDirectory="$TMP/rs")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="$p_rs" ruleset="fwd")
ruleset(name="fwd") {
    include(file="$TMP/sentineld.conf")
}
EOC
mkdir -p "$TMP/rs"
"$RSYSLOGD" -n -f "$TMP/rsyslog.conf" -i "$TMP/rs.pid" >"$TMP/rs.out" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $p_rs)).close()"

# Twelve failed passwords from one address (the rule wants 10 in 2 min),
# a failure from another address, then normal traffic.
for i in $(seq 1 12); do
    logger --server 127.0.0.1 --port "$p_rs" --tcp --rfc3164 -t "sshd[$((900 + i))]" \
        "Failed password for invalid user admin$i from 203.0.113.7 port $((40000 + i)) ssh2"
done
logger --server 127.0.0.1 --port "$p_rs" --tcp --rfc3164 -t "sshd[999]" \
    "Failed password for root from 198.51.100.9 port 50000 ssh2"
logger --server 127.0.0.1 --port "$p_rs" --tcp --rfc3164 -t CRON \
    "(root) CMD (run-parts /etc/cron.hourly)"

q() { pg_psql -c "$1" 2>/dev/null; }
brute_force_in_pg() {
    [ "$(q "select count(*) from incidents where rule_id = 'ssh-brute-force'")" = 1 ]
}
check "an ssh-brute-force incident reaches PostgreSQL" \
    wait_for 30 brute_force_in_pg
row=$(q "select id, severity, status, group_key->>'source.ip', hit_count,
                explanation->>'kind', explanation->'window'->>'threshold'
         from incidents where rule_id = 'ssh-brute-force'")
diag "postgres: $row"
IFS='|' read -r id sev status ip hits kind thr <<<"$row"
check "keyed by the attacker's address" test "$ip" = 203.0.113.7
check "it explains itself: a threshold of 10, at least 10 hits" \
    test "$kind" = threshold -a "$thr" = 10 -a "${hits:-0}" -ge 10
check "no incident for the address that failed once" \
    test "$(q "select count(*) from incidents where group_key->>'source.ip' = '198.51.100.9'")" = 0

# Kafka, read independently of sentineld: key = incident id.
wait_for 30 sh -c "timeout 10 kcat -b '$BOOTSTRAP' -C -t sentineld.alerts -e -q \
    -f '%k\t%h\t%s\n' >'$TMP/alerts.txt' 2>/dev/null; grep -q '$id' '$TMP/alerts.txt'"
check "the incident is on the alerts topic, keyed by its id" \
    grep -q "^$id	" "$TMP/alerts.txt"
check "with rule and severity headers" \
    grep -q "^$id	.*rule_id=ssh-brute-force" "$TMP/alerts.txt"
check "and the explanation in the value" \
    sh -c "grep '^$id	' '$TMP/alerts.txt' | grep -q '\"explanation\"'"

# The trail in PostgreSQL says who did what: each outbox document
# carries the change that made its version (docs/incidents.md).
check "incident_audit: sentineld opened it" test \
    "$(q "select action||'|'||actor from incident_audit where incident_id = '$id' order by version limit 1")" = "open|sentineld"
curl -s -o /dev/null -X POST -H "Authorization: Bearer $O" -H 'Content-Type: application/json' \
    --data-binary '{"reason":"looking into it"}' \
    "http://127.0.0.1:$p_http/api/v1/incidents/$id/acknowledge"
acked_in_pg() {
    [ "$(q "select action||'|'||actor||'|'||reason from incident_audit where incident_id = '$id' and action = 'acknowledge'")" = "acknowledge|olga|looking into it" ]
}
check "an acknowledgement through the API reaches incident_audit with who and why" \
    wait_for 20 acked_in_pg

# Convergence: every incident's latest version in the store equals what
# PostgreSQL holds and the highest version seen on the topic, once the
# daemon stopped cleanly (which delivers the hit-only versions held by
# incidents.update_interval).
stop_daemon
store_ids "$TMP/state/sentineld.db" >"$TMP/store.ids"
pg_ids >"$TMP/pg.ids"
kafka_ids sentineld.alerts >"$TMP/kafka.ids"
diag "store: $(tr '\n' ';' <"$TMP/store.ids")"
check "PostgreSQL holds exactly the store's incidents and versions" \
    sh -c "test -s '$TMP/store.ids' && cmp -s '$TMP/store.ids' '$TMP/pg.ids'"
check "the alerts topic converged on the same versions" \
    sh -c "test -s '$TMP/store.ids' && cmp -s '$TMP/store.ids' '$TMP/kafka.ids'"
tap_done
