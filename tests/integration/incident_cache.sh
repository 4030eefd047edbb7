#!/bin/sh
# The incident manager keeps open incidents between batches
# (incidents.cache, docs/incidents.md "Kept incidents"): a signal for a
# kept incident is not read back from the store and a batch of `update`
# signals writes only the counters. What users see must not change: the
# hit count is exact across many batches, and an operator's ack and
# assign (the CLI: another process, another connection) are not
# overwritten by the kept copy when more firing and update signals come.
. "$SRCDIR/tests/integration/lib.sh"
tap_plan 5

DETDIR="$BUILDDIR/tests/plugins/det_signal/.libs"
hp=$(free_port)
: >"$TMP/in.log"
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, plugin_path: [$DETDIR] }
http: { listen: "127.0.0.1:$hp" }
incidents: { batch: 16, update_interval: 0 }
inputs:
  - { name: f, plugin: in_file, path: $TMP/in.log, parser: raw, follow: true, poll_interval: 20ms }
detectors:
  - { name: d, plugin: det_signal }
outputs: []
EOC
DB="$TMP/state/sentineld.db"
S="$SENTINELD"
start_daemon "$TMP/c.yaml" "$TMP/d.log"
wait_for 30 curl -sf "http://127.0.0.1:$hp/health" -o /dev/null

# feed FIRST N STATE: N signals for key u1, in small bursts so that they
# span many batches.
feed() {
    python3 - "$TMP/in.log" "$@" <<'EOP'
import sys, time
path, first, n, state = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
with open(path, "a") as f:
    for i in range(first, first + n):
        f.write("SIGNAL brute u1 medium %s attempt %d\n" % (state, i))
        if i % 5 == 4:
            f.flush()
            time.sleep(0.03)
EOP
}
# hits N: the open incident of u1 has N hits in the store.
hits() {
    python3 -c "
import sqlite3, sys
db = sqlite3.connect('file:$DB?mode=ro', uri=True)
r = db.execute(\"SELECT hit_count FROM incidents WHERE rule_id='brute' AND status<>'resolved'\").fetchall()
sys.exit(0 if r == [($1,)] else 1)"
}
metric() {
    curl -sf "http://127.0.0.1:$hp/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

feed 0 1 firing
feed 1 50 update
within 20 hits 51
check "51 signals over many batches: the incident has exactly 51 hits" hits 51
H1=$(metric sentineld_incident_cache_hits_total)
M1=$(metric sentineld_incident_cache_misses_total)
check "the manager kept it between batches (cache hits ${H1:-none}, misses ${M1:-none})" \
    test "${H1:-0}" -gt 10 -a "${M1:-1}" -eq 0

ID=$(python3 -c "
import sqlite3
print(sqlite3.connect('$DB').execute(\"SELECT id FROM incidents WHERE rule_id='brute'\").fetchone()[0])")
"$S" incident ack "$ID" --reason "looking" -c "$TMP/c.yaml" >/dev/null &&
    "$S" incident assign "$ID" --owner carol --reason "hers" -c "$TMP/c.yaml" >/dev/null
AV=$(python3 -c "
import sqlite3
print(sqlite3.connect('$DB').execute(\"SELECT version FROM incidents WHERE id='$ID'\").fetchone()[0])")

# More hits after the operator's change: firing signals (a whole-row
# write) and updates (the counters only), interleaved.
feed 51 20 update
feed 71 10 firing
feed 81 20 update
within 20 hits 101
check "after the ack and assign, 50 more signals: exactly 101 hits" hits 101
check "the operator's ack and owner stand; versions grew past theirs" python3 - "$DB" "$ID" "$AV" <<'EOP'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
st, owner, v = db.execute("SELECT status, owner, version FROM incidents WHERE id=?",
                          (sys.argv[2],)).fetchone()
assert (st, owner) == ("acknowledged", "carol"), (st, owner)
assert v == int(sys.argv[3]) + 50, (v, sys.argv[3])
vs = [r[0] for r in db.execute(
    "SELECT version FROM incident_versions WHERE incident_id=? ORDER BY version", (sys.argv[2],))]
assert len(vs) == len(set(vs)) and int(sys.argv[3]) in vs and vs[-1] == v, vs
EOP
M2=$(metric sentineld_incident_cache_misses_total)
check "the kept copy was dropped when the CLI wrote the store (misses ${M2:-none})" \
    test "${M2:-0}" -ge 1
stop_daemon
