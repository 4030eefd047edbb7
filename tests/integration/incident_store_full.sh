#!/bin/bash
# The incident store becomes unwritable while the daemon runs, as on a
# full disk: the daemon's file size limit (RLIMIT_FSIZE, set from outside
# with prlimit(1)) drops to 1 byte, so every write to the SQLite database
# and its WAL fails (EFBIG; SIGXFSZ is ignored). sentineld must log a
# clear error naming the store, report sentineld_incident_store_writable
# 0, and stop taking input (back-pressure: in_file stops reading) instead
# of pretending; when the limit is lifted, every signal becomes an
# incident and every committed version reaches the incident output.
. "$SRCDIR/tests/integration/lib.sh"
command -v prlimit >/dev/null || { echo "Bail out! prlimit (util-linux) missing"; exit 1; }
tap_plan 10

DETDIR="$BUILDDIR/tests/plugins/det_signal/.libs"
p_http=$(free_port)
mkdir -p "$TMP/state"
: >"$TMP/in.log"
cat >"$TMP/c.yaml" <<EOC
daemon: { state_dir: $TMP/state, plugin_path: [$DETDIR], log_level: info,
          workers: 1, batch_pool: 4 }
http: { listen: "127.0.0.1:$p_http" }
incidents: { queue: 16, batch: 8 }
inputs:
  - { name: f, plugin: in_file, path: $TMP/in.log, parser: raw, follow: true, poll_interval: 50ms }
detectors:
  - { name: d, plugin: det_signal }
outputs:
  - { name: inc, plugin: out_file, path: $TMP/inc.json, take: incidents }
EOC

metric() {
    curl -s "http://127.0.0.1:$p_http/metrics" |
        awk -v m="$1" '$1 == m { print $2 }'
}
# The log goes through a pipe: a regular file would hit the same limit.
mkfifo "$TMP/logpipe"
cat "$TMP/logpipe" >"$TMP/s.log" &
PIDS="$PIDS $!"
trap '' XFSZ # inherited as ignored: writes fail with EFBIG, not a kill
"$SENTINELD" run -c "$TMP/c.yaml" 2>"$TMP/logpipe" >/dev/null &
DPID=$!
PIDS="$PIDS $DPID"
trap - XFSZ
wait_until 15 '[ "$(metric sentineld_incident_store_writable)" = 1 ]'

# A first incident while the store is fine.
echo "SIGNAL before k0 high firing first" >>"$TMP/in.log"
wait_until 15 '[ "$(lines "$TMP/inc.json")" -ge 1 ]'
check "before the fault: an incident is stored and delivered" \
    test "$(lines "$TMP/inc.json")" -ge 1

# The disk is full.
prlimit --pid "$DPID" --fsize=1:unlimited
N=20000
python3 - "$N" >>"$TMP/in.log" <<'EOP'
import sys
for i in range(int(sys.argv[1])):
    print("SIGNAL full k%d high firing line %d" % (i % 300, i))
EOP
check "the store reports itself unwritable (sentineld_incident_store_writable 0)" \
    wait_until 20 '[ "$(metric sentineld_incident_store_writable)" = 0 ]'
check "a clear error naming the store is logged" \
    wait_until 10 "grep -q 'error incident store [^ ]*/sentineld.db: .*disk I/O error (a write failed.*; holding signals back' '$TMP/s.log'"
# Back-pressure: the manager's queue is full, detectors wait, the
# workers' queues fill, and in_file stops reading.
sleep 2
r1=$(metric 'sentineld_input_records_total{instance="f"}')
sleep 2
r2=$(metric 'sentineld_input_records_total{instance="f"}')
diag "records read while the store is full: $r1 then $r2 (of $((N + 1)))"
check "input stops being read (back-pressure, nothing dropped)" \
    test -n "$r1" -a "$r1" = "$r2" -a "${r2:-0}" -lt $((N + 1))
