#!/bin/bash
# out_webhook with the real daemon: SSH failures sent by logger open an
# ssh-brute-force incident (shipped rule pack); its versions reach an
# HTTPS receiver (tests/tools/notify_receiver.py, certificate made here by
# openssl) as the incident document, signed with HMAC-SHA256, with the
# configured header; a Slack-preset instance filtered to `on: [opened]`
# gets one Slack-shaped message; an instance that does not trust the
# receiver's CA sends nothing and counts retries. Then the receiver goes
# down for ~10 s while incidents change and the daemon is killed with -9:
# after both come back, every version the store holds reaches the
# receiver at least once, in order per incident. The outbox backlog
# gauge counts what an output has not delivered: it rises while the
# receiver is down and returns to 0 after.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 15

make_certs sentineld-client || { echo "Bail out! openssl"; exit 1; }
p_sys=$(free_port)
p_http=$(free_port)
p_rx=$(free_port)
SECRET=s3cr3t-hmac-key
RX="$SRCDIR/tests/tools/notify_receiver.py"
start_rx() {
    python3 "$RX" --port "$p_rx" --out "$TMP/rx.jsonl" --cert "$TMP/server.pem" \
        --key "$TMP/server.key" >"$TMP/rx.out" 2>&1 &
    RXPID=$!
    PIDS="$PIDS $RXPID"
    wait_for 10 grep -q listening "$TMP/rx.out"
}
mkdir -p "$TMP/state"
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$p_http" }
inputs:
  - { name: syslog, plugin: in_syslog, listen: [ "tcp://127.0.0.1:$p_sys" ], parser: auto }
detectors:
  - { name: rules, plugin: det_rules, rules: [ $SRCDIR/conf/rules ], tick: 100ms }
outputs:
  - name: hook
    plugin: out_webhook
    take: incidents
    url: https://127.0.0.1:$p_rx/hook
    ca: $TMP/ca.pem
    secret: \${HOOK_SECRET}
    header.X-Team: secops
    timeout: 2s
    connect_timeout: 1s
  - name: slack
    plugin: out_webhook
    take: incidents
    url: https://127.0.0.1:$p_rx/slack
    ca: $TMP/ca.pem
    preset: slack
    console_url: http://console.example
    rules: [ "ssh-*" ]
    on: [ opened ]
  - name: untrusted
    plugin: out_webhook
    take: incidents
    url: https://127.0.0.1:$p_rx/untrusted
    ca: $TMP/other.pem
    connect_timeout: 1s
EOC
export HOOK_SECRET=$SECRET
O=$("$SENTINELD" token create --name olga --role operator -c "$TMP/c.yaml" 2>/dev/null)
start_rx
start_daemon "$TMP/c.yaml" "$TMP/s.log"
wait_for 20 curl -sf "http://127.0.0.1:$p_http/health" -o /dev/null
U="http://127.0.0.1:$p_http"
backlog() { # OUTPUT: its sentineld_outbox_backlog
    curl -s "$U/metrics" |
        sed -n "s/^sentineld_outbox_backlog{instance=\"$1\"} //p"
}

fail_from() { ssh_failures "$p_sys" "$@"; } # fail_from IP N
fail_from 203.0.113.7 12
check "the incident reaches the receiver" \
    wait_until 30 'grep -q "\"path\": \"/hook\"" "$TMP/rx.jsonl" 2>/dev/null'
check "as the incident document, signed with the secret, with the header" \
    python3 - "$TMP/rx.jsonl" "$SECRET" <<'EOP'
import hashlib, hmac, json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if '"/hook"' in l]
r = recs[0]
d = json.loads(r["body"])
assert d["type"] == "incident" and d["rule_id"] == "ssh-brute-force", d
assert d["group_key"] == {"source.ip": "203.0.113.7"}, d["group_key"]
want = "sha256=" + hmac.new(sys.argv[2].encode(), r["body"].encode(), hashlib.sha256).hexdigest()
assert r["headers"]["x-sentineld-signature"] == want, (r["headers"], want)
assert r["headers"]["x-team"] == "secops"
assert r["headers"]["x-sentineld-event"] == "opened", r["headers"]
assert r["headers"]["x-sentineld-incident"] == d["id"]
assert r["headers"]["x-sentineld-version"] == str(d["version"])
EOP
wait_until 10 'grep -q "\"path\": \"/slack\"" "$TMP/rx.jsonl"'
sleep 1 # a second one would come now
check "the Slack instance gets one Slack message for the opening" \
    python3 - "$TMP/rx.jsonl" <<'EOP'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
