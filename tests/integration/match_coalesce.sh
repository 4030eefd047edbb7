#!/bin/sh
# det_rules' match signal coalescing (issue #21) with the real daemon and
# real input: a file of RFC 5424 lines read by in_file (big batches)
# through two rules without a correlation (one grouped by user.name, one
# without group_by), run with coalesce on and off, with the incident
# manager's default evidence window (10) and a wider one (32). The
# incidents (hits, signals, versions, first and last seen, severity,
# status, evidence items) must be identical either way; the input has
# out-of-order times, repeated identical lines (consecutive and not), a
# group far larger than the evidence a coalesced signal carries, and
# lines without the group_by field (no signal). signals_file: fewer
# lines when coalesced, whose "coalesced" counts add up to the lines of
# the per-event run.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 7

python3 - "$TMP/in.log" <<'EOP'
import sys
out = open(sys.argv[1], "w")
users = ["alice"] * 5 + ["bob"] * 2 + ["carol"]
def line(sec, ms, user, n):
    out.write("<38>1 2026-03-01T10:%02d:%02d.%03dZ host%d app - - - "
              "login by %s seq=%d\n" % (sec // 60, sec % 60, ms, n % 3, user, n))
def again(sec):
    # A B A: the same line again, not right after it (the incident
    # manager drops the repeat while A is in the evidence window)
    line(sec, 500, "alice", 7777)
    line(sec, 501, "alice", 7778)
    line(sec, 500, "alice", 7777)
n = 0
again(9)
for i in range(900):
    u = users[i % len(users)]
    sec = 10 + i // 10
    if i % 7 == 3:
        sec -= 3                      # out of order
    line(sec, (i * 37) % 1000, u, n)
    if i % 50 == 0:                   # consecutive identical lines
        line(sec, (i * 37) % 1000, u, n)
        line(sec, (i * 37) % 1000, u, n)
    if i % 90 == 45:                  # the same line again, later
        line(sec, (i * 37) % 1000, u, n - 8)
        line(sec - 1, 0, u, n - 8)
        line(sec - 1, 0, u, n - 8)
    n += 1
    if i % 40 == 0:
        out.write("<38>1 2026-03-01T10:00:%02d.000Z hostx app - - - "
                  "login by\n" % (i % 60))   # no user: no key, no signal
again(99)
EOP
cat >"$TMP/rules.yaml" <<'EOR'
rules:
  - id: app-login
    title: App login
    severity: medium
    match: appname == "app" and msg contains "login by"
    extract:
      - regex: 'login by (?<u>\w+)'
        fields: { u: user.name }
    group_by: [user.name]
  - id: app-any-login
    title: Any app login
    severity: high
    match: appname == "app" and msg contains "login by "
EOR

run() { # run NAME COALESCE EVIDENCE_MAX
    mkdir -p "$TMP/$1"
    cat >"$TMP/$1/c.yaml" <<EOC
daemon: { state_dir: $TMP/$1/state }
http: { enabled: false }
incidents: { evidence_max: $3 }
inputs:
  - { name: f, plugin: in_file, path: $TMP/in.log, parser: rfc5424 }
detectors:
  - { name: rules, plugin: det_rules, rules: [ $TMP/rules.yaml ], coalesce: $2, signals_file: $TMP/$1/signals.json }
outputs:
  - { name: ev, plugin: out_file, path: $TMP/$1/events.json }
EOC
    "$SENTINELD" run -c "$TMP/$1/c.yaml" --oneshot 2>"$TMP/$1/run.log"
}

# The incidents of a run, one line each, without what differs per run
# (ids, wall-clock times).
incidents() {
    python3 - "$TMP/$1/state/sentineld.db" <<'EOP'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for row in db.execute(
        "SELECT i.rule_id, i.group_key, i.hit_count, i.signal_count, "
        "i.version, i.first_seen, i.last_seen, i.severity, i.base_severity, "
        "i.status, i.title, e.items FROM incidents i "
        "JOIN evidence e ON e.incident_id = i.id "
        "ORDER BY i.rule_id, i.group_key"):
    print(json.dumps(row))
EOP
}

for e in 10 32; do
    run "on$e" true $e && run "off$e" false $e
    check "evidence_max $e: both runs exit 0" test $? -eq 0
    incidents "on$e" >"$TMP/on$e.inc"
    incidents "off$e" >"$TMP/off$e.inc"
    check "evidence_max $e: four incidents" test "$(lines "$TMP/off$e.inc")" -eq 4
    check_why "evidence_max $e: the incidents are identical coalesced or not" \
        diff "$TMP/off$e.inc" "$TMP/on$e.inc"
done

check "signals_file: fewer lines coalesced, standing for every per-event line" \
    python3 - "$TMP/on10/signals.json" "$TMP/off10/signals.json" <<'EOP'
import json, sys
on = [json.loads(l) for l in open(sys.argv[1])]
off = [json.loads(l) for l in open(sys.argv[2])]
assert all("coalesced" not in s and s["repeat"] == 1 for s in off)
assert len(on) < len(off) / 10, (len(on), len(off))
assert sum(s.get("coalesced", 1) for s in on) == len(off), len(off)
for s in on:
    n = s.get("coalesced", 1)
    assert s["kind"] == "match" and s["repeat"] == n, s
    assert s["window"]["count"] == n and s["window"]["threshold"] == 1, s
    assert s["window"]["first_ns"] <= s["time_ns"] <= s["window"]["last_ns"]
    ev = s["evidence"]["first"] + s["evidence"].get("last", [])
    assert 1 <= len(ev) <= 64, len(ev)
    assert "trace" in s and "source" in s, s.keys()
EOP
tap_done