check "nothing was counted lost or dropped" sh -c "
    [ \"\$(curl -s http://127.0.0.1:$p_http/metrics | awk '/^sentineld_(signals_lost_total|input_dropped_total)/ { s += \$2 } END { print s + 0 }')\" = 0 ]"

# Space again.
prlimit --pid "$DPID" --fsize=unlimited:unlimited
check "the store is writable again" \
    wait_until 30 '[ "$(metric sentineld_incident_store_writable)" = 1 ]'
check "every line read and every signal folded" \
    wait_until 60 '[ "$(metric sentineld_signals_received_total)" = $((N + 1)) ]'
# Everything committed is delivered: the output's last version of each
# incident equals the store's (the CLI reads the store).
wait_until 60 '[ "$(metric "sentineld_outbox_backlog{instance=\"inc\"}")" = 0 ]'
curl -s "http://127.0.0.1:$p_http/metrics" >"$TMP/metrics.txt"
check "a Prometheus histogram of commit-to-acknowledgement latency counts every delivered version" \
    python3 - "$TMP/metrics.txt" <<'EOP'
import re, sys
t = open(sys.argv[1]).read()
assert "# TYPE sentineld_outbox_ack_latency_milliseconds histogram" in t
v = lambda pat: float(re.search(pat + r" (\d+)", t).group(1))
inf = v(r'sentineld_outbox_ack_latency_milliseconds_bucket\{instance="inc",le="\+Inf"\}')
cnt = v(r'sentineld_outbox_ack_latency_milliseconds_count\{instance="inc"\}')
dlv = v(r'sentineld_outbox_delivered_total\{instance="inc"\}')
b20 = v(r'sentineld_outbox_ack_latency_milliseconds_bucket\{instance="inc",le="20"\}')
assert inf == cnt == dlv > 0 and b20 <= inf, (inf, cnt, dlv, b20)
EOP
check "the manager's latency histograms count every signal, the outage's above a second" \
    python3 - "$TMP/metrics.txt" "$((N + 1))" <<'EOP'
import re, sys
t, n = open(sys.argv[1]).read(), int(sys.argv[2])
name = "sentineld_incident_signal_latency_milliseconds"
assert "# TYPE %s histogram" % name in t
def b(stage, le):
    return int(re.search(r'%s_bucket\{stage="%s",le="%s"\} (\d+)' % (name, stage, re.escape(le)), t).group(1))
les = re.findall(r'%s_bucket\{stage="stored",le="([^"]+)"\}' % name, t)
cnt = {s: int(re.search(r'%s_count\{stage="%s"\} (\d+)' % (name, s), t).group(1)) for s in ("queued", "stored")}
assert cnt["queued"] == cnt["stored"] == n, (cnt, n)
# A signal is stored after it is taken: at each bound, at least as many
# were taken as stored; the ones that waited out the full store took
# seconds (the fault lasted 4 s and more).
assert all(b("queued", le) >= b("stored", le) for le in les), les
assert b("stored", "1000") < n and b("queued", "1000") < n, (b("stored", "1000"), b("queued", "1000"))
EOP
# A clean stop also delivers the hit-only versions incidents.update_interval
# held back (docs/incidents.md "Versions worth delivering").
stop_daemon
"$SENTINELD" incidents list -c "$TMP/c.yaml" --limit 500 --json >"$TMP/list.json" 2>"$TMP/list.err"
check "the output has every incident at the store's latest version" \
    python3 - "$TMP/inc.json" "$TMP/list.json" "$N" <<'EOP'
import json, sys
out = {}
for l in open(sys.argv[1]):
    d = json.loads(l)
    out[d["id"]] = max(out.get(d["id"], 0), d["version"])
raw = json.load(open(sys.argv[2]))
rows = raw if isinstance(raw, list) else raw.get("incidents", raw)
store = {r["id"]: r["version"] for r in rows}
assert len(store) == 301, len(store)
assert out == store, [(i, out.get(i), v) for i, v in store.items() if out.get(i) != v][:5]
hits = sum(r["hit_count"] for r in rows)
assert hits == int(sys.argv[3]) + 1, hits
EOP
tap_done
