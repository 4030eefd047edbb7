#!/bin/bash
# Escalation that pages (incidents.escalation, docs/notifications.md):
# the real daemon fed by logger opens two ssh-brute-force incidents; a
# policy notifies the webhook `chat` at once and `pager` 8 s after the
# opening unless acknowledged. One incident is acknowledged through the
# API, then the daemon is killed with -9 and restarted before the second
# step is due: the unacknowledged incident still pages `pager` once its
# delay (from the stored opening time) has passed, the acknowledged one
# never does, and each notification (and the stopped step) is an audit
# entry on its incident, written once despite the restart.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 9

p_sys=$(free_port)
p_http=$(free_port)
p_rx=$(free_port)
DELAY=8
mkdir -p "$TMP/state"
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, shutdown_timeout: 5s }
http: { listen: "127.0.0.1:$p_http" }
inputs:
  - { name: syslog, plugin: in_syslog, listen: [ "tcp://127.0.0.1:$p_sys" ], parser: auto }
detectors:
  - { name: rules, plugin: det_rules, rules: [ $SRCDIR/conf/rules ], tick: 100ms }
outputs:
  - { name: chat, plugin: out_webhook, take: incidents, url: "http://127.0.0.1:$p_rx/chat", timeout: 2s }
  - { name: pager, plugin: out_webhook, take: incidents, url: "http://127.0.0.1:$p_rx/pager", timeout: 2s }
incidents:
  escalation:
    - rules: [ ssh-brute-force ]
      steps:
        - { after: 0s, notify: [ chat ] }
        - { after: ${DELAY}s, unless: acknowledged, notify: [ pager ] }
EOC
O=$("$SENTINELD" token create --name olga --role operator -c "$TMP/c.yaml" 2>/dev/null)
python3 "$SRCDIR/tests/tools/notify_receiver.py" --port "$p_rx" --out "$TMP/rx.jsonl" \
    >"$TMP/rx.out" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 grep -q listening "$TMP/rx.out"
start_daemon "$TMP/c.yaml" "$TMP/s.log"
wait_for 20 curl -sf "http://127.0.0.1:$p_http/health" -o /dev/null
U="http://127.0.0.1:$p_http"

fail_from() { ssh_failures "$p_sys" "$@"; } # fail_from IP N
# "ip id created_at(s)" of the incident of ip that `chat` received.
rx_ids() {
    python3 - "$TMP/rx.jsonl" <<'EOP'
import datetime, json, sys
seen = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    d = json.loads(r["body"])
    if r["path"] == "/chat" and d["id"] not in seen:
        t = datetime.datetime.strptime(d["created_at"][:26], "%Y-%m-%dT%H:%M:%S.%f")
        seen[d["id"]] = "%s %s %.3f" % (d["group_key"]["source.ip"], d["id"],
            t.replace(tzinfo=datetime.timezone.utc).timestamp())
print("\n".join(seen.values()))
EOP
}
fail_from 203.0.113.7 12
fail_from 198.51.100.9 12
check "step 1 (after 0s) notifies chat of both incidents" \
    wait_until 20 '[ "$(rx_ids 2>/dev/null | wc -l)" -ge 2 ]'
rx_ids >"$TMP/ids"
read -r _ A A_AT < <(grep '^203' "$TMP/ids")
read -r _ B B_AT < <(grep '^198' "$TMP/ids")
diag "A=$A B=$B"
code=$(curl -s -o "$TMP/ack" -w '%{http_code}' -X POST -H "Authorization: Bearer $O" \
    -H 'Content-Type: application/json' --data-binary '{"reason":"on it"}' \
    "$U/api/v1/incidents/$B/acknowledge")
left=$(python3 -c "import time; print('%.1f' % ($B_AT + $DELAY - time.time()))")
check "B is acknowledged through the API ${left}s before its page (HTTP $code)" \
    test "$code" = 200 -a "$(python3 -c "print(int($left > 0))")" = 1