hook = json.loads([r for r in recs if r["path"] == "/hook"][0]["body"])
slack = [r for r in recs if r["path"] == "/slack"]
assert len(slack) == 1, len(slack)
m = json.loads(slack[0]["body"])
assert m["text"] == "[%s] %s (opened)" % (hook["severity"], hook["title"]), m["text"]
a = m["attachments"][0]
assert a["color"].startswith("#") and a["title_link"] == "http://console.example/#/incident/" + hook["id"], a
assert any(f["title"] == "Group" and "203.0.113.7" in f["value"] for f in a["fields"]), a
EOP
ID=$(python3 -c "
import json
for l in open('$TMP/rx.jsonl'):
    r = json.loads(l)
    if r['path'] == '/hook':
        print(json.loads(r['body'])['id']); break")

# The receiver goes down; incidents change meanwhile: a second incident
# opens, the first is resolved through the API, and the daemon is
# killed -9 in the middle of its retries.
kill -9 "$RXPID"
wait "$RXPID" 2>/dev/null
t_down=$(date +%s)
fail_from 198.51.100.9 12
code=$(curl -s -o "$TMP/b" -w '%{http_code}' -X POST -H "Authorization: Bearer $O" \
    -H 'Content-Type: application/json' --data-binary '{"reason":"blocked at the edge"}' \
    "$U/api/v1/incidents/$ID/resolve")
check "the first incident is resolved through the API (HTTP $code)" test "$code" = 200
check "meanwhile the webhook retries" wait_until 10 \
    'curl -s "$U/metrics" | grep -q "sentineld_plugin_webhook_retries_total{instance=\"hook\"} [1-9]"'
# The second incident's versions and the resolution wait for the hook.
check "and its backlog counts them (sentineld_outbox_backlog)" wait_until 10 \
    '[ "$(backlog hook)" -ge 2 ] 2>/dev/null'
sleep 2
kill -9 "$DPID"
wait "$DPID" 2>/dev/null
start_daemon "$TMP/c.yaml" "$TMP/s2.log"
wait_for 20 curl -sf "$U/health" -o /dev/null
# Keep the receiver down ~10 s in all.
while [ $(($(date +%s) - t_down)) -lt 10 ]; do sleep 0.5; done
start_rx

versions() { # every (id, version) the store holds, as "id version" lines
    for i in $(curl -s -H "Authorization: Bearer $O" "$U/api/v1/incidents?rule=ssh-brute-force" |
        python3 -c 'import json,sys; [print(i["id"]) for i in json.load(sys.stdin)["incidents"]]'); do
        curl -s -H "Authorization: Bearer $O" "$U/api/v1/incidents/$i" |
            python3 -c 'import json,sys; d=json.load(sys.stdin); [print(d["id"], v["version"]) for v in d["versions"]]'
    done
}
all_delivered() {
    versions >"$TMP/want.txt"
    python3 - "$TMP/rx.jsonl" "$TMP/want.txt" <<'EOP'
import json, sys
got = set()
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"] == "/hook":
        d = json.loads(r["body"])
        got.add((d["id"], d["version"]))
want = {(a, int(b)) for a, b in (l.split() for l in open(sys.argv[2]))}
sys.exit(0 if want and want <= got else 1)
EOP
}
check "after the outage and the kill -9, every stored version reached the receiver" \
    within 40 all_delivered
check "the backlog is back to 0 once delivered" wait_until 10 \
    '[ "$(backlog hook)" = 0 ]'
untrusted_waits_for_all() { # never delivered: every version is in its backlog
    [ "$(backlog untrusted)" -ge "$(wc -l <"$TMP/want.txt")" ] 2>/dev/null
}
check "the untrusted instance's backlog holds every version (it delivers none)" \
    untrusted_waits_for_all
diag "store: $(wc -l <"$TMP/want.txt") versions of $(cut -d' ' -f1 "$TMP/want.txt" | sort -u | wc -l) incidents; receiver: $(grep -c '"/hook"' "$TMP/rx.jsonl") requests"
check "two incidents, one of them resolved" python3 - "$TMP/rx.jsonl" <<'EOP'
import json, sys
docs = [json.loads(json.loads(l)["body"]) for l in open(sys.argv[1]) if '"/hook"' in l]
assert len({d["id"] for d in docs}) == 2
assert any(d["status"] == "resolved" for d in docs)
EOP
check "in order per incident (a repeat only after a crash, never out of order)" \
    python3 - "$TMP/rx.jsonl" <<'EOP'
import json, sys
seen = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"] != "/hook":
        continue
    d = json.loads(r["body"])
    seen.setdefault(d["id"], []).append(d["version"])
for i, v in seen.items():
    # Versions arrive increasing; a redelivery after the kill may start
    # again from an earlier one, but from there on it increases again.
    firsts = []
    for x in v:
        if x not in firsts:
            assert not firsts or x > firsts[-1], (i, v)
            firsts.append(x)
EOP
check "the resolution is sent as event 'resolved'" python3 - "$TMP/rx.jsonl" <<'EOP'
import json, sys
ok = False
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"] == "/hook" and json.loads(r["body"])["status"] == "resolved":
        ok = r["headers"]["x-sentineld-event"] == "resolved"
assert ok
EOP
check "the untrusted instance sent nothing: the CA does not verify the receiver" \
    sh -c "! grep -q '\"/untrusted\"' '$TMP/rx.jsonl'"
check "and says why in the log, counting retries" sh -c "
    grep -q \"output 'untrusted'.*certificate\" '$TMP/s.log' '$TMP/s2.log' &&
    curl -s '$U/metrics' | grep -q 'sentineld_plugin_webhook_retries_total{instance=\"untrusted\"} [1-9]'"
check "sent counts on /metrics" sh -c \
    "curl -s '$U/metrics' | grep -q 'sentineld_plugin_webhook_sent_total{instance=\"hook\"} [1-9]'"
stop_daemon
tap_done
