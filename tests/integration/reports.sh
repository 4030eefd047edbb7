#!/bin/sh
# Reports (issue #23, docs/reports.md) from lifecycles the real daemon
# produced: logger sends SSH failures from four addresses over TCP, the
# shipped rule pack opens brute-force, spraying and auth-failure
# incidents, two operators acknowledge, assign, resolve and suppress
# them through the API at controlled moments, and the quiet period
# auto-resolves the rest. GET /api/v1/reports must then equal what
# tests/integration/report_check.py computes on its own from the store's
# incidents and audit rows (python3's sqlite3), per day and per week; bad
# parameters get a 400 naming the parameter and are counted; the
# post-incident review from the CLI and the API agree with the audit.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/report_lib.sh"
command -v logger >/dev/null || skip_all "logger not installed"
tap_plan 15

hp=$(free_port)
sp=$(free_port)
mkdir -p "$TMP/state"
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$hp" }
inputs:
  - { name: syslog, plugin: in_syslog, listen: [ "tcp://127.0.0.1:$sp" ] }
detectors:
  - { name: rules, plugin: det_rules, rules: [ $SRCDIR/conf/rules ], tick: 100ms }
incidents: { auto_resolve: 15s, update_interval: 0s }
outputs:
  - { name: o, plugin: out_file, path: $TMP/incidents.json, take: incidents }
EOC
S="$SENTINELD"
O=$("$S" token create --name olga --role operator -c "$TMP/c.yaml" 2>/dev/null)
P=$("$S" token create --name otto --role operator -c "$TMP/c.yaml" 2>/dev/null)
V=$("$S" token create --name vic --role viewer -c "$TMP/c.yaml" 2>/dev/null)
start_daemon "$TMP/c.yaml" "$TMP/log"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null
U="http://127.0.0.1:$hp"
T0=$(date +%s%N)

fail 203.0.113.10 12
fail 203.0.113.11 12
fail 203.0.113.12 6
fail 203.0.113.13 6

# The ids of the incidents to act on, once all exist (one request and one
# python3 per poll: the actions below must come well inside the quiet
# period, also on a loaded machine).
wait_until 30 'ids "$V" BF10 BF11 SP10 SP11 SP12 SP13 >"$TMP/ids"'
eval "$(cat "$TMP/ids")"
check "the SSH failures opened brute-force and spraying incidents" \
    test -n "$BF10" -a -n "$BF11" -a -n "$SP10" -a -n "$SP11" -a -n "$SP12"

act() {
    c=$(req "$1" POST "/api/v1/incidents/$2/$3" "{\"reason\":\"$4\"${5:+,\"owner\":\"$5\"}}")
    [ "$c" = 200 ] || diag "$3 $2: $(cat "$TMP/b")" >&2
    echo "$c"
}
codes=""
codes="$codes $(act "$O" "$BF10" acknowledge "looking")"
codes="$codes $(act "$O" "$BF10" assign "mine" olga)"
codes="$codes $(act "$O" "$SP10" resolve "same scanner as the brute force")"
codes="$codes $(act "$P" "$SP11" suppress "our pentest")"
codes="$codes $(act "$P" "$SP12" acknowledge "checking")"
codes="$codes $(act "$P" "$SP12" assign "mine" otto)"
sleep 1
codes="$codes $(act "$P" "$BF11" acknowledge "late to the party")"
codes="$codes $(act "$O" "$BF10" resolve "address blocked at the firewall")"
codes="$codes $(act "$O" "$BF10" comment "postmortem on Monday")"
sleep 0.5
codes="$codes $(act "$P" "$SP12" resolve "false positive")"
codes="$codes $(act "$P" "$SP12" acknowledge "refused: resolved")"
check "the operators' actions were applied, the late ones refused ($codes)" \
    test "$codes" = " 200 200 200 200 200 200 200 200 200 200 409"

# The rest (BF11 acknowledged, SP13, the auth failures) resolve when
# their quiet period ends.
quiet_done() {
    [ "$(sqlite3 "$TMP/state/sentineld.db" "SELECT count(*) FROM incidents
        WHERE status IN ('open','acknowledged')" 2>/dev/null)" = 0 ]
}
check "the quiet period resolved what no one resolved" wait_for 45 quiet_done

T1=$(date +%s%N)
code=$(req "$V" GET "/api/v1/reports?since=$T0&until=$T1")
cp "$TMP/b" "$TMP/day.json"
check "a viewer reads the report (got $code)" test "$code" = 200
CHK="$SRCDIR/tests/integration/report_check.py"
check "per-day figures equal the audit rows' (sqlite3, independently)" \
    python3 "$CHK" sqlite "$TMP/state/sentineld.db" "$TMP/day.json" "$T0" "$T1" day
