#!/bin/sh
# The audit trail and four eyes through the real API and CLI (issue #14).
# Everything that changes the system or is refused leaves a row: tokens
# created and revoked with the CLI (as local:<user>), events posted, a
# request denied for its role, incident actions done and refused, reloads
# by API and by SIGHUP. Four eyes: the operator who asked to suppress a
# CRITICAL incident can neither approve it nor clear the request by
# resolving; a second operator's token can. GET /api/v1/audit (admin)
# filters by actor, action and time and pages. `sentineld audit verify`
# holds on the real trail and names the first bad row once the database
# is edited or a row deleted with sqlite3.
. "$SRCDIR/tests/integration/lib.sh"
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
tap_plan 23

hp=$(free_port)
cat >"$TMP/rules.yaml" <<'EOR'
rules:
  - id: root-guess
    title: Root password guessing
    severity: critical
    match: msg startswith "Failed password for root"
    group_by: [hostname]
    window: 10m
    threshold: {count: 3}
EOR
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$hp" }
inputs:
  - { name: api, plugin: in_http }
detectors:
  - { name: rules, plugin: det_rules, rules: [ $TMP/rules.yaml ], tick: 100ms }
outputs:
  - { name: o, plugin: out_file, path: $TMP/events.json }
EOC
mkdir -p "$TMP/state"
S="$SENTINELD"
A=$("$S" token create --name ada --role admin -c "$TMP/c.yaml" 2>/dev/null)
O=$("$S" token create --name olga --role operator -c "$TMP/c.yaml" 2>/dev/null)
P=$("$S" token create --name otto --role operator -c "$TMP/c.yaml" 2>/dev/null)
V=$("$S" token create --name vic --role viewer -c "$TMP/c.yaml" 2>/dev/null)
start_daemon "$TMP/c.yaml" "$TMP/log"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null
U="http://127.0.0.1:$hp"
req() {
    curl -s -o "$TMP/b" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $1" \
        -H 'Content-Type: application/json' ${4:+--data-binary "$4"} "$U$3"
}
ev='[{"msg":"Failed password for root from 203.0.113.7 port 22 ssh2","host":"db1"}]'

code=$(req "$V" POST /api/v1/events "$ev")
check "a viewer cannot post events (got $code)" test "$code" = 403
for i in 1 2 3; do req "$O" POST /api/v1/events "$ev" >/dev/null; done
wait_until 20 'req "$A" GET "/api/v1/incidents?rule=root-guess" >/dev/null && grep -q "\"severity\":\"critical\"" "$TMP/b"'
ID=$(python3 -c "import json; print(json.load(open('$TMP/b'))['incidents'][0]['id'])")
check "three failures open a CRITICAL incident" test -n "$ID"

# Four eyes.
code=$(req "$O" POST "/api/v1/incidents/$ID/suppress" '{"reason":"known scanner"}')
check "olga's suppress of a CRITICAL incident waits for approval ($code)" \
    sh -c "[ $code = 200 ] && grep -q '\"pending_approval\":{\"action\":\"suppress\"' '$TMP/b'"
code=$(req "$O" POST "/api/v1/incidents/$ID/resolve" '{"reason":"done"}')
check "olga cannot clear her own request by resolving (got $code)" \
    sh -c "[ $code = 409 ] && grep -q 'another operator must approve or reject' '$TMP/b'"
code=$(req "$O" POST "/api/v1/incidents/$ID/approve" '{"reason":"mine"}')
check "olga cannot approve her own request (got $code)" test "$code" = 409
req "$A" GET "/api/v1/incidents/$ID" >/dev/null
check "the request is still pending, the incident still open" python3 -c "
import json; d=json.load(open('$TMP/b'))
assert d['status']=='open' and d['pending_approval']['requested_by']=='olga', d"
code=$(req "$P" POST "/api/v1/incidents/$ID/approve" '{"reason":"confirmed scanner"}')
check "otto approves it: suppressed (got $code)" \
    sh -c "[ $code = 200 ] && grep -q '\"status\":\"suppressed\"' '$TMP/b'"

# Reloads, a denied admin route, a revoked token.
code=$(req "$A" POST /api/v1/rules/reload)
check "ada reloads the rules (got $code)" test "$code" = 200
kill -HUP "$DPID"
wait_for 10 grep -q "reload complete" "$TMP/log"
wait_until 10 'test "$(grep -c "reload complete" "$TMP/log")" -ge 2'
code=$(req "$O" GET /api/v1/audit)
check "an operator cannot read the audit trail (got $code)" test "$code" = 403
"$S" token revoke --name vic -c "$TMP/c.yaml" 2>/dev/null