# A restart in between: the due times come from the stored opening.
kill -9 "$DPID"
wait "$DPID" 2>/dev/null
start_daemon "$TMP/c.yaml" "$TMP/s2.log"
wait_for 20 curl -sf "$U/health" -o /dev/null
check "step 2 pages pager for A, not before its delay" within 25 python3 - "$TMP/rx.jsonl" "$A" "$A_AT" "$DELAY" <<'EOP'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    d = json.loads(r["body"])
    if r["path"] == "/pager" and d["id"] == sys.argv[2]:
        early = float(sys.argv[3]) + int(sys.argv[4]) - r["time"]
        assert early <= 0.05, "paged %.2fs early" % early
        assert d["escalation"] == {"step": 2, "steps": 2, "after_ms": int(sys.argv[4]) * 1000,
                                   "output": "pager"}, d["escalation"]
        sys.exit(0)
sys.exit(1)
EOP
# B's page would have been due at B_AT + DELAY; give it 2 s more.
while python3 -c "import sys,time; sys.exit(0 if time.time() < $B_AT + $DELAY + 2 else 1)"; do
    sleep 0.2
done
check "the acknowledged B never pages pager; only ssh-brute-force reached either" \
    python3 - "$TMP/rx.jsonl" "$B" <<'EOP'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    d = json.loads(r["body"])
    assert d["rule_id"] == "ssh-brute-force", d["rule_id"]
    assert not (r["path"] == "/pager" and d["id"] == sys.argv[2]), "B paged"
EOP
audit() { # audit ID: "action target" lines of the incident's audit trail
    curl -s -H "Authorization: Bearer $O" "$U/api/v1/incidents/$1" |
        python3 -c 'import json,sys; [print(a["action"], a.get("target") or "-", a["actor"], a["reason"]) for a in json.load(sys.stdin)["audit"]]'
}
audit "$A" >"$TMP/audit.A"
audit "$B" >"$TMP/audit.B"
sed 's/^/# A: /' "$TMP/audit.A"
sed 's/^/# B: /' "$TMP/audit.B"
check "A's audit: one notify to chat (step 1), one to pager (step 2), by sentineld" sh -c "
    [ \$(grep -c '^notify chat sentineld escalation step 1 of 2 (after 0s)' '$TMP/audit.A') = 1 ] &&
    [ \$(grep -c '^notify pager sentineld escalation step 2 of 2 (after ${DELAY}s, unless acknowledged)' '$TMP/audit.A') = 1 ] &&
    [ \$(grep -c '^notify' '$TMP/audit.A') = 2 ]"
check "B's audit: chat notified, the acknowledgement, the stopped step; no page" sh -c "
    [ \$(grep -c '^notify chat' '$TMP/audit.B') = 1 ] &&
    grep -q '^acknowledge .* olga on it' '$TMP/audit.B' &&
    [ \$(grep -c '^escalation stopped .* sentineld escalation step 2 of 2' '$TMP/audit.B') = 1 ] &&
    ! grep -q '^notify pager' '$TMP/audit.B'"
check "pager got one request: A's page (nothing repeated, nothing else)" python3 - "$TMP/rx.jsonl" "$A" <<'EOP'
import json, sys
pages = [json.loads(json.loads(l)["body"]) for l in open(sys.argv[1]) if '"/pager"' in l]
assert [(d["id"], d["escalation"]["step"]) for d in pages] == [(sys.argv[2], 2)], pages
EOP
curl -s -H "Authorization: Bearer $O" "$U/api/v1/incidents/$A/report?format=md" >"$TMP/report.md"
check "the post-incident review of A lists both notifications" sh -c "
    sed -n '/^## Notifications/,/^## Explanation/p' '$TMP/report.md' >'$TMP/notes.md' &&
    grep -q '| notify | chat |' '$TMP/notes.md' && grep -q '| notify | pager |' '$TMP/notes.md'" ||
    sed 's/^/# /' "$TMP/report.md" | head -40
check "the daemon logged no error" sh -c "! grep -q ' error' '$TMP/s.log' '$TMP/s2.log'"
stop_daemon
tap_done
