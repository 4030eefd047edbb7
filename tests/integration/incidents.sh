#!/bin/sh
# Incidents end to end with the real binary and the det_signal test
# detector: signals fold into incidents (open, update, resolve, reopen
# linked by previous_id), every version reaches an out_file taking
# incidents in order and PII-scrubbed, the CLI lists, shows and acts
# (pending approval for CRITICAL, four eyes, audit trail), and a store
# that cannot be written stops the daemon with a clear error.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 18

DETDIR="$BUILDDIR/tests/plugins/det_signal/.libs"
cat >"$TMP/in.log" <<'EOL'
SIGNAL ssh alice high firing login from alice@example.com card 4111 1111 1111 1111
SIGNAL ssh alice high firing again with password=hunter2
hello world, not a signal
SIGNAL ssh bob medium firing first for bob
SIGNAL esc carol critical/medium firing boom
SIGNAL ssh alice high resolved
SIGNAL ssh alice low firing back again
EOL
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, plugin_path: [$DETDIR] }
http: { enabled: false }
inputs:
  - { name: f, plugin: in_file, path: $TMP/in.log, parser: raw }
detectors:
  - { name: d, plugin: det_signal }
outputs:
  - { name: inc, plugin: out_file, path: $TMP/inc.json, take: incidents, fsync: batch }
  - { name: ev, plugin: out_file, path: $TMP/events.json }
EOC
"$SENTINELD" run -c "$TMP/c.yaml" --oneshot 2>"$TMP/run.log"
check "oneshot run with incidents exits 0" test $? -eq 0
check "events still reach the events output" test "$(lines "$TMP/events.json")" -eq 7
# Signals that meet in one manager batch fold into one written version,
# so the number of versions written depends on timing; what must hold
# does not: four incidents (alice, bob, esc, alice again), versions in
# increasing order, each signal adding one (the last version of an
# incident only signals changed is its signal count).
check "four incidents: alice (opened, resolved), bob, esc, alice again linked" \
    python3 - "$TMP/inc.json" <<'EOP'
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
assert len({d["id"] for d in docs}) == 4, len({d["id"] for d in docs})
EOP

check "versions per incident increase, one per signal, hit-only ones batched; resolve then a new linked incident" python3 - "$TMP/inc.json" <<'EOP'
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
by, last = {}, {}
for d in docs:
    assert d["type"] == "incident"
    by.setdefault(d["id"], []).append(d["version"])
    last[d["id"]] = d
for i, v in by.items():
    assert v == sorted(set(v)) and v[0] >= 1, (i, v)
    assert v[-1] == last[i]["signal_count"], (i, v, last[i]["signal_count"])
alice = [d for d in docs if d["group_key"] == {"user.name": "alice"}]
first, second = alice[0]["id"], alice[-1]["id"]
assert first != second
st = [d["status"] for d in alice if d["id"] == first]
assert st[-1] == "resolved" and set(st[:-1]) == {"open"}, st
# The second signal only added a hit: held (incidents.update_interval)
# and delivered with the resolution, which carries both hits.
last_first = [d for d in alice if d["id"] == first][-1]
assert last_first["hit_count"] == 2
assert len(last_first["evidence"]) == 2
assert alice[-1]["previous_id"] == first and alice[-1]["version"] == 1
EOP

check "evidence is scrubbed: no e-mail, card or password leaves the process" sh -c "
    ! grep -q -e 'alice@example.com' -e '4111 1111' -e 'hunter2' '$TMP/inc.json' &&
    grep -q '\[email\]' '$TMP/inc.json' && grep -q '\[card\]' '$TMP/inc.json' &&
    grep -q 'password=\[redacted\]' '$TMP/inc.json'"

check "an escalation to critical waits for approval" python3 - "$TMP/inc.json" <<'EOP'
import json, sys
d = [json.loads(l) for l in open(sys.argv[1]) if '"esc"' in l][-1]
assert d["severity"] == "medium", d["severity"]
assert d["pending_approval"]["action"] == "escalate"
assert d["pending_approval"]["to"] == "critical"
EOP

# --- the CLI ------------------------------------------------------------
S="$SENTINELD"
"$S" incidents list -c "$TMP/c.yaml" >"$TMP/list.txt" 2>&1
check "incidents list prints a table with the pending approval" sh -c "
    grep -q 'approval pending' '$TMP/list.txt' && grep -q '^ID ' '$TMP/list.txt'"
