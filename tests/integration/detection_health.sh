#!/bin/bash
# What the shipped rule pack does to events and incidents beyond the
# rules' own detections, from syslog sent with logger:
# - rate and absence watchers (host-silent, log-volume-spike) see every
#   event but do not tag it: rule.id / rule.severity on an event list only
#   the rules the event matched (out_file, `sentineld test`);
# - a correlation that loses state (keys evicted at limits.max_keys) is
#   health: /health and /metrics count it, and the incident it raises is a
#   "detection-degraded" one keyed by the rule, never the rule's own title
#   and severity.
. "$SRCDIR/tests/integration/lib.sh"

tap_plan 10

sp=$(free_port)
hp=$(free_port)
mkdir -p "$TMP/state" "$TMP/rules"
# A copy of the pack's brute-force rule with room for two keys only.
cat >"$TMP/rules/tight.yaml" <<'EOR'
rules:
  - id: tight-brute-force
    title: SSH brute force (two keys)
    severity: high
    match: appname == "sshd" and msg contains "Failed password"
    extract:
      - regex: 'from (?<ip>[0-9.]+) port'
        fields: {ip: source.ip}
    threshold: {count: 50}
    window: 2m
    group_by: [source.ip]
    limits: {max_keys: 2}
EOR
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$hp" }
inputs:
  - { name: syslog, plugin: in_syslog, listen: ["tcp://127.0.0.1:$sp"] }
detectors:
  - { name: rules, plugin: det_rules, rules: [$SRCDIR/conf/rules, $TMP/rules] }
outputs:
  - { name: events, plugin: out_file, path: $TMP/events.json, take: events }
  - { name: inc, plugin: out_file, path: $TMP/incidents.json, take: incidents }
EOC
start_daemon "$TMP/c.yaml" "$TMP/log"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null

send() { logger --server 127.0.0.1 --port "$sp" --tcp --rfc5424 -t "$1" "$2"; }
send sshd "Failed password for root from 203.0.113.7 port 40001 ssh2"
send cron "(root) CMD (run-parts /etc/cron.hourly)"
wait_until 10 'test "$(lines "$TMP/events.json")" -ge 2'

fail_ev=$(grep 'Failed password' "$TMP/events.json" | head -1)
cron_ev=$(grep 'run-parts' "$TMP/events.json" | head -1)
ids=$(printf '%s' "$fail_ev" | python3 -c 'import json,sys; print(json.load(sys.stdin)["fields"].get("rule.id",""))')
diag "rule.id of the failure: $ids"
check "an SSH failure is tagged with the rules it matched" \
    test "$ids" = "ssh-auth-failure ssh-brute-force ssh-password-spray tight-brute-force"
check "and not with the rate/absence watchers that saw it" \
    sh -c "! printf '%s' '$ids' | grep -q 'host-silent\|log-volume-spike'"
check "an event no rule matched carries no rule.id at all" \
    sh -c "! printf '%s' '$cron_ev' | grep -q 'rule\\.'"

printf '<38>1 2026-11-23T12:00:01Z web1 sshd 1 - - Failed password for root from 203.0.113.7 port 40001 ssh2\n' >"$TMP/one.log"
"$SENTINELD" test -r "$SRCDIR/conf/rules" "$TMP/one.log" >"$TMP/test.out" 2>&1
check "sentineld test lists the matching rules only" \
    sh -c "grep -q 'match ssh-auth-failure' '$TMP/test.out' && ! grep -q 'match host-silent\|match log-volume-spike' '$TMP/test.out'"

# Five attacking addresses against a rule that may hold two: keys with
# live state are evicted.
for i in 1 2 3 4 5; do
    send sshd "Failed password for root from 198.51.100.$i port 4000$i ssh2"
done
degraded() { grep -q '"rule_id":"detection-degraded"' "$TMP/incidents.json" 2>/dev/null; }
check "lost state raises one detection-degraded incident" wait_for 20 degraded
inc=$(grep '"rule_id":"detection-degraded"' "$TMP/incidents.json" | tail -1)
diag "$inc"
check "keyed by the rule, titled as degraded detection, medium" \
    python3 -c '
import json, sys
i = json.loads(sys.argv[1])
assert i["group_key"] == {"rule": "tight-brute-force"}, i["group_key"]
assert i["title"] == "Detection degraded: tight-brute-force", i["title"]
assert i["severity"] == "medium", i["severity"]
assert i["explanation"]["degraded"]["keys_evicted"] >= 1
' "$inc"
check "no incident under the rule's own title with a degraded key" \
    sh -c "! grep -q '\"title\":\"SSH brute force (two keys)\"' '$TMP/incidents.json'"
health=$(curl -sf "http://127.0.0.1:$hp/health")
diag "/health: $health"
check "/health reports detection degraded with the evicted keys" \
    python3 -c '
import json, sys
d = json.loads(sys.argv[1])["detection"]
assert d["degraded"] is True and d["keys_evicted"] >= 1, d
' "$health"
check "/metrics counts the rule's evicted keys" \
    sh -c "curl -sf http://127.0.0.1:$hp/metrics | grep -Eq '^sentineld_plugin_corr_tight_brute_force_keys_evicted_total\{[^}]*\} [1-9]'"
# /health reads what the detector reported to the core
# (host->detection_lost), not the plugin's own metric names: the same
# figure as the core's per-instance counter.
curl -sf "http://127.0.0.1:$hp/metrics" >"$TMP/metrics"
check "/health's keys_evicted is the core's sentineld_detection_keys_evicted_total" \
    python3 -c '
import json, re, sys
h = json.loads(sys.argv[1])["detection"]["keys_evicted"]
core = sum(int(v) for v in re.findall(
    r"^sentineld_detection_keys_evicted_total\{[^}]*\} (\d+)$",
    open(sys.argv[2]).read(), re.M))
assert h >= 1 and core >= h, (core, h)  # metrics read after /health
' "$health" "$TMP/metrics"
stop_daemon
tap_done
