#!/bin/sh
# refire (issue #21): a threshold rule fires once per window and key. Twelve
# failures from one address within 12 s against "5 in 60 s": `sentineld
# test` prints one firing signal (12:00:05), one update of the 5 absorbed
# when the failure of 12:00:10 finds the 5 s update interval passed, and,
# when the address's next failure comes after the window (12:01:01), one
# update with the other 2; with `refire: every_threshold` it fires at the
# 5th and 10th as before. The daemon, fed the same file, keeps one
# incident whose hit count the updates raise to 12 (1 signal). A bad
# refire value is refused at its file:line:col.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 7

{
    for i in 01 02 03 04 05 06 07 08 09 10 11 12; do
        echo "<38>Nov 23 12:00:$i web1 sshd[123]: Failed password for root from 203.0.113.7 port 42$i ssh2"
    done
    echo "<38>Nov 23 12:01:30 web1 sshd[123]: Failed password for root from 203.0.113.7 port 4299 ssh2"
} >"$TMP/in.log"
rule() {
    cat <<EOR
rules:
  - id: brute
    title: SSH brute force
    severity: medium
    match: appname == "sshd" and msg startswith "Failed password"
    extract:
      - regex: 'from (?<ip>\S+) port \d+ ssh2$'
        fields: { ip: source.ip:ip }
    group_by: [source.ip]
    window: 60s
    threshold: {count: 5}
EOR
    [ -z "$1" ] || echo "    refire: $1"
}
rule >"$TMP/default.yaml"
rule every_threshold >"$TMP/every.yaml"
rule per-window >"$TMP/bad.yaml"

"$SENTINELD" test --quiet --json -r "$TMP/default.yaml" "$TMP/in.log" >"$TMP/default.out" 2>&1
n_state() { grep -c "\"state\":\"$2\"" "$1"; }
check "per window (the default): one firing signal for the 12 failures" \
    test "$(n_state "$TMP/default.out" firing)" = 1
upd_counts() {
    grep '"state":"update"' "$1" | sed 's/.*"window":{[^}]*"count":\([0-9]*\),.*/\1/' | tr '\n' ' '
}
diag "update counts: $(upd_counts "$TMP/default.out")"
check "the 7 absorbed go out as two updates: 5 once 5 s passed since the firing, 2 when the window closes" \
    test "$(upd_counts "$TMP/default.out")" = "5 2 "
"$SENTINELD" test --quiet --json -r "$TMP/every.yaml" "$TMP/in.log" >"$TMP/every.out" 2>&1
check "refire: every_threshold fires at the 5th and the 10th, no update" \
    test "$(n_state "$TMP/every.out" firing)" = 2 -a "$(n_state "$TMP/every.out" update)" = 0

"$SENTINELD" test -r "$TMP/bad.yaml" "$TMP/in.log" >"$TMP/bad.out" 2>&1
rc=$?
diag "$(cat "$TMP/bad.out")"
check "a bad refire value is an error at file:line:col" \
    sh -c "test $rc -ne 0 && grep -q 'bad.yaml:12:13: error: rule \"brute\": unknown refire \"per-window\" (per_window, every_threshold); did you mean \"per_window\"?' '$TMP/bad.out'"

hp=$(free_port)
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state }
http: { listen: "127.0.0.1:$hp", auth: false }
inputs:
  - { name: f, plugin: in_file, path: $TMP/in.log, parser: auto, keep_position: false }
detectors:
  - { name: rules, plugin: det_rules, rules: [ $TMP/default.yaml ] }
outputs:
  - { name: o, plugin: out_null }
EOC
mkdir -p "$TMP/state"
start_daemon "$TMP/c.yaml" "$TMP/log"
U="http://127.0.0.1:$hp"
wait_for 30 curl -sf "$U/health" -o /dev/null
counts() {
    curl -s "$U/api/v1/incidents?rule=brute" | python3 -c '
import json, sys
d = json.load(sys.stdin)
rows = d["incidents"] if isinstance(d, dict) else d
print(" ".join("%s/%s" % (r["hit_count"], r["signal_count"]) for r in rows))'
}
check "the daemon keeps one incident: 12 hits from 1 firing signal and its updates" \
    wait_until 30 'test "$(counts)" = "12/1"'
diag "incidents: $(counts)"
check "the rule counted all 13 matches (GET /api/v1/plugins/rules/rules)" \
    sh -c "curl -s '$U/api/v1/plugins/rules/rules' | python3 -c '
import json, sys
r = [r for r in json.load(sys.stdin)[\"rules\"] if r[\"id\"] == \"brute\"][0]
assert r[\"matches\"] == 13, r'"
check "the daemon stops cleanly" stop_daemon