check "they hold what the operators did" python3 - "$TMP/day.json" <<'EOP'
import json, sys
r = json.load(open(sys.argv[1]))
t = r["totals"]
assert t["acknowledged"] == 3 and t["suppressed"] == 1, t
assert t["auto_resolved"] >= 2 and t["resolved"] == t["incidents"] - 1, t
own = {g["key"]: g for g in r["time_to_resolve"]["by_owner"]}
assert own["olga"]["n"] == 1 and own["olga"]["median_ms"] >= 1000, own
assert own["otto"]["n"] == 1 and own["otto"]["median_ms"] >= 500, own
rules = {g["key"] for g in r["time_to_acknowledge"]["by_rule"]}
assert rules == {"ssh-brute-force", "ssh-password-spray"}, rules
src = [s["group_key"].get("source.ip") for s in r["top_sources"]]
assert src[:2] == ["203.0.113.10", "203.0.113.11"], src
EOP
code=$(req "$V" GET "/api/v1/reports?since=$T0&until=$T1&group=week")
cp "$TMP/b" "$TMP/week.json"
check "per-week figures too (got $code)" \
    python3 "$CHK" sqlite "$TMP/state/sentineld.db" "$TMP/week.json" "$T0" "$T1" week
code=$(req "$V" GET "/api/v1/reports?since=$T1&until=$((T1 + 1000))")
check "an empty period has no figures (got $code)" python3 -c "
import json; r=json.load(open('$TMP/b'))
assert r['totals']['incidents']==0 and r['time_to_resolve']['overall']['median_ms'] is None, r"

# Bad parameters: 400, a message naming what is wrong, counted.
m4xx() {
    curl -s "$U/metrics" | awk '/^sentineld_http_errors_total\{class="4xx"\}/ {print $2}'
}
before=$(m4xx)
bad=""
for qs in "since=yesterday" "until=2026-13-01T00:00:00Z" "group=month" \
    "since=$T1&until=$T0" "since=0&until=$T1" "top=5"; do
    code=$(req "$V" GET "/api/v1/reports?$qs")
    msg=$(sed 's/.*"message":"\([^"]*\)".*/\1/' "$TMP/b")
    diag "$qs: $code $msg"
    bad="$bad$code "
    echo "$msg" >>"$TMP/msgs"
done
check "bad parameters are refused with 400 ($bad)" \
    test "$bad" = "400 400 400 400 400 400 "
check "each message names the parameter" sh -c "
    grep -q \"^since 'yesterday': expected RFC 3339\" '$TMP/msgs' &&
    grep -q \"^until '2026-13-01T00:00:00Z'\" '$TMP/msgs' &&
    grep -q \"^group 'month': expected day or week\" '$TMP/msgs' &&
    grep -q '^since (.*) must be before until' '$TMP/msgs' &&
    grep -q 'more than 366 days' '$TMP/msgs' &&
    grep -q \"^unknown query parameter 'top'\" '$TMP/msgs'"
after=$(m4xx)
check "and counted in sentineld_http_errors_total{class=\"4xx\"} ($before -> $after)" \
    test "$((after - before))" -eq 6

# The post-incident review, from the CLI and from the API.
"$S" incident report "$BF10" --format json -c "$TMP/c.yaml" >"$TMP/rev.json"
check "the JSON review agrees with the audit trail" \
    python3 "$CHK" review "$TMP/state/sentineld.db" "$TMP/rev.json" "$BF10"
"$S" incident report "$BF10" -c "$TMP/c.yaml" >"$TMP/rev.md"
curl -s -D "$TMP/h" -o "$TMP/api.md" -H "Authorization: Bearer $V" \
    "$U/api/v1/incidents/$BF10/report?format=md"
check "the API's Markdown download is the CLI's review" sh -c "
    cmp -s '$TMP/rev.md' '$TMP/api.md' &&
    grep -qi '^content-disposition: attachment; filename=\"incident-$BF10.md\"' '$TMP/h' &&
    grep -qi '^content-type: text/markdown' '$TMP/h'"
check "the Markdown has every section and the operators' words" sh -c "
    for s in '# Post-incident review: SSH brute force' '## Summary' \
        '## Timeline' '## Versions' '## Actions' '## Notifications' \
        '## Explanation' '## Evidence' 'address blocked at the firewall' \
        '| Owner | olga |' 'Failed password for invalid user'; do
        grep -qF \"\$s\" '$TMP/rev.md' || { echo \"missing: \$s\"; exit 1; }
    done"
c1=$(req "$V" GET "/api/v1/incidents/$BF10/report?format=pdf")
c2=$(req "$V" GET "/api/v1/incidents/00000000-0000-4000-8000-000000000000/report")
"$S" incident report "$BF10" --format pdf -c "$TMP/c.yaml" 2>"$TMP/e" >/dev/null
c3=$?
check "unknown formats and ids are refused ($c1 $c2 $c3)" sh -c "
    [ $c1 = 400 ] && [ $c2 = 404 ] && [ $c3 = 2 ] &&
    grep -q \"format 'pdf': expected md or json\" '$TMP/e'"
stop_daemon
tap_done