code=$(req "$A" GET "/api/v1/audit?limit=500")
check "ada reads the audit trail (got $code)" test "$code" = 200
cp "$TMP/b" "$TMP/all.json"
me="local:$(id -un)"
check "every change and refusal is in it" python3 - "$TMP/all.json" "$me" "$ID" <<'EOP'
import json, sys
rows, me, inc = json.load(open(sys.argv[1]))["audit"], sys.argv[2], sys.argv[3]
got = [(r["actor"], r["action"], r["target"], r["result"]) for r in rows]
want = [
    (me, "token.create", "ada", "ok"), (me, "token.create", "olga", "ok"),
    (me, "token.create", "otto", "ok"), (me, "token.create", "vic", "ok"),
    ("vic", "request", "POST /api/v1/events", "denied"),
    ("olga", "request", "POST /api/v1/events", "ok"),
    ("olga", "suppress", inc, "ok"), ("olga", "resolve", inc, "refused"),
    ("olga", "approve", inc, "refused"), ("otto", "approve", inc, "ok"),
    ("ada", "reload", "configuration and rules", "ok"),
    ("signal:SIGHUP", "reload", "configuration and rules", "ok"),
    ("olga", "request", "GET /api/v1/audit", "denied"),
    (me, "token.revoke", "vic", "ok"),
]
for w in want:
    assert w in got, (w, got)
assert got.count(("olga", "request", "POST /api/v1/events", "ok")) == 3, got
ids = [r["id"] for r in rows]
assert ids == sorted(ids, reverse=True), ids
r = [r for r in rows if r["action"] == "resolve"][0]
assert r["reason"] == "done" and "another operator" in r["details"], r
assert all(set(x) >= {"id", "time", "actor", "action", "target", "result",
                      "reason", "details", "correlation_id"} for x in rows)
EOP
req "$A" GET "/api/v1/audit?actor=olga&action=approve" >/dev/null
check "filter by actor and action" python3 -c "
import json; r=json.load(open('$TMP/b'))['audit']
assert [(x['actor'], x['action'], x['result']) for x in r]==[('olga','approve','refused')], r"
T=$(python3 -c "
import json; r=json.load(open('$TMP/all.json'))['audit']
print([x['time'] for x in r if x['action']=='reload' and x['actor']=='ada'][0])")
req "$A" GET "/api/v1/audit?since=$T" >/dev/null
check "filter by time: since the API reload" python3 -c "
import json; r=json.load(open('$TMP/b'))['audit']
assert r[-1]['actor']=='ada' and r[-1]['action']=='reload' and len(r)==4, r"
req "$A" GET "/api/v1/audit?limit=5" >/dev/null
c=$(python3 -c "import json; print(json.load(open('$TMP/b'))['next_cursor'])")
req "$A" GET "/api/v1/audit?limit=5&cursor=$c" >/dev/null
check "pages follow next_cursor without gaps or repeats" python3 - "$TMP/all.json" "$TMP/b" "$c" <<'EOP'
import json, sys
allr = json.load(open(sys.argv[1]))["audit"]
page = json.load(open(sys.argv[2]))["audit"]
assert [r["id"] for r in page] == [r["id"] for r in allr if r["id"] < int(sys.argv[3])][:5], page
EOP
code=$(req "$A" GET "/api/v1/audit?colour=red")
check "an unknown query parameter is a 400 (got $code)" test "$code" = 400

"$S" audit verify -c "$TMP/c.yaml" >"$TMP/v.out" 2>&1
check "audit verify holds on the real trail" sh -c "test $? -eq 0 && grep -q 'chain intact' '$TMP/v.out'"
stop_daemon
check "the daemon stops with exit 0" test $? -eq 0

# Tampering, each on a copy of the database.
DB="$TMP/state/sentineld.db"
mid=$(sqlite3 "$DB" "SELECT seq FROM audit WHERE action = 'approve' AND actor = 'otto'")
cp "$DB" "$TMP/del.db"
sqlite3 "$TMP/del.db" "DELETE FROM audit WHERE seq = $mid"
"$S" audit verify --store "$TMP/del.db" >/dev/null 2>"$TMP/del.err"
check "a deleted row: verify exits 1" test $? -eq 1
nxt=$(sqlite3 "$TMP/del.db" "SELECT min(seq) FROM audit WHERE seq > $mid")
check "and names the row after it ($nxt)" \
    grep -q "breaks at audit row $nxt: the row before it is missing" "$TMP/del.err"
cp "$DB" "$TMP/edit.db"
check "the append-only trigger refuses a plain UPDATE" \
    sh -c "! sqlite3 '$TMP/edit.db' \"UPDATE audit SET reason = 'x' WHERE seq = $mid\" 2>/dev/null"
sqlite3 "$TMP/edit.db" "DROP TRIGGER audit_append_only; UPDATE audit SET reason = 'routine' WHERE seq = $mid"
"$S" audit verify --store "$TMP/edit.db" >/dev/null 2>"$TMP/edit.err"
check "an edited row: verify exits 1" test $? -eq 1
check "and names that row ($mid)" \
    grep -q "breaks at audit row $mid: its contents were changed" "$TMP/edit.err"
"$S" audit verify --store "$DB" >/dev/null 2>&1
check "the untouched database still verifies" test $? -eq 0
tap_done
