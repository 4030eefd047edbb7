#!/bin/bash
# out_alertmanager against a real Prometheus Alertmanager (Debian
# prometheus-alertmanager, started here on free ports) whose receiver is
# a webhook (tests/tools/notify_receiver.py). The shipped
# conf/examples/notify.yaml runs as-is: SSH failures sent by logger open
# two ssh-brute-force incidents; Alertmanager holds one alert per
# incident with the labels and annotations, groups both in one
# notification, keeps them firing through re-sends, and resolves the one
# resolved through sentineld's API. The example's signed webhook reaches
# the same receiver.
. "$SRCDIR/tests/integration/lib.sh"

AM=$(command -v prometheus-alertmanager || ls /usr/bin/prometheus-alertmanager 2>/dev/null)
[ -n "$AM" ] || { echo "Bail out! prometheus-alertmanager is not installed (scripts/deps.sh)"; exit 1; }
tap_plan 10

p_sys=$(free_port)
p_http=$(free_port)
p_am=$(free_port)
p_rx=$(free_port)
mkdir -p "$TMP/state" "$TMP/am"
python3 "$SRCDIR/tests/tools/notify_receiver.py" --port "$p_rx" --out "$TMP/rx.jsonl" \
    >"$TMP/rx.out" 2>&1 &
PIDS="$PIDS $!"
cat >"$TMP/am.yml" <<EOC
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:$p_rx/am
        send_resolved: true
EOC
"$AM" --config.file="$TMP/am.yml" --storage.path="$TMP/am" \
    --web.listen-address="127.0.0.1:$p_am" --cluster.listen-address= \
    --log.level=warn >"$TMP/am.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 20 curl -sf "http://127.0.0.1:$p_am/-/ready" -o /dev/null ||
    { sed 's/^/# /' "$TMP/am.log"; echo "Bail out! Alertmanager did not start"; exit 1; }

export SENTINELD_SYSLOG_PORT=$p_sys SENTINELD_HTTP_LISTEN="127.0.0.1:$p_http"
export SENTINELD_STATE_DIR="$TMP/state" SENTINELD_RULES="$SRCDIR/conf/rules"
export SENTINELD_ALERTMANAGER_URL="http://127.0.0.1:$p_am"
export SENTINELD_WEBHOOK_URL="http://127.0.0.1:$p_rx/hook"
export SENTINELD_WEBHOOK_SECRET=test-secret SENTINELD_AM_RESEND=2s
export SENTINELD_CONSOLE_URL="http://127.0.0.1:$p_http"
CONF="$SRCDIR/conf/examples/notify.yaml"
"$SENTINELD" check -c "$CONF" >"$TMP/check.out" 2>&1
check "the shipped notify example passes sentineld check" test $? -eq 0
O=$("$SENTINELD" token create --name olga --role operator -c "$CONF" 2>/dev/null)
start_daemon "$CONF" "$TMP/s.log"
wait_for 20 curl -sf "http://127.0.0.1:$p_http/health" -o /dev/null
U="http://127.0.0.1:$p_http"

for ip in 203.0.113.7 198.51.100.9; do
    for i in $(seq 1 12); do
        logger --server 127.0.0.1 --port "$p_sys" --tcp --rfc3164 -t "sshd[$((800 + i))]" \
            "Failed password for invalid user admin from $ip port $((41000 + i)) ssh2"
    done
done
am_alerts() {
    curl -sf "http://127.0.0.1:$p_am/api/v2/alerts?filter=alertname%3D%22ssh-brute-force%22" \
        >"$TMP/alerts.json"
}
two_active() {
    am_alerts && python3 -c "
import json, sys
a = [x for x in json.load(open('$TMP/alerts.json')) if x['status']['state'] == 'active']
sys.exit(0 if len(a) == 2 else 1)"
}
check "Alertmanager holds an active alert per incident" within 30 two_active
check "labelled with rule, severity, incident, group key and tags; annotated" \
    python3 - "$TMP/alerts.json" "$U" "$O" <<'EOP'
import json, subprocess, sys
alerts = json.load(open(sys.argv[1]))
def incident(i):
    return json.loads(subprocess.check_output(["curl", "-sf", "-H", "Authorization: Bearer " + sys.argv[3],
                                               sys.argv[2] + "/api/v1/incidents/" + i]))
ips = sorted(a["labels"]["source_ip"] for a in alerts)
assert ips == ["198.51.100.9", "203.0.113.7"], ips
for a in alerts:
    l, an = a["labels"], a["annotations"]
    d = incident(l["incident_id"])
    assert l["rule_id"] == l["alertname"] == "ssh-brute-force" and l["severity"] == d["severity"], (l, d["severity"])
    assert d["group_key"] == {"source.ip": l["source_ip"]}, d["group_key"]
    assert len(l["incident_id"]) == 36 and "attack.t1110" in l["tags"], l
    assert an["title"] == d["title"] and an["description"] == d["description"], an
    assert an["console"] == sys.argv[2] + "/#/incident/" + l["incident_id"], an
    assert a["generatorURL"] == an["console"]
EOP
grouped() {
    python3 - "$TMP/rx.jsonl" <<'EOP'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"] != "/am":
        continue
    n = json.loads(r["body"])
    if (n["groupLabels"] == {"alertname": "ssh-brute-force"} and n["status"] == "firing"
            and len([a for a in n["alerts"] if a["status"] == "firing"]) == 2):
        sys.exit(0)
sys.exit(1)
EOP
}
check "Alertmanager groups both into one notification to its receiver" \
    within 20 grouped
check "firing alerts are re-sent (resend_interval 2s)" wait_until 10 \
    'curl -s "$U/metrics" | grep -q "sentineld_plugin_alertmanager_resent_total{instance=\"alertmanager\"} [1-9]"'

ID=$(python3 -c "
import json
for a in json.load(open('$TMP/alerts.json')):
    if a['labels']['source_ip'] == '203.0.113.7':
        print(a['labels']['incident_id'])")
code=$(curl -s -o "$TMP/b" -w '%{http_code}' -X POST -H "Authorization: Bearer $O" \
    -H 'Content-Type: application/json' --data-binary '{"reason":"address blocked"}' \
    "$U/api/v1/incidents/$ID/resolve")
check "the incident is resolved through the API (HTTP $code)" test "$code" = 200
resolved_in_am() {
    python3 - "$TMP/rx.jsonl" "$ID" <<'EOP'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"] != "/am":
        continue
    for a in json.loads(r["body"])["alerts"]:
        if a["labels"]["incident_id"] == sys.argv[2] and a["status"] == "resolved":
            sys.exit(0)
sys.exit(1)
EOP
}
check "Alertmanager notifies its resolution" within 20 resolved_in_am
check "and keeps only the other incident's alert active" python3 -c "
import json, subprocess, sys
a = json.loads(subprocess.check_output(['curl', '-sf',
    'http://127.0.0.1:$p_am/api/v2/alerts?active=true&filter=alertname%3D%22ssh-brute-force%22']))
assert [x['labels']['source_ip'] for x in a] == ['198.51.100.9'], a
"
check "the example's webhook got the incidents, signed" python3 - "$TMP/rx.jsonl" <<'EOP'
import hashlib, hmac, json, sys
n = 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"] != "/hook":
        continue
    want = "sha256=" + hmac.new(b"test-secret", r["body"].encode(), hashlib.sha256).hexdigest()
    assert r["headers"]["x-sentineld-signature"] == want
    assert r["headers"]["x-source"] == "sentineld"
    n += 1
assert n >= 2, n
EOP
check "sentineld stops cleanly" stop_daemon
tap_done
