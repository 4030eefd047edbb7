#!/bin/sh
# Per-rule hit counts: GET /api/v1/rules gives each rule its matches and
# signals (counted by det_rules per rule, lock-free, once per batch), the
# same figures are on /metrics as sentineld_plugin_rule_{matches,signals}
# _total{instance,rule}, and the counts
# survive a reload. Each rule also has its estimated evaluation time
# (eval_ns, rule_eval_ns_total): a worker times the rules of its first
# event and one in 64 after it.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 7

hp=$(free_port)
# 7 failures from one outside address (ssh-auth-failure, a threshold of 5:
# counted, one signal when it fires), 2 unknown users (ssh-invalid-user,
# low: matches without signals), 3 service account logins
# (ssh-service-account-login, medium: a signal per match), 1 line that
# matches nothing. The first line matches a rule that extracts nothing
# (ssh-too-many-failures, medium: a signal per match): a worker's first
# match without fields once did pointer arithmetic on a NULL array, which
# UBSan stops.
{
    echo "<38>Nov 23 12:00:00 web1 sshd[122]: Disconnecting: Too many authentication failures [preauth]"
    for i in 1 2 3 4 5 6 7; do
        echo "<38>Nov 23 12:00:0$i web1 sshd[123]: Failed password for root from 203.0.113.7 port 420$i ssh2"
    done
    echo "<38>Nov 23 12:00:10 web1 sshd[124]: Invalid user zed from 198.51.100.3 port 5000"
    echo "<38>Nov 23 12:00:11 web1 sshd[124]: Invalid user amy from 198.51.100.3 port 5001"
    for i in 1 2 3; do
        echo "<38>Nov 23 12:00:2$i web1 sshd[125]: Accepted publickey for backup from 10.1.2.$i port 600$i ssh2"
    done
    echo "<78>Nov 23 12:00:30 web1 CRON[9]: (root) CMD (run-parts /etc/cron.hourly)"
} >"$TMP/in.log"
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state }
http: { listen: "127.0.0.1:$hp", auth: false }
inputs:
  - { name: f, plugin: in_file, path: $TMP/in.log, parser: auto, keep_position: false }
detectors:
  - { name: rules, plugin: det_rules, rules: [ $SRCDIR/tests/data/rules/sshd.yaml ] }
outputs:
  - { name: o, plugin: out_null }
EOC
mkdir -p "$TMP/state"
start_daemon "$TMP/c.yaml" "$TMP/log"
U="http://127.0.0.1:$hp"
wait_for 30 curl -sf "$U/health" -o /dev/null
matches() {
    curl -s "$U/metrics" | awk -v k="sentineld_plugin_rule_matches_total{instance=\"rules\",rule=\"$1\"}" \
        'index($0, k" ") == 1 { print $2 }'
}
wait_until 20 'test "$(matches ssh-service-account-login)" = 3'

# rules_are "id matches signals" ...: the API's per-rule figures.
rules_are() {
    curl -s "$U/api/v1/plugins/rules/rules" >"$TMP/rules.json"
    python3 - "$TMP/rules.json" "$@" <<'EOP'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["detector"] == "rules" and d["valid"] is True, d
got = {r["id"]: (r["matches"], r["signals"]) for r in d["rules"]}
for want in sys.argv[2:]:
    rid, m, s = want.split()
    assert got[rid] == (int(m), int(s)), (rid, got[rid], (m, s))
assert d["hits"] == sum(m for m, s in got.values()), (d["hits"], got)
EOP
}
check "each rule's matches and signals in det_rules' GET /api/v1/plugins/rules/rules" rules_are \
    "ssh-auth-failure 7 1" "ssh-invalid-user 2 0" \
    "ssh-service-account-login 3 3" "ssh-too-many-failures 1 1"
check "the openapi document describes matches and signals per rule" python3 -c "
import json
s=json.load(open('$SRCDIR/web/openapi.json'))['components']['schemas']['Rules']
p=s['properties']['rules']['items']['properties']
assert p['matches']['type']=='integer' and p['signals']['type']=='integer', p"
curl -s "$U/metrics" >"$TMP/m"
check "each rule's evaluation time: in the API and on /metrics, some > 0" python3 - "$TMP/rules.json" "$TMP/m" <<'EOP'
import json, re, sys
d = json.load(open(sys.argv[1]))
ns = {r["id"]: r["eval_ns"] for r in d["rules"]}
assert all(isinstance(v, int) and v >= 0 for v in ns.values()), ns
# The first line is the worker's first event: timed, and it matches.
assert ns["ssh-too-many-failures"] > 0, ns
m = dict(re.findall(r'^sentineld_plugin_rule_eval_ns_total\{instance="rules",rule="([^"]+)"\} (\d+)$',
                    open(sys.argv[2]).read(), re.M))
assert set(m) == set(ns), (sorted(m), sorted(ns))
EOP
check "per-rule counters on /metrics" sh -c "
grep -qx 'sentineld_plugin_rule_matches_total{instance=\"rules\",rule=\"ssh-auth-failure\"} 7' '$TMP/m' &&
grep -qx 'sentineld_plugin_rule_signals_total{instance=\"rules\",rule=\"ssh-service-account-login\"} 3' '$TMP/m' &&
grep -qx 'sentineld_plugin_rule_matches_total{instance=\"rules\",rule=\"ssh-too-many-failures\"} 1' '$TMP/m'"

kill -HUP "$DPID"
wait_until 20 'grep -q "reload complete" "$TMP/log"'
# The reloaded in_file (keep_position: false) reads the file again: every
# count doubles, none starts over.
wait_until 20 'test "$(matches ssh-service-account-login)" = 6'
check "counts go on across a reload" rules_are \
    "ssh-invalid-user 4 0" "ssh-service-account-login 6 6" \
    "ssh-too-many-failures 2 2"
check "a reload keeps one series per rule" test "$(curl -s "$U/metrics" |
    grep -c '^sentineld_plugin_rule_matches_total{instance="rules",rule="ssh-invalid-user"}')" -eq 1
stop_daemon
check "daemon stops cleanly" test $? -eq 0
tap_done
