#!/bin/sh
# Who can read the state (issue #14): under umask 022 the daemon still
# creates the state directory 0750 and the incident store, the event
# history and their -wal/-shm 0600 (incidents, audit and raw events hold
# personal data); files an older version left readable (0644, directory
# 0755) are tightened at the next start with a warning naming each path.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 8

umask 022
hp=$(free_port)
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$hp" }
inputs:
  - { name: api, plugin: in_http }
detectors:
  - { name: rules, plugin: det_rules, rules: [ $SRCDIR/tests/data/rules/sshd.yaml ] }
outputs:
  - { name: h, plugin: out_history }
EOC
run() {
    start_daemon "$TMP/c.yaml" "$TMP/$1"
    wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null
    O=$("$SENTINELD" token create --name "op$1" --role operator -c "$TMP/c.yaml" 2>/dev/null)
    # A write to each database, so both WALs exist.
    wait_for 10 sh -c "curl -sf -o /dev/null -H 'Authorization: Bearer $O' \
        -H 'Content-Type: application/json' -X POST \
        --data-binary '[{\"msg\":\"hello\",\"host\":\"h1\"}]' http://127.0.0.1:$hp/api/v1/events"
    wait_for 10 test -s "$TMP/state/events.db-wal"
}
# modes: "path mode" for the state directory and each database file.
modes() {
    (cd "$TMP/state" && stat -c '%n %a' . sentineld.db sentineld.db-wal \
        sentineld.db-shm events.db events.db-wal events.db-shm tokens)
}
want=". 750
sentineld.db 600
sentineld.db-wal 600
sentineld.db-shm 600
events.db 600
events.db-wal 600
events.db-shm 600
tokens 600"

run log1
modes >"$TMP/m1"
check "a new state directory is 0750 and every database file 0600" \
    test "$(cat "$TMP/m1")" = "$want"
[ "$(cat "$TMP/m1")" = "$want" ] || sed 's/^/# /' "$TMP/m1"
stop_daemon
check "the daemon stops with exit 0" test $? -eq 0

# What an older sentineld left behind under umask 022.
chmod 755 "$TMP/state"
chmod 644 "$TMP/state/sentineld.db" "$TMP/state/events.db"
run log2
modes >"$TMP/m2"
check "the next start tightens them all again" test "$(cat "$TMP/m2")" = "$want"
check "the state directory's change is logged with its old mode" \
    grep -q "warn state_dir $TMP/state was 755: now 750" "$TMP/log2"
check "the incident store's change is logged with its path" \
    grep -q "warn incident store readable by other users ($TMP/state/sentineld.db was 644)" "$TMP/log2"
check "the event history's change is logged with its path" \
    grep -q "event history readable by other users ($TMP/state/events.db was 644)" "$TMP/log2"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $O" \
    "http://127.0.0.1:$hp/api/v1/events?host=h1")
check "the history still answers (got $code)" test "$code" = 200
stop_daemon
check "the daemon stops with exit 0" test $? -eq 0
tap_done
