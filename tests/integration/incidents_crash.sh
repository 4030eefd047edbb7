#!/bin/sh
# kill -9 of sentineld at random moments while signals stream in, 8
# times, restarting each time; then a clean run. Every incident version
# the store committed must have reached the out_file taking incidents
# (at-least-once), first deliveries in version order, and the last line
# of every incident must be the version and document the store holds.
# No line's signal may be lost either: in_file saves the position of
# what is processed and stored, so the crashes can only add signals
# (lines read again) to those of one clean run over the same file.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 6

DETDIR="$BUILDDIR/tests/plugins/det_signal/.libs"
: >"$TMP/in.log"
# write_conf FOLLOW [NAME]: state in $TMP/NAME, incidents to $TMP/NAME.json.
write_conf() {
    cat >"$TMP/${2:-state}.yaml" <<EOC
daemon: { state_dir: $TMP/${2:-state}, plugin_path: [$DETDIR], workers: 2 }
http: { enabled: false }
incidents: { batch: 64 }
inputs:
  - { name: f, plugin: in_file, path: $TMP/in.log, parser: raw, follow: $1, poll_interval: 20ms }
detectors:
  - { name: d, plugin: det_signal }
outputs:
  - { name: inc, plugin: out_file, path: $TMP/${2:-state}.json, take: incidents, fsync: batch }
EOC
}
# The stream: 40 keys over 4 rules, some resolving, about 3000 lines/s.
python3 - "$TMP/in.log" "$TMP/writer.done" <<'EOP' &
import sys, time, random
random.seed(7)
with open(sys.argv[1], "a") as f:
    for i in range(12000):
        k = random.randrange(40)
        state = "resolved" if random.random() < 0.05 else "firing"
        f.write("SIGNAL r%d u%d medium %s line %d\n" % (k % 4, k, state, i))
        if i % 30 == 0:
            f.flush()
            time.sleep(0.01)
open(sys.argv[2], "w").close()
EOP
WPID=$!
PIDS="$PIDS $WPID"

write_conf true
kills=0
for i in 1 2 3 4 5 6 7 8; do
    start_daemon "$TMP/state.yaml" "$TMP/run$i.log"
    sleep "$(python3 -c 'import random; print(round(random.uniform(0.3, 0.9), 2))')"
    kill -9 "$DPID" 2>/dev/null && kills=$((kills + 1))
    wait "$DPID" 2>/dev/null
done
check "sentineld was killed with SIGKILL 8 times mid-stream" test "$kills" -eq 8
wait_for 30 test -f "$TMP/writer.done"
write_conf false
"$SENTINELD" run -c "$TMP/state.yaml" --oneshot 2>"$TMP/final.log"
check "the clean run after the crashes exits 0" test $? -eq 0

check_why "every version the store committed was delivered; final state equal" python3 - "$TMP/state/sentineld.db" "$TMP/state.json" <<'EOP'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
committed = set(db.execute("SELECT incident_id, version FROM incident_versions"))
final = dict(db.execute("SELECT id, version FROM incidents"))
docs = [json.loads(l) for l in open(sys.argv[2])]
got = set((d["id"], d["version"]) for d in docs)
missing = committed - got
assert not missing, ("missing", len(missing), sorted(missing)[:5])
assert got <= committed, ("delivered but not in the store", got - committed)
last = {}
for d in docs:
    last[d["id"]] = d
assert set(last) == set(final), (len(last), len(final))
for i, v in final.items():
    assert last[i]["version"] == v, (i, last[i]["version"], v)
    row = db.execute("SELECT doc FROM outbox WHERE incident_id=? AND version=?", (i, v)).fetchone()
    assert row is None or json.loads(row[0]) == last[i], i
print("# %d incidents, %d versions, %d lines (%d redelivered)" % (
    len(final), len(committed), len(docs), len(docs) - len(got)))
EOP

check_why "per incident, first deliveries come in version order" python3 - "$TMP/state.json" <<'EOP'
import json, sys
seen, order = set(), {}
for l in open(sys.argv[1]):
    d = json.loads(l)
    k = (d["id"], d["version"])
    if k not in seen:
        seen.add(k)
        order.setdefault(d["id"], []).append(d["version"])
for i, v in order.items():
    # Increasing; not consecutive, since a write of n signals adds n.
    assert v == sorted(v) and v[0] >= 1, (i, v[:10])
EOP
check_why "the relay's cursor reached the end of the outbox" python3 - "$TMP/state/sentineld.db" <<'EOP'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
cur = db.execute("SELECT seq FROM cursors WHERE output='inc'").fetchone()[0]
last = db.execute("SELECT seq FROM sqlite_sequence WHERE name='outbox'").fetchone()[0]
assert cur == last, (cur, last)
EOP

write_conf false clean
"$SENTINELD" run -c "$TMP/clean.yaml" --oneshot 2>"$TMP/clean.log"
check_why "no signal lost: at least as many stored as one clean run over the same lines" \
    python3 - "$TMP/state/sentineld.db" "$TMP/clean/sentineld.db" <<'EOP'
import sqlite3, sys
crash, clean = (sqlite3.connect(p).execute(
    "SELECT sum(signal_count) FROM incidents").fetchone()[0] for p in sys.argv[1:])
print("# signals stored: %d across the crashes, %d in one clean run" % (crash, clean))
assert crash >= clean, (crash, clean)
EOP
tap_done