"$S" incidents list --store "$TMP/state/sentineld.db" --status resolved --json >"$TMP/res.json"
check "list --status resolved --json" python3 -c "
import json; d=json.load(open('$TMP/res.json'))['incidents']
assert len(d) == 1 and d[0]['status'] == 'resolved', d"
# Paging the local store: --limit 1, each page's next_cursor back with
# --cursor, gives the full list in order; the text ends in the next
# page's cursor; a cursor that is not one, and --cursor for show, refused.
"$S" incidents list -c "$TMP/c.yaml" --json >"$TMP/all.json"
cur=""
: >"$TMP/paged"
for pg in 1 2 3 4 5 6 7 8; do
    "$S" incidents list -c "$TMP/c.yaml" --limit 1 ${cur:+--cursor "$cur"} --json >"$TMP/pg.json" || break
    cur=$(python3 -c "
import json, sys
p = json.load(open(sys.argv[1]))
open(sys.argv[2], 'a').write(''.join(i['id'] + '\\n' for i in p['incidents']))
print(p['next_cursor'] or '')" "$TMP/pg.json" "$TMP/paged")
    [ -n "$cur" ] || break
done
"$S" incidents list -c "$TMP/c.yaml" --limit 1 >"$TMP/pg1.txt" 2>&1
"$S" incidents list -c "$TMP/c.yaml" --cursor nope >/dev/null 2>"$TMP/badcur.err"
rb=$?
"$S" incidents show x --cursor 1:x -c "$TMP/c.yaml" >/dev/null 2>"$TMP/showcur.err"
rs=$?
check "list --limit 1 --cursor pages the local store in order; next page named; bad cursor exit $rb, show --cursor exit $rs" \
    python3 - "$TMP" "$rb" "$rs" <<'EOP'
import json, sys
tmp, rb, rs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
full = [i["id"] for i in json.load(open(tmp + "/all.json"))["incidents"]]
got = open(tmp + "/paged").read().split()
assert len(full) >= 2 and got == full, (got, full)
assert "next page: --cursor " in open(tmp + "/pg1.txt").read()
assert rb == 1 and "cursor" in open(tmp + "/badcur.err").read(), rb
assert rs == 2 and "--cursor is for incidents list" in open(tmp + "/showcur.err").read(), rs
EOP
ESC=$("$S" incidents list -c "$TMP/c.yaml" --json | python3 -c "
import json,sys; print([i['id'] for i in json.load(sys.stdin)['incidents'] if i['rule_id']=='esc'][0])")
# Who acts is verified, never typed: an API token's name, or local:<user>.
ALICE=$("$S" token create --name alice --role operator -c "$TMP/c.yaml" 2>/dev/null)
BOB=$("$S" token create --name bob --role operator -c "$TMP/c.yaml" 2>/dev/null)
echo "$ALICE" >"$TMP/alice.tok"
"$S" incident approve "$ESC" --by alice --reason "me" -c "$TMP/c.yaml" >/dev/null 2>"$TMP/by.err"
check "--by NAME is refused: a typed name proves nothing" sh -c "
    test $? -eq 2 && grep -q -- '--by is not accepted' '$TMP/by.err'"
SENTINELD_TOKEN=snt_0000 "$S" incident approve "$ESC" -c "$TMP/c.yaml" --reason "x" >/dev/null 2>"$TMP/tok.err"
check "an unknown token is refused" grep -q "unknown or revoked token" "$TMP/tok.err"
"$S" incident approve "$ESC" --token-file "$TMP/alice.tok" --reason "confirmed by on-call" -c "$TMP/c.yaml" >"$TMP/appr.txt"
check "approve applies the escalation" grep -q "severity:   critical" "$TMP/appr.txt"
export SENTINELD_TOKEN="$BOB"
"$S" incident ack "$ESC" --reason "looking" -c "$TMP/c.yaml" >/dev/null &&
    "$S" incident comment "$ESC" --reason "paged the db team" -c "$TMP/c.yaml" >/dev/null &&
    "$S" incident resolve "$ESC" --reason "fixed" -c "$TMP/c.yaml" >/dev/null
check "ack, comment and resolve succeed" test $? -eq 0
"$S" incident ack "$ESC" --reason "again" -c "$TMP/c.yaml" 2>"$TMP/ack.err" >/dev/null
check "an action that does not apply says why" grep -q "only an open incident can be acknowledged" "$TMP/ack.err"
unset SENTINELD_TOKEN
"$S" incidents show "$ESC" -c "$TMP/c.yaml" >"$TMP/show.txt"
"$S" incidents show "$ESC" -c "$TMP/c.yaml" --json >"$TMP/show.json"
check "show: the audit trail says who, what and why for every version" python3 - "$TMP/show.json" "$TMP/show.txt" <<'EOP'
import json, sys
d = json.load(open(sys.argv[1]))
a = [(e["version"], e["actor"], e["action"], e["reason"]) for e in d["audit"]
     if e["result"] == "ok"]
assert a[0][1:3] == ("sentineld", "open"), a
refused = [(e["actor"], e["action"], e["reason"]) for e in d["audit"]
           if e["result"] == "refused"]
assert refused == [("bob", "acknowledge", "again")], refused
assert a[1:] == [(2, "alice", "approve", "confirmed by on-call"),
                 (3, "bob", "acknowledge", "looking"),
                 (4, "bob", "comment", "paged the db team"),
                 (5, "bob", "resolve", "fixed")], a
assert [v["version"] for v in d["versions"]] == [1, 2, 3, 4, 5]
assert d["status"] == "resolved" and d["version"] == 5
t = open(sys.argv[2]).read()
assert "history (who, what, why)" in t and "confirmed by on-call" in t
EOP

# CLI changes reach the output through the outbox on the next run, and
# a later signal updates bob's open incident.
echo "SIGNAL ssh bob high firing second for bob" >"$TMP/in2.log"
sed "s|$TMP/in.log|$TMP/in2.log|" "$TMP/c.yaml" >"$TMP/c2.yaml"
"$SENTINELD" run -c "$TMP/c2.yaml" --oneshot 2>>"$TMP/run.log"
check "the CLI's versions are delivered by the daemon's relay" python3 - "$TMP/inc.json" "$ESC" <<'EOP'
import json, sys
v = [json.loads(l)["version"] for l in open(sys.argv[1]) if sys.argv[2] in l]
assert v == [1, 2, 3, 4, 5], v
EOP
check "a later signal updates the open incident: version 2, hits, severity, evidence" python3 - "$TMP/inc.json" <<'EOP'
import json, sys
# bob's incident: keyed by him (other documents name bob as who changed them)
bob = [d for d in map(json.loads, open(sys.argv[1])) if "bob" in d["group_key"].values()]
assert [d["version"] for d in bob] == [1, 2], bob
assert bob[1]["id"] == bob[0]["id"] and bob[1]["hit_count"] == 2
assert bob[1]["severity"] == "high" and bob[1]["base_severity"] == "medium"
assert [e["summary"] for e in bob[1]["evidence"]] == ["first for bob", "second for bob"]
EOP

# --- a store that cannot be written --------------------------------------
mkdir -p "$TMP/ro"
chmod 0555 "$TMP/ro"
chmod 0755 "$TMP"
sed "s|state_dir: $TMP/state|state_dir: $TMP/ro|" "$TMP/c.yaml" >"$TMP/ro.yaml"
chmod 0644 "$TMP/ro.yaml" "$TMP/in.log"
if [ "$(id -u)" -eq 0 ]; then
    RUNAS="setpriv --reuid=nobody --regid=nogroup --clear-groups"
else
    RUNAS=""
fi
$RUNAS env SENTINELD_PLUGIN_PATH="$SENTINELD_PLUGIN_PATH" "$SENTINELD" run -c "$TMP/ro.yaml" --oneshot >/dev/null 2>"$TMP/ro.log"
rc=$?
check "a read-only store directory: exit 1 with a clear error, nothing pretended" sh -c "
    test $rc -eq 1 && grep -q 'incident store $TMP/ro/sentineld.db' '$TMP/ro.log' &&
    grep -q 'refusing to run without a writable incident store' '$TMP/ro.log' &&
    ! grep -q 'pipeline started' '$TMP/ro.log'"
tap_done
