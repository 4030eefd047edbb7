#!/bin/sh
# Signals offline and explained: `sentineld test` replays a log through the
# correlations and prints the signals at the end (text, and one JSON
# object per signal with --json); a sequence naming a correlated rule
# counts its signals (three failures then a login is not "brute force then
# success", ten are); rule files may set allowed_lateness and limits;
# `sentineld explain` renders signals (and an incident document) with the
# window math in words, the trace rows, the evidence table and the
# sequence timeline, and rejects what is not a signal with a position.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 13

cat >"$TMP/rules.yaml" <<'EOR'
rules:
  - id: fail
    title: Password guessing
    severity: medium
    tags: [attack.t1110]
    match: appname == "sshd" and msg startswith "Failed password"
    extract:
      - regex: 'from (?<ip>\S+) port \d+ ssh2$'
        fields: { ip: source.ip:ip }
    group_by: [source.ip]
    window: 2m
    threshold: {count: 5}
    allowed_lateness: 30s
    limits: {max_keys: 100, max_events: 16}
  - id: login
    title: Login
    severity: info
    match: appname == "sshd" and msg startswith "Accepted "
    extract:
      - regex: 'from (?<ip>\S+) port \d+ ssh2$'
        fields: { ip: source.ip:ip }
  - id: fail-then-login
    title: Login after password guessing
    severity: high
    match: "false"
    sequence: [fail, login]
    window: 10m
    group_by: [source.ip]
EOR
{
    # 198.51.100.7: three failures then a login (a typo, no signal)
    for s in 00 01 02; do
        echo "<38>Nov 23 10:00:$s web1 sshd[1]: Failed password for bob from 198.51.100.7 port 1$s ssh2"
    done
    echo "<38>Nov 23 10:00:05 web1 sshd[1]: Accepted password for bob from 198.51.100.7 port 200 ssh2"
    # 203.0.113.7: five failures, one of them 20 s out of order (within
    # the allowed lateness), then a login
    for s in 10 11 12 33; do
        echo "<38>Nov 23 10:00:$s web1 sshd[2]: Failed password for root from 203.0.113.7 port 3$s ssh2"
    done
    echo "<38>Nov 23 10:00:13 web1 sshd[2]: Failed password for root from 203.0.113.7 port 313 ssh2"
    echo "<38>Nov 23 10:01:00 web1 sshd[2]: Accepted password for root from 203.0.113.7 port 400 ssh2"
} >"$TMP/auth.log"

"$SENTINELD" test -r "$TMP/rules.yaml" "$TMP/auth.log" >"$TMP/text" 2>"$TMP/err"
check "sentineld test accepts allowed_lateness and limits and exits 0" test $? -eq 0
check "the text ends with the signals: the threshold and the sequence" \
    grep -q '^2 signals$' "$TMP/text"
check "the threshold signal is rendered with its window math in words" \
    grep -q 'what: 5 matches from source.ip 203.0.113.7 within 2m (threshold 5), first 10:00:10, last 10:00:33' "$TMP/text"
check "the sequence is rendered as a timeline starting with the signal" \
    grep -q '1\. fail: signal fail (threshold: 5 of 5)' "$TMP/text"

"$SENTINELD" test --json -r "$TMP/rules.yaml" "$TMP/auth.log" >"$TMP/json"
check "--json: one object per signal, then the summary counting them" python3 -c "
import json
objs=[json.loads(l) for l in open('$TMP/json')]
sig=[o for o in objs if o.get('type')=='signal']
assert [s['rule'] for s in sig]==['fail','fail-then-login'], sig
assert all(s['key']=={'source.ip':'203.0.113.7'} for s in sig), sig
assert sig[0]['window']['count']==5 and sig[0]['trace']['matched'] is True, sig[0]
assert sig[1]['sequence'][0]['summary']['signal']=='fail', sig[1]['sequence']
assert objs[-1]['summary']['signals']==2, objs[-1]"

grep '"type":"signal"' "$TMP/json" >"$TMP/signals.json"
"$SENTINELD" explain "$TMP/signals.json" >"$TMP/explained" 2>"$TMP/err"
check "explain renders a signals file" test $? -eq 0
check "explain shows the trace as PASS/FAIL rows with the values seen" \
    grep -q 'PASS msg startswith "Failed password"    \[msg: "Failed password for root from 203.0.113.7 port 313 ssh2"\]' "$TMP/explained"
check "explain shows the evidence table" grep -q '^    10:00:10  web1         sshd       Failed password for root from 203.0.113.7 port 310 ssh2$' "$TMP/explained"
"$SENTINELD" explain - <"$TMP/signals.json" >"$TMP/explained2"
check "explain reads standard input too" cmp -s "$TMP/explained" "$TMP/explained2"

# An incident document (docs/incidents.md), pretty-printed, with the
# latest signal as its explanation.
python3 - "$TMP/signals.json" >"$TMP/incident.json" <<'PY'
import json, sys
sig = json.loads(open(sys.argv[1]).readline())
print(json.dumps({"type": "incident", "id": "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b",
                  "version": 3, "rule_id": "fail", "title": "Password guessing",
                  "severity": "medium", "status": "open",
                  "group_key": {"source.ip": "203.0.113.7"},
                  "first_seen": "2026-11-23T10:00:10.000000000Z",
                  "last_seen": "2026-11-23T10:00:33.000000000Z",
                  "hit_count": 5, "signal_count": 1, "owner": None,
                  "explanation": sig}, indent=2))
PY
"$SENTINELD" explain "$TMP/incident.json" >"$TMP/inc.txt"
check "explain renders an incident document with its latest signal" \
    grep -q '^INCIDENT 1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b v3 open, severity medium: Password guessing$' "$TMP/inc.txt"
check "...including the signal's window math" grep -q 'what: 5 matches from source.ip 203.0.113.7' "$TMP/inc.txt"

printf '{"type":"signal","rule":"x"}\n{"type":"signal",\n' >"$TMP/bad.json"
"$SENTINELD" explain "$TMP/bad.json" >/dev/null 2>"$TMP/bad.err"
check "a truncated object fails with its line" sh -c "test $? -eq 1 && grep -q 'bad.json:2: not JSON' '$TMP/bad.err'"
echo '{"line": 3}' | "$SENTINELD" explain >/dev/null 2>"$TMP/bad2.err"
check "an object that is not a signal is refused" grep -q '<stdin>\|-:1: not a signal or incident' "$TMP/bad2.err"
tap_done
