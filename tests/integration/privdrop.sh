#!/bin/sh
# `sentineld run --user nobody` started as root (issue #14): root
# prepares what the unprivileged daemon needs. The state directory root
# made, and the token root created in it before the start, become
# nobody's (0750); the pidfile is written before the drop and cleared at
# exit; the daemon runs as nobody; a token created by root while it runs
# works; the API reads and writes incidents; a threshold window survives
# a SIGHUP through the checkpoint nobody writes; the API still works
# after the reload. What it cannot prepare stops it with a message naming
# what: an unknown user, a pidfile it cannot write.
. "$SRCDIR/tests/integration/lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (CI runs the tests as root)"
id nobody >/dev/null 2>&1 || skip_all "no user nobody"
tap_plan 18

# nobody must read its config and rules (SIGHUP re-reads them).
chmod 755 "$TMP"
hp=$(free_port)
mkdir -p "$TMP/state" "$TMP/run"
cat >"$TMP/rules.yaml" <<'EOR'
rules:
  - id: guess
    title: Password guessing
    severity: critical
    match: msg startswith "Failed password"
    extract:
      - regex: 'from (?<ip>\S+) port'
        fields: { ip: source.ip:ip }
    group_by: [source.ip]
    window: 10m
    threshold: {count: 4}
EOR
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$hp" }
inputs:
  - { name: api, plugin: in_http }
detectors:
  - { name: rules, plugin: det_rules, rules: [ $TMP/rules.yaml ], tick: 100ms }
outputs:
  - { name: o, plugin: out_file, path: $TMP/out/events.json }
EOC
mkdir -p "$TMP/out" && chown nobody "$TMP/out"
S="$SENTINELD"
A=$("$S" token create --name ada --role admin -c "$TMP/c.yaml" 2>/dev/null)
diag "before the start: $(stat -c '%U %a' "$TMP/state/tokens")"

"$S" run -c "$TMP/c.yaml" --user nobody --pidfile "$TMP/run/sentineld.pid" \
    >/dev/null 2>"$TMP/log" &
DPID=$!
PIDS="$PIDS $DPID"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null
U="http://127.0.0.1:$hp"
req() {
    curl -s -o "$TMP/b" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $1" \
        -H 'Content-Type: application/json' ${4:+--data-binary "$4"} "$U$3"
}

check "the daemon runs as nobody" \
    sh -c "awk '/^Uid:/ {exit !(\$2 == $(id -u nobody))}' /proc/$DPID/status"
check "the pidfile holds its pid" test "$(cat "$TMP/run/sentineld.pid")" = "$DPID"
check "the state directory is nobody's, 0750" \
    test "$(stat -c '%U %a' "$TMP/state")" = "nobody 750"
check "the token root created before the start is now nobody's" \
    test "$(stat -c %U "$TMP/state/tokens")" = nobody
check "every file in the state directory is nobody's" \
    test -z "$(find "$TMP/state" ! -user nobody)"
code=$(req "$A" GET /api/v1/whoami)
check "the API accepts that token (got $code)" test "$code" = 200
O=$("$S" token create --name olga --role operator -c "$TMP/c.yaml" 2>/dev/null)
check "a token root creates while the daemon runs is nobody's" \
    test "$(stat -c '%U %a' "$TMP/state/tokens")" = "nobody 600"

ev() {
    req "$O" POST /api/v1/events \
        "[{\"msg\":\"Failed password for root from 203.0.113.9 port 4$1 ssh2\",\"host\":\"web1\",\"app\":\"sshd\"}]" >/dev/null
}
ev 1; ev 2
wait_until 10 'test "$(lines "$TMP/out/events.json")" -eq 2'
kill -HUP "$DPID"
wait_for 10 grep -q "reload complete" "$TMP/log"
check "SIGHUP reloads as nobody" grep -q "reload complete" "$TMP/log"
check "the correlation state written by nobody is restored" \
    grep -q "correlation state restored" "$TMP/log"
ev 3; ev 4
wait_until 10 'req "$A" GET "/api/v1/incidents?rule=guess" | grep -q 200 && grep -q "\"rule_id\":\"guess\"" "$TMP/b"'
check "the window survived the reload: one incident after 4 failures" \
    python3 -c "
import json; d=json.load(open('$TMP/b'))['incidents']
assert len(d)==1 and d[0]['hit_count']==4, d"
id=$(python3 -c "import json; print(json.load(open('$TMP/b'))['incidents'][0]['id'])")
code=$(req "$O" POST "/api/v1/incidents/$id/acknowledge" '{"reason":"on it"}')
check "after the reload the API still writes incidents (got $code)" test "$code" = 200
code=$(req "$O" GET /api/v1/whoami)
check "and tokens created while running still work (got $code)" test "$code" = 200
check "no permission error in the log" sh -c "! grep -i 'permission denied\|readonly\|not writable' '$TMP/log'"
check "files made since the start are nobody's" \
    test -z "$(find "$TMP/state" ! -user nobody)"
stop_daemon
check "it stops with exit 0" test $? -eq 0
check "the pidfile names no process after the stop" \
    test ! -s "$TMP/run/sentineld.pid"
timeout 20 "$S" run -c "$TMP/c.yaml" --user sn-no-such-user >/dev/null 2>"$TMP/nouser.err"
check "an unknown --user refuses to start, naming it" sh -c "
    test $? -ne 0 && grep -q -- '--user sn-no-such-user: no such user' '$TMP/nouser.err'"
timeout 20 "$S" run -c "$TMP/c.yaml" --user nobody \
    --pidfile "$TMP/no-dir/sentineld.pid" >/dev/null 2>"$TMP/nopid.err"
check "a pidfile it cannot write stops it, naming the path" sh -c "
    test $? -ne 0 && grep -q 'cannot write pidfile $TMP/no-dir/sentineld.pid' '$TMP/nopid.err'"
tap_done
